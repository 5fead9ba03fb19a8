"""One scenario end to end: build, converge, send traffic, check, tear down; timed per phase."""
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from topologies.ecmp import EcmpTopo, address_plan
from vipcheck import _core, frr, traffic
from vipcheck.checks import CheckResult
from vipcheck.checks.ecmp import CHECKS, EcmpMeasurements
from vipcheck.network import Lab
from vipcheck.nodes import NodeCommandError, run_everywhere
from vipcheck.errors import ScenarioError
from vipcheck.run import Run

DEFAULT_COST = 10


@dataclass
class RunResult:
    scenario: str
    source: str
    run_id: str
    seed: int
    checks: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    convergence: dict = field(default_factory=dict)
    sysctl: dict = field(default_factory=dict)
    traffic: dict = field(default_factory=dict)

    @property
    def passed(self):
        return bool(self.checks) and all(c.passed for c in self.checks)

    def as_dict(self):
        return {"scenario": self.scenario, "source": self.source, "passed": self.passed, "run_id": self.run_id,
                "seed": self.seed, "checks": [c.as_dict() for c in self.checks], "timings": self.timings,
                "convergence": self.convergence, "sysctl": self.sysctl, "traffic": self.traffic}


class Phases:
    """Wall time per phase, in seconds, in the order they ran."""

    def __init__(self, report, timings):
        self.report, self.timings = report, timings

    @contextmanager
    def __call__(self, name):
        start = time.monotonic()
        self.report(f"{name}...")
        try:
            yield
        finally:
            self.timings[name] = round(time.monotonic() - start, 4)


def run_scenario(scenario, seed=None, report=lambda message: None):
    seed = random.SystemRandom().randrange(2**31) if seed is None else seed
    result = RunResult(scenario.name, scenario.source, "", seed)
    phase = Phases(report, result.timings)
    started = time.monotonic()
    with Run() as run:
        result.run_id = run.id
        report(f"run {run.id}, seed {seed}")
        with phase("build"):
            lab, routers, gateways = _build(run, scenario, result, random.Random(seed))
        with phase("converge"):
            _converge(lab, scenario, gateways, result)
        with phase("traffic"):
            rng = random.Random(seed + 1)
            clients = [(c, address_plan(scenario).client_links[i].far_address)
                       for i, c in enumerate(scenario.client_names)]
            flows = traffic.plan_flows(clients, scenario.traffic.flows, rng.randrange(2**31))
            route_before = _core.read_route(lab["r1"].netns, scenario.vip, 32)
            delivery = traffic.deliver(lab, scenario.lb_names, scenario.vip, scenario.traffic, flows,
                                       rng.getrandbits(32))
            route_after = _core.read_route(lab["r1"].netns, scenario.vip, 32)
            result.traffic = {"flows": scenario.traffic.flows, "sent": delivery.sent,
                              "received": delivery.received, "offered_pps": round(delivery.offered_pps)}
        with phase("checks"):
            lb_addresses = {lb: [(a.ifname, a.address, a.prefix_len) for a in _core.read_addresses(lab[lb].netns)]
                            for lb in scenario.lb_names}
            measurements = EcmpMeasurements(scenario, gateways, route_after, route_before, delivery,
                                            result.sysctl, lb_addresses)
            result.checks += [CHECKS[name](measurements) for name in scenario.checks]
        teardown_start = time.monotonic()
    result.timings["teardown"] = round(time.monotonic() - teardown_start, 4)
    result.timings["total"] = round(time.monotonic() - started, 4)
    return result


