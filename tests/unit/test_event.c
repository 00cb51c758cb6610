/* SPDX-License-Identifier: Apache-2.0 */
/* The event model: every field kind, lookup, records, JSON round trip (binary-safe
 * event.original), missing fields, oversized values. */
#include "config.h"

#include <errno.h>

#include "watchkeeper/error.h"
#include "watchkeeper/event.h"
#include "watchkeeper/event_json.h"
#include "wk_test.h"

static struct wk_event *new_event(void)
{
    struct wk_event *ev = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    return ev;
}

static char *to_json(const struct wk_event *ev)
{
    char *s = NULL;
    size_t len = 0;
    WK_ASSERT_OK(wk_event_to_json(ev, &s, &len));
    WK_ASSERT_UINT_EQ(len, strlen(s));
    return s;
}

/* json -> event -> json must give back the same text, and a re-parse an equal event. */
static void assert_roundtrip_text(const char *json)
{
    struct wk_event *a = new_event(), *b = new_event();
    const char *err = NULL;
    int rc = wk_event_from_json(a, json, strlen(json), &err);
    if (rc < 0)
        WK_FAIL("parse failed: %s", err);
    char *out = to_json(a);
    WK_ASSERT_STR_EQ(out, json);
    WK_ASSERT_OK(wk_event_from_json(b, out, strlen(out), NULL));
    WK_ASSERT(wk_event_equal(a, b));
    free(out);
    wk_event_free(a);
    wk_event_free(b);
}

WK_TEST(every_kind_added_and_read)
{
    struct wk_event *ev = new_event();
    struct wk_key ks = wk_key_init("process.executable"), ki = wk_key_init("process.pid"),
                  kr = wk_key_init("metric.ratio"), kb = wk_key_init("event.success"),
                  kn = wk_key_init("user.name"), kl = wk_key_init("process.args"),
                  kj = wk_key_init("labels.list");
    struct wk_str args[] = { { "/bin/sh", 7 }, { "-c", 2 }, { "id", 2 } };
    wk_event_set_ts(ev, INT64_C(1700000000123456789));
    WK_ASSERT_OK(wk_event_add_str(ev, 0, &ks, "/usr/bin/id", 11));
    WK_ASSERT_OK(wk_event_add_int(ev, 0, &ki, -42));
    WK_ASSERT_OK(wk_event_add_real(ev, 0, &kr, 0.5));
    WK_ASSERT_OK(wk_event_add_bool(ev, 0, &kb, true));
    WK_ASSERT_OK(wk_event_add_null(ev, 0, &kn));
    WK_ASSERT_OK(wk_event_add_strlist(ev, 0, &kl, args, 3));
    WK_ASSERT_OK(wk_event_add_json(ev, 0, &kj, "[1,{\"a\":2}]", 11));

    WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 7);
    const struct wk_value *v = wk_event_get(ev, 0, &ks);
    WK_ASSERT(v && v->kind == WK_VAL_STR);
    WK_ASSERT_MEM_EQ(v->u.s, v->len, "/usr/bin/id", 11);
    v = wk_event_get(ev, 0, &ki);
    WK_ASSERT(v && v->kind == WK_VAL_INT);
    WK_ASSERT_INT_EQ(v->u.i, -42);
    v = wk_event_get(ev, 0, &kr);
    WK_ASSERT(v && v->kind == WK_VAL_REAL && v->u.r == 0.5);
    v = wk_event_get(ev, 0, &kb);
    WK_ASSERT(v && v->kind == WK_VAL_BOOL && v->u.b);
    v = wk_event_get(ev, 0, &kn);
    WK_ASSERT(v && v->kind == WK_VAL_NULL);
    v = wk_event_get(ev, 0, &kl);
    WK_ASSERT(v && v->kind == WK_VAL_STRLIST);
    WK_ASSERT_UINT_EQ(v->len, 3);
    WK_ASSERT_MEM_EQ(v->u.items[1].s, v->u.items[1].len, "-c", 2);
    v = wk_event_get(ev, 0, &kj);
    WK_ASSERT(v && v->kind == WK_VAL_JSON);

    char *json = to_json(ev);
    WK_ASSERT_STR_EQ(json, "{\"@timestamp\":\"2023-11-14T22:13:20.123456789Z\","
                           "\"process\":{\"executable\":\"/usr/bin/id\",\"pid\":-42,"
                           "\"args\":[\"/bin/sh\",\"-c\",\"id\"]},"
                           "\"metric\":{\"ratio\":0.5},\"event\":{\"success\":true},"
                           "\"user\":{\"name\":null},\"labels\":{\"list\":[1,{\"a\":2}]}}");
    struct wk_event *back = new_event();
    WK_ASSERT_OK(wk_event_from_json(back, json, strlen(json), NULL));
    WK_ASSERT(wk_event_equal(ev, back));
    free(json);
    wk_event_free(back);
    wk_event_free(ev);
}

