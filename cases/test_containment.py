"""Every process of a run belongs to the run, whatever it forks: a daemon that double-forks and
one that respawns its child are gone after `down`, after SIGKILL of the keeper and `clean`,
and after `clean` with the run's folders deleted first. Every file a run makes is under its
folder or gone with it. The run's cgroup is what holds them."""
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import PYTHON, REPO, RUNS_DIR, SHIPPED, cli_env, processes_mentioning, vipcheck, wait_for
from vipcheck.lab import cgroup, frr_folders, reaper
from vipcheck.lab.run import kill_daemon, wait_exit

FAKE_DAEMON = REPO / "cases/fake_daemon.py"


def held_run_id(stdout):
    return next(line.split()[1] for line in stdout.splitlines() if line.startswith("run ") and " is up" in line)


def with_token(token):
    """Live PIDs whose command line carries `token` (a zombie's reads empty: the fixture after
    every case counts zombies)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if token.encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def kill_keeper(run_id):
    pid = json.loads((RUNS_DIR / run_id / "state.json").read_text())["owner_pid"]
    os.kill(pid, signal.SIGKILL)
    assert wait_exit(pid, 10)


@pytest.fixture
def held_with_escapers(tmp_path):
    """A held ECMP run with both kinds of escaping daemon started in lb1 through `vipcheck exec`."""
    up = vipcheck("up", SHIPPED["ecmp-basic"], "--seed", 3)
    assert up.status == 0, up.stdout + up.stderr
    run_id = held_run_id(up.stdout)
    token = f"escaper-{run_id}-{os.getpid()}"
    # The copy in /tmp: the checkout may sit in a folder only its owner can read.
    fake = tmp_path / "fake_daemon.py"
    shutil.copyfile(FAKE_DAEMON, fake)
    double = vipcheck("exec", run_id, "lb1", "--", PYTHON, fake, "double-fork", token)
    assert double.status == 0, double.stderr
    respawner = subprocess.Popen([PYTHON, "-m", "vipcheck", "exec", run_id, "lb1", "--", PYTHON, str(fake), "respawn",
                                  token], cwd=REPO, env=cli_env(), stdin=subprocess.DEVNULL)
    # Negative control: the escapers run (the double-forked one, the respawner and its child).
    assert wait_for(lambda: len(with_token(token)) >= 3), with_token(token)
    members = cgroup.runs_in(RUNS_DIR)[run_id].pids()
    assert set(with_token(token)) <= set(members), "exec's command runs in the run's cgroup"
    yield run_id, token
    respawner.wait(timeout=30)


def test_down_ends_what_double_forked_and_respawned(held_with_escapers):
    run_id, token = held_with_escapers
    assert vipcheck("down", run_id).status == 0
    assert with_token(token) == []
    assert run_id not in cgroup.runs_in(RUNS_DIR)


def test_clean_after_a_killed_keeper_ends_them(held_with_escapers):
    run_id, token = held_with_escapers
    kill_keeper(run_id)
    assert vipcheck("down", run_id).status == 2, "down refuses a dead run and names clean"
    clean = vipcheck("clean")
    assert clean.status == 0 and f"run {run_id}: removed cgroup" in clean.stdout, clean.stdout + clean.stderr
    assert with_token(token) == []
    assert not list(RUNS_DIR.glob(f"{run_id}*")) and not processes_mentioning(f"{RUNS_DIR / run_id}/")
    reaper.reap()


def test_clean_finds_a_run_whose_folders_are_gone(held_with_escapers):
    run_id, token = held_with_escapers
    kill_keeper(run_id)
    for folder in RUNS_DIR.glob(f"{run_id}*"):
        shutil.rmtree(folder)
    ps = vipcheck("ps")
    assert any(line.split()[:2] == [run_id, "dead"] and "folder is gone" in line for line in ps.stdout.splitlines()), \
        ps.stdout
    clean = vipcheck("clean")
    assert clean.status == 0 and f"run {run_id}: removed cgroup" in clean.stdout, clean.stdout + clean.stderr
    assert with_token(token) == []
    reaper.reap()


def test_keepalived_escape_path_and_its_fix(tmp_path):
    """The leak of issue 18: the dns-pairs crash killed keepalived's VRRP child, then its parent;
    in between the parent respawned the child, which then outlived both. Stopping the parent
    first leaves nothing to respawn it."""
    token = f"respawner-{os.getpid()}"

    def start():
        parent = subprocess.Popen([PYTHON, str(FAKE_DAEMON), "respawn", token])
        assert wait_for(lambda: len(with_token(token)) == 2)
        child = next(pid for pid in with_token(token) if pid != parent.pid)
        return parent, child

    parent, child = start()
    os.kill(child, signal.SIGKILL)  # the old order: the child first ...
    assert wait_for(lambda: len([p for p in with_token(token) if p not in (parent.pid, child)]) == 1)
    os.kill(parent.pid, signal.SIGKILL)  # ... then the parent, too late
    parent.wait()
    escaped = [pid for pid in with_token(token) if pid != child]
    assert escaped, "reproduced: a respawned child outlives its killed parent"
    for pid in escaped:
        kill_daemon(pid)
    reaper.reap()
    assert with_token(token) == []

    parent, child = start()
    kill_daemon(parent.pid, parent)
    assert with_token(token) == [], "stopped first, the parent respawns nothing"


def test_the_view_lists_what_a_process_writes_outside_the_kept_folders(view, tmp_path):
    """The negative control of the case below: writes outside the kept folders are listed and
    stay out of the machine's folders; writes inside them are real and not listed."""
    probes = ["/tmp/vipcheck-view-probe", "/var/tmp/vipcheck-view-probe", "/run/vipcheck-view-probe"]
    subprocess.run([*view.enter, "touch", *probes, str(tmp_path / "kept"), str(RUNS_DIR / "kept")], check=True)
    assert view.written() == set(probes)
    assert not any(Path(probe).exists() for probe in probes)
    assert (tmp_path / "kept").exists() and (RUNS_DIR / "kept").exists()
    (RUNS_DIR / "kept").unlink()


