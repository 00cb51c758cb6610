/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "watchkeeper/version.h"

const char *wk_version(void)
{
    return WK_VERSION;
}
