/*
 * checkpoint.c — model-file metadata and the training-state file; see checkpoint.h.
 * Tested by tests/cli/train.tst (resume equals an uninterrupted run; corrupt, truncated and
 * foreign checkpoints).
 */
#include "pipeline/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/safetensors.h"
#include "models/hf.h"
#include "pipeline/cli.h"
#include "pipeline/hf.h"

// ---------------------------------------------------------------------------- data settings

static const char *const audio_codes_names[] = {"mulaw8", "linear8", "none"};

const char *checkpoint_audio_codes_name(AudioCodes codes) {
    return (unsigned)codes < 3 ? audio_codes_names[codes] : "?";
}

int checkpoint_audio_codes_parse(const char *option, const char *name, AudioCodes *codes) {
    for (int i = 0; i < 3; i++) {
        if (strcmp(name, audio_codes_names[i]) == 0) {
            *codes = (AudioCodes)i;
            return 0;
        }
    }
    return ls_error(LS_ERR_USAGE, "%s %s: expected mulaw8, linear8 or none", option, name);
}

/* cJSON_Print* allocate with cJSON's hooks; hand back plain malloc'd text. */
static int json_take(cJSON *object, char **json) {
    *json = NULL;
    char *text = object ? cJSON_PrintUnformatted(object) : NULL;
    cJSON_Delete(object);
    if (!text) return ls_error(LS_ERR_NOMEM, "out of memory for JSON");
    *json = strdup(text);
    cJSON_free(text);
    return *json ? 0 : ls_error(LS_ERR_NOMEM, "out of memory for JSON");
}

int checkpoint_data_to_json(const DataSettings *data, char **json) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return ls_error(LS_ERR_NOMEM, "out of memory for JSON");
    if (data->kind == EXAMPLE_SYNTH) {
        cJSON_AddStringToObject(o, "kind", "synth");
    } else if (data->kind == EXAMPLE_AUDIO) {
        cJSON_AddStringToObject(o, "kind", "audio");
        cJSON_AddNumberToObject(o, "sample_rate", data->sample_rate);
        cJSON_AddStringToObject(o, "audio_codes", checkpoint_audio_codes_name(data->audio_codes));
    } else {
        cJSON_AddStringToObject(o, "kind", "dna");
        cJSON_AddStringToObject(o, "softmask",
                                data->softmask == DNA_SOFTMASK_AS_N ? "n" : "upper");
    }
    return json_take(o, json);
}

int checkpoint_data_from_json(DataSettings *data, const char *json, const char *where) {
    int status = 0;
    cJSON *o = cJSON_Parse(json);
    *data = (DataSettings){EXAMPLE_DNA, DNA_SOFTMASK_UPPER, 0, AUDIO_CODES_MULAW8};
    if (!cJSON_IsObject(o)) {
        status = ls_error(LS_ERR_FORMAT, "%s: metadata 'data' is not a JSON object", where);
        goto fail;
    }
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    if (cJSON_IsString(kind) && strcmp(kind->valuestring, "dna") == 0) {
        data->kind = EXAMPLE_DNA;
        const cJSON *mask = cJSON_GetObjectItemCaseSensitive(o, "softmask");
        if (cJSON_IsString(mask) && strcmp(mask->valuestring, "n") == 0)
            data->softmask = DNA_SOFTMASK_AS_N;
        else if (!cJSON_IsString(mask) || strcmp(mask->valuestring, "upper") != 0) {
            status = ls_error(LS_ERR_FORMAT, "%s: metadata 'data': softmask must be \"upper\" "
                              "or \"n\"", where);
            goto fail;
        }
    } else if (cJSON_IsString(kind) && strcmp(kind->valuestring, "audio") == 0) {
        data->kind = EXAMPLE_AUDIO;
        const cJSON *rate = cJSON_GetObjectItemCaseSensitive(o, "sample_rate");
        const cJSON *codes = cJSON_GetObjectItemCaseSensitive(o, "audio_codes");
        if (!cJSON_IsNumber(rate) || rate->valuedouble < 1 || rate->valuedouble > 1000000 ||
            rate->valuedouble != floor(rate->valuedouble)) {
            status = ls_error(LS_ERR_FORMAT, "%s: metadata 'data': sample_rate must be an "
                              "integer 1..1000000", where);
            goto fail;
        }
        data->sample_rate = (int)rate->valuedouble;
        if (!cJSON_IsString(codes) ||
            checkpoint_audio_codes_parse("audio_codes", codes->valuestring,
                                         &data->audio_codes) < 0) {
            status = ls_error(LS_ERR_FORMAT, "%s: metadata 'data': audio_codes must be "
                              "mulaw8, linear8 or none", where);
            goto fail;
        }
    } else if (cJSON_IsString(kind) && strcmp(kind->valuestring, "synth") == 0) {
        data->kind = EXAMPLE_SYNTH; // token ids of synthetic tasks; the vocabulary is the model's
    } else {
        status = ls_error(LS_ERR_FORMAT, "%s: metadata 'data': kind must be \"dna\", "
                          "\"audio\" or \"synth\"", where);
        goto fail;
    }
fail:
    cJSON_Delete(o);
    return status;
}

