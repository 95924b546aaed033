/*
 * safetensors.c — safetensors checkpoint reader and writer (io/safetensors.h).
 *
 * Reader: st_open() reads the 8-byte length and the header, checks every byte of it (length
 * limits, '{' first, UTF-8, no control bytes, cJSON parse, only whitespace after the JSON) and
 * then every entry (exact keys and JSON types, known dtype, integer shape and offsets,
 * numel * size == end - begin, offsets inside the data section), no duplicate names, and the
 * tensors sorted by offset tiling the data section exactly. Only then is anything returned.
 * Tensor bytes are read on demand with pread() at 8 + header length + offset: no mmap, so a
 * file truncated after st_open() gives an error value instead of SIGBUS.
 *
 * Numbers: cJSON keeps only a double, which is exact below 2^53 only and also accepts 1.0,
 * 1e2 or 01. The reader therefore reads every shape and offset from the header text itself:
 * after parsing, one walk of the tree in document order stores in each number item's
 * `valueint` (unused by us otherwise) the byte offset of its text; json_int() then accepts
 * exactly the decimal integers 0 .. INT64_MAX ("0" or no leading zero), like the reference
 * implementation's usize fields, and rejects anything else by its text.
 *
 * Writer: tensors in the order added, packed; numbers printed as integers with cJSON raw
 * items (cJSON would print 1e15 as "1e+15"); header padded with spaces to a multiple of 8;
 * a unique temporary in the target's folder (common/atomic_file.h) + fflush + fsync + rename +
 * directory fsync. Tensor data is written from the
 * caller's pointers (little-endian hosts) or through a 64 KiB byte-swapping buffer
 * (big-endian hosts, not a target but written out).
 *
 * Tested by tests/unit/test_safetensors.c (round trips, conversions, malformed files),
 * tests/py/test_safetensors_py.py (Python's safetensors reads ours, we read Python's) and
 * tests/fuzz/fuzz_safetensors.c.
 */
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/atomic_file.h"
#include "common/log.h"
#include "common/utf8.h"

#define ST_MAX_HEADER 100000000ULL   /* the reference implementation's MAX_HEADER_SIZE */
#define ST_CHUNK      65536          /* bytes per conversion / byte-swap chunk */
#define ST_SHOW       160            /* longest name shown in a message */

// ---------------------------------------------------------------------------- dtypes

static const struct {
    const char *name;
    size_t      size;
} st_dtypes[ST_DTYPE_COUNT] = {
    [ST_F64] = {"F64", 8},  [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2},
    [ST_BF16] = {"BF16", 2}, [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4},
    [ST_I16] = {"I16", 2},  [ST_I8] = {"I8", 1},   [ST_U8] = {"U8", 1},
    [ST_BOOL] = {"BOOL", 1},
};

static int dtype_valid(StDtype dtype) { return (int)dtype >= 0 && dtype < ST_DTYPE_COUNT; }

const char *st_dtype_name(StDtype dtype) {
    return dtype_valid(dtype) ? st_dtypes[dtype].name : "?";
}

size_t st_dtype_size(StDtype dtype) { return dtype_valid(dtype) ? st_dtypes[dtype].size : 0; }

int st_dtype_parse(const char *name, StDtype *dtype) {
    for (int i = 0; i < ST_DTYPE_COUNT; i++) {
        if (name && strcmp(name, st_dtypes[i].name) == 0) {
            *dtype = (StDtype)i;
            return 0;
        }
    }
    return ls_error(LS_ERR_FORMAT, "unknown dtype '%s'", name ? name : "(null)");
}

// ---------------------------------------------------------------------------- float conversions

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float st_bf16_to_f32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

uint16_t st_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)          /* NaN: keep sign and top payload, quiet */
        return (uint16_t)((u >> 16) | 0x0040u);
    /* round to nearest even on the 16 dropped bits; a carry into the exponent is right,
     * and the largest finite values round up to inf as they should */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f)                                /* inf, NaN (payload kept) */
        return f32_from_bits(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        if (man == 0) return f32_from_bits(sign);   /* ±0 */
        /* subnormal man * 2^-24: normalize so that the leading 1 sits at bit 10 */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while ((man & 0x400u) == 0);
        return f32_from_bits(sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13));
    }
    return f32_from_bits(sign | ((exp + 127 - 15) << 23) | (man << 13));
}

uint16_t st_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    u &= 0x7fffffffu;
    if (u > 0x7f800000u)                            /* NaN: quiet, top payload bits kept */
        return (uint16_t)(sign | 0x7e00u | ((u >> 13) & 0x3ffu));
    if (u >= 0x477ff000u)                           /* >= 65520 (65504 + half ulp): inf */
        return (uint16_t)(sign | 0x7c00u);
    if (u < 0x38800000u) {                          /* below 2^-14: subnormal or zero */
        int shift = 126 - (int)(u >> 23);           /* value = m * 2^(e-150) = r * 2^-24 */
        if (shift > 24) return sign;                /* < 2^-25: rounds to zero */
        uint32_t m = (u & 0x7fffffu) | 0x800000u;
        uint32_t r = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1u);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1u))) r++;  /* may carry into 2^-14: right */
        return (uint16_t)(sign | r);
    }
    uint32_t r = (u >> 13) - ((uint32_t)(127 - 15) << 10);
    uint32_t rem = u & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) r++;
    return (uint16_t)(sign | r);
}

// ---------------------------------------------------------------------------- bytes on disk

/* The file is little-endian; these helpers make that explicit on any host. */
static int host_is_little_endian(void) {
    const uint16_t probe = 1;
    uint8_t first;
    memcpy(&first, &probe, 1);
    return first == 1;
}

