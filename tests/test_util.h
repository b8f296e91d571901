/* Helpers for the Check suites: golden data location, array comparison, temp files. */
#ifndef SAMRT_TEST_UTIL_H
#define SAMRT_TEST_UTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "samrt.h"

/* Exit status CTest reports as "skipped". */
#define TEST_SKIP_CODE 77

/* ../shared/golden beside the checkout (or $SAMRT_GOLDEN_DIR); NULL when absent. */
const char *golden_dir(void);
/* golden_dir()/rel, in a static buffer rotated over 8 slots. */
const char *golden_path(const char *rel);
/* A fresh directory under $TMPDIR, removed by the caller with tmp_cleanup. */
const char *tmp_dir(void);
const char *tmp_path(const char *name);
void tmp_cleanup(void);

typedef struct {
    double max_abs, rel_l2;
} diff_stats;
diff_stats compare_f32(const float *got, const float *want, int64_t n);

/* Deterministic values in [-1, 1). */
void fill_uniform(float *x, int64_t n, uint64_t seed);

int write_file(const char *path, const void *data, size_t len);
/* A zip archive of stored entries (what torch.save writes), for malformed-input tests. */
int write_zip(const char *path, int n, const char *const *names, const void *const *data, const size_t *lens);
/* Run a program; returns its exit status (or -1). */
int run_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int run_suite(Suite *s);

#endif
