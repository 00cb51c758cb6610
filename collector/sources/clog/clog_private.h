/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals shared by the container-log parsers (json-file, cri), the clog live source,
 * the fuzz targets and the benchmark: the json-file line decoders (fast path and jansson
 * fallback) and the reassembling parser state.
 */
#ifndef WK_CLOG_PRIVATE_H
#define WK_CLOG_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "watchkeeper/containers.h"
#include "watchkeeper/parser.h"

struct wk__cbuf {
    char *p;
    size_t len, cap;
};

/** Make room for n more bytes. @return 0, -ENOMEM. */
int wk__cbuf_reserve(struct wk__cbuf *b, size_t n);
void wk__cbuf_fini(struct wk__cbuf *b);

/** One decoded json-file line. Buffers are reused between lines. */
struct wk__jf_rec {
    struct wk__cbuf log, stream, time;
    bool has_stream, has_time;
    json_t *attrs; /* slow path only: the "attrs" object (owned), else NULL */
};

/**
 * The fast path: only the exact shape dockerd writes, {"log":"..","stream":"..","time":".."}
 * with nothing else. Decodes JSON string escapes (\uXXXX, surrogate pairs) and checks UTF-8
 * exactly as jansson does. @return 1 decoded, 0 declined (use the slow path).
 */
int wk__jsonfile_fast(const char *line, size_t len, struct wk__jf_rec *r);
/**
 * The jansson path: any JSON object with a "log" string. @return 0, WK_EPARSE (with
 * *reason set to a static message), -ENOMEM.
 */
int wk__jsonfile_slow(const char *line, size_t len, struct wk__jf_rec *r, const char **reason);
void wk__jf_rec_fini(struct wk__jf_rec *r);

/** Container id from a json-file path (<id>-json.log[.N[.gz]]): 64 hex copied to id[65]. */
bool wk__jsonfile_path_id(const char *path, char id[65]);

/** Kubernetes identity from a CRI log path (/var/log/pods/... or /var/log/containers/...). */
struct wk__cri_path {
    char ns[254], pod[254], uid[64], container[254], id[65];
};
bool wk__cri_path_parse(const char *path, struct wk__cri_path *out);

/* The parser state is shared by json-file and cri (collector/sources/clog/clog_parse.c). */
enum wk__clog_format { WK_CLOG_JSONFILE, WK_CLOG_CRI };

/** Attach a container table (borrowed) used to fill container.name / image. */
void wk__clog_parser_set_table(struct wk_parser *p, struct wk_containers *t);
/** Prefix under which JSON messages are parsed (default "app"; NULL disables). */
int wk__clog_parser_set_app_prefix(struct wk_parser *p, const char *prefix);

/**
 * Resume bookkeeping for exactly-once across restarts: the start offsets of reassembled
 * messages still held (at most 3: stdout, stderr, other) and the start offset of the last
 * message emitted.
 */
struct wk__clog_state {
    uint64_t held[3];
    unsigned nheld;
    uint64_t last_emitted; /* start offset of the last emitted message, or UINT64_MAX */
};
void wk__clog_parser_state(const struct wk_parser *p, struct wk__clog_state *st);
/**
 * After restarting from the oldest held offset: skip messages already emitted (start
 * offset <= st->last_emitted and not one of st->held).
 */
void wk__clog_parser_skip(struct wk_parser *p, const struct wk__clog_state *st);
/** Start offset of the message of the event being emitted (valid inside emit). */
uint64_t wk__clog_parser_emitting(const struct wk_parser *p);

#endif /* WK_CLOG_PRIVATE_H */
