"""Running programs inside Mininet nodes, always as argument lists, never through a shell."""
import subprocess

from mininet.link import Intf, Link
from mininet.node import Host


def node_name(logical, run_id):
    """Mininet's name, which its interface names inherit: the run id keeps runs apart."""
    return f"{logical}-{run_id}"


class NodeCommandError(RuntimeError):
    def __init__(self, node, argv, status, stderr):
        self.node, self.argv, self.status, self.stderr = node, argv, status, stderr.strip()
        super().__init__(f"{node}: {' '.join(argv)} exited {status}: {self.stderr.splitlines()[-1] if self.stderr else ''}")


class LabIntf(Intf):
    """An interface Mininet names and places but does not configure: its `ifconfig up` through
    the node's shell cost 8 ms an interface, and Lab.bring_up raises every one by netlink."""

    def config(self, **params):
        return {}


class LabLink(Link):
    """A link whose veth pair Lab made beforehand, all pairs in one call (_core.add_veth_pairs);
    Mininet's own forked an `ip link add` through the first node's shell, 8 ms a link."""

    @classmethod
    def makeIntfPair(cls, intfname1, intfname2, addr1=None, addr2=None, node1=None, node2=None, deleteIntfs=True):
        pass


class LabHost(Host):
    """A Mininet host whose commands run as argument lists; `logical` is the scenario's name."""

    # Mininet's class setup runs `which mnexec` and `which ifconfig`, once per node when the nodes
    # start at once; environment.py has checked every program a run needs, ifconfig none.
    isSetup = True

    def __init__(self, name, logical=None, role=None, **params):
        self.logical = logical or name
        self.role = role
        self._starting_shell = False  # Mininet's __init__ starts the shell: see startShell
        super().__init__(name, **params)

    def startShell(self, mnopts=None):
        """Mininet's shell, without mnexec's -c: it closes every descriptor up to the open-file
        limit one close() at a time, 25 ms a node at these machines' limit of 20,000. The shell
        keeps only its terminal all the same: _popen below has Python close the rest at once."""
        self._starting_shell = True
        try:
            super().startShell("-d" if mnopts is None else mnopts)
        finally:
            self._starting_shell = False

    def _popen(self, cmd, **params):
        if self._starting_shell:
            params["close_fds"] = True  # Mininet asks for False so that the terminal, fds 0-2, passes
        return super()._popen(cmd, **params)

    @property
    def netns(self):
        """The namespace path the C++ drivers enter."""
        return f"/proc/{self.pid}/ns/net"

    def start_argv(self, argv, **kwargs):
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        return self.popen(list(argv), universal_newlines=True, **kwargs)

    def run_argv(self, argv, check=True, stdin_text=None):
        proc = self.start_argv(argv, **({"stdin": subprocess.PIPE} if stdin_text is not None else {}))
        out, err = proc.communicate(stdin_text)
        if check and proc.returncode != 0:
            raise NodeCommandError(self.logical, argv, proc.returncode, err)
        return out


def run_everywhere(commands):
    """Runs (node, argv) pairs concurrently and waits for all; raises the first failure."""
    started = [(node, argv, node.start_argv(argv)) for node, argv in commands]
    failure = None
    for node, argv, proc in started:
        _, err = proc.communicate()
        if proc.returncode != 0 and failure is None:
            failure = NodeCommandError(node.logical, argv, proc.returncode, err)
    if failure:
        raise failure
