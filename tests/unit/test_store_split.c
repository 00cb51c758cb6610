/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split hot blocks (format 5, docs/store.md "Split blocks"): the two frames merge back to
 * exactly the single-frame bytes (corpus and random events; every record keyed, none,
 * mixed, empty keys), the writer's split from its record list (runs, cached shape
 * classes) gives the bytes of the walk, a query on the split field (first frame only)
 * returns what a full scan finds, with the same refs; verify catches a flipped byte in
 * either frame, the order map and the field name; compaction gives the same cold values
 * as from single-frame blocks; format-2 blocks still read next to split ones.
 */
#include "config.h"

#include <dirent.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store_private.h"
#include "auditd_util.h"
#include "watchkeeper/error.h"
#include "watchkeeper/event.h"
#include "watchkeeper/event_json.h"
#include "watchkeeper/rebuild.h"
#include "watchkeeper/store.h"
#include "wk_test.h"

#define K(name) (wk_key_init(name))

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* ---------------------------------------------------------------------------------- */
/* Events                                                                              */

static struct wk_event **evs;
static size_t nevs, cevs;

static void keep(const struct wk_event *ev)
{
    if (nevs == cevs) {
        cevs = cevs ? cevs * 2 : 256;
        evs = realloc(evs, cevs * sizeof(*evs));
        WK_ASSERT(evs != NULL);
    }
    WK_ASSERT_OK(wk_event_new(&evs[nevs]));
    WK_ASSERT_OK(wk_event_copy(evs[nevs], ev));
    nevs++;
}

static void free_evs(void)
{
    for (size_t i = 0; i < nevs; i++)
        wk_event_free(evs[i]);
    free(evs);
    evs = NULL;
    nevs = cevs = 0;
}

static int sink_emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    (void)s, (void)resume;
    keep(ev);
    return 0;
}

/* Every file of dir (and of its subdirectories when deep) whose name ends with suffix,
 * in name order, through parser `name` as ingest does. */
static void feed_dir(const char *name, const char *dir, const char *suffix, bool deep)
{
    struct wk_parser_sink sink = {sink_emit, au_sink_reject_none};
    au_feed_dir(name, dir, suffix, deep, &sink);
}

/* The corpus' auditd logs (keyed and unkeyed events), Docker events and CRI lines. */
static void corpus_events(void)
{
    char p[8192];
    snprintf(p, sizeof(p), "%s/auditd", au_corpus());
    feed_dir("auditd", p, ".log", true);
    snprintf(p, sizeof(p), "%s/auditd/laurel", au_corpus());
    feed_dir("auditd", p, ".txt", false);
    snprintf(p, sizeof(p), "%s/docker-events", au_corpus());
    feed_dir("docker-events", p, ".jsonl", false);
    snprintf(p, sizeof(p), "%s/cri", au_corpus());
    feed_dir("cri", p, ".cri.log", false);
}

enum { KEY_NONE, KEY_ALL, KEY_MIXED, KEY_EMPTY };

/* A random event; auditd.key by `keys` (mixed: one in three, at event level or in a
 * record; empty: the value ""), timestamps anywhere (deltas of any size and sign). */
static void random_event(struct wk_event *ev, int keys, uint64_t i)
{
    wk_event_reset(ev);
    int64_t ts = (int64_t)rnd();
    if (rnd() % 4)
        ts = 1700000000000000000LL + (int64_t)(i * 1000) - (int64_t)(rnd() % 5000);
    if (!ts)
        ts = 1;
    wk_event_set_ts(ev, ts);
    static const char *const mods[] = {"auditd", "docker", "clog"};
    const char *m = mods[rnd() % 3];
    wk_event_add_str(ev, 0, &WK_KEY_EVENT_MODULE, m, strlen(m));
    char orig[96], v[32];
    int n = snprintf(orig, sizeof(orig), "type=SYSCALL pid=%llu exe=/bin/x%d key=k%d",
                     (unsigned long long)(rnd() % 100000), (int)(rnd() % 5), (int)(rnd() % 4));
    struct wk_key k = K("process.pid");
    wk_event_add_int(ev, 0, &k, (int64_t)(rnd() % 100000));
    if (rnd() % 2) {
        k = K("event.action");
        wk_event_add_str(ev, 0, &k, "execve", 6);
    }
    int r = rnd() % 3 ? wk_event_add_record(ev) : 0;
    if (r) {
        k = K("type");
        wk_event_add_str(ev, (unsigned)r, &k, "SYSCALL", 7);
    }
    bool keyed = keys == KEY_ALL || keys == KEY_EMPTY || (keys == KEY_MIXED && rnd() % 3 == 0);
    if (keyed) {
        k = K("auditd.key");
        snprintf(v, sizeof(v), "k%d", (int)(rnd() % 4));
        if (keys == KEY_EMPTY)
            v[0] = '\0';
        wk_event_add_str(ev, keys == KEY_MIXED && r && rnd() % 2 ? (unsigned)r : 0, &k, v,
                         strlen(v));
    }
    wk_event_add_str(ev, 0, &WK_KEY_EVENT_ORIGINAL, orig, (size_t)n);
}

