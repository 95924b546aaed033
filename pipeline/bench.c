/*
 * bench.c — `longscan bench`: speed measurements (never part of the tests).
 *
 *   longscan bench io FILE...   read + encode throughput of the input path, one core:
 *                               sequences → tokens (bases/s), audio → mono floats (samples/s).
 *   longscan bench kernels      CUDA kernels on the anchors' workloads (../shared/anchors/
 *                               README.md): our time, fraction of the copy bandwidth measured
 *                               in the same run, and a peer's time from --peers.
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
#include "kernels/scan.h"
#include "pipeline/cli.h"
#include "pipeline/commands.h"

enum {
    OPT_REPEAT = CLI_OPT_FIRST_COMMAND_OPTION,
    OPT_PEERS,
    OPT_CSV,
    OPT_JSON,
    OPT_MAX_LEN,
    OPT_LEN,
    OPT_WORKLOAD,
    OPT_DTYPE,
};

static void usage(FILE *fp) {
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
"Each row: median of --repeat event-timed calls after 2 warm-ups, the L2 flushed before each;\n"
"GB/s of the compulsory bytes (inputs read once, outputs written once) and that as a\n"
"fraction of a device-to-device copy measured in the same run; with --peers, the peer's\n"
"time for the same row and speedup = peer / ours.\n"
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
        case 'h': usage(stdout); return EXIT_OK;
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

// ---------------------------------------------------------------------------------------------
// bench kernels

/*
 * Device buffers of the scan rows, allocated once for the longest L in fp32 sizes (bf16 rows use
 * the first half of each) and filled with random values of the row's dtype.
 */
typedef struct {
    int64_t L, D, N;
    void *act[12]; // u, delta, z, B, C, out, dout, du, ddelta, dz, dB, dC
    float *A, *Dsk, *bias, *ckpt, *dA, *dDsk, *dbias, *ws;
    size_t ws_bytes;
    int filled; // dtype the activations hold + 1; 0: none yet
} ScanBench;

enum { SB_U, SB_DELTA, SB_Z, SB_B, SB_C, SB_OUT, SB_DOUT, SB_DU, SB_DDELTA, SB_DZ, SB_DB, SB_DC };

static void scan_bench_free(ScanBench *sb) {
    for (int i = 0; i < 12; i++) device_cuda_free(sb->act[i]);
    float *f[] = {sb->A, sb->Dsk, sb->bias, sb->ckpt, sb->dA, sb->dDsk, sb->dbias, sb->ws};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) device_cuda_free(f[i]);
    memset(sb, 0, sizeof *sb);
}

static ScanArgs scan_bench_args(const ScanBench *sb, int64_t L, DType t) {
    ScanArgs a;
    scan_args_init(&a, 1, L, sb->D, sb->N);
    a.dtype = t;
    a.u = sb->act[SB_U], a.delta = sb->act[SB_DELTA], a.z = sb->act[SB_Z];
    a.B_ssm = sb->act[SB_B], a.C_ssm = sb->act[SB_C], a.out = sb->act[SB_OUT];
    a.A = sb->A, a.D_skip = sb->Dsk, a.delta_bias = sb->bias, a.ckpt = sb->ckpt;
    return a;
}

