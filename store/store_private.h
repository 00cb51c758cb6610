/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the store shared by store.c (writer), read.c (readers), chain.c (hashes,
 * checkpoints, verify), retention.c and codec.c (the binary event encoding). The on-disk
 * layout is documented in docs/store.md; keep both in step.
 */
#ifndef WK_STORE_PRIVATE_H
#define WK_STORE_PRIVATE_H

#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <zstd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "watchkeeper/error.h"
#include "watchkeeper/mem.h"
#include "watchkeeper/store.h"

/* Block value: a fixed header, then one zstd frame of the records (or two: format 5). */
#define WK__BLK_FORMAT 1u  /* records of format 1 (docs/store.md) */
#define WK__BLK_FORMAT2 2u /* shape table + records of format 2 */
#define WK__BLK_MERGED 3u  /* cold tier: several blocks in one frame (below) */
/* A hot block of format-2 records in two frames (split.c, docs/store.md "Split blocks"):
 * the header's raw size, count and hashes are those of the single-frame form. */
#define WK__BLK_SPLIT 5u
#define WK__BLK_FLAG_COLD 0x01u
/* The records hash is SHA-256 (blocks written before it: BLAKE2b-256, the flag clear).
 * Set by the writer on every new block, kept by the cold tier (a member's header is the
 * block's), covered by the chain hash (chain.c). */
#define WK__BLK_FLAG_SHA256 0x02u
#define WK__BLK_FLAGS_KNOWN (WK__BLK_FLAG_COLD | WK__BLK_FLAG_SHA256)
/* A merged value (key: its first member's id): format (3), flags, u16 header length,
 * u32 member count, u32 dictionary id, u32 0, then each member's own 128-byte header,
 * then one zstd frame of the members' uncompressed bytes one after the other. */
#define WK__MRG_HDR 16u
#define WK__MRG_OFF_COUNT 4
#define WK__MRG_OFF_DICT 8
#define WK__BLK_HDR 128u
#define WK__BLK_OFF_FORMAT 0   /* u8 */
#define WK__BLK_OFF_FLAGS 1    /* u8: WK__BLK_FLAG_* */
#define WK__BLK_OFF_HDRLEN 2   /* u16 LE = 128 */
#define WK__BLK_OFF_COUNT 4    /* u32 LE */
#define WK__BLK_OFF_RAW 8      /* u32 LE */
#define WK__BLK_OFF_DICT 12    /* u32 LE */
#define WK__BLK_OFF_TSMIN 16   /* i64 LE */
#define WK__BLK_OFF_TSMAX 24   /* i64 LE */
#define WK__BLK_OFF_PREV 32    /* 32 bytes */
#define WK__BLK_OFF_RHASH 64   /* 32 bytes: SHA-256 (or BLAKE2b-256) of the raw records */
#define WK__BLK_OFF_HASH 96    /* 32 bytes: this block's chain hash */

/* The oldest schema version this binary opens (WK_STORE_SCHEMA_VERSION: the newest). 1:
 * records hashes all BLAKE2b; 2: new blocks' are SHA-256 (WK__BLK_FLAG_SHA256); 3: alert
 * values may hold a zstd frame (below). */
#define WK__SCHEMA_OLDEST 1u

/* Alert values (docs/store.md "Alert values"): after the refs, the JSON as one zstd frame
 * (schema 3), or as it is (every store before, and JSON a frame would not make smaller).
 * Level 1 with the alert dictionary: trained once WK__ALERT_SAMPLES bytes of the first
 * alerts' JSON are in, at most WK__ALERT_DICT_MAX bytes, stored as meta "adict:" + u32 BE
 * id, its id with WK__ALERT_DICT_BIT (the blocks' ids never have it). */
#define WK__ALERT_LEVEL 1
#define WK__ALERT_SAMPLES (512u << 10)
#define WK__ALERT_DICT_MAX (64u << 10)
#define WK__ALERT_DICT_BIT 0x40000000u
/* Dictionaries of the rebuild form (trained by the cold tier on its first value) have ids
 * with this bit, stored as meta "cdict:" + id (BE): the writer takes the newest "dict:" for
 * its hot blocks. */
