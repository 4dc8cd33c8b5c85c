"""sagemaker-tiers: AWS CDK constructs for every tier of model training on Amazon SageMaker.

The exports load on first use (PEP 562), so ``sagemaker_tiers.cli`` starts without importing aws_cdk.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagemaker_tiers.core import ValidationError, acknowledge, add_gates
    from sagemaker_tiers.foundation import MlBucket, MlEncryptionKey, SageMakerNetwork
    from sagemaker_tiers.operations import OperatorPolicy
    from sagemaker_tiers.registry import ApprovalWorkflow, IModelPackageGroup, ModelPackageGroup

__version__ = "0.1.0"

_EXPORTS = {
    "ApprovalWorkflow": "sagemaker_tiers.registry",
    "IModelPackageGroup": "sagemaker_tiers.registry",
    "MlBucket": "sagemaker_tiers.foundation",
    "MlEncryptionKey": "sagemaker_tiers.foundation",
    "ModelPackageGroup": "sagemaker_tiers.registry",
    "OperatorPolicy": "sagemaker_tiers.operations",
    "SageMakerNetwork": "sagemaker_tiers.foundation",
    "ValidationError": "sagemaker_tiers.core",
    "acknowledge": "sagemaker_tiers.core",
    "add_gates": "sagemaker_tiers.core",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sagemaker_tiers' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
