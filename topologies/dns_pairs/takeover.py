"""The takeover experiment, recorded here and judged by checks.vrrp_failover: the failing pair's
active LB crashes under a steady stream to both VIPs; recorded are the gap until the standby's
first packet, the other pair's stream, who holds the VIP afterwards, and the crashed LB's return
once it is restored."""
import threading
import time

from vipcheck import _core, faults, seeds, traffic
from vipcheck.lab.network import DEFAULT_ROUTE
from vipcheck.lab.run import children_of, kill_daemon
from vipcheck.lab.stall import cpu_wait_ns
from vipcheck.lab.threads import running
from vipcheck.schema.shared import TrafficSpec

from .measurements import Takeover
from .topology import SEGMENTS

STREAM_PORT = 5001
STREAM_FLOWS = 8
CRASH_AFTER_S = 0.5       # steady traffic before the active LB dies


class TakeoverExperiment:
    def __init__(self, run, lab, scenario, keepalived, uplink, owners):
        self.run, self.lab, self.scenario = run, lab, scenario
        self.keepalived = keepalived  # lb -> daemons.services.Keepalived
        self.uplink = uplink          # node -> its interface
        self.owners = owners          # arp.VipOwners
        self.deliveries = {}          # pair -> traffic.Delivery of its stream

    def crash_under_stream(self, crashed, client_address, seed):
        """Streams to both VIPs, crashes `crashed` after CRASH_AFTER_S, and measures until the
        stream ends: the gap, the other pair's service, and who answers for the VIP afterwards."""
        s, lab = self.scenario, self.lab
        pair = next(p for p, spec in s.pairs.items() if crashed in spec.lbs)
        other = "b" if pair == "a" else "a"
        standby = next(lb for lb in s.pairs[pair].lbs if lb != crashed)
        result = Takeover(pair, crashed, standby, other_pair=other, preempt=s.preempt)
        takeover_s = s.master_down_s(standby)
        duration_s = CRASH_AFTER_S + max(2.0, 2 * takeover_s + 0.5)
        rng = seeds.rng(seed, "vrrp_stream")
        stream = TrafficSpec(STREAM_FLOWS, int(duration_s * s.stream_pps / STREAM_FLOWS), s.stream_pps, STREAM_PORT)
        plans = {p: traffic.plan_flows([("c1", client_address, s.vips[p])], STREAM_FLOWS, rng.randrange(2**31))
                 for p in (pair, other)}
        deliveries, errors, cancel = self.deliveries, [], _core.Cancel()

        def stream_to(p):
            try:
                deliveries[p] = traffic.deliver(lab, {lb: s.vips[p] for lb in s.pairs[p].lbs}, stream, plans[p],
                                                rng.getrandbits(32), cancel=cancel)
            except Exception as e:  # raised again in the main thread
                errors.append(e)

        # The untouched pair's keepalived (parent and VRRP child) must keep a CPU for the whole stream.
        keepers = [pid for lb in s.pairs[other].lbs for pid in self._keepalived_pids(lb)]
        keepers_waited_ns, stream_ns = cpu_wait_ns(keepers), time.monotonic_ns()
        threads = [threading.Thread(target=stream_to, args=(p,)) for p in (pair, other)]
        with running(threads, cancel.set):  # a signal or a failed crash stops both streams
            time.sleep(CRASH_AFTER_S)  # steady state before the crash is part of the experiment's design
            # The standby's keepalived (parent and VRRP child) times the takeover: its own wait for a CPU,
            # from the crash to the end of the stream, is what the machine may have added to the gap.
            standby_keepers = self._keepalived_pids(standby)
            crash_ns, standby_waited_ns = time.monotonic_ns(), cpu_wait_ns(standby_keepers)
            self._crash(crashed)
        standby_waited_ms = (cpu_wait_ns(standby_keepers) - standby_waited_ns) / 1e6
        if errors:
            raise errors[0]
        failing, unaffected = deliveries[pair], deliveries[other]
        result.sent, result.received = failing.sent, failing.received
        result.per_lb = {lb: r.packets for lb, r in failing.per_lb.items()}
        last_before = max((f.last_ns for f in failing.per_lb[crashed].flows if f.packets), default=0)
        first_after = min((f.first_ns for f in failing.per_lb[standby].flows if f.packets and f.first_ns >= crash_ns),
                          default=0)
        sender_still_ms = 0.0
        if last_before and first_after:
            result.gap_ms = round((first_after - last_before) / 1e6, 2)
            # The lost packets span gap - (their count / rate) of sending less than the gap: the sender stood still.
            sender_still_ms = max(0.0, result.gap_ms - (failing.sent - failing.received) * 1000 / s.stream_pps)
        result.stall = self.run.stalls.window(min(last_before or crash_ns, crash_ns),
                                              first_after or time.monotonic_ns()).of_processes(
            the_standbys_keepalived_waited_for_a_cpu=standby_waited_ms, the_sender_stood_still=sender_still_ms)
        result.other_stall = self.run.stalls.window(stream_ns, time.monotonic_ns()).with_witnesses(
            other_pairs_keepalived_waited_for_a_cpu=(cpu_wait_ns(keepers) - keepers_waited_ns) / 1e6)
        result.other_sent, result.other_received = unaffected.sent, unaffected.received
        result.other_per_lb = {lb: r.packets for lb, r in unaffected.per_lb.items()}
        result.holder_after = self.owners.of(pair, rounds=2)
        return result

    def _keepalived_pids(self, lb):
        """keepalived's parent and its VRRP child: both must run for the LB to advertise."""
        pid = self.keepalived[lb].proc.pid
        return [pid, *children_of(pid)]

    def _crash(self, lb):
        """A crash is the link going down and keepalived dying (SIGKILL alone leaves the VIP up);
        the host also loses its runtime addresses, so it cannot come back holding a stale VIP."""
        node = self.lab[lb]
        faults.link_down(node, self.uplink[lb])
        pair = next(spec for spec in self.scenario.pairs.values() if lb in spec.lbs)
        faults.set_address(node, self.uplink[lb], pair.vip, pair.segment.prefixlen, False)
        kill_daemon(self.keepalived[lb].proc.pid, self.keepalived[lb].proc)  # our own keepalived, by its PID

    def restore(self, result):
        """Brings the crashed LB back; with preemption it takes the VIP back once it has heard the
        standby, without it the standby keeps it: watched for a master-down interval beyond that."""
        s, lb = self.scenario, result.crashed
        self.lab.raise_link(lb, SEGMENTS[result.pair])  # the bridge forwards on its port from here
        # The link going down flushed the routes through it: a host that boots again has its own.
        self.lab.add_routes([(lb, DEFAULT_ROUTE, [str(s.pairs[result.pair].segment[1])])])
        restarted = time.monotonic()
        self.keepalived[lb].start()
        deadline = restarted + 3 * s.master_down_s(lb) + 1.0
        holders = []
        while time.monotonic() < deadline:
            holders = self.owners.of(result.pair)
            if holders == [lb] and s.preempt:
                result.return_ms = round((time.monotonic() - restarted) * 1000, 1)
                break
        result.returned_to = ", ".join(holders)
