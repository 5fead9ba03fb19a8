"""The harness is the parent of every orphan its run makes: a daemon that double-forks is
reparented to it, not to PID 1 (which reaps late on these machines), and the run reaps it."""
import ctypes
import os
import select
import time

import psutil

PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)


def become_subreaper():
    """Not inherited across fork: each process that owns a run calls it."""
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap(popens=()):
    """Collects every child that has exited: first the Popen objects given (so they keep their
    exit status), then any other, orphans included. Returns the PIDs of the others."""
    for proc in popens:
        proc.poll()
    reaped = []
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append(pid)


def reap_orphan(pid, timeout_s=1.0):
    """Waits for one child that no Popen owns (an orphan reparented to us) and reaps it; a PID
    that is not our child is left to its parent."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            if not _parent_is_us(pid) or time.monotonic() > deadline:
                return False
            continue  # reparented to us between the two looks
        if done or time.monotonic() > deadline:
            return bool(done)
        select.select([], [], [], 0.001)


def _parent_is_us(pid):
    try:
        return psutil.Process(pid).ppid() == os.getpid()
    except psutil.Error:
        return False
