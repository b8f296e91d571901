#include "sam2_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_STAGES = 8, PATCH_KERNEL = 7, D_MODEL = 256, MLP_RATIO = 4 };

typedef struct {
    char variant[16], version[8];
    int embed_dim, n_stages, stages[MAX_STAGES];
    int bkg_h, bkg_w, window; /* pos_embed's background table and window table sizes */
} hiera_params;

/* From sam2/configs/sam2.1/sam2.1_hiera_*.yaml (the same for 2.0); b+ is Hiera's defaults. */
static const hiera_params official[] = {
    {"hiera_t", "2.1", 96, 4, {1, 2, 7, 2}, 7, 7, 8},
    {"hiera_s", "2.1", 96, 4, {1, 2, 11, 2}, 7, 7, 8},
    {"hiera_b+", "2.1", 112, 4, {2, 3, 16, 3}, 14, 14, 8},
    {"hiera_l", "2.1", 144, 4, {2, 6, 36, 4}, 7, 7, 8},
};

/* SAM 2's video modules: memory attention and encoder, object pointers, mask downsampling. */
static int video_only(const char *name)
{
    static const char *const prefixes[] = {"memory_attention.", "memory_encoder.", "obj_ptr_proj.", "obj_ptr_tpos_proj.", "mask_downsample.", NULL};
    static const char *const names[] = {"maskmem_tpos_enc", "no_mem_pos_enc", "no_obj_ptr", "no_obj_embed_spatial", NULL};
    for (int i = 0; prefixes[i]; i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0) return 1;
    for (int i = 0; names[i]; i++)
        if (strcmp(name, names[i]) == 0) return 1;
    return 0;
}

static void add_image_encoder(spec_list *l, const hiera_params *hp)
{
    int E = hp->embed_dim, block = 0;
    char p[128];
    spec_add(l, T4(1, E, hp->bkg_h, hp->bkg_w), "image_encoder.trunk.pos_embed");
    spec_add(l, T4(1, E, hp->window, hp->window), "image_encoder.trunk.pos_embed_window");
    spec_conv(l, E, 3, PATCH_KERNEL, "image_encoder.trunk.patch_embed.proj");
    for (int s = 0; s < hp->n_stages; s++)
        for (int j = 0; j < hp->stages[s]; j++, block++) {
            int out = E << s, in = s > 0 && j == 0 ? out / 2 : out;
            snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.norm1", block);
            spec_norm(l, in, p);
            snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.attn.qkv", block);
            spec_linear(l, 3 * out, in, p);
            snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.attn.proj", block);
            spec_linear(l, out, out, p);
            snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.norm2", block);
            spec_norm(l, out, p);
            snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.mlp.layers.0", block);
            spec_linear(l, MLP_RATIO * out, out, p);
            snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.mlp.layers.1", block);
            spec_linear(l, out, MLP_RATIO * out, p);
            if (in != out) {
                snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.proj", block);
                spec_linear(l, out, in, p);
            }
        }
    for (int k = 0; k < hp->n_stages; k++) { /* convs.0 reads the last stage */
        snprintf(p, sizeof p, "image_encoder.neck.convs.%d.conv", k);
        spec_conv(l, D_MODEL, E << (hp->n_stages - 1 - k), 1, p);
    }
    spec_add(l, 3, 1, 1, D_MODEL, 0, "no_mem_embed");
}

static sam_status spec_of(const hiera_params *hp, sam_model_spec *out, sam_error *err)
{
    static const spec_heads heads = {"sam_prompt_encoder", "sam_mask_decoder", "layers.0", "layers.1", 1};
    int64_t stages[MAX_STAGES];
    for (int s = 0; s < hp->n_stages; s++) stages[s] = hp->stages[s];
    spec_list l = {0};
    add_image_encoder(&l, hp);
    spec_add_heads(&l, &heads, D_MODEL);
    sam_status st = sam_model_spec_begin(out, "sam2", hp->variant, hp->version, err);
    if (st == SAM_OK) st = sam_params_set_int(out->meta, "img_size", 1024, err); /* fixed for SAM 2's image predictor */
    if (st == SAM_OK) st = sam_params_set_int(out->meta, "embed_dim", hp->embed_dim, err);
    if (st == SAM_OK) st = sam_params_set_list(out->meta, "stages", stages, hp->n_stages, err);
    if (st == SAM_OK) st = sam_params_set_int(out->meta, "out_chans", D_MODEL, err);
    if (st == SAM_OK) st = spec_finish(&l, &out->tensors, &out->n_tensors, err);
    else free(l.t);
    if (st) sam_model_spec_free(out);
    else out->skippable = video_only;
    return st;
}

