#include "tool_common.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

sam_status tool_fail(sam_error *err, sam_status code, const char *fmt, ...)
{
    if (err) {
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

void tool_error(const char *prog, const sam_error *err)
{
    fprintf(stderr, "%s: %s\n", prog, err->msg);
}

int tool_parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

int tool_parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

void tool_progress(void *label, uint64_t done, uint64_t total)
{
    static int last = -1;
    int pct = total ? (int)(100 * done / total) : 100;
    if (pct == last) return;
    last = pct;
    if (isatty(STDERR_FILENO)) {
        int filled = pct * 30 / 100;
        fprintf(stderr, "\r%s [%.*s%*s] %3d%% (%llu/%llu MiB)", (const char *)label, filled, "##############################", 30 - filled, "", pct,
                (unsigned long long)(done >> 20), (unsigned long long)(total >> 20));
        if (done >= total) fputc('\n', stderr);
    } else {
        static int last_decile = -1; /* not a terminal: a line every 10% */
        if (pct / 10 != last_decile) fprintf(stderr, "%s %d%%\n", (const char *)label, pct / 10 * 10);
        last_decile = done >= total ? -1 : pct / 10;
    }
    if (done >= total) last = -1;
}

sam_status tool_open_predictor(const char *model_path, const char *config_path, int n_threads, int profile, int fuse, sam_model **model,
                               sam_predictor **pred, sam_error *err)
{
    sam_model_params mp = sam_model_default_params();
    mp.config_path = config_path;
    sam_predictor_params pp = sam_predictor_default_params();
    pp.n_threads = n_threads;
    pp.profile = profile;
    pp.fuse = fuse;
    sam_status st = sam_model_open(model_path, &mp, model, err);
    return st ? st : sam_predictor_create(*model, &pp, pred, err);
}

uint64_t tool_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (uint64_t)ru.ru_maxrss * 1024;
}

double tool_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
