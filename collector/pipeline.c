/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pipeline: sources submit events on the loop thread into a bounded queue; one writer
 * thread takes batches, evaluates the live rules on each event, commits events + cursors +
 * alerts in one backend transaction, then writes the alerts to the outputs. Nothing slow
 * (compression, LMDB, fsync, rule matching, output writes) runs on the loop thread; the
 * writer talks back through uv_async (resume paused sources, drain finished).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "pipeline_private.h"
#include "watchkeeper/error.h"
#include "watchkeeper/event_json.h"
#include "watchkeeper/log.h"
#include "watchkeeper/mem.h"
#include "watchkeeper/timefmt.h"

#define MAX_SLOTS 256

struct item {
    struct item *next;
    struct wk_event *ev; /* NULL: a quarantined input, cur[] holds reason\0raw */
    int64_t enq_ns; /* monotonic */
    uint32_t slot;
    uint32_t bytes;
    uint32_t curlen;
    uint32_t curcap; /* room in cur[] */
    bool kept; /* quarantined input handed to the backend already */
    bool curonly; /* no event: cur[] is a cursor alone (sink->cursor) */
    unsigned char cur[];
};

/* Committed items are kept for reuse, their event's arena and field arrays with them, so
 * the steady state allocates nothing per event (and the writer does not free what the loop
 * thread allocated, which costs glibc a lock and, trimming, page faults). Bounded: at most
 * POOL_EVENTS items, the pool and the queue together hold at most queue_bytes (by the
 * items' queue sizes). A smaller pool (a quarter, a half of queue_bytes) made a queue that
 * fills and drains pay a new event and a free for the rest; the whole queue_bytes, with
 * the auditd tables sized for the typical event, is -772 instructions per audit event
 * against a half and keeps the peak RSS at a steady 10k events/s near 54 MiB (figures and
 * commands: docs/daemon.md, "The pipeline").
 * What the pool held unused for a whole POOL_TRIM_NS beyond queue_bytes / 8 is freed (a
 * burst's items, once it is over). */
#define POOL_EVENTS 4096
#define POOL_TRIM_NS (2 * WK_NS_PER_SEC)
#define POOL_CUR 64 /* cursor room given to every item, so most can be reused for any */

/* One source instance by name. Slots are never freed during a run, so the writer can read
 * instance names without locking while the loop thread adds slots. */
struct slot {
    char *instance;
    struct wk_source *src; /* loop thread only */
    bool paused;           /* under lock */
    unsigned char *last_cur; /* loop thread only */
    size_t last_len, last_cap;
};

struct rules_ref {
    struct wk_rules_hook hook;
    struct wk_config_rules allow;
    int refs; /* under p->lock */
};

struct out_one {
    FILE *f;
    bool own;
    int min_level;
    struct out_state *st;
};

/* Delivery state of an output, by name, kept across reloads (under p->lock). */
#define MAX_OUTPUTS 32
struct out_state {
    struct wk_pipeline_output pub; /* what status shows */
    uint64_t saved;                /* delivered as last stored (writer thread) */
    int64_t saved_at;
};

struct outputs {
    int refs; /* under p->lock */
    size_t n;
    struct out_one o[];
};

struct wk_pipeline {
    uv_loop_t *loop;
    struct wk_source_sink sink;
    const struct wk_backend_ops *backend;
    void *bctx;
    struct slot slots[MAX_SLOTS];
    size_t nslots;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t writer;
    bool writer_started;
    struct item *head, **tailp;
    struct item *pool; /* reusable items, each with an event (under lock) */
    size_t npool;
    uint64_t pool_bytes;
    uint64_t stage_pool_bytes; /* pool items lent to the stage (under lock) */
    uint64_t pool_low;    /* least pool_bytes since pool_trim_at */
    int64_t pool_trim_at; /* mono ns */
    struct wk_config_pipeline lim;
    bool stop, flush_now, any_paused, drained, abandon;
    struct rules_ref *rules;
    struct outputs *outs;
    struct out_state ostate[MAX_OUTPUTS];
    size_t nostate;
    struct wk_pipeline_stats st;
    uint64_t alert_min[60]; /* alerts per minute of the last hour, by minute % 60 */
    int64_t alert_min_at[60];

    /* The live rules' state, saved with the commits (writer thread only). */
    char *state_last;       /* last staged text */
    size_t state_len;
    bool state_dirty;       /* events evaluated since the last save */
    int64_t state_next_ns;  /* mono: no save before this (bounds the cost) */
    uint64_t state_saves;
    int64_t state_save_ns;  /* total time in save */

    /* Integrity: the verifier thread runs the full check every verify_interval (or at
     * once on verify_now); what it and the writer's check of each commit find becomes an
     * alert, queued in pend for the writer to commit and output (under lock). */
    pthread_t verifier;
    bool verifier_started, verify_now, vstop;
    pthread_cond_t vcond;
    int64_t verify_interval;
    json_t **pend;
    size_t npend, cpend;
    uint64_t reported[64]; /* blocks already alerted on (a break stays broken) */
    size_t nreported;
    uint64_t verifies;     /* writer: checks after a commit, and their total time */
    int64_t verify_ns;

    struct iovec *iov; /* write_alerts' lines (writer thread) */
    size_t ciov;

    /* The stage (loop thread only): what the sources submit during one loop iteration is
     * gathered here and moved into the queue under one lock, at the end of the iteration
     * (the check handle), before a refusal, a reject, a drain or a stats read. While the
     * stage is open, the bound is checked against the queue's counts when it opened (the
     * writer only lowers them meanwhile) plus the stage's; the stage also holds pool items
     * taken in one go, given back at the flush. */
    struct item *shead, **stailp;
    uint64_t s_events, s_bytes, s_submitted, s_peak;
    bool s_open;
    uint64_t q_events, q_bytes; /* the queue's counts when the stage opened */
    struct item *spool;         /* pool items lent to the stage */
    size_t nspool, s_last;      /* s_last: events of the previous stage */
    struct wk_event *pf_ev;     /* the next spool item's event, prefetched for its use */
    bool s_pool_dry;            /* the pool had no more to lend this stage */
    uv_check_t check;
    int open_handles;

    long test_delay_ms; /* $WK_TEST_SLOW_COMMIT_MS: a slow store, for tests only */
    uv_async_t async;
    void (*drain_done)(void *);
    void *drain_arg;
};

static const char *const levels[] = { "informational", "low", "medium", "high", "critical",
                                      NULL };

static int level_num(const char *s)
{
    for (int i = 0; s && levels[i]; i++) {
        if (strcmp(s, levels[i]) == 0)
            return i;
    }
    return 0;
}

/* What a queued copy of ev really costs in memory, so that queue_bytes bounds RSS: its
 * strings in the arena's 4 KiB chunks, its field array with the hashes and the index (the
 * capacity a power of two, at least 8), and the event and item structs with malloc's
 * overhead. Checked against mallinfo2 on the corpus' inputs: within 1% for auditd,
 * docker-events and jsonl events, 4.5% under for json-file lines (8.3, 6.0, 8.2, 6.0 KB). */
static size_t event_size(const struct wk_event *ev)
{
    size_t str = 0, nf = wk_event_nfields(ev);
    for (size_t i = 0; i < nf; i++) {
        const struct wk_key *k = wk_event_field_key(ev, i);
        const struct wk_value *v = wk_event_field_value(ev, i);
        str += k->len + 1;
        if (v->kind == WK_VAL_STR || v->kind == WK_VAL_JSON) {
            str += v->len + 1;
        } else if (v->kind == WK_VAL_STRLIST) {
            str += v->len * sizeof(struct wk_str);
            for (uint32_t j = 0; j < v->len; j++)
                str += v->u.items[j].len + 1;
        }
    }
    size_t cap = 8;
    while (cap < nf)
        cap *= 2;
    return 4096 * ((str + 4095) / 4096) +
           cap * (sizeof(struct wk_key) + 8 + sizeof(struct wk_value) + 4 + 8) + 768;
}

static struct slot *slot_of(struct wk_pipeline *p, struct wk_source *src)
{
    for (size_t i = 0; i < p->nslots; i++) {
        if (p->slots[i].src == src)
            return &p->slots[i];
    }
    return NULL;
}

/* The last cursor this run, for a source restarted by a reload before its events are
 * committed. Loop thread. */
