/*
 * test_safetensors.c — io/safetensors: writer → reader round trips of every dtype (exact
 * bytes), metadata, 0-d and empty tensors, st_find, f16/bf16 conversions (tables of known
 * values, every f16 value, and f32 → f16/bf16 against an independent rint()-based rounding),
 * a table of malformed files (each checked for its code and for a message naming the file and
 * the tensor or byte), every truncation of a valid file, and saves that fail (no directory,
 * unwritable temporary, rename onto a directory, file size limit) leaving the target intact.
 *
 * Files live in a mkdtemp() directory removed at the end. Run: build/tests/test_safetensors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors.h"

static char g_dir[64];

static const char *tmp_path(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", g_dir, name);
    return buf;
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (n) assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

/* 8-byte LE length @p hlen, then @p header (strlen bytes), then @p ndata zero-ish bytes. */
static void write_st_raw(const char *path, uint64_t hlen, const char *header, size_t ndata) {
    size_t n = strlen(header);
    unsigned char *buf = calloc(8 + n + ndata + 1, 1);
    assert_non_null(buf);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + 8, header, n);
    for (size_t i = 0; i < ndata; i++) buf[8 + n + i] = (unsigned char)(i * 7 + 1);
    write_bytes(path, buf, 8 + n + ndata);
    free(buf);
}

static void write_st(const char *path, const char *header, size_t ndata) {
    write_st_raw(path, strlen(header), header, ndata);
}

/* Temporaries of the writer (".longscan-*.tmp") left in the test folder. */
static int count_temporaries(void) {
    DIR *d = opendir(g_dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strncmp(e->d_name, ".longscan-", 10) == 0) n++;
    closedir(d);
    return n;
}

static unsigned char *read_all(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    *n = (size_t)size;
    return buf;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_safetensors.XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static uint32_t bits32(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float from_bits32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// ---------------------------------------------------------------------------- dtypes

static void test_dtype_names(void **state) {
    (void)state;
    static const char *names[] = {"F64", "F32", "F16", "BF16", "I64",
                                  "I32", "I16", "I8",  "U8",   "BOOL"};
    static const size_t sizes[] = {8, 4, 2, 2, 8, 4, 2, 1, 1, 1};
    for (int i = 0; i < ST_DTYPE_COUNT; i++) {
        StDtype d;
        assert_string_equal(st_dtype_name((StDtype)i), names[i]);
        assert_int_equal(st_dtype_size((StDtype)i), sizes[i]);
        assert_int_equal(st_dtype_parse(names[i], &d), 0);
        assert_int_equal(d, i);
    }
    StDtype d;
    assert_int_equal(st_dtype_parse("f32", &d), LS_ERR_FORMAT);
    assert_int_equal(st_dtype_parse("U16", &d), LS_ERR_FORMAT);
    assert_string_equal(st_dtype_name(ST_DTYPE_COUNT), "?");
    assert_int_equal(st_dtype_size(ST_DTYPE_COUNT), 0);
}

// ---------------------------------------------------------------------------- conversions

static void test_f16_table(void **state) {
    (void)state;
    static const struct {
        uint16_t h;
        float f;
    } exact[] = {
        {0x3c00, 1.0f},       {0xc100, -2.5f},        {0x7bff, 65504.0f},
        {0xfbff, -65504.0f},  {0x0001, 0x1p-24f},     {0x8001, -0x1p-24f},
        {0x03ff, 0x3ffp-24f}, {0x0400, 0x1p-14f},     {0x3555, 0x1.554p-2f},
        {0x0000, 0.0f},       {0x7c00, INFINITY},     {0xfc00, -INFINITY},
        {0x3bff, 0x1.ffcp-1f}, {0x3c01, 0x1.004p0f},  {0x0200, 0x1p-15f},
    };
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        float f = st_f16_to_f32(exact[i].h);
        if (bits32(f) != bits32(exact[i].f))
            fail_msg("f16 0x%04x produced %a, expected %a", exact[i].h, (double)f,
                     (double)exact[i].f);
        assert_int_equal(st_f32_to_f16(exact[i].f), exact[i].h);
    }
    assert_int_equal(bits32(st_f16_to_f32(0x8000)), 0x80000000u);   /* -0 */
    assert_true(isnan(st_f16_to_f32(0x7e00)));
    assert_true(isnan(st_f16_to_f32(0x7c01)));                      /* signaling NaN */
    assert_true(isnan(st_f16_to_f32(0xfe00)) && signbit(st_f16_to_f32(0xfe00)));

    /* rounding: ties to even, overflow to inf, underflow to (signed) zero */
    static const struct {
        float f;
        uint16_t h;
    } round[] = {
        {0x1.002p0f, 0x3c00},  /* 1 + half ulp: tie → even 1.0 */
        {0x1.006p0f, 0x3c02},  /* 1 + 1.5 ulp: tie → even 1 + 2 ulp */
        {0x1.0021p0f, 0x3c01}, /* just above the tie */
        {65519.0f, 0x7bff},    {65520.0f, 0x7c00},  {1e10f, 0x7c00}, {-1e10f, 0xfc00},
        {0x1p-25f, 0x0000},    /* half the smallest subnormal: tie → 0 */
        {0x1.000002p-25f, 0x0001},
        {0x1.8p-24f, 0x0002},  /* 1.5 × smallest: tie → 2 */
        {0x1.8p-23f, 0x0003},  /* 3 × smallest: exact */
        {0x1.ffcp-15f, 0x0400},/* rounds up into the smallest normal */
        {-0x1p-30f, 0x8000},   {FLT_TRUE_MIN, 0x0000},
        {FLT_MAX, 0x7c00},     {0.1f, 0x2e66},     {3.14159f, 0x4248},
    };
    for (size_t i = 0; i < sizeof round / sizeof round[0]; i++) {
        uint16_t h = st_f32_to_f16(round[i].f);
        if (h != round[i].h)
            fail_msg("f32 %a produced f16 0x%04x, expected 0x%04x", (double)round[i].f, h,
                     round[i].h);
    }
    uint16_t qn = st_f32_to_f16(NAN);
    assert_true((qn & 0x7c00) == 0x7c00 && (qn & 0x3ff) != 0);
    /* a NaN whose payload sits only in the low bits must stay NaN */
    uint16_t low = st_f32_to_f16(from_bits32(0x7f800001u));
    assert_true((low & 0x7c00) == 0x7c00 && (low & 0x3ff) != 0);
}

static void test_bf16_table(void **state) {
    (void)state;
    static const struct {
        uint16_t h;
        float f;
    } exact[] = {
        {0x3f80, 1.0f},        {0xc020, -2.5f},     {0x7f7f, 0x1.fep127f},
        {0x0001, 0x1p-133f},   {0x007f, 0x7fp-133f}, {0x0080, 0x1p-126f},
        {0x477f, 65280.0f},    {0x0000, 0.0f},      {0x7f80, INFINITY},
        {0xff80, -INFINITY},   {0x3f81, 0x1.02p0f},
    };
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        float f = st_bf16_to_f32(exact[i].h);
        if (bits32(f) != bits32(exact[i].f))
            fail_msg("bf16 0x%04x produced %a, expected %a", exact[i].h, (double)f,
                     (double)exact[i].f);
        assert_int_equal(st_f32_to_bf16(exact[i].f), exact[i].h);
    }
    static const struct {
        float f;
        uint16_t h;
    } round[] = {
        {0x1.01p0f, 0x3f80},    /* tie → even */
        {0x1.03p0f, 0x3f82},    /* tie → even (up) */
        {0x1.0101p0f, 0x3f81},  /* above the tie */
        {FLT_MAX, 0x7f80},      /* rounds up past the largest bf16: inf */
        {0x1.fep127f, 0x7f7f},  {-0.0f, 0x8000},
        {0x1p-134f, 0x0000},    /* half the smallest bf16 subnormal: tie → 0 */
        {0x3p-134f, 0x0002},    /* 1.5 × smallest: tie → 2 */
        {0.1f, 0x3dcd},         {65504.0f, 0x4780},
    };
    for (size_t i = 0; i < sizeof round / sizeof round[0]; i++) {
        uint16_t h = st_f32_to_bf16(round[i].f);
        if (h != round[i].h)
            fail_msg("f32 %a produced bf16 0x%04x, expected 0x%04x", (double)round[i].f, h,
                     round[i].h);
    }
    assert_true(isnan(st_bf16_to_f32(0x7fc0)));
    assert_true(isnan(st_bf16_to_f32(st_f32_to_bf16(NAN))));
    /* NaN with payload only in the low 16 bits: truncating would give inf */
    uint16_t low = st_f32_to_bf16(from_bits32(0x7f800001u));
    assert_true((low & 0x7f80) == 0x7f80 && (low & 0x7f) != 0);
    assert_int_equal(st_f32_to_bf16(from_bits32(0xffc00000u)), 0xffc0);
}

