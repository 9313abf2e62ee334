#!/usr/bin/env python3
"""make test: deploy/ stays valid: YAML and JSON parse, every alert and dashboard query
names a series the bridge exports, the TOML configs pass `smpp-bridge check-config`."""
import json, re, subprocess, sys, glob
try:
    import yaml
except ImportError:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "PyYAML"], check=True)
    import yaml

bridge = sys.argv[1]
problems = []
exported = set(re.findall(r'"(smpp_bridge_[a-z_]+)"', open("Sources/BridgeRuntime/Metrics.swift").read()))
def check_series(where, expr):
    for name in re.findall(r"smpp_bridge_[a-z_]+", expr):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name not in exported and base not in exported:
            problems.append(f"{where}: {name} is not exported")
alerts = yaml.safe_load(open("deploy/alerts.yml"))
for g in alerts["groups"]:
    for r in g["rules"]:
        check_series(f"alerts.yml {r['alert']}", r["expr"])
        if "runbook" not in r.get("annotations", {}): problems.append(f"alerts.yml {r['alert']}: no runbook")
        anchor = r["annotations"]["runbook"].split("#")[1]
        if anchor not in open("docs/operations.md").read().lower().replace(" ", ""):
            problems.append(f"alerts.yml {r['alert']}: docs/operations.md has no section {anchor}")
yaml.safe_load(open("deploy/prometheus.yml"))
compose = yaml.safe_load(open("deploy/docker-compose.yml"))
grace = compose["services"]["bridge"].get("stop_grace_period", "10s")
if int(grace.rstrip("s")) <= 10 + 5:
    problems.append(f"docker-compose.yml: the bridge's stop_grace_period {grace} is not longer than the drain (shutdown_grace_s 10 s and the writer's flush)")
# The simulator is a development tool: its own image stage, never the bridge's image.
dockerfile = open("deploy/Dockerfile").read()
final_stage = dockerfile.split("\nFROM ")[-1]
if "smpp-dev" in final_stage:
    problems.append("deploy/Dockerfile: the bridge's image (the last stage) contains smpp-dev")
for path in ("deploy/docker-compose.yml", "deploy/ha/docker-compose.yml"):
    sim = yaml.safe_load(open(path))["services"]["simulator"]
    if sim.get("build", {}).get("target") != "simulator":
        problems.append(f"{path}: the simulator service does not build the Dockerfile's simulator stage")
# The HA reference (deploy/ha): Patroni in synchronous mode, the bridge on every node asking for the writable one.
ha = yaml.safe_load(open("deploy/ha/docker-compose.yml"))
patroni = yaml.safe_load(open("deploy/ha/patroni.yml"))
if patroni["bootstrap"]["dcs"].get("synchronous_mode") is not True:
    problems.append("deploy/ha/patroni.yml: synchronous_mode is not on (an acked message would not survive the leader's loss)")
dcs = patroni["bootstrap"]["dcs"]
if dcs["loop_wait"] + 2 * dcs["retry_timeout"] > dcs["ttl"]:
    problems.append("deploy/ha/patroni.yml: loop_wait + 2 * retry_timeout exceeds ttl")
ha_url = ha["services"]["bridge"]["environment"]["BRIDGE_DATABASE_URL"]
if "target_session_attrs=read-write" not in ha_url or "pg1" not in ha_url or "pg2" not in ha_url:
    problems.append("deploy/ha/docker-compose.yml: the bridge's URL does not list both nodes with target_session_attrs=read-write")
for name, svc in ha["services"].items():
    build = svc.get("build") or {}
    if build and not glob.glob(build["dockerfile"]):
        problems.append(f"deploy/ha/docker-compose.yml {name}: no {build['dockerfile']}")
    for v in svc.get("volumes", []):
        if v.startswith("./") and not glob.glob("deploy/ha/" + v[2:].split(":")[0]):
            problems.append(f"deploy/ha/docker-compose.yml {name}: no {v.split(':')[0]}")
if int(ha["services"]["bridge"].get("stop_grace_period", "10s").rstrip("s")) <= 15:
    problems.append("deploy/ha/docker-compose.yml: the bridge's stop_grace_period is not longer than the drain")
unit = open("deploy/smpp-bridge.service").read()
for line in ("Type=notify", "RestartPreventExitStatus=2", "MemoryMax="):
    if line not in unit: problems.append(f"smpp-bridge.service: no {line}")
dash = json.load(open("deploy/grafana-dashboard.json"))
variables = {v["name"] for v in dash["templating"]["list"]}
for v in ("instance", "carrier"):
    if v not in variables: problems.append(f"grafana: no ${v} variable")
for p in dash["panels"]:
    for t in p["targets"]:
        for sel in re.findall(r"smpp_bridge_[a-z_]+(\{[^}]*\})?", t["expr"]):
            if '$instance' not in sel: problems.append(f"grafana {p['title']}: a series not filtered by $instance")
for p in dash["panels"]:
    for t in p["targets"]:
        check_series(f"grafana {p['title']}", t["expr"])
tomls = glob.glob("deploy/*.toml") + glob.glob("deploy/*/*.toml")
for toml in tomls:
    r = subprocess.run([bridge, "check-config", "--config", toml], capture_output=True, text=True)
    if r.returncode != 0: problems.append(f"{toml}: {r.stdout.strip()} {r.stderr.strip()}")
if problems:
    sys.exit("check-deploy FAILED:\n  " + "\n  ".join(problems))
print(f"check-deploy: {sum(len(g['rules']) for g in alerts['groups'])} alerts, {len(dash['panels'])} panels, {len(tomls)} configs, the HA reference ok")
