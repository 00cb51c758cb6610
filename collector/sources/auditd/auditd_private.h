/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The auditd source's internals, shared by its files: the record lexer (lex.c), value
 * decoding and naming (decode.c), the event assembler (assemble.c), the normalizer
 * (normalize.c), container attribution (attrib.c), and the parser glue (parser.c) that the
 * file tailer (tail.c) and the audisp stdin reader (audisp.c) drive.
 */
#ifndef WK_AUDITD_PRIVATE_H
#define WK_AUDITD_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "watchkeeper/event.h"
#include "watchkeeper/mem.h"
#include "watchkeeper/parser.h"

/* ---- lex.c: one record line ---- */

enum wk__au_form {
    WK_AU_PLAIN = 0, /* unquoted token: number, hex string, (null), ? */
    WK_AU_DQUOTED,   /* "text": v/vlen exclude the quotes */
    WK_AU_SQUOTED,   /* 'text' (not msg=): v/vlen exclude the quotes */
};

struct wk__au_field {
    const char *k;
    const char *v;   /* value without quotes */
    uint32_t klen, vlen;
    uint32_t khash;   /* wk_key_hash(k, klen), computed while lexing */
    const struct wk__au_name *nm; /* the known name (names.c), NULL when not one */
    uint8_t form;     /* enum wk__au_form */
    bool enriched;    /* after the 0x1d separator (ENRICHED format's interpretations) */
    bool nested;      /* inside msg='...' */
    uint16_t argp1;   /* nm == NULL: EXECVE's a<N> (N + 1, N < WK_AU_ARG_KEYS), else 0 */
};

struct wk__au_hdr {
    const char *node; /* NULL when no node= prefix */
    size_t nodelen;
    const char *type; /* "SYSCALL", "UNKNOWN[1334]" */
    size_t typelen;
    int typeno;    /* numeric type, 0 when unknown */
    int64_t ts_ns; /* sec.ms from msg=audit(...) */
    uint64_t serial;
    size_t body;   /* offset in the line where the fields start */
};

/* The names the last record of a type had, in order: records of one type nearly always
 * come with the same fields, so the lexer first checks the name expected at a position. */
#define WK_AU_HINT_TYPES 128
#define WK_AU_HINT_FIELDS 48
struct wk__au_hints {
    int typeno;
    unsigned n;
    const struct wk__au_name *nm[WK_AU_HINT_FIELDS];
};

struct wk__au_fields {
    struct wk__au_field *f;
    size_t n, cap;
    struct wk__au_hints hints[WK_AU_HINT_TYPES]; /* by typeno % WK_AU_HINT_TYPES */
};

/** Parse the header of a record. @return 0 or WK_EPARSE with *reason set (static). */
int wk__au_lex_header(const char *line, size_t len, struct wk__au_hdr *h, const char **reason);
/**
 * Split the fields of a record (after the header) into out (reused; grows), each with its
 * known name when it has one; typeno selects the name hints. @return 0, -ENOMEM.
 */
int wk__au_lex_fields(const char *line, size_t len, size_t body, int typeno,
                      struct wk__au_fields *out);
void wk__au_fields_fini(struct wk__au_fields *fs);

/* ---- decode.c: values and names ---- */

/** Whether a field of this name may be hex-encoded when logged unquoted. */
bool wk__au_is_encoded_field(int typeno, const char *k, size_t klen);
/** Decode an even-length upper/lower hex string. @return decoded length, or -1 if not hex. */
ssize_t wk__au_unhex(const char *s, size_t len, char *out);
/** Message type number from its name (cached libaudit lookup); 0 when unknown. */
int wk__au_type_number(const char *name, size_t len);
/** True when records of this type are events on their own (no EOE follows). */
bool wk__au_is_single(int typeno);
/** Machine name ("x86_64") and libaudit machine id from the hex `arch` value. */
const char *wk__au_arch_name(const char *hex, size_t len, int *machine);
/** Syscall name for nr on machine; NULL when unknown. Static storage. */
const char *wk__au_syscall_name(int machine, long nr);
/** errno name ("ENOENT") for a positive errno; NULL when unknown. */
const char *wk__au_errno_name(int err);
/**
 * uid/gid to name like auparse: "unset" for 4294967295, the passwd/group name, or
 * "unknown(N)"; a value that is not a number as it is (at most 63 bytes). Cached per
 * parser. @return the name (not NUL-terminated in general), borrowed until the next call;
 * *len its length.
 */
