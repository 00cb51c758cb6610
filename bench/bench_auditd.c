/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auditd throughput on one core, in one run, over one file (bench/gen_auditd_log.py makes a
 * real-shaped one): two raw limits (lines with their '=' counted, a loop the compiler
 * vectorizes; lines split into key=value spans, the least a tokenizer does), watchkeeper's
 * parser (parse + assemble + decode + normalize + attribute into events), a minimal
 * libauparse loop (events, records, fields), and `ausearch -i --input FILE`. Each runs in
 * its own process so its peak RSS is its own. Usage: bench_auditd FILE [--no-ausearch]
 * (WK_BENCH_ONLY=N runs only part N, for profiling: 0 raw, 1 watchkeeper, 2 auparse,
 * 3 ausearch, 4 raw split; WK_BENCH_PARTS=0,1,4 runs only those parts, e.g. to repeat the
 * ratio to the raw limits without the slow peers. WK_BENCH_REPEAT=N runs each part but ausearch N times, in
 * turn, and keeps each one's fastest run: on a shared machine, the run least disturbed. CPU
 * time (user + system, getrusage) is reported too, the least CPU time of the runs.)
 */
#include "config.h"

#include <auparse.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "watchkeeper/mem.h"
#include "watchkeeper/parser.h"

struct result {
    double secs;
    double cpu; /* user + system CPU seconds: what a shared machine disturbs least */
    uint64_t events;
    long maxrss_kb;
};

static size_t size;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read the file in 1 MiB chunks and call fn on each whole line (as ingest does), so peak
 * memory is the parser's own, not the input's. */
static const char *bench_path;
static void for_lines(void (*fn)(void *, const char *, size_t, uint64_t), void *arg)
{
    int fd = open(bench_path, O_RDONLY);
    size_t cap = 1 << 21, len = 0;
    uint64_t base = 0;
    char *buf = malloc(cap);
    ssize_t n;
    while (buf && (n = read(fd, buf + len, cap - len)) > 0) {
        len += (size_t)n;
        size_t i = 0;
        for (;;) {
            char *nl = memchr(buf + i, '\n', len - i);
            if (!nl)
                break;
            fn(arg, buf + i, (size_t)(nl - (buf + i)), base + i);
            i = (size_t)(nl - buf) + 1;
        }
        memmove(buf, buf + i, len - i);
        len -= i;
        base += i;
        if (len == cap) { /* a line longer than the buffer: drop it */
            len = 0;
        }
    }
    free(buf);
    close(fd);
}

static void raw_line(void *arg, const char *l, size_t len, uint64_t off)
{
    /* the floor any parser pays: find each line, then each key=value pair */
    uint64_t *c = arg;
    (void)off;
    for (size_t i = 0; i < len; i++)
        c[1] += l[i] == '=';
    c[0]++;
}

static uint64_t run_raw(void)
{
    uint64_t c[2] = { 0, 0 };
    for_lines(raw_line, c);
    return c[0] + (c[1] & 0); /* report lines; pairs keep the loop honest */
}

/* The second raw limit: each line split at spaces into tokens, each token with a '=' kept
 * as a (key, value) pair of spans, as any key=value tokenizer must at least do. */
struct span_pair {
    const char *k, *v;
    size_t klen, vlen;
};
struct split_state {
    struct span_pair pairs[512];
    uint64_t lines, npairs, bytes;
};

static void split_line(void *arg, const char *l, size_t len, uint64_t off)
{
    struct split_state *st = arg;
    const char *p = l, *e = l + len;
    size_t n = 0;
    (void)off;
    while (p < e) {
        const char *sp = memchr(p, ' ', (size_t)(e - p));
        const char *te = sp ? sp : e;
        const char *eq = memchr(p, '=', (size_t)(te - p));
        if (eq && n < WK_ARRAY_SIZE(st->pairs)) {
            st->pairs[n++] = (struct span_pair){ p, eq + 1, (size_t)(eq - p),
                                                 (size_t)(te - eq - 1) };
        }
        p = te + 1;
    }
    for (size_t i = 0; i < n; i++) /* use the spans */
        st->bytes += st->pairs[i].klen + st->pairs[i].vlen;
    st->npairs += n;
    st->lines++;
}

static uint64_t run_split(void)
{
    static struct split_state st;
    for_lines(split_line, &st);
    return st.lines + ((st.npairs + st.bytes) & 0);
}

struct wk_run {
    const struct wk_parser_ops *ops;
    struct wk_parser *p;
    struct wk_parser_sink *sink;
    uint64_t lineno;
};

static void wk_line(void *arg, const char *l, size_t len, uint64_t off)
{
    struct wk_run *r = arg;
    struct wk_line_ctx where = { "bench", ++r->lineno, off };
    r->ops->feed_line(r->p, l, len, &where, r->sink);
}

static int count_emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    (void)ev;
    (void)resume;
    ++*(uint64_t *)(s + 1);
    return 0;
}

static int count_reject(struct wk_parser_sink *s, const struct wk_line_ctx *w, const char *r,
                        const char *raw, size_t len)
{
    (void)s, (void)w, (void)r, (void)raw, (void)len;
    return 0;
}

static uint64_t run_wk(void)
{
    struct {
        struct wk_parser_sink sink;
        uint64_t n;
    } c = { { count_emit, count_reject }, 0 };
    const struct wk_parser_ops *ops = wk_parser_find("auditd");
    struct wk_parser_opts opts;
    struct wk_parser *p;
    wk_parser_opts_init(&opts);
    if (ops->create(&p, &opts) < 0)
        exit(1);
    struct wk_run r = { ops, p, &c.sink, 0 };
    for_lines(wk_line, &r);
    ops->flush(p, &c.sink);
    ops->destroy(p);
    return c.n;
}

