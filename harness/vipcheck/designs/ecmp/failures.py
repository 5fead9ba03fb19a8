"""Failures injected into an LB of the ECMP design, and their restores. Each is what the
failure does to a real host; none is a stand-in the router could not see through."""
from vipcheck import _core
from vipcheck.daemons import frr
from vipcheck.lab.run import freeze, kill_daemon

FAULT_TABLE = "vipcheck_fault"
ANNOUNCEMENTS = {"external": ("redistribute connected route-map VIP", "redistribute static"),
                 "stub": ("network {vip}/32 area 0",)}


class FailureInjector:
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
        _core.change_address(self.lab[lb].netns, "lo", self.scenario.vip, self.scenario.lo_prefixlen, add)

    # link_down: the uplink goes down; r1 sees the carrier drop at once.
    def _link_down(self, lb):
        _core.set_link_up(self.lab[lb].netns, self.uplinks[lb], False)

    def _restore_link_down(self, lb):
        self.lab.raise_link(lb, "r1")  # in effect once r1's end has carrier

    # silent_drop: a hung host. Links stay up, nothing enters or leaves, so only the protocol
    # (missed hellos or BFD packets) can tell the router. One nftables transaction: every hook
    # drops from the same instant (four commands took 43-66 ms to add, and the failure's time
    # was stamped before the first).
    def _silent_drop(self, lb):
        chains = "".join(f"  chain {hook} {{ type filter hook {hook} priority -300; policy drop; }}\n"
                         for hook in ("input", "output", "forward"))
        self.lab[lb].run_argv(["nft", "-f", "-"], stdin_text=f"table inet {FAULT_TABLE} {{\n{chains}}}\n")

    def _restore_silent_drop(self, lb):
        self.lab[lb].run_argv(["nft", "delete", "table", "inet", FAULT_TABLE])

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
