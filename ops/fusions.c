/* The fusion patterns and their order (the driver is runtime/fusion.c). This file has
 * the generic ones, which fold the work around linear layers and convolutions into
 * them; fusions_decoder.c has those of SAM's mask decoder (attention folds). */
#include <stdio.h>
#include <string.h>

#include "../runtime/fusion.h"
#include "fusions.h"
#include "ops.h"

/* A plain linear becomes a fused_linear with nothing fused yet. */
static void as_fused_linear(sam_node *n)
{
    if (n->op == SAM_OP_fused_linear) return;
    n->op = SAM_OP_fused_linear;
    memset(n->attrs, 0, sizeof n->attrs);
    n->attrs[FL_EPS].f = 1e-5;
}

/* linear(window_partition(x)) -> the linear gathers its rows from the windows of x */
static bool fuse_window_gather(sam_fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_linear && !(n->op == SAM_OP_fused_linear && !n->attrs[FL_IN_WINDOW].i && !n->attrs[FL_PRENORM].i)) return false;
    int j = sam_fuse_sole_producer(f, n->in[0], SAM_OP_window_partition, -1);
    if (j < 0 || g->nodes[j].attrs[WIN_SIZE].i <= 0) return false;
    as_fused_linear(n);
    n->attrs[FL_IN_WINDOW].i = g->nodes[j].attrs[WIN_SIZE].i;
    n->in[0] = g->nodes[j].in[0];
    f->dead[j] = true;
    return true;
}

/* linear(layer_norm(x)) -> the linear normalizes its rows as it reads them */
static bool fuse_prenorm(sam_fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_linear && !(n->op == SAM_OP_fused_linear && !n->attrs[FL_PRENORM].i && !n->attrs[FL_RESIDUAL].i)) return false;
    int j = sam_fuse_sole_producer(f, n->in[0], SAM_OP_layer_norm, -1);
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
static bool fuse_window_scatter(sam_fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_window_unpartition || n->attrs[WIN_SIZE].i <= 0) return false;
    int j = sam_fuse_sole_producer(f, n->in[0], SAM_OP_linear, SAM_OP_fused_linear);
    if (j < 0) return false;
    sam_node *lin = &g->nodes[j];
    if (lin->op == SAM_OP_fused_linear && (lin->attrs[FL_OUT_WINDOW].i || lin->attrs[FL_IN_WINDOW].i || lin->attrs[FL_RESIDUAL].i)) return false;
    as_fused_linear(lin);
    lin->attrs[FL_OUT_WINDOW].i = n->attrs[WIN_SIZE].i;
    lin->attrs[FL_HEIGHT].i = n->attrs[WIN_HEIGHT].i;
    lin->attrs[FL_WIDTH].i = n->attrs[WIN_WIDTH].i;
    sam_fuse_take_output(f, j, i);
    return true;
}

/* conv_transpose2d(conv_transpose2d(x)) -> the first keeps its output in block order
 * (no scatter) and the second reads it so (its rows are pixels in any order anyway) */
static bool fuse_convt_blocked(sam_fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_conv_transpose2d || n->attrs[CT_BLOCKED_IN].i) return false;
    int j = sam_fuse_sole_producer(f, n->in[0], SAM_OP_conv_transpose2d, -1);
    if (j < 0 || g->tensors[n->in[0]].kind == SAM_TENSOR_VIEW) return false;
    sam_node *first = &g->nodes[j];
    if (first->attrs[CT_PROJECT].i || first->attrs[CT_BLOCKED_OUT].i || first->attrs[CT_BLOCKED_IN].i) return false;
    first->attrs[CT_BLOCKED_OUT].i = 1;
    n->attrs[CT_BLOCKED_IN].i = first->attrs[CT_STRIDE].i;
    return true;
}

/* conv2d(permute(x, [0, 2, 3, 1])) -> the conv reads x's NCHW layout directly */
static bool fuse_permute_conv(sam_fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_conv2d || n->attrs[CONV_CHANNELS_FIRST].i) return false;
    int j = sam_fuse_sole_producer(f, n->in[0], SAM_OP_permute, -1);
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
static bool fuse_convt_project(sam_fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_matmul || !n->attrs[0].i) return false; /* A x B^T only */
    int j = sam_fuse_sole_producer(f, n->in[1], SAM_OP_conv_transpose2d, -1);
    if (j < 0) return false;
    sam_node *ct = &g->nodes[j];
    const sam_tensor *vec = &g->tensors[n->in[0]], *up = &g->tensors[n->in[1]];
    if (ct->attrs[CT_PROJECT].i || ct->n_in + 1 > SAM_MAX_INPUTS || up->ndim != 3 || up->shape[0] != vec->shape[0] ||
        !sam_fuse_available_before(g, n->in[0], j))
        return false;
    ct->attrs[CT_PROJECT].i = 1;
    ct->in[ct->n_in++] = n->in[0];
    sam_fuse_take_output(f, j, i);
    return true;
}

