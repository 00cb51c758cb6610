#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `watchkeeper run` under load: SIGTERM drains within the bound; kill -9 and a restart lose
# nothing and store nothing twice (stored events == input, byte for byte); a slow store
# (tiny blocks, fsync on, small queue) pauses the source with memory bounded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
command -v jq >/dev/null || wk_skip "needs jq"

rules=$WK_TMP/rules
wk_rules_pack "$rules"
in=$WK_TMP/in.jsonl
cfg=$WK_TMP/wk.yaml

# feed FROM TO: append events in chunks of 2000 (about 40k events/s), in the background.
feed() {
    local i
    for ((i = $1; i <= $2; i += 2000)); do
        wk_gen_events "$i" $((i + 1999 < $2 ? i + 1999 : $2)) >>"$in"
        sleep 0.05
    done
}

# catch_up: run --once over what is left (exit 1: it raised alerts; 0: nothing left).
catch_up() {
    local rc=0
    "$WK_BIN" run -c "$cfg" --once >/dev/null 2>>"$WK_TMP/once.log" || rc=$?
    [ $rc -le 1 ] || wk_fail "run --once exited $rc: $(tail -3 "$WK_TMP/once.log")"
}

# --- SIGTERM under load: drain and exit within the bound, then nothing lost --------------
store=$WK_TMP/store-term
: >"$in"
wk_write_config "$cfg" "$store" "$in" "$rules"
"$WK_BIN" run -c "$cfg" 2>"$WK_TMP/term.log" &
pid=$!
wk_track_pid $pid
feed 1 60000 &
feeder=$!
wk_track_pid $feeder
wk_wait_for 20 wk_status_is .pipeline.committed -gt 10000 ||
    wk_fail "no progress under load"
t0=$(date +%s%N)
kill -TERM $pid
rc=0
wait $pid || rc=$?
t1=$(date +%s%N)
kill -0 $feeder 2>/dev/null || wk_fail "the input was complete before SIGTERM: not under load"
wk_expect_eq "$rc" "0" "exit status after SIGTERM"
ms=$(((t1 - t0) / 1000000))
[ $ms -lt 10000 ] || wk_fail "SIGTERM took $ms ms (bound 10 s)"
grep -q "draining" "$WK_TMP/term.log" || wk_fail "no drain logged"
wait $feeder
# Catch up on what was appended after the stop: exactly the input, once.
catch_up
wk_expect_eq "$(wk_stored "$store" | wc -l)" "60000" "count after SIGTERM + restart"
wk_expect_eq "$(wk_stored "$store" | sha256sum)" "$(sha256sum <"$in")" "content after SIGTERM"
echo "SIGTERM under load: exited in $ms ms, 60000 events stored once"

# --- kill -9 under load, twice, then restart: no loss, no duplicate ---------------------
store=$WK_TMP/store-kill
: >"$in"
wk_write_config "$cfg" "$store" "$in" "$rules"
feed 1 100000 &
feeder=$!
wk_track_pid $feeder
for round in 1 2; do
    "$WK_BIN" run -c "$cfg" 2>>"$WK_TMP/kill.log" &
    pid=$!
    wk_track_pid $pid
    wk_wait_for 20 wk_status_is .pipeline.committed -gt 10000 ||
        wk_fail "no progress before kill -9 (round $round)"
    kill -KILL $pid
    wait $pid 2>/dev/null || true
done
wait $feeder
catch_up
wk_expect_eq "$(wk_stored "$store" | wc -l)" "100000" "count after kill -9 x2 + restart"
wk_expect_eq "$(wk_stored "$store" | sha256sum)" "$(sha256sum <"$in")" "content after kill -9"
"$WK_BIN" verify --store "$store" >/dev/null || wk_fail "chain broken after kill -9"
echo "kill -9 under load: 100000 events stored once, chain intact"

# --- slow store: back-pressure, memory bounded ------------------------------------------
store=$WK_TMP/store-slow
wk_gen_events 1 80000 >"$in"
wk_write_config "$cfg" "$store" "$in" "$rules" "  queue_bytes: 1MiB
  queue_events: 2000
  batch_events: 256"
