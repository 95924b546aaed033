/*
 * test_trainer.c — the time budget of `longscan train --minutes M` (pipeline/trainer.c),
 * without timing anything: trainer_plan_total() against a brute-force count of the same cost
 * model (steps, validations every N steps and at the end, periodic and final saves), and
 * whole runs of trainer_run() on tests/data/dataset/ (a tiny classifier) under a fake clock
 * (trainer_set_clock) that advances a fixed amount at every read: a steady machine, trial
 * steps 20 times slower than the run's (the estimate alone ended an 8-minute budget after
 * 2.5) or 10 times faster, steps of seconds (a dozen in the budget), a machine that slows
 * down or speeds up mid-run or slows down after the last planning point, a resumed run, a
 * resumed run whose budget was used, and --minutes as a cap on --steps. Every --minutes run
 * must end between 90 and 100 % of M on the fake clock, on the last step of its schedule (the
 * CSV log's last learning rate is --min-lr). With --steps the clock changes no byte.
 * Run from the repository root (the data is read from tests/data/dataset/).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <omp.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "io/safetensors.h"
#include "pipeline/trainer.h"

#define DATA "tests/data/dataset/"

static char tmp_dir[256];

// ---------------------------------------------------------------------------- the planner

/* The cost model written out step by step: the largest total whose steps fit, or one more
 * that ends inside [low, high] when that one ends before low. */
static int64_t total_by_steps(const TrainTimePlan *p) {
    int64_t best = p->step, n_max = 5000;
    double t = 0, cost[5000 + 1]; /* the steps before s, with periodic validations and saves */
    for (int64_t s = p->step + 1; s <= p->step + n_max; s++) {
        t += p->step_s;
        if (p->valid_every > 0 && s % p->valid_every == 0) t += p->valid_s;
        if (p->save_every > 0 && s % p->save_every == 0) t += p->save_s;
        /* s as the last step: validation (once) and save (once) after it */
        double at_end = t;
        if (p->valid_at_end && !(p->valid_every > 0 && s % p->valid_every == 0))
            at_end += p->valid_s;
        if (!(p->save_every > 0 && s % p->save_every == 0)) at_end += p->save_s;
        cost[s - p->step] = at_end;
        if (at_end <= p->left_s) best = s;
    }
    int64_t n = best - p->step;
    if (p->high_s > 0 && (n == 0 || cost[n] < p->low_s) && cost[n + 1] <= p->high_s) n++;
    return p->step + (n > 0 ? n : 1);
}

static void test_plan_hand_values(void **state) {
    (void)state;
    /* 100 s of 1-s steps, nothing else: 100 steps; a 1-s final save leaves 99 */
    TrainTimePlan p = {.left_s = 100, .step_s = 1};
    assert_int_equal(trainer_plan_total(&p), 100);
    p.save_s = 1;
    assert_int_equal(trainer_plan_total(&p), 99);
    /* from step 10: the total counts the steps already done */
    p.step = 10;
    assert_int_equal(trainer_plan_total(&p), 109);
    /* validation of 5 s every 10 steps and at the end: 65 steps cost 65 + 6·5 + 5 = 100 */
    p = (TrainTimePlan){.left_s = 100, .step_s = 1, .valid_s = 5, .valid_every = 10,
                        .valid_at_end = 1};
    assert_int_equal(trainer_plan_total(&p), 65);
    /* not even one step fits, or no time at all, or NaN: one more step ends the schedule */
    p = (TrainTimePlan){.left_s = 0.5, .step_s = 1, .step = 7};
    assert_int_equal(trainer_plan_total(&p), 8);
    p.left_s = -3;
    assert_int_equal(trainer_plan_total(&p), 8);
    p.left_s = NAN;
    assert_int_equal(trainer_plan_total(&p), 8);
    /* long steps: the target (95) falls between 88 and 99; 99 is inside [90, 99] */
    p = (TrainTimePlan){.left_s = 95, .low_s = 90, .high_s = 99, .step_s = 11};
    assert_int_equal(trainer_plan_total(&p), 9);
    p.step_s = 10; /* 90 fits the target and is inside: no more */
    assert_int_equal(trainer_plan_total(&p), 9);
    p.step_s = 12; /* 84 or 96: 96 is inside */
    assert_int_equal(trainer_plan_total(&p), 8);
    p.step_s = 14; /* 84 or 98 */
    assert_int_equal(trainer_plan_total(&p), 7);
    p.step_s = 28; /* 84 or 112: too late, 84 it is */
    assert_int_equal(trainer_plan_total(&p), 3);
    p.step_s = 98; /* not even one fits the target, but it ends inside */
    assert_int_equal(trainer_plan_total(&p), 1);
    /* absurdly fast steps stop at 10^12 more */
    p = (TrainTimePlan){.left_s = 1e9, .step_s = 1e-9, .step = 5};
    assert_int_equal(trainer_plan_total(&p), 5 + (int64_t)1e12);
}