/* add(conv_transpose2d(x), a) with a of the output's shape or a shared batch of 1 (SAM 2's
 * high-res features) -> added in the conv's epilogue, before its norm and activation */
static bool fuse_convt_addend(sam_fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_add) return false;
    for (int side = 0; side < 2; side++) {
        int j = sam_fuse_sole_producer(f, n->in[side], SAM_OP_conv_transpose2d, -1);
        if (j < 0) continue;
        sam_node *ct = &g->nodes[j];
        const sam_tensor *a = &g->tensors[n->in[1 - side]], *o = &g->tensors[ct->out];
        if (ct->attrs[CT_ADDEND].i || ct->attrs[CT_NORM].i || ct->attrs[CT_ACTIVATION].i || ct->attrs[CT_PROJECT].i || ct->attrs[CT_BLOCKED_OUT].i ||
            ct->n_in + 1 > SAM_MAX_INPUTS || a->ndim != 4 || (a->shape[0] != 1 && a->shape[0] != o->shape[0]) ||
            memcmp(a->shape + 1, o->shape + 1, sizeof(int64_t) * 3) != 0 || !sam_fuse_available_before(g, n->in[1 - side], j))
            continue;
        ct->attrs[CT_ADDEND].i = 1;
        ct->in[ct->n_in++] = n->in[1 - side];
        sam_fuse_take_output(f, j, i);
        return true;
    }
    return false;
}

/* layer_norm(conv_transpose2d(x)) over channels -> normalized in the scatter */
static bool fuse_convt_norm(sam_fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_layer_norm) return false;
    int64_t axis = n->attrs[LN_AXIS].i;
    if (axis != -1 && axis != g->tensors[n->in[0]].ndim - 1) return false;
    int j = sam_fuse_sole_producer(f, n->in[0], SAM_OP_conv_transpose2d, -1);
    if (j < 0) return false;
    sam_node *ct = &g->nodes[j];
    if (ct->attrs[CT_NORM].i || ct->attrs[CT_ACTIVATION].i || ct->n_in + 2 > SAM_MAX_INPUTS) return false;
    ct->attrs[CT_NORM].i = 1;
    ct->attrs[CT_EPS].f = n->attrs[LN_EPS].f;
    ct->in[ct->n_in++] = n->in[1];
    ct->in[ct->n_in++] = n->in[2];
    sam_fuse_take_output(f, j, i);
    return true;
}

/* gelu/relu(linear(x)) or gelu/relu(conv_transpose2d(x)) -> activation in the epilogue */
static bool fuse_activation(sam_fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_gelu && n->op != SAM_OP_relu) return false;
    int ct = sam_fuse_sole_producer(f, n->in[0], SAM_OP_conv_transpose2d, -1);
    if (ct >= 0 && !g->nodes[ct].attrs[CT_ACTIVATION].i) {
        g->nodes[ct].attrs[CT_ACTIVATION].i = n->op == SAM_OP_gelu ? ACT_GELU : ACT_RELU;
        sam_fuse_take_output(f, ct, i);
        return true;
    }
    int j = sam_fuse_sole_producer(f, n->in[0], SAM_OP_linear, SAM_OP_fused_linear);
    if (j < 0) return false;
    sam_node *lin = &g->nodes[j];
    if (lin->op == SAM_OP_fused_linear && (lin->attrs[FL_ACTIVATION].i || lin->attrs[FL_RESIDUAL].i)) return false;
    as_fused_linear(lin);
    lin->attrs[FL_ACTIVATION].i = n->op == SAM_OP_gelu ? ACT_GELU : ACT_RELU;
    sam_fuse_take_output(f, j, i);
    return true;
}

/* add(linear(x), r) with r of the same shape -> + r in the linear's epilogue */
static bool fuse_residual(sam_fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_add) return false;
    int64_t size = sam_numel(&g->tensors[n->out]);
    for (int side = 0; side < 2; side++) {
        int t = n->in[side], r = n->in[1 - side];
        if (sam_numel(&g->tensors[t]) != size || sam_numel(&g->tensors[r]) != size) return false;
        int j = sam_fuse_sole_producer(f, t, SAM_OP_linear, SAM_OP_fused_linear);
        if (j < 0 || sam_fuse_base_of(g, r) == sam_fuse_base_of(g, t) || !sam_fuse_available_before(g, r, j)) continue;
        sam_node *lin = &g->nodes[j];
        if (lin->op == SAM_OP_fused_linear && lin->attrs[FL_RESIDUAL].i) continue;
        if (lin->n_in + 1 > SAM_MAX_INPUTS) continue;
        as_fused_linear(lin);
        lin->attrs[FL_RESIDUAL].i = 1;
        lin->in[lin->n_in++] = r;
        sam_fuse_take_output(f, j, i);
        return true;
    }
    return false;
}

/* linear(fused_linear(x) with an activation) with one reader of the hidden rows -> one
 * fused_linear for the whole MLP (the hidden rows never reach the arena) */