#define WK__COLD_DICT_BIT 0x80000000u

/* The meta key of dictionary id: "dict:" (hot blocks), "cdict:" (WK__COLD_DICT_BIT) or
 * "adict:" (WK__ALERT_DICT_BIT), then the id big-endian. @return its length. */
static inline size_t wk__dict_key(uint8_t key[10], uint32_t id)
{
    size_t n = 0;
    if (id & WK__COLD_DICT_BIT)
        key[n++] = 'c';
    else if (id & WK__ALERT_DICT_BIT)
        key[n++] = 'a';
    memcpy(key + n, "dict:", 5);
    n += 5;
    for (int i = 3; i >= 0; i--)
        key[n++] = (uint8_t)(id >> (8 * i));
    return n;
}
/* The largest alert JSON a reader decompresses (a frame's content size says more:
 * WK_ECORRUPT). */
#define WK__ALERT_MAX (64u << 20)
/* Whether an alert value's JSON part p[0..len) is a zstd frame: its magic number. */
static inline bool wk__alert_is_frame(const void *p, size_t len)
{
    static const uint8_t magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
    return len >= 4 && memcmp(p, magic, 4) == 0;
}

#define WK__MAX_EVENT (64u << 20)
#define WK__MAX_SOURCES 16

enum {
    WK__DB_BLOCKS,
    WK__DB_BY_TIME,
    WK__DB_BY_CONTAINER,
    WK__DB_BY_TERM,
    WK__DB_CURSORS,
    WK__DB_ALERTS,
    WK__DB_DELIVERIES,
    WK__DB_CONTAINERS,
    WK__DB_QUARANTINE,
    WK__DB_META,
    WK__DB_COUNT
};

extern const char *const wk__store_db_names[WK__DB_COUNT];

/* A growable byte buffer, kept across uses so the hot path does not allocate. */
struct wk__buf {
    uint8_t *p;
    size_t len, cap;
};
int wk__buf_reserve(struct wk__buf *b, size_t add);
int wk__buf_put(struct wk__buf *b, const void *p, size_t n);
void wk__buf_fini(struct wk__buf *b);

/* Little/big endian helpers. */
static inline void wk__put_u64be(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}
static inline uint64_t wk__get_u64be(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}
static inline void wk__put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}
static inline uint64_t wk__get_u64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static inline void wk__put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}
static inline uint32_t wk__get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
/* Timestamps as big-endian keys that sort like signed integers. */
static inline void wk__put_tskey(uint8_t *p, int64_t ts)
{
    wk__put_u64be(p, (uint64_t)ts ^ (UINT64_C(1) << 63));
}
static inline int64_t wk__get_tskey(const uint8_t *p)
{
    return (int64_t)(wk__get_u64be(p) ^ (UINT64_C(1) << 63));
}

/* codec.c: one event <-> one record body (without its length prefix). */
int wk__store_encode(struct wk__buf *b, const struct wk_event *ev);
int wk__store_decode(const uint8_t *p, size_t len, struct wk_event *ev);
/* One field of format 1 (also the rebuild form's literal fields): encode field i of ev,
 * decode one into ev (rec_max: the highest record number allowed; *items and *citems: the
 * caller's scratch for a list's items, freed by the caller). */
int wk__store_encode_field(struct wk__buf *b, const struct wk_event *ev, size_t i);
int wk__store_decode_field(const uint8_t *p, size_t len, size_t *pos, uint64_t rec_max,
                           struct wk_event *ev, struct wk_str **items, size_t *citems);
/* Records of a block: varint length + body each. Reads one; @return 1, 0 (end), <0. */
int wk__store_next_record(const uint8_t *raw, size_t len, size_t *pos, const uint8_t **body,
                          size_t *blen);