static void remember_cursor(struct slot *sl, const void *cursor, size_t cursor_len)
{
    if (cursor_len > sl->last_cap) {
        unsigned char *nc = realloc(sl->last_cur, cursor_len);
        if (nc) {
            sl->last_cur = nc;
            sl->last_cap = cursor_len;
        }
    }
    if (cursor_len <= sl->last_cap) {
        if (cursor_len)
            memcpy(sl->last_cur, cursor, cursor_len);
        sl->last_len = cursor_len;
    }
}

/* Pool items lent to a stage: about what the previous stage used, so a steady source
 * finds an item for each event without taking the lock again. */
#define STAGE_POOL_MIN 8
#define STAGE_POOL_MAX 512

/* Loop thread, under lock: lend pool items to the stage until it holds want of them. */
static void stage_lend_locked(struct wk_pipeline *p, size_t want)
{
    while (p->pool && p->nspool < want) {
        struct item *it = p->pool;
        p->pool = it->next;
        p->npool--;
        p->pool_bytes -= it->bytes;
        p->stage_pool_bytes += it->bytes;
        it->next = p->spool;
        p->spool = it;
        p->nspool++;
        /* its event's struct, for wk_event_prefetch_fill one submit ahead of its use */
        __builtin_prefetch(it->ev, 1);
        __builtin_prefetch((char *)it->ev + 64, 1);
    }
    if (p->pool_bytes < p->pool_low)
        p->pool_low = p->pool_bytes;
}

/* Loop thread, under lock: open the stage (snapshot the queue's counts, borrow pool items). */
static void stage_open_locked(struct wk_pipeline *p)
{
    p->q_events = p->st.queued_events;
    p->q_bytes = p->st.queued_bytes;
    size_t want = p->s_last + STAGE_POOL_MIN;
    if (want > STAGE_POOL_MAX)
        want = STAGE_POOL_MAX;
    stage_lend_locked(p, want);
    p->s_pool_dry = false;
    p->s_open = true;
}

/* Loop thread: the stage used up the pool items lent to it; lend it more (as many again as
 * it has taken, within STAGE_POOL_MIN..STAGE_POOL_MAX) rather than allocate an item per
 * submit while the pool holds some: a turn that submits more than the previous one (a
 * catch-up read after a pause) allocated all the rest. Once the pool has none, no lock
 * again until the stage reopens. */
static void stage_refill(struct wk_pipeline *p)
{
    size_t want = p->s_events < STAGE_POOL_MIN ? STAGE_POOL_MIN : (size_t)p->s_events;
    if (want > STAGE_POOL_MAX)
        want = STAGE_POOL_MAX;
    pthread_mutex_lock(&p->lock);
    stage_lend_locked(p, want);
    pthread_mutex_unlock(&p->lock);
    p->s_pool_dry = !p->spool;
}

/* Loop thread, under lock: move the stage into the queue, give the pool items not used
 * back. @return whether to wake the writer (the queue was empty or reaches batch_events):
 * the caller signals p->cond after unlocking, so the writer does not wake only to block on
 * the lock the loop still holds. */
static bool stage_flush_locked(struct wk_pipeline *p)
{
    bool wake = false;
    if (p->shead) {
        bool was_empty = p->st.queued_events == 0;
        *p->tailp = p->shead;
        p->tailp = p->stailp;
        p->st.queued_events += p->s_events;
        p->st.queued_bytes += p->s_bytes;
        p->st.submitted += p->s_submitted;
        if (p->s_peak > p->st.peak_bytes)
            p->st.peak_bytes = p->s_peak;
        if (p->st.queued_bytes > p->st.peak_bytes)
            p->st.peak_bytes = p->st.queued_bytes;
        wake = was_empty || p->st.queued_events >= (uint64_t)p->lim.batch_events;
    }
    p->s_last = p->s_events;
    p->shead = NULL;
    p->stailp = &p->shead;
    p->s_events = p->s_bytes = p->s_submitted = p->s_peak = 0;
    while (p->spool) {
        struct item *it = p->spool;
        p->spool = it->next;
        it->next = p->pool;
        p->pool = it;
        p->npool++;
        p->pool_bytes += it->bytes;
    }
    p->nspool = 0;
    p->stage_pool_bytes = 0;
    p->s_open = false;
    return wake;
}

static void stage_flush(struct wk_pipeline *p)
{
    if (!p->s_open && !p->shead)
        return;
    pthread_mutex_lock(&p->lock);
    bool wake = stage_flush_locked(p);
    pthread_mutex_unlock(&p->lock);
    if (wake)
        pthread_cond_signal(&p->cond);
}

/* Loop thread: append an item to the stage. */
static void stage_add(struct wk_pipeline *p, struct item *it, bool submitted)
{
    it->next = NULL;
    *p->stailp = it;
    p->stailp = &it->next;
    p->s_events++;
    p->s_bytes += it->bytes;
    p->s_submitted += submitted;
    if (p->s_open && p->q_bytes + p->s_bytes > p->s_peak)
        p->s_peak = p->q_bytes + p->s_bytes; /* an upper bound of the queue + stage */
}

/* End of a loop iteration: what the sources submitted goes to the writer in one go. */
static void on_check(uv_check_t *c)
{
    stage_flush(wk_container_of(c, struct wk_pipeline, check));
}

/* A cursor without an event: queued in order with the events, committed as the source's
 * cursor of the batch when nothing of that source follows it there. Not refused when the
 * queue is full (it is small, and a source calls it once per file it finishes). */
static int pl_cursor(struct wk_source_sink *sink, struct wk_source *src, const void *cursor,
                     size_t cursor_len)
{
    struct wk_pipeline *p = wk_container_of(sink, struct wk_pipeline, sink);
    struct slot *sl = slot_of(p, src);
    if (!sl || !cursor_len)
        return -EINVAL;
    struct item *it = malloc(sizeof(*it) + cursor_len);
    if (!it)
        return -ENOMEM;
    memset(it, 0, sizeof(*it));
    it->curonly = true;
    it->slot = (uint32_t)(sl - p->slots);
    it->bytes = (uint32_t)(sizeof(*it) + cursor_len);
    it->curlen = it->curcap = (uint32_t)cursor_len;
    it->enq_ns = wk_time_mono_ns();
    memcpy(it->cur, cursor, cursor_len);
    remember_cursor(sl, cursor, cursor_len);
    if (p->stop) { /* set on this thread only (drain, free) */
        free(it);
        return 0; /* draining: the last submitted cursor stands (replays, loses nothing) */
    }
    stage_add(p, it, false); /* in order with the events staged before it */
    return 0;
}

