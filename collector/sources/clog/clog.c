/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `clog` live source: tails container log files — Docker json-file logs under
 * <data-root>/containers/<id>/ and Kubernetes CRI logs under /var/log/pods/ — through the
 * json-file and cri parsers. Discovery by inotify (libuv fs events) plus a periodic rescan;
 * files followed by (dev, inode, offset) across rename rotation (the old file is finished
 * first), copytruncate (a gap is recorded) and deletion (the open descriptor is drained).
 * The cursor holds one fixed-size slot per followed file (see docs/docker.md).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../idle_watch_private.h"
#include "../docker/docker_private.h"
#include "clog_private.h"
#include "watchkeeper/containers.h"
#include "watchkeeper/error.h"
#include "watchkeeper/log.h"
#include "watchkeeper/mem.h"
#include "watchkeeper/source.h"
#include "watchkeeper/timefmt.h"

#define CURSOR_MAGIC 0x31434b57u /* "WKC1" */

struct clog_cfg {
    char *docker_root;
    char *docker_host;
    char *pods_dir;
    char *containers_dir;
    int64_t poll_interval;
    int64_t idle_poll;
    int64_t rescan_interval;
    int64_t partial_timeout;
    uint64_t max_message;
    uint64_t read_chunk;
    bool parse_json;
    char *app_prefix;
    char *hostname;
};

#define DEFAULT_DOCKER_ROOT "/var/lib/docker"

static const struct wk_option clog_options[] = {
    {"docker_root", WK_OPT_PATH, "auto", offsetof(struct clog_cfg, docker_root),
     "dockerd --data-root: json-file logs are under <docker_root>/containers; auto: ask "
     "dockerd at docker_host (GET /info, DockerRootDir), else " DEFAULT_DOCKER_ROOT
     "; empty: off"},
    {"docker_host", WK_OPT_STRING, "", offsetof(struct clog_cfg, docker_host),
     "the dockerd asked by docker_root: auto (unix:///path); empty: $DOCKER_HOST, else "
     "unix:///var/run/docker.sock"},
    {"pods_dir", WK_OPT_PATH, "/var/log/pods", offsetof(struct clog_cfg, pods_dir),
     "CRI logs <pods_dir>/<ns>_<pod>_<uid>/<container>/<n>.log (empty: off)"},
    {"containers_dir", WK_OPT_PATH, "/var/log/containers",
     offsetof(struct clog_cfg, containers_dir),
     "CRI symlinks <pod>_<ns>_<container>-<id>.log, for files not found under pods_dir"},
    {"poll_interval", WK_OPT_DURATION, "100ms", offsetof(struct clog_cfg, poll_interval),
     "how often followed files are checked for growth, rotation and deletion"},
    {"idle_poll", WK_OPT_DURATION, "2s", offsetof(struct clog_cfg, idle_poll),
     "after a few checks with nothing new in any followed file: the inotify watches on the "
     "log directories wake the source at once, and it checks only this often (the fallback "
     "where inotify does not fire); at most poll_interval: never idle"},
    {"rescan_interval", WK_OPT_DURATION, "10s", offsetof(struct clog_cfg, rescan_interval),
     "full directory rescan (inotify covers the rest)"},
    {"partial_timeout", WK_OPT_DURATION, "5s", offsetof(struct clog_cfg, partial_timeout),
     "a partial line left unfinished this long in an idle file is stored as it is"},
    {"max_message", WK_OPT_SIZE, "1MiB", offsetof(struct clog_cfg, max_message),
     "reassembled messages are cut here (flagged log.truncated)"},
    {"read_chunk", WK_OPT_SIZE, "256KiB", offsetof(struct clog_cfg, read_chunk),
     "bytes read per file per pass (fairness between files)"},
    {"parse_json", WK_OPT_BOOL, "true", offsetof(struct clog_cfg, parse_json),
     "parse JSON messages into fields under app_prefix"},
    {"app_prefix", WK_OPT_STRING, "app", offsetof(struct clog_cfg, app_prefix),
     "field prefix for parsed JSON messages"},
    {"hostname", WK_OPT_STRING, NULL, offsetof(struct clog_cfg, hostname),
     "host.name on events (default: gethostname)"},
    {NULL, WK_OPT_END, NULL, 0, NULL},
};

/* One cursor slot: where to resume one file. Fixed size, native endianness. */
struct slot {
    uint64_t dev, ino, resume, last_emitted;
    uint64_t held[3];
    uint32_t nheld, used;
};

struct tail {
    struct wk_source *src;
    struct wk_parser_sink sink;
    char *path; /* the name we opened */
    bool main;  /* path is the live name (not a rotated or deleted one) */
    enum wk__clog_format fmt;
    int fd;
    uint64_t dev, ino;
    uint64_t off;         /* next byte to read */
    struct wk__cbuf line; /* bytes of an unfinished line, starting at off - line.len */
    uint64_t lineno;
    struct wk_parser *p;
    int slot;
    bool draining, rewind, idle_flushed;
    bool inherited;    /* p came from the rotated-away predecessor, holding its partial */
    uint64_t cur_next; /* offset after the line being fed */
    int64_t last_growth;
    /* Rotated away while the pipeline was full: once finished, catch up with the siblings
     * of this live name written after catch_after (as an unstalled rotation does). */
    char *catch_main;
    int64_t catch_after;
    struct tail *next;
};

struct dwatch {
    uv_fs_event_t h;
    struct wk_source *src;
    char *dir;
    bool dead;
    struct dwatch *next;
};

struct wk_source {
    struct wk_source_base base;
    struct clog_cfg cfg;
    uv_timer_t poll, kick;
    bool idle;      /* polling every idle_poll; the directory watches wake it */
    unsigned quiet; /* passes in a row that found nothing */
    struct dwatch *watches;
    int open_handles;
    void (*stop_done)(struct wk_source *);
    bool stopping, full, started;
    struct tail *tails;
    struct wk_parser *handover_p; /* a finished file's parser still holding a partial */
    char *handover_path;          /* ... for the successor of this live name */
    struct slot *slots;
    size_t nslots, capslots;
    struct wk__cbuf cursor; /* magic, count, slots: rebuilt when slots change */
    struct wk_event *gapev;
    struct wk_parser_opts popts;
    int64_t last_rescan;
    bool first_scan_done;
    /* Files finished lately (dev, inode, mtime): a catch-up never reads one twice, though
     * files read side by side may finish out of mtime order. */
    struct { uint64_t dev, ino; int64_t mtime; } done[32];
    unsigned ndone;
    char hostname[256];
    uint64_t events, rejected;
    char *readbuf;
    char last_error[256];
};

