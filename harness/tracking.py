"""MLflow tracking: one parent run per suite run, one child run per cell.

Only the driver calls this module (workers never open the tracking store). Child runs are
created with explicit client calls and the ``mlflow.parentRunId`` tag, because nested runs do not
nest by themselves under Ray. A tracking failure is reported and never loses a result: the
results store is the source of truth.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
CURVE_COLUMNS = ("betti0_network", "betti0_surrogate", "betti0_surrogate_matched", "class_acc_before", "class_acc_after")


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": "1"}``; values cut to MLflow's 500-character limit."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = (json.dumps(value) if not isinstance(value, str) else value)[:500]
    return flat


def scalar_metrics(row: dict[str, Any]) -> dict[str, float]:
    """The finite numeric (non-bool) values of a row."""
    return {
        key: float(value)
        for key, value in row.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    }


class Tracker:
    """Parent/child MLflow runs for one suite run. Every call is best-effort."""

    def __init__(self, tracking_uri: str, experiment: str, run_name: str, params: dict[str, Any],
                 parent_file: Path | None = None):
        """Nothing is written until the first cell is logged (a rerun with nothing to do adds no run).

        ``parent_file`` (e.g. ``RUN_DIR/mlflow_parent.json``) remembers the parent run, so a resumed
        run adds its remaining cells under the same parent instead of starting a second one.
        """
        self.enabled = True
        self.tracking_uri, self.experiment, self.run_name, self.params = tracking_uri, experiment, run_name, params
        self.parent_file = parent_file
        self.parent_id: str | None = None

    def _parent(self) -> str:
        if self.parent_id is not None:
            return self.parent_id
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        remembered = json.loads(self.parent_file.read_text()) if self.parent_file and self.parent_file.is_file() else {}
        if remembered.get("tracking_uri") == self.tracking_uri:
            self.experiment_id, self.parent_id = remembered["experiment_id"], remembered["run_id"]
            self.client.update_run(self.parent_id, status="RUNNING")
            return self.parent_id
        found = self.client.get_experiment_by_name(self.experiment)
        self.experiment_id = found.experiment_id if found else self.client.create_experiment(self.experiment)
        self.parent_id = self.client.create_run(self.experiment_id, run_name=self.run_name).info.run_id
        self._log_params(self.parent_id, flatten(self.params))
        if self.parent_file is not None:
            self.parent_file.write_text(json.dumps({"tracking_uri": self.tracking_uri, "run_id": self.parent_id,
                                                    "experiment_id": self.experiment_id}))
        return self.parent_id

    def _disable(self, exc: Exception) -> None:
        self.enabled = False
        print(f"koopbench: warning: MLflow tracking off ({type(exc).__name__}: {exc}); results are still stored",
              file=sys.stderr)

    def _log_params(self, run_id: str, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in params.items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start : start + 100])

    def log_cell(self, row: dict[str, Any], artifact_paths: list[Path]) -> None:
        """A child run with the cell's config as params, its figures as metrics, its artifacts."""
        if not self.enabled:
            return
        try:
            from mlflow.entities import Metric

            parent_id = self._parent()
            child = self.client.create_run(
                self.experiment_id,
                run_name=f"{row['model']}|{row['dataset']}|{row.get('surrogate', '')}|seed{row['seed']}",
                tags={"mlflow.parentRunId": parent_id, "cell_id": row["cell_id"], "status": row["status"]},
            )
            run_id = child.info.run_id
            config = json.loads(row["config"]) if row.get("config") else {}
            self._log_params(run_id, {**flatten(config), "cell_id": row["cell_id"]})
            metrics = [Metric(k, v, 0, 0) for k, v in scalar_metrics(row).items()]
            for column in CURVE_COLUMNS:
                for step, value in enumerate(row.get(column) or []):
                    metrics.append(Metric(column, float(value), 0, step))
            for start in range(0, len(metrics), 500):
                self.client.log_batch(run_id, metrics=metrics[start : start + 500])
            if row.get("error"):
                self.client.set_tag(run_id, "error", str(row["error"])[:5000])
            for path in artifact_paths:
                self.client.log_artifact(run_id, str(path))
            self.client.set_terminated(run_id, "FINISHED" if row["status"] == "ok" else "FAILED")
        except Exception as exc:
            self._disable(exc)

    def finish(self, artifact_paths: list[Path], status: str = "FINISHED") -> None:
        """Attach the run-level artifacts (leaderboard, report) and close the parent run."""
        if not self.enabled or self.parent_id is None:
            return
        try:
            for path in artifact_paths:
                self.client.log_artifact(self.parent_id, str(path))
            self.client.set_terminated(self.parent_id, status)
        except Exception as exc:
            self._disable(exc)
