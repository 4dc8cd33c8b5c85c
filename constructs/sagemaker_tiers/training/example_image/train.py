"""Example SageMaker training script: ridge regression on CSV files, standard library only.

It follows SageMaker's training container contract
(https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html):

* hyperparameters from ``/opt/ml/input/config/hyperparameters.json`` (every value a string);
* channels as folders ``/opt/ml/input/data/<channel>/`` of CSV files with a header row (``train`` is required,
  ``validation`` is optional);
* the model written to ``/opt/ml/model/`` (SageMaker uploads it as ``model.tar.gz``);
* on error, the reason in ``/opt/ml/output/failure`` (SageMaker shows it as the job's ``FailureReason``) and a
  non-zero exit status;
* metrics printed to standard output as ``<name>=<value>`` lines (``train:rmse=0.41``), which the pipeline's
  metric definitions match.

``SM_ROOT`` replaces ``/opt/ml`` (tests lay out a temporary folder the way SageMaker does). The container runs
it as ``train.py train``; the argument is ignored.

Hyperparameters (all optional): ``target`` (label column, default ``churn``), ``l2`` (ridge strength >= 0,
default ``1.0``), ``threshold`` (a prediction at or above it counts as class 1, default ``0.5``).
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import traceback
from pathlib import Path

DEFAULTS = {"target": "churn", "l2": "1.0", "threshold": "0.5"}


class TrainingError(Exception):
    """A problem with the data or the hyperparameters, reported as the job's failure reason."""


def paths(root: str | None = None) -> dict[str, Path]:
    base = Path(root or os.environ.get("SM_ROOT", "/opt/ml"))
    return {
        "hyperparameters": base / "input" / "config" / "hyperparameters.json",
        "data": base / "input" / "data",
        "model": base / "model",
        "failure": base / "output" / "failure",
    }


def read_hyperparameters(path: Path) -> dict[str, object]:
    given = json.loads(path.read_text()) if path.exists() else {}
    if not isinstance(given, dict):
        raise TrainingError(f"hyperparameters.json must hold an object, got {type(given).__name__}")
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise TrainingError(f"unknown hyperparameters {unknown}; this script takes {sorted(DEFAULTS)}")
    values = {**DEFAULTS, **{k: str(v) for k, v in given.items()}}
    try:
        l2, threshold = float(values["l2"]), float(values["threshold"])
    except ValueError as error:
        raise TrainingError(f"l2 and threshold must be numbers: {error}") from None
    if not math.isfinite(l2) or l2 < 0:
        raise TrainingError(f"l2 must be a number >= 0, got {values['l2']!r}")
    return {"target": values["target"], "l2": l2, "threshold": threshold}


def read_channel(folder: Path, target: str) -> tuple[list[str], list[list[float]], list[float]]:
    """Feature names, feature rows and labels from every ``*.csv`` file under ``folder``."""
    files = sorted(p for p in folder.rglob("*.csv") if p.is_file())
    if not files:
        raise TrainingError(f"no CSV file in channel {folder.name!r} ({folder})")
    header: list[str] | None = None
    rows: list[list[float]] = []
    labels: list[float] = []
    for file in files:
        with file.open(newline="") as handle:
            reader = csv.reader(handle)
            file_header = next(reader, None)
            if file_header is None:
                continue
            if header is None:
                header = file_header
            elif file_header != header:
                raise TrainingError(f"{file.name} has columns {file_header}, expected {header}")
            if target not in header:
                raise TrainingError(f"label column {target!r} not in {file.name} columns {header}")
            index = header.index(target)
            for line, record in enumerate(reader, start=2):
                if not record:
                    continue
                try:
                    values = [float(v) for v in record]
                except ValueError:
                    raise TrainingError(f"{file.name} line {line}: every value must be a number") from None
                if len(values) != len(header):
                    raise TrainingError(f"{file.name} line {line}: {len(values)} values for {len(header)} columns")
                labels.append(values.pop(index))
                rows.append(values)
    if header is None or not rows:
        raise TrainingError(f"channel {folder.name!r} has no data rows")
    return [c for c in header if c != target], rows, labels


