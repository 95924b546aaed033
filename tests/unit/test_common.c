/* test_common.c — error codes and messages, device parsing, CLI number parsing, UTF-8
 * checks (common/utf8.h), atomic output files (common/atomic_file.h) and the CLI's output
 * checks (cli_check_outputs: an output that is an input, two outputs that are one file). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/utf8.h"
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

// --device auto|cpu|cuda|cuda:N and --precision fp32|bf16 through the common parser, and
// their resolution on a machine without a usable GPU (CI; a CPU-only build alike): auto is
// the CPU with fp32, an explicit GPU or bf16 on the CPU is one clear error.
static void test_device_and_precision_options(void **state) {
    (void)state;
    CommonOptions c;
    cli_common_default(&c);
    assert_int_equal(c.device_auto, 1);
    assert_int_equal(c.precision, CLI_PRECISION_AUTO);
    assert_int_equal(cli_common_parse(CLI_OPT_DEVICE, "cuda:2", &c), 1);
    assert_int_equal(c.device_auto, 0);
    assert_int_equal(c.device.kind, DEVICE_CUDA);
    assert_int_equal(c.device.ordinal, 2);
    assert_int_equal(cli_common_parse(CLI_OPT_DEVICE, "auto", &c), 1);
    assert_int_equal(c.device_auto, 1);
    assert_int_equal(c.device.kind, DEVICE_CPU);
    assert_int_equal(cli_common_parse(CLI_OPT_DEVICE, "cpu", &c), 1);
    assert_int_equal(c.device_auto, 0);
    assert_int_equal(cli_common_parse(CLI_OPT_DEVICE, "tpu", &c), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "expected auto, cpu, cuda or cuda:N"));
    assert_int_equal(cli_common_parse(CLI_OPT_PRECISION, "bf16", &c), 1);
    assert_int_equal(c.precision, CLI_PRECISION_BF16);
    assert_int_equal(cli_common_parse(CLI_OPT_PRECISION, "fp32", &c), 1);
    assert_int_equal(c.precision, CLI_PRECISION_FP32);
    assert_int_equal(cli_common_parse(CLI_OPT_PRECISION, "fp16", &c), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "--precision fp16"));

    int count = 0;
    if (device_cuda_count(&count) == 0 && count > 0) { // a GPU machine: auto takes it, bf16
        cli_common_default(&c);
        assert_int_equal(cli_resolve_device(&c), 0);
        assert_int_equal(c.device.kind, DEVICE_CUDA);
        assert_int_equal(c.dtype, DTYPE_BF16);
        assert_non_null(strstr(c.device_desc, "cuda:0 ("));
        return;
    }
    cli_common_default(&c); // auto, auto: the CPU in fp32
    assert_int_equal(cli_resolve_device(&c), 0);
    assert_int_equal(c.device.kind, DEVICE_CPU);
    assert_int_equal(c.dtype, DTYPE_F32);
    assert_non_null(strstr(c.device_desc, "cpu (auto: no GPU visible)"));
    cli_common_default(&c);
    c.precision = CLI_PRECISION_BF16; // bf16 on the CPU: a usage error
    assert_int_equal(cli_resolve_device(&c), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "--precision bf16"));
    cli_common_default(&c);
    assert_int_equal(cli_common_parse(CLI_OPT_DEVICE, "cuda", &c), 1);
    assert_int_equal(cli_resolve_device(&c), LS_ERR_NO_CUDA); // exit 1 in the CLI
    assert_true(strstr(ls_error_message(), "no GPU is visible") ||
                strstr(ls_error_message(), "built without CUDA"));
    assert_null(strchr(ls_error_message(), '\n'));
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

// ---------------------------------------------------------------------------- UTF-8

static void test_utf8(void **state) {
    (void)state;
    assert_true(utf8_check("", 0) == SIZE_MAX);
    assert_true(utf8_check("plain ascii", 11) == SIZE_MAX);
    assert_true(utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));  /* é € 😀 */
    assert_false(utf8_valid(NULL));
    static const struct {
        const char *s;
        size_t bad;
    } cases[] = {
        {"ab\xff", 2},             /* never a UTF-8 byte */
        {"caf\xe9", 3},            /* Latin-1 é */
        {"\xc0\x80", 0},           /* overlong NUL */
        {"x\xe0\x80\x80", 1},      /* overlong 3-byte */
        {"\xed\xa0\x80", 0},       /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 0},   /* above U+10FFFF */
        {"ok\xe2\x82", 2},         /* cut short */
        {"\xc3\xa9\x80", 2},       /* stray continuation byte */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t got = utf8_check(cases[i].s, strlen(cases[i].s));
        if (got != cases[i].bad)
            fail_msg("case %zu: utf8_check gave %zu, expected %zu", i, got, cases[i].bad);
        assert_false(utf8_valid(cases[i].s));
    }
    char buf[16];
    assert_string_equal(utf8_escape(buf, sizeof buf, "a\xff\tb"), "a\\xff\\x09b");
    assert_string_equal(utf8_escape(buf, sizeof buf, "0123456789abcdefghij"), "0123456789ab...");
    assert_string_equal(utf8_escape(buf, 1, "abc"), "");
}

