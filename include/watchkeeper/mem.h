/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation helpers: overflow-checked zeroing allocation and a bump arena used by events
 * so that building one event does not call malloc per field once warm.
 */
#ifndef WK_MEM_H
#define WK_MEM_H

#include <stddef.h>
#include <stdlib.h>

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
    size_t used;                 /* bytes handed out since the last reset */
};

/** Initialise an empty arena in caller storage. Never fails. */
void wk_arena_init(struct wk_arena *a);
/** Release every chunk. The arena may be initialised again. */
void wk_arena_fini(struct wk_arena *a);
/** Forget every allocation but keep the memory for reuse. */
void wk_arena_reset(struct wk_arena *a);
/**
 * Allocate n bytes aligned to 8, valid until the next reset or fini.
 * @return the memory, or NULL on OOM.
 */
void *wk_arena_alloc(struct wk_arena *a, size_t n);
/** Copy n bytes plus a terminating NUL into the arena. @return the copy or NULL. */
char *wk_arena_strndup(struct wk_arena *a, const char *s, size_t n);

#endif /* WK_MEM_H */
