/* SPDX-License-Identifier: Apache-2.0 */
/*
 * file_jsonl: tails a file of normalized events, one JSON object per line (the jsonl parser,
 * what `query --format jsonl` prints). The cursor is the file's device, inode and the offset
 * after the last submitted line, so a restart resumes exactly there; a rotated file (new
 * inode at the path) is read to its end first, a truncated one is read again from 0.
 * Regular files are read with bounded pread()s from a poll timer: a page-cache read does not
 * block the loop for long, and the budget per tick keeps one busy file from starving others.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "watchkeeper/log.h"
#include "watchkeeper/mem.h"
#include "watchkeeper/parser.h"
#include "watchkeeper/source.h"
#include "watchkeeper/timefmt.h"

#include "../idle_watch_private.h"


struct fj_cfg {
    char *path;
    int64_t poll;       /* ns between polls when idle */
    int64_t idle_poll;  /* ns between polls once the directory watch is armed */
    uint64_t max_line;  /* longest line kept; longer ones are rejected */
    uint64_t tick_read; /* bytes read per loop iteration at most */
    char *start;        /* "beginning" or "end" when no cursor is stored */
    char *host;         /* host.name set on events that have none */
    char *format;       /* the parser: jsonl, or any line-per-event --format name */
};

static const struct wk_option fj_options[] = {
    { "path", WK_OPT_PATH, NULL, offsetof(struct fj_cfg, path), "the file to tail (required)" },
    { "poll", WK_OPT_DURATION, "250ms", offsetof(struct fj_cfg, poll),
      "how often to look for new lines when idle" },
    { "idle_poll", WK_OPT_DURATION, "2s", offsetof(struct fj_cfg, idle_poll),
      "after a few polls with nothing new: an inotify watch on the file's directory wakes "
      "the source at once, and it polls only this often (the fallback where inotify does "
      "not fire); at most `poll`: never" },
    { "max_line", WK_OPT_SIZE, "1MiB", offsetof(struct fj_cfg, max_line),
      "longer lines are rejected (quarantined)" },
    { "tick_read", WK_OPT_SIZE, "1MiB", offsetof(struct fj_cfg, tick_read),
      "bytes read per loop iteration at most" },
    { "start", WK_OPT_STRING, "beginning", offsetof(struct fj_cfg, start),
      "where to start with no stored cursor: beginning or end" },
    { "host", WK_OPT_STRING, NULL, offsetof(struct fj_cfg, host),
      "host.name for events that carry none" },
    { "format", WK_OPT_STRING, "jsonl", offsetof(struct fj_cfg, format),
      "input format (an `ingest --format` name): jsonl, docker-events, json-file, ..." },
    { 0 },
};

/* The cursor, stored as 24 little-endian bytes. */
struct fj_pos {
    uint64_t dev, ino, off;
};

struct fj {
    struct wk_source_base base;
    struct fj_cfg cfg;
    uv_timer_t timer;
    struct wk__idle_watch iw; /* armed while idle */
    bool idle;
    unsigned quiet;           /* polls in a row that found nothing */
    int open_handles;
    const struct wk_parser_ops *pops;
    struct wk_parser *parser;
    struct wk_parser_sink psink;
    int fd;
    struct fj_pos pos;   /* position after the last submitted line */
    char *buf;           /* bytes read from pos.off on, not yet consumed */
    size_t len, cap;
    bool paused, stopping, skipping; /* skipping: inside an over-long line */
    void (*done)(struct wk_source *);
    uint64_t events, rejected, size_seen;
    char last_error[256];
    struct wk_ratelimit rl;
};

static void fj_set_error(struct fj *s, const char *what, int err)
{
    snprintf(s->last_error, sizeof(s->last_error), "%s: %s%s%s", s->cfg.path, what,
             *what ? ": " : "", strerror(err));
    if (wk_ratelimit_ok(&s->rl))
        wk_log_warn("source %s: %s", s->base.instance, s->last_error);
}

static void pos_encode(const struct fj_pos *p, unsigned char out[24])
{
    uint64_t v[3] = { p->dev, p->ino, p->off };
    for (int i = 0; i < 3; i++)
        for (int b = 0; b < 8; b++)
            out[i * 8 + b] = (unsigned char)(v[i] >> (8 * b));
}

static bool pos_decode(const void *cur, size_t len, struct fj_pos *p)
{
    if (!cur || len != 24)
        return false;
    const unsigned char *c = cur;
    uint64_t v[3] = { 0, 0, 0 };
    for (int i = 0; i < 3; i++)
        for (int b = 0; b < 8; b++)
            v[i] |= (uint64_t)c[i * 8 + b] << (8 * b);
    p->dev = v[0];
    p->ino = v[1];
    p->off = v[2];
    return true;
}

