/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container log parsers: Docker json-file (fast path for dockerd's fixed line shape,
 * jansson for anything else) and Kubernetes CRI. Both reassemble partial lines (json-file
 * entries without a trailing "\n", CRI "P" tags) per stream, up to max_message, and emit
 * one clog event per message.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "clog_private.h"
#include "watchkeeper/error.h"
#include "watchkeeper/event_json.h"
#include "watchkeeper/mem.h"
#include "watchkeeper/timefmt.h"

int wk__cbuf_reserve(struct wk__cbuf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return 0;
    size_t need = b->len + n, cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

void wk__cbuf_fini(struct wk__cbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

static int buf_add(struct wk__cbuf *b, const char *s, size_t n)
{
    if (wk__cbuf_reserve(b, n) < 0)
        return -ENOMEM;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

/* ---- json-file line decoding ---------------------------------------------------------- */

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static long hex4(const char *s)
{
    int a = hexval((unsigned char)s[0]), b = hexval((unsigned char)s[1]),
        c = hexval((unsigned char)s[2]), d = hexval((unsigned char)s[3]);
    if ((a | b | c | d) < 0)
        return -1;
    return (a << 12) | (b << 8) | (c << 4) | d;
}

/* Length of the valid UTF-8 sequence at s (first byte >= 0x80), 0 if invalid: the same
 * rules as jansson (no overlongs, no surrogates, max U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c >= 0xC2 && c <= 0xDF) {
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && s[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && s[1] >= 0xA0)
            return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xF4 && s[1] >= 0x90)
            return 0; /* > U+10FFFF */
        return 4;
    }
    return 0;
}

static char *put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Decode the JSON string starting at s[*i] (just after its opening quote) into out
 * (replaced). @return 1 and *i after the closing quote, 0 to decline, -ENOMEM. */
static int decode_str(const char *s, size_t n, size_t *ip, struct wk__cbuf *out)
{
    size_t i = *ip;
    out->len = 0;
    /* Escapes never expand: the output is at most the rest of the input. */
    if (wk__cbuf_reserve(out, n - i) < 0)
        return -ENOMEM;
    char *o = out->p;
    while (i < n) {
        /* Run of plain printable ASCII. */
        size_t j = i;
        while (j < n) {
            unsigned char c = (unsigned char)s[j];
            if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
                break;
            j++;
        }
        if (j > i) {
            memcpy(o, s + i, j - i);
            o += j - i;
            i = j;
            if (i == n)
                break;
        }
        unsigned char c = (unsigned char)s[i];
        if (c == '"') {
            out->len = (size_t)(o - out->p);
            *ip = i + 1;
            return 1;
        }
        if (c >= 0x80) {
            size_t k = utf8_len((const unsigned char *)s + i, n - i);
            if (!k)
                return 0;
            memcpy(o, s + i, k);
            o += k;
            i += k;
            continue;
        }
        if (c < 0x20 || i + 1 >= n)
            return 0;
        /* c == '\\' */
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            if (n - i < 4)
                return 0;
            long cp = hex4(s + i);
            if (cp < 0)
                return 0;
            i += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return 0; /* lone low surrogate */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (n - i < 6 || s[i] != '\\' || s[i + 1] != 'u')
                    return 0;
                long lo = hex4(s + i + 2);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return 0;
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            o = put_utf8(o, (unsigned long)cp);
            break;
        }
        default: return 0;
        }
    }
    return 0; /* unterminated */
}

