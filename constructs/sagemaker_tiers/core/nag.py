"""The one way this library acknowledges a cdk-nag finding or skips a checkov check, each easy to review.

``grep -rnE "acknowledge\(|skip_checkov\(" constructs stacks`` lists them all; ``make nag-report`` prints each
cdk-nag acknowledgment with its construct path and reason, and checkov lists its skips with their reasons.
"""

from __future__ import annotations

import json
from typing import Any

import jsii
from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct, IValidation

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


def acknowledge_grant(grantee: iam.IGrantable, resource: str, reason: str) -> None:
    """Acknowledge the AwsSolutions-IAM5 finding that a grant of ``resource`` (an ARN ending in a wildcard) to
    ``grantee`` causes, on the grantee's principal only and for that one resource.

    cdk-nag names the finding by the resource as the template renders it: ``<LogicalId.Arn>/prefix/*`` for a
    bucket of the same stack, the export name for another stack's, ``<AWS::Region>`` for pseudo parameters. That
    text exists only once CDK has resolved references, so the acknowledgment is added by a construct validation,
    which runs after that and before the validation plugins. Grantees that are not constructs (a service
    principal, an account) get no policy and need no acknowledgment.
    """
    principal = grantee.grant_principal
    if isinstance(principal, Construct):
        principal.node.add_validation(_AcknowledgeResolved(principal, resource, reason))


@jsii.implements(IValidation)
class _AcknowledgeResolved:
    def __init__(self, principal: Construct, resource: str, reason: str) -> None:
        self._principal = principal
        self._resource = resource
        self._reason = reason

    def validate(self) -> list[str]:
        rendered = nag_text(Stack.of(self._principal).resolve(self._resource))
        acknowledge(self._principal, "AwsSolutions-IAM5", self._reason, applies_to=f"Resource::{rendered}")
        return []


def nag_text(value: Any) -> str:
    """A resolved CloudFormation value as cdk-nag prints it in a finding (its ``flattenCfnReference``)."""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Fn::Join":
            return str(arg[0]).join(nag_text(v) for v in arg[1])
        if key in ("Fn::Sub", "Fn::ImportValue"):
            return nag_text(arg)
        if key == "Fn::GetAtt":
            return f"<{nag_text(arg[0])}.{nag_text(arg[1])}>"
        if key == "Ref":
            return f"<{nag_text(arg)}>"
    return json.dumps(value, separators=(",", ":"))


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
