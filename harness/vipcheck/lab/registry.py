"""The runs on this machine, found through their folders and their cgroups: which are alive,
how to enter their nodes, how to end a held one, how to clean up after a dead one. A dead
run's processes are ended through its cgroup, never by name."""
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass

import psutil

from vipcheck.errors import EnvironmentProblem, UsageError
from vipcheck.lab import cgroup
from vipcheck.lab.run import NODE_DIR_SEPARATOR, RUNS_DIR, alive, node_dirs, remove_folders, wait_exit

DOWN_TIMEOUT_S = 120
STARTING_GRACE_S = 60   # a run writes its state file right after making its folder


@dataclass
class RunInfo:
    id: str
    dir: object
    state: dict
    cgroup: object = None   # cgroup.RunCgroup, while the run has one

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
    # Folders first, cgroups second: a run makes its folder before its cgroup and removes it
    # after, so a cgroup seen after its folder was missing is a dead run's.
    # A node folder whose run folder is gone still names its run, so `clean` finds it too.
    ids = {folder.name.split(NODE_DIR_SEPARATOR, 1)[0] for folder in RUNS_DIR.iterdir() if folder.is_dir()} \
        if RUNS_DIR.is_dir() else set()
    cgroups = cgroup.runs_in(RUNS_DIR)
    return [RunInfo(run_id, RUNS_DIR / run_id, _read(RUNS_DIR / run_id), cgroups.get(run_id))
            for run_id in sorted(ids | set(cgroups))]


def abandoned(info):
    """A dead run's folder, a cgroup whose run folder is gone, or a folder without a state file
    that is too old to be a run starting now."""
    if info.state or (info.cgroup and not info.dir.exists()):
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
    return RunInfo(run_id, folder, _read(folder), cgroup.runs_in(RUNS_DIR).get(run_id))


def require_alive(info):
    if not info.owner_alive:
        raise UsageError(f"run {info.id} is dead (its vipcheck process is gone): vipcheck clean removes what it left")
    return info


def ps_table(runs):
    lines = [f"{'run':<5} {'state':<6} {'mode':<5} {'owner':>7} {'age':>7} {'nodes':>5} {'procs':>5}  scenario (seed)"]
    for r in runs:
        age = f"{r.age_s:.0f}s" if r.age_s is not None else "-"
        seed = r.state.get("seed")
        procs = len(r.cgroup.pids()) if r.cgroup else 0
        scenario = r.state.get("scenario") or ("? (its folder is gone; vipcheck clean ends it)" if r.cgroup else "?")
        lines.append(f"{r.id:<5} {'alive' if r.owner_alive else 'dead':<6} {r.state.get('mode', '?'):<5} "
                     f"{r.state.get('owner_pid', '-'):>7} {age:>7} {len(r.state.get('nodes', {})):>5} {procs:>5}  "
                     f"{scenario}" + (f" ({seed})" if seed is not None else ""))
    return "\n".join(lines)


def join(info):
    """Puts the calling process into a held run's cgroup: what a user starts in its nodes
    (`vipcheck exec`) ends with the run."""
    if info.cgroup:
        (info.cgroup.path / "cgroup.procs").write_text(str(os.getpid()))


def enter_argv(info, node, argv):
    """argv run in the node's network namespace (Mininet hosts share the root mount namespace)."""
    entry = info.node(node)
    return ["nsenter", f"--net=/proc/{entry['pid']}/ns/net", "--", *argv]


def vtysh_argv(info, node, commands):
    entry = info.node(node)
    if not entry.get("frr_dir"):
        frr = sorted(n for n, e in info.state.get("nodes", {}).items() if e.get("frr_dir"))
        raise UsageError(f"node {node} of run {info.id} runs no FRR (FRR nodes: {', '.join(frr) or 'none'})")
    from vipcheck.daemons.frr import vtysh_argv as frr_vtysh  # here: ps and clean need no templates
    return enter_argv(info, node, frr_vtysh(entry["frr_dir"], *commands))


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


def clean(info):
    """Removes what a dead run left: every process in its cgroup (so its namespaces end), the
    cgroup, any of its interfaces still in the root namespace, and its folders. Returns what
    it removed."""
    if info.owner_alive:
        raise UsageError(f"run {info.id} is alive (pid {info.state['owner_pid']}): "
                         f"vipcheck down {info.id} ends a held run")
    state, removed = info.state, []
    if info.cgroup:
        labels = {p["pid"]: p["label"] for p in state.get("processes", [])}
        labels.update({n["pid"]: f"{name} shell" for name, n in state.get("nodes", {}).items()})
        names = {pid: labels.get(pid) or _command(pid) for pid in info.cgroup.pids()}  # before they are gone
        removed += [f"process {pid} ({names.get(pid, '?')})" for pid in info.cgroup.kill()]
        removed.append(f"cgroup {info.cgroup.path}")
    present = {link["ifname"] for link in json.loads(
        subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True).stdout or "[]")}
    for name in sorted(present & set(state.get("interfaces", []))):
        if subprocess.run(["ip", "link", "del", "dev", name], capture_output=True).returncode == 0:
            removed.append(f"interface {name}")
    removed += [f"folder {folder}" for folder in remove_folders(info.id)]
    return removed


def _command(pid):
    try:
        return (psutil.Process(pid).cmdline() or ["?"])[0]
    except psutil.Error:
        return "gone"


def clean_dead():
    """Removes the leftovers of every run that died without cleaning up: (run id, what was
    removed) per run. `vipcheck clean` calls it, and so does every run before it starts."""
    return [(info.id, clean(info)) for info in all_runs() if not info.owner_alive and abandoned(info)]
