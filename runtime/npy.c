#include "npy.h"

#include "atomic_file.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void sam_array_free(sam_array *a)
{
    if (!a) return;
    free(a->data);
    a->data = NULL;
}

/* Finds 'key': in the header dict and returns a pointer just past the colon. */
static const char *dict_value(const char *hdr, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(hdr, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (isspace((unsigned char)*p)) p++;
    if (*p != ':') return NULL;
    p++;
    while (isspace((unsigned char)*p)) p++;
    return p;
}

static sam_status parse_header(const char *path, const char *hdr, sam_array *a, sam_error *err)
{
    const char *d = dict_value(hdr, "descr"), *fo = dict_value(hdr, "fortran_order"), *sh = dict_value(hdr, "shape");
    if (!d || !fo || !sh) return sam_fail(err, SAM_ERR_FORMAT, "%s: .npy header lacks descr, fortran_order or shape", path);
    if (strncmp(d, "'<f4'", 5) == 0) a->dtype = SAM_F32;
    else if (strncmp(d, "'|u1'", 5) == 0 || strncmp(d, "'<u1'", 5) == 0 || strncmp(d, "'|b1'", 5) == 0) a->dtype = SAM_U8;
    else return sam_fail(err, SAM_ERR_UNSUPPORTED, "%s: .npy dtype %.8s is not supported (need '<f4' or '|u1')", path, d);
    if (strncmp(fo, "False", 5) != 0) return sam_fail(err, SAM_ERR_UNSUPPORTED, "%s: Fortran-order .npy arrays are not supported", path);
    if (*sh != '(') return sam_fail(err, SAM_ERR_FORMAT, "%s: bad shape in .npy header", path);
    sh++;
    a->ndim = 0;
    for (;;) {
        while (isspace((unsigned char)*sh) || *sh == ',') sh++;
        if (*sh == ')') break;
        if (!isdigit((unsigned char)*sh)) return sam_fail(err, SAM_ERR_FORMAT, "%s: bad shape in .npy header", path);
        if (a->ndim >= SAM_MAX_DIMS) return sam_fail(err, SAM_ERR_UNSUPPORTED, "%s: more than %d dimensions", path, SAM_MAX_DIMS);
        errno = 0;
        char *end;
        long long v = strtoll(sh, &end, 10);
        if (errno || v < 0 || v > ((int64_t)1 << 40)) return sam_fail(err, SAM_ERR_FORMAT, "%s: dimension out of range in .npy header", path);
        a->shape[a->ndim++] = v;
        sh = end;
    }
    return SAM_OK;
}

sam_status sam_npy_read(const char *path, sam_array *a, sam_error *err)
{
    memset(a, 0, sizeof *a);
    FILE *f = fopen(path, "rb");
    if (!f) return sam_fail(err, SAM_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    unsigned char pre[12];
    sam_status st = SAM_OK;
    char *hdr = NULL;
    size_t hlen = 0, pre_len = 10;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        st = sam_fail(err, SAM_ERR_FORMAT, "%s: not a .npy file (bad magic)", path);
        goto out;
    }
    if (pre[6] == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            st = sam_fail(err, SAM_ERR_FORMAT, "%s: truncated .npy header", path);
            goto out;
        }
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        pre_len = 12;
    } else {
        st = sam_fail(err, SAM_ERR_UNSUPPORTED, "%s: .npy version %d is not supported", path, pre[6]);
        goto out;
    }
    if (hlen > 1 << 20 || !(hdr = malloc(hlen + 1))) {
        st = sam_fail(err, SAM_ERR_FORMAT, "%s: .npy header length %zu is implausible", path, hlen);
        goto out;
    }
    if (fread(hdr, 1, hlen, f) != hlen) {
        st = sam_fail(err, SAM_ERR_FORMAT, "%s: truncated .npy header", path);
        goto out;
    }
    hdr[hlen] = 0;
    if ((st = parse_header(path, hdr, a, err))) goto out;
    uint64_t n = 1, bytes;
    for (int i = 0; i < a->ndim; i++)
        if (__builtin_mul_overflow(n, (uint64_t)a->shape[i], &n)) {
            st = sam_fail(err, SAM_ERR_OVERFLOW, "%s: array too large", path);
            goto out;
        }
    if (__builtin_mul_overflow(n, (uint64_t)sam_dtype_size(a->dtype), &bytes) || bytes > ((uint64_t)1 << 36)) {
        st = sam_fail(err, SAM_ERR_OVERFLOW, "%s: array too large", path);
        goto out;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && (uint64_t)sb.st_size < pre_len + hlen + bytes) {
        st = sam_fail(err, SAM_ERR_FORMAT, "%s: truncated: header promises %llu data bytes, file has %llu", path, (unsigned long long)bytes,
                      (unsigned long long)(sb.st_size - (off_t)(pre_len + hlen)));
        goto out;
    }
    a->data = malloc(bytes ? (size_t)bytes : 1);
    if (!a->data) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory reading %s", path);
        goto out;
    }
    if (fread(a->data, 1, (size_t)bytes, f) != bytes) st = sam_fail(err, SAM_ERR_FORMAT, "%s: truncated data", path);
