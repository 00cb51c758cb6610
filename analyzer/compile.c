/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The compiler: Sigma values + modifiers to matchers (literal equality/prefix/suffix/
 * substring with no regex, exact wildcard patterns, pcre2 JIT for `re`, CIDR, numbers,
 * field references), then the ruleset: correlation references resolved, rules indexed by
 * logsource mapping, ATT&CK ids parsed from tags. The ruleset is immutable once built.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigma_private.h"
#include "watchkeeper/error.h"
#include "watchkeeper/mem.h"

bool wk__sg_no_jit;

const unsigned char wk__sg_fold[256] = {
#define F(i) (unsigned char)((i) >= 'A' && (i) <= 'Z' ? (i) + 32 : (i))
#define F4(i) F(i), F(i + 1), F(i + 2), F(i + 3)
#define F16(i) F4(i), F4(i + 4), F4(i + 8), F4(i + 12)
#define F64(i) F16(i), F16(i + 16), F16(i + 32), F16(i + 48)
    F64(0), F64(64), F64(128), F64(192)
#undef F
#undef F4
#undef F16
#undef F64
};

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return WK_EUNSUPPORTED;
}

static void matcher_fini(struct sg_matcher *m)
{
    free(m->lit);
    for (size_t i = 0; i < m->ntoks; i++)
        free(m->toks[i].s);
    free(m->toks);
    if (m->re)
        pcre2_code_free(m->re);
    for (size_t i = 0; i < m->nrelit; i++)
        free(m->relit[i]);
    free(m->relit);
    free(m->refname);
}

void wk__sg_item_fini(struct sg_item *it)
{
    for (size_t i = 0; i < it->m.n; i++)
        matcher_fini(&it->m.v[i]);
    free(it->m.v);
    free(it->field);
    memset(it, 0, sizeof(*it));
}

/* ---- a byte buffer ------------------------------------------------------------------------ */
struct buf {
    char *s;
    size_t len, cap;
};

static int buf_add(struct buf *b, const void *p, size_t n)
{
    if (wk__sg_grow((void **)&b->s, &b->cap, b->len + n + 1, 1) < 0)
        return -ENOMEM;
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = 0;
    return 0;
}

/* ---- wildcard parsing (pySigma's escape rules, see docs/rules.md) ------------------------- */
struct toks {
    SG_VEC(struct sg_gtok_s) t;
};

static int tok_push(struct toks *t, uint8_t kind, const char *s, size_t len, bool cased)
{
    struct sg_gtok_s k = { kind, (uint32_t)len, NULL };
    if (kind == SG_G_LIT) {
        if (len == 0)
            return 0;
        /* merge with a preceding literal */
        if (t->t.n && t->t.v[t->t.n - 1].kind == SG_G_LIT) {
            struct sg_gtok_s *p = &t->t.v[t->t.n - 1];
            char *ns = realloc(p->s, p->len + len + 1);
            if (!ns)
                return -ENOMEM;
            for (size_t i = 0; i < len; i++)
                ns[p->len + i] = cased ? s[i] : (char)wk__sg_fold[(unsigned char)s[i]];
            p->len += (uint32_t)len;
            ns[p->len] = 0;
            p->s = ns;
            return 0;
        }
        k.s = malloc(len + 1);
        if (!k.s)
            return -ENOMEM;
        for (size_t i = 0; i < len; i++)
            k.s[i] = cased ? s[i] : (char)wk__sg_fold[(unsigned char)s[i]];
        k.s[len] = 0;
    }
    if (kind == SG_G_STAR && t->t.n && t->t.v[t->t.n - 1].kind == SG_G_STAR)
        return 0; /* ** = * */
    if (SG_PUSH(t->t, k) < 0) {
        free(k.s);
        return -ENOMEM;
    }
    return 0;
}

static void toks_fini(struct toks *t)
{
    for (size_t i = 0; i < t->t.n; i++)
        free(t->t.v[i].s);
    free(t->t.v);
    memset(t, 0, sizeof(*t));
}

/* Literal text (no wildcard meaning) into tokens, splitting dashes when windash. */
static int lit_toks(struct toks *t, const char *s, size_t len, bool cased, bool windash)
{
    size_t start = 0;
    for (size_t i = 0; windash && i < len; i++) {
        if (s[i] == '-' || s[i] == '/') {
            if (tok_push(t, SG_G_LIT, s + start, i - start, cased) < 0 ||
                tok_push(t, SG_G_DASH, NULL, 0, cased) < 0)
                return -ENOMEM;
            start = i + 1;
        }
    }
    return tok_push(t, SG_G_LIT, s + start, len - start, cased);
}

static int wild_toks(struct toks *t, const char *s, size_t len, bool cased, bool windash)
{
    struct buf lit = { 0 };
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0; i++) {
        char c = s[i];
        if (c == '\\') {
            if (i + 1 < len && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
                rc = buf_add(&lit, &s[i + 1], 1);
                i++;
            } else {
                rc = buf_add(&lit, "\\", 1); /* kept with what follows (or trailing) */
            }
        } else if (c == '*' || c == '?') {
            if (lit.len)
                rc = lit_toks(t, lit.s, lit.len, cased, windash);
            lit.len = 0;
            if (rc == 0)
                rc = tok_push(t, c == '*' ? SG_G_STAR : SG_G_ONE, NULL, 0, cased);
        } else {
            rc = buf_add(&lit, &c, 1);
        }
    }
    if (rc == 0 && lit.len)
        rc = lit_toks(t, lit.s, lit.len, cased, windash);
    free(lit.s);
    return rc;
}

/* Unescape a value for encodings (no wildcards allowed). @return -1 if it has one. */
static int unescape_plain(const char *s, size_t len, struct buf *out)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
            if (buf_add(out, &s[i + 1], 1) < 0)
                return -ENOMEM;
            i++;
        } else if (s[i] == '*' || s[i] == '?') {
            return -1;
        } else if (buf_add(out, &s[i], 1) < 0) {
            return -ENOMEM;
        }
    }
    if (!out->s && buf_add(out, "", 0) < 0)
        return -ENOMEM;
    return 0;
}

