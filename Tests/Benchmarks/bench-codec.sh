#!/usr/bin/env bash
# make bench-codec: codec figures for docs/performance.md.
#  1. ordo-one/benchmark: throughput and malloc counts for framing+decode, resp encode, text decode.
#  2. The same framing+decode loop against libsmpp34 (C), in the same run, on the same bytes.
#  3. `smpp-bridge decode --summary` over a 1 GB capture vs the in-process figure.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
OUT=${BENCH_OUT:-/tmp/smpp-bench}
mkdir -p "$OUT"
if ! dpkg-query -W -f='${Status}' libsmpp34-dev 2>/dev/null | grep -q "install ok installed"; then
  if [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsmpp34-dev >/dev/null
  else echo "need libsmpp34-dev for the baseline"; exit 1; fi
fi
echo "== build"
swift build -c release --product CodecSpeed 2>&1 | tail -1
gcc -O2 -o "$OUT/libsmpp34_driver" baseline/libsmpp34_driver.c -lsmpp34
echo "== framing + full decode, same bytes, same run (PDUs/s, one core)"
.build/release/CodecSpeed "$OUT" | tee "$OUT/speed.txt"
for n in gsm7 ucs2; do taskset -c 0 "$OUT/libsmpp34_driver" "$OUT/$n.bin" $n | tee -a "$OUT/speed.txt"; done
awk '/^swift/{s[$2]=$4} /^libsmpp34/{c[$2]=$4} END{for(k in s) printf "ratio %s: %.1fx libsmpp34 (%.2f M/s vs %.2f M/s)\n", k, s[k]/c[k], s[k]/1e6, c[k]/1e6}' "$OUT/speed.txt"
echo "== ordo-one/benchmark (throughput x1000 = ops/s; mallocs per sample incl. harness baseline)"
swift package --disable-sandbox benchmark --no-progress 2>&1 | grep -v "^\s*$" | tail -80
echo "== decode --summary over a 1 GB capture"
(cd "$ROOT" && swift build -c release --product smpp-bridge 2>&1 | tail -1)
python3 - "$OUT/capture-1g.bin" "$OUT/gsm7.bin" "$OUT/ucs2.bin" <<'PY'
import os, sys
out, a, b = sys.argv[1:4]
if not os.path.exists(out) or os.path.getsize(out) < 1_000_000_000:
    unit = open(a, "rb").read() * 3 + open(b, "rb").read()
    block = unit * (8 * 1024 * 1024 // len(unit))
    with open(out, "wb") as f:
        while f.tell() < 1_000_000_000:
            f.write(block)
print("capture:", os.path.getsize(out), "bytes")
PY
cat "$OUT/capture-1g.bin" > /dev/null
start=$(date +%s.%N)
taskset -c 0 "$ROOT/.build/release/smpp-bridge" decode --summary --json --file "$OUT/capture-1g.bin" | tee "$OUT/summary.json"
end=$(date +%s.%N)
python3 - "$OUT/summary.json" "$start" "$end" "$OUT/speed.txt" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); el = float(sys.argv[3]) - float(sys.argv[2])
inproc = {l.split()[1]: int(l.split()[3]) for l in open(sys.argv[4]) if l.startswith("swift")}
mix = 1 / (0.75 / inproc["gsm7"] + 0.25 / inproc["ucs2"])
rate = s["pdus"] / el
print(f"decode --summary: {s['pdus']} PDUs, {s['bytes']/1e9:.2f} GB in {el:.2f} s = {rate/1e6:.2f} M PDUs/s, {s['bytes']/el/1e9:.2f} GB/s")
print(f"in-process framing+decode for the same mix: {mix/1e6:.2f} M PDUs/s -> summary is {mix/rate:.2f}x slower")
PY
