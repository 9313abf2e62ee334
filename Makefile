# TrueOTP SMPP bridge. The README's two commands: `make demo` and `make test`.
SWIFT       ?= swift
SYSTEM_PKGS ?= libssl-dev libpq-dev libcurl4-openssl-dev postgresql curl prometheus
FUZZ_SECONDS ?= 300
FUZZ_SESSION_SECONDS ?= 600
DEMO_COUNT ?= 50000
DEMO_ARGS ?=

.PHONY: all deps build test check-alerts tsan interop demo demo-ci soak ha deb fuzz fuzz-session bench bench-codec bench-routing bench-session bench-store bench-hostile bench-metrics clean

all: build

# Installs the system packages the build and the tests need, when they are missing.
deps:
	@missing=""; for p in $(SYSTEM_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing system packages:$$missing"; \
	    echo "install them with: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

build: deps
	$(SWIFT) build

# Every test. The exit code of `swift test` is the verdict (its last line is
# Swift Testing's and says "passed" even when XCTest failed).
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test
	$(MAKE) tsan
	$(MAKE) interop
	$(MAKE) demo-ci
	python3 Tests/Support/check-deploy.py .build/debug/smpp-bridge
	$(MAKE) check-alerts
	$(MAKE) --no-print-directory deb > .build/deb.log && bash Tests/Support/check-deb.sh "$$(tail -1 .build/deb.log)"

# The Debian package (dpkg-deb): binary, man pages, completions, systemd units, sysusers.d. Prints its path.
deb: deps
	@bash deploy/debian/build-deb.sh

# The alert rules are valid PromQL and fire as their unit tests expect (Debian's prometheus package brings promtool).
check-alerts:
	cd deploy && promtool check rules alerts.yml && promtool test rules alerts.test.yml

# Interop with SMPP implementations this project did not write (PyPI smpplib and smppy).
interop:
	$(SWIFT) build --product smpp-bridge
	$(SWIFT) build --product smpp-dev
	bash Tests/Interop/run.sh

# The lock-free table, the session, reassembly and writer-queue tests under ThreadSanitizer (own build folder).
tsan:
	$(SWIFT) test --scratch-path .build-tsan --sanitize=thread --filter 'LeaseTableTests|SessionTests|SessionCornerCaseTests|ReassemblyTests|WorkQueueTests'

# The main job on the embedded default: a throwaway PostgreSQL, the simulator and
# the bridge, 50,000 messages, then the summary (DEMO_COUNT, DEMO_ARGS=--json).
demo: deps
	$(SWIFT) build -c release --product smpp-dev
	.build/release/smpp-dev demo --count $(DEMO_COUNT) $(DEMO_ARGS)

# make demo in a short mode, its summary checked (part of make test).
demo-ci:
	$(MAKE) --no-print-directory demo DEMO_COUNT=5000 DEMO_ARGS=--json > .build/demo-ci.json
	python3 Tests/Support/check-demo.py .build/demo-ci.json

# libFuzzer over framing + decode + text decoding, seeded from protocol-fixtures.
fuzz:
	bash Tests/Fuzz/run.sh $(FUZZ_SECONDS)

# Codec benchmarks (ordo-one/benchmark, malloc counts) and the libsmpp34 baseline.
bench-codec: deps
	bash Tests/Benchmarks/bench-codec.sh

clean:
	rm -rf .build .build-* Tests/Benchmarks/.build

# The hostile-peer suite on the release build, 3 rounds: the good carrier's ack p99 per attack, median (range), against the same run's baseline.
# Its own build folder: tests in release need -enable-testing, which must not flip .build/release (make demo's).
bench-hostile: deps
	$(SWIFT) build -c release --build-tests -Xswiftc -enable-testing --scratch-path .build-release-tests
	python3 Tests/Benchmarks/bench-hostile.py 3

# The metrics registry on the hot path: ours vs swift-prometheus (directly and through swift-metrics), same run.
bench-metrics: deps
	cd Tests/Benchmarks && $(SWIFT) build -c release -Xswiftc -enable-testing --scratch-path .build-testable --product MetricsSpeed && .build-testable/release/MetricsSpeed

# Routing benchmarks: lock-free table vs Mutex<Dictionary>, routing decisions, memory per entry.
bench-routing: deps
	cd Tests/Benchmarks && $(SWIFT) build -c release --product RoutingSpeed && .build/release/RoutingSpeed

# Session benchmark: deliver_sm/s and ack latency on one bind, window 1 and 64, vs a Python ESME.
bench-session: deps
	bash Tests/Benchmarks/bench-session.sh

# Store benchmark: the group-commit writer vs raw libpq from C, fsync and synchronous_commit on.
bench-store: deps
	bash Tests/Benchmarks/bench-store.sh

# The fault suite's long form: more messages, a 30 s database outage, each hostile-SMSC attack for 60 s (the short forms run in make test).
soak: deps
	$(SWIFT) build --build-tests
	SMPP_SOAK=1 $(SWIFT) test --filter 'FaultTests|HostileTests|FailoverTests'
	$(MAKE) ha

# High availability on real engines (issue 25's long form): etcd and two Patroni-managed
# PostgreSQL nodes in synchronous mode, 100,000 messages (SMPP_HA_COUNT), the leader
# crashed mid-stream, then a planned switchover back; audited for 0 lost and 0 duplicated.
HA_PKGS ?= patroni etcd-server python3-etcd
ha: deps
	$(MAKE) --no-print-directory deps SYSTEM_PKGS="$(HA_PKGS)"
	$(SWIFT) build --build-tests
	SMPP_HA=1 $(SWIFT) test --filter PatroniTests

# libFuzzer + ASan, side by side: the framing and the session state machine (live sessions over loopback), and the HTTP request head, the /events query and the configuration's environment overrides (Tests/FuzzSurface).
fuzz-session: deps
	bash Tests/FuzzSession/run.sh $(FUZZ_SESSION_SECONDS)

# End to end: simulator -> bridge -> PostgreSQL (1M leases, 8 binds), vs Kannel and a Python ESME, same run.
bench: deps
	@command -v bearerbox >/dev/null || { [ "$$(id -u)" = 0 ] && { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kannel >/dev/null 2>&1 \
	  || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kannel >/dev/null; }; }; } \
	  || { echo "make bench needs Kannel's bearerbox: sudo apt-get install -y kannel"; exit 1; }
	@python3 -c "import smpplib, psycopg2" 2>/dev/null || python3 -m pip install -q "smpplib==2.2.4" psycopg2-binary
	$(SWIFT) build -c release --product smpp-bridge
	$(SWIFT) build -c release --product smpp-dev
	python3 Tests/Benchmarks/bench-e2e.py
