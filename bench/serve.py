#!/usr/bin/env python3
"""Benchmarks for issue 2, measured in one run against baselines in the same run.

1. Cold start: `endwell serve` on a new SQLite file (migrations included) until
   the first request is answered, compared with spawning `endwell --version`.
2. Idle resident memory of `endwell serve` on SQLite after a few requests.
3. Caseload page latency with 5,000 engagements and 200,000 events, compared
   with the same page on a database with 50 engagements (ratio; target < 2).

Usage: bench/serve.py [--binary target/release/endwell] [--requests 300]
Build first: cargo build --release
"""
import argparse, http.cookiejar, os, re, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.parse, urllib.request


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def env_for(db):
    e = dict(os.environ)
    e.update({"ENDWELL_DATABASE": db, "ENDWELL_LOG": "warn"})
    e.pop("ENDWELL_CONFIG", None)
    return e


def start(binary, db, port):
    return subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}"], env=env_for(db),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_ready(port, timeout=30):
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return time.perf_counter()
        except Exception:
            time.sleep(0.002)
    raise SystemExit("server did not start")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cold_start(binary, runs=7):
    times, spawn = [], []
    for _ in range(runs):
        d = tempfile.mkdtemp()
        port = free_port()
        t0 = time.perf_counter()
        p = start(binary, os.path.join(d, "cold.db"), port)
        t1 = wait_ready(port)
        times.append((t1 - t0) * 1000)
        p.terminate(); p.wait(); shutil.rmtree(d)
        t0 = time.perf_counter()
        subprocess.run([binary, "--version"], stdout=subprocess.DEVNULL, check=True)
        spawn.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), statistics.median(spawn)


def idle_rss(binary):
    d = tempfile.mkdtemp()
    port = free_port()
    p = start(binary, os.path.join(d, "idle.db"), port)
    wait_ready(port)
    for path in ["/login", "/healthz", "/assets/app.css", "/api/v1/openapi.json"]:
        urllib.request.urlopen(f"http://127.0.0.1:{port}{path}").read()
    time.sleep(2)
    kib = rss_kib(p.pid)
    p.terminate(); p.wait(); shutil.rmtree(d)
    return kib / 1024


def login(port):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"http://127.0.0.1:{port}/login").read().decode()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"csrf": csrf, "email": "bench@clinic.example", "password": "endwell-bench", "next": "/caseload"}).encode()
    opener.open(f"http://127.0.0.1:{port}/login", data).read()
    return opener


def caseload_latency(binary, engagements, events, requests):
    d = tempfile.mkdtemp()
    db = os.path.join(d, "bench.db")
    t0 = time.perf_counter()
    subprocess.run([binary, "bench-seed", "--engagements", str(engagements), "--events", str(events)],
                   env=env_for(db), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seed_s = time.perf_counter() - t0
    port = free_port()
    p = start(binary, db, port)
    wait_ready(port)
    opener = login(port)
    url = f"http://127.0.0.1:{port}/caseload?state=active"
    body = opener.open(url).read().decode()
    rows = body.count("<tr>") - 1
    for _ in range(30):
        opener.open(url).read()
    lat = []
    for _ in range(requests):
        t = time.perf_counter()
        opener.open(url).read()
        lat.append((time.perf_counter() - t) * 1000)
    p.terminate(); p.wait(); shutil.rmtree(d)
    return statistics.median(lat), sorted(lat)[int(len(lat) * 0.95)], rows, seed_s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/endwell")
    ap.add_argument("--requests", type=int, default=300)
    a = ap.parse_args()
    if not os.path.exists(a.binary):
        raise SystemExit(f"{a.binary} not found: run cargo build --release first")

    cold, spawn = cold_start(a.binary)
    print(f"cold start to first request (SQLite, migrations): median {cold:.1f} ms; "
          f"baseline `endwell --version` {spawn:.1f} ms; ratio {cold / spawn:.2f}; target < 300 ms: {'PASS' if cold < 300 else 'FAIL'}")
    mb = idle_rss(a.binary)
    print(f"idle resident memory (SQLite): {mb:.1f} MB; target < 30 MB: {'PASS' if mb < 30 else 'FAIL'}")

    small = caseload_latency(a.binary, 50, 2_000, a.requests)
    big = caseload_latency(a.binary, 5_000, 200_000, a.requests)
    ratio = big[0] / small[0]
    print(f"caseload, 50 engagements / 2,000 events: median {small[0]:.2f} ms, p95 {small[1]:.2f} ms, {small[2]} rows shown")
    print(f"caseload, 5,000 engagements / 200,000 events: median {big[0]:.2f} ms, p95 {big[1]:.2f} ms, {big[2]} rows shown (seeded in {big[3]:.1f} s)")
    print(f"ratio large/small: {ratio:.2f}; target < 2: {'PASS' if ratio < 2 else 'FAIL'}")


if __name__ == "__main__":
    main()