def _build(run, scenario, result, rng):
    plan = address_plan(scenario)
    lab = Lab(run, EcmpTopo(scenario=scenario, run_id=run.id))
    r1 = lab["r1"]
    commands, gateways = [], {}
    r1_links, passive_links, lb_contexts = [], [], {}
    for link in plan.client_links:
        near_if, far_if = lab.ifnames("r1", link.far)
        commands += [(r1, ["ip", "addr", "add", f"{link.near_address}/{link.prefixlen}", "dev", near_if]),
                     (lab[link.far], ["ip", "addr", "add", f"{link.far_address}/{link.prefixlen}", "dev", far_if])]
        passive_links.append({"ifname": near_if, "network": link.network})
    for link in plan.lb_links:
        near_if, far_if = lab.ifnames("r1", link.far)
        lb = lab[link.far]
        cost = scenario.ospf.cost.get(link.far, DEFAULT_COST)
        commands += [(r1, ["ip", "addr", "add", f"{link.near_address}/{link.prefixlen}", "dev", near_if]),
                     (lb, ["ip", "addr", "add", f"{link.far_address}/{link.prefixlen}", "dev", far_if])]
        if link.far not in scenario.vip_missing_on:
            commands.append((lb, ["ip", "addr", "add", f"{scenario.vip}/{scenario.lo_prefixlen}", "dev", "lo"]))
        gateways[link.far] = link.far_address
        r1_links.append({"ifname": near_if, "network": link.network, "cost": cost})
        lb_contexts[link.far] = {"hostname": link.far, "router_id": link.far_address, "vip": scenario.vip,
                                 "ospf": scenario.ospf,
                                 "ospf_links": [{"ifname": far_if, "network": link.network, "cost": cost}]}
    per_role = lab.effective_sysctl(scenario.sysctl, hash_seed=rng.randrange(1, 2**32))
    try:
        lab.apply_sysctl(per_role)
    except NodeCommandError as e:
        raise ScenarioError(scenario.source, f"sysctl.{lab[e.node].role}", f"rejected by the kernel: {e.stderr}")
    result.sysctl = lab.read_sysctl(per_role)
    run_everywhere(commands)
    lab.bring_up()
    for i, link in enumerate(plan.client_links):
        lab[link.far].run_argv(["ip", "route", "add", "default", "via", link.near_address])

    extra = ["bfdd"] if scenario.ospf.bfd else []
    routers = [frr.FrrRouter(run, r1, "router", ["zebra", *extra, "ospfd"],
                             {"hostname": "r1", "router_id": plan.lb_links[0].near_address, "ospf": scenario.ospf,
                              "ospf_links": r1_links, "passive_links": passive_links}, scenario.frr_conf)]
    routers += [frr.FrrRouter(run, lab[lb], "lb", ["zebra", "staticd", *extra, "ospfd"], context, scenario.frr_conf)
                for lb, context in lb_contexts.items()]
    frr.check_configs(routers)
    frr.start_all(routers)
    return lab, routers, gateways


def _converge(lab, scenario, gateways, result):
    """Waits on r1's route events until OSPF installed exactly the paths the design calls for:
    the cheapest LBs (all of them when costs are equal)."""
    costs = {lb: scenario.ospf.cost.get(lb, DEFAULT_COST) for lb in scenario.lb_names}
    best = [gateways[lb] for lb, cost in costs.items() if cost == min(costs.values())]
    wait = _core.wait_for_nexthops(lab["r1"].netns, scenario.vip, 32, best, scenario.convergence_timeout_s * 1000)
    result.convergence = {
        "reached": wait.reached, "expected_nexthops": best,
        "seconds": round((wait.reached_ns - wait.started_ns) / 1e9, 4) if wait.reached else None,
        "route_changes": [{"after_s": round((c.at_ns - wait.started_ns) / 1e9, 4),
                           "nexthops": [h.gateway for h in c.route.nexthops]} for c in wait.changes]}
    if not wait.reached:
        result.checks.append(CheckResult(
            "convergence", False, f"{len(wait.route.nexthops)} nexthops after {scenario.convergence_timeout_s} s",
            f"nexthops {', '.join(best)}", "OSPF did not converge: see the FRR logs in the run folder"))
