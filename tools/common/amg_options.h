/* The generator's options by their official keywords (points_per_side, use_m2m, ...):
 * one table for sam-run's flags (--points-per-side, --use-m2m/--no-use-m2m) and
 * sam-server's JSON keys, with each option's range. Options a user gives are collected
 * in a sam_amg_params whose other fields stay "unset" (-1 or NaN), then laid over the
 * model family's defaults once the model is known. */
#ifndef SAMRT_AMG_OPTIONS_H
#define SAMRT_AMG_OPTIONS_H

#include <stddef.h>

#include "samrt.h"

typedef enum { AMG_OPTION_INT, AMG_OPTION_REAL, AMG_OPTION_BOOL } amg_option_kind;

typedef struct amg_option {
    const char *keyword;
    amg_option_kind kind;
    double lo, hi;
    size_t offset; /* of the int or double field in sam_amg_params */
} amg_option;

extern const amg_option amg_option_table[];
extern const int amg_option_count;

const amg_option *amg_option_find(const char *keyword);
/* What values it takes: "an integer in 1..1024", "a number in 0..1", "true or false". */
const char *amg_option_describe(const amg_option *o, char *buf, size_t cap);
/* Stores v when it is one of those values; 0 (nothing stored) when not. */
int amg_option_store(sam_amg_params *given, const amg_option *o, double v);
int amg_option_is_set(const sam_amg_params *given, const amg_option *o);
/* Every option unset. */
void amg_options_unset(sam_amg_params *given);
/* The options set in `given` over `params` (the family's defaults). */
void amg_options_apply(sam_amg_params *params, const sam_amg_params *given);
/* The first option set in `given` that the family's generator lacks, or NULL. */
const amg_option *amg_options_foreign(const char *family, const sam_amg_params *given);
/* The refusal of such an option, named as the user spelled it (--use-m2m, use_m2m). */
sam_status amg_option_refuse(const char *family, const char *spelled, sam_error *err);

#endif
