"""The example training image's script, run for real on a small generated dataset laid out the way SageMaker lays
out ``/opt/ml`` (in a temporary folder, through ``SM_ROOT``)."""

from __future__ import annotations

import csv
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sagemaker_tiers.training import EXAMPLE_HYPERPARAMETERS, EXAMPLE_IMAGE_DIRECTORY, EXAMPLE_METRIC_DEFINITIONS

SCRIPT = EXAMPLE_IMAGE_DIRECTORY / "train.py"
COLUMNS = ["tenure", "monthly_charges", "support_calls", "churn"]


def write_csv(path: Path, rows: int, seed: int, columns: list[str] = COLUMNS) -> None:
    """Churn depends on short tenure, high charges and many support calls, plus noise."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for _ in range(rows):
            tenure = rng.uniform(0, 72)
            charges = rng.uniform(20, 120)
            calls = rng.randint(0, 9)
            score = -0.06 * tenure + 0.03 * charges + 0.4 * calls - 1.5 + rng.gauss(0, 0.5)
            values = {"tenure": tenure, "monthly_charges": charges, "support_calls": calls, "churn": int(score > 0)}
            writer.writerow([f"{values[c]:.4f}" if c in values else "0" for c in columns])


def sagemaker_layout(root: Path, hyperparameters: dict[str, str]) -> Path:
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (root / "model").mkdir()
    (root / "output").mkdir()
    return root


def run(root: Path) -> subprocess.CompletedProcess:
    # As SageMaker starts the container: `<entrypoint> train`.
    return subprocess.run(
        [sys.executable, str(SCRIPT), "train"], env={"SM_ROOT": str(root), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=120
    )


def test_it_trains_writes_the_model_and_prints_metrics_the_pipeline_regexes_match(tmp_path):
    root = sagemaker_layout(tmp_path, EXAMPLE_HYPERPARAMETERS)
    write_csv(root / "input" / "data" / "train" / "part-0.csv", 300, seed=1)
    write_csv(root / "input" / "data" / "train" / "more" / "part-1.csv", 100, seed=2)
    write_csv(root / "input" / "data" / "validation" / "part-0.csv", 200, seed=3)

    result = run(root)

    assert result.returncode == 0, result.stderr
    model = json.loads((root / "model" / "model.json").read_text())
    assert model["kind"] == "ridge-regression" and model["target"] == "churn" and model["rows"] == 400
    assert set(model["coefficients"]) == {"tenure", "monthly_charges", "support_calls"}
    # The generated labels rise with charges and calls and fall with tenure: the fit must find those signs.
    assert model["coefficients"]["tenure"] < 0 < model["coefficients"]["support_calls"]
    assert model["coefficients"]["monthly_charges"] > 0
    assert not (root / "output" / "failure").exists()
    values = {}
    for name, regex in EXAMPLE_METRIC_DEFINITIONS.items():
        match = re.search(regex, result.stdout)
        assert match, f"{name}: {regex!r} found nothing in {result.stdout!r}"
        values[name] = float(match.group(1))
    assert re.search(r"^validation:rmse=\d+\.\d{6}$", result.stdout, re.MULTILINE)
    assert 0 < values["validation:rmse"] < 0.5
    assert values["validation:accuracy"] > 0.8


def test_hyperparameters_change_the_model(tmp_path):
    results = {}
    for l2 in ("0.0", "1000.0"):
        root = sagemaker_layout(tmp_path / l2, {**EXAMPLE_HYPERPARAMETERS, "l2": l2})
        write_csv(root / "input" / "data" / "train" / "train.csv", 200, seed=4)
        assert run(root).returncode == 0
        results[l2] = json.loads((root / "model" / "model.json").read_text())["coefficients"]["support_calls"]
    assert abs(results["1000.0"]) < abs(results["0.0"])  # ridge shrinks the coefficients


@pytest.mark.parametrize(
    ("hyperparameters", "columns", "reason"),
    [
        (EXAMPLE_HYPERPARAMETERS, ["tenure", "monthly_charges", "support_calls", "label"], "label column 'churn' not in"),
        ({**EXAMPLE_HYPERPARAMETERS, "epochs": "3"}, COLUMNS, "unknown hyperparameters ['epochs']"),
        ({**EXAMPLE_HYPERPARAMETERS, "l2": "-1"}, COLUMNS, "l2 must be a number >= 0"),
    ],
)
def test_failures_are_reported_the_sagemaker_way(tmp_path, hyperparameters, columns, reason):
    root = sagemaker_layout(tmp_path, hyperparameters)
    write_csv(root / "input" / "data" / "train" / "train.csv", 50, seed=5, columns=columns)

    result = run(root)

    assert result.returncode == 1
    assert reason in (root / "output" / "failure").read_text()
    assert reason in result.stderr
    assert not (root / "model" / "model.json").exists()


def test_a_missing_train_channel_fails(tmp_path):
    root = sagemaker_layout(tmp_path, EXAMPLE_HYPERPARAMETERS)
    result = run(root)
    assert result.returncode == 1
    assert "the 'train' channel is missing" in (root / "output" / "failure").read_text()


def test_the_image_runs_the_script_as_a_non_root_user():
    dockerfile = (EXAMPLE_IMAGE_DIRECTORY / "Dockerfile").read_text()
    instructions = [line.split(None, 1) for line in dockerfile.splitlines() if line and not line.startswith(("#", " "))]
    users = [args.strip() for keyword, *rest in instructions if keyword == "USER" for args in rest]
    assert users and users[-1] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["python3", "/opt/program/train.py"\]$', dockerfile, re.MULTILINE)
    assert re.search(r"^FROM \S+python:3\.\d+-slim$", dockerfile, re.MULTILINE)
