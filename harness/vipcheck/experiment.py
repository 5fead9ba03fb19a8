"""One scenario as an experiment, end to end: build, capture, start, converge, traffic, measure,
check, tear down; timed per phase. The path of data is the order of the phases: what the traffic
recorded and what measure() read make one measurements object, and each check the scenario names
judges it."""
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from vipcheck.designs import Design, design_class
from vipcheck.errors import RunIncomplete
from vipcheck.lab import forensics, registry
from vipcheck.lab.capture import Capture
from vipcheck.lab.memory import MemorySampler
from vipcheck.lab.run import Run
from vipcheck.report import artifacts

MEASUREMENTS = 3  # attempts for a run whose timed failure the machine's stall explains (lab.stall)


@dataclass
class RunResult:
    scenario: str
    source: str
    run_id: str
    seed: int
    checks: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    build_steps: dict = field(default_factory=dict)  # seconds per step of the build phase
    convergence: dict = field(default_factory=dict)
    sysctl: dict = field(default_factory=dict)
    traffic: dict = field(default_factory=dict)
    timeline: dict = field(default_factory=dict)   # arrivals per ms around a failure, when there was one
    connections: list = field(default_factory=list)  # every TCP connection's fate, when the design held some
    memory: dict = field(default_factory=dict)     # node processes' peak PSS, the harness's, the sinks'
    artifacts: str = ""                            # the failing run's artifacts folder
    remeasured: list = field(default_factory=list)  # earlier attempts the machine stalled: id, why

    @property
    def passed(self):
        return bool(self.checks) and all(c.passed for c in self.checks)

    def record(self, observed):
        """What a design's phase returned: its own fields (sysctl, convergence, traffic, timeline, connections)."""
        for key, value in (observed or {}).items():
            if key not in ("sysctl", "convergence", "traffic", "timeline", "connections"):
                raise ValueError(f"a design reported {key!r}, which no result holds")
            setattr(self, key, value)

    @property
    def inconclusive(self):
        """No check failed for certain, and a timed one failed by less than the machine stalled."""
        failed = [c for c in self.checks if not c.passed]
        return bool(failed) and all(c.inconclusive for c in failed)

    @property
    def verdict(self):
        return "PASSED" if self.passed else "INCONCLUSIVE" if self.inconclusive else "FAILED"

    def as_dict(self):
        return {"scenario": self.scenario, "source": self.source, "passed": self.passed, "verdict": self.verdict,
                "run_id": self.run_id,
                "seed": self.seed, "checks": [c.as_dict() for c in self.checks], "timings": self.timings,
                "build_steps": self.build_steps,
                "convergence": self.convergence, "sysctl": self.sysctl, "traffic": self.traffic,
                "memory": self.memory,
                **({"timeline": self.timeline} if self.timeline else {}),
                **({"connections": self.connections} if self.connections else {}),
                **({"remeasured": self.remeasured} if self.remeasured else {}),
                **({"artifacts": self.artifacts} if self.artifacts else {})}


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


def run_scenario(scenario, seed=None, report=lambda message: None, artifacts_root=None, capture=True,
                 hold=None, up=False):
    """Runs one scenario. A failing run writes its artifacts under artifacts_root (when given).
    hold(result, run, design), when given, is called inside the run once there is a verdict
    (or, with `up`, once the network converged) and may keep the network until it returns.
    A run whose timed failures the machine's stall explains (inconclusive) is measured again, on a
    new network with the same seed, up to MEASUREMENTS times: a broken design fails every time
    in a quiet window, and a verdict inconclusive every time stays inconclusive, never PASS."""
    seed = random.SystemRandom().randrange(2**31) if seed is None else seed
    remeasured = []
    for attempt in range(1, MEASUREMENTS + 1):
        result = _run_once(scenario, seed, report, artifacts_root, capture, hold, up)
        if up or hold or not result.inconclusive or attempt == MEASUREMENTS:
            result.remeasured = remeasured
            return result
        why = "; ".join(f"{c.name}: {c.diagnosis}" for c in result.checks if c.inconclusive)
        remeasured.append({"run_id": result.run_id, "why": why, "artifacts": result.artifacts})
        report(f"run {result.run_id} inconclusive ({why}): measuring again")


def _run_once(scenario, seed, report, artifacts_root, capture, hold, up):
    for run_id, removed in registry.clean_dead():
        report(f"cleaned dead run {run_id}: {len(removed)} leftovers ({', '.join(removed[:3])}"
               f"{', ...' if len(removed) > 3 else ''})")
    result = RunResult(scenario.name, scenario.source, "", seed)
    phase = Phases(report, result.timings)
    started = time.monotonic()
    with Run(scenario=Path(scenario.source).resolve(), seed=seed, report=report) as run:
        result.run_id = run.id
        report(f"run {run.id}, seed {seed}")
        design: Design = design_class(scenario.topology)(run, scenario, seed)
        packet_capture = None
        try:
            with phase("build"):
                result.record(design.build())
            if capture and not up:
                # tcpdump on the router, listening before the first daemon starts: a failing run's
                # capture holds the adjacencies, BFD coming up and the first ARP, not only the stream.
                with phase("capture"):
                    packet_capture = Capture(run, design.lab[design.capture_node], design.stream_port).start()
            with phase("start"):
                design.start()
            result.build_steps = dict(run.steps)
            with phase("converge"):
                result.record(design.converge())
            memory = MemorySampler(run)
            memory.sample()
            if up:
                hold(result, run, design)
                return result
            with phase("traffic"):
                result.record(design.send_traffic())
            memory.sample()
            with phase("measure"):  # every read of the network, once
                measurements = design.measure()
            with phase("checks"):  # each check the scenario names judges the same measurements
                result.checks += [design.CHECKS[name](measurements) for name in scenario.checks]
            result.memory = memory.figures(sink_bytes=sum(sink.memory_bytes for delivery in design.deliveries.values()
                                                          for sink in delivery.per_lb.values()))
        except RuntimeError as e:  # the harness could not finish the experiment: show what it saw
            if artifacts_root and design.lab:
                result.artifacts = str(_keep_artifacts(run, design, result, scenario, artifacts_root, packet_capture,
                                                       error=str(e)))
                raise RunIncomplete(f"{e} (artifacts: {result.artifacts})") from None
            raise RunIncomplete(str(e)) from None
        if not result.passed and artifacts_root:
            with phase("artifacts"):
                result.artifacts = str(_keep_artifacts(run, design, result, scenario, artifacts_root,
                                                       packet_capture))
            report(f"artifacts: {result.artifacts}")
        if hold:
            result.timings["total"] = round(time.monotonic() - started, 4)
            hold(result, run, design)
        teardown_start = time.monotonic()
        report("teardown...")
    result.timings["teardown"] = round(time.monotonic() - teardown_start, 4)
    result.timings["total"] = round(time.monotonic() - started, 4)
    return result


def _keep_artifacts(run, design, result, scenario, out_root, capture, error=None):
    """What the network shows while it is still up (the lab's forensics), then the report's files."""
    folder = artifacts.folder_for(out_root, result)
    captured = forensics.collect(run, design.lab, folder, capture)
    return artifacts.write(folder, design.deliveries, result, scenario, captured, error)
