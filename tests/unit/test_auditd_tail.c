/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The auditd live sources on a real libuv loop with a collecting sink: the log tailer
 * follows rotation by rename (finishing the rotated file first), resumes from a stored
 * cursor in a rotated file, and survives back-pressure without loss or duplicates; the
 * audisp reader takes records from a pipe.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "watchkeeper/mem.h"
#include "watchkeeper/option.h"
#include "watchkeeper/source.h"
#include "wk_test.h"

struct csink {
    struct wk_source_sink sink;
    uint64_t serials[1024];
    size_t origlen[1024]; /* length of each event's event.original */
    int n;
    uint8_t cursor[256];
    size_t cursor_len;
    int refuse_every; /* -EAGAIN on every Nth submission */
    int calls;
    struct wk_source *src;
    int gaps;
    int64_t gap_count;
};

static int cs_submit(struct wk_source_sink *s, struct wk_source *src, const struct wk_event *ev,
                     const void *cursor, size_t cursor_len)
{
    struct csink *c = (struct csink *)s;
    (void)src;
    c->calls++;
    if (c->refuse_every && c->calls % c->refuse_every == 0)
        return -EAGAIN;
    struct wk_key ks = wk_key_init("auditd.serial"), kk = wk_key_init("event.kind");
    const struct wk_value *v = wk_event_get(ev, 0, &ks);
    const struct wk_value *k = wk_event_get(ev, 0, &kk);
    if (k && strcmp(k->u.s, "gap") == 0 && !v) {
        struct wk_key kc = wk_key_init("gap.count");
        c->gaps++;
        c->gap_count += wk_event_get(ev, 0, &kc)->u.i;
        return 0;
    }
    if (c->n < 1024) {
        struct wk_key ko = wk_key_init("event.original");
        const struct wk_value *o = wk_event_get(ev, 0, &ko);
        c->origlen[c->n] = o ? strlen(o->u.s) : 0;
        c->serials[c->n++] = v ? (uint64_t)v->u.i : 0;
    }
    if (cursor_len && cursor_len <= sizeof(c->cursor)) {
        memcpy(c->cursor, cursor, cursor_len);
        c->cursor_len = cursor_len;
    }
    return 0;
}

static int cs_reject(struct wk_source_sink *s, struct wk_source *src, const char *reason,
                     const char *raw, size_t len)
{
    (void)s;
    (void)src;
    (void)raw;
    (void)len;
    fprintf(stderr, "reject: %s\n", reason);
    return 0;
}

static void append(const char *path, uint64_t serial)
{
    FILE *f = fopen(path, "a");
    WK_ASSERT(f != NULL);
    fprintf(f,
            "type=SYSCALL msg=audit(1700000000.%03u:%llu): arch=c000003e syscall=59 success=yes "
            "exit=0 a0=1 a1=2 a2=3 a3=4 items=0 ppid=1 pid=%llu auid=0 uid=0 gid=0 euid=0 "
            "suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"x\" exe=\"/bin/x\" "
            "key=(null)\n"
            "type=EXECVE msg=audit(1700000000.%03u:%llu): argc=1 a0=\"x\"\n"
            "type=EOE msg=audit(1700000000.%03u:%llu): \n",
            (unsigned)(serial % 1000), (unsigned long long)serial,
            (unsigned long long)serial + 1000, (unsigned)(serial % 1000),
            (unsigned long long)serial, (unsigned)(serial % 1000), (unsigned long long)serial);
    fclose(f);
}

struct run {
    uv_loop_t loop;
    const struct wk_source_ops *ops;
    void *cfg;
    struct wk_source *src;
    struct csink cs;
    char path[512];
    int step;
    uv_timer_t t;
};

static void make(struct run *r, const char *name)
{
    r->ops = wk_source_find(name);
    WK_ASSERT(r->ops != NULL);
    r->cfg = calloc(1, r->ops->config_size);
    WK_ASSERT_OK(wk_options_defaults(r->ops->options, r->cfg));
    r->cs.sink.submit = cs_submit;
    r->cs.sink.reject = cs_reject;
    uv_loop_init(&r->loop);
}

static void start(struct run *r, const void *cursor, size_t len)
{
    WK_ASSERT_OK(r->ops->create(&r->src, r->cfg));
    struct wk_source_base *b = (struct wk_source_base *)r->src;
    b->ops = r->ops;
    b->instance = "auditd";
    b->sink = &r->cs.sink;
    b->loop = &r->loop;
    r->cs.src = r->src;
    WK_ASSERT_OK(r->ops->start(r->src, cursor, len));
}

static void stopped(struct wk_source *src)
{
    (void)src;
}

