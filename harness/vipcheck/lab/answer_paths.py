"""What became of the LBs' answers, for every design whose LBs answer from the VIP: per client how
many of its requests reached an LB, how many answers came back and from which source address,
and what its kernel would do with them (the interface they arrive by, its route to the VIP, its
reverse-path filter); per LB how many answers its kernel took or refused, and the VIP's mask on
its lo. checks.return_path judges it."""
from dataclasses import dataclass, field

from vipcheck import _core, traffic


@dataclass
class AnswerPath:
    client: str
    address: str
    requests: int            # its requests that reached an LB
    answers: int             # answers it received
    sources: dict            # source address -> answers
    arrives_on: str          # the interface answers from the VIP reach it by
    route_to_vip: str        # the interface its own route to the VIP leaves by
    rp_filter: int           # effective reverse-path filter there: the larger of conf/all and the interface's


@dataclass
class LbAnswers:
    lb: str
    address: str             # its own address on the path, which a careless service answers from
    answered: int            # answers its kernel took
    refused: int             # ... and refused (no route back)
    errno: int
    vip_prefixlen: int       # the VIP's mask on its lo (None: not bound)


@dataclass
class ReturnPath:
    vip: str
    clients: list = field(default_factory=list)  # AnswerPath per client
    lbs: list = field(default_factory=list)      # LbAnswers per LB


def measure(lab, delivery, vip, clients, lbs):
    """clients: client -> the interface answers reach it by; lbs: LB -> its address on the path."""
    requests = {plan.client: 0 for plan in delivery.plans}
    for report in delivery.per_lb.values():
        counts = traffic.packet_counts(report)
        for plan in delivery.plans:
            requests[plan.client] += sum(counts[plan.first_flow_id:plan.first_flow_id + len(plan.src_ports)])
    path = ReturnPath(vip)
    for plan in delivery.plans:
        node, arrives_on = lab[plan.client], clients[plan.client]
        answers = delivery.answers[plan.client]
        values = dict(_core.read_sysctls(node.netns, [f"net.ipv4.conf.{scope}.rp_filter"
                                                      for scope in ("all", arrives_on)]))
        path.clients.append(AnswerPath(
            plan.client, plan.src_ip, requests[plan.client], answers.packets, dict(answers.sources), arrives_on,
            _core.lookup_route(node.netns, vip).ifname, max(int(value) for value in values.values())))
    for lb, address in lbs.items():
        report = delivery.per_lb[lb]
        on_lo = [a.prefix_len for a in _core.read_addresses(lab[lb].netns) if a.ifname == "lo" and a.address == vip]
        path.lbs.append(LbAnswers(lb, address, report.answers_sent, report.answer_errors, report.answer_errno,
                                  on_lo[0] if on_lo else None))
    return path

