/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cold tier: committed hot blocks (zstd 3, 256 KiB) are merged, oldest first and under
 * a time budget, into values of at least cold_block_bytes (2 MiB) compressed once at a high
 * level (zstd 19) with a window covering the value and the store's dictionary. A merged
 * value is stored under its first block's id and keeps every block's own header, so ids,
 * event refs and the hash chain (over each block's uncompressed records) do not change.
 * One transaction per value: a crash leaves either the hot blocks or the merged value.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>
#include <string.h>
#include <zdict.h>

#include "rebuild_private.h"
#include "store_private.h"
#include "watchkeeper/error.h"
#include "watchkeeper/timefmt.h"

/* The dictionary of that id from meta (borrowed from txn), or NULL. */
static const MDB_val *dict_bytes(struct wk_store *st, MDB_txn *txn, uint32_t id, MDB_val *v)
{
    uint8_t key[9] = {'d', 'i', 'c', 't', ':', (uint8_t)(id >> 24), (uint8_t)(id >> 16),
                      (uint8_t)(id >> 8), (uint8_t)id};
    MDB_val k = {9, key};
    if (!id || mdb_get(txn, st->dbi[WK__DB_META], &k, v) != 0)
        return NULL;
    return v;
}

/* Compress src into out after hl header bytes at the cold level, with a window covering
 * all of src and dictionary d. @return frame size or -EIO. */
static ssize_t cold_compress(struct wk_store *st, ZSTD_CCtx *cc, const MDB_val *d,
                             const struct wk__buf *src, struct wk__buf *out, size_t hl)
{
    int wlog = 10;
    while (wlog < 27 && ((size_t)1 << wlog) < src->len)
        wlog++;
    ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, st->opts.cold_level);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, wlog);
    /* Level 19 (the default) with the btopt strategy and the longest match target: zstd's
     * own level 19 (btultra2, whose exact prices cost most of the time) takes 2.9x the CPU
     * for 0.55% smaller rebuild values; targetLength 999 against level 19's 256 is both
     * 0.6% smaller and faster with btopt. Levels 20-22 stay zstd's (btultra2) for who
     * wants those bytes at that price (docs/store.md, "Cold tier CPU"). */
    if (st->opts.cold_level >= 19)
        ZSTD_CCtx_setParameter(cc, ZSTD_c_targetLength, 999);
    if (st->opts.cold_level == 19)
        ZSTD_CCtx_setParameter(cc, ZSTD_c_strategy, ZSTD_btopt);
    if (d && ZSTD_isError(ZSTD_CCtx_loadDictionary(cc, d->mv_data, d->mv_size)))
        return -EIO;
    size_t bound = ZSTD_compressBound(src->len);
    out->len = 0;
    if (wk__buf_reserve(out, hl + bound) < 0)
        return -ENOMEM;
    size_t z = ZSTD_compress2(cc, out->p + hl, bound, src->p, src->len);
    if (ZSTD_isError(z))
        return -EIO;
    return (ssize_t)z;
}

static int add_stored(struct wk_store *st, MDB_txn *txn, int64_t delta)
{
    MDB_val k = {6, "totals"}, v;
    if (mdb_get(txn, st->dbi[WK__DB_META], &k, &v) != 0 || v.mv_size != 32)
        return 0;
    uint8_t t[32];
    memcpy(t, v.mv_data, 32);
    wk__put_u64le(t + 24, (uint64_t)((int64_t)wk__get_u64le(t + 24) + delta));
    MDB_val tv = {32, t};
    return mdb_put(txn, st->dbi[WK__DB_META], &k, &tv, 0);
}

struct cold {
    ZSTD_CCtx *cc;
    ZSTD_DCtx *dc;
    struct wk__buf raw, one, out, hdrs, form, check;
};

static void cold_fini(struct cold *w)
{
    ZSTD_freeCCtx(w->cc);
    ZSTD_freeDCtx(w->dc);
    wk__buf_fini(&w->raw);
    wk__buf_fini(&w->one);
    wk__buf_fini(&w->out);
    wk__buf_fini(&w->hdrs);
    wk__buf_fini(&w->form);
    wk__buf_fini(&w->check);
}

/* The rebuild form's dictionary (meta "cold_dict"), trained on this first form when there
 * is none yet and stored in txn. *id 0: none (the store's, d, is used). */
