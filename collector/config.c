/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's YAML configuration (wkconfig.h): libfyaml builds the document tree, then each
 * section is walked against its declarative option table. Every problem is collected with
 * its FILE:LINE:COL so that `config check` lists them all at once.
 */
#include "config.h"

#include <errno.h>
#include <libfyaml.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "watchkeeper/error.h"
#include "watchkeeper/log.h"
#include "watchkeeper/mem.h"
#include "watchkeeper/wkconfig.h"

#define S_OFF(m) offsetof(struct wk_config_store, m)
const struct wk_option wk_config_store_options[] = {
    { "path", WK_OPT_PATH, "/var/lib/watchkeeper", S_OFF(path), "the store directory" },
    { "block_size", WK_OPT_SIZE, "256KiB", S_OFF(block_size),
      "raw bytes of events per block before it is compressed and sealed" },
    { "block_age", WK_OPT_DURATION, "1s", S_OFF(block_age),
      "a block is sealed at the latest this long after its first event" },
    { "compression_level", WK_OPT_INT, "3", S_OFF(compression_level), "zstd level (1-19)" },
    { "retention", WK_OPT_DURATION, "0s", S_OFF(retention),
      "delete blocks older than this; 0s keeps everything" },
    { "map_size", WK_OPT_SIZE, "64GiB", S_OFF(map_size),
      "LMDB map ceiling: the most the store may grow to" },
    { "fsync", WK_OPT_BOOL, "true", S_OFF(fsync), "fsync every commit (durable on power loss)" },
    { "verify_interval", WK_OPT_DURATION, "1h", S_OFF(verify_interval),
      "verify the whole hash chain this often (off the writer; SIGUSR1: now); 0s: never" },
    { "split_field", WK_OPT_STRING, "auditd.key", S_OFF(split_field),
      "hot blocks keep the events with this field in a zstd frame of their own, so a query "
      "on it decompresses only that frame; \"\": one frame" },
    { 0 },
};
#undef S_OFF

#define C_OFF(m) offsetof(struct wk_config_cold, m)
const struct wk_option wk_config_cold_options[] = {
    { "enabled", WK_OPT_BOOL, "true", C_OFF(enabled),
      "merge old blocks into large, highly compressed values in the background" },
    { "after", WK_OPT_DURATION, "10m", C_OFF(after),
      "a block goes cold once its newest event (@timestamp) is this old" },
    { "cpu_budget", WK_OPT_INT, "10", C_OFF(cpu_budget),
      "percent of one core the recompaction may use on average (1-100)" },
    { "block_bytes", WK_OPT_SIZE, "2MiB", C_OFF(block_bytes),
      "raw bytes of events per merged cold value (at least 64KiB)" },
    { "level", WK_OPT_INT, "19", C_OFF(level), "zstd level of the cold values (1-22)" },
    { "rebuild", WK_OPT_BOOL, "true", C_OFF(rebuild),
      "store cold events as original + edit script against the parser (about half the "
      "bytes; reads re-run the parser per event; a value names each parser's rebuild "
      "version; false: merged values; docs/store.md)" },
    { 0 },
};
#undef C_OFF

#define R_OFF(m) offsetof(struct wk_config_rules, m)
const struct wk_option wk_config_rules_options[] = {
    { "dirs", WK_OPT_STRLIST, WK_RULES_DIR, R_OFF(dirs),
      "directories of Sigma rules (YAML), read recursively" },
    { "disable", WK_OPT_STRLIST, NULL, R_OFF(disable), "rule ids that are not evaluated" },
    { "allow_containers", WK_OPT_STRLIST, NULL, R_OFF(allow_containers),
      "container names never alerted on" },
    { "allow_images", WK_OPT_STRLIST, NULL, R_OFF(allow_images),
      "container image names never alerted on" },
    { 0 },
};
#undef R_OFF

