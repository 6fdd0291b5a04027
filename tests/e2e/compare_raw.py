#!/usr/bin/python3
"""Compare a zarr v2 array (opened with zarr-python) with raw little-endian C-order elements.

usage: compare_raw.py EXPECTED_ZARR_V2 RAW_FILE
Prints one JSON line: {"equal", "shape", "dtype", "mismatches"}. NaNs compare equal to NaNs.
The sharded transcode tests use it on what zarrita (tests/zarrita/read_raw.mjs) read from
batchd's zarr v3 output, since zarr-python 2 cannot read sharded arrays.
"""
import json, sys
import numpy as np
import zarr

a = zarr.open(sys.argv[1], mode="r")
x = a[...]
raw = np.fromfile(sys.argv[2], dtype=x.dtype.newbyteorder("<"))
if raw.size != x.size:
    print(json.dumps({"equal": False, "shape": list(x.shape), "dtype": x.dtype.str,
                      "mismatches": -1, "raw_elements": int(raw.size)}))
    sys.exit(0)
y = raw.reshape(x.shape)
same = (x == y)
if x.dtype.kind == "f":
    same |= np.isnan(x) & np.isnan(y)
mismatches = int(x.size - np.count_nonzero(same))
print(json.dumps({"equal": mismatches == 0, "shape": list(x.shape), "dtype": x.dtype.str,
                  "mismatches": mismatches}))
