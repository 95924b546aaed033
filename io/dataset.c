/*
 * dataset.c — loading a Dataset (dataset.h): sources, directories, manifests, labels, splits.
 * Windows live in window.c, batches in batch.c, label maps and tables in labels.c.
 *
 * Memory plan. Records come from one SeqReader per source into one SeqRecord; each record's
 * base buffer is encoded to tokens in place and handed to the example (the record gets a NULL
 * buffer, which the reader regrows for the next record), then shrunk to its length. Audio
 * buffers from audio_load_mono are kept as they are. Strings that many examples share (the
 * source path, where a label came from) are stored once in ds->strings.
 *
 * Labels stay strings until dataset_finish(): each example notes the label text (interned in
 * ds->pending), where it came from (a string index and a line) and whether its name is a file
 * path, so finish can look the label table up, report unknown labels with their file and line,
 * and assign ids in sorted order once every label is known.
 *
 * Tested by tests/unit/test_dataset.c (fixtures in tests/data/dataset/).
 */
#include "io/dataset.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <htslib/khash.h>

#include "common/log.h"
#include "common/utf8.h"
#include "io/audio.h"
#include "io/detect.h"
#include "io/tsv_internal.h"

KHASH_MAP_INIT_STR(dsstr, int64_t)

typedef struct {
    int32_t pending;     /* label text (id in ds->pending), -1: none */
    int32_t origin;      /* where the label was given: index in ds->strings, -1 */
    int64_t line;        /* line in that file, 0 when not a line of a file */
    int8_t  whole_file;  /* the example is a whole file: its source is a path */
    int8_t  from_table;  /* the label came from the label table */
} ExampleInfo;

/* A label handed down while a source is loaded. */
typedef struct {
    const char *text;    /* NULL: none */
    int32_t     origin;  /* index in ds->strings */
    int64_t     line;
} LabelRef;

struct Dataset {
    DatasetOptions opt;
    Example       *examples;    /* (count) */
    ExampleInfo   *info;        /* (count) */
    int64_t        count, cap;
    char         **strings;     /* (n_strings) owned: sources, label origins */
    int64_t        n_strings, strings_cap;
    LabelMap      *pending;     /* label texts seen while loading */
    LabelMap      *labels;      /* the final map (empty before finish) */
    LabelTable    *table;       /* --labels */
    khash_t(dsstr) *files;      /* "dev:ino:region" of every file read → its string index */
    int            has_kind;
    ExampleKind    kind;
    char          *kind_source; /* first source, for "mixing DNA and audio" messages */
    int            sample_rate; /* audio rate of the examples, 0 until the first audio file */
    char          *rate_source;
    SynthTask    **tasks;       /* (n_tasks) synthetic tasks of dataset_add_synth, owned */
    int64_t        n_tasks;
    int64_t        vocab;       /* largest vocabulary among them */
    int            finished;
};

// ---------------------------------------------------------------------------- small helpers

void dataset_options_default(DatasetOptions *opt) {
    memset(opt, 0, sizeof *opt);
    opt->softmask = DNA_SOFTMASK_UPPER;
    opt->sample_rate = 0;
    seq_reader_options_default(&opt->seq);
    opt->labels = DATASET_LABELS_OPTIONAL;
    opt->skip_unlabelled = 0;
}

int dataset_init(Dataset **out, const DatasetOptions *opt) {
    *out = NULL;
    Dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return ls_error(LS_ERR_NOMEM, "dataset: out of memory");
    if (opt) ds->opt = *opt;
    else dataset_options_default(&ds->opt);
    ds->opt.seq.region = NULL;
    int status = label_map_init(&ds->pending);
    if (status == 0) status = label_map_init(&ds->labels);
    if (status == 0 && !(ds->files = kh_init(dsstr)))
        status = ls_error(LS_ERR_NOMEM, "dataset: out of memory");
    if (status < 0) {
        dataset_free(ds);
        return status;
    }
    *out = ds;
    return 0;
}

void dataset_free(Dataset *ds) {
    if (!ds) return;
    for (int64_t i = 0; i < ds->count; i++) {
        free((char *)ds->examples[i].name);
        free(ds->examples[i].tokens);
        free(ds->examples[i].samples);
    }
    free(ds->examples);
    free(ds->info);
    for (int64_t i = 0; i < ds->n_strings; i++) free(ds->strings[i]);
    free(ds->strings);
    label_map_free(ds->pending);
    label_map_free(ds->labels);
    label_table_free(ds->table);
    if (ds->files) {
        for (khint_t k = kh_begin(ds->files); k != kh_end(ds->files); k++)
            if (kh_exist(ds->files, k)) free((char *)kh_key(ds->files, k));
        kh_destroy(dsstr, ds->files);
    }
    free(ds->kind_source);
    free(ds->rate_source);
    for (int64_t i = 0; i < ds->n_tasks; i++) free(ds->tasks[i]);
    free(ds->tasks);
    free(ds);
}

/* Keep a copy of @p s; *index receives its index in ds->strings. */
static int ds_string(Dataset *ds, const char *s, int32_t *index) {
    if (ds->n_strings > 0 && strcmp(ds->strings[ds->n_strings - 1], s) == 0) {
        *index = (int32_t)(ds->n_strings - 1);
        return 0;
    }
    if (ds->n_strings == INT32_MAX) return ls_error(LS_ERR_RANGE, "dataset: too many sources");
    if (ds->n_strings == ds->strings_cap) {
        int64_t cap = ds->strings_cap ? ds->strings_cap * 2 : 64;
        char **p = realloc(ds->strings, (size_t)cap * sizeof *p);
        if (!p) return ls_error(LS_ERR_NOMEM, "dataset: out of memory");
        ds->strings = p;
        ds->strings_cap = cap;
    }
    char *copy = strdup(s);
    if (!copy) return ls_error(LS_ERR_NOMEM, "dataset: out of memory");
    ds->strings[ds->n_strings] = copy;
    *index = (int32_t)ds->n_strings++;
    return 0;
}

/* Append an example; on success the dataset owns ex->name, ex->tokens and ex->samples. */
static int ds_push(Dataset *ds, const Example *ex, const ExampleInfo *info) {
    if (ds->count == ds->cap) {
        int64_t cap = ds->cap ? ds->cap * 2 : 256;
        Example *e = realloc(ds->examples, (size_t)cap * sizeof *e);
        if (!e) return ls_error(LS_ERR_NOMEM, "dataset: out of memory");
        ds->examples = e;
        ExampleInfo *in = realloc(ds->info, (size_t)cap * sizeof *in);
        if (!in) return ls_error(LS_ERR_NOMEM, "dataset: out of memory");
        ds->info = in;
        ds->cap = cap;
    }
    ds->examples[ds->count] = *ex;
    ds->info[ds->count] = *info;
    ds->count++;
    return 0;
}

/* Names and labels end up as JSON text (the model's label map, embedding names), which must
 * be UTF-8: a byte that is not is refused here, when read, naming where it came from, rather
 * than when saving after the whole run. */
static int ds_check_text(const char *text, const char *where, const char *what) {
    size_t bad = utf8_check(text, strlen(text));
    if (bad == SIZE_MAX) return 0;
    char shown[160], place[512];
    if (where == text)   /* a file name that names its example: shown once */
        return ls_error(LS_ERR_FORMAT, "%s: the %s is not valid UTF-8 (byte 0x%02x at offset "
                        "%zu); names and labels are saved as UTF-8 text",
                        utf8_escape(place, sizeof place, where), what, (unsigned char)text[bad],
                        bad);
    if (!utf8_valid(where)) where = utf8_escape(place, sizeof place, where); /* a bad folder */
    return ls_error(LS_ERR_FORMAT, "%s: %s '%s' is not valid UTF-8 (byte 0x%02x at offset %zu); "
                    "names and labels are saved as UTF-8 text", where, what,
                    utf8_escape(shown, sizeof shown, text), (unsigned char)text[bad], bad);
}

