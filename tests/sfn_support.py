"""Run synthesized Step Functions definitions under moto's interpreter, as close to AWS as moto allows.

* :func:`resolve` / :func:`state_machine_definition` turn a synthesized ``DefinitionString`` (``Fn::Join``,
  ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, pseudo parameters) into the JSON document Step Functions would receive,
  with the physical names a test chooses for the template's resources.
* :func:`aws_sdk_integrations_as_in_aws` patches two gaps of moto 5.2.5's interpreter for
  ``arn:aws:states:::aws-sdk:*`` tasks, so a definition written for AWS runs unchanged:

  - AWS takes request members in PascalCase and converts them to the service's casing
    (``ExecutionArn`` -> ``executionArn`` for Step Functions' own API); moto passes them through as they are.
    The patch converts them with botocore's model, and VALIDATES every request against the model (moto's
    clients skip validation, so a misspelt member would otherwise pass silently).
  - AWS returns response members in PascalCase (``Status``) and names errors ``Service.ErrorNameException``
    in PascalCase (``Ssm.ParameterNotFoundException``); moto returns the service's casing and lower-case
    service names. The patch does what AWS does.
* :func:`run_execution` starts an execution and waits for it; :func:`entered_states` lists the states it entered.

moto executes definitions only with ``mock_aws(config={"stepfunctions": {"execute_state_machine": True}})``
and needs the ``moto[stepfunctions]`` extra (``antlr4-python3-runtime``, ``jsonpath-ng``).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "test-stack",
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/test-stack/0f1e2d3c-4b5a-6789-abcd-ef0123456789",
    "AWS::NoValue": None,
}

#: Service name prefixes of AWS SDK integration errors, as AWS spells them (``Ssm.ParameterNotFoundException``).
SDK_ERROR_SERVICE_NAMES = {
    "sagemaker": "SageMaker",
    "ssm": "Ssm",
    "sfn": "Sfn",
    "dynamodb": "DynamoDb",
    "sns": "Sns",
    "sqs": "Sqs",
    "s3": "S3",
    "lambda": "Lambda",
    "events": "EventBridge",
    "cloudwatch": "CloudWatch",
}


class UnresolvedReference(KeyError):
    """The definition references a resource the test gave no physical value for."""


def resolve(value: Any, physical: Mapping[str, Any]) -> Any:
    """Resolve CloudFormation intrinsics in ``value``.

    ``physical`` maps a logical id to what ``Ref`` returns, and ``"LogicalId.Attribute"`` to what ``Fn::GetAtt``
    returns. Pseudo parameters resolve to :data:`PSEUDO`.
    """
    if isinstance(value, list):
        return [resolve(v, physical) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            if arg in PSEUDO:
                return PSEUDO[arg]
            if arg not in physical:
                raise UnresolvedReference(f"no physical value for Ref {arg}")
            return physical[arg]
        if key == "Fn::GetAtt":
            name = ".".join(arg) if isinstance(arg, list) else arg
            if name not in physical:
                raise UnresolvedReference(f"no physical value for Fn::GetAtt {name}")
            return physical[name]
        if key == "Fn::Join":
            separator, parts = arg
            return separator.join(str(resolve(p, physical)) for p in parts)
        if key == "Fn::Select":
            index, items = arg
            return resolve(items, physical)[int(resolve(index, physical))]
        if key == "Fn::Split":
            separator, text = arg
            return str(resolve(text, physical)).split(separator)
        if key == "Fn::Sub":
            template, variables = (arg, {}) if isinstance(arg, str) else arg
            variables = {k: resolve(v, physical) for k, v in variables.items()}

            def substitute(match: re.Match) -> str:
                name = match.group(1)
                if name in variables:
                    return str(variables[name])
                if name in PSEUDO:
                    return str(PSEUDO[name])
                return str(resolve({"Fn::GetAtt": name} if "." in name else {"Ref": name}, physical))

            return re.sub(r"\$\{([^}!]+)\}", substitute, template)
    return {k: resolve(v, physical) for k, v in value.items()}


def state_machine_definition(template: Mapping[str, Any], logical_id: str, physical: Mapping[str, Any]) -> dict:
    """The definition of state machine ``logical_id`` of a synthesized template, resolved with ``physical``."""
    props = template["Resources"][logical_id]["Properties"]
    definition = json.loads(resolve(props["DefinitionString"], physical))
    # Executions of this definition make their calls with this state machine's role (calls-against-policy gate).
    from tests import iam_calls

    iam_calls.register_definition(template, logical_id, physical, definition)
    return definition


def physical_values(template: Mapping[str, Any], **overrides: Any) -> dict[str, Any]:
    """Plausible physical values for every resource of ``template`` (``Ref`` and common ``GetAtt``s).

    Each resource gets ``<logical-id-lowercased>`` as its name; ``overrides`` replace any of them (for example
    the name of a table or topic the test creates in moto).
    """
    values: dict[str, Any] = {}
    for logical_id, resource in template["Resources"].items():
        kind = resource["Type"]
        name = logical_id.lower()[:60]
        service = kind.split("::")[1].lower()
        arn = f"arn:aws:{service}:{REGION}:{ACCOUNT}:{name}"
        if kind == "AWS::SNS::Topic":
            arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
            values[logical_id] = arn
            values[f"{logical_id}.TopicName"] = name
        elif kind == "AWS::SQS::Queue":
            values[logical_id] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
            values[f"{logical_id}.Arn"] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
            values[f"{logical_id}.QueueName"] = name
        elif kind == "AWS::IAM::Role":
            values[logical_id] = name
            values[f"{logical_id}.Arn"] = f"arn:aws:iam::{ACCOUNT}:role/{name}"
        elif kind == "AWS::KMS::Key":
            values[logical_id] = "11111111-2222-3333-4444-555555555555"
            values[f"{logical_id}.Arn"] = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
        elif kind == "AWS::EC2::SecurityGroup":
            values[logical_id] = f"sg-{abs(hash(logical_id)) % 10**17:017d}"
            values[f"{logical_id}.GroupId"] = values[logical_id]
        elif kind == "AWS::EC2::Subnet":
            values[logical_id] = f"subnet-{abs(hash(logical_id)) % 10**17:017d}"
            values[f"{logical_id}.SubnetId"] = values[logical_id]
        elif kind == "AWS::S3::Bucket":
            values[logical_id] = name
            values[f"{logical_id}.Arn"] = f"arn:aws:s3:::{name}"
        elif kind == "AWS::CloudWatch::Alarm":
            values[logical_id] = name
            values[f"{logical_id}.Arn"] = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
        else:
            values[logical_id] = name
            values[f"{logical_id}.Arn"] = arn
    values.update(overrides)
    for logical_id, resource in template["Resources"].items():
        # A bucket renamed by an override keeps a matching ARN (policies name it by Fn::GetAtt Arn).
        if resource["Type"] == "AWS::S3::Bucket" and logical_id in overrides and f"{logical_id}.Arn" not in overrides:
            values[f"{logical_id}.Arn"] = f"arn:aws:s3:::{values[logical_id]}"
    return values


@contextlib.contextmanager
def aws_sdk_integrations_as_in_aws(*, model_member_names: bool = False) -> Iterator[list[dict[str, Any]]]:
    """Make moto's ``aws-sdk`` tasks take, validate and return what AWS does (see the module docstring).

    Yields a list that records every SDK call as ``{"service", "action", "parameters"}`` (parameters as the
    definition rendered them), for assertions on what an execution asked for.

    :param model_member_names: Return response members under the model's own names with the first letter
        upper-cased (``AutoMLJobStatus``, ``executionArn`` -> ``ExecutionArn``). By default moto's re-casing is
        kept, which also rewrites acronyms (``AutoMLJobStatus`` -> ``AutoMlJobStatus``); definitions that read
        members with acronyms (SageMaker AutoML, ``...ARN``) need ``True``.
    """
    from botocore.validate import ParamValidator
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as sdk,
    )
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    cls = sdk.StateTaskServiceAwsSdk
    calls: list[dict[str, Any]] = []
    original_params, original_response = cls._normalise_parameters, cls._normalise_response
    original_names = dict(sdk._SERVICE_ERROR_NAMES)

    def operation_model(task: Any) -> Any:
        client = boto_client_for(region=REGION, service=task._get_boto_service_name())
        action = task._get_boto_service_action()
        operation = client.meta.method_to_api_mapping[action]
        return client.meta.service_model.operation_model(operation)

    def normalise_parameters(self, parameters, boto_service_name=None, service_action_name=None):  # noqa: ANN001
        calls.append(
            {
                "service": self.resource.api_name,
                "action": self.resource.api_action,
                "parameters": json.loads(json.dumps(parameters)),
            }
        )
        model = operation_model(self)
        self._to_boto_request(parameters, model.input_shape)
        report = ParamValidator().validate(parameters, model.input_shape)
        if report.has_errors():
            raise ValueError(
                f"invalid {self.resource.api_name}:{self.resource.api_action} request: {report.generate_report()}"
            )

    def normalise_response(self, response, boto_service_name=None, service_action_name=None):  # noqa: ANN001
        model = operation_model(self)
        _timestamps_as_text(response)
        if model.output_shape is None:
            return
        if model_member_names:
            _capitalise_members(response, model.output_shape)
        else:
            self._from_boto_response(response, model.output_shape)

    cls._normalise_parameters = normalise_parameters
    cls._normalise_response = normalise_response
    sdk._SERVICE_ERROR_NAMES.update(SDK_ERROR_SERVICE_NAMES)
    try:
        yield calls
    finally:
        cls._normalise_parameters = original_params
        cls._normalise_response = original_response
        sdk._SERVICE_ERROR_NAMES.clear()
        sdk._SERVICE_ERROR_NAMES.update(original_names)


def _timestamps_as_text(value: Any) -> None:
    """Turn the datetimes of a response into ISO 8601 text in place, as a JSON answer carries them.

    moto 5.2.5's interpreter keeps botocore's datetime objects and then fails to serialize a state that selects a
    whole answer (CreationTime and the like); Step Functions passes JSON.
    """
    import datetime

    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in list(items):
        if isinstance(item, datetime.datetime):
            value[key] = item.isoformat()
        else:
            _timestamps_as_text(item)


def _capitalise_members(value: Any, shape: Any) -> None:
    """Rename the members of a response in place to the model's names with the first letter upper-cased."""
    type_name = getattr(shape, "type_name", None)
    if type_name == "structure" and isinstance(value, dict):
        for key in list(value):
            member = shape.members.get(key)
            if member is None:
                continue
            item = value.pop(key)
            _capitalise_members(item, member)
            value[key[:1].upper() + key[1:]] = item
    elif type_name == "list" and isinstance(value, list):
        for item in value:
            _capitalise_members(item, shape.member)
    elif type_name == "map" and isinstance(value, dict):
        for item in value.values():
            _capitalise_members(item, shape.value)


