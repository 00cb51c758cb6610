/* SPDX-License-Identifier: Apache-2.0 */
/* The "jsonl" format: one already-normalized event per line, in the event's JSON form
 * (docs/event.md) — what `query --format jsonl` prints. Blank lines are skipped. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "watchkeeper/event.h"
#include "watchkeeper/mem.h"
#include "watchkeeper/parser.h"

struct wk_parser {
    struct wk_event *ev;
    struct wk_parser_opts opts;
};

static int jsonl_detect(const char *buf, size_t len, const char *path)
{
    /* The event form starts with "@timestamp" (what we write); plain JSON objects with
     * an "event" member are likely too, but other JSON formats score higher for theirs. */
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t'))
        i++;
    if (i >= len || buf[i] != '{')
        return 0;
    if (len - i > 14 && memcmp(buf + i, "{\"@timestamp\":", 14) == 0)
        return 90;
    const char *nl = memchr(buf + i, '\n', len - i);
    size_t l = nl ? (size_t)(nl - (buf + i)) : len - i;
    if (memmem(buf + i, l, "\"event\":{", 9) || memmem(buf + i, l, "\"@timestamp\"", 12))
        return 60;
    return 10;
}

static int jsonl_create(struct wk_parser **out, const struct wk_parser_opts *opts)
{
    struct wk_parser *p = wk_new0(struct wk_parser, 1);
    if (!p)
        return -ENOMEM;
    if (wk_event_new(&p->ev) < 0) {
        free(p);
        return -ENOMEM;
    }
    p->opts = *opts;
    *out = p;
    return 0;
}

static int jsonl_feed(struct wk_parser *p, const char *line, size_t len,
                      const struct wk_line_ctx *where, struct wk_parser_sink *sink)
{
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
    if (i == len)
        return 0;
    const char *err = NULL;
    if (wk_event_from_json(p->ev, line, len, &err) < 0)
        return sink->reject(sink, where, err, line, len);
    if (p->opts.host && !wk_event_get(p->ev, 0, &WK_KEY_HOST_NAME)) {
        int rc = wk_event_add_str(p->ev, 0, &WK_KEY_HOST_NAME, p->opts.host, strlen(p->opts.host));
        if (rc < 0)
            return rc;
    }
    return sink->emit(sink, p->ev, where ? where->offset + len + 1 : 0);
}

static int jsonl_flush(struct wk_parser *p, struct wk_parser_sink *sink)
{
    (void)p;
    (void)sink;
    return 0;
}

static void jsonl_destroy(struct wk_parser *p)
{
    if (!p)
        return;
    wk_event_free(p->ev);
    free(p);
}

const struct wk_parser_ops wk_parser_jsonl = {
    .version = WK_PARSER_OPS_V1,
    .name = "jsonl",
    .description = "normalized events, one JSON object per line (what query --format jsonl prints)",
    .detect = jsonl_detect,
    .create = jsonl_create,
    .feed_line = jsonl_feed,
    .flush = jsonl_flush,
    .destroy = jsonl_destroy,
    .emits_owned = true,
};
