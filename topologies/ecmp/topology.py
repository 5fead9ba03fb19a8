"""ECMP: clients -> r1 -> N LBs, every LB announcing the same VIP over OSPF.

    c1 ---+                +--- lb1  (VIP on lo)
    c2 ---+--- r1 (ECMP) --+--- lb2  (VIP on lo)
    ...   |                +--- ...
          point-to-point /30 links, OSPF area 0

With `routers: 2`, r2 stands next to r1: every LB links to both (each router has N equal
paths) and client i attaches to router i mod 2.
"""
from dataclasses import dataclass

from mininet.topo import Topo

from vipcheck.lab.nodes import LabHost, node_name


@dataclass(frozen=True)
class Link:
    """A point-to-point /30: `near` is the router's end, `far` the client's or LB's."""
    far: str
    near_address: str
    far_address: str
    network: str
    near: str = "r1"

    @property
    def prefixlen(self):
        return int(self.network.split("/")[1])


@dataclass(frozen=True)
class AddressPlan:
    client_links: tuple   # Link per client, in order c1..cN
    lb_links: tuple       # Link per router and LB: r1's to lb1..lbN, then r2's

    def router_links(self, router):
        return [link for link in self.lb_links if link.near == router]


def client_router(scenario, index):
    """The router client number `index` (from 0) attaches to."""
    return scenario.router_names[index % scenario.routers]


def address_plan(scenario):
    def carve(parent, pairs):
        subnets = parent.subnets(new_prefix=30)
        links = []
        for near, far in pairs:
            net = next(subnets)
            links.append(Link(far, str(net[1]), str(net[2]), str(net), near))
        return tuple(links)
    clients = [(client_router(scenario, i), c) for i, c in enumerate(scenario.client_names)]
    lbs = [(router, lb) for router in scenario.router_names for lb in scenario.lb_names]
    return AddressPlan(carve(scenario.client_links, clients), carve(scenario.lb_links, lbs))


class EcmpTopo(Topo):
    def build(self, scenario, run_id):
        routers = {r: self.addHost(node_name(r, run_id), cls=LabHost, logical=r, role="router", ip=None)
                   for r in scenario.router_names}
        for index, client in enumerate(scenario.client_names):
            host = self.addHost(node_name(client, run_id), cls=LabHost, logical=client, role="client", ip=None)
            self.addLink(host, routers[client_router(scenario, index)])
        lbs = {lb: self.addHost(node_name(lb, run_id), cls=LabHost, logical=lb, role="lb", ip=None)
               for lb in scenario.lb_names}
        for router in scenario.router_names:  # in the address plan's order: r1's links, then r2's
            for lb in scenario.lb_names:
                self.addLink(routers[router], lbs[lb])
