/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The multi-literal prefilter. For each rule, a sound set of literal "factors": strings one
 * of which must occur (case-insensitively) in a given field for the rule to possibly match
 * (an alternative's item of literal matchers; AND takes its most selective child; OR
 * unions; NOT and regexes give none). Per logsource and field, all factors go into one
 * Hyperscan literal database, so a field value is scanned once for every rule; rules with
 * factors are then evaluated exactly only when a factor was seen. pcre2 and the exact
 * matchers stay the reference: without Hyperscan (or with it disabled) every rule is
 * evaluated, and the alerts are the same (tests/unit/test_rules.c prefilter_same_alerts).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_private.h"
#if WK_HAVE_HYPERSCAN
#include <hs/hs.h>
#endif

/* sg_pfield.bigrams: a set of 65536 bits, bit a | b << 8 for the byte pair a b; values up
 * to BIGRAM_SCAN_MAX bytes are checked against it. */
#define BIGRAM_BITS 65536u
#define BIGRAM_SCAN_MAX 64

#if WK_HAVE_HYPERSCAN /* the factor analysis feeds the Hyperscan databases only */
/* A factor: (field, literal) pairs; the rule is a candidate when any pair is seen. */
struct fpair {
    const char *field; /* NULL: a keyword literal (kw) */
    const char *lit;
    size_t len;
    const struct sg_matcher *re; /* raw mode: the re_local regex lit comes from, or NULL */
    uint8_t anchor;              /* enum sg_pfanchor (raw mode: SG_PF_IN) */
    uint32_t kw;                 /* a keyword literal's kw_id (in rs->kwdb) */
};
typedef SG_VEC(struct fpair) fset;

/* How selective a literal is taken to be: its length; a one-byte value compared whole is
 * looked up, not searched for, and counts as two (a usable factor, min_field). */
static size_t lit_weight(const struct fpair *p)
{
    return p->anchor == SG_PF_EQ && p->len == 1 ? 2 : p->len;
}

static size_t min_len(const fset *f, size_t from)
{
    size_t m = (size_t)-1;
    for (size_t i = from; i < f->n; i++)
        if (lit_weight(&f->v[i]) < m)
            m = lit_weight(&f->v[i]);
    return m;
}

/* Could no number or boolean have lit (folded) in its text (wk_value_text: "%lld",
 * "%.17g", "true", "false")? Such values are binary-coded in the store, so only a literal
 * that is in no such text proves that the text it was found in is a stored string. The
 * texts: [-+.0-9e]* (integers, reals), "inf", "nan" (with '-'), "true", "false". */
static bool raw_safe(const char *lit, size_t len)
{
    char f[8];
    bool numeric = true;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = wk__sg_fold[(unsigned char)lit[i]];
        if (!c || !strchr("0123456789+-.e", c))
            numeric = false;
        if (i < sizeof(f))
            f[i] = (char)c;
    }
    if (numeric)
        return false;
    if (len >= sizeof(f))
        return true;
    static const char *const words[] = { "true", "false", "-inf", "-nan" };
    for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++)
        if (memmem(words[w], strlen(words[w]), f, len))
            return false;
    return true;
}

/* Factor mode: per field (the live prefilter, which scans each field's value text) or raw
 * (hunt's block prefilter, which scans the stored bytes of whole events). */
struct fmode {
    bool raw;
    const char *skip; /* a field whose items give no factor (the dispatch field of an
                       * indexed rule: its bucket already requires those values) */
    const char *bval; /* the skip field's value (folded, blen bytes) in the bucket whose
                       * factor this is, or NULL: an alternative requiring another value of
                       * it cannot match there and needs no literal */
    size_t blen;
    uint32_t nkw_long; /* keyword items whose literals are all in rs->kwdb (kw_id 1..this)
                        * give a factor (field mode) */
};

/* Push the best piece of lit usable in this mode: all of it per field; in raw mode the
 * longest piece without a space for a keyword (keywords also see the EXECVE arguments
 * joined by spaces, which are not stored: a piece without a space lies in one argument),
 * and only when raw_safe. */
static bool push_lit(const struct fmode *md, const struct sg_item *it, const char *lit,
                     size_t len, uint8_t anchor, fset *out)
{
    if (md->raw && !it->field) {
        size_t best = 0, bl = 0;
        for (size_t i = 0; i < len;) {
            size_t j = i;
            while (j < len && lit[j] != ' ')
                j++;
            if (j - i > bl)
                best = i, bl = j - i;
            i = j + 1;
        }
        lit += best;
        len = bl;
    }
    if (!len || (md->raw && !raw_safe(lit, len)))
        return false;
    /* the pair's literal is copied up to a NUL byte: only a piece found anywhere */
    if (md->raw || memchr(lit, 0, len))
        anchor = SG_PF_IN;
    return SG_PUSH(*out, ((struct fpair){ it->field, lit, len, NULL, anchor, 0 })) == 0;
}

/* The literals one of which a matcher needs in its value: pushed, or false. */
static bool matcher_lits(const struct fmode *md, const struct sg_item *it,
                         const struct sg_matcher *m, fset *out)
{
    if (!it->field && !md->raw) { /* a keyword: a literal of the keyword database */
        if (m->kind != SG_MK_CONTAINS || !m->kw_id || m->kw_id > md->nkw_long)
            return false;
        return SG_PUSH(*out, ((struct fpair){ NULL, m->lit, m->len, NULL, SG_PF_IN,
                                              m->kw_id })) == 0;
    }
    switch (m->kind) {
    case SG_MK_EQ:
        return push_lit(md, it, m->lit, m->len, SG_PF_EQ, out);
    case SG_MK_PREFIX:
        return push_lit(md, it, m->lit, m->len, SG_PF_START, out);
    case SG_MK_SUFFIX:
        return push_lit(md, it, m->lit, m->len, SG_PF_END, out);
    case SG_MK_CONTAINS:
        return push_lit(md, it, m->lit, m->len, SG_PF_IN, out);
    case SG_MK_GLOB: {
        /* the longest usable literal token */
        fset one = { 0 };
        struct fpair best = { 0 };
        for (size_t i = 0; i < m->ntoks; i++) {
            one.n = 0;
            if (m->toks[i].kind == SG_G_LIT &&
                push_lit(md, it, m->toks[i].s, m->toks[i].len, SG_PF_IN, &one) &&
                one.v[0].len > best.len)
                best = one.v[0];
        }
        free(one.v);
        return best.len && SG_PUSH(*out, best) == 0;
    }
    case SG_MK_RE:
        if (!m->nrelit)
            return false;
        for (size_t i = 0; i < m->nrelit; i++) {
            if (!push_lit(md, it, m->relit[i], strlen(m->relit[i]), SG_PF_IN, out))
                return false;
            /* a field's value is verbatim in the record: a record without a match of a
             * regex that only looks at what it matches cannot hold a value with one */
            if (md->raw && it->field && m->re_local)
                out->v[out->n - 1].re = m;
        }
        return true;
    default:
        return false;
    }
}

/* Of several candidate literal sets (each built in cur), the one with the longest shortest
 * literal: the rarest to occur, so the fewest events pass the prefilter. */
