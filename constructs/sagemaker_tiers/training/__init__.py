"""Training Job tier: your Docker image trained on SageMaker by a Step Functions pipeline, registered for approval."""

from sagemaker_tiers.training.example import (
    EXAMPLE_HYPERPARAMETERS,
    EXAMPLE_IMAGE_DIRECTORY,
    EXAMPLE_METRIC_DEFINITIONS,
)
from sagemaker_tiers.training.image_labels import SERVES_LABEL, dockerfile_serves
from sagemaker_tiers.training.instance_types import (
    INSTANCE_STORAGE_FAMILIES,
    TRAINING_INSTANCE_TYPES,
    has_instance_storage,
)
from sagemaker_tiers.training.training_pipeline import (
    INVALID_INPUT_ERROR,
    RUN_INPUT_KEYS,
    TrainingChannel,
    TrainingPipeline,
)

__all__ = [
    "EXAMPLE_HYPERPARAMETERS",
    "EXAMPLE_IMAGE_DIRECTORY",
    "EXAMPLE_METRIC_DEFINITIONS",
    "INSTANCE_STORAGE_FAMILIES",
    "INVALID_INPUT_ERROR",
    "RUN_INPUT_KEYS",
    "SERVES_LABEL",
    "TRAINING_INSTANCE_TYPES",
    "TrainingChannel",
    "TrainingPipeline",
    "dockerfile_serves",
    "has_instance_storage",
]
