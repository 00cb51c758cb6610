/* SPDX-License-Identifier: Apache-2.0 */
/* The store: bit-exact round trips, cursors, sealing, index queries against a brute-force
 * scan on randomized data, alerts and side databases, tamper detection, retention, map
 * growth and the map ceiling. */
#include "config.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#endif
#include <errno.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store_private.h"
#include "watchkeeper/daemon.h"
#include "watchkeeper/error.h"
#include "watchkeeper/event.h"
#include "watchkeeper/mem.h"
#include "watchkeeper/store.h"
#include "watchkeeper/timefmt.h"
#include "watchkeeper/wkconfig.h"
#include "wk_test.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *const modules[] = {"auditd", "docker", "clog"};
static const char *const actions[] = {"execve", "open", "connect", "start", "exec_create"};
static const char *const exes[] = {"/bin/sh", "/usr/bin/curl", "/bin/busybox", "/usr/sbin/nginx"};
static char cids[6][65];
static const char *const cnames[] = {"web", "db", "cache", "worker", "proxy", "job"};

static void init_cids(void)
{
    for (int i = 0; i < 6; i++) {
        for (int j = 0; j < 64; j++)
            cids[i][j] = "0123456789abcdef"[(i * 7 + j * 3 + (j * j)) % 16];
        cids[i][64] = '\0';
    }
}

#define K(name) (wk_key_init(name))

/* A random event using every value kind, records, flags, dots and binary strings. */
static void make_event(struct wk_event *ev, int64_t ts)
{
    wk_event_reset(ev);
    wk_event_set_ts(ev, ts);
    struct wk_key k;
    const char *m = modules[rnd() % 3];
    wk_event_add_str(ev, 0, &WK_KEY_EVENT_MODULE, m, strlen(m));
    const char *a = actions[rnd() % 5];
    k = K("event.action");
    wk_event_add_str(ev, 0, &k, a, strlen(a));
    if (rnd() % 4) {
        int c = (int)(rnd() % 6);
        wk_event_add_str(ev, 0, &WK_KEY_CONTAINER_ID, cids[c], 64);
        wk_event_add_str(ev, 0, &WK_KEY_CONTAINER_NAME, cnames[c], strlen(cnames[c]));
    }
    k = K("user.id");
    wk_event_add_int(ev, 0, &k, (int64_t)(rnd() % 3) * 1000 - 1);
    k = K("process.executable");
    const char *x = exes[rnd() % 4];
    wk_event_add_str(ev, 0, &k, x, strlen(x));
    k = K("score");
    wk_event_add_real(ev, 0, &k, (double)(rnd() % 1000) / 7.0);
    k = K("flag");
    wk_event_add_bool(ev, 0, &k, rnd() & 1);
    k = K("nothing");
    wk_event_add_null(ev, 0, &k);
    struct wk_str items[3] = {{"a", 1}, {"bb", 2}, {"", 0}};
    k = K("tags");
    wk_event_add_strlist(ev, 0, &k, items, rnd() % 4);
    k = K("blob");
    wk_event_add_json(ev, 0, &k, "[{\"x\":1}]", 9);
    char bin[16];
    for (int i = 0; i < 16; i++)
        bin[i] = (char)rnd();
    k = K("raw.bytes");
    wk_event_add_str(ev, 0, &k, bin, 16);
    wk_event_flag_last(ev, WK_VALF_TRUNCATED);
    struct wk_value lv = {.kind = WK_VAL_STR, .len = 3, .u.s = "yes"};
    k = K("docker.container.labels.com.example.x");
    wk_event_add_value(ev, 0, &k, 0x18, &lv);
    if (strcmp(m, "auditd") == 0) {
        int r = wk_event_add_record(ev);
        k = K("type");
        wk_event_add_str(ev, (unsigned)r, &k, "SYSCALL", 7);
        k = K("a0");
        wk_event_add_str(ev, (unsigned)r, &k, "7ffd", 4);
        r = wk_event_add_record(ev);
        wk_event_add_str(ev, (unsigned)r, &k, "ls -l", 5);
        k = K("auditd.key");
        const char *key = rnd() % 2 ? "exec" : "net";
        wk_event_add_str(ev, 0, &k, key, strlen(key));
    }
    char orig[80];
    int n = snprintf(orig, sizeof(orig), "raw line %llu", (unsigned long long)rnd());
    wk_event_add_str(ev, 0, &WK_KEY_EVENT_ORIGINAL, orig, (size_t)n);
}

static struct wk_store_opts test_opts(void)
{
    struct wk_store_opts o;
    wk_store_opts_init(&o);
    o.fsync = false;
    return o;
}

static char *store_dir(const char *name)
{
    static char buf[32][512];
    static int i;
    char *b = buf[i++ % 32];
    snprintf(b, 512, "%s/%s", wk_test_tmpdir(), name);
    return b;
}

/* Store n random events; keep copies in evs. */
static void fill(struct wk_store *st, struct wk_event **evs, size_t n, int64_t ts0, bool shuffle)
{
    for (size_t i = 0; i < n; i++) {
        WK_ASSERT_OK(wk_event_new(&evs[i]));
        int64_t ts = ts0 + (int64_t)i * 1000000 + (shuffle ? (int64_t)(rnd() % 50000000) : 0);
        make_event(evs[i], ts);
        WK_ASSERT_OK(wk_store_add(st, evs[i], NULL, NULL));
    }
}

static void free_evs(struct wk_event **evs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        wk_event_free(evs[i]);
}

WK_TEST(round_trip_bit_exact_in_order)
{
    init_cids();
    struct wk_store_opts o = test_opts();
    o.block_raw_max = 8192; /* many blocks */
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, store_dir("s"), &o));
    enum { N = 2000 };
    static struct wk_event *evs[N];
    fill(st, evs, N, 1700000000000000000LL, true);
    WK_ASSERT_OK(wk_store_flush(st));
    struct wk_store_reader *r;
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    struct wk_store_iter *it;
    WK_ASSERT_OK(wk_store_iter_new(r, NULL, &it));
    const struct wk_event *ev;
    struct wk_store_ref ref;
    size_t i = 0;
    int rc;
    struct wk_event *got;
    WK_ASSERT_OK(wk_event_new(&got));
    while ((rc = wk_store_iter_next(it, &ev, &ref)) == 1) {
        WK_ASSERT(i < N);
        WK_ASSERT(wk_event_equal(ev, evs[i]));
        char *a, *b;
        WK_ASSERT_OK(wk_event_to_json(ev, &a, NULL));
        WK_ASSERT_OK(wk_event_to_json(evs[i], &b, NULL));
        WK_ASSERT_STR_EQ(a, b);
        free(a);
        free(b);
        if (i % 97 == 0) {
            WK_ASSERT_OK(wk_store_event_get(r, ref, got));
            WK_ASSERT(wk_event_equal(got, evs[i]));
        }
        i++;
    }
    WK_ASSERT_INT_EQ(rc, 0);
    WK_ASSERT_INT_EQ(i, N);
    wk_store_iter_free(it);
    wk_store_reader_close(r);
    struct wk_store_stats s;
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.events, N);
    WK_ASSERT(s.blocks > 10);
    WK_ASSERT(s.stored_bytes < s.raw_bytes);
    uint64_t per = 0;
    for (size_t j = 0; j < s.nsources; j++)
        per += s.sources[j].events;
    WK_ASSERT_UINT_EQ(per, N);
    wk_event_free(got);
    free_evs(evs, N);
    wk_store_close(st);
    /* Reopen read-only: same content, same stats. */
    o.read_only = true;
    WK_ASSERT_OK(wk_store_open(&st, store_dir("s"), &o));
    struct wk_store_stats s2;
    WK_ASSERT_OK(wk_store_stats(st, &s2));
    WK_ASSERT_UINT_EQ(s2.events, N);
    WK_ASSERT_INT_EQ(wk_store_add(st, evs[0] = NULL, NULL, NULL), -EROFS);
    wk_store_close(st);
}

WK_TEST(files_modes_and_schema)
{
    struct wk_store *st;
    struct wk_store_opts o = test_opts();
    const char *d = store_dir("m");
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    wk_store_close(st);
    struct stat sb;
    char p[600];
    WK_ASSERT_INT_EQ(stat(d, &sb), 0);
    WK_ASSERT_INT_EQ(sb.st_mode & 0777, 0700);
    snprintf(p, sizeof(p), "%s/data.mdb", d);
    WK_ASSERT_INT_EQ(stat(p, &sb), 0);
    WK_ASSERT_INT_EQ(sb.st_mode & 0777, 0600);
    snprintf(p, sizeof(p), "%s/signing.key", d);
    WK_ASSERT_INT_EQ(stat(p, &sb), 0);
    WK_ASSERT_INT_EQ(sb.st_mode & 0777, 0600);
    /* A wrong schema version is refused with WK_EVERSION. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    WK_ASSERT_INT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    WK_ASSERT_INT_EQ(mdb_env_open(env, d, 0, 0600), 0);
    WK_ASSERT_INT_EQ(mdb_txn_begin(env, NULL, 0, &txn), 0);
    WK_ASSERT_INT_EQ(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    uint8_t nine[4] = {9, 0, 0, 0};
    MDB_val k = {6, "schema"}, v = {4, nine};
    WK_ASSERT_INT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
    WK_ASSERT_INT_EQ(mdb_txn_commit(txn), 0);
    WK_ASSERT_INT_EQ(wk_store_open(&st, d, &o), WK_EVERSION);
    /* Schema 1 (records hashes all BLAKE2b) opens, read-only as it is; the first commit of
     * a writer (SHA-256 blocks) makes it 2, which a binary of schema 1 refuses. */
    uint8_t one[4] = {1, 0, 0, 0};
    v.mv_data = one;
    WK_ASSERT_INT_EQ(mdb_txn_begin(env, NULL, 0, &txn), 0);
    WK_ASSERT_INT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
    WK_ASSERT_INT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    struct wk_store_stats s;
    o.read_only = true;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.schema, 1);
    wk_store_close(st);
    o.read_only = false;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.schema, 1);
    init_cids();
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    make_event(ev, 1000);
    WK_ASSERT_OK(wk_store_add(st, ev, NULL, NULL));
    wk_event_free(ev);
    WK_ASSERT_OK(wk_store_flush(st));
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.schema, 2);
    wk_store_close(st);
    o.read_only = true;
    WK_ASSERT_INT_EQ(wk_store_open(&st, store_dir("absent"), &o), -ENOENT);
}

WK_TEST(cursors_commit_with_their_events)
{
    init_cids();
    struct wk_store_opts o = test_opts();
    o.block_age_ns = 3600LL * 1000000000; /* only size or flush seals */
    o.commit_interval_ns = 3600LL * 1000000000;
    o.commit_bytes = 1;
    struct wk_store *st;
    const char *d = store_dir("c");
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    char buf[64];
    size_t len;
    WK_ASSERT_INT_EQ(wk_store_cursor_get(st, "f", buf, sizeof(buf), &len), WK_ENOT_FOUND);
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    make_event(ev, 1000);
    struct wk_store_cursor cur = {"f", "pos=1", 5};
    WK_ASSERT_OK(wk_store_add(st, ev, &cur, NULL));
    /* Not sealed yet: nothing committed, the cursor is not visible. */
    WK_ASSERT_INT_EQ(wk_store_cursor_get(st, "f", buf, sizeof(buf), &len), WK_ENOT_FOUND);
    cur.data = "pos=2";
    WK_ASSERT_OK(wk_store_add(st, ev, &cur, NULL));
    WK_ASSERT_OK(wk_store_flush(st));
    WK_ASSERT_OK(wk_store_cursor_get(st, "f", buf, sizeof(buf), &len));
    WK_ASSERT_MEM_EQ(buf, len, "pos=2", 5);
    WK_ASSERT_INT_EQ(wk_store_cursor_get(st, "f", buf, 2, &len), -ENOBUFS);
    WK_ASSERT_UINT_EQ(len, 5);
    /* A cursor without events commits at the next flush. */
    struct wk_store_cursor c2 = {"g", "xyz", 3};
    WK_ASSERT_OK(wk_store_cursor_set(st, &c2));
    WK_ASSERT_OK(wk_store_flush(st));
    WK_ASSERT_OK(wk_store_cursor_get(st, "g", buf, sizeof(buf), &len));
    WK_ASSERT_MEM_EQ(buf, len, "xyz", 3);
    /* Close without flush commits what is held (pos=3). */
    cur.data = "pos=3";
    WK_ASSERT_OK(wk_store_add(st, ev, &cur, NULL));
    wk_store_close(st);
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    WK_ASSERT_OK(wk_store_cursor_get(st, "f", buf, sizeof(buf), &len));
    WK_ASSERT_MEM_EQ(buf, len, "pos=3", 5);
    struct wk_store_stats s;
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.events, 3);
    WK_ASSERT_UINT_EQ(s.cursors, 2);
    wk_store_close(st);
    wk_event_free(ev);
}