/* ---- encodings ------------------------------------------------------------------------------ */
static int utf16(const struct buf *in, struct buf *out, int mode /* 0 le, 1 be, 2 bom+le */)
{
    if (mode == 2 && buf_add(out, "\xff\xfe", 2) < 0)
        return -ENOMEM;
    const unsigned char *s = (const unsigned char *)in->s;
    for (size_t i = 0; i < in->len;) {
        uint32_t cp;
        size_t n = 1;
        if (s[i] < 0x80)
            cp = s[i];
        else if ((s[i] & 0xe0) == 0xc0 && i + 1 < in->len)
            cp = (uint32_t)(s[i] & 0x1f) << 6 | (s[i + 1] & 0x3f), n = 2;
        else if ((s[i] & 0xf0) == 0xe0 && i + 2 < in->len)
            cp = (uint32_t)(s[i] & 0x0f) << 12 | (uint32_t)(s[i + 1] & 0x3f) << 6 |
                 (s[i + 2] & 0x3f),
            n = 3;
        else if ((s[i] & 0xf8) == 0xf0 && i + 3 < in->len)
            cp = (uint32_t)(s[i] & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3f) << 12 |
                 (uint32_t)(s[i + 2] & 0x3f) << 6 | (s[i + 3] & 0x3f),
            n = 4;
        else
            cp = s[i];
        i += n;
        uint16_t units[2];
        int nu = 1;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            units[0] = (uint16_t)(0xd800 | (cp >> 10));
            units[1] = (uint16_t)(0xdc00 | (cp & 0x3ff));
            nu = 2;
        } else {
            units[0] = (uint16_t)cp;
        }
        for (int k = 0; k < nu; k++) {
            unsigned char b[2];
            if (mode == 1)
                b[0] = (unsigned char)(units[k] >> 8), b[1] = (unsigned char)units[k];
            else
                b[0] = (unsigned char)units[k], b[1] = (unsigned char)(units[k] >> 8);
            if (buf_add(out, b, 2) < 0)
                return -ENOMEM;
        }
    }
    if (!out->s && buf_add(out, "", 0) < 0)
        return -ENOMEM;
    return 0;
}

static int b64(const char *s, size_t len, struct buf *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        char o[4] = { tab[(v >> 18) & 63], tab[(v >> 12) & 63],
                      i + 1 < len ? tab[(v >> 6) & 63] : '=', i + 2 < len ? tab[v & 63] : '=' };
        if (buf_add(out, o, 4) < 0)
            return -ENOMEM;
    }
    if (!out->s && buf_add(out, "", 0) < 0)
        return -ENOMEM;
    return 0;
}

/* ---- matchers ------------------------------------------------------------------------------- */
static int push_matcher(struct sg_item *it, struct sg_matcher *m)
{
    if (SG_PUSH(it->m, *m) < 0) {
        matcher_fini(m);
        return -ENOMEM;
    }
    return 0;
}

/* Tokens to the cheapest matcher: literal forms when the pattern allows. Takes t. */
static int toks_matcher(struct sg_item *it, struct toks *t, bool cased, uint16_t group)
{
    struct sg_matcher m = { .cased = cased, .group = group };
    struct sg_gtok_s *v = t->t.v;
    size_t n = t->t.n;
    int kind = -1;
    size_t li = 0;
    if (n == 0)
        kind = SG_MK_EQ;
    else if (n == 1 && v[0].kind == SG_G_LIT)
        kind = SG_MK_EQ, li = 0;
    else if (n == 2 && v[0].kind == SG_G_LIT && v[1].kind == SG_G_STAR)
        kind = SG_MK_PREFIX, li = 0;
    else if (n == 2 && v[0].kind == SG_G_STAR && v[1].kind == SG_G_LIT)
        kind = SG_MK_SUFFIX, li = 1;
    else if (n == 3 && v[0].kind == SG_G_STAR && v[1].kind == SG_G_LIT && v[2].kind == SG_G_STAR)
        kind = SG_MK_CONTAINS, li = 1;
    if (kind >= 0) {
        m.kind = (uint8_t)kind;
        if (n) {
            m.lit = v[li].s;
            m.len = v[li].len;
            v[li].s = NULL;
        } else {
            m.lit = strdup("");
            if (!m.lit)
                return -ENOMEM;
        }
        toks_fini(t);
        return push_matcher(it, &m);
    }
    m.kind = SG_MK_GLOB;
    m.toks = t->t.v;
    m.ntoks = t->t.n;
    memset(t, 0, sizeof(*t));
    return push_matcher(it, &m);
}

static bool parse_cidr(const char *s, struct sg_matcher *m)
{
    char addr[64];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen >= sizeof(addr))
        return false;
    memcpy(addr, s, alen);
    addr[alen] = 0;
    long plen;
    if (inet_pton(AF_INET, addr, m->ip) == 1) {
        m->family = 4;
        plen = 32;
    } else if (inet_pton(AF_INET6, addr, m->ip) == 1) {
        m->family = 6;
        plen = 128;
    } else {
        return false;
    }
    if (slash) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || p < 0 || p > plen)
            return false;
        plen = p;
    }
    m->plen = (uint8_t)plen;
    return true;
}

/* Expand %name% placeholders: every combination of values. */
static int expand(struct wk_rule_loader *l, const char *s, size_t len, void *outp, char *err,
                  size_t errlen)
{
    SG_VEC(struct buf) *out = outp;
    /* find the first unescaped placeholder */
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len && s[i + 1] == '%') {
            i++;
            continue;
        }
        if (s[i] != '%')
            continue;
        const char *e = memchr(s + i + 1, '%', len - i - 1);
        if (!e)
            break;
        size_t nl = (size_t)(e - (s + i + 1));
        struct sg_placeholder *ph = NULL;
        for (size_t k = 0; k < l->ph.n; k++)
            if (strlen(l->ph.v[k].name) == nl && !memcmp(l->ph.v[k].name, s + i + 1, nl))
                ph = &l->ph.v[k];
        if (!ph || ph->values.n == 0)
            return fail(err, errlen,
                        "modifier 'expand': placeholder %%%.*s%% has no configured values",
                        (int)nl, s + i + 1);
        size_t rest = (size_t)(e + 1 - s);
        for (size_t k = 0; k < ph->values.n; k++) {
            struct buf b = { 0 };
            if (buf_add(&b, s, i) < 0 || buf_add(&b, ph->values.v[k], strlen(ph->values.v[k])) < 0 ||
                buf_add(&b, s + rest, len - rest) < 0) {
                free(b.s);
                return -ENOMEM;
            }
            /* the tail may hold more placeholders */
            size_t before = out->n;
            int rc = expand(l, b.s, b.len, out, err, errlen);
            (void)before;
            free(b.s);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    /* no placeholder: unescape \% and keep */
    struct buf b = { 0 };
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len && s[i + 1] == '%')
            i++;
        if (buf_add(&b, &s[i], 1) < 0) {
            free(b.s);
            return -ENOMEM;
        }
    }
    if (!b.s && buf_add(&b, "", 0) < 0)
        return -ENOMEM;
    if (SG_PUSH(*out, b) < 0) {
        free(b.s);
        return -ENOMEM;
    }
    return 0;
}

