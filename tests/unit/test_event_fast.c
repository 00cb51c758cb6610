/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event's fast add paths (wk_event_add_str_ref and the scalar wk_event_add_value_sn
 * take a new field without the general path, further along the index's probe sequence
 * too) and wk_event_reserve, against a plain model of the event on random input: the
 * same fields in the same order, the same lookups, whatever the path, the capacity, the
 * index generation (resets past its wrap) and swaps with fresh events. And the inline
 * ASCII path of the UTF-8 check (JSON of every string value) against the full check and an
 * independent decoder.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "../../core/event_private.h"
#include "watchkeeper/error.h"
#include "watchkeeper/event.h"
#include "watchkeeper/mem.h"
#include "wk_test.h"

static struct wk_event *new_event(void)
{
    struct wk_event *ev = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    return ev;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

#define NKEYS 96
static char key_names[NKEYS][16];
static struct wk_key keys[NKEYS];

static void keys_make(void)
{
    for (int i = 0; i < NKEYS; i++) {
        snprintf(key_names[i], sizeof(key_names[i]), "k%d.%c", i, 'a' + i % 26);
        keys[i] = wk_key_init(key_names[i]);
    }
}

/* The model: fields in first-add order; an add of an existing (rec, name) replaces. */
struct mfield {
    unsigned rec;
    int key;
    bool is_int;
    int64_t i;
    char s[24];
};

struct model {
    struct mfield f[2048];
    size_t n;
    unsigned nrec;
};

static struct mfield *model_put(struct model *m, unsigned rec, int key)
{
    for (size_t j = 0; j < m->n; j++) {
        if (m->f[j].rec == rec && m->f[j].key == key)
            return &m->f[j];
    }
    WK_ASSERT(m->n < 2048);
    m->f[m->n].rec = rec;
    m->f[m->n].key = key;
    return &m->f[m->n++];
}

static void check(const struct wk_event *ev, const struct model *m)
{
    WK_ASSERT_UINT_EQ(wk_event_nfields(ev), m->n);
    const struct wk_field *all = wk_event_fields(ev); /* the same fields as the accessors */
    WK_ASSERT((all == NULL) == (m->n == 0));
    for (size_t j = 0; j < m->n; j++) {
        WK_ASSERT(&all[j].key == wk_event_field_key(ev, j));
        WK_ASSERT(&all[j].v == wk_event_field_value(ev, j));
        WK_ASSERT_UINT_EQ(all[j].dots, wk_event_field_dots(ev, j));
    }
    WK_ASSERT_UINT_EQ(wk_event_nrecords(ev), m->nrec);
    for (size_t j = 0; j < m->n; j++) {
        const struct mfield *mf = &m->f[j];
        const struct wk_key *k = wk_event_field_key(ev, j);
        const struct wk_value *v = wk_event_field_value(ev, j);
        WK_ASSERT(k && v);
        WK_ASSERT_STR_EQ(k->name, key_names[mf->key]);
        WK_ASSERT_UINT_EQ(k->hash, keys[mf->key].hash);
        WK_ASSERT_UINT_EQ(wk_event_field_hashes(ev)[j], keys[mf->key].hash);
        WK_ASSERT_UINT_EQ(v->rec, mf->rec);
        WK_ASSERT_UINT_EQ(wk_event_field_dots(ev, j), 0);
        if (mf->is_int) {
            WK_ASSERT_INT_EQ(v->kind, WK_VAL_INT);
            WK_ASSERT_INT_EQ(v->u.i, mf->i);
        } else {
            WK_ASSERT_INT_EQ(v->kind, WK_VAL_STR);
            WK_ASSERT_STR_EQ(v->u.s, mf->s);
            WK_ASSERT_UINT_EQ(v->len, strlen(mf->s));
        }
        WK_ASSERT(wk_event_get(ev, mf->rec, &keys[mf->key]) == v);
    }
    /* names absent from a record are not found */
    for (int t = 0; t < 8; t++) {
        unsigned rec = rnd(m->nrec + 1);
        int key = (int)rnd(NKEYS);
        bool in = false;
        for (size_t j = 0; j < m->n; j++)
            in = in || (m->f[j].rec == rec && m->f[j].key == key);
        WK_ASSERT((wk_event_get(ev, rec, &keys[key]) != NULL) == in);
    }
}

/* One event's random adds through every path; `fields` bounds its size. */
static void build(struct wk_event *ev, struct model *m, size_t fields)
{
    m->n = 0;
    m->nrec = 0;
    for (size_t op = 0; op < fields; op++) {
        if (rnd(16) == 0 && m->nrec < 20) {
            WK_ASSERT_INT_EQ(wk_event_add_record(ev), (int)++m->nrec);
            continue;
        }
        if (rnd(64) == 0)
            WK_ASSERT_OK(wk_event_reserve(ev, rnd(300)));
        unsigned rec = rnd(m->nrec + 1);
        int key = (int)rnd(NKEYS);
        struct mfield *mf = model_put(m, rec, key);
        unsigned path = rnd(5);
        if (path >= 3) {
            mf->is_int = true;
            mf->i = (int64_t)rnd(1000000) - 500000;
            struct wk_value v = { .kind = WK_VAL_INT, .u.i = mf->i };
            WK_ASSERT_OK(path == 3 ? wk_event_add_value_sn(ev, rec, &keys[key], 0, &v)
                                   : wk_event_add_value(ev, rec, &keys[key], 0, &v));
            continue;
        }
        mf->is_int = false;
        snprintf(mf->s, sizeof(mf->s), "v%u", rnd(100000));
        size_t l = strlen(mf->s);
        if (path == 0) {
            char *s = wk_arena_strndup(wk_event_arena(ev), mf->s, l);
            WK_ASSERT(s != NULL);
            WK_ASSERT_OK(wk_event_add_str_ref(ev, rec, &keys[key], s, l));
        } else if (path == 1) {
            WK_ASSERT_OK(wk_event_add_str_sn(ev, rec, &keys[key], mf->s, l));
        } else {
            WK_ASSERT_OK(wk_event_add_str(ev, rec, &keys[key], mf->s, l));
        }
    }
}

WK_TEST(fast_paths_agree_with_a_model_on_random_input)
{
    keys_make();
    static struct model m;
    struct wk_event *ev = new_event();
    /* more resets than the index has generations (65535): stale entries stay empty */
    for (int round = 0; round < 70000; round++) {
        wk_event_reset(ev);
        size_t fields = round % 500 == 0 ? 600 + rnd(600) : rnd(round % 7 == 0 ? 120 : 24);
        build(ev, &m, fields);
        if (round % 97 == 0 || fields > 100)
            check(ev, &m);
        if (round % 13 == 0) {
            /* a hand-over: the filled event goes, a fresh one (no table yet) comes back */
            struct wk_event *fresh = new_event();
            wk_event_swap(ev, fresh);
            check(fresh, &m);
            wk_event_free(fresh);
        }
    }
    wk_event_free(ev);
}

WK_TEST(reserve_keeps_contents_and_never_shrinks)
{
    keys_make();
    static struct model m;
    struct wk_event *ev = new_event();
    size_t empty = wk_event_mem(ev);
    WK_ASSERT_OK(wk_event_reserve(ev, 0)); /* nothing to do, and no table made */
    WK_ASSERT_UINT_EQ(wk_event_mem(ev), empty);
    build(ev, &m, 50);
    size_t before = wk_event_mem(ev);
    WK_ASSERT_OK(wk_event_reserve(ev, 10)); /* smaller than what it has: unchanged */
    WK_ASSERT_UINT_EQ(wk_event_mem(ev), before);
    check(ev, &m);
    WK_ASSERT_OK(wk_event_reserve(ev, 1000));
    WK_ASSERT(wk_event_mem(ev) >= before + 1000 * (sizeof(struct wk_key) + 3 * sizeof(uint32_t)));
    check(ev, &m);
    size_t big = wk_event_mem(ev);
    /* room for 1000: adding up to it does not grow the table */
    struct wk_key k;
    static char names[1000][12];
    for (int i = 0; i < 1000 - (int)m.n; i++) {
        snprintf(names[i], sizeof(names[i]), "x%d", i);
        k = wk_key_init(names[i]);
        WK_ASSERT_OK(wk_event_add_str_ref(ev, 0, &k, "v", 1));
    }
    WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 1000);
    WK_ASSERT_UINT_EQ(wk_event_mem(ev), big); /* (static names and values: no arena) */
    /* a reset keeps the room */
    wk_event_reset(ev);
    WK_ASSERT_OK(wk_event_reserve(ev, 512));
    WK_ASSERT(wk_event_mem(ev) <= big);
    build(ev, &m, 200);
    check(ev, &m);
    /* past the most fields an event may have: clamped, still usable */
    struct wk_event *huge = new_event();
    WK_ASSERT_OK(wk_event_reserve(huge, SIZE_MAX / 2));
    build(huge, &m, 100);
    check(huge, &m);
    wk_event_free(huge);
    wk_event_free(ev);
}

