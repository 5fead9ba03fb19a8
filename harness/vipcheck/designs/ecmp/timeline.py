"""The failure timeline of an ECMP run: at each scheduled time, snapshot the sinks, inject the
failure (or restore), and wait on r1's route monitor for the change the design should make.
What it records becomes a FailoverMeasurement for the checks."""
import time
from dataclasses import dataclass, field

from vipcheck import _core, seeds, traffic
from vipcheck.designs.ecmp.failures import FailureInjector
from vipcheck.lab.stall import Stall, cpu_wait_ns

ROUTE_SLACK_S = 2.0   # beyond twice the detection time, the longest we wait for a route change


@dataclass
class Window:
    """Per-flow packet counts over one stretch of the stream, per LB."""
    name: str
    counts: dict          # lb -> [packets per flow]

    def lb_of(self, flow):
        """The LB that carried most of the flow's packets in this window, or None."""
        best = max(self.counts, key=lambda lb: self.counts[lb][flow])
        return best if self.counts[best][flow] else None


@dataclass
class FailoverMeasurement:
    failure: object
    restore: object
    packets_per_flow: int
    flow_interval_ms: float           # time between two packets of one flow
    failed_at_ns: int = 0             # the failure was in effect (its command returned)
    failed_uncertainty_ms: float = 0  # it took effect within this long before failed_at_ns
    withdrawn_at_ns: int = 0          # r1's route left the failed LB (0: never)
    withdrawal_wait_ms: int = 0       # how long r1's route was watched for it
    returned_at_ns: int = 0           # ... and took it back before the restore (0: it stayed out)
    restored_at_ns: int = 0           # the restore began: a return from here on is its doing, not a flap
    restore_duration_ms: float = 0    # it took effect within this long after restored_at_ns
    recovered_at_ns: int = 0          # r1's route was whole again (0: never)
    recovery_wait_ms: int = 0         # how long after the restore the route may take to be whole
    whole_late_ns: int = 0            # not whole in that wait: when zebra and the kernel were (0: never)
    lost_per_flow: list = field(default_factory=list)
    flow_gaps: list = field(default_factory=list)  # per flow: its longest hole (_core.FlowGap: gap_ms, lost)
    windows: dict = field(default_factory=dict)   # before, failed, restored -> Window
    route_changes: list = field(default_factory=list)
    gateways: dict = field(default_factory=dict)  # lb -> gateway
    timeline: dict = field(default_factory=dict)  # packets per ms per LB, the events marked
    rib_gateways: list = field(default_factory=list)  # zebra's view at the end
    fib_gateways: list = field(default_factory=list)  # the kernel's route at the end
    scheduled_ms: dict = field(default_factory=dict)  # failure/restore -> ms into the stream
    stall: object = field(default_factory=Stall)  # lab.stall.Stall: the machine in the window from failure to recovery
    recovery_stall: object = field(default_factory=Stall)  # ... and from the restore to the whole route
    router_cpu_wait_ms: float = 0     # r1's routing daemons waited this long for a CPU until the route changed
    # The steady window, from the stream's start to the failure: a design measured for its
    # failover must not change r1's route in it (a flapped BFD session comes back on 1 s timers).
    steady_from_ns: int = 0
    disturbances: list = field(default_factory=list)   # r1's route changes in it: at_ms, nexthops
    steady_stall: object = field(default_factory=Stall)  # the machine in it
    steady_cpu_wait_ms: dict = field(default_factory=dict)  # node -> its routing daemons' CPU wait in it

    def ms_after(self, at_ns, since_ns):
        return round((at_ns - since_ns) / 1e6, 3) if at_ns and since_ns else None


