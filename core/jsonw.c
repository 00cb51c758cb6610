/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A JSON writer with jansson's compact bytes, and the event's JSON form written with it
 * directly: the same bytes as wk_event_to_json (event_json.c builds a jansson tree and
 * dumps it: 143k instructions per benchmark event; this writes them in 24k). What it does
 * not write itself (names over 1000 bytes, what jansson refuses) it leaves to
 * wk_event_to_json, so the bytes and the refusals stay that function's.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "event_private.h"
#include "watchkeeper/event_json.h"
#include "watchkeeper/jsonw.h"
#include "watchkeeper/timefmt.h"

/* ---------- the writer ---------- */

void wk_jsonw_init(struct wk_jsonw *w)
{
    memset(w, 0, sizeof(*w));
}

void wk_jsonw_fini(struct wk_jsonw *w)
{
    if (!w)
        return;
    free(w->p);
    free(w->nodes);
    free(w->slots);
    free(w->bin);
    free(w->flat);
    memset(w, 0, sizeof(*w));
}

void wk_jsonw_reset(struct wk_jsonw *w)
{
    w->len = 0;
    w->oom = false;
    if (w->p)
        w->p[0] = '\0';
}

/* Room for add more bytes and the NUL after them. */
static bool grow(struct wk_jsonw *w, size_t add)
{
    if (w->oom)
        return false;
    size_t cap = w->cap ? w->cap : 1024;
    while (cap < w->len + add + 1) {
        if (cap > SIZE_MAX / 2) {
            w->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(w->p, cap);
    if (!p) {
        w->oom = true;
        return false;
    }
    w->p = p;
    w->cap = cap;
    return true;
}

static inline bool reserve(struct wk_jsonw *w, size_t add)
{
    return (!w->oom && w->len + add + 1 <= w->cap) || grow(w, add);
}

void wk_jsonw_put(struct wk_jsonw *w, const char *s, size_t n)
{
    if (!reserve(w, n))
        return;
    memcpy(w->p + w->len, s, n);
    w->len += n;
    w->p[w->len] = '\0';
}

#define LIT(w, s) wk_jsonw_put(w, s, sizeof(s) - 1)

static inline void put1(struct wk_jsonw *w, char c)
{
    if (!reserve(w, 1))
        return;
    w->p[w->len++] = c;
    w->p[w->len] = '\0';
}

/* The bytes of x needing an escape (< 0x20, '"', '\\'): the high bit of each such byte is
 * set. The lowest one set is exact (the first in memory: little-endian loads); a byte after
 * one that truly qualifies may be flagged falsely (a borrow), which does not matter as
 * only the first is used. */
static inline uint64_t esc8_mask(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
    return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & high;
}

/* The n < 8 bytes of s in one word (some twice), the rest 'A' (needs no escape): loads
 * of fixed size, no loop or call per byte (most keys and values are short). */
static inline uint64_t load_short(const char *s, size_t n)
{
    uint32_t a, z;
    uint16_t c, y;
    if (n >= 4) {
        memcpy(&a, s, 4);
        memcpy(&z, s + n - 4, 4);
        return a | (uint64_t)z << 32;
    }
    if (n >= 2) {
        memcpy(&c, s, 2);
        memcpy(&y, s + n - 2, 2);
        return c | (uint64_t)y << 16 | UINT64_C(0x41414141) << 32;
    }
    return n ? (unsigned char)s[0] | UINT64_C(0x41414141414141) << 8 : UINT64_C(0x4141414141414141);
}

/* The 0 < n < 8 bytes of s in place (byte k of s is byte k of the word: overlapping loads
 * OR the same bytes together), the bytes from n on 'A'. */
static inline uint64_t load_tail(const char *s, size_t n)
{
    const uint64_t fill = UINT64_C(0x4141414141414141) << (8 * n);
    uint32_t a, z;
    uint16_t c, y;
    if (n >= 4) {
        memcpy(&a, s, 4);
        memcpy(&z, s + n - 4, 4);
        return a | (uint64_t)z << (8 * (n - 4)) | fill;
    }
    if (n >= 2) {
        memcpy(&c, s, 2);
        memcpy(&y, s + n - 2, 2);
        return c | (uint64_t)y << (8 * (n - 2)) | fill;
    }
    return (unsigned char)s[0] | fill;
}

static inline void copy_short(char *o, const char *s, size_t n)
{
    if (n >= 4) {
        memcpy(o, s, 4);
        memcpy(o + n - 4, s + n - 4, 4);
    } else if (n >= 2) {
        memcpy(o, s, 2);
        memcpy(o + n - 2, s + n - 2, 2);
    } else if (n) {
        o[0] = s[0];
    }
}

#ifdef __SSE2__
/* The bytes of x needing an escape, one bit each (bit k: byte k), exact. */
static inline unsigned esc16_bits(__m128i x)
{
    __m128i ctl = _mm_cmpeq_epi8(_mm_subs_epu8(x, _mm_set1_epi8(0x1f)), _mm_setzero_si128());
    __m128i q = _mm_cmpeq_epi8(x, _mm_set1_epi8('"'));
    __m128i bs = _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(ctl, _mm_or_si128(q, bs)));
}

/* The bytes of s[0..16) needing an escape, one bit each (bit k: s[k]), exact. */
static inline unsigned esc16_mask(const char *s)
{
    return esc16_bits(_mm_loadu_si128((const __m128i *)(const void *)s));
}
#endif

/* What an escaped byte becomes (jansson's forms): 2 or 6 bytes, padded to 8. */
struct esc_form {
    char s[8];
    uint8_t len;
};
static const struct esc_form *esc_form(unsigned char c)
{
#define U(x) [0x##x] = { "\\u00" #x "\0", 6 }
    /* by the byte (only those needing an escape are looked up): no branch */
    static const struct esc_form tab['\\' + 1] = {
        U(00), U(01), U(02), U(03), U(04), U(05), U(06), U(07),
        [8] = { "\\b", 2 }, [9] = { "\\t", 2 }, [10] = { "\\n", 2 }, U(0B),
        [12] = { "\\f", 2 }, [13] = { "\\r", 2 }, U(0E), U(0F),
        U(10), U(11), U(12), U(13), U(14), U(15), U(16), U(17),
        U(18), U(19), U(1A), U(1B), U(1C), U(1D), U(1E), U(1F),
        ['"'] = { "\\\"", 2 }, ['\\'] = { "\\\\", 2 },
    };
#undef U
    return &tab[c];
}

/* Runs of bytes that need no escape are found a word (or 16 or 32 bytes with SSE2) at a
 * time and copied whole; the bytes needing an escape in a word are found by their bits
 * (ctz), so an escape costs the same wherever it is. Room: n + 2 up front, then at each
 * escape (per 32-byte chunk with escapes) the rest, the escapes and the quote (checked
 * against the end, reserved only when short). */
void wk_jsonw_str(struct wk_jsonw *w, const char *s, size_t n)
{
    if (n > SIZE_MAX / 8 || !reserve(w, n + 2))
        return;
    char *o = w->p + w->len, *end = w->p + w->cap;
    *o++ = '"';
    size_t i = 0;
#ifdef __SSE2__
    /* While 64 bytes are left, 32 at a time: a clean chunk (most of the kilobytes of an
     * alert's event: its command line, its original records) is copied with one branch;
     * a chunk with escapes is done from its one mask, each escape's run before it copied
     * 32 bytes at a time (the input has 32 more, the output room for them: n - i + 2 at
     * least), then its form. */
    while (i + 64 <= n) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i z = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16));
        unsigned m = esc16_bits(a) | esc16_bits(z) << 16;
        if (!m) {
            _mm_storeu_si128((__m128i *)(void *)o, a);
            _mm_storeu_si128((__m128i *)(void *)(o + 16), z);
            i += 32;
            o += 32;
            continue;
        }
        size_t c0 = i;
        /* room for the rest and for this chunk's escapes (5 more bytes each at most, and
         * the 8 and 32 bytes the copies may write past what they keep) */
        if ((size_t)(end - o) < n - i + 8 * 32) {
            w->len = (size_t)(o - w->p);
            if (!reserve(w, n - i + 8 * 32))
                return;
            o = w->p + w->len;
            end = w->p + w->cap;
        }
        do {
            size_t at = c0 + (unsigned)__builtin_ctz(m);
            memcpy(o, s + i, 32);
            o += at - i;
            const struct esc_form *f = esc_form((unsigned char)s[at]);
            i = at + 1;
            memcpy(o, f->s, 8);
            o += f->len;
            m &= m - 1;
        } while (m);
        memcpy(o, s + i, 32);
        o += c0 + 32 - i;
        i = c0 + 32;
    }
