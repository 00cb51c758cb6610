#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# hunt: over a store (parallel over blocks) it gives exactly the alerts, in the same order,
# that live evaluation of the same events gives (hunt --input replays events one by one
# through wk_ruleset_eval, the daemon's path); --since/--until; --compare adds/removes.
. "$(dirname "$0")/lib.sh"
GEN=${WK_BUILDDIR:?}/bench/gen_events

# 20,000 corpus-shaped events plus the pack's positive samples, in many store blocks
"$GEN" "$WK_CORPUS" 20000 7 >"$WK_TMP/gen.jsonl"
# (the samples sorted by time: each starts at 08:00, and events older than the correlation
# lateness (60 s) behind the newest are dropped, live as in hunt)
cp "$WK_TMP/gen.jsonl" "$WK_TMP/mix.jsonl"
python3 -c '
import json, sys
ev = [l for f in sys.argv[1:] for l in open(f)]
ev.sort(key=lambda l: json.loads(l)["@timestamp"])
sys.stdout.write("".join(ev))' "$WK_SRCDIR"/rules/samples/*.pos.jsonl >>"$WK_TMP/mix.jsonl"
wk_run 0 "$WK_BIN" ingest --store "$WK_TMP/st" --format jsonl "$WK_TMP/mix.jsonl"
blocks=$("$WK_BIN" stats --store "$WK_TMP/st" | sed -n 's/^blocks *\([0-9]*\) .*/\1/p')
[ "$blocks" -gt 8 ] || wk_fail "want several blocks, got $blocks"

norm() { # drop store/line references, which differ by construction
    python3 -c '
import json, sys
for l in sys.stdin:
    a = json.loads(l); a.pop("ref", None)
    for c in a.get("contributing", []): c.pop("ref", None)
    print(json.dumps(a, sort_keys=True))'
}
"$WK_BIN" hunt -r "$WK_SRCDIR/rules" -i "$WK_TMP/mix.jsonl" | norm >"$WK_TMP/live" || true
"$WK_BIN" hunt -r "$WK_SRCDIR/rules" -s "$WK_TMP/st" -j 2 | norm >"$WK_TMP/hunt2" || true
"$WK_BIN" hunt -r "$WK_SRCDIR/rules" -s "$WK_TMP/st" -j 1 | norm >"$WK_TMP/hunt1" || true
# the Hyperscan literal prefilter changes nothing (pack + SigmaHQ corpus rules)
all=(-r "$WK_SRCDIR/rules" -r "$WK_CORPUS/sigma/rules" -r "$WK_CORPUS/sigma/deprecated")
"$WK_BIN" hunt "${all[@]}" -s "$WK_TMP/st" | norm >"$WK_TMP/pf" || true
"$WK_BIN" hunt "${all[@]}" -s "$WK_TMP/st" --no-prefilter | norm >"$WK_TMP/nopf" || true
[ "$(wc -l <"$WK_TMP/pf")" -gt "$(wc -l <"$WK_TMP/live")" ] || wk_fail "corpus rules add alerts"
cmp -s "$WK_TMP/pf" "$WK_TMP/nopf" || wk_fail "the prefilter changes the alerts"
# ... nor does the block prefilter (stored events skipped undecoded when no rule's literal
# is in them): same alerts, and it did skip events
"$WK_BIN" hunt "${all[@]}" -s "$WK_TMP/st" --no-block-prefilter | norm >"$WK_TMP/nobpf" || true
cmp -s "$WK_TMP/pf" "$WK_TMP/nobpf" || wk_fail "the block prefilter changes the alerts"
wk_run 1 "$WK_BIN" hunt "${all[@]}" -s "$WK_TMP/st" --stats
grep -Eq '^hunt: [0-9]+ blocks, [0-9]+ events evaluated, block prefilter on: [1-9][0-9]* events' \
    <<<"$WK_ERR" || wk_fail "block prefilter skipped nothing: $WK_ERR"
