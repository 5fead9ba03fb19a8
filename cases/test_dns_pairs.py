"""DNS round-robin across two active/standby VIP pairs with shared sessions, beyond pass and
fail (test_designs.py runs every case's stated outcome): the shipped design's failover measured."""
import pytest

from conftest import CASES, SHIPPED, assert_design



@pytest.mark.timed
def test_shipped_design_passes_failover_measured_other_pair_untouched(tmp_path):
    run = assert_design(SHIPPED["dns-pairs"], set(), {}, tmp_path)
    failover = run.check("vrrp_failover")["details"]
    assert failover["crashed"] == "lb-a1" and failover["standby"] == "lb-a2"
    # The gap is a measurement, reported; it must exist and be shorter than the stream.
    assert 0 < failover["gap_ms"] < 4000
    assert failover["per_lb"]["lb-a2"] > 0 and failover["per_lb"]["lb-a1"] > 0
    assert failover["other_pair"]["sent"] == failover["other_pair"]["received"]
    assert failover["returned_to"] == "lb-a1" and failover["return_ms"] is not None
    steps = run.check("session_sharing")["details"]["steps"]
    assert steps[-1]["lb"] == "lb-a2"  # the session survived through the standby


def test_equal_priorities_no_preempt_elect_one_master_per_pair(tmp_path):
    run = assert_design(CASES["dns-pairs-equal-priority"], set(), {}, tmp_path)
    for pair in run.check("vip_pairs")["details"].values():
        assert len(pair["holders"]) == 1 and pair["arp"] == pair["holders"]
