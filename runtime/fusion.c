#include "fusion.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ops/op.h"

typedef struct {
    sam_graph *g;
    int *uses;  /* consumers of each storage-owning tensor, views resolved */
    bool *dead; /* nodes removed by a rewrite */
} fuser;

static int base_of(const sam_graph *g, int t)
{
    return g->tensors[t].kind == SAM_TENSOR_VIEW ? g->tensors[t].view_of : t;
}

static void count_uses(fuser *f)
{
    sam_graph *g = f->g;
    memset(f->uses, 0, sizeof(int) * (size_t)g->n_tensors);
    for (int i = 0; i < g->n_nodes; i++) {
        /* view nodes only rename storage: the readers of the view are the consumers */
        if (f->dead[i] || g->tensors[g->nodes[i].out].kind == SAM_TENSOR_VIEW) continue;
        for (int k = 0; k < g->nodes[i].n_in; k++) f->uses[base_of(g, g->nodes[i].in[k])]++;
    }
}

static bool kept(const sam_graph *g, int t)
{
    return g->tensors[t].keep || g->tensors[base_of(g, t)].keep;
}

/* The node producing t's storage, if it is a live node of one of the given ops and t
 * has no other consumer; views whose last dimension is unchanged are looked through. */
static int sole_producer(const fuser *f, int t, int op_a, int op_b)
{
    const sam_graph *g = f->g;
    int b = base_of(g, t);
    if (g->tensors[t].shape[g->tensors[t].ndim - 1] != g->tensors[b].shape[g->tensors[b].ndim - 1]) return -1;
    int p = g->tensors[b].producer;
    if (p < 0 || f->dead[p] || f->uses[b] != 1 || kept(g, t)) return -1;
    if (g->tensors[b].kind == SAM_TENSOR_VIEW) return -1;
    return g->nodes[p].op == op_a || g->nodes[p].op == op_b ? p : -1;
}

static bool available_before(const sam_graph *g, int t, int node)
{
    int p = g->tensors[base_of(g, t)].producer;
    return p < node;
}

/* A plain linear becomes a fused_linear with nothing fused yet. */
static void as_fused_linear(sam_node *n)
{
    if (n->op == SAM_OP_fused_linear) return;
    n->op = SAM_OP_fused_linear;
    memset(n->attrs, 0, sizeof n->attrs);
    n->attrs[FL_EPS].f = 1e-5;
}

/* The node `from` now writes `to_out` (the output of the absorbed node). */
static void take_output(fuser *f, int node, int absorbed)
{
    sam_graph *g = f->g;
    int out = g->nodes[absorbed].out;
    g->nodes[node].out = out;
    g->tensors[out].producer = node;
    g->tensors[out].kind = SAM_TENSOR_ACTIVATION;
    g->tensors[out].view_of = -1;
    f->dead[absorbed] = true;
}

/* ---- the patterns ---- */

/* attention(q, linear(xk), linear(xv)) with few queries over many image tokens ->
 * attention_fold_kv. Left alone when xk and xv come from stable inputs only: their
 * projections are then cached across runs and cost nothing per prompt. */
static bool fuse_attention_kv(fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_attention) return false;
    const sam_tensor *q = &g->tensors[n->in[0]], *k = &g->tensors[n->in[1]];
    if (q->shape[1] > 64 || k->shape[1] < 256) return false;
    int jk = sole_producer(f, n->in[1], SAM_OP_linear, -1), jv = sole_producer(f, n->in[2], SAM_OP_linear, -1);
    if (jk < 0 || jv < 0 || jk == jv || g->nodes[jk].n_in != 3 || g->nodes[jv].n_in != 3) return false;
    int xk = g->nodes[jk].in[0], xv = g->nodes[jv].in[0];
    if (g->tensors[xk].invariant && g->tensors[xv].invariant) return false;
    sam_node fused = *n;
    fused.op = SAM_OP_attention_fold_kv;
    fused.n_in = 6;
    int in[6] = {n->in[0], xk, g->nodes[jk].in[1], xv, g->nodes[jv].in[1], g->nodes[jv].in[2]};
    memcpy(fused.in, in, sizeof in);
    *n = fused;
    f->dead[jk] = f->dead[jv] = true;
    return true;
}

