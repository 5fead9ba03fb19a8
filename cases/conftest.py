"""Shared by every case: run vipcheck as a user would, and prove the root namespace untouched."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from root_namespace import state as root_namespace_state

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "harness"))  # the cases judge liveness as vipcheck itself does
from vipcheck.run import alive  # noqa: E402

BUILD = Path(os.environ.get("VIPCHECK_BUILD_DIR", REPO / "build"))
PYTHON = "/usr/bin/python3"
RUNS_DIR = Path(os.environ.get("VIPCHECK_RUNS_DIR", "/run/vipcheck"))
STARTING_GRACE_S = 60


def pytest_configure(config):
    config.addinivalue_line("markers", "timed: holds a design to a time (BFD detection, VRRP takeover, recovery "
                            "within the stream); CTest runs these cases one at a time")


@dataclass
class CliRun:
    status: int
    stdout: str
    stderr: str
    result: dict

    def check(self, name):
        return next(c for c in self.result["checks"] if c["name"] == name)

    @property
    def failed(self):
        return {c["name"] for c in self.result["checks"] if not c["passed"]}


def cli_env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{REPO}:{REPO / 'harness'}:{BUILD / 'python'}"
    env.update(extra)
    return env


def vipcheck(*args, tmp_path=None, env=None, user=None, wrapper=(), timeout=300):
    """Runs `python3 -m vipcheck ARGS` (under `wrapper`, an argv prefix) and, for `run`, reads its
    JSON result."""
    argv = [*wrapper, PYTHON, "-m", "vipcheck", *map(str, args)]
    json_path = None
    if args and args[0] == "run" and tmp_path is not None:
        json_path = tmp_path / "result.json"
        argv += ["--json", str(json_path), "--artifacts", str(tmp_path / "artifacts")]
    proc = subprocess.run(argv, cwd=REPO, env=env or cli_env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, user=user)
    result = json.loads(json_path.read_text()) if json_path and json_path.exists() else {}
    return CliRun(proc.returncode, proc.stdout, proc.stderr, result)


def start_vipcheck(*args, env=None):
    """`python3 -m vipcheck ARGS` in the background, its progress lines readable on stderr."""
    return subprocess.Popen([PYTHON, "-m", "vipcheck", *map(str, args)], cwd=REPO, env=env or cli_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_until(proc, marker):
    """Reads progress lines until `marker` appears; returns the run id announced on the way."""
    run_id = None
    for line in proc.stderr:
        if line.startswith("vipcheck: run "):
            run_id = line.split()[2].rstrip(",")
        if marker in line:
            return run_id
    pytest.fail(f"the run ended before '{marker}' (exit {proc.wait()})")


def assert_design(scenario, must_fail, diagnosis_words, tmp_path):
    """Runs a scenario and asserts it fails exactly `must_fail`, with the cause named in each
    failing check's diagnosis; returns the run for further assertions."""
    run = vipcheck("run", scenario, tmp_path=tmp_path)
    assert run.result, f"no JSON result; stderr: {run.stderr}"
    assert run.failed == must_fail, run.stdout
    assert run.status == (1 if must_fail else 0), run.stdout + run.stderr
    assert run.result["passed"] is (not must_fail)
    for name, words in diagnosis_words.items():
        for word in words:
            assert word in run.check(name)["diagnosis"], run.check(name)
    # A failing run leaves its artifacts, and only a failing one.
    assert bool(run.result.get("artifacts")) is bool(must_fail), run.result.get("artifacts")
    if must_fail:
        assert (Path(run.result["artifacts"]) / "REPRO.txt").is_file()
        assert f"artifacts: {run.result['artifacts']}" in run.stdout
    return run


def run_owner_alive(runs_dir, run_id):
    try:
        state = json.loads((runs_dir / run_id / "state.json").read_text())
    except (OSError, ValueError):
        return None  # no state yet (a run starting) or none left (a run gone)
    return alive(state["owner_pid"], state["owner_start"])


