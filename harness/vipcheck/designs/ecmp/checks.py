"""The ECMP checks: routes, spread, stickiness, loss."""
import hashlib
from dataclasses import dataclass, field

from vipcheck import _core
from vipcheck.checks import FALSE_ALARM_RATE, CheckResult

HASH_POLICY = "net.ipv4.fib_multipath_hash_policy"


@dataclass
class EcmpMeasurements:
    scenario: object
    lb_gateways: dict        # lb -> its uplink address, which r1 uses as the nexthop
    route: object            # _core.VipRoute read from r1 after traffic
    route_before: object     # ... and before traffic
    delivery: object         # traffic.Delivery
    sysctl: dict             # node -> effective sysctls
    lb_addresses: dict       # lb -> [(ifname, address, prefix_len)]
    other_routers: dict = field(default_factory=dict)  # r2 -> (its route after traffic, {lb: gateway})
    failover: object = None  # timeline.FailoverMeasurement, when the scenario has failures
    lo_routes: list = field(default_factory=list)  # lab.lo_routes.LoRoutes per LB, when lo_route is asked

    def nexthop_lbs(self, route=None, gateways=None):
        by_gateway = {gw: lb for lb, gw in (gateways or self.lb_gateways).items()}
        return [by_gateway.get(hop.gateway, hop.gateway or hop.ifname) for hop in (route or self.route).nexthops]

    def holds_vip(self, lb):
        return any(address == self.scenario.vip and ifname == "lo" for ifname, address, _ in self.lb_addresses[lb])


def ecmp_routes(m):
    """Every router holds one nexthop per LB; with two routers, both must."""
    results = [_routes_on(m, "r1", m.route, m.lb_gateways)]
    results += [_routes_on(m, router, route, gateways) for router, (route, gateways) in m.other_routers.items()]
    if len(results) == 1:
        return results[0]
    return CheckResult("ecmp_routes", all(r.passed for r in results), "; ".join(r.measured for r in results),
                       f"on every router: {results[0].expected}",
                       "; ".join(r.diagnosis for r in results if not r.passed),
                       {f"r{i}": r.details for i, r in enumerate(results, 1)})


def _routes_on(m, router, route, gateways):
    lbs = m.scenario.lb_names
    via = m.nexthop_lbs(route, gateways)
    expected = f"{len(lbs)} nexthops, one per LB ({', '.join(lbs)})"
    if not route.present:
        return CheckResult("ecmp_routes", False, f"no route to {m.scenario.vip} on {router}", expected,
                           f"{router} learned no route to the VIP: no LB's OSPF announcement reached it "
                           "(adjacency down or the VIP not redistributed)")
    measured = f"{router}: {len(via)} nexthops ({', '.join(via) or 'none'}), {route.protocol}"
    missing = [lb for lb in lbs if lb not in via]
    passed = not missing and sorted(via) == sorted(lbs)
    diagnosis = ""
    if missing:
        costs = {lb: m.scenario.ospf.cost_of(lb) for lb in lbs}
        cheapest = min(costs.values())
        dearer = [lb for lb in missing if costs[lb] > cheapest]
        if dearer:
            diagnosis = (f"{', '.join(dearer)} missing: OSPF cost {costs[dearer[0]]} on its link exceeds the "
                         f"cheapest LB's {cheapest}, and OSPF installs only equal-cost best paths")
        else:
            diagnosis = (f"{', '.join(missing)} missing: {router} has no OSPF path through it "
                         "(adjacency down or its VIP announcement withdrawn)")
    elif not passed:
        diagnosis = f"{router}'s route has nexthops that are not LBs: {', '.join(via)}"
    return CheckResult("ecmp_routes", passed, measured, expected, diagnosis,
                       {"nhid": route.nhid, "nexthops": [{"gateway": h.gateway, "ifname": h.ifname,
                                                          "weight": h.weight} for h in route.nexthops]})


