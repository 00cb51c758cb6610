/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `watchkeeper run`: the collector daemon. One libuv loop owns the sources, the signals, the
 * local API and the systemd notifications; the pipeline's writer thread does the commits.
 * SIGHUP reloads the config and rules as one set (a bad set is rejected whole), SIGTERM and
 * SIGINT drain and commit within pipeline.drain_timeout, a second one exits at once (what
 * was committed is safe: each source resumes from its committed cursor).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if WK_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "daemon_private.h"
#include "pipeline_private.h"
#include "watchkeeper/daemon.h"
#include "watchkeeper/error.h"
#include "watchkeeper/log.h"
#include "watchkeeper/mem.h"
#include "watchkeeper/timefmt.h"
#include "watchkeeper/version.h"

/* A running source instance. */
struct running {
    struct running *next;
    struct wk_daemon *d;
    struct wk_source *src;
    const struct wk_source_ops *ops;
    char *name;
    void *cfg; /* a copy of its options, to compare on reload */
    char start_error[256];
    uint64_t rate_events; /* events at the last rate sample */
    int64_t rate_at;      /* when (mono ns) */
    double rate;          /* events/s over the last sample (about 1 s) */
};

struct wk_daemon {
    uv_loop_t loop;
    const struct wk_daemon_opts *opts;
    struct wk_config *cfg;
    const struct wk_backend_ops *backend;
    void *bctx;
    struct wk_pipeline *pl;
    struct running *sources;
    struct wk_api *api;
    uv_signal_t sig_hup, sig_term, sig_int, sig_usr1;
    uv_timer_t tick;   /* watchdog, --once progress, drain deadline */
    int64_t started_ns, drain_deadline;
    uint64_t watchdog_usec;
    int64_t last_watchdog;
    bool stopping, once_done;
    int once_quiet;
    uint64_t once_last;
    int exit_code;
    size_t nrules;
    char rules_error[512];
    uint64_t reloads, reload_failures;
};

static void notify(const char *state)
{
#if WK_HAVE_SYSTEMD
    (void)sd_notify(0, state);
#else
    (void)state;
#endif
}

/* ---- option tables: copy and compare (reload keeps unchanged sources running) ---- */

/* Whether option o has the same value in the config structs a and b. */
static bool opt_equal(const struct wk_option *o, const void *a, const void *b)
{
    const char *pa = (const char *)a + o->offset, *pb = (const char *)b + o->offset;
    switch (o->type) {
    case WK_OPT_BOOL:
        return *(const bool *)(const void *)pa == *(const bool *)(const void *)pb;
    case WK_OPT_INT:
    case WK_OPT_DURATION:
    case WK_OPT_SIZE:
        return memcmp(pa, pb, 8) == 0;
    case WK_OPT_STRING:
    case WK_OPT_PATH: {
        const char *sa = *(char *const *)(const void *)pa, *sb = *(char *const *)(const void *)pb;
        return (sa == NULL) == (sb == NULL) && (!sa || strcmp(sa, sb) == 0);
    }
    case WK_OPT_STRLIST: {
        const struct wk_strv *va = (const void *)pa, *vb = (const void *)pb;
        if (va->n != vb->n)
            return false;
        for (size_t i = 0; i < va->n; i++)
            if (strcmp(va->v[i], vb->v[i]) != 0)
                return false;
        return true;
    }
    case WK_OPT_END:
        break;
    }
    return true;
}

static bool opts_equal(const struct wk_option *t, const void *a, const void *b)
{
    for (const struct wk_option *o = t; o && o->type != WK_OPT_END; o++)
        if (!opt_equal(o, a, b))
            return false;
    return true;
}

