"""The report's figures, drawn with matplotlib (Agg) from results frames; each returns PNG bytes.

Every figure caps how many lines or panels it draws (``max_groups``, chosen by leaderboard
rank) and says so in its title, so a report over thousands of cells stays readable and fast.
A figure whose input columns are absent returns ``None`` (the report leaves it out and says why).
"""

from __future__ import annotations

import io

import numpy as np
import polars as pl

GROUP = ["dataset", "model", "surrogate"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    _pyplot().close(fig)
    return buffer.getvalue()


def _label(row: dict) -> str:
    return f"{row['model']} / {row['surrogate']}" if row.get("surrogate") else str(row["model"])


def _top_groups(ok: pl.DataFrame, board: pl.DataFrame | None, max_groups: int) -> pl.DataFrame:
    """At most ``max_groups`` (dataset, model, surrogate) groups per dataset, best leaderboard rank first."""
    groups = ok.select(GROUP).unique()
    if board is not None and "rank" in board.columns:
        groups = groups.join(board.select(*GROUP, "rank"), on=GROUP, how="left")
    else:
        groups = groups.with_columns(pl.lit(1).alias("rank"))
    return groups.sort(["dataset", "rank", "model", "surrogate"], nulls_last=True).group_by(
        "dataset", maintain_order=True).head(max_groups)


def _mean_curve(frame: pl.DataFrame, column: str) -> np.ndarray:
    """Element-wise mean over rows of a list column (ragged lists: over the rows long enough)."""
    lists = [np.asarray(v, dtype=float) for v in frame[column].to_list() if v is not None and len(v)]
    if not lists:
        return np.array([])
    width = max(len(v) for v in lists)
    stack = np.full((len(lists), width), np.nan)
    for i, v in enumerate(lists):
        stack[i, : len(v)] = v
    return np.nanmean(stack, axis=0)


def _grid(n: int, cols: int = 3, size: tuple[float, float] = (4.2, 3.2)):
    plt = _pyplot()
    cols = max(1, min(cols, n))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def betti_curves(ok: pl.DataFrame, board: pl.DataFrame | None = None, max_groups: int = 8) -> bytes | None:
    """beta_0 through the network's layers vs through the KAE's decoded iterates, one panel per dataset.

    x axis: depth as a fraction of the surrogate's k iterates (layers at their matched iterates), so
    models with different k share the axis; y: beta_0 (symlog), mean over seeds. Solid: network;
    dashed: surrogate. Needs ``betti0_network``, ``betti0_surrogate``, ``betti_iterates``,
    ``betti_layer_iterates``.
    """
    needed = {"betti0_network", "betti0_surrogate", "betti_iterates", "betti_layer_iterates"}
    if not needed <= set(ok.columns) or ok.height == 0:
        return None
    groups = _top_groups(ok, board, max_groups)
    datasets = groups["dataset"].unique(maintain_order=True).to_list()
    fig, axes = _grid(len(datasets), cols=2, size=(6.0, 3.6))
    colors = _pyplot().get_cmap("tab10")
    for ax, dataset in zip(axes, datasets):
        for i, row in enumerate(groups.filter(pl.col("dataset") == dataset).iter_rows(named=True)):
            cells = ok.filter((pl.col("dataset") == dataset) & (pl.col("model") == row["model"]) & (pl.col("surrogate") == row["surrogate"]))
            layer_t, iter_t = _mean_curve(cells, "betti_layer_iterates"), _mean_curve(cells, "betti_iterates")
            net, sur = _mean_curve(cells, "betti0_network"), _mean_curve(cells, "betti0_surrogate")
            k = max(float(np.nanmax(iter_t)) if iter_t.size else 1.0, 1.0)
            n = min(len(layer_t), len(net))
            ax.plot(layer_t[:n] / k, net[:n], "o-", color=colors(i % 10), label=f"{_label(row)} network")
            m = min(len(iter_t), len(sur))
            ax.plot(iter_t[:m] / k, sur[:m], "--", color=colors(i % 10), label=f"{_label(row)} KAE")
        low, high = ax.get_ylim()
        if high > 20 * max(low, 1):  # several decades (e.g. MNIST 8633 -> 9): log scale; else linear
            ax.set_yscale("symlog", linthresh=1)
        ax.set_xlabel("depth (fraction of k iterates)")
        ax.set_ylabel("beta_0 (mean over seeds)")
        ax.set_title(f"{dataset}: Betti curves (top {max_groups})", fontsize=9)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return _png(fig)


def unlearning_bars(ok: pl.DataFrame, board: pl.DataFrame | None = None, max_groups: int = 6) -> bytes | None:
    """Per-class held-out accuracy before and after the headline edit, one panel per group.

    Bars: mean over seeds of ``class_acc_before`` / ``class_acc_after``; the forgotten class is
    marked. Needs those list columns and ``forget_class``.
    """
    if not {"class_acc_before", "class_acc_after", "forget_class"} <= set(ok.columns) or ok.height == 0:
        return None
    groups = _top_groups(ok, board, max_groups).head(max_groups)
    fig, axes = _grid(groups.height)
    for ax, row in zip(axes, groups.iter_rows(named=True)):
        cells = ok.filter((pl.col("dataset") == row["dataset"]) & (pl.col("model") == row["model"]) & (pl.col("surrogate") == row["surrogate"]))
        before, after = _mean_curve(cells, "class_acc_before"), _mean_curve(cells, "class_acc_after")
        x = np.arange(len(before))
        ax.bar(x - 0.2, before, 0.4, label="before edit", color="tab:blue")
        ax.bar(x + 0.2, after[: len(x)], 0.4, label="after edit", color="tab:red")
        forget = cells["forget_class"].drop_nulls().mode().to_list()
        for f in forget[:1]:
            ax.annotate("forgotten", (f, 1.02), ha="center", fontsize=7)
        ax.set_ylim(0, 1.1)
        ax.set_xticks(x)
        ax.set_xlabel("class")
        ax.set_ylabel("held-out accuracy")
        ax.set_title(f"{row['dataset']}: {_label(row)}", fontsize=8)
        ax.legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    return _png(fig)


def eigenvalues(ok: pl.DataFrame, board: pl.DataFrame | None = None, max_groups: int = 8) -> bytes | None:
    """Eigenvalues of K (every seed) in the complex plane with the unit circle, one panel per dataset."""
    if not {"eigenvalues_real", "eigenvalues_imag"} <= set(ok.columns) or ok.height == 0:
        return None
    groups = _top_groups(ok, board, max_groups)
    datasets = groups["dataset"].unique(maintain_order=True).to_list()
    fig, axes = _grid(len(datasets), cols=3, size=(4.2, 4.2))
    colors = _pyplot().get_cmap("tab10")
    circle = np.linspace(0, 2 * np.pi, 200)
    for ax, dataset in zip(axes, datasets):
        ax.plot(np.cos(circle), np.sin(circle), color="grey", lw=0.8)
        for i, row in enumerate(groups.filter(pl.col("dataset") == dataset).iter_rows(named=True)):
            cells = ok.filter((pl.col("dataset") == dataset) & (pl.col("model") == row["model"]) & (pl.col("surrogate") == row["surrogate"]))
            re = np.concatenate([np.asarray(v, dtype=float) for v in cells["eigenvalues_real"].drop_nulls().to_list()] or [np.array([])])
            im = np.concatenate([np.asarray(v, dtype=float) for v in cells["eigenvalues_imag"].drop_nulls().to_list()] or [np.array([])])
            ax.scatter(re, im, s=8, alpha=0.6, color=colors(i % 10), label=_label(row))
        ax.set_aspect("equal")
        ax.set_xlabel("Re")
        ax.set_ylabel("Im")
        ax.set_title(f"{dataset}: eigenvalues of K", fontsize=9)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return _png(fig)


def accuracy_scatter(ok: pl.DataFrame, board: pl.DataFrame | None = None, label_limit: int = 12) -> bytes | None:
    """Surrogate vs network held-out accuracy across models: cells as dots, group means with 95%
    intervals (from ``board``) as error bars, the diagonal y = x; linear floor as crosses if present."""
    if not {"network_acc", "surrogate_acc"} <= set(ok.columns) or ok.height == 0:
        return None
    datasets = ok["dataset"].unique(maintain_order=True).to_list()
    fig, axes = _grid(len(datasets), cols=3, size=(4.4, 4.2))
    for ax, dataset in zip(axes, datasets):
        cells = ok.filter(pl.col("dataset") == dataset)
        ax.scatter(cells["network_acc"], cells["surrogate_acc"], s=6, alpha=0.35, color="tab:blue", label="KAE, per cell")
        if "linear_floor_acc" in cells.columns:
            ax.scatter(cells["network_acc"], cells["linear_floor_acc"], s=10, marker="x", alpha=0.5, color="tab:grey", label="linear floor (best of DMD/EDMD)")
        if board is not None and {"network_acc_mean", "surrogate_acc_mean"} <= set(board.columns):
            # a group whose every cell failed has no mean to draw
            lines = board.filter(pl.col("dataset") == dataset).drop_nulls(["network_acc_mean", "surrogate_acc_mean"])
            ax.errorbar(lines["network_acc_mean"], lines["surrogate_acc_mean"],
                        xerr=lines["network_acc_ci95"].fill_null(0), yerr=lines["surrogate_acc_ci95"].fill_null(0),
                        fmt="o", color="tab:orange", ms=4, label="group mean, 95% CI")
            if lines.height <= label_limit:
                for row in lines.iter_rows(named=True):
                    ax.annotate(_label(row), (row["network_acc_mean"], row["surrogate_acc_mean"]), fontsize=6)
        low = float(min(cells["network_acc"].min(), cells["surrogate_acc"].min()))
        ax.plot([low, 1], [low, 1], color="grey", lw=0.8)
        ax.set_xlabel("network accuracy")
        ax.set_ylabel("surrogate accuracy")
        ax.set_title(f"{dataset}: surrogate vs network", fontsize=9)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return _png(fig)


def history_plot(history: pl.DataFrame, metrics: list[str], labels: dict[str, str], max_groups: int = 10) -> bytes:
    """One panel per metric: x = runs in time order, y = seed mean with 95% interval, a line per group.

    Args:
        history: rows of :func:`reports.history.build_history` (``run``, GROUP, ``<m>_mean``/``<m>_ci95``).
        metrics: metric names to draw; labels: their headings.
    """
    runs = history["run"].unique(maintain_order=True).to_list()
    position = {r: i for i, r in enumerate(runs)}
    groups = history.select(GROUP).unique(maintain_order=True).head(max_groups)
    fig, axes = _grid(len(metrics), cols=2, size=(6.0, 3.2))
    for ax, metric in zip(axes, metrics):
        for row in groups.iter_rows(named=True):
            line = history.filter((pl.col("dataset") == row["dataset"]) & (pl.col("model") == row["model"]) & (pl.col("surrogate") == row["surrogate"]))
            if f"{metric}_mean" not in line.columns:
                continue
            ax.errorbar([position[r] for r in line["run"]], line[f"{metric}_mean"], yerr=line[f"{metric}_ci95"].fill_null(0),
                        fmt="o-", ms=4, capsize=3, label=f"{row['dataset']}: {_label(row)}")
        ax.set_xticks(range(len(runs)))
        ax.set_xticklabels(runs, rotation=20, fontsize=7, ha="right")
        ax.set_title(labels.get(metric, metric), fontsize=9)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return _png(fig)