/* The event the parser built goes to the pipeline with the cursor after its line. */
static int fj_emit(struct wk_parser_sink *ps, struct wk_event *ev, uint64_t resume)
{
    struct fj *s = wk_container_of(ps, struct fj, psink);
    struct fj_pos after = s->pos;
    after.off = resume;
    unsigned char cur[24];
    pos_encode(&after, cur);
    struct wk_source_sink *sk = s->base.sink;
    int rc = s->pops->emits_owned
                 ? wk_source_hand_over(sk, (struct wk_source *)s, ev, cur, sizeof(cur))
                 : sk->submit(sk, (struct wk_source *)s, ev, cur, sizeof(cur));
    if (rc == 0)
        s->events++;
    return rc;
}

static int fj_reject(struct wk_parser_sink *ps, const struct wk_line_ctx *where,
                     const char *reason, const char *raw, size_t len)
{
    struct fj *s = wk_container_of(ps, struct fj, psink);
    s->rejected++;
    return s->base.sink->reject(s->base.sink, (struct wk_source *)s, reason, raw, len);
}

static void fj_close_fd(struct fj *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->len = 0;
    s->skipping = false;
}

/* Open the path; keep the offset when it is the same file as the cursor's. */
static int fj_open(struct fj *s, bool from_cursor)
{
    int fd = open(s->cfg.path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    bool same = from_cursor && s->pos.dev == (uint64_t)st.st_dev &&
                s->pos.ino == (uint64_t)st.st_ino && s->pos.off <= (uint64_t)st.st_size;
    if (!same) {
        if (from_cursor && s->pos.ino)
            wk_log_info("source %s: %s is not the file of the stored cursor (rotated or "
                        "truncated): reading it from the beginning",
                        s->base.instance, s->cfg.path);
        s->pos.off = 0;
        if (!from_cursor && strcmp(s->cfg.start, "end") == 0)
            s->pos.off = (uint64_t)st.st_size;
    }
    s->pos.dev = (uint64_t)st.st_dev;
    s->pos.ino = (uint64_t)st.st_ino;
    s->fd = fd;
    s->len = 0;
    s->last_error[0] = '\0';
    return 0;
}

/* Feed whole lines from buf; stop at -EAGAIN without consuming the refused line. */
static int fj_consume(struct fj *s)
{
    size_t i = 0;
    int rc = 0;
    while (i < s->len) {
        char *nl = memchr(s->buf + i, '\n', s->len - i);
        if (!nl)
            break;
        size_t l = (size_t)(nl - (s->buf + i));
        if (s->skipping) {
            s->skipping = false; /* the tail of an over-long line, rejected already */
        } else {
            struct wk_line_ctx where = { .path = s->cfg.path, .offset = s->pos.off };
            rc = s->pops->feed_line(s->parser, s->buf + i, l, &where, &s->psink);
            if (rc == -EAGAIN)
                break;
            if (rc < 0)
                break;
        }
        i += l + 1;
        s->pos.off += l + 1;
    }
    if (i < s->len && rc == 0 && s->len - i > s->cfg.max_line) {
        /* No newline within max_line: reject what we hold and skip to the next line. */
        (void)fj_reject(&s->psink, NULL, "line longer than max_line", s->buf + i,
                        s->len - i < 256 ? s->len - i : 256);
        s->pos.off += s->len - i;
        i = s->len;
        s->skipping = true;
    }
    memmove(s->buf, s->buf + i, s->len - i);
    s->len -= i;
    return rc;
}

static void fj_tick(uv_timer_t *t);

static void fj_arm(struct fj *s, uint64_t ms)
{
    if (!s->stopping && !s->paused)
        uv_timer_start(&s->timer, fj_tick, ms, 0);
}

static void fj_wake(struct wk__idle_watch *w)
{
    struct fj *s = w->data;
    if (s->idle) {
        s->idle = false;
        s->quiet = 0;
        fj_arm(s, WK_IDLE_WAKE_MS);
    }
}

/* At the end of a poll that found nothing: after WK_IDLE_QUIET_POLLS of them, arm the
 * directory watch and poll every idle_poll only. The file is checked once more after the
 * arming, so a write between the last read and the arming is not missed. @return true
 * when idle (the timer is armed). */
static bool fj_maybe_idle(struct fj *s)
{
    if (s->idle) {
        fj_arm(s, (uint64_t)(s->cfg.idle_poll / 1000000));
        return true;
    }
    if (++s->quiet < WK_IDLE_QUIET_POLLS || s->cfg.idle_poll <= s->cfg.poll || s->fd < 0 ||
        s->paused || !wk__idle_watch_arm(&s->iw))
        return false;
    struct stat st;
    if (stat(s->cfg.path, &st) < 0 || (uint64_t)st.st_ino != s->pos.ino ||
        (uint64_t)st.st_dev != s->pos.dev || (uint64_t)st.st_size != s->pos.off + s->len) {
        wk__idle_watch_disarm(&s->iw);
        return false;
    }
    s->idle = true;
    fj_arm(s, (uint64_t)(s->cfg.idle_poll / 1000000));
    return true;
}

/* Something was read or changed: poll at the read cadence again. */
static void fj_busy(struct fj *s)
{
    s->quiet = 0;
    if (s->idle) {
        s->idle = false;
        wk__idle_watch_disarm(&s->iw);
    }
}

/* One poll: read up to tick_read bytes, feed lines, handle rotation and truncation. */
static void fj_tick(uv_timer_t *t)
{
    struct fj *s = wk_container_of(t, struct fj, timer);
    uint64_t idle_ms = (uint64_t)(s->cfg.poll / 1000000);
    uint64_t off0 = s->pos.off + s->len;
    if (s->fd < 0) {
        int rc = fj_open(s, s->pos.ino != 0);
        if (rc < 0) {
            fj_set_error(s, "", -rc);
            fj_arm(s, idle_ms ? idle_ms : 1);
            return;
        }
    }
    /* Held lines first: after a resume the refused line is still in buf. */
    if (s->len) {
        int rc = fj_consume(s);
        if (rc == -EAGAIN) {
            fj_busy(s);
            s->paused = true;
            return;
        }
    }
    size_t budget = s->cfg.tick_read;
    bool more = false;
    while (budget > 0) {
        size_t want = s->cfg.max_line + 65536;
        if (s->cap < want) {
            char *nb = realloc(s->buf, want);
            if (!nb) {
                fj_set_error(s, "", ENOMEM);
                fj_arm(s, idle_ms);
                return;
            }
            s->buf = nb;
            s->cap = want;
        }
        size_t room = s->cap - s->len;
        if (room > budget)
            room = budget;
        ssize_t n = pread(s->fd, s->buf + s->len, room, (off_t)(s->pos.off + s->len));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fj_set_error(s, "read", errno);
            fj_close_fd(s);
            fj_arm(s, idle_ms);
            return;
        }
        if (n == 0)
            break;
        s->len += (size_t)n;
        budget -= (size_t)n;
        int rc = fj_consume(s);
        if (rc == -EAGAIN) {
            fj_busy(s);
            s->paused = true;
            return;
        }
        if (rc < 0) {
            fj_set_error(s, "", -rc == ENOMEM ? ENOMEM : EIO);
            break;
        }
        if (budget == 0)
            more = true;
    }
    if (more) {
        fj_busy(s);
        fj_arm(s, 0);
        return;
    }
    /* At the end: a new file at the path means rotation (we finished the old one), a
     * smaller size means truncation. */
    struct stat st, pst;
    if (fstat(s->fd, &st) == 0)
        s->size_seen = (uint64_t)st.st_size;
    if (stat(s->cfg.path, &pst) == 0) {
        if ((uint64_t)pst.st_ino != s->pos.ino || (uint64_t)pst.st_dev != s->pos.dev) {
            if (s->len)
                (void)fj_reject(&s->psink, NULL, "unterminated last line of rotated file",
                                s->buf, s->len);
            fj_close_fd(s);
            s->pos.off = 0;
            s->pos.ino = 0;
            fj_busy(s);
            fj_arm(s, 0);
            return;
        }
        if ((uint64_t)pst.st_size < s->pos.off + s->len) {
            wk_log_warn("source %s: %s was truncated: reading it again from the beginning",
                        s->base.instance, s->cfg.path);
            fj_close_fd(s);
            s->pos.off = 0;
            fj_busy(s);
            fj_arm(s, 0);
            return;
        }
    }
    if (s->pos.off + s->len != off0)
        fj_busy(s);
    else if (fj_maybe_idle(s))
        return;
    fj_arm(s, idle_ms ? idle_ms : 1);
}

