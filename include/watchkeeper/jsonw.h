/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A JSON writer into a growing buffer, byte for byte what jansson's compact dump writes,
 * and an event's JSON form (event_json.h) written with it directly, without building a
 * jansson tree: the output path of `query --format jsonl` (core/jsonw.c).
 */
#ifndef WATCHKEEPER_JSONW_H
#define WATCHKEEPER_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "watchkeeper/event.h"

struct wk__jsonw_node;

/**
 * The writer: p[0..len) is the text written so far, NUL-terminated (when p is not NULL).
 * Zero it to start (or wk_jsonw_init); one writer per thread; wk_jsonw_fini frees it.
 * oom: an allocation failed; writes since are dropped (wk_jsonw_event reports -ENOMEM).
 */
struct wk_jsonw {
    char *p;
    size_t len, cap;
    bool oom;
    /* scratch of wk_jsonw_event, kept for the next event */
    struct wk__jsonw_node *nodes;
    size_t nnodes, cnodes;
    uint32_t *slots;
    size_t nslots;
    char *bin;
    size_t binlen, bincap;
    void *flat; /* per field and per record arrays of the records written flat */
    size_t flatcap;
    /* the last time formatted (ts_len 0: none): an alert and its event share theirs */
    int64_t ts_ns;
    size_t ts_len;
    char ts[40];
};

void wk_jsonw_init(struct wk_jsonw *w);
void wk_jsonw_fini(struct wk_jsonw *w);
/** Empty the text (keeps the memory), clear oom. */
void wk_jsonw_reset(struct wk_jsonw *w);
/** Append n raw bytes. */
void wk_jsonw_put(struct wk_jsonw *w, const char *s, size_t n);
/**
 * Append s[0..n) as a JSON string as jansson writes it: quotes, \" \\ \b \f \n \r \t,
 * other bytes below 0x20 as \u00XX (upper-case hex), everything else as is (the caller
 * gives valid UTF-8, as jansson requires).
 */
void wk_jsonw_str(struct wk_jsonw *w, const char *s, size_t n);
/** Append an integer in decimal. */
void wk_jsonw_int(struct wk_jsonw *w, int64_t v);
/**
 * Append the time ns as a JSON string of its RFC 3339 form (wk_time_format), formatted
 * once for the same time written again (an alert's and its event's).
 */
void wk_jsonw_time(struct wk_jsonw *w, int64_t ns);
/**
 * Append the event's JSON form: exactly the bytes of wk_event_to_json (event_json.h).
 * @return 0; -ENOMEM; or, for an event wk_event_to_json refuses, its error (nothing is
 * appended then).
 */
int wk_jsonw_event(struct wk_jsonw *w, const struct wk_event *ev);

#endif
