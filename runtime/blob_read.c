/* Opens a weight blob: mmap, then validate every field before anything is used. */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob_format.h"
#include "model.h"

typedef struct {
    const uint8_t *p;
    size_t pos, end;
    const char *path;
    sam_error *err;
} reader;

static sam_status truncated(reader *r, const char *what)
{
    return sam_fail(r->err, SAM_ERR_FORMAT, "%s: truncated or corrupt blob: %s at byte %zu runs past the table end %zu",
                    r->path, what, r->pos, r->end);
}

static int need(reader *r, size_t n)
{
    return n <= r->end - r->pos;
}

static uint64_t rd_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static sam_status read_uint(reader *r, int n, uint64_t *v, const char *what)
{
    if (!need(r, (size_t)n)) return truncated(r, what);
    *v = rd_le(r->p + r->pos, n);
    r->pos += (size_t)n;
    return SAM_OK;
}

static sam_status read_string(reader *r, int len_bytes, char *buf, size_t cap, const char *what)
{
    uint64_t len = 0;
    sam_status st = read_uint(r, len_bytes, &len, what);
    if (st) return st;
    if (len == 0 || len >= cap) return sam_fail(r->err, SAM_ERR_FORMAT, "%s: %s of length %llu at byte %zu (must be 1..%zu)", r->path, what, (unsigned long long)len, r->pos, cap - 1);
    if (!need(r, len)) return truncated(r, what);
    memcpy(buf, r->p + r->pos, len);
    buf[len] = 0;
    if (strlen(buf) != len) return sam_fail(r->err, SAM_ERR_FORMAT, "%s: %s at byte %zu contains a NUL byte", r->path, what, r->pos);
    r->pos += len;
    return SAM_OK;
}

static sam_status read_meta(reader *r, sam_params *meta)
{
    char key[SAM_PARAM_NAME_MAX];
    sam_status st = read_string(r, 2, key, sizeof key, "metadata key");
    if (st) return st;
    uint64_t type = 0, v = 0;
    if ((st = read_uint(r, 1, &type, "metadata type"))) return st;
    if (sam_params_get(meta, key)) return sam_fail(r->err, SAM_ERR_FORMAT, "%s: metadata key '%s' appears twice", r->path, key);
    switch (type) {
    case SAM_META_INT:
        if ((st = read_uint(r, 8, &v, "metadata value"))) return st;
        return sam_params_set_int(meta, key, (int64_t)v, r->err);
    case SAM_META_FLOAT: {
        if ((st = read_uint(r, 8, &v, "metadata value"))) return st;
        double d;
        memcpy(&d, &v, sizeof d);
        return sam_params_set_float(meta, key, d, r->err);
    }
    case SAM_META_STR: {
        char s[SAM_VALUE_STR_MAX];
        if ((st = read_string(r, 2, s, sizeof s, "metadata string"))) return st;
        return sam_params_set_str(meta, key, s, r->err);
    }
    case SAM_META_LIST: {
        uint64_t n = 0;
        if ((st = read_uint(r, 4, &n, "metadata list length"))) return st;
        if (n > SAM_VALUE_LIST_MAX) return sam_fail(r->err, SAM_ERR_FORMAT, "%s: metadata list '%s' has %llu items (max %d)", r->path, key, (unsigned long long)n, SAM_VALUE_LIST_MAX);
        int64_t items[SAM_VALUE_LIST_MAX];
        for (uint64_t i = 0; i < n; i++) {
            if ((st = read_uint(r, 8, &v, "metadata list item"))) return st;
            items[i] = (int64_t)v;
        }
        return sam_params_set_list(meta, key, items, (int)n, r->err);
    }
    default:
        return sam_fail(r->err, SAM_ERR_FORMAT, "%s: metadata '%s' has unknown type %llu", r->path, key, (unsigned long long)type);
    }
}

static int cmp_weight(const void *a, const void *b)
{
    return strcmp(((const sam_weight *)a)->name, ((const sam_weight *)b)->name);
}

