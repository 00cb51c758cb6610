/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Readers: a read transaction plus decompression scratch. Candidate blocks come from the
 * time index (keys are the running maximum timestamp, so a range starts with one seek and
 * ends early) and the per-block container/term summaries; only candidates are
 * decompressed, then every event is checked exactly against the filter.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rebuild_private.h"
#include "store_private.h"
#include "watchkeeper/error.h"

/* Strings a filter wants, searched in a block's bytes before decoding (ts_out); and, for
 * format 2, the fields it needs, checked once per shape of the block. */
#define PF_MAX 8
#define PF_SHAPES 1024 /* shape verdicts kept per block; later shapes are checked each time */
struct prefilter {
    size_t n;
    struct {
        const char *s;
        size_t len;
        const uint8_t *next; /* next occurrence at or after the last record, NULL: none */
        bool valid;          /* next is known for this block */
    } k[PF_MAX];
    bool shapes;                  /* the filter needs fields: rule records out by shape */
    const char *names[PF_MAX + 3]; /* those fields: event.module, container.id/.name, terms */
    size_t lens[PF_MAX + 3], nnames;
    uint64_t need;                /* names each required (a bit each) */
    uint64_t seen, kept;          /* records met / left by the shapes (whole query) */
    uint8_t verdict[PF_SHAPES];   /* per shape id: 0 not known yet, 1 may match, 2 cannot */
    struct pf_memo *memo;         /* iterator: verdicts by shape descriptor, across blocks */
};

/* The same shapes recur in every block under other ids: an iterator remembers the verdict
 * of each descriptor it met (by a hash of its bytes, then compared), PF_MEMO of them. */
#define PF_MEMO 512
struct pf_memo {
    uint64_t h;
    uint8_t *desc;
    size_t len;
    uint8_t verdict;
};

static void pf_fini(struct prefilter *pf)
{
    for (size_t i = 0; pf->memo && i < PF_MEMO; i++)
        free(pf->memo[i].desc);
    free(pf->memo);
    pf->memo = NULL;
}

struct wk_store_reader {
    struct wk_store *st;
    MDB_txn *txn;
    ZSTD_DCtx *dctx;
    struct wk__buf raw;
    uint64_t raw_key; /* key of the value held in raw, 0: none */
    uint64_t view_id; /* block the view is open on, 0: none */
    struct wk__blkview view; /* over raw */
    struct wk_event *ev;
    int64_t skew;
};

struct wk_store_iter {
    struct wk_store_reader *r;
    struct wk_store_filter f;
    uint64_t *ids;
    size_t n, i;
    struct wk__buf raw;
    struct wk__blkview view;
    struct prefilter pf;
    uint64_t raw_key;
    uint64_t id;
    uint32_t idx;
    bool in_block;
    struct wk_event *ev;
    /* selective reads of rebuild values (docs/store.md, "Selective reads") */
    struct wk__rbq q;
    struct wk__rbsel *sel; /* NULL: the filter cannot use them */
    struct wk__buf form;   /* the decompressed form of the value at form_key */
    uint64_t form_key;
    bool in_sel;
    /* split blocks (format 5): a filter with a term on a block's split field reads its
     * first frame alone; amap: the block index of each of its records */
    bool split_ok;
    bool use_amap;
    uint32_t *amap;
    size_t camap, namap;
};

static struct wk__dict *dict_find(struct wk_store *st, MDB_txn *txn, uint32_t id)
{
    pthread_mutex_lock(&st->dict_mu);
    struct wk__dict *d = st->dicts;
    while (d && d->id != id)
        d = d->next;
    if (!d) {
        /* "dict:" + u32 BE id; the rebuild form's own: "cdict:" + id (docs/store.md) */
        uint8_t key[10];
        MDB_val k = {0, key}, v;
        k.mv_size = wk__dict_key(key, id);
        if (mdb_get(txn, st->dbi[WK__DB_META], &k, &v) == 0 && (d = wk_new0(struct wk__dict, 1))) {
            d->id = id;
            d->ddict = ZSTD_createDDict(v.mv_data, v.mv_size);
            if (!d->ddict) {
                free(d);
                d = NULL;
            } else {
                d->next = st->dicts;
                st->dicts = d;
            }
        }
    }
    pthread_mutex_unlock(&st->dict_mu);
    return d;
}

static bool record_format(uint8_t f)
{
    return f == WK__BLK_FORMAT || f == WK__BLK_FORMAT2;
}

/* A value of several blocks: merged records (3) or their rebuild form (4). */
static bool merged_format(uint8_t f)
{
    return f == WK__BLK_MERGED || f == WK__BLK_REBUILT;
}

int wk__blkloc_init(uint64_t key, const void *val, size_t vlen, uint32_t member,
                    struct wk__blkloc *loc)
{
    const uint8_t *p = val;
    loc->val = p;
    loc->vlen = vlen;
    loc->key = key;
    loc->member = member;
    if (vlen >= WK__BLK_HDR && (record_format(p[WK__BLK_OFF_FORMAT]) ||
                                p[WK__BLK_OFF_FORMAT] == WK__BLK_SPLIT)) {
        if (member)
            return WK_ECORRUPT;
        loc->hdr = p;
        loc->nmembers = 1;
        loc->off = 0;
        loc->len = wk__get_u32le(p + WK__BLK_OFF_RAW);
        return 0;
    }
    if (vlen < WK__MRG_HDR || !merged_format(p[WK__BLK_OFF_FORMAT]))
        return WK_ECORRUPT;
    uint32_t n = wk__get_u32le(p + WK__MRG_OFF_COUNT);
    if (n == 0 || member >= n || (vlen - WK__MRG_HDR) / WK__BLK_HDR < n)
        return WK_ECORRUPT;
    loc->nmembers = n;
    loc->off = 0;
    for (uint32_t i = 0; i < member; i++)
        loc->off += wk__get_u32le(p + WK__MRG_HDR + (size_t)i * WK__BLK_HDR + WK__BLK_OFF_RAW);
    loc->hdr = p + WK__MRG_HDR + (size_t)member * WK__BLK_HDR;
    if (!record_format(loc->hdr[WK__BLK_OFF_FORMAT]))
        return WK_ECORRUPT;
    loc->len = wk__get_u32le(loc->hdr + WK__BLK_OFF_RAW);
    return 0;
}

