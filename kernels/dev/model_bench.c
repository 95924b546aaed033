/*
 * model_bench.c — timing and peak memory of whole models on the CPU (models/model.h), d_model
 * 128 × 4 layers (the defaults: d_state 16, expand 2, d_conv 4, dt_rank 8). Not part of the
 * build or the tests (STYLE 3.10: speed is measured here, never in a test).
 *
 * Build and run (after `make`, which builds build/liblongscan.a):
 *     gcc -std=c11 -D_GNU_SOURCE -O2 -fopenmp -I. kernels/dev/model_bench.c \
 *         build/liblongscan.a $(pkg-config --libs htslib sndfile samplerate libcjson openblas) \
 *         -lz -lm -o build/model_bench
 *     build/model_bench MODE ARCH THREADS [REPEATS] [FASTA]
 *
 *   MODE train   forward + backward + AdamW, B = 1, L = 4096 (mamba: next-token LM;
 *                bimamba: classification, it cannot be an LM); prints tokens/s.
 *   MODE fwd     forward only (classification logits), B = 1, L = 65536; tokens/s.
 *   MODE long    forward only, B = 1, L = 1048576, one timed run (arena allocation included);
 *                seconds and peak RSS (getrusage; one mode per process, so the peak is its own).
 *   ARCH         mamba | bimamba | transformer
 *   FASTA        tokens from the first L bases of this file's first record (read through
 *                io/seq.h with a region, e.g. ../shared/data/dna/human-grch37-chr20/chr20.fa.gz
 *                → region 20:1-L); without it, random tokens.
 * Each timing is the best of REPEATS (default 3) runs after one warm-up run. LS_BENCH_L=n in the
 * environment replaces the mode's L (to see how speed depends on length).
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "io/encode.h"
#include "io/seq.h"
#include "kernels/matmul.h"
#include "models/model.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "model_bench: %s: %s\n", what, ls_error_message());
    exit(1);
}

static double peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

// First L bases of the first record of a FASTA (through a region "name:1-L"), as tokens.
static void read_tokens(const char *path, uint8_t *tokens, int64_t L) {
    char fai[1024], name[256] = "", region[300];
    snprintf(fai, sizeof fai, "%s.fai", path);
    FILE *f = fopen(fai, "r");
    if (!f || fscanf(f, "%255s", name) != 1) {
        fprintf(stderr, "model_bench: cannot read %s\n", fai);
        exit(1);
    }
    fclose(f);
    snprintf(region, sizeof region, "%s:1-%lld", name, (long long)L);
    SeqReaderOptions opt;
    seq_reader_options_default(&opt);
    opt.region = region;
    SeqReader *r = NULL;
    SeqRecord rec = {0};
    if (seq_reader_open(&r, path, &opt) < 0 || seq_reader_next(r, &rec) < 0) die(path);
    if (rec.len < L) {
        fprintf(stderr, "model_bench: %s has only %lld bases\n", region, (long long)rec.len);
        exit(1);
    }
    dna_encode(tokens, rec.seq, L, DNA_SOFTMASK_UPPER);
    free(rec.name);
    free(rec.seq);
    free(rec.qual);
    seq_reader_close(r);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: model_bench train|fwd|long mamba|bimamba|transformer THREADS "
                        "[REPEATS] [FASTA]\n");
        return 1;
    }
    const char *mode = argv[1];
    ModelArch arch;
    if (model_arch_parse(argv[2], &arch) < 0) die("arch");
    const int threads = atoi(argv[3]), repeats = argc > 4 ? atoi(argv[4]) : 3;
    const char *fasta = argc > 5 ? argv[5] : NULL;
    omp_set_num_threads(threads);
    if (matmul_set_threads(threads) < 0) die("threads");

    const int train = strcmp(mode, "train") == 0;
    int64_t L = train ? 4096 : strcmp(mode, "fwd") == 0 ? 65536 : 1048576;
    if (getenv("LS_BENCH_L")) L = atoll(getenv("LS_BENCH_L")); // other lengths, same modes
    ModelConfig cfg;
    model_config_default(&cfg, arch,
                         train && arch != MODEL_BIMAMBA ? MODEL_TASK_LM : MODEL_TASK_CLASSIFY);
    cfg.window = 0;
    Device cpu = {DEVICE_CPU, 0};
    Model *m = NULL;
    if (model_init(&m, &cfg, &cpu, 1) < 0) die("model_init");

    uint8_t *tokens = malloc((size_t)L);
    if (fasta)
        read_tokens(fasta, tokens, L);
    else
        for (int64_t i = 0; i < L; i++)
            tokens[i] = (uint8_t)(rand() % 4);
    int64_t len = L;
    ModelBatch batch = {.B = 1, .L = L, .tokens = tokens, .lengths = &len};
    const int lm = cfg.task == MODEL_TASK_LM;
    const int64_t nlog = lm ? L * cfg.vocab : cfg.n_classes;
    float *logits = calloc((size_t)nlog, sizeof *logits), *dl = calloc((size_t)nlog, sizeof *dl);
    int32_t label = 1;
    AdamWConfig adamw = {0.9, 0.999, 1e-8, 0.01};
    double best = 1e30, loss = 0;
    const int once = !train && L >= 1048576; // one timed run, arena allocation included
    for (int r = once ? 1 : 0; r <= (once ? 1 : repeats); r++) { // r = 0 warms up
        double t0 = now();
        if (train) {
            if (model_zero_grads(m) < 0) die("zero grads");
            memset(dl, 0, (size_t)nlog * sizeof *dl);
            if (model_forward(m, &batch, logits, 1) < 0) die("forward");
            if (model_loss(m, &batch, logits, &label, &loss, NULL, dl, 1.0f) < 0) die("loss");
            if (model_backward(m, &batch, dl) < 0) die("backward");
            if (model_adamw_step(m, &adamw, r + 1, 1e-3, 1.0f) < 0) die("adamw");
        } else {
            if (model_forward(m, &batch, logits, 0) < 0) die("forward");
        }
        double dt = now() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    printf("%s %s threads=%d B=1 L=%lld params=%lld: best %.3f s, %.0f tokens/s, peak RSS "
           "%.0f MiB%s%s\n",
           mode, model_arch_name(arch), threads, (long long)L,
           (long long)model_param_table(m)->numel, best, (double)L / best, peak_rss_mib(),
           train ? (lm ? " (LM)" : " (classify)") : "", fasta ? " (FASTA tokens)" : "");
    free(tokens);
    free(logits);
    free(dl);
    model_free(m);
    return 0;
}
