"""Typed, frozen configuration for suites and cells.

A suite YAML file is validated into these models once, at the edge (:mod:`harness.suite`);
past that point the stages trust their inputs. Every field carries its help text. Unknown keys
are errors, not warnings. Precedence: command line > suite YAML (> included YAML) > defaults.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


class Frozen(BaseModel):
    """Base for every config: immutable, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TrainConfig(Frozen):
    """How a network is trained inside the harness (when it is not loaded)."""

    epochs: NonNegativeInt = Field(30, description="Passes over the training split.")
    lr: PositiveFloat = Field(1e-2, description="Peak learning rate (AdamW, cosine decay).")
    batch_size: PositiveInt = Field(128, description="Minibatch size.")
    weight_decay: NonNegativeFloat = Field(0.0, description="AdamW weight decay.")
    seed: int = Field(0, description="Seed of initialisation and data order.")


class LayerConfig(Frozen):
    """Which layer representations to capture and how to flatten them to vectors."""

    indices: int | list[int] | None = Field(
        None,
        description="None: every layer the adapter exposes; an int n: the last n; a list: these.",
    )
    pooling: Literal["avg", "max", "flatten"] = Field(
        "avg", description="Reduction of conv maps (B, C, H, W) to vectors."
    )
    token: Literal["cls", "mean"] = Field(
        "cls", description="Reduction of token maps (B, N, D) to vectors."
    )


class ModelConfig(Frozen):
    """One network of the matrix: ``name`` is ``family`` or ``family:arch`` (e.g. ``timm:resnet18``)."""

    name: str = Field(description="Registered family, optionally ':' and an architecture name.")
    label: str | None = Field(None, description="Display name in reports (default: name).")
    options: dict[str, Any] = Field(default_factory=dict, description="Family-specific options.")
    weights: str = Field(
        "train",
        description="'train' (train in the harness), 'pretrained' (hub weights, head refit), "
        "or a path to a .safetensors / .pth checkpoint.",
    )
    train: TrainConfig = Field(default_factory=TrainConfig)
    layers: LayerConfig = Field(default_factory=LayerConfig)

    @property
    def family(self) -> str:
        return self.name.split(":", 1)[0]

    @property
    def arch(self) -> str:
        return self.name.split(":", 1)[1] if ":" in self.name else ""

    @property
    def display(self) -> str:
        return self.label or self.name


class DatasetConfig(Frozen):
    """One dataset of the matrix: ``name`` is ``scheme:address`` (e.g. ``synthetic:yinyang``)."""

    name: str = Field(description="scheme:address, e.g. synthetic:yinyang, sklearn:digits, idx:DIR.")
    options: dict[str, Any] = Field(default_factory=dict, description="Scheme-specific options.")
    max_train: PositiveInt | None = Field(None, description="Seeded subsample of the train split.")
    max_test: PositiveInt | None = Field(None, description="Seeded subsample of the test split.")
    subsample_seed: int = Field(0, description="Seed of the max_train / max_test subsamples.")

    @property
    def scheme(self) -> str:
        return self.name.split(":", 1)[0] if ":" in self.name else ""

    @property
    def address(self) -> str:
        return self.name.split(":", 1)[1] if ":" in self.name else self.name


class PreprocessConfig(Frozen):
    """The paper's per-layer preprocessing (DESIGN.md section 2, step 3)."""

    p: PositiveInt = Field(10, description="Principal directions kept, the same for every layer.")
    scale: PositiveFloat = Field(100.0, description="Each layer is divided by ||X||_F / scale.")
    procrustes: bool = Field(True, description="Rotate every layer onto the last one.")


