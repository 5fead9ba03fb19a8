"""The ECMP design's scenario keys: scenario.schema.json holds their types, ranges and defaults;
this holds the rules across keys and the spec the design is built from."""
import ipaddress
import math
from dataclasses import dataclass, field
from pathlib import Path

from vipcheck import REPO, schema
from vipcheck.checks import FALSE_ALARM_RATE
from vipcheck.schema.shared import FLOWS_PER_CLIENT, Keys, VipOnLbs, checks as checks_of, sysctl, traffic

SCHEMA = schema.load_schema(Path(__file__).with_name("scenario.schema.json"))
DEFAULT_CHECKS = ("ecmp_routes", "ecmp_spread", "flow_stickiness", "no_loss", "lo_route")
FAILOVER_CHECKS = ("failover_gap", "route_withdrawn", "recovery", "flows_moved")
CONNECTION_CHECKS = ("connections_kept", "rebalance")
# Checks of a stream nothing disturbs: a failure timeline moves and loses flows by design.
UNDISTURBED_CHECKS = ("ecmp_spread", "flow_stickiness", "no_loss", "return_path")
# ecmp_spread judges every client of several at FALSE_ALARM_RATE / (clients + 1): a client pinned
# to one of 2 LBs is caught there only from 26 flows (chi-square 26 on 1 dof, p 3e-7 for 16
# clients), and the chi-square test wants 5 flows per LB on average.
FLOWS_PER_CLIENT_JUDGED = 32
FAILURE_TYPES = ("link_down", "silent_drop", "frr_crash", "drain", "service_down")
# The LB set changes on purpose: `add` (an LB not in the route comes up and announces the VIP, a
# scale-out) and `remove` (an LB withdraws it for good, a scale-in). Neither has a restore.
SET_CHANGES = ("add", "remove")
EVENT_TYPES = (*FAILURE_TYPES, *SET_CHANGES)
DEFAULT_FRR_CONF = REPO / "frr-conf"
DEFAULT_COST = 10        # the OSPF cost of an LB's link when `ospf.cost` names none


@dataclass(frozen=True)
class OspfSpec:
    hello: int = 1
    dead: object = 3                 # seconds, or "minimal"
    hello_multiplier: int = 0        # with dead: minimal
    bfd: bool = False
    bfd_interval_ms: int = 50
    bfd_multiplier: int = 3
    cost: dict = field(default_factory=dict)  # lb name -> interface cost

    def cost_of(self, lb):
        return self.cost.get(lb, DEFAULT_COST)

    def detection_s(self):
        """How long the router needs to declare a silent neighbour dead: BFD when on, else OSPF."""
        if self.bfd:
            return self.bfd_interval_ms * self.bfd_multiplier / 1000
        return 1.0 if self.dead == "minimal" else float(self.dead)

    def silence_tolerated_ms(self):
        """The longest a neighbour's packets may stop without it being declared dead: the
        detection time less one interval between them (a BFD packet's, or a hello's)."""
        if self.bfd:
            return self.bfd_interval_ms * (self.bfd_multiplier - 1)
        hello_ms = 1000 / self.hello_multiplier if self.dead == "minimal" else self.hello * 1000
        return self.detection_s() * 1000 - hello_ms

    def detection_cause(self):
        if self.bfd:
            return f"detection by BFD, {self.bfd_interval_ms} ms x {self.bfd_multiplier}"
        if self.dead == "minimal":
            return f"detection by OSPF dead minimal (1 s, hello multiplier {self.hello_multiplier})"
        return f"detection by OSPF dead interval {self.dead} s; enable BFD or dead minimal"


