"""Checks turn measurements into verdicts. Each says what it expected, what it measured and,
when it fails, the most likely cause in the design under test."""
from dataclasses import dataclass, field

# Statistical checks reject at this false-alarm rate: a sound design fails by chance in
# fewer than 1 run in 100,000, below the project's 1 in 10,000 ceiling.
FALSE_ALARM_RATE = 1e-5


@dataclass
class CheckResult:
    name: str
    passed: bool
    measured: str
    expected: str
    diagnosis: str = ""
    details: dict = field(default_factory=dict)
    inconclusive: bool = False  # failed by less than the machine stalled in its window: measure again
    stall: dict = None          # a timed check's window: how much the machine stalled in it (lab.stall)
    figures: dict = field(default_factory=dict)  # label -> value that `run --repeat` sums up over the runs

    @property
    def verdict(self):
        return "PASS" if self.passed else "INCONCLUSIVE" if self.inconclusive else "FAIL"

    def as_dict(self):
        return {"name": self.name, "passed": self.passed, "verdict": self.verdict, "measured": self.measured,
                "expected": self.expected, "diagnosis": self.diagnosis, "details": self.details,
                **({"stall": self.stall} if self.stall is not None else {})}


def timed(result, excess_ms, stall):
    """Marks a timed check's result with its window's stall: a failure that overshot its bound by
    no more than the machine stalled is inconclusive, and its diagnosis says what stalled."""
    result.stall = stall.as_dict()
    if not result.passed and stall.explains(excess_ms):
        result.inconclusive = True
        result.diagnosis = (f"inconclusive: {stall.line()}, which explains the {excess_ms:.1f} ms past the bound"
                            + (f" (else: {result.diagnosis})" if result.diagnosis else ""))
    return result
