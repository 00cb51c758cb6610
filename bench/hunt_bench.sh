#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# hunt of one regex rule over a store vs `zstd -dc raw.zst | grep -cE` of the same pattern on
# the raw input, same machine, same run (each measured RUNS times, default 2; the ratio is
# taken within a run). usage: hunt_bench.sh WATCHKEEPER GEN_EVENTS [N]
# Environment: N (events, default 1000000), RUNS, KEEP=DIR (build the store and inputs in
# DIR and keep them; reused when DIR/st exists), WK_CORPUS, COLD=1 (move the store to the
# cold tier with `watchkeeper compact` first: merged 1 MiB values at zstd 19).
set -euo pipefail
wk=$1 gen=$2 n=${3:-${N:-1000000}}
runs=${RUNS:-2}
src=$(cd "$(dirname "$0")/.." && pwd)
corpus=${WK_CORPUS:-$src/../shared/corpus}
if [ -n "${KEEP:-}" ]; then
    tmp=$KEEP
    mkdir -p "$tmp"
else
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
fi
now() { date +%s.%N; }
pat='std(err|out) [a-z]+ test log'
if [ ! -d "$tmp/st" ]; then
    # events are piped into ingest (10M events are ~6.5 GB of JSON lines)
    "$gen" "$corpus" "$n" 5 --raw | zstd -q -3 -o "$tmp/raw.zst"
    "$gen" "$corpus" "$n" 5 | "$wk" ingest --store "$tmp/st" --format jsonl --no-fsync - >/dev/null
fi
if [ "${COLD:-0}" = 1 ]; then
    "$wk" compact --store "$tmp/st"
fi
cat >"$tmp/rule.yml" <<YML
title: bench regex
id: 6f1b0a8e-1d7e-4c1e-9a55-2f9a0e1b7c33
logsource: {product: docker, service: container_logs}
detection:
    s:
        message|re: '$pat'
    condition: s
level: low
YML
printf 'events: %s (raw %s bytes, raw.zst %s bytes, store %s)\n' "$n" \
    "$(zstd -dc "$tmp/raw.zst" | wc -c)" \
    "$(stat -c %s "$tmp/raw.zst")" "$(du -sh "$tmp/st" | cut -f1)"
"$wk" hunt --logsources "$src/rules/logsources.yaml" -r "$tmp/rule.yml" -s "$tmp/st" --stats 2>&1 >/dev/null | grep '^hunt:' || true
timed() { # NAME CMD...: run, print the seconds, set $last
    local t0 t1 rc=0
    t0=$(now)
    "${@:2}" >"$tmp/out" || rc=$?
    [ "$rc" -le 1 ] || exit "$rc" # hunt: 1 = alerts found; grep: 1 = no line
    t1=$(now)
    last=$(echo "$t1 - $t0" | bc)
    printf '  %-28s %6s s  (%s lines)\n' "$1" "$last" "$(wc -l <"$tmp/out")"
}
grep_pipe() { zstd -dc "$tmp/raw.zst" | grep -cE "$pat"; }
for run in $(seq 1 "$runs"); do
    echo "run $run:"
    timed "zstd -dc | grep -cE" grep_pipe
    g=$last
    echo "    (grep -c: $(cat "$tmp/out"))"
    timed "hunt -j 1" "$wk" hunt --logsources "$src/rules/logsources.yaml" -r "$tmp/rule.yml" -s "$tmp/st" -j 1
    h1=$last
    timed "hunt -j 2" "$wk" hunt --logsources "$src/rules/logsources.yaml" -r "$tmp/rule.yml" -s "$tmp/st" -j 2
    h2=$last
    timed "hunt -j 2 --no-block-prefilter" "$wk" hunt --logsources "$src/rules/logsources.yaml" -r "$tmp/rule.yml" -s "$tmp/st" -j 2 \
        --no-block-prefilter
    h3=$last
    # like grep -c: count the alerts, do not format them
    timed "hunt -j 2 -f count" "$wk" hunt --logsources "$src/rules/logsources.yaml" -r "$tmp/rule.yml" -s "$tmp/st" -j 2 -f count
    h4=$last
    echo "    (count: $(cat "$tmp/out"))"
    echo "  ratio (grep pipeline time / hunt time): -j 1 $(echo "scale=2; $g / $h1" | bc)x," \
        "-j 2 $(echo "scale=2; $g / $h2" | bc)x, -j 2 without block prefilter" \
        "$(echo "scale=2; $g / $h3" | bc)x, -j 2 -f count $(echo "scale=2; $g / $h4" | bc)x"
done
