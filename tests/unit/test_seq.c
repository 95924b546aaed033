/*
 * test_seq.c — io/seq.h on the fixtures of tests/data/seq (made by make_fixtures.sh from real
 * DNA; expected values there were computed by samtools) and on inputs generated here in a
 * temporary folder: a 20-Mb single-line FASTA, BGZF files whose block boundaries fall inside
 * headers, line ends and blank runs, copies of indexed files without their index, stdin, and
 * pipes opened once through io/detect.h.
 * Run from the repository root (make test does).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <htslib/bgzf.h>
#include <htslib/hts_log.h>

#include "common/error.h"
#include "io/encode.h"
#include "io/seq.h"

#define DATA "tests/data/seq/"

// ---------------------------------------------------------------------------- helpers

static char tmpdir[64];

static int setup_tmp(void **state) {
    (void)state;
    strcpy(tmpdir, "/tmp/test_seq.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *tmp_path(const char *name) {
    static char path[8][256];
    static int k;
    k = (k + 1) % 8;
    snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
    return path[k];
}

static void write_file(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void write_str(const char *path, const char *s) { write_file(path, s, strlen(s)); }

static void copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb");
    assert_non_null(in);
    FILE *out = fopen(to, "wb");
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* Up to 64 records of a file: name, seq, qual ("" for NULL). */
typedef struct {
    int   n;
    char *name[64], *seq[64], *qual[64];
    int   has_qual[64];
} Records;

static void records_free(Records *rs) {
    for (int i = 0; i < rs->n; i++) {
        free(rs->name[i]);
        free(rs->seq[i]);
        free(rs->qual[i]);
    }
    rs->n = 0;
}

/* Read every record of @p path; returns the final status (-1 clean end, < -1 error; open
 * errors are returned as they are). */
static int64_t read_all(const char *path, const SeqReaderOptions *opt, Records *rs) {
    memset(rs, 0, sizeof *rs);
    SeqReader *r = NULL;
    int ret = seq_reader_open(&r, path, opt);
    if (ret < 0) return ret;
    SeqRecord rec = {0};
    int64_t got;
    while ((got = seq_reader_next(r, &rec)) >= 0) {
        assert_int_equal(got, rs->n);
        assert_int_equal(rec.index, rs->n);
        assert_int_equal((int64_t)strlen(rec.seq), rec.len);
        if (rs->n < 64) {
            rs->name[rs->n] = strdup(rec.name);
            rs->seq[rs->n] = strdup(rec.seq);
            rs->has_qual[rs->n] = rec.qual != NULL;
            rs->qual[rs->n] = strdup(rec.qual ? rec.qual : "");
            if (rec.qual) assert_int_equal((int64_t)strlen(rec.qual), rec.len);
        }
        rs->n++;
    }
    seq_record_free(&rec);
    seq_reader_close(r);
    return got;
}

/* Tab-separated lines of a small expected-values file, split in place. */
typedef struct {
    int   n;
    char *buf;
    char *col[64][6];
} Tsv;

