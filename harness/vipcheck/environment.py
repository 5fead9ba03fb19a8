"""Can this machine run a scenario? Each missing piece is named with the command that fixes it."""
import importlib
import importlib.util
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from vipcheck.errors import EnvironmentProblem

FIX_DEPS = "sudo make deps"
PROGRAMS = {"mnexec": "mininet", "ip": "iproute2", "sysctl": "procps", "unshare": "util-linux",
            "nsenter": "util-linux", "setpriv": "util-linux", "tcpdump": "tcpdump"}


def check_modules(extra=()):
    for module, package in (("yaml", "python3-yaml"), ("jinja2", "python3-jinja2"), ("mininet", "mininet"),
                            ("jsonschema", "python3-jsonschema"), ("psutil", "python3-psutil"), *extra):
        if importlib.util.find_spec(module) is None:  # found, not imported: redis's client alone took 30 ms
            raise EnvironmentProblem(f"Python module '{module}' is missing ({package})", FIX_DEPS)


def check_core():
    """The drivers load; the HTTP client (vipcheck._http, built with them) is found, not loaded:
    libcurl's load is for the designs that ask HTTP."""
    try:
        importlib.import_module("vipcheck._core")
        if importlib.util.find_spec("vipcheck._http") is None:
            raise ImportError("no module named 'vipcheck._http'")
    except ImportError as e:
        raise EnvironmentProblem(f"the C++ drivers (vipcheck._core, _http) are not built: {e}", "make") from None


def check_machine(topology):
    from vipcheck.designs import requirements
    from vipcheck.daemons.frr import FRR_BIN
    if os.geteuid() != 0:
        raise EnvironmentProblem("vipcheck builds network namespaces and needs root", "sudo vipcheck ...")
    needs = requirements(topology)
    check_modules(needs.MODULES.items())
    search = os.pathsep.join([str(FRR_BIN), os.environ.get("PATH", os.defpath)])  # FRR keeps its daemons apart
    for program, package in {**PROGRAMS, **needs.PROGRAMS}.items():
        if not shutil.which(program, path=search):
            raise EnvironmentProblem(f"'{program}' not found (package {package})", FIX_DEPS)
    # Daemons run as the users their Debian packages create; tcpdump writes the capture as its own.
    for user, package in {**needs.USERS, "tcpdump": "tcpdump"}.items():
        try:
            pwd.getpwnam(user)
        except KeyError:
            raise EnvironmentProblem(f"user '{user}' does not exist (package {package} creates it)", FIX_DEPS) from None
    check_namespaces()


def check_namespaces():
    """Creates one throw-away network namespace: a kernel without CONFIG_NET_NS, or a container
    without CAP_SYS_ADMIN, fails here instead of halfway through building the network."""
    if not Path("/proc/self/ns/net").exists():
        raise EnvironmentProblem("this kernel has no network namespaces", "run on a kernel with CONFIG_NET_NS")
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        reason = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else f"exit {probe.returncode}"
        raise EnvironmentProblem(f"cannot create a network namespace ({reason})",
                                 "run as root with CAP_SYS_ADMIN (in a container: --privileged)")
