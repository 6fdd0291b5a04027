#!/usr/bin/python3
"""Load benchmark: batchd under a bounded loopback load, REST reads and a mixed workload.

One invocation, against one fresh daemon:
  1. seed:   POST --seed-batches small noop batches and wait until they are completed, so that
             the reads below read real rows (the list page is full);
  2. wrk:    Debian's wrk with --latency against GET /api/v1/batches/{id} and then
             GET /api/v1/batches, each for --wrk-duration seconds on --wrk-connections
             keep-alive connections: requests/s and the latency percentiles; no socket error and
             no non-2xx answer is allowed (target: >= 30 000 req/s for the batch detail);
  3. mixed:  --subscribers WebSocket clients on /api/v1/events?types=batch.enqueued,batch.finished
             and --submitters clients that each POST a noop batch of --batch-sessions sessions
             every --submit-interval-ms for --duration seconds (a keep-alive connection each);
             every POST must answer 201, every subscriber must receive batch.finished of every
             batch submitted (waited for up to --drain-timeout seconds after the last POST), and
             the submit latency percentiles are reported;
  4. the daemon's RSS (VmRSS from /proc) is sampled every second throughout; the report has it
     at the start of the mixed phase, after its warm-up (--warmup-fraction), at its end and at
     its peak: it must stay flat (the growth after the warm-up within --rss-growth-max-mib);
  5. GET /metrics at the end is read with prometheus_client's parser (Debian's
     python3-prometheus-client), when it is installed, as a format check.

Prints a table, then one JSON line. Exit 0 if the load ran without errors (missed targets are
reported, not failed), 1 if something broke (the daemon did not start or died, wrk or a client
saw an error, a subscriber missed a batch.finished, the daemon did not stop cleanly), 2 on bad
usage. Stdlib only (asyncio for the clients); run with /usr/bin/python3. See bench/README.md.
"""
import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

# The daemon wrapper (start under /usr/bin/time -v, port file, SIGTERM, peak RSS) and the HTTP
# helpers are the submit benchmark's; this file sits next to it.
from submit_bench import BenchError, Daemon, percentile, request

import http.client

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TARGETS = {
    "batch_detail_req_per_s_min": 30_000.0,
}
SUBSCRIBE_TYPES = "batch.enqueued,batch.finished"


def log(msg):
    print(f"[load_bench] {msg}", file=sys.stderr, flush=True)


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except OSError:
        return None


def noop_batch(name, sessions):
    return json.dumps({
        "name": name,
        "template": {"op": "noop", "i": 0},
        "data": [[{"field": "/i", "items": list(range(sessions))}]],
    }, separators=(",", ":")).encode()