@dataclass(frozen=True)
class ConnectionSpec:
    """Long-lived TCP connections to the LBs' service: `count` over the clients, each asking once
    per ask_interval_ms; a request unanswered for answer_timeout_ms stalls it. new_every_ms > 0
    opens a new connection that often while they run, each asking once (where the router puts a
    new connection), `new_count` in all."""
    count: int = 0
    ask_interval_ms: int = 200
    answer_timeout_ms: int = 1000
    port: int = 80
    new_every_ms: int = 0
    new_count: int = 0
    open_per_s: int = 5000           # how fast the connections open


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
class EcmpScenario(VipOnLbs):
    ospf: OspfSpec
    traffic: object                  # shared.TrafficSpec
    checks: tuple
    vip_missing_on: tuple            # LBs that announce the VIP without binding it on lo
    client_links: ipaddress.IPv4Network
    lb_links: ipaddress.IPv4Network
    convergence_timeout_s: int
    frr_conf: tuple                  # FRR template folders (ROLE/DAEMON.conf.j2), searched in order
    announce: str = "stub"           # stub: the VIP on lo as an intra-area route; external: redistributed
    nexthop_groups: bool = True      # zebra on r1 installs ECMP as kernel nexthop groups (FRR's default)
    failures: tuple = ()             # Failure events, a failure and optionally its restore
    max_gap_ms: int = 1000
    max_extra_moved: int = 0         # flows allowed to move beyond the failed LB's own
    duration_ms: int = 0             # of the steady stream, when there are failures
    routers: int = 1                 # every LB links to every router; client i to router i mod routers
    resilient: dict = None           # r1's VIP through a resilient group: buckets, idle and unbalanced timers
    connections: ConnectionSpec = None  # long-lived TCP connections to every LB's service
    answers_from: str = "vip"        # the LBs answer the stream from the VIP, or from their route's source
    max_broken_stayed: int = 0       # connections of LBs that stayed in the route allowed to break per event
    rebalance_within_ms: int = 0     # after an add, the new LB has its share of new connections by then

    @property
    def router_names(self):
        return [f"r{i}" for i in range(1, self.routers + 1)]

    def best_lbs(self, excluding=()):
        """The LBs OSPF should route the VIP to: the cheapest among those still in service."""
        costs = {lb: self.ospf.cost_of(lb) for lb in self.lb_names if lb not in excluding}
        return [lb for lb, cost in costs.items() if cost == min(costs.values())]

    @property
    def failure(self):
        """The timeline's event (a failure, or a change of the LB set)."""
        return next((f for f in self.failures if f.type != "restore"), None)

    @property
    def route_holds(self):
        """The failure is a silence the restore ends before the router may notice (shorter than
        OSPF or BFD tolerates): r1's route must not change, and the LB's connections wait it out."""
        event, restore = self.failure, self.restore
        return bool(event and restore and event.type == "silent_drop"
                    and restore.last_ms - event.at_ms < self.ospf.silence_tolerated_ms())

    @property
    def initially_out(self):
        """LBs out of the route when the stream starts: the one an `add` brings in."""
        return [f.target for f in self.failures if f.type == "add"]

    def in_service(self, phase):
        """The LBs in r1's route at `phase`: "steady" (before the event), "event" (after it),
        "restored" (after the restore)."""
        event = self.failure
        if phase == "steady" or event is None:
            return self.best_lbs(excluding=self.initially_out)
        if phase == "event" and event.type != "add" and not self.route_holds:
            return self.best_lbs(excluding=[event.target])
        return self.best_lbs()

    @property
    def restore(self):
        return next((f for f in self.failures if f.type == "restore"), None)


def parse(top):
    """An EcmpScenario from the validated keys (`top`, a shared.Keys)."""
    lbs, clients, routers = top["lbs"], top["clients"], top["routers"]
    lb_names = [f"lb{i}" for i in range(1, lbs + 1)]
    vip = top.ipv4("vip")
    ospf = _ospf(top.sub("ospf"), lb_names)
    failures = _failures(top, lb_names)
    if failures and routers > 1:
        top.fail("failures", "the failure timeline measures r1's route alone: use routers: 1")
    _silence_decided(top, failures, ospf)
    stream = traffic(top.sub("traffic"), clients, 2048)
    checks = _checks(top, failures, stream.flows)
    connections = _connections(top, checks, failures)
    last_ms = max((f.last_ms for f in failures), default=0)
    settle_ms = int(max(1.0, 2 * ospf.detection_s()) * 1000) + 1000
    # A connection's fate is known an answer timeout and an asking round after its event, and a
    # resilient group's unbalanced_timer after that: it moves busy buckets only so long after it.
    fate_ms = (connections.answer_timeout_ms + 2 * connections.ask_interval_ms
               + (top.get("resilient") or {}).get("unbalanced_timer_ms", 0) if connections else 0)
    duration_ms = top.get("duration_ms", last_ms + settle_ms + fate_ms if failures else 0)
    if failures and duration_ms <= last_ms + fate_ms:
        top.fail("duration_ms", f"the stream must outlast the last event at {last_ms} ms"
                 + (f" by the connections' answer timeout and two asking intervals, and any unbalanced_timer ({fate_ms} ms)"
                    if fate_ms else ""))
    if "rebalance" in checks:
        _rebalance_judgeable(top, connections, duration_ms, duration_ms - last_ms - top["rebalance_within_ms"], lbs)
    vip_missing_on = top.names("vip_missing_on", lb_names, "LB")
    if vip_missing_on and top["announce"] != "external":
        top.fail("vip_missing_on", "an LB without the VIP announces it only with announce: external")
    client_links, lb_links = _addressing(top, vip, clients, lbs * routers)
    return EcmpScenario(top.source, top.get("name", Path(top.source).stem), "ecmp", vip, lbs, clients,
                        top["lo_prefixlen"], sysctl(top.sub("sysctl")), ospf,
                        stream, checks, vip_missing_on, client_links, lb_links,
                        top["convergence_timeout_s"], _templates(top), top["announce"],
                        top["router_nexthop_groups"], failures, top["max_gap_ms"],
                        top.at_most("max_extra_moved", FLOWS_PER_CLIENT * clients), duration_ms, routers,
                        top.get("resilient"), connections, top["answers_from"], top["max_broken_stayed"],
                        top["rebalance_within_ms"])


