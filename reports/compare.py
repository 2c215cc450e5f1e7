"""``koopbench compare``: per-metric deltas between two runs and a regression verdict.

Cells are matched by their resolved config without the seed (:func:`reports.metrics.config_key`),
not by ``cell_id``, so runs of different harness versions still compare; ``ignore`` drops more config
keys from the match (e.g. ``surrogate.epochs`` to compare a candidate that changed exactly that).
Per matched group and metric the seed samples of the two runs are compared with Welch's t-test and
the metric's tolerance (:func:`reports.stats.verdicts`).

Tolerance file (YAML, read with ``yaml.safe_load``; every key optional)::

    alpha: 0.05              # significance level of Welch's t-test (default 0.05)
    metrics:
      surrogate_acc: {abs: 0.01}              # worse by more than 0.01 (and beyond noise) = regression
      fvu_state: {abs: 0.02, rel: 0.10}       # bound = max(abs, rel * |base mean|)
      spectral_radius: {direction: lower}     # override which way is better: higher | lower | none
      seconds: {rel: 0.5, gate: true}         # let wall time decide the exit code too
      betti0_last_surrogate: {gate: false}    # shown, never fails the comparison

alpha applies per (group, metric) without correction for the number of metrics: the tolerance
(a change must also exceed it) is what keeps noisy metrics from flagging. Unlisted metrics keep the defaults of :data:`reports.metrics.METRICS`. Command-line
``--tolerance METRIC=ABS`` overrides the file. Exit code: 0 nothing regressed, 1 a gating metric
regressed, 2 bad input (a :class:`UserInputError`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import UserInputError
from reports.leaderboard import GROUP, to_markdown
from reports.metrics import METRICS, config_key, flat_config, metric_direction, present, with_derived
from reports.runs import Runs
from reports.stats import Direction, tolerance_bound, verdicts, welch_p


class Tolerance(BaseModel):
    """How one metric is judged. Unset fields keep the metric's registered defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    abs: float | None = Field(None, ge=0, description="Absolute tolerance, in the metric's unit.")
    rel: float = Field(0.0, ge=0, description="Relative tolerance, a fraction of |base mean|.")
    direction: Direction | None = Field(None, description="Which way is better: higher | lower | none.")
    gate: bool | None = Field(None, description="Whether a regression of this metric fails the comparison.")


class ToleranceFile(BaseModel):
    """The tolerance YAML file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    alpha: float = Field(0.05, gt=0, lt=1, description="Significance level of Welch's t-test.")
    metrics: dict[str, Tolerance] = Field(default_factory=dict, description="Per-metric tolerances.")


def load_tolerances(path: str | Path | None, overrides: list[str] = (), alpha: float | None = None) -> ToleranceFile:
    """Read a tolerance file (or none) and apply ``METRIC=ABS`` overrides and ``alpha``.

    Raises:
        UserInputError: unreadable YAML, unknown keys, bad values, or a malformed override.
    """
    raw: Any = {}
    if path is not None:
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            one_line = " ".join(str(exc).split())
            raise UserInputError(f"cannot read tolerances ({type(exc).__name__}: {one_line})", file=str(path)) from None
    try:
        spec = ToleranceFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise UserInputError(f"{err['msg']} (allowed: alpha, metrics.<name>.{{abs, rel, direction, gate}})",
                             file=str(path), key=key) from None
    metrics = dict(spec.metrics)
    for item in overrides:
        name, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not sep or number < 0:
            raise UserInputError(f"--tolerance wants METRIC=ABS with ABS >= 0, got {item!r}", key="--tolerance")
        metrics[name] = (metrics.get(name) or Tolerance()).model_copy(update={"abs": number})
    for name in metrics:
        if name not in METRICS:
            raise UserInputError(METRICS.unknown_message(name), file=str(path) if path else None, key=f"metrics.{name}")
    return ToleranceFile(alpha=spec.alpha if alpha is None else alpha, metrics=metrics)


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing two runs.

    Attributes:
        table: one row per (matched group, metric): GROUP, ``metric``, ``direction``, ``gate``,
            ``n_base``/``n_cand`` (seeds), ``base_mean``/``cand_mean``/``delta`` (metric units),
            ``base_std``/``cand_std``, ``p`` (Welch), ``bound`` (tolerance) and ``verdict``.
        only_base, only_cand: groups present in one run only.
        ignored: config keys dropped from the match, with their values per side.
        alpha: the t-test's significance level.
    """

    table: pl.DataFrame
    only_base: pl.DataFrame
    only_cand: pl.DataFrame
    ignored: dict[str, tuple[list, list]] = field(default_factory=dict)
    alpha: float = 0.05

    @property
    def regressions(self) -> pl.DataFrame:
        """Rows whose verdict is "regressed" on a gating metric."""
        return self.table.filter((pl.col("verdict") == "regressed") & pl.col("gate"))

    @property
    def exit_code(self) -> int:
        """0 when nothing gating regressed, 1 otherwise."""
        return 1 if self.regressions.height else 0


