#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The store through the CLI: ingest then query is the identity (exact bytes), ingest
# resumes and stores nothing twice, rejected lines are quarantined and reported with file
# and line, query filters and formats, stats, verify on intact and tampered stores.
. "$(dirname "$0")/lib.sh"

WK_GEN=${WK_GEN:?WK_GEN must point at bench/gen_events}
S=$WK_TMP/store
"$WK_GEN" "$WK_CORPUS" 3000 7 >"$WK_TMP/in.jsonl"
wk_expect_eq "$(wc -l <"$WK_TMP/in.jsonl")" "3000" "generated events"

# Identity: what ingest reads, query prints, byte for byte.
wk_run 0 "$WK_BIN" ingest --store "$S" "$WK_TMP/in.jsonl"
wk_expect_eq "$WK_OUT" "$WK_TMP/in.jsonl: 3000 events, 0 rejected" "ingest summary"
"$WK_BIN" query --store "$S" --format jsonl >"$WK_TMP/out.jsonl"
cmp "$WK_TMP/in.jsonl" "$WK_TMP/out.jsonl" || wk_fail "ingest | query is not the identity"
wk_expect_eq "$(stat -c %a "$S")" "700" "store directory mode"
wk_expect_eq "$(stat -c %a "$S/data.mdb")" "600" "data file mode"
wk_expect_eq "$(stat -c %a "$S/signing.key")" "600" "private key mode"

# Resume: the same file again stores nothing; a grown file stores only the new lines.
wk_run 0 "$WK_BIN" ingest --store "$S" "$WK_TMP/in.jsonl"
wk_expect_eq "$WK_OUT" "$WK_TMP/in.jsonl: 0 events, 0 rejected" "re-ingest stores nothing"
"$WK_GEN" "$WK_CORPUS" 3100 7 | tail -n 100 >"$WK_TMP/more.jsonl"
cat "$WK_TMP/more.jsonl" >>"$WK_TMP/in.jsonl"
wk_run 0 "$WK_BIN" ingest --store "$S" "$WK_TMP/in.jsonl"
wk_expect_eq "$WK_OUT" "$WK_TMP/in.jsonl: 100 events, 0 rejected" "grown file: only new lines"
"$WK_BIN" query --store "$S" >"$WK_TMP/out.jsonl"
cmp "$WK_TMP/in.jsonl" "$WK_TMP/out.jsonl" || wk_fail "identity after resume"

# Rejected lines: quarantined, counted, reported with file and line; stdin works.
printf '%s\n' '{"@timestamp":"2024-06-01T00:00:00.000000000Z","event":{"module":"clog"},"message":"a"}' \
    'this is not json' \
    '{"@timestamp":"2024-06-01T00:00:01.000000000Z","event":{"module":"clog"},"message":"b"}' \
    >"$WK_TMP/bad.jsonl"
wk_run 0 "$WK_BIN" ingest --store "$S" --format jsonl "$WK_TMP/bad.jsonl"
wk_expect_eq "$WK_OUT" "$WK_TMP/bad.jsonl: 2 events, 1 rejected" "rejected counted"
grep -q "^watchkeeper: ingest: $WK_TMP/bad.jsonl:2: .*(line quarantined)$" <<<"$WK_ERR" ||
    wk_fail "reject message lacks file:line: $WK_ERR"
wk_run 0 "$WK_BIN" ingest --store "$S" "$WK_TMP/bad.jsonl"
wk_expect_eq "$WK_OUT" "$WK_TMP/bad.jsonl: 0 events, 0 rejected" "rejects not redone"
wk_run 0 "$WK_BIN" stats --store "$S"
grep -q '^quarantined   1$' <<<"$WK_OUT" || wk_fail "stats: quarantined 1: $WK_OUT"
grep -q '^events        3102$' <<<"$WK_OUT" || wk_fail "stats: events: $WK_OUT"
grep -q '^source        clog: ' <<<"$WK_OUT" || wk_fail "stats: per source"
printf '%s\n' '{"@timestamp":"2024-06-02T00:00:00.000000000Z","event":{"module":"docker"}}' |
    "$WK_BIN" ingest --store "$S" - >"$WK_TMP/o" || wk_fail "stdin ingest"
wk_expect_eq "$(cat "$WK_TMP/o")" "-: 1 events, 0 rejected" "stdin ingest"

# Query filters against jq on the input (a brute-force oracle).
jqcount() { jq -c "select($1)" "$WK_TMP/in.jsonl" | wc -l; }
cid=$(jq -r 'select(.container.id) | .container.id' "$WK_TMP/in.jsonl" | sed -n 1p)
cname=$(jq -r "select(.container.id==\"$cid\") | .container.name" "$WK_TMP/in.jsonl" | sed -n 1p)
want=$(jqcount ".container.id==\"$cid\"")
got=$("$WK_BIN" query --store "$S" --container "$cid" | wc -l)
wk_expect_eq "$got" "$want" "--container ID"
got=$("$WK_BIN" query --store "$S" --container "${cid:0:12}" | wc -l)
wk_expect_eq "$got" "$want" "--container prefix"
got=$("$WK_BIN" query --store "$S" --container "$cname" | wc -l)
wk_expect_eq "$got" "$want" "--container NAME"
want=$(jqcount '.event.module=="auditd"')
got=$("$WK_BIN" query --store "$S" --source auditd | wc -l)
wk_expect_eq "$got" "$want" "--source"
want=$(jqcount '.event.module=="auditd" and .event.action=="execve"')
got=$("$WK_BIN" query --store "$S" --source auditd --where event.action=execve | wc -l)
wk_expect_eq "$got" "$want" "--where event.action"
[ "$want" -gt 0 ] || wk_fail "oracle found no execve events"
want=$(jq -c 'select(.records) | select(any(.records[]; .type=="PATH"))' "$WK_TMP/in.jsonl" | wc -l)
got=$("$WK_BIN" query --store "$S" --where type=PATH | wc -l)
wk_expect_eq "$got" "$want" "--where on a record field"
t1=$(sed -n 1000p "$WK_TMP/in.jsonl" | jq -r '."@timestamp"')
t2=$(sed -n 1500p "$WK_TMP/in.jsonl" | jq -r '."@timestamp"')
got=$("$WK_BIN" query --store "$S" --since "$t1" --until "$t2")
wk_expect_eq "$got" "$(sed -n 1000,1500p "$WK_TMP/in.jsonl")" "--since/--until exact range"
got=$("$WK_BIN" query --store "$S" --limit 5 | wc -l)
wk_expect_eq "$got" "5" "--limit"
got=$("$WK_BIN" query --store "$S" --since -1h | wc -l)
wk_expect_eq "$got" "0" "relative --since (data is from 2024)"