/* ---------------------------------------------------------------------------------- */
/* Split and merge of block bytes                                                      */

/* Encode evs[from, to) into one block's bytes as the writer does, and what the writer
 * keeps of each record for the split into srec[0..to - from). */
static void encode_block(size_t from, size_t to, struct wk__buf *blk, struct wk__split_rec *srec)
{
    struct wk__buf desc = {0}, vals = {0}, recs = {0};
    struct wk__shapes shapes = {0};
    int64_t prev = 0;
    for (size_t i = from; i < to; i++) {
        desc.len = vals.len = 0;
        const uint8_t *dp;
        size_t dl;
        WK_ASSERT_OK(wk__enc2_add(&shapes, &desc, &vals, evs[i], &dp, &dl));
        uint32_t sid;
        WK_ASSERT_OK(wk__shapes_intern(&shapes, dp, dl, &sid));
        WK_ASSERT_OK(wk__buf_reserve(&recs, vals.len + 40));
        srec[i - from] = (struct wk__split_rec){(uint32_t)recs.len, sid, wk_event_ts(evs[i])};
        wk__enc2_record(&recs, &prev, wk_event_ts(evs[i]), sid, vals.p, vals.len);
    }
    blk->len = 0;
    WK_ASSERT_OK(wk__shapes_section(&shapes, blk));
    WK_ASSERT_OK(wk__buf_put(blk, recs.p, recs.len));
    wk__shapes_fini(&shapes);
    wk__buf_fini(&desc);
    wk__buf_fini(&vals);
    wk__buf_fini(&recs);
}

static bool has_field(const struct wk_event *ev, const char *f)
{
    for (size_t i = 0; i < wk_event_nfields(ev); i++) {
        const struct wk_key *k = wk_event_field_key(ev, i);
        if (k->len == strlen(f) && memcmp(k->name, f, k->len) == 0)
            return true;
    }
    return false;
}

/* The writer's scratch, kept across blocks: one per field (its cache of the shapes'
 * classes then serves the next blocks), or one for all (each field change empties it). */
static struct wk__split *writer_sp[5];
static const char *sp_field[4];
static bool share_sp;

static struct wk__split **scratch_for(const char *field)
{
    if (share_sp)
        return &writer_sp[4];
    size_t i = 0;
    while (i < 4 && sp_field[i] && strcmp(sp_field[i], field) != 0)
        i++;
    WK_ASSERT(i < 4);
    sp_field[i] = field;
    return &writer_sp[i];
}

static void scratch_free(void)
{
    for (size_t i = 0; i < 5; i++)
        writer_sp[i] = wk__split_free(writer_sp[i]);
    memset(sp_field, 0, sizeof(sp_field));
}

struct split_stats {
    size_t blocks, split, first_records;
};

/* Split evs[from, to) by field, merge, compare with the single-frame bytes; check the
 * first frame alone: its records are exactly the field's, in order, at the right index. */
