/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Live sources: what `watchkeeper run` drives on its libuv loop (auditd log tail and audisp
 * stdin, Docker /events, container log files). Each is one folder under collector/sources/
 * exporting one wk_source_ops, listed in collector/sources.def.
 *
 * Contract:
 * - Every callback runs on the loop thread and never blocks.
 * - A source submits whole events with the cursor *after* each one (opaque bytes it alone
 *   understands: inode+offset, Docker time, audit serial). The pipeline stores the cursor
 *   in the same transaction as the event; on restart, start() receives the last stored
 *   cursor and the source resumes exactly after it.
 * - Ownership: submit() copies the event; submit_take() (optional) takes its contents and
 *   leaves the source an empty event to refill: the hot path's way, no copy per event.
 * - Back-pressure: when submit() returns -EAGAIN the pipeline is full; the source stops
 *   reading (the event was NOT taken) and retries after its resume() is called.
 * - Coverage is data: a source that knows it missed input submits a `gap` event
 *   (event.action "gap", with what, since when and how much).
 */
#ifndef WK_SOURCE_H
#define WK_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "watchkeeper/event.h"
#include "watchkeeper/option.h"

#define WK_SOURCE_OPS_V1 1u

struct wk_source; /* an instance; its struct begins with struct wk_source_base */
struct wk_source_sink;

/** What every instance holds first, set by the caller of create(). */
struct wk_source_base {
    const struct wk_source_ops *ops;
    char *instance; /* unique instance name ("auditd", "docker", "clog") */
    struct wk_source_sink *sink;
    uv_loop_t *loop;
};

struct wk_source_sink {
    /**
     * Submit one event (borrowed; copied) and the cursor after it (copied).
     * @return 0; -EAGAIN when full (not taken: pause, wait for resume()); other <0: fatal.
     */
    int (*submit)(struct wk_source_sink *sink, struct wk_source *src, const struct wk_event *ev,
                  const void *cursor, size_t cursor_len);
    /** Input that could not be parsed, kept with its reason (quarantine). */
    int (*reject)(struct wk_source_sink *sink, struct wk_source *src, const char *reason,
                  const char *raw, size_t len);
    /**
     * Optional (NULL when the sink has none): store a new cursor (copied) without an
     * event, e.g. once a followed file is finished and forgotten, so that a restart does
     * not look for it. Ordered with the submits; never -EAGAIN. @return 0 or <0 (fatal).
     */
    int (*cursor)(struct wk_source_sink *sink, struct wk_source *src, const void *cursor,
                  size_t cursor_len);
    /**
     * Optional (NULL when the sink has none: use submit): submit by hand-over, without a
     * copy. On 0 the sink has taken everything ev held (fields, strings and the storage
     * they live in, see wk_event_swap) and left ev an EMPTY event (as after
     * wk_event_reset, with recycled storage) that the caller still owns and fills again;
     * on -EAGAIN or another error ev is untouched, as with submit. The cursor is copied.
     * Field names added with wk_event_add_*_sn must be static storage (the event outlives
     * the call, and may outlive the source).
     */
    int (*submit_take)(struct wk_source_sink *sink, struct wk_source *src, struct wk_event *ev,
                       const void *cursor, size_t cursor_len);
};

/**
 * Submit ev by hand-over when the sink can take it (submit_take: ev is left empty, no
 * copy), else by copy (submit: ev unchanged). For a source whose event is its own to give:
 * rebuilt from empty for every event (wk_parser_ops.emits_owned) or about to be freed.
 * @return what submit_take/submit returned.
 */
static inline int wk_source_hand_over(struct wk_source_sink *sink, struct wk_source *src,
                                      struct wk_event *ev, const void *cursor,
                                      size_t cursor_len)
{
    return sink->submit_take ? sink->submit_take(sink, src, ev, cursor, cursor_len)
                             : sink->submit(sink, src, ev, cursor, cursor_len);
}

struct wk_source_status {
    const char *state;       /* "running", "connecting", "backoff", "stopped", "error" */
    uint64_t events;         /* events submitted */
    uint64_t rejected;       /* inputs rejected */
    uint64_t lag_bytes;      /* bytes known but not yet read (files), 0 if unknown */
    int64_t lag_ns;          /* how far behind in time, 0 if unknown */
    bool lag_in_time;        /* a stream: its lag is lag_ns (0: caught up), not bytes */
    char last_error[256];
};

struct wk_source_ops {
    unsigned version; /* WK_SOURCE_OPS_V1 */
    const char *name; /* the `type:` in the config */
    const char *description;
    const struct wk_option *options; /* END-terminated */
    size_t config_size;              /* the struct the options fill */
    /** Whether this host has what the source reads (for the no-config default). */
    bool (*available)(const void *config, char *why, size_t whylen);
    /** Create an instance from a filled config (borrowed for the call). */
    int (*create)(struct wk_source **out, const void *config);
    /** Start on loop, resuming after cursor (NULL/0 when none stored). */
    int (*start)(struct wk_source *src, const void *cursor, size_t cursor_len);
    /** The pipeline has room again after an -EAGAIN. */
    void (*resume)(struct wk_source *src);
    /** Stop reading and close handles; call done(src) once fully closed. */
    void (*stop)(struct wk_source *src, void (*done)(struct wk_source *src));
    /** Free a stopped (or never started) instance. NULL allowed. */
    void (*destroy)(struct wk_source *src);
    /** Fill status (optional). */
    void (*status)(struct wk_source *src, struct wk_source_status *st);
};

/** The registered sources, NULL-terminated. */
const struct wk_source_ops *const *wk_sources(void);
const struct wk_source_ops *wk_source_find(const char *name);

#endif /* WK_SOURCE_H */
