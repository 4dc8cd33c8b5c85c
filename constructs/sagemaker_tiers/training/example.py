"""The example training image shipped with the tier: where it is, its hyperparameters and its metric regexes.

``example_image/train.py`` prints ``<name>=<value>`` lines; :data:`EXAMPLE_METRIC_DEFINITIONS` are the regexes
SageMaker applies to the job's log to record them (a test runs the script and applies them to its output).
"""

from __future__ import annotations

from pathlib import Path

#: Folder of the example training image (Dockerfile + train.py).
EXAMPLE_IMAGE_DIRECTORY = Path(__file__).parent / "example_image"

#: The script's hyperparameters and their defaults (SageMaker passes every value as a string).
EXAMPLE_HYPERPARAMETERS: dict[str, str] = {"target": "churn", "l2": "1.0", "threshold": "0.5"}

_NUMBER = r"([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"

#: Metric name -> regex with one capture group, for TrainingPipeline(metric_definitions=...).
EXAMPLE_METRIC_DEFINITIONS: dict[str, str] = {
    name: rf"{name}={_NUMBER}"
    for name in ("train:rmse", "train:accuracy", "validation:rmse", "validation:accuracy")
}
