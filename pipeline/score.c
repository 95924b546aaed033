/*
 * score.c — `longscan score -m LM SEQS...`: the log-likelihood of every position of every
 * record under a language model, log p(x_t | x_<t), as bedGraph for DNA (chrom, 0-based
 * start, end, value; one line per base or per --bin bases) and the same four columns for
 * audio (file, first sample, end sample, value). Whole records go through the model in one
 * pass (Mamba); a Transformer scores consecutive windows of its --window, each starting
 * afresh. Output streams in input order. With --tsv, one row per position with the token and
 * its log-probability at full float precision, and with --vocab-logprobs the model's whole
 * next-token distribution (what transformers' log_softmax(logits) gives), computed in double
 * from the logits. Tested by tests/cli/train.tst, tests/cli/hf.tst and tests/py/test_hf_*.py.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "io/safetensors.h"

#include "pipeline/checkpoint.h"
#include "pipeline/cli.h"
#include "pipeline/commands.h"
#include "pipeline/infer.h"
#include "pipeline/stream_source.h"

enum {
    OPT_BIN = INFER_OPT_FIRST_COMMAND_OPTION,
    OPT_BITS,
    OPT_TSV,
    OPT_VOCAB_LOGPROBS,
    OPT_STREAM,
    OPT_SEGMENT,
};

/* --segment default: positions per pass of --stream (activations ~ 2·d_model floats each,
 * plus the logits: vocab floats each) */
#define SCORE_SEGMENT 65536

static void usage(FILE *fp) {
    fprintf(fp,
"Usage: longscan score -m LM [options] SEQS...\n"
"\n"
"Per-position log-likelihood under a language model: for every position t >= 1 of a record,\n"
"log p(x_t | x_0 .. x_t-1) (natural log; --bits for log2). Position 0 has no context and no\n"
"value. A whole record goes through the model in one pass, however long (Mamba); a\n"
"Transformer scores consecutive windows of its --window tokens, and the first position of\n"
"each window has no value.\n"
"\n"
"Output (stdout or -o FILE), in input order, tab-separated, no header:\n"
"  DNA: bedGraph 'chrom start end value', 0-based half-open, one line per base, or with\n"
"       --bin N the mean over the scored bases of each bin [k*N, (k+1)*N) of the\n"
"       record's positions.\n"
"       chrom is the record name; for a region input (ref.fa:chr2:1001-2000) it is the\n"
"       sequence name and coordinates are on the reference (start 1000 for base 1001).\n"
"  audio: 'file start end value' with sample indices at the model's rate.\n"
"  --tsv: a header line, then one row per position of every record (position 0 too):\n"
"       'name pos token logprob', pos 0-based (on the reference for a region, a sample\n"
"       index for audio), token the model's input id there (DNA A C G T N = 0..4, audio\n"
"       8-bit codes 0..255), logprob = log p(token | the tokens before it) printed with\n"
"       %%.9g, 'NA' where there is no context (position 0, or a window's first position).\n"
"       --vocab-logprobs adds columns next_0 .. next_V-1: log p(next token = v | the\n"
"       tokens up to and including pos) for every id v of the model's vocabulary, which\n"
"       is transformers' log_softmax(logits)[pos] for a transformers model.\n"
"\n"
"Options:\n"
"  -m, --model MODEL      the language model: a longscan .safetensors file or a\n"
"                         Hugging Face transformers Mamba directory (docs/checkpoints.md)\n"
INFER_HELP_DATA
"      --bin N            average over bins of N positions (default 1: every position)\n"
"      --bits             log2 instead of the natural log\n"
"      --tsv              per-position table instead of bedGraph (format above)\n"
"      --vocab-logprobs   with --tsv: the whole next-token distribution per position\n"
"      --batch-size N     records per forward pass (default 1)\n"
INFER_HELP_MAX_TOKENS
"      --stream           read each record a piece at a time and carry the model's state\n"
"                         from piece to piece: a whole chromosome or hours of audio in\n"
"                         constant memory, the same values as one pass (fp32 rounding\n"
"                         apart). Constant for a causal Mamba (conv and SSM states); a\n"
"                         hybrid or Transformer LM keeps a key/value cache that grows with\n"
"                         the record (a Transformer's is bounded by its sliding --window).\n"
"                         Input memory: an indexed FASTA (FILE.fai, + FILE.gzi for bgzip;\n"
"                         `samtools faidx FILE`) or FILE:REGION is read piece by piece; any\n"
"                         other sequence input is read a record at a time (1 byte per\n"
"                         base); audio in blocks (a file at another rate is resampled\n"
"                         whole first). Records in input order\n"
"      --segment N        with --stream: positions per pass (default %d)\n"
CLI_COMMON_HELP
CLI_MODEL_HELP
"\n"
"Examples:\n"
"  longscan score -m dna_lm.safetensors chr21.fa.gz > chr21.ll.bedGraph\n"
"  longscan score -m dna_lm.safetensors --bin 100 ref.fa.gz:chr2:1-1000000 -o chr2.bedGraph\n"
"  longscan score -m hf_mamba_dir --tsv --vocab-logprobs reads.fa > reads.logprobs.tsv\n"
"  longscan score -m dna_lm.safetensors --stream --bin 1000 chr20.fa.gz -o chr20.bedGraph\n",
            SCORE_SEGMENT);
}

