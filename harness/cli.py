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
    from harness.suite import expand_cells, load_suite

    suite = load_suite(args.suite, overrides=args.set, dataset=args.dataset, seeds=args.seeds)
    cells = expand_cells(suite)
    run_dir = Path(args.out or Path("runs") / suite.name)

    from harness.runner import run_cells
    from harness.tracking import Tracker

    tracker = None
    if args.tracking_uri.lower() != "none":
        tracker = Tracker(args.tracking_uri, experiment=f"koopbench/{suite.name}", run_name=run_dir.name,
                          params={"suite": suite.model_dump(mode="json"), "run_dir": str(run_dir.resolve())})

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


def _write_reports(run_dir: Path) -> list[Path]:
    from harness.store import read_results
    from reports.leaderboard import write_leaderboard

    return write_leaderboard(read_results(run_dir), run_dir)


def _cmd_report(args: argparse.Namespace) -> int:
    paths = _write_reports(Path(args.run_dir))
    print(paths[0].read_text())
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

    report = sub.add_parser("report", help="rebuild the leaderboard of a run directory")
    report.add_argument("run_dir")
    report.set_defaults(func=_cmd_report)

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
