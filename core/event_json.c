/* SPDX-License-Identifier: Apache-2.0 */
/* The event's JSON form (see event.h): build and walk jansson trees. Not the hot path of
 * the sources (they fill events directly), but that of `ingest` and `query --format jsonl`. */
#include "config.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "event_private.h"
#include "watchkeeper/error.h"
#include "watchkeeper/event_json.h"
#include "watchkeeper/timefmt.h"

#define RECORDS_KEY "records"
#define BINARY_KEY "@binary"
#define TS_KEY "@timestamp"
#define MAX_DEPTH 64

/* ---------- event -> JSON ---------- */

/* Append one JSON-pointer segment (RFC 6901: '~' -> "~0", '/' -> "~1"). */
int wk__json_ptr_push(char *buf, size_t cap, size_t *len, const char *seg, size_t seglen)
{
    if (*len + 1 >= cap)
        return -ENAMETOOLONG;
    buf[(*len)++] = '/';
    for (size_t i = 0; i < seglen; i++) {
        const char *rep = seg[i] == '~' ? "~0" : seg[i] == '/' ? "~1" : NULL;
        size_t n = rep ? 2 : 1;
        if (*len + n >= cap)
            return -ENAMETOOLONG;
        if (rep) {
            memcpy(buf + *len, rep, 2);
        } else {
            buf[*len] = seg[i];
        }
        *len += n;
    }
    buf[*len] = '\0';
    return 0;
}

static json_t *b64_string(const char *s, size_t len)
{
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    sodium_bin2base64(buf, cap, (const unsigned char *)s, len, sodium_base64_VARIANT_ORIGINAL);
    json_t *j = json_string(buf);
    free(buf);
    return j;
}

