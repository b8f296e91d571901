/* Folder runs that survive being killed: every image's outputs are written into a
 * temporary folder (OUT/.STEM.partial) and renamed to OUT/STEM when complete, so OUT/STEM
 * exists only whole; images whose folder exists are skipped (unless overwriting); each
 * image's outcome is a line of OUT/manifest.jsonl; a failed image is recorded and the run
 * goes on; --shard K/N takes the images whose file name hashes to K, so N processes with
 * no coordinator split a dataset between them. */
#ifndef SAMRT_RUN_DATASET_H
#define SAMRT_RUN_DATASET_H

#include "samrt.h"

/* What --image named: files as given, directories as their .jpg/.jpeg/.png files in name
 * order. nested: a folder run (a directory, or several images). */
typedef struct dataset_images {
    char **paths;
    int n;
    int nested;
} dataset_images;

sam_status dataset_list_images(const char *const *args, int n_args, dataset_images *out, sam_error *err);
void dataset_images_free(dataset_images *l);
/* The refusal of folder-run options (--overwrite, --shard) for a single image. */
sam_status dataset_check_single(const dataset_images *l, int overwrite, int shard_n, sam_error *err);

typedef struct dataset_options {
    const char *out_dir;
    int overwrite;  /* redo images whose output exists */
    int keep_going; /* record a failed image and go on (else stop there) */
    int shard_k, shard_n;
} dataset_options;

/* Writes one image's outputs into dir (which exists, empty); *n_masks for the manifest. */
typedef sam_status (*dataset_image_fn)(void *ctx, const char *image_path, const char *dir, int *n_masks, sam_error *err);

/* Runs fn over the images of the shard; returns the exit status (0 all done or skipped,
 * 1 some failed or the run could not start) and prints progress and a summary. */
int dataset_run(const dataset_options *o, char *const *images, int n_images, dataset_image_fn fn, void *ctx);

/* OUT/manifest.jsonl, open for appending, with the stems it already records as done (a
 * line torn by a kill is ignored, and the file is made to end in a newline). */
typedef struct dataset_manifest {
    int fd;
    char **done; /* sorted */
    int n_done;
} dataset_manifest;

sam_status dataset_manifest_open(dataset_manifest *m, const char *out_dir, sam_error *err);
int dataset_manifest_has_done(const dataset_manifest *m, const char *stem);
void dataset_manifest_close(dataset_manifest *m);

/* The image's file name without its extension: the name of its output folder. */
const char *dataset_stem(const char *path, char *buf, size_t cap);

/* "K/N" with 0 <= K < N <= 1000000. */
int dataset_parse_shard(const char *arg, int *k, int *n);
/* Whether the image (by its file name, not its folder) belongs to shard k of n. */
int dataset_in_shard(const char *path, int k, int n);

#endif
