/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sigma correlation rules: event_count, value_count, temporal, temporal_ordered (and the
 * 2.1 value_sum/value_avg). State is a hash of groups (correlation x group-by values), each
 * a time-sorted window of entries, in EVENT time with a lateness tolerance, bounded by a
 * memory ceiling (least recently used groups are evicted and counted), serialisable to JSON.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_private.h"
#include "watchkeeper/error.h"

struct centry {
    int64_t ts;
    uint64_t ref;
    uint32_t rule; /* rule index that matched */
    uint32_t pos;  /* its position in the correlation's `rules` */
    char *val;     /* value_count: the field's text (NULL when absent) */
    double num;    /* value_sum/avg */
};

struct cgroup {
    uint32_t corr, hash;
    char *key; /* group-by values as a JSON object */
    struct centry *e;
    size_t n, cap;
    int64_t first_ts, last_ts;
    size_t bytes;
    struct cgroup *hnext, *lprev, *lnext;
};

struct corr_state {
    struct cgroup **tab;
    size_t tabsize, ngroups, bytes;
    struct cgroup *head, *tail; /* LRU: head = most recently fed */
    int64_t max_ts;
    uint64_t feeds;
};

#define MAX_CONTRIB 64

int wk__corr_new(struct wk_rule_scratch *sc)
{
    struct corr_state *st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    st->tabsize = 1024;
    st->tab = calloc(st->tabsize, sizeof(*st->tab));
    if (!st->tab) {
        free(st);
        return -ENOMEM;
    }
    st->max_ts = INT64_MIN;
    sc->corr = st;
    return 0;
}

static void entries_clear(struct corr_state *st, struct cgroup *g)
{
    for (size_t i = 0; i < g->n; i++) {
        size_t b = sizeof(struct centry) + (g->e[i].val ? strlen(g->e[i].val) + 1 : 0);
        g->bytes -= b;
        st->bytes -= b;
        free(g->e[i].val);
    }
    g->n = 0;
}

static void group_unlink(struct corr_state *st, struct cgroup *g)
{
    if (g->lprev)
        g->lprev->lnext = g->lnext;
    else
        st->head = g->lnext;
    if (g->lnext)
        g->lnext->lprev = g->lprev;
    else
        st->tail = g->lprev;
    g->lprev = g->lnext = NULL;
}

static void group_free(struct corr_state *st, struct cgroup *g)
{
    struct cgroup **pp = &st->tab[g->hash & (st->tabsize - 1)];
    while (*pp && *pp != g)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = g->hnext;
    group_unlink(st, g);
    entries_clear(st, g);
    st->bytes -= g->bytes;
    st->ngroups--;
    free(g->e);
    free(g->key);
    free(g);
}

void wk__corr_free(struct wk_rule_scratch *sc)
{
    struct corr_state *st = sc->corr;
    if (!st)
        return;
    while (st->head)
        group_free(st, st->head);
    free(st->tab);
    free(st);
    sc->corr = NULL;
}

static uint32_t hash_key(uint32_t corr, const char *k)
{
    uint32_t h = 2166136261u ^ corr;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 16777619u;
    return h;
}

static struct cgroup *group_get(struct corr_state *st, uint32_t corr, const char *key, bool create)
{
    uint32_t h = hash_key(corr, key);
    for (struct cgroup *g = st->tab[h & (st->tabsize - 1)]; g; g = g->hnext)
        if (g->hash == h && g->corr == corr && !strcmp(g->key, key))
            return g;
    if (!create)
        return NULL;
    if (st->ngroups >= st->tabsize * 2) { /* grow: rehash every chain */
        size_t ns = st->tabsize * 4;
        struct cgroup **nt = calloc(ns, sizeof(*nt));
        if (nt) {
            for (size_t i = 0; i < st->tabsize; i++)
                for (struct cgroup *g = st->tab[i], *nx; g; g = nx) {
                    nx = g->hnext;
                    g->hnext = nt[g->hash & (ns - 1)];
                    nt[g->hash & (ns - 1)] = g;
                }
            free(st->tab);
            st->tab = nt;
            st->tabsize = ns;
        }
    }
    struct cgroup *g = calloc(1, sizeof(*g));
    if (!g || !(g->key = strdup(key))) {
        free(g);
        return NULL;
    }
    g->corr = corr;
    g->hash = h;
    g->bytes = sizeof(*g) + strlen(key) + 1;
    st->bytes += g->bytes;
    g->hnext = st->tab[h & (st->tabsize - 1)];
    st->tab[h & (st->tabsize - 1)] = g;
    st->ngroups++;
    g->lnext = st->head;
    if (st->head)
        st->head->lprev = g;
    st->head = g;
    if (!st->tail)
        st->tail = g;
    return g;
}

