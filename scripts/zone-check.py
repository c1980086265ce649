#!/usr/bin/env python3
"""Check `endwell availability` against an independent reading with Python's zoneinfo.

DESIGN.md, "CLI contract for scripting": office hours are ranges within one
local day ("24:00" may end a range). A local time that does not exist (clocks
go forward) or occurs twice (clocks go back) is read with the offset in force
before the change (RFC 5545). Touching ranges, also across midnight, form one
open spell. `next_open` is the start of the next open spell when closed (null
when open or never open within a year); `next_close` is the end of the current
spell when open (null when closed, or when the spell does not end within a
year). Exceptions close whole local days (`to` inclusive) or a spell between
two local times.

This script writes a few terms files (London, New York, Lord Howe, Dublin,
Kolkata; ranges that fall in the gaps and folds of daylight saving, ranges
touching across midnight, exceptions across transitions), asks the CLI about
~300 instants (around every 2026–2027 transition, at spell edges, and at
random), computes the same answers here, and exits non-zero on any mismatch.

    python3 scripts/zone-check.py            # builds target/debug/endwell first
    CARGO_TARGET_DIR=/tmp/t python3 scripts/zone-check.py
    python3 scripts/zone-check.py -v         # print every comparison
"""

import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

UTC = dt.timezone.utc
HORIZON = dt.timedelta(days=366)
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ROOT = Path(__file__).resolve().parent.parent

WEEKDAYS = {d: ["09:00-12:30", "13:30-17:00"] for d in DAYS[:5]}

TERMS = [
    {
        "name": "london",
        "zone": "Europe/London",
        "hours": {
            **WEEKDAYS,
            "mon": ["00:00-02:00", "09:00-12:30", "13:30-17:00"],
            "sat": ["20:00-24:00"],
            # Spring: 01:00 GMT -> 02:00 BST, so 01:30 does not exist. Autumn: 01:00-02:00 twice.
            "sun": ["00:00-01:30", "01:30-03:00", "22:00-24:00"],
        },
        "exceptions": [
            ("2026-12-24", "2026-12-28"),
            ("2026-10-25T00:30", "2026-10-25T01:45"),  # ends in the fold
            ("2027-03-28T01:15", "2027-03-28T02:30"),  # starts in the gap
            ("2027-10-31", "2027-10-31"),  # a 25-hour day
        ],
    },
    {
        "name": "new_york",
        "zone": "America/New_York",
        "hours": {
            **{d: ["08:00-16:00"] for d in DAYS[:5]},
            "sat": ["23:00-24:00"],
            # Spring: 02:00 EST -> 03:00 EDT. Autumn: 02:00 EDT -> 01:00 EST.
            "sun": ["00:00-01:00", "01:00-02:30", "02:30-03:00", "12:00-13:00"],
        },
        "exceptions": [
            ("2027-11-07", "2027-11-07"),
            ("2026-03-08T02:15", "2026-03-08T02:45"),  # inside the gap
        ],
    },
    {
        "name": "lord_howe",
        "zone": "Australia/Lord_Howe",
        "hours": {
            **{d: ["09:00-17:00"] for d in DAYS[:4]},
            "fri": ["09:00-17:00", "17:00-24:00"],
            "sat": ["00:00-03:00"],
            # April: 02:00 +11 -> 01:30 +10:30. October: 02:00 +10:30 -> 02:30 +11.
            "sun": ["01:00-02:00", "02:00-02:30", "02:45-04:00"],
        },
        "exceptions": [
            ("2026-10-04T01:00", "2026-10-04T02:15"),
            ("2027-04-04", "2027-04-04"),
        ],
    },
    {
        "name": "dublin",
        "zone": "Europe/Dublin",
        "hours": {
            **{d: ["10:00-18:00"] for d in DAYS[:5]},
            "sat": ["00:30-01:30", "23:00-24:00"],
            "sun": ["00:00-01:00", "01:00-02:00", "02:00-02:05"],
        },
        "exceptions": [("2026-03-29T00:30", "2026-03-29T01:30")],
    },
    {
        "name": "kolkata",
        "zone": "Asia/Kolkata",
        "hours": {
            **{d: ["09:30-18:00"] for d in DAYS[:5]},
            "sat": ["23:30-24:00"],
            "sun": ["00:00-24:00"],
        },
        "exceptions": [("2026-08-15", "2026-08-16"), ("2027-01-26T00:00", "2027-01-27T12:00")],
    },
]


