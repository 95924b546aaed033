/*
 * cli.h — what every subcommand shares: the common options (one macro, one parser), number
 * parsing with range checks, the single error line, and output files that appear only whole.
 */
#ifndef LS_CLI_H
#define LS_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "common/atomic_file.h"
#include "common/error.h"
#include "kernels/device.h"
#include "kernels/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LONGSCAN_VERSION "0.1.0"

/* Exit statuses: 0 ok, 1 failure (bad input, I/O, …), 2 usage error or a command that is not
 * available yet. */
enum { EXIT_OK = 0, EXIT_FAILURE_ = 1, EXIT_USAGE = 2 };

/* --precision as given: AUTO is bf16 on a GPU, fp32 on the CPU. */
typedef enum {
    CLI_PRECISION_AUTO = 0,
    CLI_PRECISION_FP32,
    CLI_PRECISION_BF16,
} CliPrecision;

typedef struct {
    Device      device;     /* cpu until cli_resolve_device() when device_auto */
    int         device_auto;/* --device auto (the default): the GPU when one is visible */
    CliPrecision precision; /* --precision as given */
    DType       dtype;      /* after cli_resolve_device(): the model's activation type */
    char        device_desc[192]; /* after cli_resolve_device(): "cuda:0 (NVIDIA …, 79.1 GiB)" */
    int         threads;    /* 0: OpenMP default */
    uint64_t    seed;
    const char *output;     /* NULL or "-": stdout */
    int         verbosity;  /* 0 errors .. 3 debug */
    int64_t     seq_slices; /* --seq-slices G (models: model_set_default_seq_slices); 1 */
} CommonOptions;

/* getopt_long codes of the common long-only options. */
enum {
    CLI_OPT_DEVICE = 0x1000,
    CLI_OPT_THREADS,
    CLI_OPT_SEED,
    CLI_OPT_VERBOSITY,
    CLI_OPT_PRECISION,
    CLI_OPT_SEQ_SLICES,
    CLI_OPT_FIRST_COMMAND_OPTION, /* subcommands number their own long-only options from here */
};

/* Put in each subcommand's `static const struct option` table. */
#define CLI_COMMON_LONG_OPTIONS                                                                \
    {"device", required_argument, NULL, CLI_OPT_DEVICE},                                       \
    {"threads", required_argument, NULL, CLI_OPT_THREADS},                                     \
    {"seed", required_argument, NULL, CLI_OPT_SEED},                                           \
    {"verbosity", required_argument, NULL, CLI_OPT_VERBOSITY},                                 \
    {"output", required_argument, NULL, 'o'},                                                  \
    {"help", no_argument, NULL, 'h'}

/* ...and in the table of each command that runs a model (train, eval, predict, embed,
 * score): its precision on the GPU, and sequence parallelism. */
#define CLI_MODEL_LONG_OPTIONS                                                                 \
    {"precision", required_argument, NULL, CLI_OPT_PRECISION},                                 \
    {"seq-slices", required_argument, NULL, CLI_OPT_SEQ_SLICES}

#define CLI_MODEL_HELP                                                                         \
    "      --precision P      fp32 or bf16 (mixed: bf16 activations and tensor-core GEMMs, fp32\n" \
    "                         weights, optimizer and scan state); default bf16 on a GPU, fp32\n" \
    "                         on the CPU (the CPU computes in fp32 only)\n"                 \
    "      --seq-slices G     cut every sequence into G slices and run each Mamba layer as G\n" \
    "                         devices would (docs/parallel.md); on one device a check of the\n" \
    "                         sequence-parallel path, same results within fp32 rounding, more\n" \
    "                         work, no memory saved (default 1; Mamba and bimamba only)\n"

/* Help text lines for the common options, for each usage(). */
#define CLI_COMMON_HELP                                                                        \
    "  -o, --output FILE      write results to FILE instead of stdout ('-' = stdout)\n"       \
    "      --device DEV       auto, cpu, cuda or cuda:N (default auto: the first GPU when one\n" \
    "                         is visible, else the CPU)\n"                                     \
    "      --threads N        CPU threads (default: all cores)\n"                              \
    "      --seed N           random seed (default 1)\n"                                       \
    "      --verbosity N      0 errors only, 1 warnings (default), 2 info, 3 debug\n"          \
    "  -h, --help             show this help and exit\n"

