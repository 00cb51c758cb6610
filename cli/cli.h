/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the subcommand files: exit codes, the command table, small helpers. */
#ifndef WK_CLI_H
#define WK_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Exit codes, documented in README. */
enum wk_exit {
    WK_EXIT_OK = 0,      /* success */
    WK_EXIT_FOUND = 1,   /* the command ran and found something: alerts, a broken chain */
    WK_EXIT_USAGE = 2,   /* usage error */
    WK_EXIT_RUNTIME = 3, /* runtime error */
    WK_EXIT_UNCHECKED = 4, /* verify: no break found, but some blocks could not be checked */
};

struct wk_command {
    const char *name;
    const char *summary;
    const char *usage; /* full help text, printed by `help NAME` and `NAME --help` */
    int (*run)(int argc, char **argv);
};

#define WK_COMMAND(name, id, summary)                                                    \
    int wk_cmd_##id(int argc, char **argv);                                              \
    extern const char wk_cmd_##id##_usage[];
#include "commands.def"
#undef WK_COMMAND

extern const struct wk_command wk_commands[];
extern const size_t wk_ncommands;

const struct wk_command *wk_command_find(const char *name);

/** Print "watchkeeper: CMD: message" to stderr (one line). */
void wk_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** True when argv[i] is -h or --help. */
bool wk_cli_is_help(const char *arg);

#endif
