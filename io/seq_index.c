/*
 * seq_index.c — pieces of an indexed FASTA through faidx; see seq_index.h.
 * Tested by tests/unit/test_seq_index.c.
 */
#include "io/seq_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <htslib/faidx.h>
#include <htslib/hfile.h>
#include <htslib/hts.h>

#include "io/encode.h"

struct SeqIndex {
    faidx_t *fai;
    char *path;
};

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int seq_index_open(SeqIndex **out, const char *path) {
    *out = NULL;
    struct stat st;
    if (strcmp(path, "-") == 0 || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return ls_error(LS_ERR_UNSUPPORTED, "%s: not a regular file (no index)", path);
    hFILE *hf = hopen(path, "r");
    htsFormat f;
    if (!hf) return ls_error(LS_ERR_UNSUPPORTED, "%s: cannot open", path);
    int detected = hts_detect_format2(hf, path, &f);
    hclose_abruptly(hf);
    if (detected < 0 || f.format != fasta_format)
        return ls_error(LS_ERR_UNSUPPORTED, "%s: not FASTA", path);
    if (f.compression == gzip)
        return ls_error(LS_ERR_UNSUPPORTED, "%s: plain gzip has no random access", path);
    const int bgzip = f.compression == bgzf;
    size_t n = strlen(path) + 5;
    char *fai = malloc(n), *gzi = malloc(n);
    SeqIndex *ix = calloc(1, sizeof *ix);
    int status = 0;
    if (!fai || !gzi || !ix || !(ix->path = strdup(path))) {
        status = ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    snprintf(fai, n, "%s.fai", path);
    snprintf(gzi, n, "%s.gzi", path);
    if (!exists(fai) || (bgzip && !exists(gzi))) {
        status = ls_error(LS_ERR_UNSUPPORTED, "%s: no index %s (create it with `samtools faidx "
                          "%s`)", path, !exists(fai) ? fai : gzi, path);
        goto fail;
    }
    ix->fai = fai_load3(path, fai, bgzip ? gzi : NULL, 0); /* flags 0: never build one */
    if (!ix->fai) {
        status = ls_error(LS_ERR_FORMAT, "%s: cannot load the index %s (malformed or out of "
                          "date? rebuild it with `samtools faidx %s`)", path, fai, path);
        goto fail;
    }
    *out = ix;
    ix = NULL;
fail:
    free(fai);
    free(gzi);
    seq_index_close(ix);
    return status;
}

void seq_index_close(SeqIndex *ix) {
    if (!ix) return;
    if (ix->fai) fai_destroy(ix->fai);
    free(ix->path);
    free(ix);
}

int seq_index_count(const SeqIndex *ix) { return faidx_nseq(ix->fai); }

const char *seq_index_name(const SeqIndex *ix, int i) { return faidx_iseq(ix->fai, i); }

int64_t seq_index_length(const SeqIndex *ix, int i) {
    return faidx_seq_len(ix->fai, faidx_iseq(ix->fai, i)); /* int in htslib 1.16 */
}

int seq_index_region(const SeqIndex *ix, const char *region, int *i, int64_t *beg,
                     int64_t *end) {
    hts_pos_t b = 0, e = 0;
    int tid = -1;
    if (!fai_parse_region(ix->fai, region, &tid, &b, &e, 0)) {
        if (tid == -1) {
            const char *colon = strrchr(region, ':');
            int len = colon ? (int)(colon - region) : (int)strlen(region);
            return ls_error(LS_ERR_NOT_FOUND, "%s: region '%s': no sequence named '%.*s' in the "
                            "index", ix->path, region, len, region);
        }
        return ls_error(LS_ERR_USAGE, "%s: region '%s' is not a valid region (NAME, NAME:BEG-END, "
                        "NAME:BEG-; 1-based, inclusive)", ix->path, region);
    }
    if (b < 0)
        return ls_error(LS_ERR_USAGE, "%s: region '%s' starts at 0, but positions are 1-based",
                        ix->path, region);
    const int64_t len = seq_index_length(ix, tid);
    if (b >= len)
        return ls_error(LS_ERR_RANGE, "%s: region '%s' starts at %lld, after the end of '%s' "
                        "(%lld bases)", ix->path, region, (long long)b + 1,
                        seq_index_name(ix, tid), (long long)len);
    *i = tid;
    *beg = b;
    *end = e > len ? len : e;
    return 0;
}

int seq_index_fetch(SeqIndex *ix, int i, int64_t beg, int64_t end, char *dst) {
    const char *name = seq_index_name(ix, i);
    if (beg < 0 || end <= beg || end > seq_index_length(ix, i))
        return ls_error(LS_ERR_USAGE, "seq_index_fetch: [%lld, %lld) outside '%s'", (long long)beg,
                        (long long)end, name);
    hts_pos_t got = 0;
    char *seq = faidx_fetch_seq64(ix->fai, name, beg, end - 1, &got);
    if (!seq || got != end - beg) {
        free(seq);
        return ls_error(LS_ERR_FORMAT, "%s: record '%s': reading bases %lld-%lld failed (file "
                        "truncated, or the index out of date? rebuild it with `samtools faidx "
                        "%s`)", ix->path, name, (long long)beg + 1, (long long)end, ix->path);
    }
    int64_t bad = dna_find_invalid(seq, got);
    if (bad >= 0) {
        unsigned char c = (unsigned char)seq[bad];
        free(seq);
        return ls_error(LS_ERR_FORMAT, "%s: record '%s': base %lld: unexpected byte 0x%02x%s%c%s, "
                        "not an IUPAC nucleotide letter", ix->path, name,
                        (long long)(beg + bad + 1), c, c >= 0x20 && c < 0x7f ? " ('" : "",
                        c >= 0x20 && c < 0x7f ? c : ' ', c >= 0x20 && c < 0x7f ? "')" : "");
    }
    memcpy(dst, seq, (size_t)got);
    free(seq);
    return 0;
}