#endif
    for (;;) {
#ifdef __SSE2__
        while (i + 16 <= n) {
            unsigned m = esc16_mask(s + i);
            memcpy(o, s + i, 16); /* room: n - i + 2 >= 16 */
            if (m) {
                unsigned k = (unsigned)__builtin_ctz(m);
                i += k;
                o += k;
                goto escape;
            }
            i += 16;
            o += 16;
        }
#endif
        while (i + 8 <= n) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            memcpy(o, &x, 8);
            uint64_t m = esc8_mask(x);
            if (m) {
                unsigned k = (unsigned)__builtin_ctzll(m) >> 3;
                i += k;
                o += k;
                goto escape;
            }
            i += 8;
            o += 8;
        }
        if (i < n) {
            size_t r = n - i;
            uint64_t m = esc8_mask(load_tail(s + i, r));
            if (!m) {
                copy_short(o, s + i, r);
                o += r;
                break;
            }
            unsigned k = (unsigned)__builtin_ctzll(m) >> 3;
            copy_short(o, s + i, k);
            i += k;
            o += k;
        } else {
            break;
        }
    escape:;
        /* s[i] needs an escape: its form (8 bytes written, 2 or 6 kept), then the rest */
        const struct esc_form *f = esc_form((unsigned char)s[i++]);
        if ((size_t)(end - o) < n - i + 9) {
            w->len = (size_t)(o - w->p);
            if (!reserve(w, n - i + 8))
                return;
            o = w->p + w->len;
            end = w->p + w->cap;
        }
        memcpy(o, f->s, 8);
        o += f->len;
    }
    *o++ = '"';
    *o = '\0';
    w->len = (size_t)(o - w->p);
}

/* Does s[0..n), 1 <= n <= 16, hold a byte needing an escape? Two words (overlapping when
 * n < 16) or one short load: *x, *y keep the words for the copy. */
static inline bool small_clean(const char *s, size_t n, uint64_t *x, uint64_t *y)
{
    if (n >= 8) {
        memcpy(x, s, 8);
        memcpy(y, s + n - 8, 8);
        return !(esc8_mask(*x) | esc8_mask(*y));
    }
    return !esc8_mask(load_short(s, n));
}

/* o[0..n) = s, from the words small_clean loaded (n >= 8) or copied short. */
static inline void small_copy(char *o, const char *s, size_t n, uint64_t x, uint64_t y)
{
    if (n >= 8) {
        memcpy(o, &x, 8);
        memcpy(o + n - 8, &y, 8);
    } else {
        copy_short(o, s, n);
    }
}

