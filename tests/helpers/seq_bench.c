/*
 * seq_bench.c — timing program for the DNA reader and encoder (a benchmark, not a test).
 *
 *   build/tests/helpers/seq_bench FILE [REPEATS] [REGION]
 *
 * Each repeat opens FILE with seq_reader_open, reads every record (the reader validates every
 * base) and dna_encode()s it into one reused token buffer; prints bases, seconds and MB/s of
 * bases for each repeat and the best. Then, on the last record held in memory, times
 * dna_find_invalid, dna_encode (both soft-mask modes, and in place) and dna_count alone.
 * One thread; timings on a shared machine vary, so take the best of several repeats.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "io/encode.h"
#include "io/seq.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: seq_bench FILE [REPEATS] [REGION]\n");
        return 1;
    }
    int repeats = argc > 2 ? atoi(argv[2]) : 5;
    SeqReaderOptions opt;
    seq_reader_options_default(&opt);
    if (argc > 3) opt.region = argv[3];
    SeqRecord rec = {0};
    uint8_t *tokens = NULL;
    size_t tokens_cap = 0;
    double best = 1e30;
    int64_t bases = 0;
    for (int rep = 0; rep < repeats; rep++) {
        double t0 = now();
        SeqReader *r = NULL;
        if (seq_reader_open(&r, argv[1], &opt) < 0) {
            fprintf(stderr, "seq_bench: %s\n", ls_error_message());
            return 1;
        }
        int64_t ret, records = 0;
        bases = 0;
        while ((ret = seq_reader_next(r, &rec)) >= 0) {
            if ((size_t)rec.len > tokens_cap) {
                free(tokens);
                tokens_cap = (size_t)rec.len;
                tokens = malloc(tokens_cap);
                if (!tokens) return 1;
            }
            dna_encode(tokens, rec.seq, rec.len, DNA_SOFTMASK_UPPER);
            bases += rec.len;
            records++;
        }
        if (ret < -1) {
            fprintf(stderr, "seq_bench: %s\n", ls_error_message());
            return 1;
        }
        seq_reader_close(r);
        double dt = now() - t0;
        if (dt < best) best = dt;
        printf("read+encode %s (%s, %lld records): %lld bases in %.3f s = %.0f MB/s\n",
               argv[1], rep == 0 ? "first" : "again", (long long)records, (long long)bases, dt,
               (double)bases / dt / 1e6);
    }
    printf("best read+encode: %.0f MB/s of bases\n", (double)bases / best / 1e6);

    if (rec.len > 0) {
        int64_t n = rec.len, counts[DNA_VOCAB];
        double b_find = 1e30, b_enc = 1e30, b_mask = 1e30, b_inplace = 1e30, b_count = 1e30;
        char *copy = malloc((size_t)n);
        for (int rep = 0; rep < repeats; rep++) {
            double t0 = now();
            int64_t bad = dna_find_invalid(rec.seq, n);
            double t1 = now();
            dna_encode(tokens, rec.seq, n, DNA_SOFTMASK_UPPER);
            double t2 = now();
            dna_encode(tokens, rec.seq, n, DNA_SOFTMASK_AS_N);
            double t3 = now();
            dna_count(tokens, n, counts);
            double t4 = now();
            memcpy(copy, rec.seq, (size_t)n);
            double t5 = now();
            dna_encode((uint8_t *)copy, copy, n, DNA_SOFTMASK_UPPER);
            double t6 = now();
            if (bad >= 0) printf("(invalid byte at %lld)\n", (long long)bad);
            if (t1 - t0 < b_find) b_find = t1 - t0;
            if (t2 - t1 < b_enc) b_enc = t2 - t1;
            if (t3 - t2 < b_mask) b_mask = t3 - t2;
            if (t4 - t3 < b_count) b_count = t4 - t3;
            if (t6 - t5 < b_inplace) b_inplace = t6 - t5;
        }
        printf("on the last record (%lld bases), best of %d:\n", (long long)n, repeats);
        printf("  dna_find_invalid          %7.0f MB/s\n", (double)n / b_find / 1e6);
        printf("  dna_encode                %7.0f MB/s\n", (double)n / b_enc / 1e6);
        printf("  dna_encode soft-mask as N %7.0f MB/s\n", (double)n / b_mask / 1e6);
        printf("  dna_encode in place       %7.0f MB/s\n", (double)n / b_inplace / 1e6);
        printf("  dna_count                 %7.0f MB/s\n", (double)n / b_count / 1e6);
        printf("  counts A C G T N: %lld %lld %lld %lld %lld\n", (long long)counts[0],
               (long long)counts[1], (long long)counts[2], (long long)counts[3],
               (long long)counts[4]);
        free(copy);
    }
    free(tokens);
    seq_record_free(&rec);
    return 0;
}
