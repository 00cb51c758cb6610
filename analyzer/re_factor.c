/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Literal factors of a regex: a set of strings one of which every match must contain, for
 * the prefilters (prefilter.c). A small conservative parser of PCRE2 syntax: literal runs,
 * classes, groups, alternation and quantifiers; anything it does not know (inline flags,
 * \Q..\E, numeric escapes, verbs, conditionals, recursion) gives no factor, which only
 * means the regex is always evaluated. Caseless regexes drop k, s and non-ASCII letters
 * from literals: PCRE2's UTF caseless matching maps them to other code points (U+212A
 * KELVIN SIGN, U+017F LONG S, ...), which an ASCII-caseless literal scan would not see.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sigma_private.h"

typedef SG_VEC(char *) lset;

struct rp {
    const char *p, *end;
    bool ci;   /* caseless */
    bool bad;  /* unknown syntax: no factor at all */
    bool oom;
    int depth;
};

#define RUN_MAX 255
#define MAX_LITS 64

static void lset_free(lset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static size_t lset_min(const lset *s)
{
    size_t m = s->n ? (size_t)-1 : 0;
    for (size_t i = 0; i < s->n; i++) {
        size_t l = strlen(s->v[i]);
        if (l < m)
            m = l;
    }
    return m;
}

struct seq {
    char run[RUN_MAX + 1];
    size_t rl;
    lset best;
    size_t bmin;
};

/* Keep cand as the sequence's factor when its shortest literal is longer. Takes cand. */
static void consider(struct seq *s, lset *cand)
{
    size_t m = lset_min(cand);
    if (m > s->bmin) {
        lset_free(&s->best);
        s->best = *cand;
        s->bmin = m;
        memset(cand, 0, sizeof(*cand));
    }
    lset_free(cand);
}

static void flush(struct rp *r, struct seq *s)
{
    if (!s->rl)
        return;
    lset c = { 0 };
    char *lit = malloc(s->rl + 1);
    if (!lit || SG_PUSH(c, lit) < 0) {
        free(lit);
        r->oom = r->bad = true;
        return;
    }
    for (size_t i = 0; i < s->rl; i++)
        lit[i] = (char)wk__sg_fold[(unsigned char)s->run[i]];
    lit[s->rl] = 0;
    s->rl = 0;
    consider(s, &c);
}

static void run_add(struct rp *r, struct seq *s, const char *b, size_t n)
{
    if (s->rl + n > RUN_MAX)
        flush(r, s); /* any part of a required run is required */
    memcpy(s->run + s->rl, b, n);
    s->rl += n;
}

/* A quantifier at r->p: its minimum (1 when there is none), or -1 (bad). */
static long quantifier(struct rp *r, bool *present)
{
    *present = false;
    if (r->p >= r->end)
        return 1;
    long min = 1;
    char c = *r->p;
    if (c == '*' || c == '?') {
        min = 0;
        r->p++;
    } else if (c == '+') {
        r->p++;
    } else if (c == '{') {
        const char *q = r->p + 1;
        if (q >= r->end || !isdigit((unsigned char)*q))
            return -1; /* a literal brace, or {,n} (PCRE2 10.43): not worth the doubt */
        min = 0;
        while (q < r->end && isdigit((unsigned char)*q) && min < 100000)
            min = min * 10 + (*q++ - '0');
        if (q < r->end && *q == ',')
            for (q++; q < r->end && isdigit((unsigned char)*q); q++)
                ;
        if (q >= r->end || *q != '}')
            return -1;
        r->p = q + 1;
    } else {
        return 1;
    }
    *present = true;
    if (r->p < r->end && (*r->p == '?' || *r->p == '+'))
        r->p++; /* lazy / possessive */
    return min;
}

static bool parse_alt(struct rp *r, lset *out);

/* A character class from '[': skipped (an unknown atom). */
static void skip_class(struct rp *r)
{
    const char *p = r->p + 1;
    if (p < r->end && *p == '^')
        p++;
    if (p < r->end && *p == ']')
        p++;
    while (p < r->end && *p != ']') {
        if (*p == '\\') {
            if (p + 1 >= r->end || p[1] == 'Q' || p[1] == 'E') {
                r->bad = true;
                return;
            }
            p += 2;
        } else if (*p == '[' && p + 1 < r->end && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
            char t = p[1];
            const char *q = p + 2;
            while (q + 1 < r->end && !(q[0] == t && q[1] == ']'))
                q++;
            if (q + 1 >= r->end) {
                r->bad = true;
                return;
            }
            p = q + 2;
        } else {
            p++;
        }
    }
    if (p >= r->end) {
        r->bad = true;
        return;
    }
    r->p = p + 1;
}

/* A group from '(': its factor in g (return true) or none (false). */
static bool group(struct rp *r, lset *g)
{
    const char *p = r->p + 1;
    bool look = false;
    if (p < r->end && *p == '*') {
        r->bad = true;
        return false;
    }
    if (p < r->end && *p == '?') {
        p++;
        if (p >= r->end) {
            r->bad = true;
            return false;
        }
        if (*p == ':' || *p == '>' || *p == '|') {
            p++;
        } else if (*p == '=' || *p == '!') {
            look = true;
            p++;
        } else if (*p == '<' && p + 1 < r->end && (p[1] == '=' || p[1] == '!')) {
            look = true;
            p += 2;
        } else if (*p == '<' || *p == '\'' || (*p == 'P' && p + 1 < r->end && p[1] == '<')) {
            char close = *p == '\'' ? '\'' : '>';
            p += *p == 'P' ? 2 : 1;
            while (p < r->end && (isalnum((unsigned char)*p) || *p == '_'))
                p++;
            if (p >= r->end || *p != close) {
                r->bad = true;
                return false;
            }
            p++;
        } else {
            r->bad = true; /* flags, comments, recursion, conditionals, callouts */
            return false;
        }
    }
    r->p = p;
    if (++r->depth > 64) {
        r->bad = true;
        return false;
    }
    bool ok = parse_alt(r, g);
    r->depth--;
    if (r->bad || r->p >= r->end || *r->p != ')') {
        r->bad = true;
        lset_free(g);
        return false;
    }
    r->p++;
    if (look || !ok) {
        lset_free(g);
        return false;
    }
    return true;
}

enum { A_LIT, A_UNK, A_GRP };

static bool parse_seq(struct rp *r, lset *out)
{
    struct seq s = { .rl = 0 };
    while (!r->bad && r->p < r->end && *r->p != '|' && *r->p != ')') {
        int kind = A_UNK;
        char b[4];
        size_t nb = 0;
        lset g = { 0 };
        unsigned char c = (unsigned char)*r->p;
        if (c == '\\') {
            if (r->p + 1 >= r->end) {
                r->bad = true;
                break;
            }
            unsigned char e = (unsigned char)r->p[1];
            r->p += 2;
            if (e < 0x80 && !isalnum(e)) {
                kind = A_LIT;
                b[nb++] = (char)e;
            } else if (e == 'p' || e == 'P') {
                if (r->p < r->end && *r->p == '{') {
                    const char *q = memchr(r->p, '}', (size_t)(r->end - r->p));
                    if (!q) {
                        r->bad = true;
                        break;
                    }
                    r->p = q + 1;
                } else if (r->p < r->end) {
                    r->p++;
                } else {
                    r->bad = true;
                    break;
                }
            } else if (!e || !strchr("dDwWsShHvVRbBAzZGXCKtnrfea", e)) {
                r->bad = true; /* \x \o \c \g \k \N \Q \E \u, numbers, ... */
                break;
            }
        } else if (c == '.' || c == '^' || c == '$') {
            r->p++;
        } else if (c == '[') {
            skip_class(r);
            if (r->bad)
                break;
        } else if (c == '(') {
            kind = group(r, &g) ? A_GRP : A_UNK;
            if (r->bad)
                break;
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            r->bad = true;
            break;
        } else if (c >= 0x80) {
            /* one UTF-8 character (the pattern compiled in UTF mode, so it is valid) */
            size_t n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;
            if ((size_t)(r->end - r->p) < n) {
                r->bad = true;
                break;
            }
            if (!r->ci) {
                kind = A_LIT;
                memcpy(b, r->p, n);
                nb = n;
            }
            r->p += n;
        } else {
            r->p++;
            if (!(r->ci && (c == 'k' || c == 'K' || c == 's' || c == 'S'))) {
                kind = A_LIT;
                b[nb++] = (char)c;
            }
        }
        bool q;
        long min = quantifier(r, &q);
        if (min < 0) {
            lset_free(&g);
            r->bad = true;
            break;
        }
        if (kind == A_LIT) {
            if (!q || min >= 1)
                run_add(r, &s, b, nb);
            if (q)
                flush(r, &s);
        } else {
            flush(r, &s);
            if (kind == A_GRP && min >= 1)
                consider(&s, &g);
            lset_free(&g);
        }
    }
    flush(r, &s);
    if (r->bad || !s.bmin) {
        lset_free(&s.best);
        return false;
    }
    *out = s.best;
    return true;
}

static bool parse_alt(struct rp *r, lset *out)
{
    lset acc = { 0 };
    bool ok = true;
    for (;;) {
        lset b = { 0 };
        if (!parse_seq(r, &b))
            ok = false;
        for (size_t i = 0; ok && i < b.n; i++) {
            if (acc.n >= MAX_LITS) {
                ok = false; /* too many alternatives to be worth scanning for */
            } else if (SG_PUSH(acc, b.v[i]) < 0) {
                r->oom = r->bad = true;
            } else {
                b.v[i] = NULL;
            }
        }
        lset_free(&b);
        if (r->bad || r->p >= r->end || *r->p != '|')
            break;
        r->p++;
    }
    if (!ok || r->bad) {
        lset_free(&acc);
        return false;
    }
    *out = acc;
    return true;
}

int wk__sg_re_factors(const char *pat, size_t len, bool caseless, char ***lits, size_t *n)
{
    struct rp r = { pat, pat + len, caseless, false, false, 0 };
    lset out = { 0 };
    *lits = NULL;
    *n = 0;
    bool ok = parse_alt(&r, &out);
    if (ok && (r.bad || r.p != r.end)) {
        lset_free(&out);
        ok = false;
    }
    if (r.oom)
        return -ENOMEM;
    if (ok) {
        *lits = out.v;
        *n = out.n;
    }
    return 0;
}

/* A regex whose every construct looks only at the text it consumes matches a string
 * whenever it matches a substring of it (pcre2_match tries every start and, without atomic
 * or possessive parts, every way to match from it). So the stored record of an event, which
 * holds each string value verbatim, matches it when a value does: hunt's block prefilter
 * then decodes only records that match. Out: anchors and assertions (^ $ \b \B \A \Z
 * \z \G \K, look-arounds), atomic groups and possessive quantifiers (which do not give
 * back what a longer text adds), verbs and conditionals, \X and \R (they may take more
 * than the value), and any escape this check does not know. Textual and conservative:
 * a '^' or '$' even inside a class counts. */
bool wk__sg_re_local(const char *pat, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = pat[i];
        if (c == '^' || c == '$')
            return false;
        if (c == '\\') {
            if (++i == len)
                return false;
            if (!pat[i] || !strchr("dDsSwWhHvVtnrfe.*+?()[]{}|/-\\ '\"#:", pat[i]))
                return false; /* letters, digits (backreferences), anything else: out */
            continue;
        }
        if (c == '(' && i + 1 < len && pat[i + 1] == '*')
            return false; /* verbs */
        if (c == '(' && i + 1 < len && pat[i + 1] == '?') {
            /* only (?: and inline flags i, m, s ((?i), (?s:...), (?i-s)): not look-arounds,
             * atomic groups, conditionals, recursion, comments, named groups, (?x) */
            size_t j = i + 2;
            while (j < len && pat[j] && strchr("ims-", pat[j]))
                j++;
            if (j == len || (pat[j] != ':' && pat[j] != ')') || (pat[j] == ')' && j == i + 2))
                return false;
            i = j;
            continue;
        }
        if ((c == '+' || c == '*' || c == '?' || c == '}') && i + 1 < len && pat[i + 1] == '+')
            return false; /* possessive */
    }
    return true;
}
