/* SPDX-License-Identifier: Apache-2.0 */
/* Time: nanosecond timestamps, RFC 3339 printing and parsing, and the relative forms the
 * CLI accepts ("-1h", "2d", "now"). */
#ifndef WK_TIMEFMT_H
#define WK_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define WK_NS_PER_SEC INT64_C(1000000000)
#define WK_RFC3339_MAX 40

/** Wall-clock time now, ns since the epoch. */
int64_t wk_time_now_ns(void);
/** Monotonic time, ns. */
int64_t wk_time_mono_ns(void);

/**
 * Format ns since the epoch as "YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ" (UTC, 9 digits).
 * @param[out] buf at least WK_RFC3339_MAX bytes. @return the length written.
 */
size_t wk_time_format(int64_t ns, char *buf);

/**
 * Parse RFC 3339 ("2024-01-02T03:04:05Z", fractions of 1 to 9 digits, "Z" or "+hh:mm",
 * "t"/" " separator accepted) into ns since the epoch.
 * @return 0, WK_EPARSE, or WK_ERANGE_TIME (outside what int64 ns can hold).
 */
int wk_time_parse(const char *s, size_t len, int64_t *out);

/**
 * Parse a user-given time: RFC 3339, a date "YYYY-MM-DD" (midnight UTC), "now", a
 * duration ago ("-90s", "1h", "2d", "1w": s m h d w; leading '-' optional), or "@SECS"
 * (Unix seconds with optional fraction).
 * @param[in] now_ns the reference for relative forms. @return 0, WK_EPARSE, WK_ERANGE_TIME.
 */
int wk_time_parse_user(const char *s, int64_t now_ns, int64_t *out);

#endif /* WK_TIMEFMT_H */
