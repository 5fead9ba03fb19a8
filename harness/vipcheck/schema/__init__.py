"""The scenario file's vocabulary: each design's keys are a JSON Schema in its folder
(scenario.schema.json), validated here with python3-jsonschema, which also fills in the
defaults. What a schema cannot say (an address's meaning, rules across keys) is a little code
in the design's scenario.py, using the helpers of shared.py. Every problem is one line naming
the file, the key and the fault."""
import copy
import json
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator, validators

from vipcheck.errors import ScenarioError

SHARED = Path(__file__).with_name("shared.schema.json")
TYPE_WORDS = {"integer": "an integer", "number": "a number", "boolean": "true or false", "string": "text",
              "object": "a mapping", "array": "a list"}


def _with_defaults(cls):
    """A validator that first fills in each absent property's `default` (a copy), so a key left
    out is validated, and read, as its default."""
    check_properties = cls.VALIDATORS["properties"]

    def properties(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from check_properties(validator, properties, instance, schema)

    return validators.extend(cls, {"properties": properties})


Validator = _with_defaults(Draft202012Validator)


@lru_cache(maxsize=None)
def load_schema(path):
    """A design's schema, with the shared definitions (`#/$defs/...`) merged in. That it is a valid
    JSON Schema is the unit tests' to prove (check_schema took 6 ms of every run)."""
    schema = json.loads(Path(path).read_text())
    schema["$defs"] = {**json.loads(SHARED.read_text())["$defs"], **schema.get("$defs", {})}
    return schema


def validate(raw, schema, source):
    """Fills `raw`'s defaults in place and raises ScenarioError for the first problem, if any."""
    errors = list(Validator(schema).iter_errors(raw))
    if errors:
        first = _deepest(min(errors, key=lambda e: (len(e.absolute_path), [str(p) for p in e.absolute_path])))
        raise ScenarioError(source, *_explain(first))
    return raw


def where(path):
    """failures[0].at_ms: keys joined by dots, list positions in brackets."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _deepest(error):
    """Of a oneOf/anyOf, the branch's error that reached furthest into the value: for `bfd:
    {interval_ms: 5}` the interval's bound, not "not a boolean". Where no branch went deeper,
    the alternatives' own words (x-hint) say it best."""
    while error.context:
        deeper = [e for e in error.context if len(e.absolute_path) > len(error.absolute_path)]
        if not deeper:
            break
        error = max(deeper, key=lambda e: len(e.absolute_path))
    return error


def _explain(error):
    """(where, problem) in the words of the schema: its x-hint when it has one."""
    path, schema, value, kind = list(error.absolute_path), error.schema, error.instance, error.validator
    if "propertyNames" in error.absolute_schema_path:  # a key the mapping may not have, named where it stands
        return where(path + [value]), schema.get("x-hint", error.message)
    if kind == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        unknown = sorted(set(map(str, value)) - set(known))[0]
        return where(path + [unknown]), f"unknown key (known here: {', '.join(known)})"
    if kind == "required":
        missing = next(key for key in error.validator_value if key not in value)
        return where(path + [missing]), "missing"
    item = schema.get("x-item")
    if kind == "enum" and item:  # a list's entry: named by the list
        return where(path[:-1]), f"unknown {item} {value!r} (known: {', '.join(map(str, schema['enum']))})"
    if kind == "uniqueItems":
        return where(path), f"lists a {schema['items'].get('x-item', 'value')} twice"
    if kind == "minItems" and not value:
        return where(path), schema.get("x-empty", f"lists no {schema['items'].get('x-item', 'value')}")
    if "x-hint" in schema:
        return where(path), f"must be {schema['x-hint']}, got {value!r}"
    if kind in ("minimum", "maximum"):
        return where(path), f"must be between {schema['minimum']} and {schema['maximum']}, got {value}"
    if kind == "type":
        return where(path), f"must be {TYPE_WORDS.get(schema['type'], schema['type'])}, got {value!r}"
    if kind == "enum":
        return where(path), f"must be one of {', '.join(map(str, schema['enum']))}, got {value!r}"
    return where(path), error.message
