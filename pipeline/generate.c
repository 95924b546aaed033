/*
 * generate.c — `longscan generate -m LM ...`: audio (WAV/FLAC) or DNA (FASTA) from a language
 * model, token by token through its recurrent step (pipeline/generator.h), optionally
 * continuing a prompt that primes the state in parallel passes. Audio codes are decoded back
 * to samples (µ-law or linear, as the model was trained: docs/encodings.md) and written as
 * they are generated, so an hour of audio takes no more memory than a second; K generations
 * side by side (--batch K) go to K files. Every output is checked before the model runs and
 * appears only complete. Tested by tests/cli/generate.tst and tests/unit/test_generate.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/log.h"
#include "io/audio.h"
#include "io/encode.h"
#include "io/seq.h"
#include "pipeline/checkpoint.h"
#include "pipeline/cli.h"
#include "pipeline/commands.h"
#include "pipeline/generator.h"

enum {
    OPT_LENGTH = CLI_OPT_FIRST_COMMAND_OPTION,
    OPT_SECONDS,
    OPT_RATE,
    OPT_PROMPT,
    OPT_RESAMPLE_PROMPT,
    OPT_KEEP_PROMPT,
    OPT_TEMPERATURE,
    OPT_TOP_P,
    OPT_BATCH,
};

/* Most generations side by side (one open file each for audio). */
#define GENERATE_MAX_BATCH 256
/* FASTA line width. */
#define GENERATE_FASTA_LINE 60

static void usage(FILE *fp) {
    fprintf(fp,
"Usage: longscan generate -m LM (--length N | --seconds S [--rate HZ]) -o OUT [options]\n"
"\n"
"Generate raw audio or DNA with a language model (longscan train --task lm), one token at a\n"
"time through the model's recurrent step. A causal Mamba carries a constant state (conv and\n"
"SSM states per layer: d_inner x (d_conv - 1 + d_state) floats), so every sample costs the\n"
"same time and memory however long the output. A Transformer or hybrid LM keeps a key/value\n"
"cache in each attention layer, which grows by 2 x d_model floats (8 x d_model bytes) per\n"
"token and output: a 4-layer Transformer of d_model 256 holds 8 KiB per token, a hybrid\n"
"with one attention layer in 4 holds 2 KiB, and its time per token grows with the context\n"
"too. The cache for the whole output is allocated before the first token (too long an\n"
"output fails at once, exit 1); --verbosity 2 prints the model's numbers and the memory\n"
"measured. A Transformer attends over its --window (a sliding window past it).\n"
"\n"
"Output (-o OUT, required):\n"
"  audio models (8-bit µ-law or linear codes): each code is decoded to its sample value\n"
"    (docs/encodings.md) and written mono, PCM 16-bit, as WAV or FLAC by the extension of\n"
"    OUT (.wav, .flac), at the model's sample rate (or --rate), as it is generated.\n"
"    --batch K > 1 writes K files, one generation each: OUT.1.wav .. OUT.K.wav (the index\n"
"    goes before the extension), not K channels.\n"
"  DNA models: FASTA, 60 bases per line, records generated.1 .. generated.K ('-' =\n"
"    stdout); bases upper case, N where the model drew N.\n"
"  Files appear only complete: each is written to a temporary in its folder and renamed\n"
"  once every generation has finished, so a failure before then leaves no file behind.\n"
"  Before any work, every output is checked: it can be created, and it is not the model\n"
"  or the prompt.\n"
"\n"
"Options:\n"
"  -m, --model LM         the language model: a longscan .safetensors file or a Hugging\n"
"                         Face transformers Mamba directory\n"
"      --length N         tokens to generate per output: samples at the model's rate, or\n"
"                         bases (the prompt not counted)\n"
"      --seconds S        audio: seconds to generate (N = round(S x the model's rate))\n"
"      --rate HZ          audio: sample rate of the files written (default: the model's);\n"
"                         another rate is resampled from the model's with libsamplerate,\n"
"                         which holds each output in memory until the end\n"
"      --prompt FILE      context to continue: an audio file (mixed down to mono; at the\n"
"                         model's rate, or give --resample-prompt), or the first record of a\n"
"                         FASTA/FASTQ/SAM/BAM/CRAM file, read as the model was trained\n"
"                         (soft-mask rule, codes). Every output continues the same prompt.\n"
"                         It is read in parallel passes of the streaming forward, not token\n"
"                         by token\n"
"      --resample-prompt  resample an audio prompt at another rate to the model's rate\n"
"                         (without it, another rate is an error)\n"
"      --keep-prompt      the output starts with the prompt, as the model read it (its\n"
"                         decoded codes, or its bases in upper case)\n"
"      --temperature T    sampling temperature (default 1; 0: always the most likely token)\n"
"      --top-p P          nucleus sampling: draw only from the most likely tokens that hold\n"
"                         a share P of the probability (default 1: from all)\n"
"      --batch K          K generations side by side, each with its own random stream\n"
"                         (1..%d, default 1)\n"
CLI_COMMON_HELP
"\n"
"Without --prompt, every output starts from one token, which is its first sample or base:\n"
"the code of silence (0.0) for audio, a base drawn from A C G T (uniformly, from --seed) for\n"
"DNA. Generation k draws from its own stream of --seed, so the same seed, model and options\n"
"give the same files, byte for byte. Causal language models generate (mamba, transformer,\n"
"hybrid); a classifier or a synthetic-task model is refused.\n"
"\n"
"Examples:\n"
"  longscan generate -m audio_lm.safetensors --seconds 4 -o out.wav\n"
"  longscan generate -m audio_lm.safetensors --seconds 10 --prompt in.wav --keep-prompt \\\n"
"      --temperature 0.9 --top-p 0.95 --batch 4 --seed 7 -o take.flac\n"
"  longscan generate -m dna_lm.safetensors --length 100000 --prompt seed.fa -o gen.fa\n",
            GENERATE_MAX_BATCH);
}

