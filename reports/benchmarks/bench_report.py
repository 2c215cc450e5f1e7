"""Benchmark: build the leaderboard (md, csv, parquet) and the HTML report from 10,000 synthetic rows.

Run: ``python reports/benchmarks/bench_report.py [--models 50 --datasets 4 --surrogates 2 --seeds 25]``; prints the wall time
of each step. Issue 5 asks for seconds, not minutes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from reports.html import write_html
from reports.leaderboard import build_leaderboard, write_leaderboard
from reports.runs import load_runs
from reports.synthetic import synthetic_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--datasets", type=int, default=4)
    parser.add_argument("--surrogates", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=25)
    args = parser.parse_args()
    start = time.perf_counter()
    frame = synthetic_results(models=args.models, datasets=args.datasets, surrogates=args.surrogates, seeds=args.seeds,
                              failed=10)
    made = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        run = Path(directory)
        frame.write_parquet(run / "results.parquet")
        t0 = time.perf_counter()
        runs = load_runs([run])
        t1 = time.perf_counter()
        board = build_leaderboard(runs.results, runs.unlearning)
        t2 = time.perf_counter()
        write_leaderboard(runs.results, run, runs.unlearning)
        t3 = time.perf_counter()
        html = write_html(runs, run / "report.html", board)
        t4 = time.perf_counter()
        size = html.stat().st_size
    print(f"rows: {frame.height} ({args.models} models x {args.datasets} datasets x {args.surrogates} surrogates "
          f"x {args.seeds} seeds, 10 failed); leaderboard lines: {board.height}")
    print(f"synthesise {made - start:.2f} s | read {t1 - t0:.2f} s | build_leaderboard {t2 - t1:.2f} s | "
          f"write md/csv/parquet {t3 - t2:.2f} s | HTML with 4 figures {t4 - t3:.2f} s ({size / 1e6:.1f} MB)")
    print(f"report total (read + leaderboard files + HTML): {t4 - t0:.2f} s")


if __name__ == "__main__":
    main()
