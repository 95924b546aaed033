/*
 * fuzz_seq.c — libFuzzer target for io/seq.c: the input bytes are written to a temporary file,
 * opened with seq_reader_open (format found by content: FASTA, FASTQ, gzip/bgzip of either,
 * SAM, BAM; CRAM is skipped, see below) and every record is read and encoded. Any outcome but a crash, a leak or
 * undefined behaviour is fine; errors must simply come back as codes.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_seq -max_total_time=60 tests/fuzz/corpus/seq
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <htslib/hts_log.h>

#include "common/error.h"
#include "io/encode.h"
#include "io/seq.h"

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    hts_set_log_level(HTS_LOG_OFF);
    /* CRAM inputs must not send htslib looking for references on the network */
    setenv("REF_PATH", ":", 1);
    setenv("REF_CACHE", ":", 1);
    snprintf(path, sizeof path, "/tmp/fuzz_seq.%d", (int)getpid());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* CRAM decoding is htslib's own (fuzzed upstream by OSS-Fuzz) and allocates whatever
     * container size a corrupt file claims, which libFuzzer reports as out-of-memory; keep
     * the fuzzer on our code and the formats we parse or check ourselves. */
    if (size >= 4 && memcmp(data, "CRAM", 4) == 0) return 0;
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    if (size && fwrite(data, 1, size, f) != size) {
        fclose(f);
        return 0;
    }
    fclose(f);
    SeqReader *r = NULL;
    if (seq_reader_open(&r, path, NULL) == 0) {
        SeqRecord rec = {0};
        uint8_t *tokens = NULL;
        while (seq_reader_next(r, &rec) >= 0) {
            uint8_t *t = realloc(tokens, (size_t)rec.len);
            if (!t) break;
            tokens = t;
            dna_encode(tokens, rec.seq, rec.len, DNA_SOFTMASK_AS_N);
            if (dna_find_invalid(rec.seq, rec.len) != -1) abort(); /* the reader's promise */
        }
        free(tokens);
        seq_record_free(&rec);
        seq_reader_close(r);
    }
    unlink(path);
    return 0;
}