// ---------------------------------------------------------------------------- model files

/* A weight that is NaN or infinite would turn every result into NaN: refused at load, naming
 * the tensor and the element, rather than in the outputs (longscan files and transformers
 * directories alike). */
static int checkpoint_check_finite(const ModelFile *mf, const char *path) {
    const ParamTable *table = model_param_table(mf->model);
    float *params = malloc((size_t)(table->total > 0 ? table->total : 1) * sizeof *params);
    if (!params) return ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
    int status = model_buffer_read(mf->model, MODEL_BUF_PARAMS, params); // from any device
    for (int i = 0; status == 0 && i < table->n; i++) {
        const ParamEntry *e = &table->entries[i];
        status = st_check_finite(path, e->name, e->ndim, e->shape, params + e->offset, e->numel);
    }
    free(params);
    return status;
}

int checkpoint_open(ModelFile *mf, const char *path, const Device *dev) {
    if (model_hf_is_dir(path)) { /* a transformers directory */
        int status = hf_dir_open(mf, path, dev);
        if (status == 0) status = checkpoint_check_finite(mf, path);
        return status;
    }
    StFile *file = NULL;
    *mf = (ModelFile){0};
    mf->path = strdup(path);
    if (!mf->path) return ls_error(LS_ERR_NOMEM, "out of memory");
    int status = st_open(&file, path);
    if (status < 0) goto fail;
    const char *format = st_metadata_get(file, "format");
    if (!format || strcmp(format, "longscan") != 0) {
        status = ls_error(LS_ERR_FORMAT, "%s: not a longscan model (metadata 'format' is %s%s%s)",
                          path, format ? "'" : "missing", format ? format : "",
                          format ? "'" : "");
        goto fail;
    }
    if (!st_metadata_get(file, "config")) {
        status = ls_error(LS_ERR_FORMAT, "%s: metadata 'config' missing", path);
        goto fail;
    }
    const char *data = st_metadata_get(file, "data");
    if (!data) {
        status = ls_error(LS_ERR_FORMAT, "%s: metadata 'data' missing (how inputs are "
                          "encoded)", path);
        goto fail;
    }
    status = checkpoint_data_from_json(&mf->data, data, path);
    if (status < 0) goto fail;
    const char *labels = st_metadata_get(file, "labels");
    if (labels) {
        char where[4200];
        snprintf(where, sizeof where, "%s: metadata 'labels'", path);
        status = label_map_from_json(&mf->labels, labels, where);
        if (status < 0) goto fail;
    }
    st_close(file);
    file = NULL;
    status = model_load(&mf->model, path, dev);
    if (status < 0) goto fail;
    if ((status = checkpoint_check_finite(mf, path)) < 0) goto fail;
    const ModelConfig *cfg = model_config(mf->model);
    if (cfg->task == MODEL_TASK_CLASSIFY) {
        if (!mf->labels) {
            status = ls_error(LS_ERR_FORMAT, "%s: classification model without metadata "
                              "'labels'", path);
            goto fail;
        }
        if (label_map_count(mf->labels) != cfg->n_classes) {
            status = ls_error(LS_ERR_FORMAT, "%s: metadata 'labels' holds %d names for %lld "
                              "classes", path, label_map_count(mf->labels),
                              (long long)cfg->n_classes);
            goto fail;
        }
    }
    if ((cfg->input == MODEL_INPUT_WAVEFORM) !=
        (mf->data.kind == EXAMPLE_AUDIO && mf->data.audio_codes == AUDIO_CODES_NONE)) {
        status = ls_error(LS_ERR_FORMAT, "%s: metadata 'data' does not match the model's "
                          "input kind", path);
        goto fail;
    }
    return 0;
fail:
    st_close(file);
    return status;
}

