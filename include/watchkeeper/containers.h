/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container table: what watchkeeper knows about each container (id -> name, image,
 * image id, labels, pod, security facts from inspection, first/last seen), shared by the
 * docker source (which fills it), the clog source and the auditd source (which read it to
 * set container.name / container.image.name). Entries are kept after the container is
 * removed (`removed` is set), so late events still name it. Each entry exports to and
 * imports from one JSON object: the pipeline persists it in the store's `containers` db.
 *
 * Caveats: not thread-safe — use it from the loop thread only. Lookups are linear over a
 * packed array (hundreds of containers; fine), by full id, id prefix (>= 12 hex) or name.
 */
#ifndef WK_CONTAINERS_H
#define WK_CONTAINERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "watchkeeper/event.h"

struct wk_container {
    char id[65];        /* full 64-hex id, NUL-terminated */
    char *name;         /* without the leading '/'; NULL when unknown */
    char *image;        /* Config.Image (the reference the user gave) */
    char *image_id;     /* Image ("sha256:...") */
    char *pod;          /* io.kubernetes.pod.name label, or from a CRI path */
    char *namespace_;   /* io.kubernetes.pod.namespace label, or from a CRI path */
    char *log_path;     /* LogPath from inspection */
    json_t *labels;     /* object label -> string (owned; may be NULL) */
    json_t *facts;      /* object of the docker.container.* facts (owned; may be NULL) */
    int64_t first_seen; /* ns */
    int64_t last_seen;  /* ns */
    int64_t removed;    /* ns when destroyed, 0 while it exists */
    int pid;            /* State.Pid when running, 0 otherwise */
};

struct wk_containers;

/**
 * The process-wide table the live sources share (created on first use; loop thread only).
 * @return the table, or NULL on OOM.
 */
struct wk_containers *wk_containers_shared(void);
/** Free the shared table (at exit; for leak-free tests). */
void wk_containers_shared_free(void);

/** Create an empty table. @return 0, -ENOMEM. */
int wk_containers_new(struct wk_containers **out);
/** Free the table and its entries (NULL allowed). @return NULL. */
struct wk_containers *wk_containers_free(struct wk_containers *t);

/** Number of entries. */
size_t wk_containers_count(const struct wk_containers *t);
/** The i-th entry (insertion order), borrowed; NULL when out of range. */
struct wk_container *wk_containers_at(const struct wk_containers *t, size_t i);

/**
 * Look up by full id, or by an unambiguous id prefix of at least 12 hex digits.
 * @return the entry (borrowed, valid until removed from the table) or NULL.
 */
struct wk_container *wk_containers_get(const struct wk_containers *t, const char *id, size_t len);
/** Look up by name (with or without leading '/'); the live one wins over removed ones. */
struct wk_container *wk_containers_find_name(const struct wk_containers *t, const char *name);
/**
 * Get or create the entry for a full 64-hex id. @param now ns, sets first_seen on
 * creation and last_seen always. @return the entry or NULL (-ENOMEM, or id not 64 hex).
 */
struct wk_container *wk_containers_upsert(struct wk_containers *t, const char *id, int64_t now);

/**
 * Fill (or create) an entry from a GET /containers/{id}/json object (borrowed): identity,
 * labels, pod, and the security facts (docs/docker.md lists them).
 * @param[out] out the entry (may be NULL). @return 0, WK_EPARSE (no valid Id), -ENOMEM.
 */
int wk_containers_from_inspect(struct wk_containers *t, const json_t *inspect, int64_t now,
                               struct wk_container **out);

/**
 * Add container.name, container.image.name (when the event has none) and, when `facts`,
 * every docker.container.* fact to ev. @return 0, -ENOMEM.
 */
int wk_container_enrich_event(const struct wk_container *c, struct wk_event *ev, bool facts);

/** Export one entry as a compact JSON object (malloc'd). @return 0, -ENOMEM. */
int wk_container_to_json(const struct wk_container *c, char **out, size_t *len);
/**
 * Import one entry from what wk_container_to_json wrote (replaces an existing entry of
 * the same id). @return 0, WK_EPARSE, -ENOMEM.
 */
int wk_containers_import_json(struct wk_containers *t, const char *json, size_t len);

#endif /* WK_CONTAINERS_H */
