"""JumpStart as code: curated pretrained models used as they are or fine-tuned, sent through the approval workflow.

* :class:`JumpStartModelVersion` registers an allowlisted model as it is (hosting image, artifacts and supported
  instance types from its hub content document), pending approval.
"""

from sagemaker_tiers.jumpstart._hub_content import (
    EULA_NOT_ACCEPTED,
    NOT_SERVABLE,
    TRAINING_NOT_SUPPORTED,
    UNKNOWN_HYPERPARAMETER,
)
from sagemaker_tiers.jumpstart.model_version import JumpStartModelVersion

__all__ = [
    "EULA_NOT_ACCEPTED",
    "JumpStartModelVersion",
    "NOT_SERVABLE",
    "TRAINING_NOT_SUPPORTED",
    "UNKNOWN_HYPERPARAMETER",
]