def run_execution(sfn: Any, state_machine_arn: str, payload: Any = None, *, timeout: float = 60.0, name: str | None = None) -> dict:
    """Start an execution, wait until it stops (or ``timeout`` seconds pass) and return DescribeExecution."""
    # Always name the execution: moto 5.2.5 renders ``$$.Execution.Id`` with the name "None" for unnamed ones.
    kwargs: dict[str, Any] = {
        "stateMachineArn": state_machine_arn,
        "input": json.dumps(payload if payload is not None else {}),
        "name": name or f"test-{uuid.uuid4().hex}",
    }
    execution_arn = sfn.start_execution(**kwargs)["executionArn"]
    return wait_for_execution(sfn, execution_arn, timeout=timeout)


def wait_for_execution(sfn: Any, execution_arn: str, *, timeout: float = 60.0) -> dict:
    """Poll DescribeExecution until the execution is no longer RUNNING; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {execution_arn} still RUNNING after {timeout} s")
        time.sleep(0.05)


def execution_history(sfn: Any, execution_arn: str) -> list[dict]:
    """Every history event of an execution, oldest first."""
    events: list[dict] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def entered_states(sfn: Any, execution_arn: str) -> list[str]:
    """Names of the states an execution entered, in order (repeated states repeat)."""
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in execution_history(sfn, execution_arn)
        if "stateEnteredEventDetails" in e
    ]
