/* A pickle virtual machine for state_dicts: values live in a pool freed at the end;
 * the only callables are the handful torch.save emits, resolved by name. */
#include "pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_TUPLE, V_LIST, V_DICT, V_GLOBAL, V_MARK, V_STORAGE, V_TENSOR } vtype;

typedef struct pval pval;
struct pval {
    vtype type;
    int64_t i;
    double f;
    char *s;        /* V_STR; V_GLOBAL "module.name"; V_STORAGE key */
    pval **items;   /* tuple/list items; dict keys and values alternating */
    int n, cap;
    sam_dtype dtype; /* V_STORAGE */
    sam_pt_tensor *tensor;
};

typedef struct {
    const uint8_t *p;
    size_t pos, len;
    const char *where;
    sam_error *err;
    pval **stack;
    int sp, stack_cap;
    pval **memo;
    size_t memo_cap, memo_count; /* MEMOIZE stores at memo_count */
    pval **pool; /* every allocation, for freeing */
    size_t n_pool, pool_cap;
    size_t budget; /* bytes we allow ourselves to allocate */
} vm;

static sam_status bad(vm *m, const char *what)
{
    return sam_fail(m->err, SAM_ERR_FORMAT, "%s: malformed pickle at byte %zu: %s", m->where, m->pos, what);
}

static void *vm_alloc(vm *m, size_t bytes)
{
    if (bytes > m->budget) return NULL;
    m->budget -= bytes;
    if (m->n_pool == m->pool_cap) {
        size_t ncap = m->pool_cap ? m->pool_cap * 2 : 1024;
        pval **np = realloc(m->pool, ncap * sizeof *np);
        if (!np) return NULL;
        m->pool = np;
        m->pool_cap = ncap;
    }
    void *q = calloc(1, bytes);
    if (q) m->pool[m->n_pool++] = q;
    return q;
}

static pval *new_val(vm *m, vtype t)
{
    pval *v = vm_alloc(m, sizeof *v);
    if (v) v->type = t;
    return v;
}

static int push_item(vm *m, pval *c, pval *item)
{
    if (c->n == c->cap) {
        int ncap = c->cap ? c->cap * 2 : 8;
        pval **ni = vm_alloc(m, (size_t)ncap * sizeof *ni);
        if (!ni) return 0;
        if (c->n) memcpy(ni, c->items, (size_t)c->n * sizeof *ni);
        c->items = ni; /* the old array stays in the pool until the end */
        c->cap = ncap;
    }
    c->items[c->n++] = item;
    return 1;
}

static sam_status push(vm *m, pval *v)
{
    if (!v) return sam_fail(m->err, SAM_ERR_NOMEM, "%s: pickle too large or out of memory", m->where);
    if (m->sp == m->stack_cap) {
        int ncap = m->stack_cap ? m->stack_cap * 2 : 256;
        if (ncap > (1 << 22)) return bad(m, "stack too deep");
        pval **ns = realloc(m->stack, (size_t)ncap * sizeof *ns);
        if (!ns) return sam_fail(m->err, SAM_ERR_NOMEM, "out of memory");
        m->stack = ns;
        m->stack_cap = ncap;
    }
    m->stack[m->sp++] = v;
    return SAM_OK;
}

static pval *pop(vm *m)
{
    return m->sp > 0 && m->stack[m->sp - 1]->type != V_MARK ? m->stack[--m->sp] : NULL;
}

static int mark_index(vm *m)
{
    for (int i = m->sp - 1; i >= 0; i--)
        if (m->stack[i]->type == V_MARK) return i;
    return -1;
}

static int need(vm *m, size_t n)
{
    return n <= m->len - m->pos;
}

static uint64_t rd(vm *m, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | m->p[m->pos + (size_t)i];
    m->pos += (size_t)n;
    return v;
}

static pval *make_str(vm *m, const uint8_t *s, size_t n)
{
    pval *v = new_val(m, V_STR);
    if (!v || !(v->s = vm_alloc(m, n + 1))) return NULL;
    memcpy(v->s, s, n);
    v->s[n] = 0;
    return v;
}