/* wk_event_fit: an empty event's table more than twice the size asked for is cut to it
 * (the fields, their hashes and an index of twice as many entries: exact bytes), a smaller
 * one grows as with wk_event_reserve, and an event holding fields keeps its table. */
WK_TEST(fit_cuts_an_empty_events_oversized_table)
{
    static char names[200][8];
    struct wk_event *ev = new_event();
    const size_t empty = wk_event_mem(ev), per = sizeof(struct wk_field) + 3 * sizeof(uint32_t);
    for (int i = 0; i < 200; i++) { /* static names and values: no arena */
        snprintf(names[i], sizeof(names[i]), "f%d", i);
        struct wk_key k = wk_key_init(names[i]);
        WK_ASSERT_OK(wk_event_add_str_ref(ev, 0, &k, "v", 1));
    }
    WK_ASSERT_UINT_EQ(wk_event_mem(ev), empty + 256 * per);
    WK_ASSERT_OK(wk_event_fit(ev, 10)); /* it holds fields: unchanged */
    WK_ASSERT_UINT_EQ(wk_event_mem(ev), empty + 256 * per);
    struct wk_key last = wk_key_init("f199");
    WK_ASSERT(wk_event_get(ev, 0, &last) != NULL);
    wk_event_reset(ev);
    WK_ASSERT_OK(wk_event_fit(ev, 128)); /* twice at most: kept */
    WK_ASSERT_UINT_EQ(wk_event_mem(ev), empty + 256 * per);
    WK_ASSERT_OK(wk_event_fit(ev, 64));
    WK_ASSERT_UINT_EQ(wk_event_mem(ev), empty + 64 * per);
    WK_ASSERT_OK(wk_event_fit(ev, 100)); /* grows as wk_event_reserve would */
    WK_ASSERT_UINT_EQ(wk_event_mem(ev), empty + 128 * per);
    WK_ASSERT_OK(wk_event_fit(ev, 0)); /* the least table: 32 */
    WK_ASSERT_UINT_EQ(wk_event_mem(ev), empty + 32 * per);
    /* the cut table is usable: filled past it, every field found, none stale */
    WK_ASSERT(wk_event_get(ev, 0, &last) == NULL);
    for (int i = 0; i < 40; i++) {
        struct wk_key k = wk_key_init(names[i]);
        WK_ASSERT_OK(wk_event_add_str_ref(ev, 0, &k, "v", 1));
    }
    WK_ASSERT_UINT_EQ(wk_event_mem(ev), empty + 64 * per);
    for (int i = 0; i < 40; i++) {
        struct wk_key k = wk_key_init(names[i]);
        WK_ASSERT(wk_event_get(ev, 0, &k) == wk_event_field_value(ev, (size_t)i));
    }
    WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 40);
    wk_event_free(ev);
}