static void test_plan_matches_brute_force(void **state) {
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ull;
#define NEXT() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
    for (int i = 0; i < 400; i++) {
        TrainTimePlan p = {0};
        p.step = (int64_t)(NEXT() % 50);
        p.step_s = 0.5 + (double)(NEXT() % 1000) / 100; /* at most ~4,100 steps */
        p.left_s = (double)(NEXT() % 20000) / 10 - 50;
        if (NEXT() % 2) {
            p.low_s = p.left_s - (double)(NEXT() % 500) / 10;
            p.high_s = p.left_s + (double)(NEXT() % 500) / 10;
        }
        p.valid_every = (int64_t)(NEXT() % 4 == 0 ? 0 : NEXT() % 30 + 1);
        p.valid_at_end = (int)(NEXT() % 2);
        p.valid_s = (double)(NEXT() % 3000) / 100;
        p.save_every = (int64_t)(NEXT() % 3 == 0 ? NEXT() % 20 + 1 : 0);
        p.save_s = (double)(NEXT() % 500) / 100;
        int64_t got = trainer_plan_total(&p), want = total_by_steps(&p);
        if (got != want)
            fail_msg("case %d: step %lld, left %g [%g, %g], step_s %g, valid %g every %lld "
                     "(end %d), save %g every %lld: total %lld, expected %lld", i,
                     (long long)p.step, p.left_s, p.low_s, p.high_s, p.step_s, p.valid_s, (long long)p.valid_every, p.valid_at_end,
                     p.save_s, (long long)p.save_every, (long long)got, (long long)want);
    }
#undef NEXT
}

// ---------------------------------------------------------------------------- runs

/* Every read returns the time and then advances it by per_call seconds, times slow_factor
 * for the first slow_calls reads and times change_factor once the time passed change_at. */
typedef struct {
    double  t, per_call;
    int64_t calls, slow_calls;
    double  slow_factor, change_at, change_factor;
} FakeClock;

static double fake_now(void *ctx) {
    FakeClock *c = ctx;
    double now = c->t, dt = c->per_call;
    if (c->calls < c->slow_calls) dt *= c->slow_factor;
    if (c->change_at > 0 && c->t >= c->change_at) dt *= c->change_factor;
    c->t += dt;
    c->calls++;
    return now;
}

static const char *sources[] = {DATA "small.fa"};

static void options(TrainOptions *opt, const char *name, double minutes) {
    static char out[512], log[512];
    trainer_options_default(opt);
    opt->train.sources = sources;
    opt->train.n_sources = 1;
    opt->train.labels = DATA "labels.tsv";
    opt->valid_fraction = 0.25;
    opt->d_model = 8;
    opt->n_layers = 1;
    opt->batch_size = 2;
    opt->minutes = minutes;
    opt->common.verbosity = 0;
    snprintf(out, sizeof out, "%s/%s.safetensors", tmp_dir, name);
    snprintf(log, sizeof log, "%s/%s.csv", tmp_dir, name);
    opt->common.output = out;
    opt->log_path = log;
}

/* A run under @p clock: @return the seconds it took on that clock. */
static double run(const TrainOptions *opt, FakeClock *clock) {
    trainer_set_clock(fake_now, clock);
    double t0 = clock->t;
    int status = trainer_run(opt, "[\"train\"]");
    trainer_set_clock(NULL, NULL);
    if (status != 0) fail_msg("trainer_run: %d: %s", status, ls_error_message());
    return clock->t - t0;
}

typedef struct {
    int64_t step, total_steps;
    double  elapsed_s;
} StateInfo;

