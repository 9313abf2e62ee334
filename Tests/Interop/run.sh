#!/usr/bin/env bash
# Interop with SMPP implementations this project did not write (PyPI: smpplib, smppy).
#  1. smpplib's ESME binds to our simulator (`smpp-dev sim`) and receives and acks its stream.
#  2. our ESME (`smpp-bridge probe`) binds to smppy's SMSC and receives and acks its deliver_sm.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.build/debug/smpp-bridge}
DEV=${DEV:-.build/debug/smpp-dev}
python3 -c "import smpplib, smppy" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check "smpplib==2.2.4" "smppy==0.3.2"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
fail() { echo "interop FAILED: $*"; exit 1; }
tmp=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

echo "== smpplib (PyPI) ESME -> our simulator"
P=$(free_port)
SIM_PASSWORD=interop "$DEV" sim --port "$P" --count 120 --multipart 0.25 --timeout 60 > "$tmp/sim.json" 2> "$tmp/sim.err" &
SIM=$!
for _ in $(seq 100); do grep -q listening "$tmp/sim.err" 2>/dev/null && break; sleep 0.1; done
# The stream has 120 messages; multi-part ones are several PDUs: ask the simulator's log-free summary afterwards.
python3 Tests/Interop/smpplib_client.py "$P" 120 interop > "$tmp/client.json" || fail "smpplib client"
wait "$SIM" || true
cat "$tmp/client.json" "$tmp/sim.json"
python3 - "$tmp/client.json" "$tmp/sim.json" <<'PY' || fail "smpplib vs simulator"
import json, sys
c, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert c["received"] >= 120, c
assert s["acked"].get("ESME_ROK", 0) >= 120 and s["failed"] == 0, s
print("ok: smpplib received", c["received"], "PDUs; simulator saw", s["acked"]["ESME_ROK"], "ESME_ROK acks")
PY

echo "== our ESME (smpp-bridge probe) -> smppy (PyPI) SMSC"
P=$(free_port)
python3 Tests/Interop/smppy_smsc.py "$P" 40 > "$tmp/smsc.out" 2>&1 &
SMSC=$!
for _ in $(seq 100); do grep -q ready "$tmp/smsc.out" 2>/dev/null && break; sleep 0.1; done
PW=x "$BIN" probe --host 127.0.0.1 --port "$P" --system-id trueotp --password-env PW --bind transceiver --count 40 --duration 30 --json > "$tmp/probe.json" || fail "probe"
wait "$SMSC" || true
cat "$tmp/probe.json"; tail -1 "$tmp/smsc.out"
python3 - "$tmp/probe.json" "$tmp/smsc.out" <<'PY' || fail "probe vs smppy"
import json, sys
p = json.load(open(sys.argv[1])); s = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
assert p["bound"] and p["received"] == 40 and p["acked"] == 40 and not p["errors"], p
assert s["sent"] == 40 and s["acked"] == 40, s
print("ok: probe received and acked 40 deliver_sm from smppy; smppy counted", s["acked"], "deliver_sm_resp")
PY
echo "interop passed"
