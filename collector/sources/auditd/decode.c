/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Value decoding and naming for auditd records: hex-encoded strings, record type numbers,
 * arch/syscall/errno names (Debian's libaudit tables, cached), uid/gid names (cached
 * getpwuid_r/getgrgid_r, formatted like auparse) and SOCKADDR decoding.
 */
#include "config.h"

#include <arpa/inet.h>
#include <grp.h>
#include <libaudit.h>
#include <pwd.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "auditd_private.h"

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Hex digit values plus one (0: not a hex digit), so the decode loop has no branches but
 * its check. */
#define HX(c, v) [c] = (v) + 1
static const unsigned char hex1[256] = {
    HX('0', 0), HX('1', 1), HX('2', 2), HX('3', 3), HX('4', 4), HX('5', 5), HX('6', 6),
    HX('7', 7), HX('8', 8), HX('9', 9), HX('A', 10), HX('B', 11), HX('C', 12), HX('D', 13),
    HX('E', 14), HX('F', 15), HX('a', 10), HX('b', 11), HX('c', 12), HX('d', 13),
    HX('e', 14), HX('f', 15),
};

ssize_t wk__au_unhex(const char *s, size_t len, char *out)
{
    if (len == 0 || (len & 1))
        return -1;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
#if defined(__SSE2__)
    /* sixteen digits (eight bytes) at a time: each digit's value, all of them checked */
    const __m128i c0 = _mm_set1_epi8('0'), ca = _mm_set1_epi8('a'), c20 = _mm_set1_epi8(0x20),
                  c9 = _mm_set1_epi8(9), c5 = _mm_set1_epi8(5), c10 = _mm_set1_epi8(10),
                  lo8 = _mm_set1_epi16(0xff);
    for (; i + 16 <= len; i += 16) {
        const __m128i w = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
        const __m128i d = _mm_sub_epi8(w, c0);
        const __m128i l = _mm_sub_epi8(_mm_or_si128(w, c20), ca);
        const __m128i isd = _mm_cmpeq_epi8(_mm_min_epu8(d, c9), d);
        const __m128i isl = _mm_cmpeq_epi8(_mm_min_epu8(l, c5), l);
        if (_mm_movemask_epi8(_mm_or_si128(isd, isl)) != 0xFFFF)
            return -1;
        const __m128i v = _mm_or_si128(_mm_and_si128(isd, d),
                                       _mm_andnot_si128(isd, _mm_add_epi8(l, c10)));
        /* in each 16-bit lane: the high digit in the low byte, the low digit above it */
        const __m128i b = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(v, lo8), 4),
                                       _mm_srli_epi16(v, 8));
        _mm_storel_epi64((__m128i *)(void *)(out + i / 2), _mm_packus_epi16(b, b));
    }
#endif
    for (; i < len; i += 2) {
        unsigned hi = hex1[u[i]], lo = hex1[u[i + 1]];
        if (!hi || !lo)
            return -1;
        out[i / 2] = (char)((hi - 1) << 4 | (lo - 1));
    }
    return (ssize_t)(len / 2);
}

/* Fields the kernel or auditd hex-encodes when they hold a space, a '"', a control or a
 * non-ASCII byte (auparse's ESCAPED field types; audit-userspace lib/fieldtab.h). */
#define N(s) { s, sizeof(s) - 1 }
static const struct {
    const char *s;
    size_t len;
} encoded_names[] = {
    N("path"), N("comm"), N("exe"), N("file"), N("name"), N("watch"), N("cwd"), N("cmd"),
    N("acct"), N("dir"), N("key"), N("vm"), N("old-chardev"), N("new-chardev"), N("old-disk"),
    N("new-disk"), N("old-fs"), N("new-fs"), N("old-net"), N("new-net"), N("device"),
    N("cgroup"), N("ocomm"), N("grp"), N("new_group"), N("sw"), N("root_dir"),
    N("invalid_context"), N("apparmor"), N("operation"), N("denied_mask"), N("info"),
    N("profile"), N("requested_mask"), N("old-rng"), N("new-rng"), N("proctitle"), N("data"),
    N("new_user"),
};

/* For each name length 2..15, a bitmap of the first letters (mod 64) the table holds:
 * nearly every field (arch, syscall, pid, uid, ...) is ruled out by one test. */
static uint64_t encoded_first[16];
static pthread_once_t encoded_once = PTHREAD_ONCE_INIT;

