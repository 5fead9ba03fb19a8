"""Scale beyond the defaults: 16 LBs behind two routers, a million flows in one run, and 10,000
TCP connections over four LBs, each within the memory the README states."""
from conftest import CASES, assert_design

FLOW_RECORD_BYTES = 40        # a sink's record of one flow (FlowArrivals), per LB
HARNESS_BYTES_PER_FLOW = 120  # the flow plan, the injectors' ports, one packet-count column per LB
HARNESS_FIXED_MIB = 32
CONNECTION_BYTES = 192        # the connection driver's record and state of one connection
HARNESS_BYTES_PER_CONNECTION = 2048  # ... and the harness's: the fates, one JSON row per connection


def test_two_routers_each_hold_16_equal_paths(tmp_path):
    run = assert_design(CASES["ecmp-two-routers-16-lbs"], set(), {}, tmp_path)
    routes = run.check("ecmp_routes")["details"]
    for router in ("r1", "r2"):
        assert len(routes[router]["nexthops"]) == 16, routes
    assert set(run.result["convergence"]["routers"]) == {"r1", "r2"}
    # Flows from both routers' clients reach every LB.
    assert all(count > 0 for count in run.check("ecmp_spread")["details"]["counts"].values())
    assert run.result["memory"]["nodes"] == 16 + 2 + 16


def test_a_million_flows_within_the_stated_memory(tmp_path):
    run = assert_design(CASES["ecmp-million-flows"], set(), {}, tmp_path)
    flows, lbs = 1_000_000, 2
    assert run.result["traffic"]["received"] == flows
    memory = run.result["memory"]
    # The sinks hold a fixed record per flow and LB, plus 4 bytes per millisecond of traffic:
    # nothing grows with packets.
    timeline_mib = 4 * 60_000 * lbs / 2**20
    assert memory["sinks_mib"] <= FLOW_RECORD_BYTES * flows * lbs / 2**20 + timeline_mib, memory
    # What the harness process really grew by, measured (VmHWM), stays inside the stated budget.
    budget_mib = flows * (FLOW_RECORD_BYTES * lbs + HARNESS_BYTES_PER_FLOW) / 2**20 + HARNESS_FIXED_MIB
    assert memory["harness_growth_mib"] <= budget_mib, memory


def test_ten_thousand_connections_over_four_lbs_open_and_hold_within_the_stated_memory(tmp_path):
    run = assert_design(CASES["ecmp-connections-10k"], set(), {}, tmp_path)
    count = 10_000
    opened = run.result["traffic"]["connections"]
    assert opened["opened"] == count and len(run.result["connections"]) == count, opened
    # Every connection was answered before the add, and still is at the end: none broke.
    assert all(row["state"] == "open" and row["answers"] >= 2 for row in run.result["connections"])
    assert {row["lb"] for row in run.result["connections"]} == {"lb1", "lb2", "lb3"}
    assert opened["memory_bytes"] <= CONNECTION_BYTES * count, opened
    memory = run.result["memory"]
    assert memory["harness_growth_mib"] <= count * HARNESS_BYTES_PER_CONNECTION / 2**20 + HARNESS_FIXED_MIB, memory