class Timeline:
    """Given the parts of the built design it drives (the run's progress lines and stall probe,
    the lab, r1's FRR and route monitor, each LB's uplink and gateway on r1), and nothing else of
    the design."""

    def __init__(self, run, lab, scenario, seed, routers, uplinks, gateways, monitor):
        self.report, self.stalls = run.report, run.stalls
        self.scenario, self.monitor, self.routers, self.r1 = scenario, monitor, routers, routers["r1"]
        self.injector = FailureInjector(lab, scenario, routers, uplinks)
        spec = scenario.traffic
        self.measurement = FailoverMeasurement(scenario.failure, scenario.restore, 0, spec.flows / spec.rate_pps * 1000,
                                               gateways=gateways)
        self.snapshots = {}
        # Failure times drawn from the run's seed, when the scenario gives a window.
        rng = seeds.rng(seed, "failure_times")
        self.measurement.scheduled_ms = {"failure": scenario.failure.draw_ms(rng)}
        if scenario.restore:
            self.measurement.scheduled_ms["restore"] = scenario.restore.draw_ms(rng)
        self.timeout_s = 2 * scenario.ospf.detection_s() + ROUTE_SLACK_S

    def _best_gateways(self, excluding=()):
        """r1's nexthops once OSPF has settled with these LBs out of service."""
        return sorted(self.measurement.gateways[lb] for lb in self.scenario.best_lbs(excluding))

    def run(self, snapshot, started_ns):
        """Runs in the harness's thread while the stream flows."""
        s, m = self.scenario, self.measurement
        failure, restore = s.failure, s.restore
        daemons = {node: router.pids() for node, router in self.routers.items()}
        steady_waits = {node: cpu_wait_ns(pids) for node, pids in daemons.items()}
        m.steady_from_ns = started_ns
        self._at(started_ns, m.scheduled_ms["failure"])
        self.snapshots["failure"] = snapshot()
        r1_daemons = daemons["r1"]
        waits = {node: cpu_wait_ns(pids) for node, pids in daemons.items()}
        m.steady_cpu_wait_ms = {node: round((waits[node] - steady_waits[node]) / 1e6, 3) for node in daemons}
        waited_ns = waits["r1"]
        before_ns = time.monotonic_ns()
        self.injector.apply(failure)
        m.failed_at_ns = time.monotonic_ns()  # one atomic change, in effect once its command returned
        m.failed_uncertainty_ms = round((m.failed_at_ns - before_ns) / 1e6, 3)
        self.injector.settle()
        self.report(f"{failure.type} of {failure.target} in effect, {m.scheduled_ms['failure']} ms "
                    "into the stream")
        m.withdrawal_wait_ms = self._watch_ms(started_ns, self.timeout_s * 1000)
        change = self.monitor.wait_for(self._best_gateways(excluding=[failure.target]), before_ns,
                                       m.withdrawal_wait_ms)
        m.withdrawn_at_ns = change.at_ns if change else 0
        m.router_cpu_wait_ms = (cpu_wait_ns(r1_daemons) - waited_ns) / 1e6
        self.snapshots["failed"] = snapshot()
        if restore:
            self._at(started_ns, m.scheduled_ms["restore"])
            self.snapshots["restore"] = snapshot()
            m.restored_at_ns = time.monotonic_ns()
            self.injector.restore(failure, failure.target)
            m.restore_duration_ms = round((time.monotonic_ns() - m.restored_at_ns) / 1e6, 3)
            # Re-forming an adjacency takes a hello exchange, so allow a dead interval more.
            m.recovery_wait_ms = self._watch_ms(started_ns, (self.timeout_s + s.ospf.detection_s()) * 1000)
            change = self.monitor.wait_for(self._best_gateways(), m.restored_at_ns, m.recovery_wait_ms)
            m.recovered_at_ns = change.at_ns if change else 0
            self.snapshots["restored"] = snapshot()

    def seen_whole_late(self, at_ns):
        """r1's route, not whole when the recovery wait ended, was whole at at_ns (zebra's RIB and
        the kernel's route alike): the machine's stall from the restore to then may be why."""
        m = self.measurement
        m.whole_late_ns = at_ns
        m.recovery_stall = self.stalls.window(m.restored_at_ns, at_ns)

    def _watch_ms(self, started_ns, bound_ms):
        """How long to watch r1's route for a change: the bound, but not past the stream's end,
        after which no flow could show what the change did."""
        left_ms = (started_ns + self.scenario.duration_ms * 1_000_000 - time.monotonic_ns()) / 1e6
        return int(max(0.0, min(bound_ms, left_ms)))

    @staticmethod
    def _at(started_ns, at_ms):
        """The failure's scheduled moment on the stream's clock: the experiment's timeline."""
        delay = (started_ns + at_ms * 1_000_000 - time.monotonic_ns()) / 1e9
        if delay > 0:
            time.sleep(delay)

    def finish(self, delivery, changes):
        m, snaps = self.measurement, self.snapshots
        m.packets_per_flow = delivery.packets_per_flow
        final = {lb: traffic.packet_counts(report) for lb, report in delivery.per_lb.items()}
        lbs = list(final)
        received = [sum(final[lb][i] for lb in lbs) for i in range(delivery.flows)]
        m.lost_per_flow = [delivery.packets_per_flow - r for r in received]
        m.flow_gaps = _core.flow_gaps(list(delivery.per_lb.values()), delivery.packets_per_flow, m.flow_interval_ms)
        # The failover's window: from before the failure took effect to the route change or the
        # end of the longest gap, whichever is later.
        longest_ns = max((gap.gap_ms for gap in m.flow_gaps), default=0.0) * 1e6
        start_ns = m.failed_at_ns - m.failed_uncertainty_ms * 1e6 - m.flow_interval_ms * 1e6
        end_ns = max(m.withdrawn_at_ns, m.failed_at_ns + longest_ns) + m.flow_interval_ms * 1e6
        m.stall = self.stalls.window(start_ns, end_ns)
        began_ns = m.failed_at_ns - m.failed_uncertainty_ms * 1e6  # the failure's command began
        m.steady_stall = self.stalls.window(m.steady_from_ns, began_ns)
        if m.restored_at_ns:
            m.recovery_stall = self.stalls.window(
                m.restored_at_ns, m.recovered_at_ns or m.restored_at_ns + m.recovery_wait_ms * 1_000_000)

        def diff(later, earlier):
            return {lb: [a - b for a, b in zip(later[lb], earlier[lb])] for lb in lbs}

        m.windows["before"] = Window("before", snaps["failure"])
        failed_end = snaps.get("restore", final)
        m.windows["failed"] = Window("failed", diff(failed_end, snaps["failed"]))
        if "restored" in snaps:
            m.windows["restored"] = Window("restored", diff(final, snaps["restored"]))
        origin = min(report.origin_ns for report in delivery.per_lb.values())
        m.timeline = {"per_ms": {lb: [0] * ((r.origin_ns - origin) // 1_000_000) + list(r.per_ms)
                                 for lb, r in delivery.per_lb.items()},
                      "scheduled_ms": m.scheduled_ms,
                      "origin_ns": origin,  # CLOCK_MONOTONIC of the stream's first packet: the payloads' clock
                      "failure_ms": (m.failed_at_ns - origin) / 1e6,
                      "failure_uncertainty_ms": m.failed_uncertainty_ms,
                      "route_change_ms": (m.withdrawn_at_ns - origin) / 1e6 if m.withdrawn_at_ns else None,
                      "route_watched_ms": m.withdrawal_wait_ms,
                      "restore_ms": (m.restored_at_ns - origin) / 1e6 if m.restored_at_ns else None,
                      "restore_duration_ms": m.restore_duration_ms}
        # Every time of the timeline counts from the stream's first packet, as failure_ms does.
        def row(c):
            return {"at_ms": round((c.at_ns - origin) / 1e6, 3), "nexthops": [h.gateway for h in c.route.nexthops]}
        m.route_changes = [row(c) for c in changes]
        m.disturbances = [row(c) for c in departures(changes, self._best_gateways(), began_ns)]
        m.timeline["disturbances"] = m.disturbances
        m.returned_at_ns = first_return(changes, m.gateways[m.failure.target], m.withdrawn_at_ns, m.restored_at_ns)


def departures(changes, steady, until_ns):
    """The route's states before until_ns without exactly the steady gateways: a design that
    flapped before its failure. A new nexthop group for the same paths is no departure."""
    return [c for c in changes if c.at_ns < until_ns and sorted(h.gateway for h in c.route.nexthops) != steady]


def first_return(changes, gateway, withdrawn_at_ns, restore_began_ns):
    """When the withdrawn gateway came back into the route before the restore began (a flap),
    or 0. A return while the restore runs is the restore's doing, however long its command took."""
    if not withdrawn_at_ns:
        return 0
    end_ns = restore_began_ns or float("inf")
    return next((c.at_ns for c in changes if withdrawn_at_ns < c.at_ns < end_ns and
                 gateway in [h.gateway for h in c.route.nexthops]), 0)
