"""ECMP: the shipped scenario passes; each negative control fails exactly the checks its
broken design must fail, with the cause named."""
import pytest

from conftest import REPO, assert_design, vipcheck

CASES = REPO / "cases"

# (scenario, checks that must fail, words the failing diagnosis must contain)
DESIGNS = [
    pytest.param(REPO / "topologies/ecmp-basic.yaml", set(), {}, id="ecmp-basic"),
    pytest.param(CASES / "ecmp-hash-l3.yaml", {"ecmp_spread"},
                 {"ecmp_spread": ["all 2048 flows on", "fib_multipath_hash_policy=0", "one source address"]},
                 id="hash-l3-one-client"),
    pytest.param(CASES / "ecmp-two-clients.yaml", set(), {}, id="two-clients-four-lbs"),
    pytest.param(CASES / "ecmp-hash-l3-two-clients.yaml", {"client_spread"},
                 {"client_spread": ["c1, c2 each land on one LB", "fib_multipath_hash_policy=0"]},
                 id="hash-l3-two-clients"),
    pytest.param(CASES / "ecmp-unequal-cost.yaml", {"ecmp_routes", "ecmp_spread"},
                 {"ecmp_routes": ["lb2 missing", "OSPF cost 20"], "ecmp_spread": ["lb2 got no flows"]},
                 id="unequal-ospf-cost"),
    pytest.param(CASES / "ecmp-vip-missing.yaml", {"no_loss", "ecmp_spread", "lo_route"},
                 {"no_loss": ["lb2 announces 10.100.0.1 but does not hold it on lo"],
                  "lo_route": ["lb2: VIP 10.100.0.1 is not bound on lo"]},
                 id="vip-missing-on-lo"),
    pytest.param(CASES / "ecmp-lo-prefix24.yaml", {"lo_route"},
                 {"lo_route": ["lb1 holds 10.100.0.1/24 on lo", "all of 10.100.0.0/24"]},
                 id="vip-on-lo-as-24"),
]


@pytest.mark.parametrize("scenario, must_fail, diagnosis_words", DESIGNS)
def test_design(scenario, must_fail, diagnosis_words, tmp_path):
    run = assert_design(scenario, must_fail, diagnosis_words, tmp_path)
    assert run.result["convergence"]["reached"], run.result["convergence"]


def test_result_carries_measurements_and_timings(tmp_path):
    run = vipcheck("run", REPO / "topologies/ecmp-basic.yaml", "--seed", 7, "--junit", tmp_path / "r.xml",
                   tmp_path=tmp_path)
    result = run.result
    assert set(result) >= {"scenario", "passed", "checks", "timings"}
    assert result["scenario"] == "ecmp-basic" and result["seed"] == 7
    for check in result["checks"]:
        assert set(check) >= {"name", "passed", "measured", "expected", "diagnosis"}
    assert set(result["timings"]) >= {"build", "converge", "traffic", "checks", "teardown", "total"}
    assert result["traffic"]["sent"] == 2048 * 4
    # The effective sysctls are the ones the kernel reports, per node.
    assert result["sysctl"]["r1"]["net.ipv4.fib_multipath_hash_policy"] == 1
    assert result["sysctl"]["r1"]["net.ipv4.ip_forward"] == 1
    assert result["sysctl"]["lb1"]["net.ipv4.conf.all.rp_filter"] == 0
    junit = (tmp_path / "r.xml").read_text()
    assert 'testsuite name="ecmp-basic"' in junit and junit.count("<testcase") == len(result["checks"])
    assert "ecmp_routes" in run.stdout and "PASS" in run.stdout  # the table


def test_same_seed_same_flow_to_lb_map(tmp_path):
    """A seed fixes the 5-tuples and the router's hash seed, so every flow takes the nexthop
    position it took before (which LB sits at a position depends on zebra's install order)."""
    def flow_map(seed):
        (tmp_path / "result.json").unlink(missing_ok=True)
        run = vipcheck("run", REPO / "topologies/ecmp-basic.yaml", "--seed", seed, tmp_path=tmp_path)
        return run.check("flow_stickiness")["details"]["flow_position_sha256"]
    first = flow_map(42)
    assert flow_map(42) == first
    assert flow_map(43) != first  # the map is not constant: the seed really drives it
