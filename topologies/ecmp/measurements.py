"""What the ECMP design measures: EcmpMeasurements, which measure() returns and every check
judges, and the FailoverMeasurement of a failure timeline, which the timeline alone writes."""
from dataclasses import dataclass, field

from vipcheck.lab.stall import Stall


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
    # From the failure's command to the restore (or the stream's end): a withdrawn LB coming back
    # in it is a flap, the design's on a quiet machine, the machine's where it starved a session.
    failed_stall: object = field(default_factory=Stall)
    failed_cpu_wait_ms: dict = field(default_factory=dict)  # node -> its routing daemons' CPU wait in it
    # From the restore to the stream's end, the same: the spread after the restore is judged only
    # on a design whose LBs that never failed stayed in r1's route (and the returning one, once back).
    after_restore_disturbances: list = field(default_factory=list)  # r1's route losing a path: at_ms, nexthops
    after_restore_stall: object = field(default_factory=Stall)
    after_restore_cpu_wait_ms: dict = field(default_factory=dict)

    def ms_after(self, at_ns, since_ns):
        return round((at_ns - since_ns) / 1e6, 3) if at_ns and since_ns else None


@dataclass
class ConnectionEvent:
    """One event of the timeline as the connections saw it."""
    type: str
    target: str
    at_ns: int                # in effect (its stamp)
    until_ns: int             # the event's window ends: at the next event, or the stream's end
    alive_before: dict        # connection id -> its LB, for every connection alive just before the event
    route_before: list        # r1's route's LBs, in its nexthop order, before the event
    route_after: list         # ... once it settled after the event ([] when it never did)
    stall: object = field(default_factory=Stall)  # lab.stall.Stall: the machine in the event's window
    settled_ns: int = 0       # when r1's route took its shape after the event (its change, or the event's
    #                           moment where the route holds)
    service_cpu_wait_ms: dict = field(default_factory=dict)  # LB -> its service's run-queue wait there


@dataclass
class ConnectionFates:
    """Every TCP connection's fate across the timeline's events, and the router they crossed."""
    lbs: list                 # the LBs' names, as their answers give them
    records: list             # _core.ConnectionRecord per connection, by id
    clients: dict             # connection id -> (client, source address, source port)
    events: list              # ConnectionEvent per event: the failure or set change, then its restore
    new_connections: list     # (client, _core.NewConnection): where the router put a new connection
    opened: int               # connections that opened
    open_s: float             # how long opening every one took
    requests: int
    memory_bytes: int         # the driver's records and state
    hash_policy: int          # r1's fib_multipath_hash_policy
    resilient: dict = None    # the resilient group's settings, or None for FRR's hash-threshold group
    group_changes: list = field(default_factory=list)  # the resilient group's: (at_ns, its members' LBs)
    ask_interval_ms: int = 0  # the longest a live connection stays quiet
    answer_timeout_ms: int = 0  # a request unanswered this long stalls its connection

    @property
    def records_by_id(self):
        return {r.id: r for r in self.records}

    def rows(self):
        """One row per connection, for the result's JSON and connections.csv: times in ms from the
        first connection's open."""
        origin = min((r.opened_ns for r in self.records if r.opened_ns), default=0)

        def ms(ns):
            return round((ns - origin) / 1e6, 3) if ns else None

        def lb(index):
            return self.lbs[index - 1] if index else ""
        return [{"id": r.id, "client": self.clients[r.id][0], "source": self.clients[r.id][1],
                 "source_port": r.src_port, "lb": lb(r.lb), "last_lb": lb(r.last_lb), "state": r.state,
                 "answers": r.answers, "opened_ms": ms(r.opened_ns), "last_answer_ms": ms(r.last_answer_ns),
                 "ended_ms": ms(r.ended_ns), "errno": r.error} for r in self.records]


@dataclass
class EcmpMeasurements:
    scenario: object
    convergence: dict        # converge()'s record: reached, seconds, r1's route on the way
    lb_gateways: dict        # lb -> its uplink address, which r1 uses as the nexthop
    route: object            # _core.VipRoute read from r1 after the traffic
    routes_during: list      # r1's VIP route as it stood while the traffic flowed: every state, the first included
    delivery: object         # traffic.Delivery
    sysctl: dict             # node -> effective sysctls
    lb_addresses: dict       # lb -> [(ifname, address, prefix_len)]
    other_routers: dict = field(default_factory=dict)  # r2 -> (its route after traffic, {lb: gateway})
    failover: FailoverMeasurement = None  # when the scenario has failures
    lo_routes: list = field(default_factory=list)  # lab.lo_routes.LoRoutes per LB, when lo_route is asked
    return_path: object = None          # lab.answer_paths.ReturnPath, when return_path is asked
    connections: ConnectionFates = None  # when the scenario has connections

    def nexthop_lbs(self, route=None, gateways=None):
        by_gateway = {gw: lb for lb, gw in (gateways or self.lb_gateways).items()}
        return [by_gateway.get(hop.gateway, hop.gateway or hop.ifname) for hop in (route or self.route).nexthops]

    def holds_vip(self, lb):
        return any(address == self.scenario.vip and ifname == "lo" for ifname, address, _ in self.lb_addresses[lb])
