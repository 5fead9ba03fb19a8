"""Failover checks on the ECMP design: the data-plane gap, the route withdrawal, recovery
after restore, and how many flows moved beyond the ideal."""
import statistics

from vipcheck import _core
from vipcheck.checks import FALSE_ALARM_RATE, CheckResult, timed


def _gaps(f):
    """Per-flow data-plane gap in ms, of the flows that lost packets: the longest stretch of the
    flow's packets that reached no LB, timed on the sender's clock (see flow_gaps.h). Counting
    lost packets instead would stretch a gap by whatever the sender sent late into it."""
    return {flow: gap.gap_ms for flow, gap in enumerate(f.flow_gaps) if gap.lost > 0}


def _stream_stall_ms(f):
    """The gap every flow of the LBs that stayed in the route shared, in ms: the design moves
    none of those flows and loses none of their packets, so a loss they all share is the machine
    stalling the stream (a softirq starved, a queue overflowed), not the design. 0 when one was whole."""
    failed = f.failure.target
    before, during = f.windows["before"], f.windows["failed"]
    stayed = [flow for flow in range(len(f.flow_gaps))
              if before.lb_of(flow) not in (None, failed) and during.lb_of(flow) == before.lb_of(flow)]
    return min(f.flow_gaps[flow].gap_ms for flow in stayed) if stayed else 0.0  # 0 ms where none was lost


def _sender_pause_ms(f, flow):
    """How long the sender stood still inside this flow's gap: the gap less the schedule of the
    packets it did send into it. A paused sender's gap is the pause's length, not the design's."""
    gap = f.flow_gaps[flow]
    return max(0.0, gap.gap_ms - gap.lost * f.flow_interval_ms - f.flow_interval_ms)


# Failures r1's kernel cannot see (its link to the LB stays up): the LB's packets are dropped
# from the instant the failure takes effect until the routing protocol changes r1's route. A
# link_down is seen at once (the kernel drops the nexthop on the carrier loss, before any route
# change is announced), and a drain drops nothing.
UNSEEN_BY_R1S_KERNEL = ("silent_drop", "frr_crash", "service_down")


def _unsent_outage_ms(f):
    """How long the failed LB's packets were dropped while its flows sent none: flows that lost
    nothing across such an outage were not sent into it (a stopped or starved harness), and
    their gap of 0 ms is no measurement. 0 where packets were sent into it."""
    outage = f.ms_after(f.withdrawn_at_ns, f.failed_at_ns)
    failed = [flow for flow in range(len(f.lost_per_flow)) if f.windows["before"].lb_of(flow) == f.failure.target]
    if f.failure.type not in UNSEEN_BY_R1S_KERNEL or outage is None or not failed or \
            any(f.lost_per_flow[flow] for flow in failed):
        return 0.0
    # Every flow sends once a flow interval: an outage longer than that, less the failure stamp's
    # uncertainty, had packets scheduled into it.
    return outage if outage - f.failed_uncertainty_ms > f.flow_interval_ms else 0.0


def _disturbed(result, f, scenario):
    """A failover measured on a design that was not steady when the failure came: r1's route
    changed before it (a BFD session or an adjacency flapped), so the detection it promises may
    not have been armed (a BFD session that went down comes back on 1 s timers)."""
    first = f.disturbances[0]
    return _unsteady(result, scenario, f.disturbances, f.steady_stall, f.steady_cpu_wait_ms,
                     f"the design was not steady when {f.failure.target} failed: r1's route changed to "
                     f"{', '.join(first['nexthops']) or 'no nexthop'} at {first['at_ms']} ms, before the failure, so "
                     f"its {scenario.ospf.detection_cause().split(';')[0]} may not have been armed",
                     "before the failure")


def _unsteady(result, scenario, disturbances, stall, waits, diagnosis, when):
    """A check whose window saw r1's route change where the design changes nothing: it fails,
    naming the change. The design's fault on a quiet machine; the machine's where, in that window,
    it held the routing daemons at both ends of a session back longer than the design tolerates a
    silence (its detection time less one packet interval)."""
    result.passed = False
    result.measured += f"; r1's route changed {len(disturbances)} time(s) {when}"
    result.diagnosis = diagnosis
    result.details["disturbances"] = disturbances
    lbs = [waits[lb] for lb in waits if lb != "r1"]
    both_ends = waits.get("r1", 0.0) + max(lbs, default=0.0)  # a session's two daemons, r1's and an LB's
    return timed(result, scenario.ospf.silence_tolerated_ms(),
                 stall.with_witnesses(routing_daemons_at_both_ends_waited_for_a_cpu=both_ends))


