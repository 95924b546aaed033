/* test_detect.c — io/detect.h: the kind of an input from its first bytes (every magic we
 * take, MP3 by frame header and by ID3v2 tag, and look-alikes that must stay "sequence"),
 * errors, and streams: a pipe on stdin, /dev/fd/N and a named FIFO are opened once, their
 * first bytes peeked at and handed on unread; a stream named twice is caught.
 * Run from the repository root (make test does). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <htslib/hfile.h>

#include "common/error.h"
#include "io/detect.h"

static char tmp_dir[] = "/tmp/longscan_test_detect_XXXXXX";

static const char *tmp_file(const char *name, const void *bytes, size_t n) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp_dir, name);
    FILE *f = fopen(buf[k], "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
    return buf[k];
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static int group_setup(void **state) {
    (void)state;
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    return nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void expect_error(int got, int code, const char *what) {
    if (got != code) fail_msg("expected code %d, got %d (%s)", code, got, ls_error_message());
    if (what && !strstr(ls_error_message(), what))
        fail_msg("message \"%s\" does not say \"%s\"", ls_error_message(), what);
}

static InputKind kind_of_bytes(const char *name, const void *bytes, size_t n) {
    InputFile *in = NULL;
    const char *path = tmp_file(name, bytes, n);
    if (input_open(&in, path) != 0) fail_msg("input_open(%s): %s", path, ls_error_message());
    InputKind kind = input_kind(in);
    assert_int_equal(input_is_stream(in), 0);
    assert_string_equal(input_path(in), path);
    input_close(in);
    return kind;
}

// ---------------------------------------------------------------------------- kinds

static void test_kinds(void **state) {
    (void)state;
    static const struct {
        const char *name;
        const char *bytes;
        size_t n;
        InputKind kind;
    } cases[] = {
        {"a.fa", ">r1\nACGT\n", 9, INPUT_KIND_SEQ},
        {"a.fq", "@q\nAC\n+\nII\n", 12, INPUT_KIND_SEQ},
        {"a.gz", "\x1f\x8b\x08\x04\0\0\0\0", 8, INPUT_KIND_SEQ},
        {"a.st", "\x10\0\0\0\0\0\0\0{\"a\":1}        ", 24, INPUT_KIND_CHECKPOINT},
        {"a.wav", "RIFF\x24\0\0\0WAVEfmt ", 16, INPUT_KIND_AUDIO},
        {"a.flac", "fLaC\0\0\0\x22", 8, INPUT_KIND_AUDIO},
        {"a.ogg", "OggS\0\x02\0\0", 8, INPUT_KIND_AUDIO},
        {"a.aiff", "FORM\0\0\0\0AIFF", 12, INPUT_KIND_AUDIO},
        {"a.caf", "caff\0\x01\0\0", 8, INPUT_KIND_AUDIO},
        /* MPEG-1 layer III, 128 kbit/s, 44.1 kHz (what lame writes by default) */
        {"a.mp3", "\xff\xfb\x90\x64\0\0\0\0", 8, INPUT_KIND_AUDIO},
        /* MPEG-2.5 layer III, 8 kHz (what libsndfile writes at 8 kHz) */
        {"b.mp3", "\xff\xe3\x48\xc4\0\0\0\0", 8, INPUT_KIND_AUDIO},
        /* MPEG-2 layer II */
        {"c.mp2", "\xff\xf4\x50\xc4\0\0\0\0", 8, INPUT_KIND_AUDIO},
        /* ID3v2.3 tag in front of the frames, 29-byte tag */
        {"d.mp3", "ID3\x03\0\0\0\0\0\x1dTIT2", 14, INPUT_KIND_AUDIO},
        {"e.mp3", "ID3\x04\0\0\0\0\x01\x7f", 10, INPUT_KIND_AUDIO},
        /* look-alikes that are not MP3: AAC in ADTS (layer 0), a bitrate index of 15, a rate
         * index of 3, the reserved version, an "ID3" tag with a size byte >= 0x80, text */
        {"a.aac", "\xff\xf1\x50\x80\0\0\0\0", 8, INPUT_KIND_SEQ},
        {"f.bin", "\xff\xfb\xf0\x64\0\0\0\0", 8, INPUT_KIND_SEQ},
        {"g.bin", "\xff\xfb\x9c\x64\0\0\0\0", 8, INPUT_KIND_SEQ},
        {"h.bin", "\xff\xeb\x90\x64\0\0\0\0", 8, INPUT_KIND_SEQ},
        {"i.bin", "ID3\x03\0\0\x80\0\0\0", 10, INPUT_KIND_SEQ},
        {"j.txt", "ID3 tag list\n", 13, INPUT_KIND_SEQ},
        {"k.bin", "\xff", 1, INPUT_KIND_SEQ},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        InputKind got = kind_of_bytes(cases[i].name, cases[i].bytes, cases[i].n);
        if (got != cases[i].kind)
            fail_msg("%s: detected as %s, expected %s", cases[i].name, input_kind_name(got),
                     input_kind_name(cases[i].kind));
    }
    assert_string_equal(input_kind_name(INPUT_KIND_AUTO), "auto");
}

