"""The return path, for every design whose LBs answer from the VIP: every request that reached an
LB got its answer at the client, from the VIP. The diagnosis names what kept an answer: a service
that answers from another address, no route back, a VIP on lo wider than /32 that swallows the
client's own address, or a strict reverse-path filter on a client whose route to the VIP leaves by
another interface than the answers arrive by."""
import ipaddress
import os

from vipcheck.checks import CheckResult


def return_path(m):
    """m.return_path: lab.answer_paths.ReturnPath."""
    path = m.return_path
    lbs = {lb.address: lb.lb for lb in path.lbs}
    measured, faults, details = [], [], {"clients": {}, "lbs": {}}
    for c in path.clients:
        from_vip = c.sources.get(path.vip, 0)
        others = {address: n for address, n in c.sources.items() if address != path.vip}
        measured.append(f"{c.client}: {from_vip}/{c.requests} answered from the VIP"
                        + (f", {sum(others.values())} from " + ", ".join(others) if others else ""))
        details["clients"][c.client] = {"address": c.address, "requests": c.requests, "answers": c.answers,
                                        "sources": c.sources, "arrives_on": c.arrives_on,
                                        "route_to_vip": c.route_to_vip, "rp_filter": c.rp_filter}
        if from_vip >= c.requests and not others:
            continue
        faults.append(_why(c, others, path, lbs))
    for lb in path.lbs:
        details["lbs"][lb.lb] = {"answered": lb.answered, "refused": lb.refused, "errno": lb.errno,
                                 "vip_prefixlen": lb.vip_prefixlen}
    expected = "every request that reached an LB answered at its client, from the VIP"
    return CheckResult("return_path", not faults, "; ".join(measured), expected, "; ".join(faults), details)


def _why(client, others, path, lbs):
    """The most likely cause of one client's missing answers, first what the LBs' own kernels said."""
    missing = client.requests - client.sources.get(path.vip, 0)
    if others:
        who = ", ".join(f"{address} ({lbs.get(address, 'not an LB')})" for address in others)
        return (f"answers to {client.client} came from {who}, not the VIP: the service answers from the address "
                "its route picks (a socket bound to any address), not the VIP it was asked on")
    refused = [lb for lb in path.lbs if lb.refused]
    if refused:
        reason = os.strerror(refused[0].errno) if refused[0].errno else "refused"
        return (f"{', '.join(lb.lb for lb in refused)} could not send {sum(lb.refused for lb in refused)} answers "
                f"({reason}): no route back to {client.client} ({client.address})")
    wide = [lb for lb in path.lbs if lb.vip_prefixlen is not None and lb.vip_prefixlen < 32
            and ipaddress.IPv4Address(client.address) in
            ipaddress.IPv4Network(f"{path.vip}/{lb.vip_prefixlen}", strict=False)]
    if wide:
        return (f"{', '.join(lb.lb for lb in wide)} hold{'s' if len(wide) == 1 else ''} the VIP as "
                f"/{wide[0].vip_prefixlen} on lo, which takes {client.client}'s {client.address} in: the answers "
                "to it are delivered to lo, never to the client; bind the VIP as /32")
    wider = [lb for lb in path.lbs if lb.vip_prefixlen is not None and lb.vip_prefixlen < 32]
    if wider:
        return (f"{', '.join(lb.lb for lb in wider)} hold{'s' if len(wider) == 1 else ''} the VIP as "
                f"/{wider[0].vip_prefixlen} on lo, which takes in the addresses around it, the next hop towards "
                f"{client.client} among them: its answers are delivered to lo; bind the VIP as /32")
    if client.rp_filter == 1 and client.route_to_vip != client.arrives_on:
        return (f"rp_filter=1 (strict) on {client.client}: the answers from the VIP arrive by {client.arrives_on}, "
                f"but its route to the VIP leaves by {client.route_to_vip or 'nowhere'} (an asymmetric return path), "
                "so its kernel drops them; rp_filter=2 (loose) or a route to the VIP by "
                f"{client.arrives_on} keeps them")
    return (f"{missing} answers to {client.client} were lost between the LBs and it: see the captures and the nodes' "
            "routes in the artifacts")
