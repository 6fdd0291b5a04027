#!/usr/bin/python3
"""Write a sharded zarr v3 array by hand from the sharding_indexed spec (Debian's zarr-python 2
cannot write v3): zarr.json, and per shard the zstd-compressed inner chunks (numcodecs) one
after another plus the index of (offset, nbytes) little-endian uint64 pairs in C order, at the
shard's start or end, with its CRC-32C appended when asked. Same data recipe as
make_zarr_v3.py. Prints one JSON line with numpy's statistics of the array as the oracle.

usage: make_zarr_sharded.py PATH --shape 37,53 --shards 16,32 --chunks 8,16
                            [--dtype float32] [--index-location start|end] [--index-crc32c]
                            [--inner-crc32c] [--drop-inner N] [--drop-shards N]
                            [--fill-value 0]
  --drop-inner N    the first N inner chunks of every shard are not stored (index entry all
                    ones: they read as the fill value)
  --drop-shards N   the first N shards (in key order) are not written at all
"""
import argparse, itertools, json, os, shutil
import numpy as np
import numcodecs

p = argparse.ArgumentParser()
p.add_argument("path")
p.add_argument("--shape", default="37,53")
p.add_argument("--shards", default="16,32")
p.add_argument("--chunks", default="8,16")
p.add_argument("--dtype", default="float32")
p.add_argument("--index-location", default="end")
p.add_argument("--index-crc32c", action="store_true")
p.add_argument("--inner-crc32c", action="store_true")
p.add_argument("--drop-inner", type=int, default=0)
p.add_argument("--drop-shards", type=int, default=0)
p.add_argument("--fill-value", default="0")
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()

# CRC-32C bit by bit, independent of the C++ code it checks (as in make_zarr_v3.py).
def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF

assert crc32c(b"123456789") == 0xE3069283

shape = tuple(int(x) for x in a.shape.split(","))
shard = tuple(int(x) for x in a.shards.split(","))
inner = tuple(int(x) for x in a.chunks.split(","))
assert all(s % c == 0 for s, c in zip(shard, inner))
per_shard = tuple(s // c for s, c in zip(shard, inner))
dtype = np.dtype(a.dtype).newbyteorder("<")
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
inner_codecs = [{"name": "bytes", "configuration": {"endian": "little"}},
                {"name": "zstd", "configuration": {"level": 3, "checksum": False}}]
if a.inner_crc32c:
    inner_codecs.append({"name": "crc32c"})
index_codecs = [{"name": "bytes", "configuration": {"endian": "little"}}]
if a.index_crc32c:
    index_codecs.append({"name": "crc32c"})
meta = {
    "zarr_format": 3, "node_type": "array", "shape": list(shape),
    "data_type": np.dtype(a.dtype).name,
    "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(shard)}},
    "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
    "fill_value": fill,
    "codecs": [{"name": "sharding_indexed", "configuration": {
        "chunk_shape": list(inner), "codecs": inner_codecs, "index_codecs": index_codecs,
        "index_location": a.index_location}}],
    "attributes": {},
}
with open(os.path.join(a.path, "zarr.json"), "w") as f:
    json.dump(meta, f)

codec = numcodecs.Zstd(level=3)
shard_grid = [(s + c - 1) // c for s, c in zip(shape, shard)]
n_inner = int(np.prod(per_shard))
index_bytes = 16 * n_inner + (4 if a.index_crc32c else 0)
shard_keys = sorted("/".join(["c"] + [str(i) for i in idx])
                    for idx in itertools.product(*(range(g) for g in shard_grid)))
dropped_shards = set(shard_keys[: a.drop_shards])
for sidx in itertools.product(*(range(g) for g in shard_grid)):
    key = "/".join(["c"] + [str(i) for i in sidx])
    entries, body = [], b""
    base = index_bytes if a.index_location == "start" else 0
    for n, iidx in enumerate(itertools.product(*(range(g) for g in per_shard))):
        origin = [s * sc + i * c for s, sc, i, c in zip(sidx, shard, iidx, inner)]
        if any(o >= s for o, s in zip(origin, shape)):  # wholly past the array's end
            entries.append((2**64 - 1, 2**64 - 1))
            continue
        src = tuple(slice(o, min(o + c, s)) for o, c, s in zip(origin, inner, shape))
        if n < a.drop_inner or key in dropped_shards:
            entries.append((2**64 - 1, 2**64 - 1))
            data[src] = fill
            continue
        block = np.full(inner, fill, dtype=dtype)
        block[tuple(slice(0, sl.stop - sl.start) for sl in src)] = data[src]
        encoded = bytes(codec.encode(np.ascontiguousarray(block).tobytes()))
        if a.inner_crc32c:
            encoded += crc32c(encoded).to_bytes(4, "little")
        entries.append((base + len(body), len(encoded)))
        body += encoded
    if key in dropped_shards:
        continue
    index = b"".join(o.to_bytes(8, "little") + nb.to_bytes(8, "little") for o, nb in entries)
    if a.index_crc32c:
        index += crc32c(index).to_bytes(4, "little")
    path = os.path.join(a.path, *key.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(index + body if a.index_location == "start" else body + index)

finite = data[np.isfinite(data)] if dtype.kind == "f" else data
print(json.dumps({
    "path": a.path, "shape": shape, "chunks": inner, "shards": shard, "dtype": dtype.str,
    "count": int(data.size), "nan_count": int(data.size - finite.size),
    "min": float(finite.min()), "max": float(finite.max()),
    "sum": float(finite.astype(np.float64).sum()), "mean": float(finite.astype(np.float64).mean()),
    "nbytes": int(data.nbytes), "dropped_shards": sorted(dropped_shards),
}))
