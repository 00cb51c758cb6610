/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The auditd parser: lexing, decoding, assembly, gaps, rejects, resume offsets, container
 * attribution, and golden outputs over ../shared/corpus/auditd/ (exact JSON lines in
 * tests/golden/auditd/; WK_UPDATE_GOLDEN=1 rewrites them after a reviewed change).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "watchkeeper/error.h"

#include "../../collector/sources/auditd/auditd_private.h"
#include "../../collector/sources/auditd/source_private.h"
#include "auditd_util.h"

/* Corpus files with golden outputs (paths under ../shared/corpus/auditd/). */
static const char *const golden_files[] = {
    "audit-userspace/test.log",
    "audit-userspace/test2.log",
    "audit-userspace/test3.log",
    "audit-userspace/test4.log",
    "beats/auditbeat-chown.log",
    "beats/auditbeat-setuid.log",
    "beats/auditbeat-sudo.log",
    "beats/auditbeat-userlogin.log",
    "beats/filebeat-module-auditd-audit-cent7-node.log",
    "beats/filebeat-module-auditd-execve-hex-arg.log",
    "beats/filebeat-module-auditd-useradd.log",
    "go-libaudit/auparse__audit-rhel6.log",
    "go-libaudit/auparse__audit-rhel7.log",
    "go-libaudit/auparse__audit-ubuntu14.log",
    "go-libaudit/auparse__audit-ubuntu16.log",
    "go-libaudit/auparse__audit-ubuntu17.log",
    "go-libaudit/root__lost_messages.log",
    "go-libaudit/root__normal.log",
    "go-libaudit/root__out_of_order.log",
    "go-libaudit/root__rollover.log",
    "laurel/fork-sleep-exec.txt",
    "laurel/line-user-acct.txt",
    "laurel/record-adjntpval.txt",
    "laurel/record-anom-promiscuous.txt",
    "laurel/record-avc-apparmor.txt",
    "laurel/record-bind-ipv4-bigendian.txt",
    "laurel/record-connect.txt",
    "laurel/record-execve-long.txt",
    "laurel/record-execve.txt",
    "laurel/record-login.txt",
    "laurel/record-nscd.txt",
    "laurel/record-perl-reverse-shell.txt",
    "laurel/record-ptrace.txt",
    "laurel/record-service-start.txt",
    "laurel/record-syscall-key.txt",
    "laurel/record-syscall-nullkey.txt",
    "laurel/record-uringop.txt",
    "laurel/record-weblogic.txt",
    "laurel/shell-proc-trace.txt",
    "laurel/shell-proc-trace-reordered.txt",
};

static void golden_name(const char *rel, char *out, size_t n)
{
    snprintf(out, n, "%s/tests/golden/auditd/%s", wk_test_srcdir(), rel);
    for (char *c = out + strlen(wk_test_srcdir()) + strlen("/tests/golden/auditd/"); *c; c++) {
        if (*c == '/')
            *c = '_';
    }
    strncat(out, ".jsonl", n - strlen(out) - 1);
}

WK_TEST(golden_corpus)
{
    bool update = getenv("WK_UPDATE_GOLDEN") != NULL;
    int failures = 0;
    for (size_t i = 0; i < WK_ARRAY_SIZE(golden_files); i++) {
        size_t len;
        char *in = au_read_corpus(golden_files[i], &len);
        struct au_collect c;
        au_collect_init(&c);
        au_run(&c, golden_files[i], in, len);
        char gpath[4096];
        golden_name(golden_files[i], gpath, sizeof(gpath));
        if (update) {
            FILE *f = fopen(gpath, "wb");
            WK_ASSERT(f != NULL);
            fwrite(c.out ? c.out : "", 1, c.len, f);
            fclose(f);
        } else {
            size_t glen;
            char *g = wk_test_read_file(gpath, &glen);
            if (glen != c.len || memcmp(g, c.out ? c.out : "", glen) != 0) {
                fprintf(stderr, "golden mismatch: %s (got %zu bytes, want %zu)\n",
                        golden_files[i], c.len, glen);
                failures++;
            }
            free(g);
        }
        au_collect_fini(&c);
        free(in);
    }
    WK_ASSERT_INT_EQ(failures, 0);
}


/* A sink that takes each event as the pipeline's submit_take does: the parser's event is
 * swapped with an empty one and kept past the emit. */
struct take_sink {
    struct wk_parser_sink sink;
    struct wk_event **kept;
    size_t n, cap;
};

static int take_emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    struct take_sink *t = (struct take_sink *)s;
    (void)resume;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->kept = realloc(t->kept, t->cap * sizeof(*t->kept));
        WK_ASSERT(t->kept != NULL);
    }
    WK_ASSERT_OK(wk_event_new(&t->kept[t->n]));
    wk_event_swap(t->kept[t->n++], ev);
    return 0;
}

static int take_reject(struct wk_parser_sink *s, const struct wk_line_ctx *where,
                       const char *reason, const char *raw, size_t len)
{
    (void)s, (void)where, (void)reason, (void)raw, (void)len;
    return 0;
}

WK_TEST(taken_events_keep_their_values)
{
    /* Values reference bytes the parser wrote for the event (record copies, decoded hex,
     * names): they must live in the event's own storage, or an event a sink keeps (the
     * daemon's hand-over submit) would change under it as the next events are parsed.
     * Every golden file: the kept events, printed after the whole file, equal the events
     * printed at emit time. */
    for (size_t i = 0; i < WK_ARRAY_SIZE(golden_files); i++) {
        size_t len;
        char *in = au_read_corpus(golden_files[i], &len);
        struct au_collect c;
        au_collect_init(&c);
        au_run(&c, golden_files[i], in, len);
        struct take_sink t = { { take_emit, take_reject }, NULL, 0, 0 };
        au_feed(&t.sink, golden_files[i], in, len); /* the parser is gone after it */
        WK_ASSERT_INT_EQ((int)t.n, c.events);
        const char *line = c.out ? c.out : "";
        for (size_t k = 0; k < t.n; k++) {
            while (line[0] == '#') /* the rejects' comment lines */
                line = strchr(line, '\n') + 1;
            const char *end = strchr(line, '\n');
            char *js;
            size_t jl;
            WK_ASSERT_OK(wk_event_to_json(t.kept[k], &js, &jl));
            if (jl != (size_t)(end - line) || memcmp(js, line, jl) != 0)
                WK_FAIL("%s: event %zu changed after it was taken:\n%.*s\n%s", golden_files[i],
                        k, (int)(end - line), line, js);
            free(js);
            line = end + 1;
            wk_event_free(t.kept[k]);
        }
        free(t.kept);
        au_collect_fini(&c);
        free(in);
    }
}

static const struct wk_value *ev_get(const struct wk_event *ev, unsigned rec, const char *name)
{
    struct wk_key k = wk_key_init(name);
    return wk_event_get(ev, rec, &k);
}

static void assert_str(const struct wk_event *ev, unsigned rec, const char *name, const char *want)
{
    const struct wk_value *v = ev_get(ev, rec, name);
    if (!v || v->kind != WK_VAL_STR)
        WK_FAIL("field %s (rec %u) absent or not a string, want '%s'", name, rec, want);
    if (v->len != strlen(want) || memcmp(v->u.s, want, v->len) != 0)
        WK_FAIL("field %s (rec %u) is '%.*s', want '%s'", name, rec, (int)v->len, v->u.s, want);
}

static int64_t get_int(const struct wk_event *ev, const char *name)
{
    const struct wk_value *v = ev_get(ev, 0, name);
    if (!v || v->kind != WK_VAL_INT)
        WK_FAIL("field %s absent or not an int", name);
    return v->u.i;
}

