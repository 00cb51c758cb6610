#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `watchkeeper ingest --format auditd` (and auto-detection) end to end: audit logs from the
# shared corpus go into a store and come back out of `query` with the fields the parser
# made; event counts equal the golden outputs of the unit tests; ingesting again stores
# nothing; a malformed line is quarantined and reported with file and line.
. "$(dirname "$0")/lib.sh"

S=$WK_TMP/store
C=$WK_CORPUS/auditd
[ -d "$C" ] || C=$WK_SRCDIR/../../shared/corpus/auditd
[ -d "$C" ] || wk_skip "corpus not found"
G=$WK_SRCDIR/tests/golden/auditd

files=(laurel/record-execve.txt laurel/record-connect.txt beats/auditbeat-sudo.log
       beats/filebeat-module-auditd-audit-cent7-node.log go-libaudit/auparse__audit-rhel7.log
       audit-userspace/test3.log laurel/record-execve-long.txt)
total=0
for f in "${files[@]}"; do
    wk_run 0 "$WK_BIN" ingest --store "$S" --format auditd "$C/$f"
    want=$(grep -vc '^#' "$G/${f//\//_}.jsonl")
    rej=$(grep -c '^#' "$G/${f//\//_}.jsonl" || true)
    wk_expect_eq "$WK_OUT" "$C/$f: $want events, $rej rejected" "ingest summary of $f"
    total=$((total + want))
done
grep -q "auparse__audit-rhel7.log:31: no msg=audit(...) after the record type" <<<"$(
    "$WK_BIN" ingest --store "$WK_TMP/s2" --format auditd "$C/go-libaudit/auparse__audit-rhel7.log" 2>&1)" ||
    wk_fail "the malformed line is not reported with file and line"

# again: nothing new
wk_run 0 "$WK_BIN" ingest --store "$S" --format auditd "$C/laurel/record-execve.txt"
wk_expect_eq "$WK_OUT" "$C/laurel/record-execve.txt: 0 events, 0 rejected" "re-ingest"

# auto-detected
wk_run 0 "$WK_BIN" ingest --store "$WK_TMP/s3" "$C/beats/auditbeat-chown.log"
wk_expect_eq "$WK_OUT" "$C/beats/auditbeat-chown.log: 1 events, 0 rejected" "detected format"

wk_run 0 "$WK_BIN" query --store "$S" --since 2000-01-01 --until now --format jsonl
wk_expect_eq "$(wc -l <<<"$WK_OUT")" "$total" "events stored"
wk_run 0 "$WK_BIN" query --store "$S" --since 2000-01-01 --until now --format csv \
    --where event.action=execve --where host.name=work \
    --fields auditd.serial,Image,CommandLine,CurrentDirectory,User,process.parent.pid
wk_expect_eq "$WK_OUT" "auditd.serial,Image,CommandLine,CurrentDirectory,User,process.parent.pid
15558,/usr/bin/whoami,whoami,/home/user/tmp,root,10883" "execve event as queried"
wk_run 0 "$WK_BIN" query --store "$S" --since 2000-01-01 --until now --format csv \
    --where destination.port=11211 --fields destination.ip,event.outcome,error.code
wk_expect_eq "$WK_OUT" "destination.ip,event.outcome,error.code
127.0.0.1,success,
::1,failure,EINPROGRESS" "SOCKADDR decoded"
