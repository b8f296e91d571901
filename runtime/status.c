#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const status_messages[] = {
#define SAM_STATUS_MSG(name, msg) msg,
    SAM_STATUS_LIST(SAM_STATUS_MSG)
#undef SAM_STATUS_MSG
};

const char *sam_status_str(sam_status code)
{
    if ((unsigned)code >= SAM_STATUS_COUNT) return "unknown status";
    return status_messages[code];
}

const char *sam_version(void)
{
    return SAMRT_VERSION;
}

sam_status sam_fail(sam_error *err, sam_status code, const char *fmt, ...)
{
    if (err) {
        /* format into a copy: callers may pass err->msg itself as an argument */
        char msg[sizeof err->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        err->code = code;
        memcpy(err->msg, msg, sizeof msg);
    }
    return code;
}

sam_status sam_fail_context(sam_error *err, const char *fmt, ...)
{
    if (!err) return SAM_ERR_INVALID_ARG;
    char prefix[256], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return err->code;
}

double sam_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint64_t sam_hash_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}
