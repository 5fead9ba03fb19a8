"""Memory a run costs: the proportional set size (shared pages split between their users) of
its node shells and daemons, sampled once converged and again after the traffic, and how far
the harness's own peak grew meanwhile."""
from pathlib import Path

from vipcheck.run import alive


def pss_kib(pid):
    """A process's PSS in KiB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def own_kib(field):
    """VmRSS (now) or VmHWM (peak) of the harness process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


class MemorySampler:
    def __init__(self, run):
        self.run = run
        self.peak_kib = 0
        self.harness_start_kib = own_kib("VmRSS")

    def sample(self):
        """PSS of every process the run started and of its node shells, if larger than before."""
        pids = [(pid, start) for pid, start, _ in self.run.processes]
        pids += [(node["pid"], node["start"]) for node in self.run.nodes.values()]
        total = sum(pss_kib(pid) for pid, start in pids if alive(pid, start))
        self.peak_kib = max(self.peak_kib, total)

    def figures(self, sink_bytes=0):
        nodes = max(1, len(self.run.nodes))
        harness_peak_kib = own_kib("VmHWM")
        return {"nodes": len(self.run.nodes), "node_processes_peak_mib": round(self.peak_kib / 1024, 1),
                "per_node_mib": round(self.peak_kib / 1024 / nodes, 2),
                "harness_growth_mib": round((harness_peak_kib - self.harness_start_kib) / 1024, 1),
                "harness_peak_mib": round(harness_peak_kib / 1024, 1),
                "sinks_mib": round(sink_bytes / 2**20, 2)}