#define P_OFF(m) offsetof(struct wk_config_pipeline, m)
const struct wk_option wk_config_pipeline_options[] = {
    { "queue_events", WK_OPT_INT, "65536", P_OFF(queue_events),
      "events waiting for the writer at most; sources pause beyond" },
    { "queue_bytes", WK_OPT_SIZE, "8MiB", P_OFF(queue_bytes),
      "bytes of events waiting for the writer at most; sources pause beyond" },
    { "batch_events", WK_OPT_INT, "4096", P_OFF(batch_events), "events per commit at most" },
    { "batch_age", WK_OPT_DURATION, "200ms", P_OFF(batch_age),
      "the longest an event waits before its batch is committed" },
    { "drain_timeout", WK_OPT_DURATION, "10s", P_OFF(drain_timeout),
      "on SIGTERM, how long to drain and commit before exiting anyway" },
    { "watchdog", WK_OPT_DURATION, "0s", P_OFF(watchdog),
      "WATCHDOG=1 interval when systemd sets none (WatchdogSec= sets it otherwise)" },
    { 0 },
};
#undef P_OFF

const struct wk_option wk_config_api_options[] = {
    { "enabled", WK_OPT_BOOL, "true", offsetof(struct wk_config_api, enabled),
      "serve the local API (watchkeeper status uses it)" },
    { "socket", WK_OPT_PATH, "/run/watchkeeper/api.sock", offsetof(struct wk_config_api, socket),
      "unix socket of the local HTTP API" },
    { 0 },
};

const struct wk_option wk_config_logging_options[] = {
    { "level", WK_OPT_STRING, "info", offsetof(struct wk_config_logging, level),
      "error, warn, info or debug" },
    { "json", WK_OPT_BOOL, "false", offsetof(struct wk_config_logging, json),
      "one JSON object per log line" },
    { 0 },
};

const struct wk_option wk_config_output_options[] = {
    { "path", WK_OPT_PATH, NULL, offsetof(struct wk_config_output, path),
      "file outputs: the JSON-lines file alerts are appended to" },
    { "min_level", WK_OPT_STRING, "informational", offsetof(struct wk_config_output, min_level),
      "lowest rule level written: informational, low, medium, high, critical" },
    { 0 },
};

static const char *const output_types[] = { "stdout", "file", NULL };
static const char *const rule_levels[] = { "informational", "low", "medium", "high",
                                           "critical", NULL };

/* The loader's state: the file name for messages and the errors found so far. */
struct loader {
    const char *name;
    struct wk_strv *errors;
    unsigned nerrors;
    bool oom;
    bool outputs_seen;
};

static void where_of(struct fy_node *n, int *line, int *col)
{
    *line = 0;
    *col = 0;
    struct fy_token *t = n ? fy_node_get_scalar_token(n) : NULL;
    const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
    if (m) {
        *line = m->line + 1;
        *col = m->column + 1;
    }
}

static void __attribute__((format(printf, 3, 4)))
err_at(struct loader *ld, struct fy_node *at, const char *fmt, ...)
{
    char msg[512], line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int l, c;
    where_of(at, &l, &c);
    if (l)
        snprintf(line, sizeof(line), "%s:%d:%d: %s", ld->name, l, c, msg);
    else
        snprintf(line, sizeof(line), "%s: %s", ld->name, msg);
    ld->nerrors++;
    if (ld->errors && wk_strv_push(ld->errors, line) < 0)
        ld->oom = true;
}

/* A mapping node's first key, which carries the position we report for the mapping. */
static struct fy_node *first_key(struct fy_node *map)
{
    void *it = NULL;
    struct fy_node_pair *p = fy_node_mapping_iterate(map, &it);
    return p ? fy_node_pair_key(p) : NULL;
}

static const char *scalar(struct fy_node *n)
{
    return n && fy_node_get_type(n) == FYNT_SCALAR ? fy_node_get_scalar0(n) : NULL;
}

