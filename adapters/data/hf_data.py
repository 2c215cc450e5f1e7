"""Image datasets through Hugging Face ``datasets`` and local files, one string each.

- ``hf:<hub id or local dir>[:config]``: ``datasets.load_dataset`` (the hub needs a network, or
  ``HF_DATASETS_OFFLINE=1`` and a local cache / local directory); ``train_split``/``test_split``
  name the two splits, ``image_column``/``label_column`` map the columns.
- ``parquet:<dir or file>``: a directory with ``train*.parquet`` and ``test*.parquet`` files, or
  one file split by a seeded, stratified ``test_fraction``.
- ``imagefolder:<dir>``: ``<dir>/train/<class>/*.png`` and ``<dir>/test/<class>/*.png``.
- ``idx:<dir>``: MNIST-format files ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
  ``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]`` (e.g. Fashion-MNIST from the
  Debian package ``dataset-fashion-mnist``, in ``/usr/share/datasets/fashion-mnist``).

Every scheme yields images ``(C, H, W)`` float32 in [0, 1] and int64 labels 0..n-1, with the
given train and test splits kept apart (no example moves between them).
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from adapters.base import DataSplits, DatasetScheme, register_dataset_scheme
from harness.errors import UserInputError

IMAGE_COLUMNS = ("image", "img", "pixel_values", "pixels")
LABEL_COLUMNS = ("label", "labels", "fine_label", "target", "class")
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


class ImageOptions(BaseModel):
    """Column mapping and image conversion shared by the ``datasets``-backed schemes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image_column: str | None = Field(None, description=f"Image column (default: the first of {IMAGE_COLUMNS}).")
    label_column: str | None = Field(None, description=f"Label column (default: the first of {LABEL_COLUMNS}).")
    channels: Literal[1, 3] | None = Field(None, description="Convert images to grey (1) or RGB (3); default: as stored.")
    image_size: int | None = Field(None, gt=0, description="Resize images to this square size (default: as stored).")


class HubOptions(ImageOptions):
    train_split: str = Field("train", description="Name of the training split.")
    test_split: str = Field("test", description="Name of the held-out split.")


class FileOptions(ImageOptions):
    test_fraction: float = Field(
        0.2, gt=0, lt=1, description="Held-out fraction, only when the source has no test split of its own."
    )
    split_seed: int = Field(0, description="Seed of that stratified split.")


class IdxOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    class_names: list[str] | None = Field(
        None, description="Names of classes 0..n-1 (default: Fashion-MNIST's names for a fashion-mnist directory, else digits)."
    )


def arrow_splits(
    train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], class_names: tuple[str, ...]
) -> DataSplits:
    """Like :func:`adapters.data.synthetic.to_splits`, built straight from Arrow buffers.

    A fixed-size-list column is made from the numpy buffer without Python lists: 60,000 MNIST
    images take about 0.5 s here instead of about 10 s through ``Dataset.from_dict``.
    """
    import datasets
    import pyarrow as pa

    def as_dataset(xy: tuple[np.ndarray, np.ndarray]):
        inputs, labels = xy
        flat = np.ascontiguousarray(inputs, dtype=np.float32).reshape(len(inputs), -1)
        column = pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel()), flat.shape[1])
        return datasets.Dataset(pa.table({"input": column, "label": pa.array(labels.astype(np.int64))}))

    return DataSplits(
        train=as_dataset(train),
        test=as_dataset(test),
        num_classes=len(class_names),
        class_names=tuple(class_names),
        input_shape=tuple(train[0].shape[1:]),
    )


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str) -> str:
    if wanted is not None:
        if wanted not in columns:
            raise UserInputError(f"no {what} column {wanted!r}; columns: {', '.join(columns)}")
        return wanted
    for name in candidates:
        if name in columns:
            return name
    raise UserInputError(f"cannot find the {what} column (tried {', '.join(candidates)}); columns: "
                         f"{', '.join(columns)}; set options.{what}_column")


