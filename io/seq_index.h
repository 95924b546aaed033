/*
 * seq_index.h — an indexed FASTA read piece by piece through htslib's faidx: the records of a
 * plain or bgzip-compressed FASTA with its .fai (and .gzi for bgzip), or one region of one,
 * fetched in pieces of any size, so that a whole chromosome goes through a model while only a
 * piece of it is in memory (`score --stream`, `embed --stream`).
 *
 * Every piece is checked as seq_reader_next() checks a record: IUPAC nucleotide letters only,
 * else an error naming the file, the record and the 1-based base position. The index is only
 * read, never built or written: a file without one is LS_ERR_UNSUPPORTED, so the caller can
 * read it whole with io/seq.h instead.
 *
 * Tested by tests/unit/test_seq_index.c (pieces ≡ the reader's records, regions, bad bytes,
 * stale index) and through tests/cli/stream.tst.
 */
#ifndef LS_SEQ_INDEX_H
#define LS_SEQ_INDEX_H

#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct SeqIndex SeqIndex;

/**
 * Open @p path, a FASTA file with an index beside it (PATH.fai, and PATH.gzi when bgzipped).
 * @return 0 and *out (free with seq_index_close()); LS_ERR_UNSUPPORTED (message set, nothing
 *         wrong with the file) when it is not a regular file, not FASTA, plain gzip, or has no
 *         index; LS_ERR_FORMAT for an index that does not load; LS_ERR_IO, LS_ERR_NOMEM.
 */
int seq_index_open(SeqIndex **out, const char *path) LS_RESULT_USED;
void seq_index_close(SeqIndex *ix);

/** Records in the index, in its order; their names and lengths (0 <= i < count). */
int         seq_index_count(const SeqIndex *ix);
const char *seq_index_name(const SeqIndex *ix, int i);
int64_t     seq_index_length(const SeqIndex *ix, int i);

/**
 * A samtools region ("chr2", "chr2:1000-2000", "chr2:1,000-"; 1-based, inclusive) as record
 * *i and 0-based half-open [*beg, *end), the end clipped to the record.
 * @return 0; LS_ERR_NOT_FOUND (no such record), LS_ERR_USAGE (malformed, or starting at 0),
 *         LS_ERR_RANGE (starting after the record's end); messages name the file and region.
 */
int seq_index_region(const SeqIndex *ix, const char *region, int *i, int64_t *beg,
                     int64_t *end) LS_RESULT_USED;

/**
 * Bases [beg, end) of record @p i (0 <= beg < end <= its length) into @p dst, end − beg bytes
 * as in the file (no NUL added), checked.
 * @return 0; LS_ERR_FORMAT (a byte that is not a nucleotide letter — the message names the
 *         record and the 1-based position —, or the file shorter than its index says),
 *         LS_ERR_USAGE (a range outside the record).
 */
int seq_index_fetch(SeqIndex *ix, int i, int64_t beg, int64_t end, char *dst) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