static void tsv_load(const char *path, Tsv *t) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    t->buf = calloc(1, (size_t)size + 1);
    assert_int_equal(fread(t->buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    char *save = NULL;
    for (char *line = strtok_r(t->buf, "\n", &save); line && t->n < 64;
         line = strtok_r(NULL, "\n", &save)) {
        int c = 0;
        t->col[t->n][c++] = line;
        for (char *p = line; *p && c < 6; p++)
            if (*p == '\t') {
                *p = '\0';
                t->col[t->n][c++] = p + 1;
            }
        t->n++;
    }
}

/* Expect failure with @p code at open or while reading; the message must contain each of
 * the NULL-terminated substrings. */
static void expect_error(const char *path, const SeqReaderOptions *opt, int code, ...) {
    Records rs;
    ls_error_clear();
    int64_t ret = read_all(path, opt, &rs);
    records_free(&rs);
    const char *msg = ls_error_message();
    if (ret != code)
        fail_msg("%s: produced status %lld, expected %d; message: %s", path, (long long)ret,
                 code, msg);
    if (strchr(msg, '\n')) fail_msg("%s: message is not one line: %s", path, msg);
    va_list ap;
    va_start(ap, code);
    for (const char *want; (want = va_arg(ap, const char *)) != NULL;)
        if (!strstr(msg, want)) fail_msg("%s: message lacks \"%s\": %s", path, want, msg);
    va_end(ap);
}

// ---------------------------------------------------------------------------- FASTA / FASTQ

static void check_ref(const char *path, SeqCompression compression) {
    Tsv want;
    tsv_load(DATA "expected/ref.tsv", &want);
    assert_int_equal(want.n, 3);
    SeqReader *r = NULL;
    assert_int_equal(seq_reader_open(&r, path, NULL), 0);
    assert_int_equal(seq_reader_format(r), SEQ_FORMAT_FASTA);
    assert_int_equal(seq_reader_compression(r), compression);
    assert_string_equal(seq_reader_path(r), path);
    SeqRecord rec = {0};
    for (int i = 0; i < want.n; i++) {
        assert_int_equal(seq_reader_next(r, &rec), i);
        assert_string_equal(rec.name, want.col[i][0]);
        assert_string_equal(rec.seq, want.col[i][1]);
        assert_int_equal(rec.len, (int64_t)strlen(want.col[i][1]));
        assert_null(rec.qual);
    }
    assert_int_equal(seq_reader_next(r, &rec), -1);
    assert_int_equal(seq_reader_next(r, &rec), -1); /* stays at the end */
    seq_record_free(&rec);
    seq_reader_close(r);
    free(want.buf);
}

static void test_fasta_plain_gzip_bgzip(void **state) {
    (void)state;
    check_ref(DATA "ref.fa", SEQ_COMPRESSION_NONE);
    check_ref(DATA "ref_gzip.fa.gz", SEQ_COMPRESSION_GZIP);
    check_ref(DATA "ref_bgzip.fa.gz", SEQ_COMPRESSION_BGZF);
    /* known content of the real data: hs20 starts with 600 N (GRCh37 chr20 gap), hsap22 is
     * soft-masked, vchoI holds the IUPAC codes K S S W of V. cholerae N16961 */
    Records rs;
    assert_int_equal(read_all(DATA "ref.fa", NULL, &rs), -1);
    assert_int_equal(rs.n, 3);
    assert_int_equal(strspn(rs.seq[0], "N"), 600);
    assert_memory_equal(rs.seq[0] + 600, "GATCCAGAGGTGGAAGAGGAAGG", 23);
    assert_non_null(strchr(rs.seq[1], 'a'));
    assert_non_null(strchr(rs.seq[1], 'A'));
    assert_int_equal(rs.seq[2][423], 'K'); /* 1-based 1561424 in chrI = 424 here */
    assert_int_equal(strlen(rs.seq[2]), 1000);
    records_free(&rs);
}

static void test_fastq(void **state) {
    (void)state;
    /* reads.fq read with a naive 4-line parser as the oracle */
    FILE *f = fopen(DATA "reads.fq", "r");
    assert_non_null(f);
    SeqReader *r = NULL;
    assert_int_equal(seq_reader_open(&r, DATA "reads.fq", NULL), 0);
    assert_int_equal(seq_reader_format(r), SEQ_FORMAT_FASTQ);
    SeqRecord rec = {0};
    char h[512], s[512], p[512], q[512];
    int n = 0;
    while (fgets(h, sizeof h, f) && fgets(s, sizeof s, f) && fgets(p, sizeof p, f) &&
           fgets(q, sizeof q, f)) {
        h[strcspn(h, " \n")] = '\0';
        s[strcspn(s, "\n")] = '\0';
        q[strcspn(q, "\n")] = '\0';
        assert_int_equal(seq_reader_next(r, &rec), n);
        assert_string_equal(rec.name, h + 1);
        assert_string_equal(rec.seq, s);
        assert_non_null(rec.qual);
        assert_string_equal(rec.qual, q);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 23);
    assert_int_equal(seq_reader_next(r, &rec), -1);
    seq_record_free(&rec);
    seq_reader_close(r);

    const char *fq_blank = "@b1\nAC\n\nGT\n+\nIIII\n";
    Records rs;
    write_str(tmp_path("fq_blank.fq"), fq_blank);
    assert_int_equal(read_all(tmp_path("fq_blank.fq"), NULL, &rs), -1);
    assert_int_equal(rs.n, 1);
    assert_string_equal(rs.seq[0], "ACGT");
    records_free(&rs);
    /* multi-line sequence and quality, '+' repeating the name, blank line */
    assert_int_equal(read_all(DATA "bad/fq_multiline.fq", NULL, &rs), -1);
    assert_int_equal(rs.n, 2);
    assert_string_equal(rs.name[0], "m1");
    assert_string_equal(rs.seq[0], "ACGTACGTAC");
    assert_string_equal(rs.qual[0], "IIIIIJJJJJ");
    assert_string_equal(rs.seq[1], "GGCC");
    assert_string_equal(rs.qual[1], "ABCD");
    records_free(&rs);
}

static void test_whitespace_rules(void **state) {
    (void)state;
    Records rs; /* CRLF, trailing blanks, blank lines, description after the name */
    assert_int_equal(read_all(DATA "bad/crlf.fa", NULL, &rs), -1);
    assert_int_equal(rs.n, 2);
    assert_string_equal(rs.name[0], "r1");
    assert_string_equal(rs.seq[0], "ACGTacgt");
    assert_string_equal(rs.name[1], "r2");
    assert_string_equal(rs.seq[1], "NNRY");
    records_free(&rs);
    const char *blank = "\n\n>a\tdescription\n\nAC\n  \nGT\n\n\n>b\nT";
    write_str(tmp_path("blank.fa"), blank);
    assert_int_equal(read_all(tmp_path("blank.fa"), NULL, &rs), -1);
    assert_int_equal(rs.n, 2);
    assert_string_equal(rs.name[0], "a");
    assert_string_equal(rs.seq[0], "ACGT");
    assert_string_equal(rs.seq[1], "T"); /* no final newline */
    records_free(&rs);
}

/* Every bad input of the issue: code and the place in the message. */
static void test_bad_inputs(void **state) {
    (void)state;
    expect_error(DATA "bad/empty.fa", NULL, LS_ERR_FORMAT, "bad/empty.fa: empty file", NULL);
    expect_error(DATA "bad/empty.fa.gz", NULL, LS_ERR_FORMAT, "empty.fa.gz: empty file", NULL);
    expect_error(DATA "bad/blank_only.fa", NULL, LS_ERR_FORMAT, "blank_only.fa: no records",
                 NULL);
    expect_error(DATA "no/such/file.fa", NULL, LS_ERR_IO, "no/such/file.fa",
                 "No such file or directory", NULL);
    expect_error(DATA "bad", NULL, LS_ERR_IO, "bad: is a directory", NULL);
    expect_error(DATA "bad/no_header.fa", NULL, LS_ERR_FORMAT, "no_header.fa:1:",
                 "starts with 'A'", NULL);
    expect_error(DATA "bad/text_before_header.fa", NULL, LS_ERR_FORMAT,
                 "text_before_header.fa:3:", "text before the first header", NULL);
    expect_error(DATA "bad/bad_star.fa", NULL, LS_ERR_FORMAT,
                 "bad_star.fa:3:4: record 'r1' (#1): base 14: unexpected byte 0x2a ('*')", NULL);
    expect_error(DATA "bad/bad_nul.fa", NULL, LS_ERR_FORMAT,
                 "bad_nul.fa:4:6: record 'r2' (#2): base 6: unexpected byte 0x00", NULL);
    expect_error(DATA "bad/bad_digit.fa", NULL, LS_ERR_FORMAT, "base 5: unexpected byte 0x37 ('7')",
                 NULL);
    expect_error(DATA "bad/bad_dash.fa", NULL, LS_ERR_FORMAT,
                 "record 'gapped' (#1): base 5: unexpected byte 0x2d ('-')", NULL);
    expect_error(DATA "bad/bad_protein.fa", NULL, LS_ERR_FORMAT,
                 "record 'prot' (#1): base 3: unexpected byte 0x4c ('L')", NULL);
    expect_error(DATA "bad/bad_space.fa", NULL, LS_ERR_FORMAT, "bad_space.fa:2:5:",
                 "base 5: unexpected byte 0x20 (space)", NULL);
    expect_error(DATA "bad/empty_name.fa", NULL, LS_ERR_FORMAT,
                 "empty_name.fa:1: record #1 has an empty name", NULL);
    expect_error(DATA "bad/empty_name2.fa", NULL, LS_ERR_FORMAT,
                 "empty_name2.fa:3: record #2 has an empty name", NULL);
    expect_error(DATA "bad/empty_seq.fa", NULL, LS_ERR_FORMAT,
                 "empty_seq.fa:1: record 'r1' (#1) has no bases", NULL);
    expect_error(DATA "bad/empty_seq_last.fa", NULL, LS_ERR_FORMAT,
                 "empty_seq_last.fa:3: record 'r2' (#2) has no bases", NULL);
    expect_error(DATA "bad/fq_short_qual.fq", NULL, LS_ERR_FORMAT,
                 "fq_short_qual.fq:4: record 'r1' (#1): quality has 8 characters but the "
                 "sequence has 10 bases", NULL);
    expect_error(DATA "bad/fq_long_qual.fq", NULL, LS_ERR_FORMAT,
                 "fq_long_qual.fq:4: record 'r1' (#1): quality has 12 characters", NULL);
    expect_error(DATA "bad/fq_empty_qual.fq", NULL, LS_ERR_FORMAT, "quality has 0 characters",
                 NULL);
    expect_error(DATA "bad/fq_no_plus.fq", NULL, LS_ERR_FORMAT,
                 "fq_no_plus.fq:7: record 'r2' (#2): missing '+' line", NULL);
    expect_error(DATA "bad/fq_no_plus_eof.fq", NULL, LS_ERR_FORMAT,
                 "record 'r2' (#2): missing '+' line (the file ends", NULL);
    expect_error(DATA "bad/fq_bad_qual.fq", NULL, LS_ERR_FORMAT,
                 "fq_bad_qual.fq:4: record 'r1' (#1): quality character 3: unexpected byte 0x20",
                 NULL);
    expect_error(DATA "bad/fq_bad_header.fq", NULL, LS_ERR_FORMAT,
                 "fq_bad_header.fq:5: expected a FASTQ header line starting with '@' (record #2)",
                 NULL);
    expect_error(DATA "bad/not_seq.vcf", NULL, LS_ERR_FORMAT, "not_seq.vcf: this is VCF", NULL);
    expect_error(DATA "bad/binary.png", NULL, LS_ERR_FORMAT,
                 "binary.png: not a FASTA, FASTQ, SAM, BAM or CRAM file (starts with byte 0x89)",
                 NULL);
    expect_error(DATA "bad/bad_eq.sam", NULL, LS_ERR_FORMAT,
                 "bad_eq.sam: record #1 'e1': SEQ position 3 is '='", "--reference", NULL);
    expect_error(DATA "bad/bad_line.sam", NULL, LS_ERR_FORMAT,
                 "bad_line.sam:3: malformed SAM record (#2)", NULL);
    const char *fq_empty = "@r1\nACGT\n+\nIIII\n@r2\n+\n\n";
    write_str(tmp_path("fq_empty.fq"), fq_empty);
    expect_error(tmp_path("fq_empty.fq"), NULL, LS_ERR_FORMAT,
                 "fq_empty.fq:5: record 'r2' (#2) has no bases", NULL);
    expect_error(DATA "bad/ref.fa.bz2", NULL, LS_ERR_UNSUPPORTED, "ref.fa.bz2: ", "bzip2",
                 "decompress it first", NULL);
    const char nul_header[] = ">r\0x\nACGT\n";
    write_file(tmp_path("nul_header.fa"), nul_header, sizeof nul_header - 1);
    expect_error(tmp_path("nul_header.fa"), NULL, LS_ERR_FORMAT,
                 "nul_header.fa:1: record #1: name 'r...' holds control byte 0x00", NULL);
}

static void test_truncated(void **state) {
    (void)state;
    expect_error(DATA "bad/trunc_gzip.fa.gz", NULL, LS_ERR_FORMAT,
                 "trunc_gzip.fa.gz:1: gzip data is corrupt or truncated", NULL);
    expect_error(DATA "bad/trunc_bgzip_mid.fa.gz", NULL, LS_ERR_FORMAT,
                 "trunc_bgzip_mid.fa.gz:1: bgzip data is corrupt or truncated", NULL);
    /* all data blocks there, only the EOF block missing: records come, then the error */
    Records rs;
    assert_int_equal(read_all(DATA "bad/trunc_bgzip_eof.fa.gz", NULL, &rs), LS_ERR_FORMAT);
    assert_int_equal(rs.n, 2);
    assert_non_null(strstr(ls_error_message(), "trunc_bgzip_eof.fa.gz:86: bgzip file is "
                                               "truncated"));
    records_free(&rs);
    expect_error(DATA "bad/trunc_mid.bam", NULL, LS_ERR_FORMAT,
                 "trunc_mid.bam: record #1: truncated or corrupt BAM data", NULL);
    expect_error(DATA "bad/trunc_eof.bam", NULL, LS_ERR_FORMAT,
                 "trunc_eof.bam: after record #26: BAM file is truncated", NULL);
    expect_error(DATA "bad/trunc_header.bam", NULL, LS_ERR_FORMAT,
                 "trunc_header.bam: cannot read the BAM header", NULL);
    SeqReaderOptions opt;
    seq_reader_options_default(&opt);
    opt.reference = DATA "ref.fa";
    expect_error(DATA "bad/trunc_eof.cram", &opt, LS_ERR_FORMAT,
                 "trunc_eof.cram: after record #26: CRAM file is truncated", NULL);
}

/* BGZF block boundaries inside headers, between '\r' and '\n', inside trailing blanks, right
 * before '>' and inside a blank-line run: each fragment below is its own BGZF block. */
static void test_bgzf_block_boundaries(void **state) {
    (void)state;
    static const char *const parts[] = {
        ">r1 de", "sc\nACG", "T  \r", "\nAC", "\n", ">", "r2\r", "\nACGT\r\n\n", "\n",
        "\n>r3", "\nAAAA", "CCCC\n", "GG", "GG\n",
    };
    BGZF *fp = bgzf_open(tmp_path("blocks.fa.gz"), "w");
    assert_non_null(fp);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        assert_int_equal(bgzf_write(fp, parts[i], strlen(parts[i])), (ssize_t)strlen(parts[i]));
        assert_int_equal(bgzf_flush(fp), 0);
    }
    assert_int_equal(bgzf_close(fp), 0);
    Records rs;
    assert_int_equal(read_all(tmp_path("blocks.fa.gz"), NULL, &rs), -1);
    assert_int_equal(rs.n, 3);
    assert_string_equal(rs.name[0], "r1");
    assert_string_equal(rs.seq[0], "ACGTAC");
    assert_string_equal(rs.name[1], "r2");
    assert_string_equal(rs.seq[1], "ACGT");
    assert_string_equal(rs.seq[2], "AAAACCCCGGGG");
    records_free(&rs);
    /* a space inside a line, split across two blocks, is still an error at its base */
    fp = bgzf_open(tmp_path("split_space.fa.gz"), "w");
    assert_non_null(fp);
    assert_int_equal(bgzf_write(fp, ">s\nAC ", 6), 6);
    assert_int_equal(bgzf_flush(fp), 0);
    assert_int_equal(bgzf_write(fp, "GT\n", 3), 3);
    assert_int_equal(bgzf_close(fp), 0);
    expect_error(tmp_path("split_space.fa.gz"), NULL, LS_ERR_FORMAT,
                 "split_space.fa.gz:2:3: record 's' (#1): base 3: unexpected byte 0x20", NULL);
}

