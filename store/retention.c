/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retention: delete whole oldest blocks (by age of their newest event, or to keep the
 * stored bytes under a limit) with their index entries, in bounded transactions, and
 * record where the chain now starts (the id and predecessor hash of the oldest block
 * kept) so that verify passes on what remains. LMDB reuses the freed pages.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_private.h"
#include "watchkeeper/error.h"

#define RETAIN_BATCH 64

struct src_delta {
    char name[32];
    uint64_t events, raw, stored;
};

static void delta_add(struct src_delta *t, size_t *n, const char *name, size_t len,
                      uint64_t raw, uint64_t stored)
{
    if (len >= sizeof(t[0].name))
        len = sizeof(t[0].name) - 1;
    for (size_t i = 0; i < *n; i++) {
        if (strlen(t[i].name) == len && memcmp(t[i].name, name, len) == 0) {
            t[i].events++;
            t[i].raw += raw;
            t[i].stored += stored;
            return;
        }
    }
    if (*n == WK__MAX_SOURCES) {
        delta_add(t, n, "other", 5, raw, stored);
        return;
    }
    memset(&t[*n], 0, sizeof(t[*n]));
    memcpy(t[*n].name, name, len);
    t[*n].events = 1;
    t[*n].raw = raw;
    t[*n].stored = stored;
    (*n)++;
}

static int sub_u64(MDB_txn *txn, MDB_dbi meta, const char *name, const uint64_t *d, size_t n)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    uint8_t b[64];
    if (mdb_get(txn, meta, &k, &v) != 0 || v.mv_size != n * 8)
        return 0;
    memcpy(b, v.mv_data, n * 8);
    for (size_t i = 0; i < n; i++) {
        uint64_t x = wk__get_u64le(b + 8 * i);
        wk__put_u64le(b + 8 * i, x > d[i] ? x - d[i] : 0);
    }
    v.mv_size = n * 8;
    v.mv_data = b;
    return mdb_put(txn, meta, &k, &v, 0);
}

