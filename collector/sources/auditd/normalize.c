/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The auditd normalizer: builds one event from the records of one (node, serial), straight
 * into the parser's reused event. Each record becomes an event record holding `type`, every
 * native field with hex values decoded, and the ENRICHED-format names (SYSCALL, ARCH, AUID,
 * UID, ... SADDR, EXIT) — taken from the line when it has them, computed otherwise. The
 * event level gets the ECS fields, the Sigma process_creation view for execve, and the
 * container found by attrib.c.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "watchkeeper/error.h"

#include "auditd_private.h"

/* Event-level keys, hashed once. */
static struct wk_key K_TYPE, K_KIND, K_OUTCOME, K_SERIAL, K_NODE, K_KEY, K_TAGS, K_PID,
    K_PPID, K_EXE, K_PNAME, K_ARGS, K_CMDLINE, K_CWD, K_TITLE, K_UID, K_UNAME, K_AUID,
    K_AUNAME, K_EUID, K_FPATH, K_SIP, K_SPORT, K_DIP, K_DPORT, K_IMAGE, K_COMMANDLINE,
    K_PIMAGE, K_PCOMMANDLINE, K_CURDIR, K_USER, K_PROCESSID, K_PPROCESSID, K_PEXE,
    K_ARCH_U, K_SYSCALL_U, K_SADDR_U, K_EXIT_U, K_ERRCODE, K_NODE_R, K_SERESULT, K_SEPERMS;
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;

/* a name's two bits in the filter of the names a record holds (nested_seen) */
static inline uint64_t seen_bits(uint32_t h)
{
    return UINT64_C(1) << (h & 63) | UINT64_C(1) << ((h >> 6) & 63);
}

/* type, node, seresult, seperms: in every record's filter (keys_init) */
static uint64_t seen_base;

static void keys_init(void)
{
    wk_keys_init();
    K_TYPE = wk_key_init("type");
    K_NODE_R = wk_key_init("node");
    K_KIND = wk_key_init("event.kind");
    K_OUTCOME = wk_key_init("event.outcome");
    K_SERIAL = wk_key_init("auditd.serial");
    K_NODE = wk_key_init("auditd.node");
    K_KEY = wk_key_init("auditd.key");
    K_TAGS = wk_key_init("tags");
    K_PID = wk_key_init("process.pid");
    K_PPID = wk_key_init("process.parent.pid");
    K_EXE = wk_key_init("process.executable");
    K_PNAME = wk_key_init("process.name");
    K_ARGS = wk_key_init("process.args");
    K_CMDLINE = wk_key_init("process.command_line");
    K_CWD = wk_key_init("process.working_directory");
    K_TITLE = wk_key_init("process.title");
    K_PEXE = wk_key_init("process.parent.executable");
    K_UID = wk_key_init("user.id");
    K_UNAME = wk_key_init("user.name");
    K_AUID = wk_key_init("user.audit.id");
    K_AUNAME = wk_key_init("user.audit.name");
    K_EUID = wk_key_init("user.effective.id");
    K_FPATH = wk_key_init("file.path");
    K_SIP = wk_key_init("source.ip");
    K_SPORT = wk_key_init("source.port");
    K_DIP = wk_key_init("destination.ip");
    K_DPORT = wk_key_init("destination.port");
    K_IMAGE = wk_key_init("Image");
    K_COMMANDLINE = wk_key_init("CommandLine");
    K_PIMAGE = wk_key_init("ParentImage");
    K_PCOMMANDLINE = wk_key_init("ParentCommandLine");
    K_CURDIR = wk_key_init("CurrentDirectory");
    K_USER = wk_key_init("User");
    K_PROCESSID = wk_key_init("ProcessId");
    K_PPROCESSID = wk_key_init("ParentProcessId");
    K_ARCH_U = wk_key_init("ARCH");
    K_SYSCALL_U = wk_key_init("SYSCALL");
    K_SADDR_U = wk_key_init("SADDR");
    K_EXIT_U = wk_key_init("EXIT");
    K_ERRCODE = wk_key_init("error.code");
    K_SERESULT = wk_key_init("seresult"); /* (add_avc's: here, set once for all threads) */
    K_SEPERMS = wk_key_init("seperms");
    seen_base = seen_bits(K_TYPE.hash) | seen_bits(K_NODE_R.hash) | seen_bits(K_SERESULT.hash) |
                seen_bits(K_SEPERMS.hash);
    wk__au_names_init();
}

void wk__au_keys_init(void);
void wk__au_keys_init(void)
{
    pthread_once(&keys_once, keys_init);
}

/* Fields of a record that make add_record size the event's table first. */
#define WK_AU_BIG_RECORD 48

struct facts {
    struct wk_str type0;
    const char *sysname;
    int machine;
    const char *archname;
    struct wk_str syscall, success, res, exitv;
    int64_t pid, ppid;
    struct wk_str exe, comm, cwd, title, path, path_parent, key, uid, auid, euid;
    struct wk_str uname, auname; /* names from the ENRICHED part or computed */
    bool uname_known, auname_known;
    bool uname_made, auname_made; /* computed (not the ENRICHED part's text) */
    bool title_made;              /* the PROCTITLE was hex: decoded */
    bool have_sock;
    bool have_execve;
    size_t argc;
    /* an EXECVE argument split as aN_len + aN[k] chunks, possibly over several records */
    long chunk_idx;
    int chunk_rec;
    char *cbuf;
    size_t clen, ccap, craw; /* decoded bytes, aN_len, logged bytes (hex counts twice) */
    struct wk_str *ptargs;
    size_t nptargs;
    char *orig; /* event.original being written (the event's arena) */
    size_t olen;
    unsigned nidm;
    /* (not zeroed per event: what is valid is told by have_sock and nidm above) */
    struct wk__au_sockaddr sa;
    /* the uid/gid names this event already holds: the ids of a SYSCALL record are mostly
     * one number, named once */
    struct idmemo {
        const char *v;
        uint8_t vlen;
        bool group, known;
        uint8_t nl;
        char *c;
    } idm[8];
};

