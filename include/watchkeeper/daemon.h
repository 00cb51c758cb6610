/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The collector daemon (`watchkeeper run`) and the two seams of its pipeline:
 * - a storage backend, which commits one batch (events, the cursors of the sources whose
 *   events it holds, the alerts on them) in one transaction and hands stored cursors back;
 * - a live-rules hook, which evaluates one event and emits alerts.
 * store_backend.c and live_rules.c implement them on the LMDB store and the rule engine;
 * tests plug in their own.
 *
 * Threading: the backend and the rules hook are called on the pipeline's writer thread only
 * (never on the libuv loop thread), one call at a time.
 */
#ifndef WK_DAEMON_H
#define WK_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "watchkeeper/event.h"
#include "watchkeeper/wkconfig.h"

struct wk_rules_hook;

/** The stored resume point of one source instance, carried by a batch. */
struct wk_batch_cursor {
    const char *instance;
    const void *data;
    size_t len;
};

/** event_index of an alert with no evidence event (the store's integrity alerts). */
#define WK_BATCH_NO_EVENT SIZE_MAX

/** An alert raised on events[event_index] of the same batch. */
struct wk_batch_alert {
    json_t *alert; /* borrowed; the rule's id, title, level, tags, ...; NULL when text is */
    size_t event_index; /* or WK_BATCH_NO_EVENT */
    /* The same alert as compact JSON text (borrowed), set by the pipeline: a backend
     * stores it as is instead of serialising alert. NULL: serialise alert. */
    const char *text;
    size_t len;
};

/** What one commit holds; everything is borrowed for the call. */
struct wk_batch {
    struct wk_event *const *events;
    size_t nevents;
    /* events_cursors[i]: the cursor after events[i] (len 0: none). A backend that may
     * commit part of a batch must store these with each event. */
    const struct wk_batch_cursor *event_cursors;
    /* The cursor after the last event of each source in the batch. */
    const struct wk_batch_cursor *cursors;
    size_t ncursors;
    const struct wk_batch_alert *alerts;
    size_t nalerts;
    uint64_t raw_bytes; /* sum of the events' serialised sizes (estimate) */
    /* Optional out (nalerts entries): the backend sets alert_ids[i] to the id alerts[i]
     * was stored under (increasing), 0 when it has none. */
    uint64_t *alert_ids;
};

struct wk_backend_stats {
    uint64_t events;       /* events stored */
    uint64_t alerts;       /* alerts stored */
    uint64_t raw_bytes;    /* bytes of the events before compression */
    uint64_t stored_bytes; /* bytes on disk */
    uint64_t last_alert_id; /* id of the newest alert stored (0: none) */
    uint64_t blocks;       /* blocks stored */
    uint64_t cold_blocks;  /* ... of which the cold tier has recompressed */
    uint64_t cold_cpu_ns;  /* CPU time the cold tier has used since start */
    uint64_t cold_waiting; /* hot blocks old enough to go cold (a short last group too) */
    int64_t cold_behind_ns; /* how long the cold tier has found work at every look (0:
                             * caught up: its last look found nothing to merge) */
};

struct wk_backend_ops {
    const char *name;
    /**
     * Commit a batch atomically: after a crash either all of it (events, cursors, alerts)
     * is stored or none. @return 0 or <0 (the pipeline retries with a backoff).
     */
    int (*commit)(void *ctx, const struct wk_batch *b);
    /** The stored cursor of instance: @param[out] data malloc'd (NULL, 0 when none). */
    int (*cursor_get)(void *ctx, const char *instance, void **data, size_t *len);
    /**
     * Called by the writer when idle (about every 100 ms) and with flush at the end of a
     * drain: commit what waits (optional). @return 0 or <0 (logged, retried).
     */
    int (*tick)(void *ctx, bool flush);
    /** Keep input a source could not parse, with the reason (optional). */
    int (*quarantine)(void *ctx, const char *instance, const char *reason, const void *raw,
                      size_t len);
    /** Counters (optional). Any thread. */
    void (*stats)(void *ctx, struct wk_backend_stats *st);
    /**
     * Optional: stage a named state (the live rules' correlation windows, "rules") to
     * commit with the events committed before it (copied).
     * @return 0 or <0 (logged; the previous state stays).
     */
    int (*state_set)(void *ctx, const char *name, const void *data, size_t len);
    /** Optional: the last committed state: @param[out] data malloc'd (NULL, 0 when none). */
    int (*state_get)(void *ctx, const char *name, void **data, size_t *len);
    /**
     * Optional: check the stored hash chain. full: the whole chain and its signed
     * checkpoints, from a read snapshot (any thread; never blocks the writer); else only
     * the blocks committed since the last such call, against their predecessor (writer
     * thread). @param[out] block the first bad block; @param[out] reason why (cap bytes).
     * @return 0 intact, WK_ECHAIN broken, <0 could not check.
     */
    int (*verify)(void *ctx, bool full, uint64_t *block, char *reason, size_t cap);
    /** Close and free (NULL ctx allowed). */
    void (*close)(void *ctx);
    /**
     * Optional: record that output `name` delivered every alert up to alert_id (its own
     * transaction; writer thread), and read it back (any thread; 0 when none).
     * @return 0 or <0.
     */
    int (*delivery_set)(void *ctx, const char *name, uint64_t alert_id);
    int (*delivery_get)(void *ctx, const char *name, uint64_t *alert_id);
};

