/* An image -> the encoder's input, exactly as the official code makes it: SAM's
 * ResizeLongestSide (PIL's bilinear on 8-bit RGB), normalization and zero padding, or
 * SAM 2's square resize of the float image (torch's antialiased bilinear), then
 * normalization. */
#ifndef SAMRT_PREPROCESS_H
#define SAMRT_PREPROCESS_H

#include <stdint.h>

#include "task.h"

/* input: 3 x size x size floats (NCHW); *in_h, *in_w: the image's extent in it. */
sam_status sam_preprocess(const sam_task *t, const uint8_t *rgb, int w, int h, size_t stride, float *input, int *in_h, int *in_w,
                          sam_error *err);

#endif
