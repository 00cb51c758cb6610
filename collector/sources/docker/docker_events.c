/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Docker Engine API events -> watchkeeper events, and the "docker-events" parser for saved
 * GET /events output (JSON lines, optionally RFC 7464 framed). Handles both the legacy
 * shape (API <= 1.51: status/id/from beside Type/Action/Actor; API < 1.22: only
 * status/id/from) and the current one. timeNano stays an int64.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "docker_private.h"
#include "watchkeeper/error.h"
#include "watchkeeper/event_json.h"
#include "watchkeeper/mem.h"
#include "watchkeeper/parser.h"

static struct wk_key K_KIND, K_TYPE, K_ACTION, K_ACTOR_ID, K_SCOPE, K_TIME, K_TIMENANO, K_STATUS,
    K_ID, K_FROM, K_CMDLINE, K_ARGS, K_EXE;

static void keys_init(void)
{
    K_KIND = wk_key_init("event.kind");
    K_TYPE = wk_key_init("Type");
    K_ACTION = wk_key_init("Action");
    K_ACTOR_ID = wk_key_init("Actor.ID");
    K_SCOPE = wk_key_init("scope");
    K_TIME = wk_key_init("time");
    K_TIMENANO = wk_key_init("timeNano");
    K_STATUS = wk_key_init("status");
    K_ID = wk_key_init("id");
    K_FROM = wk_key_init("from");
    K_CMDLINE = wk_key_init("process.command_line");
    K_ARGS = wk_key_init("process.args");
    K_EXE = wk_key_init("process.executable");
}

void wk__docker_trim(const char **line, size_t *len)
{
    const char *s = *line;
    size_t n = *len;
    while (n && (s[0] == 0x1e || s[0] == ' ' || s[0] == '\t' || s[0] == '\r')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    *line = s;
    *len = n;
}

int64_t wk__docker_event_time(const json_t *o)
{
    const json_t *tn = json_object_get(o, "timeNano");
    if (json_is_integer(tn))
        return json_integer_value(tn);
    const json_t *t = json_object_get(o, "time");
    if (json_is_integer(t))
        return json_integer_value(t) * INT64_C(1000000000);
    return 0;
}

static int add_jstr(struct wk_event *ev, const struct wk_key *k, const json_t *v)
{
    if (!json_is_string(v))
        return 0;
    return wk_event_add_str(ev, 0, k, json_string_value(v), json_string_length(v));
}

static int add_cstr(struct wk_event *ev, const struct wk_key *k, const char *s)
{
    return wk_event_add_str(ev, 0, k, s, strlen(s));
}

/* process.* from an exec command line: split on spaces as dockerd joined them. */
static int add_exec(struct wk_event *ev, const char *cmd, size_t n)
{
    int rc = wk_event_add_str(ev, 0, &K_CMDLINE, cmd, n);
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) {
        if (cmd[i] != ' ' && (i == 0 || cmd[i - 1] == ' '))
            cnt++;
    }
    if (rc || cnt == 0)
        return rc;
    struct wk_str *items = wk_new0(struct wk_str, cnt);
    if (!items)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && cmd[i] == ' ')
            i++;
        size_t st = i;
        while (i < n && cmd[i] != ' ')
            i++;
        if (i > st) {
            items[k].s = cmd + st;
            items[k].len = i - st;
            k++;
        }
    }
    rc = wk_event_add_strlist(ev, 0, &K_ARGS, items, k);
    if (!rc)
        rc = wk_event_add_str(ev, 0, &K_EXE, items[0].s, items[0].len);
    free(items);
    return rc;
}