/* The info of a new example with label @p lab. */
static int ds_info(Dataset *ds, const LabelRef *lab, int whole_file, ExampleInfo *info) {
    *info = (ExampleInfo){.pending = -1, .origin = -1, .whole_file = (int8_t)whole_file};
    if (!lab->text || ds->opt.labels == DATASET_LABELS_NONE) return 0;
    char where[512];
    if (lab->line > 0)
        snprintf(where, sizeof where, "%s:%lld", lab->origin >= 0 ? ds->strings[lab->origin]
                                                                  : "label", (long long)lab->line);
    else snprintf(where, sizeof where, "%s", lab->origin >= 0 ? ds->strings[lab->origin] : "label");
    int status = ds_check_text(lab->text, where, "label");
    if (status < 0) return status;
    status = label_map_add(ds->pending, lab->text, &info->pending);
    if (status < 0) return status;
    info->origin = lab->origin;
    info->line = lab->line;
    return 0;
}

static int ds_set_kind(Dataset *ds, ExampleKind kind, const char *shown) {
    if (!ds->has_kind) {
        ds->kind_source = strdup(shown);
        if (!ds->kind_source) return ls_error(LS_ERR_NOMEM, "dataset: out of memory");
        ds->has_kind = 1;
        ds->kind = kind;
        return 0;
    }
    if (ds->kind == kind) return 0;
    return ls_error(LS_ERR_USAGE, "%s: %s data, but the dataset already holds %s (from %s); "
                    "one dataset holds one kind of data", shown, dataset_kind_name(kind),
                    dataset_kind_name(ds->kind), ds->kind_source);
}

