/*
 * hf.c — transformers Mamba directories read into a Model and written from one (hf.h). The
 * mapping of names and config keys is documented in docs/checkpoints.md "Hugging Face
 * transformers"; the rules here are that table in code.
 *
 * Reading follows transformers' own semantics where a config is silent or redundant: missing
 * keys take MambaConfig's defaults, intermediate_size (when present) wins over
 * expand·hidden_size as it does in MambaConfig, time_step_rank "auto" is ceil(hidden_size/16),
 * and a tied model's stray lm_head.weight is ignored (transformers re-ties it). Keys that only
 * steer initialisation, caching or generation are ignored; a key this file does not know is
 * ignored with a warning, since it may come from a newer transformers.
 *
 * Tested by tests/py/test_hf_parity.py, tests/py/test_hf_export.py and tests/cli/hf.tst.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/log.h"
#include "io/safetensors.h"
#include "kernels/conv.h"
#include "kernels/scan.h"
#include "models/hf.h"
#include "models/model_internal.h"

#define HF_CONFIG_MAX_BYTES (16L << 20) /* config.json and the shard index */
#define HF_MAX_SHARDS       4096

/* MambaConfig / PretrainedConfig keys that do not change the forward pass. */
static const char *const ignored_keys[] = {
    "architectures", "transformers_version", "torch_dtype", "dtype", "_name_or_path",
    "initializer_range", "rescale_prenorm_residual", "time_step_scale", "time_step_min",
    "time_step_max", "time_step_init_scheme", "time_step_floor", "use_cache", "use_mambapy",
    "residual_in_fp32", "pad_token_id", "bos_token_id", "eos_token_id", "return_dict",
    "output_hidden_states", "output_attentions", "torchscript", "id2label", "label2id",
    "problem_type", "tokenizer_class", "task_specific_params", "finetuning_task",
    "chunk_size_feed_forward", "is_encoder_decoder", "is_decoder", "add_cross_attention",
    "tie_encoder_decoder", "pruned_heads", "prefix", "sep_token_id", "decoder_start_token_id",
};

/* Keys read here. */
static const char *const known_keys[] = {
    "model_type", "vocab_size", "hidden_size", "state_size", "num_hidden_layers",
    "layer_norm_epsilon", "expand", "intermediate_size", "conv_kernel", "use_bias",
    "use_conv_bias", "hidden_act", "time_step_rank", "tie_word_embeddings", "longscan",
};

/* Keys of the "longscan" object: the model's here, the pipeline's (pipeline/hf.c) passed on. */
static const char *const longscan_keys[] = {
    "format_version", "task", "pool", "n_classes", "data", "labels", "longscan_version",
};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int in_list(const char *const *list, int n, const char *key) {
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], key) == 0) return 1;
    return 0;
}

// ------------------------------------------------------------------------------ files

int model_hf_is_dir(const char *path) {
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    while (a > 1 && dir[a - 1] == '/') a--;
    char *out = malloc(a + b + 2);
    if (!out) return NULL;
    memcpy(out, dir, a);
    out[a] = '/';
    memcpy(out + a + 1, name, b + 1);
    return out;
}

