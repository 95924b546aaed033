/* bench.c — placeholder while the lead writes it (replaced in the next commit). */
#include "pipeline/commands.h"
int main_bench(int argc, char **argv) { return command_not_ready("bench", "longscan bench\n", "issue 2", argc, argv); }
