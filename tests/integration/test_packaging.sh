#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `meson install` of the build under test into a DESTDIR: the exact file list (binary, the
# rule pack as in rules/, the unit, the example and the starter config, which a second
# install keeps when edited); the unit's paths; `systemd-analyze verify`; the compiled-in
# rule pack path; then the installed daemon, as root, with exactly the unit's
# CapabilityBoundingSet: it reads a log only CAP_DAC_READ_SEARCH lets it read and the
# kernel's lost-record count only CAP_AUDIT_CONTROL lets it read, and without either the
# log says what is missing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_lib.sh"
command -v jq >/dev/null || wk_skip "needs jq"
command -v meson >/dev/null || wk_skip "needs meson"
wk_require_root "runs the daemon with the unit's capability bounding set (setpriv)"
command -v setpriv >/dev/null || wk_skip "needs setpriv (util-linux)"
command -v capsh >/dev/null || wk_skip "needs capsh (libcap2-bin)"
auditctl -s >/dev/null 2>&1 || wk_skip "needs the kernel audit subsystem (auditctl -s)"
unset WK_RULES_DIR # the installed binary must find the installed pack by itself

# --- where the build installs things (its options, as meson.build resolves them) --------
opt() { meson introspect --buildoptions "$WK_BUILDDIR" | jq -r --arg n "$1" '.[] | select(.name == $n) | .value'; }
abs() { case $1 in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }
prefix=$(opt prefix)
bindir=$(abs "$(opt bindir)")
datadir=$(abs "$(opt datadir)")
sysconfdir=$(abs "$(opt sysconfdir)")
unitdir=$(opt systemdunitdir)
if [ -z "$unitdir" ]; then
    unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null) ||
        unitdir=$prefix/lib/systemd/system
fi
rulesdir=$datadir/watchkeeper/rules

# --- install: the exact file list ----------------------------------------------------------
D=$WK_TMP/destdir
wk_run 0 meson install -C "$WK_BUILDDIR" --no-rebuild --destdir "$D"
expected=$({
    echo "$bindir/watchkeeper"
    echo "$unitdir/watchkeeper.service"
    echo "$sysconfdir/watchkeeper/watchkeeper.yaml"
    echo "$datadir/doc/watchkeeper/examples/watchkeeper.yaml"
    echo "$datadir/doc/watchkeeper/examples/audit-plugins.d/watchkeeper.conf"
    (cd "$WK_SRCDIR/rules" && ls -- *.yml logsources.yaml placeholders.yaml auditd/watchkeeper.rules) |
        sed "s|^|$rulesdir/|"
} | sort)
wk_expect_eq "$(cd "$D" && find . ! -type d | sed 's|^\.||' | sort)" "$expected" "installed files"
nyml=$(find "$WK_SRCDIR/rules" -maxdepth 1 -name '*.yml' | wc -l)
[ "$nyml" -ge 17 ] || wk_fail "only $nyml rules in $WK_SRCDIR/rules"
wk_expect_eq "$(find "$D$rulesdir" -maxdepth 1 -name '*.yml' | wc -l)" "$nyml" "installed rules"
for f in $(cd "$WK_SRCDIR/rules" && ls -- *.yml *.yaml auditd/watchkeeper.rules); do
    cmp "$WK_SRCDIR/rules/$f" "$D$rulesdir/$f" || wk_fail "installed $f differs"
done
cmp "$WK_SRCDIR/packaging/watchkeeper.yaml" "$D$datadir/doc/watchkeeper/examples/watchkeeper.yaml"
[ -x "$D$bindir/watchkeeper" ] || wk_fail "installed binary not executable"
wk_expect_eq "$(grep -E '^(active|path|args) ' "$D$datadir/doc/watchkeeper/examples/audit-plugins.d/watchkeeper.conf")" \
    "active = no
path = $bindir/watchkeeper
args = run --config=$sysconfdir/watchkeeper/audisp.yaml" "the auditd plugin conf names the installed binary and config"
wk_expect_eq "$(stat -c %a "$D$sysconfdir/watchkeeper/watchkeeper.yaml")" 640 "config mode"

# The unit runs the installed binary on the installed config, which checks clean (every
# default: it sets nothing).
unit=$D$unitdir/watchkeeper.service
conf=$sysconfdir/watchkeeper/watchkeeper.yaml
wk_expect_eq "$(grep -E '^ExecStart(Pre)?=' "$unit")" \
    "ExecStartPre=$bindir/watchkeeper config check $conf
