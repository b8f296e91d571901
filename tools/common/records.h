/* The generator's records as JSON, as the official scripts/amg.py writes them (a list of
 * {segmentation, area, bbox, predicted_iou, point_coords, stability_score, crop_box}),
 * with the segmentation in one of SamAutomaticMaskGenerator's output modes. */
#ifndef SAMRT_RECORDS_H
#define SAMRT_RECORDS_H

#include <stdint.h>
#include <stdio.h>

#include "samrt.h"

enum { OUTPUT_BINARY_MASK, OUTPUT_UNCOMPRESSED_RLE, OUTPUT_COCO_RLE };

/* buf: height x width bytes of scratch (binary_mask mode only). */
void records_write(FILE *f, const sam_amg_result *r, int mode, uint8_t *buf);

#endif
