#!/usr/bin/python3
"""Per-chunk sums, folded by batchd: run as a `command` job with a "source".

    {"op": "command", "argv": ["/usr/bin/python3", ".../chunk_sums.py"],
     "env": {"PYTHONPATH": ".../clients/python"},
     "source": {"url": "file:///data/a.zarr"},
     "reduce": {"sum": "sum", "min": "min", "max": "max", "chunks": "count"}}

The session's result then holds the sum, min and max over its chunks and how many it saw.
With CHUNK_SUMS_LOG set, each chunk's key and sum are appended to that file as JSON lines.
"""

import json
import os

import numpy as np

import batchd_worker

log_path = os.environ.get("CHUNK_SUMS_LOG")
log = open(log_path, "a") if log_path else None
worker = batchd_worker.Worker()
for key, chunk in worker:
    # Sums in float64 (or int64): exact for the integer arrays the tests use.
    wide = chunk.astype(np.float64 if chunk.dtype.kind == "f" else np.int64)
    total = wide.sum().item()
    result = {"sum": total, "chunks": 1}
    if chunk.size:
        result["min"] = wide.min().item()
        result["max"] = wide.max().item()
    if log:
        log.write(json.dumps({"key": key, "sum": total, "missing": worker.header["missing"]}) + "\n")
        log.flush()
    worker.send_result(key, result)