static uint64_t load_le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void store_le64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t load_le16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* Reverse each @p size-byte element of @p buf in place (host <-> little-endian). */
static void swap_elements(unsigned char *buf, size_t nbytes, size_t size) {
    if (size < 2) return;
    for (size_t i = 0; i + size <= nbytes; i += size)
        for (size_t a = i, b = i + size - 1; a < b; a++, b--) {
            unsigned char t = buf[a];
            buf[a] = buf[b];
            buf[b] = t;
        }
}

/* pread() until @p n bytes or end of file. @return bytes read, or -1 with errno. */
static int64_t pread_full(int fd, void *buf, size_t n, uint64_t offset) {
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(fd, (char *)buf + done, n - done, (off_t)(offset + done));
        if (got < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (got == 0) break;
        done += (size_t)got;
    }
    return (int64_t)done;
}

// ---------------------------------------------------------------------------- text helpers

/* Strict UTF-8: utf8_check() of common/utf8.h (SIZE_MAX when valid). */

/* A name as it may appear in a one-line message: bounded, control bytes and quotes escaped. */
static const char *show(const char *s, char *buf, size_t cap) {
    size_t o = 0;
    for (; *s && o + 8 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\')
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
        else buf[o++] = (char)c;
    }
    if (*s) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* "[4, 4]" for messages. */
static const char *show_shape(const StTensor *t, char *buf, size_t cap) {
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < t->ndim && o < cap; d++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%" PRId64, d ? ", " : "", t->shape[d]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
    return buf;
}

// ---------------------------------------------------------------------------- header parsing

typedef struct {
    const char *path;
    const char *text;    /* the header, NUL-terminated copy */
    size_t      len;
    size_t      cursor;  /* number-token scan position (number_offsets) */
} Header;

static int is_number_char(char c) {
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* Next number token at or after h->cursor, outside strings; the same runs cJSON reads
 * (a '-' or digit, then [0-9+-.eE]; a successful parse proves each run was one number). */
static size_t next_number(Header *h) {
    size_t c = h->cursor;
    while (c < h->len) {
        char ch = h->text[c];
        if (ch == '"') {
            for (c++; c < h->len && h->text[c] != '"'; c++)
                if (h->text[c] == '\\') c++;
            c++;
        } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
            size_t start = c;
            while (c < h->len && is_number_char(h->text[c])) c++;
            h->cursor = c;
            return start;
        } else {
            c++;
        }
    }
    return SIZE_MAX;
}

/* Store in each number item, in document order, the byte offset of its text. */
static int number_offsets(Header *h, cJSON *item) {
    for (; item; item = item->next) {
        if (cJSON_IsNumber(item)) {
            size_t at = next_number(h);
            if (at == SIZE_MAX || at > INT32_MAX)
                return ls_error(LS_ERR_INTERNAL, "%s: header numbers out of step with cJSON",
                                h->path);
            item->valueint = (int)at;
        }
        if (item->child) {
            int rc = number_offsets(h, item->child);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

/* The text of a number item ("%.*s"), at most 40 characters. */
static int number_text(const Header *h, const cJSON *item, const char **text) {
    size_t at = (size_t)item->valueint, n = 0;
    while (at + n < h->len && is_number_char(h->text[at + n])) n++;
    *text = h->text + at;
    return (int)(n > 40 ? 40 : n);
}

/* A JSON number that is exactly a decimal integer in 0 .. INT64_MAX. @return 0 or -1. */
static int json_int(const Header *h, const cJSON *item, int64_t *value) {
    if (!item || !cJSON_IsNumber(item)) return -1;
    const char *s = h->text + item->valueint;
    size_t len = 0;
    while ((size_t)item->valueint + len < h->len && is_number_char(s[len])) len++;
    if (len == 0 || len > 19 || (len > 1 && s[0] == '0')) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');       /* 19 digits fit in uint64 */
    }
    if (v > (uint64_t)INT64_MAX) return -1;
    *value = (int64_t)v;
    return 0;
}

static const char *json_kind(const cJSON *item) {
    if (cJSON_IsObject(item)) return "an object";
    if (cJSON_IsArray(item)) return "an array";
    if (cJSON_IsString(item)) return "a string";
    if (cJSON_IsNumber(item)) return "a number";
    if (cJSON_IsBool(item)) return "a boolean";
    return "null";
}

// ---------------------------------------------------------------------------- reader

struct StFile {
    char         *path;
    int           fd;
    uint64_t      data_start;  /* file offset of the data section: 8 + header length */
    uint64_t      data_size;   /* bytes in the data section */
    int64_t       count;
    StTensor     *tensors;     /* ascending offset */
    const StTensor **by_name;  /* sorted by name, for st_find */
    int64_t       meta_count;
    const char  **meta;        /* key, value, key, value, ... in file order */
    char         *strings;     /* owns every name, key and value */
};

/* Validate one tensor entry and fill @p t (name already set). */
static int parse_entry(const Header *h, const cJSON *entry, StTensor *t, uint64_t data_size) {
    char nm[ST_SHOW], sh[256];
    const char *path = h->path;
    show(t->name, nm, sizeof nm);
    if (!cJSON_IsObject(entry))
        return ls_error(LS_ERR_FORMAT, "%s: tensor '%s': entry is %s, not an object", path,
                        nm, json_kind(entry));
    const cJSON *dtype = NULL, *shape = NULL, *offsets = NULL;
    for (const cJSON *k = entry->child; k; k = k->next) {
        const cJSON **slot = strcmp(k->string, "dtype") == 0          ? &dtype
                             : strcmp(k->string, "shape") == 0        ? &shape
                             : strcmp(k->string, "data_offsets") == 0 ? &offsets
                                                                      : NULL;
        char key[ST_SHOW];
        if (!slot)
            return ls_error(LS_ERR_FORMAT,
                            "%s: tensor '%s': unexpected key '%s' (an entry holds exactly "
                            "dtype, shape and data_offsets)", path, nm,
                            show(k->string, key, sizeof key));
        if (*slot)
            return ls_error(LS_ERR_FORMAT, "%s: tensor '%s': key '%s' appears twice", path, nm,
                            k->string);
        *slot = k;
    }
    if (!dtype || !shape || !offsets)
        return ls_error(LS_ERR_FORMAT, "%s: tensor '%s': missing '%s'", path, nm,
                        !dtype ? "dtype" : !shape ? "shape" : "data_offsets");

    if (!cJSON_IsString(dtype))
        return ls_error(LS_ERR_FORMAT, "%s: tensor '%s': dtype is %s, not a string", path, nm,
                        json_kind(dtype));
    if (st_dtype_parse(dtype->valuestring, &t->dtype) < 0) {
        char dt[ST_SHOW];
        return ls_error(LS_ERR_FORMAT,
                        "%s: tensor '%s': unknown dtype '%s' (known: F64 F32 F16 BF16 I64 I32 "
                        "I16 I8 U8 BOOL)", path, nm, show(dtype->valuestring, dt, sizeof dt));
    }

    if (!cJSON_IsArray(shape))
        return ls_error(LS_ERR_FORMAT, "%s: tensor '%s': shape is %s, not an array", path, nm,
                        json_kind(shape));
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > ST_MAX_DIMS)
        return ls_error(LS_ERR_UNSUPPORTED, "%s: tensor '%s': shape has %d dimensions; "
                        "longscan reads at most %d", path, nm, ndim, ST_MAX_DIMS);
    t->ndim = ndim;
    t->numel = 1;
    int d = 0, overflow = 0;
    for (const cJSON *v = shape->child; v; v = v->next, d++) {
        if (json_int(h, v, &t->shape[d]) < 0) {
            const char *s;
            int n = cJSON_IsNumber(v) ? number_text(h, v, &s) : 0;
            if (n) return ls_error(LS_ERR_FORMAT, "%s: tensor '%s': shape[%d] is %.*s, not a "
                                   "non-negative integer", path, nm, d, n, s);
            return ls_error(LS_ERR_FORMAT, "%s: tensor '%s': shape[%d] is %s, not a "
                            "non-negative integer", path, nm, d, json_kind(v));
        }
        if (__builtin_mul_overflow(t->numel, t->shape[d], &t->numel)) overflow = 1;
    }
    /* a zero dimension makes the tensor empty however large the others are */
    for (d = 0; d < ndim; d++)
        if (t->shape[d] == 0) overflow = 0, t->numel = 0;
    size_t esize = st_dtype_size(t->dtype);
    uint64_t need;
    if (overflow || __builtin_mul_overflow((uint64_t)t->numel, (uint64_t)esize, &need) ||
        need > (uint64_t)INT64_MAX)
        return ls_error(LS_ERR_FORMAT, "%s: tensor '%s': %s shape %s is too large", path, nm,
                        st_dtype_name(t->dtype), show_shape(t, sh, sizeof sh));

    int64_t begin, end;
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        json_int(h, offsets->child, &begin) < 0 || json_int(h, offsets->child->next, &end) < 0)
        return ls_error(LS_ERR_FORMAT, "%s: tensor '%s': data_offsets is not an array of two "
                        "non-negative integers", path, nm);
    if (end < begin)
        return ls_error(LS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%" PRId64 ", %" PRId64
                        "] end before they begin", path, nm, begin, end);
    if ((uint64_t)end > data_size)
        return ls_error(LS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%" PRId64 ", %" PRId64
                        "] run past the end of the data section (%" PRIu64 " bytes)", path, nm,
                        begin, end, data_size);
    if ((uint64_t)(end - begin) != need)
        return ls_error(LS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%" PRId64 ", %" PRId64
                        "] hold %" PRId64 " bytes but %s shape %s needs %" PRIu64, path, nm,
                        begin, end, end - begin, st_dtype_name(t->dtype),
                        show_shape(t, sh, sizeof sh), need);
    t->offset = (uint64_t)begin;
    t->nbytes = need;
    return 0;
}

static int parse_metadata(const Header *h, const cJSON *meta, StFile *file, char **strings) {
    char key[ST_SHOW];
    if (!cJSON_IsObject(meta))
        return ls_error(LS_ERR_FORMAT, "%s: __metadata__ is %s, not an object of strings",
                        h->path, json_kind(meta));
    for (const cJSON *kv = meta->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv))
            return ls_error(LS_ERR_FORMAT, "%s: __metadata__ key '%s': value is %s, not a "
                            "string", h->path, show(kv->string, key, sizeof key), json_kind(kv));
        for (int64_t i = 0; i < file->meta_count; i++)
            if (strcmp(file->meta[2 * i], kv->string) == 0)
                return ls_error(LS_ERR_FORMAT, "%s: __metadata__ key '%s' appears twice",
                                h->path, show(kv->string, key, sizeof key));
        /* the duplicate scan above is quadratic; metadata holds a handful of keys, and the
         * header's 100 MB bound caps it */
        file->meta[2 * file->meta_count] = *strings;
        *strings = stpcpy(*strings, kv->string) + 1;
        file->meta[2 * file->meta_count + 1] = *strings;
        *strings = stpcpy(*strings, kv->valuestring) + 1;
        file->meta_count++;
    }
    return 0;
}

