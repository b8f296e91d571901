#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

sam_status sam_fail(sam_error *err, sam_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
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
