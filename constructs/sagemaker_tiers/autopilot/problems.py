"""Typed Autopilot (AutoML V2) problem configurations, rendered as ``CreateAutoMLJobV2`` request fragments.

Each problem class validates itself when it is created (a bad value fails at synth with the field, the value and
what is allowed) and renders the ``AutoMLProblemTypeConfig`` member and the ``AutoMLJobObjective`` of the request.
The rules come from the SageMaker API reference (``CreateAutoMLJobV2``, ``AutoMLAlgorithmConfig``,
``AutoMLJobObjective``, ``AutoMLJobCompletionCriteria``).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aws_cdk import Duration

from sagemaker_tiers.core.validation import (
    ValidationError,
    require_duration,
    require_int_in_range,
    require_match,
    require_one_of,
    require_unique,
)


class DatasetFormat(str, enum.Enum):
    """Content type of the dataset channels (``AutoMLJobChannel.ContentType``)."""

    CSV = "text/csv;header=present"
    PARQUET = "x-application/vnd.amazon+parquet"
    #: Image classification only.
    IMAGES = "image/*"
    IMAGES_PNG = "image/png"
    IMAGES_JPEG = "image/jpeg"


TABULAR_FORMATS = (DatasetFormat.CSV, DatasetFormat.PARQUET)
IMAGE_FORMATS = (DatasetFormat.IMAGES, DatasetFormat.IMAGES_PNG, DatasetFormat.IMAGES_JPEG)


class TabularProblemType(str, enum.Enum):
    """``TabularJobConfig.ProblemType``."""

    REGRESSION = "Regression"
    BINARY_CLASSIFICATION = "BinaryClassification"
    MULTICLASS_CLASSIFICATION = "MulticlassClassification"


class AutoMLMode(str, enum.Enum):
    """``TabularJobConfig.Mode``: AUTO picks ENSEMBLING below 100 MB of data, HYPERPARAMETER_TUNING above.

    ENSEMBLING candidates are one inference container; HYPERPARAMETER_TUNING candidates are inference pipelines of
    two (regression) or three (classification) containers
    (https://docs.aws.amazon.com/sagemaker/latest/dg/autopilot-automate-model-development-container-output.html),
    which serverless endpoints cannot host. :data:`SINGLE_CONTAINER_MODES` lists the modes whose candidates any
    endpoint can host.
    """

    AUTO = "AUTO"
    ENSEMBLING = "ENSEMBLING"
    HYPERPARAMETER_TUNING = "HYPERPARAMETER_TUNING"


class AutoMLAlgorithm(str, enum.Enum):
    """``AutoMLAlgorithm`` values (``CandidateGenerationConfig.AlgorithmsConfig``)."""

    XGBOOST = "xgboost"
    LINEAR_LEARNER = "linear-learner"
    MLP = "mlp"
    LIGHTGBM = "lightgbm"
    CATBOOST = "catboost"
    RANDOMFOREST = "randomforest"
    EXTRA_TREES = "extra-trees"
    NN_TORCH = "nn-torch"
    FASTAI = "fastai"
    CNN_QR = "cnn-qr"
    DEEPAR = "deepar"
    PROPHET = "prophet"
    NPTS = "npts"
    ARIMA = "arima"
    ETS = "ets"


#: Tabular modes whose candidates are a single inference container (fit a serverless endpoint).
SINGLE_CONTAINER_MODES = (AutoMLMode.ENSEMBLING,)

#: Algorithms each tabular mode accepts (API reference, ``AutoMLAlgorithmConfig``). AUTO accepts no list.
TABULAR_ALGORITHMS: dict[AutoMLMode, tuple[str, ...]] = {
    AutoMLMode.ENSEMBLING: (
        "catboost", "extra-trees", "fastai", "lightgbm", "linear-learner", "nn-torch", "randomforest", "xgboost",
    ),
    AutoMLMode.HYPERPARAMETER_TUNING: ("linear-learner", "mlp", "xgboost"),
}
TIME_SERIES_ALGORITHMS: tuple[str, ...] = ("cnn-qr", "deepar", "prophet", "arima", "npts", "ets")

#: Objective metrics each tabular problem type accepts, and the default (first) one.
TABULAR_METRICS: dict[TabularProblemType, tuple[str, ...]] = {
    TabularProblemType.REGRESSION: ("MSE", "MAE", "R2", "RMSE"),
    TabularProblemType.BINARY_CLASSIFICATION: ("F1", "Accuracy", "AUC", "BalancedAccuracy", "Precision", "Recall"),
    TabularProblemType.MULTICLASS_CLASSIFICATION: ("Accuracy", "BalancedAccuracy", "F1macro", "PrecisionMacro", "RecallMacro"),
}
TIME_SERIES_METRICS: tuple[str, ...] = ("AverageWeightedQuantileLoss", "RMSE", "MASE", "MAPE", "WAPE")
CLASSIFICATION_METRICS: tuple[str, ...] = ("Accuracy",)

#: Whether a higher value of the objective metric is better (the leaderboard's ranking direction).
MAXIMIZED_METRICS = frozenset(
    {"Accuracy", "AUC", "BalancedAccuracy", "F1", "F1macro", "Precision", "PrecisionMacro", "R2", "Recall", "RecallMacro"}
)

_COLUMN = r"[^\x00-\x1f]{1,256}"
_COLUMN_RULE = "a column name of 1-256 printable characters"
_FREQUENCY = r"1Y|Y|([1-9]|1[0-1])M|M|[1-4]W|W|[1-6]D|D|([1-9]|1[0-9]|2[0-3])H|H|([1-9]|[1-5][0-9])min"
_FREQUENCY_RULE = (
    "a forecast frequency such as 'D', '1H', '15min', '2W', '3M' or 'Y' (1Y|Y, 1-11M|M, 1-4W|W, 1-6D|D, 1-23H|H, "
    "1-59min)"
)
#: The most candidates a tabular job may train (API maximum).
MAX_TABULAR_CANDIDATES = 750
#: Autopilot's longest forecast horizon (the lesser of 500 steps and a quarter of the series).
MAX_FORECAST_HORIZON = 500


def objective_direction(metric: str) -> str:
    """``"Maximize"`` or ``"Minimize"``: how candidates are ranked for ``metric``."""
    return "Maximize" if metric in MAXIMIZED_METRICS else "Minimize"


def _metric(prop: str, metric: str | None, allowed: Sequence[str], what: str) -> str:
    if metric is None:
        return allowed[0]
    if metric not in allowed:
        raise ValidationError(f"{prop} for {what} must be one of {', '.join(map(repr, allowed))}, got {metric!r}")
    return metric


def _algorithms(prop: str, algorithms: Sequence[AutoMLAlgorithm | str], allowed: Sequence[str], what: str) -> tuple[str, ...]:
    if isinstance(algorithms, str):
        raise ValidationError(f"{prop} must be a list of algorithms, got the string {algorithms!r}")
    values = tuple(a.value if isinstance(a, AutoMLAlgorithm) else a for a in algorithms)
    for value in values:
        if value not in allowed:
            raise ValidationError(f"{prop} for {what} must only name {', '.join(map(repr, allowed))}, got {value!r}")
    require_unique(prop, values)
    return values


def _enum(prop: str, value: Any, enum_cls: type[enum.Enum]) -> Any:
    allowed = [member.value for member in enum_cls]
    raw = value.value if isinstance(value, enum_cls) else value
    require_one_of(prop, raw, allowed)
    return enum_cls(raw)


class AutopilotProblem:
    """Base of the problem configurations: one of :class:`TabularProblem`, :class:`TimeSeriesForecastingProblem`,
    :class:`TextClassificationProblem` or :class:`ImageClassificationProblem`."""

    #: ``AutoMLProblemTypeConfig`` member this problem renders.
    config_name: ClassVar[str]
    #: Dataset formats the problem accepts.
    formats: ClassVar[tuple[DatasetFormat, ...]] = TABULAR_FORMATS
    #: Whether a validation channel or a validation fraction may be given.
    accepts_validation_data: ClassVar[bool] = True
    #: Whether more than one candidate may be trained.
    multiple_candidates: ClassVar[bool] = False

    @property
    def objective(self) -> str:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def render(self, completion: dict[str, int]) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class TabularProblem(AutopilotProblem):
    """Regression, binary or multiclass classification of one column of a CSV or Parquet table.

    Example::

        TabularProblem(target_column="churn", problem_type=TabularProblemType.BINARY_CLASSIFICATION,
                       objective_metric="AUC", mode=AutoMLMode.ENSEMBLING,
                       algorithms=[AutoMLAlgorithm.XGBOOST, AutoMLAlgorithm.LIGHTGBM])

    :param target_column: Column to predict.
    :param problem_type: Regression, binary or multiclass classification.
    :param objective_metric: Regression: MSE (default), MAE, R2, RMSE. Binary: F1 (default), Accuracy, AUC,
        BalancedAccuracy, Precision, Recall. Multiclass: Accuracy (default), BalancedAccuracy, F1macro,
        PrecisionMacro, RecallMacro.
    :param mode: AUTO (default), ENSEMBLING or HYPERPARAMETER_TUNING.
    :param algorithms: Restrict the candidates to these algorithms. ENSEMBLING: catboost, extra-trees, fastai,
        lightgbm, linear-learner, nn-torch, randomforest, xgboost. HYPERPARAMETER_TUNING: linear-learner, mlp,
        xgboost. Not allowed in AUTO mode. Default: every algorithm of the mode.
    :param sample_weight_column: Column of per-row weights, with mode ENSEMBLING only (SageMaker supports sample
        weights in Ensembling mode only). Default: none.
    """

    target_column: str
    problem_type: TabularProblemType | str
    objective_metric: str | None = None
    mode: AutoMLMode | str = AutoMLMode.AUTO
    algorithms: Sequence[AutoMLAlgorithm | str] = ()
    sample_weight_column: str | None = None

    config_name: ClassVar[str] = "TabularJobConfig"
    multiple_candidates: ClassVar[bool] = True

    def __post_init__(self) -> None:
        require_match("problem.target_column", self.target_column, _COLUMN, _COLUMN_RULE)
        problem_type = _enum("problem.problem_type", self.problem_type, TabularProblemType)
        mode = _enum("problem.mode", self.mode, AutoMLMode)
        object.__setattr__(self, "problem_type", problem_type)
        object.__setattr__(self, "mode", mode)
        object.__setattr__(
            self,
            "objective_metric",
            _metric("problem.objective_metric", self.objective_metric, TABULAR_METRICS[problem_type], problem_type.value),
        )
        if self.algorithms and mode is AutoMLMode.AUTO:
            raise ValidationError(
                "problem.algorithms can only be restricted with mode ENSEMBLING or HYPERPARAMETER_TUNING (Autopilot "
                f"rejects AlgorithmsConfig in AUTO mode), got {list(self.algorithms)!r} with mode 'AUTO'"
            )
        allowed = TABULAR_ALGORITHMS.get(mode, ())
        object.__setattr__(
            self, "algorithms", _algorithms("problem.algorithms", self.algorithms, allowed, f"mode {mode.value!r}")
        )
        if self.sample_weight_column is not None:
            require_match(
                "problem.sample_weight_column", self.sample_weight_column, r"[a-zA-Z0-9_-]{1,256}",
                "1-256 letters, digits, '_' or '-'",
            )
            # "Support for sample weights is available in Ensembling mode only."
            # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TabularJobConfig.html)
            if mode is not AutoMLMode.ENSEMBLING:
                raise ValidationError(
                    f"problem.sample_weight_column needs mode {AutoMLMode.ENSEMBLING.value!r} (SageMaker supports sample "
                    f"weights in Ensembling mode only), got sample_weight_column={self.sample_weight_column!r} with "
                    f"mode {mode.value!r}"
                )

    @property
    def objective(self) -> str:
        return str(self.objective_metric)

    def render(self, completion: dict[str, int]) -> dict[str, Any]:
        config: dict[str, Any] = {
            "TargetAttributeName": self.target_column,
            # ProblemType and CompletionCriteria are always rendered: the API takes ProblemType together with the
            # objective, and moto's CreateAutoMLJobV2 requires both.
            "ProblemType": self.problem_type.value,  # type: ignore[union-attr]
            "Mode": self.mode.value,  # type: ignore[attr-defined]
            "CompletionCriteria": completion,
        }
        if self.algorithms:
            config["CandidateGenerationConfig"] = {"AlgorithmsConfig": [{"AutoMLAlgorithms": list(self.algorithms)}]}
        if self.sample_weight_column:
            config["SampleWeightAttributeName"] = self.sample_weight_column
        return {self.config_name: config}


@dataclass(frozen=True)
class TimeSeriesForecastingProblem(AutopilotProblem):
    """Forecast ``target_column`` per item ``forecast_horizon`` steps ahead (CSV or Parquet).

    :param target_column: Column to forecast.
    :param timestamp_column: Column with the timestamps.
    :param item_id_column: Column identifying each time series.
    :param forecast_frequency: Step of the forecast: 'D', '1H', '15min', '2W', '3M', 'Y', ...
    :param forecast_horizon: Steps to forecast, 1-500 (and at most a quarter of the series). Required.
    :param forecast_quantiles: Up to five quantiles 'p1'..'p99'. Default: p10, p50, p90 (Autopilot's default).
    :param grouping_columns: Up to five columns that group the items. Default: none.
    :param holiday_country_code: Two-letter country code of a holiday calendar to add as features. Default: none.
    :param objective_metric: AverageWeightedQuantileLoss (default), RMSE, MASE, MAPE or WAPE.
    :param algorithms: Restrict to cnn-qr, deepar, prophet, arima, npts, ets. Default: all of them.
    """

    target_column: str
    timestamp_column: str
    item_id_column: str
    forecast_frequency: str
    forecast_horizon: int | None = None
    forecast_quantiles: Sequence[str] = ()
    grouping_columns: Sequence[str] = ()
    holiday_country_code: str | None = None
    objective_metric: str | None = None
    algorithms: Sequence[AutoMLAlgorithm | str] = ()

    config_name: ClassVar[str] = "TimeSeriesForecastingJobConfig"
    accepts_validation_data: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for name in ("target_column", "timestamp_column", "item_id_column"):
            require_match(f"problem.{name}", getattr(self, name), _COLUMN, _COLUMN_RULE)
        require_match("problem.forecast_frequency", self.forecast_frequency, _FREQUENCY, _FREQUENCY_RULE)
        if self.forecast_horizon is None:
            raise ValidationError(
                "problem.forecast_horizon is required for time-series forecasting (the number of steps to predict, "
                f"1-{MAX_FORECAST_HORIZON}), got None"
            )
        require_int_in_range("problem.forecast_horizon", self.forecast_horizon, minimum=1, maximum=MAX_FORECAST_HORIZON)
        for name, values, most in (("forecast_quantiles", self.forecast_quantiles, 5), ("grouping_columns", self.grouping_columns, 5)):
            if isinstance(values, str) or len(values) > most:
                raise ValidationError(f"problem.{name} must be a list of at most {most} values, got {values!r}")
            require_unique(f"problem.{name}", list(values))
        for quantile in self.forecast_quantiles:
            require_match("problem.forecast_quantiles", quantile, r"p[1-9]\d?", "a list of quantiles 'p1' to 'p99'")
        for column in self.grouping_columns:
            require_match("problem.grouping_columns", column, _COLUMN, "a list of " + _COLUMN_RULE + "s")
        if self.holiday_country_code is not None:
            require_match("problem.holiday_country_code", self.holiday_country_code, r"[A-Z]{2}", "a two-letter upper-case country code such as 'US'")
        object.__setattr__(
            self, "objective_metric",
            _metric("problem.objective_metric", self.objective_metric, TIME_SERIES_METRICS, "time-series forecasting"),
        )
        object.__setattr__(
            self, "algorithms",
            _algorithms("problem.algorithms", self.algorithms, TIME_SERIES_ALGORITHMS, "time-series forecasting"),
        )

    @property
    def objective(self) -> str:
        return str(self.objective_metric)

    def render(self, completion: dict[str, int]) -> dict[str, Any]:
        series: dict[str, Any] = {
            "TargetAttributeName": self.target_column,
            "TimestampAttributeName": self.timestamp_column,
            "ItemIdentifierAttributeName": self.item_id_column,
        }
        if self.grouping_columns:
            series["GroupingAttributeNames"] = list(self.grouping_columns)
        config: dict[str, Any] = {
            "ForecastFrequency": self.forecast_frequency,
            "ForecastHorizon": self.forecast_horizon,
            "TimeSeriesConfig": series,
            "CompletionCriteria": completion,
        }
        if self.forecast_quantiles:
            config["ForecastQuantiles"] = list(self.forecast_quantiles)
        if self.holiday_country_code:
            config["HolidayConfig"] = [{"CountryCode": self.holiday_country_code}]
        if self.algorithms:
            config["CandidateGenerationConfig"] = {"AlgorithmsConfig": [{"AutoMLAlgorithms": list(self.algorithms)}]}
        return {self.config_name: config}


@dataclass(frozen=True)
class TextClassificationProblem(AutopilotProblem):
    """Classify the text in ``content_column`` into the labels of ``target_label_column`` (CSV or Parquet).

    The objective is Accuracy and Autopilot trains one candidate (fine-tuned language model).
    """

    content_column: str
    target_label_column: str

    config_name: ClassVar[str] = "TextClassificationJobConfig"

    def __post_init__(self) -> None:
        require_match("problem.content_column", self.content_column, _COLUMN, _COLUMN_RULE)
        require_match("problem.target_label_column", self.target_label_column, _COLUMN, _COLUMN_RULE)

    @property
    def objective(self) -> str:
        return "Accuracy"

    def render(self, completion: dict[str, int]) -> dict[str, Any]:
        return {
            self.config_name: {
                "ContentColumn": self.content_column,
                "TargetLabelColumn": self.target_label_column,
                "CompletionCriteria": completion,
            }
        }


@dataclass(frozen=True)
class ImageClassificationProblem(AutopilotProblem):
    """Classify images (one folder per label under the dataset prefix). Objective: Accuracy; one candidate."""

    config_name: ClassVar[str] = "ImageClassificationJobConfig"
    formats: ClassVar[tuple[DatasetFormat, ...]] = IMAGE_FORMATS

    @property
    def objective(self) -> str:
        return "Accuracy"

    def render(self, completion: dict[str, int]) -> dict[str, Any]:
        return {self.config_name: {"CompletionCriteria": completion}}


@dataclass(frozen=True)
class CompletionCriteria:
    """When Autopilot stops training candidates (``AutoMLJobCompletionCriteria``).

    :param max_candidates: Most candidates to train: 1-750 for tabular problems, only 1 for the others.
        Default: Autopilot's (250 for tabular).
    :param max_runtime_per_candidate: Longest run of one candidate, whole seconds, at most ``max_total_runtime``.
        Default: Autopilot's.
    :param max_total_runtime: Longest run of the whole job, whole seconds, 1 second to 30 days; Autopilot stops the
        job then and keeps the best candidate so far. Default: 6 hours. It also bounds the cost of a run.
    """

    max_candidates: int | None = None
    max_runtime_per_candidate: Duration | None = None
    max_total_runtime: Duration = field(default_factory=lambda: Duration.hours(6))

    def __post_init__(self) -> None:
        if self.max_candidates is not None:
            require_int_in_range("completion_criteria.max_candidates", self.max_candidates, minimum=1, maximum=MAX_TABULAR_CANDIDATES)
        require_duration(
            "completion_criteria.max_total_runtime", self.max_total_runtime, minimum=Duration.seconds(1), maximum=Duration.days(30)
        )
        _whole_seconds("completion_criteria.max_total_runtime", self.max_total_runtime)
        if self.max_runtime_per_candidate is not None:
            require_duration(
                "completion_criteria.max_runtime_per_candidate",
                self.max_runtime_per_candidate,
                minimum=Duration.seconds(1),
                maximum=self.max_total_runtime,
            )
            _whole_seconds("completion_criteria.max_runtime_per_candidate", self.max_runtime_per_candidate)

    def render(self) -> dict[str, int]:
        rendered = {"MaxAutoMLJobRuntimeInSeconds": int(self.max_total_runtime.to_seconds())}
        if self.max_candidates is not None:
            rendered["MaxCandidates"] = self.max_candidates
        if self.max_runtime_per_candidate is not None:
            rendered["MaxRuntimePerTrainingJobInSeconds"] = int(self.max_runtime_per_candidate.to_seconds())
        return rendered


def _whole_seconds(prop: str, value: Duration) -> None:
    seconds = value.to_seconds()
    if not math.isclose(seconds, round(seconds)):
        raise ValidationError(f"{prop} must be a whole number of seconds, got {value.to_human_string()}")
