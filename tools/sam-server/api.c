#define _GNU_SOURCE /* open_memstream */
#include "api.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amg_options.h"
#include "json.h"
#include "prompts.h"
#include "records.h"
#include "tool_common.h"

/* ---- responses ---- */

static void respond_json(api_response *rs, int status, json_t *body)
{
    rs->status = status;
    rs->content_type = "application/json";
    rs->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!rs->body) { /* out of memory composing the answer */
        rs->status = 500;
        rs->body = strdup("{\"error\": \"out of memory\"}");
    }
    rs->size = rs->body ? strlen(rs->body) : 0;
}

static void respond_error(api_response *rs, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void respond_error(api_response *rs, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    respond_json(rs, status, json_pack("{s:s}", "error", msg));
}

/* a library status as an HTTP status: the request's fault, or ours */
static int status_of(sam_status st)
{
    switch (st) {
    case SAM_ERR_INVALID_ARG: case SAM_ERR_FORMAT: case SAM_ERR_UNSUPPORTED: case SAM_ERR_SHAPE: case SAM_ERR_OVERFLOW: return 400;
    case SAM_ERR_NOT_FOUND: return 404;
    case SAM_ERR_CANCELLED: return 409;
    case SAM_ERR_NOMEM: return 503;
    default: return 500;
    }
}

static void respond_status(api_response *rs, sam_status st, const sam_error *err)
{
    respond_error(rs, status_of(st), "%s", err->msg[0] ? err->msg : sam_status_str(st));
}

/* ---- requests ---- */

static int is_image_id(const char *s, size_t len)
{
    if (len != IMAGE_ID_LEN) return 0;
    for (size_t i = 0; i < len; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return 0;
    return 1;
}

/* The body as a JSON object; an empty body is {} when `empty_ok`. */
static json_t *body_object(const api_request *rq, int empty_ok, api_response *rs)
{
    if (rq->body_size == 0) {
        if (empty_ok) return json_object();
        respond_error(rs, 400, "the request needs a JSON body");
        return NULL;
    }
    json_t *root;
    sam_error err = {0};
    if (tool_json_parse((const char *)rq->body, rq->body_size, "body", &root, &err)) {
        respond_error(rs, 400, "%s", err.msg);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        respond_error(rs, 400, "body: expected a JSON object");
        return NULL;
    }
    return root;
}

/* ---- GET /api/health ---- */

static void handle_health(server *s, api_response *rs)
{
    respond_json(rs, 200, json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}", "status", "ok", "model", s->model_name, "family", sam_model_family(s->model),
                                    "variant", sam_model_variant(s->model), "image_size", sam_model_image_size(s->model), "precision",
                                    sam_precision_name(sam_model_precision(s->model))));
}

/* ---- POST /api/images ---- */

static json_t *image_json(const stored_image *img)
{
    return json_pack("{s:s, s:i, s:i, s:f}", "id", img->id, "width", img->width, "height", img->height, "encode_ms", img->encode_ms);
}

static void handle_upload(server *s, const api_request *rq, api_response *rs)
{
    const uint8_t *b = rq->body;
    int jpeg = rq->body_size >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF;
    int png = rq->body_size >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8);
    if (!jpeg && !png) {
        respond_error(rs, 415, "the body must be a JPEG or PNG file (%zu bytes that are neither)", rq->body_size);
        return;
    }
    char id[IMAGE_ID_LEN + 1];
    image_store_hash(b, rq->body_size, id);
    stored_image *img = image_store_get(&s->store, id);
    if (img) { /* the same bytes again: no second encoding */
        json_t *j = image_json(img);
        json_object_set_new(j, "cached", json_true());
        image_store_release(&s->store, img);
        respond_json(rs, 200, j);
        return;
    }
    sam_error err = {0};
    sam_image image = {0};
    sam_status st = sam_image_decode(b, rq->body_size, jpeg ? "the JPEG" : "the PNG", &image, &err);
    if (st) {
        respond_error(rs, 400, "%s", err.msg);
        return;
    }
    engine *e;
    double t0 = tool_now();
    st = engines_acquire(&s->engines, NULL, &e, &err);
    if (st == SAM_OK) {
        e->image_id[0] = 0;
        st = sam_predictor_set_image(e->pred, &image, &err);
    }
    double ms = 1e3 * (tool_now() - t0);
    stored_image *fresh = NULL;
    if (st == SAM_OK) st = stored_image_create(id, e->pred, b, rq->body_size, ms, &fresh, &err);
    if (st == SAM_OK) memcpy(e->image_id, id, sizeof e->image_id);
    engines_release(&s->engines, e);
    sam_image_free(&image);
    if (st) {
        respond_status(rs, st, &err);
        return;
    }
    image_store_insert(&s->store, fresh, &img);
    json_t *j = image_json(img);
    json_object_set_new(j, "cached", json_false());
    image_store_release(&s->store, img);
    respond_json(rs, 201, j);
}

