#include "image.h"

#include <errno.h>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void sam_image_free(sam_image *img)
{
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
}

static sam_status check_size(const char *path, int64_t w, int64_t h, sam_error *err)
{
    if (w < 1 || h < 1 || w > SAM_IMAGE_MAX_SIDE || h > SAM_IMAGE_MAX_SIDE || w * h > SAM_IMAGE_MAX_PIXELS)
        return sam_fail(err, SAM_ERR_UNSUPPORTED, "%s: image size %lldx%lld is not supported (at most %d per side and %lld pixels)", path,
                        (long long)w, (long long)h, SAM_IMAGE_MAX_SIDE, (long long)SAM_IMAGE_MAX_PIXELS);
    return SAM_OK;
}

/* ---------------- JPEG ---------------- */

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    int truncated;
} jpeg_error;

static void jpeg_error_exit(j_common_ptr cinfo)
{
    jpeg_error *e = (jpeg_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

/* Warnings are not printed; a premature end of data (libjpeg pads with gray and goes
 * on) is remembered, because the picture is then incomplete. */
static void jpeg_note_warning(j_common_ptr cinfo, int level)
{
    jpeg_error *e = (jpeg_error *)cinfo->err;
    if (level < 0 && (cinfo->err->msg_code == JWRN_JPEG_EOF || cinfo->err->msg_code == JERR_INPUT_EOF)) e->truncated = 1;
}

/* EXIF orientation (1..8) from an APP1 marker, 1 when absent or unreadable. */
static int exif_orientation(const uint8_t *d, unsigned len)
{
    if (len < 14 || memcmp(d, "Exif\0\0", 6) != 0) return 1;
    const uint8_t *t = d + 6;
    unsigned n = len - 6;
    int le = t[0] == 'I';
    if (!(t[0] == 'I' && t[1] == 'I') && !(t[0] == 'M' && t[1] == 'M')) return 1;
#define RD16(p) (le ? (unsigned)((p)[0] | (p)[1] << 8) : (unsigned)((p)[0] << 8 | (p)[1]))
#define RD32(p) (le ? ((uint32_t)(p)[0] | (uint32_t)(p)[1] << 8 | (uint32_t)(p)[2] << 16 | (uint32_t)(p)[3] << 24) \
                    : ((uint32_t)(p)[0] << 24 | (uint32_t)(p)[1] << 16 | (uint32_t)(p)[2] << 8 | (uint32_t)(p)[3]))
    uint32_t ifd = RD32(t + 4);
    if (ifd > n - 2 || ifd < 8) return 1;
    unsigned count = RD16(t + ifd);
    for (unsigned i = 0; i < count; i++) {
        uint64_t e = (uint64_t)ifd + 2 + 12 * (uint64_t)i;
        if (e + 12 > n) return 1;
        if (RD16(t + e) == 0x0112) {
            unsigned v = RD16(t + e + 8);
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
#undef RD16
#undef RD32
    return 1;
}

/* Applies an EXIF orientation: the stored pixels are turned into what viewers show. */
static sam_status apply_orientation(sam_image *img, int orientation, sam_error *err)
{
    if (orientation <= 1) return SAM_OK;
    int w = img->width, h = img->height, swap = orientation >= 5;
    int ow = swap ? h : w, oh = swap ? w : h;
    uint8_t *out = malloc((size_t)w * h * 3);
    if (!out) return sam_fail(err, SAM_ERR_NOMEM, "out of memory rotating the image");
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            int sx, sy; /* source pixel of output (x, y) */
            switch (orientation) {
            case 2: sx = w - 1 - x; sy = y; break;
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;
            case 4: sx = x; sy = h - 1 - y; break;
            case 5: sx = y; sy = x; break;
            case 6: sx = y; sy = h - 1 - x; break;
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;
            default: sx = w - 1 - y; sy = x; break; /* 8 */
            }
            memcpy(out + ((size_t)y * ow + x) * 3, img->rgb + ((size_t)sy * w + sx) * 3, 3);
        }
    free(img->rgb);
    img->rgb = out;
    img->width = ow;
    img->height = oh;
    return SAM_OK;
}

static sam_status load_jpeg(const char *path, const uint8_t *data, size_t size, sam_image *img, sam_error *err)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_error jerr;
    volatile int orientation = 1;
    cinfo.err = jpeg_std_error(&jerr.mgr);
    jerr.mgr.error_exit = jpeg_error_exit;
    jerr.mgr.emit_message = jpeg_note_warning;
    jerr.truncated = 0;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        sam_image_free(img);
        return sam_fail(err, SAM_ERR_FORMAT, "%s: corrupt or truncated JPEG: %s", path, jerr.message);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(&cinfo, TRUE);
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && orientation == 1) orientation = exif_orientation(m->data, m->data_length);
    sam_status st = check_size(path, cinfo.image_width, cinfo.image_height, err);
    if (st == SAM_OK && (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK))
        st = sam_fail(err, SAM_ERR_UNSUPPORTED, "%s: CMYK JPEGs are not supported; convert the image to RGB", path);
    if (st) {
        jpeg_destroy_decompress(&cinfo);
        return st;
    }
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    img->width = (int)cinfo.output_width;
    img->height = (int)cinfo.output_height;
    img->rgb = malloc((size_t)img->width * img->height * 3);
    if (!img->rgb) {
        jpeg_destroy_decompress(&cinfo);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory decoding %s", path);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = img->rgb + (size_t)cinfo.output_scanline * img->width * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    if (jerr.truncated) {
        sam_image_free(img);
        return sam_fail(err, SAM_ERR_FORMAT, "%s: truncated JPEG (the data ends before the image does)", path);
    }
    return apply_orientation(img, orientation, err);
}