/* Independent rounding: scale |x| exactly into an integer mantissa, then rint() (ties to
 * even in the default rounding mode). @p mant bits, @p emin the smallest normal exponent,
 * @p emax the largest. */
static uint16_t ref_round(float x, int mant, int emin, int emax) {
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    int ebits = 15 - mant;
    uint16_t inf = (uint16_t)(((1u << ebits) - 1) << mant);
    double a = fabs((double)x);
    if (isnan(x)) return 0xffff;
    if (isinf(x)) return sign | inf;
    int e;
    frexp(a, &e);
    e -= 1;                                 /* a in [2^e, 2^(e+1)) */
    if (a == 0 || e < emin) {               /* subnormal range: units of 2^(emin - mant) */
        double r = rint(ldexp(a, mant - emin));
        return (uint16_t)(sign | (uint16_t)r); /* r == 2^mant is the smallest normal */
    }
    double r = rint(ldexp(a, mant - e));    /* in [2^mant, 2^(mant+1)] */
    if (r == ldexp(1, mant + 1)) r /= 2, e++;
    if (e > emax) return sign | inf;
    uint16_t fraction = (uint16_t)r & (uint16_t)((1u << mant) - 1);
    return (uint16_t)(sign | (uint16_t)((e - emin + 1) << mant) | fraction);
}

static void check_against_ref(float x) {
    uint16_t h = st_f32_to_f16(x), b = st_f32_to_bf16(x);
    if (isnan(x)) {
        assert_true(isnan(st_f16_to_f32(h)) && isnan(st_bf16_to_f32(b)));
        return;
    }
    uint16_t rh = ref_round(x, 10, -14, 15), rb = ref_round(x, 7, -126, 127);
    if (h != rh) fail_msg("f32 %a (0x%08x) → f16 0x%04x, reference 0x%04x", (double)x,
                          bits32(x), h, rh);
    if (b != rb) fail_msg("f32 %a (0x%08x) → bf16 0x%04x, reference 0x%04x", (double)x,
                          bits32(x), b, rb);
}

static void test_conversions_exhaustive(void **state) {
    (void)state;
    /* every f16 / bf16 value survives the trip through f32 (NaNs stay NaN, sign kept) */
    for (uint32_t v = 0; v < 65536; v++) {
        float f = st_f16_to_f32((uint16_t)v), g = st_bf16_to_f32((uint16_t)v);
        uint16_t h = st_f32_to_f16(f), b = st_f32_to_bf16(g);
        if ((v & 0x7c00) == 0x7c00 && (v & 0x3ff)) {
            assert_true(isnan(f) && (h & 0x7c00) == 0x7c00 && (h & 0x3ff));
            assert_int_equal(h & 0x8000, v & 0x8000);
        } else if (h != v) {
            fail_msg("f16 0x%04x → %a → 0x%04x", v, (double)f, h);
        }
        if ((v & 0x7f80) == 0x7f80 && (v & 0x7f)) assert_true(isnan(g) && isnan(st_bf16_to_f32(b)));
        else if (b != v) fail_msg("bf16 0x%04x → %a → 0x%04x", v, (double)g, b);
        /* neighbours and midpoints of each value, in f32 */
        if (!isnan(f) && !isinf(f)) {
            uint32_t u = bits32(f);
            for (int d = -2; d <= 2; d++) check_against_ref(from_bits32(u + (uint32_t)d));
            check_against_ref(from_bits32(u + 0x1000));       /* f16 half-ulp (normals) */
        }
        if (!isnan(g) && !isinf(g)) {
            uint32_t u = bits32(g);
            for (int d = -1; d <= 1; d++) check_against_ref(from_bits32(u + 0x8000u + (uint32_t)d));
        }
    }
    /* random bit patterns (fixed seed) */
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 400000; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        check_against_ref(from_bits32((uint32_t)(s >> 32)));
    }
