"""The dns-pairs design's scenario keys: scenario.schema.json holds their types, ranges and
defaults; this holds the pairs' addressing rules and the spec the design is built from."""
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from vipcheck import REPO, schema
from vipcheck.schema.shared import checks as checks_of, sysctl

SCHEMA = schema.load_schema(Path(__file__).with_name("scenario.schema.json"))
CHECKS = ("dns_answers", "dns_rotation", "vip_pairs", "vrrp_failover", "session_sharing")
PAIRS = ("a", "b")
# The checks that measure the pairs: only these need the LBs, the backends and Redis built.
PAIR_CHECKS = ("vip_pairs", "vrrp_failover", "session_sharing")
DAEMON_CONF = REPO / "daemon-conf"  # the shipped BIND, keepalived and HAProxy templates


@dataclass(frozen=True)
class PairSpec:
    name: str                        # a or b
    segment: ipaddress.IPv4Network
    vip: str
    lbs: tuple                       # (active by configuration, standby)
    addresses: tuple                 # their segment addresses


@dataclass(frozen=True)
class DnsPairsScenario:
    source: str
    name: str
    topology: str
    sysctl: dict
    checks: tuple
    dns_name: str
    dns_ttl: int
    dns_queries: int
    rrset_order: object              # cyclic, random, none, or None for BIND's default
    dns_records: tuple               # which pairs' VIPs the zone lists
    pairs: dict                      # a/b -> PairSpec
    advert_interval: float
    priorities: dict                 # lb -> VRRP priority
    preempt: bool
    vrrp_blocked: tuple              # pairs whose LBs drop VRRP (a split-brain design)
    backends: int
    session_store: str               # redis or local
    backend_segment: ipaddress.IPv4Network
    failover_pair: str
    stream_pps: int
    max_gap_ms: int
    port: int
    client_links: ipaddress.IPv4Network
    daemon_conf: tuple               # template folders, searched in order: the scenario's, then daemon-conf/
    clients: int = 1

    @property
    def lb_names(self):
        return [lb for pair in self.pairs.values() for lb in pair.lbs]

    @property
    def builds_pairs(self):
        """DNS checks alone ask named from c1 through r1: the pairs, backends and Redis are not built."""
        return any(check in PAIR_CHECKS for check in self.checks)

    @property
    def vips(self):
        return {name: pair.vip for name, pair in self.pairs.items()}

    def master_down_s(self, lb):
        """RFC 5798: how long the backup `lb` waits before it takes over: 3 adverts plus its skew."""
        return 3 * self.advert_interval + (256 - self.priorities[lb]) * self.advert_interval / 256


def parse(top):
    """A DnsPairsScenario from the validated keys (`top`, a shared.Keys)."""
    pairs = {pair: _pair(top.sub("pairs").sub(pair), pair, index) for index, pair in enumerate(PAIRS, start=1)}
    if pairs["a"].segment.overlaps(pairs["b"].segment):
        top.fail("pairs", "the segments of pair a and pair b overlap")
    lb_names = [lb for pair in pairs.values() for lb in pair.lbs]
    vrrp, dns, backends, failover = top.sub("vrrp"), top.sub("dns"), top.sub("backends"), top.sub("failover")
    priorities = {lb: 150 if lb.endswith("1") else 100 for lb in lb_names}
    for lb, priority in vrrp["priorities"].items():
        if lb not in lb_names:
            vrrp.sub("priorities").fail(str(lb), f"no such LB (this design has {', '.join(lb_names)})")
        priorities[lb] = priority
    backend_segment = backends.network("segment")
    client_links = top.sub("addressing").network("client_links")
    nets = {"pairs.a.segment": pairs["a"].segment, "pairs.b.segment": pairs["b"].segment,
            "backends.segment": backend_segment, "addressing.client_links": client_links}
    for key, net in nets.items():
        for other_key, other in nets.items():
            if key < other_key and net.overlaps(other):
                top.fail(key, f"{net} overlaps {other_key} {other}")
    return DnsPairsScenario(top.source, top.get("name", Path(top.source).stem), "dns_pairs", sysctl(top.sub("sysctl")),
                            checks_of(top, CHECKS), dns["name"], dns["ttl"], dns["queries"], dns.get("rrset_order"),
                            tuple(dns["records"]), pairs, float(vrrp["advert_interval"]), priorities,
                            vrrp["preempt"], tuple(vrrp["blocked"]), backends["count"], backends["session_store"],
                            backend_segment, failover["pair"], failover["stream_pps"], failover["max_gap_ms"],
                            top["port"], client_links, _templates(top))


def _templates(top):
    """`daemon_conf` names a folder whose templates (bind/, keepalived/, haproxy/) are used in
    place of the shipped ones; what it lacks comes from daemon-conf/."""
    own = top.folder("daemon_conf", None)
    return (own, DAEMON_CONF) if own else (DAEMON_CONF,)


def _pair(keys, pair, index):
    """Pair a on 10.10.1.0/24 and b on 10.10.2.0/24 unless given: .1 the router, .11 and .12 the LBs."""
    keys.mapping.setdefault("segment", f"10.10.{index}.0/24")
    segment = keys.network("segment")
    if segment.prefixlen > 28:
        keys.fail("segment", f"{segment} is too small for a router, two LBs and a VIP")
    keys.mapping.setdefault("vip", str(segment.network_address + 100))
    vip = keys.ipv4("vip")
    lb_addresses = (str(segment.network_address + 11), str(segment.network_address + 12))
    if ipaddress.IPv4Address(vip) not in set(segment.hosts()) or vip in lb_addresses or \
            vip == str(segment.network_address + 1):
        keys.fail("vip", f"{vip} must be a free host address of {segment} (.1 is the router, .11 and .12 the LBs)")
    return PairSpec(pair, segment, vip, (f"lb-{pair}1", f"lb-{pair}2"), lb_addresses)
