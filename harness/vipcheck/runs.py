"""The runs on this machine, found through their own state files in the runs folder: which are
alive, how to enter their nodes, how to end a held one, how to clean up after a dead one.
Processes are only ever ended by the PID and start time a run recorded, never by name."""
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from vipcheck.errors import EnvironmentProblem, UsageError
from vipcheck.run import (NODE_DIR_SEPARATOR, RUNS_DIR, alive, end_processes, netns_inode, node_dirs, remove_folders,
                          start_time, wait_exit)

DOWN_TIMEOUT_S = 120
STARTING_GRACE_S = 60   # a run writes its state file right after making its folder


@dataclass
class RunInfo:
    id: str
    dir: object
    state: dict

    @property
    def owner_alive(self):
        return bool(self.state) and alive(self.state.get("owner_pid", 0), self.state.get("owner_start"))

    @property
    def age_s(self):
        started = self.state.get("started_at")
        return time.time() - started if started else None

    def node(self, name):
        nodes = self.state.get("nodes", {})
        if name not in nodes:
            raise UsageError(f"run {self.id} has no node '{name}' (nodes: {', '.join(sorted(nodes)) or 'none'})")
        entry = nodes[name]
        if not alive(entry["pid"], entry["start"]):
            raise UsageError(f"run {self.id}: node {name} is gone (its namespace ended with the run)")
        return entry


