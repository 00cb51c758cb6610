/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wk_alert_to_json writes the alert's event directly (no jansson tree): its bytes must be
 * those of the event's jansson form (wk_event_to_jansson) dumped compact, for real events
 * from the corpus (auditd, CRI logs) and for the corner cases of the JSON mapping.
 */
#include "config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "watchkeeper/event_json.h"
#include "watchkeeper/jsonw.h"
#include "watchkeeper/mem.h"
#include "watchkeeper/parser.h"
#include "watchkeeper/rule.h"
#include "../../analyzer/sigma_private.h" /* the ruleset's rules and their rule_json */
#include "wk_test.h"

static const char *const tags[] = { "attack.t1059", "x\"y" };
static const struct wk_rule_info info = {
    .id = "r-1", .title = "T", .level = "high", .status = "test", .author = "a",
    .tags = tags, .ntags = 2,
};

static size_t checked;

/* The reference: the alert without its event, then "event": the jansson dump. */
static void check_event(const struct wk_event *ev)
{
    struct wk_alert a = { .info = &info, .attack = "[\"T1059\"]", .ts = 1700000000123456789,
                          .record = 2, .ref = 77 };
    char *base = NULL, *got = NULL;
    size_t blen = 0, glen = 0;
    WK_ASSERT_OK(wk_alert_to_json(&a, &base, &blen));
    a.event = ev;
    WK_ASSERT_OK(wk_alert_to_json(&a, &got, &glen));
    json_t *j = wk_event_to_jansson(ev);
    char *want;
    if (j) {
        char *dump = json_dumps(j, JSON_COMPACT);
        WK_ASSERT(dump != NULL);
        WK_ASSERT(asprintf(&want, "%.*s,\"event\":%s}", (int)blen - 1, base, dump) > 0);
        free(dump);
        json_decref(j);
    } else {
        want = strdup(base);
    }
    if (strlen(want) != glen || memcmp(want, got, glen) != 0)
        WK_FAIL("event %zu differs:\n want %s\n got  %s", checked, want, got);
    /* the same bytes from one writer kept across every alert (as the daemon keeps it),
     * after text of the previous alert and after a reset */
    static struct wk_jsonw reuse;
    size_t at = checked % 3 == 0 ? 0 : reuse.len;
    if (at == 0)
        wk_jsonw_reset(&reuse);
    WK_ASSERT_OK(wk_alert_to_jsonw(&a, &reuse));
    if (reuse.len - at != glen || memcmp(reuse.p + at, got, glen) != 0)
        WK_FAIL("event %zu differs from a reused writer:\n want %s\n got  %s", checked, got,
                reuse.p + at);
    if (reuse.len > (1u << 20))
        wk_jsonw_fini(&reuse);
    checked++;
    if (getenv("WK_SHOW"))
        fprintf(stderr, "%s\n", got);
    free(want);
    free(base);
    free(got);
}

struct psink {
    struct wk_parser_sink sink;
};

static int emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    (void)s;
    (void)resume;
    check_event(ev);
    return 0;
}

static int reject(struct wk_parser_sink *s, const struct wk_line_ctx *w, const char *why,
                  const char *raw, size_t len)
{
    (void)s, (void)w, (void)why, (void)raw, (void)len;
    return 0;
}

static void feed_file(const char *parser, const char *rel)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", wk_test_corpus(), rel);
    FILE *f = fopen(path, "r");
    if (!f)
        WK_SKIP("no corpus file");
    const struct wk_parser_ops *ops = wk_parser_find(parser);
    WK_ASSERT(ops != NULL);
    struct wk_parser_opts o;
    wk_parser_opts_init(&o);
    o.host = "h";
    struct wk_parser *p;
    WK_ASSERT_OK(ops->create(&p, &o));
    struct wk_parser_sink sink = { emit, reject };
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    struct wk_line_ctx where = { .path = path };
    while ((n = getline(&line, &cap, f)) >= 0) {
        if (n && line[n - 1] == '\n')
            n--;
        where.lineno++;
        WK_ASSERT_OK(ops->feed_line(p, line, (size_t)n, &where, &sink));
        where.offset += (uint64_t)n + 1;
    }
    WK_ASSERT_OK(ops->flush(p, &sink));
    ops->destroy(p);
    free(line);
    fclose(f);
}

