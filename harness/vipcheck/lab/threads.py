"""Starting and joining threads so that Ctrl-C or SIGTERM cannot break them.

A signal handler that raises is safe in neither step on this Python (3.11):
- inside Thread.start(), after the thread runs but before start() registers it, the thread dies
  on a KeyError in threading's own code;
- inside Thread.join(), threading marks the thread stopped while it still runs (CPython
  gh-90882), so interpreter exit no longer waits for it. A thread inside a `_core` call then
  takes the GIL back after finalization began, Python ends it with pthread_exit, and the unwind
  through a noexcept frame aborts the process ("terminate called without an active exception").
So both steps hold the signals off and deliver the first that came once they are done."""

import signal
import threading
from contextlib import contextmanager

HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _signals_held(on_signal=None):
    """Records SIGINT and SIGTERM instead of running their handlers, calls on_signal() when one
    comes, and afterwards delivers the first to the restored handler, as if it came then."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread runs Python signal handlers
        return
    arrived = []

    def hold(signum, _frame):
        arrived.append(signum)
        if on_signal:
            on_signal()

    old = {signum: signal.signal(signum, hold) for signum in HELD_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)
    if arrived:
        signal.raise_signal(arrived[0])


def start_threads(threads):
    """Starts every thread with SIGINT and SIGTERM held off, then delivers the first that came."""
    with _signals_held():
        for thread in threads:
            thread.start()


def join_threads(threads, on_signal=None):
    """Joins every thread with SIGINT and SIGTERM held off. A signal that comes meanwhile calls
    on_signal() (which should make the threads end soon) and is delivered once all have ended."""
    with _signals_held(on_signal):
        for thread in threads:
            thread.join()


@contextmanager
def running(threads, cancel=None):
    """Starts the threads, runs the block, and leaves only when every thread has ended. An
    exception in the block, or a signal while waiting, first calls cancel() when given."""
    start_threads(threads)
    try:
        yield
    except BaseException:
        if cancel:
            cancel()
        raise
    finally:
        join_threads(threads, on_signal=cancel)
