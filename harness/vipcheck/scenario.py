"""Scenario files: YAML describing the design under test and its checks, validated before
anything touches the kernel. Every problem is one line naming the file, the key and the fault."""
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from vipcheck import REPO
from vipcheck.errors import ScenarioError

ECMP_ROLES = ("router", "lb", "client")
LO_SUBNET_ROLES = ("router", "lb", "client", "neighbour")
ECMP_CHECKS = ("ecmp_routes", "ecmp_spread", "flow_stickiness", "no_loss", "lo_route")
KNOWN_ECMP_CHECKS = ECMP_CHECKS + ("client_spread",)
FAILOVER_CHECKS = ("failover_gap", "route_withdrawn", "recovery", "flows_moved")
# Checks of a stream nothing disturbs: a failure timeline moves and loses flows by design.
STEADY_CHECKS = ("ecmp_spread", "client_spread", "flow_stickiness", "no_loss")
FAILURE_TYPES = ("link_down", "silent_drop", "frr_crash", "drain", "service_down")
LO_SUBNET_CHECKS = ("lo_route", "lo_reachability", "vip_reachable", "arp_suppression")
DNS_PAIRS_ROLES = ("router", "lb", "client", "dns", "backend", "redis")
DNS_PAIRS_CHECKS = ("dns_answers", "dns_rotation", "vip_pairs", "vrrp_failover", "session_sharing")
PAIRS = ("a", "b")
RRSET_ORDERS = ("cyclic", "random", "none")
DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
SYSCTL_KEY = re.compile(r"^net\.(ipv4|ipv6|core)\.[A-Za-z0-9_.\-]+$")
SYSCTL_VALUE = re.compile(r"^[A-Za-z0-9_.\- ]{1,64}$")
DEFAULT_FRR_CONF = REPO / "frr-conf"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


@dataclass(frozen=True)
class OspfSpec:
    hello: int = 1
    dead: object = 3                 # seconds, or "minimal"
    hello_multiplier: int = 0        # with dead: minimal
    bfd: bool = False
    bfd_interval_ms: int = 50
    bfd_multiplier: int = 3
    cost: dict = field(default_factory=dict)  # lb name -> interface cost

    def detection_s(self):
        """How long the router needs to declare a silent neighbour dead: BFD when on, else OSPF."""
        if self.bfd:
            return self.bfd_interval_ms * self.bfd_multiplier / 1000
        return 1.0 if self.dead == "minimal" else float(self.dead)

    def detection_cause(self):
        if self.bfd:
            return f"detection by BFD, {self.bfd_interval_ms} ms x {self.bfd_multiplier}"
        if self.dead == "minimal":
            return f"detection by OSPF dead minimal (1 s, hello multiplier {self.hello_multiplier})"
        return f"detection by OSPF dead interval {self.dead} s; enable BFD or dead minimal"


@dataclass(frozen=True)
class Failure:
    """One event of the timeline: a failure of `target`, or its restore, at_ms into the traffic.
    `at_ms: [a, b]` draws the moment from the run's seed, uniformly in [a, b]."""
    type: str
    target: str
    at_ms: int
    latest_ms: int = 0

    @property
    def last_ms(self):
        return max(self.at_ms, self.latest_ms)

    def draw_ms(self, rng):
        return rng.randint(self.at_ms, self.last_ms)


@dataclass(frozen=True)
class TrafficSpec:
    flows: int = 2048
    packets_per_flow: int = 4
    rate_pps: int = 100_000
    port: int = 5001

    @property
    def packets(self):
        return self.flows * self.packets_per_flow


@dataclass(frozen=True)
class _VipOnLbs:
    """What every design that binds one VIP on N LBs has first; node names lb1..lbN, c1..cN."""
    source: str
    name: str
    topology: str
    vip: str
    lbs: int
    clients: int
    lo_prefixlen: int
    sysctl: dict                     # role -> {key: value}, as the scenario wrote it

    @property
    def lb_names(self):
        return [f"lb{i}" for i in range(1, self.lbs + 1)]

    @property
    def client_names(self):
        return [f"c{i}" for i in range(1, self.clients + 1)]


