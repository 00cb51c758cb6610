/* SPDX-License-Identifier: Apache-2.0 */
/* The event model: an ordered, typed field list in an arena, looked up by hashed key. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "event_private.h"
#include "watchkeeper/error.h"

/* Arena bytes wk_event_prefetch_fill asks for at most: the first chunk's, where 97% of
 * audit events fit. */
#define PF_ARENA 4096u
_Static_assert(PF_ARENA <= WK__ARENA_MIN_CHUNK, "the prefetch stays in the chunk");

struct wk_key WK_KEY_EVENT_MODULE;
struct wk_key WK_KEY_EVENT_ACTION;
struct wk_key WK_KEY_EVENT_ORIGINAL;
struct wk_key WK_KEY_HOST_NAME;
struct wk_key WK_KEY_CONTAINER_ID;
struct wk_key WK_KEY_CONTAINER_NAME;
struct wk_key WK_KEY_CONTAINER_IMAGE;
struct wk_key WK_KEY_MESSAGE;

static pthread_once_t keys_once = PTHREAD_ONCE_INIT;

static void keys_init_once(void)
{
    WK_KEY_EVENT_MODULE = wk_key_init("event.module");
    WK_KEY_EVENT_ACTION = wk_key_init("event.action");
    WK_KEY_EVENT_ORIGINAL = wk_key_init("event.original");
    WK_KEY_HOST_NAME = wk_key_init("host.name");
    WK_KEY_CONTAINER_ID = wk_key_init("container.id");
    WK_KEY_CONTAINER_NAME = wk_key_init("container.name");
    WK_KEY_CONTAINER_IMAGE = wk_key_init("container.image.name");
    WK_KEY_MESSAGE = wk_key_init("message");
}

void wk_keys_init(void)
{
    pthread_once(&keys_once, keys_init_once);
}

uint32_t wk_key_hash(const char *name, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 16777619u;
    }
    return h;
}

struct wk_key wk_key_initn(const char *name, size_t len)
{
    struct wk_key k = { name, (uint32_t)len, wk_key_hash(name, len) };
    return k;
}

struct wk_key wk_key_init(const char *name)
{
    return wk_key_initn(name, strlen(name));
}

int wk_event_new(struct wk_event **out)
{
    wk_keys_init();
    struct wk_event *ev = wk_new0(struct wk_event, 1);
    if (!ev)
        return -ENOMEM;
    wk_arena_init(&ev->arena);
    ev->gen = 1;
    *out = ev;
    return 0;
}

struct wk_event *wk_event_free(struct wk_event *ev)
{
    if (!ev)
        return NULL;
    wk_arena_fini(&ev->arena);
    free(ev->fields); /* and hashes, idx: the same allocation */
    free(ev);
    return NULL;
}

void wk_event_reset(struct wk_event *ev)
{
    ev->ts = 0;
    ev->n = 0;
    ev->nrec = 0;
    if (++ev->gen > 0xFFFFu) {
        if (ev->idx)
            memset(ev->idx, 0, ev->idxcap * sizeof(*ev->idx));
        ev->gen = 1;
    }
    wk_arena_reset(&ev->arena);
}

int64_t wk_event_ts(const struct wk_event *ev)
{
    return ev->ts;
}

void wk_event_set_ts(struct wk_event *ev, int64_t ts_ns)
{
    ev->ts = ts_ns;
}

unsigned wk_event_nrecords(const struct wk_event *ev)
{
    return ev->nrec;
}

int wk_event_add_record(struct wk_event *ev)
{
    if (ev->nrec >= WK_EVENT_MAX_RECORDS)
        return WK_ELIMIT;
    return (int)++ev->nrec;
}

size_t wk_event_nfields(const struct wk_event *ev)
{
    return ev->n;
}

const struct wk_key *wk_event_field_key(const struct wk_event *ev, size_t i)
{
    return i < ev->n ? &ev->fields[i].key : NULL;
}

const struct wk_value *wk_event_field_value(const struct wk_event *ev, size_t i)
{
    return i < ev->n ? &ev->fields[i].v : NULL;
}

const struct wk_field *wk_event_fields(const struct wk_event *ev)
{
    return ev->n ? ev->fields : NULL;
}