/* ---- POST /api/images/{id}/predict ---- */

typedef struct {
    server *s;
    stored_image *img;
} mask_lookup;

static sam_status mask_from_logits_id(void *ctx, prompt_set *ps, int obj, const json_t *value, const char *what, sam_error *err)
{
    mask_lookup *m = ctx;
    if (!json_is_string(value)) return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: mask_input must be the logits_id of an earlier answer", what);
    float *logits = image_store_find_logits(&m->s->store, m->img, json_string_value(value));
    if (!logits)
        return tool_fail(err, SAM_ERR_NOT_FOUND, "%s: mask_input: no logits '%.64s' for this image (the last %d answers of each image are kept)", what,
                         json_string_value(value), LOGITS_PER_IMAGE);
    return prompt_attach_mask(ps, obj, logits, m->img->low_res, what, err);
}

static int best_mask(const sam_prediction *out, int obj)
{
    int best = 0;
    for (int k = 1; k < out->n_masks; k++)
        if (out->iou[obj * out->n_masks + k] > out->iou[obj * out->n_masks + best]) best = k;
    return best;
}

/* One object's answer's members, written to f: its masks as COCO RLE (the prediction's, made with
 * output_rle), with their logits kept for later requests. Composed by hand as the
 * generator's records are (tools/common/records.c), for the RLE strings' sake (see
 * tool_json_put_rle_counts). */
static sam_status object_write(FILE *f, server *s, stored_image *img, const sam_prediction *out, int obj, sam_error *err)
{
    size_t low = (size_t)out->low_res * out->low_res;
    int best = best_mask(out, obj);
    char best_id[48] = "";
    fputs("\"masks\": [", f);
    for (int k = 0; k < out->n_masks; k++) {
        size_t index = (size_t)obj * out->n_masks + k;
        const int *box = out->boxes + 4 * index;
        char logits_id[48];
        sam_status st = image_store_keep_logits(&s->store, img, out->low_res_logits + index * low, logits_id, sizeof logits_id, err);
        if (st) return st;
        char *counts = sam_rle_to_coco(&out->rles[index]);
        if (!counts) return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
        fprintf(f, "%s{\"iou\": ", k ? ", " : "");
        tool_json_put_number(f, out->iou[index]);
        fprintf(f, ", \"area\": %lld, \"bbox\": [%d, %d, %d, %d], \"counts\": ", (long long)out->areas[index], box[0], box[1], box[2] - box[0],
                box[3] - box[1]);
        tool_json_put_rle_counts(f, counts);
        free(counts);
        fprintf(f, ", \"size\": [%d, %d], \"logits_id\": \"%s\"}", out->height, out->width, logits_id);
        if (k == best) snprintf(best_id, sizeof best_id, "%s", logits_id);
    }
    fprintf(f, "], \"logits_id\": \"%s\", \"best\": %d", best_id, best);
    if (out->object_scores) {
        fputs(", \"object_score\": ", f);
        tool_json_put_number(f, out->object_scores[obj]);
    }
    return SAM_OK;
}

static void predict_png(const sam_prediction *out, api_response *rs)
{
    size_t plane = (size_t)out->height * out->width;
    const uint8_t *mask = out->masks + (size_t)best_mask(out, 0) * plane;
    uint8_t *gray = malloc(plane);
    void *png = NULL;
    size_t size = 0;
    sam_error err = {0};
    if (!gray) {
        respond_error(rs, 503, "out of memory");
        return;
    }
    for (size_t i = 0; i < plane; i++) gray[i] = mask[i] ? 255 : 0;
    sam_status st = sam_png_encode(out->width, out->height, 1, gray, &png, &size, &err);
    free(gray);
    if (st) {
        respond_status(rs, st, &err);
        return;
    }
    rs->status = 200;
    rs->content_type = "image/png";
    rs->body = png;
    rs->size = size;
}

