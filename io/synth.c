/*
 * synth.c — the synthetic tasks of synth.h: spec parsing and the generators.
 *
 * Why here and not in tools/: DESIGN lists "generators (synthetic tasks)" under tools/, but
 * tools/ programs are separate binaries, and `--data synth:...` must work inside the longscan
 * binary wherever a data source does; a data source is io/'s job.
 *
 * Every draw is integer: rng_below() (exact, rejection) on the example's own stream. Distinct
 * draws use Knuth's selection sampling (Algorithm S, sorted output) when the range is small
 * against the square of the count, otherwise Floyd's algorithm; MQAR's query positions use a
 * Fenwick tree of integer weights floor(2^32 / (g + 1)) (Zoology's power law p(g) ∝ g^(a−1)
 * at a → 0), drawn without replacement. Tested by tests/unit/test_synth.c.
 */
#include "io/synth.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/rng.h"

// ---------------------------------------------------------------------------- tasks and keys

typedef struct {
    const char *name;
    const char *required; /* space-separated, for messages */
    const char *optional;
} TaskInfo;

static const TaskInfo task_info[] = {
    [SYNTH_MQAR] = {"mqar", "len pairs vocab n", "seed"},
    [SYNTH_INDUCTION] = {"induction", "len vocab n", "seed"},
    [SYNTH_SELECTIVE_COPY] = {"selective-copy", "len tokens vocab n", "seed"},
    [SYNTH_COPY] = {"copy", "len vocab n", "tokens seed"},
    [SYNTH_RECALL] = {"recall", "len vocab n", "distance seed"},
};
#define N_TASKS ((int)(sizeof task_info / sizeof task_info[0]))

const char *synth_kind_name(SynthKind kind) {
    return (unsigned)kind < (unsigned)N_TASKS ? task_info[kind].name : "?";
}

int synth_is_spec(const char *source) {
    return source && strncmp(source, SYNTH_PREFIX, strlen(SYNTH_PREFIX)) == 0;
}

/* 1 if @p word is one of the space-separated words of @p list. */
static int in_list(const char *list, const char *word, size_t n) {
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, " ");
        if (len == n && strncmp(p, word, n) == 0) return 1;
        p += len;
        while (*p == ' ') p++;
    }
    return 0;
}

/* "a, b, c and d" from a space-separated list (for messages). */
static void list_text(const char *list, char *buf, size_t size) {
    int count = 0, i = 0;
    for (const char *p = list; *p; p += strcspn(p, " "), p += strspn(p, " ")) count++;
    size_t at = 0;
    buf[0] = '\0';
    for (const char *p = list; *p && at < size; i++) {
        size_t len = strcspn(p, " ");
        at += (size_t)snprintf(buf + at, size - at, "%s%.*s",
                               i == 0 ? "" : i == count - 1 ? " and " : ", ", (int)len, p);
        p += len;
        p += strspn(p, " ");
    }
}

// ---------------------------------------------------------------------------- parsing

/* The spec text as given, for messages (at most 200 bytes of it). */
#define SPEC_FMT "%.200s"

static int parse_value(const char *spec, const char *key, const char *text, int64_t min,
                       int64_t max, int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (!*text || *end || errno == ERANGE)
        return ls_error(LS_ERR_USAGE, SPEC_FMT ": key '%s': '%s' is not an integer", spec, key,
                        text);
    if (v < min || v > max)
        return ls_error(LS_ERR_USAGE, SPEC_FMT ": key '%s': %lld is out of range (%lld..%lld)",
                        spec, key, v, (long long)min, (long long)max);
    *out = (int64_t)v;
    return 0;
}

static int parse_seed(const char *spec, const char *text, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (!*text || *end || errno == ERANGE || text[0] == '-' || text[0] == '+')
        return ls_error(LS_ERR_USAGE, SPEC_FMT ": key 'seed': '%s' is not an integer "
                        "0..18446744073709551615", spec, text);
    *out = (uint64_t)v;
    return 0;
}