static int form_dict(struct wk_store *st, MDB_txn *txn, const struct wk__buf *form, MDB_val *dv,
                     uint32_t *id)
{
    MDB_val k = {9, "cold_dict"}, v;
    uint8_t key[10];
    *id = 0;
    if (mdb_get(txn, st->dbi[WK__DB_META], &k, &v) == 0 && v.mv_size == 4) {
        uint32_t cid = wk__get_u32le(v.mv_data);
        MDB_val dk = {wk__dict_key(key, cid), key};
        if (mdb_get(txn, st->dbi[WK__DB_META], &dk, dv) == 0) {
            *id = cid;
            wk__rebuild_totals.dict_bytes = dv->mv_size;
        }
        return 0;
    }
    /* 4 KiB samples of up to 2 MiB of the form. A 128 KiB dictionary (1% smaller values
     * than 64 KiB on the benchmark) whose content is, from far to near the data: what
     * ZDICT_trainFromBuffer picks for a 64 KiB dictionary (byte strings common across the
     * samples), the end of the form (whole events of each kind), the value's tables (its
     * strings and tuples: container ids, names and log paths, which recur in every value),
     * with entropy tables from the same samples (ZDICT_finalizeDictionary). On 200k events
     * 0.5% smaller values than ZDICT_trainFromBuffer's 128 KiB (docs/store.md). */
    size_t ns = form->len / 4096, cap = 128u << 10, room = cap - 2048, toff;
    if (ns > 512)
        ns = 512;
    if (ns < 16)
        return 0;
    size_t *sizes = malloc(ns * sizeof(*sizes));
    uint8_t *dict = malloc(cap), *content = malloc(room);
    int rc = -ENOMEM;
    if (!sizes || !dict || !content)
        goto out;
    for (size_t i = 0; i < ns; i++)
        sizes[i] = 4096;
    size_t clen = 0, n = ZDICT_trainFromBuffer(dict, 64u << 10, form->p, sizes, (unsigned)ns);
    size_t hs = ZDICT_isError(n) ? n : ZDICT_getDictHeaderSize(dict, n);
    if (!ZDICT_isError(n) && !ZDICT_isError(hs) && hs < n) {
        memcpy(content, dict + hs, n - hs);
        clen = n - hs;
    }
    size_t tl = wk__rebuild_form_tables(form->p, form->len, &toff);
    if (tl > room / 4)
        tl = 0; /* not expected: then the rest of the room goes to the form's end */
    size_t tail = room - clen - tl;
    if (tail > form->len)
        tail = form->len;
    memcpy(content + clen, form->p + form->len - tail, tail);
    memcpy(content + clen + tail, form->p + toff, tl);
    ZDICT_params_t zp = {.compressionLevel = st->opts.cold_level};
    n = ZDICT_finalizeDictionary(dict, cap, content, clen + tail + tl, form->p, sizes,
                                 (unsigned)ns, zp);
    if (ZDICT_isError(n)) /* the trained one, as before */
        n = ZDICT_trainFromBuffer(dict, cap, form->p, sizes, (unsigned)ns);
    rc = 0;
    if (ZDICT_isError(n))
        goto out;
    uint32_t cid = WK__COLD_DICT_BIT | 1;
    uint8_t idb[4];
    wk__put_u32le(idb, cid);
    MDB_val dk = {wk__dict_key(key, cid), key}, nv = {n, dict}, iv = {4, idb};
    if ((rc = mdb_put(txn, st->dbi[WK__DB_META], &dk, &nv, 0)) != 0 ||
        (rc = mdb_put(txn, st->dbi[WK__DB_META], &k, &iv, 0)) != 0 ||
        (rc = mdb_get(txn, st->dbi[WK__DB_META], &dk, dv)) != 0) {
        rc = wk__mdb_err(rc);
        goto out;
    }
    *id = cid;
    wk__rebuild_totals.dict_bytes = n;
out:
    free(sizes);
    free(dict);
    free(content);
    return rc;
}

/* The group of n blocks (w->raw, w->hdrs) as a rebuild value (format 4) in w->out, checked
 * by reading it back with the readers' code. @return 1 (built), 0 (not: a member of
 * format 1, or the check failed; the caller merges as before), <0 error. */
