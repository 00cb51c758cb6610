/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rule engine: Sigma loading (and rejections with positions), every detection feature
 * and value modifier, per-record auditd matching, correlations, state persistence, alerts.
 * docs/rules.md names these tests in its feature table.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watchkeeper/error.h"
#include "watchkeeper/rule.h"
#include "rules_util.h"
#include "wk_test.h"

static const char *test_ls =
    "logsources:\n"
    "  - logsource: {product: linux, service: auditd}\n"
    "    match: {event.module: auditd}\n"
    "    per_record: true\n"
    "    keyword_argv_record: EXECVE\n"
    "  - logsource: {category: test}\n"
    "    match: {}\n";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    WK_ASSERT(f != NULL);
    fputs(text, f);
    fclose(f);
}

static char last_reject[1024];
static char last_reject_file[4200];

/* Load one YAML text (with the test logsource mapping and placeholders); pf: the
 * loader's prefilter on (1) or off (0), or its default (-1). */
static struct wk_ruleset *load_text_pf(const char *yaml, size_t *nrej, int pf)
{
    char p[4200], ls[4200], ph[4200];
    snprintf(p, sizeof(p), "%s/r.yml", wk_test_tmpdir());
    snprintf(ls, sizeof(ls), "%s/ls.yaml", wk_test_tmpdir());
    snprintf(ph, sizeof(ph), "%s/ph.yaml", wk_test_tmpdir());
    write_file(p, yaml);
    write_file(ls, test_ls);
    write_file(ph, "admins: [root, 'adm*']\nsh: ['/bin/sh', '/bin/bash']\n");
    struct wk_rule_loader *l = NULL;
    struct wk_ruleset *rs = NULL;
    WK_ASSERT_OK(wk_rule_loader_new(&l));
    WK_ASSERT_INT_EQ(wk_rule_loader_logsources(l, ls), 0);
    WK_ASSERT_INT_EQ(wk_rule_loader_placeholders(l, ph), 0);
    WK_ASSERT(wk_rule_loader_add(l, p) >= 0);
    if (pf >= 0)
        wk_rule_loader_set_prefilter(l, pf != 0);
    WK_ASSERT_OK(wk_rule_loader_build(l, &rs));
    *nrej = wk_rule_loader_nrejects(l);
    last_reject[0] = 0;
    if (*nrej) {
        const struct wk_rule_reject *r = wk_rule_loader_reject(l, 0);
        snprintf(last_reject, sizeof(last_reject), "%u:%u: %s", r->line, r->col, r->msg);
        snprintf(last_reject_file, sizeof(last_reject_file), "%s", r->file ? r->file : "");
    }
    wk_rule_loader_free(l);
    return rs;
}

static struct wk_ruleset *load_text(const char *yaml, size_t *nrej)
{
    return load_text_pf(yaml, nrej, -1);
}

static struct wk_ruleset *load_ok(const char *yaml)
{
    size_t nrej = 0;
    struct wk_ruleset *rs = load_text(yaml, &nrej);
    if (nrej)
        WK_FAIL("unexpected rejection: %s", last_reject);
    return rs;
}

static void expect_reject(const char *yaml, const char *msg)
{
    size_t nrej = 0;
    struct wk_ruleset *rs = load_text(yaml, &nrej);
    WK_ASSERT_INT_EQ(nrej, 1);
    WK_ASSERT_STR_EQ(last_reject, msg);
    wk_ruleset_unref(rs);
}

static struct wk_event *ev_json(const char *json)
{
    struct wk_event *ev = NULL;
    const char *err = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    if (wk_event_from_json(ev, json, strlen(json), &err) < 0)
        WK_FAIL("bad test event: %s", err ? err : "?");
    return ev;
}

/* Number of alerts of a fresh scratch on one event. */
static int hits(struct wk_ruleset *rs, const char *json)
{
    struct wk_rule_scratch *sc = NULL;
    WK_ASSERT_OK(wk_rule_scratch_new(&sc, rs, NULL));
    struct wk_event *ev = ev_json(json);
    int n = wk_ruleset_eval(rs, sc, ev, NULL, NULL);
    WK_ASSERT(n >= 0);
    wk_event_free(ev);
    wk_rule_scratch_free(sc);
    return n;
}

#define RULE(det)                                                                        \
    "title: t\nid: 11111111-1111-4111-8111-111111111111\nlogsource: {category: test}\n"  \
    "detection:\n" det

static void check(const char *yaml, const char *const *yes, const char *const *no)
{
    struct wk_ruleset *rs = load_ok(yaml);
    for (size_t i = 0; yes && yes[i]; i++)
        if (hits(rs, yes[i]) != 1)
            WK_FAIL("expected a match on %s", yes[i]);
    for (size_t i = 0; no && no[i]; i++)
        if (hits(rs, no[i]) != 0)
            WK_FAIL("expected no match on %s", no[i]);
    wk_ruleset_unref(rs);
}
#define YES(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NO(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* ---- the corpus ------------------------------------------------------------------------ */
static struct wk_ruleset *load_dirs(const char *const *dirs, size_t *nrej, size_t *nrules)
{
    char ls[4200], p[4200];
    snprintf(ls, sizeof(ls), "%s/rules/logsources.yaml", wk_test_srcdir());
    struct wk_rule_loader *l = NULL;
    struct wk_ruleset *rs = NULL;
    WK_ASSERT_OK(wk_rule_loader_new(&l));
    WK_ASSERT_INT_EQ(wk_rule_loader_logsources(l, ls), 0);
    snprintf(ls, sizeof(ls), "%s/rules/placeholders.yaml", wk_test_srcdir());
    WK_ASSERT_INT_EQ(wk_rule_loader_placeholders(l, ls), 0);
    for (size_t i = 0; dirs[i]; i++) {
        snprintf(p, sizeof(p), "%s/%s", wk_test_corpus(), dirs[i]);
        WK_ASSERT(wk_rule_loader_add(l, p) > 0);
    }
    WK_ASSERT_OK(wk_rule_loader_build(l, &rs));
    *nrej = wk_rule_loader_nrejects(l);
    for (size_t i = 0; i < *nrej; i++) {
        const struct wk_rule_reject *r = wk_rule_loader_reject(l, i);
        fprintf(stderr, "# reject %s:%u:%u: %s\n", r->file, r->line, r->col, r->msg);
    }
    *nrules = wk_ruleset_nrules(rs);
    wk_rule_loader_free(l);
    return rs;
}

WK_TEST(corpus_rules_all_load)
{
    /* every SigmaHQ rule of the corpus meant to load: rules/, deprecated/, emerging threats */
    size_t nrej, n;
    struct wk_ruleset *rs = load_dirs(
        (const char *const[]){ "sigma/rules", "sigma/deprecated", "sigma/rules-emerging-threats",
                               NULL },
        &nrej, &n);
    WK_ASSERT_INT_EQ(nrej, 0);
    WK_ASSERT_INT_EQ(n, 76); /* 53 auditd + 4 process_creation + 16 kubernetes + 2 + 1 */
    wk_ruleset_unref(rs);
}

WK_TEST(corpus_unsupported_rejected_with_feature)
{
    /* unsupported/: four use the removed v1 pipe aggregation, named; one loads */
    size_t nrej, n;
    struct wk_ruleset *rs =
        load_dirs((const char *const[]){ "sigma/unsupported", NULL }, &nrej, &n);
    WK_ASSERT_INT_EQ(nrej, 4);
    WK_ASSERT_INT_EQ(n, 1);
    wk_ruleset_unref(rs);
}

static const char *corpus_rule(const char *rel, char *buf, size_t len)
{
    snprintf(buf, len, "%s/sigma/rules/linux/auditd/%s", wk_test_corpus(), rel);
    return buf;
}

static struct wk_ruleset *load_corpus_rule(const char *rel)
{
    char ls[4200], p[4200];
    snprintf(ls, sizeof(ls), "%s/rules/logsources.yaml", wk_test_srcdir());
    struct wk_rule_loader *l = NULL;
    struct wk_ruleset *rs = NULL;
    WK_ASSERT_OK(wk_rule_loader_new(&l));
    WK_ASSERT_INT_EQ(wk_rule_loader_logsources(l, ls), 0);
    WK_ASSERT_INT_EQ(wk_rule_loader_add(l, corpus_rule(rel, p, sizeof(p))), 1);
    WK_ASSERT_OK(wk_rule_loader_build(l, &rs));
    WK_ASSERT_INT_EQ(wk_rule_loader_nrejects(l), 0);
    wk_rule_loader_free(l);
    return rs;
}

#define AUDITD(recs) "{\"@timestamp\":\"2024-05-01T10:00:00Z\",\"event\":{\"module\":\"auditd\"}," \
                     "\"records\":[" recs "]}"

WK_TEST(auditd_per_record_aslr)
{
    /* SYSCALL a0 is a hex argument: `a0: 40000` matches its raw text in the SYSCALL record
     * only; an EXECVE record with a0=40000 (a string argument) does not satisfy the SYSCALL
     * selection, and fields of two records never combine. */
    struct wk_ruleset *rs = load_corpus_rule("lnx_auditd_disable_aslr_protection.yml");
    WK_ASSERT_INT_EQ(hits(rs, AUDITD("{\"type\":\"SYSCALL\",\"SYSCALL\":\"personality\","
                                     "\"a0\":\"40000\"}")),
                     1);
    WK_ASSERT_INT_EQ(hits(rs, AUDITD("{\"type\":\"SYSCALL\",\"SYSCALL\":\"personality\","
                                     "\"a0\":\"0\"},{\"type\":\"EXECVE\",\"a0\":\"40000\"}")),
                     0);
    WK_ASSERT_INT_EQ(hits(rs, AUDITD("{\"type\":\"SYSCALL\",\"SYSCALL\":\"execve\"},"
                                     "{\"type\":\"EXECVE\",\"a0\":\"sysctl\",\"a1\":\"-w\","
                                     "\"a2\":\"kernel.randomize_va_space=0\"}")),
                     1);
    /* field names are case-sensitive: `syscall` is not `SYSCALL` */
    WK_ASSERT_INT_EQ(hits(rs, AUDITD("{\"type\":\"SYSCALL\",\"syscall\":\"personality\","
                                     "\"a0\":\"40000\"}")),
                     0);
    wk_ruleset_unref(rs);
}