typedef struct {
    const char  *model_path;
    const char  *output;
    const char  *prompt;
    int64_t      length;       /* 0: not given */
    double       seconds;      /* < 0: not given */
    int          rate;         /* 0: the model's */
    int          resample_prompt;
    int          keep_prompt;
    int          batch;
    SamplerOptions sampler;
    CommonOptions common;
} GenerateArgs;

/* ---------------------------------------------------------------------------- outputs */

/* "out.wav" → "out.3.wav" (the index before the extension); malloc'd. */
static char *indexed_name(const char *path, int k) {
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : path))
        dot = path + strlen(path); // no extension: the index goes last
    size_t n = strlen(path) + 16;
    char *name = malloc(n);
    if (name) snprintf(name, n, "%.*s.%d%s", (int)(dot - path), path, k, dot);
    return name;
}

typedef struct {
    const ModelFile *mf;
    const GenerateArgs *args;
    int64_t      B, n_total;   /* rows, tokens per row written (prompt included if kept) */
    /* audio */
    AudioWriter **writers;     /* (B) */
    float       *samples;      /* decoded block (GENERATOR_BLOCK) */
    float       *held;         /* --rate resampling: (B, n_total) all samples */
    int64_t      held_at;      /* samples of each row in held */
    /* DNA */
    uint8_t     *tokens;       /* (B, n_total) */
    int64_t      tokens_at;
    /* progress */
    int64_t      done, goal;
    int          show;
    double       start;
} Output;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void decode_codes(const Output *o, float *dst, const uint8_t *codes, int64_t n) {
    if (o->mf->data.audio_codes == AUDIO_CODES_LINEAR8)
        for (int64_t i = 0; i < n; i++) dst[i] = linear_decode(codes[i], 8);
    else
        mulaw_decode_array(dst, codes, n);
}

/* Append n tokens of row b (audio: decoded, written or held; DNA: kept). */
static int output_append(Output *o, int64_t b, const uint8_t *tokens, int64_t n, int last_row) {
    if (o->mf->data.kind != EXAMPLE_AUDIO) {
        memcpy(o->tokens + b * o->n_total + o->tokens_at, tokens, (size_t)n);
        if (last_row) o->tokens_at += n;
        return 0;
    }
    for (int64_t at = 0; at < n; at += GENERATOR_BLOCK) {
        const int64_t k = n - at < GENERATOR_BLOCK ? n - at : GENERATOR_BLOCK;
        if (o->held) {
            decode_codes(o, o->held + b * o->n_total + o->held_at + at, tokens + at, k);
            continue;
        }
        decode_codes(o, o->samples, tokens + at, k);
        int status = audio_writer_write(o->writers[b], o->samples, k);
        if (status < 0) return status;
    }
    if (last_row && o->held) o->held_at += n;
    return 0;
}