/* The task's own rules once every key has its value. */
static int check_task(const char *spec, const SynthTask *t) {
    const char *name = synth_kind_name(t->kind);
    switch (t->kind) {
    case SYNTH_MQAR:
        if (t->pairs < 1)
            return ls_error(LS_ERR_USAGE, SPEC_FMT ": key 'pairs': must be >= 1", spec);
        if (t->pairs > t->len / 4)
            return ls_error(LS_ERR_USAGE, SPEC_FMT ": key 'pairs': %lld pairs do not fit in "
                            "len=%lld (2 tokens per pair and 2 per query: len >= 4·pairs = %lld)",
                            spec, (long long)t->pairs, (long long)t->len,
                            (long long)(4 * t->pairs));
        if (t->vocab < 2 * t->pairs + 2)
            return ls_error(LS_ERR_USAGE, SPEC_FMT ": key 'vocab': %lld is too small for %lld "
                            "pairs (token 0 is the filler, keys 1..vocab/2−1, values "
                            "vocab/2..vocab−1: vocab >= 2·pairs + 2 = %lld)",
                            spec, (long long)t->vocab, (long long)t->pairs,
                            (long long)(2 * t->pairs + 2));
        return 0;
    case SYNTH_INDUCTION:
        if (t->len < 4)
            return ls_error(LS_ERR_USAGE, SPEC_FMT ": key 'len': %lld is too short for "
                            "induction (trigger, token, trigger, target: len >= 4)", spec,
                            (long long)t->len);
        if (t->vocab < 3)
            return ls_error(LS_ERR_USAGE, SPEC_FMT ": key 'vocab': %lld is too small for "
                            "induction (token 0 is the trigger, and at least two others: "
                            "vocab >= 3)", spec, (long long)t->vocab);
        return 0;
    case SYNTH_SELECTIVE_COPY:
    case SYNTH_COPY:
        if (t->tokens < 1)
            return ls_error(LS_ERR_USAGE, SPEC_FMT ": key 'tokens': must be >= 1%s", spec,
                            t->kind == SYNTH_COPY ? " (default (len−1)/2 needs len >= 3)" : "");
        if (t->tokens > (t->len - 1) / 2)
            return ls_error(LS_ERR_USAGE, SPEC_FMT ": key 'tokens': %lld tokens do not fit in "
                            "len=%lld (the tokens, a marker and the copy: len >= 2·tokens + 1 "
                            "= %lld)", spec, (long long)t->tokens, (long long)t->len,
                            (long long)(2 * t->tokens + 1));
        if (t->vocab < 4)
            return ls_error(LS_ERR_USAGE, SPEC_FMT ": key 'vocab': %lld is too small for %s "
                            "(tokens 0 and 1 are %s, and at least two data tokens: vocab >= 4)",
                            spec, (long long)t->vocab, name,
                            t->kind == SYNTH_COPY ? "padding and separator" : "noise and marker");
        return 0;
    case SYNTH_RECALL:
        if (t->len < 4)
            return ls_error(LS_ERR_USAGE, SPEC_FMT ": key 'len': %lld is too short for recall "
                            "(store, value, recall, target: len >= 4)", spec, (long long)t->len);
        if (t->distance > t->len - 4)
            return ls_error(LS_ERR_USAGE, SPEC_FMT ": key 'distance': %lld does not fit in "
                            "len=%lld (distance <= len − 4 = %lld)", spec,
                            (long long)t->distance, (long long)t->len, (long long)(t->len - 4));
        if (t->vocab < 4)
            return ls_error(LS_ERR_USAGE, SPEC_FMT ": key 'vocab': %lld is too small for recall "
                            "(tokens 0 and 1 are the store and recall markers, and at least two "
                            "values: vocab >= 4)", spec, (long long)t->vocab);
        return 0;
    }
    return ls_error(LS_ERR_INTERNAL, "synth: unknown task kind %d", (int)t->kind);
}