static int64_t to_i64(const char *s, size_t len, bool *ok)
{
    int64_t v = 0;
    bool neg = false;
    size_t i = 0;
    *ok = false;
    if (len && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == len || len - i > 18)
        return 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *ok = true;
    return neg ? -v : v;
}

/* event.original: the event's lines joined by '\n', written once into the event's arena
 * (fx->orig, sized by wk__au_normalize) and referenced, not copied again. */
static void orig_append(struct facts *fx, const char *s, size_t len)
{
    if (fx->olen)
        fx->orig[fx->olen++] = '\n';
    memcpy(fx->orig + fx->olen, s, len);
    fx->olen += len;
}

static __attribute__((noinline)) int args_set_slow(struct wk_parser *p, size_t idx,
                                                  const char *s, size_t len)
{
    if (idx > 65535)
        return 0;
    if (idx >= p->acap) {
        size_t nc = p->acap ? p->acap : 64;
        while (nc <= idx)
            nc *= 2;
        struct wk_str *n = realloc(p->args, nc * sizeof(*n));
        if (!n)
            return -ENOMEM;
        p->args = n;
        p->acap = nc;
    }
    while (p->nargs <= idx) {
        p->args[p->nargs].s = "";
        p->args[p->nargs++].len = 0;
    }
    p->args[idx].s = s;
    p->args[idx].len = len;
    return 0;
}

/* process.args[idx] = s (the arguments come in order: an append) */
static inline int args_set(struct wk_parser *p, size_t idx, const char *s, size_t len)
{
    if (idx == p->nargs && idx < p->acap) {
        p->args[idx].s = s;
        p->args[idx].len = len;
        p->nargs = idx + 1;
        return 0;
    }
    return args_set_slow(p, idx, s, len);
}

/* "a12" / "a12[3]" / "a12_len": the index, and what follows the digits. */
static long arg_index(const struct wk__au_field *f, const char **rest)
{
    if (f->klen < 2 || f->k[0] != 'a' || f->k[1] < '0' || f->k[1] > '9')
        return -1;
    long n = 0;
    size_t i = 1;
    for (; i < f->klen && f->k[i] >= '0' && f->k[i] <= '9' && i < 8; i++)
        n = n * 10 + (f->k[i] - '0');
    *rest = f->k + i;
    return n;
}

static size_t upper_key(char *dst, const char *k, size_t klen)
{
    for (size_t i = 0; i < klen; i++)
        dst[i] = (k[i] >= 'a' && k[i] <= 'z') ? (char)(k[i] - 32) : k[i];
    dst[klen] = 0;
    return klen;
}

/* The known name of a field (NULL: not in names.c's table). */
static inline const struct wk__au_name *field_name(const struct wk__au_field *f)
{
    return f->nm;
}

/* The key of a field: the static one of a known name, else one on the line's bytes. */
static inline const struct wk_key *field_key(const struct wk__au_field *f,
                                             const struct wk__au_name *nm, struct wk_key *tmp)
{
    if (nm)
        return &nm->key;
    *tmp = (struct wk_key){ f->k, f->klen, f->khash };
    return tmp;
}

/* Add a record field: known names are static (not copied), others are copied. The value
 * is NUL-terminated and lives in the event's own arena (wk_event_arena: the record's copy,
 * or decoded), which is reset with the event and handed over with it: it is not copied
 * either. */
static inline int add_field(struct wk_event *ev, int rec, const struct wk__au_name *nm,
                            const struct wk_key *key, const char *v, size_t vlen)
{
    return nm ? wk_event_add_str_ref(ev, (unsigned)rec, key, v, vlen)
              : wk_event_add_str(ev, (unsigned)rec, key, v, vlen);
}

/* Mark the field just added as made here (a name looked up, decoded or joined text, a
 * constant): the store writes it as a literal instead of looking for it in
 * event.original, where it is not (WK_VALF_LITERAL). rc is the add's result. */
static inline int made(struct wk_event *ev, int rc)
{
    if (rc >= 0)
        wk_event_flag_last(ev, WK_VALF_LITERAL);
    return rc;
}

/* Decode one value into the event's arena when its field may be hex-encoded. */
/* The hex decoding of decode_value (out of line: few fields are encoded). */
static __attribute__((noinline)) int unhex_value(struct wk_parser *p, const struct wk__au_field *f,
                                                 const char **v, size_t *vlen)
{
    char *d = wk_arena_alloc(wk_event_arena(p->ev), f->vlen / 2 + 1);
    if (!d)
        return -ENOMEM;
    size_t hl = f->vlen;
    if ((hl & 1) && f->v[hl - 1] == '"')
        hl--; /* a stray quote after hex, seen in the wild; auparse decodes it too */
    ssize_t n = wk__au_unhex(f->v, hl, d);
    if (n < 0)
        return 0; /* not hex after all: keep as logged */
    d[n] = 0;
    *v = d;
    *vlen = (size_t)n;
    return 0;
}

static inline int decode_value(struct wk_parser *p, int typeno, const struct wk__au_field *f,
                               const struct wk__au_name *nm, const char **v, size_t *vlen)
{
    *v = f->v;
    *vlen = f->vlen;
    if (f->form != WK_AU_PLAIN || f->vlen < 2 || f->v[0] == '(')
        return 0;
    if (nm ? !(typeno == 1309 ? nm->enc_execve : nm->enc)
           : !wk__au_is_encoded_field(typeno, f->k, f->klen))
        return 0;
    return unhex_value(p, f, v, vlen);
}

/* The name of a uid/gid value (wk__au_id_name) as a NUL-terminated copy in the event's
 * arena, which serves the record field and the event level; a value the event already
 * named shares that copy. @return the copy or NULL (-ENOMEM). */
