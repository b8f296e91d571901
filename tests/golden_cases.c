#include "golden_cases.h"

#include <string.h>

static int read_points(const json_t *pts, const json_t *lbl, sam_prompt *q, float *points, int *labels)
{
    if ((int)json_array_size(pts) > 8) return -1;
    q->n_points = (int)json_array_size(pts);
    for (int i = 0; i < (int)json_array_size(pts); i++) {
        points[2 * i] = (float)tool_json_value(json_array_get(json_array_get(pts, i), 0));
        points[2 * i + 1] = (float)tool_json_value(json_array_get(json_array_get(pts, i), 1));
        labels[i] = (int)tool_json_value(json_array_get(lbl, i));
    }
    q->points = points;
    q->labels = labels;
    return 0;
}

int read_case_quiet(const char *set, const json_t *c, case_prompts *cp)
{
    memset(cp, 0, sizeof *cp);
    const json_t *bb = json_object_get(c, "batch_boxes"), *bp = json_object_get(c, "batch_points");
    cp->batched = bb || bp;
    cp->n = cp->batched ? (bb ? (int)json_array_size(bb) : (int)json_array_size(bp)) : 1;
    if (cp->n > 8) return -1;
    for (int b = 0; b < cp->n; b++) {
        sam_prompt *q = &cp->prompts[b];
        const json_t *pts = cp->batched ? (bp ? json_array_get(bp, b) : NULL) : json_object_get(c, "points");
        const json_t *lbl = cp->batched ? (bp ? json_array_get(json_object_get(c, "batch_labels"), b) : NULL) : json_object_get(c, "labels");
        const json_t *box = cp->batched ? (bb ? json_array_get(bb, b) : NULL) : json_object_get(c, "box");
        if (pts && read_points(pts, lbl, q, cp->points[b], cp->labels[b])) return -1;
        if (box) {
            q->has_box = 1;
            for (int k = 0; k < 4; k++) q->box[k] = (float)tool_json_value(json_array_get(box, k));
        }
    }
    const json_t *mf = json_object_get(c, "mask_input_file");
    if (mf) {
        char rel[160];
        snprintf(rel, sizeof rel, "%s/%s", set, json_string_value(mf));
        if (sam_npy_read(golden_path(rel), &cp->mask_input, NULL)) return -1;
        cp->prompts[0].mask_input = cp->mask_input.data;
    }
    return 0;
}

void read_case(const char *set, const json_t *c, case_prompts *cp)
{
    ck_assert_msg(read_case_quiet(set, c, cp) == 0, "cannot read case %s", json_string_value(json_object_get(c, "name")));
}

int load_golden_quiet(const char *set, const json_t *c, const char *key, sam_array *out)
{
    char rel[160];
    snprintf(rel, sizeof rel, "%s/%s", set, json_string_value(json_object_get(c, key)));
    return sam_npy_read(golden_path(rel), out, NULL) != SAM_OK;
}

sam_array load_golden(const char *set, const json_t *c, const char *key)
{
    sam_array a;
    ck_assert_msg(load_golden_quiet(set, c, key, &a) == 0, "cannot read %s of %s", key, json_string_value(json_object_get(c, "name")));
    return a;
}
