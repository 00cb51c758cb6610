#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's first command on the bundled sample: scripts/demo's main job, `watchkeeper run
# --once -c samples/watchkeeper.yaml`, with the same shipped config (the store in a temp dir)
# stores exactly the sample's events per source, raises exactly the alerts samples/README.md
# lists (per rule and container), hunt over the store agrees, verify passes, and a second
# run stores nothing. And the sample files hold nothing of the capture host: no /root/,
# /home/, /work/ path, no /tmp/ path but the scrubbed capture dir /tmp/capture, the
# in-container /tmp/x and runc's /tmp/runc-process<N>, no mktemp dir /tmp/wk-capture-*, no
# /usr/local/cuda, no path of this checkout, no /etc/machine-id of this host, every node=,
# hostname= and host.name sample-host, no IPv4 address but TEST-NET-3 203.0.113.0/24 (the
# scenario's): hex-encoded audit fields (proctitle, saddr, execve arguments) decoded too.
# And the sample is a fixed point of samples/capture.sh's scrub.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || wk_skip "needs jq"
command -v perl >/dev/null || wk_skip "needs perl"

cd "$WK_SRCDIR" || wk_fail "cd $WK_SRCDIR" # the config's paths are relative to the top of the checkout
cfg=samples/watchkeeper.yaml
store=$WK_TMP/store

# --- the demo runs this very job ---------------------------------------------------------
grep -q '^cfg=samples/watchkeeper.yaml$' scripts/demo || wk_fail "scripts/demo does not use $cfg"
grep -q '"$wk" run --once -c "$cfg"' scripts/demo || wk_fail "scripts/demo does not run --once"

