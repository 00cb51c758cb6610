/* SPDX-License-Identifier: Apache-2.0 */
/* The pipeline: batches with the cursor after each source's last event, back-pressure
 * (-EAGAIN, then resume), live rules with allow-lists, alert outputs, commit retries. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../collector/pipeline_private.h"
#include "watchkeeper/mem.h"
#include "wk_test.h"

/* A backend that keeps what it is given. */
struct mem_backend {
    size_t events, commits, alerts, fail_next;
    char cursor[64];
    char last_action[64];
    char order[1024]; /* "action/cursor-of-the-event " of every event, in commit order */
};

static int mem_commit(void *ctx, const struct wk_batch *b)
{
    struct mem_backend *m = ctx;
    if (m->fail_next) {
        m->fail_next--;
        return -EIO;
    }
    m->events += b->nevents;
    m->commits++;
    m->alerts += b->nalerts;
    for (size_t i = 0; i < b->ncursors; i++)
        snprintf(m->cursor, sizeof(m->cursor), "%s=%.*s", b->cursors[i].instance,
                 (int)b->cursors[i].len, (const char *)b->cursors[i].data);
    for (size_t i = 0; i < b->nevents; i++) {
        const char *a = wk_event_get_str(b->events[i], &WK_KEY_EVENT_ACTION, NULL);
        size_t ol = strlen(m->order);
        snprintf(m->order + ol, sizeof(m->order) - ol, "%s/%.*s ", a ? a : "",
                 (int)b->event_cursors[i].len, (const char *)b->event_cursors[i].data);
    }
    if (b->nevents) {
        const char *a = wk_event_get_str(b->events[b->nevents - 1], &WK_KEY_EVENT_ACTION, NULL);
        snprintf(m->last_action, sizeof(m->last_action), "%s", a ? a : "");
    }
    return 0;
}

static int mem_cursor_get(void *ctx, const char *inst, void **d, size_t *l)
{
    *d = NULL;
    *l = 0;
    return 0;
}

static const struct wk_backend_ops mem_ops = {
    .name = "mem", .commit = mem_commit, .cursor_get = mem_cursor_get,
};

/* A source that only counts resume() calls. */
struct fake_src {
    struct wk_source_base base;
    int resumed;
};

static void fake_resume(struct wk_source *s)
{
    ((struct fake_src *)s)->resumed++;
}

static const struct wk_source_ops fake_ops = { .version = WK_SOURCE_OPS_V1, .name = "fake",
                                               .resume = fake_resume };

static struct wk_config_pipeline limits(int64_t qev, int64_t batch)
{
    struct wk_config_pipeline l = { .queue_events = qev, .queue_bytes = 64u << 20,
                                    .batch_events = batch, .batch_age = 50000000,
                                    .drain_timeout = 1000000000 };
    return l;
}

static int submit(struct wk_pipeline *p, struct fake_src *s, const char *action, int n,
                  const char *container)
{
    struct wk_event *ev;
    if (wk_event_new(&ev) < 0)
        return -ENOMEM;
    wk_event_set_ts(ev, 1);
    (void)wk_event_add_str(ev, 0, &WK_KEY_EVENT_ACTION, action, strlen(action));
    if (container)
        (void)wk_event_add_str(ev, 0, &WK_KEY_CONTAINER_NAME, container, strlen(container));
    char cur[16];
    int cl = snprintf(cur, sizeof(cur), "%d", n);
    struct wk_source_sink *sink = wk__pipeline_sink(p);
    int rc = sink->submit(sink, (struct wk_source *)s, ev, cur, (size_t)cl);
    wk_event_free(ev);
    return rc;
}

static void drained(void *arg)
{
    *(int *)arg = 1;
}

static void drain(uv_loop_t *loop, struct wk_pipeline *p)
{
    int done = 0;
    wk__pipeline_drain(p, drained, &done);
    while (!done)
        uv_run(loop, UV_RUN_ONCE);
}

static void finish(uv_loop_t *loop, struct wk_pipeline *p)
{
    wk__pipeline_free(p);
    uv_run(loop, UV_RUN_DEFAULT);
    WK_ASSERT_INT_EQ(uv_loop_close(loop), 0);
}

