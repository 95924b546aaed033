/*
 * tsv.c — the TSV line reader of tsv_internal.h (label tables and manifests).
 * Tested through tests/unit/test_dataset.c (CRLF, comments, blank lines, binary input).
 */
#include "io/tsv_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int tsv_open(TsvReader *r, const char *path) {
    memset(r, 0, sizeof *r);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return ls_error(LS_ERR_IO, "%s: is a directory, expected a TSV file", path);
    r->fp = fopen(path, "r");
    if (!r->fp) return ls_error(LS_ERR_IO, "%s: %s", path, strerror(errno));
    r->path = strdup(path);
    if (!r->path) {
        fclose(r->fp);
        r->fp = NULL;
        return ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
    }
    return 0;
}

static int tsv_split(TsvReader *r, char *text) {
    r->n_fields = 0;
    for (char *p = text;;) {
        if (r->n_fields == r->fields_cap) {
            int cap = r->fields_cap ? r->fields_cap * 2 : 8;
            char **f = realloc(r->fields, (size_t)cap * sizeof *f);
            if (!f) return ls_error(LS_ERR_NOMEM, "%s:%lld: out of memory", r->path,
                                    (long long)r->line_no);
            r->fields = f;
            r->fields_cap = cap;
        }
        r->fields[r->n_fields++] = p;
        char *tab = strchr(p, '\t');
        if (!tab) break;
        *tab = '\0';
        p = tab + 1;
    }
    return 0;
}

int tsv_next(TsvReader *r) {
    for (;;) {
        errno = 0;
        ssize_t n = getline(&r->line, &r->line_cap, r->fp);
        if (n < 0) {
            if (ferror(r->fp))
                return ls_error(LS_ERR_IO, "%s:%lld: read failed: %s", r->path,
                                (long long)r->line_no + 1, strerror(errno ? errno : EIO));
            return 0;
        }
        r->line_no++;
        char *s = r->line;
        if ((size_t)n != strlen(s))
            return ls_error(LS_ERR_FORMAT, "%s:%lld: NUL byte in the line: not a text file "
                            "(a TSV was expected)", r->path, (long long)r->line_no);
        if (n > 0 && s[n - 1] == '\n') s[--n] = '\0';
        if (n > 0 && s[n - 1] == '\r') s[--n] = '\0';
        if (r->line_no == 1 && (unsigned char)s[0] == 0xef && (unsigned char)s[1] == 0xbb &&
            (unsigned char)s[2] == 0xbf)
            s += 3;
        size_t blank = strspn(s, " ");
        if (s[blank] == '\0') continue;
        r->comment = s[0] == '#';
        int status = tsv_split(r, r->comment ? s + 1 : s);
        return status < 0 ? status : 1;
    }
}

void tsv_close(TsvReader *r) {
    if (r->fp) fclose(r->fp);
    free(r->path);
    free(r->line);
    free(r->fields);
    memset(r, 0, sizeof *r);
}
