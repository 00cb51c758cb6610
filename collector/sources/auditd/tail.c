/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `auditd` live source: tails /var/log/audit/audit.log on the loop, through the auditd
 * parser. auditd rotates by rename (audit.log -> audit.log.1 -> ...): when the path gets a
 * new inode we finish the file we hold first, then go on with the files rotated after it,
 * then the new audit.log. The cursor is (inode, offset of the oldest line the parser still
 * holds); on restart the file with that inode is found among the rotated ones. Regular
 * files are read with bounded read()s from a poll timer (page-cache reads, a byte budget
 * per tick). Back-pressure: an event refused with -EAGAIN is kept and reading pauses.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "watchkeeper/source.h"

#include "../idle_watch_private.h"
#include "auditd_private.h"
#include "source_private.h"

struct tail_cfg {
    char *path;
    int64_t poll;
    int64_t idle_poll;
    uint64_t tick_read;
    bool from_end;
    bool read_proc;
    int64_t lost_poll;
    char *host;
};

static const struct wk_option tail_options[] = {
    { "path", WK_OPT_PATH, "/var/log/audit/audit.log", offsetof(struct tail_cfg, path),
      "the audit log auditd writes (log_file in auditd.conf)" },
    { "poll", WK_OPT_DURATION, "200ms", offsetof(struct tail_cfg, poll),
      "how often to look for new records and rotation" },
    { "idle_poll", WK_OPT_DURATION, "2s", offsetof(struct tail_cfg, idle_poll),
      "after a few polls with nothing new: an inotify watch on the log's directory wakes "
      "the source at once, and it polls only this often (the fallback where inotify does "
      "not fire); at most `poll`: never idle" },
    { "tick_read", WK_OPT_SIZE, "4MiB", offsetof(struct tail_cfg, tick_read),
      "bytes read per poll at most" },
    { "from_end", WK_OPT_BOOL, "false", offsetof(struct tail_cfg, from_end),
      "with no stored cursor, start at the end of the log instead of its beginning" },
    { "read_proc", WK_OPT_BOOL, "true", offsetof(struct tail_cfg, read_proc),
      "attribute processes to containers through /proc/PID/cgroup too" },
    { "lost_poll", WK_OPT_DURATION, "10s", offsetof(struct tail_cfg, lost_poll),
      "how often to read the kernel's lost-record count (auditctl -s); 0: never" },
    { "host", WK_OPT_STRING, NULL, offsetof(struct tail_cfg, host),
      "host.name for events (default: this host's name)" },
    { 0 },
};

#define MAX_ROTATED 99

struct tail {
    struct wk_source_base base;
    struct tail_cfg cfg;
    uv_timer_t timer;
    struct wk__idle_watch iw; /* armed while idle */
    bool idle;
    unsigned quiet;           /* polls in a row that found nothing */
    int open_handles;         /* timer and watch, until closed */
    struct wk_parser *parser;
    struct wk_parser_sink psink;
    struct wk__au_pending pend;
    int fd;
    uint64_t ino;
    uint64_t off;     /* file offset of buf[0] */
    /* The parser sees one stream across files (an event may straddle a rotation): its
     * offsets are vbase + file offset; hist maps older bases back to their inodes. */
    uint64_t vbase;
    struct {
        uint64_t vbase, ino;
    } hist[8];
    size_t nhist;
    uint64_t fed_end;   /* file offset after the last line fed */
    /* after a restart: the lines up to the stored high-water mark were read before */
    bool replaying;
    uint64_t start_ino, hw_ino, hw_off;
    uint64_t lineno;  /* lines consumed in this file */
    char *buf;
    size_t len, cap;
    size_t fed;       /* buf[0..fed) was fed before a pause (moved out at the next read) */
    char *queue[MAX_ROTATED + 1]; /* rotated files still to read, oldest first */
    size_t nqueue;
    bool on_queue;    /* fd is a rotated file from the queue */
    char curpath[4096];
    bool stopping;
    void (*done)(struct wk_source *);
    struct wk__au_lost lost;
    int64_t lost_next;
    uint64_t events, rejected;
    char last_error[256];
};

static bool tail_available(const void *config, char *why, size_t whylen)
{
    const struct tail_cfg *c = config;
    if (access(c->path, R_OK) == 0)
        return true;
    snprintf(why, whylen, "%.200s: %s", c->path, strerror(errno));
    return false;
}