// Random values in [lo, hi) of type t in n elements of device memory: 16 Mi generated here,
// uploaded, then doubled by device-to-device copies (timing needs no more randomness).
static int fill_device(void *dst, int64_t n, DType t, float lo, float hi, uint64_t *rng) {
    const int64_t chunk = n < ((int64_t)1 << 24) ? n : ((int64_t)1 << 24);
    const size_t es = dtype_size(t);
    unsigned char *h = malloc((size_t)chunk * es);
    if (!h) return ls_error(LS_ERR_NOMEM, "bench kernels: out of host memory");
    for (int64_t i = 0; i < chunk; i++) {
        uint64_t z = (*rng += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        float v = lo + (hi - lo) * (float)((z >> 40) * (1.0 / 16777216.0));
        if (t == DTYPE_BF16) {
            uint16_t b = bf16_from_float(v);
            memcpy(h + i * 2, &b, 2);
        } else {
            memcpy(h + i * 4, &v, 4);
        }
    }
    int status = device_cuda_copy(dst, h, (size_t)chunk * es, DEVICE_COPY_H2D);
    free(h);
    for (int64_t have = chunk; status == 0 && have < n;) {
        int64_t m = have < n - have ? have : n - have;
        status = device_cuda_copy((char *)dst + have * es, dst, (size_t)m * es, DEVICE_COPY_D2D);
        have += m;
    }
    return status;
}

static int scan_bench_init(ScanBench *sb, int64_t L) {
    memset(sb, 0, sizeof *sb);
    sb->L = L, sb->D = 1024, sb->N = 16;
    const int64_t D = sb->D, N = sb->N;
    const char *hint = "lower --max-len";
    int status = 0;
    for (int i = 0; i < 12 && !status; i++) {
        const int64_t w = (i == SB_B || i == SB_C || i == SB_DB || i == SB_DC) ? N : D;
        status = device_cuda_alloc(&sb->act[i], (size_t)(L * w) * 4, hint);
    }
    ScanArgs a;
    scan_args_init(&a, 1, L, D, N);
    sb->ws_bytes = scan_bwd_workspace_size_cuda(&a);
    struct {
        float **p;
        int64_t n;
    } f[] = {{&sb->A, D * N},   {&sb->Dsk, D},  {&sb->bias, D},  {&sb->ckpt, scan_ckpt_numel(&a)},
             {&sb->dA, D * N}, {&sb->dDsk, D}, {&sb->dbias, D}, {&sb->ws, (int64_t)sb->ws_bytes / 4}};
    for (size_t i = 0; i < sizeof f / sizeof f[0] && !status; i++)
        status = device_cuda_alloc((void **)f[i].p, (size_t)f[i].n * 4, hint);
    if (status) return status;
    // parameters as a fresh Mamba layer has them: A = −(1..N), D = 1, dt = softplus(bias) spread
    // over [0.001, 0.1] (log-uniform across channels)
    float *hA = malloc((size_t)(D * N) * 4), *hD = malloc((size_t)D * 4), *hb = malloc((size_t)D * 4);
    float *zero = calloc((size_t)(D * N), 4);
    if (!hA || !hD || !hb || !zero) status = ls_error(LS_ERR_NOMEM, "bench kernels: host memory");
    for (int64_t d = 0; !status && d < D; d++) {
        for (int64_t n = 0; n < N; n++) hA[d * N + n] = -(float)(n + 1);
        hD[d] = 1.0f;
        double dt = exp(log(0.001) + (log(0.1) - log(0.001)) * (double)d / (double)(D - 1));
        hb[d] = (float)(dt + log(-expm1(-dt)));
    }
    if (!status) status = device_cuda_copy(sb->A, hA, (size_t)(D * N) * 4, DEVICE_COPY_H2D);
    if (!status) status = device_cuda_copy(sb->Dsk, hD, (size_t)D * 4, DEVICE_COPY_H2D);
    if (!status) status = device_cuda_copy(sb->bias, hb, (size_t)D * 4, DEVICE_COPY_H2D);
    if (!status) status = device_cuda_copy(sb->dA, zero, (size_t)(D * N) * 4, DEVICE_COPY_H2D);
    if (!status) status = device_cuda_copy(sb->dDsk, zero, (size_t)D * 4, DEVICE_COPY_H2D);
    if (!status) status = device_cuda_copy(sb->dbias, zero, (size_t)D * 4, DEVICE_COPY_H2D);
    free(hA), free(hD), free(hb), free(zero);
    return status;
}

static int scan_bench_fill(ScanBench *sb, DType t) {
    if (sb->filled == (int)t + 1) return 0;
    uint64_t rng = 20261207;
    static const float lo[12] = {-1, -1, -2, -1, -1, 0, -1, 0, 0, 0, 0, 0};
    static const float hi[12] = {1, 1, 2, 1, 1, 0, 1, 0, 0, 0, 0, 0};
    int status = 0;
    for (int i = 0; i < 12 && !status; i++) {
        const int64_t w = (i == SB_B || i == SB_C || i == SB_DB || i == SB_DC) ? sb->N : sb->D;
        status = fill_device(sb->act[i], sb->L * w, t, lo[i], hi[i], &rng);
    }
    if (!status) sb->filled = (int)t + 1;
    return status;
}

static int scan_bench_fwd(ScanBench *sb, int64_t L, DType t) {
    ScanArgs a = scan_bench_args(sb, L, t);
    return scan_fwd_cuda(&a);
}

static int scan_bench_fwd_bwd(ScanBench *sb, int64_t L, DType t) {
    ScanArgs a = scan_bench_args(sb, L, t);
    int status = scan_fwd_cuda(&a);
    if (status) return status;
    a.out = NULL;
    a.dout = sb->act[SB_DOUT];
    a.du = sb->act[SB_DU], a.ddelta = sb->act[SB_DDELTA], a.dz = sb->act[SB_DZ];
    a.dB_ssm = sb->act[SB_DB], a.dC_ssm = sb->act[SB_DC];
    a.dA = sb->dA, a.dD_skip = sb->dDsk, a.ddelta_bias = sb->dbias;
    a.workspace = sb->ws, a.workspace_bytes = sb->ws_bytes;
    return scan_bwd_cuda(&a);
}

// Compulsory bytes of the scan (anchors README "The floor"): forward reads u, delta, z, B, C and
// writes out; the backward reads u, delta, z, dout, B, C and writes du, ddelta, dz, dB, dC.
static double scan_bytes_fwd(const ScanBench *sb, int64_t L, DType t) {
    return (double)dtype_size(t) * (double)L * (double)(4 * sb->D + 2 * sb->N);
}
static double scan_bytes_fwd_bwd(const ScanBench *sb, int64_t L, DType t) {
    return scan_bytes_fwd(sb, L, t) +
           (double)dtype_size(t) * (double)L * (double)(7 * sb->D + 4 * sb->N);
}

/*
 * The workloads, one row per (workload, dtype, L). Conv and attention rows join here: a
 * workload names its peer op in the peers file, a run function (one call, queued on the
 * default stream) and its compulsory bytes.
 */
typedef struct {
    const char *name;    // the table's workload column
    const char *peer;    // peer in the peers file
    const char *peer_op; // its op name there
    int (*run)(ScanBench *, int64_t L, DType t);
    double (*bytes)(const ScanBench *, int64_t L, DType t);
} Workload;

static const Workload workloads[] = {
    {"scan_fwd", "mamba_ssm_cuda", "mamba1_scan_fwd", scan_bench_fwd, scan_bytes_fwd},
    {"scan_fwd_bwd", "mamba_ssm_cuda", "mamba1_scan_fwd_bwd", scan_bench_fwd_bwd,
     scan_bytes_fwd_bwd},
    // conv rows (causal conv1d fwd / fwd+bwd, D = 1024, L = 1M) and attention rows (8 heads × 64,
    // bf16, causal, L = 4K … 64K) go here with their own buffers.
};
static const int64_t scan_lengths[] = {4096, 16384, 65536, 262144, 1048576};

typedef struct {
    const char *workload;
    DType dtype;
    int64_t L;
    double ms, gbps, frac;
    const char *peer;
    double peer_ms; // < 0: none
} BenchRow;

static double peer_ms(const cJSON *peers, const char *peer, const char *op, DType t, int64_t L) {
    const char *dt = t == DTYPE_BF16 ? "bfloat16" : "float32";
    const cJSON *e;
    cJSON_ArrayForEach(e, peers) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "peer");
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(e, "op");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(e, "L");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "ms");
        if (cJSON_IsString(p) && cJSON_IsString(o) && cJSON_IsString(d) && cJSON_IsNumber(l) &&
            cJSON_IsNumber(m) && !strcmp(p->valuestring, peer) && !strcmp(o->valuestring, op) &&
            !strcmp(d->valuestring, dt) && (int64_t)l->valuedouble == L)
            return m->valuedouble;
    }
    return -1.0;
}