out:
    free(hdr);
    fclose(f);
    if (st) sam_array_free(a);
    return st;
}

sam_status sam_npy_write(const char *path, sam_dtype dtype, int ndim, const int64_t *shape, const void *data, sam_error *err)
{
    if (dtype != SAM_F32 && dtype != SAM_U8) return sam_fail(err, SAM_ERR_INVALID_ARG, "npy: only f32 and u8 can be written");
    char dict[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", dtype == SAM_F32 ? "<f4" : "|u1");
    for (int i = 0; i < ndim; i++) len += snprintf(dict + len, sizeof dict - (size_t)len, "%lld,%s", (long long)shape[i], i + 1 < ndim ? " " : "");
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
    /* pad with spaces so that data starts on a 64-byte boundary, ending in '\n' */
    size_t total = 10 + (size_t)len + 1;
    size_t padded = (total + 63) / 64 * 64;
    unsigned char head[512];
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    size_t hlen = padded - 10;
    head[8] = (unsigned char)(hlen & 0xff);
    head[9] = (unsigned char)(hlen >> 8);
    memcpy(head + 10, dict, (size_t)len);
    memset(head + 10 + len, ' ', padded - 10 - (size_t)len - 1);
    head[padded - 1] = '\n';

    size_t bytes = (size_t)sam_shape_numel(ndim, shape) * sam_dtype_size(dtype);
    sam_atomic_file a;
    sam_status st = sam_atomic_open(&a, path, err);
    if (st) return st;
    if (fwrite(head, 1, padded, a.f) != padded || (bytes && fwrite(data, 1, bytes, a.f) != bytes)) {
        sam_atomic_abandon(&a);
        return sam_fail(err, SAM_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    }
    return sam_atomic_commit(&a, err);
}

sam_status sam_npy_load(const char *path, sam_npy *out, sam_error *err)
{
    sam_array a;
    memset(out, 0, sizeof *out);
    sam_status st = sam_npy_read(path, &a, err);
    if (st) return st;
    out->dtype = a.dtype == SAM_U8 ? SAM_NPY_U8 : SAM_NPY_F32;
    out->ndim = a.ndim;
    memcpy(out->shape, a.shape, sizeof(int64_t) * (size_t)a.ndim);
    out->data = a.data;
    return SAM_OK;
}

sam_status sam_npy_save(const char *path, sam_npy_dtype dtype, int ndim, const int64_t *shape, const void *data, sam_error *err)
{
    if (ndim < 0 || ndim > SAM_MAX_DIMS) return sam_fail(err, SAM_ERR_INVALID_ARG, "npy: %d dimensions (max %d)", ndim, SAM_MAX_DIMS);
    return sam_npy_write(path, dtype == SAM_NPY_U8 ? SAM_U8 : SAM_F32, ndim, shape, data, err);
}

void sam_npy_free(sam_npy *a)
{
    if (!a) return;
    free(a->data);
    a->data = NULL;
}
