"""A signal that comes while vipcheck waits for its threads must neither kill a thread nor let the
interpreter exit past one that still runs C++ code (the SIGINT traffic case once aborted)."""
import os
import signal
import subprocess
import sys
import threading

import pytest

from vipcheck.lab.threads import running

# A thread that keeps entering and leaving a GIL-free `_core` call of WAIT_MS, as a sender does,
# until told to stop; SIGINT reaches the main thread while it waits for it, then the process exits.
SCRIPT = """
import signal, sys, threading
from vipcheck import _core
from vipcheck.lab.threads import join_threads

stop, entered = _core.Cancel(), threading.Event()

def spin():
    counter = _core.ArrivalCounter()
    entered.set()
    while not stop.is_set:
        counter.wait_for(1, WAIT_MS, WAIT_MS)  # WAIT_MS without the GIL (nothing arrives), then takes it back
    sys.stderr.write("thread ended\\n")

class Cut(Exception):
    pass

def cut(*_):
    raise Cut()

signal.signal(signal.SIGINT, cut)
thread = threading.Thread(target=spin)
thread.start()
entered.wait()
threading.Timer(0.05, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT)).start()
try:
    JOIN
except Cut:
    sys.stderr.write("interrupted\\n")
LINGER
sys.exit(130)
"""

# The control's thread stays out of the GIL for 2 s, so the exit always finds it inside the _core
# call: with 1 ms calls a loaded machine sometimes had it waiting for the GIL in Python code, where
# finalization ends a thread quietly (a soak round exited 130). A garbage cycle, kept by
# gc.disable() for the collection finalization makes once the runtime is marked finalizing, then
# holds the process open until the thread comes back for the GIL: its __del__ sleeps.
LINGER = """
import gc, time
class Linger:
    def __del__(self, sleep=time.sleep):
        sleep(10)
gc.disable()
linger = Linger()
linger.cycle = linger
del linger
"""


def _run(join, linger="", wait_ms=1):
    script = SCRIPT.replace("JOIN", join).replace("LINGER", linger).replace("WAIT_MS", str(wait_ms))
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, env=os.environ)


def test_an_interrupted_plain_join_marks_a_running_thread_dead():
    """The mechanism (CPython gh-90882): after a handler raised inside Thread.join(), the thread
    counts as ended although it runs, so interpreter exit would not wait for it."""
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()

    def cut(*_):
        raise InterruptedError()

    old = signal.signal(signal.SIGALRM, cut)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(InterruptedError):
            thread.join()
        assert not thread.is_alive()  # wrong: it still waits for `release`
    finally:
        signal.signal(signal.SIGALRM, old)
        release.set()


def test_a_plain_join_lets_exit_abort_in_a_running_thread():
    """Control: the process exits while the thread still calls into _core and dies of
    std::terminate, as the SIGINT traffic case once did."""
    done = _run("thread.join()", LINGER, wait_ms=2000)
    assert done.returncode == -signal.SIGABRT, done.stderr
    assert "terminate called without an active exception" in done.stderr


def test_join_threads_asks_the_thread_to_end_waits_and_then_delivers():
    done = _run("join_threads([thread], on_signal=stop.set)")
    assert done.returncode == 130, done.stderr
    assert done.stderr.splitlines() == ["thread ended", "interrupted"], done.stderr


def test_running_cancels_and_joins_when_the_block_fails():
    """A failing crash in the middle of a stream must not leave the senders running."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    with pytest.raises(RuntimeError):
        with running([thread], cancel=stop.set):
            raise RuntimeError("crash failed")
    assert stop.is_set() and not thread.is_alive()
