#!/usr/bin/python3
"""Write a zarr v2 array with zarr-python and a compressor, filters or an order make_zarr.py does
not offer.

usage: make_zarr_codecs.py PATH --compressor none|zstd|zlib|gzip|bz2|blosc-noshuffle|
                           blosc-shuffle|blosc-bitshuffle [--shape 37,53] [--chunks 8,16]
                           [--dtype <f4] [--seed 0]
                           [--attrs JSON]   (user attributes, written to .zattrs by zarr-python)
                           [--filters delta|delta-wide|fso|fso-delta]
                           [--order C|F]
  delta       numcodecs Delta(dtype)
  delta-wide  Delta(dtype, astype=the next wider integer type): integer dtypes only
  fso         FixedScaleOffset(offset=280, scale=100, dtype, astype="<i2"): float to int16
  fso-delta   that FixedScaleOffset, then Delta("<i2"): a chain of two

Prints one JSON line with numpy's statistics of what zarr-python reads back (the oracle), in
the form make_zarr.py prints.
"""
import argparse, json, os, shutil
import numpy as np
import numcodecs
import zarr

p = argparse.ArgumentParser()
p.add_argument("path")
p.add_argument("--compressor", required=True)
p.add_argument("--shape", default="37,53")
p.add_argument("--chunks", default="8,16")
p.add_argument("--dtype", default="<f4")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--attrs", default=None)
p.add_argument("--filters", default=None)
p.add_argument("--order", default="C")
a = p.parse_args()

shape = tuple(int(x) for x in a.shape.split(","))
chunks = tuple(int(x) for x in a.chunks.split(","))
dtype = np.dtype(a.dtype)
compressor = {
    "none": None,
    "zstd": numcodecs.Zstd(level=3),
    "zlib": numcodecs.Zlib(level=5),
    "gzip": numcodecs.GZip(level=5),
    "bz2": numcodecs.BZ2(level=9),
    "blosc-noshuffle": numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.NOSHUFFLE),
    "blosc-shuffle": numcodecs.Blosc(cname="zstd", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE),
    "blosc-bitshuffle": numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.BITSHUFFLE),
}[a.compressor]

def wider(t):
    return np.dtype(t.byteorder.replace("|", "<") + t.kind + str(2 * t.itemsize))

fso = numcodecs.FixedScaleOffset(offset=280, scale=100, dtype=dtype, astype="<i2")
filters = {
    None: None,
    "delta": [numcodecs.Delta(dtype=dtype)],
    "delta-wide": [numcodecs.Delta(dtype=dtype, astype=wider(dtype))] if dtype.kind in "iu" else None,
    "fso": [fso],
    "fso-delta": [fso, numcodecs.Delta(dtype="<i2")],
}[a.filters]
if a.filters is not None and filters is None:
    raise SystemExit("--filters %s does not apply to dtype %s" % (a.filters, dtype.str))

if os.path.exists(a.path):
    shutil.rmtree(a.path)
rng = np.random.default_rng(a.seed)
grid = np.indices(shape, dtype=np.float64).sum(axis=0)
data = 280.0 + 15.0 * np.sin(grid / 97.0) + rng.normal(0, 0.5, size=shape)
if dtype.kind == "f":
    data = np.round(data, 2).astype(dtype)
else:
    info = np.iinfo(dtype)
    data = np.clip(data, info.min, info.max).astype(dtype)
z = zarr.open(a.path, mode="w", shape=shape, chunks=chunks, dtype=dtype, compressor=compressor,
              fill_value=0, filters=filters, order=a.order)
z[...] = data
if a.attrs is not None:
    z.attrs.update(json.loads(a.attrs))

back = zarr.open(a.path, mode="r")[...]
meta = json.load(open(os.path.join(a.path, ".zarray")))
assert (meta["compressor"] or {}).get("id") == (compressor.codec_id if compressor else None)
assert [f["id"] for f in meta["filters"] or []] == [f.codec_id for f in filters or []]
assert meta["order"] == a.order
print(json.dumps({
    "path": a.path, "shape": shape, "chunks": chunks, "dtype": dtype.str,
    "compressor": a.compressor, "filters": meta["filters"], "order": a.order, "count": int(back.size), "nan_count": 0,
    "min": float(back.min()), "max": float(back.max()),
    "sum": float(back.astype(np.float64).sum()), "mean": float(back.astype(np.float64).mean()),
    "nbytes": int(back.nbytes), "dropped_chunks": [],
}))
