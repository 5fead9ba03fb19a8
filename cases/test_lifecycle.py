"""A run ends every process it started and removes every node, link and file it made: when it
passes, when it fails, and when SIGINT or SIGTERM cuts it short."""
import json
import os
import pwd
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

from conftest import (PYTHON, REPO, RUNS_DIR, SHIPPED, cli_env, orphan_processes, processes_mentioning, read_until,
                      start_vipcheck, vipcheck, wait_for)
from vipcheck.lab import cgroup
from vipcheck.lab.threads import start_threads


@pytest.mark.parametrize("signum, phase", [(signal.SIGTERM, "converge..."), (signal.SIGINT, "traffic..."),
                                           (signal.SIGTERM, "build...")])
def test_signal_mid_run_leaves_nothing(signum, phase):
    proc = start_vipcheck("run", SHIPPED["ecmp-basic"])
    run_id = read_until(proc, phase)
    assert run_id and (RUNS_DIR / run_id).exists()
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert f"interrupted by {signal.Signals(signum).name}" in err
    assert "Traceback" not in err
    assert not (RUNS_DIR / run_id).exists()
    assert not processes_mentioning(f"{RUNS_DIR / run_id}/"), "FRR daemons survived"
    assert not processes_mentioning(f"mininet:r1-{run_id}"), "Mininet node shells survived"


class _Cut(Exception):
    """What a signal handler raises, like the run's Interrupted."""


def test_a_signal_while_threads_start_is_delivered_after_all_started():
    """The SIGINT traffic case once printed a traceback: a handler that raised inside
    Thread.start() left a started thread to die on a KeyError in threading's own code."""
    ran = []

    class SignalledOnStart(threading.Thread):
        def start(self):
            signal.raise_signal(signal.SIGINT)  # arrives within the start sequence
            super().start()

    def cut(_signum, _frame):
        raise _Cut()

    def both():
        return [SignalledOnStart(target=ran.append, args=(1,)), threading.Thread(target=ran.append, args=(2,))]

    old = signal.signal(signal.SIGINT, cut)
    try:
        with pytest.raises(_Cut):  # control: a plain start loop is cut short
            for thread in both():
                thread.start()
        assert ran == []
        threads = both()
        with pytest.raises(_Cut):  # the signal still arrives, once every thread runs
            start_threads(threads)
        assert signal.getsignal(signal.SIGINT) is cut  # the handler is back
        for thread in threads:
            thread.join()
    finally:
        signal.signal(signal.SIGINT, old)
    assert sorted(ran) == [1, 2]


def test_run_records_the_pids_it_owns():
    """While a run is alive its state file lists every daemon, each alive and in the run's folder."""
    proc = start_vipcheck("run", SHIPPED["ecmp-basic"])
    try:
        run_id = read_until(proc, "converge...")
        state = json.loads((RUNS_DIR / run_id / "state.json").read_text())
        labels = sorted(p["label"] for p in state["processes"])
        # r1's capture listens from before the daemons start
        assert labels == sorted(["r1/tcpdump", "r1/zebra", "r1/ospfd", "lb1/zebra", "lb1/ospfd", "lb2/zebra",
                                 "lb2/ospfd"])
        for entry in state["processes"]:
            cmdline = open(f"/proc/{entry['pid']}/cmdline", "rb").read().decode()
            assert f"{RUNS_DIR / run_id}.{entry['label'].split('/')[0]}" in cmdline
    finally:  # a failed assertion must not leave the run to outlive the case
        proc.communicate(timeout=120)
    assert proc.returncode == 0


SNAPSHOT_PROBE = """
import sys, subprocess
sys.path.insert(0, {cases!r})
from conftest import root_namespace_state
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
before = root_namespace_state()
subprocess.run(["ip", "addr", "add", "192.0.2.1/32", "dev", "lo"], check=True)
after_address = root_namespace_state()
subprocess.run(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"], check=True)
after_sysctl = root_namespace_state()
subprocess.run(["ip", "route", "add", "198.51.100.0/24", "dev", "lo"], check=True)
after_route = root_namespace_state()
print(before["addresses"] != after_address["addresses"], after_address["sysctls"] != after_sysctl["sysctls"],
      after_sysctl["routes4"] != after_route["routes4"])
"""