int synth_parse(SynthTask *task, const char *spec) {
    const char *p = spec;
    if (synth_is_spec(p)) p += strlen(SYNTH_PREFIX);
    size_t name_len = strcspn(p, ",");
    int kind = -1;
    for (int i = 0; i < N_TASKS; i++)
        if (strlen(task_info[i].name) == name_len && strncmp(p, task_info[i].name, name_len) == 0)
            kind = i;
    if (kind < 0)
        return ls_error(LS_ERR_USAGE, SPEC_FMT ": unknown task '%.*s' (expected mqar, "
                        "induction, selective-copy, copy or recall)", spec,
                        (int)(name_len < 64 ? name_len : 64), p);
    const TaskInfo *info = &task_info[kind];
    SynthTask t = {.kind = (SynthKind)kind, .len = -1, .vocab = -1, .n = -1, .pairs = -1,
                   .tokens = -1, .distance = -1, .seed = 1};
    int seen_seed = 0;
    p += name_len;
    while (*p == ',') {
        p++;
        size_t item_len = strcspn(p, ",");
        const char *eq = memchr(p, '=', item_len);
        if (!eq || eq == p)
            return ls_error(LS_ERR_USAGE, SPEC_FMT ": '%.*s' is not key=value", spec,
                            (int)(item_len < 64 ? item_len : 64), p);
        size_t key_len = (size_t)(eq - p);
        char key[32], value[64];
        if (key_len >= sizeof key || item_len - key_len - 1 >= sizeof value)
            return ls_error(LS_ERR_USAGE, SPEC_FMT ": '%.*s' is too long", spec,
                            (int)(item_len < 64 ? item_len : 64), p);
        memcpy(key, p, key_len);
        key[key_len] = '\0';
        memcpy(value, eq + 1, item_len - key_len - 1);
        value[item_len - key_len - 1] = '\0';
        p += item_len;
        if (!in_list(info->required, key, key_len) && !in_list(info->optional, key, key_len)) {
            char keys[160], all[160];
            snprintf(all, sizeof all, "%s %s", info->required, info->optional);
            list_text(all, keys, sizeof keys);
            return ls_error(LS_ERR_USAGE, SPEC_FMT ": unknown key '%s' for %s (its keys: %s)",
                            spec, key, info->name, keys);
        }
        int64_t *slot = !strcmp(key, "len")      ? &t.len
                        : !strcmp(key, "vocab")  ? &t.vocab
                        : !strcmp(key, "n")      ? &t.n
                        : !strcmp(key, "pairs")  ? &t.pairs
                        : !strcmp(key, "tokens") ? &t.tokens
                        : !strcmp(key, "distance") ? &t.distance
                                                   : NULL;
        if ((slot && *slot != -1) || (!slot && seen_seed))
            return ls_error(LS_ERR_USAGE, SPEC_FMT ": key '%s' is given twice", spec, key);
        int status;
        if (!slot) {
            status = parse_seed(spec, value, &t.seed);
            seen_seed = 1;
        } else if (slot == &t.n) {
            status = parse_value(spec, key, value, 1, SYNTH_MAX_N, slot);
        } else if (slot == &t.len) {
            status = parse_value(spec, key, value, 1, SYNTH_MAX_LEN, slot);
        } else if (slot == &t.vocab) {
            status = parse_value(spec, key, value, 2, SYNTH_MAX_VOCAB, slot);
        } else {
            status = parse_value(spec, key, value, 0, SYNTH_MAX_LEN, slot);
        }
        if (status < 0) return status;
    }
    if (*p)
        return ls_error(LS_ERR_USAGE, SPEC_FMT ": unexpected text after the task name", spec);
    // required keys, in the order the task lists them
    for (const char *r = info->required; *r;) {
        size_t len = strcspn(r, " ");
        int64_t v = !strncmp(r, "len", len)      ? t.len
                    : !strncmp(r, "vocab", len)  ? t.vocab
                    : !strncmp(r, "n", len)      ? t.n
                    : !strncmp(r, "pairs", len)  ? t.pairs
                                                 : t.tokens;
        if (v < 0) {
            char keys[160];
            list_text(info->required, keys, sizeof keys);
            return ls_error(LS_ERR_USAGE, SPEC_FMT ": missing key '%.*s' (%s needs %s)", spec,
                            (int)len, r, info->name, keys);
        }
        r += len;
        r += strspn(r, " ");
    }
    if (t.kind == SYNTH_COPY && t.tokens < 0) t.tokens = (t.len - 1) / 2;
    int status = check_task(spec, &t);
    if (status < 0) return status;
    *task = t;
    return 0;
}

int64_t synth_targets(const SynthTask *t) {
    switch (t->kind) {
    case SYNTH_MQAR: return t->pairs;
    case SYNTH_SELECTIVE_COPY:
    case SYNTH_COPY: return t->tokens;
    default: return 1;
    }
}

void synth_format(const SynthTask *t, char *buf, int size) {
    int at = snprintf(buf, (size_t)size, "%s%s,len=%lld", SYNTH_PREFIX, synth_kind_name(t->kind),
                      (long long)t->len);
    if (at < 0 || at >= size) return;
    if (t->kind == SYNTH_MQAR) at += snprintf(buf + at, (size_t)(size - at), ",pairs=%lld",
                                              (long long)t->pairs);
    else if (t->kind == SYNTH_SELECTIVE_COPY || t->kind == SYNTH_COPY)
        at += snprintf(buf + at, (size_t)(size - at), ",tokens=%lld", (long long)t->tokens);
    else if (t->kind == SYNTH_RECALL && t->distance >= 0)
        at += snprintf(buf + at, (size_t)(size - at), ",distance=%lld", (long long)t->distance);
    if (at < 0 || at >= size) return;
    snprintf(buf + at, (size_t)(size - at), ",vocab=%lld,n=%lld,seed=%" PRIu64,
             (long long)t->vocab, (long long)t->n, t->seed);
}

