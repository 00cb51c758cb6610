# SPDX-License-Identifier: Apache-2.0
# Shared by bench/cold_floor.py and bench/cold_parts.py: the store's varint, JSON events
# flattened to dotted names, and zstd -19 of a file in 1 MiB chunks (the cold tier's value
# size), optionally with a dictionary.
import os, subprocess, tempfile


def varint(n):
    b = bytearray()
    while True:
        c = n & 0x7F
        n >>= 7
        b.append(c | (0x80 if n else 0))
        if not n:
            return bytes(b)


def flat(o, pre=""):
    for k, v in o.items():
        if isinstance(v, dict):
            yield from flat(v, pre + k + ".")
        else:
            yield pre + k, v


def chunks_size(path, dict_path=None):
    data = open(path, "rb").read()
    total = 0
    with tempfile.TemporaryDirectory() as d:
        for i in range(0, len(data), 1 << 20):
            f = os.path.join(d, "c")
            open(f, "wb").write(data[i:i + (1 << 20)])
            cmd = ["zstd", "-19", "-q", "-c", f] + (["-D", dict_path] if dict_path else [])
            total += len(subprocess.run(cmd, check=True, capture_output=True).stdout)
    return total
