"""The ECMP design: clients -> r1 -> N LBs announcing one VIP over OSPF."""
import dataclasses
import ipaddress
import math
import resource
import time

from vipcheck import REPO, _core, seeds, traffic
from vipcheck.daemons import frr
from vipcheck.daemons.services import Haproxy, dry_run
from vipcheck.designs import LabDesign
from vipcheck.errors import EnvironmentProblem
from vipcheck.lab import answer_paths, lo_routes
from vipcheck.lab.network import DEFAULT_ROUTE, Lab

from .checks import CHECKS
from .fates import FateRecorder
from .measurements import EcmpMeasurements
from .timeline import Timeline
from .topology import EcmpTopo, address_plan

DAEMON_CONF = (REPO / "daemon-conf",)
SERVICE_TEMPLATE = "haproxy/vip-service.cfg.j2"  # HAProxy answering on the VIP itself
OPEN_TIMEOUT_MS = 30_000  # to open every connection and have each answered once

# Documentation prefixes (RFC 5737) for the route that pins the nexthop order; the first that
# does not overlap the scenario's addresses is used.
PIN_PREFIXES = [ipaddress.ip_network(p) for p in ("198.51.100.255/32", "203.0.113.255/32", "192.0.2.255/32")]


@dataclasses.dataclass
class EcmpNodes:
    """What the design configures on its nodes, known before any node exists."""
    addresses: list   # (node, interface, address, prefix length)
    uplinks: dict     # LB -> its interface towards r1
    frr: list         # (node, role, daemons, template context), routers first


def configure(s, plan, ifnames):
    """The ECMP design's addresses and FRR daemons from the scenario and its address plan alone;
    ifnames(a, b) names the interfaces that link a and b. The bench's bare floor (ci/floor)
    renders the same FRR configs from it."""
    addresses, lb_contexts, uplinks = [], {}, {}
    router_links = {r: [] for r in s.router_names}
    passive_links = {r: [] for r in s.router_names}
    for link in plan.client_links:
        near_if, far_if = ifnames(link.near, link.far)
        addresses += [(link.near, near_if, link.near_address, link.prefixlen),
                      (link.far, far_if, link.far_address, link.prefixlen)]
        passive_links[link.near].append({"ifname": near_if, "network": link.network})
    for link in plan.lb_links:
        near_if, far_if = ifnames(link.near, link.far)
        cost = s.ospf.cost_of(link.far)
        addresses += [(link.near, near_if, link.near_address, link.prefixlen),
                      (link.far, far_if, link.far_address, link.prefixlen)]
        router_links[link.near].append({"ifname": near_if, "network": link.network, "cost": cost})
        if link.far not in lb_contexts:  # its first link: r1's
            uplinks[link.far] = far_if
            if link.far not in s.vip_missing_on:
                addresses.append((link.far, "lo", s.vip, s.lo_prefixlen))
            lb_contexts[link.far] = {"hostname": link.far, "router_id": link.far_address, "vip": s.vip,
                                     "ospf": s.ospf, "announce": s.announce, "ospf_links": [],
                                     "in_service": link.far not in s.initially_out}
        lb_contexts[link.far]["ospf_links"].append({"ifname": far_if, "network": link.network, "cost": cost})
    extra = ["bfdd"] if s.ospf.bfd else []
    static = ["staticd"] if s.announce == "external" else []  # it carries the external announcement
    daemons = [(r, "router", ["zebra", *extra, "ospfd"],
                {"hostname": r, "router_id": plan.router_links(r)[0].near_address, "ospf": s.ospf,
                 "nexthop_groups": s.nexthop_groups, "ospf_links": router_links[r], "passive_links": passive_links[r]})
               for r in s.router_names]
    daemons += [(lb, "lb", ["zebra", *static, *extra, "ospfd"], context) for lb, context in lb_contexts.items()]
    return EcmpNodes(addresses, uplinks, daemons)


