/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How much of a stored event its source's parser rebuilds from event.original alone: the
 * premise of a cold form that stores only originals plus a per-event difference
 * (docs/store.md, "Cold tier: floors"). Re-parses each event's original with the parser of
 * its event.module (one parser per source, fed the events in order, as a rebuild of a
 * value would; --reset N makes fresh parsers every N events) and counts the events rebuilt
 * exactly and, by field name, what the difference would have to hold. Also encodes what such
 * a cold form would store - each original, the parser's context (host, log path, offset) and
 * an edit script from the rebuilt to the stored fields - in values of VALUE_KIB of format-2
 * records' worth of events (VALUE_EVENTS, default 2680: 1 MiB at the 391 bytes of records per
 * event that gen_events' events take), and compresses each at zstd 19 (without and with a
 * 64 KiB dictionary trained on the first 2 MiB of the form): the form's projected size.
 * usage: rebuild_check EVENTS.jsonl [--reset N]   (env VALUE_EVENTS)
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zdict.h>
#include <zstd.h>

#include "watchkeeper/event.h"
#include "watchkeeper/event_json.h"
#include "watchkeeper/parser.h"

struct cap_sink {
    struct wk_parser_sink s;
    struct wk_event *out;
    unsigned n;
};

static int cap_emit(struct wk_parser_sink *sk, struct wk_event *ev, uint64_t resume)
{
    (void)resume;
    struct cap_sink *c = (struct cap_sink *)sk;
    if (c->n++)
        return 0;
    return wk_event_copy(c->out, ev);
}

static int cap_reject(struct wk_parser_sink *sk, const struct wk_line_ctx *where,
                      const char *reason, const char *raw, size_t len)
{
    (void)sk, (void)where, (void)reason, (void)raw, (void)len;
    return 0;
}

static bool value_eq(const struct wk_value *a, const struct wk_value *b)
{
    return a->rec == b->rec && wk_value_equal(a, b);
}

/* Counts by field name (a small open list: the names that differ are few). */
struct count {
    char name[96];
    unsigned long long missing, differs, extra;
};
static struct count counts[512];
static size_t ncounts;

static struct count *count_of(const struct wk_key *k)
{
    char nm[96];
    snprintf(nm, sizeof(nm), "%.*s", (int)k->len, k->name);
    for (size_t i = 0; i < ncounts; i++) {
        if (strcmp(counts[i].name, nm) == 0)
            return &counts[i];
    }
    if (ncounts == sizeof(counts) / sizeof(counts[0]))
        return &counts[ncounts - 1];
    memcpy(counts[ncounts].name, nm, sizeof(nm));
    return &counts[ncounts++];
}

static bool key_eq(const struct wk_key *a, const struct wk_key *b)
{
    return a->len == b->len && memcmp(a->name, b->name, a->len) == 0;
}

static bool field_eq(const struct wk_event *a, size_t i, const struct wk_event *b, size_t j)
{
    return key_eq(wk_event_field_key(a, i), wk_event_field_key(b, j)) &&
           value_eq(wk_event_field_value(a, i), wk_event_field_value(b, j)) &&
           wk_event_field_dots(a, i) == wk_event_field_dots(b, j);
}

/* ---- the projected cold form ---------------------------------------------------------- */

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static void put(struct buf *b, const void *s, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            exit(3);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void put_varint(struct buf *b, uint64_t v)
{
    unsigned char t[10];
    size_t n = 0;
    do {
        t[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        t[n] |= v ? 0x80 : 0;
        n++;
    } while (v);
    put(b, t, n);
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* Names and paths of the value so far (a new one is written once, then by index). */
struct table {
    char *v[4096];
    size_t n;
};

static void put_name(struct buf *b, struct table *t, const char *s, size_t n)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strlen(t->v[i]) == n && memcmp(t->v[i], s, n) == 0) {
            put_varint(b, i + 1);
            return;
        }
    }
    put_varint(b, 0);
    put_varint(b, n);
    put(b, s, n);
    if (t->n < 4096)
        t->v[t->n++] = strndup(s, n);
}

static void table_clear(struct table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i]);
    t->n = 0;
}

static struct table strs; /* string literals of the open value */