static int on_block(void *ctx, int64_t t0, int64_t n, const uint8_t *tokens, int64_t stride) {
    Output *o = ctx;
    (void)t0;
    for (int64_t b = 0; b < o->B; b++) {
        int status = output_append(o, b, tokens + b * stride, n, b == o->B - 1);
        if (status < 0) return status;
    }
    o->done += n;
    if (o->show) {
        double el = now_s() - o->start;
        fprintf(stderr, "\rgenerate: %lld / %lld per output, %.0f tokens/s   ",
                (long long)o->done, (long long)o->goal,
                el > 0 ? (double)(o->done * o->B) / el : 0.0);
    }
    return 0;
}

static int write_fasta(const Output *o, const char *path) {
    OutputFile out;
    int status = cli_output_open(&out, path);
    if (status < 0) return status;
    char line[GENERATE_FASTA_LINE + 1];
    for (int64_t b = 0; b < o->B; b++) {
        fprintf(out.fp, ">generated.%lld\n", (long long)(b + 1));
        const uint8_t *row = o->tokens + b * o->n_total;
        for (int64_t at = 0; at < o->n_total; at += GENERATE_FASTA_LINE) {
            int64_t k = o->n_total - at < GENERATE_FASTA_LINE ? o->n_total - at
                                                               : GENERATE_FASTA_LINE;
            dna_decode(line, row + at, k);
            line[k] = '\n';
            fwrite(line, 1, (size_t)k + 1, out.fp);
        }
    }
    if (ferror(out.fp)) {
        cli_output_abort(&out);
        return ls_error(LS_ERR_IO, "%s: write failed", path && strcmp(path, "-") ? path : "stdout");
    }
    return cli_output_commit(&out);
}

/* ---------------------------------------------------------------------------- prompt */

/* The prompt as tokens the model reads: *tokens malloc'd, *n of them. */
static int load_prompt(const GenerateArgs *a, const ModelFile *mf, uint8_t **tokens, int64_t *n) {
    *tokens = NULL;
    *n = 0;
    if (mf->data.kind == EXAMPLE_AUDIO) {
        AudioReader *r = NULL;
        int status = audio_reader_open(&r, a->prompt);
        if (status < 0) return status;
        int rate = audio_reader_info(r)->sample_rate;
        audio_reader_close(r);
        if (rate != mf->data.sample_rate && !a->resample_prompt)
            return ls_error(LS_ERR_RANGE, "%s: sample rate %d Hz, but %s generates at %d Hz; "
                            "give --resample-prompt to convert it", a->prompt, rate,
                            a->model_path, mf->data.sample_rate);
        float *x = NULL;
        int64_t len = 0;
        status = audio_load_mono(a->prompt, mf->data.sample_rate, &x, &len, NULL);
        if (status < 0) return status;
        *tokens = malloc((size_t)(len > 0 ? len : 1));
        if (!*tokens) {
            free(x);
            return ls_error(LS_ERR_NOMEM, "%s: out of memory for %lld samples", a->prompt,
                            (long long)len);
        }
        if (mf->data.audio_codes == AUDIO_CODES_LINEAR8)
            for (int64_t i = 0; i < len; i++) (*tokens)[i] = (uint8_t)linear_encode(x[i], 8);
        else
            mulaw_encode_array(*tokens, x, len);
        free(x);
        *n = len;
        return len > 0 ? 0 : ls_error(LS_ERR_FORMAT, "%s: no samples", a->prompt);
    }
    SeqReader *r = NULL;
    SeqRecord rec = {0};
    int status = seq_reader_open(&r, a->prompt, NULL);
    if (status == 0) {
        int64_t got = seq_reader_next(r, &rec);
        if (got == -1)
            status = ls_error(LS_ERR_FORMAT, "%s: no sequence record", a->prompt);
        else if (got < 0)
            status = (int)got;
    }
    if (status == 0) {
        *tokens = malloc((size_t)rec.len);
        if (!*tokens)
            status = ls_error(LS_ERR_NOMEM, "%s: out of memory for %lld bases", a->prompt,
                              (long long)rec.len);
        else {
            dna_encode(*tokens, rec.seq, rec.len, mf->data.softmask);
            *n = rec.len;
        }
    }
    seq_record_free(&rec);
    seq_reader_close(r);
    return status;
}

/* ---------------------------------------------------------------------------- main */

