/* SPDX-License-Identifier: Apache-2.0 */
/* core/log.c: the level filter, the plain and JSON line shapes, and rate limits whose
 * suppressed count is logged when the window ends (next line, flush, exit), exactly. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "watchkeeper/log.h"
#include "watchkeeper/timefmt.h"
#include "wk_test.h"

static char errpath[4096];

/* Send stderr to a fresh file in the test's directory. */
static void capture(void)
{
    snprintf(errpath, sizeof(errpath), "%s/stderr", wk_test_tmpdir());
    int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    WK_ASSERT(fd >= 0);
    fflush(stderr);
    WK_ASSERT(dup2(fd, 2) == 2);
    close(fd);
}

/* What stderr got since capture(); the file is emptied for the next look. */
static char *captured(void)
{
    fflush(stderr);
    char *s = wk_test_read_file(errpath, NULL);
    WK_ASSERT(ftruncate(2, 0) == 0);
    WK_ASSERT(lseek(2, 0, SEEK_SET) == 0);
    return s;
}

static void expect(const char *want)
{
    char *got = captured();
    WK_ASSERT_STR_EQ(got, want);
    free(got);
}

/* Sleep until the monotonic clock enters its next whole second: a window of 1 s started
 * before has then ended (windows are counted in whole seconds). */
