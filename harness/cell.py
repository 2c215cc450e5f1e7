"""One cell: compose the stages, with caching of the network, representations, surrogate and references.

``run_cell(cell, cache_root)`` is a plain function: the runner wraps it in a Ray task, tests call
it directly. It returns a :class:`CellResult` (the results row, long-format table rows and small
artifacts as bytes); it never writes results or talks to MLflow.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from harness import __version__
from harness.baselines import NETWORK_METHODS, fit_reference, mask_logits
from harness.cache import Cache, load_arrays, save_arrays
from harness.config import CellConfig
from harness.data import load_data
from harness.fidelity import surrogate_fidelity
from harness.koopman import KoopmanAutoencoder, TrainedKAE, decode, encode, layer_iterates, operator_power, train_kae
from harness.linear_floor import fit_linear_surrogate
from harness.network import accuracy, apply_checkpoint, build_network, family_of, load_checkpoint, obtain_network, predict_logits, save_checkpoint
from harness.preflight import calibrate, plan_topology
from harness.preprocessing import fit_preprocessor
from harness.representations import extract_representations, head_logits
from harness.suite import cell_id, config_hash
from harness.topology import curve_agreement, diagram_distances, is_non_increasing, scale_range, seeded_sample, topology_profile
from harness.unlearning import closed_form_edit, edit_targets, probe_balanced_accuracy, surrogate_edit, unlearning_metrics


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


def _load_network(cell: CellConfig, data, entry, device: str) -> torch.nn.Module:
    """A network (the cell's architecture) with the weights of a cache entry."""
    module = build_network(cell.model.model_copy(update={"weights": "train"}), data)
    path = str(entry / "weights.safetensors")
    apply_checkpoint(module, load_checkpoint(path), path)
    return module.to(device).eval()


def _network_stage(cell: CellConfig, data, cache: Cache, device: str):
    key = network_key(cell)
    family = family_of(cell.model)
    entry = cache.entry("network", key)
    if entry is not None:
        info = json.loads((entry / "info.json").read_text())
        return family, _load_network(cell, data, entry, device), info, key, True
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
    # the label only names the config in reports: relabelling retrains nothing
    key = config_hash(representation_key, cell.preprocess, cell.surrogate.model_dump(exclude={"label"}), cell.seed)
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


def _reference_stage(cell: CellConfig, method: str, forget_class: int, data, family, module, net_key: str,
                     cache: Cache, device: str):
    """A network reference (retrain / finetune / ascent) for one forget class, cached like the network.

    The key holds the network's key, the method, the class and the settings of that method only,
    so every seed and surrogate of the same network reuses it.
    """
    settings = {"retrain": (), "finetune": ("finetune_epochs", "finetune_lr"),
                "ascent": ("ascent_lr", "ascent_max_epochs", "ascent_retain_weight", "ascent_stop_accuracy")}[method]
    key = config_hash(net_key, method, forget_class, {name: getattr(cell.unlearning, name) for name in settings})
    entry = cache.entry("reference", key)
    if entry is not None:
        return _load_network(cell, data, entry, device), json.loads((entry / "info.json").read_text()), True
    reference, info = fit_reference(method, cell.model, family, module, data, forget_class, cell.unlearning, device)

    def write(directory):
        save_checkpoint(reference, directory / "weights.safetensors")
        (directory / "info.json").write_text(json.dumps(info))

    cache.put("reference", key, write)
    return reference, info, False


def _topology(cell: CellConfig, model: KoopmanAutoencoder, z_test, labels) -> tuple[dict[str, Any], list[dict]]:
    """Pre-flight, then Betti curves over the cell's scales of layers and iterates, and their comparison."""
    cfg = cell.topology
    start = time.perf_counter()
    iterates = sorted(set(range(0, model.k + 1, cfg.iterate_stride)) | {model.k})
    matched = layer_iterates(len(z_test), model.k)
    depths = sorted(set(iterates) | set(matched))
    fractions = [float(np.mean(labels == c)) for c in np.unique(labels)] if cfg.per_class else []
    speed = calibrate(z_test[0], cfg.maxdim, seed=cell.seed) if cfg.calibrate else 1.0
    plan = plan_topology(cfg.n_points, len(labels), z_test[0].shape[1], cfg.maxdim, len(z_test) + len(depths),
                         fractions, cfg.budget_seconds, cfg.budget_memory_gb * 2**30, cfg.n_perm, speed,
                         n_distance_pairs=len(z_test) if cfg.distances else 0, max_bars=cfg.distance_max_bars)
    sample = seeded_sample(len(labels), plan.n_used, cell.seed)
    sample_labels = labels[sample]
    network_sets = [np.asarray(z[sample]) for z in z_test]
    factors = sorted(set(cfg.scale_factors) | {1.0})
    scales = scale_range(network_sets[0], cfg.scale_quantile, factors)
    base = factors.index(1.0)
    observables = encode(model, network_sets[0]).astype(np.float64)
    decoded = [decode(model, (observables @ operator_power(model, t).T).astype(np.float32)) for t in depths]
    profile = {
        "network": topology_profile(network_sets, sample_labels, scales, cfg.maxdim, cfg.per_class, cfg.n_perm, cfg.backend),
        "surrogate": topology_profile(decoded, sample_labels, scales, cfg.maxdim, cfg.per_class, cfg.n_perm, cfg.backend),
    }
    position = {t: i for i, t in enumerate(depths)}

    def curve(source: str, group: str, dim: int, at: list[int] | None = None) -> list[int]:
        per_depth = profile[source][group]
        chosen = per_depth if at is None else [per_depth[position[t]] for t in at]
        return [d.curve[dim][base] for d in chosen]

    figures: dict[str, Any] = {
        "betti_scale": scales[base], "betti_scales": scales, "betti_scale_factors": factors,
        "betti_points": len(sample), "betti_iterates": iterates, "betti_layer_iterates": matched,
        "topology_maxdim": cfg.maxdim, "topology_n_requested": plan.n_requested, "topology_n_used": plan.n_used,
        "topology_lowered": plan.lowered, "topology_note": plan.note, "topology_seconds_estimate": plan.seconds_estimate,
        "topology_memory_gb_estimate": plan.bytes_estimate / 2**30, "topology_speed_factor": plan.speed,
        "covering_radius_max": max(d.diagrams.covering_radius for s in profile.values() for g in s.values() for d in g),
    }
    per_class: dict[str, dict[str, dict[str, Any]]] = {}
    for dim in range(cfg.maxdim + 1):
        network, surrogate, surrogate_matched = curve("network", "all", dim), curve("surrogate", "all", dim, iterates), curve("surrogate", "all", dim, matched)
        figures[f"betti{dim}_network"] = network
        figures[f"betti{dim}_surrogate"] = surrogate
        figures[f"betti{dim}_surrogate_matched"] = surrogate_matched
        figures[f"betti{dim}_network_non_increasing"] = is_non_increasing(network)
        figures[f"betti{dim}_surrogate_non_increasing"] = is_non_increasing(surrogate)
        figures[f"betti{dim}_last_network"] = network[-1]
        figures[f"betti{dim}_last_surrogate"] = surrogate[-1]
        agreement = curve_agreement(network, surrogate_matched)
        figures[f"betti{dim}_mean_abs_diff"] = agreement["mean_abs_diff"]
        figures[f"betti{dim}_rank_corr"] = agreement["rank_corr"]
        for group in profile["network"]:
            summary = curve_agreement(curve("network", group, dim), curve("surrogate", group, dim, matched))
            per_class.setdefault(group, {})[str(dim)] = {**summary, "network": curve("network", group, dim),
                                                         "surrogate_matched": curve("surrogate", group, dim, matched)}
    figures["betti_summary_per_class"] = json.dumps(per_class)
    figures["betti0_per_class_network"] = json.dumps({g: v["0"]["network"] for g, v in per_class.items()})
    figures["betti0_per_class_surrogate"] = json.dumps({g: curve("surrogate", g, 0, iterates) for g in per_class})
    if cfg.distances:
        for dim in range(cfg.maxdim + 1):
            figures[f"bottleneck_dim{dim}"], figures[f"wasserstein_dim{dim}"] = [], []
        for layer, t in enumerate(matched):
            distances = diagram_distances(profile["network"]["all"][layer].diagrams.bars,
                                          profile["surrogate"]["all"][position[t]].diagrams.bars, cfg.distance_max_bars)
            for dim, d in enumerate(distances):
                figures[f"bottleneck_dim{dim}"].append(d["bottleneck"])
                figures[f"wasserstein_dim{dim}"].append(d["wasserstein"])
        for dim, d in enumerate(distances):
            figures[f"bottleneck_last_dim{dim}"] = d["bottleneck"]
            figures[f"bottleneck_error_bound_last_dim{dim}"] = d["bottleneck_error_bound"]
            figures[f"wasserstein_last_dim{dim}"] = d["wasserstein"]
            figures[f"essential_last_network_dim{dim}"] = d["essential_first"]
            figures[f"essential_last_surrogate_dim{dim}"] = d["essential_second"]
    rows = []
    for source, depth_list in (("network", list(range(len(z_test)))), ("surrogate", depths)):
        for group, per_depth in profile[source].items():
            for depth, topology in zip(depth_list, per_depth):
                iterate = matched[depth] if source == "network" else depth
                layer = depth if source == "network" else (matched.index(depth) if depth in matched else None)
                rows += [{"source": source, "depth": depth, "iterate": iterate, "layer": layer, "class": group,
                          "dim": dim, "scale": scales[i], "scale_factor": factors[i], "betti": topology.curve[dim][i],
                          "n_points": topology.diagrams.n_points, "covering_radius": topology.diagrams.covering_radius}
                         for dim in range(cfg.maxdim + 1) for i in range(len(scales))]
    figures["topology_seconds"] = time.perf_counter() - start
    return figures, rows


def _linear_floor(cell: CellConfig, z_train, z_test, y_test, network_labels, classify, surrogate_acc: float) -> dict[str, Any]:
    """DMD and EDMD fitted on the training layers, scored like the KAE."""
    if not cell.linear_floor.enabled:
        return {}
    figures: dict[str, Any] = {}
    for kind in ("dmd", "edmd"):
        start = time.perf_counter()
        fitted = fit_linear_surrogate(z_train[0], z_train[-1], kind, cell.linear_floor, cell.seed)
        predicted = classify(fitted.predict(z_test[0]))
        figures.update({f"{kind}_acc": float(np.mean(predicted == y_test)),
                        f"{kind}_agreement": float(np.mean(predicted == network_labels)),
                        f"{kind}_ridge": fitted.ridge, f"{kind}_seconds": time.perf_counter() - start})
    figures["linear_floor_acc"] = max(figures["dmd_acc"], figures["edmd_acc"])
    figures["kae_beats_dmd"] = surrogate_acc > figures["dmd_acc"]
    figures["kae_beats_edmd"] = surrogate_acc > figures["edmd_acc"]
    figures["kae_beats_linear_floor"] = surrogate_acc > figures["linear_floor_acc"]
    return figures


@dataclass
class _Outcome:
    """One method's held-out predictions and final representations (train and held-out)."""

    predicted: np.ndarray
    features_train: np.ndarray | None
    features_test: np.ndarray | None
    seconds: float
    cached: bool = False
    details: dict[str, Any] = field(default_factory=dict)


def _unlearning(cell: CellConfig, data, family, module, net_key: str, cache: Cache, device: str,
                model: KoopmanAutoencoder, z_train, z_test, x_train_last, x_test_last,
                surrogate_features: Callable[[np.ndarray], np.ndarray], classify) -> list[dict[str, Any]]:
    """Every method of ``cell.unlearning.methods`` for every forget class, on held-out data."""
    cfg = cell.unlearning
    inputs_train, y_train = data.arrays("train")
    inputs_test, y_test = data.arrays("test")
    num_classes = data.num_classes
    operator = operator_power(model, model.k).T  # A = (K^T)^k
    train_obs = encode(model, np.asarray(z_train[0])).astype(np.float64)
    test_obs = encode(model, np.asarray(z_test[0])).astype(np.float64)

    def classify_obs(advanced: np.ndarray) -> np.ndarray:
        return classify(decode(model, advanced.astype(np.float32)))

    def network_outcome(reference: torch.nn.Module, seconds: float, cached: bool, details: dict) -> _Outcome:
        last_train = extract_representations(family, reference, inputs_train, cell.model.layers, device=device)[-1]
        last_test = extract_representations(family, reference, inputs_test, cell.model.layers, device=device)[-1]
        predicted = np.argmax(head_logits(family, reference, last_test, device), axis=1)
        return _Outcome(predicted, last_train, last_test, seconds, cached, details)

    def probe(outcome: _Outcome | None, forget_class: int) -> float:
        if outcome is None or outcome.features_train is None or not cfg.probe:
            return float("nan")
        return probe_balanced_accuracy(outcome.features_train, y_train, outcome.features_test, y_test, forget_class)

    network_logits = head_logits(family, module, np.asarray(x_test_last), device)
    network = _Outcome(np.argmax(network_logits, axis=1), np.asarray(x_train_last), np.asarray(x_test_last), 0.0)
    surrogate = _Outcome(classify_obs(test_obs @ operator), surrogate_features(train_obs @ operator),
                         surrogate_features(test_obs @ operator), 0.0)
    classes = range(num_classes) if cfg.forget_classes == "all" else cfg.forget_classes
    headline = f"edit_{cfg.target}"
    rows = []
    for forget_class in classes:
        forget_class = int(forget_class)
        outcomes: dict[str, _Outcome] = {}
        for method in cfg.methods:
            if method in NETWORK_METHODS:
                reference, info, cached = _reference_stage(cell, method, forget_class, data, family, module, net_key, cache, device)
                outcomes[method] = network_outcome(reference, info.pop("seconds"), cached, info)
            elif method == "logit_mask":
                start = time.perf_counter()
                predicted = np.argmax(mask_logits(network_logits, forget_class), axis=1)
                # the mask changes the head only: the final representation is the network's own
                outcomes[method] = _Outcome(predicted, network.features_train, network.features_test,
                                            time.perf_counter() - start)
            else:
                start = time.perf_counter()
                edited, details = surrogate_edit(
                    method, operator, train_obs, y_train, forget_class, cfg.gamma, classify_obs,
                    {"gammas": list(cfg.reweight_gammas), "rounds": cfg.reweight_rounds, "factor": cfg.reweight_factor})
                seconds = time.perf_counter() - start
                outcomes[method] = _Outcome(classify_obs(test_obs @ edited), surrogate_features(train_obs @ edited),
                                            surrogate_features(test_obs @ edited), seconds, details=details)
        solve_check = _pushthrough_check(operator, train_obs, y_train, forget_class, cfg.gamma)
        retrain = outcomes.get("retrain")
        mask = np.argmax(mask_logits(network_logits, forget_class), axis=1)
        edit_seconds = outcomes[headline].seconds if headline in outcomes else float("nan")
        probes = {"probe_network": probe(network, forget_class), "probe_surrogate": probe(surrogate, forget_class),
                  "probe_retrain": probe(retrain, forget_class)}
        for method, outcome in outcomes.items():
            on_surrogate = method.startswith("edit_")
            before = surrogate if on_surrogate else network
            metrics = unlearning_metrics(before.predicted, outcome.predicted, y_test, forget_class, num_classes,
                                         None if retrain is None else retrain.predicted, mask)
            rows.append({
                "method": method, "acts_on": "surrogate" if on_surrogate else "network", "forget_class": forget_class,
                **metrics, "probe_balanced_acc": probe(outcome, forget_class),
                "probe_unedited": probes["probe_surrogate" if on_surrogate else "probe_network"],
                "probe_retrain": probes["probe_retrain"], "seconds": outcome.seconds, "edit_seconds": outcome.seconds,
                "cost_vs_edit": outcome.seconds / edit_seconds if edit_seconds > 0 else float("nan"),
                "cached": outcome.cached, "details": json.dumps(outcome.details),
                **(solve_check if on_surrogate else {}),
            })
    return rows


def _pushthrough_check(operator, observables, labels, forget_class: int, gamma: float) -> dict[str, float]:
    """The m x m (push-through) and the n_forget x n_forget solve of one edit: times and largest difference."""
    forget = labels == forget_class
    h, c = observables[forget], observables[~forget]
    targets = edit_targets(h, c, labels[~forget], operator, "centroid")
    timings, results = {}, {}
    for solve in ("pushthrough", "direct"):
        start = time.perf_counter()
        results[solve] = closed_form_edit(operator, h, c, targets, gamma, solve=solve)
        timings[solve] = time.perf_counter() - start
    return {"pushthrough_seconds": timings["pushthrough"], "direct_seconds": timings["direct"],
            "pushthrough_max_abs_diff": float(np.max(np.abs(results["pushthrough"] - results["direct"])))}


def _betti_plot(figures: dict[str, Any], title: str) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims = figures["topology_maxdim"] + 1
    fig, axes = plt.subplots(1, dims, figsize=(5.5 * dims, 3.5), squeeze=False)
    for dim, ax in enumerate(axes[0]):
        ax.plot(figures["betti_iterates"], figures[f"betti{dim}_surrogate"], label="KAE iterates (decoded)", color="tab:orange")
        ax.plot(figures["betti_layer_iterates"], figures[f"betti{dim}_network"], "o-", label="network layers", color="tab:blue")
        ax.set_xlabel("iterate t (layers placed at matched iterates)")
        ax.set_ylabel(f"beta_{dim} at eps={figures['betti_scale']:.3g}")
        ax.set_yscale("symlog")
        ax.set_title(f"{title}\nmean|diff| {figures[f'betti{dim}_mean_abs_diff']:.2f}, "
                     f"rank corr {figures[f'betti{dim}_rank_corr']:.2f}", fontsize=8)
        ax.legend(fontsize=7)
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
    family, module, net_info, net_key, network_cached = _network_stage(cell, data, cache, device)
    (x_train, x_test), representation_key, representations_cached = _representation_stage(
        cell, family, module, data, net_key, cache, device)
    _, y_train = data.arrays("train")
    _, y_test = data.arrays("test")
    preprocessor = fit_preprocessor([np.asarray(x) for x in x_train], cell.preprocess)
    z_train, z_test = preprocessor.transform_all(x_train), preprocessor.transform_all(x_test)
    trained, kae_seconds, surrogate_cached = _surrogate_stage(cell, z_train, representation_key, cache, device)
    model = trained.model

    def classify(z_last: np.ndarray) -> np.ndarray:
        return np.argmax(head_logits(family, module, preprocessor.inverse_last(z_last), device), axis=1)

    def surrogate_features(advanced: np.ndarray) -> np.ndarray:
        """The surrogate's final representation (last layer's own space) of advanced observables."""
        return preprocessor.inverse_last(decode(model, advanced.astype(np.float32)))

    network_labels = np.argmax(head_logits(family, module, np.asarray(x_test[-1]), device), axis=1)
    fidelity = surrogate_fidelity(model, z_test[0], z_test[-1], y_test, network_labels, classify)
    floor = _linear_floor(cell, z_train, z_test, y_test, network_labels, classify, fidelity["surrogate_acc"])
    topology, topology_rows = _topology(cell, model, z_test, y_test)
    unlearning_rows = _unlearning(cell, data, family, module, net_key, cache, device, model, z_train, z_test,
                                  x_train[-1], x_test[-1], surrogate_features, classify)
    default_class = cell.unlearning.default_forget_class
    default_class = data.num_classes - 1 if default_class is None else default_class
    headline_method = f"edit_{cell.unlearning.target}"
    headline = next((r for r in unlearning_rows if r["forget_class"] == default_class and r["method"] == headline_method),
                    unlearning_rows[0])
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
        **floor,
        **topology,
        "forget_class": headline["forget_class"],
        "edit_method": headline["method"],
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
