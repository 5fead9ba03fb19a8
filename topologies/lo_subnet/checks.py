"""Every check the lo-subnet design can be held to, each a function of its measurements alone
(measurements.LoSubnetMeasurements): the segment ready, the /32 rule (vipcheck/checks/lo_route.py,
shared with every design that binds its VIP on lo), reachability of the LB's own neighbours, the
VIP from a client, ARP silence for the VIP, and the answers from the VIP (vipcheck/checks/return_path.py)."""
from vipcheck.checks import CheckResult
from vipcheck.checks.lo_route import lo_route, swallowed
from vipcheck.checks.return_path import return_path


def convergence(m):
    """The segment is ready: every LB and the gateway answered the neighbour's ARP."""
    c = m.convergence
    expected = f"every LB and the gateway answer ARP from the neighbour within {c['timeout_ms']} ms"
    if c["reached"]:
        return CheckResult("convergence", True, f"all answered in {c['seconds']} s", expected)
    silent = ", ".join(c["silent"]) or "none"
    return CheckResult("convergence", False, f"no ARP answer from {silent}", expected,
                       f"{silent} did not answer ARP for {'its' if len(c['silent']) == 1 else 'their'} own uplink "
                       "address: a link without carrier, or arp_ignore 8", {"silent": c["silent"]})


def lo_reachability(m):
    results, routes_by_lb = m.reachability, {r.lb: r for r in m.lo_routes}
    failures = [r for r in results if r.arrived < r.sent or r.sent == 0]
    measured = "; ".join(f"{r.lb}->{r.target} {r.arrived}/{r.sent}" for r in results)
    expected = "every packet each LB sends to its neighbour and gateway arrives there"
    diagnoses = []
    for lb in sorted({r.lb for r in failures}):
        routes = routes_by_lb.get(lb)
        wide = swallowed(routes) if routes else None
        if wide:
            diagnoses.append(wide)
        else:
            lost = ", ".join(f"{r.target} {r.address}" for r in failures if r.lb == lb)
            diagnoses.append(f"{lb}'s packets to {lost} did not arrive: see its routes and the segment")
    details = {f"{r.lb}->{r.target}": {"address": r.address, "sent": r.sent, "arrived": r.arrived} for r in results}
    return CheckResult("lo_reachability", not failures, measured, expected, "; ".join(diagnoses), details)


def vip_reachable(m):
    delivery, routed_to, lbs = m.delivery, m.vip_routed_to, m.scenario.lb_names
    per_lb = {lb: report.packets for lb, report in delivery.per_lb.items()}
    intended = delivery.flows * delivery.packets_per_flow
    strays = [lb for lb, packets in per_lb.items() if packets and lb not in routed_to]
    measured = f"{delivery.received}/{intended} packets at the VIP (" + \
        ", ".join(f"{lb} {per_lb.get(lb, 0)}" for lb in lbs) + ")"
    expected = f"every packet from the client reaches the VIP on {', '.join(routed_to) or 'the routed LB'}"
    passed = delivery.received == intended and not strays and bool(routed_to)
    diagnosis = ""
    if not routed_to:
        diagnosis = "the gateway has no route to the VIP through any LB"
    elif strays:
        diagnosis = f"{', '.join(strays)} received VIP traffic the gateway does not route to them: ARP flux"
    elif delivery.received < intended:
        idle = [lb for lb in routed_to if not per_lb.get(lb)]
        diagnosis = (f"{', '.join(idle)} got nothing although the gateway routes the VIP to "
                     f"{'it' if len(idle) == 1 else 'them'}: the VIP is not bound there"
                     if idle else "packets to the VIP were lost between the gateway and the LBs")
    return CheckResult("vip_reachable", passed, measured, expected, diagnosis,
                       {"per_lb": per_lb, "routed_to": list(routed_to), "intended": intended})