/* Time modifiers in enum sg_tpart order, with the values a rule may compare with. */
static const struct {
    const char *name;
    int lo, hi;
} tpart_names[] = {
    { "minute", 0, 59 }, { "hour", 0, 23 }, { "day", 1, 31 },
    { "week", 1, 53 },   { "month", 1, 12 }, { "year", 0, 9999 },
};

int wk__sg_item_compile(struct wk_rule_loader *l, struct sg_item *it, const enum sg_mod *mods,
                        size_t nmods, const struct sg_rawval *vals, size_t nvals, char *err,
                        size_t errlen)
{
    bool has[32] = { 0 };
    enum sg_mod enc[8];
    size_t nenc = 0;
    int pos = 0; /* 0 eq, 1 contains, 2 startswith, 3 endswith */
    int numop = -1;
    int tpart = -1; /* enum sg_tpart */
    for (size_t i = 0; i < nmods; i++) {
        enum sg_mod m = mods[i];
        if (has[m])
            return fail(err, errlen, "modifier repeated");
        has[m] = true;
        switch (m) {
        case SG_M_CONTAINS: case SG_M_STARTSWITH: case SG_M_ENDSWITH:
            if (pos)
                return fail(err, errlen, "contains/startswith/endswith combined");
            pos = m == SG_M_CONTAINS ? 1 : m == SG_M_STARTSWITH ? 2 : 3;
            break;
        case SG_M_BASE64: case SG_M_BASE64OFFSET: case SG_M_UTF16LE: case SG_M_UTF16BE:
        case SG_M_UTF16:
            if (nenc == WK_ARRAY_SIZE(enc))
                return fail(err, errlen, "too many encodings");
            enc[nenc++] = m;
            break;
        case SG_M_GT: case SG_M_GTE: case SG_M_LT: case SG_M_LTE:
            if (numop >= 0)
                return fail(err, errlen, "two numeric comparison modifiers");
            numop = m == SG_M_GT ? 0 : m == SG_M_GTE ? 1 : m == SG_M_LT ? 2 : 3;
            break;
        case SG_M_MINUTE: case SG_M_HOUR: case SG_M_DAY: case SG_M_WEEK: case SG_M_MONTH:
        case SG_M_YEAR:
            if (tpart >= 0)
                return fail(err, errlen, "two time modifiers");
            tpart = (int)(m - SG_M_MINUTE);
            break;
        default:
            break;
        }
    }
    bool keyword = it->field == NULL;
    bool re = has[SG_M_RE], cased = has[SG_M_CASED];
    it->all = has[SG_M_ALL];
    it->neg = has[SG_M_NEQ];
    if (!keyword)
        it->key = wk_key_init(it->field);
    if ((has[SG_M_RE_I] || has[SG_M_RE_M] || has[SG_M_RE_S]) && !re)
        return fail(err, errlen, "regex flag modifier (i/m/s) without 're'");
    if (re && (pos || nenc || has[SG_M_WINDASH] || has[SG_M_CIDR] || has[SG_M_EXPAND] ||
               has[SG_M_FIELDREF] || numop >= 0 || tpart >= 0 || has[SG_M_EXISTS] || cased))
        return fail(err, errlen, "modifier 're' combined with a non-regex modifier");
    if (has[SG_M_EXISTS] && nmods != 1)
        return fail(err, errlen, "modifier 'exists' must be the only modifier");
    if (has[SG_M_CIDR] && (pos || nenc || has[SG_M_WINDASH] || numop >= 0 || has[SG_M_FIELDREF]))
        return fail(err, errlen, "modifier 'cidr' combined with a string modifier");
    if (numop >= 0 && (pos || nenc || has[SG_M_WINDASH] || has[SG_M_FIELDREF] || has[SG_M_EXPAND]))
        return fail(err, errlen, "numeric comparison combined with a string modifier");
    if (has[SG_M_FIELDREF] && (nenc || has[SG_M_WINDASH] || has[SG_M_EXPAND]))
        return fail(err, errlen, "modifier 'fieldref' combined with an encoding");
    if (tpart >= 0 && (pos || nenc || has[SG_M_WINDASH] || has[SG_M_CIDR] ||
                       has[SG_M_FIELDREF] || has[SG_M_EXPAND] || cased))
        return fail(err, errlen, "time modifier '%s' combined with a string modifier",
                    tpart_names[tpart].name);
    if (keyword && (has[SG_M_EXISTS] || has[SG_M_FIELDREF] || has[SG_M_CIDR] || numop >= 0 ||
                    tpart >= 0))
        return fail(err, errlen, "a keyword (field-less) search cannot use this modifier");
    if (keyword && !re && !pos)
        pos = 1; /* keywords are substring searches of the whole event */

    for (size_t vi = 0; vi < nvals; vi++) {
        const struct sg_rawval *rv = &vals[vi];
        uint16_t group = (uint16_t)vi;
        struct sg_matcher m = { .group = group, .cased = cased };
        if (!rv->s) {
            if (nmods && !(nmods == 1 && it->neg))
                return fail(err, errlen, "null value with a modifier");
            if (keyword)
                return fail(err, errlen, "null keyword");
            m.kind = SG_MK_NULL;
            if (push_matcher(it, &m) < 0)
                return -ENOMEM;
            continue;
        }
        if (has[SG_M_EXISTS]) {
            if (!strcmp(rv->s, "true") || !strcmp(rv->s, "yes"))
                m.want = true;
            else if (!strcmp(rv->s, "false") || !strcmp(rv->s, "no"))
                m.want = false;
            else
                return fail(err, errlen, "modifier 'exists' needs true or false");
            m.kind = SG_MK_EXISTS;
            if (push_matcher(it, &m) < 0)
                return -ENOMEM;
            continue;
        }
        if (tpart >= 0) {
            /* an integer in the part's range: a typo (hour 24, month 0) never loads */
            const char *nm = tpart_names[tpart].name;
            long v = -1;
            if (rv->len && rv->len <= 4 && strspn(rv->s, "0123456789") == rv->len)
                v = strtol(rv->s, NULL, 10);
            if (v < tpart_names[tpart].lo || v > tpart_names[tpart].hi)
                return fail(err, errlen, "modifier '%s': '%s' is not an integer from %d to %d",
                            nm, rv->s, tpart_names[tpart].lo, tpart_names[tpart].hi);
            m.kind = SG_MK_TIME;
            m.tpart = (uint8_t)tpart;
            m.numop = (uint8_t)(numop >= 0 ? numop : 4);
            m.num = (double)v;
            m.want = !strcmp(it->field, "@timestamp");
            if (push_matcher(it, &m) < 0)
                return -ENOMEM;
            continue;
        }
        if (numop >= 0) {
            char *end;
            m.num = strtod(rv->s, &end);
            if (end == rv->s || *end)
                return fail(err, errlen, "numeric modifier on a non-number '%s'", rv->s);
            m.kind = SG_MK_NUM;
            m.numop = (uint8_t)numop;
            if (push_matcher(it, &m) < 0)
                return -ENOMEM;
            continue;
        }
        if (has[SG_M_CIDR]) {
            if (!parse_cidr(rv->s, &m))
                return fail(err, errlen, "modifier 'cidr': bad network '%s'", rv->s);
            m.kind = SG_MK_CIDR;
            if (push_matcher(it, &m) < 0)
                return -ENOMEM;
            continue;
        }
        if (has[SG_M_FIELDREF]) {
            m.kind = SG_MK_FIELDREF;
            m.numop = (uint8_t)(pos == 0 ? SG_MK_EQ : pos == 1 ? SG_MK_CONTAINS
                                                    : pos == 2 ? SG_MK_PREFIX : SG_MK_SUFFIX);
            m.refname = strdup(rv->s);
            if (!m.refname)
                return -ENOMEM;
            m.ref = wk_key_init(m.refname);
            if (push_matcher(it, &m) < 0)
                return -ENOMEM;
            continue;
        }
        if (re) {
            uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
            if (has[SG_M_RE_I])
                opts |= PCRE2_CASELESS;
            if (has[SG_M_RE_M])
                opts |= PCRE2_MULTILINE;
            if (has[SG_M_RE_S])
                opts |= PCRE2_DOTALL;
            int ec;
            PCRE2_SIZE eo;
            m.re = pcre2_compile((PCRE2_SPTR)rv->s, rv->len, opts, &ec, &eo, NULL);
            if (!m.re) {
                PCRE2_UCHAR msg[128];
                pcre2_get_error_message(ec, msg, sizeof(msg));
                return fail(err, errlen, "modifier 're': %s at offset %zu", (char *)msg,
                            (size_t)eo);
            }
            if (!wk__sg_no_jit) /* the interpreter when JIT is unavailable (or benchmarked) */
                (void)pcre2_jit_compile(m.re, PCRE2_JIT_COMPLETE);
            m.kind = SG_MK_RE;
            m.re_local = wk__sg_re_local(rv->s, rv->len);
            if (wk__sg_re_factors(rv->s, rv->len, has[SG_M_RE_I], &m.relit, &m.nrelit) < 0) {
                matcher_fini(&m);
                return -ENOMEM;
            }
            if (push_matcher(it, &m) < 0)
                return -ENOMEM;
            continue;
        }
        /* strings: expand placeholders, then encode or parse wildcards */
        SG_VEC(struct buf) vs = { 0 };
        int rc = 0;
        if (has[SG_M_EXPAND]) {
            rc = expand(l, rv->s, rv->len, &vs, err, errlen);
        } else {
            struct buf b = { 0 };
            rc = buf_add(&b, rv->s, rv->len);
            if (rc == 0 && SG_PUSH(vs, b) < 0)
                rc = -ENOMEM;
            if (rc < 0)
                free(b.s);
        }
        for (size_t k = 0; rc == 0 && k < vs.n; k++) {
            struct toks t = { 0 };
            if (nenc) {
                struct buf cur = { 0 };
                rc = unescape_plain(vs.v[k].s, vs.v[k].len, &cur);
                if (rc == -1) {
                    rc = fail(err, errlen, "wildcards are not allowed in an encoded (base64/"
                                           "utf16) value");
                    free(cur.s);
                    break;
                }
                /* each encoding maps each current variant to one or more new ones */
                SG_VEC(struct buf) var = { 0 };
                if (rc == 0 && SG_PUSH(var, cur) < 0)
                    rc = -ENOMEM, free(cur.s);
                bool b64used = false;
                for (size_t e = 0; rc == 0 && e < nenc; e++) {
                    SG_VEC(struct buf) nv = { 0 };
                    for (size_t x = 0; rc == 0 && x < var.n; x++) {
                        struct buf o = { 0 };
                        if (enc[e] == SG_M_UTF16LE || enc[e] == SG_M_UTF16BE || enc[e] == SG_M_UTF16) {
                            rc = utf16(&var.v[x], &o, enc[e] == SG_M_UTF16LE ? 0
                                                      : enc[e] == SG_M_UTF16BE ? 1 : 2);
                            if (rc == 0 && SG_PUSH(nv, o) < 0)
                                rc = -ENOMEM;
                        } else if (enc[e] == SG_M_BASE64) {
                            b64used = true;
                            rc = b64(var.v[x].s, var.v[x].len, &o);
                            if (rc == 0 && SG_PUSH(nv, o) < 0)
                                rc = -ENOMEM;
                        } else {
                            /* base64offset: the stable middle of the encoding at offsets
                             * 0, 1, 2 (the spec's start/end trims) */
                            static const size_t st[3] = { 0, 2, 3 };
                            static const int en[3] = { 0, -3, -2 };
                            b64used = true;
                            for (size_t off = 0; rc == 0 && off < 3; off++) {
                                struct buf pre = { 0 }, enc64 = { 0 };
                                rc = buf_add(&pre, "  ", off);
                                if (rc == 0)
                                    rc = buf_add(&pre, var.v[x].s, var.v[x].len);
                                if (rc == 0)
                                    rc = b64(pre.s ? pre.s : "", pre.len, &enc64);
                                free(pre.s);
                                size_t total = var.v[x].len + off;
                                int e2 = en[total % 3];
                                size_t s0 = st[off];
                                size_t end = e2 ? enc64.len - (size_t)(-e2) : enc64.len;
                                struct buf piece = { 0 };
                                if (rc == 0 && end > s0)
                                    rc = buf_add(&piece, enc64.s + s0, end - s0);
                                else if (rc == 0)
                                    rc = buf_add(&piece, "", 0);
                                free(enc64.s);
                                if (rc == 0 && SG_PUSH(nv, piece) < 0)
                                    rc = -ENOMEM;
                                if (rc < 0)
                                    free(piece.s);
                            }
                        }
                        if (rc < 0)
                            free(o.s);
                    }
                    for (size_t x = 0; x < var.n; x++)
                        free(var.v[x].s);
                    free(var.v);
                    var.v = nv.v, var.n = nv.n, var.cap = nv.cap;
                }
                /* base64 text is case-sensitive: folding it would match other bytes */
                bool vcased = cased || b64used;
                for (size_t x = 0; rc == 0 && x < var.n; x++) {
                    struct toks tt = { 0 };
                    if (pos == 1 || pos == 3)
                        rc = tok_push(&tt, SG_G_STAR, NULL, 0, vcased);
                    if (rc == 0)
                        rc = lit_toks(&tt, var.v[x].s, var.v[x].len, vcased, has[SG_M_WINDASH]);
                    if (rc == 0 && (pos == 1 || pos == 2))
                        rc = tok_push(&tt, SG_G_STAR, NULL, 0, vcased);
                    if (rc == 0)
                        rc = toks_matcher(it, &tt, vcased, group);
                    toks_fini(&tt);
                }
                for (size_t x = 0; x < var.n; x++)
                    free(var.v[x].s);
                free(var.v);
                continue;
            }
            if (pos == 1 || pos == 3)
                rc = tok_push(&t, SG_G_STAR, NULL, 0, cased);
            if (rc == 0)
                rc = wild_toks(&t, vs.v[k].s, vs.v[k].len, cased, has[SG_M_WINDASH]);
            if (rc == 0 && (pos == 1 || pos == 2))
                rc = tok_push(&t, SG_G_STAR, NULL, 0, cased);
            if (rc == 0)
                rc = toks_matcher(it, &t, cased, group);
            toks_fini(&t);
        }
        for (size_t k = 0; k < vs.n; k++)
            free(vs.v[k].s);
        free(vs.v);
        if (rc < 0)
            return rc;
    }
    it->ngroups = (uint16_t)nvals;
    return 0;
}