def _keyed(results: pl.DataFrame, unlearning: pl.DataFrame, ignore: tuple[str, ...]) -> pl.DataFrame:
    frame = with_derived(results, unlearning)
    if "config" not in frame.columns:
        raise UserInputError("results have no 'config' column; cannot match cells by config", key="config")
    keys = [config_key(c, ignore) for c in frame["config"].to_list()]
    return frame.with_columns(pl.Series("_key", keys, dtype=pl.String))


def _differing_keys(base: pl.DataFrame, cand: pl.DataFrame, limit: int = 6) -> list[str]:
    """Config keys whose set of values differs between the runs (seed excluded), for the error."""
    def values(frame: pl.DataFrame) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for config in frame["config"].unique().to_list():
            for key, value in flat_config(config).items():
                out.setdefault(key, set()).add(repr(value))
        return out

    vb, vc = values(base), values(cand)
    keys = [k for k in sorted(set(vb) | set(vc)) if k != "seed" and vb.get(k) != vc.get(k)]
    return [f"{k} (base {', '.join(sorted(vb.get(k, {'-'})))}; candidate {', '.join(sorted(vc.get(k, {'-'})))})"
            for k in keys[:limit]]


def _summaries(frame: pl.DataFrame, metrics: list[str]) -> pl.DataFrame:
    """Per (key, metric): GROUP labels, n, mean, std over ok cells (``ok_rate`` over all cells)."""
    ok = pl.col("status") == "ok"
    long = (frame.select("_key", *GROUP, "status", *metrics)
            .unpivot(index=["_key", *GROUP, "status"], on=metrics, variable_name="metric", value_name="value")
            .filter((ok | (pl.col("metric") == "ok_rate")) & pl.col("value").is_not_null() & pl.col("value").is_not_nan()))
    return long.group_by("_key", "metric").agg(
        *[pl.col(g).first() for g in GROUP], pl.len().alias("n"),
        pl.col("value").mean().alias("mean"), pl.col("value").std().alias("std"))