/* A 20-Mb single-line record (and a 200-kb multi-line one after it) read back exactly; the
 * plain file crosses 300 64-kb reads, the bgzip one 300 blocks. */
static void test_long_single_line(void **state) {
    (void)state;
    const int64_t n = 20 * 1000 * 1000;
    char *big = malloc((size_t)n + 64);
    assert_non_null(big);
    uint32_t x = 12345;
    for (int64_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        big[i] = "ACGTacgtN"[(x >> 16) % 9];
    }
    const char *path = tmp_path("long.fa");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(">long 20 Mb on one line\n", f);
    assert_int_equal(fwrite(big, 1, (size_t)n, f), (size_t)n);
    fputs("\n>after\n", f);
    for (int i = 0; i < 200000; i += 80) {
        assert_int_equal(fwrite(big + i, 1, 80, f), 80);
        fputc('\n', f);
    }
    assert_int_equal(fclose(f), 0);
    const char *gz = tmp_path("long.fa.gz");
    BGZF *fp = bgzf_open(gz, "w1");
    assert_non_null(fp);
    assert_int_equal(bgzf_write(fp, ">long\n", 6), 6);
    assert_int_equal(bgzf_write(fp, big, (size_t)n), n);
    assert_int_equal(bgzf_write(fp, "\n>after\n", 8), 8);
    for (int i = 0; i < 200000; i += 80) {
        assert_int_equal(bgzf_write(fp, big + i, 80), 80);
        assert_int_equal(bgzf_write(fp, "\n", 1), 1);
    }
    assert_int_equal(bgzf_close(fp), 0);
    const char *files[2] = {path, gz};
    for (int k = 0; k < 2; k++) {
        SeqReader *r = NULL;
        assert_int_equal(seq_reader_open(&r, files[k], NULL), 0);
        SeqRecord rec = {0};
        assert_int_equal(seq_reader_next(r, &rec), 0);
        assert_string_equal(rec.name, "long");
        assert_int_equal(rec.len, n);
        assert_true(memcmp(rec.seq, big, (size_t)n) == 0);
        assert_int_equal(seq_reader_next(r, &rec), 1);
        assert_string_equal(rec.name, "after");
        assert_int_equal(rec.len, 200000);
        assert_true(memcmp(rec.seq, big, 200000) == 0);
        assert_int_equal(seq_reader_next(r, &rec), -1);
        seq_record_free(&rec);
        seq_reader_close(r);
    }
    free(big);
    unlink(path);
    unlink(gz);
}

