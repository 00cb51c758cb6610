/* SPDX-License-Identifier: Apache-2.0 */
/* The direct event JSON writer (core/jsonw.c) against wk_event_to_json (jansson): the
 * same bytes, or the same refusal, for the auditd parser's events over the corpus logs,
 * crafted corner cases (nesting conflicts, literal dots, records, binary strings and
 * their pointers, JSON values, reals, escapes) and random events. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "watchkeeper/error.h"
#include "watchkeeper/event.h"
#include "watchkeeper/event_json.h"
#include "watchkeeper/jsonw.h"
#include "watchkeeper/mem.h"
#include "watchkeeper/parser.h"
#include "auditd_util.h" /* au_feed */
#include "wk_test.h"

/* A corpus file (path relative to the corpus directory). */
static char *corpus_read(const char *rel, size_t *len)
{
    char path[8192];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", wk_test_corpus(), rel);
    if (stat(path, &st) != 0)
        WK_SKIP("corpus not found (set WK_CORPUS)");
    return wk_test_read_file(path, len);
}

/* Both writers on ev: equal bytes, or both refuse. @return 1 written, 0 both refused. */
static int same_as_jansson(struct wk_jsonw *w, const struct wk_event *ev)
{
    char *js = NULL;
    size_t jl = 0;
    int a = wk_event_to_json(ev, &js, &jl);
    wk_jsonw_reset(w);
    int b = wk_jsonw_event(w, ev);
    if (a < 0) {
        if (b != a)
            WK_FAIL("jansson refuses (%d), jsonw %d: %.*s", a, b, (int)w->len, w->p);
        WK_ASSERT_UINT_EQ(w->len, 0);
        return 0;
    }
    WK_ASSERT_OK(b);
    if (w->len != jl || memcmp(w->p, js, jl) != 0)
        WK_FAIL("differs:\n jansson %s\n jsonw   %.*s", js, (int)w->len, w->p);
    free(js);
    return 1;
}

struct cmp_sink {
    struct wk_parser_sink sink;
    struct wk_jsonw w;
    int events;
};

static int cmp_emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    struct cmp_sink *c = (struct cmp_sink *)s;
    (void)resume;
    c->events += same_as_jansson(&c->w, ev);
    return 0;
}

static int cmp_reject(struct wk_parser_sink *s, const struct wk_line_ctx *where,
                      const char *reason, const char *raw, size_t len)
{
    (void)s, (void)where, (void)reason, (void)raw, (void)len;
    return 0;
}

WK_TEST(auditd_corpus_events_are_written_as_jansson_does)
{
    static const char *const logs[] = {
        "auditd/audit-userspace/test.log", "auditd/audit-userspace/test2.log",
        "auditd/audit-userspace/test3.log", "auditd/audit-userspace/test4.log",
        "auditd/beats/auditbeat-sudo.log", "auditd/beats/auditbeat-chown.log",
        "auditd/beats/auditbeat-setuid.log", "auditd/beats/auditbeat-userlogin.log",
        "auditd/beats/filebeat-module-auditd-useradd.log",
        "auditd/beats/filebeat-module-auditd-audit-cent7-node.log",
        "auditd/go-libaudit/auparse__audit-rhel7.log", "auditd/go-libaudit/auparse__test2.log",
        "auditd/go-libaudit/auparse__test3.log", "auditd/go-libaudit/root__normal.log",
        "auditd/go-libaudit/root__lost_messages.log", "auditd/go-libaudit/root__out_of_order.log",
        "auditd/go-libaudit/auparse__audit-rhel6.log", "auditd/go-libaudit/auparse__audit-ubuntu16.log",
    };
    struct cmp_sink c = {.sink = {.emit = cmp_emit, .reject = cmp_reject}};
    for (size_t i = 0; i < WK_ARRAY_SIZE(logs); i++) {
        size_t len;
        char *buf = corpus_read(logs[i], &len);
        au_feed(&c.sink, logs[i], buf, len);
        free(buf);
    }
    /* 173 events from these logs today (the parser may merge or split a few) */
    WK_ASSERT(c.events >= 165);
    wk_jsonw_fini(&c.w);
}

