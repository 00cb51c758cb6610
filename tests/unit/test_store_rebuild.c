/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cold tier's rebuild values (block format 4, docs/store.md "Rebuild values"): events
 * of the corpus' real inputs, parsed by the sources' parsers, read back identical after
 * compaction; verify passes and catches a changed byte inside a value's form; events the
 * rebuild cannot reproduce (forced mismatch, no original, no callback) are kept whole.
 */
#include "config.h"

#include <dirent.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "../../store/rebuild_private.h"
#include "auditd_util.h"
#include "watchkeeper/error.h"
#include "watchkeeper/event.h"
#include "watchkeeper/parser.h"
#include "watchkeeper/rebuild.h"
#include "watchkeeper/store.h"
#include "watchkeeper/timefmt.h"
#include "wk_test.h"

/* Events kept for comparison, in store order. */
static struct wk_event **evs;
static size_t nevs, cevs;
static struct wk_store *cur_st;

static void keep(const struct wk_event *ev)
{
    if (nevs == cevs) {
        cevs = cevs ? cevs * 2 : 256;
        evs = realloc(evs, cevs * sizeof(*evs));
        WK_ASSERT(evs);
    }
    WK_ASSERT_INT_EQ(wk_event_new(&evs[nevs]), 0);
    WK_ASSERT_INT_EQ(wk_event_copy(evs[nevs], ev), 0);
    nevs++;
    WK_ASSERT_INT_EQ(wk_store_add(cur_st, ev, NULL, NULL), 0);
}

static int sink_emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    (void)s, (void)resume;
    keep(ev);
    return 0;
}

/* Feed one file through parser `name` into the store, as ingest does. */
static void feed_file(const char *name, const char *path)
{
    struct wk_parser_sink sink = {sink_emit, au_sink_reject_none};
    au_feed_file(name, path, path, &sink);
}

/* Every file of dir (one level, or dir/ * / when deep) whose name ends with suffix. */
static size_t feed_dir(const char *name, const char *dir, const char *suffix, bool deep)
{
    struct wk_parser_sink sink = {sink_emit, au_sink_reject_none};
    return au_feed_dir(name, dir, suffix, deep, &sink);
}

static void free_evs(void)
{
    for (size_t i = 0; i < nevs; i++)
        wk_event_free(evs[i]);
    free(evs);
    evs = NULL;
    nevs = cevs = 0;
}

static struct wk_store_opts small_opts(void)
{
    struct wk_store_opts o;
    wk_store_opts_init(&o);
    o.fsync = false;
    o.block_raw_max = 4096;
    o.cold_block_bytes = 8192; /* values of two or three 4 KiB blocks */
    o.cold_level = 3;
    o.cold_rebuild = true;
    o.dictionaries = false;
    return o;
}

/* All events in store order equal the kept ones; @return how many. */
static size_t check_all(struct wk_store *st)
{
    struct wk_store_reader *r;
    struct wk_store_iter *it;
    const struct wk_event *got;
    struct wk_store_ref ref;
    WK_ASSERT_INT_EQ(wk_store_reader_open(st, &r), 0);
    WK_ASSERT_INT_EQ(wk_store_iter_new(r, NULL, &it), 0);
    size_t i = 0;
    int rc;
    while ((rc = wk_store_iter_next(it, &got, &ref)) == 1) {
        WK_ASSERT(i < nevs);
        if (!wk_event_equal(got, evs[i]))
            WK_FAIL("event %zu differs after compaction", i);
        i++;
    }
    WK_ASSERT_INT_EQ(rc, 0);
    wk_store_iter_free(it);
    wk_store_reader_close(r);
    return i;
}

/* The store's blocks db at dir, opened directly (the store closed) to look at or change
 * its values: the environment, a transaction (read-only unless write) and a cursor. */
static void blocks_open(const char *dir, bool write, MDB_env **env, MDB_txn **txn,
                        MDB_dbi *dbi, MDB_cursor **c)
{
    WK_ASSERT_INT_EQ(mdb_env_create(env), 0);
    mdb_env_set_maxdbs(*env, 16);
    WK_ASSERT_INT_EQ(mdb_env_open(*env, dir, write ? 0 : MDB_RDONLY | MDB_NOLOCK, 0600), 0);
    WK_ASSERT_INT_EQ(mdb_txn_begin(*env, NULL, write ? 0 : MDB_RDONLY, txn), 0);
    WK_ASSERT_INT_EQ(mdb_dbi_open(*txn, "blocks", 0, dbi), 0);
    WK_ASSERT_INT_EQ(mdb_cursor_open(*txn, *dbi, c), 0);
}

/* Count the values of each block format (1..4) in the blocks db. */
static void formats(const char *dir, unsigned counts[5])
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *c;
    MDB_val k, v;
    memset(counts, 0, 5 * sizeof(*counts));
    blocks_open(dir, false, &env, &txn, &dbi, &c);
    while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
        uint8_t f = *(const uint8_t *)v.mv_data;
        if (f < 5)
            counts[f]++;
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

static void corpus_store(const char *dir)
{
    struct wk_store_opts o = small_opts();
    WK_ASSERT_INT_EQ(wk_store_open(&cur_st, dir, &o), 0);
    char p[4096];
    const char *c = wk_test_corpus();
    snprintf(p, sizeof(p), "%s/auditd", c);
    WK_ASSERT(feed_dir("auditd", p, ".log", true) > 5);
    snprintf(p, sizeof(p), "%s/docker-events", c);
    WK_ASSERT(feed_dir("docker-events", p, ".jsonl", false) >= 3);
    snprintf(p, sizeof(p), "%s/cri", c);
    WK_ASSERT(feed_dir("cri", p, ".cri.log", false) >= 3);
    WK_ASSERT_INT_EQ(wk_store_flush(cur_st), 0);
}

/* corpus_store under the test's tmp dir at dir (4096 bytes) = tmp/name, then all of it
 * made cold (cur_st open). @return the blocks compacted. */
static uint64_t corpus_cold(char *dir, const char *name)
{
    snprintf(dir, 4096, "%s/%s", wk_test_tmpdir(), name);
    corpus_store(dir);
    uint64_t done = 0;
    WK_ASSERT_INT_EQ(wk_store_recompact(cur_st, INT64_MAX, 0, &done), 0);
    return done;
}

/* Rebuild values are the default (opts.cold_rebuild); with the rebuilds registered but
 * the option off, the cold tier writes merged values (format 3) only, and reads them back. */
WK_TEST(rebuild_values_off_when_asked)
{
    WK_ASSERT_INT_EQ(wk_collector_rebuild_register(), 0);
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/optin", wk_test_tmpdir());
    struct wk_store_opts o = small_opts();
    WK_ASSERT(o.cold_rebuild);
    o.cold_rebuild = false;
    WK_ASSERT_INT_EQ(wk_store_open(&cur_st, dir, &o), 0);
    char p[4096];
    snprintf(p, sizeof(p), "%s/auditd", wk_test_corpus());
    WK_ASSERT(feed_dir("auditd", p, ".log", true) > 5);
    WK_ASSERT_INT_EQ(wk_store_flush(cur_st), 0);
    uint64_t done = 0;
    memset(&wk__rebuild_totals, 0, sizeof(wk__rebuild_totals));
    WK_ASSERT_INT_EQ(wk_store_recompact(cur_st, INT64_MAX, 0, &done), 0);
    WK_ASSERT(done > 5);
    WK_ASSERT_INT_EQ(wk__rebuild_totals.rebuilt + wk__rebuild_totals.whole, 0);
    WK_ASSERT_INT_EQ(check_all(cur_st), nevs);
    wk_store_close(cur_st);
    cur_st = NULL;
    unsigned counts[5];
    formats(dir, counts);
    WK_ASSERT(counts[3] > 0);
    WK_ASSERT_INT_EQ(counts[4], 0);
    struct wk_store_opts d;
    wk_store_opts_init(&d);
    WK_ASSERT(d.cold_rebuild);
}

WK_TEST(corpus_events_read_back_identical_from_rebuild_values)
{
    WK_ASSERT_INT_EQ(wk_collector_rebuild_register(), 0);
    const char *d = "corpus";
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/%s", wk_test_tmpdir(), d);
    corpus_store(dir);
    struct wk_store *st = cur_st;
    struct wk_store_stats s0, s1;
    WK_ASSERT_INT_EQ(wk_store_stats(st, &s0), 0);
    WK_ASSERT(nevs > 200);
    uint64_t done = 0;
    memset(&wk__rebuild_totals, 0, sizeof(wk__rebuild_totals));
    WK_ASSERT_INT_EQ(wk_store_recompact(st, INT64_MAX, 0, &done), 0);
    WK_ASSERT(done > 5);
    /* Most events rebuilt (the rest are gaps without an original, and the few the
     * parser's state made differently: whole). */
    fprintf(stderr, "# rebuilt %llu whole %llu events %zu\n", (unsigned long long)wk__rebuild_totals.rebuilt, (unsigned long long)wk__rebuild_totals.whole, nevs);
    WK_ASSERT(wk__rebuild_totals.rebuilt > wk__rebuild_totals.whole * 3);
    WK_ASSERT_INT_EQ(wk_store_stats(st, &s1), 0);
    WK_ASSERT(s1.stored_bytes < s0.stored_bytes);
    /* Every event equal, in order; verify hashes the reproduced records. */
    WK_ASSERT_INT_EQ(check_all(st), nevs);
    struct wk_store_verify_result res;
    WK_ASSERT_INT_EQ(wk_store_verify(st, 0, NULL, &res), 0);
    WK_ASSERT_INT_EQ(res.blocks, s0.blocks);
    /* By ref, in a second reader (each value reproduced on its own). */
    struct wk_store_reader *r;
    WK_ASSERT_INT_EQ(wk_store_reader_open(st, &r), 0);
    struct wk_store_iter *it;
    WK_ASSERT_INT_EQ(wk_store_iter_new(r, NULL, &it), 0);
    const struct wk_event *got;
    struct wk_store_ref ref;
    struct wk_store_ref refs[64];
    size_t n = 0, i = 0;
    while (wk_store_iter_next(it, &got, &ref) == 1) {
        if (i++ % 7 == 0 && n < 64)
            refs[n++] = ref;
    }
    wk_store_iter_free(it);
    wk_store_reader_close(r);
    struct wk_event *one;
    WK_ASSERT_INT_EQ(wk_event_new(&one), 0);
    WK_ASSERT_INT_EQ(wk_store_reader_open(st, &r), 0);
    for (size_t j = n; j-- > 0;) {
        WK_ASSERT_INT_EQ(wk_store_event_get(r, refs[j], one), 0);
        WK_ASSERT(wk_event_equal(one, evs[j * 7]));
    }
    wk_store_reader_close(r);
    wk_event_free(one);
    wk_store_close(st);
    unsigned f[5];
    formats(dir, f);
    WK_ASSERT(f[WK__BLK_REBUILT] >= 1);
    WK_ASSERT_INT_EQ(f[3], 0);
    /* Reopened: the same. */
    struct wk_store_opts o = small_opts();
    WK_ASSERT_INT_EQ(wk_store_open(&st, dir, &o), 0);
    WK_ASSERT_INT_EQ(check_all(st), nevs);
    wk_store_close(st);
    free_evs();
    wk_store_rebuild_clear();
}

