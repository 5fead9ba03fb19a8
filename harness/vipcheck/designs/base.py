"""What the runner asks of a design, in this order. A design measures; its checks judge."""
from typing import Callable, Protocol


class Design(Protocol):
    capture_node: str   # the node whose traffic a packet capture records
    stream_port: int    # the UDP port of the measured stream
    deliveries: dict    # name -> traffic.Delivery, for the artifacts' flow tables
    # Every check the design can be held to: name -> check(measurements) -> checks.CheckResult,
    # a pure function, so that recorded measurements test it without root or a network.
    CHECKS: dict[str, Callable]

    def __init__(self, run, scenario, result, seed): ...

    def build(self) -> None:
        """Nodes, links, addresses, sysctls, configs (dry-run first), daemons."""

    def converge(self) -> None:
        """Waits for the design's own event (routes installed, one VRRP master), bounded."""

    def send_traffic(self) -> None:
        """The measured traffic and, when the scenario has them, its failures."""

    def measure(self) -> object:
        """Everything the scenario's checks judge, read once after the traffic."""
