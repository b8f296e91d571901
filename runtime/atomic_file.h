/* Files that appear whole or not at all: written under a temporary name in the same
 * folder, renamed into place once complete (blobs, .npy, PNGs, feature caches). */
#ifndef SAMRT_ATOMIC_FILE_H
#define SAMRT_ATOMIC_FILE_H

#include <stdio.h>

#include "status.h"

typedef struct sam_atomic_file {
    FILE *f;
    char *tmp, *path;
} sam_atomic_file;

sam_status sam_atomic_open(sam_atomic_file *a, const char *path, sam_error *err);
/* Closes and renames into place; on any failure (including earlier write errors the
 * stream remembers) the temporary file is removed. */
sam_status sam_atomic_commit(sam_atomic_file *a, sam_error *err);
/* Drops a file that will not be completed. */
void sam_atomic_abandon(sam_atomic_file *a);

#endif
