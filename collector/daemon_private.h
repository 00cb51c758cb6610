/* SPDX-License-Identifier: Apache-2.0 */
/* Internal pieces of the daemon shared between daemon.c and api.c. */
#ifndef WK_DAEMON_PRIVATE_H
#define WK_DAEMON_PRIVATE_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

struct wk_api;

/**
 * Serve GET /status on a unix socket at path, driven from loop (libmicrohttpd without an
 * internal thread: its epoll fd is watched by a uv_poll_t, its timeout by a uv_timer_t).
 * status() is called on the loop thread and returns a new reference.
 * @return 0 or -errno (err says which step failed).
 */
int wk__api_start(struct wk_api **out, uv_loop_t *loop, const char *path,
                  json_t *(*status)(void *arg), void *arg, char *err, size_t errlen);
/** Stop serving, remove the socket file; handles close asynchronously. NULL allowed. */
void wk__api_stop(struct wk_api *api);

#endif