static void *opts_dup(const struct wk_option *t, size_t size, const void *src)
{
    void *dst = calloc(1, size ? size : 1);
    if (!dst)
        return NULL;
    memcpy(dst, src, size);
    bool oom = false;
    for (const struct wk_option *o = t; o && o->type != WK_OPT_END; o++) {
        char *p = (char *)dst + o->offset;
        if (o->type == WK_OPT_STRING || o->type == WK_OPT_PATH) {
            char **s = (char **)(void *)p;
            if (*s && !(*s = strdup(*s)))
                oom = true;
        } else if (o->type == WK_OPT_STRLIST) {
            struct wk_strv *v = (struct wk_strv *)(void *)p, old = *v;
            v->v = NULL;
            v->n = 0;
            for (size_t i = 0; i < old.n; i++)
                if (wk_strv_push(v, old.v[i]) < 0)
                    oom = true;
        }
    }
    if (oom) {
        wk_options_fini(t, dst);
        free(dst);
        return NULL;
    }
    return dst;
}

/* ---- sources ---- */

static void running_free(struct running *r)
{
    if (!r)
        return;
    if (r->src)
        r->ops->destroy(r->src);
    if (r->cfg)
        wk_options_fini(r->ops->options, r->cfg);
    free(r->cfg);
    free(r->name);
    free(r);
}

/* Stop callbacks get only the source: we keep a tiny list of records being stopped. */
static struct running *stopping_list;

static void on_source_done(struct wk_source *src)
{
    struct running **pp = &stopping_list;
    while (*pp && (*pp)->src != src)
        pp = &(*pp)->next;
    if (!*pp)
        return;
    struct running *r = *pp;
    *pp = r->next;
    running_free(r);
}

static void source_stop(struct wk_daemon *d, struct running *r)
{
    if (!r->src) { /* a source that failed to start: nothing attached, nothing open */
        running_free(r);
        return;
    }
    wk__pipeline_detach(d->pl, r->src);
    r->next = stopping_list;
    stopping_list = r;
    r->ops->stop(r->src, on_source_done);
}

static int source_start(struct wk_daemon *d, const struct wk_config_source *cs,
                        struct running **out)
{
    struct running *r = wk_new0(struct running, 1);
    if (!r)
        return -ENOMEM;
    r->d = d;
    r->ops = cs->ops;
    r->name = strdup(cs->name);
    r->cfg = opts_dup(cs->ops->options, cs->ops->config_size, cs->cfg);
    int rc = (!r->name || !r->cfg) ? -ENOMEM : 0;
    if (rc == 0)
        rc = cs->ops->create(&r->src, cs->cfg);
    if (rc < 0) {
        r->src = NULL;
        if (!r->name || !r->cfg) {
            running_free(r);
            return rc;
        }
        snprintf(r->start_error, sizeof(r->start_error), "cannot create: %s", wk_strerror(rc));
        wk_log_error("source %s (%s): %s", cs->name, cs->ops->name, r->start_error);
        *out = r; /* listed by status as failed; a reload tries it again */
        return rc;
    }
    struct wk_source_base *b = (struct wk_source_base *)r->src;
    b->ops = cs->ops;
    b->instance = r->name;
    b->sink = wk__pipeline_sink(d->pl);
    b->loop = &d->loop;
    rc = wk__pipeline_attach(d->pl, r->src, r->name);
    /* Resume after what this run already queued (a reload restart), else after what the
     * store holds. */
    void *stored = NULL;
    size_t len = 0;
    const void *cur = wk__pipeline_last_cursor(d->pl, r->name, &len);
    if (rc == 0 && !cur) {
        rc = d->backend->cursor_get(d->bctx, r->name, &stored, &len);
        cur = stored;
    }
    if (rc == 0)
        rc = cs->ops->start(r->src, cur, len);
    free(stored);
    if (rc < 0) {
        snprintf(r->start_error, sizeof(r->start_error), "cannot start: %s", wk_strerror(rc));
        wk_log_error("source %s (%s): %s", cs->name, cs->ops->name, r->start_error);
        wk__pipeline_detach(d->pl, r->src);
        /* A failed start left no handles open (contract): destroy directly. */
        r->ops->destroy(r->src);
        r->src = NULL;
        *out = r; /* listed by status as failed; a reload tries it again */
        return rc;
    }
    wk_log_info("source %s (%s): started%s", r->name, cs->ops->name,
                len ? ", resuming from its stored cursor" : "");
    *out = r;
    return 0;
}