const uint32_t *wk_event_field_hashes(const struct wk_event *ev)
{
    return ev->n ? ev->hashes : NULL;
}

void wk_event_prefetch(const struct wk_event *ev)
{
    const char *p = (const char *)ev->fields;
    for (size_t o = 0, n = ev->n * sizeof(*ev->fields); o < n; o += 64)
        __builtin_prefetch(p + o);
    p = (const char *)ev->hashes;
    for (size_t o = 0, n = ev->n * sizeof(*ev->hashes); o < n; o += 64)
        __builtin_prefetch(p + o);
    p = (const char *)ev->idx;
    for (size_t o = 0, n = ev->idx ? ev->idxcap * sizeof(*ev->idx) : 0; o < n; o += 64)
        __builtin_prefetch(p + o);
    /* names and values: the 4 KiB before the arena's bump pointer, where the most recent
     * fields' bytes are, within the chunk being filled (what is before it is not this
     * event's) */
    if (ev->arena.cur && ev->arena.head) {
        const uintptr_t e = (uintptr_t)ev->arena.cur, b = (uintptr_t)ev->arena.head->data;
        const uintptr_t lo = e - b > 4096 ? e - 4096 : b;
        for (uintptr_t a = e; a > lo + 64; a -= 64)
            __builtin_prefetch((const void *)(a - 64));
        __builtin_prefetch((const void *)lo);
    }
}

void wk_event_prefetch_fill(const struct wk_event *ev)
{
    const char *p = (const char *)ev->idx;
    for (size_t o = 0, n = p ? ev->idxcap * sizeof(*ev->idx) : 0; o < n; o += 64)
        __builtin_prefetch(p + o, 1);
    /* Not the field and hash slots: the refill only writes them, and their prefetch
     * measured no better than the store buffer's misses. The arena: the reset reads the
     * headers of the chunk in use and of the first kept one; the refill writes from the
     * start of the chunk in use (of the oldest when the last use took several, which
     * would take a walk to find), about as far as the last use did, else (reset already)
     * from the start of the first kept one. Bounds from the event's struct alone: a
     * chunk's size would be a load that stalls. */
    const struct wk_arena_chunk *c = ev->arena.head;
    size_t used = PF_ARENA;
    if (c) {
        used = (size_t)(ev->arena.cur - (const char *)c->data);
        used = used < PF_ARENA ? used : PF_ARENA;
        if (ev->arena.free)
            __builtin_prefetch(ev->arena.free, 1);
    } else {
        c = ev->arena.free;
    }
    if (c) {
        p = (const char *)c; /* its header, then its data */
        for (size_t o = 0; o < sizeof(*c) + used; o += 64)
            __builtin_prefetch(p + o, 1);
    }
}

uint64_t wk_event_field_dots(const struct wk_event *ev, size_t i)
{
    return i < ev->n ? ev->fields[i].dots : 0;
}

const struct wk_value *wk_event_field(const struct wk_event *ev, size_t i,
                                      const struct wk_key **key, uint64_t *dots)
{
    if (i >= ev->n)
        return NULL;
    const struct wk_field *f = &ev->fields[i];
    *key = &f->key;
    *dots = f->dots;
    return &f->v;
}

static inline bool key_eq(const struct wk_key *a, const struct wk_key *b)
{
    return a->hash == b->hash && a->len == b->len &&
           (a->name == b->name || memcmp(a->name, b->name, a->len) == 0);
}

static inline size_t idx_home(uint32_t hash, unsigned rec, size_t mask)
{
    uint32_t m = hash ^ (rec * 0x9E3779B1u);
    m ^= m >> 15;
    return m & mask;
}

/* Probe the index for (rec, key): the field's position, or -1 with *free_at set to the
 * empty index entry where it would go (SIZE_MAX when there is no index yet). */
