/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's environment and its writer: open/close, the open block being filled, sealing
 * (encode, compress, chain), and the one-transaction commit of sealed blocks with their
 * index entries, cursors, alerts, quarantined input and container identities. Map growth
 * on MDB_MAP_FULL happens here, between transactions, under the map lock.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sodium.h>
#define ZDICT_STATIC_LINKING_ONLY /* ZDICT_trainFromBuffer_fastCover (exported) */
#define ZSTD_STATIC_LINKING_ONLY  /* ZSTD_createCDict_advanced, ZSTD_getCParams (exported) */
#include <zdict.h>
#include <zstd.h>

#include "store_private.h"
#include "watchkeeper/error.h"
#include "watchkeeper/timefmt.h"

const char *const wk__store_db_names[WK__DB_COUNT] = {
    "blocks", "by_time", "by_container", "by_term", "cursors",
    "alerts", "deliveries", "containers", "quarantine", "meta",
};

static const char *const default_terms[] = {
    "process.executable", "user.id", "event.action", "auditd.key", NULL,
};

void wk_store_opts_init(struct wk_store_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->block_raw_max = 256u << 10;
    opts->block_age_ns = WK_NS_PER_SEC;
    opts->commit_interval_ns = WK_NS_PER_SEC / 10;
    opts->commit_bytes = 1u << 20;
    opts->zstd_level = 3;
    opts->cold_level = 19;
    opts->dictionaries = true;
    opts->dict_sample_bytes = 2u << 20;
    opts->map_initial = 64ull << 20;
    opts->map_max = 64ull << 30;
    opts->fsync = true;
    opts->checkpoint_blocks = 256;
    opts->cold_rebuild = true;
    opts->cold_block_bytes = 2u << 20; /* rebuild values: about 5,600 events (docs/store.md) */
}

int wk__mdb_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return WK_ENOT_FOUND;
    case MDB_MAP_FULL:
        return WK_EMAP_FULL;
    case MDB_VERSION_MISMATCH:
        return WK_EVERSION;
    case MDB_CORRUPTED:
    case MDB_INVALID:
    case MDB_PAGE_NOTFOUND:
        return WK_ECORRUPT;
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
    case MDB_DBS_FULL:
        return WK_ELIMIT;
    default:
        return rc > 0 ? -rc : (rc < 0 && rc > -4096 ? rc : -EIO);
    }
}

/* ---------------------------------------------------------------------------------- */
/* Writer state                                                                        */

/* Data held for the next commit that is not a block: one list of (db, key, value) in one
 * buffer. From `head` on, its first part is the batch's (commits with the sealed blocks),
 * the rest belongs to the open block (alerts, cursors, states added with its events) and
 * joins the batch when the block is sealed. Items are only appended: the batch's part grows
 * while the open block holds no events, so no item of the open block is there yet. A
 * commit moves `head` past the batch's part; what is left is moved to the front only when
 * the buffer is full (or not at all: the list empties at a commit after a seal). */
struct side_item {
    uint8_t db;
    bool append;
    bool dead; /* replaced by a later item (a state set again before its commit) */
    uint32_t klen, vlen;
    size_t off; /* key then value, in the list's buffer */
};

struct side {
    struct side_item *items;
    size_t n, cap;
    struct wk__buf bytes;
    size_t head;                 /* items before it are committed */
    size_t open;                 /* items [head, open): the batch's; [open, n): the open
                                  * block's */
    ssize_t cur_batch, cur_open; /* index of each part's last cursor item, for in-place
                                  * update; -1: none */
};

struct src_count {
    char name[32];
    uint64_t events, raw, stored;
};

struct sealed {
    uint64_t id;
    struct wk__buf val;  /* header + frame */
    uint8_t tkey[16];
    uint8_t tval[16];
    struct wk__buf csum; /* sorted u64 LE hashes */
    struct wk__buf tsum;
};

/* A set of u32 hashes (open addressing, 0 kept apart): a block's summaries, deduplicated
 * as they are added instead of collected per event and sorted at the seal. */
struct hset {
    uint32_t *v;
    size_t n, cap; /* cap: a power of two */
    bool zero;
};

/* A field name summarize() looks for, and which set its hashes go to (1: containers). */
struct wanted {
    const char *name;
    uint32_t len, hash;
    uint64_t set;
};

/* A dictionary the writer compresses with, the blocks' or the alerts': the newest one,
 * the id its meta key and frames name, and until it is trained the samples for it. */
struct wdict {
    ZSTD_CDict *cd;
    uint32_t id;   /* 0: none (yet) */
    bool done;     /* trained, loaded, or given up */
    struct wk__buf samples;
    size_t *sizes; /* of each sample */
    size_t n, cap;
};

struct wk__writer {
    /* The open block. */
    struct wk__buf raw;   /* gap bytes, then the records */
    size_t gap;           /* room kept before the records for the shape table */
    uint32_t count;
    int64_t ts_min, ts_max;
    int64_t first_mono;
    struct hset cset, tset; /* summaries: container and term hashes of the block */
    uint64_t *eh;           /* this event's hashes (set << 32 | hash), until added */
    size_t neh, ceh;
    uint32_t *emit;         /* seal: a set's values, sorted */
    size_t cemit;
    uint64_t want[4];       /* field name hashes summarized, by their low 8 bits */
    struct wanted *wanted;  /* those names, in the order summarize() tries them */
    size_t nwanted;
    struct src_count osrc[WK__MAX_SOURCES];
    size_t nosrc;

    /* The batch: sealed blocks and side data waiting for the commit. */
    struct sealed *sealed;
    size_t nsealed, csealed;
    size_t sealed_bytes;
    struct side side; /* the batch's side data, then the open block's */
    int64_t batch_mono; /* 0: batch empty */
    int64_t release_mono; /* last release_memory() */
    int64_t trim_mono;    /* last malloc_trim() in it */
    size_t churn;         /* largest batch committed since the last release_memory() */
    bool tuned_malloc;    /* mallopt above applied: release_memory() trims the heap */
    uint32_t schema;      /* the store's schema version: below 2, the first commit sets 2 */
    void *map_addr;       /* where the data file is mapped (found for map_for) */
    size_t map_len;
    uint64_t map_for;
    struct src_count bsrc[WK__MAX_SOURCES];
    size_t nbsrc;

    /* Chain and id state including what is sealed but not committed. */
    uint64_t next_block;
    uint8_t head[32];
    int64_t tmark, skew;
    uint64_t next_alert, next_quar;
    uint64_t since_ckpt;

    /* Committed state, for rollback of the in-memory ids on a failed commit. */
    uint64_t c_next_block, c_next_alert, c_next_quar;

    ZSTD_CCtx *cctx;
    struct wk__buf enc;   /* an event's values while the block before it is sealed */
    struct wk__buf desc;  /* its shape descriptor */
    struct wk__shapes shapes; /* shape table of the open block */
    int64_t prev_ts;      /* timestamp of the open block's last record */
    struct wk__buf blk;   /* the shape table (in front of the records when it did not fit
                           * the gap: then shapes + records) */
    double ratio_est; /* compressed/raw of recent blocks, 0: unknown */

    /* The blocks' dictionary (samples: records of the first blocks until trained). */
    struct wdict bd;
    struct wk__split *split; /* split.c's scratch */
    struct wk__split_rec *srec; /* the open block's records, for the split (when a split
                                 * field is set) */
    size_t csrec;

    /* Alerts: values are zstd frames (docs/store.md "Alert values"), with the alert
     * dictionary once trained on the first alerts' JSON (samples kept until then). */
    ZSTD_CCtx *acctx;
    struct wdict ad;
    bool alert_zstd;        /* a compressed alert was added: the store needs schema 3 */
    struct wk__buf aval;    /* refs + the compressed JSON of the alert being added */
};

static int want_add(struct wk__writer *w, const char *name, size_t len, uint64_t set);

/* The batch's part was committed: drop it. The buffers keep their capacity: the next
 * batch refills the same pages instead of faulting in new ones. */
static void side_drop_batch(struct side *s)
{
    s->cur_batch = -1;
    if (s->open == s->n) {
        s->n = s->head = s->open = 0;
        s->bytes.len = 0;
        s->cur_open = -1;
    } else {
        s->head = s->open;
    }
}

/* Move the items not committed yet to the front (the open block's part of one block's,
 * against the batch's many blocks), when the buffer has no room left at its end. */
static void side_compact(struct side *s)
{
    size_t keep = s->n - s->head, from = s->items[s->head].off;
    memmove(s->items, s->items + s->head, keep * sizeof(*s->items));
    memmove(s->bytes.p, s->bytes.p + from, s->bytes.len - from);
    s->bytes.len -= from;
    for (size_t i = 0; i < keep; i++)
        s->items[i].off -= from;
    if (s->cur_open >= 0)
        s->cur_open -= (ssize_t)s->head;
    if (s->cur_batch >= 0)
        s->cur_batch -= (ssize_t)s->head;
    s->n = keep;
    s->open -= s->head;
    s->head = 0;
}

static void side_fini(struct side *s)
{
    free(s->items);
    wk__buf_fini(&s->bytes);
}