static void test_errors(void **state) {
    (void)state;
    InputFile *in = (InputFile *)0x1;
    char missing[600];
    snprintf(missing, sizeof missing, "%s/missing.fa", tmp_dir);
    expect_error(input_open(&in, missing), LS_ERR_IO, "No such file");
    assert_null(in);
    expect_error(input_open(&in, tmp_dir), LS_ERR_IO, "is a directory");
    expect_error(input_open(&in, tmp_file("empty.fa", "", 0)), LS_ERR_FORMAT, "empty file");
    expect_error(input_open(&in, NULL), LS_ERR_USAGE, NULL);
    /* a regular file hands out no stream handle */
    assert_int_equal(input_open(&in, tmp_file("r.fa", ">r\nA\n", 5)), 0);
    assert_null(input_take_hfile(in));
    expect_error(ls_error_code(), LS_ERR_USAGE, "not a stream");
    input_close(in);
    input_close(NULL);
}

// ---------------------------------------------------------------------------- streams

typedef struct {
    const char *path; /* open this for writing (a FIFO), or */
    int fd;           /* write to this descriptor */
    const char *bytes;
    size_t n;
} Writer;

static void *writer_run(void *arg) {
    Writer *w = arg;
    int fd = w->path ? open(w->path, O_WRONLY) : w->fd;
    if (fd < 0) return NULL;
    size_t done = 0;
    while (done < w->n) {
        ssize_t k = write(fd, w->bytes + done, w->n - done);
        if (k <= 0) break;
        done += (size_t)k;
    }
    close(fd);
    return NULL;
}

/* Everything left in @p hf, which is closed. */
static char *read_all_hfile(hFILE *hf, size_t *n) {
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    assert_non_null(buf);
    *n = 0;
    ssize_t got;
    while ((got = hread(hf, buf + *n, cap - *n)) > 0) {
        *n += (size_t)got;
        if (*n == cap) {
            buf = realloc(buf, cap *= 2);
            assert_non_null(buf);
        }
    }
    assert_true(got == 0);
    assert_int_equal(hclose(hf), 0);
    return buf;
}

/* Open @p path (a stream fed with @p bytes by the caller), check its kind, take its handle and
 * read it: every byte must come back, the first ones included. */
static void check_stream(const char *path, const char *bytes, size_t n, InputKind kind) {
    InputFile *in = NULL;
    if (input_open(&in, path) != 0) fail_msg("input_open(%s): %s", path, ls_error_message());
    assert_int_equal(input_is_stream(in), 1);
    assert_int_equal(input_kind(in), kind);
    hFILE *hf = input_take_hfile(in);
    assert_non_null(hf);
    /* a stream can be read once */
    assert_null(input_take_hfile(in));
    expect_error(ls_error_code(), LS_ERR_USAGE, "read already");
    size_t got = 0;
    char *back = read_all_hfile(hf, &got);
    assert_int_equal(got, n);
    assert_memory_equal(back, bytes, n);
    free(back);
    input_close(in);
}

