/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's YAML config: defaults, sections, sources through their option tables, and
 * every error reported with FILE:LINE:COL. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "watchkeeper/error.h"
#include "watchkeeper/wkconfig.h"
#include "wk_test.h"

static int load(const char *yaml, struct wk_config **c, struct wk_strv *errs)
{
    return wk_config_load_string(c, "t.yaml", yaml, strlen(yaml), errs);
}

WK_TEST(full_config)
{
    const char *y = "store:\n"
                    "  path: /tmp/s\n"
                    "  block_size: 64KiB\n"
                    "  block_age: 500ms\n"
                    "  compression_level: 9\n"
                    "  retention: 30d\n"
                    "  map_size: 1GiB\n"
                    "  fsync: false\n"
                    "sources:\n"
                    "  - type: file_jsonl\n"
                    "    name: one\n"
                    "    path: /tmp/one.jsonl\n"
                    "    poll: 1s\n"
                    "  - type: file_jsonl\n"
                    "    path: /tmp/two.jsonl\n"
                    "rules:\n"
                    "  dirs: [/a, /b]\n"
                    "  allow_containers:\n"
                    "    - build-runner\n"
                    "outputs:\n"
                    "  - type: file\n"
                    "    path: /tmp/alerts.jsonl\n"
                    "    min_level: high\n"
                    "api:\n"
                    "  socket: /tmp/wk.sock\n"
                    "logging:\n"
                    "  level: debug\n"
                    "  json: true\n"
                    "pipeline:\n"
                    "  queue_events: 100\n";
    struct wk_config *c = NULL;
    struct wk_strv errs = { 0 };
    int rc = load(y, &c, &errs);
    for (size_t i = 0; i < errs.n; i++)
        WK_FAIL("unexpected error: %s", errs.v[i]);
    WK_ASSERT_INT_EQ(rc, 0);
    WK_ASSERT_STR_EQ(c->store.path, "/tmp/s");
    WK_ASSERT_UINT_EQ(c->store.block_size, 65536);
    WK_ASSERT_INT_EQ(c->store.block_age, 500000000);
    WK_ASSERT_INT_EQ(c->store.compression_level, 9);
    WK_ASSERT_INT_EQ(c->store.retention, 30LL * 86400 * 1000000000LL);
    WK_ASSERT_UINT_EQ(c->store.map_size, 1ull << 30);
    WK_ASSERT(!c->store.fsync);
    WK_ASSERT_UINT_EQ(c->nsources, 2);
    WK_ASSERT(!c->default_sources);
    WK_ASSERT_STR_EQ(c->sources[0].name, "one");
    WK_ASSERT_STR_EQ(c->sources[1].name, "file_jsonl"); /* the type is the default name */
    WK_ASSERT_INT_EQ(c->sources[0].line, 10);
    WK_ASSERT_UINT_EQ(c->rules.dirs.n, 2);
    WK_ASSERT_STR_EQ(c->rules.dirs.v[1], "/b");
    WK_ASSERT_STR_EQ(c->rules.allow_containers.v[0], "build-runner");
    WK_ASSERT_UINT_EQ(c->noutputs, 1);
    WK_ASSERT_STR_EQ(c->outputs[0].type, "file");
    WK_ASSERT_STR_EQ(c->outputs[0].min_level, "high");
    WK_ASSERT_STR_EQ(c->api.socket, "/tmp/wk.sock");
    WK_ASSERT_STR_EQ(c->logging.level, "debug");
    WK_ASSERT(c->logging.json);
    WK_ASSERT_INT_EQ(c->pipeline.queue_events, 100);
    WK_ASSERT_INT_EQ(c->pipeline.drain_timeout, 10000000000LL); /* default */
    wk_config_free(c);
}

WK_TEST(empty_file_is_defaults)
{
    struct wk_config *c = NULL;
    WK_ASSERT_OK(load("", &c, NULL));
    WK_ASSERT_STR_EQ(c->store.path, "/var/lib/watchkeeper");
    WK_ASSERT(c->store.fsync);
    WK_ASSERT(c->default_sources);
    WK_ASSERT_UINT_EQ(c->noutputs, 1);
    WK_ASSERT_STR_EQ(c->outputs[0].type, "stdout");
    WK_ASSERT_STR_EQ(c->api.socket, "/run/watchkeeper/api.sock");
    wk_config_free(c);
}