def arp_suppression(m):
    """m.arp_probe: _core.ArpProbeResult; m.lb_macs: lb -> MAC; m.arp_sysctls: lb ->
    {"arp_ignore": (all, uplink), "arp_announce": (all, uplink)}; m.vip_arp_frames: the ARP frames
    on the segment that named the VIP as their sender while the LBs answered from it."""
    probe, vip, lb_macs, arp_sysctls = m.arp_probe, m.scenario.vip, m.lb_macs, m.arp_sysctls
    lb_uplinks = dict(zip(m.scenario.lb_names, m.scenario.lb_addresses))
    by_mac = {mac: lb for lb, mac in lb_macs.items()}
    vip_answers = sorted({by_mac.get(r.sender_mac, r.sender_mac) for r in probe.replies if r.sender_ip == vip})
    silent = [lb for lb, address in lb_uplinks.items()
              if not any(r.sender_ip == address and r.sender_mac == lb_macs[lb] for r in probe.replies)]
    claims = {}  # LB -> the addresses it asked for while naming the VIP as its sender
    for frame in m.vip_arp_frames:
        claims.setdefault(by_mac.get(frame.sender_mac, frame.sender_mac), set()).add(frame.target_ip)
    measured = (f"{len(vip_answers)} answered ARP for the VIP"
                f"{' (' + ', '.join(vip_answers) + ')' if vip_answers else ''}; "
                f"{len(lb_uplinks) - len(silent)}/{len(lb_uplinks)} LBs answered for their uplink address; "
                f"{len(m.vip_arp_frames)} ARP frames on the segment named the VIP as their sender")
    expected = ("no LB answers ARP for the VIP or names it as the sender of its own ARP; every LB answers for "
                "its own uplink address")
    diagnoses = []
    if vip_answers:
        ignoring_zero = [lb for lb in vip_answers if lb in arp_sysctls and max(arp_sysctls[lb]["arp_ignore"]) == 0]
        noun = "LB" if len(vip_answers) == 1 else "LBs"
        cause = (f"arp_ignore is 0 on {', '.join(ignoring_zero)}" if ignoring_zero else
                 "their arp_ignore does not keep lo's addresses out of ARP replies")
        diagnoses.append(f"{len(vip_answers)} {noun} answered ARP for the VIP: {cause}")
    if claims:
        announcing = [lb for lb in sorted(claims) if lb in arp_sysctls and max(arp_sysctls[lb]["arp_announce"]) == 0]
        cause = (f"arp_announce is 0 on {', '.join(announcing)}, so an LB's ARP takes the source of the packet "
                 "that needs it, the VIP; 2 makes it name its uplink address" if announcing else
                 "their arp_announce lets the VIP be an ARP sender")
        asked = "; ".join(f"{lb} asking for {', '.join(sorted(targets))}" for lb, targets in sorted(claims.items()))
        diagnoses.append(f"{len(m.vip_arp_frames)} ARP requests named the VIP as their sender ({asked}), teaching "
                         f"the segment that the VIP lives at one LB's MAC: {cause}")
    if silent:
        diagnoses.append(f"{', '.join(silent)} did not answer ARP for {'its' if len(silent) == 1 else 'their'} "
                         f"own uplink address: arp_ignore too strict (8 ignores everything) or the link is down")
    details = {"replies": [{"ip": r.sender_ip, "mac": r.sender_mac, "lb": by_mac.get(r.sender_mac)}
                           for r in probe.replies],
               "requests_sent": probe.requests_sent, "listened_ms": round(probe.listened_ns / 1e6, 1),
               "sysctl": arp_sysctls,
               "vip_sender_frames": [{"op": f.op, "lb": by_mac.get(f.sender_mac, f.sender_mac), "target": f.target_ip,
                                      "port": f.ifname} for f in m.vip_arp_frames]}
    return CheckResult("arp_suppression", not vip_answers and not silent and not claims, measured, expected,
                       "; ".join(diagnoses), details)


CHECKS = {check.__name__: check for check in (convergence, lo_route, lo_reachability, vip_reachable,
                                              arp_suppression, return_path)}
