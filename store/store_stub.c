/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder implementation of store.h so that the API links while the real store lands:
 * every call fails with -ENOSYS. Replaced file by file by store.c, block.c, chain.c. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "watchkeeper/store.h"

void wk_store_opts_init(struct wk_store_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->block_raw_max = 256u << 10;
    opts->block_age_ns = 1000000000;
    opts->commit_interval_ns = 100000000;
    opts->commit_bytes = 1u << 20;
    opts->zstd_level = 3;
    opts->dictionaries = true;
    opts->map_initial = 64ull << 20;
    opts->map_max = 64ull << 30;
    opts->fsync = true;
    opts->checkpoint_blocks = 256;
}

int wk_store_open(struct wk_store **out, const char *dir, const struct wk_store_opts *opts)
{
    *out = NULL;
    return -ENOSYS;
}
struct wk_store *wk_store_close(struct wk_store *st) { return NULL; }
const char *wk_store_dir(const struct wk_store *st) { return ""; }
int wk_store_add(struct wk_store *st, const struct wk_event *ev,
                 const struct wk_store_cursor *cur, struct wk_store_ref *ref) { return -ENOSYS; }
int wk_store_cursor_set(struct wk_store *st, const struct wk_store_cursor *cur) { return -ENOSYS; }
int wk_store_cursor_get(struct wk_store *st, const char *source, void *buf, size_t cap,
                        size_t *len) { return -ENOSYS; }
int wk_store_alert_add(struct wk_store *st, const char *json, size_t len,
                       const struct wk_store_ref *refs, size_t nrefs, uint64_t *id) { return -ENOSYS; }
int wk_store_quarantine_add(struct wk_store *st, const char *source, const char *reason,
                            const void *raw, size_t len) { return -ENOSYS; }
int wk_store_container_put(struct wk_store *st, const char *id, const char *json,
                           size_t len) { return -ENOSYS; }
int wk_store_tick(struct wk_store *st, int64_t now_mono_ns) { return -ENOSYS; }
int wk_store_flush(struct wk_store *st) { return -ENOSYS; }
int wk_store_delivery_set(struct wk_store *st, const char *name, uint64_t alert_id) { return -ENOSYS; }
int wk_store_delivery_get(struct wk_store *st, const char *name, uint64_t *alert_id) { return -ENOSYS; }
int wk_store_retain(struct wk_store *st, int64_t now_ns, uint64_t *removed) { return -ENOSYS; }
int wk_store_reader_open(struct wk_store *st, struct wk_store_reader **out) { return -ENOSYS; }
struct wk_store_reader *wk_store_reader_close(struct wk_store_reader *r) { return NULL; }
int wk_store_candidates(struct wk_store_reader *r, const struct wk_store_filter *f,
                        uint64_t **ids, size_t *n) { return -ENOSYS; }
int wk_store_block_info(struct wk_store_reader *r, uint64_t id,
                        struct wk_store_block_info *info) { return -ENOSYS; }
int wk_store_block_scan(struct wk_store_reader *r, uint64_t id,
                        const struct wk_store_filter *f, wk_store_event_cb cb, void *arg) { return -ENOSYS; }
int wk_store_event_get(struct wk_store_reader *r, struct wk_store_ref ref,
                       struct wk_event *ev) { return -ENOSYS; }
int wk_store_iter_new(struct wk_store_reader *r, const struct wk_store_filter *f,
                      struct wk_store_iter **out) { return -ENOSYS; }
int wk_store_iter_next(struct wk_store_iter *it, const struct wk_event **ev,
                       struct wk_store_ref *ref) { return -ENOSYS; }
struct wk_store_iter *wk_store_iter_free(struct wk_store_iter *it) { return NULL; }
int wk_store_alert_next(struct wk_store_reader *r, uint64_t *id, struct wk_store_alert *a) { return -ENOSYS; }
int wk_store_container_get(struct wk_store_reader *r, const char *id, const char **json,
                           size_t *len) { return -ENOSYS; }
int wk_store_quarantine_next(struct wk_store_reader *r, uint64_t *id,
                             struct wk_store_quarantined *q) { return -ENOSYS; }
int wk_store_stats(struct wk_store *st, struct wk_store_stats *out) { return -ENOSYS; }
int wk_store_verify(struct wk_store *st, uint64_t from, const uint8_t *pubkey,
                    struct wk_store_verify_result *res) { return -ENOSYS; }
int wk_store_pubkey(struct wk_store *st, uint8_t pk[WK_STORE_PUBKEY_LEN]) { return -ENOSYS; }
