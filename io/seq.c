/*
 * seq.c — the DNA record reader of seq.h on htslib: FASTA/FASTQ text (plain, gzip, bgzip),
 * FASTA regions through faidx, SAM/BAM/CRAM through sam_read1 / index iterators.
 * Tested by tests/unit/test_seq.c (fixtures in tests/data/seq/, made by make_fixtures.sh) and
 * fuzzed by tests/fuzz/fuzz_seq.c.
 *
 * Opening. The path is opened once as an hFILE ("-" is stdin) and its content identified by
 * hts_detect_format2() on that hFILE (it peeks, so stdin works and nothing is reopened).
 * SAM/BAM/CRAM go to hts_hopen() on the same hFILE. Everything else that is text goes to our
 * own FASTA/FASTQ parser over bgzf_hopen() on the same hFILE (BGZF reads plain, gzip and bgzip
 * alike). The parser decides FASTA vs FASTQ from the first non-blank byte itself, because
 * htslib only says "FASTA" when the second line is clean DNA, and a file whose first record
 * holds a bad byte must get the error naming that byte, not "unknown format".
 *
 * Why our own line parser and not kseq. kseq reads through its own 16 KB buffer (bgzf_read
 * copies into it) and then copies into the record: two copies, no line numbers, and a FASTQ
 * with a missing '+' or short quality comes back as a bare -2. We scan BGZF's decompressed
 * block in place (fp->uncompressed_block, the public struct in bgzf.h, as htslib's own
 * bgzf_getline does): memchr finds the line end and memcpy moves the bases straight into the
 * record — one copy from the decompression buffer — and we know the line of every byte.
 * Buffers grow by doubling; past glibc's mmap threshold realloc moves pages (mremap), so a
 * 250-Mb chromosome is not copied again as it grows.
 *
 * Text rules (see also docs/encodings.md): every base must be an IUPAC letter; trailing
 * spaces, tabs and '\r' on a line are dropped (CRLF files, editors' trailing blanks);
 * whitespace inside a line is an error like any other bad byte; blank lines are ignored
 * between and inside FASTA records and between FASTQ records. A record with no bases or an
 * empty name is an error. FASTQ sequence may span lines (until the '+' line); the quality
 * must then fill the same number of characters; a single-line sequence needs a single-line
 * quality (so a short quality line is reported as short, not glued to the next '@' line).
 *
 * Truncation. BGZF without its EOF block at the end of the data is an error here (htslib only
 * warns), as is a gzip stream that stops early and a CRAM without its EOF container.
 */
#include "io/seq.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <htslib/bgzf.h>
#include <htslib/cram.h>
#include <htslib/faidx.h>
#include <htslib/hfile.h>
#include <htslib/hts.h>
#include <htslib/sam.h>

#include "io/detect.h"
#include "io/encode.h"

struct SeqReader {
    char          *path;     /* as given */
    const char    *shown;    /* name used in messages: path, or "<stdin>" */
    SeqFormat      format;
    SeqCompression compression;
    char          *region;   /* NULL: whole file */
    int            min_mapq;
    uint32_t       require_flags, exclude_flags;
    int            stream;   /* not a regular file: no index, no reopening */
    int64_t        n_out;    /* records returned so far */
    int            status;   /* 0 reading, LS_END done, < -1 sticky error */
    char          *error;    /* message of the sticky error */

    /* FASTA/FASTQ text */
    BGZF   *bgzf;
    int64_t line_no;         /* 1-based number of the line at the read position */
    int     eof;
    int     any_data;        /* some byte was read: an empty file is not "only blank lines" */
    char   *scratch;         /* '+' lines, blank-line checks */
    int64_t scratch_len;
    size_t  scratch_cap;

    /* FASTA region through faidx */
    faidx_t  *fai;
    int       region_tid;
    hts_pos_t region_beg, region_end;

    /* SAM/BAM/CRAM */
    htsFile   *hts;
    sam_hdr_t *hdr;
    hts_idx_t *idx;
    hts_itr_t *itr;
    bam1_t    *b;
    int64_t    n_aln;        /* alignment records read, filtered or not */
    int64_t    dropped_flag, dropped_mapq, no_bases; /* what the filters dropped */
    int        no_bases_error;
    char      *reference;    /* FASTA for '=' bases (and CRAM), NULL: none given */
    faidx_t   *ref_fai;      /* loaded at the first '=' */
};

// ---------------------------------------------------------------------------- small helpers

void seq_reader_options_default(SeqReaderOptions *opt) {
    memset(opt, 0, sizeof *opt);
    opt->exclude_flags = BAM_FSECONDARY | BAM_FSUPPLEMENTARY;
}

const char *seq_format_name(SeqFormat format) {
    switch (format) {
    case SEQ_FORMAT_FASTA: return "FASTA";
    case SEQ_FORMAT_FASTQ: return "FASTQ";
    case SEQ_FORMAT_SAM:   return "SAM";
    case SEQ_FORMAT_BAM:   return "BAM";
    case SEQ_FORMAT_CRAM:  return "CRAM";
    default:               return "unknown";
    }
}

const char *seq_compression_name(SeqCompression compression) {
    switch (compression) {
    case SEQ_COMPRESSION_GZIP: return "gzip";
    case SEQ_COMPRESSION_BGZF: return "bgzip";
    default:                   return "plain";
    }
}

SeqFormat seq_reader_format(const SeqReader *reader) { return reader->format; }

void seq_reader_counts(const SeqReader *r, SeqReaderCounts *counts) {
    int aln = r->hts != NULL;
    counts->kept = r->n_out;
    counts->seen = aln ? r->n_aln : r->n_out;
    counts->dropped_flag = r->dropped_flag;
    counts->dropped_mapq = r->dropped_mapq;
    counts->no_bases = r->no_bases;
}
SeqCompression seq_reader_compression(const SeqReader *reader) { return reader->compression; }
const char *seq_reader_path(const SeqReader *reader) { return reader->path; }