#define SYSC(ser, pid, ppid, exe, extra)                                                     \
    "type=SYSCALL msg=audit(1700000000.100:" ser "): arch=c000003e syscall=59 success=yes "  \
    "exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=" ppid " pid=" pid " auid=4294967295 uid=0 "     \
    "gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 "           \
    "comm=\"x\" exe=\"" exe "\" key=(null)" extra

WK_TEST(interleaved_serials_resume_offsets)
{
    const char *in = SYSC("100", "10", "1", "/bin/a", "") "\n"
                     SYSC("101", "11", "1", "/bin/b", "") "\n"
                     "type=EXECVE msg=audit(1700000000.100:100): argc=2 a0=\"a\" a1=\"-x\"\n"
                     "type=EOE msg=audit(1700000000.100:101): \n"
                     "type=EOE msg=audit(1700000000.100:100): \n";
    struct au_collect c;
    au_collect_init(&c);
    au_run(&c, "mem", in, strlen(in));
    WK_ASSERT_INT_EQ(c.events, 2);
    WK_ASSERT_INT_EQ(get_int(c.copies[0], "auditd.serial"), 101);
    /* 100's first line is still held when 101 goes: the cursor must not pass it */
    WK_ASSERT_UINT_EQ(c.resumes[0], 0);
    WK_ASSERT_INT_EQ(get_int(c.copies[1], "auditd.serial"), 100);
    WK_ASSERT_UINT_EQ(c.resumes[1], strlen(in));
    assert_str(c.copies[1], 0, "process.command_line", "a -x");
    assert_str(c.copies[1], 2, "type", "EXECVE");
    assert_str(c.copies[1], 1, "SYSCALL", "execve");
    assert_str(c.copies[1], 0, "event.action", "execve");
    WK_ASSERT_INT_EQ(wk_event_nrecords(c.copies[1]), 2);
    au_collect_fini(&c);
}

WK_TEST(serial_jump_is_a_gap_late_serial_shrinks_it)
{
    const char *in = SYSC("10", "10", "1", "/bin/a", "") "\n"
                     "type=EOE msg=audit(1700000000.100:10): \n"
                     SYSC("15", "10", "1", "/bin/a", "") "\n"
                     "type=EOE msg=audit(1700000000.100:15): \n"
                     SYSC("13", "10", "1", "/bin/a", "") "\n"
                     "type=EOE msg=audit(1700000000.100:13): \n";
    struct au_collect c;
    au_collect_init(&c);
    au_run(&c, "mem", in, strlen(in));
    WK_ASSERT_INT_EQ(c.events, 4);
    const struct wk_event *gap = c.copies[3];
    assert_str(gap, 0, "event.kind", "gap");
    assert_str(gap, 0, "event.action", "gap");
    assert_str(gap, 0, "gap.reason", "audit serial jump");
    WK_ASSERT_INT_EQ(get_int(gap, "gap.count"), 3); /* 11..14 missing, 13 came late */
    WK_ASSERT_INT_EQ(get_int(gap, "gap.start"), 11);
    WK_ASSERT_INT_EQ(get_int(gap, "gap.end"), 14);
    au_collect_fini(&c);
}

WK_TEST(malformed_lines_rejected_with_line_and_reason)
{
    const char *in = SYSC("10", "10", "1", "/bin/a", "") "\n"
                     "type=SYSCALL msg=audit(17000x): junk\n"
                     "hello world\n"
                     "type=EOE msg=audit(1700000000.100:10): \n";
    struct au_collect c;
    au_collect_init(&c);
    au_run(&c, "mem", in, strlen(in));
    WK_ASSERT_INT_EQ(c.events, 1);
    WK_ASSERT_INT_EQ(c.rejects, 2);
    WK_ASSERT_UINT_EQ(c.reject_line, 3);
    WK_ASSERT_STR_EQ(c.reject_reason, "no type= at the start of the record");
    WK_ASSERT(strstr(c.out, "# rejected mem:2: bad timestamp in msg=audit(...)") != NULL);
    au_collect_fini(&c);
}

WK_TEST(live_tick_closes_event_without_eoe)
{
    struct wk_parser_opts opts;
    struct wk_parser *p = NULL;
    struct au_collect c;
    au_collect_init(&c);
    wk_parser_opts_init(&opts);
    WK_ASSERT_OK(wk__auditd_parser_new(&p, &opts, false));
    wk_parser_find("auditd")->destroy(p);
    WK_ASSERT_OK(wk__auditd_parser_new(&p, &opts, true));
    const char *l = SYSC("7", "999999", "1", "/bin/a", "");
    struct wk_line_ctx where = { "live", 1, 0 };
    WK_ASSERT_OK(wk_parser_find("auditd")->feed_line(p, l, strlen(l), &where, &c.sink));
    WK_ASSERT_OK(wk_parser_find("auditd")->tick(p, 1700000001000000000LL, &c.sink));
    WK_ASSERT_INT_EQ(c.events, 0); /* 0.9 s: still open */
    WK_ASSERT_OK(wk_parser_find("auditd")->tick(p, 1700000002200000000LL, &c.sink));
    WK_ASSERT_INT_EQ(c.events, 1);
    WK_ASSERT_UINT_EQ(c.resumes[0], strlen(l) + 1);
    wk_parser_find("auditd")->destroy(p);
    au_collect_fini(&c);
}

WK_TEST(daemon_records_are_gap_events)
{
    size_t len;
    char *in = au_read_corpus("beats/filebeat-module-auditd-audit-cent7-node.log", &len);
    struct au_collect c;
    au_collect_init(&c);
    au_run(&c, "cent7", in, len);
    /* first line: DAEMON_START with node= prefix */
    assert_str(c.copies[0], 0, "event.kind", "gap");
    assert_str(c.copies[0], 0, "gap.reason", "auditd started");
    assert_str(c.copies[0], 0, "event.action", "gap");
    assert_str(c.copies[0], 0, "host.name", "localhost.localdomain");
    assert_str(c.copies[0], 0, "auditd.node", "localhost.localdomain");
    assert_str(c.copies[0], 1, "type", "DAEMON_START");
    assert_str(c.copies[0], 1, "format", "raw");
    au_collect_fini(&c);
    free(in);
}

/* auditd's own records carry auditd's serials, not the kernel's: one that happens to share
 * the serial of a held kernel event is its own gap event and does not join that event. */
WK_TEST(daemon_record_sharing_a_kernel_serial_stays_apart)
{
    const char *in =
        SYSC("500", "77", "1", "/bin/a", "") "\n"
        "type=DAEMON_START msg=audit(1700000000.150:500): auditd start, ver=3.0.9 "
        "format=enriched kernel=6.1.0 auid=4294967295 pid=251 uid=0 ses=4294967295 res=success\n"
        "type=PATH msg=audit(1700000000.100:500): item=0 name=\"/bin/a\" inode=1 dev=08:01 "
        "mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 "
        "cap_fver=0 cap_frootid=0\n"
        "type=EOE msg=audit(1700000000.100:500): \n";
    struct au_collect c;
    au_collect_init(&c);
    au_run(&c, "mixed", in, strlen(in));
    WK_ASSERT_INT_EQ(c.events, 2);
    assert_str(c.copies[0], 0, "event.kind", "gap");
    assert_str(c.copies[0], 1, "type", "DAEMON_START");
    WK_ASSERT_UINT_EQ(wk_event_nrecords(c.copies[0]), 1);
    assert_str(c.copies[1], 0, "event.action", "execve");
    assert_str(c.copies[1], 1, "type", "SYSCALL");
    assert_str(c.copies[1], 2, "type", "PATH");
    for (unsigned r = 1; r <= wk_event_nrecords(c.copies[1]); r++) {
        const struct wk_value *t = ev_get(c.copies[1], r, "type");
        WK_ASSERT(t != NULL && strcmp(t->u.s, "DAEMON_START") != 0);
    }
    au_collect_fini(&c);
}

