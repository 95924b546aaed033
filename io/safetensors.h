/*
 * safetensors.h — checkpoint files in the safetensors format, read and written.
 *
 * Layout (the format's spec): 8-byte little-endian header length n, n bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "string value", ...}}, then the packed tensor bytes, offsets
 * relative to the start of the data section. Files we write load in Python's `safetensors`
 * as they are: tensors in the order added, packed without holes, header padded with spaces
 * to a multiple of 8 bytes.
 *
 * The reader validates everything before any tensor is trusted: header length <= 100 MB and
 * inside the file, JSON parses (cJSON), every entry well-formed, no duplicate names, known
 * dtypes, end - begin == numel * dtype size, offsets inside the data section, contiguous and
 * not overlapping, covering the data section exactly. Each failure names the file and the
 * tensor (or the byte offset).
 *
 * Shapes and offsets must be written as plain decimal integers 0 .. 2^63-1 (as the reference
 * implementation's usize fields): 1.0, 1e2, -0 or 01 are rejected, and values above 2^53 are
 * read exactly (not through a double). Tensor bytes are read with pread() on demand.
 *
 * Threads: st_read / st_read_f32 may run concurrently on one StFile (pread, no shared state;
 * error messages are per thread). Concurrent st_open calls are safe for us, but cJSON's parser
 * stores its last error position in a process-wide variable, which ThreadSanitizer reports.
 */
#ifndef LS_SAFETENSORS_H
#define LS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ST_F64 = 0,
    ST_F32,
    ST_F16,
    ST_BF16,
    ST_I64,
    ST_I32,
    ST_I16,
    ST_I8,
    ST_U8,
    ST_BOOL,
    ST_DTYPE_COUNT,
} StDtype;

#define ST_MAX_DIMS 8

/** One tensor of an open file; owned by the StFile, valid until st_close(). */
typedef struct {
    const char *name;
    StDtype     dtype;
    int         ndim;
    int64_t     shape[ST_MAX_DIMS];
    int64_t     numel;
    uint64_t    offset;    /* byte offset from the start of the data section */
    uint64_t    nbytes;
} StTensor;

/** "F32", "BF16", … */
const char *st_dtype_name(StDtype dtype);
/** Bytes per element. */
size_t st_dtype_size(StDtype dtype);
/** Parse a dtype name. @return 0, or LS_ERR_FORMAT. */
int st_dtype_parse(const char *name, StDtype *dtype) LS_RESULT_USED;

float    st_bf16_to_f32(uint16_t h);
uint16_t st_f32_to_bf16(float f);   /* round to nearest even; NaN stays NaN */
float    st_f16_to_f32(uint16_t h);
uint16_t st_f32_to_f16(float f);    /* round to nearest even; overflow → inf */

// ---------------------------------------------------------------------------- reader

typedef struct StFile StFile;

/**
 * Open and validate @p path. @return 0 and *out; LS_ERR_IO (cannot open or read, a directory,
 * not a regular file), LS_ERR_FORMAT (anything malformed, including an empty or truncated
 * file), LS_ERR_UNSUPPORTED (a tensor of more than ST_MAX_DIMS dimensions) or LS_ERR_NOMEM.
 * The message names the file and the tensor or byte offset. Free with st_close().
 */
int st_open(StFile **out, const char *path) LS_RESULT_USED;

int64_t         st_count(const StFile *file);
/** Tensors in file order: ascending offset (at one offset, empty tensors first, by name);
 *  NULL if @p i is out of range. */
const StTensor *st_tensor(const StFile *file, int64_t i);
/** Tensor by name (binary search), or NULL. */
const StTensor *st_find(const StFile *file, const char *name);
/** The path the file was opened with (for callers' messages). */
const char     *st_path(const StFile *file);

/**
 * Raw bytes of @p tensor (from this file) into @p dst, in host byte order (@p dst_bytes must
 * equal tensor->nbytes). @return 0, LS_ERR_USAGE (wrong size or tensor), LS_ERR_IO (read
 * failed, or the file was truncated after st_open).
 */
