/* SPDX-License-Identifier: Apache-2.0 */
/* watchkeeper help [COMMAND] */
#include "config.h"

#include <stdio.h>

#include "cli.h"

const char wk_cmd_help_usage[] =
    "usage: watchkeeper help [COMMAND]\n\n"
    "Show the options of COMMAND, or list the commands.\n";

int wk_cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        printf("usage: watchkeeper [--version] [--help] COMMAND [ARGS]\n\nCommands:\n");
        for (size_t i = 0; i < wk_ncommands; i++)
            printf("  %-10s %s\n", wk_commands[i].name, wk_commands[i].summary);
        return WK_EXIT_OK;
    }
    if (argc > 2) {
        wk_cli_error("help", "expected one command name, got %d arguments", argc - 1);
        return WK_EXIT_USAGE;
    }
    const struct wk_command *c = wk_command_find(argv[1]);
    if (!c) {
        wk_cli_error("help", "unknown command '%s'", argv[1]);
        return WK_EXIT_USAGE;
    }
    fputs(c->usage, stdout);
    return WK_EXIT_OK;
}