WK_TEST(hex_proctitle_and_long_execve_args)
{
    size_t len;
    char *in = au_read_corpus("beats/auditbeat-chown.log", &len);
    struct au_collect c;
    au_collect_init(&c);
    au_run(&c, "chown", in, len);
    WK_ASSERT_INT_EQ(c.events, 1);
    const struct wk_value *args = ev_get(c.copies[0], 0, "process.args");
    WK_ASSERT(args && args->kind == WK_VAL_STRLIST && args->len >= 2);
    assert_str(c.copies[0], 0, "event.action", "fchownat");
    au_collect_fini(&c);
    free(in);

    in = au_read_corpus("laurel/record-execve-long.txt", &len);
    au_collect_init(&c);
    au_run(&c, "long", in, len);
    WK_ASSERT_INT_EQ(c.events, 1);
    const struct wk_event *ev = c.copies[0];
    unsigned rec = 2;
    assert_str(ev, rec, "type", "EXECVE");
    const struct wk_value *a1len = ev_get(ev, rec, "a1_len");
    WK_ASSERT(a1len != NULL);
    const struct wk_value *a1 = ev_get(ev, rec, "a1");
    WK_ASSERT(a1 != NULL);
    /* aN_len counts the logged bytes: hex-encoded chunks count twice */
    WK_ASSERT_UINT_EQ(a1->len * 2, strtoul(a1len->u.s, NULL, 10));
    args = ev_get(ev, 0, "process.args");
    WK_ASSERT(args && args->len == 2); /* argc=2; laurel/record-execve-long.json: 8192 bytes */
    WK_ASSERT_UINT_EQ(a1->len, 8192);
    WK_ASSERT_UINT_EQ(args->u.items[1].len, a1->len);
    au_collect_fini(&c);
    free(in);
}

WK_TEST(enriched_sockaddr_node_user_msg)
{
    size_t len;
    char *in = au_read_corpus("laurel/record-execve.txt", &len);
    struct au_collect c;
    au_collect_init(&c);
    au_run(&c, "enriched", in, len);
    const struct wk_event *ev = c.copies[0];
    assert_str(ev, 1, "SYSCALL", "execve");
    assert_str(ev, 1, "AUID", "user");
    assert_str(ev, 1, "node", "work");
    assert_str(ev, 0, "host.name", "work");
    assert_str(ev, 0, "Image", "/usr/bin/whoami");
    assert_str(ev, 0, "CommandLine", "whoami");
    assert_str(ev, 0, "CurrentDirectory", "/home/user/tmp");
    assert_str(ev, 0, "User", "root");
    assert_str(ev, 0, "user.audit.name", "user");
    WK_ASSERT_INT_EQ(get_int(ev, "ProcessId"), 10884);
    WK_ASSERT_INT_EQ(get_int(ev, "ParentProcessId"), 10883);
    /* event.original: every record, exact bytes, EOE included */
    const struct wk_value *o = ev_get(ev, 0, "event.original");
    WK_ASSERT(o && o->len + 1 == len && memcmp(o->u.s, in, o->len) == 0);
    au_collect_fini(&c);
    free(in);

    in = au_read_corpus("laurel/record-connect.txt", &len);
    au_collect_init(&c);
    au_run(&c, "connect", in, len);
    assert_str(c.copies[0], 2, "SADDR", "{ saddr_fam=inet laddr=127.0.0.1 lport=11211 }");
    assert_str(c.copies[0], 0, "destination.ip", "127.0.0.1");
    WK_ASSERT_INT_EQ(get_int(c.copies[0], "destination.port"), 11211);
    assert_str(c.copies[1], 0, "destination.ip", "::1");
    assert_str(c.copies[1], 0, "event.outcome", "failure");
    assert_str(c.copies[1], 0, "error.code", "EINPROGRESS");
    au_collect_fini(&c);
    free(in);

    in = au_read_corpus("beats/auditbeat-sudo.log", &len);
    au_collect_init(&c);
    au_run(&c, "sudo", in, len);
    /* nested msg='op=PAM:authentication ... res=failed' */
    bool failed = false;
    for (int i = 0; i < c.events && i < 256; i++) {
        const struct wk_value *res = ev_get(c.copies[i], 1, "res");
        if (res && strcmp(res->u.s, "failed") == 0) {
            assert_str(c.copies[i], 0, "event.outcome", "failure");
            assert_str(c.copies[i], 1, "op", "PAM:authentication");
            failed = true;
        }
    }
    WK_ASSERT(failed);
    au_collect_fini(&c);
    free(in);
}

WK_TEST(every_corpus_line_is_an_event_record_or_a_reject)
{
    for (size_t i = 0; i < WK_ARRAY_SIZE(golden_files); i++) {
        size_t len, lines = 0, held = 0;
        char *in = au_read_corpus(golden_files[i], &len);
        for (size_t j = 0; j < len; j++) {
            if (in[j] == '\n' && j > 0 && in[j - 1] != '\n')
                lines++;
        }
        if (len && in[len - 1] != '\n')
            lines++;
        struct au_collect c;
        au_collect_init(&c);
        au_run(&c, golden_files[i], in, len);
        WK_ASSERT(c.events <= 256);
        for (int e = 0; e < c.events; e++) {
            const struct wk_value *o = ev_get(c.copies[e], 0, "event.original");
            if (!o)
                continue; /* serial-jump gap events have no input line */
            held++;
            for (size_t j = 0; j < o->len; j++)
                held += o->u.s[j] == '\n';
        }
        if (held + (size_t)c.rejects != lines)
            WK_FAIL("%s: %zu lines, %zu in events, %d rejected", golden_files[i], lines, held,
                    c.rejects);
        au_collect_fini(&c);
        free(in);
    }
}

WK_TEST(container_attribution_from_runtime_ancestry)
{
#define CID "3b1f0e6f5a3c4d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e"
#define EXE(ser, pid, ppid, exe, args)                                                      \
    SYSC(ser, pid, ppid, exe, "") "\ntype=EXECVE msg=audit(1700000000.100:" ser "): " args  \
    "\ntype=EOE msg=audit(1700000000.100:" ser "): \n"
    const char *in =
        EXE("1", "100", "1", "/usr/bin/containerd-shim-runc-v2",
            "argc=7 a0=\"/usr/bin/containerd-shim-runc-v2\" a1=\"-namespace\" a2=\"moby\" "
            "a3=\"-id\" a4=\"" CID "\" a5=\"-address\" a6=\"/run/containerd/containerd.sock\"")
        EXE("2", "101", "100", "/usr/sbin/runc",
            "argc=6 a0=\"runc\" a1=\"--root\" a2=\"/var/run/docker/runtime-runc/moby\" "
            "a3=\"create\" a4=\"--bundle\" a5=\"" CID "\"")
        EXE("3", "102", "101", "/usr/sbin/runc", "argc=2 a0=\"runc\" a1=\"init\"")
        EXE("4", "102", "100", "/bin/busybox", "argc=2 a0=\"sh\" a1=\"-c\"")
        EXE("5", "103", "102", "/bin/busybox", "argc=2 a0=\"ls\" a1=\"/\"")
        EXE("6", "200", "1", "/usr/bin/ls", "argc=1 a0=\"ls\"");
    struct au_collect c;
    au_collect_init(&c);
    au_run(&c, "attrib", in, strlen(in));
    WK_ASSERT_INT_EQ(c.events, 6);
    WK_ASSERT(ev_get(c.copies[0], 0, "container.id") == NULL); /* the shim is on the host */
    WK_ASSERT(ev_get(c.copies[1], 0, "container.id") == NULL);
    WK_ASSERT(ev_get(c.copies[2], 0, "container.id") == NULL);
    assert_str(c.copies[3], 0, "container.id", CID); /* runc init became the entrypoint */
    assert_str(c.copies[4], 0, "container.id", CID); /* its child */
    assert_str(c.copies[4], 0, "ParentImage", "/bin/busybox");
    assert_str(c.copies[4], 0, "ParentCommandLine", "sh -c");
    WK_ASSERT(ev_get(c.copies[5], 0, "container.id") == NULL);
    au_collect_fini(&c);
}

