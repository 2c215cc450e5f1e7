"""Suite files: YAML -> validated :class:`SuiteConfig` -> cells with stable ids.

This is the edge. Everything a suite names (keys, types, model families and architectures,
dataset schemes, adapter options) is checked here, before any work starts, and every problem is
reported as one :class:`UserInputError` naming the file, the key and what is allowed.

Example::

    suite = load_suite("suites/paper-yinyang.yaml", overrides=["surrogates.0.epochs=10"])
    cells = expand_cells(suite)
"""

from __future__ import annotations

import hashlib
import itertools
import json
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from harness import __version__
from harness.config import CellConfig, DatasetConfig, ModelConfig, SuiteConfig
from harness.errors import UserInputError


def _deep_merge(base: dict, update: dict) -> dict:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_suite_yaml(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a suite file, resolving ``include:`` (a path relative to the file, or a list of them)."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError("suite file not found", file=str(path))
    if path.resolve() in _seen:
        raise UserInputError("include cycle", file=str(path), key="include")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserInputError(f"not valid YAML ({exc})".replace("\n", " "), file=str(path)) from None
    if not isinstance(raw, dict):
        raise UserInputError("a suite must be a mapping of keys to values", file=str(path))
    includes = raw.pop("include", [])
    merged: dict[str, Any] = {}
    for include in [includes] if isinstance(includes, str) else includes:
        merged = _deep_merge(merged, read_suite_yaml(path.parent / include, _seen + (path.resolve(),)))
    return _deep_merge(merged, raw)


def apply_override(raw: dict[str, Any], assignment: str) -> dict[str, Any]:
    """Apply ``dotted.key=value`` (value parsed as YAML; list items addressed by index)."""
    if "=" not in assignment:
        raise UserInputError(f"override {assignment!r} must look like key.path=value", key="--set")
    dotted, value_text = assignment.split("=", 1)
    value = yaml.safe_load(value_text)
    node: Any = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise UserInputError(f"no list item {part!r}", key=dotted)
            node = node[int(part)]
        else:
            node = node.setdefault(part, {})
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise UserInputError(f"no list item {last!r}", key=dotted)
        node[int(last)] = value
    else:
        node[last] = value
    return raw


def _field_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as ``list[ModelConfig]`` or ``X | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _field_model(arg)
        if found is not None:
            return found
    return None


def _allowed_keys(loc: tuple) -> list[str]:
    model: type[BaseModel] | None = SuiteConfig
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        model = _field_model(field.annotation) if field else None
    return sorted(model.model_fields) if model else []


def _format_errors(exc: ValidationError, prefix: str = "") -> str:
    messages = []
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"]) or "(top level)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            allowed = _allowed_keys(error["loc"])
            message = f"unknown key; allowed: {', '.join(allowed)}" if allowed else "unknown key"
        elif error["type"] == "missing":
            message = "required key is missing"
        elif "input" in error and not isinstance(error["input"], (dict, list)):
            message = f"{message} (got {error['input']!r})"
        messages.append(f"{prefix}{key}: {message}")
    return "; ".join(messages)


def _resolve_adapters(suite: SuiteConfig, file: str) -> SuiteConfig:
    """Check names and options against the adapter registries; fill option defaults."""
    from adapters import DATASET_SCHEMES, MODEL_FAMILIES

    models = []
    for i, model in enumerate(suite.models):
        key = f"models.{i}"
        family = MODEL_FAMILIES.get(model.family, file=file, key=f"{key}.name")
        options = _adapter_options(family.Options, model.options, file, f"{key}.options")
        try:
            family.validate(model.arch, options)
        except UserInputError as exc:
            raise UserInputError(exc.detail, file=file, key=f"{key}.name") from None
        if model.weights not in ("train", "pretrained") and not Path(model.weights).is_file():
            raise UserInputError(
                f"checkpoint {model.weights!r} not found; use 'train', 'pretrained' or a path to "
                "a .safetensors / .pth file",
                file=file,
                key=f"{key}.weights",
            )
        models.append(model.model_copy(update={"options": options.model_dump()}))
    datasets = []
    for i, dataset in enumerate(suite.datasets):
        key = f"datasets.{i}"
        scheme = DATASET_SCHEMES.get(dataset.scheme, file=file, key=f"{key}.name")
        options = _adapter_options(scheme.Options, dataset.options, file, f"{key}.options")
        try:
            scheme.validate(dataset.address, options)
        except UserInputError as exc:
            raise UserInputError(exc.detail, file=file, key=f"{key}.name") from None
        datasets.append(dataset.model_copy(update={"options": options.model_dump()}))
    return suite.model_copy(update={"models": models, "datasets": datasets})


def _adapter_options(options_model: type[BaseModel], options: dict, file: str, key: str) -> BaseModel:
    try:
        return options_model(**options)
    except ValidationError as exc:
        allowed = ", ".join(sorted(options_model.model_fields)) or "none"
        raise UserInputError(f"{_format_errors(exc, key + '.')} (allowed options: {allowed})", file=file) from None


def load_suite(
    path: str | Path,
    overrides: list[str] = (),
    dataset: str | None = None,
    seeds: list[int] | None = None,
) -> SuiteConfig:
    """Read, merge, override and validate a suite file.

    Args:
        path: the suite YAML file.
        overrides: ``key.path=value`` assignments applied after the file (command line wins).
        dataset: if given, replaces the suite's datasets by this one dataset string.
        seeds: if given, replaces the suite's seeds.

    Raises:
        UserInputError: naming the file, the key and what is allowed.
    """
    file = str(path)
    raw = read_suite_yaml(Path(path))
    for assignment in overrides:
        raw = apply_override(raw, assignment)
    if dataset is not None:
        raw["datasets"] = [{"name": dataset}]
    if seeds is not None:
        raw["seeds"] = list(seeds)
    try:
        suite = SuiteConfig(**raw)
    except ValidationError as exc:
        raise UserInputError(_format_errors(exc), file=file) from None
    return _resolve_adapters(suite, file)


def check_suite_fits(suite: SuiteConfig, file: str) -> None:
    """The checks that need data and models, still before any work: for every (model, dataset),
    ``preprocess.p`` against the narrowest layer (one forward pass of an untrained network), and
    that a checkpoint file is readable and fits the model.

    Raises:
        UserInputError: naming the file, the key, the model and dataset, and what is allowed.
    """
    from harness.data import load_data
    from harness.network import apply_checkpoint, build_network, load_checkpoint
    from harness.preprocessing import check_p
    from harness.representations import layer_widths

    for j, dataset in enumerate(suite.datasets):
        data = load_data(dataset)
        for i, model in enumerate(suite.models):
            where = f"{model.display} on {dataset.name}"
            try:
                widths = layer_widths(model, data.input_shape, data.num_classes)
                check_p(suite.preprocess.p, [(len(data.train), width) for width in widths])
            except UserInputError as exc:
                raise UserInputError(f"{exc.detail} ({where})", file=file, key="preprocess.p") from None
            if model.weights not in ("train", "pretrained"):
                try:
                    apply_checkpoint(build_network(model, data), load_checkpoint(model.weights), model.weights)
                except UserInputError as exc:
                    raise UserInputError(f"{exc} ({where})", file=file, key=f"models.{i}.weights") from None


def cell_id(cell: CellConfig) -> str:
    """Stable id: hash of the resolved cell config and the harness version (16 hex digits)."""
    payload = json.dumps({"cell": cell.model_dump(mode="json"), "version": __version__}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def config_hash(*parts: BaseModel | dict | str | int | None) -> str:
    """Content hash of configs (for cache keys): sha256 over their canonical JSON."""
    canonical = [p.model_dump(mode="json") if isinstance(p, BaseModel) else p for p in parts]
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()[:20]


def expand_cells(suite: SuiteConfig) -> list[CellConfig]:
    """The matrix models x datasets x surrogates x seeds, in that nesting order."""
    return [
        CellConfig(
            suite=suite.name,
            model=model,
            dataset=dataset,
            seed=seed,
            surrogate=surrogate,
            preprocess=suite.preprocess,
            topology=suite.topology,
            unlearning=suite.unlearning,
            linear_floor=suite.linear_floor,
        )
        for model, dataset, surrogate, seed in itertools.product(
            suite.models, suite.datasets, suite.surrogates, suite.seeds
        )
    ]


__all__ = ["load_suite", "expand_cells", "cell_id", "config_hash", "DatasetConfig", "ModelConfig"]
