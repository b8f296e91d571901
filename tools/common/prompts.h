/* Prompts from the command line (--point, --box, --mask-input) and from a --prompts
 * JSON file, checked against the image before anything runs. */
#ifndef SAMRT_PROMPTS_H
#define SAMRT_PROMPTS_H

#include <jansson.h>

#include "samrt.h"

/* Bounds on what one request may ask for: every object becomes full-size masks. */
#define PROMPT_MAX_OBJECTS 4096
#define PROMPT_MAX_POINTS 1024

typedef struct prompt_set {
    int n;
    sam_prompt *prompts;
    /* storage the prompts point into */
    float **points;
    int **labels;
    float **masks;
    int *mask_sides;   /* side of each square mask input (0: not square), checked against the model's */
    char **mask_whats; /* the argument each mask input came from and what it holds, for messages */
    char **sources;    /* what each object came from, for messages and the JSON */
} prompt_set;

/* "X,Y" or "X,Y,LABEL" -> appends a point to object 0. Errors name the argument. */
sam_status prompt_add_point(prompt_set *s, const char *arg, sam_error *err);
/* "X0,Y0,X1,Y1" */
sam_status prompt_set_box(prompt_set *s, const char *arg, sam_error *err);
/* 1xLxL (or LxL) float32 logits from an earlier run's --save-logits */
sam_status prompt_set_mask_input(prompt_set *s, const char *path, sam_error *err);
/* [{"points": [[x, y], ...], "labels": [...], "box": [x0, y0, x1, y1], "mask_input": "f.npy"}, ...] */
sam_status prompt_load_json(prompt_set *s, const char *path, sam_error *err);

/* How an object's "mask_input" becomes low-res logits: sam-run reads the .npy file it
 * names, sam-server looks up the logits of an earlier answer. It calls prompt_attach_mask. */
typedef sam_status (*prompt_mask_resolver)(void *ctx, prompt_set *s, int obj, const json_t *value, const char *what, sam_error *err);
/* Appends one object from its JSON form (keys points, labels, box, mask_input, and any of
 * `extra_keys`, NULL-terminated, which the caller reads); errors start with `what`. */
sam_status prompt_add_json_object(prompt_set *s, const json_t *o, const char *what, const char *const *extra_keys, prompt_mask_resolver resolve,
                                  void *ctx, sam_error *err);
/* Gives object obj the logits (malloc'd side x side floats; the set owns them now). */
sam_status prompt_attach_mask(prompt_set *s, int obj, float *logits, int side, const char *what, sam_error *err);
/* Every mask input is low_res x low_res (the model's, once it is known)? */
sam_status prompt_check_masks(const prompt_set *s, int low_res, sam_error *err);
/* Coordinates inside the image (0..width, 0..height)? */
sam_status prompt_check_bounds(const prompt_set *s, int width, int height, sam_error *err);
void prompt_set_free(prompt_set *s);

#endif