static void put_field(struct buf *b, struct table *names, const struct wk_event *ev, size_t i)
{
    const struct wk_key *k = wk_event_field_key(ev, i);
    const struct wk_value *v = wk_event_field_value(ev, i);
    put_name(b, names, k->name, k->len);
    put_varint(b, v->rec);
    unsigned char kf[2] = {v->kind, v->flags};
    put(b, kf, 2);
    put_varint(b, wk_event_field_dots(ev, i));
    switch (v->kind) {
    case WK_VAL_BOOL:
        put(b, &v->u.b, 1);
        break;
    case WK_VAL_INT:
        put_varint(b, zigzag(v->u.i));
        break;
    case WK_VAL_REAL:
        put(b, &v->u.r, 8);
        break;
    case WK_VAL_STR:
        put_name(b, &strs, v->u.s, v->len); /* repeated literals (enrichment) by index */
        break;
    case WK_VAL_JSON:
        put_varint(b, v->len);
        put(b, v->u.s, v->len);
        break;
    case WK_VAL_STRLIST:
        put_varint(b, v->len);
        for (uint32_t j = 0; j < v->len; j++) {
            put_varint(b, v->u.items[j].len);
            put(b, v->u.items[j].s, v->u.items[j].len);
        }
        break;
    default:
        break;
    }
}

/* ops: varint (count << 2 | tag), tag 1 copy, 2 skip, 3 literal fields; 0 ends */
static void put_op(struct buf *b, unsigned tag, size_t count)
{
    if (count)
        put_varint(b, (uint64_t)count << 2 | tag);
}

static struct buf form, values; /* the open value's form; all values' forms (for training) */
static struct table names, paths;
static size_t value_records;   /* format-2-sized bytes of the open value's events */
static unsigned long long z_plain, z_dict, z_values;
static ZSTD_CCtx *zc;
static uint64_t nextoff[4096]; /* predicted offset of the next line of each path */

static void seal_value(void)
{
    if (!form.len)
        return;
    size_t cap = ZSTD_compressBound(form.len);
    void *out = malloc(cap);
    size_t r = ZSTD_compressCCtx(zc, out, cap, form.p, form.len, 19);
    if (ZSTD_isError(r))
        exit(3);
    z_plain += r;
    z_values++;
    /* the values are kept for the dictionary run at the end */
    put_varint(&values, form.len);
    put(&values, form.p, form.len);
    free(out);
    form.len = 0;
    value_records = 0;
    table_clear(&names);
    table_clear(&paths);
    table_clear(&strs);
    memset(nextoff, 0, sizeof(nextoff));
}

