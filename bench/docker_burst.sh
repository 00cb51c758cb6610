#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Events/s from a real dockerd under a burst of container create/start/stop/rm cycles,
# collected by the docker source (through the test driver), with a zero-loss check: every
# cycle's create, start, die, destroy stored exactly once. Needs root, dockerd, busybox.
# Usage: bench/docker_burst.sh BUILD_DIR [CYCLES]   (e.g. bench/docker_burst.sh build 1000)
set -euo pipefail
b=$(cd "${1:-build}" && pwd)
n=${2:-200}
tmp=$(mktemp -d /tmp/wk-bench-dk-XXXXXX)
sock=$tmp/d.sock
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
    awk -v r="$tmp" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/data" "$tmp/exec" "$tmp/rootfs/bin"
setsid dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
    --data-root="$tmp/data" --exec-root="$tmp/exec" -H "unix://$sock" \
    --pidfile "$tmp/docker.pid" >"$tmp/dockerd.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 200); do docker -H "unix://$sock" version >/dev/null 2>&1 && break; sleep 0.1; done
cp /bin/busybox "$tmp/rootfs/bin/busybox"
ln -s busybox "$tmp/rootfs/bin/true"
tar -C "$tmp/rootfs" -c . | docker -H "unix://$sock" import - wk-busybox >/dev/null
"$b/tests/integration/wk_source_driver" docker --out "$tmp/ev.jsonl" --cursor "$tmp/cur" \
    --opt "host=unix://$sock" 2>"$tmp/driver.log" &
drv=$!
pids=("$drv" "${pids[@]}")
sleep 0.5
api() { curl -sf --unix-socket "$sock" -H 'Content-Type: application/json' "$@"; }
t0=$(date +%s.%N)
for i in $(seq 1 "$n"); do
    id=$(api -X POST -d '{"Image":"wk-busybox","Cmd":["/bin/true"],"HostConfig":{"NetworkMode":"none"}}' \
        http://localhost/v1.41/containers/create | python3 -c 'import json,sys; print(json.load(sys.stdin)["Id"])')
    api -X POST "http://localhost/v1.41/containers/$id/start" >/dev/null
    api -X POST "http://localhost/v1.41/containers/$id/wait" >/dev/null
    api -X DELETE "http://localhost/v1.41/containers/$id" >/dev/null
done
t1=$(date +%s.%N)
want=$((n * 4))
for _ in $(seq 1 300); do
    got=$(grep -c '"Type":"container"' "$tmp/ev.jsonl" || true)
    [ "$got" -ge "$want" ] && break
    sleep 0.1
done
t2=$(date +%s.%N)
kill -TERM "$drv"
wait "$drv" || true
python3 - "$tmp/ev.jsonl" "$n" "$t0" "$t1" "$t2" <<'PY'
import json, sys
path, n, t0, t1, t2 = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
ev = [json.loads(l) for l in open(path)]
c = {}
keys = set()
for e in ev:
    if e.get("Type") == "container":
        c[e["Action"]] = c.get(e["Action"], 0) + 1
    keys.add((e["timeNano"], e["Type"], e["Action"], e["Actor"]["ID"]))
ok = all(c.get(a, 0) == n for a in ("create", "start", "die", "destroy")) and len(keys) == len(ev)
enriched = sum(1 for e in ev if e.get("Action") in ("create", "start") and "docker" in e)
print("cycles %d, events stored %d (container: %s), enriched %d of %d create/start"
      % (n, len(ev), dict(sorted(c.items())), enriched, 2 * n))
print("burst %.2f s -> %.0f events/s produced; all stored %.2f s after the burst ended"
      % (t1 - t0, len(ev) / (t1 - t0), t2 - t1))
print("zero loss, no duplicates:", ok)
sys.exit(0 if ok else 1)
PY
