/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal representation shared by the Sigma loader (sigma_load.c), the compiler
 * (compile.c), the evaluator (engine.c), correlations (correlate.c) and alerts (alert.c).
 * The loader fills plain data (strings, modifier lists, a condition tree) with source
 * positions; compile.c turns values into matchers; the result is an immutable ruleset.
 */
#ifndef WK_SIGMA_PRIVATE_H
#define WK_SIGMA_PRIVATE_H

#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "watchkeeper/event.h"
#include "watchkeeper/rule.h"

/* ---- growable arrays ---------------------------------------------------------------- */
#define SG_VEC(T)                                                                        \
    struct {                                                                             \
        T *v;                                                                            \
        size_t n, cap;                                                                   \
    }
int wk__sg_grow(void **v, size_t *cap, size_t need, size_t elsize);
#define SG_PUSH(vec, val)                                                                \
    (wk__sg_grow((void **)&(vec).v, &(vec).cap, (vec).n + 1, sizeof(*(vec).v)) < 0      \
         ? -ENOMEM                                                                       \
         : ((vec).v[(vec).n++] = (val), 0))

/* ---- value modifiers ------------------------------------------------------------------ */
enum sg_mod {
    SG_M_CONTAINS, SG_M_STARTSWITH, SG_M_ENDSWITH, SG_M_ALL, SG_M_RE, SG_M_RE_I, SG_M_RE_M,
    SG_M_RE_S, SG_M_CIDR, SG_M_BASE64, SG_M_BASE64OFFSET, SG_M_UTF16LE, SG_M_UTF16BE,
    SG_M_UTF16, SG_M_WINDASH, SG_M_EXISTS, SG_M_GT, SG_M_GTE, SG_M_LT, SG_M_LTE,
    SG_M_FIELDREF, SG_M_CASED, SG_M_EXPAND, SG_M_NEQ,
    /* time parts (2.1), in enum sg_tpart order */
    SG_M_MINUTE, SG_M_HOUR, SG_M_DAY, SG_M_WEEK, SG_M_MONTH, SG_M_YEAR,
};
/* The part of a timestamp a time modifier extracts (UTC; week = ISO 8601). */
enum sg_tpart { SG_T_MINUTE, SG_T_HOUR, SG_T_DAY, SG_T_WEEK, SG_T_MONTH, SG_T_YEAR };

/* ---- matchers (compile.c) -------------------------------------------------------------- */
enum sg_mkind {
    SG_MK_EQ,       /* literal equality */
    SG_MK_PREFIX,   /* literal prefix */
    SG_MK_SUFFIX,   /* literal suffix */
    SG_MK_CONTAINS, /* literal substring */
    SG_MK_GLOB,     /* wildcard pattern (tokens) */
    SG_MK_RE,       /* pcre2 */
    SG_MK_CIDR,
    SG_MK_NUM,      /* gt/gte/lt/lte */
    SG_MK_EXISTS,   /* presence test (value = want) */
    SG_MK_NULL,     /* absent or null */
    SG_MK_FIELDREF, /* compare with another field (lit = mode: EQ/PREFIX/SUFFIX/CONTAINS) */
    SG_MK_TIME,     /* time part (tpart) of an RFC 3339 value compared (numop, 4 = eq) */
};

enum sg_gtok { SG_G_LIT, SG_G_STAR, SG_G_ONE, SG_G_DASH };
struct sg_gtok_s {
    uint8_t kind;
    uint32_t len; /* LIT */
    char *s;      /* LIT (folded unless cased) */
};

struct sg_matcher {
    uint8_t kind;   /* enum sg_mkind */
    bool cased;     /* case-sensitive literal/glob */
    uint8_t numop;  /* NUM, TIME: 0 gt 1 gte 2 lt 3 lte (TIME: 4 eq); FIELDREF: sub kind */
    bool want;      /* EXISTS; TIME: the field is `@timestamp`, the event's own time */
    uint8_t tpart;  /* TIME: enum sg_tpart */
    uint16_t group; /* `all`: every group needs one matching matcher */
    char *lit;      /* literal (folded to lower case unless cased) */
    size_t len;
    struct sg_gtok_s *toks; /* GLOB */
    size_t ntoks;
    pcre2_code *re;    /* RE */
    uint32_t re_idx;   /* index of the match data slot in the scratch */
    char **relit;      /* RE: literals one of which every match contains (folded), or none */
    size_t nrelit;
    bool re_local;     /* RE: whether a match depends only on the matched text (no anchor,
                        * assertion, atomic group, possessive quantifier, verb, \X): then
                        * a value that matches makes any text containing it match too */
    uint8_t ip[16], plen, family; /* CIDR */
    double num;                   /* NUM */
    struct wk_key ref;            /* FIELDREF */
    uint32_t refkid;              /* FIELDREF: ref's id in the ruleset's key table */
    char *refname;
    uint32_t kw_id; /* keyword CONTAINS literal: 1 + its id in rs->kwdb, or
                     * rs->nkw_long + 1 + its id in rs->kwdb2 (0: none) */
};