/* Make @p path this process's standard input (fd 0 may be closed: a reader on "-" closes it,
 * as htslib does). */
static void redirect_stdin(const char *path) {
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    if (fd != 0) {
        assert_int_equal(dup2(fd, 0), 0);
        close(fd);
    }
}

static void test_stdin(void **state) {
    (void)state;
    int saved = dup(0);
    assert_true(saved >= 0);
    const char *files[2] = {DATA "ref.fa", DATA "ref_bgzip.fa.gz"};
    for (int k = 0; k < 2; k++) {
        redirect_stdin(files[k]);
        Records rs;
        if (read_all("-", NULL, &rs) != -1) fail_msg("%s on stdin: %s", files[k],
                                                     ls_error_message());
        assert_int_equal(rs.n, 3);
        assert_string_equal(rs.name[2], "vchoI");
        assert_int_equal(strlen(rs.seq[2]), 1000);
        records_free(&rs);
    }
    redirect_stdin(DATA "bad/bad_star.fa");
    expect_error("-", NULL, LS_ERR_FORMAT, "<stdin>:3:4: record 'r1' (#1): base 14", NULL);
    redirect_stdin(DATA "ref_bgzip.fa.gz");
    SeqReaderOptions opt;
    seq_reader_options_default(&opt);
    opt.region = "hs20:1-10";
    expect_error("-", &opt, LS_ERR_UNSUPPORTED, "<stdin>: region 'hs20:1-10' needs an indexed "
                 "file", NULL);
    redirect_stdin(DATA "aln.bam");
    Records rs;
    if (read_all("-", NULL, &rs) != -1) fail_msg("BAM on stdin: %s", ls_error_message());
    assert_int_equal(rs.n, 24);
    records_free(&rs);
    redirect_stdin(DATA "aln.bam");
    expect_error("-", &opt, LS_ERR_UNSUPPORTED, "<stdin>: region 'hs20:1-10' needs an indexed "
                 "file", NULL);
    assert_int_equal(dup2(saved, 0), 0);
    close(saved);
}

typedef struct {
    int fd;
    const char *path;
} Feeder;

/* Copy the file @p arg->path into descriptor arg->fd, then close it (a pipe's writer). */
static void *feed(void *arg) {
    Feeder *f = arg;
    FILE *in = fopen(f->path, "rb");
    char buf[8192];
    size_t n;
    while (in && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (write(f->fd, buf, n) != (ssize_t)n) break;
    if (in) fclose(in);
    close(f->fd);
    return NULL;
}

static void test_open_input_stream(void **state) {
    (void)state;
    /* through /dev/fd/N of a pipe, opened once by input_open: the same records as the file */
    const char *files[] = {DATA "ref_bgzip.fa.gz", DATA "ref_gzip.fa.gz", DATA "reads.fq",
                           DATA "aln.bam", DATA "aln.sam"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        Records want, got = {0};
        assert_int_equal(read_all(files[k], NULL, &want), -1);
        int p[2];
        assert_int_equal(pipe(p), 0);
        Feeder f = {p[1], files[k]};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, feed, &f), 0);
        char path[64];
        snprintf(path, sizeof path, "/dev/fd/%d", p[0]);
        InputFile *in = NULL;
        assert_int_equal(input_open(&in, path), 0);
        assert_int_equal(input_is_stream(in), 1);
        assert_int_equal(input_kind(in), INPUT_KIND_SEQ);
        SeqReader *r = NULL;
        if (seq_reader_open_input(&r, in, NULL) != 0)
            fail_msg("%s through a pipe: %s", files[k], ls_error_message());
        assert_string_equal(seq_reader_path(r), path);
        SeqRecord rec = {0};
        int64_t ret;
        while ((ret = seq_reader_next(r, &rec)) >= 0) {
            assert_true(got.n < want.n);
            assert_string_equal(rec.name, want.name[got.n]);
            assert_string_equal(rec.seq, want.seq[got.n]);
            got.n++;
        }
        if (ret != -1) fail_msg("%s through a pipe: %s", files[k], ls_error_message());
        assert_int_equal(got.n, want.n);
        seq_record_free(&rec);
        seq_reader_close(r);
        /* read once */
        assert_int_equal(seq_reader_open_input(&r, in, NULL), LS_ERR_USAGE);
        assert_null(r);
        input_close(in);
        pthread_join(th, NULL);
        close(p[0]);
        records_free(&want);
    }
    /* a region needs an index, which a stream cannot have */
    int p[2];
    assert_int_equal(pipe(p), 0);
    Feeder f = {p[1], DATA "aln.bam"};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, feed, &f), 0);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", p[0]);
    InputFile *in = NULL;
    assert_int_equal(input_open(&in, path), 0);
    SeqReaderOptions opt;
    seq_reader_options_default(&opt);
    opt.region = "hs20:1-10";
    SeqReader *r = NULL;
    assert_int_equal(seq_reader_open_input(&r, in, &opt), LS_ERR_UNSUPPORTED);
    if (!strstr(ls_error_message(), "cannot be indexed"))
        fail_msg("region on a stream: %s", ls_error_message());
    input_close(in);
    close(p[0]); /* the feeder may meet EPIPE: it stops */
    pthread_join(th, NULL);
}

