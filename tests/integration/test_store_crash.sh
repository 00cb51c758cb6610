#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Crash safety: an ingest writing at full speed is killed with SIGKILL at random moments
# (at least 20 times), restarted each time from its cursor, and at the end the store holds
# every input event exactly once, in order (count and content hash of the query output
# equal the input's), and verify passes.
. "$(dirname "$0")/lib.sh"

WK_GEN=${WK_GEN:?WK_GEN must point at bench/gen_events}
S=$WK_TMP/store
IN=$WK_TMP/in.jsonl
"$WK_GEN" "$WK_CORPUS" 200000 11 >"$IN"
RANDOM=4242

kills=0
runs=0
while :; do
    runs=$((runs + 1))
    "$WK_BIN" ingest --store "$S" "$IN" >"$WK_TMP/run.out" 2>"$WK_TMP/run.err" &
    pid=$!
    wk_track_pid "$pid"
    if [ "$kills" -lt 20 ]; then
        # Wait until this run has committed something (the data file's mtime moves), so
        # the kill lands while it writes, then kill after a random 0..150 ms: mid-block,
        # mid-commit, between commits.
        before=$(stat -c %y "$S/data.mdb" 2>/dev/null || echo none)
        for _ in $(seq 1 500); do
            [ "$(stat -c %y "$S/data.mdb" 2>/dev/null || echo none)" != "$before" ] && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.01
        done
        sleep "0.$(printf %03d $((RANDOM % 150)))"
        if kill -KILL "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            # Count it only if it had not already finished by itself.
            if ! grep -q ' events, ' "$WK_TMP/run.out"; then
                kills=$((kills + 1))
                # Progress seen by a reader after each kill: committed events only.
                "$WK_BIN" stats --store "$S" | sed -n 's/^events *//p' >>"$WK_TMP/progress"
                continue
            fi
        fi
    fi
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq 0 ] || wk_fail "ingest run $runs exited $rc: $(cat "$WK_TMP/run.err")"
    [ "$kills" -ge 20 ] && break
    wk_fail "ingest finished after only $kills kills; make the input larger"
done
echo "runs=$runs kills=$kills progress: $(tr '\n' ' ' <"$WK_TMP/progress")" >&2
# The kills landed while events were being written: the committed count grew across them
# (at least 10 distinct intermediate counts strictly between 0 and the total).
distinct=$(awk '$1 > 0 && $1 < 200000' "$WK_TMP/progress" | sort -un | wc -l)
[ "$distinct" -ge 10 ] || wk_fail "only $distinct distinct intermediate counts"

# Once more: nothing new to store.
wk_run 0 "$WK_BIN" ingest --store "$S" "$IN"
wk_expect_eq "$WK_OUT" "$IN: 0 events, 0 rejected" "nothing left after the final run"

"$WK_BIN" query --store "$S" >"$WK_TMP/out.jsonl"
wk_expect_eq "$(wc -l <"$WK_TMP/out.jsonl")" "200000" "every event stored exactly once (count)"
wk_expect_eq "$(sha256sum <"$WK_TMP/out.jsonl")" "$(sha256sum <"$IN")" \
    "every event stored exactly once (content hash)"
wk_run 0 "$WK_BIN" verify --store "$S"
wk_run 0 "$WK_BIN" stats --store "$S"
grep -q '^events        200000$' <<<"$WK_OUT" || wk_fail "stats events: $WK_OUT"
echo "ok"
