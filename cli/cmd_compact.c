/* SPDX-License-Identifier: Apache-2.0 */
/* watchkeeper compact: run the store's cold tier offline (what the daemon does in the
 * background under store.cold): merge committed blocks into large values compressed at a
 * high zstd level, one transaction per value, optionally under a CPU budget; --expand
 * turns rebuild values back into merged values. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "watchkeeper/error.h"
#include "watchkeeper/option.h"
#include "watchkeeper/store.h"
#include "watchkeeper/timefmt.h"

const char wk_cmd_compact_usage[] =
    "usage: watchkeeper compact --store DIR [--cpu-budget PCT] [--block-bytes SIZE]\n"
    "                           [--level N] [--no-rebuild]\n"
    "       watchkeeper compact --store DIR --expand [--cpu-budget PCT] [--level N]\n\n"
    "Move the store's hot blocks to the cold tier now: consecutive blocks are merged into\n"
    "values of at least SIZE raw bytes, compressed at zstd level N with a window covering\n"
    "the value (docs/store.md, \"Cold tier\"). Block ids, event references and the hash\n"
    "chain do not change; each merged value is one transaction, so an interrupted compact\n"
    "loses nothing and the next one carries on. Blocks that do not yet add up to SIZE stay\n"
    "hot. A running daemon does the same in the background (store.cold); while it runs,\n"
    "compact waits for LMDB's writer lock between values.\n\n"
    "Options:\n"
    "  -s, --store DIR        the store directory (required)\n"
    "  -b, --cpu-budget PCT   use at most PCT% of one core on average (1-100; 100)\n"
    "      --block-bytes SIZE raw bytes per merged value (2MiB)\n"
    "      --level N          zstd level of the merged values (1-22; 19)\n"
    "      --rebuild          write rebuild values (the default): each event as its\n"
    "                         original and an edit script against its parser (about\n"
    "                         half the bytes; reads re-run the parser). Given\n"
    "                         explicitly, merged cold values (format 3, e.g. from\n"
    "                         --expand) are rewritten as rebuild values too\n"
    "      --no-rebuild       write merged values (format 3): each event's parsed fields\n"
    "                         stored (twice the bytes; reads need no parser)\n"
    "      --expand           rewrite every rebuild value as a merged value holding the\n"
    "                         same records (block hashes and the chain do not change),\n"
    "                         one transaction per value, progress on stderr. Run it with\n"
    "                         the binary that wrote the values before an upgrade that\n"
    "                         changes a parser's rebuild version (docs/store.md)\n\n"
    "Exit: 0, 2 usage, 3 runtime error (--expand: a value of another rebuild version).\n";

static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * WK_NS_PER_SEC + ts.tv_nsec;
}

/* compact --expand: every rebuild value back to a merged value, one value per call, with
 * its progress on stderr. @return an exit code. */
static int expand_all(struct wk_store *st, const char *dir, long budget)
{
    struct wk_store_stats s0, s1;
    int rc = wk_store_stats(st, &s0);
    uint64_t done = 1, left = 0, total = 0, all = 0;
    int64_t t0 = wk_time_mono_ns(), c0 = cpu_ns();
    while (rc == 0 && done) {
        int64_t c1 = cpu_ns();
        rc = wk_store_expand(st, 1, &done, &left);
        total += done;
        if (!all)
            all = total + left;
        if (rc == 0 && done)
            fprintf(stderr, "compact: expanded %llu of %llu rebuild values\n",
                    (unsigned long long)total, (unsigned long long)all);
        int64_t used = cpu_ns() - c1;
        if (rc == 0 && done && budget < 100) {
            int64_t pause = used * (100 - budget) / budget;
            struct timespec ts = {pause / WK_NS_PER_SEC, pause % WK_NS_PER_SEC};
            nanosleep(&ts, NULL);
        }
    }
    if (rc == WK_EREBUILD) {
        char why[256];
        wk_cli_error("compact", "store %s: %s (%llu values expanded before it)", dir,
                     wk_store_rebuild_why(why, sizeof(why)), (unsigned long long)total);
        return WK_EXIT_RUNTIME;
    }
    if (rc < 0 || (rc = wk_store_stats(st, &s1)) < 0) {
        wk_cli_error("compact", "store %s: %s (%llu values expanded before it)", dir,
                     wk_strerror(rc), (unsigned long long)total);
        return WK_EXIT_RUNTIME;
    }
    printf("compact: %llu rebuild values expanded to merged values in %.1f s (%.1f s CPU); "
           "stored bytes %llu -> %llu\n",
           (unsigned long long)total, (double)(wk_time_mono_ns() - t0) / 1e9,
           (double)(cpu_ns() - c0) / 1e9, (unsigned long long)s0.stored_bytes,
           (unsigned long long)s1.stored_bytes);
    return WK_EXIT_OK;
}

