"""``sagemaker-tiers status`` against moto: what is approved, what is serving, what is waiting."""

from __future__ import annotations

import json
import warnings

from tests.cli.cli_support import DEPLOYED_PARAMETER, ENDPOINT, PREFIX, deny
from moto.stepfunctions.models import stepfunctions_backends


def _create_endpoint(deployed) -> None:
    sagemaker = deployed.client("sagemaker")
    sagemaker.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/m",
                           PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1"})
    sagemaker.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[{"VariantName": "v", "ModelName": "m", "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}],
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="c")


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_status_reports_approved_deployed_and_agreement(deployed, run) -> None:
    v1 = deployed.register("example-churn", "Approved")
    deployed.register("example-churn")  # v2 pending
    deployed.put(f"{PREFIX}/example-churn/approved-model", v1)
    deployed.put(DEPLOYED_PARAMETER, v1)
    deployed.put(f"{PREFIX}/fraud/approved-model", "NONE")
    _create_endpoint(deployed)

    data = _json(run("--output", "json", "status"))

    churn, fraud = data["groups"]
    assert churn["group"] == "example-churn"
    assert churn["approvedVersion"] == 1 and churn["deployedVersion"] == 1
    assert churn["endpoint"] == ENDPOINT and churn["endpointStatus"] == "InService"
    assert churn["agree"] is True
    assert [p["version"] for p in churn["pending"]] == [2]
    assert churn["pending"][0]["ageHours"] >= 0
    assert fraud["approvedVersion"] is None and fraud["endpoint"] is None and fraud["agree"] is None


def test_status_says_no_when_the_endpoint_serves_an_older_version(deployed, run) -> None:
    v1 = deployed.register("example-churn", "Approved")
    v2 = deployed.register("example-churn", "Approved")
    deployed.put(f"{PREFIX}/example-churn/approved-model", v2)
    deployed.put(DEPLOYED_PARAMETER, v1)

    data = _json(run("--output", "json", "status", "--group", "example-churn"))

    [churn] = data["groups"]
    assert (churn["approvedVersion"], churn["deployedVersion"]) == (2, 1)
    assert churn["endpointStatus"] == "Absent"  # no endpoint in the account: DescribeEndpoint's ValidationException
    assert churn["agree"] is False
    table = run("status", "--group", "example-churn")
    assert table.exit_code == 0
    assert "NO" in table.stdout and "Absent" in table.stdout


def test_status_reports_dead_letter_depths_and_failed_runs(deployed, run) -> None:
    deployed.client("sqs").send_message(QueueUrl=deployed.outputs["inference"]["DeadLetterQueueUrl"], MessageBody="{}")
    sfn = deployed.client("stepfunctions")
    training = deployed.outputs["training"]["StateMachineArn"]
    failed = sfn.start_execution(stateMachineArn=training, name="failed-run")["executionArn"]
    aborted = sfn.start_execution(stateMachineArn=training, name="aborted-run")["executionArn"]
    sfn.start_execution(stateMachineArn=training, name="running-run")
    sfn.stop_execution(executionArn=aborted)
    backend = stepfunctions_backends["123456789012"]["us-east-1"]
    backend.describe_execution(failed).status = "FAILED"  # moto does not run definitions unless asked

    data = _json(run("--output", "json", "status"))

    depths = {(q["tier"], q["queue"]): q["messages"] for q in data["deadLetterQueues"]}
    assert depths == {
        ("registry", "EventDeadLetterQueueUrl"): 0,
        ("registry", "FailedInvocationsQueueUrl"): 0,
        ("training", "DeadLetterQueueUrl"): 0,
        ("inference", "DeadLetterQueueUrl"): 1,
        ("studio", "DomainFailedInvocationsQueueUrl"): 0,
        ("studio", "HubFailedInvocationsQueueUrl"): 0,
    }
    assert {(r["tier"], r["name"], r["status"]) for r in data["failedRuns"]} == {
        ("training", "failed-run", "FAILED"),
        ("training", "aborted-run", "ABORTED"),
    }
    table = run("status")
    assert "failed-run" in table.stdout and "Dead-letter queues" in table.stdout


def test_unknown_group_is_a_clear_error(deployed, run) -> None:
    result = run("status", "--group", "nope")
    assert result.exit_code == 1
    assert "unknown model package group 'nope'" in result.stderr and "example-churn" in result.stderr
    assert "Traceback" not in result.output
    as_json = run("--output", "json", "status", "--group", "nope")
    assert json.loads(as_json.stderr)["error"]["code"] == "UnknownGroup"


def test_missing_stack_is_a_clear_error(deployed, run) -> None:
    result = run("--project", "other", "status")
    assert result.exit_code == 1
    assert "stack other-registry not found in us-east-1" in result.stderr


def test_access_denied_is_a_clear_error(deployed, run) -> None:
    deny(deployed.session, "before-call.ssm.GetParameter")
    result = run("--output", "json", "status")
    assert result.exit_code == 1
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "AccessDenied" and "GetParameter" in error["message"]
    assert result.stdout == ""


def test_a_stack_deployed_before_the_cli_outputs_asks_for_a_redeploy(deployed, run) -> None:
    cloudformation = deployed.client("cloudformation")
    cloudformation.delete_stack(StackName="sagemaker-tiers-registry")
    template = {"Resources": {"H": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}, "Outputs": {"ApprovalApiUrl": {"Value": "https://x/"}}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cloudformation.create_stack(StackName="sagemaker-tiers-registry", TemplateBody=json.dumps(template))
    result = run("status")
    assert result.exit_code == 1
    assert "has no output ModelPackageGroups" in result.stderr


def _cdk_out(tmp_path, stacks: dict[str, dict]) -> str:
    artifacts = {}
    for name, outputs in stacks.items():
        (tmp_path / f"{name}.template.json").write_text(json.dumps({"Outputs": outputs}))
        artifacts[name] = {"type": "aws:cloudformation:stack", "environment": "aws://unknown-account/unknown-region",
                           "properties": {"templateFile": f"{name}.template.json"}}
    artifacts["Tree"] = {"type": "cdk:tree"}
    (tmp_path / "manifest.json").write_text(json.dumps({"version": "48.0.0", "artifacts": artifacts}))
    return str(tmp_path)


def test_cdk_out_names_the_stacks_and_deployed_outputs_give_the_values(deployed, run, tmp_path) -> None:
    # Synthesized outputs are tokens ({"Ref": ...}) or literals; the deployed stack's values win.
    cdk_out = _cdk_out(tmp_path, {
        "sagemaker-tiers-registry": {"ParameterPrefix": {"Value": "/stale"}, "EventDeadLetterQueueUrl": {"Value": {"Ref": "Q"}}},
        "sagemaker-tiers-inference": {"EndpointName": {"Value": {"Ref": "E"}}},
        "sagemaker-tiers-autopilot": {"StateMachineArn": {"Value": {"Ref": "S"}}},  # in cdk.out, not deployed: left out
    })
    data = _json(run("--project", "ignored-with-cdk-out", "--cdk-out", cdk_out, "--output", "json", "status"))
    assert data["project"] == "sagemaker-tiers"
    assert [g["group"] for g in data["groups"]] == ["example-churn", "fraud"]
    assert data["groups"][0]["endpoint"] == ENDPOINT
    assert {q["tier"] for q in data["deadLetterQueues"]} == {"registry", "inference"}  # training is not in this cdk.out


def test_cdk_out_without_the_registry_stack_is_a_clear_error(deployed, run, tmp_path) -> None:
    cdk_out = _cdk_out(tmp_path, {"sagemaker-tiers-training": {}})
    result = run("--cdk-out", cdk_out, "status")
    assert result.exit_code == 1 and "holds no '<project>-registry' stack" in result.stderr
    empty = run("--cdk-out", str(tmp_path / "missing"), "status")
    assert empty.exit_code == 1 and "cannot be read as a cloud assembly manifest" in empty.stderr


def test_status_links_the_operations_dashboard_when_that_stack_is_deployed(deployed, run) -> None:
    assert _json(run("--output", "json", "status"))["dashboardUrl"] is None  # not deployed: left out
    url = "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=sagemaker-tiers-operations"
    deployed.create_stack("operations", {"DashboardName": "sagemaker-tiers-operations", "DashboardUrl": url,
                                          "OperatorPolicyArn": "arn:aws:iam::123456789012:policy/op"})
    assert _json(run("--output", "json", "status"))["dashboardUrl"] == url
    table = run("status")
    assert table.exit_code == 0 and f"Dashboard: {url}" in table.stdout