/* JSON lines of the corpus (objects become events: nesting, arrays, numbers). */
WK_TEST(corpus_json_lines_are_written_as_jansson_does)
{
    static const char *const files[] = {
        "cri/fluent-bit-multiline-test-cri_output.expected.jsonl",
        "cri/kubernetes-kubelet-logs_test-parse-vectors.expected.jsonl",
        "cri/fluent-bit-multiline-test-container_mix_input.records.jsonl",
        "docker-events/moby-api-v1.22-events-example.jsonl",
        "docker-events/moby-api-v1.24-events-example.jsonl",
        "docker-events/wazuh/docker_integration-events-extracted.jsonl",
        "json-file/fluent-bit-multiline-test-docker_input.records.jsonl",
    };
    struct wk_jsonw w = {0};
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    int n = 0;
    for (size_t i = 0; i < WK_ARRAY_SIZE(files); i++) {
        size_t len;
        char *buf = corpus_read(files[i], &len);
        for (char *line = buf, *nl; line < buf + len; line = nl + 1) {
            nl = memchr(line, '\n', (size_t)(buf + len - line));
            if (!nl)
                nl = buf + len;
            if (wk_event_from_json(ev, line, (size_t)(nl - line), NULL) == 0)
                n += same_as_jansson(&w, ev);
        }
        free(buf);
    }
    WK_ASSERT(n >= 35); /* 39 of these lines are events today */
    wk_event_free(ev);
    wk_jsonw_fini(&w);
}

static void add_str(struct wk_event *ev, unsigned rec, const char *name, const char *s, size_t n)
{
    struct wk_key k = wk_key_init(name);
    WK_ASSERT_OK(wk_event_add_str(ev, rec, &k, s, n));
}

static void add_val(struct wk_event *ev, unsigned rec, const char *name, uint64_t dots,
                    const struct wk_value *v)
{
    struct wk_key k = wk_key_init(name);
    WK_ASSERT_OK(wk_event_add_value(ev, rec, &k, dots, v));
}