static const struct wk_config_source *config_source(const struct wk_config *c, const char *name)
{
    for (size_t i = 0; i < c->nsources; i++) {
        if (strcmp(c->sources[i].name, name) == 0)
            return &c->sources[i];
    }
    return NULL;
}

/* Bring the running sources to cfg: stop removed or changed ones, start new ones. */
static void sources_apply(struct wk_daemon *d, const struct wk_config *cfg)
{
    struct running **pp = &d->sources;
    while (*pp) {
        struct running *r = *pp;
        const struct wk_config_source *cs = config_source(cfg, r->name);
        if (cs && cs->ops == r->ops && r->src && opts_equal(r->ops->options, r->cfg, cs->cfg)) {
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        wk_log_info("source %s: %s", r->name,
                    !cs     ? "removed: stopping"
                    : r->src ? "changed: restarting"
                             : "failed to start: trying again");
        source_stop(d, r);
    }
    for (size_t i = 0; i < cfg->nsources; i++) {
        bool have = false;
        for (struct running *r = d->sources; r; r = r->next)
            have |= strcmp(r->name, cfg->sources[i].name) == 0;
        struct running *r = NULL;
        if (have)
            continue;
        (void)source_start(d, &cfg->sources[i], &r); /* a failed one is kept, as failed */
        if (r) {
            r->next = d->sources;
            d->sources = r;
        }
    }
}

/* ---- status (GET /status) ---- */

static json_t *daemon_status(void *arg)
{
    struct wk_daemon *d = arg;
    struct wk_pipeline_stats ps;
    wk__pipeline_stats(d->pl, &ps);
    struct wk_backend_stats bs = { 0 };
    if (d->backend->stats)
        d->backend->stats(d->bctx, &bs);
    double up = (double)(wk_time_mono_ns() - d->started_ns) / 1e9;
    json_t *srcs = json_array();
    for (struct running *r = d->sources; r; r = r->next) {
        struct wk_source_status st = { .state = "running" };
        if (!r->src) {
            st.state = "failed";
            snprintf(st.last_error, sizeof(st.last_error), "%s", r->start_error);
        } else if (r->ops->status) {
            r->ops->status(r->src, &st);
        }
        json_array_append_new(
            srcs, json_pack("{s:s, s:s, s:s, s:I, s:I, s:f, s:I, s:I, s:s, s:s}", "name", r->name,
                            "type", r->ops->name, "state", st.state ? st.state : "running",
                            "events", (json_int_t)st.events, "rejected",
                            (json_int_t)st.rejected, "events_per_s", r->rate, "lag_bytes",
                            (json_int_t)st.lag_bytes, "lag_ns", (json_int_t)st.lag_ns,
                            "lag_unit", st.lag_in_time ? "ns" : "bytes", "last_error",
                            st.last_error));
    }
    /* Outputs: the newest stored alert id against the last one each output delivered. */
    json_t *outs = json_array();
    struct wk_pipeline_output po[32];
    size_t npo = wk__pipeline_outputs(d->pl, po, WK_ARRAY_SIZE(po));
    for (size_t i = 0; i < npo; i++) {
        uint64_t newest = bs.last_alert_id > po[i].delivered ? bs.last_alert_id
                                                             : po[i].delivered;
        json_array_append_new(
            outs, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s}", "name",
                            po[i].name, "type", po[i].type, "path", po[i].path, "state",
                            po[i].failing ? "error" : "ok", "delivered",
                            (json_int_t)po[i].delivered, "newest", (json_int_t)newest, "lag",
                            (json_int_t)(newest - po[i].delivered), "written",
                            (json_int_t)po[i].written, "errors", (json_int_t)po[i].errors,
                            "last_error", po[i].last_error));
    }
    json_t *res = json_pack(
        "{s:s, s:I, s:f, s:s?, s:o, s:o, s:{s:s, s:s, s:I, s:I, s:I, s:I, s:f}, "
        "s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:I, s:s}, s:{s:I, s:I}, "
        "s:{s:I, s:I}}",
        "version", wk_version(), "pid", (json_int_t)getpid(), "uptime_s", up, "config",
        d->cfg->file, "sources", srcs, "outputs", outs, "store", "backend", d->backend->name, "path",
        d->cfg->store.path, "events", (json_int_t)bs.events, "alerts", (json_int_t)bs.alerts,
        "raw_bytes", (json_int_t)bs.raw_bytes, "stored_bytes", (json_int_t)bs.stored_bytes,
        "ratio", bs.stored_bytes ? (double)bs.raw_bytes / (double)bs.stored_bytes : 0.0,
        "pipeline", "submitted", (json_int_t)ps.submitted, "committed",
        (json_int_t)ps.committed, "commits", (json_int_t)ps.commits, "commit_errors",
        (json_int_t)ps.commit_errors, "refused", (json_int_t)ps.refused, "rejected",
        (json_int_t)ps.rejected, "queued_events", (json_int_t)ps.queued_events,
        "queued_bytes", (json_int_t)ps.queued_bytes, "peak_bytes", (json_int_t)ps.peak_bytes,
        "rules", "loaded", (json_int_t)ps.nrules, "error", d->rules_error, "alerts", "total",
        (json_int_t)ps.alerts, "last_hour", (json_int_t)ps.alerts_hour, "reloads", "ok",
        (json_int_t)d->reloads, "failed", (json_int_t)d->reload_failures);
    /* The cold tier: blocks recompressed, blocks still hot (pending or too young). */
    json_t *jst = res ? json_object_get(res, "store") : NULL;
    if (jst)
        json_object_set_new(jst, "cold",
                            json_pack("{s:b, s:I, s:I, s:f, s:I, s:f}", "enabled",
                                      d->cfg->store.cold.enabled, "blocks",
                                      (json_int_t)bs.cold_blocks, "hot_blocks",
                                      (json_int_t)(bs.blocks - bs.cold_blocks), "cpu_s",
                                      (double)bs.cold_cpu_ns / 1e9, "waiting_blocks",
                                      (json_int_t)bs.cold_waiting, "behind_s",
                                      (double)bs.cold_behind_ns / 1e9));
    return res;
}

