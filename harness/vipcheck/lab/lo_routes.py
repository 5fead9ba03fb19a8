"""What an LB's kernel does with addresses near its VIP, read over netlink: is the VIP local,
do its neighbours, gateway and the outside leave through the uplink, and does the local table
hold any prefix on lo wider than a host route. Every design that binds its VIP on lo measures
this; checks.lo_route judges it."""
import ipaddress
from dataclasses import dataclass, field

from vipcheck import _core

LOCAL_TABLE = 255
LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


@dataclass
class LoRoutes:
    lb: str
    vip: str
    uplink: str
    vip_lookup: object                           # _core.RouteLookup for the VIP
    lo_addresses: list                           # (address, prefix_len) on lo, loopback range excluded
    lookups: dict = field(default_factory=dict)  # label -> (address, _core.RouteLookup)
    wide_local: list = field(default_factory=list)  # (prefix, prefix_len) local routes on lo wider than /32

    def vip_prefixlen(self):
        return next((plen for address, plen in self.lo_addresses if address == self.vip), None)


def measure(node, lb, vip, uplink, targets):
    """targets: label -> address that must leave through `uplink`."""
    netns = node.netns
    lo_addresses = [(a.address, a.prefix_len) for a in _core.read_addresses(netns)
                    if a.ifname == "lo" and ipaddress.IPv4Address(a.address) not in LOOPBACK]
    wide = [(r.destination, r.prefix_len) for r in _core.read_table(netns, LOCAL_TABLE)
            if r.ifname == "lo" and r.type == "local" and r.prefix_len < 32
            and not ipaddress.IPv4Network(f"{r.destination}/{r.prefix_len}").subnet_of(LOOPBACK)]
    routes = LoRoutes(lb, vip, uplink, _core.lookup_route(netns, vip), lo_addresses, wide_local=wide)
    for label, address in targets.items():
        routes.lookups[label] = (address, _core.lookup_route(netns, address))
    return routes
