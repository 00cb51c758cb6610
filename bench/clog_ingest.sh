#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Container-log ingest into the store vs the raw jansson limit, same file, same run.
# Usage: bench/clog_ingest.sh BUILD_DIR [MB]   (e.g. bench/clog_ingest.sh build 64)
set -euo pipefail
b=${1:-build}
mb=${2:-64}
tmp=$(mktemp -d /tmp/wk-bench-clog-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
id=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
f=$tmp/$id-json.log
"$b/bench/bench_clog" "$mb" --write "$f"
"$b/bench/bench_clog" "$mb" "$f" | tee "$tmp/out"
base=$(awk '/raw limit/ { print $(NF-5) }' "$tmp/out")
bytes=$(stat -c %s "$f")
lines=$(wc -l <"$f")
for fsync in --no-fsync ""; do
    rm -rf "$tmp/st"
    t0=$(date +%s.%N)
    "$b/watchkeeper" ingest --store "$tmp/st" --format json-file $fsync "$f" >/dev/null
    t1=$(date +%s.%N)
    python3 - "$t0" "$t1" "$bytes" "$lines" "${fsync:-fsync}" "$base" <<'PY'
import sys
t0, t1, b, l, mode, base = (float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]),
                            int(sys.argv[4]), sys.argv[5], float(sys.argv[6]))
d = t1 - t0
print("%-40s %8.3f s %10.0f lines/s %8.1f MB/s  x%.2f vs jansson"
      % ("watchkeeper ingest (store, %s)" % mode, d, l / d, b / d / 1e6, base / d))
PY
done
du -sh "$tmp/st" | sed 's/^/store size: /'