/* A table reserved for the most fields an event may have is a power of two, one more: the
 * fast path of wk_event_add_str_ref stops at the limit like the general path (the field
 * number must fit the index's 16 bits). */
WK_TEST(add_str_ref_stops_at_the_field_limit)
{
    struct wk_event *ev = new_event();
    WK_ASSERT_OK(wk_event_reserve(ev, 65535));
    char *names = malloc(65600 * 8);
    WK_ASSERT(names != NULL);
    /* past the limit, names of all kinds of home entries (empty ones included) */
    for (unsigned i = 0; i < 65600; i++) {
        char *n = names + (size_t)i * 8;
        snprintf(n, 8, "f%u", i);
        struct wk_key k = wk_key_init(n);
        int rc = wk_event_add_str_ref(ev, 0, &k, "v", 1);
        WK_ASSERT_INT_EQ(rc, i < 65535 ? 0 : WK_ELIMIT);
    }
    WK_ASSERT_UINT_EQ(wk_event_nfields(ev), 65535);
    struct wk_key first = wk_key_init("f0"), last = wk_key_init("f65534");
    WK_ASSERT(wk_event_get(ev, 0, &first) != NULL);
    WK_ASSERT(wk_event_get(ev, 0, &last) != NULL);
    wk_event_free(ev);
    free(names);
}

