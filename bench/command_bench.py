#!/usr/bin/python3
"""Command benchmark: the `command` op's chunk stream vs the in-process `stats` op vs a pipe.

One invocation, per chunk size (1 MiB and 64 KiB chunks of one uncompressed <f4 zarr array of
the same bytes, written by zarr-python into the work directory and kept in the page cache):
  * stream: a `command` session with that array as its source whose program only reads its
            stdin (bench/stream_drain.py: it answers each chunk with its key and nothing else);
            the time runs from the POST to the first GET that shows the batch completed;
  * stats:  a `stats` session over the same array on the same daemon, timed the same way;
  * pipe:   `cat` of the array's chunk files into a pipe read by `cat > /dev/null`: the bytes a
            pipe carries per second on this machine, the ceiling of any stdin stream.
Then the per-session overhead of `command`: a batch of N sessions running /bin/true at the
daemon's default slots, sessions/s from the POST to the batch completing.

Prints a table, then one JSON line. Exit 0 if it ran (a missed target is reported, not
failed), 1 if something broke (the daemon did not start, a session failed, a stream did not
see every chunk), 2 on bad usage. Run with /usr/bin/python3 (zarr, numpy). bench/README.md.
"""
import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

from drain_bench import get_json
from submit_bench import BenchError, Daemon, guarded_run, request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1 << 20
TARGETS = {"stream_vs_pipe_1m_min": 0.7}
POLL_S = 0.005
# (label, chunk shape) over an array of SHAPE[mode] float32 elements.
CHUNKS = [("1m", (512, 512)), ("64k", (128, 128))]
SHAPE = {"full": (8192, 8192), "quick": (1024, 1024)}  # 256 MiB, 4 MiB
SESSIONS = {"full": 500, "quick": 20}


def log(msg):
    print(f"[command_bench] {msg}", file=sys.stderr, flush=True)


def make_array(path, shape, chunks):
    if os.path.exists(os.path.join(path, ".zarray")):
        return
    code = ("import sys, numpy as np, zarr\n"
            "shape, chunks = eval(sys.argv[2]), eval(sys.argv[3])\n"
            "z = zarr.open(sys.argv[1], mode='w', shape=shape, chunks=chunks, dtype='<f4', "
            "compressor=None)\n"
            "rows = max(1, chunks[0])\n"
            "for r in range(0, shape[0], rows):\n"
            "    z[r:r + rows] = np.arange(r * shape[1], min(r + rows, shape[0]) * shape[1], "
            "dtype='<f4').reshape(-1, shape[1])\n")
    subprocess.run(["/usr/bin/python3", "-c", code, path, repr(shape), repr(chunks)], check=True)


def chunk_files(path):
    return sorted(os.path.join(path, f) for f in os.listdir(path) if not f.startswith("."))


def warm(files):
    for f in files:
        with open(f, "rb") as fh:
            while fh.read(8 * MIB):
                pass


def run_batch(conn, template, data=None, timeout=3600.0):
    body = {"template": template, "max_attempts": 1}
    if data is not None:
        body["data"] = data
    start = time.perf_counter()
    status, answer = request(conn, "POST", "/api/v1/batches", json.dumps(body))
    if status != 201:
        raise BenchError(f"POST /api/v1/batches -> {status} {answer[:300]!r}")
    batch_id = json.loads(answer)["id"]
    deadline = time.monotonic() + timeout
    while True:
        b = get_json(conn, f"/api/v1/batches/{batch_id}")
        if b["state"] in ("completed", "failed", "canceled"):
            break
        if time.monotonic() > deadline:
            raise BenchError(f"batch {batch_id} did not finish within {timeout} s")
        time.sleep(POLL_S)
    seconds = time.perf_counter() - start
    if b["state"] != "completed":
        sessions = get_json(conn, f"/api/v1/batches/{batch_id}/sessions?limit=3")
        raise BenchError(f"batch {batch_id} ended {b['state']}: {json.dumps(sessions)[:800]}")
    return seconds, b