WK_TEST(missing_fields_are_null)
{
    struct wk_event *ev = new_event();
    struct wk_key k = wk_key_init("container.id");
    struct wk_key other = wk_key_init("container.ids");
    WK_ASSERT(wk_event_get(ev, 0, &k) == NULL);
    WK_ASSERT_OK(wk_event_add_str(ev, 0, &k, "abc", 3));
    WK_ASSERT(wk_event_get(ev, 0, &other) == NULL);
    WK_ASSERT(wk_event_get(ev, 1, &k) == NULL); /* no such record */
    WK_ASSERT(wk_event_get_str(ev, &WK_KEY_MESSAGE, NULL) == NULL);
    size_t len = 0;
    WK_ASSERT_STR_EQ(wk_event_get_str(ev, &WK_KEY_CONTAINER_ID, &len), "abc");
    WK_ASSERT_UINT_EQ(len, 3);
    wk_event_free(ev);
}

WK_TEST(add_same_name_replaces)
{
    struct wk_event *ev = new_event();
    struct wk_key k = wk_key_init("event.action");
    WK_ASSERT_OK(wk_event_add_str(ev, 0, &k, "start", 5));
    WK_ASSERT_OK(wk_event_add_str(ev, 0, &k, "die", 3));
    WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 1);
    WK_ASSERT_STR_EQ(wk_event_get_str(ev, &k, NULL), "die");
    wk_event_free(ev);
}

WK_TEST(records_keep_their_fields)
{
    struct wk_event *ev = new_event();
    struct wk_key type = wk_key_init("type"), a0 = wk_key_init("a0"),
                  key = wk_key_init("auditd.key");
    WK_ASSERT_OK(wk_event_add_str(ev, 0, &key, "exec", 4));
    int r1 = wk_event_add_record(ev);
    int r2 = wk_event_add_record(ev);
    WK_ASSERT_INT_EQ(r1, 1);
    WK_ASSERT_INT_EQ(r2, 2);
    WK_ASSERT_OK(wk_event_add_str(ev, 1, &type, "SYSCALL", 7));
    WK_ASSERT_OK(wk_event_add_str(ev, 1, &a0, "7ffd1234", 8));
    WK_ASSERT_OK(wk_event_add_str(ev, 2, &type, "EXECVE", 6));
    WK_ASSERT_OK(wk_event_add_str(ev, 2, &a0, "/bin/sh", 7));
    WK_ASSERT_INT_EQ(wk_event_add_str(ev, 3, &a0, "x", 1), -EINVAL);

    const struct wk_value *v = wk_event_get(ev, 2, &a0);
    WK_ASSERT_MEM_EQ(v->u.s, v->len, "/bin/sh", 7);
    v = wk_event_get(ev, 1, &a0);
    WK_ASSERT_MEM_EQ(v->u.s, v->len, "7ffd1234", 8);
    WK_ASSERT(wk_event_get(ev, 2, &key) == NULL);
    v = wk_event_get_ctx(ev, 2, &key); /* context fields are seen from any record */
    WK_ASSERT(v && v->len == 4);

    char *json = to_json(ev);
    WK_ASSERT_STR_EQ(json, "{\"@timestamp\":\"1970-01-01T00:00:00.000000000Z\","
                           "\"auditd\":{\"key\":\"exec\"},\"records\":["
                           "{\"type\":\"SYSCALL\",\"a0\":\"7ffd1234\"},"
                           "{\"type\":\"EXECVE\",\"a0\":\"/bin/sh\"}]}");
    assert_roundtrip_text(json);
    free(json);
    wk_event_free(ev);
}

WK_TEST(binary_original_roundtrips_exactly)
{
    /* Every byte value, NULs and invalid UTF-8 included. */
    char raw[256 * 2];
    for (int i = 0; i < 512; i++)
        raw[i] = (char)(i % 256);
    struct wk_event *ev = new_event(), *back = new_event();
    WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_EVENT_ORIGINAL, raw, sizeof(raw)));
    char *json = to_json(ev);
    WK_ASSERT(strstr(json, "\"@binary\":[\"/event/original\"]") != NULL);
    WK_ASSERT_OK(wk_event_from_json(back, json, strlen(json), NULL));
    const struct wk_value *v = wk_event_get(back, 0, &WK_KEY_EVENT_ORIGINAL);
    WK_ASSERT(v && v->kind == WK_VAL_STR);
    WK_ASSERT_MEM_EQ(v->u.s, v->len, raw, sizeof(raw));
    WK_ASSERT(wk_event_equal(ev, back));
    free(json);
    wk_event_free(ev);
    wk_event_free(back);
}

WK_TEST(utf8_original_with_nul_stays_text)
{
    const char raw[] = "type=EXECVE msg=audit(1.2:3): a0=\"\xc3\xa9\" \0tail";
    struct wk_event *ev = new_event(), *back = new_event();
    WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_EVENT_ORIGINAL, raw, sizeof(raw) - 1));
    char *json = to_json(ev);
    WK_ASSERT(strstr(json, "@binary") == NULL);
    WK_ASSERT(strstr(json, "\\u0000tail") != NULL);
    WK_ASSERT_OK(wk_event_from_json(back, json, strlen(json), NULL));
    const struct wk_value *v = wk_event_get(back, 0, &WK_KEY_EVENT_ORIGINAL);
    WK_ASSERT_MEM_EQ(v->u.s, v->len, raw, sizeof(raw) - 1);
    free(json);
    wk_event_free(ev);
    wk_event_free(back);
}