WK_TEST(corner_cases_are_written_as_jansson_does)
{
    struct wk_jsonw w = {0};
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    static const char bin[] = "\xff\xfe\x00\x01 not utf-8 \xc3";
    static const char esc[] = "q\" b\\ \b\f\n\r\t \x01\x1f \x7f caf\xc3\xa9 \xe2\x82\xac";
    struct wk_str items[] = {{"a", 1}, {bin, sizeof(bin) - 1}, {esc, sizeof(esc) - 1}, {"", 0}};

    /* nesting, a leaf replaced by an object's path and back, literal dots */
    wk_event_set_ts(ev, INT64_C(1700000000123456789));
    add_str(ev, 0, "a.b.c", "1", 1);
    add_str(ev, 0, "a.b.d", "2", 1);
    add_str(ev, 0, "a", "leaf", 4);    /* replaces the object a, in its place */
    add_str(ev, 0, "a.x.y", "3", 1);   /* a is a leaf now: "x.y" stays one key */
    add_str(ev, 0, "q.r", "4", 1);
    add_str(ev, 0, "q.r.s", "5", 1);   /* q.r is a leaf: key "r.s" in q */
    struct wk_value v = {.kind = WK_VAL_STR, .u.s = "lit", .len = 3};
    add_val(ev, 0, "labels.app.kubernetes.io/name", 2 | 4, &v); /* literal dots */
    add_val(ev, 0, "x.~/y", 0, &v);
    WK_ASSERT_INT_EQ(same_as_jansson(&w, ev), 1);

    /* records: fields at event level and in records, a record with no fields */
    wk_event_reset(ev);
    wk_event_set_ts(ev, -1);
    WK_ASSERT_OK(wk_event_add_record(ev));
    WK_ASSERT_OK(wk_event_add_record(ev));
    WK_ASSERT_OK(wk_event_add_record(ev));
    add_str(ev, 0, "event.action", "execve", 6);
    add_str(ev, 2, "type", "EXECVE", 6);
    add_str(ev, 1, "type", "SYSCALL", 7);
    add_str(ev, 0, "event.module", "auditd", 6);
    add_str(ev, 2, "a0.b", "x", 1);
    WK_ASSERT_INT_EQ(same_as_jansson(&w, ev), 1);
    wk_event_reset(ev);
    WK_ASSERT_OK(wk_event_add_record(ev));
    add_str(ev, 0, "only", "event level", 11);
    WK_ASSERT_INT_EQ(same_as_jansson(&w, ev), 1);
    /* fields named records: before the array (replaced by it in place), nested after it
     * (a literal key beside it), and alone after it (refused: see jsonw.c) */
    wk_event_reset(ev);
    WK_ASSERT_OK(wk_event_add_record(ev));
    add_str(ev, 0, "records", "first", 5);
    add_str(ev, 1, "type", "PATH", 4);
    add_str(ev, 0, "records.x", "after", 5);
    WK_ASSERT_INT_EQ(same_as_jansson(&w, ev), 1);
    wk_event_reset(ev);
    WK_ASSERT_OK(wk_event_add_record(ev));
    add_str(ev, 0, "records.y", "no record fields", 16);
    WK_ASSERT_INT_EQ(same_as_jansson(&w, ev), 1);
    wk_event_reset(ev);
    WK_ASSERT_OK(wk_event_add_record(ev));
    add_str(ev, 1, "type", "PATH", 4);
    add_str(ev, 0, "records", "after", 5);
    wk_jsonw_reset(&w);
    WK_ASSERT_INT_EQ(wk_jsonw_event(&w, ev), -ENOMEM);
    WK_ASSERT_UINT_EQ(w.len, 0);
    /* ...and by wk_event_to_json too: it once freed the records array here and then read
     * and wrote it for the next record field. The accesses are inside libjansson, which
     * ASan does not instrument; under valgrind this test failed with invalid reads and
     * writes. */
    add_str(ev, 1, "name", "/etc", 4);
    char *js = NULL;
    WK_ASSERT_INT_EQ(wk_event_to_json(ev, &js, NULL), -ENOMEM);
    WK_ASSERT(js == NULL);

    /* binary strings (base64, pointers in @binary, escaped ~ and /), escapes, lists */
    wk_event_reset(ev);
    WK_ASSERT_OK(wk_event_add_record(ev));
    add_str(ev, 0, "event.original", bin, sizeof(bin) - 1);
    add_str(ev, 1, "we~ird/name.x", bin, 3);
    v = (struct wk_value){.kind = WK_VAL_STRLIST, .u.items = items, .len = 4};
    add_val(ev, 0, "process.args", 0, &v);
    add_val(ev, 1, "list.a", 0, &v);
    add_str(ev, 0, "esc", esc, sizeof(esc) - 1);
    add_str(ev, 0, "short\"k", "\"", 1);
    add_str(ev, 0, "e", "", 0);
    add_str(ev, 0, "seven77", "1234567", 7);
    add_str(ev, 0, "eight888", "12345678", 8);
    add_str(ev, 0, "nine", "12345678\n", 9);
    v = (struct wk_value){.kind = WK_VAL_STRLIST, .len = 0};
    add_val(ev, 0, "empty.list", 0, &v);
    WK_ASSERT_INT_EQ(same_as_jansson(&w, ev), 1);

    /* scalars, JSON values, reals as jansson prints them */
    wk_event_reset(ev);
    static const double reals[] = {0.0, -0.0, 0.1, 1.0, 5e-324, 1e300, -2.5, 123456789.125,
                                   1e16, 3.0e21};
    char name[32];
    for (size_t i = 0; i < WK_ARRAY_SIZE(reals); i++) {
        v = (struct wk_value){.kind = WK_VAL_REAL, .u.r = reals[i]};
        snprintf(name, sizeof(name), "r.%zu", i);
        add_val(ev, 0, name, 0, &v);
    }
    static const int64_t ints[] = {0, -1, INT64_MIN, INT64_MAX, 10};
    for (size_t i = 0; i < WK_ARRAY_SIZE(ints); i++) {
        v = (struct wk_value){.kind = WK_VAL_INT, .u.i = ints[i]};
        snprintf(name, sizeof(name), "i.%zu", i);
        add_val(ev, 0, name, 0, &v);
    }
    v = (struct wk_value){.kind = WK_VAL_BOOL, .u.b = true};
    add_val(ev, 0, "b.t", 0, &v);
    v.u.b = false;
    add_val(ev, 0, "b.f", 0, &v);
    v = (struct wk_value){.kind = WK_VAL_NULL};
    add_val(ev, 0, "n", 0, &v);
    struct wk_key kj = wk_key_init("j.obj");
    static const char obj[] = "{\"z\": [1, 2.5, \"s\\u0000t\", {\"a\": null}], \"y\": true}";
    WK_ASSERT_OK(wk_event_add_json(ev, 0, &kj, obj, sizeof(obj) - 1));
    kj = wk_key_init("j.num");
    WK_ASSERT_OK(wk_event_add_json(ev, 0, &kj, "0.30000000000000004", 19));
    WK_ASSERT_INT_EQ(same_as_jansson(&w, ev), 1);

    /* what wk_event_to_json refuses, refused the same way: a JSON value that does not
     * parse, a non-finite real, a key that is not UTF-8, a pointer over its buffer */
    wk_event_reset(ev);
    kj = wk_key_init("bad.json");
    WK_ASSERT_OK(wk_event_add_json(ev, 0, &kj, "{oops", 5));
    WK_ASSERT_INT_EQ(same_as_jansson(&w, ev), 0);
    wk_event_reset(ev);
    v = (struct wk_value){.kind = WK_VAL_REAL, .u.r = INFINITY};
    add_val(ev, 0, "inf", 0, &v);
    WK_ASSERT_INT_EQ(same_as_jansson(&w, ev), 0);
    wk_event_reset(ev);
    add_str(ev, 0, "bad\xffkey", "v", 1);
    WK_ASSERT_INT_EQ(same_as_jansson(&w, ev), 0);
    wk_event_reset(ev);
    char longname[3000];
    memset(longname, '/', sizeof(longname) - 1); /* each '/' is "~1" in a pointer */
    longname[sizeof(longname) - 1] = '\0';
    add_str(ev, 0, longname, "ok", 2);
    WK_ASSERT_INT_EQ(same_as_jansson(&w, ev), 0);
    /* long names jansson takes (written by it: jsonw.c leaves names over 1000 bytes to
     * it), with a binary value whose pointer fits */
    wk_event_reset(ev);
    memset(longname, 'n', 1500);
    longname[1500] = '\0';
    add_str(ev, 0, longname, "ok", 2);
    longname[1] = '.';
    add_str(ev, 0, longname, bin, 2);
    WK_ASSERT_INT_EQ(same_as_jansson(&w, ev), 1);
    wk_event_free(ev);
    wk_jsonw_fini(&w);
}

