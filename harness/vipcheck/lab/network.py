"""The emulated network of one run: Mininet nodes and links, and their L3 configuration."""
import ipaddress
import threading
from pathlib import Path

from mininet.net import Mininet

from vipcheck import _core, seeds
from vipcheck.errors import ScenarioError
from vipcheck.lab.nodes import LabIntf, LabLink
from vipcheck.lab.threads import join_threads, start_threads

# Baseline sysctls of every node, because new namespaces inherit conf/all from the root
# namespace: a router forwards and hashes flows on their headers' 5-tuple (policy 3 with the
# address, protocol and port fields: policy 1 would take the sender's socket hash, which veth
# passes on and TCP redraws on every retransmission), every other node forwards nothing. A
# scenario's `sysctl` overrides them key by key, per role.
HASH_FIELDS_5_TUPLE = 0x0037  # source and destination address, protocol, source and destination port
ROUTER_SYSCTL = {"net.ipv4.ip_forward": 1, "net.ipv4.fib_multipath_hash_policy": 3,
                 "net.ipv4.fib_multipath_hash_fields": HASH_FIELDS_5_TUPLE}
HOST_SYSCTL = {"net.ipv4.ip_forward": 0}
BRIDGE = "br0"
IFNAME_MAX = 15  # IFNAMSIZ is 16 with the terminating NUL
CARRIER_TIMEOUT_MS = 5000  # linkwatch publishes a carrier within a second, even when busy
HASH_SEED_SYSCTL = Path("/proc/sys/net/ipv4/fib_multipath_hash_seed")  # Linux 6.11 and later
DEFAULT_ROUTE = ipaddress.ip_network("0.0.0.0/0")
EVERY_NODE_SYSCTL = {
    "net.ipv4.conf.all.rp_filter": 0,
    "net.ipv4.conf.default.rp_filter": 0,
    "net.ipv4.conf.all.arp_ignore": 0,
    "net.ipv4.conf.all.arp_announce": 0,
    "net.ipv6.conf.all.disable_ipv6": 1,      # no router solicitations or MLD in the captures
    "net.ipv6.conf.default.disable_ipv6": 1,
}


def link_interfaces(topo):
    """The interface-name pairs of `topo`'s links, in the order Lab makes them, known before it does."""
    return [(f"{a}-eth{info['port1']}", f"{b}-eth{info['port2']}") for a, b, info in topo.links(sort=True, withInfo=True)]


def check_interface_names(source, links):
    """Names grow with the node counts; the kernel would refuse one past 15 characters midway
    through the build, so a scenario (the file `source`) that leads there is bad input."""
    for name in (name for pair in links for name in pair):
        if len(name) > IFNAME_MAX:
            raise ScenarioError(source, "", f"interface name {name} would have {len(name)} characters "
                                f"(Linux allows {IFNAME_MAX}): fewer nodes or links")


def effective_sysctl(role, scenario_sysctl, seed):
    """A role's sysctls: the baseline, then the scenario's keys on top."""
    merged = {**EVERY_NODE_SYSCTL, **(ROUTER_SYSCTL if role == "router" else HOST_SYSCTL)}
    if role == "router" and HASH_SEED_SYSCTL.exists():
        # A fixed multipath hash seed makes the flow-to-LB map a function of the run's seed.
        merged["net.ipv4.fib_multipath_hash_seed"] = seeds.rng(seed, "router_hash").randrange(1, 2**32)
    return {**merged, **scenario_sysctl.get(role, {})}