static int tail_emit(struct wk_parser_sink *ps, struct wk_event *ev, uint64_t resume)
{
    struct tail *t = wk_container_of(ps, struct tail, psink);
    uint8_t cur[WK_AU_CURSOR_MAX];
    uint64_t ino = t->ino, base = t->vbase;
    for (size_t i = t->nhist; resume < base && i > 0; i--) {
        ino = t->hist[i - 1].ino;
        base = t->hist[i - 1].vbase;
    }
    wk__au_cursor_pack(cur, ino, resume >= base ? resume - base : 0);
    wk__au_cursor_pack(cur + 16, t->ino, t->fed_end);
    uint64_t held[16];
    size_t n = wk__au_held_serials(t->parser, held, 16);
    cur[32] = n > 16 ? 255 : (uint8_t)n;
    for (size_t i = 0; i < n && n <= 16; i++)
        wk__au_put_le64(cur + 33 + 8 * i, held[i]);
    size_t clen = 33 + (n > 16 ? 0 : 8 * n);
    int rc = wk__au_pending_submit(&t->pend, &t->base, ev, cur, clen);
    if (rc == 0)
        t->events++;
    return rc == -EAGAIN ? 0 : rc; /* kept in pend; reading pauses */
}

static int tail_reject(struct wk_parser_sink *ps, const struct wk_line_ctx *where,
                       const char *reason, const char *raw, size_t len)
{
    struct tail *t = wk_container_of(ps, struct tail, psink);
    char msg[PATH_MAX + 512]; /* a whole path, its line and the reason: never cut */
    t->rejected++;
    snprintf(msg, sizeof(msg), "%s:%llu: %s", where && where->path ? where->path : "?",
             (unsigned long long)(where ? where->lineno : 0), reason);
    return t->base.sink->reject(t->base.sink, (struct wk_source *)t, msg, raw, len);
}

static int tail_create(struct wk_source **out, const void *config)
{
    const struct tail_cfg *c = config;
    struct tail *t = wk_new0(struct tail, 1);
    struct wk_parser_opts opts;
    if (!t)
        return -ENOMEM;
    t->fd = -1;
    t->cfg = *c;
    t->cfg.path = strdup(c->path ? c->path : "/var/log/audit/audit.log");
    /* live events come from this host unless records say node= or the config says */
    char hn[256] = "";
    if (!c->host && gethostname(hn, sizeof(hn) - 1) < 0)
        hn[0] = 0;
    t->cfg.host = c->host ? strdup(c->host) : hn[0] ? strdup(hn) : NULL;
    wk_parser_opts_init(&opts);
    opts.host = t->cfg.host;
    if (!t->cfg.path || wk__auditd_parser_new(&t->parser, &opts, true) < 0) {
        free(t->cfg.path);
        free(t->cfg.host);
        free(t);
        return -ENOMEM;
    }
    if (!c->read_proc)
        wk__au_attrib_set_proc(t->parser->attrib, false);
    t->psink.emit = tail_emit;
    t->psink.reject = tail_reject;
    wk__au_pending_init(&t->pend, 1024);
    *out = (struct wk_source *)t;
    return 0;
}

static void close_fd(struct tail *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    t->len = 0;
    t->fed = 0;
}

static int open_at(struct tail *t, const char *path, uint64_t off)
{
    struct stat st;
    close_fd(t);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        snprintf(t->last_error, sizeof(t->last_error), "%.200s: %s", path, strerror(e));
        return -e;
    }
    if (off > (uint64_t)st.st_size)
        off = 0; /* truncated since */
    t->fd = fd;
    t->ino = (uint64_t)st.st_ino;
    t->off = off;
    t->lineno = 0;
    snprintf(t->curpath, sizeof(t->curpath), "%s", path);
    return 0;
}

/* Queue path.(k-1) ... path.1 (the files rotated after path.k), oldest first. */
static void queue_newer(struct tail *t, int k)
{
    char p[4200];
    for (int i = k - 1; i >= 1 && t->nqueue < MAX_ROTATED; i--) {
        snprintf(p, sizeof(p), "%s.%d", t->cfg.path, i);
        if (access(p, R_OK) == 0)
            t->queue[t->nqueue++] = strdup(p);
    }
}

/* The rotated file holding inode ino: its number k (path.k), or 0. */
static int find_rotated(struct tail *t, uint64_t ino)
{
    char p[4200];
    struct stat st;
    for (int k = 1; k <= MAX_ROTATED; k++) {
        snprintf(p, sizeof(p), "%s.%d", t->cfg.path, k);
        if (stat(p, &st) < 0)
            return 0;
        if ((uint64_t)st.st_ino == ino)
            return k;
    }
    return 0;
}

