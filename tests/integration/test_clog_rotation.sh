#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# clog under rotation while its output is stalled (no dockerd: json-file rotation done by
# hand as dockerd does it, by rename). The source finishes the rotated file X, catches up
# with W (rotated through between two passes) into a stalled pipeline and, while it is
# blocked, the live file Y rotates away too and Z becomes the live file. Y must still be
# read: it once was silently skipped (the source opened Z as the successor). Deterministic:
# the reader and the source are paused by signals. Parts 3 and 4: files rotated through
# while the pipeline refuses events, and while the source is stopped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/docker_lib.sh"

id=e282b0d068467e1c63ced8bc2e4e0396b146c644a821e8c09b2e79b5df6b3ca6
cdir=$WK_TMP/data/containers/$id
mkdir -p "$cdir"
log=$cdir/$id-json.log
FIFO=$WK_TMP/out.fifo
OUT=$WK_TMP/logs.jsonl
mkfifo "$FIFO"
: >"$OUT"
cat "$FIFO" >>"$OUT" &
CAT=$!
wk_track_pid "$CAT"
lines() { # lines FROM TO: json-file lines "line N"
    awk -v a="$1" -v b="$2" 'BEGIN { for (i = a; i <= b; i++)
        printf "{\"log\":\"line %d padding padding padding padding padding\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:00:00.000000001Z\"}\n", i }'
}
# rotate K: dockerd's rotation with K rotated files kept: log.K-1 -> log.K, ..., log -> log.1
rotate() {
    local i
    for ((i = $1 - 1; i >= 1; i--)); do mv "$log.$i" "$log.$((i + 1))"; done
    mv "$log" "$log.1"
}
# once FILE FROM TO [earlier]: "ok" when FILE's events are the lines FROM..TO, each once
# (with "earlier": lines before FROM and gap events in FILE are passed over)
once() {
    python3 - "$@" <<'PY'
import json, sys
path, a, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
earlier = len(sys.argv) > 4
n = []
for l in open(path):
    e = json.loads(l)
    if e["event"].get("kind") == "gap" and earlier:
        continue
    x = int(e["message"].split()[1]) if "message" in e else -1
    if x >= a or not earlier:
        n.append(x)
n.sort()
exp = list(range(a, b + 1))
print("ok" if n == exp else "got %d events; missing %s; twice %s; first %s" % (
    len(n), sorted(set(exp) - set(n))[:3], sorted(x for x in set(n) if n.count(x) > 1)[:3], n[:3]))
PY
}
lines 1 1 >"$log"
wk_driver_start clog "$FIFO" "$WK_TMP/cursor" --opt "docker_root=$WK_TMP/data" \
    --opt pods_dir= --opt containers_dir= --opt poll_interval=50ms --opt rescan_interval=200ms \
    --full-while "$WK_TMP/gate"
wk_wait_eval "grep -q '\"line 1 padding' '$OUT'"

kill -STOP "$CAT"
kill -STOP "$DRIVER_PID"
# While the source sleeps: X (being followed) gets one more line and rotates; W (3000
# lines: far more than a pipe holds once printed as events) is written and rotates; Y is
# the live file.
lines 2 2 >>"$log"
mv "$log" "$log.1"
lines 3 3002 >"$log"                                     # W
mv "$log.1" "$log.2"
mv "$log" "$log.1"
lines 3003 3102 >"$log"                                  # Y
kill -CONT "$DRIVER_PID"
# The source finishes X, catches up with W and blocks writing W's events (syscall 1 =
# write on x86_64: the pipe is full, its reader stopped). It has already looked at the
# directory, where Y was the live file.
blocked() { [ "$(cut -d' ' -f1 "/proc/$DRIVER_PID/syscall" 2>/dev/null)" = 1 ]; }
wk_wait_eval blocked
sleep 0.3
blocked || wk_fail "source not blocked in write"
# Y rotates away while the source is blocked; Z is the live file.
mv "$log.2" "$log.3"
mv "$log.1" "$log.2"
mv "$log" "$log.1"
lines 3103 3150 >"$log"                                  # Z
kill -CONT "$CAT"
wk_wait_eval "grep -q '\"line 3150 padding' '$OUT'"