/* Queue ev: a copy (submit) or its contents, ev left empty (submit_take, take=true). */
static int submit_one(struct wk_pipeline *p, struct wk_source *src, struct wk_event *ev,
                      bool take, const void *cursor, size_t cursor_len)
{
    struct slot *sl = slot_of(p, src);
    if (!sl)
        return -EINVAL;
    /* What the queued event pins: a taken one exactly (storage kept for reuse included),
     * a copy as estimated from its contents (its real size is known after the copy). */
    size_t bytes = (take ? wk_event_mem(ev) : event_size(ev)) + sizeof(struct item) +
                   (cursor_len > POOL_CUR ? cursor_len : POOL_CUR);
    if (!p->s_open) {
        pthread_mutex_lock(&p->lock);
        stage_open_locked(p);
        pthread_mutex_unlock(&p->lock);
    }
    /* The bound, against the queue as it was when the stage opened (an upper bound of
     * what it holds now) plus the stage; when that says full, publish the stage and
     * decide on the queue's real counts. */
    uint64_t qe = p->q_events + p->s_events, qb = p->q_bytes + p->s_bytes;
    bool full = qe >= (uint64_t)p->lim.queue_events ||
                (qe > 0 && qb + bytes > p->lim.queue_bytes);
    if (full || p->stop) {
        pthread_mutex_lock(&p->lock);
        bool wake = stage_flush_locked(p);
        full = p->st.queued_events >= (uint64_t)p->lim.queue_events ||
               (p->st.queued_events > 0 && p->st.queued_bytes + bytes > p->lim.queue_bytes);
        if (full || p->stop) {
            sl->paused = true;
            p->any_paused = true;
            p->st.refused++;
            p->flush_now = true; /* don't let a full queue wait for batch_age */
            pthread_mutex_unlock(&p->lock);
            pthread_cond_signal(&p->cond);
            /* A paused source waits for the resume: that keeps the loop alive. */
            uv_ref((uv_handle_t *)&p->async);
            return -EAGAIN;
        }
        stage_open_locked(p);
        pthread_mutex_unlock(&p->lock);
        if (wake)
            pthread_cond_signal(&p->cond);
    }
    if (!p->spool && !p->s_pool_dry)
        stage_refill(p);
    struct item *it = p->spool;
    if (it) {
        p->spool = it->next;
        p->nspool--;
    }
    struct wk_event *pf = p->pf_ev; /* the event prefetched for this submit, if any */
    p->pf_ev = NULL;

    if (!it || it->curcap < cursor_len) {
        size_t cap = cursor_len > POOL_CUR ? cursor_len : POOL_CUR;
        struct item *ni = realloc(it, sizeof(*it) + cap);
        if (!ni) {
            if (it)
                wk_event_free(it->ev);
            free(it);
            return -ENOMEM;
        }
        if (!it)
            ni->ev = NULL;
        it = ni;
        it->curcap = (uint32_t)cap;
    }
    it->next = NULL;
    it->kept = false;
    it->curonly = false;
    it->slot = (uint32_t)(sl - p->slots);
    it->curlen = (uint32_t)cursor_len;
    if (cursor_len)
        memcpy(it->cur, cursor, cursor_len);
    it->enq_ns = wk_time_mono_ns();
    if (!it->ev && wk_event_new(&it->ev) < 0) {
        free(it);
        return -ENOMEM;
    }
    if (take) {
        /* The pooled event (committed, its contents no longer needed) becomes the
         * source's empty one; the source's becomes the queued one. */
        if (pf != it->ev)
            wk_event_prefetch_fill(it->ev);
        wk_event_reset(it->ev);
        wk_event_swap(it->ev, ev);
        /* A pooled event comes back cold (the writer's core read it last): the misses of
         * its reset and refill overlap one submit ahead, while the source parses, instead
         * of stalling the reset and then the adds one by one. */
        if (p->spool && p->spool->ev) {
            p->pf_ev = p->spool->ev;
            wk_event_prefetch_fill(p->pf_ev);
        }
    } else {
        if (wk_event_copy(it->ev, ev) < 0) {
            wk_event_free(it->ev);
            free(it);
            return -ENOMEM;
        }
        size_t real = wk_event_mem(it->ev) + sizeof(*it) + it->curcap;
        if (real > bytes)
            bytes = real; /* a recycled event may pin more than this one needs */
    }
    it->bytes = (uint32_t)(bytes < UINT32_MAX ? bytes : UINT32_MAX);
    /* Input without a time of its own is stamped with its arrival. */
    if (wk_event_ts(it->ev) == 0)
        wk_event_set_ts(it->ev, wk_time_now_ns());
    remember_cursor(sl, cursor, cursor_len);
    stage_add(p, it, true);
    if (p->q_events + p->s_events == (uint64_t)p->lim.batch_events)
        stage_flush(p); /* a full batch: the writer need not wait for the iteration's end */
    return 0;
}

static int pl_submit(struct wk_source_sink *sink, struct wk_source *src,
                     const struct wk_event *ev, const void *cursor, size_t cursor_len)
{
    struct wk_pipeline *p = wk_container_of(sink, struct wk_pipeline, sink);
    return submit_one(p, src, (struct wk_event *)ev, false, cursor, cursor_len);
}

static int pl_submit_take(struct wk_source_sink *sink, struct wk_source *src,
                          struct wk_event *ev, const void *cursor, size_t cursor_len)
{
    struct wk_pipeline *p = wk_container_of(sink, struct wk_pipeline, sink);
    return submit_one(p, src, ev, true, cursor, cursor_len);
}

static int pl_reject(struct wk_source_sink *sink, struct wk_source *src, const char *reason,
                     const char *raw, size_t len)
{
    struct wk_pipeline *p = wk_container_of(sink, struct wk_pipeline, sink);
    static struct wk_ratelimit rl = WK_RATELIMIT_INIT(60, 5);
    struct slot *sl = slot_of(p, src);
    if (wk_ratelimit_ok(&rl))
        wk_log_warn("source %s: input rejected: %s: %.*s", sl ? sl->instance : "?", reason,
                    (int)(len > 120 ? 120 : len), raw);
    /* Kept with the next commit (quarantine), counted against the same bounds. */
    size_t rlen = strlen(reason ? reason : "") + 1;
    size_t bytes = sizeof(struct item) + rlen + len;
    pthread_mutex_lock(&p->lock);
    bool wake = stage_flush_locked(p); /* in order with the events submitted before it */
    p->st.rejected++;
    bool full = !sl || p->stop || p->st.queued_bytes + bytes > p->lim.queue_bytes ||
                p->st.queued_events >= (uint64_t)p->lim.queue_events;
    pthread_mutex_unlock(&p->lock);
    if (wake)
        pthread_cond_signal(&p->cond);
    if (full)
        return 0; /* counted and logged; not kept */
    struct item *it = malloc(sizeof(*it) + rlen + len);
    if (!it)
        return 0;
    it->next = NULL;
    it->ev = NULL;
    it->kept = false;
    it->curonly = false;
    it->slot = (uint32_t)(sl - p->slots);
    it->bytes = (uint32_t)bytes;
    it->curlen = (uint32_t)(rlen + len);
    it->curcap = it->curlen;
    it->enq_ns = wk_time_mono_ns();
    memcpy(it->cur, reason ? reason : "", rlen);
    memcpy(it->cur + rlen, raw, len);
    pthread_mutex_lock(&p->lock);
    *p->tailp = it;
    p->tailp = &it->next;
    p->st.queued_events++;
    p->st.queued_bytes += bytes;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

/* ---- rules and outputs (swapped whole, referenced per batch) ---- */

static void rules_unref(struct wk_pipeline *p, struct rules_ref *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&p->lock);
    bool last = --r->refs == 0;
    pthread_mutex_unlock(&p->lock);
    if (!last)
        return;
    if (r->hook.free)
        r->hook.free(r->hook.ctx);
    wk_options_fini(wk_config_rules_options, &r->allow);
    free(r);
}

static void outputs_unref(struct wk_pipeline *p, struct outputs *o)
{
    if (!o)
        return;
    pthread_mutex_lock(&p->lock);
    bool last = --o->refs == 0;
    pthread_mutex_unlock(&p->lock);
    if (!last)
        return;
    for (size_t i = 0; i < o->n; i++) {
        if (o->o[i].own)
            fclose(o->o[i].f);
        else
            fflush(o->o[i].f);
    }
    free(o);
}

static int strv_copy(struct wk_strv *dst, const struct wk_strv *src)
{
    for (size_t i = 0; i < src->n; i++) {
        if (wk_strv_push(dst, src->v[i]) < 0)
            return -ENOMEM;
    }
    return 0;
}

void wk__pipeline_set_rules(struct wk_pipeline *p, struct wk_rules_hook *rules,
                            const struct wk_config_rules *allow)
{
    struct rules_ref *r = wk_new0(struct rules_ref, 1);
    if (!r) {
        if (rules && rules->free)
            rules->free(rules->ctx);
        return;
    }
    if (rules)
        r->hook = *rules;
    r->refs = 1;
    if (allow && (strv_copy(&r->allow.allow_containers, &allow->allow_containers) < 0 ||
                  strv_copy(&r->allow.allow_images, &allow->allow_images) < 0))
        wk_log_error("pipeline: out of memory copying allow-lists");
    pthread_mutex_lock(&p->lock);
    struct rules_ref *old = p->rules;
    p->rules = r;
    p->st.nrules = r->hook.nrules;
    pthread_mutex_unlock(&p->lock);
    rules_unref(p, old);
}

/* The state of output c's name: found, or added with what the backend last stored as
 * delivered. Loop thread (the only one adding). */
