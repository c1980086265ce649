#!/usr/bin/env python3
"""Benchmark for issue 3's last target: the HTTP decide endpoint under load,
as a ratio to a bare axum endpoint on the same machine in the same run
(target >= 0.5 with SQLite persistence).

1. A fresh SQLite database: a practitioner and an API token made with the
   CLI, then clients and active engagements with consented agreements (the
   terms of DESIGN.md: office hours, exceptions, on-call, auto-reply, crisis
   resources) made through the JSON API.
2. `endwell serve` and `endwell bench-bare` (a hidden command: one axum route
   that deserializes the same JSON body and answers 201 with a small fixed
   JSON, on the same tokio runtime as `serve`), each on a random loopback port.
3. wrk drives both with bench/decide_http.lua: `POST
   /api/v1/engagements/{id}/contacts` rotating through a mix of engagements,
   email and SMS, RFC 5322 and plain messages, senders, and instants in
   hours, after hours, at weekends, in closures, and crisis phrases. Any
   answer but 201 fails the run.
4. Afterwards the contacts stored are counted: every 201 must be stored,
   and nothing more than was sent.

   With --dry-run every contact is decided but not stored (the answer is
   200, and nothing may be stored): what the endpoint does without
   persistence, the most storage work could ever give.

Usage: bench/decide_http.py [--binary target/release/endwell] [--duration 10]
       [--connections 32] [--threads 2] [--rounds 2] [--dry-run] [--perf FILE]
Build first: cargo build --release -p endwell
wrk and the server share the machine's cores; that is the same for both
endpoints, so the ratio is fair.
"""
import argparse, json, os, random, re, shutil, socket, sqlite3, subprocess, sys, tempfile, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]+$")

# DESIGN.md's example terms (the file the core's tests read), spoken for the
# bench practitioner, so mail to them is answered.
with open(os.path.join(HERE, "..", "crates", "endwell-core", "tests", "design-terms.toml"), encoding="utf-8") as f:
    TERMS = (f.read()
             .replace('name = "Sam Rivera"', 'name = "Bench Practitioner"')
             .replace('"sam@clinic.example"', '"bench@clinic.example"'))
assert "bench@clinic.example" in TERMS, "design-terms.toml changed: update the bench's substitutions"

# Instants (UTC; London is UTC in winter): open hours, evenings, early
# mornings, a weekend on-call spell, the Christmas closure, a training spell.
INSTANTS = [
    "2026-12-01T10:30:00Z",  # Tue, open
    "2026-12-02T14:05:00Z",  # Wed, open
    "2026-12-07T12:45:00Z",  # Mon, lunch break (closed)
    "2026-12-01T20:00:00Z",  # Tue evening
    "2026-12-03T06:30:00Z",  # Thu early morning
    "2026-12-04T16:00:00Z",  # Fri after 15:00
    "2026-12-05T11:00:00Z",  # Sat, on call for sms/voice
    "2026-12-06T19:00:00Z",  # Sun evening
    "2026-12-24T11:00:00Z",  # holiday closure
    "2027-01-15T13:00:00Z",  # training spell
]

EMAIL_BODIES = [
    "Could we move Thursday's session to Friday?",
    "I wanted to let you know the exercise went better this week.",
    "Here is the form you asked for. Thanks, and see you soon.",
    "Is the invoice for last month right? It seems higher than usual.",
]
CRISIS_BODIES = [
    "I don't want to be here anymore. I can't do this.",
    "I keep thinking about how to end it all tonight.",
]
SMS_BODIES = [
    "Running 10 min late, sorry",
    "Can we do 3pm instead of 2pm on Tuesday?",
    "I want to die",
]


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def env_for(db):
    e = dict(os.environ)
    e.update({"ENDWELL_DATABASE": db, "ENDWELL_LOG": "warn"})
    for k in ("ENDWELL_CONFIG", "ENDWELL_DATA_KEY"):
        e.pop(k, None)
    return e


def cli(binary, db, *args, password=None):
    e = env_for(db)
    if password:
        e["ENDWELL_PASSWORD"] = password
    out = subprocess.run([binary, *args], env=e, check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return out.stdout


def wait_ready(port, path, timeout=30):
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.01)
    raise SystemExit(f"server on port {port} did not start")


class Api:
    def __init__(self, port, token):
        self.base, self.token = f"http://127.0.0.1:{port}/api/v1", token

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req) as r:
                text = r.read()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            raise SystemExit(f"{method} {path}: {e.code} {e.read().decode()[:500]}")


