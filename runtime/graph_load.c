/* YAML graph loader (libyaml document API; marks give file:line:column).
 *
 * A graph file:
 *   graph: name
 *   params: [names the config must supply]
 *   inputs: [{name: image, shape: [1, 3, $(img_size), $(img_size)]}]
 *   outputs: [names, or {name: x, if: $(expr)}]
 *   nodes:
 *     - {op: linear, in: [x, weight.name, bias.name], out: y, attrs: {...}}
 *     - repeat: i            # the nodes below, once for each i in [0, count)
 *       count: $(depth)
 *       let: {dim: $(...)}   # (optional) names for the body, evaluated in order each time
 *       nodes: [...]
 *     - if: $(i == 0)        # then's nodes if non-zero, else else's (optional)
 *       then: [...]
 *       else: [...]
 * The root may have a `let` too, evaluated before the inputs.
 * An input marked `stable: 1` changes rarely (the image embedding, not the prompt):
 * nodes computed only from weights and stable inputs run again only when one changes.
 * Names are SSA: each tensor is produced once. A name that is neither a graph input
 * nor produced earlier must be a weight of the model (its state_dict key). */
#include "graph_load.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "blob_format.h"
#include "op.h"
#include "yaml_file.h"

typedef struct {
    const char *path;
    yaml_document_t *doc;
    sam_graph *g;
    const sam_model *model;
    sam_error *err;
    int64_t expanded; /* nodes, ifs and repeat rounds visited, against SAM_GRAPH_MAX_EXPANSION */
} loader;

/* Nested repeats and YAML aliases multiply what a short file expands to: the largest real
 * graph (hiera_l's encoder) visits 768; a file that asks for over 100 times that is
 * refused rather than ground through. */
#define SAM_GRAPH_MAX_EXPANSION 100000

/* Integer attributes (window sizes, strides, axes, padding) are small: bounding them keeps
 * the ops' shape arithmetic far from overflow. */
#define SAM_ATTR_INT_MAX (1LL << 24)