static int try_rebuild(struct wk_store *st, MDB_txn *txn, struct cold *w, const MDB_val *d,
                       uint32_t dict, uint64_t n)
{
    struct wk__rebuild_stats rs = {0};
    int rc = wk__rebuild_encode(w->hdrs.p, (uint32_t)n, w->raw.p, w->raw.len, &w->form, &rs);
    if (rc == -EINVAL || rc == WK_ECORRUPT)
        return 0;
    if (rc < 0)
        return rc;
    MDB_val fdv;
    uint32_t fid;
    if ((rc = form_dict(st, txn, &w->form, &fdv, &fid)) < 0)
        return rc;
    if (fid) {
        d = &fdv;
        dict = fid;
    }
    /* the rebuild version of each module the value uses, after the member headers */
    uint8_t vtab[WK__VTAB_MAX];
    size_t vt = wk__rebuild_vtab(rs.modules, vtab, sizeof(vtab));
    if (!vt)
        return 0;
    size_t hl = WK__MRG_HDR + w->hdrs.len + vt;
    ssize_t z = cold_compress(st, w->cc, d, &w->form, &w->out, hl);
    if (z < 0)
        return (int)z;
    uint8_t *m = w->out.p;
    memset(m, 0, WK__MRG_HDR);
    m[WK__BLK_OFF_FORMAT] = WK__BLK_REBUILT;
    m[WK__BLK_OFF_FLAGS] = WK__BLK_FLAG_COLD;
    m[WK__BLK_OFF_HDRLEN] = WK__MRG_HDR;
    wk__put_u32le(m + WK__MRG_OFF_COUNT, (uint32_t)n);
    wk__put_u32le(m + WK__MRG_OFF_DICT, dict);
    wk__put_u32le(m + WK__MRG_OFF_VTAB, (uint32_t)vt);
    memcpy(m + WK__MRG_HDR, w->hdrs.p, w->hdrs.len);
    memcpy(m + WK__MRG_HDR + w->hdrs.len, vtab, vt);
    w->out.len = hl + (size_t)z;
    /* What a reader will make of the stored bytes must be the blocks' records. */
    rc = wk__store_block_raw(st, txn, w->dc, w->out.p, w->out.len, &w->check);
    if (rc == -ENOMEM)
        return rc;
    if (rc < 0 || w->check.len != w->raw.len || memcmp(w->check.p, w->raw.p, w->raw.len) != 0)
        return 0;
    wk__rebuild_totals.rebuilt += rs.rebuilt;
    wk__rebuild_totals.whole += rs.whole;
    return 1;
}

/* Make the next group of hot blocks cold, in one transaction: merged into one value when
 * they reach cold_block_bytes together, a block alone recompressed in place.
 * @return blocks made cold (0: nothing to do now, stop), <0 error. */