static int load_peers(const char *path, cJSON **out) {
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return ls_error(LS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    int status = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 65536;
            if (cap > ((size_t)64 << 20)) {
                status = ls_error(LS_ERR_FORMAT, "%s: larger than 64 MiB", path);
                break;
            }
            char *t = realloc(text, cap);
            if (!t) {
                status = ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            text = t;
        }
        size_t got = fread(text + len, 1, 4096, fp);
        len += got;
        if (got < 4096) break;
    }
    if (!status && ferror(fp)) status = ls_error(LS_ERR_IO, "%s: read error", path);
    fclose(fp);
    if (!status) {
        text[len] = '\0';
        cJSON *j = cJSON_Parse(text);
        if (!j || !cJSON_IsArray(j)) {
            const char *at = cJSON_GetErrorPtr();
            status = ls_error(LS_ERR_FORMAT, "%s:byte %lld: not a JSON array of peer rows", path,
                              (long long)(j || !at ? 0 : at - text));
            cJSON_Delete(j);
        } else {
            *out = j;
        }
    }
    free(text);
    return status;
}

static float median_f(float *v, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            float t = v[j];
            v[j] = v[j - 1], v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]);
}

enum { FLUSH_BYTES = 256 << 20, MAX_REPEAT = 1000 };

// Median of `repeat` event-timed runs of fn after 2 warm-ups, the L2 flushed before each.
static int time_median(DeviceTimer *timer, void *flush, int repeat, ScanBench *sb,
                       const Workload *w, int64_t L, DType t, double *ms_out) {
    float *ms = malloc((size_t)repeat * sizeof *ms);
    if (!ms) return ls_error(LS_ERR_NOMEM, "bench kernels: host memory");
    int status = 0;
    for (int r = -2; r < repeat && !status; r++) {
        float one = 0;
        status = device_cuda_memset(flush, r & 0xff, FLUSH_BYTES);
        if (!status) status = device_cuda_timer_start(timer, NULL);
        if (!status) status = w->run(sb, L, t);
        if (!status) status = device_cuda_timer_stop(timer, NULL, &one);
        if (!status && r >= 0) ms[r] = one;
    }
    if (!status) *ms_out = median_f(ms, repeat);
    free(ms);
    return status;
}

