/* The images a server has encoded: each one's features (what the decoder reads), its
 * file (for the generator, which encodes crops itself) and the low-res logits of recent
 * answers (what a later request names as its mask_input). At most `capacity` images are
 * kept, the least recently used evicted first; an image in use by a request stays alive
 * until that request lets it go, even when evicted or deleted meanwhile. */
#ifndef SAMRT_IMAGE_STORE_H
#define SAMRT_IMAGE_STORE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "samrt.h"

#define IMAGE_ID_LEN 32     /* hex digits of the content hash */
#define LOGITS_PER_IMAGE 32 /* answers whose logits stay available as mask inputs */
#define LOGITS_ID_PREFIX 8  /* digits of the image id in a logits id */

typedef struct stored_logits {
    uint64_t serial; /* 0: empty */
    float *data;     /* low_res x low_res */
} stored_logits;

typedef struct stored_image {
    char id[IMAGE_ID_LEN + 1];
    int width, height;
    double encode_ms;
    uint8_t *file; /* the JPEG or PNG as uploaded */
    size_t file_size;
    int n_features;
    sam_tensor_view features[4]; /* names and shapes as the predictor's, data owned here */
    int low_res;
    /* guarded by the store's lock */
    stored_logits logits[LOGITS_PER_IMAGE];
    int next_logits;
    int refs;     /* the store's own reference, plus one per request using it */
    uint64_t last_use;
} stored_image;

typedef struct image_store {
    pthread_mutex_t lock;
    stored_image **images;
    int n, capacity;
    uint64_t clock, logits_serial;
} image_store;

sam_status image_store_init(image_store *s, int capacity, sam_error *err);
void image_store_destroy(image_store *s);
/* The content hash of an upload, as its id. */
void image_store_hash(const void *data, size_t size, char id[IMAGE_ID_LEN + 1]);
/* A new image from the predictor's current features (it takes a copy of everything). */
sam_status stored_image_create(const char *id, const sam_predictor *pred, const void *file, size_t file_size, double encode_ms,
                               stored_image **out, sam_error *err);
/* Adds the image, evicting the least recently used beyond capacity; when an image of that
 * id is already there it is kept, and *out is that one. Either way *out holds a reference. */
void image_store_insert(image_store *s, stored_image *img, stored_image **out);
/* The image with a reference for the caller, or NULL. */
stored_image *image_store_get(image_store *s, const char *id);
void image_store_release(image_store *s, stored_image *img);
/* Another reference to an image the caller holds one to. */
void image_store_retain(image_store *s, stored_image *img);
/* 1 when it was there. */
int image_store_delete(image_store *s, const char *id);
/* Keeps a copy of low-res logits; the id names them for later requests ("<image>:<n>"). */
sam_status image_store_keep_logits(image_store *s, stored_image *img, const float *logits, char *id, size_t cap, sam_error *err);
/* A malloc'd copy of the logits named by id, or NULL when they are unknown or gone. */
float *image_store_find_logits(image_store *s, stored_image *img, const char *id);

#endif
