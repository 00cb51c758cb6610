#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The auditd source against a real auditd (own config and log dir) and real Docker
# containers (own dockerd): rules added with auditctl and removed exactly in teardown,
# commands on the host and in containers (docker run, docker exec), a rotation (USR1) and a
# collector restart mid-run. Asserts decoded fields, container attribution, and that every
# event is stored exactly once. wk_auditd_driver stands in for the daemon (tail + cursor).
. "$(dirname "$0")/lib.sh"

wk_require_root "auditd and dockerd"
for b in auditd auditctl dockerd docker; do
    command -v "$b" >/dev/null || wk_skip "$b not installed"
done
DRIVER=${WK_BUILDDIR:?}/tests/integration/wk_auditd_driver
[ -x "$DRIVER" ] || wk_fail "no driver at $DRIVER"
if pgrep -x auditd >/dev/null; then
    wk_skip "an auditd is already running (pid $(pgrep -x auditd)); only one can talk to the kernel"
fi

A=$WK_TMP/audit
mkdir -p "$A/plugins.d" "$A/log" "$WK_TMP/watched"
wk_auditd_conf "$A" "num_logs = 9" "priority_boost = 4" "use_libwrap = no" \
    "tcp_listen_queue = 5" "tcp_max_per_addr = 1" "tcp_client_max_idle = 0" "transport = TCP" \
    "distribute_network = no" "q_depth = 2000" "overflow_action = SYSLOG" "max_restarts = 10"
auditd -n -c "$A" >"$WK_TMP/auditd.out" 2>&1 &
AUDITD_PID=$!
wk_track_pid "$AUDITD_PID"
for _ in $(seq 1 50); do [ -s "$A/log/audit.log" ] && break; sleep 0.1; done
[ -s "$A/log/audit.log" ] || wk_fail "auditd did not start: $(cat "$WK_TMP/auditd.out")"

