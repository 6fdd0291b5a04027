#!/usr/bin/python3
"""HTTP source benchmark: the README's array examples over `python3 -m http.server` vs file://.

The README points a `transcode` and a `stats` session at an array served by
`python3 -m http.server`, a small single-process server with a listen backlog of 5 that answers
HTTP/1.0 (one connection per request). Issue 12 found the transcode took 27.9 s there with the
old default of 64 reads in flight, against a fraction of a second from the file store. This
benchmark measures, in one run with one daemon and one array (written by
../shared/anchors/make_zarr.py, ~2.5 MB):
  * stats and transcode (zstd sink on file://) from file:// (the anchor),
  * the same from http:// with the daemon's default limits (the target: under 10x the file
    store's time),
  * the same from http:// with limits.fetch_concurrency 64 (the old default; --compare-in-flight),
    for comparison (left out by --quick: each of its sessions takes many seconds).
Each row is the median of --repeats sessions; the time runs from the POST to the first poll
that shows the batch completed. Every stats result must equal make_zarr.py's numpy oracle.

Prints a table, then one JSON line. Exit 0 if it ran (a missed target is reported, not failed),
1 if something broke, 2 on bad usage. Stdlib only; run with /usr/bin/python3.
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chunk_bench import last_json_line, stats_mismatch  # noqa: E402
from drain_bench import get_json  # noqa: E402
from submit_bench import BenchError, Daemon, guarded_run, request  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SYSTEM_PYTHON = "/usr/bin/python3"
TARGET_RATIO = 10.0
POLL_S = 0.005


def log(msg):
    print(f"[http_source_bench] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HttpServer:
    """`python3 -m http.server` serving `root` on a loopback port, as the README runs it."""

    def __init__(self, root, log_path):
        self.root = root
        self.log_path = log_path
        self.port = None
        self.proc = None

    def __enter__(self):
        for _ in range(5):
            port = free_port()
            self._log = open(self.log_path, "wb")
            self.proc = subprocess.Popen(
                [SYSTEM_PYTHON, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
                cwd=self.root, stdin=subprocess.DEVNULL, stdout=self._log,
                stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    self.port = port
                    return self
                except OSError:
                    time.sleep(0.05)
            self.proc.kill()
            self.proc.wait()
        raise BenchError("python3 -m http.server did not start")

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def make_array(args, path):
    proc = subprocess.run([SYSTEM_PYTHON, args.make_zarr, path, "--shape", args.shape,
                           "--chunks", args.chunks, "--compressor", "zstd"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"make_zarr.py exited {proc.returncode}: {proc.stderr[-1000:]}")
    return last_json_line(proc.stdout, "make_zarr.py")


def run_session(conn, template, timeout):
    """Submits one session; returns (seconds, batch) once the batch completed."""
    body = json.dumps({"name": "http-source-bench", "template": template}).encode()
    t0 = time.perf_counter()
    status, data = request(conn, "POST", "/api/v1/batches", body)
    if status != 201:
        raise BenchError(f"POST /api/v1/batches -> {status} {data[:500].decode(errors='replace')}")
    batch_path = f"/api/v1/batches/{json.loads(data)['id']}"
    while True:
        batch = get_json(conn, batch_path)
        if batch.get("state") == "completed":
            return time.perf_counter() - t0, batch
        if batch.get("state") in ("failed", "canceled"):
            sessions = get_json(conn, f"{batch_path}/sessions?limit=1")["items"]
            raise BenchError(f"batch ended {batch['state']}: {json.dumps(sessions)[:1000]}")
        if time.perf_counter() - t0 > timeout:
            raise BenchError(f"not completed after {timeout} s: {json.dumps(batch)[:500]}")
        time.sleep(POLL_S)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batchd", default=os.path.join(REPO, "build", "daemon", "batchd"))
    p.add_argument("--make-zarr",
                   default=os.path.join(REPO, "..", "shared", "anchors", "make_zarr.py"))
    p.add_argument("--shape", default="800,800", help="the array (default 800,800 <f4: 2.5 MB)")
    p.add_argument("--chunks", default="100,100")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--compare-in-flight", default="64",
                   help="comma-separated limits.fetch_concurrency values for extra http rows")
    p.add_argument("--quick", action="store_true",
                   help="2 repeats, no --compare-in-flight rows (the CI smoke run)")
    p.add_argument("--timeout", type=float, default=300.0, help="per session, a hang guard")
    p.add_argument("--workdir", help="keep the work here")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(argv)
    try:
        args.compare_in_flight = [int(v) for v in args.compare_in_flight.split(",") if v]
    except ValueError:
        p.error("--compare-in-flight takes integers, e.g. 16,64")
    if args.quick:
        args.repeats = 2
        args.compare_in_flight = []
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    return args


def main(argv):
    args = parse_args(argv)
    for path, what in ((args.batchd, "--batchd"), (args.make_zarr, "--make-zarr")):
        if not os.path.exists(path):
            print(f"{what}: {path} does not exist", file=sys.stderr)
            return 2
    workdir = args.workdir or tempfile.mkdtemp(prefix="http-source-bench-")
    os.makedirs(workdir, exist_ok=True)
    rows = []
    with guarded_run(args, workdir, log) as outcome:
        arrays = os.path.join(workdir, "arrays")
        os.makedirs(arrays, exist_ok=True)
        array = os.path.join(arrays, "a.zarr")
        oracle = make_array(args, array)
        with HttpServer(arrays, os.path.join(workdir, "http-server.log")) as server:
            daemon = Daemon(args.batchd, os.path.join(workdir, "data"), workdir,
                            ["--file-root", arrays, "--http-allow", f"127.0.0.1:{server.port}"])
            daemon.start()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=60)
                http_url = f"http://127.0.0.1:{server.port}/a.zarr"
                sources = [("file", {"url": "file://" + array}, None),
                           ("http default", {"url": http_url}, None)]
                sources += [(f"http {n} in flight", {"url": http_url}, n)
                            for n in args.compare_in_flight]
                for op in ("stats", "transcode"):
                    for label, source, concurrency in sources:
                        seconds = []
                        for r in range(args.repeats):
                            template = {"op": op, "source": source}
                            if concurrency is not None:
                                template["limits"] = {"fetch_concurrency": concurrency}
                            if op == "transcode":
                                template["sink"] = {
                                    "url": "file://" + os.path.join(arrays, f"out-{len(rows)}-{r}.zarr"),
                                    "codec": {"id": "zstd", "level": 3}}
                            s, batch = run_session(conn, template, args.timeout)
                            if op == "stats":
                                wrong = stats_mismatch(batch.get("result") or {}, oracle)
                                if wrong:
                                    raise BenchError(f"{op} from {label}: {wrong}")
                            seconds.append(s)
                        rows.append({"op": op, "source": label,
                                     "median_s": round(statistics.median(seconds), 4),
                                     "min_s": round(min(seconds), 4),
                                     "max_s": round(max(seconds), 4)})
                        log(f"{op} from {label}: median {rows[-1]['median_s']} s")
                conn.close()
            finally:
                daemon.stop()
    if outcome.broke:
        print(f"http_source_bench: broke: {outcome.broke}", file=sys.stderr)
        return 1
    file_s = {r["op"]: r["median_s"] for r in rows if r["source"] == "file"}
    for r in rows:
        r["vs_file"] = round(r["median_s"] / file_s[r["op"]], 2) if file_s[r["op"]] > 0 else None
    print(f"array {args.shape} <f4 in {args.chunks} chunks (zstd), python3 -m http.server, "
          f"median of {args.repeats}")
    print(f"{'op':<10} {'source':<18} {'median s':>9} {'min s':>8} {'max s':>8} {'x file':>7}")
    for r in rows:
        print(f"{r['op']:<10} {r['source']:<18} {r['median_s']:>9.3f} {r['min_s']:>8.3f} "
              f"{r['max_s']:>8.3f} {r['vs_file']:>7}")
    verdicts = {op: next(r["vs_file"] for r in rows
                         if r["op"] == op and r["source"] == "http default") < TARGET_RATIO
                for op in file_s}
    print(f"target: http default under {TARGET_RATIO:g}x file: " +
          ", ".join(f"{op} {'met' if ok else 'MISSED'}" for op, ok in verdicts.items()))
    print(json.dumps({"bench": "http_source", "shape": args.shape, "chunks": args.chunks,
                      "repeats": args.repeats, "rows": rows, "target_ratio": TARGET_RATIO,
                      "target_met": verdicts}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
