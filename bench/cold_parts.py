#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Where the bytes of format-2 records go (docs/store.md, "Cold tier: floors"): splits the
# events of EVENTS.jsonl as block format 2 lays them out - timestamp deltas, shape ids,
# originals, references into the original, literal strings, integers - into one stream
# each and compresses each with zstd -19 in 1 MiB chunks. An emulation from the JSON form
# (the writer's exact choices differ a little), for the relative sizes of the parts.
# usage: bench/cold_parts.py EVENTS.jsonl
import json, os, subprocess, sys, tempfile
from datetime import datetime, timezone

from coldlib import chunks_size, flat, varint


def zz(v):
    return (v << 1) ^ (v >> 63) if v >= 0 else ((-v) << 1) - 1


def ts_ns(s):
    d = datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return int(d.timestamp()) * 10**9 + int(s[20:29])


def main():
    names = ("ts", "shape", "orig", "refs", "literals", "ints")
    with tempfile.TemporaryDirectory() as d:
        out = {k: open(os.path.join(d, k), "wb") for k in names}
        shapes, prev, n = {}, None, 0
        for line in open(sys.argv[1], "rb"):
            ev = json.loads(line)
            n += 1
            t = ts_ns(ev.pop("@timestamp"))
            out["ts"].write(varint(zz(t - prev if prev is not None else 0)))
            prev = t
            orig = ev["event"].pop("original", "").encode()
            fields = list(flat(ev))
            for ri, rec in enumerate(ev.get("records", [])):
                fields += [("%d:%s" % (ri, k), v) for k, v in flat(rec)]
            fields = [(k, v) for k, v in fields if k != "records"]
            shape = tuple((k, type(v).__name__) for k, v in fields)
            out["shape"].write(varint(shapes.setdefault(shape, len(shapes))))
            out["orig"].write(varint(len(orig)) + orig)
            e = 0
            for k, v in fields:
                items = v if isinstance(v, list) else [v]
                for it in items:
                    if isinstance(it, bool) or it is None:
                        continue
                    txt = str(it).encode() if not isinstance(it, str) else it.encode()
                    at = orig.find(txt, e) if len(txt) >= 3 else -1
                    if at < 0 and len(txt) >= 3:
                        at = orig.find(txt)
                    if at >= 0:
                        out["refs"].write(varint(len(txt) << 1 | 1) + varint(zz(at - e)))
                        e = at + len(txt)
                    elif isinstance(it, int):
                        out["ints"].write(varint(zz(it) << 1))
                    else:
                        out["literals"].write(varint(len(txt) << 1) + txt)
        for f in out.values():
            f.close()
        for k in names:
            p = os.path.join(d, k)
            print("%-9s raw %6.1f B/event, zstd -19 (1 MiB chunks) %5.2f B/event"
                  % (k, os.path.getsize(p) / n, chunks_size(p) / n))
        print("shapes   ", len(shapes))


main()
