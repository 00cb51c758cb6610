#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# hunt of one regex rule over a store vs `zstd -dc raw.zst | grep -cE` of the same pattern on
# the raw input, same machine, same run (each measured RUNS times, default 2; the ratios,
# of wall time and of CPU time (user + sys, all processes of the pipeline), are taken
# within a run; hunt's alert count must equal grep's line count, or the script fails).
# usage: hunt_bench.sh WATCHKEEPER GEN_EVENTS [N]
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
timed() { # NAME CMD...: run under /usr/bin/time, print wall and CPU (user + sys, children
    # included: the pipeline's zstd and grep both count), set $last (wall) and $lastcpu
    local rc=0
    /usr/bin/time -o "$tmp/time" -f '%e %U %S' "${@:2}" >"$tmp/out" || rc=$?
    [ "$rc" -le 1 ] || exit "$rc" # hunt: 1 = alerts found; grep: 1 = no line
    read -r last u s < <(tail -1 "$tmp/time")
    lastcpu=$(echo "$u + $s" | bc)
    printf '  %-32s %6s s wall, %6s s CPU  (%s lines)\n' "$1" "$last" "$lastcpu" "$(wc -l <"$tmp/out")"
}
# the pipeline under one sh (dash: about 1 ms), so its time counts zstd and grep
pipe=(sh -c 'zstd -dc "$0" | grep -cE "$1"' "$tmp/raw.zst" "$pat")
hunt=("$wk" hunt --logsources "$src/rules/logsources.yaml" -r "$tmp/rule.yml" -s "$tmp/st")
# hunt's JSON alerts (~1 KB each: 124 MB for 10M events) go into `wc -l` through a pipe, as
# zstd's output goes into grep: written to a file, the kernel's write-back of that much
# dirty data stalled hunt for seconds of wall time on this disk. wc's CPU counts like grep's;
# a failing hunt shows as a wrong count.
hunt_wc=(sh -c '"$0" "$@" | wc -l' "${hunt[@]}")
ratio() { echo "scale=2; $1 / $2" | bc; }
for run in $(seq 1 "$runs"); do
    echo "run $run:"
    timed "zstd -dc | grep -cE" "${pipe[@]}"
    g=$last gc=$lastcpu
    want=$(cat "$tmp/out")
    echo "    (grep -c: $want)"
    # the comparison only holds when hunt finds what grep counts: one alert per line
    same() { [ "$1" = "$want" ] || { echo "hunt_bench: $2 gave $1 alerts, grep -c $want" >&2; exit 1; }; }
    timed "hunt -j 1 | wc -l" "${hunt_wc[@]}" -j 1
    h1=$last c1=$lastcpu
    same "$(cat "$tmp/out")" "hunt -j 1"
    timed "hunt -j 2 | wc -l" "${hunt_wc[@]}" -j 2
    h2=$last c2=$lastcpu
    same "$(cat "$tmp/out")" "hunt -j 2"
    timed "hunt -j 2 --no-block-prefilter | wc" "${hunt_wc[@]}" -j 2 --no-block-prefilter
    h3=$last c3=$lastcpu
    same "$(cat "$tmp/out")" "hunt -j 2 --no-block-prefilter"
    # like grep -c: count the alerts, do not format them
    timed "hunt -j 2 -f count" "${hunt[@]}" -j 2 -f count
    h4=$last c4=$lastcpu
    echo "    (count: $(cat "$tmp/out"))"
    same "$(cut -d' ' -f1 "$tmp/out")" "hunt -j 2 -f count"
    echo "  ratio wall (pipeline / hunt): -j 1 $(ratio "$g" "$h1")x, -j 2 $(ratio "$g" "$h2")x," \
        "-j 2 without block prefilter $(ratio "$g" "$h3")x, -j 2 -f count $(ratio "$g" "$h4")x"
    echo "  ratio CPU  (pipeline / hunt): -j 1 $(ratio "$gc" "$c1")x, -j 2 $(ratio "$gc" "$c2")x," \
        "-j 2 without block prefilter $(ratio "$gc" "$c3")x, -j 2 -f count $(ratio "$gc" "$c4")x"
done
