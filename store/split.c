/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split hot blocks (format 5, docs/store.md "Split blocks"): the writer puts the records
 * whose shape has one designated field (auditd.key by default) after the shape table in a
 * first zstd frame and the others in a second, with an order map. A full read merges both
 * back into exactly the bytes of the single-frame form (format 2), so the records hash,
 * the chain, refs and the cold tier see the same records; a query with a term on that
 * field decompresses the first frame only.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_private.h"

/* Bytes of v as a varint. */
static size_t vsize(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Does shape descriptor p[0..len) have a field named f (at any record)?
 * @return 1 yes, 2 no, WK_ECORRUPT. */
static int desc_has(const uint8_t *p, size_t len, const char *f, size_t fl)
{
    size_t pos = 0;
    uint64_t nrec, nf, orig, klen, x;
    int found = 2;
    /* names are in the descriptor as bytes: most shapes lack them (one scan, not a parse
     * of every field: descriptors run to kilobytes) */
    if (!wk__find(p, len, (const uint8_t *)f, fl))
        return 2;
    if (wk__varint_get(p, len, &pos, &nrec) < 0 || wk__varint_get(p, len, &pos, &nf) < 0 ||
        wk__varint_get(p, len, &pos, &orig) < 0)
        return WK_ECORRUPT;
    for (uint64_t i = 0; i < nf; i++) {
        if (wk__varint_get(p, len, &pos, &klen) < 0 || klen > len - pos)
            return WK_ECORRUPT;
        if (klen == fl && memcmp(p + pos, f, fl) == 0)
            found = 1;
        pos += (size_t)klen;
        if (wk__varint_get(p, len, &pos, &x) < 0 || len - pos < 2)
            return WK_ECORRUPT;
        pos += 2;
        if (wk__varint_get(p, len, &pos, &x) < 0)
            return WK_ECORRUPT;
    }
    return found;
}

/* A block's shape table (at the start of its bytes) and, per shape, whether it has the
 * split field (worked out on first use). */
#define STAB_STACK 512
struct stab {
    const uint8_t *p;
    size_t n, end; /* shapes; where the records start */
    uint32_t *off, *len;
    uint8_t *cls; /* 0 not known, 1 has the field, 2 has not */
    uint32_t s_off[STAB_STACK], s_len[STAB_STACK];
    uint8_t s_cls[STAB_STACK];
};

static void stab_fini(struct stab *t)
{
    if (t->off != t->s_off) {
        free(t->off);
        free(t->len);
        free(t->cls);
    }
    t->off = t->len = NULL;
    t->cls = NULL;
}

static int stab_open(struct stab *t, const uint8_t *p, size_t len)
{
    size_t pos = 0;
    uint64_t n, bytes;
    t->p = p;
    t->off = t->s_off;
    t->len = t->s_len;
    t->cls = t->s_cls;
    if (wk__varint_get(p, len, &pos, &n) < 0 || wk__varint_get(p, len, &pos, &bytes) < 0 ||
        bytes > len - pos || n > bytes)
        return WK_ECORRUPT;
    if (n > STAB_STACK) {
        t->off = malloc(n * sizeof(*t->off));
        t->len = malloc(n * sizeof(*t->len));
        t->cls = malloc(n);
        if (!t->off || !t->len || !t->cls) {
            free(t->off);
            free(t->len);
            free(t->cls);
            t->off = NULL;
            return -ENOMEM;
        }
    }
    t->n = (size_t)n;
    t->end = pos + (size_t)bytes;
    for (size_t i = 0; i < t->n; i++) {
        uint64_t sl;
        if (wk__varint_get(p, t->end, &pos, &sl) < 0 || sl > t->end - pos) {
            stab_fini(t);
            return WK_ECORRUPT;
        }
        t->off[i] = (uint32_t)pos;
        t->len[i] = (uint32_t)sl;
        pos += (size_t)sl;
    }
    if (pos != t->end) {
        stab_fini(t);
        return WK_ECORRUPT;
    }
    memset(t->cls, 0, t->n);
    return 0;
}

/* 1: shape sid has field f, 2: not, WK_ECORRUPT. */
static inline int stab_cls(struct stab *t, uint64_t sid, const char *f, size_t fl)
{
    if (sid >= t->n)
        return WK_ECORRUPT;
    if (!t->cls[sid]) {
        int c = desc_has(t->p + t->off[sid], t->len[sid], f, fl);
        if (c < 0)
            return c;
        t->cls[sid] = (uint8_t)c;
    }
    return t->cls[sid];
}

/* ---------------------------------------------------------------------------------- */
/* Writer                                                                              */

/* A descriptor's class, kept from earlier blocks (by wk__desc_hash): a shape recurs in
 * most blocks, and comparing its bytes is cheaper than looking for the field in them
 * (~980 instructions a daemon audit shape). */
#define CLS_CACHE 256
struct cls_ent {
    uint8_t *desc; /* a copy (len bytes) */
    uint32_t len;
    uint8_t cls;
};

struct wk__split {
    struct wk__buf a, b, map, za, zb;
    uint32_t *run; /* split_known: the index of each run's first record */
    size_t crun;
    char field[WK__SPLIT_FIELD_MAX + 1]; /* the cache's field */
    struct cls_ent cache[CLS_CACHE];
};

/* stab_cls through s's cache (the field is s->field). */
static int cached_cls(struct wk__split *s, struct stab *t, uint64_t sid, size_t fl)
{
    if (sid >= t->n)
        return WK_ECORRUPT;
    if (t->cls[sid])
        return t->cls[sid];
    const uint8_t *d = t->p + t->off[sid];
    uint32_t len = t->len[sid];
    struct cls_ent *e = &s->cache[wk__desc_hash(d, len) % CLS_CACHE];
    if (e->desc && e->len == len && memcmp(e->desc, d, len) == 0)
        return t->cls[sid] = e->cls;
    int c = desc_has(d, len, s->field, fl);
    if (c < 0)
        return c;
    t->cls[sid] = (uint8_t)c;
    uint8_t *copy = realloc(e->desc, len ? len : 1);
    if (copy) { /* (else the entry stays as it was) */
        memcpy(copy, d, len);
        e->desc = copy;
        e->len = len;
        e->cls = (uint8_t)c;
    }
    return c;
}

struct wk__split *wk__split_free(struct wk__split *s)
{
    if (!s)
        return NULL;
    wk__buf_fini(&s->a);
    wk__buf_fini(&s->b);
    wk__buf_fini(&s->map);
    wk__buf_fini(&s->za);
    wk__buf_fini(&s->zb);
    free(s->run);
    for (size_t i = 0; i < CLS_CACHE; i++)
        free(s->cache[i].desc);
    free(s);
    return NULL;
}

/* Append one record (body's time delta re-based on *prev) to o. */
static int put_record(struct wk__buf *o, int64_t *prev, int64_t ts, const uint8_t *body,
                      size_t dl, size_t bl)
{
    uint8_t hb[10];
    size_t hl = wk__varint_put(hb, wk__zigzag((int64_t)((uint64_t)ts - (uint64_t)*prev)));
    *prev = ts;
    int rc = wk__buf_reserve(o, 10 + hl + bl);
    if (rc < 0)
        return rc;
    PUTV(o, hl + bl - dl);
    memcpy(o->p + o->len, hb, hl);
    o->len += hl;
    memcpy(o->p + o->len, body + dl, bl - dl);
    o->len += bl - dl;
    return 0;
}

/* Sort the records of bp[0..blen) into s->a (the shape table, then the records whose
 * shape has field f), s->b (the others) and s->map. @return 1 (both frames have records),
 * 0 (one frame would be empty, or the bytes are not in the writer's canonical form: keep
 * the single frame), <0. */
static int split_records(struct wk__split *s, const char *f, size_t fl, const uint8_t *bp,
                         size_t blen, uint32_t *na_out)
{
    struct stab t;
    int rc = stab_open(&t, bp, blen);
    if (rc < 0)
        return rc;
    s->a.len = s->b.len = s->map.len = 0;
    /* First which shapes the records use: a block where none or all have the field (no
     * auditd events, say) stays one frame without its records being copied. */
    size_t pos = t.end;
    uint32_t na = 0, nb = 0, gap = 0;
    while (pos < blen) {
        uint64_t rl, d, sid;
        size_t q = 0;
        rc = WK_ECORRUPT;
        if (wk__varint_get(bp, blen, &pos, &rl) < 0 || rl > blen - pos ||
            wk__varint_get(bp + pos, (size_t)rl, &q, &d) < 0 ||
            wk__varint_get(bp + pos, (size_t)rl, &q, &sid) < 0 ||
            (rc = stab_cls(&t, sid, f, fl)) < 0)
            goto out;
        pos += (size_t)rl;
        if (rc == 1)
            na++;
        else
            nb++;
    }
    rc = 0;
    if (!na || !nb)
        goto out;
    na = nb = 0;
    if ((rc = wk__buf_put(&s->a, bp, t.end)) < 0)
        goto out;
    pos = t.end;
    int64_t prev = 0, pa = 0, pb = 0;
    while (pos < blen) {
        size_t p0 = pos, q = 0;
        uint64_t rl, d, sid;
        rc = WK_ECORRUPT;
        if (wk__varint_get(bp, blen, &pos, &rl) < 0 || rl > blen - pos)
            goto out;
        const uint8_t *body = bp + pos;
        pos += (size_t)rl;
        if (wk__varint_get(body, (size_t)rl, &q, &d) < 0)
            goto out;
        size_t dl = q;
        if (wk__varint_get(body, (size_t)rl, &q, &sid) < 0)
            goto out;
        rc = 0;
        if (pos - p0 - (size_t)rl != vsize(rl) || dl != vsize(d))
            goto out; /* a longer varint than needed: the merge would not give these bytes */
        int c = stab_cls(&t, sid, f, fl);
        if (c < 0) {
            rc = c;
            goto out;
        }
        int64_t ts = (int64_t)((uint64_t)prev + (uint64_t)wk__unzigzag(d));
        prev = ts;
        if (c == 1) {
            if ((rc = wk__buf_reserve(&s->map, 10)) < 0)
                goto out;
            PUTV(&s->map, gap);
            gap = 0;
            na++;
            rc = put_record(&s->a, &pa, ts, body, dl, (size_t)rl);
        } else {
            gap++;
            nb++;
            rc = put_record(&s->b, &pb, ts, body, dl, (size_t)rl);
        }
        if (rc < 0)
            goto out;
    }
    *na_out = na;
    rc = na && nb ? 1 : 0;
out:
    stab_fini(&t);
    return rc;
}

/* Append the records r[0..len) of one frame, consecutive in the block: the first with its
 * time delta re-based on prev (its frame's previous record), the others as they are
 * (their block predecessor is their frame's). */
static int put_run(struct wk__buf *o, int64_t prev, int64_t ts, const uint8_t *r, size_t len)
{
    size_t pos = 0, q;
    uint64_t rl, d;
    if (wk__varint_get(r, len, &pos, &rl) < 0 || rl > len - pos)
        return WK_ECORRUPT;
    q = pos;
    if (wk__varint_get(r, pos + (size_t)rl, &q, &d) < 0)
        return WK_ECORRUPT;
    uint8_t hb[10];
    size_t hl = wk__varint_put(hb, wk__zigzag((int64_t)((uint64_t)ts - (uint64_t)prev)));
    int rc = wk__buf_reserve(o, 10 + hl + (len - q));
    if (rc < 0)
        return rc;
    PUTV(o, hl + (size_t)rl - (q - pos));
    memcpy(o->p + o->len, hb, hl);
    memcpy(o->p + o->len + hl, r + q, len - q);
    o->len += hl + (len - q);
    return 0;
}

/* split_records from what the writer knows of the records (recs[0..n), the block's
 * bp[0..blen)): the shapes classify runs of consecutive records of the same frame, and
 * each run is one copy with only its first record's header rewritten (a record whose
 * block predecessor is in its frame keeps its delta). The same bytes as split_records
 * for the writer's records, whose varints are minimal. */
static int split_known(struct wk__split *s, const char *f, size_t fl, const uint8_t *bp,
                       size_t blen, const struct wk__split_rec *recs, size_t n,
                       uint32_t *na_out)
{
    struct stab t;
    int rc = stab_open(&t, bp, blen);
    if (rc < 0)
        return rc;
    s->a.len = s->b.len = s->map.len = 0;
    const uint8_t *rp = bp + t.end;
    size_t rlen = blen - t.end, nruns = 0;
    if (n + 1 > s->crun) {
        size_t c = (n + 1) * 2;
        uint32_t *r = realloc(s->run, c * sizeof(*r));
        rc = -ENOMEM;
        if (!r)
            goto out;
        s->run = r;
        s->crun = c;
    }
    if (strlen(s->field) != fl || memcmp(s->field, f, fl) != 0) { /* another field */
        for (size_t i = 0; i < CLS_CACHE; i++)
            s->cache[i].desc = (free(s->cache[i].desc), NULL);
        memcpy(s->field, f, fl);
        s->field[fl] = '\0';
    }
    uint32_t na = 0;
    int cur = 0, first = 0;
    rc = WK_ECORRUPT;
    if (n == 0 || n > UINT32_MAX || recs[0].off != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].off >= rlen || (i && recs[i].off <= recs[i - 1].off))
            goto out;
        int c = cached_cls(s, &t, recs[i].sid, fl);
        if (c < 0) {
            rc = c;
            goto out;
        }
        if (c != cur) {
            if (!nruns)
                first = c;
            s->run[nruns++] = (uint32_t)i;
            cur = c;
        }
        na += c == 1;
    }
    rc = 0;
    if (!na || na == n)
        goto out;
    s->run[nruns] = (uint32_t)n;
    if ((rc = wk__buf_put(&s->a, bp, t.end)) < 0 ||
        (rc = wk__buf_reserve(&s->map, na + 5 * nruns)) < 0)
        goto out;
    int64_t la = 0, lb = 0; /* each frame's last timestamp */
    uint32_t gap = 0;
    for (size_t k = 0; k < nruns; k++) {
        size_t i = s->run[k], j = s->run[k + 1];
        size_t from = recs[i].off, to = j < n ? recs[j].off : rlen;
        if ((k % 2 == 0) == (first == 1)) {
            PUTV(&s->map, gap);
            memset(s->map.p + s->map.len, 0, j - i - 1);
            s->map.len += j - i - 1;
            gap = 0;
            rc = put_run(&s->a, la, recs[i].ts, rp + from, to - from);
            la = recs[j - 1].ts;
        } else {
            gap = (uint32_t)(j - i);
            rc = put_run(&s->b, lb, recs[i].ts, rp + from, to - from);
            lb = recs[j - 1].ts;
        }
        if (rc < 0)
            goto out;
    }
    *na_out = na;
    rc = 1;
