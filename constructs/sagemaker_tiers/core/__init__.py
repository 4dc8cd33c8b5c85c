"""Shared defaults, validation helpers and the cdk-nag acknowledgment helper."""

from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.nag import acknowledge
from sagemaker_tiers.core.validation import ValidationError

__all__ = ["ValidationError", "acknowledge", "defaults"]
