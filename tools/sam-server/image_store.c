#include "image_store.h"

#include <ctype.h>
#include <gnutls/crypto.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool_common.h"

sam_status image_store_init(image_store *s, int capacity, sam_error *err)
{
    memset(s, 0, sizeof *s);
    s->capacity = capacity;
    s->images = calloc((size_t)capacity + 1, sizeof *s->images);
    if (!s->images) return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->lock, NULL);
    return SAM_OK;
}

static void image_free(stored_image *img)
{
    if (!img) return;
    free(img->file);
    for (int i = 0; i < img->n_features; i++) free((void *)img->features[i].data), free((void *)img->features[i].name);
    for (int i = 0; i < LOGITS_PER_IMAGE; i++) free(img->logits[i].data);
    free(img);
}

void image_store_destroy(image_store *s)
{
    for (int i = 0; i < s->n; i++) image_free(s->images[i]);
    free(s->images);
    pthread_mutex_destroy(&s->lock);
    memset(s, 0, sizeof *s);
}

void image_store_hash(const void *data, size_t size, char id[IMAGE_ID_LEN + 1])
{
    unsigned char digest[32];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data, size, digest) != 0) memset(digest, 0, sizeof digest);
    for (int i = 0; i < IMAGE_ID_LEN / 2; i++) snprintf(id + 2 * i, 3, "%02x", digest[i]);
}

sam_status stored_image_create(const char *id, const sam_predictor *pred, const void *file, size_t file_size, double encode_ms,
                               stored_image **out, sam_error *err)
{
    *out = NULL;
    stored_image *img = calloc(1, sizeof *img);
    if (!img || !(img->file = malloc(file_size ? file_size : 1))) {
        free(img);
        return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    snprintf(img->id, sizeof img->id, "%s", id);
    memcpy(img->file, file, file_size);
    img->file_size = file_size;
    img->encode_ms = encode_ms;
    img->refs = 1;
    img->low_res = sam_predictor_low_res(pred);
    sam_predictor_original_size(pred, &img->height, &img->width);
    int n = sam_predictor_n_features(pred);
    if (n > 4) n = 4;
    for (int i = 0; i < n; i++) {
        sam_tensor_view v;
        sam_status st = sam_predictor_feature(pred, i, &v, err);
        if (st) {
            image_free(img);
            return st;
        }
        size_t count = 1;
        for (int d = 0; d < v.ndim; d++) count *= (size_t)v.shape[d];
        float *copy = malloc(count * sizeof(float));
        char *name = strdup(v.name);
        if (!copy || !name) {
            free(copy);
            free(name);
            image_free(img);
            return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
        }
        memcpy(copy, v.data, count * sizeof(float));
        img->features[i] = v;
        img->features[i].data = copy;
        img->features[i].name = name;
        img->n_features = i + 1;
    }
    *out = img;
    return SAM_OK;
}

/* under the lock: drops the store's reference (the image goes when no request holds it) */
static void unref_locked(stored_image *img)
{
    if (--img->refs == 0) image_free(img);
}

static int find_locked(const image_store *s, const char *id)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->images[i]->id, id)) return i;
    return -1;
}

static void remove_at_locked(image_store *s, int i)
{
    stored_image *img = s->images[i];
    s->images[i] = s->images[--s->n];
    unref_locked(img);
}

void image_store_insert(image_store *s, stored_image *img, stored_image **out)
{
    pthread_mutex_lock(&s->lock);
    int at = find_locked(s, img->id);
    if (at >= 0) {
        image_free(img); /* encoded twice by concurrent uploads of the same file */
        img = s->images[at];
    } else {
        while (s->n >= s->capacity) {
            int oldest = 0;
            for (int i = 1; i < s->n; i++)
                if (s->images[i]->last_use < s->images[oldest]->last_use) oldest = i;
            remove_at_locked(s, oldest);
        }
        s->images[s->n++] = img;
    }
    img->last_use = ++s->clock;
    img->refs++;
    *out = img;
    pthread_mutex_unlock(&s->lock);
}

stored_image *image_store_get(image_store *s, const char *id)
{
    pthread_mutex_lock(&s->lock);
    int at = find_locked(s, id);
    stored_image *img = at >= 0 ? s->images[at] : NULL;
    if (img) {
        img->refs++;
        img->last_use = ++s->clock;
    }
    pthread_mutex_unlock(&s->lock);
    return img;
}

void image_store_retain(image_store *s, stored_image *img)
{
    pthread_mutex_lock(&s->lock);
    img->refs++;
    pthread_mutex_unlock(&s->lock);
}

void image_store_release(image_store *s, stored_image *img)
{
    if (!img) return;
    pthread_mutex_lock(&s->lock);
    unref_locked(img);
    pthread_mutex_unlock(&s->lock);
}

int image_store_delete(image_store *s, const char *id)
{
    pthread_mutex_lock(&s->lock);
    int at = find_locked(s, id);
    if (at >= 0) remove_at_locked(s, at);
    pthread_mutex_unlock(&s->lock);
    return at >= 0;
}

sam_status image_store_keep_logits(image_store *s, stored_image *img, const float *logits, char *id, size_t cap, sam_error *err)
{
    size_t bytes = (size_t)img->low_res * (size_t)img->low_res * sizeof(float);
    float *copy = malloc(bytes);
    if (!copy) return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    memcpy(copy, logits, bytes);
    pthread_mutex_lock(&s->lock);
    stored_logits *slot = &img->logits[img->next_logits];
    img->next_logits = (img->next_logits + 1) % LOGITS_PER_IMAGE;
    free(slot->data);
    slot->data = copy;
    slot->serial = ++s->logits_serial;
    snprintf(id, cap, "%.*s:%" PRIu64, LOGITS_ID_PREFIX, img->id, slot->serial);
    pthread_mutex_unlock(&s->lock);
    return SAM_OK;
}

float *image_store_find_logits(image_store *s, stored_image *img, const char *id)
{
    /* "<the image id's first LOGITS_ID_PREFIX digits>:<serial>" */
    if (strncmp(id, img->id, LOGITS_ID_PREFIX) || id[LOGITS_ID_PREFIX] != ':' || !isdigit((unsigned char)id[LOGITS_ID_PREFIX + 1])) return NULL;
    char *end;
    unsigned long long serial = strtoull(id + LOGITS_ID_PREFIX + 1, &end, 10);
    if (*end || serial == 0) return NULL;
    float *copy = NULL;
    size_t bytes = (size_t)img->low_res * (size_t)img->low_res * sizeof(float);
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < LOGITS_PER_IMAGE; i++)
        if (img->logits[i].serial == serial) {
            if ((copy = malloc(bytes))) memcpy(copy, img->logits[i].data, bytes);
            break;
        }
    pthread_mutex_unlock(&s->lock);
    return copy;
}
