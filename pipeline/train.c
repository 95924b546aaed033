/*
 * train.c — `longscan train`: options, the resume rule for the command line, and the call
 * into the training loop (pipeline/trainer.c, which holds the data order, the step and the
 * checkpoints). Tested by tests/cli/train.tst.
 */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/utf8.h"
#include "pipeline/checkpoint.h"
#include "pipeline/cli.h"
#include "pipeline/commands.h"
#include "pipeline/trainer.h"

enum {
    OPT_TASK = CLI_OPT_FIRST_COMMAND_OPTION,
    OPT_MODEL, OPT_DATA, OPT_LABELS, OPT_CLASS, OPT_VALID, OPT_VALID_LABELS, OPT_VALID_FRACTION,
    OPT_D_MODEL, OPT_LAYERS, OPT_D_STATE, OPT_EXPAND, OPT_HEADS, OPT_MLP_HIDDEN, OPT_WINDOW,
    OPT_FRAME, OPT_POOL,
    OPT_NORM, OPT_RC, OPT_ATTN_LAYERS, OPT_ATTN_EVERY,
    OPT_SEQ_LEN, OPT_BALANCED, OPT_SOFTMASK, OPT_SAMPLE_RATE, OPT_AUDIO_CODES, OPT_INPUT,
    OPT_AUGMENT,
    OPT_EPOCHS, OPT_STEPS, OPT_MINUTES, OPT_BATCH_SIZE, OPT_MAX_TOKENS,
    OPT_LR, OPT_MIN_LR, OPT_WARMUP, OPT_WEIGHT_DECAY, OPT_DROPOUT, OPT_CLIP, OPT_BETA1,
    OPT_BETA2, OPT_GRAD_CHECKPOINT,
    OPT_EVAL_EVERY, OPT_VALID_WINDOWS, OPT_SAVE_EVERY, OPT_STOP_AFTER, OPT_PRINT_EVERY,
    OPT_REFERENCE, OPT_PACK, OPT_NO_BUCKET,
    OPT_PROGRESS, OPT_LOG, OPT_RESUME, OPT_GPUS, OPT_CPU_RANKS, OPT_RENDEZVOUS, OPT_SEQ_PARALLEL,
};

