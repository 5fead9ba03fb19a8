"""One run's identity and everything it owns: a short id, a private folder, the PIDs it
started. Leaving the `with` block undoes it all, also on failure, SIGINT or SIGTERM."""
import errno
import json
import os
import secrets
import select
import shutil
import signal
import sys
import time
from pathlib import Path

from vipcheck.errors import Interrupted

RUNS_DIR = Path(os.environ.get("VIPCHECK_RUNS_DIR", "/run/vipcheck"))
STOP_GRACE_S = 3.0  # SIGTERM, then this long for a clean exit, then SIGKILL


def _start_time(pid):
    """Process start time in clock ticks: with the PID it names one process for ever."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


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


class Run:
    def __init__(self, keep_dir=False):
        self.id = None
        self.dir = None
        self.keep_dir = keep_dir
        self.processes = []   # (pid, start_time, label)
        self.children = []    # Popen objects of processes started in the foreground, reaped at the end
        self._undo = []       # cleanup steps, run last-in first-out
        self._old_handlers = {}
        self._cleaning = False

    # --- lifetime -------------------------------------------------------------------------
    def __enter__(self):
        RUNS_DIR.mkdir(mode=0o711, parents=True, exist_ok=True)
        while True:  # ids are short for interface names; retry the rare collision
            run_id = secrets.token_hex(2)
            try:
                (RUNS_DIR / run_id).mkdir(mode=0o711)
                break
            except FileExistsError:
                continue
        self.id, self.dir = run_id, RUNS_DIR / run_id
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._old_handlers[signum] = signal.signal(signum, self._on_signal)
        self._save_state()
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
        self.end_processes()  # daemons first, while their nodes still exist
        while self._undo:
            step = self._undo.pop()
            try:
                step()
            except Exception as e:  # keep undoing the rest, report at the end
                errors.append(f"{getattr(step, '__name__', step)}: {e}")
        if self.dir and not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        self._old_handlers.clear()
        self._cleaning = False
        for error in errors:
            print(f"vipcheck: cleanup: {error}", file=sys.stderr)

    def on_cleanup(self, step):
        """Registers an undo step; steps run in reverse order of registration."""
        self._undo.append(step)
        return step

    # --- files ----------------------------------------------------------------------------
    def node_dir(self, node, owner=None):
        path = self.dir / node
        path.mkdir(mode=0o700, exist_ok=True)
        if owner:
            shutil.chown(path, *owner)
        return path

    def _save_state(self):
        state = {"run_id": self.id, "owner_pid": os.getpid(), "owner_start": _start_time(os.getpid()),
                 "processes": [{"pid": p, "start": s, "label": l} for p, s, l in self.processes]}
        tmp = self.dir / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.dir / "state.json")

    # --- processes ------------------------------------------------------------------------
    def adopt(self, pid, label, child=None):
        """Records a process this run started (a daemon that forked away, or `child`, a Popen
        that runs in the foreground and is reaped after it ends)."""
        if child is not None:
            self.children.append(child)
        start = _start_time(pid)
        if start is None:
            raise RuntimeError(f"{label} (pid {pid}) exited right after it started")
        self.processes.append((pid, start, label))
        self._save_state()

    def end_processes(self):
        """Ends every recorded process, checking each PID still names the process we started."""
        alive = [(p, s, l) for p, s, l in self.processes if _start_time(p) == s]
        for pid, _, _ in alive:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_GRACE_S
        for pid, start, _ in alive:
            if not wait_exit(pid, max(0.0, deadline - time.monotonic())) and _start_time(pid) == start:
                try:
                    os.kill(pid, signal.SIGKILL)
                    wait_exit(pid, 1.0)
                except ProcessLookupError:
                    pass
        self.processes.clear()
        for child in self.children:
            try:
                child.wait(timeout=1.0)
            except Exception:  # already reaped, or stuck in the kernel: nothing more to do
                pass
        self.children.clear()
        if self.dir and self.dir.exists():
            try:
                self._save_state()
            except OSError as e:
                if e.errno != errno.ENOENT:
                    raise
