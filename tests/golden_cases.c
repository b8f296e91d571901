#include "golden_cases.h"

#include <string.h>

static int read_points(const json_value *pts, const json_value *lbl, sam_prompt *q, float *points, int *labels)
{
    if (pts->n > 8) return -1;
    q->n_points = pts->n;
    for (int i = 0; i < pts->n; i++) {
        points[2 * i] = (float)pts->items[i].items[0].number;
        points[2 * i + 1] = (float)pts->items[i].items[1].number;
        labels[i] = (int)lbl->items[i].number;
    }
    q->points = points;
    q->labels = labels;
    return 0;
}

int read_case_quiet(const char *set, const json_value *c, case_prompts *cp)
{
    memset(cp, 0, sizeof *cp);
    const json_value *bb = json_get(c, "batch_boxes"), *bp = json_get(c, "batch_points");
    cp->batched = bb || bp;
    cp->n = cp->batched ? (bb ? bb->n : bp->n) : 1;
    if (cp->n > 8) return -1;
    for (int b = 0; b < cp->n; b++) {
        sam_prompt *q = &cp->prompts[b];
        const json_value *pts = cp->batched ? (bp ? &bp->items[b] : NULL) : json_get(c, "points");
        const json_value *lbl = cp->batched ? (bp ? &json_get(c, "batch_labels")->items[b] : NULL) : json_get(c, "labels");
        const json_value *box = cp->batched ? (bb ? &bb->items[b] : NULL) : json_get(c, "box");
        if (pts && read_points(pts, lbl, q, cp->points[b], cp->labels[b])) return -1;
        if (box) {
            q->has_box = 1;
            for (int k = 0; k < 4; k++) q->box[k] = (float)box->items[k].number;
        }
    }
    const json_value *mf = json_get(c, "mask_input_file");
    if (mf) {
        char rel[160];
        snprintf(rel, sizeof rel, "%s/%s", set, mf->string);
        if (sam_npy_read(golden_path(rel), &cp->mask_input, NULL)) return -1;
        cp->prompts[0].mask_input = cp->mask_input.data;
    }
    return 0;
}

void read_case(const char *set, const json_value *c, case_prompts *cp)
{
    ck_assert_msg(read_case_quiet(set, c, cp) == 0, "cannot read case %s", json_get(c, "name")->string);
}

int load_golden_quiet(const char *set, const json_value *c, const char *key, sam_array *out)
{
    char rel[160];
    snprintf(rel, sizeof rel, "%s/%s", set, json_get(c, key)->string);
    return sam_npy_read(golden_path(rel), out, NULL) != SAM_OK;
}

sam_array load_golden(const char *set, const json_value *c, const char *key)
{
    sam_array a;
    ck_assert_msg(load_golden_quiet(set, c, key, &a) == 0, "cannot read %s of %s", key, json_get(c, "name")->string);
    return a;
}
