#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# packaging/watchkeeper.yaml cannot drift from the binary:
# (a) the file as shipped, each commented example block (`# example: NAME` .. `# end
#     example`) uncommented in place, and all of them at once pass `watchkeeper config check`
#     with the expected number of sources;
# (b) every option `watchkeeper config options` prints (each section, each source type) is
#     a key in its section of the file, under a comment that opens `NAME (TYPE, default
#     DEFAULT)` with the binary's type and default; the file has no key the binary does not
#     know and no commented-out key outside an example block (which nothing would check).
. "$(dirname "$0")/lib.sh"

doc=$WK_SRCDIR/packaging/watchkeeper.yaml

# uncomment NAME|all <FILE: the blocks named (all: every block) with one `#` and the space
# after it removed at the marker's column. Malformed blocks fail here, with their line.
uncomment() {
    awk -v want="$1" '
        function fail(msg) {
            printf "%s:%d: %s\n", FILENAME, NR, msg > "/dev/stderr"; bad = 1; exit 1
        }
        match($0, /^ *# example: /) {
            if (inblk) fail("example block inside example block " name)
            ind = RLENGTH - length("# example: ")
            name = substr($0, RLENGTH + 1)
            if (name !~ /^[a-z_]+$/) fail("example name must be [a-z_]+: " name)
            if (seen[name]++) fail("two example blocks named " name)
            inblk = 1; on = (want == "all" || want == name); found += on
            print; next
        }
        /^ *# end example$/ {
            if (!inblk) fail("end example without example")
            inblk = 0; print; next
        }
        inblk {
            lead = substr($0, 1, ind)
            if (lead !~ /^ *$/ || substr($0, ind + 1, 1) != "#")
                fail("line of example " name " not commented at the marker column " ind + 1)
            if (!on) { print; next }
            rest = substr($0, ind + 2)
            if (rest != "" && substr(rest, 1, 1) != " ") fail("`#` not followed by a space")
            print lead substr(rest, 2); next
        }
        { print }
        END {
            if (bad) exit 1
            if (inblk) {
                printf "%s: example %s has no end\n", FILENAME, name > "/dev/stderr"; exit 1
            }
            if (!found) { printf "%s: no example %s\n", FILENAME, want > "/dev/stderr"; exit 1 }
        }' "$doc"
}

# --- (a) the file, each example, all examples: valid, with their sources ------------------
wk_run 0 "$WK_BIN" config check "$doc"
# As shipped no source is listed: an installed daemon probes the host for each one.
wk_expect_eq "$WK_OUT" \
    "$doc: ok (0 sources: probed at start, 2 outputs, store /var/lib/watchkeeper)" \
    "the shipped file"
names=$(sed -n 's/^ *# example: //p' "$doc")
[ "$(echo "$names" | wc -l)" -ge 6 ] || wk_fail "expected at least 6 example blocks, got: $names"
total=0
for name in $names; do
    f=$WK_TMP/example-$name.yaml
    uncomment "$name" >"$f" || wk_fail "example $name: malformed block"
    n=$(diff "$doc" "$f" | grep -c '^> *- type: ' || true)
    [ "$n" -ge 1 ] || wk_fail "example $name lists no source"
    total=$((total + n))
    wk_run 0 "$WK_BIN" config check "$f"
    wk_expect_eq "$WK_OUT" "$f: ok ($n sources, 2 outputs, store /var/lib/watchkeeper)" \
        "example $name uncommented"
done
all=$WK_TMP/all-examples.yaml
uncomment all >"$all"
wk_run 0 "$WK_BIN" config check "$all"
wk_expect_eq "$WK_OUT" "$all: ok ($total sources, 2 outputs, store /var/lib/watchkeeper)" \
    "all examples uncommented"

# --- (b) the options the binary prints == the keys the file documents ---------------------
# The binary's table: SECTION KEY TYPE DEFAULT, one line per option.
"$WK_BIN" config options | awk '
    /^sources\[\] type: / { sec = "sources[" $3 "]"; next }
    /^outputs\[\]/ { sec = "outputs"; next }
    /^[^ ]/ { sec = $1; sub(/:$/, "", sec); next }
    NF < 3 { print "config options: cannot read: " $0 > "/dev/stderr"; exit 1 }
    { print sec, $1, $2, ($3 == "-" ? "none" : $3) }' >"$WK_TMP/binary.txt"
