/* SPDX-License-Identifier: Apache-2.0 */
/* The bump arena behind events: chunks are kept across resets so steady state allocates
 * nothing. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "watchkeeper/mem.h"

#define ARENA_MIN_CHUNK 4096u

struct wk_arena_chunk {
    struct wk_arena_chunk *next;
    size_t size; /* usable bytes in data[] */
    size_t off;  /* bytes used */
    _Alignas(8) unsigned char data[];
};

void wk_arena_init(struct wk_arena *a)
{
    a->head = NULL;
    a->free = NULL;
    a->used = 0;
}

static void chunk_list_free(struct wk_arena_chunk *c)
{
    while (c) {
        struct wk_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
}

void wk_arena_fini(struct wk_arena *a)
{
    chunk_list_free(a->head);
    chunk_list_free(a->free);
    wk_arena_init(a);
}

void wk_arena_reset(struct wk_arena *a)
{
    /* Keep the largest chunks only: a single huge event must not pin memory forever. */
    struct wk_arena_chunk *c = a->head;
    while (c) {
        struct wk_arena_chunk *next = c->next;
        if (c->size > 16u * ARENA_MIN_CHUNK * 16u) {
            free(c);
        } else {
            c->off = 0;
            c->next = a->free;
            a->free = c;
        }
        c = next;
    }
    a->head = NULL;
    a->used = 0;
}

void *wk_arena_alloc(struct wk_arena *a, size_t n)
{
    size_t need = (n + 7u) & ~(size_t)7u;
    if (need < n)
        return NULL;
    struct wk_arena_chunk *c = a->head;
    if (!c || c->size - c->off < need) {
        /* Reuse a kept chunk that fits, else allocate one. */
        struct wk_arena_chunk **pp = &a->free;
        while (*pp && (*pp)->size < need)
            pp = &(*pp)->next;
        if (*pp) {
            c = *pp;
            *pp = c->next;
        } else {
            size_t size = need > ARENA_MIN_CHUNK ? need : ARENA_MIN_CHUNK;
            if (a->head && size < a->head->size * 2 && a->head->size * 2 <= 1u << 20)
                size = a->head->size * 2;
            if (size > SIZE_MAX - sizeof(*c))
                return NULL;
            c = malloc(sizeof(*c) + size);
            if (!c)
                return NULL;
            c->size = size;
        }
        c->off = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->off;
    c->off += need;
    a->used += need;
    return p;
}

char *wk_arena_strndup(struct wk_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = wk_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
