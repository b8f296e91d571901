#include "rle.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

void sam_rle_free(sam_rle *r)
{
    if (!r) return;
    free(r->counts);
    r->counts = NULL;
    r->n_counts = 0;
}

/* room for `need` counts (b->oom when there is none) */
static int reserve(sam_rle_builder *b, int64_t need)
{
    if (b->oom) return 0;
    if (need <= b->cap) return 1;
    int64_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    uint32_t *c = cap <= INT_MAX ? realloc(b->counts, sizeof *c * (size_t)cap) : NULL;
    if (!c) {
        b->oom = 1;
        return 0;
    }
    b->counts = c;
    b->cap = (int)cap;
    return 1;
}

static void push(sam_rle_builder *b)
{
    if (reserve(b, (int64_t)b->n + 1)) b->counts[b->n++] = (uint32_t)b->len;
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

/* The bytes of a word where a 0/1 column changes value: m[i .. i+8) against m[i-1 .. i+7),
 * each differing byte a 1 in its lowest bit. Byte k of the word is m[i + k] read
 * little-endian; on a big-endian machine the bytes are swapped to match. */
static uint64_t changes8(const uint8_t *m)
{
    uint64_t a, b;
    memcpy(&a, m, 8);
    memcpy(&b, m - 1, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap64(a ^ b);
#else
    return a ^ b;
#endif
}

enum { SCAN_BATCH = 256 }; /* value changes found before their runs are stored */

/* The runs ending at the value changes pos[0 .. k): the builder's open run finished at the
 * first (the column's first run joins it), each later run at the next. *len: the open
 * run's pixels before *prev, the column position where the rest of it began. */
static void store_changes(sam_rle_builder *b, const int *pos, int k, uint64_t *len, int *prev)
{
    if (!k || !reserve(b, (int64_t)b->n + k)) return;
    uint32_t *counts = b->counts + b->n;
    uint64_t open = *len;
    int at = *prev;
    for (int i = 0; i < k; i++) {
        counts[i] = (uint32_t)(open + (uint64_t)(pos[i] - at));
        open = 0;
        at = pos[i];
    }
    b->n += k;
    *len = 0;
    *prev = at;
}

/* A column's runs from its value changes, found a word at a time: the runs of a ragged
 * mask (a few dozen pixels each) cost a word test per 8 pixels and a store each. */
void sam_rle_add_column_span(sam_rle_builder *b, const uint8_t *m, int n, int *first, int *last)
{
    if (first) *first = -1;
    if (last) *last = -1;
    if (n <= 0) return;
    uint8_t v = m[0];
    if (v != b->cur) { /* the column's first run opens a new one, as sam_rle_add does */
        push(b);
        b->cur = v;
        b->len = 0;
    }
    int pos[SCAN_BATCH + 32], k = 0, changes = 0, first_change = -1, prev = 0, i = 1;
    uint64_t len = b->len;
    for (; i + 32 <= n; i += 32) {
        uint64_t xs[4] = {changes8(m + i), changes8(m + i + 8), changes8(m + i + 16), changes8(m + i + 24)};
        if (!(xs[0] | xs[1] | xs[2] | xs[3])) continue;
        for (int w = 0; w < 4; w++)
            for (uint64_t x = xs[w]; x; x &= x - 1) pos[k++] = i + 8 * w + __builtin_ctzll(x) / 8;
        if (first_change < 0) first_change = pos[0];
        if (k >= SCAN_BATCH) {
            changes += k;
            store_changes(b, pos, k, &len, &prev);
            k = 0;
        }
    }
    /* k < SCAN_BATCH here, and the tail's at most 31 changes fit in pos */
    for (; i < n; i++)
        if (m[i] != m[i - 1]) {
            pos[k++] = i;
            if (first_change < 0) first_change = i;
        }
    changes += k;
    int last_change = k ? pos[k - 1] : prev;
    store_changes(b, pos, k, &len, &prev);
    uint8_t end = (uint8_t)(v ^ (changes & 1));
    b->cur = end;
    b->len = len + (uint64_t)(n - prev);
    /* the 1s run from the first pixel or the first change, to the last pixel or the last change */
    if (first) *first = v ? 0 : first_change;
    if (last) *last = end ? n - 1 : changes ? last_change - 1 : -1;
}

void sam_rle_add_column(sam_rle_builder *b, const uint8_t *m, int n)
{
    sam_rle_add_column_span(b, m, n, NULL, NULL);
}

/* more's first two runs join b's as any runs do; its later finished runs then follow b's
 * last one as they are, in one copy */
void sam_rle_add_builder(sam_rle_builder *b, const sam_rle_builder *more)
{
    if (more->oom) b->oom = 1;
    int i = 0;
    for (; i < more->n && i < 2; i++) sam_rle_add(b, (uint8_t)(i & 1), more->counts[i]);
    if (i < more->n) {
        push(b); /* b's open run (1s, more's second) is finished by more's third */
        int rest = more->n - i - 1;
        if (!reserve(b, (int64_t)b->n + rest)) return;
        memcpy(b->counts + b->n, more->counts + i, sizeof *b->counts * (size_t)rest);
        b->n += rest;
        b->cur = (uint8_t)((more->n - 1) & 1);
        b->len = more->counts[more->n - 1];
    }
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

/* pycocotools' string: each count (from the third on, less the count two before it) in
 * 5-bit groups, low first, 0x20 on every group but the last, 48 added. A group is the
 * last when what is left is its sign extension; that test is computed, not branched on:
 * a ragged mask's deltas change sign at random, and the branch cost three times the loop. */
char *sam_rle_to_coco(const sam_rle *r)
{
    char *s = malloc((size_t)r->n_counts * 7 + 1);
    if (!s) return NULL;
    char *p = s;
    for (int i = 0; i < r->n_counts; i++) {
        long x = (long)r->counts[i] - (i > 2 ? (long)r->counts[i - 2] : 0);
        for (;;) {
            long group = x & 0x1f;
            x >>= 5;
            int more = x != -((group >> 4) & 1);
            *p++ = (char)(group + (more << 5) + 48);
            if (!more) break;
        }
    }
    *p = 0;
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
