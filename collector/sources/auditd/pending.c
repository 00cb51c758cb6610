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
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "auditd_private.h"
#include "source_private.h"

#define PEND_KEEP 8 /* drained slots whose event is kept for reuse: slots 0..PEND_KEEP-1 */

void wk__au_pending_init(struct wk__au_pending *q, size_t max)
{
    memset(q, 0, sizeof(*q));
    q->max = max ? max : 1;
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

int wk__au_pending_submit(struct wk__au_pending *q, struct wk_source_base *src,
                          struct wk_event *ev, const void *cur, size_t curlen)
{
    if (!q->paused) {
        int rc = wk_source_hand_over(src->sink, (struct wk_source *)src, ev, cur, curlen);
        if (rc != -EAGAIN)
            return rc;
        q->paused = true;
    }
    if (!q->ev) {
        q->ev = wk_new0(struct wk_event *, q->max);
        q->cur = calloc(q->max, WK_AU_CURSOR_MAX);
        q->curlen = wk_new0(size_t, q->max);
        if (!q->ev || !q->cur || !q->curlen)
            return -ENOMEM;
    }
    if (q->n == q->max || curlen > WK_AU_CURSOR_MAX) {
        q->dropped++;
        return -ENOBUFS;
    }
    size_t i = (q->head + q->n) % q->max;
    if (!q->ev[i] && wk_event_new(&q->ev[i]) < 0)
        return -ENOMEM;
    wk_event_reset(q->ev[i]);
    wk_event_swap(q->ev[i], ev);
    if (curlen)
        memcpy(q->cur[i], cur, curlen);
    q->curlen[i] = curlen;
    q->n++;
    return -EAGAIN;
}

int wk__au_pending_drain(struct wk__au_pending *q, struct wk_source_base *src)
{
    while (q->n) {
        size_t i = q->head;
        int rc = wk_source_hand_over(src->sink, (struct wk_source *)src, q->ev[i],
                                     q->curlen[i] ? q->cur[i] : NULL, q->curlen[i]);
        if (rc == -EAGAIN)
            return -EAGAIN;
        if (i < PEND_KEEP)
            wk_event_reset(q->ev[i]);
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
