/*
 * atomic_file.c — unique temporaries renamed into place; see atomic_file.h.
 * Tested by tests/unit/test_common.c.
 */
#include "common/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define TMP_PREFIX  ".longscan-"
#define TMP_LETTERS 8
#define TMP_SUFFIX  ".tmp"
#define TMP_TRIES   100

/* Random bytes for names: getrandom, or (should it fail) a mix of time, pid and a counter;
 * O_EXCL makes any name safe, randomness only makes a clash unlikely. */
static void random_bytes(unsigned char *out, size_t n) {
    if (getrandom(out, n, GRND_NONBLOCK) == (ssize_t)n) return;
    static _Thread_local uint64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
                 ((uint64_t)getpid() << 16) ^ (++counter * 0x9e3779b97f4a7c15ull);
    for (size_t i = 0; i < n; i++) {
        x += 0x9e3779b97f4a7c15ull;                   /* splitmix64 */
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        out[i] = (unsigned char)(z ^ (z >> 31));
    }
}

/* The folder part of @p path with its trailing '/', or "" (malloc'd; NULL: out of memory). */
static char *folder_of(const char *path) {
    const char *slash = strrchr(path, '/');
    return strndup(path, slash ? (size_t)(slash - path) + 1 : 0);
}

/* The file to replace: symbolic links followed to their final target when it exists. */
static char *resolve_target(const char *path) {
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        char *real = realpath(path, NULL);
        if (real) return real;
    }
    return strdup(path);
}

/* "folder/" + ".longscan-XXXXXXXX.tmp" with fresh letters. */
static void tmp_name(char *out, size_t size, const char *folder) {
    static const char alphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char r[TMP_LETTERS];
    char letters[TMP_LETTERS + 1];
    random_bytes(r, sizeof r);
    for (int i = 0; i < TMP_LETTERS; i++) letters[i] = alphabet[r[i] % (sizeof alphabet - 1)];
    letters[TMP_LETTERS] = '\0';
    snprintf(out, size, "%s%s%s%s", folder, TMP_PREFIX, letters, TMP_SUFFIX);
}

/* The message for a temporary that could not be created in @p folder. */
static int create_error(const char *path, const char *folder, int err) {
    const char *shown = *folder ? folder : "./";
    size_t len = strlen(shown);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", (int)(len > 1 ? len - 1 : len), shown); /* no '/' */
    return ls_error(LS_ERR_IO, "%s: cannot create a file in directory %s: %s", path, dir,
                    strerror(err));
}

int atomic_file_open(AtomicFile *file, const char *path) {
    *file = (AtomicFile){.fd = -1};
    if (!path || !*path) return ls_error(LS_ERR_USAGE, "no output file name");
    char *folder = NULL;
    int status = 0;
    file->path = resolve_target(path);
    if (!file->path) goto nomem;
    struct stat st;
    if (stat(file->path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        /* /dev/null, a FIFO, a terminal: cannot be renamed over, written as they are */
        file->fd = open(file->path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (file->fd < 0) {
            status = ls_error(LS_ERR_IO, "%s: cannot open for writing: %s", path,
                              strerror(errno));
            goto fail;
        }
        return 0;
    }
    folder = folder_of(file->path);
    size_t size = strlen(folder) + sizeof TMP_PREFIX + TMP_LETTERS + sizeof TMP_SUFFIX;
    if (!folder || !(file->tmp = malloc(size))) goto nomem;
    for (int tries = 0; tries < TMP_TRIES; tries++) {
        tmp_name(file->tmp, size, folder);
        file->fd = open(file->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
        if (file->fd >= 0 || errno != EEXIST) break;
    }
    if (file->fd < 0) {
        int err = errno;
        free(file->tmp);
        file->tmp = NULL;                /* nothing of ours to remove */
        status = create_error(path, folder, err);
        goto fail;
    }
    free(folder);
    return 0;
nomem:
    status = ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
fail:
    free(folder);
    atomic_file_abort(file);
    return status;
}

/* fsync the folder holding @p path so that a rename in it is durable; best effort. */
static void sync_folder(const char *path) {
    char *folder = folder_of(path);
    if (!folder) return;
    int fd = open(*folder ? folder : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        if (fsync(fd) < 0 && errno != EINVAL && errno != EROFS)
            ls_log_warn("%s: fsync of the directory failed: %s", path, strerror(errno));
        close(fd);
    }
    free(folder);
}

int atomic_file_commit(AtomicFile *file) {
    int status = 0;
    if (!file->path) {
        status = ls_error(LS_ERR_IO, "atomic_file_commit: no file open");
        goto done;
    }
    if (file->fd >= 0) {
        /* a device or FIFO may refuse fsync (EINVAL, EROFS): nothing to make durable then */
        if (fsync(file->fd) != 0 && (file->tmp || (errno != EINVAL && errno != EROFS))) {
            status = ls_error(LS_ERR_IO, "%s: write failed: %s", file->path, strerror(errno));
            goto done;
        }
        int fd = file->fd;
        file->fd = -1;
        if (close(fd) != 0) {
            status = ls_error(LS_ERR_IO, "%s: close failed: %s", file->path, strerror(errno));
            goto done;
        }
    }
    if (!file->tmp) goto done;
    if (rename(file->tmp, file->path) != 0) {
        status = ls_error(LS_ERR_IO, "%s: cannot rename the temporary %s into place: %s",
                          file->path, file->tmp, strerror(errno));
        goto done;
    }
    free(file->tmp);
    file->tmp = NULL;
    sync_folder(file->path);
done:
    atomic_file_abort(file);
    return status;
}

void atomic_file_abort(AtomicFile *file) {
    if (file->fd >= 0) close(file->fd);
    file->fd = -1;
    if (file->tmp) unlink(file->tmp);
    free(file->tmp);
    free(file->path);
    file->tmp = NULL;
    file->path = NULL;
}

int atomic_file_check(const char *path) {
    if (!path || !*path) return ls_error(LS_ERR_USAGE, "no output file name");
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return ls_error(LS_ERR_IO, "%s: is a directory", path);
    AtomicFile probe;
    int status = atomic_file_open(&probe, path);
    if (status == 0 && probe.tmp) {
        /* the final name must fit the file system (the rename would fail at the very end) */
        const char *base = strrchr(probe.path, '/');
        base = base ? base + 1 : probe.path;
        char *folder = folder_of(probe.path);
        long max = folder ? pathconf(*folder ? folder : ".", _PC_NAME_MAX) : -1;
        if (max <= 0) max = NAME_MAX;
        if ((long)strlen(base) > max)
            status = ls_error(LS_ERR_IO, "%s: the file name is %zu bytes, longer than the %ld "
                              "this file system allows", path, strlen(base), max);
        free(folder);
    }
    atomic_file_abort(&probe);   /* removes the probe's temporary; opens of devices: closed */
    return status;
}