WK_TEST(batches_carry_last_cursor)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct mem_backend m = { 0 };
    struct wk_config_pipeline l = limits(1000, 4);
    struct wk_pipeline *p;
    WK_ASSERT_OK(wk__pipeline_new(&p, &loop, &l, &mem_ops, &m));
    struct fake_src s = { .base = { .ops = &fake_ops } };
    WK_ASSERT_OK(wk__pipeline_attach(p, (struct wk_source *)&s, "a"));
    for (int i = 1; i <= 10; i++)
        WK_ASSERT_OK(submit(p, &s, "x", i, NULL));
    drain(&loop, p);
    struct wk_pipeline_stats st;
    wk__pipeline_stats(p, &st);
    WK_ASSERT_UINT_EQ(m.events, 10);
    WK_ASSERT(m.commits >= 3); /* batch_events = 4 */
    WK_ASSERT_STR_EQ(m.cursor, "a=10");
    WK_ASSERT_UINT_EQ(st.committed, 10);
    WK_ASSERT_UINT_EQ(st.queued_events, 0);
    WK_ASSERT_UINT_EQ(st.queued_bytes, 0);
    /* After the drain nothing is taken. */
    WK_ASSERT_INT_EQ(submit(p, &s, "late", 11, NULL), -EAGAIN);
    finish(&loop, p);
}

/* sink->cursor: a cursor without an event is committed as the source's cursor, in order
 * with the events (clog forgetting a finished file), even into a full queue. */
WK_TEST(cursor_without_event)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct mem_backend m = { 0 };
    struct wk_config_pipeline l = limits(2, 100);
    struct wk_pipeline *p;
    WK_ASSERT_OK(wk__pipeline_new(&p, &loop, &l, &mem_ops, &m));
    struct fake_src s = { .base = { .ops = &fake_ops } };
    WK_ASSERT_OK(wk__pipeline_attach(p, (struct wk_source *)&s, "a"));
    struct wk_source_sink *sink = wk__pipeline_sink(p);
    WK_ASSERT_OK(submit(p, &s, "x", 1, NULL));
    WK_ASSERT_OK(submit(p, &s, "x", 2, NULL));
    WK_ASSERT_OK(sink->cursor(sink, (struct wk_source *)&s, "2-done", 6));
    size_t len = 0;
    const char *last = wk__pipeline_last_cursor(p, "a", &len);
    WK_ASSERT(last && len == 6 && memcmp(last, "2-done", 6) == 0);
    drain(&loop, p);
    WK_ASSERT_UINT_EQ(m.events, 2);
    WK_ASSERT_STR_EQ(m.cursor, "a=2-done");
    struct wk_pipeline_stats st;
    wk__pipeline_stats(p, &st);
    WK_ASSERT_UINT_EQ(st.committed, 2);
    WK_ASSERT_UINT_EQ(st.queued_events, 0);
    WK_ASSERT_UINT_EQ(st.queued_bytes, 0);
    finish(&loop, p);
}

WK_TEST(back_pressure_then_resume)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct mem_backend m = { .fail_next = 1 << 30 }; /* a store that is stuck */
    struct wk_config_pipeline l = limits(4, 100);
    struct wk_pipeline *p;
    WK_ASSERT_OK(wk__pipeline_new(&p, &loop, &l, &mem_ops, &m));
    struct fake_src s = { .base = { .ops = &fake_ops } };
    WK_ASSERT_OK(wk__pipeline_attach(p, (struct wk_source *)&s, "a"));
    for (int i = 1; i <= 4; i++)
        WK_ASSERT_OK(submit(p, &s, "x", i, NULL));
    WK_ASSERT_INT_EQ(submit(p, &s, "x", 5, NULL), -EAGAIN);
    struct wk_pipeline_stats st;
    wk__pipeline_stats(p, &st);
    WK_ASSERT_UINT_EQ(st.queued_events, 4);
    WK_ASSERT_UINT_EQ(st.refused, 1);
    WK_ASSERT_INT_EQ(s.resumed, 0);
    /* The writer retries the stuck store (with a backoff) ... */
    for (int i = 0; i < 2000 && st.commit_errors < 2; i++) {
        usleep(1000);
        wk__pipeline_stats(p, &st);
    }
    WK_ASSERT(st.commit_errors >= 2);
    /* ... the store recovers: the batch commits, the source is resumed on the loop. */
    __atomic_store_n(&m.fail_next, 0, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 2000 && !s.resumed; i++)
        uv_run(&loop, UV_RUN_NOWAIT), usleep(1000);
    WK_ASSERT_INT_EQ(s.resumed, 1);
    WK_ASSERT_OK(submit(p, &s, "x", 5, NULL));
    drain(&loop, p);
    WK_ASSERT_UINT_EQ(m.events, 5);
    WK_ASSERT_STR_EQ(m.cursor, "a=5");
    finish(&loop, p);
}

