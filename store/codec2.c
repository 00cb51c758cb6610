/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Record format 2 (docs/store.md, "Records, format 2"): each event is a timestamp delta,
 * the id of its field "shape" (names, records, kinds, flags, dots masks; kept once per
 * block) and its values, where strings found verbatim in the event's event.original are
 * stored as (offset, length) references into it. The writer's encoder keeps a memo of
 * recent shapes and scans wide; its bytes depend on the event's bytes only. The block
 * view reads both formats.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store_private.h"
#include "watchkeeper/error.h"

/* Shorter strings are stored literally: a reference would not be smaller. */
#define MIN_REF 3

/* ---------------------------------------------------------------------------------- */
/* Encoding                                                                            */

/* The encoder's per-field room checks and varints, inline (codec.c's are calls). */
static inline int room(struct wk__buf *b, size_t add)
{
    return b->cap - b->len >= add ? 0 : wk__buf_reserve(b, add);
}

static inline void putv(struct wk__buf *b, uint64_t v)
{
    uint8_t *p = b->p + b->len;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    b->len = (size_t)(p - b->p);
}

/* memcpy(d, s, n) inline for the short values most literals are (user names, numbers'
 * text, flags): overlapping loads instead of a call per literal. */
static inline void copy_bytes(uint8_t *d, const char *s, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n < 4) {
        if (n) {
            d[0] = (uint8_t)s[0];
            d[n / 2] = (uint8_t)s[n / 2];
            d[n - 1] = (uint8_t)s[n - 1];
        }
    } else {
        memcpy(d, s, n);
    }
}

/* Where the event's strings are looked for: its original, and what the event's earlier
 * searches found absent from it. */
#define ABSENT_MAX 32

struct refs {
    const char *orig;
    size_t olen;
    size_t prev_end; /* end of the last reference: the parser's order makes the next
                      * value usually lie just after it */
    bool slow;       /* tests: the plain search, no memo (to compare with) */
    unsigned nabs;
    uint64_t absmask;                 /* bit absent_bit of each of them */
    struct wk_str absent[ABSENT_MAX]; /* values found nowhere in the original */
};

/* The first occurrence (exactly the first, as the format needs: docs/store.md). */
static inline const char *find(const char *h, size_t hl, const char *n, size_t nl)
{
    return (const char *)wk__find((const uint8_t *)h, hl, (const uint8_t *)n, nl);
}

#ifdef __SSE2__
/* Candidate starts among the 16 from h: the needle's first and last bytes match there. */
static inline unsigned cand16(const uint8_t *h, size_t nl, __m128i f, __m128i l)
{
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)h);
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(h + nl - 1));
    return (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, f), _mm_cmpeq_epi8(b, l)));
}
#endif

/* a[0..n) == b[0..n), for names and candidates: a few overlapping loads instead of a loop
 * per byte. */
static inline bool same_name(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint64_t x, y;
    if (n >= 8) {
        if (n <= 16) { /* most names and values here: two overlapping words, no loop */
            uint64_t u, w;
            memcpy(&x, a, 8);
            memcpy(&y, b, 8);
            memcpy(&u, a + n - 8, 8);
            memcpy(&w, b + n - 8, 8);
            return ((x ^ y) | (u ^ w)) == 0;
        }
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y)
                return false;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t p, q, u, w;
        memcpy(&p, a, 4);
        memcpy(&q, b, 4);
        memcpy(&u, a + n - 4, 4);
        memcpy(&w, b + n - 4, 4);
        return p == q && u == w;
    }
    return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

/* The first candidate of mask m (starts from i) that is an occurrence, or NULL. */
#define SCAN_MASK(m, i)                                                                    \
    do {                                                                                   \
        while (m) {                                                                        \
            size_t at_ = (i) + (size_t)__builtin_ctzll(m);                                 \
            if (same_name(h + at_, n, nl))                                                 \
                return (const char *)h + at_;                                              \
            m &= m - 1;                                                                    \
        }                                                                                  \
    } while (0)

/* wk__find's result (the first occurrence of n[0..nl), nl >= 2, in h[0..hl)) for the
 * encoder, whose searches mostly cover the whole original: 32 start positions per step,
 * and the last ones in one overlapping step of 16 instead of one at a time. */
static inline const char *scan_sse2(const uint8_t *h, size_t hl, const uint8_t *n, size_t nl)
{
    if (nl > hl)
        return NULL;
    const size_t starts = hl - nl + 1;
    size_t i = 0;
#ifdef __SSE2__
    if (starts >= 16) {
        const __m128i f = _mm_set1_epi8((char)n[0]), l = _mm_set1_epi8((char)n[nl - 1]);
        for (; i + 32 <= starts; i += 32) {
            uint64_t m = cand16(h + i, nl, f, l) | cand16(h + i + 16, nl, f, l) << 16;
            SCAN_MASK(m, i);
        }
        while (i < starts) {
            /* 16 starts from j <= i, those before i already looked at */
            size_t j = i + 16 <= starts ? i : starts - 16;
            uint64_t m = cand16(h + j, nl, f, l) & (0xffffu << (i - j));
            SCAN_MASK(m, j);
            i = j + 16;
        }
        return NULL;
    }
#endif
    for (; i < starts; i++) {
        if (h[i] == n[0] && h[i + nl - 1] == n[nl - 1] && wk__same(h + i + 1, n + 1, nl - 2))
            return (const char *)h + i;
    }
    return NULL;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_AVX2_SCAN 1
#include <immintrin.h>

__attribute__((target("avx2"))) static inline uint64_t cand32(const uint8_t *h, size_t nl,
                                                              __m256i f, __m256i l)
{
    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)h);
    __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(h + nl - 1));
    return (uint32_t)_mm256_movemask_epi8(
        _mm256_and_si256(_mm256_cmpeq_epi8(a, f), _mm256_cmpeq_epi8(b, l)));
}

/* scan_sse2 with 32 starts per compare, 64 per step (CPUs with AVX2: most of those that
 * run this). Same result. */
