#include "params.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const sam_value *sam_params_get(const sam_params *p, const char *name)
{
    for (int i = p->count - 1; i >= 0; i--)
        if (strcmp(p->names[i], name) == 0) return &p->values[i];
    return NULL;
}

sam_status sam_params_set(sam_params *p, const char *name, const sam_value *v, sam_error *err)
{
    if (strlen(name) >= SAM_PARAM_NAME_MAX)
        return sam_fail(err, SAM_ERR_INVALID_ARG, "parameter name '%s' is too long", name);
    for (int i = 0; i < p->count; i++) {
        if (strcmp(p->names[i], name) == 0) {
            p->values[i] = *v;
            return SAM_OK;
        }
    }
    if (p->count >= SAM_PARAM_MAX)
        return sam_fail(err, SAM_ERR_INVALID_ARG, "too many parameters (max %d)", SAM_PARAM_MAX);
    snprintf(p->names[p->count], SAM_PARAM_NAME_MAX, "%s", name);
    p->values[p->count++] = *v;
    return SAM_OK;
}

sam_status sam_params_set_int(sam_params *p, const char *name, int64_t v, sam_error *err)
{
    sam_value val = {.type = SAM_VAL_INT, .i = v, .f = (double)v};
    return sam_params_set(p, name, &val, err);
}

sam_status sam_params_set_float(sam_params *p, const char *name, double v, sam_error *err)
{
    sam_value val = {.type = SAM_VAL_FLOAT, .f = v};
    return sam_params_set(p, name, &val, err);
}

sam_status sam_params_set_str(sam_params *p, const char *name, const char *s, sam_error *err)
{
    sam_value val = {.type = SAM_VAL_STR};
    if (strlen(s) >= SAM_VALUE_STR_MAX)
        return sam_fail(err, SAM_ERR_INVALID_ARG, "value of '%s' is too long", name);
    snprintf(val.s, sizeof val.s, "%s", s);
    return sam_params_set(p, name, &val, err);
}

sam_status sam_params_set_list(sam_params *p, const char *name, const int64_t *v, int n, sam_error *err)
{
    sam_value val = {.type = SAM_VAL_LIST, .n = n};
    if (n < 0 || n > SAM_VALUE_LIST_MAX)
        return sam_fail(err, SAM_ERR_INVALID_ARG, "list '%s' is too long (max %d)", name, SAM_VALUE_LIST_MAX);
    if (n) memcpy(val.list, v, (size_t)n * sizeof *v);
    return sam_params_set(p, name, &val, err);
}

sam_status sam_params_set_reals(sam_params *p, const char *name, const double *v, int n, sam_error *err)
{
    sam_value val = {.type = SAM_VAL_REALS, .n = n};
    if (n < 0 || n > SAM_VALUE_LIST_MAX)
        return sam_fail(err, SAM_ERR_INVALID_ARG, "list '%s' is too long (max %d)", name, SAM_VALUE_LIST_MAX);
    if (n) memcpy(val.reals, v, (size_t)n * sizeof *v);
    return sam_params_set(p, name, &val, err);
}

int sam_value_as_double(const sam_value *v, double *out)
{
    if (v->type == SAM_VAL_INT) { *out = (double)v->i; return 1; }
    if (v->type == SAM_VAL_FLOAT) { *out = v->f; return 1; }
    return 0;
}

void sam_value_format(const sam_value *v, char *buf, int cap)
{
    switch (v->type) {
    case SAM_VAL_INT: snprintf(buf, (size_t)cap, "%lld", (long long)v->i); break;
    case SAM_VAL_FLOAT: snprintf(buf, (size_t)cap, "%.9g", v->f); break;
    case SAM_VAL_STR: snprintf(buf, (size_t)cap, "%s", v->s); break;
    case SAM_VAL_LIST:
    case SAM_VAL_REALS: {
        int used = snprintf(buf, (size_t)cap, "[");
        for (int i = 0; i < v->n && used < cap; i++)
            used += v->type == SAM_VAL_LIST ? snprintf(buf + used, (size_t)(cap - used), "%s%lld", i ? ", " : "", (long long)v->list[i])
                                            : snprintf(buf + used, (size_t)(cap - used), "%s%.9g", i ? ", " : "", v->reals[i]);
        if (used < cap) snprintf(buf + used, (size_t)(cap - used), "]");
        break;
    }
    }
}

