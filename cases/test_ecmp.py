"""ECMP beyond pass and fail (test_designs.py runs every case's stated outcome): what a
result carries, that a seed reproduces the flow-to-LB map, and --repeat."""
from conftest import CASES, SHIPPED, vipcheck


def test_same_seed_same_flow_to_lb_map_and_repeat_sums_the_runs_up(tmp_path):
    """A seed fixes the 5-tuples and the router's hash seed, so every flow takes the nexthop
    position it took before (which LB sits at a position depends on zebra's install order).
    --repeat 2 from seed 42 runs seeds 42 and 43, each in a network of its own; the run of seed 42
    again carries what a result must."""
    def flow_map(run_result):
        check = next(c for c in run_result["checks"] if c["name"] == "flow_stickiness")
        return check["details"]["flow_position_sha256"]
    repeated = vipcheck("run", SHIPPED["ecmp-basic"], "--seed", 42, "--repeat", 2, tmp_path=tmp_path)
    assert repeated.status == 0 and "2 runs, 2 passed" in repeated.stdout, repeated.stdout + repeated.stderr
    runs = repeated.result["runs"]
    assert [r["seed"] for r in runs] == [42, 43] and repeated.result["passed"]
    assert repeated.result["repeat"]["total s"]["n"] == 2
    assert len({r["run_id"] for r in runs}) == 2
    (tmp_path / "result.json").unlink()
    again = vipcheck("run", SHIPPED["ecmp-basic"], "--seed", 42, "--junit", tmp_path / "r.xml", tmp_path=tmp_path)
    assert flow_map(again.result) == flow_map(runs[0])
    assert flow_map(runs[1]) != flow_map(runs[0])  # the map is not constant: the seed really drives it
    assert_result_carries_measurements_and_timings(again, tmp_path / "r.xml")


def assert_result_carries_measurements_and_timings(run, junit_path):
    result = run.result
    assert set(result) >= {"scenario", "passed", "checks", "timings"}
    assert result["scenario"] == "ecmp-basic" and result["seed"] == 42
    for check in result["checks"]:
        assert set(check) >= {"name", "passed", "measured", "expected", "diagnosis"}
    assert set(result["timings"]) >= {"build", "capture", "start", "converge", "traffic", "measure", "checks",
                                      "teardown", "total"}
    assert result["traffic"]["sent"] == 2048 * 4
    # The effective sysctls are the ones the kernel reports, per node.
    assert result["sysctl"]["r1"]["net.ipv4.fib_multipath_hash_policy"] == 3
    assert result["sysctl"]["r1"]["net.ipv4.fib_multipath_hash_fields"] == 0x0037
    assert result["sysctl"]["r1"]["net.ipv4.ip_forward"] == 1
    assert result["sysctl"]["lb1"]["net.ipv4.conf.all.rp_filter"] == 0
    junit = junit_path.read_text()
    assert 'testsuite name="ecmp-basic"' in junit and junit.count("<testcase") == len(result["checks"])
    assert "ecmp_routes" in run.stdout and "PASS" in run.stdout  # the table


def test_an_l3_hash_pinning_each_client_fails_ecmp_spread_on_every_seed(tmp_path):
    """Two clients, the usual four checks, a router that hashes on L3 only: on seed 102 each client
    lands on its own LB and the total reads exactly 1024/1024 (before ecmp_spread judged every
    client, that run passed); on seeds 103 and 104 both land on one LB. Every run fails
    ecmp_spread, for certain, naming the hash policy."""
    run = vipcheck("run", CASES["ecmp-hash-l3-two-clients"], "--seed", 102, "--repeat", 3, tmp_path=tmp_path)
    assert run.status == 1, run.stdout + run.stderr
    shapes = set()
    for result in run.result["runs"]:
        assert {c["name"] for c in result["checks"] if not c["passed"]} == {"ecmp_spread"}, result["seed"]
        spread = next(c for c in result["checks"] if c["name"] == "ecmp_spread")
        assert spread["verdict"] == "FAIL" and "fib_multipath_hash_policy=0" in spread["diagnosis"]
        assert "c1, c2 each land on one LB" in spread["diagnosis"]
        shapes.add("even total" if spread["details"]["p_value"] >= 1e-5 else "one LB")
    assert shapes == {"even total", "one LB"}, "the seeds no longer cover an even total hiding the pinning"