out:
    stab_fini(&t);
    return rc;
}

static int compress_into(ZSTD_CCtx *cctx, struct wk__buf *z, const uint8_t *p, size_t n)
{
    size_t bound = ZSTD_compressBound(n);
    z->len = 0;
    int rc = wk__buf_reserve(z, bound);
    if (rc < 0)
        return rc;
    size_t r = ZSTD_compress2(cctx, z->p, bound, p, n);
    if (ZSTD_isError(r))
        return -EIO;
    z->len = r;
    return 0;
}

int wk__split_compress(struct wk__split **sp, ZSTD_CCtx *cctx, const char *field,
                       const uint8_t *bp, size_t blen, const struct wk__split_rec *recs,
                       size_t nrec, struct wk__buf *val, size_t hdr, uint8_t *format)
{
    size_t fl = field ? strlen(field) : 0;
    int rc;
    *format = WK__BLK_FORMAT2;
    if (fl && fl <= WK__SPLIT_FIELD_MAX) {
        if (!*sp && !(*sp = wk_new0(struct wk__split, 1)))
            return -ENOMEM;
        struct wk__split *s = *sp;
        uint32_t na = 0;
        rc = recs ? split_known(s, field, fl, bp, blen, recs, nrec, &na)
                  : split_records(s, field, fl, bp, blen, &na);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            if ((rc = compress_into(cctx, &s->za, s->a.p, s->a.len)) < 0 ||
                (rc = compress_into(cctx, &s->zb, s->b.p, s->b.len)) < 0)
                return rc;
            val->len = 0;
            if ((rc = wk__buf_reserve(val, hdr + 64 + fl + s->map.len + s->za.len + s->zb.len)) <
                0)
                return rc;
            val->len = hdr;
            PUTV(val, fl);
            memcpy(val->p + val->len, field, fl);
            val->len += fl;
            PUTV(val, na);
            PUTV(val, s->a.len);
            PUTV(val, s->za.len);
            PUTV(val, s->b.len);
            wk__buf_put(val, s->map.p, s->map.len);
            wk__buf_put(val, s->za.p, s->za.len);
            wk__buf_put(val, s->zb.p, s->zb.len);
            *format = WK__BLK_SPLIT;
            return 0;
        }
    }
    size_t bound = ZSTD_compressBound(blen);
    val->len = 0;
    if ((rc = wk__buf_reserve(val, hdr + bound)) < 0)
        return rc;
    size_t z = ZSTD_compress2(cctx, val->p + hdr, bound, bp, blen);
    if (ZSTD_isError(z))
        return -EIO;
    val->len = hdr + z;
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* Readers                                                                             */

