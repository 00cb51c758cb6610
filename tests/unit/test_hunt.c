/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hunt's block prefilter: the literal factors of regexes (re_factor.c), the soundness of
 * skipping stored events by literals (numbers and booleans are not stored as text,
 * keywords see joined argv, PCRE2's Unicode caseless matching), exact alerts with and
 * without it, and the alert JSON writer against jansson's own dump.
 */
#include "config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../analyzer/sigma_private.h"
#include "watchkeeper/hunt.h"
#include "watchkeeper/rule.h"
#include "watchkeeper/store.h"
#include "wk_test.h"

/* The factor set of a regex as "a|b|c" (sorted as found), or "-" for none. */
static void factors(const char *re, bool ci, char *out, size_t cap)
{
    char **l = NULL;
    size_t n = 0;
    WK_ASSERT_OK(wk__sg_re_factors(re, strlen(re), ci, &l, &n));
    out[0] = 0;
    if (!n)
        snprintf(out, cap, "-");
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(out);
        snprintf(out + k, cap - k, "%s%s", i ? "|" : "", l[i]);
        free(l[i]);
    }
    free(l);
}

WK_TEST(re_factors_table)
{
    static const struct {
        const char *re;
        bool ci;
        const char *want;
    } t[] = {
        { "std(err|out) [a-z]+ test log", false, " test log" },
        { "abc", false, "abc" },
        { "Hello", false, "hello" }, /* folded: the scan is caseless */
        { "(curl|wget) -O", false, "curl|wget" },
        { "^/usr/bin/(python|perl)[0-9.]*$", false, "/usr/bin/" },
        { "abcd?ef", false, "abc" },       /* d? is optional: "abc" and "ef" remain */
        { "abcd+ef", false, "abcd" },      /* d+ needs one d, then the run ends */
        { "ab(cd)*efg", false, "efg" },
        { "x{2}yzw", false, "yzw" },
        { "a\\.b\\/cd", false, "a.b/cd" },
        { "foo|ba", false, "foo|ba" },     /* (too short to use: prefilter.c decides) */
        { "foo|", false, "-" },            /* an empty branch matches anything */
        { "(?i)foo", false, "-" },         /* inline flags: unknown, no factor */
        { "\\x41bcd", false, "-" },        /* numeric escapes: no factor */
        { "\\Qa.b\\E", false, "-" },
        { "ab\\d+cde", false, "cde" },
        { "[abc]xyz", false, "xyz" },
        { "[]x]yzw", false, "yzw" },
        { "[[:alpha:]]+qrs", false, "qrs" },
        { "(?:abc|def)gh", false, "abc|def" },
        { "(?=abc)xy", false, "xy" },      /* lookarounds give nothing themselves */
        { "task", true, "ta" },            /* caseless: s and k can be U+017F, U+212A */
        { "Kelvin temp", true, "elvin temp" },
        { "caf\xc3\xa9 ok", true, "caf" }, /* caseless non-ASCII letters dropped */
        { "caf\xc3\xa9 ok", false, "caf\xc3\xa9 ok" },
        { "a{,3}bcd", false, "-" },        /* {,n}: PCRE2 10.43 syntax, not guessed */
        { "(*UTF)abc", false, "-" },
        { "(a", false, "-" },
        { "\\bunion\\s+select\\b", false, "select" },
    };
    char got[512];
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        factors(t[i].re, t[i].ci, got, sizeof(got));
        if (strcmp(got, t[i].want))
            WK_FAIL("%s%s: got '%s', want '%s'", t[i].re, t[i].ci ? " (i)" : "", got,
                    t[i].want);
    }
}

