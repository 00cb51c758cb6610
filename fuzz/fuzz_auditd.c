/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: any bytes, split into lines, through the auditd parser (lexing, decoding,
 * assembly, normalization, attribution); every event must serialise to JSON and parse back
 * equal (but for the flags JSON does not carry). Rejects are fine, crashes and leaks are not. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "watchkeeper/event.h"
#include "watchkeeper/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int f_emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    static struct wk_event *back;
    char *json = NULL;
    size_t len = 0;
    (void)s;
    (void)resume;
    if (!back && wk_event_new(&back) < 0)
        abort();
    if (wk_event_to_json(ev, &json, &len) < 0)
        abort();
    /* (the JSON form has no WK_VALF_LITERAL: the values the parser made) */
    if (wk_event_from_json(back, json, len, NULL) < 0 ||
        !wk_event_equal_but(ev, back, WK_VALF_LITERAL))
        abort();
    free(json);
    return 0;
}

static int f_reject(struct wk_parser_sink *s, const struct wk_line_ctx *w, const char *reason,
                    const char *raw, size_t len)
{
    (void)s, (void)w, (void)reason, (void)raw, (void)len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct wk_parser_ops *ops = wk_parser_find("auditd");
    struct wk_parser_opts opts;
    struct wk_parser *p = NULL;
    struct wk_parser_sink sink = { f_emit, f_reject };
    wk_parser_opts_init(&opts);
    opts.max_line = 1 << 16;
    if (ops->create(&p, &opts) < 0)
        abort();
    const char *s = (const char *)data, *end = s + size;
    uint64_t lineno = 0;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *le = nl ? nl : end;
        struct wk_line_ctx where = { "fuzz", ++lineno, (uint64_t)(s - (const char *)data) };
        (void)ops->feed_line(p, s, (size_t)(le - s), &where, &sink);
        s = le + 1;
    }
    (void)ops->tick(p, INT64_MAX / 2, &sink);
    (void)ops->flush(p, &sink);
    ops->destroy(p);
    return 0;
}