static bool spoil_odd(const struct wk_event *ev)
{
    /* every auditd event with an odd serial */
    static struct wk_key k;
    if (!k.name)
        k = wk_key_init("auditd.serial");
    const struct wk_value *v = wk_event_get(ev, 0, &k);
    return v && v->kind == WK_VAL_INT && (v->u.i & 1);
}

WK_TEST(forced_mismatch_no_original_no_callback_keep_events_whole)
{
    WK_ASSERT_INT_EQ(wk_collector_rebuild_register(), 0);
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/spoil", wk_test_tmpdir());
    corpus_store(dir);
    /* A gap event (no original) and one of a source without a rebuild. */
    struct wk_event *ev;
    WK_ASSERT_INT_EQ(wk_event_new(&ev), 0);
    struct wk_key k_kind = wk_key_init("event.kind"), k_reason = wk_key_init("gap.reason");
    for (int i = 0; i < 40; i++) {
        wk_event_reset(ev);
        wk_event_set_ts(ev, 1700000000000000000LL + i);
        WK_ASSERT_INT_EQ(wk_event_add_str(ev, 0, &WK_KEY_EVENT_MODULE, "auditd", 6), 0);
        WK_ASSERT_INT_EQ(wk_event_add_str(ev, 0, &k_kind, "gap", 3), 0);
        WK_ASSERT_INT_EQ(wk_event_add_str(ev, 0, &k_reason, "lost", 4), 0);
        keep(ev);
        wk_event_reset(ev);
        wk_event_set_ts(ev, 1700000000000000000LL + i);
        WK_ASSERT_INT_EQ(wk_event_add_str(ev, 0, &WK_KEY_EVENT_MODULE, "other", 5), 0);
        WK_ASSERT_INT_EQ(wk_event_add_str(ev, 0, &WK_KEY_EVENT_ORIGINAL, "x=1 y=2", 7), 0);
        keep(ev);
    }
    wk_event_free(ev);
    WK_ASSERT_INT_EQ(wk_store_flush(cur_st), 0);
    struct wk_store *st = cur_st;
    size_t odd = 0;
    for (size_t i = 0; i < nevs; i++)
        odd += spoil_odd(evs[i]);
    WK_ASSERT(odd > 20);
    memset(&wk__rebuild_totals, 0, sizeof(wk__rebuild_totals));
    wk__rebuild_test_spoil = spoil_odd;
    uint64_t done = 0;
    WK_ASSERT_INT_EQ(wk_store_recompact(st, INT64_MAX, 0, &done), 0);
    wk__rebuild_test_spoil = NULL;
    WK_ASSERT(done > 5);
    /* at least the spoiled, gap and sourceless events of the compacted blocks are whole */
    WK_ASSERT(wk__rebuild_totals.whole >= odd / 2 + 40);
    WK_ASSERT(wk__rebuild_totals.rebuilt > 100);
    WK_ASSERT_INT_EQ(check_all(st), nevs);
    struct wk_store_verify_result res;
    WK_ASSERT_INT_EQ(wk_store_verify(st, 0, NULL, &res), 0);
    wk_store_close(st);
    free_evs();
    wk_store_rebuild_clear();
}

/* Change one byte of the first rebuild value's form (decompressed, changed, compressed
 * again, so that zstd reads it fine): the reproduction differs, verify names the block
 * and readers get WK_ECORRUPT rather than an altered event. */
WK_TEST(verify_catches_a_changed_byte_in_a_rebuild_value)
{
    WK_ASSERT_INT_EQ(wk_collector_rebuild_register(), 0);
    char dir[4096];
    corpus_cold(dir, "flip");
    struct wk_store *st = cur_st;
    struct wk_store_verify_result res;
    WK_ASSERT_INT_EQ(wk_store_verify(st, 0, NULL, &res), 0);
    wk_store_close(st);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *c;
    MDB_val k, v;
    blocks_open(dir, true, &env, &txn, &dbi, &c);
    uint64_t key = 0;
    bool found = false;
    while (!found && mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
        const uint8_t *p = v.mv_data;
        if (p[0] != WK__BLK_REBUILT)
            continue;
        found = true;
        for (int i = 0; i < 8; i++)
            key = key << 8 | ((const uint8_t *)k.mv_data)[i];
        uint32_t n = (uint32_t)p[4] | (uint32_t)p[5] << 8;
        size_t hl = 16 + (size_t)n * 128 + wk__get_u32le(p + WK__MRG_OFF_VTAB);
        unsigned long long fl = ZSTD_getFrameContentSize(p + hl, v.mv_size - hl);
        WK_ASSERT(fl != ZSTD_CONTENTSIZE_ERROR && fl != ZSTD_CONTENTSIZE_UNKNOWN);
        uint8_t *form = malloc(fl);
        WK_ASSERT_INT_EQ(ZSTD_decompress(form, fl, p + hl, v.mv_size - hl), fl);
        /* a byte inside an original: "type=" of an audit record becomes "typE=" */
        uint8_t *at = memmem(form, fl, "type=", 5);
        WK_ASSERT(at);
        at[3] = 'E';
        size_t cap = ZSTD_compressBound(fl);
        uint8_t *nv = malloc(hl + cap);
        memcpy(nv, p, hl);
        size_t z = ZSTD_compress(nv + hl, cap, form, fl, 3);
        WK_ASSERT(!ZSTD_isError(z));
        MDB_val nk = k, nvv = {hl + z, nv};
        WK_ASSERT_INT_EQ(mdb_cursor_put(c, &nk, &nvv, MDB_CURRENT), 0);
        free(form);
        free(nv);
    }
    WK_ASSERT(found);
    mdb_cursor_close(c);
    WK_ASSERT_INT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    struct wk_store_opts o = small_opts();
    WK_ASSERT_INT_EQ(wk_store_open(&st, dir, &o), 0);
    WK_ASSERT_INT_EQ(wk_store_verify(st, 0, NULL, &res), WK_ECHAIN);
    WK_ASSERT_UINT_EQ(res.first_bad, key);
    struct wk_store_reader *r;
    struct wk_store_iter *it;
    const struct wk_event *got;
    struct wk_store_ref ref;
    WK_ASSERT_INT_EQ(wk_store_reader_open(st, &r), 0);
    WK_ASSERT_INT_EQ(wk_store_iter_new(r, NULL, &it), 0);
    int rc;
    size_t i = 0;
    while ((rc = wk_store_iter_next(it, &got, &ref)) == 1)
        WK_ASSERT(wk_event_equal(got, evs[i++]));
    WK_ASSERT_INT_EQ(rc, WK_ECORRUPT);
    wk_store_iter_free(it);
    wk_store_reader_close(r);
    wk_store_close(st);
    free_evs();
    wk_store_rebuild_clear();
}

/* Values written without rebuilds registered (format 3) read on with them registered,
 * and the cold tier extends such a store with rebuild values; a reader without the
 * rebuilds cannot reproduce a rebuild value and says so. */
WK_TEST(merged_values_of_before_keep_reading_next_to_rebuild_values)
{
    wk_store_rebuild_clear();
    char dir[4096];
    uint64_t done = corpus_cold(dir, "mixed");
    struct wk_store *st = cur_st;
    WK_ASSERT(done > 0);
    /* more events, compacted with the rebuilds */
    char p[4096];
    snprintf(p, sizeof(p), "%s/docker-events", wk_test_corpus());
    feed_dir("docker-events", p, ".jsonl", false);
    snprintf(p, sizeof(p), "%s/auditd", wk_test_corpus());
    feed_dir("auditd", p, ".log", true);
    WK_ASSERT_INT_EQ(wk_store_flush(st), 0);
    WK_ASSERT_INT_EQ(wk_collector_rebuild_register(), 0);
    WK_ASSERT_INT_EQ(wk_store_recompact(st, INT64_MAX, 0, &done), 0);
    WK_ASSERT(done > 0);
    WK_ASSERT_INT_EQ(check_all(st), nevs);
    struct wk_store_verify_result res;
    WK_ASSERT_INT_EQ(wk_store_verify(st, 0, NULL, &res), 0);
    wk_store_close(st);
    unsigned f[5];
    formats(dir, f);
    WK_ASSERT(f[3] >= 1);
    WK_ASSERT(f[WK__BLK_REBUILT] >= 1);
    /* Without the rebuilds: the values of before read, the new ones are reported as
     * values this binary cannot check (WK_EREBUILD), not as a break. */
    wk_store_rebuild_clear();
    struct wk_store_opts o = small_opts();
    WK_ASSERT_INT_EQ(wk_store_open(&st, dir, &o), 0);
    WK_ASSERT_INT_EQ(wk_store_verify(st, 0, NULL, &res), WK_EREBUILD);
    WK_ASSERT_UINT_EQ(res.first_bad, 0);
    WK_ASSERT(res.unchecked > 0 && res.first_unchecked > 0);
    WK_ASSERT(strstr(res.why_unchecked, "this binary has no "));
    wk_store_close(st);
    free_evs();
}