WK_TEST(re_local_table)
{
    /* whether a match depends only on the matched text (hunt then runs the regex on the
     * stored record to skip the records a literal hit alone would decode) */
    static const struct {
        const char *re;
        bool want;
    } t[] = {
        { "std(err|out) [a-z]+ test log", true },
        { "err(or)? [0-9]+ at", true },
        { "(?i)select .* from", true },
        { "(?:a|b)c\\.d\\s+\\w*", true },
        { "a+?b*?c??", true },          /* lazy quantifiers */
        { "^/usr/bin/python", false },  /* anchors see where the value starts and ends */
        { "python3$", false },
        { "(?m)^a", false },
        { "[^a]bc", false },            /* conservative: any '^' */
        { "\\bunion\\b", false },        /* word boundaries see the neighbours */
        { "\\Aabc", false },
        { "abc\\z", false },
        { "a(?=b)", false },            /* look-arounds */
        { "(?<=a)b", false },
        { "(?!a)b", false },
        { "(?>ab|a)c", false },         /* atomic: gives nothing back to a longer text */
        { "a++b", false },              /* possessive */
        { "[a-z]*+x", false },
        { "(ab)?+c", false },
        { "a{2,}+b", false },
        { "(*UTF)abc", false },         /* verbs */
        { "(a)\\1", false },              /* backreferences: not known here */
        { "\\Xa", false },
        { "\\x41", false },
        { "(?x) a b", false },          /* extended syntax: not known here */
        { "(?(1)a|b)", false },
        { "abc\\", false },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (wk__sg_re_local(t[i].re, strlen(t[i].re)) != t[i].want)
            WK_FAIL("%s: want %s", t[i].re, t[i].want ? "local" : "not local");
}

/* ---- a store of crafted events, hunted with and without the block prefilter ---------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    WK_ASSERT(f != NULL);
    fputs(text, f);
    fclose(f);
}

static const char *const crafted[] = {
    "{\"event.module\":\"clog\",\"message\":\"user ta\xc5\xbfk done\"}", /* taſk */
    "{\"event.module\":\"clog\",\"message\":\"\xe2\x84\xaa" "elvin is cold\"}", /* KELVIN SIGN */
    "{\"event.module\":\"clog\",\"message\":\"x\",\"n\":40000}",
    "{\"event.module\":\"clog\",\"message\":\"y\",\"ok\":true}",
    "{\"event.module\":\"clog\",\"message\":\"y\",\"r\":2.5e+300}",
    "{\"event.module\":\"clog\",\"message\":\"GET /A HTTP/1.1\"}",
    "{\"event.module\":\"clog\",\"message\":\"error 42 at main\"}",
    "{\"event.module\":\"clog\",\"message\":\"find / \xe2\x80\x93" "exec rm\"}", /* en dash */
    "{\"event.module\":\"clog\",\"message\":\"data c2VjcmV0 end\"}",
    "{\"event.module\":\"clog\",\"message\":\"Exact\"}",
    "{\"event.module\":\"clog\",\"message\":\"tick \\\"q\\\" \\u0001\",\"num\":7}",
    "{\"event.module\":\"clog\",\"message\":\"tick\",\"num\":3}",
    "{\"event.module\":\"clog\",\"message\":\"start\",\"tags\":[\"alpha\",\"beta-1\"]}",
    "{\"event.module\":\"auditd\",\"records\":[{\"type\":\"EXECVE\",\"a0\":\"curl\","
    "\"a1\":\"http://x\"}]}",
    "{\"event.module\":\"auditd\",\"records\":[{\"type\":\"SYSCALL\",\"SYSCALL\":\"personality\","
    "\"a0\":\"40000\"}]}",
};