WK_TEST(sealing_by_size_and_by_age)
{
    init_cids();
    struct wk_store_opts o = test_opts();
    o.block_raw_max = 4096;
    o.block_age_ns = 50 * 1000000LL;
    o.commit_interval_ns = 10 * 1000000LL;
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, store_dir("z"), &o));
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    struct wk_store_ref ref;
    size_t n = 0;
    do {
        make_event(ev, 1000 + (int64_t)n);
        WK_ASSERT_OK(wk_store_add(st, ev, NULL, &ref));
        n++;
    } while (ref.block == 1);
    /* Block 1 sealed by size when block 2 started; with commit_bytes 1 MiB it is held
     * until the commit interval passes: tick after it. The ticks take explicit times
     * from just after the last add, so a loaded machine cannot age block 2 early. */
    WK_ASSERT(n > 2);
    int64_t t0 = wk_time_mono_ns();
    WK_ASSERT_OK(wk_store_tick(st, t0 + 20 * 1000000LL));
    struct wk_store_stats s;
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.blocks, 1);
    WK_ASSERT_UINT_EQ(s.events, n - 1);
    /* The open block (one event) seals by age: not yet at 20 ms... */
    WK_ASSERT_OK(wk_store_tick(st, t0 + 21 * 1000000LL));
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.blocks, 1);
    /* ...but at 120 ms; it commits once the interval has passed again. */
    WK_ASSERT_OK(wk_store_tick(st, t0 + 120 * 1000000LL));
    WK_ASSERT_OK(wk_store_tick(st, t0 + 140 * 1000000LL));
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.blocks, 2);
    WK_ASSERT_UINT_EQ(s.events, n);
    struct wk_store_reader *r;
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    struct wk_store_block_info bi;
    WK_ASSERT_OK(wk_store_block_info(r, 1, &bi));
    WK_ASSERT_UINT_EQ(bi.count, n - 1);
    WK_ASSERT(bi.raw_size >= 4096);
    WK_ASSERT_OK(wk_store_block_info(r, 2, &bi));
    WK_ASSERT_UINT_EQ(bi.count, 1);
    WK_ASSERT_INT_EQ(wk_store_block_info(r, 3, &bi), WK_ENOT_FOUND);
    wk_store_reader_close(r);
    wk_store_close(st);
    wk_event_free(ev);
}

struct bf {
    const struct wk_store_filter *f;
    size_t n;
};

static bool pred_even_user(const struct wk_event *ev, void *arg)
{
    (void)arg;
    struct wk_key k = wk_key_init("user.id");
    const struct wk_value *v = wk_event_get(ev, 0, &k);
    return v && v->kind == WK_VAL_INT && v->u.i == 999;
}

/* The expected result by brute force: a direct check of each kept event. */
static bool bf_match(const struct wk_store_filter *f, const struct wk_event *ev)
{
    int64_t ts = wk_event_ts(ev);
    if ((f->since && ts < f->since) || (f->until && ts > f->until))
        return false;
    size_t l;
    if (f->source) {
        const char *m = wk_event_get_str(ev, &WK_KEY_EVENT_MODULE, &l);
        if (!m || strcmp(m, f->source) != 0)
            return false;
    }
    if (f->container) {
        const char *id = wk_event_get_str(ev, &WK_KEY_CONTAINER_ID, &l);
        const char *nm = wk_event_get_str(ev, &WK_KEY_CONTAINER_NAME, &l);
        bool ok = (id && (strcmp(id, f->container) == 0 ||
                          (strlen(f->container) < 64 &&
                           strncmp(id, f->container, strlen(f->container)) == 0))) ||
                  (nm && strcmp(nm, f->container) == 0);
        if (!ok)
            return false;
    }
    for (size_t i = 0; i < f->nterms; i++) {
        struct wk_key k = wk_key_init(f->terms[i].field);
        bool hit = false;
        for (unsigned rec = 0; rec <= wk_event_nrecords(ev) && !hit; rec++) {
            const struct wk_value *v = wk_event_get(ev, rec, &k);
            if (!v)
                continue;
            if (v->kind == WK_VAL_STR)
                hit = strlen(f->terms[i].value) == v->len &&
                      memcmp(v->u.s, f->terms[i].value, v->len) == 0;
            else if (v->kind == WK_VAL_INT)
                hit = atoll(f->terms[i].value) == v->u.i;
        }
        if (!hit)
            return false;
    }
    return !f->pred || f->pred(ev, f->pred_arg);
}

WK_TEST(index_queries_match_brute_force)
{
    init_cids();
    struct wk_store_opts o = test_opts();
    o.block_raw_max = 6000;
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, store_dir("q"), &o));
    enum { N = 3000 };
    static struct wk_event *evs[N];
    int64_t t0 = 1700000000000000000LL;
    fill(st, evs, N, t0, true);
    WK_ASSERT_OK(wk_store_flush(st));
    char prefix[13];
    memcpy(prefix, cids[2], 12);
    prefix[12] = '\0';
    struct wk_store_term t_exe = {"process.executable", "/bin/sh"};
    struct wk_store_term t_key[2] = {{"auditd.key", "exec"}, {"a0", "ls -l"}};
    struct wk_store_term t_uid = {"user.id", "999"};
    struct wk_store_term t_none = {"event.action", "nope"};
    for (int round = 0; round < 60; round++) {
        struct wk_store_filter f = {0};
        if (rnd() % 2)
            f.since = t0 + (int64_t)(rnd() % (N * 1000000ull));
        if (rnd() % 2)
            f.until = (f.since ? f.since : t0) + (int64_t)(rnd() % (N * 500000ull));
        switch (rnd() % 4) {
        case 0: f.container = cids[rnd() % 6]; break;
        case 1: f.container = cnames[rnd() % 6]; break;
        case 2: f.container = prefix; break;
        default: break;
        }
        if (rnd() % 3 == 0)
            f.source = modules[rnd() % 3];
        switch (rnd() % 6) {
        case 0: f.terms = &t_exe; f.nterms = 1; break;
        case 1: f.terms = t_key; f.nterms = 2; break;
        case 2: f.terms = &t_uid; f.nterms = 1; break;
        case 3: f.terms = &t_none; f.nterms = 1; break;
        case 4: f.pred = pred_even_user; break;
        default: break;
        }
        size_t want = 0;
        for (size_t i = 0; i < N; i++)
            want += bf_match(&f, evs[i]);
        struct wk_store_reader *r;
        WK_ASSERT_OK(wk_store_reader_open(st, &r));
        struct wk_store_iter *it;
        WK_ASSERT_OK(wk_store_iter_new(r, &f, &it));
        const struct wk_event *ev;
        size_t got = 0, j = 0;
        int rc;
        while ((rc = wk_store_iter_next(it, &ev, NULL)) == 1) {
            /* Same events, in store order. */
            while (j < N && !bf_match(&f, evs[j]))
                j++;
            WK_ASSERT(j < N);
            WK_ASSERT(wk_event_equal(ev, evs[j]));
            j++;
            got++;
        }
        WK_ASSERT_INT_EQ(rc, 0);
        if (got != want)
            WK_FAIL("round %d: got %zu want %zu", round, got, want);
        wk_store_iter_free(it);
        wk_store_reader_close(r);
    }
    /* Candidate pruning works: a term no event has gives no candidate block. */
    struct wk_store_reader *r;
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    struct wk_store_filter f = {.terms = &t_none, .nterms = 1};
    uint64_t *ids;
    size_t n;
    WK_ASSERT_OK(wk_store_candidates(r, &f, &ids, &n));
    WK_ASSERT_UINT_EQ(n, 0);
    free(ids);
    struct wk_store_filter g = {.since = t0 + 1000000000LL, .until = t0 + 1100000000LL};
    WK_ASSERT_OK(wk_store_candidates(r, &g, &ids, &n));
    struct wk_store_filter all = {0};
    uint64_t *ids2;
    size_t n2;
    WK_ASSERT_OK(wk_store_candidates(r, &all, &ids2, &n2));
    WK_ASSERT(n > 0 && n < n2 / 4);
    free(ids);
    free(ids2);
    wk_store_reader_close(r);
    free_evs(evs, N);
    wk_store_close(st);
}

WK_TEST(alerts_deliveries_containers_quarantine)
{
    init_cids();
    struct wk_store_opts o = test_opts();
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, store_dir("a"), &o));
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    make_event(ev, 5000);
    struct wk_store_ref refs[2];
    WK_ASSERT_OK(wk_store_add(st, ev, NULL, &refs[0]));
    WK_ASSERT_OK(wk_store_add(st, ev, NULL, &refs[1]));
    WK_ASSERT_UINT_EQ(refs[1].index, 1);
    uint64_t id1, id2;
    WK_ASSERT_OK(wk_store_alert_add(st, "{\"rule\":\"x\"}", 12, refs, 2, &id1));
    WK_ASSERT_OK(wk_store_alert_add(st, "{}", 2, NULL, 0, &id2));
    WK_ASSERT_UINT_EQ(id1, 1);
    WK_ASSERT_UINT_EQ(id2, 2);
    WK_ASSERT_OK(wk_store_container_put(st, cids[0], "{\"name\":\"web\"}", 14));
    WK_ASSERT_OK(wk_store_quarantine_add(st, "jsonl", "not JSON", "\x01garbage", 8));
    WK_ASSERT_OK(wk_store_delivery_set(st, "webhook", 7));
    uint64_t d;
    WK_ASSERT_OK(wk_store_delivery_get(st, "webhook", &d));
    WK_ASSERT_UINT_EQ(d, 7);
    WK_ASSERT_OK(wk_store_delivery_get(st, "other", &d));
    WK_ASSERT_UINT_EQ(d, 0);
    struct wk_store_reader *r;
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    uint64_t it = 0;
    struct wk_store_alert a;
    WK_ASSERT_INT_EQ(wk_store_alert_next(r, &it, &a), 0); /* not committed yet */
    wk_store_reader_close(r);
    WK_ASSERT_OK(wk_store_flush(st));
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    it = 0;
    WK_ASSERT_INT_EQ(wk_store_alert_next(r, &it, &a), 1);
    WK_ASSERT_UINT_EQ(a.id, 1);
    WK_ASSERT_MEM_EQ(a.json, a.len, "{\"rule\":\"x\"}", 12);
    WK_ASSERT_UINT_EQ(a.nrefs, 2);
    struct wk_event *got;
    WK_ASSERT_OK(wk_event_new(&got));
    WK_ASSERT_OK(wk_store_event_get(r, a.refs[1], got));
    WK_ASSERT(wk_event_equal(got, ev));
    WK_ASSERT_INT_EQ(wk_store_alert_next(r, &it, &a), 1);
    WK_ASSERT_UINT_EQ(a.id, 2);
    WK_ASSERT_UINT_EQ(a.nrefs, 0);
    WK_ASSERT_INT_EQ(wk_store_alert_next(r, &it, &a), 0);
    const char *js;
    size_t jl;
    WK_ASSERT_OK(wk_store_container_get(r, cids[0], &js, &jl));
    WK_ASSERT_MEM_EQ(js, jl, "{\"name\":\"web\"}", 14);
    WK_ASSERT_INT_EQ(wk_store_container_get(r, "nope", &js, &jl), WK_ENOT_FOUND);
    struct wk_store_quarantined q;
    it = 0;
    WK_ASSERT_INT_EQ(wk_store_quarantine_next(r, &it, &q), 1);
    WK_ASSERT_STR_EQ(q.source, "jsonl");
    WK_ASSERT_STR_EQ(q.reason, "not JSON");
    WK_ASSERT_MEM_EQ(q.raw, q.len, "\x01garbage", 8);
    WK_ASSERT_INT_EQ(wk_store_quarantine_next(r, &it, &q), 0);
    wk_store_reader_close(r);
    wk_store_close(st);
    wk_event_free(ev);
    wk_event_free(got);
}

/* Tampering, done with LMDB directly as an attacker with file access would. */
static void tamper(const char *dir, void (*fn)(MDB_txn *txn, MDB_dbi blocks, MDB_dbi meta))
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi blocks, meta;
    WK_ASSERT_INT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    WK_ASSERT_INT_EQ(mdb_env_open(env, dir, 0, 0600), 0);
    WK_ASSERT_INT_EQ(mdb_txn_begin(env, NULL, 0, &txn), 0);
    WK_ASSERT_INT_EQ(mdb_dbi_open(txn, "blocks", 0, &blocks), 0);
    WK_ASSERT_INT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    fn(txn, blocks, meta);
    WK_ASSERT_INT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static MDB_val bkey(uint64_t id, uint8_t *b)
{
    for (int i = 7; i >= 0; i--) {
        b[i] = (uint8_t)id;
        id >>= 8;
    }
    return (MDB_val){8, b};
}

static size_t flip_at;
static uint8_t flip_mask = 0x01;
static void flip(MDB_txn *txn, MDB_dbi blocks, MDB_dbi meta)
{
    uint8_t kb[8];
    MDB_val k = bkey(3, kb), v;
    WK_ASSERT_INT_EQ(mdb_get(txn, blocks, &k, &v), 0);
    uint8_t *copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    size_t at = flip_at < v.mv_size ? flip_at : v.mv_size - 1;
    copy[at] ^= flip_mask;
    MDB_val nv = {v.mv_size, copy};
    WK_ASSERT_INT_EQ(mdb_put(txn, blocks, &k, &nv, 0), 0);
    free(copy);
}

/* Another process flips the byte at flip_at of block 3 while this one holds the store
 * open (the chain check under a writer and the backend's check after commit). */
