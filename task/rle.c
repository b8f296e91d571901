#include "rle.h"

#include <stdlib.h>
#include <string.h>

void sam_rle_free(sam_rle *r)
{
    if (!r) return;
    free(r->counts);
    r->counts = NULL;
    r->n_counts = 0;
}

static void push(sam_rle_builder *b)
{
    if (b->oom) return;
    if (b->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 64;
        uint32_t *c = realloc(b->counts, sizeof *c * (size_t)cap);
        if (!c) {
            b->oom = 1;
            return;
        }
        b->counts = c;
        b->cap = cap;
    }
    b->counts[b->n++] = (uint32_t)b->len;
}

void sam_rle_add(sam_rle_builder *b, uint8_t v, uint64_t count)
{
    if (!count) return;
    if (v != b->cur) {
        push(b);
        b->cur = v;
        b->len = 0;
    }
    b->len += count;
}

/* runs of a 0/1 column, found with memchr (vectorized in libc) */
void sam_rle_add_column(sam_rle_builder *b, const uint8_t *m, int n)
{
    const uint8_t *p = m, *end = m + n;
    while (p < end) {
        uint8_t v = *p;
        const uint8_t *q = memchr(p, v ^ 1, (size_t)(end - p));
        if (!q) q = end;
        sam_rle_add(b, v, (uint64_t)(q - p));
        p = q;
    }
}

void sam_rle_add_builder(sam_rle_builder *b, const sam_rle_builder *more)
{
    if (more->oom) b->oom = 1;
    for (int i = 0; i < more->n; i++) sam_rle_add(b, (uint8_t)(i & 1), more->counts[i]);
    sam_rle_add(b, more->cur, more->len);
}

sam_status sam_rle_finish(sam_rle_builder *b, int h, int w, sam_rle *out, sam_error *err)
{
    push(b);
    if (b->oom) {
        free(b->counts);
        memset(b, 0, sizeof *b);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory encoding a mask");
    }
    out->height = h;
    out->width = w;
    out->n_counts = b->n;
    out->counts = b->counts;
    memset(b, 0, sizeof *b);
    return SAM_OK;
}

sam_status sam_rle_uncrop(const uint8_t *mask_cm, const int *on, const int crop[4], int H, int W, sam_rle *out, sam_error *err)
{
    sam_rle_builder b = {0};
    int ch = crop[3] - crop[1];
    sam_rle_add(&b, 0, (uint64_t)crop[0] * H);
    for (int x = crop[0]; x < crop[2]; x++) {
        if (on && !on[x - crop[0]]) {
            sam_rle_add(&b, 0, (uint64_t)H);
            continue;
        }
        sam_rle_add(&b, 0, (uint64_t)crop[1]);
        sam_rle_add_column(&b, mask_cm + (size_t)(x - crop[0]) * ch, ch);
        sam_rle_add(&b, 0, (uint64_t)(H - crop[3]));
    }
    sam_rle_add(&b, 0, (uint64_t)(W - crop[2]) * H);
    return sam_rle_finish(&b, H, W, out, err);
}

sam_status sam_rle_from_colmajor(const uint8_t *mask_cm, int h, int w, sam_rle *out, sam_error *err)
{
    int crop[4] = {0, 0, w, h};
    return sam_rle_uncrop(mask_cm, NULL, crop, h, w, out, err);
}

sam_status sam_rle_encode(const uint8_t *mask, int h, int w, sam_rle *out, sam_error *err)
{
    enum { BLOCK = 64 }; /* columns transposed at a time: rows are read contiguously */
    memset(out, 0, sizeof *out);
    if (h < 1 || w < 1) return sam_fail(err, SAM_ERR_INVALID_ARG, "mask size %dx%d", w, h);
    uint8_t *cols = malloc((size_t)h * BLOCK);
    if (!cols) return sam_fail(err, SAM_ERR_NOMEM, "out of memory encoding a mask");
    sam_rle_builder b = {0};
    for (int x0 = 0; x0 < w; x0 += BLOCK) {
        int n = w - x0 < BLOCK ? w - x0 : BLOCK;
        for (int y = 0; y < h; y++) {
            const uint8_t *row = mask + (size_t)y * w + x0;
            for (int k = 0; k < n; k++) cols[(size_t)k * h + y] = row[k] != 0;
        }
        for (int k = 0; k < n; k++) sam_rle_add_column(&b, cols + (size_t)k * h, h);
    }
    free(cols);
    return sam_rle_finish(&b, h, w, out, err);
}