/* ---- cursor slots ------------------------------------------------------------------- */

static void cursor_sync(struct wk_source *s)
{
    s->cursor.len = 0;
    uint32_t magic = CURSOR_MAGIC, n = (uint32_t)s->nslots;
    if (wk__cbuf_reserve(&s->cursor, 8 + s->nslots * sizeof(struct slot)) < 0)
        return;
    memcpy(s->cursor.p, &magic, 4);
    memcpy(s->cursor.p + 4, &n, 4);
    if (s->nslots)
        memcpy(s->cursor.p + 8, s->slots, s->nslots * sizeof(struct slot));
    s->cursor.len = 8 + s->nslots * sizeof(struct slot);
}

static void slot_store(struct wk_source *s, int i)
{
    memcpy(s->cursor.p + 8 + (size_t)i * sizeof(struct slot), &s->slots[i], sizeof(struct slot));
}

static int slot_find(struct wk_source *s, uint64_t dev, uint64_t ino)
{
    for (size_t i = 0; i < s->nslots; i++) {
        if (s->slots[i].dev == dev && s->slots[i].ino == ino)
            return (int)i;
    }
    return -1;
}

static int slot_add(struct wk_source *s, uint64_t dev, uint64_t ino)
{
    if (s->nslots == s->capslots) {
        size_t nc = s->capslots ? s->capslots * 2 : 16;
        struct slot *ns = realloc(s->slots, nc * sizeof(*ns));
        if (!ns)
            return -ENOMEM;
        s->slots = ns;
        s->capslots = nc;
    }
    struct slot *sl = &s->slots[s->nslots];
    memset(sl, 0, sizeof(*sl));
    sl->dev = dev;
    sl->ino = ino;
    sl->last_emitted = UINT64_MAX;
    sl->used = 1;
    s->nslots++;
    cursor_sync(s);
    return (int)s->nslots - 1;
}

static void slot_remove(struct wk_source *s, int i)
{
    size_t last = s->nslots - 1;
    if ((size_t)i != last) {
        s->slots[i] = s->slots[last];
        for (struct tail *t = s->tails; t; t = t->next) {
            if (t->slot == (int)last)
                t->slot = i;
        }
    }
    s->nslots--;
    cursor_sync(s);
}

/* ---- events ------------------------------------------------------------------------- */

/* By hand-over when the sink can take it (no copy): ev is the parser's event, which it
 * rebuilds from empty (wk_event_reset) for every message and does not read after emit, or
 * the gap event, also reset before each use; either may be left empty. */
static int submit(struct wk_source *s, struct wk_event *ev)
{
    int rc = wk_source_hand_over(s->base.sink, s, ev, s->cursor.p, s->cursor.len);
    if (rc == -EAGAIN) {
        s->full = true;
        return rc;
    }
    if (rc < 0) {
        snprintf(s->last_error, sizeof(s->last_error), "submit: %s", wk_strerror(rc));
        return rc;
    }
    s->events++;
    return 0;
}

static void emit_gap(struct wk_source *s, const char *path, const char *reason)
{
    struct wk_event *ev = s->gapev;
    int64_t now = wk_time_now_ns();
    wk_event_reset(ev);
    wk_event_set_ts(ev, now);
    struct wk_key k_kind = wk_key_init("event.kind"), k_r = wk_key_init("gap.reason"),
                  k_c = wk_key_init("gap.count"), k_s = wk_key_init("gap.start"),
                  k_e = wk_key_init("gap.end"), k_p = wk_key_init("log.file.path");
    wk_event_add_str(ev, 0, &WK_KEY_EVENT_MODULE, "clog", 4);
    wk_event_add_str(ev, 0, &k_kind, "gap", 3);
    wk_event_add_str(ev, 0, &WK_KEY_EVENT_ACTION, "gap", 3);
    if (s->hostname[0])
        wk_event_add_str(ev, 0, &WK_KEY_HOST_NAME, s->hostname, strlen(s->hostname));
    wk_event_add_str(ev, 0, &k_r, reason, strlen(reason));
    wk_event_add_int(ev, 0, &k_c, -1);
    wk_event_add_int(ev, 0, &k_s, now);
    wk_event_add_int(ev, 0, &k_e, now);
    if (path)
        wk_event_add_str(ev, 0, &k_p, path, strlen(path));
    wk_log_warn("clog: gap: %s%s%s", reason, path ? ": " : "", path ? path : "");
    /* A gap is best effort under back-pressure: it is logged either way. */
    submit(s, ev);
}

static int tail_emit(struct wk_parser_sink *sk, struct wk_event *ev, uint64_t resume)
{
    struct tail *t = wk_container_of(sk, struct tail, sink);
    struct wk_source *s = t->src;
    struct slot *sl = &s->slots[t->slot];
    struct slot old = *sl;
    struct wk__clog_state st;
    wk__clog_parser_state(t->p, &st);
    if (t->inherited) {
        /* Held offsets may belong to the predecessor file: resume after this line. */
        sl->resume = t->cur_next;
        sl->last_emitted = UINT64_MAX;
        sl->nheld = 0;
    } else {
        sl->resume = resume;
        sl->last_emitted = st.last_emitted;
        sl->nheld = st.nheld;
        memcpy(sl->held, st.held, sizeof(sl->held));
    }
    slot_store(s, t->slot);
    int rc = submit(s, ev);
    if (rc == -EAGAIN) {
        *sl = old;
        slot_store(s, t->slot);
        t->rewind = true;
    } else if (t->inherited && st.nheld == 0) {
        t->inherited = false;
    }
    return rc < 0 ? rc : 0;
}

static int tail_reject(struct wk_parser_sink *sk, const struct wk_line_ctx *where,
                       const char *reason, const char *raw, size_t len)
{
    struct tail *t = wk_container_of(sk, struct tail, sink);
    struct wk_source *s = t->src;
    (void)where;
    s->rejected++;
    if (s->base.sink->reject)
        s->base.sink->reject(s->base.sink, s, reason, raw, len);
    return 0;
}

