/* SPDX-License-Identifier: Apache-2.0 */
/*
 * watchkeeper ingest: run a parser (--format, or detected) over files or stdin and store
 * the events. Each file's cursor (device, inode, offset, line) commits with the events it
 * covers, so re-running after a crash or on a grown file stores nothing twice and loses
 * nothing. Unparsable lines go to the store's quarantine and are counted.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "watchkeeper/error.h"
#include "watchkeeper/parser.h"
#include "watchkeeper/store.h"
#include "watchkeeper/timefmt.h"

const char wk_cmd_ingest_usage[] =
    "usage: watchkeeper ingest --store DIR [--format FORMAT] [--host NAME] FILE...|-\n\n"
    "Parse input files (or '-' for stdin) and store their events in the store at DIR\n"
    "(created when absent). Without --format the format is detected from the first bytes.\n"
    "Each file's position is stored with its events: running ingest again on the same\n"
    "file (after a crash, or when it grew) stores only what is new. Lines that cannot be\n"
    "parsed are kept in the store's quarantine and counted; the first ones are reported\n"
    "on stderr with file and line.\n\n"
    "Options:\n"
    "  -s, --store DIR      the store directory (required)\n"
    "  -f, --format FORMAT  input format (see below); default: detect\n"
    "      --host NAME      host.name for events that carry none\n"
    "      --no-fsync       do not fsync commits (faster; a power loss may lose the\n"
    "                       last commits, never consistency)\n\n"
    "Prints one summary line per input on stdout: PATH: N events, M rejected.\n"
    "Exit: 0 ok (even with rejected lines), 2 usage, 3 runtime error.\n";

#define MAX_REPORTED_REJECTS 5

struct ingest {
    struct wk_parser_sink sink;
    struct wk_store *st;
    const struct wk_parser_ops *ops;
    const char *path;
    char source[PATH_MAX + 16];
    bool resumable;
    uint64_t dev, ino;
    uint64_t lineno;
    uint64_t consumed;    /* offset after the last line fed */
    uint64_t last_resume; /* resume offset of the last event (or safe reject) */
    uint64_t events, rejected, reported;
    int err;
    bool progress;
    int64_t last_progress;
};

static void cursor_bytes(const struct ingest *in, uint64_t offset, uint64_t line, uint8_t b[32])
{
    uint64_t v[4] = {in->dev, in->ino, offset, line};
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 8; j++)
            b[8 * i + j] = (uint8_t)(v[i] >> (8 * j));
    }
}

static uint64_t get64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int j = 7; j >= 0; j--)
        v = (v << 8) | b[j];
    return v;
}

static int sink_emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    struct ingest *in = (struct ingest *)s;
    uint8_t cb[32];
    struct wk_store_cursor cur = {in->source, cb, sizeof(cb)};
    if (resume > in->consumed)
        resume = in->consumed;
    /* The line number stored is only a hint for messages after a resume. */
    cursor_bytes(in, resume, in->lineno, cb);
    int rc = wk_store_add(in->st, ev, in->resumable ? &cur : NULL, NULL);
    if (rc < 0) {
        in->err = rc;
        return rc;
    }
    in->last_resume = resume;
    in->events++;
    return 0;
}

static int sink_reject(struct wk_parser_sink *s, const struct wk_line_ctx *where,
                       const char *reason, const char *raw, size_t len)
{
    struct ingest *in = (struct ingest *)s;
    char why[512];
    snprintf(why, sizeof(why), "%s:%llu: %s", in->path,
             (unsigned long long)(where ? where->lineno : 0), reason ? reason : "rejected");
    int rc = wk_store_quarantine_add(in->st, in->ops->name, why, raw, len);
    if (rc < 0) {
        in->err = rc;
        return rc;
    }
    in->rejected++;
    if (in->reported < MAX_REPORTED_REJECTS) {
        wk_cli_error("ingest", "%s (line quarantined)", why);
        in->reported++;
    }
    /* When the parser holds nothing from before this line, the cursor may move past it,
     * so a resumed ingest does not quarantine it twice. */
    if (in->resumable && where && in->last_resume == where->offset) {
        uint8_t cb[32];
        struct wk_store_cursor cur = {in->source, cb, sizeof(cb)};
        cursor_bytes(in, in->consumed, in->lineno, cb);
        if ((rc = wk_store_cursor_set(in->st, &cur)) < 0) {
            in->err = rc;
            return rc;
        }
        in->last_resume = in->consumed;
    }
    return 0;
}

