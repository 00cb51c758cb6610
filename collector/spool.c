/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's built-in storage backend: an append-only JSON-lines spool. Each batch is one
 * write() of its event lines, its alert lines and a closing commit line carrying the cursors;
 * a batch without its commit line (a crash mid-write) is cut off on open, so events and
 * cursors stay atomic together. The LMDB store replaces it as the default backend; the spool
 * stays for tests and for hosts that only forward.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "watchkeeper/daemon.h"
#include "watchkeeper/mem.h"

struct spool_cursor {
    char *instance;
    unsigned char *data;
    size_t len;
};

struct spool {
    int fd;
    bool fsync;
    uint64_t seq; /* commit number of the last commit */
    uint64_t size;
    struct spool_cursor *cursors;
    size_t ncursors;
    pthread_mutex_t lock; /* stats and cursors: the API reads them from the loop thread */
    struct wk_backend_stats st;
};

static const char COMMIT_PREFIX[] = "{\"@commit\":";
static const char ALERT_PREFIX[] = "{\"@alert\":";

static int cursor_set(struct spool *s, const char *inst, const unsigned char *data, size_t len)
{
    struct spool_cursor *c = NULL;
    for (size_t i = 0; i < s->ncursors; i++) {
        if (strcmp(s->cursors[i].instance, inst) == 0)
            c = &s->cursors[i];
    }
    if (!c) {
        struct spool_cursor *v = realloc(s->cursors, (s->ncursors + 1) * sizeof(*v));
        if (!v)
            return -ENOMEM;
        s->cursors = v;
        c = &v[s->ncursors];
        memset(c, 0, sizeof(*c));
        if (!(c->instance = strdup(inst)))
            return -ENOMEM;
        s->ncursors++;
    }
    unsigned char *d = malloc(len ? len : 1);
    if (!d)
        return -ENOMEM;
    memcpy(d, data, len);
    free(c->data);
    c->data = d;
    c->len = len;
    return 0;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Apply one commit line's cursors. */
static int load_commit(struct spool *s, const char *line, size_t len)
{
    json_t *o = json_loadb(line, len, 0, NULL);
    if (!o)
        return -EINVAL;
    s->seq = (uint64_t)json_integer_value(json_object_get(o, "@commit"));
    json_t *curs = json_object_get(o, "cursors");
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach(curs, k, v) {
        const char *hex = json_string_value(v);
        size_t hl = hex ? strlen(hex) : 1;
        if (hl % 2)
            continue;
        unsigned char *d = malloc(hl / 2 + 1);
        if (!d) {
            rc = -ENOMEM;
            break;
        }
        for (size_t i = 0; i < hl / 2; i++)
            d[i] = (unsigned char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
        rc = cursor_set(s, k, d, hl / 2);
        free(d);
        if (rc < 0)
            break;
    }
    json_decref(o);
    return rc;
}

/* Scan the spool: cursors of every commit, counts, and where the last commit ends. */
static int spool_scan(struct spool *s)
{
    FILE *f = fdopen(dup(s->fd), "r");
    if (!f)
        return -errno;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t off = 0, good = 0, events = 0, alerts = 0;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        off += (uint64_t)n;
        if (line[n - 1] != '\n')
            break; /* torn */
        if ((size_t)n > sizeof(COMMIT_PREFIX) &&
            memcmp(line, COMMIT_PREFIX, sizeof(COMMIT_PREFIX) - 1) == 0) {
            if (load_commit(s, line, (size_t)n) < 0)
                break;
            good = off;
            s->st.events += events;
            s->st.alerts += alerts;
            events = alerts = 0;
        } else if (memcmp(line, ALERT_PREFIX, sizeof(ALERT_PREFIX) - 1) == 0) {
            alerts++;
        } else {
            events++;
            s->st.raw_bytes += (uint64_t)n;
        }
    }
    free(line);
    fclose(f);
    if (good < off || off != s->size) {
        if (ftruncate(s->fd, (off_t)good) < 0)
            rc = -errno;
    }
    s->size = good;
    s->st.stored_bytes = good;
    return rc;
}

static void spool_close(void *ctx)
{
    struct spool *s = ctx;
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    for (size_t i = 0; i < s->ncursors; i++) {
        free(s->cursors[i].instance);
        free(s->cursors[i].data);
    }
    free(s->cursors);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

struct buf {
    char *p;
    size_t len, cap;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 65536;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np)
            return -ENOMEM;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

static int spool_commit(void *ctx, const struct wk_batch *bt)
{
    struct spool *s = ctx;
    struct buf b = { 0 };
    int rc = 0;
    uint64_t raw = 0;
    for (size_t i = 0; i < bt->nevents && rc == 0; i++) {
        char *js;
        size_t jl;
        rc = wk_event_to_json(bt->events[i], &js, &jl);
        if (rc < 0)
            break;
        rc = buf_add(&b, js, jl);
        if (rc == 0)
            rc = buf_add(&b, "\n", 1);
        raw += jl + 1;
        free(js);
    }
    for (size_t i = 0; i < bt->nalerts && rc == 0; i++) {
        json_t *o = json_pack("{s:O, s:{s:I, s:I}}", "@alert", bt->alerts[i].alert, "evidence",
                              "commit", (json_int_t)(s->seq + 1), "index",
                              (json_int_t)bt->alerts[i].event_index);
        char *js = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        rc = js ? buf_add(&b, js, strlen(js)) : -ENOMEM;
        if (rc == 0)
            rc = buf_add(&b, "\n", 1);
        free(js);
    }
    json_t *commit = json_pack("{s:I, s:{}}", "@commit", (json_int_t)(s->seq + 1), "cursors");
    for (size_t i = 0; commit && i < bt->ncursors; i++) {
        const struct wk_batch_cursor *c = &bt->cursors[i];
        char *hex = malloc(c->len * 2 + 1);
        if (!hex) {
            rc = -ENOMEM;
            break;
        }
        for (size_t j = 0; j < c->len; j++)
            snprintf(hex + 2 * j, 3, "%02x", ((const unsigned char *)c->data)[j]);
        hex[c->len * 2] = '\0';
        json_object_set_new(json_object_get(commit, "cursors"), c->instance, json_string(hex));
        free(hex);
    }
    char *cl = commit ? json_dumps(commit, JSON_COMPACT) : NULL;
    json_decref(commit);
    if (rc == 0)
        rc = cl ? buf_add(&b, cl, strlen(cl)) : -ENOMEM;
    if (rc == 0)
        rc = buf_add(&b, "\n", 1);
    free(cl);
    size_t done = 0;
    while (rc == 0 && done < b.len) {
        ssize_t n = write(s->fd, b.p + done, b.len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = -errno;
        else
            done += (size_t)n;
    }
    if (rc == 0 && s->fsync && fdatasync(s->fd) < 0)
        rc = -errno;
    if (rc < 0) {
        /* Cut what this batch wrote: the next attempt starts clean. */
        if (done)
            (void)ftruncate(s->fd, (off_t)s->size);
        free(b.p);
        return rc;
    }
    pthread_mutex_lock(&s->lock);
    s->seq++;
    s->size += b.len;
    for (size_t i = 0; i < bt->ncursors && rc == 0; i++)
        rc = cursor_set(s, bt->cursors[i].instance, bt->cursors[i].data, bt->cursors[i].len);
    s->st.events += bt->nevents;
    s->st.alerts += bt->nalerts;
    s->st.raw_bytes += raw;
    s->st.stored_bytes = s->size;
    pthread_mutex_unlock(&s->lock);
    free(b.p);
    return rc;
}

static int spool_cursor_get(void *ctx, const char *instance, void **data, size_t *len)
{
    struct spool *s = ctx;
    *data = NULL;
    *len = 0;
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->ncursors; i++) {
        if (strcmp(s->cursors[i].instance, instance) != 0)
            continue;
        *data = malloc(s->cursors[i].len ? s->cursors[i].len : 1);
        if (!*data) {
            rc = -ENOMEM;
            break;
        }
        memcpy(*data, s->cursors[i].data, s->cursors[i].len);
        *len = s->cursors[i].len;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static void spool_stats(void *ctx, struct wk_backend_stats *st)
{
    struct spool *s = ctx;
    pthread_mutex_lock(&s->lock);
    *st = s->st;
    pthread_mutex_unlock(&s->lock);
}

static const struct wk_backend_ops spool_ops = {
    .name = "spool",
    .commit = spool_commit,
    .cursor_get = spool_cursor_get,
    .stats = spool_stats,
    .close = spool_close,
};

int wk_spool_open(const struct wk_backend_ops **ops, void **ctx, const char *dir, bool fsync)
{
    if (mkdir(dir, 0750) < 0 && errno != EEXIST)
        return -errno;
    struct spool *s = wk_new0(struct spool, 1);
    if (!s)
        return -ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    s->fsync = fsync;
    char path[4096];
    snprintf(path, sizeof(path), "%s/spool.jsonl", dir);
    s->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    int rc = s->fd < 0 ? -errno : 0;
    struct stat st;
    if (rc == 0 && fstat(s->fd, &st) < 0)
        rc = -errno;
    if (rc == 0) {
        s->size = (uint64_t)st.st_size;
        rc = spool_scan(s);
    }
    if (rc < 0) {
        spool_close(s);
        return rc;
    }
    *ops = &spool_ops;
    *ctx = s;
    return 0;
}