WK_TEST(cgroup_paths_of_runtimes)
{
    char out[65];
    static const char *const yes[] = {
        "0::/system.slice/docker-" CID ".scope\n",
        "12:pids:/docker/" CID "\n11:cpu:/docker/" CID "\n",
        "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/"
        "cri-containerd-" CID ".scope\n",
        "0::/kubepods/besteffort/pod1/crio-" CID "\n",
        "0::/machine.slice/libpod-" CID ".scope/container\n",
    };
    for (size_t i = 0; i < WK_ARRAY_SIZE(yes); i++) {
        WK_ASSERT_INT_EQ(wk__au_cgroup_cid(yes[i], strlen(yes[i]), out), 0);
        WK_ASSERT_STR_EQ(out, CID);
    }
    static const char *const no[] = {
        "0::/user.slice/user-0.slice/session-1.scope\n",
        "0::/machine.slice/libpod-conmon-" CID ".scope\n",
        "0::/init.scope\n",
    };
    for (size_t i = 0; i < WK_ARRAY_SIZE(no); i++)
        WK_ASSERT_INT_EQ(wk__au_cgroup_cid(no[i], strlen(no[i]), out), -1);
}

WK_TEST(process_table_is_bounded)
{
    struct wk__au_attrib *a = wk__au_attrib_new(1024, false);
    WK_ASSERT(a != NULL);
    for (int32_t pid = 1; pid < 100000; pid++)
        (void)wk__au_attrib_event(a, pid, 1, false, "/bin/x", 6, NULL, 0);
    WK_ASSERT(wk__au_attrib_count(a) <= 1024);
    wk__au_attrib_free(a);
}

/* An evicted process's entry, reused by another, keeps none of its exe, command line or
 * runtime's container (they count by lengths and a flag, not by NULs written on reuse),
 * and the least recently used of a set goes first. */
WK_TEST(process_table_reuses_entries_clean)
{
    struct wk__au_attrib *a = wk__au_attrib_new(4, false); /* one set of four */
    WK_ASSERT(a != NULL);
    const struct wk_str args[] = { { "runc", 4 }, { "create", 6 }, { CID, 64 } };
    WK_ASSERT_STR_EQ(wk__au_attrib_event(a, 10, 1, true, "/usr/sbin/runc", 14, args, 3), "");
    const struct wk__au_proc *e = wk__au_attrib_get(a, 10);
    WK_ASSERT(e != NULL && e->has_rt_cid && e->runtime);
    WK_ASSERT_INT_EQ(e->exelen, 14);
    WK_ASSERT_STR_EQ(e->exe, "/usr/sbin/runc");
    WK_ASSERT_INT_EQ(e->cmdlen, 76);
    /* its child is the container's process */
    WK_ASSERT_STR_EQ(wk__au_attrib_event(a, 11, 10, false, NULL, 0, NULL, 0), CID);
    (void)wk__au_attrib_event(a, 12, 1, false, "/bin/a", 6, NULL, 0);
    (void)wk__au_attrib_event(a, 13, 1, false, "/bin/b", 6, NULL, 0);
    WK_ASSERT_INT_EQ(wk__au_attrib_count(a), 4);
    WK_ASSERT(wk__au_attrib_get(a, 11) != NULL); /* 10 is now the least recently used */
    (void)wk__au_attrib_event(a, 20, 1, false, NULL, 0, NULL, 0); /* evicts 10 */
    WK_ASSERT(wk__au_attrib_get(a, 10) == NULL);
    e = wk__au_attrib_get(a, 20);
    WK_ASSERT(e != NULL);
    WK_ASSERT(!e->has_rt_cid && !e->runtime);
    WK_ASSERT_INT_EQ(e->exelen, 0);
    WK_ASSERT_INT_EQ(e->cmdlen, 0);
    WK_ASSERT_STR_EQ(e->cid, "");
    /* a child of the reused entry inherits nothing of the evicted runtime */
    WK_ASSERT_STR_EQ(wk__au_attrib_event(a, 21, 20, false, NULL, 0, NULL, 0), "");
    WK_ASSERT_INT_EQ(wk__au_attrib_count(a), 4);
    wk__au_attrib_free(a);
}

/* A sink that takes events (submit_take, as the pipeline does) or refuses them all, and
 * records the value of "n" and the cursor of each event it took. */
struct pend_sink {
    struct wk_source_sink sink;
    bool refuse;
    int64_t got[256];
    uint8_t cur[256];
    size_t n;
};

static int pend_take(struct wk_source_sink *s, struct wk_source *src, struct wk_event *ev,
                     const void *cursor, size_t cursor_len)
{
    (void)src;
    struct pend_sink *ps = (struct pend_sink *)s;
    if (ps->refuse)
        return -EAGAIN;
    struct wk_key k = wk_key_init("n");
    const struct wk_value *v = wk_event_get(ev, 0, &k);
    if (ps->n < 256) {
        ps->got[ps->n] = v && v->kind == WK_VAL_INT ? v->u.i : -1;
        ps->cur[ps->n] = cursor_len == 1 ? *(const uint8_t *)cursor : 0xff;
    }
    ps->n++;
    wk_event_reset(ev); /* taken: left empty */
    return 0;
}

static size_t pend_kept(const struct wk__au_pending *q)
{
    size_t k = 0;
    for (size_t i = 0; q->ev && i < q->max; i++)
        k += q->ev[i] != NULL;
    return k;
}

/* Queue `count` events (n = first, first+1, ...) behind a refusal, then drain them. */
static void pend_cycle(struct wk__au_pending *q, struct wk_source_base *b, struct pend_sink *ps,
                       int64_t first, int count)
{
    struct wk_event *ev = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    struct wk_key k = wk_key_init("n");
    ps->refuse = true;
    for (int j = 0; j < count; j++) {
        wk_event_reset(ev);
        WK_ASSERT_OK(wk_event_add_record(ev));
        for (int f = 0; f < 40; f++) /* a table of 64 fields, as a real audit event's */
            WK_ASSERT_OK(wk_event_add_int(ev, 0, f ? &WK_KEY_MESSAGE : &k, first + j));
        uint8_t c = (uint8_t)(first + j);
        WK_ASSERT_INT_EQ(wk__au_pending_submit(q, b, ev, &c, 1), -EAGAIN);
        WK_ASSERT(q->paused);
    }
    ps->refuse = false;
    WK_ASSERT_OK(wk__au_pending_drain(q, b));
    WK_ASSERT(!q->paused);
    WK_ASSERT_UINT_EQ(q->n, 0);
    wk_event_free(ev);
}

