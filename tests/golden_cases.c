#include "golden_cases.h"

#include <string.h>

static void read_points(const json_value *pts, const json_value *lbl, sam_prompt *q, float *points, int *labels)
{
    q->n_points = pts->n;
    ck_assert_int_le(pts->n, 8);
    for (int i = 0; i < pts->n; i++) {
        points[2 * i] = (float)pts->items[i].items[0].number;
        points[2 * i + 1] = (float)pts->items[i].items[1].number;
        labels[i] = (int)lbl->items[i].number;
    }
    q->points = points;
    q->labels = labels;
}

void read_case(const json_value *c, case_prompts *cp)
{
    memset(cp, 0, sizeof *cp);
    const json_value *bb = json_get(c, "batch_boxes"), *bp = json_get(c, "batch_points");
    cp->batched = bb || bp;
    cp->n = cp->batched ? (bb ? bb->n : bp->n) : 1;
    for (int b = 0; b < cp->n; b++) {
        sam_prompt *q = &cp->prompts[b];
        const json_value *pts = cp->batched ? (bp ? &bp->items[b] : NULL) : json_get(c, "points");
        const json_value *lbl = cp->batched ? (bp ? &json_get(c, "batch_labels")->items[b] : NULL) : json_get(c, "labels");
        const json_value *box = cp->batched ? (bb ? &bb->items[b] : NULL) : json_get(c, "box");
        if (pts) read_points(pts, lbl, q, cp->points[b], cp->labels[b]);
        if (box) {
            q->has_box = 1;
            for (int k = 0; k < 4; k++) q->box[k] = (float)box->items[k].number;
        }
    }
    const json_value *mf = json_get(c, "mask_input_file");
    if (mf) {
        char rel[160];
        sam_error err = {0};
        snprintf(rel, sizeof rel, "sam_tiny/%s", mf->string);
        ck_assert_msg(sam_npy_read(golden_path(rel), &cp->mask_input, &err) == SAM_OK, "%s", err.msg);
        cp->prompts[0].mask_input = cp->mask_input.data;
    }
}

sam_array load_golden(const json_value *c, const char *key)
{
    char rel[160];
    sam_array a;
    sam_error err = {0};
    snprintf(rel, sizeof rel, "sam_tiny/%s", json_get(c, key)->string);
    ck_assert_msg(sam_npy_read(golden_path(rel), &a, &err) == SAM_OK, "%s", err.msg);
    return a;
}