/* A file (with region) may enter the dataset once: doubling it would double its weight. */
static int ds_file_once(Dataset *ds, const char *path, const char *region, const char *shown) {
    struct stat st;
    int is_stdin = strcmp(path, "-") == 0; /* "-" twice, or "-" and /dev/stdin, is one stream */
    if ((is_stdin ? fstat(0, &st) : stat(path, &st)) != 0)
        return ls_error(LS_ERR_IO, "%s: %s", is_stdin ? "<stdin>" : shown, strerror(errno));
    char key_buf[96];
    int n = snprintf(key_buf, sizeof key_buf, "%llx:%llx:", (unsigned long long)st.st_dev,
                     (unsigned long long)st.st_ino);
    size_t rlen = region ? strlen(region) : 0;
    char *key = malloc((size_t)n + rlen + 1);
    if (!key) return ls_error(LS_ERR_NOMEM, "dataset: out of memory");
    memcpy(key, key_buf, (size_t)n);
    memcpy(key + n, region ? region : "", rlen + 1);
    khint_t k = kh_get(dsstr, ds->files, key);
    if (k != kh_end(ds->files)) {
        const char *first = ds->strings[kh_val(ds->files, k)];
        free(key);
        return ls_error(LS_ERR_USAGE, "%s: the same data is given twice (first as %s)", shown,
                        first);
    }
    int32_t index;
    int status = ds_string(ds, shown, &index);
    if (status < 0) {
        free(key);
        return status;
    }
    int ret;
    k = kh_put(dsstr, ds->files, key, &ret);
    if (ret < 0) {
        free(key);
        return ls_error(LS_ERR_NOMEM, "dataset: out of memory");
    }
    kh_val(ds->files, k) = index;
    return 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Files taken from directories, by extension (dataset.h lists them). */
static int is_data_file_name(const char *name) {
    static const char *const seq_ext[] = {".fa", ".fasta", ".fna", ".fas", ".ffn", ".fq",
                                          ".fastq"};
    static const char *const other_ext[] = {".sam", ".bam", ".cram", ".txt", ".wav", ".flac",
                                            ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff",
                                            ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64",
                                            ".wv"};
    char base[16];
    for (size_t i = 0; i < sizeof seq_ext / sizeof seq_ext[0]; i++) {
        if (ends_with(name, seq_ext[i])) return 1;
        snprintf(base, sizeof base, "%s.gz", seq_ext[i]);
        if (ends_with(name, base)) return 1;
        snprintf(base, sizeof base, "%s.bgz", seq_ext[i]);
        if (ends_with(name, base)) return 1;
    }
    for (size_t i = 0; i < sizeof other_ext / sizeof other_ext[0]; i++)
        if (ends_with(name, other_ext[i])) return 1;
    return 0;
}

/* "dir" + "/" + "name" without doubling a trailing slash. malloc'd or NULL. */
static char *path_join(const char *dir, const char *name) {
    size_t d = strlen(dir), n = strlen(name);
    int slash = d > 0 && dir[d - 1] != '/';
    char *p = malloc(d + (size_t)slash + n + 1);
    if (!p) return NULL;
    memcpy(p, dir, d);
    if (slash) p[d] = '/';
    memcpy(p + d + slash, name, n + 1);
    return p;
}

// ---------------------------------------------------------------------------- loaders

/* Sequence records of @p path (optionally a region or one record by name), read through
 * @p in when the caller has opened it (a stream must be), else opened by path. */
static int load_seq(Dataset *ds, InputFile *in, const char *path, const char *region,
                    const char *shown, const LabelRef *lab) {
    SeqReaderOptions so = ds->opt.seq;
    so.region = region;
    SeqReader *reader = NULL;
    SeqRecord rec = {0};
    int32_t source;
    int64_t kept = 0, got;
    int scan_for_name = 0;
    int stream = in && input_is_stream(in); /* never opened a second time */
    int status = ds_set_kind(ds, EXAMPLE_DNA, shown);
    if (status < 0) return status;
    status = ds_string(ds, shown, &source);
    if (status < 0) return status;
    status = in ? seq_reader_open_input(&reader, in, &so) : seq_reader_open(&reader, path, &so);
    /* "file.fa:name" on a file without an index: find the record by reading the file */
    if (status == LS_ERR_UNSUPPORTED && region && !strchr(region, ':') && !stream) {
        so.region = NULL;
        status = seq_reader_open(&reader, path, &so);
        scan_for_name = 1;
    }
    if (status < 0) goto fail;
    while ((got = seq_reader_next(reader, &rec)) >= 0) {
        if (scan_for_name && strcmp(rec.name, region) != 0) continue;
        char where[512];
        snprintf(where, sizeof where, "%s: record #%lld", shown, (long long)rec.index + 1);
        if ((status = ds_check_text(rec.name, where, "name")) < 0) goto fail;
        Example ex = {.source = ds->strings[source], .label = -1, .split = SPLIT_NONE,
                      .kind = EXAMPLE_DNA, .length = rec.len};
        ExampleInfo info;
        status = ds_info(ds, lab, 0, &info);
        if (status < 0) goto fail;
        char *name = strdup(rec.name);
        if (!name) {
            status = ls_error(LS_ERR_NOMEM, "%s: out of memory", shown);
            goto fail;
        }
        /* adopt the record's buffer: encode in place, shrink, give the record a fresh one */
        uint8_t *tokens = (uint8_t *)rec.seq;
        dna_encode(tokens, rec.seq, rec.len, ds->opt.softmask);
        rec.seq = NULL;
        rec.seq_cap = 0;
        uint8_t *shrunk = realloc(tokens, rec.len > 0 ? (size_t)rec.len : 1);
        if (shrunk) tokens = shrunk;
        ex.name = name;
        ex.tokens = tokens;
        status = ds_push(ds, &ex, &info);
        if (status < 0) {
            free(name);
            free(tokens);
            goto fail;
        }
        kept++;
        if (scan_for_name) break;
    }
    if (got < -1) {
        status = (int)got;
        goto fail;
    }
    SeqReaderCounts counts;
    seq_reader_counts(reader, &counts);
    if (kept == 0) {
        status = scan_for_name
                     ? ls_error(LS_ERR_NOT_FOUND, "%s: no record named '%s' in %s", shown, region,
                                path)
                 : counts.no_bases > 0
                     ? ls_error(LS_ERR_FORMAT, "%s: no records with bases (%lld without: SEQ "
                                "'*')", shown, (long long)counts.no_bases)
                     : ls_error(LS_ERR_FORMAT, "%s: no records", shown);
        goto fail;
    }
    if (counts.no_bases > 0) /* legal SAM, nothing to learn from: say how many, go on */
        ls_log_warn("%s: skipped %lld alignment record%s without bases (SEQ '*')", shown,
                    (long long)counts.no_bases, counts.no_bases == 1 ? "" : "s");
    status = 0;
fail:
    seq_record_free(&rec);
    seq_reader_close(reader);
    return status;
}

/* One audio file (opened as @p in), one example named @p shown. */
static int load_audio(Dataset *ds, InputFile *in, const char *path, const char *shown,
                      const LabelRef *lab) {
    float *samples = NULL;
    int64_t n = 0;
    AudioInfo info;
    int32_t source;
    int status = ds_check_text(shown, shown, "file name (it names the example)");
    if (status == 0) status = ds_set_kind(ds, EXAMPLE_AUDIO, shown);
    if (status < 0) return status;
    status = ds_string(ds, path, &source);
    if (status < 0) return status;
    status = audio_load_mono_input(in, ds->opt.sample_rate, &samples, &n, &info);
    if (status < 0) return status;
    int rate = ds->opt.sample_rate > 0 ? ds->opt.sample_rate : info.sample_rate;
    if (ds->sample_rate == 0) {
        ds->sample_rate = rate;
        ds->rate_source = strdup(shown);
        if (!ds->rate_source) {
            status = ls_error(LS_ERR_NOMEM, "dataset: out of memory");
            goto fail;
        }
    } else if (rate != ds->sample_rate) {
        status = ls_error(LS_ERR_FORMAT, "%s: sample rate %d Hz differs from %d Hz (%s); "
                          "choose one rate to resample every file to", shown, rate,
                          ds->sample_rate, ds->rate_source);
        goto fail;
    }
    ExampleInfo ei;
    status = ds_info(ds, lab, 1, &ei);
    if (status < 0) goto fail;
    Example ex = {.source = ds->strings[source], .label = -1, .split = SPLIT_NONE,
                  .kind = EXAMPLE_AUDIO, .length = n, .samples = samples};
    ex.name = strdup(shown);
    if (!ex.name) {
        status = ls_error(LS_ERR_NOMEM, "dataset: out of memory");
        goto fail;
    }
    status = ds_push(ds, &ex, &ei);
    if (status < 0) {
        free((char *)ex.name);
        goto fail;
    }
    return 0;
fail:
    free(samples);
    return status;
}

/*
 * A one-sequence text file (Genomic Benchmarks keeps each sequence in `<class>/<n>.txt`):
 * letters only, whitespace and line breaks ignored. A file that starts with '>' is FASTA.
 */
static int load_text(Dataset *ds, const char *path, const char *shown, const LabelRef *lab) {
    char *buf = NULL;
    int32_t source;
    int checked = ds_check_text(shown, shown, "file name (it names the example)");
    if (checked < 0) return checked;
    FILE *fp = fopen(path, "rb");
    if (!fp) return ls_error(LS_ERR_IO, "%s: %s", shown, strerror(errno));
    int status = 0;
    size_t cap = 4096, n = 0;
    int64_t line = 1, column = 0;
    int first = 1;
    buf = malloc(cap);
    if (!buf) {
        status = ls_error(LS_ERR_NOMEM, "%s: out of memory", shown);
        goto fail;
    }
    for (int c; (c = getc(fp)) != EOF;) {
        if (c == '\n') {
            line++;
            column = 0;
            continue;
        }
        column++;
        if (c == ' ' || c == '\t' || c == '\r') continue;
        if (first && c == '>') { /* FASTA after all */
            fclose(fp);
            free(buf);
            return load_seq(ds, NULL, path, NULL, path, lab);
        }
        first = 0;
        char ch = (char)c;
        if (dna_find_invalid(&ch, 1) == 0) {
            char shown_byte[8] = "";
            if (isprint(c)) snprintf(shown_byte, sizeof shown_byte, " ('%c')", c);
            status = ls_error(LS_ERR_FORMAT, "%s:%lld:%lld: byte 0x%02x%s is not a nucleotide "
                              "letter", shown, (long long)line, (long long)column, c, shown_byte);
            goto fail;
        }
        if (n == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) {
                status = ls_error(LS_ERR_NOMEM, "%s: out of memory", shown);
                goto fail;
            }
            buf = b;
        }
        buf[n++] = ch;
    }
    if (ferror(fp)) {
        status = ls_error(LS_ERR_IO, "%s: read failed", shown);
        goto fail;
    }
    if (n == 0) {
        status = ls_error(LS_ERR_FORMAT, "%s: no bases", shown);
        goto fail;
    }
    fclose(fp);
    fp = NULL;
    status = ds_set_kind(ds, EXAMPLE_DNA, shown);
    if (status == 0) status = ds_string(ds, path, &source);
    if (status < 0) goto fail;
    dna_encode((uint8_t *)buf, buf, (int64_t)n, ds->opt.softmask);
    char *shrunk = realloc(buf, n);
    if (shrunk) buf = shrunk;
    ExampleInfo info;
    status = ds_info(ds, lab, 1, &info);
    if (status < 0) goto fail;
    Example ex = {.source = ds->strings[source], .label = -1, .split = SPLIT_NONE,
                  .kind = EXAMPLE_DNA, .length = (int64_t)n, .tokens = (uint8_t *)buf};
    ex.name = strdup(shown);
    if (!ex.name) {
        status = ls_error(LS_ERR_NOMEM, "%s: out of memory", shown);
        goto fail;
    }
    status = ds_push(ds, &ex, &info);
    if (status < 0) {
        free((char *)ex.name);
        goto fail;
    }
    return 0;
fail:
    if (fp) fclose(fp);
    free(buf);
    return status;
}

/*
 * A data file (not a directory or manifest), with an optional region. @p source is the
 * resolved source (path[:region]) that examples and messages name; @p shown is the source as
 * written, which names whole-file examples.
 */
