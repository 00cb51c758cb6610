/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rebuild values (block format 4): per event only its source, the parser's context, its
 * event.original and an edit script from the fields the source's parser rebuilds to the
 * stored ones; the reader re-runs the registered rebuild and re-encodes the exact format-2
 * record bytes. The encoder reproduces each event with the reader's code right away and
 * keeps it whole when a byte differs, so the form cannot lose or alter an event.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rebuild_private.h"
#include "watchkeeper/event.h"

#define MAX_MODULES 16
#define MAX_CTX 6
#define WINDOW 16           /* how far ahead a skip looks for the next stored field */
#define NHEADS (1u << 14)   /* hash chains of the encoder's table */
#define NONE UINT32_MAX

/* ---------------------------------------------------------------------------------- */
/* Registry                                                                            */

static const struct wk_store_rebuild_ops *reg[MAX_MODULES];
static size_t nreg;
bool (*wk__rebuild_test_spoil)(const struct wk_event *ev);
struct wk__rebuild_stats wk__rebuild_totals;

int wk_store_rebuild_register(const struct wk_store_rebuild_ops *ops)
{
    if (!ops || !ops->module || !ops->rebuild)
        return -EINVAL;
    size_t nc = 0;
    while (ops->context && ops->context[nc])
        nc++;
    if (nc > MAX_CTX)
        return -EINVAL;
    for (size_t i = 0; i < nreg; i++) {
        if (strcmp(reg[i]->module, ops->module) == 0) {
            reg[i] = ops;
            return 0;
        }
    }
    if (nreg == MAX_MODULES)
        return WK_ELIMIT;
    reg[nreg++] = ops;
    return 0;
}

void wk_store_rebuild_clear(void)
{
    nreg = 0;
}

bool wk__rebuild_enabled(void)
{
    return nreg > 0;
}

