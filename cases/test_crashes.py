"""A run SIGKILLed anywhere leaves nothing after `vipcheck clean`, and the next run removes a
dead run's leftovers by itself. Leftovers are counted by kind: processes, namespaces, root
namespace interfaces, mounts and folders."""
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, RUNS_DIR, read_until, start_vipcheck, vipcheck

PHASES = ("build...", "converge...", "capture...", "traffic...", "checks...", "teardown...")
# 20 kill points: every phase of three designs, and a failing run while it writes its artifacts.
# Past the traffic, the same daemons run in designs with a shorter stream: the kill comes sooner.
SHORTER = {"topologies/ecmp-failover.yaml": "topologies/ecmp-basic.yaml",
           "topologies/dns-pairs.yaml": "cases/dns-pairs-one-vip.yaml"}
POINTS = ([(SHORTER["topologies/ecmp-failover.yaml"] if p in PHASES[4:] else "topologies/ecmp-failover.yaml", p)
           for p in PHASES]
          + [(SHORTER["topologies/dns-pairs.yaml"] if p in PHASES[4:] else "topologies/dns-pairs.yaml", p)
             for p in PHASES]
          + [("topologies/lo-subnet.yaml", p) for p in PHASES]
          + [("cases/ecmp-lo-prefix24.yaml", "artifacts...")]
          + [("cases/dns-pairs-no-rotation.yaml", "artifacts...")])


def _netns(pid):
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def leftovers(run_id, state):
    """What of the run is still on the machine, by kind."""
    namespaces = {n["netns"] for n in state.get("nodes", {}).values()}
    run_dir = str(RUNS_DIR / run_id)  # a prefix of its node folders too
    processes, live_namespaces = [], set()
    for proc in os.listdir("/proc"):
        if not proc.isdigit() or int(proc) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{proc}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if status == "Z":
            continue
        inode = _netns(proc)
        if inode in namespaces:
            live_namespaces.add(inode)
        if inode in namespaces or run_dir in cmdline or f"-{run_id}" in cmdline:
            processes.append(f"{proc}: {cmdline.strip()[:80]}")
    links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True, text=True).stdout or "[]")
    return {"processes": processes, "namespaces": sorted(live_namespaces),
            "interfaces": [link["ifname"] for link in links if f"-{run_id}-" in link["ifname"]],
            "mounts": [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if run_dir in line],
            "folders": sorted(str(p) for p in RUNS_DIR.glob(f"{run_id}*") if p.name.split(".", 1)[0] == run_id)}


def kill_at(scenario, marker, artifacts):
    """Starts a run, SIGKILLs it as it announces `marker`; returns its id and state file."""
    proc = start_vipcheck("run", REPO / scenario, "--artifacts", artifacts)
    run_id = read_until(proc, marker)
    state = json.loads((RUNS_DIR / run_id / "state.json").read_text())
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    return run_id, state


@pytest.mark.parametrize("scenario, marker", POINTS, ids=[f"{Path(s).stem}-{m.rstrip('.')}" for s, m in POINTS])
def test_sigkill_then_clean_leaves_nothing(scenario, marker, tmp_path):
    run_id, state = kill_at(scenario, marker, tmp_path)
    left = leftovers(run_id, state)
    # Negative control: a killed run does leave its folder (and, past the build, its nodes).
    assert left["folders"], left
    clean = vipcheck("clean")
    assert clean.status == 0 and f"run {run_id}: removed" in clean.stdout, clean.stdout + clean.stderr
    after = leftovers(run_id, state)
    assert not any(after.values()), after


def test_the_next_run_cleans_a_sigkilled_run_by_itself(tmp_path):
    run_id, state = kill_at("topologies/ecmp-failover.yaml", "traffic...", tmp_path)
    assert leftovers(run_id, state)["processes"], "the killed run left its daemons"
    run = vipcheck("run", REPO / "topologies/ecmp-basic.yaml", tmp_path=tmp_path)
    assert run.status == 0, run.stdout + run.stderr
    assert f"cleaned dead run {run_id}" in run.stderr
    after = leftovers(run_id, state)
    assert not any(after.values()), after
