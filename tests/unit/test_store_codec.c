/* SPDX-License-Identifier: Apache-2.0 */
/* The store's record format 2 (docs/store.md): round trips of the shape table + original
 * references encoding (values that are and are not substrings of event.original, binary
 * originals, events without one, huge values), that every string value of every event is
 * a byte substring of its block's uncompressed bytes (the hunt prefilter relies on it),
 * that blocks of format 1 stay readable, and that a fixed event sequence encodes to pinned
 * bytes (an encoder optimization must not change the format's output). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_private.h"
#include "watchkeeper/error.h"
#include "watchkeeper/event.h"
#include "watchkeeper/event_json.h"
#include "watchkeeper/mem.h"
#include "watchkeeper/parser.h"
#include "watchkeeper/store.h"
#include "auditd_util.h" /* au_feed */
#include "wk_test.h"

#define K(name) (wk_key_init(name))

/* Encode n events into one format-2 block's bytes (blk), the way the writer does; desc,
 * vals, recs and shapes are the encoder's working state, left for the caller to free. */
static void encode_block(struct wk_event **evs, size_t n, struct wk__buf *desc,
                         struct wk__buf *vals, struct wk__buf *recs, struct wk__shapes *shapes,
                         struct wk__buf *blk)
{
    int64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        desc->len = vals->len = 0;
        const uint8_t *dp;
        size_t dl;
        WK_ASSERT_OK(wk__enc2_add(shapes, desc, vals, evs[i], &dp, &dl));
        uint32_t sid;
        WK_ASSERT_OK(wk__shapes_intern(shapes, dp, dl, &sid));
        WK_ASSERT_OK(wk__buf_reserve(recs, vals->len + 40));
        wk__enc2_record(recs, &prev, wk_event_ts(evs[i]), sid, vals->p, vals->len);
    }
    WK_ASSERT_OK(wk__shapes_section(shapes, blk));
    WK_ASSERT_OK(wk__buf_put(blk, recs->p, recs->len));
}

/* Build one block the way the writer does, then decode every event back. */
static void block_round_trip(struct wk_event **evs, size_t n)
{
    struct wk__buf desc = {0}, vals = {0}, recs = {0}, blk = {0};
    struct wk__shapes shapes = {0};
    encode_block(evs, n, &desc, &vals, &recs, &shapes, &blk);
    struct wk__blkview v = {0};
    WK_ASSERT_OK(wk__blkview_open(&v, WK__BLK_FORMAT2, blk.p, blk.len));
    uint32_t count;
    WK_ASSERT_OK(wk__blkview_count(&v, &count));
    WK_ASSERT_UINT_EQ(count, n);
    struct wk_event *got;
    WK_ASSERT_OK(wk_event_new(&got));
    const uint8_t *body;
    size_t blen;
    int64_t ts;
    for (size_t i = 0; i < n; i++) {
        WK_ASSERT_INT_EQ(wk__blkview_next(&v, &body, &blen, &ts), 1);
        WK_ASSERT_INT_EQ(ts, wk_event_ts(evs[i]));
        WK_ASSERT_OK(wk__blkview_decode(&v, body, blen, ts, got));
        WK_ASSERT(wk_event_equal(got, evs[i]));
    }
    WK_ASSERT_INT_EQ(wk__blkview_next(&v, &body, &blen, &ts), 0);
    /* A truncated block is refused, never read out of bounds (small blocks only: each
     * try decodes the whole block). */
    for (size_t cut = 1; blk.len < (64u << 10) && cut < blk.len; cut += 3) {
        if (wk__blkview_open(&v, WK__BLK_FORMAT2, blk.p, blk.len - cut) < 0)
            continue;
        int rc;
        while ((rc = wk__blkview_next(&v, &body, &blen, &ts)) == 1)
            (void)wk__blkview_decode(&v, body, blen, ts, got);
    }
    wk_event_free(got);
    wk__blkview_fini(&v);
    wk__shapes_fini(&shapes);
    wk__buf_fini(&desc);
    wk__buf_fini(&vals);
    wk__buf_fini(&recs);
    wk__buf_fini(&blk);
}

static struct wk_event *ev_new(int64_t ts)
{
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    wk_event_set_ts(ev, ts);
    return ev;
}

static void add_str(struct wk_event *ev, unsigned rec, const char *k, const char *v, size_t n)
{
    struct wk_key key = K(k);
    WK_ASSERT_OK(wk_event_add_str(ev, rec, &key, v, n));
}

/* Twelve events using every value kind and reference case (huge ones at i % 4 == 3). */
enum { NKIND = 12 };
static void every_kind_events(struct wk_event *evs[NKIND])
{
    enum { N = NKIND };
    static char huge[3 << 20];
    for (size_t i = 0; i < sizeof(huge); i++)
        huge[i] = (char)('a' + (i * 7 + i / 13) % 26);
    for (int i = 0; i < N; i++) {
        /* Timestamps out of order: deltas are signed. */
        struct wk_event *ev = evs[i] = ev_new(1700000000000000000LL + (i % 3) * 1000 - i);
        const char *orig = "type=SYSCALL msg=audit(1.2:3): pid=42 exe=\"/bin/sh\" key=\"recon\" "
                           "x=-17 big=9223372036854775807 lead=007";
        add_str(ev, 0, "event.module", "auditd", 6);
        int r = wk_event_add_record(ev);
        add_str(ev, (unsigned)r, "type", "SYSCALL", 7);
        add_str(ev, (unsigned)r, "exe", "/bin/sh", 7);     /* in the original */
        add_str(ev, (unsigned)r, "key", "recon", 5);       /* in the original */
        add_str(ev, (unsigned)r, "SYSCALL", "execve", 6);  /* not in it */
        add_str(ev, (unsigned)r, "pid", "42", 2);          /* short: literal */
        add_str(ev, 0, "process.executable", "/bin/sh", 7); /* again, backwards */
        add_str(ev, 0, "empty", "", 0);
        struct wk_key k = K("n");
        WK_ASSERT_OK(wk_event_add_int(ev, 0, &k, -1234567890123LL * i));
        /* Integers: decimal text in the original (a reference), not there, extremes. */
        const int64_t ints[] = {42, -17, INT64_MAX, 7, INT64_MIN, -1, 0, 4611686018427387904LL};
        for (size_t j = 0; j < sizeof(ints) / sizeof(ints[0]); j++) {
            char nm[16];
            snprintf(nm, sizeof(nm), "int%zu", j);
            k = K(nm);
            WK_ASSERT_OK(wk_event_add_int(ev, 0, &k, ints[j]));
        }
        k = K("r");
        WK_ASSERT_OK(wk_event_add_real(ev, 0, &k, 0.1 * i));
        k = K("b");
        WK_ASSERT_OK(wk_event_add_bool(ev, 0, &k, i & 1));
        k = K("z");
        WK_ASSERT_OK(wk_event_add_null(ev, 0, &k));
        struct wk_str items[3] = {{"recon", 5}, {"not there", 9}, {"", 0}};
        k = K("tags");
        WK_ASSERT_OK(wk_event_add_strlist(ev, 0, &k, items, (uint32_t)(i % 4)));
        k = K("j");
        WK_ASSERT_OK(wk_event_add_json(ev, 0, &k, "{\"exe\":\"/bin/sh\"}", 17));
        struct wk_value lv = {.kind = WK_VAL_STR, .len = 5, .u.s = "recon"};
        k = K("labels.a.b");
        WK_ASSERT_OK(wk_event_add_value(ev, 0, &k, 0x2, &lv));
        wk_event_flag_last(ev, WK_VALF_TRUNCATED);
        switch (i % 4) {
        case 0: /* the usual: original last */
            add_str(ev, 0, "event.original", orig, strlen(orig));
            break;
        case 1: { /* binary, non-UTF-8 original, first; values referencing it */
            char bin[64];
            for (int j = 0; j < 64; j++)
                bin[j] = (char)(0xff - j * 3);
            memcpy(bin + 20, "/bin/sh", 7);
            add_str(ev, 0, "event.original", bin, 64);
            wk_event_flag_last(ev, WK_VALF_TRUNCATED);
            add_str(ev, 0, "bin.slice", bin + 3, 10);
            break;
        }
        case 2: /* no original; a field of that name in a record is not one */
            add_str(ev, (unsigned)r, "event.original", orig, strlen(orig));
            break;
        default: /* huge values, one inside a huge original */
            add_str(ev, 0, "event.original", huge, sizeof(huge));
            add_str(ev, 0, "huge.ref", huge + 1000, 2 << 20);
            add_str(ev, 0, "huge.lit", huge + 1, 1 << 20);
            break;
        }
    }
}