static char *id_name(struct wk_parser *p, struct facts *fx, bool group, const char *v,
                     size_t vlen, size_t *nl, bool *known)
{
    for (unsigned j = 0; j < fx->nidm; j++) {
        const struct idmemo *m = &fx->idm[j];
        if (m->vlen != vlen || m->group != group)
            continue;
        size_t k = 0; /* a few digits: no call to memcmp */
        while (k < vlen && m->v[k] == v[k])
            k++;
        if (k == vlen) {
            *nl = m->nl;
            *known = m->known;
            return m->c;
        }
    }
    const char *nb = wk__au_id_name(p->ids, group, v, vlen, nl, known);
    /* nb is borrowed from the cache */
    char *c = wk_arena_strndup(wk_event_arena(p->ev), nb, *nl);
    if (c && vlen <= 255 && *nl <= 255 && fx->nidm < WK_ARRAY_SIZE(fx->idm))
        fx->idm[fx->nidm++] = (struct idmemo){ v, (uint8_t)vlen, group, *known, (uint8_t)*nl, c };
    return c;
}

struct idref {
    const char *k;
    size_t klen;
    const char *v;
    size_t vlen;
    int kind;
    const struct wk__au_name *nm;
};

/* SELinux AVC text "avc:  denied  { read write } for ...": auparse's seresult and seperms. */
static int add_avc(struct wk_parser *p, int rec, const char *line, size_t len)
{
    const char *a = memmem(line, len, "avc:", 4);
    if (!a)
        return 0;
    const char *e = line + len;
    const char *w = a + 4;
    while (w < e && *w == ' ')
        w++;
    const char *we = w;
    while (we < e && *we != ' ')
        we++;
    if (!((we - w == 6 && memcmp(w, "denied", 6) == 0) || (we - w == 7 && memcmp(w, "granted", 7) == 0)))
        return 0;
    int rc = wk_event_add_str_sn(p->ev, (unsigned)rec, &K_SERESULT, w, (size_t)(we - w));
    if (rc < 0)
        return rc;
    const char *ob = memchr(we, '{', (size_t)(e - we));
    const char *cb = ob ? memchr(ob, '}', (size_t)(e - ob)) : NULL;
    if (!cb)
        return 0;
    char *perms = wk_arena_alloc(wk_event_arena(p->ev), (size_t)(cb - ob) + 1);
    if (!perms)
        return -ENOMEM;
    size_t n = 0;
    for (const char *q = ob + 1; q < cb;) {
        while (q < cb && *q == ' ')
            q++;
        const char *qe = q;
        while (qe < cb && *qe != ' ')
            qe++;
        if (qe > q) {
            if (n)
                perms[n++] = ',';
            memcpy(perms + n, q, (size_t)(qe - q));
            n += (size_t)(qe - q);
        }
        q = qe;
    }
    return wk_event_add_str_sn(p->ev, (unsigned)rec, &K_SEPERMS, perms, n);
}

/* A filter of the names a record holds so far, so that a field inside msg='...' checks
 * the event for an earlier one of its name only when there may be one. */
struct seen {
    uint64_t bits;
    size_t upto;  /* fields before this one are in bits */
    bool exact;   /* no filter: EXECVE records also get chunked aN names */
};


/* Whether record rec already holds key (the first one wins). The filter holds type, node,
 * the AVC's seresult and seperms, and the record's fields before fields[i] (all the names
 * the record may hold by then); the event is asked only when it says maybe. */
static inline bool nested_seen(struct wk_event *ev, int rec, const struct wk_key *key,
                        const struct wk__au_field *fields, size_t i, struct seen *s)
{
    if (s->exact)
        return wk_event_get(ev, (unsigned)rec, key) != NULL;
    for (size_t j = s->upto; j < i; j++)
        s->bits |= seen_bits(fields[j].khash);
    s->upto = i + 1;
    const uint64_t b = seen_bits(key->hash);
    if ((s->bits & b) == b && wk_event_get(ev, (unsigned)rec, key))
        return true;
    s->bits |= b;
    return false;
}

/* Finish a chunked EXECVE argument: aN in the record that announced it, and the arg. */
static int chunk_done(struct wk_parser *p, struct facts *fx)
{
    if (fx->chunk_idx < 0 || !fx->cbuf)
        return 0;
    char kb[32];
    int kl = snprintf(kb, sizeof(kb), "a%ld", fx->chunk_idx);
    struct wk_key key = wk_key_initn(kb, (size_t)kl);
    int rc = made(p->ev, wk_event_add_str(p->ev, (unsigned)fx->chunk_rec, &key, fx->cbuf,
                                          fx->clen));
    if (rc >= 0)
        rc = args_set(p, (size_t)fx->chunk_idx, fx->cbuf, fx->clen);
    fx->have_execve = true;
    fx->chunk_idx = -1;
    fx->cbuf = NULL;
    return rc;
}

/* "ENOENT(No such file or directory)", the ENRICHED EXIT of a failed syscall: the last few
 * formatted per thread, as failures repeat. Borrowed until the next call. */
static const char *exit_text(const char *en, int err, size_t *len)
{
    static __thread struct {
        int err;
        unsigned len;
        char text[160];
    } memo[8];
    static __thread unsigned next;
    for (unsigned i = 0; i < WK_ARRAY_SIZE(memo); i++) {
        if (memo[i].err == err && memo[i].len) {
            *len = memo[i].len;
            return memo[i].text;
        }
    }
    unsigned i = next++ % WK_ARRAY_SIZE(memo);
    int el = snprintf(memo[i].text, sizeof(memo[i].text), "%s(%s)", en, strerror(err));
    memo[i].err = err;
    memo[i].len = el < 0 ? 0 : (unsigned)el >= sizeof(memo[i].text) ? sizeof(memo[i].text) - 1
                                                                       : (unsigned)el;
    *len = memo[i].len;
    return memo[i].text;
}

