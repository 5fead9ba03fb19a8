"""Shared by every case: run vipcheck as a user would, and prove the root namespace untouched."""
import atexit
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

import psutil
import pytest

import overlay_view
from root_namespace import state as root_namespace_state

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "harness"))  # the cases judge liveness as vipcheck itself does
from vipcheck.lab import cgroup, frr_folders, reaper  # noqa: E402
from vipcheck.lab.run import alive  # noqa: E402
from vipcheck.designs import scenario_files  # noqa: E402

SHIPPED, CASES = scenario_files("scenarios"), scenario_files("cases")
BUILD = Path(os.environ.get("VIPCHECK_BUILD_DIR", REPO / "build"))
PYTHON = "/usr/bin/python3"
STARTING_GRACE_S = 60
# Programs only a run starts on these machines: one alive under PID 1 outlived its run.
RUN_PROGRAMS = {"zebra", "ospfd", "bfdd", "staticd", "keepalived", "named", "redis-server", "haproxy", "tcpdump",
                "mnexec"}


def _case_runs_folder():
    """Every pytest process (CTest starts one per file and kind) has a runs folder of its own, and
    runs its cases one after another, so the check after a case may demand that its cgroup tree
    is empty: no other case's run is in it.
    The daemons' users pass through it to their node folders."""
    if "VIPCHECK_RUNS_DIR" not in os.environ:
        folder = Path(tempfile.mkdtemp(prefix="vipcheck-case-", dir="/run")) if os.geteuid() == 0 else \
            Path("/run/vipcheck")
        folder.chmod(0o711) if os.geteuid() == 0 else None
        os.environ["VIPCHECK_RUNS_DIR"] = str(folder)
    return Path(os.environ["VIPCHECK_RUNS_DIR"])


RUNS_DIR = _case_runs_folder()
if os.geteuid() == 0:
    # A SIGKILLed harness's daemons come to this process, not to PID 1 (which reaps late).
    reaper.become_subreaper()


@atexit.register
def _remove_own_folders():
    """At exit, not in pytest_unconfigure: a Ctrl-C that ends ctest closes pytest's output, and
    pytest then dies on the broken pipe before it unconfigures."""
    if _readable_copy:
        shutil.rmtree(_readable_copy[0], ignore_errors=True)
    if RUNS_DIR.name.startswith("vipcheck-case-") and RUNS_DIR.is_dir() and not any(RUNS_DIR.iterdir()):
        RUNS_DIR.rmdir()
        cgroup.remove_tree_if_empty(RUNS_DIR)


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


_readable_copy = []


def readable_checkout():
    """A copy of the checkout that any user can read, made once per pytest process. Debian makes
    home folders 0700 and /root is 0700: a case that runs the CLI as another user from the
    checkout itself fails there with "No module named vipcheck"."""
    if not _readable_copy:
        root = Path(tempfile.mkdtemp(prefix="vipcheck-readable-"))
        for part in ("harness", "topologies", "cases", "frr-conf", "daemon-conf"):
            shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        shutil.copytree(BUILD / "python", root / "build-python")
        for folder, dirs, files in os.walk(root):
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)
        _readable_copy.append(root)
    return _readable_copy[0]


CLEANUP_TIMEOUT_S = 60  # an interrupted run's teardown takes well under a second


