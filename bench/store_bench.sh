#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Store benchmark: N realistic events (default 1M) generated from the corpus shapes; append
# throughput, stored bytes/event against `zstd -19 --long` of the raw input, query latency,
# and a key query against `ausearch -k` on the same auditd events as a raw log.
# usage: bench/store_bench.sh STORE_BENCH GEN_EVENTS   (or: meson compile -C build bench-store)
# (ZSTD_BYTES=8627852 for N=1000000 of the current gen_events: 20 min of zstd here)
# env: N (events), BLOCK_KIB (hot block size), WK_BENCH_COLD=1 (also run the cold tier:
# zstd 19, slow; queries run before and after it), WK_BENCH_COLD_KIB (cold value size),
# WK_BENCH_NODICT=1 (no dictionary), WK_BENCH_NOREBUILD=1 (cold tier without the rebuild
# values of docs/store.md: merged format-3 values as before), ZSTD_BYTES (skip the zstd -19
# run and use this size), WK_CORPUS. The cold tier's ratio counts every stored value,
# the blocks of the last group too short to merge (left hot) included; the line after it
# gives the cold values alone, and the next one the cold values with the rebuild form's
# dictionary (meta "cdict:", bytes the store holds for them: the honest figure).
set -euo pipefail
bench=$1
gen=$2
N=${N:-1000000}
src=$(cd "$(dirname "$0")/.." && pwd)
corpus=${WK_CORPUS:-$src/../shared/corpus}
tmp=$(mktemp -d /tmp/wk-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$gen" "$corpus" "$N" 1 >"$tmp/events.jsonl"
"$gen" "$corpus" "$N" 1 --raw >"$tmp/raw.log"
"$gen" "$corpus" "$N" 1 --raw-auditd >"$tmp/audit.log"
echo "== store ($N events)"
/usr/bin/time -f "peak RSS (time -v)  %M KiB" "$bench" "$tmp/events.jsonl" "$tmp/store" 3 recon \
    ${BLOCK_KIB:-256} 2>&1 | tee "$tmp/bench.out"
stored=$(sed -n 's/^stored blocks *\([0-9]*\) bytes.*/\1/p' "$tmp/bench.out")
cold=$(sed -n 's/^cold tier .*: \([0-9]*\) bytes.*/\1/p' "$tmp/bench.out")
used=$(sed -n 's/^map used *\([0-9]*\) bytes.*/\1/p' "$tmp/bench.out")
echo "== zstd -19 --long of the raw input ($(stat -c %s "$tmp/raw.log") bytes)"
t0=$(date +%s.%N)
# ZSTD_BYTES=N reuses a figure measured before (zstd -19 takes minutes on 1M events).
z=${ZSTD_BYTES:-$(zstd -19 --long -T1 -q -c "$tmp/raw.log" | wc -c)}
t1=$(date +%s.%N)
printf 'zstd -19 --long    %d bytes (%.1f/event) in %.1f s\n' "$z" "$(echo "$z / $N" | bc -l)" \
    "$(echo "$t1 - $t0" | bc -l)"
printf 'ratio              stored blocks / zstd-19 = %.3f, data file / zstd-19 = %.3f\n' \
    "$(echo "$stored / $z" | bc -l)" "$(echo "$used / $z" | bc -l)"
[ -z "$cold" ] || printf 'ratio (cold tier)  stored blocks / zstd-19 = %.3f\n' "$(echo "$cold / $z" | bc -l)"
cv=$(sed -n 's/^cold values *\([0-9]*\) bytes of \([0-9]*\) events.*/\1 \2/p' "$tmp/bench.out")
[ -z "$cv" ] || printf 'ratio (cold values alone, per event) = %.3f\n' \
    "$(echo "$cv" | awk -v z="$z" -v n="$N" '{print ($1 / $2) / (z / n)}')"
cd=$(sed -n 's/^cold + dictionary *\([0-9]*\) bytes of \([0-9]*\) events.*/\1 \2/p' "$tmp/bench.out")
[ -z "$cd" ] || printf 'ratio (cold values + their dictionary, per event) = %.3f\n' \
    "$(echo "$cd" | awk -v z="$z" -v n="$N" '{print ($1 / $2) / (z / n)}')"
echo "== ausearch -k recon on the auditd events as a raw log ($(wc -l <"$tmp/audit.log") lines)"
t0=$(date +%s.%N)
/usr/bin/time -o "$tmp/ausearch.time" -f '%U %S' ausearch -if "$tmp/audit.log" -k recon --raw \
    >"$tmp/ausearch.out" 2>/dev/null || true
t1=$(date +%s.%N)
a=$(grep -c 'key="recon"' "$tmp/ausearch.out" || true)
cpu=$(awk 'END {print $1 + $2}' "$tmp/ausearch.time")
printf 'ausearch -k        %d records in %.2f s (CPU %.2f s)\n' "$a" "$(echo "$t1 - $t0" | bc -l)" "$cpu"
# The store's key queries (wall and CPU, ms) from its output above, against ausearch.
grep '^query auditd.key' "$tmp/bench.out" | sed 's/.*complete \([0-9.]*\) ms (CPU \([0-9.]*\) ms)/\1 \2/' |
    while read -r wall qcpu; do
        printf 'key query vs ausearch -k: %.1fx wall, %.1fx CPU\n' \
            "$(echo "($t1 - $t0) * 1000 / $wall" | bc -l)" "$(echo "$cpu * 1000 / $qcpu" | bc -l)"
    done