struct best_set {
    fset best, cur;
    size_t min; /* best's shortest literal; 0: none kept yet */
};

static void best_keep(struct best_set *b)
{
    size_t m = min_len(&b->cur, 0);
    if (m > b->min) {
        fset t = b->best;
        b->best = b->cur;
        b->cur = t; /* (its storage reused for the next candidate) */
        b->min = m;
    }
}

/* Append the best set to out and free both; false when none was kept (or no memory). */
static bool best_take(struct best_set *b, fset *out)
{
    bool ok = b->min > 0;
    for (size_t i = 0; ok && i < b->best.n; i++)
        if (SG_PUSH(*out, b->best.v[i]) < 0)
            ok = false;
    free(b->best.v);
    free(b->cur.v);
    return ok;
}

/* The literals of the matchers of it in group g (-1: all of them), one of which it needs. */
static bool group_lits(const struct fmode *md, const struct sg_item *it, int g, fset *out)
{
    size_t before = out->n;
    for (size_t k = 0; k < it->m.n; k++) {
        if (g >= 0 && it->m.v[k].group != g)
            continue;
        if (!matcher_lits(md, it, &it->m.v[k], out)) {
            out->n = before;
            return false;
        }
    }
    return out->n > before;
}

static bool item_factor(const struct fmode *md, const struct sg_item *it, fset *out)
{
    if (it->neg || it->m.n == 0 || (md->skip && it->field && !strcmp(it->field, md->skip)))
        return false;
    if (md->raw || !it->all || it->ngroups < 2)
        return group_lits(md, it, -1, out);
    /* `all`: every group needs a match of its own, so one group's literals suffice: the
     * group with the longest shortest literal */
    struct best_set bs = { 0 };
    for (int g = 0; g < it->ngroups; g++) {
        bs.cur.n = 0;
        if (group_lits(md, it, g, &bs.cur))
            best_keep(&bs);
    }
    return best_take(&bs, out);
}

/* Does alt require of the bucket's field (md->bval) one of some literal values, none of
 * them the bucket's? The items that count are those the dispatch index itself reads
 * (compile.c alt_values: equality, case-insensitive, not negated), so within the bucket
 * the item is false and the alternative with it. */
static bool alt_excluded(const struct fmode *md, const struct sg_alt *alt)
{
    if (!md->bval)
        return false;
    for (size_t i = 0; i < alt->items.n; i++) {
        const struct sg_item *it = &alt->items.v[i];
        if (!it->field || strcmp(it->field, md->skip) || it->neg || it->m.n == 0 ||
            (it->all && it->ngroups > 1))
            continue;
        bool eq = true, hit = false;
        for (size_t k = 0; eq && k < it->m.n; k++) {
            const struct sg_matcher *m = &it->m.v[k];
            eq = m->kind == SG_MK_EQ && !m->cased;
            hit = hit || (m->len == md->blen && !memcmp(m->lit, md->bval, m->len));
        }
        if (eq && !hit)
            return true;
    }
    return false;
}

/* An AND of items: the child with the longest shortest literal. An alternative that cannot
 * match in the bucket needs nothing: true with no literal (an empty factor; a rule whose
 * whole factor is empty is not given one). */
static bool alt_factor(const struct fmode *md, const struct sg_alt *alt, fset *out)
{
    if (alt_excluded(md, alt))
        return true;
    struct best_set bs = { 0 };
    for (size_t i = 0; i < alt->items.n; i++) {
        bs.cur.n = 0;
        if (item_factor(md, &alt->items.v[i], &bs.cur))
            best_keep(&bs);
    }
    return best_take(&bs, out);
}

static bool cond_factor(const struct fmode *md, const struct sg_rule *r,
                        const struct sg_cond *c, fset *out)
{
    size_t before = out->n;
    switch (c->op) {
    case SG_C_SEL: {
        const struct sg_sel *s = &r->sels.v[c->sel];
        for (size_t a = 0; a < s->alts.n; a++)
            if (!alt_factor(md, &s->alts.v[a], out)) {
                out->n = before;
                return false;
            }
        return s->alts.n > 0;
    }
    case SG_C_OR:
        for (size_t i = 0; i < c->nkids; i++)
            if (!cond_factor(md, r, c->kids[i], out)) {
                out->n = before;
                return false;
            }
        return c->nkids > 0;
    case SG_C_AND: {
        struct best_set bs = { 0 };
        for (size_t i = 0; i < c->nkids; i++) {
            bs.cur.n = 0;
            if (cond_factor(md, r, c->kids[i], &bs.cur))
                best_keep(&bs);
        }
        bool ok = best_take(&bs, out);
        if (!ok)
            out->n = before;
        return ok;
    }
    default:
        return false;
    }
}
#endif

static void rlist_fini(struct sg_rlist *rl)
{
    free(rl->plain.v);
    free(rl->facbits);
    memset(rl, 0, sizeof(*rl));
}

void wk__sg_prefilter_fini(struct sg_logsource *ls)
{
    for (size_t i = 0; i < ls->pf.n; i++) {
        struct sg_pfield *f = &ls->pf.v[i];
        free(f->field);
        for (size_t k = 0; k < f->lits.n; k++)
            free(f->lits.v[k]);
        free(f->lits.v);
        free(f->owner.v);
        free(f->anchor.v);
        free(f->inlit);
        free(f->alit);
        free(f->bigrams);
#if WK_HAVE_HYPERSCAN
        hs_free_database(f->db);
#endif
    }
    free(ls->pf.v);
    memset(&ls->pf, 0, sizeof(ls->pf));
    free(ls->pf_any.v);
    memset(&ls->pf_any, 0, sizeof(ls->pf_any));
    free(ls->pf_anykids);
    ls->pf_anykids = NULL;
    free(ls->pf_of_kid);
    ls->pf_of_kid = NULL;
    rlist_fini(&ls->any_rl);
    free(ls->any_fac.v);
    memset(&ls->any_fac, 0, sizeof(ls->any_fac));
    for (size_t i = 0; i < ls->buckets.n; i++) {
        free(ls->buckets.v[i].pfs.v);
        memset(&ls->buckets.v[i].pfs, 0, sizeof(ls->buckets.v[i].pfs));
        free(ls->buckets.v[i].fac.v);
        memset(&ls->buckets.v[i].fac, 0, sizeof(ls->buckets.v[i].fac));
        free(ls->buckets.v[i].pfkids);
        ls->buckets.v[i].pfkids = NULL;
        rlist_fini(&ls->buckets.v[i].rl);
    }
}

#if WK_HAVE_HYPERSCAN
/* One literal database; flag is added to every literal's flags, which are CASELESS unless
 * cased[i] (cased NULL: all caseless). */
