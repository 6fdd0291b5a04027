#!/usr/bin/python3
"""Results export benchmark: GET /api/v1/batches/{id}/results of a 1M-session batch, and what it
costs the daemon in memory (issue 13, acceptance 7: peak RSS at most 64 MiB over its baseline).

One invocation:
  * starts batchd (under /usr/bin/time -v), pauses the queue and submits a noop batch of
    --sessions sessions (default 1 000 000; two groups /x and /y, as submit_bench.py); with
    --drain the queue is resumed and the batch run to completed first, so every row has a state
    and attempts (noop has no result);
  * takes the daemon's baseline: its VmRSS once the submit has settled, after resetting its
    VmHWM (the kernel's peak RSS) with `echo 5 > /proc/PID/clear_refs`;
  * exports the batch (--format csv by default) over one HTTP connection, reading the body as it
    streams and parsing every record with Python's csv module (or every line as JSON), checking
    the header, the field count, that session ids rise by one and the row count equals the
    batch's, while a sampler reads the daemon's VmRSS every 10 ms;
  * reports the export's time, rows/s, MB/s, and the daemon's peak RSS over the baseline: VmHWM
    after the export minus the baseline VmRSS (and the sampled peak, as a cross-check).

Prints a table, then one JSON line. Exit 0 if it ran (a missed target is reported, not failed),
1 if something broke (a non-200, a malformed record, a wrong row count), 2 on bad usage.
Stdlib only; run with /usr/bin/python3. See bench/README.md, "Results export".
"""
import argparse
import csv
import http.client
import io
import json
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import submit_bench  # noqa: E402
from submit_bench import BenchError, Daemon, guarded_run, request  # noqa: E402

REPO = submit_bench.REPO
TARGET_PEAK_OVER_BASELINE_MIB = 64.0
CSV_COLUMNS = ["session_id", "ordinal", "run", "index", "values", "state", "attempts", "result",
               "error_kind", "error_message"]


def log(msg):
    print(f"[results_export_bench] {msg}", file=sys.stderr, flush=True)


def proc_status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak(pid):
    """Resets the daemon's VmHWM to its current RSS (Linux >= 4.0); False if not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError as e:
        log(f"cannot reset VmHWM ({e}); the peak then includes the submit's")
        return False


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self.stop_flag = threading.Event()

    def run(self):
        while not self.stop_flag.is_set():
            rss = proc_status_kib(self.pid, "VmRSS")
            if rss is not None:
                self.peak_kib = max(self.peak_kib, rss)
            time.sleep(0.01)


def wait_completed(port, public_id, size, timeout_s):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            status, data = request(conn, "GET", f"/api/v1/batches/{public_id}")
            if status != 200:
                raise BenchError(f"GET /api/v1/batches/{public_id} -> {status}")
            doc = json.loads(data)
            if doc.get("state") in ("completed", "failed", "canceled"):
                if doc["state"] != "completed" or doc["counts"]["completed"] != size:
                    raise BenchError(f"the batch did not complete: {doc}")
                return
            time.sleep(0.5)
    finally:
        conn.close()
    raise BenchError(f"the batch did not finish within {timeout_s} s")


def export(port, public_id, fmt, size):
    """Streams the export; returns (seconds, bytes, rows). Raises BenchError on a bad body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    t0 = time.perf_counter()
    conn.request("GET", f"/api/v1/batches/{public_id}/results?format={fmt}")
    resp = conn.getresponse()
    if resp.status != 200:
        raise BenchError(f"GET .../results?format={fmt} -> {resp.status} "
                         f"{resp.read(500).decode(errors='replace')}")

    class Counting(io.RawIOBase):
        """The response as a raw stream that counts its bytes."""
        bytes = 0

        def readable(self):
            return True

        def readinto(self, b):
            n = resp.readinto(b)
            self.bytes += n
            return n

    raw = Counting()
    text = io.TextIOWrapper(io.BufferedReader(raw, 1 << 20), encoding="utf-8", newline="")
    rows = 0
    previous_id = None
    if fmt == "csv":
        records = csv.reader(text)
        header = next(records, None)
        if header != CSV_COLUMNS:
            raise BenchError(f"CSV header {header!r}, expected {CSV_COLUMNS!r}")
        for rec in records:
            if len(rec) != len(CSV_COLUMNS):
                raise BenchError(f"record {rows + 1} has {len(rec)} fields: {rec!r}")
            sid = int(rec[0])
            if previous_id is not None and sid != previous_id + 1:
                raise BenchError(f"record {rows + 1}: session {sid} after {previous_id}")
            if int(rec[1]) != rows:
                raise BenchError(f"record {rows + 1}: ordinal {rec[1]}, expected {rows}")
            json.loads(rec[4])  # the values cell is JSON text
            previous_id = sid
            rows += 1
    else:
        for line in text:
            doc = json.loads(line)
            if doc["ordinal"] != rows:
                raise BenchError(f"line {rows + 1}: ordinal {doc['ordinal']}, expected {rows}")
            rows += 1
    seconds = time.perf_counter() - t0
    conn.close()
    if rows != size:
        raise BenchError(f"the export has {rows} rows, the batch {size} sessions")
    return seconds, raw.bytes, rows


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batchd", default=os.path.join(REPO, "build", "daemon", "batchd"))
    p.add_argument("--sessions", type=int, default=1_000_000)
    p.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    p.add_argument("--drain", action="store_true",
                   help="run the batch to completed before exporting")
    p.add_argument("--quick", action="store_true", help="smoke test: 20 000 sessions")
    p.add_argument("--workdir")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--daemon-arg", action="append", default=[])
    args = p.parse_args(argv)
    if args.quick:
        args.sessions = 20_000
    if args.sessions < 1:
        p.error("--sessions must be at least 1")
    return args