WK_TEST(reserved_event_equals_a_grown_one)
{
    keys_make();
    static struct model m;
    for (int round = 0; round < 300; round++) {
        struct wk_event *a = new_event(), *b = new_event();
        WK_ASSERT_OK(wk_event_reserve(b, 1 + rnd(400)));
        size_t fields = rnd(300);
        uint64_t seed = rng_state;
        build(a, &m, fields);
        rng_state = seed; /* the same adds again, into the reserved event */
        build(b, &m, fields);
        check(a, &m);
        check(b, &m);
        WK_ASSERT(wk_event_equal(a, b));
        wk_event_free(a);
        wk_event_free(b);
    }
}

/* An independent UTF-8 check (RFC 3629): decode each sequence, refuse what is not one. */
static bool utf8_ref(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned c = s[i], n, cp, min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (unsigned k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

static size_t put_cp(unsigned char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

WK_TEST(utf8_fast_path_agrees_with_the_full_check)
{
    static unsigned char buf[256];
    unsigned counts[2] = { 0, 0 };
    for (int round = 0; round < 400000; round++) {
        size_t off = rnd(8), len = rnd(round % 10 == 0 ? 160 : 40);
        unsigned char *t = buf + off;
        unsigned shape = rnd(6);
        size_t n = 0;
        while (n < len) {
            if (shape <= 1 || rnd(4)) { /* mostly ASCII */
                t[n++] = (unsigned char)rnd(128);
            } else if (shape == 2) { /* valid sequences, edge code points included */
                static const uint32_t edge[] = { 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000,
                                                 0xFFFF, 0x10000, 0x10FFFF };
                uint32_t cp = rnd(3) ? edge[rnd(9)] : rnd(0x110000);
                if (cp >= 0xD800 && cp <= 0xDFFF)
                    cp = 0x41;
                if (n + 4 > len)
                    break;
                n += put_cp(t + n, cp);
            } else { /* random bytes: broken, overlong, surrogates, cut sequences */
                t[n++] = (unsigned char)rnd(256);
            }
        }
        if (shape == 1 && n)
            t[rnd((uint32_t)n)] |= 0x80; /* one high byte anywhere (the overlap too) */
        bool ref = utf8_ref(t, n);
        WK_ASSERT_INT_EQ(wk__utf8_valid((const char *)t, n), ref);
        WK_ASSERT_INT_EQ(wk__utf8_valid_full((const char *)t, n), ref);
        counts[ref]++;
    }
    WK_ASSERT(counts[0] > 50000 && counts[1] > 50000); /* both answers well exercised */
}
