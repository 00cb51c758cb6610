/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Alerts as JSON: the rule (with its author: the Detection Rule License asks every alert
 * from a SigmaHQ rule to carry the attribution), ATT&CK ids, the matching event or, for a
 * correlation, the group and the contributing events with their store references.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/event_private.h" /* wk__utf8_valid */
#include "watchkeeper/event_json.h"
#include "watchkeeper/rule.h"
#include "watchkeeper/timefmt.h"

/* ---- a small JSON writer: the output is byte for byte what jansson's compact dump gives
 * (insertion order; escapes \" \\ \b \f \n \r \t, other controls as \u00XX), written
 * without building and sorting a second tree for every alert ---- */
struct jb {
    char *p;
    size_t n, cap;
    bool oom;
};

/* Room for add more bytes and the NUL kept after them. */
static bool jb_grow(struct jb *b, size_t add)
{
    if (b->oom)
        return false;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->n + add + 1)
        cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
        b->oom = true;
        return false;
    }
    b->p = np;
    b->cap = cap;
    return true;
}

static inline bool jb_reserve(struct jb *b, size_t add)
{
    return (!b->oom && b->n + add + 1 <= b->cap) || jb_grow(b, add);
}

static inline void jb_put(struct jb *b, const char *s, size_t n)
{
    if (!jb_reserve(b, n))
        return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

#define JB_LIT(b, s) jb_put(b, s, sizeof(s) - 1)

/* The bytes of x that need an escape (< 0x20, '"', '\\'), flagged by their high bit. The
 * lowest flag is exact (the classic has-zero-byte tests raise false flags only above a
 * true one), so its position is the first byte to escape, in memory order (little endian).
 */
static inline uint64_t esc8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
    return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & high;
}

static void jb_str(struct jb *b, const char *s, size_t n)
{
    /* room for the quotes and every byte as itself, and some escapes (each checks that
     * the rest still fits) */
    if (!jb_reserve(b, n + 2 + 64))
        return;
    char *o = b->p + b->n;
    *o++ = '"';
    size_t i = 0;
    for (;;) {
        /* 8 bytes at a time up to the first that needs an escape (the copy may write
         * past it: within the room reserved, overwritten next) */
        while (i + 8 <= n) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            memcpy(o, &x, 8);
            uint64_t m = esc8(x);
            if (m) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
                unsigned k = 0; /* the flags' order is not memory order: byte by byte */
#else
                unsigned k = (unsigned)__builtin_ctzll(m) >> 3;
#endif
                o += k;
                i += k;
                break;
            }
            o += 8;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned char c = (unsigned char)s[i++];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        /* room for the escape (<= 6), the rest and the quote, and the NUL */
        if (b->cap - (size_t)(o - b->p) < n - i + 8) {
            b->n = (size_t)(o - b->p);
            if (!jb_reserve(b, n - i + 7 + 64))
                return;
            o = b->p + b->n;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            memcpy(o, "u00", 3);
            o[3] = "0123456789ABCDEF"[c >> 4];
            o[4] = "0123456789ABCDEF"[c & 15];
            o += 5;
        }
    }
    *o++ = '"';
    *o = '\0';
    b->n = (size_t)(o - b->p);
}

static void jb_key(struct jb *b, bool *first, const char *k)
{
    if (!*first)
        JB_LIT(b, ",");
    *first = false;
    jb_str(b, k, strlen(k));
    JB_LIT(b, ":");
}

static void jb_int(struct jb *b, long long v)
{
    char t[24], *e = t + sizeof(t), *p = e;
    unsigned long long m = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    if (v < 0)
        *--p = '-';
    jb_put(b, p, (size_t)(e - p));
}

/* Anything else (reals) as jansson writes it. */
static void jb_dump_any(struct jb *b, const json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t) {
        b->oom = true;
        return;
    }
    jb_put(b, t, strlen(t));
    free(t);
}

