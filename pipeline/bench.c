/*
 * bench.c — `longscan bench`: speed measurements (never part of the tests).
 *
 *   longscan bench io FILE...   read + encode throughput of the input path, one core:
 *                               sequences → tokens (bases/s), audio → mono floats (samples/s).
 *   longscan bench kernels      CUDA kernels on the anchors' workloads (bench_kernels.c).
 *
 * bench/io.sh runs the I/O benchmark over ../shared/data and records commit and machine with the
 * numbers; bench/NOTES.md records the kernel numbers and how they were taken.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "io/audio.h"
#include "io/detect.h"
#include "io/encode.h"
#include "io/seq.h"
#include "kernels/device.h"
#include "kernels/dtype.h"
#include "pipeline/bench_internal.h"
#include "pipeline/cli.h"
#include "pipeline/commands.h"

enum { OPT_REPEAT = CLI_OPT_FIRST_COMMAND_OPTION };

void bench_usage(FILE *fp) {
    fprintf(fp,
"Usage: longscan bench io [options] FILE...\n"
"       longscan bench kernels [options]\n"
"\n"
"Measure how fast longscan turns files into model input, on one core:\n"
"  sequence files: read, validate and encode every base to tokens (reported in bases/s and\n"
"                  MB/s of bases, 1 base = 1 byte);\n"
"  audio files:    decode and mix down to mono float samples (reported in samples/s).\n"
"Each file is processed --repeat times; the best wall-clock time is reported, as TSV:\n"
"  file  kind  units  count  best_seconds  million_units_per_s  MB_per_s\n"
"\n"
"Options:\n"
"      --repeat N         passes per file, best one reported (default 3)\n"
CLI_COMMON_HELP
"\n"
"bench kernels: time the CUDA kernels on the anchors' workloads (a CUDA build and a GPU):\n"
"  scan_fwd, scan_fwd_bwd   selective scan, batch 1, D = 1024, N = 16, z gate, D skip,\n"
"                           delta_bias, softplus; fp32 and bf16; L = 4K, 16K, 64K, 256K, 1M\n"
"  conv_fwd, conv_fwd_bwd   causal depthwise conv1d, batch 1, D = 1024, K = 4, bias, SiLU;\n"
"                           fp32 and bf16; L = 4K … 1M (no peer: of_copy is the measure;\n"
"                           1 / of_copy = times the bandwidth floor)\n"
"  attn_fwd, attn_fwd_bwd   attention, batch 1, 8 heads x 64, causal, bf16; L = 1K … 64K\n"
"Each row: median of --repeat event-timed calls after 2 warm-ups, the L2 flushed before each;\n"
"for the scan and the conv, GB/s of the compulsory bytes (inputs read once, outputs written\n"
"once) and that as a fraction of a device-to-device copy measured in the same run; for\n"
"attention, TFLOP/s as flash attention counts them (causal halves the forward's 4·L²·hd per\n"
"head; the backward is 2.5 forwards); with --peers, the peer's time for the same row and\n"
"speedup = peer / ours.\n"
"      --peers FILE       peer timings (JSON array of {peer, op, dtype, L, ms}, e.g.\n"
"                         ../shared/anchors/peers-h100.json)\n"
"      --csv FILE         also write the rows as CSV to FILE\n"
"      --json             print the rows as one JSON array instead of the table\n"
"      --max-len N        only rows with L <= N (default: all)\n"
"      --len N            only rows with L = N\n"
"      --workload NAME    only this workload (e.g. scan_fwd_bwd)\n"
"      --dtype T          only f32 or only bf16 rows\n"
"      --repeat N         timed calls per row for bench kernels (default 10, at least 10)\n"
"  (bench kernels uses --device cuda:N for the GPU; default cuda:0)\n"
"\n"
"The model benchmark ('bench model') arrives with issue 3.\n");
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One pass over a sequence file: bases read and encoded; *checksum keeps the work alive. */
static int bench_seq_pass(const char *path, int64_t *count, uint64_t *checksum) {
    SeqReader *reader = NULL;
    SeqRecord rec = {0};
    int status = seq_reader_open(&reader, path, NULL);
    if (status < 0) return status;
    int64_t got;
    *count = 0;
    while ((got = seq_reader_next(reader, &rec)) >= 0) {
        uint8_t *tokens = (uint8_t *)rec.seq;
        dna_encode(tokens, rec.seq, rec.len, DNA_SOFTMASK_UPPER);
        *count += rec.len;
        if (rec.len > 0) *checksum += tokens[rec.len / 2];
    }
    if (got < -1) status = (int)got;
    seq_record_free(&rec);
    seq_reader_close(reader);
    return status;
}

