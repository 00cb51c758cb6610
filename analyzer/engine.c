/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The evaluator: one event against the rules its logsource selects. Rules of a per-record
 * logsource (auditd) match when one record, with the event's context fields, matches.
 * Values compare as text (integers as their decimal text), case-insensitively unless
 * `cased`; field names are case-sensitive. Per-worker state lives in the scratch.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_private.h"
#include "watchkeeper/error.h"
#include "watchkeeper/timefmt.h"

bool wk__sg_plain_lookups;

#define MAX_ARGV 128
static struct wk_key argv_keys[MAX_ARGV]; /* a0..a127: the plain path's lookups */
static char argv_names[MAX_ARGV][8];
static struct wk_key type_key;

static void argv_keys_once(void)
{
    for (int i = 0; i < MAX_ARGV; i++) {
        snprintf(argv_names[i], sizeof(argv_names[i]), "a%d", i);
        argv_keys[i] = wk_key_init(argv_names[i]);
    }
    type_key = wk_key_init("type");
}

static void argv_keys_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, argv_keys_once);
}

void wk_corr_opts_init(struct wk_corr_opts *o)
{
    o->max_bytes = 64u << 20;
    o->lateness_ns = 60LL * 1000000000;
}

int wk_rule_scratch_new(struct wk_rule_scratch **out, struct wk_ruleset *rs,
                        const struct wk_corr_opts *opts)
{
    argv_keys_init();
    struct wk_rule_scratch *sc = calloc(1, sizeof(*sc));
    if (!sc)
        return -ENOMEM;
    sc->rs = wk_ruleset_ref(rs);
    if (opts)
        sc->copts = *opts;
    else
        wk_corr_opts_init(&sc->copts);
    sc->md = pcre2_match_data_create(1, NULL);
    sc->mctx = pcre2_match_context_create(NULL);
    sc->fired = calloc(rs->rules.n + 1, sizeof(uint64_t));
    sc->mev = calloc(rs->nkeys + 1, sizeof(*sc->mev));
    sc->mrec = calloc(rs->nkeys + 1, sizeof(*sc->mrec));
    sc->evbits = calloc(rs->kwords + 1, sizeof(uint64_t));
    sc->recbits = calloc(rs->kwords + 1, sizeof(uint64_t));
    if (!sc->md || !sc->mctx || !sc->fired || !sc->mev || !sc->mrec || !sc->evbits ||
        !sc->recbits || wk__corr_new(sc) < 0 ||
        wk__sg_prefilter_scratch(sc) < 0) {
        wk_rule_scratch_free(sc);
        return -ENOMEM;
    }
    /* a pathological regex costs a bounded amount of work, then simply does not match */
    pcre2_set_match_limit(sc->mctx, 100000);
    pcre2_set_depth_limit(sc->mctx, 1000);
    *out = sc;
    return 0;
}

struct wk_rule_scratch *wk_rule_scratch_free(struct wk_rule_scratch *sc)
{
    if (!sc)
        return NULL;
    wk__corr_free(sc);
    wk__sg_prefilter_scratch_free(sc);
    pcre2_match_data_free(sc->md);
    pcre2_match_context_free(sc->mctx);
    free(sc->fired);
    free(sc->mev);
    free(sc->mrec);
    free(sc->evbits);
    free(sc->recbits);
    free(sc->recf);
    free(sc->argv);
    wk_ruleset_unref(sc->rs);
    free(sc);
    return NULL;
}

void wk_rule_scratch_stats(const struct wk_rule_scratch *sc, struct wk_rule_stats *out)
{
    *out = sc->st;
}