int wk__jsonfile_fast(const char *s, size_t n, struct wk__jf_rec *r)
{
    static const char k_log[] = "{\"log\":\"", k_stream[] = ",\"stream\":\"",
                      k_time[] = ",\"time\":\"";
    if (n < sizeof(k_log) - 1 || memcmp(s, k_log, sizeof(k_log) - 1) != 0)
        return 0;
    size_t i = sizeof(k_log) - 1;
    int rc = decode_str(s, n, &i, &r->log);
    if (rc <= 0)
        return rc;
    if (n - i < sizeof(k_stream) - 1 || memcmp(s + i, k_stream, sizeof(k_stream) - 1) != 0)
        return 0;
    i += sizeof(k_stream) - 1;
    if ((rc = decode_str(s, n, &i, &r->stream)) <= 0)
        return rc;
    if (n - i < sizeof(k_time) - 1 || memcmp(s + i, k_time, sizeof(k_time) - 1) != 0)
        return 0;
    i += sizeof(k_time) - 1;
    if ((rc = decode_str(s, n, &i, &r->time)) <= 0)
        return rc;
    if (i + 1 != n || s[i] != '}')
        return 0;
    r->has_stream = r->has_time = true;
    json_decref(r->attrs);
    r->attrs = NULL;
    return 1;
}

static int copy_jstr(struct wk__cbuf *b, const json_t *v)
{
    b->len = 0;
    return buf_add(b, json_string_value(v), json_string_length(v));
}

int wk__jsonfile_slow(const char *s, size_t n, struct wk__jf_rec *r, const char **reason)
{
    json_error_t jerr;
    json_t *o = json_loadb(s, n, JSON_ALLOW_NUL, &jerr);
    if (!o) {
        *reason = "json-file: invalid JSON";
        return WK_EPARSE;
    }
    const json_t *log = json_object_get(o, "log");
    if (!json_is_object(o) || !json_is_string(log)) {
        json_decref(o);
        *reason = "json-file: not an object with a \"log\" string";
        return WK_EPARSE;
    }
    const json_t *st = json_object_get(o, "stream"), *tm = json_object_get(o, "time");
    int rc = copy_jstr(&r->log, log);
    r->has_stream = json_is_string(st);
    r->has_time = json_is_string(tm);
    if (!rc && r->has_stream)
        rc = copy_jstr(&r->stream, st);
    if (!rc && r->has_time)
        rc = copy_jstr(&r->time, tm);
    json_decref(r->attrs);
    r->attrs = json_incref(json_object_get(o, "attrs"));
    if (r->attrs && !json_is_object(r->attrs)) {
        json_decref(r->attrs);
        r->attrs = NULL;
    }
    json_decref(o);
    return rc;
}

void wk__jf_rec_fini(struct wk__jf_rec *r)
{
    wk__cbuf_fini(&r->log);
    wk__cbuf_fini(&r->stream);
    wk__cbuf_fini(&r->time);
    json_decref(r->attrs);
    r->attrs = NULL;
}

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

bool wk__jsonfile_path_id(const char *path, char id[65])
{
    if (!path)
        return false;
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    if (strlen(b) < 73 || memcmp(b + 64, "-json.log", 9) != 0 || !all_hex(b, 64))
        return false;
    if (b[73] != '\0' && b[73] != '.')
        return false;
    memcpy(id, b, 64);
    id[64] = '\0';
    return true;
}

