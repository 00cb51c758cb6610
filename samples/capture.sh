#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Capture the bundled sample data from a REAL dockerd and a REAL auditd on this machine:
# real containers doing a few benign and a few suspicious things. Writes, into samples/:
#   audit.log            auditd's log (ENRICHED format) of the run
#   docker-events.jsonl  the Engine API /events stream of the run (API 1.41)
#   containers/<id>/<id>-json.log  each container's json-file log (dockerd's layout under
#                        its data root, so a clog source with docker_root: samples reads it)
#   docker.jsonl         the run's docker events as `watchkeeper run` stored them: normalized
#                        and enriched by container inspection (when WK_BIN is a watchkeeper
#                        binary; default: build/watchkeeper of this repo if it exists)
# Host-specific paths and the host name are scrubbed (see scrub below). Needs root,
# docker.io, auditd, busybox-static, curl, perl (and jq with WK_BIN). Starts its own dockerd
# and auditd (own dirs), stops both by pid, and removes exactly the audit rules it added, on
# failure too.
#
#   capture.sh [OUT]                              capture into OUT (default: samples/)
#   capture.sh --scrub DIR [--host NAME] [FROM=TO ...]
#       apply the scrub alone to the sample files in DIR, in place (nothing else runs):
#       the generic rules below, the host name NAME, and each literal path FROM (the
#       capture machine's checkout or output directory) replaced by TO
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# The scrub: one pass over one file, stdin to stdout, the same in both modes. In order:
#  - the capture's temp dir (mktemp /tmp/wk-capture-XXXXXX) becomes Docker's defaults:
#    its data/ /var/lib/docker, exec/ /run/docker, docker.sock /run/docker.sock, the rest
#    /tmp/capture;
#  - each FROM=TO pair: the literal path FROM, where a path component ends, becomes TO;
#  - the directories of failed execve lookups (ENOENT, an execvp walking $PATH) that are not
#    on Debian's default PATH (the capture user's own PATH: ~/.cargo/bin, ...) become
#    /opt/path1, /opt/path2, ... in order of appearance. The events stay (dropping them
#    would leave a serial gap that reads as lost records); this script itself runs with
#    the default PATH, so a new capture has none;
#  - the host name NAME in node=, hostname= and "host":{"name":...} becomes sample-host.
# The same replacements apply inside hex-encoded audit fields (proctitle, execve
# arguments, saddr, names with spaces): each KEY=HEX value is decoded, scrubbed and
# encoded again when that changed it. Applied to its own output the scrub changes nothing.
read -r -d '' scrub_pl <<'PERL' || true
use strict;
use warnings;
my ($host, @pairs);
while (@ARGV) {
    my $a = shift @ARGV;
    if ($a eq '--host') { $host = shift @ARGV; next; }
    my ($from, $to) = split /=/, $a, 2;
    die "scrub: expected FROM=TO, got '$a'\n" unless defined $to && length $from;
    push @pairs, [ qr/\Q$from\E(?![A-Za-z0-9._-])/, $to ];
}
my @lines = <STDIN>;
my $serial_re = qr/ msg=audit\(\d+\.\d+:(\d+)\)/;
my $default_path = qr{^/(?:usr/local/sbin|usr/local/bin|usr/sbin|usr/bin|sbin|bin)$};
my (%failed, %seen);
for (@lines) {
    $failed{$1} = 1 if /^type=SYSCALL$serial_re.* syscall=(?:59|322) .*\bexit=-2 /;
}
for (@lines) {
    next unless /^type=PATH$serial_re/ && $failed{$1};
    next unless / nametype=UNKNOWN/ && m{ name="(/[^"]*)/[^/"]+"};
    my $d = $1;
    next if $d =~ $default_path || $d =~ m{^/opt/path\d+$} || $seen{$d};
    $seen{$d} = 1;
    push @pairs, [ qr/\Q$d\E(?![A-Za-z0-9._-])/, '/opt/path' . scalar(keys %seen) ];
}
my %tmpdir = ('/data' => '/var/lib/docker', '/exec' => '/run/docker',
              '/docker.sock' => '/run/docker.sock', '' => '/tmp/capture');
