/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container-log source's rebuild for the store's cold tier: the parser of the event's
 * log.origin.format (cri or json-file) over its original line(s), with its log path and
 * offset (kubernetes.* and container.id follow from the path).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "watchkeeper/rebuild.h"

extern const struct wk_parser_ops wk_parser_cri, wk_parser_json_file;

int wk__clog_rebuild(const struct wk_event *ctx, const char *orig, size_t len,
                     struct wk_event *out);

int wk__clog_rebuild(const struct wk_event *ctx, const char *orig, size_t len,
                     struct wk_event *out)
{
    const struct wk_key k_fmt = wk_key_init("log.origin.format");
    size_t fl;
    const char *f = wk_event_get_str(ctx, &k_fmt, &fl);
    if (f && fl == 3 && memcmp(f, "cri", 3) == 0)
        return wk_collector_rebuild_parse(&wk_parser_cri, ctx, orig, len, out);
    if (f && fl == 9 && memcmp(f, "json-file", 9) == 0)
        return wk_collector_rebuild_parse(&wk_parser_json_file, ctx, orig, len, out);
    return -EINVAL;
}