/* Rules: detection (with logsource) and the alerts each must give. */
static const struct {
    const char *name, *ls, *det;
    unsigned want;
} rules[] = {
    { "re_caseless_s", "{product: docker, service: container_logs}",
      "s: {message|re|i: 'task'}\n  condition: s", 1 },
    { "re_caseless_k", "{product: docker, service: container_logs}",
      "s: {message|re|i: 'kelvin is'}\n  condition: s", 1 },
    { "re_inline_flag", "{product: docker, service: container_logs}",
      "s: {message|re: '(?i)TASK'}\n  condition: s", 1 },
    { "int_as_text", "{product: docker, service: container_logs}",
      "s: {n: 40000}\n  condition: s", 1 },
    { "bool_as_text", "{product: docker, service: container_logs}",
      "s: {ok: 'true'}\n  condition: s", 1 },
    { "real_as_text", "{product: docker, service: container_logs}",
      "s: {r|contains: 'e+300'}\n  condition: s", 1 },
    { "contains_caseless", "{product: docker, service: container_logs}",
      "s: {message|contains: 'get /a'}\n  condition: s", 1 },
    { "re_optional_group", "{product: docker, service: container_logs}",
      "s: {message|re: 'err(or)? [0-9]+ at'}\n  condition: s", 1 },
    { "windash", "{product: docker, service: container_logs}",
      "s: {message|windash|contains: ' -exec'}\n  condition: s", 1 },
    { "base64offset", "{product: docker, service: container_logs}",
      "s: {message|base64offset|contains: 'secret'}\n  condition: s", 1 },
    { "cased_eq", "{product: docker, service: container_logs}",
      "s: {message|cased: 'Exact'}\n  condition: s", 1 },
    { "and_numeric", "{product: docker, service: container_logs}",
      "s: {message|startswith: 'tick', num|gt: 5}\n  condition: s", 1 },
    { "not_plain", "{product: docker, service: container_logs}",
      "s: {message|contains: 'filler'}\n  condition: not s", 13 },
    { "strlist_item", "{product: docker, service: container_logs}",
      "s: {tags: 'BETA-1'}\n  condition: s", 1 },
    { "keyword_joined_argv", "{product: linux, service: auditd}",
      "k: ['curl http']\n  condition: k", 1 },
    { "auditd_int_text", "{product: linux, service: auditd}",
      "s: {type: SYSCALL, a0: 40000}\n  condition: s", 1 },
    { "exists_only", "{product: docker, service: container_logs}",
      "s: {ok|exists: true}\n  condition: s", 1 },
};

struct alerts {
    char **v;
    size_t n;
};

static int collect(const char *json, size_t len, void *arg)
{
    struct alerts *a = arg;
    char **nv = realloc(a->v, (a->n + 1) * sizeof(*nv));
    WK_ASSERT(nv != NULL);
    a->v = nv;
    a->v[a->n++] = strndup(json, len);
    return 0;
}

static void alerts_free(struct alerts *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    memset(a, 0, sizeof(*a));
}

/* A store of small blocks (1 KiB of raw events, no dictionary, no fsync) in the test's
 * directory. */
static struct wk_store *small_block_store(void)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/st", wk_test_tmpdir());
    struct wk_store_opts o;
    wk_store_opts_init(&o);
    o.fsync = false;
    o.block_raw_max = 1024;
    o.dictionaries = false;
    struct wk_store *st = NULL;
    WK_ASSERT_OK(wk_store_open(&st, dir, &o));
    return st;
}

/* Add a clog event whose message is text followed by " i", at time i ns past 2026. */
static void add_clog_line(struct wk_store *st, struct wk_event *ev, const char *text, int i)
{
    char line[256];
    snprintf(line, sizeof(line), "{\"event.module\":\"clog\",\"message\":\"%s %d\"}", text, i);
    WK_ASSERT_OK(wk_event_from_json(ev, line, strlen(line), NULL));
    wk_event_set_ts(ev, 1767225600LL * 1000000000 + i);
    WK_ASSERT_OK(wk_store_add(st, ev, NULL, NULL));
}

/* Build a store of 400 filler clog lines (several small blocks) with the crafted events
 * spread among them. */
static struct wk_store *crafted_store(void)
{
    struct wk_store *st = small_block_store();
    struct wk_event *ev = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    size_t nc = sizeof(crafted) / sizeof(crafted[0]);
    for (int i = 0; i < 400; i++) {
        char line[512];
        const char *text = line;
        if (i % 25 == 7 && (size_t)(i / 25) < nc)
            text = crafted[i / 25];
        else
            snprintf(line, sizeof(line),
                     "{\"event.module\":\"clog\",\"message\":\"filler line %d\",\"seq\":%d}", i, i);
        const char *err = NULL;
        if (wk_event_from_json(ev, text, strlen(text), &err) < 0)
            WK_FAIL("event %d: %s", i, err ? err : "?");
        wk_event_set_ts(ev, 1767225600LL * 1000000000 + (int64_t)i * 1000000);
        WK_ASSERT_OK(wk_store_add(st, ev, NULL, NULL));
    }
    wk_event_free(ev);
    WK_ASSERT_OK(wk_store_flush(st));
    return st;
}