size_t wk__varint_put(uint8_t *p, uint64_t v);
/* Append a varint to a wk__buf; the caller reserved room. */
#define PUTV(b, v) ((b)->len += wk__varint_put((b)->p + (b)->len, (v)))
/* Read a LEB128 varint at *pos (advanced). @return 0 or WK_ECORRUPT (truncated, > 64 bits). */
static inline int wk__varint_get(const uint8_t *p, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*pos >= len)
            return WK_ECORRUPT;
        uint8_t c = p[(*pos)++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return WK_ECORRUPT;
}
static inline uint64_t wk__zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t wk__unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}
/* codec2.c: record format 2. Encode an event's shape descriptor into desc and its
 * values (original first, strings as references into it when found there) into vals. */
int wk__enc2_event(struct wk__buf *desc, struct wk__buf *vals, const struct wk_event *ev);
struct wk__shapes;
/* wk__enc2_event for the writer of the block whose shape table is t: the same bytes. The
 * descriptor is *dp[0..*dl): appended to desc, or for a shape met recently t's memo's
 * copy (desc as it was; valid until the next call with t), which the
 * wk__shapes_intern(t, *dp, *dl) that follows then also uses (no hashing, and the id
 * directly when the shape is already in the table). t NULL: always in desc. */
int wk__enc2_add(struct wk__shapes *t, struct wk__buf *desc, struct wk__buf *vals,
                 const struct wk_event *ev, const uint8_t **dp, size_t *dl);
/* The same bytes by the plain search in order (no wide scan, no memo), for tests. */
int wk__enc2_event_slow(struct wk__buf *desc, struct wk__buf *vals, const struct wk_event *ev);
/* The encoder's scan: 0 not chosen yet (AVX2 when the CPU has it), 1 AVX2, 2 SSE2 (tests
 * set it to cover both). */
extern int wk__enc2_isa;
/* Append one record (length, timestamp delta, shape id, values) to raw, which has room
 * for vlen + 40 bytes; *prev_ts is the block's last timestamp (0 at its start). */
void wk__enc2_record(struct wk__buf *raw, int64_t *prev_ts, int64_t ts, uint32_t sid,
                     const uint8_t *vals, size_t vlen);
/* The same record for values already in raw's spare room, raw->p[at .. at + vlen) with
 * at >= raw->len, raw having room for raw->len + 20 + vlen: the header is written at
 * raw->len and the values moved next to it unless they are there already (at = raw->len +
 * the header's length). */
void wk__enc2_record_at(struct wk__buf *raw, int64_t *prev_ts, int64_t ts, uint32_t sid,
                        size_t at, size_t vlen);

/* The shape table of the block being filled (writer). */
struct wk__shape_ent {
    uint64_t hash;
    size_t off, len; /* descriptor bytes in `bytes` */
};
/* The writer's memo of recent shapes (wk__enc2_add): per entry, a descriptor and what it
 * says of each field, so that an event of a known shape is told by comparing it with the
 * entry instead of writing and hashing its descriptor; and its id in the open block. */
struct wk__memo_field {
    uint64_t name;  /* the key's len and hash as they lie in struct wk_key (8 bytes) */
    uint32_t value; /* the value's kind, flags and rec as in struct wk_value (4 bytes) */
    uint32_t koff;  /* the name's bytes in the entry's desc */
    uint64_t dots;
};
struct wk__shape_memo {
    bool used, hashed, has_sid;
    bool recent;               /* of the two of its set, the one used last */
    uint64_t sig;              /* memo_sig of its events */
    uint32_t nf, nrec, orig;
    uint8_t *desc;             /* the descriptor (dlen bytes) */
    size_t dlen, dcap;
    struct wk__memo_field *f;  /* nf of them */
    size_t fcap;
    uint64_t hash;             /* of desc, when hashed */
    uint64_t gen;              /* sid is its id in the table of this generation */
    uint32_t sid;
};
#define WK__SHAPE_MEMO 256 /* in sets of two */
struct wk__shapes {
    struct wk__buf bytes; /* the table as written: per shape, varint len + descriptor */
    struct wk__shape_ent *ents;
    size_t n, cents;
    uint32_t *slots; /* open addressing: entry index + 1, 0 empty */
    size_t nslots;
    uint64_t gen;    /* + 1 per reset: ids of an older generation are void */
    struct wk__shape_memo *memo; /* WK__SHAPE_MEMO slots, NULL until the first use */
    /* the descriptor wk__enc2_add just gave is memo[hint]'s, when wk__shapes_intern is
     * given hint_p and hint_len (in the writer's buffer or the entry, unchanged in
     * between) */
    const uint8_t *hint_p;
    size_t hint_len;
    uint32_t hint;
};
int wk__shapes_intern(struct wk__shapes *t, const uint8_t *desc, size_t len, uint32_t *id);
/* Append the table section (varint count, varint byte length, entries) to out. */
int wk__shapes_section(const struct wk__shapes *t, struct wk__buf *out);
/* The section's length, and the section written at p (that many bytes of room). */
size_t wk__shapes_section_len(const struct wk__shapes *t);
void wk__shapes_section_put(const struct wk__shapes *t, uint8_t *p);
void wk__shapes_reset(struct wk__shapes *t);
void wk__shapes_fini(struct wk__shapes *t);

