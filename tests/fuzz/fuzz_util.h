/* What the libFuzzer targets share: the input bytes as a file (for the loaders that take a
 * path), the input as a C string, and the golden test model, converted once per process. */
#ifndef SAMRT_FUZZ_UTIL_H
#define SAMRT_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "samrt.h"

/* Writes data to this process's scratch file named `name` (in $TMPDIR) and returns its
 * path; NULL if it cannot (the target then skips the input). */
const char *fuzz_file(const char *name, const uint8_t *data, size_t size);
/* This process's scratch folder. */
const char *fuzz_dir(void);
/* The input as a NUL-terminated string (a buffer reused between calls). */
char *fuzz_string(const uint8_t *data, size_t size);
/* ../shared/golden's sam_tiny, converted to a blob in the scratch folder and opened; NULL
 * (with a message on stderr) when the golden data is missing. */
sam_model *fuzz_tiny_model(void);

#endif