sub scrub_text {
    my $s = shift;
    $s =~ s{/tmp/wk-capture-[A-Za-z0-9]{6}(/data|/exec|/docker\.sock|)(?![A-Za-z0-9._-])}{$tmpdir{$1}}g;
    $s =~ s/$_->[0]/$_->[1]/g for @pairs;
    return $s;
}
for (@lines) {
    $_ = scrub_text($_);
    s{(?<![A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_-]*)=([0-9A-F]{2,})(?=[\s\x1d]|$)}{
        my ($k, $h) = ($1, $2);
        if (length($h) % 2 == 0) {
            my $d = pack('H*', $h);
            my $n = scrub_text($d);
            $h = uc unpack('H*', $n) if $n ne $d;
        }
        "$k=$h"
    }ge;
    if (defined $host && length $host) {
        s/(?<![A-Za-z0-9_])(node|hostname)=\Q$host\E(?=[\s\x1d]|$)/$1=sample-host/g;
        s/"host":\{"name":"\Q$host\E"\}/"host":{"name":"sample-host"}/g;
    }
    print;
}
PERL
scrub() { perl -e "$scrub_pl" -- "$@"; }

if [ "${1:-}" = --scrub ]; then
    if [ $# -lt 2 ] || [ ! -d "$2" ]; then
        echo "usage: capture.sh --scrub DIR [--host NAME] [FROM=TO ...]" >&2
        exit 2
    fi
    dir=$2
    shift 2
    n=0
    for f in "$dir/audit.log" "$dir/docker-events.jsonl" "$dir/docker.jsonl" "$dir"/containers/*/*-json.log; do
        [ -f "$f" ] || continue
        scrub "$@" <"$f" >"$f.scrub"
        if cmp -s "$f" "$f.scrub"; then rm -f "$f.scrub"; else mv "$f.scrub" "$f"; n=$((n + 1)); echo "capture.sh: scrubbed $f"; fi
    done
    echo "capture.sh: $n files changed"
    exit 0
fi

# The default PATH, so execvp's lookups record no directory of the caller's own
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
out=${1:-$here}
[ "$(id -u)" -eq 0 ] || { echo "capture.sh: needs root" >&2; exit 2; }
if [ "$(auditctl -s | awk '/^pid/ {print $2}')" != 0 ]; then
    echo "capture.sh: another auditd is registered with the kernel; stop it first" >&2
    exit 3
fi

wk_bin=${WK_BIN:-$here/../build/watchkeeper}
if [ -x "$wk_bin" ]; then wk_bin=$(realpath "$wk_bin"); else wk_bin=""; fi

tmp=$(mktemp -d /tmp/wk-capture-XXXXXX)
sock=$tmp/docker.sock
dockerd_pid=""
wk_pid=""
auditd_pid=""
rules_added=()
cleanup() {
    set +e
    if [ -n "$wk_pid" ]; then
        kill "$wk_pid" 2>/dev/null
        for _ in $(seq 150); do kill -0 "$wk_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$wk_pid" 2>/dev/null
    fi
    for r in "${rules_added[@]}"; do
        # shellcheck disable=SC2086
        auditctl ${r/-a /-d } >/dev/null 2>&1 || auditctl ${r/-w /-W } >/dev/null 2>&1
    done
    if [ -n "$dockerd_pid" ]; then
        docker -H "unix://$sock" rm -f $(docker -H "unix://$sock" ps -aq) >/dev/null 2>&1
        kill "$dockerd_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$dockerd_pid" 2>/dev/null
    fi
    if [ -n "$auditd_pid" ]; then
        kill "$auditd_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$auditd_pid" 2>/dev/null || break; sleep 0.1; done
    fi
    umount -R "$tmp" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# --- auditd with its own config and log ---
mkdir -p "$tmp/audit"
cat >"$tmp/audit/auditd.conf" <<CONF
log_file = $tmp/audit/audit.log
log_format = ENRICHED
log_group = root
flush = INCREMENTAL_ASYNC
freq = 50
max_log_file = 64
num_logs = 2
max_log_file_action = ROTATE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
name_format = NONE
write_logs = yes
CONF
chmod 0640 "$tmp/audit/auditd.conf"
setsid auditd -n -c "$tmp/audit" </dev/null >"$tmp/auditd.out" 2>&1 &
auditd_pid=$!
for _ in $(seq 100); do
    [ "$(auditctl -s | awk '/^pid/ {print $2}')" = "$auditd_pid" ] && break
    sleep 0.1
done
[ "$(auditctl -s | awk '/^pid/ {print $2}')" = "$auditd_pid" ] || { cat "$tmp/auditd.out"; exit 3; }
auditctl -e 1 >/dev/null

add_rule() { # the rule, as auditctl takes it
    # shellcheck disable=SC2086
    auditctl $1 >/dev/null
    rules_added+=("$1")
}
add_rule "-a always,exit -F arch=b64 -S execve -k wk_exec"
add_rule "-a always,exit -F arch=b64 -S mount,umount2,unshare,setns -k wk_escape"
add_rule "-a always,exit -F arch=b64 -S chmod,fchmod,fchmodat -F a1&06000 -k wk_setid"
add_rule "-w /etc/shadow -p r -k wk_shadow"
add_rule "-w $sock -p rwa -k wk_docker_sock"

# --- dockerd with its own dirs ---
mkdir -p "$tmp/data" "$tmp/exec"
setsid dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
    --data-root="$tmp/data" --exec-root="$tmp/exec" -H "unix://$sock" \
    --pidfile "$tmp/docker.pid" </dev/null >"$tmp/dockerd.log" 2>&1 &
dockerd_pid=$!
d() { docker -H "unix://$sock" "$@"; }
for _ in $(seq 150); do d version >/dev/null 2>&1 && break; sleep 0.2; done
d version >/dev/null

# --- watchkeeper run with a docker source on this dockerd: the stored events carry the
# inspection enrichment (mounts, capabilities, namespaces) that /events lacks ---
if [ -n "$wk_bin" ]; then
    cat >"$tmp/wk.yaml" <<YAML
store:
  path: $tmp/wkstore
  fsync: false
sources:
  - type: docker
    host: unix://$sock
rules:
  dirs: [$here/../rules]
outputs:
  - type: file
    path: $tmp/wk-alerts.jsonl
api:
  enabled: false
pipeline:
  batch_age: 50ms
YAML
    "$wk_bin" run -c "$tmp/wk.yaml" </dev/null 2>"$tmp/wk.log" &
    wk_pid=$!
    for _ in $(seq 100); do grep -q "docker: connected" "$tmp/wk.log" && break; sleep 0.1; done
    grep -q "docker: connected" "$tmp/wk.log" || { cat "$tmp/wk.log"; exit 3; }
fi

mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/etc" "$tmp/rootfs/tmp"
cp /bin/busybox "$tmp/rootfs/bin/busybox"
for a in sh ls cat echo id chmod unshare mount sleep seq head wc nsenter; do
    ln -s busybox "$tmp/rootfs/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$tmp/rootfs/etc/passwd"
echo 'root:*:19000:0:99999:7:::' >"$tmp/rootfs/etc/shadow"
start=$(date +%s.%N)
tar -C "$tmp/rootfs" -c . | d import -c 'CMD ["/bin/sh"]' - wk-busybox:1.35 >/dev/null
d tag wk-busybox:1.35 wk-busybox:latest

# --- the scenario: benign first, then suspicious ---
d run --name web --network none -d wk-busybox:1.35 sh -c \
    'for i in $(seq 1 5); do echo "GET /index.html 200 user=alice"; sleep 0.2; done;
     echo "Failed password for root from 203.0.113.7 port 2222 ssh2" >&2;
     echo "Failed password for root from 203.0.113.7 port 2223 ssh2" >&2;
     echo "Failed password for admin from 203.0.113.7 port 2224 ssh2" >&2;
     echo "Failed password for root from 203.0.113.7 port 2225 ssh2" >&2;
     echo "Failed password for root from 203.0.113.7 port 2226 ssh2" >&2;
     echo "GET /search?q=1%27%20OR%20%271%27=%271 200";
     echo "{\"level\":\"info\",\"msg\":\"request\",\"path\":\"/login\",\"user\":\"bob\"}";
     sleep 30' >/dev/null
d run --rm --network none --name batch wk-busybox:1.35 sh -c 'echo processed 42 items' >/dev/null
sleep 1
d exec web sh -c 'id; cat /etc/shadow' >/dev/null
d exec web ls /tmp >/dev/null
for i in $(seq 1 6); do d exec web echo "probe $i" >/dev/null; done
d exec web sh -c 'touch /tmp/x && chmod u+s /tmp/x' >/dev/null
d exec web unshare -U true >/dev/null 2>&1 || true
d exec web mount -t tmpfs none /mnt >/dev/null 2>&1 || true
d run -d --name hostmount --network none -v /:/host:ro wk-busybox:latest sleep 30 >/dev/null
d run -d --name capsys --network none --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
    wk-busybox:1.35 sleep 30 >/dev/null
d run -d --name sockmount --network none -v "$sock:/var/run/docker.sock" wk-busybox:1.35 \
    sleep 30 >/dev/null
d run -d --name hostpid --network none --pid host wk-busybox:1.35 sleep 30 >/dev/null
# namespace and mount syscalls from inside a container: only one with CAP_SYS_ADMIN and no
# seccomp profile gets them past seccomp (which denies before audit sees the syscall)
d exec capsys unshare -m true >/dev/null 2>&1 || true
d exec capsys mount -t tmpfs none /mnt >/dev/null 2>&1 || true
# an image from outside the allow-list (rules/placeholders.yaml)
d tag wk-busybox:1.35 miner.example.net/xmrig:6.21
d run --rm --network none --name miner miner.example.net/xmrig:6.21 echo hashing >/dev/null
# a crash loop: one container that dockerd restarts after each non-zero exit
d run -d --network none --restart on-failure:3 --name crashloop wk-busybox:1.35 \
    sh -c 'echo boom >&2; exit 3' >/dev/null
for _ in $(seq 100); do
    [ "$(d inspect -f '{{.RestartCount}} {{.State.Status}}' crashloop)" = "3 exited" ] && break
    sleep 0.2
done
d volume create wk-data >/dev/null
d kill web >/dev/null
sleep 1
end=$(date +%s.%N)

# --- collect ---
mkdir -p "$out/containers"
rm -f "$out"/containers/*/*-json.log
rmdir "$out"/containers/*/ 2>/dev/null || true
curl -s --unix-socket "$sock" "http://localhost/v1.41/events?since=$start&until=$end" \
    >"$tmp/events.jsonl"
if [ -n "$wk_bin" ]; then
    # every event of the /events capture stored, then stop the daemon (SIGTERM: exit 0)
    n_ev=$(wc -l <"$tmp/events.jsonl")
    for _ in $(seq 100); do
        [ "$("$wk_bin" query --store "$tmp/wkstore" --source docker | wc -l)" -ge "$n_ev" ] && break
        sleep 0.2
    done
    kill -TERM "$wk_pid"
    wait "$wk_pid" || { echo "capture.sh: watchkeeper run exited $?" >&2; cat "$tmp/wk.log" >&2; exit 3; }
    wk_pid=""
    # the events of the same window as the /events capture
    "$wk_bin" query --store "$tmp/wkstore" --source docker --format jsonl |
        jq -c --argjson s "${start/./}" --argjson e "${end/./}" \
            'select(.timeNano >= $s and .timeNano <= $e)' >"$tmp/docker.jsonl"
    [ "$(wc -l <"$tmp/docker.jsonl")" -eq "$n_ev" ] ||
        { echo "capture.sh: watchkeeper stored $(wc -l <"$tmp/docker.jsonl") of $n_ev docker events" >&2; exit 3; }
fi
for id in $(d ps -aq --no-trunc); do
    f="$tmp/data/containers/$id/$id-json.log"
    [ -s "$f" ] && cp "$f" "$tmp/$id-json.log"
done
d rm -f $(d ps -aq) >/dev/null
d volume rm wk-data >/dev/null
sleep 0.5
auditctl -l >/dev/null
kill -USR1 "$auditd_pid" 2>/dev/null || true # nothing buffered: flush
sleep 1
cat "$tmp"/audit/audit.log.* "$tmp/audit/audit.log" 2>/dev/null >"$tmp/audit.all" || true

# Scrub (see scrub above): the temp dir by its pattern, then the output directory, the
# checkout (the capture's own commands run from it), the watchkeeper binary's directory when
# it is elsewhere, and the host name.
root=$(cd "$here/.." && pwd)
pairs=("$(cd "$out" && pwd)=/src/watchkeeper/samples" "$root=/src/watchkeeper")
if [ -n "$wk_bin" ] && [ "${wk_bin#"$root"/}" = "$wk_bin" ]; then
    pairs+=("$(dirname "$wk_bin")=/src/watchkeeper/build")
fi
scrub() { perl -e "$scrub_pl" -- --host "$(hostname)" "${pairs[@]}"; }
scrub <"$tmp/audit.all" >"$out/audit.log"
scrub <"$tmp/events.jsonl" >"$out/docker-events.jsonl"
[ -z "$wk_bin" ] || scrub <"$tmp/docker.jsonl" >"$out/docker.jsonl"
for f in "$tmp"/*-json.log; do
    [ -f "$f" ] || continue
    id=$(basename "$f" -json.log)
    mkdir -p "$out/containers/$id"
    scrub <"$f" >"$out/containers/$id/$id-json.log"
done
echo "capture.sh: $(wc -l <"$out/audit.log") audit records, $(wc -l <"$out/docker-events.jsonl") docker events${wk_bin:+ ($(wc -l <"$out/docker.jsonl") stored enriched by watchkeeper)}, $(ls "$out"/containers/*/*-json.log | wc -l) container logs in $out"
