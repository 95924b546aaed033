/* train.c — `longscan train`: train a model. Arrives with issue 3 (models and training); until then it
 * documents its interface and exits 2. */
#include "pipeline/commands.h"

static const char help_text[] =
    "Usage: longscan train --task classify|lm --model mamba|bimamba|transformer --data SEQS [options] -o MODEL.safetensors\n"
    "\n"
    "Train a sequence classifier or a next-token language model on DNA or raw audio\nand write a safetensors checkpoint.\n";

int main_train(int argc, char **argv) {
    return command_not_ready("train", help_text, "issue 3 (models and training on the CPU)", argc,
                             argv);
}
