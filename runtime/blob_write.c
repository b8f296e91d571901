/* Writes a weight blob: header, metadata, tensor table, aligned data. The file is built
 * under a temporary name and renamed into place only when complete. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "blob_format.h"
#include "model.h"

typedef struct {
    uint8_t *buf;
    size_t len, cap;
    int oom;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 4096;
        while (ncap < b->len + n) ncap *= 2;
        uint8_t *q = realloc(b->buf, ncap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->buf = q;
        b->cap = ncap;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}

static void put_le(bytes *b, uint64_t v, int n)
{
    uint8_t tmp[8];
    for (int i = 0; i < n; i++) tmp[i] = (uint8_t)(v >> (8 * i));
    put(b, tmp, (size_t)n);
}

static void put_str(bytes *b, const char *s)
{
    size_t n = strlen(s);
    put_le(b, n, 2);
    put(b, s, n);
}

static uint64_t align_up(uint64_t v)
{
    return (v + SAM_BLOB_ALIGN - 1) / SAM_BLOB_ALIGN * SAM_BLOB_ALIGN;
}

static sam_status write_all(FILE *f, const void *p, size_t n, const char *path, sam_error *err)
{
    if (n && fwrite(p, 1, n, f) != n) return sam_fail(err, SAM_ERR_IO, "writing %s: %s", path, strerror(errno));
    return SAM_OK;
}

static void encode_meta(bytes *b, const sam_params *meta)
{
    for (int i = 0; i < meta->count; i++) {
        const sam_value *v = &meta->values[i];
        put_str(b, meta->names[i]);
        switch (v->type) {
        case SAM_VAL_INT: put_le(b, SAM_META_INT, 1); put_le(b, (uint64_t)v->i, 8); break;
        case SAM_VAL_FLOAT: {
            uint64_t bits;
            memcpy(&bits, &v->f, sizeof bits);
            put_le(b, SAM_META_FLOAT, 1);
            put_le(b, bits, 8);
            break;
        }
        case SAM_VAL_STR: put_le(b, SAM_META_STR, 1); put_str(b, v->s); break;
        case SAM_VAL_REALS: /* refused by sam_blob_write */
            break;
        case SAM_VAL_LIST:
            put_le(b, SAM_META_LIST, 1);
            put_le(b, (uint64_t)v->n, 4);
            for (int k = 0; k < v->n; k++) put_le(b, (uint64_t)v->list[k], 8);
            break;
        }
    }
}

sam_status sam_blob_write(const char *path, const sam_params *meta, const sam_blob_entry *entries, int n,
                          sam_blob_fill_fn fill, void *ctx, sam_error *err)
{
    bytes head = {0};
    uint64_t *offsets = calloc((size_t)(n > 0 ? n : 1), sizeof *offsets);
    uint64_t data_size = 0;
    size_t max_bytes = 0;
    sam_status st = SAM_OK;
    if (!offsets) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < meta->count; i++)
        if (meta->values[i].type == SAM_VAL_REALS) {
            free(offsets);
            return sam_fail(err, SAM_ERR_INVALID_ARG, "blob metadata '%s': lists of reals cannot be stored", meta->names[i]);
        }
    for (int i = 0; i < n && st == SAM_OK; i++) {
        size_t len = strlen(entries[i].name);
        if (len == 0 || len >= SAM_BLOB_NAME_MAX) st = sam_fail(err, SAM_ERR_INVALID_ARG, "tensor name '%s' is empty or too long", entries[i].name);
        if (entries[i].ndim < 0 || entries[i].ndim > SAM_MAX_DIMS) st = sam_fail(err, SAM_ERR_INVALID_ARG, "tensor '%s' has too many dimensions", entries[i].name);
        uint64_t nbytes = (uint64_t)sam_shape_numel(entries[i].ndim, entries[i].shape) * sam_dtype_size(entries[i].dtype);
        offsets[i] = data_size;
        data_size = align_up(data_size + nbytes);
        if (nbytes > max_bytes) max_bytes = (size_t)nbytes;
    }
    if (st) {
        free(offsets);
        return st;
    }

    /* header is patched with data_offset and file_size once the table size is known */
    put(&head, SAM_BLOB_MAGIC, 8);
    put_le(&head, SAM_BLOB_VERSION, 4);
    put_le(&head, (uint64_t)meta->count, 4);
    put_le(&head, (uint64_t)n, 4);
    put_le(&head, SAM_BLOB_ALIGN, 4);
    put_le(&head, 0, 8);
    put_le(&head, 0, 8);
    while (head.len < SAM_BLOB_HEADER_SIZE) put_le(&head, 0, 1);
    encode_meta(&head, meta);
    for (int i = 0; i < n; i++) {
        const sam_blob_entry *e = &entries[i];
        put_str(&head, e->name);
        put_le(&head, (uint64_t)e->dtype, 1);
        put_le(&head, (uint64_t)e->ndim, 1);
        for (int d = 0; d < e->ndim; d++) put_le(&head, (uint64_t)e->shape[d], 8);
        put_le(&head, offsets[i], 8);
        put_le(&head, (uint64_t)sam_shape_numel(e->ndim, e->shape) * sam_dtype_size(e->dtype), 8);
    }
    uint64_t data_offset = align_up(head.len);
    while (!head.oom && head.len < data_offset) put_le(&head, 0, 1);
    if (head.oom) {
        free(head.buf);
        free(offsets);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < 8; i++) {
        head.buf[24 + i] = (uint8_t)(data_offset >> (8 * i));
        head.buf[32 + i] = (uint8_t)((data_offset + data_size) >> (8 * i));
    }

    void *buf = malloc(max_bytes + SAM_BLOB_ALIGN);
    sam_atomic_file a = {0};
    if (!buf) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory (need %zu bytes for the largest tensor)", max_bytes);
        goto done;
    }
    if ((st = sam_atomic_open(&a, path, err))) goto done;
    st = write_all(a.f, head.buf, head.len, path, err);
    static const uint8_t zeros[SAM_BLOB_ALIGN];
    uint64_t written = 0;
    for (int i = 0; i < n && st == SAM_OK; i++) {
        size_t nbytes = (size_t)sam_shape_numel(entries[i].ndim, entries[i].shape) * sam_dtype_size(entries[i].dtype);
        if ((st = write_all(a.f, zeros, (size_t)(offsets[i] - written), path, err))) break;
        if ((st = fill(ctx, i, buf, nbytes, err))) break;
        if ((st = write_all(a.f, buf, nbytes, path, err))) break;
        written = offsets[i] + nbytes;
    }
    if (st == SAM_OK) st = write_all(a.f, zeros, (size_t)(data_size - written), path, err);
    if (st == SAM_OK) st = sam_atomic_commit(&a, err);
    else sam_atomic_abandon(&a);
done:
    free(buf);
    free(head.buf);
    free(offsets);
    return st;
}