#ifdef __FLT16_MAX__
    /* and the compiler's own conversion, where it has _Float16 */
    s = 1;
    for (int i = 0; i < 200000; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float x = from_bits32((uint32_t)(s >> 32));
        if (isnan(x)) continue;
        _Float16 c = (_Float16)x;
        uint16_t cb;
        memcpy(&cb, &c, 2);
        assert_int_equal(st_f32_to_f16(x), cb);
        assert_int_equal(bits32(st_f16_to_f32(cb)), bits32((float)c));
    }
#endif
}

// ---------------------------------------------------------------------------- round trip

typedef struct {
    const char *name;
    StDtype     dtype;
    int         ndim;
    int64_t     shape[3];
} Spec;

static const Spec g_specs[] = {
    {"a.f64", ST_F64, 2, {2, 3}},  {"b.f32", ST_F32, 3, {2, 1, 3}}, {"c.f16", ST_F16, 1, {5}},
    {"d.bf16", ST_BF16, 1, {7}},   {"e.i64", ST_I64, 1, {3}},       {"f.i32", ST_I32, 2, {2, 2}},
    {"g.i16", ST_I16, 1, {3}},     {"h.i8", ST_I8, 1, {5}},         {"i.u8", ST_U8, 1, {6}},
    {"j.bool", ST_BOOL, 1, {4}},   {"scalar", ST_F32, 0, {0}},      {"empty", ST_F16, 2, {4, 0}},
    {"z.last", ST_U8, 1, {3}},
};
#define NSPEC ((int)(sizeof g_specs / sizeof g_specs[0]))

static size_t spec_bytes(const Spec *s) {
    size_t n = st_dtype_size(s->dtype);
    for (int d = 0; d < s->ndim; d++) n *= (size_t)s->shape[d];
    return n;
}

/* Distinct bytes per tensor; BOOL gets 0/1 only. */
static void fill(const Spec *s, unsigned char *buf, int seed) {
    for (size_t i = 0; i < spec_bytes(s); i++)
        buf[i] = s->dtype == ST_BOOL ? (unsigned char)((i + (size_t)seed) & 1)
                                     : (unsigned char)(i * 31 + (size_t)seed * 17 + 3);
}

static void save_specs(const char *path, unsigned char **data) {
    StWriter *w = NULL;
    assert_int_equal(st_writer_init(&w), 0);
    for (int i = 0; i < NSPEC; i++) {
        data[i] = malloc(spec_bytes(&g_specs[i]) + 1);
        fill(&g_specs[i], data[i], i);
        assert_int_equal(st_writer_add(w, g_specs[i].name, g_specs[i].dtype, g_specs[i].ndim,
                                       g_specs[i].shape, data[i]), 0);
    }
    assert_int_equal(st_writer_set_metadata(w, "format", "longscan"), 0);
    assert_int_equal(st_writer_set_metadata(w, "format_version", "0"), 0);
    assert_int_equal(st_writer_set_metadata(w, "config", "{\"d_model\": 16}"), 0);
    assert_int_equal(st_writer_set_metadata(w, "format_version", "1"), 0);  /* replaces */
    assert_int_equal(st_writer_save(w, path), 0);
    st_writer_free(w);
}

static void test_round_trip(void **state) {
    (void)state;
    char path[128], tmp[140];
    tmp_path(path, sizeof path, "round.safetensors");
    unsigned char *data[NSPEC];
    save_specs(path, data);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(count_temporaries(), 0);

    /* the bytes: length multiple of 8, space padding, packed data, exact size */
    size_t n;
    unsigned char *bytes = read_all(path, &n);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | bytes[i];
    assert_int_equal(hlen % 8, 0);
    assert_int_equal(bytes[8], '{');
    size_t total = 0;
    for (int i = 0; i < NSPEC; i++) total += spec_bytes(&g_specs[i]);
    assert_int_equal(n, 8 + hlen + total);
    size_t at = 8 + hlen;
    for (int i = 0; i < NSPEC; i++) {       /* tensors in the order added */
        assert_memory_equal(bytes + at, data[i], spec_bytes(&g_specs[i]));
        at += spec_bytes(&g_specs[i]);
    }
    assert_non_null(memmem(bytes + 8, hlen, "{\"__metadata__\":{", 17));
    free(bytes);

    StFile *f = NULL;
    assert_int_equal(st_open(&f, path), 0);
    assert_string_equal(st_path(f), path);
    assert_int_equal(st_count(f), NSPEC);
    assert_null(st_tensor(f, NSPEC));
    assert_null(st_tensor(f, -1));
    for (int i = 0; i < NSPEC; i++) {
        const Spec *s = &g_specs[i];
        const StTensor *t = st_find(f, s->name);
        assert_non_null(t);
        assert_string_equal(t->name, s->name);
        assert_int_equal(t->dtype, s->dtype);
        assert_int_equal(t->ndim, s->ndim);
        int64_t numel = 1;
        for (int d = 0; d < s->ndim; d++) {
            assert_int_equal(t->shape[d], s->shape[d]);
            numel *= s->shape[d];
        }
        assert_int_equal(t->numel, numel);
        assert_int_equal(t->nbytes, spec_bytes(s));
        unsigned char *back = malloc(t->nbytes + 1);
        assert_int_equal(st_read(f, t, back, t->nbytes), 0);
        assert_memory_equal(back, data[i], t->nbytes);
        free(back);
        if (t->nbytes) {
            unsigned char one;
            assert_int_equal(st_read(f, t, &one, t->nbytes + 1), LS_ERR_USAGE);
        }
    }
    /* file order is ascending offset; the empty tensor sits before the next at its offset */
    for (int64_t i = 1; i < st_count(f); i++)
        assert_true(st_tensor(f, i)->offset == st_tensor(f, i - 1)->offset +
                    st_tensor(f, i - 1)->nbytes);
    assert_null(st_find(f, "missing"));
    assert_null(st_find(f, ""));
    assert_int_equal(st_tensor(f, 0)->offset, 0);
    assert_int_equal(st_find(f, "scalar")->ndim, 0);
    assert_int_equal(st_find(f, "scalar")->numel, 1);
    assert_int_equal(st_find(f, "empty")->numel, 0);

    /* metadata in the order first set, values replaced in place */
    assert_int_equal(st_metadata_count(f), 3);
    assert_string_equal(st_metadata_key(f, 0), "format");
    assert_string_equal(st_metadata_value(f, 1), "1");
    assert_string_equal(st_metadata_key(f, 2), "config");
    assert_string_equal(st_metadata_get(f, "config"), "{\"d_model\": 16}");
    assert_null(st_metadata_get(f, "nope"));
    assert_null(st_metadata_key(f, 3));

    /* st_read_f32: F32 as is, F16/BF16 converted, others refused */
    const StTensor *t = st_find(f, "b.f32");
    float fl[6];
    assert_int_equal(st_read_f32(f, t, fl, 6), 0);
    assert_memory_equal(fl, data[1], 24);
    assert_int_equal(st_read_f32(f, t, fl, 5), LS_ERR_USAGE);
    t = st_find(f, "c.f16");
    assert_int_equal(st_read_f32(f, t, fl, 5), 0);
    for (int i = 0; i < 5; i++) {
        uint16_t h = (uint16_t)(data[2][2 * i] | data[2][2 * i + 1] << 8);
        assert_int_equal(bits32(fl[i]), bits32(st_f16_to_f32(h)));
    }
    t = st_find(f, "d.bf16");
    float fb[7];
    assert_int_equal(st_read_f32(f, t, fb, 7), 0);
    for (int i = 0; i < 7; i++) {
        uint16_t h = (uint16_t)(data[3][2 * i] | data[3][2 * i + 1] << 8);
        assert_int_equal(bits32(fb[i]), bits32(st_bf16_to_f32(h)));
    }
    assert_int_equal(st_read_f32(f, st_find(f, "f.i32"), fl, 4), LS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ls_error_message(), "f.i32"));
    assert_int_equal(st_read_f32(f, st_find(f, "empty"), NULL, 0), 0);
    StTensor fake = *st_find(f, "b.f32");
    assert_int_equal(st_read(f, &fake, fl, 24), LS_ERR_USAGE);
    st_close(f);
    st_close(NULL);
    for (int i = 0; i < NSPEC; i++) free(data[i]);
}

