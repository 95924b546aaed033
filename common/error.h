/*
 * error.h — status codes and the per-thread error message.
 *
 * Every function that can fail returns an int: 0 (or a count >= 0) on success, a negative
 * LS_ERR_* code on failure. Readers return >= 0 for a record, -1 at end of input and < -1 on
 * error, so every LS_ERR_* code is <= -2. The code says what kind of failure it was; the
 * detail (file, record, line or byte offset) goes into a per-thread message set by
 * ls_error(), which the CLI prints as one line: "longscan <sub>: <message>".
 */
#ifndef LS_ERROR_H
#define LS_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LS_RESULT_USED __attribute__((warn_unused_result))
#define LS_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define LS_RESULT_USED
#define LS_PRINTF(fmt_index, first_arg)
#endif

/** Failure kinds. Values are stable; ls_strerror() maps each to a sentence. */
enum {
    LS_OK              = 0,
    LS_END             = -1,  /* end of input (readers only; not an error) */
    LS_ERR_IO          = -2,  /* open/read/write/rename failed (errno-level) */
    LS_ERR_FORMAT      = -3,  /* the file's contents are malformed */
    LS_ERR_NOMEM       = -4,  /* allocation failed */
    LS_ERR_USAGE       = -5,  /* bad option or argument */
    LS_ERR_NOT_FOUND   = -6,  /* named record, region, tensor or key does not exist */
    LS_ERR_UNSUPPORTED = -7,  /* a valid request this build or file type cannot serve */
    LS_ERR_RANGE       = -8,  /* a value is outside what is allowed */
    LS_ERR_CUDA        = -9,  /* a CUDA runtime / cuBLAS call failed */
    LS_ERR_NO_CUDA     = -10, /* built without CUDA */
    LS_ERR_CUDA_OOM    = -11, /* GPU memory exhausted */
    LS_ERR_NOT_READY   = -12, /* feature arrives with a later issue */
    LS_ERR_INTERNAL    = -13, /* a bug: an invariant did not hold */
};

/** The fixed sentence for a code ("malformed input", ...). Never NULL. */
const char *ls_strerror(int code);

/**
 * Record the detail of a failure in this thread's message buffer and return @p code, so that
 * `return ls_error(LS_ERR_FORMAT, "%s:%lld: ...", path, line);` is one statement.
 * The message should read "<file>:<where>: <what>" (no trailing newline, no program name).
 * A later ls_error() replaces an earlier one; use ls_error_prefix() to add outer context.
 */
int ls_error(int code, const char *fmt, ...) LS_PRINTF(2, 3);

/** Prepend "<prefix>: " to the current message (e.g. the file name an inner call lacked). */
void ls_error_prefix(const char *fmt, ...) LS_PRINTF(1, 2);

/** This thread's message; falls back to ls_strerror(last code) if none was set. */
const char *ls_error_message(void);

/** The code given to the last ls_error() on this thread (LS_OK if none since clear). */
int ls_error_code(void);

/** Forget the current message. */
void ls_error_clear(void);

#ifdef __cplusplus
}
#endif
#endif