/* Matches of a filter, in order: each equal to the kept event it should be. */
static size_t count_matches(struct wk_store *st, const struct wk_store_filter *f)
{
    struct wk_store_reader *r;
    struct wk_store_iter *it;
    const struct wk_event *got;
    struct wk_store_ref ref;
    size_t n = 0;
    int rc;
    WK_ASSERT_INT_EQ(wk_store_reader_open(st, &r), 0);
    WK_ASSERT_INT_EQ(wk_store_iter_new(r, f, &it), 0);
    while ((rc = wk_store_iter_next(it, &got, &ref)) == 1)
        n++;
    WK_ASSERT_INT_EQ(rc, 0);
    wk_store_iter_free(it);
    wk_store_reader_close(r);
    return n;
}

/* Term, source and time queries find the same events in rebuild values as in the hot
 * blocks; retention deletes rebuild values whole and leaves a chain that verifies. */
WK_TEST(key_query_and_retention_on_rebuild_values)
{
    WK_ASSERT_INT_EQ(wk_collector_rebuild_register(), 0);
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/keyq", wk_test_tmpdir());
    corpus_store(dir);
    struct wk_store *st = cur_st;
    /* the kept events' own answers */
    struct wk_key k_key = wk_key_init("auditd.key");
    size_t want_key = 0, want_docker = 0;
    const char *key_value = NULL;
    for (size_t i = 0; i < nevs; i++) {
        size_t ml;
        const char *m = wk_event_get_str(evs[i], &WK_KEY_EVENT_MODULE, &ml);
        want_docker += m && ml == 6 && memcmp(m, "docker", 6) == 0;
        const struct wk_value *v = wk_event_get(evs[i], 0, &k_key);
        if (v && v->kind == WK_VAL_STR && !key_value)
            key_value = v->u.s;
    }
    WK_ASSERT(key_value);
    for (size_t i = 0; i < nevs; i++) {
        const struct wk_value *v = wk_event_get(evs[i], 0, &k_key);
        want_key += v && v->kind == WK_VAL_STR && strcmp(v->u.s, key_value) == 0;
    }
    char kv[256];
    snprintf(kv, sizeof(kv), "%s", key_value);
    struct wk_store_term term = {"auditd.key", kv};
    struct wk_store_filter fk = {.terms = &term, .nterms = 1}, fd = {.source = "docker"};
    struct wk_store_filter ft = {.since = wk_event_ts(evs[nevs / 3]),
                                 .until = wk_event_ts(evs[nevs / 2])};
    size_t hot_t = count_matches(st, &ft);
    WK_ASSERT_INT_EQ(count_matches(st, &fk), want_key);
    WK_ASSERT_INT_EQ(count_matches(st, &fd), want_docker);
    uint64_t done = 0;
    WK_ASSERT_INT_EQ(wk_store_recompact(st, INT64_MAX, 0, &done), 0);
    WK_ASSERT(done > 5);
    WK_ASSERT_INT_EQ(count_matches(st, &fk), want_key);
    WK_ASSERT_INT_EQ(count_matches(st, &fd), want_docker);
    WK_ASSERT_INT_EQ(count_matches(st, &ft), hot_t);
    wk_store_close(st);
    /* retention by size: the oldest values go whole, the rest verifies and reads */
    struct wk_store_stats s0, s1;
    struct wk_store_opts o = small_opts();
    WK_ASSERT_INT_EQ(wk_store_open(&st, dir, &o), 0);
    WK_ASSERT_INT_EQ(wk_store_stats(st, &s0), 0);
    wk_store_close(st);
    o.retain_bytes = s0.stored_bytes / 2;
    WK_ASSERT_INT_EQ(wk_store_open(&st, dir, &o), 0);
    uint64_t removed = 0;
    WK_ASSERT_INT_EQ(wk_store_retain(st, wk_time_now_ns(), &removed), 0);
    WK_ASSERT(removed > 0);
    WK_ASSERT_INT_EQ(wk_store_stats(st, &s1), 0);
    WK_ASSERT(s1.stored_bytes <= s0.stored_bytes / 2);
    WK_ASSERT(s1.events > 0 && s1.events < s0.events);
    struct wk_store_verify_result res;
    WK_ASSERT_INT_EQ(wk_store_verify(st, 0, NULL, &res), 0);
    /* what is left: the newest events, equal to the kept ones */
    struct wk_store_reader *r;
    struct wk_store_iter *it;
    const struct wk_event *got;
    struct wk_store_ref ref;
    WK_ASSERT_INT_EQ(wk_store_reader_open(st, &r), 0);
    WK_ASSERT_INT_EQ(wk_store_iter_new(r, NULL, &it), 0);
    size_t i = nevs - s1.events;
    int rc;
    while ((rc = wk_store_iter_next(it, &got, &ref)) == 1) {
        WK_ASSERT(i < nevs);
        WK_ASSERT(wk_event_equal(got, evs[i++]));
    }
    WK_ASSERT_INT_EQ(rc, 0);
    WK_ASSERT_UINT_EQ(i, nevs);
    wk_store_iter_free(it);
    wk_store_reader_close(r);
    wk_store_close(st);
    free_evs();
    wk_store_rebuild_clear();
}

/* Damaged forms: every single-byte change and every truncation of a value's form either
 * expands to exactly the blocks' records (a change the form does not depend on) or is
 * reported as WK_ECORRUPT; never a crash or other records (the sanitizer build runs it). */
WK_TEST(damaged_forms_are_reported_never_misread)
{
    WK_ASSERT_INT_EQ(wk_collector_rebuild_register(), 0);
    char dir[4096];
    corpus_cold(dir, "damage");
    wk_store_close(cur_st);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *c;
    MDB_val k, v;
    blocks_open(dir, false, &env, &txn, &dbi, &c);
    size_t values = 0, same = 0, bad = 0;
    struct wk__buf good = {0}, out = {0};
    struct wk__rbq sq[2] = {{.source = "docker"}, {.nconds = 1}};
    sq[1].cond[0].nalt = 2;
    sq[1].cond[0].alt[0] = (struct wk__rbalt){"auditd.key", "fork", 4, false, false};
    sq[1].cond[0].alt[1] = (struct wk__rbalt){"container.id", "abc123", 6, true, false};
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    while (values < 2 && mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
        const uint8_t *p = v.mv_data;
        if (p[0] != WK__BLK_REBUILT || wk__get_u32le(p + 8) != 0)
            continue; /* a rebuild value without a dictionary (the test's small values) */
        values++;
        uint32_t n = wk__get_u32le(p + 4);
        size_t hl = 16 + (size_t)n * 128 + wk__get_u32le(p + WK__MRG_OFF_VTAB);
        unsigned long long fl = ZSTD_getFrameContentSize(p + hl, v.mv_size - hl);
        uint8_t *form = malloc(fl), *bent = malloc(fl);
        WK_ASSERT_INT_EQ(ZSTD_decompress(form, fl, p + hl, v.mv_size - hl), fl);
        WK_ASSERT_INT_EQ(wk__rebuild_expand(p + 16, n, form, fl, 0, &good), 0);
        for (size_t i = 0; i < fl; i++) {
            memcpy(bent, form, fl);
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            bent[i] ^= (uint8_t)(1u << (rng >> 61));
            int rc = wk__rebuild_expand(p + 16, n, bent, fl, 0, &out);
            /* a selective walk of the damaged form: events or WK_ECORRUPT, never a fault
             * (the sanitizer build runs it) */
            for (size_t qi = (i / 16) % 2; i % 16 == 0 && qi < 1 + (i / 16) % 2; qi++) {
                struct wk__rbsel *sel; /* (every 16th byte, queries in turn: sanitizer time) */
                WK_ASSERT_INT_EQ(wk__rbsel_new(&sel, &sq[qi]), 0);
                int sr = 0;
                for (uint32_t m = 0; m < n && sr >= 0; m++) {
                    sr = wk__rbsel_open(sel, 1, p + 16, n, bent, fl, 0, m);
                    const struct wk_event *sev;
                    uint32_t sidx;
                    while (sr >= 0 && (sr = wk__rbsel_next(sel, &sev, &sidx)) == 1)
                        WK_ASSERT(sev && sidx < 100000);
                }
                WK_ASSERT(sr >= 0 || sr == WK_ECORRUPT);
                wk__rbsel_free(sel);
            }
            if (rc == 0) {
                WK_ASSERT(out.len == good.len && memcmp(out.p, good.p, good.len) == 0);
                same++;
            } else {
                WK_ASSERT_INT_EQ(rc, WK_ECORRUPT);
                bad++;
            }
        }
        for (size_t cut = 0; cut < fl; cut += 1 + fl / 64)
            WK_ASSERT_INT_EQ(wk__rebuild_expand(p + 16, n, form, cut, 0, &out), WK_ECORRUPT);
        free(form);
        free(bent);
    }
    WK_ASSERT(values >= 1);
    WK_ASSERT(bad > same);
    wk__buf_fini(&good);
    wk__buf_fini(&out);
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    free_evs();
    wk_store_rebuild_clear();
}