WK_TEST(format2_round_trips_every_kind_and_reference)
{
    enum { N = NKIND };
    struct wk_event *evs[N];
    every_kind_events(evs);
    block_round_trip(evs, N);
    /* Without the huge events: small enough to try every truncation. */
    struct wk_event *small[N];
    size_t ns = 0;
    for (int i = 0; i < N; i++) {
        if (i % 4 != 3)
            small[ns++] = evs[i];
    }
    block_round_trip(small, ns);
    for (int i = 0; i < N; i++)
        wk_event_free(evs[i]);
}

/* Every string value (STR, each STRLIST item, JSON text) of every event must occur
 * verbatim in the uncompressed bytes of its block. */
static bool in_raw(const struct wk__buf *raw, const char *s, size_t n)
{
    return n == 0 || memmem(raw->p, raw->len, s, n) != NULL;
}

WK_TEST(string_values_are_substrings_of_the_block)
{
    struct wk_store_opts o;
    wk_store_opts_init(&o);
    o.fsync = false;
    o.block_raw_max = 4096;
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/inv", wk_test_tmpdir());
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, dir, &o));
    enum { N = 300 };
    for (int i = 0; i < N; i++) {
        struct wk_event *ev = ev_new(1700000000000000000LL + i * 1000);
        char orig[200], v[64];
        int n = snprintf(orig, sizeof(orig), "line %d exe=/usr/bin/x%d cwd=/tmp/%d", i, i % 7, i);
        add_str(ev, 0, "event.module", "auditd", 6);
        snprintf(v, sizeof(v), "/usr/bin/x%d", i % 7);
        add_str(ev, 0, "process.executable", v, strlen(v));
        snprintf(v, sizeof(v), "outside-%d", i);
        add_str(ev, 0, "other", v, strlen(v));
        struct wk_str items[2] = {{orig + 5, 2}, {"item-x", 6}};
        struct wk_key k = K("list");
        WK_ASSERT_OK(wk_event_add_strlist(ev, 0, &k, items, 2));
        k = K("js");
        WK_ASSERT_OK(wk_event_add_json(ev, 0, &k, "[1,2]", 5));
        add_str(ev, 0, "event.original", orig, (size_t)n);
        WK_ASSERT_OK(wk_store_add(st, ev, NULL, NULL));
        wk_event_free(ev);
    }
    WK_ASSERT_OK(wk_store_flush(st));
    MDB_txn *txn;
    WK_ASSERT_OK(wk__store_rdtxn(st, &txn));
    MDB_cursor *c;
    WK_ASSERT_INT_EQ(mdb_cursor_open(txn, st->dbi[WK__DB_BLOCKS], &c), 0);
    MDB_val k, v;
    ZSTD_DCtx *d = ZSTD_createDCtx();
    struct wk__buf raw = {0};
    struct wk__blkview view = {0};
    struct wk_event *ev;
    WK_ASSERT_OK(wk_event_new(&ev));
    size_t events = 0, blocks = 0, checked = 0;
    while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
        blocks++;
        WK_ASSERT_INT_EQ(wk__blk_format(v.mv_data), WK__BLK_FORMAT2);
        WK_ASSERT_OK(wk__store_block_raw(st, txn, d, v.mv_data, v.mv_size, &raw));
        WK_ASSERT_OK(wk__blkview_open(&view, WK__BLK_FORMAT2, raw.p, raw.len));
        const uint8_t *body;
        size_t blen;
        int64_t ts;
        while (wk__blkview_next(&view, &body, &blen, &ts) == 1) {
            WK_ASSERT_OK(wk__blkview_decode(&view, body, blen, ts, ev));
            events++;
            for (size_t i = 0; i < wk_event_nfields(ev); i++) {
                const struct wk_value *x = wk_event_field_value(ev, i);
                if (x->kind == WK_VAL_STR || x->kind == WK_VAL_JSON) {
                    WK_ASSERT(in_raw(&raw, x->u.s, x->len));
                    checked++;
                } else if (x->kind == WK_VAL_STRLIST) {
                    for (uint32_t j = 0; j < x->len; j++) {
                        WK_ASSERT(in_raw(&raw, x->u.items[j].s, x->u.items[j].len));
                        checked++;
                    }
                }
            }
        }
    }
    WK_ASSERT_UINT_EQ(events, N);
    WK_ASSERT(blocks > 3);
    WK_ASSERT_UINT_EQ(checked, (size_t)N * 7);
    mdb_cursor_close(c);
    wk__store_rdtxn_end(st, txn);
    ZSTD_freeDCtx(d);
    wk__buf_fini(&raw);
    wk__blkview_fini(&view);
    wk_event_free(ev);
    wk_store_close(st);
}

