/*
 * checkpoint.c — model_save / model_load (model.h): the parameter table as F32 safetensors
 * under PyTorch names (docs/checkpoints.md) with metadata format=longscan, format_version,
 * config (the resolved ModelConfig as JSON) and the caller's keys. Loading reads and checks the
 * metadata first, builds the model from the config, then param_table_load() validates every
 * tensor (names, shapes, dtypes) before any parameter is overwritten.
 *
 * Tested by tests/unit/test_model.c (round trip with bit-identical logits; wrong config,
 * missing metadata, truncated and corrupt files refused) and tests/py/test_model_names.py
 * (names and shapes equal mamba_ssm's state dict).
 */
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "models/model_internal.h"

static const char *const reserved[] = {"format", "format_version", "config"};

int model_save(const Model *m, const char *path, int n_extra, const char *const *keys,
               const char *const *values) {
    if (n_extra < 0 || (n_extra > 0 && (!keys || !values)))
        return ls_error(LS_ERR_USAGE, "model_save: bad extra metadata");
    for (int i = 0; i < n_extra; i++)
        for (int r = 0; r < 3; r++)
            if (!keys[i] || !values[i] || strcmp(keys[i], reserved[r]) == 0)
                return ls_error(LS_ERR_USAGE,
                                "model_save: metadata key '%s' is reserved or "
                                "NULL",
                                keys[i] ? keys[i] : "(null)");
    char *json = NULL;
    float *host = NULL;
    int status = model_config_to_json(&m->cfg, &json);
    if (status < 0) return status;
    const int n = 3 + n_extra;
    const char **k = malloc((size_t)n * sizeof *k), **v = malloc((size_t)n * sizeof *v);
    if (!k || !v) {
        status = ls_error(LS_ERR_NOMEM, "model_save: out of memory");
        goto fail;
    }
    k[0] = "format", v[0] = "longscan";
    k[1] = "format_version", v[1] = MODEL_FORMAT_VERSION;
    k[2] = "config", v[2] = json;
    for (int i = 0; i < n_extra; i++)
        k[3 + i] = keys[i], v[3 + i] = values[i];
    if (m->dev.kind == DEVICE_CPU) {
        status = param_table_save(&m->table, m->params, path, n, k, v);
    } else { // fp32 from the device, whatever the activations' precision
        host = malloc((size_t)(m->table.total > 0 ? m->table.total : 1) * sizeof *host);
        if (!host) {
            status = ls_error(LS_ERR_NOMEM, "model_save: out of memory");
            goto fail;
        }
        if ((status = model_buffer_read(m, MODEL_BUF_PARAMS, host)) < 0) goto fail;
        status = param_table_save(&m->table, host, path, n, k, v);
    }
fail:
    free(host);
    free(k);
    free(v);
    free(json);
    return status;
}

int model_load(Model **out, const char *path, const Device *dev) {
    *out = NULL;
    StFile *file = NULL;
    Model *m = NULL;
    float *host = NULL;
    int status = st_open(&file, path);
    if (status < 0) return status;
    const char *format = st_metadata_get(file, "format");
    const char *version = st_metadata_get(file, "format_version");
    const char *json = st_metadata_get(file, "config");
    if (!format || strcmp(format, "longscan") != 0) {
        status =
            ls_error(LS_ERR_FORMAT, "%s: not a longscan checkpoint (metadata format is %s%s%s)",
                     path, format ? "'" : "", format ? format : "missing", format ? "'" : "");
        goto fail;
    }
    if (!version || strcmp(version, MODEL_FORMAT_VERSION) != 0) {
        status = ls_error(LS_ERR_FORMAT, "%s: checkpoint format_version %s, this longscan reads %s",
                          path, version ? version : "missing", MODEL_FORMAT_VERSION);
        goto fail;
    }
    if (!json) {
        status = ls_error(LS_ERR_FORMAT, "%s: checkpoint has no model config", path);
        goto fail;
    }
    ModelConfig cfg;
    if ((status = model_config_from_json(&cfg, json, path)) < 0) goto fail;
    st_close(file);
    file = NULL;
    if ((status = model_init(&m, &cfg, dev, 0)) < 0) goto fail;
    if (dev->kind == DEVICE_CPU) {
        if ((status = param_table_load(&m->table, m->params, path)) < 0) goto fail;
    } else {
        host = malloc((size_t)(m->table.total > 0 ? m->table.total : 1) * sizeof *host);
        if (!host) {
            status = ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
            goto fail;
        }
        if ((status = param_table_load(&m->table, host, path)) < 0 ||
            (status = model_buffer_write(m, MODEL_BUF_PARAMS, host)) < 0)
            goto fail;
    }
    free(host);
    *out = m;
    return 0;
fail:
    free(host);
    st_close(file);
    model_free(m);
    return status;
}
