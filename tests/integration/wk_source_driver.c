/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test driver for live sources, standing in for `watchkeeper run`: runs one source on a
 * libuv loop with a sink that appends each event (JSON line) to --out and then atomically
 * replaces --cursor with the cursor after it, like the store's transaction would. SIGTERM
 * stops the source cleanly; starting again resumes from the cursor file. --full-every N
 * makes every Nth submit return -EAGAIN (back-pressure); --full-while FILE refuses every
 * submit while FILE exists (a stalled pipeline the test can end). --table FILE persists the shared
 * container table (JSON lines) across runs, as the store's `containers` db would.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "watchkeeper/containers.h"
#include "watchkeeper/log.h"
#include "watchkeeper/source.h"

static FILE *out, *rej;
static const char *cursor_path;
static unsigned full_every, submits;
static const char *full_while;
static uv_loop_t loop;
static uv_signal_t sig_term, sig_int;
static uv_timer_t resume_timer;
static struct wk_source *src;
static const struct wk_source_ops *ops;
static bool stopping;
static int cursor_fd = -1;

static void on_resume(uv_timer_t *t)
{
    (void)t;
    ops->resume(src);
}

/* Overwritten in place (a rename per event costs a flush on ext4): the driver is stopped
 * with SIGTERM, never mid-write. */
static void write_cursor(const void *cursor, size_t cursor_len)
{
    if (cursor_fd < 0)
        cursor_fd = open(cursor_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    static size_t last_len;
    if (cursor_fd < 0 || pwrite(cursor_fd, cursor, cursor_len, 0) != (ssize_t)cursor_len ||
        (cursor_len < last_len && ftruncate(cursor_fd, (off_t)cursor_len) < 0)) {
        perror(cursor_path);
        exit(3);
    }
    last_len = cursor_len;
}

static int submit(struct wk_source_sink *sink, struct wk_source *s, const struct wk_event *ev,
                  const void *cursor, size_t cursor_len)
{
    (void)sink;
    (void)s;
    if ((full_every && ++submits % full_every == 0) || (full_while && access(full_while, F_OK) == 0)) {
        uv_timer_start(&resume_timer, on_resume, 5, 0);
        return -EAGAIN;
    }
    char *js = NULL;
    size_t len = 0;
    if (wk_event_to_json(ev, &js, &len) < 0)
        return -ENOMEM;
    fwrite(js, 1, len, out);
    fputc('\n', out);
    fflush(out);
    free(js);
    write_cursor(cursor, cursor_len);
    return 0;
}

/* sink->cursor: a cursor without an event (clog, when it forgets a finished file). */
static int cursor_only(struct wk_source_sink *sink, struct wk_source *s, const void *cursor,
                       size_t cursor_len)
{
    (void)sink;
    (void)s;
    write_cursor(cursor, cursor_len);
    return 0;
}

static int reject(struct wk_source_sink *sink, struct wk_source *s, const char *reason,
                  const char *raw, size_t len)
{
    (void)sink;
    (void)s;
    fprintf(rej, "%s\t%.*s\n", reason, (int)(len > 200 ? 200 : len), raw);
    fflush(rej);
    return 0;
}

static struct wk_source_sink the_sink = { .submit = submit, .reject = reject,
                                          .cursor = cursor_only };

static void stopped(struct wk_source *s)
{
    (void)s;
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&resume_timer, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    if (stopping)
        return;
    stopping = true;
    ops->stop(src, stopped);
}

int main(int argc, char **argv)
{
    const char *name = NULL, *out_path = NULL, *rej_path = "/dev/null", *table_path = NULL;
    void *cfg = NULL;
    wk_log_setup(getenv("WK_DEBUG") ? WK_LOG_DEBUG : WK_LOG_INFO, false);
    for (int i = 1; i < argc; i++) {
        if (!name) {
            name = argv[i];
            ops = wk_source_find(name);
            if (!ops) {
                fprintf(stderr, "unknown source %s\n", name);
                return 2;
            }
            cfg = calloc(1, ops->config_size);
            if (wk_options_defaults(ops->options, cfg) < 0)
                return 2;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out_path = argv[++i];
        } else if (!strcmp(argv[i], "--cursor") && i + 1 < argc) {
            cursor_path = argv[++i];
        } else if (!strcmp(argv[i], "--rejects") && i + 1 < argc) {
            rej_path = argv[++i];
        } else if (!strcmp(argv[i], "--table") && i + 1 < argc) {
            table_path = argv[++i];
        } else if (!strcmp(argv[i], "--full-while") && i + 1 < argc) {
            full_while = argv[++i];
        } else if (!strcmp(argv[i], "--full-every") && i + 1 < argc) {
            full_every = (unsigned)atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--opt") && i + 1 < argc && cfg) {
            char *kv = argv[++i], *eq = strchr(kv, '=');
            const char *err = NULL;
            if (!eq)
                return 2;
            *eq = '\0';
            int rc = wk_option_set(ops->options, cfg, kv, eq + 1, &err);
            if (rc == -EINVAL && wk_option_find(ops->options, kv) &&
                wk_option_find(ops->options, kv)->type == WK_OPT_STRLIST)
                rc = wk_option_append(ops->options, cfg, kv, eq + 1, &err);
            if (rc < 0) {
                fprintf(stderr, "option %s: %s\n", kv, err ? err : "invalid");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: wk_source_driver SOURCE --out F --cursor F [--opt k=v]...\n");
            return 2;
        }
    }
    if (!ops || !out_path || !cursor_path)
        return 2;
    out = fopen(out_path, "a");
    rej = fopen(rej_path, "a");
    if (!out || !rej) {
        perror("open");
        return 3;
    }
    struct wk_containers *table = wk_containers_shared();
    if (table_path) {
        FILE *f = fopen(table_path, "r");
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while (f && (n = getline(&line, &cap, f)) > 0)
            wk_containers_import_json(table, line, (size_t)n);
        free(line);
        if (f)
            fclose(f);
    }
    unsigned char cursor[65536];
    size_t cursor_len = 0;
    int fd = open(cursor_path, O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, cursor, sizeof(cursor));
        cursor_len = n > 0 ? (size_t)n : 0;
        close(fd);
    }
    uv_loop_init(&loop);
    if (ops->create(&src, cfg) < 0) {
        fprintf(stderr, "create failed\n");
        return 3;
    }
    struct wk_source_base *b = (struct wk_source_base *)src;
    b->ops = ops;
    b->instance = (char *)name;
    b->sink = &the_sink;
    b->loop = &loop;
    uv_signal_init(&loop, &sig_term);
    uv_signal_init(&loop, &sig_int);
    uv_timer_init(&loop, &resume_timer);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    int rc = ops->start(src, cursor_len ? cursor : NULL, cursor_len);
    if (rc < 0) {
        fprintf(stderr, "start failed: %d\n", rc);
        return 3;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    ops->destroy(src);
    uv_loop_close(&loop);
    if (table_path) {
        FILE *f = fopen(table_path, "w");
        for (size_t i = 0; f && i < wk_containers_count(table); i++) {
            char *js = NULL;
            if (wk_container_to_json(wk_containers_at(table, i), &js, NULL) == 0)
                fprintf(f, "%s\n", js);
            free(js);
        }
        if (f)
            fclose(f);
    }
    wk_containers_shared_free();
    wk_options_fini(ops->options, cfg);
    free(cfg);
    fclose(out);
    fclose(rej);
    return 0;
}