static int parse_args(GenerateArgs *a, int argc, char **argv, int *help) {
    static const struct option long_options[] = {
        {"model", required_argument, NULL, 'm'},
        {"length", required_argument, NULL, OPT_LENGTH},
        {"seconds", required_argument, NULL, OPT_SECONDS},
        {"rate", required_argument, NULL, OPT_RATE},
        {"prompt", required_argument, NULL, OPT_PROMPT},
        {"resample-prompt", no_argument, NULL, OPT_RESAMPLE_PROMPT},
        {"keep-prompt", no_argument, NULL, OPT_KEEP_PROMPT},
        {"temperature", required_argument, NULL, OPT_TEMPERATURE},
        {"top-p", required_argument, NULL, OPT_TOP_P},
        {"batch", required_argument, NULL, OPT_BATCH},
        CLI_COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int c, status = 0;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "m:o:h", long_options, NULL)) != -1) {
        if ((status = cli_common_parse(c, optarg, &a->common)) < 0) return status;
        if (status == 1) continue;
        status = 0;
        switch (c) {
        case 'h': *help = 1; return 0;
        case 'm': a->model_path = optarg; break;
        case OPT_LENGTH:
            status = cli_parse_int64("--length", optarg, 1, INT64_C(1) << 40, &a->length);
            break;
        case OPT_SECONDS:
            status = cli_parse_double("--seconds", optarg, 1e-9, 1e7, &a->seconds);
            break;
        case OPT_RATE: status = cli_parse_int("--rate", optarg, 1, 1000000, &a->rate); break;
        case OPT_PROMPT: a->prompt = optarg; break;
        case OPT_RESAMPLE_PROMPT: a->resample_prompt = 1; break;
        case OPT_KEEP_PROMPT: a->keep_prompt = 1; break;
        case OPT_TEMPERATURE:
            status = cli_parse_double("--temperature", optarg, 0.0, 1e6, &a->sampler.temperature);
            break;
        case OPT_TOP_P:
            status = cli_parse_double("--top-p", optarg, 0.0, 1.0, &a->sampler.top_p);
            if (status == 0 && a->sampler.top_p <= 0.0)
                status = ls_error(LS_ERR_USAGE, "--top-p %s: must be above 0 (and at most 1)",
                                  optarg);
            break;
        case OPT_BATCH:
            status = cli_parse_int("--batch", optarg, 1, GENERATE_MAX_BATCH, &a->batch);
            break;
        default:
            return ls_error(LS_ERR_USAGE, "unknown or incomplete option '%s'; see 'longscan "
                            "generate --help'", argv[optind - 1]);
        }
        if (status < 0) return status;
    }
    a->output = a->common.output;
    if (optind < argc)
        return ls_error(LS_ERR_USAGE, "unexpected argument '%s' (the prompt is --prompt FILE)",
                        argv[optind]);
    if (!a->model_path) return ls_error(LS_ERR_USAGE, "no model: give -m LM.safetensors");
    if (!a->output) return ls_error(LS_ERR_USAGE, "no output: give -o OUT (.wav, .flac or FASTA)");
    if ((a->length > 0) == (a->seconds >= 0))
        return ls_error(LS_ERR_USAGE, "give the length to generate: --length N or --seconds S "
                        "(one of them)");
    if (a->keep_prompt && !a->prompt)
        return ls_error(LS_ERR_USAGE, "--keep-prompt needs --prompt FILE");
    if (a->resample_prompt && !a->prompt)
        return ls_error(LS_ERR_USAGE, "--resample-prompt needs --prompt FILE");
    return 0;
}