WK_TEST(format1_blocks_still_read)
{
    /* A format-1 record sequence (what stores written before format 2 hold). */
    struct wk_event *a = ev_new(1700000000000000001LL), *b = ev_new(1700000000000000000LL);
    add_str(a, 0, "event.module", "docker", 6);
    add_str(a, 0, "event.original", "{\"x\":1}", 7);
    add_str(b, 0, "message", "hello", 5);
    struct wk__buf enc = {0}, raw = {0};
    struct wk_event *evs[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        enc.len = 0;
        WK_ASSERT_OK(wk__store_encode(&enc, evs[i]));
        WK_ASSERT_OK(wk__buf_reserve(&raw, enc.len + 10));
        raw.len += wk__varint_put(raw.p + raw.len, enc.len);
        WK_ASSERT_OK(wk__buf_put(&raw, enc.p, enc.len));
    }
    struct wk__blkview v = {0};
    WK_ASSERT_OK(wk__blkview_open(&v, WK__BLK_FORMAT, raw.p, raw.len));
    struct wk_event *got;
    WK_ASSERT_OK(wk_event_new(&got));
    const uint8_t *body;
    size_t blen;
    int64_t ts;
    for (int i = 0; i < 2; i++) {
        WK_ASSERT_INT_EQ(wk__blkview_next(&v, &body, &blen, &ts), 1);
        WK_ASSERT_INT_EQ(ts, wk_event_ts(evs[i]));
        WK_ASSERT_OK(wk__blkview_decode(&v, body, blen, ts, got));
        WK_ASSERT(wk_event_equal(got, evs[i]));
    }
    WK_ASSERT_INT_EQ(wk__blkview_next(&v, &body, &blen, &ts), 0);
    WK_ASSERT_INT_EQ(wk__blkview_open(&v, 7, raw.p, raw.len), WK_ECORRUPT);
    wk__blkview_fini(&v);
    wk_event_free(got);
    wk_event_free(a);
    wk_event_free(b);
    wk__buf_fini(&enc);
    wk__buf_fini(&raw);
}

/* A store written before format 2 (tests/unit/data/store-format1): read, verified, extended
 * with format-2 blocks, merged by the cold tier across both formats, verified again. */
WK_TEST(format1_store_reads_extends_and_merges)
{
    char src[1024], dir[1024], cmd[6144];
    snprintf(src, sizeof(src), "%s/tests/unit/data/store-format1", wk_test_srcdir());
    snprintf(dir, sizeof(dir), "%s/v1", wk_test_tmpdir());
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && cp '%s/data.mdb' '%s/signing.key' '%s/signing.pub' '%s/'",
             dir, src, src, src, dir);
    WK_ASSERT_INT_EQ(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s/events.jsonl", src);
    FILE *in = fopen(cmd, "r");
    WK_ASSERT(in != NULL);
    enum { N = 60 };
    struct wk_event *evs[N + 10];
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    size_t n = 0;
    const char *err;
    wk_keys_init();
    while ((len = getline(&line, &cap, in)) > 0 && n < N) {
        WK_ASSERT_OK(wk_event_new(&evs[n]));
        WK_ASSERT_OK(wk_event_from_json(evs[n], line, (size_t)len - 1, &err));
        n++;
    }
    free(line);
    fclose(in);
    WK_ASSERT_UINT_EQ(n, N);
    struct wk_store_opts o;
    wk_store_opts_init(&o);
    o.fsync = false;
    o.block_raw_max = 4096;
    o.cold_block_bytes = 16384;
    o.cold_level = 5;
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, dir, &o));
    struct wk_store_verify_result res;
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    WK_ASSERT_UINT_EQ(res.blocks, 8);
    struct wk_store_stats s;
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.schema, 1);
    /* Ten more events: format-2 blocks chained after the format-1 ones, their records hash
     * SHA-256 after the BLAKE2b of the format-1 ones; the store's schema becomes 2. */
    for (size_t i = 0; i < 10; i++) {
        WK_ASSERT_OK(wk_event_new(&evs[N + i]));
        WK_ASSERT_OK(wk_event_copy(evs[N + i], evs[i]));
        wk_event_set_ts(evs[N + i], wk_event_ts(evs[i]) + 3600LL * 1000000000);
        WK_ASSERT_OK(wk_store_add(st, evs[N + i], NULL, NULL));
    }
    WK_ASSERT_OK(wk_store_flush(st));
    WK_ASSERT_OK(wk_store_stats(st, &s));
    WK_ASSERT_UINT_EQ(s.schema, 2);
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    WK_ASSERT(res.blocks > 8);
    uint64_t done = 0;
    WK_ASSERT_OK(wk_store_recompact(st, 60LL * 1000000000, 0, &done));
    WK_ASSERT(done >= 8);
    WK_ASSERT_OK(wk_store_verify(st, 0, NULL, &res));
    for (int pass = 0; pass < 2; pass++) {
        struct wk_store_reader *r;
        WK_ASSERT_OK(wk_store_reader_open(st, &r));
        struct wk_store_iter *it;
        WK_ASSERT_OK(wk_store_iter_new(r, NULL, &it));
        const struct wk_event *got;
        size_t i = 0;
        while (wk_store_iter_next(it, &got, NULL) == 1) {
            WK_ASSERT(i < N + 10);
            WK_ASSERT(wk_event_equal(got, evs[i]));
            i++;
        }
        WK_ASSERT_UINT_EQ(i, N + 10);
        wk_store_iter_free(it);
        wk_store_reader_close(r);
        if (pass == 0) { /* and after reopening */
            wk_store_close(st);
            WK_ASSERT_OK(wk_store_open(&st, dir, &o));
        }
    }
    wk_store_close(st);
    for (size_t i = 0; i < N + 10; i++)
        wk_event_free(evs[i]);
}

/* ---- The format-2 bytes are pinned ----
 * A fixed event sequence must encode to the same block bytes whatever the encoder's
 * implementation: tests/unit/data/store-format2/events.jsonl (98 events as `query --format
 * jsonl` printed them: auditd events of the corpus' logs via bench/gen_auditd_log.py,
 * json-file lines, Engine API events), then the every-kind events above without the huge
 * ones. Pinned: the BLAKE2b-256 of the block's uncompressed bytes (the records hash of
 * blocks written before SHA-256), their SHA-256 (the header's records hash now), their
 * length, and the by_container / by_term summaries the store writes for it. */

#define PIN_FIXTURE_EVENTS 98
#define PIN_EVENTS (PIN_FIXTURE_EVENTS + 9)
#define PIN_RAW_LEN 105515u
#define PIN_RHASH "093113706d9716f3f36f9306f8e6fb6f5c61c9d5be1e5cf6bf763fc6f95266ac"
/* The store's records hash of the same bytes: SHA-256 (sha256sum of the block's bytes). */
#define PIN_RHASH_SHA256 "660dbc195ed60544934f7f46624fba5c49de32981ced5283acf2622db1993c4e"
#define PIN_CSUM "2bc597d84df6b82793e3bbc8413c9d58f5cc3a42bd8859a983603defe62fb40a"
#define PIN_TSUM "dde89ea3b0f70f06e670628601f8ed9ab6818c941518520b8cd2a75a0fb54bbf"

