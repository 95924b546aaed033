/* info.c — placeholder while the lead writes it (replaced in the next commit). */
#include "pipeline/commands.h"
int main_info(int argc, char **argv) { return command_not_ready("info", "longscan info\n", "issue 2", argc, argv); }
