"""Real traffic through the design: seeded 5-tuples of UDP flows, injectors on the clients, sinks
on the LBs that record and, for the return path, answer; and long-lived TCP connections that ask
the LBs' service at a steady pace. What receives records; the checks ask it afterwards."""
import array
import random
import threading
from functools import cached_property
import time
from dataclasses import dataclass, field

from vipcheck import _core
from vipcheck.lab.threads import running

QUIET_MS = 300        # no arrival for this long after the last send: nothing more is coming
ARRIVAL_SLACK_S = 5   # beyond the paced send time, the longest we wait for stragglers


@dataclass(frozen=True)
class ClientFlows:
    """The flows one sender sends: from its node and address to dst_ip, one source port each."""
    client: str
    src_ip: str
    dst_ip: str
    first_flow_id: int
    src_ports: tuple


@dataclass(frozen=True)
class Answers:
    """How the LBs answer a stream (the return path): each request back to its client's answer
    port, from the VIP it was sent to, or, from_route, from the address the LB's route picks (a
    service that forgets the VIP)."""
    port: int = 5002
    from_route: bool = False


@dataclass
class Delivery:
    """What was sent and, per sink node (usually an LB), what arrived."""
    flows: int
    packets_per_flow: int
    sent: int = 0
    send_errors: int = 0
    send_errno: int = 0
    offered_pps: float = 0.0
    per_lb: dict = field(default_factory=dict)          # lb -> _core.SinkReport
    foreign_packets: int = 0
    kernel_drops: int = 0
    plans: tuple = ()          # the ClientFlows sent: each flow's 5-tuple
    port: int = 0
    rate_pps: float = 0.0
    answers: dict = field(default_factory=dict)  # client -> _core.SinkReport of the answers it received

    @property
    def received(self):
        return sum(report.packets for report in self.per_lb.values())

    @cached_property
    def flow_table(self):
        """flow id -> {lb: packets}, only LBs that saw the flow; built once, after delivery."""
        return FlowTable(self.flows, {lb: packet_counts(report) for lb, report in self.per_lb.items()})

    def flows_per_lb(self):
        """lb -> number of flows whose packets reached it (a split flow counts at each LB)."""
        return self.flow_table.flows_per_lb()


def packet_counts(report):
    """A sink's packets per flow id, 4 bytes a flow."""
    counts = array.array("I")
    counts.frombytes(report.packet_counts())
    return counts


class FlowTable:
    """flow id -> {lb: packets} for the LBs that saw the flow, kept as one packet-count column
    per LB: a million flows cost 4 MB per LB instead of a dict each."""

    def __init__(self, flows, columns):
        self.flows, self.lbs, self.columns = flows, list(columns), list(columns.values())

    def __len__(self):
        return self.flows

    def __getitem__(self, flow):
        return {lb: column[flow] for lb, column in zip(self.lbs, self.columns) if column[flow]}

    def __iter__(self):
        for row in zip(*self.columns):
            yield {lb: n for lb, n in zip(self.lbs, row) if n}

    def flows_per_lb(self):
        return {lb: len(column) - column.count(0) for lb, column in zip(self.lbs, self.columns)}


def flow_rows(delivery):
    """One row per flow: its 5-tuple, the LB that carried it, what arrived and what was lost.
    gap_ms is the flow's longest hole on the sender's clock, the same figure failover_gap judges."""
    interval_ms = delivery.flows / delivery.rate_pps * 1000 if delivery.rate_pps else 0.0
    table = delivery.flow_table
    gaps = _core.flow_gaps(list(delivery.per_lb.values()), delivery.packets_per_flow, interval_ms)
    for plan in delivery.plans:
        for offset, src_port in enumerate(plan.src_ports):
            flow = plan.first_flow_id + offset
            seen = table[flow]
            received = sum(seen.values())
            arrivals = [delivery.per_lb[lb].arrivals(flow) for lb in seen]
            lost = max(0, delivery.packets_per_flow - received)
            yield {"flow": flow, "client": plan.client, "proto": "udp", "src_ip": plan.src_ip, "src_port": src_port,
                   "dst_ip": plan.dst_ip, "dst_port": delivery.port,
                   "lb": max(seen, key=seen.get) if seen else "",
                   "lbs": " ".join(f"{lb}={n}" for lb, n in sorted(seen.items())),
                   "sent": delivery.packets_per_flow, "received": received, "lost": lost,
                   "seq_gaps": sum(a.seq_gaps for a in arrivals), "reordered": sum(a.reordered for a in arrivals),
                   # A flow past every sink's records reached none: its gap is its whole loss.
                   "gap_ms": round(gaps[flow].gap_ms if flow < len(gaps) else lost * interval_ms, 3)}


def plan_flows(senders, total_flows, seed):
    """senders: (node, src_ip, dst_ip) triples. Spreads flow ids over them; source ports drawn
    from the seed, distinct per sender."""
    rng = random.Random(seed)
    per_sender, extra = divmod(total_flows, len(senders))
    plans, next_id = [], 0
    for index, (name, src_ip, dst_ip) in enumerate(senders):
        count = per_sender + (1 if index < extra else 0)
        ports = tuple(rng.sample(range(1024, 65536), count))
        plans.append(ClientFlows(name, src_ip, dst_ip, next_id, ports))
        next_id += count
    return plans


