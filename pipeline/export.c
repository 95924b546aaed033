/*
 * export.c — `longscan export -m MODEL -o OUT`: a model as a Hugging Face transformers
 * directory (config.json + model.safetensors that MambaForCausalLM.from_pretrained loads), or,
 * the other way, a transformers directory as a longscan model file (OUT ending in
 * .safetensors). The mapping is models/hf.h's, the directory handling pipeline/hf.h's.
 * Tested by tests/py/test_hf_export.py and tests/cli/hf.tst.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "models/hf.h"
#include "pipeline/checkpoint.h"
#include "pipeline/cli.h"
#include "pipeline/commands.h"
#include "pipeline/hf.h"

enum { OPT_FORCE = CLI_OPT_FIRST_COMMAND_OPTION };

static void usage(FILE *fp) {
    fprintf(fp,
"Usage: longscan export -m MODEL -o OUT [--force]\n"
"\n"
"Write a model in another format, nothing else changed: the same weights (F32), the same\n"
"numbers. MODEL is a longscan model file (MODEL.safetensors) or a transformers directory.\n"
"\n"
"  OUT a directory (any name not ending in .safetensors): a Hugging Face transformers\n"
"      Mamba model, config.json + model.safetensors, for\n"
"          MambaForCausalLM.from_pretrained(OUT)      (a causal language model)\n"
"          MambaModel.from_pretrained(OUT)            (a classifier's backbone; its head\n"
"                                                      stays in model.safetensors as\n"
"                                                      classifier.weight/.bias, unused by\n"
"                                                      transformers, which says so)\n"
"      config.json's \"longscan\" object keeps what transformers has no key for: the task,\n"
"      pooling and class names of a classifier and how inputs are encoded, so that\n"
"      'longscan score -m OUT' (and eval, predict, embed) read it back as it was.\n"
"      Only a causal Mamba (--model mamba) with RMSNorm on tokens has a transformers class;\n"
"      bimamba, transformer and waveform-input models are refused.\n"
"  OUT.safetensors: a longscan model file (MODEL is then usually a transformers directory).\n"
"\n"
"OUT appears whole or not at all (written beside it, fsync'd, renamed into place). An\n"
"existing OUT is refused unless --force; even then a directory is replaced only when it\n"
"holds nothing but the files export writes (config.json, generation_config.json,\n"
"model.safetensors, its index and shards).\n"
"\n"
"Options:\n"
"  -m, --model MODEL      the model to export (required)\n"
"  -o, --output OUT       the directory or .safetensors file to write (required)\n"
"  -f, --force            replace an existing OUT (rules above)\n"
"      --verbosity N      0 errors only, 1 warnings (default), 2 info, 3 debug\n"
"  -h, --help             show this help and exit\n"
"\n"
"The name mapping both ways, and what cannot be mapped: docs/checkpoints.md.\n"
"\n"
"Examples:\n"
"  longscan export -m dna_lm.safetensors -o dna_lm_hf\n"
"  python3 -c 'import transformers as t; t.MambaForCausalLM.from_pretrained(\"dna_lm_hf\")'\n"
"  longscan score -m dna_lm_hf --tsv chr21.fa.gz > chr21.tsv\n"
"  longscan export -m some_hf_mamba_dir -o model.safetensors\n");
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int main_export(int argc, char **argv) {
    static const struct option long_options[] = {
        {"model", required_argument, NULL, 'm'},
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"verbosity", required_argument, NULL, CLI_OPT_VERBOSITY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    CommonOptions common;
    cli_common_default(&common);
    const char *model = NULL, *output = NULL;
    int force = 0, c;
    ModelFile mf = {0};
    int status = 0;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "m:o:fh", long_options, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'o': output = optarg; break;
        case 'f': force = 1; break;
        case 'h': usage(stdout); return EXIT_OK;
        case CLI_OPT_VERBOSITY: status = cli_common_parse(c, optarg, &common); break;
        default:
            return cli_usage_error("export", "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
        if (status < 0) return cli_fail("export", status);
    }
    if (optind < argc)
        return cli_usage_error("export", "unexpected argument '%s'", argv[optind]);
    if (!model || !output) {
        ls_error(LS_ERR_USAGE, "give the model and where to write it: -m MODEL -o OUT");
        return cli_fail("export", LS_ERR_USAGE);
    }
    if (strcmp(output, "-") == 0) {
        ls_error(LS_ERR_USAGE, "-o -: export writes a directory or a file, not stdout");
        return cli_fail("export", LS_ERR_USAGE);
    }
    cli_common_apply(&common);
    struct stat st;
    int to_file = ends_with(output, ".safetensors") && !model_hf_is_dir(output);
    if (to_file && !force && stat(output, &st) == 0) {
        status = ls_error(LS_ERR_USAGE, "%s: exists (give --force to replace it)", output);
        goto fail;
    }
    if (!to_file) { /* refuse before the (possibly long) load */
        status = model_hf_is_dir(output) || stat(output, &st) != 0 ? 0
                 : ls_error(LS_ERR_USAGE, "%s: exists and is not a directory", output);
        if (status < 0) goto fail;
    }
    if ((status = checkpoint_open(&mf, model, &common.device)) < 0) goto fail;
    if (to_file)
        status = checkpoint_save(mf.model, output, mf.labels, &mf.data, NULL, NULL);
    else
        status = hf_dir_write(&mf, output, force);
fail:
    checkpoint_close(&mf);
    return status < 0 ? cli_fail("export", status) : EXIT_OK;
}
