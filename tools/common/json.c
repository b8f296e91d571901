#include "json.h"

#include "tool_common.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *s, *end, *source, *line_start;
    int line;
    sam_error *err;
} json_parser;

static sam_status jerr(json_parser *p, const char *what)
{
    return tool_fail(p->err, SAM_ERR_FORMAT, "%s:%d:%d: %s", p->source, p->line, (int)(p->s - p->line_start) + 1, what);
}

static void skip_ws(json_parser *p)
{
    while (p->s < p->end && isspace((unsigned char)*p->s)) {
        if (*p->s == '\n') {
            p->line++;
            p->line_start = p->s + 1;
        }
        p->s++;
    }
}

static void free_contents(json_value *v)
{
    free(v->string);
    for (int i = 0; i < v->n; i++) {
        free_contents(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

void json_free(json_value *v)
{
    if (!v) return;
    free_contents(v);
    free(v);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static sam_status parse_string(json_parser *p, char **out)
{
    p->s++; /* opening quote */
    size_t cap = 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) return tool_fail(p->err, SAM_ERR_NOMEM, "out of memory");
    while (p->s < p->end && *p->s != '"') {
        unsigned c = (unsigned char)*p->s++;
        if (c < 0x20) {
            free(buf);
            return jerr(p, "control character in a string");
        }
        if (c == '\\') {
            if (p->s >= p->end) break;
            char e = *p->s++;
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case '"': case '\\': case '/': c = (unsigned char)e; break;
            case 'u': {
                if (p->end - p->s < 4) break;
                int v = 0;
                for (int k = 0; k < 4; k++) {
                    int h = hexval(p->s[k]);
                    if (h < 0) {
                        free(buf);
                        return jerr(p, "bad \\u escape");
                    }
                    v = v * 16 + h;
                }
                p->s += 4;
                c = v < 0x80 ? (unsigned)v : '?'; /* names and paths here are ASCII */
                break;
            }
            default:
                free(buf);
                return jerr(p, "bad escape in a string");
            }
        }
        if (n + 2 > cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                return tool_fail(p->err, SAM_ERR_NOMEM, "out of memory");
            }
            buf = nb;
        }
        buf[n++] = (char)c;
    }
    if (p->s >= p->end) {
        free(buf);
        return jerr(p, "unterminated string");
    }
    p->s++;
    buf[n] = 0;
    *out = buf;
    return SAM_OK;
}

static sam_status parse_value(json_parser *p, json_value *v, int depth);

static sam_status parse_container(json_parser *p, json_value *v, int depth, char close)
{
    int is_object = close == '}';
    p->s++;
    int cap = 0;
    skip_ws(p);
    if (p->s < p->end && *p->s == close) {
        p->s++;
        return SAM_OK;
    }
    for (;;) {
        if (v->n == cap) {
            cap = cap ? cap * 2 : 4;
            json_value *ni = realloc(v->items, sizeof *ni * (size_t)cap);
            if (!ni) return tool_fail(p->err, SAM_ERR_NOMEM, "out of memory");
            v->items = ni;
            if (is_object) {
                char **nk = realloc(v->keys, sizeof *nk * (size_t)cap);
                if (!nk) return tool_fail(p->err, SAM_ERR_NOMEM, "out of memory");
                v->keys = nk;
            }
        }
        skip_ws(p);
        sam_status st;
        if (is_object) {
            if (p->s >= p->end || *p->s != '"') return jerr(p, "expected a quoted key");
            if ((st = parse_string(p, &v->keys[v->n]))) return st;
            skip_ws(p);
            if (p->s >= p->end || *p->s != ':') {
                free(v->keys[v->n]);
                return jerr(p, "expected ':' after a key");
            }
            p->s++;
        }
        memset(&v->items[v->n], 0, sizeof v->items[v->n]);
        st = parse_value(p, &v->items[v->n], depth + 1);
        v->n++; /* counted even on failure so that its parts are freed */
        if (st) return st;
        skip_ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == close) {
            p->s++;
            return SAM_OK;
        }
        return jerr(p, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static sam_status parse_value(json_parser *p, json_value *v, int depth)
{
    if (depth > 64) return jerr(p, "nested too deeply");
    skip_ws(p);
    v->line = p->line;
    v->column = (int)(p->s - p->line_start) + 1;
    if (p->s >= p->end) return jerr(p, "unexpected end of input");
    char c = *p->s;
    if (c == '{') {
        v->type = JSON_OBJECT;
        return parse_container(p, v, depth, '}');
    }
    if (c == '[') {
        v->type = JSON_ARRAY;
        return parse_container(p, v, depth, ']');
    }
    if (c == '"') {
        v->type = JSON_STRING;
        return parse_string(p, &v->string);
    }
    static const struct { const char *word; json_type type; double value; } words[] = {
        {"true", JSON_BOOL, 1}, {"false", JSON_BOOL, 0}, {"null", JSON_NULL, 0}};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i].word);
        if ((size_t)(p->end - p->s) >= n && strncmp(p->s, words[i].word, n) == 0) {
            v->type = words[i].type;
            v->number = words[i].value;
            p->s += n;
            return SAM_OK;
        }
    }
    if (c == '-' || isdigit((unsigned char)c)) {
        char buf[64];
        size_t n = 0;
        while (p->s + n < p->end && n < sizeof buf - 1 && strchr("+-0123456789.eE", p->s[n])) n++;
        memcpy(buf, p->s, n);
        buf[n] = 0;
        char *endp;
        errno = 0;
        v->number = strtod(buf, &endp);
        if (endp != buf + n || errno) return jerr(p, "bad number");
        v->type = JSON_NUMBER;
        p->s += n;
        return SAM_OK;
    }
    return jerr(p, "unexpected character");
}

sam_status json_parse(const char *text, size_t len, const char *source, json_value **out, sam_error *err)
{
    *out = NULL;
    json_parser p = {text, text + len, source, text, 1, err};
    json_value *v = calloc(1, sizeof *v);
    if (!v) return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    sam_status st = parse_value(&p, v, 0);
    if (st == SAM_OK) {
        skip_ws(&p);
        if (p.s != p.end) st = jerr(&p, "unexpected text after the JSON value");
    }
    if (st) {
        json_free(v);
        return st;
    }
    *out = v;
    return SAM_OK;
}

sam_status json_parse_file(const char *path, json_value **out, sam_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return tool_fail(err, SAM_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (len < 0 || len > (1L << 30)) {
        fclose(f);
        return tool_fail(err, SAM_ERR_FORMAT, "%s: unreadable or too large", path);
    }
    char *buf = malloc((size_t)len + 1);
    if (!buf) {
        fclose(f);
        return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    sam_status st = got == (size_t)len ? json_parse(buf, got, path, out, err) : tool_fail(err, SAM_ERR_IO, "cannot read '%s'", path);
    free(buf);
    return st;
}

const json_value *json_get(const json_value *o, const char *key)
{
    if (!o || o->type != JSON_OBJECT) return NULL;
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0) return &o->items[i];
    return NULL;
}

void json_write_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}