/* Set one option from a YAML value: a scalar, or for lists a sequence of scalars. */
static void set_option(struct loader *ld, const struct wk_option *table, void *cfg,
                       const char *section, struct fy_node *key, struct fy_node *val)
{
    const char *k = scalar(key);
    const struct wk_option *o = k ? wk_option_find(table, k) : NULL;
    if (!o) {
        err_at(ld, key, "%s: unknown key '%s'", section, k ? k : "?");
        return;
    }
    const char *err = NULL;
    int rc;
    if (o->type == WK_OPT_STRLIST && val && fy_node_get_type(val) == FYNT_SEQUENCE) {
        rc = wk_option_set(table, cfg, k, "", &err); /* clear the default */
        void *it = NULL;
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(val, &it))) {
            const char *s = scalar(item);
            if (!s) {
                err_at(ld, key, "%s.%s: list items must be strings", section, k);
                return;
            }
            rc = wk_option_append(table, cfg, k, s, &err);
            if (rc == -ENOMEM)
                ld->oom = true;
        }
        return;
    }
    const char *s = scalar(val);
    if (!s || (val && fy_node_get_type(val) == FYNT_SCALAR && fy_node_is_null(val) &&
               o->type != WK_OPT_STRLIST)) {
        err_at(ld, key, "%s.%s: expected a value", section, k);
        return;
    }
    rc = wk_option_set(table, cfg, k, s, &err);
    if (rc == -ENOMEM)
        ld->oom = true;
    else if (rc < 0)
        err_at(ld, val, "%s.%s: '%s': %s", section, k, s, err ? err : "bad value");
}

/* Fill cfg from a mapping; keys listed in skip are handled by the caller. */
static void fill_section(struct loader *ld, const struct wk_option *table, void *cfg,
                         const char *section, struct fy_node *map, const char *const *skip)
{
    if (fy_node_get_type(map) != FYNT_MAPPING) {
        err_at(ld, map, "%s: expected a mapping", section);
        return;
    }
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        const char *k = scalar(fy_node_pair_key(p));
        bool skipped = false;
        for (size_t i = 0; k && skip && skip[i]; i++)
            skipped |= strcmp(k, skip[i]) == 0;
        if (!skipped)
            set_option(ld, table, cfg, section, fy_node_pair_key(p), fy_node_pair_value(p));
    }
}

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; s && list[i]; i++) {
        if (strcmp(s, list[i]) == 0)
            return true;
    }
    return false;
}

static char rules_dir[4096];

static void rules_dir_find(void)
{
    const char *env = getenv("WK_RULES_DIR");
    if (env && *env) {
        snprintf(rules_dir, sizeof(rules_dir), "%s", env);
        return;
    }
    char exe[3072], dir[3200], probe[3300];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        static const char *const rel[] = { "../rules", "../share/watchkeeper/rules" };
        for (size_t i = 0; i < WK_ARRAY_SIZE(rel); i++) {
            snprintf(dir, sizeof(dir), "%s/%s", exe, rel[i]);
            snprintf(probe, sizeof(probe), "%s/logsources.yaml", dir);
            if (access(probe, R_OK) == 0 && realpath(dir, rules_dir))
                return;
        }
    }
    snprintf(rules_dir, sizeof(rules_dir), "%s", WK_RULES_DIR);
}

const char *wk_config_rules_dir(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, rules_dir_find);
    return rules_dir;
}

static void config_init(struct wk_config *c)
{
    /* Defaults of built-in tables are valid by construction; a failure here is OOM and
     * shows as NULL strings, which the loaders report. */
    (void)wk_options_defaults(wk_config_store_options, &c->store);
    (void)wk_options_defaults(wk_config_cold_options, &c->store.cold);
    (void)wk_options_defaults(wk_config_rules_options, &c->rules);
    wk_strv_clear(&c->rules.dirs);
    (void)wk_strv_push(&c->rules.dirs, wk_config_rules_dir());
    (void)wk_options_defaults(wk_config_pipeline_options, &c->pipeline);
    (void)wk_options_defaults(wk_config_api_options, &c->api);
    (void)wk_options_defaults(wk_config_logging_options, &c->logging);
    c->default_sources = true; /* until a `sources:` key says otherwise */
}

