/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The collector's rebuild callbacks for the store's cold tier (docs/store.md, "Rebuild
 * values"): each source's parser re-parses a stored event's event.original. A program that
 * reads or compacts a store registers them once at startup.
 */
#ifndef WK_REBUILD_H
#define WK_REBUILD_H

#include <stddef.h>

#include "watchkeeper/event.h"
#include "watchkeeper/parser.h"
#include "watchkeeper/store.h"

/*
 * Rebuild versions (docs/store.md, "Rebuild versions"). Every rebuild value records the
 * version of each module it used; a reader with another version reports WK_EREBUILD.
 * Bump a module's version whenever its parser turns some original into other fields;
 * tests/unit/test_rebuild_guard.c rebuilds the whole corpus per module and compares a
 * digest of the output with the DIGEST beside the version: when it fails, bump the version
 * and record the new digest (values of the old version then need `compact --expand`, run
 * by the old binary, before the upgrade; unless the new output is the old one with some
 * value flags added, which a rebuild can declare it still reads: min_version, new_flags).
 */
#define WK_REBUILD_AUDITD_VERSION 2u
#define WK_REBUILD_AUDITD_DIGEST "1b824ac1b01eea33"
/* Version 1 was version 2 without WK_VALF_LITERAL (the flag came with version 2): the
 * auditd rebuild reads values of both (wk_store_rebuild_ops.min_version, new_flags), and
 * test_rebuild_guard.c checks version 2 with the flag cleared against version 1's digest. */
#define WK_REBUILD_AUDITD_MIN_VERSION 1u
#define WK_REBUILD_AUDITD_V1_DIGEST "d6be28bcb0d97107"
#define WK_REBUILD_DOCKER_VERSION 1u
#define WK_REBUILD_DOCKER_DIGEST "43a41602aa4ae84b"
#define WK_REBUILD_CLOG_VERSION 1u
#define WK_REBUILD_CLOG_DIGEST "927c3e8c41977aa3"

/** The collector's rebuild of `module` (auditd, docker, clog), or NULL. */
const struct wk_store_rebuild_ops *wk_collector_rebuild_ops(const char *module);

/**
 * Register the rebuilds of the auditd, docker and clog sources with the store
 * (wk_store_rebuild_register). Call once at startup, before threads. @return 0 or <0.
 */
int wk_collector_rebuild_register(void);

/**
 * Parse orig (one or more lines) with a fresh parser of ops, with host.name,
 * log.file.path and log.offset of ctx (when present) as the parser's host and line
 * context, into out. Stateless: what a rebuild of one stored event needs.
 * @return 0 (exactly one event came out), -EINVAL (none or several), <0 parser error.
 */
int wk_collector_rebuild_parse(const struct wk_parser_ops *ops, const struct wk_event *ctx,
                               const char *orig, size_t len, struct wk_event *out);

#endif /* WK_REBUILD_H */
