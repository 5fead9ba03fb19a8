"""What the runner asks of a design, in this order. A design measures; its checks judge; the
runner alone writes the result, from what each phase returns."""
from typing import Callable, Protocol


class Design(Protocol):
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
        {"convergence": {"reached", "seconds", ...}} and, where an unconverged design cannot be
        measured, "checks": [the failed check that says so]."""

    def send_traffic(self) -> dict:
        """The measured traffic and, when the scenario has them, its failures. Returns
        {"traffic": a summary} and, with failures, "timeline": arrivals per ms around them."""

    def measure(self) -> object:
        """Everything the scenario's checks judge, read once after the traffic."""


class LabDesign:
    """What every design holds before its first phase; its own __init__ adds its phase state."""

    def __init__(self, run, scenario, seed):
        self.run, self.scenario, self.seed = run, scenario, seed
        self.lab = None          # lab.network.Lab, once build() made it
        self.deliveries = {}     # name -> traffic.Delivery, for the artifacts' flow tables