static void show_progress(struct ingest *in, bool final)
{
    if (!in->progress)
        return;
    int64_t now = wk_time_mono_ns();
    if (!final && now - in->last_progress < WK_NS_PER_SEC / 2)
        return;
    in->last_progress = now;
    fprintf(stderr, "\r%s: %llu events, %llu rejected, %.1f MiB read%s", in->path,
            (unsigned long long)in->events, (unsigned long long)in->rejected,
            (double)in->consumed / (1 << 20), final ? "\n" : "");
}

/* Feed every complete line of fd from `offset` on. */
static int feed_fd(struct ingest *in, struct wk_parser *p, int fd, const char *pre, size_t prelen,
                   size_t max_line)
{
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    int rc = 0;
    bool eof = false, skipping = false;
    if (!buf)
        return -ENOMEM;
    if (prelen) {
        if (prelen > cap) {
            free(buf);
            return -EINVAL;
        }
        memcpy(buf, pre, prelen);
        len = prelen;
    }
    while (rc == 0) {
        if (!eof && len < cap) {
            ssize_t r = read(fd, buf + len, cap - len);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                rc = -errno;
                break;
            }
            if (r == 0)
                eof = true;
            len += (size_t)r;
        }
        size_t start = 0;
        for (;;) {
            char *nl = memchr(buf + start, '\n', len - start);
            size_t l;
            if (nl) {
                l = (size_t)(nl - (buf + start));
            } else if (eof && start < len) {
                l = len - start; /* last line without newline */
            } else {
                break;
            }
            size_t adv = l + (nl ? 1 : 0);
            struct wk_line_ctx where = {in->path, ++in->lineno, in->consumed};
            in->consumed += adv;
            if (skipping) {
                skipping = false; /* tail of an over-long line already rejected */
            } else if (l > max_line) {
                rc = sink_reject(&in->sink, &where, "line too long", buf + start, max_line);
            } else {
                rc = in->ops->feed_line(p, buf + start, l, &where, &in->sink);
            }
            start += adv;
            if (rc < 0)
                break;
        }
        if (rc < 0)
            break;
        memmove(buf, buf + start, len - start);
        len -= start;
        if (len == cap) {
            /* A line longer than the buffer: reject its head, skip to its end. */
            struct wk_line_ctx where = {in->path, ++in->lineno, in->consumed};
            rc = sink_reject(&in->sink, &where, "line too long", buf, max_line < cap ? max_line : cap);
            in->consumed += len;
            in->lineno--; /* counted again when its end is found */
            len = 0;
            skipping = true;
        }
        if (eof && len == 0)
            break;
        show_progress(in, false);
    }
    free(buf);
    return rc;
}

