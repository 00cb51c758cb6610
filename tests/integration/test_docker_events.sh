#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The docker source against a real dockerd (our own, under $WK_TMP): a scripted scenario is
# stored once, in order, with the enrichment facts right; then restarts of the source and
# of dockerd mid-stream lose nothing and store nothing twice, and an outage longer than
# dockerd's 256-event buffer yields a gap event and reconciliation.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/docker_lib.sh"
wk_docker_require
wk_dockerd_start
wk_docker_image

OUT=$WK_TMP/events.jsonl
CUR=$WK_TMP/cursor
TABLE=$WK_TMP/table.jsonl
drv() { wk_driver_start docker "$OUT" "$CUR" --table "$TABLE" --rejects "$WK_TMP/rejects" \
        --opt "host=unix://$DOCKER_SOCK" --opt backoff_min=50ms --opt backoff_max=500ms "$@"; }
nev() { wc -l <"$OUT"; }

# Summary of the stored events: "Type Action" per line (python: exact JSON fields).
summary() {
    python3 - "$OUT" "$@" 2>/dev/null <<'PY'
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"].get("kind") == "gap":
        print("GAP", e["gap"]["reason"], "loss=%s" % e["gap"]["possible_loss"])
    elif e["event"]["action"] == "reconciled":
        print("RECONCILED", e["reconcile"]["change"], e["container"].get("name"))
    else:
        print(e["Type"], e["Action"])
PY
}

# --- 1. the scripted scenario ---------------------------------------------------------
: >"$OUT"
drv
wk_wait_eval "[ -s '$WK_TMP/driver-docker.log' ]"
dk volume create v1 >/dev/null
dk network create -d bridge --internal n1 >/dev/null
dk create --name c1 --network none -v /:/host --cap-add SYS_ADMIN wk-busybox sleep 300 >/dev/null
dk start c1 >/dev/null
dk exec -u nobody c1 id >/dev/null
dk kill c1 >/dev/null
dk rm c1 >/dev/null
dk run -d --name c2 --network host wk-busybox sleep 300 >/dev/null
dk rm -f c2 >/dev/null
dk tag wk-busybox wk-busybox:t2
tar -C "$WK_TMP/rootfs" -c . | dk import - wk-imported >/dev/null
dk volume rm v1 >/dev/null
dk network rm n1 >/dev/null
wk_wait_eval "[ \$(nev) -ge 24 ]"
sleep 0.3
wk_driver_stop

expected="volume create
network create
container create
network connect
container start
container exec_create: id 
container exec_start: id 
container exec_die
container kill
container die
network disconnect
container destroy
container create
network connect
container start
container kill
container die
network disconnect
container destroy
image tag
image tag
image import
volume destroy
network destroy"
wk_expect_eq "$(summary)" "$expected" "scenario events, once and in order"

# Enrichment facts and ECS fields.
facts=$(python3 - "$OUT" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
c1 = [e for e in ev if e.get("Action") == "create" and e.get("container", {}).get("name") == "c1"][0]
d = c1["docker"]["container"]
print("c1 mounts", d["mount_sources"], d["mount_sources_rw"], "cap_add", d["cap_add"],
      "net", d["network_mode"], "image", c1["container"]["image"]["name"],
      "id64", len(c1["container"]["id"]) == 64)
c2 = [e for e in ev if e.get("Action") == "start" and e.get("container", {}).get("name") == "c2"][0]
print("c2 net", c2["docker"]["container"]["network_mode"])
ex = [e for e in ev if e["event"]["action"] == "exec_create"][0]
print("exec", ex["process"]["command_line"], ex["process"]["args"], ex.get("user", {}).get("name"),
      ex["Actor"]["Attributes"]["execID"] != "")
tn = [e["timeNano"] for e in ev]
print("timeNano ints", all(isinstance(t, int) and t > 10**18 for t in tn), "sorted", tn == sorted(tn))
PY
)
wk_expect_eq "$facts" "c1 mounts ['/'] ['/'] cap_add ['CAP_SYS_ADMIN'] net none image wk-busybox id64 True
c2 net host
exec id  ['id'] nobody True
timeNano ints True sorted True" "enrichment"
[ ! -s "$WK_TMP/rejects" ] || wk_fail "unexpected rejects: $(cat "$WK_TMP/rejects")"

