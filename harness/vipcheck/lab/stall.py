"""Whether the machine let a timed measurement measure. While a run lives, a probe thread wakes
on a 1 ms timer and records how late it woke, and samples the kernel's CPU pressure stall
totals (PSI) of the machine and of the run's cgroup. A timed check asks for the window it
measured in: the stall found there, and any stall the data itself shows (every surviving
flow losing the same stretch, a sender that stood still), is what the machine may have added.
A timed failure whose overshoot that stall explains is inconclusive, never PASS."""
from dataclasses import dataclass, field
from pathlib import Path

MACHINE_PRESSURE = "/proc/pressure/cpu"


@dataclass
class Stall:
    worst_timer_late_ms: float = 0.0   # the probe's latest wake-up in the window
    run_cpu_full_ms: float = 0.0       # every runnable process of the run waited for a CPU
    machine_cpu_some_ms: float = 0.0   # some task of the machine waited (recorded, not judged: the
    #                                    run's own traffic keeps it well above zero)
    seen: bool = True                  # the probe ran through the window
    witnesses: dict = field(default_factory=dict)  # stalls the measurement itself shows, ms by name
    run_pressure_judged: bool = True   # False where the processes that time the check are witnesses

    @property
    def ms(self):
        """The longest the machine may have held the measured processes back in the window."""
        run_full = self.run_cpu_full_ms if self.run_pressure_judged else 0.0
        return max(self.worst_timer_late_ms, run_full, *self.witnesses.values(), 0.0)

    def with_witnesses(self, **witnesses):
        return Stall(self.worst_timer_late_ms, self.run_cpu_full_ms, self.machine_cpu_some_ms, self.seen,
                     {**self.witnesses, **{k: round(v, 3) for k, v in witnesses.items() if v}},
                     self.run_pressure_judged)

    def of_processes(self, **witnesses):
        """The stall of a measurement that a few known processes time (a VRRP backup's timer, the
        sender of the stream): their own waits, the witnesses, and the 1 ms timer judge it. The
        run's pressure is kept for the record only: it counts the moments when every busy process
        of the run waited (the other stream's sinks, say) while the timing ones slept on a timer."""
        stall = self.with_witnesses(**witnesses)
        stall.run_pressure_judged = False
        return stall

    def explains(self, excess_ms):
        """An overshoot of excess_ms past a bound could be the machine's, not the design's."""
        return excess_ms > 0 and self.ms >= excess_ms

    def line(self):
        parts = [f"a 1 ms timer woke up to {self.worst_timer_late_ms:.1f} ms late",
                 f"all of the run's processes waited {self.run_cpu_full_ms:.1f} ms for a CPU"
                 + ("" if self.run_pressure_judged else " (recorded, not judged: the timing processes are witnesses)"),
                 *(f"{name.replace('_', ' ')} {ms:.1f} ms" for name, ms in self.witnesses.items())]
        if not self.seen:
            parts.insert(0, "the stall probe saw none of the window")
        return f"the machine stalled up to {self.ms:.1f} ms in the window ({'; '.join(parts)})"

    def as_dict(self):
        return {"stall_ms": round(self.ms, 3), "worst_timer_late_ms": round(self.worst_timer_late_ms, 3),
                "run_cpu_full_ms": round(self.run_cpu_full_ms, 3),
                "machine_cpu_some_ms": round(self.machine_cpu_some_ms, 3), "probe_saw_window": self.seen,
                "run_pressure_judged": self.run_pressure_judged,
                **({"witnesses": self.witnesses} if self.witnesses else {})}


def cpu_wait_ns(pids):
    """How long every thread of these processes has waited on a run queue, in ns, summed (the
    second field of schedstat). Over a window it is what CPU contention added to work these
    processes did in turn, as r1's bfdd, zebra and ospfd do to withdraw a route; the run's
    pressure counts only the moments when all of the run's processes waited at once."""
    total = 0
    for pid in pids:
        for schedstat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
            try:
                total += int(schedstat.read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue  # a thread that ended meanwhile
    return total


class StallWatch:
    """The probe of one run, from its start to its end."""

    def __init__(self, cgroup_path):
        from vipcheck import _core  # here: `ps` and `clean` need no drivers
        self.probe = _core.StallProbe([MACHINE_PRESSURE, str(cgroup_path / "cpu.pressure")])

    def window(self, from_ns, to_ns):
        w = self.probe.window(int(from_ns), int(to_ns))
        return Stall(w.worst_late_ms, w.full_ms[1], w.some_ms[0], seen=w.wakeups > 0)

    def stop(self):
        self.probe.stop()
