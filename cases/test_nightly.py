"""The nightly report: a small matrix runs for real in two shards, a seeded history makes its
median a regression, and headless Chromium renders the page with its tables and every plot."""
import json
import shutil
import subprocess

from conftest import CASES, REPO, SHIPPED, start_vipcheck, vipcheck

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def test_nightly_shards_merge_flag_a_regression_and_the_page_renders(tmp_path):
    """A tiny matrix run as two shards at once, as two CI runners would, and merged into the
    night's report: the merge refuses a missing share, a seeded history makes the median a
    regression, the known defect runs in the first share, and headless Chromium renders the page."""
    matrix = tmp_path / "matrix.yaml"
    # The cells keep the base's packet per flow every 5.12 ms, with a quarter of its flows.
    matrix.write_text(f"name: tiny\nbase: {SHIPPED['ecmp-failover']}\nfailures: [silent_drop, drain]\n"
                      "design: {traffic: {flows: 64, rate_pps: 12500}}\nprofiles:\n  bfd: {dead: minimal, hello_multiplier: 4, bfd: {interval_ms: 50, multiplier: 3}}\n"
                      "repeats: 1\nregression_margin: 0.25\n"
                      # The known defect's mechanics, on a case that fails soon (test_designs runs the real one).
                      f"known_defects:\n  - {{scenario: {CASES['ecmp-lo-prefix24']}, fails: [lo_route],"
                      " defect: VIP on lo as a /24}\n"
                      # One event of the LB set under both router groups, in the first share.
                      f"connections:\n  base: {SHIPPED['ecmp-connections']}\n  events: [remove]\n"
                      "  groups: {hash-threshold: {}, resilient: {resilient: {buckets: 1024, idle_timer_ms: 500}}}\n"
                      "  repeats: 1\n")
    history = tmp_path / "history.jsonl"
    # Seven past nights at 20 ms: detection by BFD at 50 ms x 3 must show as a regression.
    history.write_text("".join(json.dumps({"date": f"2026-11-{day:02d}", "medians": {"silent_drop/bfd": 20.0}})
                               + "\n" for day in range(10, 17)))
    common = ["--out", tmp_path / "reports", "--history", history, "--date", "2026-11-24"]
    # At the same time, as two runners sharing the night's folder would.
    shard_runs = [start_vipcheck("nightly", matrix, *common, "--seed", 5, "--shard", f"{k}/2") for k in (1, 2)]
    for proc in shard_runs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, out + err
    folder = tmp_path / "reports" / "2026-11-24"
    shards = [folder / "shard-1-of-2.json", folder / "shard-2-of-2.json"]
    # A shard writes its share only: the night's report and history wait for the merge.
    assert not (folder / "report.json").exists() and len(history.read_text().splitlines()) == 7
    run = vipcheck("nightly", matrix, *common, "--merge", shards[0])
    assert run.status == 2 and "lack 1 cell(s): drain/bfd" in run.stderr, run.stderr
    run = vipcheck("nightly", matrix, *common, "--merge", *shards)
    assert run.status == 1, run.stdout + run.stderr
    assert "REGRESSION silent_drop/bfd" in run.stdout
    report = json.loads((folder / "report.json").read_text())
    # Cells in matrix order, each with the seed an unsharded night gives it (seed + 1000 x its index).
    assert [(c["failure"], c["profile"], c["seeds"], c["runs"]) for c in report["cells"]] == [
        ("silent_drop", "bfd", [5], 1), ("drain", "bfd", [1005], 1)]
    cell = report["cells"][0]
    # BFD: 150 ms without a packet, less the time since lb2's last one. The bounds only say the
    # figure is a real gap; the regression test is the point, not the timing (this case runs
    # beside others, so it holds no time).
    assert 50 < cell["figures"]["gap_ms"]["median"] < 2000
    assert report["regressions"][0]["baseline_ms"] == 20.0
    # The failure took effect within its stamp's uncertainty before the stamp (the nft command's
    # return, late on a loaded machine: a soak round saw the route change 35 ms before it).
    timeline = report["timeline"]
    assert timeline["route_change_ms"] > timeline["failure_ms"] - timeline["failure_uncertainty_ms"], timeline
    assert len(history.read_text().splitlines()) == 8  # tonight appended, once
    # The known defect is run and reported as such; it does not make the night red on its own.
    assert report["known_defects"][0]["state"] == "present", report["known_defects"]
    assert "known defect ecmp-lo-prefix24.yaml: present" in run.stdout
    assert not any(c["failed_for_certain"] for c in report["cells"]) and "BROKEN" not in run.stdout, run.stdout
    # lb4 leaving under each group: hash-threshold re-divides the hash space among three and breaks
    # a third of the connections of LBs that stayed (a quarter of all, 64 of 256, 7 the standard
    # deviation), the resilient group none.
    rows = {c["group"]: c["rows"][0] for c in report["connections"]}
    assert [c["event"] for c in report["connections"]] == ["remove", "remove"]
    assert set(rows) == {"hash-threshold", "resilient"}
    assert rows["hash-threshold"]["broken stayed"]["median"] > 0.1 * rows["hash-threshold"]["alive"]["median"], rows
    assert rows["resilient"]["broken stayed"]["max"] == 0, rows

    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: sudo make deps"
    dom = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          "--virtual-time-budget=5000", "--dump-dom", (folder / "report.html").as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert "<table>" in dom and "silent_drop" in dom
    assert 'id="regressions"' in dom and "Regressions" in dom and 'id="known-defects"' in dom
    assert 'id="connections"' in dom and "hash-threshold: of LBs that stayed" in dom
    assert dom.count("<img") == 3  # box plot, timeline, trend
    assert 'data-rendered-plots="3"' in dom, "the browser did not decode every plot"


def test_the_shipped_matrix_measures_a_design_that_recovers_on_budgets_that_fit(tmp_path):
    """The nightly was red every night: its link_down cells hit FRR 8.4's nexthop-group defect and
    its slower profiles failed a 300 ms budget by construction."""
    from vipcheck import nightly
    matrix = nightly.load_matrix(REPO / "ci/nightly-matrix.yaml")
    budgets = {}
    for failure, profile in nightly.matrix_cells(matrix):
        spec = nightly.cell_scenario(matrix, failure, profile, tmp_path)
        assert spec.nexthop_groups is False, (failure, profile)
        budgets[profile] = spec.max_gap_ms
        # Each budget leaves room for the profile's own detection time.
        assert spec.max_gap_ms > spec.ospf.detection_s() * 1000, (profile, spec.max_gap_ms)
    assert budgets == {"bfd-50x3": 300, "dead-minimal": 1300, "dead-3s": 3500}
    # Every connection cell is a valid scenario judging connections across its event.
    for event, group in nightly.connection_cells(matrix):
        spec = nightly.connection_cell_scenario(matrix, event, group, tmp_path)
        assert spec.checks == ("convergence", "connections_kept") and spec.failure.type == event, (event, group)
        assert bool(spec.resilient) is (group == "resilient")
    assert [d["fails"] for d in matrix["known_defects"]] == [["recovery"]]
