/* eval.c — `longscan eval`: evaluate a model. Arrives with issue 3 (models and training); until then it
 * documents its interface and exits 2. */
#include "pipeline/commands.h"

static const char help_text[] =
    "Usage: longscan eval -m MODEL --data SEQS [--labels TSV] [--json]\n"
    "\n"
    "Accuracy, macro-F1, MCC and AUROC for classifiers; NLL and perplexity for LMs.\n";

int main_eval(int argc, char **argv) {
    return command_not_ready("eval", help_text, "issue 3 (models and training on the CPU)", argc,
                             argv);
}
