/* SPDX-License-Identifier: Apache-2.0 */
/* Test helper: run a parser over a file or a buffer and collect its output as text: one
 * line per event (its JSON form, event.original left out unless asked) or reject. */
#ifndef WK_CLOG_TEST_UTIL_H
#define WK_CLOG_TEST_UTIL_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "watchkeeper/event.h"
#include "watchkeeper/parser.h"
#include "wk_test.h"

struct run_out {
    struct wk_parser_sink sink;
    char *text;
    size_t len;
    int events, rejects;
    uint64_t last_resume;
    bool keep_original;
};

static void out_add(struct run_out *o, const char *s, size_t n)
{
    o->text = realloc(o->text, o->len + n + 2);
    memcpy(o->text + o->len, s, n);
    o->len += n;
    o->text[o->len++] = '\n';
    o->text[o->len] = '\0';
}

static int out_emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    struct run_out *o = (struct run_out *)s;
    struct wk_event *cp = NULL;
    WK_ASSERT_OK(wk_event_new(&cp));
    WK_ASSERT_OK(wk_event_copy(cp, ev));
    if (!o->keep_original) {
        /* Rebuild without event.original (it is checked separately). */
        struct wk_event *n = NULL;
        WK_ASSERT_OK(wk_event_new(&n));
        wk_event_set_ts(n, wk_event_ts(cp));
        for (size_t i = 0; i < wk_event_nfields(cp); i++) {
            const struct wk_key *k = wk_event_field_key(cp, i);
            if (strcmp(k->name, "event.original") == 0)
                continue;
            WK_ASSERT_OK(wk_event_add_value(n, 0, k, wk_event_field_dots(cp, i),
                                            wk_event_field_value(cp, i)));
            if (wk_event_field_value(cp, i)->flags)
                wk_event_flag_last(n, wk_event_field_value(cp, i)->flags);
        }
        wk_event_free(cp);
        cp = n;
    }
    char *js = NULL;
    size_t jl = 0;
    WK_ASSERT_OK(wk_event_to_json(cp, &js, &jl));
    out_add(o, js, jl);
    free(js);
    wk_event_free(cp);
    o->events++;
    o->last_resume = resume;
    return 0;
}

static int out_reject(struct wk_parser_sink *s, const struct wk_line_ctx *where, const char *reason,
                      const char *raw, size_t len)
{
    struct run_out *o = (struct run_out *)s;
    (void)raw;
    (void)len;
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "REJECT line %llu: %s",
                     (unsigned long long)(where ? where->lineno : 0), reason);
    out_add(o, buf, (size_t)n);
    o->rejects++;
    return 0;
}

/* Feed buf (lines split on '\n') through parser `name` with path `path`. */
static void run_buf(struct run_out *o, const char *name, const struct wk_parser_opts *opts,
                    const char *path, const char *buf, size_t len)
{
    const struct wk_parser_ops *ops = wk_parser_find(name);
    WK_ASSERT(ops != NULL);
    struct wk_parser *p = NULL;
    WK_ASSERT_OK(ops->create(&p, opts));
    o->sink.emit = out_emit;
    o->sink.reject = out_reject;
    uint64_t off = 0, lineno = 0;
    while (off < len) {
        const char *nl = memchr(buf + off, '\n', len - off);
        size_t l = nl ? (size_t)(nl - (buf + off)) : len - off;
        struct wk_line_ctx where = {path, ++lineno, off};
        WK_ASSERT_OK(ops->feed_line(p, buf + off, l, &where, &o->sink));
        off += l + 1;
    }
    WK_ASSERT_OK(ops->flush(p, &o->sink));
    ops->destroy(p);
}

static void run_file(struct run_out *o, const char *name, const struct wk_parser_opts *opts,
                     const char *rel, const char *as_path)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", wk_test_corpus(), rel);
    size_t len = 0;
    char *buf = wk_test_read_file(path, &len);
    run_buf(o, name, opts, as_path ? as_path : rel, buf, len);
    free(buf);
}

#endif