/* linear_out(attention(q, k, v)) with many queries over a few tokens -> attention_fold_out,
 * taking q's own projection in too unless q comes from stable inputs only (then it is
 * cached). */
static bool fuse_attention_out(fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_linear || n->n_in != 3) return false;
    int j = sole_producer(f, n->in[0], SAM_OP_attention, -1);
    if (j < 0) return false;
    const sam_node *att = &g->nodes[j];
    if (g->tensors[att->in[1]].shape[1] > 64 || g->tensors[att->in[0]].shape[1] < 256) return false;
    sam_node fused = *n;
    fused.op = SAM_OP_attention_fold_out;
    fused.attrs[0] = att->attrs[0];
    int jq = sole_producer(f, att->in[0], SAM_OP_linear, -1);
    if (jq >= 0 && g->nodes[jq].n_in == 3 && !g->tensors[g->nodes[jq].in[0]].invariant) {
        int in[7] = {g->nodes[jq].in[0], g->nodes[jq].in[1], g->nodes[jq].in[2], att->in[1], att->in[2], n->in[1], n->in[2]};
        memcpy(fused.in, in, sizeof in);
        fused.n_in = 7;
        f->dead[jq] = true;
    } else {
        int in[5] = {att->in[0], att->in[1], att->in[2], n->in[1], n->in[2]};
        memcpy(fused.in, in, sizeof in);
        fused.n_in = 5;
    }
    *n = fused;
    f->dead[j] = true;
    return true;
}

/* linear(window_partition(x)) -> the linear gathers its rows from the windows of x */
static bool fuse_window_gather(fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_linear && !(n->op == SAM_OP_fused_linear && !n->attrs[FL_IN_WINDOW].i && !n->attrs[FL_PRENORM].i)) return false;
    int j = sole_producer(f, n->in[0], SAM_OP_window_partition, -1);
    if (j < 0 || g->nodes[j].attrs[WIN_SIZE].i <= 0) return false;
    as_fused_linear(n);
    n->attrs[FL_IN_WINDOW].i = g->nodes[j].attrs[WIN_SIZE].i;
    n->in[0] = g->nodes[j].in[0];
    f->dead[j] = true;
    return true;
}

/* linear(layer_norm(x)) -> the linear normalizes its rows as it reads them */
static bool fuse_prenorm(fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_linear && !(n->op == SAM_OP_fused_linear && !n->attrs[FL_PRENORM].i && !n->attrs[FL_RESIDUAL].i)) return false;
    int j = sole_producer(f, n->in[0], SAM_OP_layer_norm, -1);
    if (j < 0) return false;
    const sam_node *ln = &g->nodes[j];
    const sam_tensor *x = &g->tensors[ln->in[0]];
    int64_t axis = ln->attrs[LN_AXIS].i;
    if (axis != -1 && axis != x->ndim - 1) return false;
    if (n->n_in + 2 > SAM_MAX_INPUTS) return false;
    as_fused_linear(n);
    n->attrs[FL_PRENORM].i = 1;
    n->attrs[FL_EPS].f = ln->attrs[LN_EPS].f;
    n->in[0] = ln->in[0];
    n->in[n->n_in++] = ln->in[1];
    n->in[n->n_in++] = ln->in[2];
    f->dead[j] = true;
    return true;
}

