/* JSON for the programs, through jansson: whole files (size-capped) into a tree with
 * errors as file:line:column, and string escaping for the JSON the programs compose. */
#ifndef SAMRT_TOOL_JSON_H
#define SAMRT_TOOL_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "samrt.h"

/* The largest JSON file or request body the programs read: a prompts file of a million
 * objects is far smaller, and the cap bounds the tree jansson builds (~40x the text). */
#define TOOL_JSON_MAX_BYTES ((size_t)64 << 20)
/* jansson takes ~50 bytes a value and ~250 an object, so bytes alone do not bound the
 * memory (64 MiB of "{}," is 5 GB parsed): values and containers are counted first. */
#define TOOL_JSON_MAX_VALUES ((size_t)1 << 23)
#define TOOL_JSON_MAX_CONTAINERS ((size_t)1 << 20)

/* Parses text (a document of any type); errors as "source:line:column: message". */
sam_status tool_json_parse(const char *text, size_t len, const char *source, json_t **out, sam_error *err);
sam_status tool_json_load_file(const char *path, json_t **out, sam_error *err);
/* A JSON number (integer or real) as a double; 0 when v is not a number. */
int tool_json_number(const json_t *v, double *out);
/* A number, or a boolean as 0/1 (else 0): for reading manifests written by Python. */
double tool_json_value(const json_t *v);
/* s as a JSON string literal, quotes included. */
void tool_json_put_string(FILE *f, const char *s);
/* A COCO RLE counts string (sam_rle_to_coco) as a JSON string literal. Its characters are
 * '0'..'o', so '\\' alone needs escaping: written in runs, not checked and escaped a
 * character at a time as jansson does (7 ms for the three masks of a click of a
 * random-weight model, whose ragged masks give 140 KB strings). */
void tool_json_put_rle_counts(FILE *f, const char *counts);
/* A number, or null when it is not finite (JSON has no NaN). */
void tool_json_put_number(FILE *f, double v);

#endif