/* ---- rules and config sets ---- */

static int rules_build(const struct wk_config *cfg, struct wk_rules_hook *out, char *err,
                       size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!wk_daemon_rules_loader) {
        snprintf(err, errlen, "running without live rules");
        return 0;
    }
    return wk_daemon_rules_loader(&cfg->rules, out, err, errlen);
}

static const char *api_path(const struct wk_daemon *d, const struct wk_config *c)
{
    if (d->opts->api_socket)
        return *d->opts->api_socket ? d->opts->api_socket : NULL;
    return c->api.enabled ? c->api.socket : NULL;
}

static void apply_logging(const struct wk_config *c)
{
    enum wk_log_level lvl = WK_LOG_INFO;
    (void)wk_log_level_parse(c->logging.level, &lvl);
    wk_log_setup(lvl, c->logging.json);
}

static int config_get(struct wk_daemon *d, struct wk_config **out)
{
    struct wk_strv errs = { 0 }, probe = { 0 };
    int rc;
    if (d->opts->config_path) {
        rc = wk_config_load(out, d->opts->config_path, &errs);
    } else {
        rc = wk_config_defaults(out, &probe);
        for (size_t i = 0; i < probe.n; i++)
            wk_log_info("default sources: %s", probe.v[i]);
    }
    for (size_t i = 0; i < errs.n; i++)
        wk_log_error("config: %s", errs.v[i]);
    if (rc < 0 && !errs.n)
        wk_log_error("config: %s", wk_strerror(rc));
    wk_strv_clear(&errs);
    wk_strv_clear(&probe);
    if (rc == 0 && d->opts->store_path) {
        char *p = strdup(d->opts->store_path);
        if (!p)
            rc = -ENOMEM;
        else {
            free((*out)->store.path);
            (*out)->store.path = p;
        }
    }
    if (rc == 0 && (*out)->default_sources && d->opts->config_path) {
        /* A file without `sources:` gets the probed defaults too. */
        struct wk_config *def;
        if (wk_config_defaults(&def, &probe) == 0) {
            for (size_t i = 0; i < probe.n; i++)
                wk_log_info("default sources: %s", probe.v[i]);
            (*out)->sources = def->sources;
            (*out)->nsources = def->nsources;
            def->sources = NULL;
            def->nsources = 0;
            wk_config_free(def);
        }
        wk_strv_clear(&probe);
    }
    return rc;
}