/* wk_jsonw_str with the common case inline: 1..16 bytes, none needing an escape. */
static inline void put_str(struct wk_jsonw *w, const char *s, size_t n)
{
    uint64_t x = 0, y = 0;
    if (n - 1 < 16 && small_clean(s, n, &x, &y) && reserve(w, n + 2)) {
        char *o = w->p + w->len;
        o[0] = '"';
        small_copy(o + 1, s, n, x, y);
        o[n + 1] = '"';
        o[n + 2] = '\0';
        w->len += n + 2;
        return;
    }
    wk_jsonw_str(w, s, n);
}

/* `,"key":` (no comma for the first member): one reserve, the key inline when short. */
static inline void put_key(struct wk_jsonw *w, bool comma, const char *k, size_t n)
{
    uint64_t x = 0, y = 0;
    if (n - 1 < 16 && small_clean(k, n, &x, &y) && reserve(w, n + 4)) {
        char *o = w->p + w->len;
        *o = ',';
        o += comma;
        o[0] = '"';
        small_copy(o + 1, k, n, x, y);
        o[n + 1] = '"';
        o[n + 2] = ':';
        o[n + 3] = '\0';
        w->len += n + 3 + comma;
        return;
    }
    if (comma)
        put1(w, ',');
    wk_jsonw_str(w, k, n);
    put1(w, ':');
}

/* Valid UTF-8? ASCII (most strings) is settled here 16 or 8 bytes at a time; a string with
 * a byte >= 0x80 goes to wk__utf8_valid. */
static inline bool utf8_ok(const char *s, size_t n)
{
    const uint64_t high = 0x8080808080808080u;
    size_t i = 0;
#ifdef __SSE2__
    for (; i + 32 <= n; i += 32) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i z = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16));
        if (_mm_movemask_epi8(_mm_or_si128(a, z)))
            return wk__utf8_valid(s, n);
    }
    if (i + 16 <= n) {
        if (_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(const void *)(s + i))))
            return wk__utf8_valid(s, n);
        i += 16;
    }
#endif
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        if (x & high)
            return wk__utf8_valid(s, n);
    }
    return i == n || !(load_short(s + i, n - i) & high) || wk__utf8_valid(s, n);
}

/* The bytes of x that are '.' (the high bit of each; as esc8_mask, only the lowest exact). */
static inline uint64_t dot8_mask(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t d = x ^ (ones * '.');
    return (d - ones) & ~d & high;
}

/* Is every byte of s[0..n) written as it is inside a JSON string and ASCII (so valid
 * UTF-8 too): 0x20..0x7f but '"' and '\\', and not '.' when dot? One scan settles both what
 * utf8_ok and the escaping would each look for (and a name's structural dots). With SSE2,
 * a signed compare with 0x20 flags the control bytes and the bytes >= 0x80 (negative) at
 * once, and 32 bytes are looked at per turn (one branch): an alert's event has strings of
 * kilobytes (the command line twice, the original records). */
static inline bool ascii_clean(const char *s, size_t n, bool dot)
{
    const uint64_t high = 0x8080808080808080u;
    size_t i = 0;
#ifdef __SSE2__
    if (n >= 16) {
        const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'),
                      dt = _mm_set1_epi8('.'), sp = _mm_set1_epi8(0x20);
#define BAD16(x)                                                                          \
    _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(x, sp), _mm_cmpeq_epi8(x, q)),               \
                 dot ? _mm_or_si128(_mm_cmpeq_epi8(x, bs), _mm_cmpeq_epi8(x, dt))          \
                     : _mm_cmpeq_epi8(x, bs))
        for (; i + 32 <= n; i += 32) {
            __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16));
            if (_mm_movemask_epi8(_mm_or_si128(BAD16(a), BAD16(b))))
                return false;
        }
        if (i == n)
            return true;
        /* 1..31 left: the last 16 bytes, and the 16 before them when more are left (both
         * may overlap the bytes seen) */
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + n - 16));
        __m128i m = BAD16(a);
        if (n - i > 16) {
            __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            m = _mm_or_si128(m, BAD16(b));
        }
#undef BAD16
        return !_mm_movemask_epi8(m);
    }
#endif
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        if (esc8_mask(x) | (x & high) | (dot ? dot8_mask(x) : 0))
            return false;
    }
    if (i == n)
        return true;
    uint64_t x = load_short(s + i, n - i);
    return !(esc8_mask(x) | (x & high) | (dot ? dot8_mask(x) : 0));
}

/* o[0..n) = s[0..n): short ones by fixed-size moves, without the call. */
static inline void copy_any(char *o, const char *s, size_t n)
{
    if (n > 16) {
        memcpy(o, s, n);
    } else if (n >= 8) {
        uint64_t x, y;
        memcpy(&x, s, 8);
        memcpy(&y, s + n - 8, 8);
        memcpy(o, &x, 8);
        memcpy(o + n - 8, &y, 8);
    } else {
        copy_short(o, s, n);
    }
}

void wk_jsonw_int(struct wk_jsonw *w, int64_t v)
{
    char t[24], *e = t + sizeof(t), *p = e;
    uint64_t m = v < 0 ? 0u - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    if (v < 0)
        *--p = '-';
    wk_jsonw_put(w, p, (size_t)(e - p));
}

/* The RFC 3339 text of ns, kept in w for the next time of the same ns. */
static const char *time_text(struct wk_jsonw *w, int64_t ns, size_t *len)
{
    _Static_assert(sizeof(w->ts) >= WK_RFC3339_MAX, "room for wk_time_format");
    if (!w->ts_len || w->ts_ns != ns) {
        w->ts_len = wk_time_format(ns, w->ts);
        w->ts_ns = ns;
    }
    *len = w->ts_len;
    return w->ts;
}

