/* SAM's image pre- and post-processing, exactly as the official code does it:
 * ResizeLongestSide (PIL's antialiased bilinear resize, as torchvision's resize of a PIL
 * image), normalization and zero padding, prompt coordinate scaling, and the bilinear
 * (align_corners=False) upscaling of low-res mask logits back to the original size. */
#ifndef SAMRT_PREPROCESS_H
#define SAMRT_PREPROCESS_H

#include <stdint.h>

#include "image_io.h"

/* The size of an h x w image whose longest side is scaled to `target`. */
void sam_resized_shape(int h, int w, int target, int *out_h, int *out_w);
/* PIL Image.resize(..., BILINEAR) on 8-bit RGB: fixed-point, horizontal pass first. */
sam_status sam_resize_rgb(const sam_image *in, int out_w, int out_h, sam_image *out, sam_error *err);
/* (pixel - mean) / std per channel, NCHW, zero-padded to size x size at the bottom/right. */
void sam_normalize_pad(const sam_image *img, int size, const float mean[3], const float std[3], float *out);
/* Original-image coordinates to the resized frame (apply_coords): double, then float. */
void sam_scale_coords(double x, double y, int orig_h, int orig_w, int in_h, int in_w, float *ox, float *oy);

/* Low-res logits (low x low) -> the padded input frame (input_size x input_size, of which
 * the in_h x in_w corner is the image) -> the original size, bilinear both times; writes
 * the logits (if logits != NULL) and/or the thresholded mask, logit > 0 (if mask != NULL). */
sam_status sam_postprocess_mask(const float *low_res, int low, int input_size, int in_h, int in_w, int out_h, int out_w, float *logits,
                                uint8_t *mask, sam_error *err);

#endif