/* The whole of a small text file; LS_ERR_NOT_FOUND when it does not exist. */
static int read_text(const char *path, char **text) {
    *text = NULL;
    FILE *fp = fopen(path, "rbe");
    if (!fp)
        return ls_error(errno == ENOENT ? LS_ERR_NOT_FOUND : LS_ERR_IO, "%s: cannot open: %s",
                        path, strerror(errno));
    int status = 0;
    char *buf = NULL;
    long size = -1;
    if (fseek(fp, 0, SEEK_END) == 0) size = ftell(fp);
    if (size < 0 || fseek(fp, 0, SEEK_SET) != 0) {
        status = ls_error(LS_ERR_IO, "%s: cannot read (not a regular file?)", path);
        goto fail;
    }
    if (size > HF_CONFIG_MAX_BYTES) {
        status = ls_error(LS_ERR_FORMAT, "%s: %ld bytes, more than a config file holds", path,
                          size);
        goto fail;
    }
    buf = malloc((size_t)size + 1);
    if (!buf) {
        status = ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    if (fread(buf, 1, (size_t)size, fp) != (size_t)size) {
        status = ls_error(LS_ERR_IO, "%s: read failed", path);
        goto fail;
    }
    buf[size] = '\0';
    *text = buf;
    buf = NULL;
fail:
    free(buf);
    fclose(fp);
    return status;
}

/* Write @p text to path.tmp, fsync, rename over path. */
static int write_text(const char *path, const char *text) {
    size_t n = strlen(path);
    char *tmp = malloc(n + 5);
    if (!tmp) return ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    int status = 0;
    FILE *fp = fopen(tmp, "wbe");
    if (!fp) {
        status = ls_error(LS_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto fail;
    }
    size_t len = strlen(text);
    int ok = fwrite(text, 1, len, fp) == len && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    ok &= fclose(fp) == 0;
    if (!ok || rename(tmp, path) != 0) {
        status = ls_error(LS_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        unlink(tmp);
    }
fail:
    free(tmp);
    return status;
}

// ------------------------------------------------------------------------------ config.json

/* "the value" of a JSON item for a message: a string in quotes, else JSON text. */
static void value_text(const cJSON *item, char *buf, size_t size) {
    if (cJSON_IsString(item)) {
        snprintf(buf, size, "'%s'", item->valuestring);
        return;
    }
    char *text = cJSON_PrintUnformatted(item);
    snprintf(buf, size, "%s", text ? text : "?");
    cJSON_free(text);
}

static int bad_key(const char *path, const cJSON *item, const char *rule) {
    char value[64];
    value_text(item, value, sizeof value);
    return ls_error(LS_ERR_FORMAT, "%s: key '%s' is %s: %s", path, item->string, value, rule);
}

static int unsupported_key(const char *path, const cJSON *item, const char *why) {
    char value[64];
    value_text(item, value, sizeof value);
    return ls_error(LS_ERR_UNSUPPORTED, "%s: key '%s' is %s: %s", path, item->string, value, why);
}

/* An integer key in [lo, hi]; *out keeps its default when the key is absent. */
static int get_int(const cJSON *o, const char *key, int64_t lo, int64_t hi, const char *path,
                   int64_t *out) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!item) return 0;
    double v = item->valuedouble;
    if (!cJSON_IsNumber(item) || v != floor(v) || v < (double)lo || v > (double)hi) {
        char rule[96];
        snprintf(rule, sizeof rule, "expected an integer %lld..%lld", (long long)lo,
                 (long long)hi);
        return bad_key(path, item, rule);
    }
    *out = (int64_t)v;
    return 0;
}

static int get_bool(const cJSON *o, const char *key, const char *path, int *out) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!item) return 0;
    if (!cJSON_IsBool(item)) return bad_key(path, item, "expected true or false");
    *out = cJSON_IsTrue(item);
    return 0;
}