static int copy_bandwidth(DeviceTimer *timer, int repeat, double *gbps) {
    const size_t bytes = (size_t)1 << 30;
    void *a = NULL, *b = NULL;
    float *ms = malloc((size_t)repeat * sizeof *ms);
    int status = ms ? 0 : ls_error(LS_ERR_NOMEM, "bench kernels: host memory");
    if (!status) status = device_cuda_alloc(&a, bytes, "free GPU memory");
    if (!status) status = device_cuda_alloc(&b, bytes, "free GPU memory");
    if (!status) status = device_cuda_memset(a, 1, bytes);
    for (int r = -2; r < repeat && !status; r++) {
        float one = 0;
        status = device_cuda_timer_start(timer, NULL);
        if (!status) status = device_cuda_copy(b, a, bytes, DEVICE_COPY_D2D);
        if (!status) status = device_cuda_timer_stop(timer, NULL, &one);
        if (!status && r >= 0) ms[r] = one;
    }
    if (!status) *gbps = 2.0 * (double)bytes / (median_f(ms, repeat) * 1e-3) / 1e9;
    device_cuda_free(a);
    device_cuda_free(b);
    free(ms);
    return status;
}

static void print_row(FILE *fp, const BenchRow *r, int csv) {
    char peer[32] = "", ratio[32] = "";
    if (r->peer_ms >= 0) {
        snprintf(peer, sizeof peer, "%.3f", r->peer_ms);
        snprintf(ratio, sizeof ratio, "%.2f", r->peer_ms / r->ms);
    }
    if (csv)
        fprintf(fp, "%s,%s,%lld,%.4f,%.1f,%.3f,%s,%s,%s\n", r->workload, dtype_name(r->dtype),
                (long long)r->L, r->ms, r->gbps, r->frac, r->peer_ms >= 0 ? r->peer : "", peer,
                ratio);
    else
        fprintf(fp, "%-13s %-5s %9lld %10.3f %8.0f %7.1f%%  %-15s %9s %8s\n", r->workload,
                dtype_name(r->dtype), (long long)r->L, r->ms, r->gbps, 100.0 * r->frac,
                r->peer_ms >= 0 ? r->peer : "-", r->peer_ms >= 0 ? peer : "-",
                r->peer_ms >= 0 ? ratio : "-");
}

