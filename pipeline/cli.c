/* cli.c — shared option parsing, error line and atomic output files; see cli.h. */
#include "pipeline/cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <htslib/hts.h>

#include "common/log.h"
#include "models/model.h"

void cli_common_default(CommonOptions *common) {
    *common = (CommonOptions){.device = {DEVICE_CPU, 0}, .device_auto = 1,
                              .precision = CLI_PRECISION_AUTO, .dtype = DTYPE_F32,
                              .device_desc = "cpu", .threads = 0, .seed = 1, .output = NULL,
                              .verbosity = 1, .seq_slices = 1};
}

int cli_resolve_device(CommonOptions *c) {
    int count = 0, status = device_cuda_count(&count);
    const int was_auto = c->device_auto;
    if (c->device_auto) {
        c->device = status == 0 && count > 0 ? (Device){DEVICE_CUDA, 0} : (Device){DEVICE_CPU, 0};
        c->device_auto = 0;
    } else if (c->device.kind == DEVICE_CUDA) {
        if (status == LS_ERR_NO_CUDA) return status; /* "built without CUDA ..." */
        if (status < 0 || count == 0) {
            char why[256] = "";
            if (status < 0) { /* the runtime's reason, without the call site */
                const char *m = ls_error_message(), *last = strrchr(m, ':');
                snprintf(why, sizeof why, " (CUDA: %s)", last && last[1] ? last + 2 : m);
            }
            return ls_error(LS_ERR_NO_CUDA, "--device cuda: no GPU is visible%s; use --device "
                            "cpu or auto", why);
        }
        if (c->device.ordinal >= count)
            return ls_error(LS_ERR_NO_CUDA, "--device cuda:%d: no such GPU (%d visible: "
                            "cuda:0 to cuda:%d)", c->device.ordinal, count, count - 1);
    }
    if (c->device.kind == DEVICE_CUDA) {
        char what[160];
        if ((status = device_cuda_describe(c->device.ordinal, what, sizeof what)) < 0)
            return status; /* (makes the GPU current) */
        snprintf(c->device_desc, sizeof c->device_desc, "cuda:%d (%s)%s", c->device.ordinal,
                 what, was_auto ? ", auto" : "");
    } else {
        snprintf(c->device_desc, sizeof c->device_desc, "cpu%s",
                 was_auto ? " (auto: no GPU visible)" : "");
    }
    if (c->precision == CLI_PRECISION_BF16 && c->device.kind != DEVICE_CUDA)
        return ls_error(LS_ERR_USAGE, "--precision bf16: the CPU computes in fp32 only; bf16 "
                        "mixed precision runs on a GPU (--device cuda)");
    c->dtype = c->precision == CLI_PRECISION_BF16 ? DTYPE_BF16
               : c->precision == CLI_PRECISION_FP32 ? DTYPE_F32
               : c->device.kind == DEVICE_CUDA      ? DTYPE_BF16
                                                    : DTYPE_F32;
    return 0;
}

