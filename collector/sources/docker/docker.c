/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `docker` live source: streams GET /events from the Engine API with libcurl's
 * multi-socket interface driven by the libuv loop, resumes with `since` after the stored
 * cursor (dropping the repeated boundary events), backs off with jitter while the daemon is
 * away, records gaps and reconciles when events may have been lost, and enriches container
 * events from GET /containers/{id}/json and exec events from GET /exec/{id}/json.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../clog/clog_private.h"
#include "docker_private.h"
#include "watchkeeper/containers.h"
#include "watchkeeper/error.h"
#include "watchkeeper/log.h"
#include "watchkeeper/mem.h"
#include "watchkeeper/source.h"
#include "watchkeeper/timefmt.h"

#define CURSOR_MAGIC 0x31444b57u /* "WKD1" */
#define MAX_KEYS 32
#define QUEUE_HIGH 4096 /* events held before the stream is paused */
#define MAX_BODY (64u << 20)

struct docker_cfg {
    char *host;
    char *api_version;
    int64_t backoff_min;
    int64_t backoff_max;
    bool inspect;
    char *tls_ca, *tls_cert, *tls_key;
    uint64_t max_line;
    char *hostname;
};

static const struct wk_option docker_options[] = {
    {"host", WK_OPT_STRING, "", offsetof(struct docker_cfg, host),
     "Engine API address: unix:///path or tcp://host:port; empty: $DOCKER_HOST, else "
     "unix:///var/run/docker.sock"},
    {"api_version", WK_OPT_STRING, "1.41", offsetof(struct docker_cfg, api_version),
     "highest API version to ask for (lowered to the daemon's ApiVersion)"},
    {"backoff_min", WK_OPT_DURATION, "200ms", offsetof(struct docker_cfg, backoff_min),
     "first reconnect delay"},
    {"backoff_max", WK_OPT_DURATION, "30s", offsetof(struct docker_cfg, backoff_max),
     "longest reconnect delay"},
    {"inspect", WK_OPT_BOOL, "true", offsetof(struct docker_cfg, inspect),
     "inspect containers on create/start and execs on exec_create"},
    {"tls_ca", WK_OPT_PATH, NULL, offsetof(struct docker_cfg, tls_ca),
     "CA file for tcp:// with TLS"},
    {"tls_cert", WK_OPT_PATH, NULL, offsetof(struct docker_cfg, tls_cert), "client certificate"},
    {"tls_key", WK_OPT_PATH, NULL, offsetof(struct docker_cfg, tls_key), "client key"},
    {"max_line", WK_OPT_SIZE, "1MiB", offsetof(struct docker_cfg, max_line),
     "longest /events object accepted"},
    {"hostname", WK_OPT_STRING, NULL, offsetof(struct docker_cfg, hostname),
     "host.name on events (default: gethostname)"},
    {NULL, WK_OPT_END, NULL, 0, NULL},
};

enum phase { PH_IDLE, PH_VERSION, PH_REPLAY, PH_STREAM, PH_BACKOFF, PH_STOPPED };
enum req_kind { RQ_VERSION, RQ_EVENTS, RQ_INSPECT, RQ_EXEC, RQ_LIST_RUNNING, RQ_LIST_ALL };

struct qent {
    struct wk_event *ev;
    int64_t ts;
    uint64_t key;
    bool keyed;  /* a real /events event (part of the cursor), not synthetic */
    int waiting; /* inspections not yet answered */
    struct qent *next;
};

struct req {
    struct wk_source *src;
    CURL *easy;
    enum req_kind kind;
    struct wk__cbuf body;
    struct qent *qe; /* the event waiting for this answer, or NULL */
    char arg[80];
    struct req *next;
    bool added;
};

struct sockctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct wk_source *src;
};

struct wk_source {
    struct wk_source_base base;
    struct docker_cfg cfg;
    CURLM *multi;
    uv_timer_t curl_timer, retry_timer;
    int open_handles;
    void (*stop_done)(struct wk_source *);
    char *sock_path; /* unix socket, or NULL for tcp */
    char *base_url;  /* "http://localhost" or "https://host:port" */
    char api[16];
    enum phase phase;
    struct req *reqs; /* in flight */
    struct req *events_req;
    bool events_paused, adds_pending;
    struct wk__cbuf line;
    /* Accepted (queued) position, used for `since` and dedupe. */
    int64_t acc_ns;
    uint64_t acc_keys[MAX_KEYS];
    unsigned acc_nkeys;
    /* Stored position (cursor of the last submitted event). */
    int64_t st_ns;
    uint64_t st_keys[MAX_KEYS];
    unsigned st_nkeys;
    /* The boundary of the current connection: `since` and the keys accepted at it. Only
     * these can come twice; an older event later in a stream is new (dockerd may publish
     * slightly out of order) and is kept. */
    int64_t conn_ns;
    uint64_t conn_keys[MAX_KEYS];
    unsigned conn_nkeys;
    bool ever_connected, had_cursor, boundary_seen, lost_connection;
    int64_t outage_start, replay_until;
    uint64_t replayed;
    unsigned attempt;
    struct qent *qhead, *qtail;
    size_t qlen;
    bool full; /* the pipeline said -EAGAIN */
    struct wk_containers *table;
    struct wk_event *scratch;
    char hostname[256];
    uint64_t events, rejected, gaps;
    char last_error[256];
    struct wk_ratelimit rl;
};