static void jb_json(struct jb *b, const json_t *v, int depth)
{
    if (depth > 64) {
        jb_dump_any(b, v);
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        bool first = true;
        JB_LIT(b, "{");
        for (void *it = json_object_iter((json_t *)v); it;
             it = json_object_iter_next((json_t *)v, it)) {
            if (!first)
                JB_LIT(b, ",");
            first = false;
            const char *k = json_object_iter_key(it);
            jb_str(b, k, json_object_iter_key_len(it));
            JB_LIT(b, ":");
            jb_json(b, json_object_iter_value(it), depth + 1);
        }
        JB_LIT(b, "}");
        break;
    }
    case JSON_ARRAY:
        JB_LIT(b, "[");
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                JB_LIT(b, ",");
            jb_json(b, json_array_get(v, i), depth + 1);
        }
        JB_LIT(b, "]");
        break;
    case JSON_STRING:
        jb_str(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        jb_int(b, (long long)json_integer_value(v));
        break;
    case JSON_TRUE: JB_LIT(b, "true"); break;
    case JSON_FALSE: JB_LIT(b, "false"); break;
    case JSON_NULL: JB_LIT(b, "null"); break;
    default:
        jb_dump_any(b, v);
    }
}

/* ---- an event as JSON without building its jansson tree: the same bytes as jb_json over
 * wk_event_to_jansson (core/event_json.c: fields placed at their structural dots in field
 * order, a name taken by a non-object ends the path as one literal key, `records`
 * inserted at the first record field, strings that are not UTF-8 as base64 with their
 * JSON pointers in `@binary`). The nesting is built as a small tree of nodes first. ---- */
#define EV_PTR_CAP 4096 /* core/event_json.c's pointer buffer */

struct enode {
    const char *key;
    size_t klen;
    const struct wk_value *v; /* a leaf; NULL: an object */
    size_t child, last, next;  /* node indices + 1 (0: none): nodes are realloc'd */
    size_t parent;             /* the object holding it (0: not in the index) */
    uint32_t hash;             /* of (parent, key), for the index */
};

/* The (parent, key) -> node index: a lookup per path segment stays O(1) where a walk of
 * the siblings made large records (EXECVE with hundreds of arguments) quadratic. Open
 * addressing, linear probing, at most half full; slots hold node indices + 1. */
struct etree {
    struct enode *nodes;
    size_t n, cap;
    uint32_t *slots;
    size_t nslots, nindexed;
    struct jb bin; /* the @binary pointers, as JSON strings joined by ',' */
    size_t nbin;
    bool fail;     /* the jansson form would fail: no event in the alert */
};

static struct enode *enode_new(struct etree *t, const char *key, size_t klen)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct enode *nn = realloc(t->nodes, cap * sizeof(*nn));
        if (!nn) {
            t->fail = true;
            return NULL;
        }
        t->nodes = nn;
        t->cap = cap;
    }
    struct enode *e = &t->nodes[t->n++];
    *e = (struct enode){ .key = key, .klen = klen };
    return e;
}

#define EIDX(t, e) ((size_t)((e) - (t)->nodes) + 1)
#define ENODE(t, i) (&(t)->nodes[(i) - 1]) /* i > 0 */