WK_TEST(corpus_auditd_and_cri_events_match_the_jansson_form)
{
    static const char *const audit[] = {
        "auditd/audit-userspace/test.log", "auditd/audit-userspace/test2.log",
        "auditd/audit-userspace/test3.log", "auditd/audit-userspace/test4.log",
        "auditd/go-libaudit/auparse__audit-rhel7.log",
        "auditd/go-libaudit/auparse__audit-ubuntu17.log",
        "auditd/go-libaudit/auparse__audit-rhel6.log",
        "auditd/go-libaudit/auparse__audit-ubuntu16.log",
        "auditd/go-libaudit/auparse__test2.log", "auditd/go-libaudit/auparse__test3.log",
    };
    for (size_t i = 0; i < WK_ARRAY_SIZE(audit); i++)
        feed_file("auditd", audit[i]);
    feed_file("cri", "cri/kubernetes-kubelet-logs_test-parse-vectors.log");
    if (checked < 80)
        WK_FAIL("only %zu events checked", checked);
}

/* A key (pointer to a compound literal in the caller's block). */
#define K(n) ((struct wk_key[]){ wk_key_init(n) })

WK_TEST(corner_cases_match_the_jansson_form)
{
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    check_event(ev); /* empty */

    /* Nesting, regrouping of a parent met again later, a name taken by a non-object,
     * literal dots, records with and without fields, every kind, binary strings. */
    WK_ASSERT_OK(wk_event_add_str(ev, 0, K("process.name"), "sh", 2));
    WK_ASSERT_OK(wk_event_add_int(ev, 0, K("user.id"), -5));
    WK_ASSERT_OK(wk_event_add_int(ev, 0, K("process.pid"), 42));
    WK_ASSERT_OK(wk_event_add_str(ev, 0, K("a"), "x", 1));
    WK_ASSERT_OK(wk_event_add_str(ev, 0, K("a.b.c"), "conflict", 8));
    WK_ASSERT_OK(wk_event_add_str(ev, 0, K("a.b~/\xc3\xa9"), "\xff\xfe", 2));
    WK_ASSERT_OK(wk_event_add_value(ev, 0, K("t~x.com.docker/x"), 0x6,
                                    &(struct wk_value){ .kind = WK_VAL_STR, .u.s = "v",
                                                        .len = 1 }));
    WK_ASSERT_OK(wk_event_add_real(ev, 0, K("r"), 0.1));
    WK_ASSERT_OK(wk_event_add_real(ev, 0, K("r2"), 1e300));
    WK_ASSERT_OK(wk_event_add_bool(ev, 0, K("b.t"), true));
    WK_ASSERT_OK(wk_event_add_bool(ev, 0, K("b.f"), false));
    WK_ASSERT_OK(wk_event_add_null(ev, 0, K("n")));
    WK_ASSERT_OK(wk_event_add_json(ev, 0, K("j.k"), "{\"z\":[1,2.5,\"q\"],\"a\":{}}", 24));
    struct wk_str items[] = { { "one", 3 }, { "\x80", 1 }, { "t\"\n\x01", 4 } };
    WK_ASSERT_OK(wk_event_add_strlist(ev, 0, K("process.args"), items, 3));
    WK_ASSERT_OK(wk_event_add_strlist(ev, 0, K("empty"), NULL, 0));
    static const char esc[] = "q\"\\\b\f\n\r\t\x1f\x7f/é";
    WK_ASSERT_OK(wk_event_add_str(ev, 0, K("esc"), esc, sizeof(esc) - 1));
    check_event(ev);
    WK_ASSERT_OK(wk_event_add_record(ev));
    WK_ASSERT_OK(wk_event_add_record(ev));
    WK_ASSERT_OK(wk_event_add_record(ev));
    check_event(ev); /* records without fields: at the end */
    WK_ASSERT_OK(wk_event_add_str(ev, 2, K("type"), "PATH", 4));
    WK_ASSERT_OK(wk_event_add_str(ev, 2, K("name"), "\xc3", 1));
    WK_ASSERT_OK(wk_event_add_str(ev, 0, K("after.records"), "y", 1));
    WK_ASSERT_OK(wk_event_add_str(ev, 1, K("x.y"), "z", 1));
    WK_ASSERT_OK(wk_event_add_str(ev, 0, K("@timestamp"), "over", 4));
    /* Replacing a value keeps its place. */
    WK_ASSERT_OK(wk_event_add_int(ev, 0, K("process.name"), 9));
    check_event(ev);
    /* A JSON value that does not parse, a name that is not UTF-8: no event. */
    wk_event_reset(ev);
    WK_ASSERT_OK(wk_event_add_json(ev, 0, K("j"), "{", 1));
    check_event(ev);
    wk_event_reset(ev);
    WK_ASSERT_OK(wk_event_add_str(ev, 0, K("bad\xff.name"), "v", 1));
    check_event(ev);
    /* A pointer longer than the form allows (4 KiB). */
    wk_event_reset(ev);
    char *lng = malloc(5000);
    memset(lng, 'a', 4999);
    lng[4999] = 0;
    WK_ASSERT_OK(wk_event_add_str(ev, 0, K(lng), "v", 1));
    check_event(ev);
    free(lng);
    wk_event_free(ev);
}