void wk_jsonw_time(struct wk_jsonw *w, int64_t ns)
{
    size_t n;
    const char *t = time_text(w, ns, &n);
    if (!reserve(w, n + 2)) /* RFC 3339: ASCII, nothing to escape */
        return;
    char *o = w->p + w->len;
    o[0] = '"';
    memcpy(o + 1, t, n);
    o[n + 1] = '"';
    o[n + 2] = '\0';
    w->len += n + 2;
}

/* A jansson value as wk_event_to_json's dump writes it inside the event. */
static void put_jansson(struct wk_jsonw *w, const json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    if (!t) {
        w->oom = true;
        return;
    }
    wk_jsonw_put(w, t, strlen(t));
    free(t);
}

/* ---------- the event ---------- */

/* The event's objects as a tree of nodes (indices + 1, 0: none; the array is realloc'd),
 * children in insertion order, as jansson's objects keep them. */
enum { N_OBJECT, N_VALUE, N_RECORDS };
struct wk__jsonw_node {
    const char *key;
    size_t klen;
    const struct wk_value *v; /* N_VALUE */
    json_t *json;             /* N_VALUE of a JSON value: parsed (owned) */
    uint32_t child, last, next, parent;
    uint32_t slot; /* its place in w->slots (a child), for the next event to empty */
    uint8_t kind;
    bool valid; /* N_VALUE string: valid UTF-8 (else base64) */
    bool clean; /* N_VALUE string (list: each item): ascii_clean (valid, written as it is) */
};

#define NODE(w, i) (&(w)->nodes[(i) - 1])
#define PTR_CAP 4096 /* event_json.c's pointer buffer */
#define RECORDS_KEY "records"

/* A record whose every name has no dot and every value is a string, list, integer, bool
 * or null is "flat": its object is its fields in order (names are unique per record), so
 * its fields are linked in a list (next[], head/tail per record) instead of placed in the
 * node tree; cls[] keeps what the writing needs to know of each field (F_*). */
struct flat {
    uint32_t *next, *head, *tail; /* field indices + 1, 0: none */
    uint8_t *cls, *flat;          /* per field (of a record); per record (1..nrec) */
    /* the fields flat_init did not settle, in order; the first with a record (the
     * records array's place); walk: the main loop may walk todo[] alone */
    uint32_t *todo;
    size_t ntodo, first_rec;
    bool walk;
};
enum {
    F_VALID = 1,  /* a string: valid UTF-8 (else base64) */
    F_KCLEAN = 2, /* the name: ascii_clean with no dot (valid, no escape, no structure) */
    F_VCLEAN = 4, /* a string: ascii_clean (valid, written as it is) */
    F_DONE = 8,   /* settled by flat_init (the main loop only skips it) */
};

struct ev_build {
    struct wk_jsonw *w;
    const struct wk_event *ev;
    struct flat fl;
    unsigned nbin;
    bool refuse; /* an event wk_event_to_json must not be given (-ENOMEM, as it says) */
    bool fail; /* not this way: wk_event_to_json decides (it refuses, or it is exotic) */
};

static uint32_t node_new(struct ev_build *b, uint8_t kind, const char *key, size_t klen)
{
    struct wk_jsonw *w = b->w;
    if (w->nnodes == w->cnodes) {
        size_t c = w->cnodes ? w->cnodes * 2 : 128;
        struct wk__jsonw_node *n = c < UINT32_MAX ? realloc(w->nodes, c * sizeof(*n)) : NULL;
        if (!n) {
            b->fail = true;
            w->oom = true;
            return 0;
        }
        w->nodes = n;
        w->cnodes = c;
    }
    struct wk__jsonw_node *e = &w->nodes[w->nnodes++];
    *e = (struct wk__jsonw_node){.key = key, .klen = klen, .kind = kind};
    return (uint32_t)w->nnodes;
}

/* Children are found by (parent, key) in an open-addressing table of node indices
 * (w->slots, a power of two at least twice the nodes; emptied per event): an auditd
 * event has some 60 fields, and a walk of the root's children for each cost more than
 * writing the event. */
static uint32_t key_hash(uint32_t parent, const char *key, size_t klen)
{
    uint64_t h = ((uint64_t)parent << 32 | klen) * 0x9E3779B97F4A7C15u, a = 0, z = 0;
    if (klen >= 8) { /* the first and the last 8 bytes: names differ there */
        memcpy(&a, key, 8);
        memcpy(&z, key + klen - 8, 8);
    } else {
        a = load_short(key, klen);
    }
    h = (h ^ a) * 0xff51afd7ed558ccdu;
    h = (h ^ (h >> 29) ^ z) * 0xc4ceb9fe1a85ec53u;
    return (uint32_t)(h ^ (h >> 32));
}

static bool slots_grow(struct ev_build *b)
{
    struct wk_jsonw *w = b->w;
    size_t n = w->nslots ? w->nslots * 2 : 256;
    uint32_t *sl = calloc(n, sizeof(*sl));
    if (!sl) {
        b->fail = true;
        w->oom = true;
        return false;
    }
    free(w->slots);
    w->slots = sl;
    w->nslots = n;
    for (size_t i = 1; i < w->nnodes; i++) { /* all but the root and the record objects */
        const struct wk__jsonw_node *e = &w->nodes[i];
        if (!e->parent)
            continue;
        size_t at = key_hash(e->parent, e->key, e->klen) & (n - 1);
        while (sl[at])
            at = (at + 1) & (n - 1);
        sl[at] = (uint32_t)i + 1;
        w->nodes[i].slot = (uint32_t)at;
    }
    return true;
}