static int one(struct wk_store *st, uint64_t keep_hot, struct cold *w, uint64_t *cursor)
{
    uint64_t cursor0 = *cursor;
    MDB_txn *txn;
    MDB_cursor *c;
    int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
    if (rc != 0)
        return wk__mdb_err(rc);
    MDB_val k, v;
    uint64_t last = 0;
    k.mv_size = 4;
    k.mv_data = "head";
    if (mdb_get(txn, st->dbi[WK__DB_META], &k, &v) == 0 && v.mv_size >= 8)
        last = wk__get_u64le(v.mv_data);
    if ((rc = mdb_cursor_open(txn, st->dbi[WK__DB_BLOCKS], &c)) != 0)
        goto fail;
    bool rebuild = st->opts.cold_rebuild && wk__rebuild_enabled();
    size_t target = st->opts.cold_block_bytes;
    uint8_t kb[8];
    wk__put_u64be(kb, *cursor);
    k.mv_size = 8;
    k.mv_data = kb;
    MDB_cursor_op op = MDB_SET_RANGE;
    uint64_t first = 0, n = 0;
    size_t old = 0;
    w->raw.len = w->hdrs.len = 0;
    const uint8_t *h1 = NULL; /* the value of a group of one */
    size_t h1len = 0;
    while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
        op = MDB_NEXT;
        uint64_t id = wk__get_u64be(k.mv_data);
        const uint8_t *h = v.mv_data;
        struct wk__blkloc loc;
        if (id + keep_hot > last)
            break;
        if ((rc = wk__blkloc_init(id, v.mv_data, v.mv_size, 0, &loc)) < 0)
            break;
        bool cold = loc.nmembers > 1 || (h[WK__BLK_OFF_FLAGS] & WK__BLK_FLAG_COLD);
        if (cold || (n && id != first + n)) {
            if (n)
                break; /* the group ends before a cold value or a gap */
            *cursor = id + loc.nmembers;
            continue;
        }
        if ((rc = wk__store_block_raw(st, txn, w->dc, h, v.mv_size, &w->one)) < 0 ||
            (rc = wk__buf_put(&w->raw, w->one.p, w->one.len)) < 0 ||
            (rc = wk__buf_put(&w->hdrs, h, WK__BLK_HDR)) < 0)
            break;
        wk__blk_hdr_unsplit(w->hdrs.p + w->hdrs.len - WK__BLK_HDR); /* now one frame */
        if (!n++)
            first = id;
        old += v.mv_size;
        h1 = h;
        h1len = v.mv_size;
        if (w->raw.len >= target)
            break;
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc != 0)
        goto fail;
    int result = 0;
    if (n && w->raw.len >= target) {
        MDB_val dv;
        const MDB_val *d = dict_bytes(st, txn, wk__store_dict_id(st), &dv);
        uint32_t dict = d ? wk__store_dict_id(st) : 0;
        uint8_t idb[8];
        int rb = rebuild ? try_rebuild(st, txn, w, d, dict, n) : 0;
        if (rb < 0) {
            rc = rb;
            goto fail;
        }
        if (rb) {
            for (uint64_t i = 1; i < n; i++) {
                wk__put_u64be(idb, first + i);
                MDB_val dk = {8, idb};
                if ((rc = mdb_del(txn, st->dbi[WK__DB_BLOCKS], &dk, NULL)) != 0)
                    goto fail;
            }
        } else if (n == 1) {
            /* In place, only when smaller; marked cold either way. */
            ssize_t z = cold_compress(st, w->cc, d, &w->raw, &w->out, WK__BLK_HDR);
            if (z < 0) {
                rc = (int)z;
                goto fail;
            }
            memcpy(w->out.p, h1, WK__BLK_HDR);
            if (WK__BLK_HDR + (size_t)z < h1len) {
                wk__blk_hdr_unsplit(w->out.p); /* one frame */
                wk__put_u32le(w->out.p + WK__BLK_OFF_DICT, dict);
                w->out.len = WK__BLK_HDR + (size_t)z;
            } else {
                memcpy(w->out.p + WK__BLK_HDR, h1 + WK__BLK_HDR, h1len - WK__BLK_HDR);
                w->out.len = h1len;
            }
            w->out.p[WK__BLK_OFF_FLAGS] |= WK__BLK_FLAG_COLD;
        } else {
            size_t hl = WK__MRG_HDR + w->hdrs.len;
            ssize_t z = cold_compress(st, w->cc, d, &w->raw, &w->out, hl);
            if (z < 0) {
                rc = (int)z;
                goto fail;
            }
            uint8_t *m = w->out.p;
            memset(m, 0, WK__MRG_HDR);
            m[WK__BLK_OFF_FORMAT] = WK__BLK_MERGED;
            m[WK__BLK_OFF_FLAGS] = WK__BLK_FLAG_COLD;
            m[WK__BLK_OFF_HDRLEN] = WK__MRG_HDR; /* the fixed part; members follow */
            wk__put_u32le(m + WK__MRG_OFF_COUNT, (uint32_t)n);
            wk__put_u32le(m + WK__MRG_OFF_DICT, dict);
            memcpy(m + WK__MRG_HDR, w->hdrs.p, w->hdrs.len);
            /* Members keep their own headers; their dictionary id field is unused here. */
            w->out.len = hl + (size_t)z;
            for (uint64_t i = 1; i < n; i++) {
                wk__put_u64be(idb, first + i);
                MDB_val dk = {8, idb};
                if ((rc = mdb_del(txn, st->dbi[WK__DB_BLOCKS], &dk, NULL)) != 0)
                    goto fail;
            }
        }
        wk__put_u64be(idb, first);
        MDB_val nk = {8, idb}, nv = {w->out.len, w->out.p};
        if ((rc = mdb_put(txn, st->dbi[WK__DB_BLOCKS], &nk, &nv, 0)) != 0 ||
            (rc = add_stored(st, txn, (int64_t)w->out.len - (int64_t)old)) != 0)
            goto fail;
        *cursor = first + n;
        result = (int)n;
    }
    if (!result && *cursor == cursor0) {
        mdb_txn_abort(txn); /* nothing changed: no commit (and no fsync) when idle */
        return 0;
    }
    uint8_t cb[8];
    wk__put_u64le(cb, *cursor);
    k.mv_size = 9;
    k.mv_data = "cold_next";
    v.mv_size = 8;
    v.mv_data = cb;
    if ((rc = mdb_put(txn, st->dbi[WK__DB_META], &k, &v, 0)) != 0)
        goto fail;
    if ((rc = mdb_txn_commit(txn)) != 0)
        return wk__mdb_err(rc);
    return result;