int wk__split_parse(const uint8_t *val, size_t vlen, struct wk__splitv *sv)
{
    size_t pos = WK__BLK_HDR;
    uint64_t fl, na, ra, za, rb;
    if (vlen < WK__BLK_HDR || val[WK__BLK_OFF_FORMAT] != WK__BLK_SPLIT)
        return WK_ECORRUPT;
    sv->count = wk__get_u32le(val + WK__BLK_OFF_COUNT);
    sv->raw = wk__get_u32le(val + WK__BLK_OFF_RAW);
    if (wk__varint_get(val, vlen, &pos, &fl) < 0 || fl == 0 || fl > WK__SPLIT_FIELD_MAX ||
        fl > vlen - pos)
        return WK_ECORRUPT;
    sv->field = (const char *)val + pos;
    sv->flen = (size_t)fl;
    pos += (size_t)fl;
    const uint64_t lim = 2 * (uint64_t)sv->raw + 64; /* re-based time deltas may be longer */
    if (wk__varint_get(val, vlen, &pos, &na) < 0 || na == 0 || na >= sv->count ||
        wk__varint_get(val, vlen, &pos, &ra) < 0 || ra > lim ||
        wk__varint_get(val, vlen, &pos, &za) < 0 ||
        wk__varint_get(val, vlen, &pos, &rb) < 0 || rb > lim)
        return WK_ECORRUPT;
    sv->na = (uint32_t)na;
    sv->rawa = (size_t)ra;
    sv->rawb = (size_t)rb;
    sv->map = val + pos;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < sv->na; i++) {
        uint64_t g;
        if (wk__varint_get(val, vlen, &pos, &g) < 0 || g > sv->count)
            return WK_ECORRUPT;
        sum += g;
    }
    if (sum > sv->count - na)
        return WK_ECORRUPT;
    sv->maplen = (size_t)(val + pos - sv->map);
    if (za == 0 || za >= vlen - pos)
        return WK_ECORRUPT;
    sv->fa = val + pos;
    sv->fa_len = (size_t)za;
    sv->fb = sv->fa + za;
    sv->fb_len = vlen - pos - (size_t)za;
    return 0;
}