struct wk__au_idcache;
struct wk__au_idcache *wk__au_idcache_new(void);
struct wk__au_idcache *wk__au_idcache_free(struct wk__au_idcache *c);
/* rebuild.c: set while the cold tier's rebuild parses one event: ids stay numbers (no
 * lookup of this machine's users), the attribution table is small. */
extern _Thread_local bool wk__au_rebuilding;
const char *wk__au_id_name(struct wk__au_idcache *c, bool group, const char *v, size_t vlen,
                           size_t *len, bool *known);
/** Whether a field name holds a uid / gid (auid, uid, euid, ouid, ... / gid, egid, ogid...). */
int wk__au_id_kind(const char *k, size_t klen); /* 0 no, 1 uid, 2 gid */

struct wk__au_sockaddr {
    int family;          /* AF_* */
    char text[160];      /* auparse-style "{ saddr_fam=inet laddr=1.2.3.4 lport=80 }" */
    char addr[64];       /* ip or unix path */
    int port;            /* -1 when none */
};
/** Decode a SOCKADDR saddr hex value. @return 0 or -1 when malformed. */
int wk__au_sockaddr(const char *hex, size_t len, struct wk__au_sockaddr *out);

/* ---- names.c: the known field names as static keys ---- */

/* The names normalize.c takes an event-level fact from (wk__au_name.fact). */
enum wk__au_fact {
    WK_AU_F_NONE = 0, WK_AU_F_AUID, WK_AU_F_ARCH, WK_AU_F_ARGC, WK_AU_F_COMM, WK_AU_F_CWD,
    WK_AU_F_EXE, WK_AU_F_EXIT, WK_AU_F_EUID, WK_AU_F_KEY, WK_AU_F_NAME, WK_AU_F_PID,
    WK_AU_F_PPID, WK_AU_F_RES, WK_AU_F_SYSCALL, WK_AU_F_SUCCESS, WK_AU_F_SADDR, WK_AU_F_UID,
    WK_AU_F_PROCTITLE, WK_AU_F_NAMETYPE, WK_AU_F_UID_U, WK_AU_F_AUID_U,
};

struct wk__au_name {
    struct wk_key key;                /* static name and its hash */
    const struct wk__au_name *upper;  /* uid/gid fields: the ENRICHED name ("auid": "AUID") */
    uint64_t w, wmask; /* the name and its '=' (first 8 bytes), for the lexer's hint check */
    uint8_t idkind;                   /* wk__au_id_kind() */
    bool enc, enc_execve;             /* wk__au_is_encoded_field() in other records, EXECVE */
    uint8_t fact;                     /* enum wk__au_fact */
    bool plain; /* no fact, no id, not hex outside EXECVE: normalize.c takes it as logged */
    uint16_t argp1; /* EXECVE's a<N>: N + 1, else 0 */
};

/** Build the table (idempotent, thread-safe; the parser's creation calls it). */
void wk__au_names_init(void);
/** The static key of EXECVE argument name a<idx> (also past the table's a127), or NULL
 * beyond the names kept (a1023); after wk__au_names_init. */
const struct wk_key *wk__au_arg_key(size_t idx);
#define WK_AU_NAME_ARGS 128  /* EXECVE a0..a127 are in the name table */
#define WK_AU_ARG_KEYS 1024  /* a0..a1023 have static keys */
/* (after wk__au_names_init) the names a0..a127, and the keys of a0..a1023 */
extern const struct wk__au_name *wk__au_arg_names[WK_AU_NAME_ARGS];
extern struct wk_key wk__au_arg_keys[WK_AU_ARG_KEYS];
#define WK_AU_NAME_TAB 2048 /* power of two, at most a quarter full */
extern const struct wk__au_name *wk__au_name_tab[WK_AU_NAME_TAB];

/** The entry of a name given its wk_key_hash; NULL when not a known name. */
static inline const struct wk__au_name *wk__au_name_find(uint32_t hash, const char *k,
                                                         size_t klen)
{
    for (uint32_t i = hash & (WK_AU_NAME_TAB - 1);; i = (i + 1) & (WK_AU_NAME_TAB - 1)) {
        const struct wk__au_name *n = wk__au_name_tab[i];
        if (!n)
            return NULL;
        if (n->key.hash == hash && n->key.len == klen) {
            size_t j = 0; /* names are short: no call to memcmp */
            while (j < klen && n->key.name[j] == k[j])
                j++;
            if (j == klen)
                return n;
        }
    }
}