static void usage(FILE *fp) {
    fprintf(fp,
"Usage: longscan train --task classify|lm --model mamba|bimamba|transformer --data SEQS\n"
"                      [options] -o MODEL.safetensors\n"
"       longscan train --resume MODEL.safetensors\n"
"\n"
"Train a sequence classifier or a next-token language model on DNA or raw audio, on whole\n"
"sequences (never truncated) or on random windows of long references, and write a\n"
"safetensors checkpoint holding the weights, the model configuration, the label map, how\n"
"inputs are encoded and the training configuration. The effective configuration is printed\n"
"as a table on stderr at start; progress follows (a bar on a terminal, plain lines\n"
"otherwise), with validation lines.\n"
"\n"
"Data (SEQS: FASTA/FASTQ/SAM/BAM/CRAM file, FILE:REGION, audio file, directory of class\n"
"sub-directories or of files, or a manifest .tsv; see 'Inputs' below; or a synthetic task,\n"
"synth:TASK,key=value,... — mqar, induction, selective-copy, copy, recall — trained with\n"
"--task lm on its target tokens only; docs/synth.md):\n"
"      --task TASK        classify (default) or lm (next-token language model)\n"
"      --data SEQS        training input (repeatable; extra arguments are taken as --data)\n"
"      --labels TSV       'name<TAB>label' table for the records or files of --data\n"
"      --class LABEL=SEQS every example of SEQS has LABEL (repeatable)\n"
"      --reference FASTA  reference (with .fai) for CRAM and for SAM/BAM bases written '='\n"
"      --valid SEQS       validation input (repeatable); labels from its own sources or\n"
"      --valid-labels TSV   this table; its labels must occur in the training data\n"
"      --valid-fraction F without --valid: hold out this share of the examples of each\n"
"                         label (by a hash of the record name and --seed; default 0).\n"
"                         A manifest's split column is used as given.\n"
"      --seq-len L        train on random windows of L tokens drawn from the examples at\n"
"                         least L long (species tasks on long references); validation\n"
"                         then uses non-overlapping windows of L. Default: whole sequences\n"
"      --balanced         with --seq-len: draw the label first, uniformly\n"
"      --valid-windows N  with --seq-len: at most N validation windows per example, evenly\n"
"                         spread (default: all)\n"
"      --softmask RULE    DNA lower case: upper (default, same as upper case) or n\n"
"      --sample-rate HZ   audio: resample every file to HZ (default: the files' own rate,\n"
"                         which must then be one rate)\n"
"      --audio-codes C    audio tokens: mulaw8 (default) or linear8 (8-bit codes, 256 ids)\n"
"      --input KIND       audio: tokens (codes) or waveform (float samples in frames);\n"
"                         default waveform for classification, tokens for lm\n"
"      --augment LIST     change every training batch at random (validation never):\n"
"                         DNA: rc (reverse complement, probability 1/2), shift=N (whole\n"
"                         sequences: crop 0..N bases in all from the two ends); waveform\n"
"                         audio: speed=PCT (resample by a factor within 1 +- PCT %%, linear\n"
"                         interpolation, pitch changes too), shift=MS (circular, within\n"
"                         +-MS ms), gain=DB (within +-DB), noise=SNR (white noise at SNR\n"
"                         to SNR+20 dB). Comma-separated, e.g. rc,shift=3 or\n"
"                         speed=10,shift=50,gain=6,noise=20 (default none). Random draws\n"
"                         depend on --seed, the step and the row only (docs/augment.md)\n"
"\n"
"Model:\n"
"      --model ARCH       mamba (causal), bimamba (bidirectional; classification only),\n"
"                         transformer, or hybrid (Mamba layers with Transformer blocks in\n"
"                         some, Jamba-style) (default: bimamba to classify, mamba for lm)\n"
"      --d-model N        width (default 128)\n"
"      --layers N         blocks (default 4)\n"
"      --d-state N        Mamba state size (default 16)\n"
"      --expand N         Mamba inner width factor (default 2)\n"
"      --heads N          transformer and hybrid attention heads (default 4)\n"
"      --mlp-hidden N     transformer and hybrid: hidden width of the MLP after each\n"
"                         attention (default 4·d-model); 0: none, attention-only blocks,\n"
"                         the Transformer of the essays' MQAR table (Zoology), which\n"
"                         learns associative recall where one with MLPs does not in a\n"
"                         CPU budget (docs/synth.md)\n"
"      --attn-layers LIST hybrid: the layers (0-based, comma-separated) that are attention\n"
"                         blocks, e.g. 2,5; the others are Mamba layers\n"
"      --attn-every K     hybrid: an attention block in the middle of every K layers\n"
"                         (layers i with i %% K == K/2; default K = --layers: one, in the\n"
"                         middle)\n"
"      --window W         transformer only: it reads at most W tokens of a sequence (a\n"
"                         random window in training, the centre one in evaluation;\n"
"                         default 4096)\n"
"      --frame N          waveform input: samples per frame (default 80, 10 ms at 8 kHz)\n"
"      --pool P           classification pooling: mean (default), last or first\n"
"      --norm N           rms (default) or layer\n"
"      --rc-equivariant   bimamba on DNA: reverse-complement parameter sharing\n"
"\n"
"Length, batches and optimizer (AdamW, linear warm-up then cosine decay to --min-lr):\n"
"      --epochs E         passes over the training data (default 10)\n"
"      --steps S          optimizer steps instead of epochs\n"
"      --minutes M        alone: the run takes 90-100 %% of M minutes (loading included):\n"
"                         its steps are estimated from trial steps, then planned again from\n"
"                         the run's own speed, the schedule always ending with the run;\n"
"                         resumed, it plans in what is left of M. With --epochs/--steps: a\n"
"                         time limit after which the run stops, saving its state for --resume\n"
"      --batch-size N     sequences (or windows) per step (default 16)\n"
"      --max-tokens N     at most N padded tokens per step (default: no limit); sequences\n"
"                         are bucketed by length, and one longer than N is an error\n"
"      --pack             lay each batch's sequences end to end in rows as long as its\n"
"                         longest, so short ones carry no padding: the same batches, the same\n"
"                         results within fp32 rounding, fewer positions computed (Mamba\n"
"                         models; docs/models.md \"Packed batches\")\n"
"      --no-bucket        batches of random sequences, not of similar lengths (the default\n"
"                         sorts by length to save padding; --pack removes most of it)\n"
"      --lr X             peak learning rate (default 1e-3)\n"
"      --min-lr X         final learning rate (default lr/10)\n"
"      --warmup N         warm-up steps (default 5%% of the steps)\n"
"      --weight-decay X   AdamW decay of weight matrices (default 0.1; norms, biases,\n"
"                         A_log, D and embeddings are not decayed)\n"
"      --dropout P        training dropout: each value of every block's output (Mamba\n"
"                         mixer, both directions of bimamba, attention, MLP) is zeroed with\n"
"                         probability P before it joins the residual stream, the kept ones\n"
"                         scaled by 1/(1-P), and so are a classifier's pooled features\n"
"                         before its head (0 <= P < 1; default 0: none). Evaluation and\n"
"                         the other commands never drop. The masks follow from --seed and\n"
"                         the step: the same on CPU and GPU, and again on --resume\n"
"      --grad-checkpoint K  keep only every K-th layer's input (and the head's) for the\n"
"                         backward, recomputing the others from them: one more forward a\n"
"                         step of each layer not first in its group of K (the top group\n"
"                         excepted), the same results byte for byte. The residual\n"
"                         stream's (layers+1) copies of L*d_model floats a row fall to\n"
"                         ceil(layers/K) + min(K, layers); least near K = sqrt(layers)\n"
"                         (default 1: every input kept; docs/models.md \"Memory\")\n"
"      --clip X           clip the global gradient norm to X (default 1; 0: off)\n"
"      --beta1 X, --beta2 X   AdamW moments (default 0.9, 0.999)\n"
"\n"
"Data parallel (docs/parallel.md \"Data parallel\"):\n"
"      --gpus N           train on N GPUs of this host: N processes, rank r on cuda:r\n"
"                         (CUDA_VISIBLE_DEVICES picks which), gradients summed through\n"
"                         NCCL (libnccl.so.2, or PyTorch's nvidia-nccl wheel; found at run\n"
"                         time). Each rank trains 1/N of every batch: --batch-size stays the\n"
"                         global batch and must be a multiple of N; the loss is the one\n"
"                         process's mean over the global batch (the same curve within fp32\n"
"                         rounding). Rank 0 alone prints, logs, validates and writes\n"
"      --cpu-ranks N      the same with N processes on the CPU (the cores shared among\n"
"                         them; sums in rank order, so runs repeat exactly): to check the\n"
"                         parallel path without GPUs\n"
"      --rendezvous DIR   under Open MPI's 'mpirun -np N longscan train ...' (rank and size\n"
"                         from OMPI_COMM_WORLD_*; rank r on cuda:LOCAL_RANK, or the CPU\n"
"                         with --device cpu): a folder every rank sees, where rank 0 leaves\n"
"                         NCCL's id (or the CPU ranks' shared memory) for the others\n"
"      --seq-parallel     with --gpus N, --cpu-ranks N or mpirun: sequence parallel instead\n"
"                         (docs/parallel.md \"Sequence parallel across ranks\"): rank r\n"
"                         holds and runs only slice r of every row's L positions (its\n"
"                         activations divided by N; conv halos, scan states and the head's\n"
"                         sums exchanged); the same run as one process within fp32\n"
"                         rounding. Mamba and bimamba only (not RC-equivariant, waveform or\n"
"                         --dropout); each row needs L >= N*(d_conv-1); not with --seq-slices\n"
"\n"
"Validation, checkpoints, progress:\n"
"  -o, --output FILE      the model checkpoint (required); FILE.state.safetensors beside it\n"
"                         holds the training state, FILE.best.safetensors the weights with\n"
"                         the lowest validation loss (for FILE = X.safetensors the names\n"
"                         are X.state.safetensors and X.best.safetensors; a FILE ending in\n"
"                         .state.safetensors is refused, since model and state would be\n"
"                         one file). Before any work every output is checked: it can be\n"
"                         created, and it is none of the inputs (exit 2). Files appear\n"
"                         only complete (a unique temporary in the folder, synced,\n"
"                         renamed; no other file is touched), the state before the model,\n"
"                         so a model never lacks the state that continues it. A failing\n"
"                         run writes nothing\n"
"      --eval-every N     validate every N steps (default: after each epoch, and at the end)\n"
"      --save-every N     write the checkpoint and state every N steps (default: at the end,\n"
"                         and when stopped by SIGINT/SIGTERM or a limit)\n"
"      --resume FILE      continue the run of FILE (its model or .state.safetensors file):\n"
"                         same weights at the end as a run never stopped. Alone, it repeats\n"
"                         the recorded command line; other options given must agree with it,\n"
"                         and the data must be the same (a digest of every example's bases\n"
"                         or samples and label, in order, is kept in the state)\n"
"      --stop-after N     stop after step N as if interrupted (state saved; for testing)\n"
"      --log FILE         one CSV row per step: step, epoch, loss, lr, grad_norm, tokens,\n"
"                         tokens_per_s, elapsed_s, the validation numbers and peak_gpu_gib\n"
"                         (the GPU memory held so far; the end of the run prints it too)\n"
"      --print-every N    plain progress: a line every N steps (default: 20 lines per run)\n"
"      --progress MODE    bar or plain (default: bar on a terminal)\n"
"      --device DEV       auto, cpu, cuda or cuda:N (default auto: the first GPU when one is\n"
"                         visible, else the CPU); the config table says which\n"
CLI_MODEL_HELP
"      --threads N        CPU threads (default: all cores; results do not depend on it)\n"
"      --seed N           random seed of initialisation, data order and splits (default 1)\n"
"      --verbosity N      0 errors only, 1 table and progress (default), 2 info, 3 debug\n"
"  -h, --help             show this help and exit\n"
"\n"
"Inputs. A label comes from, in order: --class, a class directory (train/<label>/<files>), a\n"
"manifest column ('source<TAB>label<TAB>split', relative paths from the manifest's folder),\n"
"or --labels by record name (FASTA/FASTQ/BAM) or file path (audio). Label ids follow the\n"
"sorted label order (numeric when all labels are integers). Every example of a classifier\n"
"needs a label; unknown labels in --valid are errors.\n"
"\n"
"Resume. Training state (AdamW moments, step, random generator states, position in the\n"
"data, data digest) goes to MODEL.state.safetensors (format longscan-train-state, version\n"
"%s); the weights in it make it self-sufficient. Exit status 130 after saving on\n"
"SIGINT/SIGTERM. A loss or gradient norm that is not a number stops the run with an error\n"
"(nothing is saved at that step); a checkpoint or state holding NaN or Inf is refused.\n"
"\n"
"Examples:\n"
"  longscan train --task classify --model bimamba --data train.fa.gz --labels train.tsv \\\n"
"      --valid-fraction 0.1 --d-model 64 --layers 2 --epochs 5 -o species.safetensors\n"
"  longscan train --task classify --class human=hs_chr21.fa.gz --class mouse=mm_chr16.fa.gz \\\n"
"      --seq-len 4096 --balanced --steps 2000 -o species.safetensors\n"
"  longscan train --task lm --model mamba --data audio/ --sample-rate 8000 --seq-len 8000 \\\n"
"      --minutes 30 --save-every 500 -o audio_lm.safetensors\n"
"  longscan train --resume audio_lm.safetensors\n",
            TRAIN_STATE_VERSION);
}

