"""The folder a failing run leaves for the developer who owns the check: what the network
showed (lab/forensics.py writes it while the network is up), the flow table, the result, the
scenario, and REPRO.txt with the command that rebuilds the run."""
import csv
import datetime
import hashlib
import json
import os
import shlex
import shutil
import socket
import subprocess
from pathlib import Path

from vipcheck import REPO, traffic

def reproduce_argv(scenario_path, seed, keep=False):
    """The command that rebuilds the same network and flows: the launcher when there is one."""
    launcher = os.environ.get("VIPCHECK_LAUNCHER")
    prefix = [launcher] if launcher else ["/usr/bin/python3", "-m", "vipcheck"]
    return [*prefix, "run", str(Path(scenario_path).resolve()), "--seed", str(seed),
            *(["--keep-on-fail"] if keep else [])]


def _owner_for(path):
    """Under sudo, the developer who asked owns what they will read."""
    uid, gid = os.environ.get("SUDO_UID"), os.environ.get("SUDO_GID")
    if uid and gid and uid.isdigit() and gid.isdigit():
        for folder, dirs, files in os.walk(path):
            for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                os.chown(name, int(uid), int(gid))


def _flow_tables(deliveries, folder):
    written = []
    for name, delivery in deliveries.items():
        filename = "flows.csv" if len(deliveries) == 1 else f"flows-{name}.csv"
        rows = list(traffic.flow_rows(delivery))
        with open(folder / filename, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["flow"])
            writer.writeheader()
            writer.writerows(rows)
        written.append(filename)
    return written


def _connection_table(result, folder):
    """connections.csv: one row per TCP connection, its LB and fate."""
    if not result.connections:
        return []
    with open(folder / "connections.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(result.connections[0]))
        writer.writeheader()
        writer.writerows(result.connections)
    return ["connections.csv"]


def _git_commit():
    try:
        return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=5).stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def _repro_text(result, scenario, failed, error, files):
    scenario_path = Path(scenario.source).resolve()
    digest = hashlib.sha256(scenario_path.read_bytes()).hexdigest()[:16]
    lines = [f"vipcheck: {result.scenario} failed in run {result.run_id} (seed {result.seed})",
             f"host {socket.gethostname()}, {datetime.datetime.now().isoformat(timespec='seconds')}, "
             f"vipcheck {_git_commit()}, kernel {os.uname().release}",
             f"scenario {scenario_path} (sha256 {digest}..., a copy is scenario.yaml here)", ""]
    if failed:
        lines.append("failed checks:")
        lines += [f"  {c.name}: {c.measured}" + (f"\n    cause: {c.diagnosis}" if c.diagnosis else "") for c in failed]
    if error:
        lines.append(f"the run stopped with an error: {error}")
    lines += ["", "Reproduce (as root; the same seed gives the same flows, hash seed and failure times):",
              "command: " + shlex.join(reproduce_argv(scenario_path, result.seed)), "",
              "Keep the network up after it fails, to look around:",
              "  " + shlex.join(reproduce_argv(scenario_path, result.seed, keep=True)),
              "  vipcheck exec RUN NODE -- ip route   |   vipcheck vtysh RUN r1   |   vipcheck down RUN", "",
              "files:"]
    lines += [f"  {name}" for name in files]
    return "\n".join(lines) + "\n"


def folder_for(out_root, result):
    """OUT_ROOT/<run id>-<scenario>/, made private: logs and captures of the network are the
    developer's eyes only."""
    folder = Path(out_root).resolve() / f"{result.run_id}-{result.scenario}"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def write(folder, deliveries, result, scenario, captured=(), error=None):
    """Completes the folder that forensics filled: flow tables, scenario, result, REPRO.txt."""
    files = [*_flow_tables(deliveries, folder), *_connection_table(result, folder), *captured]
    shutil.copyfile(scenario.source, folder / "scenario.yaml")
    (folder / "result.json").write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    nodes = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != "capture")
    files = ["REPRO.txt", "result.json", "scenario.yaml", *files,
             *[f"{n}/: kernel routes, nexthops, addresses, links, neighbours, sysctls"
               + (", FRR logs, configs, OSPF neighbours, database and routes" if (folder / n / "frr-routes.json").exists()
                  else ", daemon logs and configs" if any((folder / n).glob("*.log")) else "") for n in nodes]]
    failed = [c for c in result.checks if not c.passed]
    (folder / "REPRO.txt").write_text(_repro_text(result, scenario, failed, error, files))
    _owner_for(folder)
    return folder
