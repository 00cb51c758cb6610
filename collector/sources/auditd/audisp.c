/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `auditd_audisp` live source: records on stdin, one per line, as auditd's plugin
 * dispatcher delivers them (packaging/audit/plugins.d/watchkeeper.conf.in, format = string).
 * A plugin must never block auditd, so stdin is always read: when the pipeline is full,
 * events wait in a queue bounded in events (`queue`) and in bytes (`queue_bytes`), and past
 * either bound they are dropped and counted; a `gap` event with the count is submitted as
 * soon as the pipeline takes events again. stdin closing (auditd stopping) flushes the
 * events held and stops the source.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "watchkeeper/source.h"

#include "auditd_private.h"
#include "source_private.h"

struct audisp_cfg {
    int64_t fd;
    int64_t queue;
    uint64_t queue_bytes;
    bool read_proc;
    char *host;
};

static const struct wk_option audisp_options[] = {
    { "fd", WK_OPT_INT, "0", offsetof(struct audisp_cfg, fd),
      "file descriptor the records arrive on (auditd gives plugins stdin)" },
    { "queue", WK_OPT_INT, "16384", offsetof(struct audisp_cfg, queue),
      "events kept while the pipeline is full; beyond, they are dropped and counted" },
    { "queue_bytes", WK_OPT_SIZE, "8MiB", offsetof(struct audisp_cfg, queue_bytes),
      "bytes those events may hold (each at its size in memory, about 17 KB for an audit "
      "event); beyond, they are dropped and counted" },
    { "read_proc", WK_OPT_BOOL, "true", offsetof(struct audisp_cfg, read_proc),
      "attribute processes to containers through /proc/PID/cgroup too" },
    { "host", WK_OPT_STRING, NULL, offsetof(struct audisp_cfg, host),
      "host.name for events (default: this host's name)" },
    { 0 },
};

struct audisp {
    struct wk_source_base base;
    struct audisp_cfg cfg;
    uv_pipe_t pipe;
    uv_timer_t timer;
    int nopen;
    struct wk_parser *parser;
    struct wk_parser_sink psink;
    struct wk__au_pending pend;
    char *buf;
    size_t len, cap;
    uint64_t lineno, off;
    uint64_t lost_reported;
    struct wk__au_lost lost;
    uint64_t ticks;
    bool eof, stopping;
    void (*done)(struct wk_source *);
    uint64_t events, rejected;
    char last_error[256];
};

static bool audisp_available(const void *config, char *why, size_t whylen)
{
    (void)config;
    snprintf(why, whylen, "runs only when auditd starts watchkeeper as a plugin");
    return false;
}

static int audisp_emit(struct wk_parser_sink *ps, struct wk_event *ev, uint64_t resume)
{
    struct audisp *a = wk_container_of(ps, struct audisp, psink);
    (void)resume; /* stdin cannot be re-read: no cursor */
    int rc = wk__au_pending_submit(&a->pend, &a->base, ev, NULL, 0);
    if (rc == 0)
        a->events++;
    return rc == -EAGAIN || rc == -ENOBUFS ? 0 : rc;
}

static int audisp_reject(struct wk_parser_sink *ps, const struct wk_line_ctx *where,
                         const char *reason, const char *raw, size_t len)
{
    struct audisp *a = wk_container_of(ps, struct audisp, psink);
    char msg[512];
    a->rejected++;
    snprintf(msg, sizeof(msg), "stdin:%llu: %s", (unsigned long long)(where ? where->lineno : 0),
             reason);
    return a->base.sink->reject(a->base.sink, (struct wk_source *)a, msg, raw, len);
}