/* A large F16 tensor crosses st_read_f32's chunk boundary. */
static void test_read_f32_chunks(void **state) {
    (void)state;
    char path[128];
    tmp_path(path, sizeof path, "chunks.safetensors");
    const int64_t n = 70001, shape[1] = {n};
    uint16_t *h = malloc((size_t)n * 2), *b = malloc((size_t)n * 2);
    for (int64_t i = 0; i < n; i++) {
        h[i] = (uint16_t)(i * 40503u);
        b[i] = (uint16_t)(i * 11u + 7u);
    }
    StWriter *w = NULL;
    assert_int_equal(st_writer_init(&w), 0);
    assert_int_equal(st_writer_add(w, "h", ST_F16, 1, shape, h), 0);
    assert_int_equal(st_writer_add(w, "b", ST_BF16, 1, shape, b), 0);
    assert_int_equal(st_writer_save(w, path), 0);
    st_writer_free(w);
    StFile *f = NULL;
    assert_int_equal(st_open(&f, path), 0);
    float *out = malloc((size_t)n * sizeof *out);
    assert_int_equal(st_read_f32(f, st_find(f, "h"), out, n), 0);
    for (int64_t i = 0; i < n; i++)
        if (bits32(out[i]) != bits32(st_f16_to_f32(h[i]))) fail_msg("h[%" PRId64 "]", i);
    assert_int_equal(st_read_f32(f, st_find(f, "b"), out, n), 0);
    for (int64_t i = 0; i < n; i++)
        if (bits32(out[i]) != bits32(st_bf16_to_f32(b[i]))) fail_msg("b[%" PRId64 "]", i);
    st_close(f);
    free(out);
    free(h);
    free(b);
}

static void test_empty_file_description(void **state) {
    (void)state;
    char path[128];
    tmp_path(path, sizeof path, "nothing.safetensors");
    StWriter *w = NULL;
    assert_int_equal(st_writer_init(&w), 0);
    assert_int_equal(st_writer_save(w, path), 0);
    st_writer_free(w);
    st_writer_free(NULL);
    StFile *f = NULL;
    assert_int_equal(st_open(&f, path), 0);
    assert_int_equal(st_count(f), 0);
    assert_int_equal(st_metadata_count(f), 0);
    assert_null(st_find(f, "x"));
    st_close(f);
}

static void test_writer_usage(void **state) {
    (void)state;
    StWriter *w = NULL;
    float x[4] = {0};
    const int64_t s4[1] = {4}, neg[1] = {-1}, s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1},
                  huge[2] = {INT64_MAX / 2, 3};
    assert_int_equal(st_writer_init(&w), 0);
    assert_int_equal(st_writer_add(w, "a", ST_F32, 1, s4, x), 0);
    assert_int_equal(st_writer_add(w, "a", ST_F32, 1, s4, x), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "'a'"));
    assert_int_equal(st_writer_add(w, "", ST_F32, 1, s4, x), LS_ERR_USAGE);
    assert_int_equal(st_writer_add(w, NULL, ST_F32, 1, s4, x), LS_ERR_USAGE);
    assert_int_equal(st_writer_add(w, "__metadata__", ST_F32, 1, s4, x), LS_ERR_USAGE);
    assert_int_equal(st_writer_add(w, "bad\xff", ST_F32, 1, s4, x), LS_ERR_USAGE);
    assert_int_equal(st_writer_add(w, "b", ST_F32, 1, neg, x), LS_ERR_USAGE);
    assert_int_equal(st_writer_add(w, "b", ST_F32, 9, s9, x), LS_ERR_USAGE);
    assert_int_equal(st_writer_add(w, "b", ST_F32, -1, s4, x), LS_ERR_USAGE);
    assert_int_equal(st_writer_add(w, "b", ST_DTYPE_COUNT, 1, s4, x), LS_ERR_USAGE);
    assert_int_equal(st_writer_add(w, "b", ST_F32, 1, s4, NULL), LS_ERR_USAGE);
    assert_int_equal(st_writer_add(w, "b", ST_F32, 2, huge, x), LS_ERR_USAGE);
    assert_int_equal(st_writer_set_metadata(w, "k", NULL), LS_ERR_USAGE);
    assert_int_equal(st_writer_set_metadata(w, NULL, "v"), LS_ERR_USAGE);
    assert_int_equal(st_writer_set_metadata(w, "k", "\xc3"), LS_ERR_USAGE);
    assert_int_equal(st_writer_save(w, ""), LS_ERR_USAGE);
    st_writer_free(w);

    /* duplicates are found across the name table's growth */
    assert_int_equal(st_writer_init(&w), 0);
    char name[32];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "layers.%d.w", i);
        assert_int_equal(st_writer_add(w, name, ST_F32, 1, s4, x), 0);
    }
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "layers.%d.w", i);
        assert_int_equal(st_writer_add(w, name, ST_F32, 1, s4, x), LS_ERR_USAGE);
    }
    char path[128];
    tmp_path(path, sizeof path, "many.safetensors");
    assert_int_equal(st_writer_save(w, path), 0);
    st_writer_free(w);
    StFile *f = NULL;
    assert_int_equal(st_open(&f, path), 0);
    assert_int_equal(st_count(f), 300);
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "layers.%d.w", i);
        assert_non_null(st_find(f, name));
        assert_int_equal(st_find(f, name)->offset, 16 * (uint64_t)i);   /* order added */
    }
    st_close(f);
}

