"""ECMP beyond pass and fail (test_designs.py runs every case's stated outcome): what a
result carries, and that a seed reproduces the flow-to-LB map."""
from conftest import SHIPPED, vipcheck


def test_result_carries_measurements_and_timings(tmp_path):
    run = vipcheck("run", SHIPPED["ecmp-basic"], "--seed", 7, "--junit", tmp_path / "r.xml",
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
        run = vipcheck("run", SHIPPED["ecmp-basic"], "--seed", seed, tmp_path=tmp_path)
        return run.check("flow_stickiness")["details"]["flow_position_sha256"]
    first = flow_map(42)
    assert flow_map(42) == first
    assert flow_map(43) != first  # the map is not constant: the seed really drives it
