/* embed.c — `longscan embed`: embed records. Arrives with issue 3 (models and training); until then it
 * documents its interface and exits 2. */
#include "pipeline/commands.h"

static const char help_text[] =
    "Usage: longscan embed -m MODEL SEQS...\n"
    "\n"
    "One embedding vector per record, as safetensors or TSV.\n";

int main_embed(int argc, char **argv) {
    return command_not_ready("embed", help_text, "issue 3 (models and training on the CPU)", argc,
                             argv);
}
