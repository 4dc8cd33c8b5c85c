"""What both JumpStart constructs share: the allowlist and EULA checks at synth, the ``DescribeHubContent`` task and
the reading of its document at run time, the least-privilege grants, and the failure ending.

**The hub content document.** ``DescribeHubContent`` on SageMaker's public hub answers a model's
``HubContentDocument`` as a JSON string (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeHubContent.html).
Its fields are not in the API reference; the names used here are the ones the SageMaker Python SDK reads from it
(``sagemaker.core.jumpstart.hub.interfaces.HubModelDocument``): ``HostingEcrUri``, ``HostingArtifactUri``,
``HostingPrepackedArtifactUri``, ``HostingArtifactS3DataType``, ``HostingArtifactCompressionType``,
``InferenceEnvironmentVariables`` (``Name``/``Default``/``Scope``), ``DefaultInferenceInstanceType``,
``SupportedInferenceInstanceTypes``, ``GatedBucket`` (the model's artifacts are in JumpStart's private bucket and
need an accepted EULA), ``HostingEulaUri``, ``TrainingSupported``, ``TrainingEcrUri``, ``TrainingScriptUri``,
``TrainingArtifactUri``, ``Hyperparameters`` (``Name``/``Type``/``Default``/``Scope``), ``TrainingMetrics``,
``TrainingEnableNetworkIsolation``, ``DefaultTrainingInstanceType``, ``SupportedTrainingInstanceTypes``.

**Lists to maps without a Lambda function.** The document lists environment variables and hyperparameters as
``[{"Name": ..., "Default": ...}]``; SageMaker takes maps. :func:`name_default_map` folds such a list into a map
with Pass and Choice states (one ``States.JsonMerge`` per item; names and values are JSON-escaped by
``States.JsonToString``, so no value can break out of its string). Values become strings with ``States.Format``
(SageMaker's maps take strings; the training toolkit parses numbers back from them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from sagemaker_tiers.core.nag import acknowledge
from sagemaker_tiers.core.run_failure import notify_then_fail
from sagemaker_tiers.core.validation import ValidationError, require_match
from sagemaker_tiers.studio.hub import MODEL_ID_PATTERN, PUBLIC_HUB, CuratedHub

#: ``HubContentVersion`` as DescribeHubContent takes it (botocore's model: ``\d{1,4}.\d{1,4}.\d{1,4}``).
MODEL_VERSION_PATTERN = r"\d{1,4}\.\d{1,4}\.\d{1,4}"
#: JumpStart's public regional artifact buckets: open models, scripts (``jumpstart-cache-prod-<region>``) and the
#: artifacts of gated models (``jumpstart-private-cache-prod-<region>``, readable only with an accepted EULA).
ARTIFACT_BUCKETS: tuple[str, ...] = ("jumpstart-cache-prod", "jumpstart-private-cache-prod")
#: Error names a run ends with when the model cannot be used (``JumpStart.*``).
EULA_NOT_ACCEPTED = "JumpStart.EulaNotAccepted"
NOT_SERVABLE = "JumpStart.ModelNotServable"
TRAINING_NOT_SUPPORTED = "JumpStart.TrainingNotSupported"
UNKNOWN_HYPERPARAMETER = "JumpStart.UnknownHyperparameter"
INSTANCE_TYPE_NOT_SUPPORTED = "JumpStart.InstanceTypeNotSupported"
ISOLATION_NOT_SUPPORTED = "JumpStart.NetworkIsolationNotSupported"


def validate_model(prop_prefix: str, hub: CuratedHub, model_id: str, model_version: str | None, accept_eula: str | None) -> bool:
    """Check the model against the curated hub at synth; True when its EULA is accepted.

    * ``model_id`` must be one of ``hub.model_ids`` (the allowlist);
    * ``model_version`` a JumpStart version (``1.2.3``) or None (the newest);
    * ``accept_eula`` None, or exactly ``model_id`` (acceptance names the model, so a copied construct cannot
      silently accept another model's EULA);
    * a model ``hub.gated_model_ids`` declares gated needs ``accept_eula``.
    """
    if not isinstance(hub, CuratedHub):
        raise ValidationError(f"{prop_prefix}hub must be a CuratedHub (its allowlist decides which models may be used), got {hub!r}")
    require_match("model_id", model_id, MODEL_ID_PATTERN, "a JumpStart model id (1-63 letters, digits or '-')")
    if not hub.allows(model_id):
        raise ValidationError(
            f"model_id must be a model the curated hub {hub.node.path} allowlists (CuratedHub.model_ids: "
            f"{', '.join(hub.model_ids)}), got {model_id!r}"
        )
    if model_version is not None:
        require_match("model_version", model_version, MODEL_VERSION_PATTERN, "a JumpStart model version such as '2.1.0', or None for the newest")
    if accept_eula is not None and accept_eula != model_id:
        raise ValidationError(
            f"accept_eula must repeat the model id whose end-user license agreement you accept ({model_id!r}), got {accept_eula!r}"
        )
    if model_id in hub.gated_model_ids and accept_eula is None:
        raise ValidationError(
            f"accept_eula must be {model_id!r}: the curated hub declares {model_id!r} gated (CuratedHub.gated_model_ids), "
            "so it is used only after you read and accept its end-user license agreement, got accept_eula=None"
        )
    return accept_eula is not None


def public_hub_arn(scope: Construct) -> str:
    stack = Stack.of(scope)
    return f"arn:{stack.partition}:sagemaker:{stack.region}:aws:hub/{PUBLIC_HUB}"


def public_model_arns(scope: Construct, model_id: str) -> list[str]:
    """The model in SageMaker's public hub, unversioned and versioned (``<model>/<version>``)."""
    stack = Stack.of(scope)
    arn = f"arn:{stack.partition}:sagemaker:{stack.region}:aws:hub-content/{PUBLIC_HUB}/Model/{model_id}"
    return [arn, f"{arn}/*"]


def grant_describe_model(role: iam.IRole, model_id: str) -> None:
    """``sagemaker:DescribeHubContent`` on the public hub and on this one model's content (IAM's reference lists
    both resource types for the action), nothing else of JumpStart."""
    scope = role if isinstance(role, Construct) else None
    assert scope is not None
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="DescribeAllowlistedJumpStartModel",
            actions=["sagemaker:DescribeHubContent"],
            resources=[public_hub_arn(scope), *public_model_arns(scope, model_id)],
        )
    )
    acknowledge(
        scope,
        "AwsSolutions-IAM5",
        f"Versions of the allowlisted JumpStart model {model_id} are published by AWS in its public hub; the state "
        "machine reads the document of one of them (read-only).",
        applies_to=f"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:aws:hub-content/{PUBLIC_HUB}/Model/{model_id}/*",
    )


