/* Checkpoint -> weight blob, and random-weight blobs of the official shapes. */
#ifndef SAMRT_CONVERT_H
#define SAMRT_CONVERT_H

#include <stdint.h>

#include "sam_spec.h"

/* Called after each tensor: done and total bytes, for progress reports. */
typedef void (*sam_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* Converts an official SAM checkpoint (torch.save zip + pickle) to a blob at out_path.
 * hp receives the detected hyper-parameters. */
sam_status sam_convert_checkpoint(const char *pth_path, const char *out_path, sam_progress_fn progress, void *pctx,
                                  sam_hparams *hp, sam_error *err);

/* Writes a blob with every tensor of hp's model filled with seeded random values of a
 * sensible scale (for benchmarks and memory tests; the masks are meaningless). */
sam_status sam_write_random_model(const sam_hparams *hp, uint64_t seed, const char *out_path, sam_progress_fn progress,
                                  void *pctx, sam_error *err);

#endif
