#include "preprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

/* ---- PIL's Resample.c, bilinear filter, 8 bits per channel ---- */

enum { PRECISION_BITS = 32 - 8 - 2 };

static double bilinear_filter(double x)
{
    if (x < 0) x = -x;
    return x < 1 ? 1 - x : 0;
}

/* Per output index: first input index, tap count, and fixed-point weights (ksize each). */
typedef struct {
    int ksize;
    int *bounds; /* xmin, count */
    int *weights;
} resample_coeffs;

static int precompute_coeffs(int in_size, int out_size, resample_coeffs *c)
{
    double scale = (double)in_size / out_size, filterscale = scale < 1 ? 1 : scale;
    double support = 1.0 * filterscale;
    c->ksize = (int)ceil(support) * 2 + 1;
    c->bounds = malloc(sizeof(int) * 2 * (size_t)out_size);
    c->weights = calloc((size_t)out_size * c->ksize, sizeof(int));
    double *k = malloc(sizeof(double) * (size_t)c->ksize);
    if (!c->bounds || !c->weights || !k) {
        free(k);
        return 0;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale, ww = 0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            k[x] = bilinear_filter((x + xmin - center + 0.5) * ss);
            ww += k[x];
        }
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0 ? k[x] / ww : k[x];
            c->weights[xx * c->ksize + x] = (int)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
        }
        c->bounds[2 * xx] = xmin;
        c->bounds[2 * xx + 1] = xmax;
    }
    free(k);
    return 1;
}

static uint8_t clip8(int v)
{
    v >>= PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

sam_status sam_resize_rgb(const uint8_t *rgb, int in_w, int in_h, size_t stride, int out_w, int out_h, uint8_t *out, sam_error *err)
{
    if (out_w < 1 || out_h < 1 || in_w < 1 || in_h < 1) return sam_fail(err, SAM_ERR_INVALID_ARG, "resize of %dx%d to %dx%d", in_w, in_h, out_w, out_h);
    if (!stride) stride = (size_t)in_w * 3;
    resample_coeffs ch = {0}, cv = {0};
    uint8_t *tmp = NULL;
    sam_status st = SAM_OK;
    if (!precompute_coeffs(in_w, out_w, &ch) || !precompute_coeffs(in_h, out_h, &cv)) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory resizing");
        goto done;
    }
    /* horizontal pass over the rows the vertical pass reads, rounded to 8 bits */
    int y_first = cv.bounds[0], y_last = cv.bounds[2 * (out_h - 1)] + cv.bounds[2 * (out_h - 1) + 1];
    int rows = y_last - y_first;
    tmp = malloc((size_t)rows * out_w * 3);
    if (!tmp) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory resizing");
        goto done;
    }
    for (int y = 0; y < rows; y++) {
        const uint8_t *src = rgb + (size_t)(y + y_first) * stride;
        uint8_t *dst = tmp + (size_t)y * out_w * 3;
        for (int xx = 0; xx < out_w; xx++) {
            const int *k = ch.weights + xx * ch.ksize;
            int xmin = ch.bounds[2 * xx], n = ch.bounds[2 * xx + 1];
            for (int c = 0; c < 3; c++) {
                int ss = 1 << (PRECISION_BITS - 1);
                for (int x = 0; x < n; x++) ss += src[(xmin + x) * 3 + c] * k[x];
                dst[xx * 3 + c] = clip8(ss);
            }
        }
    }
    for (int yy = 0; yy < out_h; yy++) {
        const int *k = cv.weights + yy * cv.ksize;
        int ymin = cv.bounds[2 * yy] - y_first, n = cv.bounds[2 * yy + 1];
        uint8_t *dst = out + (size_t)yy * out_w * 3;
        for (int i = 0; i < out_w * 3; i++) {
            int ss = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < n; y++) ss += tmp[(size_t)(ymin + y) * out_w * 3 + i] * k[y];
            dst[i] = clip8(ss);
        }
    }
done:
    free(ch.bounds);
    free(ch.weights);
    free(cv.bounds);
    free(cv.weights);
    free(tmp);
    return st;
}

sam_status sam_image_resize(const sam_image *in, int width, int height, sam_image *out, sam_error *err)
{
    memset(out, 0, sizeof *out);
    if (width < 1 || height < 1 || width > SAM_IMAGE_MAX_SIDE || height > SAM_IMAGE_MAX_SIDE || (int64_t)width * height > SAM_IMAGE_MAX_PIXELS)
        return sam_fail(err, SAM_ERR_INVALID_ARG, "cannot resize to %dx%d", width, height);
    if (!(out->rgb = malloc((size_t)width * height * 3))) return sam_fail(err, SAM_ERR_NOMEM, "out of memory resizing to %dx%d", width, height);
    sam_status st = sam_resize_rgb(in->rgb, in->width, in->height, 0, width, height, out->rgb, err);
    if (st) {
        sam_image_free(out);
        return st;
    }
    out->width = width;
    out->height = height;
    return SAM_OK;
}

/* ---- torch's antialiased bilinear interpolation of a float image (SAM 2) ---- */

typedef struct {
    int first, count; /* input taps */
    float *w;         /* count weights, summing to 1 */
} aa_tap;