static int ingest_one(struct wk_store *st, const char *path, const struct wk_parser_ops *forced,
                      const char *host, bool tty)
{
    struct ingest in;
    memset(&in, 0, sizeof(in));
    in.sink.emit = sink_emit;
    in.sink.reject = sink_reject;
    in.st = st;
    in.path = path;
    in.progress = tty;
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        wk_cli_error("ingest", "%s: %s", path, strerror(errno));
        return WK_EXIT_RUNTIME;
    }
    int ret = WK_EXIT_RUNTIME;
    struct wk_parser *p = NULL;
    char head[65536];
    size_t hlen = 0;
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        wk_cli_error("ingest", "%s: %s", path, strerror(errno));
        goto out;
    }
    in.resumable = !is_stdin && S_ISREG(sb.st_mode);
    if (in.resumable) {
        char real[PATH_MAX];
        if (!realpath(path, real))
            snprintf(real, sizeof(real), "%s", path);
        snprintf(in.source, sizeof(in.source), "ingest:%s", real);
        in.dev = (uint64_t)sb.st_dev;
        in.ino = (uint64_t)sb.st_ino;
        ssize_t r = pread(fd, head, sizeof(head), 0);
        hlen = r > 0 ? (size_t)r : 0;
    } else {
        while (hlen < sizeof(head)) {
            ssize_t r = read(fd, head + hlen, sizeof(head) - hlen);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            hlen += (size_t)r;
        }
    }
    in.ops = forced ? forced : wk_parser_detect(head, hlen, path);
    if (!in.ops) {
        if (hlen == 0) { /* an empty input is simply nothing to store */
            printf("%s: 0 events, 0 rejected\n", path);
            ret = WK_EXIT_OK;
            goto out;
        }
        wk_cli_error("ingest", "%s: cannot tell the input format (use --format)", path);
        ret = WK_EXIT_USAGE;
        goto out;
    }
    uint64_t start = 0;
    if (in.resumable) {
        uint8_t cb[32];
        size_t clen;
        int rc = wk_store_cursor_get(st, in.source, cb, sizeof(cb), &clen);
        if (rc == 0 && clen == 32 && get64(cb) == in.dev && get64(cb + 8) == in.ino &&
            get64(cb + 16) <= (uint64_t)sb.st_size) {
            start = get64(cb + 16);
            in.lineno = get64(cb + 24);
        } else if (rc < 0 && rc != WK_ENOT_FOUND && rc != -ENOBUFS) {
            wk_cli_error("ingest", "%s: reading its cursor: %s", path, wk_strerror(rc));
            goto out;
        }
        if (lseek(fd, (off_t)start, SEEK_SET) < 0) {
            wk_cli_error("ingest", "%s: %s", path, strerror(errno));
            goto out;
        }
    }
    in.consumed = in.last_resume = start;
    struct wk_parser_opts popts;
    wk_parser_opts_init(&popts);
    popts.host = host;
    if (in.ops->create(&p, &popts) < 0) {
        wk_cli_error("ingest", "%s: out of memory", path);
        goto out;
    }
    int rc = feed_fd(&in, p, fd, in.resumable ? NULL : head, in.resumable ? 0 : hlen,
                     popts.max_line);
    if (rc == 0)
        rc = in.ops->flush(p, &in.sink);
    if (rc == 0 && in.resumable && in.last_resume != in.consumed) {
        /* Everything read was emitted by flush: the file is consumed up to here. */
        uint8_t cb[32];
        struct wk_store_cursor cur = {in.source, cb, sizeof(cb)};
        cursor_bytes(&in, in.consumed, in.lineno, cb);
        rc = wk_store_cursor_set(st, &cur);
    }
    if (rc == 0)
        rc = wk_store_flush(st);
    show_progress(&in, true);
    if (rc < 0) {
        if (in.err)
            rc = in.err;
        wk_cli_error("ingest", "%s: storing events: %s%s", path, wk_strerror(rc),
                     rc == WK_EMAP_FULL || rc == -ENOSPC
                         ? " (nothing committed was lost; free space or raise the ceiling)"
                         : "");
        goto out;
    }
    printf("%s: %llu events, %llu rejected\n", path, (unsigned long long)in.events,
           (unsigned long long)in.rejected);
    ret = WK_EXIT_OK;
out:
    if (p)
        in.ops->destroy(p);
    if (!is_stdin)
        close(fd);
    return ret;
}

int wk_cmd_ingest(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"store", required_argument, NULL, 's'},
        {"format", required_argument, NULL, 'f'},
        {"host", required_argument, NULL, 'H'},
        {"no-fsync", no_argument, NULL, 'N'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *format = NULL, *host = NULL;
    bool fsync_on = true;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:f:", longopts, NULL)) != -1) {
        switch (c) {
        case 's': dir = optarg; break;
        case 'f': format = optarg; break;
        case 'H': host = optarg; break;
        case 'N': fsync_on = false; break;
        default:
            wk_cli_error("ingest", "unknown option or missing value: '%s' (see --help)",
                         argv[optind - 1]);
            return WK_EXIT_USAGE;
        }
    }
    if (!dir) {
        wk_cli_error("ingest", "--store DIR is required");
        return WK_EXIT_USAGE;
    }
    if (optind >= argc) {
        wk_cli_error("ingest", "no input files (use '-' for stdin)");
        return WK_EXIT_USAGE;
    }
    const struct wk_parser_ops *forced = NULL;
    if (format && !(forced = wk_parser_find(format))) {
        char names[512] = "";
        for (const struct wk_parser_ops *const *p = wk_parsers(); *p; p++) {
            strncat(names, names[0] ? ", " : "", sizeof(names) - strlen(names) - 1);
            strncat(names, (*p)->name, sizeof(names) - strlen(names) - 1);
        }
        wk_cli_error("ingest", "unknown format '%s' (known: %s)", format, names);
        return WK_EXIT_USAGE;
    }
    struct wk_store_opts so;
    wk_store_opts_init(&so);
    so.fsync = fsync_on;
    struct wk_store *st;
    int rc = wk_store_open(&st, dir, &so);
    if (rc < 0) {
        wk_cli_error("ingest", "opening store %s: %s", dir, wk_strerror(rc));
        return WK_EXIT_RUNTIME;
    }
    bool tty = isatty(STDERR_FILENO);
    int ret = WK_EXIT_OK;
    for (int i = optind; i < argc && ret == WK_EXIT_OK; i++) {
        ret = ingest_one(st, argv[i], forced, host, tty);
        fflush(stdout);
    }
    wk_store_close(st);
    return ret;
}