// ---------------------------------------------------------------------------- regions

static void test_fasta_regions(void **state) {
    (void)state;
    Tsv want;
    tsv_load(DATA "expected/regions.tsv", &want);
    assert_int_equal(want.n, 8);
    const char *files[2] = {DATA "ref_bgzip.fa.gz", DATA "ref.fa"};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < want.n; i++) {
            SeqReaderOptions opt;
            seq_reader_options_default(&opt);
            opt.region = want.col[i][0];
            Records rs;
            int64_t ret = read_all(files[k], &opt, &rs);
            if (ret != -1) fail_msg("%s %s: %s", files[k], opt.region, ls_error_message());
            assert_int_equal(rs.n, 1);
            assert_string_equal(rs.name[0], want.col[i][0]); /* named as the region string */
            assert_string_equal(rs.seq[0], want.col[i][1]); /* as samtools faidx gives it */
            assert_int_equal(rs.has_qual[0], 0);
            records_free(&rs);
        }
    }
    free(want.buf);
}

static void test_fasta_region_errors(void **state) {
    (void)state;
    SeqReaderOptions opt;
    seq_reader_options_default(&opt);
    opt.region = "chrZ:1-100";
    expect_error(DATA "ref_bgzip.fa.gz", &opt, LS_ERR_NOT_FOUND,
                 "ref_bgzip.fa.gz: region 'chrZ:1-100': no sequence named 'chrZ'", NULL);
    opt.region = "hs20:5000-6000";
    expect_error(DATA "ref.fa", &opt, LS_ERR_RANGE,
                 "region 'hs20:5000-6000' starts at 5000, after the end of 'hs20' (2400 bases)",
                 NULL);
    opt.region = "hs20:100-50";
    expect_error(DATA "ref.fa", &opt, LS_ERR_USAGE, "region 'hs20:100-50' is not a valid", NULL);
    opt.region = "hs20:1-10";
    expect_error(DATA "ref_gzip.fa.gz", &opt, LS_ERR_UNSUPPORTED, "plain gzip", "bgzip", NULL);
    expect_error(DATA "reads.fq", &opt, LS_ERR_UNSUPPORTED, "not FASTQ", NULL);
    /* never build an index: a copy without .fai is an error naming the command */
    copy_file(DATA "ref.fa", tmp_path("noindex.fa"));
    expect_error(tmp_path("noindex.fa"), &opt, LS_ERR_UNSUPPORTED, "noindex.fa.fai",
                 "samtools faidx", NULL);
    struct stat st;
    assert_int_equal(stat(tmp_path("noindex.fa.fai"), &st), -1);
    /* bases read through the index are checked too; a stale index is reported */
    write_str(tmp_path("star.fa"), ">x\nAC*T\n");
    write_str(tmp_path("star.fa.fai"), "x\t4\t3\t4\t5\n");
    opt.region = "x";
    expect_error(tmp_path("star.fa"), &opt, LS_ERR_FORMAT,
                 "star.fa: region 'x': base 3 (x:3): unexpected byte 0x2a ('*')", NULL);
    write_str(tmp_path("stale.fa"), ">x\nACGT\n");
    write_str(tmp_path("stale.fa.fai"), "x\t8\t3\t8\t9\n");
    expect_error(tmp_path("stale.fa"), &opt, LS_ERR_FORMAT, "stale.fa: region 'x'",
                 "samtools faidx", NULL);
    write_str(tmp_path("stale.fa.fai"), "not an index\n");
    expect_error(tmp_path("stale.fa"), &opt, LS_ERR_FORMAT, "stale.fa: cannot load the index",
                 "stale.fa.fai", NULL);
    opt.region = "hs20:1-10";
    copy_file(DATA "ref_bgzip.fa.gz", tmp_path("nogzi.fa.gz"));
    copy_file(DATA "ref_bgzip.fa.gz.fai", tmp_path("nogzi.fa.gz.fai"));
    expect_error(tmp_path("nogzi.fa.gz"), &opt, LS_ERR_UNSUPPORTED, "nogzi.fa.gz.gzi",
                 "samtools faidx", NULL);
    assert_int_equal(stat(tmp_path("nogzi.fa.gz.gzi"), &st), -1);
}

// ---------------------------------------------------------------------------- alignments

static void check_alignments(const char *path, const char *expected, SeqFormat format) {
    Tsv want;
    tsv_load(expected, &want);
    SeqReaderOptions opt;
    seq_reader_options_default(&opt);
    opt.reference = DATA "ref.fa";
    SeqReader *r = NULL;
    if (seq_reader_open(&r, path, &opt) < 0) fail_msg("%s", ls_error_message());
    assert_int_equal(seq_reader_format(r), format);
    seq_reader_close(r);
    Records rs;
    if (read_all(path, &opt, &rs) != -1) fail_msg("%s", ls_error_message());
    assert_int_equal(rs.n, want.n);
    for (int i = 0; i < want.n; i++) {
        assert_string_equal(rs.name[i], want.col[i][0]);
        assert_string_equal(rs.seq[i], want.col[i][1]);
        if (strcmp(rs.name[i], "r24") == 0) { /* QUAL '*': no quality */
            assert_int_equal(rs.has_qual[i], 0);
            continue;
        }
        assert_int_equal(rs.has_qual[i], 1);
        assert_string_equal(rs.qual[i], want.col[i][2]);
    }
    records_free(&rs);
    free(want.buf);
}

static void test_sam_bam_cram(void **state) {
    (void)state;
    /* in file order, as `samtools fastq` gives them (reverse-strand reads turned back) */
    check_alignments(DATA "aln.sam", DATA "expected/aln.sam.fastq.tsv", SEQ_FORMAT_SAM);
    check_alignments(DATA "aln.bam", DATA "expected/aln.bam.fastq.tsv", SEQ_FORMAT_BAM);
    check_alignments(DATA "aln.cram", DATA "expected/aln.bam.fastq.tsv", SEQ_FORMAT_CRAM);
}

/* Reverse-strand reads come back as the sequencer read them: compare with reads.fq (written by
 * the fixture script from the original reads, independently of samtools). */
