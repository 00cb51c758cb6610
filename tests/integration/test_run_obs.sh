#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The daemon's observability (issue #4): `status` (--json and the table) shows a file
# source's events/s at a known feed rate, its lag in bytes while it is behind and 0 caught
# up, a Docker stream's lag (0 while connected and idle, the outage's age while dockerd
# refuses) and last error, the store's size and ratio as `stats --store` reports them; the
# startup lines for a default source found, missing and denied (run as nobody); a
# configured file the daemon may not read; SIGINT drains, exits 0, and nothing is lost.
# Dockerd is a small fake Engine API (python, a unix socket): the point is the daemon's
# view of a stream, not Docker itself (test_docker_events.sh uses a real one).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
command -v jq >/dev/null || wk_skip "needs jq"
wk_require_root "runs the daemon as nobody (setpriv) for the permission-denied cases"
command -v setpriv >/dev/null || wk_skip "needs setpriv (util-linux)"

rules=$WK_TMP/rules
wk_rules_pack "$rules"
sock=$WK_TMP/api.sock
# (a function: never run one in the background, its pid would not be the daemon's)
W() { "$WK_BIN" "$@"; }
st() { W status --socket "$sock" --json | jq -r "$1"; }
# The table's row of source NAME.
row() { W status --socket "$sock" | awk -v n="$1" '$1 == n'; }

# --- a fake dockerd: GET /version, and GET /events streaming what is appended to a file --
cat >"$WK_TMP/fake_dockerd.py" <<'PY'
import os, socket, sys, threading, time
sock_path, events_path, log_path = sys.argv[1:4]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sock_path)
srv.listen(8)
log = open(log_path, "a", buffering=1)

def request(c, buf):
    while b"\r\n\r\n" not in buf:
        d = c.recv(4096)
        if not d:
            return None, b""
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.split(b" ")[1].decode(), rest

def serve(c):
    buf = b""
    while True: # keep-alive: curl sends /version and /events on one connection
        path, buf = request(c, buf)
        if path is None:
            return
        if path.endswith("/version"):
            body = b'{"Version":"24.0.0-fake","ApiVersion":"1.43","MinAPIVersion":"1.12"}'
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
        elif "/events" in path:
            break
        else:
            c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    with open(events_path, "rb") as f:
        f.seek(0, os.SEEK_END)
        log.write("events connected\n")
        while True:
            line = f.readline()
            if not line.endswith(b"\n"):
                f.seek(-len(line), os.SEEK_CUR)
                time.sleep(0.02)
                continue
            c.sendall(b"%x\r\n" % len(line) + line + b"\r\n")

while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
dsock=$WK_TMP/docker.sock
: >"$WK_TMP/docker-events"
python3 "$WK_TMP/fake_dockerd.py" "$dsock" "$WK_TMP/docker-events" "$WK_TMP/fake.log" &
fake=$!
wk_track_pid $fake
wk_wait_for 10 test -S "$dsock" || wk_fail "fake dockerd did not start"
docker_event() { # a network event stamped now
    local now
    now=$(date +%s%N)
    printf '{"Type":"network","Action":"create","Actor":{"ID":"n%s","Attributes":{"name":"net%s"}},"scope":"local","time":%s,"timeNano":%s}\n' \
        "$1" "$1" "$((now / 1000000000))" "$now" >>"$WK_TMP/docker-events"
}

# --- the daemon: a fed file, a file that is not polled again, the fake dockerd ----------
in=$WK_TMP/in.jsonl
slow=$WK_TMP/slow.jsonl
store=$WK_TMP/store
: >"$in"
wk_gen_events 90001 90010 >"$slow"
cat >"$WK_TMP/wk.yaml" <<YAML
store: {path: $store, fsync: false}
sources:
  - {type: file_jsonl, name: events, path: $in, poll: 50ms}
  - {type: file_jsonl, name: slow, path: $slow, poll: 1h}
  - {type: docker, name: dk, host: "unix://$dsock", inspect: false, backoff_min: 50ms,
     backoff_max: 500ms}
rules: {dirs: [$rules]}
outputs: [{type: file, path: $WK_TMP/alerts.jsonl}]
api: {socket: $sock}
pipeline: {batch_age: 50ms}
YAML
"$WK_BIN" run -c "$WK_TMP/wk.yaml" 2>"$WK_TMP/daemon.log" &
pid=$!
wk_track_pid $pid
wk_wait_for 10 test -S "$sock" || wk_fail "no API socket"
wk_wait_for 10 grep -q "events connected" "$WK_TMP/fake.log" || wk_fail "docker: no /events"
wk_wait_committed 10 || wk_fail "slow: first read not committed"