/* A map entry (field|mods: values) or a keyword item (no field). */
struct sg_item {
    char *field; /* NULL: keyword search */
    struct wk_key key;
    uint32_t kid; /* key's id in the ruleset's key table (wk_ruleset.nkeys) */
    bool all;    /* values linked with AND (by group) */
    bool neg;    /* neq: the item is negated */
    uint16_t ngroups;
    SG_VEC(struct sg_matcher) m;
    unsigned line, col;
};

/* A search identifier: OR of alternatives, each an AND of items. */
struct sg_alt {
    SG_VEC(struct sg_item) items;
};
struct sg_sel {
    char *name;
    SG_VEC(struct sg_alt) alts;
    unsigned line, col;
};

enum sg_cop { SG_C_SEL, SG_C_AND, SG_C_OR, SG_C_NOT, SG_C_TRUE, SG_C_FALSE };
struct sg_cond {
    uint8_t op;
    uint32_t sel;           /* SEL */
    struct sg_cond **kids;  /* AND/OR/NOT */
    size_t nkids;
};

/* ---- rules ---------------------------------------------------------------------------- */
enum sg_ctype { SG_CT_EVENT_COUNT, SG_CT_VALUE_COUNT, SG_CT_TEMPORAL, SG_CT_TEMPORAL_ORDERED,
                SG_CT_VALUE_SUM, SG_CT_VALUE_AVG };

struct sg_alias {
    char *name;
    SG_VEC(char *) rule_refs; /* rule id/name, parallel with fields */
    SG_VEC(char *) fields;
};

struct sg_corr {
    uint8_t type;
    SG_VEC(char *) refs;       /* as written */
    SG_VEC(uint32_t) rules;    /* resolved rule indexes */
    SG_VEC(char *) group_by;
    SG_VEC(struct sg_alias) aliases;
    int64_t timespan_ns;
    bool has_lo, has_hi, lo_incl, hi_incl, eq;
    double lo, hi; /* count (or value) bounds */
    bool default_cond;
    char *field; /* value_count/value_sum/value_avg */
    bool generate;
    /* per referenced rule (parallel with rules): keys to read the group-by fields */
    struct wk_key *gkeys; /* rules.n * group_by.n */
    struct wk_key fkey;
};

struct sg_rule {
    /* metadata */
    char *file;
    unsigned line;
    char *title, *id, *name, *status, *level, *description, *author, *license, *date;
    SG_VEC(char *) tags;
    SG_VEC(char *) references;
    SG_VEC(char *) falsepositives;
    SG_VEC(char *) fields;
    char *ls_product, *ls_service, *ls_category;
    /* detection */
    SG_VEC(struct sg_sel) sels;
    struct sg_cond *cond;
    /* correlation (when is_corr) */
    bool is_corr;
    struct sg_corr corr;
    /* meta filter (a `filter` document): never evaluated alone; a detection rule it applies
     * to matches only when the filter's condition does not (rule and not filter) */
    bool is_filter;
    bool filter_any;          /* rules: any / all / [] (pySigma): every rule of its logsource */
    SG_VEC(char *) filter_refs; /* rule ids or names */
    SG_VEC(uint32_t) filters; /* detection rule: indexes in rs->filters applied to it */
    /* compiled facts */
    bool suppressed;        /* referenced by a correlation without generate */
    bool has_factor;        /* prefilter: only evaluated when one of its literals is seen */
    bool factor_kw;         /* and some of them are keyword literals (rs->kwowner) */
    SG_VEC(uint32_t) feeds; /* correlation rules this rule feeds */
    struct wk_rule_info info;
    char *attack_json;
    char *rule_json; /* the alert's "rule" object, written once (wk__alert_rule_json) */
    size_t rule_json_len;
};

/* The rules of a dispatch pass (a bucket's, or a logsource's unindexed ones) as the
 * evaluator takes them (wk__sg_prefilter_index): those always tried, ascending, and the
 * set of those tried only when the prefilter marks them (NULL: none). */
