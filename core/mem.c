/* SPDX-License-Identifier: Apache-2.0 */
/* The bump arena behind events: chunks are kept across resets so steady state allocates
 * nothing. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "event_private.h" /* wk__arena_bytes */
#include "watchkeeper/mem.h"

#define ARENA_MIN_CHUNK WK__ARENA_MIN_CHUNK

void wk_arena_init(struct wk_arena *a)
{
    a->head = NULL;
    a->free = NULL;
    a->cur = NULL;
    a->end = NULL;
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

/* Unused chunks kept across a reset, at most (bytes). */
#define ARENA_SPARE (2u * ARENA_MIN_CHUNK)

void wk_arena_reset(struct wk_arena *a)
{
    /* The kept chunks this use did not need (still on the free list) go, beyond
     * ARENA_SPARE: an event recycled through the pipeline's pool once held a big one and
     * kept its 8-32 KiB chunks while 97% of audit events fit in 4 KiB; each item then
     * pinned ~11 KiB of arena (and the pool and queue, bounded in bytes, held fewer). What
     * a use needed stays for the next (a steady stream of big events allocates nothing). */
    size_t spare = 0;
    struct wk_arena_chunk **pp = &a->free;
    while (*pp) {
        struct wk_arena_chunk *f = *pp;
        if (spare + f->size > ARENA_SPARE) {
            *pp = f->next;
            free(f);
        } else {
            spare += f->size;
            pp = &f->next;
        }
    }
    /* Keep chunks up to 1 MiB only: a single huge event must not pin memory forever. */
    struct wk_arena_chunk *c = a->head;
    while (c) {
        struct wk_arena_chunk *next = c->next;
        if (c->size > 16u * ARENA_MIN_CHUNK * 16u) {
            free(c);
        } else {
            c->next = a->free;
            a->free = c;
        }
        c = next;
    }
    a->head = NULL;
    a->cur = NULL;
    a->end = NULL;
}

size_t wk__arena_bytes(const struct wk_arena *a)
{
    size_t n = 0;
    for (const struct wk_arena_chunk *c = a->head; c; c = c->next)
        n += sizeof(*c) + c->size;
    for (const struct wk_arena_chunk *c = a->free; c; c = c->next)
        n += sizeof(*c) + c->size;
    return n;
}

void *wk__arena_alloc_slow(struct wk_arena *a, size_t need)
{
    /* Reuse a kept chunk that fits, else allocate one (doubling up to 1 MiB). */
    struct wk_arena_chunk *c;
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
    c->next = a->head;
    a->head = c;
    a->cur = (char *)c->data + need;
    a->end = (char *)c->data + c->size;
    return c->data;
}
