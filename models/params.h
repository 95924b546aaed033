/*
 * params.h — the table of named tensors that lays out a model's parameters in one buffer.
 *
 * A model builds its table once from its config: each tensor gets a PyTorch-style name
 * (`backbone.layers.0.mixer.in_proj.weight`), a shape (outermost first), flags, and an element
 * offset into one contiguous float buffer, 256-byte aligned (64 floats). The same table lays
 * out the gradients and the AdamW moments, so zeroing all gradients is one memset and the
 * optimizer walks one buffer (STYLE rule 12).
 *
 * Checkpoints: param_table_save() writes every tensor in table order, packed (alignment padding
 * is not written), as F32 safetensors with caller metadata; param_table_load() checks that the
 * file holds exactly the table's names with the same shapes (F32, BF16 or F16 accepted and
 * converted) before touching the buffer, so a wrong or corrupt checkpoint changes nothing.
 */
#ifndef LS_PARAMS_H
#define LS_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PARAM_MAX_DIMS 4
#define PARAM_NAME_MAX 128
#define PARAM_ALIGN_FLOATS 64 /* 256 bytes */

enum {
    PARAM_NO_DECAY = 1u << 0, /* AdamW leaves it out of weight decay (norms, biases, A_log, D) */
};

typedef struct {
    char     name[PARAM_NAME_MAX];
    int      ndim;
    int64_t  shape[PARAM_MAX_DIMS];
    int64_t  numel;
    int64_t  offset;  /* in floats from the buffer start; a multiple of PARAM_ALIGN_FLOATS */
    uint32_t flags;
} ParamEntry;

typedef struct {
    ParamEntry *entries;
    int         n, cap;
    int64_t     total;   /* floats the buffer needs, padding included */
    int64_t     numel;   /* parameters proper, padding excluded */
} ParamTable;

/** Empty table; free with param_table_free(). */
void param_table_init(ParamTable *table);
void param_table_free(ParamTable *table);

/**
 * Append a tensor. @return its index, or LS_ERR_USAGE (duplicate or too long name, ndim out of
 * 0..PARAM_MAX_DIMS, a dimension < 1), LS_ERR_NOMEM.
 */
int param_table_add(ParamTable *table, const char *name, int ndim, const int64_t *shape,
                    uint32_t flags) LS_RESULT_USED;

/** Entry by name, or NULL. */
const ParamEntry *param_table_find(const ParamTable *table, const char *name);

/**
 * Write @p buffer (table.total floats) to @p path as safetensors: tensors in table order,
 * F32, packed; @p meta_keys / @p meta_values (n_meta strings each) become `__metadata__`.
 * Written to a unique temporary, fsync'd and renamed (st_writer_save). @return 0 or LS_ERR_IO.
 */
int param_table_save(const ParamTable *table, const float *buffer, const char *path,
                     int n_meta, const char *const *meta_keys,
                     const char *const *meta_values) LS_RESULT_USED;

/**
 * Fill @p buffer from @p path. Every table tensor must be in the file with the same shape
 * and a float dtype (F32/BF16/F16), and the file must hold no other tensor; otherwise
 * LS_ERR_FORMAT naming the file and the tensor, and @p buffer is untouched (loaded into a
 * scratch copy first). Padding between tensors is zeroed.
 */
int param_table_load(const ParamTable *table, float *buffer, const char *path) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