/* ---- the ruleset ---------------------------------------------------------------------------- */
static bool ref_names(const struct sg_rule *r, const char *ref)
{
    return (r->id && !strcmp(r->id, ref)) || (r->name && !strcmp(r->name, ref));
}

/* A filter applies to a detection rule whose logsource has every key the filter's gives,
 * equal (pySigma: rule.logsource in filter.logsource), named by it (or any). */
static bool filter_applies(const struct sg_rule *f, const struct sg_rule *r)
{
    if (r->is_filter || r->is_corr)
        return false;
    if ((f->ls_product && (!r->ls_product || strcmp(f->ls_product, r->ls_product))) ||
        (f->ls_service && (!r->ls_service || strcmp(f->ls_service, r->ls_service))) ||
        (f->ls_category && (!r->ls_category || strcmp(f->ls_category, r->ls_category))))
        return false;
    if (f->filter_any)
        return true;
    for (size_t k = 0; k < f->filter_refs.n; k++)
        if (ref_names(r, f->filter_refs.v[k]))
            return true;
    return false;
}

static struct sg_rule *find_rule(struct sg_rule **rules, size_t n, const bool *dead,
                                 const char *ref, size_t *idx)
{
    for (size_t i = 0; i < n; i++) {
        if (dead && dead[i])
            continue;
        if ((rules[i]->id && !strcmp(rules[i]->id, ref)) ||
            (rules[i]->name && !strcmp(rules[i]->name, ref))) {
            if (idx)
                *idx = i;
            return rules[i];
        }
    }
    return NULL;
}