static size_t pin_events(struct wk_event **evs)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/unit/data/store-format2/events.jsonl",
             wk_test_srcdir());
    FILE *f = fopen(path, "r");
    WK_ASSERT(f != NULL);
    char *line = NULL;
    size_t cap = 0, n = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        WK_ASSERT(n < PIN_FIXTURE_EVENTS);
        const char *err = NULL;
        WK_ASSERT_OK(wk_event_new(&evs[n]));
        WK_ASSERT_OK(wk_event_from_json(evs[n], line, (size_t)len - 1, &err));
        n++;
    }
    free(line);
    fclose(f);
    WK_ASSERT_UINT_EQ(n, PIN_FIXTURE_EVENTS);
    struct wk_event *kinds[NKIND];
    every_kind_events(kinds);
    for (int i = 0; i < NKIND; i++) {
        if (i % 4 == 3)
            wk_event_free(kinds[i]);
        else
            evs[n++] = kinds[i];
    }
    WK_ASSERT_UINT_EQ(n, PIN_EVENTS);
    return n;
}

/* A header with no flags: the records hash is BLAKE2b-256 (the pins above). */
static const uint8_t blake2b_hdr[WK__BLK_HDR];

static void hex32(const uint8_t h[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

WK_TEST(format2_block_bytes_are_pinned)
{
    struct wk_event *evs[PIN_EVENTS];
    size_t n = pin_events(evs);
    char hex[65];
    uint8_t h[32];

    /* The encoder alone, as the writer calls it. */
    struct wk__buf desc = {0}, vals = {0}, recs = {0}, blk = {0};
    struct wk__shapes shapes = {0};
    encode_block(evs, n, &desc, &vals, &recs, &shapes, &blk);
    WK_ASSERT_OK(wk__records_hash(blake2b_hdr, blk.p, blk.len, h));
    hex32(h, hex);
    printf("# encoder: %zu bytes, records hash %s\n", blk.len, hex);
    fflush(stdout);
    WK_ASSERT_UINT_EQ(blk.len, PIN_RAW_LEN);
    WK_ASSERT_STR_EQ(hex, PIN_RHASH);

    /* The store: one block (nothing seals it early), its header and summaries. */
    struct wk_store_opts o;
    wk_store_opts_init(&o);
    o.fsync = false;
    o.block_raw_max = 4u << 20;
    o.block_age_ns = INT64_MAX / 4;
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/pin", wk_test_tmpdir());
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, dir, &o));
    for (size_t i = 0; i < n; i++)
        WK_ASSERT_OK(wk_store_add(st, evs[i], NULL, NULL));
    WK_ASSERT_OK(wk_store_flush(st));
    MDB_txn *txn;
    WK_ASSERT_OK(wk__store_rdtxn(st, &txn));
    uint8_t id[8];
    wk__put_u64be(id, 1);
    MDB_val k = {8, id}, v;
    WK_ASSERT_INT_EQ(mdb_get(txn, st->dbi[WK__DB_BLOCKS], &k, &v), 0);
    const uint8_t *hdr = v.mv_data;
    WK_ASSERT_INT_EQ(wk__blk_format(hdr), WK__BLK_FORMAT2);
    WK_ASSERT_UINT_EQ(wk__get_u32le(hdr + WK__BLK_OFF_COUNT), n);
    WK_ASSERT_UINT_EQ(wk__get_u32le(hdr + WK__BLK_OFF_RAW), PIN_RAW_LEN);
    WK_ASSERT_UINT_EQ(hdr[WK__BLK_OFF_FLAGS], WK__BLK_FLAG_SHA256);
    hex32(hdr + WK__BLK_OFF_RHASH, hex);
    printf("# store: records hash (SHA-256) %s\n", hex);
    fflush(stdout);
    WK_ASSERT_STR_EQ(hex, PIN_RHASH_SHA256);
    ZSTD_DCtx *d = ZSTD_createDCtx();
    struct wk__buf raw = {0};
    WK_ASSERT_OK(wk__store_block_raw(st, txn, d, v.mv_data, v.mv_size, &raw));
    WK_ASSERT_UINT_EQ(raw.len, blk.len);
    WK_ASSERT(memcmp(raw.p, blk.p, blk.len) == 0);
    WK_ASSERT_INT_EQ(mdb_get(txn, st->dbi[WK__DB_BY_CONTAINER], &k, &v), 0);
    WK_ASSERT_OK(wk__records_hash(blake2b_hdr, v.mv_data, v.mv_size, h));
    hex32(h, hex);
    printf("# by_container: %zu bytes, hash %s\n", v.mv_size, hex);
    fflush(stdout);
    WK_ASSERT_STR_EQ(hex, PIN_CSUM);
    WK_ASSERT_INT_EQ(mdb_get(txn, st->dbi[WK__DB_BY_TERM], &k, &v), 0);
    WK_ASSERT_OK(wk__records_hash(blake2b_hdr, v.mv_data, v.mv_size, h));
    hex32(h, hex);
    printf("# by_term: %zu bytes, hash %s\n", v.mv_size, hex);
    fflush(stdout);
    WK_ASSERT_STR_EQ(hex, PIN_TSUM);
    /* Nothing else: one block. */
    wk__put_u64be(id, 2);
    WK_ASSERT_INT_EQ(mdb_get(txn, st->dbi[WK__DB_BLOCKS], &k, &v), MDB_NOTFOUND);
    wk__store_rdtxn_end(st, txn);
    wk_store_close(st);
    ZSTD_freeDCtx(d);
    wk__buf_fini(&raw);
    wk__shapes_fini(&shapes);
    wk__buf_fini(&desc);
    wk__buf_fini(&vals);
    wk__buf_fini(&recs);
    wk__buf_fini(&blk);
    for (size_t i = 0; i < n; i++)
        wk_event_free(evs[i]);
}

/* The encoder's fast paths (the wide scan, the memo of values found absent) against the
 * plain search in order (wk__enc2_event_slow): the same bytes for every event. */
struct same_enc {
    struct wk_parser_sink sink;
    struct wk__buf d1, v1, d2, v2, d3, v3;
    struct wk__shapes memo, plain; /* the writer's way, and without its memo */
    size_t events, vbytes, hits;
};

static void same_bytes(const struct wk__buf *a, const struct wk__buf *b)
{
    WK_ASSERT_UINT_EQ(a->len, b->len);
    WK_ASSERT(memcmp(a->p, b->p, a->len) == 0);
}

/* The descriptor wk__enc2_add gave (in its buffer or the memo's) is b's bytes. */
static void same_desc(const uint8_t *dp, size_t dl, const struct wk__buf *b)
{
    WK_ASSERT_UINT_EQ(dl, b->len);
    WK_ASSERT(memcmp(dp, b->p, dl) == 0);
}