/* The first rebuild value (format 4) in the blocks db: its key and its version table's
 * length (0 when none). */
static uint64_t first_rebuild_value(const char *dir, size_t *vtab)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *c;
    MDB_val k, v;
    uint64_t key = 0;
    blocks_open(dir, false, &env, &txn, &dbi, &c);
    while (!key && mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
        const uint8_t *p = v.mv_data;
        if (p[0] != WK__BLK_REBUILT)
            continue;
        key = wk__get_u64be(k.mv_data);
        *vtab = wk__get_u32le(p + WK__MRG_OFF_VTAB);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return key;
}

/* A reader whose rebuild version of a module differs from the one a value was written
 * with reports WK_EREBUILD naming the block, the module and both versions - never
 * WK_ECORRUPT/WK_ECHAIN; verify still checks every link and header hash, and a real break
 * elsewhere is still a break. */
WK_TEST(another_rebuild_version_is_cannot_check_not_tampering)
{
    WK_ASSERT_INT_EQ(wk_collector_rebuild_register(), 0);
    char dir[4096], why[256];
    uint64_t done = corpus_cold(dir, "vers");
    struct wk_store *st = cur_st;
    struct wk_store_verify_result res;
    WK_ASSERT_INT_EQ(wk_store_verify(st, 0, NULL, &res), 0);
    WK_ASSERT_UINT_EQ(res.unchecked, 0);
    wk_store_close(st);
    size_t vt = 0;
    uint64_t key = first_rebuild_value(dir, &vt);
    WK_ASSERT(key > 0);
    /* "auditd" (6) + docker/clog as used: a few bytes per value */
    WK_ASSERT(vt >= 1 + 1 + 6 + 2 && vt <= 1 + 3 * (1 + 6 + 2));
    /* this binary with auditd's rebuild at version + 1 */
    struct wk_store_rebuild_ops next = *wk_collector_rebuild_ops("auditd");
    next.version = WK_REBUILD_AUDITD_VERSION + 1;
    next.min_version = 0; /* (reads its own version only) */
    WK_ASSERT_INT_EQ(wk_store_rebuild_register(&next), 0);
    struct wk_store_opts o = small_opts();
    WK_ASSERT_INT_EQ(wk_store_open(&st, dir, &o), 0);
    WK_ASSERT_INT_EQ(wk_store_verify(st, 0, NULL, &res), WK_EREBUILD);
    WK_ASSERT_UINT_EQ(res.first_bad, 0);
    WK_ASSERT_UINT_EQ(res.first_unchecked, key);
    WK_ASSERT(res.unchecked >= 2);
    WK_ASSERT(res.blocks > res.unchecked);
    WK_ASSERT(res.checkpoints >= 1);
    char want[200];
    snprintf(want, sizeof(want), "block %llu (value of blocks %llu-", (unsigned long long)key,
             (unsigned long long)key);
    WK_ASSERT(strstr(res.why_unchecked, want));
    snprintf(want, sizeof(want), "auditd rebuild version %u, this binary has version %u",
             WK_REBUILD_AUDITD_VERSION, WK_REBUILD_AUDITD_VERSION + 1);
    WK_ASSERT(strstr(res.why_unchecked, want));
    WK_ASSERT(strstr(res.why_unchecked, "compact --expand"));
    /* the daemon's check of blocks from the start: the same */
    WK_ASSERT_INT_EQ(wk_store_verify_blocks(st, 0, &res), WK_EREBUILD);
    WK_ASSERT_UINT_EQ(res.first_unchecked, key);
    /* a reader: the events before the value read, then WK_EREBUILD naming it */
    struct wk_store_reader *r;
    struct wk_store_iter *it;
    const struct wk_event *got;
    WK_ASSERT_INT_EQ(wk_store_reader_open(st, &r), 0);
    WK_ASSERT_INT_EQ(wk_store_iter_new(r, NULL, &it), 0);
    int rc;
    while ((rc = wk_store_iter_next(it, &got, NULL)) == 1)
        ;
    WK_ASSERT_INT_EQ(rc, WK_EREBUILD);
    wk_store_rebuild_why(why, sizeof(why));
    snprintf(want, sizeof(want), "block %llu ", (unsigned long long)key);
    WK_ASSERT(strstr(why, want));
    wk_store_iter_free(it);
    wk_store_reader_close(r);
    /* compact --expand cannot read it either: nothing changes */
    uint64_t left = 0;
    WK_ASSERT_INT_EQ(wk_store_expand(st, INT64_MAX, &done, &left), WK_EREBUILD);
    WK_ASSERT_UINT_EQ(done, 0);
    wk_store_close(st);
    /* a real break after the value is still a break (delete the last block) */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *c;
    MDB_val k, v;
    blocks_open(dir, true, &env, &txn, &dbi, &c);
    WK_ASSERT_INT_EQ(mdb_cursor_get(c, &k, &v, MDB_LAST), 0);
    uint64_t last = wk__get_u64be(k.mv_data);
    WK_ASSERT(last > key);
    WK_ASSERT_INT_EQ(mdb_cursor_del(c, 0), 0);
    mdb_cursor_close(c);
    WK_ASSERT_INT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    WK_ASSERT_INT_EQ(wk_store_open(&st, dir, &o), 0);
    WK_ASSERT_INT_EQ(wk_store_verify(st, 0, NULL, &res), WK_ECHAIN);
    WK_ASSERT_UINT_EQ(res.first_bad, last);
    WK_ASSERT(res.unchecked > 0);
    wk_store_close(st);
    free_evs();
    wk_store_rebuild_clear();
}

/* ---------------------------------------------------------------------------------- */
/* Events without WK_VALF_LITERAL and values of auditd rebuild version 1 (docs/store.md, */
/* "Rebuild values" op 0 with n = 1, "Rebuild versions" min_version)                   */

/* dst = src with the value flags clr cleared on every field (what the JSON form, or the
 * parser of before the flag, gives). */
static void copy_clear(struct wk_event *dst, const struct wk_event *src, uint8_t clr)
{
    wk_event_reset(dst);
    wk_event_set_ts(dst, wk_event_ts(src));
    for (unsigned r = 0; r < wk_event_nrecords(src); r++)
        WK_ASSERT(wk_event_add_record(dst) > 0);
    for (size_t i = 0; i < wk_event_nfields(src); i++) {
        struct wk_value v = *wk_event_field_value(src, i);
        v.flags &= (uint8_t)~clr;
        WK_ASSERT_INT_EQ(wk_event_add_value(dst, v.rec, wk_event_field_key(src, i),
                                            wk_event_field_dots(src, i), &v),
                         0);
    }
}

static struct wk_event *unflagged;

static int sink_unflag(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    (void)s, (void)resume;
    copy_clear(unflagged, ev, WK_VALF_LITERAL);
    keep(unflagged);
    return 0;
}

/* The auditd corpus as the JSON form stores it (no WK_VALF_LITERAL) into tmp/name, then
 * all of it made cold (cur_st open). */
static void unflagged_cold(char *dir, const char *name)
{
    snprintf(dir, 4096, "%s/%s", wk_test_tmpdir(), name);
    struct wk_store_opts o = small_opts();
    WK_ASSERT_INT_EQ(wk_store_open(&cur_st, dir, &o), 0);
    WK_ASSERT_INT_EQ(wk_event_new(&unflagged), 0);
    char p[4096];
    snprintf(p, sizeof(p), "%s/auditd", wk_test_corpus());
    struct wk_parser_sink sink = {sink_unflag, au_sink_reject_none};
    WK_ASSERT(au_feed_dir("auditd", p, ".log", true, &sink) > 5);
    wk_event_free(unflagged);
    unflagged = NULL;
    WK_ASSERT_INT_EQ(wk_store_flush(cur_st), 0);
    uint64_t done = 0;
    memset(&wk__rebuild_totals, 0, sizeof(wk__rebuild_totals));
    WK_ASSERT_INT_EQ(wk_store_recompact(cur_st, INT64_MAX, 0, &done), 0);
    WK_ASSERT(done > 5);
}

/* The auditd rebuild of before WK_VALF_LITERAL (version 1): version 2's output with the
 * flag cleared (test_rebuild_guard.c checks that this is version 1's digest). */
static _Thread_local struct wk_event *v1_tmp;
static int v1_rebuild(const struct wk_event *ctx, const char *orig, size_t len,
                      struct wk_event *out)
{
    if (!v1_tmp)
        WK_ASSERT_INT_EQ(wk_event_new(&v1_tmp), 0);
    wk_event_reset(v1_tmp);
    int rc = wk_collector_rebuild_ops("auditd")->rebuild(ctx, orig, len, v1_tmp);
    if (rc < 0)
        return rc;
    copy_clear(out, v1_tmp, WK_VALF_LITERAL);
    return 0;
}

static struct wk_store_rebuild_ops auditd_v1(void)
{
    struct wk_store_rebuild_ops o = *wk_collector_rebuild_ops("auditd");
    o.rebuild = v1_rebuild;
    o.version = 1;
    o.min_version = 0;
    o.new_flags = 0;
    return o;
}

struct form_strings {
    size_t values, strings, bytes, tuples, stored;
};

/* The string entries (module names, context strings, literal runs) and tuples at the
 * front of every rebuild value's form at dir (values without a dictionary), and the
 * stored bytes of those values. */
