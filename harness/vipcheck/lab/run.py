"""One run's identity and everything it owns: a short id, a private folder, a cgroup that
every process it starts is born in. Leaving the `with` block undoes it all, also on failure,
SIGINT or SIGTERM: the cgroup is killed, the orphans reaped, the folders removed."""
import json
import os
import secrets
import select
import shutil
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psutil

from vipcheck.errors import EnvironmentProblem, Interrupted
from vipcheck.lab import frr_folders, reaper
from vipcheck.lab.cgroup import RunCgroup
from vipcheck.lab.stall import StallWatch

RUNS_DIR = Path(os.environ.get("VIPCHECK_RUNS_DIR", "/run/vipcheck"))
NODE_DIR_SEPARATOR = "."  # RUNS_DIR/<run id> is the run's folder, RUNS_DIR/<run id>.<node> a node's
STOP_GRACE_S = 3.0  # SIGTERM, then this long for a clean exit, then SIGKILL
# A frozen process is stopped, or already gone: what freeze() waits for.
STOPPED = (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP, psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD, None)


def _read(pid, what):
    """One of psutil's readings of a process (create_time, status), or None once it is gone."""
    try:
        return getattr(psutil.Process(pid), what)()
    except psutil.Error:
        return None


def start_time(pid):
    """The process's start time: with the PID it names one process for ever."""
    return _read(pid, "create_time")