WK_TEST(auditd_keywords_see_joined_argv)
{
    /* bpfdoor: keyword '--to-ports 42' spans EXECVE arguments a5 and a6 */
    struct wk_ruleset *rs = load_corpus_rule("execve/lnx_auditd_bpfdoor_port_redirect.yml");
    WK_ASSERT_INT_EQ(
        hits(rs, AUDITD("{\"type\":\"SYSCALL\",\"SYSCALL\":\"execve\"},{\"type\":\"EXECVE\","
                        "\"argc\":\"7\",\"a0\":\"/sbin/iptables\",\"a1\":\"-t\",\"a2\":\"nat\","
                        "\"a3\":\"-A\",\"a4\":\"PREROUTING\",\"a5\":\"--to-ports\","
                        "\"a6\":\"42392\"}")),
        1);
    WK_ASSERT_INT_EQ(
        hits(rs, AUDITD("{\"type\":\"EXECVE\",\"a0\":\"/sbin/iptables\",\"a1\":\"-t\","
                        "\"a2\":\"nat\",\"a3\":\"--to-ports\",\"a4\":\"8080\"}")),
        0);
    wk_ruleset_unref(rs);
}

WK_TEST(auditd_type_value_case_insensitive)
{
    /* `type: 'execve'` (lower case in 6 SigmaHQ rules) matches record type EXECVE */
    struct wk_ruleset *rs = load_corpus_rule("execve/lnx_auditd_masquerading_crond.yml");
    WK_ASSERT_INT_EQ(hits(rs, AUDITD("{\"type\":\"EXECVE\",\"a0\":\"cp\",\"a1\":\"/bin/sh\","
                                     "\"a2\":\"/etc/cron.d/crond\"}")),
                     1);
    WK_ASSERT_INT_EQ(hits(rs, AUDITD("{\"type\":\"EXECVE\",\"a0\":\"cp\",\"a1\":\"/bin/sh\","
                                     "\"a2\":\"/etc/cron.d/other\"}")),
                     0);
    wk_ruleset_unref(rs);
}

WK_TEST(auditd_integer_raw_text)
{
    /* `euid: 33` compares with the field's text "33"; an int field 33 too */
    struct wk_ruleset *rs = load_corpus_rule("syscall/lnx_auditd_web_rce.yml");
    WK_ASSERT_INT_EQ(hits(rs, AUDITD("{\"type\":\"SYSCALL\",\"SYSCALL\":\"execve\","
                                     "\"euid\":\"33\"}")),
                     1);
    WK_ASSERT_INT_EQ(hits(rs, AUDITD("{\"type\":\"SYSCALL\",\"SYSCALL\":\"execve\","
                                     "\"euid\":33}")),
                     1);
    WK_ASSERT_INT_EQ(hits(rs, AUDITD("{\"type\":\"SYSCALL\",\"SYSCALL\":\"execve\","
                                     "\"euid\":\"0x21\"}")),
                     0);
    wk_ruleset_unref(rs);
}

WK_TEST(auditd_regex_rule_fires)
{
    struct wk_ruleset *rs = load_corpus_rule("execve/lnx_auditd_hidden_files_directories.yml");
    WK_ASSERT_INT_EQ(hits(rs, AUDITD("{\"type\":\"EXECVE\",\"a0\":\"mkdir\","
                                     "\"a1\":\"/tmp/.hidden\"}")),
                     1);
    WK_ASSERT_INT_EQ(hits(rs, AUDITD("{\"type\":\"EXECVE\",\"a0\":\"mkdir\","
                                     "\"a1\":\"/tmp/visible\"}")),
                     0);
    wk_ruleset_unref(rs);
}

WK_TEST(process_creation_view)
{
    char ls[4200], p[4200];
    snprintf(ls, sizeof(ls), "%s/rules/logsources.yaml", wk_test_srcdir());
    snprintf(p, sizeof(p),
             "%s/sigma/rules/linux/process_creation/"
             "proc_creation_lnx_susp_container_residence_discovery.yml",
             wk_test_corpus());
    struct wk_rule_loader *l = NULL;
    struct wk_ruleset *rs = NULL;
    WK_ASSERT_OK(wk_rule_loader_new(&l));
    WK_ASSERT_OK(wk_rule_loader_logsources(l, ls));
    WK_ASSERT_INT_EQ(wk_rule_loader_add(l, p), 1);
    WK_ASSERT_OK(wk_rule_loader_build(l, &rs));
    wk_rule_loader_free(l);
    WK_ASSERT_INT_EQ(hits(rs, "{\"@timestamp\":\"2024-05-01T10:00:00Z\",\"event\":{\"module\":"
                              "\"auditd\",\"action\":\"execve\"},\"Image\":\"/usr/bin/cat\","
                              "\"CommandLine\":\"cat /proc/1/cgroup\"}"),
                     1);
    /* not an execve event: the process_creation view does not apply */
    WK_ASSERT_INT_EQ(hits(rs, "{\"@timestamp\":\"2024-05-01T10:00:00Z\",\"event\":{\"module\":"
                              "\"auditd\",\"action\":\"open\"},\"Image\":\"/usr/bin/cat\","
                              "\"CommandLine\":\"cat /proc/1/cgroup\"}"),
                     0);
    wk_ruleset_unref(rs);
}

/* ---- detection semantics ---------------------------------------------------------------- */
WK_TEST(map_and_list_or)
{
    check(RULE("  sel:\n    a: x\n    b: [y, z]\n  condition: sel\n"),
          YES("{\"a\":\"x\",\"b\":\"z\"}", "{\"a\":\"X\",\"b\":\"Y\"}"),
          NO("{\"a\":\"x\"}", "{\"a\":\"x\",\"b\":\"w\"}"));
}

WK_TEST(list_of_maps_or)
{
    check(RULE("  sel:\n    - a: x\n    - b: y\n  condition: sel\n"),
          YES("{\"a\":\"x\"}", "{\"b\":\"y\"}"), NO("{\"a\":\"y\"}"));
}

WK_TEST(null_and_empty)
{
    check(RULE("  sel:\n    a: null\n  condition: sel\n"), YES("{\"b\":1}", "{\"a\":null}"),
          NO("{\"a\":\"\"}", "{\"a\":\"x\"}"));
    check(RULE("  sel:\n    a: ''\n  condition: sel\n"), YES("{\"a\":\"\"}"),
          NO("{\"b\":1}", "{\"a\":\"x\"}"));
    /* an empty list is a null test (pySigma) */
    check(RULE("  sel:\n    a: []\n  condition: sel\n"), YES("{\"b\":1}"), NO("{\"a\":\"x\"}"));
}

WK_TEST(keywords_plain_and_all)
{
    check(RULE("  kw:\n    - evil\n    - bad\n  condition: kw\n"),
          YES("{\"message\":\"an EVIL thing\"}", "{\"x\":\"so bad\"}"), NO("{\"message\":\"ok\"}"));
    check(RULE("  kw:\n    '|all':\n      - foo\n      - bar\n  condition: kw\n"),
          YES("{\"message\":\"foo and bar\"}", "{\"a\":\"foo\",\"b\":\"bar\"}"),
          NO("{\"message\":\"foo only\"}"));
}

WK_TEST(wildcards_and_escapes)
{
    check(RULE("  sel:\n    a: 'ab*c?e'\n  condition: sel\n"),
          YES("{\"a\":\"abXXcde\"}", "{\"a\":\"ABcdE\"}", "{\"a\":\"abc\xc3\xa9\x65\"}"),
          NO("{\"a\":\"abcde2\"}", "{\"a\":\"abce\"}"));
    /* \* is a literal star, \\ a backslash, other \x keep the backslash */
    check(RULE("  sel:\n    a: 'a\\*b'\n    c: 'C:\\Windows\\\\*'\n  condition: sel\n"),
          YES("{\"a\":\"a*b\",\"c\":\"c:\\\\windows\\\\x\"}"),
          NO("{\"a\":\"axb\",\"c\":\"c:\\\\windows\\\\x\"}"));
}

WK_TEST(cased_and_case_insensitive)
{
    check(RULE("  sel:\n    a|cased: Foo\n  condition: sel\n"), YES("{\"a\":\"Foo\"}"),
          NO("{\"a\":\"foo\"}"));
    check(RULE("  sel:\n    a: Foo\n  condition: sel\n"), YES("{\"a\":\"fOO\"}"),
          NO("{\"A\":\"foo\"}"));
}

WK_TEST(numbers_as_text_and_strlist)
{
    check(RULE("  sel:\n    a: 26\n    t: true\n  condition: sel\n"),
          YES("{\"a\":26,\"t\":true}", "{\"a\":\"26\",\"t\":\"True\"}"),
          NO("{\"a\":\"0x1a\",\"t\":true}", "{\"a\":26.5,\"t\":true}"));
    check(RULE("  sel:\n    tags: b\n  condition: sel\n"), YES("{\"tags\":[\"a\",\"b\"]}"),
          NO("{\"tags\":[\"a\",\"c\"]}"));
}

WK_TEST(condition_grammar)
{
    const char *d = "  s1:\n    a: 1\n  s2:\n    b: 1\n  _f:\n    c: 1\n";
    char y[2048];
    snprintf(y, sizeof(y), RULE("%s  condition: s1 and not (s2 or _f)\n"), d);
    check(y, YES("{\"a\":1}"), NO("{\"a\":1,\"b\":1}", "{\"a\":1,\"c\":1}"));
    snprintf(y, sizeof(y), RULE("%s  condition: all of s*\n"), d);
    check(y, YES("{\"a\":1,\"b\":1}"), NO("{\"a\":1}"));
    snprintf(y, sizeof(y), RULE("%s  condition: 1 of them\n"), d);
    check(y, YES("{\"a\":1}", "{\"b\":1}"), NO("{\"c\":1}")); /* them skips _f */
    snprintf(y, sizeof(y), RULE("%s  condition: all of them\n"), d);
    check(y, YES("{\"a\":1,\"b\":1}"), NO("{\"a\":1}"));
    snprintf(y, sizeof(y), RULE("%s  condition: any of s* and not _f\n"), d);
    check(y, YES("{\"b\":1}"), NO("{\"b\":1,\"c\":1}"));
    snprintf(y, sizeof(y), RULE("%s  condition:\n    - s1 and s2\n    - _f\n"), d);
    check(y, YES("{\"a\":1,\"b\":1}", "{\"c\":1}"), NO("{\"a\":1}"));
    /* precedence: or < and < not */
    snprintf(y, sizeof(y), RULE("%s  condition: s1 or s2 and _f\n"), d);
    check(y, YES("{\"a\":1}", "{\"b\":1,\"c\":1}"), NO("{\"b\":1}"));
    /* word boundaries: an identifier named notx is not `not x` */
    check(RULE("  notx:\n    a: 1\n  condition: notx\n"), YES("{\"a\":1}"), NO("{\"a\":2}"));
}