def failover_gap(m):
    f, scenario = m.failover, m.scenario
    gaps = _gaps(f)
    worst_flow = max(gaps, key=gaps.get) if gaps else None
    worst = round(gaps[worst_flow], 2) if gaps else 0.0
    median = round(statistics.median(gaps.values()), 2) if gaps else 0.0
    detect = f.ms_after(f.withdrawn_at_ns, f.failed_at_ns)
    measured = (f"{f.failure.type} of {f.failure.target}: data-plane gap {worst} ms (worst of {len(gaps)} flows "
                f"that lost packets, median {median} ms, resolution "
                f"{f.flow_interval_ms:.2f} ms); route changed {detect if detect is not None else 'never'} ms after it")
    expected = f"gap at most {scenario.max_gap_ms} ms"
    # Nothing closed the failed LB's gap before the stream ended (no withdrawal, no restore):
    # it was cut off there, however short the stream, so its length is no measurement.
    cut_short = bool(gaps) and not f.withdrawn_at_ns and not f.restored_at_ns
    unsent = _unsent_outage_ms(f)
    passed = worst <= scenario.max_gap_ms and not cut_short and not unsent
    diagnosis, stall = "", round(_stream_stall_ms(f), 2)
    if not passed:
        if unsent:
            diagnosis = (f"none of {f.failure.target}'s flows lost a packet in the {unsent} ms its packets were "
                         "dropped before r1's route changed: the sender sent none into the outage, so the gap "
                         "was not measured")
        elif cut_short and worst <= scenario.max_gap_ms:
            diagnosis = (f"r1 never withdrew {f.failure.target}'s path while the stream flowed, so the {worst} ms "
                         "gap was cut short by the stream's end, not closed: lengthen duration_ms (see route_withdrawn)")
        elif not f.withdrawn_at_ns:
            diagnosis = (f"r1 never withdrew {f.failure.target}'s path, so its flows were lost to the end: "
                         "the announcement outlives the service (see route_withdrawn)")
        elif f.failure.type in ("link_down",):
            diagnosis = "the carrier loss should be seen at once: see the FRR logs for a slow SPF"
        else:
            diagnosis = f"{scenario.ospf.detection_cause()}"
    details = {"gap_ms_max": worst, "gap_ms_median": median,
               "flows_with_loss": len(gaps), "lost_packets": sum(f.lost_per_flow),
               "flow_interval_ms": f.flow_interval_ms, "detection_ms": detect, "stream_stall_ms": stall,
               "gap_ms_per_flow": {flow: round(gap, 2) for flow, gap in gaps.items()}}
    result = CheckResult("failover_gap", passed, measured, expected, diagnosis, details,
                         figures={"failover gap ms": worst})
    if f.disturbances:
        return _disturbed(result, f, scenario)
    # An unsent outage is the sender standing still across all of it: the machine's, never the design's.
    pause = max(_sender_pause_ms(f, worst_flow) if gaps else 0.0, unsent)
    if cut_short:
        excess = float("inf")
    elif unsent:
        excess = unsent
    else:
        excess = worst - scenario.max_gap_ms
    return timed(result, excess,
                 f.stall.with_witnesses(every_surviving_flow_lost=stall, the_sender_stood_still=pause,
                                        r1s_routing_daemons_waited_for_a_cpu=f.router_cpu_wait_ms))