ExecStart=$bindir/watchkeeper run -c $conf" "unit Exec lines"
wk_expect_eq "$(grep -c @ "$unit" || true)" 1 "unsubstituted @VAR@ (only @system-service)"
wk_run 0 "$D$bindir/watchkeeper" config check "$D$conf"
wk_expect_eq "$WK_OUT" "$D$conf: ok (0 sources: probed at start, 1 outputs, store /var/lib/watchkeeper)" \
    "starter config"

# A second install keeps an edited config (and changes nothing else).
echo "# edited" >>"$D$conf"
sum=$(cd "$D" && find . -type f ! -path ".$conf" -exec sha256sum {} + | sort)
wk_run 0 meson install -C "$WK_BUILDDIR" --no-rebuild --destdir "$D"
wk_expect_eq "$(tail -1 "$D$conf")" "# edited" "edited config kept"
wk_expect_eq "$(cd "$D" && find . -type f ! -path ".$conf" -exec sha256sum {} + | sort)" "$sum" \
    "second install"

# --- systemd-analyze verify: the unit as installed, its binary the DESTDIR's (verify checks
# that each Exec path is executable; everything else is the installed file) ---------------
command -v systemd-analyze >/dev/null || wk_skip "needs systemd-analyze (package systemd)"
mkdir -p "$WK_TMP/verify"
sed "s|=$bindir/watchkeeper |=$D$bindir/watchkeeper |" "$unit" >"$WK_TMP/verify/watchkeeper.service"
wk_run 0 systemd-analyze verify "$WK_TMP/verify/watchkeeper.service"
wk_expect_eq "$WK_OUT$WK_ERR" "" "systemd-analyze verify output"

# --- the rule pack: compiled-in where meson installs it; found beside the binary ---------
wk_expect_eq "$("$D$bindir/watchkeeper" config options | awk '$1 == "dirs" {print $3}')" \
    "$rulesdir" "compiled-in default rules dir"
nrules=$("$WK_BIN" rules list "$WK_SRCDIR/rules" | sed 1d | wc -l)
wk_run 0 "$D$bindir/watchkeeper" rules list
wk_expect_eq "$(sed 1d <<<"$WK_OUT" | wc -l)" "$nrules" "rules listed from the install"