/* window_unpartition(linear(x)) -> the linear scatters its rows back to the image */
static bool fuse_window_scatter(fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_window_unpartition || n->attrs[WIN_SIZE].i <= 0) return false;
    int j = sole_producer(f, n->in[0], SAM_OP_linear, SAM_OP_fused_linear);
    if (j < 0) return false;
    sam_node *lin = &g->nodes[j];
    if (lin->op == SAM_OP_fused_linear && (lin->attrs[FL_OUT_WINDOW].i || lin->attrs[FL_IN_WINDOW].i || lin->attrs[FL_RESIDUAL].i)) return false;
    as_fused_linear(lin);
    lin->attrs[FL_OUT_WINDOW].i = n->attrs[WIN_SIZE].i;
    lin->attrs[FL_HEIGHT].i = n->attrs[WIN_HEIGHT].i;
    lin->attrs[FL_WIDTH].i = n->attrs[WIN_WIDTH].i;
    take_output(f, j, i);
    return true;
}

/* conv_transpose2d(conv_transpose2d(x)) -> the first keeps its output in block order
 * (no scatter) and the second reads it so (its rows are pixels in any order anyway) */
static bool fuse_convt_blocked(fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_conv_transpose2d || n->attrs[CT_BLOCKED_IN].i) return false;
    int j = sole_producer(f, n->in[0], SAM_OP_conv_transpose2d, -1);
    if (j < 0 || g->tensors[n->in[0]].kind == SAM_TENSOR_VIEW) return false;
    sam_node *first = &g->nodes[j];
    if (first->attrs[CT_PROJECT].i || first->attrs[CT_BLOCKED_OUT].i || first->attrs[CT_BLOCKED_IN].i) return false;
    first->attrs[CT_BLOCKED_OUT].i = 1;
    n->attrs[CT_BLOCKED_IN].i = first->attrs[CT_STRIDE].i;
    return true;
}

/* conv2d(permute(x, [0, 2, 3, 1])) -> the conv reads x's NCHW layout directly */
static bool fuse_permute_conv(fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_conv2d || n->attrs[CONV_CHANNELS_FIRST].i) return false;
    int j = sole_producer(f, n->in[0], SAM_OP_permute, -1);
    if (j < 0) return false;
    const sam_attr *perm = &g->nodes[j].attrs[0];
    if (perm->n != 4 || perm->list[0] != 0 || perm->list[1] != 2 || perm->list[2] != 3 || perm->list[3] != 1) return false;
    n->attrs[CONV_CHANNELS_FIRST].i = 1;
    n->in[0] = g->nodes[j].in[0];
    f->dead[j] = true;
    return true;
}

/* matmul(vectors, conv_transpose2d(x) seen as [B, pixels, C]) -> the products are
 * taken pixel by pixel as the conv writes them (the decoder's masks: hypernetwork
 * outputs times the upscaled embedding, which then never exists in memory) */
static bool fuse_convt_project(fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_matmul || !n->attrs[0].i) return false; /* A x B^T only */
    int j = sole_producer(f, n->in[1], SAM_OP_conv_transpose2d, -1);
    if (j < 0) return false;
    sam_node *ct = &g->nodes[j];
    const sam_tensor *vec = &g->tensors[n->in[0]], *up = &g->tensors[n->in[1]];
    if (ct->attrs[CT_PROJECT].i || ct->n_in + 1 > SAM_MAX_INPUTS || up->ndim != 3 || up->shape[0] != vec->shape[0] ||
        !available_before(g, n->in[0], j))
        return false;
    ct->attrs[CT_PROJECT].i = 1;
    ct->in[ct->n_in++] = n->in[0];
    take_output(f, j, i);
    return true;
}

/* layer_norm(conv_transpose2d(x)) over channels -> normalized in the scatter */
static bool fuse_convt_norm(fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_layer_norm) return false;
    int64_t axis = n->attrs[LN_AXIS].i;
    if (axis != -1 && axis != g->tensors[n->in[0]].ndim - 1) return false;
    int j = sole_producer(f, n->in[0], SAM_OP_conv_transpose2d, -1);
    if (j < 0) return false;
    sam_node *ct = &g->nodes[j];
    if (ct->attrs[CT_NORM].i || ct->attrs[CT_ACTIVATION].i || ct->n_in + 2 > SAM_MAX_INPUTS) return false;
    ct->attrs[CT_NORM].i = 1;
    ct->attrs[CT_EPS].f = n->attrs[LN_EPS].f;
    ct->in[ct->n_in++] = n->in[1];
    ct->in[ct->n_in++] = n->in[2];
    take_output(f, j, i);
    return true;
}