static void touch(struct corr_state *st, struct cgroup *g)
{
    if (st->head == g)
        return;
    group_unlink(st, g);
    g->lnext = st->head;
    if (st->head)
        st->head->lprev = g;
    st->head = g;
    if (!st->tail)
        st->tail = g;
}

/* ---- metrics ------------------------------------------------------------------------------ */
static double metric(const struct sg_corr *c, const struct centry *e, size_t n)
{
    switch (c->type) {
    case SG_CT_EVENT_COUNT:
        return (double)n;
    case SG_CT_VALUE_COUNT: {
        size_t d = 0;
        for (size_t i = 0; i < n; i++) {
            if (!e[i].val)
                continue;
            bool seen = false;
            for (size_t j = 0; !seen && j < i; j++)
                seen = e[j].val && !strcmp(e[j].val, e[i].val);
            d += !seen;
        }
        return (double)d;
    }
    case SG_CT_TEMPORAL: {
        uint64_t mask = 0;
        for (size_t i = 0; i < n; i++)
            mask |= 1ull << (e[i].pos & 63);
        return (double)__builtin_popcountll(mask);
    }
    case SG_CT_TEMPORAL_ORDERED: {
        uint32_t want = 0;
        for (size_t i = 0; i < n && want < c->rules.n; i++)
            if (e[i].pos == want)
                want++;
        return (double)want;
    }
    case SG_CT_VALUE_SUM:
    case SG_CT_VALUE_AVG: {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += e[i].num;
        return c->type == SG_CT_VALUE_SUM ? s : n ? s / (double)n : 0;
    }
    }
    return 0;
}

static bool cond_ok(const struct sg_corr *c, double x)
{
    if (c->has_lo && !(c->lo_incl ? x >= c->lo : x > c->lo))
        return false;
    if (c->has_hi && !(c->hi_incl ? x <= c->hi : x < c->hi))
        return false;
    return true;
}

/* Only an upper bound (lt/lte): decided when a window closes (tumbling windows). */
static bool closing_kind(const struct sg_corr *c)
{
    return c->has_hi && !c->has_lo;
}

static int fire(struct wk_rule_scratch *sc, uint32_t ci, struct cgroup *g, size_t lo, size_t hi,
                double x, const struct wk_event *ev, unsigned rec, uint64_t ref, wk_alert_cb cb,
                void *data)
{
    const struct sg_rule *r = sc->rs->rules.v[ci];
    struct wk_alert_contrib contrib[MAX_CONTRIB];
    size_t nc = 0;
    /* keep the last contributions when there are more than fit */
    size_t from = hi - lo > MAX_CONTRIB ? hi - MAX_CONTRIB : lo;
    for (size_t i = from; i < hi; i++)
        contrib[nc++] = (struct wk_alert_contrib){ g->e[i].ts, g->e[i].ref, g->e[i].rule };
    int64_t ts = ev ? wk_event_ts(ev) : (hi > lo ? g->e[hi - 1].ts : 0);
    int n = 0;
    if (!r->suppressed) {
        struct wk_alert a = { .rule = ci, .info = &r->info, .attack = r->attack_json, .ts = ts,
                              .rule_json = r->rule_json, .rule_json_len = r->rule_json_len,
                              .event = ev, .record = rec, .ref = ref, .group = g->key,
                              .value = x, .contrib = contrib, .ncontrib = nc };
        int rc = wk__engine_emit(sc, &a, cb, data);
        if (rc < 0)
            return rc;
        n++;
    }
    if (ev) {
        for (size_t f = 0; f < r->feeds.n; f++) {
            int rc = wk__corr_feed(sc, r->feeds.v[f], ci, ev, rec, ref, cb, data);
            if (rc < 0)
                return rc;
            n += rc;
        }
    }
    return n;
}