static inline __attribute__((always_inline)) ssize_t
probe(const struct wk_event *ev, unsigned rec, const struct wk_key *key, size_t *free_at)
{
    *free_at = SIZE_MAX;
    if (!ev->idx)
        return -1;
    const uint32_t h = key->hash;
    const size_t mask = ev->idxcap - 1;
    const uint32_t gen = ev->gen;
    for (size_t p = idx_home(h, rec, mask);; p = (p + 1) & mask) {
        uint32_t e = ev->idx[p];
        if (e >> 16 != gen) {
            *free_at = p;
            return -1;
        }
        e &= 0xFFFFu;
        const struct wk_field *f = &ev->fields[e - 1];
        if (ev->hashes[e - 1] == h && f->v.rec == rec && key_eq(&f->key, key))
            return (ssize_t)(e - 1);
    }
}

static ssize_t find(const struct wk_event *ev, unsigned rec, const struct wk_key *key)
{
    size_t unused;
    return probe(ev, rec, key, &unused);
}

static void idx_insert(struct wk_event *ev, size_t i)
{
    const size_t mask = ev->idxcap - 1;
    size_t p = idx_home(ev->hashes[i], ev->fields[i].v.rec, mask);
    while (ev->idx[p] >> 16 == ev->gen)
        p = (p + 1) & mask;
    ev->idx[p] = ev->gen << 16 | (uint32_t)(i + 1);
}

const struct wk_value *wk_event_get(const struct wk_event *ev, unsigned rec,
                                    const struct wk_key *key)
{
    ssize_t i = find(ev, rec, key);
    return i < 0 ? NULL : &ev->fields[i].v;
}

const struct wk_value *wk_event_get_ctx(const struct wk_event *ev, unsigned rec,
                                        const struct wk_key *key)
{
    const struct wk_value *v = wk_event_get(ev, rec, key);
    if (!v && rec)
        v = wk_event_get(ev, 0, key);
    return v;
}

const char *wk_event_get_str(const struct wk_event *ev, const struct wk_key *key, size_t *len)
{
    const struct wk_value *v = wk_event_get(ev, 0, key);
    if (!v || v->kind != WK_VAL_STR)
        return NULL;
    if (len)
        *len = v->len;
    return v->u.s;
}

/* Move the table to room for cap fields (a power of two, >= n): fields, hashes and the
 * index in one allocation, the index rebuilt (out of the inlined add paths). */
static __attribute__((noinline)) int resize(struct wk_event *ev, size_t cap)
{
    const size_t fb = cap * sizeof(struct wk_field), hb = cap * sizeof(uint32_t);
    char *b = malloc(fb + hb + 2 * cap * sizeof(uint32_t));
    if (!b)
        return -ENOMEM;
    struct wk_field *f = (struct wk_field *)b;
    uint32_t *h = (uint32_t *)(b + fb);
    uint32_t *ix = (uint32_t *)(b + fb + hb);
    if (ev->n) {
        memcpy(f, ev->fields, ev->n * sizeof(*f));
        memcpy(h, ev->hashes, ev->n * sizeof(*h));
    }
    memset(ix, 0, 2 * cap * sizeof(*ix)); /* generation 0: empty */
    free(ev->fields);
    ev->fields = f;
    ev->hashes = h;
    ev->idx = ix;
    ev->idxcap = cap * 2;
    ev->cap = cap;
    ev->room = cap < WK_EVENT_MAX_FIELDS ? cap : WK_EVENT_MAX_FIELDS;
    for (size_t i = 0; i < ev->n; i++)
        idx_insert(ev, i);
    return 0;
}

/* Double the field capacity. */
static int grow(struct wk_event *ev)
{
    return resize(ev, ev->cap ? ev->cap * 2 : 32);
}

int wk_event_reserve(struct wk_event *ev, size_t nfields)
{
    if (nfields <= ev->cap)
        return 0;
    if (nfields > WK_EVENT_MAX_FIELDS)
        nfields = WK_EVENT_MAX_FIELDS;
    size_t cap = ev->cap ? ev->cap : 32;
    while (cap < nfields)
        cap *= 2;
    return resize(ev, cap);
}

int wk_event_fit(struct wk_event *ev, size_t nfields)
{
    if (nfields > WK_EVENT_MAX_FIELDS)
        nfields = WK_EVENT_MAX_FIELDS;
    size_t cap = 32;
    while (cap < nfields)
        cap *= 2;
    if (ev->n || ev->cap <= 2 * cap)
        return wk_event_reserve(ev, nfields);
    return resize(ev, cap);
}

