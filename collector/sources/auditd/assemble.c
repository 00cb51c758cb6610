/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The auditd event assembler: groups records by (node, serial) into held slots, closes a
 * slot on EOE, at once for single-record types, when it is older than the timeout in
 * stream time (or tick time), or when all slots are busy (the oldest goes). Serial jumps
 * and auditd's own DAEMON_* records become `gap` events. Held lines are copied into the
 * slot's reused buffer; nothing is allocated per line once warm.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "watchkeeper/error.h"

#include "auditd_private.h"

static struct wk_key K_GKIND, K_GREASON, K_GCOUNT, K_GSTART, K_GEND, K_GNODE;
static bool gkeys_ready;

static void gkeys_init(void)
{
    if (gkeys_ready)
        return;
    K_GKIND = wk_key_init("event.kind");
    K_GREASON = wk_key_init("gap.reason");
    K_GCOUNT = wk_key_init("gap.count");
    K_GSTART = wk_key_init("gap.start");
    K_GEND = wk_key_init("gap.end");
    K_GNODE = wk_key_init("auditd.node");
    gkeys_ready = true;
}

uint64_t wk__au_resume(const struct wk_parser *p)
{
    uint64_t r = p->next_off;
    if (!p->off_backwards) {
        /* slots opened at nondecreasing offsets: the oldest holds the lowest */
        if (p->oldest != WK_AU_NONE && p->slots[p->oldest].first_off < r)
            r = p->slots[p->oldest].first_off;
        return r;
    }
    for (size_t i = 0; i < WK_AU_SLOTS; i++) {
        if (p->slots[i].used && p->slots[i].first_off < r)
            r = p->slots[i].first_off;
    }
    return r;
}

/* ---- the slot indexes (see struct wk_parser) ---- */

static size_t slot_index(const struct wk_parser *p, const struct wk__au_slot *s)
{
    return (size_t)(s - p->slots);
}

/* Hold slot s (not held) as the newest, for serial (already set). */
static void slot_hold(struct wk_parser *p, struct wk__au_slot *s, uint64_t in_off)
{
    size_t i = slot_index(p, s);
    s->used = true;
    s->single = false;
    p->used_mask |= UINT64_C(1) << i;
    s->older = p->newest;
    s->newer = WK_AU_NONE;
    if (p->newest != WK_AU_NONE)
        p->slots[p->newest].newer = (uint8_t)i;
    else
        p->oldest = (uint8_t)i;
    p->newest = (uint8_t)i;
    uint8_t *b = &p->bucket[s->serial & (WK_AU_BUCKETS - 1)];
    s->hnext = *b;
    *b = (uint8_t)(i + 1);
    if (in_off < p->last_open_off)
        p->off_backwards = true;
    p->last_open_off = in_off;
}

static void slot_set_single(struct wk_parser *p, struct wk__au_slot *s)
{
    s->single = true;
    p->single_mask |= UINT64_C(1) << slot_index(p, s);
}

/* Release a held slot (its lines are kept for reuse). */
static void slot_release(struct wk_parser *p, struct wk__au_slot *s)
{
    size_t i = slot_index(p, s);
    if (s->older != WK_AU_NONE)
        p->slots[s->older].newer = s->newer;
    else
        p->oldest = s->newer;
    if (s->newer != WK_AU_NONE)
        p->slots[s->newer].older = s->older;
    else
        p->newest = s->older;
    uint8_t *b = &p->bucket[s->serial & (WK_AU_BUCKETS - 1)];
    while (*b != i + 1)
        b = &p->slots[*b - 1].hnext;
    *b = s->hnext;
    p->used_mask &= ~(UINT64_C(1) << i);
    p->single_mask &= ~(UINT64_C(1) << i);
    p->held_bytes -= s->blen + s->nrec * sizeof(struct wk__au_held);
    s->single = false;
    s->used = false;
    s->blen = 0;
    s->nrec = 0;
    if (s->bcap > WK_AU_SLOT_KEEP) { /* a big event's memory is not kept for the next */
        free(s->buf);
        s->buf = NULL;
        s->bcap = 0;
    }
    if (s->rcap * sizeof(struct wk__au_held) > WK_AU_SLOT_KEEP) {
        free(s->recs);
        s->recs = NULL;
        s->rcap = 0;
    }
}

