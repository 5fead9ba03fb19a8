"""DNS round-robin checks: what every answer holds, and whether the first address rotates."""
import math
from collections import Counter

from vipcheck.checks import FALSE_ALARM_RATE, CheckResult, timed


def dns_answers(probe, vips, ttl, zone_records, timeout_ms, stall):
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


def _binomial_two_sided(k, n):
    """Exact two-sided p-value of k successes in n fair trials."""
    def tail(j):
        return sum(math.comb(n, i) for i in range(j, n + 1)) / 2**n
    extreme = max(k, n - k)
    return min(1.0, 2 * tail(extreme))


def longest_run(sequence):
    best = current = 0
    for i, item in enumerate(sequence):
        current = current + 1 if i and item == sequence[i - 1] else 1
        best = max(best, current)
    return best


def run_limit(n, alpha):
    """Smallest L with P(some run >= L in n fair flips) <= alpha, by the union bound
    P <= (n - L + 1) * 2^(1 - L)."""
    length = 1
    while (n - length + 1) * 2.0 ** (1 - length) > alpha:
        length += 1
    return length


def dns_rotation(probe, order):
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
    limit = run_limit(n, FALSE_ALARM_RATE / 2)
    top = counts.most_common(1)[0][1] if counts else 0
    p_value = _binomial_two_sided(top, n) if len(counts) == 2 else 0.0
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