static void encoded_first_init(void)
{
    for (size_t i = 0; i < WK_ARRAY_SIZE(encoded_names); i++)
        encoded_first[encoded_names[i].len] |= UINT64_C(1) << (encoded_names[i].s[0] & 63);
}

bool wk__au_is_encoded_field(int typeno, const char *k, size_t klen)
{
    if (typeno == AUDIT_EXECVE && klen >= 2 && k[0] == 'a' && k[1] >= '0' && k[1] <= '9') {
        /* a0, a1[2]; not a0_len */
        for (size_t i = 1; i < klen; i++) {
            if (k[i] == '_')
                return false;
        }
        return true;
    }
    /* most fields are numbers and flags: rule them out by length and first letter */
    if (klen < 2 || klen > 15)
        return false;
    pthread_once(&encoded_once, encoded_first_init);
    if (!(encoded_first[klen] >> (k[0] & 63) & 1u))
        return false;
    for (size_t i = 0; i < WK_ARRAY_SIZE(encoded_names); i++) {
        if (encoded_names[i].len == klen && encoded_names[i].s[0] == k[0] &&
            memcmp(encoded_names[i].s, k, klen) == 0)
            return true;
    }
    return false;
}

/* Record type names to numbers: libaudit's table behind a small cache, since the same
 * dozen names come back on every line. */
#define TYPE_CACHE 256
static __thread struct {
    char name[28];
    uint8_t len;
    int no;
} type_cache[TYPE_CACHE];

int wk__au_type_number(const char *name, size_t len)
{
    if (len == 0 || len >= sizeof(type_cache[0].name))
        return 0;
    uint32_t h = wk_key_hash(name, len) & (TYPE_CACHE - 1);
    if (type_cache[h].len == len && memcmp(type_cache[h].name, name, len) == 0)
        return type_cache[h].no;
    char buf[32];
    memcpy(buf, name, len);
    buf[len] = 0;
    int no = audit_name_to_msg_type(buf);
    if (no < 0)
        no = 0;
    memcpy(type_cache[h].name, name, len);
    type_cache[h].len = (uint8_t)len;
    type_cache[h].no = no;
    return no;
}

bool wk__au_is_single(int t)
{
    /* auditd.conf(5) NOTES: types below AUDIT_FIRST_EVENT (1300), at or above
     * AUDIT_FIRST_ANOM_MSG (2100) or in the MAC_UNLBL..MAC_CALIPSO range stand alone;
     * so do the 1400-1499 AVC-style records sent without a syscall context, which we cannot
     * know here, so they wait for EOE or the timeout. EOE itself closes, and is handled by
     * the assembler. Unknown types (0) are treated as single. */
    if (t == 0)
        return true;
    if (t >= 1000 && t < 1100)
        return false; /* kernel records such as LOGIN come with their syscall's records */
    if (t < 1300 || t >= 2100)
        return true;
    if (t >= 1404 && t <= 1420) /* MAC_UNLBL_ALLOW..MAC_CALIPSO_DEL */
        return true;
    return false;
}

const char *wk__au_arch_name(const char *hex, size_t len, int *machine)
{
    static __thread unsigned last_elf = 0;
    static __thread int last_machine = -1;
    static __thread const char *last_name = NULL;
    unsigned elf = 0;
    if (len == 0 || len > 8)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        int v = hexval((unsigned char)hex[i]);
        if (v < 0)
            return NULL;
        elf = elf << 4 | (unsigned)v;
    }
    if (elf != last_elf || !last_name) {
        int m = audit_elf_to_machine(elf);
        const char *n = m >= 0 ? audit_machine_to_name(m) : NULL;
        if (!n)
            return NULL;
        last_elf = elf;
        last_machine = m;
        last_name = n;
    }
    *machine = last_machine;
    return last_name;
}

#define SC_CACHE 512
static __thread struct {
    int machine;
    const char *names[SC_CACHE];
    bool have[SC_CACHE];
} sc_cache = { .machine = -1 };

const char *wk__au_syscall_name(int machine, long nr)
{
    if (nr < 0 || nr > 100000)
        return NULL;
    if (nr < SC_CACHE) {
        if (sc_cache.machine != machine) {
            memset(sc_cache.have, 0, sizeof(sc_cache.have));
            sc_cache.machine = machine;
        }
        if (!sc_cache.have[nr]) {
            sc_cache.names[nr] = audit_syscall_to_name((int)nr, machine);
            sc_cache.have[nr] = true;
        }
        return sc_cache.names[nr];
    }
    return audit_syscall_to_name((int)nr, machine);
}

