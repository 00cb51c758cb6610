/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pipeline's backend on the LMDB store (store.h): a batch's events are added, then the
 * cursors of its sources (which commit with the events added before them), then its alerts
 * with references to their evidence. The store seals and commits blocks by its own size,
 * age and interval policy; wk_store_tick, called by the writer when idle, commits what
 * waits. A failed commit leaves the data held by the store: the next batch first retries
 * the flush and is refused (back-pressure) until it succeeds, so nothing is added twice.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "watchkeeper/daemon.h"
#include "watchkeeper/error.h"
#include "watchkeeper/log.h"
#include "watchkeeper/mem.h"
#include "watchkeeper/store.h"
#include "watchkeeper/timefmt.h"

struct sb {
    struct wk_store *st;
    bool stuck; /* a commit failed: data is held in the store, flush before adding more */
    struct wk_store_ref *refs;
    size_t refcap;
    int64_t retention;   /* store.retention (ns), 0: keep everything */
    int64_t retained_at; /* mono ns of the last retention pass */
    uint64_t verified;   /* last block checked after a commit (writer thread) */
    uint8_t pk[WK_STORE_PUBKEY_LEN]; /* loaded at open: verify runs off the writer */
    bool have_pk;
    uint64_t last_alert; /* newest alert id (written by the writer, read by status) */
    /* The cold tier (writer thread, when idle): one merged value per slice, a slice only
     * while the CPU it used stays within cold_budget percent of the wall time. */
    bool cold;
    int64_t cold_budget;  /* percent of one core */
    int64_t cold_credit;  /* ns of CPU it may still use (negative: owed) */
    int64_t cold_at;      /* mono ns of the last credit update */
    int64_t cold_idle_at; /* mono ns of the last slice that found nothing to do */
    uint64_t cold_cpu;    /* CPU ns used, total (read by status) */
    int64_t cold_after;   /* ns since its commit before a block may go cold */
    uint64_t newest;      /* newest block id events were added to */
    struct { int64_t at; uint64_t block; } seen[64]; /* (mono ns, newest) samples, a ring */
    unsigned nseen;
    /* Falling behind (docs/daemon.md, "The cold tier"): */
    uint64_t cold_upto;   /* newest block old enough to go cold (read by status) */
    uint64_t cold_done;   /* blocks made cold since start */
    int64_t behind_since; /* mono ns of the first merge since the tier last found nothing
                           * to merge (0: caught up; read by status) */
    int64_t behind_warned; /* mono ns of the last "behind" warning (0: none since caught up) */
    int64_t cycle;        /* ns the last slice's CPU takes to pay back at the budget */
};

/* The tier is "behind" when it has found something to merge at every look for 3 x
 * `after` and for 10 slices' cycles (a slice and the wait that pays it back: a burst
 * the tier absorbs in a few slices is not falling behind): a warning then, at most every
 * 10 min. */
#define WK_COLD_BEHIND_AFTERS 3
#define WK_COLD_BEHIND_CYCLES 10
#define WK_COLD_WARN_EVERY_NS (600 * WK_NS_PER_SEC)

static bool is_commit_error(int rc)
{
    return rc == WK_EMAP_FULL || rc == -ENOSPC || rc == -EIO || rc == -EDQUOT;
}

