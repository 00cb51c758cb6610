/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guard of the rebuild versions (docs/store.md, "Rebuild versions"): each module's
 * rebuild is run over every event of the corpus' inputs of its source, and a digest of
 * the exact record bytes it reproduces is compared with the one recorded beside the
 * module's version constant (include/watchkeeper/rebuild.h). A parser change that alters
 * what a rebuild gives fails here, so it cannot silently make stored values unreadable.
 */
#include "config.h"

#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../store/store_private.h"
#include "auditd_util.h"
#include "watchkeeper/event.h"
#include "watchkeeper/parser.h"
#include "watchkeeper/rebuild.h"
#include "watchkeeper/store.h"
#include "wk_test.h"

struct guard {
    struct wk_parser_sink sink;
    const struct wk_store_rebuild_ops *ops;
    crypto_generichash_state h;
    struct wk_event *ctx, *out;
    struct wk__buf desc, vals;
    size_t events, failed;
    uint8_t clear; /* value flags cleared on the rebuilt fields (an older version's output) */
    struct wk_event *cleared;
};

static void absorb(struct guard *g, const void *p, size_t len)
{
    uint8_t l[8];
    wk__put_u64le(l, len);
    crypto_generichash_update(&g->h, l, 8);
    crypto_generichash_update(&g->h, p, len);
}

/* Rebuild one parsed event as the reader does (its original, its context fields) and add
 * the reproduced event's format-2 bytes (descriptor, values) and timestamp to the digest. */
static int guard_emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    (void)resume;
    struct guard *g = (struct guard *)s;
    size_t ml, olen;
    const char *m = wk_event_get_str(ev, &WK_KEY_EVENT_MODULE, &ml);
    const char *orig = wk_event_get_str(ev, &WK_KEY_EVENT_ORIGINAL, &olen);
    if (!m || !orig || ml != strlen(g->ops->module) || memcmp(m, g->ops->module, ml) != 0)
        return 0;
    wk_event_reset(g->ctx);
    for (size_t i = 0; g->ops->context && g->ops->context[i]; i++) {
        struct wk_key k = wk_key_init(g->ops->context[i]);
        const struct wk_value *v = wk_event_get(ev, 0, &k);
        if (v && v->kind == WK_VAL_STR)
            WK_ASSERT_INT_EQ(wk_event_add_str(g->ctx, 0, &k, v->u.s, v->len), 0);
        else if (v && v->kind == WK_VAL_INT)
            WK_ASSERT_INT_EQ(wk_event_add_int(g->ctx, 0, &k, v->u.i), 0);
    }
    wk_event_reset(g->out);
    int rc = g->ops->rebuild(g->ctx, orig, olen, g->out);
    g->events++;
    if (rc < 0) {
        g->failed++;
        absorb(g, "failed", 6);
        return 0;
    }
    const struct wk_event *out = g->out;
    if (g->clear) { /* as the store reads a value of an older version (min_version) */
        struct wk_event *c = g->cleared;
        wk_event_reset(c);
        wk_event_set_ts(c, wk_event_ts(out));
        for (unsigned r = 0; r < wk_event_nrecords(out); r++)
            WK_ASSERT(wk_event_add_record(c) > 0);
        for (size_t i = 0; i < wk_event_nfields(out); i++) {
            struct wk_value v = *wk_event_field_value(out, i);
            v.flags &= (uint8_t)~g->clear;
            WK_ASSERT_INT_EQ(wk_event_add_value(c, v.rec, wk_event_field_key(out, i),
                                                wk_event_field_dots(out, i), &v),
                             0);
        }
        out = c;
    }
    g->desc.len = g->vals.len = 0;
    WK_ASSERT_INT_EQ(wk__enc2_event(&g->desc, &g->vals, out), 0);
    uint8_t ts[8];
    wk__put_u64le(ts, (uint64_t)wk_event_ts(out));
    absorb(g, ts, 8);
    absorb(g, g->desc.p, g->desc.len);
    absorb(g, g->vals.p, g->vals.len);
    return 0;
}

static int guard_reject(struct wk_parser_sink *s, const struct wk_line_ctx *where,
                        const char *reason, const char *raw, size_t len)
{
    (void)s, (void)where, (void)reason, (void)raw, (void)len;
    return 0;
}

/* One file through parser `parser`, its path given as rel (so that the digest does not
 * depend on where the corpus is). */
static void feed(struct guard *g, const char *parser, const char *path, const char *rel)
{
    au_feed_file(parser, path, rel, &g->sink);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file under corpus/sub (recursively, in name order) whose name ends with suffix. */
static size_t feed_tree(struct guard *g, const char *parser, const char *sub, const char *suffix)
{
    char dir[8192];
    snprintf(dir, sizeof(dir), "%s/%s", wk_test_corpus(), sub);
    DIR *d = opendir(dir);
    WK_ASSERT(d);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, files = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        names = realloc(names, (n + 1) * sizeof(*names));
        WK_ASSERT(names);
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        char path[16384], rel[8192];
        struct stat sb;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        snprintf(rel, sizeof(rel), "%s/%s", sub, names[i]);
        size_t nl = strlen(names[i]), sl = strlen(suffix);
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            files += feed_tree(g, parser, rel, suffix);
        } else if (nl > sl && strcmp(names[i] + nl - sl, suffix) == 0) {
            feed(g, parser, path, rel);
            files++;
        }
        free(names[i]);
    }
    free(names);
    return files;
}

