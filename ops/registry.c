#include <string.h>

#include "ops.h"

static const sam_op_def *const op_table[SAM_OP_COUNT] = {
#define SAM_OP_ENTRY(name) &sam_op_##name,
    SAM_OP_LIST(SAM_OP_ENTRY)
#undef SAM_OP_ENTRY
};

int sam_op_count(void)
{
    return SAM_OP_COUNT;
}

const sam_op_def *sam_op_get(int id)
{
    return id >= 0 && id < SAM_OP_COUNT ? op_table[id] : NULL;
}

int sam_op_find(const char *name)
{
    for (int i = 0; i < SAM_OP_COUNT; i++)
        if (strcmp(op_table[i]->name, name) == 0) return i;
    return -1;
}