static void test_reverse_strand_original_orientation(void **state) {
    (void)state;
    Records fq, bam;
    assert_int_equal(read_all(DATA "reads.fq", NULL, &fq), -1);
    assert_int_equal(read_all(DATA "aln.bam", NULL, &bam), -1);
    int matched = 0;
    for (int i = 0; i < bam.n; i++) {
        if (strcmp(bam.name[i], "p1") == 0 || strcmp(bam.name[i], "r24") == 0) continue;
        for (int j = 0; j < fq.n; j++) {
            if (strcmp(fq.name[j], bam.name[i]) != 0) continue;
            assert_string_equal(bam.seq[i], fq.seq[j]);
            assert_string_equal(bam.qual[i], fq.qual[j]);
            matched++;
        }
    }
    assert_int_equal(matched, 21);
    /* r05 is a reverse-strand read over V. cholerae IUPAC codes: the BAM stores the forward
     * strand (with S, W), we return the reverse complement (W stays W, S stays S) */
    for (int i = 0; i < bam.n; i++)
        if (strcmp(bam.name[i], "r05") == 0) {
            assert_non_null(strstr(bam.seq[i], "CCAGTWACCCGTSGTGAC"));
        }
    records_free(&fq);
    records_free(&bam);
    SeqReaderOptions opt;
    seq_reader_options_default(&opt);
    opt.require_flags = 0x10;
    Records rev;
    assert_int_equal(read_all(DATA "aln.bam", &opt, &rev), -1);
    Records fwd;
    opt.require_flags = 0;
    opt.exclude_flags = 0x910;
    assert_int_equal(read_all(DATA "aln.bam", &opt, &fwd), -1);
    assert_int_equal(rev.n + fwd.n, 24);
    records_free(&rev);
    records_free(&fwd);
}

static void test_filters_and_bam_regions(void **state) {
    (void)state;
    Tsv want;
    tsv_load(DATA "expected/counts.tsv", &want);
    assert_int_equal(want.n, 11);
    const char *files[2] = {DATA "aln.bam", DATA "aln.cram"};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < want.n; i++) {
            SeqReaderOptions opt;
            seq_reader_options_default(&opt);
            opt.min_mapq = atoi(want.col[i][0]);
            opt.require_flags = (uint32_t)strtoul(want.col[i][1], NULL, 0);
            opt.exclude_flags = (uint32_t)strtoul(want.col[i][2], NULL, 0);
            opt.region = strcmp(want.col[i][3], "-") == 0 ? NULL : want.col[i][3];
            opt.reference = DATA "ref.fa";
            Records rs;
            int64_t ret = read_all(files[k], &opt, &rs);
            if (opt.exclude_flags == 0 && ret < -1) { /* r22 (secondary) has bases; fine */
                fail_msg("%s: %s", files[k], ls_error_message());
            }
            assert_int_equal(ret, -1);
            if (rs.n != atoi(want.col[i][4]))
                fail_msg("%s -q %s -f %s -F %s %s: produced %d records, expected %s", files[k],
                         want.col[i][0], want.col[i][1], want.col[i][2], want.col[i][3], rs.n,
                         want.col[i][4]);
            records_free(&rs);
        }
    }
    free(want.buf);
    /* "*": the unmapped reads, as in samtools */
    SeqReaderOptions star;
    seq_reader_options_default(&star);
    star.region = "*";
    Records un;
    assert_int_equal(read_all(DATA "aln.bam", &star, &un), -1);
    assert_int_equal(un.n, 1);
    assert_string_equal(un.name[0], "r21");
    records_free(&un);
    /* a region yields exactly the overlapping reads: hs20:2,300-2,400 holds p1's mate */
    SeqReaderOptions opt;
    seq_reader_options_default(&opt);
    opt.region = "hs20:2,300-2,400";
    Records rs;
    assert_int_equal(read_all(DATA "aln.bam", &opt, &rs), -1);
    assert_int_equal(rs.n, 1);
    assert_string_equal(rs.name[0], "p1");
    records_free(&rs);
}

static void test_alignment_errors(void **state) {
    (void)state;
    SeqReaderOptions opt;
    seq_reader_options_default(&opt);
    opt.region = "chrZ:1-100";
    expect_error(DATA "aln.bam", &opt, LS_ERR_NOT_FOUND,
                 "aln.bam: region 'chrZ:1-100': no sequence named 'chrZ' in the header", NULL);
    opt.region = "hs20:100-50";
    expect_error(DATA "aln.bam", &opt, LS_ERR_USAGE, "region 'hs20:100-50' is not a valid", NULL);
    opt.region = "hs20:1-100";
    copy_file(DATA "aln.bam", tmp_path("unindexed.bam"));
    expect_error(tmp_path("unindexed.bam"), &opt, LS_ERR_UNSUPPORTED, "unindexed.bam: region "
                 "'hs20:1-100' needs an index", "samtools index", NULL);
    struct stat st;
    assert_int_equal(stat(tmp_path("unindexed.bam.bai"), &st), -1);
    expect_error(DATA "aln.sam", &opt, LS_ERR_UNSUPPORTED, "aln.sam: region 'hs20:1-100'",
                 "bgzip", NULL);
    opt.region = NULL;
    opt.reference = DATA "no_such_ref.fa";
    expect_error(DATA "aln.cram", &opt, LS_ERR_IO, "CRAM reference", "no_such_ref.fa", NULL);
    /* CRAM whose reference cannot be found (no option, REF_PATH pointing nowhere) */
    opt.reference = NULL;
    setenv("REF_PATH", "/nonexistent/%s", 1);
    setenv("REF_CACHE", "/nonexistent/%s", 1);
    expect_error(DATA "aln.cram", &opt, LS_ERR_FORMAT, "aln.cram: record #1: cannot decode "
                 "CRAM data", "reference", NULL);
    unsetenv("REF_PATH");
    unsetenv("REF_CACHE");
    /* a record without SEQ is skipped and counted; asked to be strict, it is an error */
    const char *sam = "@SQ\tSN:c\tLN:100\nnoseq\t256\tc\t1\t0\t4M\t*\t0\t0\t*\t*\n";
    write_str(tmp_path("noseq.sam"), sam);
    opt.reference = NULL;
    opt.exclude_flags = 0;
    opt.no_bases_error = 1;
    expect_error(tmp_path("noseq.sam"), &opt, LS_ERR_FORMAT, "noseq.sam: record #1 'noseq': no "
                 "bases", NULL);
    /* a region starting at 0 is a region error (positions are 1-based), on alignments and
     * on FASTA alike, not a short read against the index */
    opt.no_bases_error = 0;
    opt.region = "hs20:0-10";
    expect_error(DATA "aln.bam", &opt, LS_ERR_USAGE, "aln.bam: region 'hs20:0-10' starts at 0",
                 NULL);
    opt.reference = DATA "ref.fa";
    expect_error(DATA "aln.cram", &opt, LS_ERR_USAGE, "starts at 0", NULL);
    expect_error(DATA "ref.fa", &opt, LS_ERR_USAGE, "ref.fa: region 'hs20:0-10' starts at 0",
                 "1-based", NULL);
    expect_error(DATA "ref_bgzip.fa.gz", &opt, LS_ERR_USAGE, "starts at 0", NULL);
}

