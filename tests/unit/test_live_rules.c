/* SPDX-License-Identifier: Apache-2.0 */
/* The rule engine as the daemon's live-rules hook: loading rules.dirs, alerts as JSON,
 * rules.disable, a set with a rejected rule refused whole, state carried over a reload. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "watchkeeper/daemon.h"
#include "watchkeeper/error.h"
#include "wk_test.h"

static const char RULE[] = "title: Exec into a container\n"
                           "id: 7d5c2a7e-0d1c-4b44-9c0e-5a4f3f0d9a01\n"
                           "status: test\n"
                           "level: high\n"
                           "logsource: {product: docker, service: events}\n"
                           "detection:\n"
                           "  sel:\n"
                           "    Action|startswith: exec_create\n"
                           "  condition: sel\n";

static void write_file(const char *dir, const char *name, const char *text, size_t len)
{
    char p[PATH_MAX + 256];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    WK_ASSERT(f != NULL);
    WK_ASSERT(fwrite(text, 1, len, f) == len);
    fclose(f);
}

/* A rules dir with the pack's logsources.yaml and one rule. */
static void pack(const char *dir)
{
    char ls[4096];
    mkdir(dir, 0700);
    snprintf(ls, sizeof(ls), "%s/rules/logsources.yaml", wk_test_srcdir());
    size_t len;
    char *text = wk_test_read_file(ls, &len);
    WK_ASSERT(text != NULL);
    write_file(dir, "logsources.yaml", text, len);
    free(text);
    write_file(dir, "exec.yml", RULE, strlen(RULE));
}

static int nalerts;
static char last_id[128];

static int emit(void *arg, json_t *alert)
{
    nalerts++;
    const char *id = json_string_value(json_object_get(json_object_get(alert, "rule"), "id"));
    snprintf(last_id, sizeof(last_id), "%s", id ? id : "");
    json_decref(alert);
    return 0;
}

static struct wk_event *exec_event(void)
{
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    wk_event_set_ts(ev, 1000);
    struct wk_key mod = wk_key_init("event.module"), act = wk_key_init("Action");
    WK_ASSERT_OK(wk_event_add_str(ev, 0, &mod, "docker", 6));
    WK_ASSERT_OK(wk_event_add_str(ev, 0, &act, "exec_create: sh", 15));
    return ev;
}

WK_TEST(load_eval_disable)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/r", wk_test_tmpdir());
    pack(dir);
    struct wk_config_rules cfg = { 0 };
    WK_ASSERT_OK(wk_strv_push(&cfg.dirs, dir));
    struct wk_rules_hook h;
    char err[512] = "";
    WK_ASSERT_OK(wk_live_rules_load(&cfg, &h, err, sizeof(err)));
    WK_ASSERT_UINT_EQ(h.nrules, 1);
    struct wk_event *ev = exec_event();
    nalerts = 0;
    WK_ASSERT_OK(h.eval(h.ctx, ev, emit, NULL));
    WK_ASSERT_INT_EQ(nalerts, 1);
    WK_ASSERT_STR_EQ(last_id, "7d5c2a7e-0d1c-4b44-9c0e-5a4f3f0d9a01");

    /* A reload with the rule disabled; its state carried over from the first set. */
    WK_ASSERT_OK(wk_strv_push(&cfg.disable, "7d5c2a7e-0d1c-4b44-9c0e-5a4f3f0d9a01"));
    struct wk_rules_hook h2;
    WK_ASSERT_OK(wk_live_rules_load(&cfg, &h2, err, sizeof(err)));
    h2.carry(h2.ctx, h.ctx);
    nalerts = 0;
    WK_ASSERT_OK(h2.eval(h2.ctx, ev, emit, NULL));
    WK_ASSERT_INT_EQ(nalerts, 0);
    h.free(h.ctx);
    h2.free(h2.ctx);
    wk_event_free(ev);
    wk_options_fini(wk_config_rules_options, &cfg);
}

WK_TEST(rejected_rule_refuses_the_set)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/r", wk_test_tmpdir());
    pack(dir);
    static const char bad[] = "title: Broken\n"
                              "id: 00000000-0000-0000-0000-000000000001\n"
                              "logsource: {product: docker, service: events}\n"
                              "detection:\n"
                              "  sel: {Action|nosuchmodifier: x}\n"
                              "  condition: sel\n";
    write_file(dir, "broken.yml", bad, strlen(bad));
    struct wk_config_rules cfg = { 0 };
    WK_ASSERT_OK(wk_strv_push(&cfg.dirs, dir));
    struct wk_rules_hook h = { 0 };
    char err[512] = "", want[4200];
    WK_ASSERT_INT_EQ(wk_live_rules_load(&cfg, &h, err, sizeof(err)), WK_ERULE_SYNTAX);
    snprintf(want, sizeof(want), "rules: %s/broken.yml:", dir);
    if (strncmp(err, want, strlen(want)) != 0)
        WK_FAIL("err '%s' does not start with '%s'", err, want);
    WK_ASSERT(strstr(err, "(1 rejected in all)") != NULL);
    WK_ASSERT(h.ctx == NULL);
    wk_options_fini(wk_config_rules_options, &cfg);
}

WK_TEST(no_logsources)
{
    struct wk_config_rules cfg = { 0 };
    WK_ASSERT_OK(wk_strv_push(&cfg.dirs, wk_test_tmpdir()));
    struct wk_rules_hook h = { 0 };
    char err[512] = "";
    WK_ASSERT_INT_EQ(wk_live_rules_load(&cfg, &h, err, sizeof(err)), -ENOENT);
    WK_ASSERT_STR_EQ(err, "rules: no logsources.yaml in any of rules.dirs");
    wk_options_fini(wk_config_rules_options, &cfg);
}