static const struct wk_store_rebuild_ops *find_ops(const char *m, size_t len)
{
    for (size_t i = 0; i < nreg; i++) {
        if (strlen(reg[i]->module) == len && memcmp(reg[i]->module, m, len) == 0)
            return reg[i];
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------- */
/* Rebuild versions (docs/store.md, "Rebuild versions"): a value's table of the modules */
/* it used, after its member headers: u8 count, then per module u8 name length, name,   */
/* u16 LE version. Its byte length is the u32 LE at offset 12 of the value (0: none, a  */
/* value written before versions).                                                      */

static uint32_t ops_version(const struct wk_store_rebuild_ops *ops)
{
    return ops->version ? ops->version : 1;
}

/* v, or its copy in *tmp with the value flags clr cleared when it has some. */
static inline const struct wk_value *unflagged(const struct wk_value *v, uint8_t clr,
                                               struct wk_value *tmp)
{
    if (!(v->flags & clr))
        return v;
    *tmp = *v;
    tmp->flags &= (uint8_t)~clr;
    return tmp;
}

/* The oldest version ops reads (min_version, or its version). */
static uint32_t ops_min_version(const struct wk_store_rebuild_ops *ops)
{
    return ops->min_version && ops->min_version < ops_version(ops) ? ops->min_version
                                                                   : ops_version(ops);
}

/* The registry slot bit of ops (0: not registered). */
static uint32_t ops_bit(const struct wk_store_rebuild_ops *ops)
{
    for (size_t i = 0; i < nreg; i++) {
        if (reg[i] == ops)
            return 1u << i;
    }
    return 0;
}

/* The registry slot bit of ev's module (0: none registered). */
static uint32_t module_bit(const struct wk_event *ev)
{
    size_t ml;
    const char *m = wk_event_get_str(ev, &WK_KEY_EVENT_MODULE, &ml);
    for (size_t i = 0; m && i < nreg; i++) {
        if (strlen(reg[i]->module) == ml && memcmp(reg[i]->module, m, ml) == 0)
            return 1u << i;
    }
    return 0;
}

size_t wk__rebuild_vtab(uint32_t modules, uint8_t *out, size_t cap)
{
    size_t n = 1;
    if (cap < 1)
        return 0;
    out[0] = 0;
    for (size_t i = 0; i < nreg; i++) {
        size_t ml = strlen(reg[i]->module);
        if (!(modules & (1u << i)) || ml > 255)
            continue;
        if (n + 3 + ml > cap)
            return 0;
        out[n++] = (uint8_t)ml;
        memcpy(out + n, reg[i]->module, ml);
        n += ml;
        uint32_t v = ops_version(reg[i]);
        out[n++] = (uint8_t)v;
        out[n++] = (uint8_t)(v >> 8);
        out[0]++;
    }
    return n;
}

/* What the last WK_EREBUILD (of any thread: hunt's workers report to the main thread)
 * was about. */
static struct {
    char module[64];
    uint32_t stored, ours; /* ours 0: no rebuild registered */
    uint32_t oldest;       /* the oldest version ours reads */
    uint64_t block, nblocks;
} why;
static pthread_mutex_t why_mu = PTHREAD_MUTEX_INITIALIZER;

int wk__rebuild_vcheck(const uint8_t *tab, size_t len, uint32_t *older)
{
    *older = 0;
    if (!len) { /* written before versions: read as version 1 of each module */
        for (size_t i = 0; i < nreg; i++) {
            if (ops_version(reg[i]) > 1 && ops_min_version(reg[i]) <= 1)
                *older |= 1u << i;
        }
        return 0;
    }
    size_t pos = 1;
    unsigned n = tab[0];
    for (unsigned i = 0; i < n; i++) {
        if (pos >= len || tab[pos] > len - pos - 1 || len - pos - 1 - tab[pos] < 2)
            return WK_ECORRUPT;
        size_t ml = tab[pos++];
        const char *m = (const char *)tab + pos;
        uint32_t v = (uint32_t)tab[pos + ml] | (uint32_t)tab[pos + ml + 1] << 8;
        pos += ml + 2;
        const struct wk_store_rebuild_ops *ops = find_ops(m, ml);
        if (!ops || v < ops_min_version(ops) || v > ops_version(ops)) {
            size_t cl = ml < sizeof(why.module) ? ml : sizeof(why.module) - 1;
            pthread_mutex_lock(&why_mu);
            memcpy(why.module, m, cl);
            why.module[cl] = 0;
            why.stored = v;
            why.ours = ops ? ops_version(ops) : 0;
            why.oldest = ops ? ops_min_version(ops) : 0;
            why.block = why.nblocks = 0;
            pthread_mutex_unlock(&why_mu);
            return WK_EREBUILD;
        }
        if (v < ops_version(ops))
            *older |= ops_bit(ops);
    }
    return pos == len ? 0 : WK_ECORRUPT;
}

void wk__rebuild_why_block(uint64_t first, uint32_t n)
{
    pthread_mutex_lock(&why_mu);
    why.block = first;
    why.nblocks = n;
    pthread_mutex_unlock(&why_mu);
}

const char *wk_store_rebuild_why(char *buf, size_t cap)
{
    char ours[128], where[96] = "";
    pthread_mutex_lock(&why_mu);
    if (why.ours && why.oldest < why.ours)
        snprintf(ours, sizeof(ours), "this binary has version %u (and reads %u-%u)", why.ours,
                 why.oldest, why.ours);
    else if (why.ours)
        snprintf(ours, sizeof(ours), "this binary has version %u", why.ours);
    else
        snprintf(ours, sizeof(ours), "this binary has no %s rebuild", why.module);
    if (why.block)
        snprintf(where, sizeof(where), "block %llu (value of blocks %llu-%llu): ",
                 (unsigned long long)why.block, (unsigned long long)why.block,
                 (unsigned long long)(why.block + why.nblocks - 1));
    snprintf(buf, cap,
             "%swritten with %s rebuild version %u, %s: read it, or turn it into a merged "
             "value (`watchkeeper compact --expand`), with a binary of version %u",
             where, why.module, why.stored, ours, why.stored);
    pthread_mutex_unlock(&why_mu);
    return buf;
}

/* ---------------------------------------------------------------------------------- */
/* Per-value table of repeated byte strings (module names, context strings, literal    */
/* field runs): the first use writes the bytes, later ones the index. Both sides keep  */
/* one and roll it back with an event whose reproduction failed.                       */

struct ient {
    size_t off;
    uint32_t len, next;
    uint64_t hash;
    int64_t pred; /* the next predicted integer context after this string */
};
struct undo {
    uint32_t idx; /* NONE: pred0 */
    int64_t old;
};
struct itab {
    struct wk__buf bytes;
    struct ient *e;
    size_t n, cap;
    uint32_t *heads; /* encoder only */
    int64_t pred0;
    /* the open event's changes */
    size_t n0, blen0;
    struct undo u[MAX_CTX];
    size_t nu;
};

static void itab_fini(struct itab *t)
{
    wk__buf_fini(&t->bytes);
    free(t->e);
    free(t->heads);
    memset(t, 0, sizeof(*t));
}

static void itab_begin(struct itab *t)
{
    t->n0 = t->n;
    t->blen0 = t->bytes.len;
    t->nu = 0;
}

static void itab_rollback(struct itab *t)
{
    while (t->n > t->n0) {
        struct ient *e = &t->e[--t->n];
        if (t->heads)
            t->heads[e->hash & (NHEADS - 1)] = e->next;
    }
    t->bytes.len = t->blen0;
    while (t->nu) {
        struct undo *u = &t->u[--t->nu];
        if (u->idx == NONE)
            t->pred0 = u->old;
        else
            t->e[u->idx].pred = u->old;
    }
}

static int itab_add(struct itab *t, const uint8_t *p, size_t len, uint64_t h)
{
    if (len > UINT32_MAX)
        return WK_ECORRUPT;
    if (t->n == t->cap) {
        size_t c = t->cap ? t->cap * 2 : 256;
        struct ient *e = realloc(t->e, c * sizeof(*e));
        if (!e)
            return -ENOMEM;
        t->e = e;
        t->cap = c;
    }
    struct ient *e = &t->e[t->n];
    e->off = t->bytes.len;
    e->len = (uint32_t)len;
    e->hash = h;
    e->pred = 0;
    e->next = NONE;
    int rc = wk__buf_put(&t->bytes, p, len);
    if (rc < 0)
        return rc;
    if (t->heads) {
        e->next = t->heads[h & (NHEADS - 1)];
        t->heads[h & (NHEADS - 1)] = (uint32_t)t->n;
    }
    t->n++;
    return 0;
}

static int set_pred(struct itab *t, uint32_t idx, int64_t v)
{
    if (t->nu == MAX_CTX)
        return WK_ECORRUPT;
    int64_t *slot = idx == NONE ? &t->pred0 : &t->e[idx].pred;
    t->u[t->nu].idx = idx;
    t->u[t->nu].old = *slot;
    t->nu++;
    *slot = v;
    return 0;
}

static int64_t get_pred(const struct itab *t, uint32_t idx)
{
    return idx == NONE ? t->pred0 : t->e[idx].pred;
}

static inline int room(struct wk__buf *b, size_t add)
{
    return b->cap - b->len >= add ? 0 : wk__buf_reserve(b, add);
}

/* ---------------------------------------------------------------------------------- */
/* Literal fields: format 1's field form (codec.c, wk__store_encode_field/_decode_field) */

struct scratch { /* a literal list's items */
    struct wk_str *items;
    size_t citems;
};

/* ---------------------------------------------------------------------------------- */
/* The shape table of a block: descriptor -> shape id                                  */

struct smap {
    struct wk__buf bytes; /* the descriptors */
    size_t *off, *dl;
    uint32_t *slot; /* shape id + 1, 0 empty */
    size_t n, cap, nslots;
    size_t n0; /* derived tables: the size before the open record */
    bool derive; /* shapes not found are new (the block's table is derived) */
};

static void smap_fini(struct smap *m)
{
    wk__buf_fini(&m->bytes);
    free(m->off);
    free(m->dl);
    free(m->slot);
}

static void smap_reset(struct smap *m, bool derive)
{
    m->bytes.len = 0;
    m->n = m->n0 = 0;
    m->derive = derive;
    if (m->slot)
        memset(m->slot, 0, m->nslots * sizeof(*m->slot));
}

static size_t smap_slot(const struct smap *m, const uint8_t *d, size_t dl, uint32_t *sid)
{
    *sid = NONE;
    if (!m->nslots)
        return 0;
    size_t s = wk__hash_bytes(d, dl) & (m->nslots - 1);
    for (; m->slot[s]; s = (s + 1) & (m->nslots - 1)) {
        uint32_t i = m->slot[s] - 1;
        if (m->dl[i] == dl && memcmp(m->bytes.p + m->off[i], d, dl) == 0) {
            *sid = i; /* the first of equal descriptors, as the writer's table has none */
            return s;
        }
    }
    *sid = NONE;
    return s;
}

/* Append descriptor d as the next shape id. */
static int smap_add(struct smap *m, const uint8_t *d, size_t dl)
{
    int rc;
    if (m->n == m->cap) {
        size_t c = m->cap ? m->cap * 2 : 64;
        size_t *o = realloc(m->off, c * sizeof(*o));
        if (o)
            m->off = o;
        size_t *l = realloc(m->dl, c * sizeof(*l));
        if (l)
            m->dl = l;
        if (!o || !l)
            return -ENOMEM;
        m->cap = c;
    }
    if ((m->n + 1) * 2 > m->nslots) {
        size_t ns = m->nslots ? m->nslots * 2 : 128;
        uint32_t *sl = calloc(ns, sizeof(*sl));
        if (!sl)
            return -ENOMEM;
        free(m->slot);
        m->slot = sl;
        m->nslots = ns;
        for (size_t i = 0; i < m->n; i++) {
            size_t s = wk__hash_bytes(m->bytes.p + m->off[i], m->dl[i]) & (ns - 1);
            while (sl[s])
                s = (s + 1) & (ns - 1);
            sl[s] = (uint32_t)i + 1;
        }
    }
    uint32_t old;
    size_t s = smap_slot(m, d, dl, &old);
    m->off[m->n] = m->bytes.len;
    m->dl[m->n] = dl;
    if ((rc = wk__buf_put(&m->bytes, d, dl)) < 0)
        return rc;
    if (old == NONE)
        m->slot[s] = (uint32_t)m->n + 1;
    m->n++;
    return 0;
}

/* Forget the shapes added since the open record began (a derived table's rollback): the
 * last ones added, so removing their slots breaks no probe sequence. */
static void smap_rollback(struct smap *m)
{
    while (m->n > m->n0) {
        size_t i = --m->n;
        uint32_t sid;
        size_t s = smap_slot(m, m->bytes.p + m->off[i], m->dl[i], &sid);
        if (sid == i)
            m->slot[s] = 0;
        m->bytes.len = m->off[i];
    }
}

/* Index the table section sec[0..len) (varint count, varint bytes, entries). */
static int smap_build(struct smap *m, const uint8_t *sec, size_t len)
{
    size_t pos = 0;
    uint64_t n, bytes;
    int rc;
    smap_reset(m, false);
    if ((rc = wk__varint_get(sec, len, &pos, &n)) < 0 ||
        (rc = wk__varint_get(sec, len, &pos, &bytes)) < 0)
        return rc;
    if (bytes != len - pos || n > bytes)
        return WK_ECORRUPT;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t dl;
        if ((rc = wk__varint_get(sec, len, &pos, &dl)) < 0)
            return rc;
        if (dl > len - pos)
            return WK_ECORRUPT;
        if ((rc = smap_add(m, sec + pos, (size_t)dl)) < 0)
            return rc;
        pos += (size_t)dl;
    }
    return pos == len ? 0 : WK_ECORRUPT;
}

/* The table section of a derived table (as the writer writes it) appended to out. */
static int smap_section(const struct smap *m, struct wk__buf *out)
{
    size_t tl = 0;
    for (size_t i = 0; i < m->n; i++)
        tl += m->dl[i] + 5;
    int rc = wk__buf_reserve(out, tl + 20);
    if (rc < 0)
        return rc;
    size_t mark = out->len;
    PUTV(out, m->n);
    size_t lenat = out->len;
    /* the byte length goes before the entries: write them, then move them behind it */
    size_t start = out->len;
    for (size_t i = 0; i < m->n; i++) {
        PUTV(out, m->dl[i]);
        memcpy(out->p + out->len, m->bytes.p + m->off[i], m->dl[i]);
        out->len += m->dl[i];
    }
    size_t elen = out->len - start;
    uint8_t vb[10];
    size_t vl = wk__varint_put(vb, elen);
    memmove(out->p + lenat + vl, out->p + start, elen);
    memcpy(out->p + lenat, vb, vl);
    out->len = lenat + vl + elen;
    (void)mark;
    return 0;
}

/* ---------------------------------------------------------------------------------- */
/* One side's state (the encoder keeps both: its own and the reader's check)          */

struct side {
    struct itab st; /* strings: module names, context strings, runs of literal fields */
    struct itab t;  /* event tuples: everything of an event but its original */
    struct wk_event *ctx, *rb, *ev; /* context, the rebuild, the reproduced event */
    struct scratch sc;
    struct wk__buf desc, vals, recs; /* recs: a derived table's block's records */
    struct smap m;                    /* the shape table of the open block */
    struct wk_key ckeys[MAX_MODULES][MAX_CTX]; /* context keys by module slot */
    const struct wk_store_rebuild_ops *ckops[MAX_MODULES];
    /* The encoder's last rebuild (rb, of ctx and this original, by rb_ops), and on the
     * check's side the encoder's side, whose rebuild it takes when its own would be the
     * same call (docs/store.md, "Cold tier CPU"). */
    const struct wk_store_rebuild_ops *rb_ops;
    const char *rb_orig;
    size_t rb_olen;
    const struct side *reuse;
    uint32_t older; /* registry slots read as an older version (wk__rebuild_vcheck) */
};

static int side_init(struct side *s, bool enc)
{
    memset(s, 0, sizeof(*s));
    if (enc) {
        if (!(s->t.heads = malloc(NHEADS * sizeof(*s->t.heads))) ||
            !(s->st.heads = malloc(NHEADS * sizeof(*s->st.heads))))
            return -ENOMEM;
        memset(s->t.heads, 0xff, NHEADS * sizeof(*s->t.heads));
        memset(s->st.heads, 0xff, NHEADS * sizeof(*s->st.heads));
    }
    if (wk_event_new(&s->ctx) < 0 || wk_event_new(&s->rb) < 0 || wk_event_new(&s->ev) < 0)
        return -ENOMEM;
    return 0;
}

static void side_fini(struct side *s)
{
    itab_fini(&s->t);
    itab_fini(&s->st);
    wk_event_free(s->ctx);
    wk_event_free(s->rb);
    wk_event_free(s->ev);
    free(s->sc.items);
    wk__buf_fini(&s->desc);
    wk__buf_fini(&s->vals);
    wk__buf_fini(&s->recs);
    smap_fini(&s->m);
}

static void side_begin(struct side *s)
{
    itab_begin(&s->t);
    itab_begin(&s->st);
    s->m.n0 = s->m.n;
}

static void side_rollback(struct side *s)
{
    itab_rollback(&s->t);
    itab_rollback(&s->st);
    smap_rollback(&s->m);
}

/* The keys of ops' context fields (computed once per module). */
static const struct wk_key *ctx_keys(struct side *s, const struct wk_store_rebuild_ops *ops,
                                     size_t *n)
{
    size_t slot = 0;
    while (slot < MAX_MODULES && s->ckops[slot] && s->ckops[slot] != ops)
        slot++;
    if (slot == MAX_MODULES)
        slot = 0;
    if (s->ckops[slot] != ops) {
        s->ckops[slot] = ops;
        for (size_t i = 0; i < MAX_CTX; i++) {
            if (!ops->context || !ops->context[i])
                break;
            s->ckeys[slot][i] = wk_key_init(ops->context[i]);
        }
    }
    *n = 0;
    while (ops->context && ops->context[*n])
        (*n)++;
    return s->ckeys[slot];
}

/* Entry i of t (NULL when there is none). */
static const uint8_t *entry(const struct itab *t, uint64_t i, size_t *len)
{
    if (i >= t->n)
        return NULL;
    *len = t->e[i].len;
    return t->bytes.p + t->e[i].off;
}

/* Reproduce one event from its tuple and original into s->ev (the reader's code, also run
 * by the encoder on what it just wrote). */
static int dec_event(struct side *s, const uint8_t *p, size_t len, const char *orig,
                     size_t olen)
{
    size_t pos = 0, nc, ml;
    uint64_t x;
    int rc;
    if ((rc = wk__varint_get(p, len, &pos, &x)) < 0)
        return rc;
    const uint8_t *m = entry(&s->st, x, &ml);
    const struct wk_store_rebuild_ops *ops = m ? find_ops((const char *)m, ml) : NULL;
    if (!ops)
        return WK_ECORRUPT; /* no rebuild registered for this source */
    const struct wk_key *ck = ctx_keys(s, ops, &nc);
    wk_event_reset(s->ctx);
    uint32_t last_str = NONE;
    for (size_t i = 0; i < nc; i++) {
        if ((rc = wk__varint_get(p, len, &pos, &x)) < 0)
            return rc;
        if (x == 1) {
            size_t cl;
            if ((rc = wk__varint_get(p, len, &pos, &x)) < 0)
                return rc;
            const uint8_t *cs = entry(&s->st, x, &cl);
            if (!cs)
                return WK_ECORRUPT;
            last_str = (uint32_t)x;
            if (wk_event_add_str(s->ctx, 0, &ck[i], (const char *)cs, cl) < 0)
                return -ENOMEM;
        } else if (x == 2) {
            if ((rc = wk__varint_get(p, len, &pos, &x)) < 0)
                return rc;
            int64_t v = (int64_t)((uint64_t)get_pred(&s->st, last_str) + (uint64_t)wk__unzigzag(x));
            if (wk_event_add_int(s->ctx, 0, &ck[i], v) < 0)
                return -ENOMEM;
            if ((rc = set_pred(&s->st, last_str, v + (int64_t)olen + 1)) < 0)
                return rc;
        } else if (x != 0) {
            return WK_ECORRUPT;
        }
    }
    /* The same rebuild of an equal context and the same original as the encoder's just
     * before: its result (a rebuild is a pure function of both; the read-back of the
     * whole value runs it again). */
    const struct side *u = s->reuse;
    const struct wk_event *rb = s->rb;
    if (u && u->rb_ops == ops && u->rb_olen == olen && memcmp(u->rb_orig, orig, olen) == 0 &&
        wk_event_equal(s->ctx, u->ctx)) {
        rb = u->rb;
    } else {
        wk_event_reset(s->rb);
        if (ops->rebuild(s->ctx, orig, olen, s->rb) < 0)
            return WK_ECORRUPT;
    }
    uint64_t dts, nrec;
    if ((rc = wk__varint_get(p, len, &pos, &dts)) < 0 ||
        (rc = wk__varint_get(p, len, &pos, &nrec)) < 0)
        return rc;
    /* Value flags to clear on the rebuilt fields: a value of an older version of the
     * module's rebuild (whose output lacked new_flags), and the script's own "clear"
     * (op 0 with n = 1, first: the stored event lacks WK_VALF_LITERAL, an unflagged
     * event of a flagging source, e.g. one ingested as JSON). */
    uint8_t clr = s->older && (s->older & ops_bit(ops)) ? ops->new_flags : 0;
    size_t at = pos;
    struct wk_event *ev = s->ev;
    wk_event_reset(ev);
    wk_event_set_ts(ev, (int64_t)((uint64_t)wk_event_ts(rb) + (uint64_t)wk__unzigzag(dts)));
    nrec = nrec ? nrec - 1 : wk_event_nrecords(rb);
    if (nrec > UINT16_MAX)
        return WK_ECORRUPT;
    for (uint64_t r = 0; r < nrec; r++) {
        if (wk_event_add_record(ev) < 0)
            return WK_ECORRUPT;
    }
    size_t j = 0, nr = wk_event_nfields(rb);
    for (;;) {
        uint64_t op;
        size_t opat = pos;
        if ((rc = wk__varint_get(p, len, &pos, &op)) < 0)
            return rc;
        if (op == 0)
            break;
        uint64_t cnt = op >> 2;
        switch (op & 3) {
        case 0: /* (n = 1) clear WK_VALF_LITERAL on the rebuilt fields: first only */
            if (cnt != 1 || opat != at)
                return WK_ECORRUPT;
            clr |= WK_VALF_LITERAL;
            break;
        case 1: /* copy */
            if (cnt > nr - j)
                return WK_ECORRUPT;
            for (uint64_t c = 0; c < cnt; c++, j++) {
                struct wk_value cv;
                const struct wk_value *v = unflagged(wk_event_field_value(rb, j), clr, &cv);
                if (wk_event_add_value(ev, v->rec, wk_event_field_key(rb, j),
                                       wk_event_field_dots(rb, j), v) < 0)
                    return WK_ECORRUPT;
            }
            break;
        case 2: /* skip */
            if (cnt > nr - j)
                return WK_ECORRUPT;
            j += (size_t)cnt;
            break;
        case 3: { /* a run of literal fields: string cnt */
            size_t rl, rp = 0;
            uint64_t nf;
            const uint8_t *run = entry(&s->st, cnt, &rl);
            if (!run)
                return WK_ECORRUPT;
            if ((rc = wk__varint_get(run, rl, &rp, &nf)) < 0)
                return rc;
            for (uint64_t f = 0; f < nf; f++) {
                if ((rc = wk__store_decode_field(run, rl, &rp, UINT16_MAX, ev, &s->sc.items,
                                                 &s->sc.citems)) < 0)
                    return rc;
            }
            if (rp != rl)
                return WK_ECORRUPT;
            break;
        }
        default:
            return WK_ECORRUPT;
        }
    }
    return pos == len ? 0 : WK_ECORRUPT;
}

/* Append s->ev as a format-2 record (shape from the block's table) to out. */
static int emit_record(struct side *s, struct wk__buf *out, int64_t *prev_ts)
{
    s->desc.len = s->vals.len = 0;
    uint32_t sid;
    int rc = wk__enc2_event(&s->desc, &s->vals, s->ev);
    if (rc < 0)
        return rc == -ENOMEM ? rc : WK_ECORRUPT;
    smap_slot(&s->m, s->desc.p, s->desc.len, &sid);
    if (sid == NONE) {
        if (!s->m.derive)
            return WK_ECORRUPT;
        sid = (uint32_t)s->m.n; /* a derived table: the next shape */
        if ((rc = smap_add(&s->m, s->desc.p, s->desc.len)) < 0)
            return rc;
    }
    if ((rc = wk__buf_reserve(out, s->vals.len + 40)) < 0)
        return rc;
    wk__enc2_record(out, prev_ts, wk_event_ts(s->ev), sid, s->vals.p, s->vals.len);
    return 0;
}

/* Stream entries (docs/store.md): 0 whole record (length, bytes); 1 a new string (length,
 * bytes); 2 a new tuple (length, bytes); k >= 3 an event of tuple k - 3, then its original
 * and a NUL. One record's entries from s[*pos..] (its new strings and tuple first),
 * appended to out. */
static int dec_record(struct side *s, const uint8_t *h, size_t hlen, size_t *pos,
                      struct wk__buf *out, int64_t *prev)
{
    uint64_t tag, l, d, sid;
    int rc;
    for (;;) {
        if ((rc = wk__varint_get(h, hlen, pos, &tag)) < 0)
            return rc;
        if (tag >= 3)
            break;
        if ((rc = wk__varint_get(h, hlen, pos, &l)) < 0)
            return rc;
        if (l > hlen - *pos)
            return WK_ECORRUPT;
        const uint8_t *b = h + *pos;
        *pos += (size_t)l;
        if (tag == 1 || tag == 2) {
            if ((rc = itab_add(tag == 1 ? &s->st : &s->t, b, (size_t)l, 0)) < 0)
                return rc;
            continue;
        }
        size_t bp = 0;
        if ((rc = wk__varint_get(b, (size_t)l, &bp, &d)) < 0 ||
            (rc = wk__varint_get(b, (size_t)l, &bp, &sid)) < 0)
            return rc;
        *prev = (int64_t)((uint64_t)*prev + (uint64_t)wk__unzigzag(d));
        if (s->m.derive && sid >= s->m.n) {
            /* a derived table's new shape: its descriptor follows */
            if (sid > s->m.n || (rc = wk__varint_get(h, hlen, pos, &d)) < 0)
                return rc < 0 ? rc : WK_ECORRUPT;
            if (d > hlen - *pos || (rc = smap_add(&s->m, h + *pos, (size_t)d)) < 0)
                return rc < 0 ? rc : WK_ECORRUPT;
            *pos += (size_t)d;
        }
        if ((rc = wk__buf_reserve(out, (size_t)l + 10)) < 0)
            return rc;
        PUTV(out, l);
        memcpy(out->p + out->len, b, (size_t)l);
        out->len += (size_t)l;
        return 0;
    }
    size_t tl;
    const uint8_t *tup = entry(&s->t, tag - 3, &tl);
    const uint8_t *end = memchr(h + *pos, 0, hlen - *pos);
    if (!tup || !end)
        return WK_ECORRUPT;
    const char *orig = (const char *)h + *pos;
    size_t olen = (size_t)(end - (h + *pos));
    *pos += olen + 1;
    if ((rc = dec_event(s, tup, tl, orig, olen)) < 0)
        return rc;
    return emit_record(s, out, prev);
}

/* ---------------------------------------------------------------------------------- */
/* Encoder                                                                             */

/* Stored field i of a against rebuilt field j of b, b's value flags clr cleared. */
static bool field_eq(const struct wk_event *a, size_t i, const struct wk_event *b, size_t j,
                     uint8_t clr)
{
    const struct wk_key *ka = wk_event_field_key(a, i), *kb = wk_event_field_key(b, j);
    struct wk_value cv;
    const struct wk_value *va = wk_event_field_value(a, i),
                          *vb = unflagged(wk_event_field_value(b, j), clr, &cv);
    return ka->len == kb->len && va->rec == vb->rec && memcmp(ka->name, kb->name, ka->len) == 0 &&
           wk_value_equal(va, vb) && wk_event_field_dots(a, i) == wk_event_field_dots(b, j);
}

static bool in_window(const struct wk_event *ev, size_t i, const struct wk_event *rb, size_t j,
                      size_t nr, uint8_t clr)
{
    for (size_t k = j; k < nr && k < j + WINDOW; k++) {
        if (field_eq(ev, i, rb, k, clr))
            return true;
    }
    return false;
}

/* Does any field of ev carry a flag of f? */
static bool any_flag(const struct wk_event *ev, uint8_t f)
{
    for (size_t i = 0, n = wk_event_nfields(ev); i < n; i++) {
        if (wk_event_field_value(ev, i)->flags & f)
            return true;
    }
    return false;
}

/* One entry of the value's streams as the encoder keeps it until the value is complete:
 * an event (its tuple, then bytes = its original and NUL) or a record kept whole (bytes =
 * the whole entry). Strings and tuples are not entries: the value's tables are written
 * at the front of the first block's stream (enc_finish). */
struct item {
    uint32_t tup; /* NONE: a record kept whole */
    uint32_t len;
    size_t off; /* in enc.body */
};
/* A member block: its table part and count (in enc.pre), then its items. */
struct blkpart {
    size_t pre, prelen, item0, nitems;
};

struct enc {
    struct side e, d; /* the encoder's tables; the reader's, for the check */
    struct wk__buf tup, run, hdr, chk;
    struct wk__buf body, items, pre, parts; /* the value until enc_finish */
    size_t tagat;                           /* where enc_event wrote the event's tag */
    uint32_t tagidx;                        /* and its tuple */
    struct smap m;
    struct wk__blkview view;
    struct wk_event *ev;
};

/* The index of p in t, written to x->hdr as a new entry (tag) when it is not there yet. */
static int intern(struct itab *t, struct wk__buf *hdr, unsigned tag, const void *p, size_t len,
                  uint32_t *idx)
{
    uint64_t h = wk__hash_bytes(p, len);
    for (uint32_t i = t->heads[h & (NHEADS - 1)]; i != NONE; i = t->e[i].next) {
        if (t->e[i].hash == h && t->e[i].len == len &&
            memcmp(t->bytes.p + t->e[i].off, p, len) == 0) {
            *idx = i;
            return 0;
        }
    }
    int rc = room(hdr, len + 20);
    if (rc < 0)
        return rc;
    PUTV(hdr, tag);
    PUTV(hdr, len);
    memcpy(hdr->p + hdr->len, p, len);
    hdr->len += len;
    *idx = (uint32_t)t->n;
    return itab_add(t, p, len, h);
}

/* The edit script's copies, skips and literal runs from rb (its value flags clr cleared)
 * to ev, appended to x->tup. @return 0, <0. */
static int put_script(struct enc *x, const struct wk_event *ev, const struct wk_event *rb,
                      uint8_t clr)
{
    struct side *s = &x->e;
    struct wk__buf *o = &x->tup;
    uint32_t idx;
    int rc;
    size_t ne = wk_event_nfields(ev), nr = wk_event_nfields(rb);
    for (size_t i = 0, j = 0; i < ne;) {
        if ((rc = room(o, 20)) < 0)
            return rc;
        size_t c = 0;
        while (i + c < ne && j + c < nr && field_eq(ev, i + c, rb, j + c, clr))
            c++;
        if (c) {
            PUTV(o, (uint64_t)c << 2 | 1);
            i += c, j += c;
            continue;
        }
        size_t k = j + 1;
        while (k < nr && k < j + WINDOW && !field_eq(ev, i, rb, k, clr))
            k++;
        if (k < nr && k < j + WINDOW) {
            PUTV(o, (uint64_t)(k - j) << 2 | 2);
            j = k;
            continue;
        }
        /* the stored fields from i on that the rebuild does not have near j: one run,
         * a string of the value (enrichment repeats: a container's fields) */
        size_t e = i + 1;
        while (e < ne && !in_window(ev, e, rb, j, nr, clr))
            e++;
        x->run.len = 0;
        if ((rc = room(&x->run, 10)) < 0)
            return rc;
        PUTV(&x->run, e - i);
        for (; i < e; i++) {
            if ((rc = wk__store_encode_field(&x->run, ev, i)) < 0)
                return rc;
        }
        if ((rc = intern(&s->st, &x->hdr, 1, x->run.p, x->run.len, &idx)) < 0)
            return rc;
        PUTV(o, (uint64_t)idx << 2 | 3);
    }
    return 0;
}

/* ev's entries (new strings, new tuple, the event with its original) into x->hdr.
 * @return 0, 1 (keep it whole: no source rebuild, no original or one holding a NUL, the
 * rebuild failed), <0. */
static int enc_event(struct enc *x, const struct wk_event *ev)
{
    struct side *s = &x->e;
    struct wk__buf *o = &x->tup;
    size_t ml, olen, nc;
    const char *mod = wk_event_get_str(ev, &WK_KEY_EVENT_MODULE, &ml);
    const char *orig = wk_event_get_str(ev, &WK_KEY_EVENT_ORIGINAL, &olen);
    const struct wk_store_rebuild_ops *ops = mod ? find_ops(mod, ml) : NULL;
    if (!ops || !orig || memchr(orig, 0, olen))
        return 1;
    const struct wk_key *ck = ctx_keys(s, ops, &nc);
    uint32_t idx, last_str = NONE;
    int rc;
    o->len = 0;
    s->rb_ops = NULL;
    if ((rc = intern(&s->st, &x->hdr, 1, mod, ml, &idx)) < 0 || (rc = room(o, 10)) < 0)
        return rc;
    PUTV(o, idx);
    wk_event_reset(s->ctx);
    for (size_t i = 0; i < nc; i++) {
        const struct wk_value *v = wk_event_get(ev, 0, &ck[i]);
        if ((rc = room(o, 24)) < 0)
            return rc;
        if (!v) {
            PUTV(o, 0);
        } else if (v->kind == WK_VAL_STR) {
            PUTV(o, 1);
            if ((rc = intern(&s->st, &x->hdr, 1, v->u.s, v->len, &last_str)) < 0)
                return rc;
            PUTV(o, last_str);
            if (wk_event_add_str(s->ctx, 0, &ck[i], v->u.s, v->len) < 0)
                return -ENOMEM;
        } else if (v->kind == WK_VAL_INT) {
            PUTV(o, 2);
            PUTV(o, wk__zigzag((int64_t)((uint64_t)v->u.i - (uint64_t)get_pred(&s->st, last_str))));
            if ((rc = set_pred(&s->st, last_str, v->u.i + (int64_t)olen + 1)) < 0)
                return rc;
            if (wk_event_add_int(s->ctx, 0, &ck[i], v->u.i) < 0)
                return -ENOMEM;
        } else {
            return 1;
        }
    }
    wk_event_reset(s->rb);
    if (ops->rebuild(s->ctx, orig, olen, s->rb) < 0)
        return 1;
    s->rb_ops = ops;
    s->rb_orig = orig;
    s->rb_olen = olen;
    const struct wk_event *rb = s->rb;
    if ((rc = room(o, 30)) < 0)
        return rc;
    PUTV(o, wk__zigzag((int64_t)((uint64_t)wk_event_ts(ev) - (uint64_t)wk_event_ts(rb))));
    PUTV(o, wk_event_nrecords(ev) == wk_event_nrecords(rb) ? 0 : wk_event_nrecords(ev) + 1);
    /* The script's "clear" (op 0 with n = 1): the rebuild flags values WK_VALF_LITERAL
     * and the stored event has no flagged value (one ingested as JSON, or stored by a
     * binary whose parser did not flag): its fields are then the rebuilt ones without the
     * flag, not literal runs. An event with flags of its own (the parser's) is scripted
     * against the flagged fields: one script, no second try (the cold tier's CPU). */
    uint8_t clr = 0;
    if (any_flag(rb, WK_VALF_LITERAL) && !any_flag(ev, WK_VALF_LITERAL)) {
        clr = WK_VALF_LITERAL;
        if ((rc = room(o, 2)) < 0)
            return rc;
        PUTV(o, 1u << 2 | 0);
    }
    if ((rc = put_script(x, ev, rb, clr)) < 0)
        return rc;
    if ((rc = room(o, 2)) < 0)
        return rc;
    PUTV(o, 0);
    if ((rc = intern(&s->t, &x->hdr, 2, o->p, o->len, &idx)) < 0 ||
        (rc = room(&x->hdr, olen + 12)) < 0)
        return rc;
    x->tagat = x->hdr.len;
    x->tagidx = idx;
    PUTV(&x->hdr, (uint64_t)idx + 3);
    memcpy(x->hdr.p + x->hdr.len, orig, olen);
    x->hdr.len += olen;
    x->hdr.p[x->hdr.len++] = 0;
    return 0;
}

/* Is the block's shape table the one its records derive (each shape in the order of its
 * first use, every shape used)? Then the form leaves it out. */
static bool derivable(struct wk__blkview *v, size_t nshapes)
{
    const uint8_t *body;
    size_t blen;
    int64_t ts;
    uint32_t sid, next = 0;
    while (wk__blkview_next(v, &body, &blen, &ts) == 1) {
        if (wk__blkview_shape_id(v, &sid) != 1 || sid > next)
            return false;
        next += sid == next;
    }
    wk__blkview_rewind(v);
    return next == nshapes;
}

static int enc_block(struct enc *x, const uint8_t *raw, size_t len, struct wk__buf *form,
                     struct wk__rebuild_stats *st)
{
    struct wk__blkview *v = &x->view;
    uint32_t count;
    int rc;
    if ((rc = wk__blkview_open(v, WK__BLK_FORMAT2, raw, len)) < 0 ||
        (rc = wk__blkview_count(v, &count)) < 0 || (rc = smap_build(&x->m, raw, v->start)) < 0)
        return rc;
    bool derive = derivable(v, x->m.n);
    if (derive)
        smap_reset(&x->d.m, true);
    else if ((rc = smap_build(&x->d.m, raw, v->start)) < 0)
        return rc;
    x->hdr.len = 0;
    int64_t prev = 0;
    struct blkpart bp = {x->pre.len, 0, x->items.len / sizeof(struct item), 0};
    for (;;) {
        size_t at = v->pos, blen;
        const uint8_t *body;
        int64_t ts;
        if ((rc = wk__blkview_next(v, &body, &blen, &ts)) <= 0)
            break;
        bool whole = true;
        if ((rc = wk__blkview_decode(v, body, blen, ts, x->ev)) < 0)
            return rc;
        side_begin(&x->e);
        side_begin(&x->d);
        size_t h0 = x->hdr.len;
        rc = enc_event(x, x->ev);
        if (rc < 0 && rc != WK_ECORRUPT)
            return rc;
        if (rc == 0) {
            /* The reader's code on what was just written must give the record's bytes
             * (and, for a derived table, the shape it adds must be the block's). */
            size_t hp = h0;
            int64_t p2 = prev;
            x->chk.len = 0;
            rc = dec_record(&x->d, x->hdr.p, x->hdr.len, &hp, &x->chk, &p2);
            if (rc == -ENOMEM)
                return rc;
            whole = rc != 0 || hp != x->hdr.len || x->chk.len != v->pos - at ||
                    memcmp(x->chk.p, raw + at, x->chk.len) != 0 ||
                    (wk__rebuild_test_spoil && wk__rebuild_test_spoil(x->ev));
            for (size_t k = x->d.m.n0; !whole && k < x->d.m.n; k++) {
                whole = k >= x->m.n || x->m.dl[k] != x->d.m.dl[k] ||
                        memcmp(x->m.bytes.p + x->m.off[k], x->d.m.bytes.p + x->d.m.off[k],
                               x->m.dl[k]) != 0;
            }
        }
        if (whole) {
            side_rollback(&x->e);
            side_rollback(&x->d);
            x->hdr.len = h0;
            uint32_t sid;
            if (wk__blkview_shape_id(v, &sid) != 1 || sid >= x->m.n)
                return WK_ECORRUPT;
            bool fresh = derive && sid == x->d.m.n;
            size_t dl = fresh ? x->m.dl[sid] : 0;
            if ((rc = room(&x->hdr, blen + dl + 30)) < 0)
                return rc;
            PUTV(&x->hdr, 0);
            PUTV(&x->hdr, blen);
            memcpy(x->hdr.p + x->hdr.len, body, blen);
            x->hdr.len += blen;
            if (fresh) {
                /* the shape's descriptor, which no rebuild gives the reader */
                PUTV(&x->hdr, dl);
                memcpy(x->hdr.p + x->hdr.len, x->m.bytes.p + x->m.off[sid], dl);
                x->hdr.len += dl;
                if ((rc = smap_add(&x->d.m, x->m.bytes.p + x->m.off[sid], dl)) < 0)
                    return rc;
            }
            st->whole++;
        } else {
            st->rebuilt++;
            st->modules |= module_bit(x->ev);
        }
        /* the entry without the strings and tuple it defined (enc_finish writes them) */
        size_t b0 = h0;
        if (!whole) {
            uint8_t vb[10];
            b0 = x->tagat + wk__varint_put(vb, (uint64_t)x->tagidx + 3);
        }
        struct item it = {whole ? NONE : x->tagidx, (uint32_t)(x->hdr.len - b0), x->body.len};
        if ((rc = wk__buf_put(&x->body, x->hdr.p + b0, x->hdr.len - b0)) < 0 ||
            (rc = wk__buf_put(&x->items, &it, sizeof(it))) < 0)
            return rc;
        bp.nitems++;
        prev = ts;
    }
    if (rc < 0)
        return rc;
    /* the table (or 0 when derived) and record count; the entries follow in enc_finish */
    size_t tl = derive ? 0 : v->start;
    if ((rc = room(&x->pre, tl + 20)) < 0)
        return rc;
    PUTV(&x->pre, derive ? 0 : tl + 1);
    memcpy(x->pre.p + x->pre.len, raw, tl);
    x->pre.len += tl;
    PUTV(&x->pre, count);
    bp.prelen = x->pre.len - bp.pre;
    return wk__buf_put(&x->parts, &bp, sizeof(bp));
}

static int rank_cmp(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b; /* uses << 32 | ~index: most used first, then first made */
    return *x < *y ? 1 : *x > *y ? -1 : 0;
}

/* The value's form from the encoded blocks: every string and tuple of the value at the
 * front of the first block's stream (a reader takes entries 1 and 2 wherever they are),
 * tuples ordered by their number of events, so that the most used get the smallest tags
 * (one byte below 125) and zstd's literal statistics one set of frequent tags. */
static int enc_finish(struct enc *x, struct wk__buf *form)
{
    const struct item *items = (const struct item *)x->items.p;
    const struct blkpart *parts = (const struct blkpart *)x->parts.p;
    size_t ni = x->items.len / sizeof(*items), np = x->parts.len / sizeof(*parts);
    size_t nt = x->e.t.n, ns = x->e.st.n;
    uint64_t *rank = calloc(nt ? nt : 1, sizeof(*rank));
    uint32_t *tag = malloc((nt ? nt : 1) * sizeof(*tag));
    int rc = -ENOMEM;
    if (!rank || !tag)
        goto out;
    for (size_t i = 0; i < nt; i++)
        rank[i] = ~(uint64_t)i & 0xffffffffu;
    for (size_t i = 0; i < ni; i++) {
        if (items[i].tup != NONE)
            rank[items[i].tup] += (uint64_t)1 << 32;
    }
    qsort(rank, nt, sizeof(*rank), rank_cmp);
    for (size_t r = 0; r < nt; r++)
        tag[~(uint32_t)rank[r]] = (uint32_t)r + 3;
    for (size_t b = 0; b < np; b++) {
        struct wk__buf *h = &x->hdr;
        h->len = 0;
        for (size_t i = 0; b == 0 && i < ns + nt; i++) {
            size_t len = 0;
            bool str = i < ns;
            const uint8_t *e = str ? entry(&x->e.st, i, &len)
                                   : entry(&x->e.t, ~(uint32_t)rank[i - ns], &len);
            rc = WK_ECORRUPT;
            if (!e || (rc = room(h, len + 20)) < 0)
                goto out;
            PUTV(h, str ? 1 : 2);
            PUTV(h, len);
            memcpy(h->p + h->len, e, len);
            h->len += len;
        }
        for (size_t i = parts[b].item0; i < parts[b].item0 + parts[b].nitems; i++) {
            if ((rc = room(h, items[i].len + 10)) < 0)
                goto out;
            if (items[i].tup != NONE)
                PUTV(h, tag[items[i].tup]);
            memcpy(h->p + h->len, x->body.p + items[i].off, items[i].len);
            h->len += items[i].len;
        }
        if ((rc = room(form, parts[b].prelen + h->len + 20)) < 0)
            goto out;
        memcpy(form->p + form->len, x->pre.p + parts[b].pre, parts[b].prelen);
        form->len += parts[b].prelen;
        PUTV(form, h->len);
        memcpy(form->p + form->len, h->p, h->len);
        form->len += h->len;
    }
    rc = 0;
out:
    free(rank);
    free(tag);
    return rc;
}

size_t wk__rebuild_form_tables(const uint8_t *form, size_t len, size_t *off)
{
    size_t pos = 0, at;
    uint64_t tl, x;
    *off = 0;
    if (wk__varint_get(form, len, &pos, &tl) < 0 || (tl && tl - 1 > len - pos))
        return 0;
    pos += tl ? (size_t)tl - 1 : 0;
    if (wk__varint_get(form, len, &pos, &x) < 0 || wk__varint_get(form, len, &pos, &x) < 0)
        return 0;
    *off = at = pos;
    for (;;) {
        size_t e = pos;
        if (wk__varint_get(form, len, &pos, &x) < 0 || (x != 1 && x != 2) ||
            wk__varint_get(form, len, &pos, &x) < 0 || x > len - pos)
            return e - at;
        pos += (size_t)x;
    }
}

int wk__rebuild_encode(const uint8_t *hdrs, uint32_t n, const uint8_t *raw, size_t rawlen,
                       struct wk__buf *form, struct wk__rebuild_stats *stats)
{
    struct enc x;
    memset(&x, 0, sizeof(x));
    form->len = 0;
    int rc = -ENOMEM;
    if (side_init(&x.e, true) < 0 || side_init(&x.d, false) < 0 || wk_event_new(&x.ev) < 0)
        goto out;
    x.d.reuse = &x.e;
    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *h = hdrs + (size_t)i * WK__BLK_HDR;
        size_t len = wk__get_u32le(h + WK__BLK_OFF_RAW);
        rc = -EINVAL;
        if (h[WK__BLK_OFF_FORMAT] != WK__BLK_FORMAT2 || len > rawlen - off)
            goto out;
        if ((rc = enc_block(&x, raw + off, len, form, stats)) < 0)
            goto out;
        off += len;
    }
    rc = off == rawlen ? enc_finish(&x, form) : -EINVAL;
out:
    side_fini(&x.e);
    side_fini(&x.d);
    wk__buf_fini(&x.tup);
    wk__buf_fini(&x.run);
    wk__buf_fini(&x.hdr);
    wk__buf_fini(&x.chk);
    wk__buf_fini(&x.body);
    wk__buf_fini(&x.items);
    wk__buf_fini(&x.pre);
    wk__buf_fini(&x.parts);
    smap_fini(&x.m);
    wk__blkview_fini(&x.view);
    wk_event_free(x.ev);
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* Reader                                                                              */

/* A slice: varint length + bytes at f[*pos..]. */
static int get_slice(const uint8_t *f, size_t flen, size_t *pos, const uint8_t **s, size_t *len)
{
    uint64_t l;
    int rc = wk__varint_get(f, flen, pos, &l);
    if (rc < 0)
        return rc;
    if (l > flen - *pos)
        return WK_ECORRUPT;
    *s = f + *pos;
    *len = (size_t)l;
    *pos += (size_t)l;
    return 0;
}

static int dec_block(struct side *s, const uint8_t *f, size_t flen, size_t *pos,
                     struct wk__buf *out)
{
    const uint8_t *h;
    size_t hl;
    uint64_t tl, count;
    int rc;
    if ((rc = wk__varint_get(f, flen, pos, &tl)) < 0)
        return rc;
    bool derive = tl == 0;
    struct wk__buf *recs = out;
    if (derive) {
        smap_reset(&s->m, true);
        recs = &s->recs;
        recs->len = 0;
    } else {
        if (tl - 1 > flen - *pos)
            return WK_ECORRUPT;
        if ((rc = smap_build(&s->m, f + *pos, (size_t)tl - 1)) < 0 ||
            (rc = wk__buf_put(out, f + *pos, (size_t)tl - 1)) < 0)
            return rc;
        *pos += (size_t)tl - 1;
    }
    if ((rc = wk__varint_get(f, flen, pos, &count)) < 0 ||
        (rc = get_slice(f, flen, pos, &h, &hl)) < 0)
        return rc;
    int64_t prev = 0;
    size_t hp = 0;
    for (uint64_t i = 0; i < count; i++) {
        side_begin(s);
        if ((rc = dec_record(s, h, hl, &hp, recs, &prev)) < 0)
            return rc;
    }
    if (hp != hl)
        return WK_ECORRUPT;
    if (derive && ((rc = smap_section(&s->m, out)) < 0 ||
                   (rc = wk__buf_put(out, recs->p, recs->len)) < 0))
        return rc;
    return 0;
}

int wk__rebuild_expand(const uint8_t *hdrs, uint32_t n, const uint8_t *form, size_t flen,
                       uint32_t older, struct wk__buf *out)
{
    struct side s;
    size_t pos = 0, total = 0;
    out->len = 0;
    for (uint32_t i = 0; i < n; i++)
        total += wk__get_u32le(hdrs + (size_t)i * WK__BLK_HDR + WK__BLK_OFF_RAW);
    int rc = wk__buf_reserve(out, total + 1);
    if (rc < 0)
        return rc;
    if ((rc = side_init(&s, false)) < 0)
        goto out;
    s.older = older;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        const uint8_t *h = hdrs + (size_t)i * WK__BLK_HDR;
        size_t at = out->len;
        uint8_t hash[32];
        if (h[WK__BLK_OFF_FORMAT] != WK__BLK_FORMAT2) {
            rc = WK_ECORRUPT;
            break;
        }
        if ((rc = dec_block(&s, form, flen, &pos, out)) < 0)
            break;
        /* The reproduced bytes must be the block's: its size and records hash. */
        if ((rc = wk__records_hash(h, out->p + at, out->len - at, hash)) < 0)
            break;
        if (out->len - at != wk__get_u32le(h + WK__BLK_OFF_RAW) ||
            memcmp(hash, h + WK__BLK_OFF_RHASH, 32) != 0)
            rc = WK_ECORRUPT;
    }
    if (rc == 0 && pos != flen)
        rc = WK_ECORRUPT;
out:
    side_fini(&s);
    if (rc < 0)
        out->len = 0;
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* Selective reads (docs/store.md, "Selective reads"): walk a value's form and rebuild  */
/* only the events that may match the filter. Every other event is passed over after a  */
/* few varints and a search of its original; the tables (strings, tuples, the context   */
/* predictions) are kept as a full read keeps them.                                      */

unsigned wk__rbsel_test_drop;

#define V_DONE (1u << 31)  /* the verdict is known */
#define V_SKIP (1u << 30)  /* another source: no event of the tuple matches */
#define V_INTS (1u << 29)  /* integer context fields (predictions to keep) */
#define V_SAT 0xffu        /* bit c: condition c met by a literal field or context string */
#define V_UNDEC 0xff00u    /* bit 8 + c: condition c undecidable (a field the module can't say) */
#define SEL_FULL 2         /* (sel_record) the member has to be read whole */
#define NFORMS 3           /* TEXT, HEX, ESCAPED */
#define LIT_RECS 16        /* records a literal run's scratch event has */

struct needle {
    uint8_t *s;
    size_t len;
    bool ci;             /* compare the haystack's bytes | 0x20 (hex, either case) */
    const uint8_t *next; /* next occurrence at or after the last original, NULL: none */
    bool valid;
};

struct msel { /* per module: which forms each alternative may take */
    const struct wk_store_rebuild_ops *ops;
    size_t nc;
    uint8_t forms[WK__RBQ_MAX][2];
    uint8_t nmask[WK__RBQ_MAX]; /* the needles to search: bit a * NFORMS + form */
};

struct tverd {
    uint32_t bits;
    uint8_t mod; /* index into mods */
};

struct wk__rbsel {
    struct side s;
    const struct wk__rbq *q;
    struct needle nd[WK__RBQ_MAX][2][NFORMS];
    struct msel mods[MAX_MODULES];
    size_t nmods;
    struct tverd *tv; /* per tuple of the value */
    size_t ctv;
    uint32_t *sv;     /* per string of the value: a literal run's verdict */
    size_t csv;
    struct wk_event *lit;
    /* the value */
    uint64_t key;
    const uint8_t *hdrs, *form;
    uint32_t n, next_member;
    size_t flen, pos;
    /* the open member */
    bool open, full, derive;
    uint32_t member;
    const uint8_t *h;
    size_t hl, hp, mstart, mend;
    uint64_t count, i;
    /* the tables when the member began (to read it whole from there) */
    size_t sn_st, sn_stb, sn_t, sn_tb;
    int64_t sn_pred0, *sn_pred;
    size_t csn;
    /* a member read whole */
    struct wk__buf recs;
    struct wk__blkview view;
    struct wk_event *fev;
    uint32_t fidx;
    struct wk__rbsel_stats stats;
};

/* memmem on the haystack's bytes | 0x20, n lowercase: a superset of a case-insensitive
 * search for hex digits (the tests ask "may", so extra hits only cost a rebuild). */
static inline bool ci_same(const uint8_t *a, const uint8_t *n, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((a[i] | 0x20) != n[i])
            return false;
    }
    return true;
}