typedef struct {
    Model   *model;
    FILE    *out;
    const Dataset *ds;
    int64_t  bin;
    double   scale;        /* 1 (nats) or 1/ln 2 (bits) */
    float   *row_loss;     /* (B·L) */
    size_t   cap;
    /* current example and bin */
    int64_t  example;
    char    *chrom;
    int64_t  base;         /* coordinate of the example's position 0 */
    int64_t  bin_index;
    double   bin_sum;
    int64_t  bin_count;
    int      tsv;          /* per-position table */
    int      vocab;        /* --vocab-logprobs */
    double  *lse;          /* (L) log-sum-exp of each position's logits */
    size_t   lse_cap;
    /* --stream: no dataset; the record's end once known (INT64_MAX before) */
    int64_t  stream_end;
} ScoreContext;

/* The reference name and start of an example read from a region ("ref.fa:chr2:1001-2000"
 * gives "chr2", 1000); other examples: their name and 0. */
static int example_coordinates(const Example *ex, char **chrom, int64_t *base) {
    const char *name = ex->name;
    size_t name_len = strlen(name), source_len = strlen(ex->source);
    const char *colon = strrchr(name, ':');
    long long start = 0, end = 0;
    char tail;
    *base = 0;
    int region = colon && source_len > name_len + 1 &&
                 strcmp(ex->source + source_len - name_len, name) == 0 &&
                 ex->source[source_len - name_len - 1] == ':';
    if (region) {
        char digits[64];
        size_t k = 0;
        for (const char *p = colon + 1; *p && k + 1 < sizeof digits; p++)
            if (*p != ',') digits[k++] = *p;
        digits[k] = '\0';
        region = sscanf(digits, "%lld-%lld%c", &start, &end, &tail) == 2 && start >= 1;
    }
    size_t len = region ? (size_t)(colon - name) : name_len;
    *chrom = malloc(len + 1);
    if (!*chrom) return ls_error(LS_ERR_NOMEM, "out of memory");
    memcpy(*chrom, name, len);
    (*chrom)[len] = '\0';
    if (region) *base = start - 1;
    return 0;
}

static void flush_bin(ScoreContext *ctx) {
    if (ctx->bin_count == 0) return;
    int64_t start = ctx->base + ctx->bin_index * ctx->bin;
    int64_t end = start + ctx->bin;
    int64_t example_end = ctx->ds ? ctx->base + dataset_example(ctx->ds, ctx->example)->length
                                  : ctx->stream_end;
    if (end > example_end) end = example_end;
    if (ctx->bin == 1) start = end - 1;
    fprintf(ctx->out, "%s\t%lld\t%lld\t%.6g\n", ctx->chrom, (long long)start, (long long)end,
            ctx->bin_sum / (double)ctx->bin_count);
    ctx->bin_sum = 0;
    ctx->bin_count = 0;
}

