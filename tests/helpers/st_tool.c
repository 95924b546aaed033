/*
 * st_tool.c — test helper for io/safetensors: dump a file, or write the fixture that
 * tests/py/test_safetensors_py.py checks with Python's `safetensors`.
 *
 *   st_tool dump FILE    metadata (sorted by key) and every tensor (file order), one field
 *                        per tab: "tensor NAME DTYPE SHAPE OFFSET NBYTES", then "raw HEX" and
 *                        "values V V ..." (floats %.17g / %.9g, F16/BF16 through st_read_f32)
 *   st_tool write FILE   the fixture below (every dtype, 0-d, empty, metadata)
 *   st_tool set FILE TENSOR INDEX|all VALUE
 *                        overwrite one element (or all) of an F32 tensor in place, e.g. with
 *                        nan or 3e38 (tests/cli/safety.tst: checkpoints no writer makes)
 *
 * Names, keys and values are printed with '\\', '\t', '\n' and other bytes < 0x20 escaped
 * as \\\\ and \xHH. On error: one line "st_tool: <message>" on stderr, exit status 1.
 */
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"

static void put_escaped(const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\\') fputs("\\\\", stdout);
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
}

static int cmp_key(const void *a, const void *b) {
    return strcmp(**(const char *const *const *)a, **(const char *const *const *)b);
}

static int dump_values(StFile *file, const StTensor *t, const unsigned char *raw) {
    printf("values");
    if (t->dtype == ST_F16 || t->dtype == ST_BF16) {
        float *f = malloc((size_t)t->numel * sizeof *f + 1);
        if (!f) return ls_error(LS_ERR_NOMEM, "out of memory");
        int rc = st_read_f32(file, t, f, t->numel);
        for (int64_t i = 0; rc == 0 && i < t->numel; i++) printf(" %.9g", (double)f[i]);
        free(f);
        putchar('\n');
        return rc;
    }
    for (int64_t i = 0; i < t->numel; i++) {
        const unsigned char *p = raw + (size_t)i * st_dtype_size(t->dtype);
        union { double f64; float f32; int64_t i64; int32_t i32; int16_t i16; int8_t i8;
                uint8_t u8; } v;
        memcpy(&v, p, st_dtype_size(t->dtype));
        switch (t->dtype) {
        case ST_F64: printf(" %.17g", v.f64); break;
        case ST_F32: printf(" %.9g", (double)v.f32); break;
        case ST_I64: printf(" %" PRId64, v.i64); break;
        case ST_I32: printf(" %" PRId32, v.i32); break;
        case ST_I16: printf(" %d", v.i16); break;
        case ST_I8: printf(" %d", v.i8); break;
        case ST_U8:
        case ST_BOOL: printf(" %u", v.u8); break;
        default: break;
        }
    }
    putchar('\n');
    return 0;
}