void cli_common_default(CommonOptions *common);

/**
 * Handle one getopt_long result if it is a common option.
 * @return 1 handled, 0 not a common option, LS_ERR_USAGE on a bad value (message set).
 */
int cli_common_parse(int opt, const char *arg, CommonOptions *common) LS_RESULT_USED;

/** Apply threads and verbosity (call once after parsing). */
void cli_common_apply(const CommonOptions *common);

/**
 * Settle where and how a model runs, before any work: --device auto becomes cuda:0 when a GPU is
 * visible, else cpu; an explicit cuda or cuda:N must name a visible GPU (made current); the
 * precision becomes a DType (auto: bf16 on a GPU, fp32 on the CPU). Fills device, dtype and
 * device_desc. Nothing is written.
 * @return 0; LS_ERR_NO_CUDA (asked for a GPU where there is none, or a CPU-only build: one line
 *         saying which, exit 1); LS_ERR_USAGE (--precision bf16 on the CPU).
 */
int cli_resolve_device(CommonOptions *common) LS_RESULT_USED;

/** strtoll with full-string and range checks; message names @p option. */
int cli_parse_int64(const char *option, const char *text, int64_t min, int64_t max,
                    int64_t *out) LS_RESULT_USED;
int cli_parse_int(const char *option, const char *text, int min, int max, int *out) LS_RESULT_USED;
int cli_parse_double(const char *option, const char *text, double min, double max,
                     double *out) LS_RESULT_USED;

/**
 * Print the one error line "longscan <sub>: <message>" after flushing stdout.
 * @return the exit status for @p code (2 for usage / not-ready, 1 otherwise).
 */
int cli_fail(const char *sub, int code);

/** For getopt's '?' and stray arguments: "longscan <sub>: <message>; see --help", returns 2. */
int cli_usage_error(const char *sub, const char *fmt, ...) LS_PRINTF(2, 3);

/**
 * An output stream that replaces its target only when complete: a regular file is written to
 * a unique temporary in its folder (common/atomic_file.h: an existing file of any other name
 * is never touched) and renamed by cli_output_commit(); stdout (NULL or "-") is used directly.
 */
typedef struct {
    FILE      *fp;
    AtomicFile file;   /* path NULL for stdout */
} OutputFile;

int  cli_output_open(OutputFile *out, const char *path) LS_RESULT_USED;
/** Flush, fsync, close and rename into place. @return 0 or LS_ERR_IO. */
int  cli_output_commit(OutputFile *out) LS_RESULT_USED;
/** Close and remove the temporary; the target is untouched. Safe after commit or on zeroed. */
void cli_output_abort(OutputFile *out);

/** A file named on the command line, with the option that named it (for messages). */
typedef struct {
    const char *option;  /* "-o", "--labels", "-m", ...; "" for a positional input */
    const char *path;    /* NULL or "-" (stdin/stdout): skipped */
} CliPath;

/**
 * Check a command's outputs before it does any work (nothing is created or changed):
 *   - each can be created (atomic_file_check: its folder exists and takes a new file, it is
 *     not a directory);
 *   - none is one of the inputs: an existing regular output with the device and inode of an
 *     input (so hard links and symbolic links to it count too) would replace that input.
 *     An input is matched as the loaders read it: the whole string, the file before each ':'
 *     (FILE:REGION, FILE:RECORD) and the SOURCE of LABEL=SOURCE;
 *   - no two outputs are the same file (same inode, or same folder and name when new).
 * @return 0; LS_ERR_USAGE naming both files (an output is an input, or two outputs are one
 *         file); the atomic_file_check() errors (LS_ERR_IO).
 */
int cli_check_outputs(const CliPath *outputs, int n_outputs, const CliPath *inputs,
                      int n_inputs) LS_RESULT_USED;

/** cli_check_outputs() for commands with one output @p output (-o) and positional inputs
 *  @p files[0..n_files), plus optional --labels and --reference files (NULL: none). */
int cli_check_input_outputs(const char *output, char *const *files, int n_files,
                            const char *labels, const char *reference) LS_RESULT_USED;

/** 1 if stderr is a terminal (progress bars only then). */
int cli_stderr_is_tty(void);

#ifdef __cplusplus
}
#endif
#endif
