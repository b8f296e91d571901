/* The sam-rt weight blob, version 1 (all integers little-endian):
 *
 *   0   magic "SAMRTWB\0"
 *   8   u32 version, u32 n_meta, u32 n_tensors, u32 alignment (64)
 *   24  u64 data_offset, u64 file_size, then zeros up to byte 64
 *   64  metadata: n_meta x { u16 key_len, key, u8 type, value }
 *         type 0 int64 | 1 float64 | 2 string (u16 len, bytes) | 3 int64 list (u32 n, n x int64)
 *       tensor table: n_tensors x { u16 name_len, name, u8 dtype, u8 ndim, u64 dims[ndim],
 *                                   u64 offset (from data_offset), u64 nbytes }
 *   data_offset: tensor data, each tensor aligned to 64 bytes, mmapped and used in place.
 *
 * The metadata records the variant and its hyper-parameters; tensor names are the
 * official state_dict keys. */
#ifndef SAMRT_BLOB_FORMAT_H
#define SAMRT_BLOB_FORMAT_H

#define SAM_BLOB_MAGIC "SAMRTWB"
#define SAM_BLOB_VERSION 1u
#define SAM_BLOB_ALIGN 64u
#define SAM_BLOB_HEADER_SIZE 64u
#define SAM_BLOB_NAME_MAX 256u

enum { SAM_META_INT = 0, SAM_META_FLOAT = 1, SAM_META_STR = 2, SAM_META_LIST = 3 };

#endif
