// Every installed header, compiled as C++ (the install test builds this with -Werror):
// the declarations must be valid C++ and link as C.
#include <samrt.h>

int main()
{
    sam_predict_params pp = sam_predict_default_params();
    sam_error err;
    sam_model *model = nullptr;
    int rc = sam_model_open("missing.samrt", nullptr, &model, &err) == SAM_OK;
    return rc + pp.multimask_output - 1 + (sam_version() == nullptr);
}
