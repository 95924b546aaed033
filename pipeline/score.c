/* score.c — `longscan score`: per-position log-likelihood. Arrives with issue 3 (models and training); until then it
 * documents its interface and exits 2. */
#include "pipeline/commands.h"

static const char help_text[] =
    "Usage: longscan score -m LM SEQS\n"
    "\n"
    "Per-position log-likelihood under a language model; bedGraph for DNA.\n";

int main_score(int argc, char **argv) {
    return command_not_ready("score", help_text, "issue 3 (models and training on the CPU)", argc,
                             argv);
}
