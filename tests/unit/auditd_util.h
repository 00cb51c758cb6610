/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the auditd unit tests: run the auditd parser over a buffer or a corpus
 * file, collecting events as JSON lines and rejects with their line numbers (static inline:
 * a test uses what it needs). */
#ifndef WK_TEST_AUDITD_UTIL_H
#define WK_TEST_AUDITD_UTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "watchkeeper/parser.h"
#include "wk_test.h"

struct au_collect {
    struct wk_parser_sink sink;
    char *out; /* JSON lines */
    size_t len, cap;
    int events, rejects;
    uint64_t reject_line;
    char reject_reason[128];
    uint64_t resumes[4096];
    struct wk_event *copies[256]; /* the first events, copied */
};

static inline int au_emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    struct au_collect *c = (struct au_collect *)s;
    char *js;
    size_t jl;
    if (wk_event_to_json(ev, &js, &jl) < 0)
        return -12;
    if (c->len + jl + 2 > c->cap) {
        c->cap = (c->len + jl + 2) * 2;
        c->out = realloc(c->out, c->cap);
    }
    memcpy(c->out + c->len, js, jl);
    c->len += jl;
    c->out[c->len++] = '\n';
    c->out[c->len] = 0;
    free(js);
    if (c->events < 4096)
        c->resumes[c->events] = resume;
    if (c->events < 256) {
        wk_event_new(&c->copies[c->events]);
        wk_event_copy(c->copies[c->events], ev);
    }
    c->events++;
    return 0;
}

static inline int au_reject(struct wk_parser_sink *s, const struct wk_line_ctx *where,
                     const char *reason, const char *raw, size_t len)
{
    struct au_collect *c = (struct au_collect *)s;
    (void)raw;
    (void)len;
    c->rejects++;
    c->reject_line = where ? where->lineno : 0;
    snprintf(c->reject_reason, sizeof(c->reject_reason), "%s", reason);
    char line[256];
    int n = snprintf(line, sizeof(line), "# rejected %s:%llu: %s\n", where && where->path ? where->path : "-",
                     (unsigned long long)c->reject_line, reason);
    if (c->len + (size_t)n + 1 > c->cap) {
        c->cap = (c->len + (size_t)n + 1) * 2;
        c->out = realloc(c->out, c->cap);
    }
    memcpy(c->out + c->len, line, (size_t)n + 1);
    c->len += (size_t)n;
    return 0;
}

static inline void au_collect_init(struct au_collect *c)
{
    memset(c, 0, sizeof(*c));
    c->sink.emit = au_emit;
    c->sink.reject = au_reject;
}

static inline void au_collect_fini(struct au_collect *c)
{
    free(c->out);
    for (int i = 0; i < 256; i++)
        wk_event_free(c->copies[i]);
}

/* Feed buf line by line (as `ingest` does) into parser p with sink, and flush. */
static inline void au_feed_lines(const struct wk_parser_ops *ops, struct wk_parser *p,
                                 struct wk_parser_sink *sink, const char *path, const char *buf,
                                 size_t len)
{
    size_t i = 0;
    uint64_t lineno = 0;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t l = nl ? (size_t)(nl - (buf + i)) : len - i;
        struct wk_line_ctx where = { path, ++lineno, i };
        WK_ASSERT_OK(ops->feed_line(p, buf + i, l, &where, sink));
        i += l + 1;
    }
    WK_ASSERT_OK(ops->flush(p, sink));
}

/* The same into a new parser, destroyed after. */
static inline void au_feed(struct wk_parser_sink *sink, const char *path, const char *buf, size_t len)
{
    const struct wk_parser_ops *ops = wk_parser_find("auditd");
    struct wk_parser_opts opts;
    struct wk_parser *p = NULL;
    WK_ASSERT(ops != NULL);
    wk_parser_opts_init(&opts);
    WK_ASSERT_OK(ops->create(&p, &opts));
    au_feed_lines(ops, p, sink, path, buf, len);
    ops->destroy(p);
}

/* A sink's reject for tests that count no rejects: ignores the line. */
static inline int au_sink_reject_none(struct wk_parser_sink *s, const struct wk_line_ctx *where,
                                      const char *reason, const char *raw, size_t len)
{
    (void)s, (void)where, (void)reason, (void)raw, (void)len;
    return 0;
}

/* File path through parser `name` (any parser; host "node-1") into sink, as `ingest` does;
 * the events name the file `shown` (a path that does not depend on the checkout). */
static inline void au_feed_file(const char *name, const char *path, const char *shown,
                                struct wk_parser_sink *sink)
{
    const struct wk_parser_ops *ops = wk_parser_find(name);
    WK_ASSERT(ops != NULL);
    struct wk_parser_opts opts;
    wk_parser_opts_init(&opts);
    opts.host = "node-1";
    struct wk_parser *p = NULL;
    WK_ASSERT_OK(ops->create(&p, &opts));
    size_t len;
    char *buf = wk_test_read_file(path, &len);
    au_feed_lines(ops, p, sink, shown, buf, len);
    ops->destroy(p);
    free(buf);
}

/* Every file of dir whose name ends with suffix, in name order (and those of its
 * subdirectories, one level down, when deep), through parser `name` into sink as
 * au_feed_file does; the events name each file by its name. @return the files fed. */
static inline size_t au_feed_dir(const char *name, const char *dir, const char *suffix,
                                 bool deep, struct wk_parser_sink *sink)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    WK_ASSERT(n >= 0);
    size_t files = 0, sl = strlen(suffix);
    for (int i = 0; i < n; i++) {
        char path[8192];
        const char *nm = ents[i]->d_name;
        size_t nl = strlen(nm);
        struct stat sb;
        snprintf(path, sizeof(path), "%s/%s", dir, nm);
        if (nm[0] == '.' || stat(path, &sb) < 0)
            ;
        else if (S_ISDIR(sb.st_mode))
            files += deep ? au_feed_dir(name, path, suffix, false, sink) : 0;
        else if (nl > sl && strcmp(nm + nl - sl, suffix) == 0) {
            au_feed_file(name, path, nm, sink);
            files++;
        }
        free(ents[i]);
    }
    free(ents);
    return files;
}

static inline void au_run(struct au_collect *c, const char *path, const char *buf, size_t len)
{
    au_feed(&c->sink, path, buf, len);
}

/* The corpus directory: $WK_CORPUS, ../shared/corpus, or ../../shared/corpus (worktrees). */
static inline const char *au_corpus(void)
{
    static char path[4096];
    struct stat st;
    const char *c = wk_test_corpus();
    if (stat(c, &st) == 0)
        return c;
    snprintf(path, sizeof(path), "%s/../../shared/corpus", wk_test_srcdir());
    if (stat(path, &st) == 0)
        return path;
    WK_SKIP("corpus not found (set WK_CORPUS)");
}

static inline char *au_read_corpus(const char *rel, size_t *len)
{
    char path[8192];
    snprintf(path, sizeof(path), "%s/auditd/%s", au_corpus(), rel);
    return wk_test_read_file(path, len);
}

#endif
