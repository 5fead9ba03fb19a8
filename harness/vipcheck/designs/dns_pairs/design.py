"""The dns-pairs design: DNS round-robin over two VIPs, each held by an active/standby pair
(keepalived VRRP) in front of HAProxy, backends and a shared Redis session store."""
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from vipcheck import _core, seeds, traffic
from vipcheck.daemons.services import Bind, Haproxy, Keepalived, PythonApp, Redis, dry_run
from vipcheck.designs.dns_pairs.dns_checks import dns_answers, dns_rotation
from vipcheck.designs.dns_pairs.pair_checks import master_down_s, session_sharing, vip_pairs, vrrp_failover
from vipcheck.designs.dns_pairs.topology import SEGMENTS, DnsPairsTopo, backend_names
from vipcheck.lab.network import Lab
from vipcheck.lab.nodes import run_everywhere
from vipcheck.lab.run import children_of, kill_daemon
from vipcheck.lab.stall import Stall, cpu_wait_ns
from vipcheck.lab.threads import running
from vipcheck.schema.shared import TrafficSpec

BACKEND_APP = Path(__file__).with_name("session_backend.py")
BACKEND_PORT = 8080
STREAM_PORT = 5001
STREAM_FLOWS = 8
ARP_WINDOW_MS = 50        # one ARP question and its answers, while waiting for a VRRP master
CRASH_AFTER_S = 0.5       # steady traffic before the active LB dies
DNS_TIMEOUT_MS = 1000     # a query unanswered this long counts as lost


@dataclass
class PairState:
    """What one pair looks like from outside: who answers ARP for the VIP, who holds it."""
    pair: str
    vip: str
    arp_lbs: list            # LBs whose MAC answered ARP for the VIP
    holders: list            # LBs with the VIP on an interface
    http_lb: str             # the LB named by the service's answer through the VIP
    http_error: str = ""


@dataclass
class Failover:
    pair: str
    crashed: str
    standby: str
    sent: int = 0
    received: int = 0
    per_lb: dict = field(default_factory=dict)
    gap_ms: object = None
    other_pair: str = ""
    other_sent: int = 0
    other_received: int = 0
    other_per_lb: dict = field(default_factory=dict)
    holder_after: list = field(default_factory=list)
    preempt: bool = True
    returned_to: str = ""
    return_ms: object = None
    stall: object = field(default_factory=Stall)  # lab.stall.Stall in the window from the crash to the standby's first packet
    other_stall: object = field(default_factory=Stall)  # ... over the whole stream, with the other pair's keepalived wait


@dataclass
class DnsPairsMeasurements:
    """What the dns-pairs design measured; its checks judge these alone."""
    scenario: object
    dns_probe: object        # _core DNS probe: every query, answer and time
    dns_stall: object        # lab.stall.Stall over the queries
    dns_timeout_ms: int      # a query unanswered this long counted as lost
    pair_states: dict        # pair -> PairState
    sessions: dict           # the login and whoami steps through both VIPs
    failover: Failover = None  # when vrrp_failover or session_sharing is asked


def _vips(m, pairs):
    return [m.scenario.vips[p] for p in pairs]


# Every check the design can be held to, each a function of its measurements alone.
CHECKS = {
    "dns_answers": lambda m: dns_answers(m.dns_probe, _vips(m, m.scenario.pairs), m.scenario.dns_ttl,
                                         _vips(m, m.scenario.dns_records), m.dns_timeout_ms, m.dns_stall),
    "dns_rotation": lambda m: dns_rotation(m.dns_probe, m.scenario.rrset_order),
    "vip_pairs": lambda m: vip_pairs(m.pair_states, m.scenario),
    "vrrp_failover": lambda m: vrrp_failover(m.failover, m.scenario),
    "session_sharing": lambda m: session_sharing(m.sessions, m.scenario),
}