/* --tsv rows of one batch: log-softmax of the logits in double, %.9g. */
static int score_tsv(ScoreContext *ctx, const Batch *batch, const float *out) {
    const int64_t V = model_config(ctx->model)->vocab, L = batch->L;
    if ((size_t)L > ctx->lse_cap) {
        free(ctx->lse);
        ctx->lse = malloc((size_t)L * sizeof *ctx->lse);
        ctx->lse_cap = ctx->lse ? (size_t)L : 0;
        if (!ctx->lse) return ls_error(LS_ERR_NOMEM, "out of memory for %lld values", (long long)L);
    }
    for (int64_t b = 0; b < batch->B; b++) {
        int64_t e = batch->examples[b];
        if (e != ctx->example) {
            free(ctx->chrom);
            ctx->chrom = NULL;
            ctx->example = e;
            int status =
                example_coordinates(dataset_example(ctx->ds, e), &ctx->chrom, &ctx->base);
            if (status < 0) return status;
        }
        const float *logits = out + b * L * V;  // (L, V)
        const uint8_t *tok = batch->tokens + b * L;
        const int64_t n = batch->lengths[b];
        for (int64_t t = 0; t < n; t++) {
            const float *z = logits + t * V;
            double max = z[0], sum = 0;
            for (int64_t v = 1; v < V; v++)
                if (z[v] > max) max = z[v];
            for (int64_t v = 0; v < V; v++) sum += exp((double)z[v] - max);
            ctx->lse[t] = max + log(sum);
        }
        for (int64_t t = 0; t < n; t++) {
            fprintf(ctx->out, "%s\t%lld\t%d\t", ctx->chrom,
                    (long long)(ctx->base + batch->offsets[b] + t), tok[t]);
            if (t == 0)
                fputs("NA", ctx->out);
            else
                fprintf(ctx->out, "%.9g",
                        ((double)logits[(t - 1) * V + tok[t]] - ctx->lse[t - 1]) * ctx->scale);
            for (int64_t v = 0; ctx->vocab && v < V; v++)
                fprintf(ctx->out, "\t%.9g", ((double)logits[t * V + v] - ctx->lse[t]) * ctx->scale);
            fputc('\n', ctx->out);
        }
    }
    return ferror(ctx->out) ? ls_error(LS_ERR_IO, "write failed") : 0;
}

static int score_batch(void *ctx_, const Batch *batch, const int64_t *item, const float *out) {
    ScoreContext *ctx = ctx_;
    (void)item;
    if (ctx->tsv) return score_tsv(ctx, batch, out);
    size_t cells = (size_t)(batch->B * batch->L);
    if (cells > ctx->cap) {
        free(ctx->row_loss);
        ctx->row_loss = malloc(cells * sizeof *ctx->row_loss);
        ctx->cap = ctx->row_loss ? cells : 0;
        if (!ctx->row_loss) return ls_error(LS_ERR_NOMEM, "out of memory for %zu values", cells);
    }
    ModelBatch mb;
    infer_model_batch(batch, &mb);
    mb.target = NULL; /* every position is scored, the targets of a synthetic task too (on
                         its answers: MQAR's are not in the input) */
    double mean;
    int status = model_loss(ctx->model, &mb, out, NULL, &mean, ctx->row_loss, NULL, 1.0f);
    if (status == 0) status = infer_check_losses(ctx->ds, batch, &mb, ctx->row_loss);
    if (status < 0) return status;
    for (int64_t b = 0; b < batch->B; b++) {
        int64_t e = batch->examples[b];
        if (e != ctx->example) {
            flush_bin(ctx);
            free(ctx->chrom);
            ctx->chrom = NULL;
            ctx->example = e;
            status = example_coordinates(dataset_example(ctx->ds, e), &ctx->chrom, &ctx->base);
            if (status < 0) return status;
        }
        const float *row = ctx->row_loss + b * batch->L;
        for (int64_t t = 0; t + 1 < batch->lengths[b]; t++) {
            int64_t pos = batch->offsets[b] + t + 1; /* the position predicted */
            int64_t k = pos / ctx->bin;
            if (k != ctx->bin_index) {
                flush_bin(ctx);
                ctx->bin_index = k;
            }
            ctx->bin_sum += -(double)row[t] * ctx->scale;
            ctx->bin_count++;
        }
    }
    return ferror(ctx->out) ? ls_error(LS_ERR_IO, "write failed") : 0;
}

