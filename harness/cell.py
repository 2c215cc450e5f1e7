"""One cell: compose the stages, with caching of the network, representations and surrogate.

``run_cell(cell, cache_root)`` is a plain function: the runner wraps it in a Ray task, tests call
it directly. It returns a :class:`CellResult` (the results row, long-format table rows and small
artifacts as bytes); it never writes results or talks to MLflow.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from harness import __version__
from harness.cache import Cache, load_arrays, save_arrays
from harness.config import CellConfig
from harness.data import load_data
from harness.fidelity import surrogate_fidelity, surrogate_last_layer
from harness.koopman import KoopmanAutoencoder, TrainedKAE, decode, encode, layer_iterates, operator_power, train_kae
from harness.network import accuracy, family_of, load_checkpoint, obtain_network, predict_logits, save_checkpoint, build_network, apply_checkpoint
from harness.preprocessing import fit_preprocessor
from harness.representations import extract_representations, head_logits
from harness.suite import cell_id, config_hash
from harness.topology import betti_curves, choose_scale, is_non_increasing, seeded_sample
from harness.unlearning import closed_form_edit, edit_report, edit_targets


@dataclass
class CellResult:
    """What a cell hands back to the driver."""

    row: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    artifacts: dict[str, bytes] = field(default_factory=dict)


def identity_columns(cell: CellConfig) -> dict[str, Any]:
    """The columns that say which cell a row belongs to."""
    return {
        "cell_id": cell_id(cell),
        "suite": cell.suite,
        "model": cell.model.display,
        "dataset": cell.dataset.name,
        "seed": cell.seed,
        "surrogate": cell.surrogate.label,
    }


def failed_result(cell: CellConfig, error: str, seconds: float = float("nan")) -> CellResult:
    """The row of a cell that raised: status "failed" and its error."""
    return CellResult(row={**identity_columns(cell), "status": "failed", "error": error, "seconds": seconds,
                           "config": cell.model_dump_json(), "harness_version": __version__})


def network_key(cell: CellConfig) -> str:
    """Cache key of a cell's trained network: its model config (less label and layers) and data."""
    return config_hash(cell.model.model_dump(exclude={"label", "layers"}), cell.dataset)


def _network_stage(cell: CellConfig, data, cache: Cache, device: str):
    key = network_key(cell)
    family = family_of(cell.model)
    entry = cache.entry("network", key)
    if entry is not None:
        module = build_network(cell.model.model_copy(update={"weights": "train"}), data)
        path = str(entry / "weights.safetensors")
        apply_checkpoint(module, load_checkpoint(path), path)
        info = json.loads((entry / "info.json").read_text())
        return family, module.to(device).eval(), info, key, True
    start = time.perf_counter()
    module, info = obtain_network(cell.model, data, device)
    info["network_seconds"] = time.perf_counter() - start
    test_inputs, test_labels = data.arrays("test")
    info["network_acc"] = accuracy(predict_logits(family, module, test_inputs, device=device), test_labels)

    def write(directory):
        save_checkpoint(module, directory / "weights.safetensors")
        (directory / "info.json").write_text(json.dumps(info))

    cache.put("network", key, write)
    return family, module, info, key, False


def _representation_stage(cell: CellConfig, family, module, data, network_key: str, cache: Cache, device: str):
    key = config_hash(network_key, cell.model.layers)
    entry = cache.entry("representations", key)
    cached = entry is not None
    if not cached:
        layers = {split: extract_representations(family, module, data.arrays(split)[0], cell.model.layers, device=device)
                  for split in ("train", "test")}

        def write(directory):
            for split, arrays in layers.items():
                (directory / split).mkdir()
                save_arrays(directory / split, arrays)

        entry = cache.put("representations", key, write)
    return (load_arrays(entry / "train")[0], load_arrays(entry / "test")[0]), key, cached


