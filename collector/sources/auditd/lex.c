/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The auditd record lexer: `[node=N ]type=T msg=audit(SEC.MS:SERIAL): k=v ...[\x1dK=V ...]`.
 * Splits a line into (key, value) spans pointing into the line itself (no copy, no malloc
 * per field), unnesting the msg='...' of user-space records and marking the ENRICHED part.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "watchkeeper/error.h"

#include "auditd_private.h"

static size_t skip_sp(const char *s, size_t i, size_t len)
{
    while (i < len && s[i] == ' ')
        i++;
    return i;
}

/* The decimal digits at s[i..], at most max of them: their value in *v; @return their end. */
static inline size_t digits(const char *s, size_t i, size_t len, size_t max, uint64_t *v)
{
    size_t end = len - i < max ? len : i + max;
    uint64_t x = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* eight at a time: the digits of a word (each byte ^ '0' below 10; a carry of the
     * add only reaches bytes after the first that is not a digit) and their value */
    static const uint64_t p10[9] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
                                     100000000 };
    const uint64_t ones = UINT64_C(0x0101010101010101);
    while (i + 8 <= end) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        const uint64_t d = w ^ (ones * '0');
        const uint64_t bad = ((d + ones * 0x76) | d) & (ones * 0x80);
        const unsigned n = bad ? (unsigned)__builtin_ctzll(bad) >> 3 : 8;
        if (n) {
            uint64_t t = d << (8 * (8 - n)); /* the n digits last, zeros (leading) first */
            t = (t * 10 + (t >> 8)) & UINT64_C(0x00FF00FF00FF00FF);
            t = (t * 100 + (t >> 16)) & UINT64_C(0x0000FFFF0000FFFF);
            t = (t * 10000 + (t >> 32)) & UINT64_C(0xFFFFFFFF);
            x = x * p10[n] + t;
        }
        i += n;
        if (n < 8) {
            *v = x;
            return i;
        }
    }
#endif
    while (i < end && (unsigned)(s[i] - '0') < 10u)
        x = x * 10 + (uint64_t)(s[i++] - '0');
    *v = x;
    return i;
}

/* The first ' ' at or after i, or len: eight bytes at a time (see value_end). */
static inline size_t space_at(const char *s, size_t i, size_t len)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    while (i + 8 <= len) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t a = w ^ (ones * ' ');
        uint64_t m = (a - ones) & ~a & highs;
        if (m)
            return i + (size_t)(__builtin_ctzll(m) >> 3);
        i += 8;
    }
#endif
    while (i < len && s[i] != ' ')
        i++;
    return i;
}

/* Record type names to numbers: the name's bytes (at most 16, as two words) in a small
 * direct-mapped memo in front of wk__au_type_number, so a header costs no hash of its
 * type name. */
static __thread struct {
    uint64_t w0, w1;
    size_t len;
    int no;
} type_memo[64];

static inline int type_no(const char *s, size_t t0, size_t tlen, size_t len)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (tlen <= 16 && len - t0 >= 16) {
        uint64_t w0, w1;
        memcpy(&w0, s + t0, 8);
        memcpy(&w1, s + t0 + 8, 8);
        if (tlen < 8) {
            w0 &= (UINT64_C(1) << (8 * tlen)) - 1;
            w1 = 0;
        } else if (tlen < 16) {
            w1 &= (UINT64_C(1) << (8 * (tlen - 8))) - 1;
        }
        const uint64_t k = UINT64_C(0x9E3779B97F4A7C15);
        unsigned slot = (unsigned)(((w0 ^ (w1 * k) ^ tlen) * k) >> 58);
        if (type_memo[slot].len == tlen && type_memo[slot].w0 == w0 && type_memo[slot].w1 == w1)
            return type_memo[slot].no;
        int no = wk__au_type_number(s + t0, tlen);
        type_memo[slot].w0 = w0;
        type_memo[slot].w1 = w1;
        type_memo[slot].len = tlen;
        type_memo[slot].no = no;
        return no;
    }
#endif
    return wk__au_type_number(s + t0, tlen);
}

