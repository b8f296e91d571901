/* Test aid: exits 0 when two blobs hold the same tensors (names, shapes, bytes). */
#include <stdio.h>
#include <string.h>

#include "../runtime/model.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: blob_diff A.samrt B.samrt\n");
        return 2;
    }
    sam_model *a, *b;
    sam_error err;
    if (sam_model_open_blob(argv[1], &a, &err) || sam_model_open_blob(argv[2], &b, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    int differ = a->n_weights != b->n_weights;
    if (differ) fprintf(stderr, "tensor counts differ: %d vs %d\n", a->n_weights, b->n_weights);
    for (int i = 0; i < a->n_weights && !differ; i++) {
        const sam_weight *x = &a->weights[i], *y = sam_model_weight(b, x->name);
        if (!y || y->ndim != x->ndim || memcmp(y->shape, x->shape, sizeof x->shape) || y->nbytes != x->nbytes ||
            memcmp(x->data, y->data, x->nbytes)) {
            fprintf(stderr, "tensor '%s' differs\n", x->name);
            differ = 1;
        }
    }
    sam_model_free(a);
    sam_model_free(b);
    return differ;
}
