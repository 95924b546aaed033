/*
 * detect.c — inputs opened once, kind from magic bytes; see detect.h.
 * Tested by tests/unit/test_detect.c and the pipe cases of tests/cli/inputs.tst.
 */
#include "io/detect.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <htslib/hfile.h>

enum { DETECT_PEEK = 64 }; /* bytes looked at: every magic below fits */

struct InputFile {
    char       *path;
    const char *name;    /* path, or "<stdin>" */
    InputKind   kind;
    int         stream;  /* not a regular file */
    hFILE      *hf;      /* a stream's handle until taken */
    int         taken;
};

/* An MPEG-1/2/2.5 audio frame header (layers I-III) at @p h: 11 sync bits, a version and a
 * layer that are not "reserved", a bitrate index that is not 15 and a rate index that is not
 * 3. ADTS (AAC) has layer 0 and is not taken. */
static int is_mpeg_frame(const unsigned char *h, size_t n) {
    if (n < 4 || h[0] != 0xFF || (h[1] & 0xE0) != 0xE0) return 0;
    int version = (h[1] >> 3) & 3, layer = (h[1] >> 1) & 3;
    int bitrate = h[2] >> 4, rate = (h[2] >> 2) & 3;
    return version != 1 && layer != 0 && bitrate != 15 && rate != 3;
}

/* An ID3v2 tag: "ID3", major version 2..4, revision != 0xFF, four 7-bit size bytes. */
static int is_id3v2(const unsigned char *h, size_t n) {
    return n >= 10 && memcmp(h, "ID3", 3) == 0 && h[3] >= 2 && h[3] <= 4 && h[4] != 0xFF &&
           (h[6] | h[7] | h[8] | h[9]) < 0x80;
}

static InputKind kind_of(const unsigned char *head, size_t got) {
    /* safetensors: little-endian u64 header length (< 2^40 in any sane file) then '{' */
    if (got >= 9 && head[8] == '{' && head[5] == 0 && head[6] == 0 && head[7] == 0)
        return INPUT_KIND_CHECKPOINT;
    static const char *const audio_magic[] = {"RIFF", "RIFX", "RF64", "fLaC", "OggS",
                                              "FORM", ".snd", "riff", "caff", "wvpk"};
    for (size_t i = 0; i < sizeof audio_magic / sizeof audio_magic[0]; i++)
        if (got >= 4 && memcmp(head, audio_magic[i], 4) == 0) return INPUT_KIND_AUDIO;
    if (is_id3v2(head, got) || is_mpeg_frame(head, got)) return INPUT_KIND_AUDIO;
    return INPUT_KIND_SEQ;
}

/* Read the first bytes of regular file @p fd without moving its offset ("-" may be a file
 * redirected to stdin and read from where it stands). */
static ssize_t peek_regular(int fd, unsigned char *head, size_t n) {
    off_t at = lseek(fd, 0, SEEK_CUR);
    if (at < 0) at = 0;
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(fd, head + done, n - done, at + (off_t)done);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return -1;
        if (got == 0) break;
        done += (size_t)got;
    }
    return (ssize_t)done;
}

hFILE *input_hdopen_stdin(void) {
    int fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) return NULL;
    hFILE *hf = hdopen(fd, "r");
    if (!hf) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return hf;
}

