"""Bad input gets one line naming the file, the key and the problem, exit status 2, no
traceback, and nothing left behind. A broken environment gets exit status 3 and the fix."""

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import BUILD, CASES, PYTHON, REPO, SHIPPED, CliRun, cli_env, vipcheck

INVALID = sorted((REPO / "cases/invalid").glob("*.yaml"))


def expected_message(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <message>'"
    return first[len("# expect: "):]


def assert_one_line_error(run, status, *words):
    assert run.status == status, f"exit {run.status}: {run.stdout}{run.stderr}"
    assert "Traceback" not in run.stderr
    # Progress lines may come first; the error itself is exactly one line, the last.
    errors = [line for line in run.stderr.splitlines() if line.startswith("vipcheck: error: ")]
    assert len(errors) == 1 and run.stderr.strip().splitlines()[-1] == errors[0], run.stderr
    for word in words:
        assert word in errors[0], f"{word!r} not in {errors[0]!r}"


def test_the_corpus_is_large_enough():
    assert len(INVALID) >= 25


@pytest.fixture(scope="module")
def validated_corpus():
    """One `validate` over the whole corpus, as nobody: it needs no root, since a scenario is judged
    before anything touches the kernel, and it gives each invalid file its own error line."""
    return vipcheck("validate", *INVALID, user="nobody")


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_scenario_is_rejected_before_the_kernel(path, validated_corpus):
    run = validated_corpus
    assert run.status == 2 and "Traceback" not in run.stderr and ": valid (" not in run.stdout, run.stderr
    errors = run.stderr.splitlines()
    assert all(line.startswith("vipcheck: error: ") for line in errors) and len(errors) == len(INVALID), run.stderr
    mine = [line for line in errors if f"/{path.name}: " in line]  # the path of nobody's readable copy
    assert len(mine) == 1 and expected_message(path) in mine[0], (mine, expected_message(path))


def test_validate_judges_every_file_and_fails_if_any_is_invalid():
    good, bad = SHIPPED["ecmp-basic"], INVALID[0]
    run = vipcheck("validate", bad, good)
    assert_one_line_error(run, 2, bad.name, expected_message(bad))
    assert run.stdout.count(": valid (") == 1


@pytest.mark.parametrize("path", INVALID[:5], ids=[p.stem for p in INVALID[:5]])
def test_run_rejects_invalid_scenario_the_same_way(path, tmp_path):
    run = vipcheck("run", path, tmp_path=tmp_path)
    assert_one_line_error(run, 2, path.name, expected_message(path))


def test_other_users_run_from_a_readable_copy_of_a_private_checkout(tmp_path):
    """Issue 18: in a clone inside a 0700 folder (a Debian home, /root) the cases that run the CLI
    as nobody failed with "No module named vipcheck". pytest's own folder is 0700: a checkout there
    reproduces it, and the copy the cases use instead does not."""
    private = tmp_path / "checkout"
    shutil.copytree(REPO / "harness", private / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    assert stat.S_IMODE(tmp_path.parent.parent.stat().st_mode) == 0o700
    path = SHIPPED["ecmp-basic"]
    run = subprocess.run([PYTHON, "-m", "vipcheck", "validate", str(path)], cwd="/", user="nobody",
                         env=cli_env(PYTHONPATH=f"{private / 'harness'}:{BUILD / 'python'}"), capture_output=True,
                         text=True)
    assert run.returncode == 1 and "No module named vipcheck" in run.stderr, run.stderr
    assert vipcheck("validate", path, user="nobody").status == 0


def test_a_missing_python_module_names_its_package():
    """Without Debian's dist-packages (python3 -S) no module vipcheck needs is there: every
    command names the first missing one and its package, before importing anything that needs it."""
    env = cli_env(PYTHONPATH=f"{REPO / 'harness'}:{BUILD / 'python'}")
    for command in (["validate", str(SHIPPED["ecmp-basic"])], ["ps"]):
        proc = subprocess.run([PYTHON, "-S", "-m", "vipcheck", *command], env=env, capture_output=True, text=True)
        run = CliRun(proc.returncode, proc.stdout, proc.stderr, {})
        assert_one_line_error(run, 3, "Python module 'yaml' is missing (python3-yaml)", "fix: sudo make deps")


@pytest.mark.parametrize("built", [(), ("_core",)], ids=["nothing-built", "http-client-missing"])
def test_unbuilt_drivers_are_an_environment_problem(built, tmp_path):
    """Run from a tree whose build folder holds none of the drivers, or _core without the HTTP
    client: one line naming what to build, before any network."""
    (tmp_path / "python" / "vipcheck").mkdir(parents=True)
    for module in built:
        for library in (BUILD / "python" / "vipcheck").glob(f"{module}.*.so"):
            (tmp_path / "python" / "vipcheck" / library.name).symlink_to(library)
    env = cli_env(PYTHONPATH=f"{REPO}:{REPO / 'harness'}:{tmp_path / 'python'}", SETUPTOOLS_USE_DISTUTILS="stdlib")
    proc = subprocess.run([PYTHON, "-m", "vipcheck", "run", str(SHIPPED["ecmp-basic"])], env=env,
                          capture_output=True, text=True)
    run = CliRun(proc.returncode, proc.stdout, proc.stderr, {})
    missing = "_http" if built else "_core"
    assert_one_line_error(run, 3, "C++ drivers", "not built", missing, "fix: make")


def test_every_shipped_scenario_and_case_validates():
    paths = [*SHIPPED.values(), *CASES.values()]
    run = vipcheck("validate", *paths, user="nobody")
    assert run.status == 0, run.stderr
    assert run.stdout.count(": valid (") == len(paths)


def test_missing_nightly_matrix_is_one_line():
    run = vipcheck("nightly", "no/such/matrix.yaml")
    assert_one_line_error(run, 2, "no/such/matrix.yaml", "cannot read")


def test_missing_scenario_file():
    run = vipcheck("validate", "no/such/scenario.yaml")
    assert_one_line_error(run, 2, "no/such/scenario.yaml", "cannot read")


def test_usage_error_is_one_line():
    run = vipcheck("run")
    assert_one_line_error(run, 2, "scenario")
    run = vipcheck("frobnicate")
    assert_one_line_error(run, 2, "frobnicate")


def test_frr_rejected_config_reports_frrs_message(tmp_path):
    run = vipcheck("run", REPO / "cases/frr-rejects/scenario.yaml", tmp_path=tmp_path)
    assert_one_line_error(run, 2, "lb/ospfd.conf.j2", "ospfd rejected", "ospf maximum-paths-per-vip 4",
                          "No such command")


def test_a_service_config_its_daemon_rejects_reports_the_daemons_message(tmp_path):
    """dns-pairs' own dry runs: the scenario's HAProxy template is refused by `haproxy -c`, and
    BIND and keepalived, which it does not override, render from the shipped templates."""
    run = vipcheck("run", REPO / "cases/daemon-rejects/scenario.yaml", tmp_path=tmp_path)
    assert_one_line_error(run, 2, "cases/daemon-rejects/templates/haproxy/haproxy.cfg.j2", "rendered for lb-a1",
                          "haproxy rejected it", "maxconn-per-vip")


def test_a_sysctl_the_kernel_lacks_is_bad_input(tmp_path):
    """Validation knows a per-namespace key by its prefix; the kernel knows the rest. A key it
    lacks stops the run before any daemon starts, with the kernel's reason."""
    scenario = tmp_path / "sysctl-kernel-lacks.yaml"
    scenario.write_text("name: sysctl-kernel-lacks\ntopology: ecmp\nsysctl: {router: {net.ipv4.no_such_key: 1}}\n")
    run = vipcheck("run", scenario, tmp_path=tmp_path)
    assert_one_line_error(run, 2, "sysctl.router", "rejected by the kernel", "net.ipv4.no_such_key",
                          "No such file or directory")


def test_not_root_is_an_environment_problem(tmp_path):
    run = vipcheck("run", SHIPPED["ecmp-basic"], user="nobody")
    assert_one_line_error(run, 3, "needs root", "fix: sudo")


def test_missing_program_names_the_package_and_the_fix(tmp_path):
    # With an empty PATH the harness cannot find mnexec, ip or sysctl: it must say which.
    run = vipcheck("run", SHIPPED["ecmp-basic"], env=cli_env(PATH="/nonexistent"))
    assert_one_line_error(run, 3, "not found (package", "fix: sudo make deps")


def path_without(tmp_path, program):
    """A PATH with every program of this machine but one, as on a machine missing its package."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for directory in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        for entry in Path(directory).iterdir() if Path(directory).is_dir() else ():
            if entry.name != program and not (folder / entry.name).exists():
                (folder / entry.name).symlink_to(entry)
    return str(folder)


@pytest.mark.parametrize("program, scenario", [("named", "dns-pairs"), ("keepalived", "dns-pairs"),
                                               ("redis-server", "dns-pairs"), ("haproxy", "dns-pairs"),
                                               ("tcpdump", "ecmp-basic")])
def test_a_missing_daemon_names_its_package(program, scenario, tmp_path):
    run = vipcheck("run", SHIPPED[scenario],
                   env=cli_env(PATH=path_without(tmp_path, program)))
    assert_one_line_error(run, 3, f"'{program}' not found (package", "fix: sudo make deps")


def test_a_missing_frr_daemon_names_frr(tmp_path):
    frr = tmp_path / "frr"
    frr.mkdir()
    for daemon in ("staticd", "ospfd", "bfdd"):  # zebra is missing
        (frr / daemon).symlink_to(f"/usr/lib/frr/{daemon}")
    run = vipcheck("run", SHIPPED["ecmp-basic"], env=cli_env(VIPCHECK_FRR_DIR=str(frr)))
    assert_one_line_error(run, 3, "'zebra' not found (package frr)", "fix: sudo make deps")


def test_no_namespace_support_is_an_environment_problem(tmp_path):
    # Root without CAP_SYS_ADMIN, as in an unprivileged container: no namespace can be made.
    run = vipcheck("run", SHIPPED["ecmp-basic"], tmp_path=tmp_path,
                   wrapper=["setpriv", "--bounding-set", "-sys_admin", "--"])
    assert_one_line_error(run, 3, "cannot create a network namespace", "Operation not permitted", "fix: ")


# Every count at the top of its range: the longest interface names a valid scenario can make.
LARGEST = {"ecmp-basic": {"lbs": 16, "clients": 16}, "lo-subnet": {"lbs": 16},
           "dns-pairs": {"backends": {"count": 8, "session_store": "redis"}}}


@pytest.mark.parametrize("name", sorted(LARGEST))
def test_interface_names_fit_the_kernel_at_the_largest_counts(name, tmp_path):
    import yaml
    from topologies.dns_pairs.topology import DnsPairsTopo
    from topologies.ecmp.topology import EcmpTopo
    from topologies.lo_subnet.topology import LoSubnetTopo
    from vipcheck import scenario
    from vipcheck.errors import ScenarioError
    from vipcheck.lab.network import IFNAME_MAX, check_interface_names, link_interfaces

    raw = {**yaml.safe_load(SHIPPED[name].read_text()), **LARGEST[name]}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    s = scenario.load(path)
    topo = {"ecmp": EcmpTopo, "lo_subnet": LoSubnetTopo, "dns_pairs": DnsPairsTopo}[s.topology](scenario=s,
                                                                                                run_id="ffff")
    links = link_interfaces(topo)
    check_interface_names(s.source, links)
    assert max(len(n) for pair in links for n in pair) <= IFNAME_MAX
    # Negative control: one character more is refused, naming the interface and the limit.
    with pytest.raises(ScenarioError, match=r"lb16xy-ffff-eth0 would have 16 characters \(Linux allows 15\)"):
        check_interface_names(s.source, [*links, ("lb16xy-ffff-eth0", "r1-ffff-eth1")])
