/* SPDX-License-Identifier: Apache-2.0 */
/* The tables of parsers and live sources, expanded from parsers.def and sources.def. */
#include "config.h"

#include <string.h>

#include "watchkeeper/parser.h"
#include "watchkeeper/source.h"

#define WK_PARSER(id) extern const struct wk_parser_ops wk_parser_##id;
#include "parsers.def"
#undef WK_PARSER
#define WK_SOURCE(id) extern const struct wk_source_ops wk_source_##id;
#include "sources.def"
#undef WK_SOURCE

static const struct wk_parser_ops *const parser_table[] = {
#define WK_PARSER(id) &wk_parser_##id,
#include "parsers.def"
#undef WK_PARSER
    NULL,
};

static const struct wk_source_ops *const source_table[] = {
#define WK_SOURCE(id) &wk_source_##id,
#include "sources.def"
#undef WK_SOURCE
    NULL,
};

void wk_parser_opts_init(struct wk_parser_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->max_line = 1u << 20;
    opts->max_message = 1u << 20;
    opts->parse_json_messages = true;
}

const struct wk_parser_ops *const *wk_parsers(void)
{
    return parser_table;
}

const struct wk_parser_ops *wk_parser_find(const char *name)
{
    for (size_t i = 0; parser_table[i]; i++) {
        if (strcmp(parser_table[i]->name, name) == 0)
            return parser_table[i];
    }
    return NULL;
}

const struct wk_parser_ops *wk_parser_detect(const char *buf, size_t len, const char *path)
{
    const struct wk_parser_ops *best = NULL;
    int best_score = 49;
    for (size_t i = 0; parser_table[i]; i++) {
        int s = parser_table[i]->detect ? parser_table[i]->detect(buf, len, path) : 0;
        if (s > best_score) {
            best = parser_table[i];
            best_score = s;
        }
    }
    return best;
}

const struct wk_source_ops *const *wk_sources(void)
{
    return source_table;
}

const struct wk_source_ops *wk_source_find(const char *name)
{
    for (size_t i = 0; source_table[i]; i++) {
        if (strcmp(source_table[i]->name, name) == 0)
            return source_table[i];
    }
    return NULL;
}
