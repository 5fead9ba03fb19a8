"""FRR writes outside the folders it is given, at paths compiled in: a folder per daemon start
under /var/tmp/frr (<daemon>-<instance>.<pid>, its crash-log buffer), and ospfd's
graceful-restart state, one file shared by every ospfd, in its run-state folder /var/run/frr.
The harness gives itself a mount namespace of its own in which both are private tmpfs mounts:
what its dry runs and daemons write there lands in them and vanishes with the last process that
can see them, also after a SIGKILL."""
import ctypes
import grp
import os
import pwd
import shutil
from pathlib import Path

FRR_TMP = Path("/var/tmp/frr")
FRR_RUN_STATE = Path("/var/run/frr")
FOLDERS = (FRR_TMP, FRR_RUN_STATE)
CLONE_NEWNS = 0x00020000
MS_REC, MS_PRIVATE = 0x4000, 1 << 18
_libc = ctypes.CDLL(None, use_errno=True)
_private = False


def _check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _owner():
    """FRR's user and group, which own its run-state folder as its package makes it."""
    try:
        return pwd.getpwnam("frr").pw_uid, grp.getgrnam("frr").gr_gid
    except KeyError:
        return 0, 0


def make_private():
    """Once per process, before any thread starts (unshare refuses a threaded process). The
    folders themselves are FRR's own, made as FRR makes them on its first start."""
    global _private
    if _private:
        return
    uid, gid = _owner()
    for folder in FOLDERS:
        if not folder.is_dir():
            folder.mkdir(mode=0o755, parents=True)
            if folder == FRR_RUN_STATE:
                os.chown(folder, uid, gid)
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    # Private from here on: nothing mounted below propagates back to the machine's namespace.
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    for folder in FOLDERS:
        owner = f",uid={uid},gid={gid}" if folder == FRR_RUN_STATE else ""
        _check(_libc.mount(b"vipcheck-frr", str(folder).encode(), b"tmpfs", 0, f"mode=0755{owner}".encode()),
               f"mount tmpfs on {folder}")
    _private = True


def empty():
    """Removes what the run's daemons wrote there (only ever our own tmpfs mounts)."""
    if not _private:
        return
    for folder in FOLDERS:
        for entry in folder.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
