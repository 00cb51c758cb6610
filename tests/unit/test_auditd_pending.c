/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The auditd sources' pending queue (pending.c) under a blocked consumer: it keeps events
 * up to its bound in bytes (each at wk_event_mem, its arrays included) and counts the rest
 * as dropped; its bytes never exceed the bound, through a pause, a drain and the next pause.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watchkeeper/event.h"
#include "watchkeeper/source.h"

#include "../../collector/sources/auditd/source_private.h"
#include "wk_test.h"

struct bsink {
    struct wk_source_sink sink;
    bool blocked;      /* -EAGAIN to every submit */
    int64_t seq[64];   /* the "n" of each event taken, in order */
    int n;
};

static int bs_submit(struct wk_source_sink *s, struct wk_source *src, const struct wk_event *ev,
                     const void *cursor, size_t cursor_len)
{
    struct bsink *b = (struct bsink *)s;
    (void)src;
    (void)cursor;
    (void)cursor_len;
    if (b->blocked)
        return -EAGAIN;
    struct wk_key kn = wk_key_init("n");
    const struct wk_value *v = wk_event_get(ev, 0, &kn);
    WK_ASSERT(v != NULL);
    if (b->n < 64)
        b->seq[b->n++] = v->u.i;
    return 0;
}

/* An event shaped like a parsed audit event: a record's copy (1 KiB) in its arena and a
 * few fields; the same n gives the same size. */
static struct wk_event *make_event(int64_t n)
{
    static char rec[1024];
    struct wk_event *ev;
    memset(rec, 'r', sizeof(rec));
    WK_ASSERT_OK(wk_event_new(&ev));
    struct wk_key ko = wk_key_init("event.original"), kn = wk_key_init("n");
    WK_ASSERT_OK(wk_event_add_str(ev, 0, &ko, rec, sizeof(rec)));
    WK_ASSERT_OK(wk_event_add_int(ev, 0, &kn, n));
    for (int i = 0; i < 20; i++) {
        char k[16], v[40];
        snprintf(k, sizeof(k), "f%d", i);
        snprintf(v, sizeof(v), "value-%d-of-a-field", i);
        struct wk_key kk = wk_key_init(k);
        WK_ASSERT_OK(wk_event_add_str(ev, 0, &kk, v, strlen(v)));
    }
    return ev;
}

/* Submit events n = from..to as a parser does (its event, refilled for each). */
static void submit_range(struct wk__au_pending *q, struct wk_source_base *b, int64_t from,
                         int64_t to, int *queued, int *dropped)
{
    for (int64_t n = from; n <= to; n++) {
        struct wk_event *ev = make_event(n);
        int rc = wk__au_pending_submit(q, b, ev, NULL, 0);
        WK_ASSERT(rc == -EAGAIN || rc == -ENOBUFS);
        *(rc == -EAGAIN ? queued : dropped) += 1;
        WK_ASSERT(q->bytes <= q->max_bytes); /* after every submit */
        wk_event_free(ev);
    }
}

WK_TEST(pending_keeps_events_up_to_its_bytes_and_counts_the_rest)
{
    struct bsink bs = { .sink = { .submit = bs_submit }, .blocked = true };
    struct wk_source_base base = { .sink = &bs.sink };
    struct wk__au_pending q;
    struct wk_event *probe = make_event(0);
    const size_t m = wk_event_mem(probe); /* every event's size in memory */
    wk_event_free(probe);
    WK_ASSERT(m > 1024); /* the record's copy is counted */
    const size_t max = 100, arrays = max * (sizeof(struct wk_event *) + sizeof(size_t));
    /* room for 10 events and half of an 11th */
    const size_t bound = arrays + 10 * m + m / 2;
    wk__au_pending_init(&q, max);
    q.max_bytes = bound;

    /* The consumer is blocked: 25 events, 10 kept, 15 dropped and counted. */
    int queued = 0, dropped = 0;
    submit_range(&q, &base, 1, 25, &queued, &dropped);
    WK_ASSERT_INT_EQ(queued, 10);
    WK_ASSERT_INT_EQ(dropped, 15);
    WK_ASSERT_UINT_EQ(q.dropped, 15);
    WK_ASSERT_UINT_EQ(q.n, 10);
    WK_ASSERT_UINT_EQ(q.bytes, arrays + 10 * m); /* exactly what it holds */

    /* Still blocked: a drain keeps everything. Then room: the 10, in order. */
    WK_ASSERT_INT_EQ(wk__au_pending_drain(&q, &base), -EAGAIN);
    WK_ASSERT_UINT_EQ(q.n, 10);
    bs.blocked = false;
    WK_ASSERT_INT_EQ(wk__au_pending_drain(&q, &base), 0);
    WK_ASSERT_INT_EQ(bs.n, 10);
    for (int i = 0; i < 10; i++)
        WK_ASSERT_INT_EQ(bs.seq[i], i + 1);
    WK_ASSERT(!q.paused);
    /* Drained: it keeps the events of its first 8 slots for reuse, and counts them (a
     * copying sink leaves them whole: 8 x m). */
    size_t kept = q.bytes - arrays;
    WK_ASSERT_UINT_EQ(kept, 8 * m);
    WK_ASSERT(q.bytes <= bound);

    /* Blocked again: the kept events are reused, the bound still holds, the count goes on. */
    bs.blocked = true;
    queued = dropped = 0;
    submit_range(&q, &base, 26, 50, &queued, &dropped);
    WK_ASSERT_INT_EQ(queued, 10);
    WK_ASSERT_INT_EQ(dropped, 15);
    WK_ASSERT_UINT_EQ(q.dropped, 30);
    WK_ASSERT_UINT_EQ(q.bytes, arrays + 10 * m);
    bs.blocked = false;
    WK_ASSERT_INT_EQ(wk__au_pending_drain(&q, &base), 0);
    WK_ASSERT_INT_EQ(bs.n, 20);
    for (int i = 0; i < 10; i++)
        WK_ASSERT_INT_EQ(bs.seq[10 + i], 26 + i);
    wk__au_pending_fini(&q);
}