static const char *const corr_names[] = { "event_count", "value_count", "temporal",
                                          "temporal_ordered", "value_sum", "value_avg" };

static int attack_json(struct sg_rule *r)
{
    struct buf b = { 0 };
    int rc = buf_add(&b, "[", 1);
    bool first = true;
    for (size_t i = 0; rc == 0 && i < r->tags.n; i++) {
        const char *t = r->tags.v[i];
        if (strncasecmp(t, "attack.t", 8) || !isdigit((unsigned char)t[8]))
            continue;
        char id[32];
        size_t n = 0;
        id[n++] = 'T';
        for (const char *p = t + 8; *p && n + 1 < sizeof(id); p++) {
            if (!isdigit((unsigned char)*p) && *p != '.')
                break;
            id[n++] = *p;
        }
        id[n] = 0;
        if (!first)
            rc = buf_add(&b, ",", 1);
        first = false;
        if (rc == 0)
            rc = buf_add(&b, "\"", 1);
        if (rc == 0)
            rc = buf_add(&b, id, n);
        if (rc == 0)
            rc = buf_add(&b, "\"", 1);
    }
    if (rc == 0)
        rc = buf_add(&b, "]", 1);
    if (rc < 0) {
        free(b.s);
        return rc;
    }
    r->attack_json = b.s;
    return 0;
}

static bool ls_match_rule(const struct sg_rule *r, const struct sg_logsource *m)
{
    if (r->ls_product && !(m->product && !strcmp(r->ls_product, m->product)))
        return false;
    if (r->ls_service && !(m->service && !strcmp(r->ls_service, m->service)))
        return false;
    if (r->ls_category && !(m->category && !strcmp(r->ls_category, m->category)))
        return false;
    if (m->category && !r->ls_category)
        return false;
    if (m->service && !r->ls_service)
        return false;
    return true;
}

/* ---- the dispatch index ---------------------------------------------------------------------
 * The literal values a rule requires of the dispatch field (auditd `type`, docker
 * `event.action`): a SEL alternative constrains it when it holds an item `field: literal(s)`
 * (equality, case-insensitive, not negated); OR unions; AND takes a constrained child; NOT
 * and anything else constrain nothing. Sound: a rule is never skipped when it could match.
 */
