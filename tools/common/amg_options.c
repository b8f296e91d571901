#include "amg_options.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tool_common.h"

#define INT_OPTION(name, lo, hi) {#name, AMG_OPTION_INT, lo, hi, offsetof(sam_amg_params, name)}
#define REAL_OPTION(name, lo, hi) {#name, AMG_OPTION_REAL, lo, hi, offsetof(sam_amg_params, name)}
#define BOOL_OPTION(name) {#name, AMG_OPTION_BOOL, 0, 1, offsetof(sam_amg_params, name)}

/* Ranges: what the generator can do something sensible with (a 1024x1024 grid is a
 * million prompts per crop; crop layers beyond 4 are 4^5 crops). */
const amg_option amg_option_table[] = {
    INT_OPTION(points_per_side, 1, 1024),
    INT_OPTION(points_per_batch, 1, 4096),
    REAL_OPTION(pred_iou_thresh, 0, 1),
    REAL_OPTION(stability_score_thresh, 0, 1),
    REAL_OPTION(stability_score_offset, 0, 1e6),
    REAL_OPTION(mask_threshold, -1e6, 1e6),
    REAL_OPTION(box_nms_thresh, 0, 1),
    INT_OPTION(crop_n_layers, 0, 4),
    REAL_OPTION(crop_nms_thresh, 0, 1),
    REAL_OPTION(crop_overlap_ratio, 0, 1),
    INT_OPTION(crop_n_points_downscale_factor, 1, 4096),
    INT_OPTION(min_mask_region_area, 0, 1 << 30),
    BOOL_OPTION(multimask_output),
    BOOL_OPTION(use_m2m),
};
const int amg_option_count = (int)(sizeof amg_option_table / sizeof *amg_option_table);

const amg_option *amg_option_find(const char *keyword)
{
    for (int i = 0; i < amg_option_count; i++)
        if (!strcmp(amg_option_table[i].keyword, keyword)) return &amg_option_table[i];
    return NULL;
}

const char *amg_option_describe(const amg_option *o, char *buf, size_t cap)
{
    if (o->kind == AMG_OPTION_BOOL) snprintf(buf, cap, "true or false");
    else snprintf(buf, cap, "%s in %g..%g", o->kind == AMG_OPTION_INT ? "an integer" : "a number", o->lo, o->hi);
    return buf;
}

static int *int_field(sam_amg_params *p, const amg_option *o) { return (int *)((char *)p + o->offset); }
static double *real_field(sam_amg_params *p, const amg_option *o) { return (double *)((char *)p + o->offset); }

int amg_option_store(sam_amg_params *given, const amg_option *o, double v)
{
    if (!(v >= o->lo && v <= o->hi)) return 0; /* NaN too */
    if (o->kind == AMG_OPTION_REAL) {
        *real_field(given, o) = v;
        return 1;
    }
    if (v != floor(v)) return 0;
    *int_field(given, o) = (int)v;
    return 1;
}

int amg_option_is_set(const sam_amg_params *given, const amg_option *o)
{
    sam_amg_params *p = (sam_amg_params *)given;
    return o->kind == AMG_OPTION_REAL ? !isnan(*real_field(p, o)) : *int_field(p, o) >= 0;
}

void amg_options_unset(sam_amg_params *given)
{
    memset(given, 0, sizeof *given);
    for (int i = 0; i < amg_option_count; i++) {
        const amg_option *o = &amg_option_table[i];
        if (o->kind == AMG_OPTION_REAL) *real_field(given, o) = NAN;
        else *int_field(given, o) = -1;
    }
}

void amg_options_apply(sam_amg_params *params, const sam_amg_params *given)
{
    for (int i = 0; i < amg_option_count; i++) {
        const amg_option *o = &amg_option_table[i];
        if (!amg_option_is_set(given, o)) continue;
        if (o->kind == AMG_OPTION_REAL) *real_field(params, o) = *real_field((sam_amg_params *)given, o);
        else *int_field(params, o) = *int_field((sam_amg_params *)given, o);
    }
}

sam_status amg_option_refuse(const char *family, const char *spelled, sam_error *err)
{
    return tool_fail(err, SAM_ERR_INVALID_ARG, "%s is an option of %s generator, and this model is '%s'", spelled,
                     strcmp(family, "sam2") ? "SAM 2's" : "another family's", family);
}

const amg_option *amg_options_foreign(const char *family, const sam_amg_params *given)
{
    for (int i = 0; i < amg_option_count; i++)
        if (amg_option_is_set(given, &amg_option_table[i]) && !sam_amg_has_option(family, amg_option_table[i].keyword)) return &amg_option_table[i];
    return NULL;
}