struct sg_rlist {
    SG_VEC(uint32_t) plain;
    uint64_t *facbits; /* rule indexes, (rules.n + 63) / 64 words */
    bool has_kw;       /* some of them by a keyword factor: the record's keyword scan */
};

struct sg_bucket {
    char *val; /* folded */
    size_t len;
    uint32_t hash;
    SG_VEC(uint32_t) rules;
    SG_VEC(uint32_t) pfs; /* prefilter fields (ls->pf indexes) its rules and ls->any use */
    /* per rule of `rules`: 1 when it is only tried in a record where the prefilter saw one
     * of its literals: its own factor (has_factor) or one given this value of the dispatch
     * field (a branch requiring another value cannot match here, so it needs no literal);
     * 2 when some of those literals are keywords (the record's keyword scan marks them);
     * empty without the prefilter */
    SG_VEC(uint8_t) fac;
    uint64_t *pfkids; /* the key ids of pfs as a set (wk_ruleset.kwords words) */
    struct sg_rlist rl;
};

/* sg_pfield.anchor: where a literal must be in the value for its matcher to match */
enum sg_pfanchor {
    SG_PF_IN,    /* anywhere (contains, a wildcard's or a regex's literal): Hyperscan */
    SG_PF_EQ,    /* the whole value (case-insensitively) */
    SG_PF_START, /* at its start */
    SG_PF_END,   /* at its end */
};
/* Anchored literals are looked up by a value's first (EQ, START) or last (END) two bytes,
 * folded, in SG_PF_HB buckets. */
#define SG_PF_HB 32u
struct sg_alit {
    uint16_t head;  /* the folded first (EQ, START) or last (END) two bytes, little-endian;
                     * a one-byte EQ literal: that byte */
    uint8_t kind;   /* enum sg_pfanchor */
    uint32_t len;
    const char *lit; /* folded (sg_pfield.lits) */
    uint32_t owner;
};

/* Prefilter: literal factors of one field, one multi-literal database (Hyperscan). */
struct sg_pfield {
    char *field;
    struct wk_key key;
    uint32_t kid;            /* key's id in the ruleset's key table */
    uint32_t minlen;         /* the shortest literal's length: a shorter value holds none */
    /* the first two bytes of every literal in either case (ASCII letters), as bits of a
     * 65536-bit set indexed by the two bytes as a little-endian 16-bit word: a short value
     * without one of them holds no literal and is not scanned; NULL when a literal is
     * shorter than 2 bytes */
    uint64_t *bigrams;
    SG_VEC(char *) lits;     /* folded literals */
    SG_VEC(uint32_t) owner;  /* literal i belongs to rule owner.v[i] */
    SG_VEC(uint8_t) anchor;  /* literal i's enum sg_pfanchor */
    /* the SG_PF_IN literals: minlen and bigrams above are theirs, and Hyperscan's id k is
     * literal inlit[k] (db NULL: none) */
    void *db;                /* hs_database_t */
    uint32_t *inlit;
    /* the anchored literals: alit[aidx[0][b] .. aidx[0][b + 1]) those at the start (EQ,
     * START) whose head is in bucket b, alit[aidx[1][b] .. aidx[1][b + 1]) at the end */
    struct sg_alit *alit;
    uint32_t aidx[2][SG_PF_HB + 1];
};

/* A logsource mapping (rules/logsources.yaml). */
struct sg_lsmatch {
    char *field;
    struct wk_key key;
    uint32_t kid; /* key's id in the ruleset's key table */
    SG_VEC(char *) values; /* lower case; empty: field must exist */
};
struct sg_fieldmap {
    char *from, *to;
};
struct sg_logsource {
    char *product, *service, *category;
    SG_VEC(struct sg_lsmatch) match;
    SG_VEC(struct sg_fieldmap) fields;
    bool per_record;
    char *keyword_join_type; /* record type whose argv is joined for keywords (EXECVE) */
    SG_VEC(uint32_t) rules;  /* detection rules evaluated for this logsource */
    /* index: rules that require dispatch field == one of some literal values are only
     * tried when the event (record) carries one of them; the others always */
    char *dispatch;
    struct wk_key dkey;
    uint32_t dkid; /* dkey's id in the ruleset's key table */
    SG_VEC(struct sg_bucket) buckets;
    SG_VEC(uint32_t) any;
    SG_VEC(uint8_t) any_fac; /* per rule of `any` (dispatch) or `rules` (none): has_factor
                              * (empty without the prefilter) */
    SG_VEC(struct sg_pfield) pf; /* prefilter fields (empty without Hyperscan) */
    SG_VEC(uint32_t) pf_any;     /* the pf indexes of ls->any (of every rule without dispatch):
                                  * those scanned for an event (record) in no bucket */
    uint64_t *pf_anykids;        /* their key ids as a set (wk_ruleset.kwords words) */
    struct sg_rlist any_rl;      /* ls->any (dispatch) or ls->rules (none) as a pass */
    uint32_t *pf_of_kid;         /* per key id: its pf index, or UINT32_MAX (NULL: no pf) */
};

