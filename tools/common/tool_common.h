/* What the programs share: errors and exit codes, command-line numbers, a progress bar,
 * and their peak memory. */
#ifndef SAMRT_TOOL_COMMON_H
#define SAMRT_TOOL_COMMON_H

#include <stdint.h>
#include <stdio.h>

#include "samrt.h"

/* Exit codes: 1 for failures while working, 2 for bad command lines. */
enum { EXIT_USAGE = 2 };

/* Fills err (if non-NULL) and returns code. */
sam_status tool_fail(sam_error *err, sam_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prints "prog: message" to stderr. */
void tool_error(const char *prog, const sam_error *err);
int tool_parse_int(const char *s, long long lo, long long hi, long long *out);
/* A finite number in [lo, hi]. */
int tool_parse_double(const char *s, double lo, double hi, double *out);
/* A progress bar on stderr when it is a terminal, a line every 10% otherwise
 * (the label is a const char *); for sam_convert_params. */
void tool_progress(void *label, uint64_t done, uint64_t total);
/* Opens the model (with config_path, or its own config) and a predictor on it. */
sam_status tool_open_predictor(const char *model_path, const char *config_path, int n_threads, int profile, int fuse, sam_model **model,
                               sam_predictor **pred, sam_error *err);
/* Peak resident set size of this process, bytes. */
uint64_t tool_peak_rss(void);
/* Seconds on a monotonic clock. */
double tool_now(void);

#endif
