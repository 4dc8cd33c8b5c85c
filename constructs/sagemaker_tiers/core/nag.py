"""The one way this library acknowledges a cdk-nag or Control Tower finding or skips a checkov check.

``grep -rnE "acknowledge\(|skip_checkov\(" constructs stacks`` lists them all; ``make nag-report`` prints each
acknowledgment with its construct path and reason, and checkov lists its skips with their reasons.

Control Tower's proactive controls run at synth through cdklabs' ``cdk-validator-cfnguard`` plugin, which reports
into the same validation report as cdk-nag; ``Validations.of(construct).acknowledge`` covers its findings too
(the guard rules' own ``Metadata.guard.SuppressedRules`` is not honoured by the bundled rules, measured with
0.0.62). Their rules accept only literal values or same-template ``Ref``/``Fn::GetAtt``: a key or ARN that reaches
a template through ``Fn::ImportValue`` or ``Fn::Join`` reads as missing. :class:`UnseenReferenceAcknowledgments`
acknowledges exactly those, resource by resource, and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsii
from aws_cdk import (
    Acknowledgment,
    CfnResource,
    IAspect,
    IPolicyValidationContextBeta1,
    IPolicyValidationPluginBeta1,
    PolicyValidationPluginReportBeta1,
    PolicyViolationBeta1,
    Reference,
    Stack,
    Token,
    Tokenization,
    Validations,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct, IValidation

from sagemaker_tiers.core.validation import ValidationError

_PACKS = {"AwsSolutions": "AwsSolutions", "Serverless": "Serverless"}
MIN_REASON_LENGTH = 40

#: Name under which cdk-validator-cfnguard reports (the plugin part of an acknowledgment id).
CONTROL_TOWER_PLUGIN = "cdk-validator-cfnguard"

#: Control Tower controls this library acknowledges or fixes -> the cfn-guard rule that implements each in
#: cdk-validator-cfnguard (the plugin reports and acknowledges by rule name). A test checks every pair against the
#: rules the installed plugin bundles.
CONTROL_TOWER_RULES = {
    "CT.CLOUDWATCH.PR.3": "cloudwatch_log_group_encrypted_check",
    "CT.EC2.PR.11": "subnet_auto_assign_public_ip_disabled_check",
    "CT.KMS.PR.3": "kms_create_grant_aws_service_check",
    "CT.LAMBDA.PR.2": "lambda_function_public_access_prohibited_check",
    "CT.LAMBDA.PR.3": "lambda_inside_vpc_check",
    "CT.S3.PR.2": "s3_bucket_logging_enabled_check",
    "CT.S3.PR.4": "s3_event_notifications_enabled_check",
    "CT.S3.PR.9": "s3_bucket_object_lock_enabled_check",
    "CT.S3.PR.10": "s3_bucket_default_encryption_kms_check",
    "CT.SQS.PR.1": "sqs_dlq_check",
    "CT.SQS.PR.2": "sqs_queue_encrypted_check",
}


def acknowledge(scope: IConstruct, rule: str, reason: str, *, applies_to: str | None = None) -> None:
    """Acknowledge ``rule`` on ``scope``: a cdk-nag rule or a Control Tower control.

    :param rule: A cdk-nag rule (``"AwsSolutions-IAM5"``, ``"Serverless-LambdaDLQ"``) or a Control Tower control
        of :data:`CONTROL_TOWER_RULES` (``"CT.SQS.PR.1"``).
    :param applies_to: The finding's detail for rules that report one (for IAM5, e.g.
        ``"Resource::arn:aws:s3:::bucket/*"``), so one acknowledgment never hides another finding of the rule.
    :param reason: Why the finding is acceptable here, specific to this resource (at least 40 characters).
    """
    if rule.startswith("CT."):
        if rule not in CONTROL_TOWER_RULES:
            raise ValidationError(
                f"rule must be a Control Tower control of CONTROL_TOWER_RULES (add it there with its guard rule), got {rule!r}"
            )
        rule_id = f"{CONTROL_TOWER_PLUGIN}::{CONTROL_TOWER_RULES[rule]}"
    else:
        pack = rule.split("-", 1)[0]
        if pack not in _PACKS or "-" not in rule:
            raise ValidationError(
                f"rule must look like 'AwsSolutions-IAM5', 'Serverless-LambdaDLQ' or 'CT.SQS.PR.1', got {rule!r}"
            )
        rule_id = f"{_PACKS[pack]}::{rule}" + (f"[{applies_to}]" if applies_to else "")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValidationError(
            f"reason must say specifically why {rule} is acceptable (>= {MIN_REASON_LENGTH} characters), got {reason!r}"
        )
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=f"[{rule}] {reason}" if rule.startswith("CT.") else reason))


def _unseen(resource: IConstruct, value: Any) -> str | None:
    """How ``value`` of ``resource`` reaches its template, if a Control Tower rule cannot see it; else None.

    Literal strings and same-stack ``Ref``/``Fn::GetAtt`` are what the rules read; a reference to another stack's
    resource (rendered as ``Fn::ImportValue``) or a value built with ``Fn::Join``/``Fn::Sub`` is not.
    """
    if value is None or not Token.is_unresolved(value):
        return None
    stack = Stack.of(resource)
    reference = Tokenization.reverse(value, fail_concat=False)
    if isinstance(reference, Reference):
        if Stack.of(reference.target) is stack:
            return None
        return f"{reference.target.node.path} of stack {Stack.of(reference.target).stack_name} (Fn::ImportValue)"
    resolved = stack.resolve(value)
    if isinstance(resolved, dict) and len(resolved) == 1 and next(iter(resolved)) in ("Fn::Join", "Fn::Sub"):
        return f"a {next(iter(resolved))} of ARN parts"
    return None


#: Per resource type: (Control Tower control, the property it reads, how to read it from the L1).
_UNSEEN_PROPERTIES: dict[type, list[tuple[str, str, Callable[[Any], Any]]]] = {
    logs.CfnLogGroup: [("CT.CLOUDWATCH.PR.3", "KmsKeyId", lambda r: r.kms_key_id)],
    sqs.CfnQueue: [("CT.SQS.PR.2", "KmsMasterKeyId", lambda r: r.kms_master_key_id)],
    lambda_.CfnPermission: [("CT.LAMBDA.PR.2", "SourceArn", lambda r: r.source_arn)],
}


@jsii.implements(IAspect)
class UnseenReferenceAcknowledgments:
    """Acknowledges a Control Tower finding on a resource whose checked property is set but invisible to the rule.

    For each log group (``KmsKeyId``, CT.CLOUDWATCH.PR.3), queue (``KmsMasterKeyId``, CT.SQS.PR.2) and Lambda
    permission (``SourceArn``, CT.LAMBDA.PR.2) whose property is a reference to another stack or an ARN built with
    ``Fn::Join``/``Fn::Sub``, it acknowledges that control on that resource only, naming where the value comes
    from. A resource without the property, or with a literal or same-stack value, is left to the rule.

    Add it with ``Aspects.of(app).add(UnseenReferenceAcknowledgments())`` beside the validation plugin.
    """

    def visit(self, node: IConstruct) -> None:
        for kind, checks in _UNSEEN_PROPERTIES.items():
            if not isinstance(node, kind):
                continue
            for control, prop, read in checks:
                source = _unseen(node, read(node))
                if source is not None:
                    acknowledge(
                        node,
                        control,
                        f"{prop} is set, to {source}; the control's rule reads only literal values and same-template "
                        "Ref/GetAtt, so it reports the property as missing.",
                    )


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
        acknowledge_resource(principal, resource, reason)


def acknowledge_resource(scope: Construct, resource: str, reason: str) -> None:
    """Acknowledge the AwsSolutions-IAM5 finding of ``resource`` (an ARN ending in a wildcard, or ``"*"``) in a
    policy of ``scope`` (a role or a managed policy), for that one resource, once CDK has resolved it (see
    :func:`acknowledge_grant`)."""
    scope.node.add_validation(_AcknowledgeResolved(scope, resource, reason))


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


def acknowledge_outside_vpc(function: IConstruct, reason: str) -> None:
    """Record why a Lambda function runs outside the VPC, for checkov (CKV_AWS_117) and Control Tower (CT.LAMBDA.PR.3).

    The library's functions only call AWS APIs and reach nothing inside the VPC; ``reason`` names what the function
    calls.
    """
    skip_checkov(function, "CKV_AWS_117", reason)
    acknowledge(function, "CT.LAMBDA.PR.3", reason)


@jsii.implements(IPolicyValidationPluginBeta1)
class FindingsAsErrors:
    """A validation plugin whose every finding is an error, whatever the wrapped plugin says.

    cdk-validator-cfnguard (0.0.62) reports violations without a severity. aws-cdk-lib 2.275 then treats them as
    errors only while none of that plugin's findings is acknowledged: once one is, it recomputes the plugin's
    success from severities, and the remaining, unacknowledged findings stop failing the synth (they are still
    written to the report). Wrapping the plugin keeps them errors. It reports under the wrapped plugin's name, so
    acknowledgment ids do not change.

    Example::

        Validations.of(app).add_plugins(FindingsAsErrors(CfnGuardValidator(control_tower_rules_enabled=True)))
    """

    def __init__(self, plugin: IPolicyValidationPluginBeta1) -> None:
        self._plugin = plugin

    @property
    def name(self) -> str:
        return self._plugin.name

    @property
    def version(self) -> str | None:
        return self._plugin.version

    @property
    def rule_ids(self) -> list[str] | None:
        return self._plugin.rule_ids

    def validate(self, context: IPolicyValidationContextBeta1) -> PolicyValidationPluginReportBeta1:
        report = self._plugin.validate(context)
        violations = [
            PolicyViolationBeta1(
                rule_name=v.rule_name,
                description=v.description,
                violating_resources=v.violating_resources,
                fix=v.fix,
                rule_metadata=v.rule_metadata,
                severity="error",
            )
            for v in report.violations
        ]
        return PolicyValidationPluginReportBeta1(
            success=report.success and not violations,
            violations=violations,
            metadata=report.metadata,
            plugin_version=report.plugin_version,
        )