static void tamper_from_another_process(const char *d)
{
    pid_t pid = fork();
    WK_ASSERT(pid >= 0);
    if (pid == 0) {
        tamper(d, flip);
        _exit(0);
    }
    int status = 0;
    WK_ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
    WK_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
static void del3(MDB_txn *txn, MDB_dbi blocks, MDB_dbi meta)
{
    uint8_t kb[8];
    MDB_val k = bkey(3, kb);
    WK_ASSERT_INT_EQ(mdb_del(txn, blocks, &k, NULL), 0);
}
static void swap34(MDB_txn *txn, MDB_dbi blocks, MDB_dbi meta)
{
    uint8_t k3b[8], k4b[8];
    MDB_val k3 = bkey(3, k3b), k4 = bkey(4, k4b), v3, v4;
    WK_ASSERT_INT_EQ(mdb_get(txn, blocks, &k3, &v3), 0);
    WK_ASSERT_INT_EQ(mdb_get(txn, blocks, &k4, &v4), 0);
    void *c3 = malloc(v3.mv_size), *c4 = malloc(v4.mv_size);
    memcpy(c3, v3.mv_data, v3.mv_size);
    memcpy(c4, v4.mv_data, v4.mv_size);
    MDB_val n3 = {v4.mv_size, c4}, n4 = {v3.mv_size, c3};
    WK_ASSERT_INT_EQ(mdb_put(txn, blocks, &k3, &n3, 0), 0);
    WK_ASSERT_INT_EQ(mdb_put(txn, blocks, &k4, &n4, 0), 0);
    free(c3);
    free(c4);
}
static uint64_t last_id;
static void del_last(MDB_txn *txn, MDB_dbi blocks, MDB_dbi meta)
{
    uint8_t kb[8];
    MDB_val k = bkey(last_id, kb);
    WK_ASSERT_INT_EQ(mdb_del(txn, blocks, &k, NULL), 0);
}
static void del_last_and_head(MDB_txn *txn, MDB_dbi blocks, MDB_dbi meta)
{
    /* A smarter attacker also rewrites the head: the signed checkpoint still catches it. */
    del_last(txn, blocks, meta);
    uint8_t kb[8];
    MDB_val k = bkey(last_id - 1, kb), v;
    WK_ASSERT_INT_EQ(mdb_get(txn, blocks, &k, &v), 0);
    uint8_t head[56] = {0};
    uint64_t id = last_id - 1;
    for (int i = 0; i < 8; i++)
        head[i] = (uint8_t)(id >> (8 * i));
    memcpy(head + 8, (uint8_t *)v.mv_data + 96, 32);
    MDB_val hk = {4, "head"}, hv = {56, head};
    WK_ASSERT_INT_EQ(mdb_put(txn, meta, &hk, &hv, 0), 0);
}

/* The store at dir with n events added (make_event, 1 s apart), flushed. */
static struct wk_store *open_filled(const char *dir, const struct wk_store_opts *o, int n)
{
    init_cids();
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, dir, o));
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    for (int i = 0; i < n; i++) {
        make_event(ev, 1000000000LL * (i + 1));
        WK_ASSERT_OK(wk_store_add(st, ev, NULL, NULL));
    }
    wk_event_free(ev);
    WK_ASSERT_OK(wk_store_flush(st));
    return st;
}

static void build_chain(const char *dir, struct wk_store_opts *o)
{
    wk_store_close(open_filled(dir, o, 400));
}

static int verify_dir(const char *dir, struct wk_store_verify_result *res)
{
    struct wk_store *st;
    struct wk_store_opts o = test_opts();
    o.read_only = true;
    WK_ASSERT_OK(wk_store_open(&st, dir, &o));
    int rc = wk_store_verify(st, 0, NULL, res);
    wk_store_close(st);
    return rc;
}

WK_TEST(verify_detects_tampering)
{
    struct wk_store_opts o = test_opts();
    o.block_raw_max = 4096;
    o.checkpoint_blocks = 4;
    struct wk_store_verify_result res;
    const char *d = store_dir("v");
    build_chain(d, &o);
    WK_ASSERT_INT_EQ(verify_dir(d, &res), 0);
    WK_ASSERT(res.blocks >= 8);
    WK_ASSERT(res.checkpoints >= 1);
    uint64_t nblocks = res.blocks;

    /* Flip one byte: in the payload, in a header hash field, in the counts. */
    size_t spots[] = {5, 20, 40, 70, 100, 130, 400};
    for (size_t i = 0; i < WK_ARRAY_SIZE(spots); i++) {
        char name[32];
        snprintf(name, sizeof(name), "flip%zu", i);
        const char *d2 = store_dir(name);
        build_chain(d2, &o);
        flip_at = spots[i];
        tamper(d2, flip);
        WK_ASSERT_INT_EQ(verify_dir(d2, &res), WK_ECHAIN);
        if (res.first_bad != 3)
            WK_FAIL("flip at %zu: first bad %llu (%s)", spots[i],
                    (unsigned long long)res.first_bad, res.reason);
    }
    const char *d3 = store_dir("del");
    build_chain(d3, &o);
    tamper(d3, del3);
    WK_ASSERT_INT_EQ(verify_dir(d3, &res), WK_ECHAIN);
    WK_ASSERT_UINT_EQ(res.first_bad, 3);
    WK_ASSERT(strstr(res.reason, "missing") != NULL);

    const char *d4 = store_dir("swap");
    build_chain(d4, &o);
    tamper(d4, swap34);
    WK_ASSERT_INT_EQ(verify_dir(d4, &res), WK_ECHAIN);
    WK_ASSERT_UINT_EQ(res.first_bad, 3);

    const char *d5 = store_dir("trunc");
    build_chain(d5, &o);
    WK_ASSERT_INT_EQ(verify_dir(d5, &res), 0);
    last_id = res.blocks;
    tamper(d5, del_last);
    WK_ASSERT_INT_EQ(verify_dir(d5, &res), WK_ECHAIN);
    WK_ASSERT_UINT_EQ(res.first_bad, last_id);

    const char *d6 = store_dir("trunc2");
    build_chain(d6, &o);
    WK_ASSERT_INT_EQ(verify_dir(d6, &res), 0);
    last_id = res.blocks;
    tamper(d6, del_last_and_head);
    WK_ASSERT_INT_EQ(verify_dir(d6, &res), WK_ECHAIN);
    if (!strstr(res.reason, "checkpoint"))
        WK_FAIL("reason: %s", res.reason);

    /* A foreign public key fails the signatures. */
    struct wk_store *st;
    struct wk_store_opts ro = test_opts();
    ro.read_only = true;
    WK_ASSERT_OK(wk_store_open(&st, d, &ro));
    uint8_t pk[32];
    memset(pk, 7, sizeof(pk));
    WK_ASSERT_INT_EQ(wk_store_verify(st, 0, pk, &res), WK_ECHAIN);
    if (!strstr(res.reason, "signature"))
        WK_FAIL("reason: %s", res.reason);
    WK_ASSERT_OK(wk_store_pubkey(st, pk));
    WK_ASSERT_OK(wk_store_verify(st, 0, pk, &res));
    WK_ASSERT_OK(wk_store_verify(st, 5, pk, &res));
    WK_ASSERT_UINT_EQ(res.blocks, nblocks - 4);
    wk_store_close(st);
}

/* The daemon's check after each commit: from the last checked block + 1, linked to the
 * stored hash of the block before, no signatures. */
WK_TEST(verify_blocks_links_to_the_stored_predecessor)
{
    struct wk_store_opts o = test_opts();
    o.block_raw_max = 4096;
    struct wk_store_verify_result res;
    const char *d = store_dir("vb");
    build_chain(d, &o);
    struct wk_store *st;
    struct wk_store_opts ro = test_opts();
    ro.read_only = true;
    WK_ASSERT_OK(wk_store_open(&st, d, &ro));
    WK_ASSERT_OK(wk_store_verify_blocks(st, 0, &res));
    uint64_t n = res.blocks;
    WK_ASSERT(n >= 8);
    WK_ASSERT_UINT_EQ(res.last, n);
    WK_ASSERT_OK(wk_store_verify_blocks(st, 5, &res));
    WK_ASSERT_UINT_EQ(res.blocks, n - 4);
    WK_ASSERT_OK(wk_store_verify_blocks(st, n + 1, &res)); /* nothing new */
    WK_ASSERT_UINT_EQ(res.blocks, 0);
    wk_store_close(st);

    /* Block 3's stored hash altered: checking from 4 on finds that 4 no longer links. */
    flip_at = 100;
    tamper(d, flip);
    WK_ASSERT_OK(wk_store_open(&st, d, &ro));
    WK_ASSERT_INT_EQ(wk_store_verify_blocks(st, 4, &res), WK_ECHAIN);
    WK_ASSERT_UINT_EQ(res.first_bad, 4);
    WK_ASSERT_INT_EQ(wk_store_verify_blocks(st, 3, &res), WK_ECHAIN);
    WK_ASSERT_UINT_EQ(res.first_bad, 3);
    WK_ASSERT_OK(wk_store_verify_blocks(st, 5, &res));
    wk_store_close(st);
}

/* The writer's own check after a commit skips decompressing the values it wrote while
 * they are byte for byte as written; an altered value is decompressed and checked in full. */
WK_TEST(verify_blocks_on_the_writer_checks_altered_values_in_full)
{
    struct wk_store_opts o = test_opts();
    o.block_raw_max = 4096;
    struct wk_store_verify_result res;
    const char *d = store_dir("vw");
    struct wk_store *st = open_filled(d, &o, 400);
    WK_ASSERT_OK(wk_store_verify_blocks(st, 0, &res));
    uint64_t n = res.blocks;
    WK_ASSERT(n >= 8);
    /* Another process flips a byte of block 3's compressed payload under the writer. */
    flip_at = 400;
    tamper_from_another_process(d);
    WK_ASSERT_INT_EQ(wk_store_verify_blocks(st, 0, &res), WK_ECHAIN);
    WK_ASSERT_UINT_EQ(res.first_bad, 3);
    if (!strstr(res.reason, "records hash") && !strstr(res.reason, "decompress"))
        WK_FAIL("reason: %s", res.reason);
    /* The blocks after it are still as written (linked to the stored hash of 3). */
    WK_ASSERT_OK(wk_store_verify_blocks(st, 4, &res));
    WK_ASSERT_UINT_EQ(res.blocks, n - 3);
    wk_store_close(st);
}

/* The daemon's backend runs that check after each batch and at each idle tick: it reads
 * what was committed since its last check (block 3 altered under it: reported, then the
 * blocks after it pass); with no event added since, no block can be new and it reports
 * nothing without reading; new events are checked again; the full verify still finds 3. */
WK_TEST(backend_check_after_commit_reads_what_is_new)
{
    init_cids();
    const char *d = store_dir("bk");
    struct wk_config_store cfg = {
        .path = (char *)d, .block_size = 4096, .block_age = WK_NS_PER_SEC,
        .compression_level = 3, .map_size = 1ull << 30, .fsync = false,
        .cold = { .after = 600 * WK_NS_PER_SEC, .cpu_budget = 10, .block_bytes = 2u << 20,
                  .level = 19, .rebuild = true },
    };
    const struct wk_backend_ops *ops;
    void *ctx;
    WK_ASSERT_OK(wk_store_backend_open(&ops, &ctx, &cfg));
    enum { N = 400 };
    struct wk_event *evs[N];
    for (int i = 0; i < N; i++) {
        WK_ASSERT_OK(wk_event_new(&evs[i]));
        make_event(evs[i], 1000000000LL * (i + 1));
    }
    struct wk_batch b = { .events = evs, .nevents = 300 };
    WK_ASSERT_OK(ops->commit(ctx, &b));
    WK_ASSERT_OK(ops->tick(ctx, true));
    flip_at = 400;
    tamper_from_another_process(d);
    uint64_t block = 0;
    char reason[160];
    WK_ASSERT_INT_EQ(ops->verify(ctx, false, &block, reason, sizeof(reason)), WK_ECHAIN);
    WK_ASSERT_UINT_EQ(block, 3);
    if (strncmp(reason, "block 3: ", 9) != 0)
        WK_FAIL("reason: %s", reason);
    WK_ASSERT_OK(ops->verify(ctx, false, &block, reason, sizeof(reason)));
    WK_ASSERT_UINT_EQ(block, 0);
    WK_ASSERT_STR_EQ(reason, "");
    memcpy(reason, "x", 2);
    block = 9;
    WK_ASSERT_OK(ops->verify(ctx, false, &block, reason, sizeof(reason))); /* nothing new */
    WK_ASSERT_UINT_EQ(block, 0);
    WK_ASSERT_STR_EQ(reason, "");
    struct wk_batch b2 = { .events = evs + 300, .nevents = N - 300 };
    WK_ASSERT_OK(ops->commit(ctx, &b2));
    WK_ASSERT_OK(ops->tick(ctx, true));
    WK_ASSERT_OK(ops->verify(ctx, false, &block, reason, sizeof(reason)));
    WK_ASSERT_INT_EQ(ops->verify(ctx, true, &block, reason, sizeof(reason)), WK_ECHAIN);
    WK_ASSERT_UINT_EQ(block, 3);
    struct wk_backend_stats bs;
    ops->stats(ctx, &bs);
    WK_ASSERT_UINT_EQ(bs.events, N);
    ops->close(ctx);
    for (int i = 0; i < N; i++)
        wk_event_free(evs[i]);
}

