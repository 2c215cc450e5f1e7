"""The results store: ``RUN_DIR/results.parquet`` (one row per cell) and the long tables beside it.

This module is the only writer of results. Every finished cell is written at once (the file is
rewritten atomically: temporary file, then rename), so an interrupted run loses nothing finished
and a rerun skips every cell whose row says "ok". A failed cell is a row too; a rerun retries it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import polars as pl

from harness.errors import UserInputError

RESULTS = "results.parquet"
TABLES = ("unlearning", "topology")
REQUIRED_COLUMNS = ("cell_id", "suite", "model", "dataset", "seed", "status", "error")


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if f.width]
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def _write_atomic(frame: pl.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.write_parquet(tmp)
    os.replace(tmp, path)


def read_results(run_dir: str | Path) -> pl.DataFrame:
    """The results of a run directory (or a results.parquet path), validated.

    Raises:
        UserInputError: if the file is missing, unreadable, or lacks a required column.
    """
    path = Path(run_dir)
    path = path / RESULTS if path.is_dir() else path
    if not path.is_file():
        raise UserInputError(f"no {RESULTS} here (is this a run directory?)", file=str(path))
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:
        raise UserInputError(f"cannot read results ({type(exc).__name__}: {exc})", file=str(path)) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise UserInputError(f"missing required column(s) {', '.join(missing)}", file=str(path))
    return frame


def read_table(run_dir: str | Path, table: str) -> pl.DataFrame:
    """A long-format table (``unlearning`` or ``topology``) of a run; empty if absent."""
    path = Path(run_dir) / f"{table}.parquet"
    return pl.read_parquet(path) if path.is_file() else pl.DataFrame()


class ResultsStore:
    """Appends cell results to a run directory; knows which cells are finished."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.results = read_results(self.run_dir) if (self.run_dir / RESULTS).is_file() else pl.DataFrame()
        self.tables = {t: read_table(self.run_dir, t) for t in TABLES}

    @staticmethod
    def finished_in(run_dir: str | Path) -> set[str]:
        """cell_ids finished in ``run_dir`` (empty if it holds no results yet); creates nothing."""
        return ResultsStore(run_dir).finished() if (Path(run_dir) / RESULTS).is_file() else set()

    def finished(self) -> set[str]:
        """cell_ids whose row has status "ok"."""
        if not self.results.width:
            return set()
        return set(self.results.filter(pl.col("status") == "ok")["cell_id"].to_list())

    def append(self, row: dict[str, Any], tables: dict[str, list[dict[str, Any]]] | None = None) -> None:
        """Write one cell's row (replacing an earlier row of the same cell) and its table rows."""
        cid = row["cell_id"]
        keep = self.results.filter(pl.col("cell_id") != cid) if self.results.width else self.results
        self.results = _concat([keep, _frame([row])])
        _write_atomic(self.results, self.run_dir / RESULTS)
        for name in TABLES:
            new = (tables or {}).get(name) or []
            old = self.tables[name]
            if not new and not (old.width and cid in set(old["cell_id"].to_list())):
                continue
            keep = old.filter(pl.col("cell_id") != cid) if old.width else old
            self.tables[name] = _concat([keep, _frame(new)])
            _write_atomic(self.tables[name], self.run_dir / f"{name}.parquet")

    def write_artifacts(self, cell_id: str, artifacts: dict[str, bytes]) -> list[Path]:
        """Write a cell's artifacts under ``RUN_DIR/artifacts/<cell_id>/``; their paths."""
        directory = self.run_dir / "artifacts" / cell_id
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, payload in artifacts.items():
            (directory / name).write_bytes(payload)
            paths.append(directory / name)
        return paths