fail:
    mdb_txn_abort(txn);
    return rc < 0 ? rc : wk__mdb_err(rc);
}

/* A step's transaction ran out of map (MDB_MAP_FULL; it was aborted, nothing of it is
 * stored): grow the map as appends do and let the caller run the step again from pos0.
 * @return true (run it again), false (*rc stands: not a full map, or the map cannot grow). */
static bool regrow(struct wk_store *st, int *rc, uint64_t *pos, uint64_t pos0)
{
    if (*rc >= MDB_KEYEXIST && *rc <= MDB_LAST_ERRCODE) /* the steps' fail paths pass */
        *rc = wk__mdb_err(*rc);                         /* LMDB's codes through */
    if (*rc != WK_EMAP_FULL)
        return false;
    int g = wk__store_grow(st);
    if (g < 0) {
        *rc = g;
        return false;
    }
    *pos = pos0;
    return true;
}

int wk_store_recompact(struct wk_store *st, int64_t budget_ns, uint64_t keep_hot,
                       uint64_t *done)
{
    if (done)
        *done = 0;
    if (!st->w)
        return -EROFS;
    int64_t t0 = wk_time_mono_ns();
    struct cold w = {.cc = ZSTD_createCCtx(), .dc = ZSTD_createDCtx()};
    uint64_t cursor = 1;
    int rc = -ENOMEM;
    if (!w.cc || !w.dc)
        goto out;
    MDB_txn *txn;
    if ((rc = wk__store_rdtxn(st, &txn)) < 0)
        goto out;
    MDB_val k = {9, "cold_next"}, v;
    if (mdb_get(txn, st->dbi[WK__DB_META], &k, &v) == 0 && v.mv_size == 8)
        cursor = wk__get_u64le(v.mv_data);
    wk__store_rdtxn_end(st, txn);
    for (;;) {
        uint64_t c0 = cursor;
        rc = one(st, keep_hot, &w, &cursor);
        if (regrow(st, &rc, &cursor, c0))
            continue;
        if (rc > 0 && done)
            *done += (uint64_t)rc;
        if (rc <= 0 || wk_time_mono_ns() - t0 >= budget_ns)
            break;
    }
out:
    cold_fini(&w);
    return rc < 0 ? rc : 0;
}

/* ---------------------------------------------------------------------------------- */
/* compact --expand: rebuild values back to merged values                             */

/* A write transaction and in it the first value of format fmt at key >= next: the value
 * (*v), where it is (*loc) and its records in w->raw. @return 1 (*txn open: the caller
 * commits or aborts it), 0 (none left), <0 (*txn ended; WK_EREBUILD names the value). */
static int next_value(struct wk_store *st, struct cold *w, uint8_t fmt, uint64_t next,
                      MDB_txn **txn, MDB_val *v, struct wk__blkloc *loc)
{
    MDB_cursor *c;
    int rc = mdb_txn_begin(st->env, NULL, 0, txn);
    if (rc != 0)
        return wk__mdb_err(rc);
    if ((rc = mdb_cursor_open(*txn, st->dbi[WK__DB_BLOCKS], &c)) != 0) {
        mdb_txn_abort(*txn);
        return wk__mdb_err(rc);
    }
    uint8_t kb[8];
    wk__put_u64be(kb, next);
    MDB_val k = {8, kb};
    MDB_cursor_op op = MDB_SET_RANGE;
    while ((rc = mdb_cursor_get(c, &k, v, op)) == 0) {
        op = MDB_NEXT;
        if (k.mv_size == 8 && v->mv_size >= WK__MRG_HDR &&
            ((const uint8_t *)v->mv_data)[WK__BLK_OFF_FORMAT] == fmt)
            break;
    }
    mdb_cursor_close(c);
    if (rc != 0) {
        mdb_txn_abort(*txn);
        return rc == MDB_NOTFOUND ? 0 : wk__mdb_err(rc);
    }
    uint64_t key = wk__get_u64be(k.mv_data);
    if ((rc = wk__blkloc_init(key, v->mv_data, v->mv_size, 0, loc)) < 0 ||
        (rc = wk__store_block_raw(st, *txn, w->dc, v->mv_data, v->mv_size, &w->raw)) < 0) {
        if (rc == WK_EREBUILD)
            wk__rebuild_why_block(key, loc->nmembers);
        mdb_txn_abort(*txn);
        return rc;
    }
    return 1;
}

