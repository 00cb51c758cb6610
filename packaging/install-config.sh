#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `meson install` script: a starter CONFDIR/watchkeeper.yaml (the file the unit's ExecStart
# reads) unless one is there already, so that a later install never overwrites an edited
# config. The starter sets nothing, so every default applies: the sources this host has
# (probed at start), the installed rule pack, the store in /var/lib/watchkeeper, alerts on
# stdout (the journal). EXAMPLE, the annotated reference of every field, is named in it.
# Usage (meson passes DESTDIR in the environment): install-config.sh CONFDIR EXAMPLE
set -eu
confdir=$1
example=$2
dest=${DESTDIR:-}$confdir/watchkeeper.yaml
if [ -e "$dest" ]; then
    echo "Keeping $dest (exists)"
    exit 0
fi
mkdir -p "${DESTDIR:-}$confdir"
umask 027
cat >"$dest" <<YAML
# watchkeeper configuration, read by \`watchkeeper run -c $confdir/watchkeeper.yaml\`
# (the systemd unit). Nothing is set here, so every default applies: the sources this host
# has (the Docker socket, /var/log/audit/audit.log, container logs; the daemon logs which
# it found and why the others are not used), the installed rule pack, the store in
# /var/lib/watchkeeper, alerts on stdout (the journal).
# Every field with its default and an example: $example
# Check an edit with \`watchkeeper config check $confdir/watchkeeper.yaml\`, apply it with
# \`systemctl reload watchkeeper\`. \`meson install\` never overwrites this file.
YAML
echo "Installing starter config to $dest"
