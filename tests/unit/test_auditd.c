/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The auditd parser: lexing, decoding, assembly, gaps, rejects, resume offsets, container
 * attribution, and golden outputs over ../shared/corpus/auditd/ (exact JSON lines in
 * tests/golden/auditd/; WK_UPDATE_GOLDEN=1 rewrites them after a reviewed change).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "../../collector/sources/auditd/auditd_private.h"
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