const char *wk__au_errno_name(int err)
{
    return audit_errno_to_name(err);
}

/* ---- uid / gid names ---- */

#define ID_CACHE 256
struct id_entry {
    bool used;
    bool group;
    bool known;
    uint32_t id;
    uint8_t len;
    char name[48];
};
struct wk__au_idcache {
    struct id_entry e[2][ID_CACHE]; /* users, groups; 4-way probing */
    unsigned victim;
};

struct wk__au_idcache *wk__au_idcache_new(void)
{
    return wk_new0(struct wk__au_idcache, 1);
}

struct wk__au_idcache *wk__au_idcache_free(struct wk__au_idcache *c)
{
    free(c);
    return NULL;
}

int wk__au_id_kind(const char *k, size_t klen)
{
    /* auparse: AUPARSE_TYPE_UID for auid uid euid suid fsuid ouid oauid iuid id(user mgmt)
     * inode_uid sauid obj_uid ... ; AUPARSE_TYPE_GID for gid egid sgid fsgid ogid obj_gid
     * inode_gid new_gid. */
    if (klen == 2 && k[0] == 'i' && k[1] == 'd')
        return 1; /* user management records */
    if (klen < 3 || klen > 9)
        return 0;
    if (memcmp(k + klen - 3, "uid", 3) == 0) {
        static const struct {
            const char *s;
            size_t len;
        } u[] = { N("uid"), N("auid"), N("euid"), N("suid"), N("fsuid"), N("ouid"), N("oauid"),
                  N("iuid"), N("sauid"), N("obj_uid"), N("inode_uid"), N("old-auid") };
        for (size_t i = 0; i < WK_ARRAY_SIZE(u); i++) {
            if (u[i].len == klen && memcmp(u[i].s, k, klen) == 0)
                return 1;
        }
        return 0;
    }
    if (memcmp(k + klen - 3, "gid", 3) == 0) {
        static const struct {
            const char *s;
            size_t len;
        } g[] = { N("gid"), N("egid"), N("sgid"), N("fsgid"), N("ogid"), N("obj_gid"),
                  N("inode_gid"), N("new_gid") };
        for (size_t i = 0; i < WK_ARRAY_SIZE(g); i++) {
            if (g[i].len == klen && memcmp(g[i].s, k, klen) == 0)
                return 2;
        }
    }
    return 0;
}

const char *wk__au_id_name(struct wk__au_idcache *c, bool group, const char *v, size_t vlen,
                           size_t *len, bool *known)
{
    uint64_t id = 0;
    *known = false;
    if (vlen == 0 || vlen > 10)
        goto raw;
    for (size_t i = 0; i < vlen; i++) {
        if (v[i] < '0' || v[i] > '9')
            goto raw;
        id = id * 10 + (uint64_t)(v[i] - '0');
    }
    if (id > 0xffffffffull)
        goto raw;
    if (id == 0xffffffffull) {
        *len = 5;
        return "unset";
    }
    if (wk__au_rebuilding) goto raw; /* rebuild.c: the cold tier's rebuild names no user */
    uint32_t h = (uint32_t)id * 2654435761u >> 24;
    struct id_entry *e = NULL;
    for (unsigned w = 0; w < 4 && !e; w++) {
        struct id_entry *x = &c->e[group][(h + w) & (ID_CACHE - 1)];
        if (x->used && x->id == (uint32_t)id)
            e = x;
    }
    if (!e) {
        for (unsigned w = 0; w < 4 && !e; w++) {
            struct id_entry *x = &c->e[group][(h + w) & (ID_CACHE - 1)];
            if (!x->used)
                e = x;
        }
        if (!e)
            e = &c->e[group][(h + (c->victim++ & 3)) & (ID_CACHE - 1)];
        e->used = false;
    }
    if (!e->used) {
        char tmp[2048];
        const char *name = NULL;
        if (group) {
            struct group gr, *res = NULL;
            if (getgrgid_r((gid_t)id, &gr, tmp, sizeof(tmp), &res) == 0 && res)
                name = res->gr_name;
        } else {
            struct passwd pw, *res = NULL;
            if (getpwuid_r((uid_t)id, &pw, tmp, sizeof(tmp), &res) == 0 && res)
                name = res->pw_name;
        }
        e->used = true;
        e->group = group;
        e->id = (uint32_t)id;
        e->known = name && strlen(name) < sizeof(e->name);
        if (e->known)
            e->len = (uint8_t)snprintf(e->name, sizeof(e->name), "%s", name);
        else
            e->len = (uint8_t)snprintf(e->name, sizeof(e->name), "unknown(%d)", (int)(uint32_t)id);
    }
    *known = e->known;
    *len = e->len;
    return e->name;
raw:
    *len = vlen < 63 ? vlen : 63; /* as auparse shows it, cut like the names */
    return v;
}

