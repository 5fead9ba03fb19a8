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
        super().__init__(name, **params)

    def startShell(self, mnopts=None):
        """No shell: vipcheck never sends a node a command line (every program runs through
        `mnexec -a` as an argument list, and `vipcheck cli` attaches shells of its own). The node
        is a process that holds its namespaces, made by mnexec as Mininet makes its shell, which
        started env, bash and stty on a terminal for each node. mnexec prints its pid once it is
        in the new namespaces: nothing may enter /proc/PID/ns/net before then, or it would be the
        root namespace."""
        self.shell = self._popen(["mnexec", "-dnp", "sleep", "infinity"], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True)
        announced = self.shell.stdout.readline()
        self.shell.stdout.close()
        if announced.strip(b"\x01\n") != str(self.shell.pid).encode():
            raise RuntimeError(f"{self.logical}: mnexec did not make the node's namespaces (exit {self.shell.wait()})")
        self.pid = self.shell.pid
        self.execed, self.lastCmd, self.lastPid, self.readbuf, self.waiting = False, None, None, "", False

    def cleanup(self):
        """The holder is ended with the run's cgroup and reaped with the run's other children."""
        self.shell = None

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