static int audisp_create(struct wk_source **out, const void *config)
{
    const struct audisp_cfg *c = config;
    struct audisp *a = wk_new0(struct audisp, 1);
    struct wk_parser_opts opts;
    if (!a)
        return -ENOMEM;
    a->cfg = *c;
    /* live events come from this host unless records say node= or the config says */
    char hn[256] = "";
    if (!c->host && gethostname(hn, sizeof(hn) - 1) < 0)
        hn[0] = 0;
    a->cfg.host = c->host ? strdup(c->host) : hn[0] ? strdup(hn) : NULL;
    wk_parser_opts_init(&opts);
    opts.host = a->cfg.host;
    if (wk__auditd_parser_new(&a->parser, &opts, true) < 0) {
        free(a->cfg.host);
        free(a);
        return -ENOMEM;
    }
    wk__au_attrib_set_proc(a->parser->attrib, c->read_proc);
    a->psink.emit = audisp_emit;
    a->psink.reject = audisp_reject;
    wk__au_pending_init(&a->pend, c->queue > 0 ? (size_t)c->queue : 16384);
    a->pend.max_bytes = c->queue_bytes < SIZE_MAX ? (size_t)c->queue_bytes : SIZE_MAX;
    *out = (struct wk_source *)a;
    return 0;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Report what was dropped, once the pipeline takes events again. */
static void report_loss(struct audisp *a)
{
    uint64_t lost = a->pend.dropped - a->lost_reported;
    if (!lost || a->pend.paused)
        return;
    if (wk__au_emit_gap(a->parser, &a->psink, now_ns(),
                        "audisp: pipeline full, events dropped", lost, 0, 0, NULL, 0) == 0)
        a->lost_reported += lost;
}

static void feed(struct audisp *a)
{
    size_t i = 0;
    while (i < a->len) {
        char *nl = memchr(a->buf + i, '\n', a->len - i);
        if (!nl)
            break;
        size_t l = (size_t)(nl - (a->buf + i));
        struct wk_line_ctx where = { "-", ++a->lineno, a->off + i };
        (void)wk_parser_auditd.feed_line(a->parser, a->buf + i, l, &where, &a->psink);
        i += l + 1;
    }
    memmove(a->buf, a->buf + i, a->len - i);
    a->len -= i;
    a->off += i;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct audisp *a = h->data;
    (void)suggested;
    if (a->cap - a->len < 65536) {
        size_t nc = a->cap ? a->cap * 2 : 1 << 17;
        if (a->len > a->parser->opts.max_line) {
            /* a line without end: reject a prefix and drop it rather than grow forever */
            struct wk_line_ctx where = { "-", ++a->lineno, a->off };
            (void)audisp_reject(&a->psink, &where, "record longer than max_line", a->buf, 256);
            a->off += a->len;
            a->len = 0;
        } else {
            char *nb = realloc(a->buf, nc);
            if (nb) {
                a->buf = nb;
                a->cap = nc;
            }
        }
    }
    b->base = a->buf + a->len;
    b->len = a->cap - a->len;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct audisp *a = h->data;
    if (--a->nopen == 0 && a->done)
        a->done((struct wk_source *)a);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct audisp *a = s->data;
    (void)b;
    if (n > 0) {
        a->len += (size_t)n;
        feed(a);
        report_loss(a);
        return;
    }
    if (n == UV_EOF || n < 0) {
        if (n != UV_EOF)
            snprintf(a->last_error, sizeof(a->last_error), "stdin: %s", uv_strerror((int)n));
        a->eof = true;
        uv_read_stop(s);
        if (a->len) { /* a last line without its newline */
            struct wk_line_ctx where = { "-", ++a->lineno, a->off };
            (void)wk_parser_auditd.feed_line(a->parser, a->buf, a->len, &where, &a->psink);
            a->len = 0;
        }
        (void)wk_parser_auditd.flush(a->parser, &a->psink);
        report_loss(a);
    }
}

static void on_timer(uv_timer_t *t)
{
    struct audisp *a = t->data;
    int64_t now = now_ns();
    (void)wk_parser_auditd.tick(a->parser, now, &a->psink);
    if (++a->ticks % 10 == 0) /* every 10 s: the kernel's own losses */
        (void)wk__au_lost_check(&a->lost, a->parser, &a->psink, now);
    report_loss(a);
}

static int audisp_start(struct wk_source *src, const void *cursor, size_t cursor_len)
{
    struct audisp *a = (struct audisp *)src;
    (void)cursor;
    (void)cursor_len;
    int rc = uv_pipe_init(a->base.loop, &a->pipe, 0);
    if (rc < 0)
        return rc;
    a->pipe.data = a;
    a->nopen++;
    if ((rc = uv_pipe_open(&a->pipe, (uv_file)a->cfg.fd)) < 0 ||
        (rc = uv_read_start((uv_stream_t *)&a->pipe, on_alloc, on_read)) < 0) {
        snprintf(a->last_error, sizeof(a->last_error), "fd %d: %s", (int)a->cfg.fd,
                 uv_strerror(rc));
        return rc;
    }
    uv_timer_init(a->base.loop, &a->timer);
    a->timer.data = a;
    a->nopen++;
    uv_timer_start(&a->timer, on_timer, 1000, 1000);
    return 0;
}

static void audisp_resume(struct wk_source *src)
{
    struct audisp *a = (struct audisp *)src;
    if (wk__au_pending_drain(&a->pend, &a->base) == 0)
        report_loss(a);
}

static void audisp_stop(struct wk_source *src, void (*done)(struct wk_source *))
{
    struct audisp *a = (struct audisp *)src;
    a->stopping = true;
    a->done = done;
    if (a->nopen == 0) {
        done(src);
        return;
    }
    if (!uv_is_closing((uv_handle_t *)&a->pipe))
        uv_close((uv_handle_t *)&a->pipe, on_handle_closed);
    if (a->nopen > 1 && !uv_is_closing((uv_handle_t *)&a->timer))
        uv_close((uv_handle_t *)&a->timer, on_handle_closed);
}

static void audisp_destroy(struct wk_source *src)
{
    struct audisp *a = (struct audisp *)src;
    if (!a)
        return;
    wk_parser_auditd.destroy(a->parser);
    wk__au_pending_fini(&a->pend);
    free(a->buf);
    free(a->cfg.host);
    free(a);
}

static void audisp_status(struct wk_source *src, struct wk_source_status *st)
{
    struct audisp *a = (struct audisp *)src;
    memset(st, 0, sizeof(*st));
    st->state = a->stopping || a->eof ? "stopped" : "running";
    st->events = a->events;
    st->rejected = a->rejected;
    snprintf(st->last_error, sizeof(st->last_error), "%s", a->last_error);
}

const struct wk_source_ops wk_source_auditd_audisp = {
    .version = WK_SOURCE_OPS_V1,
    .name = "auditd_audisp",
    .description = "audit records on stdin from auditd's plugin dispatcher (never blocks auditd)",
    .options = audisp_options,
    .config_size = sizeof(struct audisp_cfg),
    .available = audisp_available,
    .create = audisp_create,
    .start = audisp_start,
    .resume = audisp_resume,
    .stop = audisp_stop,
    .destroy = audisp_destroy,
    .status = audisp_status,
};
