#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# rules/auditd/watchkeeper.rules loads into the kernel as shipped: every rule line is
# accepted, the kernel lists each one, and removing exactly those rules restores the rule
# list the host had before (other rules untouched).
. "$(dirname "$0")/lib.sh"
wk_require_root "loading kernel audit rules"
command -v auditctl >/dev/null || wk_skip "auditctl not installed"

RULES=$WK_SRCDIR/rules/auditd/watchkeeper.rules
before=$(auditctl -l)
mapfile -t lines < <(grep -E '^-(a|w) ' "$RULES")
[ "${#lines[@]}" -ge 40 ] || wk_fail "expected at least 40 rules, found ${#lines[@]}"

added=()
remove_added() {
    local r
    for r in "${added[@]}"; do
        # shellcheck disable=SC2086
        case $r in -a*) auditctl ${r/#-a /-d } ;; -w*) auditctl ${r/#-w /-W } ;; esac >/dev/null 2>&1
    done
    added=()
}
wk_on_exit remove_added

for r in "${lines[@]}"; do
    # shellcheck disable=SC2086
    auditctl $r >/dev/null 2>"$WK_TMP/err" || {
        # a rule the host already has is fine; anything else is a broken line
        grep -q 'Rule exists' "$WK_TMP/err" && continue
        wk_fail "auditctl rejected: $r: $(cat "$WK_TMP/err")"
    }
    added+=("$r")
done
# Every key the file uses is in the kernel's list now.
for k in $(grep -oE -- '-k [a-z_]+' "$RULES" | awk '{print $2}' | sort -u); do
    auditctl -l | grep -q -- "key=$k\$" || auditctl -l | grep -q -- "-k $k\$" ||
        wk_fail "key $k not loaded"
done
n_after=$(auditctl -l | grep -c -- '-k \|key=' || true)
[ "$n_after" -ge "${#added[@]}" ] || wk_fail "kernel lists $n_after rules, added ${#added[@]}"
remove_added
wk_expect_eq "$(auditctl -l)" "$before" "rule list after removing exactly what was added"
echo "audit_rules: ${#lines[@]} rules loaded and removed"
