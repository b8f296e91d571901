/* The segmentation job of sam-run: one image, its prompts, and every output. */
#ifndef SAMRT_SEGMENT_H
#define SAMRT_SEGMENT_H

#include "prompts.h"

typedef struct segment_options {
    const char *model, *config, *image;
    prompt_set *prompts;
    int multimask;
    const char *out_dir, *json_path, *save_logits, *save_masks, *embedding;
    double input_percent; /* (0, 100] */
    int threads, profile, no_fuse;
} segment_options;

/* Runs the job, printing progress and errors to stderr; returns the exit status
 * (0 done, 1 failed, 2 bad prompts). Outputs are written all or none. */
int segment_run(const segment_options *o);

#endif
