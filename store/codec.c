/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's binary event encoding, format 1 (docs/store.md; the writer now writes format 2,
 * codec2.c; this one is read for older blocks): compact, exact (every
 * kind, flag, record number and literal-dots mask survives), and cheap to decode. zstd
 * removes the repetition of field names across the records of a block.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_private.h"
#include "watchkeeper/error.h"

int wk__buf_reserve(struct wk__buf *b, size_t add)
{
    if (b->cap - b->len >= add)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < add) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int wk__buf_put(struct wk__buf *b, const void *p, size_t n)
{
    int rc = wk__buf_reserve(b, n);
    if (rc < 0)
        return rc;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

void wk__buf_fini(struct wk__buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

size_t wk__varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}



static int put_bytes(struct wk__buf *b, const void *s, size_t n)
{
    int rc = wk__buf_reserve(b, n + 10);
    if (rc < 0)
        return rc;
    PUTV(b, n);
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

/* One field: name, record, kind, flags, dots mask, value (format 1's fields, and the
 * literal fields of the rebuild form: rebuild.c). */
int wk__store_encode_field(struct wk__buf *b, const struct wk_event *ev, size_t i)
{
    int rc;
    const struct wk_key *k = wk_event_field_key(ev, i);
    const struct wk_value *v = wk_event_field_value(ev, i);
    if ((rc = put_bytes(b, k->name, k->len)) < 0)
        return rc;
    if ((rc = wk__buf_reserve(b, 40)) < 0)
        return rc;
    PUTV(b, v->rec);
    b->p[b->len++] = v->kind;
    b->p[b->len++] = v->flags;
    PUTV(b, wk_event_field_dots(ev, i));
    switch (v->kind) {
    case WK_VAL_NULL:
        break;
    case WK_VAL_BOOL:
        b->p[b->len++] = v->u.b ? 1 : 0;
        break;
    case WK_VAL_INT:
        PUTV(b, wk__zigzag(v->u.i));
        break;
    case WK_VAL_REAL:
        memcpy(b->p + b->len, &v->u.r, 8);
        b->len += 8;
        break;
    case WK_VAL_STR:
    case WK_VAL_JSON:
        if ((rc = put_bytes(b, v->u.s, v->len)) < 0)
            return rc;
        break;
    case WK_VAL_STRLIST:
        PUTV(b, v->len);
        for (uint32_t j = 0; j < v->len; j++) {
            if ((rc = put_bytes(b, v->u.items[j].s, v->u.items[j].len)) < 0)
                return rc;
        }
        break;
    default:
        return -EINVAL;
    }
    return 0;
}

int wk__store_encode(struct wk__buf *b, const struct wk_event *ev)
{
    size_t nf = wk_event_nfields(ev);
    int rc = wk__buf_reserve(b, 8 + 20);
    if (rc < 0)
        return rc;
    wk__put_u64le(b->p + b->len, (uint64_t)wk_event_ts(ev));
    b->len += 8;
    PUTV(b, wk_event_nrecords(ev));
    PUTV(b, nf);
    for (size_t i = 0; i < nf; i++) {
        if ((rc = wk__store_encode_field(b, ev, i)) < 0)
            return rc;
    }
    return 0;
}

/* Decoding. Every length is checked against the record: a corrupt block must give
 * WK_ECORRUPT, never a read out of bounds. */
#define GETV(var)                                                                        \
    do {                                                                                 \
        if ((rc = wk__varint_get(p, len, &pos, &(var))) < 0)                                 \
            return rc;                                                                   \
    } while (0)

/* One field at p[*pos..] (wk__store_encode_field's form) added to ev; rec_max bounds its
 * record number. A STRLIST's items go through *items (grown with realloc: *citems; the
 * caller frees it). @return 0, WK_ECORRUPT or -ENOMEM. */
int wk__store_decode_field(const uint8_t *p, size_t len, size_t *pos, uint64_t rec_max,
                           struct wk_event *ev, struct wk_str **items, size_t *citems)
{
    uint64_t klen, rec, dots, n;
    int rc;
    if ((rc = wk__varint_get(p, len, pos, &klen)) < 0)
        return rc;
    if (klen == 0 || klen > len - *pos)
        return WK_ECORRUPT;
    struct wk_key key = wk_key_initn((const char *)p + *pos, (size_t)klen);
    *pos += (size_t)klen;
    if ((rc = wk__varint_get(p, len, pos, &rec)) < 0)
        return rc;
    if (len - *pos < 2 || rec > rec_max || rec > UINT16_MAX)
        return WK_ECORRUPT;
    struct wk_value v;
    memset(&v, 0, sizeof(v));
    v.kind = p[(*pos)++];
    v.flags = p[(*pos)++];
    if ((rc = wk__varint_get(p, len, pos, &dots)) < 0)
        return rc;
    switch (v.kind) {
    case WK_VAL_NULL:
        break;
    case WK_VAL_BOOL:
        if (*pos >= len)
            return WK_ECORRUPT;
        v.u.b = p[(*pos)++] != 0;
        break;
    case WK_VAL_INT:
        if ((rc = wk__varint_get(p, len, pos, &n)) < 0)
            return rc;
        v.u.i = wk__unzigzag(n);
        break;
    case WK_VAL_REAL:
        if (len - *pos < 8)
            return WK_ECORRUPT;
        memcpy(&v.u.r, p + *pos, 8);
        *pos += 8;
        break;
    case WK_VAL_STR:
    case WK_VAL_JSON:
        if ((rc = wk__varint_get(p, len, pos, &n)) < 0)
            return rc;
        if (n > len - *pos || n > UINT32_MAX)
            return WK_ECORRUPT;
        v.u.s = (const char *)p + *pos;
        v.len = (uint32_t)n;
        *pos += (size_t)n;
        break;
    case WK_VAL_STRLIST:
        if ((rc = wk__varint_get(p, len, pos, &n)) < 0)
            return rc;
        if (n > len - *pos)
            return WK_ECORRUPT;
        if (n > *citems) {
            struct wk_str *it = realloc(*items, (size_t)n * sizeof(*it));
            if (!it)
                return -ENOMEM;
            *items = it;
            *citems = (size_t)n;
        }
        for (uint64_t j = 0; j < n; j++) {
            uint64_t l;
            if (wk__varint_get(p, len, pos, &l) < 0 || l > len - *pos)
                return WK_ECORRUPT;
            (*items)[j].s = (const char *)p + *pos;
            (*items)[j].len = (size_t)l;
            *pos += (size_t)l;
        }
        v.len = (uint32_t)n;
        v.u.items = *items;
        break;
    default:
        return WK_ECORRUPT;
    }
    rc = wk_event_add_value(ev, (unsigned)rec, &key, dots, &v);
    if (rc < 0)
        return rc == -EINVAL ? WK_ECORRUPT : rc;
    if (v.flags)
        wk_event_flag_last(ev, v.flags);
    return 0;
}

int wk__store_decode(const uint8_t *p, size_t len, struct wk_event *ev)
{
    int rc;
    size_t pos = 8;
    uint64_t nrec, nf;
    wk_event_reset(ev);
    if (len < 8)
        return WK_ECORRUPT;
    wk_event_set_ts(ev, (int64_t)wk__get_u64le(p));
    GETV(nrec);
    GETV(nf);
    if (nrec > 65535 || nf > 65535)
        return WK_ECORRUPT;
    for (uint64_t i = 0; i < nrec; i++) {
        if ((rc = wk_event_add_record(ev)) < 0)
            return rc;
    }
    struct wk_str *items = NULL;
    size_t citems = 0;
    rc = 0;
    for (uint64_t i = 0; i < nf && rc == 0; i++)
        rc = wk__store_decode_field(p, len, &pos, nrec, ev, &items, &citems);
    free(items);
    if (rc < 0)
        return rc;
    return pos == len ? 0 : WK_ECORRUPT;
}

int wk__store_next_record(const uint8_t *raw, size_t len, size_t *pos, const uint8_t **body,
                          size_t *blen)
{
    if (*pos >= len)
        return 0;
    uint64_t n;
    int rc = wk__varint_get(raw, len, pos, &n);
    if (rc < 0)
        return rc;
    if (n > len - *pos)
        return WK_ECORRUPT;
    *body = raw + *pos;
    *blen = (size_t)n;
    *pos += (size_t)n;
    return 1;
}

uint64_t wk__term_hash(const char *field, size_t flen, const char *val, size_t vlen)
{
    /* FNV-1a 64 over field, a separator that cannot occur in names, and the value. */
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < flen; i++)
        h = (h ^ (uint8_t)field[i]) * UINT64_C(0x100000001b3);
    h = (h ^ 0xff) * UINT64_C(0x100000001b3);
    for (size_t i = 0; i < vlen; i++)
        h = (h ^ (uint8_t)val[i]) * UINT64_C(0x100000001b3);
    return h;
}

uint32_t wk__term_hash32(const char *field, size_t flen, const char *val, size_t vlen)
{
    uint64_t h = wk__term_hash(field, flen, val, vlen);
    return (uint32_t)(h ^ (h >> 32));
}

bool wk__value_text(const struct wk_value *v, char *buf, const char **s, size_t *len)
{
    switch (v->kind) {
    case WK_VAL_STR:
        *s = v->u.s;
        *len = v->len;
        return true;
    case WK_VAL_INT:
        *len = (size_t)snprintf(buf, 32, "%lld", (long long)v->u.i);
        *s = buf;
        return true;
    case WK_VAL_BOOL:
        *s = v->u.b ? "true" : "false";
        *len = strlen(*s);
        return true;
    default:
        return false;
    }
}