static int add_source(struct wk_config *c, const struct wk_source_ops *ops, const char *name,
                      int line, struct wk_config_source **out)
{
    struct wk_config_source *v = realloc(c->sources, (c->nsources + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    c->sources = v;
    struct wk_config_source *s = &v[c->nsources];
    memset(s, 0, sizeof(*s));
    s->ops = ops;
    s->line = line;
    s->name = strdup(name);
    s->cfg = calloc(1, ops->config_size ? ops->config_size : 1);
    c->nsources++;
    if (!s->name || !s->cfg)
        return -ENOMEM;
    if (wk_options_defaults(ops->options, s->cfg) < 0)
        return -EINVAL;
    *out = s;
    return 0;
}

/* The `sources:` and `outputs:` lists: each call returns the next item that is a mapping
 * (NULL at the end), with its `type` node and value (NULL when missing); other items are
 * reported and skipped. */
static struct fy_node *next_typed(struct loader *ld, struct fy_node *seq, void **it,
                                  const char *section, struct fy_node **tnode,
                                  const char **type)
{
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(seq, it))) {
        if (fy_node_get_type(item) != FYNT_MAPPING) {
            err_at(ld, item, "%s: each item must be a mapping with a type", section);
            continue;
        }
        *tnode = fy_node_mapping_lookup_by_string(item, "type", FY_NT);
        *type = scalar(*tnode);
        return item;
    }
    return NULL;
}

static void load_sources(struct loader *ld, struct wk_config *c, struct fy_node *seq)
{
    if (fy_node_get_type(seq) != FYNT_SEQUENCE) {
        err_at(ld, seq, "sources: expected a list of {type, name, options...}");
        return;
    }
    void *it = NULL;
    struct fy_node *item, *tnode;
    const char *type;
    static const char *const skip[] = { "type", "name", NULL };
    while ((item = next_typed(ld, seq, &it, "sources", &tnode, &type))) {
        if (!type) {
            err_at(ld, first_key(item), "sources: item has no 'type'");
            continue;
        }
        const struct wk_source_ops *ops = wk_source_find(type);
        if (!ops) {
            char known[512] = "";
            size_t off = 0;
            for (const struct wk_source_ops *const *o = wk_sources(); *o; o++)
                off += (size_t)snprintf(known + off, off < sizeof(known) ? sizeof(known) - off : 0,
                                        "%s%s", off ? ", " : "", (*o)->name);
            err_at(ld, tnode, "sources: unknown type '%s' (known: %s)", type,
                   *known ? known : "none");
            continue;
        }
        struct fy_node *nnode = fy_node_mapping_lookup_by_string(item, "name", FY_NT);
        const char *name = nnode ? scalar(nnode) : type;
        if (!name || !*name) {
            err_at(ld, nnode, "sources: 'name' must be a non-empty string");
            continue;
        }
        for (size_t i = 0; i < c->nsources; i++) {
            if (strcmp(c->sources[i].name, name) == 0)
                err_at(ld, nnode ? nnode : tnode,
                       "sources: duplicate name '%s' (first on line %d): give each a name",
                       name, c->sources[i].line);
        }
        int line, col;
        where_of(tnode, &line, &col);
        struct wk_config_source *s;
        if (add_source(c, ops, name, line, &s) < 0) {
            ld->oom = true;
            return;
        }
        char section[160];
        snprintf(section, sizeof(section), "sources[%s]", name);
        fill_section(ld, ops->options, s->cfg, section, item, skip);
    }
}