int wk__au_emit_gap(struct wk_parser *p, struct wk_parser_sink *sink, int64_t ts,
                    const char *reason, uint64_t count, uint64_t start, uint64_t end,
                    const char *node, size_t nodelen)
{
    struct wk_event *ev = p->ev;
    int rc;
    gkeys_init();
    wk_event_reset(ev);
    wk_event_set_ts(ev, ts);
    if ((rc = wk_event_add_str(ev, 0, &WK_KEY_EVENT_MODULE, "auditd", 6)) < 0 ||
        (rc = wk_event_add_str(ev, 0, &K_GKIND, "gap", 3)) < 0 ||
        (rc = wk_event_add_str(ev, 0, &WK_KEY_EVENT_ACTION, "gap", 3)) < 0 ||
        (rc = wk_event_add_str(ev, 0, &K_GREASON, reason, strlen(reason))) < 0 ||
        (rc = wk_event_add_int(ev, 0, &K_GCOUNT, (int64_t)count)) < 0)
        return rc;
    if (start || end) {
        if ((rc = wk_event_add_int(ev, 0, &K_GSTART, (int64_t)start)) < 0 ||
            (rc = wk_event_add_int(ev, 0, &K_GEND, (int64_t)end)) < 0)
            return rc;
    }
    if (nodelen)
        rc = wk_event_add_str(ev, 0, &WK_KEY_HOST_NAME, node, nodelen);
    else if (p->opts.host)
        rc = wk_event_add_str(ev, 0, &WK_KEY_HOST_NAME, p->opts.host, strlen(p->opts.host));
    if (rc < 0)
        return rc;
    if (nodelen && (rc = wk_event_add_str(ev, 0, &K_GNODE, node, nodelen)) < 0)
        return rc;
    p->n_gaps++;
    return sink->emit(sink, ev, wk__au_resume(p));
}

size_t wk__au_held_serials(const struct wk_parser *p, uint64_t *out, size_t max)
{
    /* the held slots are the bits of used_mask, in slot order */
    if ((size_t)__builtin_popcountll(p->used_mask) > max)
        return max + 1;
    size_t n = 0;
    for (uint64_t m = p->used_mask; m; m &= m - 1)
        out[n++] = p->slots[__builtin_ctzll(m)].serial;
    return n;
}

void wk__au_replay(struct wk_parser *p, bool replaying)
{
    p->replay_line = replaying && p->replay_active;
    if (!replaying)
        p->replay_active = false;
}

void wk__au_replay_start(struct wk_parser *p, const uint64_t *held, size_t n)
{
    p->replay_active = true;
    p->nreplay_held = (unsigned)(n < 16 ? n : 16);
    memcpy(p->replay_held, held, p->nreplay_held * sizeof(*held));
}

/* Was this event (all of whose lines were re-read) emitted before the restart? */
static bool already_emitted(const struct wk_parser *p, uint64_t serial)
{
    for (unsigned i = 0; i < p->nreplay_held; i++) {
        if (p->replay_held[i] == serial)
            return false;
    }
    return true;
}

int wk__au_emit_slot(struct wk_parser *p, struct wk__au_slot *s, struct wk_parser_sink *sink)
{
    if (s->all_replay && already_emitted(p, s->serial)) {
        slot_release(p, s);
        p->n_deduped++;
        return 0;
    }
    int rc = wk__au_normalize(p, s);
    slot_release(p, s); /* released before emit: the resume offset no longer counts it */
    if (rc < 0)
        return rc;
    return sink->emit(sink, p->ev, wk__au_resume(p));
}

/* The header of a held line, as normalize.c reads it back. */
static struct wk__au_held held_of(const char *line, const struct wk__au_hdr *h, uint32_t off,
                                  size_t len)
{
    return (struct wk__au_held){ .off = off, .len = (uint32_t)len, .typeno = h->typeno,
                                 .body = (uint32_t)h->body,
                                 .typeoff = (uint32_t)(h->type - line),
                                 .typelen = (uint32_t)h->typelen,
                                 .nodelen = (uint8_t)h->nodelen, .has_node = h->node != NULL };
}

