#!/usr/bin/env python3
"""make bench: the whole path on this machine, and the baselines in the same run.

simulator (`smpp-dev sim`, own process) --deliver_sm over loopback, 8 binds, window 64,
20% multi-part--> bridge (`smpp-bridge run`, release) with 1M leases --> PostgreSQL on this
host (fsync and synchronous_commit on).

Figures: msgs/s acknowledged after commit (saturation); ack latency p50/p99/p99.9 at a fixed
10,000 msgs/s and at saturation (seen by the SMSC); CPU-seconds per 100k messages for the
bridge and for PostgreSQL; the bridge's peak RSS; loss and duplicates (`smpp-dev audit`:
the simulator's log against the table). Baselines, same stream and database: Kannel's
bearerbox bound to the simulator as an ESME (8 binds), MO delivered by smsbox to a minimal
HTTP sink (its ack rate and its delivery rate to the sink are both reported), in two
configurations: without a store (bearerbox acks from memory, ahead of delivery) and with
`store-type = spool` (it writes each MO to its spool before acking); a Python ESME on PyPI smpplib inserting one row per message
with psycopg2.
Writes JSON lines and a plot (throughput and latency over time) to BENCH_OUT."""
import json, os, resource, selectors, signal, socket, subprocess, sys, threading, time, http.server, functools, shutil
import urllib.request
print = functools.partial(print, flush=True)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.environ.get("BENCH_OUT", "/tmp/smpp-bench/e2e")
BIN = os.path.join(ROOT, ".build/release/smpp-bridge")
# The simulator and the audit are development tools, built apart (`smpp-dev`).
DEV_BIN = os.path.join(ROOT, ".build/release/smpp-dev")
# BRIDGE_BIN: another build for the bridge side only (A/B runs; simulator and audit stay DEV_BIN's).
BRIDGE_BIN = os.environ.get("BRIDGE_BIN", BIN)
# SIM_BIN: another build for the simulator only (A/B runs of the load generator).
SIM_BIN = os.environ.get("SIM_BIN", DEV_BIN)
# MIGRATE_BIN: another build's migrations (schema A/B runs; give BRIDGE_BIN the same build: a bridge refuses a schema that lacks its migrations).
MIGRATE_BIN = os.environ.get("MIGRATE_BIN", BIN)
# PG_STATS=1: server time, buffers touched and WAL per statement of each run, into BENCH_OUT/<run>-statements.txt
# (needs PG_EXTRA="-c shared_preload_libraries=pg_stat_statements").
PG_STATS = bool(os.environ.get("PG_STATS"))
SAT_N = int(os.environ.get("SAT_N", "200000"))
RATE_N = int(os.environ.get("RATE_N", "100000"))
KANNEL_N = int(os.environ.get("KANNEL_N", "50000"))
# KANNEL_SMSBOXES: smsbox processes behind bearerbox (MO delivery is smsbox-bound).
KANNEL_SMSBOXES = int(os.environ.get("KANNEL_SMSBOXES", "1"))
# KANNEL_SINK=http10: Kannel's MO go to the sink used before 2026-12-06 (http.server, HTTP/1.0) instead of the keep-alive one.
PY_N = int(os.environ.get("PY_N", "5000"))
BINDS = int(os.environ.get("BINDS", "8"))
# BATCH_WAIT_MS, BATCH_TARGET_ROWS, DB_CONNECTIONS: the writer's batch_max_wait_ms, batch_target_rows and
# connections for the bridge runs (default: the bridge's own; BATCH_TARGET_ROWS=1000 waits for full batches, as before 2026-12-06).
DATABASE_SETTINGS = {"BATCH_WAIT_MS": "batch_max_wait_ms", "BATCH_TARGET_ROWS": "batch_target_rows", "DB_CONNECTIONS": "connections"}
DATABASE_TOML = "".join(f"{key} = {os.environ[var]}\n" for var, key in DATABASE_SETTINGS.items() if os.environ.get(var))
DATABASE_TOML = "[database]\n" + DATABASE_TOML if DATABASE_TOML else ""
# LEASE_RECONCILE_S: the bridge's full lease reload interval (default 300 s, longer than most runs).
if os.environ.get("LEASE_RECONCILE_S"):
    DATABASE_TOML += f"\n[routing]\nlease_reconcile_s = {os.environ['LEASE_RECONCILE_S']}\n"