static void finish(struct run *r)
{
    r->ops->stop(r->src, stopped);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    r->ops->destroy(r->src);
    WK_ASSERT_INT_EQ(uv_loop_close(&r->loop), 0);
    wk_options_fini(r->ops->options, r->cfg);
    free(r->cfg);
}

static void run_ms(struct run *r, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        uv_run(&r->loop, UV_RUN_NOWAIT);
        usleep(10000);
        if (r->cs.refuse_every && r->cs.calls % r->cs.refuse_every == 0)
            r->ops->resume(r->src);
    }
}

static void setup_tail(struct run *r)
{
    const char *err;
    make(r, "auditd");
    snprintf(r->path, sizeof(r->path), "%s/audit.log", wk_test_tmpdir());
    WK_ASSERT_OK(wk_option_set(r->ops->options, r->cfg, "path", r->path, &err));
    WK_ASSERT_OK(wk_option_set(r->ops->options, r->cfg, "poll", "10ms", &err));
    WK_ASSERT_OK(wk_option_set(r->ops->options, r->cfg, "read_proc", "false", &err));
}

static void expect_serials(struct csink *c, uint64_t from, uint64_t to)
{
    WK_ASSERT_INT_EQ(c->n, (int)(to - from + 1));
    for (int i = 0; i < c->n; i++)
        WK_ASSERT_UINT_EQ(c->serials[i], from + (uint64_t)i);
}

WK_TEST(tail_follows_rotation_finishing_the_old_file)
{
    struct run r = { 0 };
    setup_tail(&r);
    append(r.path, 1);
    append(r.path, 2);
    start(&r, NULL, 0);
    run_ms(&r, 100);
    WK_ASSERT_INT_EQ(r.cs.n, 2);
    /* auditd rotates: rename, keeps writing the old file a moment, then a new one */
    char rot[600];
    snprintf(rot, sizeof(rot), "%s.1", r.path);
    WK_ASSERT_OK(rename(r.path, rot));
    append(rot, 3);
    append(r.path, 4);
    run_ms(&r, 150);
    append(r.path, 5);
    run_ms(&r, 100);
    expect_serials(&r.cs, 1, 5);
    finish(&r);
}

WK_TEST(tail_resumes_from_cursor_in_a_rotated_file)
{
    struct run r = { 0 };
    setup_tail(&r);
    append(r.path, 1);
    append(r.path, 2);
    start(&r, NULL, 0);
    run_ms(&r, 100);
    uint8_t cur[256];
    size_t curlen = r.cs.cursor_len;
    memcpy(cur, r.cs.cursor, curlen);
    finish(&r);
    WK_ASSERT_INT_EQ(r.cs.n, 2);

    /* while we were down: more records, two rotations */
    char p1[600], p2[600];
    snprintf(p1, sizeof(p1), "%s.1", r.path);
    snprintf(p2, sizeof(p2), "%s.2", r.path);
    append(r.path, 3);
    WK_ASSERT_OK(rename(r.path, p1));
    append(r.path, 4);
    WK_ASSERT_OK(rename(p1, p2));
    WK_ASSERT_OK(rename(r.path, p1));
    append(r.path, 5);

    struct run r2 = { 0 };
    setup_tail(&r2);
    start(&r2, cur, curlen);
    run_ms(&r2, 200);
    expect_serials(&r2.cs, 3, 5);
    finish(&r2);
}

WK_TEST(tail_back_pressure_loses_nothing)
{
    struct run r = { 0 };
    setup_tail(&r);
    for (uint64_t s = 1; s <= 50; s++)
        append(r.path, s);
    r.cs.refuse_every = 3;
    start(&r, NULL, 0);
    run_ms(&r, 1500);
    expect_serials(&r.cs, 1, 50);
    finish(&r);
}

/* Refusals leave the rest of a read in the buffer (fed from where the pause stopped, moved
 * out at the next read): lines appended meanwhile are read after it, each event once and in
 * order, and the last cursor's offset is the end of the file (nothing held). */
WK_TEST(tail_back_pressure_then_appends_keeps_order_and_offsets)
{
    struct run r = { 0 };
    setup_tail(&r);
    for (uint64_t s = 1; s <= 40; s++)
        append(r.path, s);
    r.cs.refuse_every = 2;
    start(&r, NULL, 0);
    run_ms(&r, 300);
    for (uint64_t s = 41; s <= 90; s++)
        append(r.path, s);
    run_ms(&r, 1500);
    expect_serials(&r.cs, 1, 90);
    struct stat st;
    WK_ASSERT_INT_EQ(stat(r.path, &st), 0);
    WK_ASSERT(r.cs.cursor_len >= 16);
    uint64_t ino = 0, off = 0;
    for (int b = 7; b >= 0; b--) {
        ino = ino << 8 | r.cs.cursor[b];
        off = off << 8 | r.cs.cursor[8 + b];
    }
    WK_ASSERT_UINT_EQ(ino, (uint64_t)st.st_ino);
    WK_ASSERT_UINT_EQ(off, (uint64_t)st.st_size);
    finish(&r);
}

