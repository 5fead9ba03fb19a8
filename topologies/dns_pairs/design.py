"""The dns-pairs design: DNS round-robin over two VIPs, each held by an active/standby pair
(keepalived VRRP) in front of HAProxy, backends and a shared Redis session store."""
import json
import time
from pathlib import Path

from vipcheck import _core, _http, faults
from vipcheck.daemons.services import Bind, Haproxy, Keepalived, PythonApp, Redis, dry_run
from vipcheck.designs import LabDesign
from vipcheck.lab.network import DEFAULT_ROUTE, Lab

from .arp import VipOwners
from .checks import CHECKS
from .measurements import DnsPairsMeasurements, PairState
from .takeover import STREAM_PORT, TakeoverExperiment
from .topology import SEGMENTS, DnsPairsTopo, backend_names

BACKEND_APP = Path(__file__).with_name("session_backend.py")
BACKEND_PORT = 8080
DNS_TIMEOUT_MS = 1000     # a query unanswered this long counts as lost


class DnsPairsDesign(LabDesign):
    capture_node, stream_port = "r1", STREAM_PORT
    CHECKS = CHECKS

    def __init__(self, run, scenario, seed):
        super().__init__(run, scenario, seed)
        # What is built: DNS checks alone need c1, dns and r1, and no pair, backend or Redis.
        self.pairs = scenario.pairs if scenario.builds_pairs else {}
        self.backends = backend_names(scenario) if scenario.builds_pairs else []
        # build():
        self.client_address = self.dns_address = None
        self.uplink, self.address = {}, {}  # node (and "r1:SEGMENT") -> its interface; node -> its address
        self.owners = None            # arp.VipOwners, once the nodes exist
        self.bind = None              # daemons.services.Bind
        self.haproxy = {}             # lb -> daemons.services.Haproxy
        self.keepalived = {}          # lb -> daemons.services.Keepalived
        self.convergence = {}         # converge()'s record
        # send_traffic(), what the client recorded, for measure():
        self.dns_probe = self.dns_stall = None
        self.sessions = {}            # the login and whoami steps
        self.takeover = None          # measurements.Takeover, when the scenario asks for it

    # --- build ----------------------------------------------------------------------------
    def build(self):
        s, run = self.scenario, self.run
        lab = self.lab = Lab(run, DnsPairsTopo(scenario=s, run_id=run.id), s.source)
        links = s.client_links.subnets(new_prefix=30)
        client_net, dns_net = next(links), next(links)
        self.client_address, self.dns_address = str(client_net[2]), str(dns_net[2])
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
        segment_nets = {SEGMENTS[p]: spec.segment for p, spec in self.pairs.items()}
        if self.pairs:
            segment_nets[SEGMENTS["backends"]] = s.backend_segment
        for segment, net in segment_nets.items():
            r1_if, _ = lab.ifnames("r1", segment)
            self.uplink[f"r1:{segment}"] = r1_if
            r1_addresses.append((r1_if, net[1], net.prefixlen))
        backend_net = s.backend_segment
        for spec in self.pairs.values():
            for lb, ip in zip(spec.lbs, spec.addresses):
                address(lb, SEGMENTS[spec.name], ip, spec.segment.prefixlen, str(spec.segment[1]))
        for i, backend in enumerate(self.backends, start=1):
            address(backend, SEGMENTS["backends"], str(backend_net[10 + i]), backend_net.prefixlen, "")
        if self.pairs:
            address("redis", SEGMENTS["backends"], str(backend_net[20]), backend_net.prefixlen, "")
        addresses += [("r1", ifname, ip, plen) for ifname, ip, plen in r1_addresses]
        self.owners = VipOwners(lab, s, self.uplink)

        with self.run.step("addresses"):  # and bridges
            sysctl = lab.apply_sysctl(s.sysctl, self.seed)
            lab.add_addresses(addresses)
            for segment in segment_nets:
                lab.bridge(segment)
            lab.bring_up()
        gateways = {"c1": str(client_net[1]), "dns": str(dns_net[1])}
        for spec in self.pairs.values():
            gateways.update({lb: str(spec.segment[1]) for lb in spec.lbs})
        if self.pairs:
            gateways.update({n: str(backend_net[1]) for n in [*self.backends, "redis"]})
        lab.add_routes([(n, DEFAULT_ROUTE, [gw]) for n, gw in gateways.items()])
        for pair in (p for p in s.vrrp_blocked if p in self.pairs):  # the split-brain design: a firewall drops VRRP
            for lb in s.pairs[pair].lbs:
                faults.drop_incoming(lab[lb], "vrrp")
        self._render_services()
        with self.run.step("carrier"):
            lab.await_carrier()
        return {"sysctl": sysctl}

    def start(self):
        with self.run.step("daemons"):
            self._start_services()

    def _render_services(self):
        """Every service's config rendered, and all dry-run at once before any daemon starts."""
        s, lab, run = self.scenario, self.lab, self.run
        zone, host = s.dns_name.split(".", 1)[1], s.dns_name.split(".", 1)[0]
        self.bind = Bind(run, lab["dns"], s.daemon_conf,
                         {"hostname": "dns", "address": self.dns_address, "zone": zone, "host": host, "ttl": s.dns_ttl,
                          "rrset_order": s.rrset_order, "records": [s.vips[p] for p in s.dns_records]})
        backends = [{"name": b, "address": self.address[b], "port": BACKEND_PORT} for b in self.backends]
        for spec in self.pairs.values():
            for lb in spec.lbs:
                ctx = {"hostname": lb, "dir": str(run.node_dir(lb)), "vip": spec.vip, "port": s.port,
                       "backends": backends, "pair": spec.name, "ifname": self.uplink[lb],
                       "vrid": 50 + "ab".index(spec.name) + 1, "priority": s.priorities[lb],
                       "advert_interval": s.advert_interval, "preempt": s.preempt, "prefixlen": spec.segment.prefixlen}
                self.haproxy[lb] = Haproxy(run, lab[lb], s.daemon_conf, ctx, self.address[lb])
                self.keepalived[lb] = Keepalived(run, lab[lb], s.daemon_conf, ctx)
        with run.step("dry runs"):
            dry_run([self.bind, *self.haproxy.values(), *self.keepalived.values()])

    def _start_services(self):
        """Slowest first, and nothing awaited until everything is started: the backends' Python
        start, then keepalived (the protocol's timers run while the rest starts), HAProxy,
        Redis (the backends connect to it on their first request), and named, which returns
        once it has forked."""
        s, lab, run = self.scenario, self.lab, self.run
        stores = [Redis(run, lab["redis"], self.address["redis"])] if self.pairs else []
        apps = [PythonApp(run, lab[b], BACKEND_APP, self.address[b], BACKEND_PORT,
                          ["--name", b, "--store", s.session_store, "--redis", f"{stores[0].address}:{Redis.PORT}"])
                for b in self.backends]
        for service in [*apps, *self.keepalived.values(), *self.haproxy.values(), *stores, self.bind]:
            service.start()
        for service in [*stores, *apps, *self.haproxy.values()]:
            service.await_ready()
        self.bind.await_ready(lab["c1"], self.dns_address)

    # --- converge -------------------------------------------------------------------------
    def converge(self):
        """A pair has converged when exactly one LB answers ARP for its VIP, after every backup
        has had the protocol's master-down interval and one more advert to settle a tie. A
        split brain never converges; the wait for it is bounded by the same protocol times. Without
        the pairs, named answering (awaited in the build) is all there is to converge."""
        s = self.scenario
        if not self.pairs:
            self.convergence = {"reached": True, "seconds": 0.0, "masters": {}}
            return {"convergence": self.convergence}
        start = time.monotonic()
        hold = max(s.master_down_s(lb) for lb in s.lb_names) + s.advert_interval
        decided = max(self.keepalived[lb].started + s.master_down_s(lb) for lb in s.lb_names)
        deadline = decided + 5 * hold + 1.0
        masters, steady_since = {}, None
        # Converged: one master per pair, the same ones, for a whole master-down interval.
        while time.monotonic() < deadline:
            seen = {pair: self.owners.of(pair) for pair in s.pairs}
            now = time.monotonic()
            single = now >= decided and all(len(lbs) == 1 for lbs in seen.values())
            steady_since = (steady_since or now) if single and seen == masters else (now if single else None)
            masters = seen
            if steady_since is not None and now - steady_since >= hold:
                break
        self.convergence = {"reached": all(len(lbs) == 1 for lbs in masters.values()),
                            "seconds": round(time.monotonic() - start, 4), "masters": masters}
        return {"convergence": self.convergence}

    # --- measurements ---------------------------------------------------------------------
    def _ask(self, method, vip, path, body="", cookie=""):
        """An HTTP request from c1 to a VIP, with its JSON answer ({} when none)."""
        response = _http.http_request(self.lab["c1"].netns, method, f"http://{vip}:{self.scenario.port}{path}",
                                      body, cookie, 3000)
        try:
            payload = json.loads(response.body) if response.body else {}
        except ValueError:
            payload = {}
        return response, payload

    def _pair_state(self, pair):
        spec = self.scenario.pairs[pair]
        holders = [lb for lb in spec.lbs if any(a.address == spec.vip for a in _core.read_addresses(self.lab[lb].netns))]
        response, payload = self._ask("GET", spec.vip, "/health")
        return PairState(pair, spec.vip, self.owners.of(pair, rounds=2), holders, payload.get("lb", ""),
                         response.error or ("" if response.status == 200 else f"HTTP {response.status}"))

    def send_traffic(self):
        """The client's DNS queries, then through the VIPs the service's login and session steps,
        and with vrrp_failover or session_sharing the takeover experiment: the client records
        every answer."""
        s = self.scenario
        started_ns = time.monotonic_ns()
        self.dns_probe = _core.probe_dns(self.lab["c1"].netns, self.dns_address, 53, s.dns_name, s.dns_queries,
                                         DNS_TIMEOUT_MS, self.seed)
        self.dns_stall = self.run.stalls.window(started_ns, time.monotonic_ns())
        if self.pairs:  # the service through both VIPs, sessions and the takeover
            user = f"user-{self.seed % 100000}"
            login, login_payload = self._ask("POST", s.vips["a"], "/login", f"user={user}")
            cookie = login.set_cookies[0] if login.set_cookies else ""
            self.sessions = {"user": user, "login": {"status": login.status, "error": login.error, **login_payload},
                             "cookie": bool(cookie), "steps": []}
            # Twice: round-robin HAProxy sends the two requests to different backends, so a session
            # that lives in one backend's memory cannot pass both.
            self._whoami("through VIP B", "b", cookie)
            self._whoami("through VIP B again", "b", cookie)
            if {"vrrp_failover", "session_sharing"} & set(s.checks):
                self.takeover = self._take_over(cookie)
        return {"traffic": {"dns_queries": self.dns_probe.sent, "dns_answers": len(self.dns_probe.answers)}}

    def _whoami(self, label, pair, cookie):
        response, payload = self._ask("GET", self.scenario.vips[pair], "/whoami", cookie=cookie)
        self.sessions["steps"].append({"step": label, "vip": self.scenario.vips[pair], "status": response.status,
                                       "error": response.error, "user": payload.get("user"),
                                       "lb": payload.get("lb"), "backend": payload.get("backend")})

    def _take_over(self, cookie):
        """The takeover experiment on the failing pair's active LB (whoever answers ARP for its VIP
        now); between the crash and the LB's return, the session is asked for through the VIP."""
        s = self.scenario
        pair = s.failover_pair
        crashed = (self.owners.of(pair) or [s.pairs[pair].lbs[0]])[0]
        experiment = TakeoverExperiment(self.run, self.lab, s, self.keepalived, self.uplink, self.owners)
        result = experiment.crash_under_stream(crashed, self.client_address, self.seed)
        self.deliveries = {f"vip-{p}": d for p, d in experiment.deliveries.items()}
        self._whoami(f"through VIP {pair.upper()} after {crashed} crashed", pair, cookie)
        experiment.restore(result)
        return result

    def measure(self):
        """Each pair as the network sees it once the traffic is over: who answers ARP for its VIP,
        who holds it, who serves it; the client's records beside."""
        pair_states = {pair: self._pair_state(pair) for pair in self.scenario.pairs} if self.pairs else {}
        return DnsPairsMeasurements(self.scenario, self.convergence, self.dns_probe, self.dns_stall, DNS_TIMEOUT_MS,
                                    pair_states, self.sessions, self.takeover)


Design = DnsPairsDesign  # what designs.design_class() returns