static void on_signal(uv_signal_t *s, int signum);

/* The store stays open across a reload: its section of the new config is named where it
 * differs (a warning: it takes effect at the next start) and replaced by the running one,
 * so d->cfg and `status` describe the store in use. verify_interval alone applies now. */
static void store_keep_running(struct wk_daemon *d, struct wk_config *nc)
{
    static const struct {
        const struct wk_option *t;
        const char *prefix;
        size_t off; /* of the section inside struct wk_config_store */
    } sections[] = {
        { wk_config_store_options, "store.", 0 },
        { wk_config_cold_options, "store.cold.", offsetof(struct wk_config_store, cold) },
    };
    char changed[512] = "";
    size_t n = 0;
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        const char *a = (const char *)&d->cfg->store + sections[i].off;
        const char *b = (const char *)&nc->store + sections[i].off;
        for (const struct wk_option *o = sections[i].t; o->type != WK_OPT_END; o++) {
            if (opt_equal(o, a, b) || strcmp(o->key, "verify_interval") == 0)
                continue;
            int w = snprintf(changed + n, sizeof(changed) - n, "%s%s%s", n ? ", " : "",
                             sections[i].prefix, o->key);
            if (w > 0)
                n = (size_t)w >= sizeof(changed) - n ? sizeof(changed) - 1 : n + (size_t)w;
        }
    }
    if (n)
        wk_log_warn("%s changed: takes effect at the next start (the running store keeps its "
                    "settings until then)",
                    changed);
    if (nc->store.verify_interval != d->cfg->store.verify_interval && !d->opts->once)
        wk__pipeline_set_verify(d->pl, nc->store.verify_interval);
    int64_t verify = nc->store.verify_interval;
    struct wk_config_store t = nc->store;
    nc->store = d->cfg->store;
    d->cfg->store = t; /* freed with the old config */
    nc->store.verify_interval = verify;
}