static struct form_strings strings_of(const char *dir)
{
    struct form_strings fs = {0};
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *c;
    MDB_val k, v;
    blocks_open(dir, false, &env, &txn, &dbi, &c);
    while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
        const uint8_t *p = v.mv_data;
        if (p[0] != WK__BLK_REBUILT)
            continue;
        WK_ASSERT_INT_EQ(wk__get_u32le(p + 8), 0);
        fs.values++;
        fs.stored += v.mv_size;
        uint32_t n = wk__get_u32le(p + 4);
        size_t hl = 16 + (size_t)n * 128 + wk__get_u32le(p + WK__MRG_OFF_VTAB);
        unsigned long long fl = ZSTD_getFrameContentSize(p + hl, v.mv_size - hl);
        uint8_t *form = malloc(fl);
        WK_ASSERT(form);
        WK_ASSERT_INT_EQ(ZSTD_decompress(form, fl, p + hl, v.mv_size - hl), fl);
        size_t off = 0, tl = wk__rebuild_form_tables(form, fl, &off), pos = off;
        while (pos < off + tl) {
            uint64_t tag, len;
            WK_ASSERT_INT_EQ(wk__varint_get(form, off + tl, &pos, &tag), 0);
            WK_ASSERT_INT_EQ(wk__varint_get(form, off + tl, &pos, &len), 0);
            WK_ASSERT(tag == 1 || tag == 2);
            if (tag == 1) {
                fs.strings++;
                fs.bytes += len;
            } else {
                fs.tuples++;
            }
            pos += len;
        }
        WK_ASSERT_UINT_EQ(pos, off + tl);
        free(form);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return fs;
}

/* Auditd events stored without WK_VALF_LITERAL (ingested as JSON lines) against the
 * rebuild's flagged fields: the edit scripts clear the flags (op 0 with n = 1) and carry
 * no literal run for them. The value's strings (module names, context strings, literal
 * runs) and tuples are exactly those of a control whose rebuild has no flags (version 1),
 * and as many events are kept whole; every event reads back. */
WK_TEST(unflagged_auditd_events_carry_no_literal_runs_for_the_flags)
{
    WK_ASSERT_INT_EQ(wk_collector_rebuild_register(), 0);
    char dir[4096], cdir[4096];
    unflagged_cold(dir, "unflagged");
    struct wk__rebuild_stats got = wk__rebuild_totals;
    WK_ASSERT_INT_EQ(check_all(cur_st), nevs);
    struct wk_store_verify_result res;
    WK_ASSERT_INT_EQ(wk_store_verify(cur_st, 0, NULL, &res), 0);
    wk_store_close(cur_st);
    free_evs();
    struct wk_store_rebuild_ops v1 = auditd_v1();
    WK_ASSERT_INT_EQ(wk_store_rebuild_register(&v1), 0);
    unflagged_cold(cdir, "control");
    struct wk__rebuild_stats want = wk__rebuild_totals;
    wk_store_close(cur_st);
    free_evs();
    struct form_strings a = strings_of(dir), b = strings_of(cdir);
    printf("# rebuilt %llu whole %llu; strings %zu (%zu bytes) tuples %zu, stored %zu; "
           "control: strings %zu (%zu bytes) tuples %zu, stored %zu\n",
           (unsigned long long)got.rebuilt, (unsigned long long)got.whole, a.strings, a.bytes,
           a.tuples, a.stored, b.strings, b.bytes, b.tuples, b.stored);
    WK_ASSERT(got.rebuilt > 100);
    WK_ASSERT_UINT_EQ(got.rebuilt, want.rebuilt);
    WK_ASSERT_UINT_EQ(got.whole, want.whole);
    WK_ASSERT(a.values > 0);
    WK_ASSERT_UINT_EQ(a.values, b.values);
    WK_ASSERT_UINT_EQ(a.strings, b.strings);
    WK_ASSERT_UINT_EQ(a.bytes, b.bytes);
    WK_ASSERT_UINT_EQ(a.tuples, b.tuples);
    wk_event_free(v1_tmp);
    v1_tmp = NULL;
    wk_store_rebuild_clear();
}

/* Every event the iterator gives for filter f equals the kept events of module m, in
 * order (a selective read of rebuild values: only those events are rebuilt). */
static void check_module(struct wk_store *st, const char *m)
{
    struct wk_store_filter f = {.source = m};
    struct wk_store_reader *r;
    struct wk_store_iter *it;
    const struct wk_event *got;
    WK_ASSERT_INT_EQ(wk_store_reader_open(st, &r), 0);
    WK_ASSERT_INT_EQ(wk_store_iter_new(r, &f, &it), 0);
    size_t i = 0, n = 0;
    int rc;
    while ((rc = wk_store_iter_next(it, &got, NULL)) == 1) {
        size_t ml;
        const char *em = NULL;
        for (; i < nevs; i++) {
            em = wk_event_get_str(evs[i], &WK_KEY_EVENT_MODULE, &ml);
            if (em && ml == strlen(m) && memcmp(em, m, ml) == 0)
                break;
        }
        WK_ASSERT(i < nevs);
        if (!wk_event_equal(got, evs[i]))
            WK_FAIL("%s event %zu differs in a selective read", m, i);
        i++, n++;
    }
    WK_ASSERT_INT_EQ(rc, 0);
    WK_ASSERT(n > 100);
    wk_store_iter_free(it);
    wk_store_reader_close(r);
}

/* A store the previous binary compacted (auditd rebuild version 1: no WK_VALF_LITERAL in
 * its events or its rebuild) reads back byte-exact with this binary's rebuild (version 2,
 * min_version 1): whole reads, selective reads, verify, expand. A version outside
 * [min_version, version] is still WK_EREBUILD, named. */
WK_TEST(version_1_values_read_with_this_binary)
{
    WK_ASSERT_INT_EQ(wk_collector_rebuild_register(), 0);
    struct wk_store_rebuild_ops v1 = auditd_v1();
    WK_ASSERT_INT_EQ(wk_store_rebuild_register(&v1), 0);
    char dir[4096], why[512];
    unflagged_cold(dir, "v1");
    WK_ASSERT(wk__rebuild_totals.rebuilt > 100);
    wk_store_close(cur_st);
    cur_st = NULL;
    /* the values say auditd version 1 */
    size_t vt = 0;
    WK_ASSERT(first_rebuild_value(dir, &vt) > 0);
    char data[4200];
    snprintf(data, sizeof(data), "%s/data.mdb", dir);
    FILE *fp = fopen(data, "rb");
    WK_ASSERT(fp);
    static uint8_t raw[64 << 20];
    size_t rl = fread(raw, 1, sizeof(raw), fp);
    fclose(fp);
    WK_ASSERT(rl > 0 && rl < sizeof(raw));
    static const uint8_t v1e[] = {6, 'a', 'u', 'd', 'i', 't', 'd', 1, 0};
    static const uint8_t v2e[] = {6, 'a', 'u', 'd', 'i', 't', 'd', 2, 0};
    WK_ASSERT(wk__find(raw, rl, v1e, sizeof(v1e)));
    WK_ASSERT(!wk__find(raw, rl, v2e, sizeof(v2e)));
    wk_event_free(v1_tmp);
    v1_tmp = NULL;
    /* this binary */
    wk_store_rebuild_clear();
    WK_ASSERT_INT_EQ(wk_collector_rebuild_register(), 0);
    struct wk_store_opts o = small_opts();
    struct wk_store *st;
    WK_ASSERT_INT_EQ(wk_store_open(&st, dir, &o), 0);
    WK_ASSERT_INT_EQ(check_all(st), nevs);
    check_module(st, "auditd");
    struct wk_store_verify_result res;
    WK_ASSERT_INT_EQ(wk_store_verify(st, 0, NULL, &res), 0);
    WK_ASSERT_UINT_EQ(res.unchecked, 0);
    wk_store_close(st);
    /* a rebuild that reads only its own version: WK_EREBUILD, not damage */
    struct wk_store_rebuild_ops only2 = *wk_collector_rebuild_ops("auditd");
    only2.min_version = 0;
    WK_ASSERT_INT_EQ(wk_store_rebuild_register(&only2), 0);
    WK_ASSERT_INT_EQ(wk_store_open(&st, dir, &o), 0);
    WK_ASSERT_INT_EQ(wk_store_verify(st, 0, NULL, &res), WK_EREBUILD);
    WK_ASSERT(res.unchecked > 0);
    WK_ASSERT(strstr(res.why_unchecked, "written with auditd rebuild version 1, this binary "
                                        "has version 2: read it"));
    wk_store_close(st);
    /* nor does one of versions 2-3 */
    struct wk_store_rebuild_ops v23 = *wk_collector_rebuild_ops("auditd");
    v23.version = 3;
    v23.min_version = 2;
    WK_ASSERT_INT_EQ(wk_store_rebuild_register(&v23), 0);
    WK_ASSERT_INT_EQ(wk_store_open(&st, dir, &o), 0);
    WK_ASSERT_INT_EQ(wk_store_verify(st, 0, NULL, &res), WK_EREBUILD);
    struct wk_store_reader *r;
    struct wk_store_iter *it;
    const struct wk_event *got;
    WK_ASSERT_INT_EQ(wk_store_reader_open(st, &r), 0);
    WK_ASSERT_INT_EQ(wk_store_iter_new(r, NULL, &it), 0);
    int rc;
    while ((rc = wk_store_iter_next(it, &got, NULL)) == 1)
        ;
    WK_ASSERT_INT_EQ(rc, WK_EREBUILD);
    wk_store_iter_free(it);
    wk_store_reader_close(r);
    wk_store_rebuild_why(why, sizeof(why));
    WK_ASSERT(strstr(why, "written with auditd rebuild version 1, this binary has version 3 "
                          "(and reads 2-3): read it"));
    wk_store_close(st);
    /* this binary again: expand turns them into merged values, which read the same */
    WK_ASSERT_INT_EQ(wk_collector_rebuild_register(), 0);
    WK_ASSERT_INT_EQ(wk_store_open(&st, dir, &o), 0);
    uint64_t done = 0, left = 1;
    WK_ASSERT_INT_EQ(wk_store_expand(st, INT64_MAX, &done, &left), 0);
    WK_ASSERT(done > 0);
    WK_ASSERT_UINT_EQ(left, 0);
    WK_ASSERT_INT_EQ(check_all(st), nevs);
    WK_ASSERT_INT_EQ(wk_store_verify(st, 0, NULL, &res), 0);
    wk_store_close(st);
    free_evs();
    wk_store_rebuild_clear();
}

