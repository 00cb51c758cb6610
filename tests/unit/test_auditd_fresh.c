/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The auditd parser as the daemon drives it: every emitted event is handed over and the
 * parser gets back another event, fresh (no table, no arena yet: sized by the parser's
 * field hint) or recycled (reset, of another event's size), instead of refilling its own.
 * The output must be the same as with its own event, on every corpus file and on random
 * logs made of corpus lines; the held serials (wk__au_held_serials, read for every
 * cursor) and the cursor bytes are checked against their plain definitions on the way.
 */
#include "config.h"

#include <ftw.h>
#include <stdlib.h>

#include "../../collector/sources/auditd/auditd_private.h"
#include "../../collector/sources/auditd/source_private.h"
#include "auditd_util.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Du;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* The JSON lines, plus the hand-over: the emitted event's contents go to a pool of 8, and
 * the parser's event becomes a fresh one or a pooled one (reset). */
struct swap_sink {
    struct au_collect c;
    struct wk_parser *p; /* for the held-serials check */
    struct wk_event *pool[8];
    uint64_t checked;
};

static size_t held_ref(const struct wk_parser *p, uint64_t *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < WK_AU_SLOTS; i++) {
        if (!p->slots[i].used)
            continue;
        if (n == max)
            return max + 1;
        out[n++] = p->slots[i].serial;
    }
    return n;
}

static void check_held(const struct wk_parser *p, size_t max)
{
    uint64_t a[WK_AU_SLOTS], b[WK_AU_SLOTS];
    size_t na = wk__au_held_serials(p, a, max), nb = held_ref(p, b, max);
    WK_ASSERT_UINT_EQ(na, nb);
    for (size_t i = 0; i < na && na <= max; i++)
        WK_ASSERT_UINT_EQ(a[i], b[i]);
}

static int swap_emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    struct swap_sink *w = (struct swap_sink *)s;
    int rc = au_emit(s, ev, resume);
    if (rc < 0)
        return rc;
    if (w->p) {
        check_held(w->p, 16);
        check_held(w->p, rnd(WK_AU_SLOTS));
        w->checked++;
    }
    unsigned i = rnd(8);
    if (!w->pool[i] || rnd(3) == 0) {
        /* fresh: as the pipeline's submit_take with an empty pool */
        wk_event_free(w->pool[i]);
        WK_ASSERT_OK(wk_event_new(&w->pool[i]));
    } else {
        wk_event_reset(w->pool[i]);
    }
    wk_event_swap(ev, w->pool[i]);
    return 0;
}

static void swap_init(struct swap_sink *w)
{
    memset(w, 0, sizeof(*w));
    au_collect_init(&w->c);
    w->c.sink.emit = swap_emit;
}

static void swap_fini(struct swap_sink *w)
{
    au_collect_fini(&w->c);
    for (int i = 0; i < 8; i++)
        wk_event_free(w->pool[i]);
}

/* Feed like au_feed, keeping the parser for the sink's checks. */
static void feed_swap(struct swap_sink *w, const char *path, const char *buf, size_t len)
{
    struct wk_parser_opts opts;
    wk_parser_opts_init(&opts);
    WK_ASSERT_OK(wk_parser_auditd.create(&w->p, &opts));
    au_feed_lines(&wk_parser_auditd, w->p, &w->c.sink, path, buf, len);
    wk_parser_auditd.destroy(w->p);
    w->p = NULL;
}

/* The same input through the parser's own event and through hand-overs: same output. */
static void compare(const char *path, const char *buf, size_t len, uint64_t *events)
{
    struct au_collect a;
    struct swap_sink b;
    au_collect_init(&a);
    swap_init(&b);
    au_run(&a, path, buf, len);
    feed_swap(&b, path, buf, len);
    WK_ASSERT_INT_EQ(b.c.events, a.events);
    WK_ASSERT_INT_EQ(b.c.rejects, a.rejects);
    if (a.len != b.c.len || (a.len && memcmp(a.out, b.c.out, a.len) != 0))
        WK_FAIL("%s: output differs with handed-over events", path);
    *events += (uint64_t)a.events;
    au_collect_fini(&a);
    swap_fini(&b);
}

static uint64_t corpus_events;
static int corpus_files;

