/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel's count of audit records it dropped (backlog full, rate limit): what
 * `auditctl -s` shows as `lost`. The live sources poll it and report an increase as a `gap`
 * event, so coverage lost before auditd even saw it is visible too. Reading it is an
 * AUDIT_GET request on a NETLINK_AUDIT socket, which the kernel allows only with
 * CAP_AUDIT_CONTROL: without it the count is unknown, and the daemon says so (below).
 */
#include "config.h"

#include <errno.h>
#include <libaudit.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "auditd_private.h"
#include "source_private.h"
#include "watchkeeper/log.h"

int wk__au_kernel_lost(uint32_t *lost)
{
    int fd = audit_open();
    if (fd < 0)
        return -errno;
    int rc = -EIO;
    /* -1 with errno set by the kernel's answer (EPERM without CAP_AUDIT_CONTROL) */
    errno = 0;
    int sent = audit_request_status(fd);
    if (sent <= 0)
        rc = errno ? -errno : -EIO;
    if (sent > 0) {
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
    int rc = wk__au_kernel_lost(&v);
    if (rc == -EPERM || rc == -EACCES) {
        /* The usual cause is a unit or container that dropped the capability: say which
         * one, once an hour at most (lost_poll repeats every 10 s by default). */
        static struct wk_ratelimit rl = WK_RATELIMIT_INIT(3600, 1);
        if (wk_ratelimit_ok(&rl))
            wk_log_warn("auditd: cannot read the kernel's lost-record count (auditctl -s): "
                        "%s: it needs CAP_AUDIT_CONTROL (add it to the unit's "
                        "CapabilityBoundingSet; an auditd source's lost_poll: 0s turns the "
                        "check off); records the kernel drops go unreported", strerror(-rc));
        return 0;
    }
    if (rc < 0) { /* no audit support in this kernel or namespace: nothing to watch */
        wk_log_debug("auditd: kernel lost-record count: %s", strerror(-rc));
        return 0;
    }
    if (!l->have) { /* what was lost before we started is not ours to report */
        wk_log_debug("auditd: kernel lost-record count read: %u lost before start", v);
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