static void load_outputs(struct loader *ld, struct wk_config *c, struct fy_node *seq)
{
    if (fy_node_get_type(seq) != FYNT_SEQUENCE) {
        err_at(ld, seq, "outputs: expected a list of {type, ...}");
        return;
    }
    void *it = NULL;
    struct fy_node *item, *tnode;
    const char *type;
    static const char *const skip[] = { "type", "name", NULL };
    while ((item = next_typed(ld, seq, &it, "outputs", &tnode, &type))) {
        if (!type || !in_list(type, output_types)) {
            err_at(ld, tnode ? tnode : first_key(item),
                   "outputs: type must be stdout or file, not '%s'", type ? type : "");
            continue;
        }
        struct wk_config_output *v = realloc(c->outputs, (c->noutputs + 1) * sizeof(*v));
        if (!v) {
            ld->oom = true;
            return;
        }
        c->outputs = v;
        struct wk_config_output *o = &v[c->noutputs++];
        memset(o, 0, sizeof(*o));
        (void)wk_options_defaults(wk_config_output_options, o);
        o->type = strdup(type);
        struct fy_node *nnode = fy_node_mapping_lookup_by_string(item, "name", FY_NT);
        o->name = strdup(nnode && scalar(nnode) ? scalar(nnode) : type);
        if (!o->type || !o->name) {
            ld->oom = true;
            return;
        }
        fill_section(ld, wk_config_output_options, o, "outputs", item, skip);
        if (strcmp(type, "file") == 0 && !o->path)
            err_at(ld, tnode, "outputs: a file output needs a path");
        if (o->min_level && !in_list(o->min_level, rule_levels))
            err_at(ld, tnode, "outputs: min_level '%s' is not one of informational, low, "
                              "medium, high, critical", o->min_level);
    }
}

static void load_root(struct loader *ld, struct wk_config *c, struct fy_node *root)
{
    if (!root || fy_node_get_type(root) != FYNT_MAPPING) {
        if (root && !(fy_node_get_type(root) == FYNT_SCALAR && fy_node_is_null(root)))
            err_at(ld, root, "the config must be a mapping (store:, sources:, ...)");
        return;
    }
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(root, &it))) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        const char *key = scalar(k);
        if (!key) {
            err_at(ld, k, "keys must be strings");
            continue;
        }
        if (v && fy_node_get_type(v) == FYNT_SCALAR && fy_node_is_null(v))
            continue; /* "store:" with nothing under it keeps the defaults */
        if (!v)
            continue;
        if (strcmp(key, "store") == 0) {
            static const char *const cold_key[] = {"cold", NULL};
            fill_section(ld, wk_config_store_options, &c->store, "store", v, cold_key);
            struct fy_node *cn = fy_node_get_type(v) == FYNT_MAPPING
                                     ? fy_node_mapping_lookup_by_string(v, "cold", FY_NT)
                                     : NULL;
            if (cn && !(fy_node_get_type(cn) == FYNT_SCALAR && fy_node_is_null(cn)))
                fill_section(ld, wk_config_cold_options, &c->store.cold, "store.cold", cn,
                             NULL);
        }
        else if (strcmp(key, "rules") == 0)
            fill_section(ld, wk_config_rules_options, &c->rules, "rules", v, NULL);
        else if (strcmp(key, "pipeline") == 0)
            fill_section(ld, wk_config_pipeline_options, &c->pipeline, "pipeline", v, NULL);
        else if (strcmp(key, "api") == 0)
            fill_section(ld, wk_config_api_options, &c->api, "api", v, NULL);
        else if (strcmp(key, "logging") == 0)
            fill_section(ld, wk_config_logging_options, &c->logging, "logging", v, NULL);
        else if (strcmp(key, "sources") == 0) {
            c->default_sources = false;
            load_sources(ld, c, v);
        } else if (strcmp(key, "outputs") == 0) {
            ld->outputs_seen = true;
            load_outputs(ld, c, v);
        }
        else
            err_at(ld, k, "unknown key '%s' (known: store, sources, rules, outputs, api, "
                          "logging, pipeline)", key);
    }
}

