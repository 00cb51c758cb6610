#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `watchkeeper config check`, `run --once` (content stored exactly, alerts, no duplicate on
# a second run), a running daemon fed a growing file, `status`, and SIGHUP with a bad and
# a good config + rule set.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
command -v jq >/dev/null || wk_skip "needs jq"

rules=$WK_TMP/rules
wk_rules_pack "$rules"
in=$WK_TMP/in.jsonl
store=$WK_TMP/store
cfg=$WK_TMP/wk.yaml

# --- config check: the documented example, a good file, a bad one with every error ------
wk_run 0 "$WK_BIN" config check "$WK_SRCDIR/packaging/watchkeeper.yaml"
wk_write_config "$cfg" "$store" "$in" "$rules"
wk_run 0 "$WK_BIN" config check "$cfg"
wk_expect_eq "$WK_OUT" "$cfg: ok (1 sources, 1 outputs, store $store)" "config check ok"
cat >"$WK_TMP/bad.yaml" <<'YAML'
store:
  block_size: huge
sources:
  - type: file_jsonl
    paht: /x
loging: {}
YAML
wk_run 1 "$WK_BIN" config check "$WK_TMP/bad.yaml"
wk_expect_eq "$WK_ERR" "$WK_TMP/bad.yaml:2:15: store.block_size: 'huge': expected a size such as 4096, 256KiB, 1MiB or 2GiB
$WK_TMP/bad.yaml:5:5: sources[file_jsonl]: unknown key 'paht'
$WK_TMP/bad.yaml:6:1: unknown key 'loging' (known: store, sources, rules, outputs, api, logging, pipeline)" \
    "config check errors with positions"
wk_run 3 "$WK_BIN" config check "$WK_TMP/missing.yaml"
wk_run 2 "$WK_BIN" config frobnicate

# --- run --once: stores exactly the input, raises the alerts, exits 1 (alerts found) ---
wk_gen_events 1 1000 >"$in"
wk_run 1 "$WK_BIN" run -c "$cfg" --once
wk_expect_eq "$(wk_stored "$store" | sha256sum)" "$(sha256sum <"$in")" "stored == input"
wk_expect_eq "$(wc -l <"$WK_TMP/alerts.jsonl")" "200" "one alert per exec"
wk_expect_eq "$(jq -r '.rule.id' "$WK_TMP/alerts.jsonl" | sort -u)" \
    "7d5c2a7e-0d1c-4b44-9c0e-5a4f3f0d9a01" "alert rule id"
wk_expect_eq "$(jq -r '.event.n' "$WK_TMP/alerts.jsonl" | tail -1)" "1000" "alert evidence"
grep -q "source events (file_jsonl): started" <<<"$WK_ERR" || wk_fail "no startup line"
# A second run resumes from the stored cursor: nothing twice.
wk_run 0 "$WK_BIN" run -c "$cfg" --once
wk_expect_eq "$(wk_stored "$store" | wc -l)" "1000" "no duplicate after rerun"
grep -q "resuming from its stored cursor" <<<"$WK_ERR" || wk_fail "did not resume"

# --- the daemon: growing file, status, quarantine ----------------------------------------
"$WK_BIN" run -c "$cfg" 2>"$WK_TMP/daemon.log" &
pid=$!
wk_track_pid $pid
wk_wait_for 10 test -S "$WK_TMP/api.sock" || wk_fail "no API socket"
wk_gen_events 1001 1500 >>"$in"
echo 'this is not json' >>"$in"
wk_gen_events 1501 2000 >>"$in"
wk_wait_committed 1000 || wk_fail "daemon did not commit the appended events"
wk_run 0 "$WK_BIN" status --socket "$WK_TMP/api.sock"
grep -Eq '^events +file_jsonl +running +1000 ' <<<"$WK_OUT" || wk_fail "status row: $WK_OUT"
grep -q '^rules     1 loaded$' <<<"$WK_OUT" || wk_fail "status rules: $WK_OUT"
grep -q '^alerts    200 in the last hour, 200 since start$' <<<"$WK_OUT" ||
    wk_fail "status alerts: $WK_OUT"
wk_expect_eq "$(wk_status_field .pipeline.rejected)" "1" "rejected line counted"

# --- SIGHUP: a bad rule set is rejected whole, the running one keeps alerting -----------
cat >"$rules/broken.yml" <<'YAML'
title: Broken
id: 00000000-0000-0000-0000-000000000001
logsource: {product: docker, service: events}
detection:
  sel: {Action|nosuchmodifier: x}
  condition: sel