int sam_value_equal(const sam_value *a, const sam_value *b)
{
    double x, y;
    if (sam_value_as_double(a, &x) && sam_value_as_double(b, &y)) return x == y;
    if (a->type != b->type) return 0;
    if (a->type == SAM_VAL_STR) return strcmp(a->s, b->s) == 0;
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++)
        if (a->type == SAM_VAL_LIST ? a->list[i] != b->list[i] : a->reals[i] != b->reals[i]) return 0;
    return 1;
}

/* ---- expression evaluator: recursive descent over the source string ---- */

typedef struct {
    const char *src;
    const char *s;
    const sam_params *p;
    sam_error *err;
    int depth;
} expr_ctx;

static void skip_ws(expr_ctx *c)
{
    while (isspace((unsigned char)*c->s)) c->s++;
}

static int accept(expr_ctx *c, const char *tok)
{
    skip_ws(c);
    size_t n = strlen(tok);
    if (strncmp(c->s, tok, n) != 0) return 0;
    /* keyword operators must not run into an identifier */
    if (isalpha((unsigned char)tok[0]) && (isalnum((unsigned char)c->s[n]) || c->s[n] == '_')) return 0;
    c->s += n;
    return 1;
}

static sam_status expr_error(expr_ctx *c, const char *what)
{
    return sam_fail(c->err, SAM_ERR_GRAPH, "in expression '%s' at column %d: %s", c->src,
                    (int)(c->s - c->src) + 1, what);
}

static sam_status parse_cond(expr_ctx *c, sam_value *out);

static void set_int(sam_value *v, int64_t i)
{
    memset(v, 0, sizeof *v);
    v->type = SAM_VAL_INT;
    v->i = i;
    v->f = (double)i;
}

/* The functions: len(list), sum(list) and sum(list, n) (of its first n items), pow(a, b)
 * of integers. What a graph derives from a variant's lists, e.g. a block's index from
 * the blocks per stage. */
static sam_status parse_call(expr_ctx *c, const char *name, sam_value *out)
{
    sam_value args[2];
    int n = 0;
    c->s++; /* '(' */
    if (!accept(c, ")")) {
        do {
            if (n == 2) return expr_error(c, "too many arguments");
            sam_status st = parse_cond(c, &args[n++]);
            if (st) return st;
        } while (accept(c, ","));
        if (!accept(c, ")")) return expr_error(c, "expected ')'");
    }
    if (strcmp(name, "len") == 0 && n == 1 && args[0].type == SAM_VAL_LIST) {
        set_int(out, args[0].n);
        return SAM_OK;
    }
    if (strcmp(name, "sum") == 0 && n >= 1 && args[0].type == SAM_VAL_LIST && (n == 1 || args[1].type == SAM_VAL_INT)) {
        int64_t count = n == 2 ? args[1].i : args[0].n, total = 0;
        if (count < 0 || count > args[0].n) return expr_error(c, "sum: count out of range");
        for (int64_t k = 0; k < count; k++)
            if (__builtin_add_overflow(total, args[0].list[k], &total)) return expr_error(c, "overflow");
        set_int(out, total);
        return SAM_OK;
    }
    if (strcmp(name, "pow") == 0 && n == 2 && args[0].type == SAM_VAL_INT && args[1].type == SAM_VAL_INT) {
        if (args[1].i < 0 || args[1].i > 62) return expr_error(c, "pow: exponent out of range");
        int64_t r = 1;
        for (int64_t k = 0; k < args[1].i; k++)
            if (__builtin_mul_overflow(r, args[0].i, &r)) return expr_error(c, "overflow");
        set_int(out, r);
        return SAM_OK;
    }
    char msg[128];
    snprintf(msg, sizeof msg, "unknown function '%s' or wrong arguments (len(list), sum(list[, n]), pow(int, int))", name);
    return expr_error(c, msg);
}