static void split_round_trip(size_t from, size_t to, const char *field, struct split_stats *ss)
{
    struct wk__buf blk = {0}, val = {0}, out = {0}, first = {0}, val2 = {0};
    struct wk__split_rec *srec = calloc(to - from, sizeof(*srec));
    WK_ASSERT(srec != NULL);
    encode_block(from, to, &blk, srec);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    WK_ASSERT(cc && dc);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1);
    struct wk__split *sp = NULL;
    uint8_t format = 0;
    WK_ASSERT_OK(wk__split_compress(&sp, cc, field, blk.p, blk.len, NULL, 0, &val, WK__BLK_HDR,
                                    &format));
    /* the writer's way (its record list: runs copied whole; its scratch, with the shapes'
     * classes cached from earlier blocks and fields, kept across calls) gives the same
     * bytes */
    uint8_t format2 = 0;
    WK_ASSERT_OK(wk__split_compress(scratch_for(field), cc, field, blk.p, blk.len, srec, to - from,
                                    &val2, WK__BLK_HDR, &format2));
    WK_ASSERT_INT_EQ(format2, format);
    WK_ASSERT_UINT_EQ(val2.len, val.len);
    if (memcmp(val2.p + WK__BLK_HDR, val.p + WK__BLK_HDR, val.len - WK__BLK_HDR) != 0)
        WK_FAIL("split from the writer's record list differs (%zu events)", to - from);
    size_t keyed = 0;
    for (size_t i = from; i < to; i++)
        keyed += has_field(evs[i], field) ? 1 : 0;
    ss->blocks++;
    if (keyed == 0 || keyed == to - from) {
        /* one frame would be empty: the single frame of format 2 */
        WK_ASSERT_INT_EQ(format, WK__BLK_FORMAT2);
        WK_ASSERT_OK(wk__buf_reserve(&out, blk.len + 1));
        size_t got = ZSTD_decompressDCtx(dc, out.p, blk.len, val.p + WK__BLK_HDR,
                                         val.len - WK__BLK_HDR);
        WK_ASSERT_UINT_EQ(got, blk.len);
        WK_ASSERT(memcmp(out.p, blk.p, blk.len) == 0);
        goto done;
    }
    ss->split++;
    WK_ASSERT_INT_EQ(format, WK__BLK_SPLIT);
    /* the header fields the readers take from it */
    memset(val.p, 0, WK__BLK_HDR);
    val.p[WK__BLK_OFF_FORMAT] = WK__BLK_SPLIT;
    wk__put_u32le(val.p + WK__BLK_OFF_COUNT, (uint32_t)(to - from));
    wk__put_u32le(val.p + WK__BLK_OFF_RAW, (uint32_t)blk.len);
    WK_ASSERT_OK(wk__split_raw(dc, NULL, val.p, val.len, &out));
    WK_ASSERT_UINT_EQ(out.len, blk.len);
    if (memcmp(out.p, blk.p, blk.len) != 0)
        WK_FAIL("merged bytes differ from the single-frame form (%zu events)", to - from);
    struct wk__splitv sv;
    WK_ASSERT_OK(wk__split_parse(val.p, val.len, &sv));
    WK_ASSERT_UINT_EQ(sv.na, keyed);
    WK_ASSERT(sv.flen == strlen(field) && memcmp(sv.field, field, sv.flen) == 0);
    uint32_t *idx = calloc(sv.na, sizeof(*idx));
    WK_ASSERT_OK(wk__split_first(dc, NULL, &sv, &first, idx));
    struct wk__blkview v = {0};
    WK_ASSERT_OK(wk__blkview_open(&v, WK__BLK_FORMAT2, first.p, first.len));
    struct wk_event *got;
    WK_ASSERT_OK(wk_event_new(&got));
    const uint8_t *body;
    size_t bl;
    int64_t ts;
    uint32_t j = 0;
    for (size_t i = from; i < to; i++) {
        if (!has_field(evs[i], field))
            continue;
        WK_ASSERT_INT_EQ(wk__blkview_next(&v, &body, &bl, &ts), 1);
        WK_ASSERT_INT_EQ(ts, wk_event_ts(evs[i]));
        WK_ASSERT_OK(wk__blkview_decode(&v, body, bl, ts, got));
        WK_ASSERT(wk_event_equal(got, evs[i]));
        WK_ASSERT_UINT_EQ(idx[j], i - from);
        j++;
    }
    WK_ASSERT_INT_EQ(wk__blkview_next(&v, &body, &bl, &ts), 0);
    ss->first_records += j;
    /* a damaged or cut value is refused or misread, never read out of bounds (ASan) */
    for (size_t at = WK__BLK_HDR; ss->split % 4 == 1 && val.len < 3000 && at < val.len;
         at += 7) {
        struct wk__buf bad = {0};
        WK_ASSERT_OK(wk__buf_put(&bad, val.p, val.len));
        bad.p[at] ^= (uint8_t)(1u << (at % 8));
        for (int cut = 0; cut < 2; cut++) {
            size_t bl2 = cut ? at : bad.len;
            (void)wk__split_raw(dc, NULL, bad.p, bl2, &out);
            struct wk__splitv bsv;
            if (wk__split_parse(bad.p, bl2, &bsv) == 0) {
                uint32_t *bidx = calloc(bsv.na, sizeof(*bidx));
                (void)wk__split_first(dc, NULL, &bsv, &first, bidx);
                free(bidx);
            }
        }
        wk__buf_fini(&bad);
    }
    wk_event_free(got);
    wk__blkview_fini(&v);
    free(idx);
