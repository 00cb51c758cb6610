/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the docker source shared with the docker-events parser and the tests:
 * building an event from one Engine API /events object.
 */
#ifndef WK_DOCKER_PRIVATE_H
#define WK_DOCKER_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "watchkeeper/event.h"

/**
 * Fill ev (reset first) from one /events object (borrowed): native fields as sent (Type,
 * Action, Actor.ID, Actor.Attributes.<k> with literal dots, scope, time, timeNano, legacy
 * status/id/from), the ECS fields, and event.original = raw.
 * @return 0, WK_EPARSE (*reason set: not an event), -ENOMEM.
 */
int wk__docker_event_build(struct wk_event *ev, const json_t *obj, const char *raw, size_t rawlen,
                           const char *host, const char **reason);

/** Strip RFC 7464 record separators (0x1E) and surrounding blanks from a line. */
void wk__docker_trim(const char **line, size_t *len);

/** The event time in ns of an /events object (timeNano, else time * 1e9), 0 if none. */
int64_t wk__docker_event_time(const json_t *obj);

/**
 * Docker's data root (GET /info, DockerRootDir) asked of the daemon at host, which must be
 * unix:///path (a remote daemon's files are not here). Blocks up to timeout_ms.
 * @return 0 with out set, else -1 with why set (which socket, what failed).
 */
int wk__docker_root_dir(const char *host, long timeout_ms, char *out, size_t outlen, char *why,
                        size_t whylen);

/** curl_global_init, once per process (the docker source and wk__docker_root_dir). */
void wk__docker_curl_init(void);

/** The Engine API address a docker source uses when its `host` is empty: $DOCKER_HOST, else
 * unix:///var/run/docker.sock. */
const char *wk__docker_default_host(void);

#endif /* WK_DOCKER_PRIVATE_H */
