/* Prompts from the command line (--point, --box, --mask-input) and from a --prompts
 * JSON file, checked against the image before anything runs. */
#ifndef SAMRT_PROMPTS_H
#define SAMRT_PROMPTS_H

#include "samrt.h"

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
/* Every mask input is low_res x low_res (the model's, once it is known)? */
sam_status prompt_check_masks(const prompt_set *s, int low_res, sam_error *err);
/* Coordinates inside the image (0..width, 0..height)? */
sam_status prompt_check_bounds(const prompt_set *s, int width, int height, sam_error *err);
void prompt_set_free(prompt_set *s);

#endif
