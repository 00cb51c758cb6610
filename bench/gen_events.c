/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Realistic event generator for the store's benchmark and tests: takes the shapes of the
 * real inputs in the shared corpus (auditd records, Docker events, CRI log lines), varies
 * times, serials, pids and containers, and prints either the normalized events (jsonl, the
 * form `ingest` reads) or their raw originals (for `zstd -19` and `ausearch`).
 * usage: gen_events CORPUS_DIR N [SEED] [--raw | --raw-auditd]
 */
#include "config.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "watchkeeper/event.h"
#include "watchkeeper/event_json.h"

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

static void gen_docker(struct wk_event *ev, const char *tpl, int64_t ts, char *raw, size_t cap)
{
    json_t *j = json_loads(tpl, 0, NULL);
    if (!j)
        return;
    const struct container *c = &cont[rnd() % 40];
    json_object_set_new(j, "time", json_integer(ts / 1000000000));
    json_object_set_new(j, "timeNano", json_integer(ts));
    json_t *actor = json_object_get(j, "Actor");
    if (actor)
        json_object_set_new(actor, "ID", json_string(c->id));
    if (json_object_get(j, "id"))
        json_object_set_new(j, "id", json_string(c->id));
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
    add_cstr(ev, 0, "event.module", "clog");
    add_cstr(ev, 0, "message", p3 + 1);
    add_str(ev, 0, "log.iostream", p1 + 1, (size_t)(p2 - p1 - 1));
    add_cstr(ev, 0, "log.origin.format", "cri");
    add_container(ev, c);
    add_cstr(ev, 0, "kubernetes.pod.name", c->name);
    add_cstr(ev, 0, "kubernetes.namespace", "default");
    add_cstr(ev, 0, "event.original", raw);
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
        if (k < 6)
            gen_auditd(ev, au.v[rnd() % au.n], ts, serial++, raw, sizeof(raw));
        else if (k < 7)
            gen_docker(ev, dk.v[rnd() % dk.n], ts, raw, sizeof(raw));
        else
            gen_clog(ev, cl.v[rnd() % cl.n], ts, raw, sizeof(raw));
        if (!raw[0]) {
            i--;
            continue;
        }
        add_cstr(ev, 0, "host.name", "node-1");
        if (raw_out) {
            if (audit_only && !is_audit)
                continue;
            fputs(raw, stdout);
            putchar('\n');
            continue;
        }
        char *js;
        size_t len;
        if (wk_event_to_json(ev, &js, &len) < 0)
            return 3;
        fwrite(js, 1, len, stdout);
        putchar('\n');
        free(js);
    }
    wk_event_free(ev);
    return 0;
}
