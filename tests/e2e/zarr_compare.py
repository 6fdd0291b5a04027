#!/usr/bin/python3
"""Open two zarr v2 arrays with zarr-python and say whether they hold the same values.

usage: zarr_compare.py EXPECTED ACTUAL
Prints one JSON line: {"equal", "expected": {shape, dtype, compressor}, "actual": {...},
"mismatches"}. NaNs compare equal to NaNs.
"""
import json, sys
import numpy as np
import zarr

def describe(z):
    return {"shape": list(z.shape), "chunks": list(z.chunks), "dtype": z.dtype.str,
            "compressor": None if z.compressor is None else z.compressor.get_config()}

a = zarr.open(sys.argv[1], mode="r")
b = zarr.open(sys.argv[2], mode="r")
x, y = a[...], b[...]
same_shape = x.shape == y.shape
if same_shape:
    equal_mask = (x == y) | (np.isnan(x) & np.isnan(y) if x.dtype.kind == "f" else False)
    mismatches = int(x.size - np.count_nonzero(equal_mask))
else:
    mismatches = -1
print(json.dumps({"equal": same_shape and mismatches == 0 and a.dtype == b.dtype,
                  "expected": describe(a), "actual": describe(b), "mismatches": mismatches}))