/* add(attention_fold_out(...), r), then layer_norm -> the residual and the norm in its
 * row epilogue (the decoder's keys update: keys = norm4(keys + attn_out)) */
static bool fuse_fold_out_epilogue(fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op == SAM_OP_layer_norm) {
        int64_t axis = n->attrs[LN_AXIS].i;
        int j = sole_producer(f, n->in[0], SAM_OP_attention_fold_out, -1);
        if (j < 0 || (axis != -1 && axis != g->tensors[n->in[0]].ndim - 1)) return false;
        sam_node *fo = &g->nodes[j];
        if (fo->attrs[FOLD_NORM].i || fo->n_in + 2 > SAM_MAX_INPUTS) return false;
        fo->attrs[FOLD_NORM].i = 1;
        fo->attrs[FOLD_EPS].f = n->attrs[LN_EPS].f;
        fo->in[fo->n_in++] = n->in[1];
        fo->in[fo->n_in++] = n->in[2];
        take_output(f, j, i);
        return true;
    }
    if (n->op != SAM_OP_add) return false;
    int64_t size = sam_numel(&g->tensors[n->out]);
    for (int side = 0; side < 2; side++) {
        int t = n->in[side], r = n->in[1 - side];
        int j = sole_producer(f, t, SAM_OP_attention_fold_out, -1);
        const sam_tensor *rt = &g->tensors[r];
        /* the residual may be shared by the batch (the image side: [1, N, D]) */
        bool shared = rt->ndim == 3 && rt->shape[0] == 1 && sam_numel(rt) * g->tensors[t].shape[0] == size;
        if (j < 0 || (sam_numel(rt) != size && !shared) || sam_numel(&g->tensors[t]) != size || !available_before(g, r, j)) continue;
        sam_node *fo = &g->nodes[j];
        if (fo->attrs[FOLD_RESIDUAL].i || fo->attrs[FOLD_NORM].i || fo->n_in + 1 > SAM_MAX_INPUTS) continue;
        fo->attrs[FOLD_RESIDUAL].i = 1;
        fo->in[fo->n_in++] = r;
        take_output(f, j, i);
        return true;
    }
    return false;
}

/* Whether input k of node j is the image-token slot of an attention fold that adds
 * nothing yet: xk of attention_fold_kv, x (or q) of attention_fold_out. */
static bool fold_image_slot(const sam_node *n, int k)
{
    if (n->op == SAM_OP_attention_fold_kv) return k == 1 && !n->attrs[KV_PLUS].i;
    if (n->op == SAM_OP_attention_fold_out) return k == 0 && !n->attrs[FOLD_PLUS].i;
    return false;
}

/* add(x, pe) with pe shared by the batch ([1, N, D]: the keys' positional encoding) and
 * read only as the image tokens of attention folds -> each fold adds pe block by block
 * as it reads x, and the batch-sized sum is never stored. Sums of stable inputs are
 * left alone: they are computed once per image. */
static bool fuse_fold_plus(fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_add) return false;
    const sam_tensor *o = &g->tensors[n->out];
    if (kept(g, n->out) || o->invariant || o->kind == SAM_TENSOR_VIEW || o->ndim != 3) return false;
    int readers = 0;
    for (int j = i + 1; j < g->n_nodes; j++)
        for (int k = 0; !f->dead[j] && k < g->nodes[j].n_in; k++) {
            if (g->nodes[j].in[k] != n->out) continue;
            if (!fold_image_slot(&g->nodes[j], k) || g->nodes[j].n_in + 1 > SAM_MAX_INPUTS) return false;
            readers++;
        }
    if (readers == 0 || readers != f->uses[n->out]) return false; /* a reader through a view, or none */
    for (int side = 0; side < 2; side++) {
        const sam_tensor *x = &g->tensors[n->in[side]], *pe = &g->tensors[n->in[1 - side]];
        if (x->ndim != 3 || pe->ndim != 3 || pe->shape[0] != 1 || memcmp(x->shape, o->shape, sizeof(int64_t) * 3) != 0 ||
            pe->shape[1] != o->shape[1] || pe->shape[2] != o->shape[2])
            continue;
        for (int j = i + 1; j < g->n_nodes; j++) {
            sam_node *r = &g->nodes[j];
            for (int k = 0; !f->dead[j] && k < r->n_in; k++) {
                if (r->in[k] != n->out) continue;
                r->in[k] = n->in[side];
                r->attrs[r->op == SAM_OP_attention_fold_kv ? KV_PLUS : FOLD_PLUS].i = 1;
                r->in[r->n_in++] = n->in[1 - side];
                break;
            }
        }
        f->dead[i] = true;
        return true;
    }
    return false;
}