# The rules, removed exactly in teardown.
RULES=(
    "-a always,exit -F arch=b64 -S execve -k wkit_exec"
    "-a always,exit -F arch=b64 -S mount,unshare,setns -k wkit_ns"
    "-a always,exit -F arch=b64 -S chmod,fchmodat -F dir=$WK_TMP/watched -k wkit_chmod"
    "-w $WK_TMP/watched -p wa -k wkit_watch"
)
for r in "${RULES[@]}"; do
    # shellcheck disable=SC2086
    auditctl $r >/dev/null || wk_fail "auditctl $r"
    d=${r/#-a /-d }
    d=${d/#-w /-W }
    wk_on_exit "auditctl $d >/dev/null 2>&1"
done

# Our dockerd, with its own dirs.
D=$WK_TMP/docker
mkdir -p "$D/data" "$D/exec"
SOCK=unix://$D/d.sock
setsid dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
    --data-root="$D/data" --exec-root="$D/exec" -H "$SOCK" --pidfile "$D/docker.pid" \
    >"$D/dockerd.log" 2>&1 &
wk_track_pid $!
DK() { docker -H "$SOCK" "$@"; }
for _ in $(seq 1 100); do DK info >/dev/null 2>&1 && break; sleep 0.2; done
DK info >/dev/null 2>&1 || wk_fail "dockerd did not start: $(tail -5 "$D/dockerd.log")"
R=$WK_TMP/rootfs
mkdir -p "$R/bin"
cp "$(readlink -f /bin/busybox)" "$R/bin/busybox"
for t in sh ls cat echo id uname sleep true; do ln -s busybox "$R/bin/$t"; done
tar -C "$R" -c . | DK import - wk-busybox >/dev/null

# The collector (driver) from the start of the log.
OUT=$WK_TMP/events.jsonl
CUR=$WK_TMP/cursor
start_driver() {
    "$DRIVER" tail "$A/log/audit.log" "$CUR" "$OUT" 2>>"$WK_TMP/driver.err" &
    DRIVER_PID=$!
    wk_track_pid "$DRIVER_PID"
}
stop_driver() {
    kill -TERM "$DRIVER_PID"
    wait "$DRIVER_PID" || wk_fail "driver exited $?: $(cat "$WK_TMP/driver.err")"
}
start_driver

# --- host activity
M=$WK_TMP/wkit-host-marker
cp "$(readlink -f /bin/true)" "$M"
"$M" first-arg "two words"
touch "$WK_TMP/watched/f"
chmod 600 "$WK_TMP/watched/f"
unshare -U true

# --- containers: docker run, then a long one with docker exec
# short-lived processes: 20 cat execs in a container that is gone before we could look
DK run --network none --name wkit-run wk-busybox sh -c 'i=0; while [ $i -lt 20 ]; do cat /wkc-run-$i 2>/dev/null; i=$((i+1)); done; true' || true
CID_RUN=$(DK inspect -f '{{.Id}}' wkit-run)
CID_EX=$(DK run -d --network none --name wkit-exec wk-busybox sleep 120)
sleep 0.5

# rotate mid-run, then restart the collector mid-run
kill -USR1 "$AUDITD_PID"
for _ in $(seq 1 50); do [ -e "$A/log/audit.log.1" ] && break; sleep 0.1; done
[ -e "$A/log/audit.log.1" ] || wk_fail "auditd did not rotate"
DK exec wkit-exec sh -c 'id; uname -a; i=0; while [ $i -lt 10 ]; do cat /wkc-exec-1-$i 2>/dev/null; i=$((i+1)); done; true' >/dev/null || true
sleep 1
stop_driver
DK exec wkit-exec sh -c 'i=0; while [ $i -lt 10 ]; do cat /wkc-exec-2-$i 2>/dev/null; i=$((i+1)); done; true' || true
"$M" after-restart
kill -USR1 "$AUDITD_PID"
for _ in $(seq 1 50); do [ -e "$A/log/audit.log.2" ] && break; sleep 0.1; done
DK exec wkit-exec ls /wkc-exec-3 >/dev/null 2>&1 || true
start_driver
sleep 4 # past end_of_event_timeout, and a few polls
stop_driver
DK rm -f wkit-exec wkit-run >/dev/null

# --- every event once: the live output against a fresh parse of all the log files
ordered=()
for i in 9 8 7 6 5 4 3 2 1; do [ -e "$A/log/audit.log.$i" ] && ordered+=("$A/log/audit.log.$i"); done
ordered+=("$A/log/audit.log")
"$DRIVER" parse "${ordered[@]}" >"$WK_TMP/all.jsonl" 2>"$WK_TMP/parse.err"
# events still open in the live run (after its last poll) may be missing at its end only
live=$(jq -r 'select(.event.kind=="event") | "\(.auditd.serial)"' "$OUT" | sort)
dups=$(uniq -d <<<"$live" | wc -l)
wk_expect_eq "$dups" "0" "events stored twice across rotation and restart"
# the host keeps logging after the collector stopped: compare up to the last serial it took
maxlive=$(sort -n <<<"$live" | tail -1)
all=$(jq -r "select(.event.kind==\"event\" and .auditd.serial <= $maxlive) | \"\(.auditd.serial)\"" "$WK_TMP/all.jsonl" | sort -u)
# events still held when the collector stopped are in its cursor (byte 32: how many, then
# their serials): the next start would emit them
nheld=$(od -A n -t u1 -j 32 -N 1 "$CUR" | tr -d ' ')
held=""
if [ "$nheld" -le 16 ] && [ "$nheld" -gt 0 ]; then
    held=$(od -A n -t u8 -j 33 -N $((8 * nheld)) -w8 "$CUR" | tr -d ' ')
fi
missing=$(comm -23 <(echo "$all") <(echo "$live") | { grep -vxF -f <(echo "${held:-none}") || true; } | wc -l)
wk_expect_eq "$missing" "0" "events in the log files but not collected"
echo "events collected: $(wc -l <<<"$live") (log files hold $(wc -l <<<"$all"))"

# --- decoded fields and attribution
ev() { jq -c "select(.event.action==\"execve\" and ($1))" "$OUT"; }
host=$(ev ".process.executable==\"$M\" and .process.args[1]==\"first-arg\"" | head -1)
[ -n "$host" ] || wk_fail "no execve event for the host marker"
wk_expect_eq "$(jq -r '.process.command_line' <<<"$host")" "$M first-arg two words" "host command line"
wk_expect_eq "$(jq -r '.Image' <<<"$host")" "$M" "Image"
wk_expect_eq "$(jq -r '.container.id // "none"' <<<"$host")" "none" "host process has no container"
wk_expect_eq "$(jq -r '.records[0].SYSCALL' <<<"$host")" "execve" "ENRICHED SYSCALL name"
wk_expect_eq "$(jq -r '.tags[0]' <<<"$host")" "wkit_exec" "audit key as tag"
wk_expect_eq "$(jq -r '.User' <<<"$host")" "root" "User"
ev ".process.executable==\"$M\" and .process.args[1]==\"after-restart\"" | grep . >/dev/null ||
    wk_fail "the execve made while the collector was down was not collected"
ch=$(jq -c "select(.auditd.key==\"wkit_chmod\" and .event.action==\"fchmodat\" and .file.path==\"$WK_TMP/watched/f\")" "$OUT")
[ -n "$ch" ] || wk_fail "no fchmodat event for the watched file"
wk_expect_eq "$(jq -r '.event.outcome' <<<"$ch")" "success" "chmod outcome"
jq -c "select(.auditd.key==\"wkit_watch\" and .file.path==\"$WK_TMP/watched/f\")" "$OUT" | grep . >/dev/null ||
    wk_fail "no watch event for the watched file"
jq -c 'select(.event.action=="unshare" and .auditd.key=="wkit_ns")' "$OUT" | grep . >/dev/null ||
    wk_fail "no unshare event"

# container processes: execve events of the image's /bin/busybox whose args carry our wkc-
# markers (the host's docker client carries them too, but runs /usr/.../docker)
total=0
right=0
while read -r line; do
    [ -n "$line" ] || continue
    total=$((total + 1))
    args=$(jq -r '.process.args | join(" ")' <<<"$line")
    cid=$(jq -r '.container.id // ""' <<<"$line")
    case "$args" in
    *wkc-run-*) want=$CID_RUN ;;
    *wkc-exec-*) want=$CID_EX ;;
    *) want=$(jq -r '.container.id // ""' <<<"$line") ;;
    esac
    [ "$cid" = "$want" ] && [ -n "$cid" ] && right=$((right + 1))