static sam_status parse_primary(expr_ctx *c, sam_value *out)
{
    skip_ws(c);
    memset(out, 0, sizeof *out);
    if (++c->depth > 64) return expr_error(c, "nested too deeply");
    sam_status st = SAM_OK;
    if (*c->s == '(') {
        c->s++;
        st = parse_cond(c, out);
        if (st == SAM_OK && !accept(c, ")")) st = expr_error(c, "expected ')'");
    } else if (*c->s == '[') {
        c->s++;
        out->type = SAM_VAL_LIST;
        if (!accept(c, "]")) {
            do {
                sam_value item;
                if ((st = parse_cond(c, &item)) != SAM_OK) break;
                if (item.type != SAM_VAL_INT) { st = expr_error(c, "list items must be integers"); break; }
                if (out->n >= SAM_VALUE_LIST_MAX) { st = expr_error(c, "list too long"); break; }
                out->list[out->n++] = item.i;
            } while (accept(c, ","));
            if (st == SAM_OK && !accept(c, "]")) st = expr_error(c, "expected ']'");
        }
    } else if (isdigit((unsigned char)*c->s) || *c->s == '.') {
        char *end;
        errno = 0;
        double d = strtod(c->s, &end);
        int is_float = 0;
        for (const char *q = c->s; q < end; q++)
            if (*q == '.' || *q == 'e' || *q == 'E') is_float = 1;
        if (end == c->s || errno) return expr_error(c, "bad number");
        if (is_float) {
            out->type = SAM_VAL_FLOAT;
            out->f = d;
        } else {
            errno = 0;
            long long v = strtoll(c->s, NULL, 10);
            if (errno) return expr_error(c, "integer out of range");
            out->type = SAM_VAL_INT;
            out->i = v;
            out->f = (double)v;
        }
        c->s = end;
    } else if (isalpha((unsigned char)*c->s) || *c->s == '_') {
        char name[SAM_PARAM_NAME_MAX];
        size_t n = 0;
        while ((isalnum((unsigned char)*c->s) || *c->s == '_')) {
            if (n + 1 >= sizeof name) return expr_error(c, "name too long");
            name[n++] = *c->s++;
        }
        name[n] = 0;
        skip_ws(c);
        if (*c->s == '(') {
            c->depth--;
            return parse_call(c, name, out);
        }
        const sam_value *v = sam_params_get(c->p, name);
        if (!v) {
            char msg[128];
            snprintf(msg, sizeof msg, "unknown parameter '%s'", name);
            return expr_error(c, msg);
        }
        *out = *v;
    } else {
        st = expr_error(c, *c->s ? "unexpected character" : "unexpected end");
    }
    c->depth--;
    if (st == SAM_OK && accept(c, "[")) { /* indexing: list[expr] */
        sam_value idx;
        if ((st = parse_cond(c, &idx)) != SAM_OK) return st;
        if (!accept(c, "]")) return expr_error(c, "expected ']'");
        if (out->type != SAM_VAL_LIST || idx.type != SAM_VAL_INT) return expr_error(c, "only lists can be indexed, by integers");
        if (idx.i < 0 || idx.i >= out->n) return expr_error(c, "index out of range");
        int64_t v = out->list[idx.i];
        memset(out, 0, sizeof *out);
        out->type = SAM_VAL_INT;
        out->i = v;
        out->f = (double)v;
    }
    return st;
}

static sam_status parse_unary(expr_ctx *c, sam_value *out)
{
    if (accept(c, "-")) {
        sam_status st = parse_unary(c, out);
        if (st) return st;
        if (out->type == SAM_VAL_INT) {
            if (out->i == INT64_MIN) return expr_error(c, "overflow");
            out->i = -out->i;
            out->f = (double)out->i;
        }
        else if (out->type == SAM_VAL_FLOAT) out->f = -out->f;
        else return expr_error(c, "cannot negate a list");
        return SAM_OK;
    }
    return parse_primary(c, out);
}