/* A string leaf: plain when valid UTF-8, else base64 with its pointer noted in @binary. */
static json_t *str_json(const char *s, size_t len, json_t *binary, const char *ptr)
{
    if (wk__utf8_valid(s, len))
        return json_stringn(s, len);
    json_t *j = b64_string(s, len);
    if (j && json_array_append_new(binary, json_string(ptr)) < 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static json_t *value_json(const struct wk_value *v, json_t *binary, char *ptr, size_t ptrlen)
{
    switch (v->kind) {
    case WK_VAL_NULL: return json_null();
    case WK_VAL_BOOL: return json_boolean(v->u.b);
    case WK_VAL_INT: return json_integer(v->u.i);
    case WK_VAL_REAL: return json_real(v->u.r);
    case WK_VAL_STR: return str_json(v->u.s, v->len, binary, ptr);
    case WK_VAL_JSON: return json_loadb(v->u.s, v->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    case WK_VAL_STRLIST: {
        json_t *a = json_array();
        if (!a)
            return NULL;
        for (uint32_t i = 0; i < v->len; i++) {
            char idx[24];
            size_t l = ptrlen;
            int n = snprintf(idx, sizeof(idx), "%u", i);
            if (wk__json_ptr_push(ptr, 4096, &l, idx, (size_t)n) < 0 ||
                json_array_append_new(a, str_json(v->u.items[i].s, v->u.items[i].len, binary,
                                                  ptr)) < 0) {
                json_decref(a);
                return NULL;
            }
            ptr[ptrlen] = '\0';
        }
        return a;
    }
    default: return NULL;
    }
}

/*
 * Place one field in `root`, walking/creating objects at each structural dot. When an
 * intermediate name is taken by a non-object (a field "a" and a field "a.b"), the rest of
 * the path becomes one literal key at that level rather than losing a value.
 */
static int place(json_t *root, const struct wk_field *f, json_t *binary, char *ptr,
                 size_t ptrlen)
{
    const char *name = f->key.name;
    size_t len = f->key.len;
    json_t *obj = root;
    size_t start = 0;
    unsigned dot = 0;
    char seg[65536];
    for (size_t i = 0; i <= len; i++) {
        if (i < len && name[i] != '.')
            continue;
        bool last = i == len;
        if (!last) {
            bool literal = dot < 64 && (f->dots >> dot & 1u);
            dot++;
            if (literal)
                continue;
        }
        size_t sl = i - start;
        memcpy(seg, name + start, sl);
        seg[sl] = '\0';
        if (wk__json_ptr_push(ptr, 4096, &ptrlen, seg, sl) < 0)
            return -ENAMETOOLONG;
        if (last)
            break;
        json_t *child = json_object_getn(obj, seg, sl);
        if (!child) {
            child = json_object();
            if (!child || json_object_setn_new(obj, seg, sl, child) < 0)
                return -ENOMEM;
        } else if (!json_is_object(child)) {
            /* conflict: keep the remainder as one literal key */
            ptrlen -= 0;
            memcpy(seg, name + start, len - start);
            seg[len - start] = '\0';
            json_t *v = value_json(&f->v, binary, ptr, ptrlen);
            return v && json_object_setn_new(obj, seg, len - start, v) == 0 ? 0 : -ENOMEM;
        }
        obj = child;
        start = i + 1;
    }
    json_t *v = value_json(&f->v, binary, ptr, ptrlen);
    if (!v)
        return -ENOMEM;
    return json_object_setn_new(obj, seg, len - start, v) < 0 ? -ENOMEM : 0;
}

json_t *wk_event_to_jansson(const struct wk_event *ev)
{
    char ts[WK_RFC3339_MAX];
    char ptr[4096];
    json_t *root = json_object();
    json_t *binary = json_array();
    json_t *records = NULL;
    if (!root || !binary)
        goto fail;
    wk_time_format(ev->ts, ts);
    if (json_object_set_new(root, TS_KEY, json_string(ts)) < 0)
        goto fail;
    for (size_t i = 0; i < ev->n; i++) {
        const struct wk_field *f = &ev->fields[i];
        json_t *parent = root;
        size_t plen = 0;
        ptr[0] = '\0';
        if (f->v.rec) {
            if (!records) {
                records = json_array();
                if (!records || json_object_set_new(root, RECORDS_KEY, records) < 0)
                    goto fail;
                for (unsigned r = 0; r < ev->nrec; r++) {
                    if (json_array_append_new(records, json_object()) < 0)
                        goto fail;
                }
            }
            parent = json_array_get(records, f->v.rec - 1u);
            plen = (size_t)snprintf(ptr, sizeof(ptr), "/" RECORDS_KEY "/%u", f->v.rec - 1u);
        } else if (records && f->key.len == sizeof(RECORDS_KEY) - 1 &&
                   memcmp(f->key.name, RECORDS_KEY, sizeof(RECORDS_KEY) - 1) == 0) {
            /* An event-level "records" after the array: setting it would free the array
             * that later record fields are placed in. No JSON form (refused, like a key
             * jansson will not take). */
            goto fail;
        }
        if (place(parent, f, binary, ptr, plen) < 0)
            goto fail;
    }
    if (!records && ev->nrec) {
        /* records with no fields still count: keep them as empty objects */
        records = json_array();
        if (!records || json_object_set_new(root, RECORDS_KEY, records) < 0)
            goto fail;
        for (unsigned r = 0; r < ev->nrec; r++)
            json_array_append_new(records, json_object());
    }
    if (json_array_size(binary)) {
        if (json_object_set_new(root, BINARY_KEY, binary) < 0)
            goto fail;
    } else {
        json_decref(binary);
    }
    return root;
fail:
    json_decref(binary);
    json_decref(root);
    return NULL;
}

int wk_event_to_json(const struct wk_event *ev, char **out, size_t *len)
{
    json_t *j = wk_event_to_jansson(ev);
    if (!j)
        return -ENOMEM;
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    json_decref(j);
    if (!s)
        return -ENOMEM;
    *out = s;
    if (len)
        *len = strlen(s);
    return 0;
}

/* ---------- JSON -> event ---------- */

struct walk {
    struct wk_event *ev;
    const json_t *binary; /* array of pointers, or NULL */
    const char *err;
    char path[65536];
    char ptr[4096];
};

static bool is_binary(const struct walk *w, const char *ptr)
{
    size_t i;
    const json_t *p;
    if (!w->binary)
        return false;
    json_array_foreach (w->binary, i, p) {
        if (json_is_string(p) && strcmp(json_string_value(p), ptr) == 0)
            return true;
    }
    return false;
}

/* Decode a string leaf, base64 when its pointer is listed; the result goes in the arena. */
static int leaf_str(struct walk *w, const json_t *j, struct wk_str *out)
{
    const char *s = json_string_value(j);
    size_t len = json_string_length(j);
    if (!is_binary(w, w->ptr)) {
        out->s = s;
        out->len = len;
        return 0;
    }
    unsigned char *buf = wk_arena_alloc(&w->ev->arena, len + 1);
    size_t bin_len;
    if (!buf)
        return -ENOMEM;
    if (sodium_base642bin(buf, len + 1, s, len, NULL, &bin_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        w->err = "@binary names a value that is not valid base64";
        return WK_EPARSE;
    }
    out->s = (const char *)buf;
    out->len = bin_len;
    return 0;
}

static int walk_value(struct walk *w, unsigned rec, size_t pathlen, size_t ptrlen,
                      uint64_t dots, const json_t *j, int depth);

static int walk_object(struct walk *w, unsigned rec, size_t pathlen, size_t ptrlen,
                       uint64_t dots, const json_t *obj, int depth)
{
    const char *k;
    size_t klen;
    json_t *v;
    if (depth > MAX_DEPTH) {
        w->err = "nesting deeper than 64 levels";
        return WK_EPARSE;
    }
    json_object_keylen_foreach ((json_t *)obj, k, klen, v) {
        if (depth == 0 && rec == 0 &&
            ((klen == sizeof(TS_KEY) - 1 && memcmp(k, TS_KEY, klen) == 0) ||
             (klen == sizeof(BINARY_KEY) - 1 && memcmp(k, BINARY_KEY, klen) == 0)))
            continue;
        if (klen == 0) {
            w->err = "empty field name";
            return WK_EPARSE;
        }
        /* count the dots already in the path, then mark those inside this key literal */
        unsigned ndots = 0;
        for (size_t i = 0; i < pathlen; i++)
            ndots += w->path[i] == '.';
        size_t pl = pathlen;
        uint64_t d = dots;
        if (pl) {
            if (pl + 1 >= sizeof(w->path)) {
                w->err = "field path too long";
                return WK_EPARSE;
            }
            w->path[pl++] = '.';
            ndots++;
        }
        if (pl + klen >= sizeof(w->path)) {
            w->err = "field path too long";
            return WK_EPARSE;
        }
        for (size_t i = 0; i < klen; i++) {
            if (k[i] == '.') {
                if (ndots >= 64) {
                    w->err = "field path with more than 64 dots";
                    return WK_EPARSE;
                }
                d |= UINT64_C(1) << ndots;
                ndots++;
            }
        }
        memcpy(w->path + pl, k, klen);
        w->path[pl + klen] = '\0';
        size_t ptl = ptrlen;
        if (wk__json_ptr_push(w->ptr, sizeof(w->ptr), &ptl, k, klen) < 0) {
            w->err = "field path too long";
            return WK_EPARSE;
        }
        int rc = walk_value(w, rec, pl + klen, ptl, d, v, depth + 1);
        if (rc < 0)
            return rc;
        w->path[pathlen] = '\0';
        w->ptr[ptrlen] = '\0';
    }
    return 0;
}

static int walk_value(struct walk *w, unsigned rec, size_t pathlen, size_t ptrlen,
                      uint64_t dots, const json_t *j, int depth)
{
    struct wk_key key = wk_key_initn(w->path, pathlen);
    struct wk_value v = { 0 };
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        if (json_object_size(j))
            return walk_object(w, rec, pathlen, ptrlen, dots, j, depth);
        v.kind = WK_VAL_JSON;
        v.u.s = "{}";
        v.len = 2;
        break;
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        bool strings = true;
        for (size_t i = 0; i < n && strings; i++)
            strings = json_is_string(json_array_get(j, i));
        if (strings) {
            struct wk_str small[16];
            struct wk_str *items = n <= 16 ? small : malloc(n * sizeof(*items));
            int rc = 0;
            if (!items)
                return -ENOMEM;
            for (size_t i = 0; i < n && rc == 0; i++) {
                char idx[24];
                size_t ptl = ptrlen;
                int il = snprintf(idx, sizeof(idx), "%zu", i);
                if (wk__json_ptr_push(w->ptr, sizeof(w->ptr), &ptl, idx, (size_t)il) < 0)
                    rc = WK_EPARSE;
                else
                    rc = leaf_str(w, json_array_get(j, i), &items[i]);
                w->ptr[ptrlen] = '\0';
            }
            if (rc == 0) {
                v.kind = WK_VAL_STRLIST;
                v.len = (uint32_t)n;
                v.u.items = items;
                rc = wk_event_add_value(w->ev, rec, &key, dots, &v);
            }
            if (items != small)
                free(items);
            return rc;
        }
        char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
        if (!text)
            return -ENOMEM;
        v.kind = WK_VAL_JSON;
        v.u.s = text;
        v.len = (uint32_t)strlen(text);
        int rc = wk_event_add_value(w->ev, rec, &key, dots, &v);
        free(text);
        return rc;
    }
    case JSON_STRING: {
        struct wk_str s;
        int rc = leaf_str(w, j, &s);
        if (rc < 0)
            return rc;
        v.kind = WK_VAL_STR;
        v.u.s = s.s;
        v.len = (uint32_t)s.len;
        break;
    }
    case JSON_INTEGER:
        v.kind = WK_VAL_INT;
        v.u.i = json_integer_value(j);
        break;
    case JSON_REAL:
        v.kind = WK_VAL_REAL;
        v.u.r = json_real_value(j);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        v.kind = WK_VAL_BOOL;
        v.u.b = json_is_true(j);
        break;
    case JSON_NULL: v.kind = WK_VAL_NULL; break;
    }
    return wk_event_add_value(w->ev, rec, &key, dots, &v);
}

int wk_event_from_jansson(struct wk_event *ev, const json_t *obj, const char **err)
{
    static _Thread_local struct walk w;
    const char *dummy;
    if (!err)
        err = &dummy;
    wk_event_reset(ev);
    if (!json_is_object(obj)) {
        *err = "event is not a JSON object";
        return WK_EPARSE;
    }
    const json_t *ts = json_object_get(obj, TS_KEY);
    if (ts) {
        if (!json_is_string(ts) ||
            wk_time_parse(json_string_value(ts), json_string_length(ts), &ev->ts) < 0) {
            *err = "@timestamp is not an RFC 3339 time";
            return WK_EPARSE;
        }
    }
    w.ev = ev;
    w.err = NULL;
    w.binary = json_object_get(obj, BINARY_KEY);
    if (w.binary && !json_is_array(w.binary)) {
        *err = "@binary is not an array of JSON pointers";
        return WK_EPARSE;
    }
    w.path[0] = '\0';
    w.ptr[0] = '\0';
    /* Records first get their numbers, so field order within the root is kept. */
    const json_t *records = json_object_get(obj, RECORDS_KEY);
    bool as_records = json_is_array(records) && json_array_size(records) > 0 &&
                      json_array_size(records) <= WK_EVENT_MAX_RECORDS;
    for (size_t i = 0; as_records && i < json_array_size(records); i++)
        as_records = json_is_object(json_array_get(records, i));

    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach ((json_t *)obj, k, v) {
        if (strcmp(k, TS_KEY) == 0 || strcmp(k, BINARY_KEY) == 0)
            continue;
        if (as_records && v == records) {
            for (size_t i = 0; i < json_array_size(records); i++) {
                int r = wk_event_add_record(ev);
                if (r < 0)
                    return r;
                size_t ptl = (size_t)snprintf(w.ptr, sizeof(w.ptr), "/" RECORDS_KEY "/%zu", i);
                rc = walk_object(&w, (unsigned)r, 0, ptl, 0, json_array_get(records, i), 1);
                if (rc < 0)
                    break;
            }
            w.ptr[0] = '\0';
        } else {
            json_t *one = json_object();
            if (!one)
                return -ENOMEM;
            json_object_set(one, k, v);
            rc = walk_object(&w, 0, 0, 0, 0, one, 0);
            json_decref(one);
        }
        if (rc < 0)
            break;
    }
    if (rc < 0 && w.err)
        *err = w.err;
    else if (rc < 0)
        *err = wk_strerror(rc);
    return rc;
}

int wk_event_from_json(struct wk_event *ev, const char *text, size_t len, const char **err)
{
    static _Thread_local char msg[256];
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_ALLOW_NUL, &jerr);
    if (!j) {
        snprintf(msg, sizeof(msg), "invalid JSON at column %d: %s", jerr.column, jerr.text);
        if (err)
            *err = msg;
        wk_event_reset(ev);
        return WK_EPARSE;
    }
    int rc = wk_event_from_jansson(ev, j, err);
    json_decref(j);
    return rc;
}

int wk_event_add_jansson(struct wk_event *ev, unsigned rec, const char *prefix,
                         const json_t *value)
{
    static _Thread_local struct walk w;
    size_t pl = strlen(prefix);
    if (pl == 0 || pl >= sizeof(w.path))
        return -EINVAL;
    w.ev = ev;
    w.err = NULL;
    w.binary = NULL;
    memcpy(w.path, prefix, pl + 1);
    w.ptr[0] = '\0';
    return walk_value(&w, rec, pl, 0, 0, value, 1);
}