typedef SG_VEC(const struct sg_matcher *) mset;

static bool alt_values(const struct sg_alt *alt, const char *field, mset *out)
{
    for (size_t i = 0; i < alt->items.n; i++) {
        const struct sg_item *it = &alt->items.v[i];
        if (!it->field || strcmp(it->field, field) || it->neg || it->m.n == 0)
            continue;
        if (it->all && it->ngroups > 1)
            continue;
        bool ok = true;
        for (size_t k = 0; ok && k < it->m.n; k++)
            ok = it->m.v[k].kind == SG_MK_EQ && !it->m.v[k].cased;
        if (!ok)
            continue;
        for (size_t k = 0; k < it->m.n; k++)
            if (SG_PUSH(*out, &it->m.v[k]) < 0)
                return false;
        return true;
    }
    return false;
}

static bool cond_values(const struct sg_rule *r, const struct sg_cond *c, const char *field,
                        mset *out)
{
    switch (c->op) {
    case SG_C_SEL: {
        const struct sg_sel *s = &r->sels.v[c->sel];
        for (size_t a = 0; a < s->alts.n; a++)
            if (!alt_values(&s->alts.v[a], field, out))
                return false;
        return s->alts.n > 0;
    }
    case SG_C_OR:
        for (size_t i = 0; i < c->nkids; i++)
            if (!cond_values(r, c->kids[i], field, out))
                return false;
        return c->nkids > 0;
    case SG_C_AND:
        for (size_t i = 0; i < c->nkids; i++) {
            size_t before = out->n;
            if (cond_values(r, c->kids[i], field, out))
                return true;
            out->n = before;
        }
        return false;
    default:
        return false;
    }
}

static uint32_t fnv(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int index_rule(struct sg_logsource *ls, const struct sg_rule *r, uint32_t ri)
{
    mset vals = { 0 };
    int rc = 0;
    if (!ls->dispatch || !cond_values(r, r->cond, ls->dispatch, &vals)) {
        free(vals.v);
        return SG_PUSH(ls->any, ri);
    }
    for (size_t i = 0; rc == 0 && i < vals.n; i++) {
        const struct sg_matcher *m = vals.v[i];
        uint32_t h = fnv(m->lit, m->len);
        struct sg_bucket *b = NULL;
        for (size_t k = 0; !b && k < ls->buckets.n; k++)
            if (ls->buckets.v[k].hash == h && ls->buckets.v[k].len == m->len &&
                !memcmp(ls->buckets.v[k].val, m->lit, m->len))
                b = &ls->buckets.v[k];
        if (!b) {
            struct sg_bucket nb = { strndup(m->lit, m->len), m->len, h, { 0 }, { 0 }, { 0 }, NULL,
                                    { { 0 }, NULL, false } };
            if (!nb.val || SG_PUSH(ls->buckets, nb) < 0) {
                free(nb.val);
                rc = -ENOMEM;
                break;
            }
            b = &ls->buckets.v[ls->buckets.n - 1];
        }
        if (b->rules.n && b->rules.v[b->rules.n - 1] == ri)
            continue; /* listed twice (type: [EXECVE, execve]) */
        rc = SG_PUSH(b->rules, ri);
    }
    free(vals.v);
    return rc;
}

uint32_t wk__sg_hash_fold(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ wk__sg_fold[(unsigned char)s[i]]) * 16777619u;
    return h;
}