WK_TEST(pending_queue_keeps_order_and_frees_what_it_drained)
{
    struct pend_sink ps = { .sink = { .submit_take = pend_take } };
    struct wk_source_base b = { .sink = &ps.sink };
    struct wk__au_pending q;
    wk__au_pending_init(&q, 1024);
    /* many short pauses (the tailer's case: a few events per pause): the ring used to walk
     * through all 1024 slots and keep an event in each */
    for (int c = 0; c < 3000; c++) {
        ps.n = 0;
        pend_cycle(&q, &b, &ps, c, 3);
        WK_ASSERT_UINT_EQ(ps.n, 3);
        for (int j = 0; j < 3; j++) {
            WK_ASSERT_INT_EQ(ps.got[j], c + j);
            WK_ASSERT_UINT_EQ(ps.cur[j], (uint8_t)(c + j));
        }
        WK_ASSERT_UINT_EQ(pend_kept(&q), 3);
    }
    /* a burst of 200 queued events, delivered in order; then only 8 are kept */
    ps.n = 0;
    pend_cycle(&q, &b, &ps, 1000, 200);
    WK_ASSERT_UINT_EQ(ps.n, 200);
    for (int j = 0; j < 200; j++)
        WK_ASSERT_INT_EQ(ps.got[j], 1000 + j);
    WK_ASSERT_UINT_EQ(pend_kept(&q), 8);
    size_t mem = 0;
    for (size_t i = 0; i < q.max; i++)
        mem += q.ev[i] ? wk_event_mem(q.ev[i]) : 0;
    WK_ASSERT(mem > 0 && mem < 8 * 8192);
    wk__au_pending_fini(&q);
    /* full: the max+1th queued event is dropped and counted */
    wk__au_pending_init(&q, 4);
    struct wk_event *ev = NULL;
    WK_ASSERT_OK(wk_event_new(&ev));
    ps.refuse = true;
    for (int j = 0; j < 4; j++)
        WK_ASSERT_INT_EQ(wk__au_pending_submit(&q, &b, ev, NULL, 0), -EAGAIN);
    WK_ASSERT_INT_EQ(wk__au_pending_submit(&q, &b, ev, NULL, 0), -ENOBUFS);
    WK_ASSERT_UINT_EQ(q.dropped, 1);
    wk_event_free(ev);
    wk__au_pending_fini(&q);
}

WK_TEST(detects_audit_logs)
{
    size_t len;
    char *in = au_read_corpus("audit-userspace/test.log", &len);
    WK_ASSERT(wk_parser_detect(in, len, "x") == wk_parser_find("auditd"));
    WK_ASSERT(wk_parser_detect("{\"a\":1}\n", 8, "x") != wk_parser_find("auditd"));
    free(in);
}

WK_TEST(held_event_memory_is_bounded)
{
    /* one serial that never ends: 3000 records of ~2 KiB; the slot is emitted at 4 MiB */
    size_t cap = 3000 * 2200, len = 0;
    char *in = malloc(cap);
    char pad[2001];
    memset(pad, 'x', 2000);
    pad[2000] = 0;
    for (int i = 0; i < 3000; i++)
        len += (size_t)snprintf(in + len, cap - len,
                                "type=PATH msg=audit(1700000000.100:5): item=%d name=\"%s\"\n", i, pad);
    struct au_collect c;
    au_collect_init(&c);
    au_run(&c, "big", in, len);
    WK_ASSERT_INT_EQ(c.events, 2); /* cut once past the bound, the rest at the end */
    WK_ASSERT(wk_event_nrecords(c.copies[0]) < 3000);
    WK_ASSERT_INT_EQ(wk_event_nrecords(c.copies[0]) + wk_event_nrecords(c.copies[1]), 3000);
    au_collect_fini(&c);
    free(in);
}

WK_TEST(host_name_from_node_else_option)
{
    const struct wk_parser_ops *ops = wk_parser_find("auditd");
    struct wk_parser_opts opts;
    struct wk_parser *p = NULL;
    struct au_collect c;
    au_collect_init(&c);
    wk_parser_opts_init(&opts);
    opts.host = "collector1";
    WK_ASSERT_OK(ops->create(&p, &opts));
    const char *a = "node=web7 type=USER_END msg=audit(1700000000.100:1): pid=1 uid=0 res=success";
    const char *b = "type=USER_END msg=audit(1700000000.100:2): pid=1 uid=0 res=success";
    struct wk_line_ctx w1 = { "m", 1, 0 }, w2 = { "m", 2, strlen(a) + 1 };
    WK_ASSERT_OK(ops->feed_line(p, a, strlen(a), &w1, &c.sink));
    WK_ASSERT_OK(ops->feed_line(p, b, strlen(b), &w2, &c.sink));
    WK_ASSERT_OK(ops->flush(p, &c.sink));
    WK_ASSERT_INT_EQ(c.events, 2);
    assert_str(c.copies[0], 0, "host.name", "web7");
    assert_str(c.copies[1], 0, "host.name", "collector1");
    assert_str(c.copies[1], 0, "event.action", "USER_END");
    ops->destroy(p);
    au_collect_fini(&c);
}

static bool is_gap(const struct wk_event *ev)
{
    struct wk_key k = wk_key_init("event.kind");
    const char *s = wk_event_get_str(ev, &k, NULL);
    return s && strcmp(s, "gap") == 0;
}

/* Feed lines with the given input offsets (the file offsets ingest passes; a tail's are
 * virtual), one line per call. */
static void feed_at(const struct wk_parser_ops *ops, struct wk_parser *p, struct au_collect *c,
                    const char *line, uint64_t off)
{
    static uint64_t lineno;
    struct wk_line_ctx where = { "mem", ++lineno, off };
    WK_ASSERT_OK(ops->feed_line(p, line, strlen(line), &where, &c->sink));
}

WK_TEST(all_slots_busy_closes_oldest_first_resume_follows)
{
    /* 70 events that nothing closes (no EOE, no PROCTITLE): once 64 are held, each new
     * serial closes the oldest; the resume offset is then the oldest held line's. The
     * second run uses serials 256 apart, which share a bucket of the serial index (and
     * make serial-jump gap events, skipped here). */
    for (int spread = 1; spread <= 256; spread += 255) {
        const struct wk_parser_ops *ops = wk_parser_find("auditd");
        struct wk_parser_opts opts;
        struct wk_parser *p = NULL;
        struct au_collect c;
        au_collect_init(&c);
        wk_parser_opts_init(&opts);
        WK_ASSERT_OK(ops->create(&p, &opts));
        char line[600];
        for (int k = 0; k < 70; k++) {
            snprintf(line, sizeof(line),
                     "type=SYSCALL msg=audit(1700000000.%03d:%d): arch=c000003e syscall=2 "
                     "success=yes exit=3 items=0 ppid=1 pid=%d uid=0 key=(null)",
                     k, 1000 + k * spread, 100 + k);
            feed_at(ops, p, &c, line, (uint64_t)k * 1000);
            /* a second record of the newest event and one of an older held event */
            snprintf(line, sizeof(line), "type=CWD msg=audit(1700000000.%03d:%d): cwd=\"/\"", k,
                     1000 + k * spread);
            feed_at(ops, p, &c, line, (uint64_t)k * 1000 + 500);
        }
        int ev[256], n = 0, before_flush;
        for (int i = 0; i < c.events; i++) {
            if (!is_gap(c.copies[i]))
                ev[n++] = i;
        }
        WK_ASSERT_INT_EQ(n, 6);
        before_flush = c.events;
        for (int k = 0; k < 6; k++) {
            WK_ASSERT_INT_EQ(get_int(c.copies[ev[k]], "auditd.serial"), 1000 + k * spread);
            WK_ASSERT_INT_EQ(wk_event_nrecords(c.copies[ev[k]]), 2);
            /* emitted when serial 64+k opened: the oldest held is then k+1's first line */
            WK_ASSERT_UINT_EQ(c.resumes[ev[k]], (uint64_t)(k + 1) * 1000);
        }
        WK_ASSERT_OK(ops->flush(p, &c.sink));
        for (int i = before_flush; i < c.events && i < 256; i++) {
            if (!is_gap(c.copies[i]))
                ev[n++] = i;
        }
        WK_ASSERT_INT_EQ(n, 70);
        for (int k = 6; k < 70; k++)
            WK_ASSERT_INT_EQ(get_int(c.copies[ev[k]], "auditd.serial"), 1000 + k * spread);
        ops->destroy(p);
        au_collect_fini(&c);
    }
}

