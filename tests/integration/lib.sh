# SPDX-License-Identifier: Apache-2.0
# Shared helpers for integration tests (bash). Source it first:
#   . "$(dirname "$0")/lib.sh"
# Every daemon a test starts is registered with wk_track_pid and stopped by pid in the
# EXIT trap, on failure too; cleanup commands registered with wk_on_exit run as well.
set -euo pipefail

WK_BIN=${WK_BIN:?WK_BIN must point at the watchkeeper binary (meson sets it)}
WK_SRCDIR=${WK_SRCDIR:?}
WK_CORPUS=${WK_CORPUS:-$WK_SRCDIR/../shared/corpus}
WK_TMP=$(mktemp -d /tmp/wk-it-XXXXXX)
_wk_pids=()
_wk_cleanups=()
_wk_failed=0

wk_track_pid() { _wk_pids+=("$1"); }
wk_on_exit() { _wk_cleanups+=("$1"); }

_wk_teardown() {
    local rc=$?
    local i
    for ((i = ${#_wk_cleanups[@]} - 1; i >= 0; i--)); do
        eval "${_wk_cleanups[$i]}" || true
    done
    for pid in "${_wk_pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    if [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; then
        rm -rf "$WK_TMP"
    else
        echo "integration test failed (rc=$rc); files kept in $WK_TMP" >&2
    fi
    exit "$rc"
}
trap _wk_teardown EXIT

wk_fail() { echo "FAIL: $*" >&2; exit 1; }

# Skip with a reason; with CI=true a skip is a failure.
wk_skip() {
    if [ "${CI:-}" = "true" ]; then
        echo "FAIL: would skip, and CI=true forbids skips: $*" >&2
        exit 1
    fi
    echo "SKIP: $*" >&2
    exit 77
}

wk_require_root() { [ "$(id -u)" -eq 0 ] || wk_skip "needs root: $*"; }

# wk_expect_eq ACTUAL EXPECTED WHAT
wk_expect_eq() {
    if [ "$1" != "$2" ]; then
        printf 'FAIL: %s\n  got:      %s\n  expected: %s\n' "$3" "$1" "$2" >&2
        exit 1
    fi
}

# wk_run EXPECTED_RC CMD...: runs, captures stdout/stderr in $WK_OUT / $WK_ERR.
wk_run() {
    local want=$1
    shift
    local rc=0
    "$@" >"$WK_TMP/out" 2>"$WK_TMP/err" || rc=$?
    WK_OUT=$(cat "$WK_TMP/out")
    WK_ERR=$(cat "$WK_TMP/err")
    if [ "$rc" -ne "$want" ]; then
        printf 'FAIL: %s exited %d, expected %d\nstdout: %s\nstderr: %s\n' "$*" "$rc" \
            "$want" "$WK_OUT" "$WK_ERR" >&2
        exit 1
    fi
}

# Skip unless no auditd is registered with the kernel: only one can be at a time.
wk_require_no_auditd() {
    local pid
    pid=$(auditctl -s | awk '/^pid/ {print $2}')
    [ "$pid" = 0 ] || wk_skip "an auditd is already registered with the kernel (pid $pid); only one can be"
}

# wk_auditd_conf DIR [LINE...]: write DIR/auditd.conf (mode 0640) for a test's own auditd:
# ENRICHED log in DIR/log/audit.log, plugins from DIR/plugins.d, nothing that stops or
# suspends it on a small disk; each LINE ("key = value") is added after the common ones.
wk_auditd_conf() {
    local dir=$1 line
    shift
    mkdir -p "$dir/plugins.d" "$dir/log"
    {
        printf '%s\n' "local_events = yes" "write_logs = yes" "log_file = $dir/log/audit.log" \
            "log_group = root" "log_format = ENRICHED" "flush = INCREMENTAL_ASYNC" "freq = 20" \
            "max_log_file = 50" "max_log_file_action = ROTATE" "space_left = 10" \
            "space_left_action = IGNORE" "admin_space_left = 5" \
            "admin_space_left_action = IGNORE" "disk_full_action = IGNORE" \
            "disk_error_action = IGNORE" "name_format = NONE" "plugin_dir = $dir/plugins.d" \
            "end_of_event_timeout = 2"
        for line in "$@"; do printf '%s\n' "$line"; done
    } >"$dir/auditd.conf"
    chmod 0640 "$dir/auditd.conf"
}

# Poll until a command succeeds or the timeout (s) passes.
wk_wait_for() {
    local timeout=$1
    shift
    local end=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.1
    done
}
