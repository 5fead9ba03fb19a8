"""The fate of every TCP connection across an ECMP timeline: before each event, which LB every live
connection is on and the order of r1's nexthops; once the route settled after it, the order again;
at the end, every connection's record. The connection checks judge what it hands to measure()."""
import time

from vipcheck import _core
from vipcheck.lab.stall import cpu_wait_ns

from .measurements import ConnectionEvent, ConnectionFates

SETTLE_TIMEOUT_MS = 2000  # for the resilient group to follow zebra's route (it follows within ms)


class FateRecorder:
    """Given the connection pool (traffic.ConnectionPool), r1's namespace, the VIP, every LB's
    gateway on r1, the run's stall probe (lab.stall.StallWatch), every LB's service PID, and the
    resilient group when r1 routes the VIP through one."""

    def __init__(self, pool, netns, vip, gateways, stalls, service_pids, resilient=None):
        self.pool, self.netns, self.vip, self.resilient = pool, netns, vip, resilient
        self.lb_of = {gateway: lb for lb, gateway in gateways.items()}
        self.gateways, self.stalls, self.service_pids = gateways, stalls, service_pids
        self.events = []
        self.waits = []  # each LB's service's run-queue wait (ns) as each event began, and at the end
        self.opened, self.open_s = 0, 0.0

    def open(self, timeout_ms):
        """Opens every connection and waits for each one's first answer: every connection knows its LB."""
        started = time.monotonic()
        self.opened = self.pool.wait_open(timeout_ms)
        self.open_s = round(time.monotonic() - started, 3)
        self.pool.wait_answered(1, timeout_ms)

    def route_lbs(self):
        """The LBs r1 sends the VIP's traffic to, in the order of its nexthops (the group's members
        for the resilient variant, whose order does not matter)."""
        if self.resilient:
            changes = self.resilient.changes()
            gateways = changes[-1].gateways if changes else []
        else:
            gateways = [hop.gateway for hop in _core.read_route(self.netns, self.vip, 32).nexthops]
        return [self.lb_of.get(gateway, gateway) for gateway in gateways]

    def before(self, event_type, target):
        """Just before an event: every live connection's LB, and the route."""
        alive = {cid: lb for cid, (state, lb, _) in self.pool.snapshot().items() if state == "open" and lb}
        self.waits.append(self._service_waits())
        self.events.append(ConnectionEvent(event_type, target, 0, 0, alive, self.route_lbs(), []))

    def in_effect(self, at_ns):
        self.events[-1].at_ns = at_ns

    def settled(self, lbs, changed_ns):
        """Once r1's route settled after the event (on these LBs, or not at all: lbs None): the route
        then, after the resilient group followed zebra, and when it took that shape (changed_ns for
        zebra's route; the group's own change, when it came later)."""
        event = self.events[-1]
        event.settled_ns = changed_ns
        if self.resilient and lbs is not None:
            self.resilient.wait_for([self.gateways[lb] for lb in lbs], SETTLE_TIMEOUT_MS)
            changes = self.resilient.changes()
            event.settled_ns = max(changed_ns, changes[-1].at_ns if changes else 0)
        event.route_after = self.route_lbs()

    def finish(self, ended_ns, hash_policy, settings):
        """Stops the connections; each event's window ends at the next one, the last at ended_ns. A
        stalled connection is a timed fate: each window keeps how much the machine stalled in it."""
        for event, following in zip(self.events, self.events[1:]):
            event.until_ns = following.at_ns
        if self.events:
            self.events[-1].until_ns = ended_ns
        self.waits.append(self._service_waits())
        for event, began, ended in zip(self.events, self.waits, self.waits[1:]):
            event.stall = self.stalls.window(event.at_ns, event.until_ns)
            event.service_cpu_wait_ms = {lb: round((ended[lb] - began[lb]) / 1e6, 3) for lb in began}
        reports = self.pool.stop()
        records, clients, new_connections, requests, memory = [], {}, [], 0, 0
        for plan in self.pool.plans:
            report = reports[plan.client]
            for record in report.connections:
                records.append(record)
                clients[record.id] = (plan.client, plan.src_ip, record.src_port)
            new_connections += [(plan.client, n) for n in report.new_connections]
            requests += report.requests
            memory += report.memory_bytes
        records.sort(key=lambda r: r.id)
        return ConnectionFates(self.pool.lb_names, records, clients, self.events, new_connections, self.opened,
                               self.open_s, requests, memory, hash_policy, settings,
                               [(c.at_ns, [self.lb_of.get(g, g) for g in c.gateways])
                                for c in self.resilient.changes()] if self.resilient else [],
                               self.pool.spec.ask_interval_ms, self.pool.spec.answer_timeout_ms)

    def _service_waits(self):
        return {lb: cpu_wait_ns([pid]) for lb, pid in self.service_pids.items()}