int wk_rule_loader_build(struct wk_rule_loader *l, struct wk_ruleset **out)
{
    struct wk_ruleset *rs = calloc(1, sizeof(*rs));
    size_t n = l->rules.n;
    bool *dead = calloc(n + 1, sizeof(bool));
    if (!rs || !dead) {
        free(rs);
        free(dead);
        return -ENOMEM;
    }
    rs->refs = 1;
    /* correlations whose references do not resolve die, and so do their users */
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < n; i++) {
            struct sg_rule *r = l->rules.v[i];
            if (!r->is_corr || dead[i])
                continue;
            for (size_t k = 0; k < r->corr.refs.n; k++) {
                size_t j;
                if (find_rule(l->rules.v, n, dead, r->corr.refs.v[k], &j) && j != i)
                    continue;
                char msg[512];
                snprintf(msg, sizeof(msg), "correlation 'rules': '%s' names no loaded rule "
                                           "(id or name)",
                         r->corr.refs.v[k]);
                struct wk_rule_reject rj = { strdup(r->file), r->line, 1, strdup(msg) };
                if (SG_PUSH(l->rejects, rj) < 0)
                    free(rj.file), free(rj.msg);
                dead[i] = true;
                changed = true;
                break;
            }
        }
    }
    /* meta filters: every reference must name a loaded detection rule, and the filter must
     * apply to at least one (else it is a typo that would silently filter nothing) */
    for (size_t i = 0; i < n; i++) {
        struct sg_rule *f = l->rules.v[i];
        if (!f->is_filter || dead[i])
            continue;
        char msg[512];
        msg[0] = 0;
        for (size_t k = 0; !msg[0] && k < f->filter_refs.n; k++) {
            const char *ref = f->filter_refs.v[k];
            const struct sg_rule *t = NULL;
            for (size_t j = 0; !t && j < n; j++)
                if (!dead[j] && !l->rules.v[j]->is_filter && ref_names(l->rules.v[j], ref))
                    t = l->rules.v[j];
            if (!t)
                snprintf(msg, sizeof(msg), "filter 'rules': '%s' names no loaded rule (id or "
                                           "name)", ref);
            else if (t->is_corr)
                snprintf(msg, sizeof(msg), "filter 'rules': '%s' is a correlation rule "
                                           "(filters apply to detection rules only)", ref);
        }
        size_t applies = 0;
        for (size_t j = 0; !msg[0] && j < n; j++)
            applies += !dead[j] && filter_applies(f, l->rules.v[j]);
        if (!msg[0] && !applies)
            snprintf(msg, sizeof(msg), "filter applies to no loaded rule (its logsource "
                                       "{product: %s, service: %s, category: %s} matches none "
                                       "of the %s)",
                     f->ls_product ? f->ls_product : "-", f->ls_service ? f->ls_service : "-",
                     f->ls_category ? f->ls_category : "-",
                     f->filter_any ? "loaded detection rules" : "rules it names");
        if (msg[0]) {
            struct wk_rule_reject rj = { strdup(f->file), f->line, 1, strdup(msg) };
            if (SG_PUSH(l->rejects, rj) < 0)
                free(rj.file), free(rj.msg);
            dead[i] = true;
        }
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (dead[i]) {
            wk__sg_rule_free(l->rules.v[i]);
        } else if (l->rules.v[i]->is_filter) {
            if (SG_PUSH(rs->filters, l->rules.v[i]) < 0) {
                wk__sg_rule_free(l->rules.v[i]);
                rc = -ENOMEM;
            }
        } else if (SG_PUSH(rs->rules, l->rules.v[i]) < 0) {
            wk__sg_rule_free(l->rules.v[i]);
            rc = -ENOMEM;
        }
    }
    l->rules.n = 0;
    free(dead);
    rs->ls = *(__typeof__(rs->ls) *)&l->ls;
    memset(&l->ls, 0, sizeof(l->ls));
    if (rc < 0)
        goto fail;
    /* resolve correlations against the final indexes */
    for (size_t i = 0; i < rs->rules.n; i++) {
        struct sg_rule *r = rs->rules.v[i];
        if (!r->is_corr)
            continue;
        rs->ncorr++;
        struct sg_corr *c = &r->corr;
        for (size_t k = 0; k < c->refs.n; k++) {
            size_t j = 0;
            struct sg_rule *t = find_rule(rs->rules.v, rs->rules.n, NULL, c->refs.v[k], &j);
            if (!t || SG_PUSH(c->rules, (uint32_t)j) < 0 || SG_PUSH(t->feeds, (uint32_t)i) < 0) {
                rc = -ENOMEM;
                goto fail;
            }
        }
        size_t ng = c->group_by.n;
        c->gkeys = calloc(c->rules.n * (ng ? ng : 1), sizeof(struct wk_key));
        if (!c->gkeys) {
            rc = -ENOMEM;
            goto fail;
        }
        for (size_t k = 0; k < c->rules.n; k++) {
            struct sg_rule *t = rs->rules.v[c->rules.v[k]];
            for (size_t g = 0; g < ng; g++) {
                const char *fname = c->group_by.v[g];
                for (size_t a = 0; a < c->aliases.n; a++) {
                    if (strcmp(c->aliases.v[a].name, fname))
                        continue;
                    for (size_t q = 0; q < c->aliases.v[a].rule_refs.n; q++) {
                        const char *rr = c->aliases.v[a].rule_refs.v[q];
                        if ((t->id && !strcmp(t->id, rr)) || (t->name && !strcmp(t->name, rr)))
                            fname = c->aliases.v[a].fields.v[q];
                    }
                }
                c->gkeys[k * ng + g] = wk_key_init(fname);
            }
        }
        if (c->field)
            c->fkey = wk_key_init(c->field);
        if (c->default_cond) {
            c->has_lo = c->lo_incl = true;
            c->lo = (double)c->rules.n;
        }
    }
    /* a rule referenced only by correlations without `generate` makes no alert itself */
    for (size_t i = 0; i < rs->rules.n; i++) {
        struct sg_rule *r = rs->rules.v[i];
        bool gen = r->feeds.n == 0;
        for (size_t k = 0; k < r->feeds.n; k++)
            gen = gen || rs->rules.v[r->feeds.v[k]]->corr.generate;
        r->suppressed = !gen;
    }
    /* meta filters onto the rules they apply to; number their regexes too */
    for (size_t fi = 0; fi < rs->filters.n; fi++) {
        struct sg_rule *f = rs->filters.v[fi];
        for (size_t i = 0; i < rs->rules.n; i++)
            if (filter_applies(f, rs->rules.v[i]) &&
                SG_PUSH(rs->rules.v[i]->filters, (uint32_t)fi) < 0) {
                rc = -ENOMEM;
                goto fail;
            }
        for (size_t s = 0; s < f->sels.n; s++)
            for (size_t a = 0; a < f->sels.v[s].alts.n; a++)
                for (size_t k = 0; k < f->sels.v[s].alts.v[a].items.n; k++) {
                    struct sg_item *it = &f->sels.v[s].alts.v[a].items.v[k];
                    for (size_t m = 0; m < it->m.n; m++)
                        if (it->m.v[m].kind == SG_MK_RE)
                            it->m.v[m].re_idx = rs->nre++;
                }
    }
    /* index detection rules by logsource; number regexes for scratch slots */
    for (size_t i = 0; i < rs->rules.n; i++) {
        struct sg_rule *r = rs->rules.v[i];
        if ((rc = attack_json(r)) < 0)
            goto fail;
        struct wk_rule_info *in = &r->info;
        in->id = r->id, in->name = r->name, in->title = r->title, in->level = r->level;
        in->status = r->status, in->author = r->author, in->description = r->description;
        in->license = r->license, in->file = r->file, in->line = r->line;
        in->product = r->ls_product, in->service = r->ls_service, in->category = r->ls_category;
        in->tags = (const char *const *)r->tags.v, in->ntags = r->tags.n;
        in->is_correlation = r->is_corr;
        in->corr_type = r->is_corr ? corr_names[r->corr.type] : NULL;
        if ((rc = wk__alert_rule_json(in, r->attack_json, &r->rule_json, &r->rule_json_len)) < 0)
            goto fail;
        if (r->is_corr)
            continue;
        for (size_t s = 0; s < r->sels.n; s++)
            for (size_t a = 0; a < r->sels.v[s].alts.n; a++)
                for (size_t k = 0; k < r->sels.v[s].alts.v[a].items.n; k++) {
                    struct sg_item *it = &r->sels.v[s].alts.v[a].items.v[k];
                    rs->nitems++;
                    for (size_t m = 0; m < it->m.n; m++) {
                        rs->nmatchers++;
                        if (it->m.v[m].kind == SG_MK_RE)
                            it->m.v[m].re_idx = rs->nre++;
                    }
                }
        for (size_t k = 0; k < rs->ls.n; k++)
            if (ls_match_rule(r, &rs->ls.v[k]) &&
                (SG_PUSH(rs->ls.v[k].rules, (uint32_t)i) < 0 ||
                 index_rule(&rs->ls.v[k], r, (uint32_t)i) < 0)) {
                rc = -ENOMEM;
                goto fail;
            }
    }
    if (!l->no_prefilter && (rc = wk__sg_prefilter_build(rs)) < 0)
        goto fail;
    if ((rc = wk__sg_intern_keys(rs)) < 0 || (rc = wk__sg_prefilter_index(rs)) < 0)
        goto fail;
    *out = rs;
    return 0;
