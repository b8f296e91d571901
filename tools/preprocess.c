#include "preprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sam_resized_shape(int h, int w, int target, int *out_h, int *out_w)
{
    double scale = target * 1.0 / (h > w ? h : w);
    *out_h = (int)(h * scale + 0.5);
    *out_w = (int)(w * scale + 0.5);
}

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

sam_status sam_resize_rgb(const sam_image *in, int out_w, int out_h, sam_image *out, sam_error *err)
{
    memset(out, 0, sizeof *out);
    if (out_w < 1 || out_h < 1) return sam_fail(err, SAM_ERR_INVALID_ARG, "resize to %dx%d", out_w, out_h);
    resample_coeffs ch = {0}, cv = {0};
    uint8_t *tmp = NULL;
    sam_status st = SAM_OK;
    if (!precompute_coeffs(in->width, out_w, &ch) || !precompute_coeffs(in->height, out_h, &cv)) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory resizing");
        goto done;
    }
    /* horizontal pass over the rows the vertical pass reads, rounded to 8 bits */
    int y_first = cv.bounds[0], y_last = cv.bounds[2 * (out_h - 1)] + cv.bounds[2 * (out_h - 1) + 1];
    int rows = y_last - y_first;
    tmp = malloc((size_t)rows * out_w * 3);
    out->rgb = malloc((size_t)out_w * out_h * 3);
    if (!tmp || !out->rgb) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory resizing");
        goto done;
    }
    for (int y = 0; y < rows; y++) {
        const uint8_t *src = in->rgb + (size_t)(y + y_first) * in->width * 3;
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
        uint8_t *dst = out->rgb + (size_t)yy * out_w * 3;
        for (int i = 0; i < out_w * 3; i++) {
            int ss = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < n; y++) ss += tmp[(size_t)(ymin + y) * out_w * 3 + i] * k[y];
            dst[i] = clip8(ss);
        }
    }
    out->width = out_w;
    out->height = out_h;
done:
    free(ch.bounds);
    free(ch.weights);
    free(cv.bounds);
    free(cv.weights);
    free(tmp);
    if (st) sam_image_free(out);
    return st;
}

void sam_normalize_pad(const sam_image *img, int size, const float mean[3], const float std[3], float *out)
{
    memset(out, 0, sizeof(float) * 3 * (size_t)size * size);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < img->height && y < size; y++)
            for (int x = 0; x < img->width && x < size; x++)
                out[((size_t)c * size + y) * size + x] = ((float)img->rgb[((size_t)y * img->width + x) * 3 + c] - mean[c]) / std[c];
}

void sam_scale_coords(double x, double y, int orig_h, int orig_w, int in_h, int in_w, float *ox, float *oy)
{
    *ox = (float)(x * ((double)in_w / orig_w));
    *oy = (float)(y * ((double)in_h / orig_h));
}

/* ---- bilinear, align_corners=False, as torch's upsample_bilinear2d (float math) ---- */

typedef struct {
    int i0, i1;
    float w0, w1;
} lerp;

static void lerp_table(int in_size, int out_size, lerp *t)
{
    float scale = (float)in_size / (float)out_size;
    for (int o = 0; o < out_size; o++) {
        float src = scale * ((float)o + 0.5f) - 0.5f;
        if (src < 0) src = 0;
        int i0 = (int)src;
        if (i0 > in_size - 1) i0 = in_size - 1;
        float l = src - (float)i0;
        l = l < 0 ? 0 : l > 1 ? 1 : l;
        t[o] = (lerp){i0, i0 < in_size - 1 ? i0 + 1 : i0, 1.0f - l, l};
    }
}

/* out (oh x ow) = bilinear resize of in (ih x iw, row stride ld) */
static void resize_bilinear(const float *in, int ih, int iw, int ld, int oh, int ow, float *out, lerp *ty, lerp *tx)
{
    lerp_table(ih, oh, ty);
    lerp_table(iw, ow, tx);
    for (int y = 0; y < oh; y++) {
        const float *r0 = in + (size_t)ty[y].i0 * ld, *r1 = in + (size_t)ty[y].i1 * ld;
        float wy0 = ty[y].w0, wy1 = ty[y].w1;
        float *o = out + (size_t)y * ow;
        for (int x = 0; x < ow; x++) {
            const lerp lx = tx[x];
            o[x] = wy0 * (lx.w0 * r0[lx.i0] + lx.w1 * r0[lx.i1]) + wy1 * (lx.w0 * r1[lx.i0] + lx.w1 * r1[lx.i1]);
        }
    }
}

sam_status sam_postprocess_mask(const float *low_res, int low, int input_size, int in_h, int in_w, int out_h, int out_w, float *logits,
                                uint8_t *mask, sam_error *err)
{
    int big = out_h > out_w ? out_h : out_w;
    if (input_size > big) big = input_size;
    lerp *ty = malloc(sizeof(lerp) * (size_t)big), *tx = malloc(sizeof(lerp) * (size_t)big);
    float *frame = malloc(sizeof(float) * (size_t)in_h * in_w); /* the image corner of the padded frame */
    float *full = logits ? logits : malloc(sizeof(float) * (size_t)out_h * out_w);
    sam_status st = SAM_OK;
    if (!ty || !tx || !frame || !full) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory upscaling a mask to %dx%d", out_w, out_h);
    } else {
        lerp_table(low, input_size, ty);
        lerp_table(low, input_size, tx);
        for (int y = 0; y < in_h; y++) {
            const float *r0 = low_res + (size_t)ty[y].i0 * low, *r1 = low_res + (size_t)ty[y].i1 * low;
            for (int x = 0; x < in_w; x++) {
                const lerp lx = tx[x];
                frame[(size_t)y * in_w + x] = ty[y].w0 * (lx.w0 * r0[lx.i0] + lx.w1 * r0[lx.i1]) + ty[y].w1 * (lx.w0 * r1[lx.i0] + lx.w1 * r1[lx.i1]);
            }
        }
        resize_bilinear(frame, in_h, in_w, in_w, out_h, out_w, full, ty, tx);
        if (mask)
            for (size_t i = 0; i < (size_t)out_h * out_w; i++) mask[i] = full[i] > 0.0f;
    }
    free(ty);
    free(tx);
    free(frame);
    if (full != logits) free(full);
    return st;
}