static int compile_lits_cased(char *const *lits, const bool *cased, size_t n, unsigned flag,
                              hs_database_t **db)
{
    unsigned *flags = calloc(n, sizeof(*flags)), *ids = calloc(n, sizeof(*ids));
    size_t *lens = calloc(n, sizeof(*lens));
    if (!flags || !ids || !lens) {
        free(flags), free(ids), free(lens);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        flags[i] = (cased && cased[i] ? 0 : HS_FLAG_CASELESS) | flag;
        ids[i] = (unsigned)i;
        lens[i] = strlen(lits[i]);
    }
    hs_compile_error_t *err = NULL;
    hs_error_t e = hs_compile_lit_multi((const char *const *)lits, flags, ids, lens,
                                        (unsigned)n, HS_MODE_BLOCK, NULL, db, &err);
    free(flags), free(ids), free(lens);
    if (e != HS_SUCCESS) {
        hs_free_compile_error(err);
        return -EINVAL;
    }
    return 0;
}

static int compile_lits(char *const *lits, size_t n, unsigned flag, hs_database_t **db)
{
    return compile_lits_cased(lits, NULL, n, flag, db);
}

/* The keyword prefilter: every keyword (field-less) CONTAINS matcher with a literal of at
 * least KW_MIN_LEN bytes without a NUL byte gets an id in a database (a one-byte literal,
 * such as SigmaHQ's `0` and `6` after `init`, slows the scan of every record down more than
 * its matcher costs searching the record itself when its condition gets to it). A CONTAINS
 * keyword matches a record exactly when its literal occurs in one of the record's keyword
 * haystacks, and the haystacks are scanned joined by NUL bytes, so a hit lies inside one
 * haystack: the database answers those matchers exactly (engine.c keyword_matcher).
 * Literals of KW_LONG_LEN bytes or more are in rs->kwdb, scanned for a record when its
 * first keyword matcher is evaluated; the shorter ones (`-s`, `dd`) in rs->kwdb2, scanned
 * over the same haystacks only when a matcher of one is evaluated: they slow a scan down
 * more than twice (the bench: 3.4k instructions per EXECVE record against 1.5k), and the
 * `all` keyword items that pair them with a longer literal (`dd` and `if=`) test the longer
 * one first (kw_order), so most records never need them. */
#define KW_MIN_LEN 2
#define KW_LONG_LEN 3
struct kwlits {
    SG_VEC(char *) lits;
    SG_VEC(bool) cased;
    SG_VEC(struct sg_matcher *) who;
};

static int kw_collect(struct sg_rule *r, struct kwlits *kl)
{
    for (size_t s = 0; s < r->sels.n; s++)
        for (size_t a = 0; a < r->sels.v[s].alts.n; a++)
            for (size_t k = 0; k < r->sels.v[s].alts.v[a].items.n; k++) {
                struct sg_item *it = &r->sels.v[s].alts.v[a].items.v[k];
                if (it->field)
                    continue;
                for (size_t i = 0; i < it->m.n; i++) {
                    struct sg_matcher *m = &it->m.v[i];
                    if (m->kind != SG_MK_CONTAINS || m->len < KW_MIN_LEN || memchr(m->lit, 0, m->len) ||
                        kl->lits.n >= UINT32_MAX - 1)
                        continue;
                    char *lit = strndup(m->lit, m->len);
                    if (!lit || SG_PUSH(kl->lits, lit) < 0) {
                        free(lit);
                        return -ENOMEM;
                    }
                    if (SG_PUSH(kl->cased, m->cased) < 0 || SG_PUSH(kl->who, m) < 0)
                        return -ENOMEM;
                }
            }
    return 0;
}

/* What a keyword matcher costs: 0 answered by kwdb, 1 by kwdb2, 2 searching itself. */
static int kw_cost(const struct wk_ruleset *rs, const struct sg_matcher *m)
{
    return !m->kw_id ? 2 : m->kw_id <= rs->nkw_long ? 0 : 1;
}

/* Renumber the groups of r's `all` keyword items so the cheapest are tested first (an AND
 * of pure tests: the same answer in any order; item_match stops at the first false one). */
static void kw_order(const struct wk_ruleset *rs, struct sg_rule *r)
{
    for (size_t s = 0; s < r->sels.n; s++)
        for (size_t a = 0; a < r->sels.v[s].alts.n; a++)
            for (size_t k = 0; k < r->sels.v[s].alts.v[a].items.n; k++) {
                struct sg_item *it = &r->sels.v[s].alts.v[a].items.v[k];
                if (it->field || !it->all || it->ngroups < 2 || it->ngroups > 256)
                    continue;
                int cost[256] = { 0 };
                uint16_t to[256];
                for (size_t i = 0; i < it->m.n; i++) {
                    int c = kw_cost(rs, &it->m.v[i]);
                    if (it->m.v[i].group < it->ngroups && c > cost[it->m.v[i].group])
                        cost[it->m.v[i].group] = c;
                }
                uint16_t next = 0;
                for (int c = 0; c <= 2; c++) /* stable: by cost, then as written */
                    for (uint16_t g = 0; g < it->ngroups; g++)
                        if (cost[g] == c)
                            to[g] = next++;
                for (size_t i = 0; i < it->m.n; i++)
                    if (it->m.v[i].group < it->ngroups)
                        it->m.v[i].group = to[it->m.v[i].group];
            }
}

static int build_kw(struct wk_ruleset *rs)
{
    struct kwlits kl = { 0 };
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < rs->rules.n; i++)
        if (!rs->rules.v[i]->is_corr)
            rc = kw_collect(rs->rules.v[i], &kl);
    for (size_t i = 0; rc == 0 && i < rs->filters.n; i++)
        rc = kw_collect(rs->filters.v[i], &kl);
    /* the long literals first (ids 1..nkw_long), then the short ones */
    size_t n = kl.lits.n, nl = 0;
    char **lits = rc == 0 && n ? calloc(n, sizeof(*lits)) : NULL;
    bool *cased = rc == 0 && n ? calloc(n, sizeof(*cased)) : NULL;
    if (n && (!lits || !cased))
        rc = -ENOMEM;
    for (int pass = 0; rc == 0 && pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            bool is_long = kl.who.v[i]->len >= KW_LONG_LEN;
            if (is_long != (pass == 0))
                continue;
            lits[nl] = kl.lits.v[i];
            cased[nl] = kl.cased.v[i];
            kl.who.v[i]->kw_id = (uint32_t)++nl;
        }
    size_t nlong = 0;
    while (rc == 0 && nlong < n && strlen(lits[nlong]) >= KW_LONG_LEN)
        nlong++;
    if (rc == 0 && nlong) {
        hs_database_t *db = NULL;
        rc = compile_lits_cased(lits, cased, nlong, HS_FLAG_SINGLEMATCH, &db);
        rs->kwdb = db;
    }
    if (rc == 0 && n > nlong) {
        hs_database_t *db = NULL;
        rc = compile_lits_cased(lits + nlong, cased + nlong, n - nlong, HS_FLAG_SINGLEMATCH,
                                &db);
        rs->kwdb2 = db;
    }
    if (rc == 0 && n && (rs->kwdb || nlong == 0) && (rs->kwdb2 || nlong == n)) {
        rs->nkw = (uint32_t)n;
        rs->nkw_long = (uint32_t)nlong;
    } else { /* no database: every keyword matcher searches itself */
        hs_free_database(rs->kwdb);
        hs_free_database(rs->kwdb2);
        rs->kwdb = rs->kwdb2 = NULL;
        for (size_t i = 0; i < n; i++)
            kl.who.v[i]->kw_id = 0;
    }
    for (size_t i = 0; rc == 0 && i < rs->rules.n + rs->filters.n; i++)
        kw_order(rs, i < rs->rules.n ? rs->rules.v[i] : rs->filters.v[i - rs->rules.n]);
    for (size_t i = 0; i < kl.lits.n; i++)
        free(kl.lits.v[i]);
    free(kl.lits.v);
    free(kl.cased.v);
    free(kl.who.v);
    free(lits);
    free(cased);
    return rc;
}

