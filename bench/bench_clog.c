/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container-log ingest benchmark: json-file lines of realistic shapes (mixed sizes, 5% JSON
 * app logs, some lines over 16 KiB split by dockerd into partial entries, escapes) parsed
 * by the json-file parser into events, side by side with the raw limit measured in the same
 * run on the same bytes: line split + json_loads of every line with jansson, nothing else.
 * Usage: bench_clog [MB] [FILE]   (default 64 MB generated in memory; prints lines/s, MB/s)
 *        bench_clog MB --write FILE   (only write the generated lines to FILE)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../collector/sources/clog/clog_private.h"
#include "watchkeeper/parser.h"
#include "watchkeeper/timefmt.h"

static char *gen(size_t target, size_t *len, size_t *nlines)
{
    size_t cap = target + (1 << 20), n = 0, lines = 0;
    char *buf = malloc(cap);
    unsigned seed = 12345;
    int64_t ts = INT64_C(1763884800000000000);
    char msg[70000], esc[140000], tsbuf[64];
    static const char *const words[] = {
        "GET",  "/api/v1/items", "200",          "user=alice", "latency_ms=12", "cache",
        "miss", "\"quoted\"",    "path=C:\\tmp", "<tag>&amp;", "caf\xc3\xa9",   "\t"};
    while (n < target) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = (seed >> 8) % 1000;
        size_t ml = 0;
        if (r < 50) { /* 5% JSON app logs */
            ml = (size_t)snprintf(msg, sizeof(msg),
                                  "{\"level\":\"info\",\"ts\":%lld,\"msg\":\"request done\","
                                  "\"status\":%u,\"path\":\"/api/v1/items/%u\",\"dur_ms\":%u}\n",
                                  (long long)(ts / 1000000), 200 + r % 5, r, r % 97);
        } else if (r < 55) { /* 0.5%: 40 KiB lines, split by dockerd at 16 KiB */
            for (ml = 0; ml < 40000; ml++)
                msg[ml] = (char)('a' + (ml * 7 + r) % 26);
            msg[ml++] = '\n';
        } else { /* mixed 20..400 byte text lines */
            size_t want = 20 + (seed >> 4) % 380;
            while (ml < want) {
                const char *w = words[((seed = seed * 1103515245u + 12345u) >> 16) % 12];
                size_t wl = strlen(w);
                memcpy(msg + ml, w, wl);
                ml += wl;
                msg[ml++] = ' ';
            }
            msg[ml++] = '\n';
        }
        /* Entries of at most 16 KiB of message each, like dockerd's copier. */
        for (size_t off = 0; off < ml;) {
            size_t part = ml - off > 16384 ? 16384 : ml - off;
            size_t e = 0;
            for (size_t i = off; i < off + part; i++) {
                unsigned char c = (unsigned char)msg[i];
                if (c == '"' || c == '\\') {
                    esc[e++] = '\\';
                    esc[e++] = (char)c;
                } else if (c == '\n') {
                    esc[e++] = '\\';
                    esc[e++] = 'n';
                } else if (c == '\t') {
                    esc[e++] = '\\';
                    esc[e++] = 't';
                } else if (c == '<' || c == '>' || c == '&') {
                    e += (size_t)sprintf(esc + e, "\\u%04x", c);
                } else {
                    esc[e++] = (char)c;
                }
            }
            ts += 1000 + (seed % 100000);
            wk_time_format(ts, tsbuf);
            if (n + e + 128 > cap) {
                cap *= 2;
                buf = realloc(buf, cap);
            }
            n += (size_t)sprintf(buf + n, "{\"log\":\"%.*s\",\"stream\":\"%s\",\"time\":\"%s\"}\n",
                                 (int)e, esc, r % 10 == 0 ? "stderr" : "stdout", tsbuf);
            lines++;
            off += part;
        }
    }
    *len = n;
    *nlines = lines;
    return buf;
}

struct sink {
    struct wk_parser_sink s;
    size_t events, bytes;
    bool serialise;
};

static int emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    struct sink *k = (struct sink *)s;
    (void)resume;
    k->events++;
    if (k->serialise) {
        char *js = NULL;
        size_t l = 0;
        if (wk_event_to_json(ev, &js, &l) == 0)
            k->bytes += l;
        free(js);
    }
    return 0;
}