def compare_runs(base: Runs, cand: Runs, tolerances: ToleranceFile | None = None, ignore: tuple[str, ...] = ()) -> Comparison:
    """Match the runs' cells by config (minus seed and ``ignore``) and judge every shared metric.

    Raises:
        UserInputError: the runs are of different suites (unless ``suite`` is ignored), or no cell
            config of one run matches one of the other (the error names the differing keys).
    """
    tolerances = tolerances or ToleranceFile()
    b, c = (_keyed(r.results.with_columns(pl.col(n).cast(pl.Float64) for n in present(r.results)), r.unlearning, ignore)
            for r in (base, cand))
    suites_b, suites_c = set(b["suite"].drop_nulls().to_list()), set(c["suite"].drop_nulls().to_list())
    if "suite" not in ignore and suites_b != suites_c:
        raise UserInputError(f"mismatched suites: base {sorted(suites_b)}, candidate {sorted(suites_c)} "
                             "(pass --ignore suite to compare them anyway)", file=str(cand.dirs[0]), key="suite")
    shared_keys = set(b["_key"].to_list()) & set(c["_key"].to_list())
    if not shared_keys:
        differing = _differing_keys(b, c)
        hint = f"; configs differ in: {'; '.join(differing)}. Pass --ignore KEY to match across a change" if differing else ""
        raise UserInputError(f"no overlapping cells between {base.dirs[0]} and {cand.dirs[0]}{hint}")
    metrics = [m for m in present(b) if m in c.columns and c.schema[m].is_numeric()]
    sb, sc = _summaries(b, metrics), _summaries(c, metrics)
    table = sb.join(sc.drop(GROUP), on=["_key", "metric"], how="inner", suffix="_c").rename(
        {"n": "n_base", "mean": "base_mean", "std": "base_std", "n_c": "n_cand", "mean_c": "cand_mean", "std_c": "cand_std"})
    specs = {m: tolerances.metrics.get(m) or _DEFAULT for m in metrics}
    direction = {m: specs[m].direction or metric_direction(m) for m in metrics}
    gate = {m: specs[m].gate if specs[m].gate is not None else METRICS.get(m).gate for m in metrics}
    abs_tol = {m: specs[m].abs if specs[m].abs is not None else METRICS.get(m).abs_tol for m in metrics}
    table = table.with_columns(
        pl.col("metric").replace_strict(direction, return_dtype=pl.String).alias("direction"),
        pl.col("metric").replace_strict(gate, return_dtype=pl.Boolean).alias("gate"),
        (pl.col("cand_mean") - pl.col("base_mean")).alias("delta"),
    )
    p = welch_p(*(table[col].to_numpy() for col in ("base_mean", "base_std", "n_base", "cand_mean", "cand_std", "n_cand")))
    untested = np.array([m in METRICS and not METRICS.get(m).noise_test for m in table["metric"]], dtype=bool)
    p = np.where(untested, np.nan, p)
    absolute = np.array([abs_tol[m] for m in table["metric"]])
    relative = np.array([specs[m].rel for m in table["metric"]])
    bound = tolerance_bound(absolute, relative, table["base_mean"].to_numpy())
    verdict = verdicts(table["delta"].to_numpy(), table["base_mean"].to_numpy(), p, table["direction"].to_list(),
                       absolute, relative, tolerances.alpha)
    order = {m: i for i, m in enumerate(metrics)}
    table = (table.with_columns(pl.Series("p", p, dtype=pl.Float64).fill_nan(None), pl.Series("bound", bound),
                                pl.Series("verdict", verdict, dtype=pl.String),
                                pl.col("metric").replace_strict(order, return_dtype=pl.Int64).alias("_order"))
             .sort([*GROUP, "_order"])
             .select(*GROUP, "metric", "direction", "gate", "n_base", "n_cand", "base_mean", "cand_mean", "delta",
                     "base_std", "cand_std", "p", "bound", "verdict"))
    groups = [*GROUP, "_key"]
    only_base = b.filter(~pl.col("_key").is_in(list(shared_keys))).select(groups).unique().drop("_key").sort(GROUP)
    only_cand = c.filter(~pl.col("_key").is_in(list(shared_keys))).select(groups).unique().drop("_key").sort(GROUP)
    ignored = {}
    for path in ignore:
        ignored[path] = tuple(sorted({repr(flat_config(x).get(path)) for x in r["config"].unique().to_list()}) for r in (b, c))
    return Comparison(table, only_base, only_cand, ignored, tolerances.alpha)


_DEFAULT = Tolerance()


def comparison_markdown(comparison: Comparison, base_label: str, cand_label: str, digits: int = 4) -> str:
    """A Markdown summary for CI logs: the verdict, flagged metrics, then every delta per group."""
    t = comparison.table
    flagged = t.filter((pl.col("verdict") != "same") & pl.col("gate"))
    informational = t.filter((pl.col("verdict") != "same") & ~pl.col("gate"))
    regressions = comparison.regressions
    head = "REGRESSION" if regressions.height else "no regression"
    lines = [f"# koopbench compare: {head}", "", f"base `{base_label}` vs candidate `{cand_label}`: "
             f"{t.select(GROUP).unique().height} matched group(s), {t.height} metric comparison(s); "
             f"Welch's t-test at alpha = {comparison.alpha} and per-metric tolerances (bound).", ""]
    for path, (vb, vc) in comparison.ignored.items():
        lines.append(f"- matched ignoring `{path}`: base {', '.join(vb)}; candidate {', '.join(vc)}")
    if comparison.ignored:
        lines.append("")

    def fmt(frame: pl.DataFrame) -> str:
        shown = frame.select(*GROUP, "metric", "direction", "n_base", "n_cand", "base_mean", "cand_mean", "delta",
                             "p", "bound", "verdict", pl.when(pl.col("gate")).then(pl.lit("yes")).otherwise(pl.lit("no")).alias("gates"))
        return to_markdown(shown, digits)

    if flagged.height:
        lines += [f"## Flagged: changed beyond noise and tolerance ({flagged.height}; {regressions.height} regression(s))",
                  "", fmt(flagged), ""]
    else:
        lines += ["No gating metric changed beyond noise and tolerance.", ""]
    if informational.height:
        lines += [f"## Not gating, changed ({informational.height}; wall times depend on machine and cache)", "",
                  fmt(informational), ""]
    for title, frame in (("Only in base", comparison.only_base), ("Only in candidate", comparison.only_cand)):
        if frame.height:
            lines += [f"## {title} ({frame.height})", "", to_markdown(frame), ""]
    lines += ["## All deltas", "", fmt(t), ""]
    return "\n".join(lines)