static sam_status at(loader *L, const yaml_node_t *n, sam_status code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static sam_status count_expansion(loader *L, const yaml_node_t *n)
{
    if (++L->expanded <= SAM_GRAPH_MAX_EXPANSION) return SAM_OK;
    return at(L, n, SAM_ERR_GRAPH, "the graph expands to more than %d nodes, ifs and repeat rounds (nested repeats or YAML aliases?)",
              SAM_GRAPH_MAX_EXPANSION);
}

static sam_status at(loader *L, const yaml_node_t *n, sam_status code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static sam_status at(loader *L, const yaml_node_t *n, sam_status code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sam_fail(L->err, code, "%s:%zu:%zu: %s", L->path, n->start_mark.line + 1, n->start_mark.column + 1, msg);
}

/* Re-raises a lower-level error (expression, shape inference) at node n. */
static sam_status at_err(loader *L, const yaml_node_t *n)
{
    char msg[sizeof L->err->msg];
    memcpy(msg, L->err->msg, sizeof msg);
    return sam_fail(L->err, L->err->code, "%s:%zu:%zu: %s", L->path, n->start_mark.line + 1, n->start_mark.column + 1, msg);
}

static yaml_node_t *node_at(loader *L, int idx)
{
    return yaml_document_get_node(L->doc, idx);
}

static const char *kind_name(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? "a scalar" : n->type == YAML_SEQUENCE_NODE ? "a list" : "a mapping";
}

static sam_status expect(loader *L, const yaml_node_t *n, yaml_node_type_t type, const char *what)
{
    if (n->type == type) return SAM_OK;
    const char *want = type == YAML_SCALAR_NODE ? "a scalar" : type == YAML_SEQUENCE_NODE ? "a list" : "a mapping";
    return at(L, n, SAM_ERR_GRAPH, "expected %s for %s, found %s", want, what, kind_name(n));
}

/* Checks that every key of mapping n is in allowed (NULL-terminated). */
static sam_status check_keys(loader *L, const yaml_node_t *n, const char *const *allowed, const char *where)
{
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(L, p->key);
        if (k->type != YAML_SCALAR_NODE) return at(L, k, SAM_ERR_GRAPH, "keys of %s must be scalars", where);
        int ok = 0;
        for (const char *const *a = allowed; *a; a++) ok |= strcmp((const char *)k->data.scalar.value, *a) == 0;
        if (!ok) {
            char list[200] = "";
            for (const char *const *a = allowed; *a; a++) {
                strncat(list, *a, sizeof list - strlen(list) - 3);
                if (a[1]) strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return at(L, k, SAM_ERR_GRAPH, "unknown key '%s' in %s (expected one of: %s)", (const char *)k->data.scalar.value, where, list);
        }
    }
    return SAM_OK;
}

static yaml_node_t *get(loader *L, const yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(L, p->key);
        if (k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0) return node_at(L, p->value);
    }
    return NULL;
}

static sam_status resolve(loader *L, const yaml_node_t *n, const sam_params *p, sam_value *v, const char *what)
{
    sam_status st = expect(L, n, YAML_SCALAR_NODE, what);
    if (st) return st;
    if (sam_resolve_scalar((const char *)n->data.scalar.value, p, v, L->err)) return at_err(L, n);
    return SAM_OK;
}

static sam_status resolve_name(loader *L, const yaml_node_t *n, const sam_params *p, char *out, size_t cap, const char *what)
{
    sam_value v;
    sam_status st = resolve(L, n, p, &v, what);
    if (st) return st;
    if (v.type == SAM_VAL_LIST) return at(L, n, SAM_ERR_GRAPH, "expected a name for %s, found a list", what);
    sam_value_format(&v, out, (int)cap);
    return SAM_OK;
}

static sam_status resolve_int(loader *L, const yaml_node_t *n, const sam_params *p, int64_t *out, const char *what)
{
    sam_value v;
    sam_status st = resolve(L, n, p, &v, what);
    if (st) return st;
    if (v.type != SAM_VAL_INT) return at(L, n, SAM_ERR_GRAPH, "expected an integer for %s", what);
    *out = v.i;
    return SAM_OK;
}

/* A list attribute is either a YAML list of scalars or one expression giving a list. */
static sam_status resolve_ints(loader *L, const yaml_node_t *n, const sam_params *p, int64_t *out, int *count, int cap, const char *what)
{
    if (n->type == YAML_SCALAR_NODE) {
        sam_value v;
        sam_status st = resolve(L, n, p, &v, what);
        if (st) return st;
        if (v.type != SAM_VAL_LIST) return at(L, n, SAM_ERR_GRAPH, "expected a list of integers for %s", what);
        if (v.n > cap) return at(L, n, SAM_ERR_GRAPH, "%s has %d items (max %d)", what, v.n, cap);
        memcpy(out, v.list, (size_t)v.n * sizeof *out);
        *count = v.n;
        return SAM_OK;
    }
    sam_status st = expect(L, n, YAML_SEQUENCE_NODE, what);
    if (st) return st;
    int k = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        if (k >= cap) return at(L, n, SAM_ERR_GRAPH, "%s has more than %d items", what, cap);
        if ((st = resolve_int(L, node_at(L, *it), p, &out[k++], what))) return st;
    }
    *count = k;
    return SAM_OK;
}

static int define_input(loader *L, const char *name, int ndim, const int64_t *shape)
{
    int t = sam_graph_add_tensor(L->g, name, SAM_TENSOR_INPUT, ndim, shape);
    if (t < 0) return -1;
    int *ins = realloc(L->g->inputs, (size_t)(L->g->n_inputs + 1) * sizeof(int));
    if (!ins) return -1;
    L->g->inputs = ins;
    ins[L->g->n_inputs++] = t;
    return t;
}

