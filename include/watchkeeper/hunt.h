/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hunt: run a compiled ruleset over the history held in a store, in parallel over blocks,
 * with the same results as live evaluation of the same events in store order (detection
 * runs in worker threads; correlation windows are fed by one thread in store order).
 *
 * Block prefilter: when every detection rule of the set provably needs one of some literals
 * in a string value (analyzer/prefilter.c), each block's stored records are scanned once
 * for them and only the events holding one are decoded and evaluated.
 *
 * Caveats: alerts are delivered as JSON (wk_alert_to_json form) from the calling thread, in
 * store order. Alert "ref" = block id * 2^32 + index inside the block.
 */
#ifndef WK_HUNT_H
#define WK_HUNT_H

#include <stddef.h>
#include <stdint.h>

#include "watchkeeper/rule.h"
#include "watchkeeper/store.h"

struct wk_hunt_opts {
    int64_t since, until; /* ns, inclusive; 0: unbounded */
    unsigned threads;     /* 0: one per online CPU */
    /* called from the calling thread after each batch of blocks (may be NULL) */
    void (*progress)(uint64_t blocks_done, uint64_t blocks_total, void *arg);
    void *progress_arg;
    /* do not use the block prefilter (decode and evaluate every candidate event; the same
     * alerts, slower): for tests and benchmarks */
    bool no_block_prefilter;
    /* count only: when set, alerts are not formatted; count(rule index, arg) is called per
     * alert (from the calling thread, in store order) instead of the alert callback */
    void (*count)(uint32_t rule, void *arg);
};

struct wk_hunt_stats {
    uint64_t blocks, events, alerts; /* events: evaluated */
    /* block prefilter: used; blocks skipped whole; events skipped without decoding */
    bool block_prefilter;
    uint64_t skipped_blocks, skipped_events;
};

/** Called once per alert, in store order, from the calling thread. <0 stops the hunt. */
typedef int (*wk_hunt_alert_cb)(const char *json, size_t len, void *arg);

/**
 * Hunt over st with rs.
 * @param[out] stats may be NULL. @return 0, the callback's code, -ENOMEM, store errors.
 */
int wk_hunt_store(struct wk_store *st, struct wk_ruleset *rs, const struct wk_hunt_opts *o,
                  wk_hunt_alert_cb cb, void *arg, struct wk_hunt_stats *stats);

/** Store reference as carried in alerts. */
static inline uint64_t wk_hunt_ref(uint64_t block, uint32_t index)
{
    return (block << 32) | index;
}

#endif /* WK_HUNT_H */