/* gelu/relu(linear(x)) or gelu/relu(conv_transpose2d(x)) -> activation in the epilogue */
static bool fuse_activation(fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_gelu && n->op != SAM_OP_relu) return false;
    int ct = sole_producer(f, n->in[0], SAM_OP_conv_transpose2d, -1);
    if (ct >= 0 && !g->nodes[ct].attrs[CT_ACTIVATION].i) {
        g->nodes[ct].attrs[CT_ACTIVATION].i = n->op == SAM_OP_gelu ? ACT_GELU : ACT_RELU;
        take_output(f, ct, i);
        return true;
    }
    int j = sole_producer(f, n->in[0], SAM_OP_linear, SAM_OP_fused_linear);
    if (j < 0) return false;
    sam_node *lin = &g->nodes[j];
    if (lin->op == SAM_OP_fused_linear && (lin->attrs[FL_ACTIVATION].i || lin->attrs[FL_RESIDUAL].i)) return false;
    as_fused_linear(lin);
    lin->attrs[FL_ACTIVATION].i = n->op == SAM_OP_gelu ? ACT_GELU : ACT_RELU;
    take_output(f, j, i);
    return true;
}

/* add(linear(x), r) with r of the same shape -> + r in the linear's epilogue */
static bool fuse_residual(fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_add) return false;
    int64_t size = sam_numel(&g->tensors[n->out]);
    for (int side = 0; side < 2; side++) {
        int t = n->in[side], r = n->in[1 - side];
        if (sam_numel(&g->tensors[t]) != size || sam_numel(&g->tensors[r]) != size) return false;
        int j = sole_producer(f, t, SAM_OP_linear, SAM_OP_fused_linear);
        if (j < 0 || base_of(g, r) == base_of(g, t) || !available_before(g, r, j)) continue;
        sam_node *lin = &g->nodes[j];
        if (lin->op == SAM_OP_fused_linear && lin->attrs[FL_RESIDUAL].i) continue;
        if (lin->n_in + 1 > SAM_MAX_INPUTS) continue;
        as_fused_linear(lin);
        lin->attrs[FL_RESIDUAL].i = 1;
        lin->in[lin->n_in++] = r;
        take_output(f, j, i);
        return true;
    }
    return false;
}

/* The live attention_fold_out producing t's storage with a residual and a norm and no
 * projection yet, and the index of its ln_weight input; -1 otherwise. */
static int normed_fold_out(const fuser *f, int t, int *ln_w)
{
    const sam_graph *g = f->g;
    int p = g->tensors[base_of(g, t)].producer;
    if (p < 0 || f->dead[p]) return -1;
    const sam_node *n = &g->nodes[p];
    if (n->op != SAM_OP_attention_fold_out || n->out != base_of(g, t) || !n->attrs[FOLD_RESIDUAL].i || !n->attrs[FOLD_NORM].i || n->attrs[FOLD_PROJECT].i)
        return -1;
    *ln_w = n->n_in - 2 - (n->attrs[FOLD_PLUS].i != 0);
    return p;
}

