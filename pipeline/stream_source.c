/*
 * stream_source.c — records of one input read in pieces for --stream; see stream_source.h.
 */
#include "pipeline/stream_source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/audio.h"
#include "io/encode.h"
#include "io/seq.h"
#include "io/seq_index.h"

/* DNA letters fetched per faidx call (and per encoding pass) */
#define STREAM_PIECE 1048576

enum { SRC_INDEX, SRC_RECORDS, SRC_AUDIO, SRC_AUDIO_HELD };

struct StreamSource {
    int kind;
    DataSettings data;
    char *spec, *path, *region;
    /* SRC_INDEX */
    SeqIndex *ix;
    int rec_i;            /* record being read; -1 before the first */
    int64_t beg, end, at; /* its range, read up to at */
    char *letters;        /* (STREAM_PIECE) */
    /* SRC_RECORDS */
    SeqReader *reader;
    SeqRecord rec;
    int64_t rec_at;
    /* audio */
    AudioReader *audio;
    float *held;          /* SRC_AUDIO_HELD: the whole resampled signal */
    int64_t held_n, held_at;
    float *block;         /* (STREAM_PIECE) decoded samples */
    int done;             /* audio: the one record was handed out */
    char *name, *chrom;
};

/* The dataset loader's ':' rule: the whole string if it is a file, else FILE:REGION split at
 * the first ':' whose left part is a regular file. */
static int resolve(StreamSource *s) {
    struct stat st;
    if (strcmp(s->spec, "-") == 0 || stat(s->spec, &st) == 0) {
        s->path = strdup(s->spec);
        return s->path ? 0 : ls_error(LS_ERR_NOMEM, "out of memory");
    }
    int saved = errno;
    for (const char *c = strchr(s->spec, ':'); c; c = strchr(c + 1, ':')) {
        char *prefix = strndup(s->spec, (size_t)(c - s->spec));
        if (!prefix) return ls_error(LS_ERR_NOMEM, "out of memory");
        if (stat(prefix, &st) == 0 && S_ISREG(st.st_mode) && c[1]) {
            s->path = prefix;
            s->region = strdup(c + 1);
            return s->region ? 0 : ls_error(LS_ERR_NOMEM, "out of memory");
        }
        free(prefix);
    }
    return ls_error(LS_ERR_IO, "%s: %s", s->spec, strerror(saved));
}

int stream_source_open(StreamSource **out, const char *spec, const DataSettings *data,
                       const char *reference) {
    *out = NULL;
    StreamSource *s = calloc(1, sizeof *s);
    if (!s || !(s->spec = strdup(spec))) {
        free(s);
        return ls_error(LS_ERR_NOMEM, "out of memory");
    }
    s->data = *data;
    s->rec_i = -1;
    int status = resolve(s);
    if (status < 0) goto fail;
    if (data->kind == EXAMPLE_AUDIO) {
        if (s->region) {
            status = ls_error(LS_ERR_USAGE, "%s: an audio file has no regions", spec);
            goto fail;
        }
        if ((status = audio_reader_open(&s->audio, s->path)) < 0) goto fail;
        s->kind = SRC_AUDIO;
        if (audio_reader_info(s->audio)->sample_rate != data->sample_rate) {
            /* another rate: resampled whole, as the dataset loader does */
            audio_reader_close(s->audio);
            s->audio = NULL;
            status = audio_load_mono(s->path, data->sample_rate, &s->held, &s->held_n, NULL);
            if (status < 0) goto fail;
            s->kind = SRC_AUDIO_HELD;
        }
        s->block = malloc(STREAM_PIECE * sizeof *s->block);
        if (!s->block) status = ls_error(LS_ERR_NOMEM, "out of memory");
        if (status < 0) goto fail;
        *out = s;
        return 0;
    }
    if (data->kind != EXAMPLE_DNA) {
        status = ls_error(LS_ERR_USAGE, "--stream reads DNA or audio; the model was trained on "
                          "synthetic tasks");
        goto fail;
    }
    status = seq_index_open(&s->ix, s->path);
    if (status == 0) {
        s->kind = SRC_INDEX;
        s->letters = malloc(STREAM_PIECE);
        if (!s->letters) {
            status = ls_error(LS_ERR_NOMEM, "out of memory");
            goto fail;
        }
        if (s->region) {
            int i;
            if ((status = seq_index_region(s->ix, s->region, &i, &s->beg, &s->end)) < 0)
                goto fail;
        }
        *out = s;
        return 0;
    }
    if (status != LS_ERR_UNSUPPORTED) goto fail;
    ls_error_clear();
    SeqReaderOptions so; /* the whole-record reader (regions need an index: it says so) */
    seq_reader_options_default(&so);
    so.region = s->region;
    so.reference = reference;
    if ((status = seq_reader_open(&s->reader, s->path, &so)) < 0) goto fail;
    s->kind = SRC_RECORDS;
    *out = s;
    return 0;
fail:
    stream_source_close(s);
    return status;
}

void stream_source_close(StreamSource *s) {
    if (!s) return;
    seq_index_close(s->ix);
    seq_reader_close(s->reader);
    seq_record_free(&s->rec);
    audio_reader_close(s->audio);
    free(s->held);
    free(s->block);
    free(s->letters);
    free(s->name);
    free(s->chrom);
    free(s->spec);
    free(s->path);
    free(s->region);
    free(s);
}

int stream_source_constant_memory(const StreamSource *s) {
    return s->kind == SRC_INDEX || s->kind == SRC_AUDIO;
}