static void reload(struct wk_daemon *d)
{
#if WK_HAVE_SYSTEMD
    (void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
                     (unsigned long long)(wk_time_mono_ns() / 1000));
#endif
    wk_log_info("reloading %s", d->opts->config_path ? d->opts->config_path : "defaults");
    struct wk_config *nc = NULL;
    struct wk_rules_hook rules;
    char err[512] = "";
    int rc = config_get(d, &nc);
    if (rc == 0)
        rc = rules_build(nc, &rules, err, sizeof(err));
    if (rc < 0) {
        d->reload_failures++;
        wk_log_error("reload rejected%s%s: keeping the running configuration and rules",
                     *err ? ": " : "", err);
        wk_config_free(nc);
        notify("READY=1\nSTATUS=reload rejected, previous configuration kept");
        return;
    }
    rc = wk__pipeline_set_outputs(d->pl, nc->outputs, nc->noutputs, err, sizeof(err));
    if (rc < 0) {
        d->reload_failures++;
        if (rules.free)
            rules.free(rules.ctx);
        wk_log_error("reload rejected: %s: keeping the running configuration and rules", err);
        wk_config_free(nc);
        notify("READY=1\nSTATUS=reload rejected, previous configuration kept");
        return;
    }
    /* From here the new set is accepted as a whole. */
    snprintf(d->rules_error, sizeof(d->rules_error), "%s", err);
    d->nrules = rules.nrules;
    wk__pipeline_set_rules(d->pl, &rules, &nc->rules);
    wk__pipeline_set_limits(d->pl, &nc->pipeline);
    apply_logging(nc);
    store_keep_running(d, nc);
    const char *oa = api_path(d, d->cfg), *na = api_path(d, nc);
    if ((oa == NULL) != (na == NULL) || (oa && strcmp(oa, na) != 0)) {
        wk__api_stop(d->api);
        d->api = NULL;
        if (na && wk__api_start(&d->api, &d->loop, na, daemon_status, d, err, sizeof(err)) < 0)
            wk_log_error("api: %s", err);
    }
    sources_apply(d, nc);
    wk_config_free(d->cfg);
    d->cfg = nc;
    d->reloads++;
    wk_log_info("reloaded: %zu sources, %zu rules", nc->nsources, d->nrules);
    notify("READY=1\nSTATUS=running");
}

/* ---- stop ---- */

static void on_handle_closed(uv_handle_t *h)
{
}

static void close_all(struct wk_daemon *d)
{
    wk__api_stop(d->api);
    d->api = NULL;
    while (d->sources) {
        struct running *r = d->sources;
        d->sources = r->next;
        source_stop(d, r);
    }
    uv_close((uv_handle_t *)&d->sig_hup, on_handle_closed);
    uv_close((uv_handle_t *)&d->sig_term, on_handle_closed);
    uv_close((uv_handle_t *)&d->sig_int, on_handle_closed);
    uv_close((uv_handle_t *)&d->sig_usr1, on_handle_closed);
    uv_close((uv_handle_t *)&d->tick, on_handle_closed);
}

static void on_drained(void *arg)
{
    struct wk_daemon *d = arg;
    struct wk_pipeline_stats ps;
    wk__pipeline_stats(d->pl, &ps);
    wk_log_info("stopped: %llu events committed this run",
                (unsigned long long)ps.committed);
    close_all(d);
}

static void on_tick(uv_timer_t *t);

/* The housekeeping tick: every 100 ms while draining (the drain deadline) and for --once
 * (its caught-up test), else once a second (source rates; the watchdog is notified at half
 * its interval, so the tick runs at least 4 times per interval). A running daemon wakes
 * once a second for it, not 10 times. */
static uint64_t tick_ms(const struct wk_daemon *d)
{
    if (d->stopping || d->opts->once)
        return 100;
    uint64_t ms = d->watchdog_usec ? d->watchdog_usec / 4000 : 1000;
    return ms < 100 ? 100 : ms > 1000 ? 1000 : ms;
}

static void begin_stop(struct wk_daemon *d, const char *why)
{
    d->stopping = true;
    uv_timer_start(&d->tick, on_tick, 100, 100);
    notify("STOPPING=1");
    wk_log_info("%s: draining (at most %.1f s)", why,
                (double)d->cfg->pipeline.drain_timeout / 1e9);
    d->drain_deadline = wk_time_mono_ns() + d->cfg->pipeline.drain_timeout;
    /* Sources stop reading; what they submitted is committed by the drain. */
    wk__api_stop(d->api);
    d->api = NULL;
    while (d->sources) {
        struct running *r = d->sources;
        d->sources = r->next;
        source_stop(d, r);
    }
    wk__pipeline_drain(d->pl, on_drained, d);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct wk_daemon *d = s->data;
    if (signum == SIGHUP) {
        if (!d->stopping)
            reload(d);
        return;
    }
    if (signum == SIGUSR1) {
        wk_log_info("SIGUSR1: verifying the store's hash chain");
        wk__pipeline_verify_now(d->pl);
        return;
    }
    if (d->stopping) {
        /* Second SIGTERM/SIGINT: leave now. Commits are atomic, so what is committed
         * stays; what is queued is read again from the sources' cursors. */
        wk_log_warn("second %s: exiting without waiting for the drain", strsignal(signum));
        _exit(0);
    }
    begin_stop(d, strsignal(signum));
}