/* A rule without a raw factor of its own still only matches events of its logsource, and
 * a logsource requires a string field equal (ASCII case-insensitively) to one of some
 * values (event.module: auditd): those values, when usable, are its factor. */
static bool ls_factor(const struct sg_logsource *ls, size_t min_useful, fset *out)
{
    const struct sg_lsmatch *best = NULL;
    size_t best_min = 0;
    for (size_t i = 0; i < ls->match.n; i++) {
        const struct sg_lsmatch *m = &ls->match.v[i];
        size_t mn = m->values.n ? (size_t)-1 : 0;
        for (size_t k = 0; mn && k < m->values.n; k++) {
            size_t len = strlen(m->values.v[k]);
            mn = !raw_safe(m->values.v[k], len) ? 0 : len < mn ? len : mn;
        }
        if (mn > best_min)
            best = m, best_min = mn;
    }
    if (!best || best_min < min_useful)
        return false;
    for (size_t k = 0; k < best->values.n; k++)
        if (SG_PUSH(*out, ((struct fpair){ best->field, best->values.v[k],
                                           strlen(best->values.v[k]), NULL, SG_PF_IN,
                                           0 })) < 0)
            return false;
    return true;
}

/* The block prefilter: when every detection rule has a raw factor (its own, or its
 * logsource's), one database of all of them; otherwise none, and hunt decodes every
 * event. */
static int build_raw(struct wk_ruleset *rs, size_t min_useful)
{
    static const struct fmode raw_mode = { true, NULL, NULL, 0, 0 };
    SG_VEC(char *) lits = { 0 };
    SG_VEC(const struct sg_matcher *) res = { 0 };
    int rc = 0;
    bool ok = true;
    for (size_t l = 0; ok && l < rs->ls.n; l++) {
        const struct sg_logsource *ls = &rs->ls.v[l];
        for (size_t k = 0; ok && k < ls->rules.n; k++) {
            const struct sg_rule *r = rs->rules.v[ls->rules.v[k]];
            fset f = { 0 };
            ok = cond_factor(&raw_mode, r, r->cond, &f) && min_len(&f, 0) >= min_useful;
            if (!ok) {
                f.n = 0;
                ok = ls_factor(ls, min_useful, &f);
            }
            for (size_t i = 0; ok && i < f.n; i++) {
                char *lit = strndup(f.v[i].lit, f.v[i].len);
                if (!lit || SG_PUSH(lits, lit) < 0) {
                    free(lit);
                    rc = -ENOMEM;
                    ok = false;
                } else if (SG_PUSH(res, f.v[i].re) < 0) {
                    rc = -ENOMEM;
                    ok = false;
                }
            }
            free(f.v);
        }
    }
    if (ok && lits.n) {
        hs_database_t *db = NULL;
        rc = compile_lits(lits.v, lits.n, 0, &db);
        if (rc == 0) {
            rs->rawdb = db;
            rs->nrawlits = lits.n;
            rs->rawre = res.v; /* (ids are indexes in lits) */
            res.v = NULL;
        }
    }
    for (size_t i = 0; i < lits.n; i++)
        free(lits.v[i]);
    free(lits.v);
    free(res.v);
    return rc;
}
#endif

void wk__sg_prefilter_free_raw(struct wk_ruleset *rs)
{
#if WK_HAVE_HYPERSCAN
    hs_free_database(rs->rawdb);
    hs_free_database(rs->kwdb);
    hs_free_database(rs->kwdb2);
#endif
    free(rs->rawre);
    free(rs->kwowner);
    rs->kwowner = NULL;
    rs->rawdb = NULL;
    rs->rawre = NULL;
    rs->kwdb = NULL;
    rs->kwdb2 = NULL;
}

#if WK_HAVE_HYPERSCAN
/* Add rule ri's factor f to the logsource's prefilter fields (a literal the rule already
 * has there, from another bucket, is not added twice) and its keyword literals to
 * rs->kwowner (*kw: whether there were any). @return 0, -ENOMEM. */
static int add_factor(struct wk_ruleset *rs, struct sg_logsource *ls, const fset *f,
                      uint32_t ri, bool *kw)
{
    *kw = false;
    for (size_t i = 0; i < f->n; i++) {
        if (!f->v[i].field) {
            rs->kwowner[f->v[i].kw - 1] = ri;
            *kw = true;
            continue;
        }
        struct sg_pfield *pf = NULL;
        for (size_t q = 0; !pf && q < ls->pf.n; q++)
            if (!strcmp(ls->pf.v[q].field, f->v[i].field))
                pf = &ls->pf.v[q];
        if (!pf) {
            struct sg_pfield n = { 0 };
            n.field = strdup(f->v[i].field);
            if (!n.field || SG_PUSH(ls->pf, n) < 0) {
                free(n.field);
                return -ENOMEM;
            }
            pf = &ls->pf.v[ls->pf.n - 1];
        }
        bool dup = false;
        for (size_t k = 0; !dup && k < pf->lits.n; k++)
            dup = pf->owner.v[k] == ri && pf->anchor.v[k] == f->v[i].anchor &&
                  strlen(pf->lits.v[k]) == f->v[i].len &&
                  !memcmp(pf->lits.v[k], f->v[i].lit, f->v[i].len);
        if (dup)
            continue;
        char *lit = strndup(f->v[i].lit, f->v[i].len);
        if (!lit || SG_PUSH(pf->lits, lit) < 0) {
            free(lit);
            return -ENOMEM;
        }
        if (SG_PUSH(pf->owner, ri) < 0 || SG_PUSH(pf->anchor, f->v[i].anchor) < 0) {
            free(pf->lits.v[--pf->lits.n]);
            pf->owner.n = pf->lits.n;
            return -ENOMEM;
        }
    }
    return 0;
}

static unsigned head_bucket(unsigned head)
{
    return (head * 0x9E3779B1u) >> 27; /* SG_PF_HB = 32 buckets */
}

/* The field's literals once all factors are in: folded (Hyperscan's are caseless, and the
 * anchored ones are compared with a folded value), the anchored ones in their lookup
 * table, and the others (minlen, bigrams, inlit) in the Hyperscan database.
 * @return 0, -ENOMEM, -EINVAL. */