WK_TEST(binary_strlist_item_and_record_value)
{
    struct wk_event *ev = new_event(), *back = new_event();
    struct wk_str items[] = { { "ok", 2 }, { "\xff\xfe", 2 } };
    struct wk_key args = wk_key_init("process.args"), name = wk_key_init("name");
    WK_ASSERT_OK(wk_event_add_strlist(ev, 0, &args, items, 2));
    WK_ASSERT_INT_EQ(wk_event_add_record(ev), 1);
    WK_ASSERT_OK(wk_event_add_str(ev, 1, &name, "\x80", 1));
    char *json = to_json(ev);
    WK_ASSERT(strstr(json, "\"@binary\":[\"/process/args/1\",\"/records/0/name\"]") != NULL);
    WK_ASSERT_OK(wk_event_from_json(back, json, strlen(json), NULL));
    WK_ASSERT(wk_event_equal(ev, back));
    free(json);
    wk_event_free(ev);
    wk_event_free(back);
}

WK_TEST(literal_dots_in_keys_roundtrip)
{
    /* Docker label keys carry dots that are not nesting. */
    assert_roundtrip_text("{\"@timestamp\":\"2024-05-01T10:00:00.000000001Z\","
                          "\"Actor\":{\"ID\":\"abc\",\"Attributes\":{"
                          "\"com.docker.compose.project\":\"web\",\"image\":\"busybox\"}}}");
    struct wk_event *ev = new_event();
    const char *j = "{\"Actor\":{\"Attributes\":{\"com.docker.compose.project\":\"web\"}}}";
    WK_ASSERT_OK(wk_event_from_json(ev, j, strlen(j), NULL));
    struct wk_key k = wk_key_init("Actor.Attributes.com.docker.compose.project");
    WK_ASSERT_STR_EQ(wk_event_get_str(ev, &k, NULL), "web");
    /* bits 2, 3 and 4: the dots inside the label key */
    WK_ASSERT_UINT_EQ(wk_event_field_dots(ev, 0), (1u << 2) | (1u << 3) | (1u << 4));
    wk_event_free(ev);
}

WK_TEST(arbitrary_json_kept_as_given)
{
    assert_roundtrip_text("{\"@timestamp\":\"2024-05-01T10:00:00.000000000Z\","
                          "\"a\":{\"empty\":{},\"mixed\":[1,\"x\",null],\"strs\":[],"
                          "\"deep\":{\"b\":{\"c\":{\"d\":-9223372036854775807}}}},"
                          "\"f\":false,\"n\":null,\"r\":1.5}");
}

WK_TEST(timestamp_parse_and_errors)
{
    struct wk_event *ev = new_event();
    const char *err = NULL;
    const char *j = "{\"@timestamp\":\"2024-02-29T23:59:59.5+01:00\",\"message\":\"x\"}";
    WK_ASSERT_OK(wk_event_from_json(ev, j, strlen(j), &err));
    WK_ASSERT_INT_EQ(wk_event_ts(ev), INT64_C(1709247599500000000));

    j = "{\"@timestamp\":\"yesterday\"}";
    WK_ASSERT_INT_EQ(wk_event_from_json(ev, j, strlen(j), &err), WK_EPARSE);
    WK_ASSERT_STR_EQ(err, "@timestamp is not an RFC 3339 time");
    j = "[1,2]";
    WK_ASSERT_INT_EQ(wk_event_from_json(ev, j, strlen(j), &err), WK_EPARSE);
    j = "{\"a\":";
    WK_ASSERT_INT_EQ(wk_event_from_json(ev, j, strlen(j), &err), WK_EPARSE);
    WK_ASSERT(strstr(err, "invalid JSON at column") != NULL);
    j = "{\"\":1}";
    WK_ASSERT_INT_EQ(wk_event_from_json(ev, j, strlen(j), &err), WK_EPARSE);
    WK_ASSERT_STR_EQ(err, "empty field name");
    j = "{\"@binary\":[\"/x\"],\"x\":\"***\"}";
    WK_ASSERT_INT_EQ(wk_event_from_json(ev, j, strlen(j), &err), WK_EPARSE);
    WK_ASSERT_STR_EQ(err, "@binary names a value that is not valid base64");
    wk_event_free(ev);
}

