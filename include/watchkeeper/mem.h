/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation helpers: overflow-checked zeroing allocation and a bump arena used by events
 * so that building one event does not call malloc per field once warm.
 */
#ifndef WK_MEM_H
#define WK_MEM_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/** Zeroed array of n T, NULL on overflow or OOM. */
#define wk_new0(T, n) ((T *)calloc((n), sizeof(T)))

/** Pointer to the struct that holds member `m` at address `p`. */
#define wk_container_of(p, T, m) ((T *)(void *)((char *)(p)-offsetof(T, m)))

#define WK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * A bump arena: memory comes from chunks that are kept across wk_arena_reset(), so a
 * reused arena reaches a steady state with no allocation at all.
 */
struct wk_arena_chunk;
struct wk_arena {
    struct wk_arena_chunk *head; /* chunk being filled */
    struct wk_arena_chunk *free; /* chunks kept by reset */
    char *cur, *end;             /* the free part of head: the inline fast path bumps cur */
};

/** Initialise an empty arena in caller storage. Never fails. */
void wk_arena_init(struct wk_arena *a);
/** Release every chunk. The arena may be initialised again. */
void wk_arena_fini(struct wk_arena *a);
/** Forget every allocation but keep the memory for reuse. */
void wk_arena_reset(struct wk_arena *a);
/** The slow path of wk_arena_alloc: a new chunk. Not for direct use. */
void *wk__arena_alloc_slow(struct wk_arena *a, size_t need);

/**
 * Allocate n bytes aligned to 8, valid until the next reset or fini. Inline: on the hot
 * path of every event it is a compare and a pointer bump.
 * @return the memory, or NULL on OOM.
 */
static inline void *wk_arena_alloc(struct wk_arena *a, size_t n)
{
    size_t need = (n + 7u) & ~(size_t)7u;
    if (need < n)
        return NULL;
    if (a->cur && (size_t)(a->end - a->cur) >= need) {
        void *p = a->cur;
        a->cur += need;
        return p;
    }
    return wk__arena_alloc_slow(a, need);
}

/** Copy n bytes plus a terminating NUL into the arena. @return the copy or NULL. */
static inline char *wk_arena_strndup(struct wk_arena *a, const char *s, size_t n)
{
    if (n >= (size_t)-8)
        return NULL;
    char *p = (char *)wk_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

#endif /* WK_MEM_H */
