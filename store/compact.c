/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cold tier: committed blocks written at the hot level (zstd 3) are recompressed at a
 * high level (zstd 19, with the store's dictionary) under a time budget, oldest first, and
 * replaced in place. Ids, event refs and the chain do not change: block hashes cover the
 * uncompressed records, not the frame. Header flag bit 0 marks a cold block.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_private.h"
#include "watchkeeper/error.h"
#include "watchkeeper/timefmt.h"

#define WK__BLK_FLAG_COLD 0x01u

static ZSTD_CDict *cold_cdict(struct wk_store *st, MDB_txn *txn, uint32_t id)
{
    uint8_t key[9] = {'d', 'i', 'c', 't', ':', (uint8_t)(id >> 24), (uint8_t)(id >> 16),
                      (uint8_t)(id >> 8), (uint8_t)id};
    MDB_val k = {9, key}, v;
    if (mdb_get(txn, st->dbi[WK__DB_META], &k, &v) != 0)
        return NULL;
    return ZSTD_createCDict(v.mv_data, v.mv_size, st->opts.cold_level);
}

/* Recompress one block. @return 1 done, 0 nothing to do (stop), <0 error. */
static int one(struct wk_store *st, uint64_t keep_hot, ZSTD_CCtx *cc, ZSTD_DCtx *dc,
               struct wk__buf *raw, struct wk__buf *out, ZSTD_CDict **cd, uint32_t *cd_id,
               uint64_t *cursor)
{
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
    uint8_t kb[8];
    wk__put_u64be(kb, *cursor);
    k.mv_size = 8;
    k.mv_data = kb;
    MDB_cursor_op op = MDB_SET_RANGE;
    int result = 0;
    while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
        op = MDB_NEXT;
        uint64_t id = wk__get_u64be(k.mv_data);
        if (id + keep_hot > last)
            break;
        *cursor = id + 1;
        const uint8_t *h = v.mv_data;
        if (v.mv_size < WK__BLK_HDR || (h[WK__BLK_OFF_FLAGS] & WK__BLK_FLAG_COLD))
            continue;
        if ((rc = wk__store_block_raw(st, txn, dc, h, v.mv_size, raw)) < 0)
            break;
        /* The block's own dictionary, or the current one for blocks written before it. */
        uint32_t dict = wk__get_u32le(h + WK__BLK_OFF_DICT);
        if (!dict)
            dict = wk__store_dict_id(st);
        if (dict && *cd_id != dict) {
            ZSTD_freeCDict(*cd);
            *cd = cold_cdict(st, txn, dict);
            *cd_id = *cd ? dict : 0;
        }
        ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters);
        ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
        if (dict && *cd_id == dict)
            ZSTD_CCtx_refCDict(cc, *cd);
        else {
            ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, st->opts.cold_level);
            dict = 0;
        }
        size_t bound = ZSTD_compressBound(raw->len);
        out->len = 0;
        if ((rc = wk__buf_reserve(out, WK__BLK_HDR + bound)) < 0)
            break;
        size_t z = ZSTD_compress2(cc, out->p + WK__BLK_HDR, bound, raw->p, raw->len);
        if (ZSTD_isError(z)) {
            rc = -EIO;
            break;
        }
        memcpy(out->p, h, WK__BLK_HDR);
        out->p[WK__BLK_OFF_FLAGS] |= WK__BLK_FLAG_COLD;
        size_t old = v.mv_size;
        if (WK__BLK_HDR + z < old) {
            wk__put_u32le(out->p + WK__BLK_OFF_DICT, dict);
            out->len = WK__BLK_HDR + z;
        } else { /* keep the hot frame, only mark it as done */
            memcpy(out->p + WK__BLK_HDR, h + WK__BLK_HDR, old - WK__BLK_HDR);
            out->len = old;
        }
        MDB_val nk = {8, kb}, nv = {out->len, out->p};
        wk__put_u64be(kb, id);
        if ((rc = mdb_put(txn, st->dbi[WK__DB_BLOCKS], &nk, &nv, 0)) != 0)
            break;
        /* Keep the stored-bytes total exact. */
        k.mv_size = 6;
        k.mv_data = "totals";
        if (mdb_get(txn, st->dbi[WK__DB_META], &k, &v) == 0 && v.mv_size == 32) {
            uint8_t t[32];
            memcpy(t, v.mv_data, 32);
            wk__put_u64le(t + 24, wk__get_u64le(t + 24) - (old - out->len));
            MDB_val tv = {32, t};
            rc = mdb_put(txn, st->dbi[WK__DB_META], &k, &tv, 0);
        }
        result = 1;
        break;
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc != 0)
        goto fail;
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

int wk_store_recompact(struct wk_store *st, int64_t budget_ns, uint64_t keep_hot,
                       uint64_t *done)
{
    if (done)
        *done = 0;
    if (!st->w)
        return -EROFS;
    int64_t t0 = wk_time_mono_ns();
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    ZSTD_CDict *cd = NULL;
    uint32_t cd_id = 0;
    struct wk__buf raw = {0}, out = {0};
    uint64_t cursor = 1;
    int rc = -ENOMEM;
    if (!cc || !dc)
        goto out;
    MDB_txn *txn;
    if ((rc = wk__store_rdtxn(st, &txn)) < 0)
        goto out;
    MDB_val k = {9, "cold_next"}, v;
    if (mdb_get(txn, st->dbi[WK__DB_META], &k, &v) == 0 && v.mv_size == 8)
        cursor = wk__get_u64le(v.mv_data);
    wk__store_rdtxn_end(st, txn);
    do {
        rc = one(st, keep_hot, cc, dc, &raw, &out, &cd, &cd_id, &cursor);
        if (rc == 1 && done)
            (*done)++;
    } while (rc == 1 && wk_time_mono_ns() - t0 < budget_ns);
out:
    ZSTD_freeCCtx(cc);
    ZSTD_freeDCtx(dc);
    ZSTD_freeCDict(cd);
    wk__buf_fini(&raw);
    wk__buf_fini(&out);
    return rc < 0 ? rc : 0;
}