WK_TEST(every_error_with_its_position)
{
    const char *y = "store:\n"                      /* 1 */
                    "  path: /tmp/s\n"              /* 2 */
                    "  block_size: lots\n"          /* 3 */
                    "  colour: blue\n"              /* 4 */
                    "sources:\n"                    /* 5 */
                    "  - type: nosuch\n"            /* 6 */
                    "  - type: file_jsonl\n"        /* 7 */
                    "    path: /x\n"                /* 8 */
                    "    pol: 1s\n"                 /* 9 */
                    "logging:\n"                    /* 10 */
                    "  level: loud\n"               /* 11 */
                    "outputs:\n"                    /* 12 */
                    "  - type: file\n"              /* 13 */
                    "extra: 1\n";                   /* 14 */
    struct wk_config *c = NULL;
    struct wk_strv errs = { 0 };
    WK_ASSERT_INT_EQ(load(y, &c, &errs), WK_EPARSE);
    WK_ASSERT(c == NULL);
    const char *want[] = {
        "t.yaml:3:15: store.block_size: 'lots': expected a size such as 4096, 256KiB, 1MiB or 2GiB",
        "t.yaml:4:3: store: unknown key 'colour'",
        "t.yaml:6:11: sources: unknown type 'nosuch' (known: file_jsonl",
        "t.yaml:9:5: sources[file_jsonl]: unknown key 'pol'",
        "t.yaml:13:11: outputs: a file output needs a path",
        "t.yaml:14:1: unknown key 'extra'",
        "t.yaml:11:10: logging.level 'loud' is not one of error, warn, info, debug",
    };
    WK_ASSERT_UINT_EQ(errs.n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < errs.n; i++) {
        if (strncmp(errs.v[i], want[i], strlen(want[i])) != 0)
            WK_FAIL("error %zu: got '%s', want '%s...'", i, errs.v[i], want[i]);
    }
    wk_strv_clear(&errs);
}

WK_TEST(store_cold_section)
{
    struct wk_config *c = NULL;
    WK_ASSERT_OK(load("", &c, NULL));
    WK_ASSERT(c->store.cold.enabled); /* defaults */
    WK_ASSERT_INT_EQ(c->store.cold.after, 600LL * 1000000000);
    WK_ASSERT_INT_EQ(c->store.cold.cpu_budget, 10);
    WK_ASSERT_UINT_EQ(c->store.cold.block_bytes, 2u << 20);
    WK_ASSERT_INT_EQ(c->store.cold.level, 19);
    wk_config_free(c);
    c = NULL;
    WK_ASSERT_OK(load("store:\n  cold: {enabled: false, after: 1s, cpu_budget: 50,\n"
                      "         block_bytes: 64KiB, level: 12}\n", &c, NULL));
    WK_ASSERT(!c->store.cold.enabled);
    WK_ASSERT_INT_EQ(c->store.cold.after, 1000000000);
    WK_ASSERT_INT_EQ(c->store.cold.cpu_budget, 50);
    WK_ASSERT_UINT_EQ(c->store.cold.block_bytes, 65536);
    WK_ASSERT_INT_EQ(c->store.cold.level, 12);
    wk_config_free(c);
    c = NULL;
    const char *y = "store:\n"                   /* 1 */
                    "  cold:\n"                  /* 2 */
                    "    cpu_budget: 0\n"        /* 3 */
                    "    level: 23\n"            /* 4 */
                    "    block_bytes: 1KiB\n"    /* 5 */
                    "    later: 1h\n";           /* 6 */
    struct wk_strv errs = { 0 };
    WK_ASSERT_INT_EQ(load(y, &c, &errs), WK_EPARSE);
    const char *want[] = {
        "t.yaml:6:5: store.cold: unknown key 'later'",
        "t.yaml:3:17: store.cold.cpu_budget must be 1..100 (percent of one core)",
        "t.yaml:4:12: store.cold.level must be 1..22",
        "t.yaml:5:18: store.cold.block_bytes must be 64KiB..64MiB",
    };
    WK_ASSERT_UINT_EQ(errs.n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < errs.n; i++)
        WK_ASSERT_STR_EQ(errs.v[i], want[i]);
    wk_strv_clear(&errs);
}