static void dict_pass(void)
{
    /* 4 KiB samples of the first 2 MiB of the form, as the store trains on its blocks */
    size_t at = 0, ns = 0;
    unsigned char *p = values.p;
    size_t sample_total = 0;
    size_t sizes[512];
    struct buf samples = {0};
    /* walk the values (varint length + bytes) */
    while (at < values.len && sample_total < (2u << 20)) {
        uint64_t l = 0;
        int sh = 0;
        while (p[at] & 0x80)
            l |= (uint64_t)(p[at++] & 0x7f) << sh, sh += 7;
        l |= (uint64_t)p[at++] << sh;
        for (size_t o = 0; o < l && ns < 512 && sample_total < (2u << 20); o += 4096) {
            size_t n = l - o < 4096 ? l - o : 4096;
            put(&samples, p + at + o, n);
            sizes[ns++] = n;
            sample_total += n;
        }
        at += l;
    }
    size_t dcap = 65536;
    void *dict = malloc(dcap);
    size_t dl = ZDICT_trainFromBuffer(dict, dcap, samples.p, sizes, (unsigned)ns);
    if (ZDICT_isError(dl)) {
        fprintf(stderr, "dictionary: %s\n", ZDICT_getErrorName(dl));
        free(dict);
        free(samples.p);
        return;
    }
    ZSTD_CDict *cd = ZSTD_createCDict(dict, dl, 19);
    for (at = 0; at < values.len;) {
        uint64_t l = 0;
        int sh = 0;
        while (p[at] & 0x80)
            l |= (uint64_t)(p[at++] & 0x7f) << sh, sh += 7;
        l |= (uint64_t)p[at++] << sh;
        size_t cap = ZSTD_compressBound(l);
        void *out = malloc(cap);
        size_t r = ZSTD_compress_usingCDict(zc, out, cap, p + at, l, cd);
        if (ZSTD_isError(r))
            exit(3);
        z_dict += r;
        free(out);
        at += l;
    }
    z_dict += dl;
    ZSTD_freeCDict(cd);
    free(dict);
    free(samples.p);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: rebuild_check EVENTS.jsonl [--reset N]\n");
        return 2;
    }
    unsigned long long reset = argc > 3 && strcmp(argv[2], "--reset") == 0
                                   ? strtoull(argv[3], NULL, 10) : 0;
    FILE *in = fopen(argv[1], "r");
    if (!in) {
        perror(argv[1]);
        return 3;
    }
    wk_keys_init();
    unsigned long long value_events =
        getenv("VALUE_EVENTS") ? strtoull(getenv("VALUE_EVENTS"), NULL, 10) : 2680;
    if (!value_events)
        value_events = 1;
    zc = ZSTD_createCCtx();
    bool parts_orig = getenv("PARTS") && strcmp(getenv("PARTS"), "orig") == 0;
    const char *const pnames[4] = {"auditd", "docker-events", "cri", "json-file"};
    const char *const mods[4] = {"auditd", "docker", "clog", "clog"};
    struct wk_parser *parser[4] = {NULL};
    struct wk_event *ev, *rb;
    if (wk_event_new(&ev) < 0 || wk_event_new(&rb) < 0)
        return 3;
    struct wk_key k_fmt = wk_key_init("log.origin.format");
    struct wk_key k_path = wk_key_init("log.file.path");
    struct wk_key k_off = wk_key_init("log.offset");
    unsigned long long n = 0, exact[4] = {0}, total[4] = {0}, none = 0, nofields = 0;
    unsigned long long same_ts[4] = {0}, fields = 0, fields_kept = 0;
    char *line = NULL, host[256];
    size_t cap = 0;
    ssize_t len;
    const char *err;
    while ((len = getline(&line, &cap, in)) > 0) {
        if (wk_event_from_json(ev, line, (size_t)len - 1, &err) < 0)
            continue;
        if (reset && n % reset == 0) {
            for (int i = 0; i < 4; i++) {
                if (parser[i])
                    wk_parser_find(pnames[i])->destroy(parser[i]);
                parser[i] = NULL;
            }
        }
        n++;
        size_t ml, ol, hl;
        const char *mod = wk_event_get_str(ev, &WK_KEY_EVENT_MODULE, &ml);
        const char *orig = wk_event_get_str(ev, &WK_KEY_EVENT_ORIGINAL, &ol);
        const char *h = wk_event_get_str(ev, &WK_KEY_HOST_NAME, &hl);
        int pi = -1;
        for (int i = 0; i < 3 && mod; i++) {
            if (strlen(mods[i]) == ml && memcmp(mods[i], mod, ml) == 0)
                pi = i;
        }
        size_t fl;
        const char *fmt = wk_event_get_str(ev, &k_fmt, &fl);
        if (pi == 2 && fmt && fl == 9 && memcmp(fmt, "json-file", 9) == 0)
            pi = 3;
        if (n % value_events == 1 || value_events == 1)
            seal_value();
        if (pi < 0 || !orig) {
            /* no parser or no original (gap events): stored whole */
            none++;
            put_varint(&form, 0);
            put_varint(&form, wk_event_nfields(ev));
            put_varint(&form, zigzag(wk_event_ts(ev)));
            for (size_t i = 0; i < wk_event_nfields(ev); i++)
                put_field(&form, &names, ev, i);
            continue;
        }
        total[pi]++;
        /* The parser of the source, with what the cold form would keep per value or per
         * event outside the original: host.name, the log file's path and the offset. */
        snprintf(host, sizeof(host), "%.*s", h ? (int)hl : 0, h ? h : "");
        if (!parser[pi]) {
            struct wk_parser_opts po;
            wk_parser_opts_init(&po);
            po.host = h ? host : NULL;
            if (wk_parser_find(pnames[pi])->create(&parser[pi], &po) < 0)
                return 3;
        }
        const struct wk_parser_ops *ops = wk_parser_find(pnames[pi]);
        char path[4096] = "-";
        const char *p = wk_event_get_str(ev, &k_path, &fl);
        if (p)
            snprintf(path, sizeof(path), "%.*s", (int)fl, p);
        const struct wk_value *ov = wk_event_get(ev, 0, &k_off);
        struct wk_line_ctx where = {path, n, ov && ov->kind == WK_VAL_INT ? (uint64_t)ov->u.i : 0};
        /* the form: source, host, path (by index), offset (from its prediction), original
         * (PARTS=orig: only the originals, to see what the rest costs) */
        size_t mark = form.len;
        put_varint(&form, (uint64_t)pi + 1);
        put_name(&form, &paths, host, strlen(host));
        put_name(&form, &paths, path, strlen(path));
        size_t pidx = 0;
        while (pidx < paths.n && strcmp(paths.v[pidx], path) != 0)
            pidx++;
        put_varint(&form, zigzag((int64_t)where.offset - (int64_t)nextoff[pidx % 4096]));
        nextoff[pidx % 4096] = where.offset + ol + 1;
        if (parts_orig)
            form.len = mark;
        put_varint(&form, ol);
        put(&form, orig, ol);
        mark = form.len;
        struct cap_sink sink = {{cap_emit, cap_reject}, rb, 0};
        wk_event_reset(rb);
        for (size_t at = 0; at <= ol;) {
            const char *nl = memchr(orig + at, '\n', ol - at);
            size_t l = nl ? (size_t)(nl - (orig + at)) : ol - at;
            if (ops->feed_line(parser[pi], orig + at, l, &where, &sink.s) < 0)
                return 3;
            where.offset += l + 1;
            at += l + 1;
        }
        if (ops->flush(parser[pi], &sink.s) < 0)
            return 3;
        /* the edit script from the rebuilt fields to the stored ones */
        size_t ne = wk_event_nfields(ev), nr = sink.n ? wk_event_nfields(rb) : 0;
        put_varint(&form, !sink.n || wk_event_ts(rb) == wk_event_ts(ev)
                              ? 0 : 1 + zigzag(wk_event_ts(ev) - wk_event_ts(rb)));
        for (size_t i = 0, j = 0; i < ne;) {
            size_t c = 0;
            while (i + c < ne && j + c < nr && field_eq(ev, i + c, rb, j + c))
                c++;
            if (c) {
                put_op(&form, 1, c);
                i += c, j += c;
                continue;
            }
            size_t k = j + 1;
            while (k < nr && k < j + 16 && !field_eq(ev, i, rb, k))
                k++;
            if (k < nr && k < j + 16) {
                put_op(&form, 2, k - j);
                j = k;
                continue;
            }
            put_op(&form, 3, 1);
            put_field(&form, &names, ev, i);
            i++;
        }
        put_varint(&form, 0);
        if (parts_orig)
            form.len = mark;
        if (!sink.n) {
            nofields++;
            continue;
        }
        same_ts[pi] += wk_event_ts(rb) == wk_event_ts(ev);
        if (wk_event_equal(ev, rb)) {
            exact[pi]++;
            size_t nf = wk_event_nfields(ev);
            fields += nf;
            fields_kept += nf;
            continue;
        }
        /* Field by field: each stored field found in the rebuild (same name, record and
         * value) or not; rebuilt fields that are not stored. */
        fields += ne;
        bool used[4096] = {false};
        for (size_t i = 0; i < ne; i++) {
            const struct wk_key *k = wk_event_field_key(ev, i);
            const struct wk_value *v = wk_event_field_value(ev, i);
            bool named = false, found = false;
            for (size_t j = 0; j < nr && j < 4096 && !found; j++) {
                if (used[j] || !key_eq(k, wk_event_field_key(rb, j)))
                    continue;
                named = true;
                if (value_eq(v, wk_event_field_value(rb, j)) &&
                    wk_event_field_dots(ev, i) == wk_event_field_dots(rb, j)) {
                    used[j] = found = true;
                }
            }
            if (found) {
                fields_kept++;
                continue;
            }
            struct count *c = count_of(k);
            if (named)
                c->differs++;
            else
                c->missing++;
        }
        for (size_t j = 0; j < nr && j < 4096; j++) {
            if (!used[j])
                count_of(wk_event_field_key(rb, j))->extra++;
        }
    }
    seal_value();
    dict_pass();
    printf("projected cold form: %llu values of %llu events; zstd 19: %.2f bytes/event, with a "
           "dictionary %.2f bytes/event (uncompressed %.1f bytes/event)\n", z_values,
           value_events, (double)z_plain / (double)n, (double)z_dict / (double)n,
           (double)values.len / (double)n);
    printf("events %llu (no source parser or no original: %llu, rebuild made nothing: %llu)\n",
           n, none, nofields);
    for (int i = 0; i < 4; i++) {
        if (total[i])
            printf("%-14s %9llu events, rebuilt exactly %9llu (%.1f%%), same timestamp %.1f%%\n",
                   pnames[i], total[i], exact[i], 100.0 * (double)exact[i] / (double)total[i],
                   100.0 * (double)same_ts[i] / (double)total[i]);
    }
    printf("fields %llu, rebuilt %llu (%.2f%%)\n", fields, fields_kept,
           fields ? 100.0 * (double)fields_kept / (double)fields : 0.0);
    printf("%-40s %12s %12s %12s\n", "field (not rebuilt)", "missing", "differs", "extra");
    for (size_t i = 0; i < ncounts; i++)
        printf("%-40s %12llu %12llu %12llu\n", counts[i].name, counts[i].missing,
               counts[i].differs, counts[i].extra);
    for (int i = 0; i < 4; i++) {
        if (parser[i])
            wk_parser_find(pnames[i])->destroy(parser[i]);
    }
    wk_event_free(ev);
    wk_event_free(rb);
    ZSTD_freeCCtx(zc);
    table_clear(&names);
    table_clear(&paths);
    table_clear(&strs);
    free(form.p);
    free(values.p);
    free(line);
    fclose(in);
    return 0;
}
