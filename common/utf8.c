/* utf8.c — strict UTF-8 validation and escaping for messages; see utf8.h. */
#include "common/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t utf8_check(const void *s_, size_t n) {
    const unsigned char *s = s_;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned lo = 0x80, hi = 0xbf;              /* range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) len = 2;
        else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            if (c == 0xe0) lo = 0xa0;                /* no overlong 3-byte forms */
            if (c == 0xed) hi = 0x9f;                /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            if (c == 0xf0) lo = 0x90;                /* no overlong 4-byte forms */
            if (c == 0xf4) hi = 0x8f;                /* nothing above U+10FFFF */
        } else return i;
        if (n - i < len) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf) return i;
        i += len;
    }
    return SIZE_MAX;
}

int utf8_valid(const char *s) { return s && utf8_check(s, strlen(s)) == SIZE_MAX; }

char *utf8_escape(char *buf, size_t size, const char *s) {
    if (size == 0) return buf;
    size_t at = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "(null)");
    for (; *p; p++) {
        char piece[5];
        size_t len;
        if (*p >= 0x20 && *p < 0x7f) {
            piece[0] = (char)*p;
            len = 1;
        } else {
            snprintf(piece, sizeof piece, "\\x%02x", *p);
            len = 4;
        }
        if (at + len + 1 > size) {                  /* no room: end with "..." if possible */
            size_t dots = size > 4 ? 3 : 0;
            at = size - 1 - dots < at ? size - 1 - dots : at;
            memcpy(buf + at, "...", dots);
            at += dots;
            break;
        }
        memcpy(buf + at, piece, len);
        at += len;
    }
    buf[at] = '\0';
    return buf;
}