# SIM_LOG_SENT=1: the simulator also logs a line per deliver_sm sent (as before 2026-12-06; A/B runs of older builds).
SIM_LOG_FLAGS = [] if os.environ.get("SIM_LOG_SENT") else ["--no-log-sent"]
DEST = ("447700000000", "447700999999")
os.makedirs(OUT, exist_ok=True)
results = []


def bridge_environment():
    """This script's own settings (BRIDGE_BIN, BRIDGE_ONLY) are not the bridge's: it
    refuses an unknown BRIDGE_ name, as it should, so they are not passed on."""
    return {k: v for k, v in os.environ.items() if k not in ("BRIDGE_BIN", "BRIDGE_ONLY")}


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def cpu_of(pids):
    total = 0.0
    for pid in pids:
        try:
            f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return total


def pg_pids(postmaster):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True).stdout.split()
    return [postmaster] + [int(p) for p in out]


def ctx_switches(pid):
    """Context switches of all the process's threads so far: the wakeups a PDU costs,
    a figure that does not move with this VM's speed as CPU-seconds do."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                for line in open(f"/proc/{pid}/task/{tid}/status"):
                    if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                        total += int(line.split()[1])
            except FileNotFoundError:
                pass
    except FileNotFoundError:
        pass
    return total


def rss_peak_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0


def wait_http(url, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            import urllib.request
            if urllib.request.urlopen(url, timeout=1).status == 200:
                return True
        except Exception:
            time.sleep(0.2)
    return False


def psql(url, sql):
    return subprocess.run(["psql", url, "-qAtc", sql], capture_output=True, text=True, check=True).stdout.strip()


def sim(port, count, rate, log, seed):
    env = dict(os.environ, SIM_PASSWORD="benchpw")
    return subprocess.Popen([SIM_BIN, "sim", "--port", str(port), "--count", str(count), "--rate", str(rate), "--window", "64",
                             "--multipart", "0.2", "--dest-from", DEST[0], "--dest-to", DEST[1], "--seed", str(seed),
                             "--log", log, *SIM_LOG_FLAGS, "--timeout", "900"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def timeline(log, bin_ms=250):
    """Per quarter second: PDUs acked (as a rate per second), and p99 ack latency (sent ->
    acked of the same part). Quarter seconds, not seconds: a saturation run of 200k
    messages lasts 2-3 s at the rates of 2026-12-06. The last, partial bin is left out.
    The simulator runs with --no-log-sent: each acked line carries its PDU's sent_ms."""
    sent, per_bin = {}, {}
    for line in open(log):
        e = json.loads(line)
        key = (e["msg"], e["part"])
        if e["event"] == "sent":
            sent[key] = e["t_ms"]
        elif e["event"] == "acked" and ("sent_ms" in e or key in sent):
            per_bin.setdefault(e["t_ms"] // bin_ms, []).append(e["t_ms"] - e.get("sent_ms", sent.get(key)))
    rows = []
    for b in sorted(per_bin)[:-1]:
        lat = sorted(per_bin[b])
        rows.append((b * bin_ms / 1000, len(lat) * 1000 / bin_ms, lat[min(len(lat) - 1, int(len(lat) * 0.99))]))
    return rows


def run_bridge(name, pg_url, postmaster, count, rate, seed):
    psql(pg_url, "TRUNCATE messages, message_dedup, message_parts")
    psql(pg_url, "SELECT pg_stat_reset()")  # per-run table counters (part_rows_* below)
    psql(pg_url, "CHECKPOINT")
    if PG_STATS: psql(pg_url, "SELECT pg_stat_statements_reset()")
    sim_port, metrics_port = free_port(), free_port()
    log = os.path.join(OUT, f"{name}-sim.jsonl")
    s = sim(sim_port, count, rate, log, seed)
    time.sleep(0.3)
    cfg = os.path.join(OUT, f"{name}.toml")
    open(cfg, "w").write(f"""[bridge]\ninstance = "bench"\nlog_level = "warning"\n[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n
[[carrier]]\nname = "sim"\nhost = "127.0.0.1"\nport = {sim_port}\nsystem_id = "trueotp"\npassword_env = "SIM_PASSWORD"\nbinds = {BINDS}\nwindow = 64\nmax_unacked = 256\n{DATABASE_TOML}""")
    env = dict(bridge_environment(), BRIDGE_DATABASE_URL=pg_url, SIM_PASSWORD="benchpw")
    b = subprocess.Popen([BRIDGE_BIN, "run", "--config", cfg], env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(OUT, f"{name}-bridge.log"), "w"))
    assert wait_http(f"http://127.0.0.1:{metrics_port}/readyz"), "bridge not ready"
    c0_b, c0_pg, x0 = cpu_of([b.pid]), cpu_of(pg_pids(postmaster)), ctx_switches(b.pid)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = json.loads(s.communicate(timeout=900)[0].strip().splitlines()[-1])
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the simulator is the only child reaped meanwhile
    c1_b, c1_pg, x1 = cpu_of([b.pid]), cpu_of(pg_pids(postmaster)), ctx_switches(b.pid)
    rss = rss_peak_mib(b.pid)
    # The bridge's own view (batch sizes, commit latency, ack latency), kept beside the logs.
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as m:
        open(os.path.join(OUT, f"{name}-metrics.txt"), "wb").write(m.read())
    b.send_signal(signal.SIGTERM); b.wait(timeout=60)
    if PG_STATS:  # server time per statement, per message of this run
        open(os.path.join(OUT, f"{name}-statements.txt"), "w").write(psql(pg_url, f"""
            SELECT round(total_exec_time::numeric, 1) || ' ms | ' || calls || ' calls | ' || round((total_exec_time * 1000 / {summary['done']})::numeric, 2)
                   || ' us/msg | ' || round((shared_blks_hit + shared_blks_read)::numeric / {summary['done']}, 2) || ' buffers/msg | '
                   || round(wal_bytes / {summary['done']}, 1) || ' WAL bytes/msg | ' || round(wal_fpi::numeric / {summary['done']}, 3) || ' FPI/msg | '
                   || rows || ' rows | ' || left(regexp_replace(query, '[[:space:]]+', ' ', 'g'), 90)
            FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12""") + "\n")
    audit = json.loads(subprocess.run([DEV_BIN, "audit", "--sim-log", log, "--count", str(count), "--seed", str(seed), "--dest-from", DEST[0],
                                       "--dest-to", DEST[1]], env=env, capture_output=True, text=True).stdout)
    # How the part rows were written (an insert per part, plus an update for a part
    # stored pending before its message completed in a later batch).
    parts_ins, parts_upd = (int(x) for x in psql(pg_url, "SELECT n_tup_ins, n_tup_upd FROM pg_stat_user_tables WHERE relname = 'message_parts'").split("|"))
    done = summary["done"]
    r = {"what": name, "rate_offered": rate, "messages": count, "msgs_per_s": summary["rate"], "ack_p50_ms": summary["ack_p50_ms"],
         "ack_p99_ms": summary["ack_p99_ms"], "ack_p999_ms": summary["ack_p999_ms"],
         "bridge_cpu_s_per_100k": round((c1_b - c0_b) / max(done, 1) * 1e5, 2), "postgres_cpu_s_per_100k": round((c1_pg - c0_pg) / max(done, 1) * 1e5, 2),
         "bridge_peak_rss_mib": round(rss, 1),
         "bridge_ctx_switches_per_100k": round((x1 - x0) / max(done, 1) * 1e5),
         "simulator_cpu_s_per_100k": round((ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / max(done, 1) * 1e5, 2), "lost": audit["lost"], "duplicated": audit["duplicated"], "acked": audit["acked"], "stored": audit["stored"],
         "lost_ids": audit.get("lost_ids", []), "unexpected": audit.get("unexpected", 0),
         "part_rows_inserted": parts_ins, "part_rows_updated": parts_upd}
    print(json.dumps(r)); results.append(r)
    return r, log


class OldSink(http.server.BaseHTTPRequestHandler):
    """The sink before 2026-12-06 (KANNEL_SINK=http10): http.server, HTTP/1.0, a connection
    and a thread per MO, ~450 µs of the sink's CPU per MO."""
    count = 0
    first = last = None
    def do_GET(self):
        now = time.monotonic()
        OldSink.first = OldSink.first or now
        OldSink.last = now
        OldSink.count += 1
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass


class OldSinkServer:
    """OldSink served, with Sink's interface (address, count, first, last, shutdown)."""
    def __init__(self):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OldSink)
        self.server_address = self.server.server_address
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
    count = property(lambda self: OldSink.count)
    first = property(lambda self: OldSink.first)
    last = property(lambda self: OldSink.last)
    def shutdown(self): self.server.shutdown()