static int cmp_offset(const void *a, const void *b) {
    const StTensor *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_name(const void *a, const void *b) {
    const StTensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Sorted by offset: the tensors must tile [0, data_size) without holes or overlap. */
static int check_layout(const StFile *file) {
    char a[ST_SHOW], b[ST_SHOW];
    uint64_t at = 0;
    for (int64_t i = 0; i < file->count; i++) {
        const StTensor *t = &file->tensors[i];
        if (t->offset > at) {
            if (i == 0)
                return ls_error(LS_ERR_FORMAT, "%s: tensor '%s': begins at data offset %" PRIu64
                                "; bytes [0, %" PRIu64 ") belong to no tensor", file->path,
                                show(t->name, a, sizeof a), t->offset, t->offset);
            return ls_error(LS_ERR_FORMAT, "%s: tensor '%s': begins at data offset %" PRIu64
                            " but tensor '%s' ends at %" PRIu64 "; bytes in between belong to "
                            "no tensor", file->path, show(t->name, a, sizeof a), t->offset,
                            show(file->tensors[i - 1].name, b, sizeof b), at);
        }
        if (t->offset < at)
            return ls_error(LS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                            "] overlap tensor '%s', which ends at %" PRIu64, file->path,
                            show(t->name, a, sizeof a), t->offset, t->offset + t->nbytes,
                            show(file->tensors[i - 1].name, b, sizeof b), at);
        at = t->offset + t->nbytes;
    }
    if (at != file->data_size) {
        if (file->count == 0)
            return ls_error(LS_ERR_FORMAT, "%s: byte %" PRIu64 ": %" PRIu64 " bytes of data "
                            "after a header that lists no tensor", file->path, file->data_start,
                            file->data_size);
        return ls_error(LS_ERR_FORMAT, "%s: tensor '%s': the last tensor ends at data offset %"
                        PRIu64 " but the data section holds %" PRIu64 " bytes (trailing bytes "
                        "from file byte %" PRIu64 ")", file->path,
                        show(file->tensors[file->count - 1].name, a, sizeof a), at,
                        file->data_size, file->data_start + at);
    }
    return 0;
}

/* Everything after the 8-byte length: @p text (NUL-terminated) is the header. */
static int parse_header(StFile *file, char *text, size_t len) {
    int rc = 0;
    cJSON *root = NULL;
    Header h = {file->path, text, len, 0};
    const char *path = file->path;

    if (len == 0 || text[0] != '{') {
        rc = ls_error(LS_ERR_FORMAT, "%s: byte 8: header does not start with '{'", path);
        goto fail;
    }
    size_t bad = utf8_check((const unsigned char *)text, len);
    if (bad != SIZE_MAX) {
        rc = ls_error(LS_ERR_FORMAT, "%s: byte %zu: header is not valid UTF-8", path, 8 + bad);
        goto fail;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            rc = ls_error(LS_ERR_FORMAT, "%s: byte %zu: control byte 0x%02x in the header",
                          path, 8 + i, c);
            goto fail;
        }
    }
    const char *end = NULL;
    root = cJSON_ParseWithOpts(text, &end, 0);
    if (!root) {
        rc = ls_error(LS_ERR_FORMAT, "%s: byte %zu: header is not valid JSON", path,
                      8 + (size_t)(end ? end - text : 0));
        goto fail;
    }
    for (const char *p = end; p < text + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            rc = ls_error(LS_ERR_FORMAT, "%s: byte %zu: text after the header's JSON object",
                          path, 8 + (size_t)(p - text));
            goto fail;
        }
    if (!cJSON_IsObject(root)) {
        rc = ls_error(LS_ERR_FORMAT, "%s: byte 8: header is not a JSON object", path);
        goto fail;
    }
    rc = number_offsets(&h, root);
    if (rc < 0) goto fail;

    /* first pass: counts and string bytes, so that one block holds every string */
    int64_t ntensor = 0, nmeta = 0;
    size_t nstring = 0;
    const cJSON *meta = NULL;
    for (const cJSON *e = root->child; e; e = e->next) {
        nstring += strlen(e->string) + 1;
        if (strcmp(e->string, "__metadata__") == 0) {
            if (meta) {
                rc = ls_error(LS_ERR_FORMAT, "%s: __metadata__ appears twice in the header",
                              path);
                goto fail;
            }
            meta = e;
            for (const cJSON *kv = cJSON_IsObject(e) ? e->child : NULL; kv; kv = kv->next, nmeta++)
                nstring += strlen(kv->string) + (cJSON_IsString(kv) ? strlen(kv->valuestring)
                                                                     : 0) + 2;
        } else {
            ntensor++;
        }
    }
    file->tensors = calloc((size_t)ntensor + 1, sizeof *file->tensors);
    file->by_name = calloc((size_t)ntensor + 1, sizeof *file->by_name);
    file->meta = calloc(2 * (size_t)nmeta + 1, sizeof *file->meta);
    file->strings = malloc(nstring + 1);
    if (!file->tensors || !file->by_name || !file->meta || !file->strings) {
        rc = ls_error(LS_ERR_NOMEM, "%s: out of memory for a header of %" PRId64 " tensors",
                      path, ntensor);
        goto fail;
    }

    /* second pass: every entry checked in header order */
    char *s = file->strings;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (e == meta) continue;
        StTensor *t = &file->tensors[file->count++];
        t->name = s;
        s = stpcpy(s, e->string) + 1;
        rc = parse_entry(&h, e, t, file->data_size);
        if (rc < 0) goto fail;
    }
    if (meta) {
        rc = parse_metadata(&h, meta, file, &s);
        if (rc < 0) goto fail;
    }

    qsort(file->tensors, (size_t)file->count, sizeof *file->tensors, cmp_offset);
    for (int64_t i = 0; i < file->count; i++) file->by_name[i] = &file->tensors[i];
    qsort(file->by_name, (size_t)file->count, sizeof *file->by_name, cmp_name);
    for (int64_t i = 1; i < file->count; i++)
        if (strcmp(file->by_name[i]->name, file->by_name[i - 1]->name) == 0) {
            char nm[ST_SHOW];
            rc = ls_error(LS_ERR_FORMAT, "%s: tensor '%s': name appears twice in the header",
                          path, show(file->by_name[i]->name, nm, sizeof nm));
            goto fail;
        }
    rc = check_layout(file);

fail:
    cJSON_Delete(root);
    return rc;
}

