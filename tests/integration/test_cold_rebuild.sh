#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The cold tier's rebuild values (docs/store.md, "Rebuild values"), through the CLI: after
# `compact`, every event of a store reads back as before (query --format jsonl, byte for
# byte), hunt gives the same alerts with the same event refs, verify passes and stats counts
# the blocks cold; for generated events (gen_events) and for the corpus' real auditd logs,
# Docker events and CRI logs, each ingested with its parser. Then rebuild versions (a value
# of another version is "cannot check" for verify, query, hunt, --expand and the daemon's
# scheduled verify, never a break) and `compact --expand` (same events, verify ok).
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

# --- rebuild versions: a value written with another auditd rebuild version ---------------
# (docs/store.md, "Rebuild versions"). The version table entry "\x06auditd" + u16 LE 2 of
# every value is set to 7 in a copy (every copy in the data file: LMDB's free pages may
# hold stale ones): verify says it cannot check those blocks (exit 4, not the exit 1 of a
# break), query and compact --expand name the block, the module and both versions.
grep -q '^rebuild values [1-9]' "$WK_TMP/corpus.stats" ||
    wk_fail "stats counts no rebuild values: $(cat "$WK_TMP/corpus.stats")"
T=$WK_TMP/vers
cp -r "$st" "$T"
python3 - "$T" <<'PY' || wk_fail "could not change a rebuild version"
import sys
d = sys.argv[1]
raw = open(d + "/data.mdb", "rb").read()
n = raw.count(b"\x06auditd\x02\x00")
assert n >= 1, "no auditd version entry"
open(d + "/data.mdb", "wb").write(raw.replace(b"\x06auditd\x02\x00", b"\x06auditd\x07\x00"))
PY
cp -r "$T" "$WK_TMP/vers-daemon"
wk_run 4 "$WK_BIN" verify --store "$T"
grep -q '^cannot check: [0-9]* blocks, [1-9][0-9]* signed checkpoints verified, no break found' <<<"$WK_OUT" ||
    wk_fail "verify stdout: $WK_OUT"
grep -q '^watchkeeper: verify: .*: cannot check [1-9][0-9]* blocks (not a break): block [0-9]* (value of blocks [0-9]*-[0-9]*): written with auditd rebuild version 7, this binary has version 2 (and reads 1-2): read it, or turn it into a merged value (`watchkeeper compact --expand`), with a binary of version 7$' <<<"$WK_ERR" ||
    wk_fail "verify stderr: $WK_ERR"
wk_run 3 "$WK_BIN" query --store "$T" --format jsonl
grep -q '^watchkeeper: query: reading store .*: block [0-9]* (value of blocks [0-9]*-[0-9]*): written with auditd rebuild version 7, this binary has version 2 (and reads 1-2)' <<<"$WK_ERR" ||
    wk_fail "query stderr: $WK_ERR"
wk_run 3 "$WK_BIN" hunt -r "$WK_SRCDIR/rules" -s "$T"
grep -q '^watchkeeper: hunt: .*: block [0-9]* (value of blocks [0-9]*-[0-9]*): written with auditd rebuild version 7, this binary has version 2 (and reads 1-2)' <<<"$WK_ERR" ||
    wk_fail "hunt stderr: $WK_ERR"
wk_run 3 "$WK_BIN" compact --store "$T" --expand
grep -q 'auditd rebuild version 7, this binary has version 2 (and reads 1-2).*(0 values expanded before it)' <<<"$WK_ERR" ||
    wk_fail "compact --expand stderr: $WK_ERR"
# a real break in that store is still a break (exit 1): a byte of a newer block flipped
"$WK_BIN" ingest --store "$T" --format auditd --host node-1 \
    "$WK_CORPUS"/auditd/audit-userspace/test.log >/dev/null || wk_fail "ingest into the copy"
flip_last() { # flip a byte of the newest (hot) block's frame, every copy of it
    python3 - "$1" <<'PY'
import subprocess, sys
d = sys.argv[1]
out = subprocess.run(["mdb_dump", "-s", "blocks", d], check=True, capture_output=True,
                     text=True).stdout.splitlines()
data = [l.strip() for l in out[out.index("HEADER=END") + 1:] if l.startswith(" ")]
value = bytes.fromhex(data[-1])
frame = value.find(b"\x28\xb5\x2f\xfd")
run = value[frame + 8:frame + 40]
assert frame >= 0 and len(run) == 32
raw = bytearray(open(d + "/data.mdb", "rb").read())
at = raw.find(run)
assert at >= 0
while at >= 0:
    raw[at + 4] ^= 1
    at = raw.find(run, at + 1)
open(d + "/data.mdb", "wb").write(raw)
PY
}
flip_last "$T" || wk_fail "could not flip a byte of the newest block"
wk_run 1 "$WK_BIN" verify --store "$T"
grep -q 'chain broken at block' <<<"$WK_ERR" || wk_fail "break after unchecked values: $WK_ERR"

