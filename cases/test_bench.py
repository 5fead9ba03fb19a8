"""The bench's bare floor (ci/floor), the yardstick vipcheck's speed is held against: it must
bring the same design up for real and leave nothing, in the root namespace or elsewhere."""
import os
import subprocess

from conftest import BUILD, REPO, SHIPPED, processes_mentioning

# As `make bench` starts it: no PYTHONPATH, so the floor finds vipcheck and its drivers itself.
BENCH_ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "VIPCHECK_BUILD_DIR": str(BUILD)}


def test_the_bare_floor_converges_the_design_and_leaves_nothing(view):
    run = subprocess.run([*view.enter, str(REPO / "ci/floor"), str(SHIPPED["ecmp-basic"])], env=BENCH_ENV,
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    assert 0 < float(run.stdout) < 120
    namespaces = subprocess.run([*view.enter, "ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "vcfloor" not in namespaces
    assert not processes_mentioning("vipcheck-floor-")
    # `ip netns` makes its own folder on its first use, as it would for anyone.
    assert view.foreign() - {"/run/netns"} == set()


def test_the_bare_floor_refuses_what_it_cannot_build():
    run = subprocess.run([str(REPO / "ci/floor"), str(SHIPPED["lo-subnet"])], env=BENCH_ENV,
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert run.returncode == 1 and "an ECMP design with one router" in run.stderr
