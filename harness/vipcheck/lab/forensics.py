"""What a failing run's network shows while it is still up, copied into the artifacts folder:
per node the kernel's routes, nexthops, addresses, neighbours, links and sysctls, FRR's view over
its daemons' vty sockets, the daemons' logs and configs, and the router's packet capture."""
import json
import shutil
import subprocess

from vipcheck.daemons import frr
from vipcheck.lab.capture import FOLDER_SUFFIX as CAPTURE_FOLDER_SUFFIX
from vipcheck.lab.run import NODE_DIR_SEPARATOR

KERNEL_VIEW = {  # file -> `ip -j` command: a node's in one `ip -batch` process, one JSON array each
    "kernel-routes.json": "route show table all",
    "kernel-nexthops.json": "nexthop show",
    "nexthop-buckets.json": "nexthop bucket show",  # a resilient group's buckets, with their idle times
    "rules.json": "rule show",
    "addresses.json": "address show",
    "neighbours.json": "neighbour show",
}
OWN_PROCESS_VIEW = {  # file -> argv, each in a process of its own in every node
    "links.json": ["ip", "-j", "-s", "link", "show"],
    "sysctl.txt": ["sysctl", "net.ipv4", "net.core"],
}
COPIED_SUFFIXES = (".log", ".conf", ".cfg", ".json", ".zone")




def collect(run, lab, folder, capture=None):
    """Writes every node's views and files into folder/NODE/ and the capture into folder/capture/;
    returns the capture's files, relative to folder."""
    if lab:  # built, at least in part
        _dump_nodes(run, lab, folder)
    _copy_run_files(run, folder)
    files = []
    if capture:
        capture.stop()
        files += [f"capture/{name}" for name in capture.copy_to(folder / "capture")]
        if capture.summary:
            (folder / "capture" / "tcpdump.txt").write_text(f"{' '.join(capture.argv)}\n{capture.summary}\n")
    return files


def _dump_nodes(run, lab, folder):
    """Every node's kernel view at once (an `ip -batch` and two more processes per node), then
    FRR's over the daemons' vty sockets, and writes each file."""
    started = []
    for name, node in sorted(lab.nodes.items()):
        batch = node.start_argv(["ip", "-j", "-force", "-batch", "-"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        started.append((name, list(KERNEL_VIEW), batch, "".join(c + "\n" for c in KERNEL_VIEW.values())))
        started += [(name, [file], node.start_argv(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE), None)
                    for file, argv in OWN_PROCESS_VIEW.items()]
    views = {}
    for name in sorted(lab.nodes):
        frr_dir = run.nodes.get(name, {}).get("frr_dir")
        views[name] = frr.state_views(frr_dir) if frr_dir else {}
    for name, files, proc, commands in started:
        out, err = proc.communicate(commands)
        if commands is None:  # one view, one process
            views[name][files[0]] = out if proc.returncode == 0 else f"exit {proc.returncode}: {err}{out}"
            continue
        parts = _json_values(out, len(files))
        if parts is None:  # a command the kernel refused (no nexthop objects, say): each on its own
            parts = [_ip_view(lab[name], KERNEL_VIEW[file]) for file in files]
        views[name].update(zip(files, parts))
    for name, files in views.items():
        (folder / name).mkdir(exist_ok=True)
        for file, text in files.items():
            (folder / name / file).write_text(text)


def _ip_view(node, command):
    proc = node.start_argv(["ip", "-j", *command.split()], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    return out if proc.returncode == 0 else f"exit {proc.returncode}: {err}{out}"


def _json_values(out, count):
    """The JSON texts `ip -j -batch` printed one after another, or None unless there are `count`."""
    decoder, values, at = json.JSONDecoder(), [], 0
    try:
        while (at := len(out) - len(out[at:].lstrip())) < len(out):  # the next value, past whitespace
            start = at
            _, at = decoder.raw_decode(out, at)
            values.append(out[start:at] + "\n")
    except ValueError:
        return None
    return values if len(values) == count else None


def _copy_run_files(run, folder):
    """The daemons' logs and configs from the run folder, per node."""
    for node_dir in (p for p in run.node_dirs() if not p.name.endswith(CAPTURE_FOLDER_SUFFIX)):
        node = node_dir.name.split(NODE_DIR_SEPARATOR, 1)[1]
        for path in sorted(node_dir.iterdir()):
            if path.is_file() and path.suffix in COPIED_SUFFIXES:
                (folder / node).mkdir(exist_ok=True)
                shutil.copyfile(path, folder / node / path.name)
