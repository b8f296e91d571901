#include "sam_spec.h"

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

static void name_variant(sam_hparams *hp)
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

static void add_image_encoder(spec_list *l, const sam_hparams *hp)
{
    int E = hp->embed_dim, G = hp->img_size / hp->patch_size, P = hp->out_chans, hd = E / hp->num_heads;
    int M = E * hp->mlp_ratio;
    char p[128];
    spec_add(l, T4(1, G, G, E), "image_encoder.pos_embed");
    spec_conv(l, E, 3, hp->patch_size, "image_encoder.patch_embed.proj");
    for (int b = 0; b < hp->depth; b++) {
        int s = is_global(hp, b) ? G : hp->window_size;
        snprintf(p, sizeof p, "image_encoder.blocks.%d.norm1", b);
        spec_norm(l, E, p);
        spec_add(l, MAT(2 * s - 1, hd), "image_encoder.blocks.%d.attn.rel_pos_h", b);
        spec_add(l, MAT(2 * s - 1, hd), "image_encoder.blocks.%d.attn.rel_pos_w", b);
        snprintf(p, sizeof p, "image_encoder.blocks.%d.attn.qkv", b);
        spec_linear(l, 3 * E, E, p);
        snprintf(p, sizeof p, "image_encoder.blocks.%d.attn.proj", b);
        spec_linear(l, E, E, p);
        snprintf(p, sizeof p, "image_encoder.blocks.%d.norm2", b);
        spec_norm(l, E, p);
        snprintf(p, sizeof p, "image_encoder.blocks.%d.mlp.lin1", b);
        spec_linear(l, M, E, p);
        snprintf(p, sizeof p, "image_encoder.blocks.%d.mlp.lin2", b);
        spec_linear(l, E, M, p);
    }
    spec_add(l, T4(P, E, 1, 1), "image_encoder.neck.0.weight");
    spec_norm(l, P, "image_encoder.neck.1");
    spec_add(l, T4(P, P, 3, 3), "image_encoder.neck.2.weight");
    spec_norm(l, P, "image_encoder.neck.3");
}

static sam_status hparams_to_meta(const sam_hparams *hp, sam_params *meta, sam_error *err)
{
    int64_t global[SAM_SPEC_MAX_GLOBAL];
    for (int i = 0; i < hp->n_global; i++) global[i] = hp->global_attn_indexes[i];
    sam_status st;
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

sam_status sam_vit_spec(const sam_hparams *hp, sam_model_spec *out, sam_error *err)
{
    static const spec_heads heads = {"prompt_encoder", "mask_decoder", "lin1", "lin2", 0};
    spec_list l = {0};
    add_image_encoder(&l, hp);
    spec_add_heads(&l, &heads, hp->out_chans);
    sam_status st = sam_model_spec_begin(out, "sam", hp->variant, NULL, err);
    if (st == SAM_OK) st = hparams_to_meta(hp, out->meta, err);
    if (st == SAM_OK) st = spec_finish(&l, &out->tensors, &out->n_tensors, err);
    else free(l.t);
    if (st) sam_model_spec_free(out);
    return st;
}

sam_status sam_vit_spec_for_variant(const char *variant, sam_model_spec *out, sam_error *err)
{
    sam_hparams hp;
    sam_status st = sam_hparams_for_variant(variant, &hp, err);
    return st ? st : sam_vit_spec(&hp, out, err);
}

static sam_status need_shape(sam_shape_lookup lookup, void *ctx, const char *name, int ndim, int64_t *shape, sam_error *err)
{
    int nd = 0;
    if (!lookup(ctx, name, &nd, shape)) return sam_fail(err, SAM_ERR_FORMAT, "not a SAM checkpoint: tensor '%s' is missing", name);
    if (nd != ndim) return sam_fail(err, SAM_ERR_FORMAT, "not a SAM checkpoint: '%s' has %d dimensions, expected %d", name, nd, ndim);
    return SAM_OK;
}

static sam_status detect(sam_shape_lookup lookup, void *ctx, sam_hparams *hp, sam_error *err)
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
    if (hd < 1 || hd > E || E % hd) return sam_fail(err, SAM_ERR_FORMAT, "relative position width %lld does not divide the embedding width %lld", (long long)hd, (long long)E);
    hp->num_heads = (int)(E / hd);
    for (int b = 0; b < depth; b++) {
        snprintf(name, sizeof name, "image_encoder.blocks.%d.attn.rel_pos_h", b);
        if ((st = need_shape(lookup, ctx, name, 2, s, err))) return st;
        if (s[0] < 1 || s[0] > 2 * grid - 1)
            return sam_fail(err, SAM_ERR_FORMAT, "'%s' has %lld rows: more than the %lld of global attention", name, (long long)s[0], (long long)(2 * grid - 1));
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
    if (s[0] < E || s[0] > 64 * E || s[0] % E) return sam_fail(err, SAM_ERR_FORMAT, "MLP width %lld is not a multiple of %lld", (long long)s[0], (long long)E);
    hp->mlp_ratio = (int)(s[0] / E);
    if ((st = need_shape(lookup, ctx, "image_encoder.neck.0.weight", 4, s, err))) return st;
    hp->out_chans = (int)s[0];
    if (hp->out_chans != 256)
        return sam_fail(err, SAM_ERR_UNSUPPORTED, "neck width %d: SAM's prompt encoder and mask decoder are built for 256", hp->out_chans);
    name_variant(hp);
    return SAM_OK;
}

sam_status sam_vit_spec_detect(sam_shape_lookup lookup, void *ctx, sam_model_spec *out, sam_error *err)
{
    sam_hparams hp;
    sam_status st = detect(lookup, ctx, &hp, err);
    return st ? st : sam_vit_spec(&hp, out, err);
}