/* Per output index along an axis of n inputs and m outputs: the triangle filter widened
 * by the scale when shrinking (torch's _upsample_bilinear2d_aa, align_corners False). */
static aa_tap *aa_taps(int n, int m, float **storage)
{
    double s = (double)n / m, r = s > 1 ? s : 1;
    int most = (int)ceil(r) * 2 + 1;
    aa_tap *t = malloc(sizeof *t * (size_t)m);
    float *w = malloc(sizeof(float) * (size_t)m * (size_t)most);
    if (!t || !w) {
        free(t);
        free(w);
        return NULL;
    }
    for (int i = 0; i < m; i++) {
        double c = s * (i + 0.5);
        int lo = (int)(c - r + 0.5), hi = (int)(c + r + 0.5);
        if (lo < 0) lo = 0;
        if (hi > n) hi = n;
        double sum = 0;
        int count = hi - lo < most ? hi - lo : most;
        t[i].first = lo;
        t[i].count = count;
        t[i].w = w + (size_t)i * most;
        for (int j = 0; j < count; j++) {
            double v = 1 - fabs((lo + j - c + 0.5) / r);
            sum += v > 0 ? v : 0;
        }
        for (int j = 0; j < count; j++) {
            double v = 1 - fabs((lo + j - c + 0.5) / r);
            v = v > 0 ? v : 0;
            t[i].w[j] = (float)(sum > 0 ? v / sum : v);
        }
    }
    *storage = w;
    return t;
}

/* Each channel of the image as floats (pixel / divide), resized to size x size: the
 * width first, then the height. */
static sam_status resize_antialiased(const sam_task *t, const uint8_t *rgb, int w, int h, size_t stride, float *input, sam_error *err)
{
    int size = t->input_size;
    float *wstore = NULL, *hstore = NULL;
    aa_tap *tx = aa_taps(w, size, &wstore), *ty = aa_taps(h, size, &hstore);
    float *rows = malloc(sizeof(float) * (size_t)h * size * 3);
    sam_status st = SAM_OK;
    if (!tx || !ty || !rows || (size_t)w * 3 > stride) {
        st = tx && ty && rows ? sam_fail(err, SAM_ERR_INVALID_ARG, "bad image stride") : sam_fail(err, SAM_ERR_NOMEM, "out of memory resizing the image");
        goto done;
    }
    float value[256]; /* pixel / divide, the float image torch resizes: one division per level, not per tap */
    for (int v = 0; v < 256; v++) value[v] = (float)v / t->divide;
    for (int y = 0; y < h; y++) {
        const uint8_t *src = rgb + (size_t)y * stride;
        for (int x = 0; x < size; x++) {
            const aa_tap *k = &tx[x];
            const uint8_t *px = src + (size_t)k->first * 3;
            float acc[3] = {0, 0, 0};
            for (int j = 0; j < k->count; j++)
                for (int c = 0; c < 3; c++) acc[c] += k->w[j] * value[px[3 * j + c]];
            for (int c = 0; c < 3; c++) rows[((size_t)c * h + y) * size + x] = acc[c];
        }
    }
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < size; y++) {
            const aa_tap *k = &ty[y];
            float *out = input + ((size_t)c * size + y) * size;
            for (int x = 0; x < size; x++) out[x] = 0;
            for (int j = 0; j < k->count; j++) {
                const float *in = rows + ((size_t)c * h + k->first + j) * size;
                float wj = k->w[j];
                for (int x = 0; x < size; x++) out[x] += wj * in[x];
            }
            for (int x = 0; x < size; x++) out[x] = (out[x] - t->mean[c]) / t->std[c];
        }
done:
    free(tx);
    free(ty);
    free(wstore);
    free(hstore);
    free(rows);
    return st;
}

sam_status sam_preprocess(const sam_task *t, const uint8_t *rgb, int w, int h, size_t stride, float *input, int *in_h, int *in_w, sam_error *err)
{
    int size = t->input_size;
    if (!stride) stride = (size_t)w * 3;
    sam_task_input_shape(t, h, w, in_h, in_w);
    if (t->resample == SAM_RESAMPLE_ANTIALIAS_BILINEAR) {
        if (t->resize != SAM_RESIZE_SQUARE) return sam_fail(err, SAM_ERR_UNSUPPORTED, "antialiased resampling is implemented for the square resize only");
        return resize_antialiased(t, rgb, w, h, stride, input, err);
    }
    uint8_t *resized = malloc((size_t)*in_w * *in_h * 3);
    if (!resized) return sam_fail(err, SAM_ERR_NOMEM, "out of memory resizing the image");
    sam_status st = sam_resize_rgb(rgb, w, h, stride, *in_w, *in_h, resized, err);
    if (st == SAM_OK) {
        /* (pixel - mean) / std, zero padding at the bottom and right */
        memset(input, 0, sizeof(float) * 3 * (size_t)size * size);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < *in_h; y++)
                for (int x = 0; x < *in_w; x++) {
                    float v = (float)resized[((size_t)y * *in_w + x) * 3 + c];
                    if (t->divide != 1) v /= t->divide;
                    input[((size_t)c * size + y) * size + x] = (v - t->mean[c]) / t->std[c];
                }
    }
    free(resized);
    return st;
}
