# SPDX-License-Identifier: Apache-2.0
# Helpers for the `watchkeeper run` integration tests (sourced after lib.sh): a rule pack
# with one Sigma rule, canonical event lines (what `query --format jsonl` prints back, so
# stored content compares byte for byte), a config writer, and waiting on the daemon.

# wk_rules_pack DIR: the pack's logsources.yaml plus one rule alerting on docker exec.
wk_rules_pack() {
    mkdir -p "$1"
    cp "$WK_SRCDIR/rules/logsources.yaml" "$1/"
    cat >"$1/exec.yml" <<'YAML'
title: Exec into a container
id: 7d5c2a7e-0d1c-4b44-9c0e-5a4f3f0d9a01
status: test
level: high
logsource:
  product: docker
  service: events
detection:
  sel:
    Action|startswith: 'exec_create'
  condition: sel
YAML
}

# wk_gen_events FROM TO: canonical event lines numbered FROM..TO; every 5th is an exec.
wk_gen_events() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        for (i = a; i <= b; i++) {
            act = (i % 5 == 0) ? "exec_create" : "start"
            full = (i % 5 == 0) ? "exec_create: sh -c id" : "start"
            printf "{\"@timestamp\":\"2026-11-23T%02d:%02d:%02d.%09dZ\",\"event\":{\"module\":\"docker\",\"action\":\"%s\"},\"Action\":\"%s\",\"n\":%d}\n",
                int(i / 3600) % 24, int(i / 60) % 60, i % 60, i, act, full, i
        }
    }'
}

# wk_write_config FILE STORE INPUT RULESDIR [EXTRA_YAML]
wk_write_config() {
    cat >"$1" <<YAML
store:
  path: $2
  fsync: false
sources:
  - type: file_jsonl
    name: events
    path: $3
    poll: 50ms
rules:
  dirs: [$4]
outputs:
  - type: file
    path: $WK_TMP/alerts.jsonl
api:
  socket: $WK_TMP/api.sock
pipeline:
  batch_age: 50ms
${5:-}
YAML
}

# wk_stored STORE: the stored events as JSON lines.
wk_stored() { "$WK_BIN" query --store "$1" --format jsonl; }

# wk_status_field JQ: one value of the running daemon's /status.
wk_status_field() { "$WK_BIN" status --socket "$WK_TMP/api.sock" --json | jq -r "$1"; }

# wk_status_is JQ OP VALUE: test(1) on a /status value, evaluated at each call (for
# wk_wait_for), e.g. wk_wait_for 10 wk_status_is .reloads.ok = 1
wk_status_is() {
    local v
    v=$(wk_status_field "$1" 2>/dev/null) || return 1
    [ -n "$v" ] && test "$v" "$2" "$3"
}

# wk_wait_committed N [TIMEOUT]: until the daemon reports N events committed.
wk_wait_committed() { wk_wait_for "${2:-30}" wk_status_is .pipeline.committed = "$1"; }

# wk_rss_kib PID: peak resident set (VmHWM) in KiB.
wk_rss_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