def alive(pid, start):
    """True while the process that had this PID and start time runs; an exited one that its
    parent (often init, for a killed run's orphans) has not reaped yet is a zombie: not alive."""
    try:
        process = psutil.Process(pid)
        return process.create_time() == start and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_exit(pid, timeout_s):
    """Waits for any process (not only a child) to exit, on a pidfd event; True if it did."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], timeout_s)
        return bool(ready)
    finally:
        os.close(fd)


def children_of(pid):
    """The PIDs a process forked (by any of its threads)."""
    try:
        return [child.pid for child in psutil.Process(pid).children()]
    except psutil.Error:  # it is gone
        return []


def end_processes(processes, grace_s=STOP_GRACE_S):
    """SIGTERM, then SIGKILL after grace_s, for (pid, start_time, label) entries whose PID still
    names the process that was recorded: a capture that must flush before the run ends."""
    running = [(p, s, l) for p, s, l in processes if alive(p, s)]
    procs = []
    for pid, _, _ in running:
        try:
            procs.append(psutil.Process(pid))
            procs[-1].terminate()
        except psutil.NoSuchProcess:  # it ended on its own meanwhile
            pass
    _, still = psutil.wait_procs(procs, timeout=grace_s)
    for process in still:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(still, timeout=1.0)
    return running


def freeze(pids):
    """SIGSTOP for every process at once, then waits until each is stopped: from outside, the
    daemons of a host that died at one instant. (Killed one after another, they took up to 1.5 s
    on a loaded machine, and r1 saw a half-crashed host: ospfd still sending, zebra and bfdd gone.)"""
    for pid in pids:
        _signal(pid, signal.SIGSTOP)
    for pid in pids:
        deadline = time.monotonic() + 1.0
        while _read(pid, "status") not in STOPPED and time.monotonic() < deadline:
            time.sleep(0.001)


def kill_daemon(pid, popen=None):
    """SIGKILL for a daemon and the children it forked, as a crash: the parent is stopped first,
    so it cannot respawn a child killed before it (keepalived does, and the new child outlived
    the crash while its parent died). Everything killed is reaped (through `popen` when the
    daemon is one): as a subreaper the harness inherits the orphans, and an unreaped zombie
    still answers kill(pid, 0), so a restarted keepalived would think its old self runs."""
    freeze([pid])
    children = children_of(pid)
    for child in children:
        _signal(child, signal.SIGKILL)
    _signal(pid, signal.SIGKILL)
    if popen is not None:
        popen.wait()
    else:
        reaper.reap_orphan(pid)
    for child in children:
        reaper.reap_orphan(child)


def _signal(pid, signum):
    try:
        os.kill(pid, signum)
    except ProcessLookupError:  # it ended on its own meanwhile
        pass


def netns_inode(pid):
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def node_dirs(run_id):
    return sorted(RUNS_DIR.glob(f"{run_id}{NODE_DIR_SEPARATOR}*"))


def remove_folders(run_id):
    """The nodes' folders first, the run's own last: a run folder found later still leads to them."""
    removed = []
    for folder in [*node_dirs(run_id), RUNS_DIR / run_id]:
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


class Run:
    def __init__(self, scenario=None, seed=None, report=lambda message: None):
        self.id = None
        self.report = report  # progress lines for people, from any phase of the run
        self.started_at = None
        self.dir = None
        self.scenario, self.seed = scenario, seed
        self.mode = "run"     # "held" once `up` or --keep-on-fail keeps the network
        self.nodes = {}       # logical -> {name, role, pid, start, netns, frr_dir}
        self.interfaces = []  # every interface name the run creates: `clean` finds strays by them
        self.links = []       # (interface, interface) pairs, for `vipcheck cli`
        self.processes = []   # (pid, start_time, label)
        self.children = []    # Popen objects of processes started in the foreground, reaped at the end
        self.cgroup = None    # every process the run starts is born in it
        self.stalls = None    # lab.stall.StallWatch: how much the machine stalled, any window of the run
        self.steps = {}       # seconds per step of the build (nodes, links, addresses, carrier, daemons), for the bench
        self._undo = []       # cleanup steps, run last-in first-out
        self._old_handlers = {}
        self._cleaning = False

    # --- lifetime -------------------------------------------------------------------------
    def __enter__(self):
        RUNS_DIR.mkdir(mode=0o711, parents=True, exist_ok=True)
        while True:  # ids are short for interface names; retry the rare collision
            run_id = secrets.token_hex(2)
            try:
                (RUNS_DIR / run_id).mkdir(mode=0o700)
                break
            except FileExistsError:
                continue
        self.id, self.dir = run_id, RUNS_DIR / run_id
        self.started_at = time.time()
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._old_handlers[signum] = signal.signal(signum, self._on_signal)
        self._save_state()
        # The folder exists before the cgroup and outlives it: a cgroup without its folder is a
        # dead run's (`clean` relies on that order).
        try:
            frr_folders.make_private()
            reaper.become_subreaper()
            self.cgroup = RunCgroup.for_run(RUNS_DIR, run_id).create()
            self.cgroup.enter()
            self._save_state()
            self.stalls = StallWatch(self.cgroup.path)  # a thread: after the unshare above
        except OSError as e:  # the kernel refused a mount namespace or a cgroup: the machine's problem
            self.cleanup()
            raise EnvironmentProblem(f"cannot give the run its own cgroup and mounts ({e})",
                                     "run as root on a kernel with cgroup v2 and mount namespaces") from None
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        self.cleanup()
        return False

    def _on_signal(self, signum, _frame):
        if not self._cleaning:  # a second Ctrl-C must not cut the cleanup short
            raise Interrupted(signal.Signals(signum).name)

    def cleanup(self):
        self._cleaning = True
        errors = []
        if self.stalls:
            self.stalls.stop()
        try:
            self.end_processes()
        except Exception as e:  # keep undoing; a cgroup that would not die keeps its folder for `clean`
            errors.append(f"cgroup: {e}")
        while self._undo:
            step = self._undo.pop()
            try:
                step()
            except Exception as e:  # keep undoing the rest, report at the end
                errors.append(f"{getattr(step, '__name__', step)}: {e}")
        reaper.reap(self.children)
        self.children.clear()
        frr_folders.empty()
        if self.id and not (self.cgroup and self.cgroup.exists):
            remove_folders(self.id)
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        self._old_handlers.clear()
        self._cleaning = False
        for error in errors:
            print(f"vipcheck: cleanup: {error}", file=sys.stderr)

    @contextmanager
    def step(self, name):
        """Times one step of building the lab; a step that runs twice adds up."""
        start = time.monotonic()
        try:
            yield
        finally:
            self.steps[name] = round(self.steps.get(name, 0) + time.monotonic() - start, 4)

    def on_cleanup(self, step):
        """Registers an undo step; steps run in reverse order of registration."""
        self._undo.append(step)
        return step

    # --- files ----------------------------------------------------------------------------
    def node_dir(self, node, owner=None):
        """A node's private folder, next to the run folder rather than in it: the daemons drop to
        their own users, and every folder on their path must let them through."""
        path = RUNS_DIR / f"{self.id}{NODE_DIR_SEPARATOR}{node}"
        path.mkdir(mode=0o700, exist_ok=True)
        if owner:
            shutil.chown(path, *owner)
        return path

    def node_dirs(self):
        return node_dirs(self.id)

    def _save_state(self):
        state = {"run_id": self.id, "owner_pid": os.getpid(), "owner_start": start_time(os.getpid()),
                 "mode": self.mode, "scenario": str(self.scenario or ""), "seed": self.seed,
                 "started_at": self.started_at, "cgroup": str(self.cgroup.path) if self.cgroup else None,
                 "nodes": self.nodes, "interfaces": self.interfaces,
                 "links": self.links,
                 "processes": [{"pid": p, "start": s, "label": l} for p, s, l in self.processes]}
        tmp = self.dir / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.dir / "state.json")

    # --- processes ------------------------------------------------------------------------
    def adopt(self, pid, label, child=None):
        """Records a process this run started (a daemon that forked away, or `child`, a Popen
        that runs in the foreground and is reaped after it ends): `ps` and the artifacts name it."""
        if child is not None:
            self.children.append(child)
        start = start_time(pid)
        if start is None:
            raise RuntimeError(f"{label} (pid {pid}) exited right after it started")
        self.processes.append((pid, start, label))
        self._save_state()

    def end_processes(self):
        """Every process of the run at once, through its cgroup: node holders, daemons, and what
        they forked or respawned, recorded or not."""
        if self.cgroup:
            self.cgroup.leave()
            self.cgroup.kill()
        self.processes.clear()

    def end_process(self, pid):
        """Ends one recorded process before the run ends (a packet capture that must flush)."""
        entries = [entry for entry in self.processes if entry[0] == pid]
        end_processes(entries)
        self.processes = [entry for entry in self.processes if entry[0] != pid]
        self._save_state()

    # --- what `vipcheck ps/exec/cli/clean` find in the state file -------------------------
    def plan_interfaces(self, names):
        """Recorded before they exist: a run killed mid-build may leave one in the root namespace."""
        self.interfaces = sorted(names)
        self._save_state()

    def record_nodes(self, hosts, links):
        """hosts: Mininet hosts; their shells' PIDs name the namespaces `exec` and `cli` enter."""
        for host in hosts:
            self.nodes[host.logical] = {"name": host.name, "role": host.role, "pid": host.pid,
                                        "start": start_time(host.pid), "netns": netns_inode(host.pid),
                                        "frr_dir": None}
        self.links = [list(pair) for pair in links]
        self._save_state()

    def record_frr(self, logical, folder):
        self.nodes[logical]["frr_dir"] = str(folder)
        self._save_state()

    def mark_held(self):
        self.mode = "held"
        self._save_state()