// ---------------------------------------------------------------------------- draws

/* @p k distinct values of [0, range) into out[0..k), in random order. */
static int draw_distinct(Rng *rng, int64_t range, int64_t k, int64_t *out) {
    if (range / k <= 64 * k || range <= 4096) {
        // selection sampling (Knuth, Algorithm S): sorted, O(range)
        int64_t need = k, at = 0;
        for (int64_t v = 0; v < range && need > 0; v++)
            if ((int64_t)rng_below(rng, (uint64_t)(range - v)) < need) {
                out[at++] = v;
                need--;
            }
    } else {
        // Floyd: for j = range−k .. range−1 take t = below(j+1), or j when t is taken; O(k²)
        for (int64_t i = 0, j = range - k; j < range; i++, j++) {
            int64_t t = (int64_t)rng_below(rng, (uint64_t)j + 1), taken = 0;
            for (int64_t q = 0; q < i && !taken; q++) taken = out[q] == t;
            out[i] = taken ? j : t;
        }
    }
    rng_shuffle_int64(rng, out, k);
    return 0;
}

/* Fenwick-tree weight of query slot g: Zoology's power law p(g) ∝ g^(a−1), a → 0. */
static uint64_t slot_weight(int64_t g) { return (UINT64_C(1) << 32) / (uint64_t)(g + 1); }

/* @p k distinct slots of [0, S) drawn one by one with probability ∝ slot_weight, in draw
 * order. tree: (S + 1) scratch. */
static void draw_slots(Rng *rng, int64_t S, int64_t k, uint64_t *tree, int64_t *out) {
    uint64_t total = 0;
    memset(tree, 0, (size_t)(S + 1) * sizeof *tree);
    for (int64_t i = 1; i <= S; i++) {
        tree[i] += slot_weight(i - 1);
        total += slot_weight(i - 1);
        int64_t parent = i + (i & -i);
        if (parent <= S) tree[parent] += tree[i];
    }
    int64_t top = 1;
    while (top * 2 <= S) top *= 2;
    for (int64_t j = 0; j < k; j++) {
        uint64_t r = rng_below(rng, total);
        int64_t pos = 0;
        for (int64_t step = top; step > 0; step /= 2)
            if (pos + step <= S && tree[pos + step] <= r) {
                pos += step;
                r -= tree[pos];
            }
        out[j] = pos; // slot pos (0-based) holds the cumulative weight that covers r
        uint64_t w = slot_weight(pos);
        total -= w;
        for (int64_t i = pos + 1; i <= S; i += i & -i) tree[i] -= w;
    }
}

// ---------------------------------------------------------------------------- generators

static int gen_mqar(const SynthTask *t, Rng *rng, int32_t *ids, uint8_t *target) {
    const int64_t P = t->pairs, L = t->len, half = t->vocab / 2, S = (L - 2 * P) / 2;
    int64_t *keys = malloc((size_t)P * sizeof *keys), *values = malloc((size_t)P * sizeof *values);
    int64_t *slots = malloc((size_t)P * sizeof *slots);
    uint64_t *tree = malloc((size_t)(S + 1) * sizeof *tree);
    int status = 0;
    if (!keys || !values || !slots || !tree) {
        status = ls_error(LS_ERR_NOMEM, "synth mqar: out of memory for len %lld", (long long)L);
        goto done;
    }
    draw_distinct(rng, half - 1, P, keys);          // keys 1 .. half−1
    draw_distinct(rng, t->vocab - half, P, values); // values half .. vocab−1
    draw_slots(rng, S, P, tree, slots);
    memset(ids, 0, (size_t)L * sizeof *ids);
    memset(target, 0, (size_t)L);
    for (int64_t i = 0; i < P; i++) {
        const int32_t k = (int32_t)(1 + keys[i]), v = (int32_t)(half + values[i]);
        const int64_t q = 2 * P + 2 * slots[i];
        ids[2 * i] = k;
        ids[2 * i + 1] = v;
        ids[q] = k;
        ids[q + 1] = v; // the answer; synth_example() hides it from the model's input
        target[q + 1] = 1;
    }
done:
    free(keys);
    free(values);
    free(slots);
    free(tree);
    return status;
}

static void gen_induction(const SynthTask *t, Rng *rng, int32_t *ids, uint8_t *target) {
    const int64_t L = t->len;
    const uint64_t V1 = (uint64_t)t->vocab - 1;
    for (int64_t i = 0; i < L; i++) ids[i] = (int32_t)(1 + rng_below(rng, V1));
    const int64_t p = (int64_t)rng_below(rng, (uint64_t)(L - 3)); // 0 .. L−4
    const int32_t x = (int32_t)(1 + rng_below(rng, V1));
    ids[p] = 0;
    ids[p + 1] = x;
    ids[L - 2] = 0;
    ids[L - 1] = x;
    memset(target, 0, (size_t)L);
    target[L - 1] = 1;
}

