/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The idle-mode watch of the file-tailing sources (auditd, file_jsonl): an inotify watch
 * on the directory of the followed file, armed only while the source is idle, so an
 * active source pays nothing for it and an idle one wakes on the first change.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "watchkeeper/mem.h"

#include "idle_watch_private.h"

static void on_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    (void)filename;
    (void)events;
    struct wk__idle_watch *w = wk_container_of(h, struct wk__idle_watch, h);
    if (!w->armed)
        return;
    if (status < 0) {
        /* The watch broke (e.g. the directory went away): poll as configured. */
        w->failed = true;
    }
    wk__idle_watch_disarm(w);
    w->wake(w);
}

int wk__idle_watch_init(struct wk__idle_watch *w, uv_loop_t *loop, const char *file_path,
                        void (*wake)(struct wk__idle_watch *w), void *data)
{
    memset(w, 0, sizeof(*w));
    w->wake = wake;
    w->data = data;
    uv_fs_event_init(loop, &w->h);
    const char *sl = strrchr(file_path, '/');
    w->dir = sl == file_path ? strdup("/") : sl ? strndup(file_path, (size_t)(sl - file_path))
                                                : strdup(".");
    if (!w->dir) {
        w->failed = true;
        return -ENOMEM;
    }
    return 0;
}

bool wk__idle_watch_arm(struct wk__idle_watch *w)
{
    if (w->armed)
        return true;
    if (w->failed || !w->dir)
        return false;
    if (uv_fs_event_start(&w->h, on_event, w->dir, 0) < 0) {
        w->failed = true; /* no inotify here, or out of watches: keep polling */
        return false;
    }
    w->armed = true;
    return true;
}

void wk__idle_watch_disarm(struct wk__idle_watch *w)
{
    if (!w->armed)
        return;
    uv_fs_event_stop(&w->h);
    w->armed = false;
}

static void on_closed(uv_handle_t *h)
{
    struct wk__idle_watch *w = wk_container_of((uv_fs_event_t *)h, struct wk__idle_watch, h);
    if (w->closed)
        w->closed(w);
}

void wk__idle_watch_close(struct wk__idle_watch *w, void (*closed)(struct wk__idle_watch *w))
{
    wk__idle_watch_disarm(w);
    free(w->dir);
    w->dir = NULL;
    w->closed = closed;
    uv_close((uv_handle_t *)&w->h, on_closed);
}