struct sg_placeholder {
    char *name;
    SG_VEC(char *) values;
};

struct wk_rule_loader {
    SG_VEC(struct sg_rule *) rules;
    SG_VEC(struct sg_logsource) ls;
    SG_VEC(struct sg_placeholder) ph;
    SG_VEC(struct wk_rule_reject) rejects;
    bool ls_loaded;
    bool no_prefilter;
    size_t nfiles;
};

struct wk_ruleset {
    int refs; /* atomic */
    SG_VEC(struct sg_rule *) rules;
    SG_VEC(struct sg_rule *) filters; /* meta filters (sg_rule.is_filter) */
    SG_VEC(struct sg_logsource) ls;
    uint32_t nre; /* regex matchers: one match-data slot each in a scratch */
    uint32_t ncorr;
    size_t nitems, nmatchers;
    bool prefilter; /* Hyperscan databases built */
    /* block prefilter (hunt): the literals one of which every event matching any detection
     * rule contains verbatim in its stored record bytes; NULL when not provable */
    void *rawdb;    /* hs_database_t */
    size_t nrawlits;
    /* per raw literal: the re_local regex matcher it was taken from (its field item's),
     * which the stored record must then match too, or NULL */
    const struct sg_matcher **rawre;
    /* keyword prefilter: every keyword (field-less) CONTAINS literal of every rule and
     * filter, scanned once over a record's keyword haystacks (sg_matcher.kw_id) */
    void *kwdb;     /* hs_database_t: keyword literals 1..nkw_long (prefilter.c build_kw) */
    void *kwdb2;    /* hs_database_t: the shorter ones, nkw_long + 1..nkw */
    uint32_t nkw, nkw_long;
    /* per kwdb literal (id - 1): the rule whose prefilter factor holds it, which the
     * record's keyword scan then marks as a candidate, or UINT32_MAX */
    uint32_t *kwowner;
    /* every field name the evaluator looks up (items, field references, dispatch and
     * prefilter fields, logsource matches) has an id < nkeys (wk__sg_intern_keys): a
     * scratch remembers each name's value per record and per event (engine_private.h) */
    uint32_t nkeys;
    uint32_t kwords; /* words of a set of key ids: (nkeys + 63) / 64 */
    /* logsource selection (wk__sg_prefilter_index): with at most 64 logsources, those with
     * rules whose first match entry names values are grouped by (field, value); an event
     * then meets the logsources of the group its value is in and those in lsalways, and
     * lsone marks those whose one match entry the group settles. nlsg 0: every logsource
     * is checked (ls_applies). */
    struct sg_lsgroup {
        uint32_t kid;
        uint32_t len;
        const struct wk_key *key;
        const char *val; /* lower case (sg_lsmatch.values) */
        uint64_t ls;
    } *lsg;
    size_t nlsg;
    uint64_t lsalways, lsone;
    /* the same names as an open-addressing table by wk_key hash (kmask + 1 slots, name
     * NULL: empty), and by hash bucket (h ^ h >> 16) & 4095 in kb: 0 none of them, 255
     * several (or an id above 253: the table then), else 1 + the one's id (kbykid): the
     * evaluator's one pass over an event's fields finds which of them it has */
    struct sg_kslot {
        const char *name;
        uint32_t hash, len, kid;
    } *kslots, *kbykid;
    uint32_t kmask;
    uint8_t kb[4096];
};

/* loader helpers (sigma_load.c) */
void wk__sg_rule_free(struct sg_rule *r);
void wk__sg_logsource_fini(struct sg_logsource *ls);
/* compile.c: build the matchers of one item from its raw values. */
struct sg_rawval {
    char *s; /* NULL: YAML null */
    size_t len;
    bool plain; /* unquoted YAML scalar */
};
int wk__sg_item_compile(struct wk_rule_loader *l, struct sg_item *it, const enum sg_mod *mods,
                        size_t nmods, const struct sg_rawval *vals, size_t nvals, char *err,
                        size_t errlen);