WK_TEST(store_split_field)
{
    struct wk_config *c = NULL;
    WK_ASSERT_OK(load("", &c, NULL));
    WK_ASSERT_STR_EQ(c->store.split_field, "auditd.key"); /* the default */
    wk_config_free(c);
    c = NULL;
    WK_ASSERT_OK(load("store: {split_field: \"\"}\n", &c, NULL));
    WK_ASSERT_STR_EQ(c->store.split_field, ""); /* one frame per block */
    wk_config_free(c);
    c = NULL;
    WK_ASSERT_OK(load("store: {split_field: event.action}\n", &c, NULL));
    WK_ASSERT_STR_EQ(c->store.split_field, "event.action");
    wk_config_free(c);
    c = NULL;
    char y[400];
    snprintf(y, sizeof(y), "store:\n  split_field: %0256d\n", 0); /* 256 bytes */
    struct wk_strv errs = { 0 };
    WK_ASSERT_INT_EQ(load(y, &c, &errs), WK_EPARSE);
    WK_ASSERT_UINT_EQ(errs.n, 1);
    WK_ASSERT_STR_EQ(errs.v[0], "t.yaml:2:16: store.split_field must be at most 255 bytes");
    wk_strv_clear(&errs);
}

WK_TEST(yaml_syntax_error_has_position)
{
    struct wk_config *c = NULL;
    struct wk_strv errs = { 0 };
    WK_ASSERT_INT_EQ(load("store:\n  path: [unclosed\n", &c, &errs), WK_EPARSE);
    WK_ASSERT(errs.n >= 1);
    WK_ASSERT(strncmp(errs.v[0], "t.yaml:", 7) == 0);
    WK_ASSERT(strchr(errs.v[0] + 7, ':') != NULL);
    wk_strv_clear(&errs);
}

WK_TEST(duplicate_source_names)
{
    const char *y = "sources:\n"
                    "  - type: file_jsonl\n"
                    "    path: /a\n"
                    "  - type: file_jsonl\n"
                    "    path: /b\n";
    struct wk_config *c = NULL;
    struct wk_strv errs = { 0 };
    WK_ASSERT_INT_EQ(load(y, &c, &errs), WK_EPARSE);
    WK_ASSERT_UINT_EQ(errs.n, 1);
    WK_ASSERT_STR_EQ(errs.v[0], "t.yaml:4:11: sources: duplicate name 'file_jsonl' (first on "
                                "line 2): give each a name");
    wk_strv_clear(&errs);
}

WK_TEST(missing_file)
{
    struct wk_config *c = NULL;
    struct wk_strv errs = { 0 };
    WK_ASSERT_INT_EQ(wk_config_load(&c, "/nonexistent/wk.yaml", &errs), -ENOENT);
    WK_ASSERT_UINT_EQ(errs.n, 1);
    WK_ASSERT_STR_EQ(errs.v[0], "/nonexistent/wk.yaml: No such file or directory");
    wk_strv_clear(&errs);
}

WK_TEST(defaults_probe_sources)
{
    struct wk_config *c = NULL;
    struct wk_strv probe = { 0 };
    WK_ASSERT_OK(wk_config_defaults(&c, &probe));
    /* file_jsonl has no default path: listed as not used, with the reason. */
    bool seen = false;
    for (size_t i = 0; i < probe.n; i++)
        seen |= strcmp(probe.v[i], "file_jsonl: not used: no path configured") == 0;
    WK_ASSERT(seen);
    for (size_t i = 0; i < c->nsources; i++)
        WK_ASSERT(strcmp(c->sources[i].ops->name, "file_jsonl") != 0);
    wk_strv_clear(&probe);
    wk_config_free(c);
}

WK_TEST(packaged_example_is_valid)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/packaging/watchkeeper.yaml", wk_test_srcdir());
    struct wk_config *c = NULL;
    struct wk_strv errs = { 0 };
    int rc = wk_config_load(&c, path, &errs);
    for (size_t i = 0; i < errs.n; i++)
        WK_FAIL("%s", errs.v[i]);
    WK_ASSERT_INT_EQ(rc, 0);
    wk_strv_clear(&errs);
    wk_config_free(c);
}