WK_TEST(retention_keeps_verify_passing)
{
    init_cids();
    struct wk_store_opts o = test_opts();
    o.block_raw_max = 4096;
    o.checkpoint_blocks = 3;
    const char *d = store_dir("r");
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    int64_t t0 = 1700000000000000000LL;
    for (int i = 0; i < 600; i++) {
        make_event(ev, t0 + 1000000000LL * i);
        WK_ASSERT_OK(wk_store_add(st, ev, NULL, NULL));
    }
    WK_ASSERT_OK(wk_store_flush(st));
    struct wk_store_stats s0, s1;
    WK_ASSERT_OK(wk_store_stats(st, &s0));
    wk_store_close(st);
    /* Age: drop what is older than 300 s before the newest event. */
    o.retain_age_ns = 300LL * 1000000000;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    uint64_t removed;
    WK_ASSERT_OK(wk_store_retain(st, t0 + 600LL * 1000000000, &removed));
    WK_ASSERT(removed > 0);
    WK_ASSERT_OK(wk_store_stats(st, &s1));
    WK_ASSERT_UINT_EQ(s1.blocks, s0.blocks - removed);
    WK_ASSERT(s1.ts_min >= t0 + 299LL * 1000000000 - 60LL * 1000000000);
    WK_ASSERT(s1.free_pages > 0);
    struct wk_store_verify_result res;
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    WK_ASSERT_UINT_EQ(res.blocks, s1.blocks);
    /* Events still append and chain on after retention, and survive reopening. */
    make_event(ev, t0 + 700LL * 1000000000);
    WK_ASSERT_OK(wk_store_add(st, ev, NULL, NULL));
    wk_store_close(st);
    /* Size: keep under 3 blocks' worth. */
    o.retain_age_ns = 0;
    o.retain_bytes = 3 * (s1.stored_bytes / s1.blocks);
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    WK_ASSERT_OK(wk_store_retain(st, 0, &removed));
    WK_ASSERT_OK(wk_store_stats(st, &s1));
    WK_ASSERT(s1.stored_bytes <= o.retain_bytes);
    WK_ASSERT(s1.blocks >= 1);
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    uint64_t ev_sum = 0;
    for (size_t i = 0; i < s1.nsources; i++)
        ev_sum += s1.sources[i].events;
    WK_ASSERT_UINT_EQ(ev_sum, s1.events);
    wk_store_close(st);
    wk_event_free(ev);
}

/* ---- Records hash: SHA-256 for new blocks, BLAKE2b-256 for the blocks before ---- */

static void hex32(const uint8_t *h, char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* The flags byte of each block's own header (merged members included), by block id, into
 * fl[1..cap); the values holding both a BLAKE2b and a SHA-256 block into *mixed.
 * @return the last block id. */
static uint64_t block_flags(struct wk_store *st, uint8_t *fl, size_t cap, unsigned *mixed)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    uint64_t last = 0;
    *mixed = 0;
    WK_ASSERT_OK(wk__store_rdtxn(st, &txn));
    WK_ASSERT_INT_EQ(mdb_cursor_open(txn, st->dbi[WK__DB_BLOCKS], &c), 0);
    MDB_cursor_op op = MDB_FIRST;
    while (mdb_cursor_get(c, &k, &v, op) == 0) {
        op = MDB_NEXT;
        uint64_t key = wk__get_u64be(k.mv_data);
        struct wk__blkloc loc;
        WK_ASSERT_OK(wk__blkloc_init(key, v.mv_data, v.mv_size, 0, &loc));
        unsigned kinds = 0;
        for (uint32_t m = 0; m < loc.nmembers; m++) {
            WK_ASSERT_OK(wk__blkloc_init(key, v.mv_data, v.mv_size, m, &loc));
            WK_ASSERT(key + m < cap);
            fl[key + m] = loc.hdr[WK__BLK_OFF_FLAGS];
            kinds |= loc.hdr[WK__BLK_OFF_FLAGS] & WK__BLK_FLAG_SHA256 ? 2 : 1;
            last = key + m;
        }
        *mixed += kinds == 3;
    }
    mdb_cursor_close(c);
    wk__store_rdtxn_end(st, txn);
    return last;
}

/* Every event of the store equal to evs[0..n), in order, as JSON too (byte for byte). */
static void read_back(struct wk_store *st, struct wk_event **evs, size_t n)
{
    struct wk_store_reader *r;
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    struct wk_store_iter *it;
    WK_ASSERT_OK(wk_store_iter_new(r, NULL, &it));
    const struct wk_event *ev;
    size_t i = 0;
    int rc;
    while ((rc = wk_store_iter_next(it, &ev, NULL)) == 1) {
        WK_ASSERT(i < n);
        WK_ASSERT(wk_event_equal(ev, evs[i]));
        char *a, *b;
        WK_ASSERT_OK(wk_event_to_json(ev, &a, NULL));
        WK_ASSERT_OK(wk_event_to_json(evs[i], &b, NULL));
        WK_ASSERT_STR_EQ(a, b);
        free(a);
        free(b);
        i++;
    }
    WK_ASSERT_INT_EQ(rc, 0);
    WK_ASSERT_UINT_EQ(i, n);
    wk_store_iter_free(it);
    wk_store_reader_close(r);
}

/* The hash function alone, on fixed vectors: SHA-256 (FIPS 180-2's "abc" and the empty
 * input) when the header says so, else BLAKE2b-256 (RFC 7693's "abc", 32-byte output);
 * and a stored block's records hash is what sha256sum(1) prints for its bytes. */
WK_TEST(records_hash_is_sha256_of_the_block_bytes)
{
    uint8_t sha_hdr[WK__BLK_HDR] = {0}, b2_hdr[WK__BLK_HDR] = {0}, h[32];
    char hex[65];
    sha_hdr[WK__BLK_OFF_FLAGS] = WK__BLK_FLAG_SHA256 | WK__BLK_FLAG_COLD;
    WK_ASSERT_OK(wk__records_hash(sha_hdr, (const uint8_t *)"abc", 3, h));
    hex32(h, hex);
    WK_ASSERT_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    WK_ASSERT_OK(wk__records_hash(sha_hdr, (const uint8_t *)"", 0, h));
    hex32(h, hex);
    WK_ASSERT_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    b2_hdr[WK__BLK_OFF_FLAGS] = WK__BLK_FLAG_COLD;
    WK_ASSERT_OK(wk__records_hash(b2_hdr, (const uint8_t *)"abc", 3, h));
    hex32(h, hex);
    WK_ASSERT_STR_EQ(hex, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");

    /* A store of one small block: its header names SHA-256, and the hash is sha256sum's. */
    wk__records_alg = WK__RH_SHA256;
    struct wk_store_opts o = test_opts();
    struct wk_store *st = open_filled(store_dir("sha"), &o, 5);
    MDB_txn *txn;
    WK_ASSERT_OK(wk__store_rdtxn(st, &txn));
    uint8_t kb[8];
    MDB_val k = bkey(1, kb), v;
    WK_ASSERT_INT_EQ(mdb_get(txn, st->dbi[WK__DB_BLOCKS], &k, &v), 0);
    const uint8_t *hdr = v.mv_data;
    WK_ASSERT_UINT_EQ(hdr[WK__BLK_OFF_FLAGS], WK__BLK_FLAG_SHA256);
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    struct wk__buf raw = {0};
    WK_ASSERT_OK(wk__store_block_raw(st, txn, dc, v.mv_data, v.mv_size, &raw));
    WK_ASSERT_UINT_EQ(raw.len, wk__get_u32le(hdr + WK__BLK_OFF_RAW));
    char path[600], cmd[700], want[65] = {0};
    snprintf(path, sizeof(path), "%s/block1.raw", wk_test_tmpdir());
    FILE *f = fopen(path, "wb");
    WK_ASSERT(f != NULL);
    WK_ASSERT_UINT_EQ(fwrite(raw.p, 1, raw.len, f), raw.len);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    WK_ASSERT(p != NULL);
    WK_ASSERT_UINT_EQ(fread(want, 1, 64, p), 64);
    WK_ASSERT_INT_EQ(pclose(p), 0);
    hex32(hdr + WK__BLK_OFF_RHASH, hex);
    WK_ASSERT_STR_EQ(hex, want);
    wk__store_rdtxn_end(st, txn);
    ZSTD_freeDCtx(dc);
    wk__buf_fini(&raw);
    /* A new store is of schema 3. */
    struct wk_store_stats s;
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.schema, 3);
    wk_store_close(st);
    wk__records_alg = WK__RH_AUTO;
}

/* A store of BLAKE2b blocks (as every store before SHA-256) extended with SHA-256 ones:
 * verified, read back, made cold (values holding both kinds), verified and read again; each
 * block keeps its algorithm through the cold tier. */
WK_TEST(blake2b_and_sha256_blocks_share_a_store_and_the_cold_tier)
{
    init_cids();
    struct wk_store_opts o = test_opts();
    o.block_raw_max = 4096;
    o.cold_level = 5;
    o.cold_block_bytes = 16384;
    o.checkpoint_blocks = 4;
    const char *d = store_dir("mixed");
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    enum { N1 = 250, N2 = 250, N = N1 + N2 };
    static struct wk_event *evs[N];
    wk__records_alg = WK__RH_BLAKE2B;
    fill(st, evs, N1, 1700000000000000000LL, false);
    WK_ASSERT_OK(wk_store_flush(st));
    struct wk_store_stats s;
    WK_ASSERT_OK(wk_store_stats(st, &s));
    uint64_t b1 = s.blocks;
    wk__records_alg = WK__RH_SHA256;
    for (size_t i = N1; i < N; i++) {
        WK_ASSERT_OK(wk_event_new(&evs[i]));
        make_event(evs[i], 1700000000000000000LL + (int64_t)i * 1000000);
        WK_ASSERT_OK(wk_store_add(st, evs[i], NULL, NULL));
    }
    WK_ASSERT_OK(wk_store_flush(st));
    WK_ASSERT_OK(wk_store_stats(st, &s));
    uint64_t nb = s.blocks;
    WK_ASSERT(b1 >= 8 && nb >= b1 + 8);
    static uint8_t fl[4096];
    unsigned mixed;
    WK_ASSERT_UINT_EQ(block_flags(st, fl, sizeof(fl), &mixed), nb);
    for (uint64_t id = 1; id <= nb; id++)
        WK_ASSERT_UINT_EQ(fl[id], id <= b1 ? 0 : WK__BLK_FLAG_SHA256);
    struct wk_store_verify_result res;
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    WK_ASSERT_UINT_EQ(res.blocks, nb);
    WK_ASSERT(res.checkpoints >= 1);
    read_back(st, evs, N);

    uint64_t done = 0;
    WK_ASSERT_OK(wk_store_recompact(st, 60LL * 1000000000, 0, &done));
    WK_ASSERT(done >= nb - 4);
    WK_ASSERT_UINT_EQ(block_flags(st, fl, sizeof(fl), &mixed), nb);
    WK_ASSERT(mixed >= 1);
    for (uint64_t id = 1; id <= nb; id++)
        WK_ASSERT_UINT_EQ(fl[id] & WK__BLK_FLAG_SHA256, id <= b1 ? 0 : WK__BLK_FLAG_SHA256);
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    WK_ASSERT_UINT_EQ(res.blocks, nb);
    read_back(st, evs, N);
    wk_store_close(st);
    /* Read-only, from the files. */
    WK_ASSERT_INT_EQ(verify_dir(d, &res), 0);
    WK_ASSERT_UINT_EQ(res.blocks, nb);
    free_evs(evs, N);
    wk__records_alg = WK__RH_AUTO;
}

/* Left to choose, the writer takes SHA-256 exactly where the CPU has SHA-256 instructions
 * (asked here of the CPU apart from the store's own probe). Under valgrind, which does not
 * emulate them, that is BLAKE2b. */
WK_TEST(records_hash_follows_the_cpu_when_not_forced)
{
    bool want = false;
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d2;
    want = __get_cpuid_count(7, 0, &a, &b, &c, &d2) && ((b >> 29) & 1);
#elif defined(__aarch64__) && defined(HWCAP_SHA2)
    want = (getauxval(AT_HWCAP) & HWCAP_SHA2) != 0;
#endif
    WK_ASSERT_INT_EQ(wk__records_alg, WK__RH_AUTO);
    WK_ASSERT(wk__records_sha256() == want);
    struct wk_store_opts o = test_opts();
    struct wk_store *st = open_filled(store_dir("auto"), &o, 1);
    MDB_txn *txn;
    WK_ASSERT_OK(wk__store_rdtxn(st, &txn));
    uint8_t kb[8];
    MDB_val k = bkey(1, kb), v;
    WK_ASSERT_INT_EQ(mdb_get(txn, st->dbi[WK__DB_BLOCKS], &k, &v), 0);
    WK_ASSERT_UINT_EQ(((const uint8_t *)v.mv_data)[WK__BLK_OFF_FLAGS],
                      want ? WK__BLK_FLAG_SHA256 : 0);
    wk__store_rdtxn_end(st, txn);
    struct wk_store_verify_result res;
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    WK_ASSERT_UINT_EQ(res.blocks, 1);
    wk_store_close(st);
}

/* Block 3's records, one byte changed, recompressed under its own header (as someone who
 * can write the file but not recompute the chain would). */