static sam_status parse_inputs(loader *L, const yaml_node_t *seq, const sam_params *p)
{
    static const char *const keys[] = {"name", "shape", "stable", "if", "doc", NULL};
    sam_status st = expect(L, seq, YAML_SEQUENCE_NODE, "'inputs'");
    if (st) return st;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        yaml_node_t *n = node_at(L, *it);
        if ((st = expect(L, n, YAML_MAPPING_NODE, "an input")) || (st = check_keys(L, n, keys, "an input"))) return st;
        yaml_node_t *name_n = get(L, n, "name"), *shape_n = get(L, n, "shape"), *if_n = get(L, n, "if");
        if (if_n) { /* an input only some configurations have (the decoder's mask input) */
            int64_t present;
            if ((st = resolve_int(L, if_n, p, &present, "the condition of an input"))) return st;
            if (!present) continue;
        }
        if (!name_n || !shape_n) return at(L, n, SAM_ERR_GRAPH, "an input needs 'name' and 'shape'");
        char name[SAM_VALUE_STR_MAX];
        int64_t shape[SAM_MAX_DIMS];
        int ndim = 0;
        if ((st = resolve_name(L, name_n, p, name, sizeof name, "an input name")) ||
            (st = resolve_ints(L, shape_n, p, shape, &ndim, SAM_MAX_DIMS, "an input shape")))
            return st;
        for (int d = 0; d < ndim; d++)
            if (shape[d] < 1 || shape[d] > (1 << 24)) return at(L, shape_n, SAM_ERR_GRAPH, "input dimension %lld is out of range", (long long)shape[d]);
        if (!sam_shape_fits(ndim, shape)) return at(L, shape_n, SAM_ERR_GRAPH, "the input has more than 2^%d elements", SAM_TENSOR_MAX_NUMEL_LOG2);
        if (sam_graph_find(L->g, name) >= 0) return at(L, name_n, SAM_ERR_GRAPH, "input '%s' is declared twice", name);
        int t = define_input(L, name, ndim, shape);
        if (t < 0) return sam_fail(L->err, SAM_ERR_NOMEM, "out of memory");
        yaml_node_t *stable_n = get(L, n, "stable");
        if (stable_n) {
            int64_t stable;
            if ((st = resolve_int(L, stable_n, p, &stable, "'stable' (0 or 1)"))) return st;
            L->g->tensors[t].stable = L->g->tensors[t].invariant = stable != 0;
        }
    }
    return SAM_OK;
}

/* An i8 weight's scales: the blob's tensor NAME@scale, f32, of the weight's rank with
 * every dimension 1 but the channel axis. f32 and bf16 weights have none. */
static sam_status weight_scales(loader *L, const yaml_node_t *at_node, const sam_weight *w, const sam_weight **scale, int *axis)
{
    if (w->dtype == SAM_F32 || w->dtype == SAM_BF16) return SAM_OK;
    if (w->dtype != SAM_I8) return at(L, at_node, SAM_ERR_UNSUPPORTED, "weight '%s' is %s; the kernels take f32, bf16 or i8 weights", w->name, sam_dtype_name(w->dtype));
    char name[SAM_BLOB_NAME_MAX + 8];
    snprintf(name, sizeof name, "%s@scale", w->name);
    const sam_weight *s = sam_model_weight(L->model, name);
    if (!s) return at(L, at_node, SAM_ERR_FORMAT, "%s: i8 weight '%s' has no scales ('%s')", L->model->path, w->name, name);
    int ok = s->dtype == SAM_F32 && s->ndim == w->ndim && w->ndim > 0, a = 0;
    for (int d = 0; ok && d < s->ndim; d++)
        if (s->shape[d] != 1) a = d;
    for (int d = 0; ok && d < s->ndim; d++) ok = s->shape[d] == (d == a ? w->shape[d] : 1);
    if (!ok) return at(L, at_node, SAM_ERR_FORMAT, "%s: the scales '%s' of i8 weight '%s' must be f32 with one entry per channel of one dimension", L->model->path, name, w->name);
    *scale = s;
    *axis = a;
    return SAM_OK;
}

