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
    disturbed: bool = False   # the machine, not the design, spoiled the measurement: measure again

    def as_dict(self):
        return {"name": self.name, "passed": self.passed, "measured": self.measured,
                "expected": self.expected, "diagnosis": self.diagnosis, "details": self.details,
                **({"disturbed": True} if self.disturbed else {})}
