/*
 * info.c — `longscan info FILE [REGION...]...`: describe sequence, audio and checkpoint files.
 *
 * Sequences (FASTA/FASTQ/SAM/BAM/CRAM): record count, total/min/median/max length, GC, N and
 * soft-masked fractions, from one streaming pass; lengths are kept in a histogram (exact
 * median without storing one number per read). Audio: rate, channels, frames, duration, peak
 * and RMS over all channels. Checkpoints: metadata and the tensor table. Human-readable by
 * default, `--tsv` for machines. Tested by tests/cli/test_cli.sh (tests/cli/info.tst).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "io/audio.h"
#include "io/dataset.h"
#include "io/detect.h"
#include "io/safetensors.h"
#include "io/seq.h"
#include "pipeline/cli.h"
#include "pipeline/commands.h"

enum {
    OPT_TSV = CLI_OPT_FIRST_COMMAND_OPTION,
    OPT_TYPE,
    OPT_MIN_MAPQ,
    OPT_REFERENCE,
    OPT_LABELS,
};

typedef struct {
    CommonOptions common;
    int           tsv;
    InputKind      kind;
    SeqReaderOptions seq;
    const char   *labels;   /* --labels TSV: summarise the inputs as a labelled dataset */
} InfoOptions;

static void usage(FILE *fp) {
    fprintf(fp,
"Usage: longscan info [options] FILE [REGION...] [FILE [REGION...]]...\n"
"\n"
"Describe sequence, audio and checkpoint files, one block (or TSV row) per file.\n"
"\n"
"  Sequences (FASTA/FASTQ plain, gzip or bgzip; SAM/BAM/CRAM): format, compression, record\n"
"    count, total/min/median/max length, GC fraction of A/C/G/T, N fraction (N and other\n"
"    IUPAC ambiguity codes), soft-masked (lower-case) fraction. Alignments also say how many\n"
"    records were read and how many the filters dropped: by flag (-f/-F), by MAPQ (-q), and\n"
"    for having no bases (SEQ '*', legal SAM; counted, never an error here).\n"
"  Audio (anything libsndfile reads: WAV, FLAC, OGG/Vorbis, MP3, AIFF, ...): format and\n"
"    encoding, sample rate, channels, frames, duration, peak and RMS (dBFS) over all\n"
"    channels. A float file holding NaN or Inf is an error naming the frame.\n"
"  Checkpoints (.safetensors): metadata and every tensor's name, dtype and shape.\n"
"\n"
"Regions follow samtools: 'chr2', 'chr2:1000-2000', 'chr2:1,000-' (1-based, inclusive),\n"
"given after the file they apply to or with -r. They need an index: .fai (+.gzi for bgzip)\n"
"for FASTA ('samtools faidx FILE'), .bai/.csi/.crai for alignments ('samtools index FILE').\n"
"FILE '-' reads standard input; pipes, FIFOs and <(...) work too, each read once (so no\n"
"stream may be named twice, and none with --labels unless --tsv).\n"
"\n"
"Options:\n"
"      --tsv              tab-separated output with a header line: one row per file for\n"
"                         sequences and audio, one row per tensor for checkpoints;\n"
"                         sequence rows end with records_seen, dropped_flag, dropped_mapq\n"
"                         and dropped_no_bases ('.' for audio)\n"
"  -r, --region REGION    region of the following files (repeatable; like a positional one)\n"
"      --type TYPE        auto (default: by content), seq, audio or checkpoint\n"
"  -q, --min-mapq N       alignments: skip reads with MAPQ below N (default 0)\n"
"  -f, --require-flags N  alignments: keep reads with all these FLAG bits (default 0)\n"
"  -F, --exclude-flags N  alignments: skip reads with any of these bits (default 0x900)\n"
"      --reference FASTA  reference (with its .fai): decodes CRAM (default: from the header\n"
"                         or REF_PATH) and SAM/BAM bases written '=' (same as the reference)\n"
"      --labels TSV       also summarise the inputs as a labelled dataset: examples and\n"
"                         lengths per label, from a `name<TAB>label` table (records of\n"
"                         sequence files, or audio files by path); with --tsv, only that table\n"
CLI_COMMON_HELP
"\n"
"Examples:\n"
"  longscan info examples/data/dna/*.fa.gz examples/data/audio/*\n"
"  longscan info ref.fa.gz chr2:1000-2000\n"
"  longscan info --tsv -q 20 reads.bam chr1:1-1000000\n"
"  longscan info model.safetensors\n"
"  longscan info --labels train.labels.tsv train.fa.gz\n");
}

