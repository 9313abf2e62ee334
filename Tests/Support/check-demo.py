#!/usr/bin/env python3
"""Checks `make demo`'s JSON summary: the delivery promise and plausible outcomes."""
import json, sys

lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
if not lines:
    sys.exit("demo-ci: no JSON summary in " + sys.argv[1])
s = json.loads(lines[-1])
need = ["sent", "acked", "stored", "lost", "duplicated", "unexpected", "routed", "unmatched", "expired", "codes_extracted", "msgs_per_s", "ack_p50_ms", "ack_p99_ms"]
missing = [k for k in need if k not in s]
problems = []
if missing: problems.append(f"missing fields: {missing}")
if s.get("lost") != 0: problems.append(f"lost {s.get('lost')} (acked but not stored)")
if s.get("duplicated") != 0: problems.append(f"duplicated {s.get('duplicated')}")
if s.get("unexpected") != 0: problems.append(f"unexpected {s.get('unexpected')} (stored, never sent: a phantom)")
if s.get("acked") != s.get("sent"): problems.append(f"acked {s.get('acked')} of {s.get('sent')}")
if s.get("stored") != s.get("sent"): problems.append(f"stored {s.get('stored')} of {s.get('sent')}")
for k in ["routed", "unmatched", "expired", "codes_extracted"]:
    if not s.get(k): problems.append(f"{k} is 0")
if s.get("msgs_per_s", 0) <= 0: problems.append("no throughput")
if any("447700" in x for x in s.get("samples", [])): problems.append("an unmasked number in the samples")
print(f"demo-ci: sent {s.get('sent')} acked {s.get('acked')} stored {s.get('stored')} lost {s.get('lost')} duplicated {s.get('duplicated')} "
      f"routed {s.get('routed')} unmatched {s.get('unmatched')} expired {s.get('expired')} codes {s.get('codes_extracted')} "
      f"{s.get('msgs_per_s')} msgs/s ack p50 {s.get('ack_p50_ms')} ms p99 {s.get('ack_p99_ms')} ms")
if problems:
    sys.exit("demo-ci FAILED: " + "; ".join(problems))