int cli_common_parse(int opt, const char *arg, CommonOptions *common) {
    int64_t value;
    int status;
    switch (opt) {
    case CLI_OPT_DEVICE:
        if (strcmp(arg, "auto") == 0) {
            common->device = (Device){DEVICE_CPU, 0};
            common->device_auto = 1;
            return 1;
        }
        status = device_parse(arg, &common->device);
        if (status < 0)
            return ls_error(LS_ERR_USAGE, "--device %s: expected auto, cpu, cuda or cuda:N", arg);
        common->device_auto = 0;
        return 1;
    case CLI_OPT_PRECISION:
        if (strcmp(arg, "fp32") == 0) common->precision = CLI_PRECISION_FP32;
        else if (strcmp(arg, "bf16") == 0) common->precision = CLI_PRECISION_BF16;
        else return ls_error(LS_ERR_USAGE, "--precision %s: expected fp32 or bf16", arg);
        return 1;
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
    case CLI_OPT_SEQ_SLICES:
        status = cli_parse_int64("--seq-slices", arg, 1, INT32_MAX, &common->seq_slices);
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
    model_set_default_seq_slices(common->seq_slices);
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
    *out = (OutputFile){.file = {.fd = -1}};
    if (!path || strcmp(path, "-") == 0) {
        out->fp = stdout;
        return 0;
    }
    int status = atomic_file_open(&out->file, path);
    if (status < 0) return status;
    out->fp = fdopen(out->file.fd, "w");
    if (!out->fp) {
        status = ls_error(LS_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        cli_output_abort(out);
        return status;
    }
    return 0;
}

int cli_output_commit(OutputFile *out) {
    int status = 0;
    if (!out->file.path) {
        if (fflush(stdout) != 0)
            status = ls_error(LS_ERR_IO, "stdout: write failed: %s", strerror(errno));
        out->fp = NULL;
        return status;
    }
    /* the FILE owns the descriptor: flush and sync through it, close it, then rename */
    int synced = fflush(out->fp) == 0 && !ferror(out->fp) &&
                 (fsync(out->file.fd) == 0 || (!out->file.tmp && errno == EINVAL));
    int err = errno;
    FILE *fp = out->fp;
    out->fp = NULL;
    out->file.fd = -1;
    if (fclose(fp) != 0 && synced) {
        synced = 0;
        err = errno;
    }
    if (!synced) {
        status = ls_error(LS_ERR_IO, "%s: write failed: %s", out->file.path, strerror(err));
        cli_output_abort(out);
        return status;
    }
    return atomic_file_commit(&out->file); /* the rename; removes the temporary on failure */
}

void cli_output_abort(OutputFile *out) {
    if (out->fp && out->fp != stdout) {
        fclose(out->fp);
        out->file.fd = -1;   /* closed with the FILE */
    }
    out->fp = NULL;
    atomic_file_abort(&out->file);
}

// ---------------------------------------------------------------------------- output checks

/* Same file: both exist with one device and inode, or neither is there and they would be
 * created under the same name in the same folder. */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    int ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
    if (ea && eb) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    if (ea || eb) return 0;
    const char *na = strrchr(a, '/'), *nb = strrchr(b, '/');
    na = na ? na + 1 : a;
    nb = nb ? nb + 1 : b;
    if (strcmp(na, nb) != 0) return 0;
    char *da = strndup(a, (size_t)(na - a)), *db = strndup(b, (size_t)(nb - b));
    int same = da && db && stat(*da ? da : ".", &sa) == 0 && stat(*db ? db : ".", &sb) == 0 &&
               sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    free(da);
    free(db);
    return same;
}

/* Does input string @p in (as the loaders read it) name the file with @p st's identity? */
static int input_is(const char *in, const struct stat *out) {
    const char *eq = strchr(in, '=');
    const char *candidates[2] = {in, eq ? eq + 1 : NULL};
    for (int c = 0; c < 2; c++) {
        const char *s = candidates[c];
        if (!s || !*s) continue;
        struct stat st;
        if (stat(s, &st) == 0 && st.st_dev == out->st_dev && st.st_ino == out->st_ino) return 1;
        for (const char *colon = strchr(s, ':'); colon; colon = strchr(colon + 1, ':')) {
            char *prefix = strndup(s, (size_t)(colon - s));
            int same = prefix && stat(prefix, &st) == 0 && st.st_dev == out->st_dev &&
                       st.st_ino == out->st_ino;
            free(prefix);
            if (same) return 1;
        }
    }
    return 0;
}

static int skipped(const char *path) { return !path || !*path || strcmp(path, "-") == 0; }

int cli_check_outputs(const CliPath *outputs, int n_outputs, const CliPath *inputs,
                      int n_inputs) {
    for (int i = 0; i < n_outputs; i++) {
        const CliPath *o = &outputs[i];
        if (skipped(o->path)) continue;
        struct stat st;
        if (stat(o->path, &st) == 0 && S_ISREG(st.st_mode)) {
            for (int k = 0; k < n_inputs; k++) {
                const CliPath *in = &inputs[k];
                if (skipped(in->path) || !input_is(in->path, &st)) continue;
                return ls_error(LS_ERR_USAGE, "%s %s: is the input %s%s%s (the same file); "
                                "writing it would destroy that input, so choose another "
                                "output name", o->option, o->path, in->option,
                                *in->option ? " " : "", in->path);
            }
        }
        for (int k = 0; k < i; k++) {
            if (skipped(outputs[k].path) || !same_file(outputs[k].path, o->path)) continue;
            return ls_error(LS_ERR_USAGE, "%s %s and %s %s: the same file; give them "
                            "different names", outputs[k].option, outputs[k].path, o->option,
                            o->path);
        }
    }
    /* creatable: checked after the identities, whose usage errors say more */
    for (int i = 0; i < n_outputs; i++) {
        if (skipped(outputs[i].path)) continue;
        int status = atomic_file_check(outputs[i].path);
        if (status < 0) return status;
    }
    return 0;
}

int cli_check_input_outputs(const char *output, char *const *files, int n_files,
                            const char *labels, const char *reference) {
    if (skipped(output)) return 0;
    CliPath *in = malloc((size_t)(n_files + 2) * sizeof *in);
    if (!in) return ls_error(LS_ERR_NOMEM, "out of memory");
    int n = 0;
    for (int i = 0; i < n_files; i++) in[n++] = (CliPath){"", files[i]};
    if (labels) in[n++] = (CliPath){"--labels", labels};
    if (reference) in[n++] = (CliPath){"--reference", reference};
    CliPath out = {"-o", output};
    int status = cli_check_outputs(&out, 1, in, n);
    free(in);
    return status;
}

int cli_stderr_is_tty(void) { return isatty(STDERR_FILENO); }
