/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rules: Sigma detection and correlation rules loaded from YAML, compiled once into an
 * immutable, refcounted ruleset, and evaluated per event (live) or over history (hunt).
 *
 * Life cycle: a loader collects files (and the logsource mapping and placeholder values it
 * needs), records every rejection with file:line:col and the feature named, then builds a
 * ruleset. Evaluation needs a per-worker scratch (pcre2 match data, correlation windows)
 * that is never shared between threads.
 *
 * Caveats:
 * - A ruleset is immutable and may be shared by threads; take one ref per user.
 * - A scratch belongs to one thread and one ruleset. Correlation state lives in the scratch;
 *   save it (wk_rule_scratch_save) to carry it over a restart or a ruleset reload.
 * - Correlation windows use EVENT time (wk_event_ts), not arrival time.
 */
#ifndef WK_RULE_H
#define WK_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "watchkeeper/event.h"

/** One rejected rule (or config entry): where, and why (the feature is named). */
struct wk_rule_reject {
    char *file;
    unsigned line, col; /* 1-based; 0 when unknown */
    char *msg;
};

/** What a rule says about itself (borrowed from the ruleset). */
struct wk_rule_info {
    const char *id, *name, *title, *level, *status, *author, *description, *license;
    const char *file; /* path it was loaded from */
    unsigned line;    /* line of the document start */
    const char *product, *service, *category; /* logsource (NULL when absent) */
    const char *const *tags;
    size_t ntags;
    bool is_correlation;
    const char *corr_type; /* "event_count", ... or NULL */
};

struct wk_rule_loader;
struct wk_ruleset;
struct wk_rule_scratch;

/** Create a loader. @return 0 or -ENOMEM. Free with wk_rule_loader_free(). */
int wk_rule_loader_new(struct wk_rule_loader **out);
/** Free a loader (NULL allowed). @return NULL. */
struct wk_rule_loader *wk_rule_loader_free(struct wk_rule_loader *l);

/**
 * Load the logsource mapping (rules/logsources.yaml, see docs/rules.md). Must be called
 * before rules are added: a rule whose logsource has no mapping is rejected.
 * @return 0, -errno (file), or WK_ERULE_SYNTAX (the problem is recorded as a rejection).
 */
int wk_rule_loader_logsources(struct wk_rule_loader *l, const char *path);

/**
 * Load placeholder values for the `expand` modifier: a YAML map name -> list of strings.
 * @return 0, -errno, WK_ERULE_SYNTAX (recorded as a rejection).
 */
int wk_rule_loader_placeholders(struct wk_rule_loader *l, const char *path);

/**
 * Add a rule file (several YAML documents allowed) or a directory (recursively, files
 * ending in .yml or .yaml; `logsources.yaml`, `placeholders.yaml` and `samples/` folders
 * are skipped). Each rejected document is recorded; the others are kept.
 * @return number of documents loaded (>= 0), or -errno when the path cannot be read.
 */
int wk_rule_loader_add(struct wk_rule_loader *l, const char *path);

/** Number of rejections so far, and the i-th (borrowed, valid until the loader is freed). */
size_t wk_rule_loader_nrejects(const struct wk_rule_loader *l);
const struct wk_rule_reject *wk_rule_loader_reject(const struct wk_rule_loader *l, size_t i);

/**
 * Use the multi-literal prefilter (Hyperscan, when built with it; default on). Off, every
 * rule of an event's logsource is evaluated exactly: the alerts are the same, only slower.
 */
void wk_rule_loader_set_prefilter(struct wk_rule_loader *l, bool on);

/**
 * Resolve correlation references, index rules by logsource and build the ruleset. Rules
 * the loader holds move into the ruleset; correlations whose references do not resolve are
 * rejected (recorded) and dropped.
 * @param[out] out ruleset with one reference, owned by the caller (wk_ruleset_unref()).
 * @return 0, -ENOMEM.
 */
int wk_rule_loader_build(struct wk_rule_loader *l, struct wk_ruleset **out);

/** Take a reference (thread-safe). @return rs. */
struct wk_ruleset *wk_ruleset_ref(struct wk_ruleset *rs);
/** Drop a reference (thread-safe); the last one frees. @return NULL. */
struct wk_ruleset *wk_ruleset_unref(struct wk_ruleset *rs);

/** True when the ruleset was built with the Hyperscan prefilter. */
bool wk_ruleset_has_prefilter(const struct wk_ruleset *rs);

/** Number of rules (detection and correlation) and the i-th rule's facts (borrowed). */
size_t wk_ruleset_nrules(const struct wk_ruleset *rs);
const struct wk_rule_info *wk_ruleset_rule(const struct wk_ruleset *rs, size_t i);
/** Number of Sigma meta filters in the set (applied to rules; not counted as rules). */
size_t wk_ruleset_nfilters(const struct wk_ruleset *rs);
/** ATT&CK technique ids parsed from the tags of rule i, as a JSON array text (borrowed). */
const char *wk_ruleset_rule_attack(const struct wk_ruleset *rs, size_t i);