/* ---- tails -------------------------------------------------------------------------- */

static int parser_new(struct wk_source *s, struct tail *t)
{
    const struct wk_parser_ops *ops =
        wk_parser_find(t->fmt == WK_CLOG_JSONFILE ? "json-file" : "cri");
    int rc = ops->create(&t->p, &s->popts);
    if (rc < 0)
        return rc;
    wk__clog_parser_set_table(t->p, wk_containers_shared());
    if (!s->cfg.parse_json || !s->cfg.app_prefix || !*s->cfg.app_prefix)
        return wk__clog_parser_set_app_prefix(t->p, NULL);
    return wk__clog_parser_set_app_prefix(t->p, s->cfg.app_prefix);
}

static const struct wk_parser_ops *ops_of(const struct tail *t)
{
    return wk_parser_find(t->fmt == WK_CLOG_JSONFILE ? "json-file" : "cri");
}

/* Restart this file's parser from its slot: the in-process form of a restart. */
static int tail_rewind(struct wk_source *s, struct tail *t)
{
    ops_of(t)->destroy(t->p);
    t->p = NULL;
    int rc = parser_new(s, t);
    if (rc < 0)
        return rc;
    const struct slot *sl = &s->slots[t->slot];
    struct wk__clog_state st = {.nheld = sl->nheld, .last_emitted = sl->last_emitted};
    memcpy(st.held, sl->held, sizeof(st.held));
    wk__clog_parser_skip(t->p, &st);
    t->off = sl->resume;
    t->line.len = 0;
    t->rewind = false;
    t->inherited = false;
    return 0;
}

static struct tail *tail_find(struct wk_source *s, uint64_t dev, uint64_t ino)
{
    for (struct tail *t = s->tails; t; t = t->next) {
        if (t->dev == dev && t->ino == ino)
            return t;
    }
    return NULL;
}

/* A file's last write, in ns (what catch-ups order and compare files by). */
static int64_t mtime_ns(const struct stat *sb)
{
    return (int64_t)sb->st_mtim.tv_sec * WK_NS_PER_SEC + sb->st_mtim.tv_nsec;
}

/* Follow a file. `main`: it is the live name; otherwise only followed when the cursor
 * says we were reading it (a rotated file to finish). */
static struct tail *tail_open_fd(struct wk_source *s, const char *path, int fd,
                                 enum wk__clog_format fmt, bool main, bool force)
{
    if (main) {
        /* The live name we already follow changed inode: pass() finishes the old file
         * (and rotated ones) first, then opens this one. */
        for (struct tail *t = s->tails; t; t = t->next) {
            if (t->main && strcmp(t->path, path) == 0) {
                if (fd >= 0)
                    close(fd);
                return NULL;
            }
        }
    }
    if (fd < 0)
        fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
        tail_find(s, (uint64_t)sb.st_dev, (uint64_t)sb.st_ino)) {
        close(fd);
        return NULL;
    }
    int slot = slot_find(s, (uint64_t)sb.st_dev, (uint64_t)sb.st_ino);
    if (slot < 0 && !main && !force) {
        close(fd);
        return NULL;
    }
    struct tail *t = wk_new0(struct tail, 1);
    if (!t || !(t->path = strdup(path))) {
        free(t);
        close(fd);
        return NULL;
    }
    t->src = s;
    t->sink.emit = tail_emit;
    t->sink.reject = tail_reject;
    t->fmt = fmt;
    t->fd = fd;
    t->dev = (uint64_t)sb.st_dev;
    t->ino = (uint64_t)sb.st_ino;
    t->main = main;
    t->draining = !main;
    t->last_growth = wk_time_mono_ns();
    if (slot < 0)
        slot = slot_add(s, t->dev, t->ino);
    t->slot = slot;
    if (slot < 0 || tail_rewind(s, t) < 0) {
        if (t->p)
            ops_of(t)->destroy(t->p);
        free(t->path);
        free(t);
        close(fd);
        return NULL;
    }
    if (!main && !force && fstat(fd, &sb) == 0) {
        /* Resumed from the cursor after a restart: files that rotated through while we
         * were stopped sit between it and the live name; catch up with them once it is
         * finished. The live name is the path up to its ".log". */
        const char *dot = NULL;
        for (const char *q = strstr(path, ".log."); q; q = strstr(q + 1, ".log."))
            dot = q;
        if (dot) {
            t->catch_main = strndup(path, (size_t)(dot + 4 - path));
            t->catch_after = mtime_ns(&sb);
        }
    }
    if (s->handover_p && t->off == 0 &&
        strncmp(path, s->handover_path, strlen(s->handover_path)) == 0) {
        /* The successor of a rotated file: continue its unfinished message. */
        ops_of(t)->destroy(t->p);
        t->p = s->handover_p;
        t->inherited = true;
        s->handover_p = NULL;
        free(s->handover_path);
        s->handover_path = NULL;
    }
    t->next = s->tails;
    s->tails = t;
    wk_log_debug("clog: following %s from offset %llu", path, (unsigned long long)t->off);
    return t;
}

static struct tail *tail_open_(struct wk_source *s, const char *path, enum wk__clog_format fmt,
                               bool main, bool force)
{
    return tail_open_fd(s, path, -1, fmt, main, force);
}

static struct tail *tail_open(struct wk_source *s, const char *path, enum wk__clog_format fmt,
                              bool main)
{
    return tail_open_(s, path, fmt, main, false);
}

