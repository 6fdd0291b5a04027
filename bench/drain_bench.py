#!/usr/bin/python3
"""Drain benchmark: 1M noop sessions from submission to all completed, batchd vs raw SQLite.

One invocation, for each repeat:
  * raw batched: build/bench/raw_drain_limit batched N (claim BATCH sessions per transaction,
             complete them in a second one: "the limit");
  * batchd:  for each --slots-list entry, a fresh daemon (--slots S, or its default, one slot
             per core); POST a 1000 x 1000 noop batch and poll GET /api/v1/batches/{id} every
             ~50 ms; the time is from sending the POST to the first poll that shows
             counts.completed == N (also: when the 201 arrived, when state became "completed",
             and the daemon's own created_at -> finished_at);
  * raw naive:   build/bench/raw_drain_limit naive M (one transaction per claim and one per
             completion, M = --naive-sessions, default 20k: sessions/s extrapolates).
The daemon runs under /usr/bin/time -v for its peak RSS and CPU time.

Prints a table, then one JSON line. Exit 0 if it ran (missed targets are reported, not failed),
1 if something broke (daemon not starting, a non-201, a drain that does not finish or does not
add up, an anchor failing), 2 on bad usage. Stdlib only; run with /usr/bin/python3. See
bench/README.md.
"""
import argparse
import datetime
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# The daemon wrapper (start under /usr/bin/time -v, port file, SIGTERM, peak RSS) and the HTTP
# helpers are the submit benchmark's; this file sits next to it.
import submit_bench
from submit_bench import BenchError, Daemon, guarded_run, remove_db, request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TARGETS = {
    "sessions_per_s_min": 100_000.0,  # 1M sessions from POST to all completed in <= 10 s
    "vs_raw_min": 0.4,  # batchd sessions/s / raw batched sessions/s
}
ONE_MILLION = 1_000_000
QUEUE_SETTLE_S = 2.0  # how long `running` may lag the committed counters
POLL_S = 0.05
TIMELINE_POINTS = 16  # kept per drain (of one sample a second)
SHAPES = {20_000: (100, 200), 1_000_000: (1_000, 1_000)}
STATES = ("uninitialized", "in_progress", "completed", "error", "canceled")


def log(msg):
    print(f"[drain_bench] {msg}", file=sys.stderr, flush=True)


def batch_body(size, name):
    return submit_bench.batch_body(size, name, SHAPES)


def parse_time(text):
    """The API's "2026-11-22T08:00:00.123Z" as unix seconds, or None."""
    if not text:
        return None
    try:
        dt = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return None
    return dt.replace(tzinfo=datetime.timezone.utc).timestamp()


def thin(points, most):
    """At most `most` of the points, evenly spaced, the first and the last included."""
    if len(points) <= most:
        return points
    step = (len(points) - 1) / (most - 1)
    return [points[round(i * step)] for i in range(most)]


def get_json(conn, path):
    status, data = request(conn, "GET", path)
    if status != 200:
        raise BenchError(f"GET {path} -> {status} {data[:300].decode(errors='replace')}")
    try:
        return json.loads(data)
    except ValueError:
        raise BenchError(f"GET {path}: 200 with a non-JSON body {data[:200]!r}")


def time_v_cpu_s(path):
    """User + system CPU seconds of the daemon's whole life, from /usr/bin/time -v."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    u = re.search(r"User time \(seconds\):\s*([\d.]+)", text)
    s = re.search(r"System time \(seconds\):\s*([\d.]+)", text)
    return round(float(u.group(1)) + float(s.group(1)), 2) if u and s else None


# --------------------------------------------------------------------------------------------
# batchd: one fresh daemon, one batch, submission to all completed


def settle():
    """Untimed, before each contender: write back what the previous one left dirty in the page
    cache, so its writeback does not land in the next one's time."""
    os.sync()
    time.sleep(0.5)