sleep 0.5
got=$(python3 - "$OUT" <<'PY'
import json, sys
n = [int(json.loads(l)["message"].split()[1]) for l in open(sys.argv[1])]
exp = list(range(1, 3151))
print("ok" if n == exp else "got %d events; missing %s" % (len(n), sorted(set(exp) - set(n))[:3]))
PY
)
wk_expect_eq "$got" "ok" "every line once, in order, across rotations during a stall"

# 2. Files really deleted unread: while the source drains Z (3000 more lines, stalled),
# Z and its successor V are rotated out of existence (max-file); V is lost, and that must
# be said by a gap event, not silently.
sleep 0.5
kill -STOP "$CAT"
kill -STOP "$DRIVER_PID"
rm -f "$log.1" "$log.2" "$log.3"
lines 3151 6150 >>"$log"
mv "$log" "$log.1"
lines 6151 6200 >"$log"                                  # V
kill -CONT "$DRIVER_PID"
wk_wait_eval blocked
sleep 0.3
blocked || wk_fail "source not blocked in write (2)"
rm "$log.1"                                              # Z rotated out
mv "$log" "$log.1"
rm "$log.1"                                              # V rotated out, unread
lines 6201 6250 >"$log"
kill -CONT "$CAT"
wk_wait_eval "grep -q '\"line 6250 padding' '$OUT'"
sleep 0.5
got=$(python3 - "$OUT" <<'PY'
import json, sys
n = []
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["event"].get("kind") == "gap":
        n.append("GAP")
    else:
        n.append(int(e["message"].split()[1]))
exp = list(range(1, 6151)) + ["GAP"] + list(range(6201, 6251))
print("ok" if n == exp else "got %d events; first diff %s" % (
    len(n), next(((i, a, b) for i, (a, b) in enumerate(zip(n, exp)) if a != b), None)))
PY
)
wk_expect_eq "$got" "ok" "a gap where rotated files were deleted unread"

# 3. Rotated while the pipeline refuses events (back-pressure, not a blocked write): the
# followed file X, then W, rotate away before the source looks. It cannot finish X while
# refused and finds the live Y by a rescan; W was never opened, and once X is finished it
# must still be read (it once was silently skipped). Files are read side by side then, so
# this checks every line once, not the order across files.
kill -STOP "$DRIVER_PID"
: >"$WK_TMP/gate"
lines 6251 6260 >>"$log"                                 # X's unread end
rotate 1
lines 6261 6300 >"$log"                                  # W
rotate 2
lines 6301 6320 >"$log"                                  # Y
kill -CONT "$DRIVER_PID"
sleep 1                                                  # passes and rescans, all refused
# Y rotates away too, still refused; Z is live. Y is finished before X (it was found
# later, so it is read first): X's catch-up must not read Y a second time.
rotate 3
lines 6321 6330 >"$log"                                  # Z
sleep 1
grep -q '"line 6251 padding' "$OUT" && wk_fail "the gate did not hold the pipeline"
rm "$WK_TMP/gate"
wk_wait_eval "grep -q '\"line 6330 padding' '$OUT' && grep -q '\"line 6260 padding' '$OUT'"
sleep 0.5
got=$(once "$OUT" 6251 6330 earlier)
wk_expect_eq "$got" "ok" "files rotated through under back-pressure are read once"
wk_driver_stop

# 4. Rotated through while the source was stopped: its cursor names Z, which rotates away
# with unread lines, then V rotates through, and U is live at the restart. Z is finished
# from the cursor, and V must be read too (it once was silently skipped: only the live
# name and files the cursor knows were opened).
lines 6331 6340 >>"$log"                                 # Z's unread end
rotate 4
lines 6341 6370 >"$log"                                  # V
rotate 5
lines 6371 6380 >"$log"                                  # U
OUT2=$WK_TMP/logs2.jsonl
wk_driver_start clog "$OUT2" "$WK_TMP/cursor" --opt "docker_root=$WK_TMP/data" \
    --opt pods_dir= --opt containers_dir= --opt poll_interval=50ms --opt rescan_interval=200ms
wk_wait_eval "grep -q '\"line 6380 padding' '$OUT2' && grep -q '\"line 6340 padding' '$OUT2'"
sleep 0.5
got=$(once "$OUT2" 6331 6380)
wk_expect_eq "$got" "ok" "files rotated through while stopped are read once after a restart"
wk_driver_stop
echo "ok: clog_rotation"