WK_TEST(queue_bytes_bound)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct mem_backend m = { .fail_next = 1 << 30 };
    struct wk_config_pipeline l = limits(1000000, 100000);
    l.queue_bytes = 128 * 1024;
    struct wk_pipeline *p;
    WK_ASSERT_OK(wk__pipeline_new(&p, &loop, &l, &mem_ops, &m));
    struct fake_src s = { .base = { .ops = &fake_ops } };
    WK_ASSERT_OK(wk__pipeline_attach(p, (struct wk_source *)&s, "a"));
    int taken = 0;
    while (submit(p, &s, "x", taken + 1, NULL) == 0)
        taken++;
    struct wk_pipeline_stats st;
    wk__pipeline_stats(p, &st);
    WK_ASSERT(taken > 10);
    WK_ASSERT(st.queued_bytes <= l.queue_bytes);
    WK_ASSERT(st.peak_bytes <= l.queue_bytes);
    __atomic_store_n(&m.fail_next, 0, __ATOMIC_SEQ_CST);
    drain(&loop, p);
    WK_ASSERT_UINT_EQ(m.events, (size_t)taken);
    finish(&loop, p);
}

/* Hand-over (submit_take): the pipeline takes the event's contents without a copy and
 * leaves the source an empty event; a refused one (-EAGAIN) is untouched; the queue counts
 * each taken event at what it pins (wk_event_mem), so queue_bytes bounds them. */
WK_TEST(hand_over_takes_the_event_and_bounds_memory)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct mem_backend m = { .fail_next = 1 << 30 };
    struct wk_config_pipeline l = limits(1000000, 100000);
    l.queue_bytes = 1024 * 1024;
    struct wk_pipeline *p;
    WK_ASSERT_OK(wk__pipeline_new(&p, &loop, &l, &mem_ops, &m));
    struct fake_src s = { .base = { .ops = &fake_ops } };
    WK_ASSERT_OK(wk__pipeline_attach(p, (struct wk_source *)&s, "a"));
    struct wk_source_sink *sink = wk__pipeline_sink(p);
    WK_ASSERT(sink->submit_take != NULL);
    static char big[10000];
    memset(big, 'm', sizeof(big));
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    int taken = 0, rc;
    size_t pinned = 0;
    for (;;) {
        char act[32], cur[16];
        int al = snprintf(act, sizeof(act), "take-%d", taken + 1);
        int cl = snprintf(cur, sizeof(cur), "%d", taken + 1);
        WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 0); /* what the pipeline left us */
        wk_event_set_ts(ev, 1000 + taken);
        WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_EVENT_ACTION, act, (size_t)al));
        WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_MESSAGE, big, sizeof(big)));
        size_t mem = wk_event_mem(ev);
        if ((rc = sink->submit_take(sink, (struct wk_source *)&s, ev, cur, (size_t)cl)) != 0)
            break;
        pinned += mem;
        taken++;
        WK_ASSERT_INT_EQ(wk_event_ts(ev), 0);
    }
    WK_ASSERT_INT_EQ(rc, -EAGAIN);
    /* Refused: still ours, whole. */
    WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 2);
    size_t ml = 0;
    const char *msg = wk_event_get_str(ev, &WK_KEY_MESSAGE, &ml);
    WK_ASSERT(msg && ml == sizeof(big) && memcmp(msg, big, ml) == 0);
    struct wk_pipeline_stats st;
    wk__pipeline_stats(p, &st);
    printf("# %d events of %zu bytes taken\n", taken, pinned / (size_t)(taken ? taken : 1));
    WK_ASSERT(taken >= 10);
    WK_ASSERT_UINT_EQ(st.queued_events, (uint64_t)taken);
    WK_ASSERT(st.queued_bytes >= pinned); /* every pinned byte counted ... */
    WK_ASSERT(st.queued_bytes <= l.queue_bytes); /* ... within the bound */
    __atomic_store_n(&m.fail_next, 0, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 2000 && !s.resumed; i++)
        uv_run(&loop, UV_RUN_NOWAIT), usleep(1000);
    WK_ASSERT_INT_EQ(s.resumed, 1);
    WK_ASSERT_OK(sink->submit_take(sink, (struct wk_source *)&s, ev, "last", 4));
    drain(&loop, p);
    WK_ASSERT_UINT_EQ(m.events, (size_t)taken + 1);
    char want[32];
    snprintf(want, sizeof(want), "take-%d", taken + 1);
    WK_ASSERT_STR_EQ(m.last_action, want);
    WK_ASSERT_STR_EQ(m.cursor, "a=last");
    wk_event_free(ev);
    finish(&loop, p);
}