static struct out_state *out_state_of(struct wk_pipeline *p, const struct wk_config_output *c)
{
    for (size_t i = 0; i < p->nostate; i++) {
        struct out_state *s = &p->ostate[i];
        if (strcmp(s->pub.name, c->name) == 0) {
            pthread_mutex_lock(&p->lock);
            snprintf(s->pub.type, sizeof(s->pub.type), "%s", c->type);
            snprintf(s->pub.path, sizeof(s->pub.path), "%s", c->path ? c->path : "");
            pthread_mutex_unlock(&p->lock);
            return s;
        }
    }
    if (p->nostate == MAX_OUTPUTS)
        return NULL;
    uint64_t delivered = 0;
    if (p->backend->delivery_get && p->backend->delivery_get(p->bctx, c->name, &delivered) < 0)
        delivered = 0;
    struct out_state *s = &p->ostate[p->nostate];
    pthread_mutex_lock(&p->lock);
    memset(s, 0, sizeof(*s));
    snprintf(s->pub.name, sizeof(s->pub.name), "%s", c->name);
    snprintf(s->pub.type, sizeof(s->pub.type), "%s", c->type);
    snprintf(s->pub.path, sizeof(s->pub.path), "%s", c->path ? c->path : "");
    s->pub.delivered = s->saved = delivered;
    p->nostate++;
    pthread_mutex_unlock(&p->lock);
    return s;
}

int wk__pipeline_set_outputs(struct wk_pipeline *p, const struct wk_config_output *outs,
                             size_t n, char *err, size_t errlen)
{
    struct outputs *o = calloc(1, sizeof(*o) + n * sizeof(o->o[0]));
    if (!o)
        return -ENOMEM;
    o->refs = 1;
    if (n > MAX_OUTPUTS) {
        snprintf(err, errlen, "outputs: at most %d", MAX_OUTPUTS);
        free(o);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        o->o[i].min_level = level_num(outs[i].min_level);
        o->o[i].st = out_state_of(p, &outs[i]);
        if (!o->o[i].st) {
            snprintf(err, errlen, "outputs: more than %d names in this run", MAX_OUTPUTS);
            outputs_unref(p, o);
            return -ENOSPC;
        }
        if (strcmp(outs[i].type, "file") == 0) {
            o->o[i].f = fopen(outs[i].path, "ae");
            if (!o->o[i].f) {
                int rc = -errno;
                snprintf(err, errlen, "output %s: %s: %s", outs[i].name, outs[i].path,
                         strerror(errno));
                outputs_unref(p, o);
                return rc;
            }
            o->o[i].own = true;
        } else {
            o->o[i].f = stdout;
        }
        o->n = i + 1;
    }
    pthread_mutex_lock(&p->lock);
    struct outputs *old = p->outs;
    p->outs = o;
    for (size_t i = 0; i < p->nostate; i++)
        p->ostate[i].pub.active = false;
    for (size_t i = 0; i < o->n; i++)
        o->o[i].st->pub.active = true;
    pthread_mutex_unlock(&p->lock);
    outputs_unref(p, old);
    return 0;
}

size_t wk__pipeline_outputs(struct wk_pipeline *p, struct wk_pipeline_output *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->nostate && n < max; i++) {
        if (p->ostate[i].pub.active)
            out[n++] = p->ostate[i].pub;
    }
    pthread_mutex_unlock(&p->lock);
    return n;
}

void wk__pipeline_set_limits(struct wk_pipeline *p, const struct wk_config_pipeline *limits)
{
    pthread_mutex_lock(&p->lock);
    p->lim = *limits;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

/* ---- the writer thread ---- */

/* One alert of a batch, as the JSON text that is stored and written to the outputs. */
struct pal {
    char *text; /* compact JSON with its evidence event (malloc'd) */
    size_t len;
    size_t idx; /* the event's index in the batch, or WK_BATCH_NO_EVENT */
    int level;  /* index in levels[] */
};

struct evalctx {
    struct pal *a;
    size_t n, cap, cur;
    const struct wk_event *ev; /* the event being evaluated */
    bool oom;
};

static int push_alert(struct evalctx *e, char *text, size_t len, int level)
{
    if (e->n == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 16;
        struct pal *na = realloc(e->a, nc * sizeof(*na));
        if (!na) {
            free(text);
            e->oom = true;
            return -ENOMEM;
        }
        e->a = na;
        e->cap = nc;
    }
    e->a[e->n++] = (struct pal){ text, len, e->cur, level };
    return 0;
}

static int collect_text(void *arg, char *json, size_t len, int level)
{
    return push_alert(arg, json, len, level);
}

/* An alert as a jansson object (hooks without eval_text, the integrity alerts): it gets
 * its evidence event unless it has one, then it is serialised once. */
static int collect_alert(void *arg, json_t *alert)
{
    struct evalctx *e = arg;
    const char *ls = json_string_value(json_object_get(alert, "level"));
    if (!ls)
        ls = json_string_value(json_object_get(json_object_get(alert, "rule"), "level"));
    int lvl = level_num(ls);
    if (e->ev && !json_object_get(alert, "event")) {
        json_t *evj = wk_event_to_jansson(e->ev);
        if (!evj) {
            json_decref(alert);
            e->oom = true;
            return -ENOMEM;
        }
        json_object_set_new(alert, "event", evj);
    }
    char *text = json_dumps(alert, JSON_COMPACT);
    json_decref(alert);
    if (!text) {
        e->oom = true;
        return -ENOMEM;
    }
    return push_alert(e, text, strlen(text), lvl);
}

static void evalctx_fini(struct evalctx *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->a[i].text);
    free(e->a);
    e->a = NULL;
    e->n = e->cap = 0;
}

static bool strv_has(const struct wk_strv *sv, const char *s, size_t len)
{
    for (size_t i = 0; s && i < sv->n; i++) {
        if (strlen(sv->v[i]) == len && memcmp(sv->v[i], s, len) == 0)
            return true;
    }
    return false;
}

static bool allowed(const struct rules_ref *r, const struct wk_event *ev)
{
    size_t len = 0;
    const char *name = wk_event_get_str(ev, &WK_KEY_CONTAINER_NAME, &len);
    if (name && strv_has(&r->allow.allow_containers, name, len))
        return true;
    const char *img = wk_event_get_str(ev, &WK_KEY_CONTAINER_IMAGE, &len);
    return img && strv_has(&r->allow.allow_images, img, len);
}

/* Write the alerts to each output; an output has delivered every alert (of any level) of a
 * batch once all of its lines were written and flushed (a failed write may lose what was
 * buffered before it, so a failing batch delivers nothing). ids: stored ids (NULL: none). */
/* Write all of iov[n] to fd, on after short writes. @return 0 or an errno. */
static int writev_all(int fd, struct iovec *iov, size_t n)
{
    while (n) {
        ssize_t w = writev(fd, iov, n > IOV_MAX ? IOV_MAX : (int)n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno ? errno : EIO;
        size_t left = (size_t)w;
        while (n && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            n--;
        }
        if (n && left) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        } else if (n && w == 0) {
            return EIO;
        }
    }
    return 0;
}

/* An output file of ours (nothing else writes to its FILE, which is flushed after every
 * batch, so its buffer is empty): a batch's lines in one writev() per IOV_MAX / 2 lines.
 * Through stdio (4 KiB buffer) an alert line (~6.7 KB with its event) took a write() or
 * two, ~420 syscalls/s at 10k audit events/s (strace -f, bench/daemon_e2e.sh steady
 * rate), and a larger stdio buffer would copy every line once more. @return as
 * writev_all, -1 when the lines could not be gathered (out of memory: use stdio). */
static int write_batch_fd(struct wk_pipeline *p, struct out_one *out, const struct evalctx *e,
                          const uint64_t *ids, uint64_t *upto, uint64_t *written)
{
    if (fflush(out->f) == EOF) /* nothing buffered, unless a batch through stdio failed */
        return errno ? errno : EIO;
    if (2 * e->n > p->ciov) {
        struct iovec *v = realloc(p->iov, 2 * e->n * sizeof(*v));
        if (!v)
            return -1;
        p->iov = v;
        p->ciov = 2 * e->n;
    }
    size_t n = 0;
    for (size_t i = 0; i < e->n; i++) {
        const struct pal *a = &e->a[i];
        if (a->level >= out->min_level) {
            p->iov[n++] = (struct iovec){ a->text, a->len };
            p->iov[n++] = (struct iovec){ (void *)"\n", 1 };
            (*written)++;
        }
        if (ids && ids[i])
            *upto = ids[i];
    }
    return writev_all(fileno(out->f), p->iov, n);
}

