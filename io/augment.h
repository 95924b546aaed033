/*
 * augment.h — training-data augmentation (`longscan train --augment LIST`): random changes
 * made to each training batch on the host, after batch_fill() and before the model reads it.
 * Validation, eval, predict, embed and score never augment.
 *
 * ---------------------------------------------------------------- the list
 * Comma-separated, each name once, `name` or `name=value`; `none` alone means no change.
 *   DNA (tokens):
 *     rc          each row is reverse-complemented with probability 1/2 (A↔T, C↔G, order
 *                 reversed; N stays N): a sequence and its reverse complement are the same
 *                 double-stranded DNA, so the label holds (Caduceus and HyenaDNA train so).
 *     shift=N     whole sequences only: drop k bases in all from the two ends, k uniform in
 *                 0..N (at most the row's length − 1), the first a of them from the start with
 *                 a uniform in 0..k, the rest from the end — a random crop of length n − k,
 *                 as the "shift by up to N bp" of DeepSEA/Basenji but without invented bases.
 *                 For windows (--seq-len) it is an error: their offsets are random already.
 *   Audio (waveform input, float samples; rows changed in this order):
 *     speed=PCT   resample by a factor f uniform in [1 − PCT/100, 1 + PCT/100]: y[j] = x(j·f)
 *                 by linear interpolation between the two nearest samples, n samples becoming
 *                 floor((n − 1)/f) + 1 — a time stretch with pitch change, as Kaldi/torchaudio
 *                 speed perturbation, but with no anti-aliasing filter before a speed-up (the
 *                 interpolation's own smoothing only). Rows get longer or shorter; a row
 *                 longer than AugmentData.max_length keeps its centre max_length samples.
 *     shift=MS    circular time shift by s samples, s uniform in [−S, S], S = MS ms at the
 *                 data's rate: y[t] = x[(t − s) mod n]. Circular, not padded: FSDD-like
 *                 recordings are trimmed to the spoken word, so a padded shift would cut the
 *                 word; what wraps round is the other end of the recording.
 *     gain=DB     multiply by 10^(g/20), g uniform in [−DB, +DB] dB. Not clipped: the model
 *                 reads the floats as they are, nothing quantises them.
 *     noise=SNR   add white Gaussian noise at a signal-to-noise ratio uniform in
 *                 [SNR, SNR + 20] dB, the signal's power being the row's mean square after
 *                 the changes above (a silent row gets none).
 * A name that does not apply to the data (rc or gain on audio, noise on DNA, anything on a
 * synthetic task or on audio codes) is a usage error from augment_init().
 *
 * ---------------------------------------------------------------- randomness
 * Counter-based: row r of training step s draws from an Rng seeded by (seed, s, r)
 * (rng_seed_stream of a mix of seed and s, stream r), its numbers in a fixed order (the
 * per-row parameters in the order above, then the noise). So a batch's augmentation depends
 * only on the seed, the step and the batch: a resumed run repeats it exactly with no state to
 * save, and the result does not depend on the thread count (rows run in parallel).
 *
 * Tested by tests/unit/test_augment.c (parsing, determinism, rc∘rc = identity, crop bounds,
 * gain and noise statistics, speed lengths) and tests/cli/augment.tst (errors, the recorded
 * configuration, resume equality).
 */
#ifndef LS_AUGMENT_H
#define LS_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "io/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The noise's SNR is drawn from [noise_snr_db, noise_snr_db + AUGMENT_NOISE_SPAN_DB]. */
#define AUGMENT_NOISE_SPAN_DB 20.0

/** A parsed --augment list; zero means no augmentation. Fields are 0 when not given. */
typedef struct {
    int    rc;            /* 1: reverse complement with probability 1/2 */
    double shift;         /* > 0: DNA bases (an integer) or audio milliseconds */
    double gain_db;       /* > 0: gain uniform in ±gain_db */
    int    noise;         /* 1: noise=SNR given (0 dB is a valid SNR) */
    double noise_snr_db;  /* the lowest SNR */
    double speed_pct;     /* > 0: speed factor uniform in 1 ± speed_pct/100 */
} AugmentSpec;

/**
 * Parse @p list (see the file comment) into @p spec. Values: shift in (0, 1e6], gain in
 * (0, 40], noise in [−20, 100], speed in (0, 50].
 * @return 0; LS_ERR_USAGE with a message naming `--augment` and the item (unknown name,
 *         repeated name, missing or extra value, value not a number or out of range, empty
 *         item, `none` beside others).
 */
int augment_parse(const char *list, AugmentSpec *spec) LS_RESULT_USED;

/** 1 when @p spec changes anything. */
int augment_any(const AugmentSpec *spec);

/**
 * The list in canonical form (names in the file comment's order, values as %g), e.g.
 * "rc,shift=3" or "speed=10,shift=50,gain=6,noise=20"; "none" when nothing. Cut to @p size.
 */
void augment_describe(const AugmentSpec *spec, char *buf, size_t size);

/** What the augmented batches hold. */
typedef struct {
    ExampleKind kind;         /* EXAMPLE_DNA or EXAMPLE_AUDIO (others: an error) */
    int         waveform;     /* audio read as float samples (batches without codes) */
    int         windows;      /* rows are random windows (--seq-len) */
    int         sample_rate;  /* audio, Hz (shift=MS is converted with it) */
    int64_t     max_length;   /* > 0: rows are never longer (the Transformer's window) */
    uint64_t    seed;         /* the run's seed */
} AugmentData;

typedef struct Augment Augment;

/**
 * An augmenter of @p spec for @p data.
 * @return 0 and *out (free with augment_free()); LS_ERR_USAGE when an item does not apply
 *         to the data (message names it and says why), or for a DNA shift that is not a whole
 *         number of bases; LS_ERR_NOMEM.
 */
int augment_init(Augment **out, const AugmentSpec *spec, const AugmentData *data) LS_RESULT_USED;

/** Free; NULL is a no-op. */
void augment_free(Augment *aug);

/**
 * Augment the filled batch @p b of training step @p step in place: DNA rows in b->tokens
 * (cropped rows padded with DNA_N, b->lengths updated); audio rows in b->samples. With
 * speed=, rows change length: b->samples then points into the augmenter's own buffer
 * (valid until the next call or augment_free(); the batch's buffers are untouched) and b->L
 * is the new longest row. Buffers only grow: no allocation once the largest batch was seen.
 * @return 0; LS_ERR_NOMEM.
 */
int augment_batch(Augment *aug, Batch *b, uint64_t step) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
