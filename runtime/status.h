/* Status codes: one X-macro list gives the enum and the message table (as libuv does). */
#ifndef SAMRT_STATUS_H
#define SAMRT_STATUS_H

#include <stddef.h>

#define SAM_STATUS_LIST(X)                                              \
    X(OK, "success")                                                    \
    X(ERR_NOMEM, "out of memory")                                       \
    X(ERR_IO, "input/output error")                                     \
    X(ERR_FORMAT, "malformed file")                                     \
    X(ERR_UNSUPPORTED, "unsupported content")                           \
    X(ERR_INVALID_ARG, "invalid argument")                              \
    X(ERR_SHAPE, "shape mismatch")                                      \
    X(ERR_NOT_FOUND, "not found")                                       \
    X(ERR_GRAPH, "invalid graph")                                       \
    X(ERR_OVERFLOW, "size overflow")

typedef enum {
#define SAM_STATUS_ENUM(name, msg) SAM_##name,
    SAM_STATUS_LIST(SAM_STATUS_ENUM)
#undef SAM_STATUS_ENUM
    SAM_STATUS_COUNT
} sam_status;

/* Every fallible library call fills one of these: the code plus a message naming
 * the file, line or tensor at fault, so tools can print it verbatim. */
typedef struct sam_error {
    sam_status code;
    char msg[512];
} sam_error;

const char *sam_status_str(sam_status code);

/* Sets err (if non-NULL) and returns code, so callers write `return sam_fail(err, ...)`. */
sam_status sam_fail(sam_error *err, sam_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with context ("loading x.yaml: ..."). */
sam_status sam_fail_context(sam_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
