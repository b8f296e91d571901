/* Attribute indices of the ops, each list in the order of the op's attrs table (the
 * .attrs of its sam_op_def). One list serves the kernels and the fusion pass, which
 * sets the attributes of the fused ops it makes. */
#ifndef SAMRT_OP_ATTRS_H
#define SAMRT_OP_ATTRS_H

enum { ATTN_HEADS, ATTN_Q_STRIDE };                   /* attention, self_attention */
enum { WA_HEADS, WA_Q_STRIDE, WA_WINDOW, WA_PRENORM, WA_EPS }; /* window_attention */
enum { FOLD_HEADS, FOLD_RESIDUAL, FOLD_NORM, FOLD_EPS, FOLD_PLUS, FOLD_PROJECT, FOLD_UP_EPS, FOLD_UP_ACT, FOLD_UP_ADDEND }; /* attention_fold_out */
enum { KV_HEADS, KV_PLUS };                                        /* attention_fold_kv */
enum { CONV_STRIDE, CONV_PADDING, CONV_CHANNELS_FIRST };
enum { CT_STRIDE, CT_NORM, CT_EPS, CT_ACTIVATION, CT_PROJECT, CT_BLOCKED_OUT, CT_BLOCKED_IN, CT_ADDEND }; /* conv_transpose2d */
enum { FL_ACTIVATION, FL_PRENORM, FL_EPS, FL_RESIDUAL, FL_IN_WINDOW, FL_OUT_WINDOW, FL_HEIGHT, FL_WIDTH, FL_MLP }; /* fused_linear */
enum { LN_EPS, LN_AXIS };                             /* layer_norm */
enum { WIN_SIZE, WIN_HEIGHT, WIN_WIDTH };             /* window_partition, window_unpartition */
enum { CAT_AXIS };                                    /* concat */
enum { SLICE_AXIS, SLICE_START, SLICE_END };
enum { MM_TRANSPOSE_B };                              /* matmul */
enum { PE_HEIGHT, PE_WIDTH };                         /* point_embed, dense_position_encoding */
enum { RESIZE_HEIGHT, RESIZE_WIDTH, RESIZE_MODE };    /* resize */
enum { POOL_KERNEL };                                 /* max_pool2d */
enum { TILE_REPS };                                   /* tile */

/* values of the activation attributes (fused_linear, conv_transpose2d) */
enum { ACT_NONE = 0, ACT_GELU = 1, ACT_RELU = 2 };

#endif
