/* SPDX-License-Identifier: Apache-2.0 */
/* watchkeeper status: ask the running daemon (GET /status on its unix socket) and print a
 * table: sources, outputs (delivered alert id vs the newest), store, rules, alerts. */
#include "config.h"

#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char wk_cmd_status_usage[] =
    "usage: watchkeeper status [--socket PATH] [--json]\n\n"
    "Show the state of the running daemon: per source its state, events, events/s, lag\n"
    "and last error; per output the last alert id it delivered, the newest alert id, the\n"
    "lag between them, alerts written this run and its last error; the store's size and\n"
    "compression ratio; rules loaded; alerts in the last hour; the pipeline's queue.\n\n"
    "  --socket PATH  the daemon's API socket (api.socket; default /run/watchkeeper/api.sock)\n"
    "  --json         print the daemon's JSON as is\n";

struct body {
    char *p;
    size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t n, void *arg)
{
    struct body *b = arg;
    char *np = realloc(b->p, b->len + size * n + 1);
    if (!np)
        return 0;
    b->p = np;
    memcpy(b->p + b->len, ptr, size * n);
    b->len += size * n;
    b->p[b->len] = '\0';
    return size * n;
}

static void human(double v, char *out, size_t len)
{
    const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int i = 0;
    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    snprintf(out, len, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static const char *js(json_t *o, const char *k, const char *def)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : def;
}

static json_int_t ji(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static void print_table(json_t *st)
{
    printf("watchkeeper %s, pid %lld, up %.0f s, config %s\n",
           json_string_value(json_object_get(st, "version")), (long long)ji(st, "pid"),
           json_real_value(json_object_get(st, "uptime_s")),
           js(st, "config", "(defaults)"));
    printf("\n%-16s %-12s %-9s %10s %9s %12s  %s\n", "SOURCE", "TYPE", "STATE", "EVENTS",
           "EVENTS/S", "LAG", "LAST ERROR");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(st, "sources"), i, s) {
        char lag[32];
        /* Each source says its lag's unit: time for a stream, bytes for a file
         * (docs/daemon.md); a caught-up stream shows "0.0 s", not "0 B". */
        if (ji(s, "lag_ns") || strcmp(js(s, "lag_unit", ""), "ns") == 0)
            snprintf(lag, sizeof(lag), "%.1f s", (double)ji(s, "lag_ns") / 1e9);
        else
            human((double)ji(s, "lag_bytes"), lag, sizeof(lag));
        printf("%-16s %-12s %-9s %10lld %9.1f %12s  %s\n",
               json_string_value(json_object_get(s, "name")),
               json_string_value(json_object_get(s, "type")),
               json_string_value(json_object_get(s, "state")), (long long)ji(s, "events"),
               json_real_value(json_object_get(s, "events_per_s")), lag,
               js(s, "last_error", ""));
    }
    if (!json_array_size(json_object_get(st, "sources")))
        printf("(no sources)\n");
    printf("\n%-16s %-8s %-6s %10s %10s %8s %8s  %s\n", "OUTPUT", "TYPE", "STATE",
           "DELIVERED", "NEWEST", "LAG", "WRITTEN", "LAST ERROR");
    json_array_foreach(json_object_get(st, "outputs"), i, s) {
        printf("%-16s %-8s %-6s %10lld %10lld %8lld %8lld  %s\n", js(s, "name", "?"),
               js(s, "type", "?"), js(s, "state", "?"), (long long)ji(s, "delivered"),
               (long long)ji(s, "newest"), (long long)ji(s, "lag"), (long long)ji(s, "written"),
               js(s, "last_error", ""));
    }
    if (!json_array_size(json_object_get(st, "outputs")))
        printf("(no outputs)\n");
    json_t *store = json_object_get(st, "store");
    char raw[32], disk[32];
    human((double)ji(store, "raw_bytes"), raw, sizeof(raw));
    human((double)ji(store, "stored_bytes"), disk, sizeof(disk));
    printf("\nstore     %s (%s): %lld events, %s raw, %s on disk, ratio %.2f\n",
           json_string_value(json_object_get(store, "path")),
           json_string_value(json_object_get(store, "backend")), (long long)ji(store, "events"),
           raw, disk, json_real_value(json_object_get(store, "ratio")));
    json_t *cold = json_object_get(store, "cold");
    if (cold) {
        double behind = json_real_value(json_object_get(cold, "behind_s"));
        printf("cold      %s: %lld blocks cold, %lld hot (%lld waiting), %.1f s CPU since "
               "start",
               json_is_true(json_object_get(cold, "enabled")) ? "on" : "off",
               (long long)ji(cold, "blocks"), (long long)ji(cold, "hot_blocks"),
               (long long)ji(cold, "waiting_blocks"),
               json_real_value(json_object_get(cold, "cpu_s")));
        if (behind > 0)
            printf(", behind for %.0f s", behind);
        printf("\n");
    }
    json_t *pl = json_object_get(st, "pipeline");
    char q[32];
    human((double)ji(pl, "queued_bytes"), q, sizeof(q));
    printf("pipeline  %lld queued (%s), %lld committed in %lld commits, %lld refused "
           "(back-pressure), %lld rejected, %lld commit errors\n",
           (long long)ji(pl, "queued_events"), q, (long long)ji(pl, "committed"),
           (long long)ji(pl, "commits"), (long long)ji(pl, "refused"),
           (long long)ji(pl, "rejected"), (long long)ji(pl, "commit_errors"));
    json_t *rules = json_object_get(st, "rules");
    const char *rerr = json_string_value(json_object_get(rules, "error"));
    printf("rules     %lld loaded%s%s\n", (long long)ji(rules, "loaded"),
           rerr && *rerr ? ": " : "", rerr && *rerr ? rerr : "");
    json_t *al = json_object_get(st, "alerts");
    printf("alerts    %lld in the last hour, %lld since start\n",
           (long long)ji(al, "last_hour"), (long long)ji(al, "total"));
}

int wk_cmd_status(int argc, char **argv)
{
    static const struct option lo[] = {
        { "socket", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { NULL, 0, NULL, 0 },
    };
    const char *sock = "/run/watchkeeper/api.sock";
    bool raw = false;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 's')
            sock = optarg;
        else if (c == 'j')
            raw = true;
        else {
            wk_cli_error("status", "unknown option '%s' (see 'watchkeeper status --help')",
                         argv[optind - 1]);
            return WK_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        wk_cli_error("status", "unexpected argument '%s'", argv[optind]);
        return WK_EXIT_USAGE;
    }
    CURL *h = curl_easy_init();
    if (!h) {
        wk_cli_error("status", "curl: initialisation failed");
        return WK_EXIT_RUNTIME;
    }
    struct body b = { 0 };
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
    curl_easy_setopt(h, CURLOPT_URL, "http://localhost/status");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);
    int rc = WK_EXIT_OK;
    if (cc != CURLE_OK) {
        wk_cli_error("status", "%s: %s (is the daemon running? see api.socket)", sock,
                     *errbuf ? errbuf : curl_easy_strerror(cc));
        rc = WK_EXIT_RUNTIME;
    } else if (code != 200 || !b.p) {
        wk_cli_error("status", "%s: HTTP %ld", sock, code);
        rc = WK_EXIT_RUNTIME;
    } else if (raw) {
        fputs(b.p, stdout);
    } else {
        json_error_t je;
        json_t *st = json_loads(b.p, 0, &je);
        if (!st) {
            wk_cli_error("status", "%s: bad JSON from the daemon: %s", sock, je.text);
            rc = WK_EXIT_RUNTIME;
        } else {
            print_table(st);
            json_decref(st);
        }
    }
    free(b.p);
    return rc;
}