/* Append an item to the open block's part (open) or to the batch's. */
static int side_add(struct side *s, bool open, uint8_t db, bool append, const void *k,
                    size_t klen, const void *v1, size_t v1len, const void *v2, size_t v2len)
{
    assert(open || s->open == s->n);
    if (s->head && (s->n == s->cap || s->bytes.cap - s->bytes.len < klen + v1len + v2len))
        side_compact(s);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct side_item *it = realloc(s->items, cap * sizeof(*it));
        if (!it)
            return -ENOMEM;
        s->items = it;
        s->cap = cap;
    }
    int rc = wk__buf_reserve(&s->bytes, klen + v1len + v2len);
    if (rc < 0)
        return rc;
    struct side_item *it = &s->items[s->n++];
    it->db = db;
    it->append = append;
    it->dead = false;
    it->klen = (uint32_t)klen;
    it->vlen = (uint32_t)(v1len + v2len);
    it->off = s->bytes.len;
    wk__buf_put(&s->bytes, k, klen);
    wk__buf_put(&s->bytes, v1, v1len);
    wk__buf_put(&s->bytes, v2, v2len);
    if (!open)
        s->open = s->n;
    return 0;
}

/* Mark the held meta items with this key in items [from, to) (a state set earlier) as
 * replaced. */
static void side_kill(struct side *s, size_t from, size_t to, const void *key, size_t klen)
{
    for (size_t i = from; i < to; i++) {
        struct side_item *it = &s->items[i];
        if (!it->dead && it->db == WK__DB_META && it->klen == klen &&
            memcmp(s->bytes.p + it->off, key, klen) == 0)
            it->dead = true;
    }
}

/* The open block was sealed: its items join the batch where they are (no copy). A state
 * it set replaces the batch's: the batch's item dies only now, so a commit before the seal
 * still writes the state that goes with the blocks it commits. */
static void side_seal(struct side *s)
{
    for (size_t i = s->open; i < s->n; i++) {
        const struct side_item *it = &s->items[i];
        if (!it->dead && it->db == WK__DB_META)
            side_kill(s, s->head, s->open, s->bytes.p + it->off, it->klen);
    }
    if (s->cur_open >= 0)
        s->cur_batch = s->cur_open;
    s->cur_open = -1;
    s->open = s->n;
}

static int side_cursor(struct side *s, bool open, const struct wk_store_cursor *cur)
{
    size_t klen = strlen(cur->source);
    ssize_t last = open ? s->cur_open : s->cur_batch;
    assert(last < (ssize_t)s->n && (last < 0 || s->items[last].db == WK__DB_CURSORS));
    if (last >= 0) {
        struct side_item *it = &s->items[last];
        if (it->klen == klen && it->vlen == cur->len &&
            memcmp(s->bytes.p + it->off, cur->source, klen) == 0) {
            memcpy(s->bytes.p + it->off + klen, cur->data, cur->len);
            return 0;
        }
    }
    int rc = side_add(s, open, WK__DB_CURSORS, false, cur->source, klen, cur->data, cur->len,
                      NULL, 0);
    if (rc == 0 && open)
        s->cur_open = (ssize_t)s->n - 1;
    else if (rc == 0)
        s->cur_batch = (ssize_t)s->n - 1;
    return rc;
}

static void wdict_drop_samples(struct wdict *d)
{
    wk__buf_fini(&d->samples);
    free(d->sizes);
    d->sizes = NULL;
    d->n = d->cap = 0;
}

static void wdict_fini(struct wdict *d)
{
    ZSTD_freeCDict(d->cd);
    wdict_drop_samples(d);
}

static struct wk__writer *writer_free(struct wk__writer *w)
{
    if (!w)
        return NULL;
    wk__buf_fini(&w->raw);
    free(w->cset.v);
    free(w->tset.v);
    free(w->eh);
    free(w->emit);
    free(w->wanted);
    side_fini(&w->side);
    for (size_t i = 0; i < w->csealed; i++) {
        wk__buf_fini(&w->sealed[i].val);
        wk__buf_fini(&w->sealed[i].csum);
        wk__buf_fini(&w->sealed[i].tsum);
    }
    free(w->sealed);
    ZSTD_freeCCtx(w->cctx);
    wk__buf_fini(&w->enc);
    wk__buf_fini(&w->desc);
    wk__buf_fini(&w->blk);
    wk__shapes_fini(&w->shapes);
    wdict_fini(&w->bd);
    wk__split_free(w->split);
    free(w->srec);
    ZSTD_freeCCtx(w->acctx);
    wdict_fini(&w->ad);
    wk__buf_fini(&w->aval);
    free(w);
    return NULL;
}

/* ---------------------------------------------------------------------------------- */
/* Environment                                                                         */

static int meta_get(MDB_txn *txn, struct wk_store *st, const char *name, MDB_val *v)
{
    MDB_val k = {strlen(name), (void *)name};
    return mdb_get(txn, st->dbi[WK__DB_META], &k, v);
}

static int meta_put(MDB_txn *txn, struct wk_store *st, const char *name, const void *p,
                    size_t n)
{
    MDB_val k = {strlen(name), (void *)name};
    MDB_val v = {n, (void *)p};
    return mdb_put(txn, st->dbi[WK__DB_META], &k, &v, 0);
}

int wk__store_rdtxn(struct wk_store *st, MDB_txn **txn)
{
    for (int tries = 0;; tries++) {
        pthread_rwlock_rdlock(&st->maplock);
        int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
        if (rc == 0)
            return 0;
        pthread_rwlock_unlock(&st->maplock);
        if (rc != MDB_MAP_RESIZED || tries > 3)
            return wk__mdb_err(rc);
        /* Another process grew the map: adopt its size. */
        pthread_rwlock_wrlock(&st->maplock);
        (void)mdb_env_set_mapsize(st->env, 0);
        pthread_rwlock_unlock(&st->maplock);
    }
}

void wk__store_rdtxn_end(struct wk_store *st, MDB_txn *txn)
{
    if (!txn)
        return;
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&st->maplock);
}

uint32_t wk__store_dict_id(const struct wk_store *st)
{
    return st->w ? st->w->bd.id : 0;
}

bool wk__store_is_term(const struct wk_store *st, const char *name, size_t len)
{
    /* Called for every field of every event added: the lengths of the terms reject most
     * names at once, the first byte most of the rest before any strlen. */
    if (len == 0 || !(st->term_lens >> (len < 63 ? len : 63) & 1))
        return false;
    for (size_t i = 0; i < st->nterms; i++) {
        const char *t = st->terms[i];
        if (t[0] == name[0] && strlen(t) == len && memcmp(t, name, len) == 0)
            return true;
    }
    return false;
}

/* The writer's dictionary: zstd's parameters for the level, except that the fast
 * strategies (fast, dfast: levels <= 4 at these sizes) take matches of 7 bytes or more
 * instead of 5-6. The records repeat long runs (names, paths, the shape's values): the
 * shorter matches cost sequences more than they save. At level 3 on 200k events (docs/
 * store.md, "Compression level"): 5% fewer hot bytes on store_bench's mix, 0.7% fewer on
 * the daemon's audit events, 1-3% fewer instructions to compress and 8-9% fewer to
 * decompress. The frames are ordinary ones: readers need nothing new. */
static ZSTD_CDict *hot_cdict(const void *dict, size_t n, int level)
{
    ZSTD_compressionParameters cp = ZSTD_getCParams(level, ZSTD_CONTENTSIZE_UNKNOWN, n);
    if (cp.strategy > ZSTD_dfast)
        return ZSTD_createCDict(dict, n, level); /* the others as zstd has them */
    cp.minMatch = cp.minMatch < 7 ? 7 : cp.minMatch;
    return ZSTD_createCDict_advanced(dict, n, ZSTD_dlm_byCopy, ZSTD_dct_auto, cp,
                                     ZSTD_defaultCMem);
}

/* The alert dictionary's compression tables: level 1's (fast), with a 16k-entry hash
 * table and matches of 7 bytes or more instead of 8k and 6. On the benchmark's alerts
 * (the first 3,000 of c-mix, instructions counted by callgrind) that is 18% fewer
 * instructions per alert for frames 21% smaller (x32.8 against x26.5): alert JSON repeats
 * long runs (keys, paths, the evidence's fields), and shorter matches only cost lookups. */
static ZSTD_CDict *alert_cdict(const void *dict, size_t n, int level)
{
    ZSTD_compressionParameters cp = ZSTD_getCParams(level, 0, n);
    cp.hashLog = 14;
    cp.minMatch = 7;
    return ZSTD_createCDict_advanced(dict, n, ZSTD_dlm_byCopy, ZSTD_dct_auto, cp,
                                     ZSTD_defaultCMem);
}

/* LMDB maps the file: a truncated data file would raise SIGBUS on first access, so
 * compare the size LMDB expects with the file's before any read. */
static int check_size(struct wk_store *st)
{
    MDB_envinfo info;
    MDB_stat ms;
    struct stat sb;
    char path[4096];
    mdb_env_info(st->env, &info);
    mdb_env_stat(st->env, &ms);
    snprintf(path, sizeof(path), "%s/data.mdb", st->dir);
    if (stat(path, &sb) < 0)
        return -errno;
    if ((uint64_t)(info.me_last_pgno + 1) * ms.ms_psize > (uint64_t)sb.st_size)
        return WK_ECORRUPT;
    st->map_size = info.me_mapsize;
    return 0;
}

typedef ZSTD_CDict *wdict_make(const void *dict, size_t n, int level);

/* The newest dictionary of a kind (meta wk__dict_key(kind | id), ids counting up) into d,
 * made by make; none: d stays empty. */