class SurrogateConfig(Frozen):
    """A Koopman autoencoder (DESIGN.md section 2, step 4)."""

    label: str = Field("kae", description="Name of this surrogate config in reports.")
    hidden: PositiveInt = Field(30, description="Hidden width of encoder and decoder.")
    m: PositiveInt = Field(20, description="Observable dimension (K is m x m).")
    k: PositiveInt = Field(100, description="Applications of K from x_0 to x_L (K = expm(M/k)).")
    loss_weights: tuple[NonNegativeFloat, NonNegativeFloat, NonNegativeFloat, NonNegativeFloat] = (
        Field((1.0, 1.0, 1.0, 1.0), description="l1..l4: recon, linear, state, dist.")
    )
    lr: PositiveFloat = Field(0.1, description="Peak of the triangular learning-rate schedule.")
    epochs: NonNegativeInt = Field(1000, description="Passes over the training representations.")
    batch_size: PositiveInt = Field(1024, description="Minibatch size.")
    weight_decay: NonNegativeFloat = Field(5e-4, description="AdamW decay on weight matrices only.")
    warmup_fraction: Annotated[float, Field(gt=0, lt=1)] = Field(
        0.2, description="Fraction of steps over which the LR rises linearly from 0 to lr."
    )
    alignment: Literal["endpoints", "all_layers"] = Field(
        "endpoints",
        description="'endpoints': x_0 -> x_L only (the paper); 'all_layers': also match x_l to "
        "K^{t_l} phi(x_0) at evenly spaced iterates t_l.",
    )


class TopologyConfig(Frozen):
    """Persistent homology of layers and surrogate iterates (DESIGN.md section 2, step 6)."""

    n_points: PositiveInt = Field(400, description="Seeded subsample of held-out points (before the pre-flight).")
    maxdim: Annotated[int, Field(ge=0, le=2)] = Field(1, description="Highest homology dimension.")
    scale_quantile: Annotated[float, Field(gt=0, le=1)] = Field(
        0.9,
        description="Base scale epsilon = this quantile of nearest-neighbour distances in the "
        "preprocessed first layer x_0 (pooled subsample); fixed once per cell, the same for all curves.",
    )
    scale_factors: list[PositiveFloat] = Field(
        [1.0, 2.0, 4.0, 8.0], min_length=1,
        description="Betti curves are recorded at epsilon * each factor; the headline curves at epsilon.",
    )
    per_class: bool = Field(True, description="Also compute curves per class.")
    iterate_stride: PositiveInt = Field(1, description="Compute surrogate iterates t = 0, s, 2s, ..., k.")
    n_perm: PositiveInt | None = Field(
        None, description="Greedy (farthest-point) landmarks per point set; covering radius recorded."
    )
    backend: Literal["ripser", "giotto"] = Field(
        "ripser", description="'giotto' uses giotto-ph (optional extra koopbench[giotto], AGPL-3)."
    )
    distances: bool = Field(
        True, description="Bottleneck / Wasserstein distances between each layer and its matched iterate."
    )
    distance_max_bars: PositiveInt = Field(
        400, description="Bottleneck on this many most persistent finite bars (error bound recorded)."
    )
    budget_seconds: PositiveFloat = Field(
        300.0, description="Pre-flight: the topology stage's estimated time must fit; n is lowered if not."
    )
    budget_memory_gb: PositiveFloat = Field(
        4.0, description="Pre-flight: the estimated peak memory of one persistence call must fit."
    )
    calibrate: bool = Field(
        True, description="Pre-flight: rescale the time model with one small run on the cell's points."
    )


UnlearningMethod = Literal[
    "edit_shared", "edit_nearest", "edit_centroid", "edit_reweighted",
    "retrain", "finetune", "ascent", "logit_mask",
]
UNLEARNING_METHODS: tuple[str, ...] = typing.get_args(UnlearningMethod)