// ---------------------------------------------------------------------------- failed saves

static void write_target(const char *path, float value) {
    StWriter *w = NULL;
    const int64_t s1[1] = {1};
    assert_int_equal(st_writer_init(&w), 0);
    assert_int_equal(st_writer_add(w, "v", ST_F32, 1, s1, &value), 0);
    assert_int_equal(st_writer_save(w, path), 0);
    st_writer_free(w);
}

static float read_target(const char *path) {
    StFile *f = NULL;
    float v = -1;
    assert_int_equal(st_open(&f, path), 0);
    assert_int_equal(st_read_f32(f, st_find(f, "v"), &v, 1), 0);
    st_close(f);
    return v;
}

static void test_save_failures(void **state) {
    (void)state;
    char path[128], tmp[140], nodir[128];
    static float big[4096];
    const int64_t sbig[1] = {4096};
    StWriter *w = NULL;
    assert_int_equal(st_writer_init(&w), 0);
    assert_int_equal(st_writer_add(w, "big", ST_F32, 1, sbig, big), 0);

    /* a directory that does not exist */
    tmp_path(nodir, sizeof nodir, "no/such/dir/m.safetensors");
    assert_int_equal(st_writer_save(w, nodir), LS_ERR_IO);
    assert_non_null(strstr(ls_error_message(), "no/such/dir/m.safetensors"));
    assert_non_null(strstr(ls_error_message(), "No such file"));

    /* an unrelated file named like a temporary ("<path>.tmp") is neither used nor removed */
    tmp_path(path, sizeof path, "keep.safetensors");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    write_bytes(tmp, "unrelated", 9);
    write_target(path, 1.0f);
    size_t n_tmp;
    unsigned char *kept = read_all(tmp, &n_tmp);
    assert_int_equal(n_tmp, 9);
    assert_memory_equal(kept, "unrelated", 9);
    free(kept);
    assert_int_equal(unlink(tmp), 0);
    assert_int_equal(count_temporaries(), 0);

    /* an existing target survives when the temporary cannot be created (no descriptor left:
     * the limit is set to the lowest free one, so the next open fails with EMFILE) */
    struct rlimit old, lim;
    int lowest = dup(0);
    assert_true(lowest > 0);
    close(lowest);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)lowest;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
    int rc = st_writer_save(w, path);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_int_equal(rc, LS_ERR_IO);
    assert_non_null(strstr(ls_error_message(), "cannot create a file in directory"));
    assert_true(read_target(path) == 1.0f);
    assert_int_equal(count_temporaries(), 0);

    /* ... when the write itself fails (file size limit: EFBIG) */
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 1000;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    rc = st_writer_save(w, path);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(rc, LS_ERR_IO);
    assert_non_null(strstr(ls_error_message(), "write failed"));
    assert_int_equal(count_temporaries(), 0);
    assert_true(read_target(path) == 1.0f);

    /* ... and when the rename fails (the target is a non-empty directory) */
    char dir[128], inside[160];
    tmp_path(dir, sizeof dir, "adir");
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(inside, sizeof inside, "%s/x", dir);
    write_bytes(inside, "x", 1);
    assert_int_equal(st_writer_save(w, dir), LS_ERR_IO);
    assert_non_null(strstr(ls_error_message(), "rename"));
    assert_int_equal(count_temporaries(), 0);
    assert_int_equal(access(inside, F_OK), 0);

    /* a save that succeeds replaces the target */
    st_writer_free(w);
    write_target(path, 2.0f);
    assert_true(read_target(path) == 2.0f);
}

/* Weights that are not numbers are refused by the checked readers, naming the element. */
static void test_finite_check(void **state) {
    (void)state;
    char path[128];
    tmp_path(path, sizeof path, "nonfinite.safetensors");
    const float ok[6] = {1, -2, 0, FLT_MAX, -FLT_MAX, 1e-45f};
    const float bad[6] = {1, -2, 0, 4, 5, NAN};
    const uint16_t half_inf[2] = {0x3c00, 0x7c00};          /* F16 1.0, +inf */
    const float ninf[1] = {-INFINITY};
    const int64_t s23[2] = {2, 3}, s2[1] = {2};
    StWriter *w = NULL;
    assert_int_equal(st_writer_init(&w), 0);
    assert_int_equal(st_writer_add(w, "ok", ST_F32, 2, s23, ok), 0);
    assert_int_equal(st_writer_add(w, "w", ST_F32, 2, s23, bad), 0);
    assert_int_equal(st_writer_add(w, "h", ST_F16, 1, s2, half_inf), 0);
    assert_int_equal(st_writer_add(w, "scalar", ST_F32, 0, NULL, ninf), 0);
    assert_int_equal(st_writer_save(w, path), 0);
    st_writer_free(w);

    assert_int_equal(st_first_nonfinite(ok, 6), -1);
    assert_int_equal(st_first_nonfinite(bad, 6), 5);
    assert_int_equal(st_first_nonfinite(bad, 5), -1);
    assert_int_equal(st_first_nonfinite(NULL, 0), -1);

    StFile *f = NULL;
    float out[6];
    assert_int_equal(st_open(&f, path), 0);
    assert_int_equal(st_read_f32_finite(f, st_find(f, "ok"), out, 6), 0);
    assert_memory_equal(out, ok, sizeof ok);
    /* the unchecked reader still reads what is there */
    assert_int_equal(st_read_f32(f, st_find(f, "w"), out, 6), 0);
    assert_true(isnan(out[5]));
    assert_int_equal(st_read_f32_finite(f, st_find(f, "w"), out, 6), LS_ERR_FORMAT);
    const char *msg = ls_error_message();
    if (!strstr(msg, "nonfinite.safetensors: tensor 'w': element [1, 2] (index 5 of 6) is nan"))
        fail_msg("message '%s' does not name the file, tensor and element", msg);
    assert_int_equal(st_read_f32_finite(f, st_find(f, "h"), out, 2), LS_ERR_FORMAT);
    assert_non_null(strstr(ls_error_message(), "tensor 'h': element [1] (index 1 of 2) is inf"));
    assert_int_equal(st_read_f32_finite(f, st_find(f, "scalar"), out, 1), LS_ERR_FORMAT);
    assert_non_null(strstr(ls_error_message(), "tensor 'scalar': element (index 0 of 1) is -inf"));
    st_close(f);
    /* in memory, with the caller's names */
    assert_int_equal(st_check_finite("m", "t", 2, s23, ok, 6), 0);
    assert_int_equal(st_check_finite("m", "t", 2, s23, bad, 6), LS_ERR_FORMAT);
    assert_non_null(strstr(ls_error_message(), "m: tensor 't': element [1, 2]"));
}

