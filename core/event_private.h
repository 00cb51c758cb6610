/* SPDX-License-Identifier: Apache-2.0 */
/* The event's layout, shared by event.c and event_json.c only. */
#ifndef WK_EVENT_PRIVATE_H
#define WK_EVENT_PRIVATE_H

#include <string.h>

#include "watchkeeper/event.h"
#include "watchkeeper/mem.h"

/* An arena chunk (core/mem.c; here for wk_event_prefetch, which reads where the chunk
 * being filled starts). */
struct wk_arena_chunk {
    struct wk_arena_chunk *next;
    size_t size; /* usable bytes in data[] */
    _Alignas(8) unsigned char data[];
};

#define WK__ARENA_MIN_CHUNK 4096u /* the least usable bytes of a chunk */

#define WK_EVENT_MAX_FIELDS 65535u
#define WK_EVENT_MAX_RECORDS 65535u

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
    size_t room;   /* min(cap, WK_EVENT_MAX_FIELDS), 0 without a table: the add fast path's
                    * one bound check */
    uint32_t gen;  /* 1..65535 */
    struct wk_arena arena;
};

/** Whether s[0..len) is valid UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF), byte by byte: wk__utf8_valid's general path. */
bool wk__utf8_valid_full(const char *s, size_t len);

/* Whether s[0..len) is valid UTF-8. Inline for what most strings are, ASCII: the high bits
 * of all bytes at once (8 at a time, the last word overlapping the one before; short
 * strings in one or two loads); anything else takes wk__utf8_valid_full. */
static inline bool wk__utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    const uint64_t high = UINT64_C(0x8080808080808080);
    uint64_t acc;
    if (len >= 8) {
        uint64_t x;
        acc = 0;
        for (size_t i = 0; i + 8 < len; i += 8) {
            memcpy(&x, s + i, 8);
            acc |= x;
            if (acc & high)
                return wk__utf8_valid_full(str, len);
        }
        memcpy(&x, s + len - 8, 8);
        acc |= x;
    } else if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + len - 4, 4);
        acc = a | b;
    } else {
        acc = len ? (uint64_t)(s[0] | s[len >> 1] | s[len - 1]) : 0; /* all of 1..3 bytes */
    }
    return !(acc & high) || wk__utf8_valid_full(str, len);
}
/* Append "/" and one JSON-pointer segment (RFC 6901: '~' -> "~0", '/' -> "~1") to
 * buf[0..*len), NUL-terminated, within cap bytes. @return 0 or -ENAMETOOLONG. */
int wk__json_ptr_push(char *buf, size_t cap, size_t *len, const char *seg, size_t seglen);
/** Heap bytes of an arena's chunks, those in use and those kept for reuse (core/mem.c). */
size_t wk__arena_bytes(const struct wk_arena *a);


#endif
