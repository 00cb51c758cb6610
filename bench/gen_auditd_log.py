#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Generate a real-shaped audit log for bench_auditd: the events of the shared corpus
# (../shared/corpus/auditd, RAW and ENRICHED, multi-record execve/connect/PATH events, user
# records) repeated with fresh serials (consecutive per node, auditd's DAEMON_* records counted
# apart, as auditd numbers them) and increasing timestamps and varied pids, until the file
# reaches SIZE MiB. Usage: gen_auditd_log.py CORPUS_DIR OUT SIZE_MIB
import re, sys, random

corpus, out, size_mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = ["laurel/record-execve.txt", "laurel/record-connect.txt", "laurel/record-nscd.txt",
         "laurel/record-perl-reverse-shell.txt", "laurel/record-syscall-key.txt",
         "laurel/record-weblogic.txt", "laurel/record-ptrace.txt", "laurel/shell-proc-trace.txt",
         "audit-userspace/test4.log", "beats/auditbeat-chown.log", "beats/auditbeat-sudo.log",
         "go-libaudit/root__normal.log", "go-libaudit/auparse__audit-rhel7.log"]
hdr = re.compile(rb"msg=audit\((\d+)\.(\d+):(\d+)\)")
events = []
for f in files:
    groups = {}
    order = []
    for line in open(f"{corpus}/auditd/{f}", "rb"):
        line = line.rstrip(b"\n")
        m = hdr.search(line)
        if not m or line.startswith(b"#"):
            continue
        k = (m.group(3), line.split(b" type=")[0] if line.startswith(b"node=") else b"")
        if k not in groups:
            groups[k] = []
            order.append(k)
        groups[k].append(line)
    for k in order:
        # auditd's own DAEMON_* records carry auditd's serials, not the kernel's: they get
        # their own counter (in a range of their own, as they never share an event with the
        # kernel's), so the kernel serials of a node stay consecutive (no gap event)
        daemon = any(re.match(rb"(node=\S+ )?type=DAEMON_", l) for l in groups[k])
        events.append((k[1], daemon, groups[k]))
random.seed(42)
limit = size_mib << 20
serials = {}  # (node prefix, daemon?) -> last serial: consecutive per node, like auditd
ts = 1700000000000
count = 0
pid = re.compile(rb" pid=(\d+)")
written = 0
with open(out, "wb") as o:
    while written < limit:
        node, daemon, ev = random.choice(events)
        serial = serials.get((node, daemon), 900000000 if daemon else 1000) + 1
        serials[(node, daemon)] = serial
        count += 1
        ts += random.randint(0, 3)
        stamp = b"msg=audit(%d.%03d:%d)" % (ts // 1000, ts % 1000, serial)
        newpid = b" pid=%d" % random.randint(1000, 400000)
        buf = b"".join(pid.sub(newpid, hdr.sub(stamp, l)) + b"\n" for l in ev)
        o.write(buf)
        written += len(buf)
print(f"{out}: {written} bytes, {count} events")