/* Kind-specific checks once the model is known, and the output names. */
static int check_for_model(const GenerateArgs *a, const ModelFile *mf, char ***names, int *n) {
    const ModelConfig *cfg = model_config(mf->model);
    *names = NULL;
    *n = 0;
    if (cfg->task != MODEL_TASK_LM)
        return ls_error(LS_ERR_UNSUPPORTED, "%s is a classifier; generate needs a language model "
                        "(train one with --task lm)", a->model_path);
    if (mf->data.kind == EXAMPLE_SYNTH)
        return ls_error(LS_ERR_UNSUPPORTED, "%s was trained on synthetic tasks; generate writes "
                        "audio or DNA", a->model_path);
    if (cfg->vocab > 256)
        return ls_error(LS_ERR_UNSUPPORTED, "%s has a vocabulary of %lld ids; generate writes "
                        "DNA (5 ids) or 8-bit audio codes (256)", a->model_path,
                        (long long)cfg->vocab);
    const int audio = mf->data.kind == EXAMPLE_AUDIO;
    if (!audio && (a->seconds >= 0 || a->rate || a->resample_prompt))
        return ls_error(LS_ERR_USAGE, "%s is for audio models; %s generates DNA (give "
                        "--length N bases)", a->seconds >= 0 ? "--seconds"
                                             : a->rate ? "--rate" : "--resample-prompt",
                        a->model_path);
    if (audio) {
        AudioWriteFormat f;
        if (audio_write_format_from_path(a->output, &f) < 0)
            return ls_error(LS_ERR_USAGE, "-o %s: an audio model writes .wav or .flac",
                            a->output);
    }
    int count = audio && a->batch > 1 ? a->batch : 1;
    char **list = calloc((size_t)count, sizeof *list);
    if (!list) return ls_error(LS_ERR_NOMEM, "out of memory");
    for (int k = 0; k < count; k++) {
        list[k] = count > 1 ? indexed_name(a->output, k + 1) : strdup(a->output);
        if (!list[k]) {
            for (int j = 0; j < k; j++) free(list[j]);
            free(list);
            return ls_error(LS_ERR_NOMEM, "out of memory");
        }
    }
    *names = list;
    *n = count;
    CliPath in[2] = {{"-m", a->model_path}, {"--prompt", a->prompt}};
    CliPath *out = malloc((size_t)count * sizeof *out);
    if (!out) return ls_error(LS_ERR_NOMEM, "out of memory");
    for (int k = 0; k < count; k++) out[k] = (CliPath){"-o", list[k]};
    int status = cli_check_outputs(out, count, in, 2);
    free(out);
    return status;
}