/* ---- modifiers ---------------------------------------------------------------------------- */
WK_TEST(mod_contains_startswith_endswith)
{
    check(RULE("  sel:\n    a|contains: mid\n    b|startswith: '/home/*/x'\n"
               "    c|endswith: .SH\n  condition: sel\n"),
          YES("{\"a\":\"xMIDx\",\"b\":\"/home/u/xy\",\"c\":\"run.sh\"}"),
          NO("{\"a\":\"mi\",\"b\":\"/home/u/xy\",\"c\":\"run.sh\"}",
             "{\"a\":\"mid\",\"b\":\"/opt/u/xy\",\"c\":\"run.sh\"}",
             "{\"a\":\"mid\",\"b\":\"/home/u/xy\",\"c\":\"run.shx\"}"));
}

WK_TEST(mod_all)
{
    check(RULE("  sel:\n    a|contains|all: [x, y]\n  condition: sel\n"),
          YES("{\"a\":\"..y..x\"}"), NO("{\"a\":\"x\"}"));
}

WK_TEST(mod_re_flags)
{
    check(RULE("  sel:\n    a|re: '^ab+c$'\n  condition: sel\n"), YES("{\"a\":\"abbc\"}"),
          NO("{\"a\":\"ABBC\"}", "{\"a\":\"xabc\"}"));
    check(RULE("  sel:\n    a|re|i: '^ab+c$'\n  condition: sel\n"), YES("{\"a\":\"ABBC\"}"),
          NO("{\"a\":\"ac\"}"));
    check(RULE("  sel:\n    a|re|m: '^two$'\n  condition: sel\n"),
          YES("{\"a\":\"one\\ntwo\\nthree\"}"), NO("{\"a\":\"one two\"}"));
    check(RULE("  sel:\n    a|re|s: 'one.two'\n  condition: sel\n"),
          YES("{\"a\":\"one\\ntwo\"}"), NO("{\"a\":\"one\\n\\ntwo\"}"));
}

WK_TEST(mod_cidr)
{
    check(RULE("  sel:\n    ip|cidr: [10.0.0.0/8, 'fd00::/8']\n  condition: sel\n"),
          YES("{\"ip\":\"10.2.3.4\"}", "{\"ip\":\"fd12::1\"}"),
          NO("{\"ip\":\"11.0.0.1\"}", "{\"ip\":\"fe80::1\"}", "{\"ip\":\"nope\"}"));
}

WK_TEST(mod_base64_base64offset)
{
    /* base64("secret") = c2VjcmV0 */
    check(RULE("  sel:\n    a|base64|contains: secret\n  condition: sel\n"),
          YES("{\"a\":\"xx c2VjcmV0 yy\"}"), NO("{\"a\":\"C2VJCMV0\"}", "{\"a\":\"secret\"}"));
    /* the three offsets of "ping" inside longer base64 text */
    check(RULE("  sel:\n    a|base64offset|contains: ping\n  condition: sel\n"),
          YES("{\"a\":\"cGluZyBob3N0\"}",  /* "ping host" */
              "{\"a\":\"IHBpbmcgaG9zdA==\"}", /* " ping host" */
              "{\"a\":\"eCBwaW5nIGhvc3Q=\"}"), /* "x ping host" */
          NO("{\"a\":\"aG9zdA==\"}"));
}

WK_TEST(mod_utf16_wide)
{
    /* "ab" UTF-16LE = 61 00 62 00, base64 YQBiAA== ; BE = 00 61 00 62 -> AGEAYg== */
    check(RULE("  sel:\n    a|wide|base64: ab\n  condition: sel\n"), YES("{\"a\":\"YQBiAA==\"}"),
          NO("{\"a\":\"AGEAYg==\"}"));
    check(RULE("  sel:\n    a|utf16le|base64: ab\n  condition: sel\n"),
          YES("{\"a\":\"YQBiAA==\"}"), NO("{\"a\":\"YWI=\"}"));
    check(RULE("  sel:\n    a|utf16be|base64: ab\n  condition: sel\n"),
          YES("{\"a\":\"AGEAYg==\"}"), NO("{\"a\":\"YQBiAA==\"}"));
    /* utf16: BOM FF FE then LE: //5hAGIA */
    check(RULE("  sel:\n    a|utf16|base64: ab\n  condition: sel\n"),
          YES("{\"a\":\"//5hAGIA\"}"), NO("{\"a\":\"YQBiAA==\"}"));
}

WK_TEST(mod_windash)
{
    check(RULE("  sel:\n    a|windash|contains: ' -exec'\n  condition: sel\n"),
          YES("{\"a\":\"x -exec\"}", "{\"a\":\"x /exec\"}", "{\"a\":\"x \xe2\x80\x93" "exec\"}",
              "{\"a\":\"x \xe2\x80\x94" "exec\"}", "{\"a\":\"x \xe2\x80\x95" "exec\"}"),
          NO("{\"a\":\"x exec\"}", "{\"a\":\"x +exec\"}"));
}

WK_TEST(mod_exists)
{
    check(RULE("  sel:\n    a|exists: true\n    b|exists: false\n  condition: sel\n"),
          YES("{\"a\":\"\"}", "{\"a\":null}"), NO("{\"a\":1,\"b\":1}", "{\"c\":1}"));
}

WK_TEST(mod_numeric)
{
    check(RULE("  sel:\n    a|gt: 10\n    b|gte: 10\n    c|lt: 5\n    d|lte: 5.5\n"
               "  condition: sel\n"),
          YES("{\"a\":11,\"b\":10,\"c\":\"4\",\"d\":5.5}"),
          NO("{\"a\":10,\"b\":10,\"c\":4,\"d\":5}", "{\"a\":\"x\",\"b\":10,\"c\":4,\"d\":5}",
             "{\"a\":11,\"b\":10,\"c\":4,\"d\":6}"));
}

WK_TEST(mod_fieldref)
{
    check(RULE("  sel:\n    a|fieldref: b\n  condition: sel\n"),
          YES("{\"a\":\"X\",\"b\":\"x\"}", "{\"a\":7,\"b\":\"7\"}"),
          NO("{\"a\":\"x\",\"b\":\"y\"}", "{\"a\":\"x\"}"));
    check(RULE("  sel:\n    a|fieldref|startswith: b\n  condition: sel\n"),
          YES("{\"a\":\"/usr/bin/x\",\"b\":\"/usr\"}"), NO("{\"a\":\"/opt/x\",\"b\":\"/usr\"}"));
}

WK_TEST(mod_expand)
{
    check(RULE("  sel:\n    user|expand: '%admins%'\n  condition: sel\n"),
          YES("{\"user\":\"root\"}", "{\"user\":\"admin2\"}"), NO("{\"user\":\"bob\"}"));
    check(RULE("  sel:\n    a: '100%sh%'\n  condition: sel\n"), YES("{\"a\":\"100%sh%\"}"),
          NO("{\"a\":\"100/bin/sh\"}"));
    expect_reject(RULE("  sel:\n    a|expand: '%nope%'\n  condition: sel\n"),
                  "6:16: modifier 'expand': placeholder %nope% has no configured values");
}

WK_TEST(mod_neq)
{
    check(RULE("  sel:\n    a|neq: [x, y]\n  condition: sel\n"), YES("{\"a\":\"z\"}"),
          NO("{\"a\":\"x\"}", "{\"a\":\"Y\"}"));
}

/* Time modifiers: the part of an RFC 3339 value in UTC, at the edges of each part. */
WK_TEST(mod_time_parts)
{
    check(RULE("  sel:\n    t|minute: 59\n  condition: sel\n"),
          YES("{\"t\":\"2026-11-23T09:59:00Z\"}", "{\"t\":\"2026-11-23T09:59:59.999999999Z\"}",
              "{\"t\":[\"x\",\"2026-11-23t10:29:00+05:30\"]}"),
          NO("{\"t\":\"2026-11-23T09:58:59.999Z\"}", "{\"t\":\"2026-11-23T10:00:00Z\"}",
             "{\"t\":\"2026-11-23T09:59:00+05:45\"}"));
    /* offsets are converted to UTC; text that is not RFC 3339 and numbers never match */
    check(RULE("  sel:\n    t|hour: 0\n  condition: sel\n"),
          YES("{\"t\":\"2026-11-23T00:00:00Z\"}", "{\"t\":\"2026-11-22T23:30:00-01:00\"}",
              "{\"t\":\"2026-11-23 01:59:59+01:00\"}"),
          NO("{\"t\":\"2026-11-23T23:59:59Z\"}", "{\"t\":\"2026-11-23T01:00:00Z\"}",
             "{\"t\":\"2026-11-23T00:30:00+01:00\"}", "{\"t\":\"2026-11-23\"}",
             "{\"t\":\"00:00:00\"}", "{\"t\":0}", "{\"u\":\"2026-11-23T00:00:00Z\"}"));
    check(RULE("  sel:\n    t|day: 1\n  condition: sel\n"),
          YES("{\"t\":\"2026-03-01T00:00:00Z\"}", "{\"t\":\"2026-02-28T23:30:00-01:00\"}"),
          NO("{\"t\":\"2026-02-28T23:59:59Z\"}", "{\"t\":\"2026-03-01T00:30:00+01:00\"}"));
    check(RULE("  sel:\n    t|month: 12\n  condition: sel\n"),
          YES("{\"t\":\"2026-12-31T23:59:59Z\"}", "{\"t\":\"2026-12-01T00:00:00Z\"}"),
          NO("{\"t\":\"2027-01-01T00:00:00Z\"}", "{\"t\":\"2026-11-30T23:59:59Z\"}"));
    check(RULE("  sel:\n    t|year: 2027\n  condition: sel\n"),
          YES("{\"t\":\"2027-01-01T00:00:00Z\"}", "{\"t\":\"2026-12-31T23:30:00-01:00\"}"),
          NO("{\"t\":\"2026-12-31T23:59:59.999999999Z\"}", "{\"t\":\"2028-01-01T00:00:00Z\"}"));
    /* ISO 8601 weeks: 2020 and 2026 have 53, 2024 has 52; week 1 holds the first Thursday */
    check(RULE("  sel:\n    t|week: 53\n  condition: sel\n"),
          YES("{\"t\":\"2020-12-31T12:00:00Z\"}", "{\"t\":\"2021-01-03T23:59:59Z\"}",
              "{\"t\":\"2027-01-03T10:00:00Z\"}", "{\"t\":\"2026-12-28T00:00:00Z\"}"),
          NO("{\"t\":\"2021-01-04T00:00:00Z\"}", "{\"t\":\"2024-12-29T12:00:00Z\"}",
             "{\"t\":\"2026-12-27T23:59:59Z\"}", "{\"t\":\"2026-01-01T00:00:00Z\"}",
             "{\"t\":\"2022-01-02T00:00:00Z\"}"));
    check(RULE("  sel:\n    t|week: 1\n  condition: sel\n"),
          YES("{\"t\":\"2024-12-30T00:00:00Z\"}", "{\"t\":\"2026-01-01T00:00:00Z\"}",
              "{\"t\":\"2021-01-10T23:59:59Z\"}"),
          NO("{\"t\":\"2024-12-29T23:59:59Z\"}", "{\"t\":\"2021-01-03T00:00:00Z\"}",
             "{\"t\":\"2021-01-11T00:00:00Z\"}"));
}

