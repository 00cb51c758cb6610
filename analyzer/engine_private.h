/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-worker scratch shared by engine.c (detection) and correlate.c (windows): pcre2
 * match data, small buffers, the per-event "already fired" marks and correlation state.
 */
#ifndef WK_ENGINE_PRIVATE_H
#define WK_ENGINE_PRIVATE_H

#include "sigma_private.h"

struct corr_state;

/* One remembered lookup: the value (NULL: absent) of a key id, valid while gen is the
 * scratch's current generation for it. */
struct wk__kmemo {
    uint64_t gen;
    const struct wk_value *v;
};

struct wk_rule_scratch {
    struct wk_ruleset *rs;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    char num[64];
    /* keyword haystack: argv of the current record joined by spaces */
    char *argv;
    size_t argv_len, argv_cap;
    unsigned argv_rec, argv_n;
    uint64_t argv_gen;
    uint64_t gen;       /* event generation */
    uint64_t *fired;    /* per rule: generation of the last event it matched */
    struct wk_corr_opts copts;
    struct corr_state *corr;
    struct wk_rule_stats st;
    uint64_t *cand;  /* prefilter: per rule, the record generation its literal was seen */
    uint64_t cgen;
    uint32_t *clist; /* the rules marked under cgen (ncl of them, each once) */
    uint32_t ncl;
    uint32_t *rlist; /* engine.c: the rules a pass of a record tries (rules.n + 1 room) */
    void *hs;        /* hs_scratch_t */
    /* keyword prefilter: the record (gen, rec, logsource) whose haystacks were scanned,
     * and per keyword literal the kwcgen it was last seen at */
    uint64_t *kwseen;
    uint64_t kwcgen, kw_gen;
    unsigned kw_rec;
    size_t kwlen;  /* the scanned haystacks' length in kwbuf */
    bool kw2;      /* and they were scanned with rs->kwdb2 too */
    const void *kw_ls;
    char *kwbuf;
    size_t kwcap;
    /* lookups by key id (wk_ruleset.nkeys). mev: event-level values, stamped with gen
     * (looked up once per event, or all set by one pass over the event's fields: then
     * evfull == gen and an id without a stamp is absent). mrec: the values of the record
     * being evaluated, stamped with mgen (bumped for each record a per-record logsource
     * visits, then set from recf); an id without a stamp falls back to the event level. */
    struct wk__kmemo *mev, *mrec;
    uint64_t mgen, evfull;
    /* the key ids with a value at event level (set with evfull) and in the record under
     * mgen, as sets of wk_ruleset.kwords words: the prefilter scans the fields in both */
    uint64_t *evbits, *recbits;
    /* the pass's record fields with a key id: (id, record, value), in field order */
    struct wk__recf {
        uint32_t kid, rec;
        const struct wk_value *v;
    } *recf;
    size_t nrecf, recfcap;
    /* hunt: detection runs in parallel workers; correlation feeds are deferred and replayed
     * in store order by one thread (hunt.c), which keeps the results identical to live */
    int (*defer)(void *arg, uint32_t corr, uint32_t rule, const struct wk_event *ev,
                 unsigned rec, uint64_t ref);
    void *defer_arg;
};

/* A new record generation of the prefilter's candidate marks. */
static inline void wk__sg_cand_reset(struct wk_rule_scratch *sc)
{
    sc->cgen++;
    sc->ncl = 0;
}

/* The prefilter saw a literal of rule ri's factor: a candidate for this record. */
static inline void wk__sg_mark(struct wk_rule_scratch *sc, uint32_t ri)
{
    if (sc->cand[ri] != sc->cgen) {
        sc->cand[ri] = sc->cgen;
        sc->clist[sc->ncl++] = ri;
    }
}

/* The event-level field k (key id kid), looked up once per event. */
static inline const struct wk_value *wk__sg_get_ev(struct wk_rule_scratch *sc,
                                                   const struct wk_event *ev,
                                                   const struct wk_key *k, uint32_t kid)
{
    struct wk__kmemo *m = &sc->mev[kid];
    if (m->gen != sc->gen) {
        if (sc->evfull == sc->gen)
            return NULL;
        m->gen = sc->gen;
        m->v = wk_event_get(ev, 0, k);
    }
    return m->v;
}

/* wk_event_get_ctx(ev, rec, k) for the record under sc->mgen (engine.c rec_begin set its
 * fields): the record's value, else the event level's. */