// ---------------------------------------------------------------------------- formatting

/* "1,234,567" into buf. */
static const char *fmt_count(char *buf, size_t size, int64_t value) {
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", (long long)(value < 0 ? -value : value));
    size_t at = 0;
    if (value < 0 && at + 1 < size) buf[at++] = '-';
    for (int i = 0; i < n && at + 1 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0 && at + 1 < size) buf[at++] = ',';
        buf[at++] = digits[i];
    }
    buf[at] = '\0';
    return buf;
}

static double to_dbfs(double amplitude) {
    return amplitude > 0 ? 20.0 * log10(amplitude) : -INFINITY;
}

// ---------------------------------------------------------------------------- sequences

/* Exact length statistics: lengths below LENGTH_HIST_MAX are counted in a histogram, longer
 * ones (chromosomes, long reads) kept in a list; both are small whatever the record count. */
#define LENGTH_HIST_MAX 65536

typedef struct {
    int64_t  records, total, min, max;
    int64_t *hist;             /* (LENGTH_HIST_MAX) */
    int64_t *long_lengths;     /* lengths >= LENGTH_HIST_MAX */
    int64_t  n_long, cap_long;
    int64_t  bytes[256];       /* how often each letter occurs */
} SeqStats;

static int seq_stats_add_length(SeqStats *stats, int64_t len) {
    if (stats->records == 0 || len < stats->min) stats->min = len;
    if (len > stats->max) stats->max = len;
    stats->records++;
    stats->total += len;
    if (len < LENGTH_HIST_MAX) {
        stats->hist[len]++;
        return 0;
    }
    if (stats->n_long == stats->cap_long) {
        int64_t cap = stats->cap_long ? 2 * stats->cap_long : 64;
        int64_t *grown = realloc(stats->long_lengths, (size_t)cap * sizeof *grown);
        if (!grown) return ls_error(LS_ERR_NOMEM, "out of memory for record lengths");
        stats->long_lengths = grown;
        stats->cap_long = cap;
    }
    stats->long_lengths[stats->n_long++] = len;
    return 0;
}

static int compare_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The k-th smallest length (0-based). */
static int64_t seq_stats_kth(SeqStats *stats, int64_t k) {
    int64_t seen = 0;
    for (int64_t len = 0; len < LENGTH_HIST_MAX; len++) {
        seen += stats->hist[len];
        if (k < seen) return len;
    }
    return stats->long_lengths[k - seen];
}

/* Median as samtools/R do: mean of the two middle values for an even count. */
static double seq_stats_median(SeqStats *stats) {
    if (stats->records == 0) return 0;
    if (stats->n_long > 1)
        qsort(stats->long_lengths, (size_t)stats->n_long, sizeof(int64_t), compare_int64);
    int64_t mid = stats->records / 2;
    if (stats->records % 2) return (double)seq_stats_kth(stats, mid);
    return 0.5 * ((double)seq_stats_kth(stats, mid - 1) + (double)seq_stats_kth(stats, mid));
}

/* Letter histogram with four interleaved tables: independent increments keep the loop from
 * stalling on the same counter when runs of one base repeat. */
static void count_letters(int64_t bytes[256], const char *seq, int64_t n) {
    int64_t part[4][256] = {{0}};
    const unsigned char *s = (const unsigned char *)seq;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        part[0][s[i]]++;
        part[1][s[i + 1]]++;
        part[2][s[i + 2]]++;
        part[3][s[i + 3]]++;
    }
    for (; i < n; i++) part[0][s[i]]++;
    for (int c = 0; c < 256; c++) bytes[c] += part[0][c] + part[1][c] + part[2][c] + part[3][c];
}