def route_withdrawn(m):
    """The failed LB's nexthop left r1's route and stayed out until the restore (or the end of the
    stream): an announcement that is withdrawn and comes straight back is a flap, not a withdrawal."""
    f, scenario = m.failover, m.scenario
    target = f.failure.target
    detect = f.ms_after(f.withdrawn_at_ns, f.failed_at_ns)
    flap = f.ms_after(f.returned_at_ns, f.withdrawn_at_ns)
    until = "the restore" if f.restored_at_ns else "the end of the stream"
    if not f.withdrawn_at_ns:
        measured = f"{target}'s nexthop stayed in r1's route"
    elif f.returned_at_ns:
        measured = (f"{target}'s nexthop left r1's route {detect} ms after {f.failure.type} and came back "
                    f"{flap} ms later, before {until}")
    else:
        measured = f"{target}'s nexthop left r1's route {detect} ms after {f.failure.type} and stayed out until {until}"
    measured += f" (failure stamped to within {f.failed_uncertainty_ms} ms)"
    expected = f"r1 withdraws {target} ({f.gateways[target]}) from the VIP's route and keeps it out until {until}"
    passed = bool(f.withdrawn_at_ns) and not f.returned_at_ns
    diagnosis = ""
    if f.returned_at_ns:
        diagnosis = (f"a flap of {flap} ms: {target} withdrew the VIP and announced it again while it was still "
                     f"failed ({f.failure.type}); its announcement outlives the service (here its source changed, "
                     "and OSPF re-originated it)")
    elif not f.withdrawn_at_ns:
        diagnosis = (f"{target} still announces the VIP after {f.failure.type}: the announcement outlives the "
                     "service (it is not tied to the service's health)" if f.failure.type == "service_down" else
                     f"r1 did not notice in the {f.withdrawal_wait_ms} ms it was watched (to the stream's end at the "
                     f"latest): {scenario.ospf.detection_cause()}")
    result = CheckResult("route_withdrawn", passed, measured, expected, diagnosis,
                         {"detection_ms": detect, "flap_ms": flap, "failure_uncertainty_ms": f.failed_uncertainty_ms,
                          "route_changes": f.route_changes}, figures={"route change ms": detect})
    if f.disturbances:
        return _disturbed(result, f, scenario)
    if f.returned_at_ns:
        # A flap is also what a session starved at both ends makes (BFD expiring while the failure's
        # command still ran): the machine's where it held those daemons back past the tolerated silence.
        waits = f.failed_cpu_wait_ms
        both_ends = waits.get("r1", 0.0) + max((w for node, w in waits.items() if node != "r1"), default=0.0)
        return timed(result, scenario.ospf.silence_tolerated_ms(),
                     f.failed_stall.with_witnesses(routing_daemons_at_both_ends_waited_for_a_cpu=both_ends))
    if f.withdrawn_at_ns or f.failure.type == "service_down":
        return result  # seen, or an announcement nothing ends: no matter of time
    # Not seen while r1's route was watched: late by at least the watch less the detection time the
    # design promises. A machine that held r1's daemons or the probe back that long may be why.
    return timed(result, f.withdrawal_wait_ms - scenario.ospf.detection_s() * 1000,
                 f.stall.with_witnesses(r1s_routing_daemons_waited_for_a_cpu=f.router_cpu_wait_ms))