def _image_array(value: Any, options: ImageOptions) -> np.ndarray:
    """One stored image (PIL image or nested numbers) -> float32 ``(C, H, W)`` in [0, 1]."""
    from PIL import Image

    if isinstance(value, Image.Image):
        mode = {1: "L", 3: "RGB"}.get(options.channels or 0, value.mode if value.mode in ("L", "RGB") else "RGB")
        image = value.convert(mode)
        if options.image_size:
            image = image.resize((options.image_size, options.image_size), Image.BILINEAR)
        array = np.asarray(image, dtype=np.float32) / 255.0
        return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    array = np.asarray(value, dtype=np.float32)
    if array.max(initial=0) > 1.0:
        array = array / 255.0
    if array.ndim == 2:
        array = array[None]
    elif array.ndim == 3 and array.shape[-1] in (1, 3) and array.shape[0] not in (1, 3):
        array = array.transpose(2, 0, 1)
    if options.image_size and array.shape[-1] != options.image_size:
        raise UserInputError("image_size resizing needs images stored as images, not arrays")
    return array


def dataset_arrays(ds: Any, options: ImageOptions) -> tuple[np.ndarray, np.ndarray, tuple[str, ...] | None]:
    """``(images (n, C, H, W), raw labels (n,), class names or None)`` of a ``datasets.Dataset``."""
    columns = list(ds.column_names)
    image_col = _pick(columns, options.image_column, IMAGE_COLUMNS, "image")
    label_col = _pick(columns, options.label_column, LABEL_COLUMNS, "label")
    feature = ds.features[label_col]
    names = tuple(feature.names) if hasattr(feature, "names") else None
    images = np.stack([_image_array(v, options) for v in ds[image_col]])
    if options.channels and images.shape[1] != options.channels:
        images = images.mean(axis=1, keepdims=True) if options.channels == 1 else np.repeat(images, 3, axis=1)
    return images, np.asarray(ds[label_col]), names


def splits_from_datasets(train: Any, test: Any, options: ImageOptions) -> DataSplits:
    """DataSplits from two ``datasets.Dataset`` splits; labels mapped to 0..n-1 consistently."""
    x_train, y_train, names = dataset_arrays(train, options)
    x_test, y_test, _ = dataset_arrays(test, options)
    if names is None:
        values = np.unique(np.concatenate([y_train, y_test]))
        names = tuple(str(v) for v in values)
        y_train, y_test = np.searchsorted(values, y_train), np.searchsorted(values, y_test)
    if x_train.shape[1:] != x_test.shape[1:]:
        raise UserInputError(f"train images {x_train.shape[1:]} and test images {x_test.shape[1:]} differ; "
                             "set options.image_size and options.channels")
    return arrow_splits((x_train, y_train.astype(np.int64)), (x_test, y_test.astype(np.int64)), names)


def _split_or_keep(dataset_dict: Any, options: FileOptions, what: str) -> tuple[Any, Any]:
    """The source's own train/test splits, or a seeded stratified split of a lone train split."""
    if "test" in dataset_dict:
        return dataset_dict["train"], dataset_dict["test"]
    if list(dataset_dict) != ["train"]:
        raise UserInputError(f"{what}: expected splits train and test, found {', '.join(dataset_dict)}")
    from sklearn.model_selection import train_test_split

    full = dataset_dict["train"]
    label_col = _pick(list(full.column_names), options.label_column, LABEL_COLUMNS, "label")
    train_idx, test_idx = train_test_split(
        np.arange(len(full)), test_size=options.test_fraction, random_state=options.split_seed,
        stratify=np.asarray(full[label_col]),
    )
    return full.select(np.sort(train_idx)), full.select(np.sort(test_idx))


