#!/usr/bin/python3
"""A zarr v2 group for the consolidated-metadata tests, made and read with zarr-python.

usage: zarr_group.py make GROUP [--no-consolidate]
         writes GROUP with arrays "src" (f4 45x70, chunks 16x32, attrs with xarray's
         _ARRAY_DIMENSIONS) and "other" (i2 10x10), then consolidates unless told not to.
       zarr_group.py read GROUP
         opens GROUP with zarr.open_consolidated and prints one JSON line: the members it lists,
         and for "dst" whether its values equal "src"'s and its attributes.
"""
import json, sys
import numpy as np
import zarr

ATTRS = {"_ARRAY_DIMENSIONS": ["time", "lat"], "units": "K"}

def make(path, consolidate):
    g = zarr.open_group(path, mode="w")
    src = g.create_dataset("src", shape=(45, 70), chunks=(16, 32), dtype="<f4")
    src[...] = np.arange(45 * 70, dtype="<f4").reshape(45, 70) / 7
    src.attrs.update(ATTRS)
    other = g.create_dataset("other", shape=(10, 10), chunks=(5, 5), dtype="<i2")
    other[...] = np.arange(100, dtype="<i2").reshape(10, 10)
    if consolidate:
        zarr.consolidate_metadata(path)
    print(json.dumps({"ok": True}))

def read(path):
    g = zarr.open_consolidated(path, mode="r")
    out = {"members": sorted(g.array_keys())}
    if "dst" in out["members"]:
        out["dst_equal"] = bool(np.array_equal(g["dst"][...], g["src"][...]))
        out["dst_attrs"] = dict(g["dst"].attrs)
    print(json.dumps(out))

if sys.argv[1] == "make":
    make(sys.argv[2], "--no-consolidate" not in sys.argv)
else:
    read(sys.argv[2])
