/* Building a family's tensor list (every name and shape of its state_dict): the list,
 * the layers both families are made of, and the prompt encoder and mask decoder they
 * share (SAM 2's under other names, with its extra heads). */
#ifndef SAMRT_SPEC_LIST_H
#define SAMRT_SPEC_LIST_H

#include <stdint.h>

#include "../runtime/status.h"

typedef struct sam_spec_tensor {
    char name[96];
    int ndim;
    int64_t shape[4];
} sam_spec_tensor;

typedef struct spec_list {
    sam_spec_tensor *t;
    int n, cap, oom;
} spec_list;

void spec_add(spec_list *l, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
void spec_linear(spec_list *l, int out, int in, const char *prefix);
void spec_norm(spec_list *l, int n, const char *prefix);
/* weight [out, in, k, k] and bias [out] */
void spec_conv(spec_list *l, int out, int in, int k, const char *prefix);

#define VEC(n) 1, (n), 0, 0, 0
#define MAT(a, b) 2, (a), (b), 0, 0
#define T4(a, b, c, d) 4, (a), (b), (c), (d)

/* How a family names and extends the prompt encoder and mask decoder. */
typedef struct spec_heads {
    const char *prompt, *decoder;  /* prompt_encoder / mask_decoder, or sam_prompt_encoder / sam_mask_decoder */
    const char *mlp_in, *mlp_out;  /* the token MLP's layers: lin1 / lin2, or layers.0 / layers.1 */
    int sam2;                      /* the object-score token and head, and conv_s0 / conv_s1 */
} spec_heads;

/* The prompt encoder and mask decoder for embeddings of `dim` (256) channels. */
void spec_add_heads(spec_list *l, const spec_heads *h, int dim);

/* Hands the list over (*out, *n), or frees it and fails if it ran out of memory. */
sam_status spec_finish(spec_list *l, sam_spec_tensor **out, int *n, sam_error *err);

#endif