static void write_alerts(struct wk_pipeline *p, struct outputs *o, const struct evalctx *e,
                         const uint64_t *ids)
{
    static struct wk_ratelimit rl = WK_RATELIMIT_INIT(60, 3);
    for (size_t j = 0; o && j < o->n; j++) {
        struct out_one *out = &o->o[j];
        uint64_t upto = 0, written = 0;
        int err = out->own ? write_batch_fd(p, out, e, ids, &upto, &written) : -1;
        if (err < 0) { /* stdout, or the lines not gathered: through stdio */
            err = 0;
            upto = written = 0;
            for (size_t i = 0; i < e->n && !err; i++) {
                const struct pal *a = &e->a[i];
                if (a->level >= out->min_level) {
                    if (fwrite(a->text, 1, a->len, out->f) != a->len ||
                        putc('\n', out->f) == EOF)
                        err = errno ? errno : EIO;
                    else
                        written++;
                }
                if (!err && ids && ids[i])
                    upto = ids[i];
            }
        }
        if (fflush(out->f) == EOF && !err)
            err = errno ? errno : EIO;
        if (err)
            upto = 0; /* buffered lines of the batch may be lost with the failed write */
        if (err && wk_ratelimit_ok(&rl))
            wk_log_error("output %s: write failed: %s", out->st->pub.name, strerror(err));
        pthread_mutex_lock(&p->lock);
        struct wk_pipeline_output *st = &out->st->pub;
        if (upto > st->delivered)
            st->delivered = upto;
        st->written += err ? 0 : written; /* a failed batch: nothing surely written */
        if (err) {
            st->errors++;
            snprintf(st->last_error, sizeof(st->last_error), "write: %s", strerror(err));
        }
        st->failing = err != 0;
        pthread_mutex_unlock(&p->lock);
    }
}

/* Writer: store each output's delivered id when it moved, at most once a second each (its
 * own transaction), and always with force (the end of a drain). */
static void deliveries_save(struct wk_pipeline *p, bool force)
{
    static struct wk_ratelimit rl = WK_RATELIMIT_INIT(60, 3);
    if (!p->backend->delivery_set)
        return;
    int64_t now = wk_time_mono_ns();
    for (size_t i = 0; i < MAX_OUTPUTS; i++) {
        pthread_mutex_lock(&p->lock);
        if (i >= p->nostate) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        struct out_state *s = &p->ostate[i];
        uint64_t d = s->pub.delivered;
        char name[sizeof(s->pub.name)];
        memcpy(name, s->pub.name, sizeof(name));
        bool due = d != s->saved && (force || now - s->saved_at >= WK_NS_PER_SEC);
        pthread_mutex_unlock(&p->lock);
        if (!due)
            continue;
        int rc = p->backend->delivery_set(p->bctx, name, d);
        if (rc < 0) {
            if (wk_ratelimit_ok(&rl))
                wk_log_error("output %s: delivered alert id not stored: %s", name,
                             wk_strerror(rc));
            continue;
        }
        s->saved = d; /* writer thread only */
        s->saved_at = now;
    }
}

static void count_alerts(struct wk_pipeline *p, size_t n)
{
    /* under lock */
    int64_t minute = wk_time_mono_ns() / (60 * WK_NS_PER_SEC);
    size_t b = (size_t)(minute % 60);
    if (p->alert_min_at[b] != minute) {
        p->alert_min_at[b] = minute;
        p->alert_min[b] = 0;
    }
    p->alert_min[b] += n;
    p->st.alerts += n;
}

/* A broken hash chain: an alert of the built-in rule, once per bad block, committed and
 * written to the outputs by the writer like any other. Any thread. */
static void integrity_alert(struct wk_pipeline *p, uint64_t block, const char *reason)
{
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->nreported; i++) {
        if (p->reported[i] == block) {
            pthread_mutex_unlock(&p->lock);
            return;
        }
    }
    if (p->nreported < WK_ARRAY_SIZE(p->reported))
        p->reported[p->nreported++] = block;
    pthread_mutex_unlock(&p->lock);
    wk_log_error("store: integrity check failed: %s", reason);
    char ts[40];
    wk_time_format(wk_time_now_ns(), ts);
    json_t *a = json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:[], s:[]}, s:{s:I, s:s}}",
                          "@timestamp", ts, "rule", "id", WK_INTEGRITY_RULE_ID, "title",
                          "Store Integrity Chain Broken", "level", "critical", "status",
                          "stable", "tags", "attack", "store", "block", (json_int_t)block,
                          "reason", reason);
    pthread_mutex_lock(&p->lock);
    if (a && p->npend == p->cpend) {
        size_t nc = p->cpend ? p->cpend * 2 : 4;
        json_t **np = realloc(p->pend, nc * sizeof(*np));
        if (np) {
            p->pend = np;
            p->cpend = nc;
        }
    }
    if (a && p->npend < p->cpend) {
        p->pend[p->npend++] = a;
        a = NULL;
    }
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    json_decref(a);
}

/* Writer: check the blocks committed since the last check against their predecessor. */
static void verify_new(struct wk_pipeline *p)
{
    static struct wk_ratelimit rl = WK_RATELIMIT_INIT(60, 3);
    if (!p->backend->verify)
        return;
    uint64_t block = 0;
    char reason[160] = "";
    int64_t t0 = wk_time_mono_ns();
    int rc = p->backend->verify(p->bctx, false, &block, reason, sizeof(reason));
    p->verify_ns += wk_time_mono_ns() - t0;
    p->verifies++;
    if (rc == WK_ECHAIN)
        integrity_alert(p, block, reason);
    else if (rc == WK_EREBUILD && wk_ratelimit_ok(&rl))
        wk_log_warn("store: cannot check (not tampering): %s", reason);
    else if (rc < 0 && rc != WK_EREBUILD && wk_ratelimit_ok(&rl))
        wk_log_error("store: integrity check failed to run: %s", wk_strerror(rc));
}

/* Writer: commit the queued integrity alerts (no evidence event), then output them. On a
 * commit error they stay queued for the next try. */
static void commit_pending(struct wk_pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = p->npend;
    json_t **al = p->pend;
    struct outputs *outs = p->outs;
    if (!n) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    p->pend = NULL;
    p->npend = p->cpend = 0;
    if (outs)
        outs->refs++;
    pthread_mutex_unlock(&p->lock);
    /* Serialised once (a copy: on a commit error the objects stay queued). */
    struct evalctx e = { .cur = WK_BATCH_NO_EVENT };
    for (size_t i = 0; i < n; i++)
        (void)collect_alert(&e, json_incref(al[i]));
    struct wk_batch_alert *bal = calloc(n, sizeof(*bal));
    uint64_t *ids = calloc(n, sizeof(*ids));
    for (size_t i = 0; bal && i < e.n; i++) {
        bal[i].event_index = WK_BATCH_NO_EVENT;
        bal[i].text = e.a[i].text;
        bal[i].len = e.a[i].len;
    }
    struct wk_batch b = { .alerts = bal, .nalerts = e.n, .alert_ids = ids };
    int rc = bal && ids && !e.oom ? p->backend->commit(p->bctx, &b) : -ENOMEM;
    if (rc == 0) {
        write_alerts(p, outs, &e, ids);
        for (size_t i = 0; i < n; i++)
            json_decref(al[i]);
        free(al);
        pthread_mutex_lock(&p->lock);
        count_alerts(p, n);
        pthread_mutex_unlock(&p->lock);
    } else {
        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < p->npend; i++) /* raised meanwhile: after ours */
            json_decref(p->pend[i]);
        free(p->pend);
        p->pend = al;
        p->npend = p->cpend = n;
        pthread_mutex_unlock(&p->lock);
    }
    evalctx_fini(&e);
    free(bal);
    free(ids);
    outputs_unref(p, outs);
}