static sam_status read_tensor(reader *r, sam_weight *w, uint64_t data_offset, uint64_t file_size)
{
    char name[SAM_BLOB_NAME_MAX];
    sam_status st = read_string(r, 2, name, sizeof name, "tensor name");
    if (st) return st;
    uint64_t dtype = 0, ndim = 0, off = 0, nbytes = 0;
    if ((st = read_uint(r, 1, &dtype, "tensor dtype")) || (st = read_uint(r, 1, &ndim, "tensor rank"))) return st;
    if (dtype >= SAM_DTYPE_COUNT) return sam_fail(r->err, SAM_ERR_FORMAT, "%s: tensor '%s' has unknown dtype %llu", r->path, name, (unsigned long long)dtype);
    if (ndim > SAM_MAX_DIMS) return sam_fail(r->err, SAM_ERR_FORMAT, "%s: tensor '%s' has %llu dimensions (max %d)", r->path, name, (unsigned long long)ndim, SAM_MAX_DIMS);
    uint64_t numel = 1;
    for (uint64_t i = 0; i < ndim; i++) {
        uint64_t dim = 0;
        if ((st = read_uint(r, 8, &dim, "tensor dimension"))) return st;
        if (dim == 0 || dim > INT64_MAX || __builtin_mul_overflow(numel, dim, &numel))
            return sam_fail(r->err, SAM_ERR_FORMAT, "%s: tensor '%s' has an invalid dimension %llu", r->path, name, (unsigned long long)dim);
        w->shape[i] = (int64_t)dim;
    }
    if ((st = read_uint(r, 8, &off, "tensor offset")) || (st = read_uint(r, 8, &nbytes, "tensor size"))) return st;
    uint64_t expect;
    if (__builtin_mul_overflow(numel, (uint64_t)sam_dtype_size((sam_dtype)dtype), &expect) || expect != nbytes)
        return sam_fail(r->err, SAM_ERR_FORMAT, "%s: tensor '%s' records %llu bytes but its shape needs %llu", r->path, name, (unsigned long long)nbytes, (unsigned long long)expect);
    uint64_t begin, finish;
    if (off % SAM_BLOB_ALIGN) return sam_fail(r->err, SAM_ERR_FORMAT, "%s: tensor '%s' data offset %llu is not %u-byte aligned", r->path, name, (unsigned long long)off, SAM_BLOB_ALIGN);
    if (__builtin_add_overflow(data_offset, off, &begin) || __builtin_add_overflow(begin, nbytes, &finish) || finish > file_size)
        return sam_fail(r->err, SAM_ERR_FORMAT, "%s: tensor '%s' data (offset %llu, %llu bytes) lies past the end of the file (%llu bytes): truncated?", r->path, name,
                        (unsigned long long)off, (unsigned long long)nbytes, (unsigned long long)file_size);
    w->name = strdup(name);
    if (!w->name) return sam_fail(r->err, SAM_ERR_NOMEM, "out of memory");
    w->dtype = (sam_dtype)dtype;
    w->ndim = (int)ndim;
    w->nbytes = (size_t)nbytes;
    w->data = r->p + begin;
    return SAM_OK;
}

static sam_status parse_blob(sam_model *m, sam_error *err)
{
    const uint8_t *p = m->map;
    size_t size = m->map_size;
    if (size < SAM_BLOB_HEADER_SIZE || memcmp(p, SAM_BLOB_MAGIC, 8) != 0)
        return sam_fail(err, SAM_ERR_FORMAT, "%s: not a sam-rt weight blob (bad magic); convert checkpoints with sam-convert", m->path);
    uint32_t version = (uint32_t)rd_le(p + 8, 4), n_meta = (uint32_t)rd_le(p + 12, 4), n_tensors = (uint32_t)rd_le(p + 16, 4);
    uint32_t align = (uint32_t)rd_le(p + 20, 4);
    uint64_t data_offset = rd_le(p + 24, 8), file_size = rd_le(p + 32, 8);
    if (version != SAM_BLOB_VERSION) return sam_fail(err, SAM_ERR_UNSUPPORTED, "%s: blob version %u is not supported (this build reads version %u)", m->path, version, SAM_BLOB_VERSION);
    if (align != SAM_BLOB_ALIGN) return sam_fail(err, SAM_ERR_FORMAT, "%s: alignment %u is not %u", m->path, align, SAM_BLOB_ALIGN);
    if (file_size != size) return sam_fail(err, SAM_ERR_FORMAT, "%s: header says %llu bytes but the file has %zu: truncated or padded", m->path, (unsigned long long)file_size, size);
    if (data_offset < SAM_BLOB_HEADER_SIZE || data_offset > size || data_offset % SAM_BLOB_ALIGN)
        return sam_fail(err, SAM_ERR_FORMAT, "%s: bad data offset %llu", m->path, (unsigned long long)data_offset);
    if (n_meta > SAM_PARAM_MAX) return sam_fail(err, SAM_ERR_FORMAT, "%s: %u metadata entries (max %d)", m->path, n_meta, SAM_PARAM_MAX);
    if (n_tensors > 1000000) return sam_fail(err, SAM_ERR_FORMAT, "%s: implausible tensor count %u", m->path, n_tensors);
    reader r = {p, SAM_BLOB_HEADER_SIZE, (size_t)data_offset, m->path, err};
    sam_status st;
    for (uint32_t i = 0; i < n_meta; i++)
        if ((st = read_meta(&r, &m->meta))) return st;
    m->weights = calloc(n_tensors ? n_tensors : 1, sizeof *m->weights);
    if (!m->weights) return sam_fail(err, SAM_ERR_NOMEM, "out of memory reading %s", m->path);
    for (uint32_t i = 0; i < n_tensors; i++) {
        if ((st = read_tensor(&r, &m->weights[i], data_offset, file_size))) return st;
        m->n_weights++;
    }
    qsort(m->weights, (size_t)m->n_weights, sizeof *m->weights, cmp_weight);
    for (int i = 1; i < m->n_weights; i++)
        if (strcmp(m->weights[i - 1].name, m->weights[i].name) == 0)
            return sam_fail(err, SAM_ERR_FORMAT, "%s: tensor '%s' appears twice", m->path, m->weights[i].name);
    return SAM_OK;
}

