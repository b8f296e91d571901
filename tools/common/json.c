#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tool_common.h"

/* An upper bound of what parsing would allocate, from the structure outside strings:
 * containers ('[' and '{') and values (separators and containers). */
static void count_json(const char *text, size_t len, size_t *containers, size_t *values)
{
    size_t c = 0, v = 1;
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        if (in_string) {
            if (ch == '\\') i++;
            else if (ch == '"') in_string = 0;
        } else if (ch == '"') {
            in_string = 1;
        } else if (ch == '[' || ch == '{') {
            c++;
            v++;
        } else if (ch == ',' || ch == ':') {
            v++;
        }
    }
    *containers = c;
    *values = v;
}

sam_status tool_json_parse(const char *text, size_t len, const char *source, json_t **out, sam_error *err)
{
    *out = NULL;
    if (len > TOOL_JSON_MAX_BYTES)
        return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: %zu bytes of JSON, more than the %zu MiB accepted", source, len, TOOL_JSON_MAX_BYTES >> 20);
    size_t containers, values;
    count_json(text, len, &containers, &values);
    if (containers > TOOL_JSON_MAX_CONTAINERS || values > TOOL_JSON_MAX_VALUES)
        return tool_fail(err, SAM_ERR_INVALID_ARG, "%s: %zu values in %zu lists and objects: more than the %zu values and %zu lists and objects accepted",
                         source, values, containers, TOOL_JSON_MAX_VALUES, TOOL_JSON_MAX_CONTAINERS);
    json_error_t e;
    /* duplicate keys are refused: which one wins is not something a user should guess */
    json_t *root = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
    if (!root) return tool_fail(err, SAM_ERR_FORMAT, "%s:%d:%d: %s", source, e.line, e.column, e.text);
    *out = root;
    return SAM_OK;
}

sam_status tool_json_load_file(const char *path, json_t **out, sam_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return tool_fail(err, SAM_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0;
    sam_status st = SAM_OK;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size < 0 || fseek(f, 0, SEEK_SET) != 0) st = tool_fail(err, SAM_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
        else if ((size_t)size > TOOL_JSON_MAX_BYTES)
            st = tool_fail(err, SAM_ERR_INVALID_ARG, "%s: %ld bytes, more than the %zu MiB of JSON accepted", path, size, TOOL_JSON_MAX_BYTES >> 20);
        else if (!(text = malloc((size_t)size + 1))) st = tool_fail(err, SAM_ERR_NOMEM, "out of memory reading '%s'", path);
        else if ((len = fread(text, 1, (size_t)size, f)) != (size_t)size) st = tool_fail(err, SAM_ERR_IO, "cannot read '%s'", path);
    } else {
        st = tool_fail(err, SAM_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    }
    fclose(f);
    if (st == SAM_OK) st = tool_json_parse(text, len, path, out, err);
    free(text);
    return st;
}

int tool_json_number(const json_t *v, double *out)
{
    if (!json_is_number(v)) return 0;
    *out = json_number_value(v);
    return 1;
}

double tool_json_value(const json_t *v)
{
    return json_is_boolean(v) ? json_is_true(v) : json_number_value(v);
}

void tool_json_put_string(FILE *f, const char *s)
{
    json_t *str = json_string_nocheck(s); /* paths need not be UTF-8; the bytes are written as they are */
    json_dumpf(str, f, JSON_ENCODE_ANY);
    json_decref(str);
}

void tool_json_put_rle_counts(FILE *f, const char *counts)
{
    for (const char *c = counts; *c; c++)
        if (*c < '0' || *c > 'o') { /* not sam_rle_to_coco's: escaped in full */
            tool_json_put_string(f, counts);
            return;
        }
    fputc('"', f);
    for (const char *c = counts; *c;) {
        const char *slash = strchr(c, '\\');
        size_t n = slash ? (size_t)(slash - c) : strlen(c);
        fwrite(c, 1, n, f);
        if (!slash) break;
        fputs("\\\\", f);
        c = slash + 1;
    }
    fputc('"', f);
}

void tool_json_put_number(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.9g", v);
    else fputs("null", f);
}