def service_maxconn(connections, lbs):
    """HAProxy's maxconn on each LB: room for every connection, or, where the open-files limit (two
    descriptors a connection, which HAProxy cannot raise past the hard limit) is lower, for an
    LB's share with room to spare (8 standard deviations above its mean)."""
    room = (resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 200) // 2
    wanted = connections + 100
    if wanted <= room:
        return wanted
    share = connections / lbs
    needed = int(share + 8 * math.sqrt(share) + 100)
    if needed > room:
        raise EnvironmentProblem(f"{connections} connections over {lbs} LBs need about {needed} per LB's service, "
                                 f"and the open-files limit ({room * 2 + 200}) allows {room}",
                                 "raise the hard limit on open files (ulimit -Hn) or use fewer connections")
    return room


class EcmpDesign(LabDesign):
    capture_node = "r1"
    CHECKS = CHECKS

    def __init__(self, run, scenario, seed):
        super().__init__(run, scenario, seed)
        self.plan = address_plan(scenario)
        # router -> {lb: the LB's address on that router's link, the router's nexthop}
        self.gateways_of = {r: {link.far: link.far_address for link in self.plan.router_links(r)}
                            for r in scenario.router_names}
        self.gateways = self.gateways_of["r1"]
        self.stream_port = scenario.traffic.port
        # What each phase leaves for the next. build():
        self.uplinks = {}        # LB -> its interface towards r1
        self.sysctl = {}         # node -> the sysctl values the kernel reported
        self.routers = {}        # node -> daemons.frr.FrrRouter
        self.convergence = {}    # converge()'s record, for the convergence check
        # send_traffic(), the traffic's own records, for measure():
        self.delivery = None     # what every sink recorded
        self.monitor = None      # r1's route, every change while the traffic flowed
        self.timeline = None     # the failure timeline, with failures
        self.services = {}       # LB -> daemons.services.Haproxy, with connections
        self.resilient = None    # r1's _core.ResilientGroup, for the resilient variant
        self.fates = None        # measurements.ConnectionFates, with connections

    def build(self):
        s, run = self.scenario, self.run
        lab = self.lab = Lab(run, EcmpTopo(scenario=s, run_id=run.id), s.source)
        nodes = configure(s, self.plan, lab.ifnames)
        self.uplinks = nodes.uplinks
        with run.step("addresses"):
            self.sysctl = lab.apply_sysctl(s.sysctl, self.seed)
            lab.add_addresses(nodes.addresses)
            lab.bring_up()
        lab.add_routes([(link.far, DEFAULT_ROUTE, [link.near_address]) for link in self.plan.client_links])
        routers = [frr.FrrRouter(run, lab[node], role, daemons, context, s.frr_conf)
                   for node, role, daemons, context in nodes.frr]
        for r in s.router_names:
            self._pin_nexthop_order(r)
        with run.step("carrier"):
            lab.await_carrier()
        self.routers = {router.node.logical: router for router in routers}
        if s.connections:
            self._render_services()
        return {"sysctl": self.sysctl}

    def _render_services(self):
        """Every LB's TCP service on the VIP, its config dry-run before anything starts."""
        s, run = self.scenario, self.run
        maxconn = service_maxconn(s.connections.count + s.connections.new_count, len(s.in_service("steady")))
        for lb in s.lb_names:
            context = {"hostname": lb, "dir": str(run.node_dir(lb)), "vip": s.vip, "port": s.connections.port,
                       "maxconn": maxconn}
            self.services[lb] = Haproxy(run, self.lab[lb], DAEMON_CONF, context, s.vip, template=SERVICE_TEMPLATE)
        with run.step("dry runs"):
            dry_run(list(self.services.values()))

    def start(self):
        s, run = self.scenario, self.run
        with run.step("daemons"):
            if s.resilient:  # before zebra: it follows the main table's route from the first
                self.resilient = _core.ResilientGroup(
                    self.lab["r1"].netns, s.vip, [self.gateways[lb] for lb in s.lb_names],
                    buckets=s.resilient["buckets"], idle_timer_ms=s.resilient["idle_timer_ms"],
                    unbalanced_timer_ms=s.resilient["unbalanced_timer_ms"])
                run.on_cleanup(self.resilient.stop)
            for service in self.services.values():
                service.start()
            frr.start_all(list(self.routers.values()))
            for service in self.services.values():
                service.await_ready()

    def _pin_nexthop_order(self, router):
        """zebra orders an ECMP group's members by nexthop id, allocated when a gateway is first
        seen, which depends on adjacency timing; hash ranges follow that order. A kernel route
        via every LB, in LB order, present when zebra starts, fixes the ids and so the order:
        the same seed then maps every flow to the same LB, run after run."""
        networks = [self.scenario.client_links, self.scenario.lb_links, ipaddress.ip_network(f"{self.scenario.vip}/32")]
        prefix = next(candidate for candidate in PIN_PREFIXES
                      if not any(candidate.overlaps(network) for network in networks))
        self.lab.add_routes([(router, prefix, [link.far_address for link in self.plan.router_links(router)])])

    def converge(self):
        """Waits on each router's route events until OSPF installed exactly the paths the design
        calls for (the cheapest LBs, all of them when costs are equal), then until every LB has
        its route back to the clients; the convergence check judges the record."""
        s = self.scenario
        targets = [(r, s.vip, 32, [self.gateways_of[r][lb] for lb in s.in_service("steady")])
                   for r in s.router_names]
        # r1's route can be whole while a dearer LB's adjacency is still loading: converged means
        # every LB has learned its way back to the clients too.
        clients = ipaddress.ip_network(self.plan.client_links[0].network)
        targets += [(link.far, str(clients.network_address), clients.prefixlen, [link.near_address])
                    for link in self.plan.router_links("r1")]
        waits, started_ns = {}, None
        for node, destination, prefixlen, gateways in targets:  # each timed from the first wait's start
            wait = _core.wait_for_nexthops(self.lab[node].netns, destination, prefixlen, gateways,
                                           s.convergence_timeout_s * 1000)
            started_ns = started_ns or wait.started_ns
            waits[node] = wait
            if not wait.reached:
                break
        seconds = {node: round((w.reached_ns - started_ns) / 1e9, 4) for node, w in waits.items() if w.reached}
        node, destination, prefixlen, gateways = targets[len(waits) - 1]
        self.convergence = {
            "reached": wait.reached, "expected_nexthops": targets[0][3],
            "seconds": max(seconds.values()) if wait.reached else None,
            "route_changes": [{"after_s": round((c.at_ns - started_ns) / 1e9, 4),
                               "nexthops": [h.gateway for h in c.route.nexthops]} for c in waits["r1"].changes],
            # the wait it ended on: the last, or the one that timed out
            "waited_on": node, "destination": f"{destination}/{prefixlen}",
            "nexthops_seen": [h.gateway for h in wait.route.nexthops],
            **({"routers": {r: seconds.get(r) for r in s.router_names}} if s.routers > 1 else {})}
        if wait.reached and s.ospf.bfd:
            self.convergence["bfd_up_s"] = self._await_bfd()
        if wait.reached and self.resilient:
            steady = [self.gateways[lb] for lb in s.in_service("steady")]
            self.convergence["resilient_group"] = self.resilient.wait_for(steady, s.convergence_timeout_s * 1000)
            self.convergence["reached"] = self.convergence["resilient_group"]
        return {"convergence": self.convergence}

    def _await_bfd(self):
        """BFD sessions come up after OSPF, on slow timers (1 s, RFC 5880), and switch to the
        configured ones by a poll sequence once up: until every LB's packets advertise the fast
        interval, r1 would declare it dead after 3 s, later than OSPF's own dead interval (a
        loaded run read 990 ms for a 150 ms design). Asks bfdd until each session is up on them."""
        start = time.monotonic()
        deadline = start + self.scenario.convergence_timeout_s
        fast = self.scenario.ospf.bfd_interval_ms
        while time.monotonic() < deadline:
            peers = self.routers["r1"].ask_json("bfdd", "show bfd peers", empty="[]")
            if len(peers) == self.scenario.lbs and all(
                    p.get("status") == "up" and p.get("remote-transmit-interval") == fast
                    and p.get("remote-receive-interval") == fast for p in peers):
                return round(time.monotonic() - start, 3)
            time.sleep(frr.ASK_PACE_S)
        raise RuntimeError(f"BFD sessions on r1 not up on {fast} ms timers after {self.scenario.convergence_timeout_s} "
                           f"s; see {self.routers['r1'].dir / 'bfdd.log'}")

    def send_traffic(self):
        """The stream, and with failures its timeline; the sinks record every packet (and, for the
        return path, answer it) and r1's route monitor every change of the VIP's route while it
        flows. With connections, they open first and ask throughout; their records end with the stream."""
        s, lab = self.scenario, self.lab
        rng = seeds.rng(self.seed, "flows")
        senders = [(c, self.plan.client_links[i].far_address, s.vip) for i, c in enumerate(s.client_names)]
        flows = traffic.plan_flows(senders, s.traffic.flows, rng.randrange(2**31))
        spec = s.traffic
        during = None
        answers = traffic.Answers(from_route=s.answers_from == "route") if "return_path" in s.checks else None
        recorder = self._open_connections(senders) if s.connections else None
        self.monitor = _core.RouteMonitor(lab["r1"].netns, s.vip, 32)
        try:
            if s.failures:
                # A steady stream that outlasts the timeline: every flow sends for duration_ms.
                packets = -(-s.duration_ms * spec.rate_pps // (1000 * spec.flows))
                spec = dataclasses.replace(spec, packets_per_flow=max(1, packets))
                self.timeline = Timeline(self.run, lab, s, self.seed, self.routers, self.uplinks, self.gateways,
                                         self.monitor, fates=recorder)
                during = self.timeline.run
            self.delivery = traffic.deliver(lab, {lb: s.vip for lb in s.lb_names}, spec, flows,
                                            rng.getrandbits(32), during=during, answers=answers)
        finally:
            self.monitor.stop()
            if recorder:  # the connections end with the stream, also when it failed
                self.fates = recorder.finish(time.monotonic_ns(),
                                             self.sysctl["r1"]["net.ipv4.fib_multipath_hash_policy"], s.resilient)
        self.deliveries = {"stream": self.delivery}
        observed = {"traffic": {"flows": s.traffic.flows, "sent": self.delivery.sent,
                                "received": self.delivery.received, "offered_pps": round(self.delivery.offered_pps)}}
        if s.failures:
            observed["timeline"] = self.timeline.finish(self.delivery, self.monitor.changes())
        if recorder:
            observed["traffic"]["connections"] = {"count": len(self.fates.records), "opened": self.fates.opened,
                                                  "open_s": self.fates.open_s, "requests": self.fates.requests,
                                                  "memory_bytes": self.fates.memory_bytes}
            observed["connections"] = self.fates.rows()
        return observed

    def _open_connections(self, senders):
        """Every client's long-lived connections, open and answered once, before the stream starts."""
        s = self.scenario
        pool = traffic.ConnectionPool(self.lab, senders, s.connections, s.lb_names,
                                      seeds.rng(self.seed, "connections").randrange(2**31))
        recorder = FateRecorder(pool, self.lab["r1"].netns, s.vip, self.gateways, self.run.stalls,
                                {lb: service.proc.pid for lb, service in self.services.items()}, self.resilient)
        try:
            recorder.open(OPEN_TIMEOUT_MS)
        except BaseException:
            pool.stop()
            raise
        return recorder

    def measure(self):
        s, lab = self.scenario, self.lab
        lb_addresses = {lb: [(a.ifname, a.address, a.prefix_len) for a in _core.read_addresses(lab[lb].netns)]
                        for lb in s.lb_names}
        other_routers = {r: (_core.read_route(lab[r].netns, s.vip, 32), self.gateways_of[r])
                         for r in s.router_names[1:]}
        m = EcmpMeasurements(s, self.convergence, self.gateways, _core.read_route(lab["r1"].netns, s.vip, 32),
                             [change.route for change in self.monitor.changes()], self.delivery, self.sysctl,
                             lb_addresses, other_routers, failover=self.timeline.measure() if s.failures else None)
        m.connections = self.fates
        if "return_path" in s.checks:
            clients = {link.far: self.lab.ifnames(link.near, link.far)[1] for link in self.plan.client_links}
            m.return_path = answer_paths.measure(lab, self.delivery, s.vip, clients,
                                                 {lb: self.gateways[lb] for lb in s.lb_names})
        if "lo_route" in s.checks:
            m.lo_routes = [lo_routes.measure(lab[link.far], link.far, s.vip, self.uplinks[link.far],
                                             {"router r1": link.near_address,
                                              "outside client": self.plan.client_links[0].far_address})
                           for link in self.plan.router_links("r1")]
        return m


Design = EcmpDesign  # what designs.design_class() returns