def drain_batchd(args, slots, size, workdir):
    """Returns a dict of timings and checks for one drain; raises BenchError if it broke."""
    data_dir = os.path.join(workdir, "data")
    extra = ([] if slots is None else ["--slots", str(slots)]) + args.daemon_arg
    daemon = Daemon(args.batchd, data_dir, workdir, extra)
    run = {}
    try:
        daemon.start()
        settle()
        body = batch_body(size, f"drain-{size}")
        conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=300)
        conn.connect()
        try:
            t0 = time.perf_counter()
            wall0 = time.time()
            status, data = request(conn, "POST", "/api/v1/batches", body)
            t_201 = time.perf_counter() - t0
            if status != 201:
                raise BenchError(f"POST /api/v1/batches ({size} sessions) -> {status} "
                                 f"{data[:500].decode(errors='replace')}")
            doc = json.loads(data)
            if doc.get("sessions") != size:
                raise BenchError(f"POST /api/v1/batches: asked for {size} sessions, 201 says "
                                 f"{doc}")
            public_id = doc["id"]
            path = f"/api/v1/batches/{public_id}"
            t_done = t_state = None
            timeline, next_mark = [], 0.0
            polls = 0
            batch = None
            while True:
                elapsed = time.perf_counter() - t0
                if elapsed > args.timeout:
                    raise BenchError(f"not drained after {args.timeout} s: {batch}")
                if not daemon.alive():
                    raise BenchError(f"daemon died during the drain; stderr: "
                                     f"{daemon.stderr_tail()}")
                batch = get_json(conn, path)
                polls += 1
                now = time.perf_counter() - t0
                completed = (batch.get("counts") or {}).get("completed", 0)
                if now >= next_mark:
                    # About once a second, what the daemon itself reports about the queue.
                    q = get_json(conn, "/api/v1/queue")
                    timeline.append([round(now, 2), completed, q.get("running"),
                                     q.get("sessions_per_s")])
                    next_mark = now + 1.0
                if t_done is None and completed == size:
                    t_done = now
                if t_state is None and batch.get("state") == "completed":
                    t_state = now
                if t_done is not None and t_state is not None:
                    break
                if batch.get("state") in ("failed", "canceled"):
                    raise BenchError(f"batch ended {batch.get('state')}: {batch}")
                # Poll on a ~50 ms grid from t0 (a poll itself takes a little time).
                time.sleep(max(0.0, POLL_S - (time.perf_counter() - t0 - now)))
            timeline.append([round(t_done, 2), size, None, None])
            timeline = thin(timeline, TIMELINE_POINTS)
            # A slot is released when the writer's commit callback reaches the scheduler, just
            # after the counters became visible: give the last ones a moment.
            queue = get_json(conn, "/api/v1/queue")
            settle_deadline = time.perf_counter() + QUEUE_SETTLE_S
            while queue.get("running") not in (0, None) and time.perf_counter() < settle_deadline:
                time.sleep(0.01)
                queue = get_json(conn, "/api/v1/queue")
        finally:
            conn.close()
        counts = batch.get("counts") or {}
        want = {s: (size if s == "completed" else 0) for s in STATES}
        if batch.get("sessions") != size or {s: counts.get(s) for s in STATES} != want:
            raise BenchError(f"GET {path} after the drain: expected {want}, got {batch}")
        qcounts = queue.get("counts") or {}
        if {s: qcounts.get(s) for s in STATES} != want or queue.get("running") not in (0, None):
            raise BenchError(f"GET /api/v1/queue after the drain: expected counts {want} and "
                             f"nothing running, got {queue}")
        created, finished = parse_time(batch.get("created_at")), parse_time(batch.get("finished_at"))
        run = {
            "slots": queue.get("slots"),
            "seconds": t_done,
            "seconds_to_201": t_201,
            "seconds_to_state_completed": t_state,
            "enqueue_ms": doc.get("enqueue_ms"),
            # The daemon's own clock: batch row created -> finished_at (ms resolution).
            "daemon_span_s": None if created is None or finished is None
            else round(finished - created, 3),
            # From sending the POST to the daemon's finished_at (same host clock).
            "post_to_finished_at_s": None if finished is None else round(finished - wall0, 3),
            "polls": polls,
            # [seconds since the POST, completed, queue running, queue sessions_per_s]
            "timeline": timeline,
            "queue_after": queue,
        }
        if not daemon.alive():
            raise BenchError(f"daemon died after the drain; stderr: {daemon.stderr_tail()}")
    finally:
        clean = daemon.stop()
        run["clean_stop"] = clean
        run["peak_rss_mib"] = (None if daemon.peak_rss_kib is None
                               else round(daemon.peak_rss_kib / 1024.0, 1))
        run["daemon_cpu_s"] = time_v_cpu_s(daemon.time_file)
        if not clean:
            log(f"daemon (slots {slots}) did not stop cleanly (time -v exit status "
                f"{daemon.exit_status}); stderr: {daemon.stderr_tail()}")
    return run


