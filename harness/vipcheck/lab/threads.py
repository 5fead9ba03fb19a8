"""Starting threads so that Ctrl-C or SIGTERM cannot break them."""

import signal
import threading

HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def start_threads(threads):
    """Starts every thread with SIGINT and SIGTERM held off, then delivers the first that came.
    A Python handler that raises inside Thread.start(), after the thread runs but before start()
    registers it, makes that thread die on a KeyError in threading's own code."""
    if threading.current_thread() is not threading.main_thread():
        for thread in threads:  # only the main thread runs Python signal handlers
            thread.start()
        return
    arrived = []
    old = {signum: signal.signal(signum, lambda signum, _frame: arrived.append(signum)) for signum in HELD_SIGNALS}
    try:
        for thread in threads:
            thread.start()
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)
    if arrived:
        signal.raise_signal(arrived[0])  # the restored handler runs, as if it had come now
