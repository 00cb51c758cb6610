#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The auditd_audisp source as a real auditd runs it: auditd (own config dir and log) starts
# `watchkeeper run --config=CFG` as its plugin (packaging/audit/plugins.d/watchkeeper.conf,
# activated), an execve rule with a unique key (removed exactly in teardown), marker commands;
# then auditd is stopped by pid and stops its plugin. Asserts each marker's execve event is
# stored exactly once with its args, the daemon logged a clean stop, and `verify` passes.
. "$(dirname "$0")/lib.sh"

wk_require_root "auditd"
for b in auditd auditctl jq; do command -v "$b" >/dev/null || wk_skip "$b not installed"; done
wk_require_no_auditd

# auditd checks plugin files: owned by root, not world-writable, the program at least 0750.
A=$WK_TMP/audit
mkdir -p "$A/plugins.d" "$A/log"
store=$WK_TMP/store
cfg=$WK_TMP/wk-audisp.yaml
api=$WK_TMP/api.sock
wklog=$WK_TMP/plugin.log
wkpid=$WK_TMP/plugin.pid
cat >"$cfg" <<YAML
store:
  path: $store
  fsync: false
sources:
  - type: auditd_audisp
    name: audisp
rules:
  dirs: [$WK_SRCDIR/rules]
outputs:
  - type: file
    path: $WK_TMP/alerts.jsonl
api:
  socket: $api
pipeline:
  batch_age: 50ms
YAML
wk_run 0 "$WK_BIN" config check "$cfg"

# auditd runs plugins with an empty environment and its own stdout/stderr: a wrapper records
# the pid and the daemon's log, then execs watchkeeper with the args auditd passes.
wrapper=$WK_TMP/wk-plugin
cat >"$wrapper" <<EOF
#!/bin/sh
echo \$\$ >$wkpid
exec $WK_BIN "\$@" 2>>$wklog
EOF
chmod 0750 "$wrapper"
# the shipped plugin conf, activated, with our wrapper and config
# (the build's, made from packaging/audit/plugins.d/watchkeeper.conf.in with its paths;
# test_packaging checks them)
sed -e 's|^active = no$|active = yes|' -e "s|^path = .*|path = $wrapper|" \
    -e "s|^args = run --config=.*/watchkeeper/audisp.yaml$|args = run --config=$cfg|" \
    "$WK_BUILDDIR/watchkeeper.conf" >"$A/plugins.d/watchkeeper.conf"
wk_expect_eq "$(grep -E '^(active|path|args) ' "$A/plugins.d/watchkeeper.conf" | tr '\n' ';')" \
    "active = yes;path = $wrapper;args = run --config=$cfg;" "the plugin conf derived from the shipped one"
chmod 0640 "$A/plugins.d/watchkeeper.conf"
wk_auditd_conf "$A" "num_logs = 2" "q_depth = 2000" "max_restarts = 2"

# Teardown (cleanups run in reverse order, before lib.sh's tracked pids): auditd first, by
# pid, so it cannot restart its plugin; then the plugin's watchkeeper if still alive, found
# by its pid file and by its unique config path.
stop_pid() {
    kill -0 "$1" 2>/dev/null || return 0
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
}
stop_plugin() {
    local p
    p="$(cat "$wkpid" 2>/dev/null || true) $(pgrep -f -- "--config=$cfg" || true)"
    for q in $p; do
        stop_pid "$q"
    done
}
wk_on_exit stop_plugin

auditd -n -c "$A" </dev/null >"$WK_TMP/auditd.out" 2>&1 &
AUDITD_PID=$!
wk_track_pid "$AUDITD_PID"
wk_on_exit 'stop_pid "$AUDITD_PID"'
wk_wait_for 10 test -s "$A/log/audit.log" || wk_fail "auditd did not start: $(cat "$WK_TMP/auditd.out")"
wk_wait_for 20 test -S "$api" ||
    wk_fail "auditd did not start the plugin: auditd: $(cat "$WK_TMP/auditd.out"); plugin: $(cat "$wklog" 2>/dev/null)"
PLUGIN_PID=$(cat "$wkpid")
wk_expect_eq "$(ps -o ppid= -p "$PLUGIN_PID" | tr -d ' ')" "$AUDITD_PID" "the plugin's parent is our auditd"
wk_expect_eq "$(tr '\0' ' ' <"/proc/$PLUGIN_PID/cmdline")" "$WK_BIN run --config=$cfg " \
    "the plugin's command line (auditd passes at most 2 args)"
wk_run 0 "$WK_BIN" status --socket "$api"
grep -Eq '^audisp +auditd_audisp +running ' <<<"$WK_OUT" || wk_fail "audisp source not running: $WK_OUT"

KEY=wkas_$(basename "$WK_TMP" | tr -c 'A-Za-z0-9\n' _)
RULE="-a always,exit -F arch=b64 -S execve -F key=$KEY"
wk_on_exit "auditctl ${RULE/#-a /-d } >/dev/null 2>&1"
# shellcheck disable=SC2086
auditctl $RULE >/dev/null || wk_fail "auditctl $RULE"