/* One bounded round. @return blocks removed (>= 0) or an error. */
static int retain_round(struct wk_store *st, int64_t now_ns, ZSTD_DCtx *dctx,
                        struct wk__buf *raw, uint64_t *raw_key, struct wk__blkview *view,
                        struct wk_event *ev)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_dbi meta = st->dbi[WK__DB_META];
    int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
    if (rc != 0)
        return wk__mdb_err(rc);
    uint64_t stored_total = 0;
    MDB_val k = {6, "totals"}, v;
    if (mdb_get(txn, meta, &k, &v) == 0 && v.mv_size == 32)
        stored_total = wk__get_u64le((uint8_t *)v.mv_data + 24);
    if ((rc = mdb_cursor_open(txn, st->dbi[WK__DB_BY_TIME], &c)) != 0) {
        mdb_txn_abort(txn);
        return wk__mdb_err(rc);
    }
    struct src_delta src[WK__MAX_SOURCES + 1];
    size_t nsrc = 0;
    uint64_t tot[4] = {0, 0, 0, 0};
    uint64_t next_id = 0;
    uint8_t next_prev[32];
    int removed = 0;
    while (removed < RETAIN_BATCH && (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0) {
        if (k.mv_size != 16 || v.mv_size != 16) {
            rc = WK_ECORRUPT;
            break;
        }
        int64_t ts_max = (int64_t)wk__get_u64le((uint8_t *)v.mv_data + 8);
        uint8_t idb[8];
        memcpy(idb, (uint8_t *)k.mv_data + 8, 8);
        uint64_t id = wk__get_u64be(idb);
        struct wk__blkloc loc;
        if ((rc = wk__store_block_find(st, txn, id, &loc)) < 0)
            break;
        bool old = st->opts.retain_age_ns && ts_max < now_ns - st->opts.retain_age_ns;
        bool big = st->opts.retain_bytes && stored_total > st->opts.retain_bytes;
        /* A merged value goes as a whole: once its first block went, the rest follow. */
        if (!old && !big && loc.member == 0)
            break;
        const uint8_t *h = loc.hdr;
        bool last_member = loc.member + 1 == loc.nmembers;
        /* The stored bytes of the value count when its last block goes. */
        size_t vsize = last_member ? loc.vlen : 0;
        /* Per-source counters: decode the block once (retention is rare and bounded). */
        uint32_t braw = wk__get_u32le(h + WK__BLK_OFF_RAW);
        if (loc.member == 0 || *raw_key != loc.key) {
            *raw_key = 0;
            if (wk__store_block_raw(st, txn, dctx, loc.val, loc.vlen, raw) == 0)
                *raw_key = loc.key;
        }
        if (*raw_key == loc.key && loc.off <= raw->len && loc.len <= raw->len - loc.off &&
            wk__blkview_open(view, wk__blk_format(h), raw->p + loc.off, loc.len) == 0) {
            size_t blen;
            const uint8_t *body;
            int64_t ts;
            while (wk__blkview_next(view, &body, &blen, &ts) == 1) {
                size_t ml = 7;
                const char *m = "unknown";
                if (wk__blkview_decode(view, body, blen, ts, ev) == 0) {
                    const char *x = wk_event_get_str(ev, &WK_KEY_EVENT_MODULE, &ml);
                    if (x)
                        m = x;
                    else
                        ml = 7;
                }
                uint64_t r = blen + 1;
                delta_add(src, &nsrc, m, ml, r,
                          braw ? (uint64_t)((double)loc.vlen * (double)r / (double)braw /
                                            loc.nmembers) : 0);
            }
        }
        tot[0] += wk__get_u32le(h + WK__BLK_OFF_COUNT);
        tot[1] += 1;
        tot[2] += wk__get_u32le(h + WK__BLK_OFF_RAW);
        tot[3] += vsize;
        stored_total = stored_total > vsize ? stored_total - vsize : 0;
        next_id = id + 1;
        memcpy(next_prev, h + WK__BLK_OFF_HASH, 32);
        MDB_val bk = {8, idb};
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
        if (last_member) {
            uint8_t kk[8];
            wk__put_u64be(kk, loc.key);
            MDB_val vk = {8, kk};
            if ((rc = mdb_del(txn, st->dbi[WK__DB_BLOCKS], &vk, NULL)) != 0)
                break;
        }
        int r1 = mdb_del(txn, st->dbi[WK__DB_BY_CONTAINER], &bk, NULL);
        int r2 = mdb_del(txn, st->dbi[WK__DB_BY_TERM], &bk, NULL);
        if ((r1 && r1 != MDB_NOTFOUND) || (r2 && r2 != MDB_NOTFOUND)) {
            rc = r1 ? r1 : r2;
            break;
        }
        removed++;
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc == 0 && removed) {
        uint8_t start[40];
        wk__put_u64le(start, next_id);
        memcpy(start + 8, next_prev, 32);
        k.mv_size = 5;
        k.mv_data = "start";
        v.mv_size = sizeof(start);
        v.mv_data = start;
        rc = mdb_put(txn, meta, &k, &v, 0);
        if (rc == 0)
            rc = sub_u64(txn, meta, "totals", tot, 4);
        for (size_t i = 0; i < nsrc && rc == 0; i++) {
            char name[48];
            snprintf(name, sizeof(name), "src:%.31s", src[i].name);
            uint64_t d[3] = {src[i].events, src[i].raw, src[i].stored};
            rc = sub_u64(txn, meta, name, d, 3);
        }
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc < 0 ? rc : wk__mdb_err(rc);
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return wk__mdb_err(rc);
    return removed;
}

int wk_store_retain(struct wk_store *st, int64_t now_ns, uint64_t *removed)
{
    if (removed)
        *removed = 0;
    if (!st->w)
        return -EROFS;
    if (!st->opts.retain_age_ns && !st->opts.retain_bytes)
        return 0;
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    struct wk_event *ev = NULL;
    struct wk__buf raw = {0};
    struct wk__blkview view = {0};
    uint64_t raw_key = 0;
    int rc = -ENOMEM;
    if (!dctx || wk_event_new(&ev) < 0)
        goto out;
    for (;;) {
        rc = retain_round(st, now_ns, dctx, &raw, &raw_key, &view, ev);
        if (rc <= 0)
            break;
        if (removed)
            *removed += (uint64_t)rc;
    }
out:
    ZSTD_freeDCtx(dctx);
    wk_event_free(ev);
    wk__buf_fini(&raw);
    wk__blkview_fini(&view);
    return rc < 0 ? rc : 0;
}