/* Reserve the slot for a field (new or replaced); copies the key name into the arena
 * unless copy_name is false (the caller's name outlives the field: wk_event_add_*_sn). */
static inline __attribute__((always_inline)) struct wk_field *
slot(struct wk_event *ev, unsigned rec, const struct wk_key *key, bool copy_name, int *rc)
{
    if (key->len == 0 || key->len > 65535u || rec > ev->nrec) {
        *rc = -EINVAL;
        return NULL;
    }
    size_t pos; /* the free index entry a new field takes */
    ssize_t at = probe(ev, rec, key, &pos);
    if (at >= 0)
        return &ev->fields[at];
    if (ev->n >= WK_EVENT_MAX_FIELDS) {
        *rc = WK_ELIMIT;
        return NULL;
    }
    if (ev->n == ev->cap) {
        if ((*rc = grow(ev)) < 0)
            return NULL;
        pos = SIZE_MAX; /* a new index */
    }
    const char *name = key->name;
    if (copy_name && !(name = wk_arena_strndup(&ev->arena, key->name, key->len))) {
        *rc = -ENOMEM;
        return NULL;
    }
    struct wk_field *f = &ev->fields[ev->n];
    f->key.name = name;
    f->key.len = key->len;
    f->key.hash = key->hash;
    f->dots = 0;
    f->v.rec = (uint16_t)rec; /* the index hashes rec; the caller fills the rest of v */
    ev->hashes[ev->n] = key->hash;
    if (pos == SIZE_MAX)
        idx_insert(ev, ev->n);
    else
        ev->idx[pos] = ev->gen << 16 | (uint32_t)(ev->n + 1);
    ev->n++;
    return f;
}

/* The common case of an add under a static name, without a call frame to speak of: a new
 * field (no field of its record and name yet) and room in the table. The field takes the
 * index entry slot() would give it, the first empty one of its probe sequence; an entry
 * on the way with the same hash and record may be the same name, and anything else the
 * general path handles: NULL then. The caller fills f->dots and f->v (rec included). */
static inline __attribute__((always_inline)) struct wk_field *
fast_new(struct wk_event *ev, unsigned rec, const struct wk_key *key)
{
    const size_t n = ev->n;
    if (!ev->idx || n >= ev->cap || n >= WK_EVENT_MAX_FIELDS || key->len - 1u >= 65535u ||
        rec > ev->nrec)
        return NULL;
    const uint32_t h = key->hash, gen = ev->gen;
    const size_t mask = ev->idxcap - 1;
    for (size_t p = idx_home(h, rec, mask);; p = (p + 1) & mask) {
        const uint32_t e = ev->idx[p];
        if (e >> 16 != gen) {
            struct wk_field *f = &ev->fields[n];
            f->key = *key;
            ev->hashes[n] = h;
            ev->idx[p] = gen << 16 | (uint32_t)(n + 1);
            ev->n = n + 1;
            return f;
        }
        const size_t i = (e & 0xFFFFu) - 1;
        if (ev->hashes[i] == h && ev->fields[i].v.rec == rec)
            return NULL;
    }
}

