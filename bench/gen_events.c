/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Realistic event generator for the store's benchmark and tests: takes the shapes of the
 * real inputs in the shared corpus (auditd records, Docker events, CRI log lines), varies
 * times, serials, rule keys and containers in the raw lines, and prints either the raw lines
 * (for `zstd -19` and `ausearch`) or the events watchkeeper's own parsers make of them
 * (jsonl, the form `ingest` reads), plus the enrichment a source adds from its state.
 * usage: gen_events CORPUS_DIR N [SEED] [--raw | --raw-auditd]
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "watchkeeper/event.h"
#include "watchkeeper/event_json.h"
#include "watchkeeper/parser.h"

struct lines {
    char **v;
    size_t n, cap;
};

static void add_line(struct lines *l, const char *s, size_t n)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        if (!l->v)
            exit(3);
    }
    l->v[l->n++] = strndup(s, n);
}

static void load_dir(const char *dir, const char *suffix, const char *must, struct lines *l)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t nl = strlen(e->d_name), sl = strlen(suffix);
        if (nl < sl || strcmp(e->d_name + nl - sl, suffix) != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0) {
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                n--;
            if (n > 10 && n < 4000 && strstr(line, must))
                add_line(l, line, (size_t)n);
        }
        free(line);
        fclose(f);
    }
    closedir(d);
}

static uint64_t rs;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

struct container {
    char id[65];
    char name[32];
    const char *image;
};
static struct container cont[40];
static const char *const images[] = {"nginx:1.25", "redis:7", "postgres:16", "busybox:latest",
                                     "python:3.12-slim", "alpine:3.19"};
static const char *const names[] = {"web", "cache", "db", "worker", "api", "cron", "proxy", "job"};

static void add_str(struct wk_event *ev, unsigned rec, const char *k, const char *v, size_t n)
{
    struct wk_key key = wk_key_init(k);
    wk_event_add_str(ev, rec, &key, v, n);
}
static void add_cstr(struct wk_event *ev, unsigned rec, const char *k, const char *v)
{
    add_str(ev, rec, k, v, strlen(v));
}
static void add_int(struct wk_event *ev, unsigned rec, const char *k, int64_t v)
{
    struct wk_key key = wk_key_init(k);
    wk_event_add_int(ev, rec, &key, v);
}

static void add_container(struct wk_event *ev, const struct container *c)
{
    add_cstr(ev, 0, "container.id", c->id);
    add_cstr(ev, 0, "container.name", c->name);
    add_cstr(ev, 0, "container.image.name", c->image);
}

/* auditd: "type=T msg=audit(S.MS:SERIAL): k=v ..." with a new time and serial. */
static void gen_auditd(struct wk_event *ev, const char *tpl, int64_t ts, uint64_t serial,
                       char *raw, size_t cap)
{
    if (strncmp(tpl, "type=", 5) != 0)
        return; /* checked first: tpl + 5 is inside tpl only then */
    const char *colon = strstr(tpl, "): ");
    const char *type = tpl + 5;
    const char *sp = strchr(type, ' ');
    if (!colon || !sp)
        return;
    size_t n = (size_t)snprintf(raw, cap, "type=%.*s msg=audit(%lld.%03lld:%llu): %s",
                                (int)(sp - type), type, (long long)(ts / 1000000000),
                                (long long)(ts / 1000000 % 1000), (unsigned long long)serial,
                                colon + 3);
    if (n >= cap)
        n = cap - 1;
    /* Give some syscalls an audit rule key, as a rule set with -k would. */
    char *kn = strstr(raw, "key=(null)");
    if (kn && rnd() % 8 == 0 && n + 4 < cap) {
        memmove(kn + 11, kn + 10, n - (size_t)(kn + 10 - raw) + 1);
        memcpy(kn, "key=\"recon\"", 11);
        n += 1;
    }
    colon = strstr(raw, "): ");
    add_cstr(ev, 0, "event.module", "auditd");
    int rec = wk_event_add_record(ev);
    add_str(ev, (unsigned)rec, "type", type, (size_t)(sp - type));
    /* k=v pairs; values may be "quoted". */
    const char *p = colon + 3;
    char action[64] = "";
    while (*p) {
        while (*p == ' ')
            p++;
        const char *eq = strchr(p, '=');
        const char *end = strchr(p, ' ');
        if (!eq || (end && end < eq)) {
            if (!end)
                break;
            p = end;
            continue;
        }
        char key[64];
        size_t kl = (size_t)(eq - p) < sizeof(key) - 1 ? (size_t)(eq - p) : sizeof(key) - 1;
        memcpy(key, p, kl);
        key[kl] = '\0';
        const char *v = eq + 1, *ve;
        if (*v == '"' && (ve = strchr(v + 1, '"'))) {
            v++;
        } else if (*v == '\'' && (ve = strchr(v + 1, '\''))) {
            v++;
        } else {
            ve = strchr(v, ' ');
            if (!ve)
                ve = v + strlen(v);
        }
        if (kl && key[0] != '\'')
            add_str(ev, (unsigned)rec, key, v, (size_t)(ve - v));
        if (strcmp(key, "exe") == 0)
            add_str(ev, 0, "process.executable", v, (size_t)(ve - v));
        else if (strcmp(key, "pid") == 0)
            add_int(ev, 0, "process.pid", atoll(v) + (int64_t)(rnd() % 5000));
        else if (strcmp(key, "uid") == 0)
            add_str(ev, 0, "user.id", v, (size_t)(ve - v));
        else if (strcmp(key, "key") == 0 && strncmp(v, "(null)", 6) != 0)
            add_str(ev, 0, "auditd.key", v, (size_t)(ve - v));
        else if (strcmp(key, "syscall") == 0)
            snprintf(action, sizeof(action), "syscall_%.*s", (int)(ve - v), v);
        p = *ve ? ve + 1 : ve;
    }
    if (!action[0]) {
        size_t tl = (size_t)(sp - type) < sizeof(action) - 1 ? (size_t)(sp - type) : sizeof(action) - 1;
        for (size_t i = 0; i < tl; i++)
            action[i] = (char)(type[i] >= 'A' && type[i] <= 'Z' ? type[i] + 32 : type[i]);
        action[tl] = '\0';
    }
    add_cstr(ev, 0, "event.action", action);
    add_int(ev, 0, "auditd.serial", (int64_t)serial);
    if (rnd() % 3)
        add_container(ev, &cont[rnd() % 40]);
    add_str(ev, 0, "event.original", raw, n);
}

