/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auditd's field names as static keys: the few hundred names the kernel and auditd write
 * (plus EXECVE's a0..a127 and the ENRICHED uppercase names), each with what normalize.c
 * needs to know about it (hex-encoded? uid or gid? its ENRICHED name), found by the FNV
 * hash the lexer computes while scanning the name. Events point at these names instead of
 * copying them (wk_event_add_str_sn); names not in the table take the ordinary path.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "auditd_private.h"

/* Field names of audit records (audit-userspace lib/fieldtab.h and what the corpus holds). */
static const char *const known[] = {
    "type", "node", "msg", "arch", "syscall", "success", "exit", "items", "ppid", "pid",
    "auid", "uid", "gid", "euid", "suid", "fsuid", "egid", "sgid", "fsgid", "tty", "ses",
    "comm", "exe", "subj", "key", "argc", "item", "name", "inode", "dev", "mode", "ouid",
    "ogid", "rdev", "obj", "nametype", "cap_fp", "cap_fi", "cap_fe", "cap_fver",
    "cap_frootid", "cwd", "proctitle", "saddr", "fp", "fi", "fe", "fver", "frootid", "pp",
    "pi", "pe", "pa", "old_pp", "old_pi", "old_pe", "old_pa", "res", "op", "acct", "exe",
    "hostname", "addr", "terminal", "grantors", "id", "unit", "list", "old", "new", "kind",
    "path", "file", "dir", "perm", "objtype", "keys", "old-ses", "old-auid", "ino", "cmd",
    "family", "table", "entries", "spid", "scontext", "tcontext", "tclass", "seresult",
    "seperms", "sig", "ver", "format", "kernel", "profile", "operation", "apparmor",
    "requested_mask", "denied_mask", "info", "data", "direction", "cipher", "ksize", "mac",
    "pfs", "laddr", "lport", "rport", "prom", "old_prom", "selected-context", "subj_type",
    "peer", "capability", "flags", "len", "size", "icmptype", "igid", "iuid", "ipid",
    "inode_gid", "inode_uid", "obj_gid", "obj_uid", "oauid", "sauid", "new_gid", "new_user",
    "new_group", "grp", "watch", "vm", "old-chardev", "new-chardev", "old-disk", "new-disk",
    "old-fs", "new-fs", "old-net", "new-net", "device", "cgroup", "ocomm", "opid", "oses",
    "sw", "root_dir", "invalid_context", "old-rng", "new-rng", "auditd_pid", "pid_ns",
    "op_type", "enforcing", "old_enforcing", "bool", "val", "old_val", "permissive",
    "audit_enabled", "old", "audit_backlog_limit", "audit_failure", "feature", "old_lock",
    "lock", "nargs", "fd0", "fd1", "a0_len", "uuid", "vm-pid", "vm-ctx", "img-ctx", "model",
    "reason", "seuser", "serole", "setype", "selevel", "trans", "rule", "filetype",
    "nlnk-fam", "nlnk-pid", "saddr_fam", "src", "dst", "sport", "dport", "proto", "ver",
    "AUID", "UID", "GID", "EUID", "SUID", "FSUID", "EGID", "SGID", "FSGID", "OUID", "OGID",
    "ARCH", "SYSCALL", "SADDR", "EXIT", "ID", "OAUID", "IUID", "IGID", "INODE_UID",
    "INODE_GID", "OBJ_UID", "OBJ_GID", "SAUID", "NEW_GID", "OLD-AUID",
};

#define NAME_MAX_N 512

static struct wk__au_name names[NAME_MAX_N];
static size_t nnames;
static char argnames[WK_AU_ARG_KEYS][6];
struct wk_key wk__au_arg_keys[WK_AU_ARG_KEYS];
const struct wk__au_name *wk__au_arg_names[WK_AU_NAME_ARGS];
static char uppers[64][16];
static size_t nuppers;
const struct wk__au_name *wk__au_name_tab[WK_AU_NAME_TAB];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static struct wk__au_name *add(const char *name)
{
    struct wk_key key = wk_key_init(name);
    const struct wk__au_name *have = wk__au_name_find(key.hash, key.name, key.len);
    if (have)
        return (struct wk__au_name *)have;
    if (nnames == NAME_MAX_N)
        return NULL;
    struct wk__au_name *n = &names[nnames++];
    n->key = key;
    n->idkind = (uint8_t)wk__au_id_kind(name, key.len);
    n->enc = wk__au_is_encoded_field(0, name, key.len);
    n->enc_execve = wk__au_is_encoded_field(1309, name, key.len); /* AUDIT_EXECVE */
    uint32_t i = key.hash & (WK_AU_NAME_TAB - 1);
    while (wk__au_name_tab[i])
        i = (i + 1) & (WK_AU_NAME_TAB - 1);
    wk__au_name_tab[i] = n;
    return n;
}

static const struct {
    const char *name;
    uint8_t fact;
} facts[] = {
    { "auid", WK_AU_F_AUID }, { "arch", WK_AU_F_ARCH }, { "argc", WK_AU_F_ARGC },
    { "comm", WK_AU_F_COMM }, { "cwd", WK_AU_F_CWD }, { "exe", WK_AU_F_EXE },
    { "exit", WK_AU_F_EXIT }, { "euid", WK_AU_F_EUID }, { "key", WK_AU_F_KEY },
    { "name", WK_AU_F_NAME }, { "pid", WK_AU_F_PID }, { "ppid", WK_AU_F_PPID },
    { "res", WK_AU_F_RES }, { "syscall", WK_AU_F_SYSCALL }, { "success", WK_AU_F_SUCCESS },
    { "saddr", WK_AU_F_SADDR }, { "uid", WK_AU_F_UID }, { "proctitle", WK_AU_F_PROCTITLE },
    { "nametype", WK_AU_F_NAMETYPE }, { "UID", WK_AU_F_UID_U }, { "AUID", WK_AU_F_AUID_U },
};

static void names_init(void)
{
    for (size_t i = 0; i < WK_ARRAY_SIZE(known); i++)
        add(known[i]);
    for (int i = 0; i < WK_AU_ARG_KEYS; i++) {
        snprintf(argnames[i], sizeof(argnames[i]), "a%d", i);
        wk__au_arg_keys[i] = wk_key_init(argnames[i]);
        if (i < WK_AU_NAME_ARGS) {
            struct wk__au_name *x = add(argnames[i]);
            if (x)
                x->argp1 = (uint16_t)(i + 1);
            wk__au_arg_names[i] = x;
        }
    }
    /* the ENRICHED name of each uid/gid field */
    for (size_t i = 0, n = nnames; i < n; i++) {
        struct wk__au_name *x = &names[i];
        if (!x->idkind || x->key.len >= sizeof(uppers[0]) || nuppers == WK_ARRAY_SIZE(uppers))
            continue;
        char *u = uppers[nuppers];
        for (size_t j = 0; j <= x->key.len; j++) {
            char c = x->key.name[j];
            u[j] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
        }
        struct wk__au_name *up = add(u);
        if (up && up->key.name == u)
            nuppers++;
        x->upper = up;
    }
    for (size_t i = 0; i < WK_ARRAY_SIZE(facts); i++) {
        struct wk__au_name *x = (struct wk__au_name *)wk__au_name_find(
            wk_key_hash(facts[i].name, strlen(facts[i].name)), facts[i].name,
            strlen(facts[i].name));
        if (x)
            x->fact = facts[i].fact;
    }
    for (size_t i = 0; i < nnames; i++) {
        struct wk__au_name *x = &names[i];
        x->plain = !x->fact && !x->idkind && !x->enc; /* (EXECVE records take the slow path) */
        /* the name and its '=' as the first bytes of a little-endian word */
        unsigned char b[8] = { 0 };
        size_t n = x->key.len < 8 ? x->key.len : 8;
        memcpy(b, x->key.name, n);
        if (n < 8)
            b[n++] = '=';
        uint64_t w = 0, m = 0;
        for (size_t j = 0; j < n; j++) {
            w |= (uint64_t)b[j] << (8 * j);
            m |= (uint64_t)0xff << (8 * j);
        }
        x->w = w;
        x->wmask = m;
    }
}

void wk__au_names_init(void)
{
    pthread_once(&names_once, names_init);
}

const struct wk_key *wk__au_arg_key(size_t idx)
{
    return idx < WK_AU_ARG_KEYS ? &wk__au_arg_keys[idx] : NULL;
}
