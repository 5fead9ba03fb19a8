"""A view of the machine in which what is written to /tmp, /var/tmp and /run is seen by its
writers but kept apart: a private mount namespace with an overlay on each of the three folders,
whose upper layer holds exactly what processes in the view created, changed or deleted there,
whatever the rest of the machine writes meanwhile. Folders named as arguments (a case's runs
folder, its temporary folder) are bound back to the real ones, so they stay shared.
    unshare --mount --propagation private -- python3 overlay_view.py [KEEP...]
prints "ready" once the view is up and holds it until its standard input closes. Enter it with
`nsenter --mount=/proc/PID/ns/mnt`; the upper layers are under /proc/PID/root/LAYERS."""
import os
import subprocess
import sys
from pathlib import Path

WATCHED = ("/tmp", "/var/tmp", "/run")
LAYERS = Path("/mnt")  # a tmpfs mounted in the view only, outside every watched folder


def upper(index):
    return LAYERS / f"upper-{index}"


def _mount(*args):
    subprocess.run(["mount", *args], check=True, stdin=subprocess.DEVNULL)


def build(keep):
    if not LAYERS.is_dir():
        sys.exit(f"overlay_view: {LAYERS} is missing: the layers need an empty folder to mount on")
    _mount("-t", "tmpfs", "vipcheck-layers", str(LAYERS))
    staged = []
    for index, folder in enumerate(keep):  # reachable once the overlays cover their parents
        stage = LAYERS / f"keep-{index}"
        stage.mkdir()
        _mount("--bind", folder, str(stage))
        staged.append((stage, folder))
    for index, folder in enumerate(WATCHED):
        work = LAYERS / f"work-{index}"
        upper(index).mkdir()
        work.mkdir()
        _mount("-t", "overlay", "vipcheck-view", "-o",
               f"lowerdir={folder},upperdir={upper(index)},workdir={work}", folder)
    for stage, folder in staged:
        _mount("--bind", str(stage), folder)


def written(holder_pid):
    """What processes in the view wrote to the watched folders, as paths in the machine's view
    (a deleted entry shows as what overlayfs records for it, a character device)."""
    found = set()
    for index, folder in enumerate(WATCHED):
        layer = f"/proc/{holder_pid}/root{upper(index)}"
        for parent, dirs, files in os.walk(layer):
            found |= {os.path.join(folder, os.path.relpath(parent, layer), name) for name in dirs + files}
    return {os.path.normpath(path) for path in found}


if __name__ == "__main__":
    build([str(Path(folder).resolve()) for folder in sys.argv[1:]])
    print("ready", flush=True)
    sys.stdin.read()