/* A rebuild whose output differs between calls on the same input (the first call on each
 * original returns a timestamp 1 ns later) breaks the contract the compactor's per-event
 * check leans on when it takes the encoder's rebuild instead of running its own (docs/
 * store.md, "Cold tier CPU"): the read-back of each value, which runs the reader's code
 * from the stored bytes, must still keep every such value merged, so nothing stored reads
 * differently. (Without the read-back check the values are stored as rebuild values and
 * read back 1 ns off.) */
static const struct wk_store_rebuild_ops *pure_auditd;
static uint64_t seen_orig[4096];

static int first_call_off(const struct wk_event *ctx, const char *orig, size_t len,
                          struct wk_event *out)
{
    int rc = pure_auditd->rebuild(ctx, orig, len, out);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)orig[i]) * 1099511628211ull;
    h |= 1;
    size_t i = h % 4096;
    while (seen_orig[i] && seen_orig[i] != h)
        i = (i + 1) % 4096;
    if (rc == 0 && !seen_orig[i])
        wk_event_set_ts(out, wk_event_ts(out) + 1);
    seen_orig[i] = h;
    return rc;
}

WK_TEST(a_rebuild_that_differs_between_calls_never_stores_what_reads_differently)
{
    WK_ASSERT_INT_EQ(wk_collector_rebuild_register(), 0);
    pure_auditd = wk_collector_rebuild_ops("auditd");
    struct wk_store_rebuild_ops impure = *pure_auditd;
    impure.rebuild = first_call_off;
    WK_ASSERT_INT_EQ(wk_store_rebuild_register(&impure), 0);
    char dir[4096];
    uint64_t done = corpus_cold(dir, "impure");
    WK_ASSERT(done > 10);
    WK_ASSERT_UINT_EQ(check_all(cur_st), nevs);
    struct wk_store_verify_result res;
    WK_ASSERT_INT_EQ(wk_store_verify(cur_st, 0, NULL, &res), 0);
    wk_store_close(cur_st);
    unsigned counts[5];
    formats(dir, counts);
    WK_ASSERT(counts[3] > 0); /* the values holding auditd events stayed merged */
    free_evs();
    wk_store_rebuild_clear();
}

/* wk_store_expand (compact --expand) turns every rebuild value into a merged value of the
 * same records: the events, the chain and verify are as before, and the values no longer
 * need any rebuild to be read; wk_store_rebuild_merged (compact --rebuild) turns them back. */
WK_TEST(expand_turns_rebuild_values_into_merged_values)
{
    WK_ASSERT_INT_EQ(wk_collector_rebuild_register(), 0);
    char dir[4096];
    uint64_t done = corpus_cold(dir, "expand"), left = 0, nrb = 0;
    struct wk_store *st = cur_st;
    struct wk_store_stats s0, s1;
    WK_ASSERT_INT_EQ(wk_store_stats(st, &s0), 0);
    WK_ASSERT_INT_EQ(wk_store_rebuild_values(st, &nrb), 0);
    unsigned f0[5], f1[5];
    formats(dir, f0);
    WK_ASSERT(f0[WK__BLK_REBUILT] >= 2);
    WK_ASSERT_UINT_EQ(nrb, f0[WK__BLK_REBUILT]);
    /* one value per call, as the CLI does */
    WK_ASSERT_INT_EQ(wk_store_expand(st, 1, &done, &left), 0);
    WK_ASSERT_UINT_EQ(done, 1);
    WK_ASSERT_UINT_EQ(left, f0[WK__BLK_REBUILT] - 1);
    WK_ASSERT_INT_EQ(wk_store_expand(st, INT64_MAX, &done, &left), 0);
    WK_ASSERT_UINT_EQ(done, f0[WK__BLK_REBUILT] - 1);
    WK_ASSERT_UINT_EQ(left, 0);
    WK_ASSERT_INT_EQ(wk_store_expand(st, INT64_MAX, &done, &left), 0);
    WK_ASSERT_UINT_EQ(done, 0);
    WK_ASSERT_INT_EQ(wk_store_stats(st, &s1), 0);
    WK_ASSERT_UINT_EQ(s1.blocks, s0.blocks);
    WK_ASSERT_UINT_EQ(s1.events, s0.events);
    WK_ASSERT(s1.stored_bytes > s0.stored_bytes);
    WK_ASSERT_INT_EQ(check_all(st), nevs);
    struct wk_store_verify_result res;
    WK_ASSERT_INT_EQ(wk_store_verify(st, 0, NULL, &res), 0);
    WK_ASSERT_UINT_EQ(res.unchecked, 0);
    wk_store_close(st);
    formats(dir, f1);
    WK_ASSERT_UINT_EQ(f1[WK__BLK_REBUILT], 0);
    WK_ASSERT_UINT_EQ(f1[3], f0[3] + f0[WK__BLK_REBUILT]);
    /* no rebuild needed any more */
    wk_store_rebuild_clear();
    struct wk_store_opts o = small_opts();
    WK_ASSERT_INT_EQ(wk_store_open(&st, dir, &o), 0);
    WK_ASSERT_INT_EQ(check_all(st), nevs);
    WK_ASSERT_INT_EQ(wk_store_verify(st, 0, NULL, &res), 0);
    uint64_t from = 1;
    WK_ASSERT_INT_EQ(wk_store_rebuild_merged(st, INT64_MAX, &from, &done), 0);
    WK_ASSERT_UINT_EQ(from, 0);
    WK_ASSERT_UINT_EQ(done, 0); /* no rebuild registered: nothing to do */
    /* the inverse (compact --rebuild): merged cold values back to rebuild values, one per
     * call as the CLI does */
    WK_ASSERT_INT_EQ(wk_collector_rebuild_register(), 0);
    from = 1;
    uint64_t conv = 0, calls = 0;
    while (from) {
        WK_ASSERT_INT_EQ(wk_store_rebuild_merged(st, 1, &from, &done), 0);
        conv += done;
        WK_ASSERT(++calls < 1000);
    }
    WK_ASSERT_INT_EQ(check_all(st), nevs);
    WK_ASSERT_INT_EQ(wk_store_verify(st, 0, NULL, &res), 0);
    wk_store_close(st);
    unsigned f2[5];
    formats(dir, f2);
    WK_ASSERT(f2[WK__BLK_REBUILT] >= f0[WK__BLK_REBUILT]);
    WK_ASSERT_UINT_EQ(conv, f2[WK__BLK_REBUILT]);
    WK_ASSERT_UINT_EQ(f2[3] + f2[WK__BLK_REBUILT], f0[3] + f0[WK__BLK_REBUILT]);
    free_evs();
    wk_store_rebuild_clear();
}

/* The writer's order of a value's form (enc_finish): every string and tuple of the value
 * leads the first block's stream, and tuples are numbered by their number of events, the
 * most used first (tag 3). Docker and CRI lines of the corpus, which all rebuild exactly
 * (no record kept whole, whose entry would need the shape tables to step over). */
