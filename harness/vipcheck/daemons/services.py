"""Service daemons in nodes (named, keepalived, HAProxy, Redis, the backends): each gets its
own files in the run folder, is dry-run where the program can, started, awaited until its
socket answers, and recorded so the run ends it."""
import shutil
import subprocess

from vipcheck.errors import ScenarioError


class Daemons:
    def __init__(self, run):
        self.run = run

    def write(self, node, filename, text, owner=None):
        folder = self.run.node_dir(node.logical)
        path = folder / filename
        path.write_text(text)
        if owner:
            shutil.chown(folder, owner, owner)
            shutil.chown(path, owner, owner)
        return path

    def dry_run(self, checks):
        """Runs each program's own config check, (node, argv, template) each, all at once in
        their nodes; the first rejection is bad input (exit 2). Every check is reaped first."""
        started = [(node, argv, template, node.start_argv(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
                   for node, argv, template in checks]
        first = None
        for node, argv, template, proc in started:
            _, err = proc.communicate()
            if proc.returncode != 0 and first is None:
                message = " ".join(err.split()) or f"exit {proc.returncode}"
                first = ScenarioError(template, f"rendered for {node.logical}", f"{argv[0]} rejected it: {message}")
        if first:
            raise first

    def start_forking(self, node, argv, pidfile, label):
        """A daemon that forks away and writes its pid file before the parent returns."""
        proc = node.start_argv(argv)
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"{node.logical}: {label} did not start: {err.strip()}")
        self.run.adopt(int(pidfile.read_text().split()[0]), f"{node.logical}/{label}")

    def start_foreground(self, node, argv, label):
        """A daemon that stays in the foreground, its output in LABEL.log in the node's folder."""
        log = open(self.run.node_dir(node.logical) / f"{label}.log", "w")
        proc = node.start_argv(argv, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        # mnexec execs the program, so the Popen's pid is the daemon's own.
        self.run.adopt(proc.pid, f"{node.logical}/{label}", child=proc)
        return proc