static int index_of(const char *const *names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

/* The "longscan" object: task, pool, n_classes (the model's keys). */
static int read_longscan(const cJSON *ls, const char *path, ModelConfig *c) {
    static const char *const tasks[] = {"classify", "lm"};
    static const char *const pools[] = {"mean", "last", "first"};
    if (!cJSON_IsObject(ls)) return bad_key(path, ls, "expected a JSON object");
    const cJSON *it;
    cJSON_ArrayForEach(it, ls) {
        if (!in_list(longscan_keys, N_OF(longscan_keys), it->string))
            return ls_error(LS_ERR_FORMAT, "%s: key 'longscan.%s' unknown (written by a newer "
                            "longscan?)", path, it->string);
    }
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(ls, "format_version");
    if (version && !(cJSON_IsString(version) && strcmp(version->valuestring, "1") == 0))
        return ls_error(LS_ERR_FORMAT, "%s: key 'longscan.format_version' is not \"1\" (written "
                        "by a newer longscan?)", path);
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(ls, "task");
    const cJSON *pool = cJSON_GetObjectItemCaseSensitive(ls, "pool");
    int t = task && cJSON_IsString(task) ? index_of(tasks, 2, task->valuestring) : -2;
    if (task && t < 0)
        return ls_error(LS_ERR_FORMAT, "%s: key 'longscan.task' must be \"lm\" or \"classify\"",
                        path);
    if (t == MODEL_TASK_CLASSIFY) {
        int p = pool && cJSON_IsString(pool) ? index_of(pools, 3, pool->valuestring) : -1;
        if (p < 0)
            return ls_error(LS_ERR_FORMAT, "%s: key 'longscan.pool' must be \"mean\", \"last\" "
                            "or \"first\" for a classifier", path);
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(ls, "n_classes");
        double v = k ? k->valuedouble : 0;
        if (!cJSON_IsNumber(k) || v != floor(v) || v < 2 || v > 1000000)
            return ls_error(LS_ERR_FORMAT, "%s: key 'longscan.n_classes' must be an integer "
                            "2..1000000 for a classifier", path);
        c->task = MODEL_TASK_CLASSIFY;
        c->pool = (ModelPool)p;
        c->n_classes = (int64_t)v;
        c->causal = 0;
    }
    return 0;
}

/* config.json → ModelConfig (causal Mamba, RMSNorm, token input) and the "longscan" object. */
static int read_config(const char *path, const char *text, ModelConfig *cfg, char **longscan,
                       int *conv_bias) {
    int status = 0;
    *longscan = NULL;
    cJSON *o = cJSON_Parse(text);
    if (!cJSON_IsObject(o)) {
        status = ls_error(LS_ERR_FORMAT, "%s: not a JSON object", path);
        goto fail;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "model_type");
    if (!type) {
        status = ls_error(LS_ERR_FORMAT, "%s: key 'model_type' missing (not a transformers "
                          "config; longscan reads model_type \"mamba\")", path);
        goto fail;
    }
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "mamba") != 0) {
        status = unsupported_key(path, type, "longscan reads transformers' Mamba (model_type "
                                 "\"mamba\") only");
        goto fail;
    }
    ModelConfig c;
    model_config_default(&c, MODEL_MAMBA, MODEL_TASK_LM);
    /* MambaConfig's defaults */
    int64_t vocab = 50280, D = 768, N = 16, layers = 32, K = 4, E = 0, R = 0;
    double expand = 2.0;
    int tie = 1, use_bias = 0, use_conv_bias = 1;
    c.norm_eps = 1e-5f;
    if ((status = get_int(o, "vocab_size", 1, INT64_MAX / 2, path, &vocab)) < 0 ||
        (status = get_int(o, "hidden_size", 1, 65536, path, &D)) < 0 ||
        (status = get_int(o, "state_size", 1, SCAN_N_MAX, path, &N)) < 0 ||
        (status = get_int(o, "num_hidden_layers", 1, 1024, path, &layers)) < 0 ||
        (status = get_int(o, "conv_kernel", 1, CONV_K_MAX, path, &K)) < 0 ||
        (status = get_int(o, "intermediate_size", 1, 64 * 65536, path, &E)) < 0 ||
        (status = get_bool(o, "tie_word_embeddings", path, &tie)) < 0 ||
        (status = get_bool(o, "use_bias", path, &use_bias)) < 0 ||
        (status = get_bool(o, "use_conv_bias", path, &use_conv_bias)) < 0)
        goto fail;
    const cJSON *item;
    /* a vocabulary larger than the input alphabet is fine (a text tokenizer's 50280, say):
     * the inputs are the model's own ids 0..4 or 0..255, and a score is the model's
     * probability over its whole vocabulary, as transformers computes it */
    if ((item = cJSON_GetObjectItemCaseSensitive(o, "vocab_size")) &&
        (vocab < 2 || vocab > MODEL_VOCAB_MAX)) {
        status = unsupported_key(path, item, "longscan reads vocabularies of 2..16777216");
        goto fail;
    }
    if (!cJSON_GetObjectItemCaseSensitive(o, "vocab_size")) {
        status = ls_error(LS_ERR_UNSUPPORTED, "%s: key 'vocab_size' missing (MambaConfig's "
                          "default would be 50280: give it explicitly)", path);
        goto fail;
    }
    if ((item = cJSON_GetObjectItemCaseSensitive(o, "expand"))) {
        if (!cJSON_IsNumber(item) || !(item->valuedouble > 0) || item->valuedouble > 64) {
            status = bad_key(path, item, "expected a number in (0, 64]");
            goto fail;
        }
        expand = item->valuedouble;
    }
    if (!cJSON_GetObjectItemCaseSensitive(o, "intermediate_size"))
        E = (int64_t)(expand * (double)D); /* MambaConfig: int(expand * hidden_size) */
    if (E < D || E % D != 0 || E / D > 64) {
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(o, "intermediate_size");
        if (!key) key = cJSON_GetObjectItemCaseSensitive(o, "expand");
        char why[128];
        snprintf(why, sizeof why, "longscan needs d_inner = expand x hidden_size (%lld) with an "
                 "integer expand 1..64", (long long)D);
        status = unsupported_key(path, key, why);
        goto fail;
    }
    if ((item = cJSON_GetObjectItemCaseSensitive(o, "time_step_rank"))) {
        if (cJSON_IsString(item) && strcmp(item->valuestring, "auto") == 0)
            R = 0;
        else if ((status = get_int(o, "time_step_rank", 1, E, path, &R)) < 0)
            goto fail;
    }
    if ((item = cJSON_GetObjectItemCaseSensitive(o, "layer_norm_epsilon"))) {
        if (!cJSON_IsNumber(item) || !(item->valuedouble >= 0) || !isfinite(item->valuedouble)) {
            status = bad_key(path, item, "expected a finite number >= 0");
            goto fail;
        }
        c.norm_eps = (float)item->valuedouble;
    }
    if ((item = cJSON_GetObjectItemCaseSensitive(o, "hidden_act")) &&
        !(cJSON_IsString(item) && (strcmp(item->valuestring, "silu") == 0 ||
                                   strcmp(item->valuestring, "swish") == 0))) {
        status = unsupported_key(path, item, "longscan's Mamba block uses SiLU");
        goto fail;
    }
    if (use_bias) {
        status = unsupported_key(path, cJSON_GetObjectItemCaseSensitive(o, "use_bias"),
                                 "longscan's in_proj and out_proj have no bias");
        goto fail;
    }
    c.vocab = vocab;
    c.d_model = D;
    c.n_layers = layers;
    c.d_state = N;
    c.d_conv = K;
    c.expand = E / D;
    c.dt_rank = R;
    c.tie_embeddings = tie;
    c.norm = MODEL_NORM_RMS;
    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(o, "longscan");
    if (ls) {
        if ((status = read_longscan(ls, path, &c)) < 0) goto fail;
        if (!(*longscan = cJSON_PrintUnformatted(ls))) {
            status = ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
            goto fail;
        }
    }
    if (c.task == MODEL_TASK_CLASSIFY) c.tie_embeddings = 1; /* no LM head at all */
    const cJSON *it;
    cJSON_ArrayForEach(it, o) {
        if (!in_list(known_keys, N_OF(known_keys), it->string) &&
            !in_list(ignored_keys, N_OF(ignored_keys), it->string))
            ls_log_warn("%s: key '%s' is unknown to longscan; ignored", path, it->string);
    }
    if ((status = model_config_check(&c)) < 0) { /* a file's fault, not the command line's */
        ls_error_prefix("%s", path);
        status = LS_ERR_FORMAT;
        goto fail;
    }
    *cfg = c;
    *conv_bias = use_conv_bias;
