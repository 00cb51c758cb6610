/* SPDX-License-Identifier: Apache-2.0 */
/*
 * watchkeeper query: events of a time range matching filters, from the store, as JSON
 * lines (the exact form ingest accepts: ingest then query is the identity), CSV, or a
 * table that fits the terminal.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "watchkeeper/error.h"
#include "watchkeeper/jsonw.h"
#include "watchkeeper/store.h"
#include "watchkeeper/timefmt.h"

const char wk_cmd_query_usage[] =
    "usage: watchkeeper query --store DIR [--since T] [--until T] [--container ID|NAME]\n"
    "                         [--source S] [--where FIELD=VALUE]... [--limit N]\n"
    "                         [--format jsonl|csv|table] [--fields F1,F2,...]\n\n"
    "Print the stored events of a time range that match every filter, in store order.\n\n"
    "Options:\n"
    "  -s, --store DIR          the store directory (required)\n"
    "      --since T, --until T time range, inclusive. T is RFC 3339\n"
    "                           (2024-05-01T10:00:00Z), a date (2024-05-01), 'now', a\n"
    "                           duration ago (-1h, 30m, 2d, 1w) or @UNIXSECONDS\n"
    "  -c, --container ID|NAME  full id, id prefix (4+ hex digits) or name\n"
    "      --source S           event.module: auditd, docker, clog, ...\n"
    "  -w, --where FIELD=VALUE  the event (or one of its records) has FIELD equal to\n"
    "                           VALUE; repeatable (all must hold)\n"
    "  -n, --limit N            stop after N events\n"
    "  -f, --format F           jsonl (default; what ingest accepts), csv (with a header\n"
    "                           row), table (fits the terminal width)\n"
    "      --fields LIST        columns for csv and table (default:\n"
    "                           @timestamp,event.module,event.action,container.name,\n"
    "                           user.name,summary; 'summary' is the command line,\n"
    "                           message, file path or original text)\n\n"
    "Exit: 0 (also when nothing matches), 2 usage, 3 runtime error.\n";

enum fmt { FMT_JSONL, FMT_CSV, FMT_TABLE };

#define MAX_COLS 32

static const char *const default_cols[] = {"@timestamp", "event.module", "event.action",
                                           "container.name", "user.name", "summary"};

/* Text of a field for csv/table: strings as is, lists joined by spaces, numbers. */
static size_t field_text(const struct wk_event *ev, const char *name, char *buf, size_t cap)
{
    if (strcmp(name, "@timestamp") == 0)
        return wk_time_format(wk_event_ts(ev), buf);
    if (strcmp(name, "summary") == 0) {
        static const char *const pref[] = {"process.command_line", "message", "file.path",
                                           "event.original"};
        for (size_t i = 0; i < sizeof(pref) / sizeof(pref[0]); i++) {
            size_t n = field_text(ev, pref[i], buf, cap);
            if (n)
                return n;
        }
        return 0;
    }
    struct wk_key k = wk_key_init(name);
    const struct wk_value *v = wk_event_get(ev, 0, &k);
    for (unsigned r = 1; !v && r <= wk_event_nrecords(ev); r++)
        v = wk_event_get(ev, r, &k);
    if (!v)
        return 0;
    int n = 0;
    switch (v->kind) {
    case WK_VAL_STR:
    case WK_VAL_JSON:
        n = snprintf(buf, cap, "%.*s", (int)(v->len < cap ? v->len : cap - 1), v->u.s);
        break;
    case WK_VAL_INT:
        n = snprintf(buf, cap, "%lld", (long long)v->u.i);
        break;
    case WK_VAL_REAL:
        n = snprintf(buf, cap, "%.17g", v->u.r);
        break;
    case WK_VAL_BOOL:
        n = snprintf(buf, cap, "%s", v->u.b ? "true" : "false");
        break;
    case WK_VAL_NULL:
        n = snprintf(buf, cap, "null");
        break;
    case WK_VAL_STRLIST: {
        size_t off = 0;
        buf[0] = '\0';
        for (uint32_t i = 0; i < v->len && off + 1 < cap; i++) {
            int w = snprintf(buf + off, cap - off, "%s%.*s", i ? " " : "",
                             (int)v->u.items[i].len, v->u.items[i].s);
            if (w < 0)
                break;
            off += (size_t)w;
        }
        n = (int)(off < cap ? off : cap - 1);
        break;
    }
    default:
        break;
    }
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

static void csv_cell(const char *s, size_t n)
{
    bool quote = false;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        fwrite(s, 1, n, stdout);
        return;
    }
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            putchar('"');
        putchar(s[i]);
    }
    putchar('"');
}