static int set_names(StreamSource *s, const char *name, size_t chrom_len) {
    free(s->name);
    free(s->chrom);
    s->name = strdup(name);
    s->chrom = strndup(name, chrom_len);
    return s->name && s->chrom ? 0 : ls_error(LS_ERR_NOMEM, "out of memory");
}

int stream_source_next(StreamSource *s, StreamRecord *rec) {
    int status;
    switch (s->kind) {
    case SRC_AUDIO:
    case SRC_AUDIO_HELD: {
        if (s->done) return 0;
        s->done = 1;
        if ((status = set_names(s, s->spec, strlen(s->spec))) < 0) return status;
        int64_t frames = s->kind == SRC_AUDIO ? audio_reader_info(s->audio)->frames : s->held_n;
        *rec = (StreamRecord){s->name, s->chrom, 0, frames};
        return 1;
    }
    case SRC_INDEX: {
        if (s->region) { /* one record: the region */
            if (s->rec_i >= 0) return 0;
            int i;
            if ((status = seq_index_region(s->ix, s->region, &i, &s->beg, &s->end)) < 0)
                return status;
            s->rec_i = i;
            const char *colon = strrchr(s->region, ':');
            /* "chr2:1001-2000" names the record; bedGraph says chr2 from base 1000 (a region
             * that is a whole record's name has no coordinates) */
            size_t chrom = colon && strcmp(s->region, seq_index_name(s->ix, i)) != 0
                               ? (size_t)(colon - s->region)
                               : strlen(s->region);
            if ((status = set_names(s, s->region, chrom)) < 0) return status;
            s->at = s->beg;
            *rec = (StreamRecord){s->name, s->chrom, s->beg, s->end - s->beg};
            return 1;
        }
        if (s->rec_i + 1 >= seq_index_count(s->ix)) return 0;
        s->rec_i++;
        s->beg = s->at = 0;
        s->end = seq_index_length(s->ix, s->rec_i);
        const char *name = seq_index_name(s->ix, s->rec_i);
        if ((status = set_names(s, name, strlen(name))) < 0) return status;
        *rec = (StreamRecord){s->name, s->chrom, 0, s->end};
        return 1;
    }
    default: {
        int64_t got = seq_reader_next(s->reader, &s->rec);
        if (got == -1) return 0;
        if (got < 0) return (int)got;
        s->rec_at = 0;
        /* a FASTA region read whole is named by the region (alignments by their reads) */
        const char *colon = s->region && strcmp(s->rec.name, s->region) == 0
                                ? strrchr(s->rec.name, ':') : NULL;
        if ((status = set_names(s, s->rec.name, colon ? (size_t)(colon - s->rec.name)
                                                       : strlen(s->rec.name))) < 0)
            return status;
        int64_t base = 0; /* a region read whole: its start, as score prints it */
        if (colon) {
            long long b = 0;
            char digits[64];
            size_t k = 0;
            for (const char *p = colon + 1; *p && *p != '-' && k + 1 < sizeof digits; p++)
                if (*p != ',') digits[k++] = *p;
            digits[k] = '\0';
            if (sscanf(digits, "%lld", &b) == 1 && b >= 1) base = b - 1;
        }
        *rec = (StreamRecord){s->name, s->chrom, base, s->rec.len};
        return 1;
    }
    }
}

static void encode_audio(const StreamSource *s, uint8_t *dst, const float *x, int64_t n) {
    if (s->data.audio_codes == AUDIO_CODES_LINEAR8)
        for (int64_t i = 0; i < n; i++) dst[i] = (uint8_t)linear_encode(x[i], 8);
    else
        mulaw_encode_array(dst, x, n);
}

int64_t stream_source_read_samples(StreamSource *s, float *samples, int64_t max) {
    if (s->kind == SRC_AUDIO) return audio_reader_read_mono(s->audio, samples, max);
    if (s->kind != SRC_AUDIO_HELD)
        return ls_error(LS_ERR_USAGE, "stream_source_read_samples: not audio");
    int64_t n = s->held_n - s->held_at < max ? s->held_n - s->held_at : max;
    memcpy(samples, s->held + s->held_at, (size_t)n * sizeof *samples);
    s->held_at += n;
    return n;
}

int64_t stream_source_read(StreamSource *s, uint8_t *tokens, int64_t max) {
    if (s->kind == SRC_AUDIO || s->kind == SRC_AUDIO_HELD) {
        int64_t total = 0;
        while (total < max) {
            int64_t want = max - total < STREAM_PIECE ? max - total : STREAM_PIECE;
            int64_t n = stream_source_read_samples(s, s->block, want);
            if (n < 0) return n;
            if (n == 0) break;
            encode_audio(s, tokens + total, s->block, n);
            total += n;
        }
        return total;
    }
    if (s->kind == SRC_INDEX) {
        int64_t total = 0;
        while (total < max && s->at < s->end) {
            int64_t n = s->end - s->at;
            if (n > max - total) n = max - total;
            if (n > STREAM_PIECE) n = STREAM_PIECE;
            int status = seq_index_fetch(s->ix, s->rec_i, s->at, s->at + n, s->letters);
            if (status < 0) return status;
            dna_encode(tokens + total, s->letters, n, s->data.softmask);
            s->at += n;
            total += n;
        }
        return total;
    }
    int64_t n = s->rec.len - s->rec_at < max ? s->rec.len - s->rec_at : max;
    dna_encode(tokens, s->rec.seq + s->rec_at, n, s->data.softmask);
    s->rec_at += n;
    return n;
}