class UnlearningConfig(Frozen):
    """Unlearning benchmark: edits of the surrogate's K and references on the network (section 2, step 7)."""

    forget_classes: Literal["all"] | list[NonNegativeInt] = Field(
        "all", description="Classes to forget, one edit each."
    )
    default_forget_class: NonNegativeInt | None = Field(
        None, description="Class carried in results.parquet (default: the last class)."
    )
    gamma: PositiveFloat = Field(0.1, description="Regulariser of the constrained least squares.")
    target: Literal["shared", "nearest", "centroid", "reweighted"] = Field(
        "nearest",
        description="The headline edit carried in results.parquet (method edit_<target>): 'shared' (one "
        "target for all forget points, as in the paper's code), 'nearest' (per-point nearest retained "
        "neighbour), 'centroid' (mean advanced observable of the nearest neighbour's class), "
        "'reweighted' (centroid targets, gamma chosen on training data, reweighted re-solves).",
    )
    methods: list[UnlearningMethod] = Field(
        list(UNLEARNING_METHODS), min_length=1, description="Methods run for every forget class."
    )
    reweight_gammas: list[PositiveFloat] = Field(
        [0.1, 0.3, 1.0, 3.0], min_length=1,
        description="edit_reweighted: gamma grid, chosen on TRAINING data (forget accuracy + retained drop).",
    )
    reweight_rounds: NonNegativeInt = Field(3, description="edit_reweighted: reweighted re-solves.")
    reweight_factor: Annotated[float, Field(gt=1)] = Field(
        4.0, description="edit_reweighted: weight multiplier of training points the edit still gets wrong."
    )
    finetune_epochs: PositiveInt = Field(10, description="finetune: epochs on the retained training set.")
    finetune_lr: PositiveFloat | None = Field(
        None, description="finetune: peak learning rate (cosine decay); None: the network's own training lr."
    )
    ascent_lr: PositiveFloat = Field(1e-3, description="ascent: learning rate (AdamW).")
    ascent_max_epochs: PositiveInt = Field(20, description="ascent: most passes over the forget set.")
    ascent_retain_weight: NonNegativeFloat = Field(
        1.0, description="ascent: weight of the retained-set cross-entropy beside the ascent term."
    )
    ascent_stop_accuracy: Annotated[float, Field(ge=0, le=1)] = Field(
        0.01, description="ascent: stop once the forget class's TRAINING accuracy is at most this."
    )
    probe: bool = Field(True, description="Fit the linear recoverability probe for every method.")


class LinearFloorConfig(Frozen):
    """Closed-form DMD / EDMD surrogates of x_0 -> x_L: the floor every KAE must beat."""

    enabled: bool = Field(True, description="Fit DMD and EDMD in every cell.")
    rbf_centres: PositiveInt = Field(100, description="EDMD: Gaussian RBF observables (seeded k-means++ centres).")
    ridges: list[NonNegativeFloat] = Field(
        [1e-6, 1e-4, 1e-2, 1.0], min_length=1, description="Ridge grid, chosen by 5-fold CV on training data."
    )


class ResourcesConfig(Frozen):
    """Ray resources per cell."""

    num_cpus: PositiveFloat = Field(1, description="CPUs per cell task (also torch threads).")
    num_gpus: NonNegativeFloat = Field(0, description="GPUs per cell task.")
    max_retries: NonNegativeInt = Field(1, description="Ray retries on system failures.")
    max_pending: PositiveInt = Field(64, description="Cap on tasks in flight.")


class SuiteConfig(Frozen):
    """A suite: the matrix models x datasets x seeds x surrogates, plus shared stage configs."""

    name: str = Field(description="Suite name, recorded in every row.")
    description: str = Field("", description="Free text.")
    seeds: list[int] = Field([0], min_length=1, description="Cell seeds (KAE, subsamples, edits).")
    models: list[ModelConfig] = Field(min_length=1)
    datasets: list[DatasetConfig] = Field(min_length=1)
    surrogates: list[SurrogateConfig] = Field(default_factory=lambda: [SurrogateConfig()], min_length=1)
    preprocess: PreprocessConfig = Field(default_factory=PreprocessConfig)
    topology: TopologyConfig = Field(default_factory=TopologyConfig)
    unlearning: UnlearningConfig = Field(default_factory=UnlearningConfig)
    linear_floor: LinearFloorConfig = Field(default_factory=LinearFloorConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct, got {seeds}")
        return seeds

    @model_validator(mode="after")
    def _unique_surrogate_labels(self) -> "SuiteConfig":
        labels = [s.label for s in self.surrogates]
        if len(set(labels)) != len(labels):
            raise ValueError(f"surrogate labels must be distinct, got {labels}")
        return self


class CellConfig(Frozen):
    """One cell of a suite, fully resolved: everything that determines its figures."""

    suite: str
    model: ModelConfig
    dataset: DatasetConfig
    seed: int
    surrogate: SurrogateConfig
    preprocess: PreprocessConfig
    topology: TopologyConfig
    unlearning: UnlearningConfig
    linear_floor: LinearFloorConfig = Field(default_factory=LinearFloorConfig)
