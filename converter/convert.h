/* Checkpoint -> weight blob, and random-weight blobs of the official shapes. */
#ifndef SAMRT_CONVERT_H
#define SAMRT_CONVERT_H

#include <stdint.h>

#include "sam_spec.h"

/* Called after each tensor: done and total bytes, for progress reports. */
typedef void (*sam_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* The public sam_convert_checkpoint and sam_convert_random are declared in samrt.h. */

/* Writes a blob with every tensor of hp's model filled with seeded random values of a
 * sensible scale (for benchmarks and memory tests; the masks are meaningless). */
sam_status sam_write_random_model(const sam_hparams *hp, uint64_t seed, const char *out_path, sam_progress_fn progress,
                                  void *pctx, sam_error *err);

#endif
