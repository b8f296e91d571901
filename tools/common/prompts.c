#include "prompts.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tool_common.h"

/* "what: " before the message already in err. */
static sam_status prefix_error(sam_error *err, const char *what)
{
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    return tool_fail(err, err->code, "%s: %s", what, old);
}

/* Makes room for object `index` (objects are added in order). */
static sam_status ensure_object(prompt_set *s, int index, const char *source, sam_error *err)
{
    if (index < s->n) return SAM_OK;
    int n = index + 1;
    sam_prompt *p = realloc(s->prompts, sizeof *p * (size_t)n);
    if (p) s->prompts = p;
    float **pts = p ? realloc(s->points, sizeof *pts * (size_t)n) : NULL;
    if (pts) s->points = pts;
    int **lbl = pts ? realloc(s->labels, sizeof *lbl * (size_t)n) : NULL;
    if (lbl) s->labels = lbl;
    float **msk = lbl ? realloc(s->masks, sizeof *msk * (size_t)n) : NULL;
    if (msk) s->masks = msk;
    int *sides = msk ? realloc(s->mask_sides, sizeof *sides * (size_t)n) : NULL;
    if (sides) s->mask_sides = sides;
    char **whats = sides ? realloc(s->mask_whats, sizeof *whats * (size_t)n) : NULL;
    if (whats) s->mask_whats = whats;
    char **src = whats ? realloc(s->sources, sizeof *src * (size_t)n) : NULL;
    if (src) s->sources = src;
    if (!src) return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    for (int i = s->n; i < n; i++) {
        memset(&s->prompts[i], 0, sizeof s->prompts[i]);
        s->points[i] = NULL;
        s->labels[i] = NULL;
        s->masks[i] = NULL;
        s->mask_sides[i] = 0;
        s->mask_whats[i] = NULL;
        s->sources[i] = strdup(source);
        if (!s->sources[i]) return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
        s->n = i + 1;
    }
    return SAM_OK;
}

void prompt_set_free(prompt_set *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->points[i]);
        free(s->labels[i]);
        free(s->masks[i]);
        free(s->mask_whats[i]);
        free(s->sources[i]);
    }
    free(s->prompts);
    free(s->points);
    free(s->labels);
    free(s->masks);
    free(s->mask_sides);
    free(s->mask_whats);
    free(s->sources);
    memset(s, 0, sizeof *s);
}

/* Parses min_count to max_count comma-separated finite numbers (within float's range:
 * they become floats). */
static int parse_numbers(const char *arg, double *out, int min_count, int max_count)
{
    const char *s = arg;
    int n = 0;
    for (;;) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || errno || !(fabs(v) <= FLT_MAX) || n >= max_count) return -1;
        out[n++] = v;
        if (*end == 0) break;
        if (*end != ',') return -1;
        s = end + 1;
    }
    return n >= min_count ? n : -1;
}

static sam_status add_point(prompt_set *s, int obj, double x, double y, int label, sam_error *err)
{
    sam_prompt *q = &s->prompts[obj];
    float *pts = realloc(s->points[obj], sizeof(float) * 2 * (size_t)(q->n_points + 1));
    if (pts) s->points[obj] = pts;
    int *lbl = pts ? realloc(s->labels[obj], sizeof(int) * (size_t)(q->n_points + 1)) : NULL;
    if (lbl) s->labels[obj] = lbl;
    if (!lbl) return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    pts[2 * q->n_points] = (float)x;
    pts[2 * q->n_points + 1] = (float)y;
    lbl[q->n_points] = label;
    q->n_points++;
    q->points = pts;
    q->labels = lbl;
    return SAM_OK;
}

sam_status prompt_add_point(prompt_set *s, const char *arg, sam_error *err)
{
    double v[3];
    int n = parse_numbers(arg, v, 2, 3);
    if (n < 0) return tool_fail(err, SAM_ERR_INVALID_ARG, "--point '%s': expected X,Y or X,Y,LABEL with finite numbers", arg);
    if (n == 3 && v[2] != 0 && v[2] != 1) return tool_fail(err, SAM_ERR_INVALID_ARG, "--point '%s': the label must be 1 (foreground) or 0 (background)", arg);
    int label = n == 3 ? (int)v[2] : 1;
    sam_status st = ensure_object(s, 0, "command line", err);
    return st ? st : add_point(s, 0, v[0], v[1], label, err);
}

static sam_status check_box(const double *v, const char *what, sam_error *err)
{
    if (v[2] < v[0] || v[3] < v[1]) return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: the box needs x1 >= x0 and y1 >= y0", what);
    return SAM_OK;
}

