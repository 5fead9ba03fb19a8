"""The Mininet CLI over a held run's nodes, from another process: each node gets a shell of its
own attached to the node's namespace (mnexec -a), so leaving the CLI ends only those shells."""
import re
import subprocess
import sys

from mininet.cli import CLI
from mininet.link import Intf
from mininet.net import Mininet
from mininet.node import Host

from vipcheck import _core


class AttachedHost(Host):
    """A Mininet host whose shell joins an existing node's namespace instead of making one."""

    def __init__(self, name, target_pid, **params):
        self.target_pid = target_pid
        super().__init__(name, inNamespace=False, **params)

    def startShell(self, mnopts=None):
        super().startShell(mnopts=f"-cda{self.target_pid}")


class AttachedIntf(Intf):
    def config(self, **_params):  # the interface exists and is configured: change nothing
        return {}


class AttachedLink:
    """Both ends of a veth pair, for the CLI's `net` and `links`."""

    def __init__(self, intf1, intf2):
        self.intf1, self.intf2 = intf1, intf2

    def status(self):
        return "(attached)"

    def __str__(self):
        return f"{self.intf1}<->{self.intf2}"


def attach(info):
    """A Mininet object over the run's nodes, by their scenario names."""
    Mininet.inited = True  # Mininet.init() would write sysctls in the root namespace
    net = Mininet(topo=None, build=False, controller=None, autoSetMacs=False, waitConnected=False)
    intfs = {}
    for name, entry in sorted(info.state["nodes"].items()):
        info.node(name)  # raises if the node is gone
        host = net.addHost(name, cls=AttachedHost, target_pid=entry["pid"], ip=None)
        addresses = {}
        for a in _core.read_addresses(f"/proc/{entry['pid']}/ns/net"):
            addresses.setdefault(a.ifname, (a.address, a.prefix_len))
        for ifname in sorted((addresses.keys() | _link_names(entry["pid"])) - {"lo"}):
            match = re.search(r"-eth(\d+)$", ifname)
            intf = AttachedIntf(ifname, node=host, port=int(match.group(1)) if match else None)
            intf.ip, intf.prefixLen = addresses.get(ifname, (None, None))
            intfs[ifname] = intf
    for a, b in info.state.get("links", []):
        if a in intfs and b in intfs:
            intfs[a].link = intfs[b].link = AttachedLink(intfs[a], intfs[b])
            net.links.append(intfs[a].link)
    return net


def _link_names(pid):
    out = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "--", "ip", "-o", "link", "show"],
                         capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


def run_cli(info):
    net = attach(info)
    try:
        print(f"run {info.id}: nodes {' '.join(sorted(info.state['nodes']))}; `exit` leaves the network up",
              file=sys.stderr)
        CLI(net)
    finally:
        for host in net.hosts:
            host.terminate()  # our attached shell only; the run's own shells stay