sed -i 's/  fsync: false/  fsync: true\n  block_size: 4KiB/' "$cfg"
"$WK_BIN" run -c "$cfg" 2>"$WK_TMP/slow.log" &
pid=$!
wk_track_pid $pid
wk_wait_for 10 test -S "$WK_TMP/api.sock" || wk_fail "no API socket"
peak=0
for _ in $(seq 1 600); do
    r=$(wk_rss_kib $pid)
    [ "$r" -gt "$peak" ] && peak=$r
    [ "$(wk_status_field .pipeline.committed)" = 80000 ] && break
    sleep 0.1
done
wk_expect_eq "$(wk_status_field .pipeline.committed)" "80000" "slow store caught up"
refused=$(wk_status_field .pipeline.refused)
qpeak=$(wk_status_field .pipeline.peak_bytes)
[ "$refused" -gt 0 ] || wk_fail "back-pressure never engaged"
[ "$qpeak" -le 1048576 ] || wk_fail "queue held $qpeak bytes (> queue_bytes 1MiB)"
[ "$peak" -lt 65536 ] || wk_fail "peak RSS $peak KiB >= 64 MiB"
kill -TERM $pid
wait $pid || wk_fail "exit after slow store"
wk_expect_eq "$(wk_stored "$store" | sha256sum)" "$(sha256sum <"$in")" "content after slow store"
echo "slow store: $refused refused submits, queue peak $qpeak B, peak RSS $peak KiB"
# --- a drain slower than drain_timeout: exit 3, nothing lost; second SIGTERM: at once ---
slow_config() { # STORE (the queue must hold more than 5000 of these events)
    wk_write_config "$cfg" "$1" "$in" "$rules" "  queue_events: 20000
  queue_bytes: 64MiB
  batch_events: 64
  drain_timeout: 1s"
}
wk_gen_events 1 30000 >"$in"
# WK_TEST_SLOW_COMMIT_MS makes each commit take 50 ms more: a drain of 5000+ events in
# batches of 64 then needs seconds.
store=$WK_TMP/store-timeout
slow_config "$store"
WK_TEST_SLOW_COMMIT_MS=50 "$WK_BIN" run -c "$cfg" 2>"$WK_TMP/timeout.log" &
pid=$!
wk_track_pid $pid
wk_wait_for 20 wk_status_is .pipeline.queued_events -gt 5000 || wk_fail "queue did not fill"
kill -TERM $pid
rc=0
wait $pid || rc=$?
wk_expect_eq "$rc" "3" "exit status after a drain timeout"
grep -q "drain timed out" "$WK_TMP/timeout.log" || wk_fail "timeout not logged"
catch_up
wk_expect_eq "$(wk_stored "$store" | sha256sum)" "$(sha256sum <"$in")" "content after timeout"

store=$WK_TMP/store-twice
slow_config "$store"
sed -i 's/drain_timeout: 1s/drain_timeout: 60s/' "$cfg"
WK_TEST_SLOW_COMMIT_MS=50 "$WK_BIN" run -c "$cfg" 2>"$WK_TMP/twice.log" &
pid=$!
wk_track_pid $pid
wk_wait_for 20 wk_status_is .pipeline.queued_events -gt 5000 || wk_fail "queue did not fill"
kill -TERM $pid
sleep 0.3
t0=$(date +%s%N)
kill -TERM $pid
wait $pid || true
ms=$((($(date +%s%N) - t0) / 1000000))
grep -q "second Terminated: exiting without waiting" "$WK_TMP/twice.log" ||
    wk_fail "second SIGTERM not seen: $(tail -3 "$WK_TMP/twice.log")"
[ $ms -lt 1000 ] || wk_fail "second SIGTERM took $ms ms"
catch_up
wk_expect_eq "$(wk_stored "$store" | sha256sum)" "$(sha256sum <"$in")" \
    "content after a second SIGTERM"
echo "drain timeout: exit 3, nothing lost; second SIGTERM: exited in $ms ms, nothing lost"
echo "run_crash: ok"