struct input {
    const char *parser, *sub, *suffix;
};

/* The module's digest over its inputs (the value flags clear cleared on the rebuilt
 * fields): 16 hex digits into hex. */
static size_t digest(const char *module, const struct input *in, size_t nin, uint8_t clear,
                     char hex[17])
{
    struct guard g = {.sink = {guard_emit, guard_reject}, .clear = clear};
    g.ops = wk_collector_rebuild_ops(module);
    WK_ASSERT(g.ops);
    WK_ASSERT_INT_EQ(wk_event_new(&g.ctx), 0);
    WK_ASSERT_INT_EQ(wk_event_new(&g.out), 0);
    WK_ASSERT_INT_EQ(wk_event_new(&g.cleared), 0);
    crypto_generichash_init(&g.h, NULL, 0, 32);
    for (size_t i = 0; i < nin; i++)
        WK_ASSERT(feed_tree(&g, in[i].parser, in[i].sub, in[i].suffix) > 0);
    uint8_t h[32];
    crypto_generichash_final(&g.h, h, 32);
    sodium_bin2hex(hex, 17, h, 8);
    wk_event_free(g.ctx);
    wk_event_free(g.out);
    wk_event_free(g.cleared);
    wk__buf_fini(&g.desc);
    wk__buf_fini(&g.vals);
    printf("# %s%s: %zu events rebuilt (%zu failed), digest %s\n", module,
           clear ? " (flags cleared)" : "", g.events, g.failed, hex);
    WK_ASSERT(g.events > 20);
    return g.events;
}

static void guard(const char *module, const char *upper, unsigned version, const char *want,
                  const struct input *in, size_t nin)
{
    char got[17];
    size_t n = digest(module, in, nin, 0, got);
    if (strcmp(got, want) != 0)
        WK_FAIL("the %s rebuild of the corpus changed (%zu events: digest %s, recorded %s for "
                "version %u): its parser turns some original into other fields now. Bump "
                "WK_REBUILD_%s_VERSION to %u and set WK_REBUILD_%s_DIGEST to \"%s\" "
                "(include/watchkeeper/rebuild.h); stores holding rebuild values of version "
                "%u then need `watchkeeper compact --expand` run by the old binary before the "
                "upgrade (docs/store.md, \"Rebuild versions\")",
                module, n, got, want, version, upper, version + 1, upper, got, version);
}

WK_TEST(auditd_rebuild_matches_its_version)
{
    static const struct input in[] = {{"auditd", "auditd", ".log"}};
    guard("auditd", "AUDITD", WK_REBUILD_AUDITD_VERSION, WK_REBUILD_AUDITD_DIGEST, in, 1);
}

WK_TEST(docker_rebuild_matches_its_version)
{
    static const struct input in[] = {{"docker-events", "docker-events", ".jsonl"}};
    guard("docker", "DOCKER", WK_REBUILD_DOCKER_VERSION, WK_REBUILD_DOCKER_DIGEST, in, 1);
}

WK_TEST(clog_rebuild_matches_its_version)
{
    static const struct input in[] = {{"cri", "cri", ".log"}, {"json-file", "json-file", ".log"}};
    guard("clog", "CLOG", WK_REBUILD_CLOG_VERSION, WK_REBUILD_CLOG_DIGEST, in, 2);
}

/* The older auditd version this binary still reads (min_version, docs/store.md "Rebuild
 * versions"): version 1's output was version 2's without WK_VALF_LITERAL. The rebuild with
 * new_flags cleared must give version 1's digest exactly, or values of version 1 would
 * read as damaged: then drop min_version (they need `compact --expand` by the old binary). */
WK_TEST(auditd_rebuild_reads_version_1_as_it_was)
{
    const struct wk_store_rebuild_ops *ops = wk_collector_rebuild_ops("auditd");
    WK_ASSERT_UINT_EQ(ops->min_version, WK_REBUILD_AUDITD_MIN_VERSION);
    WK_ASSERT_UINT_EQ(ops->min_version, 1);
    WK_ASSERT_UINT_EQ(ops->new_flags, WK_VALF_LITERAL);
    static const struct input in[] = {{"auditd", "auditd", ".log"}};
    char got[17];
    digest("auditd", in, 1, ops->new_flags, got);
    if (strcmp(got, WK_REBUILD_AUDITD_V1_DIGEST) != 0)
        WK_FAIL("the auditd rebuild with its new flags cleared gives digest %s, not version "
                "1's %s: it does not read values of version 1 (set min_version to %u)",
                got, WK_REBUILD_AUDITD_V1_DIGEST, WK_REBUILD_AUDITD_VERSION);
}

/* docker and clog read their own version only. */
WK_TEST(docker_and_clog_read_their_version_only)
{
    WK_ASSERT_UINT_EQ(wk_collector_rebuild_ops("docker")->min_version, 0);
    WK_ASSERT_UINT_EQ(wk_collector_rebuild_ops("clog")->min_version, 0);
}
