#!/usr/bin/env bash
# make bench-session: deliver_sm/s and ack latency over loopback, one bind, window 1 and 64.
#  - SMSC: `smpp-dev sim` (release), separate process; its summary gives the rate and
#    the ack latency (deliver_sm sent -> deliver_sm_resp received, on the SMSC side).
#  - ESME: `smpp-bridge probe` (our session layer), acking every message at once.
#  - Baseline, same run, same stream: an ESME on PyPI smpplib (Tests/Interop/smpplib_client.py).
#  - CPU-seconds per 100k messages of the ESME process (user + system, from getrusage).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-200000}
NPY=${NPY:-20000}
swift build -c release --product smpp-bridge 2>&1 | tail -1
swift build -c release --product smpp-dev 2>&1 | tail -1
BIN=.build/release/smpp-bridge
DEV=.build/release/smpp-dev
python3 -c "import smpplib" 2>/dev/null || python3 -m pip install -q "smpplib==2.2.4"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tmp=$(mktemp -d)
run() {  # run NAME WINDOW COUNT -- esme command...
  local name=$1 window=$2 count=$3; shift 4
  local p; p=$(free_port)
  SIM_PASSWORD=bench "$DEV" sim --port "$p" --count "$count" --window "$window" --multipart 0 --timeout 300 > "$tmp/sim.json" 2>/dev/null &
  local sim=$!
  sleep 0.3
  python3 - "$p" "$tmp/esme.json" "$@" <<'PY'
import json, os, resource, subprocess, sys
port, out, cmd = sys.argv[1], sys.argv[2], [a.replace("PORT", sys.argv[1]) for a in sys.argv[3:]]
env = dict(os.environ, PW="bench")
subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
json.dump({"cpu_s": r.ru_utime + r.ru_stime}, open(out, "w"))
PY
  wait "$sim" || true
  python3 - "$name" "$window" "$count" "$tmp/sim.json" "$tmp/esme.json" <<'PY'
import json, sys
name, window, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
s, e = json.load(open(sys.argv[4])), json.load(open(sys.argv[5]))
acked = s["acked"].get("ESME_ROK", 0)
print(f"{name:18s} window {window:>2}: {s['rate']:>10.0f} deliver_sm/s  ack p50 {s['ack_p50_ms']:.3f} ms  p99 {s['ack_p99_ms']:.3f} ms  "
      f"ESME CPU {e['cpu_s'] / max(1, acked) * 100000:.2f} s/100k  (acked {acked}/{count}, failed {s['failed']})")
PY
}
echo "== one bind over loopback ($N messages for smpp-bridge, $NPY for the Python baseline)"
for w in 1 64; do
  run "smpp-bridge probe" $w $N -- "$BIN" probe --host 127.0.0.1 --port PORT --system-id trueotp --password-env PW --count "$N" --duration 120 --json
  run "python smpplib" $w $NPY -- python3 Tests/Interop/smpplib_client.py PORT "$NPY" bench
done
rm -rf "$tmp"
