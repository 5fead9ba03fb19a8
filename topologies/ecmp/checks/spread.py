"""The ECMP design's checks of a stream nothing disturbs: spread, stickiness, loss."""
import hashlib

from vipcheck import _core
from vipcheck.checks import FALSE_ALARM_RATE, CheckResult

HASH_POLICY = "net.ipv4.fib_multipath_hash_policy"


def _per_lb(m, flows):
    """lb -> how many of these flows reached it most (a flow that reached none counts nowhere)."""
    table, counts = m.delivery.flow_table, dict.fromkeys(m.scenario.lb_names, 0)
    for flow in flows:
        seen = {lb: n for lb, n in table[flow].items() if lb in counts}
        if seen:
            counts[max(seen, key=seen.get)] += 1
    return counts


def ecmp_spread(m):
    """The flows spread evenly over the LBs in total and, with several clients, for every client:
    a router that hashes on addresses alone puts each client on one LB, and the total can still
    look even. One chi-square test each at FALSE_ALARM_RATE divided by the number of tests
    (Bonferroni): the run's false-alarm rate stays FALSE_ALARM_RATE."""
    lbs, plans = m.scenario.lb_names, m.delivery.plans
    per_lb = m.delivery.flows_per_lb()
    counts = [per_lb.get(lb, 0) for lb in lbs]
    clients = {plan.client: _per_lb(m, range(plan.first_flow_id, plan.first_flow_id + len(plan.src_ports)))
               for plan in plans} if len(plans) > 1 else {}
    alpha = FALSE_ALARM_RATE / (1 + len(clients))
    test = _core.test_spread(counts, [], alpha)
    client_tests = {client: _core.test_spread([n[lb] for lb in lbs], [], alpha) for client, n in clients.items()}
    flows = sum(counts)
    measured = ", ".join(f"{lb} {c} ({s.share:.1%})" for lb, c, s in zip(lbs, counts, test.shares))
    measured += f"; chi2={test.chi_square:.1f} dof={test.dof} p={test.p_value:.2g}"
    if clients:
        measured += "; per client: " + "; ".join(
            f"{client} " + ", ".join(f"{lb} {n[lb]}" for lb in lbs) + f" (p={client_tests[client].p_value:.2g})"
            for client, n in clients.items())
    expected = (f"even over {len(lbs)} LBs" + (f", in total and for each of {len(clients)} clients" if clients else "")
                + f" (chi-square p >= {alpha:.2g}" + (f" per test, {FALSE_ALARM_RATE:g} over all" if clients else "")
                + ")")
    details = {"counts": dict(zip(lbs, counts)), "chi_square": test.chi_square, "dof": test.dof,
               "p_value": test.p_value, "false_alarm_rate": FALSE_ALARM_RATE, "alpha_per_test": alpha,
               "shares": {lb: {"share": s.share, "lower": s.lower, "upper": s.upper}
                          for lb, s in zip(lbs, test.shares)},
               **({"clients": {client: {"counts": n, "p_value": client_tests[client].p_value}
                               for client, n in clients.items()}} if clients else {})}
    uneven = [client for client, t in client_tests.items() if not t.consistent]
    if test.consistent and not uneven:
        return CheckResult("ecmp_spread", True, measured, expected, "", details)
    policy = m.sysctl.get("r1", {}).get(HASH_POLICY)
    idle = [lb for lb, c in zip(lbs, counts) if c == 0]
    via = m.nexthop_lbs()
    absent = [lb for lb in idle if lb not in via]
    pinned = [client for client in uneven if sum(n > 0 for n in clients[client].values()) == 1]
    top_lb, top = max(zip(lbs, counts), key=lambda pair: pair[1])
    if flows == 0:
        diagnosis = "no flow reached any LB: see no_loss"
    elif absent:
        diagnosis = (f"{', '.join(absent)} got no flows because r1's route to the VIP has no nexthop "
                     f"through {'them' if len(absent) > 1 else 'it'} (see ecmp_routes)")
    elif top == flows and policy == 0 and not clients:
        diagnosis = (f"all {flows} flows on {top_lb}: the router hashes on L3 only "
                     f"({HASH_POLICY}={policy}) and all flows share one source address")
    elif policy == 0:
        who = uneven or list(clients)
        diagnosis = (f"{', '.join(who)} {'each land' if len(who) > 1 else 'lands'} on "
                     f"{'one LB' if pinned == who else 'few LBs'}: " if clients else "") + (
                     f"the router hashes on L3 only ({HASH_POLICY}={policy}), and every flow of a client shares its "
                     "source and destination address; set it to 3 with fib_multipath_hash_fields=0x37 to hash on "
                     "the 5-tuple")
    elif idle:
        diagnosis = (f"{', '.join(idle)} got no flows although r1 routes through "
                     f"{'them' if len(idle) > 1 else 'it'}: its traffic was lost (see no_loss)")
    elif pinned:
        diagnosis = (f"{', '.join(pinned)} sent every flow to one LB although r1 hashes on the 5-tuple: its flows "
                     "differ too little (one source port?) or its traffic enters r1 where another hash applies")
    elif uneven and test.consistent:
        diagnosis = f"{', '.join(uneven)}: uneven beyond chance, though the total looks even"
    else:
        diagnosis = (f"uneven beyond chance (p={test.p_value:.2g}): unequal nexthop weights, or a "
                     f"hash input that varies too little across flows")
    return CheckResult("ecmp_spread", False, measured, expected, diagnosis, details)


