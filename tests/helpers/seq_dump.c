/*
 * seq_dump.c — test helper: print what seq_reader yields, one record per line,
 * "name<TAB>sequence<TAB>quality" (quality "-" when absent), or the one-line error on stderr
 * with exit status 1. For eyeballing messages and for shell-level tests.
 *
 *   build/tests/helpers/seq_dump [-r REGION] [-q MINMAPQ] [-f FLAGS] [-F FLAGS] [-T REF] FILE
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/error.h"
#include "io/seq.h"

int main(int argc, char **argv) {
    SeqReaderOptions opt;
    seq_reader_options_default(&opt);
    int c;
    while ((c = getopt(argc, argv, "r:q:f:F:T:")) != -1) {
        switch (c) {
        case 'r': opt.region = optarg; break;
        case 'q': opt.min_mapq = atoi(optarg); break;
        case 'f': opt.require_flags = (uint32_t)strtoul(optarg, NULL, 0); break;
        case 'F': opt.exclude_flags = (uint32_t)strtoul(optarg, NULL, 0); break;
        case 'T': opt.reference = optarg; break;
        default: return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: seq_dump [-r REGION] [-q MINMAPQ] [-f FLAGS] [-F FLAGS] "
                        "[-T REF] FILE\n");
        return 2;
    }
    SeqReader *r = NULL;
    if (seq_reader_open(&r, argv[optind], &opt) < 0) {
        fprintf(stderr, "seq_dump: %s\n", ls_error_message());
        return 1;
    }
    fprintf(stderr, "# %s, %s\n", seq_format_name(seq_reader_format(r)),
            seq_compression_name(seq_reader_compression(r)));
    SeqRecord rec = {0};
    int64_t ret;
    while ((ret = seq_reader_next(r, &rec)) >= 0)
        printf("%s\t%s\t%s\n", rec.name, rec.seq, rec.qual ? rec.qual : "-");
    int status = 0;
    if (ret < -1) {
        fflush(stdout);
        fprintf(stderr, "seq_dump: %s\n", ls_error_message());
        status = 1;
    }
    seq_record_free(&rec);
    seq_reader_close(r);
    return status;
}
