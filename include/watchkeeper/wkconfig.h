/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's configuration: one YAML file (packaging/watchkeeper.yaml documents every
 * field) loaded with libfyaml into a struct wk_config. Every section is filled through a
 * declarative option table (option.h), sources through their own table; unknown keys and
 * bad values are errors that name FILE:LINE:COL. Named wkconfig.h because config.h is the
 * build's generated header.
 *
 * Caveats:
 * - A loaded config is immutable; reload (SIGHUP) builds a new one and swaps it whole.
 */
#ifndef WK_WKCONFIG_H
#define WK_WKCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "watchkeeper/option.h"
#include "watchkeeper/source.h"

/** store: where and how events are kept. */
struct wk_config_store {
    char *path;                /* the store directory */
    uint64_t block_size;       /* raw bytes per block before it is sealed */
    int64_t block_age;         /* ns: a block is sealed at the latest this old */
    int64_t compression_level; /* zstd level */
    int64_t retention;         /* ns: blocks older are deleted; 0 keeps everything */
    uint64_t map_size;         /* LMDB map ceiling */
    bool fsync;                /* fsync each commit (durable) */
    int64_t verify_interval;   /* ns: verify the whole hash chain this often; 0: never */
    char *split_field;         /* hot blocks: events with this field in a frame of their own */
    struct wk_config_cold {    /* store.cold: the background recompaction (cold tier) */
        bool enabled;          /* run it in the daemon */
        int64_t after;         /* ns: blocks whose newest event is younger stay hot */
        int64_t cpu_budget;    /* percent of one core it may use on average (1-100) */
        uint64_t block_bytes;  /* raw bytes per merged cold value */
        int64_t level;         /* zstd level of the cold values (1-22) */
        bool rebuild;          /* rebuild values (format 4) instead of merged ones */
    } cold;
};

/** rules: the live rule set and what it ignores. */
struct wk_config_rules {
    struct wk_strv dirs;             /* directories of Sigma YAML rules */
    struct wk_strv disable;          /* rule ids not evaluated */
    struct wk_strv allow_containers; /* container names never alerted on */
    struct wk_strv allow_images;     /* image names never alerted on */
};

/** pipeline: bounds of the queue between the sources and the writer. */
struct wk_config_pipeline {
    int64_t queue_events;  /* events waiting at most */
    uint64_t queue_bytes;  /* bytes of events waiting at most */
    int64_t batch_events;  /* events per commit at most */
    int64_t batch_age;     /* ns an event waits for its commit at most */
    int64_t drain_timeout; /* ns SIGTERM waits for the drain */
    int64_t watchdog;      /* ns between WATCHDOG=1 when systemd did not ask; 0 off */
};

struct wk_config_api {
    bool enabled;
    char *socket; /* unix socket path of the local HTTP API */
};

struct wk_config_logging {
    char *level; /* error, warn, info, debug */
    bool json;
};

/** One configured source instance. */
struct wk_config_source {
    const struct wk_source_ops *ops;
    char *name; /* unique instance name (defaults to the type) */
    void *cfg;  /* ops->config_size bytes filled by ops->options */
    int line;   /* where it was declared (1-based), 0 for defaults */
};

/** One alert output: "stdout" or "file" (JSON lines). */
struct wk_config_output {
    char *type;
    char *name;
    char *path;      /* file: the JSON-lines file */
    char *min_level; /* lowest rule level written (informational ... critical) */
};

struct wk_config {
    char *file; /* the file loaded, NULL for the built-in defaults */
    struct wk_config_store store;
    struct wk_config_rules rules;
    struct wk_config_pipeline pipeline;
    struct wk_config_api api;
    struct wk_config_logging logging;
    struct wk_config_source *sources;
    size_t nsources;
    struct wk_config_output *outputs;
    size_t noutputs;
    bool default_sources; /* sources were probed (no `sources:` given) */
};

/** The option tables of the sections, for docs and `config check`. */
extern const struct wk_option wk_config_store_options[];
extern const struct wk_option wk_config_cold_options[];
extern const struct wk_option wk_config_rules_options[];
extern const struct wk_option wk_config_pipeline_options[];
extern const struct wk_option wk_config_api_options[];
extern const struct wk_option wk_config_logging_options[];
extern const struct wk_option wk_config_output_options[];

/**
 * Load a config file.
 * @param[out] out the config, owned by the caller (wk_config_free), only on success.
 * @param[in] path the YAML file.
 * @param[out] errors when not NULL, receives one "FILE:LINE:COL: message" per problem
 *   found (all of them, not only the first); the caller frees it with wk_strv_clear().
 * @return 0, WK_EPARSE (invalid YAML or config: see errors), -errno reading the file,
 *   -ENOMEM. Thread-safe (no shared state).
 */
int wk_config_load(struct wk_config **out, const char *path, struct wk_strv *errors);

/**
 * Load YAML text (as wk_config_load; name is used in messages).
 */
int wk_config_load_string(struct wk_config **out, const char *name, const char *text,
                          size_t len, struct wk_strv *errors);

/**
 * The built-in defaults used with no config file: every section at its defaults and, as
 * sources, each registered source whose available() says this host has its input.
 * @param[out] probe when not NULL, one line per registered source saying whether it was
 *   found and, if not, why ("docker: /run/docker.sock: No such file or directory").
 * @return 0 or -ENOMEM.
 */
int wk_config_defaults(struct wk_config **out, struct wk_strv *probe);

/**
 * The default rule pack (rules.dirs when the config names none; `watchkeeper rules`):
 * $WK_RULES_DIR, else rules/ beside a build tree (the binary in build/), else
 * ../share/watchkeeper/rules beside the binary (an install moved or staged with DESTDIR),
 * both canonical, else WK_RULES_DIR of config.h (PREFIX/DATADIR/watchkeeper/rules, where
 * `meson install` put it). Found once per process. Thread-safe.
 */
const char *wk_config_rules_dir(void);

/** Free a config (NULL allowed). @return NULL. */
struct wk_config *wk_config_free(struct wk_config *cfg);


#endif /* WK_WKCONFIG_H */
