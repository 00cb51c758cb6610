/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Store benchmark: append throughput (time inside wk_store_add/flush only, one core),
 * stored bytes per event, and query latency (first result and completion) for a
 * time-range + container query and a key + time query. bench/store_bench.sh runs it next
 * to `zstd -19 --long` and `ausearch -k` on the same events.
 * usage: store_bench EVENTS.jsonl|- STORE_DIR [ZSTD_LEVEL [KEY [BLOCK_KIB]]]
 * (an existing store and /dev/null: the queries alone; WK_BENCH_KEY_ONLY=N: the key query
 * alone, N times, for profiling: callgrind, perf record -e cpu-clock; WK_BENCH_ALL_ONLY=N:
 * the "everything" query alone; WK_BENCH_SPLIT=FIELD: the hot blocks' split field, "" for
 * none; WK_BENCH_NOAGE=1: blocks sealed by size only, for instruction counts)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "watchkeeper/error.h"
#include "watchkeeper/event.h"
#include "watchkeeper/rebuild.h"
#include "watchkeeper/store.h"
#include "watchkeeper/timefmt.h"
#include "../store/rebuild_private.h" /* wk__rebuild_totals */

static int64_t cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); /* all threads: readers decode ahead */
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static double ms(int64_t ns)
{
    return (double)ns / 1e6;
}

static void run_query(struct wk_store *st, const char *what, const struct wk_store_filter *f)
{
    int64_t t0 = wk_time_mono_ns(), c0 = cpu_ns(), first = 0;
    struct wk_store_reader *r;
    struct wk_store_iter *it;
    const struct wk_event *ev;
    uint64_t n = 0;
    if (wk_store_reader_open(st, &r) < 0 || wk_store_iter_new(r, f, &it) < 0) {
        fprintf(stderr, "query setup failed\n");
        exit(3);
    }
    while (wk_store_iter_next(it, &ev, NULL) == 1) {
        if (!n++)
            first = wk_time_mono_ns() - t0;
    }
    int64_t all = wk_time_mono_ns() - t0, cpu = cpu_ns() - c0;
    wk_store_iter_free(it);
    wk_store_reader_close(r);
    printf("query %-28s %8llu events, first result %.2f ms, complete %.1f ms (CPU %.1f ms)\n",
           what, (unsigned long long)n, ms(first), ms(all), ms(cpu));
}