static void tail_free(struct wk_source *s, struct tail *t)
{
    for (struct tail **pp = &s->tails; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    if (t->p)
        ops_of(t)->destroy(t->p);
    if (t->fd >= 0)
        close(t->fd);
    wk__cbuf_fini(&t->line);
    free(t->catch_main);
    free(t->path);
    free(t);
}

/* Feed the complete lines of what was read; keep the unfinished one. @return <0 on
 * back-pressure (rewind done) or error. */
static int feed(struct wk_source *s, struct tail *t, const char *buf, size_t n)
{
    const struct wk_parser_ops *ops = ops_of(t);
    size_t max_line = s->popts.max_line;
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(buf + i, '\n', n - i);
        size_t l = nl ? (size_t)(nl - (buf + i)) : n - i;
        if (!nl || t->line.len) {
            if (wk__cbuf_reserve(&t->line, l) < 0)
                return -ENOMEM;
            memcpy(t->line.p + t->line.len, buf + i, l);
            t->line.len += l;
            if (!nl) {
                if (t->line.len > max_line) {
                    /* A "line" beyond any sane length: hand it over as one (rejected). */
                    uint64_t start = t->off + i + l - t->line.len;
                    struct wk_line_ctx w = {t->path, ++t->lineno, start};
                    int rc = ops->feed_line(t->p, t->line.p, t->line.len, &w, &t->sink);
                    t->line.len = 0;
                    if (rc < 0)
                        return rc;
                }
                break;
            }
            uint64_t start = t->off + i + l - t->line.len;
            struct wk_line_ctx w = {t->path, ++t->lineno, start};
            t->cur_next = t->off + i + l + 1;
            int rc = ops->feed_line(t->p, t->line.p, t->line.len, &w, &t->sink);
            t->line.len = 0;
            if (rc < 0)
                return rc;
        } else {
            struct wk_line_ctx w = {t->path, ++t->lineno, t->off + i};
            t->cur_next = t->off + i + l + 1;
            int rc = ops->feed_line(t->p, buf + i, l, &w, &t->sink);
            if (rc < 0)
                return rc;
        }
        i += l + 1;
    }
    return 0;
}

/* Read one chunk. @return 1 when data was read, 0 at EOF, <0 on back-pressure/error. */
static int tail_read(struct wk_source *s, struct tail *t)
{
    struct stat sb;
    ssize_t n = pread(t->fd, s->readbuf, s->cfg.read_chunk, (off_t)t->off);
    /* Nothing at off: maybe the file was cut below it (a file that returned bytes at off
     * was not; checking its size first cost an fstat per file per pass). */
    if (n == 0 && t->main && fstat(t->fd, &sb) == 0 && (uint64_t)sb.st_size < t->off) {
        /* copytruncate: the file was cut below what we read. */
        emit_gap(s, t->path,
                 "log file truncated (copytruncate): lines written between our "
                 "last read and the truncation may be missing");
        struct slot *sl = &s->slots[t->slot];
        memset(sl->held, 0, sizeof(sl->held));
        sl->nheld = 0;
        sl->resume = 0;
        sl->last_emitted = UINT64_MAX;
        slot_store(s, t->slot);
        tail_rewind(s, t);
        n = pread(t->fd, s->readbuf, s->cfg.read_chunk, (off_t)t->off);
    }
    if (n < 0) {
        snprintf(s->last_error, sizeof(s->last_error), "%s: %s", t->path, strerror(errno));
        return 0;
    }
    if (n == 0)
        return 0;
    uint64_t base = t->off;
    int rc = feed(s, t, s->readbuf, (size_t)n);
    if (rc < 0 || t->rewind) {
        if (t->rewind)
            tail_rewind(s, t);
        return rc < 0 && rc != -EAGAIN ? rc : -EAGAIN;
    }
    t->off = base + (uint64_t)n;
    t->last_growth = wk_time_mono_ns();
    t->idle_flushed = false;
    return 1;
}

/* At EOF of a finished file (rotated away or deleted): emit what is held, then forget it. */
static int tail_finish_(struct wk_source *s, struct tail *t, const char *successor)
{
    if (t->line.len) {
        const struct wk_parser_ops *ops = ops_of(t);
        struct wk_line_ctx w = {t->path, ++t->lineno, t->off - t->line.len};
        int rc = ops->feed_line(t->p, t->line.p, t->line.len, &w, &t->sink);
        if (rc < 0 || t->rewind) {
            tail_rewind(s, t);
            return -EAGAIN;
        }
        t->line.len = 0;
    }
    struct stat sb;
    if (successor && fstat(t->fd, &sb) == 0 && sb.st_nlink == 0) {
        /* This rotated file was deleted (rotated out by max-file) before we finished it:
         * we were that many rotations behind, and files rotated after it may have been
         * deleted unread too. Not provable from the files left, so say it. */
        emit_gap(s, t->path,
                 "a rotated log file was deleted before it was finished: log files "
                 "rotated after it may have been deleted unread");
    }
    struct wk__clog_state st;
    wk__clog_parser_state(t->p, &st);
    if (successor && st.nheld && !s->handover_p) {
        /* A message continues in the next file (dockerd rotates between entries of a
         * split line): hand the parser over instead of flushing a cut message. */
        s->handover_p = t->p;
        s->handover_path = strdup(successor);
        t->p = NULL;
        if (!s->handover_path) {
            t->p = s->handover_p;
            s->handover_p = NULL;
        }
    }
    int rc = t->p ? ops_of(t)->flush(t->p, &t->sink) : 0;
    if (rc < 0 || t->rewind) {
        tail_rewind(s, t);
        return -EAGAIN;
    }
    wk_log_debug("clog: finished %s at %llu", t->path, (unsigned long long)t->off);
    if (fstat(t->fd, &sb) == 0) {
        unsigned i = s->ndone++ % (sizeof(s->done) / sizeof(s->done[0]));
        s->done[i].dev = t->dev;
        s->done[i].ino = t->ino;
        s->done[i].mtime = mtime_ns(&sb);
    }
    slot_remove(s, t->slot);
    tail_free(s, t);
    /* Store the cursor without the finished file now: otherwise it would only travel
     * with the next event, and a restart before one would look for the file and report
     * it as a possible gap. */
    if (s->base.sink->cursor && s->cursor.len) {
        int crc = s->base.sink->cursor(s->base.sink, s, s->cursor.p, s->cursor.len);
        if (crc < 0)
            snprintf(s->last_error, sizeof(s->last_error), "cursor: %s", wk_strerror(crc));
    }
    return 0;
}

static int tail_finish(struct wk_source *s, struct tail *t)
{
    return tail_finish_(s, t, NULL);
}

/* ---- discovery ---------------------------------------------------------------------- */

static void watch_dir(struct wk_source *s, const char *dir);

static bool is_hex64(const char *n)
{
    if (strlen(n) != 64)
        return false;
    for (int i = 0; i < 64; i++) {
        if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f')))
            return false;
    }
    return true;
}