int wk__au_lex_header(const char *s, size_t len, struct wk__au_hdr *h, const char **reason)
{
    size_t i = 0;
    memset(h, 0, sizeof(*h));
    if (len >= 5 && memcmp(s, "node=", 5) == 0) {
        size_t j = space_at(s, 5, len);
        h->node = s + 5;
        h->nodelen = j - 5;
        i = skip_sp(s, j, len);
    }
    if (len - i < 5 || memcmp(s + i, "type=", 5) != 0) {
        *reason = "no type= at the start of the record";
        return WK_EPARSE;
    }
    i += 5;
    size_t t0 = i;
    i = space_at(s, i, len);
    if (i == t0) {
        *reason = "empty record type";
        return WK_EPARSE;
    }
    h->type = s + t0;
    h->typelen = i - t0;
    i = skip_sp(s, i, len);
    if (len - i < 10 || memcmp(s + i, "msg=audit(", 10) != 0) {
        *reason = "no msg=audit(...) after the record type";
        return WK_EPARSE;
    }
    i += 10;
    /* The records of one event carry the same stamp, and come together: the last stamp's
     * text, through its ')', is checked before parsing numbers again. */
    static __thread struct {
        char text[48];
        size_t len;
        int64_t ts_ns;
        uint64_t serial;
        uint64_t sec;  /* its seconds, and their digits and '.' (8 to 16 bytes, else 0) */
        size_t seclen;
    } last;
    if (last.len && len - i >= last.len && memcmp(s + i, last.text, last.len) == 0) {
        h->ts_ns = last.ts_ns;
        h->serial = last.serial;
        i += last.len - 1; /* at the ')' */
        goto stamped;
    }
    uint64_t sec = 0, frac = 0, serial = 0;
    size_t d0 = i;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* A new event, mostly in the same second as the last stamp: its seconds and '.' are
     * compared as two words (overlapping) instead of parsed. */
    const size_t sl = last.seclen;
    bool same_sec = false;
    if (sl && len - i >= sl) {
        uint64_t a0, a1, b0, b1;
        memcpy(&a0, s + i, 8);
        memcpy(&a1, s + i + sl - 8, 8);
        memcpy(&b0, last.text, 8);
        memcpy(&b1, last.text + sl - 8, 8);
        same_sec = ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (same_sec) {
        sec = last.sec;
        i += sl;
    } else
#endif
    {
        i = digits(s, i, len, 12, &sec);
        if (i == d0 || i >= len || s[i] != '.') {
            *reason = "bad timestamp in msg=audit(...)";
            return WK_EPARSE;
        }
        i++;
    }
    const size_t seclen = i - d0; /* (with the '.') */
    size_t f0 = i;
    i = digits(s, i, len, 9, &frac);
    size_t fd = i - f0;
    if (fd == 0 || i >= len || s[i] != ':') {
        *reason = "bad timestamp in msg=audit(...)";
        return WK_EPARSE;
    }
    for (size_t k = fd; k < 9; k++)
        frac *= 10;
    i++;
    size_t s0 = i;
    i = digits(s, i, len, 20, &serial);
    if (i == s0 || i >= len || s[i] != ')') {
        *reason = "bad serial in msg=audit(...)";
        return WK_EPARSE;
    }
    h->ts_ns = (int64_t)(sec * 1000000000ull + frac);
    h->serial = serial;
    if (i + 1 - d0 <= sizeof(last.text)) {
        memcpy(last.text, s + d0, i + 1 - d0);
        last.len = i + 1 - d0;
        last.ts_ns = h->ts_ns;
        last.serial = serial;
        last.sec = sec;
        last.seclen = seclen >= 8 && seclen <= 16 ? seclen : 0;
    }
stamped:
    /* "): " normally; old auditd DAEMON_* records lack the ':' */
    h->body = i + 1 < len && s[i + 1] == ':' ? i + 2 : i + 1;
    if (h->typelen > 9 && memcmp(h->type, "UNKNOWN[", 8) == 0) {
        int n = 0;
        for (size_t k = 8; k < h->typelen && h->type[k] >= '0' && h->type[k] <= '9'; k++)
            n = n * 10 + (h->type[k] - '0');
        h->typeno = n;
    } else {
        h->typeno = type_no(s, t0, h->typelen, len);
    }
    return 0;
}

static int grow(struct wk__au_fields *out)
{
    size_t nc = out->cap ? out->cap * 2 : 64;
    struct wk__au_field *nf = realloc(out->f, nc * sizeof(*nf));
    if (!nf)
        return -ENOMEM;
    out->f = nf;
    out->cap = nc;
    return 0;
}

/*
 * Lex k=v pairs in s[i..len). Inside a msg='...' (nested) an unquoted "'" ends the list;
 * a 0x1d switches to the enriched part. Tokens without '=' (AVC's "denied { read }") are
 * skipped, like auparse does. @return the position where lexing stopped, or -ENOMEM.
 */
/* Character classes of the scans: a space or 0x1d ends a value (1), '=' ends a name (2),
 * a single quote ends both inside a nested msg='...' (4); a byte that may not be in a name
 * (8: controls, non-ASCII, '.', which would nest) sends the name scan to its slow path. */
#define BAD8 8, 8, 8, 8, 8, 8, 8, 8
#define BAD64 BAD8, BAD8, BAD8, BAD8, BAD8, BAD8, BAD8, BAD8
static const unsigned char lex_class[256] = {
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, /* 0x00 */
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 1 | 8, 8, 8, /* 0x1d: value end */
    1 | 8, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 8, 0, /* ' ', '\'', '.' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, /* '=' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, /* 0x7f */
    BAD64, BAD64,                                   /* 0x80..0xff */
};

/* The end of an unquoted value: the first byte at or after e whose class is in `stop` (a
 * space or 0x1d, and a single quote when nested), or len. Eight bytes at a time: a byte
 * equal to c makes (x ^ c) - 0x01 borrow into its high bit, and the lowest such bit of the
 * word is exact (a borrow only spoils the bytes above it). */
static inline size_t value_end(const unsigned char *u, size_t e, size_t len, bool nested,
                               unsigned stop)
{
#if defined(__SSE2__)
    /* sixteen bytes at a time where the line has them */
    const __m128i sp = _mm_set1_epi8(' '), gs = _mm_set1_epi8(0x1d), sq = _mm_set1_epi8('\'');
    while (e + 16 <= len) {
        const __m128i w = _mm_loadu_si128((const __m128i *)(const void *)(u + e));
        __m128i m = _mm_or_si128(_mm_cmpeq_epi8(w, sp), _mm_cmpeq_epi8(w, gs));
        if (nested)
            m = _mm_or_si128(m, _mm_cmpeq_epi8(w, sq));
        const unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits)
            return e + (size_t)__builtin_ctz(bits);
        e += 16;
    }
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    while (e + 8 <= len) {
        uint64_t w;
        memcpy(&w, u + e, 8);
        uint64_t a = w ^ (ones * ' '), b = w ^ (ones * 0x1d);
        uint64_t m = ((a - ones) & ~a) | ((b - ones) & ~b);
        if (nested) {
            uint64_t c = w ^ (ones * '\'');
            m |= (c - ones) & ~c;
        }
        m &= highs;
        if (m)
            return e + (size_t)(__builtin_ctzll(m) >> 3);
        e += 8;
    }
#else
    (void)nested;
#endif
    while (e < len && !(lex_class[u[e]] & stop))
        e++;
    return e;
}