class RssSampler:
    """Samples the daemon's VmRSS once a second on the event loop."""

    def __init__(self, pid):
        self.pid = pid
        self.samples = []  # (seconds since start, KiB)
        self.t0 = time.monotonic()

    def sample(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        kib = int(line.split()[1])
                        self.samples.append((round(time.monotonic() - self.t0, 1), kib))
                        return kib
        except OSError:
            pass
        return None

    async def run(self, stop):
        while not stop.is_set():
            self.sample()
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except asyncio.TimeoutError:
                pass


# --------------------------------------------------------------------------------------------
# wrk


def cpu_ticks(pid):
    """The process' user + system CPU time in clock ticks (/proc/PID/stat), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    except (OSError, IndexError, ValueError):
        return None


def run_wrk(args, daemon, path):
    url = f"http://127.0.0.1:{daemon.port}{path}"
    cmd = [args.wrk, "-t", str(args.wrk_threads), "-c", str(args.wrk_connections),
           "-d", f"{args.wrk_duration}s", "--latency", url]
    log("running: " + " ".join(cmd))
    load_before = load_average()
    ticks_before = cpu_ticks(daemon.pid)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.wrk_duration + 60)
    ticks_after = cpu_ticks(daemon.pid)
    if p.returncode != 0:
        raise BenchError(f"wrk failed ({p.returncode}): {p.stderr.strip()}")
    out = p.stdout
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if not m:
        raise BenchError("wrk printed no Requests/sec:\n" + out)
    result = {"path": path, "req_per_s": float(m.group(1)),
              "connections": args.wrk_connections, "threads": args.wrk_threads,
              "seconds": args.wrk_duration, "load_avg_before": load_before,
              "load_avg_after": load_average()}
    m = re.search(r"(\d+) requests in", out)
    result["requests"] = int(m.group(1)) if m else None
    # The daemon's CPU time per request: steadier than req/s on a machine shared with builds.
    if result["requests"] and ticks_before is not None and ticks_after is not None:
        seconds = (ticks_after - ticks_before) / os.sysconf("SC_CLK_TCK")
        result["daemon_cpu_us_per_request"] = round(seconds * 1e6 / result["requests"], 1)
    else:
        result["daemon_cpu_us_per_request"] = None
    dist = {}
    in_dist = False
    for line in out.splitlines():
        if "Latency Distribution" in line:
            in_dist = True
            continue
        if in_dist:
            m = re.match(r"\s*(\d+)%\s+([\d.]+)(us|ms|s)\s*$", line)
            if not m:
                break
            v = float(m.group(2)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(3)]
            dist[m.group(1)] = round(v, 3)
    result["latency_ms"] = {"p50": dist.get("50"), "p75": dist.get("75"), "p90": dist.get("90"),
                            "p99": dist.get("99")}
    errors = {}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors.update(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors["non_2xx"] = int(m.group(1))
    result["errors"] = errors
    result["error_count"] = sum(errors.values())
    return result


# --------------------------------------------------------------------------------------------
# Asyncio clients: HTTP/1.1 keep-alive POSTs and WebSocket subscribers (RFC 6455, client side)


async def read_http_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return status, body


class Submitter:
    def __init__(self, index, port, args, deadline, t0):
        self.index = index
        self.port = port
        self.args = args
        self.deadline = deadline
        self.t0 = t0
        self.latencies_ms = []
        self.batch_ids = []
        self.errors = []

    async def run(self):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        interval = self.args.submit_interval_ms / 1000.0
        # Spread the submitters over the interval so their POSTs do not arrive in lockstep.
        next_at = self.t0 + interval * self.index / max(1, self.args.submitters)
        n = 0
        try:
            while True:
                now = time.monotonic()
                if next_at > now:
                    await asyncio.sleep(next_at - now)
                if time.monotonic() >= self.deadline:
                    break
                body = noop_batch(f"load-{self.index}-{n}", self.args.batch_sessions)
                req = (b"POST /api/v1/batches HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       b"Content-Type: application/json\r\nContent-Length: " +
                       str(len(body)).encode() + b"\r\n\r\n" + body)
                started = time.monotonic()
                writer.write(req)
                status, data = await read_http_response(reader)
                self.latencies_ms.append((time.monotonic() - started) * 1000.0)
                if status != 201:
                    self.errors.append(f"POST answered {status}: {data[:200]!r}")
                else:
                    self.batch_ids.append(json.loads(data)["id"])
                n += 1
                next_at += interval
        except (OSError, asyncio.IncompleteReadError, ValueError) as e:
            self.errors.append(f"submitter {self.index}: {type(e).__name__}: {e}")
        finally:
            writer.close()


class Subscriber:
    def __init__(self, index, port):
        self.index = index
        self.port = port
        self.enqueued = set()
        self.finished = set()
        self.messages = 0
        self.errors = []
        self.closed_by_us = False
        self.hello = asyncio.get_running_loop().create_future()
        self.writer = None

    async def connect(self):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer = writer
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET /api/v1/events?types={SUBSCRIBE_TYPES} HTTP/1.1\r\n"
                      f"Host: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise BenchError(f"subscriber {self.index}: no upgrade: {head[:200]!r}")
        return reader

    def send_frame(self, opcode, payload=b""):
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        header = bytes([0x80 | opcode, 0x80 | len(payload)])  # control frames are < 126 bytes
        self.writer.write(header + mask + masked)

    async def run(self):
        try:
            reader = await self.connect()
            while True:
                b0, b1 = await reader.readexactly(2)
                opcode = b0 & 0x0F
                length = b1 & 0x7F
                if length == 126:
                    length = struct.unpack("!H", await reader.readexactly(2))[0]
                elif length == 127:
                    length = struct.unpack("!Q", await reader.readexactly(8))[0]
                payload = await reader.readexactly(length) if length else b""
                if not b0 & 0x80:
                    raise BenchError("fragmented frame (the daemon sends whole messages)")
                if opcode == 0x1:
                    self.on_text(payload)
                elif opcode == 0x9:
                    self.send_frame(0xA, payload)  # pong
                elif opcode == 0x8:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    if not self.closed_by_us:
                        self.errors.append(f"subscriber {self.index}: closed by the daemon "
                                           f"({code} {payload[2:].decode(errors='replace')})")
                    return
        except (OSError, asyncio.IncompleteReadError, BenchError, ValueError) as e:
            if not self.closed_by_us:
                self.errors.append(f"subscriber {self.index}: {type(e).__name__}: {e}")
        finally:
            if not self.hello.done():
                self.hello.set_result(False)

    def on_text(self, payload):
        self.messages += 1
        m = json.loads(payload)
        t = m.get("type")
        if t == "hello":
            self.hello.set_result(True)
        elif t == "batch.enqueued":
            self.enqueued.add(m["batch"])
        elif t == "batch.finished":
            if m.get("state") != "completed":
                self.errors.append(f"batch {m['batch']} finished {m.get('state')}")
            self.finished.add(m["batch"])

    async def close(self):
        self.closed_by_us = True
        if self.writer is not None and not self.writer.is_closing():
            try:
                self.send_frame(0x8, struct.pack("!H", 1000))
                await self.writer.drain()
            except OSError:
                pass
            self.writer.close()


async def mixed_phase(args, daemon):
    port = daemon.port
    sampler = RssSampler(daemon.pid)
    stop_sampling = asyncio.Event()
    sampler_task = asyncio.create_task(sampler.run(stop_sampling))
    result = {"submitters": args.submitters, "subscribers": args.subscribers,
              "seconds": args.duration, "batch_sessions": args.batch_sessions,
              "submit_interval_ms": args.submit_interval_ms,
              "subscribe_types": SUBSCRIBE_TYPES, "load_avg_before": load_average()}

    subscribers = [Subscriber(i, port) for i in range(args.subscribers)]
    sub_tasks = [asyncio.create_task(s.run()) for s in subscribers]
    hellos = await asyncio.wait_for(asyncio.gather(*(s.hello for s in subscribers)), 60)
    if not all(hellos):
        errors = [e for s in subscribers for e in s.errors]
        raise BenchError(f"{hellos.count(False)} subscriber(s) did not connect: {errors[:3]}")
    log(f"{len(subscribers)} subscribers connected")

    rss_start = sampler.sample()
    t0 = time.monotonic()
    deadline = t0 + args.duration
    submitters = [Submitter(i, port, args, deadline, t0) for i in range(args.submitters)]
    warmup_at = t0 + args.duration * args.warmup_fraction
    rss_warm = None

    async def note_warm():
        nonlocal rss_warm
        await asyncio.sleep(max(0.0, warmup_at - time.monotonic()))
        rss_warm = sampler.sample()

    warm_task = asyncio.create_task(note_warm())
    await asyncio.gather(*(s.run() for s in submitters))
    await warm_task
    submit_s = time.monotonic() - t0
    all_ids = [b for s in submitters for b in s.batch_ids]
    log(f"submitted {len(all_ids)} batches in {submit_s:.1f} s; waiting for batch.finished")

    # Every subscriber must see every batch finish.
    expected = set(all_ids)
    wait_deadline = time.monotonic() + args.drain_timeout
    while time.monotonic() < wait_deadline:
        if all(expected <= s.finished for s in subscribers):
            break
        if all(t.done() for t in sub_tasks):
            break
        await asyncio.sleep(0.1)
    drain_s = time.monotonic() - t0 - submit_s
    rss_end = sampler.sample()
    for s in subscribers:
        await s.close()
    await asyncio.wait(sub_tasks, timeout=10)
    stop_sampling.set()
    await sampler_task

    latencies = [x for s in submitters for x in s.latencies_ms]
    submit_errors = [e for s in submitters for e in s.errors]
    sub_errors = [e for s in subscribers for e in s.errors]
    missing_finished = sum(len(expected - s.finished) for s in subscribers)
    missing_enqueued = sum(len(expected - s.enqueued) for s in subscribers)
    subscribers_complete = sum(1 for s in subscribers if expected <= s.finished)
    result.update({
        "batches": len(all_ids),
        "sessions": len(all_ids) * args.batch_sessions,
        "submit_seconds": round(submit_s, 2),
        "batches_per_s": round(len(all_ids) / submit_s, 1) if submit_s else None,
        "drain_wait_s": round(drain_s, 2),
        "submit_latency_ms": {
            "count": len(latencies),
            "p50": round(percentile(latencies, 50), 2) if latencies else None,
            "p90": round(percentile(latencies, 90), 2) if latencies else None,
            "p99": round(percentile(latencies, 99), 2) if latencies else None,
            "max": round(max(latencies), 2) if latencies else None,
        },
        "submit_errors": len(submit_errors),
        "events_received": sum(s.messages for s in subscribers),
        "subscribers_with_every_finished": subscribers_complete,
        "finished_missing": missing_finished,
        "enqueued_missing": missing_enqueued,
        "subscriber_errors": len(sub_errors),
        "error_examples": (submit_errors + sub_errors)[:5],
        "load_avg_after": load_average(),
        "rss_mib": {
            "start": round(rss_start / 1024, 1) if rss_start else None,
            "after_warmup": round(rss_warm / 1024, 1) if rss_warm else None,
            "end": round(rss_end / 1024, 1) if rss_end else None,
            "peak": round(max(k for _, k in sampler.samples) / 1024, 1) if sampler.samples
            else None,
        },
        "rss_timeline_mib": [[t, round(k / 1024, 1)] for t, k in sampler.samples[::max(
            1, len(sampler.samples) // 20)]],
    })
    return result


# --------------------------------------------------------------------------------------------


def seed(port, args):
    """Small noop batches, all completed, so that the reads below return real rows."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    ids = []
    for i in range(args.seed_batches):
        status, data = request(conn, "POST", "/api/v1/batches", noop_batch(f"seed-{i}", 10))
        if status != 201:
            raise BenchError(f"seed POST answered {status}: {data[:200]!r}")
        ids.append(json.loads(data)["id"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, data = request(conn, "GET", "/api/v1/queue")
        q = json.loads(data)
        if q["counts"]["completed"] >= 10 * args.seed_batches:
            break
        time.sleep(0.1)
    else:
        raise BenchError("the seed batches did not complete within 60 s")
    conn.close()
    return ids


def check_metrics(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    status, data = request(conn, "GET", "/metrics")
    conn.close()
    out = {"status": status, "bytes": len(data)}
    if status != 200:
        raise BenchError(f"GET /metrics answered {status}")
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        out["parsed_by"] = None
        return out
    families = list(text_string_to_metric_families(data.decode()))
    out["parsed_by"] = "prometheus_client"
    out["families"] = len(families)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families for s in f.samples}
    route = "GET /api/v1/batches/{id}"
    out["batch_detail_requests"] = samples.get(
        ("batchd_http_requests_total", (("code", "200"), ("route", route))))
    out["sessions_claimed"] = samples.get(("batchd_sessions_claimed_total", ()))
    out["sqlite_commits"] = samples.get(("batchd_sqlite_commits_total", ()))
    return out


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batchd", default=os.path.join(REPO, "build", "daemon", "batchd"))
    p.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk")
    p.add_argument("--wrk-duration", type=int, default=10)
    p.add_argument("--wrk-connections", type=int, default=8)
    p.add_argument("--wrk-threads", type=int, default=1)
    p.add_argument("--duration", type=float, default=60.0, help="mixed phase seconds")
    p.add_argument("--submitters", type=int, default=50)
    p.add_argument("--subscribers", type=int, default=200)
    p.add_argument("--submit-interval-ms", type=float, default=1000.0,
                   help="each submitter POSTs one batch per interval")
    p.add_argument("--batch-sessions", type=int, default=20)
    p.add_argument("--seed-batches", type=int, default=100)
    p.add_argument("--drain-timeout", type=float, default=60.0)
    p.add_argument("--warmup-fraction", type=float, default=0.25)
    p.add_argument("--rss-growth-max-mib", type=float, default=16.0)
    p.add_argument("--quick", action="store_true",
                   help="smoke test: wrk 1 s, mixed 3 s with 5 submitters and 20 subscribers")
    p.add_argument("--workdir")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--daemon-arg", action="append", default=[])
    args = p.parse_args(argv)
    if args.quick:
        args.wrk_duration = 1
        args.duration = 3.0
        args.submitters = 5
        args.subscribers = 20
        args.submit_interval_ms = 200.0
        args.seed_batches = 20
        args.drain_timeout = 30.0
    if args.submitters < 1 or args.subscribers < 1 or args.duration <= 0:
        p.error("--submitters, --subscribers and --duration must be positive")
    return args


def main(argv):
    args = parse_args(argv)
    if not os.path.exists(args.wrk):
        log(f"wrk not found at {args.wrk} (Debian package wrk; scripts/install-deps.sh)")
        return 1
    workdir = args.workdir or tempfile.mkdtemp(prefix="batchd-load-")
    os.makedirs(workdir, exist_ok=True)
    data_dir = os.path.join(workdir, "data")
    os.makedirs(data_dir, exist_ok=True)
    extra = ["--event-max-subscribers", str(args.subscribers + 100)] + args.daemon_arg
    daemon = Daemon(args.batchd, data_dir, workdir, extra)
    report = {"bench": "load", "quick": args.quick, "load_avg_start": load_average()}
    broken = []
    try:
        daemon.start()
        ids = seed(daemon.port, args)
        rss_before_wrk = daemon_rss_kib(daemon.pid)
        wrk_rows = []
        for path in (f"/api/v1/batches/{ids[-1]}", "/api/v1/batches"):
            row = run_wrk(args, daemon, path)
            row["route"] = ("GET /api/v1/batches/{id}" if path != "/api/v1/batches"
                            else "GET /api/v1/batches")
            wrk_rows.append(row)
            if row["error_count"]:
                broken.append(f"wrk {row['route']}: errors {row['errors']}")
        report["wrk"] = wrk_rows
        report["rss_mib_wrk"] = {"before": kib_to_mib(rss_before_wrk),
                                 "after": kib_to_mib(daemon_rss_kib(daemon.pid))}
        mixed = asyncio.run(mixed_phase(args, daemon))
        report["mixed"] = mixed
        if mixed["submit_errors"] or mixed["subscriber_errors"]:
            broken.append(f"mixed phase errors: {mixed['error_examples']}")
        if mixed["finished_missing"]:
            broken.append(f"{mixed['finished_missing']} batch.finished events never arrived")
        if mixed["batches"] == 0:
            broken.append("no batch was submitted")
        report["metrics"] = check_metrics(daemon.port)
        if not daemon.alive():
            broken.append("the daemon died")
    except BenchError as e:
        broken.append(str(e))
    finally:
        clean = daemon.stop()
        if not clean:
            broken.append("the daemon did not stop cleanly")
        report["daemon_peak_rss_mib"] = kib_to_mib(daemon.peak_rss_kib)
        report["daemon_clean_stop"] = clean
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    report["load_avg_end"] = load_average()
    report["broken"] = broken
    add_targets(args, report)
    print_table(report)
    print(json.dumps(report, separators=(",", ":")))
    if broken:
        for b in broken:
            log("BROKEN: " + b)
        return 1
    return 0


def daemon_rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, TypeError):
        pass
    return None


def kib_to_mib(kib):
    return round(kib / 1024, 1) if kib else None


def add_targets(args, report):
    targets = {}
    wrk = {r["route"]: r for r in report.get("wrk", [])}
    detail = wrk.get("GET /api/v1/batches/{id}")
    if detail:
        v = detail["req_per_s"]
        targets["batch_detail_req_per_s"] = {
            "target_min": TARGETS["batch_detail_req_per_s_min"], "value": v,
            "met": v >= TARGETS["batch_detail_req_per_s_min"]}
    mixed = report.get("mixed")
    if mixed and mixed["rss_mib"]["after_warmup"] and mixed["rss_mib"]["end"]:
        growth = round(mixed["rss_mib"]["end"] - mixed["rss_mib"]["after_warmup"], 1)
        targets["rss_growth_after_warmup_mib"] = {
            "target_max": args.rss_growth_max_mib, "value": growth,
            "met": growth <= args.rss_growth_max_mib}
        targets["mixed_no_errors"] = {
            "met": not (mixed["submit_errors"] or mixed["subscriber_errors"] or
                        mixed["finished_missing"])}
    report["targets"] = targets


def fmt(x, spec=",.0f"):
    return "-" if x is None else format(x, spec)


def print_table(r):
    print(f"load average at start: {r.get('load_avg_start')}, at end: {r.get('load_avg_end')}")
    print()
    print(f"{'wrk route':<28} {'conns':>5} {'s':>4} {'req/s':>9} {'p50 ms':>7} {'p90 ms':>7} "
          f"{'p99 ms':>7} {'cpu us/req':>10} {'errors':>6}  load avg after")
    for w in r.get("wrk", []):
        lat = w["latency_ms"]
        print(f"{w['route']:<28} {w['connections']:>5} {w['seconds']:>4} "
              f"{fmt(w['req_per_s']):>9} {fmt(lat['p50'], '.2f'):>7} {fmt(lat['p90'], '.2f'):>7} "
              f"{fmt(lat['p99'], '.2f'):>7} {fmt(w['daemon_cpu_us_per_request'], '.1f'):>10} "
              f"{w['error_count']:>6}  {w['load_avg_after']}")
    m = r.get("mixed")
    if m:
        lat = m["submit_latency_ms"]
        rss = m["rss_mib"]
        print()
        print(f"mixed: {m['submitters']} submitters x 1 batch / {m['submit_interval_ms']:.0f} ms "
              f"({m['batch_sessions']} noop sessions each), {m['subscribers']} subscribers "
              f"({m['subscribe_types']}), {m['seconds']:.0f} s")
        print(f"{'batches':>8} {'batches/s':>9} {'POST p50':>9} {'p90':>7} {'p99':>7} {'max':>7} "
              f"{'events':>9} {'subs all':>8} {'missing':>7} {'errors':>6}")
        print(f"{m['batches']:>8} {fmt(m['batches_per_s'], '.1f'):>9} "
              f"{fmt(lat['p50'], '.2f'):>9} {fmt(lat['p90'], '.2f'):>7} "
              f"{fmt(lat['p99'], '.2f'):>7} {fmt(lat['max'], '.1f'):>7} "
              f"{m['events_received']:>9} {m['subscribers_with_every_finished']:>8} "
              f"{m['finished_missing']:>7} {m['submit_errors'] + m['subscriber_errors']:>6}")
        print(f"daemon RSS MiB: start {rss['start']}, after warm-up {rss['after_warmup']}, "
              f"end {rss['end']}, peak {rss['peak']}; load avg after {m['load_avg_after']}")
    if "daemon_peak_rss_mib" in r:
        print(f"daemon peak RSS (time -v): {r['daemon_peak_rss_mib']} MiB, "
              f"clean stop: {r.get('daemon_clean_stop')}")
    met = r.get("targets", {})
    if met:
        print("targets: " + ", ".join(
            f"{k} {'met' if v['met'] else 'MISSED'}" + (f" ({v['value']})" if "value" in v else "")
            for k, v in met.items()))
    for b in r.get("broken", []):
        print("BROKEN: " + b)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