static const uint8_t *ci_find(const uint8_t *h, size_t hl, const uint8_t *n, size_t nl)
{
    if (nl == 0)
        return h;
    if (nl > hl)
        return NULL;
    const size_t last = hl - nl;
    const uint8_t c0 = n[0], c1 = n[nl - 1];
    size_t i = 0;
#ifdef __SSE2__
    const __m128i f = _mm_set1_epi8((char)c0), l = _mm_set1_epi8((char)c1),
                  lo = _mm_set1_epi8(0x20);
    for (; i + 15 <= last; i += 16) {
        __m128i a = _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(h + i)), lo);
        __m128i b = _mm_or_si128(
            _mm_loadu_si128((const __m128i *)(const void *)(h + i + nl - 1)), lo);
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_and_si128(_mm_cmpeq_epi8(a, f), _mm_cmpeq_epi8(b, l)));
        while (m) {
            unsigned k = (unsigned)__builtin_ctz(m);
            if (ci_same(h + i + k, n, nl))
                return h + i + k;
            m &= m - 1;
        }
    }
#endif
    for (; i <= last; i++) {
        if ((h[i] | 0x20) == c0 && ci_same(h + i, n, nl))
            return h + i;
    }
    return NULL;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define SEL_AVX2 1
#include <immintrin.h>

