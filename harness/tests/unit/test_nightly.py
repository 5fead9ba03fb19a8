"""The nightly's cells: a red night names what failed for certain and why, by seed; a matrix is
judged, before any network, by the generic schema and by its base design's convergence.py."""
import io
from types import SimpleNamespace

import pytest

from conftest import CASES, REPO, SHIPPED
from vipcheck import nightly
from vipcheck.checks import CheckResult
from topologies.ecmp import convergence as ecmp_cells
from vipcheck.errors import ScenarioError


def run(seed, *checks):
    return SimpleNamespace(seed=seed, passed=all(c.passed for c in checks), checks=list(checks))


def test_a_cell_keeps_each_failure_with_its_seed_and_diagnosis():
    gap = CheckResult("failover_gap", True, "gap 120 ms", "at most 300 ms", figures={"failover gap ms": 120.0})
    late = CheckResult("recovery", False, "r1's route never got all its nexthops back", "whole again",
                       "lb2 came back but r1 took it into its ECMP set again only after the recovery wait")
    stalled = CheckResult("failover_gap", False, "gap 900 ms", "at most 300 ms", "inconclusive: the machine stalled",
                          figures={"failover gap ms": 900.0}, inconclusive=True)
    cell = nightly._cell("silent_drop", "bfd", [run(5, gap, late), run(6, stalled)], ecmp_cells.FIGURES)
    assert cell["failed_for_certain"] == ["recovery"]
    assert cell["failed_checks"] == ["failover_gap", "recovery"]
    assert [(f["seed"], f["check"], f["verdict"]) for f in cell["failures"]] == [
        (5, "recovery", "FAIL"), (6, "failover_gap", "INCONCLUSIVE")]
    assert "only after the recovery wait" in cell["failures"][0]["diagnosis"]
    assert nightly.broken({"cells": [cell]}) == [cell]
    assert cell["figures"]["gap_ms"]["values"] == [120.0, 900.0] and "detection_ms" not in cell["figures"]


def test_the_base_designs_cells_fill_the_failures_and_shape_each_cell(tmp_path):
    path = tmp_path / "matrix.yaml"
    path.write_text(f"name: tiny\nbase: {SHIPPED['ecmp-failover']}\nprofiles: {{bfd: {{bfd: true}}}}\n")
    matrix = nightly.load_matrix(path)
    assert matrix["topology"] == "ecmp" and matrix["failures"] == ("link_down", "silent_drop", "frr_crash", "drain")
    spec = nightly.cell_scenario(matrix, "drain", "bfd", tmp_path)
    assert [(f.type, f.target, f.at_ms) for f in spec.failures] == [("drain", "lb2", 500), ("restore", "lb2", 1800)]
    assert spec.ospf.bfd and spec.checks == ("convergence", "failover_gap", "route_withdrawn", "recovery", "flows_moved")
    assert [f["words"] for f in nightly.tracked(matrix)] == ["gap", "route change", "recovery"]


@pytest.mark.parametrize("base, extra, words", [
    ("{lo}", "", "base: a lo_subnet scenario: that design has no nightly convergence cells (designs with them: ecmp)"),
    ("{ecmp}", "failures: [meteor]\n", "failures: unknown failure 'meteor' (known: link_down"),
    ("{ecmp}", "profiles: {{fast: {{helo: 1}}}}\n", "profiles.fast.helo: unknown key (known here: bfd, dead"),
    ("{ecmp}", "repeats: 0\n", "repeats: must be between 1 and 100, got 0"),
    ("{ecmp}", "known_defects: [{{scenario: {nhg}, fails: [no_loss]}}]\n",
     "known_defects[0].fails: names 'no_loss', a check its scenario does not run (it runs: "),
    ("no/such.yaml", "", "base: no such scenario"),
])
def test_a_bad_matrix_is_one_line_naming_the_key(tmp_path, base, extra, words):
    paths = {"lo": SHIPPED["lo-subnet"], "ecmp": SHIPPED["ecmp-failover"], "nhg": CASES["ecmp-failover-link-flap-nhg"]}
    path = tmp_path / "matrix.yaml"
    profiles = "" if extra.startswith("profiles:") else "profiles: {bfd: {bfd: true}}\n"
    path.write_text(f"name: tiny\nbase: {base.format(**paths)}\n{profiles}{extra.format(**paths)}")
    with pytest.raises(ScenarioError) as caught:
        nightly.load_matrix(path)
    assert words in str(caught.value) and "\n" not in str(caught.value), str(caught.value)