# The default rule pack is the build's <prefix>/<datadir>/watchkeeper/rules (test_packaging
# checks it); the file documents the packaged one, --prefix=/usr.
sed -i 's|^rules dirs list /.*/watchkeeper/rules$|rules dirs list /usr/share/watchkeeper/rules|' \
    "$WK_TMP/binary.txt"
grep -qx 'rules dirs list /usr/share/watchkeeper/rules' "$WK_TMP/binary.txt" ||
    wk_fail "config options: rules dirs is not <datadir>/watchkeeper/rules: $(grep '^rules dirs' "$WK_TMP/binary.txt")"
for sec in store store.cold rules pipeline api logging outputs 'sources[file_jsonl]' \
           'sources[docker]' 'sources[auditd]' 'sources[auditd_audisp]' 'sources[clog]'; do
    awk -v s="$sec" '$1 == s { f = 1 } END { exit !f }' "$WK_TMP/binary.txt" ||
        wk_fail "config options prints no section $sec"
done

# The file's keys, every example uncommented: SECTION KEY LINE HEADER, where HEADER is
# "TYPE, default DEFAULT" from the first line of the comments directly above the key at its
# column when that line opens with `# KEY (`, else "-".
awk '
    function fail(msg) { printf "%s:%d: %s\n", ARGV[1], NR, msg > "/dev/stderr"; bad = 1 }
    { line[NR] = $0 }
    /^ *#/ {
        if ($0 !~ /^ *# (example|end example)/ && $0 ~ /^ *#+ *[a-z_]+:( |$)/)
            fail("a commented-out key outside an example block: nothing checks it")
        next
    }
    /^[a-z_]+:/ { top = $0; sub(/:.*/, "", top); sec = ""; item = ""; next }
    match($0, /^ *(- )?[a-z_]+:( |$)/) {
        text = $0; sub(/^ */, "", text); ind = length($0) - length(text)
        dash = sub(/^- /, "", text); if (dash) ind += 2
        key = text; sub(/:.*/, "", key)
        val = text; sub(/^[a-z_]+: */, "", val); sub(/ *#.*/, "", val)
        if ((top == "sources" || top == "outputs") && dash && ind == 4 && key == "type")
            item = val
        if (top == "store" && ind == 2) { sec = "store"; incold = (key == "cold") }
        else if (top == "store" && ind == 4 && incold) sec = "store.cold"
        else if (top == "sources" && ind == 4 && item != "") sec = "sources[" item "]"
        else if (top == "outputs" && ind == 4 && item != "") sec = "outputs"
        else if (top ~ /^(rules|api|logging|pipeline)$/ && ind == 2) sec = top
        else { fail("key " key " where no section takes it"); next }
        first = 0
        for (j = NR - 1; j > 0 && line[j] ~ ("^" sprintf("%" ind "s", "") "#"); j--) first = j
        header = "-"
        if (first && index(line[first], "# " key " (") == ind + 1) {
            header = substr(line[first], ind + length("# " key " (") + 1)
            sub(/\).*/, "", header)
        }
        print sec, key, NR, header
    }
    END { exit bad }' "$all" >"$WK_TMP/file.txt" || wk_fail "the documented keys cannot be placed"

awk '
    FNR == NR { want[$1 " " $2] = $3 ", default " $4; next }
    {
        k = $1 " " $2; h = $4; for (i = 5; i <= NF; i++) h = h " " $i
        extra = ($2 == "type" || $2 == "name") && ($1 == "outputs" || $1 ~ /^sources\[/)
        extra = extra || ($1 == "store" && $2 == "cold")
        if (!(k in want)) {
            if (!extra) { printf "line %d: %s: the binary has no such option\n", $3, k; bad = 1 }
            next
        }
        if (h == want[k]) ok[k] = 1
        else if (h != "-") {
            printf "line %d: %s: documented as (%s), the binary says (%s)\n", $3, k, h, want[k]
            bad = 1
        }
    }
    END {
        for (k in want) if (!(k in ok)) {
            printf "%s: not documented (no key under a comment opening `%s (%s)`)\n", k,
                substr(k, index(k, " ") + 1), want[k]
            bad = 1
        }
        exit bad
    }' "$WK_TMP/binary.txt" "$WK_TMP/file.txt" >"$WK_TMP/diff.txt" ||
    wk_fail "$doc and \`watchkeeper config options\` differ (lines of $all):
$(sort "$WK_TMP/diff.txt")"
n=$(wc -l <"$WK_TMP/binary.txt")
[ "$n" -ge 60 ] || wk_fail "only $n options read from config options"
echo "ok: $(echo "$names" | wc -l) examples valid, $n options documented with type and default"