static int reject(struct wk_parser_sink *s, const struct wk_line_ctx *w, const char *why,
                  const char *raw, size_t len)
{
    (void)s, (void)w, (void)why, (void)raw, (void)len;
    return 0;
}

static double now(void)
{
    return (double)wk_time_mono_ns() / 1e9;
}

static void report(const char *what, double secs, size_t lines, size_t bytes, double base)
{
    printf("%-40s %8.3f s %10.0f lines/s %8.1f MB/s", what, secs, (double)lines / secs,
           (double)bytes / secs / 1e6);
    if (base > 0)
        printf("  x%.2f vs jansson", base / secs);
    printf("\n");
}

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? (size_t)atoi(argv[1]) : 64;
    size_t len = 0, lines = 0;
    char *buf;
    if (argc > 3 && strcmp(argv[2], "--write") == 0) {
        buf = gen(mb << 20, &len, &lines);
        FILE *f = fopen(argv[3], "wb");
        if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
            perror(argv[3]);
            return 1;
        }
        printf("%s: %zu lines, %.1f MB\n", argv[3], lines, (double)len / 1e6);
        free(buf);
        return 0;
    }
    if (argc > 2) {
        FILE *f = fopen(argv[2], "rb");
        if (!f) {
            perror(argv[2]);
            return 1;
        }
        fseek(f, 0, SEEK_END);
        len = (size_t)ftell(f);
        rewind(f);
        buf = malloc(len + 1);
        if (fread(buf, 1, len, f) != len)
            return 1;
        fclose(f);
        for (size_t i = 0; i < len; i++)
            lines += buf[i] == '\n';
    } else {
        buf = gen(mb << 20, &len, &lines);
    }
    printf("input: %zu lines, %.1f MB json-file\n", lines, (double)len / 1e6);

    /* 1. The raw limit: split + json_loads of every line. */
    double t0 = now();
    size_t ok = 0;
    for (size_t off = 0; off < len;) {
        const char *nl = memchr(buf + off, '\n', len - off);
        size_t l = nl ? (size_t)(nl - (buf + off)) : len - off;
        json_t *j = json_loadb(buf + off, l, 0, NULL);
        ok += j != NULL;
        json_decref(j);
        off += l + 1;
    }
    double base = now() - t0;
    report("jansson json_loads per line (raw limit)", base, lines, len, 0);

    /* 2. The fast path decode alone. */
    struct wk__jf_rec r = {0};
    t0 = now();
    size_t fast = 0;
    for (size_t off = 0; off < len;) {
        const char *nl = memchr(buf + off, '\n', len - off);
        size_t l = nl ? (size_t)(nl - (buf + off)) : len - off;
        fast += wk__jsonfile_fast(buf + off, l, &r) == 1;
        off += l + 1;
    }
    report("fast-path decode only", now() - t0, lines, len, base);
    wk__jf_rec_fini(&r);

    /* 3. The json-file parser: events built (reassembly, app.* for JSON messages). */
    for (int ser = 0; ser < 2; ser++) {
        const struct wk_parser_ops *ops = wk_parser_find("json-file");
        struct wk_parser_opts opts;
        wk_parser_opts_init(&opts);
        opts.host = "bench-host";
        struct wk_parser *p = NULL;
        ops->create(&p, &opts);
        struct sink k = {{emit, reject}, 0, 0, ser == 1};
        const char *path = "/var/lib/docker/containers/0123456789abcdef0123456789abcdef0123456789"
                           "abcdef0123456789abcdef/0123456789abcdef0123456789abcdef0123456789abcd"
                           "ef0123456789abcdef-json.log";
        t0 = now();
        uint64_t ln = 0;
        for (size_t off = 0; off < len;) {
            const char *nl = memchr(buf + off, '\n', len - off);
            size_t l = nl ? (size_t)(nl - (buf + off)) : len - off;
            struct wk_line_ctx w = {path, ++ln, off};
            ops->feed_line(p, buf + off, l, &w, &k.s);
            off += l + 1;
        }
        ops->flush(p, &k.s);
        double t = now() - t0;
        report(ser ? "parser + event JSON serialisation" : "json-file parser -> events", t, lines,
               len, base);
        printf("  (%zu events from %zu lines; fast path took %zu of %zu lines)\n", k.events, lines,
               fast, lines);
        ops->destroy(p);
    }
    (void)ok;
    free(buf);
    return 0;
}
