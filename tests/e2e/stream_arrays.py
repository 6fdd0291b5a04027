#!/usr/bin/python3
"""Arrays for the command op's chunk-stream tests, written by zarr-python, with numpy's oracle.

    stream_arrays.py make DIR
        writes DIR/zstd.zarr, DIR/lz4.zarr and DIR/blosc.zarr (edge chunks in both dimensions,
        a few chunks deleted so they read as the fill value) and prints one JSON line:
        {"zstd": {"chunks": {key: sum}, "sum", "min", "max", "count"}, ...}
    stream_arrays.py check-map SOURCE SINK
        reads both with zarr-python and compares SINK with numpy's anomaly transform of SOURCE
        (clients/python/examples/anomaly_map.py's, per chunk); prints {"equal": bool, ...}.
"""

import itertools
import json
import os
import sys

import numcodecs
import numpy as np
import zarr

SPECS = {
    # name: (dtype, shape, chunks, compressor, fill_value, deleted chunk keys)
    "zstd": ("<i4", (37, 53), (8, 16), numcodecs.Zstd(level=3), 7, ["1.1", "4.3"]),
    "lz4": (">i2", (20, 30), (7, 7), numcodecs.LZ4(), -2, ["0.0", "2.4"]),
    "blosc": ("<f4", (64, 45), (16, 16), numcodecs.Blosc(cname="zstd", clevel=1), 0.5, ["3.2"]),
}


def chunk_slices(shape, chunks):
    grids = [range((s + c - 1) // c) for s, c in zip(shape, chunks)]
    for coords in itertools.product(*grids):
        key = ".".join(str(i) for i in coords)
        yield key, tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(coords, chunks, shape))


def make(directory):
    rng = np.random.default_rng(13)
    oracle = {}
    for name, (dtype, shape, chunks, compressor, fill, deleted) in SPECS.items():
        path = os.path.join(directory, name + ".zarr")
        # Integer values (also in the float array), so that every sum is exact in a double.
        data = rng.integers(-1000, 1000, size=shape).astype(dtype)
        z = zarr.open(path, mode="w", shape=shape, chunks=chunks, dtype=dtype,
                      compressor=compressor, fill_value=fill)
        z[...] = data
        for key in deleted:
            os.remove(os.path.join(path, key))
        data = z[...]  # what a reader sees: the fill value where chunks are missing
        # Exact in float64 too: integers and halves (the float array's fill value) below 2^53.
        wide = data.astype(np.float64 if data.dtype.kind == "f" else np.int64)
        sums = {}
        for key, sl in chunk_slices(shape, chunks):
            sums[key] = wide[sl].sum().item()
        oracle[name] = {"chunks": sums, "sum": wide.sum().item(),
                        "min": wide.min().item(), "max": wide.max().item(),
                        "count": len(sums), "missing": deleted}
    print(json.dumps(oracle))


def anomaly(chunk):
    x = chunk.astype(np.float64)
    mean = x.mean() if x.size else 0.0
    std = x.std() if x.size else 0.0
    return (x - mean) / std if std > 0 else np.zeros_like(x)


def check_map(source, sink):
    src = zarr.open(source, mode="r")
    out = zarr.open(sink, mode="r")
    expected = np.zeros(src.shape, dtype="<f4")
    for _, sl in chunk_slices(src.shape, src.chunks):
        expected[sl] = anomaly(src[sl]).astype("<f4")
    actual = out[...]
    equal = (actual.shape == expected.shape and actual.dtype == expected.dtype
             and bool(np.array_equal(actual, expected)))
    print(json.dumps({"equal": equal, "dtype": str(actual.dtype), "shape": list(actual.shape),
                      "chunks": list(out.chunks),
                      "mismatches": int((actual != expected).sum()) if actual.shape == expected.shape else -1}))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    elif sys.argv[1] == "check-map":
        check_map(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: stream_arrays.py make DIR | check-map SOURCE SINK")