static void check_values(struct loader *ld, struct wk_config *c, struct fy_node *root)
{
    enum wk_log_level lvl;
    struct fy_node *at = root ? fy_node_by_path(root, "/logging/level", FY_NT, 0) : NULL;
    if (!c->logging.level || wk_log_level_parse(c->logging.level, &lvl) < 0)
        err_at(ld, at, "logging.level '%s' is not one of error, warn, info, debug",
               c->logging.level ? c->logging.level : "");
    if (c->store.compression_level < 1 || c->store.compression_level > 19)
        err_at(ld, root ? fy_node_by_path(root, "/store/compression_level", FY_NT, 0) : NULL,
               "store.compression_level must be 1..19");
    if (c->store.cold.cpu_budget < 1 || c->store.cold.cpu_budget > 100)
        err_at(ld, root ? fy_node_by_path(root, "/store/cold/cpu_budget", FY_NT, 0) : NULL,
               "store.cold.cpu_budget must be 1..100 (percent of one core)");
    if (c->store.cold.level < 1 || c->store.cold.level > 22)
        err_at(ld, root ? fy_node_by_path(root, "/store/cold/level", FY_NT, 0) : NULL,
               "store.cold.level must be 1..22");
    if (c->store.cold.block_bytes < 65536 || c->store.cold.block_bytes > (64u << 20))
        err_at(ld, root ? fy_node_by_path(root, "/store/cold/block_bytes", FY_NT, 0) : NULL,
               "store.cold.block_bytes must be 64KiB..64MiB");
    if (c->store.split_field && strlen(c->store.split_field) > 255)
        err_at(ld, root ? fy_node_by_path(root, "/store/split_field", FY_NT, 0) : NULL,
               "store.split_field must be at most 255 bytes");
    if (c->store.cold.after < 0)
        err_at(ld, root ? fy_node_by_path(root, "/store/cold/after", FY_NT, 0) : NULL,
               "store.cold.after must not be negative");
    if (c->pipeline.queue_events < 1 || c->pipeline.batch_events < 1)
        err_at(ld, root ? fy_node_by_path(root, "/pipeline", FY_NT, 0) : NULL,
               "pipeline.queue_events and batch_events must be at least 1");
    if (c->pipeline.queue_bytes < 4096)
        err_at(ld, root ? fy_node_by_path(root, "/pipeline/queue_bytes", FY_NT, 0) : NULL,
               "pipeline.queue_bytes must be at least 4KiB");
    if (!c->store.path || !*c->store.path)
        err_at(ld, NULL, "store.path must be set");
    if (c->api.enabled && (!c->api.socket || !*c->api.socket))
        err_at(ld, NULL, "api.socket must be set when the api is enabled");
}

/* Alerts go to stdout unless `outputs:` says otherwise. */
static int add_stdout(struct wk_config *c)
{
    struct wk_config_output *o = wk_new0(struct wk_config_output, 1);
    if (!o)
        return -ENOMEM;
    c->outputs = o;
    c->noutputs = 1;
    (void)wk_options_defaults(wk_config_output_options, o);
    o->type = strdup("stdout");
    o->name = strdup("stdout");
    return o->type && o->name ? 0 : -ENOMEM;
}

static int load_doc(struct wk_config **out, const char *name, struct fy_document *fyd,
                    struct fy_diag *diag, struct wk_strv *errors)
{
    struct loader ld = { .name = name, .errors = errors };
    struct wk_config *c = wk_new0(struct wk_config, 1);
    int rc = -ENOMEM;
    if (!c)
        goto out;
    config_init(c);
    c->file = strdup(name);
    if (!c->file)
        goto out;
    if (!fyd && !fy_diag_errors_iterate(diag, &(void *){ NULL })) {
        /* An empty file: libfyaml builds no document and reports nothing. */
    } else if (!fyd) {
        /* A syntax error: libfyaml collected it with its position. */
        void *it = NULL;
        struct fy_diag_error *e;
        while ((e = fy_diag_errors_iterate(diag, &it))) {
            char line[1024];
            snprintf(line, sizeof(line), "%s:%d:%d: %s", name, e->line + 1, e->column + 1,
                     e->msg);
            ld.nerrors++;
            if (errors && wk_strv_push(errors, line) < 0)
                ld.oom = true;
        }
        if (!ld.nerrors)
            err_at(&ld, NULL, "invalid YAML");
        rc = WK_EPARSE;
        goto out;
    }
    struct fy_node *root = fyd ? fy_document_root(fyd) : NULL;
    load_root(&ld, c, root);
    check_values(&ld, c, root);
    if (!ld.outputs_seen && add_stdout(c) < 0)
        ld.oom = true;
    rc = ld.oom ? -ENOMEM : ld.nerrors ? WK_EPARSE : 0;
    if (rc == 0) {
        *out = c;
        c = NULL;
    }
out:
    wk_config_free(c);
    return rc;
}