def recovery(m):
    f, scenario = m.failover, m.scenario
    target = f.failure.target
    window = f.windows.get("restored")
    back = f.ms_after(f.recovered_at_ns, f.restored_at_ns)
    lbs = scenario.lb_names
    counts = {lb: 0 for lb in lbs}
    if window:
        for flow in range(len(f.lost_per_flow)):
            lb = window.lb_of(flow)
            if lb:
                counts[lb] += 1
    test = _core.test_spread([counts[lb] for lb in lbs], [], FALSE_ALARM_RATE)
    spread = ", ".join(f"{lb} {counts[lb]}" for lb in lbs)
    measured = (f"route whole again {back} ms after the restore began" if f.recovered_at_ns else
                "r1's route never got all its nexthops back") + f"; flows after: {spread} (p={test.p_value:.2g})"
    expected = f"after {target} returns, r1 routes through every LB and flows spread evenly (p >= {FALSE_ALARM_RATE:g})"
    passed = bool(f.recovered_at_ns) and test.consistent
    # Whole only after the wait (to the stream's end at the latest): late by at most until it was
    # seen whole. A machine that stalled that long from the restore on may be why; a route never
    # whole, or whole in zebra alone, is late by no time a stall could explain.
    late_ms = f.ms_after(f.whole_late_ns, f.restored_at_ns + f.recovery_wait_ms * 1_000_000) \
        if not f.recovered_at_ns and f.whole_late_ns else None
    diagnosis = ""
    if not f.recovered_at_ns and f.gateways[target] not in f.rib_gateways:
        diagnosis = (f"{target} came back but r1's OSPF did not re-learn its path within convergence_timeout_s "
                     f"(zebra's RIB routes the VIP via {', '.join(f.rib_gateways) or 'nothing'}): "
                     "see r1's ospf-neighbours.json")
    elif not f.recovered_at_ns and f.rib_gateways != f.fib_gateways:
        diagnosis = (f"{target} came back and zebra's RIB routes the VIP via {', '.join(f.rib_gateways)}, but the "
                     f"kernel's route holds only {', '.join(f.fib_gateways) or 'nothing'}: RIB and FIB disagree "
                     "(zebra re-used a kernel nexthop group that shrank during the outage; "
                     "router_nexthop_groups: false avoids it)")
    elif not f.recovered_at_ns:
        diagnosis = (f"{target} came back but r1 took it into its ECMP set again only after the recovery wait "
                     f"({f.recovery_wait_ms} ms)" + (f", within {late_ms} ms after it" if late_ms is not None else ""))
    elif not any(counts.values()):
        diagnosis = (f"the stream ended before r1's route was whole again ({back} ms after the restore), so no "
                     "flow shows the spread after it: lengthen duration_ms")
    elif not test.consistent:
        diagnosis = f"{target} is routed to again but the flows did not spread back (p={test.p_value:.2g})"
    result = CheckResult("recovery", passed, measured, expected, diagnosis,
                         {"recovery_ms": back, "restore_duration_ms": f.restore_duration_ms,
                          "whole_after_the_wait_ms": late_ms, "counts": counts, "p_value": test.p_value,
                          "rib_gateways": f.rib_gateways, "fib_gateways": f.fib_gateways},
                         figures={"recovery ms": back})
    if f.after_restore_disturbances:
        first = f.after_restore_disturbances[0]
        by_gateway = {gateway: lb for lb, gateway in f.gateways.items()}
        lost = [lb for lb in scenario.best_lbs() if f.gateways[lb] not in first["nexthops"]]
        stayed = [lb for lb in lost if lb != target]
        who = (f"{', '.join(stayed)}, which never failed" if stayed else
               f"{target} again after it had come back")
        return _unsteady(result, scenario, f.after_restore_disturbances, f.after_restore_stall,
                         f.after_restore_cpu_wait_ms,
                         f"r1's route lost {who}, at {first['at_ms']} ms (to "
                         f"{', '.join(by_gateway.get(h, h) for h in first['nexthops']) or 'no nexthop'}): a BFD "
                         "session or an adjacency flapped after the restore, so the spread after it measured the "
                         "flap, not the design", "after the restore")
    return timed(result, late_ms or 0.0, f.recovery_stall)


def _moved(before, after, flows, target, joining=False):
    """(moved, of which beyond the ideal): flows whose LB changed between two windows. Ideally only
    the leaving target's flows move, or, when the target joins, flows move only onto it."""
    moved = extra = 0
    for flow in range(flows):
        a, b = before.lb_of(flow), after.lb_of(flow)
        if a and b and a != b:
            moved += 1
            extra += (b != target) if joining else (a != target)
    return moved, extra


def flows_moved(m):
    f, scenario = m.failover, m.scenario
    flows = len(f.lost_per_flow)
    target = f.failure.target
    before, failed = f.windows["before"], f.windows["failed"]
    own = sum(1 for flow in range(flows) if before.lb_of(flow) == target)
    joining = f.failure.type == "add"
    moved, extra = _moved(before, failed, flows, target, joining)
    measured = (f"on add: {moved} flows moved, {moved - extra} onto {target}, {extra} between LBs that stayed"
                if joining else f"on {f.failure.type}: {moved} flows moved, {own} were {target}'s, {extra} beyond the ideal")
    details = {"failure": {"moved": moved, "own": own, "extra": extra}}
    if "restored" in f.windows:
        back, extra_back = 0, 0
        restored = f.windows["restored"]
        for flow in range(flows):
            a, b = failed.lb_of(flow), restored.lb_of(flow)
            if a and b and a != b:
                back += 1
                extra_back += b != target  # ideally a flow only moves onto the returning LB
        measured += f"; on restore: {back} moved, {extra_back} between LBs that never left"
        details["restore"] = {"moved": back, "extra": extra_back}
    expected = (f"at most {scenario.max_extra_moved} flows moved other than onto {target}" if joining
                else f"at most {scenario.max_extra_moved} flows beyond {target}'s own move on failure")
    passed = extra <= scenario.max_extra_moved
    verb, kept = ("joined", "the buckets the new LB takes") if joining else ("left", "the failed LB's flows")
    diagnosis = "" if passed else (
        f"{extra} flows moved between LBs that stayed when {target} {verb}: hash-threshold ECMP re-divides "
        f"the hash space when a nexthop joins or leaves; resilient nexthop groups move only {kept}")
    return CheckResult("flows_moved", passed, measured, expected, diagnosis, details,
                       figures={"flows moved beyond ideal": extra})
