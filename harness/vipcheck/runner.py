"""One scenario end to end: build, converge, send traffic, check, tear down; timed per phase."""
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from vipcheck.designs.dns_pairs import DnsPairsDesign
from vipcheck.designs.ecmp import EcmpDesign
from vipcheck.designs.lo_subnet import LoSubnetDesign
from vipcheck.run import Run

DESIGNS = {"ecmp": EcmpDesign, "lo-subnet": LoSubnetDesign, "dns-pairs": DnsPairsDesign}


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
    timeline: dict = field(default_factory=dict)   # arrivals per ms around a failure, when there was one

    @property
    def passed(self):
        return bool(self.checks) and all(c.passed for c in self.checks)

    def as_dict(self):
        return {"scenario": self.scenario, "source": self.source, "passed": self.passed, "run_id": self.run_id,
                "seed": self.seed, "checks": [c.as_dict() for c in self.checks], "timings": self.timings,
                "convergence": self.convergence, "sysctl": self.sysctl, "traffic": self.traffic,
                **({"timeline": self.timeline} if self.timeline else {})}


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
        design = DESIGNS[scenario.topology](run, scenario, result, seed)
        with phase("build"):
            design.build()
        with phase("converge"):
            design.converge()
        with phase("traffic"):
            design.send_traffic()
        with phase("checks"):
            result.checks += design.check()
        teardown_start = time.monotonic()
    result.timings["teardown"] = round(time.monotonic() - teardown_start, 4)
    result.timings["total"] = round(time.monotonic() - started, 4)
    return result
