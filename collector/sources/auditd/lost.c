/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel's count of audit records it dropped (backlog full, rate limit): what
 * `auditctl -s` shows as `lost`. The live sources poll it and report an increase as a `gap`
 * event, so coverage lost before auditd even saw it is visible too. Needs CAP_AUDIT_CONTROL;
 * without it the count is simply unknown.
 */
#include "config.h"

#include <errno.h>
#include <libaudit.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "auditd_private.h"
#include "source_private.h"

int wk__au_kernel_lost(uint32_t *lost)
{
    int fd = audit_open();
    if (fd < 0)
        return -errno;
    int rc = -EIO;
    if (audit_request_status(fd) > 0) {
        /* the kernel answers at once; wait at most 20 ms so the loop never stalls */
        for (int tries = 0; tries < 4; tries++) {
            struct pollfd pfd = { fd, POLLIN, 0 };
            if (poll(&pfd, 1, 5) <= 0)
                continue;
            struct audit_reply rep;
            memset(&rep, 0, sizeof(rep));
            if (audit_get_reply(fd, &rep, GET_REPLY_NONBLOCKING, 0) <= 0)
                continue;
            if (rep.type == AUDIT_GET && rep.status) {
                *lost = rep.status->lost;
                rc = 0;
                break;
            }
        }
    }
    audit_close(fd);
    return rc;
}

int wk__au_lost_check(struct wk__au_lost *l, struct wk_parser *p, struct wk_parser_sink *sink,
                      int64_t now_ns)
{
    uint32_t v;
    if (wk__au_kernel_lost(&v) < 0)
        return 0;
    if (!l->have) { /* what was lost before we started is not ours to report */
        l->have = true;
        l->last = v;
        return 0;
    }
    if (v == l->last)
        return 0;
    uint64_t delta = v > l->last ? v - l->last : v; /* the counter was reset */
    l->last = v;
    return wk__au_emit_gap(p, sink, now_ns, "kernel audit records lost", delta, 0, 0, NULL, 0);
}