# Caught up: a file source's lag is 0 bytes, a connected idle stream's 0 s.
docker_event 1
wk_wait_for 10 wk_status_is '.sources[] | select(.name == "dk") | .events' = 1 ||
    wk_fail "docker event not received"
wk_expect_eq "$(st '.sources[] | "\(.name) \(.state) \(.lag_bytes) \(.lag_ns) [\(.last_error)]"' | sort)" \
    "dk running 0 0 []
events running 0 0 []
slow running 0 0 []" "status --json: everything caught up, no error"

# events/s: a feeder appends 50 events, then sleeps 50 ms (about 1000/s: a little less,
# never more: a late feeder does not catch up in a burst) for 4 s. The daemon samples each
# source's rate about once a second, over the real span. Three readings of the JSON and of
# the table from 1.5 s into the feed (each a whole second of it); their medians must be
# 1000 within 30% (the feeder and the daemon share 2 busy cores).
wk_gen_events 1 4000 >"$WK_TMP/feed"
python3 - "$WK_TMP/feed" "$in" "$WK_TMP/feed.started" <<'PY' &
import sys, time
lines = open(sys.argv[1]).readlines()
out = open(sys.argv[2], "a")
for i in range(0, len(lines), 50):
    out.writelines(lines[i:i + 50])
    out.flush()
    if i == 0:
        open(sys.argv[3], "w").close()
    time.sleep(0.05)
PY
feeder=$!
wk_track_pid $feeder
wk_wait_for 20 test -e "$WK_TMP/feed.started" || wk_fail "feeder did not start"
sleep 1.5
rates='' trates=''
for _ in 1 2 3; do
    rates+="$(st '.sources[] | select(.name == "events") | .events_per_s') "
    trates+="$(row events | awk '{print $5}') "
    sleep 0.6
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | sed -n 2p; }
awk -v r="$(median "$rates")" 'BEGIN { exit !(r >= 700 && r <= 1300) }' ||
    wk_fail "status --json events_per_s $rates: median not 1000 +- 30%"
awk -v r="$(median "$trates")" 'BEGIN { exit !(r >= 700 && r <= 1300) }' ||
    wk_fail "status table EVENTS/S $trates: median not 1000 +- 30%"
wait $feeder
wk_wait_committed 4011 || wk_fail "feed not committed: $(st .pipeline.committed)"
# The docker source stays caught up on an idle host: its last event is 5 s old.
wk_expect_eq "$(st '.sources[] | select(.name == "dk") | "\(.state) \(.lag_ns)"')" "running 0" \
    "docker lag on an idle connected stream"

# Behind: lines appended to `slow` (polled every hour) are lag, to the byte.
wk_gen_events 90011 90013 >>"$slow"
behind=$(wk_gen_events 90011 90013 | wc -c)
wk_expect_eq "$(st '.sources[] | select(.name == "slow") | .lag_bytes')" "$behind" \
    "status --json: slow's lag in bytes"
src_row() { printf '%-16s %-12s %-9s %10s %9s %12s  %s\n' "$@"; }
wk_expect_eq "$(row slow)" "$(src_row slow file_jsonl running 10 0.0 "$behind B" '')" \
    "status table: slow's row"
wk_wait_for 5 wk_status_is '.sources[] | select(.name == "events") | .events_per_s' = 0 ||
    wk_fail "events/s not back to 0 after the feed"
wk_expect_eq "$(row events)" "$(src_row events file_jsonl running 4000 0.0 '0 B' '')" \
    "status table: the fed file, caught up and quiet"

# The store: size and ratio as `stats --store` reads them from disk.
stats=$(W stats --store "$store")
sv() { awk -v k="$1" 'index($0, k) == 1 { sub(k " *", ""); print; exit }' <<<"$stats"; }
raw=$(sv "raw bytes")
stored=$(sv "stored bytes" | awk '{print $1}')
sratio=$(sv "stored bytes" | sed -E 's/^[0-9]+ \(x([0-9.]+),.*/\1/')
wk_expect_eq "$(st '.store | "\(.events) \(.raw_bytes) \(.stored_bytes)"')" \
    "$(sv events) $raw $stored" "status store events/raw/stored == stats --store"
hum() { awk -v v="$1" 'BEGIN { split("B KiB MiB GiB TiB", u, " "); i = 1
    while (v >= 1024 && i < 5) { v /= 1024; i++ }
    if (i == 1) printf "%.0f B", v; else printf "%.1f %s", v, u[i] }'; }
wk_expect_eq "$(st '.store.ratio' | awk '{ printf "%.2f", $1 }')" "$sratio" \
    "status --json store ratio == stats --store"
