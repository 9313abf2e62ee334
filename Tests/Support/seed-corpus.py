#!/usr/bin/env python3
"""Seeds a libFuzzer corpus from every fixture in protocol-fixtures, each PDU behind a
prefix of control bytes (one prefix per variant), for make fuzz and make fuzz-session.
Usage: seed-corpus.py OUT_DIR PREFIX [PREFIX ...]   (a prefix is hex, e.g. ff or 0001)"""
import glob, hashlib, json, os, sys

out, prefixes = sys.argv[1], [bytes.fromhex(p) for p in sys.argv[2:]]
os.makedirs(out, exist_ok=True)
for f in glob.glob("protocol-fixtures/**/*.json", recursive=True):
    if "/tools/" in f:
        continue
    b = bytes.fromhex(json.load(open(f))["hex"])
    for p in prefixes:
        data = p + b
        open(os.path.join(out, hashlib.sha1(data).hexdigest()), "wb").write(data)
