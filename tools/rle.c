#include "rle.h"

#include <stdlib.h>
#include <string.h>

void rle_free(sam_rle *r)
{
    if (!r) return;
    free(r->counts);
    r->counts = NULL;
    r->n = 0;
}

sam_status rle_from_colmajor(const uint8_t *m, int h, int w, sam_rle *out, sam_error *err)
{
    size_t total = (size_t)h * w, runs = 1;
    for (size_t i = 1; i < total; i++) runs += (m[i] != 0) != (m[i - 1] != 0);
    out->h = h;
    out->w = w;
    out->counts = malloc(sizeof(uint32_t) * (runs + 2));
    if (!out->counts) return sam_fail(err, SAM_ERR_NOMEM, "out of memory encoding a mask");
    int n = 0;
    uint8_t cur = 0;
    uint32_t len = 0;
    for (size_t i = 0; i < total; i++) {
        uint8_t v = m[i] != 0;
        if (v != cur) {
            out->counts[n++] = len;
            len = 0;
            cur = v;
        }
        len++;
    }
    out->counts[n++] = len;
    out->n = n;
    return SAM_OK;
}

void rle_to_mask(const sam_rle *r, uint8_t *mask)
{
    size_t total = (size_t)r->h * r->w, idx = 0;
    memset(mask, 0, total);
    for (int i = 0; i < r->n && idx < total; i++) {
        size_t count = r->counts[i] < total - idx ? r->counts[i] : total - idx;
        if (i & 1) { /* a run of ones, walking down the columns */
            size_t x = idx / (size_t)r->h, y = idx % (size_t)r->h;
            for (size_t k = 0; k < count; k++) {
                mask[y * r->w + x] = 1;
                if (++y == (size_t)r->h) {
                    y = 0;
                    x++;
                }
            }
        }
        idx += count;
    }
}

int64_t rle_area(const sam_rle *r)
{
    int64_t a = 0;
    for (int i = 1; i < r->n; i += 2) a += r->counts[i];
    return a;
}

char *rle_to_coco_string(const sam_rle *r)
{
    char *s = malloc((size_t)r->n * 7 + 1);
    if (!s) return NULL;
    size_t p = 0;
    for (int i = 0; i < r->n; i++) {
        long x = (long)r->counts[i];
        if (i > 2) x -= (long)r->counts[i - 2];
        int more = 1;
        while (more) {
            long c = x & 0x1f;
            x >>= 5;
            more = (c & 0x10) ? x != -1 : x != 0;
            if (more) c |= 0x20;
            s[p++] = (char)(c + 48);
        }
    }
    s[p] = 0;
    return s;
}

sam_status rle_from_coco_string(const char *s, int h, int w, sam_rle *out, sam_error *err)
{
    size_t len = strlen(s);
    out->h = h;
    out->w = w;
    out->n = 0;
    out->counts = malloc(sizeof(uint32_t) * (len + 1));
    if (!out->counts) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    size_t p = 0;
    while (p < len) {
        long x = 0;
        int k = 0, more = 1;
        while (more) {
            if (p >= len || k > 60) {
                rle_free(out);
                return sam_fail(err, SAM_ERR_FORMAT, "malformed COCO RLE string");
            }
            long c = (long)s[p] - 48;
            x |= (c & 0x1f) << (5 * k);
            more = (int)(c & 0x20);
            p++;
            k++;
            if (!more && (c & 0x10)) x |= (long)(~0UL << (5 * k)); /* sign-extend */
        }
        if (out->n > 2) x += (long)out->counts[out->n - 2];
        if (x < 0 || x > (long)h * w) {
            rle_free(out);
            return sam_fail(err, SAM_ERR_FORMAT, "malformed COCO RLE string");
        }
        out->counts[out->n++] = (uint32_t)x;
    }
    return SAM_OK;
}
