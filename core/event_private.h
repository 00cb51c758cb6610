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
    struct wk_field *fields;
    uint32_t *hashes; /* hashes[i] == fields[i].key.hash: the packed array lookups scan */
    size_t n;
    size_t cap;
    unsigned nrec;
    /* A 256-bit bloom filter over (hash, rec) of the fields present: adding a new name
     * skips the duplicate scan, and looking up an absent field (most lookups rules make)
     * answers without scanning. */
    uint64_t bloom[4];
    struct wk_arena arena;
};

bool wk__utf8_valid(const char *s, size_t len);

static inline unsigned wk__event_bloom_bit(uint32_t hash, unsigned rec)
{
    return (hash ^ (hash >> 16) ^ (rec * 0x9E3779B1u)) & 255u;
}

#endif
