#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The cold tier's rebuild values (docs/store.md, "Rebuild values"), through the CLI: after
# `compact`, every event of a store reads back as before (query --format jsonl, byte for
# byte), hunt gives the same alerts with the same event refs, verify passes and stats counts
# the blocks cold; for generated events (gen_events) and for the corpus' real auditd logs,
# Docker events and CRI logs, each ingested with its parser.
. "$(dirname "$0")/lib.sh"
GEN=${WK_BUILDDIR:?}/bench/gen_events

# before_after STORE NAME HUNT_ARGS...: query, hunt; compact (with $COMPACT_ARGS); the same
# again
before_after() {
    local st=$1 name=$2
    shift 2
    "$WK_BIN" query --store "$st" --format jsonl >"$WK_TMP/$name.q0"
    [ -s "$WK_TMP/$name.q0" ] || wk_fail "$name: query printed nothing"
    if [ $# -gt 0 ]; then
        "$WK_BIN" hunt "$@" -s "$st" >"$WK_TMP/$name.h0" || true
        "$WK_BIN" hunt "$@" -s "$st" --no-block-prefilter >"$WK_TMP/$name.n0" || true
    fi
    local size0
    size0=$("$WK_BIN" stats --store "$st" | sed -n 's/^stored bytes *\([0-9]*\) .*/\1/p')
    wk_run 0 "$WK_BIN" compact --store "$st" --rebuild ${COMPACT_ARGS:-}
    "$WK_BIN" stats --store "$st" >"$WK_TMP/$name.stats"
    local cold
    cold=$(awk '$1 == "cold" && $2 == "blocks" {print $3}' "$WK_TMP/$name.stats")
    [ "${cold:-0}" -gt 0 ] || wk_fail "$name: no cold blocks after compact: $(cat "$WK_TMP/$name.stats")"
    "$WK_BIN" query --store "$st" --format jsonl >"$WK_TMP/$name.q1"
    cmp -s "$WK_TMP/$name.q0" "$WK_TMP/$name.q1" || wk_fail "$name: events differ after compact"
    if [ $# -gt 0 ]; then
        "$WK_BIN" hunt "$@" -s "$st" >"$WK_TMP/$name.h1" || true
        "$WK_BIN" hunt "$@" -s "$st" --no-block-prefilter >"$WK_TMP/$name.n1" || true
        [ -s "$WK_TMP/$name.h0" ] || wk_fail "$name: hunt found nothing"
        cmp -s "$WK_TMP/$name.h0" "$WK_TMP/$name.h1" || wk_fail "$name: hunt differs after compact"
        cmp -s "$WK_TMP/$name.n0" "$WK_TMP/$name.n1" ||
            wk_fail "$name: hunt without the block prefilter differs after compact"
        cmp -s "$WK_TMP/$name.h1" "$WK_TMP/$name.n1" ||
            wk_fail "$name: the block prefilter changes the alerts of a cold store"
    fi
    "$WK_BIN" verify --store "$st" >"$WK_TMP/$name.verify" ||
        wk_fail "$name: verify: $(cat "$WK_TMP/$name.verify")"
    local size1
    size1=$(sed -n 's/^stored bytes *\([0-9]*\) .*/\1/p' "$WK_TMP/$name.stats")
    [ -n "$size0" ] && [ "$size1" -lt "$size0" ] || wk_fail "$name: stored bytes $size0 -> $size1"
}

# --- generated events and the rule pack's samples: query, hunt (refs included) --------
"$GEN" "$WK_CORPUS" 20000 7 >"$WK_TMP/mix.jsonl"
cat "$WK_SRCDIR"/rules/samples/*.pos.jsonl >>"$WK_TMP/mix.jsonl"
wk_run 0 "$WK_BIN" ingest --store "$WK_TMP/gen" --format jsonl "$WK_TMP/mix.jsonl"
before_after "$WK_TMP/gen" gen -r "$WK_SRCDIR/rules" -r "$WK_CORPUS/sigma/rules"
# the stored events are the input, in order
cmp -s "$WK_TMP/gen.q1" "$WK_TMP/mix.jsonl" || wk_fail "gen: stored events differ from the input"

# --- the corpus' real inputs, each through its parser ----------------------------------
st=$WK_TMP/corpus
for f in "$WK_CORPUS"/auditd/*/*.log; do
    wk_run 0 "$WK_BIN" ingest --store "$st" --format auditd --host node-1 "$f"
done
for f in "$WK_CORPUS"/docker-events/*.jsonl; do
    wk_run 0 "$WK_BIN" ingest --store "$st" --format docker-events "$f"
done
for f in "$WK_CORPUS"/cri/*.cri.log; do
    wk_run 0 "$WK_BIN" ingest --store "$st" --format cri "$f"
done
n=$("$WK_BIN" query --store "$st" --format jsonl | wc -l)
[ "$n" -gt 200 ] || wk_fail "corpus: want the corpus' events, got $n"
# (small values: the corpus is 3 MiB of records)
COMPACT_ARGS="--block-bytes 64KiB" before_after "$st" corpus -r "$WK_SRCDIR/rules"
