/* sam-run --auto: automatic mask generation on one or more images, with the outputs of
 * the official scripts/amg.py. */
#ifndef SAMRT_AUTO_H
#define SAMRT_AUTO_H

#include "amg.h"

enum { OUTPUT_BINARY_MASK, OUTPUT_UNCOMPRESSED_RLE, OUTPUT_COCO_RLE };

typedef struct auto_options {
    const char *model, *config;
    int oracle; /* the golden data's synthetic predictor instead of a model */
    const char **images;
    int n_images;
    const char *out_dir, *json_path, *point_grids;
    int output_mode;
    amg_options amg;
    int threads, profile, no_fuse;
} auto_options;

/* Returns the exit status (0, 1, or 2 for bad arguments found late, like an empty directory). */
int auto_run(const auto_options *o);

#endif
