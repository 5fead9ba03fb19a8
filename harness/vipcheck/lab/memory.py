"""Memory a run costs: the proportional set size (shared pages split between their users) of
its node holders and daemons, sampled once converged and again after the traffic, and how far
the harness's own peak grew meanwhile."""
import resource

import psutil

from vipcheck.lab.run import alive

KIB = 1024


def pss_kib(pid):
    """A process's PSS in KiB; 0 when it is gone."""
    try:
        return psutil.Process(pid).memory_full_info().pss // KIB
    except (psutil.Error, AttributeError):  # gone, or a kernel without smaps
        return 0


def harness_peak_kib():
    """The harness's peak resident size (VmHWM) in KiB: Linux reports ru_maxrss in KiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class MemorySampler:
    def __init__(self, run):
        self.run = run
        self.peak_kib = 0
        self.harness_start_kib = psutil.Process().memory_info().rss // KIB

    def sample(self):
        """PSS of every process the run started and of its node holders, if larger than before."""
        pids = [(pid, start) for pid, start, _ in self.run.processes]
        pids += [(node["pid"], node["start"]) for node in self.run.nodes.values()]
        total = sum(pss_kib(pid) for pid, start in pids if alive(pid, start))
        self.peak_kib = max(self.peak_kib, total)

    def figures(self, sink_bytes=0):
        nodes = max(1, len(self.run.nodes))
        peak_kib = harness_peak_kib()
        return {"nodes": len(self.run.nodes), "node_processes_peak_mib": round(self.peak_kib / 1024, 1),
                "per_node_mib": round(self.peak_kib / 1024 / nodes, 2),
                "harness_growth_mib": round((peak_kib - self.harness_start_kib) / 1024, 1),
                "harness_peak_mib": round(peak_kib / 1024, 1),
                "sinks_mib": round(sink_bytes / 2**20, 2)}
