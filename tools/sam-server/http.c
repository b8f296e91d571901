#include "http.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "tool_common.h"

/* Bodies declared larger than this are refused before a byte is read; smaller ones over
 * the limit are read and dropped, so that the client sees the 413 and not a reset. */
#define DRAIN_LIMIT ((uint64_t)1 << 30)

struct http_server {
    struct MHD_Daemon *daemon;
    server *s;
    const web_file *files;
    int n_files;
};

typedef struct request_state {
    uint8_t *body;
    size_t size, cap;
    int too_large;
    int status;
    size_t bytes_out;
    struct timespec t0;
    char method[12], url[160];
} request_state;

sam_status web_files_load(const char *dir, web_file **out, int *n, sam_error *err)
{
    static const struct {
        const char *file, *path, *type;
    } page[] = {
        {"index.html", "/", "text/html; charset=utf-8"},
        {"app.js", "/app.js", "text/javascript; charset=utf-8"},
        {"style.css", "/style.css", "text/css; charset=utf-8"},
    };
    int count = (int)(sizeof page / sizeof *page);
    web_file *files = calloc((size_t)count, sizeof *files);
    if (!files) return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    *out = files;
    *n = 0;
    for (int i = 0; i < count; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, page[i].file);
        FILE *f = fopen(path, "rb");
        if (!f) return tool_fail(err, SAM_ERR_IO, "cannot open the page's file '%s': %s (--web-dir names the folder)", path, strerror(errno));
        long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
        char *data = size >= 0 && size < (1 << 24) && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)size + 1) : NULL;
        int ok = data && fread(data, 1, (size_t)size, f) == (size_t)size;
        fclose(f);
        if (!ok) {
            free(data);
            return tool_fail(err, SAM_ERR_IO, "cannot read the page's file '%s'", path);
        }
        files[i] = (web_file){page[i].path, page[i].type, data, (size_t)size};
        *n = i + 1;
    }
    return SAM_OK;
}

void web_files_free(web_file *files, int n)
{
    for (int i = 0; i < n; i++) free(files[i].data);
    free(files);
}

static enum MHD_Result respond(struct MHD_Connection *c, request_state *rs, int status, const char *type, void *body, size_t size, int must_free,
                            const char *header_name, const char *header_value)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(size, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (must_free) free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (header_name && header_name[0]) MHD_add_response_header(r, header_name, header_value);
    rs->status = status;
    rs->bytes_out = size;
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *c, request_state *rs, int status, const char *msg)
{
    char *body = NULL;
    json_t *o = json_pack("{s:s}", "error", msg);
    if (o) body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!body) return MHD_NO;
    return respond(c, rs, status, "application/json", body, strlen(body), 1, NULL, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    http_server *h = cls;
    request_state *rs = *con_cls;
    if (!rs) { /* the headers are in; the body (if any) follows in later calls */
        if (!(rs = calloc(1, sizeof *rs))) return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &rs->t0);
        snprintf(rs->method, sizeof rs->method, "%s", method);
        snprintf(rs->url, sizeof rs->url, "%s", url);
        *con_cls = rs;
        const char *length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length) {
            unsigned long long declared = strtoull(length, NULL, 10);
            if (declared > h->s->max_upload) rs->too_large = 1;
            if (declared > DRAIN_LIMIT) return send_error(c, rs, 413, "the body is larger than the server's --max-upload-mb");
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rs->too_large || rs->size + n > h->s->max_upload) {
            rs->too_large = 1;
            free(rs->body);
            rs->body = NULL;
            rs->size = rs->cap = 0;
            return MHD_YES;
        }
        if (rs->size + n > rs->cap) {
            size_t cap = rs->cap ? rs->cap : 65536;
            while (cap < rs->size + n) cap *= 2;
            uint8_t *body = realloc(rs->body, cap);
            if (!body) return send_error(c, rs, 503, "out of memory");
            rs->body = body;
            rs->cap = cap;
        }
        memcpy(rs->body + rs->size, upload_data, n);
        rs->size += n;
        return MHD_YES;
    }
    (void)version;
    if (strncmp(url, "/api/", 5) != 0) { /* the page */
        for (int i = 0; i < h->n_files; i++)
            if (!strcmp(url, h->files[i].path) || (!strcmp(url, "/index.html") && !strcmp(h->files[i].path, "/"))) {
                if (strcmp(method, "GET") && strcmp(method, "HEAD")) return send_error(c, rs, 405, "the page's files take GET");
                return respond(c, rs, 200, h->files[i].content_type, h->files[i].data, h->files[i].size, 0, NULL, NULL);
            }
        return send_error(c, rs, 404, "no such file");
    }
    api_request rq = {
        .method = method,
        .path = url,
        .format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format"),
        .async = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "async"),
        .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
        .body = rs->body,
        .body_size = rs->size,
        .body_too_large = rs->too_large,
    };
    api_response out;
    api_handle(h->s, &rq, &out);
    return respond(c, rs, out.status, out.content_type, out.body, out.size, 1, out.header_name, out.header_value);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode why)
{
    request_state *rs = *con_cls;
    if (!rs) return;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = 1e3 * (double)(t1.tv_sec - rs->t0.tv_sec) + 1e-6 * (double)(t1.tv_nsec - rs->t0.tv_nsec);
    (void)c;
    fprintf(stderr, "sam-server: %s %s %d, %zu bytes in, %zu out, %.1f ms%s\n", rs->method, rs->url, rs->status, rs->size, rs->bytes_out, ms,
            why == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
    free(rs->body);
    free(rs);
    *con_cls = NULL;
}

sam_status http_start(server *s, const web_file *files, int n_files, const char *host, int port, int *bound_port, http_server **out, sam_error *err)
{
    *out = NULL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &ai);
    if (rc) return tool_fail(err, SAM_ERR_INVALID_ARG, "--host '%s': %s", host, gai_strerror(rc));
    http_server *h = calloc(1, sizeof *h);
    if (!h) {
        freeaddrinfo(ai);
        return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    h->s = s;
    h->files = files;
    h->n_files = n_files;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
                                 (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->daemon) {
        free(h);
        return tool_fail(err, SAM_ERR_IO, "cannot listen on %s port %s (in use, or not an address of this machine?)", host, service);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    *bound_port = info ? info->port : port;
    *out = h;
    return SAM_OK;
}

void http_stop(http_server *h)
{
    if (!h) return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
