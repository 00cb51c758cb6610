/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error codes. Functions return 0 on success, a negative errno (-EINVAL, -ENOMEM, ...) or a
 * project code below WK_ERR_BASE. wk_strerror() names either kind.
 */
#ifndef WK_ERROR_H
#define WK_ERROR_H

/* One list: the enum and the messages both expand it. Append only (values are stable). */
#define WK_ERR_MAP(X)                                                                    \
    X(PARSE, "malformed input")                                                          \
    X(LIMIT, "limit reached")                                                            \
    X(VERSION, "unsupported version")                                                    \
    X(CORRUPT, "data corrupted")                                                         \
    X(CHAIN, "integrity chain broken")                                                   \
    X(RULE_SYNTAX, "rule syntax error")                                                  \
    X(UNSUPPORTED, "unsupported feature")                                                \
    X(MAP_FULL, "store map size ceiling reached")                                        \
    X(NOT_FOUND, "not found")                                                            \
    X(UTF8, "invalid UTF-8")                                                             \
    X(STATE, "invalid state")                                                            \
    X(RANGE_TIME, "time outside 1677-09-21..2262-04-11")                                 \
    X(REBUILD, "stored with another rebuild version: cannot be read or checked here")

#define WK_ERR_ENUM_(name, msg) WK_E##name,
enum wk_error {
    WK_ERR_BASE = -10000,
    WK_ERR_MAP(WK_ERR_ENUM_) WK_ERR_END
};
#undef WK_ERR_ENUM_

/**
 * Describe an error code.
 * @param[in] err 0, a negative errno or a WK_E* code.
 * @return a static string, never NULL. Thread-safe.
 */
const char *wk_strerror(int err);

#endif /* WK_ERROR_H */