WK_TEST(pending_event_count_still_bounds_and_a_tiny_bound_keeps_nothing)
{
    struct bsink bs = { .sink = { .submit = bs_submit }, .blocked = true };
    struct wk_source_base base = { .sink = &bs.sink };
    struct wk__au_pending q;
    int queued = 0, dropped = 0;

    /* The old bound alone (configs with only `queue`): 4 slots, bytes unbounded. */
    wk__au_pending_init(&q, 4);
    submit_range(&q, &base, 1, 9, &queued, &dropped);
    WK_ASSERT_INT_EQ(queued, 4);
    WK_ASSERT_INT_EQ(dropped, 5);
    WK_ASSERT_UINT_EQ(q.dropped, 5);
    wk__au_pending_fini(&q);

    /* A bound smaller than one event: nothing is kept (not even the arrays), all counted. */
    wk__au_pending_init(&q, 16);
    q.max_bytes = 1000;
    queued = dropped = 0;
    submit_range(&q, &base, 1, 7, &queued, &dropped);
    WK_ASSERT_INT_EQ(queued, 0);
    WK_ASSERT_INT_EQ(dropped, 7);
    WK_ASSERT_UINT_EQ(q.bytes, 0);
    WK_ASSERT(q.ev == NULL);
    wk__au_pending_fini(&q);
}

/* A sink that takes the event (submit_take) and gives back an empty one whose field table
 * was sized for a bigger event (a reset keeps it), as the pipeline's pool may. */
static struct wk_event *make_big(void)
{
    struct wk_event *big;
    WK_ASSERT_OK(wk_event_new(&big));
    WK_ASSERT_OK(wk_event_reserve(big, 256));
    return big;
}

static int bs_take(struct wk_source_sink *s, struct wk_source *src, struct wk_event *ev,
                   const void *cursor, size_t cursor_len)
{
    int rc = bs_submit(s, src, ev, cursor, cursor_len);
    if (rc < 0)
        return rc;
    struct wk_event *big = make_big();
    wk_event_swap(ev, big); /* ev: empty, with big's table; big: what was taken */
    wk_event_free(big);
    return 0;
}

WK_TEST(pending_frees_what_a_taking_sink_gives_back_when_it_does_not_fit)
{
    struct bsink bs = { .sink = { .submit = bs_submit, .submit_take = bs_take },
                        .blocked = true };
    struct wk_source_base base = { .sink = &bs.sink };
    struct wk__au_pending q;
    struct wk_event *probe = make_event(0);
    const size_t m = wk_event_mem(probe);
    wk_event_free(probe);
    struct wk_event *big = make_big();
    const size_t b = wk_event_mem(big); /* what each event given back holds */
    wk_event_free(big);
    WK_ASSERT(b > 2 * m && b <= 3 * m);
    const size_t max = 16, arrays = max * (sizeof(struct wk_event *) + sizeof(size_t));
    const size_t bound = arrays + 3 * m; /* 3 events; b only when fewer than 2 are queued */
    wk__au_pending_init(&q, max);
    q.max_bytes = bound;
    int queued = 0, dropped = 0;
    submit_range(&q, &base, 1, 5, &queued, &dropped);
    WK_ASSERT_INT_EQ(queued, 3);
    WK_ASSERT_INT_EQ(dropped, 2);
    WK_ASSERT_UINT_EQ(q.bytes, arrays + 3 * m);
    /* Room: each event taken comes back holding b; kept only if it fits: slots 0 and 1
     * are drained while 2m, then m, are still queued, so theirs are freed; slot 2's,
     * drained last, is kept. */
    bs.blocked = false;
    WK_ASSERT_INT_EQ(wk__au_pending_drain(&q, &base), 0);
    WK_ASSERT_INT_EQ(bs.n, 3);
    WK_ASSERT(q.ev[0] == NULL && q.ev[1] == NULL && q.ev[2] != NULL);
    WK_ASSERT_UINT_EQ(wk_event_mem(q.ev[2]), b);
    WK_ASSERT_UINT_EQ(q.bytes, arrays + b); /* counted exactly, within the bound */
    WK_ASSERT(q.bytes <= bound);
    wk__au_pending_fini(&q);
}
