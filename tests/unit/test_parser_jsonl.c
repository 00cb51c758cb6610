/* SPDX-License-Identifier: Apache-2.0 */
/* The jsonl parser and the parser registry. */
#include "config.h"

#include "watchkeeper/parser.h"
#include "wk_test.h"

struct collect {
    struct wk_parser_sink sink;
    int events;
    int rejects;
    uint64_t last_resume;
    char last_reason[256];
    uint64_t last_reject_line;
};

static int emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    struct collect *c = (struct collect *)s;
    (void)ev;
    c->events++;
    c->last_resume = resume;
    return 0;
}

static int reject(struct wk_parser_sink *s, const struct wk_line_ctx *where, const char *reason,
                  const char *raw, size_t len)
{
    struct collect *c = (struct collect *)s;
    (void)raw;
    (void)len;
    c->rejects++;
    snprintf(c->last_reason, sizeof(c->last_reason), "%s", reason);
    c->last_reject_line = where->lineno;
    return 0;
}

WK_TEST(registry_finds_and_detects)
{
    WK_ASSERT(wk_parser_find("jsonl") != NULL);
    WK_ASSERT(wk_parser_find("nope") == NULL);
    const char *in = "{\"@timestamp\":\"2024-01-01T00:00:00Z\",\"message\":\"x\"}\n";
    WK_ASSERT(wk_parser_detect(in, strlen(in), "x.jsonl") == wk_parser_find("jsonl"));
    WK_ASSERT(wk_parser_detect("hello world\n", 12, "x.txt") == NULL);
}

WK_TEST(feeds_lines_rejects_bad_ones)
{
    const struct wk_parser_ops *ops = wk_parser_find("jsonl");
    struct wk_parser_opts opts;
    struct wk_parser *p = NULL;
    struct collect c = { { emit, reject }, 0, 0, 0, "", 0 };
    wk_parser_opts_init(&opts);
    WK_ASSERT_OK(ops->create(&p, &opts));
    const char *lines[] = { "{\"@timestamp\":\"2024-01-01T00:00:00Z\",\"message\":\"a\"}", "",
                            "{\"message\":", "{\"message\":\"b\"}" };
    uint64_t off = 0;
    for (size_t i = 0; i < 4; i++) {
        struct wk_line_ctx where = { "in.jsonl", i + 1, off };
        WK_ASSERT_OK(ops->feed_line(p, lines[i], strlen(lines[i]), &where, &c.sink));
        off += strlen(lines[i]) + 1;
    }
    WK_ASSERT_OK(ops->flush(p, &c.sink));
    WK_ASSERT_INT_EQ(c.events, 2);
    WK_ASSERT_INT_EQ(c.rejects, 1);
    WK_ASSERT_UINT_EQ(c.last_reject_line, 3);
    WK_ASSERT_STR_EQ(c.last_reason, "invalid JSON at column 11: unexpected token near end of file");
    WK_ASSERT_UINT_EQ(c.last_resume, off);
    ops->destroy(p);
}