static int sb_commit(void *ctx, const struct wk_batch *b)
{
    struct sb *s = ctx;
    static struct wk_ratelimit rl = WK_RATELIMIT_INIT(60, 3);
    if (s->stuck) {
        int rc = wk_store_flush(s->st);
        if (rc < 0)
            return rc; /* nothing of this batch was added: the pipeline retries it */
        s->stuck = false;
    }
    if (b->nevents > s->refcap) {
        struct wk_store_ref *nr = realloc(s->refs, b->nevents * sizeof(*nr));
        if (!nr)
            return -ENOMEM;
        s->refs = nr;
        s->refcap = b->nevents;
    }
    /* From the first add on, the batch is the store's: never fail it back (it would be
     * added twice); a commit error only means "held, flush later". */
    for (size_t i = 0; i < b->nevents; i++) {
        /* Each event carries the cursor after it: the store may commit in the middle of
         * a batch (a block sealed), and that commit must hold exactly the cursor of the
         * last event it holds, or a crash would replay what it committed. */
        const struct wk_batch_cursor *bc = b->event_cursors ? &b->event_cursors[i] : NULL;
        /* The rules read the whole batch before: a batch's events (MiBs) left the cache
         * since. The next event's fields, hashes and bytes come in while this one is
         * encoded, and the struct of the one after (wk_event_prefetch reads it). */
        if (i + 2 < b->nevents) {
            __builtin_prefetch(b->events[i + 2]);
            __builtin_prefetch((const char *)b->events[i + 2] + 64);
        }
        if (i + 1 < b->nevents)
            wk_event_prefetch(b->events[i + 1]);
        struct wk_store_cursor c = { bc ? bc->instance : NULL, bc ? bc->data : NULL,
                                     bc ? bc->len : 0 };
        int rc = wk_store_add(s->st, b->events[i], c.len ? &c : NULL, &s->refs[i]);
        if (rc == 0 && s->refs[i].block > s->newest)
            s->newest = s->refs[i].block;
        if (rc < 0 && is_commit_error(rc)) {
            s->stuck = true;
        } else if (rc < 0) {
            s->refs[i].block = 0;
            if (wk_ratelimit_ok(&rl))
                wk_log_error("store: event dropped: %s", wk_strerror(rc));
        }
    }
    for (size_t i = 0; i < b->ncursors; i++) {
        struct wk_store_cursor c = { b->cursors[i].instance, b->cursors[i].data,
                                     b->cursors[i].len };
        int rc = wk_store_cursor_set(s->st, &c);
        if (rc < 0 && wk_ratelimit_ok(&rl))
            wk_log_error("store: cursor of %s not kept: %s", c.source, wk_strerror(rc));
    }
    for (size_t i = 0; i < b->nalerts; i++) {
        const struct wk_batch_alert *ba = &b->alerts[i];
        char *js = ba->text ? NULL : json_dumps(ba->alert, JSON_COMPACT);
        const char *text = ba->text ? ba->text : js;
        size_t len = ba->text ? ba->len : js ? strlen(js) : 0;
        size_t ei = ba->event_index;
        const struct wk_store_ref *ref = ei == WK_BATCH_NO_EVENT ? NULL : &s->refs[ei];
        uint64_t id = 0;
        int rc = text ? wk_store_alert_add(s->st, text, len, ref, ref && ref->block ? 1 : 0,
                                           &id)
                      : -ENOMEM;
        free(js);
        if (rc == 0)
            __atomic_store_n(&s->last_alert, id, __ATOMIC_RELAXED);
        if (b->alert_ids)
            b->alert_ids[i] = rc == 0 ? id : 0;
        if (rc < 0 && is_commit_error(rc))
            s->stuck = true;
        else if (rc < 0 && wk_ratelimit_ok(&rl))
            wk_log_error("store: alert dropped: %s", wk_strerror(rc));
    }
    return 0;
}

static void cold_slice(struct sb *s);

static int sb_tick(void *ctx, bool flush)
{
    struct sb *s = ctx;
    int rc = flush || s->stuck ? wk_store_flush(s->st) : wk_store_tick(s->st, 0);
    s->stuck = rc < 0;
    /* Retention: whole old blocks, checked once a minute (and at the first idle tick). */
    int64_t now = wk_time_mono_ns();
    if (rc == 0 && !flush && s->retention > 0 &&
        (!s->retained_at || now - s->retained_at >= 60 * WK_NS_PER_SEC)) {
        uint64_t removed = 0;
        s->retained_at = now;
        int r = wk_store_retain(s->st, wk_time_now_ns(), &removed);
        if (r < 0)
            wk_log_error("store: retention failed: %s", wk_strerror(r));
        else if (removed)
            wk_log_info("store: retention removed %llu blocks", (unsigned long long)removed);
    }
    if (rc == 0 && !flush && s->cold)
        cold_slice(s);
    return rc;
}

/* Remember which block was the newest when, at most 64 times per 2 x cold_after. */
static void cold_sample(struct sb *s, int64_t now)
{
    int64_t every = s->cold_after / 32 > WK_NS_PER_SEC / 10 ? s->cold_after / 32
                                                            : WK_NS_PER_SEC / 10;
    unsigned last = (s->nseen - 1) % 64;
    if (s->nseen && now - s->seen[last].at < every)
        return;
    s->seen[s->nseen % 64].at = now;
    s->seen[s->nseen % 64].block = s->newest;
    s->nseen++;
}

/* Blocks to leave hot: those added after the newest sample at least cold_after old (all
 * of them when there is none yet: blocks found at open count as committed at open). */
static bool cold_keep(struct sb *s, int64_t now, uint64_t *keep)
{
    bool found = false;
    uint64_t old = 0;
    for (unsigned i = 0; i < 64 && i < s->nseen; i++) {
        if (now - s->seen[i].at >= s->cold_after && (!found || s->seen[i].block > old)) {
            old = s->seen[i].block;
            found = true;
        }
    }
    *keep = found ? s->newest - old : 0;
    __atomic_store_n(&s->cold_upto, found ? old : 0, __ATOMIC_RELAXED);
    return found && old > 0;
}

