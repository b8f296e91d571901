#include "tool_common.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

const char *tool_graph_dir(void)
{
    static char dir[PATH_MAX];
    const char *env = getenv("SAMRT_GRAPH_DIR");
    if (env && *env) return env;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(dir, sizeof dir, "%s/../share/sam-rt/graphs", exe);
            char probe[PATH_MAX + 32];
            snprintf(probe, sizeof probe, "%s/image_encoder.yaml", dir);
            if (access(probe, R_OK) == 0) return dir;
        }
    }
    char probe[PATH_MAX];
    snprintf(probe, sizeof probe, "%s/image_encoder.yaml", SAMRT_SOURCE_GRAPH_DIR);
    if (access(probe, R_OK) == 0) return SAMRT_SOURCE_GRAPH_DIR;
    return SAMRT_INSTALL_GRAPH_DIR;
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

int tool_parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

void tool_error(const char *prog, const sam_error *err)
{
    fprintf(stderr, "%s: %s\n", prog, err->msg);
}

sam_status tool_load_graph(const char *model_path, const char *config_path, const char *graph_override, const char *graph_name,
                           const sam_params *overrides, sam_model **model, sam_config *cfg, sam_graph **graph, sam_error *err)
{
    *graph = NULL;
    sam_status st = sam_model_open(model_path, model, err);
    if (st) return st;
    if ((st = sam_config_for_model(*model, config_path, tool_graph_dir(), cfg, err))) return st;
    for (int i = 0; overrides && i < overrides->count; i++)
        if ((st = sam_params_set(&cfg->params, overrides->names[i], &overrides->values[i], err))) return st;
    const char *path = graph_override ? graph_override : sam_config_graph(cfg, graph_name);
    if (!path) return sam_fail(err, SAM_ERR_NOT_FOUND, "the config of variant '%s' names no '%s' graph", cfg->variant, graph_name);
    return sam_graph_load(path, &cfg->params, *model, graph, err);
}

uint64_t tool_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (uint64_t)ru.ru_maxrss * 1024;
}