/* Finds a tensor by name, creating weight tensors on first use. */
static sam_status lookup_tensor(loader *L, const yaml_node_t *at_node, const char *name, int *out)
{
    int t = sam_graph_find(L->g, name);
    if (t >= 0) {
        *out = t;
        return SAM_OK;
    }
    const sam_weight *w = L->model ? sam_model_weight(L->model, name) : NULL;
    if (!w)
        return at(L, at_node, SAM_ERR_GRAPH, "undefined tensor '%s': not a graph input, not produced by an earlier node, and not a weight of %s",
                  name, L->model ? L->model->path : "the model (none given)");
    int scale_axis = 0;
    const sam_weight *scale = NULL;
    sam_status st = weight_scales(L, at_node, w, &scale, &scale_axis);
    if (st) return st;
    t = sam_graph_add_tensor(L->g, name, SAM_TENSOR_WEIGHT, w->ndim, w->shape);
    if (t < 0) return sam_fail(L->err, SAM_ERR_NOMEM, "out of memory");
    L->g->tensors[t].dtype = w->dtype;
    L->g->tensors[t].data = (void *)w->data;
    L->g->tensors[t].scale = scale ? scale->data : NULL;
    L->g->tensors[t].scale_axis = scale_axis;
    L->g->tensors[t].invariant = true;
    *out = t;
    return SAM_OK;
}

static sam_status parse_attr(loader *L, const sam_attr_spec *spec, const yaml_node_t *n, const sam_params *p, sam_attr *a)
{
    char what[80];
    snprintf(what, sizeof what, "attribute '%s'", spec->name);
    if (spec->type == SAM_ATTR_INTS) {
        sam_status st = resolve_ints(L, n, p, a->list, &a->n, SAM_MAX_DIMS, what);
        for (int i = 0; st == SAM_OK && i < a->n; i++)
            if (a->list[i] < -SAM_ATTR_INT_MAX || a->list[i] > SAM_ATTR_INT_MAX)
                return at(L, n, SAM_ERR_GRAPH, "%s: %lld is out of range (|value| <= 2^24)", what, (long long)a->list[i]);
        return st;
    }
    sam_value v;
    sam_status st = resolve(L, n, p, &v, what);
    if (st) return st;
    if (spec->type == SAM_ATTR_ENUM) {
        const char *c = spec->choices;
        for (int64_t k = 0; v.type == SAM_VAL_STR && *c; k++) {
            size_t len = strcspn(c, "|");
            if (strlen(v.s) == len && strncmp(c, v.s, len) == 0) {
                a->i = k;
                a->f = (double)k;
                return SAM_OK;
            }
            c += len + (c[len] == '|');
        }
        return at(L, n, SAM_ERR_GRAPH, "%s must be one of %s", what, spec->choices);
    }
    if (spec->type == SAM_ATTR_INT) {
        if (v.type != SAM_VAL_INT) return at(L, n, SAM_ERR_GRAPH, "expected an integer for %s", what);
        if (v.i < -SAM_ATTR_INT_MAX || v.i > SAM_ATTR_INT_MAX) return at(L, n, SAM_ERR_GRAPH, "%s: %lld is out of range (|value| <= 2^24)", what, (long long)v.i);
        a->i = v.i;
        a->f = (double)v.i;
    } else {
        if (!sam_value_as_double(&v, &a->f)) return at(L, n, SAM_ERR_GRAPH, "expected a number for %s", what);
    }
    return SAM_OK;
}

