/*
 * config.c — ModelConfig defaults, validation, names, JSON round trip (checkpoint metadata)
 * and the Transformer's crop rule (model.h). Tested by tests/unit/test_model.c
 * (test_config_*: defaults pass the check, each rule refused with the option named, JSON
 * round trip, malformed and unknown-key JSON refused).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "kernels/attention.h"
#include "kernels/conv.h"
#include "kernels/scan.h"
#include "models/model.h"
#include "models/model_internal.h"

// ------------------------------------------------------------------------------ names

static const char *const arch_names[] = {"mamba", "bimamba", "transformer", "hybrid"};
static const char *const task_names[] = {"classify", "lm"};
static const char *const input_names[] = {"tokens", "waveform"};
static const char *const norm_names[] = {"rms", "layer"};
static const char *const pool_names[] = {"mean", "last", "first"};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *name_of(const char *const *names, int n, int value) {
    return value >= 0 && value < n ? names[value] : "?";
}

static int index_of(const char *const *names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

const char *model_arch_name(ModelArch arch) {
    return name_of(arch_names, N_OF(arch_names), arch);
}

int model_arch_parse(const char *name, ModelArch *arch) {
    int i = index_of(arch_names, N_OF(arch_names), name);
    if (i < 0)
        return ls_error(LS_ERR_USAGE, "--arch %s: expected mamba, bimamba, transformer or hybrid",
                        name);
    *arch = (ModelArch)i;
    return 0;
}

// ------------------------------------------------------------------------------ hybrid plan

int model_layer_is_attention(const ModelConfig *c, int64_t i) {
    if (c->arch == MODEL_TRANSFORMER) return 1;
    if (c->arch != MODEL_HYBRID || i < 0 || i >= MODEL_MAX_LAYERS) return 0;
    return (int)((c->attn_layers[i / 64] >> (i % 64)) & 1);
}

int64_t model_attention_layers(const ModelConfig *c) {
    int64_t n = 0;
    for (int64_t i = 0; i < c->n_layers && i < MODEL_MAX_LAYERS; i++)
        n += model_layer_is_attention(c, i);
    return n;
}

int model_config_set_attn_layers(ModelConfig *c, const char *list) {
    uint64_t set[MODEL_MAX_LAYERS / 64] = {0};
    const char *p = list;
    if (!*p) return ls_error(LS_ERR_USAGE, "--attn-layers: give layer indices, e.g. 2,5");
    for (;;) {
        char *end = NULL;
        long long v = strtoll(p, &end, 10);
        if (end == p || (*end && *end != ',') || *p == '+' || *p == ' ')
            return ls_error(LS_ERR_USAGE, "--attn-layers %s: '%.*s' is not a layer index", list,
                            (int)strcspn(p, ","), p);
        if (v < 0 || v >= c->n_layers)
            return ls_error(LS_ERR_USAGE, "--attn-layers %s: layer %lld does not exist (layers "
                            "0..%lld)", list, v, (long long)c->n_layers - 1);
        if ((set[v / 64] >> (v % 64)) & 1)
            return ls_error(LS_ERR_USAGE, "--attn-layers %s: layer %lld is given twice", list, v);
        set[v / 64] |= UINT64_C(1) << (v % 64);
        if (!*end) break;
        p = end + 1;
    }
    memcpy(c->attn_layers, set, sizeof set);
    return 0;
}

int model_config_set_attn_every(ModelConfig *c, int64_t K) {
    if (K < 1 || K > c->n_layers)
        return ls_error(LS_ERR_USAGE, "--attn-every %lld: must be 1..%lld (the layers)",
                        (long long)K, (long long)c->n_layers);
    memset(c->attn_layers, 0, sizeof c->attn_layers);
    for (int64_t i = 0; i < c->n_layers && i < MODEL_MAX_LAYERS; i++)
        if (i % K == K / 2) c->attn_layers[i / 64] |= UINT64_C(1) << (i % 64);
    return 0;
}

// ------------------------------------------------------------------------------ defaults, check

void model_config_default(ModelConfig *cfg, ModelArch arch, ModelTask task) {
    memset(cfg, 0, sizeof *cfg);
    cfg->arch = arch;
    cfg->task = task;
    cfg->input = MODEL_INPUT_TOKENS;
    cfg->vocab = 5;  // DNA (io/encode.h DNA_VOCAB)
    cfg->frame = 80; // 10 ms at 8 kHz
    cfg->d_model = 128;
    cfg->n_layers = 4;
    cfg->d_state = 16;
    cfg->d_conv = 4;
    cfg->expand = 2;
    cfg->dt_rank = 0; // ceil(d_model / 16)
    cfg->dt_min = 0.001f;
    cfg->dt_max = 0.1f;
    cfg->rc_equivariant = 0;
    cfg->n_heads = 4;
    cfg->mlp_hidden = -1; // 4 · d_model; 0: no MLP
    cfg->window = arch == MODEL_TRANSFORMER ? 4096 : 0;
    if (arch == MODEL_HYBRID) // one attention block, in the middle of the 4 default layers
        cfg->attn_layers[0] = UINT64_C(1) << (cfg->n_layers / 2);
    cfg->causal = task == MODEL_TASK_LM;
    cfg->norm = MODEL_NORM_RMS;
    cfg->norm_eps = 1e-5f;
    cfg->n_classes = 2;
    cfg->pool = MODEL_POOL_MEAN;
    cfg->tie_embeddings = 1;
}

void model_config_resolve(ModelConfig *cfg) {
    if (cfg->dt_rank == 0) cfg->dt_rank = (cfg->d_model + 15) / 16;
    if (cfg->mlp_hidden < 0) cfg->mlp_hidden = 4 * cfg->d_model;
    if (cfg->arch != MODEL_TRANSFORMER) cfg->window = 0;
}

static int bad(const char *option, long long value, const char *rule) {
    return ls_error(LS_ERR_USAGE, "%s %lld: %s", option, value, rule);
}

int model_config_check(const ModelConfig *c) {
    if (c->arch < MODEL_MAMBA || c->arch > MODEL_HYBRID)
        return ls_error(LS_ERR_USAGE, "--arch: unknown architecture %d", (int)c->arch);
    if (c->task != MODEL_TASK_CLASSIFY && c->task != MODEL_TASK_LM)
        return ls_error(LS_ERR_USAGE, "--task: unknown task %d", (int)c->task);
    if (c->input != MODEL_INPUT_TOKENS && c->input != MODEL_INPUT_WAVEFORM)
        return ls_error(LS_ERR_USAGE, "input: unknown kind %d", (int)c->input);
    if (c->norm != MODEL_NORM_RMS && c->norm != MODEL_NORM_LAYER)
        return ls_error(LS_ERR_USAGE, "--norm: unknown norm %d", (int)c->norm);
    if (c->pool < MODEL_POOL_MEAN || c->pool > MODEL_POOL_FIRST)
        return ls_error(LS_ERR_USAGE, "--pool: unknown pooling %d", (int)c->pool);
    if (c->d_model < 1 || c->d_model > 65536)
        return bad("--d-model", c->d_model, "must be 1..65536");
    if (c->n_layers < 1 || c->n_layers > 1024)
        return bad("--n-layers", c->n_layers, "must be 1..1024");
    if (!(c->norm_eps >= 0.0f) || !isfinite(c->norm_eps))
        return ls_error(LS_ERR_USAGE, "--norm-eps %g: must be finite and >= 0", c->norm_eps);
    if (c->input == MODEL_INPUT_TOKENS) {
        if (c->vocab < 2 || c->vocab > MODEL_VOCAB_MAX)
            return bad("--vocab", c->vocab, "must be 2..16777216");
    } else {
        if (c->frame < 1 || c->frame > 65536) return bad("--frame", c->frame, "must be 1..65536");
        if (c->task != MODEL_TASK_CLASSIFY)
            return ls_error(LS_ERR_USAGE, "--task lm: waveform input has no token vocabulary to "
                                          "predict; quantise the audio (mu-law) for an LM");
    }
    if (c->task == MODEL_TASK_CLASSIFY && (c->n_classes < 2 || c->n_classes > 1000000))
        return bad("--n-classes", c->n_classes, "must be 2..1000000");
    if (c->arch != MODEL_TRANSFORMER) {
        if (c->d_state < 1 || c->d_state > SCAN_N_MAX)
            return bad("--d-state", c->d_state, "must be 1..256");
        if (c->d_conv < 1 || c->d_conv > CONV_K_MAX)
            return bad("--d-conv", c->d_conv, "must be 1..64");
        if (c->expand < 1 || c->expand > 64) return bad("--expand", c->expand, "must be 1..64");
        if (c->dt_rank < 0 || c->dt_rank > c->d_model * c->expand)
            return bad("--dt-rank", c->dt_rank, "must be 0 (auto: ceil(d_model/16)) .. d_inner");
        if (!(c->dt_min > 0.0f) || !(c->dt_max >= c->dt_min) || !isfinite(c->dt_max))
            return ls_error(LS_ERR_USAGE, "--dt-min %g --dt-max %g: need 0 < dt_min <= dt_max",
                            c->dt_min, c->dt_max);
        if (c->arch == MODEL_BIMAMBA && c->task == MODEL_TASK_LM)
            return ls_error(LS_ERR_USAGE, "--arch bimamba --task lm: a bidirectional model sees "
                                          "the next token; use --arch mamba for a language model");
    }
    if (c->rc_equivariant) {
        if (c->arch != MODEL_BIMAMBA || c->input != MODEL_INPUT_TOKENS ||
            c->task != MODEL_TASK_CLASSIFY)
            return ls_error(LS_ERR_USAGE, "--rc-equivariant: only for --arch bimamba classifying "
                                          "DNA tokens");
        if (c->vocab != 4 && c->vocab != 5)
            return bad("--vocab", c->vocab, "--rc-equivariant needs DNA tokens (vocab 4 or 5)");
    }
    if (c->arch == MODEL_HYBRID) {
        int64_t n_attn = model_attention_layers(c);
        for (int64_t i = c->n_layers; i < MODEL_MAX_LAYERS; i++)
            if ((c->attn_layers[i / 64] >> (i % 64)) & 1)
                return bad("--attn-layers", i, "is not a layer of the model");
        if (n_attn == 0)
            return ls_error(LS_ERR_USAGE, "--attn-layers: a hybrid needs at least one attention "
                                          "layer (use --model mamba for none)");
        if (n_attn == c->n_layers)
            return ls_error(LS_ERR_USAGE, "--attn-layers: every layer is attention; a hybrid "
                                          "needs a Mamba layer (use --model transformer)");
        if (c->rc_equivariant)
            return ls_error(LS_ERR_USAGE, "--rc-equivariant: only for --arch bimamba");
    } else {
        for (int i = 0; i < MODEL_MAX_LAYERS / 64; i++)
            if (c->attn_layers[i])
                return ls_error(LS_ERR_USAGE, "--attn-layers: only a hybrid chooses attention "
                                              "layers");
    }
    if (c->arch == MODEL_TRANSFORMER || c->arch == MODEL_HYBRID) {
        if (c->n_heads < 1 || c->d_model % c->n_heads != 0)
            return bad("--n-heads", c->n_heads, "must divide --d-model");
        int64_t hd = c->d_model / c->n_heads;
        if (hd % 2 != 0 || hd > ATTENTION_MAX_HEAD_DIM)
            return bad("--n-heads", c->n_heads,
                       "head dimension d_model/n_heads must be even and <= 256");
        if (c->mlp_hidden < -1 || c->mlp_hidden > 1048576)
            return bad("--mlp-hidden", c->mlp_hidden,
                       "must be 0 (no MLP: attention-only blocks) .. 1048576");
        if (c->window < 0) return bad("--window", c->window, "must be >= 0 (0: no limit)");
        if (c->task == MODEL_TASK_LM && !c->causal)
            return ls_error(LS_ERR_USAGE, "--bidirectional with --task lm: a language model's "
                                          "attention must be causal");
    }
    return 0;
}

int64_t model_crop_window(const ModelConfig *cfg, int64_t len, int mode, uint64_t random) {
    if (cfg->arch != MODEL_TRANSFORMER || cfg->window <= 0 || len <= cfg->window) return 0;
    int64_t slack = len - cfg->window;
    switch (mode) {
    case MODEL_CROP_FIRST: return 0;
    case MODEL_CROP_RANDOM: return (int64_t)(random % (uint64_t)(slack + 1));
    default: return slack / 2;
    }
}

// ------------------------------------------------------------------------------ JSON

// A float as the shortest decimal that reads back as the same float (0.001f → 0.001).
static double float_json(float x) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.9g", x);
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtof(buf, NULL) == x) break;
    }
    return strtod(buf, NULL);
}

int model_config_to_json(const ModelConfig *c, char **json) {
    *json = NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o) return ls_error(LS_ERR_NOMEM, "config: out of memory");
    int ok = 1;
#define ADD_STR(k, v)  ok &= cJSON_AddStringToObject(o, k, v) != NULL
#define ADD_NUM(k, v)  ok &= cJSON_AddNumberToObject(o, k, (double)(v)) != NULL
#define ADD_BOOL(k, v) ok &= cJSON_AddBoolToObject(o, k, (v) ? 1 : 0) != NULL
    ADD_STR("arch", name_of(arch_names, N_OF(arch_names), c->arch));
    ADD_STR("task", name_of(task_names, N_OF(task_names), c->task));
    ADD_STR("input", name_of(input_names, N_OF(input_names), c->input));
    ADD_NUM("vocab", c->vocab);
    ADD_NUM("frame", c->frame);
    ADD_NUM("d_model", c->d_model);
    ADD_NUM("n_layers", c->n_layers);
    ADD_NUM("d_state", c->d_state);
    ADD_NUM("d_conv", c->d_conv);
    ADD_NUM("expand", c->expand);
    ADD_NUM("dt_rank", c->dt_rank);
    ADD_NUM("dt_min", float_json(c->dt_min));
    ADD_NUM("dt_max", float_json(c->dt_max));
    ADD_BOOL("rc_equivariant", c->rc_equivariant);
    ADD_NUM("n_heads", c->n_heads);
    ADD_NUM("mlp_hidden", c->mlp_hidden);
    ADD_NUM("window", c->window);
    ADD_BOOL("causal", c->causal);
    ADD_STR("norm", name_of(norm_names, N_OF(norm_names), c->norm));
    ADD_NUM("norm_eps", float_json(c->norm_eps));
    ADD_NUM("n_classes", c->n_classes);
    ADD_STR("pool", name_of(pool_names, N_OF(pool_names), c->pool));
    ADD_BOOL("tie_embeddings", c->tie_embeddings);
    if (c->arch == MODEL_HYBRID) { // only hybrids carry the key: other configs read as before
        cJSON *list = cJSON_AddArrayToObject(o, "attn_layers");
        ok &= list != NULL;
        for (int64_t i = 0; list && i < c->n_layers; i++)
            if (model_layer_is_attention(c, i))
                ok &= cJSON_AddItemToArray(list, cJSON_CreateNumber((double)i));
    }
#undef ADD_STR
#undef ADD_NUM
#undef ADD_BOOL
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text) return ls_error(LS_ERR_NOMEM, "config: out of memory");
    *json = text;
    return 0;
}

static int json_int(const cJSON *item, const char *where, int64_t *out) {
    double v = item->valuedouble;
    if (!cJSON_IsNumber(item) || v != floor(v) || fabs(v) > 9007199254740992.0)
        return ls_error(LS_ERR_FORMAT, "%s: config key '%s' must be an integer", where,
                        item->string);
    *out = (int64_t)v;
    return 0;
}

static int json_float(const cJSON *item, const char *where, float *out) {
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
        return ls_error(LS_ERR_FORMAT, "%s: config key '%s' must be a number", where, item->string);
    *out = (float)item->valuedouble;
    return 0;
}

static int json_bool(const cJSON *item, const char *where, int *out) {
    if (!cJSON_IsBool(item))
        return ls_error(LS_ERR_FORMAT, "%s: config key '%s' must be true or false", where,
                        item->string);
    *out = cJSON_IsTrue(item) ? 1 : 0;
    return 0;
}

static int json_enum(const cJSON *item, const char *where, const char *const *names, int n,
                     int *out) {
    int i = cJSON_IsString(item) ? index_of(names, n, item->valuestring) : -1;
    if (i < 0)
        return ls_error(LS_ERR_FORMAT, "%s: config key '%s' has an unknown value", where,
                        item->string);
    *out = i;
    return 0;
}

// An array of layer indices → the bitmask (range against n_layers: model_config_check).
static int json_layer_set(const cJSON *item, const char *where, uint64_t *set) {
    memset(set, 0, MODEL_MAX_LAYERS / 8);
    if (!cJSON_IsArray(item))
        return ls_error(LS_ERR_FORMAT, "%s: config key 'attn_layers' must be an array", where);
    const cJSON *e;
    cJSON_ArrayForEach(e, item) {
        double v = e->valuedouble;
        if (!cJSON_IsNumber(e) || v != floor(v) || v < 0 || v >= MODEL_MAX_LAYERS)
            return ls_error(LS_ERR_FORMAT, "%s: config key 'attn_layers' holds a value that is "
                            "no layer index", where);
        set[(int64_t)v / 64] |= UINT64_C(1) << ((int64_t)v % 64);
    }
    return 0;
}

int model_config_from_json(ModelConfig *cfg, const char *json, const char *where) {
    int status = 0;
    cJSON *o = cJSON_Parse(json);
    if (!o || !cJSON_IsObject(o)) {
        status = ls_error(LS_ERR_FORMAT, "%s: model config is not a JSON object", where);
        goto fail;
    }
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(o, "arch");
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(o, "task");
    if (!arch || !task) {
        status = ls_error(LS_ERR_FORMAT, "%s: model config lacks 'arch' or 'task'", where);
        goto fail;
    }
    int a, t;
    if ((status = json_enum(arch, where, arch_names, N_OF(arch_names), &a)) < 0) goto fail;
    if ((status = json_enum(task, where, task_names, N_OF(task_names), &t)) < 0) goto fail;
    ModelConfig c;
    model_config_default(&c, (ModelArch)a, (ModelTask)t);
    const cJSON *it;
    cJSON_ArrayForEach(it, o) {
        const char *k = it->string;
        int e;
        if (!k) continue;
        if (!strcmp(k, "arch") || !strcmp(k, "task"))
            continue;
        else if (!strcmp(k, "input")) {
            status = json_enum(it, where, input_names, N_OF(input_names), &e);
            c.input = (ModelInput)e;
        } else if (!strcmp(k, "norm")) {
            status = json_enum(it, where, norm_names, N_OF(norm_names), &e);
            c.norm = (ModelNorm)e;
        } else if (!strcmp(k, "pool")) {
            status = json_enum(it, where, pool_names, N_OF(pool_names), &e);
            c.pool = (ModelPool)e;
        } else if (!strcmp(k, "vocab"))
            status = json_int(it, where, &c.vocab);
        else if (!strcmp(k, "frame"))
            status = json_int(it, where, &c.frame);
        else if (!strcmp(k, "d_model"))
            status = json_int(it, where, &c.d_model);
        else if (!strcmp(k, "n_layers"))
            status = json_int(it, where, &c.n_layers);
        else if (!strcmp(k, "d_state"))
            status = json_int(it, where, &c.d_state);
        else if (!strcmp(k, "d_conv"))
            status = json_int(it, where, &c.d_conv);
        else if (!strcmp(k, "expand"))
            status = json_int(it, where, &c.expand);
        else if (!strcmp(k, "dt_rank"))
            status = json_int(it, where, &c.dt_rank);
        else if (!strcmp(k, "dt_min"))
            status = json_float(it, where, &c.dt_min);
        else if (!strcmp(k, "dt_max"))
            status = json_float(it, where, &c.dt_max);
        else if (!strcmp(k, "rc_equivariant"))
            status = json_bool(it, where, &c.rc_equivariant);
        else if (!strcmp(k, "n_heads"))
            status = json_int(it, where, &c.n_heads);
        else if (!strcmp(k, "mlp_hidden"))
            status = json_int(it, where, &c.mlp_hidden);
        else if (!strcmp(k, "window"))
            status = json_int(it, where, &c.window);
        else if (!strcmp(k, "causal"))
            status = json_bool(it, where, &c.causal);
        else if (!strcmp(k, "norm_eps"))
            status = json_float(it, where, &c.norm_eps);
        else if (!strcmp(k, "n_classes"))
            status = json_int(it, where, &c.n_classes);
        else if (!strcmp(k, "tie_embeddings"))
            status = json_bool(it, where, &c.tie_embeddings);
        else if (!strcmp(k, "attn_layers"))
            status = json_layer_set(it, where, c.attn_layers);
        else
            status = ls_error(LS_ERR_FORMAT,
                              "%s: unknown model config key '%s' (written by a "
                              "newer longscan?)",
                              where, k);
        if (status < 0) goto fail;
    }
    if ((status = model_config_check(&c)) < 0) {
        ls_error_prefix("%s: model config", where);
        status = LS_ERR_FORMAT;
        goto fail;
    }
    *cfg = c;
fail:
    cJSON_Delete(o);
    return status;
}