YAML
kill -HUP $pid
wk_wait_for 10 wk_status_is .reloads.failed = 1 || wk_fail "bad reload not seen"
grep -q "reload rejected: rules: $rules/broken.yml:" "$WK_TMP/daemon.log" ||
    wk_fail "reload error not logged: $(cat "$WK_TMP/daemon.log")"
wk_expect_eq "$(wk_status_field .rules.loaded)" "1" "old rules kept"
# ... a bad config too
cp "$cfg" "$WK_TMP/good.yaml"
echo "bogus: 1" >>"$cfg"
rm "$rules/broken.yml"
kill -HUP $pid
wk_wait_for 10 wk_status_is .reloads.failed = 2 || wk_fail "bad config reload"
grep -q "config: $cfg:.*unknown key 'bogus'" "$WK_TMP/daemon.log" || wk_fail "config error"
wk_gen_events 2001 2100 >>"$in"
wk_wait_committed 1100 || wk_fail "stopped collecting after a rejected reload"
# A good set: a second rule, and an allow-list.
cp "$WK_TMP/good.yaml" "$cfg"
sed "s/7d5c2a7e-0d1c-4b44-9c0e-5a4f3f0d9a01/7d5c2a7e-0d1c-4b44-9c0e-5a4f3f0d9a02/;s/Exec into/Start of/;s/'exec_create'/'start'/" \
    "$rules/exec.yml" >"$rules/start.yml"
kill -HUP $pid
wk_wait_for 10 wk_status_is .reloads.ok = 1 || wk_fail "good reload"
wk_expect_eq "$(wk_status_field .rules.loaded)" "2" "new rules loaded"
wk_gen_events 2101 2110 >>"$in"
wk_wait_committed 1110 || wk_fail "after reload"
wk_expect_eq "$(wk_status_field .alerts.total)" "230" "alerts: 220 before, 2 exec + 8 start after"
# New store settings: named in the log, the running store kept (and shown) until restart.
sed -i "s|^  path: $store\$|  path: $store-new|; s|^  fsync: false\$|  fsync: true|" "$cfg"
kill -HUP $pid
wk_wait_for 10 wk_status_is .reloads.ok = 2 || wk_fail "reload with new store settings"
grep -q "warn: store.path, store.fsync changed: takes effect at the next start (the running store keeps its settings until then)$" \
    "$WK_TMP/daemon.log" || wk_fail "store change not named: $(cat "$WK_TMP/daemon.log")"
wk_expect_eq "$(wk_status_field .store.path)" "$store" "status names the store in use"
wk_gen_events 2111 2120 >>"$in"
wk_wait_committed 1120 || wk_fail "after a reload with new store settings"
[ ! -e "$store-new" ] || wk_fail "the new store path was opened before a restart"

kill -TERM $pid
wait $pid || wk_fail "daemon exit status $?"
wk_expect_eq "$(wk_stored "$store" | sha256sum)" "$(grep -v 'not json' "$in" | sha256sum)" \
    "stored == input after the daemon"
# --- rotation and truncation of the tailed file ------------------------------------------
store=$WK_TMP/store-rot
wk_write_config "$cfg" "$store" "$in" "$rules"
wk_gen_events 1 300 >"$in"
"$WK_BIN" run -c "$cfg" 2>"$WK_TMP/rot.log" &
pid=$!
wk_track_pid $pid
wk_wait_committed 300 || wk_fail "before rotation"
wk_gen_events 301 400 >>"$in"
mv "$in" "$in.1"                       # rotated: the tail of the old file is read first
wk_gen_events 401 500 >"$in"
wk_wait_committed 500 || wk_fail "after rotation: $(wk_status_field .pipeline.committed)"
: >"$in"                               # truncated: read again from the start
sleep 0.3
wk_gen_events 501 550 >>"$in"
wk_wait_committed 550 || wk_fail "after truncation: $(wk_status_field .pipeline.committed)"
kill -TERM $pid
wait $pid || wk_fail "exit after rotation"
wk_expect_eq "$(wk_stored "$store" | sha256sum)" "$(wk_gen_events 1 550 | sha256sum)" \
    "rotation and truncation: every event once"

# --- systemd notifications: READY, RELOADING with MONOTONIC_USEC, WATCHDOG, STOPPING ----
python3 - "$WK_TMP/notify.sock" "$WK_TMP/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        msg = s.recv(4096).decode()
        f.write(msg.replace("\n", " ") + "\n")
PY
listener=$!
wk_track_pid $listener
wk_wait_for 5 test -S "$WK_TMP/notify.sock" || wk_fail "no notify socket"
NOTIFY_SOCKET=$WK_TMP/notify.sock WATCHDOG_USEC=200000 "$WK_BIN" run -c "$cfg" \
    2>"$WK_TMP/daemon2.log" &