/* A decoded block's records, either format: open on the uncompressed bytes (borrowed),
 * then next() per record (its body and timestamp), decode() the ones wanted. */
struct wk__fdesc {
    struct wk_key key;
    uint64_t dots;
    uint32_t rec;
    uint8_t kind, flags;
};
struct wk__shape {
    const uint8_t *desc; /* its descriptor in the block's bytes */
    size_t dlen;
    bool parsed;         /* first, nf, nrec, orig and its fields are known */
    uint32_t first, nf, nrec, orig; /* orig: index + 1 of event.original, 0: none */
};
struct wk__blkview {
    uint8_t format;
    const uint8_t *raw;
    size_t len, start, pos;
    int64_t prev_ts;
    uint32_t sid; /* format 2: shape id of the record next() returned, UINT32_MAX: unread */
    struct wk__shape *shapes;
    size_t nshapes, cshapes;
    struct wk__fdesc *fields;
    size_t nfields, cfields;
};
int wk__blkview_open(struct wk__blkview *v, uint8_t format, const uint8_t *raw, size_t len);
void wk__blkview_rewind(struct wk__blkview *v);
/* @return 1 (a record: body, blen, ts), 0 (end), WK_ECORRUPT. */
int wk__blkview_next(struct wk__blkview *v, const uint8_t **body, size_t *blen, int64_t *ts);
int wk__blkview_decode(struct wk__blkview *v, const uint8_t *body, size_t blen, int64_t ts,
                       struct wk_event *ev);
/* next(), passing over (and counting in *skipped) the records of format 2 whose shape id
 * s < nv has verdict[s] == 2 (a reader's "this shape cannot match"). Format 1: next(). */
int wk__blkview_next_kept(struct wk__blkview *v, const uint8_t *verdict, size_t nv,
                          const uint8_t **body, size_t *blen, int64_t *ts, uint32_t *skipped);
/* Format 2: the shape id of the record next() returned last.
 * @return 1, 0 (format 1: no shapes), WK_ECORRUPT. */
static inline int wk__blkview_shape_id(const struct wk__blkview *v, uint32_t *sid)
{
    if (v->format != WK__BLK_FORMAT2)
        return 0;
    if (v->sid >= v->nshapes)
        return WK_ECORRUPT;
    *sid = v->sid;
    return 1;
}
/* Which of names[0..n) (n <= 64) are field names of shape sid: bit i of *present. Lets a
 * reader rule out, before decoding, records whose fields cannot satisfy a filter.
 * @return 0 or WK_ECORRUPT. */
int wk__blkview_shape_names(const struct wk__blkview *v, uint32_t sid,
                            const char *const *names, const size_t *lens, size_t n,
                            uint64_t *present);
/* Count the records (rewinds). @return 0 or WK_ECORRUPT. */
int wk__blkview_count(struct wk__blkview *v, uint32_t *count);
void wk__blkview_fini(struct wk__blkview *v);

/* a[0..len) == b[0..len), for the short tails of needles (inline: no call per candidate). */
static inline bool wk__same(const uint8_t *a, const uint8_t *b, size_t len)
{
    while (len >= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return false;
        a += 8;
        b += 8;
        len -= 8;
    }
    while (len--) {
        if (*a++ != *b++)
            return false;
    }
    return true;
}

