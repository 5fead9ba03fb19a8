"""The nightly convergence matrix: every failure under every timer profile, repeated in fresh
networks; statistics per cell, a history across nights, and regressions against it. Each
profile holds the design to a budget its detection mechanism can meet, so the report turns red
only on a regression or a broken invariant (a cell that failed for certain); a known defect of
a daemon is run too and reported as what it is, not as a failing cell. What a cell is (which
failures, which timer keys, which checks and figures) is the base design's convergence.py.
With `connections`, every event of the LB set under every router group too: the connections
each broke, side by side (the groups differ by design, so these are figures, not verdicts)."""
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from vipcheck import designs, experiment, scenario as scenarios, schema, shard as shards
from vipcheck.errors import ScenarioError, UsageError
from vipcheck.report import percentile

MATRIX_SCHEMA = schema.load_schema(Path(__file__).with_name("nightly.schema.json"))


def load_matrix(path):
    raw = scenarios.read_yaml(path)  # a missing file: "cannot read", one line
    if not isinstance(raw, dict):
        raise ScenarioError(str(path), "", f"must be a mapping of keys, got {type(raw).__name__}")
    top = schema.validate(raw, MATRIX_SCHEMA, str(path))
    folder = Path(path).parent
    base = (folder / top["base"]).resolve()
    if not base.exists():
        raise ScenarioError(str(path), "base", f"no such scenario: {base}")
    topology = scenarios.load(base).topology
    convergence = designs.convergence(topology)
    if convergence is None:
        having = ", ".join(t for t in designs.names() if designs.convergence(t))
        raise ScenarioError(str(path), "base", f"a {topology} scenario: that design has no nightly convergence "
                                               f"cells (designs with them: {having})")
    schema.validate(top, convergence.CELLS_SCHEMA, str(path))  # the design's failures and timer keys
    return {"name": top.get("name", Path(path).stem), "base": base, "topology": topology,
            "convergence": convergence, "failures": tuple(top["failures"]), "profiles": top["profiles"],
            "repeats": top["repeats"], "margin": float(top["regression_margin"]), "design": top["design"],
            "known_defects": [_known_entry(path, index, entry) for index, entry in enumerate(top["known_defects"])],
            "connections": _connections_entry(path, top, convergence, topology)}


def _connections_entry(path, top, convergence, topology):
    """The connection cells' base scenario (of the same design), events and router groups, or None."""
    entry = top.get("connections")
    if entry is None:
        return None
    base = (Path(path).parent / entry["base"]).resolve()
    if not base.exists():
        raise ScenarioError(str(path), "connections.base", f"no such scenario: {base}")
    if scenarios.load(base).topology != topology:
        raise ScenarioError(str(path), "connections.base", f"must be a scenario of the base's design, {topology}")
    return {"base": base, "events": tuple(entry.get("events", convergence.CONNECTION_EVENTS)),
            "groups": dict(entry["groups"]), "repeats": entry.get("repeats", 3),
            "figures": convergence.CONNECTION_FIGURES}


def _known_entry(path, index, entry):
    """A known defect's scenario, and the checks it fails: only checks that scenario runs."""
    where = f"known_defects[{index}]"
    scenario = (Path(path).parent / entry["scenario"]).resolve()
    if not scenario.exists():
        raise ScenarioError(str(path), f"{where}.scenario", f"no such scenario: {scenario}")
    runs = scenarios.load(scenario).checks
    unknown = [check for check in entry["fails"] if check not in runs]
    if unknown:
        raise ScenarioError(str(path), f"{where}.fails", f"names {unknown[0]!r}, a check its scenario does not "
                                                         f"run (it runs: {', '.join(runs)})")
    return {"scenario": scenario, "fails": sorted(entry["fails"]), "defect": entry["defect"],
            "fixed_in": entry["fixed_in"]}


def cell_scenario(matrix, failure, profile, folder):
    """Writes and validates the scenario of one cell: the base design with the matrix's keys,
    made into this failure under this timer profile by the design's convergence.py."""
    document = {**yaml.safe_load(matrix["base"].read_text()), **matrix["design"]}
    document["name"] = f"{failure}.{profile}"
    document = matrix["convergence"].cell(document, failure, matrix["profiles"][profile],
                                          lambda draft: scenarios.load(_write(folder, draft)))
    return scenarios.load(_write(folder, document))


def tracked(matrix):
    """The figures a night tracks, in the design's words; the first is the headline figure."""
    return [{"figure": figure, "words": words} for figure, words, _ in matrix["convergence"].FIGURES]


def _write(folder, document):
    path = Path(folder) / f"{document['name']}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