static StateInfo state_info(const char *model_path) {
    char path[600];
    snprintf(path, sizeof path, "%.*s.state.safetensors",
             (int)(strlen(model_path) - strlen(".safetensors")), model_path);
    StFile *f = NULL;
    assert_int_equal(st_open(&f, path), 0);
    StateInfo s = {atoll(st_metadata_get(f, "step")), atoll(st_metadata_get(f, "total_steps")),
                   atof(st_metadata_get(f, "elapsed_s"))};
    st_close(f);
    return s;
}

/* The learning rate of the CSV log's last row (4th column). */
static double last_lr(const char *log_path) {
    FILE *fp = fopen(log_path, "r");
    assert_non_null(fp);
    char line[1024], last[1024] = "";
    while (fgets(line, sizeof line, fp)) memcpy(last, line, sizeof last);
    fclose(fp);
    double lr = NAN;
    assert_int_equal(sscanf(last, "%*[^,],%*[^,],%*[^,],%lf", &lr), 1);
    return lr;
}

/* The run of @p opt ended at the end of its schedule, in 90-100 % of its budget. */
static void expect_budget_used(const TrainOptions *opt, double took, double budget) {
    StateInfo s = state_info(opt->common.output);
    if (!(took >= 0.9 * budget && took <= budget))
        fail_msg("the run took %.3f s of a %.3f s budget (%.1f %%), step %lld of %lld",
                 took, budget, 100 * took / budget, (long long)s.step,
                 (long long)s.total_steps);
    if (s.step != s.total_steps)
        fail_msg("ended at step %lld of a schedule of %lld", (long long)s.step,
                 (long long)s.total_steps);
    /* the schedule ended where the run did: the last step ran at --min-lr (lr / 10) */
    double lr = last_lr(opt->log_path);
    if (fabs(lr - opt->lr / 10) > 1e-12) fail_msg("last learning rate %g, not %g", lr,
                                                 opt->lr / 10);
}

static void test_steady_clock(void **state) {
    (void)state;
    TrainOptions opt;
    options(&opt, "steady", 1);
    FakeClock c = {.t = 100, .per_call = 0.01};
    expect_budget_used(&opt, run(&opt, &c), 60);
}

static void test_slow_trial_steps(void **state) {
    (void)state;
    /* the trial steps (and the first few of the run) 20 times slower than the rest: the
     * estimate from them alone plans a small fraction of the steps that fit */
    TrainOptions opt;
    options(&opt, "slowstart", 2);
    FakeClock c = {.t = 0, .per_call = 0.02, .slow_calls = 40, .slow_factor = 20};
    expect_budget_used(&opt, run(&opt, &c), 120);
    StateInfo s = state_info(opt.common.output);
    /* about 120 s of ~0.1-s steps: far more than the ~100 the trial estimate gives */
    if (s.total_steps < 500) fail_msg("only %lld steps planned", (long long)s.total_steps);
}

static void test_fast_trial_steps(void **state) {
    (void)state;
    /* the other way: trial steps 10 times faster than the run's plan far too many steps */
    TrainOptions opt;
    options(&opt, "faststart", 1);
    FakeClock c = {.t = 0, .per_call = 0.02, .slow_calls = 14, .slow_factor = 0.1};
    expect_budget_used(&opt, run(&opt, &c), 60);
}

static void test_long_steps(void **state) {
    (void)state;
    /* steps of seconds: a few dozen in the budget, and few trial steps */
    TrainOptions opt;
    options(&opt, "long", 1);
    FakeClock c = {.t = 0, .per_call = 0.5};
    expect_budget_used(&opt, run(&opt, &c), 60);
    StateInfo s = state_info(opt.common.output);
    if (s.total_steps > 40) fail_msg("%lld steps of seconds each", (long long)s.total_steps);
}

static void test_slower_mid_run(void **state) {
    (void)state;
    TrainOptions opt;
    options(&opt, "slower", 1);
    FakeClock c = {.t = 0, .per_call = 0.01, .change_at = 30, .change_factor = 3};
    expect_budget_used(&opt, run(&opt, &c), 60);
}

static void test_slower_after_last_plan(void **state) {
    (void)state;
    /* five times slower past 90 % of the budget, after the last planning point: the guard
     * makes a step the last in time */
    TrainOptions opt;
    options(&opt, "late", 1);
    FakeClock c = {.t = 0, .per_call = 0.01, .change_at = 54, .change_factor = 5};
    expect_budget_used(&opt, run(&opt, &c), 60);
}