fail:
    if (status < 0 && *longscan) {
        cJSON_free(*longscan);
        *longscan = NULL;
    }
    cJSON_Delete(o);
    return status;
}

// ------------------------------------------------------------------------------ names

/* longscan's name → transformers' (@p prefix "backbone." or "" for a MambaModel file). */
static void hf_name(const char *name, const char *prefix, char *out, size_t size) {
    if (strcmp(name, "backbone.embedding.weight") == 0)
        snprintf(out, size, "%sembeddings.weight", prefix);
    else if (strncmp(name, "backbone.", 9) == 0)
        snprintf(out, size, "%s%s", prefix, name + 9);
    else
        snprintf(out, size, "%s", name);
}

/* transformers' name → longscan's (the inverse of hf_name; others unchanged). */
static void ls_name(const char *name, const char *prefix, char *out, size_t size) {
    size_t p = strlen(prefix);
    const char *rest = strncmp(name, prefix, p) == 0 ? name + p : NULL;
    if (rest && strcmp(rest, "embeddings.weight") == 0)
        snprintf(out, size, "backbone.embedding.weight");
    else if (rest && (strncmp(rest, "layers.", 7) == 0 || strcmp(rest, "norm_f.weight") == 0))
        snprintf(out, size, "backbone.%s", rest);
    else
        snprintf(out, size, "%s", name);
}

