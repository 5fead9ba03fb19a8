"""Checks of the TCP connections across a timeline's events (measurements.ConnectionFates): the
connections that broke on each event, against the ideal (only a departing LB's, none on an add)
and against what hash-threshold ECMP predicts (RFC 2992); and, after an add, when the new LB
receives its share of new connections without a busy connection moving."""
import math

from vipcheck import _core
from vipcheck.checks import FALSE_ALARM_RATE, CheckResult, timed

BROKEN = ("reset", "stalled", "closed")
SOCKET_HASH_POLICY = 1  # fib_multipath_hash_policy 1 reuses the sender's socket hash through veth
# rebalance judges the new LB's share only on enough new connections that none at all would be
# caught: (1 - 1/lbs)^n below the false-alarm rate, n >= 40 for 4 LBs.


def hash_threshold_moved(history, after, stayed):
    """RFC 2992: the members divide the hash space into equal consecutive regions in their order.
    `history` holds the member orders the connections lived through, oldest first, the last the
    one just before the event: a connection alive then kept one LB through all of them, so only
    that part of the hash space holds live ones. The share of it, on LBs in `stayed`, whose member
    changes in `after` (a member that returns to its old place takes back only the dead ones')."""
    orders = [order for order in history if order]
    if not orders or not after:
        return 0.0
    parts = math.lcm(*(len(order) for order in [*orders, after]))
    owned = changed = 0
    for k in range(parts):
        owners = {order[k * len(order) // parts] for order in orders}
        if len(owners) != 1:  # its connections moved before: none is alive here
            continue
        was = owners.pop()
        if was in stayed:
            owned += 1
            changed += was != after[k * len(after) // parts]
    return changed / owned if owned else 0.0


def event_fates(fates, event):
    """The event's connections: alive just before it, and of those, which broke before its window
    ended (reset, stalled to the end, closed) or were answered by another LB, by their LB; and what
    hash-threshold ECMP predicts for them, given the routes they lived through."""
    records = fates.records_by_id
    departing = set(event.route_before) - set(event.route_after) if event.route_after else set()
    per_lb = {}
    for cid, lb in event.alive_before.items():
        r = records[cid]
        row = per_lb.setdefault(lb, {"alive": 0, "broken": 0, "reset": 0, "stalled": 0, "closed": 0, "moved": 0})
        row["alive"] += 1
        if r.state in BROKEN and r.ended_ns < event.until_ns:
            row["broken"] += 1
            row[r.state] += 1
        elif r.last_lb and fates.lbs[r.last_lb - 1] != lb:
            row["broken"] += 1
            row["moved"] += 1
    stayed = {lb: row for lb, row in per_lb.items() if lb not in departing}
    alive_stayed = sum(row["alive"] for row in stayed.values())
    earlier = fates.events[:fates.events.index(event)]
    history = [*(e.route_before for e in earlier[:1]), *(e.route_after for e in earlier), event.route_before]
    share = hash_threshold_moved(history, event.route_after, set(stayed))
    return {"type": event.type, "target": event.target, "route_before": event.route_before,
            "route_after": event.route_after, "departing": sorted(departing), "per_lb": per_lb,
            "alive": sum(row["alive"] for row in per_lb.values()),
            "broken": sum(row["broken"] for row in per_lb.values()),
            "broken_departing": sum(row["broken"] for lb, row in per_lb.items() if lb in departing),
            "alive_departing": sum(row["alive"] for lb, row in per_lb.items() if lb in departing),
            "broken_stayed": sum(row["broken"] for row in stayed.values()), "alive_stayed": alive_stayed,
            "stalled_stayed": sum(row["stalled"] for row in stayed.values()),
            "hash_threshold_predicts": round(share * alive_stayed)}


def connections_kept(m):
    """m.connections: measurements.ConnectionFates. Per event, the connections of LBs that stayed in
    r1's route that broke, within max_broken_stayed (0 by default: only a departing LB's may).
    A reset, a close or an answer from another LB is judged as it is. A stall is a timed fate, a
    request unanswered for answer_timeout_ms: where the stalls alone break the budget and the
    machine stalled the event's window that long (lab.stall), the check is inconclusive."""
    fates, budget = m.connections, m.scenario.max_broken_stayed
    events = [event_fates(fates, event) for event in fates.events]
    broken_total = sum(1 for r in fates.records if r.state in BROKEN)
    parts, faults, stalls = [], [], []
    for event, e in zip(fates.events, events):
        parts.append(f"on {e['type']} of {e['target']}: {e['broken']} of {e['alive']} broke, "
                     f"{e['broken_departing']} of the departing LB's {e['alive_departing']}, "
                     f"{e['broken_stayed']} of the {e['alive_stayed']} of LBs that stayed "
                     f"(ideal 0, hash-threshold predicts {e['hash_threshold_predicts']})")
        if e["broken_stayed"] > budget:
            faults.append(_why(e, fates))
            stalls.append(_stall_of_stalls(event, e, budget))
    measured = "; ".join(parts) + f"; in all {broken_total} of {len(fates.records)} connections broke"
    expected = (f"at most {budget} connections of LBs that stayed in r1's route broken per event "
                "(a departing LB's connections may break)")
    details = {"events": events, "broken_total": broken_total, "connections": len(fates.records),
               "hash_policy": fates.hash_policy, "router_group": _group(fates)}
    figures = {f"{label} on {e['type']}": e[key] for e in events for label, key in (
        ("broken stayed", "broken_stayed"), ("broken departing", "broken_departing"), ("broken", "broken"),
        ("alive", "alive"))}
    result = CheckResult("connections_kept", not faults, measured, expected, "; ".join(faults), details,
                         figures=figures)
    windows = [event.stall for event in fates.events]
    if windows:
        result.stall = max(windows, key=lambda stall: stall.ms).as_dict()
    # Inconclusive only when every failing event failed by its stalls alone, and even the least
    # stalled of their windows stalled as long as a stall takes: a reset or a move is the design's.
    if faults and all(stall is not None for stall in stalls):
        result = timed(result, fates.answer_timeout_ms, min(stalls, key=lambda stall: stall.ms))
    if not faults:
        _judged_whole(result, fates, events)
    return result


def _judged_whole(result, fates, events):
    """A pass holds only where every event's window, from when r1's route took its shape, was long
    enough for a broken connection to show: it asks within an interval and is reset or goes
    unanswered; a resilient group's unbalanced_timer moves busy buckets only that long after the
    change; and after the last event an unanswered request needs the answer timeout and another ask
    before the stream ends. A machine that made the change late leaves less: inconclusive."""
    timer_ms = (fates.resilient or {}).get("unbalanced_timer_ms", 0)
    for index, (event, e) in enumerate(zip(fates.events, events)):
        last = index == len(fates.events) - 1
        needed_ms = fates.ask_interval_ms + timer_ms + (fates.answer_timeout_ms + fates.ask_interval_ms if last else 0)
        settled_ns = event.settled_ns or event.at_ns
        left_ms = (event.until_ns - settled_ns) / 1e6
        e["judged_window_ms"] = round(left_ms, 3)
        if left_ms < needed_ms:
            result.passed, result.inconclusive = False, True
            result.stall = event.stall.as_dict()
            result.diagnosis = (
                f"inconclusive: r1's route took its shape {(settled_ns - event.at_ns) / 1e6:.0f} ms after the "
                f"{event.type} of {event.target}, leaving {left_ms:.0f} ms of its window, less than the "
                f"{needed_ms} ms a broken connection needs to show (an ask"
                + (f", the unbalanced_timer's {timer_ms} ms" if timer_ms else "")
                + (", an answer timeout and another ask before the stream ends" if last else "")
                + f"); {event.stall.line()}: measured again")
            return


def _stall_of_stalls(event, e, budget):
    """The stall that could explain an event's failure, or None when its resets, closes and moves
    alone break the budget: the window's, with the waits of the services whose connections stalled."""
    if e["broken_stayed"] - e["stalled_stayed"] > budget:
        return None
    stalled_on = [lb for lb, row in e["per_lb"].items() if lb not in e["departing"] and row["stalled"]]
    return event.stall.with_witnesses(**{f"{lb}s_service_waited_for_a_cpu": event.service_cpu_wait_ms.get(lb, 0.0)
                                         for lb in stalled_on})


def _group(fates):
    return f"resilient {fates.resilient}" if fates.resilient else "hash-threshold (FRR's)"


def _why(e, fates):
    """The most likely cause of connections of LBs that stayed breaking on one event."""
    lbs = ", ".join(f"{lb} {row['broken']}/{row['alive']}" for lb, row in sorted(e["per_lb"].items())
                    if lb not in e["departing"] and row["broken"])
    counts = f"{e['broken_stayed']} of {e['alive_stayed']} connections of LBs that stayed broke ({lbs})"
    if e["stalled_stayed"] == e["broken_stayed"]:
        return (f"{counts} on {e['type']} of {e['target']}, every one stalled on its own LB (a request unanswered "
                f"for {fates.answer_timeout_ms} ms, and none after): the LB stopped answering while r1 still routed "
                "its connections to it, a hung LB the routing protocol had not yet detected, or one too slow to answer")
    if e["route_after"] and set(e["route_before"]) == set(e["route_after"]):
        if fates.hash_policy == SOCKET_HASH_POLICY:
            return (f"{counts} on {e['type']} of {e['target']} though r1's route never changed: an emulation "
                    "artifact. fib_multipath_hash_policy 1 hashes the sender's socket hash, which veth passes on "
                    "and TCP redraws on every retransmission, so a retransmitting connection jumps to another "
                    "LB; a router hashes the headers: use policy 3 with fib_multipath_hash_fields 0x0037")
        return (f"{counts} on {e['type']} of {e['target']} though r1's route never changed: see how they ended "
                "(reset, stalled or closed) in connections.csv and the LBs' captures")
    if fates.resilient and fates.resilient.get("unbalanced_timer_ms"):
        return (f"{counts} on {e['type']} of {e['target']}: the resilient group's unbalanced_timer "
                f"({fates.resilient['unbalanced_timer_ms']} ms) moved busy buckets once the group stayed "
                "unbalanced that long, and every connection in them with it; with 0 only idle buckets move")
    if fates.resilient and fates.resilient.get("idle_timer_ms", 0) < fates.ask_interval_ms:
        return (f"{counts} on {e['type']} of {e['target']}: the resilient group's idle_timer "
                f"({fates.resilient['idle_timer_ms']} ms) is shorter than the silence between a connection's "
                f"requests ({fates.ask_interval_ms} ms), so the kernel takes a bucket whose connections are "
                "only quiet for idle and moves it, live connections and all; make it longer than any live "
                "connection's silence")
    if fates.resilient:
        return (f"{counts} on {e['type']} of {e['target']} through a resilient group, which should move only the "
                "departing LB's buckets: see its buckets (r1/nexthop-buckets.json in the artifacts) and connections.csv")
    return (f"{counts} on {e['type']} of {e['target']}: r1's hash-threshold group re-divided the hash space "
            f"({' '.join(e['route_before'])} -> {' '.join(e['route_after'])}); RFC 2992 predicts "
            f"{e['hash_threshold_predicts']} of them. A resilient nexthop group (resilient:) moves only the "
            "departing LB's buckets")


def rebalance(m):
    """After an add through a resilient group: from rebalance_within_ms on, the new LB receives its
    share of new connections (a binomial test at FALSE_ALARM_RATE), and no busy connection moved."""
    fates, s = m.connections, m.scenario
    event = next(e for e in fates.events if e.type == "add")
    target, lbs = event.target, event.route_after or s.in_service("event")
    joined_ns = next((at for at, members in fates.group_changes if at >= event.at_ns and target in members),
                     event.at_ns)
    judged_from = joined_ns + s.rebalance_within_ms * 1_000_000
    answered = [n for _, n in fates.new_connections if n.answered_ns and n.lb]
    after = [n for n in answered if n.opened_ns >= judged_from]
    on_new = sum(1 for n in after if fates.lbs[n.lb - 1] == target)
    first = min((n.opened_ns for n in answered if n.opened_ns >= joined_ns and fates.lbs[n.lb - 1] == target),
                default=0)
    share = 1 / len(lbs)
    e = event_fates(fates, event)
    measured = (f"{target} joined; from {s.rebalance_within_ms} ms after, it took {on_new} of {len(after)} new "
                f"connections (its share {share:.2f})"
                + (f", the first {round((first - joined_ns) / 1e6)} ms after it joined" if first else
                   ", none at all") + f"; {e['broken_stayed']} busy connections broke")
    expected = (f"from {s.rebalance_within_ms} ms after the add, {target} takes its share of new connections "
                f"(p < {FALSE_ALARM_RATE:g} rejects), and at most {s.max_broken_stayed} busy connections break")
    details = {"target": target, "joined_ns": joined_ns, "new_judged": len(after), "on_new": on_new,
               "share": share, "first_on_new_ms": round((first - joined_ns) / 1e6, 3) if first else None,
               "broken_stayed": e["broken_stayed"]}
    fewest = math.ceil(math.log(FALSE_ALARM_RATE) / math.log(1 - share))
    if len(after) < fewest:
        return CheckResult("rebalance", False, measured, expected,
                           f"inconclusive: only {len(after)} new connections opened after {s.rebalance_within_ms} ms, "
                           f"fewer than the {fewest} that can show a share; lengthen duration_ms or new_count",
                           details, inconclusive=True)
    p_value = _core.binomial_at_most_p(on_new, len(after), share)
    details["p_value"] = p_value
    faults = []
    if p_value < FALSE_ALARM_RATE:
        faults.append(f"{target} took {on_new} of {len(after)} new connections, short of its share "
                      f"(p = {p_value:.1e}): the resilient group gives a new member only buckets idle for "
                      f"idle_timer ({(fates.resilient or {}).get('idle_timer_ms')} ms), and busy buckets never "
                      "went idle in time; shorten idle_timer_ms or give more buckets than connections")
    if e["broken_stayed"] > s.max_broken_stayed:
        faults.append(_why(e, fates))
    return CheckResult("rebalance", not faults, measured, expected, "; ".join(faults), details,
                       figures={"new LB share": round(on_new / len(after), 3)})