static int add_record(struct wk_parser *p, const char *line, const struct wk__au_held *held,
                      struct facts *fx)
{
    struct wk_event *ev = p->ev;
    size_t len = held->len;
    struct wk__au_hdr h; /* what the assembler lexed when it held the line */
    h.type = line + held->typeoff;
    h.typelen = held->typelen;
    h.node = held->has_node ? line + 5 : NULL;
    h.nodelen = held->nodelen;
    h.typeno = held->typeno;
    h.body = held->body;
    int rc;
    orig_append(fx, line, len);
    if (h.typeno == 1320)
        return 0;
    /* One copy of the record in the event's arena, lexed, then each value NUL-terminated in
     * place (the byte after a value is a delimiter no other value holds): the event refers
     * to these bytes instead of copying every value on its own. */
    char *lc = wk_arena_alloc(wk_event_arena(p->ev), len + 1);
    if (!lc)
        return -ENOMEM;
    memcpy(lc, line, len);
    lc[len] = 0;
    if ((rc = wk__au_lex_fields(lc, len, h.body, h.typeno, &p->fields)) < 0)
        return rc;
    /* A record of many fields (a long command line's EXECVE) would grow the field table
     * while they are added, once or twice, each time re-indexing every field before; one
     * resize before them costs less. Room for the record's fields, the names computed for
     * it and the event level's; records of a usual size leave the table alone (the event
     * was sized for the recent events' fields). */
    if (p->fields.n > WK_AU_BIG_RECORD &&
        (rc = wk_event_reserve(ev, wk_event_nfields(ev) + p->fields.n + 64)) < 0)
        return rc;
    /* the header's type and node end at a space: NUL-terminated in the copy too */
    lc[held->typeoff + held->typelen] = 0;
    if (held->has_node)
        lc[5 + held->nodelen] = 0;
    h.type = lc + held->typeoff;
    h.node = held->has_node ? lc + 5 : NULL;
    int rec = wk_event_add_record(ev);
    if (rec < 0)
        return rec;
    if ((rc = wk_event_add_str_ref(ev, (unsigned)rec, &K_TYPE, h.type, h.typelen)) < 0)
        return rc;
    if (h.node && (rc = wk_event_add_str_ref(ev, (unsigned)rec, &K_NODE_R, h.node, h.nodelen)) < 0)
        return rc;
    if ((h.typeno == 1400 || h.typeno == 1107) && (rc = add_avc(p, rec, line, len)) < 0)
        return rc;
    if (!fx->type0.s) {
        fx->type0.s = h.type;
        fx->type0.len = h.typelen;
    }
    bool is_syscall = h.typeno == 1300, is_execve = h.typeno == 1309;
    bool enriched = false;
    struct idref ids[24];
    size_t nids = 0;
    char kbuf[32];
    struct seen seen = { seen_base, 0, is_execve };

