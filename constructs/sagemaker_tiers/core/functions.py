"""The one way this library creates a Lambda function: :func:`tiers_function`.

Every function any tier deploys gets the same runtime, architecture, X-Ray tracing and Powertools for AWS Lambda
(Python) settings from here, so a handler can rely on them and a test can check them on every function of every
stack (``tests/core/test_functions.py`` walks them all).

How Powertools reaches the function: **the public, AWS-managed Powertools layer**, not a bundled copy.

- Synth needs no Docker engine, no network and no credentials: the layer is an ARN, built per region with the
  stack's region token (``Fn::Sub`` of ``${AWS::Region}``), so stacks stay environment-agnostic.
- The layer is published by the Powertools team (AWS account 017000801446) in every commercial region, one layer
  per Python version and architecture (``AWSLambdaPowertoolsPythonV3-python314-x86_64``), with the extras the
  Tracer needs (aws-xray-sdk); it is version-pinned here, so a deployment never changes it underneath a handler.
  https://docs.aws.amazon.com/powertools/python/latest/#lambda-layer
- A bundled copy would need ``pip install`` into the asset at synth (network, or Docker for CDK's bundling) or
  a vendored copy of the package in this repository; the layer needs neither, keeps each function's own asset
  small (the handler folder only) and is shared by every function in the account.
- The tests run the same Powertools version from PyPI: ``aws-lambda-powertools[tracer]==`` :data:`POWERTOOLS_VERSION`
  in ``pyproject.toml``'s dev extra (a test checks that the two pins agree).

The layer exists only in the commercial partition (China and GovCloud publish it under other accounts), so each
stack with a function carries a template rule that fails the deployment there with that reason, before any
resource is created.

Environment every function gets (Powertools reads it; handlers read no other observability setting):

- ``POWERTOOLS_SERVICE_NAME``: the construct that owns the function (its construct path, unique in the app); it
  is the ``service`` key of every log line and the ``service`` dimension of every metric the function emits.
- ``POWERTOOLS_METRICS_NAMESPACE``: the tier's CloudWatch namespace (``sagemaker-tiers/<Tier>``).
- ``POWERTOOLS_LOG_LEVEL``: ``INFO`` unless given.

Powertools' event logging (``POWERTOOLS_LOGGER_LOG_EVENT``) stays off: events carry tokens, signed URLs and
request bodies, which must never reach a log.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import Aws, CfnRule, CfnRuleAssertion, Duration, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.validation import ValidationError, require_match

#: Powertools for AWS Lambda (Python) release the layer holds; the dev dependency pins the same version.
POWERTOOLS_VERSION = "3.23.0"
#: The public layer's version number that holds :data:`POWERTOOLS_VERSION` (3.23.0 is layer version 27, published
#: 2025-11-13 for every Python runtime and both architectures:
#: https://github.com/aws-powertools/powertools-lambda-python/issues/7689). To move to a newer release, read its
#: layer version from the public SSM parameter ``/aws/service/powertools/python/x86_64/python3.14/<version>`` and
#: change both constants and the pin in pyproject.toml together.
POWERTOOLS_LAYER_VERSION = 27
#: The AWS account that publishes the Powertools layers in the commercial partition.
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
#: Instruction set of every function (the layer is published per architecture).
ARCHITECTURE = lambda_.Architecture.X86_64
#: Log levels Powertools' Logger accepts.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: Namespace of the metrics a tier's functions emit, unless the construct names its own.
DEFAULT_METRICS_NAMESPACE = "sagemaker-tiers"

#: Function properties the factory owns; passing them through ``options`` would undo what every function shares.
_OWNED = frozenset({"runtime", "code", "handler", "layers", "tracing", "architecture", "environment", "role", "log_group"})


def powertools_layer_name(runtime_name: str = defaults.LAMBDA_RUNTIME_NAME, architecture: lambda_.Architecture = ARCHITECTURE) -> str:
    """``AWSLambdaPowertoolsPythonV3-python314-x86_64``: the public layer for a Python runtime and architecture."""
    require_match("runtime_name", runtime_name, r"python3\.[0-9]{1,2}", "a Python Lambda runtime name such as 'python3.14'")
    return f"AWSLambdaPowertoolsPythonV3-{runtime_name.replace('.', '')}-{architecture.name}"


def powertools_layer(scope: Construct) -> lambda_.ILayerVersion:
    """The stack's reference to the public Powertools layer (one per stack, no resource), with its partition rule."""
    stack = Stack.of(scope)
    holder = stack.node.try_find_child("PowertoolsForAwsLambda")
    if holder is None:
        holder = Construct(stack, "PowertoolsForAwsLambda")
        arn = Fn.sub(
            f"arn:aws:lambda:${{AWS::Region}}:{POWERTOOLS_LAYER_ACCOUNT}:layer:{powertools_layer_name()}:{POWERTOOLS_LAYER_VERSION}"
        )
        lambda_.LayerVersion.from_layer_version_arn(holder, "Layer", arn)
        CfnRule(
            holder,
            "CommercialPartition",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_equals(Aws.PARTITION, "aws"),
                    assert_description=(
                        "This stack's Lambda functions use the public Powertools for AWS Lambda layer of account "
                        f"{POWERTOOLS_LAYER_ACCOUNT}, which exists in the commercial partition (aws) only."
                    ),
                )
            ],
        )
    return holder.node.find_child("Layer")  # type: ignore[return-value]