static int dec(ZSTD_DCtx *dctx, const ZSTD_DDict *dd, uint8_t *dst, size_t n, const uint8_t *src,
               size_t sl)
{
    size_t r = dd ? ZSTD_decompress_usingDDict(dctx, dst, n, src, sl, dd)
                  : ZSTD_decompressDCtx(dctx, dst, n, src, sl);
    return ZSTD_isError(r) || r != n ? WK_ECORRUPT : 0;
}

/* One record of a frame's content s[0..sl) at *sp, appended to out[*op..cap) with its time
 * delta re-based from the frame's previous record (*tf) to the block's (*prev). Its shape
 * must be `want` (1: has the split field, 2: has not). */
static int emit(struct stab *t, const char *f, size_t fl, int want, const uint8_t *s, size_t sl,
                size_t *sp, int64_t *tf, int64_t *prev, uint8_t *out, size_t *op, size_t cap)
{
    uint64_t rl, d, sid;
    size_t q = 0;
    if (wk__varint_get(s, sl, sp, &rl) < 0 || rl > sl - *sp)
        return WK_ECORRUPT;
    const uint8_t *body = s + *sp;
    *sp += (size_t)rl;
    if (wk__varint_get(body, (size_t)rl, &q, &d) < 0)
        return WK_ECORRUPT;
    size_t dl = q;
    if (wk__varint_get(body, (size_t)rl, &q, &sid) < 0 || stab_cls(t, sid, f, fl) != want)
        return WK_ECORRUPT; /* (a record in the wrong frame would hide it from a query) */
    int64_t ts = (int64_t)((uint64_t)*tf + (uint64_t)wk__unzigzag(d));
    *tf = ts;
    uint8_t hb[10];
    size_t hl = wk__varint_put(hb, wk__zigzag((int64_t)((uint64_t)ts - (uint64_t)*prev)));
    *prev = ts;
    size_t bl = hl + (size_t)rl - dl;
    if (vsize(bl) + bl > cap - *op)
        return WK_ECORRUPT;
    *op += wk__varint_put(out + *op, bl);
    memcpy(out + *op, hb, hl);
    memcpy(out + *op + hl, body + dl, (size_t)rl - dl);
    *op += bl;
    return 0;
}