static bool fj_available(const void *config, char *why, size_t whylen)
{
    const struct fj_cfg *c = config;
    if (!c->path) {
        snprintf(why, whylen, "no path configured");
        return false;
    }
    if (access(c->path, R_OK) < 0) {
        snprintf(why, whylen, "%s: %s", c->path, strerror(errno));
        return false;
    }
    return true;
}

static int fj_copy_cfg(struct fj_cfg *dst, const struct fj_cfg *src)
{
    *dst = *src;
    dst->path = src->path ? strdup(src->path) : NULL;
    dst->start = strdup(src->start ? src->start : "beginning");
    dst->host = src->host ? strdup(src->host) : NULL;
    dst->format = strdup(src->format ? src->format : "jsonl");
    if ((src->path && !dst->path) || !dst->start || (src->host && !dst->host) ||
        !dst->format)
        return -ENOMEM;
    return 0;
}

static void fj_destroy(struct wk_source *src)
{
    struct fj *s = (struct fj *)src;
    if (!s)
        return;
    fj_close_fd(s);
    if (s->pops)
        s->pops->destroy(s->parser);
    wk_options_fini(fj_options, &s->cfg);
    free(s->buf);
    free(s);
}

static int fj_create(struct wk_source **out, const void *config)
{
    const struct fj_cfg *c = config;
    if (!c->path || !*c->path)
        return -EINVAL;
    if (strcmp(c->start, "beginning") != 0 && strcmp(c->start, "end") != 0)
        return -EINVAL;
    const struct wk_parser_ops *pops = wk_parser_find(c->format ? c->format : "jsonl");
    if (!pops)
        return -EINVAL;
    struct fj *s = wk_new0(struct fj, 1);
    if (!s)
        return -ENOMEM;
    s->fd = -1;
    s->rl = (struct wk_ratelimit)WK_RATELIMIT_INIT(60, 3);
    s->psink.emit = fj_emit;
    s->psink.reject = fj_reject;
    s->pops = pops;
    struct wk_parser_opts po;
    wk_parser_opts_init(&po);
    int rc = fj_copy_cfg(&s->cfg, c);
    po.host = s->cfg.host;
    po.max_line = s->cfg.max_line;
    if (rc == 0)
        rc = pops->create(&s->parser, &po);
    if (rc < 0)
        s->pops = NULL;
    if (rc < 0) {
        fj_destroy((struct wk_source *)s);
        return rc;
    }
    *out = (struct wk_source *)s;
    return 0;
}

