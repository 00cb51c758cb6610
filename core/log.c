/* SPDX-License-Identifier: Apache-2.0 */
/* Leveled logging to stderr (journald reads it), plain or JSON lines; rate limits.
 * A rate limit's suppressed count is kept in a small table here, not in the caller's
 * struct, so that it can be reported when its window ends (at the next log line of any
 * kind, at wk_log_flush() from the daemon's tick, and at exit) even after the struct is
 * gone (sources embed theirs and are freed on reload). */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "watchkeeper/log.h"
#include "watchkeeper/timefmt.h"

static enum wk_log_level log_threshold = WK_LOG_INFO;
static bool log_json;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

/*
 * Suppressed counts waiting for their window to end. The key is the limit's address, only
 * compared, never dereferenced: a freed limit's count is still reported, and a new limit
 * at the same address reports it when it starts its first window. Lock order: rl_lock,
 * then log_lock.
 */
#define PENDING_MAX 64
struct pending {
    const struct wk_ratelimit *key;
    long long window_end; /* mono s */
    unsigned long count;
    enum wk_log_level level;
    char last[160]; /* the last line this limit let through */
};
static struct pending pending[PENDING_MAX];
static size_t npending;            /* under rl_lock; read without it as a hint */
static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;
/* So that a count can say what it counts: the limit whose caller is about to log
 * (wk_ratelimit_ok said yes on this thread), and the last line logged after such a yes,
 * with that limit as its key (compared only). */
static _Thread_local const struct wk_ratelimit *armed, *shown_key;
static _Thread_local char shown[160];
static _Thread_local enum wk_log_level shown_level;

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

/* One line, no flushing of suppressed counts (they are printed through here). */
static void emit(enum wk_log_level level, const char *msg)
{
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

static long long mono_s(void)
{
    return (long long)(wk_time_mono_ns() / WK_NS_PER_SEC);
}

/* Under rl_lock: report entry i and remove it. */
static void report(size_t i)
{
    struct pending p = pending[i];
    size_t n = npending - 1;
    pending[i] = pending[n];
    __atomic_store_n(&npending, n, __ATOMIC_RELAXED);
    if (!wk_log_enabled(p.level))
        return;
    char msg[256];
    if (p.last[0])
        snprintf(msg, sizeof(msg), "%lu similar messages suppressed (last shown: %s)", p.count,
                 p.last);
    else
        snprintf(msg, sizeof(msg), "%lu similar messages suppressed", p.count);
    emit(p.level, msg);
}

/* Under rl_lock: the index of key's entry, or npending. */
static size_t find(const struct wk_ratelimit *key)
{
    size_t i = 0;
    while (i < npending && pending[i].key != key)
        i++;
    return i;
}

static void flush_at_exit(void)
{
    wk_log_flush(true);
}

static void register_atexit(void)
{
    (void)atexit(flush_at_exit);
}

void wk_log_flush(bool all)
{
    if (__atomic_load_n(&npending, __ATOMIC_RELAXED) == 0)
        return;
    pthread_mutex_lock(&rl_lock);
    long long now = mono_s();
    for (size_t i = 0; i < npending;) {
        if (all || now >= pending[i].window_end)
            report(i); /* moves the last entry to i */
        else
            i++;
    }
    pthread_mutex_unlock(&rl_lock);
}

void wk_log(enum wk_log_level level, const char *fmt, ...)
{
    const struct wk_ratelimit *rl = armed;
    armed = NULL;
    if (!wk_log_enabled(level))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* Counts of windows that ended go before this line: they happened first. */
    wk_log_flush(false);
    if (rl) {
        shown_key = rl;
        shown_level = level;
        snprintf(shown, sizeof(shown), "%.159s", msg);
    }
    emit(level, msg);
}

bool wk_ratelimit_ok(struct wk_ratelimit *rl)
{
    bool ok;
    armed = NULL;
    pthread_mutex_lock(&rl_lock);
    long long now = mono_s();
    if (now - rl->window_start >= rl->interval_s) {
        size_t i = find(rl);
        if (i < npending)
            report(i);
        rl->window_start = now;
        rl->printed = 0;
    }
    ok = rl->printed < rl->burst;
    if (ok) {
        rl->printed++;
    } else {
        size_t i = find(rl);
        if (i == npending && npending == PENDING_MAX) {
            /* Full: report the oldest window early rather than lose a count. */
            size_t old = 0;
            for (size_t j = 1; j < npending; j++)
                if (pending[j].window_end < pending[old].window_end)
                    old = j;
            report(old);
            i = npending;
        }
        if (i == npending) {
            bool known = shown_key == rl;
            pending[i] = (struct pending){ .key = rl,
                                           .window_end = rl->window_start + rl->interval_s,
                                           .level = known ? shown_level : WK_LOG_WARN };
            if (known)
                snprintf(pending[i].last, sizeof(pending[i].last), "%s", shown);
            __atomic_store_n(&npending, npending + 1, __ATOMIC_RELAXED);
            (void)pthread_once(&atexit_once, register_atexit);
        }
        pending[i].count++;
    }
    pthread_mutex_unlock(&rl_lock);
    armed = ok ? rl : NULL;
    return ok;
}