def seed(api, n):
    """n clients, each with an active engagement under consented terms."""
    out = []
    for i in range(n):
        c = api.call("POST", "/clients", {
            "given_name": f"Client{i}", "family_name": "Example",
            "emails": [f"client{i}@example.net"], "phones": [f"+44770090{i:04d}"]})
        e = api.call("POST", "/engagements", {"client_id": c["id"], "title": f"Counselling {i}"})
        a = api.call("POST", f"/engagements/{e['id']}/agreements", {"terms_toml": TERMS, "note": "Agreed at intake"})
        api.call("POST", f"/engagements/{e['id']}/agreements/{a['version']}/consent",
                 {"given_by": f"Client{i}", "method": "in_person"})
        api.call("POST", f"/engagements/{e['id']}/transitions", {"transition": "activate"})
        out.append((e["id"], i))
    return out


def email(sender, subject, body, n):
    return (f"Return-Path: <{sender}>\r\nFrom: Client <{sender}>\r\nTo: Bench <bench@clinic.example>\r\n"
            f"Subject: {subject}\r\nMessage-ID: <m{n}@example.net>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\n{body}\r\n")


def request_mix(engagements, count=400, seed_value=3):
    """A deterministic mix of `count` requests over the engagements."""
    rnd = random.Random(seed_value)
    items = []
    for n in range(count):
        eid, i = engagements[n % len(engagements)]
        at = rnd.choice(INSTANTS)
        kind = rnd.random()
        if kind < 0.55:  # email from the client or someone else, RFC 5322
            sender = f"client{i}@example.net" if rnd.random() < 0.7 else f"someone{rnd.randrange(40)}@example.org"
            body = {"channel": "email", "message": email(sender, "Next week", rnd.choice(EMAIL_BODIES), n), "at": at}
        elif kind < 0.65:  # a crisis by email
            sender = f"client{i}@example.net"
            body = {"channel": "email", "message": email(sender, "Tonight", rnd.choice(CRISIS_BODIES), n), "at": at}
        elif kind < 0.72:  # list mail (ignored)
            body = {"channel": "email", "at": at, "message":
                    f"From: News <news@lists.example>\r\nTo: bench@clinic.example\r\nList-Id: <news.lists.example>\r\n"
                    f"Precedence: list\r\nSubject: Weekly news\r\nMessage-ID: <l{n}@lists.example>\r\n\r\nThis week's news.\r\n"}
        else:  # SMS, plain text with a sender
            body = {"channel": "sms", "message": rnd.choice(SMS_BODIES), "from": f"+44770090{i:04d}", "at": at}
        items.append((f"/api/v1/engagements/{eid}/contacts", json.dumps(body)))
    return items


def lua_string(s):
    level = "=" * 3
    assert f"]{level}]" not in s
    return f"[{level}[{s}]{level}]"


def write_requests(path, token, items, expect=None):
    """`expect`: a status besides 201 that counts as good (200 for dry runs)."""
    with open(path, "w") as f:
        f.write("return {\n  token = " + lua_string(token) + ",\n")
        if expect:
            f.write(f"  expect = {int(expect)},\n")
        f.write("  items = {\n")
        for p, b in items:
            f.write(f"    {{path = {lua_string(p)}, body = {lua_string(b)}}},\n")
        f.write("  },\n}\n")