/* Read @p path with @p opt; the counts at the end, and the records in @p rs. */
static void read_counted(const char *path, const SeqReaderOptions *opt, Records *rs,
                         SeqReaderCounts *counts) {
    memset(rs, 0, sizeof *rs);
    SeqReader *r = NULL;
    if (seq_reader_open(&r, path, opt) < 0) fail_msg("%s: %s", path, ls_error_message());
    SeqRecord rec = {0};
    int64_t got;
    while ((got = seq_reader_next(r, &rec)) >= 0) {
        rs->name[rs->n] = strdup(rec.name);
        rs->seq[rs->n] = strdup(rec.seq);
        rs->qual[rs->n] = NULL;
        rs->n++;
    }
    if (got != -1) fail_msg("%s: %s", path, ls_error_message());
    seq_reader_counts(r, counts);
    seq_record_free(&rec);
    seq_reader_close(r);
}

static void check_counts(const SeqReaderCounts *c, int64_t seen, int64_t kept, int64_t flag,
                         int64_t mapq, int64_t no_bases) {
    if (c->seen != seen || c->kept != kept || c->dropped_flag != flag ||
        c->dropped_mapq != mapq || c->no_bases != no_bases)
        fail_msg("counts seen %lld kept %lld flag %lld mapq %lld no_bases %lld, expected %lld "
                 "%lld %lld %lld %lld", (long long)c->seen, (long long)c->kept,
                 (long long)c->dropped_flag, (long long)c->dropped_mapq,
                 (long long)c->no_bases, (long long)seen, (long long)kept, (long long)flag,
                 (long long)mapq, (long long)no_bases);
}

static void test_counts_and_records_without_bases(void **state) {
    (void)state;
    /* SEQ '*' on a primary, a secondary and a fully minimal unmapped record (all legal SAM,
     * like htslib's c1#noseq.sam and xx#minimal.sam), a supplementary and a low MAPQ read */
    const char *sam =
        "@SQ\tSN:c\tLN:100\n"
        "r1\t0\tc\t1\t60\t4M\t*\t0\t0\tACGT\tIIII\n"
        "noseq\t0\tc\t5\t60\t4M\t*\t0\t0\t*\t*\n"
        "sec\t256\tc\t1\t0\t4M\t*\t0\t0\t*\t*\n"
        "*\t4\t*\t0\t0\t*\t*\t0\t0\t*\t*\n"
        "supp\t2048\tc\t9\t60\t2M\t*\t0\t0\tGG\tII\n"
        "low\t16\tc\t20\t3\t3M\t*\t0\t0\tAAC\tIII\n"
        "r2\t0\tc\t30\t40\t2M\t*\t0\t0\tTT\t*\n";
    const char *path = tmp_path("counts.sam");
    write_str(path, sam);
    SeqReaderOptions opt;
    seq_reader_options_default(&opt);
    Records rs;
    SeqReaderCounts c;
    read_counted(path, &opt, &rs, &c);
    /* default -F 0x900: sec and supp by flag; noseq and the minimal record have no bases */
    check_counts(&c, 7, 3, 2, 0, 2);
    assert_int_equal(rs.n, 3);
    assert_string_equal(rs.name[0], "r1");
    assert_string_equal(rs.name[1], "low");
    assert_string_equal(rs.seq[1], "GTT"); /* reverse strand, turned back */
    assert_string_equal(rs.name[2], "r2");
    records_free(&rs);
    /* -q 10: the minimal record (MAPQ 0) and low go by MAPQ first, noseq stays "no bases" */
    opt.min_mapq = 10;
    read_counted(path, &opt, &rs, &c);
    check_counts(&c, 7, 2, 2, 2, 1);
    records_free(&rs);
    /* -F 0 -f 0x800: only supp passes the flags */
    opt.min_mapq = 0;
    opt.exclude_flags = 0;
    opt.require_flags = 0x800;
    read_counted(path, &opt, &rs, &c);
    check_counts(&c, 7, 1, 6, 0, 0);
    assert_string_equal(rs.name[0], "supp");
    records_free(&rs);
    /* a file of records without bases only: no records, no error at this level */
    write_str(tmp_path("allnoseq.sam"), "@SQ\tSN:c\tLN:100\nx\t0\tc\t5\t60\t4M\t*\t0\t0\t*\t*\n");
    seq_reader_options_default(&opt);
    read_counted(tmp_path("allnoseq.sam"), &opt, &rs, &c);
    check_counts(&c, 1, 0, 0, 0, 1);
    records_free(&rs);
    /* FASTA: seen = kept, nothing dropped */
    read_counted(DATA "ref.fa", &opt, &rs, &c);
    check_counts(&c, 3, 3, 0, 0, 0);
    records_free(&rs);
    /* a BAM region: seen counts what the index returned */
    opt.region = "hs20:1000-1500";
    read_counted(DATA "aln.bam", &opt, &rs, &c);
    assert_int_equal(c.kept, rs.n);
    assert_int_equal(c.seen, c.kept + c.dropped_flag + c.dropped_mapq + c.no_bases);
    records_free(&rs);
}

/* The bases of ref.fa at @p region (1-based, inclusive), through the reader itself. */
static void ref_bases(const char *region, char *out, size_t size) {
    SeqReaderOptions opt;
    seq_reader_options_default(&opt);
    opt.region = region;
    Records rs;
    if (read_all(DATA "ref.fa", &opt, &rs) != -1) fail_msg("%s", ls_error_message());
    snprintf(out, size, "%s", rs.seq[0]);
    records_free(&rs);
}