static int pfield_build(struct sg_pfield *pf)
{
    _Static_assert(SG_PF_HB == 32u, "head_bucket takes 5 bits");
    size_t nin = 0, na[2] = { 0, 0 };
    for (size_t i = 0; i < pf->lits.n; i++) {
        for (char *c = pf->lits.v[i]; *c; c++)
            *c = (char)wk__sg_fold[(unsigned char)*c];
        /* a value's head is its first two bytes: a one-byte literal is looked up only as
         * a whole value (factors give no other: lit_weight) */
        if (pf->anchor.v[i] != SG_PF_EQ && strlen(pf->lits.v[i]) < 2)
            pf->anchor.v[i] = SG_PF_IN;
        if (pf->anchor.v[i] == SG_PF_IN)
            nin++;
        else
            na[pf->anchor.v[i] == SG_PF_END]++;
    }
    free(pf->alit);
    free(pf->inlit);
    free(pf->bigrams);
    pf->alit = NULL;
    pf->inlit = NULL;
    pf->bigrams = NULL;
    memset(pf->aidx, 0, sizeof(pf->aidx));
    if ((na[0] + na[1] && !(pf->alit = calloc(na[0] + na[1], sizeof(*pf->alit)))) ||
        (nin && !(pf->inlit = calloc(nin, sizeof(*pf->inlit)))))
        return -ENOMEM;
    /* the anchored ones by (table, bucket): counts, then offsets, then placed */
    for (size_t i = 0; i < pf->lits.n; i++) {
        const unsigned char *lt = (const unsigned char *)pf->lits.v[i];
        size_t len = strlen(pf->lits.v[i]);
        uint8_t a = pf->anchor.v[i];
        if (a == SG_PF_IN)
            continue;
        unsigned t = a == SG_PF_END;
        unsigned head = t ? lt[len - 2] | (unsigned)lt[len - 1] << 8
                          : lt[0] | (len > 1 ? (unsigned)lt[1] << 8 : 0);
        pf->aidx[t][head_bucket(head) + 1]++;
    }
    for (unsigned t = 0; t < 2; t++) {
        pf->aidx[t][0] = t ? pf->aidx[0][SG_PF_HB] : 0;
        for (unsigned b = 1; b <= SG_PF_HB; b++)
            pf->aidx[t][b] += pf->aidx[t][b - 1];
    }
    uint32_t fill[2][SG_PF_HB];
    for (unsigned t = 0; t < 2; t++)
        memcpy(fill[t], pf->aidx[t], sizeof(fill[t]));
    nin = 0;
    pf->minlen = UINT32_MAX;
    for (size_t i = 0; i < pf->lits.n; i++) {
        const unsigned char *lt = (const unsigned char *)pf->lits.v[i];
        size_t len = strlen(pf->lits.v[i]);
        uint8_t a = pf->anchor.v[i];
        if (a == SG_PF_IN) {
            pf->inlit[nin++] = (uint32_t)i;
            if (len < pf->minlen)
                pf->minlen = (uint32_t)len;
            continue;
        }
        unsigned t = a == SG_PF_END;
        unsigned head = t ? lt[len - 2] | (unsigned)lt[len - 1] << 8
                          : lt[0] | (len > 1 ? (unsigned)lt[1] << 8 : 0);
        pf->alit[fill[t][head_bucket(head)]++] =
            (struct sg_alit){ (uint16_t)head, a, (uint32_t)len, pf->lits.v[i], pf->owner.v[i] };
    }
    if (!nin)
        return 0;
    if (pf->minlen >= 2 && !(pf->bigrams = calloc(BIGRAM_BITS / 64, sizeof(uint64_t))))
        return -ENOMEM;
    for (size_t k = 0; pf->bigrams && k < nin; k++) {
        /* Hyperscan's caseless match takes either case of an ASCII letter */
        const unsigned char *lt = (const unsigned char *)pf->lits.v[pf->inlit[k]];
        for (unsigned v = 0; v < 4; v++) {
            unsigned a = lt[0], b = lt[1];
            if (v & 1u)
                a = a >= 'a' && a <= 'z' ? a - 32 : a;
            if (v & 2u)
                b = b >= 'a' && b <= 'z' ? b - 32 : b;
            unsigned x = a | b << 8;
            pf->bigrams[x >> 6] |= UINT64_C(1) << (x & 63);
        }
    }
    char **lits = calloc(nin, sizeof(*lits));
    if (!lits)
        return -ENOMEM;
    for (size_t k = 0; k < nin; k++)
        lits[k] = pf->lits.v[pf->inlit[k]];
    hs_database_t *db = NULL;
    int rc = compile_lits(lits, nin, HS_FLAG_SINGLEMATCH, &db);
    pf->db = db;
    free(lits);
    return rc;
}
#endif

