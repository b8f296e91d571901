/* sam-server's JSON API, apart from HTTP: a request (method, path, query values, the
 * Authorization header, the body) in, a response (status, type, body) out. The HTTP
 * layer (http.c) only moves bytes; everything a client can get wrong is judged here. */
#ifndef SAMRT_API_H
#define SAMRT_API_H

#include <stddef.h>
#include <stdint.h>

#include "engines.h"
#include "image_store.h"
#include "jobs.h"
#include "samrt.h"

typedef struct server {
    sam_model *model;
    const char *model_name;
    const char *token; /* NULL: no authentication */
    size_t max_upload;
    image_store store;
    engine_pool engines;
    job_table jobs;
} server;

typedef struct api_request {
    const char *method, *path;
    const char *format;        /* ?format= */
    const char *async;         /* ?async= */
    const char *authorization; /* the header, or NULL */
    const uint8_t *body;
    size_t body_size;
    int body_too_large;        /* more than max_upload bytes were sent */
} api_request;

typedef struct api_response {
    int status;
    const char *content_type;
    char *body; /* malloc'd */
    size_t size;
    char header_name[32], header_value[96]; /* one extra header ("" for none) */
} api_response;

/* Fills rs (its body is the caller's to free). Never fails: errors are responses. */
void api_handle(server *s, const api_request *rq, api_response *rs);

#endif
