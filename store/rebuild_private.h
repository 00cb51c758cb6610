/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rebuild values (block format 4, docs/store.md "Rebuild values"): the cold tier's form
 * that keeps per event only what the source's parser cannot rebuild from event.original.
 * rebuild.c encodes blocks of format-2 records into it and expands it back, exactly.
 */
#ifndef WK_REBUILD_PRIVATE_H
#define WK_REBUILD_PRIVATE_H

#include "store_private.h"

/* A cold value in rebuild form: the layout of a merged value (WK__BLK_MERGED), whose frame
 * holds the rebuild form of its members instead of their records. */
#define WK__BLK_REBUILT 4u

/* Dictionaries of the rebuild form (trained by the cold tier on its first value) have ids
 * with this bit, stored as meta "cdict:" + id (BE): the writer takes the newest "dict:" for
 * its hot blocks. meta "cold_dict" (u32 LE) names the one the cold tier uses. */
#define WK__COLD_DICT_BIT 0x80000000u
static inline size_t wk__dict_key(uint8_t key[10], uint32_t id)
{
    size_t n = 0;
    if (id & WK__COLD_DICT_BIT)
        key[n++] = 'c';
    memcpy(key + n, "dict:", 5);
    n += 5;
    for (int i = 3; i >= 0; i--)
        key[n++] = (uint8_t)(id >> (8 * i));
    return n;
}

/* Is any rebuild registered (the cold tier then tries the form)? */
bool wk__rebuild_enabled(void);

/* Test hook: when set, the compactor's check of each event's reproduction fails for the
 * events this returns true for (the event must then be stored whole). */
extern bool (*wk__rebuild_test_spoil)(const struct wk_event *ev);

struct wk__rebuild_stats {
    uint64_t rebuilt, whole; /* events in rebuild form / stored whole */
    uint32_t modules;        /* registry slots (bits) of the rebuilt events' modules */
    uint64_t dict_bytes;     /* totals only: the size of the form dictionary last used */
};

/* A rebuild value's version table (docs/store.md, "Rebuild versions") sits after its
 * member headers; the u32 LE at this offset of the value is its byte length (0: none). */
#define WK__MRG_OFF_VTAB 12
#define WK__VTAB_MAX 1024

/* The version table of the registered modules in bits `modules` into out (cap bytes).
 * @return its length (0: does not fit). */
size_t wk__rebuild_vtab(uint32_t modules, uint8_t *out, size_t cap);

/* Check a version table against the registered rebuilds. @return 0, WK_EREBUILD (a module
 * not registered or of another version: wk_store_rebuild_why tells which once
 * wk__rebuild_why_block named the value), WK_ECORRUPT (malformed). */
int wk__rebuild_vcheck(const uint8_t *tab, size_t len);

/* Name the value (first block, blocks) of this thread's last WK_EREBUILD. */
void wk__rebuild_why_block(uint64_t first, uint32_t n);
/* Totals of the values the cold tier wrote in this process (writer thread; tests, bench). */
extern struct wk__rebuild_stats wk__rebuild_totals;

/* Encode n members (headers hdrs, n × 128 bytes; records raw, their raw sizes one after
 * the other, all format 2) into form (reset). Each event is reproduced right after it is
 * encoded, with the reader's code, and kept whole when that differs in any byte.
 * @return 0, -ENOMEM, WK_ECORRUPT (a member that does not parse), -EINVAL (a member not
 * of format 2: the caller merges without the form). */
int wk__rebuild_encode(const uint8_t *hdrs, uint32_t n, const uint8_t *raw, size_t rawlen,
                       struct wk__buf *form, struct wk__rebuild_stats *stats);

/* The value's tables in a form written by wk__rebuild_encode: the strings and tuples that
 * lead its first block's stream (the cold dictionary's training puts them in its content).
 * @return their length (0: none), *off where they start. */
size_t wk__rebuild_form_tables(const uint8_t *form, size_t len, size_t *off);

/* Expand a form back into the members' records (out reset; their raw sizes one after the
 * other), checking each member's size and records hash against its header.
 * @return 0, WK_ECORRUPT (damaged, or a rebuild not registered), -ENOMEM. */
int wk__rebuild_expand(const uint8_t *hdrs, uint32_t n, const uint8_t *form, size_t flen,
                       struct wk__buf *out);

#endif /* WK_REBUILD_PRIVATE_H */