static int add_attributes(struct wk_event *ev, const json_t *attrs)
{
    const char *k;
    json_t *v;
    char name[1024];
    json_object_foreach ((json_t *)attrs, k, v) {
        size_t kl = strlen(k);
        if (kl == 0 || kl + 17 >= sizeof(name))
            continue;
        memcpy(name, "Actor.Attributes.", 17);
        memcpy(name + 17, k, kl + 1);
        uint64_t mask = 0;
        unsigned bit = 2;
        bool ok = true;
        for (size_t i = 0; i < kl; i++) {
            if (k[i] == '.') {
                if (bit >= 64) {
                    ok = false;
                    break;
                }
                mask |= UINT64_C(1) << bit++;
            }
        }
        if (!ok)
            continue;
        struct wk_key key = wk_key_initn(name, kl + 17);
        char *txt = NULL;
        struct wk_value val = {.kind = WK_VAL_STR};
        if (json_is_string(v)) {
            val.len = (uint32_t)json_string_length(v);
            val.u.s = json_string_value(v);
        } else {
            txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            if (!txt)
                return -ENOMEM;
            val.kind = WK_VAL_JSON;
            val.len = (uint32_t)strlen(txt);
            val.u.s = txt;
        }
        int rc = wk_event_add_value(ev, 0, &key, mask, &val);
        free(txt);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int wk__docker_event_build(struct wk_event *ev, const json_t *o, const char *raw, size_t rawlen,
                           const char *host, const char **reason)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, keys_init);
    wk_event_reset(ev);
    if (!json_is_object(o)) {
        *reason = "docker-events: not a JSON object";
        return WK_EPARSE;
    }
    const json_t *type = json_object_get(o, "Type"), *action = json_object_get(o, "Action"),
                 *actor = json_object_get(o, "Actor"), *status = json_object_get(o, "status"),
                 *id = json_object_get(o, "id"), *from = json_object_get(o, "from");
    const json_t *act = json_is_string(action) ? action : status;
    if (!json_is_string(act)) {
        *reason = "docker-events: no Action or status";
        return WK_EPARSE;
    }
    int64_t ts = wk__docker_event_time(o);
    if (ts == 0) {
        *reason = "docker-events: no time or timeNano";
        return WK_EPARSE;
    }
    wk_event_set_ts(ev, ts);
    int rc = 0;
    const char *a = json_string_value(act);
    size_t al = json_string_length(act);
    const char *colon = memmem(a, al, ": ", 2);
    size_t verb = colon ? (size_t)(colon - a) : al;
    rc |= add_cstr(ev, &WK_KEY_EVENT_MODULE, "docker");
    rc |= add_cstr(ev, &K_KIND, "event");
    rc |= wk_event_add_str(ev, 0, &WK_KEY_EVENT_ACTION, a, verb);
    rc |= wk_event_add_str(ev, 0, &WK_KEY_EVENT_ORIGINAL, raw, rawlen);
    if (host)
        rc |= add_cstr(ev, &WK_KEY_HOST_NAME, host);
    /* Native fields, in the API's order. */
    rc |= add_jstr(ev, &K_STATUS, status);
    rc |= add_jstr(ev, &K_ID, id);
    rc |= add_jstr(ev, &K_FROM, from);
    rc |= add_jstr(ev, &K_TYPE, type);
    rc |= add_jstr(ev, &K_ACTION, action);
    const json_t *actor_id = json_object_get(actor, "ID");
    rc |= add_jstr(ev, &K_ACTOR_ID, actor_id);
    if (rc)
        return -ENOMEM;
    const json_t *attrs = json_object_get(actor, "Attributes");
    if (json_is_object(attrs) && (rc = add_attributes(ev, attrs)) < 0)
        return rc;
    rc |= add_jstr(ev, &K_SCOPE, json_object_get(o, "scope"));
    const json_t *t = json_object_get(o, "time"), *tn = json_object_get(o, "timeNano");
    if (json_is_integer(t))
        rc |= wk_event_add_int(ev, 0, &K_TIME, json_integer_value(t));
    if (json_is_integer(tn))
        rc |= wk_event_add_int(ev, 0, &K_TIMENANO, json_integer_value(tn));
    /* Fields a newer API may add: kept under their own names. */
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)o, k, v) {
        if (!strcmp(k, "Type") || !strcmp(k, "Action") || !strcmp(k, "Actor") ||
            !strcmp(k, "status") || !strcmp(k, "id") || !strcmp(k, "from") || !strcmp(k, "scope") ||
            !strcmp(k, "time") || !strcmp(k, "timeNano"))
            continue;
        int r2 = wk_event_add_jansson(ev, 0, k, v);
        if (r2 == -ENOMEM)
            return r2;
    }
    /* ECS. Containers: Type "container", or the legacy shape with a `from` image. */
    bool container = json_is_string(type) ? strcmp(json_string_value(type), "container") == 0
                                          : json_is_string(from);
    if (container) {
        const json_t *cid = json_is_string(actor_id) ? actor_id : id;
        rc |= add_jstr(ev, &WK_KEY_CONTAINER_ID, cid);
        rc |= add_jstr(ev, &WK_KEY_CONTAINER_NAME, json_object_get(attrs, "name"));
        const json_t *img = json_object_get(attrs, "image");
        rc |= add_jstr(ev, &WK_KEY_CONTAINER_IMAGE, json_is_string(img) ? img : from);
        if (colon && ((verb == 11 && memcmp(a, "exec_create", 11) == 0) ||
                      (verb == 10 && memcmp(a, "exec_start", 10) == 0)))
            rc |= add_exec(ev, colon + 2, al - verb - 2);
    }
    return rc ? -ENOMEM : 0;
}