static void on_tick(uv_timer_t *t)
{
    struct wk_daemon *d = t->data;
    int64_t now = wk_time_mono_ns();
    if (d->watchdog_usec && now - d->last_watchdog >= (int64_t)d->watchdog_usec * 500) {
        notify("WATCHDOG=1");
        d->last_watchdog = now;
    }
    /* Suppressed-repeat counts whose window ended, even when nothing else is logged. */
    wk_log_flush(false);
    /* events/s of each source over the last second, for /status. The tick is a second
     * too, and fires a little early or late: with a strict 1 s test a tick a few ms early
     * skips its sample and the figure shown is 2 s old. The rate divides by the real span. */
    for (struct running *r = d->sources; r && !d->stopping; r = r->next) {
        if (now - r->rate_at < WK_NS_PER_SEC * 9 / 10 || !r->ops->status || !r->src)
            continue;
        struct wk_source_status st = { .state = "running" };
        r->ops->status(r->src, &st);
        if (r->rate_at)
            r->rate = (double)(st.events - r->rate_events) * 1e9 / (double)(now - r->rate_at);
        r->rate_events = st.events;
        r->rate_at = now;
    }
    if (d->stopping) {
        if (now >= d->drain_deadline) {
            struct wk_pipeline_stats ps;
            wk__pipeline_stats(d->pl, &ps);
            wk_log_error("drain timed out: %llu events not committed; they are read again "
                         "from the sources' cursors at the next start",
                         (unsigned long long)ps.queued_events);
            d->exit_code = 3;
            d->pl = wk__pipeline_free(d->pl); /* abandons the queue */
            close_all(d);
        }
        return;
    }
    if (d->opts->once) {
        /* Caught up: nothing queued, no source paused, no new event for 3 ticks. */
        struct wk_pipeline_stats ps;
        wk__pipeline_stats(d->pl, &ps);
        bool quiet = ps.queued_events == 0 && ps.submitted + ps.rejected == d->once_last;
        d->once_last = ps.submitted + ps.rejected;
        d->once_quiet = quiet ? d->once_quiet + 1 : 0;
        if (d->once_quiet >= 3)
            begin_stop(d, "--once: sources caught up");
        else if (ps.queued_events)
            wk__pipeline_flush(d->pl);
    }
}

/* ---- run ---- */

static int open_backend(struct wk_daemon *d)
{
    int rc = wk_store_backend_open(&d->backend, &d->bctx, &d->cfg->store);
    if (rc < 0)
        wk_log_error("store: %s: %s", d->cfg->store.path, wk_strerror(rc));
    return rc;
}