WK_TEST(audisp_reads_records_from_a_pipe)
{
    struct run r = { 0 };
    const char *err;
    int fds[2];
    WK_ASSERT_OK(pipe(fds));
    make(&r, "auditd_audisp");
    char fdtxt[16];
    snprintf(fdtxt, sizeof(fdtxt), "%d", fds[0]);
    WK_ASSERT_OK(wk_option_set(r.ops->options, r.cfg, "fd", fdtxt, &err));
    WK_ASSERT_OK(wk_option_set(r.ops->options, r.cfg, "read_proc", "false", &err));
    WK_ASSERT_OK(wk_option_set(r.ops->options, r.cfg, "queue", "4", &err));
    snprintf(r.path, sizeof(r.path), "%s/in", wk_test_tmpdir());
    for (uint64_t s = 1; s <= 20; s++)
        append(r.path, s);
    size_t len;
    char *data = wk_test_read_file(r.path, &len);
    r.cs.refuse_every = 0;
    start(&r, NULL, 0);
    WK_ASSERT_INT_EQ(write(fds[1], data, len), (ssize_t)len);
    close(fds[1]);
    run_ms(&r, 200);
    expect_serials(&r.cs, 1, 20);
    WK_ASSERT_INT_EQ(r.cs.gaps, 0);
    finish(&r);
    free(data);
}

