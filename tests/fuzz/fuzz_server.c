/* libFuzzer target: sam-server's request handling (api_handle: routing, authentication,
 * ids, query values, predict and generator bodies) on the golden test model, with one
 * image uploaded at start. The input is a request in lines: method, path ("{image}" stands
 * for the uploaded image's id, "{logits}" for logits it returned), ?format=, the
 * Authorization header, then the body. Bodies that decode as images are left to
 * fuzz_image (each would run the encoder). Generator requests are made asynchronous
 * (?async=1) and left to the server's job worker and its queue limit; only small ones
 * (points_per_side <= 4, no crops) are sent, as a default run takes minutes under the
 * sanitizers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "fuzz_util.h"
#include "json.h"

static server srv;
static char image_id[64], logits_id[64];

static void request(const char *method, const char *path, const char *async, const void *body, size_t size, api_response *rs)
{
    api_request rq = {.method = method, .path = path, .async = async, .authorization = "Bearer fuzz-token", .body = body, .body_size = size};
    memset(rs, 0, sizeof *rs);
    api_handle(&srv, &rq, rs);
}

static void start_server(void)
{
    sam_error err;
    srv.model = fuzz_tiny_model();
    srv.model_name = "sam_tiny";
    srv.token = "fuzz-token";
    srv.max_upload = 1 << 20;
    if (!srv.model || image_store_init(&srv.store, 4, &err) || engines_init(&srv.engines, srv.model, 1, 1, &err) ||
        jobs_start(&srv.jobs, srv.model, 1, &srv.store, &err))
        abort();
    /* a small image, and a click on it for a logits id */
    uint8_t rgb[48 * 64 * 3];
    for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(i * 7);
    void *png;
    size_t png_size;
    if (sam_png_encode(64, 48, 3, rgb, &png, &png_size, &err)) abort();
    api_response rs;
    request("POST", "/api/images", NULL, png, png_size, &rs);
    free(png);
    json_t *j = rs.body ? json_loadb(rs.body, rs.size, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(j, "id"));
    if (rs.status != 201 || !id) {
        fprintf(stderr, "fuzz_server: upload failed: %d %.*s\n", rs.status, (int)rs.size, rs.body ? rs.body : "");
        abort();
    }
    snprintf(image_id, sizeof image_id, "%s", id);
    json_decref(j);
    free(rs.body);
    char path[128];
    snprintf(path, sizeof path, "/api/images/%s/predict", image_id);
    static const char click[] = "{\"points\": [[10, 10]], \"labels\": [1]}";
    request("POST", path, NULL, click, sizeof click - 1, &rs);
    j = rs.body ? json_loadb(rs.body, rs.size, 0, NULL) : NULL;
    snprintf(logits_id, sizeof logits_id, "%s", json_string_value(json_object_get(j, "logits_id")) ? json_string_value(json_object_get(j, "logits_id")) : "none");
    json_decref(j);
    free(rs.body);
}

/* the next line of the input (NUL-terminated in place), or "" at the end */
static char *next_line(char **cursor, char *end)
{
    char *s = *cursor, *nl = s < end ? memchr(s, '\n', (size_t)(end - s)) : NULL;
    if (!nl) {
        *cursor = end;
        return s < end ? s : end;
    }
    *nl = 0;
    *cursor = nl + 1;
    return s;
}

static void substitute(const char *in, char *out, size_t cap)
{
    size_t used = 0;
    while (*in && used + 1 < cap) {
        const char *with = !strncmp(in, "{image}", 7) ? image_id : !strncmp(in, "{logits}", 8) ? logits_id : NULL;
        if (with) {
            used += (size_t)snprintf(out + used, cap - used, "%s", with);
            in += with == image_id ? 7 : 8;
        } else {
            out[used++] = *in++;
        }
        if (used >= cap) used = cap - 1;
    }
    out[used] = 0;
}

/* the upload encodes the image: seconds under the sanitizers, longer than an input may take */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    start_server();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1 << 20)) return 0;
    char *text = fuzz_string(data, size), *cursor = text, *end = text + size;
    char *method = next_line(&cursor, end), *raw_path = next_line(&cursor, end), *format = next_line(&cursor, end), *auth = next_line(&cursor, end);
    char path[1024];
    substitute(raw_path, path, sizeof path);
    const uint8_t *body = (const uint8_t *)cursor;
    size_t body_size = (size_t)(end - cursor);
    sam_image decoded;
    sam_error err;
    if (body_size && sam_image_decode(body, body_size, "body", &decoded, &err) == SAM_OK) {
        sam_image_free(&decoded);
        return 0;
    }
    int is_auto = strstr(path, "/auto") != NULL;
    if (is_auto) {
        json_t *j = json_loadb((const char *)body, body_size, 0, NULL);
        json_int_t side = json_integer_value(json_object_get(j, "points_per_side"));
        int small = json_is_object(j) && side >= 1 && side <= 4 && !json_object_get(j, "crop_n_layers") && !json_object_get(j, "point_grids");
        json_decref(j);
        if (!small) return 0;
    }
    api_request rq = {.method = method, .path = path, .format = *format ? format : NULL, .async = is_auto ? "1" : NULL,
                      .authorization = *auth ? auth : NULL, .body = body, .body_size = body_size, .body_too_large = size > 0 && data[0] == '!'};
    api_response rs = {0};
    api_handle(&srv, &rq, &rs);
    free(rs.body);
    return 0;
}