static void recompress_flipped(MDB_txn *txn, MDB_dbi blocks, MDB_dbi meta)
{
    (void)meta;
    uint8_t kb[8];
    MDB_val k = bkey(3, kb), v;
    WK_ASSERT_INT_EQ(mdb_get(txn, blocks, &k, &v), 0);
    const uint8_t *h = v.mv_data;
    WK_ASSERT_UINT_EQ(h[WK__BLK_OFF_FLAGS], WK__BLK_FLAG_SHA256);
    /* The hot block is one frame (or two: split), with the store's dictionary or none:
     * decompress through the store's own reader, in a process of its own. */
    struct wk__splitv sv;
    uint32_t raw_len = wk__get_u32le(h + WK__BLK_OFF_RAW);
    WK_ASSERT_UINT_EQ(wk__get_u32le(h + WK__BLK_OFF_DICT), 0);
    uint8_t *raw = malloc(raw_len);
    WK_ASSERT(raw != NULL);
    if (h[WK__BLK_OFF_FORMAT] == WK__BLK_SPLIT) {
        struct wk__buf out = {0};
        ZSTD_DCtx *dc = ZSTD_createDCtx();
        WK_ASSERT_OK(wk__split_parse(v.mv_data, v.mv_size, &sv));
        WK_ASSERT_OK(wk__split_raw(dc, NULL, v.mv_data, v.mv_size, &out));
        WK_ASSERT_UINT_EQ(out.len, raw_len);
        memcpy(raw, out.p, raw_len);
        wk__buf_fini(&out);
        ZSTD_freeDCtx(dc);
    } else {
        size_t n = ZSTD_decompress(raw, raw_len, h + WK__BLK_HDR, v.mv_size - WK__BLK_HDR);
        WK_ASSERT_UINT_EQ(n, raw_len);
    }
    raw[raw_len / 2] ^= 0x01;
    size_t cap = WK__BLK_HDR + ZSTD_compressBound(raw_len);
    uint8_t *val = malloc(cap);
    WK_ASSERT(val != NULL);
    memcpy(val, h, WK__BLK_HDR);
    val[WK__BLK_OFF_FORMAT] = wk__blk_format(h); /* one frame now */
    size_t z = ZSTD_compress(val + WK__BLK_HDR, cap - WK__BLK_HDR, raw, raw_len, 3);
    WK_ASSERT(!ZSTD_isError(z));
    MDB_val nv = {WK__BLK_HDR + z, val};
    WK_ASSERT_INT_EQ(mdb_put(txn, blocks, &k, &nv, 0), 0);
    free(val);
    free(raw);
}

/* In a SHA-256 block, a flipped algorithm flag and a changed record byte are both named by
 * verify; so is the flag set on a BLAKE2b block, and a flag bit no binary knows. The flag
 * is in the chain hash (the cold bit is not), and a block without it hashes as before. */
WK_TEST(verify_names_a_sha256_block_with_a_flipped_flag_or_record_byte)
{
    struct wk_store_opts o = test_opts();
    o.block_raw_max = 4096;
    o.dictionaries = false;
    struct wk_store_verify_result res;
    const struct {
        const char *name;
        bool blake2b;
        void (*fn)(MDB_txn *, MDB_dbi, MDB_dbi);
        size_t at;
        uint8_t mask; /* flip's: the flag bit it flips */
        const char *why;
    } cases[] = {
        {"shaflag", false, flip, WK__BLK_OFF_FLAGS, WK__BLK_FLAG_SHA256,
         "block 3: records hash does not match"},
        {"sharec", false, recompress_flipped, 0, 0, "block 3: records hash does not match"},
        {"b2flag", true, flip, WK__BLK_OFF_FLAGS, WK__BLK_FLAG_SHA256,
         "block 3: records hash does not match"},
        {"flag4", false, flip, WK__BLK_OFF_FLAGS, 0x04, "block 3: unknown header flags 0x06"},
    };
    for (size_t i = 0; i < WK_ARRAY_SIZE(cases); i++) {
        const char *d = store_dir(cases[i].name);
        wk__records_alg = cases[i].blake2b ? WK__RH_BLAKE2B : WK__RH_SHA256;
        build_chain(d, &o);
        wk__records_alg = WK__RH_AUTO;
        WK_ASSERT_INT_EQ(verify_dir(d, &res), 0);
        WK_ASSERT(res.blocks >= 5);
        flip_at = cases[i].at;
        if (cases[i].fn == flip) {
            flip_mask = WK__BLK_FLAG_COLD; /* not covered: verify does not depend on it */
            tamper(d, flip);
            WK_ASSERT_INT_EQ(verify_dir(d, &res), 0);
            tamper(d, flip); /* back */
            flip_mask = cases[i].mask;
        }
        tamper(d, cases[i].fn);
        flip_mask = 0x01;
        WK_ASSERT_INT_EQ(verify_dir(d, &res), WK_ECHAIN);
        WK_ASSERT_UINT_EQ(res.first_bad, 3);
        if (!strstr(res.reason, cases[i].why))
            WK_FAIL("%s: reason: %s", cases[i].name, res.reason);
    }
    /* The chain hash: the algorithm bit counts, the cold bit does not. */
    uint8_t h[WK__BLK_HDR] = {0}, a[32], b[32], c[32];
    for (size_t i = 0; i < WK__BLK_HDR; i++)
        h[i] = (uint8_t)(i * 7);
    h[WK__BLK_OFF_FLAGS] = 0;
    wk__chain_hash(5, h, a);
    h[WK__BLK_OFF_FLAGS] = WK__BLK_FLAG_COLD;
    wk__chain_hash(5, h, b);
    WK_ASSERT_MEM_EQ(a, 32, b, 32);
    h[WK__BLK_OFF_FLAGS] = WK__BLK_FLAG_SHA256;
    wk__chain_hash(5, h, c);
    WK_ASSERT(memcmp(a, c, 32) != 0);
    h[WK__BLK_OFF_FLAGS] = WK__BLK_FLAG_SHA256 | WK__BLK_FLAG_COLD;
    wk__chain_hash(5, h, b);
    WK_ASSERT_MEM_EQ(b, 32, c, 32);
}

WK_TEST(map_grows_then_ceiling_is_a_clear_error)
{
    init_cids();
    struct wk_store_opts o = test_opts();
    o.map_initial = 256 << 10;
    o.map_max = 2 << 20;
    o.zstd_level = 1;
    const char *d = store_dir("g");
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    struct wk_store_cursor cur = {"src", NULL, 8};
    uint64_t i, committed = 0;
    int rc = 0;
    for (i = 1; i < 200000; i++) {
        make_event(ev, (int64_t)i);
        /* Incompressible payload fills the map fast. */
        char junk[512];
        for (size_t j = 0; j < sizeof(junk); j++)
            junk[j] = (char)rnd();
        struct wk_key k = wk_key_init("junk");
        wk_event_add_str(ev, 0, &k, junk, sizeof(junk));
        uint8_t pos[8];
        memcpy(pos, &i, 8);
        cur.data = pos;
        rc = wk_store_add(st, ev, &cur, NULL);
        if (rc < 0)
            break;
    }
    WK_ASSERT_INT_EQ(rc, WK_EMAP_FULL);
    struct wk_store_stats s;
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT(s.map_size > (256u << 10)); /* it grew */
    WK_ASSERT(s.map_size <= (2u << 20));
    WK_ASSERT(s.events > 0);
    /* What is committed is intact and the cursor matches it exactly. */
    uint8_t pos[8];
    size_t len;
    WK_ASSERT_OK(wk_store_cursor_get(st, "src", pos, sizeof(pos), &len));
    memcpy(&committed, pos, 8);
    WK_ASSERT_UINT_EQ(committed, s.events);
    WK_ASSERT_INT_EQ(wk_store_flush(st), WK_EMAP_FULL); /* still full: back-pressure */
    struct wk_store_verify_result res;
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    wk_store_close(st);
    /* Reopen with a higher ceiling: appends work again and the old data is intact. */
    o.map_max = 64 << 20;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    make_event(ev, 1);
    WK_ASSERT_OK(wk_store_add(st, ev, NULL, NULL));
    WK_ASSERT_OK(wk_store_flush(st));
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    struct wk_store_stats s2;
    WK_ASSERT_OK(wk_store_stats(st, &s2));
    WK_ASSERT_UINT_EQ(s2.events, s.events + 1);
    wk_store_close(st);
    wk_event_free(ev);
}

WK_TEST(dictionary_switch_keeps_old_blocks_readable)
{
    init_cids();
    struct wk_store_opts o = test_opts();
    o.block_raw_max = 16384;
    o.dict_sample_bytes = 64 << 10;
    const char *d = store_dir("dict");
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    enum { N = 1500 };
    static struct wk_event *evs[N];
    fill(st, evs, N, 1700000000000000000LL, false);
    wk_store_close(st);
    /* Reopen: the dictionary is reloaded and used for new blocks. */
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    make_event(ev, 1800000000000000000LL);
    WK_ASSERT_OK(wk_store_add(st, ev, NULL, NULL));
    WK_ASSERT_OK(wk_store_flush(st));
    struct wk_store_stats s;
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.dictionaries, 1);
    struct wk_store_reader *r;
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    struct wk_store_block_info first, last;
    WK_ASSERT_OK(wk_store_block_info(r, 1, &first));
    WK_ASSERT_OK(wk_store_block_info(r, s.last_block, &last));
    WK_ASSERT_UINT_EQ(first.dict_id, 0);
    WK_ASSERT_UINT_EQ(last.dict_id, 1);
    struct wk_store_iter *it;
    WK_ASSERT_OK(wk_store_iter_new(r, NULL, &it));
    const struct wk_event *got;
    size_t i = 0;
    while (wk_store_iter_next(it, &got, NULL) == 1) {
        WK_ASSERT(wk_event_equal(got, i < N ? evs[i] : ev));
        i++;
    }
    WK_ASSERT_UINT_EQ(i, N + 1);
    wk_store_iter_free(it);
    wk_store_reader_close(r);
    struct wk_store_verify_result res;
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    wk_store_close(st);
    free_evs(evs, N);
    wk_event_free(ev);
}

/* A store whose map is exactly as large as its data file (reopened with a smaller
 * map_initial: LMDB takes the file's size, as on a store that grew by appends alone) has
 * no room for the cold tier's new values: the compactor grows the map as appends do
 * instead of failing with WK_EMAP_FULL (a 10M-event store could not be compacted). */
WK_TEST(recompaction_grows_a_full_map)
{
    init_cids();
    struct wk_store_opts o = test_opts();
    o.block_raw_max = 32768;
    o.zstd_level = 1;
    o.dictionaries = false;
    o.cold_block_bytes = 256 << 10;
    const char *d = store_dir("fullmap");
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    enum { N = 3000 };
    static struct wk_event *evs[N];
    fill(st, evs, N, 1700000000000000000LL, false);
    WK_ASSERT_OK(wk_store_flush(st));
    struct wk_store_stats s0, s1;
    WK_ASSERT_OK(wk_store_stats(st, &s0));
    wk_store_close(st);
    o.map_initial = 64 << 10;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    WK_ASSERT_OK(wk_store_stats(st, &s1));
    WK_ASSERT(s1.map_size < s0.map_size); /* the file's size: no room left */
    uint64_t map0 = s1.map_size, done = 0;
    WK_ASSERT_OK(wk_store_recompact(st, 60LL * 1000000000, 0, &done));
    WK_ASSERT(done >= s0.blocks / 2); /* the newest ones short of a value stay hot */
    WK_ASSERT_OK(wk_store_stats(st, &s1));
    WK_ASSERT(s1.map_size > map0); /* it grew */
    WK_ASSERT_UINT_EQ(s1.events, (uint64_t)N);
    WK_ASSERT_MEM_EQ(s1.head, 32, s0.head, 32);
    struct wk_store_verify_result res;
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    wk_store_close(st);
    for (size_t i = 0; i < N; i++)
        wk_event_free(evs[i]);
}

WK_TEST(recompaction_shrinks_and_keeps_chain_and_refs)
{
    init_cids();
    struct wk_store_opts o = test_opts();
    o.block_raw_max = 32768;
    o.zstd_level = 1;
    o.cold_level = 12;
    o.dictionaries = false;
    o.cold_block_bytes = 0; /* each block recompressed alone, in place */
    const char *d = store_dir("cold");
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    enum { N = 1200 };
    static struct wk_event *evs[N];
    fill(st, evs, N, 1700000000000000000LL, false);
    WK_ASSERT_OK(wk_store_flush(st));
    struct wk_store_stats s0, s1;
    WK_ASSERT_OK(wk_store_stats(st, &s0));
    WK_ASSERT(s0.blocks > 4);
    uint64_t done = 0;
    /* Everything but the 2 newest blocks, with a generous budget. */
    WK_ASSERT_OK(wk_store_recompact(st, 60LL * 1000000000, 2, &done));
    WK_ASSERT_UINT_EQ(done, s0.blocks - 2);
    WK_ASSERT_OK(wk_store_stats(st, &s1));
    WK_ASSERT(s1.stored_bytes < s0.stored_bytes);
    WK_ASSERT_MEM_EQ(s1.head, 32, s0.head, 32);
    /* Again: nothing left to do. */
    WK_ASSERT_OK(wk_store_recompact(st, 60LL * 1000000000, 2, &done));
    WK_ASSERT_UINT_EQ(done, 0);
    struct wk_store_verify_result res;
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    struct wk_store_reader *r;
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    struct wk_store_iter *it;
    WK_ASSERT_OK(wk_store_iter_new(r, NULL, &it));
    const struct wk_event *got;
    size_t i = 0;
    while (wk_store_iter_next(it, &got, NULL) == 1) {
        WK_ASSERT(wk_event_equal(got, evs[i]));
        i++;
    }
    WK_ASSERT_UINT_EQ(i, N);
    wk_store_iter_free(it);
    wk_store_reader_close(r);
    wk_store_close(st);
    free_evs(evs, N);
}

/* The cold tier merges hot blocks into larger values: ids, refs, alerts, the chain,
 * verify (also from a block inside a merged value), tamper detection and retention keep
 * working, and a partial group stays hot until it is large enough. */