/* Several events in one buffer, with text around them. */
WK_TEST(events_append_to_the_buffer)
{
    struct wk_jsonw w = {0};
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    wk_event_set_ts(ev, 0);
    add_str(ev, 0, "a", "1", 1);
    wk_jsonw_put(&w, "[", 1);
    WK_ASSERT_OK(wk_jsonw_event(&w, ev));
    wk_jsonw_put(&w, ",", 1);
    WK_ASSERT_OK(wk_jsonw_event(&w, ev));
    wk_jsonw_put(&w, "]", 1);
    WK_ASSERT_STR_EQ(w.p, "[{\"@timestamp\":\"1970-01-01T00:00:00.000000000Z\",\"a\":\"1\"},"
                          "{\"@timestamp\":\"1970-01-01T00:00:00.000000000Z\",\"a\":\"1\"}]");
    wk_jsonw_reset(&w);
    wk_jsonw_int(&w, INT64_MIN);
    wk_jsonw_str(&w, "\x1f", 1);
    WK_ASSERT_STR_EQ(w.p, "-9223372036854775808\"\\u001F\"");
    wk_event_free(ev);
    wk_jsonw_fini(&w);
}

/* Random events: names from a few segments (shared prefixes, conflicts), literal dots,
 * records, every kind, binary and escaped strings. */
static uint64_t rnd_state = 0x9E3779B97F4A7C15u;
static uint32_t rnd(uint32_t n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (uint32_t)(rnd_state % n);
}

