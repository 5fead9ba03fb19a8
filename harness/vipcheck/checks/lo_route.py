"""The VIP-on-lo /32 rule, for every design whose LBs bind the VIP on lo: the VIP is local, the
LB's neighbours, gateway and the outside leave through its uplink, and lo holds no prefix wider
than a host route (which would make the kernel treat a whole subnet as local)."""
import ipaddress

from vipcheck.checks import CheckResult


def swallowed(routes):
    """The diagnosis for an LB whose lo address covers more than the VIP, or None.
    routes: lab.lo_routes.LoRoutes."""
    plen = routes.vip_prefixlen()
    if plen is None or plen == 32:
        return None
    network = ipaddress.IPv4Network(f"{routes.vip}/{plen}", strict=False)
    victims = [(label, address) for label, (address, lookup) in routes.lookups.items()
               if ipaddress.IPv4Address(address) in network]
    if victims:
        address = victims[0][1]
        return (f"{routes.lb} holds {routes.vip}/{plen} on lo: the kernel routes all of {network} to lo, "
                f"so {address} is unreachable from {routes.lb} (ip route get says local)")
    return (f"{routes.lb} holds {routes.vip}/{plen} on lo: the kernel treats all of {network} as local "
            f"and black-holes any neighbour in it")


def lo_route(m):
    """m.lo_routes: lab.lo_routes.LoRoutes per LB, in any design's measurements that has them."""
    all_routes = m.lo_routes
    problems, diagnoses = [], []
    per_lb = {}
    for r in all_routes:
        faults = []
        if r.vip_prefixlen() is None:
            faults.append(f"VIP {r.vip} is not bound on lo")
        elif r.vip_lookup.type != "local":
            faults.append(f"VIP {r.vip} is not local (lookup: {r.vip_lookup.type or r.vip_lookup.error})")
        elif r.vip_prefixlen() != 32:  # judged by the address itself, not only by the routes it makes
            faults.append(f"VIP {r.vip} is bound as /{r.vip_prefixlen()} on lo, not /32")
        for label, (address, lookup) in r.lookups.items():
            if lookup.type != "unicast" or lookup.ifname != r.uplink:
                where = f"{lookup.type} via {lookup.ifname}" if lookup.found else lookup.error
                faults.append(f"{label} {address} resolves {where}, not via {r.uplink}")
        for prefix, plen in r.wide_local:
            faults.append(f"local table holds {prefix}/{plen} on lo")
        per_lb[r.lb] = {"vip_prefixlen": r.vip_prefixlen(), "vip_lookup": r.vip_lookup.type,
                        "lookups": {label: {"address": a, "type": l.type, "ifname": l.ifname, "error": l.error}
                                    for label, (a, l) in r.lookups.items()},
                        "wide_local": [f"{p}/{n}" for p, n in r.wide_local], "faults": faults}
        if faults:
            problems.append(f"{r.lb}: {faults[0]}")
            diagnoses.append(swallowed(r) or f"{r.lb}: {'; '.join(faults)}")
    targets = ", ".join(all_routes[0].lookups) if all_routes else ""
    expected = f"on every LB the VIP is local, {targets} leave via the uplink, no lo prefix wider than /32"
    measured = "; ".join(problems) if problems else f"{len(all_routes)} LBs: VIP local /32, every lookup via uplink"
    return CheckResult("lo_route", not problems, measured, expected, "; ".join(diagnoses), {"lbs": per_lb})