static void test_streams(void **state) {
    (void)state;
    /* 300 KB of FASTA: more than a pipe holds, so a writer thread feeds it */
    size_t n = 300000;
    char *fasta = malloc(n);
    assert_non_null(fasta);
    memcpy(fasta, ">r1\n", 4);
    for (size_t i = 4; i < n; i++) fasta[i] = (i % 61 == 60) ? '\n' : "ACGT"[i % 4];
    static const char wav_head[] = "RIFF\x24\0\0\0WAVEfmt \x10\0\0\0";

    /* stdin as a pipe ("-"), and the same pipe as /dev/fd/N */
    for (int as_dev_fd = 0; as_dev_fd < 2; as_dev_fd++) {
        int p[2], saved = dup(0);
        assert_int_equal(pipe(p), 0);
        Writer w = {NULL, p[1], fasta, n};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, writer_run, &w), 0);
        char path[64] = "-";
        if (as_dev_fd) snprintf(path, sizeof path, "/dev/fd/%d", p[0]);
        else dup2(p[0], 0);
        check_stream(path, fasta, n, INPUT_KIND_SEQ);
        pthread_join(th, NULL);
        close(p[0]);
        dup2(saved, 0);
        close(saved);
    }
    /* a named FIFO: its open waits for the writer, and it is opened once */
    char fifo[600];
    snprintf(fifo, sizeof fifo, "%s/fifo", tmp_dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    Writer w = {fifo, -1, wav_head, sizeof wav_head - 1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, writer_run, &w), 0);
    check_stream(fifo, wav_head, sizeof wav_head - 1, INPUT_KIND_AUDIO);
    pthread_join(th, NULL);
    /* a stream that is never taken is closed by input_close(); stdin stays open */
    int p[2], saved = dup(0);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], ">x\nA\n", 5), 5);
    close(p[1]);
    dup2(p[0], 0);
    close(p[0]);
    InputFile *in = NULL;
    assert_int_equal(input_open(&in, "-"), 0);
    assert_string_equal(input_name(in), "<stdin>");
    input_close(in);
    struct stat st;
    assert_int_equal(fstat(0, &st), 0);
    /* an empty stream */
    expect_error(input_open(&in, "-"), LS_ERR_FORMAT, "<stdin>: empty input");
    dup2(saved, 0);
    close(saved);
    free(fasta);
}

static void test_stdin_file_not_moved(void **state) {
    (void)state;
    /* a regular file on stdin is peeked at where it stands, and left there */
    const char *path = tmp_file("on_stdin.fa", "xxxxx>r\nACGT\n", 13);
    int saved = dup(0), fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    dup2(fd, 0);
    close(fd);
    assert_int_equal(lseek(0, 5, SEEK_SET), 5);
    InputFile *in = NULL;
    assert_int_equal(input_open(&in, "-"), 0);
    assert_int_equal(input_is_stream(in), 0);
    assert_int_equal(input_kind(in), INPUT_KIND_SEQ);
    assert_int_equal(lseek(0, 0, SEEK_CUR), 5);
    input_close(in);
    dup2(saved, 0);
    close(saved);
}

static void test_check_streams(void **state) {
    (void)state;
    const char *file = tmp_file("twice.fa", ">r\nA\n", 5);
    char fifo[600], missing[600];
    snprintf(fifo, sizeof fifo, "%s/fifo2", tmp_dir);
    snprintf(missing, sizeof missing, "%s/nope", tmp_dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    int saved = dup(0), p[2];
    assert_int_equal(pipe(p), 0);
    dup2(p[0], 0);
    close(p[0]);
    char *ok1[] = {(char *)file, (char *)file, missing, missing, "-", fifo};
    assert_int_equal(input_check_streams(ok1, 6), 0); /* files may be named twice */
    char *twice[] = {(char *)file, "-", "-"};
    expect_error(input_check_streams(twice, 3), LS_ERR_USAGE, "'-' (standard input) is given "
                 "twice");
    char *dev_stdin[] = {"-", "/dev/stdin"};
    expect_error(input_check_streams(dev_stdin, 2), LS_ERR_USAGE, "- and /dev/stdin are the "
                 "same stream");
    char *fifo_twice[] = {fifo, (char *)file, fifo};
    expect_error(input_check_streams(fifo_twice, 3), LS_ERR_USAGE, "fifo2 is given twice");
    /* a regular file on stdin: "-" twice is still twice, the file and /dev/stdin are not */
    int fd = open(file, O_RDONLY);
    dup2(fd, 0);
    close(fd);
    char *file_stdin[] = {"-", "/dev/stdin", (char *)file};
    assert_int_equal(input_check_streams(file_stdin, 3), 0);
    expect_error(input_check_streams(twice, 3), LS_ERR_USAGE, "given twice");
    close(p[1]);
    dup2(saved, 0);
    close(saved);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_streams),
        cmocka_unit_test(test_stdin_file_not_moved),
        cmocka_unit_test(test_check_streams),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("detect", tests, group_setup, group_teardown);
}