/**
 * Open the LMDB store (store.h) at cfg->path as the pipeline's backend.
 * @param[out] ctx for the returned ops. @return 0 or what wk_store_open returns.
 */
int wk_store_backend_open(const struct wk_backend_ops **ops, void **ctx,
                          const struct wk_config_store *cfg);

/**
 * The live rules of the rule engine (rule.h) as a hook: loads every directory of
 * cfg->dirs (logsources.yaml and placeholders.yaml from the first directory that has
 * them, else from the default pack), drops alerts of cfg->disable. A rule set with any
 * rejected rule is refused as a whole (err names the first rejection and the count).
 * This is what wk_daemon_rules_loader points at.
 */
int wk_live_rules_load(const struct wk_config_rules *cfg, struct wk_rules_hook *out,
                       char *err, size_t errlen);

/** A live rule set (immutable once built). */
struct wk_rules_hook {
    /**
     * Evaluate one event; call emit once per alert (alert is stolen by emit).
     * @return 0 or <0 (logged, the event is still stored).
     */
    int (*eval)(void *ctx, const struct wk_event *ev,
                int (*emit)(void *arg, json_t *alert), void *arg);
    /** Free the rule set (NULL ctx allowed). */
    void (*free)(void *ctx);
    /**
     * Optional: carry evaluation state (correlation windows) from the set being replaced
     * into this one; called on the writer thread before this set's first eval.
     */
    void (*carry)(void *ctx, void *from_ctx);
    /**
     * Optional: serialise the evaluation state (malloc'd text) so that it survives a
     * restart, and restore it into a fresh set before its first eval (writer thread).
     * @return 0 or <0.
     */
    int (*save)(void *ctx, char **out, size_t *len);
    int (*restore)(void *ctx, const char *text, size_t len);
    size_t nrules;
    void *ctx;
    /**
     * Optional, used instead of eval when set: emit gets each alert as compact JSON text
     * holding its evidence event (json malloc'd, stolen by emit) and the rule's level
     * (0 informational, 1 low, 2 medium, 3 high, 4 critical). Saves the pipeline from
     * parsing and re-serialising alerts. @return 0 or <0 as eval.
     */
    int (*eval_text)(void *ctx, const struct wk_event *ev,
                     int (*emit)(void *arg, char *json, size_t len, int level), void *arg);
};

/**
 * How the daemon builds a rule set from the `rules:` section (default wk_live_rules_load;
 * NULL runs without live rules). On failure set err and return <0: a reload then keeps
 * the rule set in use.
 */
extern int (*wk_daemon_rules_loader)(const struct wk_config_rules *cfg,
                                     struct wk_rules_hook *out, char *err, size_t errlen);

struct wk_daemon_opts {
    const char *config_path; /* NULL: the built-in defaults */
    bool once;               /* process what the sources have now, then exit */
    const char *store_path;  /* overrides store.path when not NULL */
    const char *api_socket;  /* overrides api.socket when not NULL ("" disables) */
};

/**
 * Run the collector until SIGTERM/SIGINT (or, with once, until the sources are caught up).
 * Logs its own errors. @return a CLI exit code: 0 ok, 3 runtime error (config, store).
 */
int wk_daemon_run(const struct wk_daemon_opts *opts);

#endif /* WK_DAEMON_H */