static int add_file(Dataset *ds, const char *path, const char *region, const char *source,
                    const char *shown, const LabelRef *lab) {
    int status = ds_file_once(ds, path, region, source);
    if (status < 0) return status;
    /* a regular .txt is a one-sequence text file; a stream is opened once, as what it holds */
    struct stat st;
    if (!region && ends_with(path, ".txt") && stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return load_text(ds, path, shown, lab);
    InputFile *in = NULL;
    status = input_open(&in, path);
    if (status < 0) return status;
    switch (input_kind(in)) {
    case INPUT_KIND_AUDIO:
        if (region)
            status = ls_error(LS_ERR_UNSUPPORTED, "%s: '%s' is an audio file, which takes no "
                              "region or record name", source, path);
        else
            status = load_audio(ds, in, path, shown, lab);
        break;
    case INPUT_KIND_CHECKPOINT:
        status = ls_error(LS_ERR_USAGE, "%s: is a checkpoint, not sequence or audio data",
                          source);
        break;
    default:
        status = load_seq(ds, in, path, region, source, lab);
        break;
    }
    input_close(in);
    return status;
}

// ---------------------------------------------------------------------------- directories

typedef struct {
    char **names;
    int64_t n, cap;
} NameList;

static void names_free(NameList *l) {
    for (int64_t i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The non-hidden entries of @p dir, sorted bytewise (the same order on every machine). */
static int list_dir(const char *dir, const char *shown, NameList *out) {
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return ls_error(LS_ERR_IO, "%s: %s", shown, strerror(errno));
    int status = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (out->n == out->cap) {
            int64_t cap = out->cap ? out->cap * 2 : 64;
            char **p = realloc(out->names, (size_t)cap * sizeof *p);
            if (!p) {
                status = ls_error(LS_ERR_NOMEM, "%s: out of memory", shown);
                break;
            }
            out->names = p;
            out->cap = cap;
        }
        if (!(out->names[out->n] = strdup(e->d_name))) {
            status = ls_error(LS_ERR_NOMEM, "%s: out of memory", shown);
            break;
        }
        out->n++;
    }
    closedir(d);
    if (status < 0) {
        names_free(out);
        return status;
    }
    if (out->n > 1) qsort(out->names, (size_t)out->n, sizeof *out->names, compare_names);
    return 0;
}

/* The data files among @p names (entries of @p dir, taken by extension), added with @p lab;
 * *n_files counts them. Sub-directories are skipped (the caller has dealt with them). */
static int add_dir_files(Dataset *ds, const char *dir, const char *shown, const LabelRef *lab,
                         const NameList *names, int64_t *n_files) {
    int status = 0;
    *n_files = 0;
    for (int64_t i = 0; i < names->n && status == 0; i++) {
        char *full = path_join(dir, names->names[i]);
        char *full_shown = path_join(shown, names->names[i]);
        struct stat st;
        if (!full || !full_shown) status = ls_error(LS_ERR_NOMEM, "%s: out of memory", shown);
        else if (stat(full, &st) != 0)
            status = ls_error(LS_ERR_IO, "%s: %s", full_shown, strerror(errno));
        else if (S_ISREG(st.st_mode) && is_data_file_name(names->names[i])) {
            status = add_file(ds, full, NULL, full, full_shown, lab);
            (*n_files)++;
        } else if (!S_ISDIR(st.st_mode)) {
            ls_log_debug("%s: not a sequence or audio file name; ignored", full_shown);
        }
        free(full);
        free(full_shown);
    }
    return status;
}

static int add_directory(Dataset *ds, const char *dir, const char *shown, const LabelRef *lab) {
    NameList names = {0}, sub = {0};
    int status = list_dir(dir, shown, &names);
    if (status < 0) return status;
    int64_t n_dirs = 0, n_data = 0;
    const char *first_data = NULL;
    for (int64_t i = 0; i < names.n; i++) {
        char *full = path_join(dir, names.names[i]);
        struct stat st;
        if (!full) {
            status = ls_error(LS_ERR_NOMEM, "%s: out of memory", shown);
            goto fail;
        }
        if (stat(full, &st) == 0) {
            if (S_ISDIR(st.st_mode)) n_dirs++;
            else if (S_ISREG(st.st_mode) && is_data_file_name(names.names[i])) {
                if (!first_data) first_data = names.names[i];
                n_data++;
            }
        }
        free(full);
    }
    if (n_dirs == 0) { /* a flat list of files */
        int64_t n_files;
        status = add_dir_files(ds, dir, shown, lab, &names, &n_files);
        if (status == 0 && n_files == 0)
            status = ls_error(LS_ERR_FORMAT, "%s: no sequence or audio files in the directory "
                              "(taken by extension: .fa, .fa.gz, .fq, .bam, .cram, .txt, .wav, "
                              ".flac, .ogg, …)", shown);
        goto fail;
    }
    if (n_data > 0) {
        status = ls_error(LS_ERR_FORMAT, "%s: holds both data files (%s) and sub-directories; "
                          "use one sub-directory per class, or files only", shown, first_data);
        goto fail;
    }
    if (lab->text) {
        status = ls_error(LS_ERR_USAGE, "%s: class sub-directories name their own labels; "
                          "no label '%s' can be given to the whole directory", shown, lab->text);
        goto fail;
    }
    /* class per sub-directory */
    for (int64_t i = 0; i < names.n && status == 0; i++) {
        char *full = path_join(dir, names.names[i]);
        char *full_shown = path_join(shown, names.names[i]);
        struct stat st;
        if (!full || !full_shown) status = ls_error(LS_ERR_NOMEM, "%s: out of memory", shown);
        else if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
            status = list_dir(full, full_shown, &sub);
            for (int64_t j = 0; j < sub.n && status == 0; j++) {
                char *inner = path_join(full, sub.names[j]);
                struct stat st2;
                if (!inner) status = ls_error(LS_ERR_NOMEM, "%s: out of memory", shown);
                else if (stat(inner, &st2) == 0 && S_ISDIR(st2.st_mode))
                    status = ls_error(LS_ERR_FORMAT, "%s/%s: a directory inside a class "
                                      "directory (one level of class directories only)",
                                      full_shown, sub.names[j]);
                free(inner);
            }
            LabelRef class_lab = {.text = names.names[i], .line = 0};
            if (status == 0) status = ds_string(ds, full_shown, &class_lab.origin);
            int64_t n_files = 0;
            if (status == 0)
                status = add_dir_files(ds, full, full_shown, &class_lab, &sub, &n_files);
            if (status == 0 && n_files == 0)
                status = ls_error(LS_ERR_FORMAT, "%s: empty class directory (no sequence or "
                                  "audio files)", full_shown);
            names_free(&sub);
        }
        free(full);
        free(full_shown);
    }
fail:
    names_free(&names);
    names_free(&sub);
    return status;
}

// ---------------------------------------------------------------------------- sources

/*
 * Split @p source into a path and an optional region by the ':' rule (dataset.h).
 * *st receives the path's stat. *path and *region are malloc'd (region may be NULL).
 */
static int resolve_source(const char *source, char **path, char **region, struct stat *st) {
    *path = *region = NULL;
    if (stat(source, st) == 0) {
        *path = strdup(source);
        return *path ? 0 : ls_error(LS_ERR_NOMEM, "%s: out of memory", source);
    }
    int saved = errno;
    for (const char *colon = strchr(source, ':'); colon; colon = strchr(colon + 1, ':')) {
        char *prefix = strndup(source, (size_t)(colon - source));
        if (!prefix) return ls_error(LS_ERR_NOMEM, "%s: out of memory", source);
        if (stat(prefix, st) == 0 && S_ISREG(st->st_mode)) {
            if (colon[1] == '\0') {
                free(prefix);
                return ls_error(LS_ERR_USAGE, "%s: empty region or record name after ':'",
                                source);
            }
            *region = strdup(colon + 1);
            if (!*region) {
                free(prefix);
                return ls_error(LS_ERR_NOMEM, "%s: out of memory", source);
            }
            *path = prefix;
            return 0;
        }
        free(prefix);
    }
    return ls_error(LS_ERR_IO, "%s: %s", source, strerror(saved));
}

static int add_manifest(Dataset *ds, const char *path, const LabelRef *lab, Split split);

/* Any source; @p shown is the source as written (names whole-file examples). */
static int add_source(Dataset *ds, const char *source, const char *shown, const LabelRef *lab,
                      Split split, int in_manifest) {
    int64_t first = ds->count;
    char *path = NULL, *region = NULL;
    struct stat st;
    int status = 0;
    if (strcmp(source, "-") == 0) {
        status = add_file(ds, "-", NULL, "-", "-", lab);
        goto fail;
    }
    status = resolve_source(source, &path, &region, &st);
    if (status < 0) {
        if (status == LS_ERR_IO && strcmp(source, shown) != 0)
            status = ls_error(LS_ERR_IO, "%s: %s (looked for %s)", shown, strerror(ENOENT),
                              source);
        goto fail;
    }
    if (!region && S_ISDIR(st.st_mode)) {
        status = add_directory(ds, path, shown, lab);
    } else if (!region && ends_with(path, ".tsv")) {
        if (in_manifest)
            status = ls_error(LS_ERR_USAGE, "%s: a manifest cannot list another manifest", shown);
        else
            status = add_manifest(ds, path, lab, split);
        first = ds->count; /* the manifest has set its examples' splits */
    } else if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode)) {
        status = ls_error(LS_ERR_IO, "%s: not a regular file", shown);
    } else {
        status = add_file(ds, path, region, source, shown, lab);
    }