static uint64_t run_auparse(const char *path)
{
    uint64_t n = 0, fields = 0;
    auparse_state_t *au = auparse_init(AUSOURCE_FILE, path);
    if (!au)
        exit(1);
    while (auparse_next_event(au) > 0) {
        n++;
        do {
            if (auparse_first_field(au) > 0) {
                do {
                    fields += auparse_get_field_str(au) != NULL;
                } while (auparse_next_field(au) > 0);
            }
        } while (auparse_next_record(au) > 0);
    }
    auparse_destroy(au);
    return n + (fields & 0);
}

static uint64_t run_ausearch(const char *path)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "ausearch -i --input '%s' >/dev/null 2>&1", path);
    int rc = system(cmd);
    return rc >= 0 ? 1 : 0;
}

static struct result measure(int which, const char *path)
{
    int fds[2];
    struct result r = { 0 };
    if (pipe(fds) < 0)
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        double t0 = now();
        uint64_t n = which == 0   ? run_raw()
                     : which == 1 ? run_wk()
                     : which == 2 ? run_auparse(path)
                     : which == 3 ? run_ausearch(path)
                                  : run_split();
        r.secs = now() - t0;
        r.events = n;
        struct rusage ru;
        getrusage(which == 3 ? RUSAGE_CHILDREN : RUSAGE_SELF, &ru);
        r.maxrss_kb = ru.ru_maxrss;
        r.cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        if (write(fds[1], &r, sizeof(r)) != sizeof(r))
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    if (read(fds[0], &r, sizeof(r)) != sizeof(r))
        fprintf(stderr, "bench: child %d failed\n", which);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    return r;
}

/* The summary line: ours against the raw loops and the peers, by wall or by CPU time
 * (res: 0 the '=' count, 1 ours, 2 libauparse, 3 ausearch, 4 the k=v split). */
static void shares(const struct result *res, bool cpu)
{
    double v[5];
    for (int i = 0; i < 5; i++)
        v[i] = cpu ? res[i].cpu : res[i].secs;
    printf("%sours = %.0f%% of the raw limit%s, %.0f%% of the raw split%s", cpu ? "by CPU time: " : "",
           100.0 * v[0] / v[1], cpu ? "" : " ('=' count)", v[4] > 0 ? 100.0 * v[4] / v[1] : 0.0,
           cpu ? "" : " (k=v spans)");
    if (v[2] > 0)
        printf(cpu ? "; %.1fx the libauparse loop" : "; %.1fx faster than the libauparse loop",
               v[2] / v[1]);
    if (v[3] > 0)
        printf(cpu ? "; %.1fx ausearch -i" : "; %.1fx faster than ausearch -i", v[3] / v[1]);
    printf("\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_auditd FILE [--no-ausearch]\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        perror(argv[1]);
        return 3;
    }
    size = (size_t)st.st_size;
    bench_path = argv[1];
    close(fd);
    bool ausearch = !(argc > 2 && strcmp(argv[2], "--no-ausearch") == 0);
    static const char *const names[] = { "raw limit (lines, '=' count)", "watchkeeper auditd",
                                         "libauparse loop", "ausearch -i",
                                         "raw split (k=v spans)" };
    struct result res[5];
    double mb = (double)size / (1 << 20);
    const char *rep_env = getenv("WK_BENCH_REPEAT");
    int repeat = rep_env && atoi(rep_env) > 0 ? atoi(rep_env) : 1;
    for (int r = 0; r < repeat; r++) {
        for (int w = 0; w < 5; w++) {
            const char *only = getenv("WK_BENCH_ONLY"); /* profiling one part: 0..4 */
            const char *parts = getenv("WK_BENCH_PARTS");
            if ((w == 3 && (!ausearch || r > 0)) || (only && atoi(only) != w) ||
                (parts && !strchr(parts, '0' + w))) {
                if (r == 0) {
                    res[w].secs = 0;
                    res[w].events = 0;
                }
                continue;
            }
            struct result x = measure(w, argv[1]);
            if (r == 0 || x.secs < res[w].secs) {
                double best_cpu = r == 0 ? x.cpu : res[w].cpu;
                res[w] = x;
                res[w].cpu = x.cpu < best_cpu ? x.cpu : best_cpu;
            } else if (x.cpu < res[w].cpu) {
                res[w].cpu = x.cpu;
            }
        }
    }
    uint64_t events = res[1].events;
    printf("file %s: %.1f MiB, %llu events (watchkeeper's count), best of %d\n", argv[1], mb,
           (unsigned long long)events, repeat);
    printf("%-29s %9s %10s %12s %11s %9s %9s\n", "", "seconds", "MiB/s", "events/s", "vs ours", "maxRSS",
           "CPU s");
    static const int order[] = { 0, 4, 1, 2, 3 };
    for (int o = 0; o < 5; o++) {
        int w = order[o];
        if (res[w].secs <= 0)
            continue;
        printf("%-29s %9.2f %10.1f %12.0f %10.2fx %7ld MB %9.2f\n", names[w], res[w].secs,
               mb / res[w].secs, (double)events / res[w].secs, res[w].secs / res[1].secs,
               res[w].maxrss_kb / 1024, res[w].cpu);
    }
    if (res[1].secs <= 0 || res[0].secs <= 0)
        return 0;
    shares(res, false);
    if (res[1].cpu > 0 && res[0].cpu > 0)
        shares(res, true);
    return 0;
}