wk_expect_eq "$(W status --socket "$sock" | grep '^store ')" \
    "store     $store (lmdb): $(sv events) events, $(hum "$raw") raw, $(hum "$stored") on disk, ratio $sratio" \
    "status table: the store line"

# A stream that is lost: dockerd refuses (the socket stays, nobody listens). Lag is the
# time since the stream was lost, and grows; the last error says why.
kill $fake
wait $fake 2>/dev/null || true
lost=$(date +%s%N)
wk_wait_for 10 bash -c "'$WK_BIN' status --socket '$sock' --json | jq -e '.sources[] | select(.name == \"dk\") | .last_error | startswith(\"GET /version: \")' >/dev/null" ||
    wk_fail "docker: no refusal seen: $(st '.sources[] | select(.name == "dk")')"
sleep 1
j=$(st '.sources[] | select(.name == "dk") | "\(.state) \(.lag_ns) \(.last_error)"')
now=$(date +%s%N)
read -r dstate dlag derr <<<"$j"
wk_expect_eq "$dstate $derr" "backoff GET /version: Couldn't connect to server (HTTP 0)" \
    "docker: state and last error while dockerd refuses"
[ "$dlag" -ge 1000000000 ] && [ "$dlag" -le $((now - lost + 200000000)) ] ||
    wk_fail "docker lag $dlag ns, expected >= 1 s and <= $(((now - lost) / 1000000)) ms"
row dk | grep -Eq "^dk +docker +backoff +1 +0\.0 +[0-9]+\.[0-9] s  GET /version: Couldn't connect to server \(HTTP 0\)$" ||
    wk_fail "status table: docker row: $(row dk)"

# --- SIGINT under load: drains, exits 0, everything committed, nothing lost or doubled ---
wk_gen_events 4001 20000 >"$WK_TMP/feed2"
python3 - "$WK_TMP/feed2" "$in" <<'PY' &
import sys, time
lines = open(sys.argv[1]).readlines()
out = open(sys.argv[2], "a")
for i in range(0, len(lines), 500): # 10 000 events/s
    out.writelines(lines[i:i + 500])
    out.flush()
    time.sleep(0.05)
PY
feeder=$!
wk_track_pid $feeder
wk_wait_for 20 wk_status_is .pipeline.committed -ge 5011 || wk_fail "second feed not read"
kill -INT $pid
rc=0
wait $pid || rc=$?
wait $feeder
wk_expect_eq "$rc" "0" "exit status after SIGINT"
grep -q "^watchkeeper: info: Interrupt: draining (at most 10.0 s)$" "$WK_TMP/daemon.log" ||
    wk_fail "no drain line: $(cat "$WK_TMP/daemon.log")"
n=$(wk_stored "$store" | wc -l)
committed=$(sed -nE 's/^watchkeeper: info: stopped: ([0-9]+) events committed this run$/\1/p' \
    "$WK_TMP/daemon.log")
wk_expect_eq "$committed" "$n" "events committed this run == events in the store"
# What was committed is a prefix of the input (the cursor is there): a --once run reads the
# rest; the store then holds every input line once (the docker event: once).
rc=0
W run -c "$WK_TMP/wk.yaml" --once --api '' 2>"$WK_TMP/once.log" || rc=$?
[ "$rc" -le 1 ] || wk_fail "run --once after SIGINT: exit $rc: $(cat "$WK_TMP/once.log")"
wk_expect_eq "$(wk_stored "$store" | jq -c 'select(.n >= 1 and .n <= 20000)' | sha256sum)" \
    "$(jq -c . "$in" | sha256sum)" "after SIGINT and a restart: the fed file, each line once"
wk_expect_eq "$(wk_stored "$store" | jq -r 'select(.n >= 90000) | .n' | tr '\n' ' ')" \
    "90001 90002 90003 90004 90005 90006 90007 90008 90009 90010 90011 90012 90013 " \
    "slow: each line once, the lag read at the restart"
wk_expect_eq "$(wk_stored "$store" | grep -c '"net1"')" "1" "the docker event: once"

# --- startup: a default source found, missing, denied --------------------------------
# No `sources:` in the file: the defaults are probed; DOCKER_HOST points the Docker probe.
printf 'store: {path: %s, fsync: false}\nrules: {dirs: [%s]}\napi: {enabled: false}\n' \
    "$WK_TMP/nb/store" "$rules" >"$WK_TMP/defaults.yaml"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$dsock.2"