static struct wk_ruleset *load_rules(const char *const *paths, size_t n)
{
    char ls[4200], ph[4200];
    snprintf(ls, sizeof(ls), "%s/rules/logsources.yaml", wk_test_srcdir());
    snprintf(ph, sizeof(ph), "%s/rules/placeholders.yaml", wk_test_srcdir());
    struct wk_rule_loader *l = NULL;
    struct wk_ruleset *rs = NULL;
    WK_ASSERT_OK(wk_rule_loader_new(&l));
    WK_ASSERT_OK(wk_rule_loader_logsources(l, ls));
    WK_ASSERT_OK(wk_rule_loader_placeholders(l, ph));
    for (size_t i = 0; i < n; i++)
        WK_ASSERT(wk_rule_loader_add(l, paths[i]) >= 0);
    WK_ASSERT_OK(wk_rule_loader_build(l, &rs));
    WK_ASSERT_UINT_EQ(wk_rule_loader_nrejects(l), 0);
    wk_rule_loader_free(l);
    return rs;
}

static void hunt(struct wk_store *st, struct wk_ruleset *rs, bool block, struct alerts *a,
                 struct wk_hunt_stats *hs)
{
    struct wk_hunt_opts o = { 0 };
    o.threads = 2;
    o.no_block_prefilter = !block;
    WK_ASSERT_OK(wk_hunt_store(st, rs, &o, collect, a, hs));
}

WK_TEST(block_prefilter_crafted_exact)
{
    struct wk_store *st = crafted_store();
    struct wk_store_block_info bi;
    struct wk_store_reader *rd = NULL;
    WK_ASSERT_OK(wk_store_reader_open(st, &rd));
    WK_ASSERT_OK(wk_store_block_info(rd, 8, &bi)); /* several blocks */
    wk_store_reader_close(rd);
    size_t filtered = 0;
    bool has_hs = false;
    for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
        char path[4200], y[2048];
        snprintf(path, sizeof(path), "%s/%s.yml", wk_test_tmpdir(), rules[r].name);
        snprintf(y, sizeof(y),
                 "title: %s\nid: %s\nlogsource: %s\ndetection:\n  %s\nlevel: low\n",
                 rules[r].name, rules[r].name, rules[r].ls, rules[r].det);
        write_file(path, y);
        const char *p = path;
        struct wk_ruleset *rs = load_rules(&p, 1);
        has_hs = wk_ruleset_has_prefilter(rs);
        struct alerts on = { 0 }, off = { 0 };
        struct wk_hunt_stats s1 = { 0 }, s2 = { 0 };
        hunt(st, rs, true, &on, &s1);
        hunt(st, rs, false, &off, &s2);
        if (on.n != rules[r].want || off.n != rules[r].want)
            WK_FAIL("%s: %zu alerts with the block prefilter, %zu without, want %u",
                    rules[r].name, on.n, off.n, rules[r].want);
        for (size_t i = 0; i < on.n; i++)
            WK_ASSERT_STR_EQ(on.v[i], off.v[i]);
        /* (built without Hyperscan there is no block prefilter: the same alerts) */
        WK_ASSERT(s1.block_prefilter == wk_ruleset_has_prefilter(rs));
        WK_ASSERT(!s2.block_prefilter);
        WK_ASSERT(s1.events <= s2.events);
        if (s1.events < s2.events) /* it decoded fewer events */
            filtered++;
        alerts_free(&on);
        alerts_free(&off);
        wk_ruleset_unref(rs);
    }
    /* ten rules have literals of their own and decode fewer events; the
     * integer, boolean, real, caseless 'task' (only "ta" left), inline-flag, exists and
     * `not` rules fall back to their logsource's event.module (and decode every clog
     * event) */
    WK_ASSERT_UINT_EQ(filtered, has_hs ? 10 : 0);
    wk_store_close(st);
}

/* The crafted rules over the crafted store, hot and after the cold tier merged its blocks
 * into values of several blocks (one worker takes a value's blocks): the same alerts, with
 * the same store references, with and without the block prefilter. */
