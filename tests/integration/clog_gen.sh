# SPDX-License-Identifier: Apache-2.0
# Container log generator (busybox sh): N numbered stdout lines, every 10th also on stderr,
# every 100th stdout line longer than 16 KiB (json-file splits it), a few characters JSON
# escapes, and a JSON line every 25. Run in a container and on the host for the expected
# output. Usage: sh clog_gen.sh N [PAUSE_EVERY]
n=$1
pause=${2:-0}
long=$(head -c 40000 /dev/zero | tr '\0' L)
i=1
while [ "$i" -le "$n" ]; do
    if [ $((i % 100)) -eq 0 ]; then
        echo "line $i $long"
    elif [ $((i % 25)) -eq 0 ]; then
        echo "{\"n\":$i,\"msg\":\"json line\",\"ok\":true}"
    else
        printf 'line %d "q" <&> \303\251 \\ back\ttab\n' "$i"
    fi
    if [ $((i % 10)) -eq 0 ]; then echo "err $i" >&2; fi
    if [ "$pause" -gt 0 ] && [ $((i % pause)) -eq 0 ]; then sleep 0.2; fi
    i=$((i + 1))
done