done:
    wk__split_free(sp);
    ZSTD_freeCCtx(cc);
    ZSTD_freeDCtx(dc);
    wk__buf_fini(&blk);
    wk__buf_fini(&val);
    wk__buf_fini(&out);
    wk__buf_fini(&first);
    wk__buf_fini(&val2);
    free(srec);
}

WK_TEST(split_merges_to_the_single_frame_bytes_on_the_corpus)
{
    corpus_events();
    printf("# %zu corpus events\n", nevs);
    WK_ASSERT(nevs > 150);
    struct split_stats ss = {0};
    /* blocks of several sizes, each range split by auditd.key and by other fields */
    static const size_t sizes[] = {1, 2, 7, 40, 100000};
    static const char *const fields[] = {"auditd.key", "event.action", "container.id", "type"};
    for (size_t s = 0; s < WK_ARRAY_SIZE(sizes); s++) {
        for (size_t from = 0; from < nevs; from += sizes[s]) {
            size_t to = from + sizes[s] < nevs ? from + sizes[s] : nevs;
            for (size_t f = 0; f < WK_ARRAY_SIZE(fields); f++)
                split_round_trip(from, to, fields[f], &ss);
        }
    }
    printf("# %zu blocks, %zu split, %zu first-frame records\n", ss.blocks, ss.split,
           ss.first_records);
    WK_ASSERT(ss.split > 100);
    scratch_free();
    free_evs();
}

WK_TEST(split_merges_to_the_single_frame_bytes_on_random_events)
{
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    struct split_stats ss = {0};
    const int kinds[] = {KEY_NONE, KEY_ALL, KEY_MIXED, KEY_EMPTY};
    share_sp = true; /* the two fields take turns in one scratch */
    for (size_t k = 0; k < WK_ARRAY_SIZE(kinds); k++) {
        for (uint64_t i = 0; i < 600; i++) {
            random_event(ev, kinds[k], i);
            keep(ev);
        }
        size_t base = nevs - 600;
        for (size_t from = base; from < nevs;) {
            size_t n = 1 + rnd() % 150, to = from + n < nevs ? from + n : nevs;
            split_round_trip(from, to, "auditd.key", &ss);
            split_round_trip(from, to, "type", &ss);
            from = to;
        }
    }
    /* mixed and the record-level "type" gave split blocks; all or none keyed did not */
    printf("# %zu blocks, %zu split\n", ss.blocks, ss.split);
    WK_ASSERT(ss.split > 20);
    scratch_free();
    share_sp = false;
    wk_event_free(ev);
    free_evs();
}

/* ---------------------------------------------------------------------------------- */
/* Stores                                                                              */

static struct wk_store_opts opts(void)
{
    struct wk_store_opts o;
    wk_store_opts_init(&o);
    o.fsync = false;
    o.block_raw_max = 4096;
    o.block_age_ns = INT64_MAX / 2; /* sealed by size only: the same blocks in every run */
    o.checkpoint_blocks = 8;
    o.cold_block_bytes = 16384;
    o.dict_sample_bytes = 32768;
    return o;
}

static const char *dir_of(const char *name)
{
    static char buf[8][512];
    static int i;
    char *b = buf[i++ % 8];
    snprintf(b, 512, "%s/%s", wk_test_tmpdir(), name);
    return b;
}

/* Store evs (all of them) into a new store at dir. */
static void store_evs(const char *dir, const struct wk_store_opts *o, size_t from, size_t to)
{
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, dir, o));
    for (size_t i = from; i < to; i++)
        WK_ASSERT_OK(wk_store_add(st, evs[i], NULL, NULL));
    wk_store_close(st);
}