# one regex rule (bench/hunt_bench.sh's): live, hunt, hunt without the block prefilter
cat >"$WK_TMP/re.yml" <<'YML'
title: bench regex
id: 6f1b0a8e-1d7e-4c1e-9a55-2f9a0e1b7c33
logsource: {product: docker, service: container_logs}
detection:
    s:
        message|re: 'std(err|out) [a-z]+ test log'
    condition: s
level: low
YML
"$WK_BIN" hunt -r "$WK_TMP/re.yml" -i "$WK_TMP/mix.jsonl" | norm >"$WK_TMP/re_live" || true
"$WK_BIN" hunt -r "$WK_TMP/re.yml" -s "$WK_TMP/st" --stats 2>"$WK_TMP/re_stats" |
    norm >"$WK_TMP/re_hunt" || true
"$WK_BIN" hunt -r "$WK_TMP/re.yml" -s "$WK_TMP/st" --no-block-prefilter | norm >"$WK_TMP/re_nobpf" || true
[ "$(wc -l <"$WK_TMP/re_live")" -gt 100 ] || wk_fail "the regex rule fires"
cmp -s "$WK_TMP/re_live" "$WK_TMP/re_hunt" || wk_fail "block prefilter: regex hunt differs from live"
cmp -s "$WK_TMP/re_live" "$WK_TMP/re_nobpf" || wk_fail "regex hunt differs from live"
# -f count: alerts per rule, not formatted (like grep -c)
wk_run 1 "$WK_BIN" hunt -r "$WK_TMP/re.yml" -s "$WK_TMP/st" -f count
wk_expect_eq "$WK_OUT" "$(wc -l <"$WK_TMP/re_live") 6f1b0a8e-1d7e-4c1e-9a55-2f9a0e1b7c33 bench regex" \
    "count format"
wk_run 1 "$WK_BIN" hunt -r "$WK_SRCDIR/rules" -s "$WK_TMP/st" -f count
wk_expect_eq "$(awk '{n += $1} END {print n}' <<<"$WK_OUT")" "$(wc -l <"$WK_TMP/live")" \
    "count format: every alert (correlations too) counted"