int wk__store_block_find(struct wk_store *st, MDB_txn *txn, uint64_t id, struct wk__blkloc *loc)
{
    uint8_t kb[8];
    wk__put_u64be(kb, id);
    MDB_val k = {8, kb}, v;
    int rc = mdb_get(txn, st->dbi[WK__DB_BLOCKS], &k, &v);
    if (rc == 0)
        return wk__blkloc_init(id, v.mv_data, v.mv_size, 0, loc);
    if (rc != MDB_NOTFOUND)
        return wk__mdb_err(rc);
    /* Not a value of its own: a member of the merged value at the greatest key below. */
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(txn, st->dbi[WK__DB_BLOCKS], &c)) != 0)
        return wk__mdb_err(rc);
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    rc = rc == 0 ? mdb_cursor_get(c, &k, &v, MDB_PREV) : mdb_cursor_get(c, &k, &v, MDB_LAST);
    mdb_cursor_close(c);
    if (rc != 0)
        return wk__mdb_err(rc);
    if (k.mv_size != 8)
        return WK_ECORRUPT;
    uint64_t key = wk__get_u64be(k.mv_data);
    const uint8_t *p = v.mv_data;
    if (key > id || v.mv_size < WK__MRG_HDR || !merged_format(p[WK__BLK_OFF_FORMAT]) ||
        id - key >= wk__get_u32le(p + WK__MRG_OFF_COUNT))
        return WK_ENOT_FOUND;
    return wk__blkloc_init(key, v.mv_data, v.mv_size, (uint32_t)(id - key), loc);
}

/* Decompress a rebuild value's form (format 4) into form (reset). */
static int rebuilt_form(struct wk_store *st, MDB_txn *txn, ZSTD_DCtx *dctx, const uint8_t *val,
                        size_t vlen, size_t hl, uint32_t dict, struct wk__buf *form)
{
    form->len = 0;
    unsigned long long fl = ZSTD_getFrameContentSize(val + hl, vlen - hl);
    if (fl == ZSTD_CONTENTSIZE_UNKNOWN || fl == ZSTD_CONTENTSIZE_ERROR || fl > (1ull << 28))
        return WK_ECORRUPT;
    int rc = wk__buf_reserve(form, (size_t)fl + 1);
    if (rc < 0)
        return rc;
    size_t n;
    if (dict) {
        struct wk__dict *d = dict_find(st, txn, dict);
        n = d ? ZSTD_decompress_usingDDict(dctx, form->p, (size_t)fl, val + hl, vlen - hl,
                                           d->ddict)
              : (size_t)-1;
    } else {
        n = ZSTD_decompressDCtx(dctx, form->p, (size_t)fl, val + hl, vlen - hl);
    }
    if (ZSTD_isError(n) || n != fl)
        return WK_ECORRUPT;
    form->len = n;
    return 0;
}

/* A rebuild value (format 4): decompress its form, then reproduce its blocks' records
 * (rebuild.c; each block's size and records hash are checked there). */
static int rebuilt_raw(struct wk_store *st, MDB_txn *txn, ZSTD_DCtx *dctx, const uint8_t *val,
                       size_t vlen, size_t hl, uint32_t dict, uint32_t older, struct wk__buf *out)
{
    struct wk__buf form = {0};
    int rc = rebuilt_form(st, txn, dctx, val, vlen, hl, dict, &form);
    if (rc == 0)
        rc = wk__rebuild_expand(val + WK__MRG_HDR, wk__get_u32le(val + WK__MRG_OFF_COUNT), form.p,
                                form.len, older, out);
    wk__buf_fini(&form);
    return rc;
}

/* A rebuild value's version table follows its member headers (*hl: their end); check it
 * and move *hl past it to the form's frame. Another version is WK_EREBUILD, not damage. */
static int vtab_skip(const uint8_t *val, size_t vlen, size_t *hl, uint32_t *older)
{
    size_t vt = wk__get_u32le(val + WK__MRG_OFF_VTAB);
    if (*hl > vlen || vt > WK__VTAB_MAX || vt > vlen - *hl)
        return WK_ECORRUPT;
    int rc = wk__rebuild_vcheck(val + *hl, vt, older);
    if (rc < 0)
        return rc;
    *hl += vt;
    return 0;
}

int wk__store_block_raw(struct wk_store *st, MDB_txn *txn, ZSTD_DCtx *dctx,
                        const uint8_t *val, size_t vlen, struct wk__buf *out)
{
    size_t hl, raw = 0;
    uint32_t dict;
    if (vlen >= WK__BLK_HDR && val[WK__BLK_OFF_FORMAT] == WK__BLK_SPLIT) {
        dict = wk__get_u32le(val + WK__BLK_OFF_DICT);
        struct wk__dict *d = dict ? dict_find(st, txn, dict) : NULL;
        if (dict && !d)
            return WK_ECORRUPT;
        return wk__split_raw(dctx, d ? d->ddict : NULL, val, vlen, out);
    }
    if (vlen >= WK__BLK_HDR && record_format(val[WK__BLK_OFF_FORMAT])) {
        hl = WK__BLK_HDR;
        raw = wk__get_u32le(val + WK__BLK_OFF_RAW);
        dict = wk__get_u32le(val + WK__BLK_OFF_DICT);
    } else if (vlen >= WK__MRG_HDR && merged_format(val[WK__BLK_OFF_FORMAT])) {
        uint32_t n = wk__get_u32le(val + WK__MRG_OFF_COUNT);
        if (n == 0 || (vlen - WK__MRG_HDR) / WK__BLK_HDR < n)
            return WK_ECORRUPT;
        hl = WK__MRG_HDR + (size_t)n * WK__BLK_HDR;
        for (uint32_t i = 0; i < n; i++)
            raw += wk__get_u32le(val + WK__MRG_HDR + (size_t)i * WK__BLK_HDR + WK__BLK_OFF_RAW);
        dict = wk__get_u32le(val + WK__MRG_OFF_DICT);
    } else {
        return WK_ECORRUPT;
    }
    out->len = 0;
    if (val[WK__BLK_OFF_FORMAT] == WK__BLK_REBUILT) {
        uint32_t older;
        int vrc = vtab_skip(val, vlen, &hl, &older);
        if (vrc < 0)
            return vrc;
        return rebuilt_raw(st, txn, dctx, val, vlen, hl, dict, older, out);
    }
    int rc = wk__buf_reserve(out, raw + 1);
    if (rc < 0)
        return rc;
    size_t n;
    if (dict) {
        struct wk__dict *d = dict_find(st, txn, dict);
        if (!d)
            return WK_ECORRUPT;
        n = ZSTD_decompress_usingDDict(dctx, out->p, raw, val + hl, vlen - hl, d->ddict);
    } else {
        n = ZSTD_decompressDCtx(dctx, out->p, raw, val + hl, vlen - hl);
    }
    if (ZSTD_isError(n) || n != raw)
        return WK_ECORRUPT;
    out->len = n;
    return 0;
}