void checkpoint_close(ModelFile *mf) {
    if (!mf) return;
    model_free(mf->model);
    label_map_free(mf->labels);
    free(mf->path);
    *mf = (ModelFile){0};
}

int checkpoint_save(const Model *model, const char *path, const LabelMap *labels,
                    const DataSettings *data, const char *training, const char *progress) {
    const char *keys[5], *values[5];
    char *labels_json = NULL, *data_json = NULL;
    int n = 0;
    int status = checkpoint_data_to_json(data, &data_json);
    if (status < 0) goto fail;
    keys[n] = "data", values[n++] = data_json;
    if (labels) {
        status = label_map_to_json(labels, &labels_json);
        if (status < 0) goto fail;
        keys[n] = "labels", values[n++] = labels_json;
    }
    if (training) keys[n] = "training", values[n++] = training;
    if (progress) keys[n] = "progress", values[n++] = progress;
    keys[n] = "longscan_version", values[n++] = LONGSCAN_VERSION;
    status = model_save(model, path, n, keys, values);
fail:
    free(labels_json);
    free(data_json);
    return status;
}

// ---------------------------------------------------------------------------- state files

static const char *const state_prefixes[3] = {"model.", "adamw.exp_avg.", "adamw.exp_avg_sq."};

static void format_rng(char *buf, size_t size, const uint64_t s[4]) {
    snprintf(buf, size, "%016" PRIx64 ":%016" PRIx64 ":%016" PRIx64 ":%016" PRIx64, s[0], s[1],
             s[2], s[3]);
}

int checkpoint_state_save(const char *path, Model *model, const TrainState *state,
                          const char *training, const char *argv_json) {
    const ParamTable *table = model_param_table(model);
    static const ModelBuffer which[3] = {MODEL_BUF_PARAMS, MODEL_BUF_ADAM_M, MODEL_BUF_ADAM_V};
    const size_t total = (size_t)table->total;
    StWriter *writer = NULL;
    char *config = NULL;
    // the three buffers on the host (from any device), alive until the writer has saved
    float *host = malloc((3 * total > 0 ? 3 * total : 1) * sizeof *host);
    const float *buffers[3] = {host, host + total, host + 2 * total};
    int status = host ? 0 : ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
    for (int b = 0; b < 3 && status == 0; b++)
        status = model_buffer_read(model, which[b], host + b * total);
    if (status == 0) status = st_writer_init(&writer);
    if (status < 0) goto fail;
    for (int b = 0; b < 3; b++) {
        for (int i = 0; i < table->n; i++) {
            const ParamEntry *e = &table->entries[i];
            char name[PARAM_NAME_MAX + 32];
            snprintf(name, sizeof name, "%s%s", state_prefixes[b], e->name);
            status = st_writer_add(writer, name, ST_F32, e->ndim, e->shape,
                                   buffers[b] + e->offset);
            if (status < 0) goto fail;
        }
    }
    status = model_config_to_json(model_config(model), &config);
    if (status < 0) goto fail;
    char text[20][96];
    const char *keys[20], *values[20];
    int n = 0;
#define META_INT(key, value)                                                                   \
    (snprintf(text[n], sizeof text[n], "%lld", (long long)(value)), keys[n] = key,             \
     values[n] = text[n], n++)
    keys[n] = "format", values[n++] = TRAIN_STATE_FORMAT;
    keys[n] = "format_version", values[n++] = TRAIN_STATE_VERSION;
    META_INT("step", state->step);
    META_INT("epoch", state->epoch);
    META_INT("epoch_batch", state->epoch_batch);
    META_INT("total_steps", state->total_steps);
    META_INT("best_step", state->best_step);
    META_INT("tokens", state->tokens);
#undef META_INT
    format_rng(text[n], sizeof text[n], state->rng_sampler);
    keys[n] = "rng_sampler", values[n] = text[n], n++;
    format_rng(text[n], sizeof text[n], state->rng_crop);
    keys[n] = "rng_crop", values[n] = text[n], n++;
    /* %a: the exact double, so the best-so-far comparison resumes exactly */
    snprintf(text[n], sizeof text[n], "%a", state->best_valid_loss);
    keys[n] = "best_valid_loss", values[n] = text[n], n++;
    snprintf(text[n], sizeof text[n], "%.3f", state->elapsed_s);
    keys[n] = "elapsed_s", values[n] = text[n], n++;
    snprintf(text[n], sizeof text[n], "%016" PRIx64, state->data_digest);
    keys[n] = "data_digest", values[n] = text[n], n++;
    keys[n] = "config", values[n++] = config;
    keys[n] = "training", values[n++] = training ? training : "{}";
    keys[n] = "argv", values[n++] = argv_json ? argv_json : "[]";
    for (int i = 0; i < n; i++) {
        status = st_writer_set_metadata(writer, keys[i], values[i]);
        if (status < 0) goto fail;
    }
    status = st_writer_save(writer, path);
fail:
    st_writer_free(writer);
    free(host);
    free(config);
    return status;
}