// ---------------------------------------------------------------------------- atomic files

static char g_dir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup_dir(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/ls_common_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown_dir(void **state) {
    (void)state;
    return nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *in_dir(const char *name) {
    static char path[4][512];
    static int turn;
    char *p = path[turn++ % 4];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

static void put_file(const char *path, const char *text) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void expect_content(const char *path, const char *text) {
    char buf[256] = {0};
    FILE *fp = fopen(path, "rb");
    if (!fp) fail_msg("%s: missing, expected '%s'", path, text);
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    if (strcmp(buf, text) != 0) fail_msg("%s holds '%s', expected '%s'", path, buf, text);
}

/* Entries of the test folder whose name starts with @p prefix. */
static int count_entries(const char *prefix) {
    DIR *d = opendir(g_dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
    closedir(d);
    return n;
}

static void write_text(AtomicFile *f, const char *text) {
    assert_int_equal(write(f->fd, text, strlen(text)), (ssize_t)strlen(text));
}

static void test_atomic_file(void **state) {
    (void)state;
    AtomicFile f, g;
    const char *out = in_dir("out.txt");
    /* an unrelated file with the old temporary's name survives, untouched */
    put_file(in_dir("out.txt.tmp"), "unrelated");
    put_file(out, "old");
    assert_int_equal(atomic_file_open(&f, out), 0);
    assert_int_equal(atomic_file_open(&g, out), 0);        /* two at once: distinct names */
    assert_non_null(f.tmp);
    assert_string_not_equal(f.tmp, g.tmp);
    assert_non_null(strstr(f.tmp, "/.longscan-"));
    assert_int_equal(count_entries(".longscan-"), 2);
    write_text(&f, "new");
    expect_content(out, "old");                             /* not before the commit */
    atomic_file_abort(&g);
    assert_int_equal(atomic_file_commit(&f), 0);
    expect_content(out, "new");
    expect_content(in_dir("out.txt.tmp"), "unrelated");
    assert_int_equal(count_entries(".longscan-"), 0);
    atomic_file_abort(&f);                                  /* no-op after commit */

    /* abort: the target stays as it was, no temporary is left */
    assert_int_equal(atomic_file_open(&f, out), 0);
    write_text(&f, "discarded");
    atomic_file_abort(&f);
    expect_content(out, "new");
    assert_int_equal(count_entries(".longscan-"), 0);

    /* a name of NAME_MAX bytes: the temporary's own name is short, so it works */
    char name[256];
    memset(name, 'n', 255);
    name[255] = '\0';
    char longest[600];
    snprintf(longest, sizeof longest, "%s", in_dir(name));
    assert_int_equal(atomic_file_open(&f, longest), 0);
    write_text(&f, "long");
    assert_int_equal(atomic_file_commit(&f), 0);
    expect_content(longest, "long");

    /* a symbolic link is written through: the link stays, its target is replaced */
    put_file(in_dir("real.txt"), "real");
    assert_int_equal(symlink("real.txt", in_dir("link.txt")), 0);
    assert_int_equal(atomic_file_open(&f, in_dir("link.txt")), 0);
    write_text(&f, "through");
    assert_int_equal(atomic_file_commit(&f), 0);
    struct stat st;
    assert_int_equal(lstat(in_dir("link.txt"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    expect_content(in_dir("real.txt"), "through");

    /* a device is written directly (no temporary, no rename over /dev/null) */
    assert_int_equal(atomic_file_open(&f, "/dev/null"), 0);
    assert_null(f.tmp);
    write_text(&f, "gone");
    assert_int_equal(atomic_file_commit(&f), 0);
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));

    /* failures: a missing folder, and a directory as target (the rename fails) */
    assert_int_equal(atomic_file_open(&f, in_dir("no/such/x.txt")), LS_ERR_IO);
    assert_non_null(strstr(ls_error_message(), "no/such/x.txt: cannot create a file in "
                                               "directory"));
    assert_non_null(strstr(ls_error_message(), "No such file"));
    atomic_file_abort(&f);
    assert_int_equal(mkdir(in_dir("adir"), 0755), 0);
    assert_int_equal(atomic_file_open(&f, in_dir("adir")), 0);
    assert_int_equal(atomic_file_commit(&f), LS_ERR_IO);
    assert_non_null(strstr(ls_error_message(), "rename"));
    assert_int_equal(count_entries(".longscan-"), 0);

    /* the check creates nothing and says what would fail */
    assert_int_equal(atomic_file_check(in_dir("fresh.txt")), 0);
    assert_int_equal(access(in_dir("fresh.txt"), F_OK), -1);
    assert_int_equal(count_entries(".longscan-"), 0);
    assert_int_equal(atomic_file_check(in_dir("adir")), LS_ERR_IO);
    assert_non_null(strstr(ls_error_message(), "adir: is a directory"));
    assert_int_equal(atomic_file_check(in_dir("no/such/x.txt")), LS_ERR_IO);
    assert_int_equal(atomic_file_check("/dev/null"), 0);
    assert_int_equal(atomic_file_check(longest), 0);        /* NAME_MAX itself is fine */
    char toolong[300];
    snprintf(toolong, sizeof toolong, "%s.x", name);
    assert_int_equal(atomic_file_check(in_dir(toolong)), LS_ERR_IO);
    assert_non_null(strstr(ls_error_message(), "the file name is 257 bytes"));
    assert_int_equal(count_entries(".longscan-"), 0);
}

static void test_check_outputs(void **state) {
    (void)state;
    put_file(in_dir("in.fa"), ">r\nACGT\n");
    assert_int_equal(link(in_dir("in.fa"), in_dir("hard.fa")), 0);
    assert_int_equal(symlink("in.fa", in_dir("soft.fa")), 0);
    put_file(in_dir("labels.tsv"), "r\tx\n");
    char region[600], cls[600];
    snprintf(region, sizeof region, "%s:r:1-2", in_dir("in.fa"));
    snprintf(cls, sizeof cls, "x=%s", in_dir("in.fa"));
    const CliPath inputs[] = {{"", in_dir("in.fa")}, {"--labels", in_dir("labels.tsv")}};
    const char *same[] = {"in.fa", "hard.fa", "soft.fa"};
    for (int i = 0; i < 3; i++) {
        CliPath out = {"-o", in_dir(same[i])};
        assert_int_equal(cli_check_outputs(&out, 1, inputs, 2), LS_ERR_USAGE);
        assert_non_null(strstr(ls_error_message(), "is the input"));
    }
    CliPath out = {"-o", in_dir("labels.tsv")};
    assert_int_equal(cli_check_outputs(&out, 1, inputs, 2), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "is the input --labels"));
    /* FILE:REGION and LABEL=SOURCE read the file too */
    const CliPath region_in[] = {{"", region}, {"--class", cls}};
    out = (CliPath){"-o", in_dir("hard.fa")};
    assert_int_equal(cli_check_outputs(&out, 1, region_in, 1), LS_ERR_USAGE);
    assert_int_equal(cli_check_outputs(&out, 1, region_in + 1, 1), LS_ERR_USAGE);
    /* a new file, stdout, or an input that is not there: fine, and nothing is created */
    out = (CliPath){"-o", in_dir("new.tsv")};
    assert_int_equal(cli_check_outputs(&out, 1, inputs, 2), 0);
    assert_int_equal(access(in_dir("new.tsv"), F_OK), -1);
    out = (CliPath){"-o", "-"};
    assert_int_equal(cli_check_outputs(&out, 1, inputs, 2), 0);
    /* two outputs that are one file: by inode, or by folder and name when new */
    char dotted[600];
    snprintf(dotted, sizeof dotted, "%s/./new.tsv", g_dir);
    const CliPath two_new[] = {{"-o", in_dir("new.tsv")}, {"--log", dotted}};
    assert_int_equal(cli_check_outputs(two_new, 2, NULL, 0), LS_ERR_USAGE);
    assert_non_null(strstr(ls_error_message(), "the same file"));
    const CliPath two_old[] = {{"-o", in_dir("in.fa")}, {"--log", in_dir("hard.fa")}};
    assert_int_equal(cli_check_outputs(two_old, 2, NULL, 0), LS_ERR_USAGE);
    /* cannot be created */
    out = (CliPath){"-o", in_dir("missing/x.tsv")};
    assert_int_equal(cli_check_outputs(&out, 1, inputs, 2), LS_ERR_IO);
    /* the inputs are unchanged */
    expect_content(in_dir("in.fa"), ">r\nACGT\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_message_and_prefix),
        cmocka_unit_test(test_every_code_has_a_sentence),
        cmocka_unit_test(test_device_parse),
        cmocka_unit_test(test_device_and_precision_options),
        cmocka_unit_test(test_parse_numbers),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_atomic_file),
        cmocka_unit_test(test_check_outputs),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("common", tests, setup_dir, teardown_dir);
}
