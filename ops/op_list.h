/* The one list of ops. Adding an op: a line here, a file in ops/ defining
 * `const sam_op_def sam_op_<name>`, and a row in tests/test_ops.c. */
#ifndef SAMRT_OP_LIST_H
#define SAMRT_OP_LIST_H

#define SAM_OP_LIST(X)      \
    X(add)                  \
    X(gelu)                 \
    X(relu)                 \
    X(sigmoid)              \
    X(layer_norm)           \
    X(softmax)              \
    X(linear)               \
    X(matmul)               \
    X(conv2d)               \
    X(conv_transpose2d)     \
    X(permute)              \
    X(reshape)              \
    X(concat)               \
    X(slice)                \
    X(tile)                 \
    X(resize)               \
    X(max_pool2d)           \
    X(window_partition)     \
    X(window_unpartition)   \
    X(self_attention)       \
    X(window_attention)     \
    X(attention)            \
    X(point_embed)          \
    X(dense_position_encoding) \
    X(fused_linear)         \
    X(attention_fold_kv)    \
    X(attention_fold_out)

#endif