WK_TEST(resume_is_the_lowest_held_offset_when_offsets_go_back)
{
    /* offsets are not always increasing (several files through one parser): the resume
     * offset is still the lowest offset of a held line, not the oldest event's */
    const struct wk_parser_ops *ops = wk_parser_find("auditd");
    struct wk_parser_opts opts;
    struct wk_parser *p = NULL;
    struct au_collect c;
    au_collect_init(&c);
    wk_parser_opts_init(&opts);
    WK_ASSERT_OK(ops->create(&p, &opts));
    feed_at(ops, p, &c, SYSC("1", "10", "1", "/bin/a", ""), 5000);
    feed_at(ops, p, &c, SYSC("2", "11", "1", "/bin/b", ""), 100);
    feed_at(ops, p, &c, SYSC("3", "12", "1", "/bin/c", ""), 7000);
    feed_at(ops, p, &c, "type=EOE msg=audit(1700000000.100:3): ", 7500);
    WK_ASSERT_INT_EQ(c.events, 1);
    WK_ASSERT_INT_EQ(get_int(c.copies[0], "auditd.serial"), 3);
    WK_ASSERT_UINT_EQ(c.resumes[0], 100); /* serial 2's line, though serial 1 is older */
    feed_at(ops, p, &c, "type=EOE msg=audit(1700000000.100:2): ", 7600);
    WK_ASSERT_INT_EQ(c.events, 2);
    WK_ASSERT_UINT_EQ(c.resumes[1], 5000);
    feed_at(ops, p, &c, "type=EOE msg=audit(1700000000.100:1): ", 7700);
    WK_ASSERT_INT_EQ(c.events, 3);
    WK_ASSERT_UINT_EQ(c.resumes[2], 7700 + strlen("type=EOE msg=audit(1700000000.100:1): ") + 1);
    ops->destroy(p);
    au_collect_fini(&c);
}

WK_TEST(known_field_names_match_the_decoders)
{
    /* names.c's table answers what decode.c's functions answer, with static keys */
    static const char *const names[] = { "type", "auid", "uid", "ouid", "gid", "fsgid", "exe",
                                         "proctitle", "name", "cwd", "key", "saddr", "a0",
                                         "a1", "a127", "AUID", "UID", "SYSCALL", "old-auid",
                                         "OLD-AUID", "new_gid", "data", "comm" };
    struct wk_parser *p = NULL;
    struct wk_parser_opts opts;
    wk_parser_opts_init(&opts);
    WK_ASSERT_OK(wk_parser_find("auditd")->create(&p, &opts)); /* builds the table */
    for (size_t i = 0; i < WK_ARRAY_SIZE(names); i++) {
        size_t n = strlen(names[i]);
        const struct wk__au_name *e = wk__au_name_find(wk_key_hash(names[i], n), names[i], n);
        if (!e)
            WK_FAIL("%s not in the table", names[i]);
        WK_ASSERT_STR_EQ(e->key.name, names[i]);
        WK_ASSERT_UINT_EQ(e->key.hash, wk_key_hash(names[i], n));
        WK_ASSERT_INT_EQ(e->idkind, wk__au_id_kind(names[i], n));
        WK_ASSERT_INT_EQ(e->enc, wk__au_is_encoded_field(1300, names[i], n));
        WK_ASSERT_INT_EQ(e->enc_execve, wk__au_is_encoded_field(1309, names[i], n));
    }
    const struct wk__au_name *a = wk__au_name_find(wk_key_hash("auid", 4), "auid", 4);
    WK_ASSERT(a && a->upper);
    WK_ASSERT_STR_EQ(a->upper->key.name, "AUID");
    a = wk__au_name_find(wk_key_hash("old-auid", 8), "old-auid", 8);
    WK_ASSERT(a && a->upper);
    WK_ASSERT_STR_EQ(a->upper->key.name, "OLD-AUID");
    WK_ASSERT(wk__au_name_find(wk_key_hash("a128", 4), "a128", 4) == NULL);
    WK_ASSERT(wk__au_name_find(wk_key_hash("no_such_field", 13), "no_such_field", 13) == NULL);
    WK_ASSERT(wk__au_name_find(wk_key_hash("aui", 3), "auid", 3) == NULL);
    wk_parser_find("auditd")->destroy(p);
}

WK_TEST(hex_decoding_checks_every_digit)
{
    /* wk__au_unhex decodes sixteen digits at a time where it can: every byte value at
     * every position of a 40-digit value is a digit or makes the value not hex */
    static const char digits[] = "0123456789abcdefABCDEF";
    char in[41], out[20], want[20];
    for (int pos = 0; pos < 40; pos++) {
        for (int b = 0; b < 256; b++) {
            for (int i = 0; i < 40; i++)
                in[i] = digits[(i * 7 + pos) % 22];
            in[pos] = (char)b;
            in[40] = 0;
            bool hex = b && strchr(digits, b) != NULL;
            ssize_t n = wk__au_unhex(in, 40, out);
            if (!hex) {
                WK_ASSERT_INT_EQ(n, -1);
                continue;
            }
            WK_ASSERT_INT_EQ(n, 20);
            for (int i = 0; i < 20; i++) {
                unsigned hi = (unsigned)(strchr(digits, in[2 * i]) - digits),
                         lo = (unsigned)(strchr(digits, in[2 * i + 1]) - digits);
                hi = hi > 15 ? hi - 6 : hi;
                lo = lo > 15 ? lo - 6 : lo;
                want[i] = (char)(hi << 4 | lo);
            }
            WK_ASSERT(memcmp(out, want, 20) == 0);
        }
    }
    WK_ASSERT_INT_EQ(wk__au_unhex("abc", 3, out), -1); /* odd length */
    WK_ASSERT_INT_EQ(wk__au_unhex("", 0, out), -1);
}

WK_TEST(events_roundtrip_and_copy_with_static_names)
{
    /* events built with static names survive JSON and wk_event_copy like any other */
    size_t len;
    char *buf = au_read_corpus("laurel/record-execve.txt", &len);
    struct au_collect c;
    au_collect_init(&c);
    au_run(&c, "record-execve", buf, len);
    WK_ASSERT(c.events > 0);
    struct wk_event *back = NULL;
    WK_ASSERT_OK(wk_event_new(&back));
    for (int i = 0; i < c.events && i < 256; i++) {
        char *js;
        size_t jl;
        WK_ASSERT_OK(wk_event_to_json(c.copies[i], &js, &jl));
        WK_ASSERT_OK(wk_event_from_json(back, js, jl, NULL));
        /* (JSON carries no WK_VALF_LITERAL: the values the parser made) */
        WK_ASSERT(wk_event_equal_but(c.copies[i], back, WK_VALF_LITERAL));
        WK_ASSERT(!wk_event_equal(c.copies[i], back)); /* event.module is one */
        free(js);
    }
    wk_event_free(back);
    au_collect_fini(&c);
    free(buf);
}

struct count_sink {
    struct wk_parser_sink sink;
    unsigned events, records;
};

static int count_emit(struct wk_parser_sink *s, struct wk_event *ev, uint64_t resume)
{
    struct count_sink *c = (struct count_sink *)s;
    (void)resume;
    c->events++;
    c->records += wk_event_nrecords(ev);
    return 0;
}