/* ---- attrib.c: process table and container attribution ---- */

/* One process. What every event reads or a new entry writes comes first (the process
 * table is larger than the caches: a new entry writes its first line and its exe only);
 * exe, rt_cid and cmd are valid up to their lengths / flag, not by a NUL a new entry would
 * have to write into lines it otherwise leaves alone. */
struct wk__au_proc {
    int32_t pid, ppid;
    bool runtime;        /* runc, crun, containerd-shim, conmon */
    bool proc_checked;   /* /proc/PID/cgroup already read */
    bool has_rt_cid;     /* rt_cid is set */
    uint8_t exelen;      /* exe's length (NUL-terminated when not 0) */
    uint16_t cmdlen;     /* cmd's length (NUL-terminated when not 0) */
    char cid[65];        /* container this process runs in ("" none) */
    char exe[160];
    char rt_cid[65];     /* runtime processes: the container they manage */
    char cmd[256];       /* command line, truncated */
};

struct wk__au_attrib;
/** A process table of at most `cap` processes (rounded up to a power of two). */
struct wk__au_attrib *wk__au_attrib_new(size_t cap, bool use_proc);
struct wk__au_attrib *wk__au_attrib_free(struct wk__au_attrib *a);
/** Start loading what wk__au_attrib_event(pid) will read and write (the table is larger
 * than the caches: an event's process is mostly a miss). */
void wk__au_attrib_prefetch(const struct wk__au_attrib *a, int32_t pid);
/** The entry for pid, NULL when unknown. Borrowed until the next call. */
const struct wk__au_proc *wk__au_attrib_get(struct wk__au_attrib *a, int32_t pid);
/**
 * Account one event of process pid (child of ppid). For an execve, exe/args describe the
 * new image. @return the container id ("" when none), borrowed until the next call.
 */
const char *wk__au_attrib_event(struct wk__au_attrib *a, int32_t pid, int32_t ppid,
                                bool execve, const char *exe, size_t exelen,
                                const struct wk_str *args, size_t nargs);
/** Extract a 64-hex container id from the text of a /proc/PID/cgroup file. @return 0/-1. */
int wk__au_cgroup_cid(const char *text, size_t len, char out[65]);
/** Whether to read /proc (live only). */
void wk__au_attrib_set_proc(struct wk__au_attrib *a, bool use_proc);
/** Number of processes in the table (for tests). */
size_t wk__au_attrib_count(const struct wk__au_attrib *a);

/* ---- parser.c: the state shared by assembly and normalization ---- */

struct wk__au_held {
    uint32_t off, len;  /* in the slot's buffer */
    /* the header, lexed once when the line was held (offsets into the line) */
    int32_t typeno;
    uint32_t body;
    uint32_t typeoff, typelen;
    uint8_t nodelen;    /* at offset 5 ("node=") when has_node */
    bool has_node;
};

struct wk__au_slot {
    bool used;
    char node[64];
    size_t nodelen;
    uint64_t serial;
    int64_t ts_ns;
    int64_t base_ns;    /* stream time when opened: the timeout counts from here */
    uint64_t first_off; /* input offset of its first line */
    uint64_t age;       /* arrival order, to close the oldest first */
    bool single;        /* a stand-alone type: closes when another serial arrives */
    bool all_replay;    /* every line was re-read after a restart (see wk__au_replay) */
    char *buf;
    size_t blen, bcap;
    struct wk__au_held *recs;
    size_t nrec, rcap;
    /* assemble.c's indexes: the age list (older/newer slot, WK_AU_NONE at the ends) and the
     * chain of its serial's bucket (slot + 1, 0 ends) */
    uint8_t older, newer, hnext;
};

#define WK_AU_SLOTS 64 /* the masks below are 64-bit */
#define WK_AU_NONE 0xFF
#define WK_AU_BUCKETS 256
#define WK_AU_SLOT_MAX (4u << 20) /* bytes held per event at most */
#define WK_AU_HELD_MAX (16u << 20) /* bytes held by all events at most (lines + index) */
#define WK_AU_SLOT_KEEP (64u << 10) /* a released slot keeps at most this much memory */
#define WK_AU_GAPS 16
/* The hint's bound: the typical event's table, not the big one's. On the bench's audit
 * input (bench/daemon_e2e.sh) events have 44 fields on average, 66% 32 or fewer, 85% 64 or
 * fewer, 97% 128 or fewer; a bigger event grows its table (one resize: a big record reserves
 * its room at once: WK_AU_BIG_RECORD) and its next use cuts it back. */