/* ---- small helpers ------------------------------------------------------------------ */

static uint64_t fnv64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Dedupe key: (timeNano, Type, Action, Actor.ID) as the API documents the boundary repeat. */
static uint64_t event_key(const json_t *o, int64_t ts)
{
    uint64_t h = fnv64(0xcbf29ce484222325ull, &ts, sizeof(ts));
    const char *f[] = {json_string_value(json_object_get(o, "Type")),
                       json_string_value(json_object_get(o, "Action")),
                       json_string_value(json_object_get(json_object_get(o, "Actor"), "ID")),
                       json_string_value(json_object_get(o, "status")),
                       json_string_value(json_object_get(o, "id"))};
    for (size_t i = 0; i < WK_ARRAY_SIZE(f); i++) {
        if (f[i])
            h = fnv64(h, f[i], strlen(f[i]) + 1);
        else
            h = fnv64(h, "", 1);
    }
    return h;
}

static void set_error(struct wk_source *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_error(struct wk_source *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
    va_end(ap);
}

static int cmp_version(const char *a, const char *b)
{
    unsigned am = 0, an = 0, bm = 0, bn = 0;
    sscanf(a, "%u.%u", &am, &an);
    sscanf(b, "%u.%u", &bm, &bn);
    if (am != bm)
        return am < bm ? -1 : 1;
    return an < bn ? -1 : an > bn;
}

/* ---- curl <-> libuv ----------------------------------------------------------------- */

static void check_done(struct wk_source *s);
static void flush_adds(struct wk_source *s);

static void handle_closed(uv_handle_t *h)
{
    struct wk_source *s = h->data;
    if (h->type == UV_POLL)
        free(wk_container_of((uv_poll_t *)h, struct sockctx, poll));
    if (--s->open_handles == 0 && s->stop_done)
        s->stop_done(s);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sockctx *c = wk_container_of(h, struct sockctx, poll);
    struct wk_source *s = c->src;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    int running;
    curl_multi_socket_action(s->multi, c->fd, flags, &running);
    check_done(s);
    flush_adds(s);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    struct wk_source *s = userp;
    struct sockctx *c = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (c) {
            uv_poll_stop(&c->poll);
            curl_multi_assign(s->multi, fd, NULL);
            uv_close((uv_handle_t *)&c->poll, handle_closed);
        }
        return 0;
    }
    if (!c) {
        c = wk_new0(struct sockctx, 1);
        if (!c)
            return -1;
        c->fd = fd;
        c->src = s;
        if (uv_poll_init_socket(s->base.loop, &c->poll, fd) < 0) {
            free(c);
            return -1;
        }
        c->poll.data = s;
        s->open_handles++;
        curl_multi_assign(s->multi, fd, c);
    }
    int ev = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&c->poll, ev, on_poll);
    return 0;
}

static void on_curl_timeout(uv_timer_t *t)
{
    struct wk_source *s = t->data;
    int running;
    curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(s);
    flush_adds(s);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct wk_source *s = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&s->curl_timer);
    else
        uv_timer_start(&s->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- requests ----------------------------------------------------------------------- */

static void on_stream_line(struct wk_source *s, const char *line, size_t len);

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct req *r = userdata;
    size_t n = size * nmemb;
    if (r->body.len + n > MAX_BODY || wk__cbuf_reserve(&r->body, n) < 0)
        return 0;
    memcpy(r->body.p + r->body.len, ptr, n);
    r->body.len += n;
    return n;
}

static size_t on_stream(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct req *r = userdata;
    struct wk_source *s = r->src;
    size_t n = size * nmemb;
    if (s->qlen >= QUEUE_HIGH) {
        s->events_paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    size_t i = 0;
    while (i < n) {
        const char *nl = memchr(ptr + i, '\n', n - i);
        size_t l = nl ? (size_t)(nl - (ptr + i)) : n - i;
        if (s->line.len + l > s->cfg.max_line) {
            /* Oversized object: keep counting it as one rejected line. */
            if (s->line.len <= s->cfg.max_line) {
                s->rejected++;
                if (wk_ratelimit_ok(&s->rl))
                    wk_log_warn("docker: /events object longer than %llu bytes dropped",
                                (unsigned long long)s->cfg.max_line);
                if (s->base.sink->reject)
                    s->base.sink->reject(s->base.sink, s, "docker: object too long", s->line.p,
                                         s->line.len);
            }
            s->line.len = s->cfg.max_line + 1;
        } else {
            if (wk__cbuf_reserve(&s->line, l) < 0)
                return 0;
            memcpy(s->line.p + s->line.len, ptr + i, l);
            s->line.len += l;
        }
        if (!nl)
            break;
        if (s->line.len <= s->cfg.max_line)
            on_stream_line(s, s->line.p, s->line.len);
        s->line.len = 0;
        i += l + 1;
    }
    return n;
}

static struct req *request(struct wk_source *s, enum req_kind kind, const char *path,
                           bool versioned)
{
    struct req *r = wk_new0(struct req, 1);
    if (!r)
        return NULL;
    r->src = s;
    r->kind = kind;
    r->easy = curl_easy_init();
    if (!r->easy) {
        free(r);
        return NULL;
    }
    char url[1024];
    if (versioned)
        snprintf(url, sizeof(url), "%s/v%s%s", s->base_url, s->api, path);
    else
        snprintf(url, sizeof(url), "%s%s", s->base_url, path);
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    if (s->sock_path)
        curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, s->sock_path);
    if (s->cfg.tls_ca && *s->cfg.tls_ca)
        curl_easy_setopt(e, CURLOPT_CAINFO, s->cfg.tls_ca);
    if (s->cfg.tls_cert && *s->cfg.tls_cert)
        curl_easy_setopt(e, CURLOPT_SSLCERT, s->cfg.tls_cert);
    if (s->cfg.tls_key && *s->cfg.tls_key)
        curl_easy_setopt(e, CURLOPT_SSLKEY, s->cfg.tls_key);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    if (kind == RQ_EVENTS) {
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_stream);
        curl_easy_setopt(e, CURLOPT_TIMEOUT, 0L);
        curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
    }
    /* libcurl refuses multi calls from inside its callbacks (CURLM_RECURSIVE_API_CALL),
     * and most requests are made from there: add the handle once the callback returned. */
    r->next = s->reqs;
    s->reqs = r;
    s->adds_pending = true;
    return r;
}