/* conv_transpose2d(fold_out_2(..., residual = fold_out_1(...))), both folds with a
 * residual and a norm and the conv with bias, norm and block-order output (the mask
 * decoder's first upscaling of its keys), the first fold's residual stable (the image
 * side) -> the folds take the conv's product through their norms (attention_fold_out
 * "project"): the first writes its output's product with the weights (aux), the second
 * finishes the conv from it as its own aux, for two T-column products instead of an
 * image-sized one per batch entry. */
static bool fuse_fold_projection(fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *c = &g->nodes[i];
    if (c->op != SAM_OP_conv_transpose2d || c->n_in != 5 || !c->attrs[CT_NORM].i || !c->attrs[CT_BLOCKED_OUT].i || c->attrs[CT_BLOCKED_IN].i ||
        c->attrs[CT_PROJECT].i)
        return false;
    int ln2, ln1, j2 = normed_fold_out(f, c->in[0], &ln2);
    if (j2 < 0 || kept(g, c->out)) return false;
    int res2 = ln2 - 1, j1 = normed_fold_out(f, g->nodes[j2].in[res2], &ln1);
    if (j1 < 0 || g->nodes[j1].n_in + 2 > SAM_MAX_INPUTS || g->nodes[j2].n_in + 5 > SAM_MAX_INPUTS) return false;
    const sam_tensor *w = &g->tensors[c->in[1]], *k1 = &g->tensors[g->nodes[j1].out], *res1 = &g->tensors[g->nodes[j1].in[ln1 - 1]];
    if (w->ndim != 4 || k1->ndim != 3 || w->shape[0] != k1->shape[2] || res1->ndim != 3 || res1->shape[0] != 1 || !res1->invariant) return false;
    char name[256];
    snprintf(name, sizeof name, "%s.projected", k1->name);
    int64_t shape[3] = {k1->shape[0], k1->shape[1], w->shape[1] * w->shape[2] * w->shape[3]};
    int pr = sam_graph_add_tensor(g, name, SAM_TENSOR_ACTIVATION, 3, shape);
    int *uses = pr < 0 ? NULL : realloc(f->uses, sizeof(int) * (size_t)(g->n_tensors + 1));
    if (!uses) return false; /* out of memory: the graph stays unfused here, still correct */
    f->uses = uses;
    c = &g->nodes[i];
    sam_node *f1 = &g->nodes[j1], *f2 = &g->nodes[j2];
    f1->attrs[FOLD_PROJECT].i = 1;
    f1->in[f1->n_in++] = c->in[1];
    f1->in[f1->n_in++] = f2->in[ln2];
    f1->has_aux = true;
    f1->aux = pr;
    g->tensors[pr].producer = j1;
    f2->attrs[FOLD_PROJECT].i = 2;
    f2->attrs[FOLD_UP_EPS].f = c->attrs[CT_EPS].f;
    f2->attrs[FOLD_UP_ACT].i = c->attrs[CT_ACTIVATION].i;
    int add[5] = {c->in[1], pr, c->in[2], c->in[3], c->in[4]};
    for (int k = 0; k < 5; k++) f2->in[f2->n_in++] = add[k];
    f2->has_aux = true;
    f2->aux = c->out;
    g->tensors[c->out].producer = j2;
    f->dead[i] = true;
    return true;
}

typedef struct {
    const char *name;
    bool (*apply)(fuser *f, int node);
} fusion_pattern;

/* Order matters: the attention folds claim their projections first; prologue folds
 * (window gather, norm) before the epilogue ones (scatter, activation, residual),
 * because a residual must be added after the activation and in the scattered layout. */