static const struct container *docker_c; /* the container of the last Docker event */

static void gen_docker(struct wk_event *ev, const char *tpl, int64_t ts, char *raw, size_t cap)
{
    json_t *j = json_loads(tpl, 0, NULL);
    if (!j)
        return;
    const struct container *c = &cont[rnd() % 40];
    docker_c = c;
    json_object_set_new(j, "time", json_integer(ts / 1000000000));
    json_object_set_new(j, "timeNano", json_integer(ts));
    json_t *actor = json_object_get(j, "Actor");
    /* a container event names its container as the other sources see it */
    if (actor)
        json_object_set_new(actor, "ID", json_string(c->id));
    json_t *attrs = actor ? json_object_get(actor, "Attributes") : NULL;
    const char *type = json_string_value(json_object_get(j, "Type"));
    if (attrs && (!type || strcmp(type, "container") == 0)) {
        if (json_object_get(attrs, "name"))
            json_object_set_new(attrs, "name", json_string(c->name));
        if (json_object_get(attrs, "image"))
            json_object_set_new(attrs, "image", json_string(c->image));
    }
    if (json_object_get(j, "id"))
        json_object_set_new(j, "id", json_string(c->id));
    if (json_object_get(j, "from"))
        json_object_set_new(j, "from", json_string(c->image));
    char *s = json_dumps(j, JSON_COMPACT);
    snprintf(raw, cap, "%s", s);
    free(s);
    add_cstr(ev, 0, "event.module", "docker");
    const char *a = json_string_value(json_object_get(j, "Action"));
    if (!a)
        a = json_string_value(json_object_get(j, "status"));
    if (!a)
        a = "unknown";
    const char *colon = strstr(a, ": ");
    add_str(ev, 0, "event.action", a, colon ? (size_t)(colon - a) : strlen(a));
    const char *t = json_string_value(json_object_get(j, "Type"));
    if (t)
        add_cstr(ev, 0, "Type", t);
    add_cstr(ev, 0, "Action", a);
    add_cstr(ev, 0, "Actor.ID", c->id);
    add_int(ev, 0, "timeNano", ts);
    add_container(ev, c);
    add_cstr(ev, 0, "event.original", raw);
    json_decref(j);
}

static const struct container *clog_c; /* the container of the last CRI line */

