#!/usr/bin/python3
"""Writes the fuzzers' seed corpora (fuzz/corpus/NAME/) from real inputs.

- zarr metadata: .zarray documents written by zarr-python through ../shared/anchors/make_zarr.py
  (or, without it, zarr-python directly), and zarr.json documents from tests/e2e/make_zarr_v3.py,
  plus the variants both formats must refuse by name (F order, filters, sharding, ...);
- codecs: chunks of the same field make_zarr.py writes, encoded by numcodecs, in the codec
  fuzzers' input layout (codec_decode_fuzzer.cpp);
- batches and HTTP requests: the documents of the README, the architecture note and the test
  support's sample batches (tests/support/sample_batches.cpp).

Run it with Debian's python3 (numpy, numcodecs, zarr) from anywhere: /usr/bin/python3
fuzz/make_corpus.py. It replaces the seed files it writes and leaves others (crash inputs kept
as regression seeds) alone.
"""
import json, os, struct, subprocess, sys, tempfile

import numcodecs
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MAKE_ZARR = os.path.join(ROOT, "..", "shared", "anchors", "make_zarr.py")
MAKE_ZARR_V3 = os.path.join(ROOT, "tests", "e2e", "make_zarr_v3.py")


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def field(n_bytes, dtype="<f4", seed=0):
    """The first n_bytes of make_zarr.py's field: a smooth wave plus noise, rounded."""
    dt = np.dtype(dtype)
    n = max(1, -(-n_bytes // dt.itemsize))
    rng = np.random.default_rng(seed)
    x = 280.0 + 15.0 * np.sin(np.arange(n) / 97.0) + rng.normal(0, 0.5, n)
    x = np.round(x, 2).astype(dt) if dt.kind == "f" else np.clip(x, 0, 255).astype(dt)
    return x.tobytes()[:n_bytes]


# --- zarr v2 ----------------------------------------------------------------------------------
def zarr_v2(tmp):
    cases = [
        ("zstd-f4", ["--compressor", "zstd", "--dtype", "<f4"]),
        ("lz4-f8-big", ["--compressor", "lz4", "--dtype", ">f8"]),
        ("blosc-lz4-i2", ["--compressor", "blosc-lz4", "--dtype", "<i2"]),
        ("blosc-zstd-u1", ["--compressor", "blosc-zstd", "--dtype", "|u1"]),
        ("none-u4-slash", ["--compressor", "none", "--dtype", "<u4", "--separator", "/"]),
        ("zstd-f4-nan", ["--compressor", "zstd", "--fill-value", "nan"]),
        ("zstd-f4-order-f", ["--compressor", "zstd", "--order", "F"]),
    ]
    for name, args in cases:
        path = os.path.join(tmp, name + ".zarr")
        if os.path.exists(MAKE_ZARR):
            subprocess.run([sys.executable, MAKE_ZARR, path, "--shape", "37,53", "--chunks", "8,16"]
                           + args, check=True, capture_output=True)
        else:
            import zarr
            zarr.create(store=path, shape=(37, 53), chunks=(8, 16), dtype="<f4")
        with open(os.path.join(path, ".zarray"), "rb") as f:
            write("zarr_v2_metadata_fuzzer", name, f.read())
    import zarr
    path = os.path.join(tmp, "filters.zarr")
    zarr.create(store=path, shape=(100,), chunks=(10,), dtype="<i4",
                filters=[numcodecs.Delta(dtype="<i4")])
    with open(os.path.join(path, ".zarray"), "rb") as f:
        write("zarr_v2_metadata_fuzzer", "delta-filter", f.read())
    path = os.path.join(tmp, "scalar.zarr")
    zarr.create(store=path, shape=(), chunks=(), dtype="<i8", fill_value=-7)
    with open(os.path.join(path, ".zarray"), "rb") as f:
        write("zarr_v2_metadata_fuzzer", "zero-dim-i8", f.read())


# --- zarr v3 ----------------------------------------------------------------------------------
def zarr_v3(tmp):
    cases = [
        ("default-f4", []),
        ("v2-encoding-f8-big", ["--dtype", "float64", "--endian", "big", "--encoding", "v2",
                                "--separator", "."]),
        ("default-i2-fill", ["--dtype", "int16", "--fill-value", "-3"]),
    ]
    base = None
    for name, args in cases:
        path = os.path.join(tmp, name + ".zarr")
        subprocess.run([sys.executable, MAKE_ZARR_V3, path, "--shape", "37,53", "--chunks", "8,16"]
                       + args, check=True, capture_output=True)
        with open(os.path.join(path, "zarr.json"), "rb") as f:
            text = f.read()
        write("zarr_v3_metadata_fuzzer", name, text)
        base = base or json.loads(text)
    # What zarr-python 3 writes for blosc and sharding, and a group: accepted and refused.
    blosc = dict(base, data_type="uint8", fill_value=0)
    blosc["codecs"] = [{"name": "bytes"},
                       {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 5,
                        "shuffle": "bitshuffle", "typesize": 1, "blocksize": 0}}]
    write("zarr_v3_metadata_fuzzer", "blosc-u1", json.dumps(blosc))
    nan = dict(base, fill_value="NaN")
    nan["codecs"] = [{"name": "bytes", "configuration": {"endian": "little"}}]
    write("zarr_v3_metadata_fuzzer", "no-compressor-nan", json.dumps(nan))
    bits = dict(base, fill_value="0x7fc00000")
    write("zarr_v3_metadata_fuzzer", "fill-bit-pattern", json.dumps(bits))
    sharded = dict(base)
    sharded["codecs"] = [{"name": "sharding_indexed", "configuration": {
        "chunk_shape": [4, 8], "codecs": [{"name": "bytes"}], "index_codecs": [{"name": "bytes"}]}}]
    write("zarr_v3_metadata_fuzzer", "sharding", json.dumps(sharded))
    write("zarr_v3_metadata_fuzzer", "group",
          json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}}))


