/*
 * tsv_internal.h — the line reader under label tables and manifests (io/ only).
 *
 * Rules (shared by every TSV longscan reads): fields are separated by single tabs and kept
 * exactly (no trimming, empty fields allowed); a trailing "\n" or "\r\n" is removed; a
 * UTF-8 byte-order mark before the first line is skipped; lines that are empty or hold only
 * spaces are skipped; a line whose first byte is '#' is a comment (the caller decides whether
 * the first one is a header). A NUL byte inside a line means the file is not text: error.
 */
#ifndef LS_TSV_INTERNAL_H
#define LS_TSV_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

typedef struct {
    FILE    *fp;
    char    *path;        /* as given, for messages */
    char    *line;        /* current line, split in place: fields point into it */
    size_t   line_cap;
    int64_t  line_no;     /* 1-based number of the current line */
    char   **fields;      /* (n_fields) */
    int      n_fields;
    int      fields_cap;
    int      comment;     /* 1 when the current line starts with '#' (fields exclude '#') */
} TsvReader;

/** Open @p path. @return 0, or LS_ERR_IO naming the file. Close with tsv_close(). */
int tsv_open(TsvReader *r, const char *path) LS_RESULT_USED;

/**
 * Read the next non-blank line and split it into r->fields.
 * @return 1 for a line, 0 at end of file, LS_ERR_IO / LS_ERR_FORMAT / LS_ERR_NOMEM (message
 *         "<file>:<line>: ...").
 */
int tsv_next(TsvReader *r) LS_RESULT_USED;

/** Close and free; safe on a zeroed or already closed reader. */
void tsv_close(TsvReader *r);

#endif