static void tail_tick(uv_timer_t *timer);

static uint64_t poll_ms(int64_t ns)
{
    return ns / 1000000 ? (uint64_t)(ns / 1000000) : 1;
}

/* Back to polling every `poll`, the first poll after delay_ms. */
static void set_active(struct tail *t, uint64_t delay_ms)
{
    t->quiet = 0;
    if (t->idle) {
        t->idle = false;
        wk__idle_watch_disarm(&t->iw);
    }
    if (!t->stopping)
        uv_timer_start(&t->timer, tail_tick, delay_ms, poll_ms(t->cfg.poll));
}

static void on_idle_wake(struct wk__idle_watch *w)
{
    struct tail *t = w->data;
    if (t->idle && !t->stopping && !t->pend.paused)
        set_active(t, WK_IDLE_WAKE_MS);
}

/* After WK_IDLE_QUIET_POLLS polls that found nothing (nothing held either): arm the
 * directory watch and poll every idle_poll only. The file is checked once more after the
 * watch is armed, so a write between the last read and the arming is not missed. */
static void maybe_idle(struct tail *t)
{
    if (t->idle || ++t->quiet < WK_IDLE_QUIET_POLLS || t->cfg.idle_poll <= t->cfg.poll ||
        t->fd < 0 || t->on_queue || !wk__idle_watch_arm(&t->iw))
        return;
    struct stat st;
    if (stat(t->cfg.path, &st) < 0 || (uint64_t)st.st_ino != t->ino ||
        (uint64_t)st.st_size != t->off + t->len) {
        wk__idle_watch_disarm(&t->iw);
        return;
    }
    t->idle = true;
    uv_timer_start(&t->timer, tail_tick, poll_ms(t->cfg.idle_poll), poll_ms(t->cfg.idle_poll));
}

static int tail_start(struct wk_source *src, const void *cursor, size_t cursor_len)
{
    struct tail *t = (struct tail *)src;
    struct stat st;
    uint64_t ino = 0, off = 0;
    int rc;
    if (cursor && cursor_len >= 16)
        wk__au_cursor_unpack(cursor, &ino, &off);
    if (cursor && cursor_len >= 33) {
        const uint8_t *c = cursor;
        size_t n = c[32];
        if (n <= 16 && cursor_len >= 33 + 8 * n) {
            uint64_t held[16];
            for (size_t i = 0; i < n; i++) {
                held[i] = 0;
                for (int b = 7; b >= 0; b--)
                    held[i] = held[i] << 8 | c[33 + 8 * i + (size_t)b];
            }
            wk__au_cursor_unpack(c + 16, &t->hw_ino, &t->hw_off);
            wk__au_replay_start(t->parser, held, n);
            t->replaying = true;
            t->start_ino = ino;
        }
    }
    if (stat(t->cfg.path, &st) == 0 && ino && (uint64_t)st.st_ino == ino) {
        rc = open_at(t, t->cfg.path, off);
    } else if (ino) {
        int k = find_rotated(t, ino);
        if (k) {
            char p[4200];
            snprintf(p, sizeof(p), "%s.%d", t->cfg.path, k);
            queue_newer(t, k);
            rc = open_at(t, p, off);
            t->on_queue = true;
        } else {
            /* the file we stopped in is gone: say so, then read what is there */
            rc = open_at(t, t->cfg.path, 0);
            if (rc == 0) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                (void)wk__au_emit_gap(t->parser, &t->psink,
                                      (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec,
                                      "audit log rotated away before it was read", 0, 0, 0,
                                      NULL, 0);
            }
        }
    } else {
        rc = open_at(t, t->cfg.path, 0);
        if (rc == 0 && t->cfg.from_end && fstat(t->fd, &st) == 0)
            t->off = (uint64_t)st.st_size;
    }
    if (rc < 0 && rc != -ENOENT)
        return rc; /* before any handle is open: a failed start leaves none (source.h) */
    uv_timer_init(t->base.loop, &t->timer);
    t->timer.data = t;
    (void)wk__idle_watch_init(&t->iw, t->base.loop, t->cfg.path, on_idle_wake, t);
    t->open_handles = 2;
    t->parser->next_off = t->off;
    uv_timer_start(&t->timer, tail_tick, 0, poll_ms(t->cfg.poll));
    return 0;
}