/* A fast hash of bytes for the writer's and the rebuild form's in-memory tables (shapes,
 * interned strings); never stored, so it may change. */
static inline uint64_t wk__hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        h = (h ^ x) * UINT64_C(0x100000001b3);
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    return h ^ (h >> 32);
}

/* Shape descriptors run to kilobytes and recur in every block: caches of what a
 * descriptor holds (the reader's prefilter memo, the split's class cache) hash a sample
 * of it (length, the first and last 32 bytes, 16 in the middle) instead of reading it
 * whole (that was 2% of a key query's instructions); a hit is confirmed by memcmp, so a
 * sample shared by two shapes only costs a recomputed answer. Never stored. */
static inline uint64_t wk__desc_mix(uint64_t h, const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
    return h ^ (h >> 29);
}

static inline uint64_t wk__desc_hash(const uint8_t *p, size_t n)
{
    uint64_t h = UINT64_C(0x9E3779B97F4A7C15) ^ n, w = 0;
    if (n < 80) {
        size_t i = 0;
        for (; i + 8 <= n; i += 8)
            h = wk__desc_mix(h, p + i);
        memcpy(&w, p + i, n - i);
    } else {
        for (size_t i = 0; i < 32; i += 8)
            h = wk__desc_mix(wk__desc_mix(h, p + i), p + n - 32 + i);
        h = wk__desc_mix(wk__desc_mix(h, p + n / 2), p + n / 2 + 8);
    }
    h = (h ^ w) * UINT64_C(0xc4ceb9fe1a85ec53);
    return h ^ (h >> 32);
}

/* memmem, always the FIRST occurrence (the format-2 encoder's references depend on it,
 * docs/store.md), for the encoder and the readers' pre-check alike: 16 start positions at
 * a time are filtered on the needle's first and last bytes (SSE2; a pair rarely both match
 * by chance, unlike the first byte alone), and only those candidates are compared, in
 * order. Inline: both callers search short needles in short haystacks, per field. */
static inline const uint8_t *wk__find(const uint8_t *h, size_t hl, const uint8_t *n, size_t nl)
{
    if (nl == 0)
        return h;
    if (nl > hl)
        return NULL;
    if (nl == 1)
        return memchr(h, n[0], hl);
    const size_t last = hl - nl; /* the last start position */
    const uint8_t c0 = n[0], c1 = n[nl - 1];
    size_t i = 0;
#ifdef __SSE2__
    const __m128i f = _mm_set1_epi8((char)c0), l = _mm_set1_epi8((char)c1);
    for (; i + 15 <= last; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(h + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(h + i + nl - 1));
        unsigned mask = (unsigned)_mm_movemask_epi8(
            _mm_and_si128(_mm_cmpeq_epi8(a, f), _mm_cmpeq_epi8(b, l)));
        while (mask) {
            size_t at = i + (size_t)__builtin_ctz(mask);
            if (wk__same(h + at + 1, n + 1, nl - 2))
                return h + at;
            mask &= mask - 1;
        }
    }
#endif
    for (; i <= last; i++) {
        if (h[i] == c0 && h[i + nl - 1] == c1 && wk__same(h + i + 1, n + 1, nl - 2))
            return h + i;
    }
    return NULL;
}

/* Summary hash of (field, value text) for the per-block container/term summaries. */
uint64_t wk__term_hash(const char *field, size_t flen, const char *val, size_t vlen);
/* The 32-bit form stored in summaries (a collision only adds a candidate block). */
uint32_t wk__term_hash32(const char *field, size_t flen, const char *val, size_t vlen);
/* Text of a scalar value for term comparison: into buf (>= 32 bytes) for numbers. */
bool wk__value_text(const struct wk_value *v, char *buf, const char **s, size_t *len);

/* Dictionaries loaded from meta, shared by readers (immutable once published). */
struct wk__dict {
    uint32_t id;
    ZSTD_DDict *ddict;
    struct wk__dict *next;
};

struct wk__side; /* writer-side held data, store.c */

