/* sam-server over HTTP (libmicrohttpd): bodies collected up to the upload limit, the API
 * under /api/, the page's files from memory, one log line per request on stderr. */
#ifndef SAMRT_HTTP_H
#define SAMRT_HTTP_H

#include "api.h"

typedef struct web_file {
    const char *path; /* as requested: "/", "/app.js" */
    const char *content_type;
    char *data;
    size_t size;
} web_file;

typedef struct http_server http_server;

/* Reads the page's files from dir (index.html, app.js, style.css). */
sam_status web_files_load(const char *dir, web_file **out, int *n, sam_error *err);
void web_files_free(web_file *files, int n);

/* Listens on host:port (port 0: any free port; *bound_port tells which). */
sam_status http_start(server *s, const web_file *files, int n_files, const char *host, int port, int *bound_port, http_server **out, sam_error *err);
void http_stop(http_server *h);

#endif
