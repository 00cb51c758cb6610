/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the two auditd live sources share: the cursor encoding and a bounded queue of events
 * the pipeline refused (-EAGAIN), kept in order and submitted again on resume().
 */
#ifndef WK_AUDITD_SOURCE_PRIVATE_H
#define WK_AUDITD_SOURCE_PRIVATE_H

#include <string.h>

#include "watchkeeper/parser.h"
#include "watchkeeper/source.h"

extern const struct wk_parser_ops wk_parser_auditd;

/* The tail cursor: oldest held line (inode, offset), high-water mark (inode, offset after
 * the last line fed), then the count and serials of the events held (255: too many). */
#define WK_AU_CURSOR_MAX (33 + 16 * 8)

struct wk__au_pending {
    struct wk_event **ev;
    uint8_t (*cur)[WK_AU_CURSOR_MAX]; /* allocated when the first cursor is queued */
    size_t *curlen;
    size_t head, n, max;
    /* Heap bytes the queue holds: its arrays and every event it owns (queued, or kept for
     * reuse) at wk_event_mem; never more than max_bytes (SIZE_MAX after init). */
    size_t bytes, max_bytes;
    bool paused;      /* the pipeline said -EAGAIN; nothing is submitted until drained */
    uint64_t dropped; /* events refused because the queue was full (events or bytes) */
};

/** An empty queue of at most max events; set q->max_bytes after it to bound its bytes. */
void wk__au_pending_init(struct wk__au_pending *q, size_t max);
void wk__au_pending_fini(struct wk__au_pending *q);
/**
 * Submit ev, or queue it when the pipeline is full (or events are already queued). By
 * hand-over: ev is the parser's emitted event, which the parser rebuilds from empty for
 * each event and does not read after emit, so its contents are taken (the pipeline's
 * submit_take, or swapped into the queue) and ev may be left empty; copied only when the
 * sink cannot take. An event is queued only if the queue's bytes stay within max_bytes
 * with it (its wk_event_mem: field table, index, arena with the records' copies).
 * @return 0 submitted; -EAGAIN queued; -ENOBUFS dropped (queue full of events or bytes,
 * counted in dropped); other <0.
 */
int wk__au_pending_submit(struct wk__au_pending *q, struct wk_source_base *src,
                          struct wk_event *ev, const void *cur, size_t curlen);
/** Submit the queued events in order. @return 0 when empty, -EAGAIN when full again. */
int wk__au_pending_drain(struct wk__au_pending *q, struct wk_source_base *src);

/** The kernel's lost-record counter (auditctl -s). @return 0 or -errno. */
int wk__au_kernel_lost(uint32_t *lost);
struct wk__au_lost {
    bool have;
    uint32_t last;
};
/** Poll the counter; an increase since the last poll becomes a gap event. */
int wk__au_lost_check(struct wk__au_lost *l, struct wk_parser *p, struct wk_parser_sink *sink,
                      int64_t now_ns);

/* v as 8 little-endian bytes at out (one store on a little-endian host) */
static inline void wk__au_put_le64(uint8_t *out, uint64_t v)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(out, &v, 8);
}

/* (inode, offset) as 16 little-endian bytes: every emitted event's cursor */
static inline void wk__au_cursor_pack(uint8_t out[16], uint64_t ino, uint64_t off)
{
    wk__au_put_le64(out, ino);
    wk__au_put_le64(out + 8, off);
}
void wk__au_cursor_unpack(const void *in, uint64_t *ino, uint64_t *off);

#endif