static void flush_adds(struct wk_source *s)
{
    if (!s->adds_pending)
        return;
    s->adds_pending = false;
    struct req **pp = &s->reqs;
    while (*pp) {
        struct req *r = *pp;
        if (r->added) {
            pp = &r->next;
            continue;
        }
        r->added = true;
        if (curl_multi_add_handle(s->multi, r->easy) == CURLM_OK) {
            pp = &r->next;
            continue;
        }
        /* Could not even start: fail it like a transfer error. */
        *pp = r->next;
        if (r->qe)
            r->qe->waiting--;
        if (s->events_req == r)
            s->events_req = NULL;
        curl_easy_cleanup(r->easy);
        wk__cbuf_fini(&r->body);
        free(r);
    }
}

static void req_unlink(struct wk_source *s, struct req *r)
{
    for (struct req **pp = &s->reqs; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    if (s->events_req == r)
        s->events_req = NULL;
    if (r->added)
        curl_multi_remove_handle(s->multi, r->easy);
    curl_easy_cleanup(r->easy);
    wk__cbuf_fini(&r->body);
    free(r);
}

/* ---- the queue: events in order, some waiting for inspection ------------------------ */

static void write_cursor(struct wk_source *s, unsigned char *buf, size_t *len)
{
    uint32_t magic = CURSOR_MAGIC, n = s->st_nkeys;
    memcpy(buf, &magic, 4);
    memcpy(buf + 4, &s->st_ns, 8);
    memcpy(buf + 12, &n, 4);
    memcpy(buf + 16, s->st_keys, n * 8);
    *len = 16 + n * 8;
}

static void drain(struct wk_source *s)
{
    while (s->qhead && s->qhead->waiting == 0 && !s->full && s->phase != PH_STOPPED) {
        struct qent *q = s->qhead;
        /* The cursor after this event. */
        int64_t ns = s->st_ns;
        uint64_t keys[MAX_KEYS];
        unsigned nk = s->st_nkeys;
        memcpy(keys, s->st_keys, sizeof(keys));
        if (q->keyed && q->ts >= s->st_ns) {
            if (q->ts != s->st_ns) {
                s->st_ns = q->ts;
                s->st_nkeys = 0;
            }
            if (s->st_nkeys < MAX_KEYS)
                s->st_keys[s->st_nkeys++] = q->key;
        }
        unsigned char cur[16 + MAX_KEYS * 8];
        size_t cl;
        write_cursor(s, cur, &cl);
        /* q->ev is ours alone and freed next: hand it over when the sink can take it. */
        int rc = wk_source_hand_over(s->base.sink, s, q->ev, cur, cl);
        if (rc == -EAGAIN) {
            s->st_ns = ns;
            s->st_nkeys = nk;
            memcpy(s->st_keys, keys, sizeof(keys));
            s->full = true;
            return;
        }
        if (rc < 0) {
            set_error(s, "submit failed: %s", wk_strerror(rc));
            wk_log_error("docker: submit failed: %s", wk_strerror(rc));
        } else {
            s->events++;
        }
        s->qhead = q->next;
        if (!s->qhead)
            s->qtail = NULL;
        s->qlen--;
        wk_event_free(q->ev);
        free(q);
    }
    if (s->events_paused && s->qlen < QUEUE_HIGH / 2 && s->events_req) {
        s->events_paused = false;
        curl_easy_pause(s->events_req->easy, CURLPAUSE_CONT);
    }
}

/* Queue ev's contents, without a copy: ev (the scratch event, rebuilt from empty for every
 * event) is left empty. */
static struct qent *enqueue(struct wk_source *s, struct wk_event *ev, int64_t ts,
                            uint64_t key, bool keyed)
{
    struct qent *q = wk_new0(struct qent, 1);
    if (q && wk_event_new(&q->ev) == 0)
        wk_event_swap(q->ev, ev);
    if (!q || !q->ev) {
        if (q)
            wk_event_free(q->ev);
        free(q);
        set_error(s, "out of memory");
        return NULL;
    }
    q->ts = ts;
    q->key = key;
    q->keyed = keyed;
    if (s->qtail)
        s->qtail->next = q;
    else
        s->qhead = q;
    s->qtail = q;
    s->qlen++;
    return q;
}

/* ---- enrichment --------------------------------------------------------------------- */

static void inspect(struct wk_source *s, const char *id, struct qent *qe)
{
    char path[160];
    snprintf(path, sizeof(path), "/containers/%.64s/json", id);
    struct req *r = request(s, RQ_INSPECT, path, true);
    if (!r)
        return;
    snprintf(r->arg, sizeof(r->arg), "%.64s", id);
    r->qe = qe;
    if (qe)
        qe->waiting++;
}

static void on_inspect(struct wk_source *s, struct req *r, bool ok)
{
    json_t *o = ok ? json_loadb(r->body.p, r->body.len, 0, NULL) : NULL;
    wk_log_debug("docker: inspect %s: %s, %zu bytes", r->arg, ok ? "ok" : "failed", r->body.len);
    struct wk_container *c = NULL;
    if (o && wk_containers_from_inspect(s->table, o, wk_time_now_ns(), &c) < 0)
        c = NULL;
    json_decref(o);
    if (!c)
        c = wk_containers_get(s->table, r->arg, strlen(r->arg));
    if (r->qe) {
        if (c)
            wk_container_enrich_event(c, r->qe->ev, true);
        r->qe->waiting--;
    }
}

static struct wk_key K_USER_NAME, K_ARGS, K_EXE, K_EXEC_PRIV, K_KIND, K_GAP_REASON, K_GAP_COUNT,
    K_GAP_START, K_GAP_END, K_GAP_LOSS, K_TYPE, K_ACTION, K_ACTOR_ID, K_RECON_CHANGE, K_RECON_STATE;

static void keys_init(void)
{
    K_USER_NAME = wk_key_init("user.name");
    K_ARGS = wk_key_init("process.args");
    K_EXE = wk_key_init("process.executable");
    K_EXEC_PRIV = wk_key_init("docker.exec.privileged");
    K_KIND = wk_key_init("event.kind");
    K_GAP_REASON = wk_key_init("gap.reason");
    K_GAP_COUNT = wk_key_init("gap.count");
    K_GAP_START = wk_key_init("gap.start");
    K_GAP_END = wk_key_init("gap.end");
    K_GAP_LOSS = wk_key_init("gap.possible_loss");
    K_TYPE = wk_key_init("Type");
    K_ACTION = wk_key_init("Action");
    K_ACTOR_ID = wk_key_init("Actor.ID");
    K_RECON_CHANGE = wk_key_init("reconcile.change");
    K_RECON_STATE = wk_key_init("reconcile.state");
}

static void on_exec(struct wk_source *s, struct req *r, bool ok)
{
    (void)s;
    json_t *o = ok ? json_loadb(r->body.p, r->body.len, 0, NULL) : NULL;
    const json_t *pc = json_object_get(o, "ProcessConfig");
    if (r->qe && json_is_object(pc)) {
        struct wk_event *ev = r->qe->ev;
        const char *user = json_string_value(json_object_get(pc, "user"));
        if (user && *user)
            wk_event_add_str(ev, 0, &K_USER_NAME, user, strlen(user));
        const json_t *ep = json_object_get(pc, "entrypoint"),
                     *args = json_object_get(pc, "arguments");
        size_t n = (json_is_string(ep) ? 1 : 0) + json_array_size(args);
        struct wk_str *items = n ? wk_new0(struct wk_str, n) : NULL;
        if (items) {
            size_t k = 0;
            if (json_is_string(ep))
                items[k++] = (struct wk_str){json_string_value(ep), json_string_length(ep)};
            size_t i;
            const json_t *a;
            json_array_foreach (args, i, a) {
                if (json_is_string(a))
                    items[k++] = (struct wk_str){json_string_value(a), json_string_length(a)};
            }
            wk_event_add_strlist(ev, 0, &K_ARGS, items, k);
            if (k)
                wk_event_add_str(ev, 0, &K_EXE, items[0].s, items[0].len);
            free(items);
        }
        wk_event_add_bool(ev, 0, &K_EXEC_PRIV, json_is_true(json_object_get(pc, "privileged")));
    }
    json_decref(o);
    if (r->qe)
        r->qe->waiting--;
}

/* ---- gaps and reconciliation -------------------------------------------------------- */

static void base_fields(struct wk_source *s, struct wk_event *ev, int64_t ts)
{
    wk_event_reset(ev);
    wk_event_set_ts(ev, ts);
    wk_event_add_str(ev, 0, &WK_KEY_EVENT_MODULE, "docker", 6);
    if (s->hostname[0])
        wk_event_add_str(ev, 0, &WK_KEY_HOST_NAME, s->hostname, strlen(s->hostname));
}

static void emit_gap(struct wk_source *s, const char *reason, int64_t start, int64_t end,
                     bool possible_loss)
{
    struct wk_event *ev = s->scratch;
    base_fields(s, ev, end);
    wk_event_add_str(ev, 0, &K_KIND, "gap", 3);
    wk_event_add_str(ev, 0, &WK_KEY_EVENT_ACTION, "gap", 3);
    wk_event_add_str(ev, 0, &K_GAP_REASON, reason, strlen(reason));
    /* count: events known to be missing; -1 when unknown (dockerd's buffer overflowed). */
    wk_event_add_int(ev, 0, &K_GAP_COUNT, possible_loss ? -1 : 0);
    wk_event_add_int(ev, 0, &K_GAP_START, start);
    wk_event_add_int(ev, 0, &K_GAP_END, end);
    wk_event_add_bool(ev, 0, &K_GAP_LOSS, possible_loss);
    s->gaps++;
    wk_log_warn("docker: gap %s (%.3fs)%s", reason, (double)(end - start) / 1e9,
                possible_loss ? ", events may be lost: reconciling" : "");
    enqueue(s, ev, end, 0, false);
}

static void emit_reconciled(struct wk_source *s, const char *id, const char *change,
                            const char *state, struct wk_container *c, bool want_inspect)
{
    struct wk_event *ev = s->scratch;
    base_fields(s, ev, wk_time_now_ns());
    wk_event_add_str(ev, 0, &K_KIND, "event", 5);
    wk_event_add_str(ev, 0, &WK_KEY_EVENT_ACTION, "reconciled", 10);
    wk_event_add_str(ev, 0, &K_TYPE, "container", 9);
    wk_event_add_str(ev, 0, &K_ACTION, "reconciled", 10);
    wk_event_add_str(ev, 0, &K_ACTOR_ID, id, strlen(id));
    wk_event_add_str(ev, 0, &K_RECON_CHANGE, change, strlen(change));
    if (state)
        wk_event_add_str(ev, 0, &K_RECON_STATE, state, strlen(state));
    wk_event_add_str(ev, 0, &WK_KEY_CONTAINER_ID, id, strlen(id));
    if (c)
        wk_container_enrich_event(c, ev, false);
    struct qent *q = enqueue(s, ev, wk_event_ts(ev), 0, false);
    if (q && want_inspect && s->cfg.inspect)
        inspect(s, id, q);
}

static void on_list_all(struct wk_source *s, struct req *r, bool ok)
{
    json_t *arr = ok ? json_loadb(r->body.p, r->body.len, 0, NULL) : NULL;
    if (!json_is_array(arr)) {
        wk_log_warn("docker: reconcile: listing containers failed");
        json_decref(arr);
        return;
    }
    int64_t now = wk_time_now_ns();
    size_t n = wk_containers_count(s->table);
    bool *seen = n ? calloc(n, sizeof(bool)) : NULL;
    size_t i;
    const json_t *it;
    json_array_foreach (arr, i, it) {
        const char *id = json_string_value(json_object_get(it, "Id"));
        const char *state = json_string_value(json_object_get(it, "State"));
        if (!id || strlen(id) != 64)
            continue;
        bool running = state && strcmp(state, "running") == 0;
        struct wk_container *c = wk_containers_get(s->table, id, 64);
        if (c) {
            for (size_t k = 0; k < n; k++) {
                if (wk_containers_at(s->table, k) == c && seen)
                    seen[k] = true;
            }
        }
        if (!c || c->removed) {
            emit_reconciled(s, id, "appeared", state, c, true);
        } else if (running != (c->pid > 0)) {
            emit_reconciled(s, id, running ? "started" : "stopped", state, c, true);
        }
    }
    for (size_t k = 0; k < n; k++) {
        struct wk_container *c = wk_containers_at(s->table, k);
        if (seen && !seen[k] && !c->removed) {
            c->removed = now;
            c->pid = 0;
            emit_reconciled(s, c->id, "removed", NULL, c, false);
        }
    }
    free(seen);
    json_decref(arr);
}

static void on_list_running(struct wk_source *s, struct req *r, bool ok)
{
    json_t *arr = ok ? json_loadb(r->body.p, r->body.len, 0, NULL) : NULL;
    size_t i;
    const json_t *it;
    json_array_foreach (arr, i, it) {
        const char *id = json_string_value(json_object_get(it, "Id"));
        if (id && strlen(id) == 64)
            inspect(s, id, NULL);
    }
    json_decref(arr);
}

/* ---- the event stream --------------------------------------------------------------- */

static bool at_boundary(const struct wk_source *s, int64_t ts, uint64_t key)
{
    if (ts != s->conn_ns)
        return false;
    for (unsigned i = 0; i < s->conn_nkeys; i++) {
        if (s->conn_keys[i] == key)
            return true;
    }
    return false;
}

static void on_stream_line(struct wk_source *s, const char *line, size_t len)
{
    const char *p = line;
    size_t n = len;
    wk__docker_trim(&p, &n);
    if (n == 0)
        return;
    json_t *o = json_loadb(p, n, 0, NULL);
    const char *reason = "docker: invalid JSON in /events";
    int64_t ts = o ? wk__docker_event_time(o) : 0;
    int rc = o ? 0 : WK_EPARSE;
    if (o) {
        uint64_t key = event_key(o, ts);
        if ((s->conn_ns && ts < s->conn_ns) || at_boundary(s, ts, key)) {
            /* Already stored (or queued) before this connection: the since= boundary. */
            s->boundary_seen = true;
            json_decref(o);
            return;
        }
        rc = wk__docker_event_build(s->scratch, o, p, n, s->hostname[0] ? s->hostname : NULL,
                                    &reason);
        if (rc == 0) {
            if (s->phase == PH_REPLAY)
                s->replayed++;
            if (ts > s->acc_ns) {
                s->acc_ns = ts;
                s->acc_nkeys = 0;
            }
            if (ts == s->acc_ns && s->acc_nkeys < MAX_KEYS)
                s->acc_keys[s->acc_nkeys++] = key;
            /* Table upkeep and enrichment. */
            const char *type = json_string_value(json_object_get(o, "Type"));
            const char *act = json_string_value(json_object_get(o, "Action"));
            if (!act)
                act = json_string_value(json_object_get(o, "status"));
            const json_t *actor = json_object_get(o, "Actor");
            const char *id = json_string_value(json_object_get(actor, "ID"));
            if (!id)
                id = json_string_value(json_object_get(o, "id"));
            const json_t *attrs = json_object_get(actor, "Attributes");
            bool is_container =
                type ? strcmp(type, "container") == 0 : json_object_get(o, "from") != NULL;
            struct wk_container *c = NULL;
            if (is_container && id && strlen(id) == 64) {
                c = wk_containers_upsert(s->table, id, ts);
                const char *name = json_string_value(json_object_get(attrs, "name"));
                if (c && name && (!c->name || strcmp(c->name, name) != 0)) {
                    free(c->name);
                    c->name = strdup(name);
                }
                const char *img = json_string_value(json_object_get(attrs, "image"));
                if (c && img && !c->image)
                    c->image = strdup(img);
            }
            struct qent *q = enqueue(s, s->scratch, ts, key, true);
            if (q && c) {
                bool want = strcmp(act, "create") == 0 || strcmp(act, "start") == 0;
                if (want && s->cfg.inspect)
                    inspect(s, id, q);
                else if (!want)
                    wk_container_enrich_event(c, q->ev, !c->removed && c->facts);
                if (strcmp(act, "die") == 0)
                    c->pid = 0;
                if (strcmp(act, "destroy") == 0)
                    c->removed = ts;
                if (strncmp(act, "exec_create", 11) == 0 && s->cfg.inspect) {
                    const char *eid = json_string_value(json_object_get(attrs, "execID"));
                    if (eid && strlen(eid) < 70) {
                        char path[96];
                        snprintf(path, sizeof(path), "/exec/%s/json", eid);
                        struct req *r = request(s, RQ_EXEC, path, true);
                        if (r) {
                            r->qe = q;
                            q->waiting++;
                        }
                    }
                }
            }
        }
    }
    json_decref(o);
    if (rc == -ENOMEM) {
        set_error(s, "out of memory");
        return;
    }
    if (rc < 0) {
        s->rejected++;
        if (wk_ratelimit_ok(&s->rl))
            wk_log_warn("docker: %s (counted; stream resumed)", reason);
        if (s->base.sink->reject)
            s->base.sink->reject(s->base.sink, s, reason, line, len);
        return;
    }
    drain(s);
}

static void connect_daemon(struct wk_source *s);

static void on_retry(uv_timer_t *t)
{
    connect_daemon(t->data);
}

static void backoff(struct wk_source *s)
{
    if (s->phase == PH_STOPPED)
        return;
    if (s->ever_connected && !s->lost_connection) {
        s->lost_connection = true;
        s->outage_start = wk_time_now_ns();
    }
    s->phase = PH_BACKOFF;
    int64_t d = s->cfg.backoff_min;
    for (unsigned i = 0; i < s->attempt && d < s->cfg.backoff_max; i++)
        d *= 2;
    if (d > s->cfg.backoff_max)
        d = s->cfg.backoff_max;
    /* Full jitter over the upper half: [d/2, d]. */
    d = d / 2 + (int64_t)((double)(d / 2) * ((double)rand() / RAND_MAX));
    s->attempt++;
    uv_timer_start(&s->retry_timer, on_retry, (uint64_t)(d / 1000000) + 1, 0);
}

static void start_events(struct wk_source *s, bool replay)
{
    char path[256];
    int64_t since = s->acc_ns;
    s->conn_ns = since;
    s->conn_nkeys = s->acc_nkeys;
    memcpy(s->conn_keys, s->acc_keys, sizeof(s->conn_keys));
    if (replay) {
        s->replay_until = wk_time_now_ns();
        s->boundary_seen = false;
        s->replayed = 0;
        snprintf(path, sizeof(path), "/events?since=%lld.%09lld&until=%lld.%09lld",
                 (long long)(since / WK_NS_PER_SEC), (long long)(since % WK_NS_PER_SEC),
                 (long long)(s->replay_until / WK_NS_PER_SEC),
                 (long long)(s->replay_until % WK_NS_PER_SEC));
    } else if (since > 0) {
        snprintf(path, sizeof(path), "/events?since=%lld.%09lld",
                 (long long)(since / WK_NS_PER_SEC), (long long)(since % WK_NS_PER_SEC));
    } else {
        snprintf(path, sizeof(path), "/events");
    }
    s->phase = replay ? PH_REPLAY : PH_STREAM;
    s->line.len = 0;
    s->events_req = request(s, RQ_EVENTS, path, true);
    if (!s->events_req)
        backoff(s);
}

static void on_version(struct wk_source *s, struct req *r, bool ok)
{
    json_t *o = ok ? json_loadb(r->body.p, r->body.len, 0, NULL) : NULL;
    const char *v = json_string_value(json_object_get(o, "ApiVersion"));
    if (!v) {
        json_decref(o);
        /* A failed request already said why (connection refused, HTTP code): keep that. */
        if (ok)
            set_error(s, "GET /version: no ApiVersion in the answer");
        backoff(s);
        return;
    }
    snprintf(s->api, sizeof(s->api), "%s",
             cmp_version(v, s->cfg.api_version) < 0 ? v : s->cfg.api_version);
    const char *dv = json_string_value(json_object_get(o, "Version"));
    const char *mv = json_string_value(json_object_get(o, "MinAPIVersion"));
    wk_log_info("docker: connected, daemon %s API %s (min %s), using %s", dv ? dv : "?", v,
                mv ? mv : "?", s->api);
    json_decref(o);
    s->attempt = 0;
    s->last_error[0] = '\0'; /* connected: the error said why it was not */
    bool first = !s->ever_connected;
    s->ever_connected = true;
    if (first && s->cfg.inspect)
        request(s, RQ_LIST_RUNNING, "/containers/json", true);
    if (s->acc_ns > 0 && (s->lost_connection || (first && s->had_cursor)))
        start_events(s, true);
    else
        start_events(s, false);
}

static void on_replay_done(struct wk_source *s)
{
    int64_t now = wk_time_now_ns();
    bool loss = !s->boundary_seen;
    if (s->lost_connection) {
        emit_gap(s, "docker daemon unreachable", s->outage_start, now, loss);
    } else if (loss) {
        emit_gap(s, "events since the stored cursor no longer in dockerd's buffer", s->st_ns, now,
                 true);
    }
    s->lost_connection = false;
    if (loss)
        request(s, RQ_LIST_ALL, "/containers/json?all=1", true);
    drain(s);
    start_events(s, false);
}

static void check_done(struct wk_source *s)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(s->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct req *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        long code = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        CURLcode res = m->data.result;
        bool ok = res == CURLE_OK && code == 200;
        switch (r->kind) {
        case RQ_VERSION:
            if (!ok)
                set_error(s, "GET /version: %s (HTTP %ld)", curl_easy_strerror(res), code);
            on_version(s, r, ok);
            break;
        case RQ_EVENTS:
            s->events_req = NULL;
            if (s->phase == PH_REPLAY && ok) {
                req_unlink(s, r);
                on_replay_done(s);
                continue;
            }
            set_error(s, "GET /events ended: %s (HTTP %ld)", curl_easy_strerror(res), code);
            if (s->phase != PH_STOPPED)
                wk_log_warn("docker: %s; reconnecting", s->last_error);
            req_unlink(s, r);
            backoff(s);
            continue;
        case RQ_INSPECT: on_inspect(s, r, ok); break;
        case RQ_EXEC: on_exec(s, r, ok); break;
        case RQ_LIST_RUNNING: on_list_running(s, r, ok); break;
        case RQ_LIST_ALL: on_list_all(s, r, ok); break;
        }
        req_unlink(s, r);
        drain(s);
    }
}

