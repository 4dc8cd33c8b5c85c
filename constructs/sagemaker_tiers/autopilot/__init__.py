"""Autopilot tier: AutoML V2 jobs run, polled, ranked and registered by a Step Functions workflow."""

from sagemaker_tiers.autopilot.autopilot_job import AutopilotJob
from sagemaker_tiers.autopilot.problems import (
    AutoMLAlgorithm,
    AutoMLMode,
    AutopilotProblem,
    CompletionCriteria,
    DatasetFormat,
    ImageClassificationProblem,
    TabularProblem,
    TabularProblemType,
    TextClassificationProblem,
    TimeSeriesForecastingProblem,
)

__all__ = [
    "AutoMLAlgorithm",
    "AutoMLMode",
    "AutopilotJob",
    "AutopilotProblem",
    "CompletionCriteria",
    "DatasetFormat",
    "ImageClassificationProblem",
    "TabularProblem",
    "TabularProblemType",
    "TextClassificationProblem",
    "TimeSeriesForecastingProblem",
]