static void handle_predict(server *s, stored_image *img, const api_request *rq, api_response *rs)
{
    double t0 = tool_now();
    int want_png = rq->format && !strcmp(rq->format, "png");
    if (rq->format && !want_png && strcmp(rq->format, "json")) {
        respond_error(rs, 400, "format: 'json' (the default) or 'png', got '%.32s'", rq->format);
        return;
    }
    json_t *root = body_object(rq, 0, rs);
    if (!root) return;
    prompt_set ps = {0};
    sam_prediction *out = NULL;
    sam_error err = {0};
    sam_status st = SAM_OK;
    int multimask = 1;
    const json_t *mm = json_object_get(root, "multimask"), *objects = json_object_get(root, "objects");
    mask_lookup lookup = {s, img};
    if (mm && !json_is_boolean(mm)) {
        respond_error(rs, 400, "multimask must be true or false");
        goto done;
    }
    if (mm) multimask = json_is_true(mm);
    if (objects) {
        size_t n = json_array_size(objects);
        if (!json_is_array(objects) || n == 0 || n > PROMPT_MAX_OBJECTS) {
            respond_error(rs, 400, "objects must be a list of 1 to %d prompts", PROMPT_MAX_OBJECTS);
            goto done;
        }
        const char *key;
        json_t *value;
        json_object_foreach(root, key, value) if (strcmp(key, "objects") && strcmp(key, "multimask")) {
            respond_error(rs, 400, "'%.64s' next to objects: give each object's prompt inside objects", key);
            goto done;
        }
        for (size_t i = 0; i < n && st == SAM_OK; i++) {
            char what[64];
            snprintf(what, sizeof what, "objects[%zu]", i);
            st = prompt_add_json_object(&ps, json_array_get(objects, i), what, NULL, mask_from_logits_id, &lookup, &err);
        }
    } else {
        static const char *const extra[] = {"multimask", NULL};
        st = prompt_add_json_object(&ps, root, "prompt", extra, mask_from_logits_id, &lookup, &err);
    }
    if (st == SAM_OK) st = prompt_check_masks(&ps, img->low_res, &err);
    if (st == SAM_OK) st = prompt_check_bounds(&ps, img->width, img->height, &err);
    if (st == SAM_OK && want_png && ps.n != 1) {
        respond_error(rs, 400, "format=png answers one object; %d were given", ps.n);
        goto done;
    }
    if (st) {
        respond_status(rs, st, &err);
        goto done;
    }
    engine *e;
    st = engines_acquire(&s->engines, img, &e, &err);
    if (st == SAM_OK) {
        sam_predict_params pp = sam_predict_default_params();
        pp.multimask_output = multimask;
        pp.output_rle = !want_png; /* the JSON answer is RLE: no dense masks in between */
        st = sam_predictor_predict(e->pred, ps.prompts, ps.n, &pp, &out, &err);
    }
    engines_release(&s->engines, e);
    if (st) {
        respond_status(rs, st, &err);
        goto done;
    }
    if (want_png) {
        predict_png(out, rs);
        goto done;
    }
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f) {
        respond_error(rs, 503, "out of memory");
        goto done;
    }
    fputs(objects ? "{\"objects\": [" : "{", f);
    for (int i = 0; i < ps.n && st == SAM_OK; i++) {
        fputs(!objects ? "" : i ? ", {" : "{", f);
        st = object_write(f, s, img, out, i, &err);
        fputs(objects ? "}" : "", f);
    }
    fprintf(f, "%s, \"server_ms\": %.3f}", objects ? "]" : "", 1e3 * (tool_now() - t0));
    int failed = ferror(f);
    if (fclose(f) || failed) st = st ? st : tool_fail(&err, SAM_ERR_NOMEM, "out of memory");
    if (st) {
        free(text);
        respond_status(rs, st, &err);
        goto done;
    }
    rs->status = 200;
    rs->content_type = "application/json";
    rs->body = text;
    rs->size = size;
done:
    sam_prediction_free(out);
    prompt_set_free(&ps);
    json_decref(root);
}

/* ---- POST /api/images/{id}/auto, /api/jobs/... ---- */

static json_t *job_json(server *s, const job *j)
{
    job snap;
    jobs_snapshot(&s->jobs, j, &snap);
    double end = snap.state >= JOB_DONE ? snap.t_end : tool_now();
    json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:f}", "job", snap.id, "state", job_state_name(snap.state), "points_done", snap.points_done,
                          "points_total", snap.points_total, "crop", snap.crop, "n_crops", snap.n_crops, "seconds",
                          snap.t_start > 0 ? end - snap.t_start : 0.0);
    if (o && snap.state == JOB_DONE) json_object_set_new(o, "n_masks", json_integer(snap.n_masks));
    if (o && snap.error[0]) json_object_set_new(o, "error", json_string(snap.error));
    return o;
}