int st_open(StFile **out, const char *path) {
    int rc = 0;
    char *text = NULL;
    StFile *file = NULL;
    *out = NULL;
    if (!path) return ls_error(LS_ERR_USAGE, "st_open: no path");

    file = calloc(1, sizeof *file);
    if (!file) return ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
    file->fd = -1;
    if (!(file->path = strdup(path))) {
        rc = ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    file->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (file->fd < 0) {
        rc = ls_error(LS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(file->fd, &st) < 0) {
        rc = ls_error(LS_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = ls_error(LS_ERR_IO, "%s: is a directory, not a safetensors file", path);
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = ls_error(LS_ERR_IO, "%s: not a regular file", path);
        goto fail;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < 8) {
        rc = ls_error(LS_ERR_FORMAT, "%s: byte 0: file is %" PRIu64 " bytes, too short for the "
                      "8-byte header length", path, size);
        goto fail;
    }
    unsigned char len8[8];
    int64_t got = pread_full(file->fd, len8, 8, 0);
    if (got != 8) {
        rc = got < 0 ? ls_error(LS_ERR_IO, "%s: read failed: %s", path, strerror(errno))
                     : ls_error(LS_ERR_FORMAT, "%s: byte %" PRId64 ": file ends inside the "
                                "header length", path, got);
        goto fail;
    }
    uint64_t hlen = load_le64(len8);
    if (hlen > ST_MAX_HEADER) {
        rc = ls_error(LS_ERR_FORMAT, "%s: byte 0: header length %" PRIu64 " is over the %llu-"
                      "byte limit", path, hlen, ST_MAX_HEADER);
        goto fail;
    }
    if (hlen > size - 8) {
        rc = ls_error(LS_ERR_FORMAT, "%s: byte 0: header length %" PRIu64 " runs past the end "
                      "of the file (%" PRIu64 " bytes follow the length)", path, hlen, size - 8);
        goto fail;
    }
    file->data_start = 8 + hlen;
    file->data_size = size - 8 - hlen;
    text = malloc(hlen + 1);
    if (!text) {
        rc = ls_error(LS_ERR_NOMEM, "%s: out of memory for a %" PRIu64 "-byte header", path,
                      hlen);
        goto fail;
    }
    got = pread_full(file->fd, text, hlen, 8);
    if (got != (int64_t)hlen) {
        rc = got < 0 ? ls_error(LS_ERR_IO, "%s: read failed: %s", path, strerror(errno))
                     : ls_error(LS_ERR_FORMAT, "%s: byte %" PRId64 ": file ends inside the "
                                "header", path, 8 + got);
        goto fail;
    }
    text[hlen] = '\0';
    rc = parse_header(file, text, hlen);
    if (rc < 0) goto fail;
    free(text);
    *out = file;
    return 0;

fail:
    free(text);
    st_close(file);
    return rc;
}

int64_t st_count(const StFile *file) { return file ? file->count : 0; }

const StTensor *st_tensor(const StFile *file, int64_t i) {
    return file && i >= 0 && i < file->count ? &file->tensors[i] : NULL;
}

const StTensor *st_find(const StFile *file, const char *name) {
    if (!file || !name || file->count == 0) return NULL;
    StTensor key = {.name = name};
    const StTensor *pkey = &key;
    const StTensor **hit = bsearch(&pkey, file->by_name, (size_t)file->count,
                                   sizeof *file->by_name, cmp_name);
    return hit ? *hit : NULL;
}

static int tensor_check(const StFile *file, const StTensor *tensor, const char *who) {
    uintptr_t p = (uintptr_t)tensor, first = file ? (uintptr_t)file->tensors : 0;
    if (!file || !tensor || p < first || p >= first + (uintptr_t)file->count * sizeof *tensor ||
        (p - first) % sizeof *tensor != 0)
        return ls_error(LS_ERR_USAGE, "%s: tensor is not one of %s's", who,
                        file ? file->path : "(null)");
    return 0;
}

/* Raw bytes of [offset, offset + n) of the tensor's data. */
static int read_span(StFile *file, const StTensor *t, void *dst, size_t n, uint64_t offset) {
    uint64_t at = file->data_start + t->offset + offset;
    int64_t got = pread_full(file->fd, dst, n, at);
    char nm[ST_SHOW];
    if (got < 0)
        return ls_error(LS_ERR_IO, "%s: tensor '%s': read failed at byte %" PRIu64 ": %s",
                        file->path, show(t->name, nm, sizeof nm), at, strerror(errno));
    if ((size_t)got != n)
        return ls_error(LS_ERR_IO, "%s: tensor '%s': file ends at byte %" PRIu64 ", inside the "
                        "tensor (was it truncated after it was opened?)", file->path,
                        show(t->name, nm, sizeof nm), at + (uint64_t)got);
    return 0;
}

int st_read(StFile *file, const StTensor *tensor, void *dst, size_t dst_bytes) {
    int rc = tensor_check(file, tensor, "st_read");
    if (rc < 0) return rc;
    char nm[ST_SHOW];
    if (dst_bytes != tensor->nbytes)
        return ls_error(LS_ERR_USAGE, "%s: tensor '%s': holds %" PRIu64 " bytes, not %zu",
                        file->path, show(tensor->name, nm, sizeof nm), tensor->nbytes, dst_bytes);
    if (dst_bytes == 0) return 0;
    rc = read_span(file, tensor, dst, dst_bytes, 0);
    if (rc < 0) return rc;
    if (!host_is_little_endian()) swap_elements(dst, dst_bytes, st_dtype_size(tensor->dtype));
    return 0;
}

int st_read_f32(StFile *file, const StTensor *tensor, float *dst, int64_t n) {
    int rc = tensor_check(file, tensor, "st_read_f32");
    if (rc < 0) return rc;
    char nm[ST_SHOW];
    if (n != tensor->numel)
        return ls_error(LS_ERR_USAGE, "%s: tensor '%s': holds %" PRId64 " elements, not %"
                        PRId64, file->path, show(tensor->name, nm, sizeof nm), tensor->numel, n);
    if (tensor->dtype == ST_F32) return st_read(file, tensor, dst, (size_t)n * sizeof *dst);
    if (tensor->dtype != ST_F16 && tensor->dtype != ST_BF16)
        return ls_error(LS_ERR_UNSUPPORTED, "%s: tensor '%s': dtype %s cannot be read as "
                        "float (F32, F16 or BF16 only)", file->path,
                        show(tensor->name, nm, sizeof nm), st_dtype_name(tensor->dtype));
    /* 16-bit halves through a fixed chunk: no allocation, one pread per 64 KiB */
    unsigned char chunk[ST_CHUNK];
    const int bf16 = tensor->dtype == ST_BF16;
    for (int64_t i = 0; i < n;) {
        int64_t m = n - i < ST_CHUNK / 2 ? n - i : ST_CHUNK / 2;
        rc = read_span(file, tensor, chunk, (size_t)m * 2, (uint64_t)i * 2);
        if (rc < 0) return rc;
        for (int64_t k = 0; k < m; k++) {
            uint16_t h = load_le16(chunk + 2 * k);
            dst[i + k] = bf16 ? st_bf16_to_f32(h) : st_f16_to_f32(h);
        }
        i += m;
    }
    return 0;
}

int64_t st_first_nonfinite(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return -1;
}

int st_check_finite(const char *file, const char *name, int ndim, const int64_t *shape,
                    const float *x, int64_t n) {
    int64_t bad = st_first_nonfinite(x, n);
    if (bad < 0) return 0;
    /* the flat index as [i, j, ...] of the shape, outermost first */
    char where[8 * 24 + 4] = "";
    if (ndim > 0 && ndim <= ST_MAX_DIMS) {
        int64_t idx[ST_MAX_DIMS], rest = bad;
        for (int d = ndim - 1; d >= 0; d--) {
            idx[d] = shape[d] > 0 ? rest % shape[d] : 0;
            rest = shape[d] > 0 ? rest / shape[d] : 0;
        }
        size_t at = 0;
        for (int d = 0; d < ndim; d++)
            at += (size_t)snprintf(where + at, sizeof where - at, "%s%" PRId64,
                                   d ? ", " : "[", idx[d]);
        snprintf(where + at, sizeof where - at, "] ");
    }
    char nm[ST_SHOW];
    float v = x[bad];
    return ls_error(LS_ERR_FORMAT, "%s: tensor '%s': element %s(index %" PRId64 " of %" PRId64
                    ") is %s; a checkpoint holding a value that is not a number gives no "
                    "results", file, show(name, nm, sizeof nm), where, bad, n,
                    isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
}

int st_read_f32_finite(StFile *file, const StTensor *tensor, float *dst, int64_t n) {
    int rc = st_read_f32(file, tensor, dst, n);
    if (rc < 0) return rc;
    return st_check_finite(file->path, tensor->name, tensor->ndim, tensor->shape, dst, n);
}

int64_t st_metadata_count(const StFile *file) { return file ? file->meta_count : 0; }

const char *st_metadata_key(const StFile *file, int64_t i) {
    return file && i >= 0 && i < file->meta_count ? file->meta[2 * i] : NULL;
}

const char *st_metadata_value(const StFile *file, int64_t i) {
    return file && i >= 0 && i < file->meta_count ? file->meta[2 * i + 1] : NULL;
}

const char *st_metadata_get(const StFile *file, const char *key) {
    if (!file || !key) return NULL;
    for (int64_t i = 0; i < file->meta_count; i++)
        if (strcmp(file->meta[2 * i], key) == 0) return file->meta[2 * i + 1];
    return NULL;
}

const char *st_path(const StFile *file) { return file ? file->path : NULL; }

void st_close(StFile *file) {
    if (!file) return;
    if (file->fd >= 0) close(file->fd);
    free(file->tensors);
    free(file->by_name);
    free(file->meta);
    free(file->strings);
    free(file->path);
    free(file);
}

// ---------------------------------------------------------------------------- writer

typedef struct {
    char       *name;
    StDtype     dtype;
    int         ndim;
    int64_t     shape[ST_MAX_DIMS];
    uint64_t    nbytes;
    const void *data;   /* the caller's; not copied */
} WriterTensor;

struct StWriter {
    WriterTensor *tensors;
    int64_t       count, cap;
    int64_t      *slots;     /* open-addressing hash of tensor indices by name, -1 = empty */
    int64_t       nslots;    /* a power of two, at least twice count */
    char        **meta;      /* key, value pairs, owned */
    int64_t       meta_count, meta_cap;
};

int st_writer_init(StWriter **out) {
    *out = calloc(1, sizeof **out);
    return *out ? 0 : ls_error(LS_ERR_NOMEM, "st_writer_init: out of memory");
}

void st_writer_free(StWriter *writer) {
    if (!writer) return;
    for (int64_t i = 0; i < writer->count; i++) free(writer->tensors[i].name);
    for (int64_t i = 0; i < 2 * writer->meta_count; i++) free(writer->meta[i]);
    free(writer->tensors);
    free(writer->slots);
    free(writer->meta);
    free(writer);
}

static uint64_t name_hash(const char *s) {
    uint64_t h = 14695981039346656037ull;                  /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The slot holding @p name, or the empty slot where it would go. */
static int64_t *name_slot(const StWriter *w, const char *name) {
    uint64_t mask = (uint64_t)w->nslots - 1;
    for (uint64_t i = name_hash(name) & mask;; i = (i + 1) & mask)
        if (w->slots[i] < 0 || strcmp(w->tensors[w->slots[i]].name, name) == 0)
            return &w->slots[i];
}

/* Keep the table at most half full, so that adding stays O(1) for models of any size. */
static int name_reserve(StWriter *w) {
    if (2 * (w->count + 1) <= w->nslots) return 0;
    int64_t n = w->nslots ? 2 * w->nslots : 64;
    int64_t *slots = malloc((size_t)n * sizeof *slots), *old = w->slots;
    if (!slots) return -1;
    for (int64_t i = 0; i < n; i++) slots[i] = -1;
    w->slots = slots;
    w->nslots = n;
    for (int64_t i = 0; i < w->count; i++) *name_slot(w, w->tensors[i].name) = i;
    free(old);
    return 0;
}

static int utf8_string(const char *s) {
    return s && utf8_check((const unsigned char *)s, strlen(s)) == SIZE_MAX;
}

int st_writer_add(StWriter *writer, const char *name, StDtype dtype, int ndim,
                  const int64_t *shape, const void *data) {
    char nm[ST_SHOW];
    if (!writer || !name || !*name)
        return ls_error(LS_ERR_USAGE, "st_writer_add: empty tensor name");
    show(name, nm, sizeof nm);
    if (!utf8_string(name) || strcmp(name, "__metadata__") == 0)
        return ls_error(LS_ERR_USAGE, "st_writer_add: tensor '%s': name must be UTF-8 and not "
                        "__metadata__", nm);
    if (!dtype_valid(dtype))
        return ls_error(LS_ERR_USAGE, "st_writer_add: tensor '%s': invalid dtype %d", nm,
                        (int)dtype);
    if (ndim < 0 || ndim > ST_MAX_DIMS || (ndim > 0 && !shape))
        return ls_error(LS_ERR_USAGE, "st_writer_add: tensor '%s': %d dimensions (0 to %d)", nm,
                        ndim, ST_MAX_DIMS);
    int64_t numel = 1;
    int overflow = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return ls_error(LS_ERR_USAGE, "st_writer_add: tensor '%s': negative dimension %"
                            PRId64, nm, shape[d]);
        if (__builtin_mul_overflow(numel, shape[d], &numel)) overflow = 1;
    }
    for (int d = 0; d < ndim; d++)
        if (shape[d] == 0) numel = 0, overflow = 0;
    uint64_t nbytes;
    if (overflow || __builtin_mul_overflow((uint64_t)numel, (uint64_t)st_dtype_size(dtype),
                                           &nbytes) || nbytes > (uint64_t)INT64_MAX)
        return ls_error(LS_ERR_USAGE, "st_writer_add: tensor '%s': shape too large", nm);
    if (nbytes > 0 && !data)
        return ls_error(LS_ERR_USAGE, "st_writer_add: tensor '%s': no data", nm);
    if (name_reserve(writer) < 0) return ls_error(LS_ERR_NOMEM, "st_writer_add: out of memory");
    int64_t *slot = name_slot(writer, name);
    if (*slot >= 0) return ls_error(LS_ERR_USAGE, "st_writer_add: tensor '%s' added twice", nm);

    if (writer->count == writer->cap) {
        int64_t cap = writer->cap ? 2 * writer->cap : 16;
        WriterTensor *grown = realloc(writer->tensors, (size_t)cap * sizeof *grown);
        if (!grown) return ls_error(LS_ERR_NOMEM, "st_writer_add: out of memory");
        writer->tensors = grown;
        writer->cap = cap;
    }
    WriterTensor *t = &writer->tensors[writer->count];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name))) return ls_error(LS_ERR_NOMEM, "st_writer_add: out of memory");
    t->dtype = dtype;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->nbytes = nbytes;
    t->data = data;
    *slot = writer->count++;
    return 0;
}

int st_writer_set_metadata(StWriter *writer, const char *key, const char *value) {
    if (!writer || !utf8_string(key) || !utf8_string(value))
        return ls_error(LS_ERR_USAGE, "st_writer_set_metadata: key and value must be UTF-8 "
                        "strings");
    char *v = strdup(value);
    if (!v) return ls_error(LS_ERR_NOMEM, "st_writer_set_metadata: out of memory");
    for (int64_t i = 0; i < writer->meta_count; i++)
        if (strcmp(writer->meta[2 * i], key) == 0) {
            free(writer->meta[2 * i + 1]);
            writer->meta[2 * i + 1] = v;
            return 0;
        }
    if (writer->meta_count == writer->meta_cap) {
        int64_t cap = writer->meta_cap ? 2 * writer->meta_cap : 8;
        char **grown = realloc(writer->meta, 2 * (size_t)cap * sizeof *grown);
        if (!grown) {
            free(v);
            return ls_error(LS_ERR_NOMEM, "st_writer_set_metadata: out of memory");
        }
        writer->meta = grown;
        writer->meta_cap = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(v);
        return ls_error(LS_ERR_NOMEM, "st_writer_set_metadata: out of memory");
    }
    writer->meta[2 * writer->meta_count] = k;
    writer->meta[2 * writer->meta_count + 1] = v;
    writer->meta_count++;
    return 0;
}

/* An integer as a raw JSON item: exact at any size (cJSON prints doubles as 1e+15). */
static int json_add_int(cJSON *array, uint64_t v) {
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, v);
    cJSON *item = cJSON_CreateRaw(text);
    return item && cJSON_AddItemToArray(array, item) ? 0 : -1;
}

