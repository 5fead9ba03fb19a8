"""Results for people (a table), for programs (JSON) and for CI (JUnit XML)."""
import json
import shutil
import statistics
import textwrap
import xml.etree.ElementTree as ET


def _wrap(text, width):
    return textwrap.wrap(text, width) or [""]


def table(result):
    """The checks of one run as a readable table, diagnoses under the failures."""
    width = max(80, min(shutil.get_terminal_size((100, 20)).columns, 140))
    name_w = max(len("check"), *(len(c.name) for c in result.checks)) if result.checks else 5
    verdict_w = 12 if result.inconclusive or result.remeasured else 7
    lines = [f"{result.scenario}  (run {result.run_id}, seed {result.seed})",
             f"{'check':<{name_w}}  {'verdict':<{verdict_w}}  measured / expected"]
    lines.append("-" * min(width, 120))
    body_w = width - name_w - verdict_w - 6
    indent = name_w + verdict_w + 4
    for check in result.checks:
        verdict = check.verdict
        measured = _wrap(check.measured, body_w)
        lines.append(f"{check.name:<{name_w}}  {verdict:<{verdict_w}}  {measured[0]}")
        lines += [f"{'':<{indent}}{line}" for line in measured[1:]]
        lines += [f"{'':<{indent}}{line}" for line in _wrap(f"expected: {check.expected}", body_w)]
        if not check.passed and check.diagnosis:
            lines += [f"{'':<{indent}}{line}" for line in _wrap(f"cause: {check.diagnosis}", body_w)]
    timing = "  ".join(f"{k} {v:.2f}s" for k, v in result.timings.items())
    lines.append("-" * min(width, 120))
    lines.append(f"{result.verdict}  {timing}")
    if result.artifacts:
        lines.append(f"artifacts: {result.artifacts} (REPRO.txt there rebuilds this run)")
    for earlier in result.remeasured:
        lines.append(f"measured again: run {earlier['run_id']} was inconclusive ({earlier['why']})")
    return "\n".join(lines)


def summary(results):
    """One line per scenario run, from their JSON results."""
    name_w = max([len("scenario")] + [len(r["scenario"]) for r in results])
    lines = [f"{'scenario':<{name_w}}  {'verdict':<8}  {'checks':>6}  {'converge':>8}  {'total':>7}  failed checks"]
    for r in results:
        passed = sum(c["passed"] for c in r["checks"])
        ratio = f"{passed}/{len(r['checks'])}"
        converge = r.get("convergence", {}).get("seconds")
        converge_text = f"{converge:.2f}s" if converge is not None else "-"
        failed = ", ".join(c["name"] for c in r["checks"] if not c["passed"])
        verdict = r.get("verdict", "PASSED" if r["passed"] else "FAILED").replace("PASSED", "PASS").replace(
            "FAILED", "FAIL").replace("INCONCLUSIVE", "INCONCL.")
        lines.append(f"{r['scenario']:<{name_w}}  {verdict:<8}  {ratio:>6}  "
                     f"{converge_text:>8}  {r['timings'].get('total', 0):>6.2f}s  {failed}")
    return "\n".join(lines)


def percentile(values, q):
    """The q-quantile (q in hundredths), interpolated between the measured values: the standard
    library's inclusive method, which never leaves their range."""
    values = list(values)
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def repeat_stats(results):
    """label -> {min, median, p95, max, n} over the repetitions that measured it: the run's total
    time and every figure its checks report (CheckResult.figures), in the order they ran."""
    stats = {"total s": [r.timings.get("total") for r in results]}
    for r in results:
        for c in r.checks:
            for label, value in c.figures.items():
                if value is not None:
                    stats.setdefault(label, []).append(value)
    return {label: {"min": min(v), "median": statistics.median(v), "p95": percentile(v, 0.95), "max": max(v),
                    "n": len(v)} for label, v in stats.items() if v and None not in v}


def repeat_table(results):
    passed = sum(r.passed for r in results)
    lines = [f"{results[0].scenario}: {len(results)} runs, {passed} passed",
             f"{'figure':<26} {'min':>9} {'median':>9} {'p95':>9} {'max':>9}"]
    for label, s in repeat_stats(results).items():
        lines.append(f"{label:<26} {s['min']:>9.2f} {s['median']:>9.2f} {s['p95']:>9.2f} {s['max']:>9.2f}")
    return "\n".join(lines)


def write_json(result, path):
    """One result as the issue's format; a list (from --repeat) as its runs and their statistics."""
    if isinstance(result, list):
        document = {"scenario": result[0].scenario, "passed": all(r.passed for r in result),
                    "runs": [r.as_dict() for r in result], "repeat": repeat_stats(result)}
    else:
        document = result.as_dict()
    with open(path, "w") as f:
        json.dump(document, f, indent=2)
        f.write("\n")


def write_junit(result, path):
    suite = ET.Element("testsuite", name=result.scenario, tests=str(len(result.checks)),
                       failures=str(sum(not c.passed for c in result.checks)),
                       time=f"{result.timings.get('total', 0):.3f}")
    for check in result.checks:
        case = ET.SubElement(suite, "testcase", classname=f"vipcheck.{result.scenario}", name=check.name)
        ET.SubElement(case, "system-out").text = f"measured: {check.measured}\nexpected: {check.expected}"
        if not check.passed:
            failure = ET.SubElement(case, "failure", message=check.diagnosis or check.measured)
            failure.text = f"measured: {check.measured}\nexpected: {check.expected}\ncause: {check.diagnosis}"
    props = ET.SubElement(suite, "properties")
    for key, value in (("run_id", result.run_id), ("seed", result.seed), ("source", result.source)):
        ET.SubElement(props, "property", name=key, value=str(value))
    suites = ET.Element("testsuites")
    suites.append(suite)
    ET.ElementTree(suites).write(path, encoding="unicode", xml_declaration=True)
