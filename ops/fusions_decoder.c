/* The fusion patterns of SAM's mask decoder: attention over a few prompt tokens and
 * thousands of image tokens rewritten so that no image-sized projection is computed
 * per prompt (attention_fold_kv / attention_fold_out, ops/attention_fold.c), with the
 * residuals, norms, positional encodings and the first upscaling conv folded into them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/fusion.h"
#include "fusions.h"
#include "ops.h"

/* attention(q, linear(xk), linear(xv)) with few queries over many image tokens ->
 * attention_fold_kv. Left alone when xk and xv come from stable inputs only: their
 * projections are then cached across runs and cost nothing per prompt. */
bool fuse_attention_kv(sam_fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_attention) return false;
    const sam_tensor *q = &g->tensors[n->in[0]], *k = &g->tensors[n->in[1]];
    if (q->shape[1] > 64 || k->shape[1] < 256) return false;
    int jk = sam_fuse_sole_producer(f, n->in[1], SAM_OP_linear, -1), jv = sam_fuse_sole_producer(f, n->in[2], SAM_OP_linear, -1);
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
bool fuse_attention_out(sam_fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_linear || n->n_in != 3) return false;
    int j = sam_fuse_sole_producer(f, n->in[0], SAM_OP_attention, -1);
    if (j < 0) return false;
    const sam_node *att = &g->nodes[j];
    if (g->tensors[att->in[1]].shape[1] > 64 || g->tensors[att->in[0]].shape[1] < 256) return false;
    sam_node fused = *n;
    fused.op = SAM_OP_attention_fold_out;
    fused.attrs[0] = att->attrs[0];
    int jq = sam_fuse_sole_producer(f, att->in[0], SAM_OP_linear, -1);
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

/* add(attention_fold_out(...), r), then layer_norm -> the residual and the norm in its
 * row epilogue (the decoder's keys update: keys = norm4(keys + attn_out)) */
bool fuse_fold_out_epilogue(sam_fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op == SAM_OP_layer_norm) {
        int64_t axis = n->attrs[LN_AXIS].i;
        int j = sam_fuse_sole_producer(f, n->in[0], SAM_OP_attention_fold_out, -1);
        if (j < 0 || (axis != -1 && axis != g->tensors[n->in[0]].ndim - 1)) return false;
        sam_node *fo = &g->nodes[j];
        if (fo->attrs[FOLD_NORM].i || fo->n_in + 2 > SAM_MAX_INPUTS) return false;
        fo->attrs[FOLD_NORM].i = 1;
        fo->attrs[FOLD_EPS].f = n->attrs[LN_EPS].f;
        fo->in[fo->n_in++] = n->in[1];
        fo->in[fo->n_in++] = n->in[2];
        sam_fuse_take_output(f, j, i);
        return true;
    }
    if (n->op != SAM_OP_add) return false;
    int64_t size = sam_numel(&g->tensors[n->out]);
    for (int side = 0; side < 2; side++) {
        int t = n->in[side], r = n->in[1 - side];
        int j = sam_fuse_sole_producer(f, t, SAM_OP_attention_fold_out, -1);
        const sam_tensor *rt = &g->tensors[r];
        /* the residual may be shared by the batch (the image side: [1, N, D]) */
        bool shared = rt->ndim == 3 && rt->shape[0] == 1 && sam_numel(rt) * g->tensors[t].shape[0] == size;
        if (j < 0 || (sam_numel(rt) != size && !shared) || sam_numel(&g->tensors[t]) != size || !sam_fuse_available_before(g, r, j)) continue;
        sam_node *fo = &g->nodes[j];
        if (fo->attrs[FOLD_RESIDUAL].i || fo->attrs[FOLD_NORM].i || fo->n_in + 1 > SAM_MAX_INPUTS) continue;
        fo->attrs[FOLD_RESIDUAL].i = 1;
        fo->in[fo->n_in++] = r;
        sam_fuse_take_output(f, j, i);
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
bool fuse_fold_plus(sam_fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_add) return false;
    const sam_tensor *o = &g->tensors[n->out];
    if (sam_fuse_kept(g, n->out) || o->invariant || o->kind == SAM_TENSOR_VIEW || o->ndim != 3) return false;
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

/* The live attention_fold_out producing t's storage with a residual and a norm and no
 * projection yet, and the index of its ln_weight input; -1 otherwise. */
static int normed_fold_out(const sam_fuser *f, int t, int *ln_w)
{
    const sam_graph *g = f->g;
    int p = g->tensors[sam_fuse_base_of(g, t)].producer;
    if (p < 0 || f->dead[p]) return -1;
    const sam_node *n = &g->nodes[p];
    if (n->op != SAM_OP_attention_fold_out || n->out != sam_fuse_base_of(g, t) || !n->attrs[FOLD_RESIDUAL].i || !n->attrs[FOLD_NORM].i || n->attrs[FOLD_PROJECT].i)
        return -1;
    *ln_w = n->n_in - 2 - (n->attrs[FOLD_PLUS].i != 0);
    return p;
}

/* conv_transpose2d(fold_out_2(..., residual = fold_out_1(...))), both folds with a
 * residual and a norm and the conv with bias, norm and block-order output (and SAM 2's
 * addend) (the mask decoder's first upscaling of its keys), the first fold's residual
 * stable (the image side) -> the folds take the conv's product through their norms
 * (attention_fold_out "project"): the first writes its output's product with the
 * weights (aux), the second finishes the conv from it as its own aux, for two T-column
 * products instead of an image-sized one per batch entry. */
bool fuse_fold_projection(sam_fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *c = &g->nodes[i];
    int addend = c->attrs[CT_ADDEND].i != 0; /* inputs x, W, b, [addend], ln_w, ln_b */
    if (c->op != SAM_OP_conv_transpose2d || c->n_in != 5 + addend || !c->attrs[CT_NORM].i || !c->attrs[CT_BLOCKED_OUT].i || c->attrs[CT_BLOCKED_IN].i ||
        c->attrs[CT_PROJECT].i)
        return false;
    int ln2, ln1, j2 = normed_fold_out(f, c->in[0], &ln2);
    if (j2 < 0 || sam_fuse_kept(g, c->out)) return false;
    int res2 = ln2 - 1, j1 = normed_fold_out(f, g->nodes[j2].in[res2], &ln1);
    if (j1 < 0 || g->nodes[j1].n_in + 2 > SAM_MAX_INPUTS || g->nodes[j2].n_in + 5 + addend > SAM_MAX_INPUTS) return false;
    if (addend && !sam_fuse_available_before(g, c->in[3], j2)) return false;
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
    f2->attrs[FOLD_UP_ADDEND].i = addend;
    int add[6] = {c->in[1], pr, c->in[2], c->in[3], c->in[4], addend ? c->in[5] : -1};
    for (int k = 0; k < 5 + addend; k++) f2->in[f2->n_in++] = add[k];
    f2->has_aux = true;
    f2->aux = c->out;
    g->tensors[c->out].producer = j2;
    f->dead[i] = true;
    return true;
}