WK_TEST(cold_tier_merges_blocks_and_keeps_refs_chain_retention)
{
    init_cids();
    struct wk_store_opts o = test_opts();
    o.block_raw_max = 8192;
    o.cold_level = 9;
    o.cold_block_bytes = 40000;
    o.dict_sample_bytes = 64 << 10;
    o.checkpoint_blocks = 5;
    const char *d = store_dir("merge");
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    enum { N = 1500 };
    static struct wk_event *evs[N];
    static struct wk_store_ref refs[N];
    for (size_t i = 0; i < N; i++) {
        WK_ASSERT_OK(wk_event_new(&evs[i]));
        make_event(evs[i], 1700000000000000000LL + (int64_t)i * 1000000000);
        WK_ASSERT_OK(wk_store_add(st, evs[i], NULL, &refs[i]));
    }
    uint64_t aid;
    struct wk_store_ref aref[2] = {refs[3], refs[N / 2]};
    WK_ASSERT_OK(wk_store_alert_add(st, "{\"a\":1}", 7, aref, 2, &aid));
    WK_ASSERT_OK(wk_store_flush(st));
    struct wk_store_stats s0, s1;
    WK_ASSERT_OK(wk_store_stats(st, &s0));
    WK_ASSERT(s0.blocks > 20);
    uint64_t done = 0;
    WK_ASSERT_OK(wk_store_recompact(st, 60LL * 1000000000, 0, &done));
    WK_ASSERT(done > 10);
    WK_ASSERT(done <= s0.blocks);
    WK_ASSERT_OK(wk_store_stats(st, &s1));
    WK_ASSERT_UINT_EQ(s1.blocks, s0.blocks); /* blocks keep existing inside merged values */
    WK_ASSERT_UINT_EQ(s1.events, N);
    WK_ASSERT(s1.stored_bytes < s0.stored_bytes);
    WK_ASSERT_MEM_EQ(s1.head, 32, s0.head, 32);
    /* Fewer LMDB values than blocks. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat ms;
    /* Nothing left that reaches the size: a second call does nothing. */
    uint64_t again = 0;
    WK_ASSERT_OK(wk_store_recompact(st, 60LL * 1000000000, 0, &again));
    WK_ASSERT_UINT_EQ(again, 0);
    struct wk_store_verify_result res;
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    WK_ASSERT_UINT_EQ(res.blocks, s0.blocks);
    WK_ASSERT(res.checkpoints >= 1);
    /* The daemon's incremental check from a block inside a merged value. */
    WK_ASSERT_OK(wk_store_verify_blocks(st, 4, &res));
    WK_ASSERT_UINT_EQ(res.blocks, s0.blocks - 3);
    WK_ASSERT_OK(wk_store_verify(st, 4, NULL, &res));
    /* Every event in order, and by its ref from before the merge; the alert's refs. */
    struct wk_store_reader *r;
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    struct wk_store_iter *it;
    WK_ASSERT_OK(wk_store_iter_new(r, NULL, &it));
    const struct wk_event *got;
    struct wk_store_ref ref;
    size_t i = 0;
    while (wk_store_iter_next(it, &got, &ref) == 1) {
        WK_ASSERT(i < N);
        WK_ASSERT(wk_event_equal(got, evs[i]));
        WK_ASSERT_UINT_EQ(ref.block, refs[i].block);
        WK_ASSERT_UINT_EQ(ref.index, refs[i].index);
        i++;
    }
    WK_ASSERT_UINT_EQ(i, N);
    wk_store_iter_free(it);
    struct wk_event *one;
    WK_ASSERT_OK(wk_event_new(&one));
    for (i = 0; i < N; i += 37) {
        WK_ASSERT_OK(wk_store_event_get(r, refs[i], one));
        WK_ASSERT(wk_event_equal(one, evs[i]));
    }
    struct wk_store_block_info bi;
    WK_ASSERT_OK(wk_store_block_info(r, 2, &bi));
    WK_ASSERT_UINT_EQ(bi.id, 2);
    WK_ASSERT(bi.count > 0);
    uint64_t vfirst;
    uint32_t vn;
    WK_ASSERT_OK(wk_store_block_value(r, 2, &vfirst, &vn));
    WK_ASSERT_UINT_EQ(vfirst, 1);
    WK_ASSERT(vn >= 2);
    WK_ASSERT_OK(wk_store_block_value(r, s0.blocks, &vfirst, &vn));
    WK_ASSERT(vfirst <= s0.blocks && vfirst + vn > s0.blocks);
    WK_ASSERT_INT_EQ(wk_store_block_value(r, s0.blocks + 1, &vfirst, &vn), WK_ENOT_FOUND);
    uint64_t next = 1;
    struct wk_store_alert al;
    WK_ASSERT_INT_EQ(wk_store_alert_next(r, &next, &al), 1);
    struct wk_store_ref ar[2] = {al.refs[0], al.refs[1]};
    for (int j = 0; j < 2; j++) {
        WK_ASSERT_OK(wk_store_event_get(r, ar[j], one));
        WK_ASSERT(wk_event_equal(one, evs[j ? N / 2 : 3]));
    }
    wk_store_reader_close(r);
    wk_store_close(st);
    WK_ASSERT_INT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    WK_ASSERT_INT_EQ(mdb_env_open(env, d, MDB_RDONLY, 0600), 0);
    WK_ASSERT_INT_EQ(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    WK_ASSERT_INT_EQ(mdb_dbi_open(txn, "blocks", 0, &dbi), 0);
    WK_ASSERT_INT_EQ(mdb_stat(txn, dbi, &ms), 0);
    WK_ASSERT(ms.ms_entries < s0.blocks - done / 2);
    mdb_txn_abort(txn);
    mdb_env_close(env);

    /* Tamper: flip a byte inside the first (merged) value's frame. */
    char cp[600];
    snprintf(cp, sizeof(cp), "%s.t", d);
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", cp, d, cp);
    WK_ASSERT_INT_EQ(system(cmd), 0);
    {
        WK_ASSERT_INT_EQ(mdb_env_create(&env), 0);
        mdb_env_set_maxdbs(env, 16);
        WK_ASSERT_INT_EQ(mdb_env_open(env, cp, MDB_WRITEMAP, 0600), 0);
        WK_ASSERT_INT_EQ(mdb_txn_begin(env, NULL, 0, &txn), 0);
        WK_ASSERT_INT_EQ(mdb_dbi_open(txn, "blocks", 0, &dbi), 0);
        uint8_t kb[8] = {0, 0, 0, 0, 0, 0, 0, 1};
        MDB_val k = {8, kb}, v;
        WK_ASSERT_INT_EQ(mdb_get(txn, dbi, &k, &v), 0);
        WK_ASSERT_INT_EQ(((uint8_t *)v.mv_data)[0], 3); /* merged */
        ((uint8_t *)v.mv_data)[v.mv_size / 2] ^= 0x40;
        WK_ASSERT_INT_EQ(mdb_txn_commit(txn), 0);
        mdb_env_close(env);
        struct wk_store_opts ro = test_opts();
        ro.read_only = true;
        WK_ASSERT_OK(wk_store_open(&st, cp, &ro));
        WK_ASSERT_INT_EQ(wk_store_verify(st, 0, NULL, &res), WK_ECHAIN);
        WK_ASSERT_UINT_EQ(res.first_bad, 1);
        wk_store_close(st);
    }

    /* Retention by size removes whole merged values and verify still passes. */
    o.retain_bytes = s1.stored_bytes / 2;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    uint64_t removed = 0;
    WK_ASSERT_OK(wk_store_retain(st, 0, &removed));
    WK_ASSERT(removed > 0);
    struct wk_store_stats s2;
    WK_ASSERT_OK(wk_store_stats(st, &s2));
    WK_ASSERT(s2.stored_bytes <= o.retain_bytes);
    WK_ASSERT_UINT_EQ(s2.blocks, s0.blocks - removed);
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    WK_ASSERT_UINT_EQ(res.blocks, s2.blocks);
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    WK_ASSERT_OK(wk_store_iter_new(r, NULL, &it));
    size_t left = 0;
    while (wk_store_iter_next(it, &got, &ref) == 1) {
        WK_ASSERT(wk_event_equal(got, evs[N - s2.events + left]));
        left++;
    }
    WK_ASSERT_UINT_EQ(left, s2.events);
    wk_store_iter_free(it);
    wk_store_reader_close(r);
    wk_store_close(st);
    wk_event_free(one);
    free_evs(evs, N);
}

WK_TEST(map_growth_waits_for_readers_then_backs_off)
{
    init_cids();
    struct wk_store_opts o = test_opts();
    o.map_initial = 256 << 10;
    o.map_max = 64 << 20;
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, store_dir("busy"), &o));
    struct wk_store_reader *r;
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    int rc = 0;
    for (int i = 1; i < 100000 && rc == 0; i++) {
        make_event(ev, i);
        char junk[256];
        for (size_t j = 0; j < sizeof(junk); j++)
            junk[j] = (char)rnd();
        struct wk_key k = wk_key_init("junk");
        wk_event_add_str(ev, 0, &k, junk, sizeof(junk));
        rc = wk_store_add(st, ev, NULL, NULL);
    }
    /* The open reader pins the mapping: growth gave up after its bounded wait. */
    WK_ASSERT_INT_EQ(rc, -EBUSY);
    wk_store_reader_close(r);
    WK_ASSERT_OK(wk_store_flush(st));
    struct wk_store_stats s;
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT(s.map_size > (256u << 10));
    struct wk_store_verify_result res;
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    wk_store_close(st);
    wk_event_free(ev);
}

/* A named state commits in the transaction of the events added before it: staged, it is
 * invisible; a process that dies before the commit leaves the previous state. */
WK_TEST(state_commits_with_its_block)
{
    init_cids();
    struct wk_store_opts o = test_opts();
    o.block_age_ns = 3600LL * 1000000000;
    o.commit_interval_ns = 3600LL * 1000000000;
    const char *d = store_dir("state");
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    void *data;
    size_t len;
    WK_ASSERT_INT_EQ(wk_store_state_get(st, "rules", &data, &len), WK_ENOT_FOUND);
    WK_ASSERT_INT_EQ(wk_store_state_set(st, "", "x", 1), -EINVAL);
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    make_event(ev, 1000);
    WK_ASSERT_OK(wk_store_add(st, ev, NULL, NULL));
    WK_ASSERT_OK(wk_store_state_set(st, "rules", "first", 5));
    WK_ASSERT_OK(wk_store_state_set(st, "rules", "A", 1)); /* replaces the staged one */
    WK_ASSERT_INT_EQ(wk_store_state_get(st, "rules", &data, &len), WK_ENOT_FOUND);
    WK_ASSERT_OK(wk_store_flush(st));
    WK_ASSERT_OK(wk_store_state_get(st, "rules", &data, &len));
    WK_ASSERT_MEM_EQ(data, len, "A", 1);
    free(data);
    wk_store_close(st);

    /* A writer that stages "B" with an event and dies before committing. */
    pid_t pid = fork();
    WK_ASSERT(pid >= 0);
    if (pid == 0) {
        struct wk_store *cs;
        if (wk_store_open(&cs, d, &o) < 0)
            _exit(2);
        make_event(ev, 2000);
        if (wk_store_add(cs, ev, NULL, NULL) < 0 ||
            wk_store_state_set(cs, "rules", "BBBBBBBB", 8) < 0)
            _exit(3);
        _exit(0); /* no flush, no close: a crash */
    }
    int status = 0;
    WK_ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
    WK_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    WK_ASSERT_OK(wk_store_state_get(st, "rules", &data, &len));
    WK_ASSERT_MEM_EQ(data, len, "A", 1);
    free(data);
    struct wk_store_stats s;
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.events, 1);
    /* Staged in a block that is sealed, then again in the next open block: the last
     * commit holds the last value, and verify is unaffected. */
    WK_ASSERT_OK(wk_store_add(st, ev, NULL, NULL));
    WK_ASSERT_OK(wk_store_state_set(st, "rules", "CC", 2));
    WK_ASSERT_OK(wk_store_flush(st));
    WK_ASSERT_OK(wk_store_state_set(st, "rules", "DDD", 3)); /* no events: next commit */
    WK_ASSERT_OK(wk_store_state_set(st, "other", "", 0));
    wk_store_close(st);
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    WK_ASSERT_OK(wk_store_state_get(st, "rules", &data, &len));
    WK_ASSERT_MEM_EQ(data, len, "DDD", 3);
    free(data);
    WK_ASSERT_OK(wk_store_state_get(st, "other", &data, &len));
    WK_ASSERT_UINT_EQ(len, 0);
    free(data);
    struct wk_store_verify_result res;
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    WK_ASSERT_UINT_EQ(res.blocks, 2);
    wk_store_close(st);
    wk_event_free(ev);
}

/* Side data is held in one list: the batch's part, then the open block's. A commit before
 * the open block is sealed writes the batch's part alone and keeps the open block's items,
 * which commit, exact, with their block, also after they were moved to the front of the
 * list to make room (their bytes, offsets and the in-place cursor's index). */