static void scan_container_dir(struct wk_source *s, const char *dir, const char *id)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[8192];
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strncmp(n, id, 64) != 0 || strncmp(n + 64, "-json.log", 9) != 0)
            continue;
        const char *rest = n + 73;
        bool main = *rest == '\0';
        if (!main) {
            /* Rotated: "<id>-json.log.N" (compressed ones are not read). */
            if (*rest != '.' || !rest[1] || strspn(rest + 1, "0123456789") != strlen(rest + 1))
                continue;
        }
        if (snprintf(path, sizeof(path), "%s/%s", dir, n) >= (int)sizeof(path))
            continue;
        tail_open(s, path, WK_CLOG_JSONFILE, main);
    }
    closedir(d);
}

static void scan_docker(struct wk_source *s)
{
    if (!s->cfg.docker_root || !*s->cfg.docker_root)
        return;
    char root[4096], dir[4200];
    if (snprintf(root, sizeof(root), "%s/containers", s->cfg.docker_root) >= (int)sizeof(root))
        return;
    DIR *d = opendir(root);
    if (!d)
        return;
    watch_dir(s, root);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_hex64(e->d_name))
            continue;
        if (snprintf(dir, sizeof(dir), "%s/%s", root, e->d_name) >= (int)sizeof(dir))
            continue;
        watch_dir(s, dir);
        scan_container_dir(s, dir, e->d_name);
    }
    closedir(d);
}

/* CRI: <pods>/<ns>_<pod>_<uid>/<container>/<n>.log and rotated <n>.log.<stamp>. */
static void scan_cri(struct wk_source *s)
{
    if (s->cfg.pods_dir && *s->cfg.pods_dir) {
        DIR *d = opendir(s->cfg.pods_dir);
        if (d) {
            watch_dir(s, s->cfg.pods_dir);
            struct dirent *e;
            char pdir[4096], cdir[8192], path[12288];
            while ((e = readdir(d))) {
                if (e->d_name[0] == '.')
                    continue;
                if (snprintf(pdir, sizeof(pdir), "%s/%s", s->cfg.pods_dir, e->d_name) >=
                    (int)sizeof(pdir))
                    continue;
                DIR *pd = opendir(pdir);
                if (!pd)
                    continue;
                struct dirent *ce;
                while ((ce = readdir(pd))) {
                    if (ce->d_name[0] == '.')
                        continue;
                    if (snprintf(cdir, sizeof(cdir), "%s/%s", pdir, ce->d_name) >=
                        (int)sizeof(cdir))
                        continue;
                    DIR *cd = opendir(cdir);
                    if (!cd)
                        continue;
                    watch_dir(s, cdir);
                    struct dirent *fe;
                    while ((fe = readdir(cd))) {
                        const char *n = fe->d_name;
                        size_t dl = strspn(n, "0123456789");
                        if (dl == 0 || strncmp(n + dl, ".log", 4) != 0)
                            continue;
                        const char *rest = n + dl + 4;
                        bool main = *rest == '\0';
                        size_t nl = strlen(n);
                        if (!main && (nl > 3 && (!strcmp(n + nl - 3, ".gz") ||
                                                 (nl > 4 && !strcmp(n + nl - 4, ".tmp")))))
                            continue;
                        if (snprintf(path, sizeof(path), "%s/%s", cdir, n) >= (int)sizeof(path))
                            continue;
                        tail_open(s, path, WK_CLOG_CRI, main);
                    }
                    closedir(cd);
                }
                closedir(pd);
            }
            closedir(d);
        }
    }
    if (s->cfg.containers_dir && *s->cfg.containers_dir) {
        DIR *d = opendir(s->cfg.containers_dir);
        if (!d)
            return;
        struct dirent *e;
        char path[8192];
        while ((e = readdir(d))) {
            size_t nl = strlen(e->d_name);
            if (nl < 5 || strcmp(e->d_name + nl - 4, ".log") != 0)
                continue;
            if (snprintf(path, sizeof(path), "%s/%s", s->cfg.containers_dir, e->d_name) >=
                (int)sizeof(path))
                continue;
            tail_open(s, path, WK_CLOG_CRI, true); /* dedup by inode with pods_dir */
        }
        closedir(d);
    }
}

static void scan_table(struct wk_source *s)
{
    /* LogPath from inspection (the docker source fills the shared table). */
    struct wk_containers *tb = wk_containers_shared();
    for (size_t i = 0; tb && i < wk_containers_count(tb); i++) {
        const struct wk_container *c = wk_containers_at(tb, i);
        if (c->log_path && !c->removed)
            tail_open(s, c->log_path, WK_CLOG_JSONFILE, true);
    }
}

static void rescan(struct wk_source *s)
{
    scan_docker(s);
    scan_cri(s);
    scan_table(s);
    s->last_rescan = wk_time_mono_ns();
    if (!s->first_scan_done) {
        s->first_scan_done = true;
        /* Files the cursor knew that no longer exist: what was not read is lost. */
        for (size_t i = 0; i < s->nslots;) {
            bool found = false;
            for (struct tail *t = s->tails; t && !found; t = t->next)
                found = t->slot == (int)i;
            if (found) {
                i++;
                continue;
            }
            slot_remove(s, (int)i);
            emit_gap(s, NULL,
                     "a followed log file disappeared while the source was stopped: "
                     "lines not yet read from it may be missing");
        }
    }
}

/* ---- the loop ----------------------------------------------------------------------- */

struct rotated {
    char *path;
    int64_t mtime;
};

static int cmp_rotated(const void *a, const void *b)
{
    const struct rotated *x = a, *y = b;
    return (x->mtime > y->mtime) - (x->mtime < y->mtime);
}

static int drain_now(struct wk_source *s, struct tail *t, const char *successor)
{
    int rc;
    while (!s->full && (rc = tail_read(s, t)) > 0)
        ;
    if (s->full)
        return -EAGAIN;
    return tail_finish_(s, t, successor);
}

static bool finished_lately(const struct wk_source *s, const struct stat *sb)
{
    int64_t mt = mtime_ns(sb);
    unsigned cap = sizeof(s->done) / sizeof(s->done[0]), n = s->ndone < cap ? s->ndone : cap;
    for (unsigned i = 0; i < n; i++)
        if (s->done[i].dev == (uint64_t)sb->st_dev && s->done[i].ino == (uint64_t)sb->st_ino &&
            s->done[i].mtime == mt)
            return true;
    return false;
}

/* After finishing a file that was rotated away (its last write at `after`), follow the
 * rotated siblings written after it — files that rotated through entirely between two
 * passes or while the old file was drained — oldest first, before the live file; not
 * those followed or finished lately (the file just finished among them), nor the live
 * file already pinned (pin_dev, pin_ino). */