# --- no host-specific strings in the sample files ------------------------------------------
files=(samples/audit.log samples/docker-events.jsonl samples/docker.jsonl samples/containers/*/*-json.log)
wk_expect_eq "${#files[@]}" 5 "sample files (audit log, 2 event files, 2 container logs)"
cat >"$WK_TMP/hostcheck.pl" <<'PERL'
use strict;
use warnings;
my ($machine_id, $checkout) = splice(@ARGV, 0, 2);
my $bad = 0;
sub report { my ($where, $what) = @_; print "$where: $what\n" if $bad++ < 20; }
sub check {
    my ($where, $s) = @_;
    # (a checkout at the scrubbed path itself is no leak)
    for my $p ('/root/', '/home/', '/work/', '/usr/local/cuda', '/tmp/wk-capture-',
               $checkout eq '/src/watchkeeper' ? () : ($checkout)) {
        report($where, "contains $p") if index($s, $p) >= 0;
    }
    report($where, "contains this host's machine id") if $machine_id ne '' && index($s, $machine_id) >= 0;
    while ($s =~ m{/tmp/([A-Za-z0-9._-]*)}g) {
        my $c = $1;
        report($where, "/tmp/$c: not /tmp/capture, /tmp/x or /tmp/runc-process<N>")
            unless $c eq '' || $c eq 'capture' || $c eq 'x' || $c =~ /^runc-process\d+$/;
    }
    while ($s =~ /(?<![A-Za-z0-9_.-])(node|hostname)="?([^\s"\x1d]*)/g) {
        report($where, "$1=$2: not sample-host") unless $2 eq 'sample-host';
    }
    while ($s =~ /"host":\{"name":"([^"]*)"/g) {
        report($where, "host.name $1: not sample-host") unless $1 eq 'sample-host';
    }
    while ($s =~ /(?<![0-9.])(\d{1,3}(?:\.\d{1,3}){3})(?![0-9.])/g) {
        report($where, "IPv4 $1: not in 203.0.113.0/24") unless $1 =~ /^203\.0\.113\./;
    }
}
my ($lines, $decoded) = (0, 0);
for my $f (@ARGV) {
    open(my $fh, '<', $f) or die "$f: $!\n";
    while (my $l = <$fh>) {
        $lines++;
        check("$f:$.", $l);
        while ($l =~ /(?<![A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_-]*)=([0-9A-F]{2,})(?=[\s\x1d]|$)/g) {
            my ($k, $h) = ($1, $2);
            next if length($h) % 2;
            (my $d = pack('H*', $h)) =~ s/\0/ /g;
            $decoded++;
            check("$f:$. ($k, hex-decoded)", $d);
        }
    }
}
print "$bad host-specific strings in $lines lines ($decoded hex values decoded)\n";
exit($bad ? 1 : 0);
PERL
machine_id=$(cat /etc/machine-id 2>/dev/null || true)
checkout=$(realpath "$WK_SRCDIR")
rc=0
out=$(perl "$WK_TMP/hostcheck.pl" "$machine_id" "$checkout" "${files[@]}") || rc=$?
[ "$rc" -eq 0 ] || wk_fail "host-specific strings in the sample:
$out"
# exact line and hex-value counts: a check that read nothing cannot pass
wk_expect_eq "$out" "0 host-specific strings in 7057 lines (10594 hex values decoded)" "host check"

# The sample is what the scrub makes of it: scrubbing a copy again changes nothing.
mkdir -p "$WK_TMP/rescrub"
cp -r samples/audit.log samples/docker-events.jsonl samples/docker.jsonl samples/containers "$WK_TMP/rescrub/"
wk_run 0 samples/capture.sh --scrub "$WK_TMP/rescrub"
wk_expect_eq "$WK_OUT" "capture.sh: 0 files changed" "the sample is a fixed point of the scrub"

# --- run --once over the sample with the shipped config ------------------------------------
wk_run 0 "$WK_BIN" config check "$cfg"
wk_expect_eq "$WK_OUT" "$cfg: ok (3 sources, 1 outputs, store build/demo-store)" "config check"
wk_run 1 "$WK_BIN" run --once -c "$cfg" --store "$store" # 1: alerts raised
printf '%s\n' "$WK_OUT" >"$WK_TMP/alerts.jsonl"
grep -q "stopped: 1618 events committed this run" <<<"$WK_ERR" || wk_fail "run --once log: $WK_ERR"

# alerts per rule and container (its name, else its short id)
container='(.event.container.name // .event.container.id // (.group // {})["container.id"] // "-") | .[0:12]'
got=$(jq -r "[.rule.level, .rule.title, ($container)] | @tsv" "$WK_TMP/alerts.jsonl" | sort | uniq -c |
    sed -E 's/^ +//')
expected=$(cat <<'EOF'
1 high	Container Started With A Sensitive Host Directory Mounted	hostmount
1 high	Container Started With CAP_SYS_ADMIN Or All Capabilities	capsys
1 high	Container Started With The Docker Socket Mounted	sockmount
1 high	Container Started Without Seccomp Or AppArmor Confinement	capsys
1 high	Docker Socket Accessed From A Container	ca4ae0ba7018
3 high	Escape-Prone System Call From A Container	735c5c275ad6
1 high	Injection Pattern In Container Logs	774510a8a756
2 high	Sensitive File Read Inside A Container	774510a8a756
1 low	Container Crash Loop	crashloop
1 low	Container Started From A Latest Or Untagged Image	hostmount
1 medium	Authentication Failure Burst In A Container	774510a8a756
1 medium	Container Shares A Host Namespace (network, PID or IPC)	hostpid
1 medium	Container Started From An Image Outside The Allow-List	miner
1 medium	Exec Storm On One Container	web
2 medium	Interactive Shell Started In A Container Via Docker Exec	web
1 medium	Setuid Or Setgid Bit Set With Chmod	774510a8a756
EOF
)
wk_expect_eq "$got" "$expected" "alerts per rule and container"
wk_expect_eq "$(wc -l <"$WK_TMP/alerts.jsonl")" 20 "alerts"
wk_expect_eq "$(jq -r .rule.file "$WK_TMP/alerts.jsonl" | sort -u | wc -l)" 16 "rule files that alerted"

# events stored per source, and the store's totals
wk_run 0 "$WK_BIN" stats --store "$store"
got=$(grep -E '^(events|alerts|quarantined) ' <<<"$WK_OUT" | tr -s ' '
    grep -E '^source ' <<<"$WK_OUT" | sed -E 's/^source +([a-z_]+): ([0-9]+) events.*/\1 \2/')
wk_expect_eq "$got" "events 1618
alerts 20
quarantined 0
auditd 1509
clog 16
docker 93" "events per source"

# hunt over the stored events raises the same alerts per rule as the daemon did live
wk_run 1 "$WK_BIN" hunt --rules rules --store "$store" --format count # 1: alerts
got=$(awk '$1 > 0 { print $1, $2 }' <<<"$WK_OUT" | sort -k2)
wk_expect_eq "$got" "$(jq -r .rule.id "$WK_TMP/alerts.jsonl" | sort | uniq -c | awk '{ print $1, $2 }' | sort -k2)" \
    "hunt agrees with run --once"

wk_run 0 "$WK_BIN" verify --store "$store"
[[ "$WK_OUT" == ok:* ]] || wk_fail "verify: $WK_OUT"

# a second run --once on the same store resumes from the stored cursors: nothing new
wk_run 0 "$WK_BIN" run --once -c "$cfg" --store "$store"
wk_expect_eq "$WK_OUT" "" "second run: no alert"
grep -q "stopped: 0 events committed this run" <<<"$WK_ERR" || wk_fail "second run log: $WK_ERR"
echo "ok: demo sample: 1618 events (auditd 1509, clog 16, docker 93), 20 alerts from 16 rule files, no host-specific string"