class Sink:
    """The minimal MO sink: one thread, one selector, HTTP/1.1 keep-alive; a request is
    counted at its blank line (smsbox sends GETs without a body) and answered with a
    canned 200. ~17 µs of CPU per MO, so that Kannel's delivery rate is Kannel's."""
    RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0)); self.sock.listen(1024); self.sock.setblocking(False)
        self.server_address = self.sock.getsockname()
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.sock, selectors.EVENT_READ, None)
        self.count, self.first, self.last, self.running = 0, None, None, True
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while self.running:
            for key, _ in self.selector.select(0.2):
                if key.data is None:
                    try:
                        c, _ = self.sock.accept()
                    except BlockingIOError:
                        continue
                    c.setblocking(False)
                    self.selector.register(c, selectors.EVENT_READ, [b""])
                    continue
                c = key.fileobj
                try:
                    data = c.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.selector.unregister(c); c.close()
                    continue
                buf = key.data[0] + data
                n = buf.count(b"\r\n\r\n")
                if n:
                    key.data[0] = buf[buf.rfind(b"\r\n\r\n") + 4:]
                    now = time.monotonic()
                    self.first = self.first or now
                    self.last, self.count = now, self.count + n
                    try:
                        c.sendall(self.RESPONSE * n)
                    except OSError:
                        self.selector.unregister(c); c.close()
                else:
                    key.data[0] = buf

    def shutdown(self):
        self.running = False