/* Feed the complete lines of buf. @return 0, or <0 when reading must stop. */
static int feed_lines(struct tail *t)
{
    size_t i = t->fed;
    int rc = 0;
    while (i < t->len && !t->pend.paused) {
        char *nl = memchr(t->buf + i, '\n', t->len - i);
        if (!nl)
            break;
        size_t l = (size_t)(nl - (t->buf + i));
        struct wk_line_ctx where = { t->curpath, ++t->lineno, t->vbase + t->off + i };
        t->fed_end = t->off + i + l + 1;
        if (t->replaying) {
            /* re-read lines: those before the high-water mark, in its file or the one
             * the cursor started in */
            bool in = (t->ino == t->hw_ino && t->off + i < t->hw_off) ||
                      (t->ino == t->start_ino && t->ino != t->hw_ino);
            if (!in)
                t->replaying = false;
            wk__au_replay(t->parser, in);
        }
        rc = wk_parser_auditd.feed_line(t->parser, t->buf + i, l, &where, &t->psink);
        i += l + 1;
        if (rc < 0)
            break;
    }
    if (t->pend.paused && rc >= 0) {
        /* the rest is read again after the resume: moving it now (up to a read's worth,
         * at every pause of a catch-up read) would copy it once per pause */
        t->fed = i;
        return rc;
    }
    t->fed = 0;
    memmove(t->buf, t->buf + i, t->len - i);
    t->len -= i;
    t->off += i;
    return rc;
}

/* Read what the current file has. @return bytes read, 0 at EOF, <0 on error. */
static ssize_t read_some(struct tail *t, size_t budget)
{
    if (t->fed) { /* what a pause left in front of the unread lines */
        memmove(t->buf, t->buf + t->fed, t->len - t->fed);
        t->len -= t->fed;
        t->off += t->fed;
        t->fed = 0;
    }
    if (t->cap - t->len < 65536) {
        size_t nc = t->cap ? t->cap * 2 : 1 << 17;
        if (nc > t->parser->opts.max_line * 2 + (1 << 17) && t->len > t->parser->opts.max_line) {
            /* an endless line: reject what we have and drop it */
            struct wk_line_ctx where = { t->curpath, ++t->lineno, t->off };
            (void)tail_reject(&t->psink, &where, "record longer than max_line", t->buf, 256);
            t->off += t->len;
            t->len = 0;
        } else {
            char *nb = realloc(t->buf, nc);
            if (!nb)
                return -ENOMEM;
            t->buf = nb;
            t->cap = nc;
        }
    }
    size_t want = t->cap - t->len;
    if (want > budget)
        want = budget;
    ssize_t n = pread(t->fd, t->buf + t->len, want, (off_t)(t->off + t->len));
    if (n < 0)
        return -errno;
    t->len += (size_t)n;
    return n;
}

static void next_file(struct tail *t)
{
    /* Records still held (auditd may rotate inside an event) stay in the parser: the
     * stream goes on in the next file at a higher virtual offset. */
    uint64_t next_base = t->vbase + t->off + t->len;
    if (t->nhist == WK_ARRAY_SIZE(t->hist)) {
        memmove(t->hist, t->hist + 1, sizeof(t->hist) - sizeof(t->hist[0]));
        t->nhist--;
    }
    t->hist[t->nhist].vbase = t->vbase;
    t->hist[t->nhist++].ino = t->ino;
    t->vbase = next_base;
    if (t->nqueue) {
        char *p = t->queue[0];
        memmove(t->queue, t->queue + 1, (t->nqueue - 1) * sizeof(char *));
        t->nqueue--;
        (void)open_at(t, p, 0);
        free(p);
        t->on_queue = true;
    } else {
        (void)open_at(t, t->cfg.path, 0);
        t->on_queue = false;
    }
    t->parser->next_off = t->vbase + t->off;
}

