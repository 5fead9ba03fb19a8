"""The ECMP design's routing checks: OSPF converged, and every router holds one path per LB."""
from vipcheck.checks import CheckResult


def convergence(m):
    """OSPF installed exactly the paths the design calls for on every router, and every LB learned
    its way back to the clients, within convergence_timeout_s: nothing else is measured meaningfully
    before."""
    c = m.convergence
    expected = (f"within {m.scenario.convergence_timeout_s} s, {c['waited_on']}'s route to {c['destination']} "
                "via exactly " + ", ".join(c["expected_nexthops"]) + " and every router's and LB's route alike")
    if c["reached"]:
        return CheckResult("convergence", True, f"converged in {c['seconds']} s", expected, "",
                           {"seconds": c["seconds"]})
    seen = c["nexthops_seen"]
    return CheckResult("convergence", False,
                       f"{c['waited_on']}'s route to {c['destination']} via {', '.join(seen) or 'nothing'} after "
                       f"{m.scenario.convergence_timeout_s} s", expected,
                       f"OSPF did not converge on {c['waited_on']}: see its ospf-neighbours.json and the FRR logs in "
                       "the artifacts", {"nexthops_seen": seen})


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
