"""What a failing run leaves for the developer who owns the check, taken while the network is
still up: per node the daemons' logs and configs, FRR's and the kernel's view, the flow table,
the router's packet capture, the result, and REPRO.txt with the command that rebuilds it."""
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
from vipcheck.daemons import frr
from vipcheck.lab.capture import FOLDER_SUFFIX as CAPTURE_FOLDER_SUFFIX
from vipcheck.lab.run import NODE_DIR_SEPARATOR

KERNEL_VIEW = {  # file -> `ip -j` command: a node's in one `ip -batch` process, one JSON array each
    "kernel-routes.json": "route show table all",
    "kernel-nexthops.json": "nexthop show",
    "addresses.json": "address show",
    "neighbours.json": "neighbour show",
}
OWN_PROCESS_VIEW = {  # file -> argv, each in a process of its own in every node
    "links.json": ["ip", "-j", "-s", "link", "show"],
    "sysctl.txt": ["sysctl", "net.ipv4", "net.core"],
}
COPIED_SUFFIXES = (".log", ".conf", ".cfg", ".json", ".zone")


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


def _dump_nodes(run, design, folder):
    """Every node's kernel view at once (an `ip -batch` and two more processes per node), then
    FRR's over the daemons' vty sockets, and writes each file."""
    started = []
    for name, node in sorted(design.lab.nodes.items()):
        batch = node.start_argv(["ip", "-j", "-force", "-batch", "-"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        started.append((name, list(KERNEL_VIEW), batch, "".join(c + "\n" for c in KERNEL_VIEW.values())))
        started += [(name, [file], node.start_argv(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE), None)
                    for file, argv in OWN_PROCESS_VIEW.items()]
    views = {}
    for name in sorted(design.lab.nodes):
        frr_dir = run.nodes.get(name, {}).get("frr_dir")
        views[name] = frr.state_views(frr_dir) if frr_dir else {}
    for name, files, proc, commands in started:
        out, err = proc.communicate(commands)
        if commands is None:  # one view, one process
            views[name][files[0]] = out if proc.returncode == 0 else f"exit {proc.returncode}: {err}{out}"
            continue
        parts = _json_values(out, len(files))
        if parts is None:  # a command the kernel refused (no nexthop objects, say): each on its own
            parts = [_ip_view(design.lab[name], KERNEL_VIEW[file]) for file in files]
        views[name].update(zip(files, parts))
    for name, files in views.items():
        (folder / name).mkdir(exist_ok=True)
        for file, text in files.items():
            (folder / name / file).write_text(text)


def _ip_view(node, command):
    proc = node.start_argv(["ip", "-j", *command.split()], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    return out if proc.returncode == 0 else f"exit {proc.returncode}: {err}{out}"


def _json_values(out, count):
    """The JSON texts `ip -j -batch` printed one after another, or None unless there are `count`."""
    decoder, values, at = json.JSONDecoder(), [], 0
    try:
        while (at := len(out) - len(out[at:].lstrip())) < len(out):  # the next value, past whitespace
            start = at
            _, at = decoder.raw_decode(out, at)
            values.append(out[start:at] + "\n")
    except ValueError:
        return None
    return values if len(values) == count else None


def _copy_run_files(run, folder):
    """The daemons' logs and configs from the run folder, per node."""
    for node_dir in (p for p in run.node_dirs() if not p.name.endswith(CAPTURE_FOLDER_SUFFIX)):
        node = node_dir.name.split(NODE_DIR_SEPARATOR, 1)[1]
        for path in sorted(node_dir.iterdir()):
            if path.is_file() and path.suffix in COPIED_SUFFIXES:
                (folder / node).mkdir(exist_ok=True)
                shutil.copyfile(path, folder / node / path.name)


def _flow_tables(design, folder):
    written = []
    deliveries = design.deliveries
    for name, delivery in deliveries.items():
        filename = "flows.csv" if len(deliveries) == 1 else f"flows-{name}.csv"
        rows = list(traffic.flow_rows(delivery))
        with open(folder / filename, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["flow"])
            writer.writeheader()
            writer.writerows(rows)
        written.append(filename)
    return written


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


def collect(run, design, result, scenario, out_root, capture=None, error=None):
    """Writes OUT_ROOT/<run id>-<scenario>/ and returns its path."""
    folder = Path(out_root).resolve() / f"{result.run_id}-{result.scenario}"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)  # logs and captures of the network: the developer's eyes only
    if design.lab:  # built, at least in part
        _dump_nodes(run, design, folder)
    _copy_run_files(run, folder)
    files = _flow_tables(design, folder)
    if capture:
        capture.stop()
        files += [f"capture/{name}" for name in capture.copy_to(folder / "capture")]
        if capture.summary:
            (folder / "capture" / "tcpdump.txt").write_text(
                f"{' '.join(capture.argv)}\n{capture.summary}\n")
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