static int wdict_load(MDB_cursor *c, struct wdict *d, uint32_t kind, wdict_make *make,
                      int level)
{
    uint8_t key[10];
    size_t plen = wk__dict_key(key, kind) - 4; /* "dict:", "adict:" */
    key[plen - 1] = ';'; /* sorts right after every key of the kind: step back from it */
    MDB_val k = {plen, key}, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    rc = rc == 0 ? mdb_cursor_get(c, &k, &v, MDB_PREV) : mdb_cursor_get(c, &k, &v, MDB_LAST);
    key[plen - 1] = ':';
    if (rc != 0 || k.mv_size != plen + 4 || memcmp(k.mv_data, key, plen) != 0)
        return 0;
    const uint8_t *kp = (const uint8_t *)k.mv_data + plen;
    d->id = (uint32_t)kp[0] << 24 | (uint32_t)kp[1] << 16 | (uint32_t)kp[2] << 8 | kp[3];
    if (!(d->cd = make(v.mv_data, v.mv_size, level)))
        return -ENOMEM;
    d->done = true;
    return 0;
}

/* Keep one sample for d's training. */
static int wdict_sample(struct wdict *d, const void *p, size_t len)
{
    if (d->n == d->cap) {
        size_t c = d->cap ? d->cap * 2 : 1024;
        size_t *a = realloc(d->sizes, c * sizeof(*a));
        if (!a)
            return -ENOMEM;
        d->sizes = a;
        d->cap = c;
    }
    int rc = wk__buf_put(&d->samples, p, len);
    if (rc == 0)
        d->sizes[d->n++] = len;
    return rc;
}

/* Train d's next dictionary (at most cap bytes, its frames naming dict_id or, when 0, an
 * id zstd derives) on its samples, which are then dropped, and make it with make; hand it
 * to the next commit with the items of the open block or not (open: side_add) as meta
 * wk__dict_key(id) and compress with it in cctx from now on. One attempt: a failure
 * means the data does not suit one, and it goes on without (0). */
static int wdict_train(struct wk__writer *w, struct wdict *d, size_t cap, int level,
                       uint32_t id, uint32_t dict_id, wdict_make *make, ZSTD_CCtx *cctx,
                       bool open)
{
    uint8_t *dict = malloc(cap);
    if (!dict)
        return -ENOMEM;
    /* fastCover with fixed parameters instead of ZDICT_trainFromBuffer's search over k (4
     * trainings, each scored by compressing a quarter of the samples): on the benchmark's
     * mix (bench/daemon_e2e.sh, 2 MiB of samples) 0.016 s of CPU instead of 0.118 s and a
     * 1.5 MiB frequency table (f=18) instead of 6 MiB, for a ratio within 1% (19.8 against
     * 20.0 on the blocks after it). The training runs on the writer thread: while it runs,
     * the queue fills, so its time is memory too. */
    ZDICT_fastCover_params_t fp = {
        .k = 1024, .d = 8, .f = 18, .accel = 1,
        .zParams = { .compressionLevel = level, .dictID = dict_id },
    };
    size_t n = ZDICT_trainFromBuffer_fastCover(dict, cap, d->samples.p, d->sizes,
                                               (unsigned)d->n, fp);
    d->done = true;
    wdict_drop_samples(d);
    if (ZDICT_isError(n) || (dict_id && ZSTD_getDictID_fromDict(dict, n) != dict_id)) {
        free(dict);
        return 0;
    }
    ZSTD_CDict *cd = make(dict, n, level);
    uint8_t key[10];
    int rc = cd ? side_add(&w->side, open, WK__DB_META, false, key, wk__dict_key(key, id),
                           dict, n, NULL, 0)
                : -ENOMEM;
    free(dict);
    if (rc < 0) {
        ZSTD_freeCDict(cd);
        return rc;
    }
    ZSTD_freeCDict(d->cd);
    d->cd = cd;
    d->id = id;
    ZSTD_CCtx_refCDict(cctx, cd);
    return 0;
}

static int load_writer(struct wk_store *st, MDB_txn *txn)
{
    struct wk__writer *w = st->w;
    MDB_val v;
    MDB_cursor *c;
    w->next_block = 1;
    int rc = meta_get(txn, st, "head", &v);
    if (rc == 0 && v.mv_size >= 56) {
        const uint8_t *p = v.mv_data;
        w->next_block = wk__get_u64le(p) + 1;
        memcpy(w->head, p + 8, 32);
        w->tmark = (int64_t)wk__get_u64le(p + 40);
        w->skew = (int64_t)wk__get_u64le(p + 48);
    } else if (rc == MDB_NOTFOUND) {
        if (meta_get(txn, st, "start", &v) == 0 && v.mv_size >= 40) {
            w->next_block = wk__get_u64le(v.mv_data);
            memcpy(w->head, (uint8_t *)v.mv_data + 8, 32);
        }
    } else {
        return rc == 0 ? WK_ECORRUPT : wk__mdb_err(rc);
    }
    /* The newest dictionaries stay in use after a restart. */
    if ((rc = mdb_cursor_open(txn, st->dbi[WK__DB_META], &c)) != 0)
        return wk__mdb_err(rc);
    rc = wdict_load(c, &w->bd, 0, hot_cdict, st->opts.zstd_level);
    if (rc == 0)
        rc = wdict_load(c, &w->ad, WK__ALERT_DICT_BIT, alert_cdict, WK__ALERT_LEVEL);
    mdb_cursor_close(c);
    if (rc < 0)
        return rc;
    if (w->bd.cd)
        ZSTD_CCtx_refCDict(w->cctx, w->bd.cd);
    if (!(w->acctx = ZSTD_createCCtx()))
        return -ENOMEM;
    ZSTD_CCtx_setParameter(w->acctx, ZSTD_c_compressionLevel, WK__ALERT_LEVEL);
    ZSTD_CCtx_setParameter(w->acctx, ZSTD_c_checksumFlag, 0);
    /* Referenced, not copied: zstd copies a dictionary's tables for a source over 8 KiB
     * at level 1, and a tenth of the benchmark's alerts are 37 KB (ZSTD_c_forceAttachDict,
     * as for the blocks above): 22% fewer instructions per alert, the same frames' size
     * within 2%. */
    (void)ZSTD_CCtx_setParameter(w->acctx, (ZSTD_cParameter)1001, 1);
    if (w->ad.cd)
        ZSTD_CCtx_refCDict(w->acctx, w->ad.cd);
    w->ad.done = w->ad.done || !st->opts.dictionaries;
    if (meta_get(txn, st, "ckpt_since", &v) == 0 && v.mv_size == 8)
        w->since_ckpt = wk__get_u64le(v.mv_data);
    w->next_alert = w->next_quar = 1;
    const int dbs[2] = {WK__DB_ALERTS, WK__DB_QUARANTINE};
    uint64_t *nexts[2] = {&w->next_alert, &w->next_quar};
    for (int i = 0; i < 2; i++) {
        if ((rc = mdb_cursor_open(txn, st->dbi[dbs[i]], &c)) != 0)
            return wk__mdb_err(rc);
        MDB_val k;
        if (mdb_cursor_get(c, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
            *nexts[i] = wk__get_u64be(k.mv_data) + 1;
        mdb_cursor_close(c);
    }
    w->c_next_block = w->next_block;
    w->c_next_alert = w->next_alert;
    w->c_next_quar = w->next_quar;
    return 0;
}

int wk_store_open(struct wk_store **out, const char *dir, const struct wk_store_opts *opts)
{
    struct wk_store_opts defaults;
    int rc;
    MDB_txn *txn = NULL;
    *out = NULL;
    if (!opts) {
        wk_store_opts_init(&defaults);
        opts = &defaults;
    }
    if (!dir || !*dir)
        return -EINVAL;
    if (sodium_init() < 0)
        return -EIO;
    struct wk_store *st = wk_new0(struct wk_store, 1);
    if (!st)
        return -ENOMEM;
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    /* Map growth must not starve behind a stream of readers. */
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&st->maplock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&st->dict_mu, NULL);
    pthread_mutex_init(&st->wrote_mu, NULL);
    randombytes_buf(st->wrote_key, sizeof(st->wrote_key));
    st->opts = *opts;
    st->opts.index_terms = NULL;
    st->opts.key_path = NULL;
    st->opts.split_field = NULL;
    st->rdonly = opts->read_only;
    if (st->opts.block_raw_max < 1024)
        st->opts.block_raw_max = 1024;
    if (st->opts.map_max < st->opts.map_initial)
        st->opts.map_max = st->opts.map_initial;
    st->dir = strdup(dir);
    if (st->dir) {
        if (opts->key_path)
            st->key_path = strdup(opts->key_path);
        else if (asprintf(&st->key_path, "%s/signing.key", dir) < 0)
            st->key_path = NULL;
    }
    if (!st->dir || !st->key_path) {
        rc = -ENOMEM;
        goto fail;
    }
    {
        const char *sf = opts->split_field ? opts->split_field : "auditd.key";
        if (strlen(sf) > WK__SPLIT_FIELD_MAX) {
            rc = -EINVAL;
            goto fail;
        }
        if (*sf && !(st->opts.split_field = st->split_field = strdup(sf))) {
            rc = -ENOMEM;
            goto fail;
        }
    }
    const char *const *terms = opts->index_terms ? opts->index_terms : default_terms;
    for (size_t i = 0; terms[i]; i++)
        st->nterms++;
    st->terms = wk_new0(char *, st->nterms + 1);
    if (!st->terms) {
        rc = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < st->nterms; i++) {
        if (!(st->terms[i] = strdup(terms[i]))) {
            rc = -ENOMEM;
            goto fail;
        }
        size_t l = strlen(terms[i]);
        st->term_lens |= 1ull << (l < 63 ? l : 63);
    }
    if (!st->rdonly && mkdir(dir, 0700) < 0 && errno != EEXIST) {
        rc = -errno;
        goto fail;
    }
    struct stat sb;
    if (stat(dir, &sb) < 0) {
        rc = -errno;
        goto fail;
    }
    if (!S_ISDIR(sb.st_mode)) {
        rc = -ENOTDIR;
        goto fail;
    }
    if ((rc = mdb_env_create(&st->env)) != 0 || (rc = mdb_env_set_maxdbs(st->env, 16)) != 0 ||
        (rc = mdb_env_set_maxreaders(st->env, 512)) != 0 ||
        (rc = mdb_env_set_mapsize(st->env, (size_t)st->opts.map_initial)) != 0) {
        rc = wk__mdb_err(rc);
        goto fail;
    }
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
    if (st->rdonly)
        flags |= MDB_RDONLY;
    if (!st->opts.fsync)
        flags |= MDB_NOSYNC;
    if (st->rdonly) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/data.mdb", dir);
        if (access(path, F_OK) < 0) {
            rc = -ENOENT;
            goto fail;
        }
    }
    if ((rc = mdb_env_open(st->env, dir, flags, 0600)) != 0) {
        rc = wk__mdb_err(rc);
        goto fail;
    }
    if ((rc = check_size(st)) < 0)
        goto fail;
    if ((rc = mdb_txn_begin(st->env, NULL, st->rdonly ? MDB_RDONLY : 0, &txn)) != 0) {
        rc = wk__mdb_err(rc);
        goto fail;
    }
    for (int i = 0; i < WK__DB_COUNT; i++) {
        rc = mdb_dbi_open(txn, wk__store_db_names[i], st->rdonly ? 0 : MDB_CREATE, &st->dbi[i]);
        if (rc != 0) {
            rc = rc == MDB_NOTFOUND ? -ENOENT : wk__mdb_err(rc);
            goto fail;
        }
    }
    MDB_val v;
    uint32_t schema = WK_STORE_SCHEMA_VERSION;
    rc = meta_get(txn, st, "schema", &v);
    if (rc == MDB_NOTFOUND && !st->rdonly) {
        uint8_t b[4];
        wk__put_u32le(b, WK_STORE_SCHEMA_VERSION);
        if ((rc = meta_put(txn, st, "schema", b, 4)) != 0) {
            rc = wk__mdb_err(rc);
            goto fail;
        }
    } else if (rc != 0) {
        rc = rc == MDB_NOTFOUND ? -ENOENT : wk__mdb_err(rc);
        goto fail;
    } else if (v.mv_size != 4 || (schema = wk__get_u32le(v.mv_data)) < WK__SCHEMA_OLDEST ||
               schema > WK_STORE_SCHEMA_VERSION) {
        rc = WK_EVERSION;
        goto fail;
    }
    if (!st->rdonly) {
        /* Page faults are expensive on these VMs: keep freed heap memory (LMDB's dirty
         * overflow pages, zstd buffers) for reuse instead of trimming and re-faulting it.
         * Process-wide, so only a writer (the daemon, ingest) sets it. */
        bool tune = !getenv("WK_STORE_NO_MALLOPT");
        if (tune) {
            mallopt(M_TRIM_THRESHOLD, 64 << 20);
            mallopt(M_MMAP_THRESHOLD, 16 << 20);
        }
        st->w = wk_new0(struct wk__writer, 1);
        if (!st->w || !(st->w->cctx = ZSTD_createCCtx())) {
            rc = -ENOMEM;
            goto fail;
        }
        st->w->tuned_malloc = tune;
        st->w->schema = schema;
        /* The order of the checks before: a term named like a container field is one. */
        if ((rc = want_add(st->w, "container.id", 12, 1)) < 0 ||
            (rc = want_add(st->w, "container.name", 14, 1)) < 0 ||
            (rc = want_add(st->w, "event.module", 12, 0)) < 0)
            goto fail;
        for (size_t i = 0; i < st->nterms; i++) {
            if ((rc = want_add(st->w, st->terms[i], strlen(st->terms[i]), 0)) < 0)
                goto fail;
        }
        st->w->side.cur_batch = st->w->side.cur_open = -1;
        ZSTD_CCtx_setParameter(st->w->cctx, ZSTD_c_compressionLevel, st->opts.zstd_level);
        /* No XXH64 content checksum in the frames: readers skip it and verify checks the
         * records' BLAKE2b of the header over the same bytes, so it only cost the writer
         * ~970 instructions per event (callgrind, bench/daemon_e2e.sh audit only). Frames
         * written with it stay readable. */
        ZSTD_CCtx_setParameter(st->w->cctx, ZSTD_c_checksumFlag, 0);
        /* The dictionary's tables are referenced, not copied into the context per block
         * (zstd copies them for sources this large: 384 KiB of tables at level 3 for a
         * 256 KiB block): the same frames, ~2,800 instructions per event less.
         * ZSTD_c_forceAttachDict is ZSTD_c_experimentalParam4 (zstd >= 1.4.0), ZSTD_
         * dictForceAttach 1; a library that refuses it copies, as before. */
        (void)ZSTD_CCtx_setParameter(st->w->cctx, (ZSTD_cParameter)1001, 1);
        if ((rc = load_writer(st, txn)) < 0)
            goto fail;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0) {
        rc = wk__mdb_err(rc);
        goto fail;
    }
    if (!st->rdonly && (rc = wk__key_load(st, true)) < 0)
        goto fail;
    *out = st;
    return 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    wk_store_close(st);
    return rc;
}

