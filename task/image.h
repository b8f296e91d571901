/* Images in and out (sam_image_* in samrt.h): JPEG via libjpeg-turbo with EXIF
 * orientation applied as viewers do, PNG via libpng, and PIL's bilinear resize. */
#ifndef SAMRT_IMAGE_H
#define SAMRT_IMAGE_H

#include <stdint.h>

#include "../runtime/status.h"

/* Limits of what is decoded (sam_image_load refuses more). */
#define SAM_IMAGE_MAX_SIDE 32768
#define SAM_IMAGE_MAX_PIXELS ((int64_t)1 << 28)
#define SAM_IMAGE_MAX_FILE_BYTES ((int64_t)1 << 30)

/* PIL Image.resize(..., BILINEAR) of w x h RGB pixels with rows `stride` bytes apart
 * into out_w x out_h (out: out_h * out_w * 3 bytes, caller's). */
sam_status sam_resize_rgb(const uint8_t *rgb, int w, int h, size_t stride, int out_w, int out_h, uint8_t *out, sam_error *err);

#endif
