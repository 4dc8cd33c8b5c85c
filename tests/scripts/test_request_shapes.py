"""The request-shape gate (scripts/request_shapes.py) on small definitions: what it catches and what it lets pass.

The gate on the whole app, and on a planted defect in a copy of a synthesized template, is in tests/stacks/test_app.py.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from scripts.request_shapes import StateMachineChecker, Summary, check_custom_resources, check_handler_calls

SDK = "arn:aws:states:::aws-sdk"

#: A small machine in the shape of ours: a Pass that names a job from the execution input, an SDK call, a poll
#: reading the result through ResultSelector/ResultPath, a Choice on the status, a Catch, an SNS notification.
MACHINE: dict[str, Any] = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {
            "Type": "Pass",
            "Parameters": {"jobName.$": "States.Format('job-{}', $$.Execution.Name)", "input.$": "$"},
            "ResultPath": "$.run",
            "Next": "Describe",
        },
        "Describe": {
            "Type": "Task",
            "Resource": f"{SDK}:sagemaker:describeAutoMLJobV2",
            "Parameters": {"AutoMLJobName.$": "$.run.jobName"},
            "ResultSelector": {"status.$": "$.AutoMLJobStatus", "reason.$": "$.FailureReason"},
            "ResultPath": "$.job",
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Notify"}],
            "Next": "Status",
        },
        "Status": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.job.status", "StringEquals": "Completed", "Next": "Done"},
                {"Variable": "$.job.status", "StringEquals": "Failed", "Next": "Notify"},
            ],
            "Default": "Wait",
        },
        "Wait": {"Type": "Wait", "Seconds": 60, "Next": "Describe"},
        "Notify": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {
                "TopicArn": "\u27e6TopicRef\u27e7",
                "Subject": "Job failed",
                "Message.$": "States.Format('{} failed: {}', $.run.jobName, $.error.Cause)",
            },
            "Next": "Failed",
        },
        "Failed": {"Type": "Fail", "Error": "JobFailed"},
        "Done": {"Type": "Succeed"},
    },
}


def _findings(mutate=None, machine: dict[str, Any] = MACHINE) -> list[str]:  # type: ignore[no-untyped-def]
    definition = copy.deepcopy(machine)
    if mutate is not None:
        mutate(definition["States"])
    return [f"{f.state} {f.member}: {f.rule}" for f in StateMachineChecker("stack", "machine", definition).run()]


def test_a_correct_machine_has_no_findings() -> None:
    assert _findings() == []


def test_a_misspelt_sdk_member_is_named_with_the_right_spelling() -> None:
    def plant(states: dict) -> None:
        states["Describe"]["Parameters"] = {"AutoMlJobName.$": "$.run.jobName"}

    assert _findings(plant) == [
        "Describe AutoMlJobName: DescribeAutoMLJobV2Request has no member 'AutoMlJobName' (the member is 'AutoMLJobName')",
        "Describe AutoMLJobName: required member of DescribeAutoMLJobV2Request is missing",
    ]


def test_sdk_members_take_the_first_letter_upper_cased() -> None:
    # Step Functions' own API names its members executionArn; the AWS SDK integration takes ExecutionArn.
    def plant(states: dict) -> None:
        states["Describe"] = {
            "Type": "Task",
            "Resource": f"{SDK}:sfn:describeExecution",
            "Parameters": {"executionArn": "arn:aws:states:us-east-1:123456789012:execution:machine:run"},
            "End": True,
        }

    assert _findings(plant) == [
        "Describe executionArn: DescribeExecutionInput has no member 'executionArn' (the member is 'ExecutionArn')",
        "Describe ExecutionArn: required member of DescribeExecutionInput is missing",
    ]


def test_static_values_are_checked_for_enum_range_length_pattern_and_type() -> None:
    def plant(states: dict) -> None:
        states["Describe"]["Resource"] = f"{SDK}:sagemaker:listCandidatesForAutoMLJob"
        states["Describe"]["Parameters"] = {
            "AutoMLJobName.$": "$.run.jobName",
            "SortBy": "Score",  # enum CandidateSortBy
            "MaxResults": 500,  # 1-300
            "CandidateNameEquals": "",  # length 1-64
            "StatusEquals": 1,  # a string enum
        }
        states["Describe"]["ResultSelector"] = {"candidates.$": "$.Candidates"}
        states["Status"]["Choices"] = [{"Variable": "$.job.candidates", "IsPresent": True, "Next": "Done"}]
        states["Notify"]["Parameters"]["TopicArn"] = "not an ARN"

    assert _findings(plant) == [
        "Describe SortBy: 'Score' is not in enum CandidateSortBy (CreationTime, Status, FinalObjectiveMetricValue)",
        "Describe MaxResults: 500 is above the maximum 300 of AutoMLMaxResultsForTrials",
        "Describe CandidateNameEquals: 0 characters, CandidateName needs at least 1",
        "Describe StatusEquals: int 1 given, string CandidateStatus expected",
    ]
    # SNS's TopicArn has no pattern in the model: a wrong ARN is the service's to reject, not this gate's.


def test_optimized_integrations_take_the_api_members() -> None:
    def plant(states: dict) -> None:
        states["Notify"]["Parameters"]["Subjet"] = states["Notify"]["Parameters"].pop("Subject")
        states["Notify"]["Resource"] = "arn:aws:states:::sns:publish"

    assert _findings(plant) == ["Notify Subjet: PublishInput has no member 'Subjet' (the member is 'Subject')"]


def test_paths_must_select_what_an_earlier_state_produces() -> None:
    def plant(states: dict) -> None:
        states["Describe"]["Parameters"]["AutoMLJobName.$"] = "$.run.name"  # Prepare makes jobName
        states["Describe"]["ResultSelector"]["status.$"] = "$.AutoMlJobStatus"  # the API says AutoMLJobStatus
        states["Notify"]["Parameters"]["Message.$"] = "States.Format('{}', $.error.Message)"  # Error and Cause only

    assert _findings(plant) == [
        "Describe AutoMLJobName: path '$.run.name' selects nothing: no state before this one produces it",
        "Describe ResultSelector.status.$: path '$.AutoMlJobStatus' selects nothing: no state before this one produces it",
        "Notify Message: path '$.error.Message' selects nothing: no state before this one produces it",
    ]


def test_paths_into_the_execution_input_are_not_findings() -> None:
    # The execution input is unknown: only what the states build from it is.
    def plant(states: dict) -> None:
        states["Prepare"]["Parameters"]["fromInput.$"] = "$.anything.the.caller.sends"

    assert _findings(plant) == []


def test_a_choice_on_a_status_the_api_never_returns_is_a_finding() -> None:
    def plant(states: dict) -> None:
        states["Status"]["Choices"][0]["StringEquals"] = "Complete"
        states["Status"]["Choices"][1]["NumericEquals"] = 1
        del states["Status"]["Choices"][1]["StringEquals"]

    assert _findings(plant) == [
        "Status Choices[0].StringEquals: 'Complete' can never match: '$.job.status' is one of Completed, InProgress, "
        "Failed, Stopped, Stopping",
        "Status Choices[1].NumericEquals: compares a number, but '$.job.status' is a string",
    ]


def test_context_object_and_intrinsic_functions_are_checked() -> None:
    def plant(states: dict) -> None:
        states["Prepare"]["Parameters"] = {
            "jobName.$": "States.Format('job-{}', $$.Execution.Nam)",
            "id.$": "States.UUID()",
            "item.$": "$$.Map.Item.Value",
            "n.$": "States.Formatt('x')",
            "bad.$": "$.a[",
        }

    assert _findings(plant) == [
        "Prepare Parameters.jobName.$: context object has no '$$.Execution.Nam'",
        "Prepare Parameters.item.$: context object has no '$$.Map.Item.Value' (only inside a Map state's ItemSelector)",
        "Prepare Parameters.n.$: \"States.Formatt('x')\" is not a known intrinsic function call",
        "Prepare Parameters.bad.$: '$.a[' is not a valid JSONPath",
    ]


def test_map_items_and_wildcards_are_followed() -> None:
    def plant(states: dict) -> None:
        states["Describe"]["ResultSelector"] = {"names.$": "$.BestCandidate.CandidateSteps[*].CandidateStepName"}
        states["Status"] = {
            "Type": "Map",
            "ItemsPath": "$.job.names",
            "ItemSelector": {"step.$": "$$.Map.Item.Value", "job.$": "$.run.jobName"},
            "ItemProcessor": {
                "StartAt": "Use",
                "States": {"Use": {"Type": "Pass", "Parameters": {"s.$": "$.step", "x.$": "$.nope"}, "End": True}},
            },
            "Next": "Done",
        }

    assert _findings(plant) == [
        "Status/Use Parameters.x.$: path '$.nope' selects nothing: no state before this one produces it",
    ]


def test_an_unknown_operation_or_integration_is_a_finding() -> None:
    def plant(states: dict) -> None:
        states["Describe"]["Resource"] = f"{SDK}:sagemaker:describeAutoMlJobV2"
        states["Notify"]["Resource"] = "arn:aws:states:::glue:startJobRun.sync"

    assert _findings(plant) == [
        "Describe Resource: sagemaker has no operation 'DescribeAutoMlJobV2' (did you mean 'describeAutoMLJobV2'?)",
        "Notify Resource: integration 'glue:startJobRun' is not modelled in scripts/request_shapes.py OPTIMIZED",
    ]


def _custom(kind: str, **props: Any) -> dict:
    return {"Resources": {"Resource": {"Type": kind, "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}, **props}}}}


def test_custom_resource_properties_are_checked_as_the_requests_their_handlers_make() -> None:
    summary = Summary()
    settings = {"TimeSeriesForecastingSettings": {"Status": "ON"}, "ModelRegisterSettings": {"Status": "ENABLED"}}
    check_custom_resources("stack", _custom("Custom::CanvasSettings", DomainId="d-abc123", Settings=settings), summary)
    check_custom_resources("stack", _custom("Custom::JumpStartHubModelReferences", HubName="hub", ModelIds=["ok", "x" * 70]), summary)
    check_custom_resources("stack", _custom("Custom::Unheard"), summary)
    aws = {"service": "SageMaker", "action": "updateDomain", "parameters": {"DomainId": "d-abc123", "DefaultUserSetings": {}}}
    check_custom_resources("stack", _custom("Custom::AWS", Create=json.dumps(aws)), summary)
    assert [f"{f.state} {f.member}: {f.rule}" for f in summary.findings] == [
        "Custom::CanvasSettings Resource Settings (UpdateUserProfile UserSettings.CanvasAppSettings).TimeSeriesForecastingSettings.Status: "
        "'ON' is not in enum FeatureStatus (ENABLED, DISABLED)",
        "Custom::JumpStartHubModelReferences Resource ModelIds[1] (CreateHubContentReference HubContentName): 70 characters, "
        "HubContentName allows at most 63",
        "Resource Custom::Unheard: custom resource type not modelled in scripts/request_shapes.py CUSTOM_RESOURCES",
        "Create parameters.DefaultUserSetings: UpdateDomainRequest has no member 'DefaultUserSetings' (the member is 'DefaultUserSettings')",
    ]


def test_handler_calls_are_checked_statically_including_paths_no_test_takes(tmp_path: Path) -> None:
    handler = tmp_path / "planted_handler.py"
    handler.write_text(
        "import boto3\n"
        "ssm = boto3.client('ssm')\n"
        "def handler(event, context):\n"
        "    if event.get('rare'):\n"
        "        ssm.put_parameter(Name=event['name'], Valeu='x', Type='String')\n"
        "    return ssm.get_parameter(Name=event['name'], WithDecryption='yes')\n"
    )
    summary = Summary()
    check_handler_calls([handler], summary)
    assert summary.handler_calls_checked == 2
    assert [f"{f.state} {f.member}: {f.rule}" for f in summary.findings] == [
        "line 5 put_parameter Valeu: PutParameterRequest has no member 'Valeu' (the member is 'Value')",
        "line 5 put_parameter Value: required member of PutParameterRequest is missing",
        "line 6 get_parameter WithDecryption: str \"yes\" given, boolean Boolean expected",
    ]


def test_a_loop_that_nests_its_output_deeper_each_round_ends_without_findings() -> None:
    machine = {
        "StartAt": "Nest",
        "States": {
            "Nest": {"Type": "Pass", "Parameters": {"prev.$": "$", "n.$": "$.prev.n"}, "Next": "Again"},
            "Again": {"Type": "Choice", "Choices": [{"Variable": "$.prev", "IsPresent": True, "Next": "Nest"}], "Default": "End"},
            "End": {"Type": "Succeed"},
        },
    }
    assert _findings(machine=machine) == []
