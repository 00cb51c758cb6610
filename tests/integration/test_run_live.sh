#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The product live, end to end: `watchkeeper run` with the docker, clog and auditd sources
# against a real dockerd and a real auditd (own dirs; audit rules added and removed
# exactly), the default rule pack and a file output. Real containers (host mount,
# CAP_SYS_ADMIN, the Docker socket, host PID, docker exec reading /etc/shadow, chmod u+s)
# must be stored once each with their enrichment, logs byte for byte, exec records
# attributed to their container, the expected alerts written, the store verified; then a
# restart on the same store must store nothing twice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/docker_lib.sh"

wk_docker_require
for b in auditd auditctl jq; do command -v "$b" >/dev/null || wk_skip "$b not installed"; done
wk_require_no_auditd

# --- a real auditd: own config and log, our rules only -----------------------------------
A=$WK_TMP/audit
mkdir -p "$A/plugins.d" "$A/log"
wk_auditd_conf "$A" "num_logs = 2"
auditd -n -c "$A" </dev/null >"$WK_TMP/auditd.out" 2>&1 &
AUDITD_PID=$!
wk_track_pid "$AUDITD_PID"
wk_wait_for 10 test -s "$A/log/audit.log" || wk_fail "auditd did not start: $(cat "$WK_TMP/auditd.out")"
RULES=(
    "-a always,exit -F arch=b64 -S execve -k wklive_exec"
    "-a always,exit -F arch=b64 -S mount,unshare,setns -k wklive_ns"
    "-a always,exit -F arch=b64 -S chmod,fchmodat -k wklive_chmod"
)
for r in "${RULES[@]}"; do
    d=${r/#-a /-d }
    wk_on_exit "auditctl $d >/dev/null 2>&1"
    # shellcheck disable=SC2086
    auditctl $r >/dev/null || wk_fail "auditctl $r"
done

# --- a real dockerd and a busybox image with the applets the scenario needs -----------
# (wk_dockerd_start, with the socket named docker.sock as a host's would be)
DOCKER_ROOT=$WK_TMP/docker
mkdir -p "$DOCKER_ROOT/data" "$DOCKER_ROOT/exec"
DOCKER_SOCK=$DOCKER_ROOT/docker.sock
wk_on_exit _wk_dockerd_cleanup
_wk_dockerd_launch
root=$WK_TMP/rootfs
mkdir -p "$root/bin" "$root/tmp" "$root/etc"
cp /bin/busybox "$root/bin/busybox"
for a in sh cat echo id sleep chmod touch; do ln -s busybox "$root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:*:19000:0:99999:7:::' >"$root/etc/shadow"
tar -C "$root" -c . | dk import - wk-busybox:live >/dev/null

# --- the daemon --------------------------------------------------------------------------
store=$WK_TMP/store
cfg=$WK_TMP/wk.yaml
alerts=$WK_TMP/alerts.jsonl
api=$WK_TMP/api.sock
cat >"$cfg" <<YAML
store:
  path: $store
  fsync: false
sources:
  - type: docker
    host: unix://$DOCKER_SOCK
  - type: clog
    docker_root: auto              # asked of dockerd: its --data-root is $DOCKER_ROOT/data
    docker_host: unix://$DOCKER_SOCK
    pods_dir: ""
    containers_dir: ""
    poll_interval: 50ms
  - type: auditd
    path: $A/log/audit.log
    poll: 100ms
    lost_poll: 0s
rules:
  dirs: [$WK_SRCDIR/rules]
outputs:
  - type: file
    path: $alerts
api:
  socket: $api
pipeline:
  batch_age: 50ms
YAML
wk_run 0 "$WK_BIN" config check "$cfg"

WK_PID=""
start_wk() {
    "$WK_BIN" run -c "$cfg" 2>>"$WK_TMP/daemon.log" &
    WK_PID=$!
    wk_track_pid "$WK_PID"
    wk_wait_for 20 test -S "$api" || wk_fail "no API socket: $(cat "$WK_TMP/daemon.log")"
    wk_wait_for 20 docker_running || wk_fail "docker source not running: $("$WK_BIN" status --socket "$api")"
    grep -qx "watchkeeper: info: clog: docker_root auto: dockerd's data root is $DOCKER_ROOT/data" \
        "$WK_TMP/daemon.log" || wk_fail "docker_root auto: $(cat "$WK_TMP/daemon.log")"
}
docker_running() { "$WK_BIN" status --socket "$api" | grep -Eq '^docker +docker +running '; }
# stop_wk: SIGTERM; the daemon must exit 0 within the drain bound (10 s) plus slack.
stop_wk() {
    kill -TERM "$WK_PID"
    local rc=0
    for _ in $(seq 1 150); do kill -0 "$WK_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$WK_PID" 2>/dev/null && wk_fail "daemon still running 15 s after SIGTERM"
    wait "$WK_PID" || rc=$?
    wk_expect_eq "$rc" "0" "daemon exit status after SIGTERM"
    rm -f "$api"
}
q() { "$WK_BIN" query --store "$store" --format jsonl "$@"; }
start_wk

# --- the scenario ------------------------------------------------------------------------
N=40
dk run --network none --name wkl-logs wk-busybox:live sh -c \
    "i=1; while [ \$i -le $N ]; do echo \"wkl out line \$i\"; echo \"wkl err line \$i\" >&2; i=\$((i+1)); done" \
    >"$WK_TMP/logs.out" 2>"$WK_TMP/logs.err"
wk_expect_eq "$(wc -l <"$WK_TMP/logs.out")" "$N" "the container printed its lines"
run_d() { local n=$1; shift; dk run -d --network none --name "$n" "$@" wk-busybox:live sleep 300; }
CID_MOUNT=$(run_d wkl-hostmount -v /:/host:ro)
CID_CAP=$(run_d wkl-capsys --cap-add SYS_ADMIN)
CID_SOCK=$(run_d wkl-sock -v "$DOCKER_SOCK:/var/run/docker.sock")
CID_PID=$(run_d wkl-hostpid --pid host)
CID_EXEC=$(run_d wkl-exec)
CID_LOGS=$(dk inspect -f '{{.Id}}' wkl-logs)
dk exec wkl-exec sh -c 'id; cat /etc/shadow' >"$WK_TMP/exec.out"
grep -q '^root:\*:19000' "$WK_TMP/exec.out" || wk_fail "exec did not read the shadow file"
dk exec wkl-exec sh -c 'touch /tmp/wkl-suid; chmod u+s /tmp/wkl-suid'
cp "$DOCKER_ROOT/data/containers/$CID_LOGS/$CID_LOGS-json.log" "$WK_TMP/logs-json.log"
dk rm -f wkl-logs wkl-hostmount wkl-capsys wkl-sock wkl-hostpid wkl-exec >/dev/null
ALL_CIDS="$CID_LOGS $CID_MOUNT $CID_CAP $CID_SOCK $CID_PID $CID_EXEC"

# --- wait until everything is stored, then stop --------------------------------------------
# docker: 6 destroys; clog: 2N lines; auditd: the last exec's chmod, attributed.
all_stored() {
    [ "$(q --source docker --where event.action=destroy | wc -l)" -ge 6 ] &&
        [ "$(q --source clog --container "$CID_LOGS" | wc -l)" -ge $((2 * N)) ] &&
        [ "$(q --source auditd --container "$CID_EXEC" | jq -s '[.[] | select(.event.action == "chmod" and .file.path == "/tmp/wkl-suid")] | length')" -ge 1 ]
}
wk_wait_for 40 all_stored || wk_fail "not all stored after 40 s: $("$WK_BIN" status --socket "$api")"
stop_wk

# --- docker: each container's create/start/die once, with the enrichment ----------------
q --source docker >"$WK_TMP/docker.jsonl"
for cid in $ALL_CIDS; do
    got=$(jq -r --arg c "$cid" 'select(.container.id == $c and (.event.action == "create" or .event.action == "start" or .event.action == "die")) | .event.action' "$WK_TMP/docker.jsonl" | sort | tr '\n' ' ')
    wk_expect_eq "$got" "create die start " "create/start/die of $cid"
done
ev() { # ev CID ACTION JQ: a value of a container's stored docker event
    jq -c --arg c "$1" --arg a "$2" "select(.container.id == \$c and .event.action == \$a) | $3" \
        "$WK_TMP/docker.jsonl"
}
wk_expect_eq "$(ev "$CID_MOUNT" start '.docker.container.mount_sources')" '["/"]' "host mount source"
wk_expect_eq "$(ev "$CID_MOUNT" start '.docker.container.mount_sources_rw')" '[]' "host mount is read-only"
wk_expect_eq "$(ev "$CID_CAP" start '.docker.container.cap_add')" '["CAP_SYS_ADMIN"]' "cap_add"
wk_expect_eq "$(ev "$CID_SOCK" start '.docker.container.mount_sources')" "[\"$DOCKER_SOCK\"]" "socket mount source"
wk_expect_eq "$(ev "$CID_PID" start '.docker.container.pid_mode')" '"host"' "pid_mode"
wk_expect_eq "$(ev "$CID_EXEC" start '.docker.container.pid_mode')" '""' "pid_mode of a plain container"
wk_expect_eq "$(ev "$CID_EXEC" start '.container.name')" '"wkl-exec"' "container name"
wk_expect_eq "$(ev "$CID_EXEC" start '.container.image.name')" '"wk-busybox:live"' "image name"
wk_expect_eq "$(jq -r --arg c "$CID_EXEC" 'select(.container.id == $c and .event.action == "exec_start") | .process.command_line' "$WK_TMP/docker.jsonl")" \
    "sh -c id; cat /etc/shadow
sh -c touch /tmp/wkl-suid; chmod u+s /tmp/wkl-suid" "exec_start command lines"

# --- clog: every numbered line once, byte for byte -------------------------------------
q --source clog --container "$CID_LOGS" >"$WK_TMP/clog.jsonl"
wk_expect_eq "$(jq -r 'select(.log.iostream == "stdout") | .message' "$WK_TMP/clog.jsonl" | sort -V | sha256sum)" \
    "$(seq 1 $N | sed 's/^/wkl out line /' | sha256sum)" "stdout lines stored once each, exact"
wk_expect_eq "$(jq -r 'select(.log.iostream == "stderr") | .message' "$WK_TMP/clog.jsonl" | sort -V | sha256sum)" \
    "$(seq 1 $N | sed 's/^/wkl err line /' | sha256sum)" "stderr lines stored once each, exact"
wk_expect_eq "$(wc -l <"$WK_TMP/clog.jsonl")" "$((2 * N))" "clog events of the logs container"
# event.original is the json-file line as dockerd wrote it
wk_expect_eq "$(jq -r '.event.original' "$WK_TMP/clog.jsonl" | sort | sha256sum)" \
    "$(sort "$WK_TMP/logs-json.log" | sha256sum)" "clog originals == the json-file log"
wk_expect_eq "$(jq -r '.container.name' "$WK_TMP/clog.jsonl" | sort -u)" "wkl-logs" "clog container name"

# --- auditd: the exec's processes carry the exec container's id ------------------------
q --source auditd >"$WK_TMP/auditd.jsonl"
wk_expect_eq "$(jq -r 'select(.event.action == "execve" and (.process.command_line // "" | test("^sh -c id; cat /etc/shadow$"))) | .container.id' "$WK_TMP/auditd.jsonl" | sort -u)" \
    "$CID_EXEC" "container.id of the exec's shell"
wk_expect_eq "$(jq -r 'select(.event.action == "execve" and .process.command_line == "cat /etc/shadow") | .container.id' "$WK_TMP/auditd.jsonl" | sort -u)" \
    "$CID_EXEC" "container.id of the exec's cat"
# busybox sh runs chmod in-process (no execve): the chmod syscall with the u+s mode bit
wk_expect_eq "$(jq -r 'select(.event.action == "chmod" and .auditd.key == "wklive_chmod" and .process.title == "sh -c touch /tmp/wkl-suid; chmod u+s /tmp/wkl-suid") | .container.id' "$WK_TMP/auditd.jsonl")" \
    "$CID_EXEC" "the chmod's container, once"
wk_expect_eq "$(jq -r '"\(.auditd.node) \(.auditd.serial)"' "$WK_TMP/auditd.jsonl" | sort | uniq -d | wc -l)" "0" "auditd events stored once"

# --- alerts of the default pack ----------------------------------------------------------
alerted() { # alerted RULE_ID CID: how many alerts of the rule for the container
    jq -r --arg r "$1" --arg c "$2" 'select(.rule.id == $r and .event.container.id == $c) | .rule.id' "$alerts" | wc -l
}
[ -s "$alerts" ] || wk_fail "no alerts file"
expect_alert() { # expect_alert RULE_ID CID MIN TITLE
    local n
    n=$(alerted "$1" "$2")
    [ "$n" -ge "$3" ] || wk_fail "rule '$4' ($1): $n alerts for $2, expected >= $3; rules seen: $(jq -r '.rule.title' "$alerts" | sort | uniq -c)"
}
expect_alert bc074c50-c71c-4c5e-b442-ef6ee7529dc9 "$CID_MOUNT" 1 "sensitive host mount"
expect_alert 19ec31ca-018f-4d9e-8cb9-f86aa657f450 "$CID_CAP" 1 "CAP_SYS_ADMIN"
expect_alert 4be84928-f43c-432a-becb-288c1cebb561 "$CID_SOCK" 1 "docker socket mounted"
expect_alert 6d90fc8a-3349-4019-8ed6-a3d4673b863f "$CID_PID" 1 "host PID namespace"
expect_alert 85f4bd93-05ed-420c-aac7-0e04a34738ed "$CID_EXEC" 2 "shell via docker exec"
expect_alert 9f00117e-0d15-4d71-ba08-0df3d47247b6 "$CID_EXEC" 1 "sensitive file read"
expect_alert 1a60529a-6ec5-453d-b668-430ed3949b6c "$CID_EXEC" 1 "setuid chmod"
# start-time rules fire exactly once per container start, and only where they should
wk_expect_eq "$(jq -r '.rule.id + " " + .event.container.name' "$alerts" | grep -E '^(bc074c50|19ec31ca|4be84928|6d90fc8a)' | sort | tr '\n' ',')" \
    "19ec31ca-018f-4d9e-8cb9-f86aa657f450 wkl-capsys,4be84928-f43c-432a-becb-288c1cebb561 wkl-sock,6d90fc8a-3349-4019-8ed6-a3d4673b863f wkl-hostpid,bc074c50-c71c-4c5e-b442-ef6ee7529dc9 wkl-hostmount," \
    "start-time alerts: one per risky container"
wk_run 0 "$WK_BIN" verify --store "$store"

# --- restart on the same store: more events, nothing twice -------------------------------
count() { q "$@" | wc -l; }
before_docker=$(count --source docker)
before_clog=$(count --source clog)
start_wk
dk run --network none --name wkl-after wk-busybox:live sh -c 'echo wkl after 1; echo wkl after 2 >&2' >/dev/null 2>&1
CID_AFTER=$(dk inspect -f '{{.Id}}' wkl-after)
dk rm wkl-after >/dev/null
after_stored() {
    [ "$(q --source docker --container "$CID_AFTER" --where event.action=destroy | wc -l)" -eq 1 ] &&
        [ "$(q --source clog --container "$CID_AFTER" | wc -l)" -eq 2 ]
}
wk_wait_for 30 after_stored || wk_fail "second run did not store the new container"
stop_wk
q --source docker >"$WK_TMP/docker2.jsonl"
new_docker=$(jq -r --arg c "$CID_AFTER" 'select(.container.id == $c) | .event.action' "$WK_TMP/docker2.jsonl" | sort | tr '\n' ' ')
wk_expect_eq "$new_docker" "attach create destroy die start " "the new container's docker events, once each"
wk_expect_eq "$(jq -r --arg c "$CID_AFTER" 'select(.Type == "network" and .Actor.Attributes.container == $c) | .Action' "$WK_TMP/docker2.jsonl" | sort | tr '\n' ' ')" \
    "connect disconnect " "the new container's network events, once each"
wk_expect_eq "$(wc -l <"$WK_TMP/docker2.jsonl")" "$((before_docker + 7))" "docker events after the restart: old once, new once"
wk_expect_eq "$(jq -r '"\(.timeNano) \(.Action) \(.Actor.ID)"' "$WK_TMP/docker2.jsonl" | sort | uniq -d | wc -l)" "0" "no docker event twice"
q --source clog >"$WK_TMP/clog2.jsonl"
wk_expect_eq "$(jq -r 'select(.event.kind == "event") | "\(.container.id) \(.event.original)"' "$WK_TMP/clog2.jsonl" | sort | uniq -d | wc -l)" "0" "no log line twice"
wk_expect_eq "$(jq -r 'select(.event.kind == "event") | .message' "$WK_TMP/clog2.jsonl" | wc -l)" "$((before_clog + 2))" "clog lines after the restart: old once, new once"
wk_expect_eq "$(jq -r --arg c "$CID_AFTER" 'select(.container.id == $c) | .message' "$WK_TMP/clog2.jsonl" | sort | tr '\n' ' ')" \
    "wkl after 1 wkl after 2 " "the new container's lines"
# A log file finished (deleted) after clog's last event leaves the stored cursor at once
# (sink->cursor), so the restart reports no gap.
wk_expect_eq "$(jq -r 'select(.event.kind == "gap") | .gap.reason' "$WK_TMP/clog2.jsonl")" "" "no clog gap after the restart"
wk_expect_eq "$(q --source auditd | jq -r '"\(.auditd.node) \(.auditd.serial)"' | sort | uniq -d | wc -l)" "0" "no auditd event twice after the restart"
wk_run 0 "$WK_BIN" verify --store "$store"
echo "run_live: ok"