def pipe_seconds(files):
    start = time.perf_counter()
    writer = subprocess.Popen(["cat"] + files, stdout=subprocess.PIPE)
    reader = subprocess.Popen(["cat"], stdin=writer.stdout, stdout=subprocess.DEVNULL)
    writer.stdout.close()
    if reader.wait() != 0 or writer.wait() != 0:
        raise BenchError("cat | cat failed")
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batchd", default=os.path.join(REPO, "build", "daemon", "batchd"))
    p.add_argument("--quick", action="store_true", help="4 MiB arrays, 20 sessions: a smoke run")
    p.add_argument("--workdir")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    mode = "quick" if args.quick else "full"
    workdir = args.workdir or tempfile.mkdtemp(prefix="command_bench.")
    args.keep = args.keep or bool(args.workdir)
    rows, report = [], {"mode": mode, "targets": TARGETS}
    with guarded_run(args, workdir, log) as outcome:
        arrays = {}
        for label, chunks in CHUNKS:
            path = os.path.join(workdir, "arrays", f"{label}-{mode}.zarr")
            log(f"array {path}")
            make_array(path, SHAPE[mode], chunks)
            arrays[label] = path
        data_dir = os.path.join(workdir, "data")
        os.makedirs(data_dir, exist_ok=True)
        daemon = Daemon(args.batchd, data_dir, workdir,
                        ["--allow-command", "/usr/bin/python3", "--allow-command", "/bin/true",
                         "--file-root", os.path.join(workdir, "arrays")])
        daemon.start()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=600)
            drain = os.path.join(REPO, "bench", "stream_drain.py")
            for label, path in arrays.items():
                files = chunk_files(path)
                total = sum(os.path.getsize(f) for f in files)
                warm(files)
                url = "file://" + os.path.abspath(path)
                stream_s, b = run_batch(conn, {"op": "command",
                                               "argv": ["/usr/bin/python3", drain],
                                               "source": {"url": url}})
                if b["result"]["chunks"] != len(files):
                    raise BenchError(f"the stream answered {b['result']['chunks']} of "
                                     f"{len(files)} chunks")
                stats_s, _ = run_batch(conn, {"op": "stats", "source": {"url": url}})
                pipe_s = pipe_seconds(files)
                row = {"chunks": label, "bytes": total, "count": len(files),
                       "stream_gbs": total / stream_s / 1e9, "stats_gbs": total / stats_s / 1e9,
                       "pipe_gbs": total / pipe_s / 1e9,
                       "stream_chunks_s": len(files) / stream_s,
                       "stats_chunks_s": len(files) / stats_s,
                       "pipe_chunks_s": len(files) / pipe_s}
                row["stream_vs_pipe"] = row["stream_gbs"] / row["pipe_gbs"]
                rows.append(row)
            n = SESSIONS[mode]
            true_s, _ = run_batch(conn, {"op": "command", "argv": ["/bin/true"], "i": 0},
                                  [[{"field": "/i", "items": list(range(n))}]])
            report["true_sessions"] = n
            report["true_sessions_per_s"] = n / true_s
        finally:
            daemon.stop()
    if outcome.broke:
        log("broke: " + outcome.broke)
        return 1
    print(f"{'chunks':>6} {'MiB':>6} {'count':>6} | {'stream GB/s':>11} {'stats GB/s':>10} "
          f"{'pipe GB/s':>9} | {'stream ch/s':>11} {'stats ch/s':>10} {'pipe ch/s':>9} | "
          f"{'stream/pipe':>11}")
    for r in rows:
        print(f"{r['chunks']:>6} {r['bytes'] / MIB:>6.0f} {r['count']:>6} | "
              f"{r['stream_gbs']:>11.2f} {r['stats_gbs']:>10.2f} {r['pipe_gbs']:>9.2f} | "
              f"{r['stream_chunks_s']:>11.0f} {r['stats_chunks_s']:>10.0f} "
              f"{r['pipe_chunks_s']:>9.0f} | {r['stream_vs_pipe']:>11.2f}")
    print(f"command /bin/true: {report['true_sessions']} sessions, "
          f"{report['true_sessions_per_s']:.1f} sessions/s at default slots")
    one_mib = next(r for r in rows if r["chunks"] == "1m")
    report["met"] = {"stream_vs_pipe_1m": one_mib["stream_vs_pipe"] >= TARGETS["stream_vs_pipe_1m_min"]}
    report["rows"] = rows
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