fail:
    if (status == 0)
        for (int64_t i = first; i < ds->count; i++) ds->examples[i].split = (int8_t)split;
    free(path);
    free(region);
    return status;
}

/* The column layout of a manifest, from its '#' header or by position. */
typedef struct {
    int label_col;  /* -1: none */
    int split_col;  /* -1: none */
} ManifestColumns;

static void manifest_columns_from_header(char **fields, int n, ManifestColumns *c) {
    c->label_col = c->split_col = -1;
    for (int i = 1; i < n; i++)
        if (strcasecmp(fields[i], "split") == 0 && c->split_col < 0) c->split_col = i;
    for (int i = 1; i < n; i++)
        if (strcasecmp(fields[i], "label") == 0 && c->label_col < 0) c->label_col = i;
    for (int i = 1; i < n && c->label_col < 0; i++)
        if (strcasecmp(fields[i], "class") == 0) c->label_col = i;
    if (c->label_col < 0 && n > 1 && c->split_col != 1) c->label_col = 1;
}

static int add_manifest(Dataset *ds, const char *path, const LabelRef *outer, Split split) {
    TsvReader r = {0};
    khash_t(dsstr) *seen = kh_init(dsstr);
    char *dir = NULL, *joined = NULL;
    int32_t origin;
    int64_t n_sources = 0;
    int have_header = 0;
    ManifestColumns cols = {-1, -1};
    int status = seen ? 0 : ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
    if (status == 0) status = ds_string(ds, path, &origin);
    if (status == 0) status = tsv_open(&r, path);
    if (status < 0) goto fail;
    const char *slash = strrchr(path, '/');
    dir = strndup(path, slash ? (size_t)(slash - path) + 1 : 0);
    if (!dir) {
        status = ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    while ((status = tsv_next(&r)) > 0) {
        long long line = (long long)r.line_no;
        if (r.comment) {
            if (n_sources == 0 && !have_header) {
                manifest_columns_from_header(r.fields, r.n_fields, &cols);
                have_header = 1;
            }
            continue;
        }
        if (!have_header) {
            cols.label_col = r.n_fields > 1 ? 1 : -1;
            cols.split_col = r.n_fields > 2 ? 2 : -1;
        }
        const char *source = r.fields[0];
        if (!*source) {
            status = ls_error(LS_ERR_FORMAT, "%s:%lld: empty source in column 1", path, line);
            goto fail;
        }
        char where[512];
        snprintf(where, sizeof where, "%s:%lld", path, line);
        if ((status = ds_check_text(source, where, "source")) < 0 ||
            (cols.label_col >= 0 && cols.label_col < r.n_fields && !outer->text &&
             ds->opt.labels != DATASET_LABELS_NONE &&
             (status = ds_check_text(r.fields[cols.label_col], where, "label")) < 0))
            goto fail;
        LabelRef lab = *outer;
        if (cols.label_col >= 0) {
            if (cols.label_col >= r.n_fields) {
                status = ls_error(LS_ERR_FORMAT, "%s:%lld: no label column (column %d) for '%s'",
                                  path, line, cols.label_col + 1, source);
                goto fail;
            }
            if (!*r.fields[cols.label_col]) {
                status = ls_error(LS_ERR_FORMAT, "%s:%lld: empty label for '%s'", path, line,
                                  source);
                goto fail;
            }
            if (outer->text) {
                status = ls_error(LS_ERR_USAGE, "%s:%lld: the manifest gives labels, so no "
                                  "label '%s' can be given to all of it", path, line,
                                  outer->text);
                goto fail;
            }
            lab = (LabelRef){r.fields[cols.label_col], origin, r.line_no};
        }
        Split line_split = split;
        if (cols.split_col >= 0 && cols.split_col < r.n_fields && *r.fields[cols.split_col]) {
            if (dataset_split_parse(r.fields[cols.split_col], &line_split) < 0) {
                status = ls_error(LS_ERR_FORMAT, "%s:%lld: unknown split '%s' (expected train, "
                                  "valid or test)", path, line, r.fields[cols.split_col]);
                goto fail;
            }
        }
        khint_t k = kh_get(dsstr, seen, source);
        if (k != kh_end(seen)) {
            status = ls_error(LS_ERR_FORMAT, "%s:%lld: source '%s' listed twice (first on line "
                              "%lld)", path, line, source, (long long)kh_val(seen, k));
            goto fail;
        }
        char *key = strdup(source);
        int ret = -1;
        if (key) k = kh_put(dsstr, seen, key, &ret);
        if (ret < 0) {
            free(key);
            status = ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
            goto fail;
        }
        kh_val(seen, k) = r.line_no;
        free(joined);
        joined = source[0] == '/' ? strdup(source) : path_join(dir, source);
        if (!joined) {
            status = ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
            goto fail;
        }
        status = add_source(ds, joined, source, &lab, line_split, 1);
        if (status < 0) {
            ls_error_prefix("%s:%lld", path, line);
            goto fail;
        }
        n_sources++;
    }
    if (status < 0) goto fail;
    if (n_sources == 0) status = ls_error(LS_ERR_FORMAT, "%s: empty manifest (no sources)", path);
fail:
    tsv_close(&r);
    if (seen) {
        for (khint_t k = kh_begin(seen); k != kh_end(seen); k++)
            if (kh_exist(seen, k)) free((char *)kh_key(seen, k));
        kh_destroy(dsstr, seen);
    }
    free(dir);
    free(joined);
    return status;
}

int dataset_add(Dataset *ds, const char *source, const char *label, Split split) {
    if (ds->finished)
        return ls_error(LS_ERR_USAGE, "%s: the dataset is finished; add sources before "
                        "dataset_finish()", source);
    if (!source || !*source) return ls_error(LS_ERR_USAGE, "empty source name");
    if (label && !*label) return ls_error(LS_ERR_USAGE, "%s: empty label", source);
    LabelRef lab = {.text = label, .origin = -1, .line = 0};
    if (label) {
        int status = ds_string(ds, source, &lab.origin);
        if (status < 0) return status;
    }
    return add_source(ds, source, source, &lab, split, 0);
}

int dataset_add_class(Dataset *ds, const char *arg) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || eq[1] == '\0')
        return ls_error(LS_ERR_USAGE, "'%s': expected LABEL=SOURCE (e.g. promoter=a.fa)", arg);
    char *label = strndup(arg, (size_t)(eq - arg));
    if (!label) return ls_error(LS_ERR_NOMEM, "out of memory");
    int status = dataset_add(ds, eq + 1, label, SPLIT_NONE);
    free(label);
    return status;
}

