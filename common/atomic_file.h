/*
 * atomic_file.h — output files that appear only complete, without touching anything else.
 *
 * A file is written under a unique temporary name in its target's folder, ".longscan-XXXXXXXX.tmp"
 * (8 random letters or digits, created with O_EXCL, so an existing file of any name is never
 * opened, truncated or removed, and the name is 20 bytes whatever the target's length, far
 * below NAME_MAX), then fsync'd, closed and renamed over the target (atomic within a file
 * system), and the folder is fsync'd so that the rename itself survives a crash (best effort).
 * On failure the temporary is removed and the target is left as it was. The temporary starts
 * with a dot, so directory listings (a class folder read as training data) skip it.
 *
 * Targets: a symbolic link is written through (its final target is replaced, the link stays,
 * as the shell's '>' does); an existing target that is not a regular file nor a directory
 * (/dev/null, a FIFO, a terminal) is opened and written directly, since such a file cannot be
 * replaced by a rename. A directory is not refused here: the rename fails and says so.
 *
 * atomic_file_check() asks the same questions before any work is done, so that a typo in an
 * output path fails at once rather than after hours of computing.
 *
 * Used by the safetensors writer (io/safetensors.c), the audio writer (io/audio.c) and the
 * CLI's text outputs (pipeline/cli.c). Tested by tests/unit/test_common.c.
 */
#ifndef LS_ATOMIC_FILE_H
#define LS_ATOMIC_FILE_H

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int   fd;     /* open for writing; -1 when closed */
    char *path;   /* the file that will be replaced (symbolic links resolved) */
    char *tmp;    /* the temporary being written, or NULL when writing @p path directly */
} AtomicFile;

/**
 * Create the unique temporary for @p path (rules in the file comment).
 * @return 0 and *file (write to file->fd); LS_ERR_IO (folder missing or not writable: the
 *         message names @p path and the folder), LS_ERR_NOMEM, LS_ERR_USAGE (empty path).
 *         Finish with atomic_file_commit() or atomic_file_abort() (also after a failure).
 */
int atomic_file_open(AtomicFile *file, const char *path) LS_RESULT_USED;

/**
 * fsync and close file->fd, rename the temporary over the target, then fsync the folder. A
 * caller that wrapped the descriptor in a FILE fsyncs and fcloses it itself and sets
 * file->fd to -1 first; the rename then follows alone.
 * @return 0; LS_ERR_IO (the temporary is removed, the target untouched). Either way the
 *         AtomicFile is finished (atomic_file_abort() on it is a no-op).
 */
int atomic_file_commit(AtomicFile *file) LS_RESULT_USED;

/** Close and remove the temporary; the target is untouched. Safe on a zeroed or finished
 *  AtomicFile and after a failed atomic_file_open(). */
void atomic_file_abort(AtomicFile *file);

/**
 * Could atomic_file_open(@p path) and the final rename succeed? Checked by creating and
 * removing a temporary in the target's folder. @return 0; LS_ERR_IO naming @p path: "is a
 * directory", "cannot create a file in directory D: <why>" (a missing folder: "No such
 * file or directory"), or a file name longer than the file system's limit; LS_ERR_NOMEM.
 */
int atomic_file_check(const char *path) LS_RESULT_USED;

#ifdef __cplusplus
}
#endif
#endif