/* ---------------- PNG ---------------- */

static void png_error_fn(png_structp png, png_const_charp msg)
{
    char *buf = png_get_error_ptr(png);
    snprintf(buf, 200, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

typedef struct {
    const uint8_t *p;
    size_t size, pos;
} png_source;

static void png_read_mem(png_structp png, png_bytep out, size_t n)
{
    png_source *src = png_get_io_ptr(png);
    if (n > src->size - src->pos) png_error(png, "unexpected end of data");
    memcpy(out, src->p + src->pos, n);
    src->pos += n;
}

static sam_status load_png(const char *path, const uint8_t *data, size_t size, sam_image *img, sam_error *err)
{
    png_source src = {data, size, 0};
    char message[200] = "unknown error";
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, message, png_error_fn, png_warning_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t **volatile rows = NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, &info, NULL);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(rows);
        sam_image_free(img);
        return sam_fail(err, SAM_ERR_FORMAT, "%s: corrupt or truncated PNG: %s", path, message);
    }
    png_set_read_fn(png, &src, png_read_mem);
    png_set_user_limits(png, 1u << 30, 1u << 30); /* our own check below gives the clearer message */
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    sam_status st = check_size(path, w, h, err);
    if (st) {
        png_destroy_read_struct(&png, &info, NULL);
        return st;
    }
    int type = png_get_color_type(png, info);
    png_set_expand(png); /* palette -> RGB, low-bit gray -> 8 bits, tRNS -> alpha */
    png_set_strip_16(png);
    if (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_strip_alpha(png); /* as PIL's convert("RGB") and OpenCV do: alpha is dropped */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 3) png_error(png, "unexpected row layout after conversion");
    img->width = (int)w;
    img->height = (int)h;
    img->rgb = malloc((size_t)w * h * 3);
    rows = malloc(sizeof(uint8_t *) * h);
    if (!img->rgb || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = img->rgb + (size_t)y * w * 3;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    return SAM_OK;
}

sam_status sam_image_decode(const void *data, size_t size, const char *name, sam_image *img, sam_error *err)
{
    memset(img, 0, sizeof *img);
    const uint8_t *magic = data;
    if (!name) name = "image";
    if (size >= 3 && magic[0] == 0xff && magic[1] == 0xd8 && magic[2] == 0xff) return load_jpeg(name, data, size, img, err);
    if (size >= 8 && memcmp(magic, "\x89PNG\r\n\x1a\n", 8) == 0) return load_png(name, data, size, img, err);
    return sam_fail(err, SAM_ERR_UNSUPPORTED, "%s: not a JPEG or PNG image", name);
}

sam_status sam_image_load(const char *path, sam_image *img, sam_error *err)
{
    memset(img, 0, sizeof *img);
    FILE *f = fopen(path, "rb");
    if (!f) return sam_fail(err, SAM_ERR_IO, "cannot open image '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return sam_fail(err, SAM_ERR_IO, "image '%s' is not a regular file", path);
    }
    if (sb.st_size > SAM_IMAGE_MAX_FILE_BYTES) {
        fclose(f);
        return sam_fail(err, SAM_ERR_UNSUPPORTED, "%s: %lld bytes is too large for an image file (at most %lld)", path, (long long)sb.st_size,
                        (long long)SAM_IMAGE_MAX_FILE_BYTES);
    }
    size_t size = (size_t)sb.st_size;
    uint8_t *data = malloc(size ? size : 1);
    if (!data) {
        fclose(f);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory reading %s", path);
    }
    size_t got = fread(data, 1, size, f);
    fclose(f);
    sam_status st = got == size ? sam_image_decode(data, size, path, img, err) : sam_fail(err, SAM_ERR_IO, "cannot read image '%s'", path);
    free(data);
    return st;
}

sam_status sam_image_from_rgb(const uint8_t *rgb, int width, int height, size_t stride, sam_image *out, sam_error *err)
{
    memset(out, 0, sizeof *out);
    if (!rgb || width < 1 || height < 1 || width > SAM_IMAGE_MAX_SIDE || height > SAM_IMAGE_MAX_SIDE || (int64_t)width * height > SAM_IMAGE_MAX_PIXELS)
        return sam_fail(err, SAM_ERR_INVALID_ARG, "image size %dx%d is not supported (at most %d per side and %lld pixels)", width, height, SAM_IMAGE_MAX_SIDE,
                        (long long)SAM_IMAGE_MAX_PIXELS);
    size_t row = (size_t)width * 3;
    if (stride == 0) stride = row;
    if (stride < row) return sam_fail(err, SAM_ERR_INVALID_ARG, "image row stride %zu is less than 3 x width (%zu)", stride, row);
    if (!(out->rgb = malloc(row * (size_t)height))) return sam_fail(err, SAM_ERR_NOMEM, "out of memory copying a %dx%d image", width, height);
    for (int y = 0; y < height; y++) memcpy(out->rgb + row * (size_t)y, rgb + stride * (size_t)y, row);
    out->width = width;
    out->height = height;
    return SAM_OK;
}

typedef struct {
    uint8_t *p;
    size_t size, cap;
    int oom;
} png_sink;

static void png_write_mem(png_structp png, png_bytep data, size_t n)
{
    png_sink *k = png_get_io_ptr(png);
    if (k->oom) return;
    if (n > k->cap - k->size) {
        size_t cap = k->cap ? k->cap : 65536;
        while (cap - k->size < n) cap *= 2;
        uint8_t *q = realloc(k->p, cap);
        if (!q) {
            k->oom = 1;
            png_error(png, "out of memory");
        }
        k->p = q;
        k->cap = cap;
    }
    memcpy(k->p + k->size, data, n);
    k->size += n;
}

static void png_flush_mem(png_structp png)
{
    (void)png;
}

sam_status sam_png_encode(int width, int height, int channels, const uint8_t *pixels, void **out, size_t *size, sam_error *err)
{
    *out = NULL;
    *size = 0;
    if (width < 1 || height < 1 || (channels != 1 && channels != 3))
        return sam_fail(err, SAM_ERR_INVALID_ARG, "PNG of %dx%d pixels with %d channels (need 1 or 3)", width, height, channels);
    char message[200] = "unknown error";
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, message, png_error_fn, png_warning_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_sink sink = {0};
    sam_status st = SAM_OK;
    if (!png || !info) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    } else if (setjmp(png_jmpbuf(png))) {
        st = sam_fail(err, sink.oom ? SAM_ERR_NOMEM : SAM_ERR_IO, "encoding a PNG: %s", message);
    } else {
        png_set_write_fn(png, &sink, png_write_mem, png_flush_mem);
        png_set_compression_level(png, 1); /* masks and overlays: fast beats small */
        if (channels == 1) png_set_filter(png, 0, PNG_FILTER_NONE); /* flat 0/255 masks gain nothing from filters */
        png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        for (int y = 0; y < height; y++) png_write_row(png, pixels + (size_t)y * width * channels);
        png_write_end(png, NULL);
    }
    png_destroy_write_struct(&png, &info);
    if (st) {
        free(sink.p);
        return st;
    }
    *out = sink.p;
    *size = sink.size;
    return SAM_OK;
}

sam_status sam_png_write(const char *path, int width, int height, int channels, const uint8_t *pixels, sam_error *err)
{
    void *png;
    size_t size;
    sam_status st = sam_png_encode(width, height, channels, pixels, &png, &size, err);
    if (st) return sam_fail_context(err, "%s", path);
    st = sam_file_write(path, png, size, err);
    free(png);
    return st;
}
