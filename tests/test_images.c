/* Image decoding: every PNG colour type to 8-bit RGB, JPEG with EXIF orientation applied
 * as viewers do, and clear errors for truncated, corrupt and absurdly large files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h> /* after stdio.h: it uses FILE and size_t */
#include <png.h>
#include <zlib.h>

#include "../task/image.h"
#include "../task/upscale.h"
#include "test_util.h"

static void write_png(const char *path, int w, int h, int color_type, int depth, const void *rows_data, int row_bytes, const png_color *palette, int n_palette)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    ck_assert(!setjmp(png_jmpbuf(png)));
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette) png_set_PLTE(png, info, palette, n_palette);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)rows_data + (size_t)y * row_bytes);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

static void expect_rgb(const char *path, int w, int h, const uint8_t *want)
{
    sam_image img;
    sam_error err = {0};
    ck_assert_msg(sam_image_load(path, &img, &err) == SAM_OK, "%s", err.msg);
    ck_assert_int_eq(img.width, w);
    ck_assert_int_eq(img.height, h);
    ck_assert_mem_eq(img.rgb, want, (size_t)w * h * 3);
    sam_image_free(&img);
}

START_TEST(test_png_color_types)
{
    const char *p = tmp_path("t.png");
    /* 2x1 images: a dark and a light pixel */
    const uint8_t gray[2] = {10, 200}, want_gray[6] = {10, 10, 10, 200, 200, 200};
    write_png(p, 2, 1, PNG_COLOR_TYPE_GRAY, 8, gray, 2, NULL, 0);
    expect_rgb(p, 2, 1, want_gray);
    const uint8_t ga[4] = {10, 0, 200, 128};
    write_png(p, 2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga, 4, NULL, 0);
    expect_rgb(p, 2, 1, want_gray); /* alpha dropped, as PIL's convert("RGB") */
    const uint8_t rgba[8] = {1, 2, 3, 0, 250, 251, 252, 255}, want_rgb[6] = {1, 2, 3, 250, 251, 252};
    write_png(p, 2, 1, PNG_COLOR_TYPE_RGBA, 8, rgba, 8, NULL, 0);
    expect_rgb(p, 2, 1, want_rgb);
    const uint8_t rgb16[12] = {0x01, 0xff, 0x02, 0x00, 0x03, 0x80, 0xfa, 0x10, 0xfb, 0x00, 0xfc, 0xff}; /* big-endian 16-bit */
    write_png(p, 2, 1, PNG_COLOR_TYPE_RGB, 16, rgb16, 12, NULL, 0);
    expect_rgb(p, 2, 1, want_rgb); /* high bytes */
    png_color pal[2] = {{1, 2, 3}, {250, 251, 252}};
    const uint8_t idx[2] = {0, 1};
    write_png(p, 2, 1, PNG_COLOR_TYPE_PALETTE, 8, idx, 2, pal, 2);
    expect_rgb(p, 2, 1, want_rgb);
    const uint8_t bits[1] = {0x40}; /* 1-bit gray: 0, 1 */
    const uint8_t want_bits[6] = {0, 0, 0, 255, 255, 255};
    write_png(p, 2, 1, PNG_COLOR_TYPE_GRAY, 1, bits, 1, NULL, 0);
    expect_rgb(p, 2, 1, want_bits);
}
END_TEST