static sam_status memo_put(vm *m, uint64_t idx)
{
    if (m->sp == 0) return bad(m, "memo put on an empty stack");
    if (idx > (1u << 24)) return bad(m, "memo index too large");
    if (idx >= m->memo_cap) {
        size_t ncap = m->memo_cap ? m->memo_cap : 256;
        while (ncap <= idx) ncap *= 2;
        pval **nm = realloc(m->memo, ncap * sizeof *nm);
        if (!nm) return sam_fail(m->err, SAM_ERR_NOMEM, "out of memory");
        memset(nm + m->memo_cap, 0, (ncap - m->memo_cap) * sizeof *nm);
        m->memo = nm;
        m->memo_cap = ncap;
    }
    m->memo[idx] = m->stack[m->sp - 1];
    if (idx + 1 > m->memo_count) m->memo_count = idx + 1;
    return SAM_OK;
}

static sam_status memo_get(vm *m, uint64_t idx)
{
    if (idx >= m->memo_cap || !m->memo[idx]) return bad(m, "memo get of an unset index");
    return push(m, m->memo[idx]);
}

static int to_int_list(const pval *t, int64_t *out, int cap)
{
    if (t->type != V_TUPLE || t->n > cap) return -1;
    for (int i = 0; i < t->n; i++) {
        if (t->items[i]->type != V_INT) return -1;
        out[i] = t->items[i]->i;
    }
    return t->n;
}

static sam_dtype storage_dtype(const char *global, int *ok)
{
    *ok = 1;
    if (strcmp(global, "torch.FloatStorage") == 0) return SAM_F32;
    if (strcmp(global, "torch.HalfStorage") == 0) return SAM_F16;
    if (strcmp(global, "torch.BFloat16Storage") == 0) return SAM_BF16;
    *ok = 0;
    return SAM_F32;
}

/* ('storage', torch.XStorage, key, location, numel) */
static sam_status persistent_load(vm *m, pval *pid)
{
    if (pid->type != V_TUPLE || pid->n < 5 || pid->items[0]->type != V_STR || strcmp(pid->items[0]->s, "storage") != 0 ||
        pid->items[1]->type != V_GLOBAL || pid->items[2]->type != V_STR || pid->items[4]->type != V_INT)
        return bad(m, "persistent id is not a torch storage reference");
    int ok;
    sam_dtype dt = storage_dtype(pid->items[1]->s, &ok);
    if (!ok) return sam_fail(m->err, SAM_ERR_UNSUPPORTED, "%s: storage type %s is not supported (float32, float16 and bfloat16 are)", m->where, pid->items[1]->s);
    pval *s = new_val(m, V_STORAGE);
    if (!s) return push(m, NULL);
    s->s = pid->items[2]->s;
    s->dtype = dt;
    s->i = pid->items[4]->i;
    if (s->i < 0) return bad(m, "negative storage size");
    return push(m, s);
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, metadata]) */
static sam_status rebuild_tensor(vm *m, pval *args)
{
    if (args->type != V_TUPLE || args->n < 4 || args->items[0]->type != V_STORAGE || args->items[1]->type != V_INT)
        return bad(m, "_rebuild_tensor_v2 with unexpected arguments");
    pval *v = new_val(m, V_TENSOR);
    sam_pt_tensor *t = v ? vm_alloc(m, sizeof *t) : NULL;
    if (!t) return push(m, NULL);
    v->tensor = t;
    t->storage_key = args->items[0]->s;
    t->dtype = args->items[0]->dtype;
    t->storage_numel = args->items[0]->i;
    t->storage_offset = args->items[1]->i;
    int nd = to_int_list(args->items[2], t->shape, SAM_MAX_DIMS), ns = to_int_list(args->items[3], t->stride, SAM_MAX_DIMS);
    if (nd < 0 || ns != nd) return sam_fail(m->err, SAM_ERR_UNSUPPORTED, "%s: tensor with a bad or over-%d-dimensional shape", m->where, SAM_MAX_DIMS);
    t->ndim = nd;
    return push(m, v);
}