static sam_status parse_node(loader *L, const yaml_node_t *n, const sam_params *p)
{
    static const char *const keys[] = {"op", "in", "out", "attrs", "doc", NULL};
    sam_status st = check_keys(L, n, keys, "a node");
    if (st) return st;
    yaml_node_t *op_n = get(L, n, "op"), *in_n = get(L, n, "in"), *out_n = get(L, n, "out"), *attrs_n = get(L, n, "attrs");
    if (!op_n || !in_n || !out_n) return at(L, n, SAM_ERR_GRAPH, "a node needs 'op', 'in' and 'out'");
    if ((st = expect(L, op_n, YAML_SCALAR_NODE, "'op'"))) return st;
    const char *op_name = (const char *)op_n->data.scalar.value;
    int op = sam_op_find(op_name);
    if (op < 0) {
        char list[400] = "";
        for (int i = 0; i < sam_op_count(); i++) {
            strncat(list, sam_op_get(i)->name, sizeof list - strlen(list) - 3);
            if (i + 1 < sam_op_count()) strncat(list, ", ", sizeof list - strlen(list) - 1);
        }
        return at(L, op_n, SAM_ERR_GRAPH, "unknown op '%s' (known ops: %s)", op_name, list);
    }
    const sam_op_def *def = sam_op_get(op);
    sam_node node = {.op = op, .line = (int)n->start_mark.line + 1, .column = (int)n->start_mark.column + 1};

    if ((st = expect(L, in_n, YAML_SEQUENCE_NODE, "'in'"))) return st;
    for (yaml_node_item_t *it = in_n->data.sequence.items.start; it < in_n->data.sequence.items.top; it++) {
        yaml_node_t *item = node_at(L, *it);
        char name[SAM_VALUE_STR_MAX];
        if (node.n_in >= def->max_inputs) return at(L, in_n, SAM_ERR_GRAPH, "op '%s' takes at most %d inputs", def->name, def->max_inputs);
        if ((st = resolve_name(L, item, p, name, sizeof name, "an input tensor")) ||
            (st = lookup_tensor(L, item, name, &node.in[node.n_in])))
            return st;
        node.n_in++;
    }
    if (node.n_in < def->min_inputs) return at(L, in_n, SAM_ERR_GRAPH, "op '%s' needs at least %d inputs, got %d", def->name, def->min_inputs, node.n_in);

    int seen[SAM_MAX_ATTRS] = {0};
    if (attrs_n) {
        if ((st = expect(L, attrs_n, YAML_MAPPING_NODE, "'attrs'"))) return st;
        for (yaml_node_pair_t *pr = attrs_n->data.mapping.pairs.start; pr < attrs_n->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = node_at(L, pr->key);
            const char *key = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
            int idx = -1;
            for (int i = 0; i < def->n_attrs; i++)
                if (strcmp(def->attrs[i].name, key) == 0) idx = i;
            if (idx < 0) {
                char list[200] = "";
                for (int i = 0; i < def->n_attrs; i++) {
                    strncat(list, def->attrs[i].name, sizeof list - strlen(list) - 3);
                    if (i + 1 < def->n_attrs) strncat(list, ", ", sizeof list - strlen(list) - 1);
                }
                return at(L, k, SAM_ERR_GRAPH, "op '%s' has no attribute '%s' (its attributes: %s)", def->name, key, def->n_attrs ? list : "none");
            }
            if (seen[idx]++) return at(L, k, SAM_ERR_GRAPH, "attribute '%s' is given twice", key);
            if ((st = parse_attr(L, &def->attrs[idx], node_at(L, pr->value), p, &node.attrs[idx]))) return st;
        }
    }
    for (int i = 0; i < def->n_attrs; i++) {
        if (seen[i]) continue;
        if (def->attrs[i].required) return at(L, n, SAM_ERR_GRAPH, "op '%s' needs attribute '%s'", def->name, def->attrs[i].name);
        node.attrs[i].i = (int64_t)def->attrs[i].default_value;
        node.attrs[i].f = def->attrs[i].default_value;
    }

    char out_name[SAM_VALUE_STR_MAX];
    if ((st = resolve_name(L, out_n, p, out_name, sizeof out_name, "'out'"))) return st;
    if (sam_graph_find(L->g, out_name) >= 0 || (L->model && sam_model_weight(L->model, out_name)))
        return at(L, out_n, SAM_ERR_GRAPH, "tensor '%s' is already defined (each name is produced once)", out_name);

    sam_tensor out_t = {0};
    const sam_tensor *ins[SAM_MAX_INPUTS];
    for (int i = 0; i < node.n_in; i++) ins[i] = &L->g->tensors[node.in[i]];
    if (def->infer(&node, ins, &out_t, L->err)) return at_err(L, n);
    if (!sam_shape_fits(out_t.ndim, out_t.shape)) {
        char shape[160];
        return at(L, n, SAM_ERR_GRAPH, "the output would be %s: more than 2^%d elements", sam_shape_str(out_t.ndim, out_t.shape, shape, sizeof shape),
                  SAM_TENSOR_MAX_NUMEL_LOG2);
    }
    bool alias = def->aliases_input && def->aliases_input(&node);
    int t = sam_graph_add_tensor(L->g, out_name, alias ? SAM_TENSOR_VIEW : SAM_TENSOR_ACTIVATION, out_t.ndim, out_t.shape);
    if (t < 0) return sam_fail(L->err, SAM_ERR_NOMEM, "out of memory");
    sam_tensor *tt = &L->g->tensors[t];
    if (alias) {
        const sam_tensor *src = &L->g->tensors[node.in[0]];
        tt->view_of = src->kind == SAM_TENSOR_VIEW ? src->view_of : node.in[0];
    }
    node.out = t;
    tt->producer = L->g->n_nodes;
    tt->invariant = true;
    for (int i = 0; i < node.n_in; i++) tt->invariant &= L->g->tensors[node.in[i]].invariant;
    if (sam_graph_add_node(L->g, &node) < 0) return sam_fail(L->err, SAM_ERR_NOMEM, "out of memory");
    return SAM_OK;
}

