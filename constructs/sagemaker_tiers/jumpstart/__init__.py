"""JumpStart as code: curated pretrained models used as they are or fine-tuned, sent through the approval workflow.

* :class:`JumpStartModelVersion` registers an allowlisted model as it is (hosting image, artifacts and supported
  instance types from its hub content document), pending approval.
* :class:`JumpStartFineTuning` fine-tunes one on a dataset of the ML bucket (training image, script, base artifacts
  and default hyperparameters from the document) and registers the result, pending approval.
"""

from sagemaker_tiers.jumpstart._hub_content import (
    EULA_NOT_ACCEPTED,
    INSTANCE_TYPE_NOT_SUPPORTED,
    ISOLATION_NOT_SUPPORTED,
    NOT_SERVABLE,
    TRAINING_NOT_SUPPORTED,
    UNKNOWN_HYPERPARAMETER,
)
from sagemaker_tiers.jumpstart.fine_tuning import JumpStartFineTuning
from sagemaker_tiers.jumpstart.model_version import JumpStartModelVersion

__all__ = [
    "EULA_NOT_ACCEPTED",
    "INSTANCE_TYPE_NOT_SUPPORTED",
    "ISOLATION_NOT_SUPPORTED",
    "JumpStartFineTuning",
    "JumpStartModelVersion",
    "NOT_SERVABLE",
    "TRAINING_NOT_SUPPORTED",
    "UNKNOWN_HYPERPARAMETER",
]