sam_status prompt_set_box(prompt_set *s, const char *arg, sam_error *err)
{
    double v[4];
    char what[300];
    snprintf(what, sizeof what, "--box '%s'", arg);
    if (parse_numbers(arg, v, 4, 4) < 0) return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: expected X0,Y0,X1,Y1 with finite numbers", what);
    sam_status st = check_box(v, what, err);
    if (st || (st = ensure_object(s, 0, "command line", err))) return st;
    if (s->prompts[0].has_box) return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: only one box per object (use --prompts for several objects)", what);
    s->prompts[0].has_box = 1;
    for (int k = 0; k < 4; k++) s->prompts[0].box[k] = (float)v[k];
    return SAM_OK;
}

/* `what`: the argument the mask came from; `holds`: what it holds (both for messages) */
static sam_status attach_mask(prompt_set *s, int obj, float *logits, int side, const char *what, const char *holds, sam_error *err)
{
    free(s->masks[obj]);
    free(s->mask_whats[obj]);
    s->masks[obj] = logits;
    s->mask_sides[obj] = side;
    s->prompts[obj].mask_input = logits;
    size_t n = strlen(what) + strlen(holds) + 2;
    if (!(s->mask_whats[obj] = malloc(n))) return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    snprintf(s->mask_whats[obj], n, "%s\n%s", what, holds);
    return SAM_OK;
}

sam_status prompt_attach_mask(prompt_set *s, int obj, float *logits, int side, const char *what, sam_error *err)
{
    char holds[64];
    snprintf(holds, sizeof holds, "float32 [1, %d, %d]", side, side);
    return attach_mask(s, obj, logits, side, what, holds, err);
}

static sam_status load_mask(prompt_set *s, int obj, const char *path, const char *what, sam_error *err)
{
    sam_npy a;
    sam_status st = sam_npy_load(path, &a, err);
    if (st) return prefix_error(err, what);
    int64_t numel = 1;
    for (int d = 0; d < a.ndim; d++) numel *= a.shape[d];
    int64_t side = a.ndim >= 2 ? a.shape[a.ndim - 1] : 0;
    char shape[96];
    int used = snprintf(shape, sizeof shape, "%s [", a.dtype == SAM_NPY_F32 ? "float32" : "uint8");
    for (int d = 0; d < a.ndim && used < (int)sizeof shape; d++) used += snprintf(shape + used, sizeof shape - (size_t)used, "%s%lld", d ? ", " : "", (long long)a.shape[d]);
    if (used < (int)sizeof shape) snprintf(shape + used, sizeof shape - (size_t)used, "]");
    /* the model's low-res side is checked once the model is known (prompt_check_masks) */
    int square = a.dtype == SAM_NPY_F32 && a.ndim >= 2 && a.shape[a.ndim - 2] == side && numel == side * side && side <= 4096;
    return attach_mask(s, obj, a.data, square ? (int)side : 0, what, shape, err);
}

sam_status prompt_set_mask_input(prompt_set *s, const char *path, sam_error *err)
{
    char what[300];
    snprintf(what, sizeof what, "--mask-input '%s'", path);
    sam_status st = ensure_object(s, 0, "command line", err);
    return st ? st : load_mask(s, 0, path, what, err);
}

sam_status prompt_check_masks(const prompt_set *s, int low, sam_error *err)
{
    for (int i = 0; i < s->n; i++) {
        if (!s->masks[i] || s->mask_sides[i] == low) continue;
        const char *nl = strchr(s->mask_whats[i], '\n');
        return tool_fail(err, SAM_ERR_INVALID_ARG, "%.*s: the mask input must be float32 1x%dx%d low-res logits (from --save-logits), got %s",
                         (int)(nl - s->mask_whats[i]), s->mask_whats[i], low, low, nl + 1);
    }
    return SAM_OK;
}

static sam_status json_numbers(const json_t *v, double *out, int count, const char *what, const char *field, sam_error *err)
{
    if (!json_is_array(v) || json_array_size(v) != (size_t)count) goto bad;
    for (int i = 0; i < count; i++)
        if (!tool_json_number(json_array_get(v, (size_t)i), &out[i]) || !(fabs(out[i]) <= FLT_MAX)) goto bad;
    return SAM_OK;
bad:
    return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: %s must be a list of %d numbers", what, field, count);
}

