"""FRR writes a folder per daemon start (/var/tmp/frr/<daemon>-<instance>.<pid>, its crash
log buffer) at a path compiled in. The harness gives itself a mount namespace of its own in
which that path is a private tmpfs: the folders of its dry runs and daemons land there and
vanish with the last process that can see them, also after a SIGKILL."""
import ctypes
import os
import shutil
from pathlib import Path

FRR_TMP = Path("/var/tmp/frr")
CLONE_NEWNS = 0x00020000
MS_REC, MS_PRIVATE = 0x4000, 1 << 18
_libc = ctypes.CDLL(None, use_errno=True)
_private = False


def _check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def make_private():
    """Once per process, before any thread starts (unshare refuses a threaded process).
    /var/tmp/frr itself is FRR's own folder, made as FRR makes it on its first start."""
    global _private
    if _private:
        return
    FRR_TMP.mkdir(mode=0o755, parents=True, exist_ok=True)
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    # Private from here on: nothing mounted below propagates back to the machine's namespace.
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    _check(_libc.mount(b"vipcheck-frr-tmp", str(FRR_TMP).encode(), b"tmpfs", 0, b"mode=0755"),
           f"mount tmpfs on {FRR_TMP}")
    _private = True


def empty():
    """Removes what the run's daemons wrote there (only ever our own tmpfs)."""
    if not _private:
        return
    for entry in FRR_TMP.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
