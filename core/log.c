/* SPDX-License-Identifier: Apache-2.0 */
/* Leveled logging to stderr (journald reads it), plain or JSON lines; rate limits. */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "watchkeeper/log.h"
#include "watchkeeper/timefmt.h"

static enum wk_log_level log_threshold = WK_LOG_INFO;
static bool log_json;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void wk_log_setup(enum wk_log_level level, bool json)
{
    log_threshold = level;
    log_json = json;
}

int wk_log_level_parse(const char *s, enum wk_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum wk_log_level)i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = WK_LOG_WARN;
        return 0;
    }
    return -EINVAL;
}

bool wk_log_enabled(enum wk_log_level level)
{
    return level <= log_threshold;
}

void wk_log(enum wk_log_level level, const char *fmt, ...)
{
    if (!wk_log_enabled(level))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&log_lock);
    if (log_json) {
        char ts[WK_RFC3339_MAX];
        wk_time_format(wk_time_now_ns(), ts);
        json_t *o = json_pack("{s:s, s:s, s:s}", "@timestamp", ts, "log.level",
                              level_names[level], "message", msg);
        if (o) {
            (void)json_dumpf(o, stderr, JSON_COMPACT);
            json_decref(o);
        }
        fputc('\n', stderr);
    } else {
        fprintf(stderr, "watchkeeper: %s: %s\n", level_names[level], msg);
    }
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

bool wk_ratelimit_ok(struct wk_ratelimit *rl)
{
    long long now = (long long)(wk_time_mono_ns() / WK_NS_PER_SEC);
    if (now - rl->window_start >= rl->interval_s) {
        if (rl->suppressed)
            wk_log(WK_LOG_WARN, "%lu similar messages suppressed", rl->suppressed);
        rl->window_start = now;
        rl->printed = 0;
        rl->suppressed = 0;
    }
    if (rl->printed < rl->burst) {
        rl->printed++;
        return true;
    }
    rl->suppressed++;
    return false;
}