/* A random value of the given kind for the random-event tests (the string ones drawn from
 * strs, items into items[3]); rnd() is drawn in the same order for every caller. */
static struct wk_value rand_value(enum wk_kind kind, const char *const *strs, size_t nstrs,
                                  struct wk_str items[3], const char *json)
{
    struct wk_value v = {.kind = kind};
    const char *s = strs[rnd((unsigned)nstrs)];
    switch (v.kind) {
    case WK_VAL_BOOL: v.u.b = rnd(2); break;
    case WK_VAL_INT: v.u.i = (int64_t)rnd(1u << 31) - (1 << 30); break;
    case WK_VAL_REAL: v.u.r = (double)rnd(100000) / 7.0; break;
    case WK_VAL_STR: v.u.s = s, v.len = (uint32_t)strlen(s); break;
    case WK_VAL_STRLIST:
        v.len = rnd(4);
        for (uint32_t i = 0; i < v.len; i++) {
            const char *t = strs[rnd((unsigned)nstrs)];
            items[i] = (struct wk_str){t, strlen(t)};
        }
        v.u.items = items;
        break;
    case WK_VAL_JSON: v.u.s = json, v.len = (uint32_t)strlen(json); break;
    default: break;
    }
    return v;
}

WK_TEST(random_events_are_written_as_jansson_does)
{
    /* ("records" alone at event level after a record field has no JSON form; the
     * corner-case test covers it) */
    static const char *const segs[] = {"a", "b", "process", "user", "id", "x.y", "~", "/",
                                       "records.r", "@timestamp", "n\"q", "longer_segment"};
    static const char *const strs[] = {"", "x", "quote\"", "\xff\x01", "caf\xc3\xa9",
                                       "tab\tnl\n", "0123456789abcdef", "\xe2\x82"};
    struct wk_jsonw w = {0};
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    int written = 0;
    for (int e = 0; e < 3000; e++) {
        wk_event_reset(ev);
        wk_event_set_ts(ev, (int64_t)rnd(1u << 31) * 1000003);
        unsigned nrec = rnd(3);
        for (unsigned r = 0; r < nrec; r++)
            WK_ASSERT_OK(wk_event_add_record(ev));
        unsigned nf = 1 + rnd(12);
        for (unsigned f = 0; f < nf; f++) {
            char name[128] = "";
            unsigned ns = 1 + rnd(3);
            for (unsigned s = 0; s < ns; s++) {
                if (s)
                    strcat(name, ".");
                strcat(name, segs[rnd(WK_ARRAY_SIZE(segs))]);
            }
            struct wk_str items[3];
            enum wk_kind kind = (enum wk_kind)rnd(WK_VAL_JSON + 1);
            struct wk_value v = rand_value(kind, strs, WK_ARRAY_SIZE(strs), items, "");
            if (kind == WK_VAL_JSON)
                v.u.s = rnd(2) ? "[1,{\"k\":\"v\"}]" : "12", v.len = (uint32_t)strlen(v.u.s);
            struct wk_key k = wk_key_init(name);
            if (wk_event_add_value(ev, nrec ? rnd(nrec + 1) : 0, &k, rnd(4), &v) < 0)
                continue;
        }
        written += same_as_jansson(&w, ev);
    }
    WK_ASSERT(written > 2500);
    wk_event_free(ev);
    wk_jsonw_fini(&w);
}

/* ---------- wk_jsonw_str against a byte-by-byte writer ---------- */

/* The slow path: jansson's escapes one byte at a time (the writer's contract). */
static size_t str_slow(char *o, const unsigned char *s, size_t n)
{
    size_t k = 0;
    o[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        const char *e = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b"
                      : c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                      : c == '\t' ? "\\t" : NULL;
        if (e) {
            memcpy(o + k, e, 2);
            k += 2;
        } else if (c < 0x20) {
            k += (size_t)sprintf(o + k, "\\u%04X", c);
        } else {
            o[k++] = (char)c;
        }
    }
    o[k++] = '"';
    o[k] = '\0';
    return k;
}

/* s written after `pre` bytes already in the writer (another place in the buffer, another
 * room left before it grows) against the slow path; for valid UTF-8 also against jansson. */
