#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The CLI's contract: help, version, exit codes, one-line errors on stderr.
. "$(dirname "$0")/lib.sh"

version=$(sed -n "s/^  version: '\(.*\)',$/\1/p" "$WK_SRCDIR/meson.build")

wk_run 0 "$WK_BIN" --version
wk_expect_eq "$WK_OUT" "watchkeeper $version" "--version output"

wk_run 0 "$WK_BIN" --help
grep -q '^usage: watchkeeper \[--version\] \[--help\] COMMAND \[ARGS\]$' <<<"$WK_OUT" ||
    wk_fail "--help has no usage line"
grep -q '^  version    print the version$' <<<"$WK_OUT" || wk_fail "--help lists no version"

# Every listed command has help, through both forms, and the same text.
for cmd in $(sed -n 's/^  \([a-z-]*\)  .*/\1/p' <<<"$WK_OUT"); do
    wk_run 0 "$WK_BIN" help "$cmd"
    a=$WK_OUT
    wk_run 0 "$WK_BIN" "$cmd" --help
    wk_expect_eq "$WK_OUT" "$a" "help $cmd == $cmd --help"
    grep -q "^usage: watchkeeper $cmd" <<<"$a" || wk_fail "help $cmd has no usage line"
done

wk_run 2 "$WK_BIN"
wk_run 2 "$WK_BIN" no-such-command
wk_expect_eq "$WK_ERR" "watchkeeper: unknown command 'no-such-command' (see 'watchkeeper --help')" \
    "unknown command error"
wk_run 2 "$WK_BIN" --bogus
wk_expect_eq "$(wc -l <<<"$WK_ERR")" "1" "errors are one line"
wk_run 2 "$WK_BIN" help nope
wk_expect_eq "$WK_ERR" "watchkeeper: help: unknown command 'nope'" "help of unknown command"
wk_run 2 "$WK_BIN" version extra
wk_run 0 "$WK_BIN" version
grep -q "^libuv 1\.[0-9.]*, jansson 2\.[0-9.]*, lmdb LMDB" <<<"$WK_OUT" || wk_fail "library versions"
echo "cli: ok"