static const fusion_pattern patterns[] = {
    {"attention_fold_kv (token->image attention without image projections)", fuse_attention_kv},
    {"attention_fold_out (image->token attention without image projections)", fuse_attention_out},
    {"attention_fold_out -> residual add -> layer_norm", fuse_fold_out_epilogue},
    {"add of a shared positional encoding -> attention folds' image tokens", fuse_fold_plus},
    {"window_partition -> linear", fuse_window_gather},
    {"permute NCHW->NHWC -> conv2d", fuse_permute_conv},
    {"layer_norm -> linear", fuse_prenorm},
    {"linear -> window_unpartition", fuse_window_scatter},
    {"conv_transpose2d -> layer_norm", fuse_convt_norm},
    {"linear or conv_transpose2d -> gelu/relu", fuse_activation},
    {"conv_transpose2d -> matmul with a few vectors", fuse_convt_project},
    {"conv_transpose2d -> conv_transpose2d in block order", fuse_convt_blocked},
    {"attention_fold_out -> attention_fold_out -> conv_transpose2d through the norms", fuse_fold_projection},
    {"linear -> residual add", fuse_residual},
};
enum { N_PATTERNS = sizeof patterns / sizeof *patterns };

const char *sam_fusion_pattern_name(int i)
{
    return i >= 0 && i < N_PATTERNS ? patterns[i].name : NULL;
}

int sam_fusion_disabled_by_env(void)
{
    const char *v = getenv("SAMRT_NO_FUSE");
    return v && *v && strcmp(v, "0") != 0;
}

/* Drops dead nodes and nodes whose outputs nobody reads (views left behind). */
static sam_status compact(fuser *f, sam_error *err)
{
    sam_graph *g = f->g;
    for (bool changed = true; changed;) {
        changed = false;
        count_uses(f);
        for (int i = 0; i < g->n_nodes; i++) {
            int out = g->nodes[i].out;
            if (!f->dead[i] && g->tensors[out].kind == SAM_TENSOR_VIEW && f->uses[out] == 0 && !kept(g, out)) {
                /* a view node whose view nobody reads any more */
                bool read = false;
                for (int k = 0; k < g->n_nodes && !read; k++)
                    for (int m = 0; !f->dead[k] && m < g->nodes[k].n_in; m++) read |= g->nodes[k].in[m] == out;
                if (!read) f->dead[i] = changed = true;
            }
        }
    }
    int w = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (f->dead[i]) continue;
        g->nodes[w] = g->nodes[i];
        g->tensors[g->nodes[w].out].producer = w;
        if (g->nodes[w].has_aux) g->tensors[g->nodes[w].aux].producer = w;
        w++;
    }
    for (int t = 0; t < g->n_tensors; t++) {
        int p = g->tensors[t].producer;
        if (p >= 0 && (p >= w || (g->nodes[p].out != t && !(g->nodes[p].has_aux && g->nodes[p].aux == t))))
            g->tensors[t].producer = -1; /* orphaned by a rewrite */
    }
    g->n_nodes = w;
    /* outputs of rewritten nodes: invariant only if all their inputs are */
    for (int i = 0; i < g->n_nodes; i++) {
        sam_tensor *out = &g->tensors[g->nodes[i].out];
        out->invariant = true;
        for (int k = 0; k < g->nodes[i].n_in; k++) out->invariant &= g->tensors[g->nodes[i].in[k]].invariant;
        if (g->nodes[i].has_aux) g->tensors[g->nodes[i].aux].invariant = out->invariant;
    }
    (void)err;
    return SAM_OK;
}

sam_status sam_fuse_graph(sam_graph *g, sam_fusion_stats *stats, sam_error *err)
{
    sam_fusion_stats local = {0};
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    stats->nodes_before = g->n_nodes;
    fuser f = {g, calloc((size_t)g->n_tensors + 1, sizeof(int)), calloc((size_t)g->n_nodes + 1, sizeof(bool))};
    if (!f.uses || !f.dead) {
        free(f.uses);
        free(f.dead);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory fusing graph '%s'", g->name);
    }
    for (int p = 0; p < N_PATTERNS; p++) {
        count_uses(&f);
        for (int i = 0; i < g->n_nodes; i++) {
            if (f.dead[i] || !patterns[p].apply(&f, i)) continue;
            stats->applied[p]++;
            count_uses(&f);
        }
    }
    sam_status st = compact(&f, err);
    stats->nodes_after = g->n_nodes;
    free(f.uses);
    free(f.dead);
    return st;
}
