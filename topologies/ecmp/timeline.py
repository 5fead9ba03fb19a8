"""The failure timeline of an ECMP run: at each scheduled time, snapshot the sinks, inject the
event (a failure, or its restore), and wait on r1's route monitor for the change the design
should make. It alone writes the run's FailoverMeasurement: while the stream flows, from what
the stream recorded once it ended, and from r1's settled routes when the design measures."""
import time

from vipcheck import _core, seeds, traffic
from vipcheck.daemons import frr
from vipcheck.lab.stall import cpu_wait_ns

from .events import EventInjector
from .measurements import FailoverMeasurement, Window

ROUTE_SLACK_S = 2.0   # beyond twice the detection time, the longest we wait for a route change


def _waits(daemons):
    """Each node's routing daemons' CPU wait so far, in ns: {node: PIDs} in."""
    return {node: cpu_wait_ns(pids) for node, pids in daemons.items()}


def _waited_ms(since, now):
    """Each node's CPU wait between two readings of _waits, in ms."""
    return {node: round(max(0, now[node] - since.get(node, 0)) / 1e6, 3) for node in now}


class Timeline:
    """Given the parts of the built design it drives (the run's progress lines and stall probe,
    the lab, r1's FRR and route monitor, each LB's uplink and gateway on r1), and nothing else of
    the design."""

    def __init__(self, run, lab, scenario, seed, routers, uplinks, gateways, monitor, fates=None):
        self.report, self.stalls = run.report, run.stalls
        self.fates = fates  # fates.FateRecorder, with connections: told of every event
        self.scenario, self.monitor, self.routers, self.r1 = scenario, monitor, routers, routers["r1"]
        self.lab = lab
        self.injector = EventInjector(lab, scenario, routers, uplinks)
        spec = scenario.traffic
        self.measurement = FailoverMeasurement(scenario.failure, scenario.restore, 0, spec.flows / spec.rate_pps * 1000,
                                               gateways=gateways)
        self.snapshots = {}
        self.restore_waits = {}  # node -> its routing daemons' CPU wait when the restore began
        # Failure times drawn from the run's seed, when the scenario gives a window.
        rng = seeds.rng(seed, "failure_times")
        self.measurement.scheduled_ms = {"failure": scenario.failure.draw_ms(rng)}
        if scenario.restore:
            self.measurement.scheduled_ms["restore"] = scenario.restore.draw_ms(rng)
        self.timeout_s = 2 * scenario.ospf.detection_s() + ROUTE_SLACK_S

    def _gateways(self, phase):
        """r1's nexthops once OSPF has settled in this phase: "steady", "event" or "restored"."""
        return sorted(self.measurement.gateways[lb] for lb in self.scenario.in_service(phase))

    def run(self, snapshot, started_ns):
        """Runs in the harness's thread while the stream flows."""
        s, m = self.scenario, self.measurement
        failure, restore = s.failure, s.restore
        daemons = self._daemons()
        steady_waits = _waits(daemons)
        m.steady_from_ns = started_ns
        self._at(started_ns, m.scheduled_ms["failure"])
        self.snapshots["failure"] = snapshot()
        r1_daemons = daemons["r1"]
        waits = _waits(daemons)
        m.steady_cpu_wait_ms = _waited_ms(steady_waits, waits)
        waited_ns = waits["r1"]
        self.failure_waits, self.daemons = waits, daemons
        if self.fates:
            self.fates.before(failure.type, failure.target)
        before_ns = time.monotonic_ns()
        self.injector.apply(failure)
        m.failed_at_ns = time.monotonic_ns()  # one atomic change, in effect once its command returned
        m.failed_uncertainty_ms = round((m.failed_at_ns - before_ns) / 1e6, 3)
        self.injector.settle()
        self.report(f"{failure.type} of {failure.target} in effect, {m.scheduled_ms['failure']} ms "
                    "into the stream")
        change = None
        if not s.route_holds:  # a silence shorter than the router tolerates changes no route
            m.withdrawal_wait_ms = self._watch_ms(started_ns, self.timeout_s * 1000)
            change = self.monitor.wait_for(self._gateways("event"), before_ns, m.withdrawal_wait_ms)
            m.withdrawn_at_ns = change.at_ns if change else 0
        m.router_cpu_wait_ms = (cpu_wait_ns(r1_daemons) - waited_ns) / 1e6
        changed_ns = change.at_ns if change else m.failed_at_ns if s.route_holds else time.monotonic_ns()
        self._settled(m.failed_at_ns, "event", change or s.route_holds, changed_ns)
        self.snapshots["failed"] = snapshot()
        if restore:
            self._at(started_ns, m.scheduled_ms["restore"])
            self.snapshots["restore"] = snapshot()
            self.restore_waits = _waits(self._daemons())
            m.failed_cpu_wait_ms = _waited_ms(self.failure_waits, _waits(self.daemons))
            if self.fates:
                self.fates.before("restore", failure.target)
            m.restored_at_ns = time.monotonic_ns()
            self.injector.restore(failure, failure.target)
            m.restore_duration_ms = round((time.monotonic_ns() - m.restored_at_ns) / 1e6, 3)
            # Re-forming an adjacency takes a hello exchange, so allow a dead interval more.
            m.recovery_wait_ms = self._watch_ms(started_ns, (self.timeout_s + s.ospf.detection_s()) * 1000)
            change = self.monitor.wait_for(self._gateways("restored"), m.restored_at_ns, m.recovery_wait_ms)
            m.recovered_at_ns = change.at_ns if change else 0
            self._settled(m.restored_at_ns, "restored", change, change.at_ns if change else time.monotonic_ns())
            self.snapshots["restored"] = snapshot()

    def _settled(self, at_ns, phase, settled, changed_ns):
        """Tells the connections' recorder when the event took effect, and when and on what r1's
        route settled (changed_ns: when the route changed, or when the harness stopped waiting)."""
        if self.fates:
            self.fates.in_effect(at_ns)
            self.fates.settled(self.scenario.in_service(phase) if settled else None, changed_ns)

    def _daemons(self):
        """Each node's routing daemons' PIDs now (a restore after a crash starts new ones)."""
        return {node: router.pids() for node, router in self.routers.items()}

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
        """What the stream recorded, once it ended: windows, gaps, stalls and the per-ms timeline,
        which it returns for the result."""
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
        m.failed_stall = self.stalls.window(began_ns, m.restored_at_ns or time.monotonic_ns())
        if not m.restored_at_ns:
            m.failed_cpu_wait_ms = _waited_ms(self.failure_waits, _waits(self.daemons))
        if m.restored_at_ns:
            m.recovery_stall = self.stalls.window(
                m.restored_at_ns, m.recovered_at_ns or m.restored_at_ns + m.recovery_wait_ms * 1_000_000)
            # From the restore to the stream's end: an LB that never failed leaving r1's route there
            # (a BFD session starved on a loaded machine, an adjacency that flapped) moves every flow
            # of it onto the others, and the spread after the restore measures the flap, not the design.
            ended_ns = time.monotonic_ns()
            m.after_restore_stall = self.stalls.window(m.restored_at_ns, ended_ns)
            m.after_restore_cpu_wait_ms = _waited_ms(self.restore_waits, _waits(self._daemons()))

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
        m.disturbances = [row(c) for c in departures(changes, self._gateways("steady"), began_ns)]
        m.timeline["disturbances"] = m.disturbances
        if m.restored_at_ns:
            stayed = self._gateways("event")
            m.after_restore_disturbances = [row(c) for c in losses(changes, stayed, m.restored_at_ns)]
            if m.recovered_at_ns:  # whole again, then a path left: the returning LB's too
                m.after_restore_disturbances += [row(c) for c in losses(changes, self._gateways("restored"),
                                                                       m.recovered_at_ns)
                                                 if row(c) not in m.after_restore_disturbances]
            m.timeline["after_restore_disturbances"] = m.after_restore_disturbances
        m.returned_at_ns = first_return(changes, m.gateways[m.failure.target], m.withdrawn_at_ns, m.restored_at_ns)
        return m.timeline

    def measure(self):
        """r1's routes to the VIP after the stream, zebra's RIB and the kernel's, into the
        measurement, which it returns complete. When the route did not recover in the wait, first
        waits for zebra to list and install every LB again: a slow adjacency must not pass for a
        RIB/FIB disagreement, nor the reverse (soak: a RIB read too early); a route whole only then
        was late, and the machine's stall from the restore on may be why."""
        m, s = self.measurement, self.scenario
        hops = self._rib_nexthops()
        kernel = _core.read_route(self.lab["r1"].netns, s.vip, 32)
        if m.restore and not m.recovered_at_ns:
            wanted = set(self._gateways("restored"))
            deadline = time.monotonic() + s.convergence_timeout_s
            while not wanted <= {ip for ip, fib in hops if fib} and time.monotonic() < deadline:
                time.sleep(frr.ASK_PACE_S)
                hops = self._rib_nexthops()
            kernel = _core.read_route(self.lab["r1"].netns, s.vip, 32)
            if wanted <= {ip for ip, fib in hops if fib} and wanted <= {h.gateway for h in kernel.nexthops}:
                m.whole_late_ns = time.monotonic_ns()
                m.recovery_stall = self.stalls.window(m.restored_at_ns, m.whole_late_ns)
        m.rib_gateways, m.fib_gateways = sorted(ip for ip, _ in hops), sorted(h.gateway for h in kernel.nexthops)
        return m

    def _rib_nexthops(self):
        """(gateway, zebra believes it installed it) for each active nexthop of the VIP's selected route."""
        vip = f"{self.scenario.vip}/32"
        rib = self.r1.ask_json("zebra", f"show ip route {vip}")
        return [(hop.get("ip", ""), bool(hop.get("fib"))) for entry in rib.get(vip, [])
                if entry.get("selected") for hop in entry.get("nexthops", []) if hop.get("active")]


def departures(changes, steady, until_ns):
    """The route's states before until_ns without exactly the steady gateways: a design that
    flapped before its failure. A new nexthop group for the same paths is no departure."""
    return [c for c in changes if c.at_ns < until_ns and sorted(h.gateway for h in c.route.nexthops) != steady]


def losses(changes, gateways, since_ns):
    """The route's states after since_ns that lack one of these gateways: a path that left."""
    return [c for c in changes if c.at_ns > since_ns and not set(gateways) <= {h.gateway for h in c.route.nexthops}]


def first_return(changes, gateway, withdrawn_at_ns, restore_began_ns):
    """When the withdrawn gateway came back into the route before the restore began (a flap),
    or 0. A return while the restore runs is the restore's doing, however long its command took."""
    if not withdrawn_at_ns:
        return 0
    end_ns = restore_began_ns or float("inf")
    return next((c.at_ns for c in changes if withdrawn_at_ns < c.at_ns < end_ns and
                 gateway in [h.gateway for h in c.route.nexthops]), 0)
