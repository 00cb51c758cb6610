/* SPDX-License-Identifier: Apache-2.0 */
#ifndef WK_VERSION_H
#define WK_VERSION_H

/** The version string ("0.1.0"), set by the build. */
const char *wk_version(void);

#endif /* WK_VERSION_H */
