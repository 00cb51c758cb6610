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

/* (Dictionaries of the rebuild form: WK__COLD_DICT_BIT, wk__dict_key in store_private.h.)
 * meta "cold_dict" (u32 LE) names the one the cold tier uses. */

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

/* Check a version table against the registered rebuilds. *older: the registry slots (bits)
 * of the modules whose version in the table is older than the registered one but one it
 * still reads (min_version): the reader clears their new_flags on every rebuilt field;
 * pass it to wk__rebuild_expand / wk__rbsel_open. @return 0, WK_EREBUILD (a module not
 * registered or of a version outside its [min_version, version]: wk_store_rebuild_why
 * tells which once wk__rebuild_why_block named the value), WK_ECORRUPT (malformed). */
int wk__rebuild_vcheck(const uint8_t *tab, size_t len, uint32_t *older);

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
 * other), checking each member's size and records hash against its header. older: from
 * wk__rebuild_vcheck of the value's version table (0: every module of this version).
 * @return 0, WK_ECORRUPT (damaged, or a rebuild not registered), -ENOMEM. */
int wk__rebuild_expand(const uint8_t *hdrs, uint32_t n, const uint8_t *form, size_t flen,
                       uint32_t older, struct wk__buf *out);

/* ---------------------------------------------------------------------------------- */
/* Selective reads (docs/store.md, "Selective reads"): a reader walks a value's form and */
/* rebuilds only the events that may match its filter.                                 */

#define WK__RBQ_MAX 8 /* conditions a pre-check uses (more: the rest is checked after) */

/* One alternative of a condition: field == value (prefix: or value is a prefix of it,
 * the container filter's id prefix). */
struct wk__rbalt {
    const char *field, *value;
    size_t vlen;
    bool prefix; /* (container.id) */
    bool scalar; /* the value's text may be stored as a number, boolean or null */
};
/* The filter's conditions, each of which an event must meet (one of its alternatives). */
struct wk__rbq {
    const char *source; /* event.module, or NULL */
    size_t nconds;
    struct wk__rbcond {
        size_t nalt;
        struct wk__rbalt alt[2];
    } cond[WK__RBQ_MAX];
};

/* read.c: does ev (literal fields of an edit script) have the alternative's value, as the
 * reader's exact check compares it (any record, each list item)? */
bool wk__store_alt_match(const struct wk_event *ev, const struct wk__rbalt *a);

struct wk__rbsel;
struct wk__rbsel_stats {
    uint64_t events, rebuilt, full_members; /* met / rebuilt / members read whole */
};
/* A selective reader for query q (which must outlive it). @return 0 or -ENOMEM. */
int wk__rbsel_new(struct wk__rbsel **out, const struct wk__rbq *q);
struct wk__rbsel *wk__rbsel_free(struct wk__rbsel *s);
/* Open member m of the rebuild value at key (hdrs: its n member headers; form: its
 * decompressed form, kept by the caller until another open; older: wk__rebuild_vcheck's
 * of its version table). Members of one value are best opened in order (an earlier
 * member starts the walk again). @return 0 or <0. */
int wk__rbsel_open(struct wk__rbsel *s, uint64_t key, const uint8_t *hdrs, uint32_t n,
                   const uint8_t *form, size_t flen, uint32_t older, uint32_t m);
/* The next event of the open member that may match: 1 (*ev valid until the next call,
 * *idx its index in the block), 0 (end of the member), WK_ECORRUPT, -ENOMEM. Every event
 * that matches q is returned; others may be: the caller checks each exactly. */
int wk__rbsel_next(struct wk__rbsel *s, const struct wk_event **ev, uint32_t *idx);
const struct wk__rbsel_stats *wk__rbsel_stats(const struct wk__rbsel *s);
/* The rebuild registered for module m (tests: its value_forms), or NULL. */
const struct wk_store_rebuild_ops *wk__rebuild_find(const char *m);
/* Test hook: when set, a pre-check form is left out (1: TEXT, 2: HEX, 4: ESCAPED), the
 * deliberate bug the tests must catch. */
extern unsigned wk__rbsel_test_drop;

#endif /* WK_REBUILD_PRIVATE_H */