class Progress:
    """Progress on stderr: on a terminal a one-line bar (done/total, the current cell, time so far)
    redrawn in place; in a log (CI), one line per finished run, as progress libraries do there."""

    def __init__(self, total, stream=sys.stderr):
        self.total, self.done, self.stream, self.start = total, 0, stream, time.monotonic()
        self.live = stream.isatty()
        self.run_start = self.start

    def show(self, label):
        self.run_start = time.monotonic()
        if not self.live:
            return
        width = 30
        filled = int(width * self.done / self.total)
        elapsed = time.monotonic() - self.start
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                          f"{elapsed:5.0f}s {label:<40.40}")
        self.stream.flush()

    def step(self, label):
        self.done += 1
        if not self.live:
            now = time.monotonic()
            self.stream.write(f"nightly: {self.done}/{self.total} {label} in {now - self.run_start:.1f} s "
                              f"({now - self.start:.0f} s so far)\n")
            self.stream.flush()
            return
        self.show(label)
        if self.done == self.total:
            self.stream.write("\n")


def matrix_cells(matrix):
    return [(f, p) for f in matrix["failures"] for p in matrix["profiles"]]


def run_matrix(matrix, seed=None, progress=None, shard=None):
    """Runs every cell, or with shard=(K, N) the K-th share of them; a cell's seeds depend on its
    place in the whole matrix, so a sharded night runs exactly what an unsharded one would. Known
    defects and connection cells run once a night, in the first share of a sharded one."""
    chosen = shards.pick(list(enumerate(matrix_cells(matrix))), shard)
    first = not shard or shard[0] == 1
    with tempfile.TemporaryDirectory(prefix="vipcheck-nightly-") as folder:
        # Every cell is validated before the first network is built.
        specs = {cell: cell_scenario(matrix, *cell, folder) for _, cell in chosen}
        connection_specs = {cell: connection_cell_scenario(matrix, *cell, folder)
                            for cell in connection_cells(matrix)} if first else {}
        repeats = matrix["connections"]["repeats"] if connection_specs else 0
        progress = progress or Progress(max(1, len(chosen) * matrix["repeats"] + len(connection_specs) * repeats))
        results, representative = [], None
        for index, (failure, profile) in chosen:
            runs = []
            for repeat in range(matrix["repeats"]):
                progress.show(f"{failure} / {profile} #{repeat + 1}")
                run_seed = None if seed is None else seed + index * 1000 + repeat
                result = experiment.run_scenario(specs[(failure, profile)], seed=run_seed)
                runs.append(result)
                if representative is None and result.timeline:
                    representative = {"failure": failure, "profile": profile, **result.timeline}
                progress.step(f"{failure} / {profile} #{repeat + 1}")
            results.append(_cell(failure, profile, runs, matrix["convergence"].FIGURES))
        connections = []
        for index, ((event, group), spec) in enumerate(connection_specs.items()):
            runs = []
            for repeat in range(repeats):
                label = f"connections {event} / {group} #{repeat + 1}"
                progress.show(label)
                run_seed = None if seed is None else seed + 500_000 + index * 1000 + repeat
                runs.append(experiment.run_scenario(spec, seed=run_seed))
                progress.step(label)
            connections.append(_connection_cell(event, group, runs, matrix["connections"]["figures"], spec))
    defects = [_known_defect(entry, seed) for entry in matrix["known_defects"]] if first else []
    return {"matrix": matrix["name"], "figures": tracked(matrix), "cells": results, "timeline": representative,
            "known_defects": defects, "connections": connections}


def connection_cells(matrix):
    spec = matrix.get("connections")
    return [(event, group) for event in spec["events"] for group in spec["groups"]] if spec else []


def connection_cell_scenario(matrix, event, group, folder):
    """Writes and validates one connection cell's scenario (the design's convergence.connection_cell)."""
    spec = matrix["connections"]
    document = yaml.safe_load(spec["base"].read_text())
    document["name"] = f"connections.{event}.{group}"
    document = matrix["convergence"].connection_cell(document, event, spec["groups"][group],
                                                     lambda draft: scenarios.load(_write(folder, draft)))
    return scenarios.load(_write(folder, document))


def _connection_cell(event, group, runs, figures, scenario):
    """One connection cell: per event of its timeline (the event, its restore), each figure's
    median and maximum over the runs."""
    rows = []
    for kind in [f.type for f in scenario.failures]:
        row = {"event": kind}
        for figure, _ in figures:
            values = [c.figures[f"{figure} on {kind}"] for r in runs for c in r.checks
                      if f"{figure} on {kind}" in c.figures]
            row[figure] = {"median": statistics.median(values), "max": max(values)} if values else None
        rows.append(row)
    return {"event": event, "group": group, "runs": len(runs), "passed": sum(r.passed for r in runs),
            "rows": rows, "seeds": [r.seed for r in runs],
            "failed_checks": sorted({c.name for r in runs for c in r.checks if not c.passed})}


