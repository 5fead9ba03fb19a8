"""Daemons that try to escape a run, for the containment cases:
    fake_daemon.py double-fork TOKEN   forks twice and returns; the grandchild lives on
    fake_daemon.py respawn TOKEN       stays; forks a child and forks a new one whenever it dies
TOKEN lands in every process's command line, so a case finds them all by it."""
import os
import signal
import sys


def live_forever():
    while True:
        signal.pause()


def double_fork():
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)  # as daemons do: the caller's pipes close
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    live_forever()


def respawn():
    """SIGCHLD stays blocked and is taken with sigwaitinfo: a handler with pause() loses a child's
    death that lands just before pause() begins (a soak round: the child was never respawned)."""
    def spawn():
        if os.fork() == 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            live_forever()

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    spawn()
    while True:
        signal.sigwaitinfo({signal.SIGCHLD})
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if not pid:
                break
            spawn()  # as keepalived does for its VRRP child


if __name__ == "__main__":
    {"double-fork": double_fork, "respawn": respawn}[sys.argv[1]]()
