/* Named hyper-parameters (a variant's config, a loop index) and the small expression
 * language graphs use to refer to them: "$(embed_dim * 4)", "blocks.$(i).attn". */
#ifndef SAMRT_PARAMS_H
#define SAMRT_PARAMS_H

#include <stdint.h>

#include "status.h"

#define SAM_PARAM_MAX 64
#define SAM_PARAM_NAME_MAX 48
#define SAM_VALUE_LIST_MAX 64
#define SAM_VALUE_STR_MAX 160

typedef enum { SAM_VAL_INT, SAM_VAL_FLOAT, SAM_VAL_LIST, SAM_VAL_STR, SAM_VAL_REALS } sam_value_type;

typedef struct sam_value {
    sam_value_type type;
    int64_t i;
    double f;
    int n;
    union {
        int64_t list[SAM_VALUE_LIST_MAX]; /* SAM_VAL_LIST */
        double reals[SAM_VALUE_LIST_MAX]; /* SAM_VAL_REALS: a config's list of numbers (pixel means) */
    };
    char s[SAM_VALUE_STR_MAX];
} sam_value;

typedef struct sam_params {
    int count;
    char names[SAM_PARAM_MAX][SAM_PARAM_NAME_MAX];
    sam_value values[SAM_PARAM_MAX];
} sam_params;

const sam_value *sam_params_get(const sam_params *p, const char *name);
sam_status sam_params_set(sam_params *p, const char *name, const sam_value *v, sam_error *err);
sam_status sam_params_set_int(sam_params *p, const char *name, int64_t v, sam_error *err);
sam_status sam_params_set_float(sam_params *p, const char *name, double v, sam_error *err);
sam_status sam_params_set_str(sam_params *p, const char *name, const char *s, sam_error *err);
sam_status sam_params_set_list(sam_params *p, const char *name, const int64_t *v, int n, sam_error *err);
sam_status sam_params_set_reals(sam_params *p, const char *name, const double *v, int n, sam_error *err);
/* Numeric value as double (ints widen); returns 0 when v is not a number. */
int sam_value_as_double(const sam_value *v, double *out);
void sam_value_format(const sam_value *v, char *buf, int cap);
int sam_value_equal(const sam_value *a, const sam_value *b);

/* Evaluates an expression: integers, floats, parameter names, + - * / %, comparisons,
 * `x in list`, `not`, `and`, `or`, `c ? a : b`, parentheses, [list] literals, list[i],
 * and the functions len(list), sum(list[, n]) and pow(a, b). */
sam_status sam_expr_eval(const char *src, const sam_params *p, sam_value *out, sam_error *err);

/* Resolves a scalar from a graph file: a string that is exactly "$(expr)" becomes the
 * expression's value; otherwise each "$(expr)" inside is replaced by its value (an
 * integer, or a string parameter's text: "$(decoder).iou_token.weight") and the result
 * is a string (or a number if it reads as one). */
sam_status sam_resolve_scalar(const char *src, const sam_params *p, sam_value *out, sam_error *err);

#endif
