#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Correlation windows survive a daemon restart: a correlation (3 execs into one container
# within 10 minutes) sees 2 events, the daemon stops (SIGTERM; separately kill -9 once the
# events are committed), restarts, sees the 3rd event and alerts exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
command -v jq >/dev/null || wk_skip "needs jq"

corr_id=3c9b1f0e-7a1d-4c55-9d0b-2f6e8a4b7c10
rules=$WK_TMP/rules
mkdir -p "$rules"
cp "$WK_SRCDIR/rules/logsources.yaml" "$rules/"
cat >"$rules/corr.yml" <<YAML
title: Exec into a container
id: 7d5c2a7e-0d1c-4b44-9c0e-5a4f3f0d9a01
name: t_exec
status: test
level: low
logsource: {product: docker, service: events}
detection:
  sel:
    Action|startswith: 'exec_create'
  condition: sel
---
title: Three execs into one container
id: $corr_id
status: test
level: high
correlation:
  type: event_count
  rules: [t_exec]
  group-by: [container.id]
  timespan: 10m
  condition: {gte: 3}
YAML

cid=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
# ev N: an exec into container cid, N seconds after 08:00.
ev() {
    printf '{"@timestamp":"2026-11-23T08:00:%02d.000000000Z","event":{"module":"docker","action":"exec_create"},"Action":"exec_create: sh -c id","container":{"id":"%s"},"n":%d}\n' \
        "$1" "$cid" "$1"
}
ncorr() { jq -r 'select(.rule.id == "'$corr_id'") | .value' "$WK_TMP/alerts.jsonl" 2>/dev/null; }

# case NAME STOP: 2 events, stop the daemon with STOP (TERM or KILL), restart, 1 more.
run_case() {
    local name=$1 sig=$2 store=$WK_TMP/store-$1 in=$WK_TMP/in-$1.jsonl cfg=$WK_TMP/$1.yaml
    rm -f "$WK_TMP/alerts.jsonl"
    { ev 1; ev 2; } >"$in"
    wk_write_config "$cfg" "$store" "$in" "$rules"
    "$WK_BIN" run -c "$cfg" 2>"$WK_TMP/$name-1.log" &
    local pid=$!
    wk_track_pid $pid
    wk_wait_for 10 test -S "$WK_TMP/api.sock" || wk_fail "$name: no API socket"
    # Stored (committed to LMDB, not just handed to the store) before the stop.
    wk_wait_for 20 eval '[ "$(wk_stored "$store" | wc -l)" = 2 ]' ||
        wk_fail "$name: the 2 events were not stored"
    wk_expect_eq "$(ncorr)" "" "$name: no correlation alert after 2 events"
    kill -"$sig" $pid
    wait $pid 2>/dev/null || true
    [ "$sig" = KILL ] || grep -q "correlation state saved" "$WK_TMP/$name-1.log" ||
        wk_fail "$name: state save not logged: $(cat "$WK_TMP/$name-1.log")"
    rm -f "$WK_TMP/api.sock"
    ev 3 >>"$in"
    "$WK_BIN" run -c "$cfg" 2>"$WK_TMP/$name-2.log" &
    pid=$!
    wk_track_pid $pid
    wk_wait_for 20 eval '[ "$(wk_stored "$store" | wc -l)" = 3 ]' ||
        wk_fail "$name: the 3rd event was not stored"
    wk_wait_for 10 eval '[ -n "$(ncorr)" ]' ||
        wk_fail "$name: no correlation alert after the restart: $(cat "$WK_TMP/$name-2.log")"
    grep -q "rules: correlation state restored" "$WK_TMP/$name-2.log" ||
        wk_fail "$name: restore not logged"
    kill -TERM $pid
    wait $pid 2>/dev/null || true
    wk_expect_eq "$(ncorr)" "3" "$name: exactly one correlation alert, count 3"
    # The base rule only feeds the correlation (Sigma: no alerts of its own).
    wk_expect_eq "$(wc -l <"$WK_TMP/alerts.jsonl")" "1" "$name: no other alert"
    "$WK_BIN" verify --store "$store" >/dev/null || wk_fail "$name: chain broken"
    echo "$name: correlation carried over the restart"
}

run_case term TERM
run_case kill KILL
echo "run_corr: ok"