/* A group-by or value field's text: a scalar's, or a string list's first item. */
static bool value_text(const struct wk_value *v, char *num, size_t numlen, const char **s,
                       size_t *len)
{
    if (v && v->kind == WK_VAL_STRLIST) {
        if (!v->len)
            return false;
        *s = v->u.items[0].s;
        *len = v->u.items[0].len;
        return true;
    }
    return wk_value_text(v, num, numlen, s, len);
}

/* Evaluate a closing (tumbling) window of g and clear it. */
static int close_window(struct wk_rule_scratch *sc, struct cgroup *g, wk_alert_cb cb, void *data)
{
    const struct sg_corr *c = &sc->rs->rules.v[g->corr]->corr;
    int n = 0;
    if (g->n) {
        double x = metric(c, g->e, g->n);
        if (cond_ok(c, x))
            n = fire(sc, g->corr, g, 0, g->n, x, NULL, 0, 0, cb, data);
    }
    entries_clear(sc->corr, g);
    return n;
}

static void evict(struct wk_rule_scratch *sc, struct cgroup *keep)
{
    struct corr_state *st = sc->corr;
    while (st->bytes > sc->copts.max_bytes && st->tail && st->tail != keep) {
        group_free(st, st->tail);
        sc->st.corr_evicted++;
    }
}

/* Drop groups nobody can extend any more (and decide closing windows). */
static int sweep(struct wk_rule_scratch *sc, wk_alert_cb cb, void *data)
{
    struct corr_state *st = sc->corr;
    int n = 0;
    for (struct cgroup *g = st->tail, *prev; g; g = prev) {
        prev = g->lprev;
        const struct sg_corr *c = &sc->rs->rules.v[g->corr]->corr;
        if (g->last_ts >= st->max_ts - c->timespan_ns - sc->copts.lateness_ns)
            continue;
        if (closing_kind(c)) {
            int rc = close_window(sc, g, cb, data);
            if (rc < 0)
                return rc;
            n += rc;
        }
        group_free(st, g);
    }
    return n;
}

