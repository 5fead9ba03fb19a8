"""--shard K/N: the K-th of N equal shares of a job's work, the same on every machine, so CI can
fan one job out over N runners and merge what they report."""
import re

from vipcheck.errors import UsageError

SHARD = re.compile(r"^(\d+)/(\d+)$")


def parse(text):
    match = SHARD.match(text or "")
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise UsageError(f"--shard takes K/N with 1 <= K <= N, such as 2/4; got {text!r}")
    return int(match.group(1)), int(match.group(2))


def pick(items, shard):
    """Round robin over `items` in the order given (callers sort them): item i goes to shard i mod N."""
    if shard is None:
        return list(items)
    k, n = shard
    return [item for index, item in enumerate(items) if index % n == k - 1]