/* memmem of n in h (fold 0), or on h's bytes | 0x20 (fold 0x20, n lowercase): 32 start
 * positions per compare on the needle's first and last bytes. The needles are searched
 * over a whole member's stream (most of it originals), so this is most of a selective
 * read's own time. */
__attribute__((target("avx2"))) static inline const uint8_t *
find_avx2(const uint8_t *h, size_t hl, const uint8_t *n, size_t nl, const uint8_t fold,
          const bool three)
{
    if (nl == 0)
        return h;
    if (nl > hl)
        return NULL;
    const size_t starts = hl - nl + 1, mid = nl / 2;
    const __m256i f = _mm256_set1_epi8((char)n[0]), l = _mm256_set1_epi8((char)n[nl - 1]),
                  c = _mm256_set1_epi8((char)n[mid]), lo = _mm256_set1_epi8((char)fold);
    size_t i = 0;
    for (; i + 32 <= starts; i += 32) {
        __m256i a = _mm256_or_si256(_mm256_loadu_si256((const __m256i *)(const void *)(h + i)), lo);
        __m256i b = _mm256_or_si256(
            _mm256_loadu_si256((const __m256i *)(const void *)(h + i + nl - 1)), lo);
        __m256i y = _mm256_and_si256(_mm256_cmpeq_epi8(a, f), _mm256_cmpeq_epi8(b, l));
        if (three) /* a third byte (measured: no better on audit text; kept off) */
            y = _mm256_and_si256(y, _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(
                                                          const void *)(h + i + mid)),
                                                      c));
        uint32_t m = (uint32_t)_mm256_movemask_epi8(y);
        while (m) {
            unsigned k = (unsigned)__builtin_ctz(m);
            if (fold ? ci_same(h + i + k, n, nl) : memcmp(h + i + k, n, nl) == 0)
                return h + i + k;
            m &= m - 1;
        }
    }
    for (; i < starts; i++) {
        if ((h[i] | fold) == n[0] && (fold ? ci_same(h + i, n, nl) : memcmp(h + i, n, nl) == 0))
            return h + i;
    }
    return NULL;
}

