#include "spec_list.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void spec_add(spec_list *l, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3, const char *fmt, ...)
{
    if (l->oom) return;
    if (l->n == l->cap) {
        int ncap = l->cap ? l->cap * 2 : 256;
        sam_spec_tensor *p = realloc(l->t, (size_t)ncap * sizeof *p);
        if (!p) {
            l->oom = 1;
            return;
        }
        l->t = p;
        l->cap = ncap;
    }
    sam_spec_tensor *t = &l->t[l->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->ndim = ndim;
    int64_t d[4] = {d0, d1, d2, d3};
    memcpy(t->shape, d, sizeof d);
}

void spec_linear(spec_list *l, int out, int in, const char *prefix)
{
    spec_add(l, MAT(out, in), "%s.weight", prefix);
    spec_add(l, VEC(out), "%s.bias", prefix);
}

void spec_norm(spec_list *l, int n, const char *prefix)
{
    spec_add(l, VEC(n), "%s.weight", prefix);
    spec_add(l, VEC(n), "%s.bias", prefix);
}

void spec_conv(spec_list *l, int out, int in, int k, const char *prefix)
{
    spec_add(l, T4(out, in, k, k), "%s.weight", prefix);
    spec_add(l, VEC(out), "%s.bias", prefix);
}

static void attention(spec_list *l, int dim, int inner, const char *prefix)
{
    char p[128];
    static const char *const proj[] = {"q_proj", "k_proj", "v_proj"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s.%s", prefix, proj[i]);
        spec_linear(l, inner, dim, p);
    }
    snprintf(p, sizeof p, "%s.out_proj", prefix);
    spec_linear(l, dim, inner, p);
}

/* An MLP of three linear layers dim -> dim -> dim -> out. */
static void mlp3(spec_list *l, int dim, int out, const char *prefix)
{
    char p[128];
    for (int k = 0; k < 3; k++) {
        snprintf(p, sizeof p, "%s.layers.%d", prefix, k);
        spec_linear(l, k == 2 ? out : dim, dim, p);
    }
}

void spec_add_heads(spec_list *l, const spec_heads *h, int P)
{
    char p[160];
    const char *pe = h->prompt, *md = h->decoder;
    spec_add(l, MAT(2, P / 2), "%s.pe_layer.positional_encoding_gaussian_matrix", pe);
    for (int i = 0; i < 4; i++) spec_add(l, MAT(1, P), "%s.point_embeddings.%d.weight", pe, i);
    spec_add(l, MAT(1, P), "%s.not_a_point_embed.weight", pe);
    snprintf(p, sizeof p, "%s.mask_downscaling.0", pe);
    spec_conv(l, 4, 1, 2, p);
    snprintf(p, sizeof p, "%s.mask_downscaling.1", pe);
    spec_norm(l, 4, p);
    snprintf(p, sizeof p, "%s.mask_downscaling.3", pe);
    spec_conv(l, 16, 4, 2, p);
    snprintf(p, sizeof p, "%s.mask_downscaling.4", pe);
    spec_norm(l, 16, p);
    snprintf(p, sizeof p, "%s.mask_downscaling.6", pe);
    spec_conv(l, P, 16, 1, p);
    spec_add(l, MAT(1, P), "%s.no_mask_embed.weight", pe);

    for (int i = 0; i < 2; i++) {
        static const char *const norms[] = {"norm1", "norm2", "norm3", "norm4"};
        snprintf(p, sizeof p, "%s.transformer.layers.%d.self_attn", md, i);
        attention(l, P, P, p);
        snprintf(p, sizeof p, "%s.transformer.layers.%d.cross_attn_token_to_image", md, i);
        attention(l, P, P / 2, p);
        snprintf(p, sizeof p, "%s.transformer.layers.%d.cross_attn_image_to_token", md, i);
        attention(l, P, P / 2, p);
        snprintf(p, sizeof p, "%s.transformer.layers.%d.mlp.%s", md, i, h->mlp_in);
        spec_linear(l, 2048, P, p);
        snprintf(p, sizeof p, "%s.transformer.layers.%d.mlp.%s", md, i, h->mlp_out);
        spec_linear(l, P, 2048, p);
        for (int k = 0; k < 4; k++) {
            snprintf(p, sizeof p, "%s.transformer.layers.%d.%s", md, i, norms[k]);
            spec_norm(l, P, p);
        }
    }
    snprintf(p, sizeof p, "%s.transformer.final_attn_token_to_image", md);
    attention(l, P, P / 2, p);
    snprintf(p, sizeof p, "%s.transformer.norm_final_attn", md);
    spec_norm(l, P, p);
    spec_add(l, MAT(1, P), "%s.iou_token.weight", md);
    spec_add(l, MAT(4, P), "%s.mask_tokens.weight", md);
    spec_add(l, T4(P, P / 4, 2, 2), "%s.output_upscaling.0.weight", md);
    spec_add(l, VEC(P / 4), "%s.output_upscaling.0.bias", md);
    snprintf(p, sizeof p, "%s.output_upscaling.1", md);
    spec_norm(l, P / 4, p);
    spec_add(l, T4(P / 4, P / 8, 2, 2), "%s.output_upscaling.3.weight", md);
    spec_add(l, VEC(P / 8), "%s.output_upscaling.3.bias", md);
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s.output_hypernetworks_mlps.%d", md, i);
        mlp3(l, P, P / 8, p);
    }
    snprintf(p, sizeof p, "%s.iou_prediction_head", md);
    mlp3(l, P, 4, p);
    if (h->sam2) {
        spec_add(l, MAT(1, P), "%s.obj_score_token.weight", md);
        snprintf(p, sizeof p, "%s.pred_obj_score_head", md);
        mlp3(l, P, 1, p);
        snprintf(p, sizeof p, "%s.conv_s0", md);
        spec_conv(l, P / 8, P, 1, p);
        snprintf(p, sizeof p, "%s.conv_s1", md);
        spec_conv(l, P / 4, P, 1, p);
    }
}

sam_status spec_finish(spec_list *l, sam_spec_tensor **out, int *n, sam_error *err)
{
    if (l->oom) {
        free(l->t);
        *out = NULL;
        *n = 0;
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    *out = l->t;
    *n = l->n;
    return SAM_OK;
}