def _connections(top, checks, failures):
    """connections: long-lived TCP connections to every LB's service (HAProxy), which the
    connection checks judge; they need an event, and rebalance a resilient group's add."""
    keys = top.sub("connections")
    wanted = [c for c in checks if c in CONNECTION_CHECKS]
    if wanted and "connections" not in top.mapping:
        top.fail("checks", f"{wanted[0]} judges TCP connections: give `connections`")
    if wanted and not failures:
        top.fail("checks", f"{wanted[0]} judges connections across an event: give `failures`")
    if "rebalance" in checks:
        if not any(f.type == "add" for f in failures):
            top.fail("checks", "rebalance judges where new connections go after an `add` event")
        if not keys.get("new_every_ms") or not keys.get("new_count"):
            top.fail("connections", "rebalance needs new connections: give new_every_ms and new_count")
    if "connections" not in top.mapping:
        return None
    return ConnectionSpec(keys["count"], keys["ask_interval_ms"], keys["answer_timeout_ms"], keys["port"],
                          keys["new_every_ms"], keys["new_count"], keys["open_per_s"])


def _rebalance_judgeable(top, spec, duration_ms, judged_ms, lbs):
    """rebalance judges the new connections opened from rebalance_within_ms after the add to the
    stream's end: enough that a new LB taking none would be caught at the false-alarm rate."""
    fewest = math.ceil(math.log(FALSE_ALARM_RATE) / math.log(1 - 1 / lbs))
    if judged_ms < fewest * spec.new_every_ms:
        top.fail("duration_ms", f"rebalance judges the new connections after the add and rebalance_within_ms: "
                 f"at one every {spec.new_every_ms} ms, {max(0, judged_ms)} ms holds fewer than the {fewest} "
                 f"needed; lengthen the stream to at least {fewest * spec.new_every_ms} ms past them")
    if spec.new_count * spec.new_every_ms < duration_ms:
        top.fail("connections", f"new_count {spec.new_count} at one every {spec.new_every_ms} ms runs out before the "
                 f"stream's {duration_ms} ms end: give at least {-(-duration_ms // spec.new_every_ms)}")


def _ospf(keys, lb_names):
    hello, dead = keys["hello"], keys["dead"]
    multiplier = keys.get("hello_multiplier", 4) if dead == "minimal" else 0
    if dead != "minimal":
        if dead <= hello:
            keys.fail("dead", f"must exceed hello ({hello} s) or neighbours flap, got {dead}")
        if "hello_multiplier" in keys.mapping:
            keys.fail("hello_multiplier", "only applies with dead: minimal")
    bfd = keys["bfd"]
    for lb in keys["cost"]:
        if lb not in lb_names:
            keys.sub("cost").fail(str(lb), f"no such LB (this scenario has {', '.join(lb_names)})")
    if isinstance(bfd, dict):
        return OspfSpec(hello, dead, multiplier, True, bfd["interval_ms"], bfd["multiplier"], dict(keys["cost"]))
    return OspfSpec(hello, dead, multiplier, bfd, cost=dict(keys["cost"]))


