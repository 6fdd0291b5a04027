#!/usr/bin/python3
"""Chunk benchmark: batchd `stats` over zarr arrays vs the decode limit vs zarr-python.

One invocation, per array (the same files for every contender, and the same page cache: every
file of the array locked in it while each contender runs):
  * limit:   build/bench/chunk_decode_limit ARRAY: the chunk files read into memory (untimed),
             then decoded on ONE thread with our codec registry; the limit is that rate times
             the cores (os.cpu_count());
  * batchd:  a fresh daemon (--file-root on the arrays, under /usr/bin/time -v for its peak
             RSS), one stats session over the whole array with bytes_in_flight 64 MiB; the time
             runs from sending the POST to the first GET /api/v1/batches/{id} that shows it
             completed, and the result must equal make_zarr.py's numpy oracle;
  * peer:    ../shared/anchors/peer_zarr_stats.py ARRAY (zarr-python + numpy), whose figures
             must equal the oracle too.
Arrays: 16384 x 16384 <f4 (1 GiB decoded) in 256 KiB and 1 MiB chunks, each with zstd, lz4 and
blosc-lz4; and the same shape in 4 KiB chunks (262,144 chunks, one file each) with lz4 and
uncompressed, for chunks/s. They are written by ../shared/anchors/make_zarr.py into the work
directory and reused by later runs that are given the same --workdir.

Prints a table, then one JSON line. Exit 0 if it ran (missed targets are reported, not failed),
1 if something broke (an array could not be made, the daemon did not start or died, a session
failed, any contender's statistics differ from the oracle, an anchor failed), 2 on bad usage.
Stdlib only; run with /usr/bin/python3. See bench/README.md.
"""
import argparse
import contextlib
import ctypes
import http.client
import json
import mmap
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# The daemon wrapper (start under /usr/bin/time -v, port file, SIGTERM, peak RSS) and the HTTP
# helpers are the submit benchmark's; this file sits next to it.
from drain_bench import get_json, parse_time, time_v_cpu_s
from submit_bench import BenchError, Daemon, guarded_run, request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYSTEM_PYTHON = "/usr/bin/python3"
MIB = 1 << 20

TARGETS = {
    "vs_limit_min": 0.8,  # batchd GB/s / (single-thread decode GB/s x cores)
    "vs_peer_min": 3.0,  # batchd GB/s / zarr-python GB/s
    "small_chunks_per_s_min": 500_000.0,  # 4 KiB chunks
    "peak_rss_mib_max": 128.0,  # with bytes_in_flight 64 MiB, on the >= 1 GiB arrays
}
LIMITS = {"fetch_concurrency": 64, "bytes_in_flight": 64 * MIB}
POLL_S = 0.01
SUM_RELATIVE_TOLERANCE = 1e-9

# (label, chunk shape) of the large arrays, and their shape; the 4 KiB array's.
LARGE_SHAPE = {"full": (16384, 16384), "quick": (2048, 2048)}
LARGE_CHUNKS = [("256k", (256, 256)), ("1m", (512, 512))]
LARGE_COMPRESSORS = ["zstd", "lz4", "blosc-lz4"]
SMALL_SHAPE = {"full": (16384, 16384), "quick": (1024, 1024)}
SMALL_CHUNKS = ("4k", (32, 32))
DTYPE = "<f4"


def log(msg):
    print(f"[chunk_bench] {msg}", file=sys.stderr, flush=True)


