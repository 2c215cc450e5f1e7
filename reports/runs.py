"""Reading one or several run directories into the frames every report works from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from harness.errors import UserInputError
from harness.store import RESULTS, read_results, read_table


@dataclass(frozen=True)
class Runs:
    """Results of one or more runs, merged.

    Attributes:
        results: ``results.parquet`` rows of every run, ``(cells, columns)``; a cell present in
            several runs (same ``cell_id``) keeps its row from the LAST run given.
        unlearning, topology: the long tables beside them (empty frames where absent).
        dirs: the run directories, in the order given.
    """

    results: pl.DataFrame
    unlearning: pl.DataFrame
    topology: pl.DataFrame
    dirs: tuple[Path, ...]


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if f.width]
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def load_runs(run_dirs: list[str | Path] | tuple[str | Path, ...]) -> Runs:
    """Read and merge run directories (or ``results.parquet`` paths).

    Raises:
        UserInputError: a directory without results, an unreadable file, a missing required column,
            or a file with no rows.
    """
    if not run_dirs:
        raise UserInputError("no run directory given")
    dirs, results, unlearning, topology = [], [], [], []
    for given in run_dirs:
        path = Path(given)
        directory = path if path.is_dir() or path.name != RESULTS else path.parent
        frame = read_results(path)
        if frame.height == 0:
            raise UserInputError("results file has no rows", file=str(directory / RESULTS))
        dirs.append(directory)
        results.append(frame.with_columns(pl.lit(str(directory)).alias("run_dir")))
        unlearning.append(read_table(directory, "unlearning"))
        topology.append(read_table(directory, "topology"))
    merged = _concat(results).unique("cell_id", keep="last", maintain_order=True)
    return Runs(merged, _concat(unlearning).unique(keep="last", maintain_order=True),
                _concat(topology).unique(keep="last", maintain_order=True), tuple(dirs))