/* ---- SOCKADDR ---- */

/* The text forms below, built by appending (no format parsing per record): each fits in
 * text[160] (an address is at most 63 bytes). */
static char *put_s(char *o, const char *s)
{
    size_t n = strlen(s);
    memcpy(o, s, n);
    return o + n;
}

static char *put_u(char *o, unsigned v)
{
    char b[12];
    size_t n = 0;
    do {
        b[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *o++ = b[--n];
    return o;
}

/* "{ saddr_fam=FAM laddr=ADDR lport=PORT }" */
static void inet_text(struct wk__au_sockaddr *o, const char *fam)
{
    char *t = put_s(o->text, "{ saddr_fam=");
    t = put_s(t, fam);
    t = put_s(t, " laddr=");
    t = put_s(t, o->addr);
    t = put_s(t, " lport=");
    t = put_u(t, (unsigned)o->port);
    t = put_s(t, " }");
    *t = 0;
}

int wk__au_sockaddr(const char *hex, size_t len, struct wk__au_sockaddr *o)
{
    unsigned char b[256];
    memset(o, 0, sizeof(*o));
    o->port = -1;
    if (len / 2 > sizeof(b) || len < 4)
        return -1;
    ssize_t n = wk__au_unhex(hex, len, (char *)b);
    if (n < 2)
        return -1;
    o->family = b[0] | b[1] << 8;
    switch (o->family) {
    case AF_INET:
        if (n < 8)
            return -1;
        {
            char *a = o->addr; /* as inet_ntop writes it */
            for (int k = 0; k < 4; k++) {
                if (k)
                    *a++ = '.';
                a = put_u(a, b[4 + k]);
            }
            *a = 0;
        }
        o->port = b[2] << 8 | b[3];
        inet_text(o, "inet");
        return 0;
    case AF_INET6:
        if (n < 24)
            return -1;
        inet_ntop(AF_INET6, b + 8, o->addr, sizeof(o->addr));
        o->port = b[2] << 8 | b[3];
        inet_text(o, "inet6");
        return 0;
    case AF_UNIX: {
        size_t plen = 0;
        const unsigned char *pp = b + 2;
        size_t max = (size_t)n - 2;
        if (max > 0 && pp[0] == 0) { /* abstract socket: shown with a leading '@' */
            o->addr[0] = '@';
            for (plen = 1; plen < max && plen < sizeof(o->addr) - 1 && pp[plen]; plen++)
                o->addr[plen] = (char)pp[plen];
            o->addr[plen] = 0;
        } else {
            while (plen < max && plen < sizeof(o->addr) - 1 && pp[plen])
                plen++;
            memcpy(o->addr, pp, plen);
            o->addr[plen] = 0;
        }
        char *t = put_s(o->text, "{ saddr_fam=local path=");
        t = put_s(t, o->addr);
        t = put_s(t, " }");
        *t = 0;
        return 0;
    }
    case AF_NETLINK:
        if (n < 12)
            return -1;
        {
            char *t = put_s(o->text, "{ saddr_fam=netlink nlnk-fam=");
            t = put_u(t, (unsigned)o->family);
            t = put_s(t, " nlnk-pid=");
            t = put_u(t, (unsigned)(b[4] | b[5] << 8 | b[6] << 16 | (unsigned)b[7] << 24));
            t = put_s(t, " }");
            *t = 0;
        }
        return 0;
    default:
        {
            char *t = put_s(o->text, "unknown-family(");
            t = put_u(t, (unsigned)o->family); /* (0..65535) */
            t = put_s(t, ")");
            *t = 0;
        }
        return 0;
    }
}
