/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pipeline between the sources (libuv loop thread) and the storage backend (writer
 * thread): a bounded queue, batching, live rules, alert outputs, back-pressure. Used by
 * daemon.c and the unit tests.
 *
 * Memory bound: at most queue_events events and queue_bytes bytes (estimated from the
 * events' field sizes) are held between submit() and the end of their commit, the batch in
 * flight included; a submit beyond either bound is refused with -EAGAIN and the source is
 * resumed when the queue has drained to half.
 */
#ifndef WK_PIPELINE_PRIVATE_H
#define WK_PIPELINE_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "watchkeeper/daemon.h"
#include "watchkeeper/source.h"
#include "watchkeeper/wkconfig.h"

struct wk_pipeline;

struct wk_pipeline_stats {
    uint64_t submitted;      /* events accepted */
    uint64_t refused;        /* submits refused with -EAGAIN */
    uint64_t rejected;       /* inputs quarantined by sources */
    uint64_t committed;      /* events committed */
    uint64_t commits;        /* transactions */
    uint64_t commit_errors;  /* failed commits (retried) */
    uint64_t alerts;         /* alerts raised */
    uint64_t alerts_hour;    /* alerts raised in the last hour */
    uint64_t queued_events;  /* held now */
    uint64_t queued_bytes;
    uint64_t peak_bytes;     /* most held at once */
    size_t nrules;
};

/** An output's delivery state (GET /status). */
struct wk_pipeline_output {
    char name[64], type[16], path[256];
    bool active;            /* in the current outputs */
    bool failing;           /* the last write failed */
    uint64_t delivered;     /* every alert up to this id was handled (written or filtered) */
    uint64_t written;       /* alert lines written this run */
    uint64_t errors;        /* failed batches this run */
    char last_error[160];
};

/** Create a pipeline on loop (started: the writer thread runs). Takes no ownership. */
int wk__pipeline_new(struct wk_pipeline **out, uv_loop_t *loop,
                     const struct wk_config_pipeline *limits,
                     const struct wk_backend_ops *backend, void *backend_ctx);
/** The sink sources submit to. */
struct wk_source_sink *wk__pipeline_sink(struct wk_pipeline *p);
/** Register a source instance (loop thread) before its start(); re-registering a name
 *  reuses its slot (reload). @return 0, -ENOSPC (too many instances). */
int wk__pipeline_attach(struct wk_pipeline *p, struct wk_source *src, const char *instance);
/** Forget a source (stopping): no more resume() calls for it. */
void wk__pipeline_detach(struct wk_pipeline *p, struct wk_source *src);
/** The last cursor submitted by instance (loop thread; borrowed until the next submit),
 *  NULL when none this run. */
const void *wk__pipeline_last_cursor(struct wk_pipeline *p, const char *instance, size_t *len);
/** Swap the live rules (the old set is freed once no batch uses it) and the allow-lists,
 *  and the limits. Takes rules (may be NULL: no rules). */
void wk__pipeline_set_rules(struct wk_pipeline *p, struct wk_rules_hook *rules,
                            const struct wk_config_rules *allow);
/** Swap the outputs (opens files; on error keeps the old ones). @return 0 or -errno. */
int wk__pipeline_set_outputs(struct wk_pipeline *p, const struct wk_config_output *outs,
                             size_t n, char *err, size_t errlen);
/** The current outputs' delivery states (any thread). @return how many were copied. */
size_t wk__pipeline_outputs(struct wk_pipeline *p, struct wk_pipeline_output *out, size_t max);
void wk__pipeline_set_limits(struct wk_pipeline *p, const struct wk_config_pipeline *limits);
/** Id of the built-in rule of the store's integrity alerts. */
#define WK_INTEGRITY_RULE_ID "wk-store-integrity"
/** Verify the backend's whole hash chain every interval_ns (0: only on
 *  wk__pipeline_verify_now) on a thread of its own; starts it on the first call. A break
 *  (found there or by the writer's check of each commit) raises one alert per bad block. */
void wk__pipeline_set_verify(struct wk_pipeline *p, int64_t interval_ns);
/** Run the full verify now (SIGUSR1). Any thread. */
void wk__pipeline_verify_now(struct wk_pipeline *p);
/** Commit now what is queued (no waiting for batch_age). */
void wk__pipeline_flush(struct wk_pipeline *p);
/** Commit everything queued, stop the writer, then call done on the loop thread. */
void wk__pipeline_drain(struct wk_pipeline *p, void (*done)(void *arg), void *arg);
void wk__pipeline_stats(struct wk_pipeline *p, struct wk_pipeline_stats *st);
/** Join the writer (after drain's done) and free; closes the async handle on the loop,
 *  so run the loop once more after. NULL allowed. @return NULL. */
struct wk_pipeline *wk__pipeline_free(struct wk_pipeline *p);

#endif /* WK_PIPELINE_PRIVATE_H */