WK_TEST(commit_keeps_the_open_blocks_side_data)
{
    init_cids();
    struct wk_store_opts o = test_opts();
    o.block_age_ns = 36000LL * 1000000000;      /* 10 h: never sealed by age here */
    o.commit_interval_ns = 3600LL * 1000000000; /* a tick 2 h on commits the batch */
    const char *d = store_dir("keep");
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    make_event(ev, 1000);
    /* The batch's part: set with no event in the open block. */
    struct wk_store_cursor g = {"g", "b0", 2};
    WK_ASSERT_OK(wk_store_cursor_set(st, &g));
    WK_ASSERT_OK(wk_store_state_set(st, "rules", "S0", 2));
    uint64_t id;
    WK_ASSERT_OK(wk_store_alert_add(st, "{}", 2, NULL, 0, &id));
    /* The open block's part. */
    struct wk_store_ref ref;
    struct wk_store_cursor f = {"f", "p1", 2};
    WK_ASSERT_OK(wk_store_add(st, ev, &f, &ref));
    WK_ASSERT_OK(wk_store_alert_add(st, "{\"a\":1}", 7, &ref, 1, &id));
    WK_ASSERT_OK(wk_store_state_set(st, "rules", "S1", 2));
    WK_ASSERT_OK(wk_store_tick(st, wk_time_mono_ns() + 2 * 3600LL * 1000000000));
    char buf[16];
    size_t len;
    void *data;
    WK_ASSERT_OK(wk_store_cursor_get(st, "g", buf, sizeof(buf), &len));
    WK_ASSERT_MEM_EQ(buf, len, "b0", 2);
    WK_ASSERT_INT_EQ(wk_store_cursor_get(st, "f", buf, sizeof(buf), &len), WK_ENOT_FOUND);
    WK_ASSERT_OK(wk_store_state_get(st, "rules", &data, &len));
    WK_ASSERT_MEM_EQ(data, len, "S0", 2); /* S1 waits for its block */
    free(data);
    struct wk_store_reader *r;
    struct wk_store_alert a;
    uint64_t it = 0;
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    WK_ASSERT_INT_EQ(wk_store_alert_next(r, &it, &a), 1);
    WK_ASSERT_UINT_EQ(a.id, 1);
    WK_ASSERT_MEM_EQ(a.json, a.len, "{}", 2);
    WK_ASSERT_INT_EQ(wk_store_alert_next(r, &it, &a), 0);
    wk_store_reader_close(r);
    /* Same block: the cursor is updated in place, one more alert, larger than the list's
     * first buffer (4 KiB): the list moves what it holds to the front, then grows. */
    f.data = "p2";
    WK_ASSERT_OK(wk_store_add(st, ev, &f, &ref));
    static char big[6000];
    memset(big, 'x', sizeof(big));
    memcpy(big, "{\"b\":\"", 6);
    memcpy(big + sizeof(big) - 2, "\"}", 2);
    WK_ASSERT_OK(wk_store_alert_add(st, big, sizeof(big), &ref, 1, &id));
    f.data = "p3";
    WK_ASSERT_OK(wk_store_add(st, ev, &f, &ref));
    WK_ASSERT_OK(wk_store_flush(st));
    WK_ASSERT_OK(wk_store_cursor_get(st, "f", buf, sizeof(buf), &len));
    WK_ASSERT_MEM_EQ(buf, len, "p3", 2);
    WK_ASSERT_OK(wk_store_state_get(st, "rules", &data, &len));
    WK_ASSERT_MEM_EQ(data, len, "S1", 2);
    free(data);
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    it = 2;
    WK_ASSERT_INT_EQ(wk_store_alert_next(r, &it, &a), 1);
    WK_ASSERT_UINT_EQ(a.id, 2);
    WK_ASSERT_MEM_EQ(a.json, a.len, "{\"a\":1}", 7);
    WK_ASSERT_UINT_EQ(a.nrefs, 1);
    WK_ASSERT_UINT_EQ(a.refs[0].index, 0);
    WK_ASSERT_INT_EQ(wk_store_alert_next(r, &it, &a), 1);
    WK_ASSERT_UINT_EQ(a.id, 3);
    WK_ASSERT_MEM_EQ(a.json, a.len, big, sizeof(big));
    WK_ASSERT_UINT_EQ(a.refs[0].index, 1);
    WK_ASSERT_INT_EQ(wk_store_alert_next(r, &it, &a), 0);
    wk_store_reader_close(r);
    struct wk_store_stats s;
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.events, 3);
    WK_ASSERT_UINT_EQ(s.blocks, 1);
    WK_ASSERT_UINT_EQ(s.cursors, 2);
    WK_ASSERT_UINT_EQ(s.alerts, 3);
    wk_store_close(st);
    wk_event_free(ev);
}

static int count_cb(const struct wk_event *ev, struct wk_store_ref ref, void *arg)
{
    (void)ev, (void)ref;
    ++*(size_t *)arg;
    return 0;
}

/* Both readers (iterator, block scan) of a filter over format-2 blocks rule records out by
 * their shape (the fields of the filter must be among the event's fields) before the byte
 * pre-check and decoding: exact counts with fields only some shapes have, a field at record
 * level only, more shapes in one block than the per-block verdict table holds (1024). */
WK_TEST(filters_rule_out_records_by_shape)
{
    struct wk_store_opts o = test_opts();
    o.block_raw_max = 4u << 20; /* one block */
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, store_dir("shapes"), &o));
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    enum { N = 1300 };
    size_t want_rare = 0, want_rare_auditd = 0, want_name = 0;
    for (int i = 0; i < N; i++) {
        char name[16], val[16], orig[64];
        wk_event_reset(ev);
        wk_event_set_ts(ev, 1700000000000000000LL + i);
        const char *m = i % 3 ? "clog" : "auditd";
        wk_event_add_str(ev, 0, &WK_KEY_EVENT_MODULE, m, strlen(m));
        snprintf(name, sizeof(name), "f%d", i % 1100);
        snprintf(val, sizeof(val), "v%d", i);
        struct wk_key k = wk_key_init(name);
        wk_event_add_str(ev, 0, &k, val, strlen(val));
        if (i % 7 == 0) {
            /* the value also in other events' bytes: only the shape rules those out */
            int r = wk_event_add_record(ev);
            k = K("rare.key");
            wk_event_add_str(ev, (unsigned)r, &k, "hit", 3);
            want_rare++;
            want_rare_auditd += i % 3 == 0;
        }
        if (i % 5 == 0) {
            wk_event_add_str(ev, 0, &WK_KEY_CONTAINER_NAME, "web", 3);
            want_name++;
        }
        int n = snprintf(orig, sizeof(orig), "line %d hit web rare.key auditd", i);
        wk_event_add_str(ev, 0, &WK_KEY_EVENT_ORIGINAL, orig, (size_t)n);
        WK_ASSERT_OK(wk_store_add(st, ev, NULL, NULL));
    }
    WK_ASSERT_OK(wk_store_flush(st));
    struct wk_store_term rare = {"rare.key", "hit"}, f3 = {"f3", "v3"}, f1050 = {"f1050", "v1050"},
                         f1050b = {"f1050", "v2150"};
    struct {
        struct wk_store_filter f;
        size_t want;
    } q[] = {
        { {.terms = &rare, .nterms = 1}, want_rare },
        { {.terms = &rare, .nterms = 1, .source = "auditd"}, want_rare_auditd },
        { {.terms = &f3, .nterms = 1}, 1 },
        { {.terms = &f1050, .nterms = 1}, 1 },  /* shape id beyond the verdict table */
        { {.terms = &f1050b, .nterms = 1}, 0 }, /* f1050 is v1050 only (i < N) */
        { {.container = "web"}, want_name },
        { {.container = "web", .terms = &rare, .nterms = 1}, (N + 34) / 35 },
    };
    struct wk_store_reader *r;
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    for (size_t i = 0; i < WK_ARRAY_SIZE(q); i++) {
        struct wk_store_iter *it;
        const struct wk_event *e;
        size_t got = 0, scanned = 0;
        WK_ASSERT_OK(wk_store_iter_new(r, &q[i].f, &it));
        struct wk_store_ref ref;
        struct wk_store_reader *r2;
        struct wk_event *back;
        WK_ASSERT_OK(wk_store_reader_open(st, &r2));
        WK_ASSERT_OK(wk_event_new(&back));
        while (wk_store_iter_next(it, &e, &ref) == 1) {
            /* its ref counts the records passed over: it names this very event */
            WK_ASSERT_OK(wk_store_event_get(r2, ref, back));
            WK_ASSERT(wk_event_equal(back, e));
            got++;
        }
        wk_event_free(back);
        wk_store_reader_close(r2);
        wk_store_iter_free(it);
        uint64_t *ids;
        size_t n;
        WK_ASSERT_OK(wk_store_candidates(r, &q[i].f, &ids, &n));
        for (size_t b = 0; b < n; b++)
            WK_ASSERT_OK(wk_store_block_scan(r, ids[b], &q[i].f, count_cb, &scanned));
        free(ids);
        if (got != q[i].want || scanned != q[i].want)
            WK_FAIL("query %zu: iterator %zu, block scan %zu, want %zu", i, got, scanned, q[i].want);
    }
    WK_ASSERT_UINT_EQ(want_rare, 186);
    wk_store_reader_close(r);
    wk_event_free(ev);
    wk_store_close(st);
}

/* The reference for a block's summaries: every field of every event scanned, the hashes
 * collected, sorted and deduplicated (what the writer did before it deduplicated on add
 * and looked only at the fields whose name hash it wants). */
