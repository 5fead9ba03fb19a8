"""One folder per design under test: its topology, how to build it, wait for it, drive
traffic and measure it (design.py), the checks that judge those measurements, and a README.
base.py says what the runner asks of each."""
from vipcheck.designs.dns_pairs.design import DnsPairsDesign
from vipcheck.designs.ecmp.design import EcmpDesign
from vipcheck.designs.lo_subnet.design import LoSubnetDesign

DESIGNS = {"ecmp": EcmpDesign, "lo-subnet": LoSubnetDesign, "dns-pairs": DnsPairsDesign}
