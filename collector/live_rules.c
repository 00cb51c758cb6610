/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rule engine (rule.h) as the pipeline's live-rules hook: one immutable ruleset and the
 * writer thread's scratch. A reload builds a new hook and the pipeline swaps it whole.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "watchkeeper/daemon.h"
#include "watchkeeper/error.h"
#include "watchkeeper/jsonw.h"
#include "watchkeeper/mem.h"
#include "watchkeeper/rule.h"

int (*wk_daemon_rules_loader)(const struct wk_config_rules *cfg, struct wk_rules_hook *out,
                              char *err, size_t errlen) = wk_live_rules_load;

struct live {
    struct wk_ruleset *rs;
    struct wk_rule_scratch *sc;
    struct wk_strv disable;
    /* the alerts' text is written here (the writer thread's): the event's scratch is kept
     * from alert to alert, and a buffer as large as the last one is ready for the next */
    struct wk_jsonw w;
};

/* A writer grown past this by one huge alert gives its memory back after it. */
#define KEEP_MAX (1u << 20)

struct emit_ctx {
    struct live *lv;
    int (*emit)(void *arg, json_t *alert);
    int (*emit_text)(void *arg, char *json, size_t len, int level);
    void *arg;
};

static int level_num(const char *s)
{
    static const char *const levels[] = { "informational", "low", "medium", "high",
                                          "critical" };
    for (int i = 0; s && i < (int)WK_ARRAY_SIZE(levels); i++) {
        if (strcmp(s, levels[i]) == 0)
            return i;
    }
    return 0;
}

static int on_alert(const struct wk_alert *a, void *data)
{
    struct emit_ctx *e = data;
    for (size_t i = 0; a->info && a->info->id && i < e->lv->disable.n; i++) {
        if (strcmp(a->info->id, e->lv->disable.v[i]) == 0)
            return 0;
    }
    struct wk_jsonw *w = &e->lv->w;
    wk_jsonw_reset(w);
    int rc = wk_alert_to_jsonw(a, w);
    json_t *o = NULL;
    char *text = NULL;
    size_t len = w->len;
    if (rc == 0 && e->emit_text) {
        /* the text is handed over in its own buffer cut to size (a shrinking realloc
         * stays in place), and the writer gets a buffer as large: no copy */
        text = realloc(w->p, len + 1);
        if (!text)
            text = w->p;
        w->p = w->cap <= KEEP_MAX ? malloc(w->cap) : NULL;
        if (!w->p)
            w->cap = 0;
        w->len = 0;
    } else if (rc == 0) {
        o = json_loadb(w->p, len, 0, NULL);
    }
    if (w->cap > KEEP_MAX) {
        wk_jsonw_fini(w);
        wk_jsonw_init(w);
    }
    if (rc < 0)
        return rc;
    if (e->emit_text)
        return text ? e->emit_text(e->arg, text, len, level_num(a->info ? a->info->level : NULL))
                    : -ENOMEM;
    if (!o)
        return -ENOMEM;
    return e->emit(e->arg, o);
}

static int live_eval(void *ctx, const struct wk_event *ev, int (*emit)(void *, json_t *),
                     void *arg)
{
    struct live *lv = ctx;
    struct emit_ctx e = { lv, emit, NULL, arg };
    int rc = wk_ruleset_eval(lv->rs, lv->sc, ev, on_alert, &e);
    return rc < 0 ? rc : 0;
}

/* The alert text as the engine wrote it goes straight to the store and the outputs. */
static int live_eval_text(void *ctx, const struct wk_event *ev,
                          int (*emit)(void *, char *, size_t, int), void *arg)
{
    struct live *lv = ctx;
    struct emit_ctx e = { lv, NULL, emit, arg };
    int rc = wk_ruleset_eval(lv->rs, lv->sc, ev, on_alert, &e);
    return rc < 0 ? rc : 0;
}

static void live_free(void *ctx)
{
    struct live *lv = ctx;
    if (!lv)
        return;
    wk_rule_scratch_free(lv->sc);
    wk_ruleset_unref(lv->rs);
    wk_strv_clear(&lv->disable);
    wk_jsonw_fini(&lv->w);
    free(lv);
}