static void catch_up(struct wk_source *s, const char *main_path, enum wk__clog_format fmt,
                     int64_t after, uint64_t pin_dev, uint64_t pin_ino)
{
    char dir[4096];
    if (snprintf(dir, sizeof(dir), "%s", main_path) >= (int)sizeof(dir))
        return;
    char *slash = strrchr(dir, '/');
    if (!slash)
        return;
    *slash = '\0';
    const char *base = slash + 1 - dir + main_path;
    size_t bl = strlen(base);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct rotated *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *nm = e->d_name;
        size_t nl = strlen(nm);
        if (strncmp(nm, base, bl) != 0 || nm[bl] != '.' || nl < bl + 2)
            continue;
        if ((nl > 3 && !strcmp(nm + nl - 3, ".gz")) || (nl > 4 && !strcmp(nm + nl - 4, ".tmp")))
            continue;
        char path[8192];
        if (snprintf(path, sizeof(path), "%s/%s", dir, nm) >= (int)sizeof(path))
            continue;
        struct stat sb;
        if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode) ||
            tail_find(s, (uint64_t)sb.st_dev, (uint64_t)sb.st_ino) ||
            ((uint64_t)sb.st_dev == pin_dev && (uint64_t)sb.st_ino == pin_ino))
            continue;
        int64_t mt = mtime_ns(&sb);
        if (mt < after || finished_lately(s, &sb))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            struct rotated *nv = realloc(v, cap * sizeof(*v));
            if (!nv)
                break;
            v = nv;
        }
        v[n].path = strdup(path);
        v[n].mtime = mt;
        if (v[n].path)
            n++;
    }
    closedir(d);
    if (n > 1) /* (v is NULL when the directory held none: qsort's pointer must not be) */
        qsort(v, n, sizeof(*v), cmp_rotated);
    for (size_t i = 0; i < n; i++) {
        struct tail *t = tail_open_(s, v[i].path, fmt, false, true);
        if (t && !s->full)
            drain_now(s, t, main_path);
        free(v[i].path);
    }
    free(v);
}

/* Remember to catch up after a file that lost its live name without a successor in view
 * (the name missing, then back, after partial_timeout). */
static void defer_catch_up(struct tail *t)
{
    struct stat ob;
    if (t->catch_main || fstat(t->fd, &ob) < 0)
        return;
    t->catch_main = strdup(t->path);
    t->catch_after = mtime_ns(&ob);
}

/* A drained file is finished; if it was rotated away under back-pressure, the files that
 * rotated through before the new live one was found are read now (else they were never
 * opened: the rescan finds only the live name). */
static void finish_and_catch_up(struct wk_source *s, struct tail *t)
{
    char *cm = t->catch_main;
    int64_t after = t->catch_after;
    enum wk__clog_format fmt = t->fmt;
    t->catch_main = NULL;
    if (tail_finish(s, t) < 0) {
        t->catch_main = cm; /* rewound: t lives on, try again */
        return;
    }
    if (cm) /* opens them all; a full pipeline drains them in later passes */
        catch_up(s, cm, fmt, after, 0, 0);
    free(cm);
}

/* One check of every followed file. @return true when it found or did anything, or
 * something is due later without a file changing (a partial to flush, a deleted live
 * name to give up on): then the source keeps polling at poll_interval. */
static bool pass(struct wk_source *s)
{
    if (s->stopping)
        return true;
    int64_t now = wk_time_mono_ns();
    bool busy = false;

    if (now - s->last_rescan >= s->cfg.rescan_interval)
        rescan(s);
    struct tail *t = s->tails;
    while (t && !s->full) {
        struct tail *next = t->next;
        if (t->main) {
            struct stat sb;
            if (stat(t->path, &sb) < 0) {
                /* Deleted — unless its directory is still there: then this may be the
                 * instant between a rotation's rename and the new file's creation. */
                char dir[4096];
                if (snprintf(dir, sizeof(dir), "%s", t->path) >= (int)sizeof(dir))
                    dir[0] = '\0';
                char *sl = strrchr(dir, '/');
                if (sl)
                    *sl = '\0';
                struct stat db;
                busy = true;
                if (!sl || stat(dir, &db) < 0 || now - t->last_growth > s->cfg.partial_timeout) {
                    t->main = false; /* drain the descriptor we hold */
                    t->draining = true;
                    /* If the name comes back, files may have rotated through meanwhile. */
                    if (sl && stat(dir, &db) == 0)
                        defer_catch_up(t);
                }
            } else if ((uint64_t)sb.st_ino != t->ino || (uint64_t)sb.st_dev != t->dev) {
                wk_log_debug("clog: %s rotated (at %llu)", t->path, (unsigned long long)t->off);
                busy = true;
                t->main = false; /* rotated by rename: finish this one first */
                t->draining = true;
                enum wk__clog_format fmt = t->fmt;
                char *p = strdup(t->path);
                struct stat ob;
                int64_t after =
                    fstat(t->fd, &ob) == 0
                        ? mtime_ns(&ob)
                        : 0;
                if (p && drain_now(s, t, p) == 0) {
                    /* The live file seen by stat() above may itself rotate away while
                     * the old one or rotated ones are drained (a slow pipeline, a busy
                     * machine): pin the current live file first, so every file rotated
                     * before it is in the directory for catch_up, and it is followed. */
                    int pfd = open(p, O_RDONLY | O_CLOEXEC);
                    struct stat pb;
                    memset(&pb, 0, sizeof(pb));
                    if (pfd >= 0 && fstat(pfd, &pb) < 0)
                        memset(&pb, 0, sizeof(pb));
                    catch_up(s, p, fmt, after, (uint64_t)pb.st_dev, (uint64_t)pb.st_ino);
                    if (pfd >= 0)
                        tail_open_fd(s, p, pfd, fmt, true, false);
                } else if (p) {
                    /* Back-pressure: the new file is found by the next rescan; files that
                     * rotated through meanwhile are caught up once this one is finished. */
                    s->last_rescan = 0;
                    if (t->draining && !t->catch_main) {
                        t->catch_main = p;
                        t->catch_after = after;
                        p = NULL;
                    }
                }
                free(p);
                t = next;
                continue;
            }
        }
        int rc = tail_read(s, t);
        if (rc != 0 || t->draining)
            busy = true;
        if (rc == 0 && t->draining) {
            finish_and_catch_up(s, t);
        } else if (rc == 0 && t->line.len == 0 && !t->idle_flushed &&
                   now - t->last_growth > s->cfg.partial_timeout) {
            /* Idle with a held partial (container exited mid-line): store it. */
            struct wk__clog_state st;
            wk__clog_parser_state(t->p, &st);
            t->idle_flushed = true;
            busy = busy || st.nheld; /* nothing held: the flush is a no-op */
            if (ops_of(t)->flush(t->p, &t->sink) < 0 || t->rewind)
                tail_rewind(s, t);
        } else if (rc == 0 && t->line.len == 0 && !t->idle_flushed) {
            /* A partial message may be held for the flush above: keep checking. */
            struct wk__clog_state st;
            wk__clog_parser_state(t->p, &st);
            if (st.nheld)
                busy = true;
        }
        t = next;
    }
    return busy || s->full || t;
}