/* The config.json keys a tensor's shape comes from, for messages. */
static const char *shape_keys(const char *name) {
    static const struct { const char *suffix, *keys; } rules[] = {
        {"embedding.weight", "vocab_size, hidden_size"},
        {"A_log", "intermediate_size, state_size"},
        {"mixer.D", "intermediate_size"},
        {"in_proj.weight", "intermediate_size, hidden_size"},
        {"conv1d.weight", "intermediate_size, conv_kernel"},
        {"conv1d.bias", "intermediate_size"},
        {"x_proj.weight", "time_step_rank, state_size, intermediate_size"},
        {"dt_proj.weight", "intermediate_size, time_step_rank"},
        {"dt_proj.bias", "intermediate_size"},
        {"out_proj.weight", "hidden_size, intermediate_size"},
        {"norm.weight", "hidden_size"},
        {"norm_f.weight", "hidden_size"},
        {"lm_head.weight", "vocab_size, hidden_size"},
        {"classifier.weight", "longscan.n_classes, hidden_size"},
        {"classifier.bias", "longscan.n_classes"},
    };
    size_t len = strlen(name);
    for (int i = 0; i < N_OF(rules); i++) {
        size_t n = strlen(rules[i].suffix);
        if (len >= n && strcmp(name + len - n, rules[i].suffix) == 0) return rules[i].keys;
    }
    return "the config";
}

static void format_shape(char *buf, size_t size, int ndim, const int64_t *shape) {
    size_t at = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && at < size; d++)
        at += (size_t)snprintf(buf + at, size - at, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (at < size) snprintf(buf + at, size - at, "]");
}

// ------------------------------------------------------------------------------ weights

/* The weight files of a directory: model.safetensors, or the shards of its index. */
typedef struct {
    const char *dir;
    int n;
    StFile **files;
    char **names;  /* file names within dir */
    cJSON *index;  /* parsed model.safetensors.index.json, or NULL */
    const cJSON *map;
    char *index_path;
} Weights;

static void weights_close(Weights *w) {
    for (int i = 0; i < w->n; i++) {
        st_close(w->files[i]);
        free(w->names[i]);
    }
    free(w->files);
    free(w->names);
    cJSON_Delete(w->index);
    free(w->index_path);
}

static int weights_add(Weights *w, const char *name) {
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->names[i], name) == 0) return 0;
    if (w->n == HF_MAX_SHARDS)
        return ls_error(LS_ERR_FORMAT, "%s: more than %d shards", w->index_path, HF_MAX_SHARDS);
    /* a shard is a plain file name beside the index, never a path out of the directory */
    if (!*name || strchr(name, '/') || strcmp(name, "..") == 0 || strcmp(name, ".") == 0)
        return ls_error(LS_ERR_FORMAT, "%s: key 'weight_map' names shard '%s', not a file "
                        "name in the directory", w->index_path, name);
    StFile **files = realloc(w->files, (size_t)(w->n + 1) * sizeof *files);
    if (files) w->files = files;
    char **names = files ? realloc(w->names, (size_t)(w->n + 1) * sizeof *names) : NULL;
    if (names) w->names = names;
    char *copy = names ? strdup(name) : NULL;
    char *path = copy ? join(w->dir, name) : NULL;
    if (!path) {
        free(copy);
        return ls_error(LS_ERR_NOMEM, "out of memory");
    }
    StFile *f = NULL;
    int status = st_open(&f, path);
    free(path);
    if (status < 0) {
        free(copy);
        return status;
    }
    w->files[w->n] = f;
    w->names[w->n] = copy;
    w->n++;
    return 0;
}

static int weights_open(Weights *w, const char *dir) {
    *w = (Weights){.dir = dir};
    char *single = join(dir, "model.safetensors");
    w->index_path = join(dir, "model.safetensors.index.json");
    if (!single || !w->index_path) {
        free(single);
        return ls_error(LS_ERR_NOMEM, "out of memory");
    }
    int status = 0;
    struct stat st;
    if (stat(single, &st) == 0) {
        status = weights_add(w, "model.safetensors");
        free(single);
        return status;
    }
    free(single);
    char *text = NULL;
    status = read_text(w->index_path, &text);
    if (status == LS_ERR_NOT_FOUND) {
        char *bin = join(dir, "pytorch_model.bin");
        int has_bin = bin && stat(bin, &st) == 0;
        free(bin);
        return ls_error(LS_ERR_IO, "%s: no model.safetensors or model.safetensors.index.json%s",
                        dir, has_bin ? " (pytorch_model.bin is not read: save with "
                                       "safe_serialization=True)" : "");
    }
    if (status < 0) return status;
    w->index = cJSON_Parse(text);
    free(text);
    w->map = cJSON_IsObject(w->index) ? cJSON_GetObjectItemCaseSensitive(w->index, "weight_map")
                                      : NULL;
    if (!cJSON_IsObject(w->map))
        return ls_error(LS_ERR_FORMAT, "%s: key 'weight_map' missing or not an object",
                        w->index_path);
    const cJSON *it;
    cJSON_ArrayForEach(it, w->map) {
        if (!cJSON_IsString(it))
            return ls_error(LS_ERR_FORMAT, "%s: key 'weight_map' entry '%s' is not a file name",
                            w->index_path, it->string);
        if ((status = weights_add(w, it->valuestring)) < 0) return status;
    }
    return 0;
}

