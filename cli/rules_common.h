/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by `rules` and `hunt`: find the default rule pack and its config files, load a
 * ruleset with every rejection reported, read JSON-lines events. */
#ifndef WK_CLI_RULES_COMMON_H
#define WK_CLI_RULES_COMMON_H

#include <stdbool.h>
#include <stdio.h>

#include "watchkeeper/event.h"
#include "watchkeeper/rule.h"

struct wk_rules_opts {
    const char *logsources;   /* --logsources, else PATH/logsources.yaml, else the pack's */
    const char *placeholders; /* --placeholders, else PATH/placeholders.yaml, else pack's */
    bool no_prefilter;        /* --no-prefilter: evaluate every rule exactly */
};

/** The default rule pack directory ($WK_RULES_DIR, or rules/ next to the build tree, or
 * the installed share directory). Static string. */
const char *wk_rules_default_dir(void);

/**
 * Load rules from paths into a ruleset. Rejections are printed to `rej` (may be NULL) as
 * "file:line:col: message"; *nrej receives their count.
 * @return 0, or a negative code (message printed through wk_cli_error(cmd, ...)).
 */
int wk_rules_load(const char *cmd, const struct wk_rules_opts *o, char **paths, int npaths,
                  FILE *rej, size_t *nrej, struct wk_ruleset **out);

/**
 * Read events from a JSON-lines file (one event in the JSON form per line).
 * @param[out] evs array of events (free each with wk_event_free, then the array).
 * @return number of events, or negative (message printed).
 */
long wk_events_read(const char *cmd, const char *path, struct wk_event ***evs);

#endif
