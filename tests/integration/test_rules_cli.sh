#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `rules check|list|test`: the SigmaHQ corpus loads with zero rejections, unsupported legacy
# rules are rejected with file:line:col and the feature, the default pack passes its samples,
# meta filters load from the rules directory and remove what they select.
. "$(dirname "$0")/lib.sh"
S=$WK_CORPUS/sigma

wk_run 0 "$WK_BIN" rules check "$S/rules" "$S/deprecated" "$S/rules-emerging-threats"
wk_expect_eq "$WK_OUT" "76 rules loaded (76 detection, 0 correlation), 0 rejected" "corpus check"

wk_run 1 "$WK_BIN" rules check "$S/unsupported"
wk_expect_eq "$(grep -c ': condition: legacy aggregation/near pipe syntax' <<<"$WK_OUT")" "3" \
    "pipe rejections"
grep -q "^$S/unsupported/linux/lnx_auditd_debugfs_usage.yml:32:5: legacy 'detection.timeframe'" \
    <<<"$WK_OUT" || wk_fail "timeframe rejection with position"
wk_expect_eq "$(tail -n1 <<<"$WK_OUT")" "1 rules loaded (1 detection, 0 correlation), 4 rejected" \
    "unsupported summary"

# a broken rule: exit 1, one line naming file:line:col and the feature
mkdir -p "$WK_TMP/bad"
printf 'title: x\nlogsource: {product: docker, service: events}\ndetection:\n  s:\n    a|frobnicate: 1\n  condition: s\n' \
    >"$WK_TMP/bad/x.yml"
wk_run 1 "$WK_BIN" rules check "$WK_TMP/bad/x.yml"
wk_expect_eq "$(head -n1 <<<"$WK_OUT")" "$WK_TMP/bad/x.yml:5:5: unsupported value modifier 'frobnicate'" \
    "rejection line"

wk_run 0 "$WK_BIN" rules check "$WK_SRCDIR/rules"
wk_expect_eq "$WK_OUT" "20 rules loaded (17 detection, 3 correlation), 0 rejected" "pack check"

wk_run 0 "$WK_BIN" rules list
wk_expect_eq "$(wc -l <<<"$WK_OUT")" "21" "list rows"
grep -q '^1b41f763-c742-4fff-9a73-ffdf8525c2f4  high           docker/events                     Privileged Container Started$' \
    <<<"$WK_OUT" || wk_fail "list row"

wk_run 0 "$WK_BIN" rules test "$WK_SRCDIR/rules"
wk_expect_eq "$(tail -n1 <<<"$WK_OUT")" "17 passed, 0 failed" "pack samples"

# a sample that does not fire fails the test
cp -r "$WK_SRCDIR/rules" "$WK_TMP/pack"
cp "$WK_TMP/pack/samples/privileged_container.neg.jsonl" "$WK_TMP/pack/samples/privileged_container.pos.jsonl"
wk_run 1 "$WK_BIN" rules test "$WK_TMP/pack"
grep -q '^FAIL privileged_container.yml: 0 alert(s) on 1 positive event(s)' <<<"$WK_OUT" ||
    wk_fail "failing sample reported"
# a Sigma meta filter in a rules directory: counted by check, applied by hunt (--compare
# shows the one alert it removes), rejected with its position when it names no rule
mkdir -p "$WK_TMP/filtered"
cp "$WK_SRCDIR"/rules/*.yml "$WK_SRCDIR"/rules/*.yaml "$WK_TMP/filtered/"
cat >"$WK_TMP/filtered/mf_web_privileged.yml" <<'YML'
title: The web container runs privileged on purpose
id: 5a0c7c9e-2f1b-4d8e-9c3a-7e6f5d4c3b2a
logsource: {product: docker, service: events}
filter:
    rules:
        - 1b41f763-c742-4fff-9a73-ffdf8525c2f4 # Privileged Container Started
    selection:
        container.name: web
    condition: selection
YML
wk_run 0 "$WK_BIN" rules check "$WK_TMP/filtered"
wk_expect_eq "$WK_OUT" "20 rules loaded (17 detection, 3 correlation), 1 filter, 0 rejected" \
    "check with a filter"
wk_run 1 "$WK_BIN" hunt --compare "$WK_SRCDIR/rules" "$WK_TMP/filtered" \
    -i "$WK_SRCDIR/rules/samples/privileged_container.pos.jsonl"
grep -q '^- 2026-11-23T08:00:00.000000000Z	1b41f763-c742-4fff-9a73-ffdf8525c2f4	' <<<"$WK_OUT" ||
    wk_fail "filtered alert removed"
wk_expect_eq "$(tail -n1 <<<"$WK_OUT")" "0 added, 1 removed, 0 unchanged" "filter compare"
sed -i 's/1b41f763-c742-4fff-9a73-ffdf8525c2f4 # Privileged/1b41f763-0000-0000-0000-000000000000 #/' \
    "$WK_TMP/filtered/mf_web_privileged.yml"
wk_run 1 "$WK_BIN" rules check "$WK_TMP/filtered"
wk_expect_eq "$(head -n1 <<<"$WK_OUT")" "$WK_TMP/filtered/mf_web_privileged.yml:1:1: filter 'rules': '1b41f763-0000-0000-0000-000000000000' names no loaded rule (id or name)" \
    "filter rejection"
wk_run 2 "$WK_BIN" rules frob
echo "rules_cli: ok"