/* Each block value of the store at dir, in key order, until fn returns false. */
static void blocks_each(const char *dir, bool (*fn)(const MDB_val *k, const MDB_val *v, void *arg),
                        void *arg)
{
    struct wk_store *st;
    struct wk_store_opts o = opts();
    o.read_only = true;
    WK_ASSERT_OK(wk_store_open(&st, dir, &o));
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    WK_ASSERT_OK(wk__store_rdtxn(st, &txn));
    WK_ASSERT_INT_EQ(mdb_cursor_open(txn, st->dbi[WK__DB_BLOCKS], &c), 0);
    while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0 && fn(&k, &v, arg))
        ;
    mdb_cursor_close(c);
    wk__store_rdtxn_end(st, txn);
    wk_store_close(st);
}

static bool count_format(const MDB_val *k, const MDB_val *v, void *arg)
{
    (void)k;
    ((unsigned *)arg)[((const uint8_t *)v->mv_data)[0] & 7]++;
    return true;
}

/* Block values by format: counts[f] for f < 8. */
static void formats(const char *dir, unsigned counts[8])
{
    memset(counts, 0, 8 * sizeof(*counts));
    blocks_each(dir, count_format, counts);
}

struct hit {
    struct wk_store_ref ref;
    char *json;
};

static void hits_free(struct hit *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(h[i].json);
    free(h);
}

/* Events of the query f, in order, as (ref, JSON). */
static struct hit *query(struct wk_store *st, const struct wk_store_filter *f, size_t *n)
{
    struct wk_store_reader *r;
    struct wk_store_iter *it;
    const struct wk_event *ev;
    struct wk_store_ref ref;
    struct hit *h = NULL;
    size_t c = 0;
    *n = 0;
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    WK_ASSERT_OK(wk_store_iter_new(r, f, &it));
    int rc;
    while ((rc = wk_store_iter_next(it, &ev, &ref)) == 1) {
        if (*n == c) {
            c = c ? c * 2 : 64;
            h = realloc(h, c * sizeof(*h));
        }
        size_t jl;
        WK_ASSERT_OK(wk_event_to_json(ev, &h[*n].json, &jl));
        h[*n].ref = ref;
        (*n)++;
    }
    WK_ASSERT_INT_EQ(rc, 0);
    /* each ref reads back as the same event */
    struct wk_event *got;
    WK_ASSERT_OK(wk_event_new(&got));
    for (size_t i = 0; i < *n; i++) {
        char *js;
        size_t jl;
        WK_ASSERT_OK(wk_store_event_get(r, h[i].ref, got));
        WK_ASSERT_OK(wk_event_to_json(got, &js, &jl));
        WK_ASSERT_STR_EQ(js, h[i].json);
        free(js);
    }
    wk_event_free(got);
    wk_store_iter_free(it);
    wk_store_reader_close(r);
    return h;
}

static bool term_holds(const struct wk_event *ev, const char *field, const char *value)
{
    for (size_t i = 0; i < wk_event_nfields(ev); i++) {
        const struct wk_key *k = wk_event_field_key(ev, i);
        const struct wk_value *v = wk_event_field_value(ev, i);
        if (k->len == strlen(field) && memcmp(k->name, field, k->len) == 0 &&
            v->kind == WK_VAL_STR && v->len == strlen(value) && memcmp(v->u.s, value, v->len) == 0)
            return true;
    }
    return false;
}

/* The query f with one string term against a scan of every event (no filter). */
static size_t query_vs_scan(struct wk_store *st, const struct wk_store_filter *f)
{
    size_t nq, na;
    struct hit *q = query(st, f, &nq);
    struct wk_store_filter none = {0};
    struct wk_store_reader *r;
    struct wk_store_iter *it;
    const struct wk_event *ev;
    struct wk_store_ref ref;
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    WK_ASSERT_OK(wk_store_iter_new(r, &none, &it));
    na = 0;
    while (wk_store_iter_next(it, &ev, &ref) == 1) {
        int64_t ts = wk_event_ts(ev);
        if ((f->since && ts < f->since) || (f->until && ts > f->until))
            continue;
        bool ok = true;
        for (size_t i = 0; i < f->nterms; i++)
            ok = ok && term_holds(ev, f->terms[i].field, f->terms[i].value);
        if (!ok)
            continue;
        if (na >= nq)
            WK_FAIL("the query missed an event at block %llu index %u",
                    (unsigned long long)ref.block, ref.index);
        char *js;
        size_t jl;
        WK_ASSERT_OK(wk_event_to_json(ev, &js, &jl));
        if (q[na].ref.block != ref.block || q[na].ref.index != ref.index ||
            strcmp(q[na].json, js) != 0)
            WK_FAIL("hit %zu: query (%llu, %u) scan (%llu, %u)", na,
                    (unsigned long long)q[na].ref.block, q[na].ref.index,
                    (unsigned long long)ref.block, ref.index);
        free(js);
        na++;
    }
    WK_ASSERT_UINT_EQ(na, nq);
    wk_store_iter_free(it);
    wk_store_reader_close(r);
    hits_free(q, nq);
    return nq;
}

