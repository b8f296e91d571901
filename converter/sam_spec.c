#include "sam_spec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int embed_dim, depth, num_heads, global[4];
} official_variant;

/* From segment_anything/build_sam.py. */
static const official_variant official[] = {
    {"vit_b", 768, 12, 12, {2, 5, 8, 11}},
    {"vit_l", 1024, 24, 16, {5, 11, 17, 23}},
    {"vit_h", 1280, 32, 16, {7, 15, 23, 31}},
};

static void common_defaults(sam_hparams *hp)
{
    hp->img_size = 1024;
    hp->patch_size = 16;
    hp->window_size = 14;
    hp->mlp_ratio = 4;
    hp->out_chans = 256;
    hp->layer_norm_eps = 1e-6;
}

sam_status sam_hparams_for_variant(const char *variant, sam_hparams *hp, sam_error *err)
{
    for (size_t i = 0; i < sizeof official / sizeof *official; i++) {
        if (strcmp(official[i].name, variant) != 0) continue;
        memset(hp, 0, sizeof *hp);
        common_defaults(hp);
        snprintf(hp->variant, sizeof hp->variant, "%s", variant);
        hp->embed_dim = official[i].embed_dim;
        hp->depth = official[i].depth;
        hp->num_heads = official[i].num_heads;
        hp->n_global = 4;
        memcpy(hp->global_attn_indexes, official[i].global, sizeof official[i].global);
        return SAM_OK;
    }
    return sam_fail(err, SAM_ERR_NOT_FOUND, "unknown variant '%s' (expected vit_b, vit_l or vit_h)", variant);
}

void sam_hparams_name(sam_hparams *hp)
{
    snprintf(hp->variant, sizeof hp->variant, "custom");
    for (size_t i = 0; i < sizeof official / sizeof *official; i++) {
        sam_hparams ref;
        sam_hparams_for_variant(official[i].name, &ref, NULL);
        if (hp->embed_dim == ref.embed_dim && hp->depth == ref.depth && hp->num_heads == ref.num_heads &&
            hp->n_global == ref.n_global && memcmp(hp->global_attn_indexes, ref.global_attn_indexes, sizeof ref.global_attn_indexes) == 0 &&
            hp->img_size == ref.img_size && hp->patch_size == ref.patch_size && hp->window_size == ref.window_size &&
            hp->mlp_ratio == ref.mlp_ratio && hp->out_chans == ref.out_chans)
            snprintf(hp->variant, sizeof hp->variant, "%s", official[i].name);
    }
}

static int is_global(const sam_hparams *hp, int block)
{
    for (int i = 0; i < hp->n_global; i++)
        if (hp->global_attn_indexes[i] == block) return 1;
    return hp->window_size == 0;
}

typedef struct {
    sam_spec_tensor *t;
    int n, cap, oom;
} spec_list;