static bool fuse_mlp(sam_fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    bool plain = n->op == SAM_OP_linear && n->n_in == 3;
    bool residual_only = n->op == SAM_OP_fused_linear && !n->attrs[FL_ACTIVATION].i && !n->attrs[FL_PRENORM].i && !n->attrs[FL_IN_WINDOW].i &&
                         !n->attrs[FL_OUT_WINDOW].i && !n->attrs[FL_MLP].i && n->attrs[FL_RESIDUAL].i && n->n_in == 4;
    if (!plain && !residual_only) return false;
    int j = sam_fuse_sole_producer(f, n->in[0], SAM_OP_fused_linear, -1);
    if (j < 0 || g->tensors[n->in[0]].kind == SAM_TENSOR_VIEW) return false;
    sam_node *first = &g->nodes[j];
    if (!first->attrs[FL_ACTIVATION].i || first->attrs[FL_RESIDUAL].i || first->attrs[FL_OUT_WINDOW].i || first->attrs[FL_MLP].i ||
        first->n_in + 2 + residual_only > SAM_MAX_INPUTS)
        return false;
    if (residual_only && !sam_fuse_available_before(g, n->in[3], j)) return false;
    first->attrs[FL_MLP].i = 1;
    first->in[first->n_in++] = n->in[1];
    first->in[first->n_in++] = n->in[2];
    if (residual_only) {
        first->attrs[FL_RESIDUAL].i = 1;
        first->in[first->n_in++] = n->in[3];
    }
    sam_fuse_take_output(f, j, i);
    return true;
}

/* self_attention(fused_linear(window gather [, norm])) -> window_attention: each group of
 * windows is projected and attended in scratch, and the windows' qkv is never stored */
static bool fuse_window_attention(sam_fuser *f, int i)
{
    sam_graph *g = f->g;
    sam_node *n = &g->nodes[i];
    if (n->op != SAM_OP_self_attention) return false;
    int j = sam_fuse_sole_producer(f, n->in[0], SAM_OP_fused_linear, -1);
    if (j < 0) return false;
    const sam_node *fl = &g->nodes[j];
    int prenorm = fl->attrs[FL_PRENORM].i != 0;
    if (!fl->attrs[FL_IN_WINDOW].i || fl->attrs[FL_ACTIVATION].i || fl->attrs[FL_RESIDUAL].i || fl->attrs[FL_OUT_WINDOW].i || fl->attrs[FL_MLP].i ||
        fl->n_in != 3 + 2 * prenorm)
        return false;
    sam_node fused = *n;
    fused.op = SAM_OP_window_attention;
    memset(fused.attrs, 0, sizeof fused.attrs);
    fused.attrs[WA_HEADS] = n->attrs[ATTN_HEADS];
    fused.attrs[WA_Q_STRIDE] = n->attrs[ATTN_Q_STRIDE];
    fused.attrs[WA_WINDOW].i = fl->attrs[FL_IN_WINDOW].i;
    fused.attrs[WA_PRENORM].i = prenorm;
    fused.attrs[WA_EPS].f = fl->attrs[FL_EPS].f;
    fused.n_in = 0;
    for (int k = 0; k < fl->n_in; k++) fused.in[fused.n_in++] = fl->in[k];
    for (int k = 1; k < n->n_in; k++) fused.in[fused.n_in++] = n->in[k]; /* the relative position tables */
    *n = fused;
    f->dead[j] = true;
    return true;
}

/* Order matters: the attention folds claim their projections first; prologue folds
 * (window gather, norm) before the epilogue ones (scatter, activation, residual),
 * because a residual must be added after the activation and in the scattered layout. */
const sam_fusion_pattern sam_fusion_patterns[] = {
    {"attention_fold_kv (token->image attention without image projections)", fuse_attention_kv},
    {"attention_fold_out (image->token attention without image projections)", fuse_attention_out},
    {"attention_fold_out -> residual add -> layer_norm", fuse_fold_out_epilogue},
    {"add of a shared positional encoding -> attention folds' image tokens", fuse_fold_plus},
    {"window_partition -> linear", fuse_window_gather},
    {"permute NCHW->NHWC -> conv2d", fuse_permute_conv},
    {"layer_norm -> linear", fuse_prenorm},
    {"window gather -> linear -> self_attention", fuse_window_attention},
    {"linear -> window_unpartition", fuse_window_scatter},
    {"conv_transpose2d -> add of image-sized features", fuse_convt_addend},
    {"conv_transpose2d -> layer_norm", fuse_convt_norm},
    {"linear or conv_transpose2d -> gelu/relu", fuse_activation},
    {"conv_transpose2d -> matmul with a few vectors", fuse_convt_project},
    {"conv_transpose2d -> conv_transpose2d in block order", fuse_convt_blocked},
    {"attention_fold_out -> attention_fold_out -> conv_transpose2d through the norms", fuse_fold_projection},
    {"linear -> residual add", fuse_residual},
    {"linear -> activation -> linear (an MLP)", fuse_mlp},
};
const int sam_fusion_n_patterns = (int)(sizeof sam_fusion_patterns / sizeof *sam_fusion_patterns);
