"""Running programs inside Mininet nodes, always as argument lists, never through a shell."""
import subprocess

from mininet.node import Host


class NodeCommandError(RuntimeError):
    def __init__(self, node, argv, status, stderr):
        self.node, self.argv, self.status, self.stderr = node, argv, status, stderr.strip()
        super().__init__(f"{node}: {' '.join(argv)} exited {status}: {self.stderr.splitlines()[-1] if self.stderr else ''}")


class LabHost(Host):
    """A Mininet host whose commands run as argument lists; `logical` is the scenario's name."""

    def __init__(self, name, logical=None, role=None, **params):
        self.logical = logical or name
        self.role = role
        super().__init__(name, **params)

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