static void same_as_slow(struct same_enc *c, const struct wk_event *ev)
{
    c->d1.len = c->v1.len = c->d2.len = c->v2.len = c->d3.len = c->v3.len = 0;
    WK_ASSERT_OK(wk__enc2_event(&c->d1, &c->v1, ev));
    WK_ASSERT_OK(wk__enc2_event_slow(&c->d2, &c->v2, ev));
    same_bytes(&c->d1, &c->d2);
    same_bytes(&c->v1, &c->v2);
    /* The writer's: the memo's descriptor and the id it gives, as the table gives them;
     * a descriptor written goes after what the buffer holds (some bytes, now and then). */
    size_t n0 = c->memo.n, pre = c->events % 3;
    const uint8_t *dp;
    size_t dl;
    WK_ASSERT_OK(wk__buf_reserve(&c->d3, pre));
    if (pre)
        memset(c->d3.p, 0xee, pre);
    c->d3.len = pre;
    WK_ASSERT_OK(wk__enc2_add(&c->memo, &c->d3, &c->v3, ev, &dp, &dl));
    same_desc(dp, dl, &c->d2);
    WK_ASSERT(c->d3.len == pre || (c->d3.len == pre + dl && dp == c->d3.p + pre));
    same_bytes(&c->v3, &c->v2);
    uint32_t s1, s2;
    WK_ASSERT_OK(wk__shapes_intern(&c->memo, dp, dl, &s1));
    WK_ASSERT_OK(wk__shapes_intern(&c->plain, c->d2.p, c->d2.len, &s2));
    WK_ASSERT_UINT_EQ(s1, s2);
    WK_ASSERT_UINT_EQ(c->memo.n, c->plain.n);
    WK_ASSERT_UINT_EQ(c->memo.bytes.len, c->plain.bytes.len);
    WK_ASSERT(memcmp(c->memo.bytes.p, c->plain.bytes.p, c->memo.bytes.len) == 0);
    c->hits += c->memo.n == n0;
    /* a new block now and then: ids of the old table are void */
    if (c->events % 97 == 96) {
        wk__shapes_reset(&c->memo);
        wk__shapes_reset(&c->plain);
    }
    c->events++;
    c->vbytes += c->v1.len;
}

/* A value the source made (WK_VALF_LITERAL) is a literal even where its bytes are in the
 * original; the flag is in the shape, so the event decodes with it and encodes again to
 * the same bytes. The values' bytes are spelled out (the format's rule, docs/store.md). */