/* Tensor @p name of the directory, or NULL (not an error by itself). */
static const StTensor *weights_find(const Weights *w, const char *name, StFile **file) {
    int at = 0;
    if (w->map) {
        const cJSON *where = cJSON_GetObjectItemCaseSensitive(w->map, name);
        if (!where) return NULL;
        for (at = 0; at < w->n && strcmp(w->names[at], where->valuestring) != 0; at++) {}
        if (at == w->n) return NULL;
    }
    *file = w->files[at];
    return st_find(w->files[at], name);
}

// ------------------------------------------------------------------------------ load

int model_load_hf(Model **out, const char *dir, const Device *dev, char **longscan_json) {
    *out = NULL;
    *longscan_json = NULL;
    Model *m = NULL;
    Weights w = {0};
    float *scratch = NULL;
    char *text = NULL, *longscan = NULL;
    char *cfg_path = join(dir, "config.json");
    if (!cfg_path) return ls_error(LS_ERR_NOMEM, "out of memory");
    ModelConfig cfg;
    int conv_bias = 1;
    int status = read_text(cfg_path, &text);
    if (status == LS_ERR_NOT_FOUND) {
        status = ls_error(LS_ERR_IO, "%s: no config.json (a transformers model directory holds "
                          "config.json and model.safetensors)", dir);
        goto fail;
    }
    if (status < 0) goto fail;
    if ((status = read_config(cfg_path, text, &cfg, &longscan, &conv_bias)) < 0) goto fail;
    if ((status = weights_open(&w, dir)) < 0) goto fail;
    if ((status = model_init(&m, &cfg, dev, 0)) < 0) goto fail;

    /* MambaForCausalLM files name the backbone "backbone.", MambaModel files do not */
    StFile *file = NULL;
    const char *prefix = weights_find(&w, "backbone.embeddings.weight", &file) ? "backbone."
                         : weights_find(&w, "embeddings.weight", &file)    ? ""
                                                                            : "backbone.";
    const ParamTable *table = &m->table;
    scratch = calloc((size_t)(table->total > 0 ? table->total : 1), sizeof *scratch);
    if (!scratch) {
        status = ls_error(LS_ERR_NOMEM, "%s: out of memory for %lld parameters", dir,
                          (long long)table->total);
        goto fail;
    }
    char name[PARAM_NAME_MAX + 16];
    /* every tensor of the table, checked and read into scratch */
    for (int i = 0; i < table->n; i++) {
        const ParamEntry *e = &table->entries[i];
        hf_name(e->name, prefix, name, sizeof name);
        size_t len = strlen(e->name);
        int is_conv_bias = len > 12 && strcmp(e->name + len - 12, ".conv1d.bias") == 0;
        if (is_conv_bias && !conv_bias) continue; /* use_conv_bias false: zeros */
        const StTensor *t = weights_find(&w, name, &file);
        const char *where = w.map ? w.index_path : st_path(w.files[0]);
        if (!t) {
            status = ls_error(LS_ERR_FORMAT, "%s: tensor '%s' missing (config.json implies it: "
                              "%s)", where, name, shape_keys(e->name));
            goto fail;
        }
        where = st_path(file);
        if (t->dtype != ST_F32 && t->dtype != ST_BF16 && t->dtype != ST_F16) {
            status = ls_error(LS_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s; longscan reads "
                              "F32, BF16 and F16", where, name, st_dtype_name(t->dtype));
            goto fail;
        }
        int same = t->ndim == e->ndim;
        for (int d = 0; same && d < e->ndim; d++) same = t->shape[d] == e->shape[d];
        if (!same) {
            char want[96], got[96];
            format_shape(want, sizeof want, e->ndim, e->shape);
            format_shape(got, sizeof got, t->ndim, t->shape);
            status = ls_error(LS_ERR_FORMAT, "%s: tensor '%s' has shape %s, config.json implies "
                              "%s (%s)", where, name, got, want, shape_keys(e->name));
            goto fail;
        }
        if ((status = st_read_f32(file, t, scratch + e->offset, e->numel)) < 0) goto fail;
    }
    /* and nothing else: every tensor of every file must be one of them */
    for (int f = 0; f < w.n; f++) {
        for (int64_t k = 0; k < st_count(w.files[f]); k++) {
            const char *hf = st_tensor(w.files[f], k)->name;
            char mapped[PARAM_NAME_MAX + 16];
            ls_name(hf, prefix, mapped, sizeof mapped);
            const ParamEntry *e = param_table_find(table, mapped);
            size_t len = strlen(mapped);
            int is_conv_bias = len > 12 && strcmp(mapped + len - 12, ".conv1d.bias") == 0;
            if (strcmp(mapped, "lm_head.weight") == 0 && cfg.task == MODEL_TASK_LM &&
                cfg.tie_embeddings)
                continue; /* tied: transformers ignores the copy, so do we */
            StFile *owner = NULL;
            if (!e || (is_conv_bias && !conv_bias) || !weights_find(&w, hf, &owner) ||
                owner != w.files[f]) {
                status = ls_error(LS_ERR_FORMAT, "%s: unexpected tensor '%s' (not in the model "
                                  "config.json describes%s)", st_path(w.files[f]), hf,
                                  is_conv_bias && !conv_bias ? ": use_conv_bias is false"
                                  : e ? ", or listed in another shard by the index" : "");
                goto fail;
            }
        }
    }
    if ((status = model_buffer_write(m, MODEL_BUF_PARAMS, scratch)) < 0) goto fail;
    *out = m;
    m = NULL;
    *longscan_json = longscan ? strdup(longscan) : NULL;
    if (longscan && !*longscan_json) {
        model_free(*out);
        *out = NULL;
        status = ls_error(LS_ERR_NOMEM, "out of memory");
    }
fail:
    cJSON_free(longscan);
    free(scratch);
    weights_close(&w);
    model_free(m);
    free(text);
    free(cfg_path);
    return status;
}