WK_TEST(value_tables_lead_the_form_most_used_tuple_first)
{
    WK_ASSERT_INT_EQ(wk_collector_rebuild_register(), 0);
    char dir[4096], p[4096];
    snprintf(dir, sizeof(dir), "%s/order", wk_test_tmpdir());
    struct wk_store_opts o = small_opts();
    o.cold_block_bytes = 16384;
    WK_ASSERT_INT_EQ(wk_store_open(&cur_st, dir, &o), 0);
    snprintf(p, sizeof(p), "%s/docker-events", wk_test_corpus());
    WK_ASSERT(feed_dir("docker-events", p, ".jsonl", false) >= 3);
    snprintf(p, sizeof(p), "%s/cri", wk_test_corpus());
    WK_ASSERT(feed_dir("cri", p, ".cri.log", false) >= 3);
    WK_ASSERT_INT_EQ(wk_store_flush(cur_st), 0);
    uint64_t done = 0;
    WK_ASSERT_INT_EQ(wk_store_recompact(cur_st, INT64_MAX, 0, &done), 0);
    WK_ASSERT(done >= 4);
    wk_store_close(cur_st);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *c;
    MDB_val k, v;
    blocks_open(dir, false, &env, &txn, &dbi, &c);
    size_t values = 0, ordered = 0;
    while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
        const uint8_t *b = v.mv_data;
        if (b[0] != WK__BLK_REBUILT)
            continue;
        WK_ASSERT_INT_EQ(wk__get_u32le(b + 8), 0); /* no dictionary: the test's small values */
        values++;
        uint32_t n = wk__get_u32le(b + 4);
        /* the form's frame follows the member headers and the version table */
        size_t hl = 16 + (size_t)n * 128 + wk__get_u32le(b + WK__MRG_OFF_VTAB), pos = 0,
               ntup = 0, uses[256] = {0};
        unsigned long long fl = ZSTD_getFrameContentSize(b + hl, v.mv_size - hl);
        uint8_t *f = malloc(fl);
        WK_ASSERT_INT_EQ(ZSTD_decompress(f, fl, b + hl, v.mv_size - hl), fl);
        bool events = false;
        for (uint32_t m = 0; m < n; m++) {
            uint64_t tl, count, slen, tag, len;
            WK_ASSERT_INT_EQ(wk__varint_get(f, fl, &pos, &tl), 0);
            pos += tl ? tl - 1 : 0;
            WK_ASSERT_INT_EQ(wk__varint_get(f, fl, &pos, &count), 0);
            WK_ASSERT_INT_EQ(wk__varint_get(f, fl, &pos, &slen), 0);
            WK_ASSERT(slen <= fl - pos);
            size_t end = pos + slen;
            while (pos < end) {
                WK_ASSERT_INT_EQ(wk__varint_get(f, end, &pos, &tag), 0);
                if (tag == 0)
                    WK_FAIL("a record kept whole in block %u", m);
                if (tag <= 2) {
                    /* a string or tuple: only before the value's first event */
                    WK_ASSERT(!events);
                    ntup += tag == 2;
                    WK_ASSERT_INT_EQ(wk__varint_get(f, end, &pos, &len), 0);
                    WK_ASSERT(len <= end - pos);
                    pos += len;
                    continue;
                }
                events = true;
                WK_ASSERT(tag - 3 < ntup && ntup <= 256);
                uses[tag - 3]++;
                const uint8_t *z = memchr(f + pos, 0, end - pos);
                WK_ASSERT(z);
                pos = (size_t)(z - f) + 1;
            }
        }
        WK_ASSERT_INT_EQ(pos, fl);
        WK_ASSERT(ntup >= 1);
        for (size_t i = 0; i < ntup; i++) {
            WK_ASSERT(uses[i] > 0);
            if (i + 1 < ntup && uses[i] < uses[i + 1])
                WK_FAIL("tuple %zu: %zu events, tuple %zu: %zu", i, uses[i], i + 1, uses[i + 1]);
        }
        ordered += ntup >= 2 && uses[0] > uses[ntup - 1];
        free(f);
    }
    fprintf(stderr, "# %zu values, %zu with tuples of different use\n", values, ordered);
    WK_ASSERT(values >= 1);
    WK_ASSERT(ordered >= 1);
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    free_evs();
    wk_store_rebuild_clear();
}

/* ---------------------------------------------------------------------------------- */
/* Selective reads (docs/store.md, "Selective reads")                                  */

static int keep_block(const uint8_t *recs, size_t len, void *arg)
{
    (void)recs, (void)len, (void)arg;
    return 1;
}

static bool keep_record(size_t off, size_t len, void *arg)
{
    (void)off, (void)len, (void)arg;
    return true;
}

/* Read f selectively and whole (a raw pre-check that keeps everything turns selective
 * reads off: values are expanded, their hashes checked): the same events, refs and
 * order? *n: how many the whole read found. */
static bool same_as_full(struct wk_store *st, const struct wk_store_filter *f, size_t *n)
{
    struct wk_store_raw raw = {keep_block, keep_record, NULL};
    struct wk_store_filter whole = *f;
    whole.raw = &raw;
    struct wk_store_reader *r1, *r2;
    struct wk_store_iter *a, *b;
    WK_ASSERT_INT_EQ(wk_store_reader_open(st, &r1), 0);
    WK_ASSERT_INT_EQ(wk_store_reader_open(st, &r2), 0);
    WK_ASSERT_INT_EQ(wk_store_iter_new(r1, f, &a), 0);
    WK_ASSERT_INT_EQ(wk_store_iter_new(r2, &whole, &b), 0);
    bool same = true;
    *n = 0;
    for (;;) {
        const struct wk_event *ea, *eb;
        struct wk_store_ref ra, rb;
        int x = wk_store_iter_next(a, &ea, &ra), y = wk_store_iter_next(b, &eb, &rb);
        WK_ASSERT(x >= 0 && y >= 0);
        if (x != y || (x == 1 && (ra.block != rb.block || ra.index != rb.index ||
                                  !wk_event_equal(ea, eb)))) {
            same = false;
            break;
        }
        if (x == 0)
            break;
        (*n)++;
    }
    wk_store_iter_free(a);
    wk_store_iter_free(b);
    wk_store_reader_close(r1);
    wk_store_reader_close(r2);
    return same;
}

/* The filters each selective test reads: every string value of the fields the tests
 * care about (auditd.key, tags, containers, docker names), each source, time ranges with
 * and without a term, id prefixes, a term no module can pre-check, a scalar term.
 * @return how many filters read differently from a whole read (0 expected). */
static size_t selective_mismatches(struct wk_store *st, size_t *nonempty)
{
    static const char *const fields[] = {"auditd.key", "tags", "container.id", "container.name",
                                         "Actor.Attributes.name", "kubernetes.pod.name",
                                         "process.executable", "event.action", NULL};
    size_t bad = 0, n, tried = 0;
    *nonempty = 0;
    for (size_t i = 0; i < nevs && tried < 60; i += 1 + nevs / 120) {
        for (size_t j = 0; fields[j]; j++) {
            struct wk_key k = wk_key_init(fields[j]);
            const struct wk_value *v = wk_event_get(evs[i], 0, &k);
            if (!v || (v->kind != WK_VAL_STR && v->kind != WK_VAL_STRLIST))
                continue;
            const char *val = v->kind == WK_VAL_STR ? v->u.s : v->len ? v->u.items[v->len - 1].s : NULL;
            size_t vl = v->kind == WK_VAL_STR ? v->len : v->len ? v->u.items[v->len - 1].len : 0;
            if (!val || vl == 0 || vl > 200 || memchr(val, 0, vl))
                continue;
            char text[256];
            memcpy(text, val, vl);
            text[vl] = 0;
            struct wk_store_term t = {fields[j], text};
            struct wk_store_filter f = {.terms = &t, .nterms = 1};
            if (strncmp(fields[j], "container.", 10) == 0) {
                f = (struct wk_store_filter){.container = text};
                if (vl == 64) { /* an id prefix too */
                    char pre[13];
                    memcpy(pre, text, 12);
                    pre[12] = 0;
                    struct wk_store_filter g = {.container = pre};
                    bad += !same_as_full(st, &g, &n);
                    *nonempty += n > 0;
                }
            }
            tried++;
            bad += !same_as_full(st, &f, &n);
            *nonempty += n > 0;
            /* with a source and a time range */
            char mod[32] = "";
            const char *m = wk_event_get_str(evs[i], &WK_KEY_EVENT_MODULE, &vl);
            if (m && vl < sizeof(mod)) {
                memcpy(mod, m, vl);
                mod[vl] = 0;
            }
            f.source = mod;
            f.since = wk_event_ts(evs[i]);
            f.until = f.since + 1000000000;
            bad += !same_as_full(st, &f, &n);
        }
    }
    static const char *const sources[] = {"auditd", "docker", "clog", "none"};
    for (size_t i = 0; i < 4; i++) {
        struct wk_store_filter f = {.source = sources[i]};
        bad += !same_as_full(st, &f, &n);
        *nonempty += n > 0;
    }
    struct wk_store_term scalar = {"auditd.serial", "293"}, none = {"auditd.key", "no such key"};
    struct wk_store_filter fs = {.terms = &scalar, .nterms = 1}, fn = {.terms = &none, .nterms = 1};
    bad += !same_as_full(st, &fs, &n);
    bad += !same_as_full(st, &fn, &n);
    WK_ASSERT_UINT_EQ(n, 0);
    return bad;
}

/* Every claim of the registered modules' value_forms holds on these events: each string
 * value of a claimed field of the rebuilt event shows in the original (or a context
 * string) in one of the claimed forms. @return the events checked. */
static size_t check_claims(void)
{
    static const char hx[] = "0123456789abcdef";
    struct wk_event *rb;
    size_t checked = 0;
    WK_ASSERT_INT_EQ(wk_event_new(&rb), 0);
    for (size_t i = 0; i < nevs; i++) {
        size_t ml, ol;
        const char *m = wk_event_get_str(evs[i], &WK_KEY_EVENT_MODULE, &ml);
        const char *o = wk_event_get_str(evs[i], &WK_KEY_EVENT_ORIGINAL, &ol);
        char mod[32];
        if (!m || !o || ml >= sizeof(mod))
            continue;
        memcpy(mod, m, ml);
        mod[ml] = 0;
        const struct wk_store_rebuild_ops *ops = wk__rebuild_find(mod);
        if (!ops || !ops->value_forms)
            continue;
        wk_event_reset(rb);
        if (ops->rebuild(evs[i], o, ol, rb) < 0)
            continue;
        checked++;
        for (size_t f = 0; f < wk_event_nfields(rb); f++) {
            const struct wk_key *k = wk_event_field_key(rb, f);
            const struct wk_value *v = wk_event_field_value(rb, f);
            char name[256];
            if (k->len >= sizeof(name))
                continue;
            memcpy(name, k->name, k->len);
            name[k->len] = 0;
            unsigned forms = ops->value_forms(name);
            if (!forms || (v->kind != WK_VAL_STR && v->kind != WK_VAL_STRLIST))
                continue;
            size_t ni = v->kind == WK_VAL_STR ? 1 : v->len;
            for (size_t it = 0; it < ni; it++) {
                const char *s = v->kind == WK_VAL_STR ? v->u.s : v->u.items[it].s;
                size_t sl = v->kind == WK_VAL_STR ? v->len : v->u.items[it].len;
                bool ok = false;
                if (forms & WK_STORE_FORM_TEXT) {
                    ok = memmem(o, ol, s, sl) != NULL;
                    for (size_t c = 0; !ok && ops->context && ops->context[c]; c++) {
                        struct wk_key ck = wk_key_init(ops->context[c]);
                        size_t cl;
                        const char *cs = wk_event_get_str(evs[i], &ck, &cl);
                        ok = cs && memmem(cs, cl, s, sl) != NULL;
                    }
                }
                if (!ok && (forms & WK_STORE_FORM_HEX) && sl < 512) {
                    char h[1024];
                    for (size_t b = 0; b < sl; b++) {
                        h[2 * b] = hx[(uint8_t)s[b] >> 4];
                        h[2 * b + 1] = hx[(uint8_t)s[b] & 15];
                    }
                    for (size_t at = 0; !ok && at + 2 * sl <= ol; at++) {
                        size_t b = 0;
                        while (b < 2 * sl && (o[at + b] | 0x20) == h[b])
                            b++;
                        ok = b == 2 * sl;
                    }
                }
                if (!ok && (forms & WK_STORE_FORM_ESCAPED))
                    ok = memchr(o, '\\', ol) != NULL;
                if (!ok)
                    WK_FAIL("event %zu: %s claims forms %u for %s = '%.*s', not in '%.*s'", i,
                            mod, forms, name, (int)sl, s, (int)ol, o);
            }
        }
    }
    wk_event_free(rb);
    return checked;
}