/* Combined with gt/gte/lt/lte (either order) and neq; the event's own `@timestamp`. */
WK_TEST(mod_time_compare_and_event_timestamp)
{
    check(RULE("  sel:\n    t|hour|gte: 9\n    t|lt|hour: 17\n  condition: sel\n"),
          YES("{\"t\":\"2026-11-23T09:00:00Z\"}", "{\"t\":\"2026-11-23T16:59:59Z\"}"),
          NO("{\"t\":\"2026-11-23T08:59:59Z\"}", "{\"t\":\"2026-11-23T17:00:00Z\"}"));
    check(RULE("  sel:\n    t|month|gt: 3\n    t|month|lte: 4\n  condition: sel\n"),
          YES("{\"t\":\"2026-04-01T00:00:00Z\"}", "{\"t\":\"2026-04-30T23:59:59Z\"}"),
          NO("{\"t\":\"2026-03-31T23:59:59Z\"}", "{\"t\":\"2026-05-01T00:00:00Z\"}"));
    check(RULE("  sel:\n    t|day|neq: 1\n  condition: sel\n"),
          YES("{\"t\":\"2026-11-02T00:00:00Z\"}"), NO("{\"t\":\"2026-11-01T23:59:59Z\"}"));
    check(RULE("  sel:\n    '@timestamp|hour': 23\n    '@timestamp|minute|gte': 30\n"
               "  condition: sel\n"),
          YES("{\"@timestamp\":\"2026-11-23T23:30:00Z\"}",
              "{\"@timestamp\":\"2026-11-23T23:59:59.999999999Z\"}",
              "{\"@timestamp\":\"2026-11-24T01:45:00+02:00\"}"),
          NO("{\"@timestamp\":\"2026-11-23T23:29:59.999999999Z\"}",
             "{\"@timestamp\":\"2026-11-24T00:00:00Z\"}", "{\"a\":1}"));
    /* an event without a timestamp (0) has no time parts */
    check(RULE("  sel:\n    '@timestamp|year': 1970\n  condition: sel\n"),
          YES("{\"@timestamp\":\"1970-01-01T00:00:00.000000001Z\"}"), NO("{\"a\":1}"));
}

WK_TEST(mod_time_reject_bad_values)
{
    expect_reject(RULE("  sel:\n    a|hour: 24\n  condition: sel\n"),
                  "6:13: modifier 'hour': '24' is not an integer from 0 to 23");
    WK_ASSERT(strlen(last_reject_file) > 6);
    WK_ASSERT_STR_EQ(last_reject_file + strlen(last_reject_file) - 6, "/r.yml");
    expect_reject(RULE("  sel:\n    a|minute: [0, 60]\n  condition: sel\n"),
                  "6:16: modifier 'minute': '60' is not an integer from 0 to 59");
    expect_reject(RULE("  sel:\n    a|minute: -1\n  condition: sel\n"),
                  "6:15: modifier 'minute': '-1' is not an integer from 0 to 59");
    expect_reject(RULE("  sel:\n    a|day: 0\n  condition: sel\n"),
                  "6:12: modifier 'day': '0' is not an integer from 1 to 31");
    expect_reject(RULE("  sel:\n    a|day: 1.5\n  condition: sel\n"),
                  "6:12: modifier 'day': '1.5' is not an integer from 1 to 31");
    expect_reject(RULE("  sel:\n    a|week: 54\n  condition: sel\n"),
                  "6:13: modifier 'week': '54' is not an integer from 1 to 53");
    expect_reject(RULE("  sel:\n    a|month: 13\n  condition: sel\n"),
                  "6:14: modifier 'month': '13' is not an integer from 1 to 12");
    expect_reject(RULE("  sel:\n    a|year: '2026*'\n  condition: sel\n"),
                  "6:14: modifier 'year': '2026*' is not an integer from 0 to 9999");
    expect_reject(RULE("  sel:\n    a|hour|contains: 3\n  condition: sel\n"),
                  "6:22: time modifier 'hour' combined with a string modifier");
    expect_reject(RULE("  sel:\n    a|hour|minute: 3\n  condition: sel\n"),
                  "6:20: two time modifiers");
    expect_reject(RULE("  sel:\n    a|hour|re: 3\n  condition: sel\n"),
                  "6:16: modifier 're' combined with a non-regex modifier");
    expect_reject(RULE("  sel:\n    a|hour: null\n  condition: sel\n"),
                  "6:13: null value with a modifier");
    expect_reject(RULE("  sel:\n    '|hour': 3\n  condition: sel\n"),
                  "6:14: a keyword (field-less) search cannot use this modifier");
}

/* ---- rejections ------------------------------------------------------------------------------ */
WK_TEST(reject_unknown_modifier_with_position)
{
    expect_reject(RULE("  sel:\n    a|nonsense: x\n  condition: sel\n"),
                  "6:5: unsupported value modifier 'nonsense'");
    expect_reject(RULE("  sel:\n    a|second: 5\n  condition: sel\n"),
                  "6:5: unsupported value modifier 'second'");
}

WK_TEST(reject_bad_conditions)
{
    expect_reject(RULE("  sel:\n    a: x\n  condition: sel and nope\n"),
                  "7:14: condition: unknown search identifier 'nope'");
    expect_reject(RULE("  sel:\n    a: x\n  condition: sel | count() > 5\n"),
                  "7:14: condition: legacy aggregation/near pipe syntax '|' (removed in Sigma "
                  "2.0; write a correlation rule)");
    expect_reject(RULE("  sel:\n    a: x\n  condition: 2 of sel\n"),
                  "7:14: condition: quantifier '2 of' (only '1 of', 'any of', 'all of')");
    expect_reject(RULE("  sel:\n    a: x\n  condition: (sel\n"),
                  "7:14: condition: expected ')' near 'end'");
}

WK_TEST(reject_bad_values)
{
    expect_reject(RULE("  sel:\n    a|re: '(['\n  condition: sel\n"),
                  "6:12: modifier 're': missing terminating ] for character class at offset 2");
    expect_reject(RULE("  sel:\n    a|cidr: 10.0.0.0/33\n  condition: sel\n"),
                  "6:13: modifier 'cidr': bad network '10.0.0.0/33'");
    expect_reject(RULE("  sel:\n    a|all: x\n  condition: sel\n"),
                  "6:5: modifier 'all' on a single value (spec: only for value lists)");
    expect_reject(RULE("  sel:\n    a|base64: 'x*'\n  condition: sel\n"),
                  "6:16: wildcards are not allowed in an encoded (base64/utf16) value");
    expect_reject("title: t\nlogsource: {product: windows}\ndetection:\n  s:\n    a: 1\n"
                  "  condition: s\n",
                  "2:13: logsource {product: windows, service: -, category: -} has no mapping "
                  "in logsources.yaml");
    expect_reject("title: [\n", "2:1: YAML syntax: flow sequence without a closing bracket");
}

/* ---- correlations ------------------------------------------------------------------------------ */
struct rec_alerts {
    int n;
    char last[4096];
    double value;
};

static int rec_cb(const struct wk_alert *a, void *data)
{
    struct rec_alerts *r = data;
    r->n++;
    r->value = a->value;
    char *j = NULL;
    WK_ASSERT_OK(wk_alert_to_json(a, &j, NULL));
    snprintf(r->last, sizeof(r->last), "%s", j);
    free(j);
    return 0;
}

static int feed(struct wk_ruleset *rs, struct wk_rule_scratch *sc, int sec, const char *fields,
                struct rec_alerts *ra)
{
    char j[1024];
    snprintf(j, sizeof(j), "{\"@timestamp\":\"2024-05-01T10:%02d:%02dZ\",%s}", sec / 60,
             sec % 60, fields);
    struct wk_event *ev = ev_json(j);
    int n = wk_ruleset_eval(rs, sc, ev, rec_cb, ra);
    wk_event_free(ev);
    return n;
}

static const char *base =
    "title: base\nname: base\nlogsource: {category: test}\n"
    "detection:\n  s:\n    a: x\n  condition: s\n---\n";

WK_TEST(corr_event_count_groupby_timespan)
{
    char y[4096];
    snprintf(y, sizeof(y),
             "%stitle: burst\nid: c1\nlevel: high\ncorrelation:\n  type: event_count\n"
             "  rules: [base]\n  group-by: [host]\n  timespan: 10s\n  condition:\n    gte: 3\n",
             base);
    struct wk_ruleset *rs = load_ok(y);
    struct wk_rule_scratch *sc = NULL;
    struct rec_alerts ra = { 0 };
    WK_ASSERT_OK(wk_rule_scratch_new(&sc, rs, NULL));
    /* the base rule is referenced without generate: it makes no alert of its own */
    WK_ASSERT_INT_EQ(feed(rs, sc, 0, "\"a\":\"x\",\"host\":\"h1\"", &ra), 0);
    WK_ASSERT_INT_EQ(feed(rs, sc, 1, "\"a\":\"x\",\"host\":\"h2\"", &ra), 0);
    WK_ASSERT_INT_EQ(feed(rs, sc, 5, "\"a\":\"x\",\"host\":\"h1\"", &ra), 0);
    WK_ASSERT_INT_EQ(feed(rs, sc, 20, "\"a\":\"x\",\"host\":\"h1\"", &ra), 0); /* window passed */
    WK_ASSERT_INT_EQ(feed(rs, sc, 21, "\"a\":\"x\",\"host\":\"h1\"", &ra), 0);
    WK_ASSERT_INT_EQ(feed(rs, sc, 25, "\"a\":\"x\",\"host\":\"h1\"", &ra), 1);
    WK_ASSERT(strstr(ra.last, "\"group\":{\"host\":\"h1\"}") != NULL);
    WK_ASSERT(strstr(ra.last, "\"type\":\"event_count\"") != NULL);
    WK_ASSERT(strstr(ra.last, "\"contributing\":[{\"@timestamp\":\"2024-05-01T10:00:20."
                              "000000000Z\"") != NULL);
    WK_ASSERT(ra.value == 3);
    wk_rule_scratch_free(sc);
    wk_ruleset_unref(rs);
}