static void *verifier_main(void *arg)
{
    struct wk_pipeline *p = arg;
    int64_t last = wk_time_mono_ns();
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->vstop && !p->verify_now) {
            if (p->verify_interval <= 0) {
                pthread_cond_wait(&p->vcond, &p->lock);
                continue;
            }
            int64_t due = last + p->verify_interval;
            if (wk_time_mono_ns() >= due)
                break;
            struct timespec ts = { due / WK_NS_PER_SEC, due % WK_NS_PER_SEC };
            pthread_cond_timedwait(&p->vcond, &p->lock, &ts);
        }
        if (p->vstop)
            break;
        p->verify_now = false;
        pthread_mutex_unlock(&p->lock);
        uint64_t block = 0;
        char reason[160] = "";
        int64_t t0 = wk_time_mono_ns();
        int rc = p->backend->verify(p->bctx, true, &block, reason, sizeof(reason));
        last = wk_time_mono_ns();
        if (rc == WK_ECHAIN)
            integrity_alert(p, block, reason);
        else if (rc == WK_EREBUILD) /* the chain holds; some records cannot be checked */
            wk_log_warn("store: hash chain verified in %lld ms; cannot check (not "
                        "tampering): %s", (long long)((last - t0) / 1000000), reason);
        else if (rc < 0)
            wk_log_error("store: integrity check failed to run: %s", wk_strerror(rc));
        else
            wk_log_info("store: hash chain verified in %lld ms",
                        (long long)((last - t0) / 1000000));
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Stage the live rules' state (correlation windows) with the backend, so it commits with
 * the events it counted and a restart resumes from it. A save costs in proportion to the
 * windows: after one, the next waits 50x its cost (at most ~2% of the writer's time);
 * what is skipped is saved when idle, and always before the final commit. */
static void state_save(struct wk_pipeline *p, struct rules_ref *r, bool force)
{
    static struct wk_ratelimit rl = WK_RATELIMIT_INIT(60, 3);
    if (!p->state_dirty || !r || !r->hook.save || !p->backend->state_set)
        return;
    int64_t t0 = wk_time_mono_ns();
    if (!force && t0 < p->state_next_ns)
        return;
    char *text = NULL;
    size_t len = 0;
    int rc = r->hook.save(r->hook.ctx, &text, &len);
    int64_t t1 = wk_time_mono_ns();
    p->state_next_ns = t1 + 50 * (t1 - t0);
    p->state_saves++;
    p->state_save_ns += t1 - t0;
    if (rc == 0 && p->state_last && len == p->state_len &&
        memcmp(text, p->state_last, len) == 0) {
        free(text);
        p->state_dirty = false;
        return;
    }
    if (rc == 0)
        rc = p->backend->state_set(p->bctx, "rules", text, len);
    if (rc < 0) {
        free(text);
        if (wk_ratelimit_ok(&rl))
            wk_log_error("rules: correlation state not saved: %s", wk_strerror(rc));
        return;
    }
    free(p->state_last);
    p->state_last = text;
    p->state_len = len;
    p->state_dirty = false;
}

/* Before the first eval of this run: the correlation state committed by the last run. */
static void state_restore(struct wk_pipeline *p, struct rules_ref *r)
{
    if (!r->hook.restore || !p->backend->state_get)
        return;
    void *data = NULL;
    size_t len = 0;
    int rc = p->backend->state_get(p->bctx, "rules", &data, &len);
    if (rc == 0 && data)
        rc = r->hook.restore(r->hook.ctx, data, len);
    if (rc < 0)
        wk_log_warn("rules: correlation state not restored (starting empty): %s",
                    wk_strerror(rc));
    else if (data)
        wk_log_info("rules: correlation state restored (%zu bytes)", len);
    free(data);
}

/* Writer, under lock: every POOL_TRIM_NS, take out of the pool what it held unused all
 * that time beyond queue_bytes / 8; the caller frees the returned list outside the lock. */
static struct item *pool_trim(struct wk_pipeline *p, int64_t now)
{
    if (now - p->pool_trim_at < POOL_TRIM_NS)
        return NULL;
    p->pool_trim_at = now;
    uint64_t base = p->lim.queue_bytes / 8;
    uint64_t excess = p->pool_low > base ? p->pool_low - base : 0;
    struct item *spare = NULL;
    while (excess && p->pool) {
        struct item *it = p->pool;
        p->pool = it->next;
        p->npool--;
        p->pool_bytes -= it->bytes;
        excess -= it->bytes < excess ? it->bytes : excess;
        it->next = spare;
        spare = it;
    }
    p->pool_low = p->pool_bytes;
    return spare;
}

static void items_free(struct item *it)
{
    for (struct item *nx; it; it = nx) {
        nx = it->next;
        wk_event_free(it->ev);
        free(it);
    }
}

static void *writer_main(void *arg)
{
    struct wk_pipeline *p = arg;
    static struct wk_ratelimit rl = WK_RATELIMIT_INIT(60, 3);
    struct wk_event **evs = NULL;
    struct wk_batch_cursor *evcur = NULL;
    size_t evcap = 0;
    struct item **its = NULL; /* the batch's items, in order (for the pool) */
    size_t itcap = 0;
    struct wk_batch_cursor *curs = wk_new0(struct wk_batch_cursor, MAX_SLOTS);
    struct wk_batch_alert *bal = NULL;
    uint64_t *aids = NULL;
    size_t balcap = 0;
    struct rules_ref *prev_rules = NULL; /* the set of the previous batch (one ref) */
    bool restored = false;
    int backoff_ms = 10;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->stop) {
            /* Idle: let the backend commit what it holds (block age, commit interval). */
            if (p->backend->tick) {
                pthread_mutex_unlock(&p->lock);
                state_save(p, prev_rules, false);
                int trc = p->backend->tick(p->bctx, false);
                if (trc < 0 && wk_ratelimit_ok(&rl))
                    wk_log_error("store: commit failed: %s (retrying)", wk_strerror(trc));
                verify_new(p);
                commit_pending(p);
                deliveries_save(p, false);
                pthread_mutex_lock(&p->lock);
                struct item *spare = pool_trim(p, wk_time_mono_ns());
                if (spare) {
                    pthread_mutex_unlock(&p->lock);
                    items_free(spare);
                    pthread_mutex_lock(&p->lock);
                }
                if (p->head || p->stop)
                    break;
            }
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += 100000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&p->cond, &p->lock, &ts);
        }
        if ((!p->head && p->stop) || p->abandon)
            break;
        /* Wait for a full batch, its age, a flush or the stop. */
        while (p->head && !p->stop && !p->flush_now &&
               p->st.queued_events < (uint64_t)p->lim.batch_events) {
            int64_t due = p->head->enq_ns + p->lim.batch_age;
            int64_t now = wk_time_mono_ns();
            if (now >= due)
                break;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t abs_ns = (int64_t)ts.tv_sec * WK_NS_PER_SEC + ts.tv_nsec + (due - now);
            ts.tv_sec = abs_ns / WK_NS_PER_SEC;
            ts.tv_nsec = abs_ns % WK_NS_PER_SEC;
            pthread_cond_timedwait(&p->cond, &p->lock, &ts);
        }
        p->flush_now = false;
        /* Detach up to batch_events; they stay counted until committed. Here the count
         * is the queue's length (the last batch's items were subtracted at its commit), so
         * a queue of at most batch_events goes whole, its last item from tailp: walking its
         * items (the loop thread's core wrote them: one miss after another) took 2% of the
         * writer's time, under the lock the loop thread needs to submit. */
        size_t n = 0, max = (size_t)p->lim.batch_events;
        struct item *batch = p->head, *last = NULL;
        if (p->head && p->st.queued_events <= max) {
            last = (struct item *)(void *)((char *)p->tailp - offsetof(struct item, next));
            n = (size_t)p->st.queued_events;
        } else {
            for (struct item *it = p->head; it && n < max; it = it->next) {
                last = it;
                n++;
            }
        }
        if (!last)
            continue; /* cannot happen: only this thread takes items */
        p->head = last->next;
        if (!p->head)
            p->tailp = &p->head;
        last->next = NULL;
        struct rules_ref *rules = p->rules;
        if (rules)
            rules->refs++;
        struct outputs *outs = p->outs;
        if (outs)
            outs->refs++;
        pthread_mutex_unlock(&p->lock);

        /* A new rule set (reload): carry the old one's state over before its first eval.
         * Both are only evaluated here, so this needs no lock. */
        if (rules != prev_rules) {
            if (rules && !restored)
                state_restore(p, rules);
            restored = restored || rules;
            if (rules && prev_rules && rules->hook.carry && prev_rules->hook.ctx)
                rules->hook.carry(rules->hook.ctx, prev_rules->hook.ctx);
            rules_unref(p, prev_rules);
            prev_rules = rules;
            if (rules) {
                pthread_mutex_lock(&p->lock);
                rules->refs++;
                pthread_mutex_unlock(&p->lock);
            }
        }

        if (n > itcap) {
            struct item **ni = realloc(its, n * sizeof(*ni));
            if (ni) {
                its = ni;
                itcap = n;
            }
        }
        if (n > evcap) {
            struct wk_event **ne = realloc(evs, n * sizeof(*ne));
            struct wk_batch_cursor *nc = ne ? realloc(evcur, n * sizeof(*nc)) : NULL;
            if (ne)
                evs = ne;
            if (nc) {
                evcur = nc;
                evcap = n;
            }
        }
        /* The cursor of each source is the one after its last event in the batch. */
        struct item *lastof[MAX_SLOTS] = { 0 };
        uint64_t bytes = 0;
        size_t i = 0;
        size_t nq = 0, npoolable = 0;
        for (struct item *it = batch; it; it = it->next) {
            bytes += it->bytes;
            if (npoolable < itcap && it->ev && it->curcap >= POOL_CUR)
                its[npoolable++] = it;
            if (it->curonly) {
                lastof[it->slot] = it;
                continue;
            }
            if (!it->ev) {
                nq++;
                continue;
            }
            if (i < evcap) {
                evs[i] = it->ev;
                evcur[i].instance = p->slots[it->slot].instance;
                evcur[i].data = it->cur;
                evcur[i].len = it->curlen;
            }
            i++;
            lastof[it->slot] = it;
        }
        size_t nitems = n;
        n = i; /* events; the nq quarantined inputs go to the backend first */
        for (struct item *it = batch; nq && it && p->backend->quarantine; it = it->next) {
            if (it->ev || it->kept || it->curonly)
                continue;
            it->kept = true;
            size_t rl0 = strlen((const char *)it->cur) + 1;
            (void)p->backend->quarantine(p->bctx, p->slots[it->slot].instance,
                                         (const char *)it->cur, it->cur + rl0,
                                         it->curlen - rl0);
        }
        size_t ncur = 0;
        for (size_t s = 0; curs && s < MAX_SLOTS; s++) {
            if (!lastof[s] || !lastof[s]->curlen)
                continue;
            curs[ncur].instance = p->slots[s].instance;
            curs[ncur].data = lastof[s]->cur;
            curs[ncur].len = lastof[s]->curlen;
            ncur++;
        }
        struct evalctx e = { 0 };
        bool evaluating = rules && (rules->hook.eval_text || rules->hook.eval);
        for (i = 0; evaluating && evcap >= n && i < n; i++) {
            size_t before = e.n;
            e.cur = i;
            e.ev = evs[i];
            if (i + 1 < n) {
                /* The next event's struct, so that the engine's wk_event_prefetch of it
                 * does not stall on its first load (the loop thread's core wrote it). */
                __builtin_prefetch(evs[i + 1]);
                __builtin_prefetch((const char *)evs[i + 1] + 64);
            }
            int rc = rules->hook.eval_text
                         ? rules->hook.eval_text(rules->hook.ctx, evs[i], collect_text, &e)
                         : rules->hook.eval(rules->hook.ctx, evs[i], collect_alert, &e);
            if (rc < 0 && wk_ratelimit_ok(&rl))
                wk_log_warn("rules: evaluation failed: %s", wk_strerror(rc));
            if (e.n > before && allowed(rules, evs[i])) {
                for (size_t k = before; k < e.n; k++)
                    free(e.a[k].text);
                e.n = before;
            }
        }
        if (e.n > balcap) {
            struct wk_batch_alert *nb = realloc(bal, e.n * sizeof(*nb));
            uint64_t *na = nb ? realloc(aids, e.n * sizeof(*na)) : NULL;
            if (nb)
                bal = nb;
            if (na) {
                aids = na;
                balcap = e.n;
            }
        }
        size_t nal = e.n <= balcap ? e.n : 0;
        for (i = 0; i < nal; i++) {
            bal[i] = (struct wk_batch_alert){ .event_index = e.a[i].idx, .text = e.a[i].text,
                                              .len = e.a[i].len };
        }
        struct wk_batch b = { .events = evs, .nevents = n, .event_cursors = evcur,
                              .cursors = curs, .ncursors = ncur,
                              .alerts = bal, .nalerts = nal, .raw_bytes = bytes,
                              .alert_ids = nal ? aids : NULL };
        if (nal)
            memset(aids, 0, nal * sizeof(*aids));
        if (p->test_delay_ms) {
            struct timespec ts = { p->test_delay_ms / 1000, (p->test_delay_ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
        int rc = (evcap >= n && curs) ? p->backend->commit(p->bctx, &b) : -ENOMEM;
        if (rc == 0) {
            backoff_ms = 10;
            write_alerts(p, outs, &e, nal == e.n ? aids : NULL);
            if (nal)
                deliveries_save(p, false);
            p->state_dirty = p->state_dirty || (rules && n);
            state_save(p, rules, false);
            verify_new(p);
            commit_pending(p);
        }
        evalctx_fini(&e);
        rules_unref(p, rules);
        outputs_unref(p, outs);

        pthread_mutex_lock(&p->lock);
        if (rc < 0) {
            /* Put the batch back in front: nothing is dropped; the sources are paused by
             * the full queue meanwhile. */
            p->st.commit_errors++;
            last->next = p->head;
            p->head = batch;
            if (p->tailp == &p->head)
                p->tailp = &last->next;
            pthread_mutex_unlock(&p->lock);
            if (wk_ratelimit_ok(&rl))
                wk_log_error("store: commit failed: %s (retrying)", wk_strerror(rc));
            struct timespec ts = { backoff_ms / 1000, (backoff_ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
            backoff_ms = backoff_ms < 2000 ? backoff_ms * 2 : 2000;
            pthread_mutex_lock(&p->lock);
            if (p->abandon)
                break; /* freed while the store fails: what is queued is not committed */
            continue;
        }
        p->st.queued_events -= nitems;
        p->st.queued_bytes -= bytes;
        p->st.committed += n;
        p->st.commits++;
        count_alerts(p, nal);
        bool wake = p->any_paused &&
                    p->st.queued_events <= (uint64_t)p->lim.queue_events / 2 &&
                    p->st.queued_bytes <= p->lim.queue_bytes / 2;
        /* Keep what the pool has room for; free the rest outside the lock. Usually the
         * whole batch fits: then its items are linked in from the array the first walk
         * filled, in the order the walk below gives (reversed: LIFO), without that walk.
         * It read each item's next pointer, one miss after another (the batch's events
         * had evicted the items since the first walk), under the lock the loop thread
         * needs to submit: 55% of writer_main's own samples (perf, 200k audit events,
         * `run --once`); the stores here do not wait on each other. */
        struct item *spare = NULL;
        if (npoolable == nitems && p->npool + nitems <= POOL_EVENTS &&
            p->st.queued_bytes + p->pool_bytes + p->stage_pool_bytes + bytes <=
                p->lim.queue_bytes) {
            its[0]->next = p->pool;
            for (size_t k = 1; k < nitems; k++)
                its[k]->next = its[k - 1];
            p->pool = its[nitems - 1];
            p->npool += nitems;
            p->pool_bytes += bytes;
            batch = NULL;
        }
        for (struct item *it = batch, *nx; it; it = nx) {
            nx = it->next;
            uint64_t pooled = p->pool_bytes + p->stage_pool_bytes;
            if (it->ev && it->curcap >= POOL_CUR && p->npool < POOL_EVENTS &&
                p->st.queued_bytes + pooled + it->bytes <= p->lim.queue_bytes) {
                it->next = p->pool;
                p->pool = it;
                p->npool++;
                p->pool_bytes += it->bytes;
            } else {
                it->next = spare;
                spare = it;
            }
        }
        struct item *trimmed = pool_trim(p, wk_time_mono_ns());
        pthread_mutex_unlock(&p->lock);
        items_free(spare);
        items_free(trimmed);
        if (wake)
            uv_async_send(&p->async);
        pthread_mutex_lock(&p->lock);
    }
    bool abandon = p->abandon;
    pthread_mutex_unlock(&p->lock);
    if (!abandon) {
        state_save(p, prev_rules, true);
        commit_pending(p);
    }
    if (p->verifies)
        wk_log_info("store: checked each commit's new blocks %llu times, %lld us each on "
                    "average", (unsigned long long)p->verifies,
                    (long long)(p->verify_ns / (int64_t)p->verifies / 1000));
    if (p->state_saves)
        wk_log_info("rules: correlation state saved %llu times, %lld us each on average, "
                    "%zu bytes", (unsigned long long)p->state_saves,
                    (long long)(p->state_save_ns / (int64_t)p->state_saves / 1000),
                    p->state_len);
    free(p->state_last);
    p->state_last = NULL;
    if (!abandon && p->backend->tick) {
        int trc = p->backend->tick(p->bctx, true);
        if (trc < 0)
            wk_log_error("store: final commit failed: %s", wk_strerror(trc));
    }
    if (!abandon)
        deliveries_save(p, true);
    pthread_mutex_lock(&p->lock);
    p->drained = true;
    pthread_mutex_unlock(&p->lock);
    uv_async_send(&p->async);
    rules_unref(p, prev_rules);
    free(evs);
    free(evcur);
    free(its);
    free(curs);
    free(bal);
    free(aids);
    return NULL;
}

/* Loop thread: resume paused sources; report the end of a drain. */
static void on_async(uv_async_t *a)
{
    struct wk_pipeline *p = wk_container_of(a, struct wk_pipeline, async);
    pthread_mutex_lock(&p->lock);
    bool drained = p->drained;
    bool resume = p->any_paused && !p->stop;
    bool paused[MAX_SLOTS];
    size_t ns = p->nslots;
    if (resume) {
        p->any_paused = false;
        for (size_t i = 0; i < ns; i++) {
            paused[i] = p->slots[i].paused;
            p->slots[i].paused = false;
        }
    }
    pthread_mutex_unlock(&p->lock);
    if (resume)
        uv_unref((uv_handle_t *)&p->async);
    for (size_t i = 0; resume && i < ns; i++) {
        struct slot *sl = &p->slots[i];
        if (paused[i] && sl->src) {
            const struct wk_source_base *b = (const struct wk_source_base *)sl->src;
            if (b->ops->resume)
                b->ops->resume(sl->src);
        }
    }
    if (drained && p->drain_done) {
        void (*cb)(void *) = p->drain_done;
        p->drain_done = NULL;
        uv_unref((uv_handle_t *)&p->async);
        cb(p->drain_arg);
    }
}

static void handle_closed(struct wk_pipeline *p)
{
    if (--p->open_handles == 0)
        free(p);
}

static void on_async_closed(uv_handle_t *h)
{
    handle_closed(wk_container_of(h, struct wk_pipeline, async));
}

static void on_check_closed(uv_handle_t *h)
{
    handle_closed(wk_container_of((uv_check_t *)h, struct wk_pipeline, check));
}

int wk__pipeline_new(struct wk_pipeline **out, uv_loop_t *loop,
                     const struct wk_config_pipeline *limits,
                     const struct wk_backend_ops *backend, void *backend_ctx)
{
    struct wk_pipeline *p = wk_new0(struct wk_pipeline, 1);
    if (!p)
        return -ENOMEM;
    p->loop = loop;
    p->sink.submit = pl_submit;
    p->sink.submit_take = pl_submit_take;
    p->sink.reject = pl_reject;
    p->sink.cursor = pl_cursor;
    p->backend = backend;
    p->bctx = backend_ctx;
    p->lim = *limits;
    p->tailp = &p->head;
    const char *slow = getenv("WK_TEST_SLOW_COMMIT_MS");
    if (slow)
        p->test_delay_ms = strtol(slow, NULL, 10);
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_cond_init(&p->vcond, &ca);
    pthread_condattr_destroy(&ca);
    int rc = uv_async_init(loop, &p->async, on_async);
    if (rc < 0) {
        free(p);
        return rc;
    }
    /* The async alone does not keep the loop alive: the sources and signals do. */
    uv_unref((uv_handle_t *)&p->async);
    p->stailp = &p->shead;
    uv_check_init(loop, &p->check);
    uv_check_start(&p->check, on_check);
    uv_unref((uv_handle_t *)&p->check);
    p->open_handles = 2;
    rc = -pthread_create(&p->writer, NULL, writer_main, p);
    if (rc < 0) {
        uv_close((uv_handle_t *)&p->async, NULL);
        uv_close((uv_handle_t *)&p->check, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        free(p);
        return rc;
    }
    p->writer_started = true;
    *out = p;
    return 0;
}

struct wk_source_sink *wk__pipeline_sink(struct wk_pipeline *p)
{
    return &p->sink;
}

int wk__pipeline_attach(struct wk_pipeline *p, struct wk_source *src, const char *instance)
{
    for (size_t i = 0; i < p->nslots; i++) {
        if (strcmp(p->slots[i].instance, instance) == 0) {
            p->slots[i].src = src;
            pthread_mutex_lock(&p->lock);
            p->slots[i].paused = false;
            pthread_mutex_unlock(&p->lock);
            return 0;
        }
    }
    if (p->nslots == MAX_SLOTS)
        return -ENOSPC;
    char *name = strdup(instance);
    if (!name)
        return -ENOMEM;
    pthread_mutex_lock(&p->lock);
    p->slots[p->nslots].instance = name;
    p->slots[p->nslots].src = src;
    p->nslots++;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

void wk__pipeline_detach(struct wk_pipeline *p, struct wk_source *src)
{
    struct slot *sl = slot_of(p, src);
    if (sl)
        sl->src = NULL;
}

const void *wk__pipeline_last_cursor(struct wk_pipeline *p, const char *instance, size_t *len)
{
    for (size_t i = 0; i < p->nslots; i++) {
        if (strcmp(p->slots[i].instance, instance) == 0 && p->slots[i].last_len) {
            *len = p->slots[i].last_len;
            return p->slots[i].last_cur;
        }
    }
    *len = 0;
    return NULL;
}

void wk__pipeline_set_verify(struct wk_pipeline *p, int64_t interval_ns)
{
    pthread_mutex_lock(&p->lock);
    p->verify_interval = interval_ns;
    pthread_cond_signal(&p->vcond);
    bool start = !p->verifier_started && p->backend->verify;
    pthread_mutex_unlock(&p->lock);
    if (start && pthread_create(&p->verifier, NULL, verifier_main, p) == 0)
        p->verifier_started = true;
}

void wk__pipeline_verify_now(struct wk_pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    p->verify_now = true;
    pthread_cond_signal(&p->vcond);
    pthread_mutex_unlock(&p->lock);
}

void wk__pipeline_flush(struct wk_pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    (void)stage_flush_locked(p); /* signalled below */
    p->flush_now = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void wk__pipeline_drain(struct wk_pipeline *p, void (*done)(void *arg), void *arg)
{
    p->drain_done = done;
    p->drain_arg = arg;
    uv_ref((uv_handle_t *)&p->async); /* alive until the drain is reported */
    pthread_mutex_lock(&p->lock);
    (void)stage_flush_locked(p); /* signalled below */
    p->stop = true;
    bool drained = p->drained;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    if (drained)
        uv_async_send(&p->async);
}

void wk__pipeline_stats(struct wk_pipeline *p, struct wk_pipeline_stats *st)
{
    pthread_mutex_lock(&p->lock);
    bool wake = stage_flush_locked(p);
    *st = p->st;
    int64_t minute = wk_time_mono_ns() / (60 * WK_NS_PER_SEC);
    st->alerts_hour = 0;
    for (size_t i = 0; i < 60; i++) {
        if (p->alert_min_at[i] > minute - 60 && p->alert_min_at[i] <= minute)
            st->alerts_hour += p->alert_min[i];
    }
    pthread_mutex_unlock(&p->lock);
    if (wake)
        pthread_cond_signal(&p->cond);
}

struct wk_pipeline *wk__pipeline_free(struct wk_pipeline *p)
{
    if (!p)
        return NULL;
    if (p->verifier_started) {
        pthread_mutex_lock(&p->lock);
        p->vstop = true;
        pthread_cond_signal(&p->vcond);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->verifier, NULL);
    }
    if (p->writer_started) {
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        p->abandon = true;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->writer, NULL);
    }
    for (struct item *it = p->head, *nx; it; it = nx) {
        nx = it->next;
        wk_event_free(it->ev);
        free(it);
    }
    for (struct item *it = p->pool, *nx; it; it = nx) {
        nx = it->next;
        wk_event_free(it->ev);
        free(it);
    }
    items_free(p->shead); /* abandoned like the queue */
    items_free(p->spool);
    rules_unref(p, p->rules);
    outputs_unref(p, p->outs);
    for (size_t i = 0; i < p->nslots; i++) {
        free(p->slots[i].instance);
        free(p->slots[i].last_cur);
    }
    for (size_t i = 0; i < p->npend; i++)
        json_decref(p->pend[i]);
    free(p->pend);
    free(p->iov);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    pthread_cond_destroy(&p->vcond);
    uv_close((uv_handle_t *)&p->async, on_async_closed);
    uv_close((uv_handle_t *)&p->check, on_check_closed);
    return NULL;
}
