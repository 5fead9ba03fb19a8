"""A run's processes kept together in a cgroup v2 of its own. The harness enters the run's
cgroup before it starts anything, so every node holder, daemon, dry run and capture (and
whatever they fork, double-fork or respawn) is born inside it; the run ends by freezing and
killing the whole cgroup. Only the v2 hierarchy is ever written: on these machines it is a
tracking hierarchy with no controllers, and the memory cgroup (v1) a session sits in is
never touched."""
import hashlib
import os
import select
import signal
import time
from pathlib import Path

from vipcheck.errors import EnvironmentProblem

TREE = "vipcheck"
KILL_TIMEOUT_S = 10.0


def _v2_mount(mountinfo="/proc/self/mountinfo"):
    """The cgroup2 mount point: /sys/fs/cgroup/unified beside v1 here, /sys/fs/cgroup on a stock
    Debian 12."""
    for line in Path(mountinfo).read_text().splitlines():
        left, _, right = line.partition(" - ")
        if right.split()[:1] == ["cgroup2"]:
            return Path(left.split()[4])
    return None


def own_path(proc_cgroup="/proc/self/cgroup"):
    """This process's cgroup in the v2 hierarchy (the "0::" line), relative to its mount."""
    for line in Path(proc_cgroup).read_text().splitlines():
        if line.startswith("0::"):
            return line[3:].lstrip("/")
    return ""


def tracking_root(runs_dir, mountinfo="/proc/self/mountinfo", proc_cgroup="/proc/self/cgroup"):
    """Where the runs of one runs folder keep their cgroups. Where v2 carries the memory
    controller (a stock systemd machine), the tree hangs under the caller's own cgroup, so a
    process moved into it stays inside the memory cgroup the machine put it in."""
    mount = _v2_mount(mountinfo)
    if mount is None:
        return None
    controllers = (mount / "cgroup.controllers").read_text().split() if (mount / "cgroup.controllers").exists() else []
    base = mount / own_path(proc_cgroup) if "memory" in controllers else mount
    folder = Path(runs_dir).resolve()
    # One subtree per runs folder: run ids are unique within a folder only.
    key = f"{folder.name}-{hashlib.sha256(str(folder).encode()).hexdigest()[:8]}"
    return base / TREE / key


def require(runs_dir):
    root = tracking_root(runs_dir)
    if root is None:
        raise EnvironmentProblem("no cgroup v2 hierarchy is mounted: vipcheck tracks a run's processes in one",
                                 "mount -t cgroup2 none /sys/fs/cgroup/unified")
    return root


def _read(path):
    try:
        return Path(path).read_text()
    except OSError:
        return ""


class RunCgroup:
    """One run's cgroup: TREE/<runs folder>/<run id>."""

    def __init__(self, path):
        self.path = Path(path)
        self.origin = None  # the harness's cgroup before it entered, to go back to

    @classmethod
    def for_run(cls, runs_dir, run_id):
        return cls(require(runs_dir) / run_id)

    @property
    def exists(self):
        return self.path.is_dir()

    def create(self):
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    def enter(self):
        """Moves the calling process (every thread) in; its children are born inside from now on."""
        self.origin = _v2_mount() / own_path()
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def leave(self):
        """Back to where the harness was: it must not be in the cgroup it kills."""
        if self.origin is not None and self.contains(os.getpid()):
            (self.origin / "cgroup.procs").write_text(str(os.getpid()))

    def pids(self):
        """Every process in the cgroup and below it."""
        found = []
        for folder, _, _ in os.walk(self.path):
            found += [int(p) for p in _read(Path(folder) / "cgroup.procs").split()]
        return found

    def contains(self, pid):
        return pid in self.pids()

    def kill(self, timeout_s=KILL_TIMEOUT_S):
        """Freeze (nothing forks or respawns any more), SIGKILL every member, wait until it is
        empty, remove it. Returns the PIDs it killed."""
        if not self.exists:
            return []
        if self.contains(os.getpid()):
            raise RuntimeError(f"refusing to kill {self.path}: the harness itself is in it")
        victims = self.pids()
        if victims:
            self._write("cgroup.freeze", "1")
            self._wait_event("frozen 1", timeout_s)
            self._write("cgroup.kill", "1")
            if not self._wait_event("populated 0", timeout_s):
                raise RuntimeError(f"{self.path}: {len(self.pids())} processes still in it {timeout_s:.0f} s "
                                   "after SIGKILL (stuck in the kernel)")
        for folder in sorted((Path(f) for f, _, _ in os.walk(self.path)), key=lambda p: len(p.parts), reverse=True):
            try:
                folder.rmdir()
            except FileNotFoundError:
                pass
        return victims

    def _write(self, name, value):
        try:
            (self.path / name).write_text(value)
        except FileNotFoundError:  # a kernel without cgroup.kill (before 5.14) or freeze
            if name == "cgroup.kill":
                for pid in self.pids():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass

    def _wait_event(self, line, timeout_s):
        """Waits for cgroup.events to show `line`: the kernel wakes a poller on every change."""
        events = self.path / "cgroup.events"
        deadline = time.monotonic() + timeout_s
        with open(events) as f:
            poller = select.poll()
            poller.register(f, select.POLLPRI | select.POLLERR)
            while True:
                f.seek(0)
                if line in f.read().splitlines():
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                poller.poll(min(left, 0.1) * 1000)  # bounded: a change between read and poll is seen next round


def runs_in(runs_dir):
    """run id -> RunCgroup for every run cgroup of this runs folder, dead or alive."""
    root = tracking_root(runs_dir)
    if root is None or not root.is_dir():
        return {}
    return {folder.name: RunCgroup(folder) for folder in sorted(root.iterdir()) if folder.is_dir()}


def remove_tree_if_empty(runs_dir):
    """The runs folder's subtree, once no run has a cgroup in it (a case's private folder ends)."""
    root = tracking_root(runs_dir)
    for folder in (root, root.parent) if root else ():
        try:
            folder.rmdir()
        except OSError:  # another run's cgroup is still there, or it is gone already
            return