WK_TEST(equal_but_leaves_out_the_flags_it_is_given)
{
    /* JSON carries no flags: a parser's made values (WK_VALF_LITERAL) come back without */
    struct wk_event *ev = new_event(), *back = new_event();
    WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_MESSAGE, "made", 4));
    wk_event_flag_last(ev, WK_VALF_LITERAL);
    WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_HOST_NAME, "cut", 3));
    wk_event_flag_last(ev, WK_VALF_TRUNCATED);
    char *json = to_json(ev);
    WK_ASSERT_OK(wk_event_from_json(back, json, strlen(json), NULL));
    WK_ASSERT(!wk_event_equal(ev, back));
    WK_ASSERT(!wk_event_equal_but(ev, back, WK_VALF_LITERAL)); /* TRUNCATED still counts */
    WK_ASSERT(wk_event_equal_but(ev, back, WK_VALF_LITERAL | WK_VALF_TRUNCATED));
    WK_ASSERT(wk_event_equal_but(ev, ev, 0));
    /* the values themselves still count */
    wk_event_reset(back);
    WK_ASSERT_OK(wk_event_add_str(back, 0, &WK_KEY_MESSAGE, "mode", 4));
    WK_ASSERT_OK(wk_event_add_str(back, 0, &WK_KEY_HOST_NAME, "cut", 3));
    wk_event_set_ts(back, wk_event_ts(ev));
    WK_ASSERT(!wk_event_equal_but(ev, back, WK_VALF_LITERAL | WK_VALF_TRUNCATED));
    free(json);
    wk_event_free(ev);
    wk_event_free(back);
}

WK_TEST(oversized_values)
{
    struct wk_event *ev = new_event(), *back = new_event();
    size_t big = 8u << 20; /* 8 MiB value */
    char *s = malloc(big);
    memset(s, 'A', big);
    WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_MESSAGE, s, big));
    wk_event_flag_last(ev, WK_VALF_TRUNCATED);
    const struct wk_value *v = wk_event_get(ev, 0, &WK_KEY_MESSAGE);
    WK_ASSERT_UINT_EQ(v->len, big);
    WK_ASSERT(v->flags & WK_VALF_TRUNCATED);
    char *json = to_json(ev);
    WK_ASSERT_OK(wk_event_from_json(back, json, strlen(json), NULL));
    v = wk_event_get(back, 0, &WK_KEY_MESSAGE);
    WK_ASSERT_MEM_EQ(v->u.s, v->len, s, big);

    /* a name over 65535 bytes is refused; so are too many dots to describe */
    char *name = malloc(70000);
    memset(name, 'n', 70000);
    struct wk_key k = wk_key_initn(name, 70000);
    WK_ASSERT_INT_EQ(wk_event_add_int(ev, 0, &k, 1), -EINVAL);
    char dots[200];
    size_t n = 0;
    dots[n++] = '{';
    dots[n++] = '"';
    for (int i = 0; i < 70; i++) {
        dots[n++] = 'a';
        dots[n++] = '.';
    }
    memcpy(dots + n, "b\":1}", 6);
    const char *err = NULL;
    WK_ASSERT_INT_EQ(wk_event_from_json(back, dots, strlen(dots), &err), WK_EPARSE);
    WK_ASSERT_STR_EQ(err, "field path with more than 64 dots");
    WK_ASSERT_INT_EQ(wk_event_add_real(ev, 0, &k, 0.0 / 0.0), -EINVAL);
    free(name);
    free(json);
    free(s);
    wk_event_free(ev);
    wk_event_free(back);
}

WK_TEST(reset_reuses_memory_and_copy)
{
    struct wk_event *ev = new_event(), *cp = new_event();
    struct wk_key k = wk_key_init("k");
    for (int round = 0; round < 1000; round++) {
        wk_event_reset(ev);
        WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 0);
        for (int i = 0; i < 50; i++) {
            char name[16];
            snprintf(name, sizeof(name), "f%d", i);
            struct wk_key fk = wk_key_init(name);
            WK_ASSERT_OK(wk_event_add_int(ev, 0, &fk, round * 100 + i));
        }
        WK_ASSERT_OK(wk_event_add_str(ev, 0, &k, "v", 1));
    }
    WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 51);
    WK_ASSERT_OK(wk_event_copy(cp, ev));
    WK_ASSERT(wk_event_equal(ev, cp));
    struct wk_key f3 = wk_key_init("f3");
    WK_ASSERT_INT_EQ(wk_event_get(cp, 0, &f3)->u.i, 99903);
    wk_event_free(ev);
    wk_event_free(cp);
}

/* A reset keeps the arena chunks the last use needed, and of those it did not need at
 * most 8 KiB: an event that once held a big value and is then reused for small ones gives
 * the big chunk back; one reused for big values keeps it (no allocation per use). */
