"""What a schema cannot say about the keys every design shares: what an address means, which
sysctls are per namespace, the traffic every flow plan starts from, folders relative to the file."""
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from vipcheck.errors import ScenarioError

FLOWS_PER_CLIENT = 64000  # source ports a client's flows can use


@dataclass(frozen=True)
class TrafficSpec:
    flows: int = 2048
    packets_per_flow: int = 4
    rate_pps: int = 100_000
    port: int = 5001

    @property
    def packets(self):
        return self.flows * self.packets_per_flow


@dataclass(frozen=True)
class VipOnLbs:
    """What every design that binds one VIP on N LBs has first; node names lb1..lbN, c1..cN."""
    source: str
    name: str
    topology: str
    vip: str
    lbs: int
    clients: int
    lo_prefixlen: int
    sysctl: dict                     # role -> {key: value}, as the scenario wrote it

    @property
    def lb_names(self):
        return [f"lb{i}" for i in range(1, self.lbs + 1)]

    @property
    def client_names(self):
        return [f"c{i}" for i in range(1, self.clients + 1)]


class Keys:
    """One validated mapping of a scenario (defaults filled in), read by key, with its place in
    the file for the error lines of the rules the schema cannot hold."""

    def __init__(self, source, path, mapping):
        self.source, self.path, self.mapping = source, path, mapping

    def __getitem__(self, key):
        return self.mapping[key]

    def get(self, key, default=None):
        return self.mapping.get(key, default)

    def where(self, key):
        return f"{self.path}.{key}" if self.path and key else (self.path or key)

    def sub(self, key):
        return Keys(self.source, self.where(key), self.mapping.get(key) or {})

    def fail(self, key, problem):
        raise ScenarioError(self.source, self.where(key), problem)

    def ipv4(self, key):
        value = self.mapping[key]
        try:
            address = ipaddress.IPv4Address(value)
        except (ipaddress.AddressValueError, ValueError):
            self.fail(key, f"not an IPv4 address: {value!r}")
        if address.is_multicast or address.is_loopback or address.is_unspecified or address.is_reserved:
            self.fail(key, f"{address} cannot be a unicast service address")
        return str(address)

    def network(self, key):
        value = self.mapping[key]
        try:
            return ipaddress.IPv4Network(value, strict=True)
        except (ipaddress.AddressValueError, ipaddress.NetmaskValueError, ValueError, TypeError) as e:
            self.fail(key, f"not an IPv4 network: {value!r} ({e})")

    def names(self, key, allowed, what):
        """A list the schema has shaped, each entry one of `allowed` (known only from other keys)."""
        values = self.mapping[key]
        for value in values:
            if value not in allowed:
                self.fail(key, f"unknown {what} {value!r} (known: {', '.join(allowed)})")
        return tuple(values)

    def at_most(self, key, high):
        """A bound that depends on other keys (flows per client)."""
        if self.mapping[key] > high:
            self.fail(key, f"must be between 0 and {high}, got {self.mapping[key]}")
        return self.mapping[key]

    def folder(self, key, default):
        """A folder named relative to the scenario file."""
        value = self.mapping.get(key)
        if value is None:
            return default
        folder = (Path(self.source).parent / value).resolve()
        if not value or not folder.is_dir():
            self.fail(key, f"no such folder: {folder}")
        return folder


def sysctl(keys):
    """sysctl: {ROLE: {KEY: VALUE}}; the schema holds which keys and values a role may set."""
    return {role: dict(values) for role, values in keys.mapping.items()}


def traffic(keys, clients, default_flows):
    flows = keys.get("flows", default_flows)
    if not 1 <= flows <= FLOWS_PER_CLIENT * clients:
        keys.fail("flows", f"must be between 1 and {FLOWS_PER_CLIENT * clients}, got {flows}")
    spec = TrafficSpec(flows, keys["packets_per_flow"], keys["rate_pps"], keys["port"])
    if spec.packets > 20_000_000:
        keys.fail("packets_per_flow", f"flows x packets_per_flow = {spec.packets}, at most 20000000")
    return spec


def checks(keys, default):
    """The checks to run: convergence first, whatever the scenario lists (nothing is measured
    meaningfully on a design that never converged), then the scenario's list or the design's default."""
    return ("convergence", *(check for check in keys.get("checks", list(default)) if check != "convergence"))