static void connect_daemon(struct wk_source *s)
{
    if (s->phase == PH_STOPPED)
        return;
    s->phase = PH_VERSION;
    if (!request(s, RQ_VERSION, "/version", false))
        backoff(s);
    flush_adds(s);
}

/* ---- the source ops ----------------------------------------------------------------- */

static const char *effective_host(const struct docker_cfg *c)
{
    return c->host && *c->host ? c->host : wk__docker_default_host();
}

static void docker_destroy(struct wk_source *s);

static bool docker_available(const void *config, char *why, size_t whylen)
{
    const char *h = effective_host(config);
    if (strncmp(h, "unix://", 7) == 0 && access(h + 7, R_OK | W_OK) != 0) {
        snprintf(why, whylen, "%s: %s", h + 7, strerror(errno));
        return false;
    }
    return true;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int docker_create(struct wk_source **out, const void *config)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, keys_init);
    const struct docker_cfg *c = config;
    struct wk_source *s = wk_new0(struct wk_source, 1);
    if (!s)
        return -ENOMEM;
    s->cfg = *c;
    s->cfg.host = dup_or_null(effective_host(c));
    s->cfg.api_version = strdup(c->api_version && *c->api_version ? c->api_version : "1.41");
    s->cfg.tls_ca = dup_or_null(c->tls_ca);
    s->cfg.tls_cert = dup_or_null(c->tls_cert);
    s->cfg.tls_key = dup_or_null(c->tls_key);
    s->cfg.hostname = NULL;
    if (!s->cfg.max_line)
        s->cfg.max_line = 1u << 20;
    if (s->cfg.backoff_min <= 0)
        s->cfg.backoff_min = 200 * 1000000LL;
    if (s->cfg.backoff_max < s->cfg.backoff_min)
        s->cfg.backoff_max = s->cfg.backoff_min;
    if (c->hostname && *c->hostname)
        snprintf(s->hostname, sizeof(s->hostname), "%s", c->hostname);
    else
        gethostname(s->hostname, sizeof(s->hostname) - 1);
    const char *h = s->cfg.host;
    char url[512];
    if (strncmp(h, "unix://", 7) == 0) {
        s->sock_path = strdup(h + 7);
        snprintf(url, sizeof(url), "http://localhost");
    } else if (strncmp(h, "tcp://", 6) == 0) {
        bool tls = s->cfg.tls_cert && *s->cfg.tls_cert;
        snprintf(url, sizeof(url), "%s://%s", tls ? "https" : "http", h + 6);
    } else {
        snprintf(url, sizeof(url), "%s", h);
    }
    s->base_url = strdup(url);
    s->rl = (struct wk_ratelimit)WK_RATELIMIT_INIT(60, 1);
    s->table = wk_containers_shared();
    if (!s->cfg.host || !s->cfg.api_version || !s->base_url || !s->table ||
        wk_event_new(&s->scratch) < 0) {
        docker_destroy(s);
        return -ENOMEM;
    }
    snprintf(s->api, sizeof(s->api), "%s", s->cfg.api_version);
    *out = s;
    return 0;
}