static bool copy_part(char *dst, size_t cap, const char *s, size_t n)
{
    if (n == 0 || n >= cap)
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

bool wk__cri_path_parse(const char *path, struct wk__cri_path *out)
{
    memset(out, 0, sizeof(*out));
    if (!path)
        return false;
    size_t n = strlen(path);
    /* Split off the last three components. */
    const char *comp[3] = {NULL, NULL, NULL};
    size_t clen[3] = {0, 0, 0};
    size_t end = n;
    for (int k = 2; k >= 0; k--) {
        size_t st = end;
        while (st > 0 && path[st - 1] != '/')
            st--;
        comp[k] = path + st;
        clen[k] = end - st;
        if (st == 0) {
            if (k > 0)
                comp[0] = NULL;
            break;
        }
        end = st - 1;
    }
    /* /var/log/containers/<pod>_<ns>_<container>-<id>.log */
    const char *f = comp[2];
    size_t fl = clen[2];
    if (comp[1] && clen[1] == 10 && memcmp(comp[1], "containers", 10) == 0 && fl > 70 &&
        memcmp(f + fl - 4, ".log", 4) == 0 && f[fl - 69] == '-' && all_hex(f + fl - 68, 64)) {
        const char *u1 = memchr(f, '_', fl - 69);
        const char *u2 = u1 ? memchr(u1 + 1, '_', (size_t)(f + fl - 69 - (u1 + 1))) : NULL;
        if (!u2)
            return false;
        return copy_part(out->pod, sizeof(out->pod), f, (size_t)(u1 - f)) &&
               copy_part(out->ns, sizeof(out->ns), u1 + 1, (size_t)(u2 - u1 - 1)) &&
               copy_part(out->container, sizeof(out->container), u2 + 1,
                         (size_t)(f + fl - 69 - (u2 + 1))) &&
               copy_part(out->id, sizeof(out->id), f + fl - 68, 64);
    }
    /* /var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log[.rotated] */
    if (!comp[0] || fl < 5 || f[0] < '0' || f[0] > '9')
        return false;
    size_t d = 0;
    while (d < fl && f[d] >= '0' && f[d] <= '9')
        d++;
    if (fl - d < 4 || memcmp(f + d, ".log", 4) != 0)
        return false;
    const char *p = comp[0];
    size_t pl = clen[0];
    const char *u1 = memchr(p, '_', pl);
    const char *u2 = u1 ? memchr(u1 + 1, '_', (size_t)(p + pl - (u1 + 1))) : NULL;
    if (!u2 || memchr(u2 + 1, '_', (size_t)(p + pl - (u2 + 1))))
        return false;
    return copy_part(out->ns, sizeof(out->ns), p, (size_t)(u1 - p)) &&
           copy_part(out->pod, sizeof(out->pod), u1 + 1, (size_t)(u2 - u1 - 1)) &&
           copy_part(out->uid, sizeof(out->uid), u2 + 1, (size_t)(p + pl - (u2 + 1))) &&
           copy_part(out->container, sizeof(out->container), comp[1], clen[1]);
}

/* ---- the parser ---------------------------------------------------------------------- */

struct pending {
    bool active, truncated, orig_truncated;
    int64_t ts;
    uint64_t offset, lineno;
    struct wk__cbuf msg, orig;
    json_t *attrs;
};

struct wk_parser {
    enum wk__clog_format fmt;
    struct wk_parser_opts opts;
    struct wk_event *ev;
    struct wk__jf_rec rec;
    struct pending pend[3]; /* stdout, stderr, other */
    char *path;             /* for which path the identity below was computed */
    bool have_id, have_k8s;
    char id[65];
    struct wk__cri_path k8s;
    struct wk_containers *table;
    char *app_prefix;
    struct wk__clog_state skip;
    bool skipping;
    uint64_t emitting;
    uint64_t last_emitted;
    uint64_t end; /* offset after the last line fed */
};

static struct wk_key K_KIND, K_IOSTREAM, K_PATH, K_FORMAT, K_OFFSET, K_TRUNC, K_NS, K_POD,
    K_POD_UID, K_KCONT;

static void keys_init(void)
{
    K_KIND = wk_key_init("event.kind");
    K_IOSTREAM = wk_key_init("log.iostream");
    K_PATH = wk_key_init("log.file.path");
    K_FORMAT = wk_key_init("log.origin.format");
    K_OFFSET = wk_key_init("log.offset");
    K_TRUNC = wk_key_init("log.truncated");
    K_NS = wk_key_init("kubernetes.namespace");
    K_POD = wk_key_init("kubernetes.pod.name");
    K_POD_UID = wk_key_init("kubernetes.pod.uid");
    K_KCONT = wk_key_init("kubernetes.container.name");
}

static int clog_create(struct wk_parser **out, const struct wk_parser_opts *opts,
                       enum wk__clog_format fmt)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, keys_init);
    struct wk_parser *p = wk_new0(struct wk_parser, 1);
    if (!p)
        return -ENOMEM;
    if (wk_event_new(&p->ev) < 0 || !(p->app_prefix = strdup("app"))) {
        wk_event_free(p->ev);
        free(p);
        return -ENOMEM;
    }
    p->fmt = fmt;
    p->opts = *opts;
    if (!p->opts.max_message)
        p->opts.max_message = 1u << 20;
    p->last_emitted = UINT64_MAX;
    *out = p;
    return 0;
}

