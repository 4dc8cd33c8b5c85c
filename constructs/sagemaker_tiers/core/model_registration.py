"""Register a model as a version of a model package group, pending approval: the Step Functions task every tier
that produces a model (training, Autopilot, JumpStart) ends with.

The version is created with ``ModelApprovalStatus: PendingManualApproval``, which starts the registry's approval
workflow; nothing registers itself approved. A ``ClientToken`` is required, so a retried task (or a redriven
execution) creates no second version: "ClientToken: A unique token that guarantees that the call to this API is
idempotent" (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackage.html).

IAM: the state machine needs ``group.grant_register(state_machine)`` (CreateModelPackage on the group's versions,
only with ``PendingManualApproval``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from sagemaker_tiers.core.state_values import StatePath, put
from sagemaker_tiers.core.validation import ValidationError, require_match, require_unique

if TYPE_CHECKING:
    from sagemaker_tiers.registry.model_package_group import IModelPackageGroup

#: What a ``CreateModelPackage`` task is retried on by default: throttling and SageMaker's internal errors.
REGISTRATION_RETRY_ERRORS: tuple[str, ...] = ("SageMaker.ThrottlingException", "SageMaker.SageMakerException")
_MIME = r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(;[^;]{1,200})?"


def require_mime_types(prop: str, types: Sequence[str]) -> None:
    """Fail unless ``types`` is a non-empty list of distinct MIME types such as ``text/csv``."""
    if isinstance(types, str) or not types:
        raise ValidationError(f"{prop} must be a non-empty list of MIME types, got {types!r}")
    for mime in types:
        require_match(prop, mime, _MIME, "a list of MIME types such as 'text/csv'")
    require_unique(prop, list(types))


def model_container(image: str | StatePath, model_data_url: str | StatePath | None = None, **extra: Any) -> dict[str, Any]:
    """One entry of ``InferenceSpecification.Containers``.

    :param image: Inference image URI, or a :class:`StatePath` to one.
    :param model_data_url: ``s3://`` URI of the model artifact (``model.tar.gz``), or a :class:`StatePath`.
        Default: none (the image carries the model).
    :param extra: Further ``ModelPackageContainerDefinition`` fields as rendered (``Environment``, ...).
    """
    container: dict[str, Any] = {}
    put(container, "Image", image)
    if model_data_url is not None:
        put(container, "ModelDataUrl", model_data_url)
    container.update(extra)
    return container


def inference_specification(
    containers: Sequence[Mapping[str, Any]] | StatePath,
    *,
    content_types: Sequence[str] = ("text/csv",),
    response_mime_types: Sequence[str] = ("text/csv",),
    realtime_instance_types: Sequence[str] | StatePath | None = None,
) -> dict[str, Any]:
    """An ``InferenceSpecification``: how the registered version is served.

    :param containers: 1-15 containers (:func:`model_container`), or a :class:`StatePath` to the list.
    :param content_types: Request MIME types. Default: ``["text/csv"]``.
    :param response_mime_types: Response MIME types. Default: ``["text/csv"]``.
    :param realtime_instance_types: ``SupportedRealtimeInferenceInstanceTypes`` (a JumpStart model's recommended
        types, for example). Default: none sent.
    """
    if not isinstance(containers, StatePath) and (isinstance(containers, (str, Mapping)) or not 1 <= len(containers) <= 15):
        raise ValidationError(f"containers must be a list of 1 to 15 containers (model_container), got {containers!r}")
    require_mime_types("content_types", content_types)
    require_mime_types("response_mime_types", response_mime_types)
    spec: dict[str, Any] = {}
    put(spec, "Containers", containers if isinstance(containers, StatePath) else [dict(c) for c in containers])
    spec["SupportedContentTypes"] = list(content_types)
    spec["SupportedResponseMIMETypes"] = list(response_mime_types)
    if realtime_instance_types is not None:
        put(
            spec,
            "SupportedRealtimeInferenceInstanceTypes",
            realtime_instance_types if isinstance(realtime_instance_types, StatePath) else list(realtime_instance_types),
        )
    return spec


def register_model_package(
    scope: Construct,
    id: str,
    *,
    group: IModelPackageGroup,
    inference_specification: Mapping[str, Any] | StatePath,
    client_token: str | StatePath,
    description: str | StatePath | None = None,
    model_metrics: Mapping[str, Any] | StatePath | None = None,
    customer_metadata: Mapping[str, Any] | StatePath | None = None,
    comment: str | None = None,
    result_path: str = "$.registration",
    retry: bool = True,
) -> sfn.CustomState:
    """A ``CreateModelPackage`` task (AWS SDK integration) adding a version, ``PendingManualApproval``, to a group.

    Its result is ``{"ModelPackageArn": ...}`` at ``result_path``. Add a catch for the failure path
    (``state.add_catch(...)``) and grant the state machine ``group.grant_register(state_machine)``.

    :param scope: Where the state is created.
    :param id: State id (the name in the definition), such as ``"RegisterModelPackage"``.
    :param group: The model package group that receives the version (grant with ``group.grant_register``).
    :param inference_specification: :func:`inference_specification`, or a :class:`StatePath` to one prepared at run
        time.
    :param client_token: Idempotency token, unique per model (a hash of the training job ARN, the job name): a
        retried call returns the same version.
    :param description: ``ModelPackageDescription``. Default: none.
    :param model_metrics: ``ModelMetrics`` (for example a report as ``ModelQuality.Statistics``). Default: none.
    :param customer_metadata: ``CustomerMetadataProperties`` (string values of at most 256 of SageMaker's tag
        characters). Default: none.
    :param comment: The state's ``Comment``. Default: none.
    :param result_path: Where the result goes. Default: ``$.registration``.
    :param retry: Retry throttling and SageMaker's internal errors (:data:`REGISTRATION_RETRY_ERRORS`, 5 attempts
        from 2 seconds, doubling, full jitter). ``False``: add your own retries. Default: True.
    """
    if not hasattr(group, "model_package_group_name") or not hasattr(group, "grant_register"):
        raise ValidationError(f"group must be an IModelPackageGroup, got {group!r}")
    if isinstance(client_token, str):
        require_match("client_token", client_token, r"[a-zA-Z0-9-]{1,36}", "1-36 letters, digits or '-'")
    elif not isinstance(client_token, StatePath):
        raise ValidationError(f"client_token must be a string or a StatePath, got {client_token!r}")
    if not result_path.startswith("$"):
        raise ValidationError(f"result_path must be a JSONPath starting with '$', got {result_path!r}")
    parameters: dict[str, Any] = {"ModelPackageGroupName": group.model_package_group_name}
    if description is not None:
        put(parameters, "ModelPackageDescription", description)
    parameters["ModelApprovalStatus"] = "PendingManualApproval"
    put(parameters, "ClientToken", client_token)
    put(parameters, "InferenceSpecification", inference_specification if isinstance(inference_specification, StatePath) else dict(inference_specification))
    if model_metrics is not None:
        put(parameters, "ModelMetrics", model_metrics if isinstance(model_metrics, StatePath) else dict(model_metrics))
    if customer_metadata is not None:
        put(parameters, "CustomerMetadataProperties", customer_metadata if isinstance(customer_metadata, StatePath) else dict(customer_metadata))
    state_json: dict[str, Any] = {"Type": "Task"}
    if comment is not None:
        state_json["Comment"] = comment
    state_json.update(
        {
            "Resource": f"arn:{Stack.of(scope).partition}:states:::aws-sdk:sagemaker:createModelPackage",
            "Parameters": parameters,
            "ResultSelector": {"ModelPackageArn.$": "$.ModelPackageArn"},
            "ResultPath": result_path,
        }
    )
    state = sfn.CustomState(scope, id, state_json=state_json)
    if retry:
        state.add_retry(
            errors=list(REGISTRATION_RETRY_ERRORS),
            interval=Duration.seconds(2),
            max_attempts=5,
            backoff_rate=2,
            jitter_strategy=sfn.JitterType.FULL,
        )
    return state
