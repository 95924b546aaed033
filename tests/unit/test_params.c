/* test_params.c — parameter table layout and checkpoint save/load through safetensors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "models/params.h"

static char tmpdir[] = "/tmp/test_params_XXXXXX";

static void build_table(ParamTable *t, int64_t width) {
    param_table_init(t);
    int64_t emb[2] = {5, width}, w[2] = {2 * width, width}, b[1] = {3};
    assert_int_equal(param_table_add(t, "backbone.embedding.weight", 2, emb, 0), 0);
    assert_int_equal(param_table_add(t, "backbone.layers.0.mixer.in_proj.weight", 2, w, 0), 1);
    assert_int_equal(param_table_add(t, "backbone.norm_f.weight", 1, b, PARAM_NO_DECAY), 2);
}

static void test_layout_is_aligned_and_packed(void **state) {
    (void)state;
    ParamTable t;
    build_table(&t, 7);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.numel, 5 * 7 + 14 * 7 + 3);
    for (int i = 0; i < t.n; i++) {
        assert_int_equal(t.entries[i].offset % PARAM_ALIGN_FLOATS, 0);
        if (i > 0)
            assert_true(t.entries[i].offset >= t.entries[i - 1].offset + t.entries[i - 1].numel);
    }
    assert_int_equal(t.total, 64 + 128 + 64);
    assert_non_null(param_table_find(&t, "backbone.norm_f.weight"));
    assert_null(param_table_find(&t, "backbone.norm_f.bias"));
    int64_t bad[1] = {0};
    assert_int_equal(param_table_add(&t, "zero", 1, bad, 0), LS_ERR_USAGE);
    int64_t ok[1] = {1};
    assert_int_equal(param_table_add(&t, "backbone.norm_f.weight", 1, ok, 0), LS_ERR_USAGE);
    param_table_free(&t);
}

static float *filled(const ParamTable *t, float scale) {
    float *buf = calloc((size_t)t->total, sizeof *buf);
    for (int i = 0; i < t->n; i++)
        for (int64_t j = 0; j < t->entries[i].numel; j++)
            buf[t->entries[i].offset + j] = scale * (float)(i * 1000 + j) - 0.5f;
    return buf;
}

static void test_save_load_round_trip(void **state) {
    (void)state;
    ParamTable t;
    build_table(&t, 7);
    float *saved = filled(&t, 0.25f);
    char path[256];
    snprintf(path, sizeof path, "%s/round.safetensors", tmpdir);
    const char *keys[] = {"format", "config"};
    const char *values[] = {"longscan", "{\"d_model\": 7}"};
    assert_int_equal(param_table_save(&t, saved, path, 2, keys, values), 0);

    StFile *f = NULL;
    assert_int_equal(st_open(&f, path), 0);
    assert_int_equal(st_count(f), 3);
    assert_string_equal(st_metadata_get(f, "format"), "longscan");
    /* packed: the data section holds exactly the parameters, no alignment padding */
    const StTensor *last = st_tensor(f, 2);
    assert_int_equal(last->offset + last->nbytes, (uint64_t)t.numel * 4);
    assert_string_equal(st_tensor(f, 0)->name, "backbone.embedding.weight");
    st_close(f);

    float *loaded = calloc((size_t)t.total, sizeof *loaded);
    assert_int_equal(param_table_load(&t, loaded, path), 0);
    assert_memory_equal(saved, loaded, (size_t)t.total * sizeof *saved);
    free(saved);
    free(loaded);
    param_table_free(&t);
}

static void test_load_rejects_mismatches_and_leaves_buffer(void **state) {
    (void)state;
    ParamTable small, wide;
    build_table(&small, 7);
    build_table(&wide, 8);
    float *buf = filled(&small, 1.0f);
    char path[256];
    snprintf(path, sizeof path, "%s/small.safetensors", tmpdir);
    assert_int_equal(param_table_save(&small, buf, path, 0, NULL, NULL), 0);

    /* shape mismatch names the tensor and both shapes */
    float *target = filled(&wide, 3.0f);
    float *before = filled(&wide, 3.0f);
    assert_int_equal(param_table_load(&wide, target, path), LS_ERR_FORMAT);
    assert_non_null(strstr(ls_error_message(), "backbone.embedding.weight"));
    assert_non_null(strstr(ls_error_message(), "[5, 7]"));
    assert_non_null(strstr(ls_error_message(), "[5, 8]"));
    assert_memory_equal(target, before, (size_t)wide.total * sizeof *target);

    /* a tensor the model lacks, and one the file lacks */
    ParamTable extra;
    build_table(&extra, 7);
    int64_t one[1] = {4};
    assert_int_equal(param_table_add(&extra, "lm_head.weight", 1, one, 0), 3);
    float *extra_buf = filled(&extra, 1.0f);
    assert_int_equal(param_table_load(&extra, extra_buf, path), LS_ERR_FORMAT);
    assert_non_null(strstr(ls_error_message(), "lm_head.weight"));
    assert_non_null(strstr(ls_error_message(), "missing"));
    char path2[256];
    snprintf(path2, sizeof path2, "%s/extra.safetensors", tmpdir);
    assert_int_equal(param_table_save(&extra, extra_buf, path2, 0, NULL, NULL), 0);
    assert_int_equal(param_table_load(&small, buf, path2), LS_ERR_FORMAT);
    assert_non_null(strstr(ls_error_message(), "unexpected tensor 'lm_head.weight'"));

    /* a file that is not there */
    char missing[256];
    snprintf(missing, sizeof missing, "%s/none.safetensors", tmpdir);
    assert_true(param_table_load(&small, buf, missing) < 0);
    assert_non_null(strstr(ls_error_message(), "none.safetensors"));

    free(buf);
    free(target);
    free(before);
    free(extra_buf);
    param_table_free(&small);
    param_table_free(&wide);
    param_table_free(&extra);
}

int main(void) {
    if (!mkdtemp(tmpdir)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_is_aligned_and_packed),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_load_rejects_mismatches_and_leaves_buffer),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    int failed = cmocka_run_group_tests_name("params", tests, NULL, NULL);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) return 1;
    return failed;
}