# --------------------------------------------------------------------------------------------
# Anchors


def run_anchor(cmd, name):
    settle()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"{name}: {' '.join(cmd)} exited {proc.returncode}: "
                         f"{proc.stderr.strip()[-1000:]}")
    for line in reversed(proc.stdout.strip().splitlines()):
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if "seconds" in doc and "sessions" in doc:
            return doc
    raise BenchError(f"{name}: no JSON line in output {proc.stdout[-500:]!r}")


# --------------------------------------------------------------------------------------------


def summarize(values):
    values = [round(v, 4) for v in values]
    return {"best": min(values), "median": round(statistics.median(values), 4), "all": values}


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batchd", default=os.path.join(REPO, "build/daemon/batchd"))
    p.add_argument("--raw-limit", default=os.path.join(REPO, "build/bench/raw_drain_limit"))
    p.add_argument("--sessions", type=int, default=ONE_MILLION,
                   help="sessions in the batchd batch and the raw batched anchor (default 1M)")
    p.add_argument("--naive-sessions", type=int, default=20_000,
                   help="sessions of the naive anchor; its sessions/s extrapolates "
                        "(default 20000)")
    p.add_argument("--claim-batch", type=int, default=4096,
                   help="sessions per claim transaction of the raw batched anchor (default 4096)")
    p.add_argument("--slots-list", default="4096,default",
                   help="daemon configurations, comma-separated --slots values; 'default' "
                        "passes no --slots (one slot per core) (default: 4096,default)")
    p.add_argument("--repeat", type=int, default=1,
                   help="runs per contender (a fresh daemon each); the table shows the best "
                        "(min) time, the JSON line has best, median and all (default 1)")
    p.add_argument("--timeout", type=float, default=1800.0,
                   help="seconds one drain may take before the bench gives up (default 1800)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 20000 sessions, naive 5000, repeat 1")
    p.add_argument("--workdir", default=None,
                   help="where the daemons' data dirs and the anchor database go "
                        "(default: a fresh temporary directory, removed at the end)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--daemon-arg", action="append", default=[],
                   help="extra argument for batchd serve (repeatable; write it with '=')")
    args = p.parse_args(argv)
    if args.quick:
        args.sessions = 20_000
        args.naive_sessions = 5_000
        args.repeat = 1
    slots = []
    for s in args.slots_list.split(","):
        s = s.strip()
        if s == "default":
            slots.append(None)
        elif s.isdigit() and int(s) >= 1:
            slots.append(int(s))
        else:
            p.error("--slots-list takes positive integers or 'default'")
    args.slots_list = slots
    if not slots or args.sessions < 1 or args.naive_sessions < 1 or args.repeat < 1 \
            or args.claim_batch < 1:
        p.error("--slots-list must not be empty; counts must be positive")
    return args


