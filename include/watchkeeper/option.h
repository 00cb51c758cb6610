/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Declarative options: each source, output and the store describe their settings in a
 * table (key, type, default, offset into their config struct, description). The config
 * loader fills the struct from YAML by this table, rejects unknown keys, and `--help`
 * and the docs are generated from it.
 */
#ifndef WK_OPTION_H
#define WK_OPTION_H

#include <stddef.h>
#include <stdint.h>

enum wk_option_type {
    WK_OPT_END = 0,
    WK_OPT_BOOL,     /* bool */
    WK_OPT_INT,      /* int64_t */
    WK_OPT_SIZE,     /* uint64_t; accepts "256KiB", "1MiB", "2GiB", plain bytes */
    WK_OPT_DURATION, /* int64_t ns; accepts "100ms", "1s", "5m", "2h", "7d" */
    WK_OPT_STRING,   /* char * (malloc'd; freed by wk_options_fini) */
    WK_OPT_PATH,     /* char *, like STRING */
    WK_OPT_STRLIST,  /* struct wk_strv */
};

struct wk_strv {
    char **v; /* malloc'd strings */
    size_t n;
};

struct wk_option {
    const char *key;
    enum wk_option_type type;
    const char *def; /* default, in the same text form as the YAML value; NULL: none */
    size_t offset;   /* offsetof(config struct, member) */
    const char *description;
};

/** Append a copy of s to a string list. @return 0 or -ENOMEM. */
int wk_strv_push(struct wk_strv *sv, const char *s);
/** Free the strings of a list and empty it. */
void wk_strv_clear(struct wk_strv *sv);

/** Set every option of the table to its default in cfg. @return 0, -EINVAL (bad default). */
int wk_options_defaults(const struct wk_option *table, void *cfg);
/**
 * Set one option from text. @param[out] err static message on failure.
 * @return 0, -ENOENT (unknown key), -EINVAL (bad value), -ENOMEM.
 */
int wk_option_set(const struct wk_option *table, void *cfg, const char *key, const char *value,
                  const char **err);
/** Append to a STRLIST option. @return as wk_option_set. */
int wk_option_append(const struct wk_option *table, void *cfg, const char *key,
                     const char *value, const char **err);
/** Free what the table's strings and lists hold in cfg. */
void wk_options_fini(const struct wk_option *table, void *cfg);
/** Find an option by key, NULL when unknown. */
const struct wk_option *wk_option_find(const struct wk_option *table, const char *key);

/** Parse "256KiB"/"1MiB"/"1G"/"4096" (binary units). @return 0 or -EINVAL. */
int wk_parse_size(const char *s, uint64_t *out);
/** Parse "100ms"/"1s"/"5m"/"2h"/"7d"/"1w" into ns. @return 0 or -EINVAL. */
int wk_parse_duration(const char *s, int64_t *out);

#endif /* WK_OPTION_H */