__attribute__((target("avx2"))) static inline const char *scan_avx2(const uint8_t *h, size_t hl,
                                                             const uint8_t *n, size_t nl)
{
    if (nl > hl)
        return NULL;
    const size_t starts = hl - nl + 1;
    if (starts < 32)
        return scan_sse2(h, hl, n, nl);
    const __m256i f = _mm256_set1_epi8((char)n[0]), l = _mm256_set1_epi8((char)n[nl - 1]);
    size_t i = 0;
    for (; i + 64 <= starts; i += 64) {
        uint64_t m = cand32(h + i, nl, f, l) | cand32(h + i + 32, nl, f, l) << 32;
        SCAN_MASK(m, i);
    }
    while (i < starts) {
        size_t j = i + 32 <= starts ? i : starts - 32;
        uint64_t m = cand32(h + j, nl, f, l) & (UINT64_C(0xffffffff) << (i - j));
        SCAN_MASK(m, j);
        i = j + 32;
    }
    return NULL;
}

/* The first occurrence among the 32 starts from h (their bytes all there), else NULL. */
__attribute__((target("avx2"))) static inline const char *first32_avx2(const uint8_t *h,
                                                                const uint8_t *n, size_t nl)
{
    const __m256i f = _mm256_set1_epi8((char)n[0]), l = _mm256_set1_epi8((char)n[nl - 1]);
    uint64_t m = cand32(h, nl, f, l);
    SCAN_MASK(m, 0);
    return NULL;
}

#endif

int wk__enc2_isa;

static inline bool use_avx2(void)
{
#ifdef HAVE_AVX2_SCAN
    int st = __atomic_load_n(&wk__enc2_isa, __ATOMIC_RELAXED);
    if (!st) {
        __builtin_cpu_init();
        st = __builtin_cpu_supports("avx2") ? 1 : 2;
        __atomic_store_n(&wk__enc2_isa, st, __ATOMIC_RELAXED);
    }
    return st == 1;
#else
    return false;
#endif
}

static inline const char *scan(const char *h, size_t hl, const char *n, size_t nl, bool avx2)
{
#ifdef HAVE_AVX2_SCAN
    if (avx2)
        return scan_avx2((const uint8_t *)h, hl, (const uint8_t *)n, nl);
#endif
    return scan_sse2((const uint8_t *)h, hl, (const uint8_t *)n, nl);
}

/* A value's bit in refs.absmask: most values are not in the memo and need no look at it. */
static inline uint64_t absent_bit(const char *s, size_t n)
{
    return UINT64_C(1) << ((n + (uint8_t)s[0] * 7u) & 63);
}

/* Whether an earlier search of this event found s nowhere in the original. */
static inline bool known_absent(const struct refs *r, const char *s, size_t n)
{
    if (!(r->absmask & absent_bit(s, n)))
        return false;
    for (unsigned i = 0; i < r->nabs; i++) {
        const struct wk_str *a = &r->absent[i];
        if (a->len == n && (a->s == s || (a->s[0] == s[0] && memcmp(a->s, s, n) == 0)))
            return true;
    }
    return false;
}

/* Where s occurs in the original: the first occurrence from the end of the last reference
 * on, else the first from the start. A value the event holds twice (the names of one uid,
 * "auditd", ...) that is not there is looked for once. */
static inline __attribute__((always_inline)) const char *
find_ref(struct refs *r, const char *s, size_t n, bool memo, bool avx2)
{
    const char *at = NULL;
    if (!r->orig || n > r->olen)
        return NULL;
    if (r->slow) {
        if (r->prev_end < r->olen)
            at = find(r->orig + r->prev_end, r->olen - r->prev_end, s, n);
        if (!at && r->prev_end) {
            size_t lim = r->prev_end + n - 1 < r->olen ? r->prev_end + n - 1 : r->olen;
            at = find(r->orig, lim, s, n);
        }
        return at;
    }
    /* most values lie shortly after the last reference: the memo of absent values is
     * looked at only when they do not, before the scan of the rest */
    size_t from = r->prev_end;
#ifdef HAVE_AVX2_SCAN
    /* most values start within 32 bytes of the last reference's end: one step first */
    if (avx2 && r->olen - from >= 32 + n - 1) {
        if ((at = first32_avx2((const uint8_t *)r->orig + from, (const uint8_t *)s, n)) != NULL)
            return at;
        from += 32;
    }
#endif
    at = scan(r->orig + from, r->olen - from, s, n, avx2);
    if (at)
        return at;
    if (memo && known_absent(r, s, n))
        return NULL;
    if (r->prev_end) {
        size_t lim = r->prev_end + n - 1 < r->olen ? r->prev_end + n - 1 : r->olen;
        at = scan(r->orig, lim, s, n, avx2);
    }
    if (!at && memo && r->nabs < ABSENT_MAX) {
        r->absent[r->nabs++] = (struct wk_str){ s, n };
        r->absmask |= absent_bit(s, n);
    }
    return at;
}

/* A reference: varint (length << 1 | 1), zigzag varint of offset - end of the last one. */
static inline void put_ref(struct wk__buf *b, struct refs *r, const char *at, size_t n)
{
    size_t off = (size_t)(at - r->orig);
    putv(b, ((uint64_t)n << 1) | 1);
    putv(b, wk__zigzag((int64_t)off - (int64_t)r->prev_end));
    r->prev_end = off + n;
}

/* An integer: a reference to its decimal text in the original when there (auditd serials,
 * Docker timeNano, ...), else varint (zigzag << 1); 1 escapes a raw 8-byte value. */
static inline void put_int(struct wk__buf *b, struct refs *r, int64_t v, bool search, bool avx2)
{
    char t[24];
    size_t n = 0;
    uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    const char *at = NULL;
    /* the decimal text, two digits a step; a single digit is never looked for */
    if (search && r->orig && (v < 0 || mag >= 10)) {
        static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
                                       "25262728293031323334353637383940414243444546474849"
                                       "50515253545556575859606162636465666768697071727374"
                                       "75767778798081828384858687888990919293949596979899";
        while (mag >= 100) {
            n += 2;
            memcpy(t + sizeof(t) - n, pairs + mag % 100 * 2, 2);
            mag /= 100;
        }
        if (mag >= 10) {
            n += 2;
            memcpy(t + sizeof(t) - n, pairs + mag * 2, 2);
        } else {
            t[sizeof(t) - 1 - n++] = (char)('0' + mag);
        }
        if (v < 0)
            t[sizeof(t) - 1 - n++] = '-';
        at = find_ref(r, t + sizeof(t) - n, n, false, avx2);
    }
    if (at) {
        put_ref(b, r, at, n);
        return;
    }
    uint64_t z = wk__zigzag(v);
    if (z < (UINT64_C(1) << 63)) {
        putv(b, z << 1);
        return;
    }
    b->p[b->len++] = 1;
    wk__put_u64le(b->p + b->len, (uint64_t)v);
    b->len += 8;
}