static void put_lit(struct wk__buf *b, const char *s, size_t n)
{
    WK_ASSERT_OK(wk__buf_reserve(b, n + 10));
    PUTV(b, (uint64_t)n << 1);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void put_ref_at(struct wk__buf *b, size_t off, size_t n, size_t *prev_end)
{
    WK_ASSERT_OK(wk__buf_reserve(b, 20));
    PUTV(b, (uint64_t)n << 1 | 1);
    PUTV(b, wk__zigzag((int64_t)off - (int64_t)*prev_end));
    *prev_end = off + n;
}

static struct wk_event *literal_event(uint8_t flag)
{
    static const char orig[] = "type=SYSCALL msg=audit(1.2:3): arch=c000003e syscall=59 "
                               "success=yes pid=4242 cwd=\"/root\"";
    struct wk_event *ev = ev_new(1700000000000000000LL);
    add_str(ev, 0, "event.original", orig, strlen(orig));
    int r = wk_event_add_record(ev);
    add_str(ev, (unsigned)r, "UID", "root", 4); /* made: a name; "root" is in "/root" */
    wk_event_flag_last(ev, flag);
    add_str(ev, (unsigned)r, "uid", "root", 4); /* the same bytes, not made: a reference */
    add_str(ev, 0, "event.outcome", "success", 7); /* made; in "success=yes" */
    wk_event_flag_last(ev, flag);
    add_str(ev, (unsigned)r, "ARCH", "x86_64", 6); /* made, nowhere in the original */
    wk_event_flag_last(ev, flag);
    struct wk_key k = K("process.pid");
    WK_ASSERT_OK(wk_event_add_int(ev, 0, &k, 4242)); /* made; "4242" is in it */
    wk_event_flag_last(ev, flag);
    struct wk_str items[2] = {{"root", 4}, {"59", 2}};
    k = K("tags");
    WK_ASSERT_OK(wk_event_add_strlist(ev, 0, &k, items, 2)); /* made: every item */
    wk_event_flag_last(ev, flag | WK_VALF_TRUNCATED);
    k = K("n");
    WK_ASSERT_OK(wk_event_add_int(ev, 0, &k, 4242)); /* not made: a reference */
    return ev;
}

/* ev encoded alone (and the plain way: the same bytes), decoded into got. */
static void encode_one(const struct wk_event *ev, struct wk__buf *desc, struct wk__buf *vals,
                       struct wk_event *got)
{
    struct wk__buf d2 = {0}, v2 = {0};
    desc->len = vals->len = 0;
    WK_ASSERT_OK(wk__enc2_event(desc, vals, ev));
    WK_ASSERT_OK(wk__enc2_event_slow(&d2, &v2, ev));
    same_bytes(desc, &d2);
    same_bytes(vals, &v2);
    wk__buf_fini(&d2);
    wk__buf_fini(&v2);
    struct wk__buf d = {0}, v = {0}, recs = {0}, blk = {0};
    struct wk__shapes shapes = {0};
    struct wk_event *one[1] = {(struct wk_event *)ev};
    encode_block(one, 1, &d, &v, &recs, &shapes, &blk);
    struct wk__blkview bv = {0};
    WK_ASSERT_OK(wk__blkview_open(&bv, WK__BLK_FORMAT2, blk.p, blk.len));
    const uint8_t *body;
    size_t blen;
    int64_t ts;
    WK_ASSERT_INT_EQ(wk__blkview_next(&bv, &body, &blen, &ts), 1);
    WK_ASSERT_OK(wk__blkview_decode(&bv, body, blen, ts, got));
    wk__blkview_fini(&bv);
    wk__shapes_fini(&shapes);
    wk__buf_fini(&d);
    wk__buf_fini(&v);
    wk__buf_fini(&recs);
    wk__buf_fini(&blk);
}

WK_TEST(made_values_are_literals_and_round_trip)
{
    struct wk_event *ev = literal_event(WK_VALF_LITERAL), *plain = literal_event(0), *got;
    WK_ASSERT_OK(wk_event_new(&got));
    size_t olen;
    const char *orig = wk_event_get_str(ev, &WK_KEY_EVENT_ORIGINAL, &olen);
    const size_t root = (size_t)(strstr(orig, "root") - orig),
                 success = (size_t)(strstr(orig, "success") - orig),
                 pid = (size_t)(strstr(orig, "4242") - orig);
    struct wk__buf desc = {0}, vals = {0}, want = {0}, d2 = {0}, v2 = {0};

    /* flagged: literals, without a search; the rest refers to the original */
    encode_one(ev, &desc, &vals, got);
    size_t pe = 0;
    WK_ASSERT_OK(wk__buf_reserve(&want, olen + 10));
    PUTV(&want, olen);
    WK_ASSERT_OK(wk__buf_put(&want, orig, olen));
    put_lit(&want, "root", 4);
    put_ref_at(&want, root, 4, &pe);
    put_lit(&want, "success", 7);
    put_lit(&want, "x86_64", 6);
    WK_ASSERT_OK(wk__buf_reserve(&want, 30));
    PUTV(&want, wk__zigzag(4242) << 1);
    PUTV(&want, 2);
    put_lit(&want, "root", 4);
    put_lit(&want, "59", 2);
    put_ref_at(&want, pid, 4, &pe); /* before the last reference: from the start */
    same_bytes(&vals, &want);
    /* decoded with its flags (in the shape), it encodes to the same bytes */
    WK_ASSERT(wk_event_equal(got, ev));
    WK_ASSERT_UINT_EQ(wk_event_field_value(got, 1)->flags, WK_VALF_LITERAL);
    WK_ASSERT_UINT_EQ(wk_event_field_value(got, 2)->flags, 0);
    WK_ASSERT_UINT_EQ(wk_event_field_value(got, 6)->flags, WK_VALF_LITERAL | WK_VALF_TRUNCATED);
    WK_ASSERT(!wk_event_equal(got, plain));
    WK_ASSERT_OK(wk__enc2_event(&d2, &v2, got));
    same_bytes(&d2, &desc);
    same_bytes(&v2, &vals);

    /* the same event unflagged: every value found is a reference, and its shape differs */
    d2.len = v2.len = 0;
    encode_one(plain, &d2, &v2, got);
    WK_ASSERT(wk_event_equal(got, plain));
    WK_ASSERT(d2.len == desc.len && memcmp(d2.p, desc.p, desc.len) != 0);
    want.len = 0;
    pe = 0;
    PUTV(&want, olen);
    WK_ASSERT_OK(wk__buf_put(&want, orig, olen));
    put_ref_at(&want, root, 4, &pe);
    put_ref_at(&want, root, 4, &pe); /* the first from the start: the same place */
    put_ref_at(&want, success, 7, &pe);
    put_lit(&want, "x86_64", 6);
    put_ref_at(&want, pid, 4, &pe);
    WK_ASSERT_OK(wk__buf_reserve(&want, 30));
    PUTV(&want, 2);
    put_ref_at(&want, root, 4, &pe);
    put_lit(&want, "59", 2); /* short: a literal anyway */
    put_ref_at(&want, pid, 4, &pe);
    same_bytes(&v2, &want);

    wk__buf_fini(&desc);
    wk__buf_fini(&vals);
    wk__buf_fini(&want);
    wk__buf_fini(&d2);
    wk__buf_fini(&v2);
    wk_event_free(got);
    wk_event_free(ev);
    wk_event_free(plain);
}

/* An integer is a reference to its decimal text in the original (the first from the end
 * of the last reference on, else from the start), except one digit and text that is not
 * there: those are zigzag varints. Spelled out for every digit count the encoder writes
 * its text by (pairs and a lone digit), signs and the extremes. */
WK_TEST(integers_refer_to_their_decimal_text)
{
    static const char orig[] = "a=100 b=-5 c=7 d=1234567 e=-9223372036854775808 f=99 g=10 "
                               "h=9223372036854775807 i=-10 j=4241";
    static const int64_t ints[] = {100, -5, 7, 1234567, INT64_MIN, 99, 10, INT64_MAX, -10,
                                   4242, 100, 42};
    struct wk_event *ev = ev_new(1), *got;
    WK_ASSERT_OK(wk_event_new(&got));
    add_str(ev, 0, "event.original", orig, strlen(orig));
    for (size_t i = 0; i < WK_ARRAY_SIZE(ints); i++) {
        char name[8];
        snprintf(name, sizeof(name), "n%zu", i);
        struct wk_key k = K(name);
        WK_ASSERT_OK(wk_event_add_int(ev, 0, &k, ints[i]));
    }
    struct wk__buf desc = {0}, vals = {0}, want = {0};
    encode_one(ev, &desc, &vals, got);
    WK_ASSERT(wk_event_equal(got, ev));
    size_t pe = 0;
    WK_ASSERT_OK(wk__buf_reserve(&want, sizeof(orig) + 10));
    PUTV(&want, strlen(orig));
    WK_ASSERT_OK(wk__buf_put(&want, orig, strlen(orig)));
    static const char *const text[] = {"100", "-5", NULL, "1234567", "-9223372036854775808",
                                       "99", "10", "9223372036854775807", "-10", NULL,
                                       "100", "42"};
    for (size_t i = 0; i < WK_ARRAY_SIZE(ints); i++) {
        const char *at = NULL;
        if (text[i]) {
            /* "100" again lies only before the last reference; "42" inside "4241" */
            at = strstr(orig + pe, text[i]);
            if (!at)
                at = strstr(orig, text[i]);
        }
        if (at) {
            put_ref_at(&want, (size_t)(at - orig), strlen(text[i]), &pe);
        } else {
            WK_ASSERT_OK(wk__buf_reserve(&want, 20));
            PUTV(&want, wk__zigzag(ints[i]) << 1);
        }
    }
    same_bytes(&vals, &want);
    wk__buf_fini(&desc);
    wk__buf_fini(&vals);
    wk__buf_fini(&want);
    wk_event_free(got);
    wk_event_free(ev);
}

static void same_enc_fini(struct same_enc *c)
{
    wk__shapes_fini(&c->memo);
    wk__shapes_fini(&c->plain);
    wk__buf_fini(&c->d3);
    wk__buf_fini(&c->v3);
    wk__buf_fini(&c->d1);
    wk__buf_fini(&c->v1);
    wk__buf_fini(&c->d2);
    wk__buf_fini(&c->v2);
}

static int same_emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    (void)resume;
    same_as_slow((struct same_enc *)s, ev);
    return 0;
}

static int same_reject(struct wk_parser_sink *s, const struct wk_line_ctx *where,
                       const char *reason, const char *raw, size_t len)
{
    (void)s, (void)where, (void)reason, (void)raw, (void)len;
    return 0;
}