/* Mixed random and corpus events. */
static void mixed_events(void)
{
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    for (uint64_t i = 0; i < 700; i++) {
        random_event(ev, i % 200 < 20 ? KEY_NONE : KEY_MIXED, i);
        wk_event_set_ts(ev, 1700000000000000000LL + (int64_t)i * 1000000);
        keep(ev);
    }
    corpus_events();
    wk_event_free(ev);
}

static size_t key_queries(struct wk_store *st)
{
    size_t total = 0;
    static const char *const keys[] = {"k0", "k1", "k3", "", "nope"};
    for (size_t i = 0; i < WK_ARRAY_SIZE(keys); i++) {
        struct wk_store_term t = {"auditd.key", keys[i]};
        struct wk_store_filter f = {.terms = &t, .nterms = 1};
        total += query_vs_scan(st, &f);
        /* with a time range, and with a second term */
        f.since = 1700000000000000000LL + 100000000;
        f.until = 1700000000000000000LL + 500000000;
        total += query_vs_scan(st, &f);
        struct wk_store_term t2[2] = {{"event.action", "execve"}, {"auditd.key", keys[i]}};
        struct wk_store_filter g = {.terms = t2, .nterms = 2};
        total += query_vs_scan(st, &g);
    }
    struct wk_store_term t = {"event.action", "execve"};
    struct wk_store_filter f = {.terms = &t, .nterms = 1};
    total += query_vs_scan(st, &f);
    return total;
}

WK_TEST(key_query_reads_the_first_frame_and_equals_a_full_scan)
{
    mixed_events();
    const char *d = dir_of("q");
    struct wk_store_opts o = opts();
    store_evs(d, &o, 0, nevs);
    unsigned counts[8];
    formats(d, counts);
    printf("# %zu events: %u split blocks, %u single-frame\n", nevs, counts[5], counts[2]);
    WK_ASSERT(counts[5] > 20);
    struct wk_store *st;
    o.read_only = true;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    size_t hits = key_queries(st);
    printf("# %zu hits\n", hits);
    WK_ASSERT(hits > 300);
    struct wk_store_verify_result res;
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    wk_store_close(st);
    free_evs();
}

/* Format-2 blocks (written with the split off, as before format 5) and split ones in one
 * store; a store split by another field. */
WK_TEST(single_frame_blocks_still_read_next_to_split_ones)
{
    mixed_events();
    const char *d = dir_of("old");
    struct wk_store_opts o = opts();
    o.split_field = "";
    store_evs(d, &o, 0, nevs / 2);
    unsigned counts[8];
    formats(d, counts);
    WK_ASSERT_INT_EQ(counts[5], 0);
    o.split_field = NULL; /* the default: auditd.key */
    store_evs(d, &o, nevs / 2, nevs);
    formats(d, counts);
    WK_ASSERT(counts[5] > 5 && counts[2] > 5);
    struct wk_store *st;
    o.read_only = true;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    WK_ASSERT(key_queries(st) > 300);
    struct wk_store_verify_result res;
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    /* everything, in order */
    struct wk_store_filter none = {0};
    size_t n;
    struct hit *h = query(st, &none, &n);
    WK_ASSERT_UINT_EQ(n, nevs);
    for (size_t i = 0; i < n; i++) {
        char *js;
        size_t jl;
        WK_ASSERT_OK(wk_event_to_json(evs[i], &js, &jl));
        WK_ASSERT_STR_EQ(h[i].json, js);
        free(js);
    }
    hits_free(h, n);
    wk_store_close(st);

    /* split by event.action: a key query reads whole blocks, an action query the first
     * frame */
    const char *d2 = dir_of("action");
    o = opts();
    o.split_field = "event.action";
    store_evs(d2, &o, 0, nevs);
    formats(d2, counts);
    WK_ASSERT(counts[5] > 5);
    o.read_only = true;
    WK_ASSERT_OK(wk_store_open(&st, d2, &o));
    WK_ASSERT(key_queries(st) > 300);
    wk_store_close(st);
    free_evs();
}