def run_kannel(count, seed, spool=False):
    """Kannel as the baseline, in two configurations: without a store (bearerbox acks
    each MO from memory), and with `store-type = spool` (bearerbox writes each MO to its
    spool directory before it acks it: what this bridge promises, storing before acking)."""
    sink = OldSinkServer() if os.environ.get("KANNEL_SINK") == "http10" else Sink()
    sim_port = free_port()
    log = os.path.join(OUT, f"kannel{'-spool' if spool else ''}-sim.jsonl")
    s = sim(sim_port, count, 0, log, seed)
    time.sleep(0.3)
    admin, smsbox_port, sendsms = free_port(), free_port(), free_port()
    d = os.path.join(OUT, "kannel-spool" if spool else "kannel")
    shutil.rmtree(d, ignore_errors=True); os.makedirs(d)
    conf = f"""group = core
admin-port = {admin}
admin-password = bench
smsbox-port = {smsbox_port}
log-level = 4
log-file = "{d}/bearerbox.log"
box-allow-ip = "127.0.0.1"
dlr-storage = internal
"""
    if spool:
        os.makedirs(f"{d}/spool")
        conf += f"""store-type = spool
store-location = "{d}/spool"
"""
    for i in range(BINDS):
        conf += f"""
group = smsc
smsc = smpp
smsc-id = sim
host = 127.0.0.1
port = 0
receive-port = {sim_port}
smsc-username = trueotp
smsc-password = benchpw
system-type = ""
transceiver-mode = false
enquire-link-interval = 30
max-pending-submits = 64
"""
    conf += f"""
group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = {sendsms}
log-file = "{d}/smsbox.log"
log-level = 4

group = sms-service
keyword = default
get-url = "http://127.0.0.1:{sink.server_address[1]}/mo?from=%p&to=%P&text=%a"
max-messages = 0
catch-all = true
"""
    open(f"{d}/kannel.conf", "w").write(conf)
    bb = subprocess.Popen(["bearerbox", f"{d}/kannel.conf"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    boxes = []
    for i in range(KANNEL_SMSBOXES):  # bearerbox spreads MO over the smsboxes connected to it
        cf = f"{d}/kannel.conf" if i == 0 else f"{d}/kannel-{i}.conf"
        if i: open(cf, "w").write(conf.replace(f"sendsms-port = {sendsms}", f"sendsms-port = {free_port()}"))
        boxes.append(subprocess.Popen(["smsbox", cf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    pids = lambda: [bb.pid] + [b.pid for b in boxes] + [int(x) for x in subprocess.run(["pgrep", "-f", f"{d}/kannel"], capture_output=True, text=True).stdout.split()]
    c0 = cpu_of(set(pids()))
    try:
        summary = json.loads(s.communicate(timeout=900)[0].strip().splitlines()[-1])
        # smsbox delivers MO to the sink after bearerbox acked it: wait until it stops.
        last, still = -1, time.time()
        while time.time() - still < 5:
            if sink.count != last: last, still = sink.count, time.time()
            time.sleep(0.5)
    finally:
        c1 = cpu_of(set(pids()))
        # What bearerbox held: it acks from memory, so MO not yet delivered pile up there.
        bb_rss = rss_peak_mib(bb.pid) if bb.poll() is None else 0
        for p in (*boxes, bb):
            p.terminate()
            try: p.wait(timeout=10)
            except subprocess.TimeoutExpired: p.kill()
        sink.shutdown()
    r = {"what": f"Kannel 1.4.5 bearerbox+smsbox{', store-type = spool' if spool else ', no store'} (baseline)", "messages": count, "msgs_per_s": summary["rate"], "ack_p50_ms": summary["ack_p50_ms"],
         "ack_p99_ms": summary["ack_p99_ms"], "ack_p999_ms": summary["ack_p999_ms"], "kannel_cpu_s_per_100k": round((c1 - c0) / max(summary["done"], 1) * 1e5, 2),
         "mo_at_sink": sink.count, "bearerbox_peak_rss_mib": round(bb_rss, 1),
         # Kannel acks from memory, ahead of delivery (bearerbox queues what smsbox has not
         # passed on yet): its rate to the application is MO at the sink, first to last.
         "delivered_per_s": round(sink.count / (sink.last - sink.first), 1) if sink.count > 1 else 0,
         "sink": "http10 (http.server, a connection per MO)" if os.environ.get("KANNEL_SINK") == "http10" else "keep-alive (selector, canned 200)"}
    print(json.dumps(r)); results.append(r)


def run_python(pg_url, count, seed):
    psql(pg_url, "TRUNCATE messages, message_dedup, message_parts")
    sim_port = free_port()
    log = os.path.join(OUT, "python-sim.jsonl")
    s = sim(sim_port, count, 0, log, seed)
    time.sleep(0.3)
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests/Benchmarks/baseline/python_esme.py"), str(sim_port), str(count), "benchpw", pg_url],
                         stdout=subprocess.PIPE, stderr=open(os.path.join(OUT, "python-esme.err"), "w"), text=True)
    while s.poll() is None:
        if p.poll() is not None:  # the baseline died: stop the simulator, record it
            s.send_signal(signal.SIGINT); time.sleep(1); s.kill()
            r = {"what": "Python smpplib + psycopg2 (baseline) FAILED", "messages": count, "msgs_per_s": 0, "ack_p50_ms": 0, "ack_p99_ms": 0, "ack_p999_ms": 0,
                 "error": open(os.path.join(OUT, "python-esme.err")).read()[-500:]}
            print(json.dumps(r)); results.append(r)
            return
        time.sleep(0.2)
    summary = json.loads(s.communicate(timeout=900)[0].strip().splitlines()[-1])
    out, _ = p.communicate(timeout=60)
    r = {"what": "Python smpplib + psycopg2, one row per message (baseline)", "messages": count, "msgs_per_s": summary["rate"],
         "ack_p50_ms": summary["ack_p50_ms"], "ack_p99_ms": summary["ack_p99_ms"], "ack_p999_ms": summary["ack_p999_ms"],
         "rows": int(psql(pg_url, "SELECT count(*) FROM messages"))}
    print(json.dumps(r)); results.append(r)


def plot(rows_sat, rows_rate):
    try:
        import matplotlib
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "matplotlib"], check=True)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(2, 1, figsize=(9, 6), sharex=False)
    for rows, label in ((rows_sat, "saturation"), (rows_rate, "fixed 10k msgs/s")):
        t0 = rows[0][0] if rows else 0
        ax[0].plot([r[0] - t0 for r in rows], [r[1] for r in rows], label=label)
        ax[1].plot([r[0] - t0 for r in rows], [r[2] for r in rows], label=label)
    ax[0].set_ylabel("PDUs acked / s (per 250 ms)"); ax[0].legend(); ax[0].grid(True)
    ax[1].set_ylabel("ack p99 (ms), per 250 ms"); ax[1].set_xlabel("seconds"); ax[1].legend(); ax[1].grid(True)
    fig.suptitle("smpp-bridge end to end: simulator -> bridge -> PostgreSQL (fsync on), 2 cores")
    fig.tight_layout()
    path = os.path.join(ROOT, "docs/perf-e2e.png")
    fig.savefig(path, dpi=90)
    print("plot:", path)


def main():
    env = subprocess.run([os.path.join(ROOT, "Tests/Support/throwaway-pg.sh"), "start"], capture_output=True, text=True, check=True).stdout
    vals = dict(l.split("=", 1) for l in env.strip().splitlines())
    pgtmp, pg_url = vals["PGTMP"], vals["PG_URL"].strip("'")
    if os.environ.get("PG_SOCKET"):  # PG_SOCKET=1: every client over the Unix socket instead of TCP loopback (A/B)
        pg_url = pg_url.replace("host=127.0.0.1", f"host={pgtmp}")
    try:
        postmaster = int(open(os.path.join(pgtmp, "data/postmaster.pid")).readline())
        # WAL segments recycled, as on a running server (see throwaway-pg.sh warm).
        subprocess.run([os.path.join(ROOT, "Tests/Support/throwaway-pg.sh"), "warm", pg_url], check=True)
        subprocess.run([MIGRATE_BIN, "migrate"], env=dict(bridge_environment(), BRIDGE_DATABASE_URL=pg_url), check=True, capture_output=True)
        if PG_STATS: psql(pg_url, "CREATE EXTENSION pg_stat_statements")
        psql(pg_url, f"""INSERT INTO leases (order_id, msisdn, service, starts_at, expires_at)
            SELECT g, ({DEST[0]}::bigint + g)::text, (ARRAY['whatsapp','google','telegram','microsoft','amazon','uber'])[1 + g % 6],
                   now() - interval '1 hour', CASE WHEN g % 10 = 0 THEN now() - interval '5 minutes' ELSE now() + interval '6 hours' END
            FROM generate_series(0, 999999) g""")
        psql(pg_url, "VACUUM ANALYZE leases")
        print("leases:", psql(pg_url, "SELECT count(*) FROM leases"))
        _, log_rate = run_bridge("bridge-fixed-10k", pg_url, postmaster, RATE_N, 10000, 21)
        _, log_sat = run_bridge("bridge-saturation", pg_url, postmaster, SAT_N, 0, 22)
        if not os.environ.get("BRIDGE_ONLY"):  # BRIDGE_ONLY=1: skip the baselines (quick profiling runs)
            run_kannel(KANNEL_N, 23)
            run_kannel(KANNEL_N, 23, spool=True)
            run_python(pg_url, PY_N, 24)
        if not os.environ.get("NO_PLOT"):  # NO_PLOT=1: keep docs/perf-e2e.png as it is
            plot(timeline(log_sat), timeline(log_rate))
    finally:
        subprocess.run([os.path.join(ROOT, "Tests/Support/throwaway-pg.sh"), "stop", pgtmp])
    json.dump(results, open(os.path.join(OUT, "results.json"), "w"), indent=1)
    sat = next(r for r in results if r["what"] == "bridge-saturation")
    k = next((r for r in results if r["what"].startswith("Kannel") and "spool" not in r["what"]), None)
    ks = next((r for r in results if r["what"].startswith("Kannel") and "spool" in r["what"]), None)
    py = next((r for r in results if r["what"].startswith("Python")), None)
    print("\n== make bench (2 cores, PostgreSQL on this host, fsync on)")
    for r in results:
        print(f"{r['what']:58s} {r['msgs_per_s']:>9.0f} msgs/s  ack p50 {r['ack_p50_ms']:7.2f}  p99 {r['ack_p99_ms']:7.2f}  p99.9 {r['ack_p999_ms']:7.2f} ms")
    print(f"bridge: CPU {sat['bridge_cpu_s_per_100k']} s/100k, PostgreSQL CPU {sat['postgres_cpu_s_per_100k']} s/100k, peak RSS {sat['bridge_peak_rss_mib']} MiB, lost {sat['lost']}, duplicated {sat['duplicated']}")
    if k:
        print(f"Kannel MO delivered to its sink: {k['delivered_per_s']:.0f}/s ({k['mo_at_sink']} of {k['messages']}, first to last MO)")
        print(f"vs Kannel: {sat['msgs_per_s'] / max(k['msgs_per_s'], 1):.1f}x its ack rate, "
              f"{sat['msgs_per_s'] / max(k['delivered_per_s'], 1):.1f}x its delivery rate to the application")
    if ks:
        print(f"vs Kannel with store-type = spool (stores before it acks, as the bridge does): {sat['msgs_per_s'] / max(ks['msgs_per_s'], 1):.1f}x its ack rate, "
              f"{sat['msgs_per_s'] / max(ks['delivered_per_s'], 1):.1f}x its delivery rate to the application")
    if py: print(f"vs Python: {sat['msgs_per_s'] / max(py['msgs_per_s'], 1):.1f}x")


if __name__ == "__main__":
    main()
