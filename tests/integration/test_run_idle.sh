#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The file sources' idle mode: with nothing new, `watchkeeper run` (auditd, clog and
# file_jsonl sources on files) stops polling: its loop thread wakes at most a few times a
# second (counted as voluntary context switches in /proc). Then, with the safety polls at
# 60 s so that only inotify can wake the sources, what is appended, rotated in, truncated
# and written to a new container's log file must be stored within 3 s each, once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
command -v jq >/dev/null || wk_skip "needs jq"

in=$WK_TMP/in
store=$WK_TMP/store
cfg=$WK_TMP/wk.yaml
CID1=$(printf 'c1%062d' 0)
CID2=$(printf 'c2%062d' 0)
mkdir -p "$in/docker/containers/$CID1"
clog1=$in/docker/containers/$CID1/$CID1-json.log
: >"$clog1"
: >"$in/audit.log"
: >"$in/events.jsonl"
cat >"$cfg" <<YAML
store:
  path: $store
  fsync: false
sources:
  - {type: auditd, name: audit, path: $in/audit.log, read_proc: false, lost_poll: 0s,
     poll: 100ms, idle_poll: 60s}
  - {type: clog, name: clog, docker_root: $in/docker, pods_dir: "", containers_dir: "",
     poll_interval: 100ms, idle_poll: 60s, rescan_interval: 60s}
  - {type: file_jsonl, name: docker, path: $in/events.jsonl, format: docker-events,
     poll: 100ms, idle_poll: 60s}
rules:
  dirs: [$WK_TMP/rules]
outputs:
  - type: file
    path: $WK_TMP/alerts.jsonl
api:
  socket: $WK_TMP/api.sock
pipeline:
  batch_age: 50ms
YAML
wk_rules_pack "$WK_TMP/rules"
wk_run 0 "$WK_BIN" config check "$cfg"

# One audit event (SYSCALL, EXECVE, EOE: closed at once) with serial $1, stamped now (as
# auditd does; the live source holds an event's records for 2 s of that time), written
# record by record (as auditd does).
audit_event() {
    local s=$1 now
    now=$(date +%s)
    printf 'type=SYSCALL msg=audit(%d.%03d:%d): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=0 ppid=1 pid=%d auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="idle%d" exe="/bin/idle%d" key=(null)\n' \
        "$now" "$((s % 1000))" "$s" "$((s + 1000))" "$s" "$s"
    printf 'type=EXECVE msg=audit(%d.%03d:%d): argc=1 a0="idle%d"\n' "$now" "$((s % 1000))" "$s" "$s"
    printf 'type=EOE msg=audit(%d.%03d:%d): \n' "$now" "$((s % 1000))" "$s"
}
# A json-file line saying $1.
clog_line() { printf '{"log":"%s\\n","stream":"stdout","time":"2026-11-23T10:00:00.%09dZ"}\n' "$1" "$2"; }
# The corpus' first Docker event (moby API v1.24 example) with timeNano $1.
dock_line() {
    head -1 "$WK_CORPUS/docker-events/moby-api-v1.24-events-example.jsonl" |
        jq -c --argjson n "$1" '.timeNano = $n'
}

"$WK_BIN" run -c "$cfg" 2>"$WK_TMP/daemon.log" &
WK_PID=$!
wk_track_pid "$WK_PID"
wk_wait_for 20 test -S "$WK_TMP/api.sock" || wk_fail "no API socket: $(cat "$WK_TMP/daemon.log")"

audit_event 1 >>"$in/audit.log"
clog_line "first" 1 >>"$clog1"
dock_line 1 >>"$in/events.jsonl"
wk_wait_committed 3 10 || wk_fail "first events not committed: $(wk_status_field .pipeline.committed)"

# --- idle: the loop thread sleeps --------------------------------------------------------
sleep 1.5 # 3 quiet polls (100 ms) and a margin: every source is idle now
csw() { awk '/^voluntary_ctxt_switches:/ {print $2}' "/proc/$WK_PID/task/$WK_PID/status"; }
c0=$(csw)
sleep 5
c1=$(csw)
wakes=$((c1 - c0))
echo "# loop thread: $wakes wakeups in 5 s idle"
# Polling at 100 ms (clog), 100 ms (auditd), 100 ms (file_jsonl) and the 100 ms daemon
# tick woke it ~40 times a second; idle, the daemon's 1 s tick is what is left.
[ "$wakes" -le 15 ] || wk_fail "loop thread woke $wakes times in 5 s idle (want <= 15)"

# --- only inotify can wake the sources now (safety polls at 60 s) ------------------------
# committed within 3 s: one more event of each kind
within3() { wk_wait_committed "$1" 3 || wk_fail "$2: not stored within 3 s (committed $(wk_status_field .pipeline.committed), want $1)"; }
audit_event 2 >>"$in/audit.log"
within3 4 "audit append"
sleep 1.5
clog_line "second" 2 >>"$clog1"
within3 5 "container log append"
sleep 1.5
dock_line 2 >>"$in/events.jsonl"
within3 6 "docker event append"
sleep 1.5
# auditd rotation (rename, new file)
mv "$in/audit.log" "$in/audit.log.1"
audit_event 3 >"$in/audit.log"
within3 7 "audit.log rotated"
sleep 1.5
# file_jsonl truncation (copytruncate): the new first line is read from the start
: >"$in/events.jsonl"
dock_line 3 >>"$in/events.jsonl"
within3 8 "events file truncated"
sleep 1.5
# a new container and its log file
mkdir -p "$in/docker/containers/$CID2"
clog_line "new container" 3 >>"$in/docker/containers/$CID2/$CID2-json.log"
within3 9 "new container log file"
sleep 1.5
# json-file rotation of the first container
mv "$clog1" "$clog1.1"
clog_line "after rotation" 4 >"$clog1"
within3 10 "container log rotated"

kill -TERM "$WK_PID"
wait "$WK_PID" || wk_fail "daemon exit status $?"

# --- stored once each, nothing else ------------------------------------------------------
wk_stored "$store" >"$WK_TMP/stored.jsonl"
wk_expect_eq "$(jq -r '.event.module' "$WK_TMP/stored.jsonl" | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')" \
    "auditd=3 clog=4 docker=3 " "stored events per source"
wk_expect_eq "$(jq -r 'select(.event.module == "clog") | .message' "$WK_TMP/stored.jsonl" | sort | tr '\n' '|')" \
    "after rotation|first|new container|second|" "container log messages"
wk_expect_eq "$(jq -r 'select(.event.module == "auditd") | .["auditd.serial"] // .auditd.serial' "$WK_TMP/stored.jsonl" | sort | tr '\n' ' ')" \
    "1 2 3 " "audit serials"
wk_expect_eq "$(jq -r 'select(.event.module == "docker") | .timeNano' "$WK_TMP/stored.jsonl" | sort | tr '\n' ' ')" \
    "1 2 3 " "docker events"