WK_TEST(reset_drops_arena_chunks_the_last_use_did_not_need)
{
    struct wk_event *ev = new_event();
    struct wk_key ks = wk_key_init("small"), kb = wk_key_init("big");
    static char big[30000];
    memset(big, 'b', sizeof(big));
    WK_ASSERT_OK(wk_event_add_str(ev, 0, &ks, "s", 1));
    WK_ASSERT_OK(wk_event_add_str(ev, 0, &kb, big, sizeof(big))); /* a chunk of its own */
    size_t with_big = wk_event_mem(ev);
    /* small uses: the first still keeps the big chunk (unused since one reset only) */
    wk_event_reset(ev);
    WK_ASSERT_OK(wk_event_add_str(ev, 0, &ks, "s", 1));
    WK_ASSERT_UINT_EQ(wk_event_mem(ev), with_big);
    wk_event_reset(ev);
    size_t small = wk_event_mem(ev);
    WK_ASSERT(small + sizeof(big) <= with_big);
    WK_ASSERT_OK(wk_event_add_str(ev, 0, &ks, "s", 1));
    WK_ASSERT_UINT_EQ(wk_event_mem(ev), small);
    /* big uses: the chunk comes back once and stays */
    size_t prev = 0;
    for (int round = 0; round < 4; round++) {
        wk_event_reset(ev);
        WK_ASSERT_OK(wk_event_add_str(ev, 0, &ks, "s", 1));
        WK_ASSERT_OK(wk_event_add_str(ev, 0, &kb, big, sizeof(big)));
        size_t m = wk_event_mem(ev);
        WK_ASSERT(m > small + sizeof(big));
        if (round)
            WK_ASSERT_UINT_EQ(m, prev);
        prev = m;
    }
    size_t ml = 0;
    const char *v = wk_event_get_str(ev, &kb, &ml);
    WK_ASSERT(v && ml == sizeof(big) && memcmp(v, big, ml) == 0);
    wk_event_free(ev);
}

WK_TEST(jansson_bridge_prefix)
{
    struct wk_event *ev = new_event();
    json_t *j = json_loads("{\"level\":\"warn\",\"ctx\":{\"user\":\"bob\",\"n\":3}}", 0, NULL);
    WK_ASSERT(j);
    WK_ASSERT_OK(wk_event_add_jansson(ev, 0, "app", j));
    struct wk_key k = wk_key_init("app.ctx.user");
    WK_ASSERT_STR_EQ(wk_event_get_str(ev, &k, NULL), "bob");
    json_t *out = wk_event_to_jansson(ev);
    char *s = json_dumps(out, JSON_COMPACT);
    WK_ASSERT_STR_EQ(s, "{\"@timestamp\":\"1970-01-01T00:00:00.000000000Z\","
                        "\"app\":{\"level\":\"warn\",\"ctx\":{\"user\":\"bob\",\"n\":3}}}");
    free(s);
    json_decref(out);
    json_decref(j);
    wk_event_free(ev);
}

WK_TEST(value_text_of_each_kind)
{
    char buf[32];
    const char *s = NULL;
    size_t len = 0;
    struct wk_value v = { .kind = WK_VAL_INT, .u.i = -9223372036854775807 - 1 };
    WK_ASSERT(wk_value_text(&v, buf, sizeof(buf), &s, &len));
    WK_ASSERT_MEM_EQ(s, len, "-9223372036854775808", 20);
    v = (struct wk_value){ .kind = WK_VAL_REAL, .u.r = 0.1 };
    WK_ASSERT(wk_value_text(&v, buf, sizeof(buf), &s, &len));
    WK_ASSERT_MEM_EQ(s, len, "0.10000000000000001", 19);
    v = (struct wk_value){ .kind = WK_VAL_BOOL, .u.b = false };
    WK_ASSERT(wk_value_text(&v, buf, sizeof(buf), &s, &len));
    WK_ASSERT_MEM_EQ(s, len, "false", 5);
    v = (struct wk_value){ .kind = WK_VAL_STR, .len = 3, .u.s = "a\0b" };
    WK_ASSERT(wk_value_text(&v, buf, sizeof(buf), &s, &len));
    WK_ASSERT_MEM_EQ(s, len, "a\0b", 3);
    v = (struct wk_value){ .kind = WK_VAL_NULL };
    WK_ASSERT(!wk_value_text(&v, buf, sizeof(buf), &s, &len));
    WK_ASSERT(!wk_value_text(NULL, buf, sizeof(buf), &s, &len));
    v = (struct wk_value){ .kind = WK_VAL_STRLIST };
    WK_ASSERT(!wk_value_text(&v, buf, sizeof(buf), &s, &len));
}

WK_TEST(index_big_events_and_generation_wrap)
{
    struct wk_event *ev = new_event();
    char name[32];
    /* 5000 fields over 3 records: every one found, with its own value; absent ones not. */
    WK_ASSERT_INT_EQ(wk_event_add_record(ev), 1);
    WK_ASSERT_INT_EQ(wk_event_add_record(ev), 2);
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        struct wk_key k = wk_key_init(name);
        WK_ASSERT_OK(wk_event_add_int(ev, (unsigned)(i % 3), &k, i));
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        struct wk_key k = wk_key_init(name);
        const struct wk_value *v = wk_event_get(ev, (unsigned)(i % 3), &k);
        WK_ASSERT(v && v->u.i == i);
        WK_ASSERT(wk_event_get(ev, (unsigned)((i + 1) % 3), &k) == NULL);
    }
    /* 70000 resets pass the 16-bit generation: nothing of an old event may be found. */
    struct wk_key a = wk_key_init("a"), b = wk_key_init("b");
    for (int round = 0; round < 70000; round++) {
        wk_event_reset(ev);
        if (wk_event_get(ev, 0, &a) || wk_event_get(ev, 0, &b))
            WK_FAIL("round %d: a field survived the reset", round);
        WK_ASSERT_OK(wk_event_add_int(ev, 0, round % 2 ? &a : &b, round));
        WK_ASSERT_OK(wk_event_add_int(ev, 0, round % 2 ? &a : &b, round + 1));
        WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 1);
    }
    WK_ASSERT(wk_event_get(ev, 0, &a) && wk_event_get(ev, 0, &a)->u.i == 70000);
    WK_ASSERT(wk_event_get(ev, 0, &b) == NULL);
    wk_event_free(ev);
}