/** Correlation state limits. */
struct wk_corr_opts {
    size_t max_bytes;     /* memory ceiling of all windows (default 64 MiB) */
    int64_t lateness_ns;  /* accept events up to this much older than the newest (default 60 s) */
};
void wk_corr_opts_init(struct wk_corr_opts *o);

/**
 * Create a per-worker scratch for rs (keeps its own reference to rs).
 * @param[in] opts may be NULL (defaults). @return 0, -ENOMEM.
 */
int wk_rule_scratch_new(struct wk_rule_scratch **out, struct wk_ruleset *rs,
                        const struct wk_corr_opts *opts);
/** Free a scratch (NULL allowed). @return NULL. */
struct wk_rule_scratch *wk_rule_scratch_free(struct wk_rule_scratch *sc);

/** One contributing event of a correlation alert. */
struct wk_alert_contrib {
    int64_t ts;
    uint64_t ref;  /* store reference given to wk_ruleset_eval_ref, 0 when none */
    uint32_t rule; /* index of the detection rule that matched */
};

/** An alert, valid during the callback only. */
struct wk_alert {
    uint32_t rule;                   /* rule index in the ruleset */
    const struct wk_rule_info *info; /* the rule */
    const char *attack;              /* JSON array of ATT&CK ids */
    int64_t ts;                      /* event time of the (last) matching event */
    const struct wk_event *event;    /* the matching (or last contributing) event */
    unsigned record;                 /* record that matched (0: the event itself) */
    uint64_t ref;                    /* store reference of event */
    /* correlations */
    const char *group;               /* group-by values, JSON object text, or NULL */
    double value;                    /* count / distinct values / sum */
    const struct wk_alert_contrib *contrib;
    size_t ncontrib;
    /* the "rule" object's JSON text as wk_alert_to_json writes it from info and attack,
     * made once per rule by the engine; NULL: written from info and attack */
    const char *rule_json;
    size_t rule_json_len;
};

/** Called once per alert. Return 0 to go on, negative to stop evaluation with that code. */
typedef int (*wk_alert_cb)(const struct wk_alert *alert, void *data);

/**
 * Evaluate one event against every rule that could match it (index by logsource), feed
 * correlations and call cb for each alert. Thread-safe for distinct scratches.
 * @return number of alerts (>= 0), or the callback's negative code, or -ENOMEM.
 */
int wk_ruleset_eval(struct wk_ruleset *rs, struct wk_rule_scratch *sc,
                    const struct wk_event *ev, wk_alert_cb cb, void *data);
/** Same, with the event's store reference carried into alerts. */
int wk_ruleset_eval_ref(struct wk_ruleset *rs, struct wk_rule_scratch *sc,
                        const struct wk_event *ev, uint64_t ref, wk_alert_cb cb, void *data);
/**
 * End of stream: close every open correlation window (conditions such as `lt` can only
 * be decided when a window ends). @return number of alerts or negative code.
 */
int wk_rule_scratch_flush(struct wk_rule_scratch *sc, wk_alert_cb cb, void *data);

/** Counters of a scratch. */
struct wk_rule_stats {
    uint64_t events;          /* events evaluated */
    uint64_t rule_evals;      /* (rule, record) evaluations actually run */
    uint64_t alerts;
    uint64_t corr_groups;     /* live correlation groups */
    uint64_t corr_bytes;      /* bytes held by correlation windows */
    uint64_t corr_evicted;    /* groups evicted by the memory ceiling */
    uint64_t corr_late;       /* events dropped: older than the lateness allows */
};
void wk_rule_scratch_stats(const struct wk_rule_scratch *sc, struct wk_rule_stats *out);

/**
 * Serialise the correlation state (JSON text, malloc'd) so it survives a restart; restore
 * it into a scratch of the same or a newer ruleset (correlations are matched by id/title;
 * state of rules that no longer exist is dropped).
 * @return 0, -ENOMEM; restore: 0, WK_EPARSE.
 */
int wk_rule_scratch_save(const struct wk_rule_scratch *sc, char **out, size_t *len);
int wk_rule_scratch_restore(struct wk_rule_scratch *sc, const char *text, size_t len);

/**
 * The alert as one JSON object: rule (id, title, level, status, tags, attack, author,
 * license, file), @timestamp, the matching event (or contributing events of a
 * correlation with their references), the group-by values.
 * @param[out] out malloc'd text. @return 0, -ENOMEM.
 */
int wk_alert_to_json(const struct wk_alert *a, char **out, size_t *len);

struct wk_jsonw;
/**
 * The same bytes appended to a writer (jsonw.h): a writer kept across alerts (one per
 * thread) keeps its buffer and the event's scratch, so a warm writer allocates nothing per
 * alert. @return 0; -ENOMEM (w->oom set, the text is partial: reset the writer).
 */
int wk_alert_to_jsonw(const struct wk_alert *a, struct wk_jsonw *w);

#endif /* WK_RULE_H */