# --- codecs -----------------------------------------------------------------------------------
def codec_input(config, element_size, decoded, encoded, round_trip_input=False):
    flags = {1: 0, 2: 1, 4: 2, 8: 3}[element_size] | (4 if round_trip_input else 0)
    return (json.dumps(config).encode() + b"\n" + bytes([flags]) +
            struct.pack("<I", decoded)[:3] + encoded)


def codecs():
    sizes = [0, 1, 100, 4096]
    for n in sizes:
        plain = field(n)
        write("codec_raw_fuzzer", "raw-%d" % n, codec_input({"id": "raw"}, 4, n, plain, n == 100))
        for accel in (1, 9):
            enc = numcodecs.LZ4(acceleration=accel).encode(plain)
            write("codec_lz4_fuzzer", "lz4-a%d-%d" % (accel, n),
                  codec_input({"id": "lz4", "acceleration": accel}, 4, n, enc, n == 100))
        for level, checksum in ((1, False), (3, False), (-5, False), (9, True)):
            try:
                enc = numcodecs.Zstd(level=level, checksum=checksum).encode(plain)
            except TypeError:  # numcodecs 0.11 has no checksum option
                if checksum:
                    continue
                enc = numcodecs.Zstd(level=level).encode(plain)
            cfg = {"id": "zstd", "level": level, "checksum": checksum}
            write("codec_zstd_fuzzer", "zstd-l%d-%s-%d" % (level, "c" if checksum else "n", n),
                  codec_input(cfg, 4, n, enc, n == 100))
        for cname, shuffle, typesize in (("lz4", 1, 4), ("zstd", 2, 4), ("blosclz", 0, 1),
                                         ("zlib", 1, 8), ("lz4hc", -1, 2)):
            blocksize = 1024 if n > 1024 and cname == "lz4" else 0
            codec = numcodecs.Blosc(cname=cname, clevel=5, shuffle=shuffle, blocksize=blocksize)
            # numcodecs takes the typesize from the buffer's dtype.
            dtype = {1: "u1", 2: "<u2", 4: "<f4", 8: "<f8"}[typesize]
            data = np.frombuffer(plain[: n - n % typesize], dtype=dtype)
            enc = codec.encode(data)
            cfg = {"id": "blosc", "cname": cname, "clevel": 5, "shuffle": shuffle,
                   "blocksize": blocksize}
            write("codec_blosc_fuzzer", "blosc-%s-s%d-t%d-%d" % (cname, shuffle, typesize, n),
                  codec_input(cfg, typesize, data.nbytes, enc, n == 100))


# --- batches and requests ----------------------------------------------------------------------
NOOP_TEMPLATE = {"op": "noop", "source": {"url": "file:///data/a.zarr/t2m"}, "region": None,
                 "params": {"level": 0, "note": "kept as is"}}