WK_TEST(referenced_values_are_kept_not_copied)
{
    /* wk_event_add_str_ref keeps the name and the value pointers; replacement, the error
     * cases, the growth of the table (its general path) and copies behave as usual */
    static const char name[] = "process.name", v1[] = "sh", v2[] = "dash";
    char buf[64][8];
    struct wk_event *ev = new_event(), *cp = new_event();
    struct wk_key k = wk_key_init(name);
    WK_ASSERT_INT_EQ(wk_event_add_record(ev), 1);
    WK_ASSERT_OK(wk_event_add_str_ref(ev, 0, &k, v1, 2));
    WK_ASSERT(wk_event_field_key(ev, 0)->name == name);
    WK_ASSERT(wk_event_field_value(ev, 0)->u.s == v1);
    WK_ASSERT_OK(wk_event_add_str_ref(ev, 0, &k, v2, 4)); /* same name: replaced */
    WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 1);
    WK_ASSERT(wk_event_get(ev, 0, &k)->u.s == v2);
    WK_ASSERT_OK(wk_event_add_str_ref(ev, 1, &k, v1, 2)); /* another record: added */
    WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 2);
    WK_ASSERT_INT_EQ(wk_event_add_str_ref(ev, 2, &k, v1, 2), -EINVAL); /* no record 2 */
    struct wk_key empty = { "", 0, 0 };
    WK_ASSERT_INT_EQ(wk_event_add_str_ref(ev, 0, &empty, v1, 2), -EINVAL);
    struct wk_key keys[64];
    for (int i = 0; i < 64; i++) { /* past the first capacity: the table grows */
        snprintf(buf[i], sizeof(buf[i]), "f%d", i);
        keys[i] = wk_key_init(buf[i]);
        WK_ASSERT_OK(wk_event_add_str_ref(ev, 0, &keys[i], buf[i], strlen(buf[i])));
    }
    WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 66);
    for (int i = 0; i < 64; i++)
        WK_ASSERT(wk_event_get(ev, 0, &keys[i])->u.s == buf[i]);
    WK_ASSERT(wk_event_get(ev, 0, &k)->u.s == v2);
    WK_ASSERT_OK(wk_event_copy(cp, ev)); /* a copy owns its strings */
    WK_ASSERT(wk_event_get(cp, 0, &k)->u.s != v2);
    WK_ASSERT_STR_EQ(wk_event_get_str(cp, &k, NULL), "dash");
    WK_ASSERT(wk_event_equal(ev, cp));
    wk_event_free(ev);
    wk_event_free(cp);
}

WK_TEST(referenced_string_lists_keep_their_strings)
{
    /* wk_event_add_strlist_ref copies the items array, not the strings nor the name;
     * replacement, errors and copies behave as for any string list */
    static const char name[] = "process.args", a0[] = "sh", a1[] = "-c", a2[] = "id";
    struct wk_str items[3] = { { a0, 2 }, { a1, 2 }, { a2, 2 } };
    struct wk_event *ev = new_event(), *cp = new_event();
    struct wk_key k = wk_key_init(name);
    WK_ASSERT_OK(wk_event_add_strlist_ref(ev, 0, &k, items, 3));
    items[1] = (struct wk_str){ a2, 2 }; /* the caller's array may change: copied */
    const struct wk_value *v = wk_event_get(ev, 0, &k);
    WK_ASSERT(v && v->kind == WK_VAL_STRLIST && v->len == 3);
    WK_ASSERT(wk_event_field_key(ev, 0)->name == name);
    WK_ASSERT(v->u.items != items);
    WK_ASSERT(v->u.items[0].s == a0 && v->u.items[1].s == a1 && v->u.items[2].s == a2);
    WK_ASSERT_OK(wk_event_add_strlist_ref(ev, 0, &k, items, 1)); /* same name: replaced */
    WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 1);
    WK_ASSERT_UINT_EQ(wk_event_get(ev, 0, &k)->len, 1);
    WK_ASSERT_OK(wk_event_add_strlist_ref(ev, 0, &k, NULL, 0)); /* empty list */
    WK_ASSERT_UINT_EQ(wk_event_get(ev, 0, &k)->len, 0);
    WK_ASSERT_INT_EQ(wk_event_add_strlist_ref(ev, 1, &k, items, 3), -EINVAL); /* no record 1 */
    WK_ASSERT_OK(wk_event_add_strlist_ref(ev, 0, &k, items, 3));
    WK_ASSERT_OK(wk_event_copy(cp, ev)); /* a copy owns its strings */
    WK_ASSERT(wk_event_get(cp, 0, &k)->u.items[0].s != a0);
    WK_ASSERT(wk_event_equal(ev, cp));
    char *j = NULL;
    WK_ASSERT_OK(wk_event_to_json(ev, &j, NULL));
    WK_ASSERT(strstr(j, "\"args\":[\"sh\",\"id\",\"id\"]") != NULL);
    free(j);
    wk_event_free(ev);
    wk_event_free(cp);
}