static void respond_records(server *s, job *j, api_response *rs)
{
    job snap;
    jobs_snapshot(&s->jobs, j, &snap);
    if (snap.state == JOB_DONE) {
        rs->status = 200;
        rs->content_type = "application/json";
        rs->body = malloc(j->records_size + 1);
        if (!rs->body) {
            respond_error(rs, 503, "out of memory");
            return;
        }
        memcpy(rs->body, j->records, j->records_size + 1); /* set once, before the job ended */
        rs->size = j->records_size;
    } else if (snap.state == JOB_FAILED) {
        respond_error(rs, 500, "the generator failed: %s", snap.error);
    } else if (snap.state == JOB_CANCELLED) {
        respond_error(rs, 409, "the run was cancelled");
    } else {
        respond_error(rs, 409, "the run is %s; its records come when it is done", job_state_name(snap.state));
    }
}

static void handle_auto(server *s, stored_image *img, const api_request *rq, api_response *rs)
{
    json_t *root = body_object(rq, 1, rs);
    if (!root) return;
    const char *family = sam_model_family(s->model);
    sam_amg_params given, params;
    sam_error err = {0};
    int mode = OUTPUT_COCO_RLE;
    amg_options_unset(&given);
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        if (!strcmp(key, "output_mode")) {
            const char *m = json_string_value(value);
            if (m && !strcmp(m, "coco_rle")) mode = OUTPUT_COCO_RLE;
            else if (m && !strcmp(m, "uncompressed_rle")) mode = OUTPUT_UNCOMPRESSED_RLE;
            else {
                respond_error(rs, 400, "output_mode: 'coco_rle' (the default) or 'uncompressed_rle'");
                goto done;
            }
            continue;
        }
        const amg_option *o = amg_option_find(key);
        char range[64];
        if (!o) {
            respond_error(rs, 400, "'%.64s' is not an option of the generator", key);
            goto done;
        }
        if (!sam_amg_has_option(family, key)) {
            respond_status(rs, amg_option_refuse(family, key, &err), &err);
            goto done;
        }
        double v = 0;
        int ok = o->kind == AMG_OPTION_BOOL ? json_is_boolean(value) && amg_option_store(&given, o, json_is_true(value))
                                             : tool_json_number(value, &v) && amg_option_store(&given, o, v);
        if (!ok) {
            respond_error(rs, 400, "%s must be %s", key, amg_option_describe(o, range, sizeof range));
            goto done;
        }
    }
    if (sam_amg_default_params(family, &params, &err)) {
        respond_status(rs, err.code, &err);
        goto done;
    }
    amg_options_apply(&params, &given);
    job *j;
    sam_status st = jobs_submit(&s->jobs, img, &params, mode, &j, &err);
    if (st) {
        respond_error(rs, 503, "%s", err.msg);
        goto done;
    }
    snprintf(rs->header_name, sizeof rs->header_name, "X-Job-Id");
    snprintf(rs->header_value, sizeof rs->header_value, "%s", j->id);
    if (rq->async && strcmp(rq->async, "0")) {
        json_t *o = job_json(s, j);
        json_object_set_new(o, "url", json_sprintf("/api/jobs/%s", j->id));
        respond_json(rs, 202, o);
    } else {
        jobs_wait(&s->jobs, j);
        respond_records(s, j, rs);
    }
    jobs_release(&s->jobs, j);
done:
    json_decref(root);
}

