"""Service daemons in nodes, one small class each (BIND, keepalived, HAProxy, Redis, a backend
application): its config rendered into the node's folder from the scenario's templates (its own
folder searched first, then daemon-conf/), the program's own check of that config (the dry run),
its start, and its readiness wait. A design makes them, dry-runs them all at once (`dry_run`),
starts them slowest first, then awaits each."""
import shutil
import subprocess
import time

from vipcheck import _core
from vipcheck.daemons.templates import render, source
from vipcheck.errors import ScenarioError

READY_TIMEOUT_MS = 10_000


class Service:
    """One daemon in one node, its config rendered from `templates` (folders searched in order).
    `checks` are (argv, template) pairs its dry run runs there."""
    label = ""

    def __init__(self, run, node, templates=()):
        self.run, self.node, self.templates = run, node, templates
        self.folder = run.node_dir(node.logical)
        self.checks = []
        self.proc = None  # the Popen of a daemon that stays in the foreground

    def _write(self, filename, template, context, owner=None):
        path = self.folder / filename
        path.write_text(render(self.templates, template, context))
        if owner:
            shutil.chown(self.folder, owner, owner)
            shutil.chown(path, owner, owner)
        return path

    def refusal(self, err):
        """Why the dry run refused the config, in one line, from what it printed on stderr."""
        return " ".join(err.split())

    def _start_foreground(self, argv):
        """Its output in LABEL.log in the node's folder; mnexec execs the program, so the Popen's
        pid is the daemon's own."""
        with open(self.folder / f"{self.label}.log", "w") as log:
            self.proc = self.node.start_argv(argv, stdout=log, stderr=subprocess.STDOUT)
        self.run.adopt(self.proc.pid, f"{self.node.logical}/{self.label}", child=self.proc)
        return self.proc

    def _await_tcp(self, address, port):
        wait = _core.wait_for_tcp(self.node.netns, address, port, READY_TIMEOUT_MS)
        if not wait.answered:
            raise RuntimeError(f"{self.node.logical}: nothing answers on {address}:{port} after {READY_TIMEOUT_MS} ms "
                               f"({wait.last_error}); see its log in {self.folder}")


def dry_run(services):
    """Every service's own config checks at once, each in its node; the first rejection is bad
    input (exit 2), naming the template. Every check is reaped first."""
    started = [(service, argv, template, service.node.start_argv(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
               for service in services for argv, template in service.checks]
    first = None
    for service, argv, template, proc in started:
        _, err = proc.communicate()
        if proc.returncode != 0 and first is None:
            message = service.refusal(err) or f"exit {proc.returncode}"
            first = ScenarioError(source(service.templates, template), f"rendered for {service.node.logical}",
                                  f"{argv[0]} rejected it: {message}")
    if first:
        raise first


class Bind(Service):
    """named serving one zone; it forks away and answers within tens of milliseconds."""
    label = "named"

    def __init__(self, run, node, templates, context):
        super().__init__(run, node, templates)
        self.zone, self.name = context["zone"], f"{context['host']}.{context['zone']}"
        context = dict(context, dir=str(self.folder))
        self.conf = self._write("named.conf", "bind/named.conf.j2", context, owner="bind")
        zone_file = self._write(f"{self.zone}.zone", "bind/zone.j2", context, owner="bind")
        self.checks = [(["named-checkconf", str(self.conf)], "bind/named.conf.j2"),
                       (["named-checkzone", self.zone, str(zone_file)], "bind/zone.j2")]

    def start(self):
        proc = self.node.start_argv(["named", "-c", str(self.conf), "-u", "bind", "-L", str(self.folder / "named.log")])
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"{self.node.logical}: named did not start: {err.strip()}")
        self.run.adopt(int((self.folder / "named.pid").read_text().split()[0]), f"{self.node.logical}/named")

    def await_ready(self, client, address):
        """Asks from `client` until named answers."""
        deadline = time.monotonic() + READY_TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            if _core.probe_dns(client.netns, address, 53, self.name, 1, 50, 1).answers:
                return
        raise RuntimeError(f"named does not answer; see {self.folder / 'named.log'}")


class Keepalived(Service):
    """VRRP for one LB of a pair, in the foreground; `started` is when it last (re)started."""
    label = "keepalived"

    def __init__(self, run, node, templates, context):
        super().__init__(run, node, templates)
        self.conf = self._write("keepalived.conf", "keepalived/keepalived.conf.j2", context)
        self.checks = [(["keepalived", "-t", "-f", str(self.conf)], "keepalived/keepalived.conf.j2")]
        self.started = None

    def start(self):
        self._start_foreground(["keepalived", "-n", "-l", "-G", "-D", "-f", str(self.conf),
                                "-p", str(self.folder / "keepalived.pid"), "-r", str(self.folder / "vrrp.pid"),
                                "-c", str(self.folder / "checkers.pid")])
        self.started = time.monotonic()


class Haproxy(Service):
    """HAProxy in the foreground, from one of haproxy/'s templates (a pair's proxy in front of
    backends, or an LB's own service on the VIP)."""
    label = "haproxy"

    def __init__(self, run, node, templates, context, address, template="haproxy/haproxy.cfg.j2"):
        super().__init__(run, node, templates)
        self.address, self.port = address, context["port"]
        self.conf = self._write("haproxy.cfg", template, context)
        self.checks = [(["haproxy", "-c", "-f", str(self.conf)], template)]  # -q hides the reason

    def refusal(self, err):
        """Its first ALERT, without the prefix: the NOTICE lines before it name the version."""
        alerts = [line.split(" : ", 2)[-1] for line in err.splitlines() if line.startswith("[ALERT]")]
        return alerts[0].strip() if alerts else super().refusal(err)

    def start(self):
        self._start_foreground(["haproxy", "-db", "-f", str(self.conf)])  # -db: its `log stdout` in haproxy.log

    def await_ready(self):
        self._await_tcp(self.address, self.port)


class Redis(Service):
    """As Debian runs it, as the redis user (setpriv execs, so the PID stays the daemon's)."""
    label = "redis"
    PORT = 6379

    def __init__(self, run, node, address):
        super().__init__(run, node)
        self.folder = run.node_dir(node.logical, owner=("redis", "redis"))
        self.address = address

    def start(self):
        self._start_foreground(["setpriv", "--reuid=redis", "--regid=redis", "--init-groups", "--",
                                "redis-server", "--bind", self.address, "--port", str(self.PORT),
                                "--protected-mode", "no", "--save", "", "--appendonly", "no", "--dir", str(self.folder)])

    def await_ready(self):
        self._await_tcp(self.address, self.PORT)


class PythonApp(Service):
    """A design's own application (a Python file), run as nobody from a copy in its node's
    folder: the clone may sit in a home folder nobody cannot enter."""
    label = "backend"

    def __init__(self, run, node, app, address, port, args):
        super().__init__(run, node)
        self.folder = run.node_dir(node.logical, owner=("nobody", "nogroup"))
        self.app = self.folder / app.name
        shutil.copyfile(app, self.app)
        shutil.chown(self.app, "nobody", "nogroup")
        self.address, self.port, self.args = address, port, list(args)

    def start(self):
        self._start_foreground(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                                "/usr/bin/python3", str(self.app), "--listen", f"{self.address}:{self.port}",
                                *self.args])

    def await_ready(self):
        self._await_tcp(self.address, self.port)