class ArraySpec:
    def __init__(self, label, shape, chunks, compressor, small, quick):
        self.label = label
        self.shape = shape
        self.chunks = chunks
        self.compressor = compressor
        self.small = small  # a chunks/s row
        self.short_name = f"{label}-{compressor}"  # what --only takes
        self.name = self.short_name + ("-quick" if quick else "")

    @property
    def chunk_bytes(self):
        return self.chunks[0] * self.chunks[1] * 4

    @property
    def nbytes(self):
        return self.shape[0] * self.shape[1] * 4

    @property
    def chunk_count(self):
        return (-(-self.shape[0] // self.chunks[0])) * (-(-self.shape[1] // self.chunks[1]))

    def make_args(self):
        return ["--shape", ",".join(map(str, self.shape)), "--chunks",
                ",".join(map(str, self.chunks)), "--dtype", DTYPE, "--compressor",
                self.compressor]


def array_specs(args):
    size = "quick" if args.quick else "full"
    specs = []
    for label, chunks in LARGE_CHUNKS:
        for compressor in LARGE_COMPRESSORS:
            specs.append(ArraySpec(label, LARGE_SHAPE[size], chunks, compressor, False,
                                   args.quick))
    for compressor in args.small_compressors:
        specs.append(ArraySpec(SMALL_CHUNKS[0], SMALL_SHAPE[size], SMALL_CHUNKS[1], compressor,
                               True, args.quick))
    if args.only:
        known = {s.short_name for s in specs}
        unknown = set(args.only) - known
        if unknown:
            raise BenchError(f"--only: unknown arrays {sorted(unknown)}; known: {sorted(known)}")
        specs = [s for s in specs if s.short_name in args.only]
    return specs


# --------------------------------------------------------------------------------------------
# Arrays: written once by make_zarr.py, reused while their parameters match


def ensure_array(args, spec, arrays_dir):
    """Returns (path, oracle): the array, written by make_zarr.py unless a previous run left the
    same one (same make_zarr arguments) in the work directory."""
    path = os.path.join(arrays_dir, spec.name + ".zarr")
    sidecar = path + ".bench.json"
    want = spec.make_args()
    try:
        with open(sidecar) as f:
            saved = json.load(f)
        if saved.get("make_args") == want and os.path.exists(os.path.join(path, ".zarray")):
            log(f"{spec.name}: reusing {path}")
            return path, saved["oracle"]
    except (OSError, ValueError):
        pass
    log(f"{spec.name}: writing {path} with make_zarr.py {' '.join(want)} (slow: minutes at "
        f"full size)")
    if os.path.exists(sidecar):
        os.remove(sidecar)
    t0 = time.perf_counter()
    proc = subprocess.run([SYSTEM_PYTHON, args.make_zarr, path] + want, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise BenchError(f"make_zarr.py {spec.name} exited {proc.returncode}: "
                         f"{proc.stderr.strip()[-1000:]}")
    oracle = last_json_line(proc.stdout, "make_zarr.py")
    with open(sidecar, "w") as f:
        json.dump({"make_args": want, "oracle": oracle}, f)
    log(f"{spec.name}: written in {time.perf_counter() - t0:.0f} s")
    return path, oracle


def array_file_stats(path):
    files = 0
    size = 0
    for root, _, names in os.walk(path):
        for n in names:
            if n.startswith("."):
                continue
            files += 1
            size += os.path.getsize(os.path.join(root, n))
    return files, size


def warm_page_cache(path):
    """Reads every file of the array once (untimed), so each contender starts with it cached."""
    buf = bytearray(1 << 20)
    for root, _, names in os.walk(path):
        for n in names:
            fd = os.open(os.path.join(root, n), os.O_RDONLY)
            try:
                while os.readv(fd, [buf]) == len(buf):
                    pass
            finally:
                os.close(fd)


MAP_LOCKED = 0x2000  # <linux/mman.h>: populate the mapping and lock it, as mlock(2) does
PINS_PER_PROCESS = 50_000  # mappings per helper, below vm.max_map_count (65 530 by default)


def _pin_files(paths, conn):
    """A helper process: maps and locks every file, reports the bytes locked, waits to exit
    (which unmaps them). libc's mmap rather than Python's, which keeps a descriptor per map."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    failed = ctypes.c_void_p(-1).value
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            if size and libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED | MAP_LOCKED, fd,
                                  0) == failed:
                raise OSError(ctypes.get_errno(), f"mmap {p}")
        finally:
            os.close(fd)
    locked_kib = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmLck:"):
                locked_kib = int(line.split()[1])
    conn.send(locked_kib)
    conn.recv()  # released


class PinnedInPageCache:
    """Holds every file of an array in the page cache while one contender runs: helper
    processes map and lock the files (which reads them in), and let go afterwards. This VM
    reclaims page cache within seconds of its last read (DAMON pageout), so a file read once
    beforehand is not enough: a part of the array would come from disk during the run, more of
    it the longer a contender takes."""

    def __init__(self, path):
        self.paths = [os.path.join(root, n) for root, _, names in os.walk(path) for n in names]
        self.workers = []
        self.locked_bytes = 0

    def __enter__(self):
        ctx = multiprocessing.get_context("fork")
        for i in range(0, len(self.paths), PINS_PER_PROCESS):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=_pin_files, args=(self.paths[i:i + PINS_PER_PROCESS], theirs),
                               daemon=True)
            proc.start()
            self.workers.append((proc, ours))
        for proc, conn in self.workers:
            if not conn.poll(600):
                raise BenchError("pinning the array in the page cache took over 600 s")
            self.locked_bytes += conn.recv() * 1024
        return self

    def __exit__(self, *exc):
        for proc, conn in self.workers:
            try:
                conn.send(None)
            except OSError:
                pass
        for proc, _ in self.workers:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
        self.workers = []
        return False


# --------------------------------------------------------------------------------------------
# Checking statistics against the oracle


def stats_mismatch(got, oracle):
    """'' when count, nan_count, min and max are exactly numpy's and sum is within 1e-9."""
    problems = []
    for key in ("count", "nan_count", "min", "max"):
        if got.get(key) != oracle[key]:
            problems.append(f"{key}: got {got.get(key)!r}, numpy says {oracle[key]!r}")
    s = got.get("sum")
    want = oracle["sum"]
    if not isinstance(s, (int, float)) or abs(s - want) > SUM_RELATIVE_TOLERANCE * max(1.0,
                                                                                        abs(want)):
        problems.append(f"sum: got {s!r}, numpy says {want!r}")
    return "; ".join(problems)


def last_json_line(text, what):
    for line in reversed(text.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    raise BenchError(f"{what}: no JSON line in its output {text[-500:]!r}")


# --------------------------------------------------------------------------------------------
# The contenders


@contextlib.contextmanager
def cached(args, path, res):
    """The array in the page cache for one contender, the same way for every contender: pinned
    (the default), or with --no-pin read once beforehand."""
    if args.no_pin:
        warm_page_cache(path)
        res["page_cache"] = "warmed"
        yield
        return
    with PinnedInPageCache(path) as pin:
        res["page_cache"] = "pinned"
        res["pinned_bytes"] = pin.locked_bytes
        yield


def run_limit(args, path):
    proc = subprocess.run([args.limit, path], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"chunk_decode_limit {path} exited {proc.returncode}: "
                         f"{proc.stderr.strip()[-1000:]}")
    return last_json_line(proc.stdout, "chunk_decode_limit")


def run_peer(args, path, oracle):
    proc = subprocess.run([SYSTEM_PYTHON, args.peer, path], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"peer_zarr_stats.py {path} exited {proc.returncode}: "
                         f"{proc.stderr.strip()[-1000:]}")
    doc = last_json_line(proc.stdout, "peer_zarr_stats.py")
    wrong = stats_mismatch(doc, oracle)
    if wrong:
        raise BenchError(f"peer_zarr_stats.py {path}: wrong statistics: {wrong}")
    return doc


def process_cpu_seconds(pid):
    """User + system CPU seconds of a live process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_batchd(args, spec, path, oracle, arrays_dir, run_dir):
    """One fresh daemon, one stats session over the whole array. Returns timings and checks."""
    data_dir = os.path.join(run_dir, "data")
    daemon = Daemon(args.batchd, data_dir, run_dir,
                    ["--file-root", arrays_dir] + args.daemon_arg)
    run = {}
    try:
        daemon.start()
        run["idle_rss_mib"] = round((daemon.vm_hwm_kib() or 0) / 1024.0, 1)
        body = json.dumps({
            "name": f"chunk-bench {spec.name}",
            "template": {"op": "stats", "source": {"url": "file://" + path}, "limits": LIMITS},
        }).encode()
        conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=300)
        conn.connect()
        try:
            cpu0 = process_cpu_seconds(daemon.pid)
            t0 = time.perf_counter()
            wall0 = time.time()
            status, data = request(conn, "POST", "/api/v1/batches", body)
            if status != 201:
                raise BenchError(f"POST /api/v1/batches ({spec.name}) -> {status} "
                                 f"{data[:500].decode(errors='replace')}")
            batch_id = json.loads(data)["id"]
            batch_path = f"/api/v1/batches/{batch_id}"
            polls = 0
            while True:
                now = time.perf_counter() - t0
                if now > args.timeout:
                    raise BenchError(f"{spec.name}: not completed after {args.timeout} s")
                if not daemon.alive():
                    raise BenchError(f"daemon died; stderr: {daemon.stderr_tail()}")
                batch = get_json(conn, batch_path)
                polls += 1
                state = batch.get("state")
                if state == "completed":
                    seconds = time.perf_counter() - t0
                    session_cpu = process_cpu_seconds(daemon.pid) - cpu0
                    break
                if state in ("failed", "canceled"):
                    break
                time.sleep(max(0.0, POLL_S - (time.perf_counter() - t0 - now)))
            sessions = get_json(conn, f"{batch_path}/sessions?limit=2")["items"]
            if len(sessions) != 1:
                raise BenchError(f"{spec.name}: expected one session, got {sessions}")
            session = get_json(conn, f"/api/v1/sessions/{sessions[0]['id']}")
        finally:
            conn.close()
        if state != "completed":
            raise BenchError(f"{spec.name}: batch ended {state}; session: "
                             f"{json.dumps(session)[:1500]}")
        for what, result in (("session", session.get("result")),
                             ("batch", batch.get("result"))):
            wrong = stats_mismatch(result or {}, oracle)
            if wrong:
                raise BenchError(f"{spec.name}: batchd's {what} result is wrong: {wrong}")
        progress = session.get("progress") or {}
        if progress.get("chunks_done") != spec.chunk_count:
            raise BenchError(f"{spec.name}: {progress} but the array has {spec.chunk_count} "
                             f"chunks")
        created, finished = parse_time(batch.get("created_at")), parse_time(batch.get("finished_at"))
        run.update({
            "seconds": seconds,
            # The daemon's CPU time from the POST to the completed poll (all threads; the
            # polls' own cost included), at the kernel's tick resolution (10 ms).
            "session_cpu_s": round(session_cpu, 3),
            "polls": polls,
            "daemon_span_s": None if created is None or finished is None
            else round(finished - created, 3),
            "post_to_finished_at_s": None if finished is None else round(finished - wall0, 3),
        })
        if not daemon.alive():
            raise BenchError(f"daemon died after the session; stderr: {daemon.stderr_tail()}")
    finally:
        clean = daemon.stop()
        run["clean_stop"] = clean
        run["peak_rss_mib"] = (None if daemon.peak_rss_kib is None
                               else round(daemon.peak_rss_kib / 1024.0, 1))
        run["daemon_cpu_s"] = time_v_cpu_s(daemon.time_file)
        shutil.rmtree(data_dir, ignore_errors=True)
        if not clean:
            log(f"daemon did not stop cleanly (time -v exit status {daemon.exit_status}); "
                f"stderr: {daemon.stderr_tail()}")
    return run


# --------------------------------------------------------------------------------------------


def summarize(values):
    values = [round(v, 4) for v in values]
    return {"best": min(values), "median": round(statistics.median(values), 4), "all": values}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batchd", default=os.path.join(REPO, "build/daemon/batchd"))
    p.add_argument("--limit", default=os.path.join(REPO, "build/bench/chunk_decode_limit"))
    p.add_argument("--shared", default=os.path.join(os.path.dirname(REPO), "shared"),
                   help="holds anchors/make_zarr.py and anchors/peer_zarr_stats.py")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs per array and contender (a fresh daemon each); the table shows the "
                        "best, the JSON line best, median and all (default 3)")
    p.add_argument("--small-compressors", default="lz4,none",
                   help="compressors of the 4 KiB-chunk arrays, comma-separated (default "
                        "lz4,none)")
    p.add_argument("--only", default=None,
                   help="run only these arrays, comma-separated (e.g. 256k-zstd,4k-lz4)")
    p.add_argument("--no-peer", action="store_true", help="skip zarr-python")
    p.add_argument("--no-pin", action="store_true",
                   help="do not lock the array in the page cache during each contender; only "
                        "read it once beforehand")
    p.add_argument("--prepare-only", action="store_true",
                   help="write the arrays into --workdir (reusing what is there) and exit")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds one batchd session may take (default 600)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 2048 x 2048 and 1024 x 1024 arrays, repeat 1")
    p.add_argument("--workdir", default=None,
                   help="where the arrays and the daemons' data dirs go; arrays a previous run "
                        "left there are reused (default: a temporary directory, removed)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--daemon-arg", action="append", default=[],
                   help="extra argument for batchd serve (repeatable; write it with '=')")
    args = p.parse_args(argv)
    if args.quick:
        args.repeat = 1
    args.small_compressors = [c for c in args.small_compressors.split(",") if c]
    args.only = [x.strip() for x in args.only.split(",")] if args.only else None
    args.make_zarr = os.path.join(args.shared, "anchors", "make_zarr.py")
    args.peer = os.path.join(args.shared, "anchors", "peer_zarr_stats.py")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def main(argv):
    args = parse_args(argv)
    programs = () if args.prepare_only else ((args.batchd, "--batchd"), (args.limit, "--limit"))
    for path, what in programs:
        if not os.access(path, os.X_OK):
            log(f"{what} {path} is not an executable (build it first: see bench/README.md)")
            return 1
    for path in (args.make_zarr,) + (() if args.no_peer else (args.peer,)):
        if not os.path.exists(path):
            log(f"{path} not found (see --shared)")
            return 1
    if not os.access("/usr/bin/time", os.X_OK):
        log("/usr/bin/time not found (Debian package 'time')")
        return 1

    workdir = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="batchd-chunk-bench-"))
    arrays_dir = os.path.join(workdir, "arrays")
    os.makedirs(arrays_dir, exist_ok=True)
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()
    results = []
    with guarded_run(args, workdir, log) as guard:
        specs = array_specs(args)
        arrays = {}
        for spec in specs:
            arrays[spec.name] = ensure_array(args, spec, arrays_dir)
        if args.prepare_only:
            specs = []
        for spec in specs:
            path, oracle = arrays[spec.name]
            files, stored = array_file_stats(path)
            res = {"spec": spec, "files": files, "stored_bytes": stored, "limit": [],
                   "batchd": [], "peer": []}
            for r in range(args.repeat):
                tag = f"{spec.name} {r + 1}/{args.repeat}"
                with cached(args, path, res):
                    res["limit"].append(run_limit(args, path))
                lim = res["limit"][-1]
                log(f"{tag}: limit {lim['decode_bytes_per_s'] / 1e9:.2f} GB/s on one thread")
                run_dir = os.path.join(workdir, f"run-{spec.name}-{r}")
                os.makedirs(run_dir, exist_ok=True)
                with cached(args, path, res):
                    b = run_batchd(args, spec, path, oracle, arrays_dir, run_dir)
                res["batchd"].append(b)
                log(f"{tag}: batchd {b['seconds']:.3f} s, {spec.nbytes / b['seconds'] / 1e9:.2f}"
                    f" GB/s, {spec.chunk_count / b['seconds']:,.0f} chunks/s, peak RSS "
                    f"{b['peak_rss_mib']} MiB")
                if not args.no_peer:
                    with cached(args, path, res):
                        peer = run_peer(args, path, oracle)
                    res["peer"].append(peer)
                    log(f"{tag}: peer {peer['seconds']:.3f} s, {peer['gb_per_s']:.2f} GB/s")
            results.append(res)
    if guard.broke:
        log("FAILED: " + guard.broke)
        return 1
    if args.prepare_only:
        return 0
    report(args, results, cores, load_before, os.getloadavg())
    return 0


def fmt(x, spec, none="-"):
    return none if x is None else format(x, spec)


def report(args, results, cores, load_before, load_after):
    rows = []
    for res in results:
        spec = res["spec"]
        secs = summarize([b["seconds"] for b in res["batchd"]])
        gbps = spec.nbytes / secs["best"] / 1e9
        lim_rates = [x["decode_bytes_per_s"] for x in res["limit"]]
        lim_one = max(lim_rates) / 1e9
        limit = lim_one * cores
        peer_gbps = max((p["gb_per_s"] for p in res["peer"]), default=None)
        peer_secs = summarize([p["seconds"] for p in res["peer"]]) if res["peer"] else None
        lim_cpu_rate = max(x["decode_bytes_per_cpu_s"] for x in res["limit"])
        batchd_cpu = min(b["session_cpu_s"] for b in res["batchd"])
        cpu_vs_limit = None if batchd_cpu <= 0 else (spec.nbytes / batchd_cpu) / lim_cpu_rate
        rss = max((b["peak_rss_mib"] for b in res["batchd"] if b["peak_rss_mib"] is not None),
                  default=None)
        row = {
            "array": spec.name,
            "shape": list(spec.shape),
            "chunks": list(spec.chunks),
            "chunk_bytes": spec.chunk_bytes,
            "chunk_count": spec.chunk_count,
            "compressor": spec.compressor,
            "decoded_bytes": spec.nbytes,
            "stored_bytes": res["stored_bytes"],
            "files": res["files"],
            "page_cache": res.get("page_cache"),
            "pinned_bytes": res.get("pinned_bytes"),
            "batchd_seconds": secs,
            "batchd_gb_per_s": round(gbps, 3),
            "batchd_gb_per_s_median": round(spec.nbytes / secs["median"] / 1e9, 3),
            "batchd_chunks_per_s": round(spec.chunk_count / secs["best"]),
            "batchd_daemon_span_s": [b["daemon_span_s"] for b in res["batchd"]],
            "batchd_cpu_s": [b["daemon_cpu_s"] for b in res["batchd"]],
            "batchd_idle_rss_mib": max(b["idle_rss_mib"] for b in res["batchd"]),
            "batchd_peak_rss_mib": rss,
            "batchd_clean_stop": all(b["clean_stop"] for b in res["batchd"]),
            "limit_gb_per_s_one_thread": round(lim_one, 3),
            "limit_gb_per_s_one_thread_all": [round(x / 1e9, 3) for x in lim_rates],
            "limit_gb_per_s": round(limit, 3),
            "limit_chunks_per_s": round(max(x["decode_chunks_per_s"] for x in res["limit"])
                                        * cores),
            "stats_kernel_gb_per_s_one_thread": round(
                max(x["stats_bytes_per_s"] for x in res["limit"]) / 1e9, 2),
            "vs_limit": round(gbps / limit, 3),
            # Work rather than time: the limit's decode CPU seconds for these bytes over
            # batchd's session CPU seconds (all threads). 1.0 would mean batchd spends nothing
            # besides the decode; it does not depend on how busy the machine is.
            "limit_gb_per_cpu_s": round(lim_cpu_rate / 1e9, 3),
            "batchd_session_cpu_s": [b["session_cpu_s"] for b in res["batchd"]],
            "batchd_gb_per_cpu_s": None if batchd_cpu <= 0
            else round(spec.nbytes / batchd_cpu / 1e9, 3),
            "cpu_vs_limit": None if cpu_vs_limit is None else round(cpu_vs_limit, 3),
            "peer_seconds": peer_secs,
            "peer_gb_per_s": peer_gbps,
            "peer_chunks_per_s": None if not peer_secs
            else round(spec.chunk_count / peer_secs["best"]),
            "vs_peer": None if not peer_gbps else round(gbps / peer_gbps, 2),
        }
        if spec.small:
            row["targets_met"] = {
                "chunks_per_s": row["batchd_chunks_per_s"] >= TARGETS["small_chunks_per_s_min"]}
        else:
            row["targets_met"] = {
                "vs_limit": row["vs_limit"] >= TARGETS["vs_limit_min"],
                "vs_peer": None if row["vs_peer"] is None
                else row["vs_peer"] >= TARGETS["vs_peer_min"],
                "peak_rss": None if rss is None
                else (spec.nbytes < (1 << 30) or rss <= TARGETS["peak_rss_mib_max"]),
            }
        rows.append(row)

    print(f"chunk benchmark: stats over {DTYPE} zarr v2 arrays; best of {args.repeat} "
          f"(median in the JSON line); {cores} cores; load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after; {page_cache_note(args)}")
    cols = ["array", "chunk", "compressor", "batchd s", "batchd GB/s",
            f"limit GB/s (1 thread x {cores})", "vs limit", "CPU vs limit", "peer GB/s",
            "vs peer", "peak RSS MiB"]
    table = [cols]
    for row in rows:
        table.append([
            row["array"],
            f"{row['chunk_bytes'] // 1024} KiB",
            row["compressor"],
            f"{row['batchd_seconds']['best']:.3f}",
            f"{row['batchd_gb_per_s']:.2f}",
            f"{row['limit_gb_per_s']:.2f} ({row['limit_gb_per_s_one_thread']:.2f})",
            f"{row['vs_limit']:.2f}x",
            fmt(row["cpu_vs_limit"], ".2f"),
            fmt(row["peer_gb_per_s"], ".2f"),
            fmt(row["vs_peer"], ".1f", "-") + ("x" if row["vs_peer"] is not None else ""),
            fmt(row["batchd_peak_rss_mib"], ".1f"),
        ])
    print_table(table)
    small = [r for r in rows if r["chunk_bytes"] <= 4096]
    if small:
        print()
        cols = ["array", "chunks", "batchd s", "batchd chunks/s",
                f"limit chunks/s (1 thread x {cores})", "peer chunks/s", "vs peer"]
        table = [cols]
        for row in small:
            table.append([
                row["array"], f"{row['chunk_count']:,}", f"{row['batchd_seconds']['best']:.3f}",
                f"{row['batchd_chunks_per_s']:,}", f"{row['limit_chunks_per_s']:,}",
                fmt(row["peer_chunks_per_s"], ","), fmt(row["vs_peer"], ".1f")])
        print_table(table)
    print()
    print("stats kernel, one thread, GB/s: " + ", ".join(
        f"{r['array']} {r['stats_kernel_gb_per_s_one_thread']}" for r in rows))
    print("batchd session CPU s per run (POST to completed, all threads): " + ", ".join(
        f"{r['array']} {r['batchd_session_cpu_s']}" for r in rows))

    large = [r for r in rows if r["chunk_bytes"] > 4096]
    full = not args.quick
    t = {
        "vs_limit": {"target_min": TARGETS["vs_limit_min"],
                     "values": {r["array"]: r["vs_limit"] for r in large},
                     "met": all(r["targets_met"]["vs_limit"] for r in large)},
        "vs_peer": {"target_min": TARGETS["vs_peer_min"],
                    "values": {r["array"]: r["vs_peer"] for r in large},
                    "met": None if args.no_peer
                    else all(r["targets_met"]["vs_peer"] for r in large)},
        "small_chunks_per_s": {"target_min": TARGETS["small_chunks_per_s_min"],
                               "values": {r["array"]: r["batchd_chunks_per_s"] for r in small},
                               "met": all(r["targets_met"]["chunks_per_s"] for r in small)
                               if small else None},
        "peak_rss_mib": {"target_max": TARGETS["peak_rss_mib_max"],
                         "values": {r["array"]: r["batchd_peak_rss_mib"] for r in large},
                         "met": all(r["targets_met"]["peak_rss"] for r in large)},
    }
    t["all_evaluated"] = (full and len(large) == 6 and bool(small) and not args.no_peer)
    t["met"] = all(v["met"] for v in t.values() if isinstance(v, dict) and "met" in v)
    names = {"vs_limit": "vs limit >= 0.8", "vs_peer": "vs peer >= 3",
             "small_chunks_per_s": "4 KiB chunks/s >= 500k", "peak_rss_mib": "peak RSS <= 128 MiB"}
    print("targets: " + ", ".join(
        f"{names[k]}: {'-' if t[k]['met'] is None else 'met' if t[k]['met'] else 'MISSED'}"
        for k in names) + (" (not all evaluated: quick, --only or --no-peer)"
                           if not t["all_evaluated"] else ""))
    out = {
        "bench": "chunk",
        "stat": f"best of {args.repeat}",
        "cores": cores,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "page_cache": page_cache_note(args),
        "limits": LIMITS,
        "rows": rows,
        "targets": t,
    }
    print(json.dumps(out, separators=(",", ":")))
    sys.stdout.flush()


def page_cache_note(args):
    if args.no_pin:
        return "page cache warmed before every contender (each file read once, untimed)"
    return ("every array file locked in the page cache (mmap MAP_LOCKED, untimed) while each "
            "contender runs")


def print_table(table):
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for i, r in enumerate(table):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
