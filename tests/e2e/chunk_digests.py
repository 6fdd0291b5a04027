#!/usr/bin/python3
"""The XXH64 digest of every stored chunk of a zarr v2 array, decoded by numcodecs (the array's
own compressor), as the peer's answer to batchd's `checksum` op. An array with filters or F
order is decoded by zarr-python itself (its compressor, its filters in reverse, its order) and
digested in C order, what batchd's ops see.

usage: chunk_digests.py ARRAY
Prints one JSON line: {"digests": {"<key>": "<16 hex digits>", ...}} for the chunks that exist.
"""
import json, os, sys
import numpy as np
import xxhash
import zarr

path = sys.argv[1]
z = zarr.open(path, mode="r")
digests = {}
for root, _, files in os.walk(path):
    for name in files:
        if name.startswith("."):
            continue
        key = os.path.relpath(os.path.join(root, name), path)
        with open(os.path.join(root, name), "rb") as f:
            raw = f.read()
        if z.filters or z.order == "F":
            decoded = np.ascontiguousarray(z._decode_chunk(raw)).tobytes()
        else:
            decoded = z.compressor.decode(raw) if z.compressor is not None else raw
        digests[key] = xxhash.xxh64(bytes(decoded)).hexdigest()
print(json.dumps({"digests": digests}))
