#!/usr/bin/python3
"""Remote store benchmark: batchd `stats` over file://, https:// and s3:// of the same arrays.

Issue 12 (acceptance 7). One run, one daemon, and per array the same bytes behind three stores:
  * file://   the array's directory (the anchor: no network at all),
  * https://  Debian's nginx on loopback serving that directory over TLS, with a certificate
              that a CA made by `openssl` in the run signed (the daemon gets --ca-file),
  * s3://     s3rver (tests/s3, npm @20minutes/s3rver) on loopback, verifying SigV4, the array
              uploaded by boto3 (tests/s3/s3_client.py); the daemon signs with the same key.
And zarr-python (../shared/anchors/peer_zarr_stats.py) reading the same store where it can:
the local directory, and the https:// URL through fsspec's HTTP filesystem (aiohttp; Debian's
python3-fsspec, python3-aiohttp), trusting the run's CA by SSL_CERT_FILE. Debian 12 has no
s3fs, and its zarr-python 2 reads no zarr v3, so those rows are left out (shown as "-").
Arrays (the data recipe of make_zarr.py):
  * big:        a zarr v2 <f4 array in 256 KiB zstd chunks (make_zarr.py), for GB/s;
  * 4k:         zarr v3 <f4 in 4 KiB (32x32) zstd chunks, one object per chunk
                (tests/e2e/make_zarr_v3.py), for chunks/s;
  * 4k-sharded: the same data, the same 4 KiB inner chunks in 256 KiB shards of 64 inner chunks
                (tests/e2e/make_zarr_sharded.py, index at the end with its CRC-32C): the pipeline
                reads each shard's index, then its inner chunks with merged Range requests.
Each batchd row is the median of --repeats stats sessions over the whole array, with the
daemon's default limits (what a job that sets none gets); the time runs from the POST to the
first poll that shows the batch completed. GB/s is the decoded bytes over that time, chunks/s
the (inner) chunks. zarr-python's time is its own (open and read, in the process).
Every result, batchd's and zarr-python's, must equal the numpy oracle of the script that wrote
the array (count, nan_count, min, max exactly; sum within 1e-9).

Prints a table, then one JSON line. Exit 0 if it ran (figures are reported, never judged), 1 if
something broke (a server did not start, a session failed, a result differs from numpy, the
report is malformed), 2 on bad usage. Stdlib only; run with /usr/bin/python3.
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chunk_bench import last_json_line, stats_mismatch  # noqa: E402
from http_source_bench import free_port, run_session  # noqa: E402
from submit_bench import BenchError, Daemon, guarded_run  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SYSTEM_PYTHON = "/usr/bin/python3"
OPENSSL = "/usr/bin/openssl"
S3_DIR = os.path.join(REPO, "tests", "s3")
S3_KEY_ID = "BENCHKEY"
S3_SECRET = "bench/secret+key"
S3_BUCKET = "bench"
STORES = ("file", "https", "s3")

# (label, shape, chunks, shards or None, writer) per array; --quick shrinks the shapes.
SHAPES = {"full": {"big": (2048, 2048), "small": (1024, 1024)},
          "quick": {"big": (512, 512), "small": (256, 256)}}
BIG_CHUNKS = (256, 256)  # 256 KiB of <f4
SMALL_CHUNKS = (32, 32)  # 4 KiB of <f4
SHARDS = (256, 256)  # 64 inner chunks of 4 KiB


def log(msg):
    print(f"[remote_store_bench] {msg}", file=sys.stderr, flush=True)


def run(cmd, what, env=None, timeout=600):
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise BenchError(f"{what} exited {proc.returncode}: {proc.stderr.strip()[-1500:]}")
    return proc.stdout


def wait_for_port(port, proc, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"{what} did not answer on port {port} within {timeout} s")


def stop(proc, what):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        log(f"{what} did not stop on SIGTERM; killing it")
        proc.kill()
        proc.wait()


def make_certificates(d):
    """A CA and a server certificate it signed for localhost and 127.0.0.1 (EC P-256)."""
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca, ca_key = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
    cert, cert_key = os.path.join(d, "server.pem"), os.path.join(d, "server.key")
    csr, ext = os.path.join(d, "server.csr"), os.path.join(d, "server.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n"
                "subjectAltName = DNS:localhost, IP:127.0.0.1\n")
    run([OPENSSL, "req", "-x509", "-new", *key, "-keyout", ca_key, "-out", ca, "-days", "2",
         "-subj", "/CN=remote_store_bench CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"], "openssl req (CA)")
    run([OPENSSL, "req", "-new", *key, "-keyout", cert_key, "-out", csr, "-subj", "/CN=localhost"],
        "openssl req (server)")
    run([OPENSSL, "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "2", "-extfile", ext], "openssl x509 (sign)")
    return ca, cert, cert_key


class Nginx:
    """nginx serving `root` over https on a loopback port (one process, our own user)."""

    def __init__(self, root, cert, key, work):
        self.root, self.cert, self.key, self.work = root, cert, key, work
        self.port = None
        self.proc = None

    def __enter__(self):
        os.makedirs(os.path.join(self.work, "tmp"), exist_ok=True)
        for _ in range(5):
            self.port = free_port()
            temp = "".join(f"  {k}_temp_path {self.work}/tmp/{k};\n"
                           for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
            with open(os.path.join(self.work, "nginx.conf"), "w") as f:
                f.write(f"daemon off;\nmaster_process off;\npid {self.work}/nginx.pid;\n"
                        f"error_log {self.work}/error.log warn;\n"
                        "events { worker_connections 4096; }\n"
                        "http {\n  access_log off;\n  default_type application/octet-stream;\n"
                        f"  keepalive_requests 100000;\n  sendfile on;\n{temp}"
                        f"  server {{\n    listen 127.0.0.1:{self.port} ssl;\n"
                        f"    ssl_certificate {self.cert};\n    ssl_certificate_key {self.key};\n"
                        f"    root {self.root};\n  }}\n}}\n")
            self._log = open(os.path.join(self.work, "nginx.stderr"), "wb")
            self.proc = subprocess.Popen(
                ["/usr/sbin/nginx", "-p", self.work + "/", "-c", self.work + "/nginx.conf",
                 "-e", self.work + "/error.log"],
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
            if wait_for_port(self.port, self.proc, "nginx"):
                return self
            self._log.close()
        raise BenchError(f"nginx did not start: {tail(os.path.join(self.work, 'error.log'))}")

    def url(self, path):
        return f"https://127.0.0.1:{self.port}{path}"

    def __exit__(self, *exc):
        stop(self.proc, "nginx")
        self._log.close()


class S3rver:
    """tests/s3/s3rver_main.js on a loopback port, with one bucket and the bench's key."""

    def __init__(self, work):
        self.work = work
        self.port = None
        self.proc = None

    def __enter__(self):
        if not os.path.exists(os.path.join(S3_DIR, "node_modules", "@20minutes", "s3rver")):
            log("npm ci in tests/s3")
            run(["npm", "ci", "--prefix", S3_DIR, "--no-audit", "--no-fund"], "npm ci")
        os.makedirs(os.path.join(self.work, "data"), exist_ok=True)
        log_path = os.path.join(self.work, "s3rver.log")
        for _ in range(5):
            self.port = free_port()
            self._log = open(log_path, "wb")
            self.proc = subprocess.Popen(
                ["node", os.path.join(S3_DIR, "s3rver_main.js"), os.path.join(self.work, "data"),
                 str(self.port), S3_KEY_ID, S3_SECRET, os.path.join(self.work, "access.log"),
                 S3_BUCKET],
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.proc.poll() is None:
                if "s3rver listening on" in tail(log_path):
                    return self
                time.sleep(0.05)
            stop(self.proc, "s3rver")
            self._log.close()
            if "EADDRINUSE" not in tail(log_path):
                break
        raise BenchError(f"s3rver did not start: {tail(log_path)}")

    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def upload(self, prefix, directory):
        run([SYSTEM_PYTHON, os.path.join(S3_DIR, "s3_client.py"), self.endpoint(), S3_KEY_ID,
             S3_SECRET, "upload-dir", S3_BUCKET, prefix, directory], "s3_client.py upload-dir")

    def __exit__(self, *exc):
        stop(self.proc, "s3rver")
        self._log.close()


def tail(path, n=1500):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


def make_arrays(args, root):
    """Writes the three arrays; returns [(label, path, oracle, chunk count, nbytes)]."""
    shapes = SHAPES["quick" if args.quick else "full"]
    big, small = shapes["big"], shapes["small"]
    dims = lambda t: ",".join(str(x) for x in t)  # noqa: E731
    specs = [
        ("big", [SYSTEM_PYTHON, args.make_zarr, "--shape", dims(big), "--chunks",
                 dims(BIG_CHUNKS), "--compressor", "zstd"], big, BIG_CHUNKS),
        ("4k", [SYSTEM_PYTHON, os.path.join(REPO, "tests", "e2e", "make_zarr_v3.py"), "--shape",
                dims(small), "--chunks", dims(SMALL_CHUNKS)], small, SMALL_CHUNKS),
        ("4k-sharded", [SYSTEM_PYTHON, os.path.join(REPO, "tests", "e2e", "make_zarr_sharded.py"),
                        "--shape", dims(small), "--shards", dims(SHARDS), "--chunks",
                        dims(SMALL_CHUNKS), "--index-crc32c"], small, SMALL_CHUNKS),
    ]
    arrays = []
    for label, cmd, shape, chunks in specs:
        path = os.path.join(root, label)
        log(f"writing {label} {shape} in {chunks} chunks")
        oracle = last_json_line(run(cmd[:2] + [path] + cmd[2:], cmd[1]), cmd[1])
        count = 1
        for s, c in zip(shape, chunks):
            count *= -(-s // c)
        arrays.append({"label": label, "path": path, "oracle": oracle, "chunks": count,
                       "nbytes": shape[0] * shape[1] * 4, "zarr_v2": label == "big"})
    return arrays


def row(array, store, reader, seconds):
    med = statistics.median(seconds)
    return {"array": array["label"], "store": store, "reader": reader,
            "median_s": round(med, 4), "min_s": round(min(seconds), 4),
            "gb_per_s": round(array["nbytes"] / med / 1e9, 4) if med > 0 else None,
            "chunks_per_s": round(array["chunks"] / med, 1) if med > 0 else None}


def run_batchd(args, conn, array, store, url):
    seconds = []
    for _ in range(args.repeats):
        s, batch = run_session(conn, {"op": "stats", "source": {"url": url}}, args.timeout)
        wrong = stats_mismatch(batch.get("result") or {}, array["oracle"])
        if wrong:
            raise BenchError(f"batchd stats of {array['label']} over {store}: {wrong}")
        seconds.append(s)
    return row(array, store, "batchd", seconds)


def run_zarr_python(args, array, store, where, ca):
    env = dict(os.environ, SSL_CERT_FILE=ca)
    seconds = []
    for _ in range(args.repeats):
        doc = last_json_line(run([SYSTEM_PYTHON, args.peer, where], "peer_zarr_stats.py", env),
                             "peer_zarr_stats.py")
        wrong = stats_mismatch(doc, array["oracle"])
        if wrong:
            raise BenchError(f"zarr-python stats of {array['label']} over {store}: {wrong}")
        seconds.append(doc["seconds"])
    return row(array, store, "zarr-python", seconds)


def check_report(arrays, rows):
    """The report has one batchd row per array and store, and every figure is a positive
    number: a benchmark that printed less broke."""
    want = {(a["label"], s) for a in arrays for s in STORES}
    got = {(r["array"], r["store"]) for r in rows if r["reader"] == "batchd"}
    if got != want:
        raise BenchError(f"batchd rows missing: {sorted(want - got)}")
    for r in rows:
        for key in ("median_s", "gb_per_s", "chunks_per_s"):
            if not isinstance(r[key], (int, float)) or r[key] <= 0:
                raise BenchError(f"row {r} has no positive {key}")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batchd", default=os.path.join(REPO, "build", "daemon", "batchd"))
    p.add_argument("--shared", default=os.path.join(REPO, "..", "shared"),
                   help="where anchors/make_zarr.py and anchors/peer_zarr_stats.py live")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true",
                   help="small arrays, 1 repeat (the CI smoke run)")
    p.add_argument("--timeout", type=float, default=600.0, help="per session, a hang guard")
    p.add_argument("--workdir", help="keep the work here")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(argv)
    args.make_zarr = os.path.join(args.shared, "anchors", "make_zarr.py")
    args.peer = os.path.join(args.shared, "anchors", "peer_zarr_stats.py")
    if args.quick:
        args.repeats = 1
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    return args


def main(argv):
    args = parse_args(argv)
    for path, what in ((args.batchd, "--batchd"), (args.make_zarr, "--shared"),
                       (args.peer, "--shared"), (OPENSSL, "openssl"),
                       ("/usr/sbin/nginx", "nginx")):
        if not os.path.exists(path):
            print(f"{what}: {path} does not exist", file=sys.stderr)
            return 2
    workdir = args.workdir or tempfile.mkdtemp(prefix="remote-store-bench-")
    os.makedirs(workdir, exist_ok=True)
    rows = []
    with guarded_run(args, workdir, log) as outcome:
        root = os.path.join(workdir, "arrays")
        if os.path.exists(root):
            shutil.rmtree(root)
        os.makedirs(root)
        arrays = make_arrays(args, root)
        certs = os.path.join(workdir, "certs")
        os.makedirs(certs, exist_ok=True)
        ca, cert, key = make_certificates(certs)
        credentials = os.path.join(workdir, "credentials")
        with open(credentials, "w") as f:
            f.write(f"[default]\naws_access_key_id = {S3_KEY_ID}\n"
                    f"aws_secret_access_key = {S3_SECRET}\n")
        with Nginx(root, cert, key, os.path.join(workdir, "nginx")) as nginx, \
                S3rver(os.path.join(workdir, "s3rver")) as s3:
            for a in arrays:
                log(f"uploading {a['label']} to s3rver")
                s3.upload(a["label"], a["path"])
            data_dir = os.path.join(workdir, "data")
            shutil.rmtree(data_dir, ignore_errors=True)
            daemon = Daemon(args.batchd, data_dir, workdir,
                            ["--file-root", root, "--http-allow", f"127.0.0.1:{nginx.port}",
                             "--http-allow", f"127.0.0.1:{s3.port}", "--ca-file", ca,
                             "--s3-endpoint", s3.endpoint(), "--s3-credentials", credentials])
            daemon.start()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=60)
                for a in arrays:
                    urls = {"file": "file://" + a["path"],
                            "https": nginx.url("/" + a["label"]),
                            "s3": f"s3://{S3_BUCKET}/{a['label']}"}
                    for store in STORES:
                        rows.append(run_batchd(args, conn, a, store, urls[store]))
                        log(f"batchd {a['label']} over {store}: {rows[-1]['median_s']} s")
                    if a["zarr_v2"]:
                        for store, where in (("file", a["path"]), ("https", urls["https"])):
                            rows.append(run_zarr_python(args, a, store, where, ca))
                            log(f"zarr-python {a['label']} over {store}: "
                                f"{rows[-1]['median_s']} s")
                conn.close()
            finally:
                daemon.stop()
        check_report(arrays, rows)
    if outcome.broke:
        print(f"remote_store_bench: broke: {outcome.broke}", file=sys.stderr)
        return 1
    base = {(r["array"], r["reader"]): r["median_s"] for r in rows if r["store"] == "file"}
    for r in rows:
        r["vs_file"] = round(r["median_s"] / base[(r["array"], r["reader"])], 2)
    print(f"stats sessions, median of {args.repeats}; https: nginx (TLS), s3: s3rver (SigV4), "
          f"both on loopback; x file: time / the same reader's file:// time")
    print(f"{'array':<11} {'store':<6} {'reader':<12} {'median s':>9} {'GB/s':>8} "
          f"{'chunks/s':>10} {'x file':>7}")
    for r in rows:
        print(f"{r['array']:<11} {r['store']:<6} {r['reader']:<12} {r['median_s']:>9.3f} "
              f"{r['gb_per_s']:>8.4f} {r['chunks_per_s']:>10.0f} {r['vs_file']:>7}")
    print(json.dumps({"bench": "remote_store", "quick": args.quick, "repeats": args.repeats,
                      "arrays": [{k: a[k] for k in ("label", "chunks", "nbytes")} |
                                 {"shape": a["oracle"]["shape"]} for a in arrays],
                      "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