WK_TEST(corr_event_count_out_of_order_and_late)
{
    char y[4096];
    snprintf(y, sizeof(y),
             "%stitle: burst\nid: c1\ncorrelation:\n  type: event_count\n  rules: [base]\n"
             "  group-by: [host]\n  timespan: 10s\n  condition:\n    gte: 2\n",
             base);
    struct wk_ruleset *rs = load_ok(y);
    struct wk_rule_scratch *sc = NULL;
    struct wk_corr_opts o;
    wk_corr_opts_init(&o);
    o.lateness_ns = 30LL * 1000000000;
    struct rec_alerts ra = { 0 };
    WK_ASSERT_OK(wk_rule_scratch_new(&sc, rs, &o));
    WK_ASSERT_INT_EQ(feed(rs, sc, 100, "\"a\":\"x\",\"host\":\"h\"", &ra), 0);
    /* 40 s older than the newest: beyond the lateness, dropped and counted */
    WK_ASSERT_INT_EQ(feed(rs, sc, 60, "\"a\":\"x\",\"host\":\"h\"", &ra), 0);
    /* 5 s older, within lateness and window (event time): fires */
    WK_ASSERT_INT_EQ(feed(rs, sc, 95, "\"a\":\"x\",\"host\":\"h\"", &ra), 1);
    struct wk_rule_stats st;
    wk_rule_scratch_stats(sc, &st);
    WK_ASSERT_UINT_EQ(st.corr_late, 1);
    wk_rule_scratch_free(sc);
    wk_ruleset_unref(rs);
}

WK_TEST(corr_value_count_and_lt_flush)
{
    char y[4096];
    snprintf(y, sizeof(y),
             "%stitle: many users\nid: c2\ncorrelation:\n  type: value_count\n  rules: base\n"
             "  group-by: [host]\n  timespan: 1m\n  condition:\n    gt: 2\n    field: user\n"
             "---\ntitle: few users\nid: c3\ncorrelation:\n  type: value_count\n  rules: base\n"
             "  group-by: [host]\n  timespan: 1m\n  generate: true\n  condition:\n"
             "    lt: 2\n    field: user\n",
             base);
    struct wk_ruleset *rs = load_ok(y);
    struct wk_rule_scratch *sc = NULL;
    struct rec_alerts ra = { 0 };
    WK_ASSERT_OK(wk_rule_scratch_new(&sc, rs, NULL));
    /* generate: true on c3 lets the base rule alert too */
    WK_ASSERT_INT_EQ(feed(rs, sc, 0, "\"a\":\"x\",\"host\":\"h\",\"user\":\"u1\"", &ra), 1);
    WK_ASSERT_INT_EQ(feed(rs, sc, 1, "\"a\":\"x\",\"host\":\"h\",\"user\":\"u1\"", &ra), 1);
    WK_ASSERT_INT_EQ(feed(rs, sc, 2, "\"a\":\"x\",\"host\":\"h\",\"user\":\"u2\"", &ra), 1);
    WK_ASSERT_INT_EQ(feed(rs, sc, 3, "\"a\":\"x\",\"host\":\"h\",\"user\":\"u3\"", &ra), 2);
    WK_ASSERT(strstr(ra.last, "\"title\":\"many users\"") != NULL);
    WK_ASSERT(ra.value == 3);
    WK_ASSERT_INT_EQ(feed(rs, sc, 10, "\"a\":\"x\",\"host\":\"k\",\"user\":\"u1\"", &ra), 1);
    /* lt is decided when the window closes: at the end of the stream */
    ra.n = 0;
    WK_ASSERT_INT_EQ(wk_rule_scratch_flush(sc, rec_cb, &ra), 1);
    WK_ASSERT(strstr(ra.last, "\"group\":{\"host\":\"k\"}") != NULL);
    wk_rule_scratch_free(sc);
    wk_ruleset_unref(rs);
}

static const char *two =
    "title: r1\nname: r1\nlogsource: {category: test}\ndetection:\n  s:\n    a: one\n"
    "  condition: s\n---\n"
    "title: r2\nname: r2\nlogsource: {category: test}\ndetection:\n  s:\n    a: two\n"
    "  condition: s\n---\n";

WK_TEST(corr_temporal_with_aliases)
{
    char y[4096];
    snprintf(y, sizeof(y),
             "%stitle: both\nid: c4\ncorrelation:\n  type: temporal\n  rules: [r1, r2]\n"
             "  group-by: [who]\n  timespan: 30s\n  aliases:\n    who:\n      r1: user\n"
             "      r2: target\n",
             two);
    struct wk_ruleset *rs = load_ok(y);
    struct wk_rule_scratch *sc = NULL;
    struct rec_alerts ra = { 0 };
    WK_ASSERT_OK(wk_rule_scratch_new(&sc, rs, NULL));
    WK_ASSERT_INT_EQ(feed(rs, sc, 0, "\"a\":\"two\",\"target\":\"bob\"", &ra), 0);
    WK_ASSERT_INT_EQ(feed(rs, sc, 5, "\"a\":\"one\",\"user\":\"eve\"", &ra), 0);
    WK_ASSERT_INT_EQ(feed(rs, sc, 6, "\"a\":\"one\",\"user\":\"bob\"", &ra), 1);
    WK_ASSERT(strstr(ra.last, "\"group\":{\"who\":\"bob\"}") != NULL);
    wk_rule_scratch_free(sc);
    wk_ruleset_unref(rs);
}

WK_TEST(corr_temporal_ordered)
{
    char y[4096];
    snprintf(y, sizeof(y),
             "%stitle: seq\nid: c5\ncorrelation:\n  type: temporal_ordered\n  rules: [r1, r2]\n"
             "  group-by: [h]\n  timespan: 30s\n",
             two);
    struct wk_ruleset *rs = load_ok(y);
    struct wk_rule_scratch *sc = NULL;
    struct rec_alerts ra = { 0 };
    WK_ASSERT_OK(wk_rule_scratch_new(&sc, rs, NULL));
    WK_ASSERT_INT_EQ(feed(rs, sc, 0, "\"a\":\"two\",\"h\":\"x\"", &ra), 0);
    WK_ASSERT_INT_EQ(feed(rs, sc, 1, "\"a\":\"one\",\"h\":\"x\"", &ra), 0); /* wrong order */
    WK_ASSERT_INT_EQ(feed(rs, sc, 2, "\"a\":\"two\",\"h\":\"x\"", &ra), 1);
    wk_rule_scratch_free(sc);
    wk_ruleset_unref(rs);
}

WK_TEST(corr_memory_ceiling_evicts)
{
    char y[4096];
    snprintf(y, sizeof(y),
             "%stitle: burst\nid: c1\ncorrelation:\n  type: event_count\n  rules: [base]\n"
             "  group-by: [host]\n  timespan: 1h\n  condition:\n    gte: 2\n",
             base);
    struct wk_ruleset *rs = load_ok(y);
    struct wk_rule_scratch *sc = NULL;
    struct wk_corr_opts o;
    wk_corr_opts_init(&o);
    o.max_bytes = 2000;
    struct rec_alerts ra = { 0 };
    WK_ASSERT_OK(wk_rule_scratch_new(&sc, rs, &o));
    char f[128];
    for (int i = 0; i < 100; i++) {
        snprintf(f, sizeof(f), "\"a\":\"x\",\"host\":\"h%d\"", i);
        feed(rs, sc, i, f, &ra);
    }
    struct wk_rule_stats st;
    wk_rule_scratch_stats(sc, &st);
    WK_ASSERT(st.corr_bytes <= 2000);
    WK_ASSERT(st.corr_evicted > 50);
    WK_ASSERT_UINT_EQ(st.corr_groups + st.corr_evicted, 100);
    WK_ASSERT_INT_EQ(ra.n, 0);
    wk_rule_scratch_free(sc);
    wk_ruleset_unref(rs);
}

WK_TEST(corr_state_survives_restart)
{
    char y[4096];
    snprintf(y, sizeof(y),
             "%stitle: burst\nid: c1\ncorrelation:\n  type: event_count\n  rules: [base]\n"
             "  group-by: [host]\n  timespan: 1m\n  condition:\n    gte: 3\n",
             base);
    struct wk_ruleset *rs = load_ok(y);
    struct wk_rule_scratch *sc = NULL;
    struct rec_alerts ra = { 0 };
    WK_ASSERT_OK(wk_rule_scratch_new(&sc, rs, NULL));
    feed(rs, sc, 0, "\"a\":\"x\",\"host\":\"h\"", &ra);
    feed(rs, sc, 1, "\"a\":\"x\",\"host\":\"h\"", &ra);
    char *state = NULL;
    size_t len = 0;
    WK_ASSERT_OK(wk_rule_scratch_save(sc, &state, &len));
    wk_rule_scratch_free(sc);
    wk_ruleset_unref(rs);
    /* a new process: a freshly loaded ruleset and scratch, state restored */
    rs = load_ok(y);
    WK_ASSERT_OK(wk_rule_scratch_new(&sc, rs, NULL));
    WK_ASSERT_OK(wk_rule_scratch_restore(sc, state, len));
    free(state);
    WK_ASSERT_INT_EQ(feed(rs, sc, 2, "\"a\":\"x\",\"host\":\"h\"", &ra), 1);
    WK_ASSERT_INT_EQ(wk_rule_scratch_restore(sc, "[", 1), WK_EPARSE);
    wk_rule_scratch_free(sc);
    wk_ruleset_unref(rs);
}

WK_TEST(corr_unresolved_reference_rejected)
{
    size_t nrej = 0;
    struct wk_ruleset *rs = load_text(
        "title: c\ncorrelation:\n  type: event_count\n  rules: [missing]\n  group-by: [a]\n"
        "  timespan: 5m\n  condition:\n    gte: 2\n",
        &nrej);
    WK_ASSERT_INT_EQ(nrej, 1);
    WK_ASSERT_STR_EQ(last_reject, "1:1: correlation 'rules': 'missing' names no loaded rule "
                                  "(id or name)");
    WK_ASSERT_INT_EQ(wk_ruleset_nrules(rs), 0);
    wk_ruleset_unref(rs);
}

