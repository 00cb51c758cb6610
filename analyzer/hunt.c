/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hunt over a store: candidate blocks (time index) are split in batches; worker threads,
 * each with its own store reader and rule scratch, evaluate detection rules on their
 * blocks and record, per block and in event order, alert JSON and deferred correlation
 * feeds (a copy of the event); the calling thread then replays the batch in store order,
 * printing alerts and feeding correlation windows, exactly as live evaluation would.
 * When the ruleset has a block prefilter (prefilter.c), a worker scans each block's stored
 * records once for its literals and decodes only the events that hold one.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_private.h"
#include "watchkeeper/hunt.h"

struct item {
    char *json;            /* an alert, or NULL: a deferred correlation feed (ev set) or a
                            * counted alert (count mode) */
    size_t len;
    struct wk_event *ev;   /* feed: copy of the event */
    uint32_t corr, rule;
    unsigned rec;
    uint64_t ref;
};

struct slot {
    uint64_t block;
    SG_VEC(struct item) items;
    uint64_t events;
    uint64_t skipped; /* records the block prefilter skipped undecoded */
    bool skipped_all; /* ... and it skipped the whole block */
    int rc;
    int done; /* set by the worker (under hunt.mu) */
};

struct hunt {
    struct wk_store *st;
    struct wk_ruleset *rs;
    const struct wk_store_filter *f;
    struct slot *slots;
    size_t nslots;
    size_t next;   /* under claim: first slot no worker has taken; atomic reads */
    size_t batch;  /* slots a worker takes at a time (more to finish a stored value) */
    pthread_mutex_t claim;
    int stop;      /* atomic: the consumer gave up */
    size_t waiting; /* under mu: slot the consumer waits for + 1, 0: not waiting */
    bool raw;      /* block prefilter on */
    bool count;    /* count mode: no alert JSON */
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

struct worker {
    struct hunt *h;
    struct wk_store_reader *rd;
    struct wk_rule_scratch *sc;
    struct slot *cur;
    struct wk_store_filter f; /* h->f plus this worker's raw pre-check */
    struct wk_store_raw raw;
    struct wk__offs hits;     /* block prefilter: literal hits in the block */
    const uint8_t *recs;      /* ... and its records (raw_block to the end of its scan) */
    size_t hi;
    uint64_t seen, kept, blocks; /* block prefilter: records seen / decoded, blocks scanned */
    bool raw_off;                /* ... given up by this worker */
    pthread_t tid;
    bool started;
};

static int push_item(struct slot *s, struct item *it)
{
    if (SG_PUSH(s->items, *it) < 0) {
        free(it->json);
        wk_event_free(it->ev);
        return -ENOMEM;
    }
    return 0;
}

static int on_alert(const struct wk_alert *a, void *arg)
{
    struct worker *w = arg;
    struct item it = { .rule = a->rule };
    int rc = w->h->count ? 0 : wk_alert_to_json(a, &it.json, &it.len);
    return rc < 0 ? rc : push_item(w->cur, &it);
}

static int on_defer(void *arg, uint32_t corr, uint32_t rule, const struct wk_event *ev,
                    unsigned rec, uint64_t ref)
{
    struct worker *w = arg;
    struct item it = { .corr = corr, .rule = rule, .rec = rec, .ref = ref };
    if (wk_event_new(&it.ev) < 0)
        return -ENOMEM;
    if (wk_event_copy(it.ev, ev) < 0) {
        wk_event_free(it.ev);
        return -ENOMEM;
    }
    return push_item(w->cur, &it);
}

static int on_event(const struct wk_event *ev, struct wk_store_ref ref, void *arg)
{
    struct worker *w = arg;
    w->cur->events++;
    int rc = wk_ruleset_eval_ref(w->h->rs, w->sc, ev, wk_hunt_ref(ref.block, ref.index),
                                 on_alert, w);
    return rc < 0 ? rc : 0;
}

/* Block prefilter: scan the block's stored records once for the literals one of which any
 * event that can match contains (prefilter.c); decode only the records holding a hit. */
static int raw_block(const uint8_t *p, size_t len, void *arg)
{
    struct worker *w = arg;
    /* when it keeps most records (broad rule sets) the scan costs more than it saves:
     * after 32 blocks, a worker that decoded over half of what it saw stops using it */
    if (w->raw_off || (++w->blocks == 33 && w->kept * 2 > w->seen)) {
        w->raw_off = true;
        w->f.raw = NULL; /* from the next block on */
        return 1;
    }
    int rc = wk__sg_prefilter_raw_scan(w->sc, p, len, &w->hits);
    if (rc < 0)
        return rc;
    w->hi = 0;
    w->recs = p;
    if (w->hits.n == 0) {
        w->cur->skipped_all = true;
        return 0;
    }
    return 1;
}

static bool raw_record(size_t off, size_t len, void *arg)
{
    struct worker *w = arg;
    if (w->raw_off)
        return true;
    /* a literal inside the record ends in (off, off + len]; hits ascend, records too */
    while (w->hi < w->hits.n && w->hits.v[w->hi].end <= off)
        w->hi++;
    w->seen++;
    size_t e = w->hi;
    while (e < w->hits.n && w->hits.v[e].end <= off + len)
        e++;
    if (e > w->hi &&
        wk__sg_prefilter_raw_keep(w->sc, w->recs + off, len, &w->hits.v[w->hi], e - w->hi)) {
        w->kept++;
        return true;
    }
    w->cur->skipped++;
    return false;
}

/* Take the next unit, slots [*i, *e): up to batch consecutive candidates, extended so
 * that it never splits a stored value: the cold tier merges blocks into one zstd frame,
 * which a reader decompresses once for the blocks of it that it scans in a row, so one
 * worker takes all of them. Values are contiguous runs of block ids, so only the unit's
 * last block is looked up (hot blocks are values of their own: one lookup per unit, done
 * by the workers in parallel, not one per candidate before they start). */
static bool claim(struct worker *w, size_t *i, size_t *e)
{
    struct hunt *h = w->h;
    pthread_mutex_lock(&h->claim);
    size_t b = h->next, n = h->nslots;
    size_t end = n - b > h->batch ? b + h->batch : n;
    uint64_t first, nv;
    uint32_t cnt;
    if (end < n && wk_store_block_value(w->rd, h->slots[end - 1].block, &first, &cnt) == 0) {
        nv = first + cnt;
        while (end < n && h->slots[end].block < nv)
            end++;
    }
    __atomic_store_n(&h->next, end, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&h->claim);
    *i = b;
    *e = end;
    return b < n;
}

/* A worker takes units in order until none are left; the consumer reads finished slots in
 * store order, so workers run ahead while it replays. */
static void *work(void *arg)
{
    struct worker *w = arg;
    struct hunt *h = w->h;
    for (;;) {
        if (__atomic_load_n(&h->stop, __ATOMIC_RELAXED))
            break;
        /* a unit of consecutive blocks, published together: one wake-up per unit */
        size_t i, e;
        if (!claim(w, &i, &e))
            break;
        for (size_t k = i; k < e; k++) {
            w->cur = &h->slots[k];
            w->cur->rc = wk_store_block_scan(w->rd, w->cur->block, &w->f, on_event, w);
        }
        pthread_mutex_lock(&h->mu);
        for (size_t k = i; k < e; k++)
            h->slots[k].done = 1;
        if (h->waiting > i && h->waiting <= e) /* the consumer waits for one of them */
            pthread_cond_broadcast(&h->cv);
        pthread_mutex_unlock(&h->mu);
    }
    return NULL;
}

static void slot_fini(struct slot *s)
{
    for (size_t i = 0; i < s->items.n; i++) {
        free(s->items.v[i].json);
        wk_event_free(s->items.v[i].ev);
    }
    free(s->items.v);
    memset(s, 0, sizeof(*s));
}

struct replay {
    wk_hunt_alert_cb cb;
    void *arg;
    uint64_t alerts;
    void (*count)(uint32_t rule, void *arg);
};

static int corr_alert(const struct wk_alert *a, void *arg)
{
    struct replay *r = arg;
    if (r->count) {
        r->alerts++;
        r->count(a->rule, r->arg);
        return 0;
    }
    char *j = NULL;
    size_t len = 0;
    int rc = wk_alert_to_json(a, &j, &len);
    if (rc < 0)
        return rc;
    r->alerts++;
    rc = r->cb ? r->cb(j, len, r->arg) : 0;
    free(j);
    return rc;
}

/* The one event.module every rule of rs needs, or NULL: pushed down to the store, which
 * then skips other sources' blocks and records without decoding them. */
static const char *single_module(const struct wk_ruleset *rs)
{
    const char *mod = NULL;
    for (size_t l = 0; l < rs->ls.n; l++) {
        const struct sg_logsource *ls = &rs->ls.v[l];
        if (ls->rules.n == 0)
            continue;
        const struct sg_lsmatch *m = NULL;
        for (size_t k = 0; !m && k < ls->match.n; k++)
            if (!strcmp(ls->match.v[k].field, "event.module"))
                m = &ls->match.v[k];
        if (!m || m->values.n != 1 || (mod && strcmp(mod, m->values.v[0])))
            return NULL;
        mod = m->values.v[0];
    }
    return mod;
}

int wk_hunt_store(struct wk_store *st, struct wk_ruleset *rs, const struct wk_hunt_opts *o,
                  wk_hunt_alert_cb cb, void *arg, struct wk_hunt_stats *stats)
{
    struct wk_store_reader *rd = NULL;
    struct wk_rule_scratch *main_sc = NULL;
    uint64_t *ids = NULL;
    size_t nids = 0;
    struct worker *ws = NULL;
    struct replay rp = { cb, arg, 0, o ? o->count : NULL };
    unsigned nthreads = o && o->threads ? o->threads : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    if (nthreads < 1)
        nthreads = 1;
    if (nthreads > 64)
        nthreads = 64;
    /* the time filter applies to the events of each block too, not only to candidates */
    struct wk_store_filter f = { 0 };
    if (o) {
        f.since = o->since;
        f.until = o->until;
    }
    f.source = single_module(rs);
    struct hunt h = { .st = st, .rs = rs, .f = &f };
    h.raw = rs->rawdb && !(o && o->no_block_prefilter);
    h.count = rp.count != NULL;
    pthread_mutex_init(&h.mu, NULL);
    pthread_mutex_init(&h.claim, NULL);
    pthread_cond_init(&h.cv, NULL);
    int rc = wk_store_reader_open(st, &rd);
    if (rc < 0)
        goto out;
    rc = wk_store_candidates(rd, &f, &ids, &nids);
    if (rc < 0)
        goto out;
    rc = wk_rule_scratch_new(&main_sc, rs, NULL);
    if (rc < 0)
        goto out;
    if (nthreads > nids)
        nthreads = nids ? (unsigned)nids : 1;
    ws = calloc(nthreads, sizeof(*ws));
    h.slots = calloc(nids ? nids : 1, sizeof(*h.slots));
    if (!ws || !h.slots) {
        rc = -ENOMEM;
        goto out;
    }
    h.nslots = nids;
    for (size_t i = 0; i < nids; i++)
        h.slots[i].block = ids[i];
    /* about 8 units per worker, at most 16 blocks each (one wake-up of the consumer per
     * unit; small enough to keep the workers evenly loaded to the end) */
    size_t batch = nids / ((size_t)nthreads * 8);
    h.batch = batch < 1 ? 1 : batch > 16 ? 16 : batch;
    for (unsigned t = 0; t < nthreads; t++) {
        ws[t].h = &h;
        rc = wk_store_reader_open(st, &ws[t].rd);
        if (rc == 0)
            rc = wk_rule_scratch_new(&ws[t].sc, rs, NULL);
        if (rc < 0)
            goto out;
        ws[t].sc->defer = on_defer;
        ws[t].sc->defer_arg = &ws[t];
        ws[t].f = f;
        if (h.raw) {
            ws[t].raw = (struct wk_store_raw){ raw_block, raw_record, &ws[t] };
            ws[t].f.raw = &ws[t].raw;
        }
    }
    for (unsigned t = 0; t < nthreads; t++)
        ws[t].started = pthread_create(&ws[t].tid, NULL, work, &ws[t]) == 0;
    if (!ws[0].started) /* no thread at all: work inline, then replay */
        work(&ws[0]);
    uint64_t events = 0, skipped = 0, skipped_blocks = 0;
    for (size_t i = 0; i < nids; i++) {
        struct slot *s = &h.slots[i];
        pthread_mutex_lock(&h.mu);
        while (!s->done) {
            h.waiting = i + 1;
            pthread_cond_wait(&h.cv, &h.mu);
        }
        h.waiting = 0;
        pthread_mutex_unlock(&h.mu);
        if (rc == 0 && s->rc < 0)
            rc = s->rc;
        events += s->events;
        skipped += s->skipped;
        if (s->skipped_all) {
            struct wk_store_block_info bi;
            skipped_blocks++;
            if (wk_store_block_info(rd, s->block, &bi) == 0)
                skipped += bi.count;
        }
        for (size_t k = 0; rc == 0 && k < s->items.n; k++) {
            struct item *it = &s->items.v[k];
            if (it->json) {
                rp.alerts++;
                rc = cb ? cb(it->json, it->len, arg) : 0;
            } else if (!it->ev) {
                rp.alerts++;
                rp.count(it->rule, arg);
            } else {
                int n = wk__corr_feed(main_sc, it->corr, it->rule, it->ev, it->rec, it->ref,
                                      corr_alert, &rp);
                rc = n < 0 ? n : 0;
            }
        }
        slot_fini(s);
        if (rc < 0) {
            __atomic_store_n(&h.stop, 1, __ATOMIC_RELAXED);
            /* let the workers finish the block they hold, then drain */
            for (size_t k = i + 1; k < nids; k++) {
                pthread_mutex_lock(&h.mu);
                size_t claimed = __atomic_load_n(&h.next, __ATOMIC_RELAXED);
                while (!h.slots[k].done && k < claimed) {
                    h.waiting = k + 1;
                    pthread_cond_wait(&h.cv, &h.mu);
                }
                h.waiting = 0;
                pthread_mutex_unlock(&h.mu);
            }
            break;
        }
        if (o && o->progress && ((i + 1) % 64 == 0 || i + 1 == nids))
            o->progress(i + 1, nids, o->progress_arg);
    }
    if (rc == 0) {
        int n = wk_rule_scratch_flush(main_sc, corr_alert, &rp);
        rc = n < 0 ? n : 0;
    }
    if (stats) {
        stats->blocks = nids;
        stats->events = events;
        stats->alerts = rp.alerts;
        stats->skipped_blocks = skipped_blocks;
        stats->skipped_events = skipped;
        stats->block_prefilter = h.raw;
    }
out:
    for (unsigned t = 0; ws && t < nthreads; t++) {
        if (ws[t].started)
            pthread_join(ws[t].tid, NULL);
        wk_store_reader_close(ws[t].rd);
        wk_rule_scratch_free(ws[t].sc);
        free(ws[t].hits.v);
    }
    for (size_t i = 0; h.slots && i < h.nslots; i++)
        slot_fini(&h.slots[i]);
    free(h.slots);
    free(ws);
    free(ids);
    wk_rule_scratch_free(main_sc);
    wk_store_reader_close(rd);
    pthread_cond_destroy(&h.cv);
    pthread_mutex_destroy(&h.claim);
    pthread_mutex_destroy(&h.mu);
    return rc;
}