static int add_value(struct wk_event *ev, unsigned rec, const struct wk_key *key,
                     uint64_t literal_dots, const struct wk_value *v, bool copy_name)
{
    int rc = 0;
    struct wk_value nv = *v;
    nv.rec = (uint16_t)rec;
    if (!copy_name && (v->kind == WK_VAL_INT || v->kind == WK_VAL_BOOL || v->kind == WK_VAL_NULL ||
                       v->kind == WK_VAL_REAL)) {
        /* a scalar under a static name: wk_event_add_str_ref's fast path (fast_new) */
        struct wk_field *f = fast_new(ev, rec, key);
        if (f) {
            f->dots = literal_dots;
            f->v = nv;
            return 0;
        }
    }
    switch (v->kind) {
    case WK_VAL_STR:
    case WK_VAL_JSON:
        nv.u.s = wk_arena_strndup(&ev->arena, v->u.s ? v->u.s : "", v->len);
        if (!nv.u.s)
            return -ENOMEM;
        break;
    case WK_VAL_STRLIST: {
        struct wk_str *items = NULL;
        if (v->len) {
            items = wk_arena_alloc(&ev->arena, (size_t)v->len * sizeof(*items));
            if (!items)
                return -ENOMEM;
            for (uint32_t i = 0; i < v->len; i++) {
                items[i].len = v->u.items[i].len;
                items[i].s = wk_arena_strndup(&ev->arena, v->u.items[i].s, items[i].len);
                if (!items[i].s)
                    return -ENOMEM;
            }
        }
        nv.u.items = items;
        break;
    }
    case WK_VAL_NULL:
    case WK_VAL_BOOL:
    case WK_VAL_INT:
    case WK_VAL_REAL:
        break;
    default:
        return -EINVAL;
    }
    struct wk_field *f = slot(ev, rec, key, copy_name, &rc);
    if (!f)
        return rc;
    f->dots = literal_dots;
    f->v = nv;
    return 0;
}

int wk_event_add_value(struct wk_event *ev, unsigned rec, const struct wk_key *key,
                       uint64_t literal_dots, const struct wk_value *v)
{
    return add_value(ev, rec, key, literal_dots, v, true);
}

int wk_event_add_value_sn(struct wk_event *ev, unsigned rec, const struct wk_key *key,
                          uint64_t literal_dots, const struct wk_value *v)
{
    return add_value(ev, rec, key, literal_dots, v, false);
}

static inline __attribute__((always_inline)) void fill_str(struct wk_field *f, unsigned rec,
                                                         const char *s, size_t len)
{
    f->dots = 0;
    f->v.kind = WK_VAL_STR;
    f->v.flags = 0;
    f->v.rec = (uint16_t)rec;
    f->v.len = (uint32_t)len;
    f->v.u.s = s;
}

/* A string field whose bytes stay where s points (the event's arena, or the caller's
 * promise of wk_event_add_str_ref). */
static inline __attribute__((always_inline)) int
put_str(struct wk_event *ev, unsigned rec, const struct wk_key *key, const char *s, size_t len,
        bool copy_name)
{
    int rc = 0;
    struct wk_field *f = slot(ev, rec, key, copy_name, &rc);
    if (!f)
        return rc;
    fill_str(f, rec, s, len);
    return 0;
}

/* The string case of add_value without building a value: the hot path of parsers. */
static inline __attribute__((always_inline)) int
add_str(struct wk_event *ev, unsigned rec, const struct wk_key *key, const char *s, size_t len,
        bool copy_name)
{
    if (len > UINT32_MAX)
        return WK_ELIMIT;
    char *copy = wk_arena_alloc(&ev->arena, len + 1);
    if (!copy)
        return -ENOMEM;
    if (len)
        memcpy(copy, s, len);
    copy[len] = '\0';
    return put_str(ev, rec, key, copy, len, copy_name);
}

int wk_event_add_str_sn(struct wk_event *ev, unsigned rec, const struct wk_key *key,
                        const char *s, size_t len)
{
    return add_str(ev, rec, key, s, len, false);
}

int wk_event_add_str(struct wk_event *ev, unsigned rec, const struct wk_key *key,
                     const char *s, size_t len)
{
    return add_str(ev, rec, key, s, len, true);
}

static __attribute__((noinline)) int add_str_ref_slow(struct wk_event *ev, unsigned rec,
                                                      const struct wk_key *key, const char *s,
                                                      size_t len)
{
    if (len > UINT32_MAX)
        return WK_ELIMIT;
    return put_str(ev, rec, key, s, len, false);
}

/* The home index entry taken: a new field further along its probe sequence (fast_new), or
 * the general path. */
static __attribute__((noinline)) int add_str_ref_probe(struct wk_event *ev, unsigned rec,
                                                       const struct wk_key *key,
                                                       const char *s, size_t len)
{
    struct wk_field *f = fast_new(ev, rec, key);
    if (!f)
        return add_str_ref_slow(ev, rec, key, s, len);
    fill_str(f, rec, s, len);
    return 0;
}

