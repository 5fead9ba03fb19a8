"""DNS round-robin across two active/standby VIP pairs with shared sessions: the shipped
design passes; each negative control fails the check its fault breaks, and only that."""
import pytest

from conftest import REPO, assert_design

CASES = REPO / "cases"

DESIGNS = [
    pytest.param(CASES / "dns-pairs-one-vip.yaml", {"dns_answers", "dns_rotation"},
                 {"dns_answers": ["answers held only 10.10.1.100", "no A record for 10.10.2.100"]},
                 id="zone-with-only-vip-a"),
    pytest.param(CASES / "dns-pairs-no-rotation.yaml", {"dns_rotation"},
                 {"dns_rotation": ["came first in all 100 answers: the server does not rotate"]},
                 id="rrset-order-none"),
    pytest.param(CASES / "dns-pairs-random.yaml", set(), {}, id="rrset-order-random"),
    pytest.param(CASES / "dns-pairs-bind-default.yaml", set(), {}, id="rrset-order-bind-default"),
    pytest.param(CASES / "dns-pairs-no-preempt.yaml", set(), {}, id="no-preempt-standby-keeps-vip",
                 marks=pytest.mark.timed),
    pytest.param(CASES / "dns-pairs-split-brain.yaml", {"vip_pairs"},
                 {"vip_pairs": ["2 LBs hold VIP A (lb-a1, lb-a2): split brain"]}, id="vrrp-blocked"),
    pytest.param(CASES / "dns-pairs-slow-adverts.yaml", {"vrrp_failover"},
                 {"vrrp_failover": ["exceeds 1000 ms", "at advert_interval 0.5 s"]}, id="slow-vrrp-adverts",
                 marks=pytest.mark.timed),
    pytest.param(CASES / "dns-pairs-local-sessions.yaml", {"session_sharing"},
                 {"session_sharing": ["the session was unknown", "not in the shared Redis"]},
                 id="sessions-not-shared"),
]


@pytest.mark.parametrize("scenario, must_fail, diagnosis_words", DESIGNS)
def test_design(scenario, must_fail, diagnosis_words, tmp_path):
    assert_design(scenario, must_fail, diagnosis_words, tmp_path)


@pytest.mark.timed
def test_shipped_design_passes_failover_measured_other_pair_untouched(tmp_path):
    run = assert_design(REPO / "topologies/dns-pairs.yaml", set(), {}, tmp_path)
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
    run = assert_design(CASES / "dns-pairs-equal-priority.yaml", set(), {}, tmp_path)
    for pair in run.check("vip_pairs")["details"].values():
        assert len(pair["holders"]) == 1 and pair["arp"] == pair["holders"]
