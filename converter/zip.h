/* Read-only ZIP access over mmap: the container of PyTorch checkpoints. Only stored
 * (uncompressed) entries can be read in place; zip64 sizes and offsets are honoured. */
#ifndef SAMRT_ZIP_H
#define SAMRT_ZIP_H

#include <stddef.h>
#include <stdint.h>

#include "../runtime/status.h"

typedef struct sam_zip_entry {
    char *name;
    uint16_t method;
    uint64_t size;        /* uncompressed */
    uint64_t data_offset; /* of the stored bytes in the file, once resolved */
} sam_zip_entry;

typedef struct sam_zip {
    const char *path;
    const uint8_t *map;
    size_t size;
    sam_zip_entry *entries;
    int n_entries;
} sam_zip;

sam_status sam_zip_open(const char *path, sam_zip *z, sam_error *err);
void sam_zip_close(sam_zip *z);
const sam_zip_entry *sam_zip_find(const sam_zip *z, const char *name);
/* The bytes of a stored entry, bounds-checked against the file. */
sam_status sam_zip_data(const sam_zip *z, const sam_zip_entry *e, const uint8_t **data, sam_error *err);

#endif
