"""Content-addressed cache of the expensive intermediate products of a cell.

Each entry is a directory ``ROOT/<kind>/<key>`` written atomically (written under a temporary
name, then renamed), so concurrent cells and interrupted runs never see half an entry. Keys are
hashes of exactly the configs that determine the entry (:func:`harness.suite.config_hash`):
changing a KAE setting reuses the network and its representations.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np


class Cache:
    """A local (or shared-filesystem) directory of cache entries."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def entry(self, kind: str, key: str) -> Path | None:
        """The entry's directory if it exists, else None."""
        path = self.root / kind / key
        return path if path.is_dir() else None

    def put(self, kind: str, key: str, write: Callable[[Path], None]) -> Path:
        """Create the entry by calling ``write(tmp_dir)``; atomic; a concurrent winner is kept."""
        final = self.root / kind / key
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{key}."))
        try:
            write(tmp)
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return final


def save_arrays(directory: Path, arrays: list[np.ndarray], meta: dict | None = None) -> None:
    """Write ``arrays`` as float32 ``array_<i>.npy`` plus ``meta.json``."""
    for i, array in enumerate(arrays):
        np.save(directory / f"array_{i}.npy", np.ascontiguousarray(array, dtype=np.float32))
    (directory / "meta.json").write_text(json.dumps({"count": len(arrays), **(meta or {})}))


def load_arrays(directory: Path) -> tuple[list[np.ndarray], dict]:
    """Memory-mapped arrays and the metadata written by :func:`save_arrays`."""
    meta = json.loads((directory / "meta.json").read_text())
    return [np.load(directory / f"array_{i}.npy", mmap_mode="r") for i in range(meta["count"])], meta
