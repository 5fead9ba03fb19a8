"""The designs under test live in topologies/NAME/, one folder each, found by their folder: a
scenario's `topology: NAME` names the folder, which is the Python package topologies.NAME. This
module is all the engine knows of them: where they are, what the runner asks of each (`Design`),
and what every design starts with (`LabDesign`). Nothing of a design is imported until a scenario
names it, so `validate` loads no Mininet."""
import importlib
import sys
from functools import lru_cache
from pathlib import Path
from typing import Callable, Protocol

from vipcheck import REPO

DESIGNS_DIR = REPO / "topologies"


def names():
    """Every design: a folder of topologies/ with a design.py."""
    return sorted(p.parent.name for p in DESIGNS_DIR.glob("*/design.py"))


@lru_cache(maxsize=None)
def _module(name, part=""):
    if str(REPO) not in sys.path:  # the checkout holds topologies/ beside harness/
        sys.path.insert(0, str(REPO))
    return importlib.import_module(f"topologies.{name}{'.' + part if part else ''}")


def scenario_keys(name):
    """The design's scenario module (SCHEMA, parse): light, so validating imports no Mininet."""
    return _module(name, "scenario")


def design_class(name):
    """The design's class (design.Design), which builds and measures it."""
    return _module(name, "design").Design


def requirements(name):
    """What the design needs of the machine: its package's PROGRAMS, USERS and MODULES."""
    return _module(name)


def convergence(name):
    """The design's cells of the nightly convergence matrix (convergence.py), or None for a design
    that has none."""
    return _module(name, "convergence") if (DESIGNS_DIR / name / "convergence.py").exists() else None


def scenario_files(kind):
    """Every design's scenario files of one kind, by name: "scenarios" (the shipped ones, which
    make run runs) or "cases" (each states its expected outcome)."""
    return {p.stem: p for p in sorted(DESIGNS_DIR.glob(f"*/{kind}/*.yaml"))}


class Design(Protocol):
    """What the runner asks of a design, in this order. A design measures; its checks judge; the
    runner alone writes the result, from what each phase returns."""
    capture_node: str   # the node whose traffic a packet capture records
    stream_port: int    # the UDP port of the measured stream
    deliveries: dict    # name -> traffic.Delivery, for the artifacts' flow tables ({} until traffic)
    lab: object         # its lab.network.Lab once build() made it, None before
    # Every check the design can be held to: name -> check(measurements) -> checks.CheckResult,
    # a pure function, so that recorded measurements test it without root or a network.
    CHECKS: dict[str, Callable]

    def __init__(self, run, scenario, seed): ...

    def build(self) -> dict:
        """Nodes, links, addresses, sysctls, configs (dry-run first), every link with carrier:
        everything but the daemons. Returns {"sysctl": the values the kernel reported per node}."""

    def start(self) -> None:
        """The design's daemons, each awaited until it has read its config or answers. The
        runner's capture listens from before this phase."""

    def converge(self) -> dict:
        """Waits for the design's own event (routes installed, one VRRP master), bounded. Returns
        {"convergence": {"reached", "seconds", ...}}; the `convergence` check judges it."""

    def send_traffic(self) -> dict:
        """The measured traffic and, when the scenario has them, its events, each recorded by what
        received it. Returns {"traffic": a summary} and, with events, "timeline": arrivals per ms."""

    def measure(self) -> object:
        """Every read of the network the checks judge, after the traffic, into the design's
        measurements.Measurements; the traffic's own records are collected here too."""


class LabDesign:
    """What every design holds before its first phase; its own __init__ adds its phase state."""

    def __init__(self, run, scenario, seed):
        self.run, self.scenario, self.seed = run, scenario, seed
        self.lab = None          # lab.network.Lab, once build() made it
        self.deliveries = {}     # name -> traffic.Delivery, for the artifacts' flow tables
