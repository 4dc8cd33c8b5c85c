"""The one way this library acknowledges a cdk-nag finding or skips a checkov check, each easy to review.

``grep -rnE "acknowledge\(|skip_checkov\(" constructs stacks`` lists them all; ``make nag-report`` prints each
cdk-nag acknowledgment with its construct path and reason, and checkov lists its skips with their reasons.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

from sagemaker_tiers.core.validation import ValidationError

_PACKS = {"AwsSolutions": "AwsSolutions", "Serverless": "Serverless"}
MIN_REASON_LENGTH = 40


def acknowledge(scope: IConstruct, rule: str, reason: str, *, applies_to: str | None = None) -> None:
    """Acknowledge cdk-nag ``rule`` (``"AwsSolutions-IAM5"``, ``"Serverless-LambdaDLQ"``) on ``scope``.

    :param applies_to: The finding's detail for rules that report one (for IAM5, e.g.
        ``"Resource::arn:aws:s3:::bucket/*"``), so one acknowledgment never hides another finding of the rule.
    :param reason: Why the finding is acceptable here, specific to this resource (at least 40 characters).
    """
    pack = rule.split("-", 1)[0]
    if pack not in _PACKS or "-" not in rule:
        raise ValidationError(f"rule must look like 'AwsSolutions-IAM5' or 'Serverless-LambdaDLQ', got {rule!r}")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValidationError(
            f"reason must say specifically why {rule} is acceptable (>= {MIN_REASON_LENGTH} characters), got {reason!r}"
        )
    rule_id = f"{_PACKS[pack]}::{rule}" + (f"[{applies_to}]" if applies_to else "")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def skip_checkov(resource: IConstruct, check_id: str, reason: str) -> None:
    """Skip checkov check ``check_id`` (``"CKV_AWS_18"``) on one resource only, with the reason in its metadata.

    ``resource`` is an L1 (``CfnResource``) or an L2 whose default child is one. The skip travels with the
    template (``Metadata.checkov.skip``), so checkov reports it as skipped with the reason, and no other
    resource is exempted.
    """
    if not check_id.startswith("CKV"):
        raise ValidationError(f"check_id must be a checkov id such as 'CKV_AWS_18', got {check_id!r}")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValidationError(
            f"reason must say specifically why {check_id} is acceptable (>= {MIN_REASON_LENGTH} characters), got {reason!r}"
        )
    cfn = resource if isinstance(resource, CfnResource) else resource.node.default_child
    if not isinstance(cfn, CfnResource):
        raise ValidationError(f"resource must be a CfnResource or have one as default child, got {resource.node.path}")
    existing = cfn.get_metadata("checkov") or {}
    skips = list(existing.get("skip", []))
    skips.append({"id": check_id, "comment": reason})
    cfn.add_metadata("checkov", {"skip": skips})
