#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Capture the bundled sample data from a REAL dockerd and a REAL auditd on this machine:
# real containers doing a few benign and a few suspicious things. Writes, into samples/:
#   audit.log            auditd's log (ENRICHED format) of the run
#   docker-events.jsonl  the Engine API /events stream of the run (API 1.41)
#   containers/<id>-json.log  each container's json-file log
#   docker.jsonl         the run's docker events as `watchkeeper run` stored them: normalized
#                        and enriched by container inspection (when WK_BIN is a watchkeeper
#                        binary; default: build/watchkeeper of this repo if it exists)
# Host-specific paths and the host name are scrubbed. Needs root, docker.io, auditd,
# busybox-static, curl (and jq with WK_BIN). Starts its own dockerd and auditd (own dirs), stops both by pid,
# and removes exactly the audit rules it added, on failure too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here}
[ "$(id -u)" -eq 0 ] || { echo "capture.sh: needs root" >&2; exit 2; }
if [ "$(auditctl -s | awk '/^pid/ {print $2}')" != 0 ]; then
    echo "capture.sh: another auditd is registered with the kernel; stop it first" >&2
    exit 3
fi

wk_bin=${WK_BIN:-$here/../build/watchkeeper}
[ -x "$wk_bin" ] || wk_bin=""

tmp=$(mktemp -d /tmp/wk-capture-XXXXXX)
sock=$tmp/docker.sock
dockerd_pid=""
wk_pid=""
auditd_pid=""
rules_added=()
cleanup() {
    set +e
    if [ -n "$wk_pid" ]; then
        kill "$wk_pid" 2>/dev/null
        for _ in $(seq 150); do kill -0 "$wk_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$wk_pid" 2>/dev/null
    fi
    for r in "${rules_added[@]}"; do
        # shellcheck disable=SC2086
        auditctl ${r/-a /-d } >/dev/null 2>&1 || auditctl ${r/-w /-W } >/dev/null 2>&1
    done
    if [ -n "$dockerd_pid" ]; then
        docker -H "unix://$sock" rm -f $(docker -H "unix://$sock" ps -aq) >/dev/null 2>&1
        kill "$dockerd_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$dockerd_pid" 2>/dev/null
    fi
    if [ -n "$auditd_pid" ]; then
        kill "$auditd_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$auditd_pid" 2>/dev/null || break; sleep 0.1; done
    fi
    umount -R "$tmp" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# --- auditd with its own config and log ---
mkdir -p "$tmp/audit"
cat >"$tmp/audit/auditd.conf" <<CONF
log_file = $tmp/audit/audit.log
log_format = ENRICHED
log_group = root
flush = INCREMENTAL_ASYNC
freq = 50
max_log_file = 64
num_logs = 2
max_log_file_action = ROTATE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
name_format = NONE
write_logs = yes
CONF
chmod 0640 "$tmp/audit/auditd.conf"
setsid auditd -n -c "$tmp/audit" </dev/null >"$tmp/auditd.out" 2>&1 &
auditd_pid=$!
for _ in $(seq 100); do
    [ "$(auditctl -s | awk '/^pid/ {print $2}')" = "$auditd_pid" ] && break
    sleep 0.1
done
[ "$(auditctl -s | awk '/^pid/ {print $2}')" = "$auditd_pid" ] || { cat "$tmp/auditd.out"; exit 3; }
auditctl -e 1 >/dev/null

add_rule() { # the rule, as auditctl takes it
    # shellcheck disable=SC2086
    auditctl $1 >/dev/null
    rules_added+=("$1")
}
add_rule "-a always,exit -F arch=b64 -S execve -k wk_exec"
add_rule "-a always,exit -F arch=b64 -S mount,umount2,unshare,setns -k wk_escape"
add_rule "-a always,exit -F arch=b64 -S chmod,fchmod,fchmodat -F a1&06000 -k wk_setid"
add_rule "-w /etc/shadow -p r -k wk_shadow"
add_rule "-w $sock -p rwa -k wk_docker_sock"

# --- dockerd with its own dirs ---
mkdir -p "$tmp/data" "$tmp/exec"
setsid dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
    --data-root="$tmp/data" --exec-root="$tmp/exec" -H "unix://$sock" \
    --pidfile "$tmp/docker.pid" </dev/null >"$tmp/dockerd.log" 2>&1 &
dockerd_pid=$!
d() { docker -H "unix://$sock" "$@"; }
for _ in $(seq 150); do d version >/dev/null 2>&1 && break; sleep 0.2; done
d version >/dev/null

# --- watchkeeper run with a docker source on this dockerd: the stored events carry the
# inspection enrichment (mounts, capabilities, namespaces) that /events lacks ---
if [ -n "$wk_bin" ]; then
    cat >"$tmp/wk.yaml" <<YAML
store:
  path: $tmp/wkstore
  fsync: false
sources:
  - type: docker
    host: unix://$sock
rules:
  dirs: [$here/../rules]
outputs:
  - type: file
    path: $tmp/wk-alerts.jsonl
api:
  enabled: false
pipeline:
  batch_age: 50ms
YAML
    "$wk_bin" run -c "$tmp/wk.yaml" </dev/null 2>"$tmp/wk.log" &
    wk_pid=$!
    for _ in $(seq 100); do grep -q "docker: connected" "$tmp/wk.log" && break; sleep 0.1; done
    grep -q "docker: connected" "$tmp/wk.log" || { cat "$tmp/wk.log"; exit 3; }
fi

mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/etc" "$tmp/rootfs/tmp"
cp /bin/busybox "$tmp/rootfs/bin/busybox"
for a in sh ls cat echo id chmod unshare mount sleep seq head wc nsenter; do
    ln -s busybox "$tmp/rootfs/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$tmp/rootfs/etc/passwd"
echo 'root:*:19000:0:99999:7:::' >"$tmp/rootfs/etc/shadow"
start=$(date +%s.%N)
tar -C "$tmp/rootfs" -c . | d import -c 'CMD ["/bin/sh"]' - wk-busybox:1.35 >/dev/null
d tag wk-busybox:1.35 wk-busybox:latest

# --- the scenario: benign first, then suspicious ---
d run --name web --network none -d wk-busybox:1.35 sh -c \
    'for i in $(seq 1 5); do echo "GET /index.html 200 user=alice"; sleep 0.2; done;
     echo "Failed password for root from 203.0.113.7 port 2222 ssh2" >&2;
     echo "Failed password for root from 203.0.113.7 port 2223 ssh2" >&2;
     echo "Failed password for admin from 203.0.113.7 port 2224 ssh2" >&2;
     echo "Failed password for root from 203.0.113.7 port 2225 ssh2" >&2;
     echo "Failed password for root from 203.0.113.7 port 2226 ssh2" >&2;
     echo "GET /search?q=1%27%20OR%20%271%27=%271 200";
     echo "{\"level\":\"info\",\"msg\":\"request\",\"path\":\"/login\",\"user\":\"bob\"}";
     sleep 30' >/dev/null
d run --rm --network none --name batch wk-busybox:1.35 sh -c 'echo processed 42 items' >/dev/null
sleep 1
d exec web sh -c 'id; cat /etc/shadow' >/dev/null
d exec web ls /tmp >/dev/null
for i in $(seq 1 6); do d exec web echo "probe $i" >/dev/null; done
d exec web sh -c 'touch /tmp/x && chmod u+s /tmp/x' >/dev/null
d exec web unshare -U true >/dev/null 2>&1 || true
d exec web mount -t tmpfs none /mnt >/dev/null 2>&1 || true
d run -d --name hostmount --network none -v /:/host:ro wk-busybox:latest sleep 30 >/dev/null
d run -d --name capsys --network none --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
    wk-busybox:1.35 sleep 30 >/dev/null
d run -d --name sockmount --network none -v "$sock:/var/run/docker.sock" wk-busybox:1.35 \
    sleep 30 >/dev/null
d run -d --name hostpid --network none --pid host wk-busybox:1.35 sleep 30 >/dev/null
# namespace and mount syscalls from inside a container: only one with CAP_SYS_ADMIN and no
# seccomp profile gets them past seccomp (which denies before audit sees the syscall)
d exec capsys unshare -m true >/dev/null 2>&1 || true
d exec capsys mount -t tmpfs none /mnt >/dev/null 2>&1 || true
# an image from outside the allow-list (rules/placeholders.yaml)
d tag wk-busybox:1.35 miner.example.net/xmrig:6.21
d run --rm --network none --name miner miner.example.net/xmrig:6.21 echo hashing >/dev/null
# a crash loop: one container that dockerd restarts after each non-zero exit
d run -d --network none --restart on-failure:3 --name crashloop wk-busybox:1.35 \
    sh -c 'echo boom >&2; exit 3' >/dev/null
for _ in $(seq 100); do
    [ "$(d inspect -f '{{.RestartCount}} {{.State.Status}}' crashloop)" = "3 exited" ] && break
    sleep 0.2
done
d volume create wk-data >/dev/null
d kill web >/dev/null
sleep 1
end=$(date +%s.%N)

# --- collect ---
mkdir -p "$out/containers"
rm -f "$out"/containers/*-json.log
curl -s --unix-socket "$sock" "http://localhost/v1.41/events?since=$start&until=$end" \
    >"$tmp/events.jsonl"
if [ -n "$wk_bin" ]; then
    # every event of the /events capture stored, then stop the daemon (SIGTERM: exit 0)
    n_ev=$(wc -l <"$tmp/events.jsonl")
    for _ in $(seq 100); do
        [ "$("$wk_bin" query --store "$tmp/wkstore" --source docker | wc -l)" -ge "$n_ev" ] && break
        sleep 0.2
    done
    kill -TERM "$wk_pid"
    wait "$wk_pid" || { echo "capture.sh: watchkeeper run exited $?" >&2; cat "$tmp/wk.log" >&2; exit 3; }
    wk_pid=""
    # the events of the same window as the /events capture
    "$wk_bin" query --store "$tmp/wkstore" --source docker --format jsonl |
        jq -c --argjson s "${start/./}" --argjson e "${end/./}" \
            'select(.timeNano >= $s and .timeNano <= $e)' >"$tmp/docker.jsonl"
    [ "$(wc -l <"$tmp/docker.jsonl")" -eq "$n_ev" ] ||
        { echo "capture.sh: watchkeeper stored $(wc -l <"$tmp/docker.jsonl") of $n_ev docker events" >&2; exit 3; }
fi
for id in $(d ps -aq --no-trunc); do
    f="$tmp/data/containers/$id/$id-json.log"
    [ -s "$f" ] && cp "$f" "$out/containers/"
done
d rm -f $(d ps -aq) >/dev/null
d volume rm wk-data >/dev/null
sleep 0.5
auditctl -l >/dev/null
kill -USR1 "$auditd_pid" 2>/dev/null || true # nothing buffered: flush
sleep 1
cat "$tmp"/audit/audit.log.* "$tmp/audit/audit.log" 2>/dev/null >"$tmp/audit.all" || true

# Scrub: the temp dirs of this run, the checkout's path and the host name become stable,
# neutral values.
host=$(hostname)
root=$(cd "$here/.." && pwd) # this checkout: the capture's own commands run from it
scrub() {
    sed -e "s#$tmp/data#/var/lib/docker#g" -e "s#$root\\([/\"]\\)#/src/watchkeeper\\1#g" -e "s#$tmp/exec#/run/docker#g" \
        -e "s#$tmp/docker.sock#/run/docker.sock#g" -e "s#$tmp#/tmp/capture#g" \
        -e "s#node=$host #node=sample-host #g" -e "s#hostname=$host #hostname=sample-host #g" \
        -e "s#\"host\":{\"name\":\"$host\"}#\"host\":{\"name\":\"sample-host\"}#g"
}
scrub <"$tmp/audit.all" >"$out/audit.log"
scrub <"$tmp/events.jsonl" >"$out/docker-events.jsonl"
[ -z "$wk_bin" ] || scrub <"$tmp/docker.jsonl" >"$out/docker.jsonl"
echo "capture.sh: $(wc -l <"$out/audit.log") audit records, $(wc -l <"$out/docker-events.jsonl") docker events${wk_bin:+ ($(wc -l <"$out/docker.jsonl") stored enriched by watchkeeper)}, $(ls "$out/containers" | wc -l) container logs in $out"
