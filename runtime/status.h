/* Status codes and messages: the public list (samrt.h), and the helpers library code
 * uses to fail with a message. */
#ifndef SAMRT_STATUS_H
#define SAMRT_STATUS_H

#include <stddef.h>

#include "samrt.h"

/* Sets err (if non-NULL) and returns code, so callers write `return sam_fail(err, ...)`. */
sam_status sam_fail(sam_error *err, sam_status code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with context ("loading x.yaml: ..."). */
sam_status sam_fail_context(sam_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Seconds on a monotonic clock, for timings. */
double sam_now(void);

/* 64-bit FNV-1a, continued from h (start with SAM_HASH_INIT): content identities for
 * caches (models, images). */
#define SAM_HASH_INIT 1469598103934665603ull
uint64_t sam_hash_bytes(uint64_t h, const void *data, size_t n);

#endif