static void add(spec_list *l, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static void add(spec_list *l, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3, const char *fmt, ...)
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

#define VEC(n) 1, (n), 0, 0, 0
#define MAT(a, b) 2, (a), (b), 0, 0
#define T4(a, b, c, d) 4, (a), (b), (c), (d)

static void linear(spec_list *l, int out, int in, const char *prefix)
{
    add(l, MAT(out, in), "%s.weight", prefix);
    add(l, VEC(out), "%s.bias", prefix);
}

static void norm(spec_list *l, int n, const char *prefix)
{
    add(l, VEC(n), "%s.weight", prefix);
    add(l, VEC(n), "%s.bias", prefix);
}

static void attention(spec_list *l, int dim, int inner, const char *prefix)
{
    char p[128];
    static const char *const proj[] = {"q_proj", "k_proj", "v_proj"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s.%s", prefix, proj[i]);
        linear(l, inner, dim, p);
    }
    snprintf(p, sizeof p, "%s.out_proj", prefix);
    linear(l, dim, inner, p);
}

sam_status sam_spec_build(const sam_hparams *hp, sam_spec_tensor **out, int *n, sam_error *err)
{
    spec_list l = {0};
    int E = hp->embed_dim, G = hp->img_size / hp->patch_size, P = hp->out_chans, hd = E / hp->num_heads;
    int M = E * hp->mlp_ratio;
    char p[128];
    add(&l, T4(1, G, G, E), "image_encoder.pos_embed");
    add(&l, T4(E, 3, hp->patch_size, hp->patch_size), "image_encoder.patch_embed.proj.weight");
    add(&l, VEC(E), "image_encoder.patch_embed.proj.bias");
    for (int b = 0; b < hp->depth; b++) {
        int s = is_global(hp, b) ? G : hp->window_size;
        snprintf(p, sizeof p, "image_encoder.blocks.%d.norm1", b);
        norm(&l, E, p);
        add(&l, MAT(2 * s - 1, hd), "image_encoder.blocks.%d.attn.rel_pos_h", b);
        add(&l, MAT(2 * s - 1, hd), "image_encoder.blocks.%d.attn.rel_pos_w", b);
        snprintf(p, sizeof p, "image_encoder.blocks.%d.attn.qkv", b);
        linear(&l, 3 * E, E, p);
        snprintf(p, sizeof p, "image_encoder.blocks.%d.attn.proj", b);
        linear(&l, E, E, p);
        snprintf(p, sizeof p, "image_encoder.blocks.%d.norm2", b);
        norm(&l, E, p);
        snprintf(p, sizeof p, "image_encoder.blocks.%d.mlp.lin1", b);
        linear(&l, M, E, p);
        snprintf(p, sizeof p, "image_encoder.blocks.%d.mlp.lin2", b);
        linear(&l, E, M, p);
    }
    add(&l, T4(P, E, 1, 1), "image_encoder.neck.0.weight");
    norm(&l, P, "image_encoder.neck.1");
    add(&l, T4(P, P, 3, 3), "image_encoder.neck.2.weight");
    norm(&l, P, "image_encoder.neck.3");

    add(&l, MAT(2, P / 2), "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix");
    for (int i = 0; i < 4; i++) add(&l, MAT(1, P), "prompt_encoder.point_embeddings.%d.weight", i);
    add(&l, MAT(1, P), "prompt_encoder.not_a_point_embed.weight");
    add(&l, T4(4, 1, 2, 2), "prompt_encoder.mask_downscaling.0.weight");
    add(&l, VEC(4), "prompt_encoder.mask_downscaling.0.bias");
    norm(&l, 4, "prompt_encoder.mask_downscaling.1");
    add(&l, T4(16, 4, 2, 2), "prompt_encoder.mask_downscaling.3.weight");
    add(&l, VEC(16), "prompt_encoder.mask_downscaling.3.bias");
    norm(&l, 16, "prompt_encoder.mask_downscaling.4");
    add(&l, T4(P, 16, 1, 1), "prompt_encoder.mask_downscaling.6.weight");
    add(&l, VEC(P), "prompt_encoder.mask_downscaling.6.bias");
    add(&l, MAT(1, P), "prompt_encoder.no_mask_embed.weight");

    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "mask_decoder.transformer.layers.%d.self_attn", i);
        attention(&l, P, P, p);
        snprintf(p, sizeof p, "mask_decoder.transformer.layers.%d.norm1", i);
        norm(&l, P, p);
        snprintf(p, sizeof p, "mask_decoder.transformer.layers.%d.cross_attn_token_to_image", i);
        attention(&l, P, P / 2, p);
        snprintf(p, sizeof p, "mask_decoder.transformer.layers.%d.norm2", i);
        norm(&l, P, p);
        snprintf(p, sizeof p, "mask_decoder.transformer.layers.%d.mlp.lin1", i);
        linear(&l, 2048, P, p);
        snprintf(p, sizeof p, "mask_decoder.transformer.layers.%d.mlp.lin2", i);
        linear(&l, P, 2048, p);
        snprintf(p, sizeof p, "mask_decoder.transformer.layers.%d.norm3", i);
        norm(&l, P, p);
        snprintf(p, sizeof p, "mask_decoder.transformer.layers.%d.norm4", i);
        norm(&l, P, p);
        snprintf(p, sizeof p, "mask_decoder.transformer.layers.%d.cross_attn_image_to_token", i);
        attention(&l, P, P / 2, p);
    }
    attention(&l, P, P / 2, "mask_decoder.transformer.final_attn_token_to_image");
    norm(&l, P, "mask_decoder.transformer.norm_final_attn");
    add(&l, MAT(1, P), "mask_decoder.iou_token.weight");
    add(&l, MAT(4, P), "mask_decoder.mask_tokens.weight");
    add(&l, T4(P, P / 4, 2, 2), "mask_decoder.output_upscaling.0.weight");
    add(&l, VEC(P / 4), "mask_decoder.output_upscaling.0.bias");
    norm(&l, P / 4, "mask_decoder.output_upscaling.1");
    add(&l, T4(P / 4, P / 8, 2, 2), "mask_decoder.output_upscaling.3.weight");
    add(&l, VEC(P / 8), "mask_decoder.output_upscaling.3.bias");
    for (int i = 0; i < 4; i++) {
        for (int k = 0; k < 3; k++) {
            snprintf(p, sizeof p, "mask_decoder.output_hypernetworks_mlps.%d.layers.%d", i, k);
            linear(&l, k == 2 ? P / 8 : P, P, p);
        }
    }
    for (int k = 0; k < 3; k++) {
        snprintf(p, sizeof p, "mask_decoder.iou_prediction_head.layers.%d", k);
        linear(&l, k == 2 ? 4 : P, P, p);
    }
    if (l.oom) {
        free(l.t);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    *out = l.t;
    *n = l.n;
    return SAM_OK;
}