static void str_check(struct wk_jsonw *w, size_t pre, const unsigned char *s, size_t n,
                      bool utf8)
{
    static char want[6 * 4096 + 3];
    WK_ASSERT(n <= 4096);
    size_t wl = str_slow(want, s, n);
    wk_jsonw_reset(w);
    for (size_t i = 0; i < pre; i++)
        wk_jsonw_put(w, "p", 1);
    /* a heap copy of exactly n bytes: ASan sees any read past its end */
    char *c = malloc(n ? n : 1);
    WK_ASSERT(c != NULL);
    memcpy(c, s, n);
    wk_jsonw_str(w, c, n);
    free(c);
    WK_ASSERT(!w->oom);
    WK_ASSERT_UINT_EQ(w->len, pre + wl);
    if (memcmp(w->p + pre, want, wl) != 0 || w->p[w->len] != '\0')
        WK_FAIL("string of %zu bytes at %zu differs:\n want %s\n got  %s", n, pre, want,
                w->p + pre);
    if (utf8) {
        json_t *j = json_stringn((const char *)s, n);
        WK_ASSERT(j != NULL);
        char *d = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        WK_ASSERT(d != NULL);
        WK_ASSERT_STR_EQ(d, want);
        free(d);
        json_decref(j);
    }
}

/* Every byte value at every position of strings of 0..48 bytes (the 16-byte, 8-byte and
 * tail paths and the seams between them), in fillers that include the bytes the word test
 * could flag falsely after an escape (' ' after a control byte, '#' after '"', ']' after
 * '\\'), and a second special byte right after the first. */
WK_TEST(strings_every_byte_at_every_position_as_the_slow_path)
{
    static const unsigned char fills[] = { 'a', ' ', '#', ']', 0x7f, 0x80, 0xff, '"' };
    struct wk_jsonw w = {0};
    unsigned char s[64];
    size_t checked = 0;
    for (size_t fi = 0; fi < sizeof(fills); fi++) {
        for (size_t n = 1; n <= 48; n++) {
            for (size_t at = 0; at < n; at++) {
                for (unsigned c = 0; c < 256; c++) {
                    memset(s, fills[fi], n);
                    s[at] = (unsigned char)c;
                    if (at + 1 < n && c % 3 == 0)
                        s[at + 1] = (unsigned char)(c + 1); /* a pair of specials */
                    str_check(&w, (c + at) % 19, s, n, fi == 0 && c < 0x80);
                    checked++;
                }
            }
        }
    }
    WK_ASSERT(checked > 300000);
    wk_jsonw_fini(&w);
}

/* Strings of 64..200 bytes (core/jsonw.c takes 32 at a time while 64 are left, every
 * escape of a chunk from its one mask, the chunk's room reserved once): a special byte at
 * every position, in a clean filler and in one of quotes only (an escape in every byte of
 * every chunk), with a second special at every distance after it, written after 0..40
 * bytes (another room left before the writer grows). */
WK_TEST(long_strings_with_escapes_at_every_position_as_the_slow_path)
{
    static const unsigned char fills[] = { 'a', '"' };
    static const unsigned char specials[] = { '"', '\\', '\n', 0x01, 0x1f, 'z', 0x80 };
    static const size_t lens[] = { 64, 65, 95, 96, 97, 127, 128, 129, 200 };
    struct wk_jsonw w = {0};
    unsigned char s[256];
    size_t checked = 0;
    for (size_t fi = 0; fi < sizeof(fills); fi++) {
        for (size_t li = 0; li < WK_ARRAY_SIZE(lens); li++) {
            size_t n = lens[li];
            for (size_t at = 0; at < n; at++) {
                for (size_t k = 0; k < sizeof(specials); k++) {
                    memset(s, fills[fi], n);
                    s[at] = specials[k];
                    size_t at2 = at + 1 + (at * 7 + k) % 40;
                    if (at2 < n)
                        s[at2] = specials[(k + 1) % sizeof(specials)];
                    str_check(&w, (at + k) % 41, s, n, !memchr(s, 0x80, n));
                    checked++;
                }
            }
        }
    }
    WK_ASSERT_UINT_EQ(checked, 2 * 1001 * 7);
    wk_jsonw_fini(&w);
}

