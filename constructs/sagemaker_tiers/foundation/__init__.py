"""The secure base every tier reuses: encryption key, ML bucket, network."""

from sagemaker_tiers.foundation.encryption_key import MlEncryptionKey
from sagemaker_tiers.foundation.ml_bucket import MlBucket
from sagemaker_tiers.foundation.network import SAGEMAKER_INTERFACE_ENDPOINTS, SageMakerNetwork

__all__ = ["MlBucket", "MlEncryptionKey", "SAGEMAKER_INTERFACE_ENDPOINTS", "SageMakerNetwork"]
