/* The mask decoder's fusion patterns (fusions_decoder.c), for the table in fusions.c. */
#ifndef SAMRT_FUSIONS_H
#define SAMRT_FUSIONS_H

#include "../runtime/fusion.h"

bool fuse_attention_kv(sam_fuser *f, int i);
bool fuse_attention_out(sam_fuser *f, int i);
bool fuse_fold_out_epilogue(sam_fuser *f, int i);
bool fuse_fold_plus(sam_fuser *f, int i);
bool fuse_fold_projection(sam_fuser *f, int i);

#endif
