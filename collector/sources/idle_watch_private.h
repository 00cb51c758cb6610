/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Idle mode of the file-tailing sources: after a few polls that found nothing new, a
 * source stops polling at its read cadence, arms an inotify watch (libuv fs event) on the
 * directory of its file and polls only at a slow safety interval; the first change in the
 * directory (growth, truncation, rotation, creation) wakes it at once.
 */
#ifndef WK_COLLECTOR_IDLE_WATCH_PRIVATE_H
#define WK_COLLECTOR_IDLE_WATCH_PRIVATE_H

#include <stdbool.h>
#include <uv.h>

/* Quiet polls in a row before a source goes idle. */
#define WK_IDLE_QUIET_POLLS 3
/* From the first change seen while idle to the read (ms): a writer's burst (auditd writes
 * an event's records one by one) is read whole rather than cut after its first write. */
#define WK_IDLE_WAKE_MS 10

struct wk__idle_watch {
    uv_fs_event_t h;
    char *dir;     /* directory of the followed file */
    bool armed;    /* the watch is started */
    bool failed;   /* inotify unavailable here: never idle (poll as configured) */
    void (*wake)(struct wk__idle_watch *w); /* loop thread, after the watch is disarmed */
    void *data;
    void (*closed)(struct wk__idle_watch *w);
};

/**
 * Set up (not armed) a watch on the directory of file_path.
 * @param wake called on the loop thread when something changed in that directory, the
 *        watch already disarmed. @return 0 or -ENOMEM. Close with wk__idle_watch_close.
 */
int wk__idle_watch_init(struct wk__idle_watch *w, uv_loop_t *loop, const char *file_path,
                        void (*wake)(struct wk__idle_watch *w), void *data);

/** Arm the watch. @return true when armed (false: inotify failed; stay polling). */
bool wk__idle_watch_arm(struct wk__idle_watch *w);

/** Disarm the watch (no-op when not armed). */
void wk__idle_watch_disarm(struct wk__idle_watch *w);

/**
 * Disarm and close the handle; closed(w) is called from the loop once it is closed (the
 * owner may then free w). Safe on a watch that failed to initialise (dir NULL): closed
 * is still called, from the loop.
 */
void wk__idle_watch_close(struct wk__idle_watch *w, void (*closed)(struct wk__idle_watch *w));

#endif