/* Objects with hundreds of members (an EXECVE record with a0..aN): the writer finds each
 * name's node through an index that grows as the tree does; a name met again, an object
 * turned into a value and paths under it, at event level and in records. */
WK_TEST(many_members_match_the_jansson_form)
{
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    WK_ASSERT_OK(wk_event_add_record(ev));
    WK_ASSERT_OK(wk_event_add_record(ev));
    char name[64], val[32];
    for (int i = 0; i < 700; i++) {
        unsigned rec = (unsigned)(i % 3);
        switch (i % 5) {
        case 0: snprintf(name, sizeof(name), "a%d", i); break;
        case 1: snprintf(name, sizeof(name), "g%d.m%d", i % 7, i); break;
        case 2: snprintf(name, sizeof(name), "g%d.s%d.v", i % 7, i % 11); break;
        case 3: snprintf(name, sizeof(name), "a%d", i - 3); break; /* met again */
        default: snprintf(name, sizeof(name), "g%d", i % 7 + (i % 4 ? 100 : 0));
        }
        int n = snprintf(val, sizeof(val), "v%d", i);
        WK_ASSERT_OK(wk_event_add_str(ev, rec, K(name), val, (size_t)n));
        if (i % 97 == 0)
            check_event(ev);
    }
    /* g0..g6 became values above (i % 5 == 4, i % 4 == 0): paths under them now */
    WK_ASSERT_OK(wk_event_add_str(ev, 0, K("g0.m1.x"), "late", 4));
    WK_ASSERT_OK(wk_event_add_str(ev, 1, K("g3.s1.v"), "late", 4));
    check_event(ev);
    wk_event_free(ev);
}

/* The string writer copies 8 bytes at a time while none needs an escape, and the UTF-8
 * check skips ASCII 8 bytes at a time: an escape or a non-ASCII byte at every offset of
 * long strings, against jansson. */
