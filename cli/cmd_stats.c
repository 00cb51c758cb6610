/* SPDX-License-Identifier: Apache-2.0 */
/* watchkeeper stats: what a store holds (events, blocks, raw vs stored bytes per source,
 * time span, chain head, map use), read from one snapshot without blocking the writer. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "watchkeeper/error.h"
#include "watchkeeper/store.h"
#include "watchkeeper/timefmt.h"

const char wk_cmd_stats_usage[] =
    "usage: watchkeeper stats --store DIR\n\n"
    "Show what the store at DIR holds: events and blocks, raw (uncompressed) and stored\n"
    "bytes with their ratio, overall and per source, the time span, alerts, quarantined\n"
    "inputs, containers, cursors, dictionaries, the chain head and the public key, and\n"
    "the LMDB map size, use and free pages (space reused after retention).\n\n"
    "Options:\n"
    "  -s, --store DIR   the store directory (required)\n\n"
    "Exit: 0, 2 usage, 3 runtime error.\n";

static double ratio(uint64_t raw, uint64_t stored)
{
    return stored ? (double)raw / (double)stored : 0.0;
}

int wk_cmd_stats(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"store", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:", longopts, NULL)) != -1) {
        if (c == 's') {
            dir = optarg;
            continue;
        }
        wk_cli_error("stats", "unknown option or missing value: '%s' (see --help)",
                     argv[optind - 1]);
        return WK_EXIT_USAGE;
    }
    if (!dir || optind < argc) {
        wk_cli_error("stats", "%s", dir ? "unexpected argument" : "--store DIR is required");
        return WK_EXIT_USAGE;
    }
    struct wk_store_opts so;
    wk_store_opts_init(&so);
    so.read_only = true;
    struct wk_store *st;
    int rc = wk_store_open(&st, dir, &so);
    if (rc < 0) {
        wk_cli_error("stats", "opening store %s: %s", dir,
                     rc == -ENOENT ? "no store there" : wk_strerror(rc));
        return WK_EXIT_RUNTIME;
    }
    struct wk_store_stats s;
    if ((rc = wk_store_stats(st, &s)) < 0) {
        wk_cli_error("stats", "reading store %s: %s", dir, wk_strerror(rc));
        wk_store_close(st);
        return WK_EXIT_RUNTIME;
    }
    char t1[WK_RFC3339_MAX], t2[WK_RFC3339_MAX], head[65], pkhex[65] = "-";
    uint8_t pk[WK_STORE_PUBKEY_LEN];
    sodium_bin2hex(head, sizeof(head), s.head, sizeof(s.head));
    if (wk_store_pubkey(st, pk) == 0)
        sodium_bin2hex(pkhex, sizeof(pkhex), pk, sizeof(pk));
    printf("store         %s (schema %u)\n", dir, s.schema);
    printf("events        %llu\n", (unsigned long long)s.events);
    if (s.blocks)
        printf("blocks        %llu (ids %llu..%llu)\n", (unsigned long long)s.blocks,
               (unsigned long long)s.first_block, (unsigned long long)s.last_block);
    else
        printf("blocks        0\n");
    if (s.blocks) {
        /* Blocks before cold_next were recompressed by the cold tier (merged values hold
         * several: values counts what LMDB stores). */
        uint64_t cold = s.cold_next > s.first_block ? s.cold_next - s.first_block : 0;
        if (cold > s.blocks)
            cold = s.blocks;
        printf("cold blocks   %llu (%llu hot; %llu stored values)\n", (unsigned long long)cold,
               (unsigned long long)(s.blocks - cold), (unsigned long long)s.values);
        uint64_t nrb = 0;
        if (wk_store_rebuild_values(st, &nrb) == 0) /* format 4 (docs/store.md) */
            printf("rebuild values %llu\n", (unsigned long long)nrb);
    }
    printf("raw bytes     %llu\n", (unsigned long long)s.raw_bytes);
    printf("stored bytes  %llu (x%.2f, %.1f bytes/event)\n", (unsigned long long)s.stored_bytes,
           ratio(s.raw_bytes, s.stored_bytes),
           s.events ? (double)s.stored_bytes / (double)s.events : 0.0);
    if (s.blocks) {
        wk_time_format(s.ts_min, t1);
        wk_time_format(s.ts_max, t2);
        printf("time span     %s .. %s\n", t1, t2);
    }
    for (size_t i = 0; i < s.nsources; i++) {
        const struct wk_store_source_stats *x = &s.sources[i];
        printf("source        %s: %llu events, %llu raw, %llu stored (x%.2f)\n", x->name,
               (unsigned long long)x->events, (unsigned long long)x->raw_bytes,
               (unsigned long long)x->stored_bytes, ratio(x->raw_bytes, x->stored_bytes));
    }
    printf("alerts        %llu\n", (unsigned long long)s.alerts);
    printf("quarantined   %llu\n", (unsigned long long)s.quarantined);
    printf("containers    %llu\n", (unsigned long long)s.containers);
    printf("cursors       %llu\n", (unsigned long long)s.cursors);
    printf("dictionaries  %llu\n", (unsigned long long)s.dictionaries);
    printf("chain head    %s\n", s.blocks ? head : "-");
    printf("public key    %s\n", pkhex);
    printf("map           %llu used of %llu (ceiling %llu), %llu free pages of %u bytes\n",
           (unsigned long long)s.map_used, (unsigned long long)s.map_size,
           (unsigned long long)s.map_max, (unsigned long long)s.free_pages, s.page_size);
    wk_store_close(st);
    return WK_EXIT_OK;
}