void sam_rle_decode(const sam_rle *r, uint8_t *mask)
{
    size_t total = (size_t)r->height * r->width, idx = 0;
    memset(mask, 0, total);
    for (int i = 0; i < r->n_counts && idx < total; i++) {
        size_t count = r->counts[i] < total - idx ? r->counts[i] : total - idx;
        if (i & 1) { /* a run of ones, walking down the columns */
            size_t x = idx / (size_t)r->height, y = idx % (size_t)r->height;
            for (size_t k = 0; k < count; k++) {
                mask[y * r->width + x] = 1;
                if (++y == (size_t)r->height) {
                    y = 0;
                    x++;
                }
            }
        }
        idx += count;
    }
}

int64_t sam_rle_area(const sam_rle *r)
{
    int64_t a = 0;
    for (int i = 1; i < r->n_counts; i += 2) a += r->counts[i];
    return a;
}

char *sam_rle_to_coco(const sam_rle *r)
{
    char *s = malloc((size_t)r->n_counts * 7 + 1);
    if (!s) return NULL;
    size_t p = 0;
    for (int i = 0; i < r->n_counts; i++) {
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

sam_status sam_rle_from_coco(const char *s, int h, int w, sam_rle *out, sam_error *err)
{
    memset(out, 0, sizeof *out);
    if (h < 0 || w < 0) return sam_fail(err, SAM_ERR_INVALID_ARG, "mask size %dx%d", w, h);
    size_t len = strlen(s);
    out->height = h;
    out->width = w;
    out->counts = malloc(sizeof(uint32_t) * (len + 1));
    if (!out->counts) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    size_t p = 0;
    int64_t total = 0;
    while (p < len) {
        long x = 0;
        int k = 0, more = 1;
        while (more) {
            if (p >= len || k > 12) {
                sam_rle_free(out);
                return sam_fail(err, SAM_ERR_FORMAT, "malformed COCO RLE string");
            }
            long c = (long)s[p] - 48;
            if (c < 0 || c > 63) {
                sam_rle_free(out);
                return sam_fail(err, SAM_ERR_FORMAT, "malformed COCO RLE string: character %d", s[p]);
            }
            x |= (c & 0x1f) << (5 * k);
            more = (int)(c & 0x20);
            p++;
            k++;
            if (!more && (c & 0x10)) x |= (long)(~0UL << (5 * k)); /* sign-extend */
        }
        if (out->n_counts > 2) x += (long)out->counts[out->n_counts - 2];
        if (x < 0 || x > (long)h * w || (total += x) > (int64_t)h * w) {
            sam_rle_free(out);
            return sam_fail(err, SAM_ERR_FORMAT, "malformed COCO RLE string: runs past the %dx%d mask", w, h);
        }
        out->counts[out->n_counts++] = (uint32_t)x;
    }
    return SAM_OK;
}

int64_t sam_rle_stats(const sam_rle *r, int box[4])
{
    int64_t h = r->height, pos = 0, area = 0, x0 = INT64_MAX, y0 = INT64_MAX, x1 = -1, y1 = -1;
    for (int i = 0; i < r->n_counts; pos += r->counts[i], i++) {
        if (!(i & 1) || r->counts[i] == 0) continue;
        int64_t first = pos, last = pos + r->counts[i] - 1, xa = first / h, xb = last / h;
        area += r->counts[i];
        x0 = xa < x0 ? xa : x0;
        x1 = xb > x1 ? xb : x1;
        int64_t ya = xa == xb ? first % h : 0, yb = xa == xb ? last % h : h - 1; /* a run past a column's end covers rows 0 and h - 1 */
        y0 = ya < y0 ? ya : y0;
        y1 = yb > y1 ? yb : y1;
    }
    if (box) {
        if (x1 < 0) box[0] = box[1] = box[2] = box[3] = 0;
        else box[0] = (int)x0, box[1] = (int)y0, box[2] = (int)x1, box[3] = (int)y1;
    }
    return area;
}

int64_t sam_mask_stats(const uint8_t *mask, int h, int w, int box[4])
{
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    int64_t area = 0;
    for (int y = 0; y < h; y++) {
        const uint8_t *row = mask + (size_t)y * w;
        int n = 0;
#pragma omp simd reduction(+ : n)
        for (int x = 0; x < w; x++) n += row[x] != 0;
        if (!n) continue;
        int first = 0, last = w - 1;
        while (!row[first]) first++;
        while (!row[last]) last--;
        area += n;
        if (first < x0) x0 = first;
        if (last > x1) x1 = last;
        if (y < y0) y0 = y;
        y1 = y;
    }
    if (box) {
        if (x1 < 0) box[0] = box[1] = box[2] = box[3] = 0;
        else box[0] = x0, box[1] = y0, box[2] = x1, box[3] = y1;
    }
    return area;
}