def _surrogate_stage(cell: CellConfig, z_train, representation_key: str, cache: Cache, device: str):
    key = config_hash(representation_key, cell.preprocess, cell.surrogate, cell.seed)
    entry = cache.entry("surrogate", key)
    p = z_train[0].shape[1]
    if entry is not None:
        model = KoopmanAutoencoder(p, cell.surrogate.hidden, cell.surrogate.m, cell.surrogate.k)
        model.load_state_dict(load_checkpoint(str(entry / "kae.safetensors")))
        meta = json.loads((entry / "meta.json").read_text())
        return TrainedKAE(model.to(device).eval(), meta["history"]), meta["seconds"], True
    start = time.perf_counter()
    trained = train_kae(z_train, cell.surrogate, cell.seed, device)
    seconds = time.perf_counter() - start

    def write(directory):
        save_checkpoint(trained.model, directory / "kae.safetensors")
        (directory / "meta.json").write_text(json.dumps({"history": trained.history, "seconds": seconds}))

    cache.put("surrogate", key, write)
    return trained, seconds, False


def _topology(cell: CellConfig, model: KoopmanAutoencoder, z_test, labels) -> tuple[dict[str, Any], list[dict]]:
    cfg = cell.topology
    sample = seeded_sample(len(labels), cfg.n_points, cell.seed)
    sample_labels = labels[sample]
    network_sets = [np.asarray(z[sample]) for z in z_test]
    scale = choose_scale(network_sets[0], cfg.scale_quantile)
    iterates = sorted(set(range(0, model.k + 1, cfg.iterate_stride)) | {model.k})
    matched = layer_iterates(len(z_test), model.k)
    observables = encode(model, network_sets[0]).astype(np.float64)
    decoded = {t: decode(model, (observables @ operator_power(model, t).T).astype(np.float32))
               for t in sorted(set(iterates) | set(matched))}
    network = betti_curves(network_sets, sample_labels, scale, cfg.maxdim, cfg.per_class)
    surrogate = betti_curves([decoded[t] for t in iterates], sample_labels, scale, cfg.maxdim, cfg.per_class)
    surrogate_matched = betti_curves([decoded[t] for t in matched], sample_labels, scale, cfg.maxdim, cfg.per_class)
    b0_network = [b[0] for b in network["all"]]
    b0_surrogate = [b[0] for b in surrogate["all"]]
    b0_matched = [b[0] for b in surrogate_matched["all"]]
    figures = {
        "betti_scale": scale,
        "betti_points": len(sample),
        "betti_iterates": iterates,
        "betti_layer_iterates": matched,
        "betti0_network": b0_network,
        "betti0_surrogate": b0_surrogate,
        "betti0_surrogate_matched": b0_matched,
        "betti0_network_non_increasing": is_non_increasing(b0_network),
        "betti0_surrogate_non_increasing": is_non_increasing(b0_surrogate),
        "betti0_last_network": b0_network[-1],
        "betti0_last_surrogate": b0_surrogate[-1],
        "betti0_per_class_network": json.dumps({c: [b[0] for b in curve] for c, curve in network.items()}),
        "betti0_per_class_surrogate": json.dumps({c: [b[0] for b in curve] for c, curve in surrogate.items()}),
    }
    rows = []
    for source, curves, depths in (("network", network, list(range(len(z_test)))), ("surrogate", surrogate, iterates)):
        for group, curve in curves.items():
            for depth, bettis in zip(depths, curve):
                rows += [{"source": source, "depth": depth, "class": group, "dim": dim, "scale": scale, "betti": b}
                         for dim, b in enumerate(bettis)]
    return figures, rows


def _unlearning(cell: CellConfig, model, z_train, y_train, z_test, y_test, classify, num_classes):
    cfg = cell.unlearning
    operator = operator_power(model, model.k).T  # A = (K^T)^k
    train_obs = encode(model, np.asarray(z_train[0])).astype(np.float64)
    test_obs = encode(model, np.asarray(z_test[0])).astype(np.float64)
    before = classify(decode(model, (test_obs @ operator).astype(np.float32)))
    classes = range(num_classes) if cfg.forget_classes == "all" else cfg.forget_classes
    rows = []
    for forget_class in classes:
        mask = y_train == forget_class
        start = time.perf_counter()
        targets = edit_targets(train_obs[mask], train_obs[~mask], y_train[~mask], operator, cfg.target)
        edited = closed_form_edit(operator, train_obs[mask], train_obs[~mask], targets, cfg.gamma)
        seconds = time.perf_counter() - start
        after = classify(decode(model, (test_obs @ edited).astype(np.float32)))
        rows.append({"method": f"kae_edit_{cfg.target}", "forget_class": int(forget_class), "edit_seconds": seconds,
                     **edit_report(before, after, y_test, int(forget_class), num_classes)})
    return rows


