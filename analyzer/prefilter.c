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

/* A factor: (field, literal) pairs; the rule is a candidate when any pair is seen. */
struct fpair {
    const char *field;
    const char *lit;
    size_t len;
};
typedef SG_VEC(struct fpair) fset;

static size_t min_len(const fset *f, size_t from)
{
    size_t m = (size_t)-1;
    for (size_t i = from; i < f->n; i++)
        if (f->v[i].len < m)
            m = f->v[i].len;
    return m;
}

/* The longest literal a matcher needs in its field, or NULL. */
static const char *matcher_lit(const struct sg_matcher *m, size_t *len)
{
    switch (m->kind) {
    case SG_MK_EQ:
    case SG_MK_PREFIX:
    case SG_MK_SUFFIX:
    case SG_MK_CONTAINS:
        *len = m->len;
        return m->len ? m->lit : NULL;
    case SG_MK_GLOB: {
        const struct sg_gtok_s *best = NULL;
        for (size_t i = 0; i < m->ntoks; i++)
            if (m->toks[i].kind == SG_G_LIT && (!best || m->toks[i].len > best->len))
                best = &m->toks[i];
        if (!best)
            return NULL;
        *len = best->len;
        return best->s;
    }
    default:
        return NULL;
    }
}

static bool item_factor(const struct sg_item *it, fset *out)
{
    if (!it->field || it->neg || it->m.n == 0)
        return false;
    size_t before = out->n;
    for (size_t k = 0; k < it->m.n; k++) {
        size_t len = 0;
        const char *lit = matcher_lit(&it->m.v[k], &len);
        if (!lit || SG_PUSH(*out, ((struct fpair){ it->field, lit, len })) < 0) {
            out->n = before;
            return false;
        }
    }
    return true;
}

/* An AND of items: the child with the longest shortest literal. */
static bool alt_factor(const struct sg_alt *alt, fset *out)
{
    fset best = { 0 }, cur = { 0 };
    size_t best_min = 0;
    for (size_t i = 0; i < alt->items.n; i++) {
        cur.n = 0;
        if (!item_factor(&alt->items.v[i], &cur))
            continue;
        size_t m = min_len(&cur, 0);
        if (m > best_min) {
            fset t = best;
            best = cur;
            cur = t;
            best_min = m;
        }
    }
    bool ok = best_min > 0;
    for (size_t i = 0; ok && i < best.n; i++)
        if (SG_PUSH(*out, best.v[i]) < 0)
            ok = false;
    free(best.v);
    free(cur.v);
    return ok;
}

static bool cond_factor(const struct sg_rule *r, const struct sg_cond *c, fset *out)
{
    size_t before = out->n;
    switch (c->op) {
    case SG_C_SEL: {
        const struct sg_sel *s = &r->sels.v[c->sel];
        for (size_t a = 0; a < s->alts.n; a++)
            if (!alt_factor(&s->alts.v[a], out)) {
                out->n = before;
                return false;
            }
        return s->alts.n > 0;
    }
    case SG_C_OR:
        for (size_t i = 0; i < c->nkids; i++)
            if (!cond_factor(r, c->kids[i], out)) {
                out->n = before;
                return false;
            }
        return c->nkids > 0;
    case SG_C_AND: {
        fset best = { 0 }, cur = { 0 };
        size_t best_min = 0;
        for (size_t i = 0; i < c->nkids; i++) {
            cur.n = 0;
            if (!cond_factor(r, c->kids[i], &cur))
                continue;
            size_t m = min_len(&cur, 0);
            if (m > best_min) {
                fset t = best;
                best = cur;
                cur = t;
                best_min = m;
            }
        }
        bool ok = best_min > 0;
        for (size_t i = 0; ok && i < best.n; i++)
            if (SG_PUSH(*out, best.v[i]) < 0)
                ok = false;
        if (!ok)
            out->n = before;
        free(best.v);
        free(cur.v);
        return ok;
    }
    default:
        return false;
    }
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
#if WK_HAVE_HYPERSCAN
        hs_free_database(f->db);
#endif
    }
    free(ls->pf.v);
    memset(&ls->pf, 0, sizeof(ls->pf));
}

