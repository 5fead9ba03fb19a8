"""The ECMP design's cells of the nightly convergence matrix: lb2 fails at 500 ms under one OSPF
timer profile and comes back after twice the profile's detection time and a second; the
failover checks judge it, and a night tracks its gap, route change and recovery figures."""
from .scenario import FAILOVER_CHECKS, FAILURE_TYPES

TARGET = "lb2"
FAILURE_AT_MS = 500
TIMERS = ("hello", "dead", "hello_multiplier", "bfd")  # a profile replaces these OSPF keys, keeps the rest
BUDGET = "max_gap_ms"                                   # a profile's own failover budget
# (figure, its words, the figure of a check's result it is: CheckResult.figures); the first is
# the headline.
FIGURES = (("gap_ms", "gap", "failover gap ms"),
           ("detection_ms", "route change", "route change ms"),
           ("recovery_ms", "recovery", "recovery ms"))

# The matrix keys this design gives their meaning; nightly.schema.json holds the rest.
CELLS_SCHEMA = {
    "type": "object",
    "properties": {
        "failures": {"type": "array", "uniqueItems": True, "minItems": 1,
                     "default": ["link_down", "silent_drop", "frr_crash", "drain"],
                     "items": {"enum": list(FAILURE_TYPES), "x-item": "failure"}},
        "profiles": {"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": False,
            "properties": {key: {} for key in (*TIMERS, BUDGET)}}},
    },
}


def cell(document, failure, profile, load):
    """The scenario document of one cell, made from the base design's `document`; `load` validates
    a document and returns its spec, whose detection time sets the restore."""
    kept = {k: v for k, v in document.get("ospf", {}).items() if k not in TIMERS}
    document["ospf"] = {**kept, **{k: v for k, v in profile.items() if k in TIMERS}}
    if BUDGET in profile:
        document[BUDGET] = profile[BUDGET]
    spec = load(document)
    restore_at = FAILURE_AT_MS + int(2 * spec.ospf.detection_s() * 1000) + 1000
    document["failures"] = [{"type": failure, "target": TARGET, "at_ms": FAILURE_AT_MS},
                            {"type": "restore", "target": TARGET, "at_ms": restore_at}]
    document["checks"] = list(FAILOVER_CHECKS)
    document.pop("duration_ms", None)
    return document