def main(argv):
    args = parse_args(argv)
    for path, what in ((args.batchd, "--batchd"), (args.raw_limit, "--raw-limit")):
        if not os.access(path, os.X_OK):
            log(f"{what} {path} is not an executable (build it first: see bench/README.md)")
            return 1
    if not os.access("/usr/bin/time", os.X_OK):
        log("/usr/bin/time not found (Debian package 'time')")
        return 1

    workdir = args.workdir or tempfile.mkdtemp(prefix="batchd-drain-bench-")
    os.makedirs(workdir, exist_ok=True)
    anchor_db = os.path.join(workdir, "anchor.db")
    runs = {i: [] for i in range(len(args.slots_list))}
    raw, naive = [], []
    with guarded_run(args, workdir, log) as guard:
        for r in range(args.repeat):
            # The contenders take turns within each repeat, so a change in machine load hits
            # them alike; the limit runs right before the headline (first) configuration.
            log(f"repeat {r + 1}/{args.repeat}: raw_drain_limit batched {args.sessions}")
            raw.append(run_anchor([args.raw_limit, "batched", str(args.sessions), anchor_db,
                                   str(args.claim_batch)], "raw_drain_limit batched"))
            remove_db(anchor_db)
            for i, slots in enumerate(args.slots_list):
                label = "default" if slots is None else slots
                log(f"repeat {r + 1}/{args.repeat}: batchd --slots {label}, "
                    f"{args.sessions} sessions")
                run_dir = os.path.join(workdir, f"batchd-{label}-{r}")
                os.makedirs(run_dir)
                run = drain_batchd(args, slots, args.sessions, run_dir)
                log(f"  {run['seconds']:.3f} s ({args.sessions / run['seconds']:,.0f} sessions/s),"
                    f" 201 after {run['seconds_to_201']:.3f} s")
                runs[i].append(run)
                shutil.rmtree(os.path.join(run_dir, "data"), ignore_errors=True)
            log(f"repeat {r + 1}/{args.repeat}: raw_drain_limit naive {args.naive_sessions}")
            naive.append(run_anchor([args.raw_limit, "naive", str(args.naive_sessions),
                                     anchor_db], "raw_drain_limit naive"))
            remove_db(anchor_db)
    if guard.broke:
        log("FAILED: " + guard.broke)
        return 1
    report(args, runs, raw, naive)
    return 0