/* Consecutive windows of @p window covering every example (the last one shorter). */
static int window_items(const Dataset *ds, int64_t window, DatasetItem **items, int64_t *n) {
    int64_t total = 0, count = dataset_count(ds);
    for (int64_t e = 0; e < count; e++)
        total += (dataset_example(ds, e)->length + window - 1) / window;
    *items = malloc((size_t)(total ? total : 1) * sizeof **items);
    if (!*items) return ls_error(LS_ERR_NOMEM, "out of memory for %lld windows", (long long)total);
    int64_t k = 0;
    for (int64_t e = 0; e < count; e++) {
        int64_t len = dataset_example(ds, e)->length;
        for (int64_t at = 0; at < len; at += window)
            (*items)[k++] = (DatasetItem){e, at, len - at < window ? len - at : window};
    }
    *n = k;
    return 0;
}

// ---------------------------------------------------------------------------- --stream

static double logsumexp(const float *z, int64_t V) { /* as loss_xent_cpu: double, max-shifted */
    double max = z[0], sum = 0;
    for (int64_t v = 1; v < V; v++)
        if (z[v] > max) max = z[v];
    for (int64_t v = 0; v < V; v++) sum += exp((double)z[v] - max);
    return max + log(sum);
}

/* One value per position p >= 1 (bedGraph bins), or one TSV row per position, from the
 * logits of the position before: `prev` (V) carries the last row of the previous piece. */
static int stream_emit(ScoreContext *ctx, const uint8_t *tok, const float *logits, int64_t t0,
                       int64_t n, float *prev, double *prev_lse, const char *name) {
    const int64_t V = model_config(ctx->model)->vocab;
    for (int64_t i = 0; i < n; i++) {
        const int64_t t = t0 + i;
        const float *before = i > 0 ? logits + (i - 1) * V : prev;
        const double lse_before = i > 0 ? ctx->lse[i - 1] : *prev_lse;
        if (ctx->tsv) {
            fprintf(ctx->out, "%s\t%lld\t%d\t", name, (long long)(ctx->base + t), tok[i]);
            if (t == 0)
                fputs("NA", ctx->out);
            else
                fprintf(ctx->out, "%.9g", ((double)before[tok[i]] - lse_before) * ctx->scale);
            for (int64_t v = 0; ctx->vocab && v < V; v++)
                fprintf(ctx->out, "\t%.9g",
                        ((double)logits[i * V + v] - ctx->lse[i]) * ctx->scale);
            fputc('\n', ctx->out);
            continue;
        }
        if (t == 0) continue;
        const float row_loss = (float)(lse_before - before[tok[i]]); /* model_loss's value */
        const int64_t k = t / ctx->bin;
        if (k != ctx->bin_index) {
            flush_bin(ctx);
            ctx->bin_index = k;
        }
        ctx->bin_sum += -(double)row_loss * ctx->scale;
        ctx->bin_count++;
    }
    memcpy(prev, logits + (n - 1) * V, (size_t)V * sizeof *prev);
    *prev_lse = ctx->lse[n - 1];
    return ferror(ctx->out) ? ls_error(LS_ERR_IO, "write failed") : 0;
}

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int score_stream(ScoreContext *ctx, const InferArgs *a, const ModelFile *mf,
                        int64_t segment) {
    Model *m = mf->model;
    const int64_t V = model_config(m)->vocab;
    uint8_t *tok = malloc((size_t)segment);
    float *logits = malloc((size_t)(segment * V) * sizeof *logits);
    float *prev = malloc((size_t)V * sizeof *prev);
    StreamSource *src = NULL;
    int status = 0;
    int64_t positions = 0;
    const double start = seconds_now();
    free(ctx->lse);
    ctx->lse = malloc((size_t)segment * sizeof *ctx->lse);
    if (!tok || !logits || !prev || !ctx->lse) {
        status = ls_error(LS_ERR_NOMEM, "out of memory for segments of %lld positions (lower "
                          "--segment)", (long long)segment);
        goto fail;
    }
    for (int k = 0; k < a->inputs.n_sources && status == 0; k++) {
        status = stream_source_open(&src, a->inputs.sources[k], &mf->data, a->inputs.reference);
        if (status < 0) break;
        ls_log_info("%s: %s", a->inputs.sources[k], stream_source_constant_memory(src)
                    ? "read piece by piece" : "read a record at a time");
        StreamRecord rec;
        while (status == 0 && (status = stream_source_next(src, &rec)) == 1) {
            status = model_stream_reset(m, 1);
            if (status == 0 && rec.length > 0) status = model_stream_reserve(m, rec.length);
            if (status < 0) break;
            free(ctx->chrom);
            ctx->chrom = strdup(rec.chrom);
            if (!ctx->chrom) {
                status = ls_error(LS_ERR_NOMEM, "out of memory");
                break;
            }
            ctx->base = rec.base;
            ctx->bin_index = -1;
            ctx->stream_end = INT64_MAX;
            double prev_lse = 0;
            int64_t t = 0, n;
            while ((n = stream_source_read(src, tok, segment)) > 0) {
                ModelBatch mb = {.B = 1, .L = n, .tokens = tok};
                if ((status = model_stream_forward(m, &mb, logits)) < 0) break;
                int64_t bad = st_first_nonfinite(logits, n * V);
                if (bad >= 0) {
                    status = ls_error(LS_ERR_RANGE, "%s: '%s': the model's output (logits) %s "
                                      "at position %lld; no result for this record",
                                      a->inputs.sources[k], rec.name,
                                      isnan(logits[bad]) ? "is nan" : "overflows to infinity",
                                      (long long)(ctx->base + t + bad / V));
                    break;
                }
                for (int64_t i = 0; i < n; i++) ctx->lse[i] = logsumexp(logits + i * V, V);
                if ((status = stream_emit(ctx, tok, logits, t, n, prev, &prev_lse, rec.name)) < 0)
                    break;
                t += n;
            }
            if (status == 0 && n < 0) status = (int)n;
            if (status < 0) break;
            ctx->stream_end = ctx->base + t;
            flush_bin(ctx);
            positions += t;
            if (ferror(ctx->out)) status = ls_error(LS_ERR_IO, "write failed");
        }
        stream_source_close(src);
        src = NULL;
    }
    if (status == 0) {
        const double el = seconds_now() - start;
        int64_t cache = model_stream_cache_bytes(m, NULL);
        ls_log_info("streamed %lld positions in %.2f s: %.4f M positions/s; key/value cache "
                    "%lld bytes", (long long)positions, el,
                    el > 0 ? (double)positions / el / 1e6 : 0.0, (long long)cache);
        if (model_device(m)->kind == DEVICE_CUDA) {
            size_t peak = 0;
            device_cuda_memory(NULL, &peak); // what longscan held at most (bench/gpu_stream.sh)
            ls_log_info("peak GPU memory held: %.1f MiB", (double)peak / 1048576.0);
        }
    }
fail:
    stream_source_close(src);
    free(tok);
    free(logits);
    free(prev);
    return status;
}

