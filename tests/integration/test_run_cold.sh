#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The daemon's cold tier (store.cold): with a short `after` and small blocks, the writer
# merges committed blocks into larger zstd-19 values in the background, within its CPU
# budget; status and stats count the cold blocks; every event reads back byte-identical
# and verify passes. A SIGTERM and a kill -9 while it merges lose nothing, and the next
# run carries on where the last stopped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
command -v jq >/dev/null || wk_skip "needs jq"

rules=$WK_TMP/rules
wk_rules_pack "$rules"

# cold_config FILE STORE INPUT BUDGET BLOCK_BYTES
cold_config() {
    cat >"$1" <<YAML
store:
  path: $2
  fsync: false
  block_size: 4KiB
  cold: {after: 1s, cpu_budget: $4, block_bytes: $5, level: 19}
sources:
  - {type: file_jsonl, name: events, path: $3, poll: 50ms}
rules:
  dirs: [$rules]
outputs:
  - {type: file, path: $WK_TMP/alerts.jsonl}
api:
  socket: $WK_TMP/api.sock
pipeline:
  batch_age: 50ms
YAML
}
cold_blocks() { "$WK_BIN" stats --store "$1" | awk '$1 == "cold" && $2 == "blocks" {print $3}'; }
hot_blocks() { "$WK_BIN" stats --store "$1" | awk '$1 == "cold" && $2 == "blocks" {print substr($4, 2)}'; }
check_store() { # STORE INPUT WHAT
    wk_expect_eq "$(wk_stored "$1" | sha256sum)" "$(sha256sum <"$2")" "$3: stored == input"
    "$WK_BIN" verify --store "$1" >"$WK_TMP/verify.out" || wk_fail "$3: verify: $(cat "$WK_TMP/verify.out")"
}

# --- 1. Merged within budget (20% of a core), status and stats agree -------------------
in=$WK_TMP/in.jsonl
store=$WK_TMP/store
cfg=$WK_TMP/wk.yaml
wk_gen_events 1 40000 >"$in"
cold_config "$cfg" "$store" "$in" 20 64KiB
"$WK_BIN" config check "$cfg" >/dev/null || wk_fail "config check"
"$WK_BIN" run -c "$cfg" 2>"$WK_TMP/daemon.log" &
pid=$!
wk_track_pid $pid
wk_wait_committed 40000 30 || wk_fail "events not committed: $(tail -5 "$WK_TMP/daemon.log")"
# 4 KiB blocks, 64 KiB values: what is left hot at the end is less than one value.
wk_wait_for 60 eval '[ "$(wk_status_field .store.cold.hot_blocks)" -lt 17 ]' ||
    wk_fail "not merged: $(wk_status_field .store.cold)"
st=$("$WK_BIN" status --socket "$WK_TMP/api.sock" --json)
cold=$(jq .store.cold.blocks <<<"$st")
[ "$cold" -gt 200 ] || wk_fail "cold blocks: $cold"
grep -q "^cold      on: $cold blocks cold, " <<<"$("$WK_BIN" status --socket "$WK_TMP/api.sock")" ||
    wk_fail "status text has no cold line"
# Caught up: a look that found nothing to merge ends "behind"; what waits is less than a value.
wk_wait_for 20 eval '[ "$(wk_status_field .store.cold.behind_s)" = 0 ]' ||
    wk_fail "still behind after merging everything: $(wk_status_field .store.cold)"
[ "$(wk_status_field .store.cold.waiting_blocks)" -lt 17 ] ||
    wk_fail "blocks waiting after merging everything: $(wk_status_field .store.cold)"
# CPU within budget: at most 20% of the uptime, plus one slice.
jq -e '.store.cold.cpu_s <= 0.2 * .uptime_s + 0.5' <<<"$st" >/dev/null ||
    wk_fail "cold tier over its CPU budget: $(jq -c '{uptime_s, cold: .store.cold}' <<<"$st")"
kill -TERM $pid
wait $pid || wk_fail "daemon exit $?"
wk_expect_eq "$(cold_blocks "$store")" "$cold" "stats cold blocks == status"
values=$("$WK_BIN" stats --store "$store" | awk '$1 == "cold" {print $6}')
blocks=$("$WK_BIN" stats --store "$store" | awk '$1 == "blocks" {print $2}')
[ "$values" -lt $((blocks / 8)) ] || wk_fail "values $values for $blocks blocks: not merged"
check_store "$store" "$in" "merged"
# Stored bytes shrink: the totals count the merged values.
grep -q "^cold blocks   $cold (" <<<"$("$WK_BIN" stats --store "$store")" || wk_fail "stats line"

# Offline, `compact` finishes the job: with 4 KiB values the hot blocks go cold too, all
# but the last (sealed by the stop, under 4 KiB).
out=$("$WK_BIN" compact --store "$store" --block-bytes 4KiB) || wk_fail "compact: $out"
wk_expect_eq "$(cold_blocks "$store")" "$((blocks - 1))" "compact: every full block cold"
grep -q "; $((blocks - 1)) of $blocks blocks cold, " <<<"$out" || wk_fail "compact said: $out"
check_store "$store" "$in" "compact"
"$WK_BIN" compact --store "$store" --cpu-budget 0 2>/dev/null && wk_fail "budget 0 accepted"

