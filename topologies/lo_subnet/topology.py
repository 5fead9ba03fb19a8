"""lo-subnet: LBs sharing one L2 segment with their gateway and a neighbour, the VIP on lo.

                   segment 192.168.247.0/24 (a Linux bridge in node s1)
    c1 --- gw .2 ---+--- nb  .1  (the neighbour)
                    +--- lb1 .12 (VIP .100 on lo)
                    +--- lb2 .13 (VIP .100 on lo)

With neighbour_uplink the neighbour also has a link of its own to the gateway, and its route to
the VIP takes it: the LBs' answers come back across the segment, an asymmetric return path.
"""
from mininet.topo import Topo

from vipcheck.lab.nodes import LabHost, node_name

SEGMENT_NODE = "s1"


class LoSubnetTopo(Topo):
    def build(self, scenario, run_id):
        def host(logical, role):
            return self.addHost(node_name(logical, run_id), cls=LabHost, logical=logical, role=role, ip=None)

        segment = host(SEGMENT_NODE, "segment")
        gateway = host("gw", "router")
        self.addLink(gateway, segment)
        self.addLink(host("nb", "neighbour"), segment)
        for lb in scenario.lb_names:
            self.addLink(host(lb, "lb"), segment)
        for client in scenario.client_names:
            self.addLink(host(client, "client"), gateway)
        if scenario.neighbour_uplink:
            self.addLink(node_name("nb", run_id), gateway)