static void write_jpeg(const char *path, int w, int h, const uint8_t *rgb, int orientation)
{
    FILE *f = fopen(path, "wb");
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    jpeg_start_compress(&c, TRUE);
    if (orientation) { /* a minimal little-endian TIFF with one IFD entry: Orientation */
        uint8_t exif[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, (uint8_t)orientation, 0, 0, 0, 0, 0, 0, 0};
        jpeg_write_marker(&c, JPEG_APP0 + 1, exif, sizeof exif);
    }
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

static int near(const uint8_t *px, int r, int g, int b)
{
    return abs(px[0] - r) < 24 && abs(px[1] - g) < 24 && abs(px[2] - b) < 24;
}

START_TEST(test_jpeg_orientation)
{
    enum { W = 32, H = 16 };
    uint8_t rgb[W * H * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) { /* left half red, right half blue */
            uint8_t *p = rgb + (y * W + x) * 3;
            p[0] = x < W / 2 ? 220 : 20;
            p[1] = 20;
            p[2] = x < W / 2 ? 20 : 220;
        }
    const char *path = tmp_path("t.jpg");
    sam_image img;
    sam_error err = {0};
    write_jpeg(path, W, H, rgb, 0);
    ck_assert_int_eq(sam_image_load(path, &img, &err), SAM_OK);
    ck_assert_int_eq(img.width, W);
    ck_assert(near(img.rgb + (8 * W + 4) * 3, 220, 20, 20));
    sam_image_free(&img);
    /* 6: shown rotated 90 degrees clockwise, so the left (red) half ends on top */
    write_jpeg(path, W, H, rgb, 6);
    ck_assert_int_eq(sam_image_load(path, &img, &err), SAM_OK);
    ck_assert_int_eq(img.width, H);
    ck_assert_int_eq(img.height, W);
    ck_assert(near(img.rgb + (4 * H + 8) * 3, 220, 20, 20));
    ck_assert(near(img.rgb + (28 * H + 8) * 3, 20, 20, 220));
    sam_image_free(&img);
    /* 3: upside down, so red is on the right */
    write_jpeg(path, W, H, rgb, 3);
    ck_assert_int_eq(sam_image_load(path, &img, &err), SAM_OK);
    ck_assert_int_eq(img.width, W);
    ck_assert(near(img.rgb + (8 * W + 28) * 3, 220, 20, 20));
    sam_image_free(&img);
}
END_TEST

START_TEST(test_bad_images)
{
    sam_image img;
    sam_error err = {0};
    const char *p = tmp_path("bad.png");
    const uint8_t gray[4] = {1, 2, 3, 4};
    write_png(p, 4, 1, PNG_COLOR_TYPE_GRAY, 8, gray, 4, NULL, 0);
    size_t len;
    FILE *f = fopen(p, "rb");
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(len);
    ck_assert_uint_eq(fread(b, 1, len, f), len);
    fclose(f);
    for (size_t cut = 8; cut < len; cut += 5) { /* every truncation: an error, never a crash */
        ck_assert(write_file(p, b, cut));
        ck_assert_int_ne(sam_image_load(p, &img, &err), SAM_OK);
    }
    /* an IHDR claiming 100000 x 100000 pixels */
    memcpy(b + 16, "\x00\x01\x86\xa0\x00\x01\x86\xa0", 8);
    uLong crc = crc32(0, b + 12, 17); /* IHDR's type and data */
    for (int k = 0; k < 4; k++) b[29 + k] = (uint8_t)(crc >> (24 - 8 * k));
    ck_assert(write_file(p, b, len));
    ck_assert_int_eq(sam_image_load(p, &img, &err), SAM_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "100000x100000 is not supported"));
    free(b);
    ck_assert(write_file(p, "GIF89a....", 10));
    ck_assert_int_eq(sam_image_load(p, &img, &err), SAM_ERR_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a JPEG or PNG"));
    ck_assert_int_eq(sam_image_load(tmp_path("missing.jpg"), &img, &err), SAM_ERR_IO);
    ck_assert(write_file(p, "\xff\xd8\xff\xe0garbage", 11));
    ck_assert_int_eq(sam_image_load(p, &img, &err), SAM_ERR_FORMAT);
}
END_TEST

/* The column-major upscale (and the row-major one, for masks alone) fills the pixels
 * whose low-res sources are all clearly on one side of each threshold: it must give
 * exactly what computing every pixel gives (mask, per-column counts, stability counts),
 * for both resize paths, thresholds at and away
 * from 0, offsets of either sign, flat regions of exact zeros, values on a threshold and
 * non-finite values. */
START_TEST(test_upscale_fills)
{
    enum { L = 32 };
    static const struct {
        sam_upscale_mode mode;
        int out_h, out_w;
        float thr, off;
    } cases[] = {{SAM_UPSCALE_VIA_INPUT, 75, 50, 0.0f, 0.0f}, {SAM_UPSCALE_VIA_INPUT, 75, 50, 0.0f, 1.0f}, {SAM_UPSCALE_DIRECT, 61, 97, 0.5f, -0.7f},
                 {SAM_UPSCALE_DIRECT, 200, 130, -2.0f, 1.0f}, {SAM_UPSCALE_VIA_INPUT, 31, 33, 1.0f, 0.25f}};
    float low[L * L];
    for (int r = 0; r < L; r++)
        for (int c = 0; c < L; c++) {
            float v = 12.0f * sinf(0.31f * (float)r + 0.5f) * cosf(0.23f * (float)c - 0.2f) + 3.0f * sinf(0.9f * (float)(r + c));
            low[r * L + c] = r < 6 && c < 6 ? 0.0f : v; /* a flat corner of exact zeros */
        }
    /* flat patches between two thresholds of a case (so filled pixels set the mask and the
     * stability counts differently), and one just past a threshold, within rounding of it */
    static const struct {
        int r0, c0;
        float v;
    } patches[] = {{26, 0, -0.5f}, {0, 26, 0.8f}, {26, 26, -2.5f}, {13, 0, 0.9f}, {13, 13, 0x1.000002p0f}};
    for (size_t p = 0; p < sizeof patches / sizeof *patches; p++)
        for (int r = patches[p].r0; r < patches[p].r0 + 6; r++)
            for (int c = patches[p].c0; c < patches[p].c0 + 6; c++) low[r * L + c] = patches[p].v;
    low[10 * L + 10] = 1.0f;       /* on a threshold */
    low[20 * L + 5] = NAN;         /* not finite */
    low[25 * L + 30] = INFINITY;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        sam_task t = {.input_size = 128, .low_res = L, .upscale = cases[k].mode};
        sam_upscaler u;
        sam_error err;
        ck_assert_int_eq(sam_upscaler_init(&u, &t, 96, 128, cases[k].out_h, cases[k].out_w, &err), SAM_OK);
        size_t pixels = (size_t)u.h * u.w;
        float *rows = malloc(sizeof(float) * sam_upscale_rows_floats(&u)), *ut = malloc(sizeof(float) * (size_t)L * u.h);
        uint8_t *mask[2] = {malloc(pixels), malloc(pixels)};
        int *on[2] = {malloc(sizeof(int) * (size_t)u.w), malloc(sizeof(int) * (size_t)u.w)};
        int64_t inter[2], uni[2];
        for (int fills = 0; fills < 2; fills++) {
            sam_upscale_fills = fills;
            sam_upscale_colmajor(&u, low, rows, ut, mask[fills], on[fills], cases[k].thr, cases[k].off, &inter[fills], &uni[fills]);
        }
        sam_upscale_fills = true;
        ck_assert_msg(memcmp(mask[0], mask[1], pixels) == 0, "case %zu: filled masks differ from computed ones", k);
        /* the row-major pass of the predictor, in bands of 16 rows (masks alone, at thr) */
        float *band_rows = malloc(sizeof(float) * (size_t)u.h * L);
        uint8_t *codes = malloc(sam_upscale_band_codes_bytes(&u)), *dense[2] = {malloc(pixels), malloc(pixels)};
        for (int fills = 0; fills < 2; fills++)
            for (int y0 = 0; y0 < u.h; y0 += 16)
                sam_upscale_band(&u, low, band_rows, fills ? codes : NULL, NULL, dense[fills], cases[k].thr, y0, y0 + 16 < u.h ? y0 + 16 : u.h);
        ck_assert_msg(memcmp(dense[0], dense[1], pixels) == 0, "case %zu: filled row-major masks differ from computed ones", k);
        size_t set = 0;
        for (size_t i = 0; i < pixels; i++) set += dense[1][i];
        ck_assert(set > 0 && set < pixels);
        free(band_rows), free(codes), free(dense[0]), free(dense[1]);
        ck_assert_msg(memcmp(on[0], on[1], sizeof(int) * (size_t)u.w) == 0, "case %zu: column counts differ", k);
        ck_assert_msg(inter[0] == inter[1] && uni[0] == uni[1], "case %zu: stability counts %lld/%lld, computed %lld/%lld", k, (long long)inter[1],
                      (long long)uni[1], (long long)inter[0], (long long)uni[0]);
        ck_assert(inter[0] > 0 && (size_t)uni[0] < pixels); /* the case has both sides */
        free(rows), free(ut), free(mask[0]), free(mask[1]), free(on[0]), free(on[1]);
        sam_upscaler_free(&u);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("images");
    TCase *tc = tcase_create("decode");
    tcase_add_test(tc, test_png_color_types);
    tcase_add_test(tc, test_jpeg_orientation);
    tcase_add_test(tc, test_bad_images);
    tcase_add_test(tc, test_upscale_fills);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