int wk__sg_prefilter_build(struct wk_ruleset *rs)
{
#if WK_HAVE_HYPERSCAN
    /* a factor made of 1-2 byte literals would not filter anything: keep such rules plain */
    const size_t min_useful = 3;
    for (size_t l = 0; l < rs->ls.n; l++) {
        struct sg_logsource *ls = &rs->ls.v[l];
        for (size_t k = 0; k < ls->rules.n; k++) {
            uint32_t ri = ls->rules.v[k];
            struct sg_rule *r = rs->rules.v[ri];
            fset f = { 0 };
            if (!cond_factor(r, r->cond, &f) || min_len(&f, 0) < min_useful) {
                free(f.v);
                continue;
            }
            int rc = 0;
            for (size_t i = 0; rc == 0 && i < f.n; i++) {
                struct sg_pfield *pf = NULL;
                for (size_t q = 0; !pf && q < ls->pf.n; q++)
                    if (!strcmp(ls->pf.v[q].field, f.v[i].field))
                        pf = &ls->pf.v[q];
                if (!pf) {
                    struct sg_pfield n = { 0 };
                    n.field = strdup(f.v[i].field);
                    if (!n.field || SG_PUSH(ls->pf, n) < 0) {
                        free(n.field);
                        rc = -ENOMEM;
                        break;
                    }
                    pf = &ls->pf.v[ls->pf.n - 1];
                    pf->key = wk_key_init(pf->field);
                }
                char *lit = strndup(f.v[i].lit, f.v[i].len);
                if (!lit || SG_PUSH(pf->lits, lit) < 0 || SG_PUSH(pf->owner, ri) < 0) {
                    free(lit);
                    rc = -ENOMEM;
                }
            }
            free(f.v);
            if (rc < 0)
                return rc;
            r->has_factor = true;
        }
        for (size_t q = 0; q < ls->pf.n; q++) {
            struct sg_pfield *pf = &ls->pf.v[q];
            pf->key = wk_key_init(pf->field); /* the vector may have moved */
            size_t n = pf->lits.n;
            unsigned *flags = calloc(n, sizeof(*flags)), *ids = calloc(n, sizeof(*ids));
            size_t *lens = calloc(n, sizeof(*lens));
            if (!flags || !ids || !lens) {
                free(flags), free(ids), free(lens);
                return -ENOMEM;
            }
            for (size_t i = 0; i < n; i++) {
                flags[i] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
                ids[i] = (unsigned)i;
                lens[i] = strlen(pf->lits.v[i]);
            }
            hs_compile_error_t *err = NULL;
            hs_database_t *db = NULL;
            hs_error_t e = hs_compile_lit_multi((const char *const *)pf->lits.v, flags, ids,
                                                lens, (unsigned)n, HS_MODE_BLOCK, NULL, &db,
                                                &err);
            free(flags), free(ids), free(lens);
            if (e != HS_SUCCESS) {
                hs_free_compile_error(err);
                return -EINVAL;
            }
            pf->db = db;
        }
    }
    rs->prefilter = true;
#else
    (void)rs;
#endif
    return 0;
}

int wk__sg_prefilter_scratch(struct wk_rule_scratch *sc)
{
    sc->cand = calloc(sc->rs->rules.n + 1, sizeof(uint64_t));
    if (!sc->cand)
        return -ENOMEM;
#if WK_HAVE_HYPERSCAN
    hs_scratch_t *s = NULL;
    for (size_t l = 0; l < sc->rs->ls.n; l++)
        for (size_t q = 0; q < sc->rs->ls.v[l].pf.n; q++)
            if (hs_alloc_scratch(sc->rs->ls.v[l].pf.v[q].db, &s) != HS_SUCCESS)
                return -ENOMEM;
    sc->hs = s;
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
    h->sc->cand[h->pf->owner.v[id]] = h->sc->cgen;
    return 0;
}

static void scan(struct hit *h, const char *s, size_t len)
{
    (void)hs_scan(h->pf->db, s, (unsigned)len, 0, h->sc->hs, on_hit, h);
}
#endif

int wk__sg_prefilter_scan(struct wk_rule_scratch *sc, const struct sg_logsource *ls,
                          const struct wk_event *ev, unsigned rec, bool per_record)
{
    sc->cgen++;
#if WK_HAVE_HYPERSCAN
    for (size_t q = 0; q < ls->pf.n; q++) {
        struct hit h = { sc, &ls->pf.v[q] };
        const struct wk_value *v = per_record ? wk_event_get_ctx(ev, rec, &h.pf->key)
                                              : wk_event_get(ev, 0, &h.pf->key);
        if (!v)
            continue;
        char num[64];
        switch (v->kind) {
        case WK_VAL_STR:
        case WK_VAL_JSON:
            scan(&h, v->u.s, v->len);
            break;
        case WK_VAL_STRLIST:
            for (uint32_t i = 0; i < v->len; i++)
                scan(&h, v->u.items[i].s, v->u.items[i].len);
            break;
        case WK_VAL_INT:
            scan(&h, num, (size_t)snprintf(num, sizeof(num), "%lld", (long long)v->u.i));
            break;
        case WK_VAL_REAL:
            scan(&h, num, (size_t)snprintf(num, sizeof(num), "%.17g", v->u.r));
            break;
        case WK_VAL_BOOL:
            scan(&h, v->u.b ? "true" : "false", v->u.b ? 4 : 5);
            break;
        default:
            break;
        }
    }
#else
    (void)ls, (void)ev, (void)rec, (void)per_record;
#endif
    return 0;
}