@register_dataset_scheme("hf")
class HubScheme(DatasetScheme):
    """``hf:<hub id or local dir>[:config]`` through ``datasets.load_dataset``."""

    Options = HubOptions

    @staticmethod
    def parse(address: str) -> tuple[str, str | None]:
        path, _, config = address.partition(":")
        return path, config or None

    def validate(self, address, options):
        path, _ = self.parse(address)
        if not path:
            raise UserInputError("hf needs a hub id or a local directory, e.g. hf:ylecun/mnist")
        if path.startswith((".", "/", "~")) and not Path(path).expanduser().exists():
            raise UserInputError(f"local dataset directory {path!r} not found")

    def load(self, address, options):
        import datasets

        path, config = self.parse(address)
        try:
            loaded = datasets.load_dataset(str(Path(path).expanduser()) if Path(path).expanduser().exists() else path,
                                           config)
        except (ConnectionError, FileNotFoundError) as exc:
            raise UserInputError(
                f"could not resolve dataset {address!r} ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                "hub datasets need a network (or HF_DATASETS_OFFLINE=1 with a filled cache)"
            ) from None
        missing = [s for s in (options.train_split, options.test_split) if s not in loaded]
        if missing:
            raise UserInputError(f"dataset {address!r} has no split {', '.join(missing)}; splits: {', '.join(loaded)}"
                                 " (set options.train_split / options.test_split)")
        return splits_from_datasets(loaded[options.train_split], loaded[options.test_split], options)


@register_dataset_scheme("parquet")
class ParquetScheme(DatasetScheme):
    """``parquet:<dir with train*/test* files, or one file>``."""

    Options = FileOptions

    def validate(self, address, options):
        if not Path(address).exists():
            raise UserInputError(f"parquet path {address!r} not found")

    def load(self, address, options):
        import datasets

        path = Path(address)
        if path.is_dir():
            files = {split: sorted(str(f) for f in path.glob(f"{split}*.parquet")) for split in ("train", "test")}
            files = {split: found for split, found in files.items() if found}
            if "train" not in files:
                raise UserInputError(f"no train*.parquet file in {address!r}")
        else:
            files = {"train": [str(path)]}
        loaded = datasets.load_dataset("parquet", data_files=files)
        return splits_from_datasets(*_split_or_keep(loaded, options, f"parquet:{address}"), options)


@register_dataset_scheme("imagefolder")
class ImageFolderScheme(DatasetScheme):
    """``imagefolder:<dir>`` with ``train/<class>/...`` and ``test/<class>/...``."""

    Options = FileOptions

    def validate(self, address, options):
        if not Path(address).is_dir():
            raise UserInputError(f"image folder {address!r} not found")

    def load(self, address, options):
        import datasets

        loaded = datasets.load_dataset("imagefolder", data_dir=address)
        return splits_from_datasets(*_split_or_keep(loaded, options, f"imagefolder:{address}"), options)


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST format, optionally gzipped) as a numpy array of its stored shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise UserInputError("not an unsigned-byte IDX file", file=str(path))
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise UserInputError(f"IDX file is truncated: header says {shape}, found {data.size} values", file=str(path))
    return data.reshape(shape)


IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _idx_file(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


@register_dataset_scheme("idx")
class IdxScheme(DatasetScheme):
    """``idx:<dir>``: MNIST-format train and t10k files."""

    Options = IdxOptions

    def validate(self, address, options):
        directory = Path(address)
        if not directory.is_dir():
            hint = " (install the Debian package dataset-fashion-mnist)" if "fashion" in address else ""
            raise UserInputError(f"IDX directory {address!r} not found{hint}")
        missing = [stem for pair in IDX_FILES.values() for stem in pair if _idx_file(directory, stem) is None]
        if missing:
            raise UserInputError(f"IDX directory {address!r} lacks {', '.join(missing)} (.gz allowed)")

    def load(self, address, options):
        self.validate(address, options)
        directory = Path(address)
        arrays = {}
        for split, (images_stem, labels_stem) in IDX_FILES.items():
            images = read_idx(_idx_file(directory, images_stem)).astype(np.float32) / 255.0
            labels = read_idx(_idx_file(directory, labels_stem)).astype(np.int64)
            if len(images) != len(labels):
                raise UserInputError(f"{split}: {len(images)} images but {len(labels)} labels", file=address)
            arrays[split] = (images[:, None] if images.ndim == 3 else images, labels)
        n_classes = int(max(arrays["train"][1].max(), arrays["test"][1].max())) + 1
        names = options.class_names
        if names is None:
            names = FASHION_MNIST_CLASSES if "fashion" in str(directory).lower() else [str(c) for c in range(n_classes)]
        if len(names) < n_classes:
            raise UserInputError(f"{len(names)} class_names for {n_classes} classes", key="options.class_names")
        return arrow_splits(arrays["train"], arrays["test"], tuple(names))