/* A string, b having room for 20 bytes: a reference when search finds it, else literal. */
static inline __attribute__((always_inline)) int
put_str(struct wk__buf *b, struct refs *r, const char *s, size_t n, bool search, bool avx2)
{
    const char *at = search && n >= MIN_REF ? find_ref(r, s, n, true, avx2) : NULL;
    if (at) {
        put_ref(b, r, at, n);
        return 0;
    }
    int rc = room(b, n + 10);
    if (rc < 0)
        return rc;
    putv(b, (uint64_t)n << 1);
    copy_bytes(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

/* A value other than the original. One the source made (WK_VALF_LITERAL: a name it
 * looked up, decoded text) is a literal without a search: most are nowhere in the
 * original, and each search of one would scan all of it. */
static inline __attribute__((always_inline)) int
put_value(struct wk__buf *vals, struct refs *r, const struct wk_value *v, bool avx2)
{
    const bool search = !(v->flags & WK_VALF_LITERAL);
    int rc = room(vals, 20);
    if (rc < 0)
        return rc;
    switch (v->kind) {
    case WK_VAL_NULL:
        return 0;
    case WK_VAL_BOOL:
        vals->p[vals->len++] = v->u.b ? 1 : 0;
        return 0;
    case WK_VAL_INT:
        put_int(vals, r, v->u.i, search, avx2);
        return 0;
    case WK_VAL_REAL:
        memcpy(vals->p + vals->len, &v->u.r, 8);
        vals->len += 8;
        return 0;
    case WK_VAL_STR:
        return put_str(vals, r, v->u.s, v->len, search, avx2);
    case WK_VAL_JSON: /* always a literal */
        return put_str(vals, r, v->u.s, v->len, false, avx2);
    case WK_VAL_STRLIST:
        putv(vals, v->len);
        for (uint32_t j = 0; j < v->len; j++) {
            if ((rc = room(vals, 20)) < 0 ||
                (rc = put_str(vals, r, v->u.items[j].s, v->u.items[j].len, search, avx2)) < 0)
                return rc;
        }
        return 0;
    default:
        return -EINVAL;
    }
}

static bool is_original(const struct wk_key *k, const struct wk_value *v)
{
    return v->rec == 0 && v->kind == WK_VAL_STR && k->len == 14 &&
           memcmp(k->name, "event.original", 14) == 0;
}

/* The original (field orig - 1, 0: none) written first, and searches set up in it. */
static inline int put_orig(struct wk__buf *vals, struct refs *r, const struct wk_field *fs,
                           size_t orig, bool slow)
{
    r->orig = NULL;
    r->olen = r->prev_end = 0;
    r->slow = slow;
    r->nabs = 0;
    r->absmask = 0;
    if (!orig)
        return 0;
    const struct wk_value *v = &fs[orig - 1].v;
    r->orig = v->u.s;
    r->olen = v->len;
    int rc = room(vals, r->olen + 10);
    if (rc < 0)
        return rc;
    putv(vals, r->olen);
    memcpy(vals->p + vals->len, r->orig, r->olen);
    vals->len += r->olen;
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* The writer's memo of recent shapes                                                  */

/* An event's set in the memo: from its field count, record count and name hashes (a
 * shape is then told by comparing the event with the set's entries, field by field). */
static inline uint64_t memo_sig(const struct wk_event *ev, size_t nf)
{
    const uint32_t *h = wk_event_field_hashes(ev);
    uint64_t x = (uint64_t)nf << 32 | wk_event_nrecords(ev);
    /* the first 8 names and every 8th after: shapes of one field and record count that
     * differ elsewhere only share a set (the entry is compared field by field anyway) */
    for (size_t i = 0; h && i < nf; i += i < 8 ? 1 : 8)
        x = (x ^ h[i]) * UINT64_C(0x9E3779B97F4A7C15);
    if (h && nf)
        x = (x ^ h[nf - 1]) * UINT64_C(0x9E3779B97F4A7C15);
    return x ^ (x >> 29);
}

static int memo_grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *n = realloc(*p, c * size);
    if (!n)
        return -ENOMEM;
    *p = n;
    *cap = c;
    return 0;
}

/* A key's len and hash, a value's kind, flags and rec, each as one word: the memo
 * compares a field in three compares instead of six (the same members, no padding). */
_Static_assert(offsetof(struct wk_key, hash) == offsetof(struct wk_key, len) + 4 &&
                   sizeof(((struct wk_key *)0)->len) == 4 && sizeof(((struct wk_key *)0)->hash) == 4,
               "wk_key: len and hash adjacent");
_Static_assert(offsetof(struct wk_value, kind) == 0 && offsetof(struct wk_value, flags) == 1 &&
                   offsetof(struct wk_value, rec) == 2 && sizeof(((struct wk_value *)0)->rec) == 2,
               "wk_value: kind, flags, rec in its first 4 bytes");
static inline uint64_t key_word(const struct wk_key *k)
{
    uint64_t w;
    memcpy(&w, (const char *)k + offsetof(struct wk_key, len), 8);
    return w;
}
static inline uint32_t value_word(const struct wk_value *v)
{
    uint32_t w;
    memcpy(&w, (const char *)v, 4);
    return w;
}

/* ev when it has e's shape: its values written as the walk tells that it has (the same
 * names - by their bytes: an address says nothing, an earlier event's arena may hold
 * other names there now -, records, kinds, flags and dots masks, in the same order).
 * @return 1 done, 0 not e's shape (vals as it was), <0 error. */
static inline __attribute__((always_inline)) int
memo_encode(const struct wk__shape_memo *e, struct wk__buf *vals, const struct wk_event *ev,
            size_t nf, bool avx2)
{
    if (e->nf != nf || e->nrec != wk_event_nrecords(ev))
        return 0;
    size_t mark = vals->len;
    struct refs r;
    const struct wk_field *fs = wk_event_fields(ev);
    int rc = put_orig(vals, &r, fs, e->orig, false);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < nf; i++) {
        const struct wk__memo_field *f = &e->f[i];
        const struct wk_key *k = &fs[i].key;
        const struct wk_value *v = &fs[i].v;
        if (key_word(k) != f->name || value_word(v) != f->value || fs[i].dots != f->dots ||
            !same_name((const uint8_t *)k->name, e->desc + f->koff, k->len)) {
            vals->len = mark;
            return 0;
        }
        if (i + 1 != e->orig && (rc = put_value(vals, &r, v, avx2)) < 0)
            return rc;
    }
    return 1;
}

/* ---------------------------------------------------------------------------------- */

/* The descriptor of ev's shape into desc; with t, also noted in memo entry e. */
static int put_desc(struct wk__shapes *t, struct wk__shape_memo *e, uint64_t sig,
                    struct wk__buf *desc, const struct wk_event *ev, size_t nf, size_t orig)
{
    size_t base = desc->len;
    int rc;
    if (e) {
        e->used = false;
        if ((rc = memo_grow((void **)&e->f, &e->fcap, nf, sizeof(*e->f))) < 0)
            return rc;
    }
    if ((rc = room(desc, 30)) < 0)
        return rc;
    putv(desc, wk_event_nrecords(ev));
    putv(desc, nf);
    putv(desc, orig);
    const struct wk_field *fs = wk_event_fields(ev);
    for (size_t i = 0; i < nf; i++) {
        const struct wk_key *k = &fs[i].key;
        uint64_t dots = fs[i].dots;
        const struct wk_value *v = &fs[i].v;
        if ((rc = room(desc, k->len + 40)) < 0)
            return rc;
        putv(desc, k->len);
        if (e)
            e->f[i] = (struct wk__memo_field){ .name = key_word(k), .value = value_word(v),
                                               .koff = (uint32_t)(desc->len - base),
                                               .dots = dots };
        memcpy(desc->p + desc->len, k->name, k->len);
        desc->len += k->len;
        putv(desc, v->rec);
        desc->p[desc->len++] = v->kind;
        desc->p[desc->len++] = v->flags;
        putv(desc, dots);
    }
    size_t dlen = desc->len - base;
    if (!e || dlen > UINT32_MAX || memo_grow((void **)&e->desc, &e->dcap, dlen, 1) < 0)
        return 0; /* not noted: the memo is only a help */
    memcpy(e->desc, desc->p + base, dlen);
    e->dlen = dlen;
    e->sig = sig;
    e->nf = (uint32_t)nf;
    e->nrec = wk_event_nrecords(ev);
    e->orig = (uint32_t)orig;
    e->hashed = e->has_sid = false;
    e->used = true;
    e->recent = true;
    t->memo[(size_t)(e - t->memo) ^ 1].recent = false;
    t->hint = (uint32_t)(e - t->memo);
    t->hint_p = desc->p + base;
    t->hint_len = dlen;
    return 0;
}

static inline __attribute__((always_inline)) int
enc2(struct wk__shapes *t, struct wk__buf *desc, struct wk__buf *vals,
     const struct wk_event *ev, const uint8_t **dp, size_t *dl, bool slow, bool avx2)
{
    size_t nf = wk_event_nfields(ev);
    struct wk__shape_memo *e = NULL;
    uint64_t sig = 0;
    int rc;
    if (t) {
        t->hint_p = NULL;
        if (!t->memo && !(t->memo = calloc(WK__SHAPE_MEMO, sizeof(*t->memo))))
            return -ENOMEM;
        sig = memo_sig(ev, nf);
        /* two ways: the entry of the set that has the event's shape, else the one of the
         * two not used last is replaced */
        struct wk__shape_memo *set = &t->memo[(sig >> 32) % (WK__SHAPE_MEMO / 2) * 2];
        e = set[0].used && set[0].sig == sig ? &set[0] : &set[1];
        if (!(e->used && e->sig == sig))
            e = set[0].recent ? &set[1] : &set[0];
        else if ((rc = memo_encode(e, vals, ev, nf, avx2)) != 0) {
            if (rc < 0)
                return rc;
            /* the descriptor as the last event of this shape had it: the entry's own bytes,
             * not copied (~1.5 KB per audit event) */
            set[0].recent = e == &set[0];
            set[1].recent = e == &set[1];
            t->hint = (uint32_t)(e - t->memo);
            t->hint_p = *dp = e->desc;
            t->hint_len = *dl = e->dlen;
            return 0;
        }
    }
    size_t orig = 0; /* field index + 1 */
    const struct wk_field *fs = wk_event_fields(ev);
    for (size_t i = 0; i < nf; i++) {
        if (is_original(&fs[i].key, &fs[i].v)) {
            orig = i + 1;
            break;
        }
    }
    /* a shape the memo does not have: noted in it (the entry's former shape forgotten) */
    size_t base = desc->len;
    if ((rc = put_desc(t, e, sig, desc, ev, nf, orig)) < 0)
        return rc;
    *dp = desc->p + base;
    *dl = desc->len - base;
    struct refs r;
    if ((rc = put_orig(vals, &r, fs, orig, slow)) < 0)
        return rc;
    for (size_t i = 0; i < nf; i++) {
        if (i + 1 != orig && (rc = put_value(vals, &r, &fs[i].v, avx2)) < 0)
            return rc;
    }
    return 0;
}

#ifdef HAVE_AVX2_SCAN
__attribute__((target("avx2"), flatten)) static int
enc2_avx2(struct wk__shapes *t, struct wk__buf *desc, struct wk__buf *vals,
          const struct wk_event *ev, const uint8_t **dp, size_t *dl)
{
    return enc2(t, desc, vals, ev, dp, dl, false, true);
}
#endif

static int enc2_sse2(struct wk__shapes *t, struct wk__buf *desc, struct wk__buf *vals,
                     const struct wk_event *ev, const uint8_t **dp, size_t *dl)
{
    return enc2(t, desc, vals, ev, dp, dl, false, false);
}

int wk__enc2_add(struct wk__shapes *t, struct wk__buf *desc, struct wk__buf *vals,
                 const struct wk_event *ev, const uint8_t **dp, size_t *dl)
{
#ifdef HAVE_AVX2_SCAN
    if (use_avx2())
        return enc2_avx2(t, desc, vals, ev, dp, dl);
#endif
    return enc2_sse2(t, desc, vals, ev, dp, dl);
}

int wk__enc2_event(struct wk__buf *desc, struct wk__buf *vals, const struct wk_event *ev)
{
    const uint8_t *dp;
    size_t dl;
    return wk__enc2_add(NULL, desc, vals, ev, &dp, &dl);
}

int wk__enc2_event_slow(struct wk__buf *desc, struct wk__buf *vals, const struct wk_event *ev)
{
    const uint8_t *dp;
    size_t dl;
    return enc2(NULL, desc, vals, ev, &dp, &dl, true, false);
}

void wk__enc2_record(struct wk__buf *raw, int64_t *prev_ts, int64_t ts, uint32_t sid,
                     const uint8_t *vals, size_t vlen)
{
    uint8_t hb[20];
    size_t hl = wk__varint_put(hb, wk__zigzag((int64_t)((uint64_t)ts - (uint64_t)*prev_ts)));
    hl += wk__varint_put(hb + hl, sid);
    putv(raw, hl + vlen);
    memcpy(raw->p + raw->len, hb, hl);
    raw->len += hl;
    memcpy(raw->p + raw->len, vals, vlen);
    raw->len += vlen;
    *prev_ts = ts;
}

void wk__enc2_record_at(struct wk__buf *raw, int64_t *prev_ts, int64_t ts, uint32_t sid,
                        size_t at, size_t vlen)
{
    uint8_t th[20], hb[30];
    size_t tl = wk__varint_put(th, wk__zigzag((int64_t)((uint64_t)ts - (uint64_t)*prev_ts)));
    tl += wk__varint_put(th + tl, sid);
    size_t hl = wk__varint_put(hb, tl + vlen);
    memcpy(hb + hl, th, tl);
    hl += tl;
    if (raw->len + hl != at)
        memmove(raw->p + raw->len + hl, raw->p + at, vlen);
    memcpy(raw->p + raw->len, hb, hl);
    raw->len += hl + vlen;
    *prev_ts = ts;
}

/* ---------------------------------------------------------------------------------- */
/* Shape table of the open block (writer)                                              */

void wk__shapes_reset(struct wk__shapes *t)
{
    t->gen++;
    t->n = 0;
    t->bytes.len = 0;
    if (t->slots)
        memset(t->slots, 0, t->nslots * sizeof(*t->slots));
}

void wk__shapes_fini(struct wk__shapes *t)
{
    for (size_t i = 0; t->memo && i < WK__SHAPE_MEMO; i++) {
        free(t->memo[i].desc);
        free(t->memo[i].f);
    }
    free(t->memo);
    free(t->slots);
    free(t->ents);
    wk__buf_fini(&t->bytes);
    memset(t, 0, sizeof(*t));
}

static int intern(struct wk__shapes *t, const uint8_t *desc, size_t len, uint64_t h, uint32_t *id);

static int grow_slots(struct wk__shapes *t)
{
    size_t ns = t->nslots ? t->nslots * 2 : 256;
    uint32_t *s = calloc(ns, sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = (size_t)t->ents[i].hash & (ns - 1);
        while (s[j])
            j = (j + 1) & (ns - 1);
        s[j] = (uint32_t)i + 1;
    }
    free(t->slots);
    t->slots = s;
    t->nslots = ns;
    return 0;
}

int wk__shapes_intern(struct wk__shapes *t, const uint8_t *desc, size_t len, uint32_t *id)
{
    struct wk__shape_memo *m = NULL;
    if (t->hint_p && t->hint_p == desc && t->hint_len == len)
        m = &t->memo[t->hint];
    t->hint_p = NULL;
    if (m && m->has_sid && m->gen == t->gen) {
        *id = m->sid;
        return 0;
    }
    int rc = intern(t, desc, len, m && m->hashed ? m->hash : wk__hash_bytes(desc, len), id);
    if (rc == 0 && m) {
        m->hash = t->ents[*id].hash;
        m->hashed = m->has_sid = true;
        m->sid = *id;
        m->gen = t->gen;
    }
    return rc;
}

static int intern(struct wk__shapes *t, const uint8_t *desc, size_t len, uint64_t h, uint32_t *id)
{
    if (t->nslots) {
        size_t j = (size_t)h & (t->nslots - 1);
        while (t->slots[j]) {
            const struct wk__shape_ent *e = &t->ents[t->slots[j] - 1];
            if (e->hash == h && e->len == len && memcmp(t->bytes.p + e->off, desc, len) == 0) {
                *id = t->slots[j] - 1;
                return 0;
            }
            j = (j + 1) & (t->nslots - 1);
        }
    }
    int rc;
    if ((t->n + 1) * 2 > t->nslots && (rc = grow_slots(t)) < 0)
        return rc;
    if (t->n == t->cents) {
        size_t c = t->cents ? t->cents * 2 : 64;
        struct wk__shape_ent *e = realloc(t->ents, c * sizeof(*e));
        if (!e)
            return -ENOMEM;
        t->ents = e;
        t->cents = c;
    }
    if ((rc = wk__buf_reserve(&t->bytes, len + 10)) < 0)
        return rc;
    struct wk__shape_ent *e = &t->ents[t->n];
    e->hash = h;
    e->len = len;
    PUTV(&t->bytes, len);
    e->off = t->bytes.len;
    memcpy(t->bytes.p + t->bytes.len, desc, len);
    t->bytes.len += len;
    size_t j = (size_t)h & (t->nslots - 1);
    while (t->slots[j])
        j = (j + 1) & (t->nslots - 1);
    t->slots[j] = (uint32_t)t->n + 1;
    *id = (uint32_t)t->n++;
    return 0;
}

size_t wk__shapes_section_len(const struct wk__shapes *t)
{
    uint8_t v[10];
    return wk__varint_put(v, t->n) + wk__varint_put(v, t->bytes.len) + t->bytes.len;
}

void wk__shapes_section_put(const struct wk__shapes *t, uint8_t *p)
{
    size_t n = wk__varint_put(p, t->n);
    n += wk__varint_put(p + n, t->bytes.len);
    if (t->bytes.len)
        memcpy(p + n, t->bytes.p, t->bytes.len);
}

int wk__shapes_section(const struct wk__shapes *t, struct wk__buf *out)
{
    size_t n = wk__shapes_section_len(t);
    int rc = wk__buf_reserve(out, n);
    if (rc < 0)
        return rc;
    wk__shapes_section_put(t, out->p + out->len);
    out->len += n;
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* Block view: the records of a block of either format                                 */

void wk__blkview_fini(struct wk__blkview *v)
{
    free(v->shapes);
    free(v->fields);
    memset(v, 0, sizeof(*v));
}

/* Parse shape s (its fields appended to v->fields) on its first use: a query that decodes
 * few records of a block does not pay for the shapes it does not meet. */
static int parse_shape(struct wk__blkview *v, struct wk__shape *s)
{
    const uint8_t *p = s->desc;
    size_t len = s->dlen;
    size_t pos = 0;
    uint64_t nrec, nf, orig;
    int rc;
    if ((rc = wk__varint_get(p, len, &pos, &nrec)) < 0 || (rc = wk__varint_get(p, len, &pos, &nf)) < 0 ||
        (rc = wk__varint_get(p, len, &pos, &orig)) < 0)
        return rc;
    if (nrec > 65535 || nf > 65535 || orig > nf)
        return WK_ECORRUPT;
    if (v->nfields + nf > v->cfields) {
        size_t c = v->cfields ? v->cfields : 256;
        while (c < v->nfields + nf)
            c *= 2;
        struct wk__fdesc *f = realloc(v->fields, c * sizeof(*f));
        if (!f)
            return -ENOMEM;
        v->fields = f;
        v->cfields = c;
    }
    s->first = (uint32_t)v->nfields;
    s->nf = (uint32_t)nf;
    s->nrec = (uint32_t)nrec;
    s->orig = (uint32_t)orig;
    for (uint64_t i = 0; i < nf; i++) {
        uint64_t klen, rec, dots;
        if ((rc = wk__varint_get(p, len, &pos, &klen)) < 0)
            return rc;
        if (klen == 0 || klen > len - pos)
            return WK_ECORRUPT;
        struct wk__fdesc *f = &v->fields[v->nfields + i];
        f->key = wk_key_initn((const char *)p + pos, (size_t)klen);
        pos += (size_t)klen;
        if ((rc = wk__varint_get(p, len, &pos, &rec)) < 0)
            return rc;
        if (len - pos < 2 || rec > nrec)
            return WK_ECORRUPT;
        f->rec = (uint32_t)rec;
        f->kind = p[pos++];
        f->flags = p[pos++];
        if (f->kind > WK_VAL_JSON)
            return WK_ECORRUPT;
        if ((rc = wk__varint_get(p, len, &pos, &dots)) < 0)
            return rc;
        f->dots = dots;
        /* The original is a string at event level. */
        if (i + 1 == orig && (f->kind != WK_VAL_STR || rec != 0))
            return WK_ECORRUPT;
    }
    if (pos != len)
        return WK_ECORRUPT;
    v->nfields += nf;
    s->parsed = true;
    return 0;
}

int wk__blkview_open(struct wk__blkview *v, uint8_t format, const uint8_t *raw, size_t len)
{
    v->format = format;
    v->raw = raw;
    v->len = len;
    v->start = v->pos = 0;
    v->prev_ts = 0;
    v->nshapes = v->nfields = 0;
    if (format == WK__BLK_FORMAT)
        return 0;
    if (format != WK__BLK_FORMAT2)
        return WK_ECORRUPT;
    uint64_t n, bytes;
    size_t pos = 0;
    int rc;
    if ((rc = wk__varint_get(raw, len, &pos, &n)) < 0 || (rc = wk__varint_get(raw, len, &pos, &bytes)) < 0)
        return rc;
    if (bytes > len - pos || n > bytes)
        return WK_ECORRUPT;
    size_t end = pos + (size_t)bytes;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t sl;
        if ((rc = wk__varint_get(raw, end, &pos, &sl)) < 0)
            return rc;
        if (sl > end - pos)
            return WK_ECORRUPT;
        if (v->nshapes == v->cshapes) {
            size_t c = v->cshapes ? v->cshapes * 2 : 64;
            struct wk__shape *sh = realloc(v->shapes, c * sizeof(*sh));
            if (!sh)
                return -ENOMEM;
            v->shapes = sh;
            v->cshapes = c;
        }
        struct wk__shape *sh = &v->shapes[v->nshapes++];
        memset(sh, 0, sizeof(*sh));
        sh->desc = raw + pos;
        sh->dlen = (size_t)sl;
        pos += (size_t)sl;
    }
    if (pos != end)
        return WK_ECORRUPT;
    v->start = v->pos = end;
    return 0;
}

void wk__blkview_rewind(struct wk__blkview *v)
{
    v->pos = v->start;
    v->prev_ts = 0;
}

/* wk__varint_get without a bounds check per byte when 10 bytes are there (the longest
 * varint): every record's length, time delta and shape id go through it. Same results. */
static inline int getv_fast(const uint8_t *p, size_t len, size_t *pos, uint64_t *out)
{
    size_t rem = len - *pos;
    const uint8_t *q = p + *pos;
    /* lengths, deltas and ids are mostly 1-3 bytes */
    if (rem >= 3) {
        if (q[0] < 0x80) {
            *out = q[0];
            *pos += 1;
            return 0;
        }
        if (q[1] < 0x80) {
            *out = (uint64_t)(q[0] & 0x7f) | (uint64_t)q[1] << 7;
            *pos += 2;
            return 0;
        }
        if (q[2] < 0x80) {
            *out = (uint64_t)(q[0] & 0x7f) | (uint64_t)(q[1] & 0x7f) << 7 | (uint64_t)q[2] << 14;
            *pos += 3;
            return 0;
        }
    }
    if (rem < 10)
        return wk__varint_get(p, len, pos, out);
    uint64_t v = 0;
    for (unsigned i = 0; i < 10; i++) {
        v |= (uint64_t)(q[i] & 0x7f) << (7 * i);
        if (q[i] < 0x80) {
            *pos += i + 1;
            *out = v;
            return 0;
        }
    }
    return WK_ECORRUPT;
}

/* One format-2 record of raw[0..len) at *pos: as wk__store_next_record, then its time
 * delta (added to *prev) and shape id (*sid, UINT32_MAX when unreadable: decode2 checks
 * it, readers rule records out by it). State by pointer so that a caller looping over
 * records keeps it in locals. */
static inline int next2(const uint8_t *raw, size_t len, size_t *pos, int64_t *prev,
                        uint32_t *sid, const uint8_t **body, size_t *blen)
{
    if (*pos >= len)
        return 0;
    uint64_t n, d, s;
    int rc = getv_fast(raw, len, pos, &n);
    if (rc < 0)
        return rc;
    if (n > len - *pos)
        return WK_ECORRUPT;
    const uint8_t *b = raw + *pos;
    *pos += (size_t)n;
    size_t bp = 0;
    if ((rc = getv_fast(b, (size_t)n, &bp, &d)) < 0)
        return rc;
    *prev = (int64_t)((uint64_t)*prev + (uint64_t)wk__unzigzag(d));
    *sid = getv_fast(b, (size_t)n, &bp, &s) == 0 && s < UINT32_MAX ? (uint32_t)s : UINT32_MAX;
    *body = b;
    *blen = (size_t)n;
    return 1;
}

int wk__blkview_next(struct wk__blkview *v, const uint8_t **body, size_t *blen, int64_t *ts)
{
    if (v->format == WK__BLK_FORMAT) {
        int rc = wk__store_next_record(v->raw, v->len, &v->pos, body, blen);
        if (rc <= 0)
            return rc;
        if (*blen < 8)
            return WK_ECORRUPT;
        *ts = (int64_t)wk__get_u64le(*body);
        return 1;
    }
    int rc = next2(v->raw, v->len, &v->pos, &v->prev_ts, &v->sid, body, blen);
    if (rc == 1)
        *ts = v->prev_ts;
    return rc;
}

int wk__blkview_next_kept(struct wk__blkview *v, const uint8_t *verdict, size_t nv,
                          const uint8_t **body, size_t *blen, int64_t *ts, uint32_t *skipped)
{
    *skipped = 0;
    if (v->format != WK__BLK_FORMAT2)
        return wk__blkview_next(v, body, blen, ts);
    /* next2 in a loop that passes over the records of ruled-out shapes, in locals */
    size_t pos = v->pos;
    int64_t prev = v->prev_ts;
    uint32_t sid = UINT32_MAX, n_skip = 0;
    int rc;
    while ((rc = next2(v->raw, v->len, &pos, &prev, &sid, body, blen)) == 1 && sid < nv &&
           verdict[sid] == 2)
        n_skip++;
    v->pos = pos;
    v->prev_ts = prev;
    v->sid = sid;
    *ts = prev;
    *skipped = n_skip;
    return rc;
}

/* A string of format 2: literal or a reference into the original. */
static int get_str(const uint8_t *p, size_t len, size_t *pos, const uint8_t *orig, size_t olen,
                   size_t *prev_end, struct wk_str *out)
{
    uint64_t h, n;
    int rc;
    if ((rc = wk__varint_get(p, len, pos, &h)) < 0)
        return rc;
    n = h >> 1;
    if (h & 1) {
        uint64_t d;
        if (!orig || (rc = wk__varint_get(p, len, pos, &d)) < 0)
            return WK_ECORRUPT;
        int64_t off = (int64_t)*prev_end + wk__unzigzag(d);
        if (off < 0 || (uint64_t)off > olen || n > olen - (uint64_t)off)
            return WK_ECORRUPT;
        out->s = (const char *)orig + off;
        out->len = (size_t)n;
        *prev_end = (size_t)off + (size_t)n;
        return 0;
    }
    if (n > len - *pos)
        return WK_ECORRUPT;
    out->s = (const char *)p + *pos;
    out->len = (size_t)n;
    *pos += (size_t)n;
    return 0;
}

static int get_int(const uint8_t *p, size_t len, size_t *pos, const uint8_t *orig, size_t olen,
                   size_t *prev_end, int64_t *out)
{
    uint64_t t;
    int rc;
    if ((rc = wk__varint_get(p, len, pos, &t)) < 0)
        return rc;
    if (t == 1) {
        if (len - *pos < 8)
            return WK_ECORRUPT;
        *out = (int64_t)wk__get_u64le(p + *pos);
        *pos += 8;
        return 0;
    }
    if (!(t & 1)) {
        *out = wk__unzigzag(t >> 1);
        return 0;
    }
    /* Decimal text in the original, as the writer found it. */
    uint64_t d;
    if (!orig || (rc = wk__varint_get(p, len, pos, &d)) < 0)
        return WK_ECORRUPT;
    uint64_t n = t >> 1;
    int64_t off = (int64_t)*prev_end + wk__unzigzag(d);
    if (n == 0 || n > 20 || off < 0 || (uint64_t)off > olen || n > olen - (uint64_t)off)
        return WK_ECORRUPT;
    const uint8_t *s = orig + off;
    size_t i = 0;
    bool neg = s[0] == '-';
    if (neg)
        i++;
    if (i == n)
        return WK_ECORRUPT;
    uint64_t mag = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || mag > (UINT64_MAX - 9) / 10)
            return WK_ECORRUPT;
        mag = mag * 10 + (uint64_t)(s[i] - '0');
    }
    if (mag > (uint64_t)INT64_MAX + (neg ? 1 : 0))
        return WK_ECORRUPT;
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    *prev_end = (size_t)off + (size_t)n;
    return 0;
}

