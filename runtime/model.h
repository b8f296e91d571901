/* A loaded model: the weight blob mmapped read-only (its metadata and tensor table) and
 * the config that says which graphs make it and how it is fed. */
#ifndef SAMRT_MODEL_H
#define SAMRT_MODEL_H

#include "config.h"
#include "params.h"
#include "status.h"
#include "tensor.h"

typedef struct sam_weight {
    char *name;
    sam_dtype dtype;
    int ndim;
    int64_t shape[SAM_MAX_DIMS];
    size_t nbytes;
    const void *data; /* inside the mapping */
} sam_weight;

struct sam_model {
    char *path;
    void *map;
    size_t map_size;
    sam_params meta;
    sam_weight *weights; /* sorted by name */
    int n_weights;
    char family[32];     /* from the metadata; "sam" when it records none (blobs of version 0.1) */
    char variant[SAM_VALUE_STR_MAX];
    uint64_t fingerprint;
    sam_config *config;  /* NULL when opened blob-only */
    int family_config;   /* config is the family's, found for want of the variant's */
};

/* The blob alone (no config): what tests and the converter's checks need. */
sam_status sam_model_open_blob(const char *path, sam_model **out, sam_error *err);
const sam_weight *sam_model_weight(const sam_model *m, const char *name);
/* A 64-bit identity of the model file, for caches keyed by model (embeddings). */
uint64_t sam_model_fingerprint(const sam_model *m);
/* Loads the config's graph `name` (or, when name is a path, that file) with the config's
 * parameters and `overrides` (may be NULL) on top. */
sam_status sam_model_load_graph(const sam_model *m, const char *name, const sam_params *overrides, sam_graph **out, sam_error *err);

/* Writing: the caller describes every tensor, then fill() supplies each one's bytes in
 * table order. The file appears under `path` only when complete (temp file + rename). */
typedef struct sam_blob_entry {
    const char *name;
    sam_dtype dtype;
    int ndim;
    int64_t shape[SAM_MAX_DIMS];
} sam_blob_entry;

typedef sam_status (*sam_blob_fill_fn)(void *ctx, int index, void *dst, size_t nbytes, sam_error *err);

sam_status sam_blob_write(const char *path, const sam_params *meta, const sam_blob_entry *entries, int n,
                          sam_blob_fill_fn fill, void *ctx, sam_error *err);

#endif