/* Random strings: lengths 0..4096, bytes from mixes that make escapes rare, common or
 * dense; written into a writer that starts small so the escapes' own reserve runs. */
WK_TEST(random_strings_as_the_slow_path)
{
    static unsigned char s[4096];
    for (int r = 0; r < 20000; r++) {
        struct wk_jsonw w = {0};
        size_t n = r % 10 == 0 ? rnd(4097) : rnd(80);
        unsigned mix = rnd(4);
        bool ascii = true;
        for (size_t i = 0; i < n; i++) {
            unsigned x = rnd(256);
            if (mix == 0 || (mix == 1 && rnd(16)) || (mix == 2 && rnd(2)))
                x = 0x20 + x % 0x5f; /* printable ASCII: '"' and '\\' among them */
            s[i] = (unsigned char)x;
            ascii &= x < 0x80;
        }
        str_check(&w, rnd(1100), s, n, ascii);
        wk_jsonw_fini(&w);
    }
}

/* Keys and values of 1..20 bytes (the inline path takes 1..16 bytes without an escape)
 * with a special byte at every position, at event level, in a record and nested under a
 * dotted name, and as list items, against jansson. */
WK_TEST(short_keys_and_values_with_a_special_at_every_position)
{
    static const char *const specials[] = { "\"", "\\", "\n", "\x01", "\x1f", "\x7f",
                                            "\xc3\xa9", "\xff", " ", "." };
    struct wk_jsonw w = {0};
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    int written = 0;
    char s[32], name[48];
    for (size_t k = 0; k < WK_ARRAY_SIZE(specials); k++) {
        size_t sl = strlen(specials[k]);
        for (size_t n = 1; n <= 20; n++) {
            for (size_t at = 0; at + sl <= n; at++) {
                memset(s, 'k', n);
                memcpy(s + at, specials[k], sl);
                s[n] = '\0';
                wk_event_reset(ev);
                wk_event_set_ts(ev, 1);
                WK_ASSERT_OK(wk_event_add_record(ev));
                add_str(ev, 0, s, s, n);
                add_str(ev, 1, s, s + at, n - at);
                snprintf(name, sizeof(name), "obj.%s", s);
                add_str(ev, 0, name, s, n);
                struct wk_key key = wk_key_init("l");
                WK_ASSERT_OK(wk_event_add_strlist(ev, 0, &key,
                                                  (struct wk_str[]){ { s, n }, { s + at, sl } }, 2));
                written += same_as_jansson(&w, ev);
            }
        }
    }
    WK_ASSERT(written > 1500);
    wk_event_free(ev);
    wk_jsonw_fini(&w);
}

/* Records written flat (every name without a dot, every value a string, list, integer,
 * bool or null) next to records that are not (a dotted name, a real, a JSON value),
 * names set twice, binary strings and lists (their @binary pointers in field order),
 * "records" and "@binary" as record names: random events against jansson. */