/* Merge the frames' contents a (rawa bytes) and b (rawb) into out[0..raw). */
static int merge(const struct wk__splitv *sv, const uint8_t *a, const uint8_t *b, uint8_t *out)
{
    struct stab t;
    int rc = stab_open(&t, a, sv->rawa);
    if (rc < 0)
        return rc;
    const char *f = sv->field;
    size_t fl = sv->flen, pa = t.end, pb = 0, op = t.end, mp = 0;
    int64_t ta = 0, tb = 0, prev = 0;
    uint32_t left = sv->count - sv->na;
    rc = WK_ECORRUPT;
    if (t.end > sv->raw)
        goto out;
    memcpy(out, a, t.end);
    for (uint32_t i = 0; i <= sv->na; i++) {
        uint64_t gap = left;
        if (i < sv->na && wk__varint_get(sv->map, sv->maplen, &mp, &gap) < 0)
            goto out;
        if (gap > left)
            goto out;
        left -= (uint32_t)gap;
        for (uint64_t g = 0; g < gap; g++) {
            if ((rc = emit(&t, f, fl, 2, b, sv->rawb, &pb, &tb, &prev, out, &op, sv->raw)) < 0)
                goto out;
        }
        if (i < sv->na &&
            (rc = emit(&t, f, fl, 1, a, sv->rawa, &pa, &ta, &prev, out, &op, sv->raw)) < 0)
            goto out;
    }
    rc = pa == sv->rawa && pb == sv->rawb && op == sv->raw ? 0 : WK_ECORRUPT;
out:
    stab_fini(&t);
    return rc;
}

