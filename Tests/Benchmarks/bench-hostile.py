#!/usr/bin/env python3
"""make bench-hostile: the hostile-peer suite (HostileTests) on the release build, ROUNDS
times (default 3). Per attack: the well-behaved carrier's ack p99 as median (range) over
the rounds, and its ratio to the same run's baseline (a peer that binds and sends
nothing). Issue 22's goal is 20 ms. Figures only: the suite's own pass/fail is printed too."""
import os, re, statistics, subprocess, sys

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
figures, baselines, failed = {}, [], 0
for r in range(rounds):
    out = subprocess.run(["swift", "test", "-c", "release", "--skip-build", "--scratch-path", ".build-release-tests",
                          "-Xswiftc", "-enable-testing", "--filter", "HostileTests"],
                         capture_output=True, text=True, env=dict(os.environ, SMPP_HOSTILE_BENCH="1")).stdout
    for mode, p99 in re.findall(r"^hostile (\w+): good carrier ack p99 ([0-9.]+) ms, max RSS", out, re.M):
        figures.setdefault(mode, []).append(float(p99))
    baselines += [float(x) for x in re.findall(r"^hostile baseline: good carrier ack p99 ([0-9.]+) ms", out, re.M)]
    failed += len(re.findall(r"error: ", out))
    print(f"round {r + 1}/{rounds}: {sum(len(v) for v in figures.values())} attack figures so far", flush=True)

def fmt(xs):
    return f"{statistics.median(xs):.1f} ms ({min(xs):.1f}-{max(xs):.1f})"

base = statistics.median(baselines) if baselines else float("nan")
print(f"\nhostile bench, release build, {rounds} rounds; goal: the good carrier's ack p99 <= 20 ms")
print(f"  {'baseline (quiet peer)':24} {fmt(baselines) if baselines else 'n/a'}")
for mode in sorted(figures):
    xs = figures[mode]
    met = "meets 20 ms" if statistics.median(xs) <= 20 else "OVER 20 ms"
    print(f"  {mode:24} {fmt(xs)}  x{statistics.median(xs) / base:.2f} baseline  {met}")
print(f"  suite assertions failed: {failed}")