def test_a_sigkilled_run_then_clean_leaves_no_file_outside_its_folder(tmp_path, view):
    """Every case of test_designs.py runs in the view too, passing or failing (ecmp-failover and
    its dead-3 control among them); this is the run that cannot clean up after itself."""
    proc = subprocess.Popen([*view.enter, PYTHON, "-m", "vipcheck", "run", str(SHIPPED["ecmp-failover"]),
                             "--artifacts", str(tmp_path)], env=cli_env(), stdin=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if "converge..." in line:  # every daemon, bfdd's too, has started and written what it writes
            break
    proc.kill()
    proc.communicate()
    assert vipcheck("clean", wrapper=view.enter).status == 0
    reaper.reap()
    assert view.foreign() == set()


ZEBRA_DRY_RUN = """
import os, subprocess, sys
sys.path.insert(0, {harness!r})
from vipcheck.lab import frr_folders
frr_folders.make_private()
subprocess.run(["unshare", "--net", "--", "/usr/lib/frr/zebra", "-C", "-f", {conf!r}, "-u", "frr", "-g", "frr",
                "-i", {folder!r} + "/z.pid", "-z", {folder!r} + "/z.api", "--vty_socket", {folder!r}],
               capture_output=True)
print(" ".join(sorted(os.listdir(frr_folders.FRR_TMP))))
"""


def test_frr_folders_land_in_the_private_tmpfs(tmp_path):
    """FRR makes /var/tmp/frr/zebra.PID for every start, a dry run's too (the negative control:
    inside the private namespace the folder is there); the machine's /var/tmp/frr stays as it was."""
    conf = tmp_path / "zebra.conf"
    conf.write_text("hostname probe\n")
    for path in (tmp_path, conf):
        shutil.chown(path, "frr", "frr")
    before = set(os.listdir(frr_folders.FRR_TMP)) if frr_folders.FRR_TMP.exists() else set()
    probe = subprocess.run([PYTHON, "-c", ZEBRA_DRY_RUN.format(harness=str(REPO / "harness"), conf=str(conf),
                                                               folder=str(tmp_path))],
                           capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() and all(name.startswith("zebra") for name in probe.stdout.split()), probe.stdout
    assert set(os.listdir(frr_folders.FRR_TMP)) == before


def test_tracking_root_stays_under_the_callers_memory_cgroup(tmp_path):
    """On a stock systemd machine v2 carries the memory controller: the run's tree hangs under the
    caller's own cgroup, never beside it. Here (v2 without controllers) it hangs at the top."""
    mount = tmp_path / "cg"
    mount.mkdir()
    (mount / "cgroup.controllers").write_text("cpu memory pids\n")
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(f"35 24 0:30 / {mount} rw,nosuid - cgroup2 cgroup2 rw\n")
    own = tmp_path / "cgroup"
    own.write_text("0::/user.slice/session-3.scope\n")
    root = cgroup.tracking_root("/run/x", mountinfo=mountinfo, proc_cgroup=own)
    assert str(root).startswith(f"{mount}/user.slice/session-3.scope/vipcheck/x-")
    (mount / "cgroup.controllers").write_text("")
    assert str(cgroup.tracking_root("/run/x", mountinfo=mountinfo, proc_cgroup=own)).startswith(f"{mount}/vipcheck/x-")