def vipcheck(*args, tmp_path=None, env=None, user=None, wrapper=(), timeout=300):
    """Runs `python3 -m vipcheck ARGS` (under `wrapper`, an argv prefix) and, for `run`, reads its
    JSON result. With `user`, from a copy of the checkout that user can read, paths translated."""
    cwd = REPO
    if user is not None:
        cwd = readable_checkout()
        args = [cwd / Path(a).relative_to(REPO) if Path(str(a)).is_relative_to(REPO) else a for a in args]
        env = dict(env or cli_env(), PYTHONPATH=f"{cwd}:{cwd / 'harness'}:{cwd / 'build-python'}")
    argv = [*wrapper, PYTHON, "-m", "vipcheck", *map(str, args)]
    json_path = None
    if args and args[0] == "run" and tmp_path is not None:
        json_path = tmp_path / "result.json"
        argv += ["--json", str(json_path), "--artifacts", str(tmp_path / "artifacts")]
    with subprocess.Popen(argv, cwd=cwd, env=env or cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, stdin=subprocess.DEVNULL, user=user) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except KeyboardInterrupt:
            # Ctrl-C reached the run too, and it is ending and cleaning up by itself: wait for that
            # (subprocess.run would SIGKILL it after 0.25 s and leave its daemons alive).
            try:
                proc.communicate(timeout=CLEANUP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    result = json.loads(json_path.read_text()) if json_path and json_path.exists() else {}
    return CliRun(proc.returncode, out, err, result)


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


def assert_design(scenario, must_fail, diagnosis_words, tmp_path, view=None):
    """Runs a scenario and asserts it fails exactly `must_fail`, with the cause named in each
    failing check's diagnosis; returns the run for further assertions. In a `view`, the run must
    also leave no file in /tmp, /var/tmp or /run outside its folders."""
    run = vipcheck("run", scenario, tmp_path=tmp_path, wrapper=view.enter if view else ())
    assert run.result, f"no JSON result; stderr: {run.stderr}"
    assert run.failed == must_fail, run.stdout
    assert run.status == (1 if must_fail else 0), run.stdout + run.stderr
    assert run.result["passed"] is (not must_fail)
    for name, words in diagnosis_words.items():
        for word in words:
            assert word in run.check(name)["diagnosis"], run.check(name)
    # A broken design fails for certain: no failure it must show may pass for the machine's.
    assert all(run.check(name)["verdict"] == "FAIL" for name in must_fail), run.stdout
    # A failing run leaves its artifacts, and only a failing one: every folder there is the run's
    # own or that of an attempt the machine's stall made it measure again, which names it.
    assert bool(run.result.get("artifacts")) is bool(must_fail), run.result.get("artifacts")
    kept = {str(folder) for folder in (tmp_path / "artifacts").glob("*")}
    named = {attempt["artifacts"] for attempt in run.result.get("remeasured", []) if attempt["artifacts"]}
    assert kept == named | ({run.result["artifacts"]} if must_fail else set()), (kept, run.result.get("remeasured"))
    if must_fail:
        assert (Path(run.result["artifacts"]) / "REPRO.txt").is_file()
        assert f"artifacts: {run.result['artifacts']}" in run.stdout
    if view:
        assert view.foreign() == set(), "the run left files outside its folders"
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


def wait_for(predicate, timeout_s=5.0):
    """Polls a fact that no event announces to this process (a fork of a process we do not own,
    a folder another process's run makes)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


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
    """The case's runs folder (VIPCHECK_RUNS_DIR), for cases that kill runs and count what they left."""
    path: Path

    @property
    def env(self):
        return cli_env(VIPCHECK_RUNS_DIR=str(self.path))


@pytest.fixture
def private_runs():
    """The case's own runs folder; what a failed case left there is cleaned, then reported. The
    daemons `clean` kills were the killed harness's orphans and so this process's children: reaped."""
    folder = RunsFolder(RUNS_DIR)
    yield folder
    left = leftover_runs(folder.path)
    if left:
        vipcheck("clean", env=folder.env)
    reaper.reap()
    assert not left, f"run folders left behind in {folder.path}: {left}"


@dataclass
class View:
    """A private view of /tmp, /var/tmp and /run (cases/overlay_view.py) held by `holder`."""
    holder: subprocess.Popen

    @property
    def enter(self):
        """The argv prefix that runs a command in the view, from the checkout."""
        return ["nsenter", f"--mount=/proc/{self.holder.pid}/ns/mnt", f"--wd={REPO}", "--"]

    def written(self):
        return overlay_view.written(self.holder.pid)

    def foreign(self):
        """What a run wrote there that is not FRR's own folders, which a run on a machine where
        FRR never ran makes, empty, as FRR would (harness/vipcheck/lab/frr_folders.py)."""
        return self.written() - {os.path.realpath(folder) for folder in frr_folders.FOLDERS}


@pytest.fixture
def view(tmp_path):
    """What a case runs in this view and writes to /tmp, /var/tmp or /run is listed apart from
    what the rest of the machine writes there meanwhile, so such cases run beside others. The
    case's runs folder and temporary folder stay the real ones."""
    holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--", PYTHON,
                               str(REPO / "cases/overlay_view.py"), str(RUNS_DIR), str(tmp_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready", f"the view did not come up (exit {holder.poll()})"
        yield View(holder)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def run_cgroups(runs_dir=RUNS_DIR):
    """The cgroups of runs in this runs folder, with the processes still in each."""
    return {run_id: group.pids() for run_id, group in cgroup.runs_in(runs_dir).items()}


def zombie_children():
    """Exited children nobody reaped: a run's daemons that its harness left to this process."""
    # A held run's keeper is an orphan of its command by design, and comes here too.
    return [f"{p.info['pid']} ({p.info['name']})" for p in psutil.process_iter(["pid", "ppid", "status", "name"])
            if p.info["status"] == psutil.STATUS_ZOMBIE and p.info["ppid"] == os.getpid()
            and p.info["name"] in RUN_PROGRAMS]


TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def boot_clock():
    """Now, on the clock of a process's start time in /proc/PID/stat."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def started(pid):
    """When a process started, on boot_clock(), to a clock tick; None once it is gone. Not
    psutil's create_time: it adds /proc/stat's btime, whole seconds, so against time.time() it
    reads up to 1 s early, and a process born just after an instant looks older than it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19]) / TICKS_PER_S  # field 22, starttime


def escaped_to_init(since):
    """Processes of the programs a run starts that now have PID 1 as parent, zombies included,
    and started after `since` (a boot_clock()): they outlived the harness that should have ended them."""
    return [f"{p.info['pid']} ({p.info['name']}, state {p.info['status']})"
            for p in psutil.process_iter(["pid", "ppid", "status", "name"])
            if p.info["ppid"] == 1 and p.info["name"] in RUN_PROGRAMS and (started(p.info["pid"]) or 0) >= since]


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


_last_root_state = []  # the snapshot after this process's previous case: nothing runs in between


@pytest.fixture(autouse=True)
def untouched_root_namespace():
    """Around every case: fails it if the root namespace differs afterwards, or a run left anything."""
    if os.geteuid() != 0:
        pytest.fail("these cases build networks: run them as root (sudo make test)")
    before = _last_root_state.pop() if _last_root_state else root_namespace_state()
    case_start = boot_clock()
    yield
    after = root_namespace_state()
    _last_root_state.append(after)
    for key in before:
        assert after[key] == before[key], f"the run changed the root namespace's {key}"
    assert not leftover_runs(), f"run folders left behind: {leftover_runs()}"
    # The case's runs folder is its own: any cgroup left in its tree is a run that did not end.
    assert not run_cgroups(), f"run cgroups left behind (run id: PIDs still in it): {run_cgroups()}"
    assert not orphan_processes(), f"processes of a finished run are alive: {sorted(orphan_processes())}"
    zombies = zombie_children()
    reaper.reap()
    assert not zombies, f"a harness left its children unreaped: {zombies}"
    escaped = escaped_to_init(case_start)
    assert not escaped, f"processes of a run outlived it under PID 1: {escaped}"