    for (size_t i = 0; i < p->fields.n; i++) {
        struct wk__au_field *f = &p->fields.f[i];
        const struct wk__au_name *nm = field_name(f);
        ((char *)f->v)[f->vlen] = 0; /* (f->v is in lc) */
        /* the common case: a known name that is no fact, no id, never hex here */
        if (nm && nm->plain && !is_execve && !f->enriched) {
            if (f->nested && nested_seen(ev, rec, &nm->key, p->fields.f, i, &seen))
                continue; /* (as below) */
            if ((rc = wk_event_add_str_ref(ev, (unsigned)rec, &nm->key, f->v, f->vlen)) < 0)
                return rc;
            continue;
        }
        const unsigned fact = nm ? nm->fact : WK_AU_F_NONE;
        const char *v;
        size_t vlen;
        struct wk_key tmpkey;
        const struct wk_key *key;
        if (nm && !nm->enc && !is_execve && !f->enriched) {
            /* a known name never hex-encoded here (an id, a fact): as logged */
            key = &nm->key;
            if (f->nested && nested_seen(ev, rec, key, p->fields.f, i, &seen))
                continue; /* (as below) */
            v = f->v;
            vlen = f->vlen;
            if ((rc = wk_event_add_str_ref(ev, (unsigned)rec, key, v, vlen)) < 0)
                return rc;
            goto facts;
        }
        key = field_key(f, nm, &tmpkey);
        if (f->enriched) {
            enriched = true;
            if ((rc = add_field(ev, rec, nm, key, f->v, f->vlen)) < 0)
                return rc;
            if (fact == WK_AU_F_UID_U) {
                fx->uname = (struct wk_str){ f->v, f->vlen };
                fx->uname_known = f->vlen < 8 || memcmp(f->v, "unknown(", 8) != 0;
            } else if (fact == WK_AU_F_AUID_U) {
                fx->auname = (struct wk_str){ f->v, f->vlen };
                fx->auname_known = f->vlen < 8 || memcmp(f->v, "unknown(", 8) != 0;
                if (f->vlen == 5 && memcmp(f->v, "unset", 5) == 0)
                    fx->auname_known = false;
            }
            continue;
        }
        if (is_execve && f->k[0] == 'a') {
            /* a<N> as the lexer found it (by name or by N), else parsed here */
            const unsigned ap = nm ? nm->argp1 : f->argp1;
            const char *rest = NULL;
            long idx = ap ? (long)ap - 1 : arg_index(f, &rest);
            size_t restlen = idx >= 0 && !ap ? (size_t)(f->k + f->klen - rest) : 0;
            if (idx >= 0 && restlen == 4 && memcmp(rest, "_len", 4) == 0) {
                bool ok;
                int64_t l = to_i64(f->v, f->vlen, &ok);
                if ((rc = chunk_done(p, fx)) < 0)
                    return rc;
                if (ok && l >= 0 && (size_t)l <= p->opts.max_line) {
                    fx->chunk_idx = idx;
                    fx->chunk_rec = rec;
                    fx->ccap = (size_t)l;
                    fx->clen = 0;
                    fx->craw = 0;
                    if (!(fx->cbuf = wk_arena_alloc(wk_event_arena(p->ev), fx->ccap + 1)))
                        return -ENOMEM;
                    fx->cbuf[0] = 0; /* (an argument is NUL-terminated even when empty) */
                }
                /* aN_len itself is kept as a native field below */
            } else if (idx >= 0 && restlen > 0 && rest[0] == '[') {
                if (idx == fx->chunk_idx && fx->cbuf) {
                    if ((rc = decode_value(p, h.typeno, f, nm, &v, &vlen)) < 0)
                        return rc;
                    if (vlen > fx->ccap - fx->clen)
                        vlen = fx->ccap - fx->clen;
                    memcpy(fx->cbuf + fx->clen, v, vlen);
                    fx->clen += vlen;
                    fx->cbuf[fx->clen] = 0;
                    fx->craw += f->form == WK_AU_PLAIN ? f->vlen : vlen;
                    if (fx->craw >= fx->ccap && (rc = chunk_done(p, fx)) < 0)
                        return rc;
                }
                continue; /* chunks are folded into aN */
            } else if (idx >= 0 && restlen == 0) {
                if ((rc = decode_value(p, h.typeno, f, nm, &v, &vlen)) < 0 ||
                    (rc = args_set(p, (size_t)idx, v, vlen)) < 0)
                    return rc;
                fx->have_execve = true;
                /* past the table's a127: a static key too ("a0128" is not one) */
                const struct wk_key *ak = nm ? NULL : wk__au_arg_key((size_t)idx);
                if (ak && ak->len == f->klen)
                    rc = wk_event_add_str_ref(ev, (unsigned)rec, ak, v, vlen);
                else
                    rc = add_field(ev, rec, nm, key, v, vlen);
                if (v != f->v)
                    rc = made(ev, rc); /* decoded hex */
                if (rc < 0)
                    return rc;
                continue;
            }
        }
        if ((rc = decode_value(p, h.typeno, f, nm, &v, &vlen)) < 0)
            return rc;
        if (f->nested && nested_seen(ev, rec, key, p->fields.f, i, &seen))
            continue; /* "uid=0 ... msg='pam_tally2 uid=1004'": the first one is the record's */
        const bool decoded = v != f->v;
        if (h.typeno == 1327 && fact == WK_AU_F_PROCTITLE) {
            /* argv joined by NULs: split for process.args, spaces for the text form */
            char *t = wk_arena_strndup(wk_event_arena(p->ev), v, vlen);
            if (!t)
                return -ENOMEM;
            while (vlen && t[vlen - 1] == 0)
                vlen--;
            size_t n = 1;
            for (size_t j = 0; j < vlen; j++)
                n += t[j] == 0;
            fx->ptargs = wk_arena_alloc(wk_event_arena(p->ev), n * sizeof(struct wk_str));
            if (!fx->ptargs)
                return -ENOMEM;
            const char *a0 = wk_arena_strndup(wk_event_arena(p->ev), t, vlen);
            if (!a0)
                return -ENOMEM;
            size_t s0 = 0;
            fx->nptargs = 0;
            for (size_t j = 0; j <= vlen; j++) {
                if (j == vlen || t[j] == 0) {
                    fx->ptargs[fx->nptargs++] = (struct wk_str){ a0 + s0, j - s0 };
                    if (j < vlen)
                        t[j] = ' ';
                    s0 = j + 1;
                }
            }
            v = t;
            fx->title = (struct wk_str){ t, vlen };
            fx->title_made = decoded;
        }
        if ((rc = add_field(ev, rec, nm, key, v, vlen)) < 0 ||
            (decoded && (rc = made(ev, rc)) < 0))
            return rc;

    facts:; /* facts for the event level: first occurrence wins */
        int idk = nm ? nm->idkind : wk__au_id_kind(f->k, f->klen);
        if (idk && nids < WK_ARRAY_SIZE(ids))
            ids[nids++] = (struct idref){ f->k, f->klen, v, vlen, idk, nm };
        if (!fact) /* (most ids: no jump through the table) */
            continue;
        struct wk_str sv = { v, vlen };
        bool ok;
        switch (fact) {
        case WK_AU_F_AUID:
            if (!fx->auid.s)
                fx->auid = sv;
            break;
        case WK_AU_F_ARCH:
            if (is_syscall)
                fx->archname = wk__au_arch_name(v, vlen, &fx->machine);
            break;
        case WK_AU_F_ARGC:
            if (is_execve)
                fx->argc = (size_t)to_i64(v, vlen, &ok);
            break;
        case WK_AU_F_COMM:
            if (!fx->comm.s)
                fx->comm = sv;
            break;
        case WK_AU_F_CWD:
            if (!fx->cwd.s)
                fx->cwd = sv;
            break;
        case WK_AU_F_EXE:
            if (!fx->exe.s)
                fx->exe = sv;
            break;
        case WK_AU_F_EXIT:
            if (is_syscall)
                fx->exitv = sv;
            break;
        case WK_AU_F_EUID:
            if (!fx->euid.s)
                fx->euid = sv;
            break;
        case WK_AU_F_KEY:
            if (!fx->key.s && !(vlen == 6 && memcmp(v, "(null)", 6) == 0))
                fx->key = sv;
            break;
        case WK_AU_F_NAME:
            if (h.typeno == 1302) {
                bool parent = false;
                for (size_t j = i + 1; j < p->fields.n; j++) {
                    const struct wk__au_field *g = &p->fields.f[j];
                    if (g->nm && g->nm->fact == WK_AU_F_NAMETYPE)
                        parent = g->vlen == 6 && memcmp(g->v, "PARENT", 6) == 0;
                }
                if (parent && !fx->path_parent.s)
                    fx->path_parent = sv;
                else if (!parent && !fx->path.s)
                    fx->path = sv;
            }
            break;
        case WK_AU_F_PID:
            if (!fx->pid) {
                int64_t x = to_i64(v, vlen, &ok);
                if (ok)
                    fx->pid = x;
                /* its process table entry is used after the last record */
                if (ok && x > 0 && x <= INT32_MAX && p->attrib)
                    wk__au_attrib_prefetch(p->attrib, (int32_t)x);
            }
            break;
        case WK_AU_F_PPID:
            if (!fx->ppid) {
                int64_t x = to_i64(v, vlen, &ok);
                if (ok)
                    fx->ppid = x;
            }
            break;
        case WK_AU_F_RES:
            if (!fx->res.s)
                fx->res = sv;
            break;
        case WK_AU_F_SYSCALL:
            if (is_syscall)
                fx->syscall = sv;
            break;
        case WK_AU_F_SUCCESS:
            if (is_syscall)
                fx->success = sv;
            break;
        case WK_AU_F_SADDR:
            if (h.typeno == 1306 && !fx->have_sock)
                fx->have_sock = wk__au_sockaddr(f->v, f->vlen, &fx->sa) == 0;
            break;
        case WK_AU_F_UID:
            if (!fx->uid.s)
                fx->uid = sv;
            break;
        default:
            break;
        }
    }