/* Grow *buf to hold at least @p need bytes (doubling). 0 ok, -1 out of memory. */
static int buf_reserve(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t n = *cap < 256 ? 256 : *cap;
    while (n < need) n = n > SIZE_MAX / 2 ? need : n * 2;
    char *p = realloc(*buf, n);
    if (!p) return -1;
    *buf = p;
    *cap = n;
    return 0;
}

static inline int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* "('c')" for a printable byte, "" otherwise, for messages about bad bytes. */
static const char *byte_shown(unsigned char c, char out[16]) {
    if (c >= 0x21 && c <= 0x7e) snprintf(out, 16, " ('%c')", c);
    else if (c == ' ') snprintf(out, 16, " (space)");
    else if (c == '\t') snprintf(out, 16, " (tab)");
    else out[0] = '\0';
    return out;
}

/* Record an error as this reader's sticky state and return its code. */
static int reader_fail(SeqReader *r, int code) {
    r->status = code;
    free(r->error);
    r->error = strdup(ls_error_message());
    return code;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

// ---------------------------------------------------------------------------- text input

/* Make an unread byte available in the current block. 1 yes, 0 end of input, < 0 error. */
static int text_fill(SeqReader *r) {
    BGZF *fp = r->bgzf;
    if (fp->block_offset < fp->block_length) return 1;
    if (r->eof) return 0;
    /* bgzf_read() does this between blocks too: the plain-gzip path of bgzf_read_block()
     * inflates into uncompressed_block + block_offset, so a stale offset reads as EOF */
    fp->block_offset = fp->block_length = 0;
    if (bgzf_read_block(fp) < 0) {
        if (fp->is_gzip)
            return ls_error(LS_ERR_FORMAT, "%s:%lld: gzip data is corrupt or truncated",
                            r->shown, (long long)r->line_no);
        return ls_error(LS_ERR_FORMAT, "%s:%lld: %s data is corrupt or truncated (block at "
                        "byte %lld)", r->shown, (long long)r->line_no,
                        fp->is_compressed ? "bgzip" : "file", (long long)fp->block_address);
    }
    if (fp->block_length > 0 && fp->block_offset < fp->block_length) {
        r->any_data = 1;
        return 1;
    }
    r->eof = 1;
    if (fp->is_compressed && !fp->is_gzip && !fp->last_block_eof)
        return ls_error(LS_ERR_FORMAT, "%s:%lld: bgzip file is truncated (it ends without the "
                        "BGZF end-of-file block)", r->shown, (long long)r->line_no);
    return 0;
}

static inline const char *text_at(const SeqReader *r) {
    return (const char *)r->bgzf->uncompressed_block + r->bgzf->block_offset;
}

/*
 * Append the line at the read position (without its '\n') to *buf at *len and consume it.
 * @return 1 a line was read (the last one may lack '\n'), 0 end of input before any byte,
 *         < 0 error.
 */
static int text_append_line(SeqReader *r, char **buf, int64_t *len, size_t *cap) {
    BGZF *fp = r->bgzf;
    int got = 0;
    for (;;) {
        if (fp->block_offset >= fp->block_length) {
            int ret = text_fill(r);
            if (ret <= 0) return ret < 0 ? ret : got;
        }
        const char *p = text_at(r);
        size_t avail = (size_t)(fp->block_length - fp->block_offset);
        const char *nl = memchr(p, '\n', avail);
        size_t n = nl ? (size_t)(nl - p) : avail;
        if (buf_reserve(buf, cap, (size_t)*len + n + 1) < 0)
            return ls_error(LS_ERR_NOMEM, "%s:%lld: out of memory for a line of %lld bytes",
                            r->shown, (long long)r->line_no, (long long)(*len + (int64_t)n));
        memcpy(*buf + *len, p, n);
        *len += (int64_t)n;
        fp->block_offset += (int)n;
        got = 1;
        if (nl) {
            fp->block_offset++;
            r->line_no++;
            return 1;
        }
    }
}

/*
 * Skip blank lines (empty or only spaces/tabs/'\r') and blanks that start a line. On return
 * the read position is at the first non-blank byte of a line.
 * @return that byte (0..255), -1 end of input, < -1 error.
 */
static int text_skip_blank(SeqReader *r) {
    for (;;) {
        int ret = text_fill(r);
        if (ret <= 0) return ret < 0 ? ret : -1;
        unsigned char c = (unsigned char)*text_at(r);
        if (c == '\n') {
            r->bgzf->block_offset++;
            r->line_no++;
            continue;
        }
        if (!is_blank((char)c)) return c;
        /* A line starting with blanks: blank as a whole, or text that must be reported. */
        const char *p = text_at(r);
        int avail = r->bgzf->block_length - r->bgzf->block_offset;
        int k = 0;
        while (k < avail && is_blank(p[k])) k++;
        r->bgzf->block_offset += k; /* leading blanks are dropped */
        if (k < avail && p[k] != '\n') return (unsigned char)p[k];
    }
}

/* Read a header line ('>' or '@' at the read position) into rec->name: the name up to the
 * first space or tab. @p number is the 1-based record number for messages. */
static int text_read_header(SeqReader *r, SeqRecord *rec, int64_t number) {
    int64_t header_line = r->line_no;
    r->bgzf->block_offset++; /* the '>' or '@' */
    int64_t n = 0;
    int ret = text_append_line(r, &rec->name, &n, &rec->name_cap);
    if (ret < 0) return ret;
    if (ret == 0 && buf_reserve(&rec->name, &rec->name_cap, 1) < 0)
        return ls_error(LS_ERR_NOMEM, "%s: out of memory", r->shown);
    while (n > 0 && is_blank(rec->name[n - 1])) n--;
    int64_t end = 0;
    while (end < n && rec->name[end] != ' ' && rec->name[end] != '\t') end++;
    rec->name[end] = '\0';
    if (end == 0)
        return ls_error(LS_ERR_FORMAT, "%s:%lld: record #%lld has an empty name (%s after "
                        "'%c')", r->shown, (long long)header_line, (long long)number,
                        n == 0 ? "nothing" : "a space or tab right",
                        r->format == SEQ_FORMAT_FASTQ ? '@' : '>');
    for (int64_t i = 0; i < end; i++) {
        unsigned char c = (unsigned char)rec->name[i];
        if (c < 0x20 || c == 0x7f) {
            rec->name[i] = '\0';
            return ls_error(LS_ERR_FORMAT, "%s:%lld: record #%lld: name '%s...' holds control "
                            "byte 0x%02x at character %lld", r->shown, (long long)header_line,
                            (long long)number, rec->name, c, (long long)i + 1);
        }
    }
    return 0;
}

/* Error for a bad base at offset @p at of rec->seq, found on line @p line whose first base
 * is at offset @p line_start. */
static int text_bad_base(const SeqReader *r, const SeqRecord *rec, int64_t number,
                         int64_t line, int64_t line_start, int64_t at) {
    char shown[16];
    unsigned char c = (unsigned char)rec->seq[at];
    return ls_error(LS_ERR_FORMAT, "%s:%lld:%lld: record '%s' (#%lld): base %lld: unexpected "
                    "byte 0x%02x%s, not an IUPAC nucleotide letter", r->shown, (long long)line,
                    (long long)(at - line_start + 1), rec->name, (long long)number,
                    (long long)at + 1, c, byte_shown(c, shown));
}

/* Append one sequence line at the read position to rec->seq, trimmed and validated. */
static inline int text_sequence_line(SeqReader *r, SeqRecord *rec, int64_t number) {
    int64_t line = r->line_no, start = rec->len;
    int ret = text_append_line(r, &rec->seq, &rec->len, &rec->seq_cap);
    if (ret < 0) return ret;
    while (rec->len > start && is_blank(rec->seq[rec->len - 1])) rec->len--;
    int64_t bad = dna_find_invalid(rec->seq + start, rec->len - start);
    if (bad >= 0) return text_bad_base(r, rec, number, line, start, start + bad);
    return 0;
}

static void record_drop_qual(SeqRecord *rec) {
    free(rec->qual);
    rec->qual = NULL;
    rec->qual_cap = 0;
}

static int64_t fasta_next(SeqReader *r, SeqRecord *rec) {
    int64_t number = r->n_out + 1;
    int c = text_skip_blank(r);
    if (c == -1) return LS_END;
    if (c < -1) return c;
    if (c != '>') /* only at the start of the file: later records begin where '>' stopped us */
        return ls_error(LS_ERR_FORMAT, "%s:%lld: expected a FASTA header line starting with "
                        "'>'", r->shown, (long long)r->line_no);
    int64_t header_line = r->line_no;
    int ret = text_read_header(r, rec, number);
    if (ret < 0) return ret;
    rec->len = 0;
    BGZF *fp = r->bgzf;
    for (;;) {
        if (fp->block_offset >= fp->block_length) {
            ret = text_fill(r);
            if (ret < 0) return ret;
            if (ret == 0) break;
        }
        char first = *text_at(r);
        if (first == '>') break;
        if (first == '\n') { /* blank line */
            fp->block_offset++;
            r->line_no++;
            continue;
        }
        ret = text_sequence_line(r, rec, number);
        if (ret < 0) return ret;
    }
    if (rec->len == 0)
        return ls_error(LS_ERR_FORMAT, "%s:%lld: record '%s' (#%lld) has no bases (empty "
                        "sequence)", r->shown, (long long)header_line, rec->name,
                        (long long)number);
    rec->seq[rec->len] = '\0';
    if (rec->qual) record_drop_qual(rec);
    return 0;
}

static int64_t fastq_next(SeqReader *r, SeqRecord *rec) {
    int64_t number = r->n_out + 1;
    char shown[16];
    int c = text_skip_blank(r);
    if (c == -1) return LS_END;
    if (c < -1) return c;
    if (c != '@')
        return ls_error(LS_ERR_FORMAT, "%s:%lld: expected a FASTQ header line starting with "
                        "'@' (record #%lld), found byte 0x%02x%s", r->shown,
                        (long long)r->line_no, (long long)number, c,
                        byte_shown((unsigned char)c, shown));
    int64_t header_line = r->line_no;
    int ret = text_read_header(r, rec, number);
    if (ret < 0) return ret;

    /* sequence lines up to the '+' line */
    BGZF *fp = r->bgzf;
    int64_t seq_lines = 0;
    rec->len = 0;
    for (;;) {
        ret = text_fill(r);
        if (ret < 0) return ret;
        if (ret == 0)
            return ls_error(LS_ERR_FORMAT, "%s:%lld: record '%s' (#%lld): missing '+' line "
                            "(the file ends after the sequence)", r->shown,
                            (long long)r->line_no, rec->name, (long long)number);
        char first = *text_at(r);
        if (first == '+') break;
        if (first == '@')
            return ls_error(LS_ERR_FORMAT, "%s:%lld: record '%s' (#%lld): missing '+' line "
                            "(found a new '@' header after the sequence)", r->shown,
                            (long long)r->line_no, rec->name, (long long)number);
        if (first == '\n') {
            fp->block_offset++;
            r->line_no++;
            continue;
        }
        ret = text_sequence_line(r, rec, number);
        if (ret < 0) return ret;
        seq_lines++;
    }
    if (rec->len == 0)
        return ls_error(LS_ERR_FORMAT, "%s:%lld: record '%s' (#%lld) has no bases (empty "
                        "sequence)", r->shown, (long long)header_line, rec->name,
                        (long long)number);
    rec->seq[rec->len] = '\0';
    r->scratch_len = 0;
    ret = text_append_line(r, &r->scratch, &r->scratch_len, &r->scratch_cap); /* '+' line */
    if (ret < 0) return ret;

    /* quality: as many characters as bases; one line if the sequence was one line */
    int64_t qlen = 0, qual_line = r->line_no;
    for (;;) {
        ret = text_fill(r);
        if (ret < 0) return ret;
        if (ret == 0) break;
        qual_line = r->line_no;
        int64_t start = qlen;
        ret = text_append_line(r, &rec->qual, &qlen, &rec->qual_cap);
        if (ret < 0) return ret;
        while (qlen > start && is_blank(rec->qual[qlen - 1])) qlen--;
        if (seq_lines == 1 || qlen >= rec->len) break;
    }
    if (qlen != rec->len)
        return ls_error(LS_ERR_FORMAT, "%s:%lld: record '%s' (#%lld): quality has %lld "
                        "characters but the sequence has %lld bases", r->shown,
                        (long long)qual_line, rec->name, (long long)number, (long long)qlen,
                        (long long)rec->len);
    for (int64_t i = 0; i < qlen; i++) {
        unsigned char q = (unsigned char)rec->qual[i];
        if (q < 33 || q > 126)
            return ls_error(LS_ERR_FORMAT, "%s:%lld: record '%s' (#%lld): quality character "
                            "%lld: unexpected byte 0x%02x%s (phred+33 uses '!'..'~')",
                            r->shown, (long long)qual_line, rec->name, (long long)number,
                            (long long)i + 1, q, byte_shown(q, shown));
    }
    rec->qual[qlen] = '\0';
    return 0;
}

// ---------------------------------------------------------------------------- FASTA regions

/* htslib parses a region start of 0 ("chr2:0-10") as position -1; positions are 1-based */
static int region_zero_error(const SeqReader *r) {
    return ls_error(LS_ERR_USAGE, "%s: region '%s' starts at 0, but positions are 1-based (the "
                    "first base is 1; samtools faidx says: zero length sequence)", r->shown,
                    r->region);
}

static int region_open(SeqReader *r) {
    const char *path = r->path;
    if (r->stream)
        return ls_error(LS_ERR_UNSUPPORTED, "%s: region '%s' needs an indexed file; a stream "
                        "(standard input, a pipe) cannot be indexed", r->shown, r->region);
    if (r->format != SEQ_FORMAT_FASTA)
        return ls_error(LS_ERR_UNSUPPORTED, "%s: regions are supported for FASTA, BAM, CRAM "
                        "and bgzipped SAM, not %s", r->shown, seq_format_name(r->format));
    if (r->compression == SEQ_COMPRESSION_GZIP)
        return ls_error(LS_ERR_UNSUPPORTED, "%s: region '%s' needs random access, but the file "
                        "is plain gzip; recompress it with `bgzip` and index it with `samtools "
                        "faidx %s`", path, r->region, path);
    size_t n = strlen(path) + 5;
    char *fai_path = malloc(n), *gzi_path = malloc(n);
    int ret = 0;
    if (!fai_path || !gzi_path) { ret = ls_error(LS_ERR_NOMEM, "%s: out of memory", path); goto fail; }
    snprintf(fai_path, n, "%s.fai", path);
    snprintf(gzi_path, n, "%s.gzi", path);
    if (!file_exists(fai_path)) {
        ret = ls_error(LS_ERR_UNSUPPORTED, "%s: region '%s' needs the index %s; create it with "
                       "`samtools faidx %s`", path, r->region, fai_path, path);
        goto fail;
    }
    if (r->compression == SEQ_COMPRESSION_BGZF && !file_exists(gzi_path)) {
        ret = ls_error(LS_ERR_UNSUPPORTED, "%s: region '%s' needs the index %s (bgzip file); "
                       "create it with `samtools faidx %s`", path, r->region, gzi_path, path);
        goto fail;
    }
    /* flags 0: load the index, never build or write one */
    r->fai = fai_load3(path, fai_path, r->compression == SEQ_COMPRESSION_BGZF ? gzi_path : NULL,
                       0);
    if (!r->fai) {
        ret = ls_error(LS_ERR_FORMAT, "%s: cannot load the index %s (malformed or out of "
                       "date? rebuild it with `samtools faidx %s`)", path, fai_path, path);
        goto fail;
    }
    int tid = -1;
    if (!fai_parse_region(r->fai, r->region, &tid, &r->region_beg, &r->region_end, 0)) {
        if (tid == -1) {
            const char *colon = strrchr(r->region, ':');
            int name_len = colon ? (int)(colon - r->region) : (int)strlen(r->region);
            ret = ls_error(LS_ERR_NOT_FOUND, "%s: region '%s': no sequence named '%.*s' in "
                           "the index %s", path, r->region, name_len, r->region, fai_path);
        } else {
            ret = ls_error(LS_ERR_USAGE, "%s: region '%s' is not a valid region (NAME, "
                           "NAME:BEG-END, NAME:BEG-; 1-based, inclusive)", path, r->region);
        }
        goto fail;
    }
    if (r->region_beg < 0) {
        ret = region_zero_error(r);
        goto fail;
    }
    r->region_tid = tid;
    const char *name = faidx_iseq(r->fai, tid);
    int64_t len = faidx_seq_len(r->fai, name);
    if (r->region_beg >= len) {
        ret = ls_error(LS_ERR_RANGE, "%s: region '%s' starts at %lld, after the end of '%s' "
                       "(%lld bases)", path, r->region, (long long)r->region_beg + 1, name,
                       (long long)len);
        goto fail;
    }
    if (r->region_end > len) r->region_end = len;
fail:
    free(fai_path);
    free(gzi_path);
    return ret;
}

static int64_t region_next(SeqReader *r, SeqRecord *rec) {
    if (r->n_out > 0) return LS_END;
    const char *name = faidx_iseq(r->fai, r->region_tid);
    int64_t want = r->region_end - r->region_beg;
    hts_pos_t got = 0;
    char *seq = faidx_fetch_seq64(r->fai, name, r->region_beg, r->region_end - 1, &got);
    if (!seq)
        return ls_error(LS_ERR_FORMAT, "%s: region '%s': reading the bases failed (file "
                        "truncated, or the index out of date? rebuild it with `samtools faidx "
                        "%s`)", r->shown, r->region, r->path);
    if (got != want) {
        free(seq);
        return ls_error(LS_ERR_FORMAT, "%s: region '%s': read %lld bases where the index "
                        "promises %lld (index out of date? rebuild it with `samtools faidx "
                        "%s`)", r->shown, r->region, (long long)got, (long long)want, r->path);
    }
    /* adopt faidx's buffer: the bases are not copied again */
    free(rec->seq);
    rec->seq = seq;
    rec->seq_cap = (size_t)want + 1;
    rec->len = want;
    size_t name_len = strlen(r->region);
    if (buf_reserve(&rec->name, &rec->name_cap, name_len + 1) < 0)
        return ls_error(LS_ERR_NOMEM, "%s: out of memory", r->shown);
    memcpy(rec->name, r->region, name_len + 1);
    if (rec->qual) record_drop_qual(rec);
    int64_t bad = dna_find_invalid(rec->seq, rec->len);
    if (bad >= 0) {
        char shown[16];
        unsigned char c = (unsigned char)rec->seq[bad];
        return ls_error(LS_ERR_FORMAT, "%s: region '%s': base %lld (%s:%lld): unexpected byte "
                        "0x%02x%s, not an IUPAC nucleotide letter", r->shown, r->region,
                        (long long)bad + 1, name, (long long)(r->region_beg + bad + 1), c,
                        byte_shown(c, shown));
    }
    return 0;
}

// ---------------------------------------------------------------------------- SAM / BAM / CRAM

static int aln_open(SeqReader *r, hFILE *hf, const SeqReaderOptions *opt, const htsFormat *fmt) {
    r->format = fmt->format == bam ? SEQ_FORMAT_BAM
              : fmt->format == cram ? SEQ_FORMAT_CRAM : SEQ_FORMAT_SAM;
    r->compression = fmt->compression == bgzf ? SEQ_COMPRESSION_BGZF
                   : fmt->compression == gzip ? SEQ_COMPRESSION_GZIP : SEQ_COMPRESSION_NONE;
    if (r->format == SEQ_FORMAT_CRAM) r->compression = SEQ_COMPRESSION_NONE;
    r->hts = hts_hopen(hf, r->path, "r");
    if (!r->hts) {
        hclose_abruptly(hf);
        return ls_error(LS_ERR_FORMAT, "%s: cannot open as %s", r->shown,
                        seq_format_name(r->format));
    }
    if (r->format == SEQ_FORMAT_CRAM && opt->reference) {
        if (!file_exists(opt->reference))
            return ls_error(LS_ERR_IO, "%s: CRAM reference %s: no such file", r->shown,
                            opt->reference);
        if (hts_set_fai_filename(r->hts, opt->reference) < 0)
            return ls_error(LS_ERR_FORMAT, "%s: cannot use %s as the CRAM reference (it needs "
                            "a FASTA index: `samtools faidx %s`)", r->shown, opt->reference,
                            opt->reference);
    }
    r->hdr = sam_hdr_read(r->hts);
    if (!r->hdr)
        return ls_error(LS_ERR_FORMAT, "%s: cannot read the %s header (truncated or corrupt "
                        "file)", r->shown, seq_format_name(r->format));
    r->b = bam_init1();
    if (!r->b) return ls_error(LS_ERR_NOMEM, "%s: out of memory", r->shown);
    if (!r->region) return 0;

    if (r->stream)
        return ls_error(LS_ERR_UNSUPPORTED, "%s: region '%s' needs an indexed file; a stream "
                        "(standard input, a pipe) cannot be indexed", r->shown, r->region);
    r->idx = sam_index_load3(r->hts, r->path, NULL, HTS_IDX_SILENT_FAIL);
    if (!r->idx && r->format == SEQ_FORMAT_SAM && r->compression != SEQ_COMPRESSION_BGZF)
        return ls_error(LS_ERR_UNSUPPORTED, "%s: region '%s' needs an index, and a SAM file "
                        "can only be indexed once compressed: `bgzip %s && samtools index "
                        "%s.gz` (or convert it to BAM)", r->shown, r->region, r->path, r->path);
    if (!r->idx)
        return ls_error(LS_ERR_UNSUPPORTED, "%s: region '%s' needs an index (%s.%s); create "
                        "it with `samtools index %s`", r->shown, r->region, r->path,
                        r->format == SEQ_FORMAT_CRAM ? "crai" : "bai or .csi", r->path);
    if (strcmp(r->region, "*") == 0 || strcmp(r->region, ".") == 0) {
        r->itr = sam_itr_querys(r->idx, r->hdr, r->region);
    } else {
        int tid = -1;
        hts_pos_t beg = 0, end = 0;
        if (!sam_parse_region(r->hdr, r->region, &tid, &beg, &end, 0)) {
            if (tid == -1) {
                const char *colon = strrchr(r->region, ':');
                int name_len = colon ? (int)(colon - r->region) : (int)strlen(r->region);
                return ls_error(LS_ERR_NOT_FOUND, "%s: region '%s': no sequence named '%.*s' "
                                "in the header", r->shown, r->region, name_len, r->region);
            }
            return ls_error(LS_ERR_USAGE, "%s: region '%s' is not a valid region (NAME, "
                            "NAME:BEG-END, NAME:BEG-; 1-based, inclusive)", r->shown,
                            r->region);
        }
        if (beg < 0) return region_zero_error(r);
        r->itr = sam_itr_queryi(r->idx, tid, beg, end);
    }
    if (!r->itr)
        return ls_error(LS_ERR_FORMAT, "%s: region '%s': cannot query the index", r->shown,
                        r->region);
    return 0;
}

/* 4-bit BAM codes to letters ("=ACMGRSVTWYHKDBN"). */
static void aln_unpack_bases(char *restrict dst, const uint8_t *restrict packed, int64_t n) {
    int64_t i = 0;
    for (; i + 2 <= n; i += 2) {
        dst[i] = seq_nt16_str[packed[i >> 1] >> 4];
        dst[i + 1] = seq_nt16_str[packed[i >> 1] & 15];
    }
    if (i < n) dst[i] = seq_nt16_str[packed[i >> 1] >> 4];
}

/*
 * Replace every '=' ("same as the reference") in rec->seq, which holds SEQ as stored, by the
 * reference base it is aligned to: walk the CIGAR from POS (M, =, X consume both; I, S the
 * read only; D, N the reference only). The reference is the FASTA given as `reference`,
 * through its .fai (never built here). '=' on a read without a position or in an insertion
 * or soft clip has no reference base: an error.
 */
static int aln_resolve_equals(SeqReader *r, SeqRecord *rec) {
    const bam1_t *b = r->b;
    const char *qname = bam_get_qname(b);
    int64_t at = (char *)memchr(rec->seq, '=', (size_t)rec->len) - rec->seq;
    if (!r->reference)
        return ls_error(LS_ERR_FORMAT, "%s: record #%lld '%s': SEQ position %lld is '=' (the "
                        "reference base), which needs the reference FASTA (--reference)",
                        r->shown, (long long)r->n_aln, qname, (long long)at + 1);
    if (!r->ref_fai) {
        char *fai_path = malloc(strlen(r->reference) + 5);
        if (!fai_path) return ls_error(LS_ERR_NOMEM, "%s: out of memory", r->shown);
        sprintf(fai_path, "%s.fai", r->reference);
        int have_fai = file_exists(fai_path);
        free(fai_path);
        if (!file_exists(r->reference))
            return ls_error(LS_ERR_IO, "%s: reference %s: no such file", r->shown,
                            r->reference);
        /* flags 0: never build an index */
        r->ref_fai = have_fai ? fai_load3(r->reference, NULL, NULL, 0) : NULL;
        if (!r->ref_fai)
            return ls_error(LS_ERR_FORMAT, "%s: cannot use %s as the reference (it needs a "
                            "FASTA index: `samtools faidx %s`)", r->shown, r->reference,
                            r->reference);
    }
    if (b->core.tid < 0 || (b->core.flag & BAM_FUNMAP) || b->core.n_cigar == 0)
        return ls_error(LS_ERR_FORMAT, "%s: record #%lld '%s': SEQ position %lld is '=' but the "
                        "read is not aligned to the reference", r->shown, (long long)r->n_aln,
                        qname, (long long)at + 1);
    const char *chrom = sam_hdr_tid2name(r->hdr, b->core.tid);
    hts_pos_t beg = b->core.pos, end = bam_endpos(b), got = 0;
    char *ref = faidx_fetch_seq64(r->ref_fai, chrom, beg, end - 1, &got);
    if (!ref || got != end - beg) {
        free(ref);
        return ls_error(LS_ERR_FORMAT, "%s: record #%lld '%s': the reference %s has no bases "
                        "for %s:%lld-%lld", r->shown, (long long)r->n_aln, qname, r->reference,
                        chrom, (long long)beg + 1, (long long)end);
    }
    const uint32_t *cigar = bam_get_cigar(b);
    int64_t qi = 0, ri = 0;
    int status = 0;
    for (uint32_t k = 0; k < b->core.n_cigar && status == 0; k++) {
        int op = bam_cigar_op(cigar[k]), type = bam_cigar_type(op);
        int64_t len = bam_cigar_oplen(cigar[k]);
        for (int64_t j = 0; j < len; j++) {
            if ((type & 1) && qi < rec->len && rec->seq[qi] == '=') {
                if (!(type & 2) || ri >= got) {
                    status = ls_error(LS_ERR_FORMAT, "%s: record #%lld '%s': SEQ position %lld "
                                      "is '=' in %s, where no reference base lies", r->shown,
                                      (long long)r->n_aln, qname, (long long)qi + 1,
                                      op == BAM_CSOFT_CLIP ? "a soft clip" : "an insertion");
                    break;
                }
                rec->seq[qi] = (char)toupper((unsigned char)ref[ri]);
            }
            if (type & 1) qi++;
            if (type & 2) ri++;
        }
    }
    free(ref);
    return status;
}

static int64_t aln_next(SeqReader *r, SeqRecord *rec) {
    bam1_t *b = r->b;
    for (;;) {
        int ret = r->itr ? sam_itr_next(r->hts, r->itr, b) : sam_read1(r->hts, r->hdr, b);
        if (ret == -1) {
            if (!r->itr && r->hts->is_bgzf) {
                BGZF *fp = r->hts->fp.bgzf;
                if (fp && fp->is_compressed && !fp->is_gzip && !fp->last_block_eof)
                    return ls_error(LS_ERR_FORMAT, "%s: after record #%lld: %s file is "
                                    "truncated (it ends without the BGZF end-of-file block)",
                                    r->shown, (long long)r->n_aln,
                                    seq_format_name(r->format));
            }
            if (!r->itr && r->hts->is_cram && cram_eof(r->hts->fp.cram) == 2)
                return ls_error(LS_ERR_FORMAT, "%s: after record #%lld: CRAM file is truncated "
                                "(it ends without the EOF container)", r->shown,
                                (long long)r->n_aln);
            return LS_END;
        }
        if (ret < -1) {
            if (r->format == SEQ_FORMAT_SAM && r->compression == SEQ_COMPRESSION_NONE)
                return ls_error(LS_ERR_FORMAT, "%s:%lld: malformed SAM record (#%lld)",
                                r->shown, (long long)r->hts->lineno, (long long)r->n_aln + 1);
            if (r->format == SEQ_FORMAT_CRAM)
                return ls_error(LS_ERR_FORMAT, "%s: record #%lld: cannot decode CRAM data "
                                "(truncated or corrupt, or the reference FASTA it was "
                                "compressed against was not found: give the reference)",
                                r->shown, (long long)r->n_aln + 1);
            return ls_error(LS_ERR_FORMAT, "%s: record #%lld: truncated or corrupt %s data",
                            r->shown, (long long)r->n_aln + 1, seq_format_name(r->format));
        }
        r->n_aln++;
        uint16_t flag = b->core.flag;
        if ((flag & r->exclude_flags) || (flag & r->require_flags) != r->require_flags) {
            r->dropped_flag++;
            continue;
        }
        if (b->core.qual < r->min_mapq) {
            r->dropped_mapq++;
            continue;
        }
        if (b->core.l_qseq <= 0) { /* SEQ '*' is legal SAM: counted and skipped */
            if (r->no_bases_error)
                return ls_error(LS_ERR_FORMAT, "%s: record #%lld '%s': no bases (SEQ is '*'; "
                                "secondary alignments often omit it)", r->shown,
                                (long long)r->n_aln, bam_get_qname(b));
            r->no_bases++;
            continue;
        }
        break;
    }
    const char *qname = bam_get_qname(b);
    int64_t n = b->core.l_qseq;
    size_t name_len = strlen(qname);
    if (buf_reserve(&rec->name, &rec->name_cap, name_len + 1) < 0 ||
        buf_reserve(&rec->seq, &rec->seq_cap, (size_t)n + 1) < 0)
        return ls_error(LS_ERR_NOMEM, "%s: record #%lld: out of memory", r->shown,
                        (long long)r->n_aln);
    memcpy(rec->name, qname, name_len + 1);
    aln_unpack_bases(rec->seq, bam_get_seq(b), n);
    rec->seq[n] = '\0';
    rec->len = n;
    if (memchr(rec->seq, '=', (size_t)n)) { /* before any reverse complement: SEQ order */
        int ret = aln_resolve_equals(r, rec);
        if (ret < 0) return ret;
    }
    int reverse = (b->core.flag & BAM_FREVERSE) != 0;
    if (reverse) dna_reverse_complement_letters(rec->seq, rec->seq, n);
    const uint8_t *q = bam_get_qual(b);
    if (q[0] == 0xff) {
        if (rec->qual) record_drop_qual(rec);
    } else {
        if (buf_reserve(&rec->qual, &rec->qual_cap, (size_t)n + 1) < 0)
            return ls_error(LS_ERR_NOMEM, "%s: record #%lld: out of memory", r->shown,
                            (long long)r->n_aln);
        for (int64_t i = 0; i < n; i++) {
            int v = q[reverse ? n - 1 - i : i];
            rec->qual[i] = (char)(v > 93 ? 126 : v + 33);
        }
        rec->qual[n] = '\0';
    }
    int64_t bad = dna_find_invalid(rec->seq, n);
    if (bad >= 0) {
        char shown[16];
        unsigned char c = (unsigned char)rec->seq[bad];
        return ls_error(LS_ERR_FORMAT, "%s: record #%lld '%s': base %lld: unexpected byte "
                        "0x%02x%s, not an IUPAC nucleotide letter", r->shown,
                        (long long)r->n_aln, qname, (long long)bad + 1, c,
                        byte_shown(c, shown));
    }
    return 0;
}

// ---------------------------------------------------------------------------- open / next / close

/* Open the text parser on @p hf and find the first record's header. */
static int text_open(SeqReader *r, hFILE *hf, const htsFormat *fmt) {
    r->compression = fmt->compression == bgzf ? SEQ_COMPRESSION_BGZF
                   : fmt->compression == gzip ? SEQ_COMPRESSION_GZIP : SEQ_COMPRESSION_NONE;
    r->bgzf = bgzf_hopen(hf, "r");
    if (!r->bgzf) {
        hclose_abruptly(hf);
        return ls_error(LS_ERR_IO, "%s: cannot read: %s", r->shown, strerror(errno));
    }
    r->line_no = 1;
    char shown[16];
    int c = text_skip_blank(r);
    if (c < -1) return c;
    if (c == -1) {
        if (!r->any_data)
            return ls_error(LS_ERR_FORMAT, "%s: empty file", r->shown);
        return ls_error(LS_ERR_FORMAT, "%s: no records (only blank lines)", r->shown);
    }
    if (c == '>') r->format = SEQ_FORMAT_FASTA;
    else if (c == '@') r->format = SEQ_FORMAT_FASTQ;
    else if (c >= 0x20 && c < 0x7f)
        return ls_error(LS_ERR_FORMAT, "%s:%lld: expected a FASTA header ('>name') or FASTQ "
                        "header ('@name') but the line starts with '%c' (text before the first "
                        "header, or not a FASTA/FASTQ file)", r->shown, (long long)r->line_no,
                        c);
    else
        return ls_error(LS_ERR_FORMAT, "%s: not a FASTA, FASTQ, SAM, BAM or CRAM file (starts "
                        "with byte 0x%02x%s)", r->shown, c, byte_shown((unsigned char)c, shown));
    return 0;
}

/* Open @p path, or read @p given (an open stream handle, owned from here on) as @p path. */
static int seq_reader_open_hf(SeqReader **out, const char *path, hFILE *given,
                              const SeqReaderOptions *opt) {
    SeqReaderOptions defaults;
    SeqReader *r = NULL;
    hFILE *hf = given;
    int ret = 0;
    if (!out || !path) {
        ret = ls_error(LS_ERR_USAGE, "seq_reader_open: no path given");
        goto fail;
    }
    *out = NULL;
    if (!opt) {
        seq_reader_options_default(&defaults);
        opt = &defaults;
    }
    r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path)) ||
        (opt->region && !(r->region = strdup(opt->region)))) {
        ret = ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    int is_stdin = strcmp(path, "-") == 0;
    r->shown = is_stdin ? "<stdin>" : r->path;
    r->min_mapq = opt->min_mapq;
    r->require_flags = opt->require_flags;
    r->exclude_flags = opt->exclude_flags;
    r->no_bases_error = opt->no_bases_error;
    if (opt->reference && !(r->reference = strdup(opt->reference))) {
        ret = ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    r->stream = given != NULL;
    if (!given) {
        struct stat st;
        if ((is_stdin ? fstat(0, &st) : stat(path, &st)) != 0) {
            ret = ls_error(LS_ERR_IO, "%s: %s", r->shown, strerror(errno));
            goto fail;
        }
        if (S_ISDIR(st.st_mode)) {
            ret = ls_error(LS_ERR_IO, "%s: is a directory, not a sequence file", r->shown);
            goto fail;
        }
        r->stream = is_stdin || !S_ISREG(st.st_mode); /* "-" has no path to index */
        hf = is_stdin ? input_hdopen_stdin() : hopen(path, "r");
        if (!hf) {
            ret = ls_error(LS_ERR_IO, "%s: cannot open: %s", r->shown, strerror(errno));
            goto fail;
        }
    }
    htsFormat fmt;
    if (hts_detect_format2(hf, is_stdin ? NULL : path, &fmt) < 0) {
        ret = ls_error(LS_ERR_IO, "%s: cannot read: %s", r->shown, strerror(errno));
        goto fail;
    }
    if (fmt.format != cram && fmt.compression != no_compression && fmt.compression != gzip &&
        fmt.compression != bgzf) {
        char *desc = hts_format_description(&fmt);
        ret = ls_error(LS_ERR_UNSUPPORTED, "%s: %s; decompress it first (or recompress with "
                       "bgzip)", r->shown, desc ? desc : "unsupported compression");
        free(desc);
        goto fail;
    }
    if (fmt.format == sam || fmt.format == bam || fmt.format == cram) {
        ret = aln_open(r, hf, opt, &fmt);
        hf = NULL; /* owned by r->hts now, or closed */
        if (ret < 0) goto fail;
    } else if (fmt.category == variant_data || fmt.category == index_file ||
               fmt.category == region_list ||
               (fmt.category == sequence_data && fmt.format != fasta_format &&
                fmt.format != fastq_format)) {
        char *desc = hts_format_description(&fmt);
        ret = ls_error(LS_ERR_FORMAT, "%s: this is %s, not FASTA, FASTQ, SAM, BAM or CRAM",
                       r->shown, desc ? desc : "another format");
        free(desc);
        goto fail;
    } else {
        ret = text_open(r, hf, &fmt);
        hf = NULL; /* owned by r->bgzf now, or closed */
        if (ret < 0) goto fail;
        if (r->region) {
            ret = region_open(r);
            if (ret < 0) goto fail;
            bgzf_close(r->bgzf); /* faidx reads the file from here on */
            r->bgzf = NULL;
        }
    }
    *out = r;
    return 0;
fail:
    if (hf) hclose_abruptly(hf);
    seq_reader_close(r);
    return ret;
}

int seq_reader_open(SeqReader **out, const char *path, const SeqReaderOptions *opt) {
    return seq_reader_open_hf(out, path, NULL, opt);
}

int seq_reader_open_input(SeqReader **out, InputFile *in, const SeqReaderOptions *opt) {
    if (!out || !in) return ls_error(LS_ERR_USAGE, "seq_reader_open_input: no input given");
    *out = NULL;
    if (!input_is_stream(in)) return seq_reader_open_hf(out, input_path(in), NULL, opt);
    hFILE *hf = input_take_hfile(in);
    if (!hf) return ls_error_code();
    return seq_reader_open_hf(out, input_path(in), hf, opt);
}

int64_t seq_reader_next(SeqReader *r, SeqRecord *rec) {
    if (!r || !rec) return ls_error(LS_ERR_USAGE, "seq_reader_next: no reader or record");
    if (r->status == LS_END) return LS_END;
    if (r->status < LS_END) return ls_error(r->status, "%s", r->error ? r->error : "");
    int64_t ret;
    if (r->fai) ret = region_next(r, rec);
    else if (r->hts) ret = aln_next(r, rec);
    else if (r->format == SEQ_FORMAT_FASTQ) ret = fastq_next(r, rec);
    else ret = fasta_next(r, rec);
    if (ret == LS_END) {
        r->status = LS_END;
        return LS_END;
    }
    if (ret < 0) return reader_fail(r, (int)ret);
    rec->index = r->n_out++;
    return rec->index;
}

void seq_reader_close(SeqReader *r) {
    if (!r) return;
    if (r->bgzf) bgzf_close(r->bgzf);
    if (r->fai) fai_destroy(r->fai);
    if (r->itr) hts_itr_destroy(r->itr);
    if (r->idx) hts_idx_destroy(r->idx);
    if (r->b) bam_destroy1(r->b);
    if (r->hdr) sam_hdr_destroy(r->hdr);
    if (r->hts) hts_close(r->hts);
    if (r->ref_fai) fai_destroy(r->ref_fai);
    free(r->reference);
    free(r->scratch);
    free(r->error);
    free(r->region);
    free(r->path);
    free(r);
}

void seq_record_free(SeqRecord *rec) {
    if (!rec) return;
    free(rec->name);
    free(rec->seq);
    free(rec->qual);
    memset(rec, 0, sizeof *rec);
}
