/*
 * test_seq_index.c — io/seq_index.h on tests/data/seq: the pieces of every record, fetched
 * at every piece size from 1 to past the record, concatenate to the record io/seq.h reads
 * (plain and bgzip FASTA); regions as samtools reads them; files it must leave to the whole-
 * record reader (plain gzip, no index, FASTQ, stdin) are LS_ERR_UNSUPPORTED; a byte that is not
 * a nucleotide letter and a file shorter than its index are errors naming the record and the
 * base. Runs from the repository root (make test).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <htslib/faidx.h>
#include <htslib/hts.h>

#include "io/seq.h"
#include "io/seq_index.h"

#define DATA "tests/data/seq/"

#define OK(expr)                                                                                   \
    do {                                                                                           \
        if ((expr) < 0) fail_msg("%s: %s", #expr, ls_error_message());                             \
    } while (0)

static void same_as_reader(const char *path) {
    SeqIndex *ix = NULL;
    SeqReader *r = NULL;
    SeqRecord rec = {0};
    OK(seq_index_open(&ix, path));
    OK(seq_reader_open(&r, path, NULL));
    int i = 0;
    for (; seq_reader_next(r, &rec) >= 0; i++) {
        assert_true(i < seq_index_count(ix));
        assert_string_equal(seq_index_name(ix, i), rec.name);
        assert_int_equal(seq_index_length(ix, i), rec.len);
        char *buf = malloc((size_t)rec.len + 1);
        for (int64_t piece = 1; piece <= rec.len + 3; piece = piece < 8 ? piece + 1 : piece * 3) {
            memset(buf, 0, (size_t)rec.len + 1);
            for (int64_t at = 0; at < rec.len; at += piece)
                OK(seq_index_fetch(ix, i, at, at + piece < rec.len ? at + piece : rec.len,
                                   buf + at));
            if (memcmp(buf, rec.seq, (size_t)rec.len) != 0)
                fail_msg("%s: record '%s' in pieces of %lld differs from the reader's", path,
                         rec.name, (long long)piece);
        }
        free(buf);
    }
    assert_int_equal(i, seq_index_count(ix));
    printf("#   %s: %d records, every piece size equals the reader\n", path, i);
    seq_record_free(&rec);
    seq_reader_close(r);
    seq_index_close(ix);
}

static void test_pieces(void **state) {
    (void)state;
    same_as_reader(DATA "ref.fa");
    same_as_reader(DATA "ref_bgzip.fa.gz");
}

static void test_regions(void **state) {
    (void)state;
    SeqIndex *ix = NULL;
    OK(seq_index_open(&ix, DATA "ref_bgzip.fa.gz"));
    const char *name = seq_index_name(ix, 0);
    const int64_t len = seq_index_length(ix, 0);
    char region[256];
    int i;
    int64_t beg, end;
    snprintf(region, sizeof region, "%s:2-5", name);
    OK(seq_index_region(ix, region, &i, &beg, &end));
    assert_int_equal(i, 0);
    assert_int_equal(beg, 1);
    assert_int_equal(end, 5);
    // the same bases as the reader's region record
    SeqReaderOptions o;
    seq_reader_options_default(&o);
    o.region = region;
    SeqReader *r = NULL;
    SeqRecord rec = {0};
    OK(seq_reader_open(&r, DATA "ref_bgzip.fa.gz", &o));
    assert_true(seq_reader_next(r, &rec) >= 0);
    char got[8];
    OK(seq_index_fetch(ix, i, beg, end, got));
    assert_memory_equal(got, rec.seq, 4);
    seq_record_free(&rec);
    seq_reader_close(r);
    snprintf(region, sizeof region, "%s:3-999999999", name); // the end is clipped
    OK(seq_index_region(ix, region, &i, &beg, &end));
    assert_int_equal(end, len);
    assert_int_equal(seq_index_region(ix, "no_such_record", &i, &beg, &end), LS_ERR_NOT_FOUND);
    snprintf(region, sizeof region, "%s:0-5", name);
    assert_int_equal(seq_index_region(ix, region, &i, &beg, &end), LS_ERR_USAGE);
    snprintf(region, sizeof region, "%s:%lld-", name, (long long)len + 5);
    assert_int_equal(seq_index_region(ix, region, &i, &beg, &end), LS_ERR_RANGE);
    assert_int_equal(seq_index_fetch(ix, 0, 0, len + 1, got), LS_ERR_USAGE);
    seq_index_close(ix);
}

static void test_left_to_the_reader(void **state) {
    (void)state;
    SeqIndex *ix = NULL;
    assert_int_equal(seq_index_open(&ix, DATA "ref_gzip.fa.gz"), LS_ERR_UNSUPPORTED);
    assert_int_equal(seq_index_open(&ix, DATA "reads.fq"), LS_ERR_UNSUPPORTED);
    assert_int_equal(seq_index_open(&ix, "-"), LS_ERR_UNSUPPORTED);
    assert_int_equal(seq_index_open(&ix, DATA "no_such.fa"), LS_ERR_UNSUPPORTED);
    assert_null(ix);
}

static void test_bad_files(void **state) {
    (void)state;
    char dir[] = "/tmp/test_seq_index.XXXXXX", path[256], fai[300];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/x.fa", dir);
    snprintf(fai, sizeof fai, "%s.fai", path);
    FILE *f = fopen(path, "w");
    fputs(">a\nACGTACGTAC\nGTAC*GTACG\nAC\n>b\nNNNN\n", f);
    fclose(f);
    SeqIndex *ix = NULL;
    assert_int_equal(seq_index_open(&ix, path), LS_ERR_UNSUPPORTED); // no index yet
    assert_non_null(strstr(ls_error_message(), "samtools faidx"));
    assert_int_equal(fai_build(path), 0);
    OK(seq_index_open(&ix, path));
    char buf[32];
    OK(seq_index_fetch(ix, 0, 0, 14, buf));
    assert_int_equal(seq_index_fetch(ix, 0, 10, 20, buf), LS_ERR_FORMAT);
    assert_non_null(strstr(ls_error_message(), "record 'a': base 15: unexpected byte 0x2a"));
    seq_index_close(ix);
    // cut short after indexing: the bases the index promises are not there
    assert_int_equal(truncate(path, 20), 0);
    OK(seq_index_open(&ix, path));
    assert_int_equal(seq_index_fetch(ix, 1, 0, 4, buf), LS_ERR_FORMAT);
    printf("#   %s\n", ls_error_message());
    seq_index_close(ix);
    unlink(fai);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    hts_set_log_level(HTS_LOG_OFF); // htslib's own [E::...] lines; the errors are checked here
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pieces),
        cmocka_unit_test(test_regions),
        cmocka_unit_test(test_left_to_the_reader),
        cmocka_unit_test(test_bad_files),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("seq_index", tests, NULL, NULL);
}