def flow_stickiness(m):
    table = m.delivery.flow_table
    # Hash-threshold ECMP maps hash ranges to nexthop positions, so the seed fixes each flow's
    # position in r1's nexthop list; which LB holds a position follows the order zebra installed.
    position = {lb: str(i) for i, lb in enumerate(m.nexthop_lbs())}
    position_map = hashlib.sha256()
    arrived, split = 0, []
    for flow, seen in enumerate(table):  # one pass, nothing kept per flow: runs reach a million flows
        arrived += bool(seen)
        if len(seen) > 1:
            split.append(flow)
        position_map.update(((";" if flow else "") + ",".join(sorted(position.get(lb, "?") for lb in seen))).encode())
    measured = f"{arrived - len(split)}/{arrived} arrived flows at exactly one LB"
    expected = "every flow at exactly one LB"
    details = {"split_flows": split[:20], "split_count": len(split), "flows_arrived": arrived,
               "nexthop_order": m.nexthop_lbs(), "flow_position_sha256": position_map.hexdigest()}
    if not arrived:
        return CheckResult("flow_stickiness", False, measured, expected,
                           "no flow arrived at any LB, so stickiness cannot be shown: see no_loss", details)
    if not split:
        return CheckResult("flow_stickiness", True, measured, expected, "", details)
    changed = any(m.nexthop_lbs(route) != m.nexthop_lbs() for route in m.routes_during)
    cause = ("r1's route to the VIP changed during the traffic, so the hash mapped flows anew"
             if changed else
             "the router's hash is not a function of the 5-tuple alone (per-packet spraying or a "
             "sender-side socket hash)")
    example = split[0]
    spots = ", ".join(f"{lb} {n}" for lb, n in sorted(table[example].items()))
    return CheckResult("flow_stickiness", False, measured, expected,
                       f"{len(split)} flows split across LBs (flow {example}: {spots}): {cause}", details)


def no_loss(m):
    d = m.delivery
    intended = d.flows * d.packets_per_flow
    lost = intended - d.received
    measured = f"{d.received}/{intended} packets arrived ({lost} lost)"
    if d.send_errors:
        measured += f", {d.send_errors} refused by the clients' stacks"
    expected = "every packet sent arrives"
    details = {"intended": intended, "sent": d.sent, "received": d.received, "send_errors": d.send_errors,
               "kernel_drops": d.kernel_drops, "per_lb": {lb: r.packets for lb, r in d.per_lb.items()}}
    if lost == 0:
        return CheckResult("no_loss", True, measured, expected, "", details)
    via = m.nexthop_lbs()
    unbound = [lb for lb in m.scenario.lb_names if lb in via and not m.holds_vip(lb)]
    if unbound:
        diagnosis = (f"{', '.join(unbound)} announce{'s' if len(unbound) == 1 else ''} {m.scenario.vip} but "
                     f"do{'es' if len(unbound) == 1 else ''} not hold it on lo: r1 sends "
                     f"{'it' if len(unbound) == 1 else 'them'} its share of the flows and they are dropped")
    elif d.send_errors:
        diagnosis = f"the clients could not send (errno {d.send_errno}): no route to the VIP on the client"
    elif d.kernel_drops:
        diagnosis = f"{d.kernel_drops} packets overflowed a sink's socket queue: lower traffic.rate_pps"
    elif not m.route.present:
        diagnosis = "r1 has no route to the VIP, so it dropped everything"
    else:
        diagnosis = "packets vanished between r1 and the LBs: see the LBs' routes and sysctls"
    return CheckResult("no_loss", False, measured, expected, diagnosis, details)