/* Store out as the value at key in place of one of old_size bytes, and commit txn.
 * @return 0, <0 (txn ended). */
static int replace_value(struct wk_store *st, MDB_txn *txn, uint64_t key,
                         const struct wk__buf *out, size_t old_size)
{
    uint8_t kb[8];
    wk__put_u64be(kb, key);
    MDB_val k = {8, kb}, nv = {out->len, out->p};
    int rc;
    if ((rc = mdb_put(txn, st->dbi[WK__DB_BLOCKS], &k, &nv, 0)) != 0 ||
        (rc = add_stored(st, txn, (int64_t)out->len - (int64_t)old_size)) != 0) {
        mdb_txn_abort(txn);
        return rc < 0 ? rc : wk__mdb_err(rc);
    }
    return (rc = mdb_txn_commit(txn)) ? wk__mdb_err(rc) : 0;
}

/* The next rebuild value at key >= *next: expanded into a merged value (format 3) in one
 * transaction. @return 1 (one rewritten; *next past it), 0 (none left), <0. */
static int expand_one(struct wk_store *st, struct cold *w, uint64_t *next)
{
    MDB_txn *txn;
    MDB_val v;
    struct wk__blkloc loc;
    int rc = next_value(st, w, WK__BLK_REBUILT, *next, &txn, &v, &loc);
    if (rc <= 0)
        return rc;
    uint64_t key = loc.key;
    /* The merged value: the same member headers, the records compressed as the cold tier
     * does (the store's current dictionary). */
    MDB_val dv;
    const MDB_val *d = dict_bytes(st, txn, wk__store_dict_id(st), &dv);
    uint32_t dict = d ? wk__store_dict_id(st) : 0;
    size_t mh = (size_t)loc.nmembers * WK__BLK_HDR;
    size_t hl = WK__MRG_HDR + mh;
    ssize_t z = cold_compress(st, w->cc, d, &w->raw, &w->out, hl);
    if (z < 0) {
        rc = (int)z;
        goto fail;
    }
    uint8_t *m = w->out.p;
    memset(m, 0, WK__MRG_HDR);
    m[WK__BLK_OFF_FORMAT] = WK__BLK_MERGED;
    m[WK__BLK_OFF_FLAGS] = WK__BLK_FLAG_COLD;
    m[WK__BLK_OFF_HDRLEN] = WK__MRG_HDR;
    wk__put_u32le(m + WK__MRG_OFF_COUNT, loc.nmembers);
    wk__put_u32le(m + WK__MRG_OFF_DICT, dict);
    memcpy(m + WK__MRG_HDR, (const uint8_t *)v.mv_data + WK__MRG_HDR, mh);
    w->out.len = hl + (size_t)z;
    /* What a reader makes of it must be the same records. */
    if ((rc = wk__store_block_raw(st, txn, w->dc, w->out.p, w->out.len, &w->check)) < 0)
        goto fail;
    if (w->check.len != w->raw.len || memcmp(w->check.p, w->raw.p, w->raw.len) != 0) {
        rc = WK_ECORRUPT;
        goto fail;
    }
    if ((rc = replace_value(st, txn, key, &w->out, v.mv_size)) < 0)
        return rc;
    *next = key + loc.nmembers;
    return 1;
fail:
    mdb_txn_abort(txn);
    return rc < 0 ? rc : wk__mdb_err(rc);
}