def tiers_function(
    scope: Construct,
    id: str,
    *,
    code_dir: Path,
    handler: str,
    description: str,
    role: iam.IRole,
    log_group: logs.ILogGroup,
    timeout: Duration,
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE,
    service: str | None = None,
    environment: Mapping[str, str] | None = None,
    environment_encryption: kms.IKey | None = None,
    memory_size: int = 256,
    log_level: str = "INFO",
    **options: Any,
) -> lambda_.Function:
    """A Lambda function running ``handler`` from the folder ``code_dir``, with Powertools and X-Ray.

    :param code_dir: The handler folder (its files are the asset; caches excluded).
    :param handler: ``module.function``.
    :param role: The execution role (each construct scopes its own).
    :param log_group: The function's log group (each construct encrypts and retains its own).
    :param timeout: The function timeout.
    :param metrics_namespace: CloudWatch namespace of the metrics the handler emits. Default: "sagemaker-tiers".
    :param service: Powertools service name: the ``service`` key of each log line and dimension of each metric.
        Default: the construct path of ``scope``.
    :param environment: The handler's own variables (names starting with ``POWERTOOLS_`` are the factory's).
    :param environment_encryption: KMS key for the environment. Default: Lambda's own key.
    :param memory_size: MiB. Default: 256.
    :param log_level: Powertools Logger level, one of :data:`LOG_LEVELS`. Default: "INFO".
    :param options: Any other ``lambda_.Function`` property (retries, on-failure destination, concurrency).
    """
    if log_level not in LOG_LEVELS:
        raise ValidationError(f"log_level must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
    owned = sorted(_OWNED & set(options))
    if owned:
        raise ValidationError(f"tiers_function sets {', '.join(owned)} itself; got them in options")
    own = {name for name in (environment or {}) if name.startswith("POWERTOOLS_")}
    if own:
        raise ValidationError(f"environment must not set Powertools variables (the factory does), got {sorted(own)}")
    service = service or scope.node.path
    if not service or len(service) > 255:
        raise ValidationError(f"service must be 1-255 characters (a CloudWatch dimension value), got {service!r}")
    require_match(
        "metrics_namespace",
        metrics_namespace,
        r"[A-Za-z0-9.\-_/#:]{1,255}",
        "a CloudWatch namespace (letters, digits and . - _ / # :, at most 255 characters) not starting with 'AWS/'",
    )
    if metrics_namespace.startswith("AWS/"):
        raise ValidationError(f"metrics_namespace must not start with 'AWS/' (reserved for AWS services), got {metrics_namespace!r}")
    return lambda_.Function(
        scope,
        id,
        runtime=lambda_.Runtime(defaults.LAMBDA_RUNTIME_NAME, lambda_.RuntimeFamily.PYTHON),
        architecture=ARCHITECTURE,
        code=lambda_.Code.from_asset(str(code_dir), exclude=["__pycache__", "*.pyc"]),
        handler=handler,
        description=description,
        role=role,
        log_group=log_group,
        timeout=timeout,
        memory_size=memory_size,
        layers=[powertools_layer(scope)],
        tracing=lambda_.Tracing.ACTIVE,
        environment={
            **(environment or {}),
            "POWERTOOLS_SERVICE_NAME": service,
            "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace,
            "POWERTOOLS_LOG_LEVEL": log_level,
        },
        environment_encryption=environment_encryption,
        **options,
    )