class DnsPairsDesign:
    capture_node, stream_port = "r1", STREAM_PORT
    CHECKS = CHECKS
    def __init__(self, run, scenario, seed):
        self.run, self.scenario, self.seed = run, scenario, seed
        self.lab = None
        self.keepalived = {}          # lb -> daemons.services.Keepalived
        self.sessions = {}
        self.mac_owner = None         # MAC -> LB, read once the LBs are up
        self.deliveries = {}          # name -> traffic.Delivery, for the artifacts' flow tables
        self.failover = None          # Failover, when the scenario asks for it

    # --- build ----------------------------------------------------------------------------
    def build(self):
        s, run = self.scenario, self.run
        lab = self.lab = Lab(run, s, DnsPairsTopo(scenario=s, run_id=run.id))
        links = s.client_links.subnets(new_prefix=30)
        client_net, dns_net = next(links), next(links)
        self.client_address, self.dns_address = str(client_net[2]), str(dns_net[2])
        self.uplink, self.address = {}, {}
        addresses = []

        def address(node, peer, ip, plen, gateway):
            ifname, _ = lab.ifnames(node, peer)
            self.uplink[node], self.address[node] = ifname, ip
            addresses.append((node, ifname, ip, plen))
            return gateway

        r1_addresses = []
        for net, node in ((client_net, "c1"), (dns_net, "dns")):
            r1_if, _ = lab.ifnames("r1", node)
            r1_addresses.append((r1_if, net[1], 30))
            address(node, "r1", str(net[2]), 30, str(net[1]))
        segment_nets = {SEGMENTS[p]: spec.segment for p, spec in s.pairs.items()}
        segment_nets[SEGMENTS["backends"]] = s.backend_segment
        for segment, net in segment_nets.items():
            r1_if, _ = lab.ifnames("r1", segment)
            self.uplink[f"r1:{segment}"] = r1_if
            r1_addresses.append((r1_if, net[1], net.prefixlen))
        for spec in s.pairs.values():
            for lb, ip in zip(spec.lbs, spec.addresses):
                address(lb, SEGMENTS[spec.name], ip, spec.segment.prefixlen, str(spec.segment[1]))
        backend_net = s.backend_segment
        for i, backend in enumerate(backend_names(s), start=1):
            address(backend, SEGMENTS["backends"], str(backend_net[10 + i]), backend_net.prefixlen, "")
        address("redis", SEGMENTS["backends"], str(backend_net[20]), backend_net.prefixlen, "")
        addresses += [("r1", ifname, ip, plen) for ifname, ip, plen in r1_addresses]

        with self.run.step("addresses"):  # and bridges
            sysctl = lab.apply_sysctl(s, self.seed)
            lab.add_addresses(addresses)
            for segment in segment_nets:
                lab.bridge(segment)
            lab.bring_up()
        gateways = {"c1": str(client_net[1]), "dns": str(dns_net[1])}
        for spec in s.pairs.values():
            gateways.update({lb: str(spec.segment[1]) for lb in spec.lbs})
        gateways.update({n: str(backend_net[1]) for n in [*backend_names(s), "redis"]})
        run_everywhere([(lab[n], ["ip", "route", "add", "default", "via", gw]) for n, gw in gateways.items()])
        for pair in s.vrrp_blocked:  # the split-brain design: a firewall drops VRRP on the pair's LBs
            for lb in s.pairs[pair].lbs:
                self._block_vrrp(lab[lb])
        self._render_services()
        with self.run.step("carrier"):
            lab.await_carrier()
        with self.run.step("daemons"):
            self._start_services()
        return {"sysctl": sysctl}

    def _block_vrrp(self, node):
        node.run_argv(["nft", "add", "table", "inet", "vipcheck"])
        node.run_argv(["nft", "add", "chain", "inet", "vipcheck", "input",
                       "{ type filter hook input priority 0; policy accept; }"])
        node.run_argv(["nft", "add", "rule", "inet", "vipcheck", "input", "ip", "protocol", "vrrp", "drop"])

    def _render_services(self):
        """Every service's config rendered, and all dry-run at once before any daemon starts."""
        s, lab, run = self.scenario, self.lab, self.run
        zone, host = s.dns_name.split(".", 1)[1], s.dns_name.split(".", 1)[0]
        self.bind = Bind(run, lab["dns"], {"hostname": "dns", "address": self.dns_address, "zone": zone, "host": host,
                                           "ttl": s.dns_ttl, "rrset_order": s.rrset_order,
                                           "records": [s.vips[p] for p in s.dns_records]})
        backends = [{"name": b, "address": self.address[b], "port": BACKEND_PORT} for b in backend_names(s)]
        self.haproxy = {}
        for spec in s.pairs.values():
            for lb in spec.lbs:
                ctx = {"hostname": lb, "dir": str(run.node_dir(lb)), "vip": spec.vip, "port": s.port,
                       "backends": backends, "pair": spec.name, "ifname": self.uplink[lb],
                       "vrid": 50 + "ab".index(spec.name) + 1, "priority": s.priorities[lb],
                       "advert_interval": s.advert_interval, "preempt": s.preempt, "prefixlen": spec.segment.prefixlen}
                self.haproxy[lb] = Haproxy(run, lab[lb], ctx, self.address[lb])
                self.keepalived[lb] = Keepalived(run, lab[lb], ctx)
        with run.step("dry runs"):
            dry_run([self.bind, *self.haproxy.values(), *self.keepalived.values()])

    def _start_services(self):
        """Slowest first, and nothing awaited until everything is started: the backends' Python
        start, then keepalived (the protocol's timers run while the rest starts), HAProxy,
        Redis (the backends connect to it on their first request), and named, which returns
        once it has forked."""
        s, lab, run = self.scenario, self.lab, self.run
        redis = Redis(run, lab["redis"], self.address["redis"])
        apps = [PythonApp(run, lab[b], BACKEND_APP, self.address[b], BACKEND_PORT,
                          ["--name", b, "--store", s.session_store, "--redis", f"{redis.address}:{redis.PORT}"])
                for b in backend_names(s)]
        for service in [*apps, *self.keepalived.values(), *self.haproxy.values(), redis, self.bind]:
            service.start()
        for service in [redis, *apps, *self.haproxy.values()]:
            service.await_ready()
        self.bind.await_ready(lab["c1"], self.dns_address)

    # --- converge -------------------------------------------------------------------------
    def _arp_lbs(self, pair, window_ms=ARP_WINDOW_MS, rounds=1):
        """The LBs whose MAC answers ARP for the pair's VIP, asked from r1."""
        spec = self.scenario.pairs[pair]
        r1_if = self.uplink[f"r1:{SEGMENTS[pair]}"]
        probe = _core.probe_arp(self.lab["r1"].netns, r1_if, str(spec.segment[1]), [spec.vip], [], rounds,
                                window_ms, window_ms)
        macs = self._macs()
        return sorted({macs.get(r.sender_mac, r.sender_mac) for r in probe.replies if r.sender_ip == spec.vip})

    def _macs(self):
        if self.mac_owner is None:
            self.mac_owner = {}
            for lb in self.scenario.lb_names:
                link = json.loads(self.lab[lb].run_argv(["ip", "-j", "link", "show", "dev", self.uplink[lb]]))
                self.mac_owner[link[0]["address"]] = lb
        return self.mac_owner

    def converge(self):
        """A pair has converged when exactly one LB answers ARP for its VIP, after every backup
        has had the protocol's master-down interval and one more advert to settle a tie. A
        split brain never converges; the wait for it is bounded by the same protocol times."""
        s = self.scenario
        start = time.monotonic()
        hold = master_down_s(s, min(s.priorities.values())) + s.advert_interval
        decided = max(self.keepalived[lb].started + master_down_s(s, s.priorities[lb]) for lb in s.lb_names)
        deadline = decided + 5 * hold + 1.0
        masters, steady_since = {}, None
        # Converged: one master per pair, the same ones, for a whole master-down interval.
        while time.monotonic() < deadline:
            seen = {pair: self._arp_lbs(pair) for pair in s.pairs}
            now = time.monotonic()
            single = now >= decided and all(len(lbs) == 1 for lbs in seen.values())
            steady_since = (steady_since or now) if single and seen == masters else (now if single else None)
            masters = seen
            if steady_since is not None and now - steady_since >= hold:
                break
        return {"convergence": {"reached": all(len(lbs) == 1 for lbs in masters.values()),
                                "seconds": round(time.monotonic() - start, 4), "masters": masters}}

    # --- measurements ---------------------------------------------------------------------
    def _http(self, method, vip, path, body="", cookie=""):
        response = _core.http_request(self.lab["c1"].netns, method, f"http://{vip}:{self.scenario.port}{path}",
                                      body, cookie, 3000)
        try:
            payload = json.loads(response.body) if response.body else {}
        except ValueError:
            payload = {}
        return response, payload

    def _pair_state(self, pair):
        spec = self.scenario.pairs[pair]
        holders = [lb for lb in spec.lbs if any(a.address == spec.vip for a in _core.read_addresses(self.lab[lb].netns))]
        response, payload = self._http("GET", spec.vip, "/health")
        return PairState(pair, spec.vip, self._arp_lbs(pair, rounds=2), holders, payload.get("lb", ""),
                         response.error or ("" if response.status == 200 else f"HTTP {response.status}"))

    def send_traffic(self):
        s = self.scenario
        started_ns = time.monotonic_ns()
        self.dns_probe = _core.probe_dns(self.lab["c1"].netns, self.dns_address, 53, s.dns_name, s.dns_queries,
                                         DNS_TIMEOUT_MS, self.seed)
        self.dns_stall = self.run.stalls.window(started_ns, time.monotonic_ns())
        self.pair_states = {pair: self._pair_state(pair) for pair in s.pairs}
        user = f"user-{self.seed % 100000}"
        login, login_payload = self._http("POST", s.vips["a"], "/login", f"user={user}")
        cookie = login.set_cookies[0] if login.set_cookies else ""
        self.sessions = {"user": user, "login": {"status": login.status, "error": login.error, **login_payload},
                         "cookie": bool(cookie), "steps": []}
        # Twice: round-robin HAProxy sends the two requests to different backends, so a session
        # that lives in one backend's memory cannot pass both.
        self._whoami("through VIP B", "b", cookie)
        self._whoami("through VIP B again", "b", cookie)
        if {"vrrp_failover", "session_sharing"} & set(s.checks):
            self.failover = self._fail_over(cookie)
        return {"traffic": {"dns_queries": self.dns_probe.sent, "dns_answers": len(self.dns_probe.answers)}}

    def _whoami(self, label, pair, cookie):
        response, payload = self._http("GET", self.scenario.vips[pair], "/whoami", cookie=cookie)
        self.sessions["steps"].append({"step": label, "vip": self.scenario.vips[pair], "status": response.status,
                                       "error": response.error, "user": payload.get("user"),
                                       "lb": payload.get("lb"), "backend": payload.get("backend")})

    def _fail_over(self, cookie):
        """Crashes the failing pair's active LB under a steady stream to both VIPs, measures the
        gap and the other pair, checks the session, then brings the LB back and times its return."""
        s, lab = self.scenario, self.lab
        pair = s.failover_pair
        other = "b" if pair == "a" else "a"
        state = self.pair_states[pair]
        crashed = (state.holders or [s.pairs[pair].lbs[0]])[0]
        standby = next(lb for lb in s.pairs[pair].lbs if lb != crashed)
        result = Failover(pair, crashed, standby, other_pair=other, preempt=s.preempt)
        takeover_s = master_down_s(s, s.priorities[standby])
        duration_s = CRASH_AFTER_S + max(2.0, 2 * takeover_s + 0.5)
        rng = seeds.rng(self.seed, "vrrp_stream")
        stream = TrafficSpec(STREAM_FLOWS, int(duration_s * s.stream_pps / STREAM_FLOWS), s.stream_pps, STREAM_PORT)
        plans = {p: traffic.plan_flows([("c1", self.client_address, s.vips[p])], STREAM_FLOWS, rng.randrange(2**31))
                 for p in (pair, other)}
        deliveries, errors, cancel = {}, [], _core.Cancel()

        def stream_to(p):
            try:
                deliveries[p] = traffic.deliver(lab, {lb: s.vips[p] for lb in s.pairs[p].lbs}, stream, plans[p],
                                                rng.getrandbits(32), cancel=cancel)
            except Exception as e:  # raised again in the main thread
                errors.append(e)

        # The untouched pair's keepalived (parent and VRRP child) must keep a CPU for the whole stream.
        keepers = [pid for lb in s.pairs[other].lbs
                   for pid in (self.keepalived[lb].proc.pid, *children_of(self.keepalived[lb].proc.pid))]
        keepers_waited_ns, stream_ns = cpu_wait_ns(keepers), time.monotonic_ns()
        threads = [threading.Thread(target=stream_to, args=(p,)) for p in (pair, other)]
        with running(threads, cancel.set):  # a signal or a failed crash stops both streams
            time.sleep(CRASH_AFTER_S)  # steady state before the crash is part of the experiment's design
            # The standby's keepalived (parent and VRRP child) times the takeover: its own wait for a CPU,
            # from the crash to the end of the stream, is what the machine may have added to the gap.
            standby_keepers = [self.keepalived[standby].proc.pid, *children_of(self.keepalived[standby].proc.pid)]
            crash_ns, standby_waited_ns = time.monotonic_ns(), cpu_wait_ns(standby_keepers)
            self._crash(crashed)
        standby_waited_ms = (cpu_wait_ns(standby_keepers) - standby_waited_ns) / 1e6
        if errors:
            raise errors[0]
        self.deliveries = {f"vip-{p}": d for p, d in deliveries.items()}
        failing, unaffected = deliveries[pair], deliveries[other]
        result.sent, result.received = failing.sent, failing.received
        result.per_lb = {lb: r.packets for lb, r in failing.per_lb.items()}
        last_before = max((f.last_ns for f in failing.per_lb[crashed].flows if f.packets), default=0)
        first_after = min((f.first_ns for f in failing.per_lb[standby].flows if f.packets and f.first_ns >= crash_ns),
                          default=0)
        sender_still_ms = 0.0
        if last_before and first_after:
            result.gap_ms = round((first_after - last_before) / 1e6, 2)
            # The lost packets span gap - (their count / rate) of sending less than the gap: the sender stood still.
            sender_still_ms = max(0.0, result.gap_ms - (failing.sent - failing.received) * 1000 / s.stream_pps)
        result.stall = self.run.stalls.window(min(last_before or crash_ns, crash_ns),
                                              first_after or time.monotonic_ns()).of_processes(
            the_standbys_keepalived_waited_for_a_cpu=standby_waited_ms, the_sender_stood_still=sender_still_ms)
        result.other_stall = self.run.stalls.window(stream_ns, time.monotonic_ns()).with_witnesses(
            other_pairs_keepalived_waited_for_a_cpu=(cpu_wait_ns(keepers) - keepers_waited_ns) / 1e6)
        result.other_sent, result.other_received = unaffected.sent, unaffected.received
        result.other_per_lb = {lb: r.packets for lb, r in unaffected.per_lb.items()}
        result.holder_after = self._arp_lbs(pair, rounds=2)
        self._whoami(f"through VIP {pair.upper()} after {crashed} crashed", pair, cookie)
        self._restore(crashed, result)
        return result

    def _crash(self, lb):
        """A crash is the link going down and keepalived dying (SIGKILL alone leaves the VIP up);
        the host also loses its runtime addresses, so it cannot come back holding a stale VIP."""
        netns = self.lab[lb].netns
        _core.set_link_up(netns, self.uplink[lb], False)
        pair = next(spec for spec in self.scenario.pairs.values() if lb in spec.lbs)
        _core.change_address(netns, self.uplink[lb], pair.vip, pair.segment.prefixlen, False)
        kill_daemon(self.keepalived[lb].proc.pid, self.keepalived[lb].proc)  # our own keepalived, by its PID

    def _restore(self, lb, result):
        s = self.scenario
        self.lab.raise_link(lb, SEGMENTS[result.pair])  # the bridge forwards on its port from here
        restarted = time.monotonic()
        self.keepalived[lb].start()
        pair = result.pair
        # With preemption the returning LB takes the VIP back once it has heard the standby;
        # without, the standby keeps it: watch for a master-down interval beyond that.
        deadline = restarted + 3 * master_down_s(s, s.priorities[lb]) + 1.0
        holders = []
        while time.monotonic() < deadline:
            holders = self._arp_lbs(pair)
            if holders == [lb] and s.preempt:
                result.return_ms = round((time.monotonic() - restarted) * 1000, 1)
                break
        result.returned_to = ", ".join(holders)

    def measure(self):
        return DnsPairsMeasurements(self.scenario, self.dns_probe, self.dns_stall, DNS_TIMEOUT_MS,
                                    self.pair_states, self.sessions, self.failover)


Design = DnsPairsDesign  # what designs.design_class() returns