    /* The ENRICHED names, when the line did not carry them (RAW format). */
    if (is_syscall && fx->archname && fx->syscall.s) {
        bool ok;
        int64_t nr = to_i64(fx->syscall.s, fx->syscall.len, &ok);
        if (ok)
            fx->sysname = wk__au_syscall_name(fx->machine, (long)nr);
    }
#define MISSING(k) (!enriched || !wk_event_get(ev, (unsigned)rec, (k)))
    if (is_syscall) {
        /* libaudit's names are static strings: referenced, not copied */
        if (fx->archname && MISSING(&K_ARCH_U) &&
            (rc = made(ev, wk_event_add_str_ref(ev, (unsigned)rec, &K_ARCH_U, fx->archname,
                                                strlen(fx->archname)))) < 0)
            return rc;
        if (fx->sysname && MISSING(&K_SYSCALL_U) &&
            (rc = made(ev, wk_event_add_str_ref(ev, (unsigned)rec, &K_SYSCALL_U, fx->sysname,
                                                strlen(fx->sysname)))) < 0)
            return rc;
    }
    for (size_t i = 0; i < nids; i++) {
        const struct wk__au_name *up = ids[i].nm ? ids[i].nm->upper : NULL;
        struct wk_key key;
        if (up) {
            key = up->key;
        } else {
            upper_key(kbuf, ids[i].k, ids[i].klen);
            key = wk_key_initn(kbuf, ids[i].klen);
        }
        if (!MISSING(&key))
            continue;
        bool known;
        size_t nl;
        char *c = id_name(p, fx, ids[i].kind == 2, ids[i].v, ids[i].vlen, &nl, &known);
        if (!c)
            return -ENOMEM;
        if ((rc = made(ev, up ? wk_event_add_str_ref(ev, (unsigned)rec, &up->key, c, nl)
                              : wk_event_add_str(ev, (unsigned)rec, &key, c, nl))) < 0)
            return rc;
        /* keep the names for the event level */
        if (ids[i].kind == 1 && (ids[i].klen == 3 || ids[i].klen == 4) &&
            memcmp(key.name, ids[i].klen == 3 ? "UID" : "AUID", ids[i].klen) == 0) {
            if (ids[i].klen == 3 && !fx->uname.s) {
                fx->uname = (struct wk_str){ c, nl };
                fx->uname_known = known;
                fx->uname_made = true;
            } else if (ids[i].klen == 4 && !fx->auname.s) {
                fx->auname = (struct wk_str){ c, nl };
                fx->auname_known = known;
                fx->auname_made = true;
            }
        }
    }
    if (h.typeno == 1306 && fx->have_sock && MISSING(&K_SADDR_U) &&
        (rc = made(ev, wk_event_add_str_sn(ev, (unsigned)rec, &K_SADDR_U, fx->sa.text,
                                           strlen(fx->sa.text)))) < 0)
        return rc;
    if (is_syscall && fx->exitv.s && fx->exitv.len > 1 && fx->exitv.s[0] == '-' &&
        MISSING(&K_EXIT_U)) {
        bool ok;
        int64_t e = to_i64(fx->exitv.s, fx->exitv.len, &ok);
        const char *en = ok && e < 0 && e > -4096 ? wk__au_errno_name((int)-e) : NULL;
        if (en) {
            size_t el;
            const char *eb = exit_text(en, (int)-e, &el);
            if ((rc = made(ev, wk_event_add_str_sn(ev, (unsigned)rec, &K_EXIT_U, eb, el))) < 0)
                return rc;
        }
    }
    return 0;
}

/* Event-level fields under the static K_* / WK_KEY_* names (not copied). */
static int add_cstr(struct wk_event *ev, const struct wk_key *k, const char *s)
{
    return wk_event_add_str_sn(ev, 0, k, s, strlen(s));
}

/* A static string (literal, libaudit's tables): not copied. */
static int add_lit(struct wk_event *ev, const struct wk_key *k, const char *s)
{
    return wk_event_add_str_ref(ev, 0, k, s, strlen(s));
}

/* The facts' strings are NUL-terminated in the event's arena (the records' copies, decoded
 * values, joined args) and live as long as the event: not copied. */
static int add_wstr(struct wk_event *ev, const struct wk_key *k, struct wk_str s)
{
    return s.s ? wk_event_add_str_ref(ev, 0, k, s.s, s.len) : 0;
}

/* add_wstr, the value marked as made here (made()) when is_made (and added). */
static int add_wstr_m(struct wk_event *ev, const struct wk_key *k, struct wk_str s, bool is_made)
{
    int rc = add_wstr(ev, k, s);
    return is_made && s.s ? made(ev, rc) : rc;
}

static int add_int(struct wk_event *ev, const struct wk_key *k, int64_t i)
{
    struct wk_value v = { .kind = WK_VAL_INT, .u.i = i };
    return wk_event_add_value_sn(ev, 0, k, 0, &v);
}

static int add_strlist(struct wk_event *ev, const struct wk_key *k, const struct wk_str *items,
                       size_t n)
{
    if (n > UINT32_MAX)
        return WK_ELIMIT;
    struct wk_value v = { .kind = WK_VAL_STRLIST, .len = (uint32_t)n, .u.items = items };
    return wk_event_add_value_sn(ev, 0, k, 0, &v);
}

/* Join args with spaces into the event's arena. */
static struct wk_str join_args(struct wk_parser *p, const struct wk_str *a, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += a[i].len + 1;
    char *b = wk_arena_alloc(wk_event_arena(p->ev), total + 1);
    if (!b)
        return (struct wk_str){ NULL, 0 };
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            b[o++] = ' ';
        memcpy(b + o, a[i].s, a[i].len);
        o += a[i].len;
    }
    b[o] = 0;
    return (struct wk_str){ b, o };
}

