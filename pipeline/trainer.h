/*
 * trainer.h — the training loop behind `longscan train`: data, model, AdamW with warm-up and
 * cosine schedule, validation and best checkpoint, progress and CSV log, periodic and final
 * checkpoints, and resume with bit-identical results.
 *
 * Data order. Whole sequences (no --seq-len): epoch e visits every training item once, in
 * the batch plan built from rng_seed_stream(seed, e) (shuffled, bucketed by length, within
 * --batch-size and --max-tokens). Windows (--seq-len L): each step draws --batch-size windows
 * of L tokens from a WindowSampler seeded from the seed; an epoch is
 * ceil(max(examples, total tokens / L) / batch size) steps, i.e. the data once in expectation.
 * The Transformer crops rows longer than its --window at a random start drawn from a second
 * generator (rng_crop). So the position in the data is (epoch, batch in epoch, two Rng
 * states): that and the tensors are the whole training state, saved with
 * checkpoint_state_save() and restored on --resume, so a resumed run performs exactly the
 * same updates as one that was never stopped.
 *
 * Augmentation (--augment, io/augment.h) changes each training batch after it is filled,
 * drawing from a counter-based stream of (seed, step, row): nothing to save, and a resumed
 * run repeats it exactly. Validation reads the data unchanged.
 *
 * Step. Gradients zeroed (one memset), forward, cross-entropy (classification: one target per
 * row; LM: every next token, mean over the batch's predicted tokens), backward, global
 * gradient norm and clipping, AdamW (kernels/optim.h) with the learning rate of
 * optim_lr_schedule(step, warmup, total, lr, min_lr). With --dropout the forward and backward
 * of step s draw their masks for (seed, s) (model_set_dropout_step): a resumed run draws the
 * same ones.
 *
 * Length of a run: --steps S, --epochs E (S = the batches of E epochs), or --minutes M alone:
 * the run uses its budget, ending between 90 and 100 % of M (aiming at 95 %) whatever the
 * data, as long as a step or a validation is short next to M. S is first estimated from trial steps on the first batch, then planned again between
 * steps from the run's own measured iterations, validations and saves (trainer_plan_total):
 * at 5, 20, 45, 70 and 88 % of the budget, and whenever the last steps say that the schedule
 * would end outside 91-99 % (the machine's speed changed); a guard makes the next step the
 * last before the budget runs out. Every plan ends the learning-rate schedule where the run
 * ends, and the default warm-up is 5 % of the planned steps. The budget counts from the start
 * of trainer_run (data loading included). Resumed, such a run gets what is left of M after
 * the training time recorded in its state and plans the rest of its schedule in it (nothing
 * left: it finishes the schedule as last planned). --minutes with --steps or --epochs is a
 * time cap on each session: the run stops early, saving its state.
 *
 * Tested by tests/cli/train.tst (end-to-end accuracy, resume == uninterrupted, bad inputs) and
 * tests/unit/test_trainer.c (the time budget, with a fake clock).
 */
#ifndef LS_TRAINER_H
#define LS_TRAINER_H

#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "io/augment.h"
#include "io/dataset.h"
#include "kernels/comm.h"
#include "models/model.h"
#include "pipeline/cli.h"
#include "pipeline/infer.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------------------- config table

#define CONFIG_TABLE_MAX 72

/**
 * The effective configuration as key/value lines: printed as a two-column table at start
 * (STYLE rule 43) and recorded (the entries marked so) in the checkpoint as a JSON object.
 */
typedef struct {
    int         n;
    const char *keys[CONFIG_TABLE_MAX];
    char        values[CONFIG_TABLE_MAX][256];
    int         recorded[CONFIG_TABLE_MAX]; /* 1: part of the run's identity (resume checks it) */
} ConfigTable;

/** Add a line (formatted value, cut at 255 bytes); lines past CONFIG_TABLE_MAX are dropped. */
void config_table_add(ConfigTable *t, int recorded, const char *key, const char *fmt, ...)
    LS_PRINTF(4, 5);
/** The two-column table, boxed. */
void config_table_print(const ConfigTable *t, FILE *fp);
/** The recorded lines as a JSON object of strings (*json malloc'd, free()). */
int config_table_to_json(const ConfigTable *t, char **json) LS_RESULT_USED;

// ---------------------------------------------------------------------------- options

typedef enum {
    TRAIN_INPUT_AUTO = 0,   /* DNA and audio LM: tokens; audio classification: waveform */
    TRAIN_INPUT_TOKENS,
    TRAIN_INPUT_WAVEFORM,
} TrainInput;

