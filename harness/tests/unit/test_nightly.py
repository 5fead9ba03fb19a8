"""The nightly's cells: a red night names what failed for certain and why, by seed."""
from types import SimpleNamespace

from vipcheck import nightly
from vipcheck.checks import CheckResult


def run(seed, *checks):
    return SimpleNamespace(seed=seed, passed=all(c.passed for c in checks), checks=list(checks))


def test_a_cell_keeps_each_failure_with_its_seed_and_diagnosis():
    gap = CheckResult("failover_gap", True, "gap 120 ms", "at most 300 ms", details={"gap_ms_max": 120.0})
    late = CheckResult("recovery", False, "r1's route never got all its nexthops back", "whole again",
                       "lb2 came back but r1 took it into its ECMP set again only after the recovery wait")
    stalled = CheckResult("failover_gap", False, "gap 900 ms", "at most 300 ms", "inconclusive: the machine stalled",
                          details={"gap_ms_max": 900.0}, inconclusive=True)
    cell = nightly._cell("silent_drop", "bfd", [run(5, gap, late), run(6, stalled)])
    assert cell["failed_for_certain"] == ["recovery"]
    assert cell["failed_checks"] == ["failover_gap", "recovery"]
    assert [(f["seed"], f["check"], f["verdict"]) for f in cell["failures"]] == [
        (5, "recovery", "FAIL"), (6, "failover_gap", "INCONCLUSIVE")]
    assert "only after the recovery wait" in cell["failures"][0]["diagnosis"]
    assert nightly.broken({"cells": [cell]}) == [cell]