/* Shared tail of the two in-memory adders: the example takes ownership of @p data. */
static int add_memory(Dataset *ds, const char *name, ExampleKind kind, void *data, int64_t n,
                      const char *label, Split split) {
    LabelRef lab = {.text = label, .origin = -1, .line = 0};
    ExampleInfo info;
    int32_t source;
    int status = ds_check_text(name, "<memory>", "name");
    if (status == 0) status = ds_set_kind(ds, kind, name);
    if (status == 0) status = ds_string(ds, "<memory>", &source);
    if (status == 0 && label) status = ds_string(ds, name, &lab.origin);
    if (status == 0) status = ds_info(ds, &lab, 0, &info);
    if (status < 0) {
        free(data);
        return status;
    }
    Example ex = {.source = ds->strings[source], .label = -1, .split = (int8_t)split,
                  .kind = (int8_t)kind, .length = n};
    if (kind == EXAMPLE_DNA) ex.tokens = data;
    else ex.samples = data;
    ex.name = strdup(name);
    if (!ex.name || (status = ds_push(ds, &ex, &info)) < 0) {
        free((char *)ex.name);
        free(data);
        return status < 0 ? status : ls_error(LS_ERR_NOMEM, "dataset: out of memory");
    }
    return 0;
}

int dataset_add_tokens(Dataset *ds, const char *name, const uint8_t *tokens, int64_t n,
                       const char *label, Split split) {
    if (ds->finished) return ls_error(LS_ERR_USAGE, "%s: the dataset is finished", name);
    if (n < 1) return ls_error(LS_ERR_RANGE, "%s: empty sequence", name);
    if (label && !*label) return ls_error(LS_ERR_USAGE, "%s: empty label", name);
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] >= DNA_VOCAB)
            return ls_error(LS_ERR_RANGE, "%s: token %d at %lld is not a DNA token (0..%d)", name,
                            tokens[i], (long long)i, DNA_VOCAB - 1);
    uint8_t *copy = malloc((size_t)n);
    if (!copy) return ls_error(LS_ERR_NOMEM, "%s: out of memory", name);
    memcpy(copy, tokens, (size_t)n);
    return add_memory(ds, name, EXAMPLE_DNA, copy, n, label, split);
}

int dataset_add_synth(Dataset *ds, const char *spec, Split split) {
    if (ds->finished) return ls_error(LS_ERR_USAGE, "%s: the dataset is finished", spec);
    SynthTask task;
    int status = synth_parse(&task, spec);
    if (status < 0) return status;
    int32_t source;
    if ((status = ds_set_kind(ds, EXAMPLE_SYNTH, spec)) < 0 ||
        (status = ds_string(ds, spec, &source)) < 0)
        return status;
    SynthTask **tasks = realloc(ds->tasks, (size_t)(ds->n_tasks + 1) * sizeof *tasks);
    if (!tasks) return ls_error(LS_ERR_NOMEM, "dataset: out of memory");
    ds->tasks = tasks;
    SynthTask *owned = malloc(sizeof *owned);
    if (!owned) return ls_error(LS_ERR_NOMEM, "dataset: out of memory");
    *owned = task;
    ds->tasks[ds->n_tasks++] = owned;
    if (task.vocab > ds->vocab) ds->vocab = task.vocab;
    LabelRef lab = {.text = NULL, .origin = -1, .line = 0};
    for (int64_t i = 0; i < task.n; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s_s%llu_%lld", synth_kind_name(task.kind),
                 (unsigned long long)task.seed, (long long)i);
        ExampleInfo info;
        if ((status = ds_info(ds, &lab, 0, &info)) < 0) return status;
        Example ex = {.source = ds->strings[source], .label = -1, .split = (int8_t)split,
                      .kind = EXAMPLE_SYNTH, .length = task.len, .synth = owned,
                      .synth_index = i};
        ex.name = strdup(name);
        if (!ex.name) return ls_error(LS_ERR_NOMEM, "dataset: out of memory");
        if ((status = ds_push(ds, &ex, &info)) < 0) {
            free((char *)ex.name);
            return status;
        }
    }
    return 0;
}

int dataset_add_samples(Dataset *ds, const char *name, const float *samples, int64_t n,
                        int sample_rate, const char *label, Split split) {
    if (ds->finished) return ls_error(LS_ERR_USAGE, "%s: the dataset is finished", name);
    if (n < 1) return ls_error(LS_ERR_RANGE, "%s: no samples", name);
    if (sample_rate <= 0) return ls_error(LS_ERR_RANGE, "%s: sample rate %d", name, sample_rate);
    if (label && !*label) return ls_error(LS_ERR_USAGE, "%s: empty label", name);
    if (ds->sample_rate && sample_rate != ds->sample_rate)
        return ls_error(LS_ERR_FORMAT, "%s: sample rate %d Hz differs from %d Hz (%s)", name,
                        sample_rate, ds->sample_rate, ds->rate_source);
    float *copy = malloc((size_t)n * sizeof *copy);
    if (!copy) return ls_error(LS_ERR_NOMEM, "%s: out of memory", name);
    memcpy(copy, samples, (size_t)n * sizeof *copy);
    int64_t before = ds->count;
    int status = add_memory(ds, name, EXAMPLE_AUDIO, copy, n, label, split);
    if (status == 0 && ds->sample_rate == 0 && ds->count > before) {
        ds->sample_rate = sample_rate;
        ds->rate_source = strdup(name);
        if (!ds->rate_source) return ls_error(LS_ERR_NOMEM, "dataset: out of memory");
    }
    return status;
}

int dataset_read_labels(Dataset *ds, const char *path) {
    if (ds->table)
        return ls_error(LS_ERR_USAGE, "%s: a label table (%s) was already given", path,
                        label_table_path(ds->table));
    if (ds->finished)
        return ls_error(LS_ERR_USAGE, "%s: the dataset is finished", path);
    return label_table_read(&ds->table, path);
}

// ---------------------------------------------------------------------------- finish