WK_TEST(scalars_under_static_names_take_the_fast_path_and_replace)
{
    /* wk_event_add_value_sn's scalars: added, replaced by name, found by rule lookups */
    struct wk_event *ev = new_event();
    struct wk_key a = wk_key_init("process.pid"), b = wk_key_init("process.parent.pid");
    struct wk_value one = { .kind = WK_VAL_INT, .u.i = 1 }, two = { .kind = WK_VAL_INT, .u.i = 2 };
    WK_ASSERT_OK(wk_event_add_value_sn(ev, 0, &a, 0, &one));
    WK_ASSERT_OK(wk_event_add_value_sn(ev, 0, &b, 0, &two));
    WK_ASSERT_OK(wk_event_add_value_sn(ev, 0, &a, 0, &two)); /* replaced in place */
    WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 2);
    WK_ASSERT(wk_event_field_key(ev, 0)->name == a.name);
    WK_ASSERT(wk_event_get(ev, 0, &a)->u.i == 2 && wk_event_get(ev, 0, &b)->u.i == 2);
    WK_ASSERT_INT_EQ(wk_event_add_value_sn(ev, 3, &a, 0, &one), -EINVAL); /* no record 3 */
    struct wk_key keys[70];
    char buf[70][8];
    for (int i = 0; i < 70; i++) { /* past the first capacity: the general path grows */
        snprintf(buf[i], sizeof(buf[i]), "n%d", i);
        keys[i] = wk_key_init(buf[i]);
        struct wk_value x = { .kind = WK_VAL_INT, .u.i = i };
        WK_ASSERT_OK(wk_event_add_value_sn(ev, 0, &keys[i], 0, &x));
    }
    for (int i = 0; i < 70; i++)
        WK_ASSERT(wk_event_get(ev, 0, &keys[i])->u.i == i);
    wk_event_free(ev);
}

WK_TEST(static_names_are_kept_not_copied)
{
    /* wk_event_add_*_sn keep the caller's name pointer; everything else behaves as usual */
    static const char name[] = "process.name", rname[] = "comm";
    struct wk_event *ev = new_event(), *cp = new_event(), *back = new_event();
    struct wk_key k = wk_key_init(name), rk = wk_key_init(rname);
    struct wk_value iv = { .kind = WK_VAL_INT, .u.i = 7 };
    struct wk_key ik = wk_key_init("process.pid");
    wk_event_set_ts(ev, 1);
    int rec = wk_event_add_record(ev);
    WK_ASSERT_INT_EQ(rec, 1);
    WK_ASSERT_OK(wk_event_add_str_sn(ev, 0, &k, "sh", 2));
    WK_ASSERT_OK(wk_event_add_str_sn(ev, 1, &rk, "bash", 4));
    WK_ASSERT_OK(wk_event_add_value_sn(ev, 0, &ik, 0, &iv));
    WK_ASSERT(wk_event_field_key(ev, 0)->name == name);
    WK_ASSERT(wk_event_field_key(ev, 1)->name == rname);
    /* same name, same record: replaced, not added; a copied-name add finds it too */
    WK_ASSERT_OK(wk_event_add_str(ev, 0, &k, "dash", 4));
    WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 3);
    WK_ASSERT_STR_EQ(wk_event_get_str(ev, &k, NULL), "dash");
    WK_ASSERT_INT_EQ(wk_event_add_str_sn(ev, 2, &k, "x", 1), -EINVAL); /* no record 2 */
    struct wk_key empty = { "", 0, 0 };
    WK_ASSERT_INT_EQ(wk_event_add_str_sn(ev, 0, &empty, "x", 1), -EINVAL);
    /* a copy owns its names; JSON round trip and equality as for copied names */
    WK_ASSERT_OK(wk_event_copy(cp, ev));
    WK_ASSERT(wk_event_field_key(cp, 0)->name != name);
    WK_ASSERT(wk_event_equal(ev, cp));
    char *js = to_json(ev);
    WK_ASSERT_STR_EQ(js, "{\"@timestamp\":\"1970-01-01T00:00:00.000000001Z\","
                         "\"process\":{\"name\":\"dash\",\"pid\":7},\"records\":[{\"comm\":\"bash\"}]}");
    WK_ASSERT_OK(wk_event_from_json(back, js, strlen(js), NULL));
    WK_ASSERT(wk_event_equal(ev, back));
    free(js);
    wk_event_free(ev);
    wk_event_free(cp);
    wk_event_free(back);
}

/* Hand-over: swap exchanges everything (strings stay where they are, no copy), both events
 * stay fully usable (lookups, adds, reset); wk_event_mem counts what a reset keeps. */