WK_TEST(random_flat_records_are_written_as_jansson_does)
{
    static const char *const names[] = {"type", "a0", "a1", "name", "records", "@binary",
                                         "n\"q", "caf\xc3\xa9", "x", "a0.b", "~1"};
    static const char *const strs[] = {"", "x", "quote\"", "\xff\x01", "caf\xc3\xa9",
                                       "tab\tnl\n", "0123456789abcdef0", "\xe2\x82"};
    static const enum wk_kind kinds[] = {WK_VAL_STR, WK_VAL_STR, WK_VAL_STR, WK_VAL_STRLIST,
                                         WK_VAL_INT, WK_VAL_BOOL, WK_VAL_NULL, WK_VAL_REAL,
                                         WK_VAL_JSON};
    struct wk_jsonw w = {0};
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    int written = 0, flat = 0;
    for (int e = 0; e < 4000; e++) {
        wk_event_reset(ev);
        wk_event_set_ts(ev, (int64_t)rnd(1u << 31) * 1000003);
        unsigned nrec = 1 + rnd(4);
        for (unsigned r = 0; r < nrec; r++)
            WK_ASSERT_OK(wk_event_add_record(ev));
        unsigned nf = 1 + rnd(20);
        for (unsigned f = 0; f < nf; f++) {
            /* mostly plain names and strings: most records are flat */
            const char *name = names[rnd(8) ? rnd(9) : rnd(WK_ARRAY_SIZE(names))];
            struct wk_str items[3];
            enum wk_kind kind = rnd(6) ? kinds[rnd(7)] : kinds[rnd(WK_ARRAY_SIZE(kinds))];
            struct wk_value v = rand_value(kind, strs, WK_ARRAY_SIZE(strs), items,
                                           "[1,{\"k\":\"v\"}]");
            struct wk_key k = wk_key_init(name);
            unsigned rec = rnd(5) ? 1 + rnd(nrec) : 0;
            if (wk_event_add_value(ev, rec, &k, 0, &v) < 0)
                continue;
        }
        /* count the events with a flat record (as jsonw.c decides it) */
        bool any = false;
        for (unsigned r = 1; r <= nrec && !any; r++) {
            bool ok = false;
            for (size_t i = 0; i < wk_event_nfields(ev); i++) {
                const struct wk_value *v = wk_event_field_value(ev, i);
                if (v->rec != r)
                    continue;
                const struct wk_key *k = wk_event_field_key(ev, i);
                ok = !memchr(k->name, '.', k->len) && v->kind != WK_VAL_REAL &&
                     v->kind != WK_VAL_JSON;
                if (!ok)
                    break;
            }
            any = ok;
        }
        flat += any;
        written += same_as_jansson(&w, ev);
    }
    WK_ASSERT(written > 3000);
    WK_ASSERT(flat > 1000);
    wk_event_free(ev);
    wk_jsonw_fini(&w);
}

/* Names and values of flat records, 1..100 bytes (the one-scan check of core/jsonw.c,
 * ascii_clean, takes 32 bytes at a time then the last 16 and 32 overlapping, or words
 * below 16), and the items of a list at event level,
 * with one special byte (or a UTF-8 pair) at every position: what needs an escape, a
 * byte >= 0x80 (valid UTF-8 or not), a dot in a name, and bytes next to them that need
 * nothing; against jansson. A value or name wrongly found clean is copied as it is and
 * differs here. */
WK_TEST(flat_record_names_and_values_with_a_special_at_every_position)
{
    static const char *const specials[] = { "\"", "\\", "\n", "\x01", "\x1f", "\x7f",
                                            "\x80", "\xc3\xa9", "\xff", ".", " ", "~" };
    struct wk_jsonw w = {0};
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    int written = 0;
    char s[128], name[80];
    for (size_t k = 0; k < WK_ARRAY_SIZE(specials); k++) {
        size_t sl = strlen(specials[k]);
        for (size_t n = 1; n <= 100; n++) {
            for (size_t at = 0; at + sl <= n; at++) {
                memset(s, 'v', n);
                memcpy(s + at, specials[k], sl);
                s[n] = '\0';
                size_t nl = n < 40 ? n : 40, nat = at + sl <= nl ? at : nl - sl;
                memset(name, 'k', nl);
                memcpy(name + nat, specials[k], sl);
                name[nl] = '\0';
                wk_event_reset(ev);
                wk_event_set_ts(ev, 1);
                WK_ASSERT_OK(wk_event_add_record(ev));
                WK_ASSERT_OK(wk_event_add_record(ev));
                add_str(ev, 1, "type", "EXECVE", 6);
                add_str(ev, 1, "a0", s, n);          /* a clean name, the value */
                add_str(ev, 2, name, "clean", 5);    /* the name (a dot: not flat) */
                add_str(ev, 2, "a1", s, n);
                add_str(ev, 0, "event.action", s, n);
                /* lists: the items' one look (leaf: all clean, copied without another) */
                struct wk_key key = wk_key_init("process.args");
                WK_ASSERT_OK(wk_event_add_strlist(
                    ev, 0, &key, (struct wk_str[]){ { "clean", 5 }, { s, n }, { s, at } }, 3));
                written += same_as_jansson(&w, ev);
            }
        }
    }
    WK_ASSERT(written > 50000);
    wk_event_free(ev);
    wk_jsonw_fini(&w);
}
