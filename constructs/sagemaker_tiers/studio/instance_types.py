"""The instance types SageMaker Studio apps (JupyterLab, Code Editor, spaces) run on, and the default allowlist.

:data:`STUDIO_APP_INSTANCE_TYPES` is SageMaker's ``AppInstanceType`` enum from botocore's service model (see
:mod:`sagemaker_tiers.studio.service_model`), the values ``CreateApp`` and ``CreateSpace`` accept. An allowed or
default type must also be one CloudFormation's schema accepts (``DefaultResourceSpec`` is a CloudFormation
property); what Studio hides is every API type outside the allowlist that CloudFormation accepts.
"""

from __future__ import annotations

from collections.abc import Sequence

from sagemaker_tiers.core.validation import ValidationError, require_unique
from sagemaker_tiers.studio.service_model import APP_INSTANCE_TYPES, CLOUDFORMATION_LAGS_INSTANCE_TYPES

#: Every Studio app instance type of SageMaker's API (``AppInstanceType`` without ``system``).
STUDIO_APP_INSTANCE_TYPES: tuple[str, ...] = APP_INSTANCE_TYPES

#: Cheap general-purpose types plus one small GPU: what users may pick unless configured otherwise.
DEFAULT_ALLOWED_INSTANCE_TYPES: tuple[str, ...] = (
    "ml.t3.medium",
    "ml.t3.large",
    "ml.m5.large",
    "ml.m5.xlarge",
    "ml.m5.2xlarge",
    "ml.g4dn.xlarge",
)

#: The JupyterLab / Code Editor instance type a new space starts on.
DEFAULT_INSTANCE_TYPE = "ml.t3.medium"


def validate_allowed_instance_types(prop: str, types: Sequence[str]) -> tuple[str, ...]:
    """Fail unless ``types`` is a non-empty list of distinct Studio app instance types; return it as a tuple."""
    if isinstance(types, str) or not isinstance(types, Sequence) or not types:
        raise ValidationError(f"{prop} must be a non-empty list of Studio app instance types such as 'ml.t3.medium', got {types!r}")
    for instance_type in types:
        if instance_type not in STUDIO_APP_INSTANCE_TYPES:
            raise ValidationError(
                f"{prop} must only name Studio app instance types (see sagemaker_tiers.studio.STUDIO_APP_INSTANCE_TYPES, "
                f"e.g. 'ml.t3.medium', 'ml.m5.xlarge'), got {instance_type!r}"
            )
        if instance_type in CLOUDFORMATION_LAGS_INSTANCE_TYPES:
            raise ValidationError(
                f"{prop} must only name Studio app instance types CloudFormation accepts (not yet those in "
                f"sagemaker_tiers.studio.service_model.CLOUDFORMATION_LAGS_INSTANCE_TYPES), got {instance_type!r}"
            )
    require_unique(prop, list(types))
    return tuple(types)


def hidden_instance_types(allowed: Sequence[str]) -> list[str]:
    """Every Studio app instance type that is not allowed and that CloudFormation accepts: what the Studio UI hides."""
    return [t for t in STUDIO_APP_INSTANCE_TYPES if t not in allowed and t not in CLOUDFORMATION_LAGS_INSTANCE_TYPES]