int wk_cmd_compact(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"store", required_argument, NULL, 's'},
        {"cpu-budget", required_argument, NULL, 'b'},
        {"block-bytes", required_argument, NULL, 'B'},
        {"level", required_argument, NULL, 'l'},
        {"rebuild", no_argument, NULL, 'R'},
        {"no-rebuild", no_argument, NULL, 'N'},
        {"expand", no_argument, NULL, 'E'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    long budget = 100, level = 19;
    bool rebuild = true, expand = false, explicit_rebuild = false;
    uint64_t bytes = 2u << 20;
    char *end;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:b:", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            dir = optarg;
            continue;
        case 'b':
            budget = strtol(optarg, &end, 10);
            if (*end == '%')
                end++;
            if (end == optarg || *end || budget < 1 || budget > 100) {
                wk_cli_error("compact", "--cpu-budget '%s': expected a percent 1-100", optarg);
                return WK_EXIT_USAGE;
            }
            continue;
        case 'B':
            if (wk_parse_size(optarg, &bytes) < 0 || bytes < 4096 || bytes > (64u << 20)) {
                wk_cli_error("compact", "--block-bytes '%s': expected a size 4KiB-64MiB",
                             optarg);
                return WK_EXIT_USAGE;
            }
            continue;
        case 'R':
            rebuild = explicit_rebuild = true;
            continue;
        case 'N':
            rebuild = explicit_rebuild = false;
            continue;
        case 'E':
            expand = true;
            continue;
        case 'l':
            level = strtol(optarg, &end, 10);
            if (end == optarg || *end || level < 1 || level > 22) {
                wk_cli_error("compact", "--level '%s': expected 1-22", optarg);
                return WK_EXIT_USAGE;
            }
            continue;
        default:
            wk_cli_error("compact", "unknown option or missing value: '%s' (see --help)",
                         argv[optind - 1]);
            return WK_EXIT_USAGE;
        }
    }
    if (!dir || optind < argc) {
        wk_cli_error("compact", "%s", dir ? "unexpected argument" : "--store DIR is required");
        return WK_EXIT_USAGE;
    }
    struct wk_store_opts so;
    wk_store_opts_init(&so);
    so.cold_block_bytes = (size_t)bytes;
    so.cold_level = (int)level;
    so.cold_rebuild = rebuild;
    struct wk_store *st;
    int rc = wk_store_open(&st, dir, &so);
    if (rc < 0) {
        wk_cli_error("compact", "opening store %s: %s", dir, wk_strerror(rc));
        return WK_EXIT_RUNTIME;
    }
    if (expand) {
        rc = expand_all(st, dir, budget);
        wk_store_close(st);
        return rc;
    }
    struct wk_store_stats s0, s1;
    rc = wk_store_stats(st, &s0);
    int64_t t0 = wk_time_mono_ns(), c0 = cpu_ns();
    uint64_t total = 0, done = 1;
    while (rc == 0 && done) {
        /* one merged value per call; then sleep so that CPU / wall stays within budget */
        int64_t c1 = cpu_ns();
        rc = wk_store_recompact(st, 1, 0, &done);
        total += done;
        int64_t used = cpu_ns() - c1;
        if (rc == 0 && done && budget < 100) {
            int64_t pause = used * (100 - budget) / budget;
            struct timespec ts = {pause / WK_NS_PER_SEC, pause % WK_NS_PER_SEC};
            nanosleep(&ts, NULL);
        }
    }
    if (rc < 0) {
        wk_cli_error("compact", "store %s: %s (%llu blocks made cold before it)", dir,
                     wk_strerror(rc), (unsigned long long)total);
        wk_store_close(st);
        return WK_EXIT_RUNTIME;
    }
    /* --rebuild given: the merged cold values too (the inverse of --expand) */
    uint64_t from = explicit_rebuild ? 1 : 0, conv = 0;
    while (from) {
        int64_t c1 = cpu_ns();
        rc = wk_store_rebuild_merged(st, 1, &from, &done);
        conv += done;
        if (rc < 0) {
            wk_cli_error("compact", "store %s: %s (%llu merged values made rebuild values "
                         "before it)", dir, wk_strerror(rc), (unsigned long long)conv);
            wk_store_close(st);
            return WK_EXIT_RUNTIME;
        }
        if (done)
            fprintf(stderr, "compact: %llu merged values made rebuild values\n",
                    (unsigned long long)conv);
        int64_t used = cpu_ns() - c1;
        if (done && budget < 100) {
            int64_t pause = used * (100 - budget) / budget;
            struct timespec ts = {pause / WK_NS_PER_SEC, pause % WK_NS_PER_SEC};
            nanosleep(&ts, NULL);
        }
    }
    if ((rc = wk_store_stats(st, &s1)) < 0) {
        wk_cli_error("compact", "reading store %s: %s", dir, wk_strerror(rc));
        wk_store_close(st);
        return WK_EXIT_RUNTIME;
    }
    uint64_t cold = s1.cold_next > s1.first_block ? s1.cold_next - s1.first_block : 0;
    if (cold > s1.blocks)
        cold = s1.blocks;
    printf("compact: %llu blocks made cold in %.1f s (%.1f s CPU); %llu of %llu blocks cold, "
           "stored bytes %llu -> %llu\n",
           (unsigned long long)total, (double)(wk_time_mono_ns() - t0) / 1e9,
           (double)(cpu_ns() - c0) / 1e9, (unsigned long long)cold,
           (unsigned long long)s1.blocks, (unsigned long long)s0.stored_bytes,
           (unsigned long long)s1.stored_bytes);
    wk_store_close(st);
    return WK_EXIT_OK;
}