WK_TEST(encoder_fast_paths_match_the_plain_search_on_the_corpus)
{
    /* auditd events as the daemon stores them (values in the parser's copies, enriched
     * names, decoded hex, event-level repeats) and JSON lines (Docker events, CRI). */
    static const char *const logs[] = {
        "audit-userspace/test.log", "audit-userspace/test2.log", "audit-userspace/test3.log",
        "audit-userspace/test4.log", "beats/auditbeat-sudo.log", "beats/auditbeat-setuid.log",
        "beats/filebeat-module-auditd-audit-cent7-node.log", "go-libaudit/auparse__audit-rhel7.log",
        "go-libaudit/auparse__test2.log", "go-libaudit/root__normal.log",
        "go-libaudit/auparse__audit-ubuntu16.log", "beats/auditbeat-chown.log",
        "laurel/record-execve.txt", "laurel/record-execve-long.txt", "laurel/record-connect.txt",
        "laurel/record-nscd.txt", "laurel/record-perl-reverse-shell.txt",
        "laurel/record-syscall-key.txt", "laurel/record-weblogic.txt", "laurel/record-ptrace.txt",
        "laurel/shell-proc-trace.txt", "laurel/record-avc-apparmor.txt",
    };
    struct same_enc c = {.sink = {.emit = same_emit, .reject = same_reject}};
    for (size_t i = 0; i < WK_ARRAY_SIZE(logs); i++) {
        size_t len;
        char *buf = au_read_corpus(logs[i], &len);
        au_feed(&c.sink, logs[i], buf, len);
        free(buf);
    }
    size_t audit = c.events;
    printf("# %zu auditd events, %zu value bytes, %zu of known shapes\n", audit, c.vbytes,
           c.hits);
    WK_ASSERT(audit >= 150);
    static const char *const jsonl[] = {
        "docker-events/moby-api-v1.24-events-example.jsonl",
        "cri/kubernetes-kubelet-logs_test-parse-vectors.expected.jsonl",
    };
    for (size_t i = 0; i < WK_ARRAY_SIZE(jsonl); i++) {
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s", au_corpus(), jsonl[i]);
        size_t len;
        char *buf = wk_test_read_file(path, &len);
        WK_ASSERT(buf != NULL);
        struct wk_event *ev;
        WK_ASSERT_OK(wk_event_new(&ev));
        for (char *p = buf, *e; p < buf + len; p = e + 1) {
            e = memchr(p, '\n', (size_t)(buf + len - p));
            if (!e)
                e = buf + len;
            const char *err = NULL;
            if (e > p && wk_event_from_json(ev, p, (size_t)(e - p), &err) == 0)
                same_as_slow(&c, ev);
        }
        wk_event_free(ev);
        free(buf);
    }
    WK_ASSERT(c.events > audit + 10);
    same_enc_fini(&c);
}

static uint64_t rnd_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void random_events_same_as_slow(void)
{
    /* Originals over a small alphabet (many near matches) and of lengths around the scan's
     * steps; values cut from them, cut and changed in one byte (first, last, middle),
     * repeated at the same and at other addresses, absent, and integers. */
    uint64_t seed = 0x9E3779B97F4A7C15u;
    struct same_enc c = {0};
    static const size_t lens[] = {0, 1, 2, 3, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 95,
                                  96, 97, 127, 128, 129, 200, 500, 1000, 4000};
    char orig[4096], val[4096];
    for (int it = 0; it < 3000; it++) {
        size_t olen = lens[it % WK_ARRAY_SIZE(lens)];
        unsigned alpha = 2 + (unsigned)(rnd_next(&seed) % 6);
        for (size_t i = 0; i < olen; i++)
            orig[i] = (char)('0' + rnd_next(&seed) % alpha);
        struct wk_event *ev = ev_new(1700000000000000000LL + it);
        unsigned nv = 1 + (unsigned)(rnd_next(&seed) % 60);
        if (it & 1)
            add_str(ev, 0, "event.original", orig, olen);
        for (unsigned v = 0; v < nv; v++) {
            char nm[16];
            snprintf(nm, sizeof(nm), "v%u", v);
            size_t n = 1 + rnd_next(&seed) % 40, at = 0;
            if (rnd_next(&seed) % 8 == 0)
                n = 1 + rnd_next(&seed) % 300;
            unsigned how = (unsigned)(rnd_next(&seed) % 7);
            if (n <= olen)
                at = rnd_next(&seed) % (olen - n + 1);
            if (how <= 2 && n <= olen) {
                memcpy(val, orig + at, n);
                if (how == 1)
                    val[rnd_next(&seed) % n] ^= 1;
            } else {
                for (size_t i = 0; i < n; i++)
                    val[i] = (char)('0' + rnd_next(&seed) % (alpha + 1));
            }
            if (how == 3 && v) { /* the previous value again (a copy of it) */
                const struct wk_value *p = wk_event_field_value(ev, wk_event_nfields(ev) - 1);
                if (p->kind == WK_VAL_STR) {
                    n = p->len;
                    memcpy(val, p->u.s, n);
                }
            }
            if (how == 5) { /* one copy in the event's arena held by two fields */
                static char names[2][64][24]; /* names of static storage (add_str_ref) */
                char *cp = wk_arena_strndup(wk_event_arena(ev), val, n);
                WK_ASSERT(cp != NULL);
                for (int w = 0; w < 2; w++) {
                    snprintf(names[w][v], sizeof(names[w][v]), "r%d.%u", w, v);
                    struct wk_key k = K(names[w][v]);
                    WK_ASSERT_OK(wk_event_add_str_ref(ev, 0, &k, cp, n));
                    if (rnd_next(&seed) % 5 == 0) /* one made by the source, or both */
                        wk_event_flag_last(ev, WK_VALF_LITERAL);
                }
                continue;
            }
            if (how == 4) {
                struct wk_key k = K(nm);
                int64_t x = (int64_t)(rnd_next(&seed) % 100000) - 50000;
                WK_ASSERT_OK(wk_event_add_int(ev, 0, &k, x));
                if (rnd_next(&seed) % 5 == 0)
                    wk_event_flag_last(ev, WK_VALF_LITERAL);
                continue;
            }
            add_str(ev, rnd_next(&seed) % 4 == 0 && wk_event_nrecords(ev) ? 1 : 0, nm, val, n);
            if (rnd_next(&seed) % 5 == 0) /* made by the source: a literal, not searched */
                wk_event_flag_last(ev, WK_VALF_LITERAL);
            if (v == 3)
                WK_ASSERT_INT_EQ(wk_event_add_record(ev), 1);
        }
        if (!(it & 1) && (it & 2))
            add_str(ev, 0, "event.original", orig, olen);
        same_as_slow(&c, ev);
        wk_event_free(ev);
    }
    WK_ASSERT_UINT_EQ(c.events, 3000);
    same_enc_fini(&c);
}

WK_TEST(encoder_fast_paths_match_the_plain_search_on_random_events)
{
    random_events_same_as_slow(); /* AVX2 when the CPU has it */
    wk__enc2_isa = 2;
    random_events_same_as_slow();
    wk__enc2_isa = 0;
}

/* The writer's memo of shapes tells shapes by their names' bytes, records, kinds, flags
 * and dots masks: an event whose name sits at the same address with the same length and
 * hash (an earlier event's arena, reused) but other bytes, or that differs from a known
 * shape in one of the others alone, gets its own descriptor and id. */
