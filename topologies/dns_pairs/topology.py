"""dns-pairs: one name resolves to VIP A and VIP B; each VIP is held by an active/standby LB
pair (VRRP); the LBs forward to backends that keep their sessions in Redis.

    c1  ---+              +--- sa: lb-a1, lb-a2      (VIP A)
    dns ---+---- r1 ------+--- sb: lb-b1, lb-b2      (VIP B)
                          +--- sc: be1, be2, redis   (backends)
    sa, sb, sc: Linux bridges, each inside its own node
A scenario that asks only DNS checks gets c1, dns and r1 alone.
"""
from mininet.topo import Topo

from vipcheck.lab.nodes import LabHost, node_name

SEGMENTS = {"a": "sa", "b": "sb", "backends": "sc"}


def backend_names(scenario):
    return [f"be{i}" for i in range(1, scenario.backends + 1)]


class DnsPairsTopo(Topo):
    def build(self, scenario, run_id):
        def host(logical, role):
            return self.addHost(node_name(logical, run_id), cls=LabHost, logical=logical, role=role, ip=None)

        r1 = host("r1", "router")
        self.addLink(host("c1", "client"), r1)
        self.addLink(host("dns", "dns"), r1)
        if not scenario.builds_pairs:
            return
        for pair, spec in scenario.pairs.items():
            segment = host(SEGMENTS[pair], "segment")
            self.addLink(r1, segment)
            for lb in spec.lbs:
                self.addLink(host(lb, "lb"), segment)
        backends = host(SEGMENTS["backends"], "segment")
        self.addLink(r1, backends)
        for backend in backend_names(scenario):
            self.addLink(host(backend, "backend"), backends)
        self.addLink(host("redis", "redis"), backends)