int main_score(int argc, char **argv) {
    static const struct option long_options[] = {
        INFER_LONG_OPTIONS,
        {"bin", required_argument, NULL, OPT_BIN},
        {"bits", no_argument, NULL, OPT_BITS},
        {"tsv", no_argument, NULL, OPT_TSV},
        {"vocab-logprobs", no_argument, NULL, OPT_VOCAB_LOGPROBS},
        {"stream", no_argument, NULL, OPT_STREAM},
        {"segment", required_argument, NULL, OPT_SEGMENT},
        CLI_COMMON_LONG_OPTIONS,
        CLI_MODEL_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    InferArgs args;
    int64_t bin = 1, segment = 0;
    int bits = 0, tsv = 0, vocab = 0, bin_given = 0, stream = 0, batch_given = 0;
    ModelFile mf = {0};
    Dataset *ds = NULL;
    DatasetItem *items = NULL;
    OutputFile out = {0};
    ScoreContext ctx = {0};
    int c;
    int status = infer_args_init(&args, argc, 1);
    if (status < 0) goto fail;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "m:o:h", long_options, NULL)) != -1) {
        status = infer_args_parse(c, optarg, &args);
        if (status < 0) goto fail;
        if (c == INFER_OPT_BATCH_SIZE || c == INFER_OPT_MAX_TOKENS) batch_given = 1;
        if (status == 1) continue;
        status = 0;
        switch (c) {
        case 'h':
            usage(stdout);
            infer_args_free(&args);
            return EXIT_OK;
        case OPT_STREAM: stream = 1; break;
        case OPT_SEGMENT:
            status = cli_parse_int64("--segment", optarg, 1, INT64_C(1) << 30, &segment);
            break;
        case OPT_BIN:
            status = cli_parse_int64("--bin", optarg, 1, INT64_MAX / 2, &bin);
            bin_given = 1;
            break;
        case OPT_BITS: bits = 1; break;
        case OPT_TSV: tsv = 1; break;
        case OPT_VOCAB_LOGPROBS: vocab = 1; break;
        default:
            status = ls_error(LS_ERR_USAGE, "unknown or incomplete option '%s'; see 'longscan "
                              "score --help'", argv[optind - 1]);
        }
        if (status < 0) goto fail;
    }
    if (tsv && bin_given) {
        status = ls_error(LS_ERR_USAGE, "--bin and --tsv: the table has one row per position");
        goto fail;
    }
    if (vocab && !tsv) {
        status = ls_error(LS_ERR_USAGE, "--vocab-logprobs needs --tsv");
        goto fail;
    }
    if (segment && !stream) {
        status = ls_error(LS_ERR_USAGE, "--segment needs --stream");
        goto fail;
    }
    if (stream && batch_given) {
        status = ls_error(LS_ERR_USAGE, "--stream reads one record at a time, in --segment "
                          "pieces; --batch-size and --max-tokens do not apply");
        goto fail;
    }
    if (!segment) segment = SCORE_SEGMENT;
    if ((status = infer_args_finish(&args, argc, argv, "LM.safetensors",
                                    "no input: give SEQS to score")) < 0 ||
        (status = infer_args_open_model(&args, &mf)) < 0)
        goto fail;
    const ModelConfig *cfg = model_config(mf.model);
    if (cfg->task != MODEL_TASK_LM) {
        status = ls_error(LS_ERR_USAGE, "%s is a classifier; score needs a language model "
                          "(train one with --task lm)", args.model);
        goto fail;
    }
    if (stream) {
        if ((status = cli_output_open(&out, args.common.output)) < 0) goto fail;
        ctx = (ScoreContext){.model = mf.model, .out = out.fp, .bin = bin,
                             .scale = bits ? 1.0 / log(2.0) : 1.0, .example = -1,
                             .bin_index = -1, .tsv = tsv, .vocab = vocab};
        if (tsv) {
            fputs("name\tpos\ttoken\tlogprob", out.fp);
            for (int64_t v = 0; vocab && v < cfg->vocab; v++)
                fprintf(out.fp, "\tnext_%lld", (long long)v);
            fputc('\n', out.fp);
        }
        if ((status = infer_check_streams(&args.inputs, NULL)) < 0 ||
            (status = score_stream(&ctx, &args, &mf, segment)) < 0)
            goto fail;
        status = cli_output_commit(&out);
        goto fail;
    }
    if ((status = infer_args_load(&args, &mf, 0, &ds)) < 0) goto fail;
    int64_t n_items = 0;
    status = cfg->window > 0 ? window_items(ds, cfg->window, &items, &n_items)
                             : dataset_items_whole(ds, NULL, 0, &items);
    if (status < 0) goto fail;
    if (cfg->window <= 0) n_items = dataset_count(ds);
    if ((status = cli_output_open(&out, args.common.output)) < 0) goto fail;
    ctx = (ScoreContext){.model = mf.model, .out = out.fp, .ds = ds, .bin = bin,
                         .scale = bits ? 1.0 / log(2.0) : 1.0, .example = -1, .bin_index = -1,
                         .tsv = tsv, .vocab = vocab};
    if (tsv) {
        fputs("name\tpos\ttoken\tlogprob", out.fp);
        for (int64_t v = 0; vocab && v < cfg->vocab; v++)
            fprintf(out.fp, "\tnext_%lld", (long long)v);
        fputc('\n', out.fp);
    }
    InferOptions io;
    infer_args_run_options(&args, &mf, INFER_LOGITS, &io);
    io.keep_order = 1;     /* output streams in input order */
    io.every_position = 1; /* as score_batch's loss: one value per position */
    status = infer_run(mf.model, ds, items, n_items, &io, score_batch, &ctx);
    if (status < 0) goto fail;
    flush_bin(&ctx);
    status = cli_output_commit(&out);
fail:
    if (status < 0) cli_output_abort(&out);
    free(ctx.row_loss);
    free(ctx.lse);
    free(ctx.chrom);
    free(items);
    dataset_free(ds);
    checkpoint_close(&mf);
    infer_args_free(&args);
    return status < 0 ? cli_fail("score", status) : EXIT_OK;
}