/* (one copy each: the exact search without the fold's OR) */
__attribute__((target("avx2"))) static const uint8_t *find_avx2_exact(const uint8_t *h, size_t hl,
                                                                      const uint8_t *n, size_t nl)
{
    return find_avx2(h, hl, n, nl, 0, false);
}

__attribute__((target("avx2"))) static const uint8_t *find_avx2_fold(const uint8_t *h, size_t hl,
                                                                     const uint8_t *n, size_t nl)
{
    return find_avx2(h, hl, n, nl, 0x20, false);
}
#endif

static int sel_isa; /* 0 not known, 1 AVX2, 2 none */

static const uint8_t *nd_find(const struct needle *n, const uint8_t *h, size_t hl)
{
#ifdef SEL_AVX2
    int st = __atomic_load_n(&sel_isa, __ATOMIC_RELAXED);
    if (!st) {
        __builtin_cpu_init();
        st = __builtin_cpu_supports("avx2") ? 1 : 2;
        __atomic_store_n(&sel_isa, st, __ATOMIC_RELAXED);
    }
    if (st == 1)
        return n->ci ? find_avx2_fold(h, hl, n->s, n->len) : find_avx2_exact(h, hl, n->s, n->len);
#endif
    return n->ci ? ci_find(h, hl, n->s, n->len) : wk__find(h, hl, n->s, n->len);
}