/* Labels from the table for examples without one of their own. */
static int finish_table_lookups(Dataset *ds) {
    LabelTable *t = ds->table;
    int32_t origin;
    int status = ds_string(ds, label_table_path(t), &origin);
    if (status < 0) return status;
    khash_t(dsstr) *names = kh_init(dsstr);
    if (!names) return ls_error(LS_ERR_NOMEM, "dataset: out of memory");
    for (int64_t i = 0; i < ds->count && status == 0; i++) {
        ExampleInfo *in = &ds->info[i];
        const Example *ex = &ds->examples[i];
        if (in->pending >= 0) continue;
        int64_t line = 0;
        const char *label = label_table_lookup(t, ex->name, &line);
        if (!label && in->whole_file) label = label_table_lookup_file(t, ex->source, &line);
        if (!label) continue;
        LabelRef lab = {label, origin, line};
        status = ds_info(ds, &lab, in->whole_file, in);
        in->from_table = 1;
        /* names that take labels from the table must be unique */
        int ret;
        khint_t k = kh_put(dsstr, names, ex->name, &ret);
        if (ret < 0) status = ls_error(LS_ERR_NOMEM, "dataset: out of memory");
        else if (ret == 0) {
            const Example *other = &ds->examples[kh_val(names, k)];
            status = ls_error(LS_ERR_FORMAT, "%s: '%s' appears twice (also in %s), so %s "
                              "cannot label them apart; names must be unique", ex->source,
                              ex->name, other->source, label_table_path(t));
        } else kh_val(names, k) = i;
    }
    kh_destroy(dsstr, names); /* keys belong to the examples */
    if (status < 0) return status;
    const char *first_name;
    int64_t first_line;
    int64_t unused = label_table_unused(t, &first_name, &first_line);
    if (unused > 0)
        ls_log_warn("%s: %lld of %lld names match no example (first: '%s' on line %lld)",
                    label_table_path(t), (long long)unused, (long long)label_table_count(t),
                    first_name, (long long)first_line);
    return 0;
}

/* Examples without a label under DATASET_LABELS_REQUIRED: error, or drop them. */
static int finish_missing(Dataset *ds) {
    int64_t missing = 0, first = -1;
    for (int64_t i = 0; i < ds->count; i++)
        if (ds->info[i].pending < 0 && missing++ == 0) first = i;
    if (missing == 0) return 0;
    const Example *ex = &ds->examples[first];
    char why[512];
    if (ds->table)
        snprintf(why, sizeof why, "not in %s", label_table_path(ds->table));
    else
        snprintf(why, sizeof why, "no label table was given and its source has no label");
    if (!ds->opt.skip_unlabelled)
        return ls_error(LS_ERR_FORMAT, "%s: '%s' has no label (%s; %lld of %lld examples lack "
                        "one)", ex->source, ex->name, why, (long long)missing,
                        (long long)ds->count);
    ls_log_warn("%lld of %lld examples have no label and are left out (first: '%s' from %s; "
                "%s)", (long long)missing, (long long)ds->count, ex->name, ex->source, why);
    int64_t kept = 0;
    for (int64_t i = 0; i < ds->count; i++) {
        if (ds->info[i].pending < 0) {
            free((char *)ds->examples[i].name);
            free(ds->examples[i].tokens);
            free(ds->examples[i].samples);
            continue;
        }
        ds->examples[kept] = ds->examples[i];
        ds->info[kept] = ds->info[i];
        kept++;
    }
    ds->count = kept;
    if (kept == 0) return ls_error(LS_ERR_USAGE, "dataset: no labelled examples");
    return 0;
}

int dataset_finish(Dataset *ds, const LabelMap *fixed) {
    int status = 0;
    int32_t *remap = NULL;
    if (ds->finished) return ls_error(LS_ERR_USAGE, "dataset: finished twice");
    if (ds->count == 0) return ls_error(LS_ERR_USAGE, "dataset: no examples");
    label_map_free(ds->labels);
    ds->labels = NULL;
    if (fixed) status = label_map_copy(&ds->labels, fixed);
    else status = label_map_init(&ds->labels);
    if (status < 0) return status;
    if (ds->opt.labels == DATASET_LABELS_NONE) {
        for (int64_t i = 0; i < ds->count; i++) ds->examples[i].label = -1;
        ds->finished = 1;
        return 0;
    }
    if (ds->table) status = finish_table_lookups(ds);
    if (status == 0 && ds->opt.labels == DATASET_LABELS_REQUIRED) status = finish_missing(ds);
    if (status < 0) return status;

    if (fixed) {
        char known[512];
        for (int64_t i = 0; i < ds->count; i++) {
            const ExampleInfo *in = &ds->info[i];
            if (in->pending < 0) {
                ds->examples[i].label = -1;
                continue;
            }
            const char *text = label_map_name(ds->pending, in->pending);
            int32_t id = label_map_find(ds->labels, text);
            if (id < 0) {
                label_map_describe(ds->labels, known, sizeof known);
                const char *where = in->origin >= 0 ? ds->strings[in->origin]
                                                     : ds->examples[i].source;
                if (in->line > 0)
                    return ls_error(LS_ERR_FORMAT, "%s:%lld: unknown label '%s' (known labels: "
                                    "%s)", where, (long long)in->line, text, known);
                return ls_error(LS_ERR_FORMAT, "%s: unknown label '%s' (known labels: %s)", where,
                                text, known);
            }
            ds->examples[i].label = id;
        }
    } else {
        /* the labels actually used, then ids in sorted order */
        int32_t n_pending = label_map_count(ds->pending);
        remap = malloc((size_t)(n_pending ? n_pending : 1) * sizeof *remap);
        if (!remap) return ls_error(LS_ERR_NOMEM, "dataset: out of memory");
        for (int32_t j = 0; j < n_pending; j++) remap[j] = -1;
        for (int64_t i = 0; i < ds->count && status == 0; i++) {
            int32_t p = ds->info[i].pending;
            if (p >= 0 && remap[p] < 0)
                status = label_map_add(ds->labels, label_map_name(ds->pending, p), &remap[p]);
        }
        int32_t *order = NULL;
        if (status == 0) {
            order = malloc((size_t)(label_map_count(ds->labels) + 1) * sizeof *order);
            if (!order) status = ls_error(LS_ERR_NOMEM, "dataset: out of memory");
        }
        if (status == 0) status = label_map_sort(ds->labels, order);
        if (status == 0) {
            for (int64_t i = 0; i < ds->count; i++) {
                int32_t p = ds->info[i].pending;
                ds->examples[i].label = p >= 0 ? order[remap[p]] : -1;
            }
        }
        free(order);
        free(remap);
        if (status < 0) return status;
    }
    ds->finished = 1;
    return 0;
}

// ---------------------------------------------------------------------------- accessors

int64_t dataset_count(const Dataset *ds) { return ds->count; }
const Example *dataset_example(const Dataset *ds, int64_t i) { return &ds->examples[i]; }
const LabelMap *dataset_labels(const Dataset *ds) { return ds->labels; }
ExampleKind dataset_kind(const Dataset *ds) { return ds->has_kind ? ds->kind : EXAMPLE_DNA; }
/* The digest's step over @p n bytes: little-endian 8-byte words (the same digest on any
 * host), the tail zero-padded with its length in the top byte. */
static uint64_t digest_bytes(uint64_t h, const void *data, size_t n) {
    const uint64_t K = 0x9e3779b97f4a7c15ull;   /* odd: the multiply is a bijection */
    const unsigned char *p = data;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = 0;
        for (int k = 7; k >= 0; k--) w = (w << 8) | p[i + (size_t)k];
        h = (h ^ w) * K;
        h ^= h >> 29;
    }
    uint64_t w = (uint64_t)(n - i) << 56;
    for (size_t k = 0; i + k < n; k++) w |= (uint64_t)p[i + k] << (8 * k);
    h = (h ^ w) * K;
    return h ^ (h >> 29);
}

