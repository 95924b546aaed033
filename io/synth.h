/*
 * synth.h — synthetic sequence tasks as a data source: `--data synth:TASK,key=value,...`
 * wherever train, eval and predict take data. Each task makes token sequences over a
 * vocabulary of `vocab` ids and marks the target tokens, the ones a next-token model is
 * scored on (a causal LM predicts token t from tokens < t; loss and accuracy count only the
 * targets). The tasks of the essays on attention and state-space models:
 *
 *   mqar            multi-query associative recall (Zoology, Arora et al. 2023)
 *                   keys: len, pairs, vocab, n [, seed]
 *   induction       induction heads (Mamba paper, Gu & Dao 2023): a trigger, the token after
 *                   it, noise, the trigger again; the target is the token that followed it
 *                   keys: len, vocab, n [, seed]
 *   selective-copy  the Mamba paper's selective copying: `tokens` data tokens scattered in
 *                   noise, copied in order after a marker      keys: len, tokens, vocab, n [, seed]
 *   copy            a random prefix, a separator, the prefix again
 *                   keys: len, vocab, n [, tokens (default (len−1)/2), seed]
 *   recall          a value planted after a store marker, recalled after `distance` tokens of
 *                   noise      keys: len, vocab, n [, distance (default: uniform per example),
 *                   seed]
 * Token layouts, special ids and one example of each: docs/synth.md.
 *
 * Determinism. Example i of a task is drawn from its own xoshiro256** stream
 * rng_seed_stream(seed, i) (io/rng.h) with integer arithmetic only (no libm, no libc rand),
 * so the same spec gives the same examples on every machine and any example can be made
 * alone, in any order: a dataset stores none of them, batches generate them on demand.
 *
 * Errors. A bad spec is one message naming the key: unknown task, unknown, repeated, missing
 * or malformed key, a value out of range (n, len), pairs or tokens that do not fit in len, a
 * vocabulary too small for the task's special tokens. All are LS_ERR_USAGE (exit 2).
 *
 * Tested by tests/unit/test_synth.c (determinism, layout of every task, every spec error) and
 * tests/cli/synth.tst.
 */
#ifndef LS_SYNTH_H
#define LS_SYNTH_H

#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The prefix that makes a --data argument a synthetic task. */
#define SYNTH_PREFIX "synth:"

/** Largest values a spec may ask for (beyond them a spec is refused as absurd). */
#define SYNTH_MAX_N     INT64_C(10000000)   /* examples per source */
#define SYNTH_MAX_LEN   INT64_C(1073741824) /* tokens per example (2^30) */
#define SYNTH_MAX_VOCAB INT64_C(16777216)   /* ids (2^24) */

typedef enum {
    SYNTH_MQAR = 0,
    SYNTH_INDUCTION,
    SYNTH_SELECTIVE_COPY,
    SYNTH_COPY,
    SYNTH_RECALL,
} SynthKind;

/** A parsed spec. Plain values: copy it freely. */
typedef struct {
    SynthKind kind;
    int64_t   len;       /* tokens per example */
    int64_t   vocab;     /* ids 0 .. vocab−1 */
    int64_t   n;         /* examples */
    int64_t   pairs;     /* mqar: key–value pairs */
    int64_t   tokens;    /* selective-copy, copy: tokens to copy */
    int64_t   distance;  /* recall: noise tokens between value and recall; −1: uniform */
    uint64_t  seed;      /* default 1 */
} SynthTask;

/** 1 if @p source starts with SYNTH_PREFIX. */
int synth_is_spec(const char *source);

/**
 * Parse "synth:TASK,key=value,..." (the prefix may be left out).
 * @return 0 and *task; LS_ERR_USAGE with one message naming the spec and the key.
 */
int synth_parse(SynthTask *task, const char *spec) LS_RESULT_USED;

/** "mqar", "induction", "selective-copy", "copy", "recall". */
const char *synth_kind_name(SynthKind kind);

/** Target tokens in every example (mqar: pairs; induction, recall: 1; copies: tokens). */
int64_t synth_targets(const SynthTask *task);

/**
 * Example @p index (0 <= index < n) of the task, as three rows of len (any may be NULL):
 * @param ids      the tokens the model reads, ids in [0, vocab)
 * @param target   1 on target tokens, 0 elsewhere
 * @param answers  the sequence with every answer in place: the token a next-token model is
 *                 scored on at each target. It equals @p ids everywhere except at MQAR's
 *                 targets, whose inputs are the filler 0: as in Zoology, the model never
 *                 reads an answer, so a later query cannot rule out the values already
 *                 answered (with the answers shown, a model that only eliminates them scores
 *                 H(pairs)/pairs, 21 % at 16 pairs, without recalling anything).
 * @return 0; LS_ERR_RANGE (index outside the task), LS_ERR_NOMEM (mqar keeps a weight tree
 *         of len/2 entries while it draws the query positions).
 */
int synth_example(const SynthTask *task, int64_t index, int32_t *ids, uint8_t *target,
                  int32_t *answers) LS_RESULT_USED;

/** The canonical spec text ("synth:mqar,len=256,pairs=16,vocab=8192,n=1000,seed=1"). */
void synth_format(const SynthTask *task, char *buf, int size);

#ifdef __cplusplus
}
#endif
#endif