int st_read(StFile *file, const StTensor *tensor, void *dst, size_t dst_bytes) LS_RESULT_USED;

/**
 * Elements of an F32, F16 or BF16 tensor converted to float (exactly: every F16/BF16 value
 * is a float); @p n must equal numel. @return 0, LS_ERR_USAGE (wrong n or tensor),
 * LS_ERR_UNSUPPORTED (another dtype), LS_ERR_IO.
 */
int st_read_f32(StFile *file, const StTensor *tensor, float *dst, int64_t n) LS_RESULT_USED;

/** Index of the first NaN or ±Inf of @p x[0..n), or -1 when every value is finite. */
int64_t st_first_nonfinite(const float *x, int64_t n);

/**
 * Refuse values that are not numbers: @return 0 when @p x[0..n) is all finite, else
 * LS_ERR_FORMAT with "<file>: tensor '<name>': element [i, j, ...] (index k of n) is nan"
 * (or inf, -inf); the index in brackets follows @p shape (@p ndim dimensions, row-major).
 * A checkpoint holding such a weight (a run that diverged, a damaged file) would make every
 * result NaN: readers of weights call this before using them.
 */
int st_check_finite(const char *file, const char *name, int ndim, const int64_t *shape,
                    const float *x, int64_t n) LS_RESULT_USED;

/** st_read_f32(), then st_check_finite() on what was read. */
int st_read_f32_finite(StFile *file, const StTensor *tensor, float *dst,
                       int64_t n) LS_RESULT_USED;

/** `__metadata__` entries in file order; strings owned by the StFile. */
int64_t     st_metadata_count(const StFile *file);
const char *st_metadata_key(const StFile *file, int64_t i);
const char *st_metadata_value(const StFile *file, int64_t i);
/** Metadata value for @p key, or NULL. */
const char *st_metadata_get(const StFile *file, const char *key);

/** Close; NULL is a no-op. */
void st_close(StFile *file);

// ---------------------------------------------------------------------------- writer

typedef struct StWriter StWriter;

/** Start an empty file description. Free with st_writer_free() (NULL is a no-op). */
int st_writer_init(StWriter **out) LS_RESULT_USED;

/**
 * Add a tensor (row-major, host byte order). @p data is not copied: it must stay valid until
 * st_writer_save() returns; NULL is allowed when the tensor is empty. @p name is copied.
 * @return 0, LS_ERR_USAGE (duplicate, empty, non-UTF-8 or "__metadata__" name, bad dtype,
 * ndim outside 0..ST_MAX_DIMS, negative dim, byte size over INT64_MAX, no data), LS_ERR_NOMEM.
 */
int st_writer_add(StWriter *writer, const char *name, StDtype dtype, int ndim,
                  const int64_t *shape, const void *data) LS_RESULT_USED;

/** Set a metadata string (replaces an earlier value of the same key); both copied.
 *  @return 0, LS_ERR_USAGE (NULL or non-UTF-8), LS_ERR_NOMEM. */
int st_writer_set_metadata(StWriter *writer, const char *key, const char *value) LS_RESULT_USED;

/**
 * Write a unique temporary in the folder of @p path (common/atomic_file.h: no existing file
 * is opened or removed), fflush + fsync, rename over @p path, fsync the directory (best
 * effort). Metadata first, then tensors in the order added, packed; header padded with spaces
 * to a multiple of 8. On failure the temporary is removed and @p path is untouched.
 * @return 0, LS_ERR_IO, LS_ERR_RANGE (header over 100 MB), LS_ERR_NOMEM, LS_ERR_USAGE.
 */
int st_writer_save(StWriter *writer, const char *path) LS_RESULT_USED;

void st_writer_free(StWriter *writer);

#ifdef __cplusplus
}
#endif
#endif
