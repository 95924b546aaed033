/* predict.c — `longscan predict`: predict labels. Arrives with issue 3 (models and training); until then it
 * documents its interface and exits 2. */
#include "pipeline/commands.h"

static const char help_text[] =
    "Usage: longscan predict -m MODEL SEQS...\n"
    "\n"
    "One TSV line per record or audio file: name, predicted label, class probabilities.\n";

int main_predict(int argc, char **argv) {
    return command_not_ready("predict", help_text, "issue 3 (models and training on the CPU)", argc,
                             argv);
}
