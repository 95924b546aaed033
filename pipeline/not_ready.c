/*
 * not_ready.c — the shared body of subcommands listed in `longscan --help` whose issue has not
 * landed yet. They say so and exit 2 rather than pretending to work.
 */
#include <stdio.h>
#include <string.h>

#include "pipeline/cli.h"
#include "pipeline/commands.h"

int command_not_ready(const char *sub, const char *help, const char *issue, int argc,
                      char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help, stdout);
            printf("\nStatus: not available yet; arrives with %s.\n", issue);
            return EXIT_OK;
        }
    }
    ls_error(LS_ERR_NOT_READY, "not available yet: '%s' arrives with %s", sub, issue);
    return cli_fail(sub, LS_ERR_NOT_READY);
}