/* Rules: alert on event.action "bad". */
static int bad_eval(void *ctx, const struct wk_event *ev, int (*emit)(void *, json_t *),
                    void *arg)
{
    const char *a = wk_event_get_str(ev, &WK_KEY_EVENT_ACTION, NULL);
    if (a && strcmp(a, "bad") == 0)
        return emit(arg, json_pack("{s:s, s:s}", "rule", "t-1", "level", "high"));
    return 0;
}

static int freed;
static void bad_free(void *ctx)
{
    freed++;
}

WK_TEST(live_rules_alerts_and_allow_list)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct mem_backend m = { 0 };
    struct wk_config_pipeline l = limits(1000, 100);
    struct wk_pipeline *p;
    WK_ASSERT_OK(wk__pipeline_new(&p, &loop, &l, &mem_ops, &m));
    char path[4096];
    snprintf(path, sizeof(path), "%s/alerts.jsonl", wk_test_tmpdir());
    struct wk_config_output outs[2] = {
        { .type = "file", .name = "f", .path = path, .min_level = "informational" },
        { .type = "file", .name = "crit", .path = "/dev/null", .min_level = "critical" },
    };
    char err[256];
    WK_ASSERT_OK(wk__pipeline_set_outputs(p, outs, 2, err, sizeof(err)));
    struct wk_config_rules allow = { 0 };
    WK_ASSERT_OK(wk_strv_push(&allow.allow_containers, "ci-runner"));
    struct wk_rules_hook h = { .eval = bad_eval, .free = bad_free, .nrules = 1 };
    wk__pipeline_set_rules(p, &h, &allow);
    struct fake_src s = { .base = { .ops = &fake_ops } };
    WK_ASSERT_OK(wk__pipeline_attach(p, (struct wk_source *)&s, "a"));
    WK_ASSERT_OK(submit(p, &s, "good", 1, "web"));
    WK_ASSERT_OK(submit(p, &s, "bad", 2, "web"));
    WK_ASSERT_OK(submit(p, &s, "bad", 3, "ci-runner")); /* allowed: no alert */
    drain(&loop, p);
    WK_ASSERT_UINT_EQ(m.events, 3);
    WK_ASSERT_UINT_EQ(m.alerts, 1);
    struct wk_pipeline_stats st;
    wk__pipeline_stats(p, &st);
    WK_ASSERT_UINT_EQ(st.alerts, 1);
    WK_ASSERT_UINT_EQ(st.alerts_hour, 1);
    WK_ASSERT_UINT_EQ(st.nrules, 1);
    size_t len;
    char *text = wk_test_read_file(path, &len);
    WK_ASSERT(text != NULL);
    WK_ASSERT_STR_EQ(text, "{\"rule\":\"t-1\",\"level\":\"high\",\"event\":{\"@timestamp\":"
                           "\"1970-01-01T00:00:00.000000001Z\",\"event\":{\"action\":\"bad\"},"
                           "\"container\":{\"name\":\"web\"}}}\n");
    free(text);
    /* A swap frees the old set once no batch uses it. */
    WK_ASSERT_INT_EQ(freed, 0);
    wk__pipeline_set_rules(p, NULL, NULL);
    WK_ASSERT_INT_EQ(freed, 1);
    wk_options_fini(wk_config_rules_options, &allow);
    finish(&loop, p);
}