// ---------------------------------------------------------------------------- command line

/* The command line as a JSON array, without the options that only steer this invocation
 * (--resume, --stop-after), so `--resume` alone can repeat it. */
static int argv_to_json(int argc, char **argv, char **json) {
    /* the command line is saved as JSON text in the state (and its paths in the model's
     * training record), which must be UTF-8: refused now rather than at the first save */
    for (int i = 0; i < argc; i++) {
        if (utf8_valid(argv[i])) continue;
        char shown[256];
        return ls_error(LS_ERR_USAGE, "argument '%s' is not valid UTF-8; train records its "
                        "command line in the checkpoint as text (for --resume), so rename "
                        "the file", utf8_escape(shown, sizeof shown, argv[i]));
    }
    cJSON *a = cJSON_CreateArray();
    if (!a) return ls_error(LS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--resume") == 0 || strcmp(argv[i], "--stop-after") == 0) {
            i++;
            continue;
        }
        if (strncmp(argv[i], "--resume=", 9) == 0 || strncmp(argv[i], "--stop-after=", 13) == 0)
            continue;
        cJSON_AddItemToArray(a, cJSON_CreateString(argv[i]));
    }
    char *text = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    *json = text ? strdup(text) : NULL;
    cJSON_free(text);
    return *json ? 0 : ls_error(LS_ERR_NOMEM, "out of memory");
}

