"""FRRouting in a node: per-daemon configs rendered from frr-conf/, daemons started with private
pid, socket and log files, each config held to what the daemon logged while reading it, each
daemon asked over its own vty socket."""
import json
import os
import pwd
import re
import shutil
from pathlib import Path

from vipcheck import _core
from vipcheck.errors import ScenarioError
from vipcheck.daemons.templates import render as templates_render, source as templates_source

FRR_BIN = Path(os.environ.get("VIPCHECK_FRR_DIR", "/usr/lib/frr"))  # where Debian puts FRR's daemons
ANSWER_TIMEOUT_MS = 10_000  # a daemon's vty answers in milliseconds; this only bounds a hung one
# Neither bfdd's timer switch nor zebra's RIB has an event to wait on: they are asked, paced so
# the asking does not take the daemon's CPU.
ASK_PACE_S = 0.01
# A command's status (lib/command.h): a JSON show of what is not there, as the VIP's route while
# r1 has none, answers "{}" with CMD_WARNING; a command refused outright answers CMD_ERR_*.
CMD_SUCCESS, CMD_WARNING = 0, 1
# "No such command on config line 7: ...", "Command incomplete on config line 3: ..."; other
# [EC ...] lines (e.g. "Disabling MPLS support") are warnings about the kernel, not the config.
FRR_REJECTION = re.compile(r"\[EC \d+\]\s*(?P<message>[^\]]*?) on config line (?P<line>\d+)")
START_ORDER = ("zebra", "staticd", "bfdd", "ospfd")  # zebra first: the others connect to it
# What a failing run's artifacts keep of each daemon a node ran: file -> command on its vty.
STATE_VIEWS = {"zebra": {"frr-routes.json": "show ip route json"},
               "ospfd": {"ospf-neighbours.json": "show ip ospf neighbor json",
                         "ospf-database.json": "show ip ospf database json"},
               "bfdd": {"bfd-peers.json": "show bfd peers json"}}


def vtysh_argv(socket_dir, *commands):
    """FRR's shell on one node's daemons (their private socket folder), running each command."""
    return ["vtysh", "--vty_socket", str(socket_dir), *[arg for command in commands for arg in ("-c", command)]]


def state_views(frr_dir):
    """file -> what it holds: the state of every daemon that has its config in this node's FRR
    folder, asked over the daemon's vty socket (or why it did not answer)."""
    views = {}
    for daemon, files in STATE_VIEWS.items():
        if (Path(frr_dir) / f"{daemon}.conf").exists():
            for file, command in files.items():
                answer = _core.vty_command(str(Path(frr_dir) / f"{daemon}.vty"), command, ANSWER_TIMEOUT_MS)
                views[file] = answer.output if answer.answered else f"no answer from {daemon}: {answer.error}"
    return views


def frr_owner():
    user = pwd.getpwnam("frr")
    return user.pw_uid, user.pw_gid


def render(templates, role, daemon, context):
    """Renders ROLE/DAEMON.conf.j2 from the first of the template folders that holds it."""
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

    def rejections(self, daemon, log):
        """The config lines `daemon` refused, from its log: FRR reads on past a bad line."""
        config_lines = self.configs[daemon].read_text().splitlines()
        found = []
        for line in log.splitlines():
            match = FRR_REJECTION.search(line)
            if match:
                number = int(match.group("line"))
                text = config_lines[number - 1].strip() if 0 < number <= len(config_lines) else ""
                found.append(f"line {number} '{text}': {match.group('message')}")
        return found

    def await_config(self, daemon):
        """Returns once `daemon` has read its config, with the lines it refused. libfrr queues the
        config read-in as an event before the loop serves any connection (events run before I/O),
        so the first vty answer comes after it; `-d` itself returns before it."""
        answer = self.ask(daemon, "show version")
        if not answer.answered:
            raise RuntimeError(f"{self.node.logical}: {daemon} did not answer on its vty socket: {answer.error}; "
                               f"see {self.dir / daemon}.log")
        log = self.dir / f"{daemon}.log"
        return self.rejections(daemon, log.read_text(errors="replace") if log.exists() else "")

    def start_command(self, daemon):
        return self._argv(daemon, "-d", "--log", f"file:{self.dir / daemon}.log", "--log-level", "info")

    def pid(self, daemon):
        return int((self.dir / f"{daemon}.pid").read_text().split()[0])

    def pids(self):
        """The PIDs of the daemons this run started here and that wrote their pid files."""
        return [self.pid(daemon) for daemon in self.configs if (self.dir / f"{daemon}.pid").exists()]

    def adopt(self, daemon):
        self.run.adopt(self.pid(daemon), f"{self.node.logical}/{daemon}")

    def ask(self, daemon, command):
        """`command` on one daemon's vty socket: no vtysh process, no shell in the node."""
        return _core.vty_command(str(self.dir / f"{daemon}.vty"), command, ANSWER_TIMEOUT_MS)

    def ask_json(self, daemon, command, empty="{}"):
        answer = self.ask(daemon, f"{command} json")
        if not answer.answered or answer.status not in (CMD_SUCCESS, CMD_WARNING):
            raise RuntimeError(f"{self.node.logical}: {daemon} did not answer '{command} json': "
                               f"{answer.error or answer.output.strip()}")
        return json.loads(answer.output or empty)


def start_all(routers):
    """Starts zebra everywhere, then each protocol daemon, each batch only once the one before has
    read its config; a refused config line becomes a ScenarioError naming its template."""
    for daemon in START_ORDER:
        batch = [r for r in routers if daemon in r.configs]
        procs = [(r, r.node.start_argv(r.start_command(daemon))) for r in batch]
        for router, proc in procs:
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"{router.node.logical}: {daemon} did not start: {err.strip()}")
            router.adopt(daemon)
        for router in batch:
            refused = router.await_config(daemon)
            if refused:
                template = templates_source(router.templates, f"{router.role}/{daemon}.conf.j2")
                raise ScenarioError(template, f"rendered for {router.node.logical}", f"{daemon} rejected {refused[0]}")