# --- 2. SIGTERM and kill -9 while merging 1 MiB values lose nothing ---------------------
# 3% of a core while the events go in and until the kill -9, so that a loaded
# machine still stops it mid-way; the third run gets the whole core to finish.
in2=$WK_TMP/in2.jsonl
store2=$WK_TMP/store2
cfg2=$WK_TMP/wk2.yaml
wk_gen_events 1 120000 >"$in2"
cold_config "$cfg2" "$store2" "$in2" 3 1MiB
rm -f "$WK_TMP/api.sock"
"$WK_BIN" run -c "$cfg2" 2>"$WK_TMP/daemon2.log" &
pid=$!
wk_track_pid $pid
wk_wait_committed 120000 60 || wk_fail "events not committed: $(tail -5 "$WK_TMP/daemon2.log")"
wk_wait_for 60 eval '[ "$(wk_status_field .store.cold.blocks)" -gt 0 ]' || wk_fail "nothing merged"
t0=$(date +%s%N)
kill -TERM $pid
wait $pid || wk_fail "daemon exit $? after SIGTERM"
ms=$((($(date +%s%N) - t0) / 1000000))
# A stop waits for at most the slice under way (one 1 MiB value at zstd 19).
[ "$ms" -lt 5000 ] || wk_fail "stop took $ms ms"
c1=$(cold_blocks "$store2")
h1=$(hot_blocks "$store2")
[ "$h1" -gt 256 ] || wk_fail "merging finished before the SIGTERM ($c1 cold, $h1 hot)"
check_store "$store2" "$in2" "after SIGTERM"

# Again, killed with -9 in the middle: one transaction per merged value.
"$WK_BIN" run -c "$cfg2" 2>>"$WK_TMP/daemon2.log" &
pid=$!
wk_track_pid $pid
wk_wait_for 60 eval '[ "$(wk_status_field .store.cold.blocks 2>/dev/null || echo 0)" -gt '"$c1"' ]' ||
    wk_fail "no progress after restart"
kill -KILL $pid
wait $pid 2>/dev/null || true
c2=$(cold_blocks "$store2")
[ "$c2" -gt "$c1" ] || wk_fail "cold blocks $c2 after restart (was $c1)"
check_store "$store2" "$in2" "after kill -9"

# A third run finishes the job: fewer than one value's worth of blocks stays hot.
cold_config "$cfg2" "$store2" "$in2" 100 1MiB
"$WK_BIN" run -c "$cfg2" 2>>"$WK_TMP/daemon2.log" &
pid=$!
wk_track_pid $pid
wk_wait_for 120 eval '[ "$(wk_status_field .store.cold.hot_blocks 2>/dev/null || echo 999)" -lt 257 ]' ||
    wk_fail "merging did not finish: $(wk_status_field .store.cold)"
kill -TERM $pid
wait $pid || wk_fail "daemon exit $?"
check_store "$store2" "$in2" "all merged"
wk_expect_eq "$(grep -c 'events committed this run' "$WK_TMP/daemon2.log")" "2" \
    "two clean stops logged"

# --- 3. Falling behind: at 2% of a core the tier cannot keep up with 40k events ---------
# status counts the blocks waiting and for how long the tier has found work at every look;
# after 3 x after and 10 of its slices' cycles the daemon logs one warning with what it
# would take to keep up (docs/daemon.md, "The cold tier").
in3=$WK_TMP/in3.jsonl
store3=$WK_TMP/store3
cfg3=$WK_TMP/wk3.yaml
wk_gen_events 1 40000 >"$in3"
cold_config "$cfg3" "$store3" "$in3" 2 64KiB
rm -f "$WK_TMP/api.sock"
"$WK_BIN" run -c "$cfg3" 2>"$WK_TMP/daemon3.log" &
pid=$!
wk_track_pid $pid
wk_wait_committed 40000 30 || wk_fail "events not committed: $(tail -5 "$WK_TMP/daemon3.log")"
wk_wait_for 60 grep -q 'store: cold tier behind for ' "$WK_TMP/daemon3.log" ||
    wk_fail "no warning: $(wk_status_field .store.cold)"
st=$("$WK_BIN" status --socket "$WK_TMP/api.sock" --json)
jq -e '.store.cold.behind_s >= 3 and .store.cold.waiting_blocks > 100 and
       .store.cold.waiting_blocks <= .store.cold.hot_blocks' <<<"$st" >/dev/null ||
    wk_fail "status while behind: $(jq -c .store.cold <<<"$st")"
grep -q "^cold      on: .* hot ([0-9]* waiting), .*, behind for [0-9]* s$" \
    <<<"$("$WK_BIN" status --socket "$WK_TMP/api.sock")" || wk_fail "status text: not behind"
warn=$(grep 'store: cold tier behind for ' "$WK_TMP/daemon3.log")
wk_expect_eq "$(wc -l <<<"$warn")" "1" "one warning (at most one per 10 min)"
grep -Eq 'behind for [0-9]+ s: [1-9][0-9]* blocks \(about [1-9][0-9]* events\) wait .* us CPU per event at cpu_budget 2%\), [0-9]+ events/s arrive: (a budget of ([3-9]|[1-9][0-9]+)% would keep up|about [0-9]+ s more to catch up) \(store.cold.cpu_budget' \
    <<<"$warn" || wk_fail "warning: $warn"
kill -TERM $pid
wait $pid || wk_fail "daemon exit $?"
check_store "$store3" "$in3" "behind"
echo "ok: cold tier ($cold + $(cold_blocks "$store2") cold blocks; stop in $ms ms; behind warned)"