fail:
    wk_ruleset_unref(rs);
    return rc;
}

/* The key table: an open-addressing set of names (by wk_key hash) giving ids in order. */
struct ktab {
    const struct wk_key **v; /* by slot */
    uint32_t *id;
    size_t cap;
    uint32_t n;
};

static int intern(struct ktab *t, const struct wk_key *k, uint32_t *id)
{
    if ((size_t)t->n * 2 + 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        const struct wk_key **v = calloc(cap, sizeof(*v));
        uint32_t *ids = calloc(cap, sizeof(*ids));
        if (!v || !ids) {
            free(v), free(ids);
            return -ENOMEM;
        }
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->v[i])
                continue;
            size_t p = t->v[i]->hash & (cap - 1);
            while (v[p])
                p = (p + 1) & (cap - 1);
            v[p] = t->v[i];
            ids[p] = t->id[i];
        }
        free(t->v), free(t->id);
        t->v = v, t->id = ids, t->cap = cap;
    }
    size_t p = k->hash & (t->cap - 1);
    for (; t->v[p]; p = (p + 1) & (t->cap - 1)) {
        const struct wk_key *o = t->v[p];
        if (o->hash == k->hash && o->len == k->len && !memcmp(o->name, k->name, k->len)) {
            *id = t->id[p];
            return 0;
        }
    }
    t->v[p] = k;
    t->id[p] = *id = t->n++;
    return 0;
}

static int intern_rule(struct ktab *t, struct sg_rule *r)
{
    for (size_t s = 0; s < r->sels.n; s++)
        for (size_t a = 0; a < r->sels.v[s].alts.n; a++)
            for (size_t k = 0; k < r->sels.v[s].alts.v[a].items.n; k++) {
                struct sg_item *it = &r->sels.v[s].alts.v[a].items.v[k];
                if (it->field && intern(t, &it->key, &it->kid) < 0)
                    return -ENOMEM;
                for (size_t m = 0; m < it->m.n; m++)
                    if (it->m.v[m].kind == SG_MK_FIELDREF &&
                        intern(t, &it->m.v[m].ref, &it->m.v[m].refkid) < 0)
                        return -ENOMEM;
            }
    return 0;
}

int wk__sg_intern_keys(struct wk_ruleset *rs)
{
    struct ktab t = { 0 };
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < rs->rules.n; i++)
        if (!rs->rules.v[i]->is_corr)
            rc = intern_rule(&t, rs->rules.v[i]);
    for (size_t i = 0; rc == 0 && i < rs->filters.n; i++)
        rc = intern_rule(&t, rs->filters.v[i]);
    for (size_t l = 0; rc == 0 && l < rs->ls.n; l++) {
        struct sg_logsource *ls = &rs->ls.v[l];
        if (ls->dispatch)
            rc = intern(&t, &ls->dkey, &ls->dkid);
        for (size_t i = 0; rc == 0 && i < ls->match.n; i++)
            rc = intern(&t, &ls->match.v[i].key, &ls->match.v[i].kid);
        for (size_t i = 0; rc == 0 && i < ls->pf.n; i++)
            rc = intern(&t, &ls->pf.v[i].key, &ls->pf.v[i].kid);
    }
    rs->nkeys = t.n;
    rs->kwords = (t.n + 63) / 64;
    if (rc == 0 && t.cap && (!(rs->kslots = calloc(t.cap, sizeof(*rs->kslots))) ||
                             !(rs->kbykid = calloc(t.n + 1, sizeof(*rs->kbykid)))))
        rc = -ENOMEM;
    for (size_t p = 0; rc == 0 && p < t.cap; p++) {
        if (!t.v[p])
            continue;
        const struct wk_key *k = t.v[p];
        rs->kslots[p] = (struct sg_kslot){ k->name, k->hash, k->len, t.id[p] };
        rs->kbykid[t.id[p]] = rs->kslots[p];
        unsigned b = (k->hash ^ (k->hash >> 16)) & 4095u;
        rs->kb[b] = rs->kb[b] || t.id[p] > 253 ? 255 : (uint8_t)(t.id[p] + 1);
    }
    rs->kmask = t.cap ? (uint32_t)t.cap - 1 : 0;
    free(t.v);
    free(t.id);
    return rc;
}

struct wk_ruleset *wk_ruleset_ref(struct wk_ruleset *rs)
{
    if (rs)
        __atomic_add_fetch(&rs->refs, 1, __ATOMIC_RELAXED);
    return rs;
}

struct wk_ruleset *wk_ruleset_unref(struct wk_ruleset *rs)
{
    if (!rs || __atomic_sub_fetch(&rs->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return NULL;
    for (size_t i = 0; i < rs->rules.n; i++)
        wk__sg_rule_free(rs->rules.v[i]);
    free(rs->rules.v);
    for (size_t i = 0; i < rs->filters.n; i++)
        wk__sg_rule_free(rs->filters.v[i]);
    free(rs->filters.v);
    wk__sg_prefilter_free_raw(rs);
    free(rs->kslots);
    free(rs->kbykid);
    free(rs->lsg);
    for (size_t i = 0; i < rs->ls.n; i++) {
        wk__sg_prefilter_fini(&rs->ls.v[i]);
        wk__sg_logsource_fini(&rs->ls.v[i]);
    }
    free(rs->ls.v);
    free(rs);
    return NULL;
}

void wk_rule_loader_set_prefilter(struct wk_rule_loader *l, bool on)
{
    l->no_prefilter = !on;
}

bool wk_ruleset_has_prefilter(const struct wk_ruleset *rs)
{
    return rs->prefilter;
}

size_t wk_ruleset_nrules(const struct wk_ruleset *rs)
{
    return rs->rules.n;
}

size_t wk_ruleset_nfilters(const struct wk_ruleset *rs)
{
    return rs->filters.n;
}

const struct wk_rule_info *wk_ruleset_rule(const struct wk_ruleset *rs, size_t i)
{
    return i < rs->rules.n ? &rs->rules.v[i]->info : NULL;
}

const char *wk_ruleset_rule_attack(const struct wk_ruleset *rs, size_t i)
{
    return i < rs->rules.n ? rs->rules.v[i]->attack_json : NULL;
}