/* The common case without a call frame to speak of: a new field whose home index entry is
 * empty and room in the table; anything else takes the paths above. */
int wk_event_add_str_ref(struct wk_event *ev, unsigned rec, const struct wk_key *key,
                         const char *s, size_t len)
{
    const size_t n = ev->n;
    if (n < ev->room && key->len - 1u < 65535u && rec <= ev->nrec && len <= UINT32_MAX) {
        /* (locals: the stores below may alias the event's members for the compiler) */
        uint32_t *const idx = ev->idx;
        const uint32_t gen = ev->gen, h = key->hash;
        const size_t p = idx_home(h, rec, ev->idxcap - 1);
        if (idx[p] >> 16 != gen) {
            struct wk_field *f = &ev->fields[n];
            f->key = *key;
            fill_str(f, rec, s, len);
            ev->hashes[n] = h;
            idx[p] = gen << 16 | (uint32_t)(n + 1);
            ev->n = n + 1;
            return 0;
        }
        return add_str_ref_probe(ev, rec, key, s, len);
    }
    return add_str_ref_slow(ev, rec, key, s, len);
}

int wk_event_add_strlist_ref(struct wk_event *ev, unsigned rec, const struct wk_key *key,
                             const struct wk_str *items, size_t n)
{
    if (n > UINT32_MAX)
        return WK_ELIMIT;
    struct wk_str *copy = NULL;
    if (n) {
        if (!(copy = wk_arena_alloc(&ev->arena, n * sizeof(*copy))))
            return -ENOMEM;
        memcpy(copy, items, n * sizeof(*copy));
    }
    int rc = 0;
    struct wk_field *f = slot(ev, rec, key, false, &rc);
    if (!f)
        return rc;
    f->dots = 0;
    f->v = (struct wk_value){ .kind = WK_VAL_STRLIST, .rec = (uint16_t)rec, .len = (uint32_t)n,
                              .u.items = copy };
    return 0;
}

int wk_event_add_int(struct wk_event *ev, unsigned rec, const struct wk_key *key, int64_t i)
{
    struct wk_value v = { .kind = WK_VAL_INT, .u.i = i };
    return wk_event_add_value(ev, rec, key, 0, &v);
}

int wk_event_add_real(struct wk_event *ev, unsigned rec, const struct wk_key *key, double r)
{
    if (!isfinite(r))
        return -EINVAL; /* JSON has no NaN or infinity */
    struct wk_value v = { .kind = WK_VAL_REAL, .u.r = r };
    return wk_event_add_value(ev, rec, key, 0, &v);
}

int wk_event_add_bool(struct wk_event *ev, unsigned rec, const struct wk_key *key, bool b)
{
    struct wk_value v = { .kind = WK_VAL_BOOL, .u.b = b };
    return wk_event_add_value(ev, rec, key, 0, &v);
}

int wk_event_add_null(struct wk_event *ev, unsigned rec, const struct wk_key *key)
{
    struct wk_value v = { .kind = WK_VAL_NULL };
    return wk_event_add_value(ev, rec, key, 0, &v);
}

int wk_event_add_strlist(struct wk_event *ev, unsigned rec, const struct wk_key *key,
                         const struct wk_str *items, size_t n)
{
    if (n > UINT32_MAX)
        return WK_ELIMIT;
    struct wk_value v = { .kind = WK_VAL_STRLIST, .len = (uint32_t)n, .u.items = items };
    return wk_event_add_value(ev, rec, key, 0, &v);
}

int wk_event_add_json(struct wk_event *ev, unsigned rec, const struct wk_key *key,
                      const char *json, size_t len)
{
    if (len > UINT32_MAX)
        return WK_ELIMIT;
    struct wk_value v = { .kind = WK_VAL_JSON, .len = (uint32_t)len, .u.s = json };
    return wk_event_add_value(ev, rec, key, 0, &v);
}

void wk_event_flag_last(struct wk_event *ev, uint8_t flags)
{
    if (ev->n)
        ev->fields[ev->n - 1].v.flags |= flags;
}