static ssize_t lex_nested(const char *s, size_t i, size_t len, bool *enriched,
                          const struct wk__au_hints *hint, struct wk__au_hints *hw,
                          struct wk__au_fields *out);

/* The first byte c at or after i, or len (memchr without the call for short values). */
static inline size_t byte_at(const unsigned char *u, size_t i, size_t len, unsigned char c)
{
#if defined(__SSE2__)
    const __m128i cc = _mm_set1_epi8((char)c);
    while (i + 16 <= len) {
        const __m128i w = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
        const unsigned bits = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(w, cc));
        if (bits)
            return i + (size_t)__builtin_ctz(bits);
        i += 16;
    }
#endif
    while (i < len && u[i] != c)
        i++;
    return i;
}

/* wk__au_name_find for a name followed by its '=' with avail bytes readable from k: a
 * short name and its '=' compared as one word (wk__au_name.w). */
static inline const struct wk__au_name *find_name(uint32_t hash, const char *k, size_t klen,
                                                  size_t avail)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (klen < 8 && avail >= 8) {
        uint64_t w;
        memcpy(&w, k, 8);
        for (uint32_t i = hash & (WK_AU_NAME_TAB - 1);; i = (i + 1) & (WK_AU_NAME_TAB - 1)) {
            const struct wk__au_name *n = wk__au_name_tab[i];
            if (!n)
                return NULL;
            if (n->key.hash == hash && n->key.len == klen && ((w ^ n->w) & n->wmask) == 0)
                return n;
        }
    }
#else
    (void)avail;
#endif
    return wk__au_name_find(hash, k, klen);
}