static int open_state(StFile **file, const char *path) {
    int status = st_open(file, path);
    if (status < 0) return status;
    const char *format = st_metadata_get(*file, "format");
    const char *version = st_metadata_get(*file, "format_version");
    if (!format || strcmp(format, TRAIN_STATE_FORMAT) != 0)
        status = ls_error(LS_ERR_FORMAT, "%s: not a longscan training state (metadata 'format' "
                          "is %s; give MODEL.safetensors or MODEL.state.safetensors of a run)",
                          path, format ? format : "missing");
    else if (!version || strcmp(version, TRAIN_STATE_VERSION) != 0)
        status = ls_error(LS_ERR_FORMAT, "%s: training state format_version %s, this longscan "
                          "reads version %s", path, version ? version : "missing",
                          TRAIN_STATE_VERSION);
    if (status < 0) { /* the message is made before st_close frees the metadata strings */
        st_close(*file);
        *file = NULL;
    }
    return status;
}

static int meta_string(StFile *file, const char *key, char **out) {
    const char *value = st_metadata_get(file, key);
    if (!value) return ls_error(LS_ERR_FORMAT, "%s: metadata '%s' missing", st_path(file), key);
    *out = strdup(value);
    return *out ? 0 : ls_error(LS_ERR_NOMEM, "out of memory");
}

int checkpoint_state_peek(const char *path, char **argv_json, char **training) {
    StFile *file = NULL;
    if (argv_json) *argv_json = NULL;
    if (training) *training = NULL;
    int status = open_state(&file, path);
    if (status < 0) return status;
    if (argv_json) status = meta_string(file, "argv", argv_json);
    if (status == 0 && training) status = meta_string(file, "training", training);
    st_close(file);
    return status;
}

static int meta_int64(StFile *file, const char *key, int64_t *out) {
    const char *value = st_metadata_get(file, key);
    char *end;
    if (!value) return ls_error(LS_ERR_FORMAT, "%s: metadata '%s' missing", st_path(file), key);
    errno = 0;
    long long x = strtoll(value, &end, 10);
    if (end == value || *end || errno)
        return ls_error(LS_ERR_FORMAT, "%s: metadata '%s' = '%s' is not an integer",
                        st_path(file), key, value);
    *out = x;
    return 0;
}

static int meta_rng(StFile *file, const char *key, uint64_t out[4]) {
    const char *value = st_metadata_get(file, key);
    if (!value) return ls_error(LS_ERR_FORMAT, "%s: metadata '%s' missing", st_path(file), key);
    const char *at = value;
    for (int i = 0; i < 4; i++) {
        char *end;
        errno = 0;
        out[i] = strtoull(at, &end, 16);
        if (end - at != 16 || errno || (i < 3 ? *end != ':' : *end != '\0'))
            return ls_error(LS_ERR_FORMAT, "%s: metadata '%s' is not four 16-digit hex words",
                            st_path(file), key);
        at = end + 1;
    }
    return 0; /* all zero: no such generator in the run (rng_set_state refuses it) */
}