WK_TEST(audisp_never_blocks_and_counts_what_it_drops)
{
    struct run r = { 0 };
    const char *err;
    int fds[2];
    WK_ASSERT_OK(pipe(fds));
    make(&r, "auditd_audisp");
    char fdtxt[16];
    snprintf(fdtxt, sizeof(fdtxt), "%d", fds[0]);
    WK_ASSERT_OK(wk_option_set(r.ops->options, r.cfg, "fd", fdtxt, &err));
    WK_ASSERT_OK(wk_option_set(r.ops->options, r.cfg, "read_proc", "false", &err));
    WK_ASSERT_OK(wk_option_set(r.ops->options, r.cfg, "queue", "4", &err));
    snprintf(r.path, sizeof(r.path), "%s/in", wk_test_tmpdir());
    for (uint64_t s = 1; s <= 20; s++)
        append(r.path, s);
    size_t len;
    char *data = wk_test_read_file(r.path, &len);
    r.cs.refuse_every = 1; /* the pipeline is full */
    start(&r, NULL, 0);
    WK_ASSERT_INT_EQ(write(fds[1], data, len), (ssize_t)len);
    close(fds[1]);
    for (int i = 0; i < 20; i++) {
        uv_run(&r.loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
    WK_ASSERT_INT_EQ(r.cs.n, 0);
    r.cs.refuse_every = 0; /* room again */
    r.ops->resume(r.src);
    /* the 4 queued events, then one gap event counting the 16 dropped */
    expect_serials(&r.cs, 1, 4);
    WK_ASSERT_INT_EQ(r.cs.gaps, 1);
    WK_ASSERT_INT_EQ(r.cs.gap_count, 16);
    finish(&r);
    free(data);
}

WK_TEST(tail_restart_between_interleaved_events_stores_each_once)
{
    struct run r = { 0 };
    setup_tail(&r);
    /* 2 opens, 3 opens and closes, then the collector stops with 2 still open */
    /* stamped now: the live 2 s timeout must not close 2 during the test */
    long now = (long)time(NULL);
    FILE *f = fopen(r.path, "w");
    WK_ASSERT(f != NULL);
    fprintf(f, "type=SYSCALL msg=audit(%ld.001:2): arch=c000003e syscall=59 success=yes exit=0 pid=2 ppid=1 exe=\"/bin/a\"\n"
               "type=SYSCALL msg=audit(%ld.001:3): arch=c000003e syscall=59 success=yes exit=0 pid=3 ppid=1 exe=\"/bin/b\"\n"
               "type=EOE msg=audit(%ld.001:3): \n", now, now, now);
    fclose(f);
    start(&r, NULL, 0);
    run_ms(&r, 100);
    expect_serials(&r.cs, 3, 3);
    uint8_t cur[256];
    size_t curlen = r.cs.cursor_len;
    memcpy(cur, r.cs.cursor, curlen);
    finish(&r);
    /* the cursor points at 2's first line; re-reading must not store 3 again */
    f = fopen(r.path, "a");
    fprintf(f, "type=EOE msg=audit(%ld.001:2): \n", now);
    fclose(f);
    append(r.path, 4);
    struct run r2 = { 0 };
    setup_tail(&r2);
    start(&r2, cur, curlen);
    run_ms(&r2, 150);
    WK_ASSERT_INT_EQ(r2.cs.n, 2);
    WK_ASSERT_UINT_EQ(r2.cs.serials[0], 2);
    WK_ASSERT_UINT_EQ(r2.cs.serials[1], 4);
    finish(&r2);
}

/* Tail `path` with tick_read = chunk bytes per 1 ms poll until it was all read and the
 * tick after the end of file ran; the events go to r->cs. */
static void tail_in_chunks(struct run *r, size_t chunk, size_t filesize)
{
    const char *err;
    char v[32];
    setup_tail(r);
    WK_ASSERT_OK(wk_option_set(r->ops->options, r->cfg, "poll", "1ms", &err));
    /* counted in loop turns at the poll cadence: never idle (idle_poll <= poll) */
    WK_ASSERT_OK(wk_option_set(r->ops->options, r->cfg, "idle_poll", "1ms", &err));
    snprintf(v, sizeof(v), "%zu", chunk);
    WK_ASSERT_OK(wk_option_set(r->ops->options, r->cfg, "tick_read", v, &err));
    start(r, NULL, 0);
    for (size_t i = 0; i < filesize / chunk + 20; i++)
        uv_run(&r->loop, UV_RUN_ONCE);
    finish(r);
}

WK_TEST(tail_assembly_does_not_depend_on_read_chunks)
{
    /* Events without EOE (as auditd 3 writes its log), stamped long ago, as when the tailer
     * catches up on a backlog or a bench file: the live timeout (2 s, checked by the tick
     * after each read) once compared these old stamps with the wall clock and closed every
     * held event at every tick, so an event whose records straddled a tick_read boundary was
     * stored as two. Whatever the chunk size, the events must be those of one big read. */
    char path[512];
    snprintf(path, sizeof(path), "%s/audit.log", wk_test_tmpdir());
    FILE *f = fopen(path, "w");
    WK_ASSERT(f != NULL);
    for (unsigned s = 1; s <= 6; s++) {
        fprintf(f, "type=SYSCALL msg=audit(1700000000.%03u:%u): arch=c000003e syscall=59 "
                   "success=yes exit=0 pid=%u ppid=1 exe=\"/bin/x\"\n"
                   "type=EXECVE msg=audit(1700000000.%03u:%u): argc=1 a0=\"x\"\n",
                s, s, s + 100, s, s);
        if (s % 2) /* PROCTITLE closes at the next serial; the others wait for it too */
            fprintf(f, "type=PROCTITLE msg=audit(1700000000.%03u:%u): proctitle=78\n", s, s);
    }
    long size = ftell(f);
    fclose(f);

    struct run ref = { 0 };
    tail_in_chunks(&ref, (size_t)4 << 20, 1);
    WK_ASSERT_INT_EQ(ref.cs.n, 6);
    unsigned seen = 0; /* each serial once (those without PROCTITLE close later) */
    for (int i = 0; i < ref.cs.n; i++)
        seen |= 1u << ref.cs.serials[i];
    WK_ASSERT_UINT_EQ(seen, 0x7eu);
    static const size_t chunks[] = { 1, 3, 7, 16, 50, 97, 200 };
    for (size_t k = 0; k < WK_ARRAY_SIZE(chunks); k++) {
        struct run r = { 0 };
        tail_in_chunks(&r, chunks[k], (size_t)size);
        if (r.cs.n != ref.cs.n)
            fprintf(stderr, "tick_read %zu: %d events\n", chunks[k], r.cs.n);
        WK_ASSERT_INT_EQ(r.cs.n, ref.cs.n);
        for (int i = 0; i < ref.cs.n; i++) {
            WK_ASSERT_UINT_EQ(r.cs.serials[i], ref.cs.serials[i]);
            WK_ASSERT_UINT_EQ(r.cs.origlen[i], ref.cs.origlen[i]);
        }
    }
}

int wk__au_kernel_lost(uint32_t *lost);

WK_TEST(kernel_lost_count_matches_auditctl)
{
    if (geteuid() != 0)
        WK_SKIP("reading the audit status needs root");
    uint32_t ours = 0;
    WK_ASSERT_OK(wk__au_kernel_lost(&ours));
    FILE *f = popen("auditctl -s 2>/dev/null", "r");
    WK_ASSERT(f != NULL);
    char line[256];
    long theirs = -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "lost ", 5) == 0)
            theirs = strtol(line + 5, NULL, 10);
    }
    pclose(f);
    if (theirs < 0)
        WK_SKIP("auditctl -s printed no lost count");
    /* the count only grows: ours was read first */
    WK_ASSERT((long)ours <= theirs);
    WK_ASSERT(theirs - (long)ours < 1000);
}