def _read(folder):
    try:
        return json.loads((folder / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def all_runs():
    if not RUNS_DIR.is_dir():
        return []
    # A node folder whose run folder is gone still names its run, so `clean` finds it too.
    ids = sorted({folder.name.split(NODE_DIR_SEPARATOR, 1)[0] for folder in RUNS_DIR.iterdir() if folder.is_dir()})
    return [RunInfo(run_id, RUNS_DIR / run_id, _read(RUNS_DIR / run_id)) for run_id in ids]


def abandoned(info):
    """A dead run's folder, or one without a state file that is too old to be a run starting now."""
    if info.state:
        return True
    folders = [info.dir, *node_dirs(info.id)]
    try:
        return time.time() - max(f.stat().st_mtime for f in folders if f.exists()) > STARTING_GRACE_S
    except (OSError, ValueError):
        return False


def find(run_id):
    folder = RUNS_DIR / run_id
    if "/" in run_id or NODE_DIR_SEPARATOR in run_id or not folder.is_dir():
        alive = [r.id for r in all_runs() if r.owner_alive]
        raise UsageError(f"no run '{run_id}' on this machine (alive: {', '.join(alive) or 'none'}; see vipcheck ps)")
    return RunInfo(run_id, folder, _read(folder))


def require_alive(info):
    if not info.owner_alive:
        raise UsageError(f"run {info.id} is dead (its vipcheck process is gone): vipcheck clean removes what it left")
    return info


def ps_table(runs):
    lines = [f"{'run':<5} {'state':<6} {'mode':<5} {'owner':>7} {'age':>7} {'nodes':>5}  scenario (seed)"]
    for r in runs:
        age = f"{r.age_s:.0f}s" if r.age_s is not None else "-"
        seed = r.state.get("seed")
        lines.append(f"{r.id:<5} {'alive' if r.owner_alive else 'dead':<6} {r.state.get('mode', '?'):<5} "
                     f"{r.state.get('owner_pid', '-'):>7} {age:>7} {len(r.state.get('nodes', {})):>5}  "
                     f"{r.state.get('scenario') or '?'}" + (f" ({seed})" if seed is not None else ""))
    return "\n".join(lines)


def enter_argv(info, node, argv):
    """argv run in the node's network namespace (Mininet hosts share the root mount namespace)."""
    entry = info.node(node)
    return ["nsenter", f"--net=/proc/{entry['pid']}/ns/net", "--", *argv]


def vtysh_argv(info, node, commands):
    entry = info.node(node)
    if not entry.get("frr_dir"):
        frr = sorted(n for n, e in info.state.get("nodes", {}).items() if e.get("frr_dir"))
        raise UsageError(f"node {node} of run {info.id} runs no FRR (FRR nodes: {', '.join(frr) or 'none'})")
    return enter_argv(info, node, ["vtysh", "--vty_socket", entry["frr_dir"],
                                   *[arg for command in commands for arg in ("-c", command)]])


def down(info):
    """Ends a held run's keeper, which tears its network down, and waits until it has."""
    require_alive(info)
    if info.state.get("mode") != "held":
        raise UsageError(f"run {info.id} is not held: it is a `vipcheck run` in progress "
                         f"(pid {info.state['owner_pid']}); stop it with Ctrl-C or SIGTERM")
    os.kill(info.state["owner_pid"], signal.SIGTERM)
    if not wait_exit(info.state["owner_pid"], DOWN_TIMEOUT_S):
        raise EnvironmentProblem(f"run {info.id}: its keeper (pid {info.state['owner_pid']}) did not end within "
                                 f"{DOWN_TIMEOUT_S} s", "vipcheck ps, then vipcheck clean once it is dead")
    if info.dir.exists():  # the keeper died mid-teardown: finish its work
        return clean(find(info.id))
    return []


def _held_namespaces(recorded, namespaces):
    """The run's namespaces that one of its recorded processes still holds. The kernel reuses a
    freed namespace's inode number, so one no longer held may belong to another run by now."""
    held = set()
    for pid, start, _ in recorded:
        inode = netns_inode(pid)
        if inode in namespaces and alive(pid, start):  # checked after the read: the PID still named it
            held.add(inode)
    return held


def _strays(run_id, namespaces, since_ticks, known):
    """(pid, start, why) of processes the run started but did not record (it was killed between
    starting a daemon and writing it down): in one of its held namespaces, or naming its folder."""
    folders = (f"{RUNS_DIR / run_id}/", f"{RUNS_DIR / run_id}{NODE_DIR_SEPARATOR}")
    found = []
    for proc in os.listdir("/proc"):
        if not proc.isdigit() or int(proc) == os.getpid() or int(proc) in known:
            continue
        start = start_time(int(proc))
        if start is None or start < since_ticks:
            continue
        if netns_inode(int(proc)) in namespaces:
            found.append((int(proc), start, "in the run's namespace"))
            continue
        try:
            cmdline = Path(f"/proc/{proc}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(folder in cmdline for folder in folders):
            found.append((int(proc), start, "names the run's folder"))
    return found


def clean(info):
    """Removes what a dead run left: its processes and node shells (so its namespaces end), any
    of its interfaces still in the root namespace, and its folder. Returns what it removed."""
    if info.owner_alive:
        raise UsageError(f"run {info.id} is alive (pid {info.state['owner_pid']}): "
                         f"vipcheck down {info.id} ends a held run")
    state, removed = info.state, []
    recorded = [(p["pid"], p["start"], p["label"]) for p in state.get("processes", [])]
    recorded += [(n["pid"], n["start"], f"{name} shell") for name, n in state.get("nodes", {}).items()]
    recorded = [entry for entry in recorded if alive(entry[0], entry[1])]
    if state.get("owner_start") is not None:
        # Found before anything ends: once the recorded ones have, a namespace may be reused.
        namespaces = _held_namespaces(recorded, {n["netns"] for n in state.get("nodes", {}).values()})
        recorded += _strays(info.id, namespaces, state["owner_start"], {pid for pid, _, _ in recorded})
    for pid, _, label in end_processes(recorded, grace_s=2.0):
        removed.append(f"process {pid} ({label})")
    present = {link["ifname"] for link in json.loads(
        subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True).stdout or "[]")}
    for name in sorted(present & set(state.get("interfaces", []))):
        if subprocess.run(["ip", "link", "del", "dev", name], capture_output=True).returncode == 0:
            removed.append(f"interface {name}")
    removed += [f"folder {folder}" for folder in remove_folders(info.id)]
    return removed


def clean_dead():
    """Removes the leftovers of every run that died without cleaning up: (run id, what was
    removed) per run. `vipcheck clean` calls it, and so does every run before it starts."""
    return [(info.id, clean(info)) for info in all_runs() if not info.owner_alive and abandoned(info)]
