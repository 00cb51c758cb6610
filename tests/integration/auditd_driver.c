/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A stand-in for the daemon in the auditd integration test: runs the `auditd` live source on
 * a libuv loop with a sink that appends events as JSON lines and stores the cursor after
 * each one (as the store would, together), until SIGTERM. `parse` runs the parser over
 * files in order, like `ingest`.
 *   wk_auditd_driver tail LOG CURSOR_FILE OUT_JSONL
 *   wk_auditd_driver parse FILE... > OUT_JSONL
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "watchkeeper/event.h"
#include "watchkeeper/option.h"
#include "watchkeeper/parser.h"
#include "watchkeeper/source.h"

static FILE *out;
static const char *cursor_path;

static int d_submit(struct wk_source_sink *s, struct wk_source *src, const struct wk_event *ev,
                    const void *cursor, size_t cursor_len)
{
    char *js;
    size_t jl;
    (void)s;
    (void)src;
    if (wk_event_to_json(ev, &js, &jl) < 0)
        return -ENOMEM;
    fwrite(js, 1, jl, out);
    fputc('\n', out);
    fflush(out);
    free(js);
    if (cursor_len) {
        char tmp[4200];
        snprintf(tmp, sizeof(tmp), "%s.tmp", cursor_path);
        FILE *c = fopen(tmp, "wb");
        if (!c || fwrite(cursor, 1, cursor_len, c) != cursor_len || fclose(c) != 0)
            return -EIO;
        if (rename(tmp, cursor_path) < 0)
            return -errno;
    }
    return 0;
}

static int d_reject(struct wk_source_sink *s, struct wk_source *src, const char *reason,
                    const char *raw, size_t len)
{
    (void)s;
    (void)src;
    fprintf(stderr, "reject: %s: %.*s\n", reason, (int)(len > 200 ? 200 : len), raw);
    return 0;
}

static const struct wk_source_ops *ops;
static struct wk_source *src;

static void on_stopped(struct wk_source *s)
{
    (void)s;
}

static void on_signal(uv_signal_t *h, int sig)
{
    (void)sig;
    ops->stop(src, on_stopped);
    uv_close((uv_handle_t *)h, NULL);
}

static int tail(const char *log, const char *cur, const char *outpath)
{
    uv_loop_t *loop = uv_default_loop();
    struct wk_source_sink sink = { .submit = d_submit, .reject = d_reject };
    const char *err;
    cursor_path = cur;
    out = fopen(outpath, "ab");
    if (!out)
        return 3;
    ops = wk_source_find("auditd");
    void *cfg = calloc(1, ops->config_size);
    if (wk_options_defaults(ops->options, cfg) < 0 ||
        wk_option_set(ops->options, cfg, "path", log, &err) < 0 ||
        wk_option_set(ops->options, cfg, "poll", "50ms", &err) < 0)
        return 3;
    if (ops->create(&src, cfg) < 0)
        return 3;
    struct wk_source_base *b = (struct wk_source_base *)src;
    b->ops = ops;
    b->instance = "auditd";
    b->sink = &sink;
    b->loop = loop;
    char cbuf[64];
    size_t clen = 0;
    FILE *c = fopen(cur, "rb");
    if (c) {
        clen = fread(cbuf, 1, sizeof(cbuf), c);
        fclose(c);
    }
    int rc = ops->start(src, clen ? cbuf : NULL, clen);
    if (rc < 0) {
        fprintf(stderr, "start: %s\n", strerror(-rc));
        return 3;
    }
    uv_signal_t sig;
    uv_signal_init(loop, &sig);
    uv_signal_start(&sig, on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    ops->destroy(src);
    wk_options_fini(ops->options, cfg);
    free(cfg);
    fclose(out);
    return uv_loop_close(loop) == 0 ? 0 : 3;
}

static int p_emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    (void)s;
    (void)resume;
    return d_submit(NULL, NULL, ev, NULL, 0);
}

static int p_reject(struct wk_parser_sink *s, const struct wk_line_ctx *w, const char *reason,
                    const char *raw, size_t len)
{
    (void)s;
    fprintf(stderr, "reject %s:%llu: %s: %.*s\n", w->path, (unsigned long long)w->lineno, reason,
            (int)(len > 200 ? 200 : len), raw);
    return 0;
}

static int parse(int n, char **files)
{
    const struct wk_parser_ops *p = wk_parser_find("auditd");
    struct wk_parser_opts opts;
    struct wk_parser *st;
    struct wk_parser_sink sink = { p_emit, p_reject };
    out = stdout;
    wk_parser_opts_init(&opts);
    if (p->create(&st, &opts) < 0)
        return 3;
    for (int i = 0; i < n; i++) {
        FILE *f = fopen(files[i], "rb");
        if (!f)
            return 3;
        char *line = NULL;
        size_t cap = 0;
        ssize_t l;
        uint64_t lineno = 0, off = 0;
        while ((l = getline(&line, &cap, f)) > 0) {
            size_t ll = (size_t)l;
            if (line[ll - 1] == '\n')
                ll--;
            struct wk_line_ctx where = { files[i], ++lineno, off };
            p->feed_line(st, line, ll, &where, &sink);
            off += (uint64_t)l;
        }
        free(line);
        fclose(f);
    }
    p->flush(st, &sink);
    p->destroy(st);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "tail") == 0)
        return tail(argv[2], argv[3], argv[4]);
    if (argc >= 3 && strcmp(argv[1], "parse") == 0)
        return parse(argc - 2, argv + 2);
    fprintf(stderr, "usage: wk_auditd_driver tail LOG CURSOR OUT | parse FILE...\n");
    return 2;
}
