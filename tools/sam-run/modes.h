/* sam-run's three jobs, each a function over the parsed command line: running a graph on
 * .npy tensors, segmenting an image from prompts, and segmenting everything. Each
 * prints progress and errors to stderr and returns the exit status (0 done, 1 failed,
 * 2 bad arguments found late). */
#ifndef SAMRT_RUN_MODES_H
#define SAMRT_RUN_MODES_H

#include "prompts.h"
#include "samrt.h"

#define RUN_MAX_IO 32

typedef struct {
    char *name;
    const char *value;
} name_value;

#include "records.h"

typedef struct run_options {
    /* common */
    const char *model, *config;
    int threads, profile, no_fuse;
    /* graph mode */
    const char *graph, *trace;
    name_value inputs[RUN_MAX_IO], outputs[RUN_MAX_IO], params[RUN_MAX_IO];
    int n_inputs, n_outputs, n_params, dump_plan, reference;
    /* segmentation */
    const char *images[RUN_MAX_IO];
    int n_images;
    prompt_set prompts;
    int multimask;
    const char *out_dir, *json_path, *save_logits, *save_masks, *embedding;
    double input_percent; /* (0, 100] */
    /* automatic mask generation */
    const char *oracle; /* "sam" or "sam2": the golden data's synthetic predictor instead of a model */
    const char *point_grids;
    int output_mode; /* -1: not given (binary_mask PNGs for --out, coco_rle for --json) */
    /* folder runs (dataset.h) */
    int overwrite, keep_going, shard_k, shard_n;
    sam_amg_params amg; /* as given: -1 and NaN where not (the family's defaults apply) */
} run_options;

int run_graph_mode(const run_options *o);
int run_segment_mode(run_options *o);
int run_auto_mode(const run_options *o);

#endif
