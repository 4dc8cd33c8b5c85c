"""Shared defaults, validation helpers, the cdk-nag acknowledgment helper and the gates."""

from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.gates import add_gates
from sagemaker_tiers.core.nag import acknowledge
from sagemaker_tiers.core.validation import ValidationError

__all__ = ["ValidationError", "acknowledge", "add_gates", "defaults"]
