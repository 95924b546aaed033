/* test_common.c — error codes and messages, device parsing, CLI number parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "common/error.h"
#include "kernels/device.h"
#include "pipeline/cli.h"

static void test_error_message_and_prefix(void **state) {
    (void)state;
    ls_error_clear();
    assert_int_equal(ls_error_code(), LS_OK);
    int code = ls_error(LS_ERR_FORMAT, "%s:%d: bad header", "x.fa", 3);
    assert_int_equal(code, LS_ERR_FORMAT);
    assert_string_equal(ls_error_message(), "x.fa:3: bad header");
    ls_error_prefix("outer %d", 7);
    assert_string_equal(ls_error_message(), "outer 7: x.fa:3: bad header");
    ls_error_clear();
    assert_string_equal(ls_error_message(), "no error");
}

static void test_every_code_has_a_sentence(void **state) {
    (void)state;
    for (int code = LS_OK; code >= LS_ERR_INTERNAL; code--)
        assert_string_not_equal(ls_strerror(code), "unknown error");
    assert_string_equal(ls_strerror(-999), "unknown error");
}

static void test_device_parse(void **state) {
    (void)state;
    Device d;
    assert_int_equal(device_parse("cpu", &d), 0);
    assert_int_equal(d.kind, DEVICE_CPU);
    assert_int_equal(device_parse("cuda", &d), 0);
    assert_int_equal(d.kind, DEVICE_CUDA);
    assert_int_equal(d.ordinal, 0);
    assert_int_equal(device_parse("cuda:3", &d), 0);
    assert_int_equal(d.ordinal, 3);
    assert_int_equal(device_parse("cuda:", &d), LS_ERR_USAGE);
    assert_int_equal(device_parse("cuda:-1", &d), LS_ERR_USAGE);
    assert_int_equal(device_parse("gpu", &d), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "gpu"));
}

static void test_parse_numbers(void **state) {
    (void)state;
    int64_t v;
    double x;
    assert_int_equal(cli_parse_int64("--n", "42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(cli_parse_int64("--n", "101", 0, 100, &v), LS_ERR_USAGE);
    assert_int_equal(cli_parse_int64("--n", "4x", 0, 100, &v), LS_ERR_USAGE);
    assert_int_equal(cli_parse_int64("--n", "", 0, 100, &v), LS_ERR_USAGE);
    assert_int_equal(cli_parse_int64("--n", "99999999999999999999", 0, INT64_MAX, &v),
                     LS_ERR_USAGE);
    assert_int_equal(cli_parse_double("--lr", "1e-3", 0, 1, &x), 0);
    assert_true(x == 1e-3);
    assert_int_equal(cli_parse_double("--lr", "nan", 0, 1, &x), LS_ERR_USAGE);
    assert_int_equal(cli_parse_double("--lr", "2", 0, 1, &x), LS_ERR_USAGE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_message_and_prefix),
        cmocka_unit_test(test_every_code_has_a_sentence),
        cmocka_unit_test(test_device_parse),
        cmocka_unit_test(test_parse_numbers),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