int wk__sg_prefilter_build(struct wk_ruleset *rs)
{
#if WK_HAVE_HYPERSCAN
    /* A factor with a one-byte literal found anywhere would not filter anything: such rules
     * stay plain (a one-byte value compared whole is looked up: lit_weight). Two bytes do
     * filter a field's value (`name|contains: '/.'` in PATH records, which the
     * byte-pair check mostly settles without Hyperscan: the bench's 6.8k evaluations of that
     * rule per 20k events went, for 0.9M more instructions of scanning against 12M fewer
     * evaluating); hunt's block prefilter, which scans whole stored events, keeps 3. */
    const size_t min_field = 2, min_useful = 3;
    /* the keyword database first: keyword items of its literals make factors too */
    int rc = build_kw(rs);
    if (rc < 0)
        return rc;
    if (rs->nkw && !(rs->kwowner = malloc(rs->nkw * sizeof(*rs->kwowner))))
        return -ENOMEM;
    for (uint32_t i = 0; i < rs->nkw; i++)
        rs->kwowner[i] = UINT32_MAX;
    uint32_t *mark = calloc(rs->rules.n + 1, sizeof(*mark));
    bool *indexed = calloc(rs->rules.n + 1, sizeof(*indexed));
    uint32_t *nls = calloc(rs->rules.n + 1, sizeof(*nls));
    if (!mark || !indexed || !nls) {
        free(mark), free(indexed), free(nls);
        return -ENOMEM;
    }
    /* has_factor is a property of the rule, not of one logsource: a rule that several
     * logsources select gets the same factor (no skipped field) in each */
    for (size_t l = 0; l < rs->ls.n; l++)
        for (size_t k = 0; k < rs->ls.v[l].rules.n; k++)
            nls[rs->ls.v[l].rules.v[k]]++;
    for (size_t l = 0; rc == 0 && l < rs->ls.n; l++) {
        struct sg_logsource *ls = &rs->ls.v[l];
        /* a rule in a dispatch bucket is only tried on events carrying the bucket's value */
        memset(indexed, 0, (rs->rules.n + 1) * sizeof(*indexed));
        for (size_t b = 0; b < ls->buckets.n; b++)
            for (size_t k = 0; k < ls->buckets.v[b].rules.n; k++)
                indexed[ls->buckets.v[b].rules.v[k]] = true;
        for (size_t k = 0; rc == 0 && k < ls->rules.n; k++) {
            uint32_t ri = ls->rules.v[k];
            struct sg_rule *r = rs->rules.v[ri];
            const struct fmode field_mode = { false,
                                              indexed[ri] && nls[ri] == 1 ? ls->dispatch : NULL,
                                              NULL, 0, rs->nkw_long };
            fset f = { 0 };
            if (!cond_factor(&field_mode, r, r->cond, &f) || min_len(&f, 0) < min_field) {
                free(f.v);
                continue;
            }
            bool kw = false;
            rc = add_factor(rs, ls, &f, ri, &kw);
            free(f.v);
            if (rc == 0) {
                r->has_factor = true;
                r->factor_kw = kw;
            }
        }
        /* A rule without a factor that is only tried in buckets may have one per bucket:
         * a branch that needs only another value of the dispatch field (`type: TTY` in a
         * PATH record) cannot match there, so the others' literals suffice. */
        for (size_t b = 0; rc == 0 && b < ls->buckets.n; b++) {
            struct sg_bucket *bk = &ls->buckets.v[b];
            for (size_t k = 0; rc == 0 && k < bk->rules.n; k++) {
                uint32_t ri = bk->rules.v[k];
                struct sg_rule *r = rs->rules.v[ri];
                uint8_t fac = r->has_factor ? 1 + r->factor_kw : 0;
                if (!fac && nls[ri] == 1) {
                    const struct fmode md = { false, ls->dispatch, bk->val, bk->len,
                                              rs->nkw_long };
                    fset f = { 0 };
                    if (cond_factor(&md, r, r->cond, &f) && f.n && min_len(&f, 0) >= min_field) {
                        bool kw = false;
                        rc = add_factor(rs, ls, &f, ri, &kw);
                        fac = 1 + kw;
                    }
                    free(f.v);
                }
                if (rc == 0)
                    rc = SG_PUSH(bk->fac, fac);
            }
        }
        {
            const uint32_t *av = ls->dispatch ? ls->any.v : ls->rules.v;
            size_t an = ls->dispatch ? ls->any.n : ls->rules.n;
            for (size_t k = 0; rc == 0 && k < an; k++) {
                const struct sg_rule *r = rs->rules.v[av[k]];
                rc = SG_PUSH(ls->any_fac, (uint8_t)(r->has_factor ? 1 + r->factor_kw : 0));
            }
        }
        for (size_t q = 0; rc == 0 && q < ls->pf.n; q++) {
            struct sg_pfield *pf = &ls->pf.v[q];
            pf->key = wk_key_init(pf->field); /* the vector may have moved */
            rc = pfield_build(pf);
        }
        /* the fields worth scanning for an event of each bucket (its rules' and the
         * unindexed rules'), and for an event of none (the unindexed rules'); mark[ri] is
         * 1 + the bucket (or 1 + buckets.n for the unindexed rules) that last claimed ri */
        const uint32_t none = (uint32_t)ls->buckets.n + 1;
        const uint32_t *av = ls->dispatch ? ls->any.v : ls->rules.v;
        size_t an = ls->dispatch ? ls->any.n : ls->rules.n;
        for (size_t b = 0; rc == 0 && b <= ls->buckets.n; b++) {
            struct sg_bucket *bk = b < ls->buckets.n ? &ls->buckets.v[b] : NULL;
            uint32_t stamp = bk ? (uint32_t)b + 1 : none;
            for (size_t k = 0; k < an; k++)
                mark[av[k]] = stamp;
            for (size_t k = 0; bk && k < bk->rules.n; k++)
                mark[bk->rules.v[k]] = stamp;
            for (size_t q = 0; rc == 0 && q < ls->pf.n; q++) {
                bool used = false;
                for (size_t i = 0; !used && i < ls->pf.v[q].owner.n; i++)
                    used = mark[ls->pf.v[q].owner.v[i]] == stamp;
                if (used)
                    rc = bk ? SG_PUSH(bk->pfs, (uint32_t)q) : SG_PUSH(ls->pf_any, (uint32_t)q);
            }
        }
    }
    free(mark);
    free(indexed);
    free(nls);
    if (rc < 0)
        return rc;
    rs->prefilter = true;
    rc = build_raw(rs, min_useful);
    if (rc < 0)
        return rc;
#else
    (void)rs;
#endif
    return 0;
}

static uint64_t *kid_set(const struct wk_ruleset *rs, const struct sg_logsource *ls,
                         const uint32_t *pfs, size_t n)
{
    uint64_t *set = calloc(rs->kwords + 1, sizeof(*set));
    for (size_t i = 0; set && i < n; i++) {
        uint32_t kid = ls->pf.v[pfs[i]].kid;
        set[kid / 64] |= UINT64_C(1) << (kid % 64);
    }
    return set;
}

/* A pass of the n rules rv (ascending), fac their prefilter flags (NULL: none). */
static int rlist_build(const struct wk_ruleset *rs, struct sg_rlist *rl, const uint32_t *rv,
                       size_t n, const uint8_t *fac)
{
    for (size_t k = 0; k < n; k++) {
        if (!fac || !fac[k]) {
            if (SG_PUSH(rl->plain, rv[k]) < 0)
                return -ENOMEM;
            continue;
        }
        if (!rl->facbits && !(rl->facbits = calloc((rs->rules.n + 63) / 64 + 1, sizeof(uint64_t))))
            return -ENOMEM;
        rl->facbits[rv[k] / 64] |= UINT64_C(1) << (rv[k] % 64);
        rl->has_kw = rl->has_kw || fac[k] == 2;
    }
    return 0;
}

/* rs->lsg: the logsources grouped by their first match entry's values. */
static int ls_groups(struct wk_ruleset *rs)
{
    if (rs->ls.n > 64)
        return 0;
    for (size_t l = 0; l < rs->ls.n; l++) {
        const struct sg_logsource *ls = &rs->ls.v[l];
        if (!ls->rules.n)
            continue;
        if (!ls->match.n || !ls->match.v[0].values.n) {
            rs->lsalways |= UINT64_C(1) << l;
            continue;
        }
        const struct sg_lsmatch *m = &ls->match.v[0];
        if (ls->match.n == 1)
            rs->lsone |= UINT64_C(1) << l;
        for (size_t k = 0; k < m->values.n; k++) {
            size_t len = strlen(m->values.v[k]), g = 0;
            while (g < rs->nlsg && !(rs->lsg[g].kid == m->kid && rs->lsg[g].len == len &&
                                     !memcmp(rs->lsg[g].val, m->values.v[k], len)))
                g++;
            if (g == rs->nlsg) {
                struct sg_lsgroup *p = realloc(rs->lsg, (g + 1) * sizeof(*p));
                if (!p)
                    return -ENOMEM;
                rs->lsg = p;
                rs->lsg[g] = (struct sg_lsgroup){ m->kid, (uint32_t)len, &m->key,
                                                    m->values.v[k], 0 };
                rs->nlsg++;
            }
            rs->lsg[g].ls |= UINT64_C(1) << l;
        }
    }
    return 0;
}

