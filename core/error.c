/* SPDX-License-Identifier: Apache-2.0 */
/* wk_strerror(): one table for errno and project codes. */
#include "config.h"

#include <string.h>

#include "watchkeeper/error.h"

#define WK_ERR_MSG_(name, msg) msg,
static const char *const wk_err_msgs[] = { WK_ERR_MAP(WK_ERR_MSG_) };
#undef WK_ERR_MSG_

const char *wk_strerror(int err)
{
    if (err == 0)
        return "success";
    if (err > WK_ERR_BASE && err < WK_ERR_END)
        return wk_err_msgs[err - WK_ERR_BASE - 1];
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown error";
}