/* ---------------------------------------------------------------------------------- */
/* Integrity                                                                           */

/* The first split block's parts: offsets in its value of the first frame, the second and
 * the order map; its id. */
struct parts {
    uint64_t id;
    size_t fa, fb, map, field, len;
};

static bool split_parts(const MDB_val *k, const MDB_val *v, void *arg)
{
    struct parts *p = arg;
    const uint8_t *val = v->mv_data;
    struct wk__splitv sv;
    if (val[0] != WK__BLK_SPLIT || wk__get_u64be(k->mv_data) < 3)
        return true;
    WK_ASSERT_OK(wk__split_parse(val, v->mv_size, &sv));
    if (sv.na < 2 || sv.map[0] == 0)
        return true; /* a map whose first gap is not 0: moving it moves a record */
    p->id = wk__get_u64be(k->mv_data);
    p->fa = (size_t)(sv.fa - val);
    p->fb = (size_t)(sv.fb - val);
    p->map = (size_t)(sv.map - val);
    p->field = (size_t)((const uint8_t *)sv.field - val);
    p->len = v->mv_size;
    return false;
}

static struct parts find_split(const char *dir)
{
    struct parts p = {0};
    blocks_each(dir, split_parts, &p);
    WK_ASSERT(p.id != 0);
    return p;
}

/* Change the byte at `at` of block id's value (xor x). */
static void flip(const char *dir, uint64_t id, size_t at, uint8_t x)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    WK_ASSERT_INT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    mdb_env_set_mapsize(env, 1ull << 30);
    WK_ASSERT_INT_EQ(mdb_env_open(env, dir, 0, 0600), 0);
    WK_ASSERT_INT_EQ(mdb_txn_begin(env, NULL, 0, &txn), 0);
    WK_ASSERT_INT_EQ(mdb_dbi_open(txn, "blocks", 0, &dbi), 0);
    uint8_t kb[8];
    wk__put_u64be(kb, id);
    MDB_val k = {8, kb}, v;
    WK_ASSERT_INT_EQ(mdb_get(txn, dbi, &k, &v), 0);
    uint8_t *copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    WK_ASSERT(at < v.mv_size);
    copy[at] ^= x;
    MDB_val nv = {v.mv_size, copy};
    WK_ASSERT_INT_EQ(mdb_put(txn, dbi, &k, &nv, 0), 0);
    WK_ASSERT_INT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    free(copy);
}

WK_TEST(verify_catches_a_flip_in_either_frame_the_order_map_and_the_field)
{
    mixed_events();
    struct wk_store_opts o = opts();
    const char *d0 = dir_of("v0");
    store_evs(d0, &o, 0, nevs);
    struct parts p = find_split(d0);
    printf("# block %llu: field at %zu, map at %zu, frames at %zu and %zu of %zu bytes\n",
           (unsigned long long)p.id, p.field, p.map, p.fa, p.fb, p.len);
    struct {
        const char *what;
        size_t at;
        uint8_t x;
    } spots[] = {
        {"the first frame's middle", p.fa + (p.fb - p.fa) / 2, 0x01},
        {"the first frame's end", p.fb - 1, 0x01},
        {"the second frame's middle", p.fb + (p.len - p.fb) / 2, 0x01},
        {"the second frame's end", p.len - 1, 0x01},
        {"the order map (a gap + 1)", p.map, 0x01},
        {"the order map (a gap - 1)", p.map, 0x03},
        {"the split field's name", p.field + 1, 0x20},
    };
    struct wk_store_verify_result res;
    for (size_t i = 0; i < WK_ARRAY_SIZE(spots); i++) {
        char name[32];
        snprintf(name, sizeof(name), "v%zu", i + 1);
        const char *d = dir_of(name);
        store_evs(d, &o, 0, nevs);
        struct wk_store *st;
        struct wk_store_opts ro = opts();
        ro.read_only = true;
        WK_ASSERT_OK(wk_store_open(&st, d, &ro));
        WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
        wk_store_close(st);
        flip(d, p.id, spots[i].at, spots[i].x);
        WK_ASSERT_OK(wk_store_open(&st, d, &ro));
        int rc = wk_store_verify(st, 0, NULL, &res);
        wk_store_close(st);
        if (rc != WK_ECHAIN || res.first_bad != p.id)
            WK_FAIL("a flip in %s: verify %d, first bad %llu (%s)", spots[i].what, rc,
                    (unsigned long long)res.first_bad, res.reason);
        printf("# %s: %s\n", spots[i].what, res.reason);
    }
    free_evs();
}