static int commit(struct wk_store *st, bool final);
static int seal(struct wk_store *st);

struct wk_store *wk_store_close(struct wk_store *st)
{
    if (!st)
        return NULL;
    if (st->w && st->env) {
        if (seal(st) == 0)
            (void)commit(st, true);
    }
    st->w = writer_free(st->w);
    if (st->env)
        mdb_env_close(st->env);
    for (struct wk__dict *d = st->dicts, *n; d; d = n) {
        n = d->next;
        ZSTD_freeDDict(d->ddict);
        free(d);
    }
    for (size_t i = 0; st->terms && i < st->nterms; i++)
        free(st->terms[i]);
    free(st->terms);
    free(st->split_field);
    free(st->dir);
    free(st->key_path);
    pthread_rwlock_destroy(&st->maplock);
    pthread_mutex_destroy(&st->dict_mu);
    pthread_mutex_destroy(&st->wrote_mu);
    sodium_memzero(st->wrote_key, sizeof(st->wrote_key));
    sodium_memzero(st->sk, sizeof(st->sk));
    free(st);
    return NULL;
}

const char *wk_store_dir(const struct wk_store *st)
{
    return st->dir;
}

/* ---------------------------------------------------------------------------------- */
/* Adding                                                                              */

static int src_add(struct src_count *tab, size_t *n, const char *name, size_t len,
                   uint64_t events, uint64_t raw, uint64_t stored)
{
    if (len >= sizeof(tab[0].name))
        len = sizeof(tab[0].name) - 1;
    for (size_t i = 0; i < *n; i++) {
        if (strlen(tab[i].name) == len && memcmp(tab[i].name, name, len) == 0) {
            tab[i].events += events;
            tab[i].raw += raw;
            tab[i].stored += stored;
            return 0;
        }
    }
    if (*n == WK__MAX_SOURCES)
        return src_add(tab, n, "other", 5, events, raw, stored);
    memcpy(tab[*n].name, name, len);
    tab[*n].name[len] = '\0';
    tab[*n].events = events;
    tab[*n].raw = raw;
    tab[*n].stored = stored;
    (*n)++;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static size_t hset_slot(const struct hset *s, uint32_t h)
{
    size_t m = s->cap - 1, i = (size_t)((h * 0x9E3779B1u) >> 7) & m;
    while (s->v[i] && s->v[i] != h)
        i = (i + 1) & m;
    return i;
}

/* Room for `more` values at a load of at most 1/2. */
static int hset_reserve(struct hset *s, size_t more)
{
    if ((s->n + more) * 2 <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 256;
    while ((s->n + more) * 2 > cap)
        cap *= 2;
    uint32_t *v = calloc(cap, sizeof(*v));
    if (!v)
        return -ENOMEM;
    struct hset n = { v, s->n, cap, s->zero };
    for (size_t i = 0; i < s->cap; i++) {
        if (s->v[i])
            v[hset_slot(&n, s->v[i])] = s->v[i];
    }
    free(s->v);
    *s = n;
    return 0;
}

/* After hset_reserve: cannot fail. */
static void hset_add(struct hset *s, uint32_t h)
{
    if (!h) {
        s->zero = true;
        return;
    }
    size_t i = hset_slot(s, h);
    if (!s->v[i]) {
        s->v[i] = h;
        s->n++;
    }
}

/* A name summarize() looks at (name borrowed: a literal or st->terms), also in the map of
 * the low 8 bits of the wanted names' hashes. */
static int want_add(struct wk__writer *w, const char *name, size_t len, uint64_t set)
{
    struct wanted *a = realloc(w->wanted, (w->nwanted + 1) * sizeof(*a));
    if (!a)
        return -ENOMEM;
    w->wanted = a;
    uint32_t h = wk_key_hash(name, len);
    a[w->nwanted++] = (struct wanted){ name, (uint32_t)len, h, set };
    w->want[(h >> 6) & 3] |= 1ull << (h & 63);
    return 0;
}

/* Summaries of one event: container id and name, source, and the configured terms, into
 * w->eh; the block's sets get them once the event is surely added (summarize_add). Only
 * the fields whose name hash is one of those names are looked at. */
static int summarize(struct wk_store *st, const struct wk_event *ev, size_t *nc, size_t *nt)
{
    struct wk__writer *w = st->w;
    size_t nf = wk_event_nfields(ev);
    const uint32_t *hs = wk_event_field_hashes(ev);
    w->neh = *nc = *nt = 0;
    for (size_t i = 0; i < nf; i++) {
        uint32_t fh = hs[i];
        if (!(w->want[(fh >> 6) & 3] >> (fh & 63) & 1))
            continue;
        const struct wk_key *k = wk_event_field_key(ev, i);
        const struct wanted *wn = w->wanted, *end = w->wanted + w->nwanted;
        while (wn < end && !(wn->hash == fh && wn->len == k->len &&
                             memcmp(wn->name, k->name, k->len) == 0))
            wn++;
        if (wn == end)
            continue;
        uint64_t set = wn->set; /* 1: containers, 0: terms */
        const struct wk_value *v = wk_event_field_value(ev, i);
        char buf[32];
        const char *s;
        size_t len;
        size_t n = set == 0 && v->kind == WK_VAL_STRLIST ? v->len : 1;
        if (w->neh + n > w->ceh) {
            size_t c = w->ceh ? w->ceh : 64;
            while (w->neh + n > c)
                c *= 2;
            uint64_t *a = realloc(w->eh, c * sizeof(*a));
            if (!a)
                return -ENOMEM;
            w->eh = a;
            w->ceh = c;
        }
        if (set == 0 && v->kind == WK_VAL_STRLIST) {
            for (uint32_t j = 0; j < v->len; j++)
                w->eh[w->neh++] = wk__term_hash32(k->name, k->len, v->u.items[j].s,
                                                  v->u.items[j].len);
            *nt += v->len;
        } else if (wk__value_text(v, buf, &s, &len)) {
            w->eh[w->neh++] = set << 32 | wk__term_hash32(k->name, k->len, s, len);
            *(set ? nc : nt) += 1;
        }
    }
    return 0;
}

static void summarize_add(struct wk__writer *w)
{
    for (size_t i = 0; i < w->neh; i++)
        hset_add(w->eh[i] >> 32 ? &w->cset : &w->tset, (uint32_t)w->eh[i]);
    w->neh = 0;
}

/* A set's values, sorted, as u32 LE; the set is emptied. */
static int hset_emit(struct wk__writer *w, struct wk__buf *out, struct hset *s)
{
    size_t n = s->n + s->zero;
    out->len = 0;
    int rc = wk__buf_reserve(out, n * 4 + 8);
    if (rc < 0)
        return rc;
    if (n > w->cemit) {
        uint32_t *a = realloc(w->emit, n * sizeof(*a));
        if (!a)
            return -ENOMEM;
        w->emit = a;
        w->cemit = n;
    }
    size_t m = 0;
    if (s->zero)
        w->emit[m++] = 0;
    for (size_t i = 0; i < s->cap && m < n; i++) {
        if (s->v[i])
            w->emit[m++] = s->v[i];
    }
    if (m > 1)
        qsort(w->emit, m, sizeof(*w->emit), cmp_u32);
    for (size_t i = 0; i < m; i++) {
        wk__put_u32le(out->p + out->len, w->emit[i]);
        out->len += 4;
    }
    if (s->n)
        memset(s->v, 0, s->cap * sizeof(*s->v));
    s->n = 0;
    s->zero = false;
    return 0;
}

static bool batch_empty(const struct wk__writer *w)
{
    return w->nsealed == 0 && w->side.open == w->side.head;
}

static void batch_touch(struct wk__writer *w)
{
    if (!w->batch_mono)
        w->batch_mono = wk_time_mono_ns();
}

/* Collect the records of the first blocks as samples; once there are enough, train a
 * dictionary, hand it to the next commit (meta "dict:" id), and use it from this block on.
 * Blocks compressed before keep dictionary 0 and stay readable. */
static int dict_sample(struct wk_store *st, const uint8_t *blk, size_t len, size_t records)
{
    struct wk__writer *w = st->w;
    /* Samples: the block's shape table, then each record. */
    size_t pos = len - records, blen = pos;
    const uint8_t *body = blk;
    int rc;
    /* Room for all the samples at the first block: grown by doubling, the buffer was
     * copied at each step into pages faulted in for it (twice the samples' size in all). */
    if (!w->bd.samples.cap &&
        (rc = wk__buf_reserve(&w->bd.samples, st->opts.dict_sample_bytes + len)) < 0)
        return rc;
    for (bool first = true;
         first || wk__store_next_record(blk, len, &pos, &body, &blen) == 1;
         first = false) {
        if ((rc = wdict_sample(&w->bd, body, blen)) < 0)
            return rc;
    }
    if (w->bd.samples.len < st->opts.dict_sample_bytes)
        return 0;
    /* (with the block being sealed: it joins the batch with the block's items) */
    return wdict_train(w, &w->bd, 64u << 10, st->opts.zstd_level, w->bd.id + 1, 0, hot_cdict,
                       w->cctx, true);
}

/* Seal the open block: compress, chain, prepare its index entries. */
static int seal(struct wk_store *st)
{
    struct wk__writer *w = st->w;
    int rc;
    if (w->count == 0)
        return 0;
    if (w->nsealed == w->csealed) {
        size_t c = w->csealed ? w->csealed * 2 : 8;
        struct sealed *s = realloc(w->sealed, c * sizeof(*s));
        if (!s)
            return -ENOMEM;
        memset(s + w->csealed, 0, (c - w->csealed) * sizeof(*s));
        w->sealed = s;
        w->csealed = c;
    }
    struct sealed *b = &w->sealed[w->nsealed];
    /* The block's bytes: its shape table, then the records. The table goes in the gap kept
     * in front of the records when it fits (no copy of the records: ~860 instructions per
     * event); else both are copied into blk and the next blocks keep a gap this large. */
    size_t records = w->raw.len - w->gap;
    size_t tlen = wk__shapes_section_len(&w->shapes);
    const uint8_t *bp;
    size_t blen = tlen + records;
    size_t grow_gap = 0;
    if (tlen <= w->gap) { /* written there directly, not built apart and copied */
        uint8_t *at = w->raw.p + w->gap - tlen;
        wk__shapes_section_put(&w->shapes, at);
        bp = at;
    } else {
        w->blk.len = 0;
        if ((rc = wk__shapes_section(&w->shapes, &w->blk)) < 0 ||
            (rc = wk__buf_put(&w->blk, w->raw.p + w->gap, records)) < 0)
            return rc;
        bp = w->blk.p;
        grow_gap = tlen * 2 + 256;
    }
    if (blen > UINT32_MAX)
        return WK_ELIMIT;
    if (st->opts.dictionaries && !w->bd.done && (rc = dict_sample(st, bp, blen, records)) < 0)
        return rc;
    /* one frame, or two (split.c: a query on the split field reads the first alone) */
    uint8_t format;
    if ((rc = wk__split_compress(&w->split, w->cctx, st->opts.split_field, bp, blen,
                                 st->opts.split_field ? w->srec : NULL, w->count, &b->val,
                                 WK__BLK_HDR, &format)) < 0)
        return rc;
    size_t z = b->val.len - WK__BLK_HDR;
    uint8_t *h = b->val.p;
    memset(h, 0, WK__BLK_HDR);
    h[WK__BLK_OFF_FORMAT] = format;
    h[WK__BLK_OFF_FLAGS] = wk__records_sha256() ? WK__BLK_FLAG_SHA256 : 0;
    h[WK__BLK_OFF_HDRLEN] = WK__BLK_HDR & 0xff;
    h[WK__BLK_OFF_HDRLEN + 1] = WK__BLK_HDR >> 8;
    wk__put_u32le(h + WK__BLK_OFF_COUNT, w->count);
    wk__put_u32le(h + WK__BLK_OFF_RAW, (uint32_t)blen);
    wk__put_u32le(h + WK__BLK_OFF_DICT, w->bd.cd ? w->bd.id : 0);
    wk__put_u64le(h + WK__BLK_OFF_TSMIN, (uint64_t)w->ts_min);
    wk__put_u64le(h + WK__BLK_OFF_TSMAX, (uint64_t)w->ts_max);
    memcpy(h + WK__BLK_OFF_PREV, w->head, 32);
    if ((rc = wk__records_hash(h, bp, blen, h + WK__BLK_OFF_RHASH)) < 0)
        return rc;
    b->id = w->next_block;
    wk__chain_hash(b->id, h, h + WK__BLK_OFF_HASH);
    b->val.len = WK__BLK_HDR + z;

    if ((rc = hset_emit(w, &b->csum, &w->cset)) < 0 ||
        (rc = hset_emit(w, &b->tsum, &w->tset)) < 0)
        return rc;
    side_seal(&w->side);

    /* Time key: the running maximum of ts_max, so keys only grow (MDB_APPEND) even when
     * events arrive out of order; skew bounds how far below its key a block may reach. */
    int64_t tmark = w->ts_max > w->tmark ? w->ts_max : w->tmark;
    int64_t skew = tmark - w->ts_min;
    wk__put_tskey(b->tkey, tmark);
    wk__put_u64be(b->tkey + 8, b->id);
    wk__put_u64le(b->tval, (uint64_t)w->ts_min);
    wk__put_u64le(b->tval + 8, (uint64_t)w->ts_max);
    w->tmark = tmark;
    if (skew > w->skew)
        w->skew = skew;

    for (size_t i = 0; i < w->nosrc; i++) {
        uint64_t stored = records ? (uint64_t)((double)b->val.len * (double)w->osrc[i].raw /
                                               (double)records)
                                  : 0;
        src_add(w->bsrc, &w->nbsrc, w->osrc[i].name, strlen(w->osrc[i].name),
                w->osrc[i].events, w->osrc[i].raw, stored);
    }
    memcpy(w->head, h + WK__BLK_OFF_HASH, 32);
    w->next_block++;
    w->nsealed++;
    w->sealed_bytes += b->val.len;
    double r = (double)z / (double)blen;
    w->ratio_est = w->ratio_est > 0 ? (w->ratio_est + r) / 2 : r;
    batch_touch(w);

    w->raw.len = 0; /* the block is empty: the records start after the (new) gap */
    if (grow_gap > w->gap && wk__buf_reserve(&w->raw, grow_gap) == 0)
        w->gap = grow_gap;
    w->raw.len = w->gap;
    w->count = 0;
    w->prev_ts = 0;
    wk__shapes_reset(&w->shapes);
    w->nosrc = 0;
    return 0;
}

static int add_u64(MDB_txn *txn, struct wk_store *st, const char *name, const uint64_t *d,
                   size_t n)
{
    MDB_val v;
    uint8_t b[64];
    memset(b, 0, sizeof(b));
    int rc = meta_get(txn, st, name, &v);
    if (rc == 0 && v.mv_size == n * 8)
        memcpy(b, v.mv_data, n * 8);
    else if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    for (size_t i = 0; i < n; i++)
        wk__put_u64le(b + 8 * i, wk__get_u64le(b + 8 * i) + d[i]);
    return meta_put(txn, st, name, b, n * 8);
}

/* Whether a block of the batch has a SHA-256 records hash (its store then needs schema 2). */
static bool batch_has_sha256(const struct wk__writer *w)
{
    for (size_t i = 0; i < w->nsealed; i++) {
        if (w->sealed[i].val.p[WK__BLK_OFF_FLAGS] & WK__BLK_FLAG_SHA256)
            return true;
    }
    return false;
}

static int commit_txn(struct wk_store *st, bool final)
{
    struct wk__writer *w = st->w;
    MDB_txn *txn;
    int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    uint64_t events = 0, raw = 0, stored = 0;
    for (size_t i = 0; i < w->nsealed && rc == 0; i++) {
        struct sealed *b = &w->sealed[i];
        uint8_t id[8];
        wk__put_u64be(id, b->id);
        MDB_val k = {8, id}, v = {b->val.len, b->val.p};
        if ((rc = mdb_put(txn, st->dbi[WK__DB_BLOCKS], &k, &v, MDB_APPEND)) != 0)
            break;
        MDB_val tk = {16, b->tkey}, tv = {16, b->tval};
        if ((rc = mdb_put(txn, st->dbi[WK__DB_BY_TIME], &tk, &tv, MDB_APPEND)) != 0)
            break;
        MDB_val cv = {b->csum.len, b->csum.p};
        if ((rc = mdb_put(txn, st->dbi[WK__DB_BY_CONTAINER], &k, &cv, MDB_APPEND)) != 0)
            break;
        MDB_val sv = {b->tsum.len, b->tsum.p};
        if ((rc = mdb_put(txn, st->dbi[WK__DB_BY_TERM], &k, &sv, MDB_APPEND)) != 0)
            break;
        events += wk__get_u32le(b->val.p + WK__BLK_OFF_COUNT);
        raw += wk__get_u32le(b->val.p + WK__BLK_OFF_RAW);
        stored += b->val.len;
    }
    for (size_t i = w->side.head; i < w->side.open && rc == 0; i++) {
        struct side_item *it = &w->side.items[i];
        if (it->dead)
            continue;
        MDB_val k = {it->klen, w->side.bytes.p + it->off};
        MDB_val v = {it->vlen, w->side.bytes.p + it->off + it->klen};
        rc = mdb_put(txn, st->dbi[it->db], &k, &v, it->append ? MDB_APPEND : 0);
    }
    if (rc == 0 && w->nsealed) {
        uint8_t head[56];
        wk__put_u64le(head, w->next_block - 1);
        memcpy(head + 8, w->head, 32);
        wk__put_u64le(head + 40, (uint64_t)w->tmark);
        wk__put_u64le(head + 48, (uint64_t)w->skew);
        rc = meta_put(txn, st, "head", head, sizeof(head));
        uint64_t d[4] = {events, w->nsealed, raw, stored};
        if (rc == 0)
            rc = add_u64(txn, st, "totals", d, 4);
        /* A store of schema 1 gets its first SHA-256 block: from this commit on, a binary
         * that knows only BLAKE2b records hashes refuses the store (WK_EVERSION) instead
         * of reporting every new block as altered (docs/store.md "Records hash"). */
        if (rc == 0 && w->schema < 2 && batch_has_sha256(w)) {
            uint8_t sv[4];
            wk__put_u32le(sv, 2);
            rc = meta_put(txn, st, "schema", sv, 4);
        }
        for (size_t i = 0; i < w->nbsrc && rc == 0; i++) {
            char name[48];
            snprintf(name, sizeof(name), "src:%.31s", w->bsrc[i].name);
            uint64_t s[3] = {w->bsrc[i].events, w->bsrc[i].raw, w->bsrc[i].stored};
            rc = add_u64(txn, st, name, s, 3);
        }
    }
    /* The first compressed alert: from this commit on, a binary that reads alert values
     * as plain JSON refuses the store (WK_EVERSION) instead of handing out zstd frames as
     * alerts (docs/store.md "Alert values"). Set when one was added, maybe still held with
     * the open block: the version may lead the values, never trail them. */
    if (rc == 0 && w->schema < 3 && w->alert_zstd) {
        uint8_t sv[4];
        wk__put_u32le(sv, 3);
        rc = meta_put(txn, st, "schema", sv, 4);
    }
    uint64_t since = w->since_ckpt + w->nsealed;
    if (rc == 0 && w->next_block > 1 &&
        ((since >= st->opts.checkpoint_blocks && st->opts.checkpoint_blocks) ||
         (final && since > 0))) {
        rc = wk__checkpoint_put(st, txn, w->next_block - 1, w->head);
        if (rc < 0) {
            mdb_txn_abort(txn);
            return rc;
        }
        since = 0;
    }
    if (rc == 0 && w->nsealed) {
        uint8_t b[8];
        wk__put_u64le(b, since);
        rc = meta_put(txn, st, "ckpt_since", b, 8);
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        return rc;
    if (w->schema < 2 && batch_has_sha256(w))
        w->schema = 2;
    if (w->schema < 3 && w->alert_zstd)
        w->schema = 3;
    for (size_t i = 0; i < w->nsealed; i++)
        wk__chain_wrote(st, w->sealed[i].id, w->sealed[i].val.p, w->sealed[i].val.len);
    w->since_ckpt = since;
    return 0;
}

int wk__store_grow(struct wk_store *st)
{
    uint64_t cur = st->map_size;
    if (cur >= st->opts.map_max)
        return WK_EMAP_FULL;
    uint64_t next = cur < (1ull << 30) ? cur * 2 : cur + (1ull << 30);
    if (next > st->opts.map_max)
        next = st->opts.map_max;
    /* Remapping needs every reader of this process out of its snapshot. Wait a bounded
     * time: a long hunt must not stall the writer forever, and a thread holding two
     * readers must not deadlock against a waiting writer. Busy: retry at a later commit. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    if (pthread_rwlock_timedwrlock(&st->maplock, &until) != 0)
        return -EBUSY;
    int rc = mdb_env_set_mapsize(st->env, (size_t)next);
    pthread_rwlock_unlock(&st->maplock);
    if (rc != 0)
        return wk__mdb_err(rc);
    MDB_envinfo info;
    mdb_env_info(st->env, &info);
    st->map_size = info.me_mapsize;
    return 0;
}

/* RSS bound of a long-running writer, every RELEASE_NS at most (after a commit):
 * - the data file's pages this process touched (B-tree walks of the appends, the check of
 *   each new block, readers) stay mapped, so counted in its RSS, until unmapped: they are
 *   page cache and come back on the next touch at the cost of a minor fault, so drop them
 *   (the map is read-only, MDB_WRITEMAP is not used: nothing is lost);
 * - the heap keeps what was freed (mallopt above: no trimming on free, for speed), among it
 *   the one-off peak of the dictionary training or of a burst: hand free pages back
 *   (malloc_trim keeps the top pad) every TRIM_NS, or at a RELEASE_NS check that finds
 *   TRIM_FREE or more free beyond twice the largest batch committed since the last check.
 *   Not every RELEASE_NS: at a steady rate the same few MiB (the queue's events, LMDB's
 *   dirty pages: 4.5-6 MiB at 10k events/s, 8-12 at 40k) are freed and reused between
 *   checks, and trimming them made each page fault in again, 400-600 faults/s at 10k
 *   events/s at 16-19 us each on a VM (docs/daemon.md, "Steady rate"). The batch term is
 *   LMDB's part of that churn: each commit mallocs its dirty and overflow pages (the
 *   batch's blocks and alerts, page-rounded) and frees them after; at full speed (`run
 *   --once`) a batch holds 2-3 MiB of alerts, the heap 8.4 MiB free at each check, and the
 *   trim that followed every 2 s was faulted back in by the next commits.
 * So the file-backed part is what one interval touches, and the heap what is in use plus
 * less than TRIM_FREE + 2 batches of free pages for at most TRIM_NS (mallinfo2 counts all
 * arenas). */
#define RELEASE_NS (2 * WK_NS_PER_SEC)
#define TRIM_NS (30 * WK_NS_PER_SEC)
#define TRIM_FREE ((size_t)8 << 20)

/* Where LMDB mapped the data file (its API tells only with MDB_FIXEDMAP): the mapping of
 * that file's inode in /proc/self/maps. Looked up again after the map grows. */
static void find_map(struct wk_store *st)
{
    struct wk__writer *w = st->w;
    char path[4096];
    struct stat sb;
    w->map_addr = NULL;
    w->map_for = st->map_size;
    snprintf(path, sizeof(path), "%s/data.mdb", st->dir);
    FILE *f = stat(path, &sb) == 0 ? fopen("/proc/self/maps", "re") : NULL;
    if (!f)
        return;
    char line[4096 + 128];
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi, ino;
        if (sscanf(line, "%lx-%lx %*s %*s %*s %lu", &lo, &hi, &ino) == 3 &&
            ino == (unsigned long)sb.st_ino && hi - lo >= st->map_size / 2) {
            w->map_addr = (void *)lo;
            w->map_len = (size_t)(hi - lo);
            break;
        }
    }
    fclose(f);
}

static void release_memory(struct wk_store *st, int64_t now)
{
    struct wk__writer *w = st->w;
    if (now - w->release_mono < RELEASE_NS)
        return;
    w->release_mono = now;
    if (w->map_for != st->map_size)
        find_map(st);
    if (w->map_addr)
        (void)madvise(w->map_addr, w->map_len, MADV_DONTNEED);
    if (w->tuned_malloc &&
        (now - w->trim_mono >= TRIM_NS || mallinfo2().fordblks >= TRIM_FREE + 2 * w->churn)) {
        w->trim_mono = now;
        (void)malloc_trim(1u << 20);
    }
    w->churn = 0;
}

static int commit(struct wk_store *st, bool final)
{
    struct wk__writer *w = st->w;
    if (batch_empty(w) && !(final && w->since_ckpt > 0))
        return 0;
    for (;;) {
        int rc = commit_txn(st, final);
        if (rc == MDB_MAP_FULL) {
            if ((rc = wk__store_grow(st)) < 0)
                return rc;
            continue;
        }
        if (rc != 0) {
            rc = rc < 0 ? rc : wk__mdb_err(rc);
            /* LMDB reports a short write (a full disk) as EIO: tell them apart. */
            struct statvfs sv;
            if (rc == -EIO && statvfs(st->dir, &sv) == 0 &&
                (uint64_t)sv.f_bavail * sv.f_frsize < w->sealed_bytes + (1u << 20))
                rc = -ENOSPC;
            return rc;
        }
        break;
    }
    const struct side *sd = &w->side;
    size_t batch = w->sealed_bytes + (sd->open < sd->n ? sd->items[sd->open].off : sd->bytes.len) -
                   (sd->head < sd->n ? sd->items[sd->head].off : sd->bytes.len);
    if (batch > w->churn)
        w->churn = batch;
    w->nsealed = 0;
    w->sealed_bytes = 0;
    side_drop_batch(&w->side);
    w->nbsrc = 0;
    w->batch_mono = 0;
    w->c_next_block = w->next_block;
    w->c_next_alert = w->next_alert;
    w->c_next_quar = w->next_quar;
    release_memory(st, wk_time_mono_ns());
    return 0;
}

/* LMDB stores a large value in whole 4 KiB overflow pages (plus a 16-byte page header):
 * a block compressed to just over a page boundary wastes most of a page. Once the block
 * holds 3/4 of block_raw_max, seal it when its predicted compressed size (from the ratio
 * of recent blocks) reaches the last page boundary below the nominal size, less a margin
 * for the prediction's error. */
static bool block_full(const struct wk_store *st)
{
    const struct wk__writer *w = st->w;
    size_t max = st->opts.block_raw_max, len = w->raw.len - w->gap + w->shapes.bytes.len;
    if (len >= max)
        return true;
    if (w->ratio_est <= 0 || len < max / 4 * 3)
        return false;
    const double page = 4096, over = WK__BLK_HDR + 16;
    double nominal = over + (double)max * w->ratio_est;
    double pages = (double)(uint64_t)(nominal / page);
    if (pages < 2)
        return false; /* small blocks: nothing worth aiming at */
    double target = pages * page - pages * page / 32;
    return over + (double)len * w->ratio_est >= target;
}

/* Seal and commit when the size or age limits say so. */
static int maybe_commit(struct wk_store *st, int64_t now)
{
    struct wk__writer *w = st->w;
    int rc;
    if (w->count && (block_full(st) ||
                     now - w->first_mono >= st->opts.block_age_ns)) {
        if ((rc = seal(st)) < 0)
            return rc;
    }
    if (!batch_empty(w) && (w->sealed_bytes >= st->opts.commit_bytes ||
                            now - w->batch_mono >= st->opts.commit_interval_ns))
        return commit(st, false);
    return 0;
}

static inline size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static int check_cursor(const struct wk_store_cursor *cur)
{
    if (!cur->source || !*cur->source || strlen(cur->source) > 255 || cur->len > 4096 ||
        (cur->len && !cur->data))
        return -EINVAL;
    return 0;
}

int wk_store_add(struct wk_store *st, const struct wk_event *ev,
                 const struct wk_store_cursor *cur, struct wk_store_ref *ref)
{
    struct wk__writer *w = st->w;
    int rc;
    if (!w)
        return -EROFS;
    int64_t ts = wk_event_ts(ev);
    if (ts == 0 || (cur && check_cursor(cur) < 0))
        return -EINVAL;
    /* The values are encoded in the open block's spare room, after the record's header as
     * predicted (a 2-byte length, the time delta's and the next shape id's varints), so
     * that they rarely move and are not copied from a scratch buffer (~400 instructions
     * per audit event); the block's length grows only once the record is whole, so a
     * failure leaves the block as it was. */
    size_t mark = w->raw.len;
    size_t vat = mark + 2 + varint_size(wk__zigzag((int64_t)((uint64_t)ts - (uint64_t)w->prev_ts))) +
                 varint_size(w->shapes.n);
    if ((rc = wk__buf_reserve(&w->raw, vat - mark + 64)) < 0)
        return rc;
    w->raw.len = vat;
    w->desc.len = 0;
    const uint8_t *dp;
    size_t dl;
    rc = wk__enc2_add(&w->shapes, &w->desc, &w->raw, ev, &dp, &dl);
    size_t vlen = w->raw.len - vat;
    w->raw.len = mark;
    if (rc < 0)
        return rc;
    if (vlen + dl > WK__MAX_EVENT)
        return WK_ELIMIT;
    /* An event that would push a non-empty block far over its limit starts a new one (its
     * values wait in scratch meanwhile). */
    if (w->count && mark - w->gap + w->shapes.bytes.len + vlen + dl >
                        st->opts.block_raw_max + st->opts.block_raw_max / 4) {
        w->enc.len = 0;
        if ((rc = wk__buf_put(&w->enc, w->raw.p + vat, vlen)) < 0 || (rc = seal(st)) < 0 ||
            (rc = wk__buf_reserve(&w->raw, 20 + vlen)) < 0)
            return rc;
        mark = w->raw.len;
        vat = mark + 20;
        memcpy(w->raw.p + vat, w->enc.p, vlen);
    } else if ((rc = wk__buf_reserve(&w->raw, 20 + vlen)) < 0) {
        return rc; /* (room for a header longer than predicted; realloc keeps the values) */
    }
    if (st->opts.split_field && w->count == w->csrec) { /* (the split's record list) */
        size_t c = w->csrec ? w->csrec * 2 : 256;
        struct wk__split_rec *r = realloc(w->srec, c * sizeof(*r));
        if (!r)
            return -ENOMEM;
        w->srec = r;
        w->csrec = c;
    }
    uint32_t sid;
    if ((rc = wk__shapes_intern(&w->shapes, dp, dl, &sid)) < 0)
        return rc;
    int64_t prev_ts = w->prev_ts;
    size_t nc, nt;
    if ((rc = summarize(st, ev, &nc, &nt)) < 0 || (rc = hset_reserve(&w->cset, nc)) < 0 ||
        (rc = hset_reserve(&w->tset, nt)) < 0)
        return rc;
    wk__enc2_record_at(&w->raw, &w->prev_ts, ts, sid, vat, vlen);
    size_t mlen = 0;
    const char *module = wk_event_get_str(ev, &WK_KEY_EVENT_MODULE, &mlen);
    if (!module) {
        module = "unknown";
        mlen = 7;
    }
    src_add(w->osrc, &w->nosrc, module, mlen, 1, w->raw.len - mark, 0);
    if (cur && (rc = side_cursor(&w->side, true, cur)) < 0)
        goto undo;
    summarize_add(w);
    int64_t now = wk_time_mono_ns();
    if (w->count == 0) {
        w->ts_min = w->ts_max = ts;
        w->first_mono = now;
    } else {
        if (ts < w->ts_min)
            w->ts_min = ts;
        if (ts > w->ts_max)
            w->ts_max = ts;
    }
    if (ref) {
        ref->block = w->next_block;
        ref->index = w->count;
    }
    if (st->opts.split_field)
        w->srec[w->count] = (struct wk__split_rec){(uint32_t)(mark - w->gap), sid, ts};
    w->count++;
    return maybe_commit(st, now);
undo:
    w->raw.len = mark;
    w->prev_ts = prev_ts;
    return rc;
}

/* Side data follows the open block when it holds events, else goes to the batch. */
static bool side_open(struct wk__writer *w)
{
    if (w->count)
        return true;
    batch_touch(w);
    return false;
}

int wk_store_cursor_set(struct wk_store *st, const struct wk_store_cursor *cur)
{
    if (!st->w)
        return -EROFS;
    if (check_cursor(cur) < 0)
        return -EINVAL;
    return side_cursor(&st->w->side, side_open(st->w), cur);
}

int wk_store_cursor_get(struct wk_store *st, const char *source, void *buf, size_t cap,
                        size_t *len)
{
    MDB_txn *txn;
    int rc = wk__store_rdtxn(st, &txn);
    if (rc < 0)
        return rc;
    MDB_val k = {strlen(source), (void *)source}, v;
    rc = mdb_get(txn, st->dbi[WK__DB_CURSORS], &k, &v);
    if (rc == 0) {
        *len = v.mv_size;
        if (v.mv_size > cap)
            rc = -ENOBUFS;
        else
            memcpy(buf, v.mv_data, v.mv_size);
    } else {
        rc = wk__mdb_err(rc);
    }
    wk__store_rdtxn_end(st, txn);
    return rc;
}

/* Keep the first alerts' JSON as samples; once there are WK__ALERT_SAMPLES bytes, train
 * the alert dictionary, hand it to the next commit (meta "adict:" id, ahead of the alert
 * that is being added) and compress with it from this alert on. One attempt per store
 * open: a failure means the alerts do not suit one, and they go on without. */
static int alert_sample(struct wk_store *st, const char *json, size_t len, bool open)
{
    struct wk__writer *w = st->w;
    int rc = wdict_sample(&w->ad, json, len);
    if (rc < 0 || w->ad.samples.len < WK__ALERT_SAMPLES)
        return rc;
    /* The blocks' training (wdict_train): on the benchmark's alerts (200k events of c-mix,
     * 12,696 alerts) 0.012 s of CPU for 512 KiB of samples, and the alerts after them
     * x18.6 smaller at level 1 against x3.9 without a dictionary, in a third of the time
     * (docs/store.md "Alert values"). The id carries WK__ALERT_DICT_BIT: frames name it,
     * and readers find it apart from the blocks'. */
    uint32_t id = w->ad.id ? w->ad.id + 1 : WK__ALERT_DICT_BIT | 1u;
    return wdict_train(w, &w->ad, WK__ALERT_DICT_MAX, WK__ALERT_LEVEL, id, id, alert_cdict,
                       w->acctx, open);
}

int wk_store_alert_add(struct wk_store *st, const char *json, size_t len,
                       const struct wk_store_ref *refs, size_t nrefs, uint64_t *id)
{
    struct wk__writer *w = st->w;
    if (!w)
        return -EROFS;
    if ((!json && len) || (nrefs && !refs) || nrefs > 65535)
        return -EINVAL;
    /* Readers decompress at most WK__ALERT_MAX bytes: longer text stays plain. */
    bool compress = len && len <= WK__ALERT_MAX;
    if (!compress && wk__alert_is_frame(json, len))
        return -EINVAL;
    bool open = side_open(w);
    int rc;
    if (!w->ad.done && compress && (rc = alert_sample(st, json, len, open)) < 0)
        return rc;
    /* The value: u32 LE nrefs, refs (u64 LE block, u32 LE index each), then the JSON as
     * one zstd frame, or as it is when the frame would not be smaller (the JSON's first
     * byte is never the frame's magic: text that starts like one is always framed). */
    size_t hl = nrefs * 12 + 4, bound = compress ? ZSTD_compressBound(len) : 0;
    struct wk__buf *b = &w->aval;
    b->len = 0;
    if ((rc = wk__buf_reserve(b, hl + bound)) < 0)
        return rc;
    wk__put_u32le(b->p, (uint32_t)nrefs);
    for (size_t i = 0; i < nrefs; i++) {
        wk__put_u64le(b->p + 4 + 12 * i, refs[i].block);
        wk__put_u32le(b->p + 12 + 12 * i, refs[i].index);
    }
    size_t z = compress ? ZSTD_compress2(w->acctx, b->p + hl, bound, json, len) : 0;
    if (ZSTD_isError(z))
        return -ENOMEM;
    bool framed = compress && (z < len || wk__alert_is_frame(json, len));
    uint8_t key[8];
    wk__put_u64be(key, w->next_alert);
    rc = side_add(&w->side, open, WK__DB_ALERTS, true, key, 8, b->p, hl + (framed ? z : 0),
                  framed ? NULL : json, framed ? 0 : len);
    if (rc < 0)
        return rc;
    w->alert_zstd = w->alert_zstd || framed;
    if (id)
        *id = w->next_alert;
    w->next_alert++;
    return 0;
}

int wk_store_quarantine_add(struct wk_store *st, const char *source, const char *reason,
                            const void *raw, size_t len)
{
    struct wk__writer *w = st->w;
    if (!w)
        return -EROFS;
    if (!source)
        source = "";
    if (!reason)
        reason = "";
    uint8_t key[8];
    wk__put_u64be(key, w->next_quar);
    size_t sl = strlen(source) + 1, rl = strlen(reason) + 1;
    uint8_t *h = malloc(8 + sl + rl);
    if (!h)
        return -ENOMEM;
    wk__put_u64le(h, (uint64_t)wk_time_now_ns());
    memcpy(h + 8, source, sl);
    memcpy(h + 8 + sl, reason, rl);
    int rc = side_add(&w->side, side_open(w), WK__DB_QUARANTINE, true, key, 8, h, 8 + sl + rl, raw, len);
    free(h);
    if (rc == 0)
        w->next_quar++;
    return rc;
}

int wk_store_container_put(struct wk_store *st, const char *id, const char *json, size_t len)
{
    if (!st->w)
        return -EROFS;
    if (!id || !*id || strlen(id) > 255 || (!json && len))
        return -EINVAL;
    return side_add(&st->w->side, side_open(st->w), WK__DB_CONTAINERS, false, id, strlen(id),
                    json, len, NULL, 0);
}

int wk_store_state_set(struct wk_store *st, const char *name, const void *data, size_t len)
{
    if (!st->w)
        return -EROFS;
    size_t nl = name ? strlen(name) : 0;
    if (!nl || nl > WK_STORE_STATE_NAME_MAX || (!data && len))
        return -EINVAL;
    char key[6 + WK_STORE_STATE_NAME_MAX];
    memcpy(key, "state:", 6);
    memcpy(key + 6, name, nl);
    struct side *s = &st->w->side;
    bool open = side_open(st->w);
    side_kill(s, open ? s->open : s->head, open ? s->n : s->open, key, 6 + nl);
    return side_add(s, open, WK__DB_META, false, key, 6 + nl, data, len, NULL, 0);
}

int wk_store_state_get(struct wk_store *st, const char *name, void **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    size_t nl = name ? strlen(name) : 0;
    if (!nl || nl > WK_STORE_STATE_NAME_MAX)
        return -EINVAL;
    char key[6 + WK_STORE_STATE_NAME_MAX];
    memcpy(key, "state:", 6);
    memcpy(key + 6, name, nl);
    MDB_txn *txn;
    int rc = wk__store_rdtxn(st, &txn);
    if (rc < 0)
        return rc;
    MDB_val k = {6 + nl, key}, v;
    rc = mdb_get(txn, st->dbi[WK__DB_META], &k, &v);
    if (rc == 0) {
        *data = malloc(v.mv_size ? v.mv_size : 1);
        if (*data) {
            memcpy(*data, v.mv_data, v.mv_size);
            *len = v.mv_size;
        } else {
            rc = -ENOMEM;
        }
    } else {
        rc = wk__mdb_err(rc);
    }
    wk__store_rdtxn_end(st, txn);
    return rc;
}

int wk_store_tick(struct wk_store *st, int64_t now_mono_ns)
{
    if (!st->w)
        return -EROFS;
    return maybe_commit(st, now_mono_ns ? now_mono_ns : wk_time_mono_ns());
}

int wk_store_flush(struct wk_store *st)
{
    if (!st->w)
        return -EROFS;
    int rc = seal(st);
    if (rc < 0)
        return rc;
    return commit(st, false);
}

int wk_store_delivery_set(struct wk_store *st, const char *name, uint64_t alert_id)
{
    if (st->rdonly)
        return -EROFS;
    if (!name || !*name)
        return -EINVAL;
    MDB_txn *txn;
    uint8_t b[8];
    wk__put_u64le(b, alert_id);
    pthread_rwlock_rdlock(&st->maplock);
    int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
    if (rc == 0) {
        MDB_val k = {strlen(name), (void *)name}, v = {8, b};
        rc = mdb_put(txn, st->dbi[WK__DB_DELIVERIES], &k, &v, 0);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    pthread_rwlock_unlock(&st->maplock);
    return wk__mdb_err(rc);
}

int wk_store_delivery_get(struct wk_store *st, const char *name, uint64_t *alert_id)
{
    MDB_txn *txn;
    int rc = wk__store_rdtxn(st, &txn);
    if (rc < 0)
        return rc;
    MDB_val k = {strlen(name), (void *)name}, v;
    *alert_id = 0;
    rc = mdb_get(txn, st->dbi[WK__DB_DELIVERIES], &k, &v);
    if (rc == 0 && v.mv_size == 8)
        *alert_id = wk__get_u64le(v.mv_data);
    wk__store_rdtxn_end(st, txn);
    return rc == MDB_NOTFOUND ? 0 : wk__mdb_err(rc);
}
