"""Active/standby pair checks: one LB answers for each VIP, failover keeps the gap short and
the other pair untouched, and sessions work through either VIP."""
from vipcheck.checks import CheckResult, timed


def master_down_s(scenario, priority):
    """RFC 5798: how long a backup waits before it takes over: 3 adverts plus its skew."""
    advert = scenario.advert_interval
    return 3 * advert + (256 - priority) * advert / 256


def vip_pairs(states, scenario):
    faults, parts = [], []
    for pair, state in states.items():
        lbs = scenario.pairs[pair].lbs
        prios = {lb: scenario.priorities[lb] for lb in lbs}
        preferred = [lb for lb in lbs if prios[lb] == max(prios.values())]
        parts.append(f"VIP {pair.upper()} {state.vip}: ARP from {', '.join(state.arp_lbs) or 'nobody'}, "
                     f"held by {', '.join(state.holders) or 'nobody'}, served by {state.http_lb or state.http_error}")
        if len(state.holders) > 1 or len(state.arp_lbs) > 1:
            blocked = pair in scenario.vrrp_blocked
            faults.append(f"{len(state.holders)} LBs hold VIP {pair.upper()} ({', '.join(state.holders)}): split brain, "
                          f"VRRP adverts do not reach between them" + (" (a firewall drops VRRP on both)" if blocked
                                                                        else ""))
        elif not state.holders or not state.arp_lbs:
            faults.append(f"no LB holds VIP {pair.upper()}: keepalived elected no master")
        elif state.arp_lbs != state.holders:
            faults.append(f"VIP {pair.upper()} held by {state.holders[0]} but ARP answered by {state.arp_lbs[0]}")
        elif scenario.preempt and len(preferred) == 1 and state.holders[0] != preferred[0]:
            faults.append(f"VIP {pair.upper()} held by {state.holders[0]}, not by {preferred[0]} whose priority "
                          f"{prios[preferred[0]]} is highest")
        elif state.http_lb != state.holders[0]:
            faults.append(f"the service through VIP {pair.upper()} answered from {state.http_lb or 'nowhere'} "
                          f"({state.http_error or 'not the holder'})")
    expected = ("each VIP held, answered for (ARP) and served by exactly one LB of its pair"
                + (", the highest-priority one" if scenario.preempt else ""))
    details = {p: {"arp": s.arp_lbs, "holders": s.holders, "http_lb": s.http_lb, "http_error": s.http_error}
               for p, s in states.items()}
    return CheckResult("vip_pairs", not faults, "; ".join(parts), expected, "; ".join(faults), details)


def vrrp_failover(f, scenario):
    lost = f.sent - f.received
    other_lost = f.other_sent - f.other_received
    other_lbs = [lb for lb, n in f.other_per_lb.items() if n]
    measured = (f"{f.crashed} crashed: VIP {f.pair.upper()} moved to {', '.join(f.holder_after) or 'nobody'}, "
                f"gap {f.gap_ms if f.gap_ms is not None else '-'} ms, {lost}/{f.sent} lost; "
                f"VIP {f.other_pair.upper()}: {other_lost}/{f.other_sent} lost via {', '.join(other_lbs) or 'nobody'}; "
                f"on return ({'preempt' if f.preempt else 'no preempt'}) held by {f.returned_to or 'nobody'}"
                + (f" after {f.return_ms} ms" if f.return_ms is not None else ""))
    expected = (f"the standby {f.standby} takes VIP {f.pair.upper()} within {scenario.max_gap_ms} ms, "
                f"the other pair loses "
                f"nothing; on return the VIP goes {'back to ' + f.crashed if f.preempt else 'nowhere'}")
    faults, late = [], False
    if f.holder_after != [f.standby]:
        faults.append(f"after the crash VIP {f.pair.upper()} is held by {', '.join(f.holder_after) or 'nobody'}, "
                      f"not {f.standby}: the standby did not take over")
    if f.gap_ms is None:
        faults.append(f"no traffic reached {f.standby} after the crash")
    elif f.gap_ms > scenario.max_gap_ms:
        late = True
        takeover = master_down_s(scenario, scenario.priorities[f.standby])
        faults.append(f"gap {f.gap_ms} ms exceeds {scenario.max_gap_ms} ms: the standby waits 3 adverts plus "
                      f"its skew, {takeover * 1000:.0f} ms at advert_interval {scenario.advert_interval} s, before "
                      "it takes over")
    other_moved = bool(other_lost or len(other_lbs) != 1)
    if other_moved:
        faults.append(f"pair {f.other_pair} was affected: {other_lost} lost, served by {', '.join(other_lbs)}")
    back = f.returned_to.split(", ") if f.returned_to else []
    if f.preempt and back != [f.crashed]:
        faults.append(f"with preemption the VIP should return to {f.crashed}, but {f.returned_to or 'nobody'} holds it")
    if not f.preempt and back != [f.standby]:
        faults.append(f"without preemption {f.standby} should keep the VIP, but {f.returned_to or 'nobody'} holds it")
    details = {"crashed": f.crashed, "standby": f.standby, "gap_ms": f.gap_ms, "sent": f.sent, "received": f.received,
               "per_lb": f.per_lb, "other_pair": {"sent": f.other_sent, "received": f.other_received,
                                                  "per_lb": f.other_per_lb},
               "return_ms": f.return_ms, "returned_to": f.returned_to,
               "advert_interval_s": scenario.advert_interval}
    result = CheckResult("vrrp_failover", not faults, measured, expected, "; ".join(faults), details,
                         figures={"VRRP takeover gap ms": f.gap_ms, "VIP return ms": f.return_ms})
    # A takeover that was merely late, and the untouched pair's backup taking over (its master's
    # keepalived kept from running for a master-down interval), can be the machine's; any other
    # fault is the design's. Inconclusive only when the machine explains every fault there is.
    explainable = []
    if late:
        explainable.append((f.gap_ms - scenario.max_gap_ms, f.stall))
    if other_moved:
        backup = min(scenario.pairs[f.other_pair].lbs, key=lambda lb: scenario.priorities[lb])
        explainable.append((master_down_s(scenario, scenario.priorities[backup]) * 1000, f.other_stall))
    if not faults or len(explainable) != len(faults):
        return timed(result, 0.0, f.stall)
    excess, stall = min(explainable, key=lambda pair: pair[1].ms - pair[0])  # the one least explained
    return timed(result, excess, stall)


def session_sharing(sessions, scenario):
    user = sessions["user"]
    login = sessions["login"]
    steps = sessions["steps"]
    parts = [f"login via VIP A: HTTP {login.get('status')} on {login.get('lb') or '-'}"]
    parts += [f"{s['step']}: HTTP {s['status']} user {s['user'] or '-'} on {s['lb'] or '-'}/{s['backend'] or '-'}"
              for s in steps]
    expected = f"a session made through VIP A is valid through VIP B and after pair A's failover (user {user})"
    faults = []
    if login.get("status") != 200 or not sessions["cookie"]:
        faults.append(f"login through VIP A failed ({login.get('error') or 'HTTP ' + str(login.get('status'))})")
    for step in steps:
        if step["user"] != user:
            faults.append(f"{step['step']} the session was unknown (HTTP {step['status']}"
                          f"{': ' + step['error'] if step['error'] else ''})")
    diagnosis = "; ".join(faults)
    if faults and scenario.session_store == "local":
        diagnosis += ": the backends keep sessions in their own memory, not in the shared Redis"
    return CheckResult("session_sharing", not faults, "; ".join(parts), expected, diagnosis,
                       {"user": user, "login": login, "steps": steps})