done < <(jq -c 'select(.event.action=="execve" and .process.executable=="/bin/busybox" and (.process.args | join(" ") | test("wkc-(run|exec)-")))' "$OUT")
echo "attribution: $right of $total marked container execve events attributed to the right container"
[ "$total" -ge 40 ] || wk_fail "too few container execve events seen ($total)"
wk_expect_eq "$right" "$total" "container execve events attributed correctly"
# the same from the files alone (as `ingest` sees them: no /proc, ancestry in the stream)
ftotal=0
fright=0
while read -r line; do
    [ -n "$line" ] || continue
    ftotal=$((ftotal + 1))
    args=$(jq -r '.process.args | join(" ")' <<<"$line")
    cid=$(jq -r '.container.id // ""' <<<"$line")
    case "$args" in *wkc-run-*) want=$CID_RUN ;; *) want=$CID_EX ;; esac
    [ "$cid" = "$want" ] && fright=$((fright + 1))
done < <(jq -c 'select(.event.action=="execve" and .process.executable=="/bin/busybox" and (.process.args | join(" ") | test("wkc-(run|exec)-")))' "$WK_TMP/all.jsonl")
echo "attribution from the log files alone: $fright of $ftotal"
wk_expect_eq "$fright" "$ftotal" "container execve events attributed from the stream alone"
# every busybox program our containers ran, whoever started it (sh children included)
in_ctr=$(jq -r "select(.event.action==\"execve\" and (.container.id==\"$CID_RUN\" or .container.id==\"$CID_EX\")) | .process.executable" "$OUT" | sort | uniq -c | tr '\n' ';')
echo "container execve by image path: $in_ctr"