def standardize(rows: list[list[float]]) -> tuple[list[float], list[float]]:
    columns = list(zip(*rows))
    means = [sum(c) / len(c) for c in columns]
    stds = []
    for column, mean in zip(columns, means):
        variance = sum((v - mean) ** 2 for v in column) / len(column)
        stds.append(math.sqrt(variance) or 1.0)
    return means, stds


def design(rows: list[list[float]], means: list[float], stds: list[float]) -> list[list[float]]:
    """Standardized features with a leading intercept column."""
    return [[1.0] + [(v - m) / s for v, m, s in zip(row, means, stds)] for row in rows]


def solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gauss-Jordan elimination with partial pivoting."""
    n = len(vector)
    augmented = [row[:] + [vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(augmented[r][col]))
        if abs(augmented[pivot][col]) < 1e-12:
            raise TrainingError("features are linearly dependent; raise l2 above 0")
        augmented[col], augmented[pivot] = augmented[pivot], augmented[col]
        for row in range(n):
            if row != col:
                factor = augmented[row][col] / augmented[col][col]
                augmented[row] = [a - factor * b for a, b in zip(augmented[row], augmented[col])]
    return [augmented[i][n] / augmented[i][i] for i in range(n)]


def fit(x: list[list[float]], y: list[float], l2: float) -> list[float]:
    """Ridge regression: (X'X + l2*I) w = X'y, the intercept not penalized."""
    width = len(x[0])
    gram = [[sum(r[i] * r[j] for r in x) for j in range(width)] for i in range(width)]
    for i in range(1, width):
        gram[i][i] += l2
    moment = [sum(r[i] * t for r, t in zip(x, y)) for i in range(width)]
    return solve(gram, moment)


def evaluate(weights: list[float], x: list[list[float]], y: list[float], threshold: float) -> dict[str, float]:
    predictions = [sum(w * v for w, v in zip(weights, row)) for row in x]
    rmse = math.sqrt(sum((p - t) ** 2 for p, t in zip(predictions, y)) / len(y))
    accuracy = sum((p >= threshold) == (t >= 0.5) for p, t in zip(predictions, y)) / len(y)
    return {"rmse": rmse, "accuracy": accuracy}


def train(root: str | None = None) -> dict[str, float]:
    """Train on the ``train`` channel, evaluate on ``validation`` if present, write the model; return metrics."""
    where = paths(root)
    params = read_hyperparameters(where["hyperparameters"])
    target = str(params["target"])
    train_dir = where["data"] / "train"
    if not train_dir.is_dir():
        raise TrainingError(f"the 'train' channel is missing ({train_dir})")
    features, rows, labels = read_channel(train_dir, target)
    means, stds = standardize(rows)
    weights = fit(design(rows, means, stds), labels, float(params["l2"]))
    metrics = {f"train:{k}": v for k, v in evaluate(weights, design(rows, means, stds), labels, float(params["threshold"])).items()}
    validation_dir = where["data"] / "validation"
    if validation_dir.is_dir():
        v_features, v_rows, v_labels = read_channel(validation_dir, target)
        if v_features != features:
            raise TrainingError(f"validation columns {v_features} differ from train columns {features}")
        scores = evaluate(weights, design(v_rows, means, stds), v_labels, float(params["threshold"]))
        metrics.update({f"validation:{k}": v for k, v in scores.items()})
    where["model"].mkdir(parents=True, exist_ok=True)
    model = {
        "kind": "ridge-regression",
        "target": target,
        "features": features,
        "means": means,
        "stds": stds,
        "intercept": weights[0],
        "coefficients": dict(zip(features, weights[1:])),
        "threshold": params["threshold"],
        "l2": params["l2"],
        "rows": len(rows),
    }
    (where["model"] / "model.json").write_text(json.dumps(model, indent=2))
    for name, value in metrics.items():
        print(f"{name}={value:.6f}", flush=True)
    return metrics


def main() -> int:
    try:
        train()
        return 0
    except Exception as error:  # report every failure the SageMaker way, then exit non-zero
        reason = str(error) if isinstance(error, TrainingError) else f"{type(error).__name__}: {error}"
        failure = paths()["failure"]
        try:
            failure.parent.mkdir(parents=True, exist_ok=True)
            failure.write_text(reason[:1024])
        except OSError:
            pass
        traceback.print_exc()
        print(f"training failed: {reason}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
