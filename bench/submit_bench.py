#!/usr/bin/python3
"""Submit benchmark: batchd POST /api/v1/batches vs the seed's executemany vs the raw SQLite limit.

One invocation, for each size (default 5k, 100k, 1M sessions):
  * batchd:  POST a batch whose two groups multiply to the size to a running daemon; client wall
             time from sending the request to reading the 201 (plus the daemon's enqueue_ms);
  * seed:    ../shared/anchors/seed_executemany.py N (InvokeAI's approach, sqlite3 executemany);
  * raw:     build/bench/raw_insert_limit N (the same compact rows into the same table, one
             transaction, prepared multi-row INSERTs: "the limit").
While the largest batch is inserted, a prober GETs /healthz and /api/v1/batches as fast as it
can and reports their latency. The daemon runs under /usr/bin/time -v for its peak RSS.

Prints a table, then one JSON line. Exit 0 if it ran (missed targets are reported, not failed),
1 if something broke (daemon not starting, a non-201, a wrong session count), 2 on bad usage.
Stdlib only; run with /usr/bin/python3. See bench/README.md.
"""
import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TARGETS = {
    "seconds_1m_max": 1.0,  # 1M sessions accepted (time to 201) in <= 1.0 s
    "vs_seed_min": 20.0,  # seed seconds / batchd seconds
    "vs_raw_min": 0.7,  # raw seconds / batchd seconds (fraction of the limit reached)
    "probe_p99_ms_max": 20.0,  # /healthz and /api/v1/batches during the largest insert
    "daemon_peak_rss_mib_max": 200.0,
}
ONE_MILLION = 1_000_000

# Group lengths per size (a * b = size); other sizes are factored by factor_size().
SHAPES = {5_000: (50, 100), 100_000: (100, 1_000), 1_000_000: (1_000, 1_000)}


class BenchError(Exception):
    """Something broke: the benchmark cannot produce a valid result."""


class RunOutcome:
    """What guarded_run saw: `broke` says why the run broke, or is None."""
    broke = None