/* ---- text matching ------------------------------------------------------------------------- */
static inline bool fold_eq(const char *a, const char *lit, size_t n, bool cased)
{
    if (cased)
        return memcmp(a, lit, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (wk__sg_fold[(unsigned char)a[i]] != (unsigned char)lit[i])
            return false;
    return true;
}

static bool fold_find(const char *h, size_t hl, const char *n, size_t nl, bool cased)
{
    if (nl == 0)
        return true;
    if (nl > hl)
        return false;
    if (cased)
        return memmem(h, hl, n, nl) != NULL;
    unsigned char c0 = (unsigned char)n[0];
    unsigned char up = (c0 >= 'a' && c0 <= 'z') ? (unsigned char)(c0 - 32) : c0;
    const char *end = h + hl - nl + 1;
    const char *p = h;
    while (p < end) {
        /* jump to the next byte equal to the first needle byte, in either case */
        const char *a = memchr(p, c0, (size_t)(end - p));
        const char *b = up != c0 ? memchr(p, up, (size_t)(a ? a - p : end - p)) : NULL;
        const char *q = b ? b : a;
        if (!q)
            return false;
        if (fold_eq(q + 1, n + 1, nl - 1, false))
            return true;
        p = q + 1;
    }
    return false;
}

/* One token at s (len left): bytes consumed, or -1. */
static int tok_at(const struct sg_gtok_s *t, const char *s, size_t len, bool cased)
{
    switch (t->kind) {
    case SG_G_LIT:
        return len >= t->len && fold_eq(s, t->s, t->len, cased) ? (int)t->len : -1;
    case SG_G_ONE: {
        if (!len)
            return -1;
        unsigned char c = (unsigned char)s[0];
        int n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                                                 : (c & 0xf8) == 0xf0 ? 4 : 1;
        return (size_t)n <= len ? n : 1;
    }
    case SG_G_DASH:
        if (len && (s[0] == '-' || s[0] == '/'))
            return 1;
        if (len >= 3 && (unsigned char)s[0] == 0xe2 && (unsigned char)s[1] == 0x80 &&
            ((unsigned char)s[2] == 0x93 || (unsigned char)s[2] == 0x94 ||
             (unsigned char)s[2] == 0x95))
            return 3;
        return -1;
    }
    return -1;
}

/* Wildcard match of the whole string. Each token matches at most one way at a position,
 * so backtracking to the last star is exact (the classic linear glob algorithm). */
static bool glob(const struct sg_gtok_s *t, size_t nt, const char *s, size_t len, bool cased)
{
    size_t ti = 0, si = 0, star_t = (size_t)-1, star_s = 0;
    while (si < len || ti < nt) {
        if (ti < nt) {
            if (t[ti].kind == SG_G_STAR) {
                star_t = ti++;
                star_s = si;
                continue;
            }
            int n = tok_at(&t[ti], s + si, len - si, cased);
            if (n >= 0) {
                ti++;
                si += (size_t)n;
                continue;
            }
        }
        if (star_t != (size_t)-1 && star_s < len) {
            star_s++;
            si = star_s;
            ti = star_t + 1;
            continue;
        }
        return false;
    }
    return true;
}

bool wk__sg_matcher_text(const struct sg_matcher *m, const char *s, size_t len,
                         struct wk_rule_scratch *sc)
{
    switch (m->kind) {
    case SG_MK_EQ:
        return len == m->len && fold_eq(s, m->lit, len, m->cased);
    case SG_MK_PREFIX:
        return len >= m->len && fold_eq(s, m->lit, m->len, m->cased);
    case SG_MK_SUFFIX:
        return len >= m->len && fold_eq(s + len - m->len, m->lit, m->len, m->cased);
    case SG_MK_CONTAINS:
        return fold_find(s, len, m->lit, m->len, m->cased);
    case SG_MK_GLOB:
        return glob(m->toks, m->ntoks, s, len, m->cased);
    case SG_MK_RE:
        return pcre2_match(m->re, (PCRE2_SPTR)s, len, 0, 0, sc->md, sc->mctx) >= 0;
    default:
        return false;
    }
}

/* The text of a scalar value (borrowed or in sc->num). */
static inline bool value_text(const struct wk_value *v, struct wk_rule_scratch *sc,
                              const char **s, size_t *len)
{
    if (v && v->kind == WK_VAL_STR) { /* the common case, without the call */
        *s = v->u.s;
        *len = v->len;
        return true;
    }
    return wk_value_text(v, sc->num, sizeof(sc->num), s, len);
}

static bool value_num(const struct wk_value *v, double *out)
{
    if (v->kind == WK_VAL_INT) {
        *out = (double)v->u.i;
        return true;
    }
    if (v->kind == WK_VAL_REAL) {
        *out = v->u.r;
        return true;
    }
    if (v->kind == WK_VAL_STR && v->len && v->len < 64) {
        char tmp[64], *end;
        memcpy(tmp, v->u.s, v->len);
        tmp[v->len] = 0;
        *out = strtod(tmp, &end);
        return end != tmp && *end == 0;
    }
    return false;
}

static bool cidr_match(const struct sg_matcher *m, const char *s, size_t len)
{
    char tmp[64];
    unsigned char ip[16];
    if (len >= sizeof(tmp))
        return false;
    memcpy(tmp, s, len);
    tmp[len] = 0;
    if (inet_pton(m->family == 4 ? AF_INET : AF_INET6, tmp, ip) != 1)
        return false;
    unsigned bits = m->plen;
    for (unsigned i = 0; bits; i++) {
        unsigned b = bits >= 8 ? 8 : bits;
        unsigned char mask = (unsigned char)(0xff << (8 - b));
        if ((ip[i] & mask) != (m->ip[i] & mask))
            return false;
        bits -= b;
    }
    return true;
}

/* ISO 8601 week-based year of y has 53 weeks (it starts or, in a leap year, ends on Thu) */
static bool long_iso_year(long y)
{
    long p = (y + y / 4 - y / 100 + y / 400) % 7;
    long q = ((y - 1) + (y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400) % 7;
    return p == 4 || q == 3;
}

/* The time part of ns since the epoch, in UTC (week: ISO 8601, 1..53). */
static long time_part(int64_t ns, uint8_t part)
{
    int64_t sec = ns / WK_NS_PER_SEC - (ns % WK_NS_PER_SEC < 0);
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return -1;
    switch (part) {
    case SG_T_MINUTE: return tm.tm_min;
    case SG_T_HOUR: return tm.tm_hour;
    case SG_T_DAY: return tm.tm_mday;
    case SG_T_MONTH: return tm.tm_mon + 1;
    case SG_T_YEAR: return tm.tm_year + 1900L;
    default: {
        long y = tm.tm_year + 1900L;
        long w = (tm.tm_yday - (tm.tm_wday + 6) % 7 + 10) / 7;
        if (w < 1)
            return long_iso_year(y - 1) ? 53 : 52;
        if (w == 53 && !long_iso_year(y))
            return 1;
        return w;
    }
    }
}

/* A time modifier on one timestamp (ns). */
static bool time_cmp(const struct sg_matcher *m, int64_t ns)
{
    long x = time_part(ns, m->tpart);
    if (x < 0)
        return false;
    switch (m->numop) {
    case 0: return x > m->num;
    case 1: return x >= m->num;
    case 2: return x < m->num;
    case 3: return x <= m->num;
    default: return x == m->num;
    }
}

/* A time modifier on a field value: RFC 3339 text (any item of a string list). */
static bool time_match(const struct sg_matcher *m, const struct wk_value *v)
{
    int64_t ns;
    if (v->kind == WK_VAL_STR)
        return wk_time_parse(v->u.s, v->len, &ns) == 0 && time_cmp(m, ns);
    if (v->kind == WK_VAL_STRLIST)
        for (uint32_t i = 0; i < v->len; i++)
            if (wk_time_parse(v->u.items[i].s, v->u.items[i].len, &ns) == 0 && time_cmp(m, ns))
                return true;
    return false;
}

struct ctx {
    struct wk_rule_scratch *sc;
    const struct wk_event *ev;
    unsigned rec;
    bool per_record;
    const struct sg_logsource *ls;
};

static inline const struct wk_value *lookup(const struct ctx *c, const struct wk_key *k,
                                           uint32_t kid)
{
    return wk__sg_lookup(c->sc, c->ev, c->rec, c->per_record, k, kid);
}

/* One pass over the event's fields for per-record logsources: every field whose name the
 * ruleset looks up (its key table) goes to the event memo (record 0, which is then
 * complete: evfull) or to sc->recf (records). @return 0, -ENOMEM. */
static int fields_pass(struct wk_rule_scratch *sc, const struct wk_event *ev)
{
    const struct wk_ruleset *rs = sc->rs;
    size_t n = wk_event_nfields(ev);
    const struct wk_field *f = wk_event_fields(ev);
    const uint32_t *hs = wk_event_field_hashes(ev);
    if (n > sc->recfcap) {
        struct wk__recf *p = realloc(sc->recf, n * 2 * sizeof(*p));
        if (!p)
            return -ENOMEM;
        sc->recf = p;
        sc->recfcap = n * 2;
    }
    size_t nr = 0;
    const uint64_t gen = sc->gen;
    uint64_t *evbits = sc->evbits;
    memset(evbits, 0, rs->kwords * sizeof(*evbits));
    for (size_t i = 0; i < n; i++) {
        uint32_t kid = wk__sg_key_id(rs, hs[i], f[i].key.name, f[i].key.len);
        if (kid == UINT32_MAX)
            continue;
        if (f[i].v.rec == 0) {
            sc->mev[kid].gen = gen;
            sc->mev[kid].v = &f[i].v;
            evbits[kid / 64] |= UINT64_C(1) << (kid % 64);
        } else {
            sc->recf[nr++] = (struct wk__recf){ kid, f[i].v.rec, &f[i].v };
        }
    }
    sc->nrecf = nr;
    sc->evfull = gen;
    return 0;
}

/* Start record rec (per-record logsource): its looked-up fields under a new mgen. */
static void rec_begin(struct wk_rule_scratch *sc, unsigned rec)
{
    const uint64_t g = ++sc->mgen;
    uint64_t *bits = sc->recbits;
    memset(bits, 0, sc->rs->kwords * sizeof(*bits));
    for (size_t i = 0; i < sc->nrecf; i++) {
        const struct wk__recf *r = &sc->recf[i];
        if (r->rec == rec) {
            sc->mrec[r->kid].gen = g;
            sc->mrec[r->kid].v = r->v;
            bits[r->kid / 64] |= UINT64_C(1) << (r->kid % 64);
        }
    }
}

static bool fieldref(const struct sg_matcher *m, const struct wk_value *v, const struct ctx *c)
{
    const struct wk_value *o = lookup(c, &m->ref, m->refkid);
    if (!o || o->kind == WK_VAL_NULL)
        return false;
    const char *os, *vs;
    size_t ol, vl;
    char tmp[64];
    if (!value_text(o, c->sc, &os, &ol))
        return false;
    if (os == c->sc->num) { /* both may format numbers: keep the first one apart */
        memcpy(tmp, os, ol + 1);
        os = tmp;
    }
    if (!value_text(v, c->sc, &vs, &vl))
        return false;
    switch (m->numop) {
    case SG_MK_EQ: return vl == ol && (m->cased ? !memcmp(vs, os, ol) : !strncasecmp(vs, os, ol));
    case SG_MK_PREFIX: return vl >= ol && (m->cased ? !memcmp(vs, os, ol) : !strncasecmp(vs, os, ol));
    case SG_MK_SUFFIX:
        return vl >= ol && (m->cased ? !memcmp(vs + vl - ol, os, ol) : !strncasecmp(vs + vl - ol, os, ol));
    default: {
        if (m->cased)
            return memmem(vs, vl, os, ol) != NULL;
        for (size_t i = 0; i + ol <= vl; i++)
            if (!strncasecmp(vs + i, os, ol))
                return true;
        return false;
    }
    }
}

static bool matcher_value(const struct sg_matcher *m, const struct wk_value *v,
                          const struct ctx *c)
{
    switch (m->kind) {
    case SG_MK_NULL:
        return !v || v->kind == WK_VAL_NULL;
    case SG_MK_EXISTS:
        return (v != NULL) == m->want;
    case SG_MK_TIME:
        if (m->want) /* `@timestamp`: the event's own time (0: unset) */
            return wk_event_ts(c->ev) != 0 && time_cmp(m, wk_event_ts(c->ev));
        break;
    default:
        break;
    }
    if (!v || v->kind == WK_VAL_NULL)
        return false;
    if (m->kind == SG_MK_NUM) {
        double x;
        if (!value_num(v, &x))
            return false;
        switch (m->numop) {
        case 0: return x > m->num;
        case 1: return x >= m->num;
        case 2: return x < m->num;
        default: return x <= m->num;
        }
    }
    if (m->kind == SG_MK_FIELDREF)
        return fieldref(m, v, c);
    if (m->kind == SG_MK_TIME)
        return time_match(m, v);
    if (v->kind == WK_VAL_STRLIST) {
        for (uint32_t i = 0; i < v->len; i++) {
            const struct wk_str *it = &v->u.items[i];
            if (m->kind == SG_MK_CIDR ? cidr_match(m, it->s, it->len)
                                      : wk__sg_matcher_text(m, it->s, it->len, c->sc))
                return true;
        }
        return false;
    }
    const char *s;
    size_t len;
    if (!value_text(v, c->sc, &s, &len))
        return false;
    if (m->kind == SG_MK_CIDR)
        return cidr_match(m, s, len);
    return wk__sg_matcher_text(m, s, len, c->sc);
}

/* The i of a key `a<i>` (decimal, no leading zero: the names the auditd source gives
 * EXECVE arguments), or -1. */
static int arg_index(const struct wk_key *k)
{
    if (k->len < 2 || k->len > 4 || k->name[0] != 'a' || k->name[1] < '0' || k->name[1] > '9' ||
        (k->name[1] == '0' && k->len > 2))
        return -1;
    int i = 0;
    for (uint32_t p = 1; p < k->len; p++) {
        if (k->name[p] < '0' || k->name[p] > '9')
            return -1;
        i = i * 10 + (k->name[p] - '0');
    }
    return i;
}

/* Keyword haystack: the argv of an EXECVE-like record joined with spaces (a0..a(n-1), the
 * leading run of string arguments; *nargs = n). The arguments are found by one walk of the
 * event's fields, not one lookup per argument. */
static bool joined_argv(const struct ctx *c, const char **s, size_t *len, unsigned *nargs)
{
    struct wk_rule_scratch *sc = c->sc;
    *nargs = 0;
    if (!c->ls || !c->ls->keyword_join_type || !c->rec)
        return false;
    if (sc->argv_gen == sc->gen && sc->argv_rec == c->rec) {
        *s = sc->argv, *len = sc->argv_len, *nargs = sc->argv_n;
        return sc->argv_len > 0;
    }
    sc->argv_gen = sc->gen;
    sc->argv_rec = c->rec;
    sc->argv_len = 0;
    sc->argv_n = 0;
    const struct wk_value *t = wk_event_get(c->ev, c->rec, &type_key);
    if (!t || t->kind != WK_VAL_STR || strcasecmp(t->u.s, c->ls->keyword_join_type))
        return false;
    const struct wk_value *argp[MAX_ARGV];
    uint64_t have[MAX_ARGV / 64] = { 0 };
    const bool plain = wk__sg_plain_lookups;
    size_t nf = wk_event_nfields(c->ev);
    const struct wk_field *f = wk_event_fields(c->ev);
    for (size_t i = 0; i < nf && !plain; i++) {
        int ai;
        if (f[i].v.rec != c->rec || (ai = arg_index(&f[i].key)) < 0 || ai >= MAX_ARGV)
            continue;
        argp[ai] = &f[i].v;
        have[ai / 64] |= 1ULL << (ai % 64);
    }
    for (int i = 0; i < MAX_ARGV; i++) {
        const struct wk_value *a;
        if (plain) /* one lookup per argument */
            a = wk_event_get(c->ev, c->rec, &argv_keys[i]);
        else
            a = (have[i / 64] >> (i % 64)) & 1u ? argp[i] : NULL;
        if (!a || a->kind != WK_VAL_STR)
            break;
        size_t need = sc->argv_len + a->len + 2;
        if (need > sc->argv_cap) {
            char *p = realloc(sc->argv, need * 2);
            if (!p) {
                sc->argv_len = 0;
                sc->argv_n = 0;
                return false;
            }
            sc->argv = p;
            sc->argv_cap = need * 2;
        }
        if (i)
            sc->argv[sc->argv_len++] = ' ';
        memcpy(sc->argv + sc->argv_len, a->u.s, a->len);
        sc->argv_len += a->len;
        sc->argv_n = (unsigned)i + 1;
    }
    *s = sc->argv, *len = sc->argv_len, *nargs = sc->argv_n;
    return sc->argv_len > 0;
}

/* Is key `a<i>` with i < nargs (an argument already in the joined argv)? */
static bool joined_arg(const struct wk_key *k, unsigned nargs)
{
    int i = arg_index(k);
    return i >= 0 && (unsigned)i < nargs;
}

/* Append one keyword haystack to the scratch buffer, then a NUL separator. */
static bool kw_add(struct wk_rule_scratch *sc, size_t *len, const char *s, size_t n)
{
    if (*len + n + 1 > sc->kwcap) {
        size_t cap = (*len + n + 1) * 2;
        char *p = realloc(sc->kwbuf, cap);
        if (!p)
            return false;
        sc->kwbuf = p;
        sc->kwcap = cap;
    }
    memcpy(sc->kwbuf + *len, s, n);
    *len += n;
    sc->kwbuf[(*len)++] = 0;
    return true;
}

/* One value's haystacks (a list: one per item; a number: its text). */
static bool kw_add_value(struct wk_rule_scratch *sc, size_t *len, const struct wk_value *v)
{
    const char *s;
    size_t n;
    if (v->kind == WK_VAL_STR) /* value_text's own answer, without the call */
        return kw_add(sc, len, v->u.s, v->len);
    if (v->kind == WK_VAL_STRLIST) {
        for (uint32_t k = 0; k < v->len; k++)
            if (!kw_add(sc, len, v->u.items[k].s, v->u.items[k].len))
                return false;
        return true;
    }
    return !value_text(v, sc, &s, &n) || kw_add(sc, len, s, n);
}

/* kw_scan's haystacks in one walk of the event's fields: the record's arguments are
 * set aside (as joined_argv finds them) while its other values are added, then the
 * joined argv (the leading run of string arguments, written straight into the buffer)
 * and the arguments after that run. The haystacks are the same as joined_argv and the
 * walk after it give, in another order, which a scan for literals without a NUL byte
 * does not see (each haystack ends with one). @return false when out of memory. */
static bool kw_haystacks(const struct ctx *c, size_t *lenp)
{
    struct wk_rule_scratch *sc = c->sc;
    size_t len = 0;
    bool join = false;
    if (c->ls && c->ls->keyword_join_type && c->rec) {
        const struct wk_value *t = wk_event_get(c->ev, c->rec, &type_key);
        join = t && t->kind == WK_VAL_STR && !strcasecmp(t->u.s, c->ls->keyword_join_type);
    }
    const struct wk_value *argp[MAX_ARGV];
    uint64_t have[MAX_ARGV / 64] = { 0 };
    size_t nf = wk_event_nfields(c->ev);
    const struct wk_field *f = wk_event_fields(c->ev);
    for (size_t i = 0; i < nf; i++) {
        const struct wk_value *v = &f[i].v;
        int ai;
        if (v->rec != c->rec)
            continue;
        if (join && (ai = arg_index(&f[i].key)) >= 0 && ai < MAX_ARGV) {
            argp[ai] = v;
            have[ai / 64] |= 1ULL << (ai % 64);
            continue;
        }
        if (!kw_add_value(sc, &len, v))
            return false;
    }
    if (join) {
        unsigned n = 0;
        size_t jl = 0;
        while (n < MAX_ARGV && (have[n / 64] >> (n % 64) & 1u) && argp[n]->kind == WK_VAL_STR)
            jl += argp[n++]->len + 1;
        if (n && len + jl + 1 > sc->kwcap) {
            size_t cap = (len + jl + 1) * 2;
            char *p = realloc(sc->kwbuf, cap);
            if (!p)
                return false;
            sc->kwbuf = p;
            sc->kwcap = cap;
        }
        size_t at = len;
        for (unsigned i = 0; i < n; i++) { /* "a0 a1 ...\0" */
            memcpy(sc->kwbuf + len, argp[i]->u.s, argp[i]->len);
            len += argp[i]->len;
            sc->kwbuf[len++] = i + 1 < n ? ' ' : '\0';
        }
        /* joined_argv's answer for this record, for a keyword the database does not hold */
        size_t al = n ? len - at - 1 : 0;
        if (al + 1 > sc->argv_cap) {
            char *p = realloc(sc->argv, (al + 1) * 2);
            if (!p)
                return false;
            sc->argv = p;
            sc->argv_cap = (al + 1) * 2;
        }
        memcpy(sc->argv, sc->kwbuf + at, al);
        sc->argv_len = al;
        sc->argv_n = n;
        sc->argv_gen = sc->gen;
        sc->argv_rec = c->rec;
        for (unsigned w = 0; w < MAX_ARGV / 64; w++) { /* the arguments after the run */
            uint64_t m = have[w];
            if (n > w * 64)
                m &= n - w * 64 >= 64 ? 0 : ~0ULL << (n - w * 64);
            for (; m; m &= m - 1) {
                unsigned i = w * 64 + (unsigned)__builtin_ctzll(m);
                if (!kw_add_value(sc, &len, argp[i]))
                    return false;
            }
        }
    }
    *lenp = len;
    return true;
}

/* Scan the record's keyword haystacks (those keyword_matcher searches: the joined argv and
 * every string of the record, numbers as text) once with the keyword database. An argument
 * already in the joined argv is left out: a literal in it is in the joined argv too.
 * @return false when out of memory (the caller then searches itself). */
static bool kw_scan(const struct ctx *c)
{
    struct wk_rule_scratch *sc = c->sc;
    if (sc->kw_gen == sc->gen && sc->kw_rec == c->rec && sc->kw_ls == c->ls)
        return true;
    sc->kw2 = false;
    const char *s;
    size_t len = 0, n;
    unsigned nargs;
    if (!wk__sg_plain_lookups) {
        if (!kw_haystacks(c, &len))
            return false;
        wk__sg_prefilter_kw_scan(sc, sc->kwbuf, len);
        sc->kwlen = len;
        sc->kw_gen = sc->gen;
        sc->kw_rec = c->rec;
        sc->kw_ls = c->ls;
        return true;
    }
    /* the plain path (tests of the one above): the joined argv, then a walk of the rest */
    if (joined_argv(c, &s, &n, &nargs) && !kw_add(sc, &len, s, n))
        return false;
    size_t nf = wk_event_nfields(c->ev);
    const struct wk_field *f = wk_event_fields(c->ev);
    for (size_t i = 0; i < nf; i++) {
        const struct wk_value *v = &f[i].v;
        if (v->rec != c->rec || (nargs && joined_arg(&f[i].key, nargs)))
            continue;
        if (v->kind == WK_VAL_STR) { /* value_text's own answer, without the call */
            if (!kw_add(sc, &len, v->u.s, v->len))
                return false;
            continue;
        }
        if (v->kind == WK_VAL_STRLIST) {
            for (uint32_t k = 0; k < v->len; k++)
                if (!kw_add(sc, &len, v->u.items[k].s, v->u.items[k].len))
                    return false;
            continue;
        }
        if (value_text(v, sc, &s, &n) && !kw_add(sc, &len, s, n))
            return false;
    }
    wk__sg_prefilter_kw_scan(sc, sc->kwbuf, len);
    sc->kwlen = len;
    sc->kw_gen = sc->gen;
    sc->kw_rec = c->rec;
    sc->kw_ls = c->ls;
    return true;
}

/* A keyword matcher against every string of the record (or of the event when rec is 0).
 * A CONTAINS literal of the keyword database is answered by one scan of the record. */
static bool keyword_matcher(const struct sg_matcher *m, const struct ctx *c)
{
    struct wk_rule_scratch *sc = c->sc;
    if (m->kw_id && kw_scan(c)) {
        if (m->kw_id > sc->rs->nkw_long && !sc->kw2) { /* a short literal: its own scan */
            wk__sg_prefilter_kw_scan2(sc, sc->kwbuf, sc->kwlen);
            sc->kw2 = true;
        }
        return sc->kwseen[m->kw_id - 1] == sc->kwcgen;
    }
    const char *s;
    size_t len;
    unsigned nargs;
    if (joined_argv(c, &s, &len, &nargs) && wk__sg_matcher_text(m, s, len, c->sc))
        return true;
    size_t n = wk_event_nfields(c->ev);
    const struct wk_field *f = wk_event_fields(c->ev);
    for (size_t i = 0; i < n; i++) {
        const struct wk_value *v = &f[i].v;
        if (v->rec != c->rec)
            continue;
        if (v->kind == WK_VAL_STRLIST) {
            for (uint32_t k = 0; k < v->len; k++)
                if (wk__sg_matcher_text(m, v->u.items[k].s, v->u.items[k].len, c->sc))
                    return true;
            continue;
        }
        if (value_text(v, c->sc, &s, &len) && wk__sg_matcher_text(m, s, len, c->sc))
            return true;
    }
    return false;
}

static bool item_match(const struct sg_item *it, const struct ctx *c)
{
    const struct wk_value *v = it->field ? lookup(c, &it->key, it->kid) : NULL;
    bool r;
    if (it->all) {
        r = true;
        for (uint16_t g = 0; r && g < it->ngroups; g++) {
            bool any = false;
            for (size_t i = 0; !any && i < it->m.n; i++)
                if (it->m.v[i].group == g)
                    any = it->field ? matcher_value(&it->m.v[i], v, c)
                                    : keyword_matcher(&it->m.v[i], c);
            r = any;
        }
    } else {
        r = false;
        for (size_t i = 0; !r && i < it->m.n; i++)
            r = it->field ? matcher_value(&it->m.v[i], v, c) : keyword_matcher(&it->m.v[i], c);
    }
    return it->neg ? !r : r;
}

static bool sel_match(const struct sg_sel *s, const struct ctx *c)
{
    for (size_t a = 0; a < s->alts.n; a++) {
        const struct sg_alt *alt = &s->alts.v[a];
        bool ok = true;
        for (size_t i = 0; ok && i < alt->items.n; i++)
            ok = item_match(&alt->items.v[i], c);
        if (ok)
            return true;
    }
    return false;
}

static bool cond_eval(const struct sg_rule *r, const struct sg_cond *k, const struct ctx *c)
{
    switch (k->op) {
    case SG_C_SEL:
        return sel_match(&r->sels.v[k->sel], c);
    case SG_C_AND:
        for (size_t i = 0; i < k->nkids; i++)
            if (!cond_eval(r, k->kids[i], c))
                return false;
        return true;
    case SG_C_OR:
        for (size_t i = 0; i < k->nkids; i++)
            if (cond_eval(r, k->kids[i], c))
                return true;
        return false;
    case SG_C_NOT:
        return !cond_eval(r, k->kids[0], c);
    case SG_C_TRUE:
        return true;
    default:
        return false;
    }
}

/* a[0..n) case-folded equals the NUL-terminated lower-case lit (no strlen: the first
 * differing byte, or lit's end, stops it) */
static inline bool fold_eq_z(const char *a, size_t n, const char *lit)
{
    for (size_t i = 0; i < n; i++) {
        if (!lit[i] || wk__sg_fold[(unsigned char)a[i]] != (unsigned char)lit[i])
            return false;
    }
    return lit[n] == '\0';
}

/* The event-level fields logsources select on (event.module, event.action) are looked up
 * once per event however many logsources name them (the event memo). */
static bool ls_applies(const struct sg_logsource *ls, const struct wk_event *ev,
                       struct wk_rule_scratch *sc, size_t from)
{
    for (size_t i = from; i < ls->match.n; i++) {
        const struct sg_lsmatch *m = &ls->match.v[i];
        const struct wk_value *v = wk__sg_lookup(sc, ev, 0, false, &m->key, m->kid);
        if (!v)
            return false;
        if (m->values.n == 0)
            continue;
        if (v->kind != WK_VAL_STR)
            return false;
        bool any = false;
        for (size_t k = 0; !any && k < m->values.n; k++)
            any = fold_eq_z(v->u.s, v->len, m->values.v[k]);
        if (!any)
            return false;
    }
    return true;
}

/* The logsources ev may be of (rs->lsg): a set of ls indexes, each still to be checked by
 * ls_applies unless in rs->lsone. */
static uint64_t ls_candidates(const struct wk_ruleset *rs, const struct wk_event *ev,
                              struct wk_rule_scratch *sc)
{
    uint64_t set = rs->lsalways;
    uint32_t kid = UINT32_MAX;
    const struct wk_value *v = NULL;
    for (size_t g = 0; g < rs->nlsg; g++) {
        const struct sg_lsgroup *lg = &rs->lsg[g];
        if (lg->kid != kid) {
            kid = lg->kid;
            v = wk__sg_get_ev(sc, ev, lg->key, kid);
            if (v && v->kind != WK_VAL_STR)
                v = NULL;
        }
        if (v && v->len == lg->len && fold_eq_z(v->u.s, v->len, lg->val))
            set |= lg->ls;
    }
    return set;
}

int wk__engine_emit(struct wk_rule_scratch *sc, const struct wk_alert *a, wk_alert_cb cb,
                    void *data)
{
    sc->st.alerts++;
    return cb ? cb(a, data) : 0;
}

/* One rule on the current record (or event), neither fired on this event yet nor ruled out
 * by the prefilter; alert and feed correlations on a match. */
static int try_rule(struct wk_ruleset *rs, struct wk_rule_scratch *sc, struct ctx *c,
                    uint32_t ri, uint64_t ref, wk_alert_cb cb, void *data)
{
    const struct sg_rule *r = rs->rules.v[ri];
    sc->st.rule_evals++;
    if (!cond_eval(r, r->cond, c))
        return 0;
    for (size_t f = 0; f < r->filters.n; f++) { /* meta filters: rule and not filter */
        const struct sg_rule *fr = rs->filters.v[r->filters.v[f]];
        if (cond_eval(fr, fr->cond, c))
            return 0;
    }
    int nalerts = 0;
    sc->fired[ri] = sc->gen;
    const struct wk_event *ev = c->ev;
    unsigned rec = c->per_record ? c->rec : 0;
    if (!r->suppressed) {
        struct wk_alert a = { .rule = ri, .info = &r->info, .attack = r->attack_json,
                              .rule_json = r->rule_json, .rule_json_len = r->rule_json_len,
                              .ts = wk_event_ts(ev), .event = ev, .record = rec, .ref = ref };
        int rc = wk__engine_emit(sc, &a, cb, data);
        if (rc < 0)
            return rc;
        nalerts++;
    }
    for (size_t f = 0; f < r->feeds.n; f++) {
        int rc = sc->defer ? sc->defer(sc->defer_arg, r->feeds.v[f], ri, ev, rec, ref)
                           : wk__corr_feed(sc, r->feeds.v[f], ri, ev, rec, ref, cb, data);
        if (rc < 0)
            return rc;
        nalerts += rc;
    }
    return nalerts;
}

/* The rules of pass rl to try on the current record, in rule order, into sc->rlist: those
 * always tried and those of the prefilter's candidates (sc->clist) that it only tries
 * when marked (none of their literals in the record: they cannot match). The record's
 * keyword scan, when some rule has a keyword factor, marks those first. @return their
 * number. */
static size_t try_list(struct wk_rule_scratch *sc, const struct ctx *c,
                       const struct sg_rlist *rl)
{
    uint32_t *out = sc->rlist;
    size_t n = rl->plain.n;
    if (n) /* (plain.v is NULL when every rule has a factor) */
        memcpy(out, rl->plain.v, n * sizeof(*out));
    if (!rl->facbits)
        return n;
    bool all = rl->has_kw && !kw_scan(c); /* out of memory: every rule of the pass */
    const size_t np = n;
    for (uint32_t i = 0; i < sc->ncl; i++) {
        const uint32_t ri = sc->clist[i];
        if (rl->facbits[ri / 64] >> (ri % 64) & 1u)
            out[n++] = ri;
    }
    if (all) {
        n = np;
        for (uint32_t ri = 0; ri < sc->rs->rules.n; ri++)
            if (rl->facbits[ri / 64] >> (ri % 64) & 1u)
                out[n++] = ri;
    }
    /* the candidates, few, into the ascending run of the others */
    for (size_t k = np; k < n; k++) {
        const uint32_t ri = out[k];
        size_t j = k;
        for (; j > 0 && out[j - 1] > ri; j--)
            out[j] = out[j - 1];
        out[j] = ri;
    }
    return n;
}

int wk_ruleset_eval_ref(struct wk_ruleset *rs, struct wk_rule_scratch *sc,
                        const struct wk_event *ev, uint64_t ref, wk_alert_cb cb, void *data)
{
    int nalerts = 0;
    sc->gen++;
    sc->st.events++;
    wk_event_prefetch(ev);
    unsigned nrec = wk_event_nrecords(ev);
    /* the logsources by their groups (the plain path checks each one) */
    const bool grouped = rs->nlsg && !wk__sg_plain_lookups;
    uint64_t lset = grouped ? ls_candidates(rs, ev, sc) : 0;
    for (size_t l = 0; l < rs->ls.n; l++) {
        if (grouped) {
            if (!lset)
                break;
            l = (size_t)__builtin_ctzll(lset);
            lset &= lset - 1;
        }
        const struct sg_logsource *ls = &rs->ls.v[l];
        /* (a group settled the first match entry, unless the logsource is in none) */
        if (grouped ? !(rs->lsone >> l & 1u) &&
                          !ls_applies(ls, ev, sc, rs->lsalways >> l & 1u ? 0 : 1)
                    : ls->rules.n == 0 || !ls_applies(ls, ev, sc, 0))
            continue;
        struct ctx c = { sc, ev, 0, ls->per_record && nrec > 0, ls };
        unsigned from = c.per_record ? 1 : 0, to = c.per_record ? nrec : 0;
        if (c.per_record && sc->evfull != sc->gen && !wk__sg_plain_lookups) {
            int rc = fields_pass(sc, ev);
            if (rc < 0)
                return rc;
        }
        for (unsigned rec = from; rec <= to; rec++) {
            c.rec = rec;
            if (c.per_record && !wk__sg_plain_lookups)
                rec_begin(sc, rec);
            const struct sg_bucket *b = NULL;
            if (ls->dispatch) {
                const struct wk_value *dv = lookup(&c, &ls->dkey, ls->dkid);
                if (dv && dv->kind == WK_VAL_STR && ls->buckets.n <= 16) {
                    /* a few values (auditd's record types): by length, then the bytes */
                    for (size_t k = 0; !b && k < ls->buckets.n; k++)
                        if (ls->buckets.v[k].len == dv->len &&
                            fold_eq(dv->u.s, ls->buckets.v[k].val, dv->len, false))
                            b = &ls->buckets.v[k];
                } else if (dv && dv->kind == WK_VAL_STR) {
                    uint32_t h = wk__sg_hash_fold(dv->u.s, dv->len);
                    for (size_t k = 0; !b && k < ls->buckets.n; k++)
                        if (ls->buckets.v[k].hash == h && ls->buckets.v[k].len == dv->len &&
                            fold_eq(dv->u.s, ls->buckets.v[k].val, dv->len, false))
                            b = &ls->buckets.v[k];
                }
            }
            if (ls->pf.n && c.per_record && !wk__sg_plain_lookups)
                wk__sg_prefilter_scan_rec(sc, ls, b ? b->pfkids : ls->pf_anykids, ev, rec);
            else if (ls->pf.n)
                wk__sg_prefilter_scan(sc, ls, b ? b->pfs.v : ls->pf_any.v,
                                      b ? b->pfs.n : ls->pf_any.n, ev, rec, c.per_record);
            else
                wk__sg_cand_reset(sc); /* keyword factors mark candidates of this record */
            for (int pass = 0; pass < 2; pass++) {
                const struct sg_rlist *rl = pass == 0 ? (b ? &b->rl : NULL) : &ls->any_rl;
                if (!rl)
                    continue;
                size_t n = try_list(sc, &c, rl);
                const uint64_t gen = sc->gen;
                for (size_t k = 0; k < n; k++) {
                    const uint32_t ri = sc->rlist[k];
                    if (sc->fired[ri] == gen)
                        continue;
                    int rc = try_rule(rs, sc, &c, ri, ref, cb, data);
                    if (rc < 0)
                        return rc;
                    nalerts += rc;
                }
            }
        }
    }
    return nalerts;
}

int wk_ruleset_eval(struct wk_ruleset *rs, struct wk_rule_scratch *sc,
                    const struct wk_event *ev, wk_alert_cb cb, void *data)
{
    return wk_ruleset_eval_ref(rs, sc, ev, 0, cb, data);
}
