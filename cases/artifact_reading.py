"""What a failing dns-pairs run's artifacts hold, read from the folder its test_designs.py run left:
every daemon's log, the requests HAProxy served, the flow table of the failover stream."""
import csv
import re
from pathlib import Path


def assert_every_daemon_log_is_kept(run):
    folder = Path(run.result["artifacts"])
    assert (folder / "dns/named.log").stat().st_size > 0
    assert (folder / "redis/redis.log").stat().st_size > 0
    for lb in ("lb-a1", "lb-b1"):
        assert (folder / lb / "keepalived.log").stat().st_size > 0
        assert re.search(r'"(GET|POST) /', (folder / lb / "haproxy.log").read_text()), f"{lb}: no request logged"
    with open(folder / "flows-vip-a.csv") as f:
        assert list(csv.DictReader(f))
    repro = (folder / "REPRO.txt").read_text()
    assert run.failed and all(name in repro for name in run.failed), (run.failed, repro)