sam_status sam2_spec_for_variant(const char *variant, sam_model_spec *out, sam_error *err)
{
    for (size_t i = 0; i < sizeof official / sizeof *official; i++)
        if (strcmp(official[i].variant, variant) == 0) return spec_of(&official[i], out, err);
    return sam_fail(err, SAM_ERR_NOT_FOUND, "unknown variant '%s' (expected hiera_t, hiera_s, hiera_b+ or hiera_l)", variant);
}

static sam_status need(sam_shape_lookup lookup, void *ctx, const char *name, int ndim, int64_t *shape, sam_error *err)
{
    int nd = 0;
    if (!lookup(ctx, name, &nd, shape)) return sam_fail(err, SAM_ERR_FORMAT, "not a SAM 2 checkpoint: tensor '%s' is missing", name);
    if (nd != ndim) return sam_fail(err, SAM_ERR_FORMAT, "not a SAM 2 checkpoint: '%s' has %d dimensions, expected %d", name, nd, ndim);
    return SAM_OK;
}

sam_status sam2_spec_detect(sam_shape_lookup lookup, void *ctx, sam_model_spec *out, sam_error *err)
{
    hiera_params hp = {.variant = "custom"};
    int64_t s[SAM_MAX_DIMS];
    char name[128];
    int nd;
    sam_status st;
    if ((st = need(lookup, ctx, "image_encoder.trunk.patch_embed.proj.weight", 4, s, err))) return st;
    if (s[1] != 3 || s[2] != PATCH_KERNEL || s[3] != PATCH_KERNEL || s[0] < 1 || s[0] > 4096)
        return sam_fail(err, SAM_ERR_FORMAT, "not a SAM 2 checkpoint: the patch embedding is not a 7x7 conv of RGB (weight [%lld, %lld, %lld, %lld])",
                        (long long)s[0], (long long)s[1], (long long)s[2], (long long)s[3]);
    hp.embed_dim = (int)s[0];
    if ((st = need(lookup, ctx, "image_encoder.trunk.pos_embed", 4, s, err))) return st;
    hp.bkg_h = (int)s[2];
    hp.bkg_w = (int)s[3];
    if ((st = need(lookup, ctx, "image_encoder.trunk.pos_embed_window", 4, s, err))) return st;
    hp.window = (int)s[2];
    if (hp.bkg_h < 1 || hp.bkg_w < 1 || hp.bkg_h > 256 || hp.bkg_w > 256 || hp.window < 1 || hp.window > 256)
        return sam_fail(err, SAM_ERR_FORMAT, "implausible positional tables (%dx%d, window %d)", hp.bkg_h, hp.bkg_w, hp.window);
    /* stages: a block with its own projection (dim != dim_out) starts a new one */
    for (int b = 0;; b++) {
        snprintf(name, sizeof name, "image_encoder.trunk.blocks.%d.norm1.weight", b);
        if (!lookup(ctx, name, &nd, s)) {
            if (b == 0) return sam_fail(err, SAM_ERR_FORMAT, "not a SAM 2 checkpoint: no Hiera blocks");
            break;
        }
        if (b >= 4096) return sam_fail(err, SAM_ERR_FORMAT, "too many Hiera blocks");
        snprintf(name, sizeof name, "image_encoder.trunk.blocks.%d.proj.weight", b);
        if (b == 0 || lookup(ctx, name, &nd, s)) {
            if (hp.n_stages == MAX_STAGES) return sam_fail(err, SAM_ERR_UNSUPPORTED, "more than %d Hiera stages", MAX_STAGES);
            hp.n_stages++;
        }
        hp.stages[hp.n_stages - 1]++;
    }
    if (hp.n_stages != 4) return sam_fail(err, SAM_ERR_UNSUPPORTED, "a Hiera of %d stages: SAM 2's FPN neck reads four", hp.n_stages);
    /* version: 2.1 added these video tensors */
    snprintf(hp.version, sizeof hp.version, "%s", lookup(ctx, "no_obj_embed_spatial", &nd, s) || lookup(ctx, "obj_ptr_tpos_proj.weight", &nd, s) ? "2.1" : "2.0");
    for (size_t i = 0; i < sizeof official / sizeof *official; i++) {
        const hiera_params *o = &official[i];
        if (o->embed_dim == hp.embed_dim && o->bkg_h == hp.bkg_h && o->bkg_w == hp.bkg_w && o->window == hp.window &&
            memcmp(o->stages, hp.stages, sizeof o->stages) == 0)
            snprintf(hp.variant, sizeof hp.variant, "%s", o->variant);
    }
    return spec_of(&hp, out, err);
}