int input_open(InputFile **out, const char *path) {
    InputFile *in = NULL;
    int status = 0, fd = -1;
    *out = NULL;
    if (!path) return ls_error(LS_ERR_USAGE, "input_open: no path given");
    in = calloc(1, sizeof *in);
    if (!in || !(in->path = strdup(path))) {
        free(in);
        return ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
    }
    int is_stdin = strcmp(path, "-") == 0;
    in->name = is_stdin ? "<stdin>" : in->path;
    struct stat st;
    if ((is_stdin ? fstat(0, &st) : stat(path, &st)) != 0) {
        status = ls_error(LS_ERR_IO, "%s: %s", in->name, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        status = ls_error(LS_ERR_IO, "%s: is a directory", in->name);
        goto fail;
    }
    in->stream = !S_ISREG(st.st_mode);
    unsigned char head[DETECT_PEEK] = {0};
    ssize_t got;
    if (!in->stream) {
        fd = is_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            status = ls_error(LS_ERR_IO, "%s: %s", in->name, strerror(errno));
            goto fail;
        }
        got = peek_regular(fd, head, sizeof head);
        int read_errno = errno;
        if (!is_stdin) close(fd);
        if (got < 0) {
            status = ls_error(LS_ERR_IO, "%s: %s", in->name, strerror(read_errno));
            goto fail;
        }
    } else {
        /* opened once; a FIFO's open waits for its writer, as with any reader */
        in->hf = is_stdin ? input_hdopen_stdin() : hopen(path, "r");
        if (!in->hf) {
            status = ls_error(LS_ERR_IO, "%s: cannot open: %s", in->name, strerror(errno));
            goto fail;
        }
        got = hpeek(in->hf, head, sizeof head);
        if (got < 0) {
            status = ls_error(LS_ERR_IO, "%s: cannot read: %s", in->name, strerror(errno));
            goto fail;
        }
    }
    if (got == 0) {
        status = ls_error(LS_ERR_FORMAT, "%s: empty %s", in->name, in->stream ? "input" : "file");
        goto fail;
    }
    in->kind = kind_of(head, (size_t)got);
    *out = in;
    return 0;
fail:
    input_close(in);
    return status;
}

InputKind input_kind(const InputFile *in) { return in->kind; }
const char *input_path(const InputFile *in) { return in->path; }
const char *input_name(const InputFile *in) { return in->name; }
int input_is_stream(const InputFile *in) { return in->stream; }

hFILE *input_take_hfile(InputFile *in) {
    if (!in->stream || in->taken || !in->hf) {
        ls_error(LS_ERR_USAGE, "%s: %s", in->name,
                 in->stream ? "this stream was read already (a pipe can be read once)"
                            : "not a stream");
        return NULL;
    }
    hFILE *hf = in->hf;
    in->hf = NULL;
    in->taken = 1;
    return hf;
}

void input_close(InputFile *in) {
    if (!in) return;
    if (in->hf) hclose_abruptly(in->hf);
    free(in->path);
    free(in);
}

int input_check_streams(char *const *paths, int n) {
    struct stat st_i, st_j;
    for (int i = 0; i < n; i++) {
        int stdin_i = strcmp(paths[i], "-") == 0;
        if ((stdin_i ? fstat(0, &st_i) : stat(paths[i], &st_i)) != 0) continue;
        if (!stdin_i && (S_ISREG(st_i.st_mode) || S_ISDIR(st_i.st_mode))) continue;
        for (int j = 0; j < i; j++) {
            int stdin_j = strcmp(paths[j], "-") == 0;
            if (stdin_i && stdin_j)
                return ls_error(LS_ERR_USAGE, "'-' (standard input) is given twice; it can "
                                "be read once");
            if ((stdin_j ? fstat(0, &st_j) : stat(paths[j], &st_j)) != 0) continue;
            if (S_ISREG(st_i.st_mode)) continue; /* "-" redirected from a file */
            if (st_i.st_dev == st_j.st_dev && st_i.st_ino == st_j.st_ino &&
                strcmp(paths[i], paths[j]) == 0)
                return ls_error(LS_ERR_USAGE, "%s is given twice; a stream (pipe, FIFO) can be "
                                "read once", paths[i]);
            if (st_i.st_dev == st_j.st_dev && st_i.st_ino == st_j.st_ino)
                return ls_error(LS_ERR_USAGE, "%s and %s are the same stream, which can be "
                                "read once", paths[j], paths[i]);
        }
    }
    return 0;
}

const char *input_kind_name(InputKind kind) {
    switch (kind) {
    case INPUT_KIND_SEQ:        return "sequence";
    case INPUT_KIND_AUDIO:      return "audio";
    case INPUT_KIND_CHECKPOINT: return "checkpoint";
    default:                    return "auto";
    }
}