int checkpoint_state_load(const char *path, Model *model, TrainState *state) {
    const ParamTable *table = model_param_table(model);
    StFile *file = NULL;
    float *scratch = NULL;
    char *config = NULL;
    TrainState st = {0};
    int status = open_state(&file, path);
    if (status < 0) return status;
    status = model_config_to_json(model_config(model), &config);
    if (status < 0) goto fail;
    const char *recorded = st_metadata_get(file, "config");
    if (!recorded || strcmp(recorded, config) != 0) {
        status = ls_error(LS_ERR_USAGE, "%s: the model configuration differs from the run "
                          "being resumed (recorded %s, now %s)", path,
                          recorded ? recorded : "nothing", config);
        goto fail;
    }
    if ((status = meta_int64(file, "step", &st.step)) < 0 ||
        (status = meta_int64(file, "epoch", &st.epoch)) < 0 ||
        (status = meta_int64(file, "epoch_batch", &st.epoch_batch)) < 0 ||
        (status = meta_int64(file, "total_steps", &st.total_steps)) < 0 ||
        (status = meta_int64(file, "best_step", &st.best_step)) < 0 ||
        (status = meta_int64(file, "tokens", &st.tokens)) < 0 ||
        (status = meta_rng(file, "rng_sampler", st.rng_sampler)) < 0 ||
        (status = meta_rng(file, "rng_crop", st.rng_crop)) < 0)
        goto fail;
    const char *best = st_metadata_get(file, "best_valid_loss");
    const char *elapsed = st_metadata_get(file, "elapsed_s");
    char *end = NULL;
    if (best) st.best_valid_loss = strtod(best, &end);
    if (!best || end == best || *end) {
        status = ls_error(LS_ERR_FORMAT, "%s: metadata 'best_valid_loss' missing or not a "
                          "number", path);
        goto fail;
    }
    st.elapsed_s = elapsed ? strtod(elapsed, NULL) : 0.0;
    const char *digest = st_metadata_get(file, "data_digest");
    if (digest) {
        if (strlen(digest) != 16 || strspn(digest, "0123456789abcdef") != 16) {
            status = ls_error(LS_ERR_FORMAT, "%s: metadata 'data_digest' is not 16 hex digits",
                              path);
            goto fail;
        }
        st.data_digest = strtoull(digest, NULL, 16);
        st.has_data_digest = 1;
    }
    if (st.step < 0 || st.epoch < 0 || st.epoch_batch < 0 || st.total_steps < 0) {
        status = ls_error(LS_ERR_FORMAT, "%s: negative step, epoch or position", path);
        goto fail;
    }
    /* every tensor into scratch first, so a bad file leaves the model untouched */
    size_t total = (size_t)table->total;
    scratch = calloc(3 * total, sizeof *scratch);
    if (!scratch) {
        status = ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    for (int b = 0; b < 3; b++) {
        for (int i = 0; i < table->n; i++) {
            const ParamEntry *e = &table->entries[i];
            char name[PARAM_NAME_MAX + 32];
            snprintf(name, sizeof name, "%s%s", state_prefixes[b], e->name);
            const StTensor *t = st_find(file, name);
            int same = t && t->dtype == ST_F32 && t->ndim == e->ndim;
            for (int d = 0; same && d < e->ndim; d++) same = t->shape[d] == e->shape[d];
            if (!same) {
                status = ls_error(LS_ERR_FORMAT, "%s: tensor %s %s", path, name,
                                  t ? "has another dtype or shape than the model's"
                                    : "missing");
                goto fail;
            }
            status = st_read_f32_finite(file, t, scratch + b * total + e->offset, e->numel);
            if (status < 0) goto fail;
        }
    }
    if (st_count(file) != 3 * (int64_t)table->n) {
        status = ls_error(LS_ERR_FORMAT, "%s: %lld tensors, expected %d (3 per parameter)",
                          path, (long long)st_count(file), 3 * table->n);
        goto fail;
    }
    if ((status = model_buffer_write(model, MODEL_BUF_PARAMS, scratch)) < 0 ||
        (status = model_buffer_write(model, MODEL_BUF_ADAM_M, scratch + total)) < 0 ||
        (status = model_buffer_write(model, MODEL_BUF_ADAM_V, scratch + 2 * total)) < 0)
        goto fail;
    *state = st;
fail:
    free(scratch);
    free(config);
    st_close(file);
    return status;
}

static char *with_suffix(const char *model_path, const char *suffix) {
    static const char ext[] = ".safetensors";
    size_t len = strlen(model_path), ext_len = sizeof ext - 1;
    if (len > ext_len && strcmp(model_path + len - ext_len, ext) == 0) len -= ext_len;
    size_t suffix_len = strlen(suffix);
    char *out = malloc(len + suffix_len + 1);
    if (!out) return NULL;
    memcpy(out, model_path, len);
    memcpy(out + len, suffix, suffix_len + 1);
    return out;
}

char *checkpoint_state_path(const char *model_path) {
    static const char state_ext[] = ".state.safetensors";
    size_t len = strlen(model_path), n = sizeof state_ext - 1;
    if (len > n && strcmp(model_path + len - n, state_ext) == 0) return strdup(model_path);
    return with_suffix(model_path, state_ext);
}

char *checkpoint_best_path(const char *model_path) {
    return with_suffix(model_path, ".best.safetensors");
}