int wk_store_reader_open(struct wk_store *st, struct wk_store_reader **out)
{
    *out = NULL;
    struct wk_store_reader *r = wk_new0(struct wk_store_reader, 1);
    if (!r)
        return -ENOMEM;
    r->st = st;
    int rc = -ENOMEM;
    if (!(r->dctx = ZSTD_createDCtx()) || wk_event_new(&r->ev) < 0)
        goto fail;
    /* Readers skip the frame's XXH64 content checksum (14% of a hunt's instructions): the
     * records' BLAKE2b in the block header is the integrity check, and verify (its own
     * decompression context) checks both. A damaged frame mostly fails to decode, but a
     * flipped byte in a raw literal run can decode to a wrong byte: the daemon's continuous
     * verify and `verify` catch that (docs/store.md). ZSTD_d_forceIgnoreChecksum is
     * ZSTD_d_experimentalParam3 (zstd >= 1.4.7); an older library refuses it: no harm. */
    (void)ZSTD_DCtx_setParameter(r->dctx, (ZSTD_dParameter)1002 /* forceIgnoreChecksum */, 1);
    if ((rc = wk__store_rdtxn(st, &r->txn)) < 0) {
        r->txn = NULL;
        goto fail;
    }
    MDB_val k = {4, "head"}, v;
    if (mdb_get(r->txn, st->dbi[WK__DB_META], &k, &v) == 0 && v.mv_size >= 56)
        r->skew = (int64_t)wk__get_u64le((uint8_t *)v.mv_data + 48);
    *out = r;
    return 0;
fail:
    wk_store_reader_close(r);
    return rc;
}

struct wk_store_reader *wk_store_reader_close(struct wk_store_reader *r)
{
    if (!r)
        return NULL;
    if (r->txn)
        wk__store_rdtxn_end(r->st, r->txn);
    ZSTD_freeDCtx(r->dctx);
    wk__buf_fini(&r->raw);
    wk__blkview_fini(&r->view);
    wk_event_free(r->ev);
    free(r);
    return NULL;
}

/* ---------------------------------------------------------------------------------- */
/* Filters                                                                             */

static bool is_hex_prefix(const char *s)
{
    size_t n = strlen(s);
    if (n < 4 || n >= 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
            return false;
    }
    return true;
}

