/*
 * params.c — see params.h. Tested by tests/unit/test_params.c (layout, alignment, save →
 * load round trip, and every mismatch a checkpoint can have).
 */
#include "models/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

void param_table_init(ParamTable *table) { *table = (ParamTable){0}; }

void param_table_free(ParamTable *table) {
    if (!table) return;
    free(table->entries);
    *table = (ParamTable){0};
}

int param_table_add(ParamTable *table, const char *name, int ndim, const int64_t *shape,
                    uint32_t flags) {
    size_t name_len = strlen(name);
    if (name_len == 0 || name_len >= PARAM_NAME_MAX)
        return ls_error(LS_ERR_USAGE, "parameter name '%s': length must be 1..%d", name,
                        PARAM_NAME_MAX - 1);
    if (ndim < 0 || ndim > PARAM_MAX_DIMS)
        return ls_error(LS_ERR_USAGE, "parameter %s: %d dimensions, at most %d allowed", name,
                        ndim, PARAM_MAX_DIMS);
    if (param_table_find(table, name))
        return ls_error(LS_ERR_USAGE, "parameter %s: defined twice", name);
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 1 || numel > INT64_MAX / shape[d])
            return ls_error(LS_ERR_USAGE, "parameter %s: dimension %d is %lld", name, d,
                            (long long)shape[d]);
        numel *= shape[d];
    }
    if (table->n == table->cap) {
        int cap = table->cap ? 2 * table->cap : 32;
        ParamEntry *grown = realloc(table->entries, (size_t)cap * sizeof *grown);
        if (!grown) return ls_error(LS_ERR_NOMEM, "parameter table: out of memory");
        table->entries = grown;
        table->cap = cap;
    }
    ParamEntry *entry = &table->entries[table->n];
    memset(entry, 0, sizeof *entry);
    memcpy(entry->name, name, name_len + 1);
    entry->ndim = ndim;
    for (int d = 0; d < ndim; d++) entry->shape[d] = shape[d];
    entry->numel = numel;
    entry->flags = flags;
    entry->offset = table->total;
    int64_t padded = (numel + PARAM_ALIGN_FLOATS - 1) / PARAM_ALIGN_FLOATS * PARAM_ALIGN_FLOATS;
    table->total += padded;
    table->numel += numel;
    return table->n++;
}

const ParamEntry *param_table_find(const ParamTable *table, const char *name) {
    for (int i = 0; i < table->n; i++)
        if (strcmp(table->entries[i].name, name) == 0) return &table->entries[i];
    return NULL;
}

int param_table_save(const ParamTable *table, const float *buffer, const char *path,
                     int n_meta, const char *const *meta_keys, const char *const *meta_values) {
    StWriter *writer = NULL;
    int status = st_writer_init(&writer);
    if (status < 0) goto fail;
    for (int i = 0; i < table->n; i++) {
        const ParamEntry *e = &table->entries[i];
        status = st_writer_add(writer, e->name, ST_F32, e->ndim, e->shape, buffer + e->offset);
        if (status < 0) goto fail;
    }
    for (int i = 0; i < n_meta; i++) {
        status = st_writer_set_metadata(writer, meta_keys[i], meta_values[i]);
        if (status < 0) goto fail;
    }
    status = st_writer_save(writer, path);
fail:
    st_writer_free(writer);
    return status;
}

static int shapes_equal(const ParamEntry *e, const StTensor *t) {
    if (e->ndim != t->ndim) return 0;
    for (int d = 0; d < e->ndim; d++)
        if (e->shape[d] != t->shape[d]) return 0;
    return 1;
}

static void format_shape(char *buf, size_t size, int ndim, const int64_t *shape) {
    size_t at = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && at < size; d++)
        at += (size_t)snprintf(buf + at, size - at, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (at < size) snprintf(buf + at, size - at, "]");
}

int param_table_load(const ParamTable *table, float *buffer, const char *path) {
    StFile *file = NULL;
    float *scratch = NULL;
    int status = st_open(&file, path);
    if (status < 0) goto fail;

    /* validate everything before reading anything */
    for (int i = 0; i < table->n; i++) {
        const ParamEntry *e = &table->entries[i];
        const StTensor *t = st_find(file, e->name);
        if (!t) {
            status = ls_error(LS_ERR_FORMAT, "%s: tensor '%s' missing (not a checkpoint of this "
                                             "model configuration?)", path, e->name);
            goto fail;
        }
        if (t->dtype != ST_F32 && t->dtype != ST_BF16 && t->dtype != ST_F16) {
            status = ls_error(LS_ERR_FORMAT, "%s: tensor '%s' has dtype %s, expected F32, BF16 "
                                             "or F16", path, e->name, st_dtype_name(t->dtype));
            goto fail;
        }
        if (!shapes_equal(e, t)) {
            char want[96], got[96];
            format_shape(want, sizeof want, e->ndim, e->shape);
            format_shape(got, sizeof got, t->ndim, t->shape);
            status = ls_error(LS_ERR_FORMAT, "%s: tensor '%s' has shape %s, the model needs %s",
                              path, e->name, got, want);
            goto fail;
        }
    }
    if (st_count(file) != table->n) {
        for (int64_t i = 0; i < st_count(file); i++) {
            const StTensor *t = st_tensor(file, i);
            if (!param_table_find(table, t->name)) {
                status = ls_error(LS_ERR_FORMAT, "%s: unexpected tensor '%s' (not a checkpoint "
                                                 "of this model configuration?)", path, t->name);
                goto fail;
            }
        }
    }
    scratch = calloc((size_t)(table->total > 0 ? table->total : 1), sizeof *scratch);
    if (!scratch) {
        status = ls_error(LS_ERR_NOMEM, "%s: out of memory for %lld parameters", path,
                          (long long)table->total);
        goto fail;
    }
    for (int i = 0; i < table->n; i++) {
        const ParamEntry *e = &table->entries[i];
        status = st_read_f32(file, st_find(file, e->name), scratch + e->offset, e->numel);
        if (status < 0) goto fail;
    }
    memcpy(buffer, scratch, (size_t)table->total * sizeof *buffer);
fail:
    free(scratch);
    st_close(file);
    return status;
}