#define GETV(var)                                                                        \
    do {                                                                                 \
        if ((rc = wk__varint_get(p, len, &pos, &(var))) < 0)                                 \
            return rc;                                                                   \
    } while (0)

static int decode2(struct wk__blkview *bv, const uint8_t *p, size_t len, int64_t ts,
                   struct wk_event *ev)
{
    int rc;
    size_t pos = 0;
    uint64_t d, sid, n;
    wk_event_reset(ev);
    wk_event_set_ts(ev, ts);
    GETV(d);
    GETV(sid);
    if (sid >= bv->nshapes)
        return WK_ECORRUPT;
    struct wk__shape *s = &bv->shapes[sid];
    if (!s->parsed && (rc = parse_shape(bv, s)) < 0)
        return rc;
    for (uint32_t i = 0; i < s->nrec; i++) {
        if ((rc = wk_event_add_record(ev)) < 0)
            return rc;
    }
    const uint8_t *orig = NULL;
    size_t olen = 0, prev_end = 0;
    if (s->orig) {
        GETV(n);
        if (n > len - pos)
            return WK_ECORRUPT;
        orig = p + pos;
        olen = (size_t)n;
        pos += olen;
    }
    struct wk_str items_small[16];
    for (uint32_t i = 0; i < s->nf; i++) {
        const struct wk__fdesc *f = &bv->fields[s->first + i];
        struct wk_value v;
        memset(&v, 0, sizeof(v));
        v.kind = f->kind;
        v.flags = f->flags;
        struct wk_str *items = NULL, str;
        if (i + 1 == s->orig) {
            v.u.s = (const char *)orig;
            v.len = (uint32_t)olen;
        } else {
            switch (v.kind) {
            case WK_VAL_NULL:
                break;
            case WK_VAL_BOOL:
                if (pos >= len)
                    return WK_ECORRUPT;
                v.u.b = p[pos++] != 0;
                break;
            case WK_VAL_INT:
                if ((rc = get_int(p, len, &pos, orig, olen, &prev_end, &v.u.i)) < 0)
                    return rc;
                break;
            case WK_VAL_REAL:
                if (len - pos < 8)
                    return WK_ECORRUPT;
                memcpy(&v.u.r, p + pos, 8);
                pos += 8;
                break;
            case WK_VAL_STR:
            case WK_VAL_JSON: {
                size_t pe = prev_end;
                if ((rc = get_str(p, len, &pos, orig, olen, v.kind == WK_VAL_STR ? &prev_end : &pe,
                                  &str)) < 0)
                    return rc;
                if (str.len > UINT32_MAX)
                    return WK_ECORRUPT;
                v.u.s = str.s;
                v.len = (uint32_t)str.len;
                break;
            }
            case WK_VAL_STRLIST:
                GETV(n);
                if (n > len - pos)
                    return WK_ECORRUPT;
                items = n <= 16 ? items_small : malloc((size_t)n * sizeof(*items));
                if (!items)
                    return -ENOMEM;
                for (uint64_t j = 0; j < n; j++) {
                    if ((rc = get_str(p, len, &pos, orig, olen, &prev_end, &items[j])) < 0) {
                        if (items != items_small)
                            free(items);
                        return rc;
                    }
                }
                v.len = (uint32_t)n;
                v.u.items = items;
                break;
            default:
                return WK_ECORRUPT;
            }
        }
        rc = wk_event_add_value(ev, f->rec, &f->key, f->dots, &v);
        if (items && items != items_small)
            free(items);
        if (rc < 0)
            return rc == -EINVAL ? WK_ECORRUPT : rc;
        if (v.flags)
            wk_event_flag_last(ev, v.flags);
    }
    return pos == len ? 0 : WK_ECORRUPT;
}