static uint32_t enode_hash(size_t obj, const char *key, size_t klen)
{
    uint32_t h = 2166136261u ^ (uint32_t)obj * 0x9E3779B1u;
    for (size_t i = 0; i < klen; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    return h ^ h >> 15;
}

static size_t enode_find_h(struct etree *t, size_t obj, const char *key, size_t klen,
                           uint32_t h)
{
    if (!t->nslots)
        return 0;
    size_t mask = t->nslots - 1;
    for (size_t i = h & mask; t->slots[i]; i = (i + 1) & mask) {
        const struct enode *e = ENODE(t, t->slots[i]);
        if (e->hash == h && e->parent == obj && e->klen == klen &&
            memcmp(e->key, key, klen) == 0)
            return t->slots[i];
    }
    return 0;
}

/* Index node c (parent and hash set); false when out of memory (t->fail set). */
static bool enode_index(struct etree *t, size_t c)
{
    if ((t->nindexed + 1) * 2 > t->nslots) {
        size_t ns = t->nslots ? t->nslots * 2 : 64;
        uint32_t *sl = calloc(ns, sizeof(*sl));
        if (!sl) {
            t->fail = true;
            return false;
        }
        for (size_t i = 0; i < t->nslots; i++) {
            uint32_t x = t->slots[i];
            if (!x)
                continue;
            size_t j = ENODE(t, x)->hash & (ns - 1);
            while (sl[j])
                j = (j + 1) & (ns - 1);
            sl[j] = x;
        }
        free(t->slots);
        t->slots = sl;
        t->nslots = ns;
    }
    size_t j = ENODE(t, c)->hash & (t->nslots - 1);
    while (t->slots[j])
        j = (j + 1) & (t->nslots - 1);
    t->slots[j] = (uint32_t)c;
    t->nindexed++;
    return true;
}

/* A new child of obj, last (the key is not there yet). */
static size_t enode_append(struct etree *t, size_t obj, const char *key, size_t klen,
                           const struct wk_value *v, uint32_t h)
{
    if (t->n >= UINT32_MAX) {
        t->fail = true;
        return 0;
    }
    struct enode *e = enode_new(t, key, klen);
    if (!e)
        return 0;
    e->v = v;
    e->parent = obj;
    e->hash = h;
    size_t c = EIDX(t, e);
    if (!enode_index(t, c))
        return 0;
    struct enode *o = ENODE(t, obj);
    if (o->last)
        ENODE(t, o->last)->next = c;
    else
        o->child = c;
    o->last = c;
    return c;
}

/* json_object_setn: a new key goes last; an existing one keeps its place, new value. */
static size_t enode_set(struct etree *t, size_t obj, const char *key, size_t klen,
                        const struct wk_value *v)
{
    uint32_t h = enode_hash(obj, key, klen);
    size_t c = enode_find_h(t, obj, key, klen, h);
    if (!c)
        return enode_append(t, obj, key, klen, v, h);
    /* its former children stay indexed under it, out of reach: a leaf is never searched
     * in again */
    struct enode *e = ENODE(t, c);
    e->v = v;
    e->child = e->last = 0;
    return c;
}

/* v in decimal at out (no NUL); its length. snprintf's "%u" cost more than the rest of
 * the event's pointer work. */
static size_t fmt_u(char *out, unsigned v)
{
    char t[12], *e = t + sizeof(t), *p = e;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(out, p, (size_t)(e - p));
    return (size_t)(e - p);
}

static bool ptr_push(char *buf, size_t *len, const char *seg, size_t seglen)
{
    if (*len + 1 >= EV_PTR_CAP)
        return false;
    buf[(*len)++] = '/';
    /* most segments have no '~' or '/' to escape: copied as they are */
    if (*len + seglen < EV_PTR_CAP && !memchr(seg, '~', seglen) && !memchr(seg, '/', seglen)) {
        memcpy(buf + *len, seg, seglen);
        *len += seglen;
        buf[*len] = '\0';
        return true;
    }
    for (size_t i = 0; i < seglen; i++) {
        const char *rep = seg[i] == '~' ? "~0" : seg[i] == '/' ? "~1" : NULL;
        size_t n = rep ? 2 : 1;
        if (*len + n >= EV_PTR_CAP)
            return false;
        if (rep)
            memcpy(buf + *len, rep, 2);
        else
            buf[*len] = seg[i];
        *len += n;
    }
    buf[*len] = '\0';
    return true;
}

static void bin_note(struct etree *t, const char *ptr, size_t len)
{
    if (t->nbin++)
        JB_LIT(&t->bin, ",");
    jb_str(&t->bin, ptr, len);
}

/* Note the binary strings of a value placed at pointer ptr (as value_json does). */
static void value_note(struct etree *t, const struct wk_value *v, char *ptr, size_t ptrlen)
{
    if (v->kind == WK_VAL_STR && !wk__utf8_valid(v->u.s, v->len)) {
        bin_note(t, ptr, ptrlen);
    } else if (v->kind == WK_VAL_STRLIST) {
        for (uint32_t i = 0; i < v->len; i++) {
            char idx[24];
            size_t l = ptrlen;
            size_t n = fmt_u(idx, i);
            if (!ptr_push(ptr, &l, idx, n)) {
                t->fail = true;
                return;
            }
            if (!wk__utf8_valid(v->u.items[i].s, v->u.items[i].len))
                bin_note(t, ptr, l);
            ptr[ptrlen] = '\0';
        }
    }
}

static void place(struct etree *t, size_t root, const struct wk_key *k, uint64_t dots,
                  const struct wk_value *v, char *ptr, size_t ptrlen)
{
    const char *name = k->name;
    size_t len = k->len, start = 0, obj = root;
    unsigned dot = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && name[i] != '.')
            continue;
        bool last = i == len;
        if (!last) {
            bool literal = dot < 64 && (dots >> dot & 1u);
            dot++;
            if (literal)
                continue;
        }
        if (!ptr_push(ptr, &ptrlen, name + start, i - start)) {
            t->fail = true;
            return;
        }
        if (last)
            break;
        uint32_t h = enode_hash(obj, name + start, i - start);
        size_t c = enode_find_h(t, obj, name + start, i - start, h);
        if (!c) {
            c = enode_append(t, obj, name + start, i - start, NULL, h);
            if (!c)
                return;
        } else if (ENODE(t, c)->v) {
            /* a non-object holds the name: the rest of the path is one literal key */
            value_note(t, v, ptr, ptrlen);
            enode_set(t, obj, name + start, len - start, v);
            return;
        }
        obj = c;
        start = i + 1;
    }
    value_note(t, v, ptr, ptrlen);
    enode_set(t, obj, name + start, len - start, v);
}