int wk__rbsel_new(struct wk__rbsel **out, const struct wk__rbq *q)
{
    static const char hx[] = "0123456789abcdef";
    struct wk__rbsel *x = calloc(1, sizeof(*x));
    *out = NULL;
    if (!x)
        return -ENOMEM;
    x->q = q;
    if (side_init(&x->s, false) < 0 || wk_event_new(&x->lit) < 0 || wk_event_new(&x->fev) < 0)
        goto fail;
    for (size_t c = 0; c < q->nconds && c < WK__RBQ_MAX; c++) {
        for (size_t a = 0; a < q->cond[c].nalt && a < 2; a++) {
            const struct wk__rbalt *al = &q->cond[c].alt[a];
            struct needle *n = x->nd[c][a];
            n[0].s = (uint8_t *)(uintptr_t)al->value;
            n[0].len = al->vlen;
            if (!(n[1].s = malloc(2 * al->vlen + 1)))
                goto fail;
            for (size_t i = 0; i < al->vlen; i++) {
                n[1].s[2 * i] = (uint8_t)hx[(uint8_t)al->value[i] >> 4];
                n[1].s[2 * i + 1] = (uint8_t)hx[(uint8_t)al->value[i] & 15];
            }
            n[1].len = 2 * al->vlen;
            n[1].ci = true;
            n[2].s = (uint8_t *)(uintptr_t)"\\";
            n[2].len = 1;
        }
    }
    *out = x;
    return 0;
fail:
    wk__rbsel_free(x);
    return -ENOMEM;
}