static int term_width(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    if (c && atoi(c) >= 40)
        return atoi(c);
    return 120;
}

/* Table cell: control characters become spaces, cut to the width (UTF-8 aware). */
static void table_cell(const char *s, size_t n, int width, bool last)
{
    int cols = 0;
    size_t i = 0;
    while (i < n && cols < width) {
        unsigned char ch = (unsigned char)s[i];
        size_t len = ch < 0x80 ? 1 : ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : ch >= 0xc0 ? 2 : 1;
        if (i + len > n)
            break;
        if (ch < 0x20 || ch == 0x7f)
            putchar(' ');
        else
            fwrite(s + i, 1, len, stdout);
        i += len;
        cols++;
    }
    if (!last)
        for (; cols < width + 2; cols++)
            putchar(' ');
}

static int parse_time(const char *opt, const char *s, int64_t *out)
{
    if (wk_time_parse_user(s, wk_time_now_ns(), out) < 0) {
        wk_cli_error("query", "%s: cannot parse time '%s' (RFC 3339, YYYY-MM-DD, now, -1h, "
                     "2d, @SECONDS)", opt, s);
        return -1;
    }
    return 0;
}

int wk_cmd_query(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"store", required_argument, NULL, 's'},   {"since", required_argument, NULL, 'S'},
        {"until", required_argument, NULL, 'U'},   {"container", required_argument, NULL, 'c'},
        {"source", required_argument, NULL, 'o'},  {"where", required_argument, NULL, 'w'},
        {"limit", required_argument, NULL, 'n'},   {"format", required_argument, NULL, 'f'},
        {"fields", required_argument, NULL, 'F'},  {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    struct wk_store_filter f;
    struct wk_store_term terms[32];
    char *cols[MAX_COLS];
    size_t ncols = 0;
    char *fields_copy = NULL;
    enum fmt fmt = FMT_JSONL;
    unsigned long long limit = 0;
    memset(&f, 0, sizeof(f));
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:c:w:n:f:", longopts, NULL)) != -1) {
        switch (c) {
        case 's': dir = optarg; break;
        case 'S':
            if (parse_time("--since", optarg, &f.since) < 0)
                return WK_EXIT_USAGE;
            break;
        case 'U':
            if (parse_time("--until", optarg, &f.until) < 0)
                return WK_EXIT_USAGE;
            break;
        case 'c': f.container = optarg; break;
        case 'o': f.source = optarg; break;
        case 'w': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                wk_cli_error("query", "--where wants FIELD=VALUE, got '%s'", optarg);
                return WK_EXIT_USAGE;
            }
            if (f.nterms == sizeof(terms) / sizeof(terms[0])) {
                wk_cli_error("query", "too many --where filters (at most 32)");
                return WK_EXIT_USAGE;
            }
            *eq = '\0';
            terms[f.nterms].field = optarg;
            terms[f.nterms].value = eq + 1;
            f.nterms++;
            break;
        }
        case 'n': {
            char *end;
            errno = 0;
            limit = strtoull(optarg, &end, 10);
            if (errno || *end || !*optarg || optarg[0] == '-') {
                wk_cli_error("query", "--limit wants a number, got '%s'", optarg);
                return WK_EXIT_USAGE;
            }
            break;
        }
        case 'f':
            if (strcmp(optarg, "jsonl") == 0)
                fmt = FMT_JSONL;
            else if (strcmp(optarg, "csv") == 0)
                fmt = FMT_CSV;
            else if (strcmp(optarg, "table") == 0)
                fmt = FMT_TABLE;
            else {
                wk_cli_error("query", "unknown --format '%s' (jsonl, csv, table)", optarg);
                return WK_EXIT_USAGE;
            }
            break;
        case 'F':
            free(fields_copy);
            fields_copy = strdup(optarg);
            ncols = 0;
            for (char *save = NULL, *t = strtok_r(fields_copy, ",", &save); t && ncols < MAX_COLS;
                 t = strtok_r(NULL, ",", &save))
                cols[ncols++] = t;
            break;
        default:
            wk_cli_error("query", "unknown option or missing value: '%s' (see --help)",
                         argv[optind - 1]);
            free(fields_copy);
            return WK_EXIT_USAGE;
        }
    }
    if (!dir || optind < argc) {
        wk_cli_error("query", optind < argc ? "unexpected argument '%s'"
                                            : "--store DIR is required%s",
                     optind < argc ? argv[optind] : "");
        free(fields_copy);
        return WK_EXIT_USAGE;
    }
    if (f.since && f.until && f.since > f.until) {
        wk_cli_error("query", "--since is after --until");
        free(fields_copy);
        return WK_EXIT_USAGE;
    }
    if (!ncols) {
        for (size_t i = 0; i < sizeof(default_cols) / sizeof(default_cols[0]); i++)
            cols[ncols++] = (char *)default_cols[i];
    }
    f.terms = terms;
    struct wk_store_opts so;
    wk_store_opts_init(&so);
    so.read_only = true;
    struct wk_store *st = NULL;
    struct wk_store_reader *r = NULL;
    struct wk_store_iter *it = NULL;
    struct wk_jsonw jw = {0};
    int ret = WK_EXIT_RUNTIME;
    int rc = wk_store_open(&st, dir, &so);
    if (rc < 0) {
        wk_cli_error("query", "opening store %s: %s", dir,
                     rc == -ENOENT ? "no store there" : wk_strerror(rc));
        goto out;
    }
    if ((rc = wk_store_reader_open(st, &r)) < 0 || (rc = wk_store_iter_new(r, &f, &it)) < 0) {
        wk_cli_error("query", "reading store %s: %s", dir, wk_strerror(rc));
        goto out;
    }
    int width = term_width();
    int widths[MAX_COLS];
    if (fmt == FMT_TABLE) {
        /* Fixed widths for the known narrow columns; the last takes what is left. */
        int used = 0;
        for (size_t i = 0; i < ncols; i++) {
            const char *n = cols[i];
            widths[i] = strcmp(n, "@timestamp") == 0 ? 30
                        : strstr(n, "module")        ? 7
                        : strstr(n, "action")        ? 14
                        : strstr(n, ".id")           ? 12
                                                     : 16;
            if (i + 1 < ncols)
                used += widths[i] + 2;
        }
        /* Narrow terminal: shrink the widest fixed column until the last one gets 12. */
        while (ncols > 1 && used + 12 > width) {
            size_t w = 0;
            for (size_t i = 1; i + 1 < ncols; i++)
                if (widths[i] > widths[w])
                    w = i;
            if (widths[w] <= 4)
                break;
            widths[w]--;
            used--;
        }
        widths[ncols - 1] = width - used > 4 ? width - used : 4;
        for (size_t i = 0; i < ncols; i++) {
            const char *h = cols[i];
            table_cell(h, strlen(h), widths[i], i + 1 == ncols);
        }
        putchar('\n');
    } else if (fmt == FMT_CSV) {
        for (size_t i = 0; i < ncols; i++) {
            if (i)
                putchar(',');
            csv_cell(cols[i], strlen(cols[i]));
        }
        putchar('\n');
    }
    const struct wk_event *ev;
    unsigned long long n = 0;
    static char cell[1 << 16];
    while ((!limit || n < limit) && (rc = wk_store_iter_next(it, &ev, NULL)) == 1) {
        n++;
        if (fmt == FMT_JSONL) {
            /* written directly (jsonw.h: the bytes of wk_event_to_json), events gathered
             * into 64 KiB writes */
            if ((rc = wk_jsonw_event(&jw, ev)) < 0)
                break;
            wk_jsonw_put(&jw, "\n", 1);
            if (jw.len >= 1 << 16) {
                fwrite(jw.p, 1, jw.len, stdout);
                wk_jsonw_reset(&jw);
            }
            continue;
        }
        for (size_t i = 0; i < ncols; i++) {
            size_t len = field_text(ev, cols[i], cell, sizeof(cell));
            if (fmt == FMT_CSV) {
                if (i)
                    putchar(',');
                csv_cell(cell, len);
            } else {
                table_cell(cell, len, widths[i], i + 1 == ncols);
            }
        }
        putchar('\n');
    }
    if (jw.len)
        fwrite(jw.p, 1, jw.len, stdout);
    if (rc == WK_EREBUILD) { /* a value of another rebuild version: say which and why */
        char why[256];
        wk_cli_error("query", "reading store %s: %s", dir, wk_store_rebuild_why(why, sizeof(why)));
        goto out;
    }
    if (rc < 0) {
        wk_cli_error("query", "reading store %s: %s", dir, wk_strerror(rc));
        goto out;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        wk_cli_error("query", "writing output: %s", strerror(errno));
        goto out;
    }
    ret = WK_EXIT_OK;
out:
    wk_jsonw_fini(&jw);
    wk_store_iter_free(it);
    wk_store_reader_close(r);
    wk_store_close(st);
    free(fields_copy);
    return ret;
}