static int visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag != FTW_F || st->st_size > (64 << 20))
        return 0;
    size_t len;
    char *buf = wk_test_read_file(path, &len);
    compare(path, buf, len, &corpus_events);
    corpus_files++;
    free(buf);
    return 0;
}

WK_TEST(handed_over_events_match_on_every_corpus_file)
{
    char dir[8192];
    snprintf(dir, sizeof(dir), "%s/auditd", au_corpus());
    WK_ASSERT_INT_EQ(nftw(dir, visit, 16, FTW_PHYS), 0);
    WK_ASSERT(corpus_files >= 111);
    fprintf(stderr, "# %d files, %llu events\n", corpus_files, (unsigned long long)corpus_events);
    WK_ASSERT(corpus_events >= 400);
}

/* Random logs: lines drawn from the corpus (whole events and stray records, interleaved,
 * some cut short or with a byte changed), so that events of every size follow each
 * other and the field hint moves both ways. */
struct lines {
    char *buf;
    size_t len;
    size_t off[200000];
    size_t n;
};

static int collect_lines(const char *path, const struct stat *st, int flag, struct FTW *ftw);
static struct lines *all_lines;

static int collect_lines(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag != FTW_F || st->st_size > (8 << 20))
        return 0;
    struct lines *L = all_lines;
    size_t len;
    char *b = wk_test_read_file(path, &len);
    if (L->len + len + 1 > (64u << 20)) {
        free(b);
        return 0;
    }
    L->buf = realloc(L->buf, L->len + len + 1);
    memcpy(L->buf + L->len, b, len);
    L->buf[L->len + len] = '\n';
    for (size_t i = 0; i < len + 1 && L->n < 200000;) {
        L->off[L->n++] = L->len + i;
        const char *nl = memchr(L->buf + L->len + i, '\n', len + 1 - i);
        i = (size_t)(nl - (L->buf + L->len)) + 1;
    }
    L->len += len + 1;
    free(b);
    return 0;
}

WK_TEST(handed_over_events_match_on_random_logs)
{
    static struct lines L;
    char dir[8192];
    all_lines = &L;
    snprintf(dir, sizeof(dir), "%s/auditd", au_corpus());
    WK_ASSERT_INT_EQ(nftw(dir, collect_lines, 16, FTW_PHYS), 0);
    WK_ASSERT(L.n > 1000);
    uint64_t events = 0;
    size_t cap = 1 << 20;
    char *out = malloc(cap);
    for (int round = 0; round < 20; round++) {
        size_t o = 0;
        while (o + 65536 < cap) {
            size_t k = rnd((uint32_t)L.n), run = 1 + rnd(12);
            for (size_t r = 0; r < run && k + r < L.n; r++) {
                const char *s = L.buf + L.off[k + r];
                const char *nl = memchr(s, '\n', L.len - L.off[k + r]);
                size_t l = (size_t)(nl - s);
                if (l > 60000)
                    continue;
                if (l && rnd(20) == 0)
                    l = rnd((uint32_t)l); /* cut short */
                memcpy(out + o, s, l);
                if (l && rnd(30) == 0)
                    out[o + rnd((uint32_t)l)] = (char)rnd(256); /* a byte changed */
                o += l;
                out[o++] = '\n';
            }
        }
        compare("random", out, o, &events);
    }
    WK_ASSERT(events > 5000);
    free(out);
    free(L.buf);
}

WK_TEST(cursor_bytes_are_little_endian)
{
    for (int i = 0; i < 1000; i++) {
        uint64_t ino = (uint64_t)rnd(UINT32_MAX) << 32 | rnd(UINT32_MAX),
                 off = (uint64_t)rnd(UINT32_MAX) << (i % 33) | rnd(1000);
        uint8_t cur[16], ref[16];
        for (int b = 0; b < 8; b++) {
            ref[b] = (uint8_t)(ino >> (8 * b));
            ref[8 + b] = (uint8_t)(off >> (8 * b));
        }
        wk__au_cursor_pack(cur, ino, off);
        WK_ASSERT_MEM_EQ(cur, 16, ref, 16);
        uint64_t i2, o2;
        wk__au_cursor_unpack(cur, &i2, &o2);
        WK_ASSERT_UINT_EQ(i2, ino);
        WK_ASSERT_UINT_EQ(o2, off);
    }
}