class Lab:
    """Mininet hosts by their scenario names; stop() removes every node and link. `source` is the
    scenario file, which an error line about what it asked of the kernel names."""

    def __init__(self, run, topo, source):
        self.source = source
        links = link_interfaces(topo)
        check_interface_names(source, links)
        # Mininet.init() would run fixLimits(), which writes sysctls in the root namespace.
        Mininet.inited = True
        self.net = Mininet(topo=None, build=False, controller=None, autoSetMacs=False, waitConnected=False,
                           intf=LabIntf, link=LabLink)
        run.on_cleanup(self.stop)
        run.plan_interfaces([name for pair in links for name in pair])
        with run.step("nodes"):
            self._add_hosts(topo)
        with run.step("links"):
            made = topo.links(sort=True, withInfo=True)
            _core.add_veth_pairs([(self.net[a].netns, name_a, self.net[b].netns, name_b)
                                  for (a, b, _), (name_a, name_b) in zip(made, links)])
            for _, _, params in made:
                self.net.addLink(**params)  # Mininet's records of the pairs made above
        self.nodes = {host.logical: host for host in self.net.hosts}
        run.record_nodes(self.net.hosts, links)

    def _add_hosts(self, topo):
        """Every node's shell at once, in topology order: Mininet waits for each shell's prompt
        before it starts the next one (8 nodes: 0.34 s one by one, 0.27 s at once, here). A node
        is a shell in its namespaces; Mininet's own addHost (a Popen, no preexec hook) makes it."""
        names = list(topo.hosts())
        made, errors = {}, []

        def add(name):
            try:
                made[name] = self.net.addHost(name, **topo.nodeInfo(name))
            except BaseException as e:  # raised again in the calling thread
                errors.append(e)

        threads = [threading.Thread(target=add, args=(name,), name=f"node {name}") for name in names]
        start_threads(threads)
        join_threads(threads)
        self.net.hosts = [made[name] for name in names if name in made]  # a failed build still cleans these up
        if errors:
            raise errors[0]

    def __getitem__(self, logical):
        return self.nodes[logical]

    def role(self, role):
        return [node for node in self.nodes.values() if node.role == role]

    def ifnames(self, a, b):
        """Names of the interfaces that link a and b, as (a's, b's)."""
        link = self.net.linksBetween(self.nodes[a], self.nodes[b])[0]
        if link.intf1.node is self.nodes[a]:
            return link.intf1.name, link.intf2.name
        return link.intf2.name, link.intf1.name

    def stop(self):
        """Runs after the run's cgroup is killed: with every node holder gone the namespaces, and
        the veths in them, are gone too; Mininet's records of the hosts are all that is left.
        (Mininet's own stop would send `ip link del` through each node's shell.)"""
        for host in self.net.hosts:
            host.cleanup()

    def bridge(self, segment):
        """Makes node `segment` an L2 segment: a bridge inside its own namespace, every port in it."""
        node = self.nodes[segment]
        _core.add_bridge(node.netns, BRIDGE, [port for port in node.intfNames() if port != "lo"])

    def add_routes(self, routes):
        """(node, destination network, gateways) entries: one netlink request each, multipath
        through every gateway in order when there are several."""
        for node, network, gateways in routes:
            _core.add_route(self.nodes[node].netns, str(network.network_address), network.prefixlen, list(gateways))

    def bring_up(self):
        """Every interface up, lo included: Mininet raises lo only in configDefault(), which we skip,
        and with lo down the kernel installs none of lo's local prefix routes. One netlink request
        each, from the harness: a forked `ip` per interface cost more than the whole change."""
        for node in self.nodes.values():
            for intf in ["lo", *node.intfNames()]:
                _core.set_link_up(node.netns, intf, True)

    def await_carrier(self):
        """Waits until every node's links have carrier, as late as a design can (just before its
        daemons start), so that the wait overlaps the rest of the build. The kernel publishes a
        carrier up to a second after the link went up (linkwatch defers a veth whose peer has the
        same index in its own namespace), and an FRR daemon that finds a passive link down may
        never announce its network: a soak saw r1 leave out its client link for 30 s."""
        for node in self.nodes.values():
            down = _core.wait_links_running(node.netns, node.intfNames(), CARRIER_TIMEOUT_MS)
            if down:
                raise RuntimeError(f"{node.logical}: {', '.join(down)} up but without carrier after "
                                   f"{CARRIER_TIMEOUT_MS} ms")

    def raise_link(self, node, peer):
        """Raises node's end of its link to peer and returns once both ends have carrier: the
        peer's end is published by the wait, not by the kernel's linkwatch up to a second later
        (a router or a bridge port reads the link as down until then)."""
        mine, theirs = self.ifnames(node, peer)
        _core.set_link_up(self.nodes[node].netns, mine, True)
        if _core.wait_links_running(self.nodes[peer].netns, [theirs], CARRIER_TIMEOUT_MS):
            raise RuntimeError(f"{peer}'s {theirs} without carrier {CARRIER_TIMEOUT_MS} ms after {node}'s {mine} rose")

    def add_addresses(self, addresses):
        """(node, interface, address, prefix length) entries, one netlink request each."""
        for node, ifname, address, prefixlen in addresses:
            _core.change_address(self.nodes[node].netns, ifname, str(address), int(prefixlen), True)

    def apply_sysctl(self, by_role, seed):
        """Sets every node's sysctls (the baseline, then `by_role`: role -> {key: value}) and
        returns what the kernel then reports, per node."""
        roles = {node.role for node in self.nodes.values()}
        per_role = {role: effective_sysctl(role, by_role, seed) for role in roles}
        for node in self.nodes.values():
            try:
                _core.write_sysctls(node.netns, [(k, str(v)) for k, v in per_role[node.role].items()])
            except ValueError as e:  # the kernel refused a key or a value
                raise ScenarioError(self.source, f"sysctl.{node.role}", f"rejected by the kernel: {e}") from None
        return self.read_sysctl(per_role)

    def read_sysctl(self, per_role, extra_keys=()):
        """The values the kernel reports after applying, per node: what the run really used."""
        return {name: {key: _number(value) for key, value in
                       _core.read_sysctls(node.netns, list(per_role[node.role]) + list(extra_keys))}
                for name, node in sorted(self.nodes.items())}


def _number(text):
    return int(text) if text.lstrip("-").isdigit() else text