static sam_status parse_nodes(loader *L, const yaml_node_t *seq, const sam_params *p, int depth);

/* - if: $(expr)      the nodes of `then` when expr is non-zero, else those of `else`
 *   then: [...]
 *   else: [...]      (optional) */
static sam_status parse_if(loader *L, const yaml_node_t *n, const sam_params *p, int depth)
{
    static const char *const keys[] = {"if", "then", "else", "doc", NULL};
    sam_status st = check_keys(L, n, keys, "an if");
    if (st) return st;
    yaml_node_t *cond_n = get(L, n, "if"), *then_n = get(L, n, "then"), *else_n = get(L, n, "else");
    if (!then_n) return at(L, n, SAM_ERR_GRAPH, "an if needs 'then'");
    if (depth >= 8) return at(L, n, SAM_ERR_GRAPH, "ifs and repeats nest too deeply");
    int64_t cond;
    if ((st = resolve_int(L, cond_n, p, &cond, "the condition of an if"))) return st;
    if (cond) return parse_nodes(L, then_n, p, depth + 1);
    return else_n ? parse_nodes(L, else_n, p, depth + 1) : SAM_OK;
}

/* let: {name: value, ...}: each value resolved with the names before it, then added to p. */
static sam_status apply_let(loader *L, const yaml_node_t *let_n, sam_params *p)
{
    sam_status st = expect(L, let_n, YAML_MAPPING_NODE, "'let'");
    for (yaml_node_pair_t *pr = let_n->data.mapping.pairs.start; st == SAM_OK && pr < let_n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = node_at(L, pr->key);
        sam_value v;
        if ((st = expect(L, k, YAML_SCALAR_NODE, "a name in 'let'"))) break;
        if ((st = resolve(L, node_at(L, pr->value), p, &v, (const char *)k->data.scalar.value))) break;
        if (sam_params_set(p, (const char *)k->data.scalar.value, &v, L->err)) st = at_err(L, k);
    }
    return st;
}

