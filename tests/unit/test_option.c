/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>

#include "watchkeeper/option.h"
#include "wk_test.h"

struct cfg {
    bool b;
    int64_t i;
    uint64_t size;
    int64_t dur;
    char *path;
    struct wk_strv list;
};

static const struct wk_option table[] = {
    { "flag", WK_OPT_BOOL, "true", offsetof(struct cfg, b), "a flag" },
    { "count", WK_OPT_INT, "-3", offsetof(struct cfg, i), "a count" },
    { "block_size", WK_OPT_SIZE, "256KiB", offsetof(struct cfg, size), "a size" },
    { "max_age", WK_OPT_DURATION, "1s", offsetof(struct cfg, dur), "a duration" },
    { "path", WK_OPT_PATH, "/var/lib/watchkeeper", offsetof(struct cfg, path), "a path" },
    { "terms", WK_OPT_STRLIST, "process.executable,user.id", offsetof(struct cfg, list), "a list" },
    { 0 },
};

WK_TEST(defaults_and_setters)
{
    struct cfg c = { 0 };
    const char *err = NULL;
    WK_ASSERT_OK(wk_options_defaults(table, &c));
    WK_ASSERT(c.b);
    WK_ASSERT_INT_EQ(c.i, -3);
    WK_ASSERT_UINT_EQ(c.size, 262144);
    WK_ASSERT_INT_EQ(c.dur, 1000000000);
    WK_ASSERT_STR_EQ(c.path, "/var/lib/watchkeeper");
    WK_ASSERT_UINT_EQ(c.list.n, 2);
    WK_ASSERT_STR_EQ(c.list.v[1], "user.id");

    WK_ASSERT_OK(wk_option_set(table, &c, "block_size", "1.5MiB", &err));
    WK_ASSERT_UINT_EQ(c.size, 1572864);
    WK_ASSERT_OK(wk_option_set(table, &c, "max_age", "100ms", &err));
    WK_ASSERT_INT_EQ(c.dur, 100000000);
    WK_ASSERT_OK(wk_option_append(table, &c, "terms", "auditd.key", &err));
    WK_ASSERT_UINT_EQ(c.list.n, 3);
    WK_ASSERT_OK(wk_option_set(table, &c, "terms", "event.action", &err));
    WK_ASSERT_UINT_EQ(c.list.n, 1);

    WK_ASSERT_INT_EQ(wk_option_set(table, &c, "nope", "1", &err), -ENOENT);
    WK_ASSERT_STR_EQ(err, "unknown option");
    WK_ASSERT_INT_EQ(wk_option_set(table, &c, "flag", "maybe", &err), -EINVAL);
    WK_ASSERT_STR_EQ(err, "expected true or false");
    WK_ASSERT_INT_EQ(wk_option_set(table, &c, "block_size", "-1", &err), -EINVAL);
    WK_ASSERT_INT_EQ(wk_option_set(table, &c, "block_size", "12 parsecs", &err), -EINVAL);
    WK_ASSERT_INT_EQ(wk_option_set(table, &c, "max_age", "5", &err), -EINVAL);
    WK_ASSERT_INT_EQ(wk_option_set(table, &c, "count", "12x", &err), -EINVAL);
    wk_options_fini(table, &c);
    WK_ASSERT(c.path == NULL && c.list.n == 0);
}

WK_TEST(units)
{
    uint64_t s;
    int64_t d;
    WK_ASSERT_OK(wk_parse_size("4096", &s));
    WK_ASSERT_UINT_EQ(s, 4096);
    WK_ASSERT_OK(wk_parse_size("2GiB", &s));
    WK_ASSERT_UINT_EQ(s, 2147483648ull);
    WK_ASSERT_OK(wk_parse_size("1 M", &s));
    WK_ASSERT_UINT_EQ(s, 1048576);
    WK_ASSERT_OK(wk_parse_duration("7d", &d));
    WK_ASSERT_INT_EQ(d, INT64_C(604800000000000));
    WK_ASSERT_OK(wk_parse_duration("250us", &d));
    WK_ASSERT_INT_EQ(d, 250000);
    WK_ASSERT_INT_EQ(wk_parse_duration("", &d), -EINVAL);
    WK_ASSERT_INT_EQ(wk_parse_size("", &s), -EINVAL);
}