# The daemon's scheduled full verify on such a store: a warning "cannot check (not
# tampering)" naming the value, no integrity alert.
: >"$WK_TMP/empty.jsonl"
cat >"$WK_TMP/vers.yaml" <<YAML
store:
  path: $WK_TMP/vers-daemon
  fsync: false
  verify_interval: 1s
sources:
  - {type: file_jsonl, name: events, path: $WK_TMP/empty.jsonl, poll: 50ms}
rules:
  dirs: [$WK_SRCDIR/rules]
outputs:
  - {type: file, path: $WK_TMP/vers-alerts.jsonl}
api:
  socket: $WK_TMP/vers-api.sock
YAML
"$WK_BIN" run -c "$WK_TMP/vers.yaml" 2>"$WK_TMP/vers-daemon.log" &
pid=$!
wk_track_pid $pid
wk_wait_for 20 grep -q 'cannot check (not tampering)' "$WK_TMP/vers-daemon.log" ||
    wk_fail "daemon: no 'cannot check': $(cat "$WK_TMP/vers-daemon.log")"
kill -TERM $pid
wait $pid || wk_fail "daemon exit $?"
grep -q 'store: hash chain verified in [0-9]* ms; cannot check (not tampering): [1-9][0-9]* blocks cannot be checked, first: block [0-9]* (value of blocks [0-9]*-[0-9]*): written with auditd rebuild version 7, this binary has version 2 (and reads 1-2)' "$WK_TMP/vers-daemon.log" ||
    wk_fail "daemon log: $(cat "$WK_TMP/vers-daemon.log")"
grep -q 'integrity check failed' "$WK_TMP/vers-daemon.log" && wk_fail "daemon took it for a break"
grep -q 'wk-store-integrity' "$WK_TMP/vers-alerts.jsonl" 2>/dev/null &&
    wk_fail "integrity alert raised: $(cat "$WK_TMP/vers-alerts.jsonl")"

# --- compact --expand: rebuild values back to merged values, the same events -------------
"$WK_BIN" query --store "$st" --format jsonl | md5sum >"$WK_TMP/corpus.md5"
wk_run 0 "$WK_BIN" compact --store "$st" --expand
nv=$(sed -n 's/^rebuild values \([0-9]*\)$/\1/p' "$WK_TMP/corpus.stats")
grep -q "^compact: expanded $nv of $nv rebuild values$" <<<"$WK_ERR" ||
    wk_fail "expand progress ($nv values): $WK_ERR"
grep -q "^compact: $nv rebuild values expanded to merged values in " <<<"$WK_OUT" ||
    wk_fail "expand summary: $WK_OUT"
wk_expect_eq "$("$WK_BIN" query --store "$st" --format jsonl | md5sum)" "$(cat "$WK_TMP/corpus.md5")" \
    "query after compact --expand"
wk_run 0 "$WK_BIN" verify --store "$st"
"$WK_BIN" stats --store "$st" >"$WK_TMP/corpus.stats2"
grep -q '^rebuild values 0$' "$WK_TMP/corpus.stats2" ||
    wk_fail "rebuild values left after --expand: $(cat "$WK_TMP/corpus.stats2")"
# nothing left to expand: a second run changes nothing
wk_run 0 "$WK_BIN" compact --store "$st" --expand
grep -q "^compact: 0 rebuild values expanded" <<<"$WK_OUT" || wk_fail "second expand: $WK_OUT"
# the inverse: an explicit --rebuild makes the merged cold values rebuild values again
wk_run 0 "$WK_BIN" compact --store "$st" --rebuild
grep -q "^compact: $nv merged values made rebuild values$" <<<"$WK_ERR" ||
    wk_fail "compact --rebuild of merged values: $WK_ERR"
grep -q "^rebuild values $nv$" <<<"$("$WK_BIN" stats --store "$st")" || wk_fail "stats after --rebuild"
wk_expect_eq "$("$WK_BIN" query --store "$st" --format jsonl | md5sum)" "$(cat "$WK_TMP/corpus.md5")" \
    "query after compact --rebuild"
wk_run 0 "$WK_BIN" verify --store "$st"

# --- compact --no-rebuild: merged values only ---------------------------------------------
nr=$WK_TMP/norebuild
wk_run 0 "$WK_BIN" ingest --store "$nr" --format auditd --host node-1 "$WK_CORPUS"/auditd/*/*.log
wk_run 0 "$WK_BIN" compact --store "$nr" --no-rebuild --block-bytes 64KiB
"$WK_BIN" stats --store "$nr" >"$WK_TMP/norebuild.stats"
grep -q '^cold blocks   [1-9]' "$WK_TMP/norebuild.stats" &&
    grep -q '^rebuild values 0$' "$WK_TMP/norebuild.stats" ||
    wk_fail "--no-rebuild: $(cat "$WK_TMP/norebuild.stats")"
echo "ok"
