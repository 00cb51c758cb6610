# SPDX-License-Identifier: Apache-2.0
# Helpers for tests that need a real dockerd (source after lib.sh): start our own daemon
# (own data-root, exec-root, socket, pidfile under $WK_TMP; setsid; stopped by pid in the
# teardown, on failure too) and build the tiny wk-busybox image from busybox-static.

wk_docker_require() {
    wk_require_root "dockerd"
    command -v dockerd >/dev/null || wk_skip "dockerd not installed"
    command -v docker >/dev/null || wk_skip "docker CLI not installed"
    [ -x /bin/busybox ] || wk_skip "busybox-static not installed"
}

# wk_dockerd_start: sets DOCKER_SOCK, DOCKER_ROOT, DOCKERD_PID; `dk` runs the CLI on it.
wk_dockerd_start() {
    DOCKER_ROOT=$WK_TMP/docker
    mkdir -p "$DOCKER_ROOT/data" "$DOCKER_ROOT/exec"
    DOCKER_SOCK=$DOCKER_ROOT/d.sock
    wk_on_exit _wk_dockerd_cleanup
    _wk_dockerd_launch
}

# Teardown: stop dockerd by pid, then lift the mounts it left (netns, vfs layers).
_wk_dockerd_cleanup() {
    wk_dockerd_stop
    awk -v r="$DOCKER_ROOT" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

_wk_dockerd_launch() {
    rm -f "$DOCKER_SOCK"
    setsid dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
        --data-root="$DOCKER_ROOT/data" --exec-root="$DOCKER_ROOT/exec" \
        -H "unix://$DOCKER_SOCK" --pidfile "$DOCKER_ROOT/docker.pid" \
        >>"$DOCKER_ROOT/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    wk_track_pid "$DOCKERD_PID"
    for _ in $(seq 1 200); do
        if [ -S "$DOCKER_SOCK" ] && dk version >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$DOCKERD_PID" 2>/dev/null || { tail -20 "$DOCKER_ROOT/dockerd.log" >&2; wk_fail "dockerd died"; }
        sleep 0.1
    done
    tail -20 "$DOCKER_ROOT/dockerd.log" >&2
    wk_fail "dockerd did not come up"
}

# Stop our dockerd by pid (and wait), keeping its state for a restart.
wk_dockerd_stop() {
    kill -TERM "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$DOCKERD_PID" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$DOCKERD_PID" 2>/dev/null || true
}

wk_dockerd_restart() {
    wk_dockerd_stop
    _wk_dockerd_launch
}

dk() { docker -H "unix://$DOCKER_SOCK" "$@"; }

# Build wk-busybox from busybox-static (a rootfs of /bin/busybox plus applet symlinks).
wk_docker_image() {
    local root=$WK_TMP/rootfs
    mkdir -p "$root/bin" "$root/tmp" "$root/etc"
    cp /bin/busybox "$root/bin/busybox"
    for a in sh ls cat echo sleep seq head printf yes id true env dd tr; do
        ln -sf busybox "$root/bin/$a"
    done
    echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
    echo "nobody:x:65534:65534:nobody:/:/bin/sh" >>"$root/etc/passwd"
    echo "root:x:0:" >"$root/etc/group"
    tar -C "$root" -c . | dk import - wk-busybox >/dev/null
}

# Run the source driver in the background: wk_driver_start NAME OUT CURSOR [args...]
wk_driver_start() {
    local name=$1 out=$2 cur=$3
    shift 3
    "$WK_SOURCE_DRIVER" "$name" --out "$out" --cursor "$cur" "$@" \
        2>>"$WK_TMP/driver-$name.log" &
    DRIVER_PID=$!
    wk_track_pid "$DRIVER_PID"
}

wk_driver_stop() {
    kill -TERM "$DRIVER_PID" 2>/dev/null || true
    wait "$DRIVER_PID" || wk_fail "driver exited with $?"
}

# wk_wait_eval "CMD" : eval CMD every 0.1 s for up to 30 s; fail the test at the timeout
# (lib.sh's wk_wait_for TIMEOUT CMD... returns 1 instead and does not eval).
wk_wait_eval() {
    for _ in $(seq 1 300); do
        if eval "$*"; then return 0; fi
        sleep 0.1
    done
    wk_fail "timed out waiting for: $*"
}
