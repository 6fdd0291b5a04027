#!/usr/bin/python3
"""A per-chunk anomaly map written as a new zarr array: run as a `command` job with a "sink".

    {"op": "command", "argv": ["/usr/bin/python3", ".../anomaly_map.py"],
     "env": {"PYTHONPATH": ".../clients/python"},
     "source": {"url": "file:///data/t2m.zarr"},
     "sink": {"url": "file:///data/t2m_anomaly.zarr", "dtype": "<f4",
              "codec": {"id": "zstd", "level": 3}}}

Each output element is its input minus the mean of its chunk, in units of the chunk's
standard deviation (0 where the chunk is constant): a local z-score. The session's result
counts the elements beyond 3 standard deviations ("outliers", summed over the chunks).
"""

import numpy as np

import batchd_worker

worker = batchd_worker.Worker()
for key, chunk in worker:
    x = chunk.astype(np.float64)
    mean = x.mean() if x.size else 0.0
    std = x.std() if x.size else 0.0
    z = (x - mean) / std if std > 0 else np.zeros_like(x)
    worker.send_chunk(key, z, result={"outliers": int((np.abs(z) > 3).sum())})