BATCHES = {
    "zipped-and-product": {
        "name": "zip-product", "priority": 5, "runs": 2, "max_running": 3, "max_attempts": 2,
        "template": NOOP_TEMPLATE,
        "data": [[{"field": "/source/url", "items": ["file:///data/a.zarr/t2m",
                                                     "file:///data/a.zarr/u10",
                                                     "file:///data/b.zarr/sp"]},
                  {"field": "/params/level", "items": [850, 500.5, None]}],
                 [{"field": "/region", "items": [[[0, 8], [0, 16]], [[8, 16], [0, 16]], None,
                                                 [[0, 1], [0, 1]]]}]]},
    "simple": {"name": "simple", "runs": 3, "template": NOOP_TEMPLATE,
               "data": [[{"field": "/params/level", "items": [0, 10, 20, 30]}]]},
    "architecture-stats": {
        "name": "t2m stats", "priority": 0, "runs": 1, "max_running": None, "max_attempts": 3,
        "template": {"op": "stats", "source": {"url": "file:///data/era5.zarr/t2m"},
                     "region": None, "sink": None,
                     "limits": {"fetch_concurrency": 64, "bytes_in_flight": 67108864}},
        "data": [[{"field": "/source/url", "items": ["file:///data/a.zarr/t2m",
                                                     "file:///data/a.zarr/u10"]}],
                 [{"field": "/region", "items": [[[0, 8], [0, 16]], [[8, 16], [0, 16]]]}]]},
    "readme-sleep": {"name": "slow", "max_running": 2,
                     "template": {"op": "sleep", "ms": 2000, "n": 0},
                     "data": [[{"field": "/n", "items": [1, 2, 3, 4, 5, 6]}]]},
    "escaped-pointers": {"template": {"a/b": {"c~d": 1}, "list": [0, 1, 2]},
                         "data": [[{"field": "/a~1b/c~0d", "items": [1, 2]}],
                                  [{"field": "/list/2", "items": ["x"]}]]},
    "unknown-field": {"template": {"x": 1}, "data": [[{"field": "/y", "items": [1]}]]},
    "too-many-sessions": {"runs": 100000, "template": {"op": "noop", "n": 0},
                          "data": [[{"field": "/n", "items": list(range(200))}]]},
}


def batches():
    for name, doc in BATCHES.items():
        write("batch_spec_fuzzer", name, json.dumps(doc))
    write("batch_spec_fuzzer", "malformed", '{"template": {"op": "noop"},')


def requests():
    sep = b"\0"
    def req(method, target, body=""):
        return ("%s %s\n%s" % (method, target, body)).encode()
    submit = req("POST", "/api/v1/batches", json.dumps(BATCHES["simple"]))
    write("http_router_fuzzer", "submit-then-read", sep.join([
        submit, req("GET", "/api/v1/batches/b1"), req("GET", "/api/v1/batches?state=queued&limit=10"),
        req("GET", "/api/v1/batches/b1/sessions?limit=5&cursor=2")]))
    write("http_router_fuzzer", "submit-cancel-delete", sep.join([
        req("POST", "/api/v1/batches", json.dumps(BATCHES["zipped-and-product"])),
        req("POST", "/api/v1/batches/b1/cancel"), req("DELETE", "/api/v1/batches/b1"),
        req("GET", "/api/v1/queue")]))
    write("http_router_fuzzer", "session-lifecycle", sep.join([
        submit, req("GET", "/api/v1/sessions/3"), req("POST", "/api/v1/sessions/3/cancel"),
        req("POST", "/api/v1/sessions/3/retry")]))
    write("http_router_fuzzer", "pause-resume-retry", sep.join([
        submit, req("POST", "/api/v1/batches/b1/pause"), req("POST", "/api/v1/batches/b1/resume"),
        req("POST", "/api/v1/batches/b1/retry")]))
    write("http_router_fuzzer", "queue", sep.join([
        req("POST", "/api/v1/queue/pause"), req("POST", "/api/v1/queue/resume"),
        req("GET", "/healthz")]))
    write("http_router_fuzzer", "refusals", sep.join([
        req("PUT", "/api/v1/batches"), req("GET", "/api/v1/batches?limit=0&cursor=x"),
        req("GET", "/api/v1/nothing%2Fhere"),
        req("POST", "/api/v1/batches", '{"template": {"x": 1}, "data": [[{"field": "/y", "items": [1]}]]}')]))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        zarr_v2(tmp)
        zarr_v3(tmp)
    codecs()
    batches()
    requests()


if __name__ == "__main__":
    main()