chmod 0600 "$dsock.2"
probe() { grep '^watchkeeper: info: default sources: docker: ' <<<"$WK_ERR"; }
mkdir -p "$WK_TMP/nb"
chown nobody:nogroup "$WK_TMP/nb"
chmod 0755 "$WK_TMP"
wk_run 0 env DOCKER_HOST="unix://$WK_TMP/missing.sock" "$WK_BIN" run -c "$WK_TMP/defaults.yaml" \
    --once --store "$WK_TMP/store-m"
wk_expect_eq "$(probe)" \
    "watchkeeper: info: default sources: docker: not used: $WK_TMP/missing.sock: No such file or directory" \
    "startup: missing Docker socket"
wk_run 0 env DOCKER_HOST="unix://$dsock.2" setpriv --reuid=nobody --regid=nogroup \
    --clear-groups "$WK_BIN" run -c "$WK_TMP/defaults.yaml" --once
wk_expect_eq "$(probe)" \
    "watchkeeper: info: default sources: docker: not used: $dsock.2: Permission denied" \
    "startup: a Docker socket nobody may not open"
# Found: as root the same socket is there (nobody listens: the source retries; --once
# stops when the rest is caught up, the docker source counting as caught up while away).
wk_run 0 env DOCKER_HOST="unix://$dsock.2" "$WK_BIN" run -c "$WK_TMP/defaults.yaml" --once \
    --store "$WK_TMP/store-f"
wk_expect_eq "$(probe)" "watchkeeper: info: default sources: docker: found" \
    "startup: Docker socket found"
grep -q "^watchkeeper: info: source docker (docker): started$" <<<"$WK_ERR" ||
    wk_fail "found source not started: $WK_ERR"

# A configured file the daemon (as nobody) may not read: the startup warns why, and
# status shows the error on the source's row. An auditd log it may not read makes its
# source fail to start: listed as failed with the reason, and tried again at a reload.
secret=$WK_TMP/secret.jsonl
wk_gen_events 1 5 >"$secret"
chmod 0600 "$secret"
alog=$WK_TMP/nb/audit.log
echo 'type=DAEMON_START msg=audit(1700000000.000:1): op=start ver=3.0.9 format=enriched kernel=6.1.0 auid=4294967295 pid=1 uid=0 ses=4294967295 res=success' >"$alog"
chmod 0600 "$alog"
cat >"$WK_TMP/nb.yaml" <<YAML
store: {path: $WK_TMP/nb/store2, fsync: false}
sources: [{type: file_jsonl, name: secret, path: $secret, poll: 50ms},
          {type: auditd, name: alog, path: $alog, read_proc: false, lost_poll: 0s, poll: 50ms}]
rules: {dirs: [$rules]}
api: {socket: $WK_TMP/nb/api.sock}
YAML
setpriv --reuid=nobody --regid=nogroup --clear-groups "$WK_BIN" run -c "$WK_TMP/nb.yaml" \
    2>"$WK_TMP/nb.log" &
pid=$!
wk_track_pid $pid
sock=$WK_TMP/nb/api.sock
wk_wait_for 10 test -S "$sock" || wk_fail "nobody: no API socket: $(cat "$WK_TMP/nb.log")"
wk_expect_eq "$(st '.sources[] | select(.name == "secret") | "\(.state)|\(.last_error)"')" \
    "error|$secret: Permission denied" "status --json: the unreadable file's error"
wk_expect_eq "$(st '.sources[] | select(.name == "alog") | "\(.state)|\(.events)|\(.last_error)"')" \
    "failed|0|cannot start: Permission denied" "status --json: a source that failed to start"
grep -qx "watchkeeper: error: source alog (auditd): cannot start: Permission denied" \
    "$WK_TMP/nb.log" || wk_fail "no startup error for the failed source: $(cat "$WK_TMP/nb.log")"
chmod 0644 "$alog"
kill -HUP $pid
wk_wait_for 10 eval '[ "$(st ".sources[] | select(.name == \"alog\") | .state")" = running ]' ||
    wk_fail "the failed source not started again at a reload: $(st .sources)"
grep -qx "watchkeeper: info: source alog: failed to start: trying again" "$WK_TMP/nb.log" ||
    wk_fail "the retry is not logged: $(cat "$WK_TMP/nb.log")"
wk_expect_eq "$(st '.sources | length')" 2 "each source listed once after the retry"
wk_expect_eq "$(row secret)" \
    "$(src_row secret file_jsonl error 0 0.0 '0 B' "$secret: Permission denied")" \
    "status table: the unreadable file's row"
grep -qx "watchkeeper: warn: source secret: $secret: Permission denied" "$WK_TMP/nb.log" ||
    wk_fail "no startup warning for the unreadable file: $(cat "$WK_TMP/nb.log")"
kill -INT $pid
wait $pid || wk_fail "nobody daemon: exit status $?"
echo "run_obs: ok"