void wk__clog_parser_set_table(struct wk_parser *p, struct wk_containers *t)
{
    p->table = t;
}

int wk__clog_parser_set_app_prefix(struct wk_parser *p, const char *prefix)
{
    char *d = NULL;
    if (prefix && !(d = strdup(prefix)))
        return -ENOMEM;
    free(p->app_prefix);
    p->app_prefix = d;
    return 0;
}

void wk__clog_parser_state(const struct wk_parser *p, struct wk__clog_state *st)
{
    memset(st, 0, sizeof(*st));
    for (int i = 0; i < 3; i++) {
        if (p->pend[i].active)
            st->held[st->nheld++] = p->pend[i].offset;
    }
    st->last_emitted = p->last_emitted;
}

void wk__clog_parser_skip(struct wk_parser *p, const struct wk__clog_state *st)
{
    p->skip = *st;
    p->skipping = st->last_emitted != UINT64_MAX;
}

uint64_t wk__clog_parser_emitting(const struct wk_parser *p)
{
    return p->emitting;
}

static void identity(struct wk_parser *p, const char *path)
{
    if (p->path && path && strcmp(p->path, path) == 0)
        return;
    free(p->path);
    p->path = path ? strdup(path) : NULL;
    p->have_id = p->have_k8s = false;
    if (!path)
        return;
    if (p->fmt == WK_CLOG_JSONFILE) {
        p->have_id = wk__jsonfile_path_id(path, p->id);
    } else {
        p->have_k8s = wk__cri_path_parse(path, &p->k8s);
        if (p->have_k8s && p->k8s.id[0]) {
            memcpy(p->id, p->k8s.id, 65);
            p->have_id = true;
        }
    }
}

static uint64_t resume_offset(const struct wk_parser *p, uint64_t next)
{
    uint64_t r = next;
    for (int i = 0; i < 3; i++) {
        if (p->pend[i].active && p->pend[i].offset < r)
            r = p->pend[i].offset;
    }
    return r;
}

static int add_cstr(struct wk_event *ev, const struct wk_key *k, const char *s)
{
    return wk_event_add_str(ev, 0, k, s, strlen(s));
}

/* Parse msg as JSON under the app prefix when it looks like an object. */
static int add_app(struct wk_parser *p, const char *m, size_t n)
{
    while (n && (m[n - 1] == '\n' || m[n - 1] == '\r' || m[n - 1] == ' '))
        n--;
    size_t i = 0;
    while (i < n && m[i] == ' ')
        i++;
    if (n - i < 2 || m[i] != '{' || m[n - 1] != '}')
        return 0;
    json_t *o = json_loadb(m + i, n - i, 0, NULL);
    int rc = 0;
    if (json_is_object(o) && json_object_size(o))
        rc = wk_event_add_jansson(p->ev, 0, p->app_prefix, o);
    json_decref(o);
    return rc == -EINVAL ? 0 : rc;
}