static void handle_job(server *s, const char *id, size_t id_len, const char *rest, const api_request *rq, api_response *rs)
{
    char key[JOB_ID_LEN + 1];
    job *j = NULL;
    if (id_len == JOB_ID_LEN) {
        memcpy(key, id, id_len);
        key[id_len] = 0;
        j = jobs_get(&s->jobs, key);
    }
    int result = !strcmp(rest, "/result");
    if (*rest && !result) {
        respond_error(rs, 404, "no such resource: %.200s", rq->path);
    } else if (!j) {
        respond_error(rs, 404, "no generator run '%.*s' (finished runs are kept until %d newer ones finished)", (int)(id_len > 64 ? 64 : id_len), id,
                      MAX_FINISHED_JOBS);
    } else if (result) {
        if (strcmp(rq->method, "GET")) respond_error(rs, 405, "%s: use GET", rq->path);
        else respond_records(s, j, rs);
    } else if (!strcmp(rq->method, "GET")) {
        respond_json(rs, 200, job_json(s, j));
    } else if (!strcmp(rq->method, "DELETE")) {
        if (jobs_cancel(&s->jobs, j)) jobs_wait(&s->jobs, j); /* a running batch finishes first: a second or so */
        respond_json(rs, 200, job_json(s, j));
    } else {
        respond_error(rs, 405, "%s: use GET (its state) or DELETE (cancel it)", rq->path);
    }
    jobs_release(&s->jobs, j);
}

/* ---- routing ---- */

static int authorized(const server *s, const char *header)
{
    if (!s->token) return 1;
    if (!header || strncmp(header, "Bearer ", 7)) return 0;
    const char *given = header + 7;
    size_t a = strlen(given), b = strlen(s->token);
    unsigned diff = a != b;
    for (size_t i = 0; i < a; i++) diff |= (unsigned char)given[i] ^ (unsigned char)s->token[i % (b ? b : 1)]; /* no early exit */
    return diff == 0;
}

void api_handle(server *s, const api_request *rq, api_response *rs)
{
    memset(rs, 0, sizeof *rs);
    const char *p = rq->path;
    const char *m = rq->method;
    if (!authorized(s, rq->authorization)) {
        snprintf(rs->header_name, sizeof rs->header_name, "WWW-Authenticate");
        snprintf(rs->header_value, sizeof rs->header_value, "Bearer realm=\"sam-server\"");
        respond_error(rs, 401, "this server needs 'Authorization: Bearer <token>' (sam-server --token)");
        return;
    }
    if (rq->body_too_large) {
        respond_error(rs, 413, "the body is larger than the server's --max-upload-mb (%zu MiB)", s->max_upload >> 20);
        return;
    }
    if (!strcmp(p, "/api/health")) {
        if (strcmp(m, "GET")) respond_error(rs, 405, "/api/health: use GET");
        else handle_health(s, rs);
        return;
    }
    if (!strcmp(p, "/api/images")) {
        if (strcmp(m, "POST")) respond_error(rs, 405, "/api/images: POST the JPEG or PNG file as the body");
        else handle_upload(s, rq, rs);
        return;
    }
    if (!strncmp(p, "/api/jobs/", 10)) {
        const char *id = p + 10, *slash = strchr(id, '/');
        size_t len = slash ? (size_t)(slash - id) : strlen(id);
        handle_job(s, id, len, id + len, rq, rs);
        return;
    }
    if (!strncmp(p, "/api/images/", 12)) {
        const char *id = p + 12, *slash = strchr(id, '/');
        size_t len = slash ? (size_t)(slash - id) : strlen(id);
        const char *rest = id + len;
        int known = !*rest || !strcmp(rest, "/predict") || !strcmp(rest, "/auto");
        if (!known) {
            respond_error(rs, 404, "no such resource: %.200s", p);
            return;
        }
        const char *want = *rest ? "POST" : strcmp(m, "DELETE") ? "GET" : "DELETE";
        if (strcmp(m, want)) {
            respond_error(rs, 405, "%.200s: use %s", p, *rest ? "POST" : "GET or DELETE");
            return;
        }
        char key[IMAGE_ID_LEN + 1];
        stored_image *img = NULL;
        if (is_image_id(id, len)) {
            memcpy(key, id, len);
            key[len] = 0;
            img = image_store_get(&s->store, key);
        }
        if (!img) {
            respond_error(rs, 404, "no image '%.*s' here (evicted, deleted or never uploaded: POST it to /api/images again)", (int)(len > 64 ? 64 : len), id);
            return;
        }
        if (!*rest && !strcmp(m, "DELETE")) {
            image_store_release(&s->store, img);
            image_store_delete(&s->store, key);
            respond_json(rs, 200, json_pack("{s:s}", "deleted", key));
            return;
        }
        if (!*rest) respond_json(rs, 200, image_json(img));
        else if (!strcmp(rest, "/predict")) handle_predict(s, img, rq, rs);
        else handle_auto(s, img, rq, rs);
        image_store_release(&s->store, img);
        return;
    }
    respond_error(rs, 404, "no such resource: %.200s", p);
}
