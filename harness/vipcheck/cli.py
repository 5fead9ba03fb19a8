"""vipcheck's command line. Exit 0: every check passed; 1: a check failed; 2: invalid
scenario or usage; 3: the environment cannot run it (not root, a package missing)."""
import argparse
import json
import sys

from vipcheck.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_PASSED, UsageError, VipcheckError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits 2 with usage; keep the one-line contract
        raise UsageError(f"{self.prog}: {message}")


def _parser():
    parser = _Parser(prog="vipcheck", description="Prove active-active load-balancer designs on real traffic.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="build the scenario's network, measure it, check it, tear it down")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--json", metavar="FILE", help="write the result as JSON")
    run.add_argument("--junit", metavar="FILE", help="write the result as JUnit XML")
    run.add_argument("--seed", type=int, help="seed for flow 5-tuples (printed when not given)")
    run.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    run.add_argument("--repeat", type=int, default=1, metavar="N",
                     help="run N times, each in a fresh network; report min, median, p95 and max")
    validate = sub.add_parser("validate", help="check scenario files without touching the kernel")
    validate.add_argument("scenarios", nargs="+")
    nightly = sub.add_parser("nightly", help="run a convergence matrix and write the HTML report")
    nightly.add_argument("matrix", help="matrix file: base scenario, failures, timer profiles, repeats")
    nightly.add_argument("--out", default="reports", help="folder that gets a dated report folder")
    nightly.add_argument("--history", help="history file the job appends to (default OUT/history.jsonl)")
    nightly.add_argument("--date", help="the report's date (default today)")
    nightly.add_argument("--seed", type=int)
    summary = sub.add_parser("summary", help="one table over JSON results of earlier runs")
    summary.add_argument("results", nargs="+", help="JSON files written by run --json")
    return parser


def _progress(quiet):
    if quiet:
        return lambda message: None
    return lambda message: print(f"vipcheck: {message}", file=sys.stderr, flush=True)


def _run(args):
    from vipcheck import environment, scenario
    environment.check_modules()
    spec = scenario.load(args.scenario)
    environment.check_core()
    environment.check_machine(spec.topology)
    from vipcheck import report, runner
    if not 1 <= args.repeat <= 1000:
        raise UsageError(f"--repeat must be between 1 and 1000, got {args.repeat}")
    results = []
    for index in range(args.repeat):
        # Each repetition gets its own seed, derived from the first so the set is reproducible.
        seed = None if args.seed is None else args.seed + index
        result = runner.run_scenario(spec, seed=seed, report=_progress(args.quiet))
        print(report.table(result))
        results.append(result)
    if args.repeat > 1:
        print(report.repeat_table(results))
    if args.json:
        report.write_json(results[0] if args.repeat == 1 else results, args.json)
    if args.junit:
        report.write_junit(results[-1], args.junit)
    return EXIT_PASSED if all(r.passed for r in results) else EXIT_CHECK_FAILED


def _validate(args):
    from vipcheck import environment, scenario
    environment.check_modules()
    for path in args.scenarios:
        spec = scenario.load(path)
        print(f"{path}: valid ({spec.topology}, {len(spec.lb_names)} LBs, checks: {', '.join(spec.checks)})")
    return EXIT_PASSED


def _nightly(args):
    import datetime
    from pathlib import Path
    from vipcheck import environment
    environment.check_modules(extra=[("matplotlib", "python3-matplotlib")])
    from vipcheck import nightly
    matrix = nightly.load_matrix(args.matrix)
    environment.check_core()
    environment.check_machine("ecmp")
    from vipcheck import report_html
    date = args.date or datetime.date.today().isoformat()
    out = Path(args.out) / date
    out.mkdir(parents=True, exist_ok=True)
    history_path = Path(args.history or Path(args.out) / "history.jsonl")
    history = nightly.read_history(history_path)
    report = nightly.run_matrix(matrix, seed=args.seed)
    flagged = nightly.regressions(report, history, matrix["margin"])
    report.update({"date": date, "regressions": flagged})
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    nightly.append_history(history_path, date, report)
    (out / "report.html").write_text(report_html.page(report, nightly.read_history(history_path), flagged, date))
    print(f"report: {out / 'report.html'}")
    for f in flagged:
        print(f"REGRESSION {f['cell']}: median gap {f['median_ms']:.1f} ms against {f['baseline_ms']:.1f} ms")
    return EXIT_CHECK_FAILED if flagged else EXIT_PASSED


def _summary(args):
    from vipcheck import report
    results = []
    for path in args.results:
        try:
            with open(path) as f:
                results.append(json.load(f))
        except (OSError, ValueError) as e:
            raise UsageError(f"{path}: not a vipcheck JSON result ({e})") from None
    print(report.summary(results))
    return EXIT_PASSED if all(r["passed"] for r in results) else EXIT_CHECK_FAILED


def main(argv=None):
    try:
        args = _parser().parse_args(argv)
        return {"run": _run, "validate": _validate, "summary": _summary, "nightly": _nightly}[args.command](args)
    except VipcheckError as e:
        print(f"vipcheck: error: {e}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        print("vipcheck: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_BAD_INPUT