@dataclass(frozen=True)
class EcmpScenario(_VipOnLbs):
    ospf: OspfSpec
    traffic: TrafficSpec
    checks: tuple
    vip_missing_on: tuple            # LBs that announce the VIP without binding it on lo
    client_links: ipaddress.IPv4Network
    lb_links: ipaddress.IPv4Network
    convergence_timeout_s: int
    frr_conf: Path                   # folder of FRR templates, one subfolder per role
    announce: str = "stub"           # stub: the VIP on lo as an intra-area route; external: redistributed
    nexthop_groups: bool = True      # zebra on r1 installs ECMP as kernel nexthop groups (FRR's default)
    failures: tuple = ()             # Failure events, a failure and optionally its restore
    max_gap_ms: int = 1000
    max_extra_moved: int = 0         # flows allowed to move beyond the failed LB's own
    duration_ms: int = 0             # of the steady stream, when there are failures
    routers: int = 1                 # every LB links to every router; client i to router i mod routers

    @property
    def router_names(self):
        return [f"r{i}" for i in range(1, self.routers + 1)]

    @property
    def failure(self):
        return next((f for f in self.failures if f.type != "restore"), None)

    @property
    def restore(self):
        return next((f for f in self.failures if f.type == "restore"), None)


@dataclass(frozen=True)
class LoSubnetScenario(_VipOnLbs):
    traffic: TrafficSpec
    checks: tuple
    vip_missing_on: tuple
    segment: ipaddress.IPv4Network
    gateway: str
    neighbour: str
    lb_addresses: tuple              # uplink address per LB, lb1 first
    vip_route_via: tuple             # LBs the gateway routes the VIP to
    client_links: ipaddress.IPv4Network


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
    clients: int = 1

    @property
    def lb_names(self):
        return [lb for pair in self.pairs.values() for lb in pair.lbs]

    @property
    def vips(self):
        return {name: pair.vip for name, pair in self.pairs.items()}