static sam_status reduce(vm *m)
{
    pval *args = pop(m), *fn = pop(m);
    if (!args || !fn) return bad(m, "REDUCE needs a callable and arguments");
    if (fn->type != V_GLOBAL) return bad(m, "REDUCE of a non-global");
    if (strcmp(fn->s, "collections.OrderedDict") == 0) return push(m, new_val(m, V_DICT));
    if (strcmp(fn->s, "torch._utils._rebuild_tensor_v2") == 0) return rebuild_tensor(m, args);
    if (strcmp(fn->s, "torch._utils._rebuild_parameter") == 0) {
        if (args->type != V_TUPLE || args->n < 1 || args->items[0]->type != V_TENSOR) return bad(m, "_rebuild_parameter without a tensor");
        return push(m, args->items[0]);
    }
    return sam_fail(m->err, SAM_ERR_UNSUPPORTED, "%s: the pickle calls %s, which a SAM state_dict never does; refusing to load it", m->where, fn->s);
}

/* TUPLE: everything above the topmost MARK becomes one tuple, replacing the mark. */
static sam_status op_tuple(vm *m)
{
    int mk = mark_index(m);
    if (mk < 0) return bad(m, "missing MARK");
    pval *t = new_val(m, V_TUPLE);
    if (!t) return push(m, NULL);
    for (int i = mk + 1; i < m->sp; i++)
        if (!push_item(m, t, m->stack[i])) return push(m, NULL);
    m->sp = mk;
    return push(m, t);
}

static sam_status op_tuple_n(vm *m, int n)
{
    if (m->sp < n) return bad(m, "stack underflow");
    for (int i = m->sp - n; i < m->sp; i++)
        if (m->stack[i]->type == V_MARK) return bad(m, "MARK inside a short tuple");
    pval *t = new_val(m, V_TUPLE);
    if (!t) return push(m, NULL);
    for (int i = m->sp - n; i < m->sp; i++)
        if (!push_item(m, t, m->stack[i])) return push(m, NULL);
    m->sp -= n;
    return push(m, t);
}

/* APPEND(S) and SETITEM(S): items from `first` on go into the container below them. */
static sam_status fill_container(vm *m, int first, int pairs)
{
    if (first < 1) return bad(m, "no container below the items");
    pval *c = m->stack[first - 1];
    int n = m->sp - first;
    if (pairs && (c->type != V_DICT || n % 2)) return bad(m, "SETITEM on a non-dict or with an odd item count");
    if (!pairs && c->type != V_LIST) return bad(m, "APPEND on a non-list");
    for (int i = first; i < m->sp; i++)
        if (!push_item(m, c, m->stack[i])) return push(m, NULL);
    m->sp = first;
    return SAM_OK;
}

