#!/usr/bin/env python3
"""Whether two triage word models (JSON from `endwell triage train`) are the
same model: the same labels, and weights and thresholds equal within a
little (training calls the C library's exp, whose last bit may differ from
one CPU to another). Exit 0 when the same, 1 with what differs."""
import json
import sys

WEIGHT, BIAS, THRESHOLD, MIN_WEIGHT = 0.002, 0.002, 0.02, 0.05

a, b = (json.load(open(p)) for p in sys.argv[1:3])
problems = []
if a["language"] != b["language"] or set(a["labels"]) != set(b["labels"]):
    problems.append("different language or labels")
for label in set(a["labels"]) & set(b["labels"]):
    la, lb = a["labels"][label], b["labels"][label]
    if abs(la["bias"] - lb["bias"]) > BIAS:
        problems.append(f"{label}: bias {la['bias']} vs {lb['bias']}")
    if abs(la["threshold"] - lb["threshold"]) > THRESHOLD:
        problems.append(f"{label}: threshold {la['threshold']} vs {lb['threshold']}")
    wa, wb = la["weights"], lb["weights"]
    for f in set(wa) | set(wb):
        # A weight near the cut-off may be kept by one and left out by the other.
        x, y = wa.get(f, 0.0), wb.get(f, 0.0)
        if abs(x - y) > WEIGHT and not (f not in wa and abs(y) < MIN_WEIGHT + WEIGHT) \
                and not (f not in wb and abs(x) < MIN_WEIGHT + WEIGHT):
            problems.append(f"{label}: {f!r} {x} vs {y}")
for p in problems[:10]:
    print(p, file=sys.stderr)
sys.exit(1 if problems else 0)