WK_TEST(swap_exchanges_contents_and_mem_counts_kept_storage)
{
    struct wk_event *a, *b, *ref;
    WK_ASSERT_OK(wk_event_new(&a));
    WK_ASSERT_OK(wk_event_new(&b));
    WK_ASSERT_OK(wk_event_new(&ref));
    size_t empty = wk_event_mem(a);
    WK_ASSERT(empty >= 64);
    wk_event_set_ts(a, 42);
    int rec = wk_event_add_record(a);
    WK_ASSERT_INT_EQ(rec, 1);
    static char big[20000];
    memset(big, 'x', sizeof(big));
    struct wk_key k = wk_key_init("process.name"), rk = wk_key_init("comm");
    for (int i = 0; i < 40; i++) { /* past the index's first growth */
        char nm[16];
        snprintf(nm, sizeof(nm), "f%d", i);
        struct wk_key fk = wk_key_init(nm);
        WK_ASSERT_OK(wk_event_add_int(a, 0, &fk, i));
    }
    WK_ASSERT_OK(wk_event_add_str(a, 0, &k, "sh", 2));
    WK_ASSERT_OK(wk_event_add_str(a, 1, &rk, big, sizeof(big)));
    WK_ASSERT_OK(wk_event_copy(ref, a));
    const char *s = wk_event_get_str(a, &k, NULL);
    size_t amem = wk_event_mem(a);
    WK_ASSERT(amem >= empty + sizeof(big));
    WK_ASSERT_OK(wk_event_add_str(b, 0, &k, "other", 5));

    wk_event_swap(a, b);
    WK_ASSERT(wk_event_equal(b, ref));
    WK_ASSERT(wk_event_get_str(b, &k, NULL) == s); /* the same bytes: nothing copied */
    WK_ASSERT_UINT_EQ(wk_event_mem(b), amem);
    WK_ASSERT_STR_EQ(wk_event_get_str(a, &k, NULL), "other");
    WK_ASSERT_UINT_EQ(wk_event_nfields(a), 1);
    /* Both go on living: add to the taken one, reset and refill the other. */
    struct wk_key nk = wk_key_init("f40");
    WK_ASSERT_OK(wk_event_add_int(b, 0, &nk, 40));
    WK_ASSERT_UINT_EQ(wk_event_nfields(b), wk_event_nfields(ref) + 1);
    wk_event_reset(a);
    WK_ASSERT_UINT_EQ(wk_event_nfields(a), 0);
    WK_ASSERT(wk_event_get_str(a, &k, NULL) == NULL);
    WK_ASSERT_OK(wk_event_add_str(a, 0, &k, "again", 5));
    WK_ASSERT_STR_EQ(wk_event_get_str(a, &k, NULL), "again");
    /* A reset keeps the storage for reuse, and wk_event_mem still counts it. */
    size_t bmem = wk_event_mem(b);
    wk_event_reset(b);
    WK_ASSERT_UINT_EQ(wk_event_mem(b), bmem);
    wk_event_free(a);
    wk_event_free(b);
    wk_event_free(ref);
}

/* wk_event_prefetch_fill is a hint: on a fresh event, a filled one (several arena chunks,
 * an index past its first growth), a reset one and a refilled one, the event is the same
 * after it (contents, storage), and the refill after a reset sees nothing of the last use. */
WK_TEST(prefetch_fill_changes_nothing)
{
    struct wk_event *ev, *ref;
    WK_ASSERT_OK(wk_event_new(&ev));
    WK_ASSERT_OK(wk_event_new(&ref));
    wk_event_prefetch_fill(ev); /* no table, no arena */
    WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 0);
    static char big[9000];
    memset(big, 'y', sizeof(big));
    for (int i = 0; i < 70; i++) {
        char nm[16];
        snprintf(nm, sizeof(nm), "g%d", i);
        struct wk_key fk = wk_key_init(nm);
        WK_ASSERT_OK(wk_event_add_str(ev, 0, &fk, big, (size_t)(i * 97) % sizeof(big)));
    }
    WK_ASSERT_OK(wk_event_copy(ref, ev));
    size_t mem = wk_event_mem(ev);
    wk_event_prefetch_fill(ev);
    WK_ASSERT(wk_event_equal(ev, ref));
    WK_ASSERT_UINT_EQ(wk_event_mem(ev), mem);
    WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 70);
    wk_event_reset(ev);
    mem = wk_event_mem(ev);
    wk_event_prefetch_fill(ev);
    WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 0);
    WK_ASSERT_UINT_EQ(wk_event_mem(ev), mem);
    struct wk_key k = wk_key_init("g3");
    WK_ASSERT(wk_event_get(ev, 0, &k) == NULL);
    WK_ASSERT_OK(wk_event_add_str_ref(ev, 0, &k, "z", 1));
    wk_event_prefetch_fill(ev);
    WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 1);
    WK_ASSERT_STR_EQ(wk_event_get_str(ev, &k, NULL), "z");
    wk_event_free(ev);
    wk_event_free(ref);
}