static sam_status step(vm *m, uint8_t op, pval **result, int *done)
{
    switch (op) {
    case 0x80: /* PROTO */
        if (!need(m, 1)) return bad(m, "truncated");
        if (m->p[m->pos++] > 5) return bad(m, "unknown protocol");
        return SAM_OK;
    case 0x95: /* FRAME */
        if (!need(m, 8)) return bad(m, "truncated");
        m->pos += 8;
        return SAM_OK;
    case '.': /* STOP */
        *result = pop(m);
        *done = 1;
        return *result ? SAM_OK : bad(m, "STOP with an empty stack");
    case '(': return push(m, new_val(m, V_MARK));
    case ')': return push(m, new_val(m, V_TUPLE));
    case ']': return push(m, new_val(m, V_LIST));
    case '}': return push(m, new_val(m, V_DICT));
    case 'N': return push(m, new_val(m, V_NONE));
    case 0x88: case 0x89: { /* NEWTRUE, NEWFALSE */
        pval *v = new_val(m, V_BOOL);
        if (v) v->i = op == 0x88;
        return push(m, v);
    }
    case 'J': case 'K': case 'M': { /* BININT, BININT1, BININT2 */
        int n = op == 'J' ? 4 : op == 'K' ? 1 : 2;
        if (!need(m, (size_t)n)) return bad(m, "truncated");
        uint64_t x = rd(m, n);
        pval *v = new_val(m, V_INT);
        if (v) v->i = op == 'J' ? (int64_t)(int32_t)x : (int64_t)x;
        return push(m, v);
    }
    case 0x8a: { /* LONG1 */
        if (!need(m, 1)) return bad(m, "truncated");
        int n = m->p[m->pos++];
        if (n > 8 || !need(m, (size_t)n)) return bad(m, "integer too large");
        uint64_t x = n ? rd(m, n) : 0;
        if (n && n < 8 && ((x >> (8 * n - 1)) & 1)) x |= ~(uint64_t)0 << (8 * n); /* sign-extend */
        pval *v = new_val(m, V_INT);
        if (v) v->i = (int64_t)x;
        return push(m, v);
    }
    case 'G': { /* BINFLOAT, big-endian */
        if (!need(m, 8)) return bad(m, "truncated");
        uint64_t x = 0;
        for (int i = 0; i < 8; i++) x = x << 8 | m->p[m->pos++];
        pval *v = new_val(m, V_FLOAT);
        if (v) memcpy(&v->f, &x, sizeof x);
        return push(m, v);
    }
    case 'X': case 0x8c: case 0x8d: case 'U': case 'T': { /* unicode and byte strings */
        int n = op == 'X' || op == 'T' ? 4 : op == 0x8d ? 8 : 1;
        if (!need(m, (size_t)n)) return bad(m, "truncated");
        uint64_t len = rd(m, n);
        if (!need(m, len)) return bad(m, "string runs past the end");
        pval *v = make_str(m, m->p + m->pos, (size_t)len);
        m->pos += (size_t)len;
        return push(m, v);
    }
    case 'c': { /* GLOBAL "module\nname\n" */
        const uint8_t *s = m->p + m->pos, *nl1 = memchr(s, '\n', m->len - m->pos);
        const uint8_t *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(m->p + m->len - nl1 - 1)) : NULL;
        if (!nl2 || nl2 - s > 200) return bad(m, "bad GLOBAL");
        pval *v = make_str(m, s, (size_t)(nl2 - s));
        if (v) {
            v->type = V_GLOBAL;
            v->s[nl1 - s] = '.';
        }
        m->pos += (size_t)(nl2 - s) + 1;
        return push(m, v);
    }
    case 0x93: { /* STACK_GLOBAL */
        pval *name = pop(m), *mod = pop(m);
        if (!name || !mod || name->type != V_STR || mod->type != V_STR) return bad(m, "bad STACK_GLOBAL");
        size_t a = strlen(mod->s), b = strlen(name->s);
        pval *v = new_val(m, V_GLOBAL);
        if (v && (v->s = vm_alloc(m, a + b + 2))) {
            memcpy(v->s, mod->s, a);
            v->s[a] = '.';
            memcpy(v->s + a + 1, name->s, b + 1);
        } else {
            v = NULL;
        }
        return push(m, v);
    }
    case 'q': case 'r': /* BINPUT, LONG_BINPUT */
        if (!need(m, op == 'q' ? 1 : 4)) return bad(m, "truncated");
        return memo_put(m, rd(m, op == 'q' ? 1 : 4));
    case 0x94: /* MEMOIZE */
        return memo_put(m, m->memo_count);
    case 'h': case 'j': /* BINGET, LONG_BINGET */
        if (!need(m, op == 'h' ? 1 : 4)) return bad(m, "truncated");
        return memo_get(m, rd(m, op == 'h' ? 1 : 4));
    case 't': return op_tuple(m);
    case 0x85: return op_tuple_n(m, 1);
    case 0x86: return op_tuple_n(m, 2);
    case 0x87: return op_tuple_n(m, 3);
    case 'a': return fill_container(m, m->sp - 1, 0); /* APPEND */
    case 's': return fill_container(m, m->sp - 2, 1); /* SETITEM */
    case 'e': case 'u': { /* APPENDS, SETITEMS */
        int mk = mark_index(m);
        if (mk < 0) return bad(m, "missing MARK");
        memmove(m->stack + mk, m->stack + mk + 1, (size_t)(m->sp - mk - 1) * sizeof *m->stack);
        m->sp--;
        return fill_container(m, mk, op == 'u');
    }
    case 'Q': { /* BINPERSID */
        pval *pid = pop(m);
        if (!pid) return bad(m, "BINPERSID on an empty stack");
        return persistent_load(m, pid);
    }
    case 'R': return reduce(m);
    case 'b': { /* BUILD: state for the object below; a state_dict's _metadata, unused */
        pval *state = pop(m);
        if (!state || m->sp < 1) return bad(m, "BUILD without an object");
        return SAM_OK;
    }
    case '0': /* POP */
        if (m->sp < 1) return bad(m, "POP on an empty stack");
        m->sp--;
        return SAM_OK;
    case '1': { /* POP_MARK */
        int mk = mark_index(m);
        if (mk < 0) return bad(m, "missing MARK");
        m->sp = mk;
        return SAM_OK;
    }
    case '2': /* DUP */
        if (m->sp < 1) return bad(m, "DUP on an empty stack");
        return push(m, m->stack[m->sp - 1]);
    default:
        return sam_fail(m->err, SAM_ERR_UNSUPPORTED, "%s: pickle opcode 0x%02x at byte %zu is not used by torch.save state_dicts; refusing to load", m->where, op,
                        m->pos - 1);
    }
}

