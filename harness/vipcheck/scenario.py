"""Scenario files: YAML naming a design (`topology:`) and its keys, validated against that
design's schema and rules before anything touches the kernel. Every problem is one line naming
the file, the key and the fault."""
from pathlib import Path

import yaml

from vipcheck import designs, schema
from vipcheck.errors import ScenarioError
from vipcheck.schema.shared import Keys


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser: 10x faster
    """A duplicated key is a typo that would silently win; refuse it."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load(path):
    """Reads and validates a scenario file; raises ScenarioError naming the problem."""
    return _load(path)[0]


def load_case(path):
    """(scenario, expectation): what a case states it must do (its `expect:` block) is {check:
    words its diagnosis must hold} for every check it must fail, {} for a design that must pass
    every check, None without a block."""
    return _load(path)


def read_yaml(path):
    """The file's YAML, or a ScenarioError naming the line of a syntax error."""
    source = str(path)
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ScenarioError(source, "", f"cannot read: {e.strerror}") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ScenarioError(source, where, f"YAML syntax: {problem}") from None


def _load(path):
    source = str(path)
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ScenarioError(source, "", f"must be a mapping of keys, got {type(raw).__name__}")
    topology = raw.get("topology")
    if topology not in designs.names():  # a folder of topologies/
        raise ScenarioError(source, "topology", f"must be one of {', '.join(designs.names())}, got {topology!r}")
    keys = designs.scenario_keys(topology)
    top = Keys(source, "", schema.validate(raw, keys.SCHEMA, source))
    scenario = keys.parse(top)
    return scenario, None if raw.get("expect") is None else _expect(top.sub("expect"), scenario.checks)


def _expect(keys, checks):
    """expect: {fail: {CHECK: [words the diagnosis must hold], ...}}; no `fail`, the design must pass."""
    for check in keys["fail"]:
        if check not in checks:
            keys.fail(f"fail.{check}", f"not among the scenario's checks ({', '.join(checks)})")
    return {check: list(words) for check, words in keys["fail"].items()}