WK_TEST(shape_memo_tells_shapes_apart)
{
    static char name[16]; /* one address for the name of every event below */
    struct wk__shapes memo = {0}, plain = {0};
    struct wk__buf d1 = {0}, v1 = {0}, d2 = {0}, v2 = {0};
    const char *const names[] = {"abc.x", "abc.y", "abc.x", "abc.y"};
    uint32_t ids[32];
    size_t n = 0;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 4; i++) {
            for (int var = 0; var < 4; var++) {
                snprintf(name, sizeof(name), "%s", names[i]);
                /* one hash for both names: only the bytes tell them apart */
                struct wk_key k = {name, 5, 12345};
                struct wk_event *ev = ev_new(1700000000000000000LL + (int64_t)n);
                add_str(ev, 0, "event.original", "orig abc", 8);
                if (var == 1)
                    WK_ASSERT_INT_EQ(wk_event_add_record(ev), 1);
                struct wk_value v = {.kind = var == 2 ? WK_VAL_INT : WK_VAL_STR};
                if (var == 2)
                    v.u.i = 7;
                else {
                    v.u.s = "abc";
                    v.len = 3;
                }
                WK_ASSERT_OK(wk_event_add_value_sn(ev, var == 1 ? 1 : 0, &k, var == 3 ? 1 : 0, &v));
                d1.len = v1.len = d2.len = v2.len = 0;
                const uint8_t *dp;
                size_t dl;
                WK_ASSERT_OK(wk__enc2_add(&memo, &d1, &v1, ev, &dp, &dl));
                WK_ASSERT_OK(wk__enc2_event_slow(&d2, &v2, ev));
                same_desc(dp, dl, &d2);
                same_bytes(&v1, &v2);
                uint32_t s1, s2;
                WK_ASSERT_OK(wk__shapes_intern(&memo, dp, dl, &s1));
                WK_ASSERT_OK(wk__shapes_intern(&plain, d2.p, d2.len, &s2));
                WK_ASSERT_UINT_EQ(s1, s2);
                ids[n++] = s1;
                wk_event_free(ev);
            }
        }
    }
    /* 2 names x 4 variants, each its own shape, the same ids the second time round */
    WK_ASSERT_UINT_EQ(memo.n, 8);
    for (size_t i = 0; i < 16; i++) {
        WK_ASSERT_UINT_EQ(ids[i], ids[(i + 8) % 16]);
        WK_ASSERT_UINT_EQ(ids[i], ids[16 + i]);
    }
    wk__shapes_fini(&memo);
    wk__shapes_fini(&plain);
    wk__buf_fini(&d1);
    wk__buf_fini(&v1);
    wk__buf_fini(&d2);
    wk__buf_fini(&v2);
}

/* The writer's record around values already in the block's spare room: the bytes of the
 * record written from a copy, wherever the values wait (the header's length predicted
 * right, too short, too long) and whatever the lengths of its varints. */
WK_TEST(record_in_place_is_the_copied_record)
{
    static uint8_t vals[40000];
    for (size_t i = 0; i < sizeof(vals); i++)
        vals[i] = (uint8_t)(i * 7 + 3);
    const size_t vlens[] = {0, 1, 100, 122, 127, 128, 200, 16370, 16384, 20000, 40000};
    const int64_t deltas[] = {0, 1, -1, 63, 64, 100000, -1000000007, INT64_C(1) << 50};
    const uint32_t sids[] = {0, 127, 128, 20000};
    for (size_t a = 0; a < sizeof(vlens) / sizeof(*vlens); a++) {
        for (size_t b = 0; b < sizeof(deltas) / sizeof(*deltas); b++) {
            for (size_t c = 0; c < sizeof(sids) / sizeof(*sids); c++) {
                for (size_t at = 0; at <= 20; at += 3) {
                    struct wk__buf x = {0}, y = {0};
                    int64_t px = 1700000000000000000LL, py = px, ts = px + deltas[b];
                    WK_ASSERT_OK(wk__buf_put(&x, "abc", 3));
                    WK_ASSERT_OK(wk__buf_put(&y, "abc", 3));
                    WK_ASSERT_OK(wk__buf_reserve(&x, vlens[a] + 40));
                    wk__enc2_record(&x, &px, ts, sids[c], vals, vlens[a]);
                    WK_ASSERT_OK(wk__buf_reserve(&y, at + 20 + vlens[a]));
                    memcpy(y.p + y.len + at, vals, vlens[a]);
                    wk__enc2_record_at(&y, &py, ts, sids[c], y.len + at, vlens[a]);
                    same_bytes(&x, &y);
                    WK_ASSERT_INT_EQ(px, py);
                    wk__buf_fini(&x);
                    wk__buf_fini(&y);
                }
            }
        }
    }
}

/* Events through wk_store_add and back, in blocks of 4 KiB: records under 128 bytes and
 * over 16 KiB (their length's varint not the predicted 2 bytes), events that seal the
 * block before them (their values wait while it is sealed), time going back and jumping,
 * and over 128 shapes (ids of 2 bytes). */
WK_TEST(writer_records_round_trip_whatever_their_size)
{
    struct wk_store_opts o;
    wk_store_opts_init(&o);
    o.fsync = false;
    o.block_raw_max = 4096;
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/sizes", wk_test_tmpdir());
    struct wk_store *st;
    WK_ASSERT_OK(wk_store_open(&st, dir, &o));
    enum { N = 700 };
    static struct wk_event *evs[N];
    static char big[30000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    int64_t ts = 1700000000000000000LL;
    for (int i = 0; i < N; i++) {
        ts += i % 11 == 0 ? -5000 : i % 13 == 0 ? (INT64_C(1) << 40) : 1000;
        struct wk_event *ev = evs[i] = ev_new(ts);
        char name[32], v[64];
        snprintf(name, sizeof(name), "shape.f%d", i % 150); /* 150 shapes */
        snprintf(v, sizeof(v), "v%d", i);
        add_str(ev, 0, name, v, strlen(v));
        if (i % 5 == 1) {
            char orig[128];
            int n = snprintf(orig, sizeof(orig), "type=X msg=audit(%d) %s", i, v);
            add_str(ev, 0, "event.original", orig, (size_t)n);
        }
        if (i % 17 == 3)
            add_str(ev, 0, "big", big + i % 100, 17000 + (size_t)i * 3);
    }
    for (int i = 0; i < N; i++)
        WK_ASSERT_OK(wk_store_add(st, evs[i], NULL, NULL));
    WK_ASSERT_OK(wk_store_flush(st));
    struct wk_store_reader *r;
    WK_ASSERT_OK(wk_store_reader_open(st, &r));
    struct wk_store_iter *it;
    WK_ASSERT_OK(wk_store_iter_new(r, NULL, &it));
    const struct wk_event *ev;
    struct wk_store_ref ref;
    int i = 0, rc;
    while ((rc = wk_store_iter_next(it, &ev, &ref)) == 1) {
        WK_ASSERT(i < N);
        WK_ASSERT(wk_event_equal(ev, evs[i]));
        i++;
    }
    WK_ASSERT_INT_EQ(rc, 0);
    WK_ASSERT_INT_EQ(i, N);
    wk_store_iter_free(it);
    wk_store_reader_close(r);
    wk_store_close(st);
    for (i = 0; i < N; i++)
        wk_event_free(evs[i]);
}
