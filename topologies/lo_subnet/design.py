"""The lo-subnet design: LBs on one segment with their gateway and a neighbour, the VIP on lo."""
import ipaddress
import json

from vipcheck import _core, seeds, traffic
from vipcheck.designs import LabDesign
from vipcheck.lab import answer_paths, lo_routes
from vipcheck.lab.network import BRIDGE, DEFAULT_ROUTE, Lab

from .checks import CHECKS
from .measurements import LoSubnetMeasurements, Reachability
from .topology import SEGMENT_NODE, LoSubnetTopo

REACH_FLOWS = 4          # flows each LB sends to each of its neighbour and gateway
ARP_ROUNDS = 2
ARP_GRACE_MS = 50        # listen at least this long after the last expected ARP reply
ARP_TIMEOUT_MS = 3000
ANSWERED_FLOWS = 32      # flows the client and the neighbour send to the VIP for answers, together


class LoSubnetDesign(LabDesign):
    capture_node = "gw"
    CHECKS = CHECKS

    def __init__(self, run, scenario, seed):
        super().__init__(run, scenario, seed)
        self.lb_address = dict(zip(scenario.lb_names, scenario.lb_addresses))
        self.stream_port = scenario.traffic.port
        self.uplink = {}                    # node -> its interface on the segment (build)
        self.client_address = None          # c1's address (build)
        self.convergence = {}               # converge()'s record
        # send_traffic(), what each probe's receiver recorded, for measure():
        self.delivery = None                # the client's traffic to the VIP
        self.reachability = []              # Reachability per LB and target
        self.arp_probe = None               # the neighbour's ARP questions and who answered
        self.answered = None                # the client's and the neighbour's requests the LBs answered
        self.segment_arp = []               # every ARP frame on the segment while the LBs answered

    def build(self):
        s, run = self.scenario, self.run
        lab = self.lab = Lab(run, LoSubnetTopo(scenario=s, run_id=run.id), s.source)
        plen = s.segment.prefixlen
        addresses = []
        for name, address in [("gw", s.gateway), ("nb", s.neighbour), *self.lb_address.items()]:
            ifname, _ = lab.ifnames(name, SEGMENT_NODE)
            self.uplink[name] = ifname
            addresses.append((name, ifname, address, plen))
        for lb in s.lb_names:
            if lb not in s.vip_missing_on:
                addresses.append((lb, "lo", s.vip, s.lo_prefixlen))
        client_net = next(s.client_links.subnets(new_prefix=30))
        self.client_address, gw_client_address = str(client_net[2]), str(client_net[1])
        gw_if, client_if = lab.ifnames("gw", "c1")
        addresses += [("gw", gw_if, gw_client_address, 30), ("c1", client_if, self.client_address, 30)]
        self.arrives_on = {"c1": client_if, "nb": self.uplink["nb"]}  # where answers from the VIP reach them
        # The VIP lies in the segment, where no LB answers ARP for it: the neighbour reaches it through
        # the gateway, or with neighbour_uplink over a link of its own to the gateway (the answers
        # still come across the segment).
        vip_via = s.gateway
        if s.neighbour_uplink:
            uplink_net = list(s.client_links.subnets(new_prefix=30))[1]
            gw_nb_if, nb_gw_if = lab.ifnames("gw", "nb")
            addresses += [("gw", gw_nb_if, str(uplink_net[1]), 30), ("nb", nb_gw_if, str(uplink_net[2]), 30)]
            vip_via = str(uplink_net[1])
        routes = [("nb", ipaddress.ip_network(f"{s.vip}/32"), [vip_via])]
        with run.step("addresses"):  # and the bridge
            sysctl = lab.apply_sysctl(s.sysctl, self.seed)
            lab.add_addresses(addresses)
            lab.bridge(SEGMENT_NODE)  # ports join the bridge before they come up
            lab.bring_up()
        routes += [(n, DEFAULT_ROUTE, [s.gateway]) for n in ["nb", *s.lb_names]]
        routes.append(("c1", DEFAULT_ROUTE, [gw_client_address]))
        # The design: the gateway reaches the VIP through the LBs' uplink addresses, never by ARP for the VIP.
        routes.append(("gw", ipaddress.ip_network(f"{s.vip}/32"), [self.lb_address[lb] for lb in s.vip_route_via]))
        lab.add_routes(routes)
        with run.step("carrier"):  # before the ARP that tells the segment is ready
            lab.await_carrier()
        return {"sysctl": sysctl}

    def start(self):
        """Static routes and the kernel's own ARP: no daemon to start."""

    def converge(self):
        """Static routes need no protocol; the segment is ready when every LB answers ARP."""
        answering = list(self.lb_address.values()) + [self.scenario.gateway]
        probe = _core.probe_arp(self.lab["nb"].netns, self.uplink["nb"], self.scenario.neighbour, answering,
                                answering, 1, 0, ARP_TIMEOUT_MS)
        by_address = {address: lb for lb, address in self.lb_address.items()} | {self.scenario.gateway: "gw"}
        heard = {reply.sender_ip for reply in probe.replies}
        self.convergence = {"reached": probe.answered, "seconds": round(probe.listened_ns / 1e9, 4),
                            "timeout_ms": ARP_TIMEOUT_MS,
                            "silent": [by_address[a] for a in answering if a not in heard]}
        return {"convergence": self.convergence}

    def send_traffic(self):
        """The client's flows to the VIP; with lo_reachability each LB's own packets to its
        neighbour and gateway, and with arp_suppression the neighbour's ARP questions: what
        receives each records it."""
        s, lab = self.scenario, self.lab
        rng = seeds.rng(self.seed, "flows")
        flows = traffic.plan_flows([("c1", self.client_address, s.vip)], s.traffic.flows, rng.randrange(2**31))
        self.delivery = traffic.deliver(lab, {lb: s.vip for lb in s.lb_names}, s.traffic, flows, rng.getrandbits(32))
        self.deliveries = {"traffic": self.delivery}
        if "lo_reachability" in s.checks:
            self.reachability = self._reachability()
        if "arp_suppression" in s.checks:
            self.arp_probe = _core.probe_arp(lab["nb"].netns, self.uplink["nb"], s.neighbour,
                                             [s.vip, *self.lb_address.values()], list(self.lb_address.values()),
                                             ARP_ROUNDS, ARP_GRACE_MS, ARP_TIMEOUT_MS)
        if {"return_path", "arp_suppression"} & set(s.checks):
            self._answered_stream(rng)
        return {"traffic": {"flows": s.traffic.flows, "sent": self.delivery.sent,
                            "received": self.delivery.received}}

    def _answered_stream(self, rng):
        """The client (through the gateway) and the neighbour (on the segment) ask the VIP, and every
        LB answers from it. The LBs' neighbour caches are emptied first, so that they ask ARP for whom
        they answer; the segment's watcher records every ARP frame meanwhile."""
        s, lab = self.scenario, self.lab
        for lb in s.lb_names:
            lab[lb].run_argv(["ip", "neigh", "flush", "dev", self.uplink[lb]])
        senders = [("c1", self.client_address, s.vip), ("nb", s.neighbour, s.vip)]
        plans = traffic.plan_flows(senders, ANSWERED_FLOWS, rng.randrange(2**31))
        watch = _core.ArpWatch(lab[SEGMENT_NODE].netns)
        try:
            self.answered = traffic.deliver(lab, {lb: s.vip for lb in s.lb_names}, s.traffic, plans,
                                            rng.getrandbits(32), answers=traffic.Answers())
        finally:
            # A bridge port hands its frames to the bridge before ARP's packet sockets see them; the
            # bridge's own interface hears every broadcast, so every ARP request, once.
            self.segment_arp = [f for f in watch.stop() if f.ifname == BRIDGE]
        self.deliveries["answered"] = self.answered

    def _reachability(self):
        """Each LB sends real packets to the neighbour and the gateway; sinks there record them."""
        s, lab = self.scenario, self.lab
        rng = seeds.rng(self.seed, "reachability")
        results = []
        for target, node, address in (("neighbour", "nb", s.neighbour), ("gateway", "gw", s.gateway)):
            senders = [(lb, self.lb_address[lb], address) for lb in s.lb_names]
            plans = traffic.plan_flows(senders, REACH_FLOWS * len(senders), rng.randrange(2**31))
            delivery = traffic.deliver(lab, {node: address}, s.traffic, plans, rng.getrandbits(32))
            arrivals = traffic.packet_counts(delivery.per_lb[node])
            for plan in plans:
                ids = range(plan.first_flow_id, plan.first_flow_id + len(plan.src_ports))
                results.append(Reachability(plan.client, target, address, len(ids) * s.traffic.packets_per_flow,
                                            sum(arrivals[i] for i in ids)))
        return results

    def _arp_settings(self):
        """Each LB's MAC and ARP sysctls: who an ARP reply came from, and why it was sent."""
        s, lab = self.scenario, self.lab
        macs, sysctls = {}, {}
        for lb in s.lb_names:
            link = json.loads(lab[lb].run_argv(["ip", "-j", "link", "show", "dev", self.uplink[lb]]))
            macs[lb] = link[0]["address"]
            keys = [f"net.ipv4.conf.{scope}.{name}" for name in ("arp_ignore", "arp_announce")
                    for scope in ("all", self.uplink[lb])]
            values = dict(_core.read_sysctls(lab[lb].netns, keys))
            # The kernel uses the larger of conf/all and the interface's own value.
            sysctls[lb] = {name: (int(values[f"net.ipv4.conf.all.{name}"]),
                                  int(values[f"net.ipv4.conf.{self.uplink[lb]}.{name}"]))
                           for name in ("arp_ignore", "arp_announce")}
        return macs, sysctls

    def measure(self):
        s, lab = self.scenario, self.lab
        routes = [lo_routes.measure(lab[lb], lb, s.vip, self.uplink[lb],
                                    {"neighbour": s.neighbour, "gateway": s.gateway, "outside": self.client_address})
                  for lb in s.lb_names]
        route = _core.read_route(lab["gw"].netns, s.vip, 32)
        by_gateway = {address: lb for lb, address in self.lb_address.items()}
        routed_to = [by_gateway.get(h.gateway, h.gateway) for h in route.nexthops] if route.present else []
        m = LoSubnetMeasurements(s, self.convergence, routes, self.delivery, routed_to, self.reachability)
        if self.arp_probe is not None:
            m.arp_probe = self.arp_probe
            m.lb_macs, m.arp_sysctls = self._arp_settings()
            m.vip_arp_frames = [f for f in self.segment_arp if f.sender_ip == s.vip]
        if self.answered is not None:
            m.return_path = answer_paths.measure(lab, self.answered, s.vip, self.arrives_on, self.lb_address)
        return m


Design = LoSubnetDesign  # what designs.design_class() returns
