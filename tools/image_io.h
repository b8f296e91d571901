/* Images in and out: JPEG (libjpeg-turbo, EXIF orientation applied as viewers do) and
 * PNG (libpng: gray, RGB, RGBA, palette, 16-bit) decoded to 8-bit RGB; PNG written
 * whole or not at all. */
#ifndef SAMRT_IMAGE_IO_H
#define SAMRT_IMAGE_IO_H

#include <stdint.h>

#include "samrt.h"

typedef struct sam_image {
    int width, height;
    uint8_t *rgb; /* height x width x 3, row-major */
} sam_image;

/* Refuses images wider or taller than this, or with more pixels than SAM_IMAGE_MAX_PIXELS. */
#define SAM_IMAGE_MAX_SIDE 32768
#define SAM_IMAGE_MAX_PIXELS ((int64_t)1 << 28)

sam_status sam_image_load(const char *path, sam_image *img, sam_error *err);
void sam_image_free(sam_image *img);
/* channels 1 (gray) or 3 (RGB) */
sam_status sam_png_write(const char *path, int width, int height, int channels, const uint8_t *pixels, sam_error *err);

#endif