static struct fy_diag *make_diag(void)
{
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (diag)
        fy_diag_set_collect_errors(diag, true);
    return diag;
}

int wk_config_load_string(struct wk_config **out, const char *name, const char *text,
                          size_t len, struct wk_strv *errors)
{
    struct fy_diag *diag = make_diag();
    if (!diag)
        return -ENOMEM;
    struct fy_parse_cfg pcfg = { .flags = FYPCF_QUIET | FYPCF_DEFAULT_PARSE, .diag = diag };
    struct fy_document *fyd = fy_document_build_from_string(&pcfg, text, len);
    int rc = load_doc(out, name, fyd, diag, errors);
    fy_document_destroy(fyd);
    fy_diag_destroy(diag);
    return rc;
}

int wk_config_load(struct wk_config **out, const char *path, struct wk_strv *errors)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        int rc = -errno;
        if (errors) {
            char line[1024];
            snprintf(line, sizeof(line), "%s: %s", path, strerror(-rc));
            (void)wk_strv_push(errors, line);
        }
        return rc;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (len + 4096 > cap) {
            char *nb = realloc(buf, cap = cap ? cap * 2 : 8192);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f))
                rc = -EIO;
            break;
        }
    }
    fclose(f);
    if (rc == 0)
        rc = wk_config_load_string(out, path, buf ? buf : "", len, errors);
    free(buf);
    return rc;
}

int wk_config_defaults(struct wk_config **out, struct wk_strv *probe)
{
    struct wk_config *c = wk_new0(struct wk_config, 1);
    if (!c)
        return -ENOMEM;
    config_init(c);
    int rc = 0;
    for (const struct wk_source_ops *const *o = wk_sources(); *o && rc == 0; o++) {
        const struct wk_source_ops *ops = *o;
        void *cfg = calloc(1, ops->config_size ? ops->config_size : 1);
        if (!cfg) {
            rc = -ENOMEM;
            break;
        }
        char why[256] = "";
        bool ok = wk_options_defaults(ops->options, cfg) == 0 && ops->available &&
                  ops->available(cfg, why, sizeof(why));
        wk_options_fini(ops->options, cfg);
        free(cfg);
        char line[512];
        snprintf(line, sizeof(line), "%s: %s%s", ops->name, ok ? "found" : "not used: ",
                 ok ? "" : (*why ? why : "needs configuration"));
        if (probe && wk_strv_push(probe, line) < 0)
            rc = -ENOMEM;
        struct wk_config_source *s;
        if (ok && rc == 0)
            rc = add_source(c, ops, ops->name, 0, &s);
    }
    if (rc == 0)
        rc = add_stdout(c);
    if (rc < 0) {
        wk_config_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

struct wk_config *wk_config_free(struct wk_config *c)
{
    if (!c)
        return NULL;
    wk_options_fini(wk_config_store_options, &c->store);
    wk_options_fini(wk_config_cold_options, &c->store.cold);
    wk_options_fini(wk_config_rules_options, &c->rules);
    wk_options_fini(wk_config_pipeline_options, &c->pipeline);
    wk_options_fini(wk_config_api_options, &c->api);
    wk_options_fini(wk_config_logging_options, &c->logging);
    for (size_t i = 0; i < c->nsources; i++) {
        struct wk_config_source *s = &c->sources[i];
        if (s->cfg)
            wk_options_fini(s->ops->options, s->cfg);
        free(s->cfg);
        free(s->name);
    }
    free(c->sources);
    for (size_t i = 0; i < c->noutputs; i++) {
        wk_options_fini(wk_config_output_options, &c->outputs[i]);
        free(c->outputs[i].type);
        free(c->outputs[i].name);
    }
    free(c->outputs);
    free(c->file);
    free(c);
    return NULL;
}