WK_TEST(memory_held_by_all_events_is_bounded)
{
    /* 40 events that never end, fed round-robin 8 KiB records (20 MiB in all): the held
     * bytes stay under WK_AU_HELD_MAX (the oldest others are emitted early), the memory
     * kept by slots stays under twice that, and no record is lost */
    const struct wk_parser_ops *ops = wk_parser_find("auditd");
    struct wk_parser_opts opts;
    struct wk_parser *p = NULL;
    struct count_sink c = { { count_emit, au_reject }, 0, 0 };
    wk_parser_opts_init(&opts);
    WK_ASSERT_OK(ops->create(&p, &opts));
    enum { PAD = 8000, LINES = 2600 };
    char *pad = malloc(PAD + 1), *line = malloc(PAD + 200);
    memset(pad, 'x', PAD);
    pad[PAD] = 0;
    size_t max_alloc = 0;
    for (int j = 0; j < LINES; j++) {
        int n = snprintf(line, PAD + 200,
                         "type=PATH msg=audit(1700000000.100:%d): item=%d name=\"%s\"",
                         100 + j % 40, j / 40, pad);
        struct wk_line_ctx where = { "mem", (uint64_t)j + 1, (uint64_t)j * (PAD + 100) };
        WK_ASSERT_OK(ops->feed_line(p, line, (size_t)n, &where, &c.sink));
        WK_ASSERT(p->held_bytes <= WK_AU_HELD_MAX + (size_t)n + sizeof(struct wk__au_held));
        size_t alloc = 0;
        for (int i = 0; i < WK_AU_SLOTS; i++)
            alloc += p->slots[i].bcap + p->slots[i].rcap * sizeof(struct wk__au_held);
        if (alloc > max_alloc)
            max_alloc = alloc;
    }
    WK_ASSERT(max_alloc > WK_AU_HELD_MAX / 2); /* the bound was really approached */
    WK_ASSERT(max_alloc <= 2 * WK_AU_HELD_MAX + WK_AU_SLOTS * 2 * WK_AU_SLOT_KEEP);
    unsigned before_flush = c.events;
    WK_ASSERT_OK(ops->flush(p, &c.sink));
    WK_ASSERT_UINT_EQ(p->held_bytes, 0);
    WK_ASSERT(before_flush > 0); /* events were closed early to stay in bounds */
    WK_ASSERT(c.events > 40);
    WK_ASSERT_UINT_EQ(c.records, LINES); /* every record came out once */
    ops->destroy(p);
    free(pad);
    free(line);
}

/* Lex one record body (fields from offset 0) of type typeno into fs. */
static void lex_body(struct wk__au_fields *fs, const char *body, size_t len, int typeno)
{
    WK_ASSERT_OK(wk__au_lex_fields(body, len, 0, typeno, fs));
}

/* After each record, the hints of its type are that record's names, in order: the next
 * record of the type is checked against them. */
static void assert_hints_are_last_record(const struct wk__au_fields *fs, int typeno)
{
    const struct wk__au_hints *h = &fs->hints[(unsigned)typeno % WK_AU_HINT_TYPES];
    WK_ASSERT_INT_EQ(h->typeno, typeno);
    WK_ASSERT_UINT_EQ(h->n, fs->n < WK_AU_HINT_FIELDS ? fs->n : WK_AU_HINT_FIELDS);
    for (size_t i = 0; i < h->n; i++) {
        if (h->nm[i] != fs->f[i].nm)
            WK_FAIL("hint %zu of type %d is %s, the record's name there is %.*s", i, typeno,
                    h->nm[i] ? h->nm[i]->key.name : "(none)", (int)fs->f[i].klen, fs->f[i].k);
    }
}

WK_TEST(lexer_hints_are_the_last_records_names_and_values_stop_at_the_end)
{
    /* The lexer takes a field's name from its type's hints when the line's bytes match, and
     * writes only the names that did not (a hit's hint holds the name already). A record
     * whose names shift (subj dropped, then back) must leave the hints equal to its own
     * names each time, whether each name was a hit or not; and every field is what a plain
     * split of the line says. */
    wk__au_names_init();
    static const char *const recs[] = {
        "arch=c000003e syscall=59 success=yes exit=0 items=2 ppid=1 pid=2 auid=0 uid=0 "
        "subj=unconfined key=(null)",
        "arch=c000003e syscall=59 success=yes exit=0 items=2 ppid=1 pid=2 auid=0 uid=0 "
        "key=(null)",
        "arch=c000003e syscall=59 success=no exit=-2 items=2 ppid=1 pid=2 auid=0 uid=0 "
        "subj=unconfined key=\"k\"",
        "arch=c000003e syscall=59 success=no exit=-2 items=2 ppid=1 pid=2 auid=0 uid=0 "
        "subj=unconfined key=\"k\"",
        "arch=c000003e syscall=59 new_field=1 success=yes exit=0 items=2 ppid=1 pid=2",
    };
    struct wk__au_fields fs;
    memset(&fs, 0, sizeof(fs));
    for (size_t r = 0; r < WK_ARRAY_SIZE(recs); r++) {
        const char *b = recs[r];
        lex_body(&fs, b, strlen(b), 1300);
        assert_hints_are_last_record(&fs, 1300);
        /* the fields: "k=v" tokens split on spaces (no spaces in these values) */
        size_t n = 0;
        for (const char *t = b; *t; n++) {
            const char *sp = strchr(t, ' ');
            size_t tl = sp ? (size_t)(sp - t) : strlen(t);
            const char *eq = memchr(t, '=', tl);
            WK_ASSERT(eq != NULL && n < fs.n);
            const struct wk__au_field *f = &fs.f[n];
            WK_ASSERT_MEM_EQ(f->k, f->klen, t, (size_t)(eq - t));
            size_t vl = tl - (size_t)(eq - t) - 1;
            const char *v = eq + 1;
            if (vl >= 2 && v[0] == '"') {
                v++;
                vl -= 2;
            }
            WK_ASSERT_MEM_EQ(f->v, f->vlen, v, vl);
            WK_ASSERT_UINT_EQ(f->khash, wk_key_hash(f->k, f->klen));
            if (f->nm)
                WK_ASSERT_MEM_EQ(f->nm->key.name, f->nm->key.len, f->k, f->klen);
            t += tl + (sp != NULL);
        }
        WK_ASSERT_UINT_EQ(fs.n, n);
    }
    /* A value at the very end of the record is empty and plain, whatever byte follows the
     * record in memory (here a quote, a brace and a single quote past len). */
    static const char *const tails[] = { "a=1 k=\"", "a=1 k={", "a=1 k='", "a=1 k=\"x" };
    for (size_t t = 0; t < WK_ARRAY_SIZE(tails); t++) {
        size_t len = strlen(tails[t]) - (t < 3 ? 1 : 0);
        lex_body(&fs, tails[t], len, 1300);
        WK_ASSERT_UINT_EQ(fs.n, 2);
        if (t < 3) {
            WK_ASSERT_UINT_EQ(fs.f[1].vlen, 0);
            WK_ASSERT_INT_EQ(fs.f[1].form, WK_AU_PLAIN);
        } else { /* an unterminated quote: the rest of the record */
            WK_ASSERT_INT_EQ(fs.f[1].form, WK_AU_DQUOTED);
            WK_ASSERT_MEM_EQ(fs.f[1].v, fs.f[1].vlen, "x", 1);
        }
    }
    wk__au_fields_fini(&fs);
}

