/* SPDX-License-Identifier: Apache-2.0 */
/* watchkeeper config: check a config file (every error with FILE:LINE:COL), list options. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "watchkeeper/error.h"
#include "watchkeeper/wkconfig.h"

const char wk_cmd_config_usage[] =
    "usage: watchkeeper config check FILE\n"
    "       watchkeeper config options\n\n"
    "check    validate FILE as `watchkeeper run -c FILE` would: YAML syntax, known keys,\n"
    "         values, source types and options. Prints each problem as FILE:LINE:COL: ...\n"
    "         on stderr; exit 0 when valid, 1 when not.\n"
    "options  list every section's and every source's options with defaults.\n";

static void print_table(const char *section, const struct wk_option *t)
{
    static const char *const types[] = { "", "bool", "int", "size", "duration", "string",
                                         "path", "list" };
    printf("%s:\n", section);
    /* An empty default prints as "" and none as -, so every row has a default column. */
    for (; t && t->type != WK_OPT_END; t++)
        printf("  %-18s %-8s %-28s %s\n", t->key, types[t->type],
               !t->def ? "-" : *t->def ? t->def : "\"\"", t->description);
}

int wk_cmd_config(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "options") == 0 && argc == 2) {
        print_table("store", wk_config_store_options);
        print_table("store.cold", wk_config_cold_options);
        print_table("rules", wk_config_rules_options);
        print_table("pipeline", wk_config_pipeline_options);
        print_table("api", wk_config_api_options);
        print_table("logging", wk_config_logging_options);
        print_table("outputs[] (type: stdout | file)", wk_config_output_options);
        for (const struct wk_source_ops *const *o = wk_sources(); *o; o++) {
            char title[128];
            snprintf(title, sizeof(title), "sources[] type: %s  (%s)", (*o)->name,
                     (*o)->description ? (*o)->description : "");
            print_table(title, (*o)->options);
        }
        return WK_EXIT_OK;
    }
    if (argc != 3 || strcmp(argv[1], "check") != 0) {
        wk_cli_error("config", "expected 'check FILE' or 'options' (see 'watchkeeper "
                               "config --help')");
        return WK_EXIT_USAGE;
    }
    struct wk_strv errs = { 0 };
    struct wk_config *c = NULL;
    int rc = wk_config_load(&c, argv[2], &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.v[i]);
    wk_strv_clear(&errs);
    if (rc == 0) {
        printf("%s: ok (%zu sources%s, %zu outputs, store %s)\n", argv[2], c->nsources,
               c->default_sources ? ": probed at start" : "", c->noutputs, c->store.path);
        wk_config_free(c);
        return WK_EXIT_OK;
    }
    return rc == WK_EPARSE ? WK_EXIT_FOUND : WK_EXIT_RUNTIME;
}
