/* A small JSON reader (whole document into a tree; errors as file:line:column) and
 * string escaping for the JSON the tools write. */
#ifndef SAMRT_JSON_H
#define SAMRT_JSON_H

#include <stddef.h>
#include <stdio.h>

#include "samrt.h"

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value {
    json_type type;
    double number; /* also 0/1 for booleans */
    char *string;
    int n;                     /* items of arrays and objects */
    struct json_value *items;  /* n values */
    char **keys;               /* n keys, objects only */
    int line, column;          /* where the value starts */
} json_value;

sam_status json_parse(const char *text, size_t len, const char *source, json_value **out, sam_error *err);
sam_status json_parse_file(const char *path, json_value **out, sam_error *err);
void json_free(json_value *v);
const json_value *json_get(const json_value *object, const char *key);
void json_write_string(FILE *f, const char *s);

#endif