# Formats.
wk_run 0 "$WK_BIN" query --store "$S" --since 2024-06-01 --format csv
wk_expect_eq "$WK_OUT" "@timestamp,event.module,event.action,container.name,user.name,summary
2024-06-01T00:00:00.000000000Z,clog,,,,a
2024-06-01T00:00:01.000000000Z,clog,,,,b
2024-06-02T00:00:00.000000000Z,docker,,,," "csv output"
COLUMNS=80 "$WK_BIN" query --store "$S" --format table --limit 50 >"$WK_TMP/t"
[ "$(wc -L <"$WK_TMP/t")" -le 80 ] || wk_fail "table wider than the terminal"
wk_expect_eq "$(wc -l <"$WK_TMP/t")" "51" "table rows + header"

# Usage errors.
wk_run 2 "$WK_BIN" query --store "$S" --since yesterday-ish
wk_expect_eq "$(wc -l <<<"$WK_ERR")" "1" "one-line error"
wk_run 2 "$WK_BIN" query --store "$S" --where nofield
wk_run 2 "$WK_BIN" query --store "$S" --format xml
wk_run 2 "$WK_BIN" ingest "$WK_TMP/in.jsonl"
wk_run 2 "$WK_BIN" ingest --store "$S" --format nope "$WK_TMP/in.jsonl"
wk_run 3 "$WK_BIN" ingest --store "$S" "$WK_TMP/absent.jsonl"
grep -q "absent.jsonl: No such file or directory" <<<"$WK_ERR" || wk_fail "names the file"
wk_run 3 "$WK_BIN" query --store "$WK_TMP/nostore"
wk_run 3 "$WK_BIN" stats --store "$WK_TMP/nostore"

# Verify: intact, then with the exported key, then tampered copies.
wk_run 0 "$WK_BIN" verify --store "$S"
grep -q '^ok: [0-9]* blocks, [1-9][0-9]* signed checkpoints verified$' <<<"$WK_OUT" ||
    wk_fail "verify ok line: $WK_OUT"
cp "$S/signing.pub" "$WK_TMP/trusted.pub"
wk_run 0 "$WK_BIN" verify --store "$S" --pubkey "$WK_TMP/trusted.pub"
printf '%064d\n' 7 >"$WK_TMP/other.pub"
wk_run 1 "$WK_BIN" verify --store "$S" --pubkey "$WK_TMP/other.pub"
grep -q 'signature does not verify' <<<"$WK_ERR" || wk_fail "foreign key: $WK_ERR"

# Flip one byte inside the second block's zstd frame. The live value is read with
# mdb_dump; every copy of a 32-byte run from inside its frame is flipped, because LMDB's
# free pages may hold stale copies and a match by position alone could miss the live one.
T=$WK_TMP/flip
cp -r "$S" "$T"
python3 - "$T" <<'PY' || wk_fail "could not flip a byte of block 2"
import subprocess, sys
d = sys.argv[1]
out = subprocess.run(["mdb_dump", "-s", "blocks", d], check=True, capture_output=True,
                     text=True).stdout.splitlines()
data = [l.strip() for l in out[out.index("HEADER=END") + 1:] if l.startswith(" ")]
value = bytes.fromhex(data[3])  # key, value, key, value: the second block's value
frame = value.find(b"\x28\xb5\x2f\xfd")
run = value[frame + 8:frame + 40]
assert frame >= 0 and len(run) == 32, "no zstd frame in block 2"
raw = bytearray(open(d + "/data.mdb", "rb").read())
n, at = 0, raw.find(run)
while at >= 0:
    raw[at + 4] ^= 1
    n += 1
    at = raw.find(run, at + 1)
assert n >= 1, "block 2 not found in data.mdb"
open(d + "/data.mdb", "wb").write(raw)
PY
wk_run 1 "$WK_BIN" verify --store "$T"
grep -q '^watchkeeper: verify: .*: chain broken at block [0-9]*: block [0-9]*: ' <<<"$WK_ERR" ||
    wk_fail "verify names the bad block: $WK_ERR"
wk_run 1 "$WK_BIN" verify --store "$T" --pubkey "$WK_TMP/trusted.pub"

# Truncate the data file.
T=$WK_TMP/trunc
cp -r "$S" "$T"
truncate -s $(($(stat -c %s "$T/data.mdb") / 2)) "$T/data.mdb"
wk_run 1 "$WK_BIN" verify --store "$T"
grep -q 'damaged' <<<"$WK_ERR" || wk_fail "truncation: $WK_ERR"
echo "ok"
