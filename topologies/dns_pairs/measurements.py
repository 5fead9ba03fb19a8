"""What the dns-pairs design measures: DnsPairsMeasurements, which measure() returns and every
check judges, with the pairs' states and the takeover experiment's record."""
from dataclasses import dataclass, field

from vipcheck.lab.stall import Stall


@dataclass
class Takeover:
    pair: str
    crashed: str
    standby: str
    sent: int = 0
    received: int = 0
    per_lb: dict = field(default_factory=dict)
    gap_ms: object = None
    other_pair: str = ""
    other_sent: int = 0
    other_received: int = 0
    other_per_lb: dict = field(default_factory=dict)
    holder_after: list = field(default_factory=list)
    preempt: bool = True
    returned_to: str = ""
    return_ms: object = None
    stall: object = field(default_factory=Stall)  # lab.stall.Stall from the crash to the standby's first packet
    other_stall: object = field(default_factory=Stall)  # ... over the whole stream, with the other pair's keepalived wait


@dataclass
class PairState:
    """What one pair looks like from outside: who answers ARP for the VIP, who holds it."""
    pair: str
    vip: str
    arp_lbs: list            # LBs whose MAC answered ARP for the VIP
    holders: list            # LBs with the VIP on an interface
    http_lb: str             # the LB named by the service's answer through the VIP
    http_error: str = ""


@dataclass
class DnsPairsMeasurements:
    """What the dns-pairs design measured; its checks judge these alone."""
    scenario: object
    convergence: dict        # converge()'s record: the masters of every pair, steady for a master-down interval
    dns_probe: object        # _core DNS probe: every query, answer and time
    dns_stall: object        # lab.stall.Stall over the queries
    dns_timeout_ms: int      # a query unanswered this long counted as lost
    pair_states: dict        # pair -> PairState
    sessions: dict           # the login and whoami steps through both VIPs
    takeover: Takeover = None  # when vrrp_failover or session_sharing is asked