WK_TEST(escapes_and_utf8_at_every_offset_match_the_jansson_form)
{
    static const char *const specials[] = { "\"", "\\", "\n", "\x01", "\x1f", "\x7f",
                                            "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                            "\xff", "\xc3", " " };
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    char s[64];
    for (size_t k = 0; k < WK_ARRAY_SIZE(specials); k++) {
        for (size_t at = 0; at < 40; at++) {
            size_t sl = strlen(specials[k]), len = 0;
            memset(s, 'a' + (int)(at % 26), at);
            len = at;
            memcpy(s + len, specials[k], sl);
            len += sl;
            memcpy(s + len, "0123456789abcdef", 16 - at % 7);
            len += 16 - at % 7;
            wk_event_reset(ev);
            WK_ASSERT_OK(wk_event_add_str(ev, 0, K("message"), s, len));
            WK_ASSERT_OK(wk_event_add_strlist(ev, 0, K("l"),
                                              (struct wk_str[]){ { s, len }, { s + 1, len - 1 } }, 2));
            check_event(ev);
        }
    }
    wk_event_free(ev);
}

/* An ATT&CK list in compile.c's form is copied as it is: the same bytes as the
 * parse-and-dump path that other forms take. */
/* Strings where most bytes need an escape (the writer checks its room per escape, with
 * some slack reserved up front): every length up to 300 and a 100 KB one, against
 * jansson. */
WK_TEST(dense_escapes_match_the_jansson_form)
{
    static const char pat[] = "\x01\"a\\\n\x1f\tb\xc3\xa9\"\"\r\x7f";
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    size_t big = 100000;
    char *s = malloc(big);
    WK_ASSERT(s != NULL);
    for (size_t i = 0; i < big; i++)
        s[i] = pat[i % (sizeof(pat) - 1)];
    for (size_t len = 0; len <= 300; len++) {
        wk_event_reset(ev);
        WK_ASSERT_OK(wk_event_add_str(ev, 0, K("message"), s + len % 5, len));
        check_event(ev);
    }
    memset(s, 1, big); /* every byte as \u0001 */
    wk_event_reset(ev);
    WK_ASSERT_OK(wk_event_add_str(ev, 0, K("a"), s, big));
    WK_ASSERT_OK(wk_event_add_str(ev, 0, K("b"), s, big / 3));
    check_event(ev);
    free(s);
    wk_event_free(ev);
}

WK_TEST(attack_list_copied_or_reparsed_alike)
{
    static const char *const pairs[][2] = {
        { "[]", "[ ]" },
        { "[\"T1059\"]", "[ \"T1059\"]" },
        { "[\"T1059.004\",\"T1611\"]", "[\"T1059.004\", \"T1611\"]" },
    };
    for (size_t i = 0; i < WK_ARRAY_SIZE(pairs); i++) {
        struct wk_alert a = { .info = &info, .attack = pairs[i][0], .ts = 1 };
        char *x = NULL, *y = NULL;
        WK_ASSERT_OK(wk_alert_to_json(&a, &x, NULL));
        a.attack = pairs[i][1];
        WK_ASSERT_OK(wk_alert_to_json(&a, &y, NULL));
        WK_ASSERT_STR_EQ(x, y);
        WK_ASSERT(strstr(x, pairs[i][0]) != NULL);
        free(x);
        free(y);
    }
}

/* The "rule" object the engine writes once per rule (wk__alert_rule_json, carried in the
 * alert as rule_json) against the one written from info and attack per alert: every rule
 * of the pack and the corpus (correlations too), and the crafted info above (escapes). */
WK_TEST(rule_object_written_once_is_the_per_alert_one)
{
    char p[4200];
    struct wk_rule_loader *l = NULL;
    struct wk_ruleset *rs = NULL;
    WK_ASSERT_OK(wk_rule_loader_new(&l));
    snprintf(p, sizeof(p), "%s/rules/logsources.yaml", wk_test_srcdir());
    WK_ASSERT_OK(wk_rule_loader_logsources(l, p));
    snprintf(p, sizeof(p), "%s/rules/placeholders.yaml", wk_test_srcdir());
    WK_ASSERT_OK(wk_rule_loader_placeholders(l, p));
    snprintf(p, sizeof(p), "%s/rules", wk_test_srcdir());
    WK_ASSERT(wk_rule_loader_add(l, p) > 0);
    static const char *const dirs[] = { "sigma/rules", "sigma/deprecated",
                                        "sigma/rules-emerging-threats" };
    for (size_t i = 0; i < WK_ARRAY_SIZE(dirs); i++) {
        snprintf(p, sizeof(p), "%s/%s", wk_test_corpus(), dirs[i]);
        struct stat st;
        if (stat(p, &st) != 0)
            WK_SKIP("corpus not found (set WK_CORPUS)");
        WK_ASSERT(wk_rule_loader_add(l, p) > 0);
    }
    WK_ASSERT_OK(wk_rule_loader_build(l, &rs));
    wk_rule_loader_free(l);
    size_t ncorr = 0;
    for (size_t i = 0; i < rs->rules.n; i++) {
        const struct sg_rule *r = rs->rules.v[i];
        WK_ASSERT(r->rule_json != NULL);
        ncorr += r->info.is_correlation;
        struct wk_alert a = { .rule = (uint32_t)i, .info = &r->info, .attack = r->attack_json,
                              .ts = 1700000000123456789, .record = 1, .ref = 9 };
        char *x = NULL, *y = NULL;
        WK_ASSERT_OK(wk_alert_to_json(&a, &x, NULL));
        a.rule_json = r->rule_json;
        a.rule_json_len = r->rule_json_len;
        WK_ASSERT_OK(wk_alert_to_json(&a, &y, NULL));
        WK_ASSERT_STR_EQ(x, y);
        free(x);
        free(y);
    }
    WK_ASSERT(rs->rules.n >= 90);
    WK_ASSERT(ncorr >= 1);
    wk_ruleset_unref(rs);

    char *rj = NULL, *x = NULL, *y = NULL;
    size_t rl = 0;
    WK_ASSERT_OK(wk__alert_rule_json(&info, "[\"T1059\", \"T1611\"]", &rj, &rl));
    struct wk_alert a = { .info = &info, .attack = "[\"T1059\", \"T1611\"]", .ts = 5 };
    WK_ASSERT_OK(wk_alert_to_json(&a, &x, NULL));
    a.rule_json = rj;
    a.rule_json_len = rl;
    WK_ASSERT_OK(wk_alert_to_json(&a, &y, NULL));
    WK_ASSERT_STR_EQ(x, y);
    WK_ASSERT(strstr(x, "\"x\\\"y\"") != NULL);
    free(rj);
    free(x);
    free(y);
}

/* A correlation's alert: its time and its contributing events' times, some the same
 * (formatted once: wk_jsonw_time keeps the last), in exact bytes, through a fresh writer
 * and through one that wrote another time last. */
WK_TEST(correlation_times_are_each_their_own)
{
    static const struct wk_alert_contrib c[3] = {
        { .ts = 1700000000000000000, .ref = 1, .rule = 2 },
        { .ts = 1700000001500000000, .ref = 3, .rule = 2 },
        { .ts = 1700000000000000000, .ref = 4, .rule = 2 },
    };
    struct wk_alert a = { .info = &info, .attack = "[]", .ts = 1700000001500000000,
                          .group = "{\"k\":\"v\"}", .value = 3, .contrib = c, .ncontrib = 3 };
    static const char want[] =
        "{\"@timestamp\":\"2023-11-14T22:13:21.500000000Z\",\"rule\":{\"id\":\"r-1\","
        "\"title\":\"T\",\"level\":\"high\",\"status\":\"test\",\"type\":\"detection\","
        "\"tags\":[\"attack.t1059\",\"x\\\"y\"],\"attack\":[],\"author\":\"a\"},"
        "\"group\":{\"k\":\"v\"},\"value\":3.0,\"contributing\":["
        "{\"@timestamp\":\"2023-11-14T22:13:20.000000000Z\",\"ref\":1,\"rule\":2},"
        "{\"@timestamp\":\"2023-11-14T22:13:21.500000000Z\",\"ref\":3,\"rule\":2},"
        "{\"@timestamp\":\"2023-11-14T22:13:20.000000000Z\",\"ref\":4,\"rule\":2}]}";
    struct wk_jsonw w = {0};
    for (int round = 0; round < 2; round++) {
        wk_jsonw_reset(&w);
        WK_ASSERT_OK(wk_alert_to_jsonw(&a, &w));
        WK_ASSERT_STR_EQ(w.p, want);
        a.ts = 1700000001500000000; /* the last time written was the contributions' */
    }
    wk_jsonw_fini(&w);
}
