"""Each design's CHECKS: every check a scenario may name is there, and each judges recorded
measurements alone, without a network."""
from types import SimpleNamespace

import pytest

from conftest import SHIPPED
from vipcheck.designs import DESIGNS, design_class, scenario_keys
from vipcheck.designs.lo_subnet.checks import LoSubnetMeasurements
from vipcheck.lab.lo_routes import LoRoutes
from vipcheck.scenario import load


def test_every_check_a_scenario_may_name_is_in_its_designs_registry():
    for topology in DESIGNS:
        named = set(scenario_keys(topology).SCHEMA["properties"]["checks"]["items"]["enum"])
        assert set(design_class(topology).CHECKS) == named, topology


def test_a_registry_entry_judges_the_measurements_it_is_given():
    s = load(SHIPPED["lo-subnet"])
    lookup = SimpleNamespace(type="local", oif="lo", src="")
    wide = LoRoutes("lb1", s.vip, "lb1-eth0", lookup, [(s.vip, 24)])
    sound = LoRoutes("lb2", s.vip, "lb2-eth0", lookup, [(s.vip, 32)])
    delivery = SimpleNamespace(sent=8, received=8, per_lb={"lb1": SimpleNamespace(packets=8),
                                                          "lb2": SimpleNamespace(packets=0)})
    m = LoSubnetMeasurements(s, [wide, sound], delivery, ["lb1", "lb2"])
    verdict = design_class("lo-subnet").CHECKS["lo_route"](m)
    assert not verdict.passed and "lb1 holds" in verdict.diagnosis and "/24 on lo" in verdict.diagnosis
    assert design_class("lo-subnet").CHECKS["lo_route"](LoSubnetMeasurements(s, [sound], delivery, [])).passed


def test_the_runner_writes_what_a_phase_returns_and_refuses_a_field_no_result_holds():
    from vipcheck.checks import CheckResult
    from vipcheck.runner import RunResult
    result = RunResult("s", "s.yaml", "ab12", 1)
    failed = CheckResult("convergence", False, "1 nexthop", "2 nexthops")
    result.record({"convergence": {"reached": False}, "checks": [failed]})
    assert result.convergence == {"reached": False} and result.checks == [failed] and not result.passed
    with pytest.raises(ValueError, match="'verdict'"):
        result.record({"verdict": "PASSED"})  # a design may not write the verdict