def deliver(lab, sinks_at, traffic, flow_plans, run_tag, during=None, cancel=None, answers=None):
    """Starts a sink on every node of sinks_at (node -> address it listens on), sends every
    plan's flows at once, and waits until everything arrived or nothing more comes. `during`,
    if given, runs in this thread while the flows are sent, with a function that snapshots
    every sink's per-flow counts and the CLOCK_MONOTONIC time the sending started. `cancel`
    (a _core.Cancel) lets a caller that runs this off the main thread cut the sending short.
    With `answers` (an Answers), every sink answers what it receives and each client records the
    answers that reach it, and from where."""
    flows = sum(len(plan.src_ports) for plan in flow_plans)
    counter = _core.ArrivalCounter()
    # A timeline measures failover gaps, which need each flow's sequence runs.
    sinks = {node: _core.FlowSink(lab[node].netns, address, traffic.port, run_tag, flows, counter,
                                  record_runs=during is not None, answer_port=answers.port if answers else 0,
                                  answer_from_route=bool(answers and answers.from_route))
             for node, address in sinks_at.items()}
    clients = {plan.client: _core.FlowSink(lab[plan.client].netns, plan.src_ip, answers.port, run_tag, flows,
                                           counter, record_sources=True)
               for plan in flow_plans} if answers else {}
    delivery = Delivery(flows, traffic.packets_per_flow, plans=tuple(flow_plans), port=traffic.port,
                        rate_pps=traffic.rate_pps)
    reports, errors = [], []
    # Each client gets its share of the offered load; the GIL is released while they send.
    share = traffic.rate_pps / len(flow_plans)

    def send(plan):
        try:
            reports.append(_core.inject_flows(lab[plan.client].netns, plan.src_ip, plan.dst_ip, traffic.port,
                                              list(plan.src_ports), plan.first_flow_id,
                                              traffic.packets_per_flow, share, run_tag, cancel))
        except Exception as e:  # surfaced below, in the main thread
            errors.append(e)

    cancel = cancel or _core.Cancel()
    try:
        threads = [threading.Thread(target=send, args=(plan,)) for plan in flow_plans]
        started_ns = time.monotonic_ns()
        with running(threads, cancel.set):  # a signal or a failing `during` stops the senders
            if during:
                during(lambda: {node: sink.snapshot() for node, sink in sinks.items()}, started_ns)
        if errors:
            raise errors[0]
        delivery.sent = sum(r.packets_sent for r in reports)
        delivery.send_errors = sum(r.send_errors for r in reports)
        delivery.send_errno = next((r.last_errno for r in reports if r.last_errno), 0)
        span_ns = max(r.last_send_ns for r in reports) - min(r.first_send_ns for r in reports)
        delivery.offered_pps = delivery.sent / (span_ns / 1e9) if span_ns else 0.0
        counter.wait_for(delivery.sent * (2 if answers else 1), QUIET_MS, ARRIVAL_SLACK_S * 1000)
    finally:
        for lb, sink in sinks.items():
            delivery.per_lb[lb] = sink.stop()
        for client, sink in clients.items():
            delivery.answers[client] = sink.stop()
    delivery.foreign_packets = sum(r.foreign_packets for r in delivery.per_lb.values())
    delivery.kernel_drops = sum(r.kernel_drops for r in delivery.per_lb.values())
    return delivery


class ConnectionPool:
    """The connections of every client, each client's driven by a thread of its own in C++."""

    def __init__(self, lab, senders, spec, lb_names, seed):
        """senders: (client, address, VIP) triples; spec: count, open_per_s, port, ask_interval_ms,
        answer_timeout_ms, new_every_ms and new_count (a design's connection spec); the connections'
        source ports come from the seed."""
        self.spec, self.lb_names = spec, list(lb_names)
        new_per_client = -(-spec.new_count // len(senders)) if spec.new_every_ms else 0
        # One draw for the long-lived and the new connections, so no two share a 4-tuple.
        plans = plan_flows(senders, spec.count + new_per_client * len(senders), seed)
        self.plans, self.drivers = [], {}
        next_id = 0
        for plan, share in zip(plans, _shares(spec.count, len(senders))):
            kept = ClientFlows(plan.client, plan.src_ip, plan.dst_ip, next_id, plan.src_ports[:share])
            self.plans.append(kept)
            next_id += share
            self.drivers[plan.client] = _core.Connections(
                lab[plan.client].netns, plan.src_ip, plan.dst_ip, spec.port, list(kept.src_ports), kept.first_flow_id,
                spec.ask_interval_ms, spec.answer_timeout_ms, self.lb_names, open_per_s=spec.open_per_s,
                new_ports=list(plan.src_ports[share:share + new_per_client]), new_every_ms=spec.new_every_ms)

    def wait_open(self, timeout_ms):
        """How many connections opened, once every one opened or failed (or the timeout)."""
        return sum(driver.wait_open(timeout_ms) for driver in self.drivers.values())

    def wait_answered(self, answers, timeout_ms):
        """True once every connection has `answers` answers or ended: every LB known."""
        return all(driver.wait_answered(answers, timeout_ms) for driver in self.drivers.values())

    def snapshot(self):
        """id -> (state, lb name or "", answers) of every connection now."""
        return {r.id: (r.state, self.lb_name(r.lb), r.answers)
                for driver in self.drivers.values() for r in driver.snapshot()}

    def lb_name(self, index):
        return self.lb_names[index - 1] if index else ""

    def stop(self):
        """client -> _core.ConnectionsReport."""
        return {client: driver.stop() for client, driver in self.drivers.items()}


def _shares(total, parts):
    per, extra = divmod(total, parts)
    return [per + (1 if i < extra else 0) for i in range(parts)]
