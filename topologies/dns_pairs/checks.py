"""Every check the dns-pairs design can be held to, each a function of its measurements alone
(measurements.DnsPairsMeasurements): one master per pair, what every DNS answer holds and whether
its first address rotates, each VIP served by one LB, the takeover when an active LB crashes,
and sessions through either VIP."""
from collections import Counter

from vipcheck import _core
from vipcheck.checks import FALSE_ALARM_RATE, CheckResult, timed


def convergence(m):
    """Every pair elected one master, the same one for a whole master-down interval: a split brain
    never converges, nor does a pair without a master."""
    masters = m.convergence.get("masters", {})
    expected = "one LB answers ARP for each VIP, the same one for a master-down interval"
    measured = "; ".join(f"VIP {pair.upper()}: {', '.join(lbs) or 'nobody'}" for pair, lbs in masters.items()) \
        or "no pair built (DNS checks alone)"
    faults = [f"{len(lbs)} LBs answer ARP for VIP {pair.upper()} ({', '.join(lbs)}): split brain, VRRP adverts do "
              "not reach between them" if lbs else f"no LB answers ARP for VIP {pair.upper()}: keepalived elected no "
              "master" for pair, lbs in masters.items() if len(lbs) != 1]
    return CheckResult("convergence", m.convergence["reached"] and not faults,
                       measured + f" after {m.convergence['seconds']} s", expected, "; ".join(faults),
                       {"masters": masters})


def dns_answers(m):
    s = m.scenario
    probe, vips, ttl, timeout_ms, stall = m.dns_probe, [s.vips[p] for p in s.pairs], s.dns_ttl, m.dns_timeout_ms, \
        m.dns_stall
    zone_records = [s.vips[p] for p in s.dns_records]
    expected_set = sorted(vips)
    wrong = [a for a in probe.answers if sorted(a.addresses) != expected_set]
    bad_ttl = [a for a in probe.answers if a.ttl != ttl]
    seen = Counter(tuple(sorted(a.addresses)) for a in probe.answers)
    measured = (f"{len(probe.answers)}/{probe.sent} answered; address sets: " +
                "; ".join(f"{', '.join(k) or 'none'} x{n}" for k, n in seen.most_common()) +
                f"; TTLs: {sorted({a.ttl for a in probe.answers})}")
    expected = f"every answer holds exactly {', '.join(expected_set)} with TTL {ttl}"
    passed = bool(probe.answers) and not wrong and not bad_ttl and probe.timeouts == 0
    diagnosis = ""
    if not probe.answers:
        diagnosis = "the DNS server did not answer: see named.log in the run folder"
    elif wrong:
        missing = sorted(set(vips) - set(zone_records))
        held = sorted({x for a in wrong for x in a.addresses})
        diagnosis = (f"answers held only {', '.join(held) or 'nothing'}: the zone has no A record for "
                     f"{', '.join(missing)}" if missing else
                     f"answers held {', '.join(held)}: the zone's records differ from the VIPs")
    elif bad_ttl:
        diagnosis = f"TTL {bad_ttl[0].ttl} where the design sets {ttl}: the zone's TTL differs"
    elif probe.timeouts:
        diagnosis = f"{probe.timeouts} queries got no answer within {timeout_ms} ms"
    details = {"sent": probe.sent, "answered": len(probe.answers), "timeouts": probe.timeouts,
               "rtt_ms_max": round(max((a.rtt_ns for a in probe.answers), default=0) / 1e6, 2)}
    result = CheckResult("dns_answers", passed, measured, expected, diagnosis, details)
    # Timed by its per-query timeout alone: a query lost only to that, the machine's stall can explain.
    lost_to_the_clock = not passed and probe.answers and not wrong and not bad_ttl
    return timed(result, timeout_ms if lost_to_the_clock else 0.0, stall)


def longest_run(sequence):
    best = current = 0
    for i, item in enumerate(sequence):
        current = current + 1 if i and item == sequence[i - 1] else 1
        best = max(best, current)
    return best


def dns_rotation(m):
    probe, order = m.dns_probe, m.scenario.rrset_order
    firsts = [a.addresses[0] for a in probe.answers if a.addresses]
    counts = Counter(firsts)
    n = len(firsts)
    letters = {address: chr(ord("A") + i) for i, address in enumerate(sorted(counts))}
    pattern = "".join(letters[f] for f in firsts[:24]) + ("..." if n > 24 else "")
    run = longest_run(firsts)
    summary = (f"first address over {n} answers: " + ", ".join(f"{a} x{c}" for a, c in counts.most_common()) +
               f"; longest run {run}; sequence {pattern}")
    details = {"firsts": dict(counts), "longest_run": run, "order": order or "default"}
    if order == "cyclic":
        expected = "strict alternation of the first address (rrset-order cyclic)"
        breaks = [i for i in range(1, n) if firsts[i] == firsts[i - 1]]
        passed = len(counts) >= 2 and not breaks
        diagnosis = "" if passed else (
            f"the first address repeated at answer {breaks[0] + 1}: the server does not rotate cyclically"
            if breaks else f"only {', '.join(counts)} ever came first: the server does not rotate")
        return CheckResult("dns_rotation", passed, summary, expected, diagnosis, details)
    # Random order: the split and the longest run each get half the false-alarm budget.
    limit = _core.run_length_limit(n, FALSE_ALARM_RATE / 2)
    top = counts.most_common(1)[0][1] if counts else 0
    p_value = _core.binomial_two_sided_p(top, n) if len(counts) == 2 else 0.0
    passed = len(counts) == 2 and p_value >= FALSE_ALARM_RATE / 2 and run < limit
    expected = (f"both addresses come first, split within binomial bounds (p >= {FALSE_ALARM_RATE / 2:g}) "
                f"and no run of {limit} or more")
    details.update({"binomial_p": p_value, "run_limit": limit, "false_alarm_rate": FALSE_ALARM_RATE})
    diagnosis = ""
    if len(counts) < 2:
        diagnosis = (f"{next(iter(counts), 'nothing')} came first in all {n} answers: the server does not rotate"
                     f"{' (rrset-order ' + order + ')' if order else ''}")
    elif not passed:
        diagnosis = (f"the first address is not random: split p={p_value:.2g}, longest run {run}"
                     f"{' (rrset-order ' + order + ')' if order else ''}")
    return CheckResult("dns_rotation", passed, summary, expected, diagnosis, details)


def vip_pairs(m):
    states, scenario = m.pair_states, m.scenario
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


def vrrp_failover(m):
    f, scenario = m.takeover, m.scenario
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
        takeover = scenario.master_down_s(f.standby)
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
        explainable.append((scenario.master_down_s(backup) * 1000, f.other_stall))
    if not faults or len(explainable) != len(faults):
        return timed(result, 0.0, f.stall)
    excess, stall = min(explainable, key=lambda pair: pair[1].ms - pair[0])  # the one least explained
    return timed(result, excess, stall)


def session_sharing(m):
    sessions, scenario = m.sessions, m.scenario
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


CHECKS = {check.__name__: check for check in (convergence, dns_answers, dns_rotation, vip_pairs, vrrp_failover,
                                              session_sharing)}