/* The warning when the tier has been behind too long: what waits, what it costs, what
 * the budget would need to be. Figures per block from this run (cold_cpu / cold_done),
 * arrivals from the ring of samples (blocks per second over its span). */
static void cold_behind(struct sb *s, int64_t now)
{
    int64_t limit = WK_COLD_BEHIND_AFTERS * s->cold_after;
    if (limit < WK_COLD_BEHIND_CYCLES * s->cycle)
        limit = WK_COLD_BEHIND_CYCLES * s->cycle;
    if (!s->behind_since || now - s->behind_since < limit ||
        (s->behind_warned && now - s->behind_warned < WK_COLD_WARN_EVERY_NS))
        return;
    s->behind_warned = now;
    struct wk_store_stats st;
    uint64_t waiting = 0;
    double epb = 0; /* events per block, on average */
    if (wk_store_stats(s->st, &st) == 0) {
        uint64_t from = st.cold_next > st.first_block ? st.cold_next : st.first_block;
        waiting = s->cold_upto >= from ? s->cold_upto - from + 1 : 0;
        epb = st.blocks ? (double)st.events / (double)st.blocks : 0;
    }
    double per_block = s->cold_done ? (double)s->cold_cpu / 1e9 / (double)s->cold_done : 0;
    double can = per_block > 0 ? (double)s->cold_budget / 100.0 / per_block : 0;
    double arrive = 0;
    if (s->nseen >= 2) {
        unsigned a = s->nseen < 64 ? 0 : s->nseen % 64, b = (s->nseen - 1) % 64;
        if (s->seen[b].at > s->seen[a].at)
            arrive = (double)(s->seen[b].block - s->seen[a].block) /
                     ((double)(s->seen[b].at - s->seen[a].at) / 1e9);
    }
    char tail[128];
    double need = per_block * arrive * 100.0 + 1.0;
    if (arrive >= can && need <= 100)
        snprintf(tail, sizeof(tail), "a budget of %.0f%% would keep up", need);
    else if (arrive >= can)
        snprintf(tail, sizeof(tail), "keeping up would take %.0f%% of a core: more than "
                 "the budget can be", need);
    else
        snprintf(tail, sizeof(tail), "about %.0f s more to catch up",
                 (double)waiting / (can - arrive));
    wk_log_warn("store: cold tier behind for %.0f s: %llu blocks (about %.0f events) wait to "
                "go cold; it makes about %.0f events/s cold (%.0f us CPU per event at "
                "cpu_budget %lld%%), %.0f events/s arrive: %s (store.cold.cpu_budget; "
                "docs/daemon.md, \"The cold tier\")",
                (double)(now - s->behind_since) / 1e9, (unsigned long long)waiting,
                (double)waiting * epb, can * epb, epb > 0 ? per_block / epb * 1e6 : 0,
                (long long)s->cold_budget, arrive * epb, tail);
}

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * WK_NS_PER_SEC + ts.tv_nsec;
}

/* One slice of the cold tier: at most one merged value (one LMDB transaction, so a crash or
 * a stop between slices loses nothing), run only when the CPU budget has credit. The
 * credit grows by budget% of the wall time and is capped at 100 ms, so the average use
 * stays within the budget and a slice (about 0.3 s for 1 MiB at zstd 19) is paid back by
 * waiting before the next. When nothing is cold enough it looks again a second later. */
static void cold_slice(struct sb *s)
{
    int64_t now = wk_time_mono_ns();
    uint64_t keep;
    cold_sample(s, now);
    if (!cold_keep(s, now, &keep))
        return;
    cold_behind(s, now);
    if (!s->cold_at)
        s->cold_at = now;
    s->cold_credit += (now - s->cold_at) * s->cold_budget / 100;
    s->cold_at = now;
    if (s->cold_credit > WK_NS_PER_SEC / 10)
        s->cold_credit = WK_NS_PER_SEC / 10;
    if (s->cold_credit < 0 || (s->cold_idle_at && now - s->cold_idle_at < WK_NS_PER_SEC))
        return;
    int64_t c0 = thread_cpu_ns();
    uint64_t done = 0;
    int rc = wk_store_recompact(s->st, 1, keep, &done);
    int64_t used = thread_cpu_ns() - c0;
    s->cold_credit -= used;
    __atomic_store_n(&s->cold_cpu, s->cold_cpu + (uint64_t)used, __ATOMIC_RELAXED);
    s->cold_idle_at = done ? 0 : now;
    s->cold_done += done;
    if (done)
        s->cycle = used * 100 / s->cold_budget;
    if (done && !s->behind_since) {
        __atomic_store_n(&s->behind_since, now, __ATOMIC_RELAXED);
    } else if (!done && rc == 0 && s->behind_since) {
        if (s->behind_warned)
            wk_log_info("store: cold tier caught up after %.0f s behind",
                        (double)(now - s->behind_since) / 1e9);
        __atomic_store_n(&s->behind_since, 0, __ATOMIC_RELAXED);
        s->behind_warned = 0;
    }
    static struct wk_ratelimit rl = WK_RATELIMIT_INIT(60, 3);
    if (rc < 0 && wk_ratelimit_ok(&rl))
        wk_log_error("store: cold tier: %s (retrying)", wk_strerror(rc));
    else if (done)
        wk_log_debug("store: cold tier: %llu blocks merged (%.0f ms CPU)",
                     (unsigned long long)done, (double)used / 1e6);
}

