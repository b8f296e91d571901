#include "test_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *golden_dir(void)
{
    static _Thread_local char dir[4096];
    const char *env = getenv("SAMRT_GOLDEN_DIR");
    snprintf(dir, sizeof dir, "%s", env && *env ? env : SAMRT_GOLDEN_DEFAULT);
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/README.md", dir);
    return access(probe, R_OK) == 0 ? dir : NULL;
}

const char *golden_path(const char *rel)
{
    static _Thread_local char bufs[8][4200]; /* rotating, per thread: the threads test calls these concurrently */
    static _Thread_local int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", golden_dir(), rel);
    return b;
}

static char tmp_root[4096];

const char *tmp_dir(void)
{
    if (!tmp_root[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(tmp_root, sizeof tmp_root, "%s/samrt-test-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmp_root)) {
            perror("mkdtemp");
            abort();
        }
    }
    return tmp_root;
}

const char *tmp_path(const char *name)
{
    static _Thread_local char bufs[8][4200]; /* rotating, per thread: the threads test calls these concurrently */
    static _Thread_local int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", tmp_dir(), name);
    return b;
}

const char *golden_blob(const char *convert_bin, const char *checkpoint)
{
    char name[64];
    snprintf(name, sizeof name, "%.*s.samrt", (int)strcspn(checkpoint, "/"), checkpoint);
    const char *blob = tmp_path(name);
    if (run_cmd("'%s' -q '%s' -o '%s'", convert_bin, golden_path(checkpoint), blob) != 0) {
        fprintf(stderr, "sam-convert failed on the golden checkpoint %s\n", checkpoint);
        return NULL;
    }
    return blob;
}

void tmp_cleanup(void)
{
    if (tmp_root[0]) run_cmd("rm -rf '%s'", tmp_root);
    tmp_root[0] = 0;
}

diff_stats compare_f32(const float *got, const float *want, int64_t n)
{
    diff_stats d = {0, 0};
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (!(e <= d.max_abs)) d.max_abs = e; /* NaN propagates */
        num += e * e;
        den += (double)want[i] * want[i];
    }
    d.rel_l2 = den > 0 ? sqrt(num / den) : sqrt(num);
    return d;
}

void fill_uniform(float *x, int64_t n, uint64_t seed)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
}

int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

static void le(FILE *f, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) fputc((int)(v >> (8 * i)) & 0xff, f);
}

int write_zip(const char *path, int n, const char *const *names, const void *const *data, const size_t *lens)
{
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    long *offsets = calloc((size_t)n, sizeof *offsets);
    for (int i = 0; i < n; i++) {
        offsets[i] = ftell(f);
        size_t nl = strlen(names[i]);
        le(f, 0x04034b50, 4); le(f, 20, 2); le(f, 0, 2); le(f, 0, 2); le(f, 0, 2); le(f, 0, 2);
        le(f, 0, 4); le(f, lens[i], 4); le(f, lens[i], 4); le(f, nl, 2); le(f, 0, 2);
        fwrite(names[i], 1, nl, f);
        fwrite(data[i], 1, lens[i], f);
    }
    long cd = ftell(f);
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(names[i]);
        le(f, 0x02014b50, 4); le(f, 20, 2); le(f, 20, 2); le(f, 0, 2); le(f, 0, 2); le(f, 0, 2); le(f, 0, 2);
        le(f, 0, 4); le(f, lens[i], 4); le(f, lens[i], 4); le(f, nl, 2); le(f, 0, 2); le(f, 0, 2);
        le(f, 0, 2); le(f, 0, 2); le(f, 0, 4); le(f, (uint64_t)offsets[i], 4);
        fwrite(names[i], 1, nl, f);
    }
    long end = ftell(f);
    le(f, 0x06054b50, 4); le(f, 0, 2); le(f, 0, 2); le(f, (uint64_t)n, 2); le(f, (uint64_t)n, 2);
    le(f, (uint64_t)(end - cd), 4); le(f, (uint64_t)cd, 4); le(f, 0, 2);
    free(offsets);
    return fclose(f) == 0;
}

void pk_bytes(pickle_buf *p, const void *s, size_t n)
{
    if (p->n + n > p->cap) {
        p->cap = (p->n + n) * 2;
        p->b = realloc(p->b, p->cap);
        if (!p->b) abort();
    }
    memcpy(p->b + p->n, s, n);
    p->n += n;
}

void pk_op(pickle_buf *p, const char *ops)
{
    pk_bytes(p, ops, strlen(ops));
}

void pk_str(pickle_buf *p, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    unsigned char h[5] = {'X', (unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16), (unsigned char)(n >> 24)};
    pk_bytes(p, h, 5);
    pk_bytes(p, s, n);
}

void pk_int(pickle_buf *p, int64_t v)
{
    unsigned char h[5] = {'J', (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    pk_bytes(p, h, 5);
}

void pk_free(pickle_buf *p)
{
    free(p->b);
    memset(p, 0, sizeof *p);
}

int run_cmd(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK); /* temp files and clean-up stay in one process */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    tmp_cleanup();
    return failed ? 1 : 0;
}