/* Build and emit the event of a complete message. */
static int emit_msg(struct wk_parser *p, int si, const char *stream, size_t stream_len,
                    struct pending *m, uint64_t next, struct wk_parser_sink *sink)
{
    if (p->skipping) {
        bool held = false;
        for (unsigned i = 0; i < p->skip.nheld; i++)
            held |= p->skip.held[i] == m->offset;
        if (m->offset <= p->skip.last_emitted && !held)
            return 0; /* emitted before the restart */
        if (m->offset > p->skip.last_emitted)
            p->skipping = false;
    }
    struct wk_event *ev = p->ev;
    wk_event_reset(ev);
    wk_event_set_ts(ev, m->ts);
    int rc = 0;
    rc |= add_cstr(ev, &WK_KEY_EVENT_MODULE, "clog");
    rc |= add_cstr(ev, &K_KIND, "event");
    rc |= add_cstr(ev, &WK_KEY_EVENT_ACTION, "log");
    rc |= wk_event_add_str(ev, 0, &WK_KEY_EVENT_ORIGINAL, m->orig.p ? m->orig.p : "", m->orig.len);
    if (m->orig_truncated)
        wk_event_flag_last(ev, WK_VALF_TRUNCATED);
    if (p->opts.host)
        rc |= add_cstr(ev, &WK_KEY_HOST_NAME, p->opts.host);
    size_t ml = m->msg.len;
    if (p->fmt == WK_CLOG_JSONFILE && !m->truncated && ml && m->msg.p[ml - 1] == '\n')
        ml--;
    rc |= wk_event_add_str(ev, 0, &WK_KEY_MESSAGE, m->msg.p ? m->msg.p : "", ml);
    if (m->truncated) {
        wk_event_flag_last(ev, WK_VALF_TRUNCATED);
        rc |= wk_event_add_bool(ev, 0, &K_TRUNC, true);
    }
    if (stream_len)
        rc |= wk_event_add_str(ev, 0, &K_IOSTREAM, stream, stream_len);
    if (p->path)
        rc |= add_cstr(ev, &K_PATH, p->path);
    rc |= wk_event_add_int(ev, 0, &K_OFFSET, (int64_t)m->offset);
    rc |= add_cstr(ev, &K_FORMAT, p->fmt == WK_CLOG_JSONFILE ? "json-file" : "cri");
    if (p->have_id) {
        rc |= wk_event_add_str(ev, 0, &WK_KEY_CONTAINER_ID, p->id, 64);
        const struct wk_container *c = p->table ? wk_containers_get(p->table, p->id, 64) : NULL;
        if (c)
            rc |= wk_container_enrich_event(c, ev, false);
    }
    if (p->have_k8s) {
        rc |= add_cstr(ev, &K_NS, p->k8s.ns);
        rc |= add_cstr(ev, &K_POD, p->k8s.pod);
        if (p->k8s.uid[0])
            rc |= add_cstr(ev, &K_POD_UID, p->k8s.uid);
        rc |= add_cstr(ev, &K_KCONT, p->k8s.container);
    }
    if (rc)
        return -ENOMEM;
    if (m->attrs) {
        if ((rc = wk_event_add_jansson(ev, 0, "docker.attrs", m->attrs)) < 0 && rc != -EINVAL)
            return rc;
    }
    if (p->opts.parse_json_messages && p->app_prefix && !m->truncated) {
        if ((rc = add_app(p, m->msg.p ? m->msg.p : "", ml)) < 0)
            return rc;
    }
    (void)si;
    p->emitting = m->offset;
    p->last_emitted = m->offset;
    return sink->emit(sink, ev, resume_offset(p, next));
}

static void pend_reset(struct pending *m)
{
    m->active = m->truncated = m->orig_truncated = false;
    m->msg.len = m->orig.len = 0;
    json_decref(m->attrs);
    m->attrs = NULL;
}

/* Append a fragment to the message of stream si; emit it when final. `next` is the
 * offset after the line. */
