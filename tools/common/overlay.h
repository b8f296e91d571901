/* The overlay image: the picture with each mask tinted in its own colour, mask outlines,
 * and the prompts drawn on top (green foreground points, red background points, boxes). */
#ifndef SAMRT_OVERLAY_H
#define SAMRT_OVERLAY_H

#include "samrt.h"

/* Distinct colours for mask i. */
void overlay_color(int i, uint8_t rgb[3]);
/* Tints one mask (w x h) into out in colour number `color`, outlined. */
void overlay_add_mask(uint8_t *out, int w, int h, const uint8_t *mask, int color);
/* Draws prompts (in image pixels) on out. */
void overlay_prompts(uint8_t *out, int width, int height, const sam_prompt *prompts, int n);

#endif