def main(argv):
    args = parse_args(argv)
    if not os.access(args.batchd, os.X_OK):
        log(f"no batchd at {args.batchd} (build it, or pass --batchd)")
        return 2
    workdir = args.workdir or tempfile.mkdtemp(prefix="results-export-bench-")
    os.makedirs(workdir, exist_ok=True)
    data_dir = os.path.join(workdir, "data")
    os.makedirs(data_dir, exist_ok=True)
    daemon = Daemon(args.batchd, data_dir, workdir, args.daemon_arg)
    row = None
    with guarded_run(args, workdir, log) as outcome:
        try:
            daemon.start()
            submit_bench.pause_queue(daemon.port)
            log(f"submitting {args.sessions} sessions")
            _, enqueue_ms, public_id, _ = submit_bench.post_batch(
                daemon.port, args.sessions, "export", probe=False)
            submit_bench.check_batch(daemon.port, public_id, args.sessions)
            if args.drain:
                conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)
                request(conn, "POST", "/api/v1/queue/resume", b"{}")
                conn.close()
                log("draining")
                wait_completed(daemon.port, public_id, args.sessions, 3600)
            time.sleep(1.0)  # let the submit's (or drain's) allocations settle
            reset = reset_peak(daemon.pid)
            baseline_kib = proc_status_kib(daemon.pid, "VmRSS")
            if not reset:
                baseline_kib = proc_status_kib(daemon.pid, "VmHWM")
            sampler = RssSampler(daemon.pid)
            sampler.start()
            log(f"exporting as {args.format} (baseline RSS {baseline_kib / 1024:.1f} MiB)")
            seconds, nbytes, rows = export(daemon.port, public_id, args.format, args.sessions)
            sampler.stop_flag.set()
            sampler.join(5)
            hwm_kib = proc_status_kib(daemon.pid, "VmHWM")
            row = {
                "sessions": args.sessions,
                "format": args.format,
                "drained": args.drain,
                "rows": rows,
                "seconds": round(seconds, 3),
                "rows_per_s": round(rows / seconds),
                "mb_per_s": round(nbytes / seconds / 1e6, 1),
                "bytes": nbytes,
                "baseline_rss_mib": round(baseline_kib / 1024, 1),
                "peak_over_baseline_mib": round((hwm_kib - baseline_kib) / 1024, 1),
                "sampled_peak_over_baseline_mib": round(
                    (sampler.peak_kib - baseline_kib) / 1024, 1),
                "peak_reset": reset,
                "target_peak_over_baseline_mib": TARGET_PEAK_OVER_BASELINE_MIB,
            }
            row["target_met"] = row["peak_over_baseline_mib"] <= TARGET_PEAK_OVER_BASELINE_MIB
        finally:
            clean = daemon.stop()
            if not clean:
                log("the daemon did not stop cleanly")
    if outcome.broke:
        log("broke: " + outcome.broke)
        return 1
    print(f"{'sessions':>10} {'format':>6} {'rows':>10} {'s':>8} {'rows/s':>10} {'MB/s':>7} "
          f"{'base MiB':>9} {'peak+ MiB':>10} {'target':>7}")
    print(f"{row['sessions']:>10} {row['format']:>6} {row['rows']:>10} {row['seconds']:>8.2f} "
          f"{row['rows_per_s']:>10} {row['mb_per_s']:>7.1f} {row['baseline_rss_mib']:>9.1f} "
          f"{row['peak_over_baseline_mib']:>10.1f} "
          f"{'met' if row['target_met'] else 'MISSED':>7}")
    print(json.dumps({"bench": "results_export", **row}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