/* The header JSON, unpadded; free with cJSON_free. */
static char *writer_header(const StWriter *w) {
    char *json = NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root) goto fail;
    if (w->meta_count > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        if (!meta) goto fail;
        for (int64_t i = 0; i < w->meta_count; i++)
            if (!cJSON_AddStringToObject(meta, w->meta[2 * i], w->meta[2 * i + 1])) goto fail;
    }
    uint64_t at = 0;
    for (int64_t i = 0; i < w->count; i++) {
        const WriterTensor *t = &w->tensors[i];
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        if (!e || !cJSON_AddStringToObject(e, "dtype", st_dtype_name(t->dtype))) goto fail;
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        if (!shape) goto fail;
        for (int d = 0; d < t->ndim; d++)
            if (json_add_int(shape, (uint64_t)t->shape[d]) < 0) goto fail;
        cJSON *offsets = cJSON_AddArrayToObject(e, "data_offsets");
        if (!offsets || json_add_int(offsets, at) < 0 ||
            json_add_int(offsets, at + t->nbytes) < 0)
            goto fail;
        at += t->nbytes;
    }
    json = cJSON_PrintUnformatted(root);
fail:
    cJSON_Delete(root);
    return json;
}

/* Tensor bytes in little-endian order, straight from the caller's buffer on LE hosts. */
static int write_tensor(FILE *fp, const WriterTensor *t) {
    if (t->nbytes == 0) return 0;
    size_t esize = st_dtype_size(t->dtype);
    if (host_is_little_endian() || esize == 1)
        return fwrite(t->data, 1, t->nbytes, fp) == t->nbytes ? 0 : -1;
    unsigned char chunk[ST_CHUNK];
    const unsigned char *src = t->data;
    for (uint64_t i = 0; i < t->nbytes; i += ST_CHUNK) {
        size_t m = t->nbytes - i < ST_CHUNK ? (size_t)(t->nbytes - i) : ST_CHUNK;
        memcpy(chunk, src + i, m);
        swap_elements(chunk, m, esize);
        if (fwrite(chunk, 1, m, fp) != m) return -1;
    }
    return 0;
}

