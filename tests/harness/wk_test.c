/* SPDX-License-Identifier: Apache-2.0 */
/* Test runner: fork per test, timeout, TAP output, temp dirs, CI skip policy. */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wk_test.h"

#ifndef WK_TEST_SRCDIR
#error "WK_TEST_SRCDIR must be defined by the build"
#endif

static struct wk_test *tests_head, **tests_tail = &tests_head;
static char tmpdir[4096];

void wk_test_register(struct wk_test *t)
{
    *tests_tail = t;
    tests_tail = &t->next;
}

void wk_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    _exit(1);
}

void wk_test_skip(const char *why)
{
    const char *ci = getenv("CI");
    if (ci && strcmp(ci, "true") == 0) {
        fprintf(stderr, "SKIP is a failure with CI=true: %s\n", why);
        _exit(1);
    }
    fprintf(stderr, "skip: %s\n", why);
    fflush(stderr);
    _exit(77);
}

const char *wk_test_srcdir(void)
{
    return WK_TEST_SRCDIR;
}

const char *wk_test_corpus(void)
{
    static char path[4096];
    const char *env = getenv("WK_CORPUS");
    if (env)
        return env;
    snprintf(path, sizeof(path), "%s/../shared/corpus", WK_TEST_SRCDIR);
    return path;
}

const char *wk_test_tmpdir(void)
{
    return tmpdir;
}

char *wk_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        WK_FAIL("cannot open %s: %s", path, strerror(errno));
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    fclose(f);
    if (!buf)
        WK_FAIL("out of memory reading %s", path);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int run_one(struct wk_test *t, int timeout_s)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/wk-test-%s-XXXXXX", t->name);
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        alarm((unsigned)timeout_s);
        t->fn();
        fflush(stdout);
        fflush(stderr);
        _exit(0);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int rc;
    if (WIFEXITED(st)) {
        rc = WEXITSTATUS(st);
    } else {
        fprintf(stderr, "test %s killed by signal %d%s\n", t->name, WTERMSIG(st),
                WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
        rc = 1;
    }
    if (rc == 0 || rc == 77)
        nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    else
        fprintf(stderr, "test %s left its files in %s\n", t->name, tmpdir);
    return rc;
}

int main(int argc, char **argv)
{
    int timeout_s = 60;
    const char *env = getenv("WK_TEST_TIMEOUT");
    if (env)
        timeout_s = atoi(env);
    int n = 0;
    for (struct wk_test *t = tests_head; t; t = t->next) {
        if (argc > 1 && strcmp(argv[1], t->name) != 0)
            continue;
        n++;
    }
    printf("1..%d\n", n);
    int i = 0, failed = 0;
    for (struct wk_test *t = tests_head; t; t = t->next) {
        if (argc > 1 && strcmp(argv[1], t->name) != 0)
            continue;
        int rc = run_one(t, timeout_s);
        i++;
        if (rc == 77)
            printf("ok %d - %s # SKIP\n", i, t->name);
        else if (rc == 0)
            printf("ok %d - %s\n", i, t->name);
        else {
            printf("not ok %d - %s\n", i, t->name);
            failed++;
        }
        fflush(stdout);
    }
    if (n == 0 && argc > 1) {
        fprintf(stderr, "no test named %s\n", argv[1]);
        return 1;
    }
    return failed ? 1 : 0;
}