python3 - "$WK_TMP/re_stats" "$(wc -l <"$WK_TMP/re_live")" <<'PY' || wk_fail "regex: too few events skipped"
import re, sys
m = re.match(r"hunt: \d+ blocks, (\d+) events evaluated, block prefilter on: (\d+) events", open(sys.argv[1]).read())
ev, skipped = int(m.group(1)), int(m.group(2))
# only the events holding " test log" are decoded (a few times the alerts), the rest skipped
sys.exit(0 if ev < 4 * int(sys.argv[2]) and skipped > 10000 else 1)
PY
# a rule set for one source: pushed down to the store (event.module), same alerts
one=(-r "$WK_SRCDIR/rules/clog_injection_patterns.yml" -r "$WK_SRCDIR/rules/clog_auth_failure_burst.yml")
"$WK_BIN" hunt "${one[@]}" -i "$WK_TMP/mix.jsonl" | norm >"$WK_TMP/one_live" || true
"$WK_BIN" hunt "${one[@]}" -s "$WK_TMP/st" | norm >"$WK_TMP/one_hunt" || true
[ "$(wc -l <"$WK_TMP/one_live")" -ge 4 ] || wk_fail "clog rules fire"
cmp -s "$WK_TMP/one_live" "$WK_TMP/one_hunt" || wk_fail "source pushdown changes the alerts"
n=$(wc -l <"$WK_TMP/live")
[ "$n" -gt 100 ] || wk_fail "too few alerts: $n"
cmp -s "$WK_TMP/live" "$WK_TMP/hunt2" || wk_fail "hunt -j 2 differs from live evaluation"
cmp -s "$WK_TMP/live" "$WK_TMP/hunt1" || wk_fail "hunt -j 1 differs from live evaluation"
# every pack rule that has a positive sample fired (17 rule files, correlations included)
titles=$(python3 -c '
import json, sys
print(len({json.loads(l)["rule"]["id"] for l in open(sys.argv[1])}))' "$WK_TMP/live")
[ "$titles" -ge 17 ] || wk_fail "only $titles distinct rules fired"
grep -q '"type": "event_count"' "$WK_TMP/live" || wk_fail "no correlation alert"
grep -q '"author": "watchkeeper project"' "$WK_TMP/live" || wk_fail "alerts carry the author"

wk_run 1 "$WK_BIN" hunt -r "$WK_SRCDIR/rules" -s "$WK_TMP/st" -f text
grep -q '^2026-11-23T08:00:00.000000000Z high     Privileged Container Started \[web\] rule=1b41f763-c742-4fff-9a73-ffdf8525c2f4 ref=[0-9]*$' \
    <<<"$WK_OUT" || wk_fail "text format"

# the time window: the samples are at 2026-11-23T08:*, the generated events in 2024
wk_run 1 "$WK_BIN" hunt -r "$WK_SRCDIR/rules" -s "$WK_TMP/st" --since 2026-01-01T00:00:00Z
late=$(wc -l <<<"$WK_OUT")
wk_run 1 "$WK_BIN" hunt -r "$WK_SRCDIR/rules" -i "$WK_SRCDIR/rules/samples/privileged_container.pos.jsonl"
wk_run 0 "$WK_BIN" hunt -r "$WK_SRCDIR/rules" -s "$WK_TMP/st" --since 2026-01-01T00:00:00Z \
    --until 2026-01-02T00:00:00Z
wk_expect_eq "$WK_OUT" "" "empty window"
python3 -c '
import json, sys
n = sum(1 for l in open(sys.argv[1]) if json.loads(l)["@timestamp"] >= "2026")
print(n)' "$WK_TMP/live" >"$WK_TMP/n2026"
wk_expect_eq "$late" "$(cat "$WK_TMP/n2026")" "--since keeps exactly the later alerts"

# compare: dropping one rule and adding a broader one
mkdir -p "$WK_TMP/new"
cp "$WK_SRCDIR"/rules/*.yml "$WK_SRCDIR"/rules/*.yaml "$WK_TMP/new/"
rm "$WK_TMP/new/privileged_container.yml"
cat >"$WK_TMP/new/net_admin.yml" <<'YML'
title: Container Started With NET_ADMIN
id: 0c5cbb2e-5f7e-4a51-9d0e-2b7f3c1f9a11
logsource: {product: docker, service: events}
detection:
    s:
        event.action: start
        docker.container.cap_add: NET_ADMIN
    condition: s
level: low
YML
wk_run 1 "$WK_BIN" hunt --compare "$WK_SRCDIR/rules" "$WK_TMP/new" -s "$WK_TMP/st"
grep -q '^- 2026-11-23T08:00:00.000000000Z	1b41f763-c742-4fff-9a73-ffdf8525c2f4	' <<<"$WK_OUT" ||
    wk_fail "removed alert listed"
grep -q '^+ 2026-11-23T08:00:00.000000000Z	0c5cbb2e-5f7e-4a51-9d0e-2b7f3c1f9a11	' <<<"$WK_OUT" ||
    wk_fail "added alert listed"
grep -q '^1 added, 1 removed, [0-9]* unchanged$' <<<"$WK_OUT" || wk_fail "compare summary"
wk_run 0 "$WK_BIN" hunt --compare "$WK_SRCDIR/rules" "$WK_SRCDIR/rules" -s "$WK_TMP/st"
grep -q '^0 added, 0 removed, [0-9]* unchanged$' <<<"$WK_OUT" || wk_fail "no-change compare"

wk_run 2 "$WK_BIN" hunt -r "$WK_SRCDIR/rules"
wk_expect_eq "$WK_ERR" "watchkeeper: hunt: give exactly one of --store DIR or --input FILE" "usage"
echo "hunt: ok"
