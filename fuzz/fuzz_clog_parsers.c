/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: any bytes, split in lines, through the json-file, cri and docker-events
 * parsers with a small max_message (reassembly and truncation paths). Must not crash, leak
 * or emit an event that fails to serialise. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "watchkeeper/event.h"
#include "watchkeeper/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    (void)s;
    (void)resume;
    char *js = NULL;
    if (wk_event_to_json(ev, &js, NULL) < 0)
        abort();
    free(js);
    return 0;
}

static int reject(struct wk_parser_sink *s, const struct wk_line_ctx *w, const char *why,
                  const char *raw, size_t len)
{
    (void)s, (void)w, (void)why, (void)raw, (void)len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const fmts[] = {"json-file", "cri", "docker-events"};
    static const char *const paths[] = {
        "/var/lib/docker/containers/"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef-json.log",
        "/var/log/pods/ns_pod_uid/ctr/0.log",
        "events.jsonl",
    };
    struct wk_parser_sink sink = {emit, reject};
    for (size_t f = 0; f < 3; f++) {
        const struct wk_parser_ops *ops = wk_parser_find(fmts[f]);
        struct wk_parser_opts opts;
        wk_parser_opts_init(&opts);
        opts.max_message = 64;
        struct wk_parser *p = NULL;
        if (ops->create(&p, &opts) < 0)
            abort();
        size_t off = 0, ln = 0;
        while (off < size) {
            const uint8_t *nl = memchr(data + off, '\n', size - off);
            size_t l = nl ? (size_t)(nl - (data + off)) : size - off;
            struct wk_line_ctx w = {paths[f], ++ln, off};
            ops->feed_line(p, (const char *)data + off, l, &w, &sink);
            off += l + 1;
        }
        ops->flush(p, &sink);
        ops->destroy(p);
    }
    return 0;
}
