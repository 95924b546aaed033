/*
 * utf8.h — strict UTF-8 validation and a printable form of any bytes, for the text that ends up
 * in files other programs parse: label names and record names are saved as JSON strings in
 * safetensors metadata, which must be UTF-8. Loaders check names and labels when they read
 * them (so a bad byte is reported with its file and line, before any work), and messages show
 * a bad name through utf8_escape() so the error line itself stays valid text.
 *
 * Tested by tests/unit/test_common.c.
 */
#ifndef LS_UTF8_H
#define LS_UTF8_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Check @p n bytes of @p s as strict UTF-8 (RFC 3629: no overlong forms, no surrogates, no
 * code point above U+10FFFF; NUL bytes are allowed, callers with C strings never have any).
 * @return SIZE_MAX when valid, else the offset of the first byte that is not.
 */
size_t utf8_check(const void *s, size_t n);

/** utf8_check() of a C string: 1 when valid (NULL is not), 0 otherwise. */
int utf8_valid(const char *s);

/**
 * Copy @p s into @p buf (@p size bytes, NUL-terminated, cut with "..." when longer) with every
 * byte outside printable ASCII written as \xHH, so that a name holding invalid UTF-8 or
 * control bytes can be shown in a one-line message. @return buf.
 */
char *utf8_escape(char *buf, size_t size, const char *s);

#ifdef __cplusplus
}
#endif
#endif
