/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event store: one LMDB environment (a directory) holding zstd-compressed blocks of
 * events, per-block index summaries, resume cursors, alerts, deliveries, containers,
 * quarantined input and a hash chain with Ed25519-signed checkpoints. docs/store.md
 * describes the on-disk format.
 *
 * Caveats:
 * - ONE writer: wk_store_add, wk_store_cursor_set, wk_store_alert_add,
 *   wk_store_quarantine_add, wk_store_container_put, wk_store_state_set, wk_store_tick,
 *   wk_store_flush, wk_store_retain, wk_store_recompact and wk_store_close must be called from one thread
 *   at a time (the daemon's writer thread). Retention and the cold tier are not automatic:
 *   the owner calls wk_store_retain and wk_store_recompact on its own schedule. Everything else (readers, iterators, stats, verify,
 *   wk_store_delivery_set) may run concurrently from any thread, each thread with its own
 *   wk_store_reader / wk_store_iter; other processes may read the same directory at the
 *   same time. Readers never block the writer.
 * - Nothing is durable until committed. Events, cursors, alerts, quarantined input and
 *   container identities given to the writer are held in memory and committed together, in
 *   ONE LMDB write transaction: a cursor commits with the block holding the events it
 *   covers, an alert with the block holding its evidence. After a crash, every source
 *   resumes from its cursor exactly after what was stored: nothing lost, nothing twice.
 * - Blocks are sealed when their raw size reaches block_raw_max or their oldest event is
 *   block_age_ns old (checked by wk_store_add and wk_store_tick); sealed blocks are
 *   committed at most every commit_interval_ns or commit_bytes (whichever first).
 * - When the map reaches map_max (or the disk is full) the commit fails with WK_EMAP_FULL
 *   (or -ENOSPC) and everything not committed stays held: call wk_store_flush again later
 *   (back-pressure). Nothing already committed is lost.
 * - Growing the map needs every reader of this process out of its snapshot: the writer
 *   waits up to 2 s for open readers, then the commit fails with -EBUSY (data held, retry
 *   later). Keep readers short-lived.
 * - Pointers handed out by readers (events, alert JSON, block data) are borrowed: valid
 *   until the next call on the same reader/iterator, or its close, unless stated.
 */
#ifndef WK_STORE_H
#define WK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "watchkeeper/event.h"

/** On-disk schema version this binary writes, stored in meta and checked on open: it also
 *  opens stores of version 1 (before SHA-256 records hashes) and 2 (before compressed
 *  alert values), moving them to 2 when it commits its first block and to 3 when it
 *  commits its first compressed alert; another version is WK_EVERSION. */
#define WK_STORE_SCHEMA_VERSION 3u

/** Bytes of a chain hash (BLAKE2b-256). */
#define WK_STORE_HASH_LEN 32u
/** Bytes of an Ed25519 public key. */
#define WK_STORE_PUBKEY_LEN 32u

struct wk_store;
struct wk_store_reader;
struct wk_store_iter;

/** Options for wk_store_open. Initialise with wk_store_opts_init, then change fields. */
struct wk_store_opts {
    size_t block_raw_max;        /* seal a block at this many raw (encoded) bytes; 256 KiB */
    int64_t block_age_ns;        /* ... or when its first event is this old (mono); 1 s */
    int64_t commit_interval_ns;  /* commit sealed blocks at least this often; 100 ms */
    size_t commit_bytes;         /* ... or when this many compressed bytes wait; 1 MiB */
    int zstd_level;              /* hot-tier zstd level; 3 */
    int cold_level;              /* level of wk_store_recompact (cold tier); 19 */
    bool dictionaries;           /* train a zstd dictionary on the store's data; true */
    size_t dict_sample_bytes;    /* ... from this many raw bytes of records; 2 MiB */
    uint64_t map_initial;        /* initial LMDB map size; 64 MiB */
    uint64_t map_max;            /* ceiling the map may grow to; 64 GiB */
    int64_t retain_age_ns;       /* retention: drop blocks whose newest event is older; 0=off */
    uint64_t retain_bytes;       /* retention: keep stored block bytes under this; 0=off */
    bool fsync;                  /* fsync on commit; true (false only for tests/benches) */
    bool read_only;              /* open for reading only (query, stats, verify); false */
    /* Fields indexed per block, NULL-terminated; NULL: the defaults
     * process.executable, user.id, event.action, auditd.key. container.id,
     * container.name and event.module are always indexed. Borrowed during open only. */
    const char *const *index_terms;
    uint32_t checkpoint_blocks;  /* sign a checkpoint every this many blocks; 256 */
    /* Ed25519 signing key file; NULL: DIR/signing.key (created 0600 on first use, with
     * DIR/signing.pub beside it). Borrowed during open only. */
    const char *key_path;
    /* Cold tier (wk_store_recompact): merge consecutive blocks into one zstd frame of at
     * least this many uncompressed bytes; 0: recompress each block alone. 2 MiB. */
    size_t cold_block_bytes;
    /* Cold tier: write rebuild values (block format 4: per event only its original, its
     * parser context and an edit script; about half the bytes of a merged value) when
     * rebuilds are registered (wk_store_rebuild_register). Each value records the rebuild
     * version of every module it used; a reader with another version reports
     * WK_EREBUILD, never tampering (docs/store.md, "Rebuild values"). true (default);
     * false: merged values (format 3). Reading format-4 values needs the rebuilds
     * registered whatever this says. */
    bool cold_rebuild;
    /* Hot blocks: the records of events whose shape has this field go in a zstd frame of
     * their own (block format 5), so a query with a term on the field decompresses only
     * that frame; full reads see the same records as before (docs/store.md, "Split
     * blocks"). NULL: "auditd.key"; "": one frame per block (format 2). At most 255 bytes.
     * Borrowed during open only. */
    const char *split_field;
};

/** Fill opts with the defaults above. */
void wk_store_opts_init(struct wk_store_opts *opts);

/**
 * Open (creating when absent, mode 0700 for the directory and 0600 for files) a store.
 * @param[out] out the store, owned; release with wk_store_close().
 * @param[in] dir directory path (borrowed). @param[in] opts NULL for defaults.
 * @return 0, -errno (directory, file, LMDB errors mapped to errno where possible),
 *         WK_EVERSION (schema version mismatch), WK_ECORRUPT (meta unreadable),
 *         -ENOENT (read_only and no store there).
 */
int wk_store_open(struct wk_store **out, const char *dir, const struct wk_store_opts *opts);

/**
 * Flush (seal + commit everything held, write a checkpoint when writable) and close.
 * NULL allowed. Writer thread. A failed final flush loses only what was not committed:
 * call wk_store_flush first to see the error. @return NULL.
 */
struct wk_store *wk_store_close(struct wk_store *st);

/** The directory of the store (borrowed, valid until close). */
const char *wk_store_dir(const struct wk_store *st);

/* ---------------------------------------------------------------------------------- */
/* Writing (writer thread only)                                                        */

/**
 * Reference to one stored event: the block holding it and its index inside the block.
 * Stable for the life of the event (retention removes it; recompaction keeps refs valid).
 */
struct wk_store_ref {
    uint64_t block;
    uint32_t index;
};

/**
 * Resume point of one source instance, an opaque byte string (file inode + offset, Docker
 * `since`, audit serial, ...). `source` names the instance ("ingest:/var/log/a.log",
 * "docker:/run/docker.sock"), at most 255 bytes.
 */
struct wk_store_cursor {
    const char *source;
    const void *data;
    size_t len; /* at most 4096 */
};

/**
 * Add one event. It is encoded (copied) at once; ev stays the caller's. When `cur` is not
 * NULL, that cursor is recorded for cur->source and commits together with this event.
 * May seal the current block and commit (which is where commit errors surface).
 * @param[out] ref when not NULL, where the event will be once committed (usable at once as
 *             evidence for wk_store_alert_add).
 * @return 0; -EINVAL (ts 0, bad cursor); WK_ELIMIT (event encodes to > 64 MiB);
 *         WK_EMAP_FULL / -ENOSPC (commit failed: the event IS held; retry wk_store_flush
 *         later); -ENOMEM; -EROFS (read-only store).
 */
int wk_store_add(struct wk_store *st, const struct wk_event *ev,
                 const struct wk_store_cursor *cur, struct wk_store_ref *ref);

/**
 * Record a cursor without an event (e.g. input that produced only rejected lines). It
 * commits with the events added before it, or alone at the next commit.
 * @return 0, -EINVAL, -ENOMEM, -EROFS.
 */
int wk_store_cursor_set(struct wk_store *st, const struct wk_store_cursor *cur);

/**
 * Read the last COMMITTED cursor of a source instance (any thread).
 * @param[out] buf receives up to cap bytes; @param[out] len the cursor's full length.
 * @return 0; WK_ENOT_FOUND (no cursor: start from the beginning); -ENOBUFS (cap too small,
 *         *len says how much is needed); other LMDB errors as -errno.
 */
int wk_store_cursor_get(struct wk_store *st, const char *source, void *buf, size_t cap,
                        size_t *len);

/**
 * Add an alert: JSON text (copied) plus references to its evidence events. Commits with
 * the block holding the most recent evidence (or the next commit). The text is stored as
 * a zstd frame (docs/store.md "Alert values"); wk_store_alert_next gives back its bytes.
 * @param[out] id when not NULL, the alert id (increasing from 1).
 * @return 0, -EINVAL, -ENOMEM, -EROFS, commit errors as for wk_store_add.
 */
int wk_store_alert_add(struct wk_store *st, const char *json, size_t len,
                       const struct wk_store_ref *refs, size_t nrefs, uint64_t *id);

/**
 * Keep input that could not be parsed: source name, reason, exact raw bytes. Commits with
 * the next commit (with the cursor that moves past it). @return 0, -ENOMEM, -EROFS.
 */
int wk_store_quarantine_add(struct wk_store *st, const char *source, const char *reason,
                            const void *raw, size_t len);

/**
 * Store the identity of a container (JSON text: names, image, labels, pod, risk facts,
 * first/last seen), replacing the previous value. Commits with the next commit.
 * @return 0, -EINVAL, -ENOMEM, -EROFS.
 */
int wk_store_container_put(struct wk_store *st, const char *id, const char *json,
                           size_t len);

/** Longest name of a state (wk_store_state_set). */
#define WK_STORE_STATE_NAME_MAX 64u

/**
 * Stage a named opaque state (e.g. the rule engine's correlation windows, "rules") to be
 * written as meta `state:NAME` in the SAME transaction as the events added before it:
 * like a cursor, it belongs to the open block when that holds events, else to the next
 * commit. Setting it again before that commit replaces the staged value. After a crash
 * the committed state is the one set after the last committed event (or older).
 * @param[in] data copied. @return 0, -EINVAL (name empty or > 64 bytes), -ENOMEM, -EROFS.
 */
int wk_store_state_set(struct wk_store *st, const char *name, const void *data, size_t len);

/**
 * Read the last COMMITTED state of that name (any thread).
 * @param[out] data malloc'd copy (caller frees), @param[out] len its length.
 * @return 0; WK_ENOT_FOUND (never committed); -EINVAL; -ENOMEM; -errno.
 */
int wk_store_state_get(struct wk_store *st, const char *name, void **data, size_t *len);

/**
 * Seal the current block when it is old enough and commit when commit_interval_ns has
 * passed. Call it regularly (e.g. every 100 ms) when no events arrive.
 * @param[in] now_mono_ns wk_time_mono_ns() (or 0 for "now").
 * @return 0 or a commit error (as wk_store_add).
 */
int wk_store_tick(struct wk_store *st, int64_t now_mono_ns);

/**
 * Seal the current block (if it holds events) and commit everything held now.
 * @return 0, WK_EMAP_FULL, -ENOSPC, -EBUSY, -EIO, -ENOMEM (held data kept: retry later).
 */
int wk_store_flush(struct wk_store *st);

/**
 * Record that output `name` delivered every alert up to `alert_id`. Commits at once in its
 * own transaction; any thread. @return 0, -EINVAL, -EROFS, -errno.
 */
int wk_store_delivery_set(struct wk_store *st, const char *name, uint64_t alert_id);

/** Last alert id delivered by output `name` (0 when none). @return 0 or -errno. */
int wk_store_delivery_get(struct wk_store *st, const char *name, uint64_t *alert_id);

/**
 * Apply retention (retain_age_ns, retain_bytes) now: deletes whole oldest blocks and their
 * index entries in bounded transactions, and records the new chain start in meta, so that
 * wk_store_verify still passes. Writer thread.
 * @param[out] removed blocks deleted (may be NULL). @return 0 or -errno.
 */
int wk_store_retain(struct wk_store *st, int64_t now_ns, uint64_t *removed);

/**
 * Cold tier: merge committed hot blocks, oldest first, into values of at least
 * opts.cold_block_bytes uncompressed bytes, compressed at opts.cold_level with a window
 * covering the whole value and the store's dictionary, one transaction per merged value
 * (a block alone as large as that is recompressed in place when smaller; with
 * cold_block_bytes 0 every block is). Consecutive blocks that do not reach the size yet
 * stay hot until more follow. Block ids, event refs (block, index) and the hash chain are
 * unchanged: a merged value keeps each block's own header (the chain covers each block's
 * uncompressed records). Stops once `budget_ns` has been spent (checked between values:
 * one 1 MiB value at zstd 19 takes about 0.3 s here); call it from the writer thread when
 * idle. The newest `keep_hot` blocks are left alone.
 * @param[out] done blocks made cold (may be NULL). @return 0 or -errno / WK_E*.
 */
int wk_store_recompact(struct wk_store *st, int64_t budget_ns, uint64_t keep_hot,
                       uint64_t *done);

/**
 * Rebuild of an event from its event.original, for the cold tier's rebuild values
 * (docs/store.md, "Rebuild values"): a cold value then keeps per event only its original,
 * the context fields named here and an edit script from the rebuilt fields to the stored
 * ones, and the reader calls `rebuild` to reproduce the event's exact record bytes. The
 * store does not depend on the collector: the parsers register these at startup
 * (collector's wk_collector_rebuild_register). Everything is checked: the cold tier keeps
 * an event whole when its reproduction differs in any byte.
 */
struct wk_store_rebuild_ops {
    const char *module;         /**< the event.module value it rebuilds */
    /** Event-level fields the rebuild needs (host name, log path, offset ...), at most 6,
     *  NULL-terminated; strings and integers. An integer is stored as its difference from
     *  the previous value for the same preceding string context field plus the length of
     *  that previous original + 1 (a log offset). */
    const char *const *context;
    /**
     * Rebuild one event: parse orig (len bytes) with the context fields of ctx (those of
     * `context` the stored event had) into out (reset by the caller). Must be a pure
     * function of its inputs (no state kept between calls, no lookup of the machine's
     * users or files): the reader may run on another machine. Thread-safe.
     * @return 0 (out holds the event), <0 (no event: the compactor keeps it whole).
     */
    int (*rebuild)(const struct wk_event *ctx, const char *orig, size_t len,
                   struct wk_event *out);
    /**
     * Version of what `rebuild` outputs (1 or more; 0 is taken as 1). Every rebuild value
     * records the version of each module it used; a reader whose registered version
     * differs (and is not in [min_version, version], below) reports that value as
     * WK_EREBUILD (not as tampering). Bump it whenever the
     * output for some original changes (tests/unit/test_rebuild_guard.c says when).
     */
    uint32_t version;
    /**
     * Optional, for selective reads of rebuild values (docs/store.md, "Selective reads"):
     * where the text of a field `field` of a rebuilt event (at event level or in a record;
     * each item of a string list) shows in what the rebuild read, as a mask of
     * WK_STORE_FORM_*. A reader looking for field = V then rebuilds only the events whose
     * original (or context strings) hold one of those forms of V. 0 (or no hook): the
     * module cannot say, every event is rebuilt to be checked. A wrong claim loses events
     * from queries: claim only what the parser guarantees for every input (a field the
     * rebuild never sets satisfies any claim). Called once per field and module per value.
     */
    unsigned (*value_forms)(const char *field);
    /**
     * Oldest value version this rebuild also reads (0: only `version`; at most `version`):
     * a value of a version v in [min_version, version) is read as this rebuild's output
     * with the value flags `new_flags` cleared on every rebuilt field, which must be
     * exactly what versions min_version .. version - 1 output (test_rebuild_guard.c
     * checks that against the old version's digest). A version outside [min_version,
     * version] is WK_EREBUILD. Values are always written with `version`.
     */
    uint32_t min_version;
    /** The value flags (WK_VALF_*) the output has gained since min_version (above). */
    uint8_t new_flags;
};

/** The value's bytes occur in the original or in one of the event's context strings. */
#define WK_STORE_FORM_TEXT 1u
/** Its hex encoding (either letter case) occurs in the original (auditd's encoding of
 *  untrusted strings). */
#define WK_STORE_FORM_HEX 2u
/** Or the original holds a backslash (a JSON escape may stand for any of its bytes). */
#define WK_STORE_FORM_ESCAPED 4u

/**
 * Register a rebuild for ops->module (replacing an earlier one of that module); ops must
 * outlive its use. Call at startup, before any store is read or compacted (not
 * thread-safe against readers). A reader without the rebuild of a value's events reports
 * the value as WK_ECORRUPT. @return 0, -EINVAL, WK_ELIMIT (more than 16 modules).
 */
int wk_store_rebuild_register(const struct wk_store_rebuild_ops *ops);
/** Remove every registered rebuild (tests: the cold tier then writes merged values). */
void wk_store_rebuild_clear(void);

/**
 * After a call returned WK_EREBUILD: one line naming the value's block, the module, the
 * rebuild version the value was written with, this binary's (or that it has none), and
 * what to do. Describes the last such error of any thread (hunt's workers report to the
 * main thread). Thread-safe. @return buf.
 */
const char *wk_store_rebuild_why(char *buf, size_t cap);

/**
 * Rewrite every rebuild value (format 4) as a merged value (format 3) holding the same
 * blocks' records, oldest first, one value per write transaction, until `budget_ns` has
 * been spent (checked between values). The records are the same bytes, so block hashes
 * and the chain do not change. Needs the rebuilds that wrote the values (the same
 * versions). Writer thread.
 * @param[out] done values rewritten (may be NULL); @param[out] left rebuild values still
 * stored after this call (may be NULL).
 * @return 0, WK_EREBUILD (a value this binary cannot read: wk_store_rebuild_why), -errno.
 */
int wk_store_expand(struct wk_store *st, int64_t budget_ns, uint64_t *done, uint64_t *left);

/**
 * The inverse of wk_store_expand: rewrite every merged cold value (format 3) as a rebuild
 * value of the registered rebuilds' versions (the cold tier's form, checked as it checks
 * it; a value whose form fails its check, or holding a format-1 block, stays merged), one
 * value per write transaction, until `budget_ns` has been spent. Records, hashes and the
 * chain do not change. Nothing to do when no rebuild is registered. Writer thread.
 * @param[in,out] from the block id to look from (1: the start); advanced past what was
 * looked at, 0 once no merged value is left after it (call again while it is not 0).
 * @param[out] done values rewritten (may be NULL). @return 0, -errno / WK_E*.
 */
int wk_store_rebuild_merged(struct wk_store *st, int64_t budget_ns, uint64_t *from,
                            uint64_t *done);

/** Count the rebuild values (format 4) stored (any thread; walks the values). @return 0, -errno. */
int wk_store_rebuild_values(struct wk_store *st, uint64_t *n);

/* ---------------------------------------------------------------------------------- */
/* Reading (any thread, one reader per thread)                                         */

/** A term filter: the event (or one of its records) has field == value (text compare). */
struct wk_store_term {
    const char *field;
    const char *value;
};

/** Return true to keep the event. Called on events that passed the other filters. */
typedef bool (*wk_store_pred_cb)(const struct wk_event *ev, void *arg);

/**
 * Pre-check of the encoded records of a block, before any is decoded. Every string value
 * of an event (a string, each item of a string list, JSON text) occurs verbatim in its
 * record's bytes; numbers, booleans and field metadata are binary-coded. So a reader that
 * needs a string can skip records that do not contain it, without decoding them.
 */
struct wk_store_raw {
    /* Once per block, with its uncompressed records (borrowed for the block's scan).
     * Return 1 to go on with the block, 0 to skip all of it, <0 to stop (returned). */
    int (*block)(const uint8_t *recs, size_t len, void *arg);
    /* Per record, in order: the offset of its encoded bytes in recs, and their length.
     * Return false to skip the record undecoded. NULL: every record is decoded. */
    bool (*record)(size_t off, size_t len, void *arg);
    void *arg;
};

/** What to read. Zero-initialise, then set what you need (all filters AND together). */
struct wk_store_filter {
    int64_t since;                     /* ns, inclusive; 0: from the beginning */
    int64_t until;                     /* ns, inclusive; 0: to the end */
    const char *container;             /* full id, id prefix (>= 4 hex chars) or name */
    const char *source;                /* event.module */
    const struct wk_store_term *terms; /* nterms terms */
    size_t nterms;
    wk_store_pred_cb pred;             /* optional exact predicate */
    void *pred_arg;
    /* optional raw pre-check (borrowed); honoured by wk_store_block_scan and the iterator */
    const struct wk_store_raw *raw;
};

/** What a block header says (values copied). */
struct wk_store_block_info {
    uint64_t id;
    int64_t ts_min, ts_max;    /* ns */
    uint32_t count;            /* events */
    uint32_t raw_size;         /* encoded records, uncompressed */
    uint32_t stored_size;      /* bytes of the LMDB value (header + frame) */
    uint32_t dict_id;          /* 0: no dictionary */
    uint8_t prev[WK_STORE_HASH_LEN];
    uint8_t hash[WK_STORE_HASH_LEN];
};

/**
 * Open a reader: a read-only LMDB snapshot plus decompression scratch. Cheap; open one
 * per thread (hunt workers) and close it soon (long snapshots keep pages from reuse).
 * @return 0, -ENOMEM, -errno.
 */
int wk_store_reader_open(struct wk_store *st, struct wk_store_reader **out);
/** Close a reader (NULL allowed). @return NULL. */
struct wk_store_reader *wk_store_reader_close(struct wk_store_reader *r);

/**
 * Candidate blocks for a filter, in store order (= commit order), using the time index and
 * the per-block container/term summaries. A candidate may still hold no matching event.
 * @param[out] ids malloc'd array (caller frees), @param[out] n its length.
 * @return 0, -ENOMEM, -errno.
 */
int wk_store_candidates(struct wk_store_reader *r, const struct wk_store_filter *f,
                        uint64_t **ids, size_t *n);

/** Header of one block. @return 0, WK_ENOT_FOUND, WK_ECORRUPT. */
int wk_store_block_info(struct wk_store_reader *r, uint64_t id,
                        struct wk_store_block_info *info);

/**
 * The stored value holding block `id`: the cold tier merges consecutive blocks into one
 * value (one zstd frame), whose blocks are [*first, *first + *n). A reader decompresses a
 * value once for all its blocks it scans in a row, so parallel readers (hunt) should take a
 * value's blocks together rather than interleave them. Hot blocks: *first = id, *n = 1.
 * @return 0, WK_ENOT_FOUND, WK_ECORRUPT.
 */
int wk_store_block_value(struct wk_store_reader *r, uint64_t id, uint64_t *first, uint32_t *n);

/** Called per matching event of a block; ev borrowed for the call. Return <0 to stop. */
typedef int (*wk_store_event_cb)(const struct wk_event *ev, struct wk_store_ref ref,
                                 void *arg);

/**
 * Decode one block and call cb on each event matching f (f may be NULL: all).
 * @return 0, what cb returned (<0), WK_ENOT_FOUND, WK_ECORRUPT (bad frame / records).
 */
int wk_store_block_scan(struct wk_store_reader *r, uint64_t id,
                        const struct wk_store_filter *f, wk_store_event_cb cb, void *arg);

/**
 * Fetch one event by reference (evidence of an alert).
 * @param[out] ev reset and filled (the caller's event). @return 0, WK_ENOT_FOUND,
 *         WK_ECORRUPT.
 */
int wk_store_event_get(struct wk_store_reader *r, struct wk_store_ref ref,
                       struct wk_event *ev);

/**
 * Iterate the events matching f in store order (candidates, then exact filters).
 * @param[in] f copied, but its strings and pred_arg are borrowed for the iterator's life.
 * @return 0, -ENOMEM, -errno.
 */
int wk_store_iter_new(struct wk_store_reader *r, const struct wk_store_filter *f,
                      struct wk_store_iter **out);
/**
 * Next matching event. @param[out] ev borrowed until the next call. @param[out] ref may
 * be NULL. @return 1 (an event), 0 (end), WK_ECORRUPT or -errno.
 */
int wk_store_iter_next(struct wk_store_iter *it, const struct wk_event **ev,
                       struct wk_store_ref *ref);
/** NULL allowed. @return NULL. */
struct wk_store_iter *wk_store_iter_free(struct wk_store_iter *it);

/** One alert as stored (borrowed from the reader's snapshot). */
struct wk_store_alert {
    uint64_t id;
    const char *json; /* not NUL-terminated */
    size_t len;
    const struct wk_store_ref *refs; /* nrefs */
    size_t nrefs;
};

/**
 * Read the first alert with id >= *id. On success *id is advanced past it (call again to
 * iterate). @param[out] a borrowed until the next call on r: its JSON is the text given
 * to wk_store_alert_add, decompressed into r's scratch when stored as a frame.
 * @return 1 (an alert), 0 (no more), WK_ECORRUPT, -ENOMEM, -errno.
 */
int wk_store_alert_next(struct wk_store_reader *r, uint64_t *id, struct wk_store_alert *a);

/** Container identity JSON (borrowed until the next call on r). @return 0, WK_ENOT_FOUND. */
int wk_store_container_get(struct wk_store_reader *r, const char *id, const char **json,
                           size_t *len);

/** One quarantined input. */
struct wk_store_quarantined {
    uint64_t id;
    int64_t ts;          /* wall clock when quarantined */
    const char *source;  /* NUL-terminated */
    const char *reason;  /* NUL-terminated */
    const void *raw;
    size_t len;
};

/** As wk_store_alert_next, over the quarantine. @return 1, 0, -errno. */
int wk_store_quarantine_next(struct wk_store_reader *r, uint64_t *id,
                             struct wk_store_quarantined *q);

/* ---------------------------------------------------------------------------------- */
/* Stats, verification                                                                 */

struct wk_store_source_stats {
    char name[32];
    uint64_t events;
    uint64_t raw_bytes;
    uint64_t stored_bytes;
    uint32_t dict_id; /* current dictionary, 0 when none */
};

struct wk_store_stats {
    uint64_t events, blocks;
    uint64_t raw_bytes;     /* encoded records, uncompressed */
    uint64_t stored_bytes;  /* block values in LMDB */
    uint64_t first_block, last_block;
    int64_t ts_min, ts_max;
    uint64_t alerts, quarantined, containers, cursors, dictionaries;
    uint8_t head[WK_STORE_HASH_LEN];
    uint64_t map_size;      /* current map size, bytes */
    uint64_t map_used;      /* pages in use x page size */
    uint64_t map_max;
    uint64_t free_pages;    /* pages on LMDB's free list (reused space) */
    uint32_t page_size;
    uint32_t schema;
    size_t nsources;
    struct wk_store_source_stats sources[16];
    uint64_t values;        /* stored values (a merged cold value holds several blocks) */
    uint64_t cold_next;     /* the cold tier's next block: the blocks before it are cold */
};

/** Compute stats from a snapshot (any thread). @return 0 or -errno. */
int wk_store_stats(struct wk_store *st, struct wk_store_stats *out);

struct wk_store_verify_result {
    uint64_t blocks;        /* blocks checked */
    uint64_t checkpoints;   /* signatures checked */
    uint64_t first_bad;     /* id of the first bad block (0 when intact) */
    uint64_t last;          /* id of the last block checked (0: none) */
    char reason[160];       /* what is wrong with it, or "" */
    /* Blocks of rebuild values whose rebuild version this binary lacks: their links and
     * header hashes were checked, their records could not be (WK_EREBUILD). */
    uint64_t unchecked;
    uint64_t first_unchecked; /* 0: none */
    char why_unchecked[256];  /* wk_store_rebuild_why of the first, or "" */
};

/**
 * Walk the hash chain from block `from` (0: the chain start) to the head, recomputing
 * every block's hash from its decompressed records, and check the signed checkpoints.
 * @param[in] pubkey Ed25519 public key to trust (NULL: the store's own signing.pub).
 * @return 0 intact; WK_ECHAIN broken (res names the first bad block and why); WK_EREBUILD
 *         no break found, but res->unchecked blocks are in rebuild values this binary
 *         cannot reproduce (another rebuild version: their records were not checked);
 *         -errno.
 */
int wk_store_verify(struct wk_store *st, uint64_t from, const uint8_t *pubkey,
                    struct wk_store_verify_result *res);

/**
 * Check the blocks from `from` (0: the chain start) to the committed head as
 * wk_store_verify does, linking block `from` to the STORED hash of block from-1 (so
 * consecutive calls, each from the last one's res->last + 1, check the whole chain once),
 * without the checkpoint signatures: the daemon's check of each commit. Any thread.
 * @return 0 intact (res->blocks may be 0: nothing new); WK_ECHAIN; WK_EREBUILD (as for
 *         wk_store_verify); -errno.
 */
int wk_store_verify_blocks(struct wk_store *st, uint64_t from,
                           struct wk_store_verify_result *res);

/**
 * The store's Ed25519 public key (creating the key pair when absent and writable).
 * @param[out] pk WK_STORE_PUBKEY_LEN bytes. @return 0, -errno.
 */
int wk_store_pubkey(struct wk_store *st, uint8_t pk[WK_STORE_PUBKEY_LEN]);

/**
 * Parse a public key as written in DIR/signing.pub (64 hex digits, trailing newline
 * allowed). @return 0 or WK_EPARSE.
 */
int wk_store_pubkey_parse(const char *text, size_t len, uint8_t pk[WK_STORE_PUBKEY_LEN]);

#endif /* WK_STORE_H */