static sam_status collect(vm *m, const pval *dict, sam_pt_tensor **out, int *n)
{
    if (dict->type != V_DICT) return sam_fail(m->err, SAM_ERR_FORMAT, "%s: the pickle does not hold a state_dict (a dict of tensors)", m->where);
    int count = dict->n / 2;
    sam_pt_tensor *t = calloc((size_t)(count ? count : 1), sizeof *t);
    if (!t) return sam_fail(m->err, SAM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < count; i++) {
        const pval *k = dict->items[2 * i], *v = dict->items[2 * i + 1];
        if (k->type != V_STR || v->type != V_TENSOR) {
            sam_pt_tensors_free(t, i);
            if (k->type == V_STR)
                return sam_fail(m->err, SAM_ERR_FORMAT, "%s: state_dict entry '%s' is not a tensor (a training checkpoint? save model.state_dict())", m->where, k->s);
            return sam_fail(m->err, SAM_ERR_FORMAT, "%s: state_dict has a non-string key", m->where);
        }
        t[i] = *v->tensor;
        t[i].name = strdup(k->s);
        t[i].storage_key = strdup(v->tensor->storage_key);
        if (!t[i].name || !t[i].storage_key) {
            sam_pt_tensors_free(t, i + 1);
            return sam_fail(m->err, SAM_ERR_NOMEM, "out of memory");
        }
    }
    *out = t;
    *n = count;
    return SAM_OK;
}

sam_status sam_pickle_state_dict(const uint8_t *data, size_t len, const char *where, sam_pt_tensor **out, int *n, sam_error *err)
{
    *out = NULL;
    *n = 0;
    /* a state_dict pickle is a few bytes per value; cap what a hostile file can make us allocate */
    vm m = {.p = data, .len = len, .where = where, .err = err, .budget = 64 * len + (1 << 20)};
    pval *result = NULL;
    sam_status st = SAM_OK;
    int done = 0;
    while (st == SAM_OK && !done) {
        if (!need(&m, 1)) {
            st = bad(&m, "ended without STOP");
            break;
        }
        st = step(&m, m.p[m.pos++], &result, &done);
    }
    /* SAM 2's checkpoints wrap the state_dict: torch.save({"model": state_dict}) */
    if (st == SAM_OK && result && result->type == V_DICT && result->n == 2 && result->items[0]->type == V_STR &&
        strcmp(result->items[0]->s, "model") == 0 && result->items[1]->type == V_DICT)
        result = result->items[1];
    if (st == SAM_OK) st = collect(&m, result, out, n);
    for (size_t i = 0; i < m.n_pool; i++) free(m.pool[i]);
    free(m.pool);
    free(m.stack);
    free(m.memo);
    return st;
}

void sam_pt_tensors_free(sam_pt_tensor *t, int n)
{
    if (!t) return;
    for (int i = 0; i < n; i++) {
        free(t[i].name);
        free(t[i].storage_key);
    }
    free(t);
}