static bool dir_watched(const struct wk_source *s, const char *path)
{
    const char *sl = strrchr(path, '/');
    if (!sl)
        return false;
    size_t dl = (size_t)(sl - path);
    for (const struct dwatch *w = s->watches; w; w = w->next) {
        if (strlen(w->dir) == dl && strncmp(w->dir, path, dl) == 0)
            return true;
    }
    return false;
}

static void on_poll(uv_timer_t *h);

static void set_active(struct wk_source *s)
{
    s->quiet = 0;
    if (s->idle && !s->stopping) {
        s->idle = false;
        uint64_t ms = (uint64_t)(s->cfg.poll_interval / 1000000);
        uv_timer_start(&s->poll, on_poll, ms ? ms : 1, ms ? ms : 1);
    }
}

/* After a pass: WK_IDLE_QUIET_POLLS quiet passes in a row, with every followed live file
 * in a watched directory (a write to it then wakes the source), slow the poll down to
 * idle_poll; a pass that finds something goes back to poll_interval. */
static void after_pass(struct wk_source *s, bool busy)
{
    if (busy) {
        set_active(s);
        return;
    }
    if (s->idle || ++s->quiet < WK_IDLE_QUIET_POLLS || s->cfg.idle_poll <= s->cfg.poll_interval ||
        s->stopping)
        return;
    for (struct tail *t = s->tails; t; t = t->next) {
        if (!dir_watched(s, t->path))
            return;
    }
    s->idle = true;
    uint64_t ms = (uint64_t)(s->cfg.idle_poll / 1000000);
    uv_timer_start(&s->poll, on_poll, ms ? ms : 1, ms ? ms : 1);
}

static void on_poll(uv_timer_t *h)
{
    struct wk_source *s = h->data;
    after_pass(s, pass(s));
}

static void on_kick(uv_timer_t *h)
{
    struct wk_source *s = h->data;
    after_pass(s, pass(s));
}

/* A followed live file named filename in directory dir? */
static bool followed_in(const struct wk_source *s, const char *dir, const char *filename)
{
    size_t dl = strlen(dir);
    for (const struct tail *t = s->tails; t; t = t->next) {
        if (t->main && strncmp(t->path, dir, dl) == 0 && t->path[dl] == '/' &&
            strcmp(t->path + dl + 1, filename) == 0)
            return true;
    }
    return false;
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    struct dwatch *w = wk_container_of(h, struct dwatch, h);
    struct wk_source *s = w->src;
    if (status < 0 || s->stopping)
        return;
    /* A followed file grew (or was truncated): the next pass reads it; when idle, that
     * pass is now. Anything else (a new container dir or log file, a rotation, a
     * deletion): rescan soon. */
    bool growth = events == UV_CHANGE && filename && followed_in(s, w->dir, filename);
    if (growth && !s->idle)
        return;
    if (!growth)
        s->last_rescan = 0;
    s->quiet = 0;
    if (!uv_is_active((uv_handle_t *)&s->kick))
        uv_timer_start(&s->kick, on_kick, growth ? WK_IDLE_WAKE_MS : 2, 0);
}

static void handle_closed(uv_handle_t *h)
{
    struct wk_source *s = h->data;
    if (h->type == UV_FS_EVENT) {
        struct dwatch *w = wk_container_of((uv_fs_event_t *)h, struct dwatch, h);
        free(w->dir);
        free(w);
    }
    if (--s->open_handles == 0 && s->stop_done)
        s->stop_done(s);
}

static void watch_dir(struct wk_source *s, const char *dir)
{
    for (struct dwatch *w = s->watches; w; w = w->next) {
        if (strcmp(w->dir, dir) == 0)
            return;
    }
    struct dwatch *w = wk_new0(struct dwatch, 1);
    if (!w || !(w->dir = strdup(dir))) {
        free(w);
        return;
    }
    w->src = s;
    uv_fs_event_init(s->base.loop, &w->h);
    w->h.data = s;
    s->open_handles++;
    if (uv_fs_event_start(&w->h, on_fs_event, dir, 0) < 0) {
        /* inotify unavailable or out of watches: the poll and rescan still work. */
        uv_close((uv_handle_t *)&w->h, handle_closed);
        return;
    }
    w->next = s->watches;
    s->watches = w;
}

/* ---- ops ---------------------------------------------------------------------------- */

/* docker_root as configured; for "auto" dockerd's DockerRootDir, else the default (*why
 * then says why dockerd did not answer). */
static const char *docker_root_of(const struct clog_cfg *c, char *buf, size_t len, char *why,
                                  size_t whylen)
{
    *why = '\0';
    if (!c->docker_root || strcmp(c->docker_root, "auto") != 0)
        return c->docker_root;
    const char *h = c->docker_host && *c->docker_host ? c->docker_host : wk__docker_default_host();
    return wk__docker_root_dir(h, 2000, buf, len, why, whylen) == 0 ? buf : DEFAULT_DOCKER_ROOT;
}