WK_TEST(cold_values_same_alerts)
{
    struct wk_store *st = crafted_store();
    size_t nr = sizeof(rules) / sizeof(rules[0]);
    struct alerts *hot = calloc(nr, sizeof(*hot));
    WK_ASSERT(hot != NULL);
    struct wk_ruleset **rs = calloc(nr, sizeof(*rs));
    WK_ASSERT(rs != NULL);
    size_t total = 0;
    for (size_t r = 0; r < nr; r++) {
        char path[4200], y[2048];
        snprintf(path, sizeof(path), "%s/%s.yml", wk_test_tmpdir(), rules[r].name);
        snprintf(y, sizeof(y),
                 "title: %s\nid: %s\nlogsource: %s\ndetection:\n  %s\nlevel: low\n",
                 rules[r].name, rules[r].name, rules[r].ls, rules[r].det);
        write_file(path, y);
        const char *p = path;
        rs[r] = load_rules(&p, 1);
        hunt(st, rs[r], true, &hot[r], NULL);
        total += hot[r].n;
    }
    wk_store_close(st);
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/st", wk_test_tmpdir());
    struct wk_store_opts o;
    wk_store_opts_init(&o);
    o.fsync = false;
    o.cold_block_bytes = 3000; /* about 3 blocks of 1 KiB per value */
    WK_ASSERT_OK(wk_store_open(&st, dir, &o));
    uint64_t done = 0;
    WK_ASSERT_OK(wk_store_recompact(st, INT64_MAX, 0, &done));
    struct wk_store_stats ss;
    WK_ASSERT_OK(wk_store_stats(st, &ss));
    WK_ASSERT(done >= ss.blocks - 4);
    if (ss.values * 2 > ss.blocks) /* merged */
        WK_FAIL("%llu values for %llu blocks (%llu made cold)", (unsigned long long)ss.values,
                (unsigned long long)ss.blocks, (unsigned long long)done);
    for (size_t r = 0; r < nr; r++) {
        struct alerts on = { 0 }, off = { 0 };
        struct wk_hunt_stats s1 = { 0 }, s2 = { 0 };
        hunt(st, rs[r], true, &on, &s1);
        hunt(st, rs[r], false, &off, &s2);
        WK_ASSERT_UINT_EQ(on.n, rules[r].want);
        WK_ASSERT_UINT_EQ(on.n, hot[r].n);
        WK_ASSERT_UINT_EQ(off.n, hot[r].n);
        for (size_t i = 0; i < on.n; i++) {
            WK_ASSERT_STR_EQ(on.v[i], hot[r].v[i]);
            WK_ASSERT_STR_EQ(off.v[i], hot[r].v[i]);
        }
        alerts_free(&on);
        alerts_free(&off);
        alerts_free(&hot[r]);
        wk_ruleset_unref(rs[r]);
    }
    WK_ASSERT(total > 10);
    free(hot);
    free(rs);
    wk_store_close(st);
}

