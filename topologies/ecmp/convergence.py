"""The ECMP design's cells of the nightly convergence matrix: lb2 fails at 500 ms under one OSPF
timer profile and comes back after twice the profile's detection time and a second; the
failover checks judge it, and a night tracks its gap, route change and recovery figures. And
its connection cells: one event of the LB set (a failure and its restore, an add or a remove)
under one router group (FRR's hash-threshold, or the resilient variant), whose broken
connections a night reports side by side."""
from .scenario import EVENT_TYPES, FAILOVER_CHECKS, FAILURE_TYPES

TARGET = "lb2"
FAILURE_AT_MS = 500
TIMERS = ("hello", "dead", "hello_multiplier", "bfd")  # a profile replaces these OSPF keys, keeps the rest
BUDGET = "max_gap_ms"                                   # a profile's own failover budget
# (figure, its words, the figure of a check's result it is: CheckResult.figures); the first is
# the headline.
FIGURES = (("gap_ms", "gap", "failover gap ms"),
           ("detection_ms", "route change", "route change ms"),
           ("recovery_ms", "recovery", "recovery ms"))

# Connection cells: the events, and (figure, its words) per event of a cell's timeline, each the
# connections_kept figure "<figure> on <event type>".
CONNECTION_EVENTS = ("link_down", "silent_drop", "drain", "add", "remove")
CONNECTION_FIGURES = (("broken stayed", "broken, of LBs that stayed"),
                      ("broken departing", "broken, of the departing LB"),
                      ("broken", "broken in all"), ("alive", "alive before"))
CONNECTION_TARGETS = {"add": "lb4", "remove": "lb4"}  # of the base's 4 LBs: the last joins or leaves
CONNECTION_TARGET = "lb2"                              # a failure's: a middle member of the group

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
        "connections": {"type": "object", "properties": {
            "events": {"type": "array", "uniqueItems": True, "minItems": 1, "default": list(CONNECTION_EVENTS),
                       "items": {"enum": list(EVENT_TYPES), "x-item": "event"}}}},
    },
}


def cell(document, failure, profile, load):
    """The scenario document of one cell, made from the base design's `document`; `load` validates
    a document and returns its spec, whose detection time sets the restore."""
    kept = {k: v for k, v in document.get("ospf", {}).items() if k not in TIMERS}
    document["ospf"] = {**kept, **{k: v for k, v in profile.items() if k in TIMERS}}
    if BUDGET in profile:
        document[BUDGET] = profile[BUDGET]
    # The base's own timeline may not fit these timers: the timers alone set the restore.
    spec = load({k: v for k, v in document.items() if k not in ("failures", "checks", "duration_ms")})
    restore_at = FAILURE_AT_MS + int(2 * spec.ospf.detection_s() * 1000) + 1000
    document["failures"] = [{"type": failure, "target": TARGET, "at_ms": FAILURE_AT_MS},
                            {"type": "restore", "target": TARGET, "at_ms": restore_at}]
    document["checks"] = list(FAILOVER_CHECKS)
    document.pop("duration_ms", None)
    return document


def connection_cell(document, event, group, load):
    """The scenario document of one connection cell, made from the connection base's `document`:
    `event` at 500 ms (a failure restored after twice the detection time and a second), r1's
    group from `group` (scenario keys: `resilient` or none), connections_kept judging it, the
    stream a second past the last event and the connections' answer timeout."""
    document = {k: v for k, v in document.items() if k not in ("failures", "checks", "duration_ms", "resilient")}
    document.update(group)
    spec = load(document)
    target = CONNECTION_TARGETS.get(event, CONNECTION_TARGET)
    document["failures"] = [{"type": event, "target": target, "at_ms": FAILURE_AT_MS}]
    if event in FAILURE_TYPES:
        restore_at = FAILURE_AT_MS + int(2 * spec.ospf.detection_s() * 1000) + 1000
        document["failures"].append({"type": "restore", "target": target, "at_ms": restore_at})
    # A second for the route to settle after the last event, then the connections' fates.
    fate_ms = spec.connections.answer_timeout_ms + 2 * spec.connections.ask_interval_ms
    document["duration_ms"] = document["failures"][-1]["at_ms"] + 1000 + fate_ms
    document["checks"] = ["connections_kept"]
    return document
