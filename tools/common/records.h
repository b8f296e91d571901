/* The generator's records as JSON, as the official scripts/amg.py writes them (a list of
 * {segmentation, area, bbox, predicted_iou, point_coords, stability_score, crop_box}),
 * with the segmentation in one of SamAutomaticMaskGenerator's output modes. */
#ifndef SAMRT_RECORDS_H
#define SAMRT_RECORDS_H

#include <stdint.h>
#include <stdio.h>

#include "samrt.h"

enum { OUTPUT_BINARY_MASK, OUTPUT_UNCOMPRESSED_RLE, OUTPUT_COCO_RLE };

/* Past this a records file is refused (binary_mask JSON of one AMG run can be gigabytes:
 * 6 bytes a pixel a mask); the RLE modes are a few hundred bytes a mask. */
#define RECORDS_MAX_BYTES (1ULL << 30)

/* At least how many bytes records_write would write (exact to within the fixed fields). */
uint64_t records_size_estimate(const sam_amg_result *r, int mode);
/* SAM_ERR_INVALID_ARG with a message naming `what` and the RLE modes when the estimate is
 * over RECORDS_MAX_BYTES. */
sam_status records_check_size(const sam_amg_result *r, int mode, const char *what, sam_error *err);

/* buf: height x width bytes of scratch (binary_mask mode only). */
void records_write(FILE *f, const sam_amg_result *r, int mode, uint8_t *buf);

#endif