/* The child of obj named key, or 0; *slot: where a new one goes. */
static uint32_t child_find(struct ev_build *b, uint32_t obj, const char *key, size_t klen,
                           size_t *slot)
{
    struct wk_jsonw *w = b->w;
    size_t mask = w->nslots - 1, at = key_hash(obj, key, klen) & mask;
    for (uint32_t c; (c = w->slots[at]) != 0; at = (at + 1) & mask) {
        const struct wk__jsonw_node *e = NODE(w, c);
        if (e->parent == obj && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return c;
    }
    *slot = at;
    return 0;
}

static void node_drop_json(struct wk__jsonw_node *e)
{
    if (e->json) {
        json_decref(e->json);
        e->json = NULL;
    }
}

/* json_object_setn: a new key goes last; a key there keeps its place, takes the value. */
static uint32_t child_set(struct ev_build *b, uint32_t obj, const char *key, size_t klen,
                          uint8_t kind)
{
    struct wk_jsonw *w = b->w;
    size_t slot;
    if ((w->nnodes + 1) * 2 > w->nslots && !slots_grow(b))
        return 0;
    uint32_t c = child_find(b, obj, key, klen, &slot);
    if (c) {
        struct wk__jsonw_node *e = NODE(w, c);
        node_drop_json(e);
        e->kind = kind;
        e->v = NULL;
        e->child = e->last = 0;
        return c;
    }
    if (!(c = node_new(b, kind, key, klen)))
        return 0;
    w->slots[slot] = c;
    NODE(w, c)->slot = (uint32_t)slot;
    NODE(w, c)->parent = obj;
    struct wk__jsonw_node *o = NODE(w, obj);
    if (o->last)
        NODE(w, o->last)->next = c;
    else
        o->child = c;
    o->last = c;
    return c;
}

/* Note a binary string's pointer in @binary (in field order, as value_json does): the
 * record prefix, the name's segments up to `upto`, and a list index when idx >= 0. */
static void bin_note(struct ev_build *b, unsigned rec, const struct wk_key *k, uint64_t dots,
                     size_t upto, long idx)
{
    char ptr[PTR_CAP];
    size_t len = 0;
    ptr[0] = '\0';
    if (rec)
        len = (size_t)snprintf(ptr, sizeof(ptr), "/" RECORDS_KEY "/%u", rec - 1u);
    size_t start = 0;
    unsigned dot = 0;
    for (size_t i = 0; i <= upto; i++) {
        if (i < upto && k->name[i] != '.')
            continue;
        if (i < upto) {
            bool literal = dot < 64 && (dots >> dot & 1u);
            dot++;
            if (literal)
                continue;
        }
        if (wk__json_ptr_push(ptr, PTR_CAP, &len, k->name + start, i - start) < 0) {
            b->fail = true;
            return;
        }
        start = i + 1;
    }
    if (idx >= 0) {
        char t[24];
        int n = snprintf(t, sizeof(t), "%ld", idx);
        if (wk__json_ptr_push(ptr, PTR_CAP, &len, t, (size_t)n) < 0) {
            b->fail = true;
            return;
        }
    }
    struct wk_jsonw *w = b->w;
    /* @binary's strings, joined by ',', in w->bin */
    size_t need = 2 * len + 16;
    if (w->binlen + need > w->bincap) {
        size_t c = w->bincap ? w->bincap : 256;
        while (c < w->binlen + need)
            c *= 2;
        char *p = realloc(w->bin, c);
        if (!p) {
            b->fail = true;
            w->oom = true;
            return;
        }
        w->bin = p;
        w->bincap = c;
    }
    if (b->nbin++)
        w->bin[w->binlen++] = ',';
    /* the pointer as a JSON string: wk_jsonw_str on a borrowed writer over w->bin */
    struct wk_jsonw t = {.p = w->bin, .len = w->binlen, .cap = w->bincap};
    wk_jsonw_str(&t, ptr, len);
    w->bin = t.p;
    w->binlen = t.len;
    w->bincap = t.cap;
    if (t.oom) {
        b->fail = true;
        w->oom = true;
    }
}

/* Set the value of field i at node obj under key name[start..len); its pointer (for a
 * binary string) runs to upto. */
static void leaf(struct ev_build *b, uint32_t obj, size_t i, size_t start, size_t upto)
{
    const struct wk_field *f = &b->ev->fields[i];
    const struct wk_value *v = &f->v;
    uint32_t c = child_set(b, obj, f->key.name + start, f->key.len - start, N_VALUE);
    if (!c)
        return;
    struct wk__jsonw_node *e = NODE(b->w, c);
    e->v = v;
    if (v->kind == WK_VAL_STR) {
        e->clean = ascii_clean(v->u.s, v->len, false);
        e->valid = e->clean || utf8_ok(v->u.s, v->len);
        if (!e->valid)
            bin_note(b, v->rec, &f->key, f->dots, upto, -1);
    } else if (v->kind == WK_VAL_STRLIST) {
        /* clean: every item is (put_value then copies them without a second look) */
        bool all = true;
        for (uint32_t j = 0; j < v->len && !b->fail; j++) {
            if (ascii_clean(v->u.items[j].s, v->u.items[j].len, false))
                continue;
            all = false;
            if (!utf8_ok(v->u.items[j].s, v->u.items[j].len))
                bin_note(b, v->rec, &f->key, f->dots, upto, (long)j);
        }
        e->clean = all;
    } else if (v->kind == WK_VAL_JSON) {
        e->json = json_loadb(v->u.s, v->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (!e->json)
            b->fail = true;
    } else if (v->kind == WK_VAL_REAL && !isfinite(v->u.r)) {
        b->fail = true; /* json_real refuses it */
    }
}

static uint32_t w_find(struct ev_build *b, uint32_t obj, const char *key, size_t klen,
                       size_t *slot)
{
    if ((b->w->nnodes + 1) * 2 > b->w->nslots && !slots_grow(b))
        return 0;
    return child_find(b, obj, key, klen, slot);
}

/* event_json.c's place(): walk/create objects at each structural dot; a name held by a
 * non-object ends the path as one literal key there. */
static void place(struct ev_build *b, uint32_t root, size_t fi)
{
    const struct wk_field *f = &b->ev->fields[fi];
    const char *name = f->key.name;
    size_t len = f->key.len, start = 0;
    uint32_t obj = root;
    unsigned dot = 0;
    const char *p = name, *end = name + len;
    while ((p = memchr(p, '.', (size_t)(end - p))) != NULL) {
        size_t i = (size_t)(p - name);
        p++;
        bool literal = dot < 64 && (f->dots >> dot & 1u);
        dot++;
        if (literal)
            continue;
        size_t slot;
        uint32_t c = w_find(b, obj, name + start, i - start, &slot);
        if (!c) {
            if (!(c = child_set(b, obj, name + start, i - start, N_OBJECT)))
                return;
        } else if (NODE(b->w, c)->kind != N_OBJECT) {
            leaf(b, obj, fi, start, i);
            return;
        }
        obj = c;
        start = i + 1;
    }
    if (obj == 1 && start == 0 && len == sizeof(RECORDS_KEY) - 1 &&
        memcmp(name, RECORDS_KEY, len) == 0) {
        uint32_t c = w_find(b, obj, name, len, &(size_t){0});
        if (c && NODE(b->w, c)->kind == N_RECORDS) {
            /* A field "records" at event level after the records array: event_json.c
             * replaces the array, then reads it freed for the next record field. Refused
             * here (as it mostly fails there), not handed to it. */
            b->refuse = true;
            return;
        }
    }
    leaf(b, obj, fi, start, len);
}

static void put_value(struct wk_jsonw *w, const struct wk__jsonw_node *e)
{
    const struct wk_value *v = e->v;
    switch (v->kind) {
    case WK_VAL_NULL: LIT(w, "null"); break;
    case WK_VAL_BOOL:
        if (v->u.b)
            LIT(w, "true");
        else
            LIT(w, "false");
        break;
    case WK_VAL_INT: wk_jsonw_int(w, v->u.i); break;
    case WK_VAL_REAL: {
        json_t *r = json_real(v->u.r);
        if (r)
            put_jansson(w, r);
        else
            w->oom = true;
        json_decref(r);
        break;
    }
    case WK_VAL_JSON: put_jansson(w, e->json); break;
    case WK_VAL_STR:
    case WK_VAL_STRLIST: {
        bool list = v->kind == WK_VAL_STRLIST;
        uint32_t n = list ? v->len : 1;
        if (list)
            put1(w, '[');
        for (uint32_t i = 0; i < n; i++) {
            const char *s = list ? v->u.items[i].s : v->u.s;
            size_t l = list ? v->u.items[i].len : v->len;
            if (i)
                put1(w, ',');
            if ((e->clean || (list && ascii_clean(s, l, false))) && reserve(w, l + 2)) {
                char *o = w->p + w->len;
                *o++ = '"';
                copy_any(o, s, l);
                o += l;
                *o++ = '"';
                *o = '\0';
                w->len = (size_t)(o - w->p);
                continue;
            }
            if (list ? utf8_ok(s, l) : e->valid) {
                put_str(w, s, l);
                continue;
            }
            size_t cap = sodium_base64_ENCODED_LEN(l, sodium_base64_VARIANT_ORIGINAL);
            char *enc = malloc(cap);
            if (!enc) {
                w->oom = true;
                return;
            }
            sodium_bin2base64(enc, cap, (const unsigned char *)s, l,
                              sodium_base64_VARIANT_ORIGINAL);
            wk_jsonw_str(w, enc, cap - 1);
            free(enc);
        }
        if (list)
            put1(w, ']');
        break;
    }
    default: w->oom = true;
    }
}

static void put_flat(struct wk_jsonw *w, const struct ev_build *b, unsigned rec)
{
    const struct wk_field *fields = b->ev->fields;
    const uint32_t *next = b->fl.next;
    const uint8_t *cls = b->fl.cls;
#define CLEAN(i) ((cls[(i) - 1] & (F_KCLEAN | F_VCLEAN)) == (F_KCLEAN | F_VCLEAN))
    put1(w, '{');
    bool first = true;
    for (uint32_t i = b->fl.head[rec]; i;) {
        if (CLEAN(i) && !w->oom) {
            /* A run of `,"name":"value"` (both settled by ascii_clean, copied as they
             * are): written through a local pointer (stores through it may alias w's
             * fields: kept out of the loop), the length and the NUL set after the run. */
            char *o = w->p + w->len, *end = w->p + w->cap;
            do {
                const struct wk_field *f = &fields[i - 1];
                size_t kl = f->key.len, vl = f->v.len;
                if ((size_t)(end - o) < kl + vl + 7) {
                    w->len = (size_t)(o - w->p);
                    if (!reserve(w, kl + vl + 6))
                        return;
                    o = w->p + w->len;
                    end = w->p + w->cap;
                }
                *o = ',';
                o += !first;
                *o++ = '"';
                copy_any(o, f->key.name, kl);
                o += kl;
                memcpy(o, "\":\"", 3);
                o += 3;
                copy_any(o, f->v.u.s, vl);
                o += vl;
                *o++ = '"';
                first = false;
                i = next[i - 1];
            } while (i && CLEAN(i));
            *o = '\0';
            w->len = (size_t)(o - w->p);
            continue;
        }
        const struct wk_field *f = &fields[i - 1];
        put_key(w, !first, f->key.name, f->key.len);
        first = false;
        struct wk__jsonw_node e = {.v = &f->v, .valid = cls[i - 1] & F_VALID,
                                   .clean = cls[i - 1] & F_VCLEAN};
        put_value(w, &e);
        i = next[i - 1];
    }
#undef CLEAN
    put1(w, '}');
}

static void put_object(struct wk_jsonw *w, uint32_t obj, uint32_t records, unsigned nrec,
                       const struct ev_build *b)
{
    put1(w, '{');
    bool first = true;
    for (uint32_t c = NODE(w, obj)->child; c; c = NODE(w, c)->next) {
        const struct wk__jsonw_node *e = NODE(w, c);
        put_key(w, !first, e->key, e->klen);
        first = false;
        if (e->kind == N_VALUE) {
            put_value(w, e);
        } else if (e->kind == N_RECORDS) {
            put1(w, '[');
            for (unsigned r = 0; r < nrec; r++) {
                if (r)
                    put1(w, ',');
                if (b->fl.flat && b->fl.flat[r + 1])
                    put_flat(w, b, r + 1);
                else
                    put_object(w, records + r, 0, 0, b);
            }
            put1(w, ']');
        } else {
            put_object(w, c, 0, 0, b);
        }
    }
    put1(w, '}');
}

/* The records array (at its first record field, as event_json.c sets it): its objects
 * are the nodes records .. records + nrec - 1. */
static uint32_t add_records(struct ev_build *b, uint32_t root)
{
    if (!child_set(b, root, RECORDS_KEY, sizeof(RECORDS_KEY) - 1, N_RECORDS))
        return 0;
    uint32_t first = (uint32_t)b->w->nnodes + 1;
    for (unsigned r = 0; r < b->ev->nrec; r++) {
        if (!node_new(b, N_OBJECT, NULL, 0))
            return 0;
    }
    return first;
}

/* Does the name hold a dot? Short names by word (no call). */
static inline bool has_dot(const char *k, size_t n)
{
    if (n - 1 < 16) {
        const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
        uint64_t x, y = 0;
        if (n >= 8) {
            memcpy(&x, k, 8);
            memcpy(&y, k + n - 8, 8);
        } else {
            x = load_short(k, n);
        }
        x ^= ones * '.';
        y ^= ones * '.';
        return (((x - ones) & ~x) | (n >= 8 ? (y - ones) & ~y : 0)) & high;
    }
    return memchr(k, '.', n) != NULL;
}

/* Which records are flat (struct flat); their arrays in w->flat. @return false: none is
 * (no records, or no memory: the tree takes every field). */
static bool flat_init(struct ev_build *b)
{
    const struct wk_event *ev = b->ev;
    struct wk_jsonw *w = b->w;
    if (!ev->nrec || ev->n > UINT32_MAX - 1)
        return false;
    size_t nr = (size_t)ev->nrec + 1;
    size_t need = (2 * ev->n + 2 * nr) * sizeof(uint32_t) + ev->n + nr;
    if (need > w->flatcap) {
        void *p = malloc(need * 2);
        if (!p)
            return false;
        free(w->flat);
        w->flat = p;
        w->flatcap = need * 2;
    }
    struct flat *fl = &b->fl;
    fl->next = w->flat;
    fl->head = fl->next + ev->n;
    fl->tail = fl->head + nr;
    fl->todo = fl->tail + nr;
    fl->ntodo = 0;
    fl->first_rec = SIZE_MAX;
    fl->cls = (uint8_t *)(fl->todo + ev->n);
    fl->flat = fl->cls + ev->n;
    memset(fl->head, 0, 2 * nr * sizeof(uint32_t));
    memset(fl->flat, 1, nr);
    fl->flat[0] = 0;
    for (size_t i = 0; i < ev->n; i++) {
        const struct wk_field *f = &ev->fields[i];
        unsigned r = f->v.rec;
        if (r && fl->first_rec == SIZE_MAX)
            fl->first_rec = i;
        if (!r || r > ev->nrec) {
            fl->todo[fl->ntodo++] = (uint32_t)i;
            continue;
        }
        /* every record field's name is looked at (the main loop then skips its UTF-8
         * check when it is clean), whether or not its record is still flat */
        bool kc = ascii_clean(f->key.name, f->key.len, true);
        uint8_t c = kc ? F_KCLEAN : 0;
        enum wk_kind k = f->v.kind;
        if (!fl->flat[r]) {
            fl->cls[i] = c;
            fl->todo[fl->ntodo++] = (uint32_t)i;
            continue;
        }
        if ((k != WK_VAL_STR && k != WK_VAL_STRLIST && k != WK_VAL_INT && k != WK_VAL_BOOL &&
             k != WK_VAL_NULL) ||
            (!kc && has_dot(f->key.name, f->key.len))) {
            fl->flat[r] = 0;
            fl->cls[i] = c;
            fl->todo[fl->ntodo++] = (uint32_t)i;
            continue;
        }
        /* the end of its record's list, in field order (a record found not flat later
         * leaves its list unused) */
        fl->next[i] = 0;
        if (fl->tail[r])
            fl->next[fl->tail[r] - 1] = (uint32_t)i + 1;
        else
            fl->head[r] = (uint32_t)i + 1;
        fl->tail[r] = (uint32_t)i + 1;
        /* What the main loop would check and flat_add find, here in the same pass: a
         * clean name (so valid, and not over its 1000 bytes) with a valid string, an
         * integer, a bool or null. A binary string (its @binary pointer is noted in field
         * order) or a list is left to flat_add. */
        if (kc && f->key.len <= 1000) {
            if (k == WK_VAL_STR) {
                if (ascii_clean(f->v.u.s, f->v.len, false))
                    c |= F_VALID | F_VCLEAN | F_DONE;
                else if (utf8_ok(f->v.u.s, f->v.len))
                    c |= F_VALID | F_DONE;
            } else if (k != WK_VAL_STRLIST) {
                c |= F_DONE;
            }
        }
        fl->cls[i] = c;
        if (!(c & F_DONE))
            fl->todo[fl->ntodo++] = (uint32_t)i;
    }
    /* A record found not flat after some of its fields were settled: those are not (its
     * fields go to the tree), and the main loop walks every field. */
    fl->walk = true;
    for (size_t r = 1; r < nr; r++)
        fl->walk &= fl->flat[r] || !fl->head[r];
    return true;
}

/* Field i of a flat record that flat_init did not settle: its strings' UTF-8 verdicts and
 * @binary pointers (in field order, as leaf() notes them). */
static void flat_add(struct ev_build *b, size_t i)
{
    const struct wk_field *f = &b->ev->fields[i];
    const struct wk_value *v = &f->v;
    struct flat *fl = &b->fl;
    if (v->kind == WK_VAL_STR) {
        if (ascii_clean(v->u.s, v->len, false)) {
            fl->cls[i] |= F_VALID | F_VCLEAN;
        } else if (utf8_ok(v->u.s, v->len)) {
            fl->cls[i] |= F_VALID;
        } else {
            bin_note(b, v->rec, &f->key, f->dots, f->key.len, -1);
        }
    } else if (v->kind == WK_VAL_STRLIST) {
        fl->cls[i] |= F_VALID; /* put_value checks each item itself */
        for (uint32_t j = 0; j < v->len && !b->fail; j++) {
            if (!utf8_ok(v->u.items[j].s, v->u.items[j].len))
                bin_note(b, v->rec, &f->key, f->dots, f->key.len, (long)j);
        }
    }
}

static int fallback(struct wk_jsonw *w, const struct wk_event *ev)
{
    char *js;
    size_t len;
    int rc = wk_event_to_json(ev, &js, &len);
    if (rc < 0)
        return rc;
    wk_jsonw_put(w, js, len);
    free(js);
    return w->oom ? -ENOMEM : 0;
}

int wk_jsonw_event(struct wk_jsonw *w, const struct wk_event *ev)
{
    if (w->oom)
        return -ENOMEM;
    struct ev_build b = {.w = w, .ev = ev};
    struct wk_value tsv = {.kind = WK_VAL_STR};
    /* empty the slots the last event filled (one store per child; the table stays as large
     * as the largest event needed) */
    for (size_t i = 1; i < w->nnodes; i++) {
        if (w->nodes[i].parent)
            w->slots[w->nodes[i].slot] = 0;
    }
    w->nnodes = 0;
    w->binlen = 0;
    bool flat = flat_init(&b);
    uint32_t root = node_new(&b, N_OBJECT, NULL, 0), records = 0;
    if (root) {
        size_t tl;
        tsv.u.s = time_text(w, ev->ts, &tl); /* w->ts: not written over until the end */
        tsv.len = (uint32_t)tl;
        uint32_t c = child_set(&b, root, "@timestamp", 10, N_VALUE);
        if (c) {
            NODE(w, c)->v = &tsv;
            NODE(w, c)->valid = NODE(w, c)->clean = true; /* RFC 3339: ASCII */
        }
    }
    /* the fields flat_init left (most events), else all */
    const uint32_t *todo = flat && b.fl.walk ? b.fl.todo : NULL;
    size_t nwalk = todo ? b.fl.ntodo : ev->n;
    for (size_t t = 0; t < nwalk && !b.fail && !b.refuse; t++) {
        size_t i = todo ? todo[t] : t;
        if (todo && !records && b.fl.first_rec < i && !(records = add_records(&b, root)))
            break; /* the records array where its first field (settled) was */
        const struct wk_field *f = &ev->fields[i];
        if (flat && f->v.rec - 1u < ev->nrec && (b.fl.cls[i] & F_DONE) && b.fl.flat[f->v.rec]) {
            /* most fields of most records: flat_init settled them */
            if (!records && !(records = add_records(&b, root)))
                break;
            continue;
        }
        uint32_t parent = root;
        /* What event_json.c refuses (a key jansson will not take, a pointer over its
         * buffer: the bound is loose) or where it differs by accident: decided there. */
        bool kclean = flat && f->v.rec && f->v.rec <= ev->nrec && (b.fl.cls[i] & F_KCLEAN);
        if (f->key.len > 1000 || (!kclean && !utf8_ok(f->key.name, f->key.len))) {
            b.fail = true;
            break;
        }
        if (f->v.rec) {
            if (!records && !(records = add_records(&b, root)))
                break;
            if (f->v.rec > ev->nrec) {
                b.fail = true;
                break;
            }
            parent = records + f->v.rec - 1u;
            if (flat && b.fl.flat[f->v.rec]) {
                flat_add(&b, i);
                continue;
            }
        }
        place(&b, parent, i);
    }
    if (b.refuse) {
        for (size_t i = 0; i < w->nnodes; i++)
            node_drop_json(&w->nodes[i]);
        return -ENOMEM;
    }
    if (!b.fail && !records && ev->nrec)
        records = add_records(&b, root);
    /* a field of that name would keep its place under event_json.c's json_object_set */
    size_t slot;
    if (b.nbin && !b.fail && w_find(&b, root, "@binary", 7, &slot))
        b.fail = true;
    int rc = 0;
    if (!b.fail) {
        size_t at = w->len;
        put_object(w, root, records, ev->nrec, &b);
        if (b.nbin && !w->oom) {
            w->len--; /* the root's '}' */
            LIT(w, ",\"@binary\":[");
            wk_jsonw_put(w, w->bin, w->binlen);
            LIT(w, "]}");
        }
        if (w->oom) {
            w->len = at;
            rc = -ENOMEM;
        }
    }
    for (size_t i = 0; i < w->nnodes; i++)
        node_drop_json(&w->nodes[i]);
    if (b.fail && !w->oom)
        rc = fallback(w, ev);
    else if (b.fail)
        rc = -ENOMEM;
    return rc;
}