pid=$!
wk_track_pid $pid
wk_wait_for 10 grep -q '^READY=1 STATUS=running$' "$WK_TMP/notify.log" || wk_fail "no READY=1"
kill -HUP $pid
wk_wait_for 10 grep -Eq '^RELOADING=1 MONOTONIC_USEC=[0-9]+$' "$WK_TMP/notify.log" ||
    wk_fail "no RELOADING=1 with MONOTONIC_USEC: $(cat "$WK_TMP/notify.log")"
wk_wait_for 10 grep -q '^WATCHDOG=1$' "$WK_TMP/notify.log" || wk_fail "no WATCHDOG=1"
kill -TERM $pid
wait $pid || wk_fail "exit status after SIGTERM"
grep -q '^STOPPING=1$' "$WK_TMP/notify.log" || wk_fail "no STOPPING=1"
wk_expect_eq "$(grep -c '^READY=1' "$WK_TMP/notify.log")" "2" "READY at start and after reload"

# --- status: each output's delivered alert id against the newest, a failing output -----
store=$WK_TMP/store-out
ocfg=$WK_TMP/out.yaml
wk_gen_events 1 100 >"$WK_TMP/out.jsonl"
cat >"$ocfg" <<YAML
store: {path: $store, fsync: false}
sources:
  - {type: file_jsonl, name: events, path: $WK_TMP/out.jsonl, poll: 50ms}
rules: {dirs: [$rules]}
outputs:
  - {type: file, name: siem, path: $WK_TMP/alerts-out.jsonl}
  - {type: file, name: full, path: /dev/full}
api: {socket: $WK_TMP/api.sock}
pipeline: {batch_age: 50ms}
YAML
out_row() { printf '%-16s %-8s %-6s %10s %10s %8s %8s  %s\n' "$@"; }
"$WK_BIN" run -c "$ocfg" 2>"$WK_TMP/out.log" &
pid=$!
wk_track_pid $pid
wk_wait_committed 100 || wk_fail "outputs: not committed"
wk_wait_for 10 wk_status_is .outputs[0].delivered -gt 0 || wk_fail "outputs: nothing delivered"
n=$(wc -l <"$WK_TMP/alerts-out.jsonl")
[ "$n" -gt 0 ] || wk_fail "outputs: no alert written"
wk_run 0 "$WK_BIN" status --socket "$WK_TMP/api.sock"
wk_expect_eq "$(sed -n '/^OUTPUT /,/^$/p' <<<"$WK_OUT")" \
    "$(out_row OUTPUT TYPE STATE DELIVERED NEWEST LAG WRITTEN 'LAST ERROR'
       out_row siem file ok "$n" "$n" 0 "$n" ''
       out_row full file error 0 "$n" "$n" 0 'write: No space left on device'
       echo)" "status: outputs with their lag"
wk_expect_eq "$(wk_status_field '.outputs[1] | "\(.lag) \(.errors > 0) \(.path)"')" \
    "$n true /dev/full" "status JSON: the failing output"
kill -TERM $pid
wait $pid || wk_fail "outputs: exit status"
# Delivered ids are stored: after a restart (nothing new) they and the newest id stay.
"$WK_BIN" run -c "$ocfg" 2>"$WK_TMP/out2.log" &
pid=$!
wk_track_pid $pid
wk_wait_for 10 test -S "$WK_TMP/api.sock" || wk_fail "outputs: no API socket"
wk_run 0 "$WK_BIN" status --socket "$WK_TMP/api.sock"
wk_expect_eq "$(sed -n '/^siem /p; /^full /p' <<<"$WK_OUT")" \
    "$(out_row siem file ok "$n" "$n" 0 0 ''
       out_row full file ok 0 "$n" "$n" 0 '')" "status after a restart"
kill -TERM $pid
wait $pid || wk_fail "outputs: exit status after restart"

# --- no config: the defaults, with what was found and why the rest is not used ----------
wk_run 0 "$WK_BIN" run --once --store "$WK_TMP/store-defaults" --api ''
grep -q "default sources: file_jsonl: not used: no path configured" <<<"$WK_ERR" ||
    wk_fail "no probe line: $WK_ERR"
grep -q "store $WK_TMP/store-defaults (lmdb)" <<<"$WK_ERR" || wk_fail "store override"
# JSON logs
printf 'logging: {json: true}\nsources: []\nstore: {path: %s}\n' "$WK_TMP/s3" >"$WK_TMP/j.yaml"
wk_run 0 "$WK_BIN" run -c "$WK_TMP/j.yaml" --once
jq -e 'select(."log.level" == "info") | .message' <<<"$WK_ERR" >/dev/null ||
    wk_fail "logs are not JSON lines: $WK_ERR"
echo "run: ok"