// ------------------------------------------------------------------------------ save

int model_hf_check(const ModelConfig *c) {
    if (c->arch == MODEL_BIMAMBA)
        return ls_error(LS_ERR_UNSUPPORTED, "a bidirectional Mamba has no transformers class "
                        "(docs/checkpoints.md gives its Caduceus names)");
    if (c->arch != MODEL_MAMBA)
        return ls_error(LS_ERR_UNSUPPORTED, "the %s baseline has no transformers Mamba "
                        "equivalent", model_arch_name(c->arch));
    if (c->input != MODEL_INPUT_TOKENS)
        return ls_error(LS_ERR_UNSUPPORTED, "a waveform-input model (its strided stem) has no "
                        "transformers Mamba equivalent");
    if (c->norm != MODEL_NORM_RMS)
        return ls_error(LS_ERR_UNSUPPORTED, "transformers' Mamba uses RMSNorm, this model "
                        "LayerNorm");
    return 0;
}

/* A float as the shortest decimal that reads back as the same float (1e-5f → 1e-05). */
static double float_json(float x) {
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtof(buf, NULL) == x) break;
    }
    return strtod(buf, NULL);
}

static int config_json(const ModelConfig *c, const char *longscan_json, char **text) {
    static const char *const pools[] = {"mean", "last", "first"};
    *text = NULL;
    cJSON *ls = longscan_json ? cJSON_Parse(longscan_json) : cJSON_CreateObject();
    if (!cJSON_IsObject(ls)) {
        cJSON_Delete(ls);
        return ls_error(LS_ERR_USAGE, "model_save_hf: longscan_json is not a JSON object");
    }
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    const int lm = c->task == MODEL_TASK_LM;
    cJSON *arch = cJSON_AddArrayToObject(o, "architectures");
    ok &= arch && cJSON_AddItemToArray(arch, cJSON_CreateString(lm ? "MambaForCausalLM"
                                                                     : "MambaModel"));
#define NUM(k, v)  ok &= cJSON_AddNumberToObject(o, k, (double)(v)) != NULL
#define BOOL(k, v) ok &= cJSON_AddBoolToObject(o, k, v) != NULL
#define STR(k, v)  ok &= cJSON_AddStringToObject(o, k, v) != NULL
    STR("model_type", "mamba");
    NUM("vocab_size", c->vocab);
    NUM("hidden_size", c->d_model);
    NUM("num_hidden_layers", c->n_layers);
    NUM("state_size", c->d_state);
    NUM("conv_kernel", c->d_conv);
    NUM("expand", c->expand);
    NUM("intermediate_size", c->expand * c->d_model);
    NUM("time_step_rank", c->dt_rank);
    NUM("layer_norm_epsilon", float_json(c->norm_eps));
    STR("hidden_act", "silu");
    BOOL("use_bias", 0);
    BOOL("use_conv_bias", 1);
    BOOL("residual_in_fp32", 1);
    BOOL("tie_word_embeddings", lm ? c->tie_embeddings != 0 : 1);
    NUM("time_step_min", float_json(c->dt_min));
    NUM("time_step_max", float_json(c->dt_max));
    STR("torch_dtype", "float32");
    /* the model's keys into the "longscan" object (replacing any the caller gave) */
    const char *model_keys[] = {"format_version", "task", "pool", "n_classes"};
    for (int i = 0; i < 4; i++) cJSON_DeleteItemFromObjectCaseSensitive(ls, model_keys[i]);
    ok &= cJSON_AddStringToObject(ls, "format_version", "1") != NULL;
    ok &= cJSON_AddStringToObject(ls, "task", lm ? "lm" : "classify") != NULL;
    if (!lm) {
        ok &= cJSON_AddStringToObject(ls, "pool", pools[c->pool]) != NULL;
        ok &= cJSON_AddNumberToObject(ls, "n_classes", (double)c->n_classes) != NULL;
    }
#undef NUM
#undef BOOL
#undef STR
    if (ok && cJSON_AddItemToObject(o, "longscan", ls))
        ls = NULL;
    else
        ok = 0;
    char *printed = ok ? cJSON_Print(o) : NULL;
    cJSON_Delete(ls);
    cJSON_Delete(o);
    if (!printed) return ls_error(LS_ERR_NOMEM, "config.json: out of memory");
    size_t n = strlen(printed);
    *text = malloc(n + 2);
    if (*text) {
        memcpy(*text, printed, n);
        memcpy(*text + n, "\n", 2);
    }
    cJSON_free(printed);
    return *text ? 0 : ls_error(LS_ERR_NOMEM, "config.json: out of memory");
}