WK_TEST(block_prefilter_pack_and_corpus_same_alerts)
{
    /* the pack and every corpus Sigma rule over corpus-shaped events plus the pack's
     * positive samples: the same alerts, in the same order, with and without it */
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/st", wk_test_tmpdir());
    struct wk_store_opts o;
    wk_store_opts_init(&o);
    o.fsync = false;
    o.block_raw_max = 16384;
    struct wk_store *st = NULL;
    WK_ASSERT_OK(wk_store_open(&st, dir, &o));
    struct wk_event *ev = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    static const char *const samples[] = {
        "cap_sys_admin", "clog_auth_failure_burst", "clog_injection_patterns",
        "container_docker_socket_access", "container_escape_syscalls",
        "container_sensitive_file_read", "container_shell_exec", "crash_loop",
        "docker_socket_mounted", "exec_storm", "host_namespaces", "image_latest_tag",
        "image_not_allowed", "privileged_container", "seccomp_apparmor_unconfined",
        "sensitive_host_mount", "setuid_setgid_chmod",
    };
    size_t nev = 0;
    for (size_t f = 0; f < sizeof(samples) / sizeof(samples[0]); f++)
        for (int pos = 0; pos < 2; pos++) {
            char p[4200];
            snprintf(p, sizeof(p), "%s/rules/samples/%s.%s.jsonl", wk_test_srcdir(),
                     samples[f], pos ? "pos" : "neg");
            char *text = wk_test_read_file(p, NULL);
            for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                WK_ASSERT_OK(wk_event_from_json(ev, line, strlen(line), NULL));
                WK_ASSERT_OK(wk_store_add(st, ev, NULL, NULL));
                nev++;
            }
            free(text);
        }
    for (size_t i = 0; i < sizeof(crafted) / sizeof(crafted[0]); i++) {
        WK_ASSERT_OK(wk_event_from_json(ev, crafted[i], strlen(crafted[i]), NULL));
        wk_event_set_ts(ev, 1767225600LL * 1000000000);
        WK_ASSERT_OK(wk_store_add(st, ev, NULL, NULL));
    }
    /* auditd events no rule can match: skipped undecoded (clog events are all decoded:
     * the pack's injection regex has no usable literal and falls back to event.module) */
    for (int i = 0; i < 100; i++) {
        char line[256];
        snprintf(line, sizeof(line),
                 "{\"event.module\":\"auditd\",\"records\":[{\"type\":\"CWD\","
                 "\"cwd\":\"/srv/app%d\"}]}", i);
        WK_ASSERT_OK(wk_event_from_json(ev, line, strlen(line), NULL));
        wk_event_set_ts(ev, 1767225600LL * 1000000000 + i);
        WK_ASSERT_OK(wk_store_add(st, ev, NULL, NULL));
    }
    wk_event_free(ev);
    WK_ASSERT_OK(wk_store_flush(st));
    WK_ASSERT(nev > 60);
    char pack[4200], c1[4200], c2[4200], c3[4200];
    snprintf(pack, sizeof(pack), "%s/rules", wk_test_srcdir());
    snprintf(c1, sizeof(c1), "%s/sigma/rules", wk_test_corpus());
    snprintf(c2, sizeof(c2), "%s/sigma/deprecated", wk_test_corpus());
    snprintf(c3, sizeof(c3), "%s/sigma/rules-emerging-threats", wk_test_corpus());
    const char *const paths[] = { pack, c1, c2, c3 };
    struct wk_ruleset *rs = load_rules(paths, 4);
    struct alerts on = { 0 }, off = { 0 };
    struct wk_hunt_stats s1 = { 0 }, s2 = { 0 };
    hunt(st, rs, true, &on, &s1);
    hunt(st, rs, false, &off, &s2);
    WK_ASSERT(s1.block_prefilter == wk_ruleset_has_prefilter(rs));
    WK_ASSERT_UINT_EQ(s1.skipped_events, wk_ruleset_has_prefilter(rs) ? 100 : 0);
    WK_ASSERT_UINT_EQ(s2.skipped_events, 0);
    WK_ASSERT_UINT_EQ(on.n, 36);
    WK_ASSERT_UINT_EQ(on.n, off.n);
    for (size_t i = 0; i < on.n; i++)
        WK_ASSERT_STR_EQ(on.v[i], off.v[i]);
    /* the alert writer gives exactly jansson's compact dump of the same JSON */
    for (size_t i = 0; i < on.n; i++) {
        json_error_t e;
        json_t *j = json_loads(on.v[i], 0, &e);
        if (!j)
            WK_FAIL("alert %zu is not JSON: %s", i, e.text);
        char *d = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        WK_ASSERT_STR_EQ(on.v[i], d);
        free(d);
        json_decref(j);
    }
    alerts_free(&on);
    alerts_free(&off);
    wk_ruleset_unref(rs);
    wk_store_close(st);
}