def test_the_shipped_matrix_is_valid_as_it_stands():
    matrix = nightly.load_matrix(REPO / "ci/nightly-matrix.yaml")
    assert matrix["topology"] == "ecmp" and matrix["known_defects"][0]["fails"] == ["recovery"]


def test_each_cell_runs_its_repeats_in_fresh_runs_with_seeds_from_its_place_in_the_matrix(tmp_path, monkeypatch):
    """The seeds an unsharded night gives (seed + 1000 x the cell's index + the repeat), so a
    sharded night runs the same runs; the cases run a matrix of one repeat for real."""
    path = tmp_path / "matrix.yaml"
    path.write_text(f"name: tiny\nbase: {SHIPPED['ecmp-failover']}\nfailures: [silent_drop, drain]\n"
                    "profiles: {bfd: {bfd: true}}\nrepeats: 3\n")
    matrix = nightly.load_matrix(path)
    ran = []

    def run_scenario(spec, seed=None):
        ran.append((spec.failure.type, seed))
        gap = CheckResult("failover_gap", True, "gap", "at most", figures={"failover gap ms": float(seed)})
        return SimpleNamespace(seed=seed, passed=True, checks=[gap], timeline=None)
    monkeypatch.setattr(nightly.experiment, "run_scenario", run_scenario)
    quiet = SimpleNamespace(show=lambda label: None, step=lambda label: None)
    report = nightly.run_matrix(matrix, seed=5, progress=quiet, shard=(2, 2))
    assert ran == [("drain", 1005), ("drain", 1006), ("drain", 1007)] and report["known_defects"] == []
    cell, = report["cells"]
    assert (cell["failure"], cell["runs"], cell["passed"], cell["seeds"]) == ("drain", 3, 3, [1005, 1006, 1007])
    assert cell["figures"]["gap_ms"]["values"] == [1005.0, 1006.0, 1007.0]


def test_the_matrix_schema_and_every_designs_cells_schema_are_valid():
    from vipcheck.designs import convergence, names
    from vipcheck.schema import Validator
    Validator.check_schema(nightly.MATRIX_SCHEMA)
    cells = [convergence(topology) for topology in names()]
    assert any(cells)
    for module in filter(None, cells):
        Validator.check_schema(module.CELLS_SCHEMA)


class Log(io.StringIO):
    """A stream that is not a terminal (CI's log)."""


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_writes_one_line_per_finished_run_into_a_log_and_redraws_on_a_terminal():
    log = Log()
    progress = nightly.Progress(2, stream=log)
    for run in ("link_down / bfd #1", "link_down / bfd #2"):
        progress.show(run)
        progress.step(run)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 2
    assert lines[0].startswith("nightly: 1/2 link_down / bfd #1 in ") and lines[1].startswith("nightly: 2/2 ")
    terminal = Terminal()
    bar = nightly.Progress(2, stream=terminal)
    bar.show("link_down / bfd #1")
    bar.step("link_down / bfd #1")
    assert terminal.getvalue().count("\r") == 2 and "\n" not in terminal.getvalue()


def test_the_gap_plot_has_a_panel_per_profile(monkeypatch):
    from vipcheck.report import html
    cells = [{"failure": f, "profile": p, "figures": {"gap_ms": {"values": values}}}
             for f, p, values in (("link_down", "bfd-50x3", [5.0, 6.0]), ("silent_drop", "bfd-50x3", [150.0, 160.0]),
                                  ("silent_drop", "dead-3s", [2400.0, 2450.0]))]
    shown, real = [], html.plt.subplots
    monkeypatch.setattr(html.plt, "subplots", lambda *args, **kwargs: shown.append(args) or real(*args, **kwargs))
    assert html.box_plot({"figures": [{"figure": "gap_ms", "words": "gap"}], "cells": cells}).startswith("<img")
    assert shown == [(1, 2)]  # one row, a panel for each of the two profiles
