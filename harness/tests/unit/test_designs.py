"""Each design's CHECKS: every check a scenario may name is there, and each judges recorded
measurements alone, without a network."""
from types import SimpleNamespace

import pytest

from conftest import SHIPPED
from topologies.lo_subnet.measurements import LoSubnetMeasurements
from vipcheck.designs import design_class, names, scenario_keys
from vipcheck.lab.lo_routes import LoRoutes
from vipcheck.scenario import load


def test_every_check_a_scenario_may_name_is_in_its_designs_registry():
    for topology in names():
        named = set(scenario_keys(topology).SCHEMA["properties"]["checks"]["items"]["enum"])
        assert set(design_class(topology).CHECKS) == named, topology


def test_a_registry_entry_judges_the_measurements_it_is_given():
    s = load(SHIPPED["lo-subnet"])
    lookup = SimpleNamespace(type="local", oif="lo", src="")
    wide = LoRoutes("lb1", s.vip, "lb1-eth0", lookup, [(s.vip, 24)])
    sound = LoRoutes("lb2", s.vip, "lb2-eth0", lookup, [(s.vip, 32)])
    delivery = SimpleNamespace(sent=8, received=8, per_lb={"lb1": SimpleNamespace(packets=8),
                                                          "lb2": SimpleNamespace(packets=0)})
    m = LoSubnetMeasurements(s, {"reached": True}, [wide, sound], delivery, ["lb1", "lb2"])
    verdict = design_class("lo_subnet").CHECKS["lo_route"](m)
    assert not verdict.passed and "lb1 holds" in verdict.diagnosis and "/24 on lo" in verdict.diagnosis
    sound_only = LoSubnetMeasurements(s, {"reached": True}, [sound], delivery, [])
    assert design_class("lo_subnet").CHECKS["lo_route"](sound_only).passed


def test_the_experiment_writes_what_a_phase_returns_and_refuses_a_field_no_result_holds():
    from vipcheck.experiment import RunResult
    result = RunResult("s", "s.yaml", "ab12", 1)
    result.record({"convergence": {"reached": False}})
    assert result.convergence == {"reached": False} and not result.checks
    with pytest.raises(ValueError, match="'verdict'"):
        result.record({"verdict": "PASSED"})  # a design may not write the verdict
    with pytest.raises(ValueError, match="'checks'"):
        result.record({"checks": []})  # nor a verdict of its own: every check is judged from the measurements


def test_convergence_is_judged_first_in_every_design_whatever_the_scenario_lists():
    for path in SHIPPED.values():
        assert load(path).checks[0] == "convergence"