def _betti_plot(figures: dict[str, Any], title: str) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(figures["betti_iterates"], figures["betti0_surrogate"], label="KAE iterates (decoded)", color="tab:orange")
    ax.plot(figures["betti_layer_iterates"], figures["betti0_network"], "o-", label="network layers", color="tab:blue")
    ax.set_xlabel("iterate t (layers placed at matched iterates)")
    ax.set_ylabel(f"beta_0 at eps={figures['betti_scale']:.3g}")
    ax.set_yscale("symlog")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def run_cell(cell: CellConfig, cache_root: str, device: str = "cpu", num_threads: int = 1) -> CellResult:
    """Run every stage of one cell. Raises on failure (the runner turns that into a failed row)."""
    start = time.perf_counter()
    torch.set_num_threads(max(1, num_threads))
    cache = Cache(cache_root)
    data = load_data(cell.dataset)
    family, module, net_info, network_key, network_cached = _network_stage(cell, data, cache, device)
    (x_train, x_test), representation_key, representations_cached = _representation_stage(
        cell, family, module, data, network_key, cache, device)
    _, y_train = data.arrays("train")
    _, y_test = data.arrays("test")
    preprocessor = fit_preprocessor([np.asarray(x) for x in x_train], cell.preprocess)
    z_train, z_test = preprocessor.transform_all(x_train), preprocessor.transform_all(x_test)
    trained, kae_seconds, surrogate_cached = _surrogate_stage(cell, z_train, representation_key, cache, device)
    model = trained.model

    def classify(z_last: np.ndarray) -> np.ndarray:
        return np.argmax(head_logits(family, module, preprocessor.inverse_last(z_last), device), axis=1)

    network_labels = np.argmax(head_logits(family, module, np.asarray(x_test[-1]), device), axis=1)
    fidelity = surrogate_fidelity(model, z_test[0], z_test[-1], y_test, network_labels, classify)
    topology, topology_rows = _topology(cell, model, z_test, y_test)
    unlearning_rows = _unlearning(cell, model, z_train, y_train, z_test, y_test, classify, data.num_classes)
    default_class = cell.unlearning.default_forget_class
    default_class = data.num_classes - 1 if default_class is None else default_class
    headline = next((r for r in unlearning_rows if r["forget_class"] == default_class), unlearning_rows[0])
    identity = identity_columns(cell)
    row = {
        **identity,
        "status": "ok",
        "error": None,
        "harness_version": __version__,
        "config": cell.model_dump_json(),
        "n_train": len(y_train),
        "n_test": len(y_test),
        "n_layers": len(x_test),
        "layer_widths": [int(x.shape[1]) for x in x_test],
        "network_acc": net_info["network_acc"],
        "network_acc_from_head": float(np.mean(network_labels == y_test)),
        "trained_in_harness": net_info["trained_in_harness"],
        "network_cached": network_cached,
        "representations_cached": representations_cached,
        "surrogate_cached": surrogate_cached,
        "kae_seconds": kae_seconds,
        **{f"kae_final_loss_{name}": values[-1] for name, values in trained.history.items() if values},
        **fidelity,
        **topology,
        "forget_class": headline["forget_class"],
        **{key: headline[key] for key in ("forget_acc_before", "forget_acc_after", "retain_acc_before",
                                          "retain_acc_after", "class_acc_before", "class_acc_after", "edit_seconds")},
    }
    row["seconds"] = time.perf_counter() - start
    keys = {k: identity[k] for k in ("cell_id", "model", "dataset", "seed", "surrogate")}
    title = f"{cell.model.display} / {cell.dataset.name} / {cell.surrogate.label} / seed {cell.seed}"
    return CellResult(
        row=row,
        tables={
            "unlearning": [{**keys, **r} for r in unlearning_rows],
            "topology": [{**keys, **r} for r in topology_rows],
        },
        artifacts={"betti0.png": _betti_plot(topology, title)},
    )


def run_cell_safely(cell: CellConfig, cache_root: str, device: str = "cpu", num_threads: int = 1) -> CellResult:
    """:func:`run_cell`, with any exception turned into a failed row carrying its error."""
    start = time.perf_counter()
    try:
        return run_cell(cell, cache_root, device, num_threads)
    except Exception as exc:  # a failed cell is a row with its error, never a missing row
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return failed_result(cell, detail, time.perf_counter() - start)