int model_save_hf(const Model *m, const char *dir, const char *longscan_json) {
    int status = model_hf_check(&m->cfg);
    if (status < 0) return status;
    StWriter *writer = NULL;
    float *params = NULL; // the writer keeps pointers into it until saved
    char *text = NULL, *weights_path = join(dir, "model.safetensors");
    char *cfg_path = join(dir, "config.json");
    if (!weights_path || !cfg_path) {
        status = ls_error(LS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((status = config_json(&m->cfg, longscan_json, &text)) < 0) goto fail;
    params = malloc((size_t)(m->table.total > 0 ? m->table.total : 1) * sizeof *params);
    if (!params) {
        status = ls_error(LS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((status = model_buffer_read(m, MODEL_BUF_PARAMS, params)) < 0) goto fail;
    if ((status = st_writer_init(&writer)) < 0) goto fail;
    for (int i = 0; i < m->table.n; i++) {
        const ParamEntry *e = &m->table.entries[i];
        char name[PARAM_NAME_MAX + 16];
        hf_name(e->name, "backbone.", name, sizeof name);
        status = st_writer_add(writer, name, ST_F32, e->ndim, e->shape, params + e->offset);
        if (status < 0) goto fail;
    }
    /* transformers refuses a safetensors file whose metadata format is not "pt" (or tf, flax) */
    if ((status = st_writer_set_metadata(writer, "format", "pt")) < 0 ||
        (status = st_writer_save(writer, weights_path)) < 0 ||
        (status = write_text(cfg_path, text)) < 0)
        goto fail;
fail:
    st_writer_free(writer);
    free(params);
    free(text);
    free(weights_path);
    free(cfg_path);
    return status;
}
