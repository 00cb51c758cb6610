/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The docker source's rebuild for the store's cold tier: the docker-events parser over one
 * stored event's original (a line of the Engine API's event stream).
 */
#include "config.h"

#include "watchkeeper/rebuild.h"

extern const struct wk_parser_ops wk_parser_docker_events;

int wk__docker_rebuild(const struct wk_event *ctx, const char *orig, size_t len,
                       struct wk_event *out);

int wk__docker_rebuild(const struct wk_event *ctx, const char *orig, size_t len,
                       struct wk_event *out)
{
    return wk_collector_rebuild_parse(&wk_parser_docker_events, ctx, orig, len, out);
}