struct wk__rbsel *wk__rbsel_free(struct wk__rbsel *x)
{
    if (!x)
        return NULL;
    side_fini(&x->s);
    for (size_t c = 0; c < WK__RBQ_MAX; c++) {
        for (size_t a = 0; a < 2; a++)
            free(x->nd[c][a][1].s);
    }
    free(x->tv);
    free(x->sv);
    free(x->sn_pred);
    wk_event_free(x->lit);
    wk_event_free(x->fev);
    wk__buf_fini(&x->recs);
    wk__blkview_fini(&x->view);
    free(x);
    return NULL;
}

const struct wk_store_rebuild_ops *wk__rebuild_find(const char *m)
{
    return find_ops(m, strlen(m));
}

const struct wk__rbsel_stats *wk__rbsel_stats(const struct wk__rbsel *x)
{
    return &x->stats;
}

/* The module's forms for each alternative (computed once per module). */
static int sel_module(struct wk__rbsel *x, const struct wk_store_rebuild_ops *ops, uint8_t *mi)
{
    size_t i = 0;
    while (i < x->nmods && x->mods[i].ops != ops)
        i++;
    if (i == x->nmods) {
        if (i == MAX_MODULES)
            return WK_ECORRUPT;
        struct msel *m = &x->mods[x->nmods++];
        m->ops = ops;
        m->nc = 0;
        while (ops->context && ops->context[m->nc])
            m->nc++;
        for (size_t c = 0; c < x->q->nconds && c < WK__RBQ_MAX; c++) {
            for (size_t a = 0; a < x->q->cond[c].nalt && a < 2; a++) {
                const struct wk__rbalt *al = &x->q->cond[c].alt[a];
                unsigned f = ops->value_forms && !al->scalar ? ops->value_forms(al->field) : 0;
                m->forms[c][a] = (uint8_t)(f & 7u & ~wk__rbsel_test_drop);
                m->nmask[c] |= (uint8_t)(m->forms[c][a] << (a * NFORMS));
            }
        }
    }
    *mi = (uint8_t)i;
    return 0;
}

static int grow(void **a, size_t *cap, size_t need, size_t each)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    uint8_t *p = realloc(*a, c * each);
    if (!p)
        return -ENOMEM;
    memset(p + *cap * each, 0, (c - *cap) * each);
    *a = p;
    *cap = c;
    return 0;
}

/* Conditions a literal run (string idx) meets: bit c (all of them when it does not
 * decode: the decoder of the event reports that). */
static int run_verdict(struct wk__rbsel *x, uint64_t idx, uint32_t *bits)
{
    int rc;
    if (idx >= x->s.st.n) /* (a damaged script: the decoder of the event reports it) */
        return WK_ECORRUPT;
    if ((rc = grow((void **)&x->sv, &x->csv, (size_t)idx + 1, sizeof(*x->sv))) < 0)
        return rc;
    if (x->sv[idx] & V_DONE) {
        *bits = x->sv[idx] & V_SAT;
        return 0;
    }
    size_t rl = 0, rp = 0;
    uint64_t nf;
    const uint8_t *run = entry(&x->s.st, idx, &rl);
    uint32_t b = V_SAT;
    wk_event_reset(x->lit);
    for (int r = 0; r < LIT_RECS; r++)
        (void)wk_event_add_record(x->lit);
    bool ok = run && wk__varint_get(run, rl, &rp, &nf) == 0;
    for (uint64_t f = 0; ok && f < nf; f++) {
        ok = wk__store_decode_field(run, rl, &rp, LIT_RECS, x->lit, &x->s.sc.items,
                                    &x->s.sc.citems) == 0;
    }
    if (ok) {
        b = 0;
        for (size_t c = 0; c < x->q->nconds && c < WK__RBQ_MAX; c++) {
            for (size_t a = 0; a < x->q->cond[c].nalt && a < 2; a++) {
                if (wk__store_alt_match(x->lit, &x->q->cond[c].alt[a]))
                    b |= 1u << c;
            }
        }
    }
    x->sv[idx] = V_DONE | b;
    *bits = b;
    return 0;
}

/* What an event of tuple ti may match, from the tuple alone (cached per value). */
static int tuple_verdict(struct wk__rbsel *x, uint64_t ti, const uint8_t *p, size_t len,
                         struct tverd **out)
{
    int rc;
    if ((rc = grow((void **)&x->tv, &x->ctv, (size_t)ti + 1, sizeof(*x->tv))) < 0)
        return rc;
    struct tverd *t = &x->tv[ti];
    *out = t;
    if (t->bits & V_DONE)
        return 0;
    const struct wk__rbq *q = x->q;
    size_t pos = 0, ml;
    uint64_t v, dts, nrec;
    if ((rc = wk__varint_get(p, len, &pos, &v)) < 0)
        return rc;
    const uint8_t *m = entry(&x->s.st, v, &ml);
    const struct wk_store_rebuild_ops *ops = m ? find_ops((const char *)m, ml) : NULL;
    if (!ops)
        return WK_ECORRUPT; /* no rebuild registered for this source */
    if ((rc = sel_module(x, ops, &t->mod)) < 0)
        return rc;
    const struct msel *ms = &x->mods[t->mod];
    uint32_t b = 0;
    if (q->source && (strlen(q->source) != ml || memcmp(q->source, m, ml) != 0))
        b |= V_SKIP;
    for (size_t c = 0; c < q->nconds && c < WK__RBQ_MAX; c++) {
        for (size_t a = 0; a < q->cond[c].nalt && a < 2; a++) {
            if (!ms->forms[c][a])
                b |= 1u << (8 + c);
        }
    }
    for (size_t i = 0; i < ms->nc; i++) {
        if ((rc = wk__varint_get(p, len, &pos, &v)) < 0)
            return rc;
        if (v == 2) {
            b |= V_INTS;
            if ((rc = wk__varint_get(p, len, &pos, &v)) < 0)
                return rc;
        } else if (v == 1) {
            size_t cl;
            if ((rc = wk__varint_get(p, len, &pos, &v)) < 0)
                return rc;
            const uint8_t *cs = entry(&x->s.st, v, &cl);
            if (!cs)
                return WK_ECORRUPT;
            /* TEXT: the value may be in a context string (a log path's container id) */
            for (size_t c = 0; c < q->nconds && c < WK__RBQ_MAX; c++) {
                for (size_t a = 0; a < q->cond[c].nalt && a < 2; a++) {
                    const struct wk__rbalt *al = &q->cond[c].alt[a];
                    if ((ms->forms[c][a] & WK_STORE_FORM_TEXT) &&
                        wk__find(cs, cl, (const uint8_t *)al->value, al->vlen))
                        b |= 1u << c;
                }
            }
        } else if (v != 0) {
            return WK_ECORRUPT;
        }
    }
    if ((rc = wk__varint_get(p, len, &pos, &dts)) < 0 ||
        (rc = wk__varint_get(p, len, &pos, &nrec)) < 0)
        return rc;
    for (;;) {
        uint64_t op;
        if ((rc = wk__varint_get(p, len, &pos, &op)) < 0)
            return rc;
        if (op == 0)
            break;
        /* (op 0 with n = 1, the "clear" of the rebuilt fields' flags: no literal field;
         * copies and skips neither) */
        if ((op & 3) == 3) {
            uint32_t rb;
            if ((rc = run_verdict(x, op >> 2, &rb)) < 0)
                return rc;
            b |= rb;
        }
    }
    t->bits = V_DONE | b;
    return 0;
}

/* Is there an occurrence of needle n that starts and ends inside o[0..olen)? The next
 * occurrence is searched once up to the member's end and kept while originals pass it. */
static inline bool nd_hit(struct wk__rbsel *x, struct needle *n, const uint8_t *o, size_t olen)
{
    if (!n->valid || (n->next && n->next < o)) {
        const uint8_t *end = x->h + x->hl;
        n->next = nd_find(n, o, (size_t)(end - o));
        n->valid = true;
    }
    return n->next && n->next + n->len <= o + olen;
}

/* May an event of tuple verdict t with original o match? */
static bool event_may(struct wk__rbsel *x, const struct tverd *t, const uint8_t *o, size_t olen)
{
    if (t->bits & V_SKIP)
        return false;
    const struct wk__rbq *q = x->q;
    const struct msel *ms = &x->mods[t->mod];
    uint32_t known = (t->bits & V_SAT) | ((t->bits & V_UNDEC) >> 8);
    for (size_t c = 0; c < q->nconds && c < WK__RBQ_MAX; c++) {
        if (known & (1u << c))
            continue;
        bool may = false;
        for (unsigned m = ms->nmask[c]; m && !may; m &= m - 1) {
            unsigned k = (unsigned)__builtin_ctz(m);
            may = nd_hit(x, &x->nd[c][k / NFORMS][k % NFORMS], o, olen);
        }
        if (!may)
            return false;
    }
    return true;
}

/* A record kept whole: may it match? Its string values occur in its bytes (the format-2
 * invariant), so each condition's value must, unless it may be stored as a scalar. */
static bool whole_may(const struct wk__rbsel *x, const uint8_t *b, size_t l)
{
    const struct wk__rbq *q = x->q;
    if (q->source && !wk__find(b, l, (const uint8_t *)q->source, strlen(q->source)))
        return false;
    for (size_t c = 0; c < q->nconds && c < WK__RBQ_MAX; c++) {
        bool may = false;
        for (size_t a = 0; a < q->cond[c].nalt && a < 2 && !may; a++) {
            const struct wk__rbalt *al = &q->cond[c].alt[a];
            may = al->scalar || wk__find(b, l, (const uint8_t *)al->value, al->vlen);
        }
        if (!may)
            return false;
    }
    return true;
}

