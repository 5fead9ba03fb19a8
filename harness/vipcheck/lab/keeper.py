"""Networks that outlive the command that built them (`vipcheck up`, `run --keep-on-fail`).
The command forks a keeper that builds and owns the network. Once the network is held, the
keeper lets go of the terminal, the command exits, and `vipcheck down RUN` ends the keeper,
which then tears everything down as any run does."""
import os
import signal
import sys
import traceback

from vipcheck import _core
from vipcheck.errors import Interrupted


def reach_lines(run, lab):
    """How to reach each node of a held run, for people."""
    lines = [f"{'node':<8} {'role':<9} addresses"]
    for name, node in sorted(lab.nodes.items()):
        addresses = [f"{a.address}/{a.prefix_len}" for a in _core.read_addresses(node.netns)
                     if not a.address.startswith("127.")]
        lines.append(f"{name:<8} {node.role:<9} {' '.join(addresses) or '-'}")
    frr = sorted(n for n, entry in run.nodes.items() if entry.get("frr_dir"))
    lines += ["", "reach it:",
              f"  vipcheck exec {run.id} NODE -- CMD...    a command in a node's namespace",
              *([f"  vipcheck vtysh {run.id} NODE [-c CMD]   FRR's shell ({', '.join(frr)})"] if frr else []),
              f"  vipcheck cli {run.id}                    the Mininet CLI over every node",
              f"  vipcheck down {run.id}                   tear it all down"]
    return lines


class Holder:
    """The keeper's side: hold the network until SIGTERM (`vipcheck down`)."""

    def __init__(self, report_fd):
        self.report_fd = report_fd
        self.held = False

    def keep(self, run, lab, headline, status):
        """Prints how to reach the network, tells the waiting command `status`, lets go of its
        terminal and waits for SIGTERM; returns once the run may tear down."""
        run.mark_held()
        print(headline)
        print("\n".join(reach_lines(run, lab)), flush=True)
        sys.stderr.flush()
        log = os.open(run.dir / "keeper.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(devnull)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # no terminal of ours may end it
        self.held = True
        self.tell(status)
        try:
            while True:
                signal.pause()
        except Interrupted:
            print(f"run {run.id}: down requested", flush=True)

    def tell(self, status):
        if self.report_fd is not None:
            os.write(self.report_fd, str(status).encode())
            os.close(self.report_fd)
            self.report_fd = None


def in_keeper(work):
    """Runs work(holder) -> exit status in a forked keeper and returns the status it reports,
    either once it holds the network or when it ends. SIGINT and SIGTERM are passed on to it."""
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        os.setsid()  # a Ctrl-C in the user's terminal reaches the command, which passes it on
        status = 3
        try:
            status = work(Holder(write_fd))
        except BaseException:  # a defect in the harness: show it, the run has cleaned up
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    os.close(write_fd)

    def forward(_signum, _frame):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    old = {signum: signal.signal(signum, forward) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        report = b""
        while chunk := os.read(read_fd, 16):
            report += chunk
        os.close(read_fd)
        if report:
            return int(report)
        _, wait_status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(wait_status)
        return code if code >= 0 else 128 - code
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)