WK_TEST(block_prefilter_gives_up_when_it_keeps_most)
{
    /* a rule whose literal is in 9 events of 10: after 32 blocks the worker stops scanning
     * (the scan would cost more than the tenth it skips); the alerts stay the same */
    struct wk_store *st = small_block_store();
    struct wk_event *ev = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    for (int i = 0; i < 6000; i++)
        add_clog_line(st, ev, i % 10 == 3 ? "other line" : "common line", i);
    wk_event_free(ev);
    WK_ASSERT_OK(wk_store_flush(st));
    char path[4200];
    snprintf(path, sizeof(path), "%s/r.yml", wk_test_tmpdir());
    write_file(path, "title: common\nid: c1\nlogsource: {product: docker, service: "
                     "container_logs}\ndetection:\n  s: {message|contains: 'common line'}\n"
                     "  condition: s\nlevel: low\n");
    const char *p = path;
    struct wk_ruleset *rs = load_rules(&p, 1);
    struct alerts on = { 0 }, off = { 0 };
    struct wk_hunt_stats s1 = { 0 }, s2 = { 0 };
    struct wk_hunt_opts ho = { 0 };
    ho.threads = 1;
    WK_ASSERT_OK(wk_hunt_store(st, rs, &ho, collect, &on, &s1));
    ho.no_block_prefilter = true;
    WK_ASSERT_OK(wk_hunt_store(st, rs, &ho, collect, &off, &s2));
    WK_ASSERT_UINT_EQ(on.n, 5400);
    WK_ASSERT_UINT_EQ(on.n, off.n);
    for (size_t i = 0; i < on.n; i++)
        WK_ASSERT_STR_EQ(on.v[i], off.v[i]);
    WK_ASSERT(s1.blocks > 66);
    if (wk_ruleset_has_prefilter(rs)) /* it skipped in the first 32 blocks only, not all 600 */
        WK_ASSERT(s1.skipped_events > 0 && s1.skipped_events < 600);
    alerts_free(&on);
    alerts_free(&off);
    wk_ruleset_unref(rs);
    wk_store_close(st);
}

/* Records holding a regex's literal but no match of it are skipped undecoded when the regex
 * only looks at what it matches, and decoded when it is anchored; the alerts stay those of
 * hunt without the block prefilter either way. */
WK_TEST(block_prefilter_regex_on_records)
{
    struct wk_store *st = small_block_store();
    struct wk_event *ev = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    /* every 3rd: the literal " test log" without a match; every 10th: a match at the
     * start of the message; every 7th: a match inside it */
    for (int i = 0; i < 600; i++)
        add_clog_line(st, ev,
                      i % 10 == 0  ? "stdout partial test log"
                      : i % 7 == 0 ? "cri stderr full test log"
                      : i % 3 == 0 ? "cri stdout test log"
                                   : "filler line",
                      i);
    wk_event_free(ev);
    WK_ASSERT_OK(wk_store_flush(st));
    static const struct {
        const char *re;
        unsigned want;    /* alerts */
        bool exact;       /* decodes only the events that match */
    } t[] = {
        { "std(err|out) [a-z]+ test log", 60 + 77, true },
        { "^std(err|out) [a-z]+ test log", 60, false },
        { "std(err|out) [a-z]++ test log", 60 + 77, false },
    };
    for (size_t r = 0; r < sizeof(t) / sizeof(t[0]); r++) {
        char path[4200], y[1024];
        snprintf(path, sizeof(path), "%s/r%zu.yml", wk_test_tmpdir(), r);
        snprintf(y, sizeof(y),
                 "title: r\nid: r%zu\nlogsource: {product: docker, service: container_logs}\n"
                 "detection:\n  s: {message|re: '%s'}\n  condition: s\nlevel: low\n",
                 r, t[r].re);
        write_file(path, y);
        const char *p = path;
        struct wk_ruleset *rs = load_rules(&p, 1);
        struct alerts on = { 0 }, off = { 0 };
        struct wk_hunt_stats s1 = { 0 }, s2 = { 0 };
        hunt(st, rs, true, &on, &s1);
        hunt(st, rs, false, &off, &s2);
        WK_ASSERT_UINT_EQ(on.n, t[r].want);
        WK_ASSERT_UINT_EQ(off.n, t[r].want);
        for (size_t i = 0; i < on.n; i++)
            WK_ASSERT_STR_EQ(on.v[i], off.v[i]);
        WK_ASSERT_UINT_EQ(s2.events, 600);
        if (wk_ruleset_has_prefilter(rs)) {
            /* literal hits: 60 + 77 matches and the 3rd events that are neither */
            if (t[r].exact)
                WK_ASSERT_UINT_EQ(s1.events, t[r].want);
            else
                WK_ASSERT_UINT_EQ(s1.events, 60 + 77 + 154);
        }
        alerts_free(&on);
        alerts_free(&off);
        wk_ruleset_unref(rs);
    }
    wk_store_close(st);
}