sam_status sam_model_open_blob(const char *path, sam_model **out, sam_error *err)
{
    *out = NULL;
    sam_model *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sam_fail(err, SAM_ERR_IO, "cannot open model '%s': %s", path, strerror(errno));
        sam_model_free(m);
        return SAM_ERR_IO;
    }
    struct stat stt;
    sam_status st = SAM_OK;
    if (fstat(fd, &stt) != 0 || !S_ISREG(stt.st_mode)) {
        st = sam_fail(err, SAM_ERR_IO, "model '%s' is not a regular file", path);
    } else if (stt.st_size < (off_t)SAM_BLOB_HEADER_SIZE) {
        st = sam_fail(err, SAM_ERR_FORMAT, "%s: file is too small (%lld bytes) to be a sam-rt weight blob", path, (long long)stt.st_size);
    } else {
        m->map_size = (size_t)stt.st_size;
        m->map = mmap(NULL, m->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m->map == MAP_FAILED) {
            m->map = NULL;
            st = sam_fail(err, SAM_ERR_IO, "cannot mmap '%s': %s", path, strerror(errno));
        }
    }
    close(fd);
    if (st == SAM_OK) st = parse_blob(m, err);
    if (st) {
        sam_model_free(m);
        return st;
    }
    const sam_value *family = sam_params_get(&m->meta, "family"), *variant = sam_params_get(&m->meta, "variant");
    snprintf(m->family, sizeof m->family, "%s", family && family->type == SAM_VAL_STR ? family->s : "sam");
    snprintf(m->variant, sizeof m->variant, "%s", variant && variant->type == SAM_VAL_STR ? variant->s : "custom");
    m->fingerprint = sam_model_fingerprint(m);
    *out = m;
    return SAM_OK;
}

void sam_model_free(sam_model *m)
{
    if (!m) return;
    free(m->config);
    for (int i = 0; i < m->n_weights; i++) free(m->weights[i].name);
    free(m->weights);
    if (m->map) munmap(m->map, m->map_size);
    free(m->path);
    free(m);
}

const sam_weight *sam_model_weight(const sam_model *m, const char *name)
{
    sam_weight key = {.name = (char *)name};
    return bsearch(&key, m->weights, (size_t)m->n_weights, sizeof key, cmp_weight);
}

uint64_t sam_model_fingerprint(const sam_model *m)
{
    /* FNV-1a over the header and tables, plus 4 KiB at 64 places in the data: tells
     * models apart (variants, seeds, fine-tunes) without reading gigabytes */
    const uint8_t *p = m->map;
    size_t head = m->n_weights ? (size_t)((const uint8_t *)m->weights[0].data - p) : m->map_size;
    for (int i = 0; i < m->n_weights; i++)
        if ((size_t)((const uint8_t *)m->weights[i].data - p) < head) head = (size_t)((const uint8_t *)m->weights[i].data - p);
    uint64_t h = sam_hash_bytes(SAM_HASH_INIT, p, head < m->map_size ? head : m->map_size);
    for (int k = 0; k < 64 && m->map_size > head + 4096; k++) h = sam_hash_bytes(h, p + head + (m->map_size - head - 4096) / 64 * (size_t)k, 4096);
    return h;
}
