#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run the rule engine benchmark: 50,000 distinct corpus-shaped events (gen_events), cycled
# to 1,000,000 evaluations. usage: rules_bench.sh RULES_BENCH GEN_EVENTS SRCDIR [N]
set -euo pipefail
bench=$1 gen=$2 src=$3 n=${4:-1000000}
corpus=${WK_CORPUS:-$src/../shared/corpus}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$gen" "$corpus" 50000 11 >"$tmp/events.jsonl"
"$bench" "$src" "$corpus" "$tmp/events.jsonl" "$n"