static int docker_start(struct wk_source *s, const void *cursor, size_t cursor_len)
{
    wk__docker_curl_init();
    if (cursor && cursor_len >= 16) {
        uint32_t magic, n;
        memcpy(&magic, cursor, 4);
        memcpy(&n, (const char *)cursor + 12, 4);
        if (magic == CURSOR_MAGIC && n <= MAX_KEYS && cursor_len == 16 + (size_t)n * 8) {
            memcpy(&s->st_ns, (const char *)cursor + 4, 8);
            memcpy(s->st_keys, (const char *)cursor + 16, (size_t)n * 8);
            s->st_nkeys = n;
            s->acc_ns = s->st_ns;
            s->acc_nkeys = n;
            memcpy(s->acc_keys, s->st_keys, sizeof(s->acc_keys));
            s->had_cursor = s->st_ns > 0;
        } else {
            wk_log_warn("docker: stored cursor not understood; starting from now");
        }
    }
    s->multi = curl_multi_init();
    if (!s->multi)
        return -ENOMEM;
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
    uv_timer_init(s->base.loop, &s->curl_timer);
    uv_timer_init(s->base.loop, &s->retry_timer);
    s->curl_timer.data = s->retry_timer.data = s;
    s->open_handles = 2;
    connect_daemon(s);
    return 0;
}