struct wk_store {
    char *dir;
    MDB_env *env;
    MDB_dbi dbi[WK__DB_COUNT];
    struct wk_store_opts opts;
    bool rdonly;
    uint64_t map_size;
    pthread_rwlock_t maplock; /* readers hold it shared; map growth takes it exclusive */
    pthread_mutex_t dict_mu;
    struct wk__dict *dicts;

    /* Term index configuration: hashes of the indexed field names. */
    size_t nterms;
    char **terms;
    uint64_t term_lens; /* bit n: a term is n bytes long (n < 63); bit 63: one is longer */

    /* Signing key (loaded lazily). */
    char *key_path;
    bool have_key;
    uint8_t sk[64];
    uint8_t pk[32];

    /* Writer state (writer thread only). */
    struct wk__writer *w;

    /* The blocks this process committed, for the per-commit check (chain.c): slot
     * id % WK__WROTE_SLOTS holds (id, keyed SipHash of the value bytes written); id 0 is
     * an empty slot. A block whose stored value still has that MAC need not be
     * decompressed again: its records hash and count were computed by the writer from
     * the bytes it compressed. */
    pthread_mutex_t wrote_mu;
    uint8_t wrote_key[16];
    struct wk__wrote { uint64_t id; uint64_t mac; } wrote[1024];

    char *split_field; /* opts.split_field's copy (NULL: no split) */
};
#define WK__WROTE_SLOTS 1024u

/* chain.c: note a committed block value / its MAC (writer thread). */
void wk__chain_wrote(struct wk_store *st, uint64_t id, const uint8_t *val, size_t vlen);

/* store.c */
/* Grow the map after MDB_MAP_FULL (between transactions; doubles it up to 1 GiB, then
 * +1 GiB, never past opts.map_max). @return 0, WK_EMAP_FULL (at the ceiling), -EBUSY (a
 * reader of this process held its snapshot for 2 s), <0. */
int wk__store_grow(struct wk_store *st);
int wk__store_rdtxn(struct wk_store *st, MDB_txn **txn);
void wk__store_rdtxn_end(struct wk_store *st, MDB_txn *txn);
int wk__mdb_err(int rc);
uint32_t wk__store_dict_id(const struct wk_store *st);
bool wk__store_is_term(const struct wk_store *st, const char *name, size_t len);
/* Decompress a block value into out (reset). @return 0, WK_ECORRUPT, -ENOMEM. */
int wk__store_block_raw(struct wk_store *st, MDB_txn *txn, ZSTD_DCtx *dctx,
                        const uint8_t *val, size_t vlen, struct wk__buf *out);
/* Where block `id` is: its own value, or a member of a merged one. */
struct wk__blkloc {
    const uint8_t *val; /* the LMDB value */
    size_t vlen;
    uint64_t key;        /* its key: the id of its first block */
    const uint8_t *hdr;  /* the block's own 128-byte header */
    uint32_t member, nmembers;
    size_t off, len;     /* its records within the value's uncompressed bytes */
};
/* @return 0, WK_ENOT_FOUND, WK_ECORRUPT, -errno. */
int wk__store_block_find(struct wk_store *st, MDB_txn *txn, uint64_t id, struct wk__blkloc *loc);
/* Describe member `member` of a value read at `key`. @return 0 or WK_ECORRUPT. */
int wk__blkloc_init(uint64_t key, const void *val, size_t vlen, uint32_t member,
                    struct wk__blkloc *loc);
/* The record format (1 or 2) of a block header (a split block's records are format 2). */
static inline uint8_t wk__blk_format(const uint8_t *hdr)
{
    return hdr[WK__BLK_OFF_FORMAT] == WK__BLK_SPLIT ? WK__BLK_FORMAT2 : hdr[WK__BLK_OFF_FORMAT];
}
/* A header copied into a merged value names its record format (the value is one frame). */
static inline void wk__blk_hdr_unsplit(uint8_t *hdr)
{
    if (hdr[WK__BLK_OFF_FORMAT] == WK__BLK_SPLIT)
        hdr[WK__BLK_OFF_FORMAT] = WK__BLK_FORMAT2;
}