/* The context predictions of an event passed over (what dec_event would have set). */
static int walk_ctx(struct side *s, const struct msel *ms, const uint8_t *p, size_t len,
                    size_t olen)
{
    size_t pos = 0;
    uint64_t x;
    uint32_t last_str = NONE;
    int rc;
    if ((rc = wk__varint_get(p, len, &pos, &x)) < 0)
        return rc;
    for (size_t i = 0; i < ms->nc; i++) {
        if ((rc = wk__varint_get(p, len, &pos, &x)) < 0)
            return rc;
        if (x == 0)
            continue;
        uint64_t y;
        if ((rc = wk__varint_get(p, len, &pos, &y)) < 0)
            return rc;
        if (x == 1) {
            if (y >= s->st.n)
                return WK_ECORRUPT;
            last_str = (uint32_t)y;
        } else if (x == 2) {
            int64_t v = (int64_t)((uint64_t)get_pred(&s->st, last_str) + (uint64_t)wk__unzigzag(y));
            if ((rc = set_pred(&s->st, last_str, v + (int64_t)olen + 1)) < 0)
                return rc;
        } else {
            return WK_ECORRUPT;
        }
    }
    return 0;
}

/* One record of the open member: its new strings and tuples, then the record. want:
 * rebuild it if it may match (*cand), else pass over it. @return 0, SEL_FULL (a record
 * kept whole that may match, or one in a block whose shape table derives from records
 * passed over: the member must be read whole), <0. */
static int sel_record(struct wk__rbsel *x, bool want, bool *cand)
{
    struct side *s = &x->s;
    uint64_t tag, l;
    int rc;
    *cand = false;
    for (;;) {
        if ((rc = wk__varint_get(x->h, x->hl, &x->hp, &tag)) < 0)
            return rc;
        if (tag >= 3)
            break;
        if ((rc = wk__varint_get(x->h, x->hl, &x->hp, &l)) < 0)
            return rc;
        if (l > x->hl - x->hp)
            return WK_ECORRUPT;
        const uint8_t *b = x->h + x->hp;
        x->hp += (size_t)l;
        if (tag == 1 || tag == 2) {
            if ((rc = itab_add(tag == 1 ? &s->st : &s->t, b, (size_t)l, 0)) < 0)
                return rc;
            continue;
        }
        /* kept whole: a derived table's new shape would follow it (only a table built
         * from every record tells), and its time is relative to the record before */
        if (x->derive || (want && whole_may(x, b, (size_t)l)))
            return SEL_FULL;
        return 0;
    }
    size_t tl;
    const uint8_t *tup = entry(&s->t, tag - 3, &tl);
    const uint8_t *o = x->h + x->hp;
    const uint8_t *end = memchr(o, 0, x->hl - x->hp);
    if (!tup || !end)
        return WK_ECORRUPT;
    size_t olen = (size_t)(end - o);
    x->hp += olen + 1;
    struct tverd *t = tag - 3 < x->ctv ? &x->tv[tag - 3] : NULL;
    if ((!t || !(t->bits & V_DONE)) && (rc = tuple_verdict(x, tag - 3, tup, tl, &t)) < 0)
        return rc;
    x->stats.events++;
    s->st.nu = 0; /* (the undo list of the context predictions: per event) */
    if (!want || !event_may(x, t, o, olen))
        return (t->bits & V_INTS) ? walk_ctx(s, &x->mods[t->mod], tup, tl, olen) : 0;
    itab_begin(&s->st);
    itab_begin(&s->t);
    if ((rc = dec_event(s, tup, tl, (const char *)o, olen)) < 0)
        return rc;
    x->stats.rebuilt++;
    *cand = true;
    return 0;
}

static void itab_clear(struct itab *t)
{
    t->n = t->bytes.len = 0;
    t->pred0 = 0;
    t->nu = 0;
}

/* Begin member m at x->pos: its table, count and stream; the tables noted. */
static int member_begin(struct wk__rbsel *x, uint32_t m)
{
    const uint8_t *f = x->form;
    uint64_t tl;
    int rc;
    if (x->hdrs[(size_t)m * WK__BLK_HDR + WK__BLK_OFF_FORMAT] != WK__BLK_FORMAT2)
        return WK_ECORRUPT;
    x->mstart = x->pos;
    if ((rc = wk__varint_get(f, x->flen, &x->pos, &tl)) < 0)
        return rc;
    x->derive = tl == 0;
    if (tl) {
        if (tl - 1 > x->flen - x->pos)
            return WK_ECORRUPT;
        x->pos += (size_t)tl - 1;
    }
    if ((rc = wk__varint_get(f, x->flen, &x->pos, &x->count)) < 0 ||
        (rc = get_slice(f, x->flen, &x->pos, &x->h, &x->hl)) < 0)
        return rc;
    x->mend = x->pos;
    x->hp = 0;
    x->i = 0;
    x->member = m;
    x->open = true;
    x->full = false;
    for (size_t c = 0; c < WK__RBQ_MAX; c++) {
        for (size_t a = 0; a < 2; a++) {
            for (size_t k = 0; k < NFORMS; k++)
                x->nd[c][a][k].valid = false;
        }
    }
    struct side *s = &x->s;
    if ((rc = grow((void **)&x->sn_pred, &x->csn, s->st.n + 1, sizeof(*x->sn_pred))) < 0)
        return rc;
    x->sn_st = s->st.n;
    x->sn_stb = s->st.bytes.len;
    x->sn_t = s->t.n;
    x->sn_tb = s->t.bytes.len;
    x->sn_pred0 = s->st.pred0;
    for (size_t i = 0; i < s->st.n; i++)
        x->sn_pred[i] = s->st.e[i].pred;
    return 0;
}

/* Read the open member whole from its beginning (the tables as they were then), checking
 * its size and records hash; next() then hands out its records from index x->i on. */
static int member_full(struct wk__rbsel *x)
{
    struct side *s = &x->s;
    s->st.n = x->sn_st;
    s->st.bytes.len = x->sn_stb;
    s->t.n = x->sn_t;
    s->t.bytes.len = x->sn_tb;
    s->st.pred0 = x->sn_pred0;
    for (size_t i = 0; i < s->st.n; i++)
        s->st.e[i].pred = x->sn_pred[i];
    size_t pos = x->mstart;
    x->recs.len = 0;
    int rc = dec_block(s, x->form, x->flen, &pos, &x->recs);
    if (rc < 0)
        return rc;
    const uint8_t *h = x->hdrs + (size_t)x->member * WK__BLK_HDR;
    uint8_t hash[32];
    if ((rc = wk__records_hash(h, x->recs.p, x->recs.len, hash)) < 0)
        return rc;
    if (pos != x->mend || x->recs.len != wk__get_u32le(h + WK__BLK_OFF_RAW) ||
        memcmp(hash, h + WK__BLK_OFF_RHASH, 32) != 0)
        return WK_ECORRUPT;
    if ((rc = wk__blkview_open(&x->view, WK__BLK_FORMAT2, x->recs.p, x->recs.len)) < 0)
        return rc;
    x->full = true;
    x->fidx = 0;
    x->stats.full_members++;
    return 0;
}

/* Pass over the rest of the open member (its tables are needed by the next ones). */
static int member_finish(struct wk__rbsel *x)
{
    int rc;
    bool cand;
    while (x->open && !x->full && x->i < x->count) {
        rc = sel_record(x, false, &cand);
        if (rc == SEL_FULL)
            rc = member_full(x);
        if (rc < 0)
            return rc;
        x->i++;
    }
    if (!x->open)
        return 0;
    if (!x->full && x->hp != x->hl)
        return WK_ECORRUPT;
    x->open = false;
    x->pos = x->mend;
    return 0;
}

int wk__rbsel_open(struct wk__rbsel *x, uint64_t key, const uint8_t *hdrs, uint32_t n,
                   const uint8_t *form, size_t flen, uint32_t older, uint32_t m)
{
    int rc;
    if (m >= n)
        return WK_ECORRUPT;
    if (key != x->key || form != x->form || flen != x->flen || hdrs != x->hdrs ||
        older != x->s.older || m < x->next_member) {
        x->s.older = older;
        itab_clear(&x->s.st);
        itab_clear(&x->s.t);
        if (x->tv)
            memset(x->tv, 0, x->ctv * sizeof(*x->tv));
        if (x->sv)
            memset(x->sv, 0, x->csv * sizeof(*x->sv));
        x->key = key;
        x->hdrs = hdrs;
        x->n = n;
        x->form = form;
        x->flen = flen;
        x->pos = 0;
        x->next_member = 0;
        x->open = false;
    }
    x->key = 0; /* until the walk reaches m */
    if ((rc = member_finish(x)) < 0)
        return rc;
    while (x->next_member < m) {
        if ((rc = member_begin(x, x->next_member++)) < 0 || (rc = member_finish(x)) < 0)
            return rc;
    }
    if ((rc = member_begin(x, m)) < 0)
        return rc;
    x->next_member = m + 1;
    x->key = key;
    return 0;
}

int wk__rbsel_next(struct wk__rbsel *x, const struct wk_event **ev, uint32_t *idx)
{
    int rc;
    bool cand;
    while (x->open && !x->full && x->i < x->count) {
        uint32_t at = (uint32_t)x->i;
        rc = sel_record(x, true, &cand);
        if (rc == SEL_FULL) {
            if ((rc = member_full(x)) < 0)
                return rc;
            break;
        }
        if (rc < 0)
            return rc;
        x->i++;
        if (cand) {
            *ev = x->s.ev;
            *idx = at;
            return 1;
        }
    }
    if (x->open && x->full) {
        const uint8_t *body;
        size_t blen;
        int64_t ts;
        while ((rc = wk__blkview_next(&x->view, &body, &blen, &ts)) == 1) {
            uint32_t at = x->fidx++;
            if (at < x->i)
                continue; /* decided before the member was read whole */
            if ((rc = wk__blkview_decode(&x->view, body, blen, ts, x->fev)) < 0)
                return rc;
            *ev = x->fev;
            *idx = at;
            return 1;
        }
        if (rc < 0)
            return rc;
        return 0;
    }
    if (x->open && x->hp != x->hl)
        return WK_ECORRUPT;
    return 0;
}
