/* SPDX-License-Identifier: Apache-2.0 */
/* watchkeeper: parse the global options and dispatch to a subcommand (cmd_*.c). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "watchkeeper/rebuild.h"
#include "watchkeeper/watchkeeper.h"

const struct wk_command wk_commands[] = {
#define WK_COMMAND(n, id, s) { n, s, wk_cmd_##id##_usage, wk_cmd_##id },
#include "commands.def"
#undef WK_COMMAND
};
const size_t wk_ncommands = sizeof(wk_commands) / sizeof(wk_commands[0]);

const struct wk_command *wk_command_find(const char *name)
{
    for (size_t i = 0; i < wk_ncommands; i++) {
        if (strcmp(wk_commands[i].name, name) == 0)
            return &wk_commands[i];
    }
    return NULL;
}

void wk_cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "watchkeeper: %s%s", cmd ? cmd : "", cmd ? ": " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

bool wk_cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: watchkeeper [--version] [--help] COMMAND [ARGS]\n\n"
               "Container audit log collector and analyzer.\n\nCommands:\n");
    for (size_t i = 0; i < wk_ncommands; i++)
        fprintf(f, "  %-10s %s\n", wk_commands[i].name, wk_commands[i].summary);
    fprintf(f, "\nRun 'watchkeeper help COMMAND' for a command's options.\n"
               "Exit codes: 0 success, 1 found something (alerts, broken chain),\n"
               "2 usage error, 3 runtime error.\n");
}

int main(int argc, char **argv)
{
    wk_keys_init();
    wk_collector_rebuild_register(); /* the cold tier's rebuilds (docs/store.md) */
    if (argc < 2) {
        usage(stderr);
        return WK_EXIT_USAGE;
    }
    if (wk_cli_is_help(argv[1])) {
        usage(stdout);
        return WK_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("watchkeeper %s\n", wk_version());
        return WK_EXIT_OK;
    }
    if (argv[1][0] == '-') {
        wk_cli_error(NULL, "unknown option '%s' (see 'watchkeeper --help')", argv[1]);
        return WK_EXIT_USAGE;
    }
    const struct wk_command *c = wk_command_find(argv[1]);
    if (!c) {
        wk_cli_error(NULL, "unknown command '%s' (see 'watchkeeper --help')", argv[1]);
        return WK_EXIT_USAGE;
    }
    /* A command sees argv[0] = its own name, getopt-style. */
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (wk_cli_is_help(argv[i])) {
            fputs(c->usage, stdout);
            return WK_EXIT_OK;
        }
    }
    return c->run(argc - 1, argv + 1);
}
