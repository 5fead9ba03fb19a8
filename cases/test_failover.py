"""Failover on the ECMP design, measured beyond pass and fail (test_designs.py runs every
case's stated outcome, and holds dead-3's gaps to r1's capture): detection on one clock,
repeats, a stalled harness."""
import json
import os
import signal
import time

import pytest

from conftest import CASES, SHIPPED, assert_design, start_vipcheck, vipcheck

pytestmark = pytest.mark.timed  # every case here runs a failure under a steady stream


def test_bfd_silent_drop_within_300ms_gap_and_detection_on_one_clock(tmp_path):
    # BFD at 50 ms x 3: 150 ms without a packet, less the time since lb2's last one (up to 50 ms).
    # Counted from the moment the failure was in effect to the route event; below 500 ms tells BFD
    # from the 1 s dead interval. The bound is the test's own, so it follows the harness's rule:
    # a detection past it by no more than the machine stalled in the window is measured again.
    for attempt in range(3):
        (tmp_path / str(attempt)).mkdir()
        run = assert_design(SHIPPED["ecmp-failover"], set(), {}, tmp_path / str(attempt))
        gap = run.check("failover_gap")
        detection, stall = gap["details"]["detection_ms"], gap["stall"]["stall_ms"]
        if detection < 500 or detection - 500 > stall:
            break
    # The failure took effect within its stamp's uncertainty before the stamp, so the detection
    # lies in [detection, detection + uncertainty]: a loaded soak read -31.6 ms from a late stamp.
    uncertainty = run.check("route_withdrawn")["details"]["failure_uncertainty_ms"]
    assert detection + uncertainty > 50 and detection < 500, (detection, uncertainty, gap["stall"])
    gap = gap["details"]
    summary = {k: v for k, v in gap.items() if k != "gap_ms_per_flow"}
    withdrawn = run.check("route_withdrawn")["details"]
    # The data plane follows the router. Detection counts from the moment the failure was known to
    # be in effect; it took effect up to failure_uncertainty_ms before that.
    assert gap["gap_ms_max"] - gap["stream_stall_ms"] <= (gap["detection_ms"] + withdrawn["failure_uncertainty_ms"]
                                                          + 2 * gap["flow_interval_ms"]), summary
    assert gap["flows_with_loss"] == len(gap["gap_ms_per_flow"]) > 0
    assert max(gap["gap_ms_per_flow"].values()) == gap["gap_ms_max"]
    moved = run.check("flows_moved")["details"]
    assert moved["failure"]["moved"] == moved["failure"]["own"] > 0


def test_drain_loses_nothing_and_repeat_reports_statistics(tmp_path):
    """The drain design, twice: it passes in each run, and --repeat sums the runs up."""
    run = vipcheck("run", CASES["ecmp-failover-drain"], "--repeat", 2, "--seed", 3, tmp_path=tmp_path)
    assert run.status == 0, run.stdout
    assert len(run.result["runs"]) == 2 and run.result["passed"]
    assert [r["seed"] for r in run.result["runs"]] == [3, 4]
    stats = run.result["repeat"]["route change ms"]
    assert stats["n"] == 2 and stats["min"] <= stats["median"] <= stats["max"]
    assert "2 runs, 2 passed" in run.stdout


def test_a_stalled_harness_makes_a_sound_design_inconclusive_then_it_is_measured_again(tmp_path):
    """The machine stalls the harness for 500 ms as lb2's failure takes effect (SIGSTOP: every
    thread stops, the sender's too), once. Every lb2 flow that lost a packet before the stop now
    has a gap of about 500 ms, past the 300 ms budget (a 300 ms stop would land on the budget
    itself); the stall explains it, so that measurement is inconclusive, never FAIL, and the run
    is measured again: PASS. Where the stop came before the sender put any lb2 packet into the
    drop, no flow lost one and the outage went unmeasured (a soak round saw a 0 ms gap pass
    that way): inconclusive too. A later attempt may meet a stall of its own (a soak round's second
    attempt lost 962 ms to the loaded machine): it too must be inconclusive for it, never FAIL."""
    json_path = tmp_path / "result.json"
    proc = start_vipcheck("run", SHIPPED["ecmp-failover"], "--seed", 11, "--json", json_path,
                          "--artifacts", tmp_path / "artifacts")
    for line in proc.stderr:
        if "silent_drop of lb2 in effect" in line:
            os.kill(proc.pid, signal.SIGSTOP)
            time.sleep(0.5)  # the stall itself: its length is the experiment
            os.kill(proc.pid, signal.SIGCONT)
            break
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    result = json.loads(json_path.read_text())
    remeasured = result.get("remeasured", [])
    assert result["verdict"] == "PASSED" and remeasured, out
    assert "timer woke up to" in remeasured[0]["why"], remeasured[0]["why"]  # the stall made here
    for attempt in remeasured:
        assert "failover_gap: inconclusive" in attempt["why"] and "stalled up to" in attempt["why"], attempt["why"]
    assert "was inconclusive" in out
    # The passing run keeps no artifacts of its own; each attempt measured again keeps its own.
    kept = {str(folder) for folder in (tmp_path / "artifacts").glob("*")}
    assert "artifacts" not in result and kept == {attempt["artifacts"] for attempt in remeasured}, kept