WK_TEST(pysigma_correlation_fixture_loads)
{
    char p[4200], ls[4200];
    snprintf(p, sizeof(p), "%s/sigma/pysigma-tests/correlation_rule_valid__correlation_rule.yml",
             wk_test_corpus());
    snprintf(ls, sizeof(ls), "%s/ls.yaml", wk_test_tmpdir());
    write_file(ls, test_ls);
    struct wk_rule_loader *l = NULL;
    struct wk_ruleset *rs = NULL;
    WK_ASSERT_OK(wk_rule_loader_new(&l));
    WK_ASSERT_OK(wk_rule_loader_logsources(l, ls));
    WK_ASSERT_INT_EQ(wk_rule_loader_add(l, p), 6);
    WK_ASSERT_OK(wk_rule_loader_build(l, &rs));
    WK_ASSERT_INT_EQ(wk_rule_loader_nrejects(l), 0);
    wk_rule_loader_free(l);
    /* event_count gte 10 on (fieldC, fieldD) */
    struct wk_rule_scratch *sc = NULL;
    struct rec_alerts ra = { 0 };
    WK_ASSERT_OK(wk_rule_scratch_new(&sc, rs, NULL));
    int n = 0;
    for (int i = 0; i < 10; i++)
        n += feed(rs, sc, i, "\"fieldA\":\"value1\",\"fieldB\":\"value2\",\"fieldC\":\"c\","
                             "\"fieldD\":\"d\"",
                  &ra);
    WK_ASSERT_INT_EQ(n, 1);
    WK_ASSERT(strstr(ra.last, "\"title\":\"Multiple occurrences of base event\"") != NULL);
    wk_rule_scratch_free(sc);
    wk_ruleset_unref(rs);
}

WK_TEST(spec_correlation_examples)
{
    /* The spec's schema examples reference rules that are not part of them: each is
     * rejected for that reason; value_percentile is rejected as unsupported. */
    char p[4200], ls[4200];
    snprintf(ls, sizeof(ls), "%s/ls.yaml", wk_test_tmpdir());
    write_file(ls, test_ls);
    struct wk_rule_loader *l = NULL;
    struct wk_ruleset *rs = NULL;
    WK_ASSERT_OK(wk_rule_loader_new(&l));
    WK_ASSERT_OK(wk_rule_loader_logsources(l, ls));
    snprintf(p, sizeof(p), "%s/sigma/spec-tests/correlation/value_percentile.yml",
             wk_test_corpus());
    WK_ASSERT_INT_EQ(wk_rule_loader_add(l, p), 0);
    WK_ASSERT_INT_EQ(wk_rule_loader_nrejects(l), 1);
    WK_ASSERT(strstr(wk_rule_loader_reject(l, 0)->msg,
                     "unsupported correlation type 'value_percentile'") != NULL);
    snprintf(p, sizeof(p), "%s/sigma/spec-tests/correlation/temporal_ordered.yml",
             wk_test_corpus());
    WK_ASSERT_INT_EQ(wk_rule_loader_add(l, p), 1);
    WK_ASSERT_OK(wk_rule_loader_build(l, &rs));
    WK_ASSERT_INT_EQ(wk_rule_loader_nrejects(l), 2);
    WK_ASSERT(strstr(wk_rule_loader_reject(l, 1)->msg, "'recon_cmd_a' names no loaded rule"));
    wk_rule_loader_free(l);
    wk_ruleset_unref(rs);
}

WK_TEST(alert_json_carries_author_and_attack)
{
    struct wk_ruleset *rs = load_ok(
        "title: t\nid: x-1\nauthor: Jane Doe\nlevel: high\n"
        "tags: [attack.execution, attack.t1059.004, attack.t1611]\n"
        "logsource: {category: test}\ndetection:\n  s:\n    a: x\n  condition: s\n");
    struct wk_rule_scratch *sc = NULL;
    struct rec_alerts ra = { 0 };
    WK_ASSERT_OK(wk_rule_scratch_new(&sc, rs, NULL));
    WK_ASSERT_INT_EQ(feed(rs, sc, 0, "\"a\":\"x\"", &ra), 1);
    const char *want = "{\"@timestamp\":\"2024-05-01T10:00:00.000000000Z\",\"rule\":{\"id\":"
                     "\"x-1\",\"title\":\"t\",\"level\":\"high\",\"type\":\"detection\","
                     "\"tags\":[\"attack.execution\",\"attack.t1059.004\",\"attack.t1611\"],"
                     "\"attack\":[\"T1059.004\",\"T1611\"],\"author\":\"Jane Doe\",\"file\":\"";
    if (strncmp(ra.last, want, strlen(want)) != 0)
        WK_FAIL("alert JSON:\n  got:  %s\n  want: %s...", ra.last, want);
    WK_ASSERT(strstr(ra.last, "\"event\":{\"@timestamp\"") != NULL);
    wk_rule_scratch_free(sc);
    wk_ruleset_unref(rs);
}

/* ---- prefilter --------------------------------------------------------------------------- */
struct jsonv {
    char **v;
    size_t n;
};

static int collect_cb(const struct wk_alert *a, void *data)
{
    struct jsonv *j = data;
    char *s = NULL;
    WK_ASSERT_OK(wk_alert_to_json(a, &s, NULL));
    j->v = realloc(j->v, (j->n + 1) * sizeof(char *));
    j->v[j->n++] = s;
    return 0;
}

static void run_pf(bool pf, const char *const *events, struct jsonv *out)
{
    struct wk_ruleset *rs = rules_pack_and_corpus(wk_test_corpus(), pf);
    WK_ASSERT_INT_EQ(wk_ruleset_has_prefilter(rs), pf && WK_HAVE_HYPERSCAN);
    struct wk_rule_scratch *sc = NULL;
    WK_ASSERT_OK(wk_rule_scratch_new(&sc, rs, NULL));
    for (size_t i = 0; events[i]; i++) {
        struct wk_event *ev = ev_json(events[i]);
        WK_ASSERT(wk_ruleset_eval(rs, sc, ev, collect_cb, out) >= 0);
        wk_event_free(ev);
    }
    wk_rule_scratch_free(sc);
    wk_ruleset_unref(rs);
}

WK_TEST(prefilter_same_alerts)
{
    /* Every pack sample plus auditd events that hit corpus rules (literal, wildcard, regex
     * and keyword rules): the same alerts, in the same order, with and without Hyperscan. */
    const char *const extra[] = {
        AUDITD("{\"type\":\"SYSCALL\",\"SYSCALL\":\"personality\",\"a0\":\"40000\"}"),
        AUDITD("{\"type\":\"EXECVE\",\"a0\":\"/sbin/iptables\",\"a1\":\"-t\",\"a2\":\"nat\","
               "\"a3\":\"--to-ports\",\"a4\":\"42\"}"),
        AUDITD("{\"type\":\"EXECVE\",\"a0\":\"mkdir\",\"a1\":\"/tmp/.x\"}"),
        AUDITD("{\"type\":\"SYSCALL\",\"SYSCALL\":\"execve\",\"exe\":\"/home/u/public_html/x\"}"),
        AUDITD("{\"type\":\"PATH\",\"name\":\"/etc/ld.so.preload\"}"),
        AUDITD("{\"type\":\"EXECVE\",\"a0\":\"chattr\",\"a1\":\"-i\",\"a2\":\"/etc/x\"}"),
        AUDITD("{\"type\":\"EXECVE\",\"a0\":\"grep\",\"a1\":\"-r\",\"a2\":\"password\","
               "\"a3\":\"/etc\"}"),
        NULL,
    };
    static const char *const files[] = {
        "cap_sys_admin", "clog_auth_failure_burst", "clog_injection_patterns",
        "container_docker_socket_access", "container_escape_syscalls",
        "container_sensitive_file_read", "container_shell_exec", "crash_loop",
        "docker_socket_mounted", "exec_storm", "host_namespaces", "image_latest_tag",
        "image_not_allowed", "privileged_container", "seccomp_apparmor_unconfined",
        "sensitive_host_mount", "setuid_setgid_chmod",
    };
    const char *evs[512];
    size_t n = 0;
    char *bufs[64];
    size_t nb = 0;
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++)
        for (int pos = 0; pos < 2; pos++) {
            char p[4200];
            snprintf(p, sizeof(p), "%s/rules/samples/%s.%s.jsonl", wk_test_srcdir(), files[f],
                     pos ? "pos" : "neg");
            char *text = wk_test_read_file(p, NULL);
            bufs[nb++] = text;
            for (char *line = strtok(text, "\n"); line && n < 500; line = strtok(NULL, "\n"))
                evs[n++] = line;
        }
    for (size_t i = 0; extra[i]; i++)
        evs[n++] = extra[i];
    evs[n] = NULL;
    struct jsonv a = { 0 }, b = { 0 };
    run_pf(true, evs, &a);
    run_pf(false, evs, &b);
    WK_ASSERT_UINT_EQ(a.n, 42);
    WK_ASSERT_UINT_EQ(a.n, b.n);
    for (size_t i = 0; i < a.n; i++)
        WK_ASSERT_STR_EQ(a.v[i], b.v[i]);
    for (size_t i = 0; i < a.n; i++)
        free(a.v[i]), free(b.v[i]);
    free(a.v), free(b.v);
    for (size_t i = 0; i < nb; i++)
        free(bufs[i]);
}

/* Keyword rules of every shape (per record with the EXECVE argv joined, event level, cased,
 * wildcard and regex keywords, numbers and lists as text, `all`) with and without the
 * prefilter (Hyperscan answers CONTAINS keywords from one scan of the record's strings
 * joined by NUL bytes; without it each keyword searches every string itself). */
static struct wk_ruleset *load_pf(const char *yaml, bool pf)
{
    size_t nrej = 0;
    struct wk_ruleset *rs = load_text_pf(yaml, &nrej, pf);
    WK_ASSERT_INT_EQ(nrej, 0);
    return rs;
}

#define KWRULE(n, ls, det)                                                               \
    "title: kw" #n "\nid: 22222222-2222-4222-8222-0000000000" #n "\nlogsource: " ls      \
    "\ndetection:\n" det
#define KWAUD "{product: linux, service: auditd}"
#define KWTST "{category: test}"

