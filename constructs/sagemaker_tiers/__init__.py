"""sagemaker-tiers: AWS CDK constructs for every tier of model training on Amazon SageMaker."""

from sagemaker_tiers.core import ValidationError, acknowledge, add_gates
from sagemaker_tiers.foundation import MlBucket, MlEncryptionKey, SageMakerNetwork
from sagemaker_tiers.registry import ApprovalWorkflow, IModelPackageGroup, ModelPackageGroup

__version__ = "0.1.0"

__all__ = [
    "ApprovalWorkflow",
    "IModelPackageGroup",
    "MlBucket",
    "MlEncryptionKey",
    "ModelPackageGroup",
    "SageMakerNetwork",
    "ValidationError",
    "__version__",
    "acknowledge",
    "add_gates",
]
