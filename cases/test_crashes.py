"""A run SIGKILLed anywhere leaves nothing after `vipcheck clean`, and the next run removes a
dead run's leftovers by itself. Leftovers are counted by kind: processes, namespaces, root
namespace interfaces, mounts and folders. Each case has a runs folder of its own, so the cases
can share the machine."""
import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from conftest import CASES, SHIPPED, TICKS_PER_S, boot_clock, read_until, started, start_vipcheck, vipcheck
from vipcheck.lab.run import netns_inode

PHASES = ("build...", "converge...", "capture...", "traffic...", "checks...", "teardown...")
# 20 kill points: every phase of three designs, and a failing run while it writes its artifacts.
# Once the daemons run, the same daemons run in a scenario that reaches the phase sooner:
# ecmp-basic waits for no BFD session to reach its fast timers, dns-pairs-equal-priority has no
# failover. A failing run's artifacts: dns-pairs-no-rotation, whose DNS checks build c1, dns and r1.
SOONER = {SHIPPED["ecmp-failover"]: (PHASES[2:], SHIPPED["ecmp-basic"]),
          SHIPPED["dns-pairs"]: (PHASES[4:], CASES["dns-pairs-equal-priority"])}
POINTS = ([(SOONER[design][1] if p in SOONER[design][0] else design, p)
           for design in (SHIPPED["ecmp-failover"], SHIPPED["dns-pairs"]) for p in PHASES]
          + [(SHIPPED["lo-subnet"], p) for p in PHASES]
          + [(CASES["ecmp-lo-prefix24"], "artifacts...")]
          + [(CASES["dns-pairs-no-rotation"], "artifacts...")])


@dataclass
class Killed:
    run_id: str
    state: dict     # its state file as the kill found it
    at: float       # when, on boot_clock(), the clock of a process's start time


def _read(path, binary=False):
    try:
        return Path(path).read_bytes() if binary else Path(path).read_text()
    except OSError:
        return None


def _environment(pid):
    return (_read(f"/proc/{pid}/environ", binary=True) or b"").split(b"\0")


def leftovers(runs, killed):
    """What of the killed run is still on the machine, by kind."""
    run_id, state = killed.run_id, killed.state
    namespaces = {n["netns"] for n in state.get("nodes", {}).values()}
    recorded = {(e["pid"], e["start"]) for e in [*state.get("processes", []), *state.get("nodes", {}).values()]}
    run_dir = str(runs.path / run_id)  # a prefix of its node folders too
    # Node names carry the run id, which is unique in its runs folder only: a name counts when
    # the process inherited this case's folder.
    ours = f"VIPCHECK_RUNS_DIR={runs.path}".encode()
    processes, live_namespaces = [], set()
    for proc in os.listdir("/proc"):
        if not proc.isdigit() or int(proc) == os.getpid():
            continue
        try:
            process = psutil.Process(int(proc))
            cmdline, status, start = " ".join(process.cmdline()), process.status(), process.create_time()
            born = started(proc)
        except psutil.Error:
            continue
        if status == psutil.STATUS_ZOMBIE:
            continue
        inode = netns_inode(proc)
        # A namespace's inode number is reused once it is freed: another case's run may hold it
        # now, with processes that started after the kill (on the boot clock: exact to a tick).
        why = [reason for reason, holds in (
            ("recorded by the run", (int(proc), start) in recorded),
            ("names its folder", run_dir in cmdline),
            (f"in its namespace {inode}, started at {born:.2f} s after boot (killed at {killed.at:.2f})",
             inode in namespaces and born is not None and born <= killed.at),
            ("names its id with this case's runs folder", f"-{run_id}" in cmdline and ours in _environment(proc))) if holds]
        if why:
            # Its cgroup says how it escaped the run's: born outside it, or moved out.
            group = next((line[3:] for line in (_read(f"/proc/{proc}/cgroup") or "").splitlines()
                          if line.startswith("0::")), "?")
            processes.append(f"{proc}: {cmdline.strip()[:80]} (state {status}, cgroup {group}; {', '.join(why)})")
            if inode in namespaces:
                live_namespaces.add(inode)
    links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True, text=True).stdout or "[]")
    return {"processes": processes, "namespaces": sorted(live_namespaces),
            "interfaces": [link["ifname"] for link in links if f"-{run_id}-" in link["ifname"]],
            "mounts": [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if run_dir in line],
            "folders": sorted(str(p) for p in runs.path.glob(f"{run_id}*") if p.name.split(".", 1)[0] == run_id)}


def kill_at(runs, scenario, marker, artifacts):
    """Starts a run and SIGKILLs it as it announces `marker`."""
    proc = start_vipcheck("run", scenario, "--artifacts", artifacts, env=runs.env)
    run_id = read_until(proc, marker)
    state = json.loads((runs.path / run_id / "state.json").read_text())
    proc.send_signal(signal.SIGKILL)
    at = boot_clock() + 1 / TICKS_PER_S  # a start time has the resolution of one clock tick
    proc.communicate(timeout=60)
    return Killed(run_id, state, at)


@pytest.mark.parametrize("scenario, marker", POINTS, ids=[f"{Path(s).stem}-{m.rstrip('.')}" for s, m in POINTS])
def test_sigkill_then_clean_leaves_nothing(scenario, marker, tmp_path, private_runs):
    killed = kill_at(private_runs, scenario, marker, tmp_path)
    left = leftovers(private_runs, killed)
    # Negative control: a killed run does leave its folder (and, past the build, its nodes).
    assert left["folders"], left
    clean = vipcheck("clean", env=private_runs.env)
    assert clean.status == 0 and f"run {killed.run_id}: removed" in clean.stdout, clean.stdout + clean.stderr
    after = leftovers(private_runs, killed)
    assert not any(after.values()), after


def test_the_next_run_cleans_a_sigkilled_run_by_itself(tmp_path, private_runs):
    killed = kill_at(private_runs, SHIPPED["ecmp-basic"], "traffic...", tmp_path)
    assert leftovers(private_runs, killed)["processes"], "the killed run left its daemons"
    run = vipcheck("run", SHIPPED["ecmp-basic"], tmp_path=tmp_path, env=private_runs.env)
    assert run.status == 0, run.stdout + run.stderr
    assert f"cleaned dead run {killed.run_id}" in run.stderr
    after = leftovers(private_runs, killed)
    assert not any(after.values()), after
