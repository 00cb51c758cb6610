#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# hunt of one regex rule over a store vs `zstd -dc raw.zst | grep -cE` of the same pattern on
# the raw input, same machine, same run. usage: hunt_bench.sh WATCHKEEPER GEN_EVENTS [N]
set -euo pipefail
wk=$1 gen=$2 n=${3:-${N:-1000000}}
src=$(cd "$(dirname "$0")/.." && pwd)
corpus=${WK_CORPUS:-$src/../shared/corpus}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
pat='std(err|out) [a-z]+ test log'
"$gen" "$corpus" "$n" 5 >"$tmp/events.jsonl"
"$gen" "$corpus" "$n" 5 --raw >"$tmp/raw.log"
zstd -q -3 "$tmp/raw.log" -o "$tmp/raw.zst"
"$wk" ingest --store "$tmp/st" --format jsonl --no-fsync "$tmp/events.jsonl" >/dev/null
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
printf 'events: %s (raw %s bytes, raw.zst %s bytes)\n' "$n" "$(stat -c %s "$tmp/raw.log")" \
    "$(stat -c %s "$tmp/raw.zst")"
for threads in 1 2; do
    t0=$(now)
    rc=0
    "$wk" hunt -r "$tmp/rule.yml" -s "$tmp/st" -j "$threads" >"$tmp/alerts" || rc=$?
    [ "$rc" -le 1 ] || exit "$rc" # 1: alerts found
    a=$(wc -l <"$tmp/alerts")
    t1=$(now)
    echo "hunt -j $threads: $a alerts in $(echo "$t1 - $t0" | bc) s"
    eval "h$threads=$(echo "$t1 - $t0" | bc)"
done
t0=$(now)
g=$(zstd -dc "$tmp/raw.zst" | grep -cE "$pat")
t1=$(now)
gt=$(echo "$t1 - $t0" | bc)
echo "zstd -dc | grep -cE: $g lines in $gt s"
echo "ratio (grep pipeline time / hunt time): -j 1 $(echo "scale=2; $gt / $h1" | bc)x, -j 2 $(echo "scale=2; $gt / $h2" | bc)x"