static int slot_append(struct wk_parser *p, struct wk__au_slot *s, const char *line,
                       size_t len, const struct wk__au_hdr *h)
{
    if (s->blen + len > s->bcap) {
        size_t nc = s->bcap ? s->bcap : 1024;
        while (nc < s->blen + len)
            nc *= 2;
        char *b = realloc(s->buf, nc);
        if (!b)
            return -ENOMEM;
        s->buf = b;
        s->bcap = nc;
    }
    if (s->nrec == s->rcap) {
        size_t nc = s->rcap ? s->rcap * 2 : 8;
        struct wk__au_held *r = realloc(s->recs, nc * sizeof(*r));
        if (!r)
            return -ENOMEM;
        s->recs = r;
        s->rcap = nc;
    }
    memcpy(s->buf + s->blen, line, len);
    s->recs[s->nrec++] = held_of(line, h, (uint32_t)s->blen, len);
    s->blen += len;
    p->held_bytes += len + sizeof(struct wk__au_held);
    return 0;
}

static bool slot_is(const struct wk__au_slot *s, const struct wk__au_hdr *h)
{
    return s->used && s->serial == h->serial && s->nodelen == h->nodelen &&
           memcmp(s->node, h->node ? h->node : "", h->nodelen) == 0;
}

static struct wk__au_slot *find_slot(struct wk_parser *p, const struct wk__au_hdr *h)
{
    if (p->last && slot_is(p->last, h))
        return p->last;
    for (uint8_t b = p->bucket[h->serial & (WK_AU_BUCKETS - 1)]; b; b = p->slots[b - 1].hnext) {
        if (slot_is(&p->slots[b - 1], h))
            return &p->slots[b - 1];
    }
    return NULL;
}

/* Close, oldest first, every slot whose time is before `before`. */
static int close_older(struct wk_parser *p, int64_t before, struct wk_parser_sink *sink)
{
    /* slots open at nondecreasing base_ns (the newest stream time when opened), so the ones
     * to close are the oldest ones */
    for (;;) {
        struct wk__au_slot *old = p->oldest != WK_AU_NONE ? &p->slots[p->oldest] : NULL;
        if (!old || old->base_ns >= before)
            return 0;
        p->n_timeouts++;
        int rc = wk__au_emit_slot(p, old, sink);
        if (rc < 0)
            return rc;
    }
}