def test_root_namespace_guard_sees_changes():
    """Negative control for the guard itself, run in a throwaway namespace, never the root one."""
    probe = subprocess.run(["unshare", "--net", "--", PYTHON, "-c", SNAPSHOT_PROBE.format(cases=str(REPO / "cases"))],
                           capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["True", "True", "True"]


def test_the_guard_sees_a_process_of_a_gone_run(private_runs):
    """Negative control for the check around every case: a process that names the folder of a
    run that no longer exists is an orphan."""
    orphan = subprocess.Popen([PYTHON, "-c", "import sys; print(flush=True); sys.stdin.read()",
                               f"{private_runs.path}/ffff.r1/ospfd.conf"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        orphan.stdout.readline()  # Popen returns inside execve, before the new command line is set
        assert [line for line in orphan_processes(private_runs.path) if line.startswith(f"{orphan.pid}: ")]
    finally:
        orphan.stdin.close()
        orphan.wait()
    assert not orphan_processes(private_runs.path)


def test_ctrl_c_during_a_case_leaves_its_run_cleaned_up():
    """Ctrl-C in a terminal running make test reaches every process of it, a case's run too: the
    run ends and cleans up by itself, and its case waits for that before pytest exits. Here the
    run is cut while it waits out lb2's 3 s dead interval on r1's route (subprocess.run would
    SIGKILL it 0.25 s in and leave its daemons running, as a run ending slowly would be). ctest
    dies of the Ctrl-C at once, which closes pytest's output: pytest still removes its folders."""
    runs = Path(tempfile.mkdtemp(prefix="vipcheck-case-", dir="/run"))  # the inner pytest's own
    runs.chmod(0o711)
    env = {**cli_env(), "VIPCHECK_RUNS_DIR": str(runs)}
    case = subprocess.Popen([PYTHON, "-m", "pytest", "-p", "no:cacheprovider", "-q", "cases/test_designs.py", "-k",
                             "ecmp-failover-dead3"], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                            # as in a terminal: CI may start the suite as a job that ignores SIGINT
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        # r1's capture folder appears as the stream begins; lb2 fails 0.5 s into it, and its
        # route stays for 2 s to 3 s more: the Ctrl-C lands 1 s in, inside that wait.
        streaming = wait_for(lambda: any(runs.glob("*.r1-capture")), 60)
        time.sleep(1.0)  # the moment of the interruption is the experiment
    finally:
        os.killpg(case.pid, signal.SIGINT)
        case.stdout.close()  # as ctest's end closes it
        case.wait(timeout=120)
    assert streaming
    assert case.returncode != 0
    assert not processes_mentioning(f"{runs}/"), "daemons of the interrupted run survived"
    assert not runs.exists(), f"the case's runs folder was left: {list(runs.iterdir())}"
    tree = cgroup.tracking_root(runs)
    assert not cgroup.runs_in(runs) and not (tree and tree.exists()), tree


def test_two_runs_at_once_both_pass(tmp_path):
    """Two designs on one machine at the same time: run ids keep their names, folders and
    processes apart, and neither disturbs the other's measurements. The second run starts as
    the first one's stream (about 4 s) begins."""
    design = yaml.safe_load((SHIPPED["ecmp-basic"]).read_text())
    design["traffic"].update(packets_per_flow=40, rate_pps=20000)  # 81,920 packets at a rate a busy machine keeps
    scenario = tmp_path / "ecmp-long-stream.yaml"
    scenario.write_text(yaml.safe_dump(design))
    results = {name: tmp_path / f"{name}.json" for name in ("ecmp", "lo-subnet")}
    ecmp = start_vipcheck("run", scenario, "--json", results["ecmp"], "--artifacts", tmp_path / "ecmp")
    read_until(ecmp, "traffic...")
    streaming_since = time.monotonic()
    lo_subnet = start_vipcheck("run", SHIPPED["lo-subnet"], "--json", results["lo-subnet"],
                               "--artifacts", tmp_path / "lo-subnet")
    second_started_s = time.monotonic() - streaming_since
    for name, proc in (("lo-subnet", lo_subnet), ("ecmp", ecmp)):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{name}: {out}{err}"
    runs = {name: json.loads(path.read_text()) for name, path in results.items()}
    assert runs["ecmp"]["timings"]["traffic"] > second_started_s, "the runs did not overlap"
    assert runs["ecmp"]["run_id"] != runs["lo-subnet"]["run_id"]


EXPECTED_USERS = {"zebra": "frr", "ospfd": "frr", "named": "bind", "redis": "redis", "haproxy": "haproxy",
                  "backend": "nobody", "keepalived": "root"}   # keepalived needs root for VRRP and addresses


@pytest.mark.parametrize("scenario", ["ecmp-basic", "dns-pairs"])
def test_daemons_run_as_their_own_users_in_private_folders(scenario):
    up = vipcheck("up", SHIPPED[scenario])
    assert up.status == 0, up.stderr
    run_id = next(line for line in up.stdout.splitlines() if line.startswith("run ")).split()[1]
    try:
        state = json.loads((RUNS_DIR / run_id / "state.json").read_text())
        seen = {}
        for entry in state["processes"]:
            daemon = entry["label"].split("/")[1]
            uid = next(line.split()[1] for line in open(f"/proc/{entry['pid']}/status") if line.startswith("Uid:"))
            seen[daemon] = pwd.getpwuid(int(uid)).pw_name
        assert seen and all(seen[d] == EXPECTED_USERS[d] for d in seen), seen
        folders = [RUNS_DIR / run_id, *RUNS_DIR.glob(f"{run_id}.*")]
        assert len(folders) > 3, folders  # the run's own and one per node with daemons
        for folder in folders:
            assert folder.stat().st_mode & 0o777 == 0o700, f"{folder} is open to others"
        owners = {pwd.getpwuid(folder.stat().st_uid).pw_name for folder in folders}
        assert owners >= {"root", "frr" if scenario == "ecmp-basic" else "redis"}, owners
    finally:
        vipcheck("down", run_id)