static int bench_kernels(int argc, char **argv) {
    static const struct option long_options[] = {
        {"repeat", required_argument, NULL, OPT_REPEAT},
        {"peers", required_argument, NULL, OPT_PEERS},
        {"csv", required_argument, NULL, OPT_CSV},
        {"json", no_argument, NULL, OPT_JSON},
        {"max-len", required_argument, NULL, OPT_MAX_LEN},
        {"len", required_argument, NULL, OPT_LEN},
        {"workload", required_argument, NULL, OPT_WORKLOAD},
        {"dtype", required_argument, NULL, OPT_DTYPE},
        CLI_COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    CommonOptions common;
    cli_common_default(&common);
    int repeat = 10, json = 0, c, status, ordinal = 0;
    int64_t max_len = INT64_MAX, only_len = 0;
    int dtypes = 3; // bit 0: f32, bit 1: bf16
    const char *peers_path = NULL, *csv_path = NULL, *only_workload = NULL;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+o:h", long_options, NULL)) != -1) {
        status = cli_common_parse(c, optarg, &common);
        if (status < 0) return cli_fail("bench", status);
        if (status == 1) continue;
        switch (c) {
        case 'h': usage(stdout); return EXIT_OK;
        case OPT_REPEAT:
            status = cli_parse_int("--repeat", optarg, 10, MAX_REPEAT, &repeat);
            if (status < 0) return cli_fail("bench", status);
            break;
        case OPT_PEERS: peers_path = optarg; break;
        case OPT_CSV: csv_path = optarg; break;
        case OPT_JSON: json = 1; break;
        case OPT_MAX_LEN:
            status = cli_parse_int64("--max-len", optarg, 1, INT64_MAX, &max_len);
            if (status < 0) return cli_fail("bench", status);
            break;
        case OPT_LEN:
            status = cli_parse_int64("--len", optarg, 1, INT64_MAX, &only_len);
            if (status < 0) return cli_fail("bench", status);
            break;
        case OPT_WORKLOAD: only_workload = optarg; break;
        case OPT_DTYPE:
            if (!strcmp(optarg, "f32")) dtypes = 1;
            else if (!strcmp(optarg, "bf16")) dtypes = 2;
            else return cli_usage_error("bench", "--dtype %s: must be f32 or bf16", optarg);
            break;
        default:
            return cli_usage_error("bench", "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_usage_error("bench", "bench kernels takes no file arguments");
    cli_common_apply(&common);
    if (common.device.kind == DEVICE_CUDA) ordinal = common.device.ordinal;

    cJSON *peers = NULL;
    ScanBench sb = {0};
    DeviceTimer *timer = NULL;
    void *flush = NULL;
    BenchRow *rows = NULL;
    OutputFile out = {0}, csv = {0};
    int nrows = 0, count = 0;
    char device[256];
    double copy_gbps = 0;
    int64_t longest = 0;

    status = device_cuda_count(&count);
    if (status == 0 && count <= ordinal)
        status = ls_error(LS_ERR_NO_CUDA, "no CUDA device %d (%d found)", ordinal, count);
    if (status < 0) {
        ls_error_prefix("kernels");
        goto fail;
    }
    if ((status = device_cuda_describe(ordinal, device, sizeof device)) < 0) goto fail;
    if (peers_path && (status = load_peers(peers_path, &peers)) < 0) goto fail;
    for (size_t i = 0; i < sizeof scan_lengths / sizeof scan_lengths[0]; i++)
        if (scan_lengths[i] <= max_len && (!only_len || scan_lengths[i] == only_len))
            longest = scan_lengths[i];
    if (longest == 0) {
        status = ls_error(LS_ERR_USAGE, "--max-len / --len: no row has such an L (the rows have "
                                        "L = 4096, 16384, 65536, 262144, 1048576)");
        goto fail;
    }
    if (only_workload) {
        int found = 0;
        for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
            found |= !strcmp(workloads[i].name, only_workload);
        if (!found) {
            status = ls_error(LS_ERR_USAGE, "--workload %s: no such workload (scan_fwd, "
                                            "scan_fwd_bwd)", only_workload);
            goto fail;
        }
    }
    if ((status = device_cuda_timer_init(&timer)) < 0) goto fail;
    if ((status = device_cuda_alloc(&flush, FLUSH_BYTES, "free GPU memory")) < 0) goto fail;
    if ((status = copy_bandwidth(timer, repeat, &copy_gbps)) < 0) goto fail;
    if ((status = scan_bench_init(&sb, longest)) < 0) goto fail;
    const int nw = (int)(sizeof workloads / sizeof workloads[0]);
    const int nl = (int)(sizeof scan_lengths / sizeof scan_lengths[0]);
    rows = calloc((size_t)(2 * nw * nl), sizeof *rows);
    if (!rows) {
        status = ls_error(LS_ERR_NOMEM, "bench kernels: host memory");
        goto fail;
    }
    for (int ti = 0; ti < 2; ti++) {
        const DType t = ti ? DTYPE_BF16 : DTYPE_F32;
        if (!(dtypes & (1 << ti))) continue;
        if ((status = scan_bench_fill(&sb, t)) < 0) goto fail;
        for (int wi = 0; wi < nw; wi++)
            for (int li = 0; li < nl; li++) {
                const int64_t L = scan_lengths[li];
                if (L > longest || (only_len && L != only_len)) continue;
                if (only_workload && strcmp(only_workload, workloads[wi].name)) continue;
                BenchRow *r = &rows[nrows];
                r->workload = workloads[wi].name, r->dtype = t, r->L = L;
                status = time_median(timer, flush, repeat, &sb, &workloads[wi], L, t, &r->ms);
                if (status < 0) goto fail;
                r->gbps = workloads[wi].bytes(&sb, L, t) / (r->ms * 1e-3) / 1e9;
                r->frac = r->gbps / copy_gbps;
                r->peer = workloads[wi].peer;
                r->peer_ms = peers ? peer_ms(peers, r->peer, workloads[wi].peer_op, t, L) : -1.0;
                nrows++;
            }
    }

    if ((status = cli_output_open(&out, common.output)) < 0) goto fail;
    if (json) {
        fputs("[\n", out.fp);
        for (int i = 0; i < nrows; i++) {
            const BenchRow *r = &rows[i];
            fprintf(out.fp,
                    "  {\"workload\": \"%s\", \"dtype\": \"%s\", \"L\": %lld, \"ms\": %.4f, "
                    "\"GBps\": %.1f, \"of_copy\": %.4f, \"copy_GBps\": %.1f, \"device\": \"%s\"",
                    r->workload, dtype_name(r->dtype), (long long)r->L, r->ms, r->gbps, r->frac,
                    copy_gbps, device);
            if (r->peer_ms >= 0)
                fprintf(out.fp, ", \"peer\": \"%s\", \"peer_ms\": %.4f, \"speedup\": %.3f", r->peer,
                        r->peer_ms, r->peer_ms / r->ms);
            fprintf(out.fp, "}%s\n", i + 1 < nrows ? "," : "");
        }
        fputs("]\n", out.fp);
    } else {
        fprintf(out.fp, "# longscan bench kernels: %s\n", device);
        fprintf(out.fp, "# device-to-device copy %.0f GB/s (read + write, 1 GiB); ms = median of "
                        "%d event-timed calls, L2 flushed\n", copy_gbps, repeat);
        fprintf(out.fp, "%-13s %-5s %9s %10s %8s %8s  %-15s %9s %8s\n", "workload", "dtype", "L",
                "ms", "GB/s", "of_copy", "peer", "peer_ms", "speedup");
        for (int i = 0; i < nrows; i++) print_row(out.fp, &rows[i], 0);
    }
    if ((status = cli_output_commit(&out)) < 0) goto fail;
    if (csv_path) {
        if ((status = cli_output_open(&csv, csv_path)) < 0) goto fail;
        fputs("workload,dtype,L,ms,GBps,of_copy,peer,peer_ms,speedup\n", csv.fp);
        for (int i = 0; i < nrows; i++) print_row(csv.fp, &rows[i], 1);
        if ((status = cli_output_commit(&csv)) < 0) goto fail;
    }
    status = 0;
fail:
    cli_output_abort(&out);
    cli_output_abort(&csv);
    free(rows);
    scan_bench_free(&sb);
    device_cuda_free(flush);
    device_cuda_timer_free(timer);
    cJSON_Delete(peers);
    return status ? cli_fail("bench", status) : EXIT_OK;
}

int main_bench(int argc, char **argv) {
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
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