static int emit_gaps(struct wk_parser *p, int64_t before, struct wk_parser_sink *sink)
{
    if (!p->gaps_open) /* (called on every new timestamp) */
        return 0;
    for (size_t i = 0; i < WK_AU_GAPS; i++) {
        struct wk__au_gap *g = &p->gaps[i];
        if (!g->used || g->ts_ns >= before)
            continue;
        g->used = false;
        p->gaps_open--;
        uint64_t missing = g->end - g->start + 1 - g->seen;
        if (missing == 0)
            continue;
        int rc = wk__au_emit_gap(p, sink, g->ts_ns, "audit serial jump", missing, g->start,
                                 g->end, g->node, g->nodelen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static struct wk__au_nodestate *node_state(struct wk_parser *p, const struct wk__au_hdr *h)
{
    size_t n = h->nodelen < 63 ? h->nodelen : 63;
    for (size_t i = 0; i < WK_ARRAY_SIZE(p->nodes); i++) {
        struct wk__au_nodestate *s = &p->nodes[i];
        if (s->have && s->nodelen == n && memcmp(s->node, h->node ? h->node : "", n) == 0)
            return s;
    }
    for (size_t i = 0; i < WK_ARRAY_SIZE(p->nodes); i++) {
        struct wk__au_nodestate *s = &p->nodes[i];
        if (!s->have) {
            memcpy(s->node, h->node ? h->node : "", n);
            s->nodelen = n;
            return s;
        }
    }
    return NULL; /* more nodes than we track: no gap detection for the rest */
}

/* Serial bookkeeping for one record that opens a new (node, serial). */
static int track_serial(struct wk_parser *p, const struct wk__au_hdr *h,
                        struct wk_parser_sink *sink)
{
    struct wk__au_nodestate *ns = node_state(p, h);
    if (!ns)
        return 0;
    if (!ns->have || h->serial + 1000000 < ns->max_serial) {
        /* first record, or a reboot / wrap: start over */
        ns->have = true;
        ns->max_serial = h->serial;
        return 0;
    }
    if (h->serial > ns->max_serial) {
        if (h->serial > ns->max_serial + 1) {
            struct wk__au_gap *g = NULL;
            for (size_t i = 0; i < WK_AU_GAPS && !g; i++) {
                if (!p->gaps[i].used)
                    g = &p->gaps[i];
            }
            if (!g) { /* all busy: report the oldest now */
                g = &p->gaps[0];
                for (size_t i = 1; i < WK_AU_GAPS; i++) {
                    if (p->gaps[i].ts_ns < g->ts_ns)
                        g = &p->gaps[i];
                }
                int rc = wk__au_emit_gap(p, sink, g->ts_ns, "audit serial jump",
                                         g->end - g->start + 1 - g->seen, g->start, g->end,
                                         g->node, g->nodelen);
                if (rc < 0)
                    return rc;
            }
            if (!g->used)
                p->gaps_open++;
            g->used = true;
            g->start = ns->max_serial + 1;
            g->end = h->serial - 1;
            g->seen = 0;
            g->ts_ns = h->ts_ns;
            memcpy(g->node, ns->node, ns->nodelen);
            g->nodelen = ns->nodelen;
        }
        ns->max_serial = h->serial;
        return 0;
    }
    /* a late serial: it fills a hole we noted */
    for (size_t i = 0; i < WK_AU_GAPS; i++) {
        struct wk__au_gap *g = &p->gaps[i];
        if (g->used && h->serial >= g->start && h->serial <= g->end && g->nodelen == ns->nodelen &&
            memcmp(g->node, ns->node, ns->nodelen) == 0) {
            g->seen++;
            break;
        }
    }
    return 0;
}

static bool is_daemon(int t)
{
    return t >= 1200 && t < 1300;
}

int wk__au_assemble(struct wk_parser *p, const char *line, size_t len,
                    const struct wk_line_ctx *where, struct wk_parser_sink *sink)
{
    struct wk__au_hdr h;
    const char *reason = NULL;
    uint64_t in_off = where ? where->offset : p->next_off;
    uint64_t end_off = in_off + len + 1;
    int rc;

    while (len && line[len - 1] == '\r')
        len--;
    if (len == 0) {
        p->next_off = end_off;
        return 0;
    }
    if (len > p->opts.max_line)
        reason = "record longer than max_line";
    else if (wk__au_lex_header(line, len, &h, &reason) == 0 && h.nodelen > 63)
        reason = "node= name longer than 63 bytes";
    if (reason) {
        p->n_rejected++;
        p->next_off = end_off;
        return sink->reject(sink, where, reason, line, len);
    }
    /* Before this line is held, the resume point must not pass it. */
    p->next_off = in_off;
    if (h.ts_ns > p->newest_ns) {
        p->newest_ns = h.ts_ns;
        if ((rc = close_older(p, h.ts_ns - p->timeout_ns, sink)) < 0 ||
            (rc = emit_gaps(p, h.ts_ns - p->timeout_ns, sink)) < 0)
            return rc;
    }

    /* auditd's own records carry auditd's serials, not the kernel's: never join a held
     * kernel event that happens to have the same serial. */
    struct wk__au_slot *s = is_daemon(h.typeno) ? NULL : find_slot(p, &h);
    /* A stand-alone record (user-space message) is complete once another serial starts;
     * records of its own serial (a SYSCALL the kernel attached) join it. */
    for (uint64_t m = p->single_mask & ~(s ? UINT64_C(1) << slot_index(p, s) : 0); m;
         m &= m - 1) {
        if ((rc = wk__au_emit_slot(p, &p->slots[__builtin_ctzll(m)], sink)) < 0)
            return rc;
    }
    if (h.typeno == 1320) { /* EOE */
        p->next_off = end_off;
        if (!s)
            return 0; /* already closed (timeout): nothing to add */
        if ((rc = slot_append(p, s, line, len, &h)) < 0)
            return rc;
        s->all_replay = s->all_replay && p->replay_line;
        return wk__au_emit_slot(p, s, sink);
    }
    if (!s) {
        if (is_daemon(h.typeno)) {
            /* auditd's own records: their serials are auditd's, not the kernel's. A start,
             * stop or abort bounds a stretch with no collection: say so. */
            struct wk__au_slot tmp = { 0 };
            struct wk__au_held held = held_of(line, &h, 0, len);
            const char *why = NULL;
            if (h.typelen == 12 && memcmp(h.type, "DAEMON_START", 12) == 0)
                why = "auditd started";
            else if (h.typelen == 10 && memcmp(h.type, "DAEMON_END", 10) == 0)
                why = "auditd stopped";
            else if (h.typelen == 12 && memcmp(h.type, "DAEMON_ABORT", 12) == 0)
                why = "auditd aborted";
            if (p->replay_line && already_emitted(p, h.serial)) {
                p->next_off = end_off;
                p->n_deduped++;
                return 0;
            }
            tmp.used = true;
            tmp.buf = (char *)line;
            tmp.recs = &held;
            tmp.nrec = 1;
            tmp.serial = h.serial;
            tmp.ts_ns = h.ts_ns;
            memcpy(tmp.node, h.node ? h.node : "", h.nodelen);
            tmp.nodelen = h.nodelen;
            p->next_off = end_off;
            if ((rc = wk__au_normalize(p, &tmp)) < 0)
                return rc;
            if (why) {
                static struct wk_key kk, kr;
                if (!kk.name) {
                    kk = wk_key_init("event.kind");
                    kr = wk_key_init("gap.reason");
                }
                if ((rc = wk_event_add_str(p->ev, 0, &kk, "gap", 3)) < 0 ||
                    (rc = wk_event_add_str(p->ev, 0, &WK_KEY_EVENT_ACTION, "gap", 3)) < 0 ||
                    (rc = wk_event_add_str(p->ev, 0, &kr, why, strlen(why))) < 0)
                    return rc;
                p->n_gaps++;
            }
            return sink->emit(sink, p->ev, wk__au_resume(p));
        }
        if ((rc = track_serial(p, &h, sink)) < 0)
            return rc;
        if (~p->used_mask) {
            s = &p->slots[__builtin_ctzll(~p->used_mask)];
        } else { /* all busy: close the oldest */
            struct wk__au_slot *old = &p->slots[p->oldest];
            if ((rc = wk__au_emit_slot(p, old, sink)) < 0)
                return rc;
            s = old;
        }
        s->serial = h.serial;
        slot_hold(p, s, in_off);
        s->all_replay = p->replay_line;
        if (wk__au_is_single(h.typeno))
            slot_set_single(p, s);
        s->ts_ns = h.ts_ns;
        /* records may arrive with older timestamps than the newest seen (interleaving):
         * the timeout counts from when the slot opened in stream time */
        s->base_ns = h.ts_ns > p->newest_ns ? h.ts_ns : p->newest_ns;
        s->first_off = in_off;
        s->age = ++p->age;
        memcpy(s->node, h.node ? h.node : "", h.nodelen);
        s->nodelen = h.nodelen;
        s->blen = 0;
        s->nrec = 0;
    }
    if ((rc = slot_append(p, s, line, len, &h)) < 0)
        return rc;
    p->last = s;
    s->all_replay = s->all_replay && p->replay_line;
    if (s->blen > WK_AU_SLOT_MAX)
        return wk__au_emit_slot(p, s, sink); /* memory stays bounded: emit what we have */
    while (p->held_bytes > WK_AU_HELD_MAX) {
        /* all events together hold too much: the oldest others go first */
        uint8_t o = p->oldest == slot_index(p, s) ? s->newer : p->oldest;
        if (o == WK_AU_NONE)
            break;
        if ((rc = wk__au_emit_slot(p, &p->slots[o], sink)) < 0)
            return rc;
    }
    if (h.typeno == 1327 && !s->single) {
        /* PROCTITLE is a syscall event's last record, and auditd 3 does not write EOE to
         * its log: the event is complete once another serial starts (or EOE comes). */
        slot_set_single(p, s);
    }
    p->next_off = end_off;
    return 0;
}

int wk__au_tick(struct wk_parser *p, int64_t now_ns, struct wk_parser_sink *sink)
{
    int rc = close_older(p, now_ns - p->timeout_ns, sink);
    if (rc < 0)
        return rc;
    return emit_gaps(p, now_ns - p->timeout_ns, sink);
}

int wk__au_flush(struct wk_parser *p, struct wk_parser_sink *sink)
{
    int rc = close_older(p, INT64_MAX, sink);
    if (rc < 0)
        return rc;
    return emit_gaps(p, INT64_MAX, sink);
}
