/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsers: turn the lines of one input format into events. `watchkeeper ingest` runs them
 * over files, and the file-tailing sources run them over what they read, so both paths
 * produce the same events. Each format is one file implementing wk_parser_ops, listed in
 * collector/parsers.def.
 *
 * Caveats:
 * - A parser may hold lines back (auditd assembles several records into one event); it
 *   then emits later, from feed_line or from flush. The `resume` offset given with each
 *   emitted event is the input offset from which re-reading loses nothing not yet
 *   emitted (the start of the oldest line still held), which is what a cursor must store.
 * - Events passed to emit are borrowed for the call only.
 */
#ifndef WK_PARSER_H
#define WK_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "watchkeeper/event.h"

#define WK_PARSER_OPS_V1 1u

/** Where a line came from, for events (log.file.path) and for error messages. */
struct wk_line_ctx {
    const char *path;  /* file path, or "-" for stdin; may be NULL */
    uint64_t lineno;   /* 1-based line number in that file */
    uint64_t offset;   /* byte offset of the line's first byte */
};

struct wk_parser_sink {
    /**
     * Receive one event. @param resume see Caveats. @return 0 to go on; a negative value
     * stops the parser, which returns it.
     */
    int (*emit)(struct wk_parser_sink *sink, struct wk_event *ev, uint64_t resume);
    /**
     * Input that could not be parsed: counted and kept (the store's quarantine) with the
     * reason. Never fatal to the parser. @return 0 or a negative value to stop.
     */
    int (*reject)(struct wk_parser_sink *sink, const struct wk_line_ctx *where,
                  const char *reason, const char *raw, size_t len);
};

struct wk_parser_opts {
    const char *host;          /* host.name to set on events, NULL: leave unset */
    size_t max_line;           /* longest line accepted (default 1 MiB) */
    size_t max_message;        /* reassembled log messages are cut here (default 1 MiB) */
    bool parse_json_messages;  /* container logs: JSON messages parsed under app.* */
};

struct wk_parser;

struct wk_parser_ops {
    unsigned version; /* WK_PARSER_OPS_V1 */
    const char *name; /* the --format name: "jsonl", "auditd", "docker-events", ... */
    const char *description;
    /**
     * Sniff the first bytes of an input (up to 64 KiB, whole lines where possible).
     * @return a score 0..100: how sure this parser is that the input is its format.
     */
    int (*detect)(const char *buf, size_t len, const char *path);
    /** Create a parser state. @return 0, -ENOMEM. */
    int (*create)(struct wk_parser **out, const struct wk_parser_opts *opts);
    /** Feed one line, without its '\n'. @return 0 or what emit/reject returned (<0). */
    int (*feed_line)(struct wk_parser *p, const char *line, size_t len,
                     const struct wk_line_ctx *where, struct wk_parser_sink *sink);
    /**
     * Advance time with no input (ns, the input's own clock when known): lets a parser
     * close groups whose terminator was lost. Optional (NULL).
     */
    int (*tick)(struct wk_parser *p, int64_t now_ns, struct wk_parser_sink *sink);
    /** End of input: emit everything held. @return 0 or what emit returned. */
    int (*flush)(struct wk_parser *p, struct wk_parser_sink *sink);
    /** Free (NULL allowed). */
    void (*destroy)(struct wk_parser *p);
    /**
     * True when the event given to emit may be taken by the sink (its contents swapped out,
     * wk_event_swap): the parser rebuilds it from empty (wk_event_reset) for every event,
     * does not read it after emit, and every value it holds lives in the event's own
     * storage (copied, or in wk_event_arena). False (the default): the event is borrowed
     * for the call only and a sink that keeps it must copy it.
     */
    bool emits_owned;
};

/** Parser options at their defaults. */
void wk_parser_opts_init(struct wk_parser_opts *opts);
/** The registered parsers, NULL-terminated. */
const struct wk_parser_ops *const *wk_parsers(void);
/** Find a parser by --format name. @return NULL when unknown. */
const struct wk_parser_ops *wk_parser_find(const char *name);
/**
 * Pick the parser whose detect() scores highest (at least 50) for this input.
 * @return NULL when none is sure enough.
 */
const struct wk_parser_ops *wk_parser_detect(const char *buf, size_t len, const char *path);

#endif /* WK_PARSER_H */