int st_writer_save(StWriter *writer, const char *path) {
    int rc = 0;
    char *json = NULL;
    FILE *fp = NULL;
    AtomicFile out = {.fd = -1};
    if (!writer || !path || !*path) return ls_error(LS_ERR_USAGE, "st_writer_save: no path");

    json = writer_header(writer);
    if (!json) {
        rc = ls_error(LS_ERR_NOMEM, "%s: out of memory building the header", path);
        goto fail;
    }
    size_t jlen = strlen(json), pad = (8 - jlen % 8) % 8;
    if (jlen + pad > ST_MAX_HEADER) {
        rc = ls_error(LS_ERR_RANGE, "%s: header of %zu bytes is over the %llu-byte limit "
                      "readers accept", path, jlen + pad, ST_MAX_HEADER);
        goto fail;
    }
    if ((rc = atomic_file_open(&out, path)) < 0) goto fail;
    fp = fdopen(out.fd, "wb");
    if (!fp) {
        rc = ls_error(LS_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        goto fail;
    }
    unsigned char len8[8];
    static const char spaces[8] = "        ";
    store_le64(len8, jlen + pad);
    int ok = fwrite(len8, 1, 8, fp) == 8 && fwrite(json, 1, jlen, fp) == jlen &&
             fwrite(spaces, 1, pad, fp) == pad;
    for (int64_t i = 0; ok && i < writer->count; i++)
        ok = write_tensor(fp, &writer->tensors[i]) == 0;
    /* the FILE owns the descriptor: flush and fsync through it, close, then rename */
    if (!ok || fflush(fp) != 0 || (fsync(out.fd) != 0 && (out.tmp || errno != EINVAL))) {
        rc = ls_error(LS_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        goto fail;
    }
    int closed = fclose(fp);
    fp = NULL;
    out.fd = -1;
    if (closed != 0) {
        rc = ls_error(LS_ERR_IO, "%s: close failed: %s", path, strerror(errno));
        goto fail;
    }
    rc = atomic_file_commit(&out);   /* rename + folder fsync; cleans up on failure */

fail:
    if (fp) {
        fclose(fp);
        out.fd = -1;
    }
    atomic_file_abort(&out);          /* removes the temporary unless committed */
    cJSON_free(json);
    return rc;
}