typedef struct {
    const char **train_sources, **train_classes, **valid_sources;
} SourceLists;

static int parse_choice(const char *option, const char *arg, const char *const *names, int n,
                        int *out) {
    for (int i = 0; i < n; i++) {
        if (strcmp(arg, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    char expected[128] = "";
    for (int i = 0; i < n; i++)
        snprintf(expected + strlen(expected), sizeof expected - strlen(expected), "%s%s",
                 i ? (i == n - 1 ? " or " : ", ") : "", names[i]);
    return ls_error(LS_ERR_USAGE, "%s %s: expected %s", option, arg, expected);
}

/* Parse argv into opt (sources point into argv). @return 0, 1 for --help, < 0 on error. */
static int parse_args(int argc, char **argv, TrainOptions *opt, SourceLists *lists) {
    static const struct option long_options[] = {
        {"task", required_argument, NULL, OPT_TASK},
        {"model", required_argument, NULL, OPT_MODEL},
        {"data", required_argument, NULL, OPT_DATA},
        {"labels", required_argument, NULL, OPT_LABELS},
        {"class", required_argument, NULL, OPT_CLASS},
        {"valid", required_argument, NULL, OPT_VALID},
        {"valid-labels", required_argument, NULL, OPT_VALID_LABELS},
        {"valid-fraction", required_argument, NULL, OPT_VALID_FRACTION},
        {"reference", required_argument, NULL, OPT_REFERENCE},
        {"d-model", required_argument, NULL, OPT_D_MODEL},
        {"layers", required_argument, NULL, OPT_LAYERS},
        {"d-state", required_argument, NULL, OPT_D_STATE},
        {"expand", required_argument, NULL, OPT_EXPAND},
        {"heads", required_argument, NULL, OPT_HEADS},
        {"mlp-hidden", required_argument, NULL, OPT_MLP_HIDDEN},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"frame", required_argument, NULL, OPT_FRAME},
        {"pool", required_argument, NULL, OPT_POOL},
        {"norm", required_argument, NULL, OPT_NORM},
        {"rc-equivariant", no_argument, NULL, OPT_RC},
        {"attn-layers", required_argument, NULL, OPT_ATTN_LAYERS},
        {"attn-every", required_argument, NULL, OPT_ATTN_EVERY},
        {"seq-len", required_argument, NULL, OPT_SEQ_LEN},
        {"balanced", no_argument, NULL, OPT_BALANCED},
        {"softmask", required_argument, NULL, OPT_SOFTMASK},
        {"sample-rate", required_argument, NULL, OPT_SAMPLE_RATE},
        {"audio-codes", required_argument, NULL, OPT_AUDIO_CODES},
        {"input", required_argument, NULL, OPT_INPUT},
        {"epochs", required_argument, NULL, OPT_EPOCHS},
        {"steps", required_argument, NULL, OPT_STEPS},
        {"minutes", required_argument, NULL, OPT_MINUTES},
        {"batch-size", required_argument, NULL, OPT_BATCH_SIZE},
        {"max-tokens", required_argument, NULL, OPT_MAX_TOKENS},
        {"pack", no_argument, NULL, OPT_PACK},
        {"no-bucket", no_argument, NULL, OPT_NO_BUCKET},
        {"lr", required_argument, NULL, OPT_LR},
        {"min-lr", required_argument, NULL, OPT_MIN_LR},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"weight-decay", required_argument, NULL, OPT_WEIGHT_DECAY},
        {"dropout", required_argument, NULL, OPT_DROPOUT},
        {"grad-checkpoint", required_argument, NULL, OPT_GRAD_CHECKPOINT},
        {"clip", required_argument, NULL, OPT_CLIP},
        {"beta1", required_argument, NULL, OPT_BETA1},
        {"beta2", required_argument, NULL, OPT_BETA2},
        {"eval-every", required_argument, NULL, OPT_EVAL_EVERY},
        {"valid-windows", required_argument, NULL, OPT_VALID_WINDOWS},
        {"save-every", required_argument, NULL, OPT_SAVE_EVERY},
        {"stop-after", required_argument, NULL, OPT_STOP_AFTER},
        {"print-every", required_argument, NULL, OPT_PRINT_EVERY},
        {"progress", required_argument, NULL, OPT_PROGRESS},
        {"log", required_argument, NULL, OPT_LOG},
        {"resume", required_argument, NULL, OPT_RESUME},
        {"gpus", required_argument, NULL, OPT_GPUS},
        {"cpu-ranks", required_argument, NULL, OPT_CPU_RANKS},
        {"rendezvous", required_argument, NULL, OPT_RENDEZVOUS},
        {"seq-parallel", no_argument, NULL, OPT_SEQ_PARALLEL},
        {"augment", required_argument, NULL, OPT_AUGMENT},
        CLI_COMMON_LONG_OPTIONS,
        CLI_MODEL_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    static const char *const tasks[] = {"classify", "lm"};
    static const char *const pools[] = {"mean", "last", "first"};
    static const char *const norms[] = {"rms", "layer"};
    static const char *const masks[] = {"upper", "n"};
    static const char *const inputs[] = {"auto", "tokens", "waveform"};
    static const char *const progress[] = {"plain", "bar"};
    trainer_options_default(opt);
    opt->train.sources = lists->train_sources;
    opt->train.classes = lists->train_classes;
    opt->valid.sources = lists->valid_sources;
    int c, status = 0, choice;
    double minutes = 0;
    opterr = 0;
    optind = 0; /* full re-initialisation: the command line may be parsed twice */
    while ((c = getopt_long(argc, argv, "o:h", long_options, NULL)) != -1) {
        status = cli_common_parse(c, optarg, &opt->common);
        if (status < 0) return status;
        if (status == 1) continue;
        status = 0;
        switch (c) {
        case 'h': return 1;
        case OPT_TASK:
            status = parse_choice("--task", optarg, tasks, 2, &choice);
            opt->task = (ModelTask)choice;
            break;
        case OPT_MODEL: {
            ModelArch arch;
            if (model_arch_parse(optarg, &arch) < 0)
                status = ls_error(LS_ERR_USAGE, "--model %s: expected mamba, bimamba, "
                                  "transformer or hybrid", optarg);
            else opt->arch = (int)arch;
            break;
        }
        case OPT_DATA: opt->train.sources[opt->train.n_sources++] = optarg; break;
        case OPT_LABELS: opt->train.labels = optarg; break;
        case OPT_CLASS: opt->train.classes[opt->train.n_classes++] = optarg; break;
        case OPT_VALID: opt->valid.sources[opt->valid.n_sources++] = optarg; break;
        case OPT_VALID_LABELS: opt->valid.labels = optarg; break;
        case OPT_REFERENCE: opt->train.reference = opt->valid.reference = optarg; break;
        case OPT_VALID_FRACTION:
            status = cli_parse_double("--valid-fraction", optarg, 0, 0.9, &opt->valid_fraction);
            break;
        case OPT_D_MODEL:
            status = cli_parse_int64("--d-model", optarg, 1, 65536, &opt->d_model);
            break;
        case OPT_LAYERS:
            status = cli_parse_int64("--layers", optarg, 1, 1024, &opt->n_layers);
            break;
        case OPT_D_STATE:
            status = cli_parse_int64("--d-state", optarg, 1, 1024, &opt->d_state);
            break;
        case OPT_EXPAND: status = cli_parse_int64("--expand", optarg, 1, 64, &opt->expand); break;
        case OPT_HEADS: status = cli_parse_int64("--heads", optarg, 1, 1024, &opt->n_heads); break;
        case OPT_MLP_HIDDEN:
            status = cli_parse_int64("--mlp-hidden", optarg, 0, 1048576, &opt->mlp_hidden);
            break;
        case OPT_WINDOW:
            status = cli_parse_int64("--window", optarg, 1, INT64_MAX / 2, &opt->window);
            break;
        case OPT_FRAME: status = cli_parse_int64("--frame", optarg, 1, 1000000, &opt->frame); break;
        case OPT_POOL:
            status = parse_choice("--pool", optarg, pools, 3, &opt->pool);
            break;
        case OPT_NORM: status = parse_choice("--norm", optarg, norms, 2, &opt->norm); break;
        case OPT_RC: opt->rc_equivariant = 1; break;
        case OPT_ATTN_LAYERS: opt->attn_layers = optarg; break;
        case OPT_ATTN_EVERY:
            status = cli_parse_int64("--attn-every", optarg, 1, 1024, &opt->attn_every);
            break;
        case OPT_SEQ_LEN:
            status = cli_parse_int64("--seq-len", optarg, 1, INT64_MAX / 2, &opt->seq_len);
            break;
        case OPT_BALANCED: opt->balanced = 1; break;
        case OPT_SOFTMASK:
            status = parse_choice("--softmask", optarg, masks, 2, &choice);
            opt->softmask = (DnaSoftmask)choice;
            break;
        case OPT_SAMPLE_RATE:
            status = cli_parse_int("--sample-rate", optarg, 1, 1000000, &opt->sample_rate);
            break;
        case OPT_AUDIO_CODES: {
            AudioCodes codes;
            status = checkpoint_audio_codes_parse("--audio-codes", optarg, &codes);
            opt->audio_codes = (int)codes;
            break;
        }
        case OPT_INPUT:
            status = parse_choice("--input", optarg, inputs, 3, &choice);
            opt->input = (TrainInput)choice;
            break;
        case OPT_AUGMENT: status = augment_parse(optarg, &opt->augment); break;
        case OPT_EPOCHS:
            status = cli_parse_int64("--epochs", optarg, 1, 1000000000, &opt->epochs);
            break;
        case OPT_STEPS:
            status = cli_parse_int64("--steps", optarg, 1, INT64_MAX / 2, &opt->steps);
            break;
        case OPT_MINUTES:
            status = cli_parse_double("--minutes", optarg, 1e-3, 1e7, &minutes);
            opt->minutes = minutes;
            break;
        case OPT_BATCH_SIZE:
            status = cli_parse_int64("--batch-size", optarg, 1, 1000000, &opt->batch_size);
            break;
        case OPT_PACK: opt->pack = 1; break;
        case OPT_NO_BUCKET: opt->no_bucket = 1; break;
        case OPT_MAX_TOKENS:
            status = cli_parse_int64("--max-tokens", optarg, 1, INT64_MAX / 2, &opt->max_tokens);
            break;
        case OPT_LR:
            status = cli_parse_double("--lr", optarg, 1e-12, 10, &opt->lr);
            break;
        case OPT_MIN_LR: status = cli_parse_double("--min-lr", optarg, 0, 10, &opt->min_lr); break;
        case OPT_WARMUP:
            status = cli_parse_int64("--warmup", optarg, 0, INT64_MAX / 2, &opt->warmup);
            break;
        case OPT_WEIGHT_DECAY:
            status = cli_parse_double("--weight-decay", optarg, 0, 10, &opt->weight_decay);
            break;
        case OPT_DROPOUT: // 1 is refused: a site that drops everything has no scale
            status = cli_parse_double("--dropout", optarg, -DBL_MAX, DBL_MAX, &opt->dropout);
            if (status == 0 && !(opt->dropout >= 0 && opt->dropout < 1))
                status = ls_error(LS_ERR_USAGE, "--dropout %s: must be at least 0 and below 1",
                                  optarg);
            break;
        case OPT_GRAD_CHECKPOINT: // above n_layers: only the first input is kept
            status = cli_parse_int64("--grad-checkpoint", optarg, INT64_MIN, INT64_MAX / 2,
                                     &opt->grad_checkpoint);
            if (status == 0 && opt->grad_checkpoint < 1)
                status = ls_error(LS_ERR_USAGE, "--grad-checkpoint %s: must be at least 1 (1 "
                                  "keeps every layer's input)", optarg);
            break;
        case OPT_CLIP: status = cli_parse_double("--clip", optarg, 0, 1e9, &opt->clip); break;
        case OPT_BETA1:
            status = cli_parse_double("--beta1", optarg, 0, 0.999999, &opt->beta1);
            break;
        case OPT_BETA2:
            status = cli_parse_double("--beta2", optarg, 0, 0.999999999, &opt->beta2);
            break;
        case OPT_EVAL_EVERY:
            status = cli_parse_int64("--eval-every", optarg, 1, INT64_MAX / 2, &opt->eval_every);
            break;
        case OPT_VALID_WINDOWS:
            status = cli_parse_int64("--valid-windows", optarg, 1, INT64_MAX / 2,
                                     &opt->valid_windows);
            break;
        case OPT_SAVE_EVERY:
            status = cli_parse_int64("--save-every", optarg, 1, INT64_MAX / 2, &opt->save_every);
            break;
        case OPT_STOP_AFTER:
            status = cli_parse_int64("--stop-after", optarg, 1, INT64_MAX / 2, &opt->stop_after);
            break;
        case OPT_PRINT_EVERY:
            status = cli_parse_int64("--print-every", optarg, 1, INT64_MAX / 2,
                                     &opt->print_every);
            break;
        case OPT_PROGRESS:
            status = parse_choice("--progress", optarg, progress, 2, &opt->progress);
            break;
        case OPT_LOG: opt->log_path = optarg; break;
        case OPT_RESUME: opt->resume = optarg; break;
        case OPT_GPUS: status = cli_parse_int("--gpus", optarg, 1, 1024, &opt->gpus); break;
        case OPT_CPU_RANKS:
            status = cli_parse_int("--cpu-ranks", optarg, 1, 1024, &opt->cpu_ranks);
            break;
        case OPT_RENDEZVOUS: opt->rendezvous = optarg; break;
        case OPT_SEQ_PARALLEL: opt->seq_parallel = 1; break;
        default:
            return ls_error(LS_ERR_USAGE, "unknown or incomplete option '%s'; see 'longscan "
                            "train --help'", argv[optind - 1]);
        }
        if (status < 0) return status;
    }
    for (int i = optind; i < argc; i++) opt->train.sources[opt->train.n_sources++] = argv[i];
    return 0;
}

/* Checks between options, after parsing. */
static int check_args(TrainOptions *opt) {
    if (opt->seq_parallel && !train_parallel_wanted(opt))
        return ls_error(LS_ERR_USAGE, "--seq-parallel cuts each row across ranks: give "
                        "--gpus N or --cpu-ranks N (or start the ranks with mpirun)");
    if (opt->epochs > 0 && opt->steps > 0)
        return ls_error(LS_ERR_USAGE, "--epochs and --steps: give one of them");
    if (opt->epochs == 0 && opt->steps == 0 && opt->minutes == 0) opt->epochs = 10;
    if (opt->train.n_sources + opt->train.n_classes == 0)
        return ls_error(LS_ERR_USAGE, "no training data: give --data SEQS (or --class "
                        "LABEL=SEQS); see 'longscan train --help'");
    if (!opt->common.output)
        return ls_error(LS_ERR_USAGE, "no output: give -o MODEL.safetensors");
    if (opt->valid.labels && opt->valid.n_sources == 0)
        return ls_error(LS_ERR_USAGE, "--valid-labels without --valid");
    if (opt->valid.n_sources > 0 && opt->valid_fraction > 0)
        return ls_error(LS_ERR_USAGE, "--valid and --valid-fraction: give one of them");
    if (opt->balanced && opt->seq_len == 0)
        return ls_error(LS_ERR_USAGE, "--balanced needs --seq-len (it balances windows)");
    if (opt->valid_windows > 0 && opt->seq_len == 0)
        return ls_error(LS_ERR_USAGE, "--valid-windows needs --seq-len");
    if (opt->task == MODEL_TASK_LM && (opt->train.labels || opt->train.n_classes))
        return ls_error(LS_ERR_USAGE, "--%s: a language model takes no labels",
                        opt->train.labels ? "labels" : "class");
    if (opt->min_lr > opt->lr)
        return ls_error(LS_ERR_USAGE, "--min-lr %g is above --lr %g", opt->min_lr, opt->lr);
    return 0;
}

/* The recorded command line of a state file followed by this one's arguments. */
static int resume_argv(const char *resume, int argc, char **argv, char ***out, int *out_argc) {
    char *state_path = checkpoint_state_path(resume), *json = NULL;
    cJSON *a = NULL;
    int status = state_path ? checkpoint_state_peek(state_path, &json, NULL)
                            : ls_error(LS_ERR_NOMEM, "out of memory");
    if (status < 0) goto fail;
    a = cJSON_Parse(json);
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
    if (n < 1) {
        status = ls_error(LS_ERR_FORMAT, "%s: metadata 'argv' is not a command line",
                          state_path);
        goto fail;
    }
    char **v = calloc((size_t)(n + argc + 1), sizeof *v);
    if (!v) {
        status = ls_error(LS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        const cJSON *s = cJSON_GetArrayItem(a, i);
        v[k++] = strdup(cJSON_IsString(s) ? s->valuestring : "");
    }
    for (int i = 1; i < argc; i++) v[k++] = strdup(argv[i]);
    for (int i = 0; i < k; i++) {
        if (!v[i]) {
            for (int j = 0; j < k; j++) free(v[j]);
            free(v);
            status = ls_error(LS_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    *out = v;
    *out_argc = k;
fail:
    cJSON_Delete(a);
    free(json);
    free(state_path);
    return status;
}

int main_train(int argc, char **argv) {
    TrainOptions opt;
    SourceLists lists = {0};
    char **resumed = NULL, *argv_json = NULL, **copy = NULL;
    int resumed_argc = 0, status;
    /* getopt permutes argv: keep the order as typed for the record */
    copy = malloc((size_t)(argc + 1) * sizeof *copy);
    if (!copy) return cli_fail("train", ls_error(LS_ERR_NOMEM, "out of memory"));
    memcpy(copy, argv, (size_t)(argc + 1) * sizeof *copy);
    int n_lists = argc + 1;
    lists.train_sources = calloc((size_t)n_lists, sizeof(char *));
    lists.train_classes = calloc((size_t)n_lists, sizeof(char *));
    lists.valid_sources = calloc((size_t)n_lists, sizeof(char *));
    if (!lists.train_sources || !lists.train_classes || !lists.valid_sources) {
        status = ls_error(LS_ERR_NOMEM, "out of memory");
        goto fail;
    }
    status = parse_args(argc, argv, &opt, &lists);
    if (status == 1) {
        usage(stdout);
        status = 0;
        goto done;
    }
    if (status < 0) goto fail;
    if (opt.resume && opt.train.n_sources + opt.train.n_classes == 0) {
        /* `--resume` alone: repeat the recorded command line, then this one's options */
        const char *resume = opt.resume;
        status = resume_argv(resume, argc, copy, &resumed, &resumed_argc);
        if (status < 0) goto fail;
        free(lists.train_sources);
        free(lists.train_classes);
        free(lists.valid_sources);
        n_lists = resumed_argc + 1;
        lists.train_sources = calloc((size_t)n_lists, sizeof(char *));
        lists.train_classes = calloc((size_t)n_lists, sizeof(char *));
        lists.valid_sources = calloc((size_t)n_lists, sizeof(char *));
        if (!lists.train_sources || !lists.train_classes || !lists.valid_sources) {
            status = ls_error(LS_ERR_NOMEM, "out of memory");
            goto fail;
        }
        char **parse_copy = malloc((size_t)(resumed_argc + 1) * sizeof *parse_copy);
        if (!parse_copy) {
            status = ls_error(LS_ERR_NOMEM, "out of memory");
            goto fail;
        }
        memcpy(parse_copy, resumed, (size_t)resumed_argc * sizeof *parse_copy);
        parse_copy[resumed_argc] = NULL;
        free(copy);
        copy = parse_copy;
        status = argv_to_json(resumed_argc, resumed, &argv_json);
        if (status == 0) status = parse_args(resumed_argc, copy, &opt, &lists);
        if (status < 0) goto fail;
    } else {
        status = argv_to_json(argc, copy, &argv_json);
        if (status < 0) goto fail;
    }
    if ((status = check_args(&opt)) < 0) goto fail;
    if (train_parallel_wanted(&opt)) { // before anything touches CUDA in this process
        status = train_parallel_run(&opt, argv_json);
        goto done;
    }
    cli_common_apply(&opt.common);
    if ((status = cli_resolve_device(&opt.common)) < 0) goto fail;
    status = trainer_run(&opt, argv_json);
    if (status < 0) goto fail;
done:
    free(argv_json);
    for (int i = 0; i < resumed_argc; i++) free(resumed[i]);
    free(resumed);
    free(copy);
    free(lists.train_sources);
    free(lists.train_classes);
    free(lists.valid_sources);
    return status;
fail:
    status = cli_fail("train", status);
    goto done;
}

int main_resume(int argc, char **argv) {
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            printf("Usage: longscan resume MODEL.safetensors [options]\n"
                   "\n"
                   "Continue the training run that wrote MODEL.safetensors (and\n"
                   "MODEL.state.safetensors): the same as 'longscan train --resume MODEL\n"
                   "[options]'. See 'longscan train --help'.\n");
            return EXIT_OK;
        }
        return cli_usage_error("resume", "give the MODEL.safetensors of the run to continue");
    }
    char **v = malloc((size_t)(argc + 2) * sizeof *v);
    if (!v) return cli_fail("resume", ls_error(LS_ERR_NOMEM, "out of memory"));
    v[0] = "train";
    v[1] = "--resume";
    for (int i = 1; i < argc; i++) v[i + 1] = argv[i];
    v[argc + 1] = NULL;
    int status = main_train(argc + 1, v);
    free(v);
    return status;
}