# --- the marker commands: a copied binary so no other exec looks like them
M=$WK_TMP/wkas-marker
cp "$(readlink -f /bin/true)" "$M"
N=4 # markers per batch
batch() { for i in $(seq 1 $N); do "$M" "wkas-$KEY-$1-$i" "arg with spaces $i"; done; }
q() { "$WK_BIN" query --store "$store" --format jsonl --source auditd "$@"; }
markers() { q --where "auditd.key=$KEY" | jq -c --arg m "$M" 'select(.event.action == "execve" and .process.executable == $m)'; }
stored() { [ "$(markers | wc -l)" -ge "$1" ]; }
wait_stored() {
    wk_wait_for 30 stored "$1" || wk_fail "marker events not stored after 30 s: $(markers | wc -l) of $1; status: $("$WK_BIN" status --socket "$api"); log: $(cat "$wklog")"
}
batch 1
wait_stored $N

# --- the plugin crashes (SIGKILL): auditd starts it again. A plugin auditd restarts inherits
# the dispatcher thread's signal mask (SIGTERM, SIGHUP blocked): stopping must work anyway.
kill -KILL "$PLUGIN_PID"
new_plugin() { p=$(cat "$wkpid") && [ "$p" != "$PLUGIN_PID" ] && kill -0 "$p"; }
# auditd notices at its next event for the plugin: the execs of this loop make some
wk_wait_for 20 new_plugin || wk_fail "auditd did not restart its plugin: $(cat "$WK_TMP/auditd.out")"
PLUGIN_PID=$(cat "$wkpid")
wk_wait_for 20 "$WK_BIN" status --socket "$api" || wk_fail "restarted plugin: no API: $(cat "$wklog")"
batch 2
"$M" "wkas-$KEY-quote" "it's \"quoted\"" ''
wait_stored $((2 * N + 1))

# --- stop auditd by pid: it sends its plugin SIGTERM
kill -TERM "$AUDITD_PID"
wk_wait_for 15 sh -c "! kill -0 $AUDITD_PID" || wk_fail "auditd still running 15 s after SIGTERM"
rc=0
wait "$AUDITD_PID" || rc=$?
wk_expect_eq "$rc" "0" "auditd exit status"
wk_wait_for 15 sh -c "! kill -0 $PLUGIN_PID" || wk_fail "the plugin still runs 15 s after auditd stopped"
grep -q 'stopped: [0-9]* events committed this run' "$wklog" ||
    wk_fail "the daemon did not log a clean stop: $(cat "$wklog")"
wk_expect_eq "$(grep -Eci 'error|drain timed out|second' "$wklog" || true)" "0" \
    "errors in the daemon's log: $(cat "$wklog")"
wk_expect_eq "$(grep -c 'running: 1 sources' "$wklog")" "2" "the daemon started twice (once by auditd's restart)"
wk_expect_eq "$(grep -c 'stopped: [0-9]* events committed' "$wklog")" "1" "one clean stop (the first was killed)"

# --- each marker's execve once, with its args
markers >"$WK_TMP/markers.jsonl"
for b in 1 2; do
    for i in $(seq 1 $N); do
        got=$(jq -c --arg a "wkas-$KEY-$b-$i" 'select(.process.args[1] == $a) | .process.args' "$WK_TMP/markers.jsonl")
        wk_expect_eq "$got" "[\"$M\",\"wkas-$KEY-$b-$i\",\"arg with spaces $i\"]" "marker $b-$i stored once with its args"
    done
done
got=$(jq -c --arg a "wkas-$KEY-quote" 'select(.process.args[1] == $a) | [.process.args, .auditd.key, .tags, .Image, .User, .records[0].SYSCALL]' "$WK_TMP/markers.jsonl")
wk_expect_eq "$got" "[[\"$M\",\"wkas-$KEY-quote\",\"it's \\\"quoted\\\"\",\"\"],\"$KEY\",[\"$KEY\"],\"$M\",\"root\",\"execve\"]" \
    "the quoting marker: args, key, tags, Sigma view, ENRICHED name"
wk_expect_eq "$(wc -l <"$WK_TMP/markers.jsonl")" "$((2 * N + 1))" "marker execve events stored"
wk_expect_eq "$(q | jq -r 'select(.event.kind == "event") | "\(.auditd.node) \(.auditd.serial)"' | sort | uniq -d | wc -l)" \
    "0" "no audit event stored twice"
# the same events auditd wrote to its log: the plugin saw what the log holds
logged=$(grep -c "type=EXECVE .*a1=\"wkas-$KEY-[0-9]-[0-9]*\"" "$A/log/audit.log" || true)
wk_expect_eq "$logged" "$((2 * N))" "marker EXECVE records in auditd's own log"
wk_run 0 "$WK_BIN" verify --store "$store"
echo "audisp: ok ($(q | wc -l) events stored through the plugin)"