// ---------------------------------------------------------------------------- malformed files

#define F32X1(name, b, e) \
    "\"" name "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[" #b "," #e "]}"

typedef struct {
    const char *what;
    const char *header;   /* NULL: raw bytes below */
    size_t      ndata;
    int         code;
    const char *expect;   /* substring of the message besides the path */
} Bad;

static const Bad g_bad[] = {
    {"not JSON", "{\"a\": ", 0, LS_ERR_FORMAT, "byte 14: header is not valid JSON"},
    {"not an object", "[\"a\"]", 0, LS_ERR_FORMAT, "byte 8: header does not start with '{'"},
    {"text after the object", "{}  x", 0, LS_ERR_FORMAT, "byte 12: text after"},
    {"second object", "{}{}", 0, LS_ERR_FORMAT, "byte 10: text after"},
    {"empty header", "", 0, LS_ERR_FORMAT, "byte 8: header does not start"},
    {"leading space", " {}", 0, LS_ERR_FORMAT, "byte 8: header does not start"},
    {"invalid UTF-8", "{\"a\xff\":1}", 0, LS_ERR_FORMAT, "byte 11: header is not valid UTF-8"},
    {"overlong UTF-8", "{\"\xc0\xaf\":1}", 0, LS_ERR_FORMAT, "not valid UTF-8"},
    {"UTF-8 past U+10FFFF", "{\"\xf4\x90\x80\x80\":1}", 0, LS_ERR_FORMAT,
     "byte 10: header is not valid UTF-8"},
    {"UTF-8 surrogate", "{\"\xed\xa0\x80\":1}", 0, LS_ERR_FORMAT, "not valid UTF-8"},
    {"UTF-8 cut short", "{\"\xf0\x9f\x98\":1}", 0, LS_ERR_FORMAT, "not valid UTF-8"},
    {"control byte", "{\x01}", 0, LS_ERR_FORMAT, "byte 9: control byte 0x01"},
    {"data_offsets past the end", "{" F32X1("a", 0, 4) "," F32X1("b", 4, 8) "}", 4,
     LS_ERR_FORMAT, "tensor 'b': data_offsets [4, 8] run past the end of the data section (4"},
    {"overlapping tensors",
     "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," F32X1("b", 4, 8) "}", 8,
     LS_ERR_FORMAT, "tensor 'b': data_offsets [4, 8] overlap tensor 'a'"},
    {"same offsets twice", "{" F32X1("a", 0, 4) "," F32X1("b", 0, 4) "}", 4, LS_ERR_FORMAT,
     "tensor 'b': data_offsets [0, 4] overlap tensor 'a'"},
    {"hole between tensors", "{" F32X1("a", 0, 4) "," F32X1("b", 8, 12) "}", 12, LS_ERR_FORMAT,
     "tensor 'b': begins at data offset 8 but tensor 'a' ends at 4"},
    {"hole at the start", "{" F32X1("a", 4, 8) "}", 8, LS_ERR_FORMAT,
     "tensor 'a': begins at data offset 4"},
    {"bytes after the last tensor", "{" F32X1("a", 0, 4) "}", 6, LS_ERR_FORMAT,
     "tensor 'a': the last tensor ends at data offset 4 but the data section holds 6"},
    {"data but no tensors", "{}", 3, LS_ERR_FORMAT, "byte 10: 3 bytes of data"},
    {"offsets reversed", "{" F32X1("a", 8, 4) "}", 8, LS_ERR_FORMAT,
     "tensor 'a': data_offsets [8, 4] end before they begin"},
    {"shape lies", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4,4],\"data_offsets\":[0,12]}}", 12,
     LS_ERR_FORMAT, "tensor 'a': data_offsets [0, 12] hold 12 bytes but F32 shape [4, 4] needs 64"},
    {"dtype lies", "{\"a\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,12]}}", 12,
     LS_ERR_FORMAT, "tensor 'a': data_offsets [0, 12] hold 12 bytes but F64 shape [3] needs 24"},
    {"0-d shape lies", "{\"s\":{\"dtype\":\"I16\",\"shape\":[],\"data_offsets\":[0,4]}}", 4,
     LS_ERR_FORMAT, "tensor 's': data_offsets [0, 4] hold 4 bytes but I16 shape [] needs 2"},
    {"unknown dtype", "{\"a\":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
     LS_ERR_FORMAT, "tensor 'a': unknown dtype 'F8'"},
    {"dtype not a string", "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     LS_ERR_FORMAT, "tensor 'a': dtype is a number"},
    {"negative shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,4]}}", 4,
     LS_ERR_FORMAT, "tensor 'a': shape[1] is -1, not a non-negative integer"},
    {"fractional shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
     LS_ERR_FORMAT, "tensor 'a': shape[0] is 1.5"},
    {"shape 1.0", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4,
     LS_ERR_FORMAT, "tensor 'a': shape[0] is 1.0"},
    {"shape 1e0", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}", 4,
     LS_ERR_FORMAT, "tensor 'a': shape[0] is 1e0"},
    {"shape -0", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-0],\"data_offsets\":[0,0]}}", 0,
     LS_ERR_FORMAT, "tensor 'a': shape[0] is -0"},
    {"shape 01", "{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4,
     LS_ERR_FORMAT, "tensor 'a': shape[0] is 01"},
    {"shape a string", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4,
     LS_ERR_FORMAT, "tensor 'a': shape[0] is a string"},
    {"shape not an array", "{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4,
     LS_ERR_FORMAT, "tensor 'a': shape is a number, not an array"},
    {"shape 2^53 + 1 (a double would read 2^53)",
     "{\"a\":{\"dtype\":\"U8\",\"shape\":[9007199254740993],"
     "\"data_offsets\":[0,9007199254740992]}}",
     0, LS_ERR_FORMAT, "tensor 'a': data_offsets [0, 9007199254740992] run past the end"},
    {"offset 2^63",
     "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,9223372036854775808]}}",
     0, LS_ERR_FORMAT, "tensor 'a': data_offsets is not an array of two non-negative integers"},
    {"numel overflows", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],"
     "\"data_offsets\":[0,0]}}", 0, LS_ERR_FORMAT,
     "tensor 'a': U8 shape [4294967296, 4294967296] is too large"},
    {"bytes overflow", "{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],"
     "\"data_offsets\":[0,0]}}", 0, LS_ERR_FORMAT,
     "tensor 'a': F64 shape [2305843009213693952] is too large"},
    {"nine dimensions", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],"
     "\"data_offsets\":[0,1]}}", 1, LS_ERR_UNSUPPORTED, "tensor 'a': shape has 9 dimensions"},
    {"three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,4]}}", 4,
     LS_ERR_FORMAT, "tensor 'a': data_offsets is not an array of two"},
    {"fractional offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}", 4,
     LS_ERR_FORMAT, "tensor 'a': data_offsets is not an array of two"},
    {"negative offset", "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[-1,-1]}}", 0,
     LS_ERR_FORMAT, "tensor 'a': data_offsets is not an array of two"},
    {"missing data_offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 0, LS_ERR_FORMAT,
     "tensor 'a': missing 'data_offsets'"},
    {"missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, LS_ERR_FORMAT,
     "tensor 'a': missing 'dtype'"},
    {"extra key", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4,
     LS_ERR_FORMAT, "tensor 'a': unexpected key 'x'"},
    {"key twice", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],"
     "\"data_offsets\":[0,4]}}", 4, LS_ERR_FORMAT, "tensor 'a': key 'dtype' appears twice"},
    {"entry not an object", "{\"a\":[0,4]}", 0, LS_ERR_FORMAT,
     "tensor 'a': entry is an array, not an object"},
    {"duplicate tensor name", "{" F32X1("a", 0, 4) "," F32X1("a", 4, 8) "}", 8, LS_ERR_FORMAT,
     "tensor 'a': name appears twice"},
    {"metadata value not a string", "{\"__metadata__\":{\"k\":\"v\",\"n\":1}}", 0,
     LS_ERR_FORMAT, "__metadata__ key 'n': value is a number, not a string"},
    {"metadata value null", "{\"__metadata__\":{\"k\":null}}", 0, LS_ERR_FORMAT,
     "__metadata__ key 'k': value is null"},
    {"metadata not an object", "{\"__metadata__\":[\"k\"]}", 0, LS_ERR_FORMAT,
     "__metadata__ is an array, not an object"},
    {"metadata key twice", "{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0, LS_ERR_FORMAT,
     "__metadata__ key 'k' appears twice"},
    {"metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, LS_ERR_FORMAT,
     "__metadata__ appears twice"},
    {"name with a newline in a message", "{\"a\\nb\":{\"dtype\":\"X\",\"shape\":[],"
     "\"data_offsets\":[0,0]}}", 0, LS_ERR_FORMAT, "tensor 'a\\x0ab': unknown dtype 'X'"},
};