static void tail_tick(uv_timer_t *timer)
{
    struct tail *t = timer->data;
    size_t budget = (size_t)t->cfg.tick_read;
    if (t->stopping || t->pend.paused)
        return;
    if (t->fd < 0) {
        if (open_at(t, t->cfg.path, 0) < 0)
            return;
        t->parser->next_off = t->vbase;
    }
    /* Whether we read to the end of the live file: only then have an event's records
     * stopped arriving. A tick that ends because tick_read ran out (or back-pressure) has
     * more of the file to read, and the records still to come may belong to events held
     * now: closing those by the wall-clock timeout would split them at a read boundary
     * (and old records, far older than 2 s, would all be closed at every tick). */
    bool caught_up = false, got = false;
    for (int guard = 0; guard < 1000 && budget > 0 && !t->pend.paused; guard++) {
        ssize_t n = read_some(t, budget);
        if (n < 0) {
            snprintf(t->last_error, sizeof(t->last_error), "%.200s: %s", t->curpath, strerror((int)-n));
            close_fd(t);
            return;
        }
        if (n > 0) {
            got = true;
            budget -= (size_t)n < budget ? (size_t)n : budget;
            if (feed_lines(t) < 0)
                return;
            continue;
        }
        /* at EOF: a rotated file is done; the live one may have been rotated */
        if (t->on_queue) {
            got = true;
            next_file(t);
            continue;
        }
        struct stat st;
        if (stat(t->cfg.path, &st) == 0 && (uint64_t)st.st_ino != t->ino) {
            /* rotated: we hold the old file and read it to its end above; now go through
             * whatever was rotated after it, then the new audit.log */
            int k = find_rotated(t, t->ino);
            if (k > 1)
                queue_newer(t, k);
            got = true;
            next_file(t);
            continue;
        }
        if (stat(t->cfg.path, &st) == 0 && (uint64_t)st.st_size < t->off + t->len) {
            got = true;
            next_file(t); /* truncated in place: read it again from 0 */
            continue;
        }
        caught_up = true;
        break;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    if (caught_up && !t->pend.paused)
        (void)wk_parser_auditd.tick(t->parser, now, &t->psink);
    if (t->cfg.lost_poll > 0 && now >= t->lost_next) {
        t->lost_next = now + t->cfg.lost_poll;
        (void)wk__au_lost_check(&t->lost, t->parser, &t->psink, now);
    }
    uint64_t held[1];
    if (!caught_up || got || t->pend.paused || wk__au_held_serials(t->parser, held, 0) > 0) {
        if (t->idle)
            set_active(t, 0); /* woken by the safety poll: the watch did not fire */
        else
            t->quiet = 0;
    } else {
        maybe_idle(t);
    }
}

static void tail_resume(struct wk_source *src)
{
    struct tail *t = (struct tail *)src;
    if (wk__au_pending_drain(&t->pend, &t->base) == 0 && !t->stopping) {
        (void)feed_lines(t); /* lines read before the pause */
        set_active(t, 0);
    }
}

static void handle_closed(struct tail *t)
{
    if (--t->open_handles == 0 && t->done)
        t->done((struct wk_source *)t);
}

static void on_timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void on_watch_closed(struct wk__idle_watch *w)
{
    handle_closed(w->data);
}

static void tail_stop(struct wk_source *src, void (*done)(struct wk_source *))
{
    struct tail *t = (struct tail *)src;
    t->stopping = true;
    t->done = done;
    uv_timer_stop(&t->timer);
    uv_close((uv_handle_t *)&t->timer, on_timer_closed);
    wk__idle_watch_close(&t->iw, on_watch_closed);
}

static void tail_destroy(struct wk_source *src)
{
    struct tail *t = (struct tail *)src;
    if (!t)
        return;
    close_fd(t);
    wk_parser_auditd.destroy(t->parser);
    wk__au_pending_fini(&t->pend);
    for (size_t i = 0; i < t->nqueue; i++)
        free(t->queue[i]);
    free(t->buf);
    free(t->cfg.path);
    free(t->cfg.host);
    free(t);
}

static void tail_status(struct wk_source *src, struct wk_source_status *st)
{
    struct tail *t = (struct tail *)src;
    struct stat sb;
    memset(st, 0, sizeof(*st));
    st->state = t->stopping ? "stopped" : t->fd < 0 ? "error" : "running";
    st->events = t->events;
    st->rejected = t->rejected;
    if (t->fd >= 0 && fstat(t->fd, &sb) == 0 && (uint64_t)sb.st_size > t->off + t->len)
        st->lag_bytes = (uint64_t)sb.st_size - t->off - t->len;
    snprintf(st->last_error, sizeof(st->last_error), "%s", t->last_error);
}

const struct wk_source_ops wk_source_auditd = {
    .version = WK_SOURCE_OPS_V1,
    .name = "auditd",
    .description = "tail of auditd's log file, following rotation, with container attribution",
    .options = tail_options,
    .config_size = sizeof(struct tail_cfg),
    .available = tail_available,
    .create = tail_create,
    .start = tail_start,
    .resume = tail_resume,
    .stop = tail_stop,
    .destroy = tail_destroy,
    .status = tail_status,
};
