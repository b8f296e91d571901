/* What op files share: the runtime's op contract, the op list as an enum, attribute
 * indices, and the CPU-dispatch macros. */
#ifndef SAMRT_OPS_H
#define SAMRT_OPS_H

#include "../runtime/op.h"
#include "op_attrs.h"
#include "op_list.h"
#include "simd.h"

typedef enum {
#define SAM_OP_ENUM(name) SAM_OP_##name,
    SAM_OP_LIST(SAM_OP_ENUM)
#undef SAM_OP_ENUM
    SAM_OP_COUNT
} sam_op_id;

#define SAM_OP_DECLARE(name) extern const sam_op_def sam_op_##name;
SAM_OP_LIST(SAM_OP_DECLARE)
#undef SAM_OP_DECLARE

#endif
