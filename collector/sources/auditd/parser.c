/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `auditd` input format (wk_parser_ops): audit.log lines, RAW or ENRICHED, with or
 * without node= prefixes, assembled into one event per (node, serial). `ingest --format
 * auditd` and the live sources (tail.c, audisp.c) all go through here.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "auditd_private.h"

void wk__au_keys_init(void);

int wk__auditd_parser_new(struct wk_parser **out, const struct wk_parser_opts *opts, bool live)
{
    struct wk_parser *p = wk_new0(struct wk_parser, 1);
    if (!p)
        return -ENOMEM;
    wk__au_keys_init();
    p->oldest = p->newest = WK_AU_NONE;
    p->opts = *opts;
    if (!p->opts.max_line)
        p->opts.max_line = 1u << 20;
    p->live = live;
    /* Live: auditd's end_of_event_timeout default (2 s) in stream time and by tick. Files:
     * records of one event may be far apart in a merged or sorted log, so only EOE, the
     * next serial (stand-alone types), the slot limit and the end of input close events. */
    p->timeout_ns = live ? 2000000000LL : INT64_MAX / 4;
    if (wk_event_new(&p->ev) < 0 || !(p->ids = wk__au_idcache_new()) ||
        !(p->attrib = wk__au_attrib_new(wk__au_rebuilding ? 8 : 8192, live))) { /* rebuild.c */
        wk_event_free(p->ev);
        wk__au_idcache_free(p->ids);
        free(p);
        return -ENOMEM;
    }
    *out = p;
    return 0;
}

static int au_create(struct wk_parser **out, const struct wk_parser_opts *opts)
{
    return wk__auditd_parser_new(out, opts, false);
}

static int au_detect(const char *buf, size_t len, const char *path)
{
    /* Score by how many of the first lines have a valid record header. */
    size_t good = 0, total = 0, i = 0;
    (void)path;
    while (i < len && total < 20) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t l = nl ? (size_t)(nl - (buf + i)) : len - i;
        if (!nl && total > 0)
            break; /* a cut last line says nothing */
        if (l) {
            struct wk__au_hdr h;
            const char *why;
            total++;
            good += wk__au_lex_header(buf + i, l, &h, &why) == 0;
        }
        i += l + 1;
    }
    if (!total || !good)
        return 0;
    return good == total ? 95 : (int)(good * 80 / total);
}

static int au_feed(struct wk_parser *p, const char *line, size_t len,
                   const struct wk_line_ctx *where, struct wk_parser_sink *sink)
{
    return wk__au_assemble(p, line, len, where, sink);
}

static int au_tick(struct wk_parser *p, int64_t now_ns, struct wk_parser_sink *sink)
{
    return wk__au_tick(p, now_ns, sink);
}

static int au_flush(struct wk_parser *p, struct wk_parser_sink *sink)
{
    return wk__au_flush(p, sink);
}

static void au_destroy(struct wk_parser *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < WK_AU_SLOTS; i++) {
        free(p->slots[i].buf);
        free(p->slots[i].recs);
    }
    wk_event_free(p->ev);
    wk__au_fields_fini(&p->fields);
    wk__au_idcache_free(p->ids);
    wk__au_attrib_free(p->attrib);
    free(p->args);
    free(p);
}

const struct wk_parser_ops wk_parser_auditd = {
    .version = WK_PARSER_OPS_V1,
    .name = "auditd",
    .description = "Linux audit logs (audit.log, RAW or ENRICHED, node= prefixes)",
    .detect = au_detect,
    .create = au_create,
    .feed_line = au_feed,
    .tick = au_tick,
    .flush = au_flush,
    .destroy = au_destroy,
    .emits_owned = true,
};
