/*
 * main.c — the longscan command line: dispatch to one subcommand from a table
 * {name, function, one-line help}. `longscan help CMD` is `longscan CMD --help`; no arguments
 * print the usage on stderr and exit 1.
 */
#include <stdio.h>
#include <string.h>

#include "kernels/device.h"
#include "pipeline/cli.h"
#include "pipeline/commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} Subcommand;

static const Subcommand subcommands[] = {
    {"info",     main_info,     "describe sequence, audio and checkpoint files"},
    {"train",    main_train,    "train a classifier or language model"},
    {"resume",   main_resume,   "continue a stopped training run (train --resume)"},
    {"eval",     main_eval,     "evaluate a model on labelled data"},
    {"predict",  main_predict,  "predict labels for sequences or audio files"},
    {"embed",    main_embed,    "one embedding vector per record"},
    {"score",    main_score,    "per-position log-likelihood under a language model"},
    {"generate", main_generate, "generate DNA or audio from a language model"},
    {"export",   main_export,   "write a model as a Hugging Face transformers directory"},
    {"bench",    main_bench,    "measure reading and kernel speed"},
    {"compare",  main_compare,  "Transformer vs Mamba vs hybrid on synthetic tasks or your data"},
};
static const int n_subcommands = (int)(sizeof subcommands / sizeof subcommands[0]);

static void usage(FILE *fp) {
    fprintf(fp,
            "longscan %s — long-sequence analysis of DNA and raw audio with Mamba\n"
            "\n"
            "Usage: longscan <command> [options] [arguments]\n"
            "\n"
            "Commands:\n",
            LONGSCAN_VERSION);
    for (int i = 0; i < n_subcommands; i++)
        fprintf(fp, "  %-10s %s\n", subcommands[i].name, subcommands[i].help);
    fprintf(fp,
            "\n"
            "  help CMD   same as 'longscan CMD --help'\n"
            "  --version  print version and build information\n"
            "\n"
            "Errors are one line on stderr, 'longscan <command>: <file>:<where>: <what>';\n"
            "exit status 0 success, 1 failure, 2 usage error.\n");
}

static const Subcommand *find_subcommand(const char *name) {
    for (int i = 0; i < n_subcommands; i++)
        if (strcmp(subcommands[i].name, name) == 0) return &subcommands[i];
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("longscan %s\nbackend: %s\n", LONGSCAN_VERSION, device_build_info());
        return 0;
    }
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        const Subcommand *sub = find_subcommand(argv[2]);
        if (!sub) {
            fprintf(stderr, "longscan: unknown command '%s'; see 'longscan --help'\n", argv[2]);
            return 2;
        }
        char *help_argv[] = {(char *)sub->name, "--help", NULL};
        return sub->run(2, help_argv);
    }
    const Subcommand *sub = find_subcommand(name);
    if (!sub) {
        fprintf(stderr, "longscan: unknown command '%s'; see 'longscan --help'\n", name);
        return 2;
    }
    return sub->run(argc - 1, argv + 1);
}