static void docker_resume(struct wk_source *s)
{
    s->full = false;
    drain(s);
}

static void docker_stop(struct wk_source *s, void (*done)(struct wk_source *src))
{
    s->phase = PH_STOPPED;
    s->stop_done = done;
    while (s->reqs)
        req_unlink(s, s->reqs); /* curl calls socket_cb(REMOVE): the polls close */
    if (s->open_handles == 0) {
        if (done)
            done(s);
        return;
    }
    uv_timer_stop(&s->curl_timer);
    uv_timer_stop(&s->retry_timer);
    uv_close((uv_handle_t *)&s->curl_timer, handle_closed);
    uv_close((uv_handle_t *)&s->retry_timer, handle_closed);
}

static void docker_destroy(struct wk_source *s)
{
    if (!s)
        return;
    while (s->reqs)
        req_unlink(s, s->reqs);
    if (s->multi)
        curl_multi_cleanup(s->multi);
    while (s->qhead) {
        struct qent *q = s->qhead;
        s->qhead = q->next;
        wk_event_free(q->ev);
        free(q);
    }
    wk_event_free(s->scratch);
    wk__cbuf_fini(&s->line);
    free(s->cfg.host);
    free(s->cfg.api_version);
    free(s->cfg.tls_ca);
    free(s->cfg.tls_cert);
    free(s->cfg.tls_key);
    free(s->sock_path);
    free(s->base_url);
    free(s);
}

