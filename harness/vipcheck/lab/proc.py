"""What /proc says of one process."""


def stat_fields(pid):
    """The fields of /proc/PID/stat after the command name, the state first (`man 5 proc` numbers
    them from 3), or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