static void gen_clog(struct wk_event *ev, const char *tpl, int64_t ts, char *raw, size_t cap)
{
    /* CRI: "TIME STREAM TAG MESSAGE" */
    const char *p1 = strchr(tpl, ' ');
    const char *p2 = p1 ? strchr(p1 + 1, ' ') : NULL;
    const char *p3 = p2 ? strchr(p2 + 1, ' ') : NULL;
    if (!p3)
        return;
    char t[64];
    time_t sec = (time_t)(ts / 1000000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(raw, cap, "%s.%09lldZ %s", t, (long long)(ts % 1000000000), p1 + 1);
    const struct container *c = &cont[rnd() % 40];
    clog_c = c;
    add_cstr(ev, 0, "event.module", "clog");
    add_cstr(ev, 0, "message", p3 + 1);
    add_str(ev, 0, "log.iostream", p1 + 1, (size_t)(p2 - p1 - 1));
    add_cstr(ev, 0, "log.origin.format", "cri");
    add_container(ev, c);
    add_cstr(ev, 0, "kubernetes.pod.name", c->name);
    add_cstr(ev, 0, "kubernetes.namespace", "default");
    add_cstr(ev, 0, "event.original", raw);
}

/*
 * The events of one raw line as watchkeeper's parsers make them, plus what a source adds from
 * its state and not from the line: container.* of an auditd event (the process's container,
 * here a function of its pid; a third of the processes run on the host) and container.name
 * and image of a log line (the container table; the id and kubernetes.* come from the CRI
 * path). Each generated auditd line has its own serial, so a flush after it emits it.
 */
struct gen_sink {
    struct wk_parser_sink s;
    unsigned long long emitted;
    bool out;
    char *js; /* the line's event as JSON, when out */
    size_t len;
};

static int64_t value_int(const struct wk_event *ev, const char *name)
{
    struct wk_key k = wk_key_init(name);
    const struct wk_value *v = wk_event_get(ev, 0, &k);
    char buf[32];
    const char *s;
    size_t l;
    if (!v || !wk_value_text(v, buf, sizeof(buf), &s, &l) || l >= sizeof(buf))
        return -1;
    memmove(buf, s, l);
    buf[l] = '\0';
    return atoll(buf);
}

static int gen_emit(struct wk_parser_sink *sk, struct wk_event *ev, uint64_t resume)
{
    (void)resume;
    struct gen_sink *g = (struct gen_sink *)sk;
    size_t ml;
    const char *mod = wk_event_get_str(ev, &WK_KEY_EVENT_MODULE, &ml);
    if (mod && ml == 6 && memcmp(mod, "auditd", 6) == 0) {
        int64_t pid = value_int(ev, "process.pid");
        uint64_t h = (uint64_t)pid * 0x9E3779B97F4A7C15ull;
        h ^= h >> 29;
        if (pid > 0 && h % 3)
            add_container(ev, &cont[(h / 3) % 40]);
    } else if (mod && ml == 6 && memcmp(mod, "docker", 6) == 0 && docker_c &&
               wk_event_get_str(ev, &WK_KEY_CONTAINER_ID, NULL) &&
               !wk_event_get_str(ev, &WK_KEY_CONTAINER_NAME, NULL)) {
        add_cstr(ev, 0, "container.name", docker_c->name); /* legacy events: from inspect */
    } else if (mod && ml == 4 && memcmp(mod, "clog", 4) == 0 && clog_c) {
        add_cstr(ev, 0, "container.name", clog_c->name);
        add_cstr(ev, 0, "container.image.name", clog_c->image);
    }
    if (g->emitted++ || !g->out) {
            return 0;
    }
    return wk_event_to_json(ev, &g->js, &g->len) < 0 ? -ENOMEM : 0;
}

static int gen_reject(struct wk_parser_sink *sk, const struct wk_line_ctx *where,
                      const char *reason, const char *raw, size_t len)
{
    (void)sk, (void)where, (void)reason, (void)raw, (void)len;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: gen_events CORPUS_DIR N [SEED] [--raw]\n");
        return 2;
    }
    const char *corpus = argv[1];
    unsigned long long n = strtoull(argv[2], NULL, 10);
    rs = argc > 3 && argv[3][0] != '-' ? strtoull(argv[3], NULL, 10) * 2654435761u + 1 : 88172645463325252ull;
    bool raw_out = strcmp(argv[argc - 1], "--raw") == 0;
    bool audit_only = strcmp(argv[argc - 1], "--raw-auditd") == 0;
    raw_out = raw_out || audit_only;
    struct lines au = {0}, dk = {0}, cl = {0};
    char dir[4096];
    const char *adirs[] = {"audit-userspace", "beats", "laurel", "wazuh"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(dir, sizeof(dir), "%s/auditd/%s", corpus, adirs[i]);
        load_dir(dir, ".log", "msg=audit(", &au);
    }
    snprintf(dir, sizeof(dir), "%s/docker-events", corpus);
    load_dir(dir, ".jsonl", "{", &dk);
    snprintf(dir, sizeof(dir), "%s/cri", corpus);
    load_dir(dir, ".log", " ", &cl);
    if (!au.n || !dk.n || !cl.n) {
        fprintf(stderr, "gen_events: corpus %s lacks auditd/docker/cri inputs\n", corpus);
        return 3;
    }
    for (int i = 0; i < 40; i++) {
        for (int j = 0; j < 64; j++)
            cont[i].id[j] = "0123456789abcdef"[rnd() % 16];
        snprintf(cont[i].name, sizeof(cont[i].name), "%s-%d", names[rnd() % 8], i);
        cont[i].image = images[rnd() % 6];
    }
    wk_keys_init();
    struct wk_parser_opts po;
    wk_parser_opts_init(&po);
    po.host = "node-1";
    const char *const pnames[3] = {"auditd", "docker-events", "cri"};
    struct wk_parser *parser[3];
    for (int i = 0; i < 3; i++) {
        const struct wk_parser_ops *ops = wk_parser_find(pnames[i]);
        if (!ops || ops->create(&parser[i], &po) < 0) {
            fprintf(stderr, "gen_events: no %s parser\n", pnames[i]);
            return 3;
        }
    }
    uint64_t off[42] = {0}; /* bytes written to each container's log file, audit.log */
    struct gen_sink sink = {{gen_emit, gen_reject}, 0, false, NULL, 0};
    struct wk_event *ev;
    if (wk_event_new(&ev) < 0)
        return 3;
    int64_t ts = 1714521600000000000LL; /* 2024-05-01T00:00:00Z */
    uint64_t serial = 1000;
    static char raw[16384];
    for (unsigned long long i = 0; i < n; i++) {
        ts += (int64_t)(rnd() % 2000000);
        wk_event_reset(ev);
        wk_event_set_ts(ev, ts);
        raw[0] = '\0';
        unsigned k = (unsigned)(rnd() % 10);
        bool is_audit = k < 6;
        clog_c = docker_c = NULL;
        if (k < 6)
            gen_auditd(ev, au.v[rnd() % au.n], ts, serial++, raw, sizeof(raw));
        else if (k < 7)
            gen_docker(ev, dk.v[rnd() % dk.n], ts, raw, sizeof(raw));
        else
            gen_clog(ev, cl.v[rnd() % cl.n], ts, raw, sizeof(raw));
        if (!raw[0]) {
            serial -= is_audit; /* a serial skipped would be a gap */
            i--;
            continue;
        }
        /* The parser's events, written out unless only raw lines are wanted. */
        int pi = k < 6 ? 0 : k < 7 ? 1 : 2;
        char path[256];
        struct wk_line_ctx where = {"/var/log/audit/audit.log", i + 1, off[40]};
        uint64_t *o = &off[40];
        if (pi == 1) {
            where.path = "-";
            o = &off[41];
        } else if (pi == 2) {
            size_t ci = (size_t)(clog_c - cont);
            snprintf(path, sizeof(path), "/var/log/containers/%s_default_%s-%s.log",
                     clog_c->name, clog_c->name, clog_c->id);
            where.path = path;
            o = &off[ci];
        }
        where.offset = *o;
        const struct wk_parser_ops *ops = wk_parser_find(pnames[pi]);
        sink.emitted = 0;
        sink.out = !raw_out;
        size_t rl = strlen(raw);
        if (ops->feed_line(parser[pi], raw, rl, &where, &sink.s) < 0 ||
            ops->flush(parser[pi], &sink.s) < 0)
            return 3;
        if (sink.emitted == 0) { /* rejected: not a line of the format */
            serial -= is_audit;
            i--;
            continue;
        }
        if (sink.emitted != 1) {
            fprintf(stderr, "gen_events: one line made %llu events: %s\n", sink.emitted,
                    raw);
            return 3;
        }
        *o += rl + 1;
        if (sink.js) {
            fwrite(sink.js, 1, sink.len, stdout);
            putchar('\n');
            free(sink.js);
            sink.js = NULL;
            continue;
        }
        if (raw_out) {
            if (audit_only && !is_audit)
                continue;
            fputs(raw, stdout);
            putchar('\n');
            continue;
        }
    }
    for (int i = 0; i < 3; i++)
        wk_parser_find(pnames[i])->destroy(parser[i]);
    wk_event_free(ev);
    return 0;
}
