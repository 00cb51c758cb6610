#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `watchkeeper ingest` of the docker-events, json-file and cri formats (explicit and
# detected) from the shared corpus into a store: exact counts, resume, stored fields.
. "$(dirname "$0")/lib.sh"
C=$WK_CORPUS
ST=$WK_TMP/st
run() { "$WK_BIN" "$@" 2>>"$WK_TMP/stderr"; }

got=$(run ingest --store "$ST" --format docker-events \
    "$C/docker-events/moby-api-v1.22-events-example.jsonl" \
    "$C/docker-events/moby-api-v1.20-events-example.jsonl")
wk_expect_eq "$got" "$C/docker-events/moby-api-v1.22-events-example.jsonl: 9 events, 0 rejected
$C/docker-events/moby-api-v1.20-events-example.jsonl: 4 events, 0 rejected" "docker-events"

# Detected formats; the json-file name gives the container id.
id=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
mkdir -p "$WK_TMP/containers/$id"
cp "$C/json-file/beats-filebeat-docker_corrupted.log" "$WK_TMP/containers/$id/$id-json.log"
pods=$WK_TMP/pods/default_web-1_0b1c2d3e-1111-2222-3333-444455556666/nginx
mkdir -p "$pods"
cp "$C/cri/fluent-bit-multiline-test-cri_input.cri.log" "$pods/0.log"
got=$(run ingest --store "$ST" "$WK_TMP/containers/$id/$id-json.log" "$pods/0.log" \
    "$C/docker-events/wazuh/docker_integration-events-extracted.jsonl")
wk_expect_eq "$got" "$WK_TMP/containers/$id/$id-json.log: 20 events, 1 rejected
$pods/0.log: 8 events, 0 rejected
$C/docker-events/wazuh/docker_integration-events-extracted.jsonl: 14 events, 0 rejected" "detected"
grep -q "json-file: invalid JSON" "$WK_TMP/stderr" || wk_fail "reject not reported"

# Again: nothing new.
got=$(run ingest --store "$ST" "$WK_TMP/containers/$id/$id-json.log" "$pods/0.log")
wk_expect_eq "$got" "$WK_TMP/containers/$id/$id-json.log: 0 events, 0 rejected
$pods/0.log: 0 events, 0 rejected" "resume"

# What is stored.
n=$(run query --store "$ST" --source docker | wc -l)
wk_expect_eq "$n" 27 "docker events stored"
n=$(run query --store "$ST" --source clog --where "container.id=$id" | wc -l)
wk_expect_eq "$n" 20 "json-file events with the container id"
got=$(run query --store "$ST" --where kubernetes.pod.name=web-1 --where log.iostream=stderr \
    --format csv --fields message)
wk_expect_eq "$got" "message
1b. some multiline log
2b. another multiline log
3b. non multiline 1
4b. non multiline 2" "cri fields"
got=$(run query --store "$ST" --where timeNano=1461943101381709551 --format csv \
    --fields container.name,event.action,Actor.Attributes.com.example.some-label)
wk_expect_eq "$got" "container.name,event.action,Actor.Attributes.com.example.some-label
my-container,create,some-label-value" "docker fields, int64 timeNano, label with dots"
echo "ok: docker ingest"
