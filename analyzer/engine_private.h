/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The per-worker scratch shared by engine.c (detection) and correlate.c (windows): pcre2
 * match data, small buffers, the per-event "already fired" marks and correlation state.
 */
#ifndef WK_ENGINE_PRIVATE_H
#define WK_ENGINE_PRIVATE_H

#include "sigma_private.h"

struct corr_state;

struct wk_rule_scratch {
    struct wk_ruleset *rs;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    char num[64];
    /* keyword haystack: argv of the current record joined by spaces */
    char *argv;
    size_t argv_len, argv_cap;
    unsigned argv_rec;
    uint64_t argv_gen;
    uint64_t gen;       /* event generation */
    uint64_t *fired;    /* per rule: generation of the last event it matched */
    struct wk_corr_opts copts;
    struct corr_state *corr;
    struct wk_rule_stats st;
};

/* correlate.c */
int wk__corr_new(struct wk_rule_scratch *sc);
void wk__corr_free(struct wk_rule_scratch *sc);
/* A detection (or correlation) rule `rule` matched ev (record rec): feed correlation ci. */
int wk__corr_feed(struct wk_rule_scratch *sc, uint32_t ci, uint32_t rule,
                  const struct wk_event *ev, unsigned rec, uint64_t ref, wk_alert_cb cb,
                  void *data);
/* engine.c: emit an alert through cb, counting it. */
int wk__engine_emit(struct wk_rule_scratch *sc, const struct wk_alert *a, wk_alert_cb cb,
                    void *data);

#endif /* WK_ENGINE_PRIVATE_H */
