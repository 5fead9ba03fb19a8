"""The lo-subnet design's scenario keys: scenario.schema.json holds their types, ranges and
defaults; this holds what the segment's addresses must be and the spec the design is built from."""
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from vipcheck import schema
from vipcheck.schema.shared import VipOnLbs, checks as checks_of, sysctl, traffic

SCHEMA = schema.load_schema(Path(__file__).with_name("scenario.schema.json"))
CHECKS = ("lo_route", "lo_reachability", "vip_reachable", "arp_suppression", "return_path")


@dataclass(frozen=True)
class LoSubnetScenario(VipOnLbs):
    traffic: object                  # shared.TrafficSpec
    checks: tuple
    vip_missing_on: tuple
    segment: ipaddress.IPv4Network
    gateway: str
    neighbour: str
    lb_addresses: tuple              # uplink address per LB, lb1 first
    vip_route_via: tuple             # LBs the gateway routes the VIP to
    client_links: ipaddress.IPv4Network
    neighbour_uplink: bool = False   # the neighbour's route to the VIP takes a link of its own to the gateway


def parse(top):
    """A LoSubnetScenario from the validated keys (`top`, a shared.Keys)."""
    lbs = top["lbs"]
    lb_names = [f"lb{i}" for i in range(1, lbs + 1)]
    segment = top.network("segment")
    if segment.prefixlen > 29:
        top.fail("segment", f"{segment} is too small for a gateway, a neighbour and LBs")
    hosts = set(segment.hosts())

    def in_segment(key):
        address = ipaddress.IPv4Address(top.ipv4(key))
        if address not in hosts:
            top.fail(key, f"{address} is not a host address of the segment {segment}")
        return address

    vip, gateway, neighbour, first_lb = (in_segment(key) for key in ("vip", "gateway", "neighbour", "first_lb"))
    lb_addresses = [first_lb + i for i in range(lbs)]
    if lb_addresses[-1] not in hosts:
        top.fail("first_lb", f"{lbs} LBs from {first_lb} run past the end of {segment}")
    taken = {"gateway": gateway, "neighbour": neighbour, "vip": vip}
    for key, address in taken.items():
        for other_key, other in taken.items():
            if key < other_key and address == other:
                top.fail(other_key, f"{other} is also the {key}'s address")
        if address in lb_addresses:
            top.fail(key, f"{address} is also LB lb{lb_addresses.index(address) + 1}'s uplink address")
    vip_route_via = top.names("vip_route_via", lb_names, "LB") if "vip_route_via" in top.mapping else tuple(lb_names)
    client_links = top.sub("addressing").network("client_links")
    if client_links.overlaps(segment):
        top.fail("addressing", f"client_links {client_links} overlaps the segment {segment}")
    return LoSubnetScenario(top.source, top.get("name", Path(top.source).stem), "lo_subnet", str(vip), lbs,
                            top["clients"], top["lo_prefixlen"], sysctl(top.sub("sysctl")),
                            traffic(top.sub("traffic"), top["clients"], 256), checks_of(top, CHECKS),
                            top.names("vip_missing_on", lb_names, "LB"), segment, str(gateway), str(neighbour),
                            tuple(str(a) for a in lb_addresses), vip_route_via, client_links,
                            top["neighbour_uplink"])