sam_status prompt_add_json_object(prompt_set *s, const json_t *o, const char *what, const char *const *extra_keys, prompt_mask_resolver resolve,
                                  void *ctx, sam_error *err)
{
    if (!json_is_object(o)) return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: each object must be a JSON object", what);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)o, key, value) {
        int known = !strcmp(key, "points") || !strcmp(key, "labels") || !strcmp(key, "box") || !strcmp(key, "mask_input");
        for (int k = 0; extra_keys && extra_keys[k] && !known; k++) known = !strcmp(key, extra_keys[k]);
        if (!known) return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: unknown key '%s' (expected points, labels, box, mask_input)", what, key);
    }
    int obj = s->n;
    char source[64];
    snprintf(source, sizeof source, "object %d", obj);
    sam_status st = ensure_object(s, obj, source, err);
    if (st) return st;
    const json_t *pts = json_object_get(o, "points"), *lbl = json_object_get(o, "labels"), *box = json_object_get(o, "box"), *mask = json_object_get(o, "mask_input");
    if (pts) {
        if (!json_is_array(pts)) return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: points must be a list of [x, y]", what);
        if (lbl && (!json_is_array(lbl) || json_array_size(lbl) != json_array_size(pts)))
            return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: labels must be a list as long as points", what);
        if (json_array_size(pts) > PROMPT_MAX_POINTS)
            return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: %zu points, more than the %d an object may have", what, json_array_size(pts), PROMPT_MAX_POINTS);
        for (size_t k = 0; k < json_array_size(pts); k++) {
            double xy[2], label = 1;
            if ((st = json_numbers(json_array_get(pts, k), xy, 2, what, "a point", err))) return st;
            if (lbl && (!tool_json_number(json_array_get(lbl, k), &label) || (label != 0 && label != 1)))
                return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: labels must be 1 (foreground) or 0 (background)", what);
            if ((st = add_point(s, obj, xy[0], xy[1], (int)label, err))) return st;
        }
    } else if (lbl) {
        return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: labels without points", what);
    }
    if (box) {
        double v[4];
        if ((st = json_numbers(box, v, 4, what, "box", err)) || (st = check_box(v, what, err))) return st;
        s->prompts[obj].has_box = 1;
        for (int k = 0; k < 4; k++) s->prompts[obj].box[k] = (float)v[k];
    }
    if (mask && (st = resolve(ctx, s, obj, mask, what, err))) return st;
    if (!s->prompts[obj].n_points && !s->prompts[obj].has_box) return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: an object needs points or a box", what);
    return SAM_OK;
}

/* --prompts' mask_input: a .npy file, relative to the prompts file's folder */
static sam_status mask_from_file(void *ctx, prompt_set *s, int obj, const json_t *value, const char *what, sam_error *err)
{
    const char *dir = ctx;
    if (!json_is_string(value)) return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: mask_input must be a file name", what);
    const char *name = json_string_value(value);
    char file[8192];
    snprintf(file, sizeof file, "%s%s", name[0] == '/' ? "" : dir, name);
    return load_mask(s, obj, file, what, err);
}

sam_status prompt_load_json(prompt_set *s, const char *path, sam_error *err)
{
    json_t *root;
    sam_status st = tool_json_load_file(path, &root, err);
    if (st) return prefix_error(err, "--prompts");
    if (!json_is_array(root) || json_array_size(root) == 0) {
        json_decref(root);
        return tool_fail(err, SAM_ERR_INVALID_ARG, "--prompts %s: expected a non-empty list of objects", path);
    }
    if (json_array_size(root) > PROMPT_MAX_OBJECTS) {
        json_decref(root);
        return tool_fail(err, SAM_ERR_INVALID_ARG, "--prompts %s: %zu objects, more than the %d accepted", path, json_array_size(root), PROMPT_MAX_OBJECTS);
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) slash[1] = 0;
    else dir[0] = 0;
    for (size_t i = 0; i < json_array_size(root) && st == SAM_OK; i++) {
        char what[4200];
        snprintf(what, sizeof what, "--prompts %s: object %zu", path, i);
        st = prompt_add_json_object(s, json_array_get(root, i), what, NULL, mask_from_file, dir, err);
    }
    json_decref(root);
    return st;
}

sam_status prompt_check_bounds(const prompt_set *s, int w, int h, sam_error *err)
{
    for (int i = 0; i < s->n; i++) {
        const sam_prompt *q = &s->prompts[i];
        int cli = strcmp(s->sources[i], "command line") == 0;
        for (int k = 0; k < q->n_points; k++) {
            float x = q->points[2 * k], y = q->points[2 * k + 1];
            if (x < 0 || y < 0 || x > w || y > h) {
                if (cli) return tool_fail(err, SAM_ERR_INVALID_ARG, "--point %g,%g: outside the %dx%d image", x, y, w, h);
                return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: points: [%g, %g] is outside the %dx%d image", s->sources[i], x, y, w, h);
            }
        }
        if (q->has_box && (q->box[0] < 0 || q->box[1] < 0 || q->box[2] > w || q->box[3] > h)) {
            if (cli) return tool_fail(err, SAM_ERR_INVALID_ARG, "--box %g,%g,%g,%g: outside the %dx%d image", q->box[0], q->box[1], q->box[2], q->box[3], w, h);
            return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: box: [%g, %g, %g, %g] is outside the %dx%d image", s->sources[i], q->box[0], q->box[1], q->box[2],
                             q->box[3], w, h);
        }
    }
    return SAM_OK;
}