static sam_status parse_nodes(loader *L, const yaml_node_t *seq, const sam_params *p, int depth)
{
    static const char *const repeat_keys[] = {"repeat", "count", "let", "nodes", "doc", NULL};
    sam_status st = expect(L, seq, YAML_SEQUENCE_NODE, "'nodes'");
    if (st) return st;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        yaml_node_t *n = node_at(L, *it);
        if ((st = expect(L, n, YAML_MAPPING_NODE, "a node")) || (st = count_expansion(L, n))) return st;
        if (get(L, n, "if")) {
            if ((st = parse_if(L, n, p, depth))) return st;
            continue;
        }
        yaml_node_t *var_n = get(L, n, "repeat");
        if (!var_n) {
            if ((st = parse_node(L, n, p))) return st;
            continue;
        }
        if ((st = check_keys(L, n, repeat_keys, "a repeat"))) return st;
        yaml_node_t *count_n = get(L, n, "count"), *body = get(L, n, "nodes"), *let_n = get(L, n, "let");
        if (!count_n || !body) return at(L, n, SAM_ERR_GRAPH, "a repeat needs 'count' and 'nodes'");
        if (depth >= 8) return at(L, n, SAM_ERR_GRAPH, "ifs and repeats nest too deeply");
        if ((st = expect(L, var_n, YAML_SCALAR_NODE, "the repeat variable"))) return st;
        int64_t count;
        if ((st = resolve_int(L, count_n, p, &count, "'count'"))) return st;
        if (count < 0 || count > 100000) return at(L, count_n, SAM_ERR_GRAPH, "repeat count %lld is out of range", (long long)count);
        sam_params *inner = malloc(sizeof *inner);
        if (!inner) return sam_fail(L->err, SAM_ERR_NOMEM, "out of memory");
        *inner = *p;
        for (int64_t i = 0; i < count && st == SAM_OK; i++) {
            if ((st = count_expansion(L, count_n))) break;
            if (sam_params_set_int(inner, (const char *)var_n->data.scalar.value, i, L->err)) st = at_err(L, var_n);
            else if (!let_n || (st = apply_let(L, let_n, inner)) == SAM_OK) st = parse_nodes(L, body, inner, depth + 1);
        }
        free(inner);
        if (st) return st;
    }
    return SAM_OK;
}

static sam_status parse_body(loader *L, const yaml_node_t *inputs_n, const yaml_node_t *outputs_n, const yaml_node_t *nodes_n, const sam_params *params);

static sam_status parse_root(loader *L, const yaml_node_t *root, const sam_params *params)
{
    static const char *const keys[] = {"graph", "doc", "params", "let", "inputs", "outputs", "nodes", NULL};
    sam_status st;
    if ((st = expect(L, root, YAML_MAPPING_NODE, "the graph")) || (st = check_keys(L, root, keys, "the graph"))) return st;
    yaml_node_t *name_n = get(L, root, "graph"), *params_n = get(L, root, "params"), *inputs_n = get(L, root, "inputs");
    yaml_node_t *outputs_n = get(L, root, "outputs"), *nodes_n = get(L, root, "nodes");
    if (!name_n || !inputs_n || !outputs_n || !nodes_n) return at(L, root, SAM_ERR_GRAPH, "a graph needs 'graph', 'inputs', 'outputs' and 'nodes'");
    if ((st = expect(L, name_n, YAML_SCALAR_NODE, "'graph'"))) return st;
    L->g->name = strdup((const char *)name_n->data.scalar.value);
    if (!L->g->name) return sam_fail(L->err, SAM_ERR_NOMEM, "out of memory");
    if (params_n) {
        if ((st = expect(L, params_n, YAML_SEQUENCE_NODE, "'params'"))) return st;
        for (yaml_node_item_t *it = params_n->data.sequence.items.start; it < params_n->data.sequence.items.top; it++) {
            yaml_node_t *pn = node_at(L, *it);
            if ((st = expect(L, pn, YAML_SCALAR_NODE, "a parameter name"))) return st;
            if (!sam_params_get(params, (const char *)pn->data.scalar.value))
                return at(L, pn, SAM_ERR_GRAPH, "the graph needs parameter '%s', which the config does not give", (const char *)pn->data.scalar.value);
        }
    }
    yaml_node_t *let_n = get(L, root, "let");
    if (let_n) { /* the graph's own derived names, on a copy of the config's */
        sam_params *with_let = malloc(sizeof *with_let);
        if (!with_let) return sam_fail(L->err, SAM_ERR_NOMEM, "out of memory");
        *with_let = *params;
        st = apply_let(L, let_n, with_let);
        if (st == SAM_OK) st = parse_body(L, inputs_n, outputs_n, nodes_n, with_let);
        free(with_let);
        return st;
    }
    return parse_body(L, inputs_n, outputs_n, nodes_n, params);
}