static int sb_quarantine(void *ctx, const char *instance, const char *reason, const void *raw,
                         size_t len)
{
    struct sb *s = ctx;
    return wk_store_quarantine_add(s->st, instance, reason, raw, len);
}

static int sb_cursor_get(void *ctx, const char *instance, void **data, size_t *len)
{
    struct sb *s = ctx;
    *data = NULL;
    *len = 0;
    void *buf = malloc(4096);
    if (!buf)
        return -ENOMEM;
    int rc = wk_store_cursor_get(s->st, instance, buf, 4096, len);
    if (rc == WK_ENOT_FOUND) {
        free(buf);
        *len = 0;
        return 0;
    }
    if (rc < 0) {
        free(buf);
        *len = 0;
        return rc;
    }
    *data = buf;
    return 0;
}

static int sb_state_set(void *ctx, const char *name, const void *data, size_t len)
{
    struct sb *s = ctx;
    return wk_store_state_set(s->st, name, data, len);
}

static int sb_state_get(void *ctx, const char *name, void **data, size_t *len)
{
    struct sb *s = ctx;
    int rc = wk_store_state_get(s->st, name, data, len);
    return rc == WK_ENOT_FOUND ? 0 : rc;
}

static int sb_verify(void *ctx, bool full, uint64_t *block, char *reason, size_t cap)
{
    struct sb *s = ctx;
    struct wk_store_verify_result res;
    /* Blocks are only made by adding events (newest: the highest id one was added to), so
     * once that block is committed and checked nothing new can be committed until events
     * are added again: no read transaction at the writer's idle ticks. */
    if (!full && s->verified >= s->newest) {
        *block = 0;
        if (cap)
            *reason = '\0';
        return 0;
    }
    int rc = full ? wk_store_verify(s->st, 0, s->have_pk ? s->pk : NULL, &res)
                  : wk_store_verify_blocks(s->st, s->verified + 1, &res);
    if (!full && (rc == 0 || rc == WK_EREBUILD) && res.blocks)
        s->verified = res.last;
    else if (!full && rc == WK_ECHAIN)
        s->verified = res.first_bad; /* reported; check what follows against it */
    if (rc == WK_EREBUILD) { /* not a break: blocks this binary cannot check */
        *block = res.first_unchecked;
        snprintf(reason, cap, "%llu blocks cannot be checked, first: %s",
                 (unsigned long long)res.unchecked, res.why_unchecked);
        return rc;
    }
    *block = res.first_bad;
    snprintf(reason, cap, "%s", res.reason);
    return rc;
}

static void sb_stats(void *ctx, struct wk_backend_stats *out)
{
    struct sb *s = ctx;
    struct wk_store_stats st;
    memset(out, 0, sizeof(*out));
    if (wk_store_stats(s->st, &st) < 0)
        return;
    out->events = st.events;
    out->alerts = st.alerts;
    out->raw_bytes = st.raw_bytes;
    out->stored_bytes = st.stored_bytes;
    out->last_alert_id = __atomic_load_n(&s->last_alert, __ATOMIC_RELAXED);
    out->blocks = st.blocks;
    uint64_t cold = st.cold_next > st.first_block ? st.cold_next - st.first_block : 0;
    out->cold_blocks = cold < st.blocks ? cold : st.blocks;
    out->cold_cpu_ns = __atomic_load_n(&s->cold_cpu, __ATOMIC_RELAXED);
    /* hot blocks old enough to go cold (the last group short of block_bytes included) */
    uint64_t upto = __atomic_load_n(&s->cold_upto, __ATOMIC_RELAXED);
    uint64_t from = st.cold_next > st.first_block ? st.cold_next : st.first_block;
    out->cold_waiting = s->cold && upto >= from ? upto - from + 1 : 0;
    int64_t since = __atomic_load_n(&s->behind_since, __ATOMIC_RELAXED);
    out->cold_behind_ns = since ? wk_time_mono_ns() - since : 0;
}