# --- The reading of the contract, with zoneinfo -----------------------------------------------


def local_instant(naive: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """A local wall-clock time as RFC 5545 reads it. With zoneinfo, fold=0 gives the offset in
    force before the transition both for a time in a gap and for a time in a fold (PEP 495);
    `self_check` confirms that on known transitions."""
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


def minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def at_minutes(day: dt.date, m: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=m)  # 24:00 is the next midnight


def merge(spells):
    out = []
    for s, e in sorted(spells):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def subtract(spells, closed):
    out = []
    for s, e in spells:
        pieces = [(s, e)]
        for cs, ce in closed:
            nxt = []
            for ps, pe in pieces:
                if ce <= ps or cs >= pe:
                    nxt.append((ps, pe))
                    continue
                if cs > ps:
                    nxt.append((ps, cs))
                if ce < pe:
                    nxt.append((ce, pe))
            pieces = nxt
        out.extend(pieces)
    return out


def closed_spells(terms, tz):
    out = []
    for a, b in terms["exceptions"]:
        if "T" in a:
            s = local_instant(dt.datetime.fromisoformat(a), tz)
            e = local_instant(dt.datetime.fromisoformat(b), tz)
        else:
            s = local_instant(at_minutes(dt.date.fromisoformat(a), 0), tz)
            e = local_instant(at_minutes(dt.date.fromisoformat(b), 1440), tz)
        if e > s:
            out.append((s, e))
    return merge(out)


def open_spells(terms, at: dt.datetime):
    """Open spells over local days from a few days before `at` to beyond the horizon."""
    tz = ZoneInfo(terms["zone"])
    today = at.astimezone(tz).date()
    raw = []
    for k in range(-3, 372):
        day = today + dt.timedelta(days=k)
        for r in terms["hours"].get(DAYS[day.weekday()], []):
            a, b = r.split("-")
            s = local_instant(at_minutes(day, minutes(a)), tz)
            e = local_instant(at_minutes(day, minutes(b)), tz)
            if e > s:  # a range folded onto itself is empty that day
                raw.append((s, e))
    return merge(subtract(merge(raw), closed_spells(terms, tz)))


def expected(terms, at: dt.datetime):
    horizon = at + HORIZON
    for s, e in open_spells(terms, at):
        if s <= at < e:
            return {"open": True, "next_open": None, "next_close": e if e <= horizon else None}
        if s > at:
            return {"open": False, "next_open": s if s <= horizon else None, "next_close": None}
    return {"open": False, "next_open": None, "next_close": None}


# --- Instants -------------------------------------------------------------------------------


def transitions(zone: str, start: dt.datetime, end: dt.datetime):
    """Instants at which the zone's UTC offset changes, to the second."""
    tz = ZoneInfo(zone)
    off = lambda t: t.astimezone(tz).utcoffset()  # noqa: E731
    found = []
    t = start
    step = dt.timedelta(hours=1)
    while t < end:
        if off(t) != off(t + step):
            lo, hi = t, t + step  # off(lo) != off(hi); find the first instant with the new offset
            while hi - lo > dt.timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if off(mid) == off(lo):
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
        t += step
    return found


def self_check():
    """The zoneinfo reading agrees with DESIGN.md's worked examples."""
    ldn, howe = ZoneInfo("Europe/London"), ZoneInfo("Australia/Lord_Howe")
    cases = [
        (ldn, "2026-03-29T01:30", "2026-03-29T01:30:00+00:00"),  # gap: offset before (GMT)
        (ldn, "2026-03-29T02:00", "2026-03-29T01:00:00+00:00"),
        (ldn, "2026-10-25T01:30", "2026-10-25T00:30:00+00:00"),  # fold: first occurrence (BST)
        (ldn, "2026-10-25T02:30", "2026-10-25T02:30:00+00:00"),
        (howe, "2026-04-05T01:00", "2026-04-04T14:00:00+00:00"),
        (howe, "2026-04-05T02:00", "2026-04-04T15:30:00+00:00"),
    ]
    for tz, local, want in cases:
        got = local_instant(dt.datetime.fromisoformat(local), tz)
        assert got == dt.datetime.fromisoformat(want), (tz, local, got, want)
    assert [t.isoformat() for t in transitions("Europe/London", utc(2026, 1, 1), utc(2027, 1, 1))] == [
        "2026-03-29T01:00:00+00:00",
        "2026-10-25T01:00:00+00:00",
    ]


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def rfc3339(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def instants(terms, rng: random.Random):
    start, end = utc(2026, 1, 1), utc(2028, 1, 1)
    out = set()
    trans = transitions(terms["zone"], start, end)
    for t in trans:
        for m in (-180, -61, -60, -30, -1, 0, 1, 30, 59, 60, 61, 90, 180):
            out.add(t + dt.timedelta(minutes=m))
        out.add(t - dt.timedelta(seconds=1))
        out.add(t + dt.timedelta(seconds=rng.randrange(-10800, 10800)))
        # Every spell edge within three hours after the transition, and a second before it.
        for s, e in open_spells(terms, t - dt.timedelta(hours=3)):
            for edge in (s, e):
                if abs(edge - t) <= dt.timedelta(hours=3):
                    out.add(edge)
                    out.add(edge - dt.timedelta(seconds=1))
    span = int((end - start).total_seconds())
    n = 60 if not trans else 14
    for _ in range(n):
        t = start + dt.timedelta(seconds=rng.randrange(span))
        out.add(t.replace(second=0) if rng.random() < 0.5 else t)
    if not trans:  # no transitions: local midnights on the days spells touch across
        for _ in range(30):
            day = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(730))
            mid = local_instant(at_minutes(day, 0), ZoneInfo(terms["zone"]))
            out.add(mid + dt.timedelta(seconds=rng.choice((-1, 0, 1))))
    return sorted(out)


# --- The CLI --------------------------------------------------------------------------------


def toml_of(terms) -> str:
    lines = [f'timezone = "{terms["zone"]}"', "[office_hours]"]
    for d in DAYS:
        ranges = ", ".join(f'"{r}"' for r in terms["hours"].get(d, []))
        lines.append(f"{d} = [{ranges}]")
    for a, b in terms["exceptions"]:
        lines += ["[[exceptions]]", f'from = "{a}"', f'to = "{b}"']
    return "\n".join(lines) + "\n"


def build() -> Path:
    if os.environ.get("ENDWELL_BIN"):
        return Path(os.environ["ENDWELL_BIN"])
    subprocess.run(["cargo", "build", "-q", "-p", "endwell"], cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    if not target.is_absolute():
        target = ROOT / target
    return target / "debug" / "endwell"


def ask(binary: Path, path: Path, at: dt.datetime):
    cmd = [str(binary), "availability", "--terms", str(path), "--at", rfc3339(at), "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    got = json.loads(p.stdout)
    parse = lambda v: None if v is None else dt.datetime.fromisoformat(v.replace("Z", "+00:00"))  # noqa: E731
    return {
        "open": got["open"],
        "next_open": parse(got["next_open"]),
        "next_close": parse(got["next_close"]),
    }, got


def show(o) -> str:
    f = lambda v: "null" if v is None else rfc3339(v)  # noqa: E731
    return f"open={o['open']} next_open={f(o['next_open'])} next_close={f(o['next_close'])}"


def main() -> int:
    verbose = "-v" in sys.argv[1:]
    self_check()
    binary = build()
    rng = random.Random(5545)
    total = mismatches = 0
    with tempfile.TemporaryDirectory(prefix="zone-check-") as tmp:
        for terms in TERMS:
            path = Path(tmp) / f"{terms['name']}.toml"
            path.write_text(toml_of(terms))
            here = bad = 0
            for at in instants(terms, rng):
                want = expected(terms, at)
                got, raw = ask(binary, path, at)
                here += 1
                if got != want:
                    bad += 1
                    print(f"MISMATCH {terms['name']} ({terms['zone']}) at {rfc3339(at)}")
                    print(f"  zoneinfo: {show(want)}")
                    print(f"  endwell:  {show(got)}   raw {json.dumps(raw)}")
                elif verbose:
                    print(f"ok {terms['name']} {rfc3339(at)} {show(want)}")
            print(f"{terms['name']:10} {terms['zone']:20} {here:4} instants, {bad} mismatches")
            total += here
            mismatches += bad
    print(f"zone-check: {total} instants compared, {mismatches} mismatches")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