static int fj_start(struct wk_source *src, const void *cursor, size_t cursor_len)
{
    struct fj *s = (struct fj *)src;
    int rc = uv_timer_init(s->base.loop, &s->timer);
    if (rc < 0)
        return rc;
    (void)wk__idle_watch_init(&s->iw, s->base.loop, s->cfg.path, fj_wake, s);
    s->open_handles = 2;
    if (!pos_decode(cursor, cursor_len, &s->pos))
        memset(&s->pos, 0, sizeof(s->pos));
    rc = fj_open(s, s->pos.ino != 0);
    if (rc < 0) /* a missing file is a state: we poll until it appears */
        fj_set_error(s, "", -rc);
    fj_arm(s, 0);
    return 0;
}

static void fj_resume(struct wk_source *src)
{
    struct fj *s = (struct fj *)src;
    if (!s->paused)
        return;
    s->paused = false;
    fj_busy(s);
    fj_arm(s, 0);
}

static void fj_handle_closed(struct fj *s)
{
    if (--s->open_handles == 0 && s->done)
        s->done((struct wk_source *)s);
}

static void fj_timer_closed(uv_handle_t *h)
{
    fj_handle_closed(wk_container_of(h, struct fj, timer));
}

static void fj_watch_closed(struct wk__idle_watch *w)
{
    fj_handle_closed(w->data);
}

static void fj_stop(struct wk_source *src, void (*done)(struct wk_source *))
{
    struct fj *s = (struct fj *)src;
    s->stopping = true;
    s->done = done;
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, fj_timer_closed);
    wk__idle_watch_close(&s->iw, fj_watch_closed);
}

static void fj_status(struct wk_source *src, struct wk_source_status *st)
{
    struct fj *s = (struct fj *)src;
    st->state = s->paused ? "paused" : s->fd < 0 ? "error" : "running";
    if (s->fd < 0 && !s->last_error[0])
        st->state = "stopped";
    st->events = s->events;
    st->rejected = s->rejected;
    struct stat pst;
    uint64_t size = s->size_seen;
    if (stat(s->cfg.path, &pst) == 0 && (uint64_t)pst.st_ino == s->pos.ino)
        size = (uint64_t)pst.st_size;
    st->lag_bytes = size > s->pos.off ? size - s->pos.off : 0;
    st->lag_ns = 0;
    snprintf(st->last_error, sizeof(st->last_error), "%s", s->last_error);
}

const struct wk_source_ops wk_source_file_jsonl = {
    .version = WK_SOURCE_OPS_V1,
    .name = "file_jsonl",
    .description = "tail a file of normalized events, one JSON object per line",
    .options = fj_options,
    .config_size = sizeof(struct fj_cfg),
    .available = fj_available,
    .create = fj_create,
    .start = fj_start,
    .resume = fj_resume,
    .stop = fj_stop,
    .destroy = fj_destroy,
    .status = fj_status,
};
