"""vipcheck's command line. Exit 0: every check passed; 1: a check failed; 2: invalid
scenario or usage; 3: the environment cannot run it (not root, a package missing); 4: no check
failed, but a timed one stayed inconclusive: the machine stalled every time it was measured."""
import argparse
import json
import os
import sys

from vipcheck.errors import (EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_ENVIRONMENT, EXIT_INCONCLUSIVE, EXIT_PASSED,
                             UsageError, VipcheckError)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits 2 with usage; keep the one-line contract
        raise UsageError(f"{self.prog}: {message}")


def _parser():
    parser = _Parser(prog="vipcheck", description="Prove active-active load-balancer designs on real traffic.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="build the scenario's network, measure it, check it, tear it down")
    run.add_argument("scenarios", nargs="+", metavar="scenario", help="scenario YAML files")
    run.add_argument("--json", metavar="FILE", help="write the result as JSON (one scenario)")
    run.add_argument("--junit", metavar="FILE", help="write the result as JUnit XML (one scenario)")
    run.add_argument("--results", metavar="DIR", help="write NAME.json and NAME.xml per scenario into DIR")
    run.add_argument("--shard", metavar="K/N", help="run only the K-th of N shares of the scenarios (sorted by path)")
    run.add_argument("--seed", type=int, help="seed for flows, hash seed and failure times (printed when not given)")
    run.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    run.add_argument("--repeat", type=int, default=1, metavar="N",
                     help="run N times, each in a fresh network; report min, median, p95 and max")
    run.add_argument("--artifacts", metavar="DIR", default=os.environ.get("VIPCHECK_ARTIFACTS", "vipcheck-artifacts"),
                     help="where a failing run leaves its artifacts folder (default: %(default)s)")
    run.add_argument("--no-capture", action="store_true", help="no packet capture on the router")
    run.add_argument("--keep-on-fail", action="store_true",
                     help="when a check fails, keep the network up (vipcheck down RUN ends it)")
    up = sub.add_parser("up", help="build the scenario's network, wait for convergence and keep it")
    up.add_argument("scenario", help="scenario YAML file")
    up.add_argument("--seed", type=int, help="seed for the hash seed and addresses drawn (printed when not given)")
    down = sub.add_parser("down", help="tear down a network kept by up or --keep-on-fail")
    down.add_argument("run_id", metavar="RUN")
    execute = sub.add_parser("exec", help="run a command in a node of a kept network: exec RUN NODE -- CMD...")
    execute.add_argument("run_id", metavar="RUN")
    execute.add_argument("node")
    execute.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD")
    vtysh = sub.add_parser("vtysh", help="FRR's shell in a node of a kept network")
    vtysh.add_argument("run_id", metavar="RUN")
    vtysh.add_argument("node")
    vtysh.add_argument("-c", dest="commands", action="append", default=[], metavar="CMD",
                       help="run CMD and exit (repeatable); without it, an interactive shell")
    cli = sub.add_parser("cli", help="the Mininet CLI over a kept network's nodes")
    cli.add_argument("run_id", metavar="RUN")
    sub.add_parser("ps", help="the runs on this machine, alive and dead")
    sub.add_parser("clean", help="remove what dead runs left behind (processes, namespaces, interfaces, folders)")
    validate = sub.add_parser("validate", help="check scenario files without touching the kernel")
    validate.add_argument("scenarios", nargs="+")
    nightly = sub.add_parser("nightly", help="run a convergence matrix and write the HTML report")
    nightly.add_argument("matrix", help="matrix file: base scenario, failures, timer profiles, repeats")
    nightly.add_argument("--out", default="reports", help="folder that gets a dated report folder")
    nightly.add_argument("--history", help="history file the job appends to (default OUT/history.jsonl)")
    nightly.add_argument("--date", help="the report's date (default today)")
    nightly.add_argument("--seed", type=int)
    nightly.add_argument("--shard", metavar="K/N", help="run the K-th of N shares of the cells; write only its cells")
    nightly.add_argument("--merge", nargs="+", metavar="SHARD_JSON", help="build the night's report from shard files")
    summary = sub.add_parser("summary", help="one table over JSON results of earlier runs")
    summary.add_argument("results", nargs="+", help="JSON files written by run --json")
    return parser


def _progress(quiet):
    if quiet:
        return lambda message: None
    return lambda message: print(f"vipcheck: {message}", file=sys.stderr, flush=True)


def _prepare(path):
    from vipcheck import environment, scenario
    spec = scenario.load(path)
    environment.check_core()
    environment.check_machine(spec.topology)
    return spec


def cmd_run(args):
    from pathlib import Path
    from vipcheck import report, shard
    chosen = shard.pick(sorted(args.scenarios), shard.parse(args.shard) if args.shard else None)
    if not chosen:
        print(f"shard {args.shard}: no scenario of the {len(args.scenarios)} given falls to it")
        return EXIT_PASSED
    if not 1 <= args.repeat <= 1000:
        raise UsageError(f"--repeat must be between 1 and 1000, got {args.repeat}")
    if len(chosen) > 1 and (args.json or args.junit or args.keep_on_fail):
        raise UsageError("--json, --junit and --keep-on-fail take one scenario; with several use --results DIR")
    if args.keep_on_fail and args.repeat != 1:
        raise UsageError("--keep-on-fail keeps one failed network: use it without --repeat")
    specs = [(_prepare(path), Path(path).stem) for path in chosen]  # all judged before any network
    if args.results:
        Path(args.results).mkdir(parents=True, exist_ok=True)
    statuses, last = [], []
    for spec, stem in specs:
        json_path = args.json or (args.results and str(Path(args.results) / f"{stem}.json"))
        junit_path = args.junit or (args.results and str(Path(args.results) / f"{stem}.xml"))
        status, last_result = _repeat(spec, args, json_path, junit_path)
        statuses.append(status)
        last.append(last_result)
    if len(specs) > 1:
        print(f"\nSummary{f' (shard {args.shard})' if args.shard else ''}:")
        print(report.summary([r.as_dict() for r in last if r is not None]))
    # A failure anywhere fails the whole; inconclusive only where nothing failed for certain.
    return EXIT_CHECK_FAILED if EXIT_CHECK_FAILED in statuses else max(statuses)


def _repeat(spec, args, json_path, junit_path):
    """One scenario, --repeat times; returns its exit status and its last result."""
    from vipcheck import experiment, report
    from vipcheck.lab import keeper
    options = {"report": _progress(args.quiet), "artifacts_root": args.artifacts, "capture": not args.no_capture}

    def emit(results):
        if args.repeat > 1:
            print(report.repeat_table(results))
        if json_path:
            report.write_json(results[0] if args.repeat == 1 else results, json_path)
        if junit_path:
            report.write_junit(results[-1], junit_path)
        return _status(results)

    if args.keep_on_fail:
        return keeper.in_keeper(lambda held: _guarded(_keep_if_failed, (spec, args.seed, options, emit, held))), None

    results = []
    for index in range(args.repeat):
        # Each repetition gets its own seed, derived from the first so the set is reproducible.
        seed = None if args.seed is None else args.seed + index
        result = experiment.run_scenario(spec, seed=seed, **options)
        print(report.table(result))
        results.append(result)
    return emit(results), results[-1]


def _status(results):
    if all(r.passed for r in results):
        return EXIT_PASSED
    return EXIT_INCONCLUSIVE if all(r.passed or r.inconclusive for r in results) else EXIT_CHECK_FAILED


def _keep_if_failed(job):
    """In the keeper: one run whose network stays up, if it fails, until `vipcheck down`."""
    spec, seed, options, emit, keeper = job
    from vipcheck import experiment, report

    def keep_failed(result, run, design):
        if not result.passed:
            print(report.table(result))
            emit([result])
            keeper.keep(run, design.lab, f"run {run.id} failed and is kept up (seed {result.seed}):",
                        EXIT_CHECK_FAILED)
    result = experiment.run_scenario(spec, seed=seed, hold=keep_failed, **options)
    if keeper.held:  # reported before it was held; nobody waits for this status any more
        return EXIT_CHECK_FAILED
    print(report.table(result))
    return emit([result])


def cmd_up(args):
    spec = _prepare(args.scenario)
    from vipcheck import experiment
    from vipcheck.lab import keeper

    def work(keeper):
        def keep(result, run, design):
            converged = result.convergence.get("reached", True)
            if not converged:
                print(f"vipcheck: warning: run {run.id} did not converge; kept up for a look", file=sys.stderr)
            keeper.keep(run, design.lab, f"run {run.id} is up: {spec.name} (seed {result.seed}), "
                        f"converged in {result.convergence.get('seconds')} s", EXIT_PASSED)
        experiment.run_scenario(spec, seed=args.seed, report=_progress(False), up=True, hold=keep)
        return EXIT_PASSED
    return keeper.in_keeper(lambda held: _guarded(work, held))


def _held_run(run_id):
    from vipcheck.lab import registry
    return registry.require_alive(registry.find(run_id))


def cmd_exec(args):
    from vipcheck.lab import registry
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise UsageError("exec needs a command: vipcheck exec RUN NODE -- CMD...")
    info = _held_run(args.run_id)
    command = registry.enter_argv(info, args.node, argv)
    registry.join(info)  # what the user starts in a node is the run's, and ends with it
    os.execvp(command[0], command)


def cmd_vtysh(args):
    from vipcheck.lab import registry
    info = _held_run(args.run_id)
    command = registry.vtysh_argv(info, args.node, args.commands)
    registry.join(info)
    os.execvp(command[0], command)


def cmd_cli(args):
    from vipcheck.lab import attach, registry
    info = _held_run(args.run_id)
    registry.join(info)  # the commands typed at its prompt run in the run's nodes and end with it
    attach.run_cli(info)
    return EXIT_PASSED


def cmd_down(args):
    from vipcheck.lab import registry
    info = registry.find(args.run_id)
    left = registry.down(info)
    print(f"run {info.id} is down" + (f"; its keeper had left: {', '.join(left)}" if left else ""))
    return EXIT_PASSED


def cmd_ps(args):
    from vipcheck.lab import registry
    print(registry.ps_table(registry.all_runs()))
    return EXIT_PASSED


def cmd_clean(args):
    from vipcheck.lab import registry
    dead = registry.clean_dead()
    for run_id, removed in dead:
        for item in removed:
            print(f"run {run_id}: removed {item}")
    print(f"cleaned {len(dead)} dead run(s)" if dead else "nothing to clean: every run on this machine is alive")
    return EXIT_PASSED


def cmd_validate(args):
    """Every file is judged, and each invalid one gets its own error line, as a linter does."""
    from vipcheck import scenario
    from vipcheck.errors import ScenarioError
    status = EXIT_PASSED
    for path in args.scenarios:
        try:
            spec = scenario.load(path)
        except ScenarioError as e:
            print(f"vipcheck: error: {e}", file=sys.stderr)
            status = e.exit_status
            continue
        print(f"{path}: valid ({spec.topology}, {len(spec.lb_names)} LBs, checks: {', '.join(spec.checks)})")
    return status


def cmd_nightly(args):
    import datetime
    from pathlib import Path
    from vipcheck import environment
    environment.check_modules(extra=[("matplotlib", "python3-matplotlib")])
    from vipcheck import nightly, shard
    if args.shard and args.merge:
        raise UsageError("--shard runs a share of the matrix and --merge joins the shares: use one")
    matrix = nightly.load_matrix(args.matrix)
    if not args.merge:  # merging shard files needs neither root nor the drivers
        environment.check_core()
        environment.check_machine(matrix["topology"])
    from vipcheck.report import html
    date = args.date or datetime.date.today().isoformat()
    out = Path(args.out) / date
    out.mkdir(parents=True, exist_ok=True)
    history_path = Path(args.history or Path(args.out) / "history.jsonl")
    if args.merge:
        report = nightly.merge_shards(matrix, args.merge)
    else:
        k_n = shard.parse(args.shard) if args.shard else None
        report = nightly.run_matrix(matrix, seed=args.seed, shard=k_n)
        if k_n:
            part = out / f"shard-{k_n[0]}-of-{k_n[1]}.json"
            part.write_text(json.dumps({**report, "shard": args.shard}, indent=1) + "\n")
            print(f"shard {args.shard}: {len(report['cells'])} cell(s) in {part}; "
                  "merge every shard's file with --merge")
            return EXIT_PASSED  # as a whole night: failed cells are figures, only a regression fails it
    history = nightly.read_history(history_path)
    flagged = nightly.regressions(report, history, matrix["margin"])
    report.update({"date": date, "regressions": flagged})
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    nightly.append_history(history_path, date, report)
    (out / "report.html").write_text(html.page(report, nightly.read_history(history_path), flagged, date))
    print(f"report: {out / 'report.html'}")
    words = nightly.headline(report)["words"]
    for f in flagged:
        print(f"REGRESSION {f['cell']}: median {words} {f['median_ms']:.1f} ms against {f['baseline_ms']:.1f} ms")
    broken = nightly.broken(report)
    for cell in broken:
        print(f"BROKEN {cell['failure']}/{cell['profile']}: {', '.join(cell['failed_for_certain'])} failed")
        for failure in cell.get("failures", []):  # a shard file of an older vipcheck has none
            if failure["verdict"] == "FAIL":
                print(f"  seed {failure['seed']}, {failure['check']}: {failure['measured']}; {failure['diagnosis']}")
    for defect in report.get("known_defects", []):
        print(f"known defect {defect['scenario']}: {defect['state']} ({defect['defect']})")
    return EXIT_CHECK_FAILED if flagged or broken else EXIT_PASSED


def cmd_summary(args):
    from vipcheck import report
    results = []
    for path in args.results:
        try:
            with open(path) as f:
                results.append(json.load(f))
        except (OSError, ValueError) as e:
            raise UsageError(f"{path}: not a vipcheck JSON result ({e})") from None
    print(report.summary(results))
    if all(r["passed"] for r in results):
        return EXIT_PASSED
    return EXIT_INCONCLUSIVE if all(r.get("verdict") in ("PASSED", "INCONCLUSIVE") for r in results) \
        else EXIT_CHECK_FAILED


COMMANDS = {"run": cmd_run, "up": cmd_up, "down": cmd_down, "exec": cmd_exec, "vtysh": cmd_vtysh, "cli": cmd_cli,
            "ps": cmd_ps, "clean": cmd_clean, "validate": cmd_validate, "summary": cmd_summary, "nightly": cmd_nightly}


def main(argv=None):
    try:
        args = _parser().parse_args(argv)
    except VipcheckError as e:
        print(f"vipcheck: error: {e}", file=sys.stderr)
        return e.exit_status
    if args.command in ("exec", "vtysh", "cli", "down", "clean", "ps") and os.geteuid() != 0:
        print("vipcheck: error: entering or ending a run's namespaces needs root (fix: sudo vipcheck ...)",
              file=sys.stderr)
        return EXIT_ENVIRONMENT
    return _guarded(COMMANDS[args.command], args)


def _guarded(command, args):
    """Runs a command; every failure vipcheck knows becomes one line and an exit status."""
    from vipcheck import environment
    try:
        environment.check_modules()  # before any module that needs one is imported
        return command(args)
    except VipcheckError as e:
        print(f"vipcheck: error: {e}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        print("vipcheck: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_BAD_INPUT