static void gen_selective_copy(const SynthTask *t, Rng *rng, int32_t *ids, uint8_t *target) {
    const int64_t L = t->len, T = t->tokens, R = L - 1 - T;
    const uint64_t nd = (uint64_t)t->vocab - 2;
    memset(ids, 0, (size_t)L * sizeof *ids);
    memset(target, 0, (size_t)L);
    // selection sampling over the noise region: positions come out in order
    int64_t need = T, j = 0;
    for (int64_t pos = 0; pos < R && need > 0; pos++) {
        if ((int64_t)rng_below(rng, (uint64_t)(R - pos)) >= need) continue;
        const int32_t d = (int32_t)(2 + rng_below(rng, nd));
        ids[pos] = d;
        ids[R + 1 + j] = d;
        target[R + 1 + j] = 1;
        j++;
        need--;
    }
    ids[R] = 1;
}

static void gen_copy(const SynthTask *t, Rng *rng, int32_t *ids, uint8_t *target) {
    const int64_t L = t->len, P = t->tokens;
    const uint64_t nd = (uint64_t)t->vocab - 2;
    memset(ids, 0, (size_t)L * sizeof *ids);
    memset(target, 0, (size_t)L);
    for (int64_t i = 0; i < P; i++) {
        ids[i] = (int32_t)(2 + rng_below(rng, nd));
        ids[P + 1 + i] = ids[i];
        target[P + 1 + i] = 1;
    }
    ids[P] = 1;
}

static void gen_recall(const SynthTask *t, Rng *rng, int32_t *ids, uint8_t *target) {
    const int64_t L = t->len;
    const uint64_t nd = (uint64_t)t->vocab - 2;
    for (int64_t i = 0; i < L; i++) ids[i] = (int32_t)(2 + rng_below(rng, nd));
    const int64_t d = t->distance >= 0 ? t->distance : (int64_t)rng_below(rng, (uint64_t)(L - 3));
    const int64_t q = L - 3 - d; // the value; store marker before it, d noise tokens after
    const int32_t v = (int32_t)(2 + rng_below(rng, nd));
    ids[q - 1] = 0;
    ids[q] = v;
    ids[L - 2] = 1;
    ids[L - 1] = v;
    memset(target, 0, (size_t)L);
    target[L - 1] = 1;
}

/* The generators write the sequence with its answers in place (the answers row); the
 * model's input is that sequence, except where a task hides its answers (MQAR, as in
 * Zoology: the input after a query key is filler, the value is only the label). */
int synth_example(const SynthTask *t, int64_t index, int32_t *ids, uint8_t *target,
                  int32_t *answers) {
    if (index < 0 || index >= t->n)
        return ls_error(LS_ERR_RANGE, "synth %s: example %lld of %lld", synth_kind_name(t->kind),
                        (long long)index, (long long)t->n);
    int32_t *own_answers = NULL;
    uint8_t *own_target = NULL;
    int32_t *seq = answers ? answers : ids;
    if (!seq) seq = own_answers = malloc((size_t)t->len * sizeof *seq);
    if (!target) target = own_target = malloc((size_t)t->len);
    int status = 0;
    if (!seq || !target) {
        status = ls_error(LS_ERR_NOMEM, "synth %s: out of memory for len %lld",
                          synth_kind_name(t->kind), (long long)t->len);
        goto done;
    }
    Rng rng;
    rng_seed_stream(&rng, t->seed, (uint64_t)index);
    switch (t->kind) {
    case SYNTH_MQAR: status = gen_mqar(t, &rng, seq, target); break;
    case SYNTH_INDUCTION: gen_induction(t, &rng, seq, target); break;
    case SYNTH_SELECTIVE_COPY: gen_selective_copy(t, &rng, seq, target); break;
    case SYNTH_COPY: gen_copy(t, &rng, seq, target); break;
    case SYNTH_RECALL: gen_recall(t, &rng, seq, target); break;
    }
    if (status == 0 && ids) {
        if (ids != seq) memcpy(ids, seq, (size_t)t->len * sizeof *ids);
        if (t->kind == SYNTH_MQAR)
            for (int64_t i = 0; i < t->len; i++)
                if (target[i]) ids[i] = 0; // the filler: answers are labels only
    }
done:
    free(own_answers);
    free(own_target);
    return status;
}