@contextlib.contextmanager
def guarded_run(args, workdir, log_fn):
    """Runs a benchmark's body: a BenchError, an I/O, HTTP or parsing error, or ^C ends it with
    outcome.broke set instead of a traceback. Afterwards the work directory is removed, unless
    --keep or --workdir asked to keep it."""
    outcome = RunOutcome()
    try:
        yield outcome
    except BenchError as e:
        outcome.broke = str(e)
    except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
        outcome.broke = f"{type(e).__name__}: {e}"
    except KeyboardInterrupt:
        outcome.broke = "interrupted"
    finally:
        if args.keep or args.workdir:
            log_fn(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def log(msg):
    print(f"[submit_bench] {msg}", file=sys.stderr, flush=True)


def factor_size(n, shapes=SHAPES):
    """The two group lengths of an n-session batch: from `shapes`, else the squarest pair."""
    if n in shapes:
        return shapes[n]
    a = int(n**0.5)
    while a > 1 and n % a:
        a -= 1
    return a, n // a


def batch_body(size, name, shapes=SHAPES):
    """A noop batch of `size` sessions over two groups /x and /y, as compact JSON bytes."""
    a, b = factor_size(size, shapes)
    doc = {
        "name": name,
        "template": {"op": "noop", "x": 0, "y": 0},
        "data": [
            [{"field": "/x", "items": list(range(a))}],
            [{"field": "/y", "items": list(range(b))}],
        ],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, -(-len(s) * p // 100) - 1))
    return s[int(k)]


def latency_summary(samples_ms):
    if not samples_ms:
        return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "count": len(samples_ms),
        "p50_ms": round(percentile(samples_ms, 50), 3),
        "p99_ms": round(percentile(samples_ms, 99), 3),
        "max_ms": round(max(samples_ms), 3),
    }


# --------------------------------------------------------------------------------------------
# The daemon under /usr/bin/time -v


class Daemon:
    def __init__(self, batchd, data_dir, workdir, extra_args):
        self.batchd = batchd
        self.data_dir = data_dir
        self.time_file = os.path.join(workdir, "time-v.txt")
        self.stdout_path = os.path.join(workdir, "batchd.stdout")
        self.stderr_path = os.path.join(workdir, "batchd.stderr")
        self.extra_args = extra_args
        self.proc = None  # /usr/bin/time
        self.pid = None  # batchd, the child of time
        self.port = None
        self.peak_rss_kib = None
        self.exit_status = None

    def start(self, timeout=30.0):
        cmd = ["/usr/bin/time", "-v", "-o", self.time_file, self.batchd, "serve",
               "--listen", "127.0.0.1:0", "--data-dir", self.data_dir, "--log-level", "warn",
               "--max-sessions-per-batch", "2000000"] + self.extra_args
        log("starting: " + " ".join(cmd))
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        # Own session/process group, so a Ctrl-C of the bench does not hit the daemon directly;
        # we stop it ourselves with SIGTERM in stop().
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=self._err, start_new_session=True)
        port_file = os.path.join(self.data_dir, "batchd.port")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"daemon exited with {self.proc.returncode} before listening; "
                                 f"stderr: {self.stderr_tail()}")
            if self.pid is None:
                self.pid = self._find_child()
            if self.pid is not None and os.path.exists(port_file):
                with open(port_file) as f:
                    text = f.read().strip()
                if text.isdigit():
                    self.port = int(text)
                    break
            time.sleep(0.02)
        if self.port is None:
            raise BenchError(f"daemon did not write {port_file} within {timeout} s; "
                             f"stderr: {self.stderr_tail()}")
        log(f"daemon pid {self.pid} listening on 127.0.0.1:{self.port}")

    def _find_child(self):
        """The pid of time's child (batchd), from /proc."""
        tp = self.proc.pid
        children = f"/proc/{tp}/task/{tp}/children"
        try:
            with open(children) as f:
                pids = [int(p) for p in f.read().split()]
            return pids[0] if pids else None
        except OSError:
            pass
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            # pid (comm) state ppid ...; comm may contain spaces and parentheses.
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == tp:
                return int(entry)
        return None

    def vm_hwm_kib(self):
        """The daemon's peak RSS so far (VmHWM), or None."""
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except (OSError, TypeError):
            pass
        return None

    def stderr_tail(self, n=2000):
        try:
            with open(self.stderr_path, "rb") as f:
                data = f.read()
            return data[-n:].decode(errors="replace").strip() or "(empty)"
        except OSError:
            return "(unreadable)"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=30.0):
        """SIGTERM to batchd (not to time), wait, parse time -v. Returns True on a clean stop."""
        if self.proc is None:
            return True
        clean = True
        if self.proc.poll() is None:
            if self.pid is None:
                self.pid = self._find_child()
            if self.pid is not None:
                try:
                    os.kill(self.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log(f"daemon did not stop {timeout} s after SIGTERM; sending SIGKILL")
                clean = False
                if self.pid is not None:
                    try:
                        os.kill(self.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()  # time itself, by its own pid
                    self.proc.wait()
        self._out.close()
        self._err.close()
        try:
            with open(self.time_file) as f:
                text = f.read()
        except OSError:
            text = ""
        m = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", text)
        self.peak_rss_kib = int(m.group(1)) if m else None
        m = re.search(r"Exit status:\s*(\d+)", text)
        self.exit_status = int(m.group(1)) if m else None
        if "Command terminated by signal" in text or (self.exit_status not in (0, None)):
            clean = False
        return clean


# --------------------------------------------------------------------------------------------
# HTTP


def request(conn, method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, data


class Prober(threading.Thread):
    """GETs /healthz and /api/v1/batches alternately, each on its own keep-alive connection,
    from go until stop (or a count/time bound), recording each request's latency."""

    PATHS = ("/healthz", "/api/v1/batches")

    def __init__(self, port, max_requests=200_000, max_seconds=120.0):
        super().__init__(daemon=True)
        self.port = port
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.ready = threading.Event()
        self.go = threading.Event()
        self.stop_flag = threading.Event()
        self.samples = {p: [] for p in self.PATHS}
        self.errors = []

    def run(self):
        conns = {p: http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                 for p in self.PATHS}
        try:
            for c in conns.values():
                c.connect()
            self.ready.set()
            self.go.wait()
            start = time.perf_counter()
            n = 0
            while not self.stop_flag.is_set() and n < self.max_requests:
                if time.perf_counter() - start > self.max_seconds:
                    break
                path = self.PATHS[n % 2]
                t0 = time.perf_counter()
                try:
                    status, data = request(conns[path], "GET", path)
                except (OSError, http.client.HTTPException) as e:
                    self.errors.append(f"GET {path}: {e!r}")
                    conns[path].close()
                    conns[path] = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    n += 1
                    continue
                dt = (time.perf_counter() - t0) * 1000.0
                if status != 200:
                    self.errors.append(f"GET {path}: {status} {data[:200]!r}")
                else:
                    self.samples[path].append(dt)
                n += 1
        except (OSError, http.client.HTTPException) as e:
            self.errors.append(f"prober: {e!r}")
        finally:
            self.ready.set()
            for c in conns.values():
                c.close()


def post_batch(port, size, name, probe):
    """POSTs one batch; returns (client seconds, enqueue_ms, public id, prober or None)."""
    body = batch_body(size, name)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.connect()
    prober = None
    if probe:
        prober = Prober(port)
        prober.start()
        prober.ready.wait(10)
        if prober.errors:
            conn.close()
            raise BenchError("prober could not connect: " + "; ".join(prober.errors))
    try:
        if prober:
            prober.go.set()
        t0 = time.perf_counter()
        status, data = request(conn, "POST", "/api/v1/batches", body)
        seconds = time.perf_counter() - t0
    finally:
        if prober:
            prober.stop_flag.set()
            prober.go.set()
            prober.join(30)
        conn.close()
    if status != 201:
        raise BenchError(f"POST /api/v1/batches ({size} sessions) -> {status} "
                         f"{data[:500].decode(errors='replace')}")
    try:
        doc = json.loads(data)
    except ValueError:
        raise BenchError(f"POST /api/v1/batches: 201 with a non-JSON body {data[:200]!r}")
    if doc.get("sessions") != size:
        raise BenchError(f"POST /api/v1/batches: asked for {size} sessions, 201 says {doc}")
    return seconds, doc.get("enqueue_ms"), doc.get("id"), prober


def check_batch(port, public_id, size):
    """GET the batch back: its session count and counters must add up to the size."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        status, data = request(conn, "GET", f"/api/v1/batches/{public_id}")
    finally:
        conn.close()
    if status != 200:
        raise BenchError(f"GET /api/v1/batches/{public_id} -> {status} {data[:300]!r}")
    doc = json.loads(data)
    counts = doc.get("counts") or {}
    if doc.get("sessions") != size or sum(counts.values()) != size:
        raise BenchError(f"GET /api/v1/batches/{public_id}: expected {size} sessions, got {doc}")


def pause_queue(port):
    """Pauses the scheduler if the daemon has one, so noop sessions do not run during the
    later submits. A daemon without the route (404/405) is fine."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        status, data = request(conn, "POST", "/api/v1/queue/pause", b"{}")
    finally:
        conn.close()
    return status


# --------------------------------------------------------------------------------------------
# Anchors


def run_anchor(cmd, name):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"{name}: {' '.join(cmd)} exited {proc.returncode}: "
                         f"{proc.stderr.strip()[-1000:]}")
    for line in reversed(proc.stdout.strip().splitlines()):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        return float(doc["seconds"])
    raise BenchError(f"{name}: no JSON line in output {proc.stdout[-500:]!r}")


def remove_db(path):
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass


# --------------------------------------------------------------------------------------------


def summarize(values):
    return {"best": min(values), "median": statistics.median(values), "all": values}


def fmt_s(x):
    return "-" if x is None else f"{x:.4f}"


def fmt_rate(x):
    return "-" if x is None else f"{x:,.0f}"


def fmt_ratio(x):
    return "-" if x is None else f"{x:.2f}x"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batchd", default=os.path.join(REPO, "build/daemon/batchd"))
    p.add_argument("--raw-limit", default=os.path.join(REPO, "build/bench/raw_insert_limit"))
    p.add_argument("--shared", default=os.path.join(os.path.dirname(REPO), "shared"),
                   help="the shared/ directory holding anchors/seed_executemany.py "
                        "(default: ../shared next to the repo)")
    p.add_argument("--sizes", default="5000,100000,1000000",
                   help="comma-separated session counts")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs per size and contender; the table shows the best (min) time, "
                        "the JSON line has best, median and all")
    p.add_argument("--probe", choices=("separate", "timed"), default="separate",
                   help="separate (default): the timed POSTs run without prober, then "
                        "--probe-runs extra POSTs of the largest size run with it (their time "
                        "is reported too); timed: the prober runs during the timed POSTs of "
                        "the largest size")
    p.add_argument("--probe-runs", type=int, default=None,
                   help="extra probed POSTs with --probe separate (default: --repeat)")
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed POSTs of the smallest size before the timed runs (default 1)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: sizes 5000, repeat 1")
    p.add_argument("--workdir", default=None,
                   help="where the daemon's data dir and the anchor databases go "
                        "(default: a fresh temporary directory, removed at the end)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--no-seed", action="store_true", help="skip the seed anchor")
    p.add_argument("--daemon-arg", action="append", default=[],
                   help="extra argument for batchd serve (repeatable)")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes = "5000"
        args.repeat = 1
    try:
        args.sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        p.error("--sizes must be comma-separated integers")
    if not args.sizes or min(args.sizes) < 1 or args.repeat < 1:
        p.error("--sizes must be positive and --repeat >= 1")
    if args.probe_runs is None:
        args.probe_runs = args.repeat
    return args


def main(argv):
    args = parse_args(argv)
    seed_script = os.path.join(args.shared, "anchors", "seed_executemany.py")
    for path, what in ((args.batchd, "--batchd"), (args.raw_limit, "--raw-limit")):
        if not os.access(path, os.X_OK):
            log(f"{what} {path} is not an executable (build it first: see bench/README.md)")
            return 1
    if not args.no_seed and not os.path.isfile(seed_script):
        log(f"seed script {seed_script} not found (use --shared)")
        return 1

    workdir = args.workdir or tempfile.mkdtemp(prefix="batchd-submit-bench-")
    os.makedirs(workdir, exist_ok=True)
    data_dir = os.path.join(workdir, "data")
    anchor_db = os.path.join(workdir, "anchor.db")
    largest = max(args.sizes)
    daemon = Daemon(args.batchd, data_dir, workdir, args.daemon_arg)
    rows = []
    probe = {"mode": args.probe, "sessions": largest, "runs": [], "summary": {}}
    rss_after = {}
    broke = None
    clean_stop = True
    try:
        daemon.start()
        status = pause_queue(daemon.port)
        log(f"POST /api/v1/queue/pause -> {status}")
        for w in range(args.warmup):
            _, _, pid, _ = post_batch(daemon.port, args.sizes[0], f"bench-warmup-{w}", False)
            check_batch(daemon.port, pid, args.sizes[0])
        samples = {p: [] for p in Prober.PATHS}
        probe_errors = []
        def record_probe(s, ems, prober):
            probe["runs"].append({"seconds": round(s, 4), "enqueue_ms": ems,
                                  "healthz": latency_summary(prober.samples["/healthz"]),
                                  "batches": latency_summary(prober.samples["/api/v1/batches"])})
            for p in Prober.PATHS:
                samples[p].extend(prober.samples[p])
            probe_errors.extend(prober.errors)

        for size in args.sizes:
            a, b = factor_size(size)
            # The contenders take turns within each repeat, so a change in machine load hits
            # them alike.
            log(f"size {size} ({a} x {b}): batchd, raw_insert_limit"
                f"{'' if args.no_seed else ', seed_executemany'} x{args.repeat}")
            times, enqueue, raw, seed = [], [], [], []
            for r in range(args.repeat):
                probed = args.probe == "timed" and size == largest
                s, ems, pid, prober = post_batch(daemon.port, size, f"bench-{size}-{r}", probed)
                check_batch(daemon.port, pid, size)
                times.append(s)
                enqueue.append(ems)
                if prober:
                    record_probe(s, ems, prober)
                raw.append(run_anchor([args.raw_limit, str(size), anchor_db], "raw_insert_limit"))
                remove_db(anchor_db)
                if not args.no_seed:
                    seed.append(run_anchor(["/usr/bin/python3", seed_script, str(size),
                                            anchor_db], "seed_executemany"))
                    remove_db(anchor_db)
            if args.probe == "separate" and size == largest:
                log(f"size {size}: batchd with prober x{args.probe_runs}")
                for r in range(args.probe_runs):
                    s, ems, pid, prober = post_batch(daemon.port, size, f"bench-probe-{size}-{r}",
                                                     True)
                    check_batch(daemon.port, pid, size)
                    record_probe(s, ems, prober)
            rss_after[size] = daemon.vm_hwm_kib()
            rows.append({"sessions": size, "shape": [a, b],
                         "batchd_s": summarize(times),
                         "batchd_enqueue_ms": summarize([e for e in enqueue if e is not None])
                         if any(e is not None for e in enqueue) else None,
                         "raw_s": summarize(raw),
                         "seed_s": summarize(seed) if seed else None})
        probe["summary"] = {
            "healthz": latency_summary(samples["/healthz"]),
            "batches": latency_summary(samples["/api/v1/batches"]),
        }
        probe["errors"] = probe_errors[:20]
        if not daemon.alive():
            raise BenchError(f"daemon died during the run; stderr: {daemon.stderr_tail()}")
    except BenchError as e:
        broke = str(e)
    except (OSError, http.client.HTTPException, ValueError) as e:
        broke = f"{type(e).__name__}: {e}"
    except KeyboardInterrupt:
        broke = "interrupted"
    finally:
        clean_stop = daemon.stop()
        if not clean_stop and broke is None:
            log(f"daemon did not stop cleanly (time -v exit status {daemon.exit_status}); "
                f"stderr: {daemon.stderr_tail()}")
        if args.keep or args.workdir:
            log(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    if broke:
        log("FAILED: " + broke)
        return 1

    report(args, rows, probe, daemon, rss_after, clean_stop)
    return 0


def report(args, rows, probe, daemon, rss_after, clean_stop):
    mib = lambda kib: None if kib is None else round(kib / 1024.0, 1)
    for row in rows:
        b = row["batchd_s"]["best"]
        row["batchd_sessions_per_s"] = round(row["sessions"] / b) if b > 0 else None
        row["vs_seed"] = round(row["seed_s"]["best"] / b, 2) if row["seed_s"] and b > 0 else None
        row["vs_raw"] = round(row["raw_s"]["best"] / b, 3) if b > 0 else None
        for k in ("batchd_s", "raw_s", "seed_s", "batchd_enqueue_ms"):
            if row.get(k):
                row[k] = {kk: (round(v, 4) if not isinstance(v, list) else [round(x, 4) for x in v])
                          for kk, v in row[k].items()}

    peak_mib = mib(daemon.peak_rss_kib)
    head = f"submit benchmark: best of {args.repeat} (median in the JSON line), seconds"
    print(head)
    cols = ["sessions", "shape", "batchd s", "batchd sess/s", "enqueue ms", "seed s", "raw s",
            "vs seed", "vs raw"]
    table = [cols]
    for row in rows:
        table.append([
            f"{row['sessions']:,}", "x".join(map(str, row["shape"])),
            fmt_s(row["batchd_s"]["best"]), fmt_rate(row["batchd_sessions_per_s"]),
            "-" if not row["batchd_enqueue_ms"] else f"{row['batchd_enqueue_ms']['best']:.1f}",
            fmt_s(row["seed_s"]["best"]) if row["seed_s"] else "-",
            fmt_s(row["raw_s"]["best"]), fmt_ratio(row["vs_seed"]), fmt_ratio(row["vs_raw"]),
        ])
    widths = [max(len(r[i]) for r in table) for i in range(len(cols))]
    for i, r in enumerate(table):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))

    hz, bt = probe["summary"]["healthz"], probe["summary"]["batches"]
    probe_times = [r["seconds"] for r in probe["runs"]]
    print()
    print(f"probes during the {probe['sessions']:,}-session POSTs ({probe['mode']}, "
          f"{len(probe['runs'])} runs, POST time with probes: "
          f"{', '.join(f'{t:.4f}' for t in probe_times) or '-'} s):")
    for name, s in (("GET /healthz", hz), ("GET /api/v1/batches", bt)):
        if s["count"]:
            print(f"  {name:20s} n={s['count']:6d}  p50={s['p50_ms']:.3f} ms  "
                  f"p99={s['p99_ms']:.3f} ms  max={s['max_ms']:.3f} ms")
        else:
            print(f"  {name:20s} n=     0")
    if probe.get("errors"):
        print(f"  probe errors: {probe['errors']}")
    print(f"daemon peak RSS (/usr/bin/time -v, whole run): "
          f"{'-' if peak_mib is None else f'{peak_mib} MiB'}; VmHWM after each size: "
          + ", ".join(f"{s:,}: {mib(k)} MiB" for s, k in rss_after.items()))
    if not clean_stop:
        print(f"WARNING: the daemon did not stop cleanly on SIGTERM "
              f"(time -v exit status {daemon.exit_status})")

    # Targets, evaluated on the 1M row (the time target only there); the ratios on the largest
    # size when 1M was not run.
    target_row = next((r for r in rows if r["sessions"] == ONE_MILLION), rows[-1])

    def check(value, limit, at_most):
        if value is None:
            return None
        return value <= limit if at_most else value >= limit

    t = {
        "evaluated_at_sessions": target_row["sessions"],
        "seconds_1m": {"target_max": TARGETS["seconds_1m_max"],
                       "value": target_row["batchd_s"]["best"]
                       if target_row["sessions"] == ONE_MILLION else None},
        "vs_seed": {"target_min": TARGETS["vs_seed_min"], "value": target_row["vs_seed"]},
        "vs_raw": {"target_min": TARGETS["vs_raw_min"], "value": target_row["vs_raw"]},
        "probe_p99_ms": {"target_max": TARGETS["probe_p99_ms_max"],
                         "value": max([v for v in (hz["p99_ms"], bt["p99_ms"]) if v is not None],
                                      default=None)},
        "daemon_peak_rss_mib": {"target_max": TARGETS["daemon_peak_rss_mib_max"],
                                "value": peak_mib},
    }
    for key, entry in t.items():
        if isinstance(entry, dict):
            if "target_max" in entry:
                entry["met"] = check(entry["value"], entry["target_max"], True)
            else:
                entry["met"] = check(entry["value"], entry["target_min"], False)
    evaluated = [e["met"] for e in t.values() if isinstance(e, dict)]
    t["all_evaluated"] = all(m is not None for m in evaluated)
    t["met"] = all(m for m in evaluated if m is not None)
    verdict = ("all met" if t["met"] and t["all_evaluated"]
               else "met (not all evaluated)" if t["met"] else "MISSED")
    print("targets: " + ", ".join(
        f"{k}={'n/a' if e['met'] is None else ('met' if e['met'] else 'MISSED')}"
        f"({e['value']})" for k, e in t.items() if isinstance(e, dict)) + f" -> {verdict}")

    out = {
        "bench": "submit",
        "stat": f"best of {args.repeat}",
        "rows": rows,
        "ratios": {str(r["sessions"]): {"vs_seed": r["vs_seed"], "vs_raw": r["vs_raw"]}
                   for r in rows},
        "probe_p99_ms": {"healthz": hz["p99_ms"], "batches": bt["p99_ms"]},
        "probe": probe,
        "daemon_peak_rss_mib": peak_mib,
        "daemon_vm_hwm_mib_after_size": {str(s): mib(k) for s, k in rss_after.items()},
        "daemon_clean_stop": clean_stop,
        "targets": t,
    }
    print(json.dumps(out, separators=(",", ":")))
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