uint64_t dataset_digest(const Dataset *ds, const int64_t *idx, int64_t n, uint64_t seed) {
    uint64_t h = seed ^ 0x6c6f6e677363616eull;   /* "longscan" */
    int64_t count = idx ? n : ds->count;
    for (int64_t k = 0; k < count; k++) {
        const Example *ex = &ds->examples[idx ? idx[k] : k];
        const char *label = ex->label >= 0 ? label_map_name(ds->labels, ex->label) : NULL;
        unsigned char head[9];
        for (int b = 0; b < 8; b++) head[b] = (unsigned char)((uint64_t)ex->length >> (8 * b));
        head[8] = (unsigned char)ex->kind;
        h = digest_bytes(h, head, sizeof head);
        h = digest_bytes(h, label ? label : "", label ? strlen(label) : 0);
        if (ex->tokens) h = digest_bytes(h, ex->tokens, (size_t)ex->length);
        /* float samples as their bytes (host order: the hosts we run on are little-endian) */
        if (ex->samples) h = digest_bytes(h, ex->samples, (size_t)ex->length * sizeof(float));
    }
    return h;
}

const char *dataset_file_source(const Dataset *ds, const char *path) {
    struct stat st;
    if (!path || stat(path, &st) != 0) return NULL;
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix, "%llx:%llx:", (unsigned long long)st.st_dev,
                     (unsigned long long)st.st_ino);
    for (khint_t k = kh_begin(ds->files); k != kh_end(ds->files); k++)
        if (kh_exist(ds->files, k) && strncmp(kh_key(ds->files, k), prefix, (size_t)n) == 0)
            return ds->strings[kh_val(ds->files, k)];
    return NULL;
}

const char *dataset_kind_name(ExampleKind kind) {
    return kind == EXAMPLE_AUDIO ? "audio" : kind == EXAMPLE_SYNTH ? "synthetic tokens" : "DNA";
}
int64_t dataset_vocab(const Dataset *ds) { return ds->vocab; }
int dataset_sample_rate(const Dataset *ds) {
    return dataset_kind(ds) == EXAMPLE_AUDIO ? ds->sample_rate : 0;
}

void dataset_stats(const Dataset *ds, const int64_t *idx, int64_t n, DatasetStats *stats,
                   int64_t *label_counts) {
    memset(stats, 0, sizeof *stats);
    int32_t n_labels = label_map_count(ds->labels);
    if (label_counts)
        for (int32_t j = 0; j < n_labels; j++) label_counts[j] = 0;
    if (!idx) n = ds->count;
    for (int64_t k = 0; k < n; k++) {
        const Example *ex = &ds->examples[idx ? idx[k] : k];
        if (stats->count == 0 || ex->length < stats->min_length) stats->min_length = ex->length;
        if (ex->length > stats->max_length) stats->max_length = ex->length;
        stats->count++;
        stats->total += ex->length;
        if (ex->label < 0) stats->unlabelled++;
        else if (label_counts && ex->label < n_labels) label_counts[ex->label]++;
    }
}

// ---------------------------------------------------------------------------- splits

const char *dataset_split_name(Split split) {
    switch (split) {
    case SPLIT_TRAIN: return "train";
    case SPLIT_VALID: return "valid";
    case SPLIT_TEST:  return "test";
    default:          return "none";
    }
}

int dataset_split_parse(const char *text, Split *split) {
    static const struct {
        const char *name;
        Split split;
    } names[] = {{"train", SPLIT_TRAIN},      {"training", SPLIT_TRAIN}, {"valid", SPLIT_VALID},
                 {"val", SPLIT_VALID},        {"dev", SPLIT_VALID},
                 {"validation", SPLIT_VALID}, {"test", SPLIT_TEST}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(text, names[i].name) == 0) {
            *split = names[i].split;
            return 0;
        }
    }
    return LS_ERR_RANGE;
}

double dataset_split_hash(const char *name, uint64_t seed) {
    uint64_t h = rng_mix64(rng_hash_string(name) ^ rng_mix64(seed));
    return (double)(h >> 11) * 0x1.0p-53;
}

typedef struct {
    double  u;
    int64_t index;
    int32_t label;
} SplitKey;

static int compare_split_keys(const void *a, const void *b) {
    const SplitKey *x = a, *y = b;
    if (x->label != y->label) return x->label < y->label ? -1 : 1;
    if (x->u != y->u) return x->u < y->u ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

int dataset_assign_splits(Dataset *ds, const SplitOptions *opt) {
    if (!ds->finished) return ls_error(LS_ERR_USAGE, "dataset: assign splits after finishing");
    double v = opt->valid_fraction, t = opt->test_fraction;
    if (!(v >= 0 && t >= 0 && v + t <= 1))
        return ls_error(LS_ERR_USAGE, "split fractions valid %g and test %g must be >= 0 and add "
                        "up to at most 1", v, t);
    if (!opt->stratify) {
        for (int64_t i = 0; i < ds->count; i++) {
            Example *ex = &ds->examples[i];
            if (ex->split != SPLIT_NONE) continue;
            double u = dataset_split_hash(ex->name, opt->seed);
            ex->split = u < t ? SPLIT_TEST : u < t + v ? SPLIT_VALID : SPLIT_TRAIN;
        }
        return 0;
    }
    /* stratified: rank each label's unassigned examples by u */
    SplitKey *keys = malloc((size_t)(ds->count ? ds->count : 1) * sizeof *keys);
    if (!keys) return ls_error(LS_ERR_NOMEM, "dataset: out of memory");
    int64_t n = 0;
    for (int64_t i = 0; i < ds->count; i++) {
        const Example *ex = &ds->examples[i];
        if (ex->split == SPLIT_NONE)
            keys[n++] = (SplitKey){dataset_split_hash(ex->name, opt->seed), i, ex->label};
    }
    qsort(keys, (size_t)n, sizeof *keys, compare_split_keys);
    for (int64_t g = 0; g < n;) {
        int64_t end = g;
        while (end < n && keys[end].label == keys[g].label) end++;
        int64_t size = end - g;
        int64_t n_test = (int64_t)llround((double)size * t);
        int64_t n_valid = (int64_t)llround((double)size * v);
        if (n_test + n_valid > size) n_valid = size - n_test;
        for (int64_t k = 0; k < size; k++) {
            Split s = k < n_test ? SPLIT_TEST : k < n_test + n_valid ? SPLIT_VALID : SPLIT_TRAIN;
            ds->examples[keys[g + k].index].split = (int8_t)s;
        }
        g = end;
    }
    free(keys);
    return 0;
}

int dataset_split_indices(const Dataset *ds, Split split, int64_t **idx, int64_t *n) {
    *idx = NULL;
    *n = 0;
    int64_t count = 0;
    for (int64_t i = 0; i < ds->count; i++) count += ds->examples[i].split == split;
    if (count == 0) return 0;
    int64_t *out = malloc((size_t)count * sizeof *out);
    if (!out) return ls_error(LS_ERR_NOMEM, "dataset: out of memory");
    int64_t k = 0;
    for (int64_t i = 0; i < ds->count; i++)
        if (ds->examples[i].split == split) out[k++] = i;
    *idx = out;
    *n = count;
    return 0;
}

int dataset_items_whole(const Dataset *ds, const int64_t *idx, int64_t n, DatasetItem **items) {
    if (!idx) n = ds->count;
    *items = malloc((size_t)(n ? n : 1) * sizeof **items);
    if (!*items) return ls_error(LS_ERR_NOMEM, "dataset: out of memory");
    for (int64_t k = 0; k < n; k++) {
        int64_t i = idx ? idx[k] : k;
        (*items)[k] = (DatasetItem){i, 0, ds->examples[i].length};
    }
    return 0;
}