static void next_second(void)
{
    int64_t s = wk_time_mono_ns() / WK_NS_PER_SEC;
    while (wk_time_mono_ns() / WK_NS_PER_SEC == s) {
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

/* n repeats through rl, each logged when allowed: "repeat 1".."repeat n". */
static void repeats(struct wk_ratelimit *rl, int n)
{
    for (int i = 1; i <= n; i++)
        if (wk_ratelimit_ok(rl))
            wk_log_warn("repeat %d", i);
}

WK_TEST(level_filter)
{
    capture();
    wk_log_setup(WK_LOG_INFO, false);
    wk_log_debug("d1");
    wk_log(WK_LOG_DEBUG, "d2");
    wk_log_info("i");
    wk_log_warn("w");
    wk_log_error("e");
    expect("watchkeeper: info: i\nwatchkeeper: warn: w\nwatchkeeper: error: e\n");
    wk_log_setup(WK_LOG_DEBUG, false);
    wk_log_debug("d1");
    wk_log(WK_LOG_DEBUG, "d2");
    wk_log_info("i");
    expect("watchkeeper: debug: d1\nwatchkeeper: debug: d2\nwatchkeeper: info: i\n");
    wk_log_setup(WK_LOG_ERROR, false);
    wk_log_info("i");
    wk_log_warn("w");
    wk_log_error("e");
    expect("watchkeeper: error: e\n");
    enum wk_log_level l;
    WK_ASSERT_OK(wk_log_level_parse("warning", &l));
    WK_ASSERT_INT_EQ(l, WK_LOG_WARN);
    WK_ASSERT_INT_EQ(wk_log_level_parse("verbose", &l), -EINVAL);
}

WK_TEST(json_line_shape)
{
    capture();
    wk_log_setup(WK_LOG_INFO, true);
    int64_t before = wk_time_now_ns();
    wk_log_info("a \"quoted\"\tline");
    wk_log_debug("hidden");
    char *got = captured();
    /* One line, three keys in this order; the timestamp is RFC 3339 UTC, now. */
    const char *head = "{\"@timestamp\":\"";
    WK_ASSERT(strncmp(got, head, strlen(head)) == 0);
    const char *tail = "\",\"log.level\":\"info\",\"message\":\"a \\\"quoted\\\"\\tline\"}\n";
    char *ts_end = strstr(got, tail);
    WK_ASSERT(ts_end != NULL);
    WK_ASSERT_STR_EQ(ts_end, tail);
    json_t *o = json_loads(got, 0, NULL);
    WK_ASSERT(o && json_object_size(o) == 3);
    const char *ts = json_string_value(json_object_get(o, "@timestamp"));
    WK_ASSERT(ts && ts[strlen(ts) - 1] == 'Z');
    int64_t ns;
    WK_ASSERT_OK(wk_time_parse(ts, strlen(ts), &ns));
    WK_ASSERT(ns >= before - WK_NS_PER_SEC && ns <= wk_time_now_ns() + WK_NS_PER_SEC);
    WK_ASSERT_STR_EQ(json_string_value(json_object_get(o, "message")), "a \"quoted\"\tline");
    json_decref(o);
    free(got);
}

WK_TEST(suppressed_count_at_next_line_of_any_kind)
{
    capture();
    wk_log_setup(WK_LOG_INFO, false);
    next_second();
    struct wk_ratelimit rl = WK_RATELIMIT_INIT(1, 2);
    repeats(&rl, 7);
    wk_log_info("other"); /* the window is still open: no count yet */
    expect("watchkeeper: warn: repeat 1\nwatchkeeper: warn: repeat 2\nwatchkeeper: info: other\n");
    next_second();
    wk_log_info("later");
    expect("watchkeeper: warn: 5 similar messages suppressed (last shown: repeat 2)\n"
           "watchkeeper: info: later\n");
    /* Reported once; a new window lets `burst` through again. */
    repeats(&rl, 3);
    expect("watchkeeper: warn: repeat 1\nwatchkeeper: warn: repeat 2\n");
    next_second();
    repeats(&rl, 1); /* the limit's own next call reports its previous window first */
    expect("watchkeeper: warn: 1 similar messages suppressed (last shown: repeat 2)\n"
           "watchkeeper: warn: repeat 1\n");
}

WK_TEST(suppressed_count_at_flush_when_quiet)
{
    capture();
    wk_log_setup(WK_LOG_INFO, false);
    next_second();
    static struct wk_ratelimit a = WK_RATELIMIT_INIT(1, 1), b = WK_RATELIMIT_INIT(60, 1);
    repeats(&a, 4);
    repeats(&b, 3);
    wk_log_flush(false); /* a's window has not ended */
    expect("watchkeeper: warn: repeat 1\nwatchkeeper: warn: repeat 1\n");
    next_second();
    wk_log_flush(false); /* a's has, b's (60 s) not */
    expect("watchkeeper: warn: 3 similar messages suppressed (last shown: repeat 1)\n");
    wk_log_flush(false);
    expect("");
    wk_log_flush(true);
    expect("watchkeeper: warn: 2 similar messages suppressed (last shown: repeat 1)\n");
}

WK_TEST(suppressed_count_of_a_freed_limit)
{
    capture();
    wk_log_setup(WK_LOG_INFO, false);
    struct wk_ratelimit *rl = malloc(sizeof(*rl));
    WK_ASSERT(rl);
    *rl = (struct wk_ratelimit)WK_RATELIMIT_INIT(60, 1);
    repeats(rl, 4);
    free(rl); /* a source freed on reload: its count is still reported (ASan: no use) */
    wk_log_flush(true);
    expect("watchkeeper: warn: repeat 1\n"
           "watchkeeper: warn: 3 similar messages suppressed (last shown: repeat 1)\n");
}

WK_TEST(suppressed_count_at_exit)
{
    capture();
    pid_t pid = fork();
    WK_ASSERT(pid >= 0);
    if (pid == 0) {
        wk_log_setup(WK_LOG_INFO, true);
        static struct wk_ratelimit rl = WK_RATELIMIT_INIT(3600, 1);
        repeats(&rl, 10);
        exit(0);
    }
    int st;
    WK_ASSERT(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *got = captured();
    char *nl = strchr(got, '\n');
    WK_ASSERT(nl && strchr(nl + 1, '\n') && strchr(nl + 1, '\n')[1] == '\0');
    json_t *o = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, NULL);
    WK_ASSERT(o);
    WK_ASSERT_STR_EQ(json_string_value(json_object_get(o, "log.level")), "warn");
    WK_ASSERT_STR_EQ(json_string_value(json_object_get(o, "message")),
                     "9 similar messages suppressed (last shown: repeat 1)");
    json_decref(o);
    free(got);
}