/* ---- the docker-events parser ------------------------------------------------------- */

struct wk_parser {
    struct wk_event *ev;
    struct wk_parser_opts opts;
};

/* Whether the first l bytes of b hold the literal needle. */
static bool holds(const char *b, size_t l, const char *needle, size_t nl)
{
    return b && l >= nl && memmem(b, l, needle, nl) != NULL;
}

static int de_detect(const char *buf, size_t len, const char *path)
{
    (void)path;
    if (!buf || len == 0)
        return 0;
    const char *nl = memchr(buf, '\n', len);
    size_t l = nl ? (size_t)(nl - buf) : len;
    wk__docker_trim(&buf, &l);
    if (l < 2 || buf[0] != '{')
        return 0;
    bool actor = holds(buf, l, "\"Actor\":{", 9) && holds(buf, l, "\"Type\":", 7);
    bool legacy = holds(buf, l, "\"status\":", 9) && holds(buf, l, "\"time\":", 7);
    return actor || legacy ? 85 : 0;
}

static int de_create(struct wk_parser **out, const struct wk_parser_opts *opts)
{
    struct wk_parser *p = wk_new0(struct wk_parser, 1);
    if (!p || wk_event_new(&p->ev) < 0) {
        free(p);
        return -ENOMEM;
    }
    p->opts = *opts;
    *out = p;
    return 0;
}

static int de_feed(struct wk_parser *p, const char *line, size_t len,
                   const struct wk_line_ctx *where, struct wk_parser_sink *sink)
{
    uint64_t next = where ? where->offset + len + 1 : 0;
    const char *s = line;
    size_t n = len;
    wk__docker_trim(&s, &n);
    if (n == 0)
        return 0;
    json_t *o = json_loadb(s, n, 0, NULL);
    const char *reason = "docker-events: invalid JSON";
    int rc = o ? wk__docker_event_build(p->ev, o, s, n, p->opts.host, &reason) : WK_EPARSE;
    json_decref(o);
    if (rc == -ENOMEM)
        return rc;
    if (rc < 0)
        return sink->reject(sink, where, reason, line, len);
    return sink->emit(sink, p->ev, next);
}

static int de_flush(struct wk_parser *p, struct wk_parser_sink *sink)
{
    (void)p;
    (void)sink;
    return 0;
}

static void de_destroy(struct wk_parser *p)
{
    if (!p)
        return;
    wk_event_free(p->ev);
    free(p);
}

const struct wk_parser_ops wk_parser_docker_events = {
    .version = WK_PARSER_OPS_V1,
    .name = "docker-events",
    .description = "Docker Engine API /events output (JSON lines, RFC 7464 framing accepted)",
    .detect = de_detect,
    .create = de_create,
    .feed_line = de_feed,
    .flush = de_flush,
    .destroy = de_destroy,
    .emits_owned = true,
};