bool wk_value_text(const struct wk_value *v, char *buf, size_t buflen, const char **s,
                   size_t *len)
{
    switch (v ? v->kind : WK_VAL_NULL) {
    case WK_VAL_STR:
    case WK_VAL_JSON:
        *s = v->u.s;
        *len = v->len;
        return true;
    case WK_VAL_INT:
        *len = (size_t)snprintf(buf, buflen, "%lld", (long long)v->u.i);
        *s = buf;
        return true;
    case WK_VAL_REAL:
        *len = (size_t)snprintf(buf, buflen, "%.17g", v->u.r);
        *s = buf;
        return true;
    case WK_VAL_BOOL:
        *s = v->u.b ? "true" : "false";
        *len = v->u.b ? 4 : 5;
        return true;
    default:
        return false;
    }
}

int wk_event_copy(struct wk_event *dst, const struct wk_event *src)
{
    wk_event_reset(dst);
    dst->ts = src->ts;
    dst->nrec = src->nrec;
    for (size_t i = 0; i < src->n; i++) {
        const struct wk_field *f = &src->fields[i];
        int rc = wk_event_add_value(dst, f->v.rec, &f->key, f->dots, &f->v);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void wk_event_swap(struct wk_event *a, struct wk_event *b)
{
    /* No member points into the struct itself (the arena's pointers are into its chunks),
     * so exchanging the structs exchanges the events. */
    struct wk_event t = *a;
    *a = *b;
    *b = t;
}

struct wk_arena *wk_event_arena(struct wk_event *ev)
{
    return &ev->arena;
}

size_t wk_event_mem(const struct wk_event *ev)
{
    size_t fcap = ev->fields ? ev->cap : 0;
    return sizeof(*ev) + fcap * (sizeof(*ev->fields) + sizeof(*ev->hashes)) +
           (ev->idx ? ev->idxcap * sizeof(*ev->idx) : 0) + wk__arena_bytes(&ev->arena);
}

bool wk_value_equal(const struct wk_value *a, const struct wk_value *b)
{
    if (a->kind != b->kind || a->len != b->len || a->flags != b->flags)
        return false;
    switch (a->kind) {
    case WK_VAL_NULL: return true;
    case WK_VAL_BOOL: return a->u.b == b->u.b;
    case WK_VAL_INT: return a->u.i == b->u.i;
    case WK_VAL_REAL: return memcmp(&a->u.r, &b->u.r, sizeof(double)) == 0;
    case WK_VAL_STR:
    case WK_VAL_JSON: return memcmp(a->u.s, b->u.s, a->len) == 0;
    case WK_VAL_STRLIST:
        for (uint32_t i = 0; i < a->len; i++) {
            if (a->u.items[i].len != b->u.items[i].len ||
                memcmp(a->u.items[i].s, b->u.items[i].s, a->u.items[i].len) != 0)
                return false;
        }
        return true;
    default: return false;
    }
}

/* Equality as sets of (rec, name, dots, value): JSON nesting may regroup fields, so the
 * order of fields that share a parent object is not significant. The value flags in
 * ignore are left out. */
static bool event_equal(const struct wk_event *a, const struct wk_event *b, uint8_t ignore)
{
    if (a->ts != b->ts || a->n != b->n || a->nrec != b->nrec)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const struct wk_field *fa = &a->fields[i];
        ssize_t j = find(b, fa->v.rec, &fa->key);
        if (j < 0 || b->fields[j].dots != fa->dots)
            return false;
        struct wk_value va = fa->v, vb = b->fields[j].v;
        va.flags &= (uint8_t)~ignore;
        vb.flags &= (uint8_t)~ignore;
        if (!wk_value_equal(&va, &vb))
            return false;
    }
    return true;
}

bool wk_event_equal(const struct wk_event *a, const struct wk_event *b)
{
    return event_equal(a, b, 0);
}

bool wk_event_equal_but(const struct wk_event *a, const struct wk_event *b, uint8_t ignore)
{
    return event_equal(a, b, ignore);
}

bool wk__utf8_valid_full(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        /* ASCII, 8 bytes at a time while no high bit is set (most text: all of it) */
        while (i + 8 <= len) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (x & 0x8080808080808080u)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= len)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        /* overlong, surrogate and out-of-range forms */
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}