/* utf8: every string of v is known to be UTF-8 (no check needed). */
static void jb_value(struct jb *b, const struct wk_value *v, bool utf8)
{
    switch (v->kind) {
    case WK_VAL_NULL: JB_LIT(b, "null"); break;
    case WK_VAL_BOOL:
        if (v->u.b)
            JB_LIT(b, "true");
        else
            JB_LIT(b, "false");
        break;
    case WK_VAL_INT: jb_int(b, (long long)v->u.i); break;
    case WK_VAL_REAL: {
        json_t *r = json_real(v->u.r);
        if (r)
            jb_dump_any(b, r);
        else
            b->oom = true;
        json_decref(r);
        break;
    }
    case WK_VAL_JSON: {
        json_t *j = json_loadb(v->u.s, v->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (j)
            jb_json(b, j, 0);
        else
            b->oom = true; /* checked before writing: not reached */
        json_decref(j);
        break;
    }
    case WK_VAL_STR:
    case WK_VAL_STRLIST:
        for (uint32_t i = 0; i < (v->kind == WK_VAL_STR ? 1u : v->len); i++) {
            const char *s = v->kind == WK_VAL_STR ? v->u.s : v->u.items[i].s;
            size_t n = v->kind == WK_VAL_STR ? v->len : v->u.items[i].len;
            if (v->kind == WK_VAL_STRLIST)
                jb_put(b, i ? "," : "[", 1);
            if (utf8 || wk__utf8_valid(s, n)) {
                jb_str(b, s, n);
                continue;
            }
            size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
            char *enc = malloc(cap);
            if (!enc) {
                b->oom = true;
                return;
            }
            sodium_bin2base64(enc, cap, (const unsigned char *)s, n,
                              sodium_base64_VARIANT_ORIGINAL);
            jb_str(b, enc, strlen(enc));
            free(enc);
        }
        if (v->kind == WK_VAL_STRLIST)
            jb_put(b, v->len ? "]" : "[]", v->len ? 1 : 2);
        break;
    default: b->oom = true;
    }
}

static void jb_enode(struct jb *b, struct etree *t, size_t obj)
{
    /* value_note checked every string placed: none was binary, none needs a check */
    bool utf8 = t->nbin == 0;
    bool first = true;
    JB_LIT(b, "{");
    for (size_t c = ENODE(t, obj)->child; c;
         c = ENODE(t, c)->next) {
        const struct enode *e = ENODE(t, c);
        if (!first)
            JB_LIT(b, ",");
        first = false;
        jb_str(b, e->key, e->klen);
        JB_LIT(b, ":");
        if (e->v)
            jb_value(b, e->v, utf8);
        else
            jb_enode(b, t, c);
    }
    JB_LIT(b, "}");
}

/* Append `"event":{...}` (with its leading comma unless first); nothing when the jansson
 * form would not build either (a pointer over 4 KiB, a JSON value that does not parse). */
static void jb_event(struct jb *b, bool *first, const struct wk_event *ev, int64_t hint_ts,
                     const char *hint)
{
    static const struct wk_value records_mark = { .kind = WK_VAL_NULL };
    struct etree t = { 0 };
    char ts[WK_RFC3339_MAX], ptr[EV_PTR_CAP];
    size_t nf = wk_event_nfields(ev), nrec = wk_event_nrecords(ev);
    struct wk_value tsv = { .kind = WK_VAL_STR };
    /* node 1: the root; records: node index of the first record object (consecutive) */
    size_t root = 0, records = 0;
    struct enode *r = enode_new(&t, NULL, 0);
    if (r)
        root = EIDX(&t, r);
    if (wk_event_ts(ev) == hint_ts) /* the alert's own time, formatted already */
        memcpy(ts, hint, strlen(hint) + 1);
    else
        wk_time_format(wk_event_ts(ev), ts);
    tsv.u.s = ts;
    tsv.len = (uint32_t)strlen(ts);
    if (root)
        enode_set(&t, root, "@timestamp", 10, &tsv);
    for (size_t i = 0; i < nf && !t.fail; i++) {
        const struct wk_key *k = wk_event_field_key(ev, i);
        const struct wk_value *v = wk_event_field_value(ev, i);
        size_t parent = root, plen = 0;
        ptr[0] = '\0';
        if (v->rec) {
            if (!records) {
                /* `records` is a leaf marker; its objects are nodes records..+nrec-1 */
                enode_set(&t, root, "records", 7, &records_mark);
                records = t.n + 1;
                for (size_t j = 0; j < nrec && !t.fail; j++)
                    enode_new(&t, NULL, 0);
                if (t.fail)
                    break;
            }
            if (v->rec > nrec) {
                t.fail = true; /* json_array_get gives NULL: jansson fails too */
                break;
            }
            parent = records + v->rec - 1u;
            memcpy(ptr, "/records/", 9);
            plen = 9 + fmt_u(ptr + 9, v->rec - 1u);
            ptr[plen] = '\0';
        }
        /* What json_object_setn (UTF-8 keys) and json_real (finite) refuse. */
        if (!wk__utf8_valid(k->name, k->len) ||
            (v->kind == WK_VAL_REAL && !isfinite(v->u.r))) {
            t.fail = true;
            break;
        }
        if (v->kind == WK_VAL_JSON) {
            json_t *j = json_loadb(v->u.s, v->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
            if (!j) {
                t.fail = true;
                break;
            }
            json_decref(j);
        }
        place(&t, parent, k, wk_event_field_dots(ev, i), v, ptr, plen);
    }
    if (!t.fail && !records && nrec) {
        enode_set(&t, root, "records", 7, &records_mark);
        records = t.n + 1;
        for (size_t j = 0; j < nrec && !t.fail; j++)
            enode_new(&t, NULL, 0);
    }
    if (!t.fail && !t.bin.oom) {
        jb_key(b, first, "event");
        /* The root, with `records` written as the array of its record objects. */
        bool f = true;
        JB_LIT(b, "{");
        for (size_t c = ENODE(&t, root)->child; c;
             c = ENODE(&t, c)->next) {
            const struct enode *e = ENODE(&t, c);
            if (!f)
                JB_LIT(b, ",");
            f = false;
            jb_str(b, e->key, e->klen);
            JB_LIT(b, ":");
            if (e->v == &records_mark) {
                JB_LIT(b, "[");
                for (size_t j = 0; j < nrec; j++) {
                    if (j)
                        JB_LIT(b, ",");
                    jb_enode(b, &t, records + j);
                }
                JB_LIT(b, "]");
            } else if (e->v) {
                jb_value(b, e->v, t.nbin == 0);
            } else {
                jb_enode(b, &t, c);
            }
        }
        if (t.nbin) {
            JB_LIT(b, ",\"@binary\":[");
            jb_put(b, t.bin.p, t.bin.n);
            JB_LIT(b, "]");
        }
        JB_LIT(b, "}");
    } else if (!t.fail) {
        b->oom = true;
    }
    free(t.nodes);
    free(t.slots);
    free(t.bin.p);
}

static void jb_opt(struct jb *b, bool *first, const char *k, const char *v)
{
    if (v) {
        jb_key(b, first, k);
        jb_str(b, v, strlen(v));
    }
}

/* An ATT&CK list as compile.c writes it: [] or ["T1234","T1059.004"] (ids of digits and
 * dots), which the parse-and-dump round trip would give back byte for byte. */
static bool attack_plain(const char *s)
{
    if (!s || *s++ != '[')
        return false;
    if (*s == ']')
        return s[1] == '\0';
    for (;;) {
        if (*s++ != '"' || *s++ != 'T' || !(*s >= '0' && *s <= '9'))
            return false;
        while ((*s >= '0' && *s <= '9') || *s == '.')
            s++;
        if (*s++ != '"')
            return false;
        if (*s == ']')
            return s[1] == '\0';
        if (*s++ != ',')
            return false;
    }
}

int wk_alert_to_json(const struct wk_alert *a, char **out, size_t *len)
{
    struct jb b = { 0 };
    bool first = true, rfirst = true;
    char tbuf[64], ats[64];
    wk_time_format(a->ts, ats);
    JB_LIT(&b, "{");
    jb_opt(&b, &first, "@timestamp", ats);
    jb_key(&b, &first, "rule");
    JB_LIT(&b, "{");
    const struct wk_rule_info *in = a->info;
    jb_opt(&b, &rfirst, "id", in->id);
    jb_opt(&b, &rfirst, "name", in->name);
    jb_opt(&b, &rfirst, "title", in->title);
    jb_opt(&b, &rfirst, "level", in->level);
    jb_opt(&b, &rfirst, "status", in->status);
    jb_opt(&b, &rfirst, "type", in->is_correlation ? in->corr_type : "detection");
    jb_key(&b, &rfirst, "tags");
    JB_LIT(&b, "[");
    for (size_t i = 0; i < in->ntags; i++) {
        if (i)
            JB_LIT(&b, ",");
        jb_str(&b, in->tags[i], strlen(in->tags[i]));
    }
    JB_LIT(&b, "]");
    jb_key(&b, &rfirst, "attack");
    if (attack_plain(a->attack)) { /* compile.c's form: already what jansson would write */
        jb_put(&b, a->attack, strlen(a->attack));
    } else {
        json_t *att = a->attack ? json_loads(a->attack, 0, NULL) : NULL;
        if (att)
            jb_json(&b, att, 0);
        else
            JB_LIT(&b, "[]");
        json_decref(att);
    }
    jb_opt(&b, &rfirst, "author", in->author);
    jb_opt(&b, &rfirst, "license", in->license);
    jb_opt(&b, &rfirst, "file", in->file);
    JB_LIT(&b, "}");
    if (a->group) {
        json_t *g = json_loads(a->group, 0, NULL);
        jb_key(&b, &first, "group");
        if (g)
            jb_json(&b, g, 0);
        else
            JB_LIT(&b, "null");
        json_decref(g);
        json_t *v = json_real(a->value);
        jb_key(&b, &first, "value");
        if (v)
            jb_dump_any(&b, v);
        else
            b.oom = true;
        json_decref(v);
        jb_key(&b, &first, "contributing");
        JB_LIT(&b, "[");
        for (size_t i = 0; i < a->ncontrib; i++) {
            bool cf = true;
            if (i)
                JB_LIT(&b, ",");
            JB_LIT(&b, "{");
            wk_time_format(a->contrib[i].ts, tbuf);
            jb_opt(&b, &cf, "@timestamp", tbuf);
            jb_key(&b, &cf, "ref");
            jb_int(&b, (long long)a->contrib[i].ref);
            jb_key(&b, &cf, "rule");
            jb_int(&b, (long long)a->contrib[i].rule);
            JB_LIT(&b, "}");
        }
        JB_LIT(&b, "]");
    }
    if (a->record) {
        jb_key(&b, &first, "record");
        jb_int(&b, (long long)a->record);
    }
    if (a->ref) {
        jb_key(&b, &first, "ref");
        jb_int(&b, (long long)a->ref);
    }
    if (a->event)
        jb_event(&b, &first, a->event, a->ts, ats);
    JB_LIT(&b, "}");
    if (b.oom) {
        free(b.p);
        *out = NULL;
        return -ENOMEM;
    }
    *out = b.p;
    if (len)
        *len = b.n;
    return 0;
}
