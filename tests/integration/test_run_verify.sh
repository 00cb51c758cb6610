#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The daemon verifies its store while it runs: a byte of a committed block is flipped on
# disk under the running daemon; the scheduled verify (store.verify_interval: 1s) and
# SIGUSR1 find it and raise exactly one critical alert naming the block, written to the
# outputs and stored.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
command -v jq >/dev/null || wk_skip "needs jq"
command -v mdb_dump >/dev/null || wk_skip "needs mdb_dump (lmdb-utils)"
command -v zstd >/dev/null || wk_skip "needs zstd"

rules=$WK_TMP/rules
wk_rules_pack "$rules"
in=$WK_TMP/in.jsonl
store=$WK_TMP/store
cfg=$WK_TMP/wk.yaml
wk_gen_events 1 3000 >"$in"
cat >"$cfg" <<YAML
store:
  path: $store
  fsync: false
  block_size: 16KiB
  verify_interval: 1s
sources:
  - {type: file_jsonl, name: events, path: $in, poll: 50ms}
rules:
  dirs: [$rules]
outputs:
  - {type: file, path: $WK_TMP/alerts.jsonl}
api:
  socket: $WK_TMP/api.sock
pipeline:
  batch_age: 50ms
YAML
integrity() { jq -c 'select(.rule.id == "wk-store-integrity")' "$WK_TMP/alerts.jsonl" 2>/dev/null; }

"$WK_BIN" run -c "$cfg" 2>"$WK_TMP/daemon.log" &
pid=$!
wk_track_pid $pid
wk_wait_for 20 eval '[ "$(wk_stored "$store" | wc -l)" = 3000 ]' || wk_fail "events not stored"
# A scheduled verify after the commit passes and raises nothing.
before=$(grep -c "hash chain verified" "$WK_TMP/daemon.log" || true)
wk_wait_for 10 eval '[ "$(grep -c "hash chain verified" "$WK_TMP/daemon.log")" -gt '"$before"' ]' ||
    wk_fail "no scheduled verify: $(cat "$WK_TMP/daemon.log")"
wk_expect_eq "$(integrity)" "" "no integrity alert on an intact store"

# Flip one byte inside block 2's zstd frame, in place (the daemon has the file mapped).
python3 - "$store" <<'PY' || wk_fail "could not flip a byte of block 2"
import subprocess, sys
d = sys.argv[1]
out = subprocess.run(["mdb_dump", "-s", "blocks", d], check=True, capture_output=True,
                     text=True).stdout.splitlines()
data = [l.strip() for l in out[out.index("HEADER=END") + 1:] if l.startswith(" ")]
assert bytes.fromhex(data[2]) == (2).to_bytes(8, "big"), "second key is not block 2"
value = bytes.fromhex(data[3])
frame = value.find(b"\x28\xb5\x2f\xfd")
run = value[frame + 8:frame + 40]
assert frame >= 0 and len(run) == 32, "no zstd frame in block 2"
with open(d + "/data.mdb", "r+b") as f:
    raw = f.read()
    n, at = 0, raw.find(run)
    while at >= 0:
        f.seek(at + 4)
        f.write(bytes([raw[at + 4] ^ 1]))
        n += 1
        at = raw.find(run, at + 1)
assert n >= 1, "block 2 not found in data.mdb"
PY
wk_wait_for 10 eval '[ -n "$(integrity)" ]' ||
    wk_fail "no integrity alert: $(cat "$WK_TMP/daemon.log")"
# Later scheduled runs and SIGUSR1 find the same break: still one alert.
kill -USR1 $pid
wk_wait_for 10 grep -q "SIGUSR1: verifying" "$WK_TMP/daemon.log" || wk_fail "SIGUSR1 not seen"
sleep 2.5
a=$(integrity)
wk_expect_eq "$(wc -l <<<"$a")" "1" "exactly one integrity alert"
wk_expect_eq "$(jq -r '[.rule.title, .rule.level, .store.block] | @tsv' <<<"$a")" \
    "$(printf 'Store Integrity Chain Broken\tcritical\t2')" "alert names block 2"
grep -q '^block 2: ' <<<"$(jq -r .store.reason <<<"$a")" || wk_fail "reason: $a"
wk_expect_eq "$(grep -c 'store: integrity check failed: block 2: ' "$WK_TMP/daemon.log")" "1" \
    "one error logged"
kill -TERM $pid
wait $pid || wk_fail "daemon exit $?"
# Stored with the other alerts (the JSON text is the value of an `alerts` entry, after
# the refs: a zstd frame since schema 3, with the alert dictionary it names, if any).
stored_alerts() {
    python3 - "$store" <<'PY'
import subprocess, sys, tempfile
def dump(db):
    out = subprocess.run(["mdb_dump", "-s", db, sys.argv[1]], check=True,
                         capture_output=True, text=True).stdout.split("HEADER=END\n", 1)[1]
    rows = [bytes.fromhex(l.strip()) for l in out.splitlines() if l.startswith(" ")]
    return dict(zip(rows[0::2], rows[1::2]))
dicts = {int.from_bytes(k[6:], "big"): v for k, v in dump("meta").items()
         if k.startswith(b"adict:")}
for v in dump("alerts").values():
    js = v[4 + 12 * int.from_bytes(v[:4], "little"):]
    if js[:4] == b"\x28\xb5\x2f\xfd":
        at = 5 if js[4] & 0x20 else 6  # after the window byte, unless single segment
        did = int.from_bytes(js[at:at + (0, 1, 2, 4)[js[4] & 3]], "little")
        with tempfile.NamedTemporaryFile() as d:
            d.write(dicts.get(did, b""))
            d.flush()
            js = subprocess.run(["zstd", "-dcq"] + (["-D", d.name] if did else []),
                                input=js, check=True, capture_output=True).stdout
    print(js.decode())
PY
}
wk_expect_eq "$(stored_alerts | grep -c 'wk-store-integrity')" "1" \
    "integrity alert stored once"
wk_run 1 "$WK_BIN" verify --store "$store"
echo "run_verify: ok"