# --- the daemon with exactly the unit's capabilities ---------------------------------------
# setpriv drops the bounding set and the inheritable set, then execs the daemon as uid 0:
# for root the kernel computes permitted = effective = bounding | inheritable at exec, so the
# daemon holds exactly the unit's set (as under systemd, which sets the bounding set; checked
# below from /proc/PID/status). NoNewPrivileges=yes too.
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
# Exactly these: one more needs its reason in the unit and a case here.
wk_expect_eq "$caps" "CAP_AUDIT_CONTROL CAP_DAC_READ_SEARCH" "the unit's CapabilityBoundingSet"
setpriv_set() { # CAP_A CAP_B ... -> -all,+cap_a,+cap_b
    local s=-all c
    for c in "$@"; do s+=",+$(tr '[:upper:]' '[:lower:]' <<<"${c#CAP_}")"; done
    echo "$s"
}
# The audit log is owned by another user, mode 0600, in a 0700 directory: root reads it
# only with CAP_DAC_READ_SEARCH (the unit's reason for it).
logdir=$WK_TMP/auditlog
mkdir -p "$logdir"
: >"$logdir/audit.log"
chown -R nobody "$logdir"
chmod 0700 "$logdir"
chmod 0600 "$logdir/audit.log"
cat >"$WK_TMP/wk.yaml" <<YAML
store: {path: $WK_TMP/store, fsync: false}
sources:
  - {type: auditd, name: audit, path: $logdir/audit.log, read_proc: false, poll: 100ms,
     lost_poll: 1s}
api: {socket: $WK_TMP/api.sock}
outputs: [{type: file, path: $WK_TMP/alerts.jsonl}]
logging: {level: debug}
pipeline: {batch_age: 50ms}
YAML
now=$(date +%s)
printf '%s\n' \
    "type=SYSCALL msg=audit($now.001:7): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=0 ppid=1 pid=4242 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"pk\" exe=\"/bin/pk\" key=(null)" \
    "type=EOE msg=audit($now.001:7): " >"$logdir/audit.log"

# start_daemon CAP...: the installed daemon with that bounding set; $pid, log in $WK_TMP/d.log
start_daemon() {
    rm -rf "$WK_TMP/store" "$WK_TMP/api.sock"
    setpriv --bounding-set="$(setpriv_set "$@")" --inh-caps=-all --no-new-privs \
        "$D$bindir/watchkeeper" run -c "$WK_TMP/wk.yaml" 2>"$WK_TMP/d.log" &
    pid=$!
    wk_track_pid "$pid"
    wk_wait_for 20 test -S "$WK_TMP/api.sock" || wk_fail "no API socket: $(cat "$WK_TMP/d.log")"
}
stop_daemon() {
    kill -TERM "$pid"
    local rc=0
    wait "$pid" || rc=$?
    wk_expect_eq "$rc" 0 "daemon exit status"
}
lost_ok='debug: auditd: kernel lost-record count read:'
lost_eperm='warn: auditd: cannot read the kernel'"'"'s lost-record count (auditctl -s): Operation not permitted: it needs CAP_AUDIT_CONTROL (add it to the unit'"'"'s CapabilityBoundingSet; an auditd source'"'"'s lost_poll: 0s turns the check off); records the kernel drops go unreported'

# shellcheck disable=SC2086 # $caps: one word per capability
start_daemon $caps
want=$(tr ' ' '\n' <<<"$caps" | tr '[:upper:]' '[:lower:]' | sort | paste -sd,)
got=$(capsh --decode="$(awk '/^CapEff:/ {print $2}' "/proc/$pid/status")" | sed 's/.*=//' |
    tr ',' '\n' | sort | paste -sd,)
wk_expect_eq "$got" "$want" "the daemon's effective capabilities"
grep -qF "info: running: 1 sources, $nrules rules" "$WK_TMP/d.log" ||
    wk_fail "daemon did not start with the installed pack: $(cat "$WK_TMP/d.log")"
wk_wait_committed 1 10 || wk_fail "the nobody-owned audit log was not read: $(cat "$WK_TMP/d.log")"
wk_wait_for 5 grep -qF "$lost_ok" "$WK_TMP/d.log" ||
    wk_fail "lost-record count not read with the unit's capabilities: $(cat "$WK_TMP/d.log")"
sleep 2.2 # two more polls
stop_daemon
wk_expect_eq "$(grep -Ec '^watchkeeper: (warn|error):' "$WK_TMP/d.log" || true)" 0 \
    "warnings or errors with the unit's capabilities: $(cat "$WK_TMP/d.log")"

# Without CAP_AUDIT_CONTROL: one warning naming it in 3+ polls (rate-limited), still running.
# shellcheck disable=SC2046,SC2086
start_daemon $(tr ' ' '\n' <<<"$caps" | grep -vx CAP_AUDIT_CONTROL)
wk_wait_committed 1 10 || wk_fail "not read without CAP_AUDIT_CONTROL: $(cat "$WK_TMP/d.log")"
sleep 3.2
stop_daemon
# The polls after the first are counted, not printed: at exit, one line says how many.
warns=$(grep -E '^watchkeeper: (warn|error):' "$WK_TMP/d.log" | sed 's/^watchkeeper: //')
wk_expect_eq "$(head -n 1 <<<"$warns")" "$lost_eperm" "log without CAP_AUDIT_CONTROL"
rest=$(tail -n +2 <<<"$warns")
[ "$(wc -l <<<"$rest")" = 1 ] &&
    grep -Eq "^warn: [1-9][0-9]* similar messages suppressed \(last shown: auditd: cannot read the kernel's lost-record count" <<<"$rest" ||
    wk_fail "after the warning without CAP_AUDIT_CONTROL, expected one line counting the repeats: $rest"
grep -qF "$lost_ok" "$WK_TMP/d.log" && wk_fail "lost count read without CAP_AUDIT_CONTROL"

# Without CAP_DAC_READ_SEARCH: the source cannot open the log, and says so.
# shellcheck disable=SC2046,SC2086
start_daemon $(tr ' ' '\n' <<<"$caps" | grep -vx CAP_DAC_READ_SEARCH)
stop_daemon
grep -qF 'error: source audit (auditd): cannot start: Permission denied' "$WK_TMP/d.log" ||
    wk_fail "no permission error without CAP_DAC_READ_SEARCH: $(cat "$WK_TMP/d.log")"
echo "ok: install ($(wc -l <<<"$expected") files), unit verified, daemon with $caps"