def _failures(top, lb_names):
    """failures: [{type, target, at_ms}]: one failure, then optionally the restore of its target."""
    events = []
    for index, entry in enumerate(top["failures"]):
        keys = Keys(top.source, f"failures[{index}]", entry)
        if entry["target"] not in lb_names:
            keys.fail("target", f"must be an LB of this scenario ({', '.join(lb_names)}), got {entry['target']!r}")
        window = entry["at_ms"] if isinstance(entry["at_ms"], list) else [entry["at_ms"]] * 2
        if window[0] > window[1]:
            keys.fail("at_ms", f"must be milliseconds (1..600000) or a window [earliest, latest], got {window!r}")
        events.append(Failure(entry["type"], entry["target"], *window))
    if not events:
        return ()
    if events[0].type == "restore":
        top.fail("failures", "the timeline starts with a restore; put the failure first")
    if len(events) == 2 and events[0].type in SET_CHANGES:
        top.fail("failures", f"{events[0].type} changes the LB set for good: it has no restore")
    if len(events) > 2 or (len(events) == 2 and (events[1].type != "restore" or events[1].target != events[0].target)):
        top.fail("failures", "one failure, optionally followed by the restore of the same LB")
    if len(events) == 2 and events[1].at_ms <= events[0].last_ms:
        top.fail("failures", f"the restore at {events[1].at_ms} ms must come after the failure at {events[0].last_ms} ms")
    return tuple(events)


def _silence_decided(top, failures, ospf):
    """A silent_drop and its restore either end the silence before the router may notice (the route
    holds) or leave it twice the detection time (it changes, then the restore): in between, whether
    r1 withdraws the LB is a race the run cannot judge."""
    if len(failures) != 2 or failures[0].type != "silent_drop":
        return
    failure, restore = failures
    tolerated, detected = ospf.silence_tolerated_ms(), 2 * ospf.detection_s() * 1000
    shortest, longest = restore.at_ms - failure.last_ms, restore.last_ms - failure.at_ms
    if longest >= tolerated and shortest < detected:
        top.fail("failures", f"a silence of {shortest}..{longest} ms races the router's detection "
                 f"({ospf.detection_s() * 1000:g} ms): "
                 f"make it shorter than {tolerated:g} ms (the route holds) or at least {detected:g} ms")


def _checks(top, failures, flows):
    restores = any(f.type == "restore" for f in failures)
    adds = any(f.type == "add" for f in failures)
    default = ("lo_route", *(c for c in FAILOVER_CHECKS if (restores or c != "recovery")
                             and not (adds and c in ("failover_gap", "route_withdrawn")))) if failures \
        else DEFAULT_CHECKS
    checks = checks_of(top, default)
    if set(checks) & set(FAILOVER_CHECKS) and not failures:
        top.fail("checks", f"{sorted(set(checks) & set(FAILOVER_CHECKS))[0]} needs a `failures` timeline")
    if "recovery" in checks and not restores:
        top.fail("checks", "recovery needs a restore in `failures`")
    added = [f.target for f in failures if f.type == "add"]
    gap_checks = [c for c in checks if c in ("failover_gap", "route_withdrawn")]
    if added and gap_checks:
        top.fail("checks", f"{gap_checks[0]} judges an LB leaving the route; `add` brings {added[0]} in")
    undisturbed = [c for c in checks if c in UNDISTURBED_CHECKS]
    if undisturbed and failures:
        top.fail("checks", f"{undisturbed[0]} judges a stream nothing disturbs, and `failures` moves and loses flows "
                 "by design: judge them with failover_gap, flows_moved and recovery (the spread after the restore)")
    clients, lbs = top["clients"], top["lbs"]
    fewest = max(5 * lbs, FLOWS_PER_CLIENT_JUDGED)
    if "ecmp_spread" in checks and clients > 1 and flows // clients < fewest:
        top.fail("traffic.flows", f"ecmp_spread judges each of {clients} clients, which needs at least {fewest} "
                 f"flows a client over {lbs} LBs ({fewest * clients} in all), got {flows}")
    return checks


def _addressing(top, vip, clients, lb_links_needed):
    addressing = top.sub("addressing")
    client_links, lb_links = addressing.network("client_links"), addressing.network("lb_links")
    for key, net, count in (("client_links", client_links, clients), ("lb_links", lb_links, lb_links_needed)):
        if net.prefixlen > 30 or net.num_addresses // 4 < count:
            addressing.fail(key, f"{net} has room for fewer than {count} /30 links")
        if ipaddress.IPv4Address(vip) in net:
            top.fail("vip", f"{vip} lies inside addressing.{key} {net}: the VIP must not be a link address")
    if client_links.overlaps(lb_links):
        addressing.fail("lb_links", f"{lb_links} overlaps client_links {client_links}")
    return client_links, lb_links


def _templates(top):
    """`frr_conf` names a folder whose templates (ROLE/DAEMON.conf.j2) are used in place of the
    shipped ones; what it lacks comes from frr-conf/."""
    own = top.folder("frr_conf", None)
    return (own, DEFAULT_FRR_CONF) if own else (DEFAULT_FRR_CONF,)