static inline const struct wk_value *wk__sg_get_rec(struct wk_rule_scratch *sc,
                                                    const struct wk_event *ev, unsigned rec,
                                                    const struct wk_key *k, uint32_t kid)
{
    (void)rec;
    const struct wk__kmemo *m = &sc->mrec[kid];
    return m->gen == sc->mgen ? m->v : wk__sg_get_ev(sc, ev, k, kid);
}

/* The evaluator's lookup: per record (rec >= 1, under sc->mgen) or at event level. */
static inline const struct wk_value *wk__sg_lookup(struct wk_rule_scratch *sc,
                                                   const struct wk_event *ev, unsigned rec,
                                                   bool per_record, const struct wk_key *k,
                                                   uint32_t kid)
{
    if (__builtin_expect(wk__sg_plain_lookups, 0))
        return per_record ? wk_event_get_ctx(ev, rec, k) : wk_event_get(ev, 0, k);
    return per_record ? wk__sg_get_rec(sc, ev, rec, k, kid) : wk__sg_get_ev(sc, ev, k, kid);
}

/* Literal hits in a buffer (hunt's block prefilter): end offset, literal id. */
struct wk__hit {
    uint32_t end, id;
};
struct wk__offs {
    struct wk__hit *v;
    size_t n, cap;
};

/* correlate.c */
int wk__corr_new(struct wk_rule_scratch *sc);
void wk__corr_free(struct wk_rule_scratch *sc);
/* A detection (or correlation) rule `rule` matched ev (record rec): feed correlation ci. */
int wk__corr_feed(struct wk_rule_scratch *sc, uint32_t ci, uint32_t rule,
                  const struct wk_event *ev, unsigned rec, uint64_t ref, wk_alert_cb cb,
                  void *data);
/* prefilter.c: mark the candidate rules of (ls, ev, rec) in sc->cand under a new cgen,
 * scanning the prefilter fields ls->pf.v[pfs[0..npfs)] */
int wk__sg_prefilter_scan(struct wk_rule_scratch *sc, const struct sg_logsource *ls,
                          const uint32_t *pfs, size_t npfs, const struct wk_event *ev,
                          unsigned rec, bool per_record);
/* prefilter.c: the same for a record of a per-record logsource after fields_pass and
 * rec_begin (sc->evbits, sc->recbits), scanning the fields of the key ids in kids (the
 * bucket's pfkids or ls->pf_anykids) that the record or the event has */
void wk__sg_prefilter_scan_rec(struct wk_rule_scratch *sc, const struct sg_logsource *ls,
                               const uint64_t *kids, const struct wk_event *ev, unsigned rec);
int wk__sg_prefilter_scratch(struct wk_rule_scratch *sc);
/* prefilter.c: the hits (by ascending end offset) of every block-prefilter literal in
 * p[0..len) into hits (reset first); needs sc->rs->rawdb. @return 0, -ENOMEM, -EINVAL. */
int wk__sg_prefilter_raw_scan(struct wk_rule_scratch *sc, const uint8_t *p, size_t len,
                              struct wk__offs *hits);
/* prefilter.c: whether the stored record rec[0..len), in which the n hits h lie, can hold
 * an event some rule matches: false only when every hit's literal comes from a regex that
 * looks only at what it matches (rs->rawre) and none of them matches the record. */
bool wk__sg_prefilter_raw_keep(struct wk_rule_scratch *sc, const uint8_t *rec, size_t len,
                               const struct wk__hit *h, size_t n);
void wk__sg_prefilter_scratch_free(struct wk_rule_scratch *sc);
/* prefilter.c: mark in sc->kwseen (under a new kwcgen) every keyword literal of rs->kwdb
 * that occurs in p[0..len) (the record's keyword haystacks joined by NUL bytes, which no
 * literal of kwdb contains). */
void wk__sg_prefilter_kw_scan(struct wk_rule_scratch *sc, const char *p, size_t len);
/* prefilter.c: likewise for the short literals of rs->kwdb2, under the current kwcgen (the
 * same haystacks, after wk__sg_prefilter_kw_scan). */
void wk__sg_prefilter_kw_scan2(struct wk_rule_scratch *sc, const char *p, size_t len);
/* engine.c: emit an alert through cb, counting it. */
int wk__engine_emit(struct wk_rule_scratch *sc, const struct wk_alert *a, wk_alert_cb cb,
                    void *data);

#endif /* WK_ENGINE_PRIVATE_H */
