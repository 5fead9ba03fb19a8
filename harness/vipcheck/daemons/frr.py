"""FRRouting in a node: per-daemon configs rendered from frr-conf/, checked by FRR's own
dry run, daemons started with private pid, socket and log files, queried through vtysh."""
import json
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

from vipcheck.errors import ScenarioError
from vipcheck.daemons.templates import render as templates_render

FRR_BIN = Path(os.environ.get("VIPCHECK_FRR_DIR", "/usr/lib/frr"))  # where Debian puts FRR's daemons
# "No such command on config line 7: ...", "Command incomplete on config line 3: ..."; other
# [EC ...] lines (e.g. "Disabling MPLS support") are warnings about the kernel, not the config.
FRR_REJECTION = re.compile(r"\[EC \d+\]\s*(?P<message>[^\]]*?) on config line (?P<line>\d+)")
START_ORDER = ("zebra", "staticd", "bfdd", "ospfd")  # zebra first: the others connect to it
# What a failing run's artifacts keep of each daemon a node ran: file -> vtysh command.
STATE_VIEWS = {"zebra": {"frr-routes.json": "show ip route json"},
               "ospfd": {"ospf-neighbours.json": "show ip ospf neighbor json",
                         "ospf-database.json": "show ip ospf database json"},
               "bfdd": {"bfd-peers.json": "show bfd peers json"}}


def vtysh_argv(socket_dir, *commands):
    """FRR's shell on one node's daemons (their private socket folder), running each command."""
    return ["vtysh", "--vty_socket", str(socket_dir), *[arg for command in commands for arg in ("-c", command)]]


def state_views(frr_dir):
    """file -> vtysh argv: the state of every daemon that has its config in this node's FRR folder."""
    return {file: vtysh_argv(frr_dir, command) for daemon, views in STATE_VIEWS.items()
            if (Path(frr_dir) / f"{daemon}.conf").exists() for file, command in views.items()}


def frr_owner():
    user = pwd.getpwnam("frr")
    return user.pw_uid, user.pw_gid


def render(templates, role, daemon, context):
    """Renders TEMPLATES/ROLE/DAEMON.conf.j2."""
    try:
        return templates_render(templates, f"{role}/{daemon}.conf.j2", context)
    except ScenarioError as e:
        if e.problem == "template missing":
            raise ScenarioError(e.source, e.where, "FRR template missing") from None
        raise


class FrrRouter:
    """The FRR daemons of one node."""

    def __init__(self, run, node, role, daemons, context, templates):
        self.run, self.node, self.role, self.templates = run, node, role, templates
        self.dir = run.node_dir(node.logical, owner=frr_owner())
        run.record_frr(node.logical, self.dir)
        self.configs = {}
        for daemon in daemons:
            path = self.dir / f"{daemon}.conf"
            path.write_text(render(templates, role, daemon, dict(context, daemon=daemon)))
            shutil.chown(path, *frr_owner())  # the daemons read it after dropping to frr
            self.configs[daemon] = path

    def _argv(self, daemon, *extra):
        argv = [str(FRR_BIN / daemon), "-u", "frr", "-g", "frr", "-f", str(self.configs[daemon]),
                "-i", str(self.dir / f"{daemon}.pid"), "-z", str(self.dir / "zserv.api"),
                "--vty_socket", str(self.dir), "-P", "0", *extra]
        if daemon == "bfdd":
            argv += ["--bfdctl", str(self.dir / "bfdd.sock")]
        return argv

    def dry_run_commands(self):
        """argv lists that check each config in a throwaway namespace, never the root one."""
        return [(daemon, ["unshare", "--net", "--", *self._argv(daemon, "-C")]) for daemon in self.configs]

    def rejections(self, daemon, stderr):
        """FRR's dry run exits 0 even when it rejects lines; its [EC ...] log lines tell."""
        config_lines = self.configs[daemon].read_text().splitlines()
        found = []
        for line in stderr.splitlines():
            match = FRR_REJECTION.search(line)
            if match:
                number = int(match.group("line"))
                text = config_lines[number - 1].strip() if 0 < number <= len(config_lines) else ""
                found.append(f"line {number} '{text}': {match.group('message')}")
        return found

    def start_command(self, daemon):
        return self._argv(daemon, "-d", "--log", f"file:{self.dir / daemon}.log", "--log-level", "info")

    def pid(self, daemon):
        return int((self.dir / f"{daemon}.pid").read_text().split()[0])

    def pids(self):
        """The PIDs of the daemons this run started here and that wrote their pid files."""
        return [self.pid(daemon) for daemon in self.configs if (self.dir / f"{daemon}.pid").exists()]

    def adopt(self, daemon):
        self.run.adopt(self.pid(daemon), f"{self.node.logical}/{daemon}")

    def vtysh(self, command):
        return self.node.run_argv(vtysh_argv(self.dir, command))

    def vtysh_json(self, command):
        return json.loads(self.vtysh(f"{command} json") or "{}")


def check_configs(routers):
    """Dry-runs every daemon's config at once; the first rejection becomes a ScenarioError."""
    started = []
    for router in routers:
        for daemon, argv in router.dry_run_commands():
            started.append((router, daemon, subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                             stderr=subprocess.PIPE, universal_newlines=True)))
    first = None
    for router, daemon, proc in started:  # every dry run is reaped, the first rejection reported
        out, err = proc.communicate()
        rejected = router.rejections(daemon, err + out)
        if proc.returncode != 0 and not rejected:
            rejected = [(err or out).strip().splitlines()[-1] if (err or out).strip() else f"exit {proc.returncode}"]
        if rejected and first is None:
            template = router.templates / router.role / f"{daemon}.conf.j2"
            first = ScenarioError(template, f"rendered for {router.node.logical}", f"{daemon} rejected {rejected[0]}")
    if first:
        raise first


def start_all(routers):
    """Starts zebra everywhere, then the protocol daemons; `-d` returns once a daemon is up."""
    for daemon in START_ORDER:
        batch = [r for r in routers if daemon in r.configs]
        procs = [(r, r.node.start_argv(r.start_command(daemon))) for r in batch]
        for router, proc in procs:
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"{router.node.logical}: {daemon} did not start: {err.strip()}")
            router.adopt(daemon)
