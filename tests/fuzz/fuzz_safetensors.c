/*
 * fuzz_safetensors.c — libFuzzer target for the safetensors reader (io/safetensors.c).
 *
 * Input bytes → a temporary file → st_open; when it opens, every tensor is read (st_read, and
 * st_read_f32 for float dtypes), the layout invariants are checked (ascending, packed, sizes
 * consistent with shape and dtype, st_find finds each tensor), and the file is written again
 * with st_writer and re-read: the same tensors, bytes and metadata must come back. A broken
 * invariant aborts (a finding); errors from malformed input are the expected outcome.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_safetensors -max_total_time=60 tests/fuzz/corpus/safetensors
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"

static char g_in[64] = "/tmp/fuzz_safetensors.XXXXXX";
static char g_out[80];

static void cleanup(void) {
    unlink(g_in);
    unlink(g_out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    int fd = mkstemp(g_in);
    if (fd < 0) abort();
    close(fd);
    snprintf(g_out, sizeof g_out, "%s.out", g_in);
    atexit(cleanup);
    return 0;
}

static void put_file(const char *path, const uint8_t *data, size_t size) {
    FILE *fp = fopen(path, "wb");
    if (!fp || (size && fwrite(data, 1, size, fp) != size) || fclose(fp) != 0) abort();
}

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "invariant broken: %s (line %d)\n", #cond, __LINE__);          \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* The same tensors (order, names, dtypes, shapes, bytes) and metadata in both files. */
static void check_same(StFile *a, StFile *b, unsigned char **bytes) {
    CHECK(st_count(a) == st_count(b));
    CHECK(st_metadata_count(a) == st_metadata_count(b));
    for (int64_t i = 0; i < st_metadata_count(a); i++) {
        CHECK(strcmp(st_metadata_key(a, i), st_metadata_key(b, i)) == 0);
        CHECK(strcmp(st_metadata_value(a, i), st_metadata_value(b, i)) == 0);
    }
    for (int64_t i = 0; i < st_count(a); i++) {
        const StTensor *x = st_tensor(a, i), *y = st_find(b, x->name);
        CHECK(y && y->dtype == x->dtype && y->ndim == x->ndim && y->nbytes == x->nbytes);
        CHECK(memcmp(y->shape, x->shape, sizeof x->shape[0] * (size_t)x->ndim) == 0);
        unsigned char *back = malloc(y->nbytes + 1);
        CHECK(back && st_read(b, y, back, y->nbytes) == 0);
        CHECK(memcmp(back, bytes[i], y->nbytes) == 0);
        free(back);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    put_file(g_in, data, size);
    StFile *f = NULL;
    if (st_open(&f, g_in) != 0) {
        CHECK(f == NULL);
        return 0;
    }
    int64_t n = st_count(f);
    unsigned char **bytes = calloc((size_t)n + 1, sizeof *bytes);
    CHECK(bytes);
    uint64_t at = 0;
    int named = 1;
    for (int64_t i = 0; i < n; i++) {
        const StTensor *t = st_tensor(f, i);
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= t->shape[d];
        CHECK(t->ndim >= 0 && t->ndim <= ST_MAX_DIMS && numel == t->numel);
        CHECK(t->nbytes == (uint64_t)t->numel * st_dtype_size(t->dtype));
        CHECK(t->offset == at && t->nbytes <= size);
        at += t->nbytes;
        CHECK(st_find(f, t->name) == t);
        named &= t->name[0] != '\0';
        bytes[i] = malloc(t->nbytes + 1);
        CHECK(bytes[i] && st_read(f, t, bytes[i], t->nbytes) == 0);
        if (t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16) {
            float *v = malloc((size_t)t->numel * sizeof *v + 1);
            CHECK(v && st_read_f32(f, t, v, t->numel) == 0);
            free(v);
        }
    }
    for (int64_t i = 0; i < st_metadata_count(f); i++)
        CHECK(st_metadata_get(f, st_metadata_key(f, i)) != NULL);

    /* write it again and read it back (the writer refuses empty names; the reader takes them) */
    StWriter *w = NULL;
    CHECK(st_writer_init(&w) == 0);
    int ok = named;
    for (int64_t i = 0; ok && i < st_metadata_count(f); i++)
        ok = st_writer_set_metadata(w, st_metadata_key(f, i), st_metadata_value(f, i)) == 0;
    for (int64_t i = 0; ok && i < n; i++) {
        const StTensor *t = st_tensor(f, i);
        ok = st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, bytes[i]) == 0;
    }
    CHECK(!named || ok);
    if (ok && st_writer_save(w, g_out) == 0) {
        StFile *g = NULL;
        CHECK(st_open(&g, g_out) == 0);
        check_same(f, g, bytes);
        st_close(g);
    }
    st_writer_free(w);
    for (int64_t i = 0; i < n; i++) free(bytes[i]);
    free(bytes);
    st_close(f);
    return 0;
}