def report(args, runs, raw, naive):
    raw_s = summarize([d["seconds"] for d in raw])
    naive_s = summarize([d["seconds"] for d in naive])
    raw_rate = args.sessions / raw_s["best"]
    naive_rate = args.naive_sessions / naive_s["best"]
    rows = []
    for i, slots in enumerate(args.slots_list):
        rs = runs[i]
        best = min(rs, key=lambda x: x["seconds"])
        secs = summarize([x["seconds"] for x in rs])
        rate = args.sessions / secs["best"]
        rows.append({
            "contender": "batchd",
            "slots_arg": "default" if slots is None else slots,
            "slots": best["slots"],
            "sessions": args.sessions,
            "shape": list(submit_bench.factor_size(args.sessions, SHAPES)),
            "seconds": secs,
            "sessions_per_s": round(rate),
            "sessions_per_s_median": round(args.sessions / secs["median"]),
            "seconds_to_201": summarize([x["seconds_to_201"] for x in rs]),
            "seconds_to_state_completed": summarize([x["seconds_to_state_completed"]
                                                     for x in rs]),
            "drain_sessions_per_s": round(args.sessions / (best["seconds"]
                                                           - best["seconds_to_201"])),
            "enqueue_ms": best["enqueue_ms"],
            "daemon_span_s": best["daemon_span_s"],
            "post_to_finished_at_s": best["post_to_finished_at_s"],
            "vs_raw": round(rate / raw_rate, 3),
            "vs_naive": round(rate / naive_rate, 2),
            "peak_rss_mib": max((x["peak_rss_mib"] for x in rs if x["peak_rss_mib"] is not None),
                                default=None),
            "daemon_cpu_s": best["daemon_cpu_s"],
            "clean_stop": all(x["clean_stop"] for x in rs),
            "timeline": best["timeline"],
        })
    rows.append({"contender": "raw batched", "sessions": args.sessions,
                 "claim_batch": args.claim_batch, "seconds": raw_s,
                 "sessions_per_s": round(raw_rate), "vs_raw": 1.0,
                 "vs_naive": round(raw_rate / naive_rate, 2)})
    rows.append({"contender": "raw naive", "sessions": args.naive_sessions, "seconds": naive_s,
                 "sessions_per_s": round(naive_rate), "vs_raw": round(naive_rate / raw_rate, 4),
                 "vs_naive": 1.0})

    print(f"drain benchmark: {args.sessions:,} noop sessions, POST to all completed; "
          f"best of {args.repeat} (median in the JSON line)")
    cols = ["contender", "slots", "sessions", "seconds", "sessions/s", "201 s", "drain sess/s",
            "state s", "vs raw", "vs naive", "peak RSS MiB", "cpu s"]
    table = [cols]
    for row in rows:
        b = row["contender"] == "batchd"
        table.append([
            row["contender"],
            (f"{row['slots']}" + ("" if row["slots_arg"] != "default" else " (default)"))
            if b else "-",
            f"{row['sessions']:,}",
            f"{row['seconds']['best']:.3f}",
            f"{row['sessions_per_s']:,}",
            f"{row['seconds_to_201']['best']:.3f}" if b else "-",
            f"{row['drain_sessions_per_s']:,}" if b else "-",
            f"{row['seconds_to_state_completed']['best']:.3f}" if b else "-",
            f"{row['vs_raw']:.3f}x",
            f"{row['vs_naive']:.1f}x",
            fmt(row.get("peak_rss_mib"), ".1f"),
            fmt(row.get("daemon_cpu_s"), ".1f"),
        ])
    widths = [max(len(r[i]) for r in table) for i in range(len(cols))]
    for i, r in enumerate(table):
        print("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                        for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for row in rows:
        if row["contender"] == "batchd":
            print(f"batchd slots {row['slots']}: daemon created_at -> finished_at "
                  f"{fmt(row['daemon_span_s'], '.3f')} s, enqueue_ms {row['enqueue_ms']}; "
                  f"[s, completed, queue running, queue sessions_per_s]: {row['timeline']}")
    if not all(r.get("clean_stop", True) for r in rows):
        print("WARNING: a daemon did not stop cleanly on SIGTERM")

    # Targets on the first --slots-list configuration (the headline one); the other rows'
    # flags are informational.
    head = rows[0]
    t = {
        "evaluated_on": {"slots": head["slots"], "sessions": args.sessions},
        "sessions_per_s": {"target_min": TARGETS["sessions_per_s_min"],
                           "value": head["sessions_per_s"],
                           "met": head["sessions_per_s"] >= TARGETS["sessions_per_s_min"]},
        "vs_raw": {"target_min": TARGETS["vs_raw_min"], "value": head["vs_raw"],
                   "met": head["vs_raw"] >= TARGETS["vs_raw_min"]},
    }
    t["all_evaluated"] = args.sessions == ONE_MILLION
    t["met"] = t["sessions_per_s"]["met"] and t["vs_raw"]["met"]
    for row in rows:
        if row["contender"] == "batchd":
            row["targets_met"] = {
                "sessions_per_s": row["sessions_per_s"] >= TARGETS["sessions_per_s_min"],
                "vs_raw": row["vs_raw"] >= TARGETS["vs_raw_min"]}
    verdict = ("all met" if t["met"] and t["all_evaluated"]
               else "met (not at 1M sessions)" if t["met"] else "MISSED")
    print(f"targets (slots {head['slots']}): sessions/s >= {TARGETS['sessions_per_s_min']:,.0f}: "
          f"{'met' if t['sessions_per_s']['met'] else 'MISSED'} ({head['sessions_per_s']:,}), "
          f"vs raw >= {TARGETS['vs_raw_min']}: {'met' if t['vs_raw']['met'] else 'MISSED'} "
          f"({head['vs_raw']}) -> {verdict}")

    out = {
        "bench": "drain",
        "stat": f"best of {args.repeat}",
        "sessions": args.sessions,
        "rows": rows,
        "ratios": {f"batchd_slots_{r['slots']}": {"vs_raw": r["vs_raw"], "vs_naive": r["vs_naive"]}
                   for r in rows if r["contender"] == "batchd"},
        "daemon_peak_rss_mib": {f"slots_{r['slots']}": r["peak_rss_mib"]
                                for r in rows if r["contender"] == "batchd"},
        "targets": t,
    }
    print(json.dumps(out, separators=(",", ":")))
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