static void check_error(const char *path, int rc, int code, const char *expect,
                        const char *what) {
    const char *msg = ls_error_message();
    if (rc != code || strncmp(msg, path, strlen(path)) != 0 || !strstr(msg, expect))
        fail_msg("%s: st_open gave %d \"%s\", expected %d and \"%s: ...%s...\"", what, rc, msg,
                 code, path, expect);
}

/* A long name is cut short in the message, which stays one line. */
static void test_long_name_message(void **state) {
    (void)state;
    char path[128], header[700];
    tmp_path(path, sizeof path, "long.safetensors");
    char name[401];
    memset(name, 'n', 400);
    name[400] = '\0';
    snprintf(header, sizeof header, "{\"%s\":{\"dtype\":\"Q\",\"shape\":[],"
             "\"data_offsets\":[0,0]}}", name);
    write_st(path, header, 0);
    StFile *f = NULL;
    assert_int_equal(st_open(&f, path), LS_ERR_FORMAT);
    assert_non_null(strstr(ls_error_message(), "nnnn...': unknown dtype 'Q'"));
    assert_true(strlen(ls_error_message()) < strlen(path) + 300);
}

static void test_malformed(void **state) {
    (void)state;
    char path[128];
    tmp_path(path, sizeof path, "bad.safetensors");
    for (size_t i = 0; i < sizeof g_bad / sizeof g_bad[0]; i++) {
        write_st(path, g_bad[i].header, g_bad[i].ndata);
        StFile *f = (StFile *)&f;   /* must come back NULL */
        int rc = st_open(&f, path);
        assert_null(f);
        check_error(path, rc, g_bad[i].code, g_bad[i].expect, g_bad[i].what);
    }
}