/* Every event alerts, its container name as rule id; every third one "high", the rest
 * "low". */
static int every_eval(void *ctx, const struct wk_event *ev, int (*emit)(void *, json_t *),
                      void *arg)
{
    size_t len = 0;
    const char *c = wk_event_get_str(ev, &WK_KEY_CONTAINER_NAME, &len);
    int n = c ? atoi(c + 1) : 0;
    return emit(arg, json_pack("{s:s#, s:s}", "rule", c ? c : "", (int)len, "level",
                               n % 3 == 0 ? "high" : "low"));
}

/* A batch of more alert lines than one writev() takes (IOV_MAX / 2): each file output gets
 * all its lines in order, a level filter holds, a failing output (/dev/full) is reported
 * and delivers nothing. */
WK_TEST(large_batch_of_alerts_written_in_order)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct mem_backend m = { 0 };
    struct wk_config_pipeline l = limits(5000, 5000);
    l.batch_age = 2000000000; /* one batch: the drain flushes it */
    struct wk_pipeline *p;
    WK_ASSERT_OK(wk__pipeline_new(&p, &loop, &l, &mem_ops, &m));
    char all[4096], high[4096];
    snprintf(all, sizeof(all), "%s/all.jsonl", wk_test_tmpdir());
    snprintf(high, sizeof(high), "%s/high.jsonl", wk_test_tmpdir());
    struct wk_config_output outs[3] = {
        { .type = "file", .name = "all", .path = all, .min_level = "informational" },
        { .type = "file", .name = "high", .path = high, .min_level = "high" },
        { .type = "file", .name = "full", .path = "/dev/full", .min_level = "low" },
    };
    char err[256];
    WK_ASSERT_OK(wk__pipeline_set_outputs(p, outs, 3, err, sizeof(err)));
    struct wk_rules_hook h = { .eval = every_eval, .nrules = 1 };
    wk__pipeline_set_rules(p, &h, NULL);
    struct fake_src s = { .base = { .ops = &fake_ops } };
    WK_ASSERT_OK(wk__pipeline_attach(p, (struct wk_source *)&s, "a"));
    enum { N = 1500 };
    size_t cap = N * 200;
    char *want_all = malloc(cap), *want_high = malloc(cap);
    size_t na = 0, nh = 0;
    for (int i = 0; i < N; i++) {
        char c[16];
        snprintf(c, sizeof(c), "c%d", i);
        WK_ASSERT_OK(submit(p, &s, i % 2 ? "odd" : "even", i + 1, c));
        char line[256];
        int ln = snprintf(line, sizeof(line),
                          "{\"rule\":\"%s\",\"level\":\"%s\",\"event\":{\"@timestamp\":"
                          "\"1970-01-01T00:00:00.000000001Z\",\"event\":{\"action\":\"%s\"},"
                          "\"container\":{\"name\":\"%s\"}}}\n",
                          c, i % 3 == 0 ? "high" : "low", i % 2 ? "odd" : "even", c);
        memcpy(want_all + na, line, (size_t)ln);
        na += (size_t)ln;
        if (i % 3 == 0) {
            memcpy(want_high + nh, line, (size_t)ln);
            nh += (size_t)ln;
        }
    }
    drain(&loop, p);
    WK_ASSERT_UINT_EQ(m.events, N);
    WK_ASSERT_UINT_EQ(m.commits, 1);
    size_t len;
    char *text = wk_test_read_file(all, &len);
    WK_ASSERT(text != NULL);
    WK_ASSERT_UINT_EQ(len, na);
    WK_ASSERT(memcmp(text, want_all, na) == 0);
    free(text);
    text = wk_test_read_file(high, &len);
    WK_ASSERT(text != NULL);
    WK_ASSERT_UINT_EQ(len, nh);
    WK_ASSERT(memcmp(text, want_high, nh) == 0);
    free(text);
    struct wk_pipeline_output st[3];
    WK_ASSERT_UINT_EQ(wk__pipeline_outputs(p, st, 3), 3);
    WK_ASSERT_UINT_EQ(st[0].written, N);
    WK_ASSERT_UINT_EQ(st[1].written, (N + 2) / 3);
    WK_ASSERT(!st[0].failing && !st[1].failing);
    WK_ASSERT(st[2].failing);
    WK_ASSERT_UINT_EQ(st[2].written, 0);
    WK_ASSERT_UINT_EQ(st[2].errors, 1);
    free(want_all);
    free(want_high);
    finish(&loop, p);
}

