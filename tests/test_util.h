/* Helpers for the Check suites: golden data location, array comparison, temp files. */
#ifndef SAMRT_TEST_UTIL_H
#define SAMRT_TEST_UTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "../runtime/graph_load.h"
#include "../runtime/model.h"
#include "../runtime/npy.h"
#include "../runtime/session.h"
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
/* A golden checkpoint (its path under golden_dir(), e.g. "sam_tiny/sam_tiny_seed0.pth")
 * converted by the real sam-convert (as a user would) into the temporary directory: the
 * blob's path, or NULL, said on stderr, on failure. */
const char *golden_blob(const char *convert_bin, const char *checkpoint);

typedef struct {
    double max_abs, rel_l2;
} diff_stats;
diff_stats compare_f32(const float *got, const float *want, int64_t n);

/* Deterministic values in [-1, 1). */
void fill_uniform(float *x, int64_t n, uint64_t seed);

int write_file(const char *path, const void *data, size_t len);
/* A zip archive of stored entries (what torch.save writes), for malformed-input tests. */
int write_zip(const char *path, int n, const char *const *names, const void *const *data, const size_t *lens);
/* Building pickles by hand, for checkpoints the tests write. */
typedef struct {
    unsigned char *b;
    size_t n, cap;
} pickle_buf;
void pk_bytes(pickle_buf *p, const void *s, size_t n);
void pk_op(pickle_buf *p, const char *ops); /* opcodes as a C string (no NUL bytes) */
void pk_str(pickle_buf *p, const char *s);  /* BINUNICODE */
void pk_int(pickle_buf *p, int64_t v);      /* BININT */
void pk_free(pickle_buf *p);

/* Run a program; returns its exit status (or -1). */
int run_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int run_suite(Suite *s);

#endif