int wk__au_normalize(struct wk_parser *p, const struct wk__au_slot *s)
{
    struct wk_event *ev = p->ev;
    struct facts fx;
    int rc;
    memset(&fx, 0, offsetof(struct facts, sa));
    fx.chunk_idx = -1;
    wk_event_reset(ev); /* also its arena, where the values below are written */
    /* a fresh event (the pipeline's, given back for the last one) is sized once, and one
     * a rare big event grew is cut back: the pipeline keeps thousands waiting */
    if ((rc = wk_event_fit(ev, p->fields_hint)) < 0)
        return rc;
    size_t ototal = 0;
    for (size_t i = 0; i < s->nrec; i++)
        ototal += s->recs[i].len + 1;
    if (!(fx.orig = wk_arena_alloc(wk_event_arena(ev), ototal + 1)))
        return -ENOMEM;
    p->nargs = 0;
    wk_event_set_ts(ev, s->ts_ns);
    for (size_t i = 0; i < s->nrec; i++) {
        if ((rc = add_record(p, s->buf + s->recs[i].off, &s->recs[i], &fx)) < 0)
            return rc;
    }
    if ((rc = chunk_done(p, &fx)) < 0) /* cut short: keep what came */
        return rc;
    p->n_records += s->nrec;

    if ((rc = made(ev, add_lit(ev, &WK_KEY_EVENT_MODULE, "auditd"))) < 0 ||
        (rc = made(ev, add_lit(ev, &K_KIND, "event"))) < 0)
        return rc;
    /* event.action: the syscall name, else the record type */
    if (fx.sysname)
        rc = made(ev, add_lit(ev, &WK_KEY_EVENT_ACTION, fx.sysname));
    else if (fx.syscall.s)
        rc = add_wstr(ev, &WK_KEY_EVENT_ACTION, fx.syscall);
    else
        rc = add_wstr(ev, &WK_KEY_EVENT_ACTION, fx.type0);
    if (rc < 0)
        return rc;
    const char *outcome = NULL;
    if (fx.success.s)
        outcome = fx.success.len == 3 && memcmp(fx.success.s, "yes", 3) == 0 ? "success"
                                                                             : "failure";
    else if (fx.res.s) {
        if ((fx.res.len == 7 && memcmp(fx.res.s, "success", 7) == 0) ||
            (fx.res.len == 1 && fx.res.s[0] == '1') ||
            (fx.res.len == 3 && memcmp(fx.res.s, "yes", 3) == 0))
            outcome = "success";
        else if ((fx.res.len == 6 && memcmp(fx.res.s, "failed", 6) == 0) ||
                 (fx.res.len == 1 && fx.res.s[0] == '0') ||
                 (fx.res.len == 2 && memcmp(fx.res.s, "no", 2) == 0))
            outcome = "failure";
    }
    /* made here unless it is res='s own text ("success") */
    if (outcome && (rc = add_lit(ev, &K_OUTCOME, outcome)) >= 0 &&
        !(fx.res.s && !fx.success.s && fx.res.len == strlen(outcome) &&
          memcmp(fx.res.s, outcome, fx.res.len) == 0))
        rc = made(ev, rc);
    if (rc < 0)
        return rc;
    if (fx.exitv.s && outcome && outcome[0] == 'f' && fx.exitv.s[0] == '-') {
        bool ok;
        int64_t e = to_i64(fx.exitv.s, fx.exitv.len, &ok);
        const char *en = ok && e < 0 && e > -4096 ? wk__au_errno_name((int)-e) : NULL;
        if (en && (rc = made(ev, add_lit(ev, &K_ERRCODE, en))) < 0)
            return rc;
    }
    /* in the event's arena: travels with the event when a sink takes it */
    fx.orig[fx.olen] = 0;
    if ((rc = wk_event_add_str_ref(ev, 0, &WK_KEY_EVENT_ORIGINAL, fx.orig, fx.olen)) < 0)
        return rc;
    /* node= names the host that logged (aggregated logs); the option fills the rest */
    if (s->nodelen)
        rc = wk_event_add_str_sn(ev, 0, &WK_KEY_HOST_NAME, s->node, s->nodelen);
    else if (p->opts.host)
        rc = made(ev, add_cstr(ev, &WK_KEY_HOST_NAME, p->opts.host));
    if (rc < 0)
        return rc;
    if ((rc = add_int(ev, &K_SERIAL, (int64_t)s->serial)) < 0)
        return rc;
    if (s->nodelen && (rc = wk_event_add_str_sn(ev, 0, &K_NODE, s->node, s->nodelen)) < 0)
        return rc;
    if (fx.key.s) {
        /* several keys are joined by 0x01 */
        struct wk_str tags[16];
        size_t nt = 0, t0 = 0;
        for (size_t j = 0; j <= fx.key.len && nt < 16; j++) {
            if (j == fx.key.len || fx.key.s[j] == 1) {
                if (j > t0)
                    tags[nt++] = (struct wk_str){ fx.key.s + t0, j - t0 };
                t0 = j + 1;
            }
        }
        /* one key is the whole value, NUL-terminated in the event's arena: referenced */
        const bool whole = nt == 1 && tags[0].len == fx.key.len;
        /* (several: the record's key was hex, decoded here) */
        if (nt && ((rc = whole ? wk_event_add_str_ref(ev, 0, &K_KEY, tags[0].s, tags[0].len)
                               : made(ev, wk_event_add_str_sn(ev, 0, &K_KEY, tags[0].s,
                                                              tags[0].len))) < 0 ||
                   (rc = whole ? wk_event_add_strlist_ref(ev, 0, &K_TAGS, tags, nt)
                               : made(ev, add_strlist(ev, &K_TAGS, tags, nt))) < 0))
            return rc;
    }

    /* process */
    const struct wk_str *args = NULL;
    size_t nargs = 0;
    bool args_made = false;
    if (fx.have_execve) {
        args = p->args;
        nargs = p->nargs;
    } else if (fx.nptargs) {
        args = fx.ptargs;
        nargs = fx.nptargs;
        args_made = fx.title_made;
    }
    bool execve = fx.sysname && (strcmp(fx.sysname, "execve") == 0 ||
                                 strcmp(fx.sysname, "execveat") == 0);
    bool exec_ok = execve && outcome && outcome[0] == 's';
    if (fx.pid > 0) {
        if ((rc = add_int(ev, &K_PID, fx.pid)) < 0)
            return rc;
        if (fx.ppid > 0 && (rc = add_int(ev, &K_PPID, fx.ppid)) < 0)
            return rc;
    }
    if ((rc = add_wstr(ev, &K_EXE, fx.exe)) < 0)
        return rc;
    if (fx.comm.s)
        rc = add_wstr(ev, &K_PNAME, fx.comm);
    if (rc < 0)
        return rc;
    struct wk_str cmdline = { NULL, 0 };
    /* joined: made here, unless it is the one argument as logged */
    const bool cmdline_made = nargs > 1 || args_made;
    if (nargs) {
        cmdline = join_args(p, args, nargs);
        if (!cmdline.s)
            return -ENOMEM;
        /* the arguments are NUL-terminated in the event's arena (or ""): referenced */
        if ((rc = wk_event_add_strlist_ref(ev, 0, &K_ARGS, args, nargs)) < 0 ||
            (args_made && (rc = made(ev, rc)) < 0) ||
            (rc = add_wstr_m(ev, &K_CMDLINE, cmdline, cmdline_made)) < 0)
            return rc;
    }
    if ((rc = add_wstr(ev, &K_CWD, fx.cwd)) < 0 ||
        (rc = add_wstr_m(ev, &K_TITLE, fx.title, fx.title_made)) < 0)
        return rc;
    /* user */
    if ((rc = add_wstr(ev, &K_UID, fx.uid)) < 0)
        return rc;
    if (fx.uname_known && (rc = add_wstr_m(ev, &K_UNAME, fx.uname, fx.uname_made)) < 0)
        return rc;
    if ((rc = add_wstr(ev, &K_AUID, fx.auid)) < 0)
        return rc;
    if (fx.auname_known && (rc = add_wstr_m(ev, &K_AUNAME, fx.auname, fx.auname_made)) < 0)
        return rc;
    if ((rc = add_wstr(ev, &K_EUID, fx.euid)) < 0)
        return rc;
    if (fx.path.s)
        rc = add_wstr(ev, &K_FPATH, fx.path);
    else if (fx.path_parent.s)
        rc = add_wstr(ev, &K_FPATH, fx.path_parent);
    if (rc < 0)
        return rc;
    if (fx.have_sock && fx.sa.addr[0] &&
        (fx.sa.family == AF_INET || fx.sa.family == AF_INET6)) {
        bool src = fx.sysname && (strcmp(fx.sysname, "bind") == 0 ||
                                  strncmp(fx.sysname, "accept", 6) == 0 ||
                                  strncmp(fx.sysname, "recv", 4) == 0);
        if ((rc = made(ev, add_cstr(ev, src ? &K_SIP : &K_DIP, fx.sa.addr))) < 0 ||
            (rc = made(ev, add_int(ev, src ? &K_SPORT : &K_DPORT, fx.sa.port))) < 0)
            return rc;
    }

    /* container and parent, from the process table */
    struct wk_str pimage = { NULL, 0 }, pcmd = { NULL, 0 };
    if (fx.pid > 0 && p->attrib) {
        const char *cid = wk__au_attrib_event(p->attrib, (int32_t)fx.pid, (int32_t)fx.ppid,
                                              exec_ok, fx.exe.s, fx.exe.len, args, nargs);
        if (cid[0] &&
            (rc = made(ev, wk_event_add_str_sn(ev, 0, &WK_KEY_CONTAINER_ID, cid, 64))) < 0)
            return rc;
        const struct wk__au_proc *par =
            fx.ppid > 0 ? wk__au_attrib_get(p->attrib, (int32_t)fx.ppid) : NULL;
        if (par) {
            if (par->exelen && !(pimage.s = wk_arena_strndup(wk_event_arena(p->ev), par->exe,
                                                             par->exelen)))
                return -ENOMEM;
            pimage.len = pimage.s ? par->exelen : 0;
            if (par->cmdlen && !(pcmd.s = wk_arena_strndup(wk_event_arena(p->ev), par->cmd,
                                                           par->cmdlen)))
                return -ENOMEM;
            pcmd.len = pcmd.s ? par->cmdlen : 0;
        }
        if ((rc = add_wstr_m(ev, &K_PEXE, pimage, true)) < 0)
            return rc;
    }
    /* the Sigma process_creation view */
    if (execve) {
        if ((rc = add_wstr(ev, &K_IMAGE, fx.exe)) < 0 ||
            (rc = add_wstr_m(ev, &K_COMMANDLINE, cmdline, cmdline_made)) < 0 ||
            (rc = add_wstr_m(ev, &K_PIMAGE, pimage, true)) < 0 ||
            (rc = add_wstr_m(ev, &K_PCOMMANDLINE, pcmd, true)) < 0 ||
            (rc = add_wstr(ev, &K_CURDIR, fx.cwd)) < 0)
            return rc;
        if (fx.uname.s)
            rc = add_wstr_m(ev, &K_USER, fx.uname, fx.uname_made);
        else
            rc = add_wstr(ev, &K_USER, fx.uid);
        if (rc < 0)
            return rc;
        if (fx.pid > 0 && ((rc = add_int(ev, &K_PROCESSID, fx.pid)) < 0 ||
                           (rc = add_int(ev, &K_PPROCESSID, fx.ppid)) < 0))
            return rc;
    }
    size_t nf = wk_event_nfields(ev);
    if (nf > WK_AU_FIELDS_HINT_MAX)
        nf = WK_AU_FIELDS_HINT_MAX;
    p->fields_hint = nf > p->fields_hint ? nf : p->fields_hint - (p->fields_hint >> 5);
    p->n_events++;
    return 0;
}
