"""ECMP: clients -> r1 -> N LBs, every LB announcing the same VIP over OSPF.

    c1 ---+                +--- lb1  (VIP on lo)
    c2 ---+--- r1 (ECMP) --+--- lb2  (VIP on lo)
    ...   |                +--- ...
          point-to-point /30 links, OSPF area 0
"""
from dataclasses import dataclass

from mininet.topo import Topo

from vipcheck.nodes import LabHost


@dataclass(frozen=True)
class Link:
    """A point-to-point /30: `near` is r1's end, `far` the client's or LB's."""
    far: str
    near_address: str
    far_address: str
    network: str

    @property
    def prefixlen(self):
        return int(self.network.split("/")[1])


@dataclass(frozen=True)
class AddressPlan:
    client_links: tuple   # Link per client, in order c1..cN
    lb_links: tuple       # Link per LB, in order lb1..lbN


def address_plan(scenario):
    def carve(parent, names):
        subnets = parent.subnets(new_prefix=30)
        links = []
        for name in names:
            net = next(subnets)
            links.append(Link(name, str(net[1]), str(net[2]), str(net)))
        return tuple(links)
    return AddressPlan(carve(scenario.client_links, scenario.client_names),
                       carve(scenario.lb_links, scenario.lb_names))


def node_name(logical, run_id):
    """Mininet's name, which its interface names inherit: the run id keeps runs apart."""
    return f"{logical}-{run_id}"


class EcmpTopo(Topo):
    def build(self, scenario, run_id):
        r1 = self.addHost(node_name("r1", run_id), cls=LabHost, logical="r1", role="router", ip=None)
        for client in scenario.client_names:
            host = self.addHost(node_name(client, run_id), cls=LabHost, logical=client, role="client", ip=None)
            self.addLink(host, r1)
        for lb in scenario.lb_names:
            host = self.addHost(node_name(lb, run_id), cls=LabHost, logical=lb, role="lb", ip=None)
            self.addLink(r1, host)
