/*
 * error.c — per-thread error message buffer and the code → sentence table.
 * Tested by tests/unit/test_common.c.
 */
#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define LS_ERROR_MAX 1024

static _Thread_local char error_message[LS_ERROR_MAX];
static _Thread_local int error_code;

static const struct {
    int code;
    const char *sentence;
} error_sentences[] = {
    {LS_OK,              "no error"},
    {LS_END,             "end of input"},
    {LS_ERR_IO,          "input/output error"},
    {LS_ERR_FORMAT,      "malformed input"},
    {LS_ERR_NOMEM,       "out of memory"},
    {LS_ERR_USAGE,       "invalid usage"},
    {LS_ERR_NOT_FOUND,   "not found"},
    {LS_ERR_UNSUPPORTED, "not supported"},
    {LS_ERR_RANGE,       "value out of range"},
    {LS_ERR_CUDA,        "CUDA error"},
    {LS_ERR_NO_CUDA,     "built without CUDA; rebuild with nvcc on PATH"},
    {LS_ERR_CUDA_OOM,    "out of GPU memory"},
    {LS_ERR_NOT_READY,   "not available yet"},
    {LS_ERR_INTERNAL,    "internal error"},
};

const char *ls_strerror(int code) {
    for (size_t i = 0; i < sizeof error_sentences / sizeof error_sentences[0]; i++)
        if (error_sentences[i].code == code) return error_sentences[i].sentence;
    return "unknown error";
}

int ls_error(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    error_code = code;
    return code;
}

void ls_error_prefix(const char *fmt, ...) {
    char prefix[LS_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char inner[LS_ERROR_MAX];
    snprintf(inner, sizeof inner, "%s", ls_error_message());
    /* truncation keeps the start of the line, which names the file */
    int n = snprintf(error_message, sizeof error_message, "%s: ", prefix);
    if (n >= 0 && (size_t)n < sizeof error_message)
        snprintf(error_message + n, sizeof error_message - (size_t)n, "%s", inner);
}

const char *ls_error_message(void) {
    if (error_message[0]) return error_message;
    return ls_strerror(error_code);
}

int ls_error_code(void) { return error_code; }

void ls_error_clear(void) {
    error_message[0] = '\0';
    error_code = LS_OK;
}
