/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Integrity: the per-block hash chain (BLAKE2b-256 over the previous hash, the block id,
 * the header fields and the hash of the UNCOMPRESSED records - SHA-256, or BLAKE2b-256 for
 * blocks written before, as the header's flags say -, so re-compression never breaks it),
 * Ed25519-signed checkpoints of the chain head, the signing key files, and
 * wk_store_verify, which walks it all and names the first bad block.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#endif

#include <openssl/evp.h>
#include <sodium.h>

#include "rebuild_private.h"
#include "store_private.h"
#include "watchkeeper/error.h"
#include "watchkeeper/timefmt.h"

static const char ckpt_domain[] = "wk-ckpt-v1";

int wk__records_alg = WK__RH_AUTO;

static bool cpu_sha256;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void cpu_probe(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    cpu_sha256 = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 29) & 1; /* SHA */
#elif defined(__aarch64__) && defined(HWCAP_SHA2)
    cpu_sha256 = (getauxval(AT_HWCAP) & HWCAP_SHA2) != 0;
#else
    cpu_sha256 = false;
#endif
}

bool wk__records_sha256(void)
{
    if (wk__records_alg != WK__RH_AUTO)
        return wk__records_alg == WK__RH_SHA256;
    pthread_once(&cpu_once, cpu_probe);
    return cpu_sha256;
}

void wk__chain_hash(uint64_t id, const uint8_t *hdr, uint8_t out[32])
{
    crypto_generichash_state s;
    uint8_t idb[8];
    wk__put_u64be(idb, id);
    crypto_generichash_init(&s, NULL, 0, 32);
    crypto_generichash_update(&s, hdr + WK__BLK_OFF_PREV, 32);
    crypto_generichash_update(&s, idb, 8);
    /* count, raw size; then ts_min, ts_max: not the dictionary id nor the format byte,
     * which re-compression may change. */
    crypto_generichash_update(&s, hdr + WK__BLK_OFF_COUNT, 8);
    crypto_generichash_update(&s, hdr + WK__BLK_OFF_TSMIN, 16);
    crypto_generichash_update(&s, hdr + WK__BLK_OFF_RHASH, 32);
    /* The records hash's algorithm, when it is SHA-256: one more byte, so a block's
     * algorithm cannot be switched without breaking the chain (docs/store.md "Records
     * hash"), and a BLAKE2b block's hash is the 96-byte input it always was. */
    if (hdr[WK__BLK_OFF_FLAGS] & WK__BLK_FLAG_SHA256) {
        static const uint8_t tag = WK__BLK_FLAG_SHA256;
        crypto_generichash_update(&s, &tag, 1);
    }
    crypto_generichash_final(&s, out, 32);
}

/* SHA-256 through libcrypto (the CPU's SHA extensions where it has them: 1.7 GB/s here
 * against libsodium's BLAKE2b at 0.6 GB/s), its implementation fetched once for the
 * process rather than looked up by name on every call. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int wk__records_hash(const uint8_t *hdr, const uint8_t *raw, size_t len, uint8_t out[32])
{
    if (!(hdr[WK__BLK_OFF_FLAGS] & WK__BLK_FLAG_SHA256)) {
        crypto_generichash(out, 32, raw, len, NULL, 0);
        return 0;
    }
    if (pthread_once(&sha256_once, sha256_fetch) != 0 || !sha256_md)
        return WK_EUNSUPPORTED; /* no SHA-256 in this libcrypto (its providers) */
    unsigned int n = 0;
    return EVP_Digest(raw, len, out, &n, sha256_md, NULL) && n == 32 ? 0 : WK_EUNSUPPORTED;
}

static int write_file(const char *path, const void *p, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    ssize_t w = write(fd, p, n);
    int rc = (w == (ssize_t)n) ? 0 : (w < 0 ? -errno : -EIO);
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    close(fd);
    if (rc < 0)
        unlink(path);
    return rc;
}

static int read_file(const char *path, void *p, size_t cap, size_t *n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t r = read(fd, p, cap);
    int rc = r < 0 ? -errno : 0;
    close(fd);
    *n = r < 0 ? 0 : (size_t)r;
    return rc;
}

static void pub_path(const struct wk_store *st, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/signing.pub", st->dir);
}

