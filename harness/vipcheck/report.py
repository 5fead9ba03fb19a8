"""Results for people (a table), for programs (JSON) and for CI (JUnit XML)."""
import json
import shutil
import textwrap
import xml.etree.ElementTree as ET


def _wrap(text, width):
    return textwrap.wrap(text, width) or [""]


def table(result):
    """The checks of one run as a readable table, diagnoses under the failures."""
    width = max(80, min(shutil.get_terminal_size((100, 20)).columns, 140))
    name_w = max(len("check"), *(len(c.name) for c in result.checks)) if result.checks else 5
    lines = [f"{result.scenario}  (run {result.run_id}, seed {result.seed})",
             f"{'check':<{name_w}}  {'verdict':<7}  measured / expected"]
    lines.append("-" * min(width, 120))
    body_w = width - name_w - 13
    for check in result.checks:
        verdict = "PASS" if check.passed else "FAIL"
        measured = _wrap(check.measured, body_w)
        lines.append(f"{check.name:<{name_w}}  {verdict:<7}  {measured[0]}")
        lines += [f"{'':<{name_w + 11}}{line}" for line in measured[1:]]
        lines += [f"{'':<{name_w + 11}}{line}" for line in _wrap(f"expected: {check.expected}", body_w)]
        if not check.passed and check.diagnosis:
            lines += [f"{'':<{name_w + 11}}{line}" for line in _wrap(f"cause: {check.diagnosis}", body_w)]
    timing = "  ".join(f"{k} {v:.2f}s" for k, v in result.timings.items())
    lines.append("-" * min(width, 120))
    lines.append(f"{'PASSED' if result.passed else 'FAILED'}  {timing}")
    return "\n".join(lines)


def summary(results):
    """One line per scenario run, from their JSON results."""
    name_w = max([len("scenario")] + [len(r["scenario"]) for r in results])
    lines = [f"{'scenario':<{name_w}}  {'verdict':<7}  {'checks':>6}  {'converge':>8}  {'total':>7}  failed checks"]
    for r in results:
        passed = sum(c["passed"] for c in r["checks"])
        ratio = f"{passed}/{len(r['checks'])}"
        converge = r.get("convergence", {}).get("seconds")
        converge_text = f"{converge:.2f}s" if converge is not None else "-"
        failed = ", ".join(c["name"] for c in r["checks"] if not c["passed"])
        lines.append(f"{r['scenario']:<{name_w}}  {'PASS' if r['passed'] else 'FAIL':<7}  {ratio:>6}  "
                     f"{converge_text:>8}  {r['timings'].get('total', 0):>6.2f}s  {failed}")
    return "\n".join(lines)


def write_json(result, path):
    with open(path, "w") as f:
        json.dump(result.as_dict(), f, indent=2)
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
