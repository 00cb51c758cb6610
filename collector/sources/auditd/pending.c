/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A bounded, ordered queue of events the pipeline refused with -EAGAIN, for the auditd live
 * sources: the tailer pauses reading while it is not empty; the audisp reader keeps reading
 * (it must never block auditd) and counts what did not fit.
 *
 * Memory: a queued event is a whole event (about 17 KB for a recycled auditd event: its
 * field table and arena chunks). A drained queue keeps the events of its first PEND_KEEP
 * slots for reuse and frees the others, and restarts at slot 0 once empty, so between
 * pauses it pins at most PEND_KEEP events. (It kept every slot's event: the ring's head
 * walked through all `max` slots, pause after pause, and the tailer's 1 024 slots came to
 * pin 17 MiB after 40 s at 10k events/s, none of it counted by the pipeline's bound.)
 * Its bytes (arrays and every event it owns, at wk_event_mem) are counted and bounded by
 * max_bytes as well as its slots by max: a count alone let the audisp reader's 16 384
 * slots hold 16 384 x 17 KB = 270 MiB.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auditd_private.h"
#include "source_private.h"

#define PEND_KEEP 8 /* drained slots whose event is kept for reuse: slots 0..PEND_KEEP-1 */

void wk__au_pending_init(struct wk__au_pending *q, size_t max)
{
    memset(q, 0, sizeof(*q));
    q->max = max ? max : 1;
    q->max_bytes = SIZE_MAX;
}

void wk__au_pending_fini(struct wk__au_pending *q)
{
    if (q->ev) {
        for (size_t i = 0; i < q->max; i++)
            wk_event_free(q->ev[i]);
    }
    free(q->ev);
    free(q->cur);
    free(q->curlen);
    memset(q, 0, sizeof(*q));
}

/* Whether add more bytes fit (overflow-safe: bytes <= max_bytes always holds). */
static bool fits(const struct wk__au_pending *q, size_t add)
{
    return add <= q->max_bytes - q->bytes;
}

int wk__au_pending_submit(struct wk__au_pending *q, struct wk_source_base *src,
                          struct wk_event *ev, const void *cur, size_t curlen)
{
    if (!q->paused) {
        int rc = wk_source_hand_over(src->sink, (struct wk_source *)src, ev, cur, curlen);
        if (rc != -EAGAIN)
            return rc;
        q->paused = true;
    }
    if (q->n == q->max || curlen > WK_AU_CURSOR_MAX)
        goto drop;
    size_t need = wk_event_mem(ev); /* what the slot's event holds once swapped with ev */
    /* The arrays, allocated at the first pause (the cursors' at the first cursor: the
     * audisp reader has none), are counted with the events. */
    if (!q->ev) {
        size_t ab = q->max * (sizeof(*q->ev) + sizeof(*q->curlen));
        if (!fits(q, ab) || !fits(q, ab + need))
            goto drop;
        q->ev = wk_new0(struct wk_event *, q->max);
        q->curlen = wk_new0(size_t, q->max);
        if (!q->ev || !q->curlen) {
            free(q->ev);
            free(q->curlen);
            q->ev = NULL;
            q->curlen = NULL;
            return -ENOMEM;
        }
        q->bytes += ab;
    }
    if (curlen && !q->cur) {
        size_t cb = q->max * (size_t)WK_AU_CURSOR_MAX;
        if (!fits(q, cb) || !fits(q, cb + need))
            goto drop;
        if (!(q->cur = calloc(q->max, WK_AU_CURSOR_MAX)))
            return -ENOMEM;
        q->bytes += cb;
    }
    size_t i = (q->head + q->n) % q->max;
    size_t old = q->ev[i] ? wk_event_mem(q->ev[i]) : 0; /* a kept event, reused */
    if (!fits(q, need - (need < old ? need : old)))
        goto drop;
    if (!q->ev[i] && wk_event_new(&q->ev[i]) < 0)
        return -ENOMEM;
    wk_event_reset(q->ev[i]);
    wk_event_swap(q->ev[i], ev); /* the slot now holds need bytes; ev the kept storage */
    q->bytes = q->bytes - old + wk_event_mem(q->ev[i]);
    if (curlen)
        memcpy(q->cur[i], cur, curlen);
    q->curlen[i] = curlen;
    q->n++;
    return -EAGAIN;
drop:
    q->dropped++;
    return -ENOBUFS;
}

int wk__au_pending_drain(struct wk__au_pending *q, struct wk_source_base *src)
{
    while (q->n) {
        size_t i = q->head;
        size_t held = wk_event_mem(q->ev[i]);
        int rc = wk_source_hand_over(src->sink, (struct wk_source *)src, q->ev[i],
                                     q->curlen[i] ? q->cur[i] : NULL, q->curlen[i]);
        if (rc == -EAGAIN)
            return -EAGAIN;
        q->bytes -= held;
        /* What the sink gave back is kept for reuse if it fits (a sink's recycled event
         * may hold more storage than the one it took). */
        wk_event_reset(q->ev[i]);
        size_t kept = wk_event_mem(q->ev[i]);
        if (i < PEND_KEEP && fits(q, kept))
            q->bytes += kept;
        else
            q->ev[i] = wk_event_free(q->ev[i]);
        q->head = (q->head + 1) % q->max;
        q->n--;
    }
    q->head = 0; /* empty: the next pause fills the kept slots first */
    q->paused = false;
    return 0;
}

void wk__au_cursor_unpack(const void *in, uint64_t *ino, uint64_t *off)
{
    const uint8_t *b = in;
    *ino = *off = 0;
    for (int i = 7; i >= 0; i--) {
        *ino = *ino << 8 | b[i];
        *off = *off << 8 | b[8 + i];
    }
}