static void test_faster_mid_run(void **state) {
    (void)state;
    TrainOptions opt;
    options(&opt, "faster", 1);
    FakeClock c = {.t = 0, .per_call = 0.02, .change_at = 20, .change_factor = 0.5};
    expect_budget_used(&opt, run(&opt, &c), 60);
}

static void test_resumed_budget(void **state) {
    (void)state;
    /* stopped after 300 steps, resumed: the two sessions together use the budget */
    TrainOptions opt;
    options(&opt, "resumed", 1);
    opt.stop_after = 300;
    FakeClock c1 = {.t = 0, .per_call = 0.01};
    run(&opt, &c1);
    StateInfo s1 = state_info(opt.common.output);
    assert_int_equal(s1.step, 300);
    assert_true(s1.total_steps > 300);
    options(&opt, "resumed", 1);
    opt.resume = opt.common.output;
    FakeClock c2 = {.t = 5000, .per_call = 0.01};
    double took = run(&opt, &c2);
    expect_budget_used(&opt, s1.elapsed_s + took, 60);
}

static void test_resumed_budget_spent(void **state) {
    (void)state;
    /* resumed with less time than was already trained (--minutes is not part of the run's
     * identity): the schedule as last planned is finished, with no time limit */
    TrainOptions opt;
    options(&opt, "spent", 1);
    opt.stop_after = 300;
    FakeClock c1 = {.t = 0, .per_call = 0.01};
    run(&opt, &c1);
    StateInfo s1 = state_info(opt.common.output);
    assert_true(s1.elapsed_s > 6);
    options(&opt, "spent", 0.1);
    opt.resume = opt.common.output;
    FakeClock c2 = {.t = 0, .per_call = 0.01};
    run(&opt, &c2);
    StateInfo s2 = state_info(opt.common.output);
    assert_int_equal(s2.total_steps, s1.total_steps);
    assert_int_equal(s2.step, s1.total_steps);
}

static void test_minutes_caps_steps(void **state) {
    (void)state;
    /* with --steps, --minutes is a cap: the run stops after M minutes, its state saved */
    TrainOptions opt;
    options(&opt, "cap", 0.5);
    opt.steps = 1000000;
    FakeClock c = {.t = 0, .per_call = 0.01};
    double took = run(&opt, &c);
    StateInfo s = state_info(opt.common.output);
    assert_int_equal(s.total_steps, 1000000);
    assert_true(s.step > 10 && s.step < 1000000);
    if (!(took >= 30 && took < 31)) fail_msg("the capped run took %.3f s of 30", took);
}

static int same_bytes(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int x = fgetc(fa), y = fgetc(fb);
        if (x != y) same = 0;
        if (x == EOF || y == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

static void test_steps_ignore_the_clock(void **state) {
    (void)state;
    TrainOptions a, b;
    options(&a, "clock_a", 0);
    a.steps = 20;
    FakeClock ca = {.t = 0, .per_call = 0.01};
    run(&a, &ca);
    char path_a[512];
    snprintf(path_a, sizeof path_a, "%s", a.common.output);
    options(&b, "clock_b", 0);
    b.steps = 20;
    FakeClock cb = {.t = 1e6, .per_call = 3, .slow_calls = 50, .slow_factor = 40};
    run(&b, &cb);
    assert_true(same_bytes(path_a, b.common.output));
}

// ---------------------------------------------------------------------------- main

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmp_dir, sizeof tmp_dir, "%s/ls_trainer_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp_dir)) return -1;
    ls_log_set_level(getenv("LS_TEST_VERBOSE") ? LOG_LEVEL_INFO : LOG_LEVEL_ERROR);
    omp_set_num_threads(1); /* tiny steps: threads would only wait for each other */
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_hand_values),
        cmocka_unit_test(test_plan_matches_brute_force),
        cmocka_unit_test(test_steady_clock),
        cmocka_unit_test(test_slow_trial_steps),
        cmocka_unit_test(test_fast_trial_steps),
        cmocka_unit_test(test_long_steps),
        cmocka_unit_test(test_slower_mid_run),
        cmocka_unit_test(test_slower_after_last_plan),
        cmocka_unit_test(test_faster_mid_run),
        cmocka_unit_test(test_resumed_budget),
        cmocka_unit_test(test_resumed_budget_spent),
        cmocka_unit_test(test_minutes_caps_steps),
        cmocka_unit_test(test_steps_ignore_the_clock),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, setup, teardown);
}