static sam_status arith(expr_ctx *c, char op, sam_value *a, const sam_value *b)
{
    if (a->type == SAM_VAL_LIST || b->type == SAM_VAL_LIST || a->type == SAM_VAL_STR || b->type == SAM_VAL_STR)
        return expr_error(c, "arithmetic needs numbers");
    if (a->type == SAM_VAL_INT && b->type == SAM_VAL_INT) {
        int64_t x = a->i, y = b->i, r = 0;
        switch (op) {
        case '+': if (__builtin_add_overflow(x, y, &r)) return expr_error(c, "overflow"); break;
        case '-': if (__builtin_sub_overflow(x, y, &r)) return expr_error(c, "overflow"); break;
        case '*': if (__builtin_mul_overflow(x, y, &r)) return expr_error(c, "overflow"); break;
        case '/':
        case '%':
            if (y == 0) return expr_error(c, "division by zero");
            if (x == INT64_MIN && y == -1) return expr_error(c, "overflow");
            r = op == '/' ? x / y : x % y;
            break;
        }
        a->i = r;
        a->f = (double)r;
        return SAM_OK;
    }
    double x = 0, y = 0;
    sam_value_as_double(a, &x);
    sam_value_as_double(b, &y);
    switch (op) {
    case '+': x += y; break;
    case '-': x -= y; break;
    case '*': x *= y; break;
    case '/': x /= y; break;
    case '%': x = fmod(x, y); break;
    }
    a->type = SAM_VAL_FLOAT;
    a->f = x;
    return SAM_OK;
}

static sam_status parse_product(expr_ctx *c, sam_value *out)
{
    sam_status st = parse_unary(c, out);
    while (st == SAM_OK) {
        char op = accept(c, "*") ? '*' : accept(c, "/") ? '/' : accept(c, "%") ? '%' : 0;
        if (!op) break;
        sam_value rhs;
        if ((st = parse_unary(c, &rhs)) == SAM_OK) st = arith(c, op, out, &rhs);
    }
    return st;
}

static sam_status parse_sum(expr_ctx *c, sam_value *out)
{
    sam_status st = parse_product(c, out);
    while (st == SAM_OK) {
        char op = accept(c, "+") ? '+' : accept(c, "-") ? '-' : 0;
        if (!op) break;
        sam_value rhs;
        if ((st = parse_product(c, &rhs)) == SAM_OK) st = arith(c, op, out, &rhs);
    }
    return st;
}


static sam_status parse_compare(expr_ctx *c, sam_value *out)
{
    sam_status st = parse_sum(c, out);
    if (st) return st;
    static const char *const ops[] = {"==", "!=", "<=", ">=", "<", ">", "not in", "in"};
    for (int k = 0; k < 8; k++) {
        if (!accept(c, ops[k])) continue;
        sam_value rhs;
        if ((st = parse_sum(c, &rhs)) != SAM_OK) return st;
        if (k >= 6) {
            if (rhs.type != SAM_VAL_LIST || out->type != SAM_VAL_INT) return expr_error(c, "'in' needs an integer and a list");
            int found = 0;
            for (int j = 0; j < rhs.n; j++) found |= rhs.list[j] == out->i;
            set_int(out, k == 7 ? found : !found);
            return SAM_OK;
        }
        double x = 0, y = 0;
        if (!sam_value_as_double(out, &x) || !sam_value_as_double(&rhs, &y)) return expr_error(c, "comparison needs numbers");
        int r = k == 0 ? x == y : k == 1 ? x != y : k == 2 ? x <= y : k == 3 ? x >= y : k == 4 ? x < y : x > y;
        set_int(out, r);
        return SAM_OK;
    }
    return SAM_OK;
}

static sam_status parse_not(expr_ctx *c, sam_value *out)
{
    if (!accept(c, "not")) return parse_compare(c, out);
    sam_status st = parse_not(c, out);
    double x;
    if (st) return st;
    if (!sam_value_as_double(out, &x)) return expr_error(c, "'not' needs a number");
    set_int(out, x == 0);
    return SAM_OK;
}

/* a and b, a or b: 0 or 1 (both sides are evaluated; there are no side effects) */
static sam_status parse_logic(expr_ctx *c, sam_value *out)
{
    sam_status st = parse_not(c, out);
    while (st == SAM_OK) {
        int is_and = accept(c, "and");
        if (!is_and && !accept(c, "or")) break;
        sam_value rhs;
        double x, y;
        if ((st = parse_not(c, &rhs))) break;
        if (!sam_value_as_double(out, &x) || !sam_value_as_double(&rhs, &y)) return expr_error(c, "'and' and 'or' need numbers");
        set_int(out, is_and ? (x != 0 && y != 0) : (x != 0 || y != 0));
    }
    return st;
}

