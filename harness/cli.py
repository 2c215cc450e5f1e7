"""``koopbench``: the command line. The only module that parses arguments.

One small function per subcommand; heavy imports happen inside them so ``koopbench --help`` is
instant. Bad input (a :class:`UserInputError`) prints one line and exits with code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from harness.errors import UserInputError

DEFAULT_CACHE = ".koopbench-cache"


def _cmd_run(args: argparse.Namespace) -> int:
    from harness.store import ResultsStore
    from harness.suite import cell_id, check_suite_fits, expand_cells, load_suite

    suite = load_suite(args.suite, overrides=args.set, dataset=args.dataset, seeds=args.seeds)
    cells = expand_cells(suite)
    run_dir = Path(args.out or Path("runs") / suite.name)
    if {cell_id(c) for c in cells} - ResultsStore.finished_in(run_dir):  # work to do: check it can start
        check_suite_fits(suite, args.suite)

    from harness.runner import run_cells
    from harness.tracking import Tracker

    tracker = None
    if args.tracking_uri.lower() != "none":
        tracker = Tracker(args.tracking_uri, experiment=f"koopbench/{suite.name}", run_name=run_dir.name,
                          params={"suite": suite.model_dump(mode="json"), "run_dir": str(run_dir.resolve())},
                          parent_file=run_dir / "mlflow_parent.json")

    def on_result(cell, result, paths):
        if tracker is not None:
            tracker.log_cell(result.row, paths)

    print(f"koopbench: suite {suite.name!r}: {len(cells)} cells -> {run_dir}", file=sys.stderr)
    started = time.perf_counter()
    counts = run_cells(cells, run_dir, args.cache, suite.resources, address=args.address, serial=args.serial,
                       on_result=on_result, progress=not args.quiet)
    counts["wall_seconds"] = round(time.perf_counter() - started, 1)
    paths = _write_reports(run_dir)
    if tracker is not None:
        tracker.finish(paths, "FINISHED" if counts["failed"] == 0 else "FAILED")
    print(f"koopbench: {json.dumps(counts)}", file=sys.stderr)
    print(paths[0].read_text())
    return 0 if counts["failed"] == 0 else 1


def _write_reports(run_dir: Path, *more_runs: Path, out: Path | None = None) -> list[Path]:
    """Leaderboard (md, csv, parquet) and the HTML report of one or more runs; their paths, md first.

    Written into ``out`` (default: ``run_dir``); several runs are merged.
    """
    from reports.html import write_html
    from reports.leaderboard import write_leaderboard
    from reports.runs import load_runs

    runs = load_runs([run_dir, *more_runs])
    out = Path(out or run_dir)
    return [*write_leaderboard(runs.results, out, runs.unlearning), write_html(runs, out / "report.html")]


def _cmd_report(args: argparse.Namespace) -> int:
    if len(args.run_dirs) > 1 and args.out is None:
        raise UserInputError("several run directories are merged: say where with --out DIR", key="--out")
    paths = _write_reports(*map(Path, args.run_dirs), out=args.out and Path(args.out))
    print(paths[0].read_text())
    print(f"koopbench: wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from reports.compare import compare_runs, comparison_markdown, load_tolerances
    from reports.runs import load_runs

    tolerances = load_tolerances(args.tolerances, args.tolerance, args.alpha)
    comparison = compare_runs(load_runs([args.base]), load_runs([args.candidate]), tolerances, tuple(args.ignore))
    text = comparison_markdown(comparison, args.base, args.candidate)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        comparison.table.write_csv(Path(args.out).with_suffix(".csv"))
    return comparison.exit_code


def _cmd_history(args: argparse.Namespace) -> int:
    from reports.history import write_history
    from reports.runs import load_runs

    runs = [load_runs([run_dir]) for run_dir in args.run_dirs]
    paths = write_history(runs, Path(args.out), metrics=args.metric or None)
    print(paths[0].read_text())
    print(f"koopbench: wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    return 0


def _cmd_ls(args: argparse.Namespace) -> int:
    from adapters import DATASET_SCHEMES, MODEL_FAMILIES

    registry = MODEL_FAMILIES if args.what == "models" else DATASET_SCHEMES
    for name in registry.names(args.pattern):
        print(name)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="koopbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a suite (skips cells already finished in --out)")
    run.add_argument("suite", help="suite YAML file, e.g. suites/paper-yinyang.yaml")
    run.add_argument("--out", help="run directory (default: runs/<suite name>)")
    run.add_argument("--address", help="Ray cluster address (e.g. auto); default: embedded local Ray")
    run.add_argument("--tracking-uri", default="sqlite:///mlflow.db",
                     help="MLflow tracking URI (default sqlite:///mlflow.db; 'none' disables tracking)")
    run.add_argument("--cache", default=DEFAULT_CACHE, help=f"cache root shared by runs (default {DEFAULT_CACHE})")
    run.add_argument("--dataset", help="replace the suite's datasets by this dataset string")
    run.add_argument("--seeds", type=int, nargs="+", help="replace the suite's seeds")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a suite key, e.g. --set surrogates.0.epochs=100 (repeatable)")
    run.add_argument("--serial", action="store_true", help="run cells in this process, without Ray")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_cmd_run)

    report = sub.add_parser("report", help="rebuild the leaderboard and HTML report of one or more runs (merged)")
    report.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    report.add_argument("--out", help="output directory (default: the run directory; required for several)")
    report.set_defaults(func=_cmd_report)

    compare = sub.add_parser("compare", help="per-metric deltas and a regression verdict: exit 0 ok, 1 regressed, 2 bad input")
    compare.add_argument("base", metavar="BASE_RUN")
    compare.add_argument("candidate", metavar="CANDIDATE_RUN")
    compare.add_argument("--tolerances", metavar="YAML", help="tolerance file (format: reports/compare.py docstring)")
    compare.add_argument("--tolerance", action="append", default=[], metavar="METRIC=ABS",
                         help="absolute tolerance of one metric, overrides the file (repeatable)")
    compare.add_argument("--alpha", type=float, help="significance level of Welch's t-test (default 0.05)")
    compare.add_argument("--ignore", action="append", default=[], metavar="KEY",
                         help="config key left out of cell matching, e.g. surrogate.epochs (repeatable)")
    compare.add_argument("--out", metavar="FILE.md", help="also write the Markdown summary here (and a .csv beside it)")
    compare.set_defaults(func=_cmd_compare)

    history = sub.add_parser("history", help="several runs side by side in time order, per metric, with a plot")
    history.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    history.add_argument("--out", default="history", help="output directory (default: ./history)")
    history.add_argument("--metric", action="append", help="metric to show (repeatable; default: the headline ones)")
    history.set_defaults(func=_cmd_history)

    ls = sub.add_parser("ls", help="list registered model families or dataset schemes")
    ls.add_argument("what", choices=["models", "datasets"])
    ls.add_argument("pattern", nargs="?", default="*", help="wildcard filter, e.g. 'res*'")
    ls.set_defaults(func=_cmd_ls)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserInputError as exc:
        print(f"koopbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("koopbench: interrupted; finished cells are saved, rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