class _UniqueKeyLoader(yaml.SafeLoader):
    """A duplicated key is a typo that would silently win; refuse it."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class Fields:
    """Reads one mapping of the scenario and remembers which keys it used, so that
    finish() can reject the rest as unknown."""

    def __init__(self, source, path, mapping):
        self.source, self.path = source, path
        if mapping is None:
            mapping = {}
        if not isinstance(mapping, dict):
            self.fail("", f"must be a mapping, got {type(mapping).__name__}")
        self.mapping = mapping
        self.used = set()

    def where(self, key):
        return f"{self.path}.{key}" if self.path and key else (self.path or key)

    def fail(self, key, problem):
        raise ScenarioError(self.source, self.where(key), problem)

    def raw(self, key, default):
        self.used.add(key)
        return self.mapping.get(key, default)

    def integer(self, key, default, low, high):
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"must be an integer, got {value!r}")
        if not low <= value <= high:
            self.fail(key, f"must be between {low} and {high}, got {value}")
        return value

    def boolean(self, key, default):
        value = self.raw(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, got {value!r}")
        return value

    def text(self, key, default, pattern=NAME, hint="letters, digits, '.', '_' or '-'"):
        value = self.raw(key, default)
        if not isinstance(value, str) or not pattern.match(value):
            self.fail(key, f"must be {hint}, got {value!r}")
        return value

    def ipv4(self, key, default):
        value = self.raw(key, default)
        try:
            address = ipaddress.IPv4Address(value)
        except (ipaddress.AddressValueError, ValueError):
            self.fail(key, f"not an IPv4 address: {value!r}")
        if address.is_multicast or address.is_loopback or address.is_unspecified or address.is_reserved:
            self.fail(key, f"{address} cannot be a unicast service address")
        return str(address)

    def network(self, key, default):
        value = self.raw(key, default)
        try:
            return ipaddress.IPv4Network(value, strict=True)
        except (ipaddress.AddressValueError, ipaddress.NetmaskValueError, ValueError, TypeError) as e:
            self.fail(key, f"not an IPv4 network: {value!r} ({e})")

    def sub(self, key):
        return Fields(self.source, self.where(key), self.raw(key, None))

    def names(self, key, default, allowed, what):
        value = self.raw(key, default)
        if not isinstance(value, list):
            self.fail(key, f"must be a list of {what}, got {value!r}")
        for item in value:
            if item not in allowed:
                self.fail(key, f"unknown {what} {item!r} (known: {', '.join(allowed)})")
        if len(set(value)) != len(value):
            self.fail(key, f"lists a {what} twice")
        return tuple(value)

    def finish(self):
        unknown = sorted(set(map(str, self.mapping)) - set(map(str, self.used)))
        if unknown:
            known = ", ".join(sorted(self.used))
            self.fail(unknown[0], f"unknown key (known here: {known})")


def load(path):
    """Reads and validates a scenario file; raises ScenarioError naming the problem."""
    return _load(path)[0]


def expectation(path):
    """What a case states it must do (its `expect:` block): {check: words its diagnosis must hold}
    for every check it must fail, {} for a design that must pass every check; None without a block."""
    return _load(path)[1]


def _load(path):
    source = str(path)
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ScenarioError(source, "", f"cannot read: {e.strerror}") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ScenarioError(source, where, f"YAML syntax: {problem}") from None
    top = Fields(source, "", raw)
    topology = top.text("topology", None, re.compile(r"^(ecmp|lo-subnet|dns-pairs)$"),
                        "one of: ecmp, lo-subnet, dns-pairs")
    stated = top.raw("expect", None)
    scenario = {"ecmp": _parse_ecmp, "lo-subnet": _parse_lo_subnet, "dns-pairs": _parse_dns_pairs}[topology](source,
                                                                                                          top)
    return scenario, None if stated is None else _expect(top.sub("expect"), scenario.checks)


def _expect(fields, checks):
    """expect: {fail: {CHECK: [words the diagnosis must hold], ...}}; no `fail`, the design must pass."""
    fail = fields.raw("fail", {})
    fields.finish()
    if not isinstance(fail, dict):
        fields.fail("fail", f"must map each check the case must fail to words of its diagnosis, got {fail!r}")
    for check, words in fail.items():
        if check not in checks:
            fields.fail(f"fail.{check}", f"not among the scenario's checks ({', '.join(checks)})")
        if not isinstance(words, list) or not all(isinstance(word, str) and word for word in words):
            fields.fail(f"fail.{check}", f"must be a list of words its diagnosis holds, got {words!r}")
    return {check: list(words) for check, words in fail.items()}


def _parse_ecmp(source, top):
    name = top.text("name", Path(source).stem)
    lbs = top.integer("lbs", 2, 2, 16)
    clients = top.integer("clients", 1, 1, 16)
    routers = top.integer("routers", 1, 1, 2)
    lb_names = [f"lb{i}" for i in range(1, lbs + 1)]
    vip = top.ipv4("vip", "10.100.0.1")
    lo_prefixlen = top.integer("lo_prefixlen", 32, 1, 32)

    sysctl = _sysctl(top, ECMP_ROLES)

    ospf_fields = top.sub("ospf")
    hello = ospf_fields.integer("hello", 1, 1, 65535)
    dead = ospf_fields.raw("dead", 3)
    multiplier = 0
    if dead == "minimal":
        multiplier = ospf_fields.integer("hello_multiplier", 4, 1, 10)
    else:
        dead = ospf_fields.integer("dead", 3, 1, 65535)
        if dead <= hello:
            ospf_fields.fail("dead", f"must exceed hello ({hello} s) or neighbours flap, got {dead}")
        if "hello_multiplier" in ospf_fields.mapping:
            ospf_fields.fail("hello_multiplier", "only applies with dead: minimal")
    bfd_raw = ospf_fields.raw("bfd", False)
    bfd, bfd_interval, bfd_multiplier = False, 50, 3
    if isinstance(bfd_raw, dict):
        bfd_fields = ospf_fields.sub("bfd")
        bfd = True
        bfd_interval = bfd_fields.integer("interval_ms", 50, 10, 60000)
        bfd_multiplier = bfd_fields.integer("multiplier", 3, 2, 255)
        bfd_fields.finish()
    else:
        bfd = ospf_fields.boolean("bfd", False)
    cost_fields = ospf_fields.sub("cost")
    cost = {}
    for lb in cost_fields.mapping:
        if lb not in lb_names:
            cost_fields.fail(str(lb), f"no such LB (this scenario has {', '.join(lb_names)})")
        cost[lb] = cost_fields.integer(lb, 10, 1, 65535)
    cost_fields.finish()
    ospf_fields.finish()
    ospf = OspfSpec(hello, dead, multiplier, bfd, bfd_interval, bfd_multiplier, cost)

    traffic = _traffic(top, clients, 2048)
    announce = top.text("announce", "stub", re.compile(r"^(stub|external)$"), "stub or external")
    nexthop_groups = top.boolean("router_nexthop_groups", True)
    failures = _failures(top, lb_names)
    if failures and routers > 1:
        top.fail("failures", "the failure timeline measures r1's route alone: use routers: 1")
    restores = any(f.type == "restore" for f in failures)
    default_checks = ("lo_route", *(c for c in FAILOVER_CHECKS if restores or c != "recovery")) if failures \
        else ECMP_CHECKS
    checks = top.names("checks", list(default_checks), KNOWN_ECMP_CHECKS + FAILOVER_CHECKS, "check")
    if not checks:
        top.fail("checks", "lists no check")
    if set(checks) & set(FAILOVER_CHECKS) and not failures:
        top.fail("checks", f"{sorted(set(checks) & set(FAILOVER_CHECKS))[0]} needs a `failures` timeline")
    if "recovery" in checks and not restores:
        top.fail("checks", "recovery needs a restore in `failures`")
    steady = [c for c in checks if c in STEADY_CHECKS]
    if steady and failures:
        top.fail("checks", f"{steady[0]} judges a stream nothing disturbs, and `failures` moves and loses flows by "
                 "design: judge them with failover_gap, flows_moved and recovery (the spread after the restore)")
    max_gap_ms = top.integer("max_gap_ms", 1000, 0, 600_000)
    max_extra_moved = top.integer("max_extra_moved", 0, 0, 64000 * clients)
    last_ms = max((f.last_ms for f in failures), default=0)
    settle_ms = int(max(1.0, 2 * ospf.detection_s()) * 1000) + 1000
    duration_ms = top.integer("duration_ms", last_ms + settle_ms if failures else 0, 0, 600_000)
    if failures and duration_ms <= last_ms:
        top.fail("duration_ms", f"the stream must outlast the last event at {last_ms} ms")
    vip_missing_on = top.names("vip_missing_on", [], lb_names, "LB")
    if vip_missing_on and announce != "external":
        top.fail("vip_missing_on", "an LB without the VIP announces it only with announce: external")

    addressing = top.sub("addressing")
    client_links = addressing.network("client_links", "10.1.0.0/16")
    lb_links = addressing.network("lb_links", "10.2.0.0/16")
    addressing.finish()
    for key, net, count in (("client_links", client_links, clients), ("lb_links", lb_links, lbs * routers)):
        if net.prefixlen > 30 or net.num_addresses // 4 < count:
            addressing.fail(key, f"{net} has room for fewer than {count} /30 links")
        if ipaddress.IPv4Address(vip) in net:
            top.fail("vip", f"{vip} lies inside addressing.{key} {net}: the VIP must not be a link address")
    if client_links.overlaps(lb_links):
        addressing.fail("lb_links", f"{lb_links} overlaps client_links {client_links}")
    timeout = top.integer("convergence_timeout_s", 30, 1, 600)
    frr_conf = _folder(top, "frr_conf", DEFAULT_FRR_CONF)
    top.finish()
    return EcmpScenario(source, name, "ecmp", vip, lbs, clients, lo_prefixlen, sysctl, ospf, traffic,
                        checks, vip_missing_on, client_links, lb_links, timeout, frr_conf, announce, nexthop_groups,
                        failures, max_gap_ms, max_extra_moved, duration_ms, routers)


def _failures(top, lb_names):
    """failures: [{type, target, at_ms}]: one failure, then optionally the restore of its target."""
    raw = top.raw("failures", [])
    if not isinstance(raw, list):
        top.fail("failures", f"must be a list of {{type, target, at_ms}}, got {raw!r}")
    events = []
    for index, entry in enumerate(raw):
        fields = Fields(top.source, f"failures[{index}]", entry)
        kind = fields.raw("type", None)
        if kind not in FAILURE_TYPES + ("restore",):
            fields.fail("type", f"must be one of {', '.join(FAILURE_TYPES + ('restore',))}, got {kind!r}")
        target = fields.raw("target", None)
        if target not in lb_names:
            fields.fail("target", f"must be an LB of this scenario ({', '.join(lb_names)}), got {target!r}")
        if isinstance(fields.raw("at_ms", None), list):
            window = fields.raw("at_ms", None)
            if len(window) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 600_000
                                           for v in window) or window[0] > window[1]:
                fields.fail("at_ms", f"must be milliseconds (1..600000) or a window [earliest, latest], got {window!r}")
            at_ms, latest_ms = window
        else:
            at_ms = latest_ms = fields.integer("at_ms", None, 1, 600_000)
        fields.finish()
        events.append(Failure(kind, target, at_ms, latest_ms))
    if not events:
        return ()
    if events[0].type == "restore":
        top.fail("failures", "the timeline starts with a restore; put the failure first")
    if len(events) > 2 or (len(events) == 2 and (events[1].type != "restore" or events[1].target != events[0].target)):
        top.fail("failures", "one failure, optionally followed by the restore of the same LB")
    if len(events) == 2 and events[1].at_ms <= events[0].last_ms:
        top.fail("failures", f"the restore at {events[1].at_ms} ms must come after the failure at {events[0].last_ms} ms")
    return tuple(events)


def _sysctl(top, roles):
    """sysctl: {ROLE: {KEY: VALUE}}, per-namespace keys only."""
    sysctl = {}
    sysctl_fields = top.sub("sysctl")
    for role in roles:
        role_fields = sysctl_fields.sub(role)
        values = {}
        for key in role_fields.mapping:
            value = role_fields.raw(key, None)
            if not isinstance(key, str) or not SYSCTL_KEY.match(key):
                role_fields.fail(str(key), "not a per-namespace sysctl (net.ipv4.*, net.ipv6.* or net.core.*)")
            if isinstance(value, bool) or not isinstance(value, (int, str)) or not SYSCTL_VALUE.match(str(value)):
                role_fields.fail(key, f"sysctl value must be a number or a short word, got {value!r}")
            values[key] = value
        sysctl[role] = values
    sysctl_fields.finish()
    return sysctl


def _checks(top, known):
    checks = top.names("checks", list(known), known, "check")
    if not checks:
        top.fail("checks", "lists no check")
    return checks


def _traffic(top, clients, default_flows):
    traffic_fields = top.sub("traffic")
    flows = traffic_fields.integer("flows", default_flows, 1, 64000 * clients)
    traffic = TrafficSpec(
        flows,
        traffic_fields.integer("packets_per_flow", 4, 1, 10000),
        traffic_fields.integer("rate_pps", 100_000, 1, 2_000_000),
        traffic_fields.integer("port", 5001, 1, 65535))
    if traffic.packets > 20_000_000:
        traffic_fields.fail("packets_per_flow", f"flows x packets_per_flow = {traffic.packets}, at most 20000000")
    traffic_fields.finish()
    return traffic


def _parse_lo_subnet(source, top):
    name = top.text("name", Path(source).stem)
    lbs = top.integer("lbs", 2, 1, 16)
    lb_names = [f"lb{i}" for i in range(1, lbs + 1)]
    segment = top.network("segment", "192.168.247.0/24")
    if segment.prefixlen > 29:
        top.fail("segment", f"{segment} is too small for a gateway, a neighbour and LBs")
    hosts = set(segment.hosts())

    def in_segment(key, default):
        address = ipaddress.IPv4Address(top.ipv4(key, default))
        if address not in hosts:
            top.fail(key, f"{address} is not a host address of the segment {segment}")
        return address

    vip = in_segment("vip", "192.168.247.100")
    gateway = in_segment("gateway", "192.168.247.2")
    neighbour = in_segment("neighbour", "192.168.247.1")
    first_lb = in_segment("first_lb", "192.168.247.12")
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
    lo_prefixlen = top.integer("lo_prefixlen", 32, 1, 32)
    clients = top.integer("clients", 1, 1, 1)
    sysctl = _sysctl(top, LO_SUBNET_ROLES)
    vip_route_via = top.names("vip_route_via", list(lb_names), lb_names, "LB")
    if not vip_route_via:
        top.fail("vip_route_via", "the gateway must route the VIP to at least one LB")
    traffic = _traffic(top, clients, 256)
    checks = _checks(top, LO_SUBNET_CHECKS)
    vip_missing_on = top.names("vip_missing_on", [], lb_names, "LB")
    addressing = top.sub("addressing")
    client_links = addressing.network("client_links", "10.1.0.0/16")
    addressing.finish()
    if client_links.overlaps(segment):
        top.fail("addressing", f"client_links {client_links} overlaps the segment {segment}")
    top.finish()
    return LoSubnetScenario(source, name, "lo-subnet", str(vip), lbs, clients, lo_prefixlen, sysctl, traffic,
                            checks, vip_missing_on, segment, str(gateway), str(neighbour),
                            tuple(str(a) for a in lb_addresses), vip_route_via, client_links)


def _parse_dns_pairs(source, top):
    name = top.text("name", Path(source).stem)
    sysctl = _sysctl(top, DNS_PAIRS_ROLES)
    checks = _checks(top, DNS_PAIRS_CHECKS)

    dns = top.sub("dns")
    dns_name = dns.text("name", "www.lb.test", DNS_NAME, "a lower-case DNS name such as www.lb.test")
    ttl = dns.integer("ttl", 30, 0, 86400)
    queries = dns.integer("queries", 100, 10, 10000)
    rrset_order = dns.raw("rrset_order", None)
    if rrset_order is not None and rrset_order not in RRSET_ORDERS:
        dns.fail("rrset_order", f"must be one of {', '.join(RRSET_ORDERS)} (or absent for BIND's default), "
                                f"got {rrset_order!r}")
    records = dns.names("records", list(PAIRS), PAIRS, "pair")
    if not records:
        dns.fail("records", "the zone must list at least one VIP")
    dns.finish()

    pairs_fields = top.sub("pairs")
    pairs = {}
    for index, pair in enumerate(PAIRS, start=1):
        fields = pairs_fields.sub(pair)
        segment = fields.network("segment", f"10.10.{index}.0/24")
        if segment.prefixlen > 28:
            fields.fail("segment", f"{segment} is too small for a router, two LBs and a VIP")
        vip = fields.ipv4("vip", str(segment.network_address + 100))
        lb_addresses = (str(segment.network_address + 11), str(segment.network_address + 12))
        if ipaddress.IPv4Address(vip) not in set(segment.hosts()) or vip in lb_addresses or \
                vip == str(segment.network_address + 1):
            fields.fail("vip", f"{vip} must be a free host address of {segment} (.1 is the router, .11 and .12 the LBs)")
        fields.finish()
        pairs[pair] = PairSpec(pair, segment, vip, (f"lb-{pair}1", f"lb-{pair}2"), lb_addresses)
    pairs_fields.finish()
    if pairs["a"].segment.overlaps(pairs["b"].segment):
        top.fail("pairs", "the segments of pair a and pair b overlap")
    lb_names = [lb for pair in pairs.values() for lb in pair.lbs]

    vrrp = top.sub("vrrp")
    advert = vrrp.raw("advert_interval", 0.1)
    if isinstance(advert, bool) or not isinstance(advert, (int, float)) or not 0.01 <= advert <= 255:
        vrrp.fail("advert_interval", f"must be seconds between 0.01 and 255, got {advert!r}")
    priority_fields = vrrp.sub("priorities")
    priorities = {lb: 150 if lb.endswith("1") else 100 for lb in lb_names}
    for lb in priority_fields.mapping:
        if lb not in lb_names:
            priority_fields.fail(str(lb), f"no such LB (this design has {', '.join(lb_names)})")
        priorities[lb] = priority_fields.integer(lb, 100, 1, 254)
    priority_fields.finish()
    preempt = vrrp.boolean("preempt", True)
    blocked = vrrp.names("blocked", [], PAIRS, "pair")
    vrrp.finish()

    backends_fields = top.sub("backends")
    backends = backends_fields.integer("count", 2, 1, 8)
    store = backends_fields.raw("session_store", "redis")
    if store not in ("redis", "local"):
        backends_fields.fail("session_store", f"must be redis or local, got {store!r}")
    backend_segment = backends_fields.network("segment", "10.10.3.0/24")
    backends_fields.finish()

    failover = top.sub("failover")
    failover_pair = failover.text("pair", "a", re.compile(r"^[ab]$"), "a or b")
    stream_pps = failover.integer("stream_pps", 2000, 100, 100_000)
    max_gap_ms = failover.integer("max_gap_ms", 1000, 1, 60_000)
    failover.finish()
    port = top.integer("port", 80, 1, 65535)
    addressing = top.sub("addressing")
    client_links = addressing.network("client_links", "10.1.0.0/16")
    addressing.finish()
    nets = {"pairs.a.segment": pairs["a"].segment, "pairs.b.segment": pairs["b"].segment,
            "backends.segment": backend_segment, "addressing.client_links": client_links}
    for key, net in nets.items():
        for other_key, other in nets.items():
            if key < other_key and net.overlaps(other):
                top.fail(key, f"{net} overlaps {other_key} {other}")
    top.finish()
    return DnsPairsScenario(source, name, "dns-pairs", sysctl, checks, dns_name, ttl, queries, rrset_order,
                            records, pairs, float(advert), priorities, preempt, blocked, backends, store,
                            backend_segment, failover_pair, stream_pps, max_gap_ms, port, client_links)


def _folder(fields, key, default):
    """A folder named relative to the scenario file."""
    value = fields.raw(key, None)
    if value is None:
        return default
    if not isinstance(value, str) or not value:
        fields.fail(key, f"must be a folder path, got {value!r}")
    folder = (Path(fields.source).parent / value).resolve()
    if not folder.is_dir():
        fields.fail(key, f"no such folder: {folder}")
    return folder