/* Rebuild values stored at keys >= from. */
static int count_rebuilt(struct wk_store *st, uint64_t from, uint64_t *left)
{
    MDB_txn *txn;
    MDB_cursor *c;
    int rc = wk__store_rdtxn(st, &txn);
    *left = 0;
    if (rc < 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, st->dbi[WK__DB_BLOCKS], &c)) == 0) {
        uint8_t kb[8];
        wk__put_u64be(kb, from);
        MDB_val k = {8, kb}, v;
        MDB_cursor_op op = MDB_SET_RANGE;
        while (mdb_cursor_get(c, &k, &v, op) == 0) {
            op = MDB_NEXT;
            *left += v.mv_size >= WK__MRG_HDR &&
                     ((const uint8_t *)v.mv_data)[WK__BLK_OFF_FORMAT] == WK__BLK_REBUILT;
        }
        mdb_cursor_close(c);
    }
    wk__store_rdtxn_end(st, txn);
    return rc ? wk__mdb_err(rc) : 0;
}

int wk_store_expand(struct wk_store *st, int64_t budget_ns, uint64_t *done, uint64_t *left)
{
    if (done)
        *done = 0;
    if (left)
        *left = 0;
    if (!st->w)
        return -EROFS;
    int64_t t0 = wk_time_mono_ns();
    struct cold w = {.cc = ZSTD_createCCtx(), .dc = ZSTD_createDCtx()};
    uint64_t next = 1;
    int rc = -ENOMEM;
    if (w.cc && w.dc) {
        for (;;) {
            uint64_t n0 = next;
            rc = expand_one(st, &w, &next);
            if (regrow(st, &rc, &next, n0))
                continue;
            if (rc > 0 && done)
                (*done)++;
            if (rc <= 0 || wk_time_mono_ns() - t0 >= budget_ns)
                break;
        }
    }
    if (rc >= 0 && left)
        rc = count_rebuilt(st, next, left);
    cold_fini(&w);
    return rc < 0 ? rc : 0;
}

/* The next merged value (format 3) at key >= *next as a rebuild value, in one transaction.
 * @return 1 (converted), 2 (kept merged: a member of format 1, or the form's check failed),
 * 0 (none left), <0. *next goes past it. */
static int rebuild_one(struct wk_store *st, struct cold *w, uint64_t *next)
{
    MDB_txn *txn;
    MDB_val v;
    struct wk__blkloc loc;
    int rc = next_value(st, w, WK__BLK_MERGED, *next, &txn, &v, &loc);
    if (rc <= 0)
        return rc;
    uint64_t key = loc.key;
    w->hdrs.len = 0;
    if ((rc = wk__buf_put(&w->hdrs, (const uint8_t *)v.mv_data + WK__MRG_HDR,
                          (size_t)loc.nmembers * WK__BLK_HDR)) < 0)
        goto fail;
    size_t old = v.mv_size;
    *next = key + loc.nmembers;
    MDB_val dv;
    const MDB_val *d = dict_bytes(st, txn, wk__store_dict_id(st), &dv);
    uint32_t dict = d ? wk__store_dict_id(st) : 0;
    int rb = try_rebuild(st, txn, w, d, dict, loc.nmembers);
    if (rb <= 0) {
        rc = rb;
        if (rb == 0) { /* stays merged; the form's dictionary may have been trained: keep it */
            rc = mdb_txn_commit(txn);
            return rc ? wk__mdb_err(rc) : 2;
        }
        goto fail;
    }
    if ((rc = replace_value(st, txn, key, &w->out, old)) < 0)
        return rc;
    return 1;
fail:
    mdb_txn_abort(txn);
    return rc < 0 ? rc : wk__mdb_err(rc);
}

int wk_store_rebuild_merged(struct wk_store *st, int64_t budget_ns, uint64_t *from,
                            uint64_t *done)
{
    if (done)
        *done = 0;
    if (!st->w)
        return -EROFS;
    if (!wk__rebuild_enabled() || !*from) {
        *from = 0;
        return 0;
    }
    int64_t t0 = wk_time_mono_ns();
    struct cold w = {.cc = ZSTD_createCCtx(), .dc = ZSTD_createDCtx()};
    int rc = -ENOMEM;
    if (w.cc && w.dc) {
        for (;;) {
            uint64_t f0 = *from;
            rc = rebuild_one(st, &w, from);
            if (regrow(st, &rc, from, f0))
                continue;
            if (rc == 1 && done)
                (*done)++;
            if (rc <= 0 || wk_time_mono_ns() - t0 >= budget_ns)
                break;
        }
    }
    if (rc == 0)
        *from = 0; /* none left */
    cold_fini(&w);
    return rc < 0 ? rc : 0;
}

int wk_store_rebuild_values(struct wk_store *st, uint64_t *n)
{
    return count_rebuilt(st, 1, n);
}
