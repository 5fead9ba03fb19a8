"""Every case that states its outcome in an `expect:` block, run once: a sound design passes
every check; a broken one fails exactly the checks its block names, each for certain (FAIL,
never INCONCLUSIVE), with the words its diagnosis must hold. Each runs in a view of /tmp,
/var/tmp and /run (cases/overlay_view.py) and, passing or failing, leaves no file there outside
its folders. Adding a negative control is adding one scenario file to its design's cases/ (the
writing of one: each design's README under topologies/)."""
import csv
from pathlib import Path

import pytest

from artifact_reading import assert_every_daemon_log_is_kept
from capture_reading import assert_gaps_agree_with_the_capture
from dns_reading import assert_only_the_dns_path_is_built
from lo_reading import assert_arp_replies_name_each_lb_by_its_mac, assert_lookups_and_sysctls_come_from_the_kernel
from conftest import CASES, SHIPPED, assert_design
from vipcheck.scenario import load_case

# A case that holds a design to a time runs under CTest's one-at-a-time lock (cases/conftest.py).
TIMED_CHECKS = {"failover_gap", "route_withdrawn", "recovery", "flows_moved", "vrrp_failover", "rebalance",
                "connections_kept"}  # its stalls and its window are timed


def assert_the_restore_brought_lb2_back(run):
    """No connection broke on the restore because lb2 really came back, not because nothing moved;
    lb2's own connections did break when it left."""
    failure, restore = run.check("connections_kept")["details"]["events"]
    assert "lb2" not in failure["route_after"] and "lb2" in restore["route_after"], (failure, restore)
    assert failure["broken_departing"] > 0, failure


def assert_every_connection_has_its_fate(run):
    """The JSON and the artifacts' connections.csv hold a row per connection, and the ones that
    ended are the ones the check counted broken."""
    rows = run.result["connections"]
    assert [row["id"] for row in rows] == list(range(256)), rows[:3]
    with open(Path(run.result["artifacts"]) / "connections.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [(t["id"], t["lb"], t["state"]) for t in table] == [(str(r["id"]), r["lb"], r["state"]) for r in rows]
    event = run.check("connections_kept")["details"]["events"][0]
    assert sum(row["state"] != "open" for row in rows) == event["broken"] > 0, event


# Runs also read beyond their verdicts: a failover detected late (dead interval 3 s) has long
# per-flow gaps that r1's capture bounds from both sides; a failing dns-pairs run keeps every
# daemon's log; DNS checks alone build the DNS path alone; the VIP-on-lo checks report what the
# kernel and the wire said; a resilient group's restore brought the LB back; every connection's
# fate is in the JSON and connections.csv.
READ_FURTHER = {"ecmp-failover-dead3": assert_gaps_agree_with_the_capture,
                "dns-pairs-local-sessions": assert_every_daemon_log_is_kept,
                "dns-pairs-random": assert_only_the_dns_path_is_built,
                "lo-subnet": assert_lookups_and_sysctls_come_from_the_kernel,
                "lo-subnet-arp-flux": assert_arp_replies_name_each_lb_by_its_mac,
                "ecmp-connections-failure-resilient": assert_the_restore_brought_lb2_back,
                "ecmp-connections-add": assert_every_connection_has_its_fate}


def stated_cases():
    params = []
    for path in [*SHIPPED.values(), *CASES.values()]:
        spec, expect = load_case(path)
        if expect is not None:
            timed = [pytest.mark.timed] if TIMED_CHECKS & set(spec.checks) else []
            params.append(pytest.param(path, expect, id=path.stem, marks=timed))
    return params


@pytest.mark.parametrize("scenario, expect", stated_cases())
def test_design(scenario, expect, tmp_path, view):
    run = assert_design(scenario, set(expect), expect, tmp_path, view)
    if scenario.stem in READ_FURTHER:
        READ_FURTHER[scenario.stem](run)
    # A sound design converges; a split brain, for one, never does (ECMP reports it as a failed check).
    assert run.result["convergence"]["reached"] or expect, run.result["convergence"]


def test_every_negative_control_is_stated():
    """The design documents list these controls; each must be discovered here."""
    stems = {param.id for param in stated_cases()}
    assert set(READ_FURTHER) <= stems
    assert len(stems) >= 25 and {"ecmp-hash-l3", "lo-subnet-arp-flux", "dns-pairs-split-brain",
                                 "ecmp-failover-dead3", "ecmp-basic", "lo-subnet"} <= stems
