"""What each event of an ECMP timeline does to an LB: a failure, and the restore that undoes it.
Each is what happens to a real host (vipcheck.faults: one atomic change, or a frozen host); none
is a stand-in the router could not see through."""
from vipcheck import faults
from vipcheck.daemons import frr
from vipcheck.lab.run import freeze, kill_daemon

ANNOUNCEMENTS = {"external": ("redistribute connected route-map VIP", "redistribute static"),
                 "stub": ("network {vip}/32 area 0",)}


class EventInjector:
    def __init__(self, lab, scenario, routers, uplinks):
        self.lab, self.scenario, self.routers, self.uplinks = lab, scenario, routers, uplinks
        self.frozen = []  # PIDs a crash stopped, to be killed once the failure is stamped

    def apply(self, failure):
        """Returns once the failure is in effect: one atomic change, or a frozen host."""
        getattr(self, f"_{failure.type}")(failure.target)

    def settle(self):
        """Kills what a crash froze. After the stamp: a frozen daemon already sends nothing."""
        for pid in self.frozen:
            kill_daemon(pid)  # a PID this run started
        self.frozen = []

    def restore(self, failure, target):
        """Undoes `failure` (the event that hit `target`)."""
        getattr(self, f"_restore_{failure.type}")(target)

    def _vip_on_lo(self, lb, add):
        faults.set_address(self.lab[lb], "lo", self.scenario.vip, self.scenario.lo_prefixlen, add)

    # link_down: the uplink goes down; r1 sees the carrier drop at once.
    def _link_down(self, lb):
        faults.link_down(self.lab[lb], self.uplinks[lb])

    def _restore_link_down(self, lb):
        self.lab.raise_link(lb, "r1")  # in effect once r1's end has carrier

    # silent_drop: a hung host. Links stay up, nothing enters or leaves, so only the protocol
    # (missed hellos or BFD packets) can tell the router.
    def _silent_drop(self, lb):
        faults.hang(self.lab[lb])

    def _restore_silent_drop(self, lb):
        faults.heal(self.lab[lb])

    # frr_crash: the routing daemons die at one instant and, as on a crashed host, the VIP goes
    # with them (SIGKILL alone would leave the kernel's routes and the VIP answering).
    def _frr_crash(self, lb):
        self.frozen = self.routers[lb].pids()
        freeze(self.frozen)
        self._vip_on_lo(lb, False)

    def _restore_frr_crash(self, lb):
        self._vip_on_lo(lb, True)
        frr.start_all([self.routers[lb]])

    # drain: the graceful way out. The LB withdraws its announcement and keeps serving what
    # still reaches it, so no packet need be lost.
    def _drain(self, lb):
        self._announce(lb, "no ")

    def _restore_drain(self, lb):
        self._announce(lb, "")

    # add: a scale-out. The LB, up and serving from the start but not announcing the VIP, announces it.
    def _add(self, lb):
        self._announce(lb, "")

    # remove: a scale-in. The LB withdraws its announcement for good; what still reaches it, it serves.
    def _remove(self, lb):
        self._announce(lb, "no ")

    def _announce(self, lb, prefix):
        router = self.routers[lb]
        lines = [prefix + line.format(vip=self.scenario.vip) for line in ANNOUNCEMENTS[self.scenario.announce]]
        router.node.run_argv(frr.vtysh_argv(router.dir, "configure terminal", "router ospf", *lines))

    # service_down: the service and its VIP are gone but the announcement stays: the classic
    # anycast fault of an announcement not tied to health. The router can never find out.
    def _service_down(self, lb):
        self._vip_on_lo(lb, False)

    def _restore_service_down(self, lb):
        self._vip_on_lo(lb, True)