/* The corpus' events (the auditd logs' hex-encoded keys joined by 0x01 - "exec" and "64bit"
 * - included), compacted into rebuild values with some events kept whole: every filter
 * reads selectively exactly what a whole read of the values gives; the modules' claims
 * hold on every event. Leaving the hex form out of the pre-check (the deliberate bug of
 * wk__rbsel_test_drop) loses events and is caught. */
WK_TEST(selective_reads_of_corpus_values_equal_whole_reads)
{
    WK_ASSERT_INT_EQ(wk_collector_rebuild_register(), 0);
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/sel", wk_test_tmpdir());
    wk__rebuild_test_spoil = spoil_odd; /* some events whole, in derived-table blocks */
    corpus_store(dir);
    struct wk_store *st = cur_st;
    WK_ASSERT(check_claims() > 150);
    uint64_t done = 0;
    WK_ASSERT_INT_EQ(wk_store_recompact(st, INT64_MAX, 0, &done), 0);
    wk__rebuild_test_spoil = NULL;
    WK_ASSERT(done > 5);
    unsigned fm[5];
    formats(dir, fm);
    WK_ASSERT(fm[4] > 3);
    size_t nonempty, n;
    WK_ASSERT_UINT_EQ(selective_mismatches(st, &nonempty), 0);
    WK_ASSERT(nonempty > 40);
    wk_store_close(st);
    free_evs();
    /* again without events kept whole (their bytes hold the decoded key) */
    snprintf(dir, sizeof(dir), "%s/sel2", wk_test_tmpdir());
    corpus_store(dir);
    st = cur_st;
    WK_ASSERT_INT_EQ(wk_store_recompact(st, INT64_MAX, 0, &done), 0);
    WK_ASSERT_UINT_EQ(selective_mismatches(st, &nonempty), 0);
    struct wk_store_term t = {"tags", "64bit"};
    struct wk_store_filter f = {.terms = &t, .nterms = 1};
    WK_ASSERT(same_as_full(st, &f, &n));
    WK_ASSERT(n >= 1);
    wk_store_close(st);
    free_evs();
    wk_store_rebuild_clear();
}

static uint64_t rnd_state = 0x9E3779B97F4A7C15u;
static uint32_t rnd(uint32_t n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (uint32_t)(rnd_state % n);
}

/* Random inputs of each source, in the forms the pre-check has to see through: auditd
 * keys quoted or hex-encoded (upper, lower and mixed case; several keys joined by 0x01),
 * Docker events whose names are JSON-escaped, CRI lines of containers named by their log
 * paths. Written as files and parsed by the sources' parsers; then compacted. */
static void random_store(const char *dir)
{
    static const char hx[] = "0123456789ABCDEF";
    static const char *const words[] = {"recon", "exec", "64bit", "a b", "x\"y", "net", "k9"};
    struct wk_store_opts o = small_opts();
    WK_ASSERT_INT_EQ(wk_store_open(&cur_st, dir, &o), 0);
    char path[4096];
    snprintf(path, sizeof(path), "%s/rand.log", wk_test_tmpdir());
    FILE *fp = fopen(path, "w");
    WK_ASSERT(fp);
    for (unsigned i = 0; i < 300; i++) {
        const char *k1 = words[rnd(7)], *k2 = words[rnd(7)];
        char key[128];
        bool two = rnd(4) == 0, hex = two || strchr(k1, ' ') || strchr(k1, '"') || rnd(3) == 0;
        if (!hex) {
            snprintf(key, sizeof(key), "\"%s\"", k1);
        } else {
            char raw[64];
            int rl = snprintf(raw, sizeof(raw), two ? "%s\001%s" : "%s", k1, k2);
            unsigned mode = rnd(3); /* upper, lower, mixed */
            for (int b = 0; b < rl; b++) {
                for (int d = 0; d < 2; d++) {
                    char c = hx[d ? (uint8_t)raw[b] & 15 : (uint8_t)raw[b] >> 4];
                    if (c >= 'A' && (mode == 1 || (mode == 2 && rnd(2))))
                        c = (char)(c + 32);
                    key[2 * b + d] = c;
                }
            }
            key[2 * rl] = 0;
        }
        fprintf(fp,
                "type=CONFIG_CHANGE msg=audit(1700000%03u.%03u:%u): auid=4294967295 ses=4294967295 "
                "op=add_rule key=%s list=4 res=1\n",
                i / 10, i % 1000, 1000 + i, key);
    }
    fclose(fp);
    feed_file("auditd", path);
    snprintf(path, sizeof(path), "%s/rand.jsonl", wk_test_tmpdir());
    WK_ASSERT((fp = fopen(path, "w")));
    for (unsigned i = 0; i < 150; i++) {
        char id[65];
        for (int b = 0; b < 64; b++)
            id[b] = "0123456789abcdef"[rnd(16) % (b < 4 ? 2 : 16)];
        id[64] = 0;
        static const char *const names[] = {"web", "w\\u0065b", "db\\/1", "cache"};
        fprintf(fp,
                "{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"%s\","
                "\"Attributes\":{\"image\":\"img%u\",\"name\":\"%s\"}},\"scope\":\"local\","
                "\"time\":1700000%03u,\"timeNano\":1700000%03u000000000}\n",
                id, rnd(3), names[rnd(4)], 100 + i / 10, 100 + i / 10);
    }
    fclose(fp);
    feed_file("docker-events", path);
    for (unsigned c = 0; c < 3; c++) {
        char id[65];
        for (int b = 0; b < 64; b++)
            id[b] = "0123456789abcdef"[rnd(16)];
        id[64] = 0;
        char d[2048];
        snprintf(d, sizeof(d), "%s/containers", wk_test_tmpdir());
        mkdir(d, 0700);
        snprintf(path, sizeof(path), "%s/pod%u_ns_ctr%u-%s.log", d, c, c, id);
        WK_ASSERT((fp = fopen(path, "w")));
        for (unsigned i = 0; i < 50; i++)
            fprintf(fp, "2023-11-14T22:%02u:%02u.000000000Z %s F line %u of ctr%u\n", 20 + c,
                    i % 60, rnd(2) ? "stdout" : "stderr", i, c);
        fclose(fp);
        feed_file("cri", path);
    }
    WK_ASSERT_INT_EQ(wk_store_flush(cur_st), 0);
}

/* Random events of each source: selective reads equal whole reads for every key (quoted,
 * hex in any case, joined), container id, id prefix and name (JSON-escaped or from a log
 * path), source and time range; the modules' claims hold on each event. Leaving the hex
 * form out of the pre-check (the deliberate bug of wk__rbsel_test_drop) loses the events
 * whose key is only in hex, and is caught. */
WK_TEST(selective_reads_of_random_values_equal_whole_reads)
{
    WK_ASSERT_INT_EQ(wk_collector_rebuild_register(), 0);
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/rsel", wk_test_tmpdir());
    random_store(dir);
    struct wk_store *st = cur_st;
    WK_ASSERT(nevs >= 580);
    WK_ASSERT(check_claims() >= 580);
    uint64_t done = 0;
    WK_ASSERT_INT_EQ(wk_store_recompact(st, INT64_MAX, 0, &done), 0);
    WK_ASSERT_UINT_EQ(check_all(st), nevs);
    unsigned fm[5];
    formats(dir, fm);
    WK_ASSERT(fm[4] > 5);
    size_t nonempty, n;
    WK_ASSERT_UINT_EQ(selective_mismatches(st, &nonempty), 0);
    WK_ASSERT(nonempty > 30);
    static const char *const keys[] = {"recon", "exec", "64bit", "a b", "x\"y", "net", "k9"};
    for (size_t i = 0; i < 7; i++) {
        struct wk_store_term t = {"tags", keys[i]}, t2 = {"auditd.key", keys[i]};
        struct wk_store_filter f = {.terms = &t, .nterms = 1}, f2 = {.terms = &t2, .nterms = 1};
        WK_ASSERT(same_as_full(st, &f, &n));
        WK_ASSERT(n > 8);
        WK_ASSERT(same_as_full(st, &f2, &n));
        WK_ASSERT(n > 8);
    }
    /* the deliberate bug: no hex form */
    wk__rbsel_test_drop = WK_STORE_FORM_HEX;
    struct wk_store_term t = {"auditd.key", "recon"};
    struct wk_store_filter f = {.terms = &t, .nterms = 1};
    bool caught = !same_as_full(st, &f, &n);
    wk__rbsel_test_drop = 0;
    WK_ASSERT(caught);
    wk_store_close(st);
    free_evs();
    wk_store_rebuild_clear();
}
