/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rebuild callbacks of the store's cold tier (docs/store.md, "Rebuild values"): one
 * table entry per event.module, registered at startup, and the shared step that runs a
 * fresh parser over one stored event's original.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "watchkeeper/rebuild.h"
#include "watchkeeper/store.h"

int wk__auditd_rebuild(const struct wk_event *ctx, const char *orig, size_t len,
                       struct wk_event *out);
int wk__docker_rebuild(const struct wk_event *ctx, const char *orig, size_t len,
                       struct wk_event *out);
int wk__clog_rebuild(const struct wk_event *ctx, const char *orig, size_t len,
                     struct wk_event *out);

struct cap_sink {
    struct wk_parser_sink s;
    struct wk_event *out;
    unsigned n;
    bool owned; /* the parser's events may be taken (parser.h emits_owned) */
};

static int cap_emit(struct wk_parser_sink *sk, struct wk_event *ev, uint64_t resume)
{
    (void)resume;
    struct cap_sink *c = (struct cap_sink *)sk;
    if (c->n++)
        return 0;
    if (c->owned) { /* (a copy was 8% of a rebuild) */
        wk_event_swap(c->out, ev);
        return 0;
    }
    return wk_event_copy(c->out, ev);
}

static int cap_reject(struct wk_parser_sink *sk, const struct wk_line_ctx *where,
                      const char *reason, const char *raw, size_t len)
{
    (void)sk, (void)where, (void)reason, (void)raw, (void)len;
    return 0;
}

int wk_collector_rebuild_parse(const struct wk_parser_ops *ops, const struct wk_event *ctx,
                               const char *orig, size_t len, struct wk_event *out)
{
    const struct wk_key k_path = wk_key_init("log.file.path"), k_off = wk_key_init("log.offset");
    size_t hl = 0, pl = 0;
    const char *h = wk_event_get_str(ctx, &WK_KEY_HOST_NAME, &hl);
    const char *path = wk_event_get_str(ctx, &k_path, &pl);
    const struct wk_value *off = wk_event_get(ctx, 0, &k_off);
    char host[256];
    if (h && hl >= sizeof(host))
        return -EINVAL;
    if (h) {
        memcpy(host, h, hl);
        host[hl] = 0;
    }
    struct wk_parser_opts po;
    wk_parser_opts_init(&po);
    po.host = h ? host : NULL;
    struct wk_parser *p;
    int rc = ops->create(&p, &po);
    if (rc < 0)
        return rc;
    struct wk_line_ctx where = {path, 1, off && off->kind == WK_VAL_INT ? (uint64_t)off->u.i : 0};
    struct cap_sink sink = {{cap_emit, cap_reject}, out, 0, ops->emits_owned};
    for (size_t at = 0; at <= len && rc >= 0;) {
        const char *nl = memchr(orig + at, '\n', len - at);
        size_t l = nl ? (size_t)(nl - (orig + at)) : len - at;
        rc = ops->feed_line(p, orig + at, l, &where, &sink.s);
        where.offset += l + 1;
        where.lineno++;
        at += l + 1;
    }
    if (rc >= 0)
        rc = ops->flush(p, &sink.s);
    ops->destroy(p);
    if (rc < 0)
        return rc;
    return sink.n == 1 ? 0 : -EINVAL;
}

static const char *const ctx_host[] = {"host.name", NULL};
static const char *const ctx_clog[] = {"host.name", "log.origin.format", "log.file.path",
                                       "log.offset", NULL};

/* Selective reads (docs/store.md, "Selective reads"): where each parser's rebuilt text of
 * a field comes from. auditd derives most of its fields (names from numbers, decoded hex,
 * joined arguments): only the key is claimed. docker and clog copy JSON strings, the
 * Action's parts and the log path's parts as they are, so every field is claimed but
 * those they derive or build from several places (a reassembled CRI message and what is
 * parsed out of it, split arguments, constants); a field a parser never sets satisfies
 * any claim. The reader never takes a claim for a value that may be stored as a number,
 * boolean, null or JSON text. test_store_rebuild.c checks every claim on the corpus' and
 * generated events. */
static bool named(const char *f, const char *const *names)
{
    for (; *names; names++) {
        size_t n = strlen(*names);
        if ((*names)[n - 1] == '.' ? strncmp(f, *names, n) == 0 : strcmp(f, *names) == 0)
            return true;
    }
    return false;
}

static unsigned auditd_forms(const char *f)
{
    /* the key= field: quoted text, or hex (either case) when it holds a space, a quote, a
     * control or non-ASCII byte; several keys are one value joined by 0x01, whose hex
     * holds each key's hex (normalize.c, decode.c) */
    static const char *const keys[] = {"auditd.key", "tags", NULL};
    return named(f, keys) ? WK_STORE_FORM_TEXT | WK_STORE_FORM_HEX : 0;
}

static unsigned docker_forms(const char *f)
{
    /* JSON strings as they are unless an escape stands for a byte (docker_events.c:
     * add_jstr, the Action's verb and command line, passed-through keys); the split
     * arguments lose quotes, module and kind are constants */
    static const char *const derived[] = {"event.module", "event.kind", "process.args",
                                          "process.executable", NULL};
    return named(f, derived) ? 0 : WK_STORE_FORM_TEXT | WK_STORE_FORM_ESCAPED;
}

static unsigned clog_forms(const char *f)
{
    /* the stream, and the container id and kubernetes names copied from the log path (a
     * context string: clog_parse.c wk__jsonfile_path_id, wk__cri_path_parse); a message
     * may be reassembled from several lines, and so may what is parsed out of it */
    static const char *const derived[] = {"event.module", "event.kind", "event.action",
                                          "message", "app.", "docker.attrs.", NULL};
    return named(f, derived) ? 0 : WK_STORE_FORM_TEXT | WK_STORE_FORM_ESCAPED;
}

/* auditd's version 1 output was version 2's without WK_VALF_LITERAL (rebuild.h): values
 * of both versions are read. */
static const struct wk_store_rebuild_ops table[] = {
    {"auditd", ctx_host, wk__auditd_rebuild, WK_REBUILD_AUDITD_VERSION, auditd_forms,
     WK_REBUILD_AUDITD_MIN_VERSION, WK_VALF_LITERAL},
    {"docker", ctx_host, wk__docker_rebuild, WK_REBUILD_DOCKER_VERSION, docker_forms, 0, 0},
    {"clog", ctx_clog, wk__clog_rebuild, WK_REBUILD_CLOG_VERSION, clog_forms, 0, 0},
};

const struct wk_store_rebuild_ops *wk_collector_rebuild_ops(const char *module)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcmp(table[i].module, module) == 0)
            return &table[i];
    }
    return NULL;
}

int wk_collector_rebuild_register(void)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        int rc = wk_store_rebuild_register(&table[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