static int dump(const char *path) {
    StFile *file = NULL;
    unsigned char *raw = NULL;
    const char **keys = NULL;
    int rc = st_open(&file, path);
    if (rc < 0) goto fail;

    int64_t nmeta = st_metadata_count(file);
    keys = calloc((size_t)nmeta + 1, sizeof *keys);
    const char ***order = calloc((size_t)nmeta + 1, sizeof *order);
    if (!keys || !order) {
        free(order);
        rc = ls_error(LS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int64_t i = 0; i < nmeta; i++) keys[i] = st_metadata_key(file, i);
    for (int64_t i = 0; i < nmeta; i++) order[i] = &keys[i];
    qsort(order, (size_t)nmeta, sizeof *order, cmp_key);
    printf("metadata\t%" PRId64 "\n", nmeta);
    for (int64_t i = 0; i < nmeta; i++) {
        int64_t k = order[i] - keys;
        printf("meta\t");
        put_escaped(st_metadata_key(file, k));
        putchar('\t');
        put_escaped(st_metadata_value(file, k));
        putchar('\n');
    }
    free(order);

    printf("tensors\t%" PRId64 "\n", st_count(file));
    for (int64_t i = 0; i < st_count(file); i++) {
        const StTensor *t = st_tensor(file, i);
        if (st_find(file, t->name) != t) {
            rc = ls_error(LS_ERR_INTERNAL, "st_find('%s') is not tensor %" PRId64, t->name, i);
            goto fail;
        }
        printf("tensor\t");
        put_escaped(t->name);
        printf("\t%s\t", st_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++) printf("%s%" PRId64, d ? "," : "", t->shape[d]);
        printf("\t%" PRIu64 "\t%" PRIu64 "\n", t->offset, t->nbytes);
        free(raw);
        raw = malloc(t->nbytes + 1);
        if (!raw) {
            rc = ls_error(LS_ERR_NOMEM, "out of memory");
            goto fail;
        }
        rc = st_read(file, t, raw, t->nbytes);
        if (rc < 0) goto fail;
        printf("raw\t");
        for (uint64_t b = 0; b < t->nbytes; b++) printf("%02x", raw[b]);
        putchar('\n');
        rc = dump_values(file, t, raw);
        if (rc < 0) goto fail;
    }
fail:
    free(raw);
    free(keys);
    st_close(file);
    return rc;
}

// ---------------------------------------------------------------------------- the fixture
// tests/py/test_safetensors_py.py holds the same values; change both together.

static int write_fixture(const char *path) {
    static const double f64[6] = {3.141592653589793, -0.0, INFINITY, NAN, 4.9406564584124654e-324,
                                  DBL_MAX};
    static const float f32[8] = {1.5f, -0.0f, FLT_MAX, 1e-45f, INFINITY, -INFINITY, NAN, 0.1f};
    static const uint16_t f16[10] = {0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff,
                                     0x0400, 0x7c00, 0xfc00, 0x7e00, 0x8000};
    static const uint16_t bf16[10] = {0x3f80, 0xc020, 0x7f7f, 0x0001, 0x007f,
                                      0x0080, 0x7f80, 0xff80, 0x7fc0, 0x8000};
    static const float to_f16[16] = {1.0f, -2.5f, 65504.0f, 65519.99f, 65520.0f, 1e-8f,
                                     5.9604644775390625e-08f, 2.98023223876953125e-08f,
                                     8.940696716308594e-08f, 1.00048828125f, 1.00146484375f,
                                     0.1f, 3.14159f, -1e10f, NAN, INFINITY};
    static const float to_bf16[10] = {1.0f, -2.5f, 3.3895313892515355e38f, FLT_MAX,
                                      1.00390625f, 1.01171875f, 0.1f, 1e-40f, NAN, -INFINITY};
    static const int64_t i64[4] = {INT64_MIN, INT64_MAX, -1, 0};
    static const int32_t i32[4] = {INT32_MIN, INT32_MAX, -1, 123456789};
    static const int16_t i16[3] = {-32768, 32767, -2};
    static const int8_t i8[4] = {-128, 127, -1, 0};
    static const uint8_t u8[4] = {0, 255, 128, 7};
    static const uint8_t bools[3] = {1, 0, 1};
    static const float scalar = 42.5f;
    static const float weight[6] = {0.5f, -1.25f, 2.0f, 1e-3f, -7.0f, 100.0f};
    static const int8_t naive[1] = {-5};
    uint16_t h16[16], hb16[10];
    for (int i = 0; i < 16; i++) h16[i] = st_f32_to_f16(to_f16[i]);
    for (int i = 0; i < 10; i++) hb16[i] = st_f32_to_bf16(to_bf16[i]);

    StWriter *w = NULL;
    int rc = st_writer_init(&w);
    if (rc < 0) return rc;
    const int64_t s23[2] = {2, 3}, s222[3] = {2, 2, 2}, s25[2] = {2, 5}, s16[1] = {16},
                  s10[1] = {10}, s4[1] = {4}, s3[1] = {3}, s14[2] = {1, 4}, s30[2] = {3, 0},
                  s0[1] = {0}, s1[1] = {1};
    if ((rc = st_writer_set_metadata(w, "format", "longscan")) < 0 ||
        (rc = st_writer_set_metadata(w, "format_version", "0")) < 0 ||
        (rc = st_writer_set_metadata(w, "format_version", "1")) < 0 ||
        (rc = st_writer_set_metadata(w, "config", "{\"d_model\": 16, \"name\": \"caf\xc3\xa9\","
                                     " \"tab\": \"a\\tb\"}")) < 0 ||
        (rc = st_writer_set_metadata(w, "empty", "")) < 0 ||
        (rc = st_writer_set_metadata(w, "lines", "one\ntwo\tthree \\ \"q\"")) < 0 ||
        (rc = st_writer_add(w, "f64", ST_F64, 2, s23, f64)) < 0 ||
        (rc = st_writer_add(w, "f32", ST_F32, 3, s222, f32)) < 0 ||
        (rc = st_writer_add(w, "f16", ST_F16, 2, s25, f16)) < 0 ||
        (rc = st_writer_add(w, "bf16", ST_BF16, 2, s25, bf16)) < 0 ||
        (rc = st_writer_add(w, "f16_from_f32", ST_F16, 1, s16, h16)) < 0 ||
        (rc = st_writer_add(w, "bf16_from_f32", ST_BF16, 1, s10, hb16)) < 0 ||
        (rc = st_writer_add(w, "i64", ST_I64, 1, s4, i64)) < 0 ||
        (rc = st_writer_add(w, "i32", ST_I32, 1, s4, i32)) < 0 ||
        (rc = st_writer_add(w, "i16", ST_I16, 1, s3, i16)) < 0 ||
        (rc = st_writer_add(w, "i8", ST_I8, 1, s4, i8)) < 0 ||
        (rc = st_writer_add(w, "u8", ST_U8, 2, s14, u8)) < 0 ||
        (rc = st_writer_add(w, "bool", ST_BOOL, 1, s3, bools)) < 0 ||
        (rc = st_writer_add(w, "scalar", ST_F32, 0, NULL, &scalar)) < 0 ||
        (rc = st_writer_add(w, "empty", ST_F32, 2, s30, NULL)) < 0 ||
        (rc = st_writer_add(w, "empty_i64", ST_I64, 1, s0, NULL)) < 0 ||
        (rc = st_writer_add(w, "backbone.layers.0.mixer.in_proj.weight", ST_F32, 2, s23,
                            weight)) < 0 ||
        (rc = st_writer_add(w, "na\xc3\xafve", ST_I8, 1, s1, naive)) < 0)
        goto fail;
    rc = st_writer_save(w, path);
fail:
    st_writer_free(w);
    return rc;
}

// ---------------------------------------------------------------------------- set

/* Overwrite element @p which ("all" or an index) of F32 tensor @p name in place with @p value
 * (strtof: "nan", "inf", "3e38" ...): checkpoints that hold what a writer never would. */
static int set_value(const char *path, const char *name, const char *which, const char *value) {
    StFile *file = NULL;
    int fd = -1, rc = st_open(&file, path);
    if (rc < 0) return rc;
    const StTensor *t = st_find(file, name);
    char *end;
    float v = strtof(value, &end);
    long long index = strcmp(which, "all") == 0 ? -1 : strtoll(which, NULL, 10);
    unsigned char len8[8];
    if (!t || t->dtype != ST_F32 || *end || index >= t->numel) {
        rc = ls_error(LS_ERR_USAGE, "%s: no F32 tensor '%s' with element %s, or bad value %s",
                      path, name, which, value);
        goto fail;
    }
    fd = open(path, O_RDWR);
    if (fd < 0 || pread(fd, len8, 8, 0) != 8) {
        rc = ls_error(LS_ERR_IO, "%s: cannot open or read", path);
        goto fail;
    }
    uint64_t header = 0;
    for (int i = 7; i >= 0; i--) header = (header << 8) | len8[i];
    for (int64_t i = index < 0 ? 0 : index; i < (index < 0 ? t->numel : index + 1); i++) {
        off_t at = (off_t)(8 + header + t->offset + 4 * (uint64_t)i);
        if (pwrite(fd, &v, 4, at) != 4) {   /* little-endian host, as the tests run on */
            rc = ls_error(LS_ERR_IO, "%s: write failed", path);
            goto fail;
        }
    }
fail:
    if (fd >= 0) close(fd);
    st_close(file);
    return rc;
}

int main(int argc, char **argv) {
    int rc;
    if (argc == 6 && strcmp(argv[1], "set") == 0) rc = set_value(argv[2], argv[3], argv[4], argv[5]);
    else if (argc == 3 && strcmp(argv[1], "dump") == 0) rc = dump(argv[2]);
    else if (argc == 3 && strcmp(argv[1], "write") == 0) rc = write_fixture(argv[2]);
    else {
        fprintf(stderr, "usage: st_tool dump|write FILE | set FILE TENSOR INDEX|all VALUE\n");
        return 1;
    }
    fflush(stdout);
    if (rc < 0) {
        fprintf(stderr, "st_tool: %s\n", ls_error_message());
        return 1;
    }
    return 0;
}