static int64_t letters(const SeqStats *stats, const char *set) {
    int64_t n = 0;
    for (const char *c = set; *c; c++)
        n += stats->bytes[(unsigned char)*c] + stats->bytes[(unsigned char)tolower(*c)];
    return n;
}

static int info_seq(InputFile *in, const char *region, const InfoOptions *opt, FILE *out) {
    const char *path = input_path(in);
    int status = 0;
    SeqReader *reader = NULL;
    SeqRecord rec = {0};
    SeqStats stats = {0};
    SeqReaderOptions seq_opt = opt->seq;
    seq_opt.region = region;

    stats.hist = calloc(LENGTH_HIST_MAX, sizeof *stats.hist);
    if (!stats.hist) {
        status = ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    status = seq_reader_open_input(&reader, in, &seq_opt);
    if (status < 0) goto fail;
    int64_t got;
    while ((got = seq_reader_next(reader, &rec)) >= 0) {
        status = seq_stats_add_length(&stats, rec.len);
        if (status < 0) goto fail;
        count_letters(stats.bytes, rec.seq, rec.len);
    }
    if (got < -1) {
        status = (int)got;
        goto fail;
    }

    int64_t acgt = letters(&stats, "ACGTU");
    int64_t gc = letters(&stats, "GC");
    int64_t ambiguous = letters(&stats, "NRYSWKMBDHV");
    int64_t lower = 0;
    for (int c = 'a'; c <= 'z'; c++) lower += stats.bytes[c];
    double total = stats.total > 0 ? (double)stats.total : 1.0;
    double gc_fraction = acgt > 0 ? (double)gc / (double)acgt : 0.0;
    double median = seq_stats_median(&stats);
    SeqReaderCounts counts;
    seq_reader_counts(reader, &counts);
    SeqFormat seq_format = seq_reader_format(reader);
    int alignments = seq_format == SEQ_FORMAT_SAM || seq_format == SEQ_FORMAT_BAM ||
                     seq_format == SEQ_FORMAT_CRAM;
    const char *format = seq_format_name(seq_format);
    const char *compression = seq_compression_name(seq_reader_compression(reader));
    char name[4096];
    snprintf(name, sizeof name, "%s%s%s", path, region ? " " : "", region ? region : "");

    if (opt->tsv) {
        fprintf(out, "%s\tsequence\t%s\t%s\t%lld\t%lld\t%lld\t%.1f\t%lld\t%.6f\t%.6f\t%.6f"
                     "\t.\t.\t.\t.\t.\t.\t%lld\t%lld\t%lld\t%lld\n",
                name, format, compression, (long long)stats.records, (long long)stats.total,
                (long long)stats.min, median, (long long)stats.max, gc_fraction,
                (double)ambiguous / total, (double)lower / total, (long long)counts.seen,
                (long long)counts.dropped_flag, (long long)counts.dropped_mapq,
                (long long)counts.no_bases);
    } else {
        char a[32], b[32], c[32], d[32];
        fprintf(out, "%s\n", name);
        fprintf(out, "  format       %s (%s)\n", format, compression);
        fprintf(out, "  records      %s\n", fmt_count(a, sizeof a, stats.records));
        if (alignments) /* what the filters took, so counts can be matched with samtools */
            fprintf(out, "  read         %s alignment records\n"
                         "  dropped      %s by flag (-f 0x%x -F 0x%x), %s by MAPQ (-q %d), "
                         "%s without bases (SEQ '*')\n",
                    fmt_count(a, sizeof a, counts.seen),
                    fmt_count(b, sizeof b, counts.dropped_flag),
                    (unsigned)opt->seq.require_flags, (unsigned)opt->seq.exclude_flags,
                    fmt_count(c, sizeof c, counts.dropped_mapq), opt->seq.min_mapq,
                    fmt_count(d, sizeof d, counts.no_bases));
        fprintf(out, "  bases        %s total; min %s, median %s, max %s\n",
                fmt_count(a, sizeof a, stats.total), fmt_count(b, sizeof b, stats.min),
                median == floor(median) ? fmt_count(c, sizeof c, (int64_t)median)
                                        : (snprintf(c, sizeof c, "%.1f", median), c),
                fmt_count(d, sizeof d, stats.max));
        fprintf(out, "  GC           %.2f%% of A/C/G/T\n", 100.0 * gc_fraction);
        fprintf(out, "  N            %.2f%% (N and other ambiguity codes)\n",
                100.0 * (double)ambiguous / total);
        fprintf(out, "  soft-masked  %.2f%% (lower case)\n", 100.0 * (double)lower / total);
    }
fail:
    seq_record_free(&rec);
    seq_reader_close(reader);
    free(stats.hist);
    free(stats.long_lengths);
    return status;
}

// ---------------------------------------------------------------------------- audio

static int info_audio(InputFile *in, const InfoOptions *opt, FILE *out) {
    const char *path = input_path(in);
    enum { BLOCK_FRAMES = 65536 };
    int status = 0;
    AudioReader *reader = NULL;
    float *block = NULL;

    status = audio_reader_open_input(&reader, in);
    if (status < 0) goto fail;
    const AudioInfo *info = audio_reader_info(reader);
    block = malloc((size_t)BLOCK_FRAMES * (size_t)info->channels * sizeof *block);
    if (!block) {
        status = ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    double peak = 0, sum_squares = 0;
    int64_t frames = 0, got;
    while ((got = audio_reader_read_interleaved(reader, block, BLOCK_FRAMES)) > 0) {
        int64_t n = got * info->channels;
        for (int64_t i = 0; i < n; i++) {
            double x = block[i];
            double magnitude = fabs(x);
            if (magnitude > peak) peak = magnitude;
            sum_squares += x * x;
        }
        frames += got;
    }
    if (got < 0) {
        status = (int)got;
        goto fail;
    }
    double rms = frames > 0 ? sqrt(sum_squares / ((double)frames * info->channels)) : 0.0;
    double duration = (double)frames / info->sample_rate;

    if (opt->tsv) {
        fprintf(out, "%s\taudio\t%s\t%s\t.\t.\t.\t.\t.\t.\t.\t.\t%d\t%d\t%lld\t%.6f\t%.6f\t%.6f"
                     "\t.\t.\t.\t.\n",
                path, info->format, info->subtype, info->sample_rate, info->channels,
                (long long)frames, duration, peak, rms);
    } else {
        char a[32];
        fprintf(out, "%s\n", path);
        fprintf(out, "  format       %s (%s)\n", info->format, info->subtype);
        fprintf(out, "  sample rate  %d Hz\n", info->sample_rate);
        fprintf(out, "  channels     %d\n", info->channels);
        fprintf(out, "  frames       %s\n", fmt_count(a, sizeof a, frames));
        fprintf(out, "  duration     %.3f s\n", duration);
        fprintf(out, "  peak         %.6f (%.2f dBFS)\n", peak, to_dbfs(peak));
        fprintf(out, "  RMS          %.6f (%.2f dBFS)\n", rms, to_dbfs(rms));
    }
fail:
    free(block);
    audio_reader_close(reader);
    return status;
}

// ---------------------------------------------------------------------------- checkpoints

static void format_shape(char *buf, size_t size, const StTensor *t) {
    size_t at = 0;
    at += (size_t)snprintf(buf + at, size - at, "[");
    for (int d = 0; d < t->ndim && at < size; d++)
        at += (size_t)snprintf(buf + at, size - at, "%s%lld", d ? ", " : "",
                               (long long)t->shape[d]);
    if (at < size) snprintf(buf + at, size - at, "]");
}

static int info_checkpoint(InputFile *in, const InfoOptions *opt, FILE *out) {
    const char *path = input_path(in);
    StFile *file = NULL;
    /* st_open maps the file; opening a pipe again would wait for a writer that is gone */
    if (input_is_stream(in))
        return ls_error(LS_ERR_UNSUPPORTED, "%s: a checkpoint is read from a regular file, not "
                        "a stream", input_name(in));
    int status = st_open(&file, path);
    if (status < 0) return status;
    int64_t n = st_count(file);
    char shape[256];
    if (opt->tsv) {
        for (int64_t i = 0; i < n; i++) {
            const StTensor *t = st_tensor(file, i);
            format_shape(shape, sizeof shape, t);
            fprintf(out, "%s\t%s\t%s\t%s\t%lld\t%llu\n", path, t->name, st_dtype_name(t->dtype),
                    shape, (long long)t->numel, (unsigned long long)t->nbytes);
        }
    } else {
        int64_t numel = 0;
        uint64_t bytes = 0;
        size_t name_width = 4;
        for (int64_t i = 0; i < n; i++) {
            const StTensor *t = st_tensor(file, i);
            numel += t->numel;
            bytes += t->nbytes;
            if (strlen(t->name) > name_width) name_width = strlen(t->name);
        }
        char a[32], b[32];
        fprintf(out, "%s\n", path);
        fprintf(out, "  format       safetensors, %s tensors, %s elements, %s bytes of data\n",
                fmt_count(a, sizeof a, n), fmt_count(b, sizeof b, numel),
                fmt_count(shape, sizeof shape, (int64_t)bytes));
        int64_t n_meta = st_metadata_count(file);
        if (n_meta > 0) fprintf(out, "  metadata\n");
        for (int64_t i = 0; i < n_meta; i++)
            fprintf(out, "    %s = %s\n", st_metadata_key(file, i), st_metadata_value(file, i));
        fprintf(out, "  tensors\n");
        for (int64_t i = 0; i < n; i++) {
            const StTensor *t = st_tensor(file, i);
            format_shape(shape, sizeof shape, t);
            fprintf(out, "    %-*s  %-4s  %s\n", (int)name_width, t->name,
                    st_dtype_name(t->dtype), shape);
        }
    }
    st_close(file);
    return 0;
}

// ---------------------------------------------------------------------------- labelled datasets

/* Load every input as one dataset with labels from opt->labels and print per-label counts.
 * The same loader `train` uses, so a label table that train would reject fails here too. */
static int info_labels(char **paths, int n_paths, const InfoOptions *opt, FILE *out) {
    Dataset *ds = NULL;
    int64_t *count = NULL, *total = NULL, *min = NULL, *max = NULL;
    DatasetOptions ds_opt;
    dataset_options_default(&ds_opt);
    ds_opt.seq = opt->seq;
    ds_opt.labels = DATASET_LABELS_OPTIONAL;
    int status = dataset_init(&ds, &ds_opt);
    if (status < 0) goto fail;
    status = dataset_read_labels(ds, opt->labels);
    if (status < 0) goto fail;
    for (int i = 0; i < n_paths; i++) {
        status = dataset_add(ds, paths[i], NULL, SPLIT_NONE);
        if (status < 0) goto fail;
    }
    status = dataset_finish(ds, NULL);
    if (status < 0) goto fail;
    const LabelMap *map = dataset_labels(ds);
    int32_t n_labels = label_map_count(map);
    size_t slots = (size_t)n_labels + 1; /* the last one counts unlabelled examples */
    count = calloc(slots, sizeof *count);
    total = calloc(slots, sizeof *total);
    min = calloc(slots, sizeof *min);
    max = calloc(slots, sizeof *max);
    if (!count || !total || !min || !max) {
        status = ls_error(LS_ERR_NOMEM, "%s: out of memory", opt->labels);
        goto fail;
    }
    for (int64_t i = 0; i < dataset_count(ds); i++) {
        const Example *ex = dataset_example(ds, i);
        int32_t k = ex->label >= 0 ? ex->label : n_labels;
        if (count[k] == 0 || ex->length < min[k]) min[k] = ex->length;
        if (ex->length > max[k]) max[k] = ex->length;
        count[k]++;
        total[k] += ex->length;
    }
    const char *unit = dataset_kind(ds) == EXAMPLE_AUDIO ? "samples" : "bases";
    if (opt->tsv) {
        fprintf(out, "#label\texamples\ttotal_%s\tmin_length\tmax_length\n", unit);
    } else {
        fprintf(out, "labels from %s\n", opt->labels);
        fprintf(out, "  %-16s %10s %14s %10s %10s\n", "label", "examples", unit, "min", "max");
    }
    for (int32_t k = 0; k <= n_labels; k++) {
        if (k == n_labels && count[k] == 0) break;
        const char *name = k < n_labels ? label_map_name(map, k) : "(unlabelled)";
        if (opt->tsv)
            fprintf(out, "%s\t%lld\t%lld\t%lld\t%lld\n", name, (long long)count[k],
                    (long long)total[k], (long long)min[k], (long long)max[k]);
        else
            fprintf(out, "  %-16s %10lld %14lld %10lld %10lld\n", name, (long long)count[k],
                    (long long)total[k], (long long)min[k], (long long)max[k]);
    }
fail:
    free(count);
    free(total);
    free(min);
    free(max);
    dataset_free(ds);
    return status;
}

// ---------------------------------------------------------------------------- dispatch

/* @p in was opened by the first pass; opt->kind is its kind (detected or --type). */
static int info_file(InputFile *in, const char *region, const InfoOptions *opt, FILE *out) {
    if (region && opt->kind != INPUT_KIND_SEQ)
        return ls_error(LS_ERR_USAGE, "%s: region '%s' given for a file that is not a sequence "
                                      "file", input_path(in), region);
    switch (opt->kind) {
    case INPUT_KIND_AUDIO:      return info_audio(in, opt, out);
    case INPUT_KIND_CHECKPOINT: return info_checkpoint(in, opt, out);
    default:                    return info_seq(in, region, opt, out);
    }
}

/* A positional argument after a sequence file is a region of it when no such path exists and
 * it reads like one (no '/', no file-name suffix); anything else is the next file. */
static int looks_like_region(const char *arg) {
    static const char *const file_suffixes[] = {
        ".fa", ".fasta", ".fna", ".fq", ".fastq", ".gz", ".bgz", ".bz2", ".sam", ".bam",
        ".cram", ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc",
        ".au", ".snd", ".caf", ".w64", ".rf64", ".wv", ".safetensors"};
    struct stat st;
    if (strcmp(arg, "-") == 0 || strchr(arg, '/') || stat(arg, &st) == 0) return 0;
    size_t len = strlen(arg);
    for (size_t i = 0; i < sizeof file_suffixes / sizeof file_suffixes[0]; i++) {
        size_t n = strlen(file_suffixes[i]);
        if (len > n && strcasecmp(arg + len - n, file_suffixes[i]) == 0) return 0;
    }
    return arg[0] != '\0';
}

static int parse_flags(const char *option, const char *text, uint32_t *out) {
    char *end;
    errno = 0;
    unsigned long value = strtoul(text, &end, 0);
    if (end == text || *end || errno || value > 0xffff)
        return ls_error(LS_ERR_USAGE, "%s %s: expected a FLAG value 0..0xffff", option, text);
    *out = (uint32_t)value;
    return 0;
}

int main_info(int argc, char **argv) {
    static const struct option long_options[] = {
        {"tsv", no_argument, NULL, OPT_TSV},
        {"type", required_argument, NULL, OPT_TYPE},
        {"region", required_argument, NULL, 'r'},
        {"min-mapq", required_argument, NULL, 'q'},
        {"require-flags", required_argument, NULL, 'f'},
        {"exclude-flags", required_argument, NULL, 'F'},
        {"reference", required_argument, NULL, OPT_REFERENCE},
        {"labels", required_argument, NULL, OPT_LABELS},
        CLI_COMMON_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    InfoOptions opt = {0};
    cli_common_default(&opt.common);
    seq_reader_options_default(&opt.seq);
    const char *option_region = NULL;
    int status = 0, c;
    OutputFile out = {0};
    InputKind *kinds = NULL;
    InputFile **inputs = NULL;
    int n_args = 0;
    FILE *labels_stream = NULL;
    char *labels_text = NULL;
    size_t labels_size = 0;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+r:q:f:F:o:h", long_options, NULL)) != -1) {
        status = cli_common_parse(c, optarg, &opt.common);
        if (status < 0) return cli_fail("info", status);
        if (status == 1) continue;
        status = 0;
        switch (c) {
        case 'h': usage(stdout); return EXIT_OK;
        case OPT_TSV: opt.tsv = 1; break;
        case OPT_TYPE:
            if (strcmp(optarg, "auto") == 0) opt.kind = INPUT_KIND_AUTO;
            else if (strcmp(optarg, "seq") == 0) opt.kind = INPUT_KIND_SEQ;
            else if (strcmp(optarg, "audio") == 0) opt.kind = INPUT_KIND_AUDIO;
            else if (strcmp(optarg, "checkpoint") == 0) opt.kind = INPUT_KIND_CHECKPOINT;
            else return cli_usage_error("info", "--type %s: expected auto, seq, audio or "
                                                "checkpoint", optarg);
            break;
        case 'r': option_region = optarg; break;
        case 'q': status = cli_parse_int("--min-mapq", optarg, 0, 255, &opt.seq.min_mapq); break;
        case 'f': status = parse_flags("--require-flags", optarg, &opt.seq.require_flags); break;
        case 'F': status = parse_flags("--exclude-flags", optarg, &opt.seq.exclude_flags); break;
        case OPT_REFERENCE: opt.seq.reference = optarg; break;
        case OPT_LABELS: opt.labels = optarg; break;
        default:
            return cli_usage_error("info", "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
        if (status < 0) return cli_fail("info", status);
    }
    if (optind >= argc) return cli_usage_error("info", "no input files");
    n_args = argc - optind;
    cli_common_apply(&opt.common);
    if (opt.common.device.kind != DEVICE_CPU)
        return cli_usage_error("info", "--device: info runs on the CPU only");

    status = cli_check_input_outputs(opt.common.output, argv + optind, argc - optind,
                                     opt.labels, opt.seq.reference);
    if (status == 0) status = cli_output_open(&out, opt.common.output);
    if (status < 0) return cli_fail("info", status);
    status = input_check_streams(argv + optind, n_args);
    if (status < 0) goto fail;

    if (opt.labels) {
        if (option_region) {
            status = ls_error(LS_ERR_USAGE, "--labels summarises whole inputs; give regions as "
                                            "FILE:REGION arguments instead of -r");
            goto fail;
        }
        if (!opt.tsv) {
            /* per-file blocks and the label table each read every input: a stream once */
            for (int i = 0; i < n_args; i++) {
                struct stat st;
                const char *arg = argv[optind + i];
                int is_stdin = strcmp(arg, "-") == 0;
                if ((is_stdin ? fstat(0, &st) : stat(arg, &st)) == 0 && !S_ISREG(st.st_mode) &&
                    !S_ISDIR(st.st_mode)) {
                    status = ls_error(LS_ERR_USAGE, "%s: --labels without --tsv reads every "
                                      "input twice, and a stream can be read once (add --tsv "
                                      "or give a file)", is_stdin ? "<stdin>" : arg);
                    goto fail;
                }
            }
            /* the label table comes after the per-file blocks, but is built first so that a
             * bad table fails the run before anything is printed */
            labels_stream = open_memstream(&labels_text, &labels_size);
            if (!labels_stream) {
                status = ls_error(LS_ERR_NOMEM, "out of memory");
                goto fail;
            }
            fputc('\n', labels_stream);
            status = info_labels(argv + optind, argc - optind, &opt, labels_stream);
            fclose(labels_stream);
            labels_stream = NULL;
            if (status < 0) goto fail;
        } else {
            status = info_labels(argv + optind, argc - optind, &opt, out.fp);
            if (status < 0) goto fail;
            goto done;
        }
    }

    /* First pass: what each argument is (a file, or a region of the file before it), so
     * that a mistake in the last argument stops the run before anything is printed. */
    kinds = calloc((size_t)n_args, sizeof *kinds);
    inputs = calloc((size_t)n_args, sizeof *inputs);
    if (!kinds || !inputs) {
        status = ls_error(LS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    int n_checkpoints = 0, n_others = 0, last_file = -1;
    for (int i = 0; i < n_args; i++) {
        const char *arg = argv[optind + i];
        if (last_file >= 0 && looks_like_region(arg)) {
            kinds[i] = INPUT_KIND_AUTO; /* a region of the last file */
            if (kinds[last_file] != INPUT_KIND_SEQ) {
                status = ls_error(LS_ERR_USAGE, "%s: no such file, and not a region of %s, "
                                                "which is not a sequence file", arg,
                                  argv[optind + last_file]);
                goto fail;
            }
            continue;
        }
        last_file = i;
        /* opened once here: a stream keeps its handle (and first bytes) for the second pass */
        status = input_open(&inputs[i], arg);
        if (status < 0) goto fail;
        kinds[i] = opt.kind != INPUT_KIND_AUTO ? opt.kind : input_kind(inputs[i]);
        if (option_region && kinds[i] != INPUT_KIND_SEQ) {
            status = ls_error(LS_ERR_USAGE, "%s: region '%s' given for a file that is not a "
                                            "sequence file", arg, option_region);
            goto fail;
        }
        if (kinds[i] == INPUT_KIND_CHECKPOINT) n_checkpoints++;
        else n_others++;
    }
    /* checkpoints list tensors, the others one row per file: one table each, not mixed */
    if (opt.tsv && n_checkpoints > 0 && n_others > 0) {
        status = ls_error(LS_ERR_USAGE, "--tsv cannot mix checkpoints with sequence or audio "
                                        "files in one table; run them separately");
        goto fail;
    }
    if (opt.tsv && n_checkpoints > 0)
        fputs("#file\ttensor\tdtype\tshape\tnumel\tbytes\n", out.fp);
    else if (opt.tsv)
        fputs("#file\tkind\tformat\tencoding\trecords\ttotal_length\tmin_length"
              "\tmedian_length\tmax_length\tgc_fraction\tn_fraction\tsoftmasked_fraction"
              "\tsample_rate\tchannels\tframes\tduration_s\tpeak\trms"
              "\trecords_seen\tdropped_flag\tdropped_mapq\tdropped_no_bases\n", out.fp);

    int printed = 0;
    for (int i = 0; i < n_args; i++) {
        if (kinds[i] == INPUT_KIND_AUTO) continue; /* a region, handled with its file */
        InfoOptions file_opt = opt;
        file_opt.kind = kinds[i];
        int n_regions = 0;
        while (i + 1 + n_regions < n_args && kinds[i + 1 + n_regions] == INPUT_KIND_AUTO)
            n_regions++;
        for (int r = 0; r < (n_regions ? n_regions : 1); r++) {
            const char *region = n_regions ? argv[optind + i + 1 + r] : option_region;
            if (!opt.tsv && printed++) fputc('\n', out.fp);
            status = info_file(inputs[i], region, &file_opt, out.fp);
            if (status < 0) goto fail;
        }
        input_close(inputs[i]);
        inputs[i] = NULL;
    }
    free(kinds);
    kinds = NULL;
    free(inputs);
    inputs = NULL;
    if (labels_text) fputs(labels_text, out.fp);
done:
    free(labels_text);
    status = cli_output_commit(&out);
    if (status < 0) return cli_fail("info", status);
    return EXIT_OK;
fail:
    for (int i = 0; inputs && i < n_args; i++) input_close(inputs[i]);
    free(inputs);
    free(kinds);
    free(labels_text);
    cli_output_abort(&out);
    return cli_fail("info", status);
}