static int fragment(struct wk_parser *p, int si, const char *stream, size_t stream_len, int64_t ts,
                    const char *txt, size_t tl, bool final, json_t *attrs, const char *raw,
                    size_t rawlen, const struct wk_line_ctx *where, uint64_t next,
                    struct wk_parser_sink *sink)
{
    struct pending *m = &p->pend[si];
    if (!m->active) {
        m->active = true;
        m->ts = ts;
        m->offset = where ? where->offset : 0;
        m->lineno = where ? where->lineno : 0;
        m->attrs = json_incref(attrs);
    }
    size_t max = p->opts.max_message;
    /* The message and the raw lines are each kept up to max bytes. */
    size_t room = m->msg.len < max ? max - m->msg.len : 0;
    if (tl > room) {
        m->truncated = true;
        tl = room;
    }
    int rc = buf_add(&m->msg, txt, tl);
    if (m->orig.len && m->orig.len < max * 2 + 4096)
        rc |= buf_add(&m->orig, "\n", 1);
    /* Raw lines escape the message (json-file) or prefix it (cri): allow for that. */
    size_t omax = max * 2 + 4096;
    room = m->orig.len < omax ? omax - m->orig.len : 0;
    if (rawlen > room) {
        m->orig_truncated = true;
        rawlen = room;
    }
    rc |= buf_add(&m->orig, raw, rawlen);
    if (rc)
        return -ENOMEM;
    if (!final)
        return 0;
    m->active = false; /* not held any more: the resume offset moves past it */
    rc = emit_msg(p, si, stream, stream_len, m, next, sink);
    pend_reset(m);
    return rc;
}

static int stream_index(const char *s, size_t n)
{
    if (n == 6 && memcmp(s, "stdout", 6) == 0)
        return 0;
    if (n == 6 && memcmp(s, "stderr", 6) == 0)
        return 1;
    return 2;
}

static int jsonfile_feed(struct wk_parser *p, const char *line, size_t len,
                         const struct wk_line_ctx *where, struct wk_parser_sink *sink)
{
    identity(p, where ? where->path : NULL);
    uint64_t next = where ? where->offset + len + 1 : 0;
    p->end = next;
    if (len && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return 0;
    if (len > p->opts.max_line)
        return sink->reject(sink, where, "json-file: line longer than max_line", line, len);
    struct wk__jf_rec *r = &p->rec;
    int rc = wk__jsonfile_fast(line, len, r);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        const char *reason = NULL;
        rc = wk__jsonfile_slow(line, len, r, &reason);
        if (rc == -ENOMEM)
            return rc;
        if (rc < 0)
            return sink->reject(sink, where, reason, line, len);
    }
    int64_t ts = 0;
    /* Times before 1678 do not fit int64 ns (Go's zero time "0001-01-01..."): unset. */
    if (r->has_time && r->time.len >= 4 && memcmp(r->time.p, "1678", 4) > 0 &&
        wk_time_parse(r->time.p, r->time.len, &ts) < 0)
        ts = 0;
    const char *st = r->has_stream ? r->stream.p : "";
    size_t sl = r->has_stream ? r->stream.len : 0;
    bool final = r->log.len && r->log.p[r->log.len - 1] == '\n';
    return fragment(p, stream_index(st, sl), st, sl, ts, r->log.p, r->log.len, final, r->attrs,
                    line, len, where, next, sink);
}

static int cri_feed(struct wk_parser *p, const char *line, size_t len,
                    const struct wk_line_ctx *where, struct wk_parser_sink *sink)
{
    identity(p, where ? where->path : NULL);
    uint64_t next = where ? where->offset + len + 1 : 0;
    p->end = next;
    if (len == 0)
        return 0;
    if (len > p->opts.max_line)
        return sink->reject(sink, where, "cri: line longer than max_line", line, len);
    const char *sp1 = memchr(line, ' ', len);
    if (!sp1)
        return sink->reject(sink, where, "cri: unsupported log format", line, len);
    int64_t ts;
    if (wk_time_parse(line, (size_t)(sp1 - line), &ts) < 0)
        return sink->reject(sink, where, "cri: bad timestamp", line, len);
    const char *st = sp1 + 1, *end = line + len;
    const char *sp2 = memchr(st, ' ', (size_t)(end - st));
    size_t sl = sp2 ? (size_t)(sp2 - st) : (size_t)(end - st);
    int si = stream_index(st, sl);
    if (si == 2)
        return sink->reject(sink, where, "cri: unsupported log format", line, len);
    const char *rest = sp2 ? sp2 + 1 : end;
    /* The tag: F or P, maybe followed by ":"-separated parts; anything else is the
     * untagged v0 format, whose message follows the stream directly. */
    const char *sp3 = memchr(rest, ' ', (size_t)(end - rest));
    const char *tag_end = sp3 ? sp3 : end;
    bool tagged = tag_end > rest && (rest[0] == 'F' || rest[0] == 'P') &&
                  (tag_end == rest + 1 || rest[1] == ':');
    bool final = true;
    const char *msg = rest;
    if (tagged) {
        final = rest[0] == 'F';
        msg = sp3 ? sp3 + 1 : end;
    }
    return fragment(p, si, st, sl, ts, msg, (size_t)(end - msg), final, NULL, line, len, where,
                    next, sink);
}

