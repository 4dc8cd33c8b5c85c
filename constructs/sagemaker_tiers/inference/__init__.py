"""Inference tier: keep a SageMaker endpoint on the approved model of a model package group."""

from sagemaker_tiers.inference.approved_model_endpoint import (
    SERVERLESS_MEMORY_SIZES,
    TRAFFIC_SHIFTS,
    VARIANT_NAME,
    ApprovedModelEndpoint,
)
from sagemaker_tiers.inference.instance_types import REALTIME_INSTANCE_TYPES

__all__ = ["REALTIME_INSTANCE_TYPES", "SERVERLESS_MEMORY_SIZES", "TRAFFIC_SHIFTS", "VARIANT_NAME", "ApprovedModelEndpoint"]