/* One body, two copies (nested or not, a constant in each): the checks of the other case
 * drop out of the loop. */
static inline __attribute__((always_inline)) ssize_t
lex_list(const char *s, size_t i, size_t len, const bool nested, const bool execve,
         bool *enriched, const struct wk__au_hints *hint, struct wk__au_hints *hw,
         struct wk__au_fields *out)
{
    const unsigned name_stop = nested ? 1u | 2u | 4u : 1u | 2u;
    const unsigned value_stop = nested ? 1u | 4u : 1u;
    const unsigned char *u = (const unsigned char *)s;
    bool enr = *enriched; /* (a local: the stores below may alias the pointer) */
    while (i < len) {
        unsigned char c = u[i];
        if (c == ' ') {
            i++;
            continue;
        }
        if (c == 0x1d) {
            *enriched = enr = true;
            i++;
            continue;
        }
        if (nested && c == '\'')
            return (ssize_t)i + 1;
        size_t k0 = i;
        struct wk__au_field *f;
        const struct wk__au_name *nm = out->n < hint->n ? hint->nm[out->n] : NULL;
        bool hinted = false; /* the name is the hint's: hw (== hint) holds it already */
        if (nm) {
            /* the name this position had in the last record of the type? (known names
             * hold no byte that ends or spoils a name, so it is what the scan would find)
             * Its first 8 bytes (with the '=' when shorter) in one compare. */
            const size_t kl = nm->key.len;
            bool same = false;
            if (i + 8 <= len) {
                uint64_t w;
                memcpy(&w, s + i, 8);
                if (((w ^ nm->w) & nm->wmask) == 0) {
                    same = true;
                    if (kl >= 8) {
                        same = kl < len - i && s[i + kl] == '=';
                        for (size_t j = 8; j < kl && same; j++)
                            same = nm->key.name[j] == s[i + j];
                    }
                }
            } else if (kl < len - i && s[i + kl] == '=') {
                same = true;
                for (size_t j = 0; j < kl && same; j++)
                    same = nm->key.name[j] == s[i + j];
            }
            if (same) {
                size_t j = kl;
                i += j;
                if (out->n == out->cap && grow(out) < 0)
                    return -ENOMEM;
                f = &out->f[out->n];
                f->k = s + k0;
                f->klen = nm->key.len;
                f->khash = nm->key.hash;
                f->nm = nm;
                f->enriched = enr;
                f->nested = nested;
                hinted = true;
                goto value;
            }
        }
        if (!nested && execve && c == 'a') {
            /* EXECVE's a<N>= (canonical: no leading zero, N < WK_AU_ARG_KEYS): its name and
             * key from N, without hashing it or probing the table; a long command line's
             * arguments are past the hints (and a127, the table's last) */
            size_t j = i + 1;
            unsigned idx = 0, d = j < len ? (unsigned)(u[j] - '0') : 10u;
            if (d < 10u && !(d == 0 && j + 1 < len && u[j + 1] != '=')) {
                do {
                    idx = idx * 10 + d;
                    j++;
                } while (j < len && idx < WK_AU_ARG_KEYS && (d = (unsigned)(u[j] - '0')) < 10u);
                if (j < len && u[j] == '=' && idx < WK_AU_ARG_KEYS) {
                    if (out->n == out->cap && grow(out) < 0)
                        return -ENOMEM;
                    f = &out->f[out->n];
                    f->k = s + k0;
                    f->klen = (uint32_t)(j - k0);
                    f->nm = idx < WK_AU_NAME_ARGS ? wk__au_arg_names[idx] : NULL;
                    f->khash = wk__au_arg_keys[idx].hash;
                    f->argp1 = (uint16_t)(idx + 1);
                    f->enriched = enr;
                    f->nested = false;
                    i = j;
                    goto value;
                }
            }
        }
        /* the name, hashed on the way (FNV-1a, as wk_key_hash) */
        uint32_t h = 2166136261u;
        while (i < len && !(lex_class[u[i]] & (name_stop | 8u))) {
            h = (h ^ u[i]) * 16777619u;
            i++;
        }
        bool ok = i > k0; /* names are ASCII without dots (a dot would nest) */
        if (i < len && !(lex_class[u[i]] & name_stop)) {
            ok = false; /* a byte no name holds: find where the token's name would end */
            while (i < len && !(lex_class[u[i]] & name_stop))
                i++;
        }
        if (i >= len || s[i] != '=')
            continue; /* a bare word */
        if (!ok) { /* noise, skip it */
            i++;
            while (i < len && s[i] != ' ' && s[i] != 0x1d)
                i++;
            continue;
        }
        if (out->n == out->cap && grow(out) < 0)
            return -ENOMEM;
        f = &out->f[out->n];
        f->k = s + k0;
        f->klen = (uint32_t)(i - k0);
        f->khash = h;
        f->argp1 = 0;
        f->enriched = enr;
        f->nested = nested;
        if (nested && f->klen > 1 && f->k[0] == '(') { /* old PAM format: "(hostname=?, " */
            f->k++;
            f->klen--;
            f->khash = wk_key_hash(f->k, f->klen);
        }
        f->nm = find_name(f->khash, f->k, f->klen, (size_t)(s + len - f->k));
    value:
        i++;
        /* what the value starts with (0 at the end of the line: a plain empty value) */
        const unsigned char v0 = i < len ? u[i] : 0;
        if (v0 == '"') {
            size_t e = byte_at(u, i + 1, len, '"');
            f->form = WK_AU_DQUOTED;
            f->v = s + i + 1;
            f->vlen = (uint32_t)(e - i - 1);
            i = e < len ? e + 1 : len;
        } else if (v0 == '\'') {
            if (!nested && f->klen == 3 && memcmp(f->k, "msg", 3) == 0) {
                ssize_t r = lex_nested(s, i + 1, len, enriched, hint, hw, out);
                if (r < 0)
                    return r;
                enr = *enriched;
                i = (size_t)r;
                continue;
            }
            const char *q = memchr(s + i + 1, '\'', len - i - 1);
            size_t e = q ? (size_t)(q - s) : len;
            f->form = WK_AU_SQUOTED;
            f->v = s + i + 1;
            f->vlen = (uint32_t)(e - i - 1);
            i = e < len ? e + 1 : len;
        } else if (v0 == '{' && enr) {
            /* ENRICHED SADDR={ saddr_fam=inet laddr=... } holds spaces */
            const char *q = memchr(s + i, '}', len - i);
            size_t e = q ? (size_t)(q - s) + 1 : len;
            f->form = WK_AU_PLAIN;
            f->v = s + i;
            f->vlen = (uint32_t)(e - i);
            i = e;
        } else {
            size_t e = value_end(u, i, len, nested, value_stop);
            f->form = WK_AU_PLAIN;
            f->v = s + i;
            f->vlen = (uint32_t)(e - i);
            i = e;
            if (nested) { /* old PAM format: "addr=?, terminal=cron res=success)" */
                while (f->vlen && (f->v[f->vlen - 1] == ',' || f->v[f->vlen - 1] == ')'))
                    f->vlen--;
            }
        }
        /* this record's names are the next one's hints (position n was read above) */
        if (!hinted && out->n < WK_AU_HINT_FIELDS)
            hw->nm[out->n] = f->nm;
        out->n++;
        if (i < len && u[i] == ' ') /* (the loop would skip it) */
            i++;
    }
    return (ssize_t)i;
}

