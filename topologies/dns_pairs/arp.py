"""Who holds a pair's VIP as the network sees it: the LBs whose MAC answers ARP for the VIP, asked
from r1 on the pair's segment. Convergence, the pair states and the failover all read this."""
import json

from vipcheck import _core
from .topology import SEGMENTS

ARP_WINDOW_MS = 50        # one ARP question and its answers, while waiting for a VRRP master


class VipOwners:
    def __init__(self, lab, scenario, uplink):
        self.lab, self.scenario, self.uplink = lab, scenario, uplink   # uplink: node -> its interface
        self.mac_owner = None         # MAC -> LB, read once the LBs are up

    def of(self, pair, window_ms=ARP_WINDOW_MS, rounds=1):
        """The LBs whose MAC answered ARP for the pair's VIP, sorted."""
        spec = self.scenario.pairs[pair]
        r1_if = self.uplink[f"r1:{SEGMENTS[pair]}"]
        probe = _core.probe_arp(self.lab["r1"].netns, r1_if, str(spec.segment[1]), [spec.vip], [], rounds,
                                window_ms, window_ms)
        macs = self._macs()
        return sorted({macs.get(r.sender_mac, r.sender_mac) for r in probe.replies if r.sender_ip == spec.vip})

    def _macs(self):
        if self.mac_owner is None:
            self.mac_owner = {}
            for lb in self.scenario.lb_names:
                link = json.loads(self.lab[lb].run_argv(["ip", "-j", "link", "show", "dev", self.uplink[lb]]))
                self.mac_owner[link[0]["address"]] = lb
        return self.mac_owner
