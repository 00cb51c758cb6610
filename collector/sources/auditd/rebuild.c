/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The auditd source's rebuild for the store's cold tier: a fresh parser over one stored
 * event's original lines, with user and group ids left as numbers (no lookup of this
 * machine's users: the reader may be another machine; the names are in the edit script).
 */
#include "config.h"

#include "auditd_private.h"
#include "watchkeeper/rebuild.h"

_Thread_local bool wk__au_rebuilding;

extern const struct wk_parser_ops wk_parser_auditd;

int wk__auditd_rebuild(const struct wk_event *ctx, const char *orig, size_t len,
                       struct wk_event *out);

int wk__auditd_rebuild(const struct wk_event *ctx, const char *orig, size_t len,
                       struct wk_event *out)
{
    wk__au_rebuilding = true;
    int rc = wk_collector_rebuild_parse(&wk_parser_auditd, ctx, orig, len, out);
    wk__au_rebuilding = false;
    return rc;
}
