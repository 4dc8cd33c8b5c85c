"""CDK feature flags the library relies on, checked where a construct depends on one.

A new ``cdk init`` app sets every current flag in its ``cdk.json``; an older app may not. A construct whose
template would silently change without a flag fails at synth naming it (:func:`require_flag`); where the flag
only changes how far a limit is (policy sizes), the construct warns, as CDK itself does (:func:`warn_unless_flag`).
"""

from __future__ import annotations

from aws_cdk import Annotations, FeatureFlags
from constructs import Construct

from sagemaker_tiers.core.validation import ValidationError

#: S3 server access logs are granted to the logging service by bucket policy; without it CDK grants them by ACL
#: (``LogDeliveryWrite``), which needs ``ObjectWriter`` ownership instead of ``BucketOwnerEnforced``.
S3_LOGS_BY_BUCKET_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"
#: Statements of a role's policies are merged; without it, policies grow faster with every group and reach IAM's
#: size and managed-policy limits with fewer groups.
IAM_MINIMIZE_POLICIES = "@aws-cdk/aws-iam:minimizePolicies"


def require_flag(scope: Construct, flag: str, construct: str, without: str) -> None:
    """Fail unless ``flag`` is on for ``scope``, saying what ``construct`` would do ``without`` it."""
    if not FeatureFlags.of(scope).is_enabled(flag):
        got = scope.node.try_get_context(flag)
        raise ValidationError(
            f"{construct} needs the feature flag {flag!r} set to true in cdk.json's \"context\", got "
            f"{'unset' if got is None else repr(got)}: without it {without}"
        )


def warn_unless_flag(scope: Construct, flag: str, without: str) -> None:
    """Add a synth warning (``cdk synth --strict`` fails on it) unless ``flag`` is on for ``scope``."""
    if not FeatureFlags.of(scope).is_enabled(flag):
        Annotations.of(scope).add_warning_v2(
            f"sagemaker-tiers:flag:{flag}", f"Set the feature flag {flag!r} to true in cdk.json: without it {without}"
        )