def grant_artifacts_read(grantee: iam.IGrantable, *, reason: str) -> iam.Grant:
    """Read JumpStart's public regional artifact buckets (``s3:GetObject`` on objects, ``s3:ListBucket`` for
    uncompressed ``S3Prefix`` model data): where a JumpStart model's weights, scripts and base artifacts are.

    Their keys are not scoped by model id, so IAM can only name the buckets; both are AWS's, read-only here.
    """
    principal = grantee.grant_principal
    scope = principal if isinstance(principal, Construct) else None
    stack = Stack.of(scope) if scope is not None else None
    partition = stack.partition if stack is not None else "aws"
    region = stack.region if stack is not None else "*"
    buckets = [f"arn:{partition}:s3:::{name}-{region}" for name in ARTIFACT_BUCKETS]
    iam.Grant.add_to_principal(grantee=grantee, actions=["s3:ListBucket"], resource_arns=buckets)
    grant = iam.Grant.add_to_principal(grantee=grantee, actions=["s3:GetObject"], resource_arns=[f"{b}/*" for b in buckets])
    if scope is not None:
        for name in ARTIFACT_BUCKETS:
            acknowledge(
                scope,
                "AwsSolutions-IAM5",
                f"{reason} JumpStart keeps them in AWS's regional bucket {name}-<region> under keys that are not "
                "scoped by model id; GetObject only (read).",
                applies_to=f"Resource::arn:<AWS::Partition>:s3:::{name}-<AWS::Region>/*",
            )
    return grant


def describe_hub_content(states: Construct, model_id: str, model_version: str | None) -> sfn.CustomState:
    """``DescribeHubContent`` of the model in SageMaker's public hub; its document parsed into ``$.hub.document``."""
    partition = Stack.of(states).partition
    parameters: dict[str, Any] = {"HubName": PUBLIC_HUB, "HubContentType": "Model", "HubContentName": model_id}
    if model_version is not None:
        parameters["HubContentVersion"] = model_version
    state = sfn.CustomState(
        states,
        "DescribeHubContent",
        state_json={
            "Type": "Task",
            "Resource": f"arn:{partition}:states:::aws-sdk:sagemaker:describeHubContent",
            "Parameters": parameters,
            "ResultSelector": {
                "name.$": "$.HubContentName",
                "version.$": "$.HubContentVersion",
                "arn.$": "$.HubContentArn",
                "document.$": "States.StringToJson($.HubContentDocument)",
            },
            "ResultPath": "$.hub",
        },
    )
    state.add_retry(
        errors=["SageMaker.ThrottlingException", "SageMaker.SageMakerException"],
        interval=Duration.seconds(2),
        max_attempts=5,
        backoff_rate=2,
        jitter_strategy=sfn.JitterType.FULL,
    )
    return state