def _known_defect(entry, seed):
    """Runs a known defect's scenario: still there when it fails exactly the checks it names."""
    result = experiment.run_scenario(scenarios.load(entry["scenario"]), seed=seed)
    failed = sorted(c.name for c in result.checks if not c.passed)
    state = "present" if failed == entry["fails"] else "gone" if not failed else "changed"
    return {"scenario": entry["scenario"].name, "defect": entry["defect"], "fixed_in": entry["fixed_in"],
            "expected_to_fail": entry["fails"], "failed_checks": failed, "state": state, "seed": result.seed}


def broken(report):
    """Cells in which a check failed for certain: a broken invariant, not a figure."""
    return [c for c in report["cells"] if c.get("failed_for_certain")]


def merge_shards(matrix, paths):
    """One night's report from the shard files that N runners wrote: every cell exactly once."""
    cells, timelines, defects, connections = {}, [], [], []
    for path in paths:
        try:
            part = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise UsageError(f"{path}: not a nightly shard file ({e})") from None
        if part.get("matrix") != matrix["name"]:
            raise UsageError(f"{path}: a shard of matrix {part.get('matrix')!r}, not {matrix['name']!r}")
        for cell in part["cells"]:
            key = (cell["failure"], cell["profile"])
            if key in cells:
                raise UsageError(f"{path}: cell {key[0]}/{key[1]} is in two shard files")
            cells[key] = cell
        if part.get("timeline"):
            timelines.append(part["timeline"])
        defects += part.get("known_defects", [])
        connections += part.get("connections", [])
    missing = [f"{f}/{p}" for f, p in matrix_cells(matrix) if (f, p) not in cells]
    if missing:
        raise UsageError(f"the shard files lack {len(missing)} cell(s): {', '.join(missing[:3])}; "
                         "pass every shard's file")
    order = matrix_cells(matrix)
    timelines.sort(key=lambda t: order.index((t["failure"], t["profile"])))
    return {"matrix": matrix["name"], "figures": tracked(matrix), "cells": [cells[key] for key in order],
            "timeline": timelines[0] if timelines else None, "known_defects": defects, "connections": connections}


def _cell(failure, profile, runs, tracked_figures):
    """One cell's runs: what failed and why, by seed, and each tracked figure's statistics."""
    figures = {}
    for label, _, reported in tracked_figures:
        values = [c.figures[reported] for r in runs for c in r.checks if c.figures.get(reported) is not None]
        if values:
            figures[label] = {"values": values, "min": min(values), "median": statistics.median(values),
                              "p95": percentile(values, 0.95), "max": max(values)}
    return {"failure": failure, "profile": profile, "runs": len(runs), "passed": sum(r.passed for r in runs),
            "failed_checks": sorted({c.name for r in runs for c in r.checks if not c.passed}),
            "failed_for_certain": sorted({c.name for r in runs for c in r.checks if not c.passed and not c.inconclusive}),
            # What each failure measured and why, by seed: what a red night is read from.
            "failures": [{"seed": r.seed, "check": c.name, "verdict": c.verdict, "measured": c.measured,
                          "diagnosis": c.diagnosis} for r in runs for c in r.checks if not c.passed],
            "figures": figures, "seeds": [r.seed for r in runs]}


def read_history(path):
    if not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def headline(report):
    """The figure a night's history and regressions follow: the design's first."""
    return report["figures"][0]


def _median(cell, report):
    return cell["figures"].get(headline(report)["figure"], {}).get("median")


def append_history(path, date, report):
    entry = {"date": date, "medians": {f"{c['failure']}/{c['profile']}": _median(c, report) for c in report["cells"]}}
    with open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")


def regressions(report, history, margin, nights=7):
    """Cells whose headline median is worse than the median of the last `nights` by more than margin."""
    flagged = []
    for cell in report["cells"]:
        key = f"{cell['failure']}/{cell['profile']}"
        past = [h["medians"].get(key) for h in history[-nights:] if h["medians"].get(key) is not None]
        now = _median(cell, report)
        if past and now is not None:
            baseline = statistics.median(past)
            if now > baseline * (1 + margin) and now - baseline > 1.0:  # ignore sub-millisecond noise
                flagged.append({"cell": key, "median_ms": now, "baseline_ms": baseline, "nights": len(past)})
    return flagged