int wk__blkview_decode(struct wk__blkview *v, const uint8_t *body, size_t blen, int64_t ts,
                       struct wk_event *ev)
{
    if (v->format == WK__BLK_FORMAT)
        return wk__store_decode(body, blen, ev);
    return decode2(v, body, blen, ts, ev);
}

int wk__blkview_count(struct wk__blkview *v, uint32_t *count)
{
    const uint8_t *body;
    size_t blen;
    int64_t ts;
    int rc;
    uint32_t n = 0;
    wk__blkview_rewind(v);
    while ((rc = wk__blkview_next(v, &body, &blen, &ts)) == 1)
        n++;
    wk__blkview_rewind(v);
    *count = n;
    return rc;
}

int wk__blkview_shape_names(const struct wk__blkview *v, uint32_t sid,
                            const char *const *names, const size_t *lens, size_t n,
                            uint64_t *present)
{
    if (sid >= v->nshapes || n > 64)
        return WK_ECORRUPT;
    /* the descriptor's names compared as they are: no key set-up for shapes ruled out */
    const uint8_t *p = v->shapes[sid].desc;
    size_t len = v->shapes[sid].dlen, pos = 0;
    uint64_t nrec, nf, orig, klen, x;
    int rc;
    *present = 0;
    if ((rc = wk__varint_get(p, len, &pos, &nrec)) < 0 || (rc = wk__varint_get(p, len, &pos, &nf)) < 0 ||
        (rc = wk__varint_get(p, len, &pos, &orig)) < 0)
        return rc;
    for (uint64_t f = 0; f < nf; f++) {
        if ((rc = wk__varint_get(p, len, &pos, &klen)) < 0)
            return rc;
        if (klen > len - pos)
            return WK_ECORRUPT;
        for (size_t i = 0; i < n; i++) {
            if (lens[i] == klen && memcmp(p + pos, names[i], lens[i]) == 0)
                *present |= UINT64_C(1) << i;
        }
        pos += (size_t)klen;
        if ((rc = wk__varint_get(p, len, &pos, &x)) < 0)
            return rc;
        if (len - pos < 2)
            return WK_ECORRUPT;
        pos += 2;
        if ((rc = wk__varint_get(p, len, &pos, &x)) < 0)
            return rc;
    }
    return 0;
}