int main_generate(int argc, char **argv) {
    GenerateArgs a = {.seconds = -1, .batch = 1, .sampler = {1.0, 1.0}};
    cli_common_default(&a.common);
    ModelFile mf = {0};
    Output o = {0};
    char **names = NULL;
    int n_names = 0, help = 0;
    uint8_t *prompt = NULL, *prefix = NULL;
    int64_t n_prompt = 0;
    int status = parse_args(&a, argc, argv, &help);
    if (status == 0 && help) {
        usage(stdout);
        return EXIT_OK;
    }
    if (status < 0) goto fail;
    {   // the output's folder before the model loads: a typo fails at once
        CliPath in[2] = {{"-m", a.model_path}, {"--prompt", a.prompt}};
        CliPath out = {"-o", a.output};
        if ((status = cli_check_outputs(&out, 1, in, 2)) < 0) goto fail;
    }
    cli_common_apply(&a.common);
    if ((status = checkpoint_open(&mf, a.model_path, &a.common.device)) < 0) goto fail;
    if ((status = check_for_model(&a, &mf, &names, &n_names)) < 0) goto fail;
    const ModelConfig *cfg = model_config(mf.model);
    const int audio = mf.data.kind == EXAMPLE_AUDIO;
    const int model_rate = audio ? mf.data.sample_rate : 0;
    const int out_rate = a.rate ? a.rate : model_rate;
    const int64_t N = a.seconds >= 0 ? (int64_t)llround(a.seconds * model_rate) : a.length;
    if (N < 1) {
        status = ls_error(LS_ERR_USAGE, "--seconds %g: less than one sample at %d Hz",
                          a.seconds, model_rate);
        goto fail;
    }
    if (a.prompt && (status = load_prompt(&a, &mf, &prompt, &n_prompt)) < 0) goto fail;

    // each row's context: the prompt, or one seed token (docs: silence / a random base)
    const int64_t B = a.batch, P = a.prompt ? n_prompt : 1;
    prefix = malloc((size_t)(B * P));
    if (!prefix) {
        status = ls_error(LS_ERR_NOMEM, "out of memory for a prompt of %lld tokens",
                          (long long)P);
        goto fail;
    }
    for (int64_t b = 0; b < B; b++) {
        if (a.prompt) {
            memcpy(prefix + b * P, prompt, (size_t)P);
        } else if (audio) {
            prefix[b] = mf.data.audio_codes == AUDIO_CODES_LINEAR8
                            ? (uint8_t)linear_encode(0.0f, 8) : mulaw_encode(0.0f);
        } else {
            Rng r;
            rng_seed_stream(&r, rng_mix64(a.common.seed), (uint64_t)b);
            prefix[b] = (uint8_t)rng_below(&r, 4);
        }
    }

    // outputs: what precedes the generated tokens (kept prompt, or the seed token)
    const int64_t lead = a.keep_prompt ? P : a.prompt ? 0 : 1;
    const int64_t n_gen = a.prompt ? N : N - 1; // the seed token is the first of N
    o = (Output){.mf = &mf, .args = &a, .B = B, .n_total = lead + n_gen, .goal = n_gen,
                 .show = cli_stderr_is_tty() && a.common.verbosity >= 1, .start = now_s()};
    if (audio) {
        o.samples = malloc(GENERATOR_BLOCK * sizeof *o.samples);
        o.writers = calloc((size_t)B, sizeof *o.writers);
        if (out_rate != model_rate)
            o.held = malloc((size_t)(B * o.n_total) * sizeof *o.held);
        if (!o.samples || !o.writers || (out_rate != model_rate && !o.held)) {
            status = ls_error(LS_ERR_NOMEM, "out of memory for %lld samples per output",
                              (long long)o.n_total);
            goto fail;
        }
        AudioWriteFormat format;
        if ((status = audio_write_format_from_path(a.output, &format)) < 0) goto fail;
        for (int64_t b = 0; b < B; b++)
            if ((status = audio_writer_open(&o.writers[b], names[b], 1, out_rate, format)) < 0)
                goto fail;
    } else {
        o.tokens = malloc((size_t)(B * o.n_total));
        if (!o.tokens) {
            status = ls_error(LS_ERR_NOMEM, "out of memory for %lld bases per output",
                              (long long)o.n_total);
            goto fail;
        }
    }
    for (int64_t b = 0; b < B && lead > 0; b++)
        if ((status = output_append(&o, b, prefix + b * P + P - lead, lead, b == B - 1)) < 0)
            goto fail;

    ls_log_info("%s: %s language model, %lld layers, d_model %lld; %lld x %lld tokens%s",
                a.model_path, model_arch_name(cfg->arch), (long long)cfg->n_layers,
                (long long)cfg->d_model, (long long)B, (long long)n_gen,
                a.prompt ? " after the prompt" : "");
    int64_t state_bytes, cache_bytes;
    model_stream_sizes(mf.model, &state_bytes, &cache_bytes);
    ls_log_info("streaming state: %lld bytes per output, constant; key/value cache: %lld bytes "
                "per token and output (%lld of %lld layers are attention)",
                (long long)state_bytes, (long long)cache_bytes,
                (long long)model_attention_layers(cfg), (long long)cfg->n_layers);
    if (n_gen > 0) {
        GeneratorOptions go = {.B = B, .prefix = prefix, .P = P, .length = n_gen,
                               .sampler = a.sampler, .seed = a.common.seed,
                               .on_block = on_block, .ctx = &o};
        double t0 = now_s();
        status = generator_run(mf.model, &go);
        if (o.show) fputc('\n', stderr);
        if (status < 0) goto fail;
        double el = now_s() - t0;
        ls_log_info("generated %lld x %lld tokens in %.2f s: %.0f tokens/s", (long long)B,
                    (long long)n_gen, el, el > 0 ? (double)(B * n_gen) / el : 0.0);
        int64_t held = 0, kv = model_stream_cache_bytes(mf.model, &held);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        ls_log_info("key/value cache allocated: %lld bytes (%.1f MiB), holding %lld tokens of "
                    "context x %lld; peak resident memory of the process: %.1f MiB",
                    (long long)kv, (double)kv / 1048576.0, (long long)held, (long long)B,
                    (double)ru.ru_maxrss / 1024.0);
    }

    // finish: resample if asked, then every file is renamed into place
    if (audio) {
        for (int64_t b = 0; b < B && o.held; b++) {
            float *y = NULL;
            int64_t ny = 0;
            status = audio_resample(o.held + b * o.n_total, o.n_total, model_rate, out_rate, &y,
                                    &ny);
            if (status == 0 && ny < 1)
                status = ls_error(LS_ERR_RANGE, "%s: nothing left after resampling to %d Hz",
                                  names[b], out_rate);
            if (status == 0) status = audio_writer_write(o.writers[b], y, ny);
            free(y);
            if (status < 0) goto fail;
        }
        for (int64_t b = 0; b < B; b++) {
            AudioWriter *w = o.writers[b];
            o.writers[b] = NULL;
            if ((status = audio_writer_commit(w)) < 0) goto fail;
        }
    } else {
        status = write_fasta(&o, a.output);
    }
fail:
    for (int64_t b = 0; o.writers && b < o.B; b++) audio_writer_abort(o.writers[b]);
    free(o.writers);
    free(o.samples);
    free(o.held);
    free(o.tokens);
    for (int k = 0; k < n_names; k++) free(names[k]);
    free(names);
    free(prompt);
    free(prefix);
    checkpoint_close(&mf);
    return status < 0 ? cli_fail("generate", status) : EXIT_OK;
}