static int clog_flush(struct wk_parser *p, struct wk_parser_sink *sink)
{
    /* Messages whose last fragment never came (container exited mid-line): emit them as
     * they are, oldest first. */
    for (;;) {
        int best = -1;
        for (int i = 0; i < 3; i++) {
            if (p->pend[i].active && (best < 0 || p->pend[i].offset < p->pend[best].offset))
                best = i;
        }
        if (best < 0)
            return 0;
        struct pending *m = &p->pend[best];
        static const char *const names[] = {"stdout", "stderr", ""};
        m->active = false;
        int rc = emit_msg(p, best, names[best], strlen(names[best]), m, p->end, sink);
        pend_reset(m);
        if (rc < 0)
            return rc;
    }
}

static void clog_destroy(struct wk_parser *p)
{
    if (!p)
        return;
    for (int i = 0; i < 3; i++) {
        wk__cbuf_fini(&p->pend[i].msg);
        wk__cbuf_fini(&p->pend[i].orig);
        json_decref(p->pend[i].attrs);
    }
    wk__jf_rec_fini(&p->rec);
    wk_event_free(p->ev);
    free(p->path);
    free(p->app_prefix);
    free(p);
}

static int jsonfile_create(struct wk_parser **out, const struct wk_parser_opts *opts)
{
    return clog_create(out, opts, WK_CLOG_JSONFILE);
}

static int cri_create(struct wk_parser **out, const struct wk_parser_opts *opts)
{
    return clog_create(out, opts, WK_CLOG_CRI);
}

static int jsonfile_detect(const char *buf, size_t len, const char *path)
{
    char id[65];
    if (len >= 8 && memcmp(buf, "{\"log\":", 7) == 0)
        return 95;
    if (len >= 6 && memcmp(buf, "{\"log\"", 6) == 0)
        return 90;
    return wk__jsonfile_path_id(path, id) ? 60 : 0;
}

static int cri_detect(const char *buf, size_t len, const char *path)
{
    (void)path;
    const char *nl = memchr(buf, '\n', len);
    size_t l = nl ? (size_t)(nl - buf) : len;
    const char *sp = memchr(buf, ' ', l);
    int64_t ts;
    if (!sp || wk_time_parse(buf, (size_t)(sp - buf), &ts) < 0)
        return 0;
    size_t rest = l - (size_t)(sp + 1 - buf);
    if (rest >= 7 && (memcmp(sp + 1, "stdout ", 7) == 0 || memcmp(sp + 1, "stderr ", 7) == 0))
        return 90;
    return 0;
}

const struct wk_parser_ops wk_parser_json_file = {
    .version = WK_PARSER_OPS_V1,
    .name = "json-file",
    .description = "Docker json-file container logs (<id>-json.log)",
    .detect = jsonfile_detect,
    .create = jsonfile_create,
    .feed_line = jsonfile_feed,
    .flush = clog_flush,
    .destroy = clog_destroy,
    .emits_owned = true,
};

const struct wk_parser_ops wk_parser_cri = {
    .version = WK_PARSER_OPS_V1,
    .name = "cri",
    .description = "Kubernetes CRI container logs (/var/log/pods/...)",
    .detect = cri_detect,
    .create = cri_create,
    .feed_line = cri_feed,
    .flush = clog_flush,
    .destroy = clog_destroy,
    .emits_owned = true,
};