int wk__sg_prefilter_index(struct wk_ruleset *rs)
{
    if (ls_groups(rs) < 0)
        return -ENOMEM;
    for (size_t l = 0; l < rs->ls.n; l++) {
        struct sg_logsource *ls = &rs->ls.v[l];
        for (size_t b = 0; b < ls->buckets.n; b++) {
            struct sg_bucket *bk = &ls->buckets.v[b];
            if (rlist_build(rs, &bk->rl, bk->rules.v, bk->rules.n, bk->fac.n ? bk->fac.v : NULL) < 0)
                return -ENOMEM;
        }
        if (rlist_build(rs, &ls->any_rl, ls->dispatch ? ls->any.v : ls->rules.v,
                        ls->dispatch ? ls->any.n : ls->rules.n,
                        ls->any_fac.n ? ls->any_fac.v : NULL) < 0)
            return -ENOMEM;
        if (!ls->pf.n)
            continue;
        if (!(ls->pf_of_kid = malloc((rs->nkeys + 1) * sizeof(*ls->pf_of_kid))) ||
            !(ls->pf_anykids = kid_set(rs, ls, ls->pf_any.v, ls->pf_any.n)))
            return -ENOMEM;
        for (uint32_t k = 0; k <= rs->nkeys; k++)
            ls->pf_of_kid[k] = UINT32_MAX;
        for (size_t q = 0; q < ls->pf.n; q++)
            ls->pf_of_kid[ls->pf.v[q].kid] = (uint32_t)q;
        for (size_t b = 0; b < ls->buckets.n; b++) {
            struct sg_bucket *bk = &ls->buckets.v[b];
            if (!(bk->pfkids = kid_set(rs, ls, bk->pfs.v, bk->pfs.n)))
                return -ENOMEM;
        }
    }
    return 0;
}

int wk__sg_prefilter_scratch(struct wk_rule_scratch *sc)
{
    sc->cand = calloc(sc->rs->rules.n + 1, sizeof(uint64_t));
    sc->clist = calloc(sc->rs->rules.n + 1, sizeof(uint32_t));
    sc->rlist = calloc(sc->rs->rules.n + 1, sizeof(uint32_t));
    if (!sc->cand || !sc->clist || !sc->rlist)
        return -ENOMEM;
#if WK_HAVE_HYPERSCAN
    hs_scratch_t *s = NULL;
    int rc = 0;
    for (size_t l = 0; rc == 0 && l < sc->rs->ls.n; l++)
        for (size_t q = 0; rc == 0 && q < sc->rs->ls.v[l].pf.n; q++)
            if (sc->rs->ls.v[l].pf.v[q].db && /* NULL: anchored literals only */
                hs_alloc_scratch(sc->rs->ls.v[l].pf.v[q].db, &s) != HS_SUCCESS)
                rc = -ENOMEM;
    if (rc == 0 && sc->rs->rawdb && hs_alloc_scratch(sc->rs->rawdb, &s) != HS_SUCCESS)
        rc = -ENOMEM;
    if (rc == 0 && sc->rs->kwdb && hs_alloc_scratch(sc->rs->kwdb, &s) != HS_SUCCESS)
        rc = -ENOMEM;
    if (rc == 0 && sc->rs->kwdb2 && hs_alloc_scratch(sc->rs->kwdb2, &s) != HS_SUCCESS)
        rc = -ENOMEM;
    if (rc == 0 && sc->rs->nkw && !(sc->kwseen = calloc(sc->rs->nkw, sizeof(uint64_t))))
        rc = -ENOMEM;
    sc->hs = s;
    if (rc < 0)
        return rc;
#endif
    return 0;
}

void wk__sg_prefilter_scratch_free(struct wk_rule_scratch *sc)
{
#if WK_HAVE_HYPERSCAN
    if (sc->hs)
        hs_free_scratch(sc->hs);
#endif
    free(sc->cand);
    free(sc->clist);
    free(sc->rlist);
    free(sc->kwseen);
    free(sc->kwbuf);
}

#if WK_HAVE_HYPERSCAN
struct hit {
    struct wk_rule_scratch *sc;
    const struct sg_pfield *pf;
};

static int on_hit(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *arg)
{
    (void)from, (void)to, (void)flags;
    struct hit *h = arg;
    wk__sg_mark(h->sc, h->pf->owner.v[h->pf->inlit[id]]);
    return 0;
}

static inline bool fold_eq(const unsigned char *s, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (wk__sg_fold[s[i]] != (unsigned char)lit[i])
            return false;
    return true;
}

/* The anchored literals of table t (0: start, 1: end) whose head is the value's: each one
 * the value has there makes its rule a candidate. */
static inline void scan_anchored(struct hit *h, unsigned t, unsigned head,
                                 const unsigned char *u, size_t len)
{
    const struct sg_pfield *pf = h->pf;
    unsigned b = head_bucket(head);
    for (uint32_t i = pf->aidx[t][b], e = pf->aidx[t][b + 1]; i < e; i++) {
        const struct sg_alit *a = &pf->alit[i];
        if (a->head != head || len < a->len || (a->kind == SG_PF_EQ && len != a->len))
            continue;
        bool ok = a->len <= 2 || (t ? fold_eq(u + len - a->len, a->lit, a->len - 2)
                                    : fold_eq(u + 2, a->lit + 2, a->len - 2));
        if (ok)
            wk__sg_mark(h->sc, a->owner);
    }
}

/* Can s[0..len), len >= minlen >= 2, hold a literal of the field? Not without the first
 * two bytes of one of them (in either case) where one still fits. */
static bool bigram_seen(const uint64_t *bg, const char *s, size_t len, size_t minlen)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i + minlen <= len; i++) {
        unsigned x = u[i] | (unsigned)u[i + 1] << 8;
        if (bg[x >> 6] >> (x & 63) & 1u)
            return true;
    }
    return false;
}

static void scan(struct hit *h, const char *s, size_t len)
{
    const struct sg_pfield *pf = h->pf;
    if (pf->alit && len) {
        const unsigned char *u = (const unsigned char *)s;
        unsigned c1 = len > 1 ? wk__sg_fold[u[1]] : 0;
        if (pf->aidx[0][SG_PF_HB])
            scan_anchored(h, 0, wk__sg_fold[u[0]] | c1 << 8, u, len);
        if (len > 1 && pf->aidx[1][SG_PF_HB] > pf->aidx[1][0])
            scan_anchored(h, 1, wk__sg_fold[u[len - 2]] | (unsigned)wk__sg_fold[u[len - 1]] << 8,
                          u, len);
    }
    if (!pf->db)
        return;
    if (!wk__sg_plain_lookups) {
        if (len < h->pf->minlen) /* no literal of the database fits */
            return;
        /* a call of hs_scan costs some 450 instructions whatever the length: most values
         * are short and hold none of the literals' first byte pairs */
        if (h->pf->bigrams && len <= BIGRAM_SCAN_MAX && !bigram_seen(h->pf->bigrams, s, len, h->pf->minlen))
            return;
    }
    (void)hs_scan(h->pf->db, s, (unsigned)len, 0, h->sc->hs, on_hit, h);
}
/* Scan one value of a prefilter field (a list: each item; a number: its text). */
static void scan_value(struct hit *h, const struct wk_value *v)
{
    char num[64];
    switch (v->kind) {
    case WK_VAL_STR:
    case WK_VAL_JSON:
        scan(h, v->u.s, v->len);
        break;
    case WK_VAL_STRLIST:
        for (uint32_t i = 0; i < v->len; i++)
            scan(h, v->u.items[i].s, v->u.items[i].len);
        break;
    case WK_VAL_INT:
        scan(h, num, (size_t)snprintf(num, sizeof(num), "%lld", (long long)v->u.i));
        break;
    case WK_VAL_REAL:
        scan(h, num, (size_t)snprintf(num, sizeof(num), "%.17g", v->u.r));
        break;
    case WK_VAL_BOOL:
        scan(h, v->u.b ? "true" : "false", v->u.b ? 4 : 5);
        break;
    default:
        break;
    }
}
#endif