#define WK_AU_FIELDS_HINT_MAX 64

struct wk__au_gap {
    bool used;
    uint64_t start, end; /* missing serial range, inclusive */
    uint64_t seen;       /* serials of the range that arrived late */
    int64_t ts_ns;       /* when it was noticed (stream time) */
    char node[64];
    size_t nodelen;
};

struct wk__au_nodestate {
    char node[64];
    size_t nodelen;
    bool have;
    uint64_t max_serial;
};

struct wk_parser {
    struct wk_parser_opts opts;
    struct wk_event *ev;
    struct wk__au_fields fields;
    struct wk__au_idcache *ids;
    struct wk__au_attrib *attrib;
    struct wk__au_slot slots[WK_AU_SLOTS];
    struct wk__au_gap gaps[WK_AU_GAPS];
    unsigned gaps_open; /* gaps[] in use */
    struct wk__au_nodestate nodes[8];
    uint64_t age;
    /* The held slots, indexed so that no line scans them all: bit i of used_mask is
     * slots[i].used, of single_mask slots[i].single; the age list runs from the oldest to the
     * newest slot; buckets by serial (slot + 1) find a line's slot. */
    uint64_t used_mask, single_mask;
    uint8_t oldest, newest;
    uint8_t bucket[WK_AU_BUCKETS];
    struct wk__au_slot *last; /* the slot the previous line went to (usually the next's) */
    uint64_t last_open_off;   /* input offset of the newest slot's first line */
    size_t held_bytes;        /* lines and their index held by all slots */
    bool off_backwards;       /* a slot opened at a lower input offset than the one before */
    int64_t timeout_ns;   /* close events without EOE after this much stream time */
    int64_t newest_ns;    /* newest timestamp seen */
    uint64_t next_off;    /* input offset after the last line fed */
    struct wk_str *args;  /* process.args being built (reused) */
    size_t nargs, acap;
    bool live;            /* attribution may read /proc */
    /* fields of the recent events (the largest, decaying; at most WK_AU_FIELDS_HINT_MAX):
     * an event a sink gave back empty is sized to it at once (wk_event_reserve) */
    size_t fields_hint;
    /* Restart de-duplication: lines before the stored high-water mark are re-read; an
     * event made only of such lines was emitted before unless its serial was held. */
    bool replay_line;
    bool replay_active;
    uint64_t replay_held[16];
    unsigned nreplay_held;
    uint64_t n_deduped;
    /* counters */
    uint64_t n_events, n_records, n_rejected, n_gaps, n_timeouts;
};

/** Create with the live options (read /proc for attribution). */
int wk__auditd_parser_new(struct wk_parser **out, const struct wk_parser_opts *opts,
                          bool live);
/** Close a held slot: build its event and emit it. @return 0 or what emit returned. */
int wk__au_emit_slot(struct wk_parser *p, struct wk__au_slot *s, struct wk_parser_sink *sink);
/** Build the event of a slot into p->ev. @return 0 or -ENOMEM. */
int wk__au_normalize(struct wk_parser *p, const struct wk__au_slot *s);
/** The resume offset: the oldest held line, else the end of the last line fed. */
uint64_t wk__au_resume(const struct wk_parser *p);
/** Add one line to assembly. */
int wk__au_assemble(struct wk_parser *p, const char *line, size_t len,
                    const struct wk_line_ctx *where, struct wk_parser_sink *sink);
int wk__au_tick(struct wk_parser *p, int64_t now_ns, struct wk_parser_sink *sink);
int wk__au_flush(struct wk_parser *p, struct wk_parser_sink *sink);
/** Serials of the events held now, in slot order; @return their number, or max + 1 when
 * more (out is then not filled). */
size_t wk__au_held_serials(const struct wk_parser *p, uint64_t *out, size_t max);
/** Mark the lines fed next as re-read (true) or new (false). */
void wk__au_replay(struct wk_parser *p, bool replaying);
/** Start de-duplicating a replay: serials that were held when the cursor was stored. */
void wk__au_replay_start(struct wk_parser *p, const uint64_t *held, size_t n);
/** Emit a gap event (reason, count, start, end) at time ts. */
int wk__au_emit_gap(struct wk_parser *p, struct wk_parser_sink *sink, int64_t ts,
                    const char *reason, uint64_t count, uint64_t start, uint64_t end,
                    const char *node, size_t nodelen);

#endif /* WK_AUDITD_PRIVATE_H */