WK_TEST(keyword_prefilter_same_alerts)
{
    static const char rules[] =
        KWRULE(01, KWAUD, "  sel:\n    type: EXECVE\n  kw:\n    - shutdown\n    - 'init 6'\n"
                        "  condition: sel and kw\n") "---\n"
        KWRULE(02, KWAUD, "  kw:\n    '|cased':\n      - MiXeD\n  condition: kw\n") "---\n"
        KWRULE(03, KWAUD, "  kw:\n    - 'foo*bar'\n    - 'x?z9'\n  condition: kw\n") "---\n"
        KWRULE(04, KWAUD, "  kw:\n    '|re': 'q[0-9]+w'\n  condition: kw\n") "---\n"
        KWRULE(05, KWAUD, "  kw:\n    - 4242\n    - 'true'\n  condition: kw\n") "---\n"
        KWRULE(06, KWAUD, "  kw:\n    '|all':\n      - alpha\n      - omega\n  condition: kw\n")
        "---\n"
        KWRULE(07, KWAUD, "  kw:\n    - 'abcd'\n  flt:\n    - 'nope'\n"
                        "  condition: kw and not flt\n") "---\n"
        KWRULE(08, KWTST, "  kw:\n    - needle\n    - 'HAY stack'\n  condition: kw\n") "---\n"
        KWRULE(09, KWTST, "  kw:\n    '|cased|all':\n      - Big\n      - Small\n"
                        "  condition: kw\n") "---\n"
        KWRULE(10, KWAUD, "  sel:\n    type: EXECVE\n  kw:\n    - 'ab cd'\n"
                        "  condition: sel and kw\n");
    const char *const evs[] = {
        /* argv joined: 'init 6' spans two arguments; shutdown in one */
        AUDITD("{\"type\":\"EXECVE\",\"a0\":\"/sbin/init\",\"a1\":\"6\"}"),
        AUDITD("{\"type\":\"EXECVE\",\"a0\":\"SHUTDOWN\",\"a1\":\"-h\"}"),
        /* not EXECVE: fields are not joined ('init' and '6' apart) */
        AUDITD("{\"type\":\"SYSCALL\",\"a0\":\"init\",\"a1\":\"6\"}"),
        /* a gap in the argv: a2 is searched on its own */
        AUDITD("{\"type\":\"EXECVE\",\"a0\":\"x\",\"a2\":\"shutdown\"}"),
        AUDITD("{\"type\":\"EXECVE\",\"a0\":7,\"a1\":\"init 6\"}"),
        /* cased: only the exact case */
        AUDITD("{\"type\":\"PATH\",\"name\":\"/a/MiXeD\"}"),
        AUDITD("{\"type\":\"PATH\",\"name\":\"/a/mixed\"}"),
        /* wildcard and regex keywords (searched without the database) */
        AUDITD("{\"type\":\"PATH\",\"name\":\"fooXbar\"}"),
        AUDITD("{\"type\":\"PATH\",\"name\":\"Q12W\"}"),
        AUDITD("{\"type\":\"PATH\",\"name\":\"zq12w\"}"),
        AUDITD("{\"type\":\"PATH\",\"name\":\"xyz9\"}"),
        /* numbers and booleans as text, lists item by item */
        AUDITD("{\"type\":\"PATH\",\"inode\":4242}"),
        AUDITD("{\"type\":\"PATH\",\"inode\":14242}"),
        AUDITD("{\"type\":\"PATH\",\"ok\":true}"),
        AUDITD("{\"type\":\"PATH\",\"tags\":[\"x\",\"Alpha\",\"y\"],\"n\":\"omega\"}"),
        AUDITD("{\"type\":\"PATH\",\"tags\":[\"alpha\"]}"),
        /* a literal never spans two strings: 'ab' + 'cd' is no 'abcd' */
        AUDITD("{\"type\":\"PATH\",\"x\":\"ab\",\"y\":\"cd\"}"),
        AUDITD("{\"type\":\"PATH\",\"x\":\"abcd\"}"),
        AUDITD("{\"type\":\"PATH\",\"x\":\"abcd\",\"y\":\"NOPE\"}"),
        AUDITD("{\"type\":\"EXECVE\",\"a0\":\"ab\",\"a1\":\"cd\"}"),
        AUDITD("{\"type\":\"EXECVE\",\"a0\":\"xab\",\"argc\":\"cd\"}"),
        /* several records: each matches on its own strings */
        AUDITD("{\"type\":\"SYSCALL\",\"comm\":\"shutdown\"},{\"type\":\"EXECVE\","
               "\"a0\":\"shutdown\"},{\"type\":\"PATH\",\"name\":\"abcd\"}"),
        /* event-level keywords (a logsource without records) */
        "{\"message\":\"a NEEDLE here\"}",
        "{\"message\":\"hay\",\"b\":\"stack\"}",
        "{\"message\":\"the hay Stack\"}",
        "{\"a\":\"Big\",\"b\":[\"Small\"]}",
        "{\"a\":\"big small\"}",
        NULL,
    };
    struct jsonv out[2] = { { 0 }, { 0 } };
    for (int pf = 0; pf < 2; pf++) {
        struct wk_ruleset *rs = load_pf(rules, pf);
        struct wk_rule_scratch *sc = NULL;
        WK_ASSERT_OK(wk_rule_scratch_new(&sc, rs, NULL));
        for (size_t i = 0; evs[i]; i++) {
            struct wk_event *ev = ev_json(evs[i]);
            WK_ASSERT(wk_ruleset_eval(rs, sc, ev, collect_cb, &out[pf]) >= 0);
            wk_event_free(ev);
        }
        wk_rule_scratch_free(sc);
        wk_ruleset_unref(rs);
    }
#undef KWRULE
#undef KWAUD
#undef KWTST
    WK_ASSERT_UINT_EQ(out[0].n, 19);
    WK_ASSERT_UINT_EQ(out[1].n, out[0].n);
    for (size_t i = 0; i < out[0].n; i++)
        WK_ASSERT_STR_EQ(out[1].v[i], out[0].v[i]);
    for (int pf = 0; pf < 2; pf++) {
        for (size_t i = 0; i < out[pf].n; i++)
            free(out[pf].v[i]);
        free(out[pf].v);
    }
}

WK_TEST(corr_value_sum_and_avg)
{
    char y[4096];
    snprintf(y, sizeof(y),
             "%stitle: bytes\nid: c6\ncorrelation:\n  type: value_sum\n  rules: [base]\n"
             "  group-by: [host]\n  timespan: 1m\n  condition:\n    gte: 100\n    field: n\n"
             "---\ntitle: avg\nid: c7\ncorrelation:\n  type: value_avg\n  rules: [base]\n"
             "  group-by: [host]\n  timespan: 1m\n  condition:\n    gt: 40\n    lt: 60\n"
             "    field: n\n",
             base);
    struct wk_ruleset *rs = load_ok(y);
    struct wk_rule_scratch *sc = NULL;
    struct rec_alerts ra = { 0 };
    WK_ASSERT_OK(wk_rule_scratch_new(&sc, rs, NULL));
    WK_ASSERT_INT_EQ(feed(rs, sc, 0, "\"a\":\"x\",\"host\":\"h\",\"n\":30", &ra), 0);
    WK_ASSERT_INT_EQ(feed(rs, sc, 1, "\"a\":\"x\",\"host\":\"h\",\"n\":\"20\"", &ra), 0);
    /* sum 100 reaches gte 100; the average (33.3) is outside the 40..60 range */
    WK_ASSERT_INT_EQ(feed(rs, sc, 2, "\"a\":\"x\",\"host\":\"h\",\"n\":50", &ra), 1);
    WK_ASSERT(strstr(ra.last, "\"title\":\"bytes\"") != NULL);
    WK_ASSERT(ra.value == 100);
    /* a fresh group: 50 then 50 -> average 50 within (40, 60) */
    WK_ASSERT_INT_EQ(feed(rs, sc, 3, "\"a\":\"x\",\"host\":\"k\",\"n\":50", &ra), 1);
    WK_ASSERT(strstr(ra.last, "\"title\":\"avg\"") != NULL);
    wk_rule_scratch_free(sc);
    wk_ruleset_unref(rs);
}

WK_TEST(corpus_rules_fire_on_positive_records)
{
    /* SigmaHQ auditd rules against records shaped like the corpus logs (go-libaudit,
     * laurel, beats samples): each fires on its positive and not on its near miss. */
    static const struct {
        const char *rule, *yes, *no;
    } cases[] = {
        { "syscall/lnx_auditd_create_account.yml",
          AUDITD("{\"type\":\"ADD_USER\",\"msg\":\"op=adding user id=1001 exe=\\\"/usr/sbin/useradd\\\"\"}"),
          AUDITD("{\"type\":\"ADD_GROUP\",\"msg\":\"op=adding group\"}") },
        { "path/lnx_auditd_ld_so_preload_mod.yml",
          AUDITD("{\"type\":\"SYSCALL\",\"SYSCALL\":\"openat\"},{\"type\":\"PATH\",\"name\":\"/etc/ld.so.preload\"}"),
          AUDITD("{\"type\":\"PATH\",\"name\":\"/etc/ld.so.conf\"}") },
        { "lnx_auditd_susp_c2_commands.yml",
          AUDITD("{\"type\":\"SYSCALL\",\"key\":[\"exec\",\"susp_activity\"]}"),
          AUDITD("{\"type\":\"SYSCALL\",\"key\":\"exec\"}") },
        { "execve/lnx_auditd_coinminer.yml",
          AUDITD("{\"type\":\"EXECVE\",\"a0\":\"./xmrig\",\"a1\":\"-o\",\"a2\":\"pool:3333\",\"a3\":\"--cpu-priority=5\"}"),
          AUDITD("{\"type\":\"EXECVE\",\"a0\":\"./xmrig\",\"a1\":\"--cpu-max-threads-hint=5\"}") },
        { "syscall/lnx_auditd_load_module_insmod.yml",
          AUDITD("{\"type\":\"SYSCALL\",\"SYSCALL\":\"finit_module\",\"comm\":\"insmod\",\"exe\":\"/usr/bin/kmod\"}"),
          AUDITD("{\"type\":\"SYSCALL\",\"comm\":\"modprobe\",\"exe\":\"/usr/bin/kmod\"}") },
        { "execve/lnx_auditd_find_cred_in_files.yml",
          AUDITD("{\"type\":\"EXECVE\",\"a0\":\"grep\",\"a1\":\"-ri\",\"a2\":\"PASSWORD\",\"a3\":\"/etc\"}"),
          AUDITD("{\"type\":\"EXECVE\",\"a0\":\"grep\",\"a1\":\"-ri\",\"a2\":\"user\"}") },
        { "execve/lnx_auditd_system_shutdown_reboot.yml",
          AUDITD("{\"type\":\"EXECVE\",\"a0\":\"telinit\",\"a1\":\"6\"}"),
          AUDITD("{\"type\":\"EXECVE\",\"a0\":\"telinit\",\"a1\":\"q\"}") },
        { "execve/lnx_auditd_binary_padding.yml",
          AUDITD("{\"type\":\"EXECVE\",\"a0\":\"dd\",\"a1\":\"if=/dev/zero\",\"a2\":\"bs=1\",\"a3\":\"count=1\"}"),
          AUDITD("{\"type\":\"EXECVE\",\"a0\":\"dd\",\"a1\":\"if=/dev/zero\",\"a2\":\"of=/tmp/x\"}") },
        { "syscall/lnx_auditd_susp_exe_folders.yml",
          AUDITD("{\"type\":\"SYSCALL\",\"SYSCALL\":\"execve\",\"exe\":\"/home/bob/public_html/x\"}"),
          AUDITD("{\"type\":\"SYSCALL\",\"SYSCALL\":\"execve\",\"exe\":\"/usr/bin/x\"}") },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct wk_ruleset *rs = load_corpus_rule(cases[i].rule);
        if (hits(rs, cases[i].yes) != 1)
            WK_FAIL("%s does not fire on %s", cases[i].rule, cases[i].yes);
        if (hits(rs, cases[i].no) != 0)
            WK_FAIL("%s fires on %s", cases[i].rule, cases[i].no);
        wk_ruleset_unref(rs);
    }
}

