"""The runner: the only module that knows Ray.

Every pending cell becomes one Ray task (``num_cpus``/``num_gpus``/``max_retries`` from the
suite); results stream back through ``ray.wait`` under a cap on tasks in flight; each finished
cell is written to the results store and logged to MLflow at once, by the driver only. Cells
whose row already says "ok" are skipped, so a rerun of an interrupted or finished run does only
what is missing (and starts no Ray at all when nothing is).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

from harness.cell import CellResult, failed_result, network_key, run_cell_safely
from harness.config import CellConfig, ResourcesConfig
from harness.errors import UserInputError
from harness.suite import cell_id


def pick_device(num_gpus: float) -> str:
    """'cuda' when the task was given a GPU and one is visible, else 'cpu'."""
    import torch

    return "cuda" if num_gpus > 0 and torch.cuda.is_available() else "cpu"


def cell_task(cell: CellConfig, cache_root: str, num_gpus: float, num_cpus: float) -> CellResult:
    """What one Ray task (or one serial step) runs."""
    return run_cell_safely(cell, cache_root, pick_device(num_gpus), int(max(1, num_cpus)))


def _serial(cells: list[CellConfig], cache_root: str, resources: ResourcesConfig) -> Iterator[tuple[CellConfig, CellResult]]:
    for cell in cells:
        yield cell, cell_task(cell, cache_root, resources.num_gpus, resources.num_cpus)


def _on_ray(
    cells: list[CellConfig], cache_root: str, resources: ResourcesConfig, address: str | None
) -> Iterator[tuple[CellConfig, CellResult]]:
    import ray

    if address is None:  # an embedded local Ray for this process only
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}})
        except ConnectionError as exc:
            raise UserInputError(f"cannot reach a Ray cluster at {address!r} ({exc})", key="--address") from None
    remote = ray.remote(cell_task).options(
        num_cpus=resources.num_cpus, num_gpus=resources.num_gpus, max_retries=resources.max_retries
    )
    # The first cell of each network trains it; the others wait for it, then find it cached.
    queue: list[CellConfig] = []
    waiting: dict[str, list[CellConfig]] = {}
    for cell in cells:
        key = network_key(cell)
        if key in waiting:
            waiting[key].append(cell)
        else:
            waiting[key] = []
            queue.append(cell)
    in_flight: dict = {}
    try:
        while queue or in_flight:
            while queue and len(in_flight) < resources.max_pending:
                cell = queue.pop(0)
                in_flight[remote.remote(cell, cache_root, resources.num_gpus, resources.num_cpus)] = cell
            done, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in done:
                cell = in_flight.pop(ref)
                queue.extend(waiting.pop(network_key(cell), []))
                try:
                    result = ray.get(ref)
                except Exception as exc:  # system failure after max_retries: still a row
                    result = failed_result(cell, f"{type(exc).__name__}: {exc}".splitlines()[0])
                yield cell, result
    finally:
        for ref in in_flight:
            ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()


def run_cells(
    cells: list[CellConfig],
    run_dir: str | Path,
    cache_root: str | Path,
    resources: ResourcesConfig,
    *,
    address: str | None = None,
    serial: bool = False,
    on_result: Callable[[CellConfig, CellResult, list[Path]], None] | None = None,
    progress: bool = True,
) -> dict[str, int]:
    """Run every cell not yet finished in ``run_dir``; write each result as it arrives.

    Args:
        cells: the suite's cells (finished ones are skipped).
        run_dir: where ``results.parquet`` and the long tables live.
        cache_root: the content-addressed cache shared by all cells (and all runs).
        address: a Ray cluster address (``auto``, ``ray://...``); None starts a local Ray.
        serial: run in this process, without Ray (same figures; for debugging).
        on_result: called by the driver after each row is stored (e.g. MLflow logging).

    Returns:
        Counts: ``total``, ``skipped``, ``ok``, ``failed``.
    """
    from tqdm import tqdm

    from harness.store import ResultsStore

    store = ResultsStore(run_dir)
    finished = store.finished()
    pending = [c for c in cells if cell_id(c) not in finished]
    counts = {"total": len(cells), "skipped": len(cells) - len(pending), "ok": 0, "failed": 0}
    if not pending:
        return counts
    stream = _serial(pending, str(cache_root), resources) if serial else _on_ray(pending, str(cache_root), resources, address)
    bar = tqdm(total=len(pending), desc="cells", unit="cell", disable=not progress, file=sys.stderr)
    started = time.perf_counter()
    for cell, result in stream:
        store.append(result.row, result.tables)
        paths = store.write_artifacts(result.row["cell_id"], result.artifacts)
        if on_result is not None:
            on_result(cell, result, paths)
        status = result.row["status"]
        counts[status] += 1
        bar.set_postfix(ok=counts["ok"], failed=counts["failed"])
        bar.update(1)
        if status == "failed":
            bar.write(f"cell {result.row['cell_id']} ({result.row['model']} / {result.row['dataset']} / seed "
                      f"{result.row['seed']}) failed: {str(result.row['error']).splitlines()[-1]}")
    bar.close()
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return counts
