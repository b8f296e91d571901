/* Checkpoint -> weight blob, and random-weight blobs of the official shapes. */
#ifndef SAMRT_CONVERT_H
#define SAMRT_CONVERT_H

#include <stdint.h>

#include "../include/samrt.h"
#include "../runtime/model.h"
#include "model_spec.h"

/* Called after each tensor: done and total bytes, for progress reports. */
typedef void (*sam_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* The public sam_convert_checkpoint and sam_convert_random are declared in samrt.h. */

/* Writes a blob with every tensor of the spec filled with seeded random values of a
 * sensible scale (for benchmarks and memory tests; the masks are meaningless). */
sam_status sam_write_random_model(const sam_model_spec *spec, uint64_t seed, const char *out_path, sam_weight_precision precision,
                                  sam_progress_fn progress, void *pctx, int64_t *bytes, sam_error *err);

/* Family, variant, version, tensor count and bytes of what a spec describes. */
void sam_convert_info_of(const sam_model_spec *spec, sam_convert_info *info);

#endif