int wk_daemon_run(const struct wk_daemon_opts *opts)
{
    struct wk_daemon *d = wk_new0(struct wk_daemon, 1);
    if (!d) {
        wk_log_error("out of memory");
        return 3;
    }
    d->opts = opts;
    d->started_ns = wk_time_mono_ns();
    /* The signal mask survives fork and exec: auditd starts its plugins with SIGTERM,
     * SIGHUP and SIGUSR1 blocked, and uv_signal_start does not unblock them. Unblock all
     * before any thread exists (threads inherit the mask) so stop and reload work. */
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    int code = 3;
    char err[512] = "";
    if (uv_loop_init(&d->loop) < 0) {
        free(d);
        return 3;
    }
    signal(SIGPIPE, SIG_IGN);
    if (config_get(d, &d->cfg) < 0)
        goto out;
    apply_logging(d->cfg);
    if (open_backend(d) < 0)
        goto out;
    int rc = wk__pipeline_new(&d->pl, &d->loop, &d->cfg->pipeline, d->backend, d->bctx);
    if (rc < 0) {
        wk_log_error("pipeline: %s", wk_strerror(rc));
        goto out;
    }
    struct wk_rules_hook rules;
    if (rules_build(d->cfg, &rules, err, sizeof(err)) < 0) {
        wk_log_error("%s", err);
        goto out;
    }
    if (*err)
        wk_log_warn("%s", err);
    snprintf(d->rules_error, sizeof(d->rules_error), "%s", err);
    d->nrules = rules.nrules;
    wk__pipeline_set_rules(d->pl, &rules, &d->cfg->rules);
    if (wk__pipeline_set_outputs(d->pl, d->cfg->outputs, d->cfg->noutputs, err,
                                 sizeof(err)) < 0) {
        wk_log_error("%s", err);
        goto out;
    }
    uv_signal_init(&d->loop, &d->sig_hup);
    uv_signal_init(&d->loop, &d->sig_term);
    uv_signal_init(&d->loop, &d->sig_int);
    uv_signal_init(&d->loop, &d->sig_usr1);
    d->sig_hup.data = d->sig_term.data = d->sig_int.data = d->sig_usr1.data = d;
    uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
    uv_signal_start(&d->sig_term, on_signal, SIGTERM);
    uv_signal_start(&d->sig_int, on_signal, SIGINT);
    uv_signal_start(&d->sig_usr1, on_signal, SIGUSR1);
    /* The scheduled full verify; each commit's new blocks are checked by the writer. */
    if (!opts->once)
        wk__pipeline_set_verify(d->pl, d->cfg->store.verify_interval);
    uv_timer_init(&d->loop, &d->tick);
    d->tick.data = d;

#if WK_HAVE_SYSTEMD
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0)
        d->watchdog_usec = usec;
#endif
    if (!d->watchdog_usec && d->cfg->pipeline.watchdog > 0)
        d->watchdog_usec = (uint64_t)(d->cfg->pipeline.watchdog / 1000);
    uv_timer_start(&d->tick, on_tick, 100, tick_ms(d));

    if (d->cfg->nsources == 0)
        wk_log_warn("no sources configured or found: nothing to collect");
    sources_apply(d, d->cfg);
    const char *ap = opts->once ? NULL : api_path(d, d->cfg);
    if (ap && wk__api_start(&d->api, &d->loop, ap, daemon_status, d, err, sizeof(err)) < 0)
        wk_log_error("api: %s (watchkeeper status will not work)", err);
    wk_log_info("running: %zu sources, %zu rules, store %s (%s)%s%s", d->cfg->nsources,
                d->nrules, d->cfg->store.path, d->backend->name, ap ? ", api " : "",
                ap ? ap : "");
    notify("READY=1\nSTATUS=running");

    d->exit_code = 0;
    uv_run(&d->loop, UV_RUN_DEFAULT);
    code = d->exit_code;
    if (code == 0 && opts->once && d->pl) {
        /* Like every command that finds something: exit 1 when alerts were raised. */
        struct wk_pipeline_stats ps;
        wk__pipeline_stats(d->pl, &ps);
        if (ps.alerts)
            code = 1;
    }
out:
    /* Everything is closed or was never opened; free what is left. */
    d->pl = wk__pipeline_free(d->pl);
    uv_run(&d->loop, UV_RUN_DEFAULT); /* the close callbacks */
    while (stopping_list)
        on_source_done(stopping_list->src);
    if (d->backend)
        d->backend->close(d->bctx);
    if (uv_loop_close(&d->loop) < 0)
        wk_log_debug("loop closed with handles open");
    wk_config_free(d->cfg);
    free(d);
    return code;
}
