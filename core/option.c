/* SPDX-License-Identifier: Apache-2.0 */
/* Declarative options: defaults, typed setters, sizes and durations. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "watchkeeper/option.h"
#include "watchkeeper/timefmt.h"

static int parse_scaled(const char *s, const char *const *units, const uint64_t *mult,
                        uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -EINVAL;
    while (*end == ' ')
        end++;
    for (size_t i = 0; units[i]; i++) {
        if (strcmp(end, units[i]) == 0) {
            double r = v * (double)mult[i];
            if (r > 1.8e19)
                return -EINVAL;
            *out = (uint64_t)r;
            return 0;
        }
    }
    return -EINVAL;
}

int wk_parse_size(const char *s, uint64_t *out)
{
    static const char *const units[] = { "", "B", "K", "KB", "KiB", "M", "MB", "MiB", "G",
                                         "GB", "GiB", "T", "TB", "TiB", NULL };
    static const uint64_t mult[] = { 1, 1, 1ull << 10, 1ull << 10, 1ull << 10,
                                     1ull << 20, 1ull << 20, 1ull << 20, 1ull << 30,
                                     1ull << 30, 1ull << 30, 1ull << 40, 1ull << 40,
                                     1ull << 40 };
    return parse_scaled(s, units, mult, out);
}

int wk_parse_duration(const char *s, int64_t *out)
{
    static const char *const units[] = { "ns", "us", "ms", "s", "m", "h", "d", "w", NULL };
    static const uint64_t mult[] = { 1, 1000, 1000000, 1000000000ull, 60000000000ull,
                                     3600000000000ull, 86400000000000ull,
                                     604800000000000ull };
    uint64_t v;
    int rc = parse_scaled(s, units, mult, &v);
    if (rc < 0 || v > INT64_MAX)
        return -EINVAL;
    *out = (int64_t)v;
    return 0;
}

const struct wk_option *wk_option_find(const struct wk_option *table, const char *key)
{
    for (const struct wk_option *o = table; o && o->type != WK_OPT_END; o++) {
        if (strcmp(o->key, key) == 0)
            return o;
    }
    return NULL;
}

void wk_strv_clear(struct wk_strv *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

int wk_strv_push(struct wk_strv *sv, const char *s)
{
    char **v = realloc(sv->v, (sv->n + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    sv->v = v;
    if (!(v[sv->n] = strdup(s)))
        return -ENOMEM;
    sv->n++;
    return 0;
}

static int set_one(const struct wk_option *o, void *cfg, const char *value, bool append,
                   const char **err)
{
    char *base = (char *)cfg + o->offset;
    switch (o->type) {
    case WK_OPT_BOOL: {
        bool *b = (bool *)(void *)base;
        if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "on"))
            *b = true;
        else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "off"))
            *b = false;
        else {
            *err = "expected true or false";
            return -EINVAL;
        }
        return 0;
    }
    case WK_OPT_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end) {
            *err = "expected an integer";
            return -EINVAL;
        }
        *(int64_t *)(void *)base = v;
        return 0;
    }
    case WK_OPT_SIZE:
        if (wk_parse_size(value, (uint64_t *)(void *)base) < 0) {
            *err = "expected a size such as 4096, 256KiB, 1MiB or 2GiB";
            return -EINVAL;
        }
        return 0;
    case WK_OPT_DURATION:
        if (wk_parse_duration(value, (int64_t *)(void *)base) < 0) {
            *err = "expected a duration such as 100ms, 1s, 5m, 2h or 7d";
            return -EINVAL;
        }
        return 0;
    case WK_OPT_STRING:
    case WK_OPT_PATH: {
        char **s = (char **)(void *)base;
        char *dup = strdup(value);
        if (!dup)
            return -ENOMEM;
        free(*s);
        *s = dup;
        return 0;
    }
    case WK_OPT_STRLIST: {
        struct wk_strv *sv = (struct wk_strv *)(void *)base;
        if (!append)
            wk_strv_clear(sv);
        if (!append && !*value)
            return 0;
        return wk_strv_push(sv, value);
    }
    case WK_OPT_END: break;
    }
    *err = "unknown option type";
    return -EINVAL;
}

int wk_option_set(const struct wk_option *table, void *cfg, const char *key, const char *value,
                  const char **err)
{
    const char *dummy;
    if (!err)
        err = &dummy;
    const struct wk_option *o = wk_option_find(table, key);
    if (!o) {
        *err = "unknown option";
        return -ENOENT;
    }
    return set_one(o, cfg, value, false, err);
}

int wk_option_append(const struct wk_option *table, void *cfg, const char *key,
                     const char *value, const char **err)
{
    const char *dummy;
    if (!err)
        err = &dummy;
    const struct wk_option *o = wk_option_find(table, key);
    if (!o) {
        *err = "unknown option";
        return -ENOENT;
    }
    if (o->type != WK_OPT_STRLIST) {
        *err = "not a list";
        return -EINVAL;
    }
    return set_one(o, cfg, value, true, err);
}

int wk_options_defaults(const struct wk_option *table, void *cfg)
{
    for (const struct wk_option *o = table; o && o->type != WK_OPT_END; o++) {
        if (!o->def)
            continue;
        const char *err;
        if (o->type == WK_OPT_STRLIST) {
            /* a default list is comma-separated */
            char *dup = strdup(o->def), *save = NULL;
            if (!dup)
                return -ENOMEM;
            struct wk_strv *sv = (struct wk_strv *)(void *)((char *)cfg + o->offset);
            wk_strv_clear(sv);
            for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (wk_strv_push(sv, t) < 0) {
                    free(dup);
                    return -ENOMEM;
                }
            }
            free(dup);
            continue;
        }
        int rc = set_one(o, cfg, o->def, false, &err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void wk_options_fini(const struct wk_option *table, void *cfg)
{
    for (const struct wk_option *o = table; o && o->type != WK_OPT_END; o++) {
        char *base = (char *)cfg + o->offset;
        if (o->type == WK_OPT_STRING || o->type == WK_OPT_PATH) {
            free(*(char **)(void *)base);
            *(char **)(void *)base = NULL;
        } else if (o->type == WK_OPT_STRLIST) {
            wk_strv_clear((struct wk_strv *)(void *)base);
        }
    }
}