/* The public key file is hex text (64 digits and a newline): easy to copy elsewhere. */
int wk_store_pubkey_parse(const char *text, size_t len, uint8_t pk[WK_STORE_PUBKEY_LEN])
{
    size_t bin = 0;
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    if (sodium_hex2bin(pk, WK_STORE_PUBKEY_LEN, text, len, NULL, &bin, NULL) != 0 ||
        bin != WK_STORE_PUBKEY_LEN)
        return WK_EPARSE;
    return 0;
}

int wk__key_load(struct wk_store *st, bool create)
{
    if (st->have_key)
        return 0;
    size_t n = 0;
    int rc = read_file(st->key_path, st->sk, sizeof(st->sk), &n);
    if (rc == -ENOENT && create) {
        crypto_sign_keypair(st->pk, st->sk);
        rc = write_file(st->key_path, st->sk, sizeof(st->sk), 0600);
        if (rc == -EEXIST) /* another process created it first: use theirs */
            rc = read_file(st->key_path, st->sk, sizeof(st->sk), &n);
        else
            n = sizeof(st->sk);
    }
    if (rc < 0)
        return rc;
    if (n != sizeof(st->sk))
        return WK_ECORRUPT;
    crypto_sign_ed25519_sk_to_pk(st->pk, st->sk);
    char path[4096], hex[2 * WK_STORE_PUBKEY_LEN + 2];
    pub_path(st, path, sizeof(path));
    sodium_bin2hex(hex, sizeof(hex), st->pk, WK_STORE_PUBKEY_LEN);
    hex[2 * WK_STORE_PUBKEY_LEN] = '\n';
    rc = write_file(path, hex, 2 * WK_STORE_PUBKEY_LEN + 1, 0644);
    if (rc < 0 && rc != -EEXIST)
        return rc;
    st->have_key = true;
    return 0;
}

int wk_store_pubkey(struct wk_store *st, uint8_t pk[WK_STORE_PUBKEY_LEN])
{
    if (!st->rdonly) {
        int rc = wk__key_load(st, true);
        if (rc < 0)
            return rc;
        memcpy(pk, st->pk, WK_STORE_PUBKEY_LEN);
        return 0;
    }
    char path[4096], text[256];
    size_t n;
    pub_path(st, path, sizeof(path));
    int rc = read_file(path, text, sizeof(text), &n);
    if (rc < 0)
        return rc;
    return wk_store_pubkey_parse(text, n, pk);
}

static void ckpt_message(uint8_t msg[10 + 8 + 8 + 32], uint64_t id, int64_t t,
                         const uint8_t *hash)
{
    memcpy(msg, ckpt_domain, 10);
    wk__put_u64le(msg + 10, id);
    wk__put_u64le(msg + 18, (uint64_t)t);
    memcpy(msg + 26, hash, 32);
}

int wk__checkpoint_put(struct wk_store *st, MDB_txn *txn, uint64_t id, const uint8_t *hash)
{
    int rc = wk__key_load(st, true);
    if (rc < 0)
        return rc;
    uint8_t msg[58], val[8 + 8 + 32 + 64], key[5 + 8];
    int64_t t = wk_time_now_ns();
    ckpt_message(msg, id, t, hash);
    wk__put_u64le(val, id);
    wk__put_u64le(val + 8, (uint64_t)t);
    memcpy(val + 16, hash, 32);
    crypto_sign_detached(val + 48, NULL, msg, sizeof(msg), st->sk);
    memcpy(key, "ckpt:", 5);
    wk__put_u64be(key + 5, id);
    MDB_val k = {sizeof(key), key}, v = {sizeof(val), val};
    return mdb_put(txn, st->dbi[WK__DB_META], &k, &v, 0);
}

static uint64_t value_mac(const struct wk_store *st, const uint8_t *val, size_t vlen)
{
    uint8_t mac[crypto_shorthash_BYTES];
    crypto_shorthash(mac, val, vlen, st->wrote_key);
    return wk__get_u64le(mac);
}

void wk__chain_wrote(struct wk_store *st, uint64_t id, const uint8_t *val, size_t vlen)
{
    uint64_t mac = value_mac(st, val, vlen);
    pthread_mutex_lock(&st->wrote_mu);
    st->wrote[id % WK__WROTE_SLOTS] = (struct wk__wrote){ .id = id, .mac = mac };
    pthread_mutex_unlock(&st->wrote_mu);
}