def ecmp_spread(m):
    lbs = m.scenario.lb_names
    per_lb = m.delivery.flows_per_lb()
    counts = [per_lb.get(lb, 0) for lb in lbs]
    test = _core.test_spread(counts, [], FALSE_ALARM_RATE)
    flows = sum(counts)
    measured = ", ".join(f"{lb} {c} ({s.share:.1%})" for lb, c, s in zip(lbs, counts, test.shares))
    measured += f"; chi2={test.chi_square:.1f} dof={test.dof} p={test.p_value:.2g}"
    expected = f"even over {len(lbs)} LBs (chi-square p >= {FALSE_ALARM_RATE:g})"
    details = {"counts": dict(zip(lbs, counts)), "chi_square": test.chi_square, "dof": test.dof,
               "p_value": test.p_value, "false_alarm_rate": FALSE_ALARM_RATE,
               "shares": {lb: {"share": s.share, "lower": s.lower, "upper": s.upper}
                          for lb, s in zip(lbs, test.shares)}}
    if test.consistent:
        return CheckResult("ecmp_spread", True, measured, expected, "", details)
    diagnosis = ""
    if flows == 0:
        diagnosis = "no flow reached any LB: see no_loss"
    else:
        policy = m.sysctl.get("r1", {}).get(HASH_POLICY)
        idle = [lb for lb, c in zip(lbs, counts) if c == 0]
        via = m.nexthop_lbs()
        absent = [lb for lb in idle if lb not in via]
        top_lb, top = max(zip(lbs, counts), key=lambda pair: pair[1])
        if top == flows and policy == 0 and m.scenario.clients == 1:
            diagnosis = (f"all {flows} flows on {top_lb}: the router hashes on L3 only "
                         f"({HASH_POLICY}={policy}) and all flows share one source address")
        elif policy == 0:
            diagnosis = (f"the router hashes on L3 only ({HASH_POLICY}={policy}): flows of one client "
                         f"address cannot spread; set it to 1 to hash on the 5-tuple")
        elif absent:
            diagnosis = (f"{', '.join(absent)} got no flows because r1's route to the VIP has no nexthop "
                         f"through {'them' if len(absent) > 1 else 'it'} (see ecmp_routes)")
        elif idle:
            diagnosis = (f"{', '.join(idle)} got no flows although r1 routes through "
                         f"{'them' if len(idle) > 1 else 'it'}: its traffic was lost (see no_loss)")
        else:
            diagnosis = (f"uneven beyond chance (p={test.p_value:.2g}): unequal nexthop weights, or a "
                         f"hash input that varies too little across flows")
    return CheckResult("ecmp_spread", False, measured, expected, diagnosis, details)


def client_spread(m):
    """Every client's flows spread evenly over the LBs, not only all clients' together: a router
    that hashes on the source address alone puts each client on one LB, and with a few clients
    the total can still look even. One chi-square test per client at FALSE_ALARM_RATE divided
    by the number of clients (Bonferroni): the run's false-alarm rate stays FALSE_ALARM_RATE."""
    lbs, table, plans = m.scenario.lb_names, m.delivery.flow_table, m.delivery.plans
    alpha = FALSE_ALARM_RATE / max(1, len(plans))
    per_client = {}
    for plan in plans:
        counts = dict.fromkeys(lbs, 0)
        for flow in range(plan.first_flow_id, plan.first_flow_id + len(plan.src_ports)):
            seen = {lb: n for lb, n in table[flow].items() if lb in counts}
            if seen:
                counts[max(seen, key=seen.get)] += 1
        per_client[plan.client] = (counts, _core.test_spread([counts[lb] for lb in lbs], [], alpha))
    measured = "; ".join(f"{client}: " + ", ".join(f"{lb} {n}" for lb, n in counts.items()) + f" (p={test.p_value:.2g})"
                         for client, (counts, test) in per_client.items())
    expected = (f"each client's flows even over {len(lbs)} LBs (chi-square p >= {alpha:.2g} per client, "
                f"{FALSE_ALARM_RATE:g} over {len(per_client)} clients)")
    details = {"false_alarm_rate": FALSE_ALARM_RATE, "per_client_alpha": alpha,
               "clients": {client: {"counts": counts, "p_value": test.p_value}
                           for client, (counts, test) in per_client.items()}}
    uneven = [client for client, (_, test) in per_client.items() if not test.consistent]
    if not uneven:
        return CheckResult("client_spread", True, measured, expected, "", details)
    on_one = [client for client in uneven if sum(n > 0 for n in per_client[client][0].values()) == 1]
    policy = m.sysctl.get("r1", {}).get(HASH_POLICY)
    if not any(sum(counts.values()) for counts, _ in per_client.values()):
        diagnosis = "no flow reached any LB: see no_loss"
    elif policy == 0:
        diagnosis = (f"{', '.join(uneven)} {'each land' if len(uneven) > 1 else 'lands'} on "
                     f"{'one LB' if on_one == uneven else 'few LBs'}: the router hashes on L3 only "
                     f"({HASH_POLICY}={policy}), and every flow of a client shares its source and destination "
                     "address; set it to 1 to hash on the 5-tuple")
    elif on_one:
        diagnosis = (f"{', '.join(on_one)} sent every flow to one LB although r1 hashes on the 5-tuple: its flows "
                     "differ too little (one source port?) or its traffic enters r1 where another hash applies")
    else:
        diagnosis = f"{', '.join(uneven)}: uneven beyond chance, though the total may look even (see ecmp_spread)"
    return CheckResult("client_spread", False, measured, expected, diagnosis, details)


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
    changed = m.nexthop_lbs(m.route_before) != m.nexthop_lbs(m.route)
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


CHECKS = {"ecmp_routes": ecmp_routes, "ecmp_spread": ecmp_spread, "client_spread": client_spread,
          "flow_stickiness": flow_stickiness, "no_loss": no_loss}