static bool sum_has(const MDB_val *v, uint32_t h)
{
    size_t lo = 0, hi = v->mv_size / 4;
    const uint8_t *p = v->mv_data;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint32_t x = wk__get_u32le(p + 4 * mid);
        if (x == h)
            return true;
        if (x < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static bool streq(const char *a, size_t alen, const char *b)
{
    return a && strlen(b) == alen && memcmp(a, b, alen) == 0;
}

static bool term_match(const struct wk_event *ev, const struct wk_store_term *t)
{
    size_t nf = wk_event_nfields(ev), flen = strlen(t->field);
    for (size_t i = 0; i < nf; i++) {
        const struct wk_key *k = wk_event_field_key(ev, i);
        if (k->len != flen || memcmp(k->name, t->field, flen) != 0)
            continue;
        const struct wk_value *v = wk_event_field_value(ev, i);
        char buf[32];
        const char *s;
        size_t len;
        if (v->kind == WK_VAL_STRLIST) {
            for (uint32_t j = 0; j < v->len; j++) {
                if (streq(v->u.items[j].s, v->u.items[j].len, t->value))
                    return true;
            }
        } else if (v->kind == WK_VAL_REAL) {
            char *end;
            double d = strtod(t->value, &end);
            if (*t->value && !*end && d == v->u.r)
                return true;
        } else if (v->kind == WK_VAL_NULL) {
            if (strcmp(t->value, "null") == 0)
                return true;
        } else if (wk__value_text(v, buf, &s, &len) && streq(s, len, t->value)) {
            return true;
        }
    }
    return false;
}

bool wk__store_alt_match(const struct wk_event *ev, const struct wk__rbalt *a)
{
    struct wk_store_term t = {a->field, a->value};
    if (term_match(ev, &t))
        return true;
    size_t nf = wk_event_nfields(ev), flen = strlen(a->field);
    for (size_t i = 0; a->prefix && i < nf; i++) {
        const struct wk_key *k = wk_event_field_key(ev, i);
        const struct wk_value *v = wk_event_field_value(ev, i);
        if (k->len == flen && memcmp(k->name, a->field, flen) == 0 && v->kind == WK_VAL_STR &&
            v->len >= a->vlen && memcmp(v->u.s, a->value, a->vlen) == 0)
            return true;
    }
    return false;
}

static bool event_match(const struct wk_store_filter *f, const struct wk_event *ev)
{
    if (!f)
        return true;
    int64_t ts = wk_event_ts(ev);
    if ((f->since && ts < f->since) || (f->until && ts > f->until))
        return false;
    size_t len;
    if (f->source) {
        const char *m = wk_event_get_str(ev, &WK_KEY_EVENT_MODULE, &len);
        if (!streq(m, len, f->source))
            return false;
    }
    if (f->container) {
        size_t nlen = 0;
        const char *id = wk_event_get_str(ev, &WK_KEY_CONTAINER_ID, &len);
        const char *name = wk_event_get_str(ev, &WK_KEY_CONTAINER_NAME, &nlen);
        size_t cl = strlen(f->container);
        bool ok = streq(id, len, f->container) || streq(name, nlen, f->container) ||
                  (id && is_hex_prefix(f->container) && len >= cl &&
                   memcmp(id, f->container, cl) == 0);
        if (!ok)
            return false;
    }
    for (size_t i = 0; i < f->nterms; i++) {
        if (!term_match(ev, &f->terms[i]))
            return false;
    }
    return !f->pred || f->pred(ev, f->pred_arg);
}

static bool block_candidate(struct wk_store_reader *r, const struct wk_store_filter *f,
                            const uint8_t idb[8])
{
    struct wk_store *st = r->st;
    MDB_val k = {8, (void *)idb}, v;
    if (f->container && !is_hex_prefix(f->container) &&
        mdb_get(r->txn, st->dbi[WK__DB_BY_CONTAINER], &k, &v) == 0) {
        size_t cl = strlen(f->container);
        if (!sum_has(&v, wk__term_hash32("container.id", 12, f->container, cl)) &&
            !sum_has(&v, wk__term_hash32("container.name", 14, f->container, cl)))
            return false;
    }
    bool need_terms = f->source != NULL;
    for (size_t i = 0; i < f->nterms && !need_terms; i++)
        need_terms = wk__store_is_term(st, f->terms[i].field, strlen(f->terms[i].field));
    if (!need_terms || mdb_get(r->txn, st->dbi[WK__DB_BY_TERM], &k, &v) != 0)
        return true;
    if (f->source && !sum_has(&v, wk__term_hash32("event.module", 12, f->source, strlen(f->source))))
        return false;
    for (size_t i = 0; i < f->nterms; i++) {
        const char *fld = f->terms[i].field;
        size_t fl = strlen(fld);
        if ((wk__store_is_term(st, fld, fl) || streq(fld, fl, "event.module")) &&
            !sum_has(&v, wk__term_hash32(fld, fl, f->terms[i].value, strlen(f->terms[i].value))))
            return false;
    }
    return true;
}

int wk_store_candidates(struct wk_store_reader *r, const struct wk_store_filter *f,
                        uint64_t **ids, size_t *n)
{
    static const struct wk_store_filter none;
    struct wk_store *st = r->st;
    MDB_cursor *c;
    size_t cap = 0;
    *ids = NULL;
    *n = 0;
    if (!f)
        f = &none;
    int rc = mdb_cursor_open(r->txn, st->dbi[WK__DB_BY_TIME], &c);
    if (rc != 0)
        return wk__mdb_err(rc);
    uint8_t kb[16];
    wk__put_tskey(kb, f->since);
    memset(kb + 8, 0, 8);
    MDB_val k = {16, kb}, v;
    MDB_cursor_op op = f->since ? MDB_SET_RANGE : MDB_FIRST;
    rc = 0;
    int mrc;
    while ((mrc = mdb_cursor_get(c, &k, &v, op)) == 0) {
        op = MDB_NEXT;
        if (k.mv_size != 16 || v.mv_size != 16) {
            rc = WK_ECORRUPT;
            break;
        }
        int64_t tmark = wk__get_tskey(k.mv_data);
        if (f->until && tmark - r->skew > f->until)
            break;
        int64_t tmin = (int64_t)wk__get_u64le(v.mv_data);
        int64_t tmax = (int64_t)wk__get_u64le((uint8_t *)v.mv_data + 8);
        if ((f->since && tmax < f->since) || (f->until && tmin > f->until))
            continue;
        const uint8_t *idb = (const uint8_t *)k.mv_data + 8;
        if (!block_candidate(r, f, idb))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            uint64_t *a = realloc(*ids, cap * sizeof(*a));
            if (!a) {
                rc = -ENOMEM;
                break;
            }
            *ids = a;
        }
        (*ids)[(*n)++] = wk__get_u64be(idb);
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND && rc == 0)
        rc = wk__mdb_err(mrc);
    mdb_cursor_close(c);
    if (rc < 0) {
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}

int wk_store_block_info(struct wk_store_reader *r, uint64_t id, struct wk_store_block_info *info)
{
    struct wk__blkloc loc;
    int rc = wk__store_block_find(r->st, r->txn, id, &loc);
    if (rc < 0)
        return rc;
    const uint8_t *h = loc.hdr;
    info->id = id;
    info->count = wk__get_u32le(h + WK__BLK_OFF_COUNT);
    info->raw_size = wk__get_u32le(h + WK__BLK_OFF_RAW);
    info->ts_min = (int64_t)wk__get_u64le(h + WK__BLK_OFF_TSMIN);
    info->ts_max = (int64_t)wk__get_u64le(h + WK__BLK_OFF_TSMAX);
    if (loc.nmembers == 1) {
        info->dict_id = wk__get_u32le(h + WK__BLK_OFF_DICT);
        info->stored_size = (uint32_t)loc.vlen;
    } else { /* a merged block: its share of the value by raw size */
        size_t total = 0;
        for (uint32_t i = 0; i < loc.nmembers; i++)
            total += wk__get_u32le(loc.val + WK__MRG_HDR + (size_t)i * WK__BLK_HDR + WK__BLK_OFF_RAW);
        info->dict_id = wk__get_u32le(loc.val + WK__MRG_OFF_DICT);
        info->stored_size = (uint32_t)(total ? (double)loc.vlen * (double)loc.len / (double)total : 0);
    }
    memcpy(info->prev, h + WK__BLK_OFF_PREV, 32);
    memcpy(info->hash, h + WK__BLK_OFF_HASH, 32);
    return 0;
}

int wk_store_block_value(struct wk_store_reader *r, uint64_t id, uint64_t *first, uint32_t *n)
{
    struct wk__blkloc loc;
    int rc = wk__store_block_find(r->st, r->txn, id, &loc);
    if (rc < 0)
        return rc;
    *first = loc.key;
    *n = loc.nmembers;
    return 0;
}

/* Open `view` on block id's records, decompressing its value into raw unless raw already
 * holds it (*raw_key: the key of the value in raw, 0: none). */
static int load_raw(struct wk_store_reader *r, uint64_t id, struct wk__buf *raw,
                    uint64_t *raw_key, struct wk__blkview *view)
{
    struct wk__blkloc loc;
    int rc = wk__store_block_find(r->st, r->txn, id, &loc);
    if (rc < 0)
        return rc;
    if (*raw_key != loc.key) {
        *raw_key = 0;
        if ((rc = wk__store_block_raw(r->st, r->txn, r->dctx, loc.val, loc.vlen, raw)) < 0) {
            if (rc == WK_EREBUILD)
                wk__rebuild_why_block(loc.key, loc.nmembers);
            return rc;
        }
        *raw_key = loc.key;
    }
    if (loc.off > raw->len || loc.len > raw->len - loc.off)
        return WK_ECORRUPT;
    return wk__blkview_open(view, wk__blk_format(loc.hdr), raw->p + loc.off, loc.len);
}

/* Could this text be stored as a number, boolean or null (not as its bytes)? */
static bool maybe_scalar(const char *v)
{
    char *end;
    if (!*v || strcmp(v, "true") == 0 || strcmp(v, "false") == 0 || strcmp(v, "null") == 0)
        return true;
    (void)strtod(v, &end);
    return *end == '\0';
}

/* Before decoding a record: its timestamp, and every string a filter wants equal must
 * occur in its bytes (string values are stored verbatim or as references into the
 * original, which is there: docs/store.md, "Invariant"). A cheap exact-safe pre-check that
 * spares decoding most records of a candidate block. The strings are searched in the
 * block once, from record to record (the next occurrence of each is kept), not per record:
 * a key that occurs in some records of every block costs one pass over the block. */

static void pf_add(struct prefilter *pf, const char *s)
{
    if (pf->n < PF_MAX && *s) {
        pf->k[pf->n].s = s;
        pf->k[pf->n].len = strlen(s);
        pf->k[pf->n].valid = false;
        pf->n++;
    }
}

static void pf_init(struct prefilter *pf, const struct wk_store_filter *f)
{
    pf->n = 0;
    pf->shapes = false;
    pf->memo = NULL;
    pf->nnames = 0;
    pf->need = 0;
    pf->seen = pf->kept = 0;
    if (!f)
        return;
    /* fields each compared by event_match: a shape without them cannot match */
    if (f->source) {
        pf->need |= UINT64_C(1) << pf->nnames;
        pf->names[pf->nnames++] = "event.module";
    }
    if (f->container) { /* either */
        pf->names[pf->nnames++] = "container.id";
        pf->names[pf->nnames++] = "container.name";
    }
    for (size_t i = 0; i < f->nterms && pf->nnames < PF_MAX + 3; i++) {
        pf->need |= UINT64_C(1) << pf->nnames;
        pf->names[pf->nnames++] = f->terms[i].field;
    }
    for (size_t i = 0; i < pf->nnames; i++)
        pf->lens[i] = strlen(pf->names[i]);
    pf->shapes = pf->nnames > 0;
    if (pf->shapes)
        memset(pf->verdict, 0, sizeof(pf->verdict));
    if (f->source)
        pf_add(pf, f->source);
    if (f->container)
        pf_add(pf, f->container);
    for (size_t i = 0; i < f->nterms; i++) {
        if (!maybe_scalar(f->terms[i].value))
            pf_add(pf, f->terms[i].value);
    }
}

/* A new block: forget the occurrences found in the last one. */
static void pf_block(struct prefilter *pf)
{
    for (size_t i = 0; i < pf->n; i++)
        pf->k[i].valid = false;
    if (pf->shapes)
        memset(pf->verdict, 0, sizeof(pf->verdict));
}

static bool ts_out(const struct wk_store_filter *f, struct prefilter *pf, struct wk__blkview *v,
                   int64_t ts, const uint8_t *body, size_t blen)
{
    if (!f)
        return false;
    if ((f->since && ts < f->since) || (f->until && ts > f->until))
        return true;
    uint32_t sid;
    if (pf->shapes && wk__blkview_shape_id(v, &sid) == 1) {
        /* Could an event of this shape pass event_match? Each field it compares must be
         * a field of the shape (at any record: term_match looks at all): event.module for
         * a source, container.id or container.name for a container, each term's field.
         * (A damaged record or shape is left to the decoder, which reports it.) */
        uint8_t verdict = sid < PF_SHAPES ? pf->verdict[sid] : 0;
        if (!verdict) {
            const struct wk__shape *sh = &v->shapes[sid];
            struct pf_memo *m = NULL;
            uint64_t h = 0;
            if (pf->memo) {
                h = wk__desc_hash(sh->desc, sh->dlen);
                m = &pf->memo[h % PF_MEMO];
                if (m->desc && m->h == h && m->len == sh->dlen &&
                    memcmp(m->desc, sh->desc, sh->dlen) == 0)
                    verdict = m->verdict;
            }
            if (!verdict) {
                uint64_t have;
                if (wk__blkview_shape_names(v, sid, pf->names, pf->lens, pf->nnames, &have) < 0)
                    return false;
                bool ok = (have & pf->need) == pf->need;
                if (f->container && !(have & (UINT64_C(3) << (f->source ? 1 : 0))))
                    ok = false;
                verdict = ok ? 1 : 2;
                uint8_t *d;
                if (m && (d = realloc(m->desc, sh->dlen ? sh->dlen : 1))) { /* (or not kept) */
                    memcpy(d, sh->desc, sh->dlen);
                    *m = (struct pf_memo){ h, d, sh->dlen, verdict };
                }
            }
            if (sid < PF_SHAPES)
                pf->verdict[sid] = verdict;
        }
        pf->seen++;
        if (verdict == 2)
            return true;
        /* When the shapes leave few records (a term's field that is rare, auditd.key),
         * search each in its own bytes; when they leave most (a container), search the
         * block from record to record below: it skips from one occurrence to the next. */
        if (++pf->kept * 4 < pf->seen || pf->seen < 64) {
            for (size_t i = 0; i < pf->n; i++) {
                if (!wk__find(body, blen, (const uint8_t *)pf->k[i].s, pf->k[i].len))
                    return true;
            }
            return false;
        }
    }
    const uint8_t *end = v->raw + v->len;
    for (size_t i = 0; i < pf->n; i++) {
        if (!pf->k[i].valid || (pf->k[i].next && pf->k[i].next < body)) {
            pf->k[i].next = wk__find(body, (size_t)(end - body), (const uint8_t *)pf->k[i].s,
                                     pf->k[i].len);
            pf->k[i].valid = true;
        }
        if (!pf->k[i].next || pf->k[i].next + pf->k[i].len > body + blen)
            return true;
    }
    return false;
}

int wk_store_block_scan(struct wk_store_reader *r, uint64_t id,
                        const struct wk_store_filter *f, wk_store_event_cb cb, void *arg)
{
    r->view_id = 0;
    int rc = load_raw(r, id, &r->raw, &r->raw_key, &r->view);
    if (rc < 0)
        return rc;
    r->view_id = id;
    const struct wk_store_raw *rw = f ? f->raw : NULL;
    if (rw && rw->block && (rc = rw->block(r->view.raw, r->view.len, rw->arg)) <= 0)
        return rc;
    size_t blen;
    const uint8_t *body;
    int64_t ts;
    uint32_t idx = 0;
    struct prefilter pf;
    pf_init(&pf, f);
    uint32_t skipped;
    /* records of shapes ts_out ruled out are passed over without a call each */
    while ((rc = wk__blkview_next_kept(&r->view, pf.verdict, pf.shapes ? PF_SHAPES : 0, &body,
                                       &blen, &ts, &skipped)) == 1) {
        idx += skipped;
        pf.seen += skipped; /* (ruled out by shape: for the choice of search in ts_out) */
        uint32_t i = idx++;
        if (rw && rw->record && !rw->record((size_t)(body - r->view.raw), blen, rw->arg))
            continue;
        if (ts_out(f, &pf, &r->view, ts, body, blen))
            continue;
        if ((rc = wk__blkview_decode(&r->view, body, blen, ts, r->ev)) < 0)
            return rc;
        if (!event_match(f, r->ev))
            continue;
        struct wk_store_ref ref = {id, i};
        if ((rc = cb(r->ev, ref, arg)) < 0)
            return rc;
    }
    return rc;
}

int wk_store_event_get(struct wk_store_reader *r, struct wk_store_ref ref, struct wk_event *ev)
{
    int rc;
    if (r->view_id != ref.block) {
        r->view_id = 0;
        if ((rc = load_raw(r, ref.block, &r->raw, &r->raw_key, &r->view)) < 0)
            return rc;
        r->view_id = ref.block;
    }
    size_t blen;
    const uint8_t *body;
    int64_t ts;
    uint32_t idx = 0;
    wk__blkview_rewind(&r->view);
    while ((rc = wk__blkview_next(&r->view, &body, &blen, &ts)) == 1) {
        if (idx++ == ref.index)
            return wk__blkview_decode(&r->view, body, blen, ts, ev);
    }
    return rc < 0 ? rc : WK_ENOT_FOUND;
}

/* ---------------------------------------------------------------------------------- */
/* Iterator                                                                            */

/* Could the value be compared as a number, boolean, null or JSON text? (A module's forms
 * are claims on string values.) */
static bool sel_scalar(const char *v)
{
    return maybe_scalar(v) || *v == '{' || *v == '[';
}

/* Selective reads of rebuild values (docs/store.md, "Selective reads"): the filter's
 * source, container and terms as conditions the rebuild form's pre-check can use. A
 * filter with none of them (time only, a predicate only: every event is wanted) or with
 * a raw pre-check (hunt's, which reads the records' bytes) reads values whole. */
static int sel_init(struct wk_store_iter *it)
{
    const struct wk_store_filter *f = &it->f;
    struct wk__rbq *q = &it->q;
    if (f->raw || (!f->source && !f->container && !f->nterms))
        return 0;
    q->source = f->source;
    if (f->container) {
        struct wk__rbcond *c = &q->cond[q->nconds++];
        size_t vl = strlen(f->container);
        bool sc = sel_scalar(f->container);
        c->nalt = 2;
        c->alt[0] = (struct wk__rbalt){"container.id", f->container, vl,
                                       is_hex_prefix(f->container), sc};
        c->alt[1] = (struct wk__rbalt){"container.name", f->container, vl, false, sc};
    }
    for (size_t i = 0; i < f->nterms && q->nconds < WK__RBQ_MAX; i++) {
        struct wk__rbcond *c = &q->cond[q->nconds++];
        c->nalt = 1;
        c->alt[0] = (struct wk__rbalt){f->terms[i].field, f->terms[i].value,
                                       strlen(f->terms[i].value), false,
                                       sel_scalar(f->terms[i].value)};
    }
    return wk__rbsel_new(&it->sel, q);
}

/* A split block (format 5) whose split field one of the filter's terms compares: only
 * records of shapes with that field can match, and those are the first frame's, so open
 * the view on it alone. @return 1 (open), 0 (not such a block: read it whole), <0. */
static int iter_split(struct wk_store_iter *it, const struct wk__blkloc *loc)
{
    struct wk__splitv sv;
    if (!it->split_ok || loc->nmembers != 1 || loc->vlen < WK__BLK_HDR ||
        loc->val[WK__BLK_OFF_FORMAT] != WK__BLK_SPLIT)
        return 0;
    int rc = wk__split_parse(loc->val, loc->vlen, &sv);
    if (rc < 0)
        return rc;
    bool term = false;
    for (size_t i = 0; i < it->f.nterms && !term; i++)
        term = streq(sv.field, sv.flen, it->f.terms[i].field);
    if (!term)
        return 0;
    if (it->raw_key != loc->key) {
        it->raw_key = 0;
        if (sv.na > it->camap) {
            uint32_t *a = realloc(it->amap, sv.na * sizeof(*a));
            if (!a)
                return -ENOMEM;
            it->amap = a;
            it->camap = sv.na;
        }
        uint32_t dict = wk__get_u32le(loc->val + WK__BLK_OFF_DICT);
        struct wk__dict *d = dict ? dict_find(it->r->st, it->r->txn, dict) : NULL;
        if (dict && !d)
            return WK_ECORRUPT;
        if ((rc = wk__split_first(it->r->dctx, d ? d->ddict : NULL, &sv, &it->raw, it->amap)) < 0)
            return rc;
        it->namap = sv.na;
        it->raw_key = loc->key;
    }
    it->use_amap = true;
    rc = wk__blkview_open(&it->view, WK__BLK_FORMAT2, it->raw.p, it->raw.len);
    return rc < 0 ? rc : 1;
}

/* Open the iterator on block id: a member of a rebuild value through the selective
 * reader, any other through its records. */
static int iter_open(struct wk_store_iter *it)
{
    struct wk__blkloc loc;
    int rc = wk__store_block_find(it->r->st, it->r->txn, it->id, &loc);
    if (rc < 0)
        return rc;
    it->in_sel = false;
    if (it->sel && loc.vlen >= WK__MRG_HDR && loc.val[WK__BLK_OFF_FORMAT] == WK__BLK_REBUILT) {
        /* the member headers, then the version table (checked first: another version is
         * WK_EREBUILD, not damage), then the form's frame */
        size_t hl = WK__MRG_HDR + (size_t)loc.nmembers * WK__BLK_HDR;
        uint32_t older;
        if ((rc = vtab_skip(loc.val, loc.vlen, &hl, &older)) < 0) {
            if (rc == WK_EREBUILD)
                wk__rebuild_why_block(loc.key, loc.nmembers);
            return rc;
        }
        if (it->form_key != loc.key) {
            it->form_key = 0;
            if ((rc = rebuilt_form(it->r->st, it->r->txn, it->r->dctx, loc.val, loc.vlen, hl,
                                   wk__get_u32le(loc.val + WK__MRG_OFF_DICT), &it->form)) < 0)
                return rc;
            it->form_key = loc.key;
        }
        it->in_sel = true;
        return wk__rbsel_open(it->sel, loc.key, loc.val + WK__MRG_HDR, loc.nmembers, it->form.p,
                              it->form.len, older, loc.member);
    }
    it->use_amap = false;
    if ((rc = iter_split(it, &loc)) != 0)
        return rc < 0 ? rc : 0;
    if (it->raw_key != loc.key) {
        it->raw_key = 0;
        if ((rc = wk__store_block_raw(it->r->st, it->r->txn, it->r->dctx, loc.val, loc.vlen,
                                      &it->raw)) < 0) {
            if (rc == WK_EREBUILD)
                wk__rebuild_why_block(loc.key, loc.nmembers);
            return rc;
        }
        it->raw_key = loc.key;
    }
    if (loc.off > it->raw.len || loc.len > it->raw.len - loc.off)
        return WK_ECORRUPT;
    return wk__blkview_open(&it->view, wk__blk_format(loc.hdr), it->raw.p + loc.off, loc.len);
}

int wk_store_iter_new(struct wk_store_reader *r, const struct wk_store_filter *f,
                      struct wk_store_iter **out)
{
    *out = NULL;
    struct wk_store_iter *it = wk_new0(struct wk_store_iter, 1);
    if (!it)
        return -ENOMEM;
    it->r = r;
    if (f)
        it->f = *f;
    pf_init(&it->pf, &it->f);
    it->split_ok = !it->f.raw && it->f.nterms > 0; /* (a raw pre-check reads whole blocks) */
    int rc = sel_init(it);
    if (rc < 0) {
        wk_store_iter_free(it);
        return rc;
    }
    if (it->pf.shapes)
        it->pf.memo = calloc(PF_MEMO, sizeof(*it->pf.memo)); /* (NULL: none kept) */
    rc = wk_event_new(&it->ev);
    if (rc == 0)
        rc = wk_store_candidates(r, &it->f, &it->ids, &it->n);
    if (rc < 0) {
        wk_store_iter_free(it);
        return rc;
    }
    *out = it;
    return 0;
}

int wk_store_iter_next(struct wk_store_iter *it, const struct wk_event **ev,
                       struct wk_store_ref *ref)
{
    int rc;
    for (;;) {
        if (!it->in_block) {
            if (it->i == it->n)
                return 0;
            it->id = it->ids[it->i++];
            if ((rc = iter_open(it)) < 0)
                return rc;
            it->idx = 0;
            it->in_block = true;
            if (it->in_sel)
                continue;
            pf_block(&it->pf);
            const struct wk_store_raw *rw = it->f.raw;
            if (rw && rw->block && (rc = rw->block(it->view.raw, it->view.len, rw->arg)) <= 0) {
                if (rc < 0)
                    return rc;
                it->in_block = false;
                continue;
            }
        }
        if (it->in_sel) {
            const struct wk_event *e;
            uint32_t idx;
            if ((rc = wk__rbsel_next(it->sel, &e, &idx)) < 0)
                return rc;
            if (rc == 0) {
                it->in_block = false;
                continue;
            }
            if (!event_match(&it->f, e))
                continue;
            *ev = e;
            if (ref) {
                ref->block = it->id;
                ref->index = idx;
            }
            return 1;
        }
        const uint8_t *body;
        size_t blen;
        int64_t ts;
        uint32_t skipped;
        rc = wk__blkview_next_kept(&it->view, it->pf.verdict, it->pf.shapes ? PF_SHAPES : 0,
                                   &body, &blen, &ts, &skipped);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            it->in_block = false;
            continue;
        }
        it->idx += skipped;
        it->pf.seen += skipped;
        uint32_t idx = it->idx++;
        if (it->f.raw && it->f.raw->record &&
            !it->f.raw->record((size_t)(body - it->view.raw), blen, it->f.raw->arg))
            continue;
        if (ts_out(&it->f, &it->pf, &it->view, ts, body, blen))
            continue;
        if ((rc = wk__blkview_decode(&it->view, body, blen, ts, it->ev)) < 0)
            return rc;
        if (!event_match(&it->f, it->ev))
            continue;
        if (it->use_amap) { /* the first frame's record idx is the block's amap[idx] */
            if (idx >= it->namap)
                return WK_ECORRUPT;
            idx = it->amap[idx];
        }
        *ev = it->ev;
        if (ref) {
            ref->block = it->id;
            ref->index = idx;
        }
        return 1;
    }
}

struct wk_store_iter *wk_store_iter_free(struct wk_store_iter *it)
{
    if (!it)
        return NULL;
    free(it->ids);
    wk__buf_fini(&it->raw);
    wk__blkview_fini(&it->view);
    pf_fini(&it->pf);
    wk_event_free(it->ev);
    wk__rbsel_free(it->sel);
    wk__buf_fini(&it->form);
    free(it->amap);
    free(it);
    return NULL;
}

/* ---------------------------------------------------------------------------------- */
/* Alerts, containers, quarantine                                                      */

static int next_by_id(struct wk_store_reader *r, int db, uint64_t *id, MDB_val *k, MDB_val *v)
{
    MDB_cursor *c;
    uint8_t kb[8];
    int rc = mdb_cursor_open(r->txn, r->st->dbi[db], &c);
    if (rc != 0)
        return wk__mdb_err(rc);
    wk__put_u64be(kb, *id);
    k->mv_size = 8;
    k->mv_data = kb;
    rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return wk__mdb_err(rc);
    if (k->mv_size != 8)
        return WK_ECORRUPT;
    *id = wk__get_u64be(k->mv_data) + 1;
    return 1;
}

int wk_store_alert_next(struct wk_store_reader *r, uint64_t *id, struct wk_store_alert *a)
{
    MDB_val k, v;
    int rc = next_by_id(r, WK__DB_ALERTS, id, &k, &v);
    if (rc <= 0)
        return rc;
    const uint8_t *p = v.mv_data;
    if (v.mv_size < 4)
        return WK_ECORRUPT;
    uint32_t n = wk__get_u32le(p);
    if ((size_t)n * 12 + 4 > v.mv_size)
        return WK_ECORRUPT;
    /* refs are packed 12 bytes each on disk; unpack into the reader's scratch. */
    struct wk__buf *b = &r->raw;
    r->raw_key = r->view_id = 0;
    b->len = 0;
    if ((rc = wk__buf_reserve(b, (size_t)n * sizeof(struct wk_store_ref) + 8)) < 0)
        return rc;
    struct wk_store_ref *refs = (struct wk_store_ref *)(void *)b->p;
    for (uint32_t i = 0; i < n; i++) {
        refs[i].block = wk__get_u64le(p + 4 + 12 * i);
        refs[i].index = wk__get_u32le(p + 12 + 12 * i);
    }
    a->id = *id - 1;
    a->refs = refs;
    a->nrefs = n;
    a->json = (const char *)p + 4 + 12 * (size_t)n;
    a->len = v.mv_size - 4 - 12 * (size_t)n;
    if (!wk__alert_is_frame(a->json, a->len))
        return 1; /* plain JSON: every store before schema 3, and alerts a frame did not shrink */
    /* A zstd frame (docs/store.md "Alert values"): the JSON goes after the refs in the
     * reader's scratch, with the alert dictionary the frame names. */
    unsigned long long cl = ZSTD_getFrameContentSize(a->json, a->len);
    if (cl == ZSTD_CONTENTSIZE_UNKNOWN || cl == ZSTD_CONTENTSIZE_ERROR || cl > WK__ALERT_MAX)
        return WK_ECORRUPT;
    size_t at = (size_t)n * sizeof(struct wk_store_ref);
    if ((rc = wk__buf_reserve(b, at + (size_t)cl + 1)) < 0)
        return rc;
    refs = (struct wk_store_ref *)(void *)b->p; /* (moved by the reserve) */
    unsigned did = ZSTD_getDictID_fromFrame(a->json, a->len);
    struct wk__dict *d = did ? dict_find(r->st, r->txn, did) : NULL;
    if (did && (!(did & WK__ALERT_DICT_BIT) || !d))
        return WK_ECORRUPT;
    size_t got = d ? ZSTD_decompress_usingDDict(r->dctx, b->p + at, (size_t)cl, a->json,
                                                a->len, d->ddict)
                   : ZSTD_decompressDCtx(r->dctx, b->p + at, (size_t)cl, a->json, a->len);
    if (ZSTD_isError(got) || got != cl)
        return WK_ECORRUPT;
    a->refs = refs;
    a->json = (const char *)b->p + at;
    a->len = got;
    return 1;
}

int wk_store_container_get(struct wk_store_reader *r, const char *id, const char **json,
                           size_t *len)
{
    MDB_val k = {strlen(id), (void *)id}, v;
    int rc = mdb_get(r->txn, r->st->dbi[WK__DB_CONTAINERS], &k, &v);
    if (rc != 0)
        return wk__mdb_err(rc);
    *json = v.mv_data;
    *len = v.mv_size;
    return 0;
}

int wk_store_quarantine_next(struct wk_store_reader *r, uint64_t *id,
                             struct wk_store_quarantined *q)
{
    MDB_val k, v;
    int rc = next_by_id(r, WK__DB_QUARANTINE, id, &k, &v);
    if (rc <= 0)
        return rc;
    const char *p = v.mv_data, *end = p + v.mv_size;
    if (v.mv_size < 10)
        return WK_ECORRUPT;
    q->id = *id - 1;
    q->ts = (int64_t)wk__get_u64le((const uint8_t *)p);
    q->source = p + 8;
    const char *z = memchr(q->source, '\0', (size_t)(end - q->source));
    if (!z)
        return WK_ECORRUPT;
    q->reason = z + 1;
    z = memchr(q->reason, '\0', (size_t)(end - q->reason));
    if (!z)
        return WK_ECORRUPT;
    q->raw = z + 1;
    q->len = (size_t)(end - (z + 1));
    return 1;
}

/* ---------------------------------------------------------------------------------- */
/* Stats                                                                               */

static uint64_t db_entries(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_stat ms;
    return mdb_stat(txn, dbi, &ms) == 0 ? ms.ms_entries : 0;
}

int wk_store_stats(struct wk_store *st, struct wk_store_stats *out)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    memset(out, 0, sizeof(*out));
    int rc = wk__store_rdtxn(st, &txn);
    if (rc < 0)
        return rc;
    MDB_envinfo info;
    MDB_stat ms;
    mdb_env_info(st->env, &info);
    mdb_env_stat(st->env, &ms);
    out->map_size = info.me_mapsize;
    out->map_max = st->opts.map_max > info.me_mapsize ? st->opts.map_max : info.me_mapsize;
    out->page_size = ms.ms_psize;
    out->map_used = (uint64_t)(info.me_last_pgno + 1) * ms.ms_psize;
    k.mv_size = 6;
    k.mv_data = "schema";
    if (mdb_get(txn, st->dbi[WK__DB_META], &k, &v) == 0 && v.mv_size == 4)
        out->schema = wk__get_u32le(v.mv_data);
    out->blocks = db_entries(txn, st->dbi[WK__DB_BLOCKS]);
    out->values = out->blocks;
    out->alerts = db_entries(txn, st->dbi[WK__DB_ALERTS]);
    out->quarantined = db_entries(txn, st->dbi[WK__DB_QUARANTINE]);
    out->containers = db_entries(txn, st->dbi[WK__DB_CONTAINERS]);
    out->cursors = db_entries(txn, st->dbi[WK__DB_CURSORS]);
    k.mv_size = 6;
    k.mv_data = "totals";
    if (mdb_get(txn, st->dbi[WK__DB_META], &k, &v) == 0 && v.mv_size == 32) {
        out->events = wk__get_u64le(v.mv_data);
        out->blocks = wk__get_u64le((uint8_t *)v.mv_data + 8); /* merged cold values hold several */
        out->raw_bytes = wk__get_u64le((uint8_t *)v.mv_data + 16);
        out->stored_bytes = wk__get_u64le((uint8_t *)v.mv_data + 24);
    }
    k.mv_size = 9;
    k.mv_data = "cold_next";
    if (mdb_get(txn, st->dbi[WK__DB_META], &k, &v) == 0 && v.mv_size == 8)
        out->cold_next = wk__get_u64le(v.mv_data);
    k.mv_size = 4;
    k.mv_data = "head";
    if (mdb_get(txn, st->dbi[WK__DB_META], &k, &v) == 0 && v.mv_size >= 56) {
        out->last_block = wk__get_u64le(v.mv_data);
        memcpy(out->head, (uint8_t *)v.mv_data + 8, 32);
    }
    if (mdb_cursor_open(txn, st->dbi[WK__DB_META], &c) == 0) {
        k.mv_size = 4;
        k.mv_data = "src:";
        MDB_cursor_op op = MDB_SET_RANGE;
        while (mdb_cursor_get(c, &k, &v, op) == 0) {
            op = MDB_NEXT;
            if (k.mv_size < 4 || memcmp(k.mv_data, "src:", 4) != 0)
                break;
            if (v.mv_size != 24 || out->nsources == WK_ARRAY_SIZE(out->sources))
                continue;
            struct wk_store_source_stats *s = &out->sources[out->nsources++];
            size_t nl = k.mv_size - 4 < sizeof(s->name) - 1 ? k.mv_size - 4 : sizeof(s->name) - 1;
            memcpy(s->name, (char *)k.mv_data + 4, nl);
            s->name[nl] = '\0';
            s->events = wk__get_u64le(v.mv_data);
            s->raw_bytes = wk__get_u64le((uint8_t *)v.mv_data + 8);
            s->stored_bytes = wk__get_u64le((uint8_t *)v.mv_data + 16);
        }
        k.mv_size = 5;
        k.mv_data = "dict:";
        op = MDB_SET_RANGE;
        while (mdb_cursor_get(c, &k, &v, op) == 0) {
            op = MDB_NEXT;
            if (k.mv_size < 5 || memcmp(k.mv_data, "dict:", 5) != 0)
                break;
            out->dictionaries++;
        }
        mdb_cursor_close(c);
    }
    if (mdb_cursor_open(txn, st->dbi[WK__DB_BY_TIME], &c) == 0) {
        bool first = true;
        MDB_cursor_op op = MDB_FIRST;
        while (mdb_cursor_get(c, &k, &v, op) == 0) {
            op = MDB_NEXT;
            if (v.mv_size != 16 || k.mv_size != 16)
                continue;
            int64_t a = (int64_t)wk__get_u64le(v.mv_data);
            int64_t b = (int64_t)wk__get_u64le((uint8_t *)v.mv_data + 8);
            if (first) {
                out->first_block = wk__get_u64be((uint8_t *)k.mv_data + 8);
                out->ts_min = a;
                out->ts_max = b;
                first = false;
            }
            if (a < out->ts_min)
                out->ts_min = a;
            if (b > out->ts_max)
                out->ts_max = b;
        }
        mdb_cursor_close(c);
    }
    /* Free pages: LMDB's free list (dbi 0) maps txn ids to arrays of page numbers whose
     * first element is the count. */
    if (mdb_cursor_open(txn, 0, &c) == 0) {
        MDB_cursor_op op = MDB_FIRST;
        while (mdb_cursor_get(c, &k, &v, op) == 0) {
            op = MDB_NEXT;
            if (v.mv_size >= sizeof(size_t)) {
                size_t cnt;
                memcpy(&cnt, v.mv_data, sizeof(cnt));
                out->free_pages += cnt;
            }
        }
        mdb_cursor_close(c);
    }
    wk__store_rdtxn_end(st, txn);
    return 0;
}