def apply_document_defaults(states: Construct, defaults: dict[str, Any], carry: Sequence[str]) -> tuple[sfn.Pass, sfn.Pass]:
    """Two Pass states that merge ``$.hub.document`` over ``defaults`` into ``$.document``, keeping the top-level
    fields ``carry`` (optional fields then always exist, so no later path can miss: a missing path is a runtime
    error no Catch handles)."""
    collect = sfn.Pass(
        states, "DocumentDefaults", parameters={"defaults": defaults, "document.$": "$.hub.document"}, result_path="$.documentParts"
    )
    merge = sfn.Pass(
        states,
        "ApplyDocumentDefaults",
        parameters={
            **{f"{name}.$": f"$.{name}" for name in carry},
            "hub": {"name.$": "$.hub.name", "version.$": "$.hub.version", "arn.$": "$.hub.arn"},
            "document.$": "States.JsonMerge($.documentParts.defaults, $.documentParts.document, false)",
        },
    )
    collect.next(merge)
    return collect, merge


def name_default_map(states: Construct, prefix: str, items_path: str, result_path: str, then: sfn.IChainable) -> sfn.IChainable:
    """Fold the list of ``{"Name": ..., "Default": ...}`` at ``items_path`` into ``{name: "default", ...}`` at
    ``<result_path>.map`` (strings), then continue with ``then``. Three states per item."""
    rp = result_path
    carry = {"items.$": f"{rp}.items", "count.$": f"{rp}.count", "brace.$": f"{rp}.brace"}
    start = sfn.Pass(
        states,
        f"{prefix}Items",
        parameters={"items.$": items_path, "index": 0, "map": {}, "brace": {"open": "{", "close": "}"}},
        result_path=rp,
    )
    count = sfn.Pass(
        states,
        f"{prefix}Count",
        parameters={
            "items.$": f"{rp}.items", "brace.$": f"{rp}.brace", "index.$": f"{rp}.index", "map.$": f"{rp}.map",
            "count.$": f"States.ArrayLength({rp}.items)",
        },
        result_path=rp,
    )
    pick = sfn.Pass(
        states,
        f"{prefix}Pick",
        parameters={**carry, "index.$": f"{rp}.index", "map.$": f"{rp}.map", "item.$": f"States.ArrayGetItem({rp}.items, {rp}.index)"},
        result_path=rp,
    )
    # Braces come in as arguments, not in the template: a literal brace in States.Format's template needs an
    # escape that interpreters handle differently.
    entry = (
        f"States.StringToJson(States.Format('{{}}{{}}:{{}}{{}}', {rp}.brace.open, States.JsonToString({rp}.item.Name), "
        f"States.JsonToString(States.Format('{{}}', {rp}.item.Default)), {rp}.brace.close))"
    )
    add = sfn.Pass(
        states,
        f"{prefix}Add",
        parameters={**carry, "index.$": f"States.MathAdd({rp}.index, 1)", "map.$": f"States.JsonMerge({rp}.map, {entry}, false)"},
        result_path=rp,
    )
    more = sfn.Choice(states, f"{prefix}More").when(
        sfn.Condition.number_less_than_json_path(f"{rp}.index", f"{rp}.count"), pick
    ).otherwise(then)
    pick.next(add)
    add.next(more)
    start.next(count).next(more)
    return start


def refusal(states: Construct, id: str, error: str, cause: str, notify: sfn.IChainable) -> sfn.Pass:
    """A Pass that records ``$.error`` (``cause`` is an intrinsic such as ``States.Format(...)``) and notifies."""
    state = sfn.Pass(states, id, parameters={"Error": error, "Cause.$": cause}, result_path="$.error")
    state.next(notify)
    return state


def failure_ending(states: Construct, topic: sns.ITopic, subject: str, what: str) -> sfn.CustomState:
    """Publish ``$.error`` to ``topic``, then fail with it (``States.*`` errors end under ``JumpStart.Failed``)."""
    return notify_then_fail(states, topic, subject=subject, message=f"{what} run {{}} of {{}} failed. Error: {{}}", error="JumpStart.Failed")


def grant_publish(role: iam.IGrantable, topic: sns.ITopic, stack: Stack) -> None:
    iam.Grant.add_to_principal(grantee=role, actions=["sns:Publish"], resource_arns=[topic.topic_arn])
    key = topic.master_key
    if key is not None:
        role.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sns.{stack.region}.amazonaws.com"}},
            )
        )


def id_fragment(model_id: str, length: int) -> str:
    """A lowercase fragment of ``model_id`` (or a construct id) for generated names: letters, digits and '-'."""
    text = re.sub(r"[^a-z0-9-]", "", model_id.lower())
    return re.sub(r"-{2,}", "-", text)[:length].strip("-")


def require_mime_types(prop: str, types: Sequence[str]) -> list[str]:
    if isinstance(types, str) or not types:
        raise ValidationError(f"{prop} must be a non-empty list of MIME types, got {types!r}")
    for mime in types:
        require_match(prop, mime, r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(;[^;]{1,200})?", "a list of MIME types such as 'application/json'")
    return list(types)