/* ---- meta filters ------------------------------------------------------------------------------ */
static int title_cb(const struct wk_alert *a, void *data)
{
    char *out = data;
    size_t k = strlen(out);
    snprintf(out + k, 256 - k, "%s%s", k ? "," : "", a->info->title);
    return 0;
}

/* Titles of the rules that alert on one event, in order, comma-separated. */
static const char *titles(struct wk_ruleset *rs, const char *json)
{
    static char out[256];
    out[0] = 0;
    struct wk_rule_scratch *sc = NULL;
    WK_ASSERT_OK(wk_rule_scratch_new(&sc, rs, NULL));
    struct wk_event *ev = ev_json(json);
    WK_ASSERT(wk_ruleset_eval(rs, sc, ev, title_cb, out) >= 0);
    wk_event_free(ev);
    wk_rule_scratch_free(sc);
    return out;
}

WK_TEST(filter_by_id_and_name)
{
    /* the spec's example, on our logsource: rules named by id and by name lose the matches
     * the filter selects (rule and not filter); a rule it does not name keeps them */
    struct wk_ruleset *rs = load_ok(
        "title: a\nid: aaaaaaaa-0000-4000-8000-000000000001\nlogsource: {category: test}\n"
        "detection:\n  s: {action: rar}\n  condition: s\n---\n"
        "title: b\nname: login_jump\nlogsource: {category: test}\n"
        "detection:\n  s: {action: login}\n  condition: s\n---\n"
        "title: c\nid: cccccccc-0000-4000-8000-000000000003\nlogsource: {category: test}\n"
        "detection:\n  s: {action|contains: r}\n  condition: s\n---\n"
        "title: Filter Administrator account\nlogsource: {category: test}\nfilter:\n"
        "  rules:\n    - aaaaaaaa-0000-4000-8000-000000000001\n    - login_jump\n"
        "  selection:\n    User|startswith: 'adm_'\n  condition: selection\n");
    WK_ASSERT_UINT_EQ(wk_ruleset_nrules(rs), 3);
    WK_ASSERT_UINT_EQ(wk_ruleset_nfilters(rs), 1);
    WK_ASSERT_STR_EQ(titles(rs, "{\"action\":\"rar\",\"User\":\"adm_bob\"}"), "c");
    WK_ASSERT_STR_EQ(titles(rs, "{\"action\":\"rar\",\"User\":\"bob\"}"), "a,c");
    WK_ASSERT_STR_EQ(titles(rs, "{\"action\":\"login\",\"User\":\"adm_x\"}"), "");
    WK_ASSERT_STR_EQ(titles(rs, "{\"action\":\"login\",\"User\":\"ADM_x\"}"), "");
    WK_ASSERT_STR_EQ(titles(rs, "{\"action\":\"login\"}"), "b");
    wk_ruleset_unref(rs);
}

WK_TEST(filter_any_logsource_condition)
{
    /* rules: any, by logsource: only the auditd rule is filtered (per record, like the
     * rule), with a condition over several identifiers */
    struct wk_ruleset *rs = load_ok(
        "title: x\nid: x1\nlogsource: {product: linux, service: auditd}\n"
        "detection:\n  s: {type: EXECVE, a0: curl}\n  condition: s\n---\n"
        "title: y\nid: y1\nlogsource: {category: test}\n"
        "detection:\n  s: {event.module: auditd}\n  condition: s\n---\n"
        "title: internal hosts\nlogsource: {product: linux}\nfilter:\n  rules: any\n"
        "  sel_corp: {a1|endswith: '.corp'}\n  sel_local: {a1: localhost}\n"
        "  keep: {a2: force}\n  condition: 1 of sel_* and not keep\n");
#define AUD(a) "{\"event.module\":\"auditd\",\"records\":[{\"type\":\"EXECVE\",\"a0\":\"curl\"," a "}]}"
    WK_ASSERT_STR_EQ(titles(rs, AUD("\"a1\":\"x.corp\"")), "y");
    WK_ASSERT_STR_EQ(titles(rs, AUD("\"a1\":\"localhost\"")), "y");
    WK_ASSERT_STR_EQ(titles(rs, AUD("\"a1\":\"x.corp\",\"a2\":\"force\"")), "x,y");
    WK_ASSERT_STR_EQ(titles(rs, AUD("\"a1\":\"evil.com\"")), "x,y");
#undef AUD
    wk_ruleset_unref(rs);
}

WK_TEST(filter_feeds_correlation_only_unfiltered)
{
    /* a filtered match does not feed the correlations of its rule */
    struct wk_ruleset *rs = load_ok(
        "title: base\nid: base1\nlogsource: {category: test}\n"
        "detection:\n  s: {action: fail}\n  condition: s\n---\n"
        "title: burst\nid: burst1\ncorrelation:\n  type: event_count\n  rules: [base1]\n"
        "  group-by: [host]\n  timespan: 1m\n  condition: {gte: 2}\n---\n"
        "title: scanner\nlogsource: {category: test}\nfilter:\n  rules: [base1]\n"
        "  s: {src: scanner}\n  condition: s\n");
    struct wk_rule_scratch *sc = NULL;
    WK_ASSERT_OK(wk_rule_scratch_new(&sc, rs, NULL));
    struct rec_alerts ra = { 0 };
    WK_ASSERT_INT_EQ(feed(rs, sc, 0, "\"action\":\"fail\",\"host\":\"h\",\"src\":\"scanner\"", &ra), 0);
    WK_ASSERT_INT_EQ(feed(rs, sc, 1, "\"action\":\"fail\",\"host\":\"h\",\"src\":\"a\"", &ra), 0);
    WK_ASSERT_INT_EQ(feed(rs, sc, 2, "\"action\":\"fail\",\"host\":\"h\",\"src\":\"scanner\"", &ra), 0);
    WK_ASSERT_INT_EQ(feed(rs, sc, 3, "\"action\":\"fail\",\"host\":\"h\",\"src\":\"b\"", &ra), 1);
    WK_ASSERT(strstr(ra.last, "\"title\":\"burst\"") != NULL);
    wk_rule_scratch_free(sc);
    wk_ruleset_unref(rs);
}

WK_TEST(filter_rejections)
{
    const char *rule = "title: r\nid: r1\nlogsource: {category: test}\ndetection:\n"
                       "  s: {a: 1}\n  condition: s\n---\n";
    char y[1024];
    expect_reject("title: f\nlogsource: {category: test}\nfilter:\n  rules: [x]\n  s:\n"
                  "    a: 1\n  condition: s\n",
                  "1:1: filter 'rules': 'x' names no loaded rule (id or name)");
    expect_reject("title: f\nlogsource: {category: test}\nfilter:\n  rules: any\n  s: {a: 1}\n"
                  "  condition: s\ndetection:\n  s: {a: 1}\n  condition: s\n",
                  "1:1: document has 'filter' and 'detection'");
    snprintf(y, sizeof(y), "%stitle: f\nlogsource: {category: test}\nfilter:\n  s: {a: 2}\n"
             "  condition: s\n", rule);
    expect_reject(y, "11:3: filter without 'rules' (rule ids or names, or 'any')");
    snprintf(y, sizeof(y), "%stitle: f\nlogsource: {category: test}\nfilter:\n  rules: r1\n"
             "  s: {a: 2}\n  condition: [s]\n", rule);
    expect_reject(y, "13:15: filter 'condition' must be one string (filters spec, pySigma)");
    snprintf(y, sizeof(y), "%stitle: f\nlogsource: {category: test}\nfilter:\n  rules: r1\n"
             "  s: {a: 2}\n", rule);
    expect_reject(y, "11:3: filter without 'condition'");
    snprintf(y, sizeof(y), "%stitle: f\nlogsource: {product: linux, service: auditd}\n"
             "filter:\n  rules: r1\n  s: {a: 2}\n  condition: s\n", rule);
    expect_reject(y, "8:1: filter applies to no loaded rule (its logsource {product: linux, "
                     "service: auditd, category: -} matches none of the rules it names)");
    snprintf(y, sizeof(y), "%stitle: c\nid: c1\ncorrelation:\n  type: event_count\n"
             "  rules: [r1]\n  timespan: 1m\n  condition: {gte: 2}\n---\n"
             "title: f\nlogsource: {category: test}\nfilter:\n  rules: [c1]\n  s: {a: 2}\n"
             "  condition: s\n", rule);
    expect_reject(y, "16:1: filter 'rules': 'c1' is a correlation rule (filters apply to "
                     "detection rules only)");
    expect_reject("title: f\nlogsource: {product: windows}\nfilter:\n  rules: any\n"
                  "  s: {a: 1}\n  condition: s\n",
                  "1:1: filter applies to no loaded rule (its logsource {product: windows, "
                  "service: -, category: -} matches none of the loaded detection rules)");
}