/* Is the value at `key` (one block) byte for byte what this process's writer committed? */
static bool value_as_written(struct wk_store *st, uint64_t key, const uint8_t *val,
                             size_t vlen)
{
    pthread_mutex_lock(&st->wrote_mu);
    struct wk__wrote e = st->wrote[key % WK__WROTE_SLOTS];
    pthread_mutex_unlock(&st->wrote_mu);
    return e.id == key && key && e.mac == value_mac(st, val, vlen);
}

static int bad(struct wk_store_verify_result *res, uint64_t id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(struct wk_store_verify_result *res, uint64_t id, const char *fmt, ...)
{
    va_list ap;
    res->first_bad = id;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
    return WK_ECHAIN;
}

/* Check one block (its header h and its uncompressed records raw, or NULL when its value
 * did not decompress: why in zerr) against its expected id and predecessor hash. `as_written`:
 * its stored value is byte for byte what this process's writer committed, so its records
 * hash and count (computed by the writer from the bytes it compressed) hold: raw is not
 * needed. */
static int check_block(uint64_t id, const uint8_t *h, const uint8_t *raw, size_t rlen,
                       int zerr, bool as_written, const uint8_t *prev,
                       struct wk_store_verify_result *res)
{
    uint8_t hash[32];
    int rc;
    if (wk__blk_format(h) != WK__BLK_FORMAT && wk__blk_format(h) != WK__BLK_FORMAT2)
        return bad(res, id, "block %llu: bad header", (unsigned long long)id);
    /* A flag this binary does not know may change what the header means (as SHA-256 did):
     * named, not guessed at. */
    if (h[WK__BLK_OFF_FLAGS] & ~WK__BLK_FLAGS_KNOWN)
        return bad(res, id, "block %llu: unknown header flags 0x%02x", (unsigned long long)id,
                   h[WK__BLK_OFF_FLAGS]);
    if (prev && memcmp(h + WK__BLK_OFF_PREV, prev, 32) != 0)
        return bad(res, id, "block %llu: previous-block hash does not match (block removed, "
                   "reordered or altered before it)", (unsigned long long)id);
    if (as_written)
        goto chain;
    if (!raw)
        return bad(res, id, "block %llu: payload does not decompress (%s)",
                   (unsigned long long)id, wk_strerror(zerr));
    if ((rc = wk__records_hash(h, raw, rlen, hash)) < 0)
        return rc;
    if (memcmp(hash, h + WK__BLK_OFF_RHASH, 32) != 0)
        return bad(res, id, "block %llu: records hash does not match its contents",
                   (unsigned long long)id);
    struct wk__blkview view = {0};
    uint32_t count = 0;
    rc = wk__blkview_open(&view, wk__blk_format(h), raw, rlen);
    if (rc == 0)
        rc = wk__blkview_count(&view, &count);
    wk__blkview_fini(&view);
    if (rc == -ENOMEM)
        return rc;
    if (rc < 0 || count != wk__get_u32le(h + WK__BLK_OFF_COUNT))
        return bad(res, id, "block %llu: record count does not match its header",
                   (unsigned long long)id);
chain:
    wk__chain_hash(id, h, hash);
    if (memcmp(hash, h + WK__BLK_OFF_HASH, 32) != 0)
        return bad(res, id, "block %llu: header hash does not match (header altered or "
                   "block moved)", (unsigned long long)id);
    return 0;
}

/* link: check block `from` against the stored hash of block from-1 (else trust it);
 * sigs: check the signed checkpoints too. */
static int verify_impl(struct wk_store *st, uint64_t from, const uint8_t *pubkey,
                       struct wk_store_verify_result *res, bool link, bool sigs)
{
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    ZSTD_DCtx *dctx = NULL; /* made at the first value decompressed: the per-commit check
                             * of values as written decompresses none */
    struct wk__buf raw = {0};
    uint8_t prev[32], pk[32];
    bool have_prev = false, have_pk = false;
    uint64_t first = 1, head_id = 0, last = 0;
    uint8_t head_hash[32];
    bool have_head = false;
    int rc;
    memset(res, 0, sizeof(*res));
    memset(prev, 0, sizeof(prev));
    if (pubkey) {
        memcpy(pk, pubkey, 32);
        have_pk = true;
    } else if (sigs && wk_store_pubkey(st, pk) == 0) {
        have_pk = true;
    }
    if ((rc = wk__store_rdtxn(st, &txn)) < 0)
        goto out;
    MDB_val k = {5, "start"}, v;
    if (mdb_get(txn, st->dbi[WK__DB_META], &k, &v) == 0 && v.mv_size >= 40) {
        first = wk__get_u64le(v.mv_data);
        memcpy(prev, (uint8_t *)v.mv_data + 8, 32);
    }
    k.mv_size = 4;
    k.mv_data = "head";
    if (mdb_get(txn, st->dbi[WK__DB_META], &k, &v) == 0 && v.mv_size >= 40) {
        head_id = wk__get_u64le(v.mv_data);
        memcpy(head_hash, (uint8_t *)v.mv_data + 8, 32);
        have_head = true;
    }
    have_prev = true;
    uint64_t expect = first;
    if (from > first) {
        expect = from;
        have_prev = false; /* trust the stored predecessor hash of the first block checked */
    }
    struct wk__blkloc loc;
    if (from > first && link) {
        rc = wk__store_block_find(st, txn, from - 1, &loc);
        if (rc == WK_ENOT_FOUND) {
            rc = bad(res, from - 1, "block %llu is missing", (unsigned long long)(from - 1));
            goto out;
        }
        if (rc < 0) {
            rc = bad(res, from - 1, "block %llu: bad header", (unsigned long long)(from - 1));
            goto out;
        }
        memcpy(prev, loc.hdr + WK__BLK_OFF_HASH, 32);
        have_prev = true;
    }
    if ((rc = mdb_cursor_open(txn, st->dbi[WK__DB_BLOCKS], &c)) != 0) {
        rc = wk__mdb_err(rc);
        goto out;
    }
    /* Start at the value holding block `expect` (a merged one may begin below it). */
    uint8_t kb[8];
    wk__put_u64be(kb, expect);
    if (wk__store_block_find(st, txn, expect, &loc) == 0)
        wk__put_u64be(kb, loc.key);
    k.mv_size = 8;
    k.mv_data = kb;
    MDB_cursor_op op = MDB_SET_RANGE;
    const uint64_t start = expect;
    rc = 0;
    for (;;) {
        int mrc = mdb_cursor_get(c, &k, &v, op);
        op = MDB_NEXT;
        if (mrc == MDB_NOTFOUND)
            break;
        if (mrc != 0) {
            rc = bad(res, expect, "store unreadable at block %llu: %s",
                     (unsigned long long)expect, mdb_strerror(mrc));
            goto out;
        }
        uint64_t key = k.mv_size == 8 ? wk__get_u64be(k.mv_data) : 0;
        if ((rc = wk__blkloc_init(key, v.mv_data, v.mv_size, 0, &loc)) < 0) {
            rc = bad(res, key < start ? start : key, "block %llu: bad header",
                     (unsigned long long)(key < start ? start : key));
            goto out;
        }
        /* The per-commit check (link) skips decompressing a value this process wrote
         * and that is still byte for byte as written; else decompress the value once for
         * all its blocks. */
        bool as_written = link && loc.nmembers == 1 &&
                          value_as_written(st, key, v.mv_data, v.mv_size);
        if (!as_written && !dctx && !(dctx = ZSTD_createDCtx())) {
            rc = -ENOMEM;
            goto out;
        }
        int zerr = as_written ? 0
                              : wk__store_block_raw(st, txn, dctx, v.mv_data, v.mv_size, &raw);
        if (zerr == -ENOMEM) {
            rc = zerr;
            goto out;
        }
        /* A rebuild value of another rebuild version: its records cannot be reproduced
         * here, so they cannot be checked; its blocks' links and header hashes still
         * are. Reported apart (WK_EREBUILD), never as a break. */
        bool unchecked = zerr == WK_EREBUILD;
        if (unchecked)
            wk__rebuild_why_block(key, loc.nmembers);
        for (uint32_t m = 0; m < loc.nmembers; m++) {
            uint64_t id = key + m;
            /* Below the chain start (blocks of a merged value that retention cut) or below
             * where this walk starts. */
            if (id < first || id < start)
                continue;
            if (id != expect) {
                rc = bad(res, expect, "block %llu is missing (next stored block is %llu)",
                         (unsigned long long)expect, (unsigned long long)id);
                goto out;
            }
            if ((rc = wk__blkloc_init(key, v.mv_data, v.mv_size, m, &loc)) < 0 ||
                (zerr == 0 && !as_written &&
                 (loc.off > raw.len || loc.len > raw.len - loc.off))) {
                rc = bad(res, id, "block %llu: bad header", (unsigned long long)id);
                goto out;
            }
            if ((rc = check_block(id, loc.hdr, zerr == 0 && !as_written ? raw.p + loc.off : NULL,
                                  loc.len, zerr,
                                  as_written || unchecked, have_prev ? prev : NULL, res)) < 0)
                goto out;
            if (unchecked && !res->unchecked++) {
                res->first_unchecked = id;
                wk_store_rebuild_why(res->why_unchecked, sizeof(res->why_unchecked));
            }
            memcpy(prev, loc.hdr + WK__BLK_OFF_HASH, 32);
            have_prev = true;
            res->blocks++;
            last = id;
            expect = id + 1;
        }
    }
    if (have_head && head_id >= expect) {
        rc = bad(res, expect, "the chain head is block %llu but the store ends at block %llu "
                 "(blocks removed from the end)", (unsigned long long)head_id,
                 (unsigned long long)(expect - 1));
        goto out;
    }
    if (have_head && last == head_id && res->blocks && memcmp(prev, head_hash, 32) != 0) {
        rc = bad(res, head_id, "block %llu: hash differs from the recorded chain head",
                 (unsigned long long)head_id);
        goto out;
    }
    res->last = last;
    rc = 0;
    if (!sigs)
        goto out;
    /* Signed checkpoints. */
    mdb_cursor_close(c);
    c = NULL;
    if ((rc = mdb_cursor_open(txn, st->dbi[WK__DB_META], &c)) != 0) {
        rc = wk__mdb_err(rc);
        goto out;
    }
    k.mv_size = 5;
    k.mv_data = "ckpt:";
    op = MDB_SET_RANGE;
    rc = 0;
    while (mdb_cursor_get(c, &k, &v, op) == 0) {
        op = MDB_NEXT;
        if (k.mv_size != 13 || memcmp(k.mv_data, "ckpt:", 5) != 0)
            break;
        const uint8_t *p = v.mv_data;
        if (v.mv_size != 112) {
            rc = bad(res, wk__get_u64be((uint8_t *)k.mv_data + 5), "malformed checkpoint");
            goto out;
        }
        uint64_t id = wk__get_u64le(p);
        if (id < from || id < first)
            continue;
        if (!have_pk) {
            rc = bad(res, id, "checkpoint at block %llu: no public key to check it "
                     "(use --pubkey)", (unsigned long long)id);
            goto out;
        }
        uint8_t msg[58];
        ckpt_message(msg, id, (int64_t)wk__get_u64le(p + 8), p + 16);
        if (crypto_sign_verify_detached(p + 48, msg, sizeof(msg), pk) != 0) {
            rc = bad(res, id, "checkpoint at block %llu: signature does not verify",
                     (unsigned long long)id);
            goto out;
        }
        if (id > last) {
            rc = bad(res, last + 1, "a signed checkpoint names block %llu but the store ends "
                     "at block %llu (blocks removed from the end)", (unsigned long long)id,
                     (unsigned long long)last);
            goto out;
        }
        if (wk__store_block_find(st, txn, id, &loc) != 0 ||
            memcmp(loc.hdr + WK__BLK_OFF_HASH, p + 16, 32) != 0) {
            rc = bad(res, id, "block %llu: hash differs from its signed checkpoint",
                     (unsigned long long)id);
            goto out;
        }
        res->checkpoints++;
    }
    rc = 0;
out:
    if (rc == 0 && res->unchecked)
        rc = WK_EREBUILD;
    if (c)
        mdb_cursor_close(c);
    wk__store_rdtxn_end(st, txn);
    ZSTD_freeDCtx(dctx);
    wk__buf_fini(&raw);
    return rc;
}

int wk_store_verify(struct wk_store *st, uint64_t from, const uint8_t *pubkey,
                    struct wk_store_verify_result *res)
{
    return verify_impl(st, from, pubkey, res, false, true);
}

int wk_store_verify_blocks(struct wk_store *st, uint64_t from,
                           struct wk_store_verify_result *res)
{
    return verify_impl(st, from, NULL, res, true, false);
}