int wk__split_raw(ZSTD_DCtx *dctx, const ZSTD_DDict *dd, const uint8_t *val, size_t vlen,
                  struct wk__buf *out)
{
    struct wk__splitv sv;
    int rc = wk__split_parse(val, vlen, &sv);
    if (rc < 0)
        return rc;
    out->len = 0;
    /* both contents after the room for the merged bytes */
    if ((rc = wk__buf_reserve(out, (size_t)sv.raw + sv.rawa + sv.rawb + 1)) < 0)
        return rc;
    uint8_t *a = out->p + sv.raw, *b = a + sv.rawa;
    if ((rc = dec(dctx, dd, a, sv.rawa, sv.fa, sv.fa_len)) < 0 ||
        (rc = dec(dctx, dd, b, sv.rawb, sv.fb, sv.fb_len)) < 0 ||
        (rc = merge(&sv, a, b, out->p)) < 0)
        return rc;
    out->len = sv.raw;
    return 0;
}

int wk__split_first(ZSTD_DCtx *dctx, const ZSTD_DDict *dd, const struct wk__splitv *sv,
                    struct wk__buf *out, uint32_t *idx)
{
    out->len = 0;
    int rc = wk__buf_reserve(out, sv->rawa + 1);
    if (rc < 0 || (rc = dec(dctx, dd, out->p, sv->rawa, sv->fa, sv->fa_len)) < 0)
        return rc;
    /* the logical index of each record, and exactly na records after the table */
    size_t mp = 0, pos = 0;
    uint64_t n, bytes, at = 0;
    if (wk__varint_get(out->p, sv->rawa, &pos, &n) < 0 ||
        wk__varint_get(out->p, sv->rawa, &pos, &bytes) < 0 || bytes > sv->rawa - pos)
        return WK_ECORRUPT;
    pos += (size_t)bytes;
    for (uint32_t i = 0; i < sv->na; i++) {
        uint64_t gap, rl;
        if (wk__varint_get(sv->map, sv->maplen, &mp, &gap) < 0)
            return WK_ECORRUPT;
        at += gap;
        idx[i] = (uint32_t)(at++);
        if (wk__varint_get(out->p, sv->rawa, &pos, &rl) < 0 || rl > sv->rawa - pos)
            return WK_ECORRUPT;
        pos += (size_t)rl;
    }
    if (pos != sv->rawa)
        return WK_ECORRUPT;
    out->len = sv->rawa;
    return 0;
}