WK_TEST(bad_output_keeps_old)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct mem_backend m = { 0 };
    struct wk_config_pipeline l = limits(1000, 100);
    struct wk_pipeline *p;
    WK_ASSERT_OK(wk__pipeline_new(&p, &loop, &l, &mem_ops, &m));
    struct wk_config_output o = { .type = "file", .name = "x", .path = "/nonexistent/dir/a" };
    char err[256] = "";
    WK_ASSERT_INT_EQ(wk__pipeline_set_outputs(p, &o, 1, err, sizeof(err)), -ENOENT);
    WK_ASSERT_STR_EQ(err, "output x: /nonexistent/dir/a: No such file or directory");
    drain(&loop, p);
    finish(&loop, p);
}

/* Submits of one loop iteration are staged and reach the queue in one go at its end (one
 * lock per iteration, not two per event), in submit order across sources, with the cursors
 * without an event in their place among them. */
WK_TEST(staged_submits_reach_the_writer_in_order_at_iteration_end)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct mem_backend m = { 0 };
    struct wk_config_pipeline l = limits(1000, 100);
    struct wk_pipeline *p;
    WK_ASSERT_OK(wk__pipeline_new(&p, &loop, &l, &mem_ops, &m));
    struct fake_src a = { .base = { .ops = &fake_ops } }, b = { .base = { .ops = &fake_ops } };
    WK_ASSERT_OK(wk__pipeline_attach(p, (struct wk_source *)&a, "a"));
    WK_ASSERT_OK(wk__pipeline_attach(p, (struct wk_source *)&b, "b"));
    struct wk_source_sink *sink = wk__pipeline_sink(p);
    WK_ASSERT_OK(submit(p, &a, "a1", 1, NULL));
    WK_ASSERT_OK(submit(p, &b, "b1", 1, NULL));
    WK_ASSERT_OK(submit(p, &a, "a2", 2, NULL));
    WK_ASSERT_OK(sink->cursor(sink, (struct wk_source *)&b, "1-done", 6));
    WK_ASSERT_OK(submit(p, &a, "a3", 3, NULL));
    /* Not in the queue yet: the writer sees nothing, even after batch_age (50 ms). */
    usleep(150 * 1000);
    WK_ASSERT_UINT_EQ(__atomic_load_n(&m.commits, __ATOMIC_SEQ_CST), 0);
    /* The iteration ends (the check handle): one commit of all of it, in order. */
    uv_run(&loop, UV_RUN_NOWAIT);
    for (int i = 0; i < 2000 && !__atomic_load_n(&m.events, __ATOMIC_SEQ_CST); i++)
        usleep(1000);
    drain(&loop, p);
    WK_ASSERT_UINT_EQ(m.events, 4);
    WK_ASSERT_UINT_EQ(m.commits, 1);
    WK_ASSERT_STR_EQ(m.order, "a1/1 b1/1 a2/2 a3/3 ");
    struct wk_pipeline_stats st;
    wk__pipeline_stats(p, &st);
    WK_ASSERT_UINT_EQ(st.submitted, 4);
    WK_ASSERT_UINT_EQ(st.committed, 4);
    WK_ASSERT_UINT_EQ(st.queued_events, 0);
    finish(&loop, p);
}

/* The bound while a stage is open is checked against the queue's count when the stage
 * opened; when the writer has drained the queue since, a submit that count would refuse
 * is taken (the stage is published and the real count decides), and the stage never lets
 * the queue hold more than queue_events. */
