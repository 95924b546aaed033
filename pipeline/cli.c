/* cli.c — shared option parsing, error line and atomic output files; see cli.h. */
#include "pipeline/cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <htslib/hts.h>

#include "common/log.h"

void cli_common_default(CommonOptions *common) {
    *common = (CommonOptions){.device = {DEVICE_CPU, 0}, .threads = 0, .seed = 1,
                              .output = NULL, .verbosity = 1};
}

int cli_common_parse(int opt, const char *arg, CommonOptions *common) {
    int64_t value;
    int status;
    switch (opt) {
    case CLI_OPT_DEVICE:
        status = device_parse(arg, &common->device);
        return status < 0 ? status : 1;
    case CLI_OPT_THREADS:
        status = cli_parse_int("--threads", arg, 1, 4096, &common->threads);
        return status < 0 ? status : 1;
    case CLI_OPT_SEED:
        status = cli_parse_int64("--seed", arg, 0, INT64_MAX, &value);
        if (status < 0) return status;
        common->seed = (uint64_t)value;
        return 1;
    case CLI_OPT_VERBOSITY:
        status = cli_parse_int("--verbosity", arg, 0, 3, &common->verbosity);
        return status < 0 ? status : 1;
    case 'o':
        common->output = arg;
        return 1;
    default:
        return 0;
    }
}

void cli_common_apply(const CommonOptions *common) {
    ls_log_set_level((LogLevel)common->verbosity);
    /* htslib logs its own [E::...] lines; our error line already says what went wrong, so
     * they are shown only at --verbosity 3 (debug), keeping failures to one line. */
    hts_set_log_level(common->verbosity >= LOG_LEVEL_DEBUG ? HTS_LOG_DEBUG : HTS_LOG_OFF);
#ifdef _OPENMP
    if (common->threads > 0) omp_set_num_threads(common->threads);
#endif
}

int cli_parse_int64(const char *option, const char *text, int64_t min, int64_t max,
                    int64_t *out) {
    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (end == text || *end != '\0')
        return ls_error(LS_ERR_USAGE, "%s %s: not an integer", option, text);
    if (errno == ERANGE || value < min || value > max)
        return ls_error(LS_ERR_USAGE, "%s %s: must be between %lld and %lld", option, text,
                        (long long)min, (long long)max);
    *out = value;
    return 0;
}

int cli_parse_int(const char *option, const char *text, int min, int max, int *out) {
    int64_t value;
    int status = cli_parse_int64(option, text, min, max, &value);
    if (status < 0) return status;
    *out = (int)value;
    return 0;
}

int cli_parse_double(const char *option, const char *text, double min, double max,
                     double *out) {
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || !isfinite(value))
        return ls_error(LS_ERR_USAGE, "%s %s: not a number", option, text);
    if (errno == ERANGE || value < min || value > max)
        return ls_error(LS_ERR_USAGE, "%s %s: must be between %g and %g", option, text, min, max);
    *out = value;
    return 0;
}

int cli_fail(const char *sub, int code) {
    fflush(stdout);
    fprintf(stderr, "longscan%s%s: %s\n", sub ? " " : "", sub ? sub : "", ls_error_message());
    return (code == LS_ERR_USAGE || code == LS_ERR_NOT_READY) ? EXIT_USAGE : EXIT_FAILURE_;
}

int cli_usage_error(const char *sub, const char *fmt, ...) {
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "longscan %s: %s; see 'longscan %s --help'\n", sub, message, sub);
    return EXIT_USAGE;
}

int cli_output_open(OutputFile *out, const char *path) {
    *out = (OutputFile){0};
    if (!path || strcmp(path, "-") == 0) {
        out->fp = stdout;
        return 0;
    }
    size_t len = strlen(path);
    out->path = strdup(path);
    out->tmp_path = malloc(len + 5);
    if (!out->path || !out->tmp_path) {
        cli_output_abort(out);
        return ls_error(LS_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(out->tmp_path, path, len);
    memcpy(out->tmp_path + len, ".tmp", 5);
    out->fp = fopen(out->tmp_path, "w");
    if (!out->fp) {
        int status = ls_error(LS_ERR_IO, "%s: cannot create: %s", out->tmp_path, strerror(errno));
        cli_output_abort(out);
        return status;
    }
    return 0;
}

int cli_output_commit(OutputFile *out) {
    int status = 0;
    if (!out->path) {
        if (fflush(stdout) != 0)
            status = ls_error(LS_ERR_IO, "stdout: write failed: %s", strerror(errno));
        out->fp = NULL;
        return status;
    }
    if (fflush(out->fp) != 0 || ferror(out->fp) || fsync(fileno(out->fp)) != 0) {
        status = ls_error(LS_ERR_IO, "%s: write failed: %s", out->tmp_path, strerror(errno));
        goto fail;
    }
    FILE *fp = out->fp;
    out->fp = NULL;
    if (fclose(fp) != 0) {
        status = ls_error(LS_ERR_IO, "%s: close failed: %s", out->tmp_path, strerror(errno));
        goto fail;
    }
    if (rename(out->tmp_path, out->path) != 0) {
        status = ls_error(LS_ERR_IO, "%s: cannot rename into place: %s", out->path,
                          strerror(errno));
        goto fail;
    }
    free(out->tmp_path);
    out->tmp_path = NULL;
    free(out->path);
    out->path = NULL;
    return 0;
fail:
    cli_output_abort(out);
    return status;
}

void cli_output_abort(OutputFile *out) {
    if (out->fp && out->fp != stdout) fclose(out->fp);
    out->fp = NULL;
    if (out->tmp_path) unlink(out->tmp_path);
    free(out->tmp_path);
    free(out->path);
    out->tmp_path = NULL;
    out->path = NULL;
}

int cli_stderr_is_tty(void) { return isatty(STDERR_FILENO); }
