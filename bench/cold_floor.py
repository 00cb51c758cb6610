#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Floors of the cold tier (docs/store.md, "Cold tier: floors"): what 1 MiB values would
# take if a stored event held only its event.original (the timestamp, shape and every
# parsed field rebuilt by the source's parser) plus the fields the parser cannot rebuild
# from the line (ENRICH: what a source adds from its state). Writes the streams and
# compresses them with zstd -19 in 1 MiB chunks, without and with a 64 KiB dictionary
# trained on the first 2 MiB (as the store trains its own).
# usage: bench/cold_floor.py EVENTS.jsonl (from bench/gen_events)
import json, os, subprocess, sys, tempfile

from coldlib import chunks_size, flat, varint

ENRICH = ("container.", "kubernetes.", "log.file.path", "log.offset")


def train(path, d):
    data = open(path, "rb").read()[: 2 << 20]
    sd = os.path.join(d, "samples")
    os.mkdir(sd)
    for i in range(0, len(data), 4096):
        open(os.path.join(sd, "%06d" % i), "wb").write(data[i:i + 4096])
    out = os.path.join(d, "dict")
    subprocess.run(["zstd", "-q", "--train", "-r", sd, "--maxdict=65536", "-o", out], check=True,
                   capture_output=True)
    return out


def main():
    n = 0
    with tempfile.TemporaryDirectory() as d:
        names = ("orig", "orig+enrich", "enrich", "orig+table")
        streams = {k: open(os.path.join(d, k), "wb") for k in names}
        # "table": each enrichment value as its index in a table of the values seen so far
        # (per field), log.offset as its difference from the prediction (the same file's
        # previous offset + that line's length + 1): what a per-block string table and a
        # delta would store
        table, nextoff = {}, {}
        for line in open(sys.argv[1], "rb"):
            ev = json.loads(line)
            n += 1
            orig = ev["event"]["original"].encode()
            en = [(k, v) for k, v in flat(ev) if k.startswith(ENRICH)]
            diff = b"".join(k.encode() + b"=" + str(v).encode() + b"\x1f" for k, v in en)
            streams["orig"].write(varint(len(orig)) + orig)
            streams["orig+enrich"].write(varint(len(orig)) + orig + varint(len(diff)) + diff)
            streams["enrich"].write(varint(len(diff)) + diff)
            t = bytearray()
            path = None
            for k, v in en:
                if k == "log.file.path":
                    path = v
                if k == "log.offset":
                    pred = nextoff.get(path, 0)
                    t += varint(((v - pred) << 1) ^ ((v - pred) >> 63) if v >= pred else ((pred - v) << 1) - 1)
                    continue
                tab = table.setdefault(k, {})
                i = tab.setdefault(str(v), len(tab))
                t += varint(len(k)) + k.encode() + varint(i)
                if i == len(tab) - 1 and len(tab) > 0 and tab[str(v)] == i:
                    pass
            if path is not None:
                nextoff[path] = ev["log"]["offset"] + len(orig) + 1
            streams["orig+table"].write(varint(len(orig)) + orig + varint(len(t)) + bytes(t))
        for f in streams.values():
            f.close()
        for k in names[int(os.environ.get("FIRST", "0")):]:
            p = os.path.join(d, k)
            plain = chunks_size(p)
            with tempfile.TemporaryDirectory() as td:
                dd = train(p, td)
                withd = chunks_size(p, dd)
            print("%-12s raw %6.1f B/event; zstd -19 1 MiB chunks %5.2f B/event, + dictionary %5.2f"
                  % (k, os.path.getsize(p) / n, plain / n, withd / n))


main()