static int sb_delivery_set(void *ctx, const char *name, uint64_t alert_id)
{
    struct sb *s = ctx;
    return wk_store_delivery_set(s->st, name, alert_id);
}

static int sb_delivery_get(void *ctx, const char *name, uint64_t *alert_id)
{
    struct sb *s = ctx;
    return wk_store_delivery_get(s->st, name, alert_id);
}

/* The newest alert id at open: ids increase from 1 and wk_store_alert_next finds the first
 * id >= a probe, so gallop up from the count, then bisect (a few dozen seeks). */
static uint64_t newest_alert(struct wk_store *st, uint64_t count)
{
    struct wk_store_reader *r = NULL;
    if (!count || wk_store_reader_open(st, &r) < 0)
        return 0;
    struct wk_store_alert a;
    uint64_t lo = 0, hi = 0, probe = count, step = count;
    for (int guard = 0; guard < 64 && !hi; guard++) {
        uint64_t id = probe;
        if (wk_store_alert_next(r, &id, &a) == 1) {
            lo = a.id;
            probe = a.id + step;
            step *= 2;
        } else {
            hi = probe;
        }
    }
    if (!lo) { /* every id is below count: start from the first */
        uint64_t id = 1;
        if (wk_store_alert_next(r, &id, &a) == 1)
            lo = a.id;
    }
    while (lo && hi > lo + 1) {
        uint64_t mid = lo + (hi - lo) / 2, id = mid;
        if (wk_store_alert_next(r, &id, &a) == 1 && a.id < hi)
            lo = a.id;
        else
            hi = mid;
    }
    wk_store_reader_close(r);
    return lo;
}

static void sb_close(void *ctx)
{
    struct sb *s = ctx;
    if (!s)
        return;
    int rc = wk_store_flush(s->st);
    if (rc < 0)
        wk_log_error("store: final commit failed: %s (the sources resume from their "
                     "committed cursors)", wk_strerror(rc));
    wk_store_close(s->st);
    free(s->refs);
    free(s);
}

static const struct wk_backend_ops sb_ops = {
    .name = "lmdb",
    .commit = sb_commit,
    .tick = sb_tick,
    .quarantine = sb_quarantine,
    .cursor_get = sb_cursor_get,
    .stats = sb_stats,
    .state_set = sb_state_set,
    .state_get = sb_state_get,
    .verify = sb_verify,
    .close = sb_close,
    .delivery_set = sb_delivery_set,
    .delivery_get = sb_delivery_get,
};

int wk_store_backend_open(const struct wk_backend_ops **ops, void **ctx,
                          const struct wk_config_store *cfg)
{
    struct wk_store_opts so;
    wk_store_opts_init(&so);
    so.block_raw_max = (size_t)cfg->block_size;
    so.block_age_ns = cfg->block_age;
    so.zstd_level = (int)cfg->compression_level;
    so.map_max = cfg->map_size;
    so.retain_age_ns = cfg->retention;
    so.fsync = cfg->fsync;
    so.cold_block_bytes = (size_t)cfg->cold.block_bytes;
    so.cold_level = (int)cfg->cold.level;
    so.cold_rebuild = cfg->cold.rebuild;
    so.split_field = cfg->split_field; /* NULL (not set): the store's default */
    struct sb *s = wk_new0(struct sb, 1);
    if (!s)
        return -ENOMEM;
    s->retention = cfg->retention;
    s->cold = cfg->cold.enabled;
    s->cold_budget = cfg->cold.cpu_budget;
    s->cold_after = cfg->cold.after;
    int rc = wk_store_open(&s->st, cfg->path, &so);
    if (rc < 0) {
        free(s);
        return rc;
    }
    /* The key is loaded here, before any thread: verify reads it off the writer. The
     * checks after each commit start at the current head (the scheduled full verify
     * covers what was there before). */
    s->have_pk = wk_store_pubkey(s->st, s->pk) == 0;
    struct wk_store_stats sst;
    if (wk_store_stats(s->st, &sst) == 0) {
        s->verified = sst.last_block;
        s->newest = sst.last_block;
        s->last_alert = newest_alert(s->st, sst.alerts);
    }
    *ops = &sb_ops;
    *ctx = s;
    return 0;
}