int wk__corr_feed(struct wk_rule_scratch *sc, uint32_t ci, uint32_t rule,
                  const struct wk_event *ev, unsigned rec, uint64_t ref, wk_alert_cb cb,
                  void *data)
{
    struct corr_state *st = sc->corr;
    const struct sg_rule *cr = sc->rs->rules.v[ci];
    const struct sg_corr *c = &cr->corr;
    int64_t ts = wk_event_ts(ev);
    if (st->max_ts != INT64_MIN && ts < st->max_ts - sc->copts.lateness_ns) {
        sc->st.corr_late++;
        return 0;
    }
    if (ts > st->max_ts)
        st->max_ts = ts;
    uint32_t pos = 0;
    while (pos < c->rules.n && c->rules.v[pos] != rule)
        pos++;
    if (pos == c->rules.n)
        return 0;
    /* the group key: group-by values (through aliases) as a JSON object */
    size_t ng = c->group_by.n;
    json_t *k = json_object();
    char num[64];
    for (size_t gi = 0; k && gi < ng; gi++) {
        const struct wk_value *v = wk_event_get_ctx(ev, rec, &c->gkeys[pos * ng + gi]);
        const char *s;
        size_t len;
        json_t *jv = value_text(v, num, sizeof(num), &s, &len) ? json_stringn(s, len)
                                                               : json_null();
        if (!jv) /* not UTF-8: keep it apart anyway */
            jv = json_string("\ufffd");
        json_object_set_new(k, c->group_by.v[gi], jv);
    }
    char *key = k ? json_dumps(k, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(k);
    if (!key)
        return -ENOMEM;
    struct cgroup *g = group_get(st, ci, key, true);
    free(key);
    if (!g)
        return -ENOMEM;
    touch(st, g);
    int nal = 0;
    if (closing_kind(c) && g->n && ts > g->first_ts + c->timespan_ns) {
        int rc = close_window(sc, g, cb, data);
        if (rc < 0)
            return rc;
        nal += rc;
    }
    if (g->n == 0)
        g->first_ts = ts;
    if (ts > g->last_ts || g->n == 0)
        g->last_ts = ts;
    /* the new entry, in time order */
    struct centry e = { ts, ref, rule, pos, NULL, 0 };
    if (c->fkey.name) {
        const struct wk_value *v = wk_event_get_ctx(ev, rec, &c->fkey);
        const char *s;
        size_t len;
        if (value_text(v, num, sizeof(num), &s, &len)) {
            e.val = strndup(s, len);
            e.num = strtod(e.val ? e.val : "0", NULL);
            if (v->kind == WK_VAL_INT)
                e.num = (double)v->u.i;
            if (v->kind == WK_VAL_REAL)
                e.num = v->u.r;
        }
    }
    if (wk__sg_grow((void **)&g->e, &g->cap, g->n + 1, sizeof(*g->e)) < 0) {
        free(e.val);
        return -ENOMEM;
    }
    size_t at = g->n;
    while (at > 0 && g->e[at - 1].ts > ts)
        at--;
    memmove(&g->e[at + 1], &g->e[at], (g->n - at) * sizeof(*g->e));
    g->e[at] = e;
    g->n++;
    size_t b = sizeof(e) + (e.val ? strlen(e.val) + 1 : 0);
    g->bytes += b;
    st->bytes += b;
    if (!closing_kind(c)) {
        /* entries nobody can pair with any more */
        int64_t horizon = st->max_ts - c->timespan_ns - sc->copts.lateness_ns;
        size_t drop = 0;
        while (drop < g->n && g->e[drop].ts < horizon)
            drop++;
        if (drop) {
            for (size_t i = 0; i < drop; i++) {
                size_t bb = sizeof(struct centry) + (g->e[i].val ? strlen(g->e[i].val) + 1 : 0);
                g->bytes -= bb;
                st->bytes -= bb;
                free(g->e[i].val);
            }
            memmove(g->e, g->e + drop, (g->n - drop) * sizeof(*g->e));
            g->n -= drop;
            at = at >= drop ? at - drop : 0;
        }
        /* the window of length timespan that ends at the new entry, and, when the entry
         * arrived out of order (newer ones are already there), the one starting at it */
        bool newest = at + 1 == g->n || g->e[g->n - 1].ts == ts;
        for (int w = 0; w < (newest ? 1 : 2) && g->n; w++) {
            size_t lo = 0, hi = g->n;
            if (w == 0) {
                while (lo < g->n && g->e[lo].ts < ts - c->timespan_ns)
                    lo++;
                hi = at + 1;
                while (hi < g->n && g->e[hi].ts == ts)
                    hi++;
            } else {
                lo = at;
                while (lo > 0 && g->e[lo - 1].ts == ts)
                    lo--;
                hi = lo;
                while (hi < g->n && g->e[hi].ts <= ts + c->timespan_ns)
                    hi++;
            }
            if (hi <= lo)
                continue;
            double x = metric(c, g->e + lo, hi - lo);
            if (!cond_ok(c, x))
                continue;
            int rc = fire(sc, ci, g, lo, hi, x, ev, rec, ref, cb, data);
            if (rc < 0)
                return rc;
            nal += rc;
            /* one alert per completed window: start over */
            entries_clear(st, g);
            break;
        }
    }
    evict(sc, g);
    if ((++st->feeds & 1023) == 0) {
        int rc = sweep(sc, cb, data);
        if (rc < 0)
            return rc;
        nal += rc;
    }
    sc->st.corr_groups = st->ngroups;
    sc->st.corr_bytes = st->bytes;
    return nal;
}

int wk_rule_scratch_flush(struct wk_rule_scratch *sc, wk_alert_cb cb, void *data)
{
    struct corr_state *st = sc->corr;
    int n = 0;
    for (struct cgroup *g = st->tail; g; g = g->lprev) {
        const struct sg_corr *c = &sc->rs->rules.v[g->corr]->corr;
        if (!closing_kind(c))
            continue;
        int rc = close_window(sc, g, cb, data);
        if (rc < 0)
            return rc;
        n += rc;
    }
    return n;
}

/* ---- persistence ------------------------------------------------------------------------------ */
static const char *rule_ident(const struct sg_rule *r)
{
    return r->id ? r->id : r->name ? r->name : r->title;
}

int wk_rule_scratch_save(const struct wk_rule_scratch *sc, char **out, size_t *len)
{
    const struct corr_state *st = sc->corr;
    json_t *root = json_object(), *groups = json_array();
    if (!root || !groups) {
        json_decref(root);
        json_decref(groups);
        return -ENOMEM;
    }
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "max_ts", json_integer(st->max_ts));
    json_object_set_new(root, "groups", groups);
    /* oldest first, so a restore rebuilds the same LRU order */
    for (const struct cgroup *g = st->tail; g; g = g->lprev) {
        const struct sg_rule *r = sc->rs->rules.v[g->corr];
        json_t *jg = json_object(), *je = json_array();
        json_object_set_new(jg, "corr", json_string(rule_ident(r)));
        json_object_set_new(jg, "key", json_string(g->key));
        json_object_set_new(jg, "first_ts", json_integer(g->first_ts));
        for (size_t i = 0; i < g->n; i++) {
            const struct centry *e = &g->e[i];
            json_array_append_new(
                je, json_pack("[I,I,s,s?,f]", (json_int_t)e->ts, (json_int_t)e->ref,
                              rule_ident(sc->rs->rules.v[e->rule]), e->val, e->num));
        }
        json_object_set_new(jg, "entries", je);
        json_array_append_new(groups, jg);
    }
    *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!*out)
        return -ENOMEM;
    if (len)
        *len = strlen(*out);
    return 0;
}