static int cmp_u32_t(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static size_t ref_summary(struct wk_event **evs, const struct wk_store_ref *refs, size_t n,
                          uint64_t block, const char *const *terms, bool containers,
                          uint32_t *out)
{
    size_t m = 0;
    for (size_t e = 0; e < n; e++) {
        if (refs[e].block != block)
            continue;
        for (size_t i = 0; i < wk_event_nfields(evs[e]); i++) {
            const struct wk_key *k = wk_event_field_key(evs[e], i);
            const struct wk_value *v = wk_event_field_value(evs[e], i);
            bool c = strcmp(k->name, "container.id") == 0 || strcmp(k->name, "container.name") == 0;
            bool t = !c && strcmp(k->name, "event.module") == 0;
            for (size_t j = 0; !c && !t && terms[j]; j++)
                t = strcmp(k->name, terms[j]) == 0;
            if (containers ? !c : !t)
                continue;
            char buf[32];
            const char *s;
            size_t len;
            if (!containers && v->kind == WK_VAL_STRLIST) {
                for (uint32_t j = 0; j < v->len; j++)
                    out[m++] = wk__term_hash32(k->name, k->len, v->u.items[j].s, v->u.items[j].len);
            } else if (wk__value_text(v, buf, &s, &len)) {
                out[m++] = wk__term_hash32(k->name, k->len, s, len);
            }
        }
    }
    if (m)
        qsort(out, m, sizeof(*out), cmp_u32_t);
    size_t u = 0;
    for (size_t i = 0; i < m; i++) {
        if (!u || out[u - 1] != out[i])
            out[u++] = out[i];
    }
    return u;
}

WK_TEST(summaries_match_a_scan_of_every_field)
{
    init_cids();
    const char *dir = store_dir("summ");
    static const char *const terms[] = {"process.executable", "user.id", "event.action",
                                        "auditd.key", "tags", "type", NULL};
    struct wk_store_opts o = test_opts();
    o.block_raw_max = 16u << 10; /* many blocks, many summaries */
    o.index_terms = (const char **)terms;
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, dir, &o));
    enum { N = 3000 };
    struct wk_event **evs = calloc(N, sizeof(*evs));
    struct wk_store_ref *refs = calloc(N, sizeof(*refs));
    for (size_t i = 0; i < N; i++) {
        WK_ASSERT_OK(wk_event_new(&evs[i]));
        make_event(evs[i], 1700000000000000000 + (int64_t)i * 1000);
        if (i % 7 == 0) { /* many distinct terms: the sets grow past their first size */
            char x[32];
            int n = snprintf(x, sizeof(x), "/opt/app-%zu", i);
            struct wk_key k = K("process.executable");
            wk_event_add_str(evs[i], 0, &k, x, (size_t)n);
        }
        WK_ASSERT_OK(wk_store_add(st, evs[i], NULL, &refs[i]));
    }
    wk_store_close(st);

    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbc, dbt;
    WK_ASSERT_INT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    WK_ASSERT_INT_EQ(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    WK_ASSERT_INT_EQ(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    WK_ASSERT_INT_EQ(mdb_dbi_open(txn, "by_container", 0, &dbc), 0);
    WK_ASSERT_INT_EQ(mdb_dbi_open(txn, "by_term", 0, &dbt), 0);
    uint32_t *want = calloc(N * 16, sizeof(*want));
    uint64_t last = refs[N - 1].block;
    WK_ASSERT(last > 20);
    size_t nonempty = 0;
    for (uint64_t b = 1; b <= last; b++) {
        for (int c = 0; c < 2; c++) {
            uint8_t kb[8];
            MDB_val k = bkey(b, kb), v;
            WK_ASSERT_INT_EQ(mdb_get(txn, c ? dbc : dbt, &k, &v), 0);
            size_t n = ref_summary(evs, refs, N, b, terms, c, want);
            if (v.mv_size != n * 4)
                WK_FAIL("block %llu %s: %zu hashes stored, %zu expected",
                        (unsigned long long)b, c ? "containers" : "terms", v.mv_size / 4, n);
            for (size_t i = 0; i < n; i++)
                WK_ASSERT_INT_EQ(wk__get_u32le((const uint8_t *)v.mv_data + 4 * i), want[i]);
            nonempty += n > 0;
        }
    }
    WK_ASSERT(nonempty > last);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    free(want);
    free(refs);
    free_evs(evs, N);
    free(evs);
}

/* An alert's JSON like the daemon's: rule, then the evidence event, 1-4 KB. */
static size_t alert_json(char *buf, size_t cap, size_t i)
{
    size_t n = (size_t)snprintf(buf, cap,
                                "{\"@timestamp\":\"2026-01-01T00:00:%02zu.%09zuZ\",\"rule\":{\"id\":"
                                "\"r-%zu\",\"title\":\"Rule %zu\",\"level\":\"high\"},\"event\":{"
                                "\"process\":{\"exe\":\"%s\",\"pid\":%llu,\"args\":[",
                                i % 60, i * 7919, i % 13, i % 13, exes[i % 4],
                                (unsigned long long)(rnd() % 100000));
    for (size_t a = 0, na = 20 + rnd() % 40; a < na && n + 200 < cap; a++)
        n += (size_t)snprintf(buf + n, cap - n, "%s\"--option-%zu=%s\"", a ? "," : "", a,
                              cnames[rnd() % 6]);
    n += (size_t)snprintf(buf + n, cap - n, "]},\"container\":{\"id\":\"%s\",\"name\":\"%s\"}}}",
                          cids[i % 6], cnames[i % 6]);
    return n;
}

/* The JSON part of alert `id`'s value as stored (borrowed from txn). */
static MDB_val alert_stored(struct wk_store *st, MDB_txn *txn, uint64_t id)
{
    uint8_t kb[8];
    wk__put_u64be(kb, id);
    MDB_val k = {8, kb}, v;
    WK_ASSERT_INT_EQ(mdb_get(txn, st->dbi[WK__DB_ALERTS], &k, &v), 0);
    size_t skip = 4 + 12 * (size_t)wk__get_u32le(v.mv_data);
    WK_ASSERT(v.mv_size >= skip);
    v.mv_data = (uint8_t *)v.mv_data + skip;
    v.mv_size -= skip;
    return v;
}

/* Alert values are zstd frames (the first ones without a dictionary, then with the alert
 * dictionary trained on them, which a writer opened later keeps using); every alert reads
 * back with the exact bytes added; text a frame does not shrink stays plain, except text
 * that starts like a frame. */
WK_TEST(alert_values_are_zstd_frames_and_read_back_identical)
{
    init_cids();
    enum { N = 800, M = 200, CAP = 8192 };
    char **js = wk_new0(char *, N + M + 2);
    size_t *jl = wk_new0(size_t, N + M + 2);
    struct wk_store_opts o = test_opts();
    const char *d = store_dir("alerts");
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    make_event(ev, 1000);
    struct wk_store_ref ref;
    WK_ASSERT_OK(wk_store_add(st, ev, NULL, &ref));
    static const char magic[] = "\x28\xb5\x2f\xfd not a frame";
    size_t n = 0;
    for (; n < N + M + 2; n++) {
        js[n] = malloc(CAP);
        if (n == 3) {
            jl[n] = 2;
            memcpy(js[n], "{}", 2);
        } else if (n == 4) {
            jl[n] = sizeof(magic) - 1;
            memcpy(js[n], magic, jl[n]);
        } else {
            jl[n] = alert_json(js[n], CAP, n);
        }
        if (n == N) { /* a writer opened later: the dictionary comes from meta */
            WK_ASSERT_OK(wk_store_flush(st));
            wk_store_close(st);
            WK_ASSERT_OK(wk_store_open(&st, d, &o));
        }
        uint64_t id;
        WK_ASSERT_OK(wk_store_alert_add(st, js[n], jl[n], &ref, n % 2, &id));
        WK_ASSERT_UINT_EQ(id, n + 1);
    }
    WK_ASSERT_OK(wk_store_flush(st));
    struct wk_store_stats s;
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.schema, 3);
    WK_ASSERT_UINT_EQ(s.alerts, n);
    struct wk_store_reader *r;
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    uint64_t it = 0;
    struct wk_store_alert a;
    for (size_t i = 0; i < n; i++) {
        WK_ASSERT_INT_EQ(wk_store_alert_next(r, &it, &a), 1);
        WK_ASSERT_UINT_EQ(a.id, i + 1);
        WK_ASSERT_MEM_EQ(a.json, a.len, js[i], jl[i]);
        WK_ASSERT_UINT_EQ(a.nrefs, i % 2);
        if (i % 2) {
            WK_ASSERT_UINT_EQ(a.refs[0].block, ref.block);
            WK_ASSERT_UINT_EQ(a.refs[0].index, ref.index);
        }
    }
    WK_ASSERT_INT_EQ(wk_store_alert_next(r, &it, &a), 0);
    wk_store_reader_close(r);
    /* On disk: frames smaller than the JSON; "{}" plain; the magic text framed. The
     * dictionary is trained at the alert that brings the samples to 512 KiB: the alerts
     * before it have none, those from it on (after the reopen too) name it. */
    MDB_txn *txn;
    WK_ASSERT_OK(wk__store_rdtxn(st, &txn));
    size_t stored[2] = {0, 0}, json[2] = {0, 0}, first_dict = 0;
    uint32_t dict = 0;
    for (size_t i = 0; i < n; i++) {
        MDB_val v = alert_stored(st, txn, i + 1);
        if (i == 3) {
            WK_ASSERT_MEM_EQ(v.mv_data, v.mv_size, "{}", 2);
            continue;
        }
        WK_ASSERT(wk__alert_is_frame(v.mv_data, v.mv_size));
        WK_ASSERT_UINT_EQ(ZSTD_getFrameContentSize(v.mv_data, v.mv_size), jl[i]);
        if (i == 4)
            continue;
        WK_ASSERT(v.mv_size < jl[i]);
        uint32_t did = ZSTD_getDictID_fromFrame(v.mv_data, v.mv_size);
        if (did && !dict) {
            dict = did;
            first_dict = i;
        }
        stored[!!did] += v.mv_size;
        json[!!did] += jl[i];
        WK_ASSERT_UINT_EQ(did, i < first_dict || !dict ? 0 : dict);
    }
    WK_ASSERT_UINT_EQ(dict, WK__ALERT_DICT_BIT | 1);
    size_t sampled = 0;
    for (size_t i = 0; i < first_dict; i++)
        sampled += jl[i];
    WK_ASSERT(sampled < WK__ALERT_SAMPLES && sampled + jl[first_dict] >= WK__ALERT_SAMPLES);
    WK_ASSERT(first_dict < N);
    /* These alerts: x2.8 without the dictionary, x7.1 with it. */
    WK_ASSERT(stored[1] * 5 < json[1]);
    WK_ASSERT(stored[1] * json[0] * 2 < stored[0] * json[1]);
    uint8_t ak[10] = {'a', 'd', 'i', 'c', 't', ':', 0x40, 0, 0, 1};
    MDB_val k = {10, ak}, v;
    WK_ASSERT_INT_EQ(mdb_get(txn, st->dbi[WK__DB_META], &k, &v), 0);
    WK_ASSERT(v.mv_size > 1024 && v.mv_size <= WK__ALERT_DICT_MAX);
    k.mv_data = (uint8_t[]){'a', 'd', 'i', 'c', 't', ':', 0x40, 0, 0, 2};
    WK_ASSERT_INT_EQ(mdb_get(txn, st->dbi[WK__DB_META], &k, &v), MDB_NOTFOUND);
    wk__store_rdtxn_end(st, txn);
    wk_store_close(st);
    /* Without its dictionary a frame is corrupt, not handed out; those before still read. */
    MDB_env *env;
    WK_ASSERT_INT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    WK_ASSERT_INT_EQ(mdb_env_open(env, d, 0, 0600), 0);
    WK_ASSERT_INT_EQ(mdb_txn_begin(env, NULL, 0, &txn), 0);
    MDB_dbi meta;
    WK_ASSERT_INT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    k.mv_data = ak;
    WK_ASSERT_INT_EQ(mdb_del(txn, meta, &k, NULL), 0);
    WK_ASSERT_INT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    o.read_only = true;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    it = first_dict;
    WK_ASSERT_INT_EQ(wk_store_alert_next(r, &it, &a), 1);
    WK_ASSERT_MEM_EQ(a.json, a.len, js[first_dict - 1], jl[first_dict - 1]);
    WK_ASSERT_INT_EQ(wk_store_alert_next(r, &it, &a), WK_ECORRUPT);
    wk_store_reader_close(r);
    wk_store_close(st);
    wk_event_free(ev);
    for (size_t i = 0; i < n; i++)
        free(js[i]);
    free(js);
    free(jl);
}

/* A store of schema 2 (alert values plain JSON, as every binary before wrote them) reads
 * as before, stays 2 while nothing compressed is added, and becomes 3 with the commit of
 * its first framed alert; its old alerts still read. A schema above 3 is refused. */
WK_TEST(plain_alert_values_of_before_read_and_the_first_frame_makes_schema_3)
{
    init_cids();
    struct wk_store_opts o = test_opts();
    const char *d = store_dir("old");
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    wk_store_close(st);
    /* As a binary of schema 2 left it: two plain alert values, one with a ref. */
    static const char old1[] = "{\"rule\":{\"id\":\"old\"},\"n\":1}";
    static const char old2[] = "{\"rule\":{\"id\":\"old\"},\"n\":2}";
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, alerts;
    WK_ASSERT_INT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    WK_ASSERT_INT_EQ(mdb_env_open(env, d, 0, 0600), 0);
    WK_ASSERT_INT_EQ(mdb_txn_begin(env, NULL, 0, &txn), 0);
    WK_ASSERT_INT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    WK_ASSERT_INT_EQ(mdb_dbi_open(txn, "alerts", 0, &alerts), 0);
    uint8_t two[4] = {2, 0, 0, 0}, kb[8], vb[128];
    MDB_val k = {6, "schema"}, v = {4, two};
    WK_ASSERT_INT_EQ(mdb_put(txn, meta, &k, &v, 0), 0);
    wk__put_u64be(kb, 1);
    wk__put_u32le(vb, 0);
    memcpy(vb + 4, old1, sizeof(old1) - 1);
    k = (MDB_val){8, kb};
    v = (MDB_val){4 + sizeof(old1) - 1, vb};
    WK_ASSERT_INT_EQ(mdb_put(txn, alerts, &k, &v, 0), 0);
    wk__put_u64be(kb, 2);
    wk__put_u32le(vb, 1);
    wk__put_u64le(vb + 4, 7);
    wk__put_u32le(vb + 12, 3);
    memcpy(vb + 16, old2, sizeof(old2) - 1);
    v = (MDB_val){16 + sizeof(old2) - 1, vb};
    WK_ASSERT_INT_EQ(mdb_put(txn, alerts, &k, &v, 0), 0);
    WK_ASSERT_INT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    struct wk_store_stats s;
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.schema, 2);
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    make_event(ev, 1000);
    WK_ASSERT_OK(wk_store_add(st, ev, NULL, NULL));
    uint64_t id;
    WK_ASSERT_OK(wk_store_alert_add(st, "{}", 2, NULL, 0, &id)); /* plain: no frame */
    WK_ASSERT_UINT_EQ(id, 3);
    WK_ASSERT_OK(wk_store_flush(st));
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.schema, 2);
    char big[4096];
    size_t bl = alert_json(big, sizeof(big), 5);
    WK_ASSERT_OK(wk_store_alert_add(st, big, bl, NULL, 0, &id));
    WK_ASSERT_UINT_EQ(id, 4);
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.schema, 2); /* not committed yet */
    WK_ASSERT_OK(wk_store_flush(st));
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.schema, 3);
    wk_store_close(st);
    wk_event_free(ev);

    o.read_only = true;
    WK_ASSERT_OK(wk_store_open(&st, d, &o));
    struct wk_store_reader *r;
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    uint64_t it = 0;
    struct wk_store_alert a;
    WK_ASSERT_INT_EQ(wk_store_alert_next(r, &it, &a), 1);
    WK_ASSERT_MEM_EQ(a.json, a.len, old1, sizeof(old1) - 1);
    WK_ASSERT_UINT_EQ(a.nrefs, 0);
    WK_ASSERT_INT_EQ(wk_store_alert_next(r, &it, &a), 1);
    WK_ASSERT_MEM_EQ(a.json, a.len, old2, sizeof(old2) - 1);
    WK_ASSERT_UINT_EQ(a.nrefs, 1);
    WK_ASSERT_UINT_EQ(a.refs[0].block, 7);
    WK_ASSERT_UINT_EQ(a.refs[0].index, 3);
    WK_ASSERT_INT_EQ(wk_store_alert_next(r, &it, &a), 1);
    WK_ASSERT_MEM_EQ(a.json, a.len, "{}", 2);
    WK_ASSERT_INT_EQ(wk_store_alert_next(r, &it, &a), 1);
    WK_ASSERT_MEM_EQ(a.json, a.len, big, bl);
    WK_ASSERT_INT_EQ(wk_store_alert_next(r, &it, &a), 0);
    /* Framed without a dictionary: this process had not sampled enough to train one. */
    MDB_txn *rt;
    WK_ASSERT_OK(wk__store_rdtxn(st, &rt));
    MDB_val fv = alert_stored(st, rt, 4);
    WK_ASSERT(wk__alert_is_frame(fv.mv_data, fv.mv_size));
    WK_ASSERT_UINT_EQ(ZSTD_getDictID_fromFrame(fv.mv_data, fv.mv_size), 0);
    wk__store_rdtxn_end(st, rt);
    wk_store_reader_close(r);
    wk_store_close(st);

    /* Schema 4 (a binary after this one) is refused. */
    WK_ASSERT_INT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    WK_ASSERT_INT_EQ(mdb_env_open(env, d, 0, 0600), 0);
    WK_ASSERT_INT_EQ(mdb_txn_begin(env, NULL, 0, &txn), 0);
    WK_ASSERT_INT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    uint8_t four[4] = {4, 0, 0, 0};
    k = (MDB_val){6, "schema"};
    v = (MDB_val){4, four};
    WK_ASSERT_INT_EQ(mdb_put(txn, meta, &k, &v, 0), 0);
    WK_ASSERT_INT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    WK_ASSERT_INT_EQ(wk_store_open(&st, d, &o), WK_EVERSION);
}
