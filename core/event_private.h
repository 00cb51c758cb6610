/* SPDX-License-Identifier: Apache-2.0 */
/* The event's layout, shared by event.c and event_json.c only. */
#ifndef WK_EVENT_PRIVATE_H
#define WK_EVENT_PRIVATE_H

#include "watchkeeper/event.h"
#include "watchkeeper/mem.h"

#define WK_EVENT_MAX_FIELDS 65535u
#define WK_EVENT_MAX_RECORDS 65535u

struct wk_field {
    struct wk_key key; /* name points into the arena (or static storage) */
    uint64_t dots;     /* literal dots mask */
    struct wk_value v;
};

struct wk_event {
    int64_t ts;
    /* fields, hashes and idx are one allocation (fields[cap], hashes[cap], idx[2 * cap],
     * from fields): a fresh event's table is one malloc, and freeing fields frees all */
    struct wk_field *fields;
    uint32_t *hashes; /* hashes[i] == fields[i].key.hash: the packed array lookups scan */
    size_t n;
    size_t cap;
    unsigned nrec;
    /* An open-addressing index over (hash, rec), twice the field capacity so it is at
     * most half full: lookups (every rule's) and the duplicate check of every add are
     * O(1) whatever the event's size. An entry is gen << 16 | (field number + 1); entries
     * of an older generation are empty, so a reset is gen++ rather than a memset. */
    uint32_t *idx;
    size_t idxcap; /* power of two, 2 * cap */
    uint32_t gen;  /* 1..65535 */
    struct wk_arena arena;
};

bool wk__utf8_valid(const char *s, size_t len);
/* Append "/" and one JSON-pointer segment (RFC 6901: '~' -> "~0", '/' -> "~1") to
 * buf[0..*len), NUL-terminated, within cap bytes. @return 0 or -ENAMETOOLONG. */
int wk__json_ptr_push(char *buf, size_t cap, size_t *len, const char *seg, size_t seglen);
/** Heap bytes of an arena's chunks, those in use and those kept for reuse (core/mem.c). */
size_t wk__arena_bytes(const struct wk_arena *a);


#endif