static int find_ident(const struct wk_ruleset *rs, const char *id)
{
    for (size_t i = 0; i < rs->rules.n; i++)
        if (!strcmp(rule_ident(rs->rules.v[i]), id))
            return (int)i;
    return -1;
}

int wk_rule_scratch_restore(struct wk_rule_scratch *sc, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    json_t *groups = root ? json_object_get(root, "groups") : NULL;
    if (!json_is_array(groups)) {
        json_decref(root);
        return WK_EPARSE;
    }
    struct corr_state *st = sc->corr;
    json_int_t mt = json_integer_value(json_object_get(root, "max_ts"));
    if (mt > st->max_ts)
        st->max_ts = mt;
    size_t i;
    json_t *jg;
    int rc = 0;
    json_array_foreach(groups, i, jg) {
        const char *corr = json_string_value(json_object_get(jg, "corr"));
        const char *key = json_string_value(json_object_get(jg, "key"));
        int ci = corr ? find_ident(sc->rs, corr) : -1;
        if (ci < 0 || !key || !sc->rs->rules.v[ci]->is_corr)
            continue; /* the correlation is gone from the new ruleset */
        const struct sg_corr *c = &sc->rs->rules.v[ci]->corr;
        struct cgroup *g = group_get(st, (uint32_t)ci, key, true);
        if (!g) {
            rc = -ENOMEM;
            break;
        }
        g->first_ts = json_integer_value(json_object_get(jg, "first_ts"));
        size_t k;
        json_t *je;
        json_array_foreach(json_object_get(jg, "entries"), k, je) {
            json_int_t ts = 0, ref = 0;
            const char *rid = NULL, *val = NULL;
            json_t *jv = NULL;
            double num = 0;
            if (json_unpack(je, "[I,I,s,o,F]", &ts, &ref, &rid, &jv, &num) < 0)
                continue;
            val = json_string_value(jv); /* NULL for null */
            int ri = find_ident(sc->rs, rid);
            uint32_t pos = 0;
            while (ri >= 0 && pos < c->rules.n && c->rules.v[pos] != (uint32_t)ri)
                pos++;
            if (ri < 0 || pos == c->rules.n)
                continue;
            if (wk__sg_grow((void **)&g->e, &g->cap, g->n + 1, sizeof(*g->e)) < 0) {
                rc = -ENOMEM;
                break;
            }
            struct centry e = { ts, (uint64_t)ref, (uint32_t)ri, pos, val ? strdup(val) : NULL,
                                num };
            g->e[g->n++] = e;
            size_t b = sizeof(e) + (e.val ? strlen(e.val) + 1 : 0);
            g->bytes += b;
            st->bytes += b;
            if (ts > g->last_ts)
                g->last_ts = ts;
        }
    }
    sc->st.corr_groups = st->ngroups;
    sc->st.corr_bytes = st->bytes;
    json_decref(root);
    return rc;
}