WK_TEST(header_stamps_in_a_row)
{
    /* The header reuses the last stamp (the same text) and the last stamp's seconds (the
     * same seconds text): each stamp of this sequence, read after the one before it, is
     * what it says; seconds that differ in any digit, or in length, are parsed. */
    static const struct {
        const char *line;
        int64_t ts_ns;
        uint64_t serial;
    } seq[] = {
        { "type=SYSCALL msg=audit(1700000000.001:10): a=1", 1700000000001000000, 10 },
        { "type=PATH msg=audit(1700000000.001:10): a=1", 1700000000001000000, 10 },
        { "type=SYSCALL msg=audit(1700000000.002:11): a=1", 1700000000002000000, 11 },
        { "type=SYSCALL msg=audit(1700000001.002:12): a=1", 1700000001002000000, 12 },
        { "type=SYSCALL msg=audit(1800000001.5:13): a=1", 1800000001500000000, 13 },
        { "type=SYSCALL msg=audit(1800000001.25:9): a=1", 1800000001250000000, 9 },
        { "type=SYSCALL msg=audit(180000000.25:9): a=1", 180000000250000000, 9 },
        { "type=SYSCALL msg=audit(12.000:7): a=1", 12000000000, 7 },
        { "type=SYSCALL msg=audit(12.001:8): a=1", 12001000000, 8 },
        { "node=n1 type=SYSCALL msg=audit(1700000000.001:10): a=1", 1700000000001000000, 10 },
    };
    for (size_t i = 0; i < WK_ARRAY_SIZE(seq); i++) {
        struct wk__au_hdr h;
        const char *reason = NULL;
        WK_ASSERT_INT_EQ(wk__au_lex_header(seq[i].line, strlen(seq[i].line), &h, &reason), 0);
        if (h.ts_ns != seq[i].ts_ns || h.serial != seq[i].serial)
            WK_FAIL("%s: ts %lld serial %llu", seq[i].line, (long long)h.ts_ns,
                    (unsigned long long)h.serial);
        WK_ASSERT_MEM_EQ(seq[i].line + h.body, strlen(seq[i].line) - h.body, " a=1", 4);
    }
    /* a stamp whose seconds match the last one's but whose fraction is not a number */
    struct wk__au_hdr h;
    const char *reason = NULL;
    static const char bad[] = "type=SYSCALL msg=audit(1700000000.x:9): a=1";
    WK_ASSERT_INT_EQ(wk__au_lex_header(bad, strlen(bad), &h, &reason), WK_EPARSE);
}

WK_TEST(lexer_execve_argument_names_by_number)
{
    /* EXECVE's a<N>= names are found from N (no hash, no table probe): their name entry
     * below a128, N + 1 in argp1 past it, and the hash of their bytes either way; names that
     * are not canonical (a leading zero, past a1023, a suffix) take the ordinary path, and
     * other types never take this one. */
    wk__au_names_init();
    static const char b[] = "argc=9 a0=\"x\" a7=y a127=z a128=\"w\" a1023=v a1024=u a01=t "
                            "a2_len=4 a2[0]=ab a=s";
    static const struct {
        const char *k;
        bool nm;
        unsigned argp1; /* when !nm */
    } want[] = {
        { "argc", true, 0 }, { "a0", true, 0 },     { "a7", true, 0 },
        { "a127", true, 0 }, { "a128", false, 129 }, { "a1023", false, 1024 },
        { "a1024", false, 0 }, { "a01", false, 0 }, { "a2_len", false, 0 },
        { "a2[0]", false, 0 }, { "a", false, 0 },
    };
    struct wk__au_fields fs;
    memset(&fs, 0, sizeof(fs));
    for (int pass = 0; pass < 3; pass++) { /* no hints, then hinted, then another type */
        const int typeno = pass < 2 ? 1309 : 1300;
        lex_body(&fs, b, strlen(b), typeno);
        WK_ASSERT_UINT_EQ(fs.n, WK_ARRAY_SIZE(want));
        for (size_t i = 0; i < fs.n; i++) {
            const struct wk__au_field *f = &fs.f[i];
            WK_ASSERT_MEM_EQ(f->k, f->klen, want[i].k, strlen(want[i].k));
            WK_ASSERT_UINT_EQ(f->khash, wk_key_hash(f->k, f->klen));
            WK_ASSERT_INT_EQ(f->nm != NULL, want[i].nm);
            if (f->nm) {
                WK_ASSERT_MEM_EQ(f->nm->key.name, f->nm->key.len, f->k, f->klen);
                unsigned n = 0;
                bool arg = sscanf(want[i].k, "a%u", &n) == 1 && !strchr(want[i].k, '_');
                WK_ASSERT_UINT_EQ(f->nm->argp1, arg ? n + 1 : 0);
            } else if (typeno == 1309) {
                WK_ASSERT_UINT_EQ(f->argp1, want[i].argp1);
            } else {
                WK_ASSERT_UINT_EQ(f->argp1, 0);
            }
        }
        WK_ASSERT_MEM_EQ(fs.f[4].v, fs.f[4].vlen, "w", 1);
        WK_ASSERT_MEM_EQ(fs.f[5].v, fs.f[5].vlen, "v", 1);
    }
    wk__au_fields_fini(&fs);
}

WK_TEST(long_execve_record_keeps_every_field)
{
    /* A record of many fields sizes the event's table before they are added (one resize,
     * not growing while they come): every field of the records before it, of it and after
     * it is there, in order, with its value. */
    enum { ARGS = 300 };
    size_t cap = 64 * ARGS + 4096, n = 0;
    char *in = malloc(cap);
    n += (size_t)snprintf(in + n, cap - n, "%s\n",
                          SYSC("777", "4242", "1", "/usr/bin/many", ""));
    n += (size_t)snprintf(in + n, cap - n,
                          "type=EXECVE msg=audit(1700000000.100:777): argc=%d", ARGS);
    for (int i = 0; i < ARGS; i++)
        n += (size_t)snprintf(in + n, cap - n, " a%d=\"arg-%d\"", i, i);
    n += (size_t)snprintf(in + n, cap - n,
                          "\ntype=CWD msg=audit(1700000000.100:777): cwd=\"/w\"\n"
                          "type=PATH msg=audit(1700000000.100:777): item=0 name=\"/usr/bin/many\" "
                          "inode=1 dev=fd:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 "
                          "nametype=NORMAL\n"
                          "type=EOE msg=audit(1700000000.100:777): \n");
    struct au_collect c;
    au_collect_init(&c);
    au_run(&c, "many", in, n);
    WK_ASSERT_INT_EQ(c.events, 1);
    const struct wk_event *ev = c.copies[0];
    WK_ASSERT_UINT_EQ(wk_event_nrecords(ev), 4); /* EOE adds no record */
    assert_str(ev, 1, "type", "SYSCALL");
    assert_str(ev, 1, "pid", "4242");
    assert_str(ev, 1, "ARCH", "x86_64");
    assert_str(ev, 1, "SYSCALL", "execve");
    assert_str(ev, 1, "AUID", "unset");
    assert_str(ev, 2, "type", "EXECVE");
    char name[16], want[16];
    for (int i = 0; i < ARGS; i++) {
        snprintf(name, sizeof(name), "a%d", i);
        snprintf(want, sizeof(want), "arg-%d", i);
        assert_str(ev, 2, name, want);
    }
    assert_str(ev, 3, "cwd", "/w");
    assert_str(ev, 4, "nametype", "NORMAL");
    assert_str(ev, 4, "OUID", "root");
    const struct wk_value *args = ev_get(ev, 0, "process.args");
    WK_ASSERT(args && args->kind == WK_VAL_STRLIST);
    WK_ASSERT_UINT_EQ(args->len, ARGS);
    for (int i = 0; i < ARGS; i++) {
        snprintf(want, sizeof(want), "arg-%d", i);
        WK_ASSERT_MEM_EQ(args->u.items[i].s, args->u.items[i].len, want, strlen(want));
    }
    /* the order of the fields: records in order, each record's in the line's order */
    size_t nf = wk_event_nfields(ev), next_arg = 0;
    unsigned last_rec = 0;
    for (size_t i = 0; i < nf; i++) {
        const struct wk_key *k = wk_event_field_key(ev, i);
        const struct wk_value *v = wk_event_field_value(ev, i);
        if (v->rec) {
            WK_ASSERT(v->rec >= last_rec);
            last_rec = v->rec;
        }
        if (v->rec == 2 && k->name[0] == 'a' && k->name[1] != 'r') {
            snprintf(name, sizeof(name), "a%zu", next_arg++);
            WK_ASSERT_STR_EQ(k->name, name);
        }
    }
    WK_ASSERT_UINT_EQ(next_arg, ARGS);
    au_collect_fini(&c);
    free(in);
}