typedef struct {
    CommonOptions common;
    ModelTask     task;
    int           arch;             /* -1: bimamba for classify, mamba for lm */
    InputSpec     train;            /* --data, positional sources, --class, --labels */
    InputSpec     valid;            /* --valid, --valid-labels */
    double        valid_fraction;   /* held out of --data when no --valid (stratified) */
    /* model (-1: the model's default) */
    int64_t       d_model, n_layers, d_state, expand, n_heads, window, frame;
    int64_t       mlp_hidden;       /* transformer, hybrid: --mlp-hidden (0: no MLP), or -1 */
    int           pool;             /* -1 or a ModelPool */
    int           norm;             /* -1 or a ModelNorm */
    int           rc_equivariant;
    const char   *attn_layers;      /* hybrid: --attn-layers "2,5", or NULL */
    int64_t       attn_every;       /* hybrid: --attn-every K, or 0 */
    /* data */
    int64_t       seq_len;          /* 0: whole sequences */
    int           balanced;         /* label-balanced windows */
    DnaSoftmask   softmask;
    int           sample_rate;      /* 0: the files' own */
    int           audio_codes;      /* -1 auto (mulaw8), else AudioCodes */
    TrainInput    input;
    AugmentSpec   augment;          /* --augment: changes to each training batch (none: 0) */
    /* length and batches */
    int64_t       epochs, steps;    /* 0: not given */
    double        minutes;          /* 0: no time limit */
    int64_t       batch_size, max_tokens;
    int           pack;             /* --pack: each batch's sequences packed into rows */
    int           no_bucket;        /* --no-bucket: batches of random sequences (no sorting by
                                       length; with --pack they cost no padding either) */
    /* optimizer */
    double        lr, min_lr;       /* min_lr < 0: lr / 10 */
    int64_t       warmup;           /* -1: 5 % of the steps */
    double        weight_decay, clip, beta1, beta2, eps;
    double        dropout;          /* training dropout probability, [0, 1); 0: none */
    int64_t       grad_checkpoint;  /* --grad-checkpoint K: keep every K-th layer input,
                                       recompute the rest in the backward; 1 (default): all */
    /* validation, checkpoints, logging */
    int64_t       eval_every;       /* 0: at the end of each epoch */
    int64_t       valid_windows;    /* with --seq-len: most evaluation windows per example */
    int64_t       save_every;       /* 0: only at the end (and on interruption) */
    int64_t       stop_after;       /* > 0: stop after this step as if interrupted */
    int64_t       print_every;      /* 0: automatic */
    int           progress;         /* -1 auto (bar on a terminal), 0 plain lines, 1 bar */
    const char   *log_path;
    const char   *resume;           /* model or state file of the run to continue */
    /* data parallel (docs/parallel.md "Data parallel"; pipeline/train_parallel.c) */
    int           gpus;             /* --gpus N: N processes on this host, one per GPU; 0 */
    int           cpu_ranks;        /* --cpu-ranks N: N processes on the CPU; 0 */
    const char   *rendezvous;       /* --rendezvous DIR: where mpirun's ranks meet */
    int           seq_parallel;     /* --seq-parallel: the ranks cut every row (one slice a
                                       rank) instead of splitting the batch; 0 */
    Comm         *comm;             /* this rank's communicator, set by the launcher in each
                                       rank; NULL: one process */
} TrainOptions;

/** Defaults (see `longscan train --help`). */
void trainer_options_default(TrainOptions *opt);

// ---------------------------------------------------------------------------- time budget

/**
 * What the planning of a --minutes run knows at one moment, in seconds of its clock. The
 * remaining run is: steps of step_s each; a validation of valid_s after every step that is a
 * multiple of valid_every (0: none), and after the last step when valid_at_end; a save of
 * save_s after every multiple of save_every (0: none) and after the last step.
 */
typedef struct {
    double  left_s;         /* time to the planned end: target − elapsed (may be <= 0) */
    double  low_s, high_s;  /* the allowed end, as left_s is the target (0, 0: only left_s) */
    double  step_s;         /* one step ahead, > 0 */
    double  valid_s;        /* one validation, >= 0 */
    double  save_s;         /* one save (model + state), >= 0 */
    int64_t step;           /* steps done, >= 0 */
    int64_t valid_every;    /* >= 0 */
    int     valid_at_end;
    int64_t save_every;     /* >= 0 */
} TrainTimePlan;

/**
 * The schedule length that fits: the largest total > p->step whose remaining steps,
 * validations and final save take at most p->left_s, or one step more when that one ends
 * before p->low_s and the next by p->high_s (long steps: the target may fall between two);
 * p->step + 1 when not even one more step fits (the run must end on a step of its schedule).
 * At most p->step + 10^12.
 */
int64_t trainer_plan_total(const TrainTimePlan *p);

/** Seconds of a monotonic clock; @p ctx is what trainer_set_clock() was given. */
typedef double (*TrainerClock)(void *ctx);

/**
 * Replace the clock that trainer_run() reads for its time budget, progress and log (NULL:
 * CLOCK_MONOTONIC again). For tests: a fake clock makes the --minutes planning checkable
 * without timing anything. Not thread-safe; set it before trainer_run().
 */
void trainer_set_clock(TrainerClock clock, void *ctx);

/**
 * Run training as @p opt says.
 * @param argv_json  the command line as a JSON array (recorded in the state file).
 * @return 0; 130 when interrupted by a signal after saving (the caller exits with it);
 *         negative LS_ERR_* with the message set.
 */
int trainer_run(const TrainOptions *opt, const char *argv_json) LS_RESULT_USED;

// ---------------------------------------------------------------------------- data parallel

/**
 * 1 when @p opt asks for data-parallel training: --gpus, --cpu-ranks, or a process that
 * Open MPI's mpirun started (OMPI_COMM_WORLD_SIZE in the environment).
 */
int train_parallel_wanted(const TrainOptions *opt);

/**
 * Run training as @p opt says on several ranks (pipeline/train_parallel.c): --gpus N and
 * --cpu-ranks N fork N ranks of this process and wait for them; under mpirun this process is
 * one rank. Each rank makes its communicator, then calls trainer_run(). Checks the options
 * first (one error line). Call before anything initialises CUDA in this process (a forked
 * rank could not use it).
 * @return the exit status for main (the error line is printed: one, from the rank that failed
 *         first).
 */
int train_parallel_run(TrainOptions *opt, const char *argv_json);

#ifdef __cplusplus
}
#endif
#endif