static int bench_audio_pass(const char *path, int64_t *count, uint64_t *checksum) {
    enum { BLOCK_FRAMES = 1 << 16 };
    AudioReader *reader = NULL;
    float *block = malloc(BLOCK_FRAMES * sizeof *block);
    if (!block) return ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
    int status = audio_reader_open(&reader, path);
    if (status < 0) goto fail;
    int64_t got;
    *count = 0;
    while ((got = audio_reader_read_mono(reader, block, BLOCK_FRAMES)) > 0) {
        *count += got;
        *checksum += (uint64_t)(fabsf(block[got / 2]) * 1000.0f);
    }
    if (got < 0) status = (int)got;
fail:
    audio_reader_close(reader);
    free(block);
    return status;
}

static int bench_io(int argc, char **argv) {
    static const struct option long_options[] = {
        {"repeat", required_argument, NULL, OPT_REPEAT},
        CLI_COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    CommonOptions common;
    cli_common_default(&common);
    int repeat = 3, c, status;
    OutputFile out = {0};
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+o:h", long_options, NULL)) != -1) {
        status = cli_common_parse(c, optarg, &common);
        if (status < 0) return cli_fail("bench", status);
        if (status == 1) continue;
        switch (c) {
        case 'h': bench_usage(stdout); return EXIT_OK;
        case OPT_REPEAT:
            status = cli_parse_int("--repeat", optarg, 1, 1000, &repeat);
            if (status < 0) return cli_fail("bench", status);
            break;
        default:
            return cli_usage_error("bench", "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind >= argc) return cli_usage_error("bench", "bench io: no input files");
    cli_common_apply(&common);
    for (int i = optind; i < argc; i++) { /* each pass reopens the file: no streams */
        struct stat st;
        int is_stdin = strcmp(argv[i], "-") == 0;
        if ((is_stdin ? fstat(0, &st) : stat(argv[i], &st)) == 0 && !S_ISREG(st.st_mode) &&
            !S_ISDIR(st.st_mode)) {
            ls_error(LS_ERR_USAGE, "%s: bench io reads files again and again, and a stream "
                     "can be read once", argv[i]);
            return cli_fail("bench", LS_ERR_USAGE);
        }
    }
    status = cli_check_input_outputs(common.output, argv + optind, argc - optind, NULL, NULL);
    if (status == 0) status = cli_output_open(&out, common.output);
    if (status < 0) return cli_fail("bench", status);
    fputs("#file\tkind\tunits\tcount\tbest_seconds\tmillion_units_per_s\tMB_per_s\n", out.fp);
    uint64_t checksum = 0;
    for (int i = optind; i < argc; i++) {
        InputFile *in = NULL;
        status = input_open(&in, argv[i]);
        if (status < 0) goto fail;
        InputKind kind = input_kind(in);
        input_close(in);
        if (kind == INPUT_KIND_CHECKPOINT) {
            status = ls_error(LS_ERR_USAGE, "%s: bench io reads sequence and audio files",
                              argv[i]);
            goto fail;
        }
        double best = INFINITY;
        int64_t count = 0;
        for (int r = 0; r < repeat; r++) {
            double start = now_seconds();
            status = kind == INPUT_KIND_AUDIO ? bench_audio_pass(argv[i], &count, &checksum)
                                              : bench_seq_pass(argv[i], &count, &checksum);
            if (status < 0) goto fail;
            double elapsed = now_seconds() - start;
            if (elapsed < best) best = elapsed;
        }
        int audio = kind == INPUT_KIND_AUDIO;
        double rate = (double)count / best;
        fprintf(out.fp, "%s\t%s\t%s\t%lld\t%.4f\t%.1f\t%s", argv[i], input_kind_name(kind),
                audio ? "samples" : "bases", (long long)count, best, rate / 1e6,
                audio ? "." : "");
        if (!audio) fprintf(out.fp, "%.1f", rate / 1e6);
        fputc('\n', out.fp);
        fflush(out.fp);
    }
    (void)checksum;
    status = cli_output_commit(&out);
    if (status < 0) return cli_fail("bench", status);
    return EXIT_OK;
fail:
    cli_output_abort(&out);
    return cli_fail("bench", status);
}

int main_bench(int argc, char **argv) {
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        bench_usage(stdout);
        return EXIT_OK;
    }
    if (argc < 2) return cli_usage_error("bench", "which benchmark? 'io' or 'kernels' (see --help)");
    if (strcmp(argv[1], "io") == 0) return bench_io(argc - 1, argv + 1);
    if (strcmp(argv[1], "kernels") == 0) return bench_kernels(argc - 1, argv + 1);
    if (strcmp(argv[1], "model") == 0) {
        ls_error(LS_ERR_NOT_READY, "not available yet: 'bench %s' arrives with issue 3 "
                                   "(models and training)", argv[1]);
        return cli_fail("bench", LS_ERR_NOT_READY);
    }
    return cli_usage_error("bench", "unknown benchmark '%s'", argv[1]);
}