# --- 2. restart the source mid-stream ------------------------------------------------------
base=$(nev)
dk create --name r1 --network none wk-busybox true >/dev/null   # while stopped
drv --full-every 3      # and with back-pressure: every 3rd submit is refused once
dk rm r1 >/dev/null
dk create --name r2 --network none wk-busybox true >/dev/null
wk_wait_eval "[ \$(nev) -ge $((base + 3)) ]"
wk_driver_stop
dk rm r2 >/dev/null                                             # while stopped again
drv
wk_wait_eval "[ \$(nev) -ge $((base + 4)) ]"
sleep 0.5
wk_driver_stop
wk_expect_eq "$(summary | tail -n +$((base + 1)))" "container create
container destroy
container create
container destroy" "source restarts: every event once"

# --- 3. restart dockerd mid-stream ---------------------------------------------------------
base=$(nev)
drv
dk run -d --name keep --stop-timeout 1 --network none wk-busybox sleep 300 >/dev/null
wk_wait_eval "[ \$(nev) -ge $((base + 3)) ]"
wk_dockerd_restart
dk create --name after --network none wk-busybox true >/dev/null
wk_wait_eval "grep -q '\"action\":\"gap\"' '$OUT'"
wk_wait_eval "summary | grep -q 'container create' && [ \$(summary | tail -n +$((base + 1)) | grep -c . ) -ge 6 ]"
sleep 0.5
wk_driver_stop
got=$(summary | tail -n +$((base + 1)) | grep -v '^network ')
# dockerd stopped 'keep' when it went down (die, maybe kill). After the restart its buffer
# is empty: one gap, reconciliation finds 'keep' stopped, then the new create.
echo "$got" | grep -qx "GAP docker daemon unreachable loss=True" || wk_fail "no gap event: $got"
wk_expect_eq "$(echo "$got" | grep -c '^GAP')" 1 "exactly one gap event"
echo "$got" | grep -qx "container create" || wk_fail "create after restart missing: $got"
dups=$(python3 - "$OUT" <<'PY'
import json, sys
seen, dups = set(), 0
for l in open(sys.argv[1]):
    e = json.loads(l)
    if "timeNano" in e:
        k = (e["timeNano"], e["Type"], e["Action"], e["Actor"]["ID"])
        dups += k in seen
        seen.add(k)
print(dups)
PY
)
wk_expect_eq "$dups" 0 "no event stored twice across all restarts"

# --- 4. an outage longer than dockerd's 256-event buffer --------------------------------
base=$(nev)
# 150 volumes created and removed through the API (fast): 300 events while we are away.
api() { curl -sf --unix-socket "$DOCKER_SOCK" -H 'Content-Type: application/json' "$@"; }
for i in $(seq 1 150); do
    api -X POST -d "{\"Name\":\"ov$i\"}" http://localhost/v1.41/volumes/create >/dev/null
    api -X DELETE "http://localhost/v1.41/volumes/ov$i"
done
drv
wk_wait_eval "grep -c '\"action\":\"gap\"' '$OUT' | grep -qx 2"
sleep 0.5
wk_driver_stop
gaps=$(summary | tail -n +$((base + 1)) | grep '^GAP')
wk_expect_eq "$gaps" "GAP events since the stored cursor no longer in dockerd's buffer loss=True" \
    "overflow gap"
# What is still in the buffer was stored (the newest destroys), but not everything.
n=$(summary | tail -n +$((base + 1)) | grep -c 'volume destroy')
[ "$n" -gt 100 ] && [ "$n" -lt 150 ] || wk_fail "volume destroys after overflow: $n"
echo "ok: docker events"