/* The queries, on the whole store (also when it was filled by an earlier run). */
static void queries(struct wk_store *st, const char *key_value, const char *tier)
{
    struct wk_store_stats s;
    char cid[65] = "";
    if (getenv("WK_BENCH_KEY_ONLY")) { /* the key query alone (profiling): N times */
        struct wk_store_term key = {"auditd.key", key_value};
        struct wk_store_filter h = {.terms = &key, .nterms = 1};
        for (int i = atoi(getenv("WK_BENCH_KEY_ONLY")); i > 0; i--)
            run_query(st, "auditd.key (all time)", &h);
        return;
    }
    if (getenv("WK_BENCH_ALL_ONLY")) { /* the "everything" query alone (profiling) */
        struct wk_store_filter all = {0};
        for (int i = atoi(getenv("WK_BENCH_ALL_ONLY")); i > 0; i--)
            run_query(st, "everything", &all);
        return;
    }
    wk_store_stats(st, &s);
    int64_t ts_min = s.ts_min, ts_max = s.ts_max;
    printf("== queries, %s\n", tier);
    {
        /* A container that has events: the first one found from the middle on. */
        struct wk_store_reader *r;
        struct wk_store_iter *it;
        const struct wk_event *e;
        struct wk_store_filter mid = {.since = ts_min + (ts_max - ts_min) / 2};
        if (wk_store_reader_open(st, &r) == 0 && wk_store_iter_new(r, &mid, &it) == 0) {
            while (!cid[0] && wk_store_iter_next(it, &e, NULL) == 1) {
                size_t l;
                const char *c = wk_event_get_str(e, &WK_KEY_CONTAINER_ID, &l);
                if (c && l == 64)
                    memcpy(cid, c, 65);
            }
            wk_store_iter_free(it);
        }
        wk_store_reader_close(r);
    }
    /* A 10% time window in the middle, one container. */
    int64_t span = ts_max - ts_min;
    struct wk_store_filter f = {.since = ts_min + span / 2, .until = ts_min + span / 2 + span / 10,
                                .container = cid};
    run_query(st, "time 10% + container", &f);
    struct wk_store_filter g = {.since = ts_min + span / 2, .until = ts_min + span / 2 + span / 10};
    run_query(st, "time 10%", &g);
    struct wk_store_term key = {"auditd.key", key_value};
    struct wk_store_filter h = {.terms = &key, .nterms = 1};
    run_query(st, "auditd.key (all time)", &h);
    struct wk_store_filter all = {0};
    run_query(st, "everything", &all);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: store_bench EVENTS.jsonl STORE_DIR [ZSTD_LEVEL]\n");
        return 2;
    }
    wk_keys_init();
    if (!getenv("WK_BENCH_NOREBUILD"))
        wk_collector_rebuild_register(); /* the cold tier's rebuild values */
    FILE *in = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "r");
    if (!in) {
        perror(argv[1]);
        return 3;
    }
    struct wk_store_opts o;
    wk_store_opts_init(&o);
    o.cold_rebuild = !getenv("WK_BENCH_NOREBUILD"); /* the rebuild values (the default) */
    if (argc > 3)
        o.zstd_level = atoi(argv[3]);
    if (argc > 5)
        o.block_raw_max = (size_t)atoi(argv[5]) << 10;
    o.fsync = getenv("WK_BENCH_NOFSYNC") == NULL;
    if (getenv("WK_BENCH_NODICT"))
        o.dictionaries = false;
    if (getenv("WK_BENCH_SPLIT")) /* the split field of hot blocks ("": none) */
        o.split_field = getenv("WK_BENCH_SPLIT");
    if (getenv("WK_BENCH_NOAGE")) /* blocks sealed by size only: the same blocks each run */
        o.block_age_ns = INT64_MAX / 2;
    if (getenv("WK_BENCH_COLD_KIB"))
        o.cold_block_bytes = (size_t)atoi(getenv("WK_BENCH_COLD_KIB")) << 10;
    struct wk_store *st;
    int rc = wk_store_open(&st, argv[2], &o);
    if (rc < 0) {
        fprintf(stderr, "open: %s\n", wk_strerror(rc));
        return 3;
    }
    struct wk_event *ev;
    wk_event_new(&ev);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t n = 0, in_bytes = 0;
    int64_t add_ns = 0, add_cpu = 0, ts_min = INT64_MAX, ts_max = 0;
    const char *err;
    while ((len = getline(&line, &cap, in)) > 0) {
        in_bytes += (uint64_t)len;
        if (wk_event_from_json(ev, line, (size_t)len - 1, &err) < 0)
            continue;
        int64_t t = wk_event_ts(ev);
        if (t < ts_min)
            ts_min = t;
        if (t > ts_max)
            ts_max = t;
        int64_t t0 = wk_time_mono_ns(), c0 = cpu_ns();
        rc = wk_store_add(st, ev, NULL, NULL);
        add_cpu += cpu_ns() - c0;
        add_ns += wk_time_mono_ns() - t0;
        if (rc < 0) {
            fprintf(stderr, "add: %s\n", wk_strerror(rc));
            return 3;
        }
        n++;
    }
    int64_t t0 = wk_time_mono_ns(), c0 = cpu_ns();
    rc = wk_store_flush(st);
    add_cpu += cpu_ns() - c0;
    add_ns += wk_time_mono_ns() - t0;
    if (rc < 0) {
        fprintf(stderr, "flush: %s\n", wk_strerror(rc));
        return 3;
    }
    struct wk_store_stats s;
    wk_store_stats(st, &s);
    printf("events            %llu\n", (unsigned long long)n);
    printf("append            %.0f events/s (%.2f s in wk_store_add+flush, fsync %s, zstd %d)\n",
           n ? (double)n / ((double)add_ns / 1e9) : 0.0, (double)add_ns / 1e9,
           o.fsync ? "on" : "off", o.zstd_level);
    printf("append CPU        %.0f events/s per core (%.2f s CPU; the rest is I/O wait)\n",
           n ? (double)n / ((double)add_cpu / 1e9) : 0.0, (double)add_cpu / 1e9);
    printf("input jsonl       %llu bytes\n", (unsigned long long)in_bytes);
    printf("raw records       %llu bytes (%.1f/event)\n", (unsigned long long)s.raw_bytes,
           (double)s.raw_bytes / (double)(s.events ? s.events : 1));
    printf("stored blocks     %llu bytes (%.1f/event, x%.2f)\n",
           (unsigned long long)s.stored_bytes, (double)s.stored_bytes / (double)n,
           (double)s.raw_bytes / (double)s.stored_bytes);
    printf("map used          %llu bytes (%.1f/event, %.3f x stored blocks)\n",
           (unsigned long long)s.map_used, (double)s.map_used / (double)n,
           (double)s.map_used / (double)s.stored_bytes);
    printf("blocks            %llu\n", (unsigned long long)s.blocks);

    const char *key_value = argc > 4 ? argv[4] : "delete";
    if (getenv("WK_BENCH_COLD"))
        queries(st, key_value, "hot tier");
    if (getenv("WK_BENCH_COLD")) {
        int64_t k0 = cpu_ns();
        uint64_t done = 0;
        rc = wk_store_recompact(st, INT64_MAX, 0, &done);
        int64_t k1 = cpu_ns();
        wk_store_stats(st, &s);
        printf("cold tier         %llu blocks at zstd %d, %zu KiB values, in %.1f s CPU: %llu "
               "bytes (%.1f/event, x%.2f)%s\n", (unsigned long long)done, o.cold_level,
               o.cold_block_bytes >> 10, (double)(k1 - k0) / 1e9,
               (unsigned long long)s.stored_bytes, (double)s.stored_bytes / (double)s.events,
               (double)s.raw_bytes / (double)s.stored_bytes, rc < 0 ? " (failed)" : "");
        /* the cold values alone: less the blocks from cold_next on (still hot) */
        uint64_t hot_bytes = 0, hot_events = 0;
        struct wk_store_reader *hr;
        if (wk_store_reader_open(st, &hr) == 0) {
            struct wk_store_block_info bi;
            for (uint64_t id = s.cold_next; id && wk_store_block_info(hr, id, &bi) == 0; id++) {
                hot_bytes += bi.stored_size;
                hot_events += bi.count;
            }
            wk_store_reader_close(hr);
        }
        printf("cold values       %llu bytes of %llu events (%.2f/event; %llu events in %llu "
               "bytes left hot)\n", (unsigned long long)(s.stored_bytes - hot_bytes),
               (unsigned long long)(s.events - hot_events),
               (double)(s.stored_bytes - hot_bytes) / (double)(s.events - hot_events),
               (unsigned long long)hot_events, (unsigned long long)hot_bytes);
        if (wk__rebuild_totals.rebuilt + wk__rebuild_totals.whole)
            printf("cold rebuild form %llu events rebuilt, %llu stored whole\n",
                   (unsigned long long)wk__rebuild_totals.rebuilt,
                   (unsigned long long)wk__rebuild_totals.whole);
        /* the bytes the cold values need: with their dictionary (meta "cdict:") */
        uint64_t cd = wk__rebuild_totals.dict_bytes, cb = s.stored_bytes - hot_bytes + cd;
        if (cd)
            printf("cold + dictionary %llu bytes of %llu events (%.2f/event; dictionary %llu "
                   "bytes)\n", (unsigned long long)cb,
                   (unsigned long long)(s.events - hot_events),
                   (double)cb / (double)(s.events - hot_events), (unsigned long long)cd);
    }
    queries(st, key_value, getenv("WK_BENCH_COLD") ? "after the cold tier" : "as stored");
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS          %ld KiB\n", ru.ru_maxrss);
    wk_store_close(st);
    wk_event_free(ev);
    free(line);
    fclose(in);
    return 0;
}
