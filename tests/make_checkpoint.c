/* Test aid: writes a sam-rt blob back out as a PyTorch checkpoint in torch.save's format
 * (zip of stored entries, 64-byte aligned, protocol-2 pickle of an OrderedDict of
 * _rebuild_tensor_v2 calls). With --views, 2-D tensors are stored transposed with
 * strides (1, rows) and each weight/bias pair shares one storage at an offset, so the
 * converter's handling of strides and storage offsets is exercised. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

typedef struct {
    char name[512];
    uint64_t offset, size;
} zentry;

static FILE *out;
static zentry *entries;
static int n_entries;

static void le(uint64_t v, int n)
{
    for (int i = 0; i < n; i++) fputc((int)(v >> (8 * i)) & 0xff, out);
}

/* One stored entry; the local header's extra field pads the data to 64 bytes as torch does. */
static void zip_add(const char *name, const void *data, uint64_t size)
{
    zentry *e = &entries[n_entries++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->offset = (uint64_t)ftell(out);
    e->size = size;
    size_t nl = strlen(name);
    uint64_t data_at = e->offset + 30 + nl + 4;
    uint64_t pad = (64 - data_at % 64) % 64;
    le(0x04034b50, 4); le(20, 2); le(0, 2); le(0, 2); le(0, 2); le(0, 2);
    le(0, 4); le(size, 4); le(size, 4); le(nl, 2); le(4 + pad, 2);
    fwrite(name, 1, nl, out);
    le(0x4246, 2); le(pad, 2);
    for (uint64_t i = 0; i < pad; i++) fputc('Z', out);
    fwrite(data, 1, size, out);
}

static void zip_finish(void)
{
    uint64_t cd = (uint64_t)ftell(out);
    for (int i = 0; i < n_entries; i++) {
        size_t nl = strlen(entries[i].name);
        le(0x02014b50, 4); le(20, 2); le(20, 2); le(0, 2); le(0, 2); le(0, 2); le(0, 2);
        le(0, 4); le(entries[i].size, 4); le(entries[i].size, 4); le(nl, 2); le(0, 2); le(0, 2);
        le(0, 2); le(0, 2); le(0, 4); le(entries[i].offset, 4);
        fwrite(entries[i].name, 1, nl, out);
    }
    uint64_t end = (uint64_t)ftell(out);
    le(0x06054b50, 4); le(0, 2); le(0, 2); le((uint64_t)n_entries, 2); le((uint64_t)n_entries, 2);
    le(end - cd, 4); le(cd, 4); le(0, 2);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: make_checkpoint BLOB OUT.pth ARCHIVE_NAME [--views]\n");
        return 2;
    }
    int views = argc > 4 && strcmp(argv[4], "--views") == 0;
    sam_model *m;
    sam_error err;
    if (sam_model_open_blob(argv[1], &m, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    /* the blob's table is sorted by name; torch's order is not needed for the format */
    out = fopen(argv[2], "wb");
    entries = calloc((size_t)m->n_weights + 8, sizeof *entries);
    if (!out || !entries) return 1;
    const char *arch = argv[3];
    pickle_buf pk = {0};
    pk_op(&pk, "\x80\x02" "ccollections\nOrderedDict\nq\x01)Rq\x02(");
    char zname[600];
    int n_storage = 0;
    for (int i = 0; i < m->n_weights; i++) {
        const sam_weight *w = &m->weights[i], *bias = NULL;
        size_t len = strlen(w->name);
        if (views && w->ndim == 1 && len > 5 && strcmp(w->name + len - 5, ".bias") == 0 && i + 1 < m->n_weights) {
            /* "x.bias" sorts just before "x.weight": put both on one storage, bias first */
            const sam_weight *next = &m->weights[i + 1];
            if (next->ndim == 1 && strlen(next->name) == len + 2 && strncmp(next->name, w->name, len - 4) == 0 &&
                strcmp(next->name + len - 4, "weight") == 0) {
                bias = w;
                w = next;
                i++;
            }
        }
        int64_t numel = (int64_t)(w->nbytes / 4), offset = 0;
        float *data = malloc(w->nbytes + (bias ? bias->nbytes : 0));
        int64_t stride[SAM_MAX_DIMS], s = 1;
        for (int d = w->ndim - 1; d >= 0; d--) {
            stride[d] = s;
            s *= w->shape[d];
        }
        if (views && w->ndim == 2 && w->shape[0] > 1 && w->shape[1] > 1) {
            int64_t r = w->shape[0], c = w->shape[1];
            for (int64_t y = 0; y < r; y++)
                for (int64_t x = 0; x < c; x++) data[x * r + y] = ((const float *)w->data)[y * c + x];
            stride[0] = 1;
            stride[1] = r;
        } else if (bias) {
            memcpy(data, bias->data, bias->nbytes);
            memcpy((char *)data + bias->nbytes, w->data, w->nbytes);
            offset = (int64_t)(bias->nbytes / 4);
        } else {
            memcpy(data, w->data, w->nbytes);
        }
        int64_t storage_numel = numel + offset;
        char key[32];
        snprintf(key, sizeof key, "%d", n_storage++);
        snprintf(zname, sizeof zname, "%s/data/%s", arch, key);
        zip_add(zname, data, (uint64_t)storage_numel * 4);
        free(data);
        /* the tensor, and for a pair also the bias on the same storage at offset 0 */
        for (int k = bias ? 0 : 1; k < 2; k++) {
            const sam_weight *t = k == 0 ? bias : w;
            pk_str(&pk, t->name);
            pk_op(&pk, "ctorch._utils\n_rebuild_tensor_v2\n((");
            pk_str(&pk, "storage");
            pk_op(&pk, "ctorch\nFloatStorage\n");
            pk_str(&pk, key);
            pk_str(&pk, "cpu");
            pk_int(&pk, storage_numel);
            pk_op(&pk, "tQ");
            pk_int(&pk, k == 0 ? 0 : offset);
            pk_op(&pk, "(");
            for (int d = 0; d < t->ndim; d++) pk_int(&pk, t->shape[d]);
            pk_op(&pk, "t(");
            for (int d = 0; d < t->ndim; d++) pk_int(&pk, k == 0 ? 1 : stride[d]);
            pk_op(&pk, "t\x89" "ccollections\nOrderedDict\n)RtR");
        }
    }
    pk_op(&pk, "u.");
    snprintf(zname, sizeof zname, "%s/data.pkl", arch);
    zip_add(zname, pk.b, pk.n);
    snprintf(zname, sizeof zname, "%s/version", arch);
    zip_add(zname, "3\n", 2);
    zip_finish();
    pk_free(&pk);
    free(entries);
    sam_model_free(m);
    return fclose(out) == 0 ? 0 : 1;
}
