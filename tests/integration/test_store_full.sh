#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Full disk: a store on a 3 MiB tmpfs. Ingest fails with a clear error (exit 3) when the
# disk is full; what was committed is intact (verify passes, and it is exactly a prefix
# of the input), and the same ingest on a copy of the store on a roomy disk resumes from
# the cursor and completes.
. "$(dirname "$0")/lib.sh"
wk_require_root "mounts a small tmpfs"

WK_GEN=${WK_GEN:?WK_GEN must point at bench/gen_events}
FS=$WK_TMP/fs
mkdir -p "$FS"
mount -t tmpfs -o size=3m tmpfs "$FS" || wk_skip "cannot mount tmpfs here"
wk_on_exit "umount '$FS'"
S=$FS/store
IN=$WK_TMP/in.jsonl
"$WK_GEN" "$WK_CORPUS" 60000 5 >"$IN"
# ~2.1 MiB of store for these events: leave less than that free.
dd if=/dev/zero of="$FS/ballast" bs=64k count=24 2>/dev/null

wk_run 3 "$WK_BIN" ingest --store "$S" "$IN"
grep -q "^watchkeeper: ingest: $IN: storing events: .*No space left on device" <<<"$WK_ERR" ||
    wk_fail "full disk error: $WK_ERR"
wk_expect_eq "$(wc -l <<<"$WK_ERR")" "1" "one-line error"
wk_run 0 "$WK_BIN" verify --store "$S"
"$WK_BIN" query --store "$S" >"$WK_TMP/out.jsonl"
n=$(wc -l <"$WK_TMP/out.jsonl")
[ "$n" -gt 0 ] && [ "$n" -lt 60000 ] || wk_fail "expected a partial store, got $n events"
cmp "$WK_TMP/out.jsonl" <(head -n "$n" "$IN") || wk_fail "stored events are not a prefix"

# Move the store to a roomy disk: the same command resumes from the cursor and completes.
cp -a "$S" "$WK_TMP/roomy"
wk_run 0 "$WK_BIN" ingest --store "$WK_TMP/roomy" "$IN"
wk_expect_eq "$WK_OUT" "$IN: $((60000 - n)) events, 0 rejected" "resumed after the full disk"
"$WK_BIN" query --store "$WK_TMP/roomy" >"$WK_TMP/out.jsonl"
cmp "$WK_TMP/out.jsonl" "$IN" || wk_fail "after resuming, the store is not the input"
wk_run 0 "$WK_BIN" verify --store "$WK_TMP/roomy"
echo "ok"
