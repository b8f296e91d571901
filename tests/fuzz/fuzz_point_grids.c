/* libFuzzer target: a --point-grids file's JSON through the programs' parser and reader. */
#include "fuzz_util.h"
#include "json.h"
#include "point_grids.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root;
    sam_error err;
    if (tool_json_parse((const char *)data, size, "fuzz", &root, &err)) return 0;
    point_grids g;
    if (point_grids_from_json(root, "fuzz", &g, &err) == SAM_OK) point_grids_free(&g);
    json_decref(root);
    return 0;
}
