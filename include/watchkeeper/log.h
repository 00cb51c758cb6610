/* SPDX-License-Identifier: Apache-2.0 */
/* Leveled logging to stderr, plain or JSON lines, with repeats rate-limited per call site.
 * Library code logs at debug level at most; the boundary (CLI, daemon) logs once. */
#ifndef WK_LOG_H
#define WK_LOG_H

#include <stdbool.h>

enum wk_log_level { WK_LOG_ERROR = 0, WK_LOG_WARN, WK_LOG_INFO, WK_LOG_DEBUG };

/** Set the threshold (default WK_LOG_INFO) and the format (JSON lines when json). */
void wk_log_setup(enum wk_log_level level, bool json);
/** Parse "error", "warn", "info", "debug". @return 0 or -EINVAL. */
int wk_log_level_parse(const char *s, enum wk_log_level *out);
bool wk_log_enabled(enum wk_log_level level);

/** Log one line. Thread-safe. */
void wk_log(enum wk_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A rate limit for a repeating message: at most `burst` lines per `interval_s`; the count
 * of the rest is logged once the window ends, as "N similar messages suppressed (last
 * shown: LINE)", at the level of that line: at the next log line of any kind, at
 * wk_log_flush(), or at exit, whichever comes first. Keep one per call site (static
 * storage) or per instance: the count outlives the struct (it is kept in log.c).
 */
struct wk_ratelimit {
    int interval_s;
    int burst;
    long long window_start;
    int printed;
};
#define WK_RATELIMIT_INIT(interval, b) { (interval), (b), 0, 0 }
/** @return true when the caller may log now. Thread-safe. */
bool wk_ratelimit_ok(struct wk_ratelimit *rl);
/**
 * Log the suppressed counts whose window has ended (all of them when `all`): the daemon
 * calls it from its housekeeping tick so a count is not held back by a quiet log. Runs
 * by itself at exit. Thread-safe.
 */
void wk_log_flush(bool all);

#define wk_log_error(...) wk_log(WK_LOG_ERROR, __VA_ARGS__)
#define wk_log_warn(...) wk_log(WK_LOG_WARN, __VA_ARGS__)
#define wk_log_info(...) wk_log(WK_LOG_INFO, __VA_ARGS__)
#define wk_log_debug(...)                                                                \
    do {                                                                                 \
        if (wk_log_enabled(WK_LOG_DEBUG))                                                \
            wk_log(WK_LOG_DEBUG, __VA_ARGS__);                                           \
    } while (0)

#endif /* WK_LOG_H */
