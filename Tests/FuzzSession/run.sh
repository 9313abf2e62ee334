#!/usr/bin/env bash
# make fuzz-session: libFuzzer + AddressSanitizer, $1 seconds (default 600), two
# targets side by side (one per core):
#  - the framing and the ESME session state machine (Tests/FuzzSession), seeded from
#    every fixture in protocol-fixtures (whole, byte by byte, ragged; each ack status);
#  - the surface a local user or the environment reaches (Tests/FuzzSurface): HTTP
#    request heads with the /events query, and configuration environment overrides.
# A crash, leak or hang is written to fuzz-out/session/ or fuzz-out/surface/; turn it into a test.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_TO_RUN=${1:-600}
OUT=fuzz-out/session
mkdir -p "$OUT/corpus"
# Findings of an earlier run are kept aside, so that this run is judged on its own.
for f in "$OUT"/crash-* "$OUT"/leak-* "$OUT"/timeout-*; do [ -e "$f" ] && mkdir -p "$OUT/earlier" && mv "$f" "$OUT/earlier/"; done
python3 Tests/Support/seed-corpus.py "$OUT/corpus" ff00 0001 0602 2803 ff04 0106 ff08 550b 870a  # read size (or event schedule) + ack status (bit 2: acked from another thread; bit 3: the state machine without sockets), then the fixture
# Built with swiftc, module by module (SwiftPM's --sanitize=fuzzer linked libFuzzer but
# left the Swift code without coverage counters here).
B="$OUT/bin"
mkdir -p "$B"
rm -f "$B/fuzz-session"
FLAGS="-O -sanitize=fuzzer,address -enable-upcoming-feature ExistentialAny -swift-version 6 -parse-as-library -package-name smpp_bridge"  # package: the modules share `package` declarations (Locked, the clock)
quiet() { grep -v "Cannot export local symbol" || true; }
swiftc $FLAGS -emit-module -emit-library -static -module-name Primitives -emit-module-path "$B/Primitives.swiftmodule" \
  -o "$B/libPrimitives.a" $(find Sources/Primitives -name '*.swift') 2>&1 | quiet
swiftc $FLAGS -emit-module -emit-library -static -module-name SMPPWire -I "$B" -emit-module-path "$B/SMPPWire.swiftmodule" \
  -o "$B/libSMPPWire.a" $(find Sources/SMPPWire -name '*.swift') 2>&1 | quiet
swiftc $FLAGS -emit-module -emit-library -static -module-name SMPPSession -I "$B" -I Sources/COpenSSL \
  -emit-module-path "$B/SMPPSession.swiftmodule" -o "$B/libSMPPSession.a" $(find Sources/SMPPSession -name '*.swift') 2>&1 | quiet
swiftc $FLAGS -I "$B" -I Sources/COpenSSL Tests/FuzzSession/Sources/FuzzSession/FuzzSession.swift \
  "$B/libSMPPSession.a" "$B/libSMPPWire.a" "$B/libPrimitives.a" -lssl -lcrypto -o "$B/fuzz-session" 2>&1 | quiet
BIN="$B/fuzz-session"
[ -x "$BIN" ] || { echo "the session fuzzer did not build"; exit 1; }
# The surface fuzzer is a SwiftPM package over the bridge's debug build (@testable), instrumented whole.
SURF=fuzz-out/surface
mkdir -p "$SURF/corpus"
for f in "$SURF"/crash-* "$SURF"/leak-* "$SURF"/timeout-*; do [ -e "$f" ] && mkdir -p "$SURF/earlier" && mv "$f" "$SURF/earlier/"; done
printf '\000GET /events?recent=5&carrier=alpha-1&outcome=routed&order_id=7 HTTP/1.1\r\nHost: x\r\nConnection: close' > "$SURF/corpus/seed-events"
printf '\000HEAD /metrics HTTP/1.0\r\nContent-Length: 0' > "$SURF/corpus/seed-metrics"
printf '\200DATABASE_BATCH_MAX_ROWS=500\nROUTING_DEDUP_WINDOW_S=60\nCARRIER_ALPHA_1_WINDOW=8' > "$SURF/corpus/seed-env"
printf '\200METRICS_LISTEN=0.0.0.0:1\nBRIDGE_LOG_LEVEL=trace\nDATABASE_BATCH_MAX_WAIT_MS=-1' > "$SURF/corpus/seed-env-bad"
ln -sfn "$(pwd)" "$SURF/smpp-bridge"
(cd Tests/FuzzSurface && swift build --scratch-path ../../fuzz-out/surface/build -Xswiftc -sanitize=fuzzer,address 2>&1 | grep -E "error" || true)
SURF_BIN=fuzz-out/surface/build/debug/FuzzSurface
[ -x "$SURF_BIN" ] || { echo "the surface fuzzer did not build"; exit 1; }
# TOMLKit leaks each parsed document (lsan.supp), ~3 KB a configuration input: 2.1M inputs in 8 minutes made 6 GB of RSS,
# past libFuzzer's default limit, so this target gets 16 GB; our own leaks are still reported.
echo "running the surface fuzzer for ${SECONDS_TO_RUN}s (beside the session fuzzer)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=Tests/FuzzSurface/lsan.supp "$SURF_BIN" -max_total_time="$SECONDS_TO_RUN" -max_len=2048 -timeout=20 \
  -rss_limit_mb=16384 -print_final_stats=1 -artifact_prefix="$SURF/" "$SURF/corpus" > "$SURF/last-run.log" 2>&1 &
SURF_PID=$!
echo "running the session fuzzer for ${SECONDS_TO_RUN}s"
start=$(date +%s)
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "$BIN" -max_total_time="$SECONDS_TO_RUN" -max_len=4200 -timeout=20 \
  -print_final_stats=1 -artifact_prefix="$OUT/" "$OUT/corpus" 2>&1 | tee "$OUT/last-run.log" \
  | grep -E "^INFO: Loaded|^#[0-9]+ +(INITED|DONE|pulse)|stat::number_of_executed_units|stat::peak_rss|ERROR|Done" || true
wait $SURF_PID || true
end=$(date +%s)
if compgen -G "$SURF/crash-*" >/dev/null || compgen -G "$SURF/leak-*" >/dev/null || compgen -G "$SURF/timeout-*" >/dev/null; then
  echo "surface fuzzing found a failure: see $SURF/"; exit 1
fi
grep -q "^Done" "$SURF/last-run.log" || { echo "the surface fuzzer did not finish cleanly: see $SURF/last-run.log"; exit 1; }
echo "surface fuzzing ran clean ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$SURF/last-run.log" | awk '{print $2}') inputs)"
if compgen -G "$OUT/crash-*" >/dev/null || compgen -G "$OUT/leak-*" >/dev/null || compgen -G "$OUT/timeout-*" >/dev/null; then
  echo "session fuzzing found a failure: see $OUT/"; exit 1
fi
grep -q "^Done" "$OUT/last-run.log" || { echo "the session fuzzer did not finish cleanly: see $OUT/last-run.log"; exit 1; }
skips=$(grep -c "fuzz-session harness: no connection" "$OUT/last-run.log" || true)
echo "session fuzzing ran clean for $((end - start))s ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$OUT/last-run.log" | awk '{print $2}') inputs; $skips skipped: no loopback connection within 15 s)"
