"""Each design's CHECKS: every check a scenario may name is there, and each judges recorded
measurements alone, without a network."""
from types import SimpleNamespace

from conftest import REPO
from vipcheck import scenario
from vipcheck.designs import DESIGNS
from vipcheck.designs.lo_subnet.checks import LoSubnetMeasurements
from vipcheck.designs.lo_subnet.routes import LoRoutes
from vipcheck.scenario import load


def test_every_check_a_scenario_may_name_is_in_its_designs_registry():
    names = {"ecmp": set(scenario.KNOWN_ECMP_CHECKS + scenario.FAILOVER_CHECKS),
             "lo-subnet": set(scenario.LO_SUBNET_CHECKS), "dns-pairs": set(scenario.DNS_PAIRS_CHECKS)}
    assert {topology: set(design.CHECKS) for topology, design in DESIGNS.items()} == names


def test_a_registry_entry_judges_the_measurements_it_is_given():
    s = load(REPO / "topologies/lo-subnet.yaml")
    lookup = SimpleNamespace(type="local", oif="lo", src="")
    wide = LoRoutes("lb1", s.vip, "lb1-eth0", lookup, [(s.vip, 24)])
    sound = LoRoutes("lb2", s.vip, "lb2-eth0", lookup, [(s.vip, 32)])
    delivery = SimpleNamespace(sent=8, received=8, per_lb={"lb1": SimpleNamespace(packets=8),
                                                          "lb2": SimpleNamespace(packets=0)})
    m = LoSubnetMeasurements(s, [wide, sound], delivery, ["lb1", "lb2"])
    verdict = DESIGNS["lo-subnet"].CHECKS["lo_route"](m)
    assert not verdict.passed and "lb1 holds" in verdict.diagnosis and "/24 on lo" in verdict.diagnosis
    assert DESIGNS["lo-subnet"].CHECKS["lo_route"](LoSubnetMeasurements(s, [sound], delivery, [])).passed