/* split.c: split hot blocks (format 5). */
#define WK__SPLIT_FIELD_MAX 255
struct wk__split; /* the writer's scratch */
/* What the writer knows of each record of the block it seals (wk_store_add keeps one per
 * record): the split then reads no record but the first of each run of records in the
 * same frame, and copies each run whole. */
struct wk__split_rec {
    uint32_t off; /* where the record starts, from the first record's start */
    uint32_t sid; /* its shape id */
    int64_t ts;   /* its timestamp */
};
/* Compress the block bp[0..blen) (shape table + records of format 2) into val after its
 * first hdr bytes (val->len = hdr + payload; val reset): when field (NULL or "": never) is
 * set and both some records' shapes have it and some do not, as two frames (*format =
 * WK__BLK_SPLIT), else one (WK__BLK_FORMAT2). cctx's parameters and dictionary apply to
 * both. recs[0..nrec): the block's records as the writer added them (NULL: found by
 * walking the records; the bytes written are the same). *sp: scratch, created on first
 * use, freed by wk__split_free. @return 0, <0. */
int wk__split_compress(struct wk__split **sp, ZSTD_CCtx *cctx, const char *field,
                       const uint8_t *bp, size_t blen, const struct wk__split_rec *recs,
                       size_t nrec, struct wk__buf *val, size_t hdr, uint8_t *format);
struct wk__split *wk__split_free(struct wk__split *s);
/* The parts of a split value (pointers into it). */
struct wk__splitv {
    uint32_t count, raw;   /* of the block (header) */
    const char *field;     /* the split field (flen bytes) */
    size_t flen;
    uint32_t na;           /* records in the first frame */
    size_t rawa, rawb;     /* bytes of each frame's content */
    const uint8_t *map;    /* the order map: na varints */
    size_t maplen;
    const uint8_t *fa, *fb; /* the frames */
    size_t fa_len, fb_len;
};
/* @return 0 or WK_ECORRUPT. */
int wk__split_parse(const uint8_t *val, size_t vlen, struct wk__splitv *sv);
/* A split value's bytes in the single-frame form (out reset), checking that each record
 * is in the frame its shape says. dd: the header's dictionary (NULL: none).
 * @return 0, WK_ECORRUPT, -ENOMEM. */
int wk__split_raw(ZSTD_DCtx *dctx, const ZSTD_DDict *dd, const uint8_t *val, size_t vlen,
                  struct wk__buf *out);
/* The first frame alone: its content (shape table + the field's records, a format-2 block
 * of its own) into out (reset), the block index of each of its records into idx (room for
 * sv->na). @return 0, WK_ECORRUPT, -ENOMEM. */
int wk__split_first(ZSTD_DCtx *dctx, const ZSTD_DDict *dd, const struct wk__splitv *sv,
                    struct wk__buf *out, uint32_t *idx);

/* chain.c */
void wk__chain_hash(uint64_t id, const uint8_t *hdr, uint8_t out[32]);
/* The records hash of raw[0..len), the uncompressed records of the block whose header is
 * hdr: SHA-256 when its flags have WK__BLK_FLAG_SHA256, else BLAKE2b-256.
 * @return 0, WK_EUNSUPPORTED (libcrypto has no SHA-256, or failed). Thread-safe. */
int wk__records_hash(const uint8_t *hdr, const uint8_t *raw, size_t len, uint8_t out[32]);
/* Whether new blocks get a SHA-256 records hash: where the CPU has SHA-256 instructions
 * (x86-64's SHA extensions, ARMv8's SHA2), libcrypto's SHA-256 is 2.7x libsodium's
 * BLAKE2b here; without them its SHA-256 is slower than BLAKE2b, which those CPUs keep
 * (docs/store.md "Records hash"). wk__records_alg, test-only, overrides the choice. */
bool wk__records_sha256(void);
enum { WK__RH_AUTO, WK__RH_BLAKE2B, WK__RH_SHA256 };
extern int wk__records_alg;
int wk__key_load(struct wk_store *st, bool create);
int wk__checkpoint_put(struct wk_store *st, MDB_txn *txn, uint64_t id, const uint8_t *hash);

#endif /* WK_STORE_PRIVATE_H */