static sam_status parse_body(loader *L, const yaml_node_t *inputs_n, const yaml_node_t *outputs_n, const yaml_node_t *nodes_n, const sam_params *params)
{
    sam_status st;
    if ((st = parse_inputs(L, inputs_n, params))) return st;
    if ((st = parse_nodes(L, nodes_n, params, 0))) return st;
    if ((st = expect(L, outputs_n, YAML_SEQUENCE_NODE, "'outputs'"))) return st;
    for (yaml_node_item_t *it = outputs_n->data.sequence.items.start; it < outputs_n->data.sequence.items.top; it++) {
        yaml_node_t *on = node_at(L, *it);
        if (on->type == YAML_MAPPING_NODE) { /* {name: x, if: $(...)}: an output only some configurations have */
            static const char *const keys[] = {"name", "if", "doc", NULL};
            yaml_node_t *if_n = get(L, on, "if");
            int64_t present = 1;
            if ((st = check_keys(L, on, keys, "an output"))) return st;
            if (!get(L, on, "name")) return at(L, on, SAM_ERR_GRAPH, "an output needs 'name'");
            if (if_n && (st = resolve_int(L, if_n, params, &present, "the condition of an output"))) return st;
            if (!present) continue;
            on = get(L, on, "name");
        }
        char name[SAM_VALUE_STR_MAX];
        if ((st = resolve_name(L, on, params, name, sizeof name, "an output"))) return st;
        int t = sam_graph_find(L->g, name);
        if (t < 0) return at(L, on, SAM_ERR_GRAPH, "output '%s' is not produced by any node", name);
        int *outs = realloc(L->g->outputs, (size_t)(L->g->n_outputs + 1) * sizeof(int));
        if (!outs) return sam_fail(L->err, SAM_ERR_NOMEM, "out of memory");
        L->g->outputs = outs;
        outs[L->g->n_outputs++] = t;
        sam_graph_keep(L->g, name, NULL);
    }
    return SAM_OK;
}

sam_status sam_graph_load_file(const char *path, const sam_params *params, const sam_model *model, sam_graph **out, sam_error *err)
{
    *out = NULL;
    yaml_document_t doc;
    sam_status st = sam_yaml_load_file(path, "graph", &doc, err);
    if (st) return st;

    sam_graph *g = sam_graph_new();
    loader L = {.path = path, .doc = &doc, .g = g, .model = model, .err = err};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!g) st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    else if (!root) st = sam_fail(err, SAM_ERR_GRAPH, "%s: the file is empty", path);
    else {
        g->params = *params;
        g->model = model;
        g->source = strdup(path);
        st = g->source ? parse_root(&L, root, params) : sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    yaml_document_delete(&doc);
    if (st) {
        sam_graph_free(g);
        return st;
    }
    *out = g;
    return SAM_OK;
}