int wk__sg_prefilter_scan(struct wk_rule_scratch *sc, const struct sg_logsource *ls,
                          const uint32_t *pfs, size_t npfs, const struct wk_event *ev,
                          unsigned rec, bool per_record)
{
    wk__sg_cand_reset(sc);
#if WK_HAVE_HYPERSCAN
    for (size_t q = 0; q < npfs; q++) {
        struct hit h = { sc, &ls->pf.v[pfs[q]] };
        const struct wk_value *v = wk__sg_lookup(sc, ev, rec, per_record, &h.pf->key,
                                                 h.pf->kid);
        if (v)
            scan_value(&h, v);
    }
#else
    (void)ls, (void)pfs, (void)npfs, (void)ev, (void)rec, (void)per_record;
#endif
    return 0;
}

void wk__sg_prefilter_scan_rec(struct wk_rule_scratch *sc, const struct sg_logsource *ls,
                               const uint64_t *kids, const struct wk_event *ev, unsigned rec)
{
    (void)ev, (void)rec; /* the record's fields are the memo's (rec_begin) */
    wk__sg_cand_reset(sc);
#if WK_HAVE_HYPERSCAN
    const uint64_t g = sc->mgen;
    for (uint32_t w = 0; w < sc->rs->kwords; w++) {
        for (uint64_t m = kids[w] & (sc->recbits[w] | sc->evbits[w]); m; m &= m - 1) {
            uint32_t kid = w * 64 + (uint32_t)__builtin_ctzll(m);
            struct hit h = { sc, &ls->pf.v[ls->pf_of_kid[kid]] };
            const struct wk__kmemo *r = &sc->mrec[kid];
            scan_value(&h, r->gen == g ? r->v : sc->mev[kid].v);
        }
    }
#else
    (void)ls, (void)kids;
#endif
}

#if WK_HAVE_HYPERSCAN
static int on_kw(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                 void *arg)
{
    (void)from, (void)to, (void)flags;
    struct wk_rule_scratch *sc = arg;
    sc->kwseen[id] = sc->kwcgen;
    uint32_t r = sc->rs->kwowner ? sc->rs->kwowner[id] : UINT32_MAX;
    if (r != UINT32_MAX) /* a keyword factor's literal */
        wk__sg_mark(sc, r);
    return 0;
}
#endif

void wk__sg_prefilter_kw_scan(struct wk_rule_scratch *sc, const char *p, size_t len)
{
    sc->kwcgen++;
#if WK_HAVE_HYPERSCAN
    if (sc->rs->kwdb && len && len <= UINT32_MAX)
        (void)hs_scan(sc->rs->kwdb, p, (unsigned)len, 0, sc->hs, on_kw, sc);
#else
    (void)p, (void)len;
#endif
}

#if WK_HAVE_HYPERSCAN
static int on_kw2(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *arg)
{
    (void)from, (void)to, (void)flags;
    struct wk_rule_scratch *sc = arg;
    sc->kwseen[sc->rs->nkw_long + id] = sc->kwcgen;
    return 0;
}
#endif

void wk__sg_prefilter_kw_scan2(struct wk_rule_scratch *sc, const char *p, size_t len)
{
#if WK_HAVE_HYPERSCAN
    if (sc->rs->kwdb2 && len && len <= UINT32_MAX)
        (void)hs_scan(sc->rs->kwdb2, p, (unsigned)len, 0, sc->hs, on_kw2, sc);
#else
    (void)sc, (void)p, (void)len;
#endif
}

#if WK_HAVE_HYPERSCAN
static int on_raw(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *arg)
{
    (void)from, (void)flags;
    struct wk__offs *o = arg;
    if (o->n && o->v[o->n - 1].end == (uint32_t)to && o->v[o->n - 1].id == id)
        return 0;
    /* non-zero stops the scan */
    return SG_PUSH(*o, ((struct wk__hit){ (uint32_t)to, id })) < 0 ? 1 : 0;
}

static int cmp_hit(const void *a, const void *b)
{
    const struct wk__hit *x = a, *y = b;
    return x->end != y->end ? (x->end < y->end ? -1 : 1) : x->id < y->id ? -1 : x->id > y->id;
}
#endif

int wk__sg_prefilter_raw_scan(struct wk_rule_scratch *sc, const uint8_t *p, size_t len,
                              struct wk__offs *hits)
{
    hits->n = 0;
#if WK_HAVE_HYPERSCAN
    if (!sc->rs->rawdb || len > UINT32_MAX)
        return -EINVAL;
    hs_error_t e = hs_scan(sc->rs->rawdb, (const char *)p, (unsigned)len, 0, sc->hs, on_raw,
                           hits);
    if (e == HS_SCAN_TERMINATED)
        return -ENOMEM;
    if (e != HS_SUCCESS)
        return -EINVAL;
    for (size_t i = 1; i < hits->n; i++)
        if (hits->v[i].end < hits->v[i - 1].end) {
            qsort(hits->v, hits->n, sizeof(*hits->v), cmp_hit);
            break;
        }
    return 0;
#else
    (void)sc, (void)p, (void)len;
    return -EINVAL;
#endif
}

bool wk__sg_prefilter_raw_keep(struct wk_rule_scratch *sc, const uint8_t *rec, size_t len,
                               const struct wk__hit *h, size_t n)
{
#if WK_HAVE_HYPERSCAN
    const struct sg_matcher *tried[4];
    size_t nt = 0;
    for (size_t i = 0; i < n; i++) {
        const struct sg_matcher *m = sc->rs->rawre ? sc->rs->rawre[h[i].id] : NULL;
        if (!m)
            return true; /* a literal nothing more is known about */
        bool seen = false;
        for (size_t k = 0; k < nt && !seen; k++)
            seen = tried[k] == m;
        if (seen)
            continue;
        /* no match: the record holds no value the regex matches; anything else (a match,
         * a match limit, an error) keeps it */
        if (pcre2_match(m->re, (PCRE2_SPTR)rec, len, 0, 0, sc->md, sc->mctx) !=
            PCRE2_ERROR_NOMATCH)
            return true;
        if (nt < sizeof(tried) / sizeof(tried[0]))
            tried[nt++] = m;
    }
    return false;
#else
    (void)sc, (void)rec, (void)len, (void)h;
    return n > 0;
#endif
}