sam_status sam_hparams_to_meta(const sam_hparams *hp, sam_params *meta, sam_error *err)
{
    int64_t global[SAM_SPEC_MAX_GLOBAL];
    for (int i = 0; i < hp->n_global; i++) global[i] = hp->global_attn_indexes[i];
    sam_status st;
    if ((st = sam_params_set_str(meta, "family", "sam", err))) return st;
    if ((st = sam_params_set_str(meta, "variant", hp->variant, err))) return st;
    if ((st = sam_params_set_int(meta, "img_size", hp->img_size, err))) return st;
    if ((st = sam_params_set_int(meta, "patch_size", hp->patch_size, err))) return st;
    if ((st = sam_params_set_int(meta, "embed_dim", hp->embed_dim, err))) return st;
    if ((st = sam_params_set_int(meta, "depth", hp->depth, err))) return st;
    if ((st = sam_params_set_int(meta, "num_heads", hp->num_heads, err))) return st;
    if ((st = sam_params_set_int(meta, "window_size", hp->window_size, err))) return st;
    if ((st = sam_params_set_list(meta, "global_attn_indexes", global, hp->n_global, err))) return st;
    if ((st = sam_params_set_int(meta, "mlp_ratio", hp->mlp_ratio, err))) return st;
    if ((st = sam_params_set_int(meta, "out_chans", hp->out_chans, err))) return st;
    return sam_params_set_float(meta, "layer_norm_eps", hp->layer_norm_eps, err);
}

static sam_status need_shape(sam_shape_lookup lookup, void *ctx, const char *name, int ndim, int64_t *shape, sam_error *err)
{
    int nd = 0;
    if (!lookup(ctx, name, &nd, shape)) return sam_fail(err, SAM_ERR_FORMAT, "not a SAM checkpoint: tensor '%s' is missing", name);
    if (nd != ndim) return sam_fail(err, SAM_ERR_FORMAT, "not a SAM checkpoint: '%s' has %d dimensions, expected %d", name, nd, ndim);
    return SAM_OK;
}

sam_status sam_hparams_detect(sam_shape_lookup lookup, void *ctx, sam_hparams *hp, sam_error *err)
{
    memset(hp, 0, sizeof *hp);
    int64_t s[SAM_MAX_DIMS];
    sam_status st;
    if ((st = need_shape(lookup, ctx, "image_encoder.pos_embed", 4, s, err))) return st;
    int64_t grid = s[1], E = s[3];
    if ((st = need_shape(lookup, ctx, "image_encoder.patch_embed.proj.weight", 4, s, err))) return st;
    int64_t patch = s[2];
    if (grid < 1 || grid > 1024 || patch < 1 || patch > 1024 || E < 1 || E > 65536)
        return sam_fail(err, SAM_ERR_FORMAT, "implausible image encoder sizes (grid %lld, patch %lld, width %lld)", (long long)grid, (long long)patch, (long long)E);
    hp->img_size = (int)(grid * patch);
    hp->patch_size = (int)patch;
    hp->embed_dim = (int)E;
    hp->layer_norm_eps = 1e-6; /* fixed in the official build_sam */
    char name[128];
    int depth = 0;
    for (;; depth++) {
        int nd;
        snprintf(name, sizeof name, "image_encoder.blocks.%d.norm1.weight", depth);
        if (!lookup(ctx, name, &nd, s) || depth >= 4096) break;
    }
    if (depth == 0) return sam_fail(err, SAM_ERR_FORMAT, "not a SAM checkpoint: no image encoder blocks");
    hp->depth = depth;
    if ((st = need_shape(lookup, ctx, "image_encoder.blocks.0.attn.rel_pos_h", 2, s, err))) return st;
    int64_t hd = s[1];
    if (hd < 1 || E % hd) return sam_fail(err, SAM_ERR_FORMAT, "relative position width %lld does not divide the embedding width %lld", (long long)hd, (long long)E);
    hp->num_heads = (int)(E / hd);
    for (int b = 0; b < depth; b++) {
        snprintf(name, sizeof name, "image_encoder.blocks.%d.attn.rel_pos_h", b);
        if ((st = need_shape(lookup, ctx, name, 2, s, err))) return st;
        if (s[0] == 2 * grid - 1) {
            if (hp->n_global >= SAM_SPEC_MAX_GLOBAL) return sam_fail(err, SAM_ERR_UNSUPPORTED, "more than %d global attention blocks", SAM_SPEC_MAX_GLOBAL);
            hp->global_attn_indexes[hp->n_global++] = b;
        } else {
            int w = (int)((s[0] + 1) / 2);
            if (s[0] % 2 == 0 || (hp->window_size && hp->window_size != w))
                return sam_fail(err, SAM_ERR_FORMAT, "'%s' has %lld rows: not a window of the same size as the other blocks", name, (long long)s[0]);
            hp->window_size = w;
        }
    }
    if ((st = need_shape(lookup, ctx, "image_encoder.blocks.0.mlp.lin1.weight", 2, s, err))) return st;
    if (s[0] % E) return sam_fail(err, SAM_ERR_FORMAT, "MLP width %lld is not a multiple of %lld", (long long)s[0], (long long)E);
    hp->mlp_ratio = (int)(s[0] / E);
    if ((st = need_shape(lookup, ctx, "image_encoder.neck.0.weight", 4, s, err))) return st;
    hp->out_chans = (int)s[0];
    if (hp->out_chans != 256)
        return sam_fail(err, SAM_ERR_UNSUPPORTED, "neck width %d: SAM's prompt encoder and mask decoder are built for 256", hp->out_chans);
    sam_hparams_name(hp);
    return SAM_OK;
}
