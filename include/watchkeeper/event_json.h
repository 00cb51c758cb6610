/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jansson bridge for events: for code that already holds a json_t (sources decoding JSON,
 * the store's readers). Kept out of event.h so that header needs no jansson.
 */
#ifndef WK_EVENT_JSON_H
#define WK_EVENT_JSON_H

#include <jansson.h>

#include "watchkeeper/event.h"

/**
 * Fill ev (reset first) from a JSON object, as wk_event_from_json().
 * @param[in] obj borrowed. @param[out] err static message on failure (may be NULL).
 * @return 0, WK_EPARSE, -ENOMEM.
 */
int wk_event_from_jansson(struct wk_event *ev, const json_t *obj, const char **err);

/**
 * Build the JSON object of an event.
 * @return a new reference, or NULL on OOM.
 */
json_t *wk_event_to_jansson(const struct wk_event *ev);

/**
 * Add the leaves of a JSON value under a prefix path to record `rec` (ingest of
 * arbitrary JSON; used e.g. for app.* fields of JSON log messages). @return 0 or -errno.
 */
int wk_event_add_jansson(struct wk_event *ev, unsigned rec, const char *prefix,
                         const json_t *value);

#endif /* WK_EVENT_JSON_H */
