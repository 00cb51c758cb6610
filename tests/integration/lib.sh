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