/*
 * How far behind dockerd the source is: now minus the time up to which everything dockerd
 * published has been handed to the pipeline. Not the age of the last event: an idle host
 * whose stream is connected is caught up (0) however long ago its last event was.
 *  - events received but not handed over yet (waiting for an inspection, or the pipeline
 *    pushing back): the age of the oldest of them;
 *  - streaming with none held: 0;
 *  - replaying from the stored cursor: the age of the newest event read so far;
 *  - reconnecting after a lost stream: the time since it was lost (what happens meanwhile
 *    is read at the reconnect); at a start with a stored cursor, its age; without one, 0
 *    (a first connect starts at "now": nothing to catch up).
 */
static int64_t lag_ns(const struct wk_source *s, int64_t now)
{
    int64_t since = 0;
    if (s->qhead)
        since = s->qhead->ts;
    else if (s->phase == PH_REPLAY)
        since = s->acc_ns;
    else if (s->phase == PH_STREAM || s->phase == PH_STOPPED)
        return 0;
    else if (s->lost_connection)
        since = s->outage_start;
    else if (!s->ever_connected && s->had_cursor)
        since = s->acc_ns;
    return since > 0 && now > since ? now - since : 0;
}

static void docker_status(struct wk_source *s, struct wk_source_status *st)
{
    static const char *const names[] = {"connecting", "connecting", "running",
                                        "running",    "backoff",    "stopped"};
    memset(st, 0, sizeof(*st));
    st->state = names[s->phase];
    st->events = s->events;
    st->rejected = s->rejected;
    st->lag_ns = lag_ns(s, wk_time_now_ns());
    st->lag_in_time = true;
    snprintf(st->last_error, sizeof(st->last_error), "%s", s->last_error);
}

const struct wk_source_ops wk_source_docker = {
    .version = WK_SOURCE_OPS_V1,
    .name = "docker",
    .description = "Docker Engine API events (GET /events), enriched by inspection",
    .options = docker_options,
    .config_size = sizeof(struct docker_cfg),
    .available = docker_available,
    .create = docker_create,
    .start = docker_start,
    .resume = docker_resume,
    .stop = docker_stop,
    .destroy = docker_destroy,
    .status = docker_status,
};
