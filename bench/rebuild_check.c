/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How much of a stored event its source's parser rebuilds from event.original alone: the
 * premise of a cold form that stores only originals plus a per-event difference
 * (docs/store.md, "Cold tier: floors"). Re-parses each event's original with the parser of
 * its event.module (one parser per source, fed the events in order, as a rebuild of a
 * value would; --reset N makes fresh parsers every N events) and counts the events rebuilt
 * exactly and, by field name, what the difference would have to hold.
 * usage: rebuild_check EVENTS.jsonl [--reset N]
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (a->kind != b->kind || a->flags != b->flags || a->rec != b->rec || a->len != b->len)
        return false;
    switch (a->kind) {
    case WK_VAL_NULL:
        return true;
    case WK_VAL_BOOL:
        return a->u.b == b->u.b;
    case WK_VAL_INT:
        return a->u.i == b->u.i;
    case WK_VAL_REAL:
        return memcmp(&a->u.r, &b->u.r, sizeof(double)) == 0;
    case WK_VAL_STR:
    case WK_VAL_JSON:
        return memcmp(a->u.s, b->u.s, a->len) == 0;
    case WK_VAL_STRLIST:
        for (uint32_t i = 0; i < a->len; i++) {
            if (a->u.items[i].len != b->u.items[i].len ||
                memcmp(a->u.items[i].s, b->u.items[i].s, a->u.items[i].len) != 0)
                return false;
        }
        return true;
    }
    return false;
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
        if (pi < 0 || !orig) {
            none++;
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
        size_t ne = wk_event_nfields(ev), nr = wk_event_nfields(rb);
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
    free(line);
    fclose(in);
    return 0;
}