def run_wrk(port, requests_file, threads, connections, duration):
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
           "-s", os.path.join(HERE, "decide_http.lua"), f"http://127.0.0.1:{port}", "--", requests_file]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    if out.stderr.strip():
        sys.stderr.write(out.stderr)
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT ")), None)
    if out.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    r = {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
    r["rps"] = r["completed"] / (r["duration_us"] / 1e6)
    errors = sum(r[k] for k in r if k.startswith("errors_"))
    if r["bad"] or errors:
        raise SystemExit(f"FAIL: {int(r['bad'])} answers were not 201 and wrk counted {int(errors)} errors: {line}")
    return r


def fmt(r):
    return (f"{r['rps']:8.0f} req/s   p50 {r['p50_us'] / 1000:6.2f} ms   p90 {r['p90_us'] / 1000:6.2f} ms   "
            f"p99 {r['p99_us'] / 1000:6.2f} ms   ({int(r['completed'])} requests)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/endwell")
    ap.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per endpoint")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2, help="bare, decide pairs")
    ap.add_argument("--engagements", type=int, default=8)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--dry-run", action="store_true",
                    help="send every contact as a dry run (decided, not stored): the endpoint's ceiling without persistence")
    ap.add_argument("--perf", metavar="FILE", help="record the server with `perf record -g` during the first decide round")
    a = ap.parse_args()
    if not os.path.exists(a.binary):
        raise SystemExit(f"{a.binary} not found: run cargo build --release -p endwell first")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (Debian's package)")

    d = tempfile.mkdtemp(prefix="endwell-decide-")
    db = os.path.join(d, "bench.db")
    procs = []
    try:
        cli(a.binary, db, "user", "add", "--email", "bench@clinic.example", "--name", "Bench Practitioner",
            "--timezone", "Europe/London", "--json", password="endwell-bench")
        token = json.loads(cli(a.binary, db, "token", "create", "--email", "bench@clinic.example", "--json"))["token"]
        assert TOKEN_RE.match(token)
        # The practitioner's own calendar (weekly supervision, a training day),
        # so every decision also folds calendar closures into the terms.
        ics = os.path.join(d, "calendar.ics")
        with open(ics, "w", newline="") as f:
            f.write("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n"
                    "BEGIN:VEVENT\r\nUID:sup@bench\r\nDTSTAMP:20261101T000000Z\r\n"
                    "DTSTART;TZID=Europe/London:20261104T160000\r\nDTEND;TZID=Europe/London:20261104T170000\r\n"
                    "RRULE:FREQ=WEEKLY;COUNT=60\r\nSUMMARY:Supervision\r\nEND:VEVENT\r\n"
                    "BEGIN:VEVENT\r\nUID:training@bench\r\nDTSTAMP:20261101T000000Z\r\n"
                    "DTSTART;VALUE=DATE:20261210\r\nDTEND;VALUE=DATE:20261211\r\nSUMMARY:Training\r\nEND:VEVENT\r\n"
                    "END:VCALENDAR\r\n")
        cli(a.binary, db, "calendar", "import", ics, "--email", "bench@clinic.example", "--name", "Bench calendar")

        port, bare_port = free_port(), free_port()
        server = subprocess.Popen([a.binary, "serve", "--listen", f"127.0.0.1:{port}"], env=env_for(db),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append(server)
        bare = subprocess.Popen([a.binary, "bench-bare", "--listen", f"127.0.0.1:{bare_port}"], env=env_for(db),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(bare)
        wait_ready(port, "/healthz")
        wait_ready(bare_port, "/healthz")

        engagements = seed(Api(port, token), a.engagements)
        requests_file = os.path.join(d, "requests.lua")
        mix = request_mix(engagements)
        if a.dry_run:
            mix = [(p, json.dumps({**json.loads(b), "dry_run": True})) for p, b in mix]
        write_requests(requests_file, token, mix, expect=200 if a.dry_run else None)

        # Is the mix what it claims to be? One dry run of each kind, by action.
        api = Api(port, token)
        actions = {}
        for p, b in request_mix(engagements)[:80]:
            body = json.loads(b)
            body["dry_run"] = True
            out = api.call("POST", p.removeprefix("/api/v1"), body)
            actions[out["action"]] = actions.get(out["action"], 0) + 1
        print(f"mix: {a.engagements} engagements, 400 requests rotating; actions in the first 80 (dry run): "
              + ", ".join(f"{k} {v}" for k, v in sorted(actions.items())))
        print(f"wrk -t{a.threads} -c{a.connections} -d{a.duration}s, {os.cpu_count()} cores shared by wrk and the server")

        sent = created = 0
        for port_, is_decide in ((bare_port, False), (port, True)):  # warm-up
            r = run_wrk(port_, requests_file, a.threads, a.connections, a.warmup)
            if is_decide:
                sent += r["sent"]; created += r["created"]
        results = {"bare": [], "decide": []}
        for n in range(a.rounds):
            for name, port_ in (("bare", bare_port), ("decide", port)):
                perf = None
                if a.perf and name == "decide" and n == 0:
                    perf = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-o", a.perf, "-p", str(server.pid)],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                r = run_wrk(port_, requests_file, a.threads, a.connections, a.duration)
                if perf:
                    perf.send_signal(2)
                    perf.wait(timeout=60)
                results[name].append(r)
                if name == "decide":
                    sent += r["sent"]; created += r["created"]
                print(f"round {n + 1} {name:6} {fmt(r)}")

        server.terminate()
        server.wait(timeout=30)
        stored = sqlite3.connect(db).execute("SELECT COUNT(*) FROM contacts").fetchone()[0]
        in_flight = int(sent - created)
        ok = stored == 0 if a.dry_run else created <= stored <= sent
        answers = "200 answers (dry runs)" if a.dry_run else "201 answers"
        print(f"contacts stored {stored}; {answers} {int(created)}; sent but unanswered when wrk stopped {in_flight}: "
              f"{'OK' if ok else 'FAIL'}")

        def total(name):
            rs = results[name]
            done = sum(r["completed"] for r in rs)
            secs = sum(r["duration_us"] for r in rs) / 1e6
            return done / secs, sorted(r["p50_us"] for r in rs)[len(rs) // 2] / 1000, max(r["p99_us"] for r in rs) / 1000

        (drps, dp50, dp99), (brps, bp50, bp99) = total("decide"), total("bare")
        ratio = drps / brps
        print(f"decide: {drps:.0f} req/s, p50 {dp50:.2f} ms, p99 {dp99:.2f} ms")
        print(f"bare:   {brps:.0f} req/s, p50 {bp50:.2f} ms, p99 {bp99:.2f} ms")
        print(f"ratio decide/bare: {ratio:.3f}; target >= 0.5: {'PASS' if ratio >= 0.5 else 'FAIL'}")
        if not ok:
            raise SystemExit(1)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if a.keep:
            print(f"kept {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