static void test_equals_from_reference(void **state) {
    (void)state;
    /* '=' in SEQ is the reference base at the aligned position; with --reference it is
     * decoded through the CIGAR (soft clip and insertion take no reference base, a deletion
     * skips one), before a reverse-strand read is turned back */
    char ref[64];
    ref_bases("hs20:700-706", ref, sizeof ref);
    assert_int_equal(strlen(ref), 7);
    const char *sam =
        "@SQ\tSN:hs20\tLN:2400\n"
        "e1\t0\ths20\t700\t60\t8M\t*\t0\t0\tAC=TACGT\tIIIIIIII\n"
        "e2\t0\ths20\t700\t60\t2S2M1I2M1D2M\t*\t0\t0\tGG==T=A==\tIIIIIIIII\n"
        "e3\t16\ths20\t700\t60\t2S2M1I2M1D2M\t*\t0\t0\tGG==T=A==\tIIIIIIIII\n";
    char path[512]; /* tmp_path's buffers are reused */
    snprintf(path, sizeof path, "%s", tmp_path("equals.sam"));
    write_str(path, sam);
    SeqReaderOptions opt;
    seq_reader_options_default(&opt);
    opt.reference = DATA "ref.fa";
    Records rs;
    if (read_all(path, &opt, &rs) != -1) fail_msg("%s", ls_error_message());
    assert_int_equal(rs.n, 3);
    char want[32];
    snprintf(want, sizeof want, "AC%cTACGT", ref[2]);
    assert_string_equal(rs.seq[0], want);
    /* S: GG; M 700,701; I: T; M 702,703 (= then A); D 704; M 705,706 */
    snprintf(want, sizeof want, "GG%c%cT%cA%c%c", ref[0], ref[1], ref[2], ref[5], ref[6]);
    assert_string_equal(rs.seq[1], want);
    char rc[32];
    assert_int_equal(strlen(want), 9);
    dna_reverse_complement_letters(rc, want, 9);
    rc[9] = '\0';
    assert_string_equal(rs.seq[2], rc);
    records_free(&rs);
    /* no reference: the clear error; '=' where no reference base lies: an error naming it */
    opt.reference = NULL;
    expect_error(path, &opt, LS_ERR_FORMAT, "equals.sam: record #1 'e1': SEQ position 3 is '='",
                 "--reference", NULL);
    opt.reference = DATA "ref.fa";
    write_str(tmp_path("eq_clip.sam"), "@SQ\tSN:hs20\tLN:2400\n"
              "c1\t0\ths20\t700\t60\t1S3M\t*\t0\t0\t=ACG\tIIII\n");
    expect_error(tmp_path("eq_clip.sam"), &opt, LS_ERR_FORMAT, "'c1': SEQ position 1 is '=' in "
                 "a soft clip", NULL);
    write_str(tmp_path("eq_ins.sam"), "@SQ\tSN:hs20\tLN:2400\n"
              "i1\t0\ths20\t700\t60\t1M1I2M\t*\t0\t0\tA=CG\tIIII\n");
    expect_error(tmp_path("eq_ins.sam"), &opt, LS_ERR_FORMAT, "SEQ position 2 is '=' in an "
                 "insertion", NULL);
    write_str(tmp_path("eq_unmapped.sam"), "@SQ\tSN:hs20\tLN:2400\n"
              "u1\t4\t*\t0\t0\t*\t*\t0\t0\tAC=T\tIIII\n");
    expect_error(tmp_path("eq_unmapped.sam"), &opt, LS_ERR_FORMAT, "'u1': SEQ position 3 is '=' "
                 "but the read is not aligned", NULL);
    /* a reference without its .fai is not indexed for us */
    copy_file(DATA "ref.fa", tmp_path("ref_noindex.fa"));
    opt.reference = tmp_path("ref_noindex.fa");
    expect_error(path, &opt, LS_ERR_FORMAT, "ref_noindex.fa", "samtools faidx", NULL);
    struct stat st;
    assert_int_equal(stat(tmp_path("ref_noindex.fa.fai"), &st), -1);
}

// ---------------------------------------------------------------------------- API details

static void test_api_details(void **state) {
    (void)state;
    SeqReaderOptions opt;
    seq_reader_options_default(&opt);
    assert_null(opt.region);
    assert_int_equal(opt.min_mapq, 0);
    assert_int_equal(opt.require_flags, 0);
    assert_int_equal(opt.exclude_flags, 0x900);
    assert_null(opt.reference);
    assert_string_equal(seq_format_name(SEQ_FORMAT_FASTA), "FASTA");
    assert_string_equal(seq_format_name(SEQ_FORMAT_FASTQ), "FASTQ");
    assert_string_equal(seq_format_name(SEQ_FORMAT_SAM), "SAM");
    assert_string_equal(seq_format_name(SEQ_FORMAT_BAM), "BAM");
    assert_string_equal(seq_format_name(SEQ_FORMAT_CRAM), "CRAM");
    assert_string_equal(seq_format_name(SEQ_FORMAT_UNKNOWN), "unknown");
    assert_string_equal(seq_compression_name(SEQ_COMPRESSION_NONE), "plain");
    assert_string_equal(seq_compression_name(SEQ_COMPRESSION_GZIP), "gzip");
    assert_string_equal(seq_compression_name(SEQ_COMPRESSION_BGZF), "bgzip");
    seq_reader_close(NULL);
    seq_record_free(NULL);
    SeqReader *r = (SeqReader *)1;
    assert_int_equal(seq_reader_open(&r, NULL, NULL), LS_ERR_USAGE);
    assert_int_equal(seq_reader_open(&r, DATA "bad/empty.fa", NULL), LS_ERR_FORMAT);
    assert_null(r);

    /* an error is sticky: the next call returns it again */
    assert_int_equal(seq_reader_open(&r, DATA "bad/bad_nul.fa", NULL), 0);
    SeqRecord rec = {0};
    assert_int_equal(seq_reader_next(r, &rec), 0);
    assert_int_equal(seq_reader_next(r, &rec), LS_ERR_FORMAT);
    ls_error_clear();
    assert_int_equal(seq_reader_next(r, &rec), LS_ERR_FORMAT);
    assert_non_null(strstr(ls_error_message(), "bad_nul.fa:4:6"));
    seq_reader_close(r);

    /* one record reused across formats: FASTQ quality then FASTA (no quality) */
    assert_int_equal(seq_reader_open(&r, DATA "reads.fq", NULL), 0);
    assert_int_equal(seq_reader_next(r, &rec), 0);
    assert_non_null(rec.qual);
    seq_reader_close(r);
    assert_int_equal(seq_reader_open(&r, DATA "ref_gzip.fa.gz", NULL), 0);
    assert_int_equal(seq_reader_next(r, &rec), 0);
    assert_null(rec.qual);
    assert_string_equal(rec.name, "hs20");
    seq_reader_close(r);
    seq_record_free(&rec);
    assert_null(rec.seq);

    /* records encode straight into tokens */
    assert_int_equal(seq_reader_open(&r, DATA "ref.fa", NULL), 0);
    assert_int_equal(seq_reader_next(r, &rec), 0);
    uint8_t *tok = malloc((size_t)rec.len);
    dna_encode(tok, rec.seq, rec.len, DNA_SOFTMASK_UPPER);
    int64_t counts[DNA_VOCAB];
    dna_count(tok, rec.len, counts);
    assert_int_equal(counts[DNA_N], 600);
    assert_int_equal(counts[0] + counts[1] + counts[2] + counts[3], 1800);
    free(tok);
    seq_record_free(&rec);
    seq_reader_close(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fasta_plain_gzip_bgzip),
        cmocka_unit_test(test_fastq),
        cmocka_unit_test(test_whitespace_rules),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bgzf_block_boundaries),
        cmocka_unit_test(test_long_single_line),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_open_input_stream),
        cmocka_unit_test(test_fasta_regions),
        cmocka_unit_test(test_fasta_region_errors),
        cmocka_unit_test(test_sam_bam_cram),
        cmocka_unit_test(test_reverse_strand_original_orientation),
        cmocka_unit_test(test_filters_and_bam_regions),
        cmocka_unit_test(test_alignment_errors),
        cmocka_unit_test(test_counts_and_records_without_bases),
        cmocka_unit_test(test_equals_from_reference),
        cmocka_unit_test(test_api_details),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    signal(SIGPIPE, SIG_IGN); /* a pipe's reader that stops early must not end the test */
    hts_set_log_level(HTS_LOG_OFF); /* htslib's own warnings would clutter the TAP output */
    return cmocka_run_group_tests_name("seq", tests, setup_tmp, teardown_tmp);
}