/* Correlation windows survive a reload: saved from the old scratch, restored into the new
 * one (correlations are matched by id/title; state of removed rules is dropped). */
static void live_carry(void *ctx, void *from_ctx)
{
    struct live *to = ctx, *from = from_ctx;
    char *text = NULL;
    size_t len = 0;
    if (wk_rule_scratch_save(from->sc, &text, &len) == 0)
        (void)wk_rule_scratch_restore(to->sc, text, len);
    free(text);
}

static int live_save(void *ctx, char **out, size_t *len)
{
    struct live *lv = ctx;
    return wk_rule_scratch_save(lv->sc, out, len);
}

static int live_restore(void *ctx, const char *text, size_t len)
{
    struct live *lv = ctx;
    return wk_rule_scratch_restore(lv->sc, text, len);
}

static bool has_file(const char *dir, const char *name, char *buf, size_t len)
{
    struct stat st;
    snprintf(buf, len, "%s/%s", dir, name);
    return stat(buf, &st) == 0 && S_ISREG(st.st_mode);
}

int wk_live_rules_load(const struct wk_config_rules *cfg, struct wk_rules_hook *out,
                       char *err, size_t errlen)
{
    struct wk_rule_loader *l = NULL;
    struct live *lv = wk_new0(struct live, 1);
    char path[4096];
    int rc = lv ? wk_rule_loader_new(&l) : -ENOMEM;
    if (rc < 0) {
        snprintf(err, errlen, "rules: %s", wk_strerror(rc));
        goto out;
    }
    /* The logsource mapping and placeholders come with the pack: the first directory
     * holding them. */
    const char *ls = NULL;
    for (size_t i = 0; i < cfg->dirs.n && !ls; i++) {
        if (has_file(cfg->dirs.v[i], "logsources.yaml", path, sizeof(path)))
            ls = path;
    }
    if (!ls) {
        rc = -ENOENT;
        snprintf(err, errlen, "rules: no logsources.yaml in any of rules.dirs");
        goto out;
    }
    rc = wk_rule_loader_logsources(l, ls);
    for (size_t i = 0; rc == 0 && i < cfg->dirs.n; i++) {
        if (has_file(cfg->dirs.v[i], "placeholders.yaml", path, sizeof(path))) {
            rc = wk_rule_loader_placeholders(l, path);
            break;
        }
    }
    for (size_t i = 0; rc >= 0 && i < cfg->dirs.n; i++) {
        rc = wk_rule_loader_add(l, cfg->dirs.v[i]);
        if (rc < 0)
            snprintf(err, errlen, "rules: %s: %s", cfg->dirs.v[i], wk_strerror(rc));
    }
    size_t nrej = wk_rule_loader_nrejects(l);
    if (nrej) {
        const struct wk_rule_reject *r = wk_rule_loader_reject(l, 0);
        snprintf(err, errlen, "rules: %s:%u:%u: %s (%zu rejected in all)", r->file, r->line,
                 r->col, r->msg, nrej);
        rc = WK_ERULE_SYNTAX;
        goto out;
    }
    if (rc < 0)
        goto out;
    rc = wk_rule_loader_build(l, &lv->rs);
    if (rc == 0)
        rc = wk_rule_scratch_new(&lv->sc, lv->rs, NULL);
    for (size_t i = 0; rc == 0 && i < cfg->disable.n; i++)
        rc = wk_strv_push(&lv->disable, cfg->disable.v[i]);
    if (rc < 0) {
        snprintf(err, errlen, "rules: %s", wk_strerror(rc));
        goto out;
    }
    memset(out, 0, sizeof(*out));
    out->eval = live_eval;
    out->eval_text = live_eval_text;
    out->free = live_free;
    out->carry = live_carry;
    out->save = live_save;
    out->restore = live_restore;
    out->nrules = wk_ruleset_nrules(lv->rs);
    out->ctx = lv;
    lv = NULL;
out:
    wk_rule_loader_free(l);
    live_free(lv);
    return rc < 0 ? rc : 0;
}