static void test_bad_lengths(void **state) {
    (void)state;
    char path[128], dir[128];
    StFile *f = NULL;
    tmp_path(path, sizeof path, "len.safetensors");

    write_st_raw(path, 1000, "{}", 0);
    check_error(path, st_open(&f, path), LS_ERR_FORMAT,
                "byte 0: header length 1000 runs past the end of the file (2 bytes", "past end");
    write_st_raw(path, 100000001, "{}", 0);
    check_error(path, st_open(&f, path), LS_ERR_FORMAT,
                "byte 0: header length 100000001 is over the 100000000-byte limit", "100 MB");
    write_st_raw(path, UINT64_MAX, "{}", 0);
    check_error(path, st_open(&f, path), LS_ERR_FORMAT, "header length 18446744073709551615",
                "2^64 - 1");
    write_st_raw(path, 1, "{}", 0);   /* header "{" */
    check_error(path, st_open(&f, path), LS_ERR_FORMAT, "byte 9: header is not valid JSON",
                "short header");
    write_bytes(path, "", 0);
    check_error(path, st_open(&f, path), LS_ERR_FORMAT, "byte 0: file is 0 bytes", "empty");
    write_bytes(path, "\x02\0\0\0", 4);
    check_error(path, st_open(&f, path), LS_ERR_FORMAT, "file is 4 bytes", "4 bytes");

    tmp_path(path, sizeof path, "does-not-exist.safetensors");
    check_error(path, st_open(&f, path), LS_ERR_IO, "cannot open: No such file", "missing");
    tmp_path(dir, sizeof dir, "a-directory");
    assert_int_equal(mkdir(dir, 0700), 0);
    check_error(dir, st_open(&f, dir), LS_ERR_IO, "is a directory", "directory");
    check_error("/dev/null", st_open(&f, "/dev/null"), LS_ERR_IO, "not a regular file", "chr");
    assert_null(f);
}

/* Every proper prefix of a valid file is an error, never a crash or a success. */
static void test_truncated(void **state) {
    (void)state;
    char path[128], cut[128];
    tmp_path(path, sizeof path, "whole.safetensors");
    tmp_path(cut, sizeof cut, "cut.safetensors");
    const int64_t s2[1] = {2}, s0[1] = {0};
    const float v[2] = {1, 2};
    const uint16_t h[2] = {0x3c00, 0xc000};
    StWriter *w = NULL;
    assert_int_equal(st_writer_init(&w), 0);
    assert_int_equal(st_writer_set_metadata(w, "format", "longscan"), 0);
    assert_int_equal(st_writer_add(w, "w", ST_F32, 1, s2, v), 0);
    assert_int_equal(st_writer_add(w, "e", ST_F32, 1, s0, NULL), 0);
    assert_int_equal(st_writer_add(w, "h", ST_BF16, 1, s2, h), 0);
    assert_int_equal(st_writer_save(w, path), 0);
    st_writer_free(w);
    size_t n;
    unsigned char *bytes = read_all(path, &n);
    for (size_t len = 0; len < n; len++) {
        write_bytes(cut, bytes, len);
        StFile *f = NULL;
        int rc = st_open(&f, cut);
        if (rc != LS_ERR_FORMAT || strncmp(ls_error_message(), cut, strlen(cut)) != 0)
            fail_msg("prefix of %zu / %zu bytes: st_open gave %d \"%s\"", len, n, rc,
                     ls_error_message());
        assert_null(f);
    }
    /* truncated after st_open: reading reports it */
    StFile *f = NULL;
    write_bytes(cut, bytes, n);
    assert_int_equal(st_open(&f, cut), 0);
    assert_int_equal(truncate(cut, (off_t)n - 2), 0);
    float out[2];
    assert_int_equal(st_read_f32(f, st_find(f, "h"), out, 2), LS_ERR_IO);
    assert_non_null(strstr(ls_error_message(), "tensor 'h'"));
    assert_int_equal(st_read_f32(f, st_find(f, "w"), out, 2), 0);
    st_close(f);
    free(bytes);
}

/* Files other writers make: padding, Python's dtype-sorted order, big empty dims. */
static void test_accepted(void **state) {
    (void)state;
    static const struct {
        const char *header;
        size_t      ndata;
        int64_t     count;
    } good[] = {
        {"{}", 0, 0},
        {"{}      ", 0, 0},
        {"{} \t\r\n", 0, 0},
        {"{\"__metadata__\":{}}", 0, 0},
        {"{\"__metadata__\":{\"a\":\"\\u00e9\\n\"}}", 0, 0},
        /* empty tensors at the offset of a non-empty one, in any header order */
        {"{\"b\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[8,8]},"
         "\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]},"
         "\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]},"
         "\"t\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[12,14]}}", 14, 4},
        /* whitespace anywhere, keys in any order */
        {"{\n \"a\" : { \"data_offsets\" : [ 0 , 2 ] , \"shape\" : [ 2 ] ,"
         " \"dtype\" : \"U8\" } }  ", 2, -1},
        /* a dimension above 2^53, read exactly, next to a zero one */
        {"{\"z\":{\"dtype\":\"F64\",\"shape\":[0,9007199254740993],\"data_offsets\":[0,0]}}",
         0, 1},
        {"{\"z\":{\"dtype\":\"U8\",\"shape\":[9223372036854775807,0],\"data_offsets\":[0,0]}}",
         0, 1},
        {"{\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 1},
        /* raw 4-byte and 3-byte UTF-8 in a name */
        {"{\"\xf0\x9f\x98\x80\xe2\x9c\x93\":{\"dtype\":\"U8\",\"shape\":[1],"
         "\"data_offsets\":[0,1]}}", 1, 1},
    };
    char path[128];
    tmp_path(path, sizeof path, "good.safetensors");
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        write_st(path, good[i].header, good[i].ndata);
        StFile *f = NULL;
        int rc = st_open(&f, path);
        if (rc != 0) fail_msg("header %zu: %s", i, ls_error_message());
        if (good[i].count >= 0) assert_int_equal(st_count(f), good[i].count);
        if (i == 4) assert_string_equal(st_metadata_get(f, "a"), "\xc3\xa9\n");
        if (i == 5) {
            assert_string_equal(st_tensor(f, 0)->name, "s");
            assert_string_equal(st_tensor(f, 1)->name, "b");
            assert_string_equal(st_tensor(f, 2)->name, "a");
            assert_int_equal(st_find(f, "t")->offset, 12);
        }
        if (i == 7) assert_int_equal(st_find(f, "z")->shape[1], 9007199254740993LL);
        if (i == 8) assert_int_equal(st_find(f, "z")->shape[0], INT64_MAX);
        st_close(f);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_names),
        cmocka_unit_test(test_f16_table),
        cmocka_unit_test(test_bf16_table),
        cmocka_unit_test(test_conversions_exhaustive),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_read_f32_chunks),
        cmocka_unit_test(test_empty_file_description),
        cmocka_unit_test(test_writer_usage),
        cmocka_unit_test(test_save_failures),
        cmocka_unit_test(test_finite_check),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_long_name_message),
        cmocka_unit_test(test_bad_lengths),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_accepted),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("safetensors", tests, setup, teardown);
}
