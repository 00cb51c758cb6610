/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The writer's record encoder (format 2, store/codec2.c) alone, on the events of an audit
 * log as the auditd parser makes them: the events are parsed first, then encoded the way
 * the writer does (memo, shape table, a new block every BLOCK events), timed apart. Prints
 * bytes per event and a checksum of every byte written, so that two builds can be shown
 * to write the same bytes; --check also compares each event with the plain search.
 * usage: enc2_bench AUDIT_LOG [MAX_EVENTS] [--check]
 * Instructions: valgrind --tool=callgrind --toggle-collect=encode_all enc2_bench LOG
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../store/store_private.h"
#include "watchkeeper/event.h"
#include "watchkeeper/parser.h"

#define BLOCK 220 /* events per block, about the daemon's (256 KiB of audit records) */

struct collect {
    struct wk_parser_sink sink;
    struct wk_event **evs;
    size_t n, cap, max;
};

static int emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    struct collect *c = (struct collect *)s;
    (void)resume;
    if (c->n >= c->max)
        return 0;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->evs = realloc(c->evs, c->cap * sizeof(*c->evs));
        if (!c->evs)
            return -12;
    }
    struct wk_event *e;
    if (wk_event_new(&e) < 0 || wk_event_copy(e, ev) < 0)
        return -12;
    c->evs[c->n++] = e;
    return 0;
}

static int reject(struct wk_parser_sink *s, const struct wk_line_ctx *where, const char *reason,
                  const char *raw, size_t len)
{
    (void)s, (void)where, (void)reason, (void)raw, (void)len;
    return 0;
}

/* FNV-1a over every byte the encoder wrote: the same for two builds that write the same. */
static uint64_t sum_bytes(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    return h;
}

static struct wk__buf desc, vals, recs;
static struct wk__shapes shapes;

static __attribute__((noinline)) int encode_all(struct wk_event **evs, size_t n, size_t *bytes)
{
    int64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % BLOCK == 0) { /* the records stay in recs, summed after */
            wk__shapes_reset(&shapes);
            prev = 0;
        }
        desc.len = vals.len = 0;
        const uint8_t *dp;
        size_t dl;
        int rc = wk__enc2_add(&shapes, &desc, &vals, evs[i], &dp, &dl);
        uint32_t sid;
        if (rc < 0 || (rc = wk__shapes_intern(&shapes, dp, dl, &sid)) < 0 ||
            (rc = wk__buf_reserve(&recs, vals.len + 40)) < 0)
            return rc;
        wk__enc2_record(&recs, &prev, wk_event_ts(evs[i]), sid, vals.p, vals.len);
        *bytes += vals.len;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: enc2_bench AUDIT_LOG [MAX_EVENTS] [--check]\n");
        return 2;
    }
    bool check = argc > 3 && strcmp(argv[3], "--check") == 0;
    struct collect c = {.sink = {.emit = emit, .reject = reject}};
    c.max = argc > 2 ? strtoull(argv[2], NULL, 10) : SIZE_MAX;
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 3;
    }
    const struct wk_parser_ops *ops = wk_parser_find("auditd");
    struct wk_parser_opts po;
    wk_parser_opts_init(&po);
    po.host = "node-1";
    struct wk_parser *p;
    if (!ops || ops->create(&p, &po) < 0)
        return 3;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t lineno = 0, off = 0;
    while ((len = getline(&line, &cap, f)) > 0 && c.n < c.max) {
        struct wk_line_ctx where = {argv[1], ++lineno, off};
        off += (uint64_t)len;
        if (line[len - 1] == '\n')
            len--;
        if (ops->feed_line(p, line, (size_t)len, &where, &c.sink) < 0)
            return 3;
    }
    ops->flush(p, &c.sink);
    ops->destroy(p);
    free(line);
    fclose(f);

    uint64_t sum = UINT64_C(0xcbf29ce484222325);
    size_t bytes = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    if (encode_all(c.evs, c.n, &bytes) < 0)
        return 3;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    sum = sum_bytes(sum, recs.p, recs.len);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("events %zu, values %.1f bytes/event, shape table %zu entries, checksum %016llx, "
           "%.0f ns/event\n",
           c.n, c.n ? (double)bytes / (double)c.n : 0.0, shapes.n, (unsigned long long)sum,
           c.n ? s * 1e9 / (double)c.n : 0.0);
    int bad = 0;
    for (size_t i = 0; check && i < c.n; i++) {
        struct wk__buf d2 = {0}, v2 = {0};
        desc.len = vals.len = 0;
        if (wk__enc2_event(&desc, &vals, c.evs[i]) < 0 || wk__enc2_event_slow(&d2, &v2, c.evs[i]) < 0)
            return 3;
        if (vals.len != v2.len || memcmp(vals.p, v2.p, vals.len) != 0 || desc.len != d2.len ||
            memcmp(desc.p, d2.p, desc.len) != 0) {
            if (bad++ < 5)
                fprintf(stderr, "event %zu: not the plain search's bytes\n", i);
        }
        wk__buf_fini(&d2);
        wk__buf_fini(&v2);
    }
    if (check)
        printf("check: %d of %zu events differ from the plain search\n", bad, c.n);
    for (size_t i = 0; i < c.n; i++)
        wk_event_free(c.evs[i]);
    free(c.evs);
    wk__shapes_fini(&shapes);
    wk__buf_fini(&desc);
    wk__buf_fini(&vals);
    wk__buf_fini(&recs);
    return bad ? 1 : 0;
}
