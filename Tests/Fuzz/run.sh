#!/usr/bin/env bash
# Builds the libFuzzer target (SMPPWire sources + FuzzTarget.swift, -sanitize=fuzzer,address)
# and runs it for $1 seconds (default 300), seeded from every fixture in protocol-fixtures.
# A crash is written to fuzz-out/; turn it into a fixture (protocol-fixtures/tools).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_TO_RUN=${1:-300}
OUT=fuzz-out
mkdir -p "$OUT/corpus" "$OUT/bin"
python3 Tests/Support/seed-corpus.py "$OUT/corpus" ff 00 06  # whole, byte by byte, ragged
swiftc -O -sanitize=fuzzer,address -parse-as-library -package-name smpp_bridge -module-name SMPPWire \
  -enable-upcoming-feature ExistentialAny \
  $(find Sources/SMPPWire -name '*.swift') Tests/Fuzz/FuzzTarget.swift -o "$OUT/bin/fuzz-wire" 2>&1 | grep -v "Cannot export local symbol" || true
echo "running libFuzzer for ${SECONDS_TO_RUN}s"
"$OUT/bin/fuzz-wire" -max_total_time="$SECONDS_TO_RUN" -max_len=4200 -print_final_stats=1 \
  -artifact_prefix="$OUT/" "$OUT/corpus" 2>&1 | tee "$OUT/last-run.log" | grep -E "^#[0-9]+ +(INITED|DONE|pulse)|stat::|ERROR|Done" || true
if ls "$OUT"/crash-* "$OUT"/leak-* "$OUT"/timeout-* >/dev/null 2>&1; then
  echo "fuzzing found a failure: see $OUT/"; exit 1
fi
echo "fuzzing ran clean for ${SECONDS_TO_RUN}s"