static __attribute__((noinline)) ssize_t lex_nested(const char *s, size_t i, size_t len,
                                                    bool *enriched,
                                                    const struct wk__au_hints *hint,
                                                    struct wk__au_hints *hw,
                                                    struct wk__au_fields *out)
{
    return lex_list(s, i, len, true, false, enriched, hint, hw, out);
}

int wk__au_lex_fields(const char *line, size_t len, size_t body, int typeno,
                      struct wk__au_fields *out)
{
    bool enriched = false;
    struct wk__au_hints *hint = &out->hints[(unsigned)typeno % WK_AU_HINT_TYPES];
    static const struct wk__au_hints none;
    out->n = 0;
    ssize_t r = lex_list(line, body, len, false, typeno == 1309 /* EXECVE */, &enriched,
                         hint->typeno == typeno ? hint : &none, hint, out);
    /* the names lex_list wrote over the hints are this record's: the next one's hints */
    hint->typeno = r < 0 ? -1 : typeno;
    hint->n = out->n < WK_AU_HINT_FIELDS ? (unsigned)out->n : WK_AU_HINT_FIELDS;
    return r < 0 ? (int)r : 0;
}

void wk__au_fields_fini(struct wk__au_fields *fs)
{
    free(fs->f);
    fs->f = NULL;
    fs->n = fs->cap = 0;
}
