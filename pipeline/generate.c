/* generate.c — `longscan generate`: generate. Arrives with issue 3 (models and training); until then it
 * documents its interface and exits 2. */
#include "pipeline/commands.h"

static const char help_text[] =
    "Usage: longscan generate -m LM [options] -o OUT\n"
    "\n"
    "Generate DNA or audio (WAV/FLAC) from a language model.\n";

int main_generate(int argc, char **argv) {
    return command_not_ready("generate", help_text, "issue 3 (models and training on the CPU)", argc,
                             argv);
}
