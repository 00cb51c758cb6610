/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>

#include "watchkeeper/error.h"
#include "wk_test.h"

WK_TEST(strerror_names_every_kind)
{
    WK_ASSERT_STR_EQ(wk_strerror(0), "success");
    WK_ASSERT_STR_EQ(wk_strerror(-ENOENT), "No such file or directory");
    WK_ASSERT_STR_EQ(wk_strerror(WK_EPARSE), "malformed input");
    WK_ASSERT_STR_EQ(wk_strerror(WK_ESTATE), "invalid state");
    WK_ASSERT_STR_EQ(wk_strerror(WK_ERR_END), "unknown error");
    WK_ASSERT_STR_EQ(wk_strerror(5), "unknown error");
    WK_ASSERT(WK_EPARSE < -4096); /* far from errno */
}
