"""What the lo-subnet design measures: LoSubnetMeasurements, which measure() returns and every
check judges."""
from dataclasses import dataclass, field


@dataclass
class Reachability:
    """Packets an LB sent to one of its segment peers, and how many the peer's sink recorded."""
    lb: str
    target: str      # label: neighbour, gateway
    address: str
    sent: int
    arrived: int


@dataclass
class LoSubnetMeasurements:
    """What the lo-subnet design measured; its checks judge these alone."""
    scenario: object
    convergence: dict            # converge()'s record: every LB answered ARP, and how fast
    lo_routes: list              # lab.lo_routes.LoRoutes per LB
    delivery: object             # traffic.Delivery from the client to the VIP
    vip_routed_to: list          # the LBs the gateway's VIP route names
    reachability: list = field(default_factory=list)  # Reachability per LB and target, when lo_reachability is asked
    arp_probe: object = None     # _core ARP probe from the neighbour, when arp_suppression is asked
    lb_macs: dict = None
    arp_sysctls: dict = None     # LB -> {name: (conf/all, the uplink's own)}
    vip_arp_frames: list = field(default_factory=list)  # ARP frames on the segment claiming the VIP, while the LBs answered
    return_path: object = None   # lab.answer_paths.ReturnPath: the LBs' answers to the client and the neighbour
