#!/usr/bin/python3
"""Write a zarr v3 array by hand (Debian's zarr-python 2 cannot write v3): zarr.json plus
zstd-compressed chunks made by numcodecs, with the same data recipe as make_zarr.py. Prints one
JSON line with numpy's statistics of the array as the oracle (same keys as make_zarr.py).

usage: make_zarr_v3.py PATH --shape 37,53 --chunks 8,16 [--dtype float32] [--level 3]
                       [--endian little|big] [--separator /|.] [--encoding default|v2]
                       [--drop-chunks N] [--fill-value 0]
                       [--transpose 1,0]   (a transpose codec first, with that order)
                       [--crc32c]          (a crc32c codec last: the CRC-32C of each stored
                                            chunk appended, little-endian, as the spec says)
"""
import argparse, itertools, json, os, shutil
import numpy as np
import numcodecs

p = argparse.ArgumentParser()
p.add_argument("path")
p.add_argument("--shape", default="37,53")
p.add_argument("--chunks", default="8,16")
p.add_argument("--dtype", default="float32")
p.add_argument("--level", type=int, default=3)
p.add_argument("--endian", default="little")
p.add_argument("--separator", default="/")
p.add_argument("--encoding", default="default")
p.add_argument("--drop-chunks", type=int, default=0)
p.add_argument("--fill-value", default="0")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--transpose", default=None)
p.add_argument("--crc32c", action="store_true")
a = p.parse_args()

# CRC-32C (Castagnoli, reflected 0x82F63B78), bit by bit: slow, small, and independent of the
# C++ code it checks. Debian 12 packages no Python crc32c module.
def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF

assert crc32c(b"123456789") == 0xE3069283
order = [int(x) for x in a.transpose.split(",")] if a.transpose else None

shape = tuple(int(x) for x in a.shape.split(","))
chunks = tuple(int(x) for x in a.chunks.split(","))
dtype = np.dtype(a.dtype).newbyteorder("<" if a.endian == "little" else ">")
fill = float(a.fill_value) if dtype.kind == "f" else int(a.fill_value)

rng = np.random.default_rng(a.seed)
grid = np.indices(shape, dtype=np.float64).sum(axis=0)
data = 280.0 + 15.0 * np.sin(grid / 97.0) + rng.normal(0, 0.5, size=shape)
if dtype.kind == "f":
    data = np.round(data, 2).astype(dtype)
else:
    info = np.iinfo(dtype)
    data = np.clip(data, info.min, info.max).astype(dtype)

if os.path.exists(a.path):
    shutil.rmtree(a.path)
os.makedirs(a.path)
meta = {
    "zarr_format": 3, "node_type": "array", "shape": list(shape), "data_type": np.dtype(a.dtype).name,
    "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunks)}},
    "chunk_key_encoding": {"name": a.encoding, "configuration": {"separator": a.separator}},
    "fill_value": fill,
    "codecs": [{"name": "bytes", "configuration": {"endian": a.endian}},
               {"name": "zstd", "configuration": {"level": a.level, "checksum": False}}],
    "attributes": {},
}
if order is not None:
    meta["codecs"].insert(0, {"name": "transpose", "configuration": {"order": order}})
if a.crc32c:
    meta["codecs"].append({"name": "crc32c"})
with open(os.path.join(a.path, "zarr.json"), "w") as f:
    json.dump(meta, f)

codec = numcodecs.Zstd(level=a.level)
grid_shape = [(s + c - 1) // c for s, c in zip(shape, chunks)]
keys = []
for idx in itertools.product(*(range(g) for g in grid_shape)):
    block = np.full(chunks, fill, dtype=dtype)  # edge chunks are stored full size, padded
    src = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(idx, chunks, shape))
    block[tuple(slice(0, sl.stop - sl.start) for sl in src)] = data[src]
    parts = [str(i) for i in idx]
    key = a.separator.join((["c"] if a.encoding == "default" else []) + parts)
    keys.append(key)
    path = os.path.join(a.path, *key.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    stored = block.transpose(order) if order is not None else block
    encoded = bytes(codec.encode(np.ascontiguousarray(stored).tobytes()))
    if a.crc32c:
        encoded += crc32c(encoded).to_bytes(4, "little")
    with open(path, "wb") as f:
        f.write(encoded)

dropped = sorted(keys)[: a.drop_chunks]
for key in dropped:
    os.remove(os.path.join(a.path, *key.split("/")))
    idx = [int(x) for x in key.split(a.separator)[(1 if a.encoding == "default" else 0):]]
    src = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(idx, chunks, shape))
    data[src] = fill

finite = data[np.isfinite(data)] if dtype.kind == "f" else data
print(json.dumps({
    "path": a.path, "shape": shape, "chunks": chunks, "dtype": dtype.str, "compressor": "zstd",
    "count": int(data.size), "nan_count": int(data.size - finite.size),
    "min": float(finite.min()), "max": float(finite.max()),
    "sum": float(finite.astype(np.float64).sum()), "mean": float(finite.astype(np.float64).mean()),
    "nbytes": int(data.nbytes), "dropped_chunks": dropped,
}))