WK_TEST(staged_bound_rechecks_the_real_queue)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct mem_backend m = { .fail_next = 1 << 30 };
    struct wk_config_pipeline l = limits(5, 100);
    struct wk_pipeline *p;
    WK_ASSERT_OK(wk__pipeline_new(&p, &loop, &l, &mem_ops, &m));
    struct fake_src s = { .base = { .ops = &fake_ops } };
    WK_ASSERT_OK(wk__pipeline_attach(p, (struct wk_source *)&s, "a"));
    struct wk_pipeline_stats st;
    for (int i = 1; i <= 4; i++)
        WK_ASSERT_OK(submit(p, &s, "x", i, NULL));
    wk__pipeline_stats(p, &st); /* publishes the stage: 4 queued, the store stuck */
    WK_ASSERT_UINT_EQ(st.queued_events, 4);
    WK_ASSERT_OK(submit(p, &s, "x", 5, NULL)); /* a new stage, opened at 4 queued */
    __atomic_store_n(&m.fail_next, 0, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 5000 && __atomic_load_n(&m.events, __ATOMIC_SEQ_CST) < 4; i++)
        usleep(1000);
    WK_ASSERT_UINT_EQ(__atomic_load_n(&m.events, __ATOMIC_SEQ_CST), 4);
    /* 4 (stale) + 1 staged = the bound: the real queue (the 1 staged) says room. */
    WK_ASSERT_OK(submit(p, &s, "x", 6, NULL));
    /* The store stuck again: fill up to the bound, which holds whatever the writer did. */
    __atomic_store_n(&m.fail_next, 1 << 30, __ATOMIC_SEQ_CST);
    int rc = 0, n = 6;
    while ((rc = submit(p, &s, "x", n + 1, NULL)) == 0)
        n++;
    WK_ASSERT_INT_EQ(rc, -EAGAIN);
    wk__pipeline_stats(p, &st);
    WK_ASSERT(st.queued_events <= 5);
    WK_ASSERT_UINT_EQ(st.refused, 1);
    __atomic_store_n(&m.fail_next, 0, __ATOMIC_SEQ_CST);
    drain(&loop, p);
    WK_ASSERT_UINT_EQ(m.events, (size_t)n);
    char want[16];
    snprintf(want, sizeof(want), "a=%d", n);
    WK_ASSERT_STR_EQ(m.cursor, want);
    finish(&loop, p);
}

/* Hand over n events in one turn of the loop (one stage); @return how many of the events
 * the pipeline gave back were recycled ones (a field table: a fresh event has none). */
static int take_turn(struct wk_source_sink *sink, struct fake_src *s, struct wk_event *ev, int n,
                     size_t payload)
{
    static char big[16384];
    memset(big, 'p', sizeof(big));
    struct wk_event *fresh;
    WK_ASSERT_OK(wk_event_new(&fresh));
    size_t empty = wk_event_mem(fresh);
    wk_event_free(fresh);
    int recycled = 0;
    for (int i = 0; i < n; i++) {
        wk_event_set_ts(ev, 1000 + i);
        WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_EVENT_ACTION, "t", 1));
        if (payload)
            WK_ASSERT_OK(wk_event_add_str(ev, 0, &WK_KEY_MESSAGE, big, payload));
        WK_ASSERT_OK(sink->submit_take(sink, (struct wk_source *)s, ev, "c", 1));
        recycled += wk_event_mem(ev) > empty;
    }
    return recycled;
}

/* Wait until n events are committed and their items are back in the pool (the writer
 * pools them under the lock where it uncounts them: no event queued means done). */
static void committed(struct wk_pipeline *p, struct mem_backend *m, size_t n)
{
    struct wk_pipeline_stats st = { 0 };
    for (int i = 0; i < 5000; i++) {
        wk__pipeline_stats(p, &st);
        if (__atomic_load_n(&m->events, __ATOMIC_SEQ_CST) >= n && st.queued_events == 0)
            break;
        usleep(1000);
    }
    WK_ASSERT_UINT_EQ(__atomic_load_n(&m->events, __ATOMIC_SEQ_CST), n);
    WK_ASSERT_UINT_EQ(st.queued_events, 0);
}

/* A turn that submits more than the one before (a catch-up read after a pause) gets
 * recycled events for all of them while the pool has some: the stage borrows more pool
 * items when it runs out, instead of allocating an item per submit. */