static bool clog_available(const void *config, char *why, size_t whylen)
{
    const struct clog_cfg *c = config;
    char p[4096], rootbuf[4096], autowhy[512];
    const char *root = docker_root_of(c, rootbuf, sizeof(rootbuf), autowhy, sizeof(autowhy));
    if (snprintf(p, sizeof(p), "%s/containers", root ? root : "") >= (int)sizeof(p))
        p[0] = '\0';
    if (root && *root && access(p, R_OK | X_OK) == 0)
        return true;
    if (c->pods_dir && *c->pods_dir && access(c->pods_dir, R_OK | X_OK) == 0)
        return true;
    snprintf(why, whylen, "neither %s nor %s is readable%s%s%s", p,
             c->pods_dir ? c->pods_dir : "", *autowhy ? " (docker_root auto: " : "", autowhy,
             *autowhy ? ")" : "");
    return false;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void clog_destroy(struct wk_source *s);

static int clog_create(struct wk_source **out, const void *config)
{
    const struct clog_cfg *c = config;
    struct wk_source *s = wk_new0(struct wk_source, 1);
    if (!s)
        return -ENOMEM;
    s->cfg = *c;
    char rootbuf[4096], why[512];
    s->cfg.docker_root = dup_or_null(docker_root_of(c, rootbuf, sizeof(rootbuf), why, sizeof(why)));
    s->cfg.docker_host = NULL;
    if (c->docker_root && strcmp(c->docker_root, "auto") == 0) {
        if (*why)
            wk_log_warn("clog: docker_root auto: %s: using %s", why, DEFAULT_DOCKER_ROOT);
        else
            wk_log_info("clog: docker_root auto: dockerd's data root is %s", rootbuf);
    }
    s->cfg.pods_dir = dup_or_null(c->pods_dir);
    s->cfg.containers_dir = dup_or_null(c->containers_dir);
    s->cfg.app_prefix = dup_or_null(c->app_prefix);
    s->cfg.hostname = NULL;
    if (s->cfg.read_chunk < 4096)
        s->cfg.read_chunk = 4096;
    if (s->cfg.poll_interval <= 0)
        s->cfg.poll_interval = 100 * 1000000LL;
    if (s->cfg.rescan_interval <= 0)
        s->cfg.rescan_interval = 10 * WK_NS_PER_SEC;
    if (c->hostname && *c->hostname)
        snprintf(s->hostname, sizeof(s->hostname), "%s", c->hostname);
    else
        gethostname(s->hostname, sizeof(s->hostname) - 1);
    wk_parser_opts_init(&s->popts);
    s->popts.host = s->hostname[0] ? s->hostname : NULL;
    if (s->cfg.max_message)
        s->popts.max_message = s->cfg.max_message;
    s->popts.parse_json_messages = s->cfg.parse_json;
    s->readbuf = malloc(s->cfg.read_chunk);
    if (!s->readbuf || wk_event_new(&s->gapev) < 0) {
        clog_destroy(s);
        return -ENOMEM;
    }
    cursor_sync(s);
    *out = s;
    return 0;
}

static int clog_start(struct wk_source *s, const void *cursor, size_t len)
{
    if (cursor && len >= 8) {
        uint32_t magic, n;
        memcpy(&magic, cursor, 4);
        memcpy(&n, (const char *)cursor + 4, 4);
        if (magic == CURSOR_MAGIC && len == 8 + (size_t)n * sizeof(struct slot)) {
            s->slots = malloc((n ? n : 1) * sizeof(struct slot));
            if (!s->slots)
                return -ENOMEM;
            memcpy(s->slots, (const char *)cursor + 8, (size_t)n * sizeof(struct slot));
            s->nslots = s->capslots = n;
            cursor_sync(s);
        } else {
            wk_log_warn("clog: stored cursor not understood; reading files from the start");
        }
    }
    uv_timer_init(s->base.loop, &s->poll);
    uv_timer_init(s->base.loop, &s->kick);
    s->poll.data = s->kick.data = s;
    s->open_handles = 2;
    s->started = true;
    rescan(s);
    uint64_t ms = (uint64_t)(s->cfg.poll_interval / 1000000);
    uv_timer_start(&s->poll, on_poll, 0, ms ? ms : 1);
    return 0;
}

static void clog_resume(struct wk_source *s)
{
    s->full = false;
    set_active(s);
    uv_timer_start(&s->kick, on_kick, 0, 0);
}

static void clog_stop(struct wk_source *s, void (*done)(struct wk_source *src))
{
    s->stopping = true;
    s->stop_done = done;
    if (!s->started) {
        if (done)
            done(s);
        return;
    }
    uv_timer_stop(&s->poll);
    uv_timer_stop(&s->kick);
    uv_close((uv_handle_t *)&s->poll, handle_closed);
    uv_close((uv_handle_t *)&s->kick, handle_closed);
    for (struct dwatch *w = s->watches; w;) {
        struct dwatch *n = w->next;
        uv_fs_event_stop(&w->h);
        uv_close((uv_handle_t *)&w->h, handle_closed);
        w = n;
    }
    s->watches = NULL;
}

static void clog_destroy(struct wk_source *s)
{
    if (!s)
        return;
    while (s->tails)
        tail_free(s, s->tails);
    if (s->handover_p)
        wk_parser_find("json-file")->destroy(s->handover_p);
    free(s->handover_path);
    free(s->slots);
    wk__cbuf_fini(&s->cursor);
    wk_event_free(s->gapev);
    free(s->readbuf);
    free(s->cfg.docker_root);
    free(s->cfg.pods_dir);
    free(s->cfg.containers_dir);
    free(s->cfg.app_prefix);
    free(s);
}

static void clog_status(struct wk_source *s, struct wk_source_status *st)
{
    memset(st, 0, sizeof(*st));
    st->state = s->stopping ? "stopped" : "running";
    st->events = s->events;
    st->rejected = s->rejected;
    for (struct tail *t = s->tails; t; t = t->next) {
        struct stat sb;
        if (fstat(t->fd, &sb) == 0 && (uint64_t)sb.st_size > t->off)
            st->lag_bytes += (uint64_t)sb.st_size - t->off;
    }
    snprintf(st->last_error, sizeof(st->last_error), "%s", s->last_error);
}

const struct wk_source_ops wk_source_clog = {
    .version = WK_SOURCE_OPS_V1,
    .name = "clog",
    .description = "container log files: Docker json-file and Kubernetes CRI",
    .options = clog_options,
    .config_size = sizeof(struct clog_cfg),
    .available = clog_available,
    .create = clog_create,
    .start = clog_start,
    .resume = clog_resume,
    .stop = clog_stop,
    .destroy = clog_destroy,
    .status = clog_status,
};
