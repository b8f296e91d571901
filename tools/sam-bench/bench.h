/* What sam-bench's modes share: the in-run sgemm reference, the encoder and decoder
 * timings, and the comparison of a reduced-precision blob with its f32 original. */
#ifndef SAMRT_BENCH_H
#define SAMRT_BENCH_H

#include <stdint.h>

#include "../../include/samrt.h"

typedef struct {
    double seconds, flops;
    int64_t weight_bytes;
    size_t arena_bytes;
    sam_weight_precision precision;
    char family[16], variant[64];
} bench_encoder_result;

/* OpenBLAS sgemm on `threads` cores, n x n x n: GFLOP/s. */
double bench_sgemm_gflops(int n, int threads);
/* The image encoder alone on a synthetic input: one warm-up, best of `runs`. */
int bench_measure_encoder(const char *model_path, const char *config_path, int n_threads, int runs, int profile, bench_encoder_result *r);
/* Seconds per prompt of n one-point prompts decoded together (no masks), best of reps. */
double bench_time_points(sam_predictor *pred, int n, int reps, sam_error *err);
/* A default automatic mask generation of `image`, printed; *seconds its total. */
int bench_auto(const char *model_path, const char *config_path, int n_threads, const char *image, int profile, double *seconds);

/* --dtype: the f32 model re-stored at precision p (made once beside the random-weight
 * blobs), then each figure for both in this run, their ratios, and the reduced model's
 * accuracy against the f32 one (embedding, masks, IoU) on `image` (NULL: a synthetic
 * one); with auto_image, the two automatic mask generations instead. */
int bench_precision(const char *f32_path, const char *config_path, sam_weight_precision p, int n_threads, int runs, int sgemm_n,
                    const char *image, const char *auto_image);

#endif