WK_TEST(a_larger_turn_reuses_pooled_items)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct mem_backend m = { 0 };
    struct wk_config_pipeline l = limits(100000, 100000);
    struct wk_pipeline *p;
    WK_ASSERT_OK(wk__pipeline_new(&p, &loop, &l, &mem_ops, &m));
    struct fake_src s = { .base = { .ops = &fake_ops } };
    WK_ASSERT_OK(wk__pipeline_attach(p, (struct wk_source *)&s, "a"));
    struct wk_source_sink *sink = wk__pipeline_sink(p);
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    /* 200 items, committed and pooled; then a turn of one event */
    struct wk_pipeline_stats st;
    WK_ASSERT_INT_EQ(take_turn(sink, &s, ev, 200, 0), 0);
    wk__pipeline_stats(p, &st); /* (the turn ends: a stats read publishes the stage) */
    committed(p, &m, 200);
    WK_ASSERT_INT_EQ(take_turn(sink, &s, ev, 1, 0), 1);
    wk__pipeline_stats(p, &st);
    committed(p, &m, 201);
    /* a turn of 150: all recycled (the pool holds 200) */
    WK_ASSERT_INT_EQ(take_turn(sink, &s, ev, 150, 0), 150);
    drain(&loop, p);
    WK_ASSERT_UINT_EQ(m.events, 351);
    wk_event_free(ev);
    finish(&loop, p);
}

/* The pool keeps at most 4096 items (POOL_EVENTS): a batch that fits goes in whole (from
 * the writer's array of its items), one of more than the pool has room for is pooled in
 * part, item by item, so a turn after it gets exactly 4096 recycled events. */
WK_TEST(pool_keeps_at_most_4096_items)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct mem_backend m = { 0 };
    struct wk_config_pipeline l = limits(100000, 100000);
    struct wk_pipeline *p;
    WK_ASSERT_OK(wk__pipeline_new(&p, &loop, &l, &mem_ops, &m));
    struct fake_src s = { .base = { .ops = &fake_ops } };
    WK_ASSERT_OK(wk__pipeline_attach(p, (struct wk_source *)&s, "a"));
    struct wk_source_sink *sink = wk__pipeline_sink(p);
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    struct wk_pipeline_stats st;
    /* 300 items, one batch: pooled whole; the next turn of 300 recycles them all and
     * allocates none (its batch goes back whole too) */
    WK_ASSERT_INT_EQ(take_turn(sink, &s, ev, 300, 0), 0);
    wk__pipeline_stats(p, &st);
    committed(p, &m, 300);
    WK_ASSERT_INT_EQ(take_turn(sink, &s, ev, 300, 0), 300);
    wk__pipeline_stats(p, &st);
    committed(p, &m, 600);
    /* 5000 items in one batch (the pool's 300 and 4700 new): 4096 are kept */
    WK_ASSERT_INT_EQ(take_turn(sink, &s, ev, 5000, 0), 300);
    wk__pipeline_stats(p, &st);
    committed(p, &m, 5600);
    WK_ASSERT_INT_EQ(take_turn(sink, &s, ev, 5000, 0), 4096);
    drain(&loop, p);
    WK_ASSERT_UINT_EQ(m.events, 10600);
    wk_event_free(ev);
    finish(&loop, p);
}

/* The pool keeps committed items up to queue_bytes with the queue: a queue that fills to
 * most of it and drains gets all of its next fill recycled. */
WK_TEST(pool_keeps_up_to_queue_bytes)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct mem_backend m = { 0 };
    struct wk_config_pipeline l = limits(100000, 100000);
    l.queue_bytes = 4 << 20;
    struct wk_pipeline *p;
    WK_ASSERT_OK(wk__pipeline_new(&p, &loop, &l, &mem_ops, &m));
    struct fake_src s = { .base = { .ops = &fake_ops } };
    WK_ASSERT_OK(wk__pipeline_attach(p, (struct wk_source *)&s, "a"));
    struct wk_source_sink *sink = wk__pipeline_sink(p);
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    /* 100 events of ~20 KB each (most of the 4 MiB), committed */
    struct wk_pipeline_stats st;
    WK_ASSERT_INT_EQ(take_turn(sink, &s, ev, 100, 10000), 0);
    wk__pipeline_stats(p, &st);
    uint64_t each = st.queued_bytes / 100;
    WK_ASSERT(100 * each <= l.queue_bytes);
    committed(p, &m, 100);
    int r = take_turn(sink, &s, ev, 100, 10000);
    printf("# %d of 100 items of %llu bytes recycled\n", r, (unsigned long long)each);
    WK_ASSERT_INT_EQ(r, 100);
    drain(&loop, p);
    WK_ASSERT_UINT_EQ(m.events, 200);
    wk_event_free(ev);
    finish(&loop, p);
}