void wk__sg_item_fini(struct sg_item *it);
void wk__sg_cond_free(struct sg_cond *c);
/* engine.c */
bool wk__sg_matcher_text(const struct sg_matcher *m, const char *s, size_t len,
                         struct wk_rule_scratch *sc);
/* FNV-1a of the case-folded bytes (the dispatch index; matches fnv of folded literals) */
uint32_t wk__sg_hash_fold(const char *s, size_t n);
/* re_factor.c: literals one of which every match of the regex contains (folded, malloc'd;
 * *n = 0: none known). @return 0 or -ENOMEM. */
int wk__sg_re_factors(const char *pat, size_t len, bool caseless, char ***lits, size_t *n);
/* re_factor.c: whether regex pat matches by its matched text alone (sg_matcher.re_local);
 * conservative (false for anything it cannot rule out). */
bool wk__sg_re_local(const char *pat, size_t len);
/* prefilter.c */
int wk__sg_prefilter_build(struct wk_ruleset *rs);
/* prefilter.c: the prefilter fields by key id (after wk__sg_intern_keys). @return 0, -ENOMEM */
int wk__sg_prefilter_index(struct wk_ruleset *rs);
/* compile.c: give every key the evaluator looks up its id (rs->nkeys). @return 0, -ENOMEM */
int wk__sg_intern_keys(struct wk_ruleset *rs);
/* a[0..n) == b[0..n) for the short names of fields, without a call */
static inline bool wk__sg_name_eq(const char *a, const char *b, uint32_t n)
{
    uint64_t x, y;
    if (n >= 8) {
        for (; n > 8; a += 8, b += 8, n -= 8) {
            memcpy(&x, a, 8), memcpy(&y, b, 8);
            if (x != y)
                return false;
        }
        memcpy(&x, a + n - 8, 8), memcpy(&y, b + n - 8, 8); /* the last 8, overlapping */
        return x == y;
    }
    uint32_t p, q, r, t;
    if (n >= 4) { /* the first 4 and the last 4 */
        memcpy(&p, a, 4), memcpy(&q, b, 4), memcpy(&r, a + n - 4, 4), memcpy(&t, b + n - 4, 4);
        return p == q && r == t;
    }
    uint16_t c, d, e, f;
    if (n >= 2) {
        memcpy(&c, a, 2), memcpy(&d, b, 2), memcpy(&e, a + n - 2, 2), memcpy(&f, b + n - 2, 2);
        return c == d && e == f;
    }
    return n == 0 || *a == *b;
}

/* The id of a field name that is in rs's key table, or UINT32_MAX. */
static inline uint32_t wk__sg_key_id(const struct wk_ruleset *rs, uint32_t h, const char *name,
                                     uint32_t len)
{
    const unsigned t = rs->kb[(h ^ (h >> 16)) & 4095u];
    if (!t)
        return UINT32_MAX;
    if (t != 255) { /* the one name of its bucket */
        const struct sg_kslot *k = &rs->kbykid[t - 1];
        return k->hash == h && k->len == len && wk__sg_name_eq(k->name, name, len) ? k->kid
                                                                                  : UINT32_MAX;
    }
    for (uint32_t p = h & rs->kmask; rs->kslots[p].name; p = (p + 1) & rs->kmask) {
        const struct sg_kslot *k = &rs->kslots[p];
        if (k->hash == h && k->len == len && wk__sg_name_eq(k->name, name, len))
            return k->kid;
    }
    return UINT32_MAX;
}
/* alert.c: the "rule" object of an alert of this rule, as wk_alert_to_json writes it
 * (malloc'd text). @return 0, -ENOMEM. */
int wk__alert_rule_json(const struct wk_rule_info *in, const char *attack, char **out,
                        size_t *len);
void wk__sg_prefilter_free_raw(struct wk_ruleset *rs);
void wk__sg_prefilter_fini(struct sg_logsource *ls);
/* compile `re` without pcre2 JIT (benchmark of JIT vs interpreter only) */
extern bool wk__sg_no_jit;
/* evaluate on the plain path: every lookup by wk_event_get_ctx / wk_event_get, every
 * prefilter value scanned, whatever its length (tests of the fast paths only) */
extern bool wk__sg_plain_lookups;
/* case folding */
extern const unsigned char wk__sg_fold[256];

#endif /* WK_SIGMA_PRIVATE_H */
