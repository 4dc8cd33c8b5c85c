"""The foundation stack: the encryption key, ML bucket and network every tier stack takes from it."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack, Tags
from constructs import Construct

from sagemaker_tiers.core import defaults
from sagemaker_tiers.foundation import MlBucket, MlEncryptionKey, SageMakerNetwork
from stacks.config import AppConfig


class FoundationStack(Stack):
    """Deploys :class:`MlEncryptionKey`, :class:`MlBucket` and :class:`SageMakerNetwork` from :class:`AppConfig`."""

    def __init__(self, scope: Construct, id: str, *, config: AppConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, description="sagemaker-tiers foundation: KMS key, ML bucket, network", **kwargs)
        Tags.of(self).add(defaults.TIER_TAG_KEY, "foundation")
        self.key = MlEncryptionKey(self, "Key", description=f"{config.project_name} data key")
        self.bucket = MlBucket(
            self,
            "MlBucket",
            encryption_key=self.key,
            noncurrent_version_expiration=Duration.days(config.noncurrent_version_expiration_days),
            event_bridge_enabled=True,  # pipelines start on new data under a prefix
        )
        self.network = SageMakerNetwork(
            self,
            "Network",
            encryption_key=self.key,
            egress=config.network_egress,  # type: ignore[arg-type]
            cidr=config.vpc_cidr,
            max_azs=config.max_azs,
            nat_gateways=config.nat_gateways,
        )