def leftover_runs(runs_dir=RUNS_DIR):
    """Run folders whose owning vipcheck process is gone: runs that did not clean up. A folder
    whose owner still lives belongs to a run in progress elsewhere on the machine."""
    if not runs_dir.exists():
        return []
    left = set()
    for folder in runs_dir.iterdir():
        run_id = folder.name.split(".", 1)[0]  # RUNS_DIR/<run> and its nodes' RUNS_DIR/<run>.<node>
        owner_alive = run_owner_alive(runs_dir, run_id)
        # A run writes its state right after making its folder; only an old one is left over.
        if owner_alive is False or (owner_alive is None and _age_s(folder) > STARTING_GRACE_S):
            left.add(run_id)
    return sorted(left)


def _age_s(folder):
    """Seconds since the folder changed; 0 if it is gone, removed by a run finishing its cleanup
    between the listing and this look (a soak round saw that)."""
    try:
        return time.time() - folder.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def processes_mentioning(text):
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(f"{proc.name}: {cmdline.strip()}")
    return found


def orphan_processes(runs_dir=RUNS_DIR):
    """Processes that name a run's folder while that run's owner is gone: daemons a run left.
    Every run ends its processes before it removes its folder."""
    folder = re.compile(re.escape(str(runs_dir)) + r"/([0-9a-f]+)\b")
    return {line for line in processes_mentioning(f"{runs_dir}/")
            if any(not run_owner_alive(runs_dir, run_id) for run_id in folder.findall(line))}


@dataclass
class RunsFolder:
    """A runs folder of one case's own (VIPCHECK_RUNS_DIR)."""
    path: Path

    @property
    def env(self):
        return cli_env(VIPCHECK_RUNS_DIR=str(self.path))


@pytest.fixture
def private_runs():
    """For cases that kill runs and count what they left. In the shared folder a run starting
    beside them would clean their dead runs first, and the other cases' guard would count those
    runs as left behind; so these cases can share the machine under ctest -j."""
    folder = RunsFolder(Path(tempfile.mkdtemp(prefix="vipcheck-case-", dir="/run")))
    folder.path.chmod(0o711)  # the daemons' users pass through it to their node folders
    yield folder
    left = leftover_runs(folder.path)
    if left:  # a failed case: remove what it left, then say so
        vipcheck("clean", env=folder.env)
    shutil.rmtree(folder.path)
    assert not left, f"run folders left behind in {folder.path}: {left}"


KEPT_ARTIFACTS = BUILD / "test-artifacts"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing case keeps its runs' artifacts in BUILD/test-artifacts/CASE: pytest deletes old
    temporary folders, and CI uploads this one."""
    outcome = yield
    report = outcome.get_result()
    tmp_path = item.funcargs.get("tmp_path") if hasattr(item, "funcargs") else None
    if report.failed and tmp_path is not None:
        for folder in tmp_path.rglob("artifacts"):
            if folder.is_dir():
                shutil.copytree(folder, KEPT_ARTIFACTS / item.name / folder.relative_to(tmp_path), dirs_exist_ok=True)


@pytest.fixture(autouse=True)
def untouched_root_namespace():
    """Around every case: fails it if the root namespace differs afterwards, or a run left anything."""
    if os.geteuid() != 0:
        pytest.fail("these cases build networks: run them as root (sudo make test)")
    before = root_namespace_state()
    runs_before, orphans_before = set(leftover_runs()), orphan_processes()
    yield
    after = root_namespace_state()
    for key in before:
        assert after[key] == before[key], f"the run changed the root namespace's {key}"
    new_runs = set(leftover_runs()) - runs_before
    assert not new_runs, f"run folders left behind: {sorted(new_runs)}"
    orphans = orphan_processes() - orphans_before
    assert not orphans, f"processes of a finished run are alive: {sorted(orphans)}"