static sam_status parse_cond(expr_ctx *c, sam_value *out)
{
    sam_status st = parse_logic(c, out);
    if (st || !accept(c, "?")) return st;
    double truth;
    if (!sam_value_as_double(out, &truth)) return expr_error(c, "condition must be a number");
    sam_value a, b;
    if ((st = parse_cond(c, &a)) != SAM_OK) return st;
    if (!accept(c, ":")) return expr_error(c, "expected ':'");
    if ((st = parse_cond(c, &b)) != SAM_OK) return st;
    *out = truth != 0 ? a : b;
    return SAM_OK;
}

sam_status sam_expr_eval(const char *src, const sam_params *p, sam_value *out, sam_error *err)
{
    expr_ctx c = {.src = src, .s = src, .p = p, .err = err};
    sam_status st = parse_cond(&c, out);
    if (st) return st;
    skip_ws(&c);
    if (*c.s) return expr_error(&c, "unexpected trailing text");
    return SAM_OK;
}

/* Finds the ")" closing the "(" at s; returns NULL if unbalanced. */
static const char *closing_paren(const char *s)
{
    int depth = 0;
    for (const char *q = s; *q; q++) {
        if (*q == '(') depth++;
        else if (*q == ')' && --depth == 0) return q;
    }
    return NULL;
}

static void parse_literal(const char *s, sam_value *out)
{
    char *end;
    memset(out, 0, sizeof *out);
    if (*s) {
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (*end == 0 && !errno) { out->type = SAM_VAL_INT; out->i = v; out->f = (double)v; return; }
        double d = strtod(s, &end);
        if (*end == 0 && !isspace((unsigned char)s[0])) { out->type = SAM_VAL_FLOAT; out->f = d; return; }
    }
    out->type = SAM_VAL_STR;
    snprintf(out->s, sizeof out->s, "%s", s);
}

sam_status sam_resolve_scalar(const char *src, const sam_params *p, sam_value *out, sam_error *err)
{
    const char *start = strstr(src, "$(");
    if (!start) {
        if (strlen(src) >= SAM_VALUE_STR_MAX) return sam_fail(err, SAM_ERR_GRAPH, "'%.40s...' is too long", src);
        parse_literal(src, out);
        return SAM_OK;
    }
    const char *close = closing_paren(start + 1);
    if (!close) return sam_fail(err, SAM_ERR_GRAPH, "unbalanced '$(' in '%s'", src);
    if (start == src && close[1] == 0) {
        char expr[256];
        size_t n = (size_t)(close - start - 2);
        if (n >= sizeof expr) return sam_fail(err, SAM_ERR_GRAPH, "expression too long in '%s'", src);
        memcpy(expr, start + 2, n);
        expr[n] = 0;
        return sam_expr_eval(expr, p, out, err);
    }
    char buf[SAM_VALUE_STR_MAX];
    size_t used = 0;
    const char *s = src;
    while (*s) {
        if (s[0] == '$' && s[1] == '(') {
            close = closing_paren(s + 1);
            if (!close) return sam_fail(err, SAM_ERR_GRAPH, "unbalanced '$(' in '%s'", src);
            char expr[256];
            size_t n = (size_t)(close - s - 2);
            if (n >= sizeof expr) return sam_fail(err, SAM_ERR_GRAPH, "expression too long in '%s'", src);
            memcpy(expr, s + 2, n);
            expr[n] = 0;
            sam_value v;
            sam_status st = sam_expr_eval(expr, p, &v, err);
            if (st) return st;
            if (v.type != SAM_VAL_INT && v.type != SAM_VAL_STR)
                return sam_fail(err, SAM_ERR_GRAPH, "'$(%s)' inside a name must be an integer or a string", expr);
            int w = v.type == SAM_VAL_STR ? snprintf(buf + used, sizeof buf - used, "%s", v.s) : snprintf(buf + used, sizeof buf - used, "%lld", (long long)v.i);
            if (w < 0 || used + (size_t)w >= sizeof buf) return sam_fail(err, SAM_ERR_GRAPH, "'%s' is too long", src);
            used += (size_t)w;
            s = close + 1;
        } else {
            if (used + 1 >= sizeof buf) return sam_fail(err, SAM_ERR_GRAPH, "'%s' is too long", src);
            buf[used++] = *s++;
        }
    }
    buf[used] = 0;
    parse_literal(buf, out);
    return SAM_OK;
}