/* ---------------------------------------------------------------------------------- */
/* Cold tier                                                                           */

/* Every value of the blocks db below `below` (the cold ones) as one byte string. */
static char *cold_values(const char *dir, size_t *len, uint64_t *below)
{
    struct wk_store *st;
    struct wk_store_opts o = opts();
    o.read_only = true;
    WK_ASSERT_OK(wk_store_open(&st, dir, &o));
    struct wk_store_stats s;
    WK_ASSERT_OK(wk_store_stats(st, &s));
    *below = s.cold_next;
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    WK_ASSERT_OK(wk__store_rdtxn(st, &txn));
    WK_ASSERT_INT_EQ(mdb_cursor_open(txn, st->dbi[WK__DB_BLOCKS], &c), 0);
    struct wk__buf b = {0};
    while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
        if (wk__get_u64be(k.mv_data) >= s.cold_next)
            break;
        WK_ASSERT_OK(wk__buf_put(&b, k.mv_data, 8));
        WK_ASSERT_OK(wk__buf_put(&b, v.mv_data, v.mv_size));
    }
    mdb_cursor_close(c);
    wk__store_rdtxn_end(st, txn);
    wk_store_close(st);
    *len = b.len;
    return (char *)b.p;
}

static void compact(const char *dir, bool rebuild)
{
    struct wk_store *st;
    struct wk_store_opts o = opts();
    o.cold_rebuild = rebuild;
    WK_ASSERT_OK(wk_store_open(&st, dir, &o));
    uint64_t done = 0;
    WK_ASSERT_OK(wk_store_recompact(st, INT64_MAX, 0, &done));
    WK_ASSERT(done > 5);
    struct wk_store_verify_result res;
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    wk_store_close(st);
}

WK_TEST(compaction_of_split_blocks_gives_the_same_cold_values)
{
    WK_ASSERT_OK(wk_collector_rebuild_register());
    mixed_events();
    for (int rebuild = 0; rebuild < 2; rebuild++) {
        struct wk_store_opts o = opts();
        const char *a = dir_of(rebuild ? "ca-r" : "ca"), *b = dir_of(rebuild ? "cb-r" : "cb");
        o.split_field = "";
        store_evs(a, &o, 0, nevs);
        o.split_field = NULL;
        store_evs(b, &o, 0, nevs);
        unsigned counts[8];
        formats(b, counts);
        WK_ASSERT(counts[5] > 20);
        compact(a, rebuild);
        compact(b, rebuild);
        formats(b, counts);
        printf("# %s: values of format 2: %u, 3: %u, 4: %u, 5: %u\n",
               rebuild ? "rebuild" : "merged", counts[2], counts[3], counts[4], counts[5]);
        WK_ASSERT(counts[rebuild ? 4 : 3] > 3);
        size_t la, lb;
        uint64_t ba, bb;
        char *va = cold_values(a, &la, &ba), *vb = cold_values(b, &lb, &bb);
        WK_ASSERT(ba > 20);
        WK_ASSERT_UINT_EQ(ba, bb);
        WK_ASSERT_UINT_EQ(la, lb);
        if (memcmp(va, vb, la) != 0)
            WK_FAIL("the cold values differ (%s)", rebuild ? "rebuild" : "merged");
        free(va);
        free(vb);
        /* and the split store still answers key queries exactly after compaction */
        struct wk_store *st;
        o.read_only = true;
        WK_ASSERT_OK(wk_store_open(&st, b, &o));
        WK_ASSERT(key_queries(st) > 300);
        wk_store_close(st);
    }
    free_evs();
}
