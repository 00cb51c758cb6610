/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The unit test harness: WK_TEST(name) registers a test; each runs in its own forked
 * process with a timeout, so a crash or hang fails that test only. Output is TAP (meson's
 * protocol 'tap'). Run one test: ./test_x NAME. WK_SKIP() skips, except with CI=true,
 * where a skip is a failure.
 */
#ifndef WK_TEST_H
#define WK_TEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wk_test {
    const char *name;
    void (*fn)(void);
    struct wk_test *next;
};

void wk_test_register(struct wk_test *t);
void wk_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
void wk_test_skip(const char *why) __attribute__((noreturn));
/** Directory of the shared corpus (../shared/corpus relative to the source tree). */
const char *wk_test_corpus(void);
/** The source tree root. */
const char *wk_test_srcdir(void);
/** A fresh temporary directory for this test (removed after the test passes). */
const char *wk_test_tmpdir(void);
/** Read a whole file (malloc'd, NUL-terminated); fails the test when it cannot. */
char *wk_test_read_file(const char *path, size_t *len);

#define WK_TEST(tname)                                                                   \
    static void wk_test_fn_##tname(void);                                                \
    static struct wk_test wk_test_##tname = { #tname, wk_test_fn_##tname, NULL };        \
    __attribute__((constructor)) static void wk_test_reg_##tname(void)                   \
    {                                                                                    \
        wk_test_register(&wk_test_##tname);                                              \
    }                                                                                    \
    static void wk_test_fn_##tname(void)

#define WK_FAIL(...) wk_test_fail(__FILE__, __LINE__, __VA_ARGS__)
#define WK_SKIP(why) wk_test_skip(why)

#define WK_ASSERT(c)                                                                     \
    do {                                                                                 \
        if (!(c))                                                                        \
            WK_FAIL("assertion failed: %s", #c);                                         \
    } while (0)

#define WK_ASSERT_INT_EQ(a, b)                                                           \
    do {                                                                                 \
        long long wk_a_ = (long long)(a), wk_b_ = (long long)(b);                        \
        if (wk_a_ != wk_b_)                                                              \
            WK_FAIL("%s == %s: %lld != %lld", #a, #b, wk_a_, wk_b_);                     \
    } while (0)

#define WK_ASSERT_UINT_EQ(a, b)                                                          \
    do {                                                                                 \
        unsigned long long wk_a_ = (a), wk_b_ = (b);                                     \
        if (wk_a_ != wk_b_)                                                              \
            WK_FAIL("%s == %s: %llu != %llu", #a, #b, wk_a_, wk_b_);                     \
    } while (0)

#define WK_ASSERT_OK(expr)                                                               \
    do {                                                                                 \
        int wk_rc_ = (expr);                                                             \
        if (wk_rc_ < 0)                                                                  \
            WK_FAIL("%s failed: %d", #expr, wk_rc_);                                     \
    } while (0)

#define WK_ASSERT_STR_EQ(a, b)                                                           \
    do {                                                                                 \
        const char *wk_a_ = (a), *wk_b_ = (b);                                           \
        if (!wk_a_ || !wk_b_ || strcmp(wk_a_, wk_b_) != 0)                               \
            WK_FAIL("%s == %s:\n  got:      %s\n  expected: %s", #a, #b,                 \
                    wk_a_ ? wk_a_ : "(null)", wk_b_ ? wk_b_ : "(null)");                 \
    } while (0)

#define WK_ASSERT_MEM_EQ(a, alen, b, blen)                                               \
    do {                                                                                 \
        size_t wk_al_ = (alen), wk_bl_ = (blen);                                         \
        if (wk_al_ != wk_bl_ || memcmp((a), (b), wk_al_) != 0)                           \
            WK_FAIL("%s (%zu bytes) != %s (%zu bytes)", #a, wk_al_, #b, wk_bl_);         \
    } while (0)

#endif
